//! k nearest neighbours over a linfa-nn index.
use linfa_nn::distance::L2Dist;
use linfa_nn::{CommonNearestNeighbour, NearestNeighbour};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{subsample_rows, Check, DataShape, FitContext, FittedModel, Learner};
use crate::preprocess::Encoding;
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_str, get_usize, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

const NAME: &str = "knn";
/// Rows kept as neighbours: prediction cost grows with them.
const MAX_ROWS: usize = 5_000;

/// k nearest neighbours (classification and regression).
pub struct KnnLearner;

impl Learner for KnnLearner {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "k nearest neighbours on standardised inputs (at most 5,000 reference rows)"
    }
    fn supports(&self, _task: Task) -> bool {
        true
    }
    fn encoding(&self) -> Encoding {
        Encoding::Scaled
    }
    fn space(&self, _task: Task, shape: DataShape) -> SearchSpace {
        SearchSpace::default().int("k", 1, 50.min(shape.rows.max(2) as i64 - 1).max(1), true).choice("weights", &["uniform", "distance"])
    }
    fn starts(&self, _task: Task, shape: DataShape) -> Vec<Hyperparams> {
        vec![Hyperparams::from([("k".into(), ParamValue::Int(5.min(shape.rows as i64 - 1).max(1))), ("weights".into(), ParamValue::Choice("distance".into()))])]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        2.0 + shape.features as f64 / 20.0
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let k = get_usize(config, "k", NAME)?.max(1);
        let distance = match get_str(config, "weights", NAME)? {
            "uniform" => false,
            "distance" => true,
            other => return Err(Error::params(NAME, format!("unknown weights '{other}'"))),
        };
        let rows = subsample_rows(x.nrows(), MAX_ROWS, ctx.seed);
        let (targets, n_classes) = match y {
            Target::Classes { codes, labels } => (rows.iter().map(|&r| codes[r] as f64).collect(), labels.len()),
            Target::Values(v) => (rows.iter().map(|&r| v[r]).collect(), 0),
        };
        Ok(FittedModel::Knn(KnnModel { reference: x.select(Axis(0), &rows), targets, n_classes, k: k.min(rows.len()), distance }))
    }
}

/// Stored reference rows and their targets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KnnModel {
    reference: Array2<f64>,
    targets: Array1<f64>,
    pub(super) n_classes: usize,
    k: usize,
    distance: bool,
}

impl KnnModel {
    pub(super) fn n_features(&self) -> usize {
        self.reference.ncols()
    }

    pub(super) fn check(&self) -> Check {
        let n = self.reference.nrows();
        if n == 0 || self.targets.len() != n {
            return Err(format!("{n} stored rows with {} targets", self.targets.len()));
        }
        if self.k == 0 || self.k > n {
            return Err(format!("k = {} neighbours of {n} stored rows", self.k));
        }
        if self.reference.iter().any(|v| !v.is_finite()) {
            return Err("a non-finite value in the stored rows".into());
        }
        let k = self.n_classes as f64;
        let bad = |t: f64| if self.n_classes > 0 { !(t >= 0.0 && t < k && t.fract() == 0.0) } else { !t.is_finite() };
        match self.targets.iter().position(|&t| bad(t)) {
            Some(i) => Err(format!("stored row {i} has target {} (classes: {})", self.targets[i], self.n_classes)),
            None => Ok(()),
        }
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        let index = CommonNearestNeighbour::KdTree.from_batch(&self.reference, L2Dist).map_err(|e| Error::learner(NAME, e))?;
        let mut proba = Array2::zeros((x.nrows(), self.n_classes.max(1)));
        let mut values = Array1::zeros(x.nrows());
        for (i, row) in x.rows().into_iter().enumerate() {
            let found = index.k_nearest(row, self.k).map_err(|e| Error::learner(NAME, e))?;
            let mut total = 0.0;
            for (point, j) in found {
                let d = point.iter().zip(row.iter()).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
                let w = if self.distance { 1.0 / (d + 1e-9) } else { 1.0 };
                total += w;
                if self.n_classes > 0 {
                    proba[[i, self.targets[j] as usize]] += w;
                } else {
                    values[i] += w * self.targets[j];
                }
            }
            if total > 0.0 {
                proba.row_mut(i).mapv_inplace(|v| v / total);
                values[i] /= total;
            }
        }
        Ok(if self.n_classes > 0 { Prediction::Classes(proba) } else { Prediction::Values(values) })
    }
}
