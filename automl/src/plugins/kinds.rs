//! The three kinds of plugin as engine types: a preprocessing step, a [`Metric`], and a
//! stopping rule. Calls run in sandboxed instances (see `sandbox`) that are kept warm and
//! reused until one fails: a trap, a deadline or the memory cap discards the instance.
use automl_core::data::Table;
use automl_core::metrics::{Direction, Metric, Prediction};
use automl_core::task::{Target, Task};
use wasmtime::component::{ComponentExportIndex, ComponentType, Instance, InstancePre, Lift, Lower};
use wasmtime::Store;

use super::bindings::preprocessor::automl::plugins::types::{Column as WitColumn, Table as WitTable};
use super::bindings::{metric as m, preprocessor as p, stopping as s};
use super::lift::{self, Bytes, Text};
use super::sandbox::{self, HostState};
use super::{convert, plugin_error, Plugin, PluginHost, PluginInfo, PluginKind, StoredPreprocessor, TrialSummary, Verdict};
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

    async fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<KindInstance> {
        Ok(match self {
            KindPre::Preprocessor(pre) => {
                // The raw instance too: `fit` and `transform` results are lifted lazily (see `LazyTable`).
                let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
                KindInstance::Preprocessor(p::PreprocessorPlugin::new(&mut *store, &instance)?, instance)
            }
            KindPre::Metric(pre) => {
                // The raw instance too: `score` is called with borrowed buffers (see `WirePredictions`).
                let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
                KindInstance::Metric(m::MetricPlugin::new(&mut *store, &instance)?, instance)
            }
            KindPre::Stopping(pre) => KindInstance::Stopping(pre.instantiate_async(&mut *store).await?),
        })
    }
}

/// An instance of a plugin, typed by its world.
enum KindInstance {
    Preprocessor(p::PreprocessorPlugin, Instance),
    Metric(m::MetricPlugin, Instance),
    Stopping(s::StoppingRulePlugin),
}

/// A live instance and its store, kept between calls. Plugins must not rely on state
/// surviving between calls, nor on it being lost: the host may reuse an instance or start
/// a fresh one at any call.
pub(super) struct Warm {
    store: Store<HostState>,
    instance: KindInstance,
}

/// A call on an instance of another kind (the kind wrappers check it at construction, so
/// this is not expected).
fn other_kind() -> wasmtime::Error {
    wasmtime::Error::msg("the plugin's instance is of another kind")
}

/// Most idle instances kept per plugin (one per concurrent caller is all that is reused).
const MAX_WARM: usize = 8;

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
    /// Runs `f` on a warm instance (or a fresh one when none is idle) within the call's
    /// deadline, instantiation included (see [`sandbox::bounded`]). A trap, the deadline or
    /// the memory cap becomes an error naming the plugin, the call and the cause, with what
    /// the guest printed during the call, and the instance is discarded (it cannot be
    /// entered again); otherwise it goes back to the pool for the next call.
    fn with_instance<R: Send>(&self, what: &str, f: impl AsyncFnOnce(&mut Store<HostState>, &KindInstance) -> wasmtime::Result<R> + Send) -> Result<R> {
        let config = &self.host.inner.config;
        let idle = self.warm.lock().ok().and_then(|mut pool| pool.pop());
        let (mut store, mut instance) = match idle {
            Some(Warm { store, instance }) => (store, Some(instance)),
            None => (sandbox::new_store(&self.host.inner.engine, config).map_err(|m| plugin_error(self.label(), m))?, None),
        };
        sandbox::arm(&mut store, config);
        let outcome = sandbox::bounded(config.call_timeout, || async {
            let instance = match &mut instance {
                Some(instance) => instance,
                None => instance.insert(self.pre.instantiate(&mut store).await?),
            };
            f(&mut store, instance).await
        });
        match (outcome, instance) {
            (Ok(r), Some(instance)) => {
                self.keep_warm(Warm { store, instance });
                Ok(r)
            }
            (Ok(r), None) => Ok(r),
            (Err(e), instance) => {
                let what = if instance.is_some() { what.to_string() } else { format!("{what} (instantiating)") };
                Err(plugin_error(self.label(), sandbox::call_failure(&store, config, &what, &e)))
            }
        }
    }

    /// Returns an instance that finished its call cleanly to the pool, if it may serve
    /// another.
    fn keep_warm(&self, warm: Warm) {
        if sandbox::reusable(&warm.store, &self.host.inner.config) {
            if let Ok(mut pool) = self.warm.lock() {
                if pool.len() < MAX_WARM {
                    pool.push(warm);
                }
            }
        }
    }

    /// A call's own `result<_, string>`: an `Err` from the guest names the call.
    fn guest<R>(&self, what: &str, r: std::result::Result<R, String>) -> Result<R> {
        r.map_err(|m| plugin_error(self.label(), format!("{what} returned an error: {}", crate::util::printable(&m, sandbox::MAX_GUEST_TEXT))))
    }

    /// Instantiates once to type-check every export against the world: a lookalike with
    /// the right names but other signatures is refused here, at load. The instance is kept
    /// for the first call.
    pub(super) fn check_world(&self) -> Result<()> {
        let inner = &self.host.inner;
        let mut store = sandbox::new_store(&inner.engine, &inner.config).map_err(|m| plugin_error(self.label(), m))?;
        match sandbox::bounded(inner.config.call_timeout, || self.pre.instantiate(&mut store)) {
            Ok(instance) => {
                self.keep_warm(Warm { store, instance });
                Ok(())
            }
            Err(e) if e.downcast_ref::<wasmtime::Trap>().is_some() => Err(plugin_error(self.label(), sandbox::call_failure(&store, &inner.config, "instantiation", &e))),
            Err(e) => Err(plugin_error(
                self.label(),
                format!(
                    "does not implement the {} world of automl:plugins@{}: {} (built against another version of the WIT, or a lookalike); rebuild it against plugins-wit/wit/v0.1",
                    self.kind(),
                    super::WIT_VERSION,
                    sandbox::describe_error(&e)
                ),
            )),
        }
    }

    /// Asks the plugin to describe itself.
    pub(super) fn describe(&self) -> Result<PluginInfo> {
        self.with_instance("describe", async |store, instance| {
            Ok(match instance {
                KindInstance::Preprocessor(i, _) => info_from!(p, i.automl_plugins_preprocessor().call_describe(store).await?),
                KindInstance::Metric(i, _) => info_from!(m, i.automl_plugins_metric().call_describe(store).await?),
                KindInstance::Stopping(i) => info_from!(s, i.automl_plugins_stopping_rule().call_describe(store).await?),
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
#[derive(Clone)]
pub struct PreprocessorPlugin {
    plugin: Plugin,
    fit: ComponentExportIndex,
    transform: ComponentExportIndex,
}

impl std::fmt::Debug for PreprocessorPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreprocessorPlugin").field("name", &self.plugin.info().name).finish()
    }
}

/// Most bytes of fitted state a preprocessor may keep (it is stored in `model.automl`).
pub const MAX_STATE: usize = 32 << 20;

/// The WIT `column` lifted within the call's budget (see `lift`).
#[derive(ComponentType, Lift)]
#[component(record)]
struct BoundedColumn {
    name: Text,
    dtype: p::automl::plugins::types::Dtype,
    data: Bytes,
    offsets: Bytes,
    validity: Bytes,
}

/// The WIT `table` lifted within the call's budget (see `lift`).
#[derive(ComponentType, Lift)]
#[component(record)]
struct BoundedTable {
    rows: u64,
    columns: Vec<BoundedColumn>,
}

impl BoundedTable {
    fn into_wit(self) -> WitTable {
        let columns = self.columns.into_iter().map(|c| WitColumn { name: c.name.0, dtype: c.dtype, data: c.data.0, offsets: c.offsets.0, validity: c.validity.0 }).collect();
        WitTable { rows: self.rows, columns }
    }
}

/// The index of `function` in the plugin's export of `interface` (e.g. `automl:plugins/metric`).
fn export_function(plugin: &Plugin, component: &wasmtime::component::Component, interface: &str, function: &str) -> Result<ComponentExportIndex> {
    let prefix = format!("{interface}@");
    let exported = plugin.exports().iter().find(|e| e.starts_with(&prefix)).and_then(|name| component.get_export_index(None, name.as_str()));
    exported
        .and_then(|i| component.get_export_index(Some(&i), function))
        .ok_or_else(|| plugin_error(plugin.label(), format!("exports no {interface}#{function} function")))
}

impl PreprocessorPlugin {
    /// Wraps a loaded preprocessor plugin.
    pub fn new(plugin: Plugin) -> Result<Self> {
        plugin.expect_kind(PluginKind::Preprocessor)?;
        let KindPre::Preprocessor(pre) = &plugin.pre else { return Err(plugin_error(plugin.label(), "not a preprocessor".into())) };
        let component = pre.instance_pre().component();
        let fit = export_function(&plugin, component, "automl:plugins/preprocessor", "fit")?;
        let transform = export_function(&plugin, component, "automl:plugins/preprocessor", "transform")?;
        Ok(PreprocessorPlugin { plugin, fit, transform })
    }
    /// The plugin.
    pub fn plugin(&self) -> &Plugin {
        &self.plugin
    }

    /// Fits on the columns `inputs` of `table`; returns the state (at most [`MAX_STATE`]
    /// bytes).
    pub fn fit(&self, table: &Table, inputs: &[String]) -> Result<Vec<u8>> {
        let wit = convert::to_wit(table, inputs).map_err(|m| plugin_error(self.plugin.label(), m))?;
        let r = self.plugin.with_instance("fit", async |store, instance| {
            let KindInstance::Preprocessor(_, instance) = instance else { return Err(other_kind()) };
            let fit = instance.get_typed_func::<(&WitTable,), (std::result::Result<Bytes, Text>,)>(&mut *store, &self.fit)?;
            let _budget = lift::Budget::set(MAX_STATE, |cap| format!("returned a fitted state over {} MiB, the most a preprocessor may keep (it is stored in model.automl)", cap >> 20));
            let (state,) = fit.call_async(&mut *store, (&wit,)).await?;
            Ok(state.map(|b| b.0).map_err(|t| t.0))
        })?;
        self.plugin.guest("fit", r)
    }

    /// Transforms the columns `inputs` of `table` with a fitted `state`.
    pub fn transform(&self, state: &[u8], table: &Table, inputs: &[String]) -> Result<Table> {
        let wit = convert::to_wit(table, inputs).map_err(|m| plugin_error(self.plugin.label(), m))?;
        let budget = self.plugin.host.inner.config.memory_limit;
        let r = self.plugin.with_instance("transform", async |store, instance| {
            let KindInstance::Preprocessor(_, instance) = instance else { return Err(other_kind()) };
            let transform = instance.get_typed_func::<(&[u8], &WitTable), (std::result::Result<BoundedTable, Text>,)>(&mut *store, &self.transform)?;
            let _budget = lift::Budget::set(budget, |cap| {
                format!("returned more than its memory limit of {} MiB allows: the lists and strings of its result add up to more (they may not share their bytes)", cap >> 20)
            });
            let (out,) = transform.call_async(&mut *store, (state, &wit)).await?;
            Ok(out.map(BoundedTable::into_wit).map_err(|t| t.0))
        })?;
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
    score: ComponentExportIndex,
}

/// The WIT record `predictions` with borrowed buffers, so that probabilities and
/// regression values already laid out as little-endian f64s are copied once, straight
/// into the guest, instead of into a host `Vec` first. Its layout is checked against the
/// component's own type when the call is typed.
#[derive(ComponentType, Lower)]
#[component(record)]
struct WirePredictions<'a> {
    task: m::exports::automl::plugins::metric::Task,
    #[component(name = "y-true")]
    y_true: &'a [u8],
    #[component(name = "y-pred")]
    y_pred: &'a [u8],
    proba: &'a [u8],
    labels: &'a [String],
    weights: &'a [u8],
    rows: u64,
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
        let (direction, tasks) = plugin.with_instance("get-direction", async |store, instance| {
            let KindInstance::Metric(i, _) = instance else { return Err(other_kind()) };
            let g = i.automl_plugins_metric();
            let d = g.call_get_direction(&mut *store).await?;
            let mut tasks = [false; 3];
            for (i, t) in [Task::Binary, Task::Multiclass, Task::Regression].into_iter().enumerate() {
                tasks[i] = g.call_supports(&mut *store, wit_task(t)).await?;
            }
            Ok((d, tasks))
        })?;
        let KindPre::Metric(pre) = &plugin.pre else { return Err(plugin_error(plugin.label(), "not a metric".into())) };
        let score = export_function(&plugin, pre.instance_pre().component(), "automl:plugins/metric", "score")?;
        let direction = match direction {
            m::exports::automl::plugins::metric::Direction::Maximize => Direction::Maximize,
            m::exports::automl::plugins::metric::Direction::Minimize => Direction::Minimize,
        };
        Ok(MetricPlugin { plugin, direction, tasks, score })
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
        let task = match truth {
            Target::Classes { labels, .. } if labels.len() > 2 => Task::Multiclass,
            Target::Classes { .. } => Task::Binary,
            Target::Values(_) => Task::Regression,
        };
        let to_core = |e: Error| match e {
            Error::Core(c) => c,
            other => automl_core::Error::Plugin { plugin: self.name().to_string(), message: other.to_string() },
        };
        let r = self
            .plugin
            .with_instance("score", async |store, instance| {
                let KindInstance::Metric(_, instance) = instance else { return Err(other_kind()) };
                // Class codes and predicted classes are written once, into buffers the store
                // keeps between calls (no page faults on fresh allocations); they and the
                // probabilities or values are then lent to the call as their little-endian
                // bytes, which the call copies straight into the guest.
                let mut scratch = std::mem::take(&mut store.data_mut().scratch);
                let [truth_buf, pred_buf, proba_buf] = &mut scratch;
                let (y_true, labels): (&[f64], &[String]) = match truth {
                    Target::Classes { codes, labels } => (convert::f64s_into(truth_buf, codes.iter().map(|&c| c as f64)), labels),
                    Target::Values(v) => (v, &[]),
                };
                let (y_pred, proba): (&[f64], &[f64]) = match prediction {
                    Prediction::Classes(p) => match p.as_slice() {
                        // Row-major (the usual layout): `classes()`'s argmax per row, written
                        // straight into the buffer (no `Vec<usize>` between: 10% of the call
                        // at 1M rows).
                        Some(contiguous) if p.ncols() > 0 => {
                            let argmax = |r: &[f64]| automl_core::metrics::argmax(r.iter().copied()) as f64;
                            (convert::f64s_into(pred_buf, contiguous.chunks_exact(p.ncols()).map(argmax)), contiguous)
                        }
                        _ => (convert::f64s_into(pred_buf, prediction.classes().into_iter().map(|c| c as f64)), convert::f64s_into(proba_buf, p.iter().copied())),
                    },
                    Prediction::Values(v) => (v.as_slice().map_or_else(|| &*convert::f64s_into(pred_buf, v.iter().copied()), |v| v), &[]),
                };
                let (y_true, y_pred, proba) = (convert::le_bytes(y_true), convert::le_bytes(y_pred), convert::le_bytes(proba));
                let input = WirePredictions { task: wit_task(task), y_true: &y_true, y_pred: &y_pred, proba: &proba, labels, weights: &[], rows: rows as u64 };
                let result = match instance.get_typed_func::<(WirePredictions<'_>,), (std::result::Result<f64, String>,)>(&mut *store, &self.score) {
                    Ok(score) => score.call_async(&mut *store, (input,)).await,
                    Err(e) => Err(e),
                };
                store.data_mut().scratch = scratch;
                result.map(|(r,)| r)
            })
            .map_err(to_core)?;
        let score = self.plugin.guest("score", r).map_err(to_core)?;
        if !score.is_finite() {
            return Err(automl_core::Error::Plugin { plugin: self.name().into(), message: format!("score returned {score}, not a finite number") });
        }
        Ok(score)
    }
}

// ------------------------------------------------------------------ stopping rule

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
        let r = self.plugin.with_instance("judge-trial", async |store, instance| match instance {
            KindInstance::Stopping(i) => i.automl_plugins_stopping_rule().call_judge_trial(store, &current, &finished, higher_is_better).await,
            _ => Err(other_kind()),
        })?;
        self.plugin.guest("judge-trial", r).map(verdict)
    }

    /// Should the run stop, given every finished trial?
    pub fn judge_run(&self, history: &[TrialSummary], higher_is_better: bool) -> Result<Verdict> {
        let history: Vec<_> = history
            .iter()
            .map(|t| s::exports::automl::plugins::stopping_rule::TrialSummary { trial: t.trial, learner: t.learner.clone(), score: t.score, finished_s: t.finished_s })
            .collect();
        let r = self.plugin.with_instance("judge-run", async |store, instance| match instance {
            KindInstance::Stopping(i) => i.automl_plugins_stopping_rule().call_judge_run(store, &history, higher_is_better).await,
            _ => Err(other_kind()),
        })?;
        self.plugin.guest("judge-run", r).map(verdict)
    }
}
