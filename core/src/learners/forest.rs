//! The engine's forests ([`crate::forest`]) as learners: `random_forest` (bootstrap rows,
//! best thresholds) and `extra_trees` (all rows, random thresholds), for classification
//! and regression, with native missing values and categories.
use ndarray::ArrayView2;

use super::{DataShape, FitContext, FittedModel, Learner};
use crate::error::{Error, Result};
use crate::forest::{ForestModel, ForestParams, ForestTarget};
use crate::metrics::Prediction;
use crate::preprocess::Encoding;
use crate::space::{get_f64, get_usize, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

/// Deepest tree the space allows (deep enough to mean "no limit" on most data).
const MAX_DEPTH: i64 = 40;

/// A random forest or extra-trees.
pub struct ForestLearner {
    /// Extra-trees (all rows, random thresholds) rather than a random forest.
    pub extra: bool,
}

impl ForestLearner {
    fn base(&self) -> ForestParams {
        if self.extra {
            ForestParams::extra_trees()
        } else {
            ForestParams::random_forest()
        }
    }

    fn params(&self, config: &Hyperparams, n_features: usize, ctx: &FitContext) -> Result<ForestParams> {
        let name = self.name();
        let fraction = get_f64(config, "max_features", name)?;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::params(name, format!("max_features = {fraction} is not a fraction in (0, 1]")));
        }
        let params = ForestParams {
            n_trees: get_usize(config, "n_estimators", name)?,
            max_features: features_per_split(fraction, n_features),
            min_samples_leaf: get_usize(config, "min_samples_leaf", name)?,
            max_depth: get_usize(config, "max_depth", name)?,
            threads: ctx.threads.max(1),
            seed: ctx.seed,
            ..self.base()
        };
        params.check().map_err(|e| Error::params(name, e))?;
        Ok(params)
    }
}

/// Candidate features per split for a share of the columns: rounded up (scikit-learn
/// rounds down), because the engine sizes starts by the one-hot width, wider than the
/// tree encoding's when there are categories, and small shares of few columns would
/// otherwise all mean one feature. Shares that are whole numbers of columns are exact.
fn features_per_split(fraction: f64, n_features: usize) -> usize {
    ((fraction * n_features as f64 - 1e-6).ceil() as usize).clamp(1, n_features.max(1))
}

/// scikit-learn's default share of candidate features: the square root of the columns for
/// classification, all of them for regression.
fn default_fraction(task: Task, shape: DataShape) -> f64 {
    let p = shape.features.max(1) as f64;
    if task.is_classification() { p.sqrt().floor().max(1.0) / p } else { 1.0 }
}

/// The smallest share of features the space allows (below 0.05 when the default is).
fn min_fraction(task: Task, shape: DataShape) -> f64 {
    default_fraction(task, shape).min(0.05)
}

fn start(trees: i64, fraction: f64, min_leaf: i64) -> Hyperparams {
    Hyperparams::from([
        ("n_estimators".into(), ParamValue::Int(trees)),
        ("max_features".into(), ParamValue::Float(fraction)),
        ("min_samples_leaf".into(), ParamValue::Int(min_leaf)),
        ("max_depth".into(), ParamValue::Int(MAX_DEPTH)),
    ])
}

impl Learner for ForestLearner {
    fn name(&self) -> &'static str {
        if self.extra {
            "extra_trees"
        } else {
            "random_forest"
        }
    }
    fn description(&self) -> &'static str {
        if self.extra {
            "extra-trees: random thresholds on all rows, native missing values and categories"
        } else {
            "random forest: bootstrap rows, best thresholds over bins, native missing values and categories"
        }
    }
    fn supports(&self, _task: Task) -> bool {
        true
    }
    fn encoding(&self) -> Encoding {
        Encoding::Trees
    }
    fn space(&self, task: Task, shape: DataShape) -> SearchSpace {
        SearchSpace::default()
            .int("n_estimators", 16, 512, true)
            .float("max_features", min_fraction(task, shape), 1.0, true)
            .int("min_samples_leaf", 1, 32, true)
            .int("max_depth", 4, MAX_DEPTH, false)
    }
    fn starts(&self, task: Task, shape: DataShape) -> Vec<Hyperparams> {
        // scikit-learn's defaults, then a cheaper forest of smoother trees on more features.
        let fraction = default_fraction(task, shape);
        vec![start(100, fraction, 1), start(32, if task.is_classification() { (2.0 * fraction).min(1.0) } else { 0.5 }, 2)]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        // 100 full-depth trees: rows x log2(rows) x candidate features, about 0.3 us each
        // on one core (random forest; extra-trees grow on all rows, half as much again).
        let rows = shape.rows.max(2) as f64;
        let features = shape.features.max(1) as f64;
        let per_split = if shape.classes > 0 { features.sqrt() } else { features };
        let factor = if self.extra { 1.5 } else { 1.0 };
        0.2 + factor * 3e-7 * rows * rows.log2() * per_split
    }
    fn work(&self, config: &Hyperparams) -> f64 {
        // Trees x candidate features x levels (the depth cap, past 20 rarely reached).
        let get = |name: &str, default: f64| get_f64(config, name, self.name()).unwrap_or(default);
        get("n_estimators", 100.0) * get("max_features", 0.5) * get("max_depth", 20.0).clamp(1.0, 20.0)
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let params = self.params(config, x.ncols(), ctx)?;
        let target = match y {
            Target::Classes { codes, labels } => ForestTarget::Classes { codes, k: labels.len() },
            Target::Values(v) => ForestTarget::Values(v),
        };
        let categorical: Vec<bool> = if ctx.categorical.len() == x.ncols() { ctx.categorical.to_vec() } else { vec![false; x.ncols()] };
        let forest = ForestModel::fit(&params, x, target, &categorical, ctx.deadline).map_err(|e| Error::learner(self.name(), e))?;
        Ok(FittedModel::Forest(forest))
    }
}

/// Predictions of a forest: class probabilities, or values.
pub(super) fn predict(forest: &ForestModel, x: ArrayView2<f64>) -> Prediction {
    let p = forest.predict(x);
    if forest.n_classes > 0 {
        Prediction::Classes(p)
    } else {
        Prediction::Values(p.column(0).to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_draws_square_root_features_for_classification_and_all_for_regression() {
        for p in [1, 2, 7, 30, 61, 64, 1000] {
            let shape = DataShape { rows: 1000, features: p, classes: 2 };
            let share = |task| match (ForestLearner { extra: false }).starts(task, shape)[0]["max_features"] {
                ParamValue::Float(f) => f,
                _ => unreachable!("a share"),
            };
            assert_eq!(features_per_split(share(Task::Binary), p), ((p as f64).sqrt() as usize).max(1), "{p}");
            assert_eq!(features_per_split(share(Task::Regression), p), p);
        }
        // Fewer columns than the starts were sized for: at least two features for 0.2.
        assert_eq!(features_per_split(0.2, 7), 2);
    }
}
