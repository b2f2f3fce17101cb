//! Sharpening class probabilities: each row's probabilities raised to a power `a` and
//! renormalised, `a` fitted to the log loss of out-of-fold predictions by golden-section
//! search (argmin). Forests average leaf frequencies, so their probabilities are too
//! even (a plain random forest's log loss on digits is four times a booster's at the same
//! accuracy); `a > 1` makes them as confident as they are right, and `a < 1` tempers an
//! overconfident learner, without changing which class a row is given.
use argmin::core::{CostFunction, Executor};
use argmin::solver::goldensectionsearch::GoldenSectionSearch;
use ndarray::{Array2, ArrayView2};

use crate::metrics::Prediction;

/// Powers tried: from tempering by 5 to sharpening by 10.
pub const POWERS: (f64, f64) = (0.2, 10.0);
/// Smallest probability a sharpened row holds, so a class a learner never predicted costs
/// a bounded log loss.
pub const FLOOR: f64 = 1e-9;
/// Most rows the power is fitted on (evenly spaced): the fit stays cheap on large data.
const FIT_ROWS: usize = 5000;
/// Least relative gain in log loss for a power other than 1.
const MIN_GAIN: f64 = 0.01;

/// `p` with every row raised to `power` (after flooring at [`FLOOR`]) and renormalised.
pub fn sharpen(p: ArrayView2<f64>, power: f64) -> Array2<f64> {
    let mut out = p.mapv(|v| v.max(FLOOR).powf(power));
    for mut row in out.rows_mut() {
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    out
}

/// `p` with its class probabilities sharpened by `power`; values, and a power of 1, as
/// they are.
pub fn sharpen_prediction(p: Prediction, power: f64) -> Prediction {
    match p {
        Prediction::Classes(m) if power != 1.0 => Prediction::Classes(sharpen(m.view(), power)),
        other => other,
    }
}

/// The power (within [`POWERS`]) whose sharpened `p` has the least log loss against class
/// `codes`; 1 when no power improves the log loss by at least 1%, or `p` and `codes`
/// disagree in length.
pub fn fit_power(p: ArrayView2<f64>, codes: &[usize]) -> f64 {
    if p.nrows() != codes.len() || p.nrows() == 0 || codes.iter().any(|&c| c >= p.ncols()) {
        return 1.0;
    }
    let step = p.nrows().div_ceil(FIT_ROWS);
    let rows: Vec<usize> = (0..p.nrows()).step_by(step).collect();
    let logs = Array2::from_shape_fn((rows.len(), p.ncols()), |(i, j)| p[[rows[i], j]].max(FLOOR).ln());
    let loss = Loss { logs: logs.view(), codes: rows.iter().map(|&i| codes[i]).collect() };
    let plain = loss.at(1.0);
    let solver = GoldenSectionSearch::new(POWERS.0.ln(), POWERS.1.ln()).and_then(|s| s.with_tolerance(0.01));
    let best = solver.and_then(|s| Executor::new(&loss, s).configure(|c| c.param(0.0).max_iters(60)).run()).ok().and_then(|r| r.state.best_param).map(f64::exp);
    match best {
        Some(a) if a.is_finite() && loss.at(a) < plain * (1.0 - MIN_GAIN) => a,
        _ => 1.0,
    }
}

/// The log loss of sharpened probabilities, from the logarithms of the plain ones.
struct Loss<'a> {
    logs: ArrayView2<'a, f64>,
    codes: Vec<usize>,
}

impl Loss<'_> {
    fn at(&self, power: f64) -> f64 {
        let total: f64 = self
            .logs
            .rows()
            .into_iter()
            .zip(&self.codes)
            .map(|(row, &c)| {
                let top = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v)) * power;
                let norm = top + row.iter().map(|&v| (v * power - top).exp()).sum::<f64>().ln();
                // A probability counts as at least FLOOR, as a log loss clips it.
                norm - (row[c] * power).max(norm + FLOOR.ln())
            })
            .sum();
        total / self.codes.len().max(1) as f64
    }
}

impl CostFunction for &Loss<'_> {
    type Param = f64;
    type Output = f64;
    fn cost(&self, log_power: &f64) -> Result<f64, argmin::core::Error> {
        Ok(self.at(log_power.exp()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn an_underconfident_learner_is_sharpened_and_keeps_its_classes() {
        // Right on every row but with 0.6 against 0.4: log loss falls as the power rises.
        let p = Array2::from_shape_fn((200, 2), |(i, j)| if (i % 2 == 0) == (j == 0) { 0.6 } else { 0.4 });
        let codes: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let a = fit_power(p.view(), &codes);
        assert!(a > 5.0, "{a}");
        let s = sharpen(p.view(), a);
        assert!(s.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-12));
        assert!((0..200).all(|i| (s[[i, 0]] > s[[i, 1]]) == (p[[i, 0]] > p[[i, 1]])));
    }

    #[test]
    fn a_calibrated_learner_keeps_its_probabilities() {
        // Rows of 0.8 for the right class 80% of the time are calibrated: the power is 1.
        let p = Array2::from_shape_fn((500, 2), |(_, j)| if j == 0 { 0.8 } else { 0.2 });
        let codes: Vec<usize> = (0..500).map(|i| usize::from(i % 5 == 0)).collect();
        assert_eq!(fit_power(p.view(), &codes), 1.0);
    }

    #[test]
    fn an_overconfident_learner_is_tempered_and_bad_input_is_left_alone() {
        let p = Array2::from_shape_fn((500, 2), |(_, j)| if j == 0 { 0.999 } else { 0.001 });
        let codes: Vec<usize> = (0..500).map(|i| usize::from(i % 4 == 0)).collect();
        assert!(fit_power(p.view(), &codes) < 0.5);
        assert_eq!(fit_power(array![[0.5, 0.5]].view(), &[0, 1]), 1.0);
        assert_eq!(fit_power(array![[0.5, 0.5]].view(), &[2]), 1.0);
    }
}
