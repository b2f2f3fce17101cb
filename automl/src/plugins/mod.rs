//! WebAssembly plugins: custom preprocessing, metrics and early-stopping rules written
//! against the WIT package `automl:plugins@0.1.0` (`plugins-wit/`) and run as sandboxed
//! components with wasmtime.
//!
//! One [`PluginHost`] holds the engine (shared by every plugin), the linker with a WASI
//! that grants nothing by default, and a ticker for epoch deadlines. [`PluginHost::load`]
//! compiles a component (or maps its cached compilation from disk), asks it to
//! `describe` itself and checks that against the world it exports. Calls then run on
//! instances made from a pre-linked `InstancePre` (microseconds for a Rust guest) and kept
//! warm between calls, each call bounded in memory and time, with the guest's stdout and
//! stderr captured for the error message. A trap, a deadline or the memory cap is an error
//! naming the plugin and the cause, and discards that instance (the next call gets a fresh
//! one); the caller fails the trial it was serving, not the run.
//!
//! ```no_run
//! use automl::plugins::{PluginHost, SandboxPolicy};
//! let host = PluginHost::new(SandboxPolicy::default())?;
//! let plugin = host.load("examples/plugins/dist/cost_weighted.wasm".as_ref())?;
//! println!("{} {} {:?}", plugin.info().name, plugin.info().version, plugin.kind());
//! # Ok::<(), automl::Error>(())
//! ```
#[cfg(feature = "plugins")]
mod bindings;
#[cfg(feature = "plugins")]
mod cache;
#[cfg(feature = "plugins")]
mod convert;
#[cfg(not(feature = "plugins"))]
mod disabled;
#[cfg(feature = "plugins")]
mod host;
#[cfg(feature = "plugins")]
mod kinds;
#[cfg(feature = "plugins")]
mod lift;
#[cfg(feature = "plugins")]
mod sandbox;

use serde::{Deserialize, Serialize};

pub use crate::options::sandbox::{default_cache_dir, SandboxPolicy};
#[cfg(not(feature = "plugins"))]
pub use disabled::{MetricPlugin, Plugin, PluginHost, PreprocessorPlugin, StoppingPlugin};
#[cfg(feature = "plugins")]
pub use host::{Plugin, PluginHost};
#[cfg(feature = "plugins")]
pub use kinds::{MetricPlugin, PreprocessorPlugin, StoppingPlugin};

use crate::error::Error;

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.1.0";

/// What a plugin does, from the world it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// Fits on training rows and transforms tables.
    Preprocessor,
    /// Scores predictions.
    Metric,
    /// Decides whether a trial, or the run, stops.
    StoppingRule,
}

// The host (feature `plugins`) is what reads the interface names.
#[cfg_attr(not(feature = "plugins"), allow(dead_code))]
impl PluginKind {
    /// The kind's name, as in the WIT (`preprocessor`, `metric`, `stopping-rule`).
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Preprocessor => "preprocessor",
            PluginKind::Metric => "metric",
            PluginKind::StoppingRule => "stopping-rule",
        }
    }
    fn interface(self) -> &'static str {
        self.name()
    }
    const ALL: [PluginKind; 3] = [PluginKind::Preprocessor, PluginKind::Metric, PluginKind::StoppingRule];
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a plugin says about itself (its `describe` export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    /// Short name; a metric plugin is selected with `--metric NAME`.
    pub name: String,
    /// Kind, as declared by the plugin (checked against the world it exports).
    pub kind: PluginKind,
    /// The plugin's own version.
    pub version: String,
    /// One line.
    pub description: String,
}

/// How a plugin was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoadStats {
    /// True when the compiled artifact came from the disk cache.
    pub cached: bool,
    /// Seconds to compile or map the component.
    pub compile_s: f64,
}

/// A stopping plugin's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep going.
    Proceed,
    /// Stop.
    Stop,
}

/// A finished trial, for the run-level decision.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSummary {
    /// Trial number.
    pub trial: u64,
    /// Learner.
    pub learner: String,
    /// Final score; `None` when it failed.
    pub score: Option<f64>,
    /// Seconds since the start when it finished.
    pub finished_s: f64,
}

/// A fitted preprocessing plugin as stored in `model.automl`: the component itself, its
/// digest and fitted state, so `predict` replays it with no other file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPreprocessor {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// The fitted state the plugin returned.
    pub state: Vec<u8>,
    /// The columns it was given, in order.
    pub inputs: Vec<String>,
}

/// A plugin error naming `plugin`.
pub(crate) fn plugin_error(plugin: &str, message: String) -> Error {
    Error::Core(automl_core::Error::Plugin { plugin: plugin.to_string(), message })
}

