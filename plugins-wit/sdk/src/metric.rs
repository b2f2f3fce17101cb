//! The [`Metric`] trait, its types and its adapter to the generated bindings.

use std::marker::PhantomData;

use crate::__bindings::metric::exports::automl::plugins::metric as wit;
use crate::bytes;
use crate::{raw, DecodeError, PluginInfo};

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Larger scores are better (accuracy, R²).
    Maximize,
    /// Smaller scores are better (losses, errors).
    Minimize,
}

impl Direction {
    /// `Maximize` when `higher_is_better`, else `Minimize` (stopping rules receive the
    /// direction as a flag).
    pub fn from_higher_is_better(higher_is_better: bool) -> Direction {
        if higher_is_better {
            Direction::Maximize
        } else {
            Direction::Minimize
        }
    }

    /// Whether `candidate` is strictly better than `incumbent`. NaN is never better, and
    /// anything that is not NaN is better than NaN.
    pub fn is_better(self, candidate: f64, incumbent: f64) -> bool {
        if candidate.is_nan() {
            return false;
        }
        if incumbent.is_nan() {
            return true;
        }
        match self {
            Direction::Maximize => candidate > incumbent,
            Direction::Minimize => candidate < incumbent,
        }
    }

    /// The best of `scores` in this direction, ignoring NaN; `None` if there is none.
    pub fn best(self, scores: impl IntoIterator<Item = f64>) -> Option<f64> {
        scores.into_iter().filter(|s| !s.is_nan()).reduce(|best, s| if self.is_better(s, best) { s } else { best })
    }
}

/// The task of the predictions being scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Two classes.
    Binary,
    /// More than two classes.
    Multiclass,
    /// Real values.
    Regression,
}

impl Task {
    /// Binary or multiclass.
    pub fn is_classification(self) -> bool {
        self != Task::Regression
    }

    fn from_raw(task: wit::Task) -> Task {
        match task {
            wit::Task::Binary => Task::Binary,
            wit::Task::Multiclass => Task::Multiclass,
            wit::Task::Regression => Task::Regression,
        }
    }
}

/// Predictions to score, decoded and checked: every per-row vector has
/// [`rows()`](Predictions::rows) values.
///
/// The host's buffers are read in place: no value is copied between the host's call and
/// your `score`.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    task: Task,
    y_true: F64s,
    y_pred: F64s,
    proba: F64s,
    labels: Vec<String>,
    weights: Option<F64s>,
}

impl Predictions {
    /// Checked predictions (also for testing a metric natively). `y_pred` and `weights`
    /// must have `y_true.len()` values; `proba` must be empty or `rows x labels.len()`,
    /// row-major.
    pub fn new(
        task: Task,
        y_true: Vec<f64>,
        y_pred: Vec<f64>,
        proba: Vec<f64>,
        labels: Vec<String>,
        weights: Option<Vec<f64>>,
    ) -> Result<Predictions, DecodeError> {
        Predictions::checked(task, F64s::Values(y_true), F64s::Values(y_pred), F64s::Values(proba), labels, weights.map(F64s::Values))
    }

    fn checked(task: Task, y_true: F64s, y_pred: F64s, proba: F64s, labels: Vec<String>, weights: Option<F64s>) -> Result<Predictions, DecodeError> {
        let rows = y_true.len();
        let size = |buffer, expected, found| {
            if expected == found {
                Ok(())
            } else {
                Err(DecodeError::Size { buffer, unit: "values", expected, found })
            }
        };
        size("y-pred", rows, y_pred.len())?;
        if !proba.is_empty() {
            let expected = rows.checked_mul(labels.len()).ok_or(DecodeError::TooManyRows { rows: rows as u64 })?;
            size("proba", expected, proba.len())?;
        }
        if let Some(w) = &weights {
            size("weights", rows, w.len())?;
        }
        Ok(Predictions { task, y_true, y_pred, proba, labels, weights })
    }

    /// The task.
    pub fn task(&self) -> Task {
        self.task
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.y_true.len()
    }

    /// True values: the class index (0, 1, ...) for classification, the value for
    /// regression.
    pub fn y_true(&self) -> &[f64] {
        self.y_true.as_slice()
    }

    /// Predicted values: the predicted class index (the most probable class) for
    /// classification, the value for regression.
    pub fn y_pred(&self) -> &[f64] {
        self.y_pred.as_slice()
    }

    /// Class probabilities, row-major, `rows() x classes()`; empty for regression.
    pub fn proba(&self) -> &[f64] {
        self.proba.as_slice()
    }

    /// The class probabilities of row `i` (`classes()` values); `None` without
    /// probabilities or past the last row.
    pub fn proba_row(&self, i: usize) -> Option<&[f64]> {
        let k = self.labels.len();
        if self.proba.is_empty() || k == 0 {
            return None;
        }
        self.proba.as_slice().get(i * k..(i + 1) * k)
    }

    /// Class labels in index order, exactly as in the data; empty for regression.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Number of classes (`labels().len()`); 0 for regression.
    pub fn classes(&self) -> usize {
        self.labels.len()
    }

    /// Row weights, or `None` for equal weights.
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_ref().map(F64s::as_slice)
    }

    /// The weight of row `i`: 1 without weights.
    ///
    /// # Panics
    /// If there are weights and `i >= rows()`.
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |w| w.as_slice()[i])
    }

    fn from_raw(p: wit::Predictions) -> Result<Predictions, DecodeError> {
        let rows = usize::try_from(p.rows).map_err(|_| DecodeError::TooManyRows { rows: p.rows })?;
        let decode = |buffer: &'static str, data: Vec<u8>| F64s::from_le(data).map_err(|e| e.context(buffer));
        let y_true = decode("y-true", p.y_true)?;
        if y_true.len() != rows {
            return Err(DecodeError::Size { buffer: "y-true", unit: "values", expected: rows, found: y_true.len() });
        }
        let weights = if p.weights.is_empty() { None } else { Some(decode("weights", p.weights)?) };
        Predictions::checked(Task::from_raw(p.task), y_true, decode("y-pred", p.y_pred)?, decode("proba", p.proba)?, p.labels, weights)
    }
}

/// f64 values as they arrived: the host's little-endian bytes viewed in place when they are
/// 8-byte aligned (the guest allocator aligns them), else decoded once.
#[derive(Debug)]
enum F64s {
    Bytes(Vec<u8>),
    Values(Vec<f64>),
}

impl F64s {
    fn from_le(bytes: Vec<u8>) -> Result<F64s, DecodeError> {
        if bytes.len() % 8 != 0 {
            return Err(DecodeError::Length { len: bytes.len(), width: 8 });
        }
        if cfg!(target_endian = "little") && bytemuck::try_cast_slice::<u8, f64>(&bytes).is_ok() {
            Ok(F64s::Bytes(bytes))
        } else {
            bytes::f64s_from_le(&bytes).map(F64s::Values)
        }
    }

    fn as_slice(&self) -> &[f64] {
        match self {
            // Checked aligned and whole in `from_le`; the Vec is never changed afterwards.
            F64s::Bytes(b) => bytemuck::cast_slice(b),
            F64s::Values(v) => v,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// A clone of the bytes could land on a less aligned allocation: clone the values.
impl Clone for F64s {
    fn clone(&self) -> F64s {
        F64s::Values(self.as_slice().to_vec())
    }
}

impl PartialEq for F64s {
    fn eq(&self, other: &F64s) -> bool {
        self.as_slice() == other.as_slice()
    }
}

/// A custom metric (world `metric-plugin`), usable as the search objective
/// (`--metric NAME`) and shown in the leaderboard.
///
/// Export an implementation with [`export_metric!`](crate::export_metric).
pub trait Metric {
    /// Name, version and description; the SDK reports the kind `metric`. The name is
    /// what `--metric` selects.
    fn info() -> PluginInfo;

    /// Whether larger or smaller scores are better.
    fn direction() -> Direction;

    /// Whether the metric applies to `task`; the host refuses it for other tasks.
    fn supports(task: Task) -> bool;

    /// The score of `predictions`. An error fails the trial being scored.
    fn score(predictions: &Predictions) -> Result<f64, String>;
}

/// Implements the generated `Guest` trait for any [`Metric`]; used by
/// [`export_metric!`](crate::export_metric).
pub struct MetricAdapter<T>(PhantomData<T>);

impl<T: Metric> wit::Guest for MetricAdapter<T> {
    fn describe() -> raw::PluginInfo {
        T::info().into_raw(raw::PluginKind::Metric)
    }

    fn get_direction() -> wit::Direction {
        match T::direction() {
            Direction::Maximize => wit::Direction::Maximize,
            Direction::Minimize => wit::Direction::Minimize,
        }
    }

    fn supports(task: wit::Task) -> bool {
        T::supports(Task::from_raw(task))
    }

    fn score(predictions: wit::Predictions) -> Result<f64, String> {
        let predictions = Predictions::from_raw(predictions).map_err(|e| format!("predictions: {e}"))?;
        T::score(&predictions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_predictions(rows: u64, y_true: &[f64], y_pred: &[f64], proba: &[f64], labels: &[&str]) -> wit::Predictions {
        wit::Predictions {
            task: wit::Task::Binary,
            y_true: bytes::f64s_to_le(y_true),
            y_pred: bytes::f64s_to_le(y_pred),
            proba: bytes::f64s_to_le(proba),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            weights: vec![],
            rows,
        }
    }

    #[test]
    fn decodes_classification_predictions() {
        let raw = raw_predictions(2, &[0.0, 1.0], &[1.0, 1.0], &[0.4, 0.6, 0.2, 0.8], &["no", "yes"]);
        let p = Predictions::from_raw(raw).unwrap();
        assert_eq!(p.rows(), 2);
        assert_eq!(p.task(), Task::Binary);
        assert_eq!(p.y_true(), &[0.0, 1.0]);
        assert_eq!(p.proba_row(1), Some(&[0.2, 0.8][..]));
        assert_eq!(p.proba_row(2), None);
        assert_eq!(p.classes(), 2);
        assert_eq!(p.weights(), None);
        assert_eq!(p.weight(0), 1.0);
    }

    #[test]
    fn rejects_sizes_that_disagree_with_rows() {
        let raw = raw_predictions(3, &[0.0, 1.0], &[1.0, 1.0], &[], &[]);
        assert!(matches!(
            Predictions::from_raw(raw),
            Err(DecodeError::Size { buffer: "y-true", expected: 3, found: 2, .. })
        ));
        let raw = raw_predictions(2, &[0.0, 1.0], &[1.0], &[], &[]);
        assert!(matches!(Predictions::from_raw(raw), Err(DecodeError::Size { buffer: "y-pred", .. })));
        let raw = raw_predictions(2, &[0.0, 1.0], &[1.0, 0.0], &[0.5; 3], &["a", "b"]);
        assert!(matches!(
            Predictions::from_raw(raw),
            Err(DecodeError::Size { buffer: "proba", expected: 4, found: 3, .. })
        ));
        let mut raw = raw_predictions(2, &[0.0, 1.0], &[1.0, 0.0], &[], &[]);
        raw.weights = vec![0; 12];
        let err = Predictions::from_raw(raw).unwrap_err();
        assert_eq!(err.to_string(), "weights: 12 bytes is not a whole number of 8-byte values");
    }

    #[test]
    fn direction_compares_and_ignores_nan() {
        let max = Direction::from_higher_is_better(true);
        assert!(max.is_better(2.0, 1.0) && !max.is_better(1.0, 1.0) && !max.is_better(f64::NAN, 1.0));
        assert!(max.is_better(1.0, f64::NAN));
        assert!(Direction::Minimize.is_better(0.5, 1.0));
        assert_eq!(Direction::Minimize.best([3.0, f64::NAN, 1.0, 2.0]), Some(1.0));
        assert_eq!(max.best([f64::NAN]), None);
    }
}
