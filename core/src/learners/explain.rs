//! What a fitted model's prediction is made of: exact TreeSHAP contributions for the
//! booster and the forests (see [`crate::shap`]), and the raw outputs they add up to.
use ndarray::{s, Array2, Array3, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{check_inputs, FittedModel};
use crate::error::{Error, Result};

/// What the explained outputs of a model are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputSpace {
    /// Predicted values (regression).
    Value,
    /// Log-odds of class 1 (binary) or per-class margins before the softmax (booster).
    Margin,
    /// Class probabilities (forests).
    Probability,
}

impl OutputSpace {
    /// Its name in output files.
    pub fn name(self) -> &'static str {
        match self {
            OutputSpace::Value => "value",
            OutputSpace::Margin => "margin",
            OutputSpace::Probability => "probability",
        }
    }
}

impl FittedModel {
    /// Exact TreeSHAP contributions of the model's explained outputs for the rows of `x`:
    /// the value (regression), class 1 (binary) or every class (multiclass), as margins
    /// (booster) or probabilities (forests). The array is `(rows, features + 1, outputs)`,
    /// the base value last; each row's entries sum to [`FittedModel::raw_outputs`].
    /// `None` for a model that is not a tree ensemble.
    pub fn contributions(&self, x: ArrayView2<f64>) -> Result<Option<(Array3<f64>, OutputSpace)>> {
        self.check_explained(x)?;
        let (c, space) = match self {
            FittedModel::Gbdt(m) => (crate::shap::booster(&m.booster, x), if m.n_classes > 0 { OutputSpace::Margin } else { OutputSpace::Value }),
            FittedModel::Forest(m) => (crate::shap::forest(m, x), if m.n_classes > 0 { OutputSpace::Probability } else { OutputSpace::Value }),
            _ => return Ok(None),
        };
        // A binary forest explains class 1, as a binary booster does.
        Ok(Some((if c.len_of(Axis(2)) == 2 { c.slice(s![.., .., 1..]).to_owned() } else { c }, space)))
    }

    /// The outputs [`FittedModel::contributions`] explain, `(rows, outputs)`, computed by
    /// prediction; `None` for a model that is not a tree ensemble.
    pub fn raw_outputs(&self, x: ArrayView2<f64>) -> Result<Option<Array2<f64>>> {
        self.check_explained(x)?;
        let raw = match self {
            FittedModel::Gbdt(m) => m.booster.predict_raw(x),
            FittedModel::Forest(m) => m.predict(x),
            _ => return Ok(None),
        };
        Ok(Some(if raw.ncols() == 2 { raw.slice(s![.., 1..]).to_owned() } else { raw }))
    }

    /// Rough work of [`FittedModel::contributions`] per row (see [`crate::shap::work`]);
    /// `None` for a model that is not a tree ensemble.
    pub fn shap_work(&self) -> Option<f64> {
        match self {
            FittedModel::Gbdt(m) => Some(m.booster.trees.iter().flatten().map(crate::shap::work).sum()),
            FittedModel::Forest(m) => Some(m.trees.iter().map(crate::shap::work).sum()),
            _ => None,
        }
    }

    fn check_explained(&self, x: ArrayView2<f64>) -> Result<()> {
        if x.ncols() != self.n_features() {
            return Err(Error::Data(format!("the model expects {} input columns, got {}", self.n_features(), x.ncols())));
        }
        check_inputs(x, true)
    }
}
