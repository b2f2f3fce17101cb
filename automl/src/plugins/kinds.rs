//! The three kinds of plugin as engine types: a preprocessing step, a [`Metric`], and a
//! stopping rule. Each call runs in a fresh sandboxed store (see `sandbox`).
use automl_core::data::Table;
use automl_core::metrics::{Direction, Metric, Prediction};
use automl_core::task::{Target, Task};
use serde::{Deserialize, Serialize};
use wasmtime::component::InstancePre;
use wasmtime::Store;

use super::bindings::{metric as m, preprocessor as p, stopping as s};
use super::sandbox::{self, HostState};
use super::{convert, plugin_error, Plugin, PluginHost, PluginInfo, PluginKind};
use crate::error::{Error, Result};

/// A component pre-linked for its world.
#[derive(Clone)]
pub(super) enum KindPre {
    Preprocessor(p::PreprocessorPluginPre<HostState>),
    Metric(m::MetricPluginPre<HostState>),
    Stopping(s::StoppingRulePluginPre<HostState>),
}

impl KindPre {
    pub(super) fn new(kind: PluginKind, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::Preprocessor => KindPre::Preprocessor(p::PreprocessorPluginPre::new(pre)?),
            PluginKind::Metric => KindPre::Metric(m::MetricPluginPre::new(pre)?),
            PluginKind::StoppingRule => KindPre::Stopping(s::StoppingRulePluginPre::new(pre)?),
        })
    }
}

macro_rules! info_from {
    ($module:ident, $info:expr) => {{
        let i = $info;
        PluginInfo {
            name: i.name,
            kind: match i.kind {
                $module::automl::plugins::types::PluginKind::Preprocessor => PluginKind::Preprocessor,
                $module::automl::plugins::types::PluginKind::Metric => PluginKind::Metric,
                $module::automl::plugins::types::PluginKind::StoppingRule => PluginKind::StoppingRule,
            },
            version: i.version,
            description: i.description,
        }
    }};
}

impl Plugin {
    /// Runs `f` in a fresh sandboxed store; a trap, deadline or memory cap becomes an error
    /// naming the plugin, the call and the cause, with the guest's output.
    fn with_store<R>(&self, what: &str, f: impl FnOnce(&mut Store<HostState>) -> wasmtime::Result<R>) -> Result<R> {
        let inner = &self.host.inner;
        let mut store = sandbox::new_store(&inner.engine, &inner.config).map_err(|m| plugin_error(self.label(), m))?;
        f(&mut store).map_err(|e| plugin_error(self.label(), sandbox::call_failure(&store, &inner.config, what, &e)))
    }

    /// A call's own `result<_, string>`: an `Err` from the guest names the call.
    fn guest<R>(&self, what: &str, r: std::result::Result<R, String>) -> Result<R> {
        r.map_err(|m| plugin_error(self.label(), format!("{what} returned an error: {m}")))
    }

    /// Instantiates once to type-check every export against the world: a lookalike with
    /// the right names but other signatures is refused here, at load.
    pub(super) fn check_world(&self) -> Result<()> {
        let inner = &self.host.inner;
        let mut store = sandbox::new_store(&inner.engine, &inner.config).map_err(|m| plugin_error(self.label(), m))?;
        let checked = match &self.pre {
            KindPre::Preprocessor(pre) => pre.instantiate(&mut store).map(drop),
            KindPre::Metric(pre) => pre.instantiate(&mut store).map(drop),
            KindPre::Stopping(pre) => pre.instantiate(&mut store).map(drop),
        };
        checked.map_err(|e| {
            plugin_error(
                self.label(),
                format!(
                    "does not implement the {} world of automl:plugins@{}: {} (built against another version of the WIT, or a lookalike); rebuild it against plugins-wit/wit/v0.1",
                    self.kind(),
                    super::WIT_VERSION,
                    sandbox::describe_error(&e)
                ),
            )
        })
    }

    /// Asks the plugin to describe itself.
    pub(super) fn describe(&self) -> Result<PluginInfo> {
        self.with_store("describe", |store| {
            Ok(match &self.pre {
                KindPre::Preprocessor(pre) => info_from!(p, pre.instantiate(&mut *store)?.automl_plugins_preprocessor().call_describe(&mut *store)?),
                KindPre::Metric(pre) => info_from!(m, pre.instantiate(&mut *store)?.automl_plugins_metric().call_describe(&mut *store)?),
                KindPre::Stopping(pre) => info_from!(s, pre.instantiate(&mut *store)?.automl_plugins_stopping_rule().call_describe(&mut *store)?),
            })
        })
    }

    fn expect_kind(&self, kind: PluginKind) -> Result<()> {
        if self.kind() == kind {
            Ok(())
        } else {
            Err(plugin_error(self.label(), format!("is a {} plugin, not a {kind} plugin", self.kind())))
        }
    }
}

// ------------------------------------------------------------------ preprocessor

/// A preprocessing plugin: runs on the raw feature columns before the engine's pipeline.
#[derive(Debug, Clone)]
pub struct PreprocessorPlugin {
    plugin: Plugin,
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

impl PreprocessorPlugin {
    /// Wraps a loaded preprocessor plugin.
    pub fn new(plugin: Plugin) -> Result<Self> {
        plugin.expect_kind(PluginKind::Preprocessor)?;
        Ok(PreprocessorPlugin { plugin })
    }
    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Fits on the columns `inputs` of `table`; returns the state.
    pub fn fit(&self, table: &Table, inputs: &[String]) -> Result<Vec<u8>> {
        let wit = convert::to_wit(table, inputs).map_err(|m| plugin_error(self.plugin.label(), m))?;
        let KindPre::Preprocessor(pre) = &self.plugin.pre else { return Err(plugin_error(self.plugin.label(), "not a preprocessor".into())) };
        let r = self.plugin.with_store("fit", |store| pre.instantiate(&mut *store)?.automl_plugins_preprocessor().call_fit(&mut *store, &wit))?;
        self.plugin.guest("fit", r)
    }

    /// Transforms the columns `inputs` of `table` with a fitted `state`.
    pub fn transform(&self, state: &[u8], table: &Table, inputs: &[String]) -> Result<Table> {
        let wit = convert::to_wit(table, inputs).map_err(|m| plugin_error(self.plugin.label(), m))?;
        let KindPre::Preprocessor(pre) = &self.plugin.pre else { return Err(plugin_error(self.plugin.label(), "not a preprocessor".into())) };
        let r = self.plugin.with_store("transform", |store| pre.instantiate(&mut *store)?.automl_plugins_preprocessor().call_transform(&mut *store, state, &wit))?;
        let out = self.plugin.guest("transform", r)?;
        convert::from_wit(out, table).map_err(|m| plugin_error(self.plugin.label(), format!("transform broke the table contract: {m}")))
    }

    /// What `model.automl` keeps of this plugin after fitting.
    pub fn stored(&self, state: Vec<u8>, inputs: Vec<String>) -> StoredPreprocessor {
        let info = self.plugin.info();
        StoredPreprocessor { name: info.name.clone(), version: info.version.clone(), digest: self.plugin.digest().to_string(), component: self.plugin.bytes().to_vec(), state, inputs }
    }
}

impl StoredPreprocessor {
    /// Loads the stored component into `host` (refusing it if its bytes no longer match
    /// the digest) and transforms `table`.
    pub fn replay(&self, host: &PluginHost, table: &Table) -> Result<Table> {
        let plugin = host.load_bytes(&self.name, self.component.clone().into())?;
        if plugin.digest() != self.digest {
            return Err(plugin_error(&self.name, "the component stored in the model does not match its digest: the model file is damaged".into()));
        }
        let missing: Vec<&String> = self.inputs.iter().filter(|c| table.index_of(c).is_err()).collect();
        if !missing.is_empty() {
            return Err(Error::Core(automl_core::Error::Data(format!(
                "missing column{} {} that the model's '{}' preprocessor reads",
                if missing.len() > 1 { "s" } else { "" },
                missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", "),
                self.name
            ))));
        }
        PreprocessorPlugin::new(plugin)?.transform(&self.state, table, &self.inputs)
    }
}

// ------------------------------------------------------------------ metric

/// A metric plugin, usable wherever the engine takes a [`Metric`].
#[derive(Clone)]
pub struct MetricPlugin {
    plugin: Plugin,
    direction: Direction,
    tasks: [bool; 3],
}

impl std::fmt::Debug for MetricPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricPlugin").field("name", &self.plugin.info().name).field("direction", &self.direction).finish()
    }
}

fn wit_task(task: Task) -> m::exports::automl::plugins::metric::Task {
    use m::exports::automl::plugins::metric::Task as T;
    match task {
        Task::Binary => T::Binary,
        Task::Multiclass => T::Multiclass,
        Task::Regression => T::Regression,
    }
}

impl MetricPlugin {
    /// Wraps a loaded metric plugin, asking its direction and tasks once.
    pub fn new(plugin: Plugin) -> Result<Self> {
        plugin.expect_kind(PluginKind::Metric)?;
        let KindPre::Metric(pre) = &plugin.pre else { return Err(plugin_error(plugin.label(), "not a metric".into())) };
        let (direction, tasks) = plugin.with_store("get-direction", |store| {
            let inst = pre.instantiate(&mut *store)?;
            let g = inst.automl_plugins_metric();
            let d = g.call_get_direction(&mut *store)?;
            let mut tasks = [false; 3];
            for (i, t) in [Task::Binary, Task::Multiclass, Task::Regression].into_iter().enumerate() {
                tasks[i] = g.call_supports(&mut *store, wit_task(t))?;
            }
            Ok((d, tasks))
        })?;
        let direction = match direction {
            m::exports::automl::plugins::metric::Direction::Maximize => Direction::Maximize,
            m::exports::automl::plugins::metric::Direction::Minimize => Direction::Minimize,
        };
        Ok(MetricPlugin { plugin, direction, tasks })
    }
    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }
}

impl Metric for MetricPlugin {
    fn name(&self) -> &str {
        &self.plugin.info().name
    }
    fn direction(&self) -> Direction {
        self.direction
    }
    fn supports(&self, task: Task) -> bool {
        self.tasks[match task {
            Task::Binary => 0,
            Task::Multiclass => 1,
            Task::Regression => 2,
        }]
    }
    fn score(&self, truth: &Target, prediction: &Prediction) -> automl_core::Result<f64> {
        let rows = prediction.len();
        let (task, y_true, labels) = match truth {
            Target::Classes { codes, labels } => (if labels.len() > 2 { Task::Multiclass } else { Task::Binary }, codes.iter().map(|&c| c as f64).collect::<Vec<f64>>(), labels.clone()),
            Target::Values(v) => (Task::Regression, v.clone(), Vec::new()),
        };
        let (y_pred, proba) = match prediction {
            Prediction::Classes(p) => (prediction.classes().into_iter().map(|c| c as f64).collect::<Vec<f64>>(), p.iter().copied().collect::<Vec<f64>>()),
            Prediction::Values(v) => (v.to_vec(), Vec::new()),
        };
        let input = m::exports::automl::plugins::metric::Predictions {
            task: wit_task(task),
            y_true: convert::bytes_of(&y_true),
            y_pred: convert::bytes_of(&y_pred),
            proba: convert::bytes_of(&proba),
            labels,
            weights: Vec::new(),
            rows: rows as u64,
        };
        let to_core = |e: Error| match e {
            Error::Core(c) => c,
            other => automl_core::Error::Plugin { plugin: self.name().to_string(), message: other.to_string() },
        };
        let KindPre::Metric(pre) = &self.plugin.pre else { return Err(automl_core::Error::Plugin { plugin: self.name().into(), message: "not a metric".into() }) };
        let r = self.plugin.with_store("score", |store| pre.instantiate(&mut *store)?.automl_plugins_metric().call_score(&mut *store, &input)).map_err(to_core)?;
        let score = self.plugin.guest("score", r).map_err(to_core)?;
        if !score.is_finite() {
            return Err(automl_core::Error::Plugin { plugin: self.name().into(), message: format!("score returned {score}, not a finite number") });
        }
        Ok(score)
    }
}

// ------------------------------------------------------------------ stopping rule

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

/// A stopping-rule plugin.
#[derive(Debug, Clone)]
pub struct StoppingPlugin {
    plugin: Plugin,
}

fn curve(trial: u64, learner: &str, points: &[(usize, f64)]) -> s::exports::automl::plugins::stopping_rule::Curve {
    s::exports::automl::plugins::stopping_rule::Curve {
        trial,
        learner: learner.to_string(),
        steps: points.iter().map(|(st, _)| u32::try_from(*st).unwrap_or(u32::MAX)).collect(),
        scores: points.iter().map(|(_, v)| *v).collect(),
    }
}

fn verdict(v: s::exports::automl::plugins::stopping_rule::Verdict) -> Verdict {
    match v {
        s::exports::automl::plugins::stopping_rule::Verdict::Proceed => Verdict::Proceed,
        s::exports::automl::plugins::stopping_rule::Verdict::Stop => Verdict::Stop,
    }
}

impl StoppingPlugin {
    /// Wraps a loaded stopping-rule plugin.
    pub fn new(plugin: Plugin) -> Result<Self> {
        plugin.expect_kind(PluginKind::StoppingRule)?;
        Ok(StoppingPlugin { plugin })
    }
    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }
    /// Name.
    pub fn name(&self) -> &str {
        &self.plugin.info().name
    }

    /// Should the running trial stop? Curves hold `(step, score)` in the metric's units.
    pub fn judge_trial(&self, trial: u64, learner: &str, current: &[(usize, f64)], finished: &[(u64, String, Vec<(usize, f64)>)], higher_is_better: bool) -> Result<Verdict> {
        let current = curve(trial, learner, current);
        let finished: Vec<_> = finished.iter().map(|(t, l, c)| curve(*t, l, c)).collect();
        let KindPre::Stopping(pre) = &self.plugin.pre else { return Err(plugin_error(self.name(), "not a stopping rule".into())) };
        let r = self.plugin.with_store("judge-trial", |store| pre.instantiate(&mut *store)?.automl_plugins_stopping_rule().call_judge_trial(&mut *store, &current, &finished, higher_is_better))?;
        self.plugin.guest("judge-trial", r).map(verdict)
    }

    /// Should the run stop, given every finished trial?
    pub fn judge_run(&self, history: &[TrialSummary], higher_is_better: bool) -> Result<Verdict> {
        let history: Vec<_> = history
            .iter()
            .map(|t| s::exports::automl::plugins::stopping_rule::TrialSummary { trial: t.trial, learner: t.learner.clone(), score: t.score, finished_s: t.finished_s })
            .collect();
        let KindPre::Stopping(pre) = &self.plugin.pre else { return Err(plugin_error(self.name(), "not a stopping rule".into())) };
        let r = self.plugin.with_store("judge-run", |store| pre.instantiate(&mut *store)?.automl_plugins_stopping_rule().call_judge_run(&mut *store, &history, higher_is_better))?;
        self.plugin.guest("judge-run", r).map(verdict)
    }
}
