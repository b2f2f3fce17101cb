//! Trials as data: a [`TrialSpec`] says everything needed to run one evaluation, so it can
//! run in this process, another process, or a Kubernetes pod; a [`TrialResult`] is what
//! comes back; a [`TrialMonitor`] hears its intermediate scores.
use std::path::PathBuf;

use automl_core::learners::Control;
use automl_core::space::Hyperparams;
use automl_core::task::Task;
use automl_core::validation::ValidationPlan;
use serde::{Deserialize, Serialize};

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
    /// The CSV field separator, when the user chose one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<u8>,
    /// SHA-256 of the file the experiment was started on; a remote trial refuses data
    /// that differs from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Preprocessor and metric plugins a remote trial loads: where its pod finds each
    /// component, and the SHA-256 it must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginRef>,
    /// The sandbox they run in: the run's own limits and grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<crate::options::sandbox::SandboxPolicy>,
    /// The experiment's prepared copy of the data, which the pod reads instead of the CSV
    /// when it is sound (see `crate::prepared`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared: Option<PreparedFile>,
}

/// Where a trial pod finds the prepared copy of its data, and the SHA-256 of its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedFile {
    /// Its path in the pod.
    pub path: PathBuf,
    /// SHA-256 of its payload, as the controller wrote it.
    pub sha256: String,
}

/// Where trial pods find the plugin components (the experiment's ConfigMap, read-only).
pub const PLUGIN_MOUNT: &str = "/plugins";

/// The file name of the component with this SHA-256, in the ConfigMap and its mount.
pub fn plugin_key(sha256: &str) -> String {
    format!("{}.wasm", &sha256[..sha256.len().min(16)])
}

/// A plugin component a remote trial loads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRef {
    /// Where the trial's pod finds it (in the experiment's plugin ConfigMap).
    pub path: PathBuf,
    /// SHA-256 of the component, hex: a different file is refused.
    pub sha256: String,
}

/// One evaluation to run, as plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    /// Trial number within the experiment, from 1.
    pub id: u64,
    /// Learner name.
    pub learner: String,
    /// Hyperparameters.
    pub config: Hyperparams,
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
    /// The data of a built-in trial; `None` for a custom trial, whose image brings its own.
    #[serde(default)]
    pub data: Option<DataRef>,
    /// Also report the metric on the training rows (for the overfitting rule).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub train_scores: bool,
}

/// The seed of trial `id`'s learners in an experiment seeded with `seed`.
pub fn trial_seed(seed: u64, id: u64) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(id)
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
    pub config: Hyperparams,
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
    /// Seconds its models spent predicting the validation rows (all folds): what an
    /// ensemble member would add to a prediction's cost.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub predict_time_s: f64,
    /// Why it failed or stopped.
    pub message: Option<String>,
    /// Its predictions of every validation row (splits concatenated in order), for the
    /// ensemble: kept in this process only, for the best trials (see `ensemble`).
    #[serde(skip)]
    pub predictions: Option<std::sync::Arc<automl_core::metrics::Prediction>>,
    /// Its model of each split, for a bagged final model: kept in this process only, for
    /// the best trials, when every split finished (see `bagging`).
    #[serde(skip)]
    pub fold_models: Option<std::sync::Arc<FoldModels>>,
    /// Power its class probabilities are raised to in the model (see
    /// `ensemble::sharpen_kept`; its `predictions` are then already sharpened): 1 until
    /// fitted after the search, and for values.
    #[serde(skip, default = "one")]
    pub sharpen: f64,
}

fn one() -> f64 {
    1.0
}

/// The models a trial fitted on each split's training rows, in split order.
#[derive(Debug)]
pub struct FoldModels {
    /// One per split.
    pub models: Vec<automl_core::learners::FittedModel>,
    /// Their size encoded in a model file, the measure of the memory bound.
    pub bytes: usize,
    /// Seconds one model takes per row predicted (measured in the trial on at least
    /// `bagging::TIMED_ROWS` rows).
    pub predict_s_per_row: f64,
}

impl PartialEq for FoldModels {
    /// The same fold models: the same object (fitted models have no equality of their own).
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl TrialResult {
    /// Whether its configuration can be refit for the model: it finished, or was stopped
    /// early by a rule, with a score (an early-stopped trial's score is its last one).
    pub fn refittable(&self) -> bool {
        matches!(self.status, TrialStatus::Ok | TrialStatus::EarlyStopped) && self.score.is_some()
    }

    /// The result without its kept predictions and split models: a copy to remember it by
    /// that holds none of their memory, and leaves the kept ones the only owners (so
    /// their timings can be written after the search).
    pub fn without_kept(&self) -> Self {
        TrialResult { predictions: None, fold_models: None, ..self.clone() }
    }

    /// A result with no scores yet: `status`, time spent and why.
    pub fn ended(id: u64, learner: String, config: Hyperparams, status: TrialStatus, fit_time_s: f64, message: Option<String>) -> Self {
        TrialResult { id, learner, config, status, score: None, score_std: None, fold_scores: Vec::new(), curve: Vec::new(), train_curve: Vec::new(), extra_scores: Default::default(), fit_time_s, predict_time_s: 0.0, message, predictions: None, fold_models: None, sharpen: 1.0 }
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
    /// `trial` starts over (a Kubernetes trial whose pod was replaced): the curves heard
    /// so far were another attempt's, and are forgotten. Ignored by default.
    fn restart(&self, _trial: u64) {}
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


fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_copy_without_kept_parts_shares_none_of_them() {
        let mut t = TrialResult::ended(3, "gbdt".into(), Hyperparams::default(), TrialStatus::Ok, 1.5, None);
        t.score = Some(0.9);
        t.predictions = Some(Arc::new(automl_core::metrics::Prediction::Values(ndarray::array![1.0, 2.0])));
        t.fold_models = Some(Arc::new(FoldModels { models: Vec::new(), bytes: 0, predict_s_per_row: 0.0 }));
        let light = t.without_kept();
        assert!(light.predictions.is_none() && light.fold_models.is_none());
        assert_eq!((light.id, light.score, light.fit_time_s), (3, Some(0.9), 1.5));
        // The kept split models have one owner again, so their timing can be written.
        let folds = t.fold_models.as_mut().unwrap();
        Arc::get_mut(folds).unwrap().predict_s_per_row = 1e-6;
    }
}
