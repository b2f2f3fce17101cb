//! Support vector machines (linfa-svm) on a bounded subsample: the kernel matrix is dense.
use linfa::prelude::*;
use linfa::dataset::Pr;
use linfa_svm::Svm;
use ndarray::{Array1, Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{subsample_rows, Check, DataShape, FitContext, FittedModel, Learner};
use crate::preprocess::Encoding;
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_f64, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

const NAME: &str = "svm";
/// Largest training sample: the solver keeps an n x n kernel.
const MAX_ROWS: usize = 2_000;

/// RBF-kernel SVM: Platt-scaled classifier for binary tasks, SVR for regression.
pub struct SvmLearner;

impl Learner for SvmLearner {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "RBF support vector machine, binary or regression (at most 2,000 training rows)"
    }
    fn supports(&self, task: Task) -> bool {
        task != Task::Multiclass
    }
    fn encoding(&self) -> Encoding {
        Encoding::Scaled
    }
    fn space(&self, task: Task, _shape: DataShape) -> SearchSpace {
        let s = SearchSpace::default().float("c", 1e-2, 1e2, true).float("gamma_scale", 1e-2, 1e2, true);
        if task == Task::Regression { s.float("epsilon", 1e-3, 1.0, true) } else { s }
    }
    fn starts(&self, task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        let mut c = Hyperparams::from([("c".into(), ParamValue::Float(1.0)), ("gamma_scale".into(), ParamValue::Float(1.0))]);
        if task == Task::Regression {
            c.insert("epsilon".into(), ParamValue::Float(0.1));
        }
        vec![c]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        3.0 * (shape.rows.min(MAX_ROWS) as f64 / 1000.0).powi(2)
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let c = get_f64(config, "c", NAME)?;
        // linfa's gaussian kernel is exp(-|a-b|^2 / eps): eps = n_features / gamma_scale
        // matches scikit-learn's gamma = gamma_scale / n_features on standardised inputs.
        let eps = x.ncols() as f64 / get_f64(config, "gamma_scale", NAME)?;
        let rows = subsample_rows(x.nrows(), MAX_ROWS, ctx.seed);
        let sub = x.select(Axis(0), &rows);
        match y {
            Target::Classes { codes, labels } => {
                if labels.len() != 2 {
                    return Err(Error::learner(NAME, "classification is binary only"));
                }
                let targets: Array1<bool> = rows.iter().map(|&r| codes[r] == 1).collect();
                let svm = Svm::<f64, Pr>::params().pos_neg_weights(c, c).gaussian_kernel(eps).fit(&DatasetBase::new(sub, targets)).map_err(|e| Error::learner(NAME, e))?;
                Ok(FittedModel::Svc(SvcModel { svm, n_features: x.ncols() }))
            }
            Target::Values(v) => {
                let epsilon = get_f64(config, "epsilon", NAME)?;
                // SVR's epsilon is in target units: scale it by the target's spread.
                let targets: Array1<f64> = rows.iter().map(|&r| v[r]).collect();
                let (mean, std) = (targets.mean().unwrap_or(0.0), targets.std(0.0).max(1e-12));
                let scaled = targets.mapv(|t| (t - mean) / std);
                let svm = Svm::<f64, f64>::params().c_svr(c, Some(epsilon)).gaussian_kernel(eps).fit(&DatasetBase::new(sub, scaled)).map_err(|e| Error::learner(NAME, e))?;
                Ok(FittedModel::Svr(SvrModel { svm, mean, std, n_features: x.ncols() }))
            }
        }
    }
}

/// A fitted classifier with Platt probabilities for class 1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvcModel {
    svm: Svm<f64, Pr>,
    pub(super) n_features: usize,
}

impl SvcModel {
    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        let p: Array1<Pr> = self.svm.predict(&x);
        let mut out = Array2::zeros((x.nrows(), 2));
        for (i, pr) in p.iter().enumerate() {
            let one = f64::from(**pr).clamp(0.0, 1.0);
            out[[i, 0]] = 1.0 - one;
            out[[i, 1]] = one;
        }
        Prediction::Classes(out)
    }
}

/// A fitted support vector regression on a standardised target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SvrModel {
    svm: Svm<f64, f64>,
    mean: f64,
    std: f64,
    pub(super) n_features: usize,
}

impl SvrModel {
    /// The support vectors are private to linfa: [`FittedModel::check`]'s probe covers them.
    pub(super) fn check(&self) -> Check {
        if !(self.mean.is_finite() && self.std.is_finite() && self.std > 0.0) {
            return Err(format!("target scaling by mean {} and spread {}", self.mean, self.std));
        }
        Ok(())
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        let p: Array1<f64> = self.svm.predict(&x);
        Prediction::Values(p.mapv(|v| v * self.std + self.mean))
    }
}
