//! Evaluating trials here: a CSV (or an in-memory table) read, profiled and reduced to
//! the rows and columns every trial uses; design matrices per split built once and
//! shared; and [`evaluate`], which fits a learner on each split and scores it.
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use automl_core::data::{read_csv, CsvOptions, Table};
use automl_core::learners::{fit_guarded, learner_by_name, Control, DataShape, FitContext, FittedModel};
use automl_core::metrics::{Metric, Prediction};
use automl_core::preprocess::{Encoding, Pipeline};
use automl_core::profile::{profile, ColumnKind};
use automl_core::task::{Target, Task, TaskChoice};
use automl_core::validation::Split;
use ndarray::Array2;

use crate::error::{Error, Result};
use crate::plugins::{PreprocessorPlugin, StoredPreprocessor};
use crate::trial::{DataRef, ScoredOn, TrialMonitor, TrialResult, TrialSpec, TrialStatus, STOPPED_BY_RULE};

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
pub fn ingest(path: &Path, frame: Option<std::sync::Arc<Table>>, target: &str, task: TaskChoice, na_values: &[String], delimiter: Option<u8>) -> Result<Ingested> {
    let options = CsvOptions { na_values: na_values.to_vec(), text_columns: vec![target.to_string()], delimiter };
    let sniffed = (frame.is_none() && delimiter.is_none()).then(|| automl_core::data::sniff_delimiter(path)).flatten();
    let mut table = match frame {
        Some(t) => std::sync::Arc::unwrap_or_clone(t),
        None => read_csv(path, &options)?,
    };
    table.index_of(target)?;
    check_rows(path, table.n_rows, "data rows")?;
    let (mut profile, prepared) = profile(path, &table, Some(target), task)?;
    if let Some(d) = sniffed {
        let message = format!("read with {} as the delimiter: the header has no ',' but {0} (pass --delimiter to choose another)", automl_core::data::delimiter_name(d));
        profile.warnings.insert(0, automl_core::profile::Warning { kind: automl_core::profile::WarningKind::Delimiter, column: None, message });
    }
    let prepared = prepared.ok_or_else(|| Error::Config("no target".into()))?;
    let features = profile.used_features();
    if features.is_empty() {
        return Err(Error::Core(automl_core::Error::Data(format!("{}: no usable feature column (all dropped: see the profile)", path.display()))));
    }
    table.remove(target)?;
    let table = if prepared.missing > 0 { table.take(&prepared.rows) } else { table };
    let n_rows = prepared.rows.len();
    check_rows(path, n_rows, "rows with a target value")?;
    check_classes(path, target, &prepared.target, n_rows)?;
    Ok(Ingested { profile, table, target: prepared.target, task: prepared.task, features, n_rows })
}

/// Most classes a classification target may have, and most probabilities (rows × classes)
/// a learner's predictions may hold: past either, learners would allocate gigabytes before
/// learning anything.
const MAX_CLASSES: usize = 1000;
const MAX_PROBABILITIES: usize = 100_000_000;

/// Refuses a classification target with too many classes for its rows (fewer than 5 rows a
/// class with over 50 classes), or so many that rows × classes matrices would not fit.
fn check_classes(path: &Path, column: &str, target: &Target, rows: usize) -> Result<()> {
    let Target::Classes { labels, .. } = target else { return Ok(()) };
    let k = labels.len();
    let too_sparse = k > 50 && k * 5 > rows;
    if k <= MAX_CLASSES && !too_sparse && rows.saturating_mul(k) <= MAX_PROBABILITIES {
        return Ok(());
    }
    Err(Error::Core(automl_core::Error::Data(format!(
        "{}: target '{column}' has {k} classes for {rows} rows ({:.1} rows a class): too many to learn from, and each trial would hold {} of class probabilities; if it is a quantity use --task regression, if an identifier choose another target, otherwise group rare classes (at most {MAX_CLASSES} classes with 5 rows each)",
        path.display(),
        rows as f64 / k as f64,
        human_bytes(rows.saturating_mul(k).saturating_mul(8))
    ))))
}

fn human_bytes(n: usize) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n => format!("{} MiB", n >> 20),
    }
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
    /// The engine's preprocessing fitted on the training rows: a bagged model's fold
    /// members replay it.
    pub pipeline: Pipeline,
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
    /// Whether trials keep their split models, for a bagged final model (never with
    /// preprocessing plugins: the model file holds one fitted set of them).
    keep_fold_models: bool,
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
pub fn apply_preprocessors(plugins: &[PreprocessorPlugin], table: &Table, features: &[(String, ColumnKind)], train: &[usize]) -> crate::error::Result<Prepared> {
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
        ExperimentData { table, target, task, features, splits, preprocessors: Vec::new(), keep_fold_models: false, designs, fold_tables }
    }

    /// Adds user preprocessing plugins (before any trial runs).
    pub fn with_preprocessors(mut self, plugins: Vec<PreprocessorPlugin>) -> Self {
        self.preprocessors = plugins;
        self
    }

    /// Trials keep their split models for a bagged final model when `keep` and there are
    /// no preprocessing plugins (call after [`Self::with_preprocessors`]).
    pub fn with_fold_models(mut self, keep: bool) -> Self {
        self.keep_fold_models = keep && self.preprocessors.is_empty();
        self
    }

    /// Whether trials keep their split models.
    pub fn keeps_fold_models(&self) -> bool {
        self.keep_fold_models
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
                        pipeline,
                    })
                };
                build().map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(automl_core::Error::Data)
    }

    /// The truth out-of-fold predictions are scored against: the validation rows of every
    /// split, in split order (as `evaluate` concatenates a trial's predictions).
    pub fn out_of_fold_target(&self) -> Target {
        let rows: Vec<usize> = self.splits.iter().flat_map(|s| s.valid.iter().copied()).collect();
        self.target.take(&rows)
    }

    /// Shape of a training fold as a learner taking `encoding` sees it, for search spaces
    /// (tree encodings keep a category one column; the dense one spreads it over several).
    pub fn shape(&self, encoding: Encoding) -> DataShape {
        let rows = self.splits.first().map_or(self.table.n_rows, |s| s.train.len());
        let features = self.design(0, encoding).map(|d| d.x_train.ncols()).unwrap_or(self.features.len());
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
    let mut fold_predictions = Vec::with_capacity(data.splits.len());
    let mut fold_models = Vec::new();
    let keep_models = data.keeps_fold_models();
    let timed = data.table.n_rows >= crate::bagging::MIN_JUDGED_ROWS;
    let mut probe_s_per_row = 0.0;
    let mut on_fold = |design: &FoldDesign, p: Prediction, model: FittedModel| {
        score_extra(&design.y_valid, &p);
        fold_predictions.push(p);
        if keep_models {
            if timed {
                probe_s_per_row += crate::bagging::time_per_row(&model, &design.x_valid);
            }
            fold_models.push(model);
        }
    };
    let outcome = run_folds(spec, data, metric, monitor, start, &mut result, &mut on_fold);
    let finished = result.fold_scores.len();
    for (m, scores) in extra.iter().zip(&extra_folds) {
        if finished > 0 && scores.len() == finished {
            match mean_and_std(scores) {
                Some((mean, _)) => {
                    result.extra_scores.insert(m.name().to_string(), mean);
                }
                None => extra_errors.push(format!("metric '{}' gave fold scores too large to average", m.name())),
            }
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
        match mean_and_std(&result.fold_scores) {
            Some((mean, std)) => {
                result.score = Some(mean);
                result.score_std = Some(std);
            }
            // Each fold's score was finite, but not their mean: a metric returning huge
            // values must not make a trial the best with an infinite score.
            None if result.status != TrialStatus::Failed => {
                result.status = TrialStatus::Failed;
                result.message = Some(format!("the {} fold scores {:?} are too large to average to a finite score", metric.name(), result.fold_scores));
            }
            None => {}
        }
    }
    if result.status == TrialStatus::Failed {
        result.score = None;
        result.extra_scores.clear();
    }
    if result.status == TrialStatus::Ok && fold_predictions.len() == data.splits.len() {
        result.predictions = Prediction::concat(&fold_predictions).map(Arc::new);
        if keep_models && fold_models.len() == data.splits.len() {
            let per_row = probe_s_per_row / data.splits.len() as f64;
            result.fold_models = crate::bagging::fold_models(fold_models, per_row).map(Arc::new);
        }
    }
    result.fit_time_s = start.elapsed().as_secs_f64();
    result
}

/// Mean and standard deviation of `scores`; `None` when either is not finite (scores
/// near `f64::MAX` overflow when summed).
fn mean_and_std(scores: &[f64]) -> Option<(f64, f64)> {
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
    (mean.is_finite() && std.is_finite()).then_some((mean, std))
}

fn run_folds(
    spec: &TrialSpec,
    data: &ExperimentData,
    metric: &dyn Metric,
    monitor: &dyn TrialMonitor,
    start: Instant,
    result: &mut TrialResult,
    on_fold: &mut dyn FnMut(&FoldDesign, Prediction, FittedModel),
) -> automl_core::Result<()> {
    let learner = learner_by_name(&spec.learner)?;
    if !learner.supports(data.task) {
        return Err(automl_core::Error::params(&spec.learner, format!("does not support {} tasks", data.task)));
    }
    learner.space(data.task, data.shape(learner.encoding())).validate(&spec.learner, &spec.config)?;
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
        let predicting = Instant::now();
        let prediction = model.predict(design.x_valid.view())?;
        result.predict_time_s += predicting.elapsed().as_secs_f64();
        let score = metric.score(&design.y_valid, &prediction)?;
        if !score.is_finite() {
            return Err(automl_core::Error::learner(&spec.learner, format!("non-finite {} score", metric.name())));
        }
        result.fold_scores.push(score);
        on_fold(&design, prediction, model);
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

/// The rows and columns a trial evaluates on: what [`ingest`] keeps, less the profile.
/// A trial pod reads them from the CSV ([`read_trial_data`]) or from the experiment's
/// prepared copy (`crate::prepared`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialData {
    /// Feature columns (the target removed), rows with a target only.
    pub table: Table,
    /// Target values, aligned with `table`.
    pub target: Target,
    /// The task.
    pub task: Task,
    /// Features used, with their kinds.
    pub features: Vec<(String, ColumnKind)>,
}

/// Reads the CSV at `path` as the experiment of `data` read it.
pub fn read_trial_data(data: &DataRef, path: &Path) -> Result<TrialData> {
    let choice = match data.task {
        Task::Binary => TaskChoice::Binary,
        Task::Multiclass => TaskChoice::Multiclass,
        Task::Regression => TaskChoice::Regression,
    };
    let Ingested { table, target, task, features, .. } = ingest(path, None, &data.target, choice, &data.na_values, data.delimiter)?;
    Ok(TrialData { table, target, task, features })
}

/// Runs `spec` on its own, as `automl trial` does in a pod: on `input` (the experiment's
/// rows and features, from the CSV or its prepared copy) it rebuilds the splits,
/// evaluates, and passes every intermediate score to `report` (step, score, which rows).
pub fn evaluate_standalone(spec: &TrialSpec, input: TrialData, plugins: PodPlugins, report: &(dyn Fn(usize, f64, ScoredOn) + Sync)) -> Result<TrialResult> {
    let TrialData { table, target, task, features } = input;
    let splits = automl_core::validation::make_splits(&spec.validation, &target, spec.split_seed)?;
    let prepared = ExperimentData::new(table, target, task, features, splits).with_preprocessors(plugins.preprocessors);
    let metric: Box<dyn Metric> = match plugins.metrics.into_iter().find(|m| m.name() == spec.metric) {
        Some(plugin) => Box::new(plugin),
        None => Box::new(automl_core::metrics::BuiltinMetric::from_name(&spec.metric)?),
    };
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
    Ok(evaluate(spec, &prepared, metric.as_ref(), &[], &Reporter(report, spec.train_scores)))
}

/// The preprocessor and metric plugins a trial pod loaded (see `DataRef::plugins`).
#[derive(Default)]
pub struct PodPlugins {
    /// Preprocessors, in the run's order.
    pub preprocessors: Vec<PreprocessorPlugin>,
    /// Metrics: the one named like the objective is it.
    pub metrics: Vec<crate::plugins::MetricPlugin>,
}

/// Loads the plugins of `data` in its sandbox, refusing a component whose SHA-256 is not
/// the one the experiment loaded.
pub fn load_pod_plugins(data: &DataRef) -> Result<PodPlugins> {
    let mut out = PodPlugins::default();
    if data.plugins.is_empty() {
        return Ok(out);
    }
    let host = crate::plugins::PluginHost::new(data.sandbox.clone().unwrap_or_default())?;
    for r in &data.plugins {
        let plugin = host.load(&r.path)?;
        if plugin.digest() != r.sha256 {
            return Err(Error::Config(format!(
                "plugin {}: its SHA-256 is {}, not the {} the experiment loaded: the plugin ConfigMap was changed; start the experiment again",
                r.path.display(),
                plugin.digest(),
                r.sha256
            )));
        }
        match plugin.kind() {
            crate::plugins::PluginKind::Preprocessor => out.preprocessors.push(PreprocessorPlugin::new(plugin)?),
            crate::plugins::PluginKind::Metric => out.metrics.push(crate::plugins::MetricPlugin::new(plugin)?),
            crate::plugins::PluginKind::StoppingRule => {}
        }
    }
    Ok(out)
}


#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::data::Column;
    use automl_core::metrics::Direction;
    use automl_core::validation::{make_splits, ValidationPlan};

    /// A metric that returns the largest finite number for every fold.
    #[derive(Debug)]
    struct Huge;

    impl Metric for Huge {
        fn name(&self) -> &str {
            "huge"
        }
        fn direction(&self) -> Direction {
            Direction::Maximize
        }
        fn supports(&self, _task: Task) -> bool {
            true
        }
        fn score(&self, _truth: &Target, _prediction: &Prediction) -> automl_core::Result<f64> {
            Ok(f64::MAX)
        }
    }

    #[test]
    fn fold_scores_too_large_to_average_fail_the_trial_instead_of_winning_it() {
        let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let y: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let table = Table { names: vec!["x".into()], columns: vec![Column::Numeric(x)], n_rows: 40 };
        let target = Target::Values(y);
        let splits = make_splits(&ValidationPlan::KFold { k: 2 }, &target, 0).expect("splits");
        let data = ExperimentData::new(table, target, Task::Regression, vec![("x".into(), ColumnKind::Numeric)], splits);
        let spec = TrialSpec {
            id: 1,
            learner: "linear".into(),
            config: Default::default(),
            metric: "huge".into(),
            validation: ValidationPlan::KFold { k: 2 },
            seed: 0,
            split_seed: 0,
            time_limit_s: None,
            data: None,
            train_scores: false,
        };
        let r = evaluate(&spec, &data, &Huge, &[], &crate::trial::NoMonitor);
        assert_eq!(r.fold_scores, vec![f64::MAX, f64::MAX], "{r:?}");
        assert_eq!((r.status, r.score), (TrialStatus::Failed, None), "{r:?}");
        assert!(r.message.as_deref().is_some_and(|m| m.contains("too large to average")), "{r:?}");
    }
}
