//! Gaussian naive Bayes (linfa-bayes).
use linfa::prelude::*;
use linfa_bayes::{GaussianNb, NaiveBayes};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{class_codes, DataShape, FitContext, FittedModel, Learner};
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_f64, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

const NAME: &str = "naive_bayes";

/// Gaussian naive Bayes.
pub struct NaiveBayesLearner;

impl Learner for NaiveBayesLearner {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "Gaussian naive Bayes (classification)"
    }
    fn supports(&self, task: Task) -> bool {
        task.is_classification()
    }
    fn space(&self, _task: Task, _shape: DataShape) -> SearchSpace {
        SearchSpace::default().float("var_smoothing", 1e-11, 1e-1, true)
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        vec![Hyperparams::from([("var_smoothing".into(), ParamValue::Float(1e-9))])]
    }
    fn relative_cost(&self, _shape: DataShape) -> f64 {
        0.1
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, _ctx: &mut FitContext) -> Result<FittedModel> {
        let smoothing = get_f64(config, "var_smoothing", NAME)?;
        let (codes, k) = class_codes(NAME, y)?;
        let model = GaussianNb::params().var_smoothing(smoothing).fit(&DatasetBase::new(x, codes)).map_err(|e| Error::learner(NAME, e))?;
        Ok(FittedModel::NaiveBayes(NaiveBayesModel { model, n_classes: k, n_features: x.ncols() }))
    }
}

/// A fitted Gaussian naive Bayes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NaiveBayesModel {
    model: GaussianNb<f64, usize>,
    pub(super) n_classes: usize,
    pub(super) n_features: usize,
}

impl NaiveBayesModel {
    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        // linfa's predict_proba exponentiates without shifting and underflows to NaN far
        // from every class; take the joint log-likelihood and a stable softmax instead.
        let jll = self.model.joint_log_likelihood(x);
        let mut out = Array2::from_elem((x.nrows(), self.n_classes), f64::NEG_INFINITY);
        for (&&class, values) in &jll {
            out.column_mut(class).assign(values);
        }
        for mut row in out.rows_mut() {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            row.mapv_inplace(|v| if v == f64::NEG_INFINITY { 0.0 } else { (v - max).exp() });
            let total = row.sum();
            row.mapv_inplace(|v| v / total);
        }
        Prediction::Classes(out)
    }
}
