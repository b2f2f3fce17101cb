//! The engine's gradient-boosted trees ([`crate::gbdt`]) as a learner: native missing
//! values and categories, per-round validation reports for the stopping rule, and a
//! FLAML-style search space that starts with small trees and few rounds.
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{Check, Control, DataShape, FitContext, FittedModel, Learner};
use crate::error::{Error, Result};
use crate::gbdt::{Booster, GbdtParams, Objective};
use crate::metrics::Prediction;
use crate::preprocess::Encoding;
use crate::space::{get_f64, get_usize, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

const NAME: &str = "gbdt";
/// Rounds between intermediate reports to the stopping rule.
const REPORT_EVERY: usize = 10;
/// Share of its rounds a model grows before its first report. Stopping rules compare
/// trials at the same round, and in its first rounds a small learning rate trails a large
/// one that it ends up beating.
const FIRST_REPORT_SHARE: usize = 4;

/// Histogram gradient boosting.
pub struct GbdtLearner;

impl GbdtLearner {
    fn params(config: &Hyperparams, ctx: &FitContext) -> Result<GbdtParams> {
        let params = GbdtParams {
            num_rounds: get_usize(config, "n_estimators", NAME)?,
            learning_rate: get_f64(config, "learning_rate", NAME)?,
            num_leaves: get_usize(config, "num_leaves", NAME)?,
            min_child_samples: get_usize(config, "min_child_samples", NAME)?,
            feature_fraction: get_f64(config, "feature_fraction", NAME)?,
            bagging_fraction: get_f64(config, "bagging_fraction", NAME)?,
            lambda_l1: get_f64(config, "lambda_l1", NAME)?,
            lambda_l2: get_f64(config, "lambda_l2", NAME)?,
            threads: ctx.threads.max(1),
            seed: ctx.seed,
            ..GbdtParams::default()
        };
        params.check().map_err(|e| Error::params(NAME, e))?;
        Ok(params)
    }
}

/// Largest leaf output (before shrinkage) of a softmax tree: a rare class's leaves have
/// hessian sums near zero, and unbounded Newton steps there make raw scores explode and
/// the model collapse (LightGBM's defaults do on large, very imbalanced multiclass data).
const SOFTMAX_MAX_DELTA_STEP: f64 = 5.0;

/// Training rows (of a fold or the holdout's training part) from which the booster also
/// starts from a slower, often better configuration.
const LARGE_DATA_ROWS: usize = 10_000;

fn start(rounds: i64, leaves: i64, l2: f64, learning_rate: f64) -> Hyperparams {
    Hyperparams::from([
        ("n_estimators".into(), ParamValue::Int(rounds)),
        ("num_leaves".into(), ParamValue::Int(leaves)),
        ("min_child_samples".into(), ParamValue::Int(20)),
        ("learning_rate".into(), ParamValue::Float(learning_rate)),
        ("feature_fraction".into(), ParamValue::Float(1.0)),
        ("bagging_fraction".into(), ParamValue::Float(1.0)),
        ("lambda_l1".into(), ParamValue::Float(1.0 / 1024.0)),
        ("lambda_l2".into(), ParamValue::Float(l2)),
    ])
}

impl Learner for GbdtLearner {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "gradient-boosted trees: histograms, leaf-wise growth, native missing values and categories"
    }
    fn supports(&self, _task: Task) -> bool {
        true
    }
    fn encoding(&self) -> Encoding {
        Encoding::Trees
    }
    fn space(&self, _task: Task, shape: DataShape) -> SearchSpace {
        let max_leaves = (shape.rows / 4).clamp(4, 256) as i64;
        SearchSpace::default()
            .int("n_estimators", 4, 1000, true)
            .int("num_leaves", 4, max_leaves, true)
            .int("min_child_samples", 2, 128, true)
            .float("learning_rate", 1.0 / 1024.0, 1.0, true)
            .float("feature_fraction", 0.5, 1.0, false)
            .float("bagging_fraction", 0.5, 1.0, false)
            .float("lambda_l1", 1.0 / 1024.0, 1024.0, true)
            .float("lambda_l2", 1.0 / 1024.0, 1024.0, true)
    }
    fn starts(&self, _task: Task, shape: DataShape) -> Vec<Hyperparams> {
        // FLAML's low-cost start, LightGBM's defaults, then from LARGE_DATA_ROWS training
        // rows those at AutoGluon's default learning rate (0.05; AutoGluon early-stops
        // it, here it gets 400 rounds: twice the defaults' rounds times rate), often better
        // and four times their cost. Large data's searches have time for tens of trials,
        // so where they start matters; small data's run hundreds, and their local search
        // gets there by itself.
        let leaves = 31.min((shape.rows / 4).clamp(4, 256) as i64);
        let mut starts = vec![start(4, 4, 1.0, 0.1), start(100, leaves, 1.0 / 1024.0, 0.1)];
        if shape.rows >= LARGE_DATA_ROWS {
            starts.push(start(400, leaves, 1.0 / 1024.0, 0.05));
        }
        starts
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        0.05 + shape.rows as f64 * shape.features as f64 / 2e6
    }
    fn leads(&self) -> bool {
        true
    }
    fn work(&self, config: &Hyperparams) -> f64 {
        // Each round builds histograms of the sampled rows and columns, and searches them
        // once per leaf (with histogram subtraction, about a logarithm's worth of passes).
        let get = |name: &str, default: f64| get_f64(config, name, NAME).unwrap_or(default);
        let leaves = get("num_leaves", 31.0).max(2.0);
        get("n_estimators", 100.0) * get("feature_fraction", 1.0) * get("bagging_fraction", 1.0) * (1.0 + leaves.ln())
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let mut params = Self::params(config, ctx)?;
        let (objective, n_classes) = match y {
            Target::Values(_) => (Objective::SquaredError, 0),
            Target::Classes { labels, .. } if labels.len() == 2 => (Objective::Logistic, 2),
            Target::Classes { labels, .. } => (Objective::Softmax { k: labels.len() }, labels.len()),
        };
        if matches!(objective, Objective::Softmax { .. }) {
            params.max_delta_step = SOFTMAX_MAX_DELTA_STEP;
        }
        let yv = y.as_f64();
        let valid = ctx.valid;
        let valid_y = valid.map(|(_, t)| t.as_f64());
        let categorical: Vec<bool> = if ctx.categorical.len() == x.ncols() { ctx.categorical.to_vec() } else { vec![false; x.ncols()] };
        let mut callback = |round: usize, raw: &Array2<f64>, train_raw: &Array2<f64>| {
            if ctx.expired() {
                return false;
            }
            if valid.is_some() && round % REPORT_EVERY == 0 && round * FIRST_REPORT_SHARE >= params.num_rounds && round < params.num_rounds {
                let p = to_prediction(objective, n_classes, raw.clone());
                let train = ctx.train_predictions.then(|| to_prediction(objective, n_classes, train_raw.clone()));
                return ctx.report(round, &p, train.as_ref()) == Control::Continue;
            }
            true
        };
        let booster = Booster::fit(&params, objective, x, &yv, &categorical, valid.zip(valid_y.as_deref()).map(|((vx, _), vy)| (vx, vy)), &mut callback)
            .map_err(|e| Error::learner(NAME, e))?;
        Ok(FittedModel::Gbdt(GbdtModel { booster, n_classes }))
    }
}

fn to_prediction(objective: Objective, n_classes: usize, raw: Array2<f64>) -> Prediction {
    let t = objective.transform(raw);
    match objective {
        Objective::SquaredError => Prediction::Values(t.column(0).to_owned()),
        Objective::Logistic => {
            let mut p = Array2::zeros((t.nrows(), 2));
            for (i, &v) in t.column(0).iter().enumerate() {
                p[[i, 0]] = 1.0 - v;
                p[[i, 1]] = v;
            }
            Prediction::Classes(p)
        }
        Objective::Softmax { .. } => {
            debug_assert_eq!(t.ncols(), n_classes);
            Prediction::Classes(t)
        }
    }
}

/// A fitted booster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GbdtModel {
    /// The trees.
    pub booster: Booster,
    pub(super) n_classes: usize,
}

impl GbdtModel {
    pub(super) fn check(&self) -> Check {
        let expected = match self.booster.objective {
            Objective::SquaredError => 0,
            Objective::Logistic => 2,
            Objective::Softmax { k } => k,
        };
        if self.n_classes != expected {
            return Err(format!("{} classes but a {:?} objective", self.n_classes, self.booster.objective));
        }
        self.booster.check()
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        to_prediction(self.booster.objective, self.n_classes, self.booster.predict_raw(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_data_gets_a_third_slower_start() {
        let starts = |rows| GbdtLearner.starts(Task::Binary, DataShape { rows, features: 5, classes: 2 });
        assert_eq!(starts(LARGE_DATA_ROWS - 1).len(), 2);
        let large = starts(LARGE_DATA_ROWS);
        assert_eq!(large.len(), 3);
        assert_eq!(large[2].get("learning_rate"), Some(&ParamValue::Float(0.05)));
        assert_eq!(large[2].get("n_estimators"), Some(&ParamValue::Int(400)));
    }
}
