//! Compiled components cached on disk, keyed by the component's digest and the engine's
//! compatibility hash (wasmtime version and settings), so a second load maps the machine
//! code instead of compiling again.
//!
//! The digest of a component file is remembered too, by the file's identity (device,
//! inode, size, modification and change times), so that an unchanged 18 MB Python
//! component is not hashed again on every load (SHA-256 costs about 9 ms for it).
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

/// The file's identity: what changes when its content may have.
#[cfg(unix)]
pub fn identity(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    Some(format!("{} {} {} {}.{} {}.{}", meta.dev(), meta.ino(), meta.size(), meta.mtime(), meta.mtime_nsec(), meta.ctime(), meta.ctime_nsec()))
}

#[cfg(not(unix))]
pub fn identity(_meta: &std::fs::Metadata) -> Option<String> {
    None
}

fn digest_entry(dir: &Path, path: &Path) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let canonical = std::fs::canonicalize(path).ok()?;
    let key: String = Sha256::digest(canonical.as_os_str().as_encoded_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    Some(dir.join("plugin-digests").join(key))
}

/// The digest remembered for the file at `path`, if it was remembered for a file of the
/// identity `now` (taken from the open file that was read).
pub fn known_digest(dir: &Path, path: &Path, now: &str) -> Option<String> {
    let entry = std::fs::read_to_string(digest_entry(dir, path)?).ok()?;
    let (id, digest) = entry.trim_end().rsplit_once(' ')?;
    (id == now && digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_string())
}

/// Remembers `digest` for the file at `path` (best effort: it only saves hashing later).
/// A file changed within the last two seconds is not remembered: a rewrite within the
/// file system's timestamp resolution could keep the same identity (git's "racily clean"
/// problem).
pub fn remember_digest(dir: &Path, path: &Path, id: &str, meta: &std::fs::Metadata, digest: &str) {
    let settled = |t: std::io::Result<std::time::SystemTime>| t.ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age > std::time::Duration::from_secs(2));
    if !settled(meta.modified()) || !ctime_settled(meta) {
        return;
    }
    let Some(entry) = digest_entry(dir, path) else { return };
    if let Some(parent) = entry.parent() {
        if std::fs::create_dir_all(parent).is_ok() {
            let tmp = entry.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, format!("{id} {digest}\n")).is_ok() {
                let _ = std::fs::rename(&tmp, &entry);
            }
        }
    }
}

#[cfg(unix)]
fn ctime_settled(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(i64::MAX);
    now - meta.ctime() > 2
}

#[cfg(not(unix))]
fn ctime_settled(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_digest_holds_only_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, b"first").expect("write");
        let meta = std::fs::metadata(&file).expect("meta");
        let id = identity(&meta).expect("id");
        // Just written: not settled, so not remembered (a rewrite in the same timestamp
        // tick could keep its identity).
        remember_digest(dir.path(), &file, &id, &meta, &"a".repeat(64));
        assert_eq!(known_digest(dir.path(), &file, &id), None);
        // An entry for the file as it is now is used...
        let entry = digest_entry(dir.path(), &file).expect("entry");
        std::fs::create_dir_all(entry.parent().expect("parent")).expect("mkdir");
        std::fs::write(&entry, format!("{id} {}\n", "b".repeat(64))).expect("entry");
        assert_eq!(known_digest(dir.path(), &file, &id), Some("b".repeat(64)));
        // ...until the file changes.
        std::fs::write(&file, b"second, longer").expect("rewrite");
        let changed = identity(&std::fs::metadata(&file).expect("meta")).expect("id");
        assert_ne!(changed, id);
        assert_eq!(known_digest(dir.path(), &file, &changed), None);
        // A damaged entry is ignored.
        std::fs::write(&entry, "garbage").expect("entry");
        assert_eq!(known_digest(dir.path(), &file, &id), None);
    }
}
