//! The public entry points: [`Experiment`] (built-in trials on a CSV or a table, with its
//! builder) and [`CustomExperiment`] (the user's own training image, `automl run
//! --spec`), each new or resumed from its journal ([`resume`]). They hold resolved
//! options; the work is the runner's.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use automl_core::data::Table;
use automl_core::task::TaskChoice;
use automl_core::validation::ValidationPlan;

use crate::error::{Error, Result};
use crate::journal::{self, JournalState};
use crate::options::{CancelToken, ExperimentOptions, SandboxPolicy};
use crate::outcome::{ExperimentResult, Observer, Silent};
use crate::runner;
use crate::search::Sampler;
use crate::stopping::BuiltinRule;

/// Builder over [`ExperimentOptions`]: the Rust API in a few lines; `build` checks the
/// options like every other way in.
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
    options: ExperimentOptions,
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty => $field:ident $(, $wrap:ident)?;)*) => {$(
        #[$doc]
        pub fn $name(mut self, value: $ty) -> Self {
            self.options.$field = setter!(@wrap value $(, $wrap)?);
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
        /// A weighted ensemble of the best trials when it beats the best alone (default on).
        ensemble: bool => ensemble;
        /// Refit on all rows, bag the split models, or auto (bag under k-fold, else refit).
        final_fit: crate::bagging::FinalFit => final_fit;
    }

    /// No time budget (then another budget must be set).
    pub fn no_time_budget(mut self) -> Self {
        self.options.time_budget = None;
        self
    }
    /// Restricts the search to these learners.
    pub fn learners<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.options.learners = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }
    /// Uses rows already in memory instead of reading the data file; `name` stands for
    /// them in messages.
    pub fn frame(mut self, table: Table) -> Self {
        self.options.frame = Some(Arc::new(table));
        self
    }
    /// Adds a WebAssembly plugin.
    pub fn plugin(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.plugins.push(path.into());
        self
    }
    /// Sandbox settings for plugins.
    pub fn sandbox(mut self, sandbox: SandboxPolicy) -> Self {
        self.options.sandbox = sandbox;
        self
    }
    /// Lets another thread stop the run early (see [`CancelToken`]).
    pub fn cancel_token(mut self, token: CancelToken) -> Self {
        self.options.cancel = Some(token);
        self
    }
    /// Extra strings read as missing.
    pub fn na_values<S: AsRef<str>>(mut self, values: &[S]) -> Self {
        self.options.na_values = values.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }
    /// Checks the settings and builds the experiment.
    pub fn build(self) -> Result<Experiment> {
        Experiment::new(self.options)
    }
}

/// A configured built-in experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    options: ExperimentOptions,
    resume: Option<JournalState>,
}

impl Experiment {
    /// Starts a builder for `data` and `target`.
    pub fn builder(data: impl Into<PathBuf>, target: impl Into<String>) -> ExperimentBuilder {
        ExperimentBuilder { options: ExperimentOptions::new(data, target) }
    }

    /// An experiment from resolved options (see [`crate::options::RawOptions::resolve`]).
    pub fn new(options: ExperimentOptions) -> Result<Self> {
        options.validate()?;
        Ok(Experiment { options, resume: None })
    }

    /// Picks up the built-in experiment whose output folder is `dir` where it stopped (a
    /// crash, a `kill -9`, a lost controller): finished trials are read back from the
    /// journal, trials that were running are re-adopted (Kubernetes: their Jobs are found
    /// by name, never created twice) or run again (local threads died with the process),
    /// and the search goes on with what is left of the budget.
    pub fn resume(dir: &Path) -> Result<Self> {
        match resume(dir)? {
            Resumed::Builtin(e) => Ok(e),
            Resumed::Custom(_) => Err(Error::Config(format!("{}: this is a custom-trial experiment (--spec); resume it with `automl resume`", dir.display()))),
        }
    }

    /// Sets the cancel token (for a resumed experiment).
    pub fn set_cancel(&mut self, token: CancelToken) {
        self.options.cancel = Some(token);
    }

    /// The options.
    pub fn options(&self) -> &ExperimentOptions {
        &self.options
    }

    /// Runs without progress reports.
    pub fn run(&self) -> Result<ExperimentResult> {
        self.run_with(&mut Silent)
    }

    /// Runs, reporting progress to `observer`.
    pub fn run_with(&self, observer: &mut dyn Observer) -> Result<ExperimentResult> {
        runner::run_builtin(&self.options, self.resume.as_ref(), self.options.frame.clone(), observer)
    }

    /// Runs like [`run_with`](Self::run_with), consuming the experiment: an in-memory table
    /// given with [`frame`](ExperimentBuilder::frame) is moved into the run instead of
    /// copied, which saves one copy of the data (what the Python bindings use).
    pub fn into_run_with(mut self, observer: &mut dyn Observer) -> Result<ExperimentResult> {
        let frame: Option<Arc<Table>> = self.options.frame.take();
        runner::run_builtin(&self.options, self.resume.as_ref(), frame, observer)
    }

    /// The Jobs the Kubernetes executor would create first, as YAML, without connecting to
    /// a cluster or writing anything (`--dry-run`).
    pub fn dry_run(&self) -> Result<String> {
        runner::builtin_dry_run(&self.options)
    }
}

/// An experiment read back from its journal by [`resume`].
#[derive(Debug)]
pub enum Resumed {
    /// Built-in trials.
    Builtin(Experiment),
    /// Custom trials.
    Custom(CustomExperiment),
}

/// Reads the journal in `dir` and returns the experiment to continue, with the settings
/// it was started with and what is left of its budget.
pub fn resume(dir: &Path) -> Result<Resumed> {
    let state = journal::read(dir)?;
    if state.ended {
        return Err(Error::Config(format!("{}: this experiment already finished (its journal ends with the search's end); start a new run instead", dir.display())));
    }
    if let Some(custom) = custom_from_journal(&state) {
        let (spec, kubernetes) = custom?;
        return Ok(Resumed::Custom(CustomExperiment { spec, kubernetes, out: dir.to_path_buf(), force: false, cancel: None, resume: Some(state) }));
    }
    let mut options: ExperimentOptions = serde_json::from_value(state.config.clone())
        .map_err(|e| Error::Config(format!("{}: the journal's settings cannot be read by this automl version ({e})", dir.display())))?;
    options.out = Some(dir.to_path_buf());
    // Granted variables are journaled by name: their values are read again here.
    options.sandbox.read_env();
    options.validate()?;
    Ok(Resumed::Builtin(Experiment { options, resume: Some(state) }))
}

/// What a resumed run takes from its journal, for the user to see before it runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reused {
    /// Every setting that decides what runs, in words.
    pub settings: Vec<String>,
    /// Those that grant access or choose the code that runs (sandbox grants, the image,
    /// its command and service account): a folder's journal may have been edited, so
    /// these want the user's confirmation.
    pub to_confirm: Vec<String>,
    /// The trial image, on Kubernetes.
    pub image: Option<String>,
}

impl Resumed {
    /// What this run reuses from its journal.
    pub fn reused(&self) -> Reused {
        let mut r = Reused::default();
        match self {
            Resumed::Builtin(e) => {
                let o = &e.options;
                r.settings.push(format!("data {} (target '{}')", o.data.display(), o.target));
                r.settings.extend(o.plugins.iter().map(|p| format!("plugin {}", p.display())));
                r.to_confirm.extend(o.sandbox.grants());
                if o.executor == crate::options::ExecutorKind::Kubernetes {
                    cluster_settings(&mut r, &o.kubernetes, &o.kubernetes.image, &o.kubernetes.command);
                }
            }
            #[cfg(feature = "kubernetes")]
            Resumed::Custom(c) => {
                r.settings.push(format!("experiment spec '{}'", c.spec.name));
                cluster_settings(&mut r, &c.kubernetes, &c.spec.trial.image, &c.spec.trial.command);
            }
            #[cfg(not(feature = "kubernetes"))]
            Resumed::Custom(_) => {}
        }
        r.settings.extend(r.to_confirm.iter().cloned());
        r
    }
}

fn cluster_settings(r: &mut Reused, k: &crate::options::KubernetesOptions, image: &str, command: &[String]) {
    r.settings.push(format!("Kubernetes namespace {}", k.namespace.as_deref().unwrap_or("(the context's)")));
    r.image = Some(image.to_string());
    r.to_confirm.push(format!("trial image {image}"));
    if !command.is_empty() {
        r.to_confirm.push(format!("trial command {}", command.join(" ")));
    }
    if let Some(sa) = &k.service_account {
        r.to_confirm.push(format!("service account {sa}"));
    }
}

#[cfg(feature = "kubernetes")]
fn custom_from_journal(state: &JournalState) -> Option<Result<(crate::spec::ExperimentSpec, crate::options::KubernetesOptions)>> {
    crate::spec::from_journal(state)
}

#[cfg(not(feature = "kubernetes"))]
fn custom_from_journal(state: &JournalState) -> Option<Result<(CustomSpec, crate::options::KubernetesOptions)>> {
    state.config.get("custom").map(|_| Err(Error::Config(runner::NO_KUBERNETES.into())))
}

#[cfg(feature = "kubernetes")]
type CustomSpec = crate::spec::ExperimentSpec;

/// Without the `kubernetes` feature there are no custom trials; this type has no values.
#[cfg(not(feature = "kubernetes"))]
#[derive(Debug, Clone)]
pub enum CustomSpec {}

/// A custom-trial experiment: the user's own image tuned as Kubernetes Jobs (`automl run
/// --spec experiment.yaml`).
#[derive(Debug)]
#[cfg_attr(not(feature = "kubernetes"), allow(dead_code))]
pub struct CustomExperiment {
    spec: CustomSpec,
    kubernetes: crate::options::KubernetesOptions,
    out: PathBuf,
    force: bool,
    cancel: Option<CancelToken>,
    resume: Option<JournalState>,
}

#[cfg(feature = "kubernetes")]
impl CustomExperiment {
    /// A new custom experiment of `spec` on the cluster of `kubernetes`, recording into
    /// `out`.
    pub fn new(spec: crate::spec::ExperimentSpec, kubernetes: crate::options::KubernetesOptions, out: &Path) -> Result<Self> {
        spec.check().map_err(Error::Config)?;
        spec.budgets(None)?;
        kubernetes.validate()?;
        Ok(CustomExperiment { spec, kubernetes, out: out.to_path_buf(), force: false, cancel: None, resume: None })
    }

    /// Lets another thread (Ctrl-C) stop the search.
    pub fn set_cancel(&mut self, token: CancelToken) {
        self.cancel = Some(token);
    }

    /// Replaces a run already recorded in the output folder instead of refusing to start.
    pub fn set_force(&mut self, force: bool) {
        self.force = force;
    }

    /// The spec.
    pub fn spec(&self) -> &crate::spec::ExperimentSpec {
        &self.spec
    }

    /// Runs the search to its end, reporting each trial to `observer`.
    pub fn run_with(&self, observer: &mut dyn Observer) -> Result<crate::outcome::CustomResult> {
        runner::run_custom_spec(&self.spec, &self.kubernetes, &self.out, self.force, self.cancel.clone(), self.resume.as_ref(), observer)
    }

    /// The Jobs of the first trials, as YAML, creating nothing (`--dry-run`).
    pub fn dry_run(&self) -> Result<String> {
        runner::custom_dry_run(&self.spec, &self.kubernetes)
    }
}
