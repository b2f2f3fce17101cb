//! Logistic regression (linfa-logistic): binary and multinomial.
use linfa::prelude::*;
use linfa_logistic::{FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression, MultiLogisticRegression};
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{check_weights, class_codes, Check, DataShape, FitContext, FittedModel, Learner};
use crate::preprocess::Encoding;
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_f64, get_usize, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

/// Logistic regression with an L2 penalty.
pub struct LogisticLearner;

const NAME: &str = "logistic";

impl Learner for LogisticLearner {
    fn name(&self) -> &'static str {
        NAME
    }
    fn description(&self) -> &'static str {
        "logistic regression, L2-penalised (binary and multinomial)"
    }
    fn supports(&self, task: Task) -> bool {
        task.is_classification()
    }
    fn encoding(&self) -> Encoding {
        Encoding::Scaled
    }
    fn space(&self, _task: Task, _shape: DataShape) -> SearchSpace {
        SearchSpace::default().float("alpha", 1e-5, 100.0, true).int("max_iterations", 50, 400, true)
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        vec![Hyperparams::from([("alpha".into(), ParamValue::Float(1.0)), ("max_iterations".into(), ParamValue::Int(100))])]
    }
    fn relative_cost(&self, _shape: DataShape) -> f64 {
        1.0
    }
    fn work(&self, config: &Hyperparams) -> f64 {
        get_f64(config, "max_iterations", NAME).unwrap_or(100.0)
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, _ctx: &mut FitContext) -> Result<FittedModel> {
        let alpha = get_f64(config, "alpha", NAME)?;
        let iterations = get_usize(config, "max_iterations", NAME)? as u64;
        let (codes, k) = class_codes(NAME, y)?;
        let data = DatasetBase::new(x, codes);
        if k == 2 {
            let model = LogisticRegression::default().alpha(alpha).max_iterations(iterations).fit(&data).map_err(|e| Error::learner(NAME, e))?;
            Ok(FittedModel::Logistic(LogisticModel { model, n_features: x.ncols() }))
        } else {
            let model = MultiLogisticRegression::default().alpha(alpha).max_iterations(iterations).fit(&data).map_err(|e| Error::learner(NAME, e))?;
            Ok(FittedModel::MultiLogistic(MultiLogisticModel { model, n_classes: k, n_features: x.ncols() }))
        }
    }
}

/// A fitted binary logistic regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogisticModel {
    model: FittedLogisticRegression<f64, usize>,
    pub(super) n_features: usize,
}

impl LogisticModel {
    pub(super) fn check(&self) -> Check {
        let m = &self.model;
        check_weights(m.params().len(), self.n_features, m.params().iter().copied().chain([m.intercept()]))?;
        let (pos, neg) = (m.labels().pos.class, m.labels().neg.class);
        if pos.max(neg) > 1 || pos == neg {
            return Err(format!("binary classes {neg} and {pos} (expected 0 and 1)"));
        }
        Ok(())
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        let p = self.model.predict_probabilities(&x);
        // linfa's positive class is the larger label; ours are 0 and 1.
        let pos_is_one = self.model.labels().pos.class == 1;
        let mut out = Array2::zeros((x.nrows(), 2));
        for (i, &v) in p.iter().enumerate() {
            let one = if pos_is_one { v } else { 1.0 - v };
            out[[i, 0]] = 1.0 - one;
            out[[i, 1]] = one;
        }
        Prediction::Classes(out)
    }
}

/// A fitted multinomial logistic regression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MultiLogisticModel {
    model: MultiFittedLogisticRegression<f64, usize>,
    pub(super) n_classes: usize,
    pub(super) n_features: usize,
}

impl MultiLogisticModel {
    pub(super) fn check(&self) -> Check {
        let (params, intercept, classes) = (self.model.params(), self.model.intercept(), self.model.classes());
        check_weights(params.nrows(), self.n_features, params.iter().chain(intercept).copied())?;
        if params.ncols() != classes.len() || intercept.len() != classes.len() {
            return Err(format!("{} coefficient columns and {} intercepts for {} classes", params.ncols(), intercept.len(), classes.len()));
        }
        match classes.iter().find(|&&c| c >= self.n_classes) {
            Some(c) => Err(format!("class {c} of {}", self.n_classes)),
            None => Ok(()),
        }
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        let p = self.model.predict_probabilities(&x);
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        // A class absent from the training rows keeps probability zero.
        for (j, &class) in self.model.classes().iter().enumerate() {
            out.column_mut(class).assign(&p.column(j));
        }
        Prediction::Classes(out)
    }
}
