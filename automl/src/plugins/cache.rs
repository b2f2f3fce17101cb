//! Compiled components cached on disk, keyed by the component's digest and the engine's
//! compatibility hash (wasmtime version and settings), so a second load maps the machine
//! code instead of compiling again.
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

use super::sandbox::describe_error;

fn cache_path(engine: &Engine, dir: &Path, digest: &str) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    dir.join("plugins").join(format!("{digest}-{:016x}.cwasm", h.finish()))
}

/// The compiled component, and whether it came from the cache.
pub fn compile(engine: &Engine, bytes: &[u8], digest: &str, dir: Option<&Path>) -> Result<(Component, bool), String> {
    let Some(dir) = dir else {
        return Component::new(engine, bytes).map(|c| (c, false)).map_err(|e| format!("is not a valid component: {}", describe_error(&e)));
    };
    let path = cache_path(engine, dir, digest);
    if path.is_file() {
        // SAFETY: the file was written by `precompile_component` below, into the user's own
        // cache folder, under a name carrying the source's SHA-256 and this engine's
        // compatibility hash; wasmtime checks its header and version before mapping it. A
        // file that fails to load is recompiled.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        if let Ok(c) = loaded {
            return Ok((c, true));
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(|e| format!("is not a valid component: {}", describe_error(&e)))?;
    // The cache is an optimisation: failing to write it only costs the next compile.
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_ok() {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &compiled).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
    // SAFETY: `compiled` was produced just now by this engine's `precompile_component`.
    #[allow(unsafe_code)]
    let component = unsafe { Component::deserialize(engine, &compiled) }.map_err(|e| format!("cannot load its compiled form: {}", describe_error(&e)))?;
    Ok((component, false))
}
