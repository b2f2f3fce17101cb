//! Metrics: how predictions are scored. A metric is a small trait, so plugins can add more.
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::task::{Target, Task};

/// Predictions of a model.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Class probabilities, one row per sample and one column per class label.
    Classes(Array2<f64>),
    /// Real values.
    Values(Array1<f64>),
}

/// Index of the largest of `values` (the first on ties; NaN never wins; 0 when empty or
/// all NaN): the predicted class of one row of probabilities.
#[inline]
pub fn argmax(values: impl IntoIterator<Item = f64>) -> usize {
    values.into_iter().enumerate().fold((0, f64::NEG_INFINITY), |best, (i, v)| if v > best.1 { (i, v) } else { best }).0
}

impl Prediction {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Prediction::Classes(p) => p.nrows(),
            Prediction::Values(v) => v.len(),
        }
    }
    /// True with no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Most probable class of each row (classification), by [`argmax`].
    pub fn classes(&self) -> Vec<usize> {
        match self {
            Prediction::Classes(p) => match p.as_slice() {
                // Row-major and contiguous: one slice per row (the common layout, and faster).
                Some(contiguous) if p.ncols() > 0 => contiguous.chunks_exact(p.ncols()).map(|r| argmax(r.iter().copied())).collect(),
                _ => p.rows().into_iter().map(|r| argmax(r.iter().copied())).collect(),
            },
            Prediction::Values(v) => v.iter().map(|x| x.round().max(0.0) as usize).collect(),
        }
    }
    /// Predictions of consecutive rows joined in order; `None` when they do not agree in
    /// kind or class count, or there are none.
    pub fn concat(parts: &[Prediction]) -> Option<Prediction> {
        match parts.first()? {
            Prediction::Classes(_) => {
                let views: Option<Vec<_>> = parts.iter().map(|p| if let Prediction::Classes(m) = p { Some(m.view()) } else { None }).collect();
                ndarray::concatenate(ndarray::Axis(0), &views?).ok().map(Prediction::Classes)
            }
            Prediction::Values(_) => {
                let views: Option<Vec<_>> = parts.iter().map(|p| if let Prediction::Values(v) = p { Some(v.view()) } else { None }).collect();
                ndarray::concatenate(ndarray::Axis(0), &views?).ok().map(Prediction::Values)
            }
        }
    }

    /// True when every number is finite.
    pub fn is_finite(&self) -> bool {
        match self {
            Prediction::Classes(p) => p.iter().all(|v| v.is_finite()),
            Prediction::Values(v) => v.iter().all(|v| v.is_finite()),
        }
    }
}

/// Whether larger or smaller scores are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

impl Direction {
    /// True when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Maximize => a > b,
            Direction::Minimize => a < b,
        }
    }
    /// The score as a loss (smaller is better).
    pub fn to_loss(self, score: f64) -> f64 {
        match self {
            Direction::Maximize => -score,
            Direction::Minimize => score,
        }
    }
}

/// A way to score predictions against the truth.
pub trait Metric: Send + Sync + std::fmt::Debug {
    /// Name, as given to `--metric`.
    fn name(&self) -> &str;
    /// Whether larger or smaller is better.
    fn direction(&self) -> Direction;
    /// True when the metric applies to `task`.
    fn supports(&self, task: Task) -> bool;
    /// Scores `prediction` against `truth`.
    fn score(&self, truth: &Target, prediction: &Prediction) -> Result<f64>;
}

/// The metrics that come with the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinMetric {
    /// Share of correct classes.
    Accuracy,
    /// Mean recall over classes.
    BalancedAccuracy,
    /// Unweighted mean of per-class F1.
    MacroF1,
    /// Area under the ROC curve (binary; one-vs-rest average for multiclass).
    RocAuc,
    /// Cross-entropy of the predicted probabilities.
    LogLoss,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute error.
    Mae,
    /// Coefficient of determination.
    R2,
}

impl BuiltinMetric {
    /// Every built-in metric.
    pub const ALL: [BuiltinMetric; 8] = [
        BuiltinMetric::Accuracy,
        BuiltinMetric::BalancedAccuracy,
        BuiltinMetric::MacroF1,
        BuiltinMetric::RocAuc,
        BuiltinMetric::LogLoss,
        BuiltinMetric::Rmse,
        BuiltinMetric::Mae,
        BuiltinMetric::R2,
    ];

    /// The metric named `name`.
    pub fn from_name(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| Error::Unknown {
            what: "metric",
            name: name.to_string(),
            known: Self::ALL.iter().map(|m| m.name().to_string()).collect(),
        })
    }

    /// The default objective for `task`: log-loss for classification, R² for regression.
    ///
    /// Not ROC-AUC for binary tasks (FLAML's default): it ranks without calibration, so it
    /// happily picks a barely trained booster whose probabilities all sit on one side of
    /// 0.5, and the predicted labels are then one class (seen on titanic: 0.62 accuracy).
    pub fn default_for(task: Task) -> Self {
        match task {
            Task::Binary | Task::Multiclass => BuiltinMetric::LogLoss,
            Task::Regression => BuiltinMetric::R2,
        }
    }

    /// Metrics reported for `task` besides the objective.
    pub fn report_set(task: Task) -> Vec<BuiltinMetric> {
        match task {
            Task::Binary | Task::Multiclass => vec![BuiltinMetric::Accuracy, BuiltinMetric::MacroF1, BuiltinMetric::RocAuc, BuiltinMetric::LogLoss],
            Task::Regression => vec![BuiltinMetric::R2, BuiltinMetric::Rmse, BuiltinMetric::Mae],
        }
    }
}

impl Metric for BuiltinMetric {
    fn name(&self) -> &str {
        match self {
            BuiltinMetric::Accuracy => "accuracy",
            BuiltinMetric::BalancedAccuracy => "balanced_accuracy",
            BuiltinMetric::MacroF1 => "macro_f1",
            BuiltinMetric::RocAuc => "roc_auc",
            BuiltinMetric::LogLoss => "log_loss",
            BuiltinMetric::Rmse => "rmse",
            BuiltinMetric::Mae => "mae",
            BuiltinMetric::R2 => "r2",
        }
    }

    fn direction(&self) -> Direction {
        match self {
            BuiltinMetric::LogLoss | BuiltinMetric::Rmse | BuiltinMetric::Mae => Direction::Minimize,
            _ => Direction::Maximize,
        }
    }

    fn supports(&self, task: Task) -> bool {
        match self {
            BuiltinMetric::Rmse | BuiltinMetric::Mae | BuiltinMetric::R2 => task == Task::Regression,
            _ => task.is_classification(),
        }
    }

    fn score(&self, truth: &Target, prediction: &Prediction) -> Result<f64> {
        if truth.len() != prediction.len() {
            return Err(Error::Data(format!("{} predictions for {} rows", prediction.len(), truth.len())));
        }
        if truth.is_empty() {
            return Err(Error::Data("cannot score zero rows".into()));
        }
        match (truth, prediction) {
            (Target::Classes { codes, labels }, Prediction::Classes(proba)) => {
                let k = labels.len();
                if proba.ncols() != k {
                    return Err(Error::Data(format!("{} probability columns for {k} classes", proba.ncols())));
                }
                let predicted = prediction.classes();
                Ok(match self {
                    BuiltinMetric::Accuracy => codes.iter().zip(&predicted).filter(|(a, b)| a == b).count() as f64 / codes.len() as f64,
                    BuiltinMetric::BalancedAccuracy | BuiltinMetric::MacroF1 => {
                        let (mut tp, mut fp, mut fneg) = (vec![0f64; k], vec![0f64; k], vec![0f64; k]);
                        for (&t, &p) in codes.iter().zip(&predicted) {
                            if t == p {
                                tp[t] += 1.0
                            } else {
                                fp[p] += 1.0;
                                fneg[t] += 1.0
                            }
                        }
                        let present: Vec<usize> = (0..k).filter(|&c| tp[c] + fneg[c] > 0.0).collect();
                        let per_class = |c: usize| match self {
                            BuiltinMetric::BalancedAccuracy => tp[c] / (tp[c] + fneg[c]),
                            _ => {
                                let d = 2.0 * tp[c] + fp[c] + fneg[c];
                                if d == 0.0 { 0.0 } else { 2.0 * tp[c] / d }
                            }
                        };
                        let classes: Vec<usize> = if matches!(self, BuiltinMetric::MacroF1) { (0..k).filter(|&c| tp[c] + fp[c] + fneg[c] > 0.0).collect() } else { present };
                        classes.iter().map(|&c| per_class(c)).sum::<f64>() / classes.len().max(1) as f64
                    }
                    BuiltinMetric::LogLoss => {
                        -codes.iter().enumerate().map(|(i, &c)| proba[[i, c]].clamp(1e-15, 1.0).ln()).sum::<f64>() / codes.len() as f64
                    }
                    BuiltinMetric::RocAuc => {
                        if k == 2 {
                            auc(&codes.iter().map(|&c| c == 1).collect::<Vec<_>>(), &proba.column(1).to_vec())
                        } else {
                            let aucs: Vec<f64> = (0..k)
                                .filter_map(|c| {
                                    let pos: Vec<bool> = codes.iter().map(|&t| t == c).collect();
                                    let np = pos.iter().filter(|&&p| p).count();
                                    (np > 0 && np < pos.len()).then(|| auc(&pos, &proba.column(c).to_vec()))
                                })
                                .collect();
                            aucs.iter().sum::<f64>() / aucs.len().max(1) as f64
                        }
                    }
                    _ => return Err(Error::Data(format!("metric '{}' is for regression", self.name()))),
                })
            }
            (Target::Values(y), Prediction::Values(p)) => {
                let n = y.len() as f64;
                Ok(match self {
                    BuiltinMetric::Rmse => (y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / n).sqrt(),
                    BuiltinMetric::Mae => y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / n,
                    BuiltinMetric::R2 => {
                        let mean = y.iter().sum::<f64>() / n;
                        let tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
                        let res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
                        if tot == 0.0 { if res == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - res / tot }
                    }
                    _ => return Err(Error::Data(format!("metric '{}' is for classification", self.name()))),
                })
            }
            _ => Err(Error::Data(format!("metric '{}' does not match the prediction type", self.name()))),
        }
    }
}

/// ROC-AUC by the rank-sum formula, with ties averaged.
fn auc(positive: &[bool], score: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            if positive[o] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let np = positive.iter().filter(|&&p| p).count() as f64;
    let nn = positive.len() as f64 - np;
    if np == 0.0 || nn == 0.0 {
        return 0.5;
    }
    (rank_sum - np * (np + 1.0) / 2.0) / (np * nn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn classes_are_the_same_in_any_memory_layout() {
        let rows = array![[0.9, 0.1, 0.0], [0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.4, 0.4, 0.2]];
        let expected = vec![0, 2, 1, 0]; // a tie goes to the first class
        assert_eq!(Prediction::Classes(rows.clone()).classes(), expected);
        // Column-major (not a row-major slice): the row iterator.
        let fortran = ndarray::Array2::from_shape_vec(ndarray::ShapeBuilder::f((4, 3)), rows.t().iter().copied().collect()).unwrap();
        assert_eq!(fortran, rows);
        assert_eq!(Prediction::Classes(fortran).classes(), expected);
        // No columns: one class (0) per row, not none.
        assert_eq!(Prediction::Classes(ndarray::Array2::zeros((3, 0))).classes(), vec![0, 0, 0]);
    }

    #[test]
    fn classification_metrics_match_hand_computed_values() {
        let truth = Target::Classes { codes: vec![0, 0, 1, 1], labels: vec!["a".into(), "b".into()] };
        let p = Prediction::Classes(array![[0.9, 0.1], [0.4, 0.6], [0.35, 0.65], [0.2, 0.8]]);
        assert_eq!(BuiltinMetric::Accuracy.score(&truth, &p).unwrap(), 0.75);
        assert_eq!(BuiltinMetric::RocAuc.score(&truth, &p).unwrap(), 1.0);
        let ll = BuiltinMetric::LogLoss.score(&truth, &p).unwrap();
        let expected = -(0.9f64.ln() + 0.4f64.ln() + 0.65f64.ln() + 0.8f64.ln()) / 4.0;
        assert!((ll - expected).abs() < 1e-12);
        let f1 = BuiltinMetric::MacroF1.score(&truth, &p).unwrap();
        assert!((f1 - (2.0 / 3.0 + 0.8) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn regression_metrics() {
        let truth = Target::Values(vec![1.0, 2.0, 3.0]);
        let p = Prediction::Values(array![1.0, 2.0, 5.0]);
        assert!((BuiltinMetric::Rmse.score(&truth, &p).unwrap() - (4.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((BuiltinMetric::R2.score(&truth, &p).unwrap() - (1.0 - 4.0 / 2.0)).abs() < 1e-12);
        assert!(BuiltinMetric::Accuracy.score(&truth, &p).is_err());
    }

    #[test]
    fn rejects_unknown_metric() {
        assert!(matches!(BuiltinMetric::from_name("auc"), Err(Error::Unknown { what: "metric", .. })));
    }
}
