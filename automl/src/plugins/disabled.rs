//! The plugin types of an engine built without the `plugins` feature: loading refuses
//! with a message that says how to get plugins, and the plugin kinds have no values, so
//! the code that uses them compiles to nothing.
use std::path::Path;
use std::sync::Arc;

use automl_core::data::Table;
use automl_core::metrics::{Direction, Metric, Prediction};
use automl_core::task::{Target, Task};

use super::{LoadStats, PluginInfo, PluginKind, SandboxPolicy, StoredPreprocessor, TrialSummary, Verdict};
use crate::error::{Error, Result};

const NO_PLUGINS: &str = "this automl was built without the `plugins` feature: rebuild with it (the default) to use WebAssembly plugins";

fn disabled() -> Error {
    Error::Config(NO_PLUGINS.into())
}

/// Refuses to start: there is no WebAssembly engine in this build.
#[derive(Debug, Clone)]
pub struct PluginHost(());

impl PluginHost {
    /// Always an error in this build.
    pub fn new(_config: SandboxPolicy) -> Result<Self> {
        Err(disabled())
    }
    /// Always an error in this build.
    pub fn shared() -> Result<PluginHost> {
        Err(disabled())
    }
    /// Never reached (no host can be made).
    pub fn cache_warning(&self) -> Option<&str> {
        None
    }
    /// Never reached (no host can be made).
    pub fn load(&self, _path: &Path) -> Result<Plugin> {
        Err(disabled())
    }
    /// Never reached (no host can be made).
    pub fn load_bytes(&self, _label: &str, _bytes: Arc<[u8]>) -> Result<Plugin> {
        Err(disabled())
    }
}

/// A loaded plugin: none exist in this build.
#[derive(Debug, Clone)]
pub enum Plugin {}

impl Plugin {
    /// Unreachable.
    pub fn info(&self) -> &PluginInfo {
        match *self {}
    }
    /// Unreachable.
    pub fn kind(&self) -> PluginKind {
        match *self {}
    }
    /// Unreachable.
    pub fn digest(&self) -> &str {
        match *self {}
    }
    /// Unreachable.
    pub fn bytes(&self) -> &Arc<[u8]> {
        match *self {}
    }
    /// Unreachable.
    pub fn exports(&self) -> &[String] {
        match *self {}
    }
    /// Unreachable.
    pub fn load_stats(&self) -> LoadStats {
        match *self {}
    }
}

/// A preprocessing plugin: none exist in this build.
#[derive(Debug, Clone)]
pub enum PreprocessorPlugin {}

impl PreprocessorPlugin {
    /// Unreachable.
    pub fn new(plugin: Plugin) -> Result<Self> {
        match plugin {}
    }
    /// Unreachable.
    pub fn plugin(&self) -> &Plugin {
        match *self {}
    }
    /// Unreachable.
    pub fn fit(&self, _table: &Table, _inputs: &[String]) -> Result<Vec<u8>> {
        match *self {}
    }
    /// Unreachable.
    pub fn transform(&self, _state: &[u8], _table: &Table, _inputs: &[String]) -> Result<Table> {
        match *self {}
    }
    /// Unreachable.
    pub fn stored(&self, _state: Vec<u8>, _inputs: Vec<String>) -> StoredPreprocessor {
        match *self {}
    }
}

impl StoredPreprocessor {
    /// A model with a preprocessing plugin cannot be used by this build.
    pub fn replay(&self, _host: &PluginHost, _table: &Table) -> Result<Table> {
        Err(disabled())
    }
}

/// A metric plugin: none exist in this build.
#[derive(Debug, Clone)]
pub enum MetricPlugin {}

impl MetricPlugin {
    /// Unreachable.
    pub fn new(plugin: Plugin) -> Result<Self> {
        match plugin {}
    }
}

impl Metric for MetricPlugin {
    fn name(&self) -> &str {
        match *self {}
    }
    fn direction(&self) -> Direction {
        match *self {}
    }
    fn supports(&self, _task: Task) -> bool {
        match *self {}
    }
    fn score(&self, _y: &Target, _p: &Prediction) -> automl_core::Result<f64> {
        match *self {}
    }
}

/// A stopping-rule plugin: none exist in this build.
#[derive(Debug, Clone)]
pub enum StoppingPlugin {}

impl StoppingPlugin {
    /// Unreachable.
    pub fn new(plugin: Plugin) -> Result<Self> {
        match plugin {}
    }
    /// Unreachable.
    pub fn name(&self) -> &str {
        match *self {}
    }
    /// Unreachable.
    pub fn judge_trial(&self, _trial: u64, _learner: &str, _current: &[(usize, f64)], _finished: &[(u64, String, Vec<(usize, f64)>)], _higher: bool) -> Result<Verdict> {
        match *self {}
    }
    /// Unreachable.
    pub fn judge_run(&self, _history: &[TrialSummary], _higher: bool) -> Result<Verdict> {
        match *self {}
    }
}
