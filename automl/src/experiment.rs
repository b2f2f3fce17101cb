//! The experiment runner: ingest, profile, search under budgets with local trials in
//! parallel, refit the best configuration on all rows, write the results.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use automl_core::data::{Column, Table};
use automl_core::learners::{all_learners, fit_guarded, learner_by_name, Control, FitContext, Learner};
use automl_core::metrics::{BuiltinMetric, Direction, Metric};
use automl_core::preprocess::Pipeline;
use automl_core::profile::Profile;
use automl_core::task::{Target, TaskChoice};
use automl_core::validation::{make_splits, ValidationPlan};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifact::ModelArtifact;
use crate::journal::{self, Entry, Journal, JournalState};
use crate::kubernetes::{executor as kexec, manifest, KubernetesConfig, KubernetesExecutor};
use crate::plugins::{MetricPlugin, PluginHost, PluginInfo, PluginKind, PreprocessorPlugin, SandboxConfig, StoppingPlugin, TrialSummary, Verdict};
use crate::error::{Error, Result};
use crate::report;
use crate::search::{AskContext, LearnerSearch, Sampler, Strategy, Suggestion};
use crate::stopping::{BuiltinRule, MedianStop, NoImprovement, Overfitting, StoppingRule};
use crate::trial::{apply_preprocessors, evaluate, ingest, DataRef, ExperimentData, Ingested, TrialMonitor, TrialResult, TrialSpec, TrialStatus};

/// Everything that defines an experiment. All but the in-memory parts (`frame`, `cancel`)
/// is written to the journal, so `automl resume` runs with the same settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentConfig {
    /// Training CSV.
    pub data: PathBuf,
    /// Target column.
    pub target: String,
    /// Task, or inferred.
    pub task: TaskChoice,
    /// Objective metric name; the task's default when `None`.
    pub metric: Option<String>,
    /// Seconds for the whole run (hard). `None`: no time limit.
    pub time_budget: Option<f64>,
    /// Most trials to run.
    pub max_trials: Option<usize>,
    /// Stop once a trial reaches this score.
    pub target_score: Option<f64>,
    /// Stop after this many trials without improvement.
    pub patience: Option<usize>,
    /// Validation plan; chosen by data size when `None`.
    pub validation: Option<ValidationPlan>,
    /// Trials run at once.
    pub concurrency: usize,
    /// Learners to search; all that fit the task when `None`.
    pub learners: Option<Vec<String>>,
    /// Seed for splits, search and learners.
    pub seed: u64,
    /// Extra strings read as missing.
    pub na_values: Vec<String>,
    /// Output folder; nothing is written when `None`.
    pub out: Option<PathBuf>,
    /// Seconds one trial may take; by default a third of the budget.
    pub trial_time_limit: Option<f64>,
    /// How configurations are drawn within a learner.
    pub sampler: Sampler,
    /// Stop poor trials early with `stopping_rule`.
    pub early_stopping: bool,
    /// The built-in early-stopping rule (median by default).
    pub stopping_rule: BuiltinRule,
    /// Rows already in memory (from a DataFrame, say), used instead of reading `data`;
    /// `data` then only names them in messages. The target is one of its columns.
    #[serde(skip)]
    pub frame: Option<Arc<Table>>,
    /// Set from another thread to stop the search early and keep the best model so far.
    #[serde(skip)]
    pub cancel: Option<CancelToken>,
    /// WebAssembly plugins (`.wasm` components); their kind comes from what they export.
    pub plugins: Vec<PathBuf>,
    /// What plugins may use and how long and large they may run.
    pub sandbox: SandboxConfig,
    /// Where trials run: threads here, or Jobs on a Kubernetes cluster.
    #[serde(default)]
    pub executor: ExecutorChoice,
}

/// Where trials run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorChoice {
    /// Threads in this process.
    #[default]
    Local,
    /// One `batch/v1` Job per trial on the cluster of the inferred kubeconfig.
    Kubernetes(KubernetesConfig),
}

/// Asks a running experiment to stop: no new trials start, running ones are told to stop
/// at their next report, and the best configuration so far is refit as usual.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Requests the stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether the stop was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl ExperimentConfig {
    /// A configuration with defaults: 60 s budget, concurrency = cores, TPE, median stopping.
    pub fn new(data: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        ExperimentConfig {
            data: data.into(),
            target: target.into(),
            task: TaskChoice::Auto,
            metric: None,
            time_budget: Some(60.0),
            max_trials: None,
            target_score: None,
            patience: None,
            validation: None,
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            learners: None,
            seed: 0,
            na_values: Vec::new(),
            out: None,
            trial_time_limit: None,
            sampler: Sampler::Tpe,
            early_stopping: true,
            stopping_rule: BuiltinRule::Median,
            frame: None,
            cancel: None,
            plugins: Vec::new(),
            sandbox: SandboxConfig::default(),
            executor: ExecutorChoice::Local,
        }
    }

    /// Checks settings that need no data.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.time_budget {
            if !(t > 0.0 && t.is_finite()) {
                return Err(Error::Config(format!("--time-budget must be a positive number of seconds, got {t}")));
            }
        }
        if self.max_trials == Some(0) {
            return Err(Error::Config("--max-trials must be at least 1".into()));
        }
        if self.time_budget.is_none() && self.max_trials.is_none() && self.target_score.is_none() && self.patience.is_none() {
            return Err(Error::Config("no budget: set a time budget, --max-trials, --target-score or --patience".into()));
        }
        if self.concurrency == 0 {
            return Err(Error::Config("--concurrency must be at least 1".into()));
        }
        if let Some(m) = &self.metric {
            // A metric plugin's name is known once the plugins are loaded.
            if self.plugins.is_empty() {
                BuiltinMetric::from_name(m)?;
            }
        }
        for l in self.learners.iter().flatten() {
            learner_by_name(l)?;
        }
        Ok(())
    }
}

/// Builder over [`ExperimentConfig`]: the Rust API in a few lines.
///
/// ```no_run
/// let result = automl::Experiment::builder("examples/data/penguins.csv", "species")
///     .time_budget(10.0)
///     .out(std::path::Path::new("out"))
///     .build()?
///     .run()?;
/// println!("best: {} {:?}", result.best.learner, result.best.score);
/// # Ok::<(), automl::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ExperimentBuilder {
    config: ExperimentConfig,
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty => $field:ident $(, $wrap:ident)?;)*) => {$(
        #[$doc]
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$field = setter!(@wrap value $(, $wrap)?);
            self
        }
    )*};
    (@wrap $v:ident) => { $v.into() };
    (@wrap $v:ident, Some) => { Some($v.into()) };
}

impl ExperimentBuilder {
    setter! {
        /// Task (default: inferred).
        task: TaskChoice => task;
        /// Objective metric by name (default: log-loss for classification, R² for regression).
        metric: &str => metric, Some;
        /// Time budget in seconds (default 60).
        time_budget: f64 => time_budget, Some;
        /// Maximum number of trials.
        max_trials: usize => max_trials, Some;
        /// Stop when a trial reaches this score.
        target_score: f64 => target_score, Some;
        /// Stop after this many trials without improvement.
        patience: usize => patience, Some;
        /// Validation plan (default: by data size).
        validation: ValidationPlan => validation, Some;
        /// Trials at once (default: number of cores).
        concurrency: usize => concurrency;
        /// Seed (default 0).
        seed: u64 => seed;
        /// Output folder for model, leaderboard and profile.
        out: &Path => out, Some;
        /// Per-trial time limit in seconds.
        trial_time_limit: f64 => trial_time_limit, Some;
        /// Sampler within a learner's space (default TPE).
        sampler: Sampler => sampler;
        /// Early stopping of poor trials (default on).
        early_stopping: bool => early_stopping;
        /// Which built-in rule stops trials early (default: the median rule).
        stopping_rule: BuiltinRule => stopping_rule;
    }

    /// No time budget (then another budget must be set).
    pub fn no_time_budget(mut self) -> Self {
        self.config.time_budget = None;
        self
    }
    /// Restricts the search to these learners.
    pub fn learners<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.config.learners = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }
    /// Uses rows already in memory instead of reading the data file; `name` stands for
    /// them in messages.
    pub fn frame(mut self, table: Table) -> Self {
        self.config.frame = Some(Arc::new(table));
        self
    }
    /// Adds a WebAssembly plugin.
    pub fn plugin(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.plugins.push(path.into());
        self
    }
    /// Sandbox settings for plugins.
    pub fn sandbox(mut self, sandbox: SandboxConfig) -> Self {
        self.config.sandbox = sandbox;
        self
    }
    /// Lets another thread stop the run early (see [`CancelToken`]).
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.config.cancel = Some(token);
        self
    }
    /// Extra strings read as missing.
    pub fn na_values<S: AsRef<str>>(mut self, values: &[S]) -> Self {
        self.config.na_values = values.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }
    /// Checks the settings and builds the experiment.
    pub fn build(self) -> Result<Experiment> {
        self.config.validate()?;
        Ok(Experiment { config: self.config, resume: None })
    }
}

/// Receives progress while an experiment runs. All methods default to doing nothing.
pub trait Observer {
    /// The data was read and profiled.
    fn on_profile(&mut self, _profile: &Profile) {}
    /// A trial finished; `best` is the best so far.
    fn on_trial(&mut self, _result: &TrialResult, _best: Option<&TrialResult>, _elapsed: Duration) {}
    /// The search ended; the best configuration is being refit on all rows.
    fn on_refit(&mut self, _best: &TrialResult) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The time budget ran out.
    TimeBudget,
    /// `max_trials` were run.
    MaxTrials,
    /// A trial reached the target score.
    TargetScore,
    /// `patience` trials without improvement.
    Patience,
    /// The strategy had nothing left to try.
    SearchExhausted,
    /// Stopped from outside (Ctrl-C, a notebook's stop button) through a [`CancelToken`].
    Interrupted,
    /// A stopping-rule plugin ended the run.
    StoppingRule,
}

/// What an experiment produced.
#[derive(Debug, Clone)]
pub struct ExperimentResult {
    /// Data profile.
    pub profile: Profile,
    /// Objective metric name.
    pub metric: String,
    /// Its direction.
    pub direction: Direction,
    /// The validation plan used.
    pub validation: ValidationPlan,
    /// Every trial, best first (successful trials ranked by score, then the others).
    pub leaderboard: Vec<TrialResult>,
    /// The trial whose configuration was refit.
    pub best: TrialResult,
    /// The refit model.
    pub artifact: ModelArtifact,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// Seconds from start to the end of the search.
    pub search_s: f64,
    /// Seconds of the final refit.
    pub refit_s: f64,
    /// Seconds in all.
    pub elapsed_s: f64,
    /// Seconds from start to the first finished trial.
    pub first_trial_s: Option<f64>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Things the user should know that did not stop the run (a plugin's run-level rule
    /// that failed and was switched off, say).
    pub notes: Vec<String>,
    /// The plugins used, with how they were loaded.
    pub plugins: Vec<LoadedPlugin>,
}

/// A plugin used by a run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedPlugin {
    /// Its description.
    pub info: PluginInfo,
    /// SHA-256 of the component.
    pub digest: String,
    /// Compile or cache-load time.
    pub load: crate::plugins::LoadStats,
}

/// A configured experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    config: ExperimentConfig,
    resume: Option<JournalState>,
}

/// What the runner hears from its trials.
enum TrialEvent {
    Finished(TrialResult),
    Dispatched { trial: u64, job: String },
}

struct Monitor {
    rule: Option<Box<dyn StoppingRule>>,
    direction: Direction,
    running: Mutex<std::collections::HashMap<u64, Vec<(usize, f64)>>>,
    /// Training-row losses of running trials, for the overfitting rule.
    running_train: Mutex<std::collections::HashMap<u64, Vec<(usize, f64)>>>,
    /// Whether the rule judges on training scores (only then are they computed).
    wants_train: bool,
    /// Curves of finished trials, per learner: steps mean different things to different
    /// learners (folds, trees, rounds), so trials are judged against their own kind.
    completed: Mutex<std::collections::HashMap<String, Vec<Vec<(usize, f64)>>>>,
    cancel: AtomicBool,
    /// Trials abandoned past their time limit: told to stop at their next report.
    abandoned: Mutex<std::collections::HashSet<u64>>,
    /// Stopping-rule plugins, judging on raw scores.
    plugin_rules: Vec<StoppingPlugin>,
    /// Raw `(step, score)` curves of running trials, for the plugins.
    running_raw: Mutex<std::collections::HashMap<u64, Vec<(usize, f64)>>>,
    /// Finished trials' raw curves, for the plugins.
    finished_raw: Mutex<Vec<(u64, String, Vec<(usize, f64)>)>>,
    /// A plugin rule that failed while judging a trial fails that trial: its message.
    rule_errors: Mutex<std::collections::HashMap<u64, String>>,
    /// Which rule stopped a trial, for its message.
    stopped_by: Mutex<std::collections::HashMap<u64, String>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TrialMonitor for Monitor {
    fn report_train(&self, trial: u64, step: usize, score: f64) {
        if self.wants_train {
            lock(&self.running_train).entry(trial).or_default().push((step, self.direction.to_loss(score)));
        }
    }

    fn wants_train(&self) -> bool {
        self.wants_train
    }

    fn report(&self, trial: u64, learner: &str, step: usize, score: f64) -> Control {
        if self.cancel.load(Ordering::Relaxed) || lock(&self.abandoned).contains(&trial) || lock(&self.rule_errors).contains_key(&trial) {
            return Control::Stop;
        }
        if !self.plugin_rules.is_empty() {
            let current = {
                let mut raw = lock(&self.running_raw);
                let c = raw.entry(trial).or_default();
                c.push((step, score));
                c.clone()
            };
            let finished = lock(&self.finished_raw).clone();
            let higher = self.direction == Direction::Maximize;
            for rule in &self.plugin_rules {
                match rule.judge_trial(trial, learner, &current, &finished, higher) {
                    Ok(Verdict::Proceed) => {}
                    Ok(Verdict::Stop) => {
                        lock(&self.stopped_by).insert(trial, format!("stopped by the '{}' plugin rule", rule.name()));
                        return Control::Stop;
                    }
                    Err(e) => {
                        lock(&self.rule_errors).insert(trial, e.to_string());
                        return Control::Stop;
                    }
                }
            }
        }
        let Some(rule) = &self.rule else { return Control::Continue };
        let curve = {
            let mut running = lock(&self.running);
            let c = running.entry(trial).or_default();
            c.push((step, self.direction.to_loss(score)));
            c.clone()
        };
        let train = lock(&self.running_train).get(&trial).cloned().unwrap_or_default();
        let completed = lock(&self.completed);
        let same_learner = completed.get(learner).map_or(&[][..], |c| c.as_slice());
        if rule.should_stop(&curve, &train, same_learner) {
            lock(&self.stopped_by).insert(trial, format!("stopped by the '{}' rule", rule.name()));
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

impl Experiment {
    /// Starts a builder for `data` and `target`.
    pub fn builder(data: impl Into<PathBuf>, target: impl Into<String>) -> ExperimentBuilder {
        ExperimentBuilder { config: ExperimentConfig::new(data, target) }
    }

    /// An experiment from a full configuration.
    pub fn new(config: ExperimentConfig) -> Result<Self> {
        config.validate()?;
        Ok(Experiment { config, resume: None })
    }

    /// Picks up the experiment whose output folder is `dir` where it stopped (a crash, a
    /// `kill -9`, a lost controller): finished trials are read back from the journal,
    /// trials that were running are re-adopted (Kubernetes: their Jobs are found by name,
    /// never created twice) or run again (local threads died with the process), and the
    /// search goes on with what is left of the budget.
    pub fn resume(dir: &Path) -> Result<Self> {
        let state = journal::read(dir)?;
        let mut config: ExperimentConfig = serde_json::from_value(state.config.clone())
            .map_err(|e| Error::Config(format!("{}: the journal's settings cannot be read by this automl version ({e})", dir.display())))?;
        if state.ended {
            return Err(Error::Config(format!("{}: this experiment already finished (its journal ends with the search's end); start a new run instead", dir.display())));
        }
        config.out = Some(dir.to_path_buf());
        config.validate()?;
        Ok(Experiment { config, resume: Some(state) })
    }

    /// Sets the cancel token (for a resumed experiment).
    pub fn set_cancel(&mut self, token: CancelToken) {
        self.config.cancel = Some(token);
    }

    /// The configuration.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// Runs without progress reports.
    pub fn run(&self) -> Result<ExperimentResult> {
        self.run_with(&mut Silent)
    }

    /// Runs, reporting progress to `observer`.
    pub fn run_with(&self, observer: &mut dyn Observer) -> Result<ExperimentResult> {
        self.run_inner(observer, None, self.config.frame.clone())?.ok_or_else(|| Error::Config("internal: a dry run returned no jobs".into()))
    }

    /// Runs like [`run_with`](Self::run_with), consuming the experiment: an in-memory table
    /// given with [`frame`](ExperimentBuilder::frame) is moved into the run instead of
    /// copied, which saves one copy of the data (what the Python bindings use).
    pub fn into_run_with(mut self, observer: &mut dyn Observer) -> Result<ExperimentResult> {
        let frame = self.config.frame.take();
        self.run_inner(observer, None, frame)?.ok_or_else(|| Error::Config("internal: a dry run returned no jobs".into()))
    }

    /// The Jobs the Kubernetes executor would create first (one per concurrent trial),
    /// without connecting to a cluster or writing anything: `--dry-run`. Later trials
    /// depend on the scores of these, so they cannot be listed in advance.
    pub fn dry_run_jobs(&self) -> Result<Vec<k8s_openapi::api::batch::v1::Job>> {
        if !matches!(self.config.executor, ExecutorChoice::Kubernetes(_)) {
            return Err(Error::Config("--dry-run shows the Kubernetes Jobs of a run: use it with --executor kubernetes".into()));
        }
        let mut jobs = Vec::new();
        self.run_inner(&mut Silent, Some(&mut jobs), self.config.frame.clone())?;
        Ok(jobs)
    }

    /// `frame`: the in-memory table, if any; when this is its only reference it is moved
    /// into the run rather than copied.
    fn run_inner(&self, observer: &mut dyn Observer, mut dry_jobs: Option<&mut Vec<k8s_openapi::api::batch::v1::Job>>, frame: Option<Arc<Table>>) -> Result<Option<ExperimentResult>> {
        let dry = dry_jobs.is_some();
        let cfg = &self.config;
        let start = Instant::now();
        let resume = self.resume.as_ref();
        // A resumed run has what is left of the budget.
        let spent_before = resume.map_or(0.0, |r| r.spent_s);
        let time_budget = cfg.time_budget.map(|t| (t - spent_before).max(0.0));
        let deadline = time_budget.map(|t| start + Duration::from_secs_f64(t));
        let kube_cfg = match &cfg.executor {
            ExecutorChoice::Kubernetes(k) => Some(k.clone()),
            ExecutorChoice::Local => None,
        };
        if kube_cfg.is_some() && frame.is_some() {
            return Err(Error::Config("the Kubernetes executor needs the data as a file that trial pods can read (a PVC or a URL), not an in-memory table".into()));
        }
        // The data's digest, for the model's provenance: a file is hashed beside the
        // search; a table now, so that it can then be moved into the run.
        let path = cfg.data.clone();
        let table_digest = frame.as_deref().map(sha256_table);
        let mut hasher = Some(std::thread::spawn(move || match table_digest {
            Some(digest) => Ok(digest),
            None => sha256_file(&path),
        }));
        let out_dir = if dry { None } else { cfg.out.as_ref() };
        let mut files = Vec::new();

        // Plugins first: a bad plugin file is reported before a long read.
        let mut loaded = Vec::new();
        let (mut preprocessors, mut metric_plugins, mut stop_plugins) = (Vec::new(), Vec::new(), Vec::new());
        if !cfg.plugins.is_empty() {
            let host = PluginHost::new(cfg.sandbox.clone())?;
            for path in &cfg.plugins {
                let plugin = host.load(path)?;
                if loaded.iter().any(|l: &LoadedPlugin| l.info.name == plugin.info().name) {
                    return Err(Error::Config(format!("two plugins are named '{}' ({}): names must be unique in a run", plugin.info().name, path.display())));
                }
                loaded.push(LoadedPlugin { info: plugin.info().clone(), digest: plugin.digest().to_string(), load: plugin.load_stats() });
                match plugin.kind() {
                    PluginKind::Preprocessor | PluginKind::Metric if kube_cfg.is_some() => {
                        return Err(Error::Config(format!(
                            "plugin '{}' is a {}: with the Kubernetes executor only stopping-rule plugins are supported for now (they run here, on the scores the trial pods log)",
                            plugin.info().name,
                            plugin.kind()
                        )))
                    }
                    PluginKind::Preprocessor => preprocessors.push(PreprocessorPlugin::new(plugin)?),
                    PluginKind::Metric => metric_plugins.push(MetricPlugin::new(plugin)?),
                    PluginKind::StoppingRule => stop_plugins.push(StoppingPlugin::new(plugin)?),
                }
            }
        }

        // Ingest and profile.
        let Ingested { profile, table, target: prepared_target, task, features, n_rows } =
            ingest(&cfg.data, frame, &cfg.target, cfg.task, &cfg.na_values)?;
        // Output only once the data is known good: a bad file leaves nothing behind.
        if let Some(out) = out_dir {
            std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        }
        let experiment_id = resume.map_or_else(new_experiment_id, |r| r.experiment.clone());
        let mut journal = match (out_dir, resume) {
            (Some(out), None) => {
                let mut j = Journal::create(out)?;
                let config = serde_json::to_value(cfg).map_err(|e| Error::Config(format!("cannot record the settings: {e}")))?;
                j.write(&Entry::Start { version: journal::JOURNAL_VERSION, experiment: experiment_id.clone(), config })?;
                j.write(&Entry::Session { spent_s: 0.0 })?;
                files.push(j.path().to_path_buf());
                Some(j)
            }
            (Some(out), Some(r)) => {
                let mut j = Journal::append(out)?;
                j.write(&Entry::Session { spent_s: r.spent_s })?;
                files.push(j.path().to_path_buf());
                Some(j)
            }
            (None, _) => None,
        };
        if let Some(out) = out_dir {
            let p = out.join("profile.json");
            write_json(&p, &profile)?;
            files.push(p);
        }
        observer.on_profile(&profile);
        let metric_name = cfg.metric.clone().unwrap_or_else(|| BuiltinMetric::default_for(task).name().to_string());
        let metric: Arc<dyn Metric> = match metric_plugins.iter().find(|m| m.name() == metric_name) {
            Some(plugin) => Arc::new(plugin.clone()),
            None => match BuiltinMetric::from_name(&metric_name) {
                Ok(m) => Arc::new(m),
                Err(_) => {
                    return Err(Error::Core(automl_core::Error::Unknown {
                        what: "metric",
                        name: metric_name.clone(),
                        known: BuiltinMetric::ALL.iter().map(|m| m.name().to_string()).chain(metric_plugins.iter().map(|m| m.name().to_string())).collect(),
                    }))
                }
            },
        };
        if !metric.supports(task) {
            return Err(Error::Config(format!("metric '{metric_name}' does not apply to a {task} task")));
        }
        let direction = metric.direction();
        // The other metric plugins are scored on every trial's validation predictions and
        // shown beside the objective in the leaderboard.
        let extra_metrics: Arc<Vec<Arc<dyn Metric>>> = Arc::new(
            metric_plugins.iter().filter(|m| m.name() != metric_name && m.supports(task)).map(|m| Arc::new(m.clone()) as Arc<dyn Metric>).collect(),
        );
        let plan = cfg.validation.unwrap_or_else(|| ValidationPlan::auto(n_rows));
        let splits = make_splits(&plan, &prepared_target, cfg.seed)?;
        let data = Arc::new(ExperimentData::new(table, prepared_target.clone(), task, features, splits).with_preprocessors(preprocessors));

        // Learners.
        let pool = all_learners();
        let chosen: Vec<&dyn Learner> = match &cfg.learners {
            Some(names) => {
                let mut v = Vec::new();
                for n in names {
                    let l = pool.iter().find(|l| l.name() == n).ok_or_else(|| Error::Config(format!("unknown learner '{n}'")))?;
                    if !l.supports(task) {
                        return Err(Error::Config(format!("learner '{n}' does not support {task} tasks")));
                    }
                    v.push(l.as_ref());
                }
                v
            }
            None => pool.iter().filter(|l| l.supports(task)).map(|l| l.as_ref()).collect(),
        };
        let shape = data.shape();
        let mut strategy = LearnerSearch::new(&chosen, task, shape, cfg.sampler, cfg.seed);
        let monitor = Arc::new(Monitor {
            // From the second step: one fold of a small data set is too noisy to judge on.
            rule: cfg.early_stopping.then(|| match cfg.stopping_rule {
                BuiltinRule::Median => Box::new(MedianStop { min_trials: 3, start_step: 2 }) as Box<dyn StoppingRule>,
                BuiltinRule::NoImprovement => Box::new(NoImprovement::default()),
                BuiltinRule::Overfitting => Box::new(Overfitting::default()),
            }),
            direction,
            running: Mutex::new(Default::default()),
            running_train: Mutex::new(Default::default()),
            wants_train: cfg.early_stopping && cfg.stopping_rule == BuiltinRule::Overfitting,
            completed: Mutex::new(Default::default()),
            cancel: AtomicBool::new(false),
            abandoned: Mutex::new(Default::default()),
            plugin_rules: stop_plugins.clone(),
            running_raw: Mutex::new(Default::default()),
            finished_raw: Mutex::new(Default::default()),
            rule_errors: Mutex::new(Default::default()),
            stopped_by: Mutex::new(Default::default()),
        });
        let mut run_rules: Vec<StoppingPlugin> = stop_plugins;
        let mut history: Vec<TrialSummary> = Vec::new();
        let mut notes: Vec<String> = Vec::new();

        // Search.
        let data_ref = DataRef { path: cfg.data.clone(), target: cfg.target.clone(), task, na_values: cfg.na_values.clone(), sha256: None };
        let (tx, rx) = mpsc::channel::<TrialEvent>();
        // The digest is needed now by remote trials (they check their copy of the data).
        let mut data_sha256: Option<String> = None;
        if kube_cfg.is_some() {
            data_sha256 = hasher.take().and_then(|h| h.join().ok()).and_then(|h| h.ok());
        }
        let executor = match &kube_cfg {
            None => None,
            Some(_) if dry => None,
            Some(k) => {
                let tx = Mutex::new(tx.clone());
                let sink = move |event: kexec::Event| {
                    let event = match event {
                        kexec::Event::Finished(r) => TrialEvent::Finished(r),
                        kexec::Event::Dispatched { trial, job, .. } => TrialEvent::Dispatched { trial, job },
                    };
                    let _ = lock(&tx).send(event);
                };
                Some(KubernetesExecutor::connect(k.clone(), &experiment_id, sink)?)
            }
        };
        let remote_data = DataRef {
            path: kube_cfg.as_ref().map_or_else(|| cfg.data.clone(), |k| PathBuf::from(manifest::data_location(k, &cfg.data))),
            sha256: data_sha256.clone(),
            ..data_ref.clone()
        };
        let make_spec = |id: u64, suggestion: &Suggestion, limit: Option<f64>| TrialSpec {
            id,
            learner: suggestion.learner.clone(),
            config: suggestion.config.clone(),
            metric: metric_name.clone(),
            validation: plan,
            seed: cfg.seed.wrapping_mul(1_000_003).wrapping_add(id),
            split_seed: cfg.seed,
            time_limit_s: limit,
            data: if kube_cfg.is_some() { remote_data.clone() } else { data_ref.clone() },
            train_scores: monitor.wants_train(),
        };
        if let (Some(jobs), Some(k)) = (dry_jobs.as_mut(), &kube_cfg) {
            let namespace = k.namespace.clone().unwrap_or_else(|| "default".to_string());
            let first = cfg.concurrency.min(cfg.max_trials.unwrap_or(usize::MAX)) as u64;
            for id in 1..=first {
                let Some(suggestion) = strategy.ask(&AskContext::default()) else { break };
                let limit = cfg.trial_time_limit.or(time_budget.map(|t| t / 3.0));
                jobs.push(manifest::builtin_job(k, &namespace, &experiment_id, &make_spec(id, &suggestion, limit)));
            }
            return Ok(None);
        }
        // Starts a trial: a thread here, or a Job (created, or adopted after a restart).
        let launch = |spec: TrialSpec, adopt_only: bool| -> Result<()> {
            match &executor {
                Some(ex) => {
                    let job = manifest::builtin_job(ex.config(), ex.namespace(), &experiment_id, &spec);
                    let launch = kexec::Launch { id: spec.id, learner: spec.learner.clone(), config: spec.config.clone(), objective: metric_name.clone(), job, adopt_only };
                    ex.launch(launch, Arc::clone(&monitor) as Arc<dyn TrialMonitor>);
                    Ok(())
                }
                None => {
                    let (tx, data, monitor, metric, extra) = (tx.clone(), Arc::clone(&data), Arc::clone(&monitor), Arc::clone(&metric), Arc::clone(&extra_metrics));
                    std::thread::Builder::new()
                        .name(format!("trial-{}", spec.id))
                        .stack_size(64 << 20)
                        .spawn(move || {
                            let result = evaluate(&spec, &data, metric.as_ref(), &extra, monitor.as_ref());
                            let _ = tx.send(TrialEvent::Finished(result));
                        })
                        .map(|_| ())
                        .map_err(|e| Error::Config(format!("cannot start a trial thread: {e}")))
                }
            }
        };
        // Pods take a while to be scheduled and pulled: a Job's trial gets that on top.
        let grace = TRIAL_GRACE_S + kube_cfg.as_ref().map_or(0.0, |k| k.startup_allowance_s as f64);
        let mut running: std::collections::HashMap<u64, (Suggestion, Instant, Option<f64>)> = Default::default();
        let mut results: Vec<TrialResult> = Vec::new();
        let mut best: Option<TrialResult> = None;
        let mut since_improvement = 0usize;
        let mut next_id = 1u64;
        let mut stop: Option<StopReason> = None;
        let mut first_trial_s = None;
        // Time kept back for the final refit; refined from the best trial's fit time.
        let budget = time_budget.unwrap_or(f64::INFINITY);
        let mut reserve = (0.05 * budget).min(2.0);
        let fold_share = data.splits[0].train.len() as f64 / n_rows as f64;
        let jsonl = out_dir.map(|o| o.join("trials.jsonl"));
        if let Some(j) = &jsonl {
            if resume.is_none() {
                std::fs::write(j, b"").map_err(|e| Error::io(j, e))?;
            }
            files.push(j.clone());
        }
        // A resumed run: the strategy learns what was tried; finished trials are recorded
        // below like new ones (without writing them again); unfinished ones are adopted.
        let mut replayed: Vec<(Suggestion, TrialResult)> = Vec::new();
        if let Some(r) = resume {
            for (id, suggestion, job, result) in &r.trials {
                next_id = next_id.max(id + 1);
                match result {
                    Some(res) => {
                        let loss = match (res.status, res.score) {
                            (TrialStatus::Ok | TrialStatus::EarlyStopped, Some(sc)) => Some(direction.to_loss(sc)),
                            _ => None,
                        };
                        strategy.replay(suggestion, Some((loss, res.fit_time_s)));
                        replayed.push((suggestion.clone(), res.clone()));
                    }
                    None => {
                        strategy.replay(suggestion, None);
                        let limit = cfg.trial_time_limit.or(time_budget.map(|t| t.min(budget / 3.0).max(t.min(1.0))));
                        running.insert(*id, (suggestion.clone(), Instant::now(), limit));
                        launch(make_spec(*id, suggestion, limit), job.is_some())?;
                    }
                }
            }
            if r.torn_tail {
                notes.push("the journal's last line was torn by the crash and was ignored".into());
            }
        }
        loop {
            let search_deadline = deadline.map(|d| d.checked_sub(Duration::from_secs_f64(reserve)).unwrap_or(start));
            if cfg.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                stop.get_or_insert(StopReason::Interrupted);
            }
            while stop.is_none() && running.len() < cfg.concurrency {
                if cfg.max_trials.is_some_and(|m| next_id as usize > m) {
                    stop = Some(StopReason::MaxTrials);
                    break;
                }
                let time_left = search_deadline.map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
                if time_left.is_some_and(|t| t <= 0.0) {
                    stop = Some(StopReason::TimeBudget);
                    break;
                }
                let Some(suggestion) = strategy.ask(&AskContext { time_left }) else {
                    if running.is_empty() {
                        // Nothing fits in the time left, or nothing is left at all.
                        let fits_without_deadline = time_left.is_some() && strategy.ask(&AskContext::default()).is_some();
                        stop = Some(if fits_without_deadline { StopReason::TimeBudget } else { StopReason::SearchExhausted });
                    }
                    break;
                };
                let limit = match (cfg.trial_time_limit, time_left) {
                    (Some(l), Some(t)) => Some(l.min(t)),
                    (Some(l), None) => Some(l),
                    (None, Some(t)) => Some(t.min(budget / 3.0).max(t.min(1.0))),
                    (None, None) => None,
                };
                let spec = make_spec(next_id, &suggestion, limit);
                next_id += 1;
                // Journaled before it starts: a restart then knows the trial exists.
                if let Some(j) = journal.as_mut() {
                    j.write(&Entry::Suggested { trial: spec.id, suggestion: suggestion.clone() })?;
                }
                running.insert(spec.id, (suggestion.clone(), Instant::now(), limit));
                launch(spec, false)?;
            }
            if running.is_empty() && replayed.is_empty() {
                break;
            }
            // Wake at the budget's end or when a trial overruns its own limit.
            let overdue_at = running.values().filter_map(|(_, started, limit)| limit.map(|l| *started + Duration::from_secs_f64(l + TRIAL_GRACE_S))).min();
            let wake = match (search_deadline, overdue_at) {
                (Some(d), Some(o)) => Some(d.min(o)),
                (d, o) => d.or(o),
            };
            let mut wait = wake.map_or(Duration::from_secs(3600), |w| w.saturating_duration_since(Instant::now()));
            if cfg.cancel.is_some() {
                wait = wait.min(Duration::from_millis(50));
            }
            // Trials that ended: finished ones from the channel, or abandoned ones (past
            // their own limit, or still running when the budget ran out). All are recorded
            // the same way below.
            let mut ended: Vec<(Suggestion, TrialResult, bool)> = Vec::new();
            let mut budget_spent = false;
            let mut from_journal = false;
            let event = if replayed.is_empty() {
                rx.recv_timeout(wait)
            } else {
                from_journal = true;
                ended.extend(replayed.drain(..).map(|(s, r)| (s, r, true)));
                Err(mpsc::RecvTimeoutError::Timeout)
            };
            match event {
                _ if from_journal => {}
                Ok(TrialEvent::Dispatched { trial, job }) => {
                    if let Some(j) = journal.as_mut() {
                        j.write(&Entry::Dispatched { trial, job })?;
                    }
                }
                Ok(TrialEvent::Finished(result)) => {
                    // An abandoned trial finishing late was recorded when it was abandoned.
                    if let Some((suggestion, _, _)) = running.remove(&result.id) {
                        ended.push((suggestion, result, true));
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let interrupted = cfg.cancel.as_ref().is_some_and(|c| c.is_cancelled());
                    if interrupted {
                        stop.get_or_insert(StopReason::Interrupted);
                    }
                    budget_spent = interrupted || search_deadline.is_some_and(|d| now >= d);
                    // linfa fits cannot be interrupted: an abandoned trial is told to stop at
                    // its next report, and its thread may run on until its fit returns.
                    let abandon: Vec<u64> = running
                        .iter()
                        .filter(|(_, (_, started, limit))| budget_spent || limit.is_some_and(|l| now >= *started + Duration::from_secs_f64(l + grace)))
                        .map(|(id, _)| *id)
                        .collect();
                    for id in abandon {
                        if let Some((s, started, limit)) = running.remove(&id) {
                            monitor.abandoned.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
                            if let Some(ex) = &executor {
                                ex.abandon(id);
                            }
                            let why = if interrupted {
                                "still running when the run was interrupted".to_string()
                            } else if budget_spent { "still running when the time budget ran out".to_string() } else { format!("exceeded its time limit of {:.1} s", limit.unwrap_or(0.0)) };
                            ended.push((s.clone(), abandoned_result(id, s, started, why), false));
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            for (suggestion, mut result, finished) in ended {
                if let Some(e) = lock(&monitor.rule_errors).remove(&result.id) {
                    result.status = TrialStatus::Failed;
                    result.score = None;
                    result.message = Some(e);
                } else if let Some(why) = lock(&monitor.stopped_by).remove(&result.id) {
                    if result.status == TrialStatus::EarlyStopped {
                        // Name the rule, keeping the rest ("after 2 of 5 folds", notes).
                        result.message = Some(match result.message.take() {
                            Some(m) => match m.strip_prefix(crate::trial::STOPPED_BY_RULE) {
                                Some(rest) => format!("{why}{rest}"),
                                None => format!("{why}; {m}"),
                            },
                            None => why,
                        });
                    }
                }
                if let Some(raw) = lock(&monitor.running_raw).remove(&result.id) {
                    if matches!(result.status, TrialStatus::Ok | TrialStatus::EarlyStopped) {
                        lock(&monitor.finished_raw).push((result.id, result.learner.clone(), raw));
                    }
                }
                if finished {
                    first_trial_s.get_or_insert(start.elapsed().as_secs_f64());
                }
                let loss = match (result.status, result.score) {
                    (TrialStatus::Ok | TrialStatus::EarlyStopped, Some(s)) => Some(direction.to_loss(s)),
                    _ => None,
                };
                if !from_journal {
                    strategy.tell(&suggestion, loss, result.fit_time_s);
                }
                {
                    let curve: Vec<(usize, f64)> = result.curve.iter().map(|&(s, v)| (s, direction.to_loss(v))).collect();
                    monitor.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&result.id);
                    lock(&monitor.running_train).remove(&result.id);
                    if matches!(result.status, TrialStatus::Ok | TrialStatus::EarlyStopped) && !curve.is_empty() {
                        monitor.completed.lock().unwrap_or_else(|p| p.into_inner()).entry(result.learner.clone()).or_default().push(curve);
                    }
                }
                let improved = result.status == TrialStatus::Ok
                    && result.score.is_some_and(|s| best.as_ref().and_then(|b| b.score).is_none_or(|b| direction.better(s, b)));
                if improved {
                    since_improvement = 0;
                    best = Some(result.clone());
                    // Refit on all rows costs about the per-fold time scaled by rows.
                    let per_fold = result.fit_time_s / result.fold_scores.len().max(1) as f64;
                    reserve = (per_fold / fold_share * 1.5 + 0.2).clamp(0.05 * budget.min(40.0), 0.3 * budget);
                } else {
                    since_improvement += 1;
                }
                if !from_journal {
                    // Journaled before anything else uses it.
                    if let Some(j) = journal.as_mut() {
                        j.write(&Entry::Finished { result: result.clone(), elapsed_s: spent_before + start.elapsed().as_secs_f64() })?;
                    }
                    if let Some(j) = &jsonl {
                        append_line(j, &result)?;
                    }
                }
                results.push(result);
                observer.on_trial(results.last().expect("just pushed"), best.as_ref(), start.elapsed());
                if let (Some(target), Some(b)) = (cfg.target_score, best.as_ref().and_then(|b| b.score)) {
                    if !direction.better(target, b) {
                        stop.get_or_insert(StopReason::TargetScore);
                    }
                }
                if cfg.patience.is_some_and(|p| since_improvement >= p) {
                    stop.get_or_insert(StopReason::Patience);
                }
                if !run_rules.is_empty() {
                    let last = results.last().expect("just pushed");
                    history.push(TrialSummary { trial: last.id, learner: last.learner.clone(), score: last.score, finished_s: start.elapsed().as_secs_f64() });
                    let mut failed = Vec::new();
                    for (i, rule) in run_rules.iter().enumerate() {
                        match rule.judge_run(&history, direction == Direction::Maximize) {
                            Ok(Verdict::Proceed) => {}
                            Ok(Verdict::Stop) => {
                                if stop.is_none() {
                                    notes.push(format!("the '{}' plugin rule ended the run after trial {}", rule.name(), last.id));
                                }
                                stop.get_or_insert(StopReason::StoppingRule);
                            }
                            Err(e) => {
                                notes.push(format!("{e}; its run-level rule was switched off after trial {}", last.id));
                                failed.push(i);
                            }
                        }
                    }
                    for i in failed.into_iter().rev() {
                        run_rules.remove(i);
                    }
                }
            }
            if budget_spent {
                monitor.cancel.store(true, Ordering::Relaxed);
                stop.get_or_insert(StopReason::TimeBudget);
                break;
            }
        }
        monitor.cancel.store(true, Ordering::Relaxed);
        if let Some(ex) = &executor {
            // Interrupted or out of budget: what still runs on the cluster is stopped.
            let keep = kube_cfg.as_ref().is_some_and(|k| k.keep_jobs);
            let still_running = ex.running().len();
            match ex.shutdown(keep) {
                Ok(0) => {}
                Ok(n) => notes.push(format!("deleted {n} running trial Job(s) of experiment {experiment_id}")),
                Err(e) => notes.push(format!("could not delete the running trial Jobs: {e}")),
            }
            if keep && still_running > 0 {
                notes.push(format!("--keep-jobs: {still_running} trial Job(s) left running (label {}={experiment_id})", crate::kubernetes::labels::EXPERIMENT));
            }
        }
        if let Some(j) = journal.as_mut() {
            j.write(&Entry::Ended { stop_reason: format!("{:?}", stop.unwrap_or(StopReason::SearchExhausted)) })?;
        }
        let search_s = start.elapsed().as_secs_f64();
        let leaderboard = report::rank(results, direction);
        if let Some(out) = &cfg.out {
            let p = out.join("leaderboard.csv");
            report::write_leaderboard(&p, &leaderboard, &metric_name)?;
            files.push(p);
        }
        if best.is_none() {
            let failed: Vec<String> = leaderboard.iter().filter_map(|t| t.message.as_ref().map(|m| format!("trial {} {}: {m}", t.id, t.learner))).take(5).collect();
            return Err(Error::NoSuccessfulTrial { count: leaderboard.len(), reasons: failed });
        }

        // Refit the best configurations on all rows, falling back to the next if one fails.
        let refit_start = Instant::now();
        let all_rows: Vec<usize> = (0..n_rows).collect();
        let mut chosen_model = None;
        let mut last_error = None;
        for candidate in leaderboard.iter().filter(|t| t.status == TrialStatus::Ok).take(3) {
            observer.on_refit(candidate);
            match refit(candidate, &data, &all_rows, deadline, cfg.seed) {
                Ok((pipeline, model, stored)) => {
                    chosen_model = Some((candidate.clone(), pipeline, model, stored));
                    break;
                }
                Err(e) => last_error = Some(format!("refit of trial {} ({}) failed: {e}", candidate.id, candidate.learner)),
            }
        }
        let Some((best, pipeline, model, preprocessors)) = chosen_model else {
            return Err(Error::NoSuccessfulTrial { count: leaderboard.len(), reasons: last_error.into_iter().collect() });
        };
        let refit_s = refit_start.elapsed().as_secs_f64();
        let labels = match &prepared_target {
            Target::Classes { labels, .. } => labels.clone(),
            Target::Values(_) => Vec::new(),
        };
        let artifact = ModelArtifact {
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            target: cfg.target.clone(),
            task,
            labels,
            na_values: cfg.na_values.clone(),
            preprocessors,
            pipeline,
            model,
            learner: best.learner.clone(),
            config: best.config.clone(),
            metric: metric_name.clone(),
            validation_score: best.score.unwrap_or(f64::NAN),
            seed: cfg.seed,
            data_sha256: match data_sha256 {
                Some(d) => d,
                None => hasher.take().and_then(|h| h.join().ok()).and_then(|h| h.ok()).unwrap_or_default(),
            },
            rows: n_rows,
        };
        if let Some(out) = &cfg.out {
            let p = out.join("model.automl");
            artifact.save(&p)?;
            files.push(p);
        }
        Ok(Some(ExperimentResult {
            profile,
            metric: metric_name,
            direction,
            validation: plan,
            leaderboard,
            best,
            artifact,
            stop_reason: stop.unwrap_or(StopReason::SearchExhausted),
            search_s,
            refit_s,
            elapsed_s: start.elapsed().as_secs_f64(),
            first_trial_s,
            files,
            notes,
            plugins: loaded,
        }))
    }
}

/// Seconds a trial may overrun its limit before it is abandoned.
const TRIAL_GRACE_S: f64 = 1.0;

fn abandoned_result(id: u64, s: Suggestion, started: Instant, message: String) -> TrialResult {
    TrialResult::ended(id, s.learner, s.config, TrialStatus::TimedOut, started.elapsed().as_secs_f64(), Some(message))
}

fn refit(best: &TrialResult, data: &ExperimentData, rows: &[usize], deadline: Option<Instant>, seed: u64) -> Result<(Pipeline, automl_core::learners::FittedModel, Vec<crate::plugins::StoredPreprocessor>)> {
    let learner = learner_by_name(&best.learner)?;
    let prepared = (!data.preprocessors.is_empty()).then(|| apply_preprocessors(&data.preprocessors, &data.table, &data.features, rows)).transpose()?;
    let (table, features) = match &prepared {
        Some(p) => (&p.table, &p.features),
        None => (&data.table, &data.features),
    };
    let pipeline = Pipeline::fit(table, rows, features, learner.encoding())?;
    let x = pipeline.transform(table, Some(rows))?;
    let mut ctx = FitContext::new(seed);
    ctx.deadline = deadline;
    ctx.categorical = pipeline.categorical();
    let model = fit_guarded(learner.as_ref(), &best.config, x.view(), &data.target, &mut ctx)?;
    Ok((pipeline, model, prepared.map(|p| p.stored).unwrap_or_default()))
}

pub use crate::trial::MIN_ROWS;

/// Digest of an in-memory table's names and values, standing in for a file's digest.
fn sha256_table(table: &Table) -> String {
    let mut h = Sha256::new();
    for (name, column) in table.names.iter().zip(&table.columns) {
        h.update(name.as_bytes());
        h.update([0u8]);
        match column {
            // The same bytes as each value's `to_le_bytes`, in one call on little-endian hosts.
            Column::Numeric(v) if cfg!(target_endian = "little") => h.update(bytemuck::cast_slice::<f64, u8>(v)),
            Column::Numeric(v) => v.iter().for_each(|x| h.update(x.to_le_bytes())),
            Column::Datetime(v) => v.iter().for_each(|x| h.update(x.unwrap_or(i64::MIN).to_le_bytes())),
            Column::Str(s) => {
                s.codes.iter().for_each(|c| h.update(c.to_le_bytes()));
                s.levels.iter().for_each(|l| {
                    h.update(l.as_bytes());
                    h.update([0u8]);
                });
            }
        }
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Config(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
}

fn append_line(path: &Path, result: &TrialResult) -> Result<()> {
    let line = report::trial_json(result).to_string();
    let mut f = std::fs::OpenOptions::new().append(true).open(path).map_err(|e| Error::io(path, e))?;
    writeln!(f, "{line}").map_err(|e| Error::io(path, e))
}

/// A short id for a new experiment (it names and labels its Jobs): 8 hex digits from the
/// clock and the process id.
pub(crate) fn new_experiment_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect()
}
