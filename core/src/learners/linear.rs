//! Linear regression (linfa-linear) and elastic net / ridge (linfa-elasticnet).
use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use linfa_linear::{FittedLinearRegression, LinearRegression};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{check_weights, target_values, Check, DataShape, FitContext, FittedModel, Learner};
use crate::preprocess::Encoding;
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_f64, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

/// Ordinary least squares.
pub struct LinearLearner;

impl Learner for LinearLearner {
    fn name(&self) -> &'static str {
        "linear"
    }
    fn description(&self) -> &'static str {
        "ordinary least squares (regression)"
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Regression
    }
    fn space(&self, _task: Task, _shape: DataShape) -> SearchSpace {
        SearchSpace::default()
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        vec![Hyperparams::new()]
    }
    fn relative_cost(&self, _shape: DataShape) -> f64 {
        0.2
    }
    fn fit(&self, _config: &Hyperparams, x: ArrayView2<f64>, y: &Target, _ctx: &mut FitContext) -> Result<FittedModel> {
        let data = DatasetBase::new(x, target_values("linear", y)?);
        let model = LinearRegression::new().fit(&data).map_err(|e| Error::learner("linear", e))?;
        if model.params().iter().any(|v| !v.is_finite()) || !model.intercept().is_finite() {
            return Err(Error::learner("linear", "non-finite coefficients (collinear columns?); try ridge"));
        }
        Ok(FittedModel::Linear(LinearModel { model, n_features: x.ncols() }))
    }
}

/// A fitted least-squares model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearModel {
    model: FittedLinearRegression<f64>,
    pub(super) n_features: usize,
}

impl LinearModel {
    pub(super) fn check(&self) -> Check {
        check_weights(self.model.params().len(), self.n_features, self.model.params().iter().copied().chain([self.model.intercept()]))
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        Prediction::Values(self.model.predict(&x))
    }
}

/// Elastic net, or ridge (`l1_ratio` fixed at 0).
pub struct ElasticNetLearner {
    /// Ridge: L2 penalty only.
    pub ridge: bool,
}

impl ElasticNetLearner {
    fn label(&self) -> &'static str {
        if self.ridge { "ridge" } else { "elastic_net" }
    }
}

impl Learner for ElasticNetLearner {
    fn name(&self) -> &'static str {
        self.label()
    }
    fn description(&self) -> &'static str {
        if self.ridge { "ridge regression, L2-penalised least squares" } else { "elastic net, L1 and L2 penalties (regression)" }
    }
    fn supports(&self, task: Task) -> bool {
        task == Task::Regression
    }
    fn encoding(&self) -> Encoding {
        Encoding::Scaled // linfa's elastic net is wrong on uncentred inputs
    }
    fn space(&self, _task: Task, _shape: DataShape) -> SearchSpace {
        let space = SearchSpace::default().float("penalty", 1e-5, 10.0, true);
        if self.ridge { space } else { space.float("l1_ratio", 0.0, 1.0, false) }
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        let mut c = Hyperparams::from([("penalty".into(), ParamValue::Float(if self.ridge { 1e-3 } else { 1e-2 }))]);
        if !self.ridge {
            c.insert("l1_ratio".into(), ParamValue::Float(0.5));
        }
        vec![c]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        // Coordinate descent: passes over rows × columns until it converges.
        0.2 + shape.rows as f64 * shape.features as f64 / 1e5
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let name = self.label();
        let penalty = get_f64(config, "penalty", name)?;
        let l1_ratio = if self.ridge { 0.0 } else { get_f64(config, "l1_ratio", name)? };
        let data = DatasetBase::new(x.to_owned(), target_values(name, y)?);
        let iterations = if ctx.expired() { 10 } else { 1000 };
        let model = ElasticNet::params().penalty(penalty).l1_ratio(l1_ratio).max_iterations(iterations).tolerance(1e-4).fit(&data).map_err(|e| Error::learner(name, e))?;
        Ok(FittedModel::ElasticNet(ElasticNetModel { model, n_features: x.ncols() }))
    }
}

/// A fitted elastic net.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ElasticNetModel {
    model: ElasticNet<f64>,
    pub(super) n_features: usize,
}

impl ElasticNetModel {
    pub(super) fn check(&self) -> Check {
        check_weights(self.model.hyperplane().len(), self.n_features, self.model.hyperplane().iter().copied().chain([self.model.intercept()]))
    }

    pub(super) fn predict(&self, x: ArrayView2<f64>) -> Prediction {
        Prediction::Values(self.model.predict(&x))
    }
}
