//! Trials as data: a [`TrialSpec`] says everything needed to run one evaluation, so it can
//! run in this process, another process, or a Kubernetes pod; a [`TrialResult`] is what
//! comes back.
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use automl_core::data::{read_csv, CsvOptions, Table};
use automl_core::profile::profile;
use automl_core::task::TaskChoice;
use automl_core::learners::{fit_guarded, learner_by_name, Control, DataShape, FitContext};
use automl_core::metrics::{Metric, Prediction};
use automl_core::preprocess::{Encoding, Pipeline};
use automl_core::profile::ColumnKind;
use automl_core::space::Config;
use automl_core::task::{Target, Task};
use automl_core::validation::{Split, ValidationPlan};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::plugins::{PreprocessorPlugin, StoredPreprocessor};
use crate::error::{Error, Result};

/// Fewest rows an experiment accepts: enough to train and validate anything at all.
pub const MIN_ROWS: usize = 10;

/// A CSV (or an in-memory table) read, profiled and reduced to the rows with a target and
/// the usable feature columns: what `automl run` and a remote `automl trial` both start
/// from, so both see the same rows and columns.
pub struct Ingested {
    /// The profile of all columns.
    pub profile: automl_core::profile::Profile,
    /// Feature columns only (the target removed), rows with a target only.
    pub table: Table,
    /// Target values, aligned with `table`.
    pub target: Target,
    /// The task (given or inferred).
    pub task: Task,
    /// Features used, with their kinds.
    pub features: Vec<(String, ColumnKind)>,
    /// Rows with a target.
    pub n_rows: usize,
}

/// Reads `path` (or uses `frame`), profiles it and prepares `target` for `task`.
/// `frame`, when given, is used instead of reading `path`: moved in when this is its only
/// reference, else copied.
pub fn ingest(path: &Path, frame: Option<std::sync::Arc<Table>>, target: &str, task: TaskChoice, na_values: &[String]) -> Result<Ingested> {
    let options = CsvOptions { na_values: na_values.to_vec(), text_columns: vec![target.to_string()], ..CsvOptions::default() };
    let mut table = match frame {
        Some(t) => std::sync::Arc::unwrap_or_clone(t),
        None => read_csv(path, &options)?,
    };
    table.index_of(target)?;
    check_rows(path, table.n_rows, "data rows")?;
    let (profile, prepared) = profile(path, &table, Some(target), task)?;
    let prepared = prepared.ok_or_else(|| Error::Config("no target".into()))?;
    let features = profile.used_features();
    if features.is_empty() {
        return Err(Error::Core(automl_core::Error::Data(format!("{}: no usable feature column (all dropped: see the profile)", path.display()))));
    }
    table.remove(target)?;
    let table = if prepared.missing > 0 { table.take(&prepared.rows) } else { table };
    let n_rows = prepared.rows.len();
    check_rows(path, n_rows, "rows with a target value")?;
    Ok(Ingested { profile, table, target: prepared.target, task: prepared.task, features, n_rows })
}

fn check_rows(path: &Path, n: usize, what: &str) -> Result<()> {
    if n < MIN_ROWS {
        return Err(Error::Core(automl_core::Error::Data(format!(
            "{}: {n} {what}; at least {MIN_ROWS} are needed to train and validate a model",
            path.display()
        ))));
    }
    Ok(())
}

/// Where a trial's data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRef {
    /// CSV file.
    pub path: PathBuf,
    /// Target column.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Extra missing-value markers.
    pub na_values: Vec<String>,
    /// SHA-256 of the file the experiment was started on; a remote trial refuses data
    /// that differs from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One evaluation to run, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// Trial number within the experiment, from 1.
    pub id: u64,
    /// Learner name.
    pub learner: String,
    /// Hyperparameters.
    pub config: Config,
    /// Objective metric name.
    pub metric: String,
    /// How to validate.
    pub validation: ValidationPlan,
    /// Seed for the learners (per trial).
    pub seed: u64,
    /// Seed of the experiment's validation splits (the same for every trial).
    #[serde(default)]
    pub split_seed: u64,
    /// Seconds the trial may take.
    pub time_limit_s: Option<f64>,
    /// The data.
    pub data: DataRef,
    /// Also report the metric on the training rows (for the overfitting rule).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub train_scores: bool,
}

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Finished and scored.
    Ok,
    /// Stopped by the early-stopping rule.
    EarlyStopped,
    /// Ran out of its time limit or of the budget.
    TimedOut,
    /// Errored or panicked.
    Failed,
}

impl TrialStatus {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            TrialStatus::Ok => "ok",
            TrialStatus::EarlyStopped => "early_stopped",
            TrialStatus::TimedOut => "timed_out",
            TrialStatus::Failed => "failed",
        }
    }
}

/// What a trial produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    /// Trial number.
    pub id: u64,
    /// Learner name.
    pub learner: String,
    /// Hyperparameters.
    pub config: Config,
    /// How it ended.
    pub status: TrialStatus,
    /// Mean validation score over the folds that finished.
    pub score: Option<f64>,
    /// Standard deviation over folds (0 for a holdout).
    pub score_std: Option<f64>,
    /// Score of each finished fold.
    pub fold_scores: Vec<f64>,
    /// Intermediate `(step, score)` reports.
    pub curve: Vec<(usize, f64)>,
    /// The same metric on the training rows at the same steps, from learners that have it
    /// (boosting): with `curve`, it shows the train/validation gap.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub train_curve: Vec<(usize, f64)>,
    /// Scores of the other metrics shown in the leaderboard (metric plugins that are not
    /// the objective), averaged over the folds that finished; a metric that failed on this
    /// trial is absent (its error is in `message`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra_scores: std::collections::BTreeMap<String, f64>,
    /// Seconds spent.
    pub fit_time_s: f64,
    /// Why it failed or stopped.
    pub message: Option<String>,
}

impl TrialResult {
    /// A result with no scores yet: `status`, time spent and why.
    pub fn ended(id: u64, learner: String, config: Config, status: TrialStatus, fit_time_s: f64, message: Option<String>) -> Self {
        TrialResult { id, learner, config, status, score: None, score_std: None, fold_scores: Vec::new(), curve: Vec::new(), train_curve: Vec::new(), extra_scores: Default::default(), fit_time_s, message }
    }
}

/// How a trial's message starts when an early-stopping rule stopped it; the runner puts
/// the rule's name in its place.
pub const STOPPED_BY_RULE: &str = "stopped by the early-stopping rule";

/// Which rows an intermediate score was computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoredOn {
    /// The validation rows: the score the search and the stopping rules judge.
    Validation,
    /// The rows being fitted, for the overfitting rule.
    Training,
}

/// Receives a trial's intermediate scores and decides whether it goes on.
pub trait TrialMonitor: Send + Sync {
    /// Score of `trial` (of `learner`) at `step`; answer [`Control::Stop`] to end it early.
    fn report(&self, trial: u64, learner: &str, step: usize, score: f64) -> Control;
    /// The same metric on `trial`'s training rows at `step`, sent just before the
    /// validation score of that step, by learners that have it, when
    /// [`wants_train`](Self::wants_train). Ignored by default.
    fn report_train(&self, _trial: u64, _step: usize, _score: f64) {}
    /// Whether scores on the training rows are wanted (they cost a metric call on the
    /// training rows per report). No by default.
    fn wants_train(&self) -> bool {
        false
    }
}

/// A monitor that never stops anything.
pub struct NoMonitor;

impl TrialMonitor for NoMonitor {
    fn report(&self, _trial: u64, _learner: &str, _step: usize, _score: f64) -> Control {
        Control::Continue
    }
}

/// Design matrices of one split.
pub struct FoldDesign {
    /// Training inputs.
    pub x_train: Array2<f64>,
    /// Training targets.
    pub y_train: Target,
    /// Validation inputs.
    pub x_valid: Array2<f64>,
    /// Which columns hold category codes.
    pub categorical: Vec<bool>,
    /// Validation targets.
    pub y_valid: Target,
}

/// An experiment's data, ready for trials: rows with a target, features to use, splits,
/// and lazily built, shared design matrices per split (preprocessing fitted on the
/// training rows of that split only).
pub struct ExperimentData {
    /// Feature columns (the target removed), rows with a target only.
    pub table: Table,
    /// Target values, aligned with `table`.
    pub target: Target,
    /// The task.
    pub task: Task,
    /// Features used, with their kinds.
    pub features: Vec<(String, ColumnKind)>,
    /// Validation splits.
    pub splits: Vec<Split>,
    /// User preprocessing plugins, applied in order before the engine's pipeline.
    pub preprocessors: Vec<PreprocessorPlugin>,
    designs: Vec<[OnceLock<Result<Arc<FoldDesign>, String>>; 3]>,
    fold_tables: Vec<OnceLock<Result<Arc<Prepared>, String>>>,
}

/// Features after the user's preprocessing plugins, fitted on some rows.
pub struct Prepared {
    /// The transformed table (all rows).
    pub table: Table,
    /// Its feature columns and kinds.
    pub features: Vec<(String, ColumnKind)>,
    /// The fitted plugins, as stored in a model.
    pub stored: Vec<StoredPreprocessor>,
}

/// Fits `plugins` in order on the `train` rows of `table` (only the `features` columns are
/// given to the first) and transforms all rows. New columns get a kind from their storage
/// (numbers numeric, text categorical, dates dates); columns kept keep their kind.
pub fn apply_preprocessors(plugins: &[PreprocessorPlugin], table: &Table, features: &[(String, ColumnKind)], train: &[usize]) -> crate::Result<Prepared> {
    let mut current: Option<Table> = None;
    let mut features = features.to_vec();
    let mut stored = Vec::with_capacity(plugins.len());
    for plugin in plugins {
        let input = current.as_ref().unwrap_or(table);
        let inputs: Vec<String> = features.iter().map(|(n, _)| n.clone()).collect();
        let state = plugin.fit(&input.take(train), &inputs)?;
        let out = plugin.transform(&state, input, &inputs)?;
        features = out
            .names
            .iter()
            .zip(&out.columns)
            .map(|(name, column)| {
                let same_storage = |kind: ColumnKind| match (kind, column) {
                    (ColumnKind::Numeric | ColumnKind::Boolean, automl_core::data::Column::Numeric(_)) => true,
                    (ColumnKind::Datetime, automl_core::data::Column::Datetime(_)) => true,
                    (ColumnKind::Categorical | ColumnKind::Text, automl_core::data::Column::Str(_)) => true,
                    _ => false,
                };
                let kept = features.iter().find(|(n, k)| n == name && same_storage(*k)).map(|(_, k)| *k);
                let kind = kept.unwrap_or(match column {
                    automl_core::data::Column::Numeric(_) => ColumnKind::Numeric,
                    automl_core::data::Column::Datetime(_) => ColumnKind::Datetime,
                    automl_core::data::Column::Str(_) => ColumnKind::Categorical,
                });
                (name.clone(), kind)
            })
            .collect();
        if features.is_empty() {
            return Err(crate::plugins::plugin_error(&plugin.plugin().info().name, "transform returned no columns: the model would have no features".into()));
        }
        stored.push(plugin.stored(state, inputs));
        current = Some(out);
    }
    Ok(Prepared { table: current.unwrap_or_else(|| table.clone()), features, stored })
}

impl ExperimentData {
    /// Wraps prepared data.
    pub fn new(table: Table, target: Target, task: Task, features: Vec<(String, ColumnKind)>, splits: Vec<Split>) -> Self {
        let designs = splits.iter().map(|_| [OnceLock::new(), OnceLock::new(), OnceLock::new()]).collect();
        let fold_tables = splits.iter().map(|_| OnceLock::new()).collect();
        ExperimentData { table, target, task, features, splits, preprocessors: Vec::new(), designs, fold_tables }
    }

    /// Adds user preprocessing plugins (before any trial runs).
    pub fn with_preprocessors(mut self, plugins: Vec<PreprocessorPlugin>) -> Self {
        self.preprocessors = plugins;
        self
    }

    /// The feature table of split `fold` after the preprocessing plugins fitted on its
    /// training rows; `None` without plugins.
    fn fold_table(&self, fold: usize) -> automl_core::Result<Option<Arc<Prepared>>> {
        if self.preprocessors.is_empty() {
            return Ok(None);
        }
        self.fold_tables[fold]
            .get_or_init(|| apply_preprocessors(&self.preprocessors, &self.table, &self.features, &self.splits[fold].train).map(Arc::new).map_err(|e| e.to_string()))
            .clone()
            .map(Some)
            .map_err(|m| automl_core::Error::Plugin { plugin: "preprocessing".into(), message: m })
    }

    /// Design matrices of split `fold` for `encoding`.
    pub fn design(&self, fold: usize, encoding: Encoding) -> automl_core::Result<Arc<FoldDesign>> {
        self.designs[fold][encoding.index()]
            .get_or_init(|| {
                let split = &self.splits[fold];
                let build = || -> automl_core::Result<FoldDesign> {
                    let prepared = self.fold_table(fold)?;
                    let (table, features) = match &prepared {
                        Some(p) => (&p.table, &p.features),
                        None => (&self.table, &self.features),
                    };
                    let pipeline = Pipeline::fit(table, &split.train, features, encoding)?;
                    Ok(FoldDesign {
                        categorical: pipeline.categorical().to_vec(),
                        x_train: pipeline.transform(table, Some(&split.train))?,
                        y_train: self.target.take(&split.train),
                        x_valid: pipeline.transform(table, Some(&split.valid))?,
                        y_valid: self.target.take(&split.valid),
                    })
                };
                build().map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(automl_core::Error::Data)
    }

    /// Shape of a training fold, for search spaces.
    pub fn shape(&self) -> DataShape {
        let rows = self.splits.first().map_or(self.table.n_rows, |s| s.train.len());
        let features = self.design(0, Encoding::Dense).map(|d| d.x_train.ncols()).unwrap_or(self.features.len());
        DataShape { rows, features, classes: self.target.n_classes() }
    }
}

/// Runs `spec` on `data`: fits the learner on each split's training rows and scores the
/// validation rows with `metric`. Never panics: failures come back as a failed result.
/// Evaluates one trial: `metric` is the objective; `extra` are other metrics scored on the
/// same validation predictions, for the leaderboard only (a failure there does not fail
/// the trial).
pub fn evaluate(spec: &TrialSpec, data: &ExperimentData, metric: &dyn Metric, extra: &[Arc<dyn Metric>], monitor: &dyn TrialMonitor) -> TrialResult {
    let start = Instant::now();
    let mut result = TrialResult::ended(spec.id, spec.learner.clone(), spec.config.clone(), TrialStatus::Ok, 0.0, None);
    let mut extra_folds: Vec<Vec<f64>> = vec![Vec::new(); extra.len()];
    let mut extra_errors: Vec<String> = Vec::new();
    let mut score_extra = |y: &Target, p: &Prediction| {
        for (m, scores) in extra.iter().zip(&mut extra_folds) {
            match m.score(y, p) {
                Ok(s) if s.is_finite() => scores.push(s),
                Ok(s) => extra_errors.push(format!("metric '{}' returned {s}", m.name())),
                // One line: the note joins the trial's message (and a CSV cell).
                Err(e) => extra_errors.push(format!("metric '{}' failed: {}", m.name(), e.to_string().replace('\n', " | "))),
            }
        }
    };
    let outcome = run_folds(spec, data, metric, monitor, start, &mut result, &mut score_extra);
    let finished = result.fold_scores.len();
    for (m, scores) in extra.iter().zip(&extra_folds) {
        if finished > 0 && scores.len() == finished {
            result.extra_scores.insert(m.name().to_string(), scores.iter().sum::<f64>() / finished as f64);
        }
    }
    if !extra_errors.is_empty() {
        extra_errors.dedup();
        let note = extra_errors.join("; ");
        result.message = Some(match result.message.take() {
            Some(m) => format!("{m}; {note}"),
            None => note,
        });
    }
    if let Err(e) = outcome {
        result.status = TrialStatus::Failed;
        result.message = Some(e.to_string());
    }
    if !result.fold_scores.is_empty() {
        let n = result.fold_scores.len() as f64;
        let mean = result.fold_scores.iter().sum::<f64>() / n;
        result.score = Some(mean);
        result.score_std = Some((result.fold_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt());
    }
    if result.status == TrialStatus::Failed {
        result.score = None;
        result.extra_scores.clear();
    }
    result.fit_time_s = start.elapsed().as_secs_f64();
    result
}

fn run_folds(
    spec: &TrialSpec,
    data: &ExperimentData,
    metric: &dyn Metric,
    monitor: &dyn TrialMonitor,
    start: Instant,
    result: &mut TrialResult,
    score_extra: &mut dyn FnMut(&Target, &Prediction),
) -> automl_core::Result<()> {
    let learner = learner_by_name(&spec.learner)?;
    if !learner.supports(data.task) {
        return Err(automl_core::Error::params(&spec.learner, format!("does not support {} tasks", data.task)));
    }
    learner.space(data.task, data.shape()).validate(&spec.learner, &spec.config)?;
    let deadline = spec.time_limit_s.map(|t| start + std::time::Duration::from_secs_f64(t.max(0.0)));
    let n_splits = data.splits.len();
    for fold in 0..n_splits {
        let design = data.design(fold, learner.encoding())?;
        let curve = std::cell::RefCell::new(Vec::new());
        let train_curve = std::cell::RefCell::new(Vec::new());
        let mut stop_inside = false;
        let mut reporter = |step: usize, p: &Prediction, train: Option<&Prediction>| {
            let Ok(score) = metric.score(&design.y_valid, p) else { return Control::Continue };
            if let Some(train_score) = train.and_then(|t| metric.score(&design.y_train, t).ok()) {
                train_curve.borrow_mut().push((step, train_score));
                monitor.report_train(spec.id, step, train_score);
            }
            curve.borrow_mut().push((step, score));
            let c = monitor.report(spec.id, &spec.learner, step, score);
            if c == Control::Stop {
                stop_inside = true;
            }
            c
        };
        let mut ctx = FitContext {
            seed: spec.seed.wrapping_add(fold as u64),
            deadline,
            threads: 1,
            valid: None,
            reporter: None,
            train_predictions: monitor.wants_train(),
            categorical: &design.categorical,
        };
        if n_splits == 1 {
            // Holdout: iterative learners report per step on the validation rows.
            ctx.valid = Some((design.x_valid.view(), &design.y_valid));
            ctx.reporter = Some(&mut reporter);
        }
        let model = fit_guarded(learner.as_ref(), &spec.config, design.x_train.view(), &design.y_train, &mut ctx)?;
        drop(ctx);
        result.curve.extend(curve.into_inner());
        result.train_curve.extend(train_curve.into_inner());
        let prediction = model.predict(design.x_valid.view())?;
        let score = metric.score(&design.y_valid, &prediction)?;
        if !score.is_finite() {
            return Err(automl_core::Error::learner(&spec.learner, format!("non-finite {} score", metric.name())));
        }
        result.fold_scores.push(score);
        score_extra(&design.y_valid, &prediction);
        if stop_inside {
            result.status = TrialStatus::EarlyStopped;
            result.message = Some(STOPPED_BY_RULE.into());
            return Ok(());
        }
        if n_splits > 1 {
            let mean = result.fold_scores.iter().sum::<f64>() / result.fold_scores.len() as f64;
            result.curve.push((fold + 1, mean));
            if fold + 1 < n_splits && monitor.report(spec.id, &spec.learner, fold + 1, mean) == Control::Stop {
                result.status = TrialStatus::EarlyStopped;
                result.message = Some(format!("{STOPPED_BY_RULE} after {} of {n_splits} folds", fold + 1));
                return Ok(());
            }
        }
        if deadline.is_some_and(|d| Instant::now() >= d) && fold + 1 < n_splits {
            result.status = TrialStatus::TimedOut;
            result.message = Some(format!("time limit reached after {} of {n_splits} folds", fold + 1));
            return Ok(());
        }
    }
    Ok(())
}

/// Runs `spec` on its own, as `automl trial` does in a pod: reads `data_path` (the local
/// copy of `spec.data`), rebuilds the experiment's rows, features and splits, evaluates,
/// and passes every intermediate score to `report` (step, score, which rows).
pub fn evaluate_standalone(spec: &TrialSpec, data_path: &Path, report: &(dyn Fn(usize, f64, ScoredOn) + Sync)) -> Result<TrialResult> {
    let choice = match spec.data.task {
        Task::Binary => TaskChoice::Binary,
        Task::Multiclass => TaskChoice::Multiclass,
        Task::Regression => TaskChoice::Regression,
    };
    let Ingested { table, target, task, features, .. } = ingest(data_path, None, &spec.data.target, choice, &spec.data.na_values)?;
    let splits = automl_core::validation::make_splits(&spec.validation, &target, spec.split_seed)?;
    let data = ExperimentData::new(table, target, task, features, splits);
    let metric = automl_core::metrics::BuiltinMetric::from_name(&spec.metric)?;
    struct Reporter<'a>(&'a (dyn Fn(usize, f64, ScoredOn) + Sync), bool);
    impl TrialMonitor for Reporter<'_> {
        fn report(&self, _trial: u64, _learner: &str, step: usize, score: f64) -> Control {
            (self.0)(step, score, ScoredOn::Validation);
            Control::Continue
        }
        fn report_train(&self, _trial: u64, step: usize, score: f64) {
            (self.0)(step, score, ScoredOn::Training);
        }
        fn wants_train(&self) -> bool {
            self.1
        }
    }
    Ok(evaluate(spec, &data, &metric, &[], &Reporter(report, spec.train_scores)))
}

/// Runs `spec` where its data says: an http(s) URL is downloaded into `$TMPDIR` first; a
/// path is read as is. When the spec carries the controller's SHA-256 of the data, a copy
/// that differs is refused (trials on other data would be scored against the wrong rows).
pub fn run_remote(spec: &TrialSpec, report: &(dyn Fn(usize, f64, ScoredOn) + Sync)) -> Result<TrialResult> {
    let location = spec.data.path.to_string_lossy().into_owned();
    let (path, digest, _scratch) = if location.starts_with("http://") || location.starts_with("https://") {
        let dir = tempfile_dir()?;
        let (path, digest) = crate::kubernetes::fetch::download(&location, &dir)?;
        (path, Some(digest), Some(DirGuard(dir)))
    } else {
        let digest = match &spec.data.sha256 {
            Some(_) => Some(crate::experiment::sha256_file(&spec.data.path).map_err(|e| Error::io(&spec.data.path, e))?),
            None => None,
        };
        (spec.data.path.clone(), digest, None)
    };
    if let (Some(expected), Some(actual)) = (&spec.data.sha256, &digest) {
        if !expected.is_empty() && expected != actual {
            return Err(Error::Core(automl_core::Error::Data(format!(
                "{location}: this copy of the data differs from the one the experiment was started on (SHA-256 {actual}, expected {expected}); give the trials the same file"
            ))));
        }
    }
    evaluate_standalone(spec, &path, report)
}

struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempfile_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    let dir = base.join(format!("automl-trial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
