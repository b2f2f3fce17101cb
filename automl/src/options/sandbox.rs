//! What WebAssembly plugins may use and how long and large they may run. Plain data, so
//! options and journals carry it whether or not the engine has the `plugins` feature.
use std::path::PathBuf;
use std::time::Duration;

/// What a plugin may use. The default grants nothing: no files, network, environment or
/// clock; 256 MiB of memory; 30 s per call.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SandboxPolicy {
    /// Most linear memory a plugin instance may grow to, in bytes.
    pub memory_limit: usize,
    /// Longest a single call (fit, transform, score, judge) may run.
    pub call_timeout: Duration,
    /// Host directories the plugin may read, each visible under its own path.
    pub read_dirs: Vec<PathBuf>,
    /// Allow outgoing TCP/UDP connections and name lookups.
    pub network: bool,
    /// Pass these environment variables (their values are not written to the journal:
    /// they may be secrets; `env_names` is, and a resumed run reads them again).
    #[serde(skip)]
    pub env: Vec<(String, String)>,
    /// The names of the environment variables granted.
    #[serde(default)]
    pub env_names: Vec<String>,
    /// Give the plugin the real wall and monotonic clocks (otherwise both read zero).
    pub clock: bool,
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        SandboxPolicy {
            memory_limit: 256 << 20,
            call_timeout: Duration::from_secs(30),
            read_dirs: Vec::new(),
            network: false,
            env: Vec::new(),
            env_names: Vec::new(),
            clock: false,
            cache_dir: default_cache_dir(),
        }
    }
}


/// Where compiled components are cached: `$AUTOML_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/automl`, else `~/.cache/automl`; `None` when none can be found.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("AUTOML_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(d).join("automl"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("automl"))
}

impl SandboxPolicy {
    /// Reads the values of the granted variables (`env_names`) from this process's
    /// environment, as the run that granted them did.
    pub fn read_env(&mut self) {
        self.env = self.env_names.iter().filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v))).collect();
    }

    /// What this policy grants beyond the default (nothing), in words.
    pub fn grants(&self) -> Vec<String> {
        let mut g: Vec<String> = self.read_dirs.iter().map(|d| format!("plugins may read {}", d.display())).collect();
        if self.network {
            g.push("plugins may open network connections".into());
        }
        if !self.env_names.is_empty() {
            g.push(format!("plugins get the environment variables {}", self.env_names.join(", ")));
        }
        if self.clock {
            g.push("plugins get the real clocks".into());
        }
        g
    }

    /// Checks the limits: at least 1 MiB of memory, a call timeout in range.
    pub fn validate(&self) -> crate::error::Result<()> {
        if self.memory_limit < 1 << 20 {
            return Err(crate::error::Error::Config("--plugin-memory must be at least 1 MiB".into()));
        }
        super::check_seconds("--plugin-timeout", self.call_timeout.as_secs_f64(), false)
    }
}
