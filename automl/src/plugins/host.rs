//! The plugin host: one wasmtime engine shared by every plugin, the linker with a WASI
//! that grants nothing by default, a ticker for epoch deadlines, and loading (compile or
//! map the cached compilation, `describe`, check the world).
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use super::sandbox::{self, HostState, TICK_MS};
use super::WIT_VERSION;
use super::{cache, kinds, plugin_error, LoadStats, PluginInfo, PluginKind, SandboxPolicy};
use crate::error::{Error, Result};
use crate::util::printable;

pub(super) struct HostInner {
    pub(super) engine: Engine,
    pub(super) linker: Linker<HostState>,
    pub(super) config: SandboxPolicy,
    stop_ticker: Arc<AtomicBool>,
    /// The compiled-code cache, when there is one that can be trusted.
    cache: Option<cache::Cache>,
    /// Why the configured cache is not used.
    cache_warning: Option<String>,
}

impl Drop for HostInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}


/// Loads and runs plugins; cheap to clone (one engine shared by all clones).
#[derive(Clone)]
pub struct PluginHost {
    pub(super) inner: Arc<HostInner>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("config", &self.inner.config).finish()
    }
}

impl PluginHost {
    /// A host with these sandbox settings.
    pub fn new(config: SandboxPolicy) -> Result<Self> {
        let mut wasm = Config::new();
        wasm.wasm_component_model(true);
        wasm.epoch_interruption(true);
        let engine = Engine::new(&wasm).map_err(|e| plugin_error("(host)", format!("cannot start wasmtime: {}", sandbox::describe_error(&e))))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| plugin_error("(host)", format!("cannot link WASI: {e}")))?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), Arc::clone(&stop_ticker));
        std::thread::Builder::new()
            .name("plugin-epochs".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(TICK_MS));
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| plugin_error("(host)", format!("cannot start the deadline ticker: {e}")))?;
        let (cache, cache_warning) = match config.cache_dir.as_deref().map(cache::Cache::open) {
            Some(Ok(cache)) => (Some(cache), None),
            Some(Err(why)) => (None, Some(why)),
            None => (None, None),
        };
        Ok(PluginHost { inner: Arc::new(HostInner { engine, linker, config, stop_ticker, cache, cache_warning }) })
    }

    /// The process-wide host with default settings (what `predict` uses to replay stored
    /// preprocessors).
    pub fn shared() -> Result<PluginHost> {
        static SHARED: OnceLock<std::result::Result<PluginHost, String>> = OnceLock::new();
        SHARED.get_or_init(|| PluginHost::new(SandboxPolicy::default()).map_err(|e| e.to_string())).clone().map_err(|m| plugin_error("(host)", m))
    }

    /// The sandbox settings.
    pub fn config(&self) -> &SandboxPolicy {
        &self.inner.config
    }

    /// Why the configured compiled-code cache is not used (a folder other users could
    /// write), if it is not: worth telling the user once.
    pub fn cache_warning(&self) -> Option<&str> {
        self.inner.cache_warning.as_deref()
    }

    /// Loads the component at `path`.
    pub fn load(&self, path: &Path) -> Result<Plugin> {
        use std::io::Read;
        let cache = self.inner.cache.as_ref();
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let before = file.metadata().ok();
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        // The identity of the file these bytes came from (the open handle, not the path),
        // when it did not change while it was read.
        let after = file.metadata().ok();
        let identity = before.as_ref().and_then(cache::identity).filter(|id| after.as_ref().and_then(cache::identity).as_ref() == Some(id));
        let known = match (cache, &identity) {
            (Some(cache), Some(id)) => cache.known_digest(path, id),
            _ => None,
        };
        let digest = match known {
            Some(digest) => digest,
            None => {
                let digest = crate::util::sha256_bytes(&bytes);
                if let (Some(cache), Some(id), Some(meta)) = (cache, &identity, &after) {
                    cache.remember_digest(path, id, meta, &digest);
                }
                digest
            }
        };
        self.load_digested(&path.display().to_string(), bytes.into(), digest)
    }

    /// Loads a component from bytes; `label` names it in errors until it has described
    /// itself.
    pub fn load_bytes(&self, label: &str, bytes: Arc<[u8]>) -> Result<Plugin> {
        let digest = crate::util::sha256_bytes(&bytes);
        self.load_digested(label, bytes, digest)
    }

    fn load_digested(&self, label: &str, bytes: Arc<[u8]>, digest: String) -> Result<Plugin> {
        if !bytes.starts_with(b"\0asm") {
            return Err(plugin_error(label, "not a WebAssembly file (no \\0asm header)".into()));
        }
        let start = Instant::now();
        let compiled = match &self.inner.cache {
            Some(cache) => cache.compile(&self.inner.engine, &bytes, &digest),
            None => cache::compile_uncached(&self.inner.engine, &bytes).map(|c| (c, false)),
        };
        let (component, cached) = compiled.map_err(|m| plugin_error(label, m))?;
        let compile_s = start.elapsed().as_secs_f64();
        let exports: Vec<String> = component.component_type().exports(&self.inner.engine).map(|(name, _)| name.to_string()).collect();
        let kind = world_of(&exports).map_err(|m| plugin_error(label, m))?;
        let pre = self.inner.linker.instantiate_pre(&component).map_err(|e| {
            plugin_error(label, format!("cannot be linked: {} (a plugin may import only WASI interfaces, which grant nothing unless allowed)", sandbox::describe_error(&e)))
        })?;
        let kind_pre = kinds::KindPre::new(kind, pre).map_err(|e| plugin_error(label, format!("does not match the {kind} world of automl:plugins@{WIT_VERSION}: {}", sandbox::describe_error(&e))))?;
        let mut plugin = Plugin {
            host: self.clone(),
            info: PluginInfo { name: label.to_string(), kind, version: String::new(), description: String::new() },
            digest,
            bytes,
            exports,
            load: LoadStats { cached, compile_s },
            pre: kind_pre,
            warm: Arc::default(),
        };
        plugin.check_world()?;
        let info = plugin.describe()?;
        if info.kind != kind {
            return Err(plugin_error(label, format!("describes itself as a {} plugin but exports the {kind} interface", info.kind)));
        }
        if info.name.is_empty() || info.name.len() > MAX_NAME || !info.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(plugin_error(label, format!("invalid plugin name '{}': use up to {MAX_NAME} letters, digits, '-' and '_'", printable(&info.name, MAX_NAME))));
        }
        // What the plugin says about itself is printed, journaled and written to CSV.
        plugin.info = PluginInfo { version: printable(&info.version, MAX_VERSION), description: printable(&info.description, MAX_DESCRIPTION), ..info };
        Ok(plugin)
    }
}


/// Longest plugin name, and the most characters kept of its version and description.
const MAX_NAME: usize = 64;
const MAX_VERSION: usize = 64;
const MAX_DESCRIPTION: usize = 300;

/// The kind of plugin from a component's export names.
fn world_of(exports: &[String]) -> std::result::Result<PluginKind, String> {
    let ours: Vec<(PluginKind, &String)> = exports
        .iter()
        .filter_map(|e| {
            let (iface, version) = e.strip_prefix("automl:plugins/")?.split_once('@')?;
            let kind = PluginKind::ALL.into_iter().find(|k| k.interface() == iface)?;
            Some((kind, e)).filter(|_| version.starts_with("0.1.") || version == "0.1")
        })
        .collect();
    match ours.as_slice() {
        [(kind, _)] => Ok(*kind),
        [] => {
            let other_versions: Vec<&String> = exports.iter().filter(|e| e.starts_with("automl:plugins/")).collect();
            if other_versions.is_empty() {
                Err(format!(
                    "not an automl plugin: it exports {} but a plugin exports one of automl:plugins/preprocessor, metric or stopping-rule @{WIT_VERSION}",
                    if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
                ))
            } else {
                Err(format!(
                    "built for another version of the plugin interface ({}); this automl hosts automl:plugins@0.1.x: rebuild the plugin against plugins-wit/wit/v0.1",
                    other_versions.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ))
            }
        }
        _ => Err(format!("exports several plugin interfaces ({}); a plugin is one kind", ours.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join(", "))),
    }
}

/// A loaded plugin: its description, digest and the pre-linked component.
#[derive(Clone)]
pub struct Plugin {
    pub(super) host: PluginHost,
    pub(super) info: PluginInfo,
    pub(super) digest: String,
    pub(super) bytes: Arc<[u8]>,
    pub(super) exports: Vec<String>,
    pub(super) load: LoadStats,
    pub(super) pre: kinds::KindPre,
    /// Idle instances, shared by clones of this plugin.
    pub(super) warm: Arc<Mutex<Vec<kinds::Warm>>>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("info", &self.info).field("digest", &self.digest).finish()
    }
}

impl Plugin {
    /// Name, kind, version and description.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }
    /// The kind.
    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }
    /// SHA-256 of the component bytes, in hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }
    /// The component bytes (stored in `model.automl` for preprocessors).
    pub fn bytes(&self) -> &Arc<[u8]> {
        &self.bytes
    }
    /// Export names of the component.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }
    /// How it was loaded.
    pub fn load_stats(&self) -> LoadStats {
        self.load
    }
    pub(super) fn label(&self) -> &str {
        &self.info.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_world_comes_from_the_export_and_versions_are_checked() {
        assert_eq!(world_of(&names(&["automl:plugins/metric@0.1.0"])), Ok(PluginKind::Metric));
        // A patch release of the package is compatible; a guest may export extra names.
        assert_eq!(world_of(&names(&["automl:plugins/stopping-rule@0.1.3", "exports"])), Ok(PluginKind::StoppingRule));
        let e = world_of(&names(&["automl:plugins/metric@0.2.0"])).expect_err("0.2");
        assert!(e.contains("another version of the plugin interface") && e.contains("@0.2.0"), "{e}");
        let e = world_of(&names(&["wasi:cli/run@0.2.6"])).expect_err("a command");
        assert!(e.contains("not an automl plugin") && e.contains("wasi:cli/run"), "{e}");
        let e = world_of(&names(&["automl:plugins/metric@0.1.0", "automl:plugins/preprocessor@0.1.0"])).expect_err("two kinds");
        assert!(e.contains("several plugin interfaces"), "{e}");
        assert!(world_of(&[]).expect_err("nothing").contains("exports nothing"));
    }
}
