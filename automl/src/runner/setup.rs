//! Setting a built-in experiment up: load the plugins (a bad plugin is reported before a
//! long read), read and profile the data, choose the metric, the validation splits and
//! the learners, and build the strategy.
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use automl_core::data::Table;
use automl_core::learners::{all_learners, Learner};
use automl_core::metrics::{BuiltinMetric, Direction, Metric};
use automl_core::profile::Profile;
use automl_core::task::{Target, Task};
use automl_core::validation::{make_splits, ValidationPlan};

use crate::error::{Error, Result};
use crate::evaluate::{ingest, ExperimentData, Ingested};
use crate::options::ExperimentOptions;
use crate::outcome::LoadedPlugin;
use crate::plugins::{MetricPlugin, PluginHost, PluginKind, PreprocessorPlugin, StoppingPlugin};
use crate::search::{LearnerSearch, Suggestion};
use crate::trial::{plugin_key, DataRef, PluginRef, PreparedFile, TrialSpec, PLUGIN_MOUNT};
use crate::util::{sha256_file, sha256_table};

/// The plugins of a run, by kind.
#[derive(Default)]
pub struct Plugins {
    /// How each was loaded.
    pub loaded: Vec<LoadedPlugin>,
    /// Preprocessors, in order.
    pub preprocessors: Vec<PreprocessorPlugin>,
    /// Metrics (the objective, or extra leaderboard columns).
    pub metrics: Vec<MetricPlugin>,
    /// Stopping rules.
    pub stopping: Vec<StoppingPlugin>,
    /// What the user should know about loading them (a compiled-code cache not used).
    pub notes: Vec<String>,
    /// The preprocessor and metric components remote trials load: SHA-256 and bytes.
    pub remote: Vec<(String, std::sync::Arc<[u8]>)>,
}

/// A built-in experiment, ready for its search.
pub struct Setup {
    /// The data profile.
    pub profile: Profile,
    /// Rows, features, target and splits shared by every trial.
    pub data: Arc<ExperimentData>,
    /// The target as prepared (labels for classification).
    pub target: Target,
    /// The task.
    pub task: Task,
    /// Rows with a target.
    pub n_rows: usize,
    /// The objective's name.
    pub metric_name: String,
    /// The objective.
    pub metric: Arc<dyn Metric>,
    /// Other metrics shown in the leaderboard.
    pub extra_metrics: Vec<Arc<dyn Metric>>,
    /// Which way the objective is better.
    pub direction: Direction,
    /// The validation plan.
    pub plan: ValidationPlan,
    /// The search over learners.
    pub strategy: LearnerSearch,
    /// Stopping-rule plugins and how all plugins were loaded.
    pub plugins: Plugins,
    /// The data's SHA-256, being computed beside the search.
    digest: Option<JoinHandle<std::io::Result<String>>>,
    /// The same, once known (empty when the data could not be read again).
    digest_value: String,
}

/// Loads the plugins named in `options`, one of each name.
pub fn load_plugins(options: &ExperimentOptions, remote: bool) -> Result<Plugins> {
    let mut p = Plugins::default();
    if options.plugins.is_empty() {
        return Ok(p);
    }
    let host = PluginHost::new(options.sandbox.clone())?;
    p.notes.extend(host.cache_warning().map(String::from));
    for path in &options.plugins {
        let plugin = host.load(path)?;
        let name = plugin.info().name.clone();
        check_plugin_name(&name, path)?;
        if p.loaded.iter().any(|l| l.info.name == name) {
            return Err(Error::Config(format!("two plugins are named '{name}' ({}): names must be unique in a run", path.display())));
        }
        p.loaded.push(LoadedPlugin { info: plugin.info().clone(), digest: plugin.digest().to_string(), load: plugin.load_stats() });
        // Trial pods load preprocessors and metrics themselves; stopping rules run here.
        if remote && plugin.kind() != PluginKind::StoppingRule {
            p.remote.push((plugin.digest().to_string(), std::sync::Arc::clone(plugin.bytes())));
        }
        match plugin.kind() {
            PluginKind::Preprocessor => p.preprocessors.push(PreprocessorPlugin::new(plugin)?),
            PluginKind::Metric => p.metrics.push(MetricPlugin::new(plugin)?),
            PluginKind::StoppingRule => p.stopping.push(StoppingPlugin::new(plugin)?),
        }
    }
    Ok(p)
}

/// Refuses a plugin named like a built-in metric, stopping rule or learner: it would
/// silently stand in for it (a metric plugin called `log_loss` would become the default
/// objective).
pub fn check_plugin_name(name: &str, path: &Path) -> Result<()> {
    let metric = BuiltinMetric::ALL.iter().any(|m| m.name() == name);
    let rule = crate::stopping::builtin_rules().iter().any(|(n, _, _)| *n == name);
    let learner = all_learners().iter().any(|l| l.name() == name);
    let what = if metric { "metric" } else if rule { "rule" } else if learner { "learner" } else { return Ok(()) };
    Err(Error::Core(automl_core::Error::Plugin {
        plugin: name.to_string(),
        message: format!("{}: this plugin takes the name of the built-in {what} '{name}'; give it a name of its own in its `describe`", path.display()),
    }))
}

/// Starts hashing the data beside the setup: a file is read again on another thread; a
/// table is hashed now, so that it can then be moved into the run.
fn start_digest(path: &Path, frame: Option<&Table>) -> Result<JoinHandle<std::io::Result<String>>> {
    let path = path.to_path_buf();
    let table_digest = frame.map(sha256_table);
    std::thread::Builder::new()
        .name("automl-digest".into())
        .spawn(move || match table_digest {
            Some(digest) => Ok(digest),
            None => sha256_file(&path),
        })
        .map_err(|e| Error::Thread { what: "hashing the data".into(), source: e })
}

/// The objective and the other metric plugins, for `task`.
// Without the `plugins` feature there are no metric plugins, and their arm cannot run.
#[cfg_attr(not(feature = "plugins"), allow(unreachable_code))]
fn choose_metric(options: &ExperimentOptions, task: Task, plugins: &[MetricPlugin]) -> Result<(String, Arc<dyn Metric>, Vec<Arc<dyn Metric>>)> {
    let name = options.metric.clone().unwrap_or_else(|| BuiltinMetric::default_for(task).name().to_string());
    let metric: Arc<dyn Metric> = match plugins.iter().find(|m| m.name() == name) {
        Some(plugin) => Arc::new(plugin.clone()),
        None => match BuiltinMetric::from_name(&name) {
            Ok(m) => Arc::new(m),
            Err(_) => {
                let known = BuiltinMetric::ALL.iter().map(|m| m.name().to_string()).chain(plugins.iter().map(|m| m.name().to_string())).collect();
                return Err(Error::Core(automl_core::Error::Unknown { what: "metric", name, known }));
            }
        },
    };
    if !metric.supports(task) {
        return Err(Error::Config(format!("metric '{name}' does not apply to a {task} task")));
    }
    // The other metric plugins are scored on every trial's validation predictions and
    // shown beside the objective in the leaderboard.
    let extra = plugins.iter().filter(|m| m.name() != name && m.supports(task)).map(|m| Arc::new(m.clone()) as Arc<dyn Metric>).collect();
    Ok((name, metric, extra))
}

/// The learners to search: the named ones (each must fit the task), or all that do.
fn choose_learners<'a>(options: &ExperimentOptions, task: Task, pool: &'a [Box<dyn Learner>]) -> Result<Vec<&'a dyn Learner>> {
    let Some(names) = &options.learners else {
        return Ok(pool.iter().filter(|l| l.supports(task) && l.by_default()).map(|l| l.as_ref()).collect());
    };
    names
        .iter()
        .map(|n| {
            let l = pool.iter().find(|l| l.name() == n).ok_or_else(|| Error::Config(format!("unknown learner '{n}'")))?;
            if !l.supports(task) {
                return Err(Error::Config(format!("learner '{n}' does not support {task} tasks")));
            }
            Ok(l.as_ref())
        })
        .collect()
}

/// Sets up the experiment of `options` on its data (`frame`, or the file): plugins
/// first, then ingest and profile, metric, splits, learners and strategy.
pub fn prepare(options: &ExperimentOptions, frame: Option<Arc<Table>>, remote: bool) -> Result<Setup> {
    let digest = Some(start_digest(&options.data, frame.as_deref())?);
    let mut plugins = load_plugins(options, remote)?;
    let Ingested { profile, table, target, task, features, n_rows } = ingest(&options.data, frame, &options.target, options.task, &options.na_values, options.delimiter)?;
    let (metric_name, metric, extra_metrics) = choose_metric(options, task, &plugins.metrics)?;
    let direction = metric.direction();
    let plan = options.validation.unwrap_or_else(|| ValidationPlan::auto(n_rows));
    let splits = make_splits(&plan, &target, options.seed)?;
    let preprocessors = std::mem::take(&mut plugins.preprocessors);
    // Remote trials' models stay in their pods.
    let keep_models = crate::bagging::keeps_models(options.final_fit, splits.len()) && !remote;
    let data = Arc::new(ExperimentData::new(table, target.clone(), task, features, splits).with_preprocessors(preprocessors).with_fold_models(keep_models));
    let pool = all_learners();
    let chosen = choose_learners(options, task, &pool)?;
    let strategy = LearnerSearch::new(&chosen, task, &|encoding| data.shape(encoding), options.sampler, options.seed).with_starting_points(&options.starting_points).map_err(Error::Config)?;
    Ok(Setup { profile, data, target, task, n_rows, metric_name, metric, extra_metrics, direction, plan, strategy, plugins, digest, digest_value: String::new() })
}

impl Setup {
    /// The data's SHA-256 (waiting for it if need be); empty when it could not be read.
    pub fn digest(&mut self) -> &str {
        if let Some(h) = self.digest.take() {
            self.digest_value = h.join().ok().and_then(|d| d.ok()).unwrap_or_default();
        }
        &self.digest_value
    }

    /// Share of the rows in a training fold.
    pub fn fold_share(&self) -> f64 {
        self.data.splits[0].train.len() as f64 / self.n_rows as f64
    }

    /// Where a trial's data comes from; `sha256`: the data's digest, for trials that read
    /// their own copy (remote trials, which also get the plugin components' paths).
    pub fn data_ref(&self, options: &ExperimentOptions, sha256: Option<String>) -> DataRef {
        let remote = sha256.is_some();
        let plugins = if remote { self.plugins.remote.iter().map(|(sha, _)| PluginRef { path: Path::new(PLUGIN_MOUNT).join(plugin_key(sha)), sha256: sha.clone() }).collect() } else { Vec::new() };
        let sandbox = (remote && !plugins.is_empty()).then(|| crate::options::SandboxPolicy { cache_dir: None, ..options.sandbox.clone() });
        DataRef { path: options.data.clone(), target: options.target.clone(), task: self.task, na_values: options.na_values.clone(), delimiter: options.delimiter, sha256, plugins, sandbox, prepared: None }
    }

    /// Writes (or finds) the prepared copy of `data` where trial pods read it, when the
    /// options name a folder for it and `data` carries the CSV's digest; where pods find it.
    /// A copy that cannot be written is a note, not an error: the pods parse the CSV.
    pub fn share_data(&mut self, options: &ExperimentOptions, data: &DataRef) -> Option<PreparedFile> {
        let store = options.kubernetes.prepared.as_ref()?;
        let source = crate::prepared::Source::of(data)?;
        let d = &self.data;
        let rows = crate::prepared::TrialDataRef { table: &d.table, target: &d.target, features: &d.features };
        match crate::prepared::share(&store.dir, &source, &rows) {
            Ok((path, sha256)) => Some(PreparedFile { path: store.pod_path(&path.file_name().unwrap_or_default().to_string_lossy()), sha256 }),
            Err(e) => {
                self.plugins.notes.push(format!("the prepared copy of the data was not written ({e}): each trial pod parses the CSV"));
                None
            }
        }
    }

    /// The spec of a built-in trial on `data` ([`Setup::data_ref`]).
    pub fn spec(&self, options: &ExperimentOptions, data: DataRef, train_scores: bool) -> impl Fn(u64, &Suggestion, Option<f64>) -> TrialSpec {
        let (metric, plan, seed) = (self.metric_name.clone(), self.plan, options.seed);
        move |id, suggestion, limit| TrialSpec {
            id,
            learner: suggestion.learner.clone(),
            config: suggestion.config.clone(),
            metric: metric.clone(),
            validation: plan,
            seed: crate::trial::trial_seed(seed, id),
            split_seed: seed,
            time_limit_s: limit,
            data: Some(data.clone()),
            train_scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_cannot_take_a_built_in_name() {
        let path = Path::new("p.wasm");
        for (name, what) in [("log_loss", "metric"), ("median", "rule"), ("gbdt", "learner")] {
            let e = check_plugin_name(name, path).expect_err(name).to_string();
            assert!(e.contains(&format!("built-in {what} '{name}'")), "{e}");
        }
        check_plugin_name("cost_weighted", path).expect("a name of its own");
    }
}
