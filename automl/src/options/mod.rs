//! An experiment's options, resolved in one place. The CLI, the Python bindings and the
//! custom-trial spec each hand their inputs to [`RawOptions`] (everything optional, as a
//! user gives it); [`RawOptions::resolve`] applies the defaults, written once here, and
//! [`ExperimentOptions::validate`] checks every value, with the same messages for all of
//! them. The Rust builder ([`crate::ExperimentBuilder`]) sets resolved options directly
//! and is checked by the same `validate`.
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use automl_core::data::Table;
use automl_core::learners::learner_by_name;
use automl_core::metrics::BuiltinMetric;
use automl_core::task::TaskChoice;
use automl_core::validation::ValidationPlan;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::search::Sampler;
use crate::stopping::BuiltinRule;

pub mod kubernetes;
mod raw;
pub mod sandbox;

pub use kubernetes::{DataSource, KubernetesOptions, Owner, PreparedStore, Toleration, DATA_MOUNT, DEFAULT_IMAGE, PREPARED_MOUNT};
pub use raw::{parse_delimiter, Labels, RawKubernetes, RawOptions};
pub use sandbox::SandboxPolicy;

/// The time budget when none is given, in seconds.
pub const DEFAULT_TIME_BUDGET_S: f64 = 60.0;

/// Longest duration any option may ask for (about 31 years): larger values are typos.
pub const MAX_SECONDS: f64 = 1e9;

/// Everything that defines an experiment. All but the in-memory parts (`frame`, `cancel`)
/// is written to the journal, so `automl resume` runs with the same settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentOptions {
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
    /// Stop after this many finished trials without a new best.
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
    /// The CSV field separator; `None` reads `,` unless the header shows another.
    pub delimiter: Option<u8>,
    /// Output folder; nothing is written when `None`.
    pub out: Option<PathBuf>,
    /// Replace a run already recorded in `out` (otherwise it is refused).
    pub force: bool,
    /// Seconds one trial may take; by default a third of the budget.
    pub trial_time_limit: Option<f64>,
    /// How configurations are drawn within a learner.
    pub sampler: Sampler,
    /// Stop poor trials early with `stopping_rule`.
    pub early_stopping: bool,
    /// The built-in early-stopping rule (median by default).
    pub stopping_rule: BuiltinRule,
    /// Build a weighted ensemble of the best trials when it beats the best one alone.
    #[serde(default = "yes")]
    pub ensemble: bool,
    /// Refit the model's configurations on all rows, or bag their split models.
    #[serde(default)]
    pub final_fit: crate::bagging::FinalFit,
    /// Configurations to try first, in order, before the learners' own starts (a warm
    /// start, as FLAML's `starting_points`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starting_points: Vec<crate::search::Suggestion>,
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
    pub sandbox: SandboxPolicy,
    /// Where trials run.
    #[serde(default)]
    pub executor: ExecutorKind,
    /// How trials run on the cluster, with the Kubernetes executor.
    #[serde(default)]
    pub kubernetes: KubernetesOptions,
}

/// Where trials run: the `--executor` option, Python's `executor=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Threads in this process.
    #[default]
    Local,
    /// One `batch/v1` Job per trial on the cluster of the inferred kubeconfig.
    Kubernetes,
}

impl std::str::FromStr for ExecutorKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "local" => Ok(ExecutorKind::Local),
            "kubernetes" => Ok(ExecutorKind::Kubernetes),
            other => Err(format!("unknown executor '{other}'; known: local, kubernetes")),
        }
    }
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

/// What ends a search, built-in or custom: the part of the options the scheduling loop
/// reads.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    /// Seconds for the whole run. `None`: no time limit.
    pub time_budget: Option<f64>,
    /// Most trials.
    pub max_trials: Option<usize>,
    /// Stop once a trial reaches this score.
    pub target_score: Option<f64>,
    /// Stop after this many finished trials without a new best.
    pub patience: Option<usize>,
    /// Trials at once.
    pub concurrency: usize,
    /// Seconds one trial may take; by default a third of the budget.
    pub trial_time_limit: Option<f64>,
    /// Stops the search from outside.
    pub cancel: Option<CancelToken>,
}

/// The time limit of a built-in trial in a run without a time budget or a
/// `--trial-time-limit`.
pub const STUCK_TRIAL_S: f64 = 3600.0;

impl Budgets {
    /// A trial's time limit when `time_left` seconds of this session's `budget_s` remain:
    /// the given limit, else a third of the budget (at least a second, at most what is
    /// left).
    pub fn trial_limit(&self, budget_s: Option<f64>, time_left: Option<f64>) -> Option<f64> {
        let budget = budget_s.unwrap_or(f64::INFINITY);
        match (self.trial_time_limit, time_left) {
            (Some(l), Some(t)) => Some(l.min(t)),
            (Some(l), None) => Some(l),
            (None, Some(t)) => Some(t.min(budget / 3.0).max(t.min(1.0))),
            (None, None) => None,
        }
    }

    /// The trials a run starts at once, and their time limit: what `--dry-run` shows.
    pub fn first_wave(&self) -> (u64, Option<f64>) {
        let n = self.concurrency.min(self.max_trials.unwrap_or(usize::MAX)) as u64;
        (n, self.trial_limit(self.time_budget, self.time_budget))
    }

    /// Checks the budgets: durations finite and in range, counts at least 1, and at least
    /// one way for the search to end.
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.time_budget {
            check_seconds("--time-budget (time_budget)", t, false)?;
        }
        if let Some(t) = self.trial_time_limit {
            check_seconds("--trial-time-limit (trial_time_limit)", t, false)?;
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
        if self.target_score.is_some_and(|s| !s.is_finite()) {
            return Err(Error::Config("--target-score must be a finite number".into()));
        }
        Ok(())
    }
}

/// Checks a number of seconds given for option `name`: finite, positive (or zero when
/// `zero_ok`) and at most [`MAX_SECONDS`].
pub fn check_seconds(name: &str, value: f64, zero_ok: bool) -> Result<()> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value <= MAX_SECONDS;
    if ok {
        return Ok(());
    }
    let what = if zero_ok { "a number of seconds >= 0" } else { "a positive number of seconds" };
    Err(Error::Config(format!("{name} must be {what} (at most {MAX_SECONDS:e}), got {value}")))
}

/// A [`std::time::Duration`] from seconds given for option `name`, checked like
/// [`check_seconds`] (never a panic on a negative, NaN or huge value).
pub fn duration(name: &str, seconds: f64) -> Result<std::time::Duration> {
    check_seconds(name, seconds, false)?;
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| Error::Config(format!("{name}: {e}")))
}

impl ExperimentOptions {
    /// Options with defaults: a 60 s budget, concurrency = cores, TPE, median stopping.
    pub fn new(data: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        ExperimentOptions {
            data: data.into(),
            target: target.into(),
            task: TaskChoice::Auto,
            metric: None,
            time_budget: Some(DEFAULT_TIME_BUDGET_S),
            max_trials: None,
            target_score: None,
            patience: None,
            validation: None,
            concurrency: default_concurrency(),
            learners: None,
            seed: 0,
            na_values: Vec::new(),
            delimiter: None,
            out: None,
            force: false,
            trial_time_limit: None,
            sampler: Sampler::Tpe,
            early_stopping: true,
            stopping_rule: BuiltinRule::Median,
            ensemble: true,
            final_fit: crate::bagging::FinalFit::Auto,
            starting_points: Vec::new(),
            frame: None,
            cancel: None,
            plugins: Vec::new(),
            sandbox: SandboxPolicy::default(),
            executor: ExecutorKind::Local,
            kubernetes: KubernetesOptions::default(),
        }
    }

    /// The budgets the scheduling loop reads.
    pub fn budgets(&self) -> Budgets {
        Budgets {
            time_budget: self.time_budget,
            max_trials: self.max_trials,
            target_score: self.target_score,
            patience: self.patience,
            concurrency: self.concurrency,
            // Without a time budget, a stuck trial (a fit that never returns) would keep the
            // run from ending: it is given up after an hour unless a limit is given.
            trial_time_limit: self.trial_time_limit.or(self.time_budget.is_none().then_some(STUCK_TRIAL_S)),
            cancel: self.cancel.clone(),
        }
    }

    /// Whether trials also score their training rows: only the overfitting rule reads them.
    pub fn wants_train_scores(&self) -> bool {
        self.early_stopping && self.stopping_rule == BuiltinRule::Overfitting
    }

    /// Checks every setting that needs no data.
    pub fn validate(&self) -> Result<()> {
        self.budgets().validate()?;
        if let Some(m) = &self.metric {
            // A metric plugin's name is known once the plugins are loaded.
            if self.plugins.is_empty() {
                BuiltinMetric::from_name(m)?;
            }
        }
        for l in self.learners.iter().flatten() {
            learner_by_name(l)?;
        }
        self.sandbox.validate()?;
        if self.executor == ExecutorKind::Kubernetes {
            self.kubernetes.validate()?;
            if self.frame.is_some() {
                return Err(Error::Config("the Kubernetes executor needs the data as a file that trial pods can read (a PVC or a URL), not an in-memory table".into()));
            }
        }
        Ok(())
    }
}

/// Trials at once by default: one per core.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn yes() -> bool {
    true
}
