//! Bagging instead of refitting (AutoGluon's bagged models): a configuration's models of
//! the validation splits, kept from its trial and averaged, instead of one model fitted
//! again on all rows.
//!
//! Under k-fold validation each row was predicted by exactly one of the k models, so the
//! trial's out-of-fold score is the bag's own validation score, and the bag needs no
//! refit time; it costs k times one model's prediction time. `--final-fit auto` was
//! chosen by measurement (the README's benchmark section): under k-fold validation it
//! bags the model's configurations, best first, while the whole model is expected to
//! predict 100,000 rows in at most 1.5 s by its trials' measured prediction times
//! ([`MAX_PREDICT_S_PER_ROW`]), and refits the others, as under a holdout, where the one
//! model of the training rows has seen a fifth fewer rows than a refit would.
//!
//! Only the best [`KEPT_TRIALS`](crate::ensemble::KEPT_TRIALS) trials keep their models,
//! and never more than [`KEPT_BYTES`] in all, measured as their size in a model file
//! ([`keep_best`]).
use automl_core::learners::FittedModel;
use automl_core::metrics::Direction;

use serde::{Deserialize, Serialize};

use crate::trial::{FoldModels, TrialResult};

/// How the model's configurations become the final model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalFit {
    /// Bag under k-fold validation what is cheap enough to predict, refit the rest (see
    /// [`bags`]).
    #[default]
    Auto,
    /// Fit each configuration again on all rows.
    Refit,
    /// Keep each configuration's models of the validation splits and average them
    /// (AutoGluon's bagged models); under a holdout, the one model of the training rows.
    Bag,
}

impl FinalFit {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FinalFit::Auto => "auto",
            FinalFit::Refit => "refit",
            FinalFit::Bag => "bag",
        }
    }
}

impl std::str::FromStr for FinalFit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(FinalFit::Auto),
            "refit" => Ok(FinalFit::Refit),
            "bag" => Ok(FinalFit::Bag),
            _ => Err(format!("unknown final fit '{s}'; known: auto, refit, bag")),
        }
    }
}

/// Most seconds per row predicted that `auto` lets bagging bring the whole model to, by
/// the trials' measured prediction times: 1.5 s per 100,000 rows, so that `automl
/// predict` (which also reads the CSV, transforms it and writes the predictions) takes
/// under 2 s for 100,000 rows.
pub const MAX_PREDICT_S_PER_ROW: f64 = 1.5 / 100_000.0;

/// Seconds per row `trial`'s configuration adds to a model's prediction: all its split
/// models when `bagged`, else one model (0 when its trial kept no split models).
pub fn predict_cost(trial: &TrialResult, bagged: bool) -> f64 {
    trial.fold_models.as_ref().map_or(0.0, |f| f.predict_s_per_row * if bagged { f.models.len() as f64 } else { 1.0 })
}

/// Whether `trial`'s configuration is bagged in the final model: it kept its split
/// models, and `final_fit` is `Bag`, or `Auto` and its bag costs at most `left` seconds
/// per row of prediction (what [`MAX_PREDICT_S_PER_ROW`] leaves after the configurations
/// before it). Without a time budget (`timed` false) time costs nothing, as in the
/// search and the ensemble, so the same trials give the same model. The bound is
/// absolute, so timings' noise matters only near it.
pub fn bags(trial: &TrialResult, final_fit: FinalFit, timed: bool, left: f64) -> bool {
    if trial.fold_models.is_none() {
        return false;
    }
    match final_fit {
        FinalFit::Refit => false,
        FinalFit::Bag => true,
        FinalFit::Auto => !timed || predict_cost(trial, true) <= left,
    }
}

/// Most bytes of split models kept in all, as encoded in a model file.
pub const KEPT_BYTES: usize = 512 << 20;

/// Whether trials keep their split models under `final_fit` with `splits` validation
/// splits (`Auto` bags only under k-fold validation).
pub fn keeps_models(final_fit: FinalFit, splits: usize) -> bool {
    match final_fit {
        FinalFit::Refit => false,
        FinalFit::Bag => true,
        FinalFit::Auto => splits > 1,
    }
}

/// Fewest rows whose trials time their split models during the search: on smaller data
/// that would cost about as much as the fits, so the kept models of data from
/// [`MIN_TIMED_ROWS`] rows are timed once after the search instead
/// (`runner::refit::time_kept_models`).
pub const MIN_JUDGED_ROWS: usize = 500;

/// Fewest rows whose models' prediction times are judged at all: models of smaller data
/// count as costing nothing, so that their runs do not depend on timings (a tiny data
/// set's models predict fast anyway, and its model should not change with the machine's
/// load). 250, above scikit-learn's 200-row check data: a bag of 100-tree boosters there,
/// timed in a debug build, lands near the bound and made two equal fits differ.
pub const MIN_TIMED_ROWS: usize = 250;

/// Whether a run judges its models by their prediction times: under a time budget
/// (without one, time costs nothing) and on data of at least [`MIN_TIMED_ROWS`] rows.
pub fn times_predictions(rows: usize, budgeted: bool) -> bool {
    budgeted && rows >= MIN_TIMED_ROWS
}

/// Rows a split model's prediction time is measured on: the validation rows repeated up
/// to this many, so the cost of a call (and its noise) is spread thin, and a small data
/// set's models are judged by what predicting many rows would take.
pub const TIMED_ROWS: usize = 2_000;

/// Seconds `model` takes per row to predict `x` (its rows repeated up to [`TIMED_ROWS`]);
/// 0 when it cannot predict them (the trial's own prediction would have failed first).
pub fn time_per_row(model: &FittedModel, x: &ndarray::Array2<f64>) -> f64 {
    if x.nrows() == 0 {
        return 0.0;
    }
    let repeated;
    let rows = if x.nrows() >= TIMED_ROWS {
        x.view()
    } else {
        let index: Vec<usize> = (0..TIMED_ROWS).map(|i| i % x.nrows()).collect();
        repeated = x.select(ndarray::Axis(0), &index);
        repeated.view()
    };
    let start = std::time::Instant::now();
    match model.predict(rows) {
        Ok(_) => start.elapsed().as_secs_f64() / rows.nrows() as f64,
        Err(_) => 0.0,
    }
}

/// A trial's split models with their measured size, and the seconds one of them takes
/// per row predicted ([`time_per_row`], averaged; 0 under [`MIN_JUDGED_ROWS`]); `None`
/// when one cannot be encoded (it could not be stored in a model file either).
pub fn fold_models(models: Vec<FittedModel>, predict_s_per_row: f64) -> Option<FoldModels> {
    let bytes = models.iter().map(|m| postcard::experimental::serialized_size(m).ok()).sum::<Option<usize>>()?;
    Some(FoldModels { models, bytes, predict_s_per_row })
}

/// Drops the split models of all but the best trials, within [`KEPT_BYTES`]; called
/// after every trial, with [`crate::ensemble::keep_best`].
pub fn keep_best(results: &mut [TrialResult], direction: Direction) {
    crate::ensemble::retain_best(results, direction, KEPT_BYTES, |t| t.fold_models.as_ref().map(|f| f.bytes), |t| t.fold_models = None);
}

/// How a model's configurations were fitted, for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinalFitUsed {
    /// Configurations bagged (their split models averaged).
    pub bagged: usize,
    /// Models per bagged configuration.
    pub folds: usize,
    /// Configurations refit on all rows.
    pub refit: usize,
}

impl FinalFitUsed {
    /// "bagged: 5 split models per configuration", "refit on all rows", or both.
    pub fn describe(&self) -> String {
        let bagged = format!("bagged ({} split models averaged per configuration)", self.folds);
        match (self.bagged, self.refit) {
            (0, _) => "refit on all rows".into(),
            (_, 0) => bagged,
            (b, r) => format!("{b} configurations {bagged}, {r} refit on all rows"),
        }
    }

    /// `"bag"`, `"refit"` or `"mixed"`.
    pub fn name(&self) -> &'static str {
        match (self.bagged, self.refit) {
            (0, _) => "refit",
            (_, 0) => "bag",
            _ => "mixed",
        }
    }
}
