//! Ensemble selection (Caruana et al. 2004, as in AutoGluon's weighted ensemble and
//! auto-sklearn): the trials' out-of-fold predictions, kept within a memory bound, and a
//! greedy forward selection with replacement that optimises the run's metric on them.
//!
//! Every finished trial predicts the validation rows of each split; those predictions,
//! concatenated in split order, are its out-of-fold predictions ([`OutOfFold`]). Only the
//! best [`KEPT_TRIALS`] trials keep theirs, and never more than [`KEPT_BYTES`] in all
//! ([`keep_best`]). After the search, [`select`] builds the ensemble over them.
use std::sync::Arc;
use std::time::Instant;

use automl_core::calibrate::{fit_power, sharpen};
use automl_core::metrics::{Direction, Metric, Prediction};
use automl_core::task::Target;
use ndarray::{Array1, Array2};

use crate::trial::{TrialResult, TrialStatus};

/// Most trials whose out-of-fold predictions are kept for the ensemble, besides each
/// learner's best ([`retain_best`]).
pub const KEPT_TRIALS: usize = 24;
/// Most bytes of out-of-fold predictions kept in all (rows × classes × 8 per trial).
pub const KEPT_BYTES: usize = 512 << 20;
/// Rounds of greedy selection: the ensemble has at most this many picks (with repeats).
pub const ROUNDS: usize = 25;
/// Share of the first member's prediction time each further member may add on average:
/// members are admitted while the distinct members' prediction times sum to at most
/// `first × (1 + PREDICT_SHARE × (members − 1))` (a k-nearest-neighbours model costing
/// four times the booster it would join is left out).
pub const PREDICT_SHARE: f64 = 0.2;
/// Below this many seconds of the heaviest member's measured prediction time, timings are
/// noise (and prediction cheap): the bound is not applied, so the same trials on small
/// data give the same ensemble whatever the timings. Small data's models are timed on
/// 2,000 rows ([`crate::bagging::TIMED_ROWS`]): 2 ms there is 0.1 s per 100,000 rows (at
/// 10 ms, seven support vector machines of 6 ms each joined one ensemble, which then took
/// 4.4 s for 100,000 rows).
pub const PREDICT_TIMING_FLOOR_S: f64 = 0.002;

/// A trial's predictions of every validation row, splits concatenated in order.
pub type OutOfFold = Arc<Prediction>;

/// Bytes a prediction holds.
pub fn bytes_of(p: &Prediction) -> usize {
    match p {
        Prediction::Classes(m) => m.len() * 8,
        Prediction::Values(v) => v.len() * 8,
    }
}

/// Drops the out-of-fold predictions of all but the best [`KEPT_TRIALS`] finished trials
/// of `results`, and of the weakest beyond [`KEPT_BYTES`]. Called after every trial, so at
/// most one trial more than the bound is held at any time.
pub fn keep_best(results: &mut [TrialResult], direction: Direction) {
    retain_best(results, direction, KEPT_BYTES, |t| t.predictions.as_deref().map(bytes_of), |t| t.predictions = None);
}

/// Keeps what `size` measures (`None`: the trial holds nothing) for the best
/// [`KEPT_TRIALS`] finished trials, and for each learner's best trial too, within
/// `max_bytes` in all; calls `drop` on the others that hold it. Each learner's best is
/// kept because the best trials may all be near copies of one learner (the selection
/// then has nothing to blend), and a learner that errs differently is what an ensemble
/// gains from; and under classification the metric may underrate a learner whose
/// probabilities are too even until they are sharpened ([`sharpen_kept`]).
pub fn retain_best(results: &mut [TrialResult], direction: Direction, max_bytes: usize, size: impl Fn(&TrialResult) -> Option<usize>, drop: impl Fn(&mut TrialResult)) {
    let mut holders: Vec<usize> = (0..results.len()).filter(|&i| size(&results[i]).is_some()).collect();
    holders.sort_by(|&a, &b| {
        let loss = |i: usize| results[i].score.map_or(f64::INFINITY, |s| direction.to_loss(s));
        loss(a).total_cmp(&loss(b)).then(results[a].id.cmp(&results[b].id))
    });
    let mut bytes = 0usize;
    let mut learners: Vec<&str> = Vec::new();
    let mut keeps = vec![false; holders.len()];
    for (rank, &i) in holders.iter().enumerate() {
        let t = &results[i];
        let first_of_learner = t.status == TrialStatus::Ok && !learners.contains(&t.learner.as_str());
        if first_of_learner {
            learners.push(&t.learner);
        }
        let held = size(t).unwrap_or(0);
        keeps[rank] = (rank < KEPT_TRIALS || first_of_learner) && t.status == TrialStatus::Ok && bytes + held <= max_bytes;
        bytes += if keeps[rank] { held } else { 0 };
    }
    for (&i, _) in holders.iter().zip(&keeps).filter(|(_, &keep)| !keep) {
        drop(&mut results[i]);
    }
}

/// Fits each kept trial's sharpening power on its out-of-fold class probabilities
/// ([`fit_power`]: forests' are too even) and sharpens them, so that the ensemble is
/// chosen, and the model validated, on the probabilities the model will give; the trial
/// records its power for the refit. Values are left as they are; fitting stops at
/// `deadline`.
pub fn sharpen_kept(results: &mut [TrialResult], truth: &Target, deadline: Option<Instant>) {
    let Target::Classes { codes, .. } = truth else { return };
    for t in results.iter_mut() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let Some(Prediction::Classes(p)) = t.predictions.as_deref() else { continue };
        let power = fit_power(p.view(), codes);
        if power != 1.0 {
            let sharpened = sharpen(p.view(), power);
            t.predictions = Some(Arc::new(Prediction::Classes(sharpened)));
            t.sharpen = power;
        }
    }
}

/// An ensemble: trials with weights summing to 1, and its score on the out-of-fold rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// `(trial id, weight)`, largest weight first (ties by trial id).
    pub members: Vec<(u64, f64)>,
    /// The metric on the weighted average of the members' out-of-fold predictions.
    pub score: f64,
    /// The best single trial's score on the same rows.
    pub best_single: f64,
}

/// Greedy forward selection with replacement over the trials of `ranked` that kept their
/// out-of-fold predictions: start from nothing, add in each of [`ROUNDS`] rounds the trial
/// whose addition scores best (ties to the better-ranked trial), and keep the best
/// ensemble seen. `None` when fewer than two trials have predictions, or when the best
/// ensemble is a single trial or does not beat the best trial.
/// Rounds stop at `deadline`, keeping the best ensemble so far. When `timed` (a run with
/// a time budget on data whose prediction times are judged, see
/// [`crate::bagging::times_predictions`]) members are also bounded by their measured
/// prediction time ([`PREDICT_SHARE`]); otherwise time costs nothing, as in the search,
/// and the same trials give the same ensemble.
pub fn select(ranked: &[TrialResult], truth: &Target, metric: &dyn Metric, deadline: Option<Instant>, timed: bool) -> Option<Selection> {
    let candidates: Vec<(u64, &Prediction)> = ranked.iter().filter_map(|t| t.predictions.as_deref().map(|p| (t.id, p))).collect();
    let costs: Vec<f64> = ranked.iter().filter(|t| t.predictions.is_some()).map(|t| if timed { t.predict_time_s } else { 0.0 }).collect();
    if candidates.len() < 2 || candidates.iter().any(|(_, p)| p.len() != truth.len()) {
        return None;
    }
    let direction = metric.direction();
    let mut sum = zeros_like(candidates[0].1);
    let mut counts = vec![0usize; candidates.len()];
    let (mut best, mut best_counts) = (None::<f64>, counts.clone());
    let mut best_single = None::<f64>;
    for round in 0..ROUNDS {
        if round > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let n = (round + 1) as f64;
        let mut pick: Option<(usize, f64)> = None;
        for (i, (_, p)) in candidates.iter().enumerate() {
            let Some(score) = score_average(&sum, p, n, truth, metric) else { continue };
            if round == 0 {
                best_single = Some(best_single.map_or(score, |b| if direction.better(score, b) { score } else { b }));
            }
            if !affordable(&counts, &costs, i) {
                continue;
            }
            if pick.is_none_or(|(_, s)| direction.better(score, s)) {
                pick = Some((i, score));
            }
        }
        let (i, score) = pick?;
        add(&mut sum, candidates[i].1);
        counts[i] += 1;
        if best.is_none_or(|b| direction.better(score, b)) {
            best = Some(score);
            best_counts.clone_from(&counts);
        }
    }
    let (score, best_single) = (best?, best_single?);
    let picks: usize = best_counts.iter().sum();
    let mut members: Vec<(u64, f64)> = candidates.iter().zip(&best_counts).filter(|(_, &c)| c > 0).map(|((id, _), &c)| (*id, c as f64 / picks as f64)).collect();
    members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    (members.len() > 1 && direction.better(score, best_single)).then_some(Selection { members, score, best_single })
}

/// Whether candidate `i` may join the members counted in `counts` within the prediction
/// cost bound ([`PREDICT_SHARE`]); the first member always may, and any may when the
/// heaviest member's time is under [`PREDICT_TIMING_FLOOR_S`].
fn affordable(counts: &[usize], costs: &[f64], i: usize) -> bool {
    if counts[i] > 0 {
        return true;
    }
    let chosen: Vec<usize> = (0..counts.len()).filter(|&j| counts[j] > 0).collect();
    let Some(&first) = chosen.iter().max_by(|&&a, &&b| counts[a].cmp(&counts[b]).then(b.cmp(&a))) else { return true };
    if costs[first] < PREDICT_TIMING_FLOOR_S {
        return true;
    }
    let total: f64 = chosen.iter().map(|&j| costs[j]).sum::<f64>() + costs[i];
    total <= costs[first] * (1.0 + PREDICT_SHARE * chosen.len() as f64) + 1e-9
}

/// The score of `(sum + p) / n`.
fn score_average(sum: &Prediction, p: &Prediction, n: f64, truth: &Target, metric: &dyn Metric) -> Option<f64> {
    let average = match (sum, p) {
        (Prediction::Classes(s), Prediction::Classes(m)) if s.dim() == m.dim() => Prediction::Classes((s + m) / n),
        (Prediction::Values(s), Prediction::Values(v)) if s.len() == v.len() => Prediction::Values((s + v) / n),
        _ => return None,
    };
    metric.score(truth, &average).ok().filter(|s| s.is_finite())
}

fn zeros_like(p: &Prediction) -> Prediction {
    match p {
        Prediction::Classes(m) => Prediction::Classes(Array2::zeros(m.dim())),
        Prediction::Values(v) => Prediction::Values(Array1::zeros(v.len())),
    }
}

fn add(sum: &mut Prediction, p: &Prediction) {
    match (sum, p) {
        (Prediction::Classes(s), Prediction::Classes(m)) => *s += m,
        (Prediction::Values(s), Prediction::Values(v)) => *s += v,
        _ => {}
    }
}

/// The weighted average of `parts` (weights summing to 1); `None` when they differ in
/// kind or shape.
pub fn blend<P: std::borrow::Borrow<Prediction>>(parts: &[(f64, P)]) -> Option<Prediction> {
    let (_, first) = parts.first()?;
    let mut sum = zeros_like(first.borrow());
    for (w, p) in parts {
        match (&mut sum, p.borrow()) {
            (Prediction::Classes(s), Prediction::Classes(m)) if s.dim() == m.dim() => s.scaled_add(*w, m),
            (Prediction::Values(s), Prediction::Values(v)) if s.len() == v.len() => s.scaled_add(*w, v),
            _ => return None,
        }
    }
    Some(sum)
}

/// The weighted average of the out-of-fold predictions of the trials `members` names
/// (`(trial id, weight)`, weights scaled to sum to 1); `None` when one is not in `ranked`
/// or kept no predictions.
pub fn blend_trials(ranked: &[TrialResult], members: &[(u64, f64)]) -> Option<Prediction> {
    let total: f64 = members.iter().map(|m| m.1).sum();
    let parts: Option<Vec<(f64, &Prediction)>> = members.iter().map(|(id, w)| ranked.iter().find(|t| t.id == *id).and_then(|t| t.predictions.as_deref()).map(|p| (w / total, p))).collect();
    blend(&parts?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::metrics::BuiltinMetric;
    use automl_core::space::Hyperparams;

    fn trial(id: u64, score: f64, p: Prediction) -> TrialResult {
        let mut t = TrialResult::ended(id, "x".into(), Hyperparams::new(), TrialStatus::Ok, 1.0, None);
        t.score = Some(score);
        t.predictions = Some(Arc::new(p));
        t
    }

    #[test]
    fn two_models_wrong_on_different_rows_make_an_ensemble_better_than_either() {
        // Truth 0,1,0,1; each model is confidently right on three rows and unsure on one.
        let truth = Target::Classes { codes: vec![0, 1, 0, 1], labels: vec!["a".into(), "b".into()] };
        let a = Prediction::Classes(ndarray::array![[0.9, 0.1], [0.45, 0.55], [0.4, 0.6], [0.1, 0.9]]);
        let b = Prediction::Classes(ndarray::array![[0.6, 0.4], [0.4, 0.6], [0.9, 0.1], [0.55, 0.45]]);
        let ranked = vec![trial(1, 0.75, a), trial(2, 0.75, b)];
        let s = select(&ranked, &truth, &BuiltinMetric::Accuracy, None, false).expect("an ensemble");
        assert_eq!(s.score, 1.0);
        assert_eq!(s.best_single, 0.75);
        assert_eq!(s.members.len(), 2);
        assert!((s.members.iter().map(|m| m.1).sum::<f64>() - 1.0).abs() < 1e-12);
        // The same second model, ten times slower to predict than the first, stays out;
        // at a fifth of the first's cost it is in.
        let mut slow = ranked.clone();
        slow[0].predict_time_s = 1.0;
        slow[1].predict_time_s = 10.0;
        let tiny = slow.iter().map(|t| TrialResult { predict_time_s: t.predict_time_s / 1000.0, ..t.clone() }).collect::<Vec<_>>();
        let soon = Some(Instant::now() + std::time::Duration::from_secs(60));
        assert!(select(&tiny, &truth, &BuiltinMetric::Accuracy, soon, true).is_some(), "timings of a millisecond are noise");
        let later = Some(Instant::now() + std::time::Duration::from_secs(60));
        assert_eq!(select(&slow, &truth, &BuiltinMetric::Accuracy, later, true), None);
        assert!(select(&slow, &truth, &BuiltinMetric::Accuracy, None, false).is_some(), "without a time budget, time costs nothing");
        assert!(select(&slow, &truth, &BuiltinMetric::Accuracy, later, false).is_some(), "nor on data too small to judge prediction times");
        slow[1].predict_time_s = 0.2;
        assert!(select(&slow, &truth, &BuiltinMetric::Accuracy, later, true).is_some());
    }

    #[test]
    fn no_ensemble_when_one_trial_is_best_alone() {
        let truth = Target::Values(vec![1.0, 2.0, 3.0]);
        let good = Prediction::Values(ndarray::array![1.0, 2.0, 3.0]);
        let bad = Prediction::Values(ndarray::array![3.0, 0.0, 9.0]);
        let ranked = vec![trial(1, 1.0, good), trial(2, -5.0, bad)];
        assert_eq!(select(&ranked, &truth, &BuiltinMetric::R2, None, false), None);
    }

    #[test]
    fn only_the_best_trials_keep_their_predictions() {
        let p = || Prediction::Values(ndarray::Array1::zeros(10));
        let mut results: Vec<TrialResult> = (0..40).map(|i| trial(i, i as f64, p())).collect();
        keep_best(&mut results, Direction::Maximize);
        let kept: Vec<u64> = results.iter().filter(|t| t.predictions.is_some()).map(|t| t.id).collect();
        assert_eq!(kept, (16..40).collect::<Vec<_>>());
        // A regression trial of another learner, worse than all 24, is kept as its
        // learner's best; a second one of it is not.
        results.push(TrialResult { learner: "tree".into(), ..trial(40, -2.0, p()) });
        results.push(TrialResult { learner: "tree".into(), ..trial(41, -1.0, p()) });
        keep_best(&mut results, Direction::Maximize);
        let kept: Vec<u64> = results.iter().filter(|t| t.predictions.is_some()).map(|t| t.id).collect();
        assert_eq!(kept, (16..40).chain([41]).collect::<Vec<_>>());
    }

    #[test]
    fn kept_trials_are_sharpened_and_each_learner_keeps_its_best() {
        // Twenty-five good "x" trials, then an underconfident forest that is right on every
        // row: it is kept as its learner's best, and its probabilities are sharpened.
        let truth = Target::Classes { codes: (0..100).map(|i| i % 2).collect(), labels: vec!["a".into(), "b".into()] };
        let even = Array2::from_shape_fn((100, 2), |(i, j)| if (i % 2 == j) == (i % 7 != 0) { 0.9 } else { 0.1 });
        let mut results: Vec<TrialResult> = (1..=25).map(|id| trial(id, 0.3, Prediction::Classes(even.clone()))).collect();
        let sure = Array2::from_shape_fn((100, 2), |(i, j)| if i % 2 == j { 0.6 } else { 0.4 });
        results.push(TrialResult { learner: "forest".into(), ..trial(26, 0.5, Prediction::Classes(sure)) });
        keep_best(&mut results, Direction::Minimize);
        assert!(results[25].predictions.is_some() && results[24].predictions.is_none());
        sharpen_kept(&mut results, &truth, None);
        assert!(results[25].sharpen > 3.0, "{}", results[25].sharpen);
        let Some(Prediction::Classes(p)) = results[25].predictions.as_deref() else { panic!("kept") };
        assert!(p[[0, 0]] > 0.9 && p[[1, 1]] > 0.9);
        let mut values = vec![trial(1, 0.3, Prediction::Values(ndarray::array![1.0, 2.0]))];
        sharpen_kept(&mut values, &Target::Values(vec![1.0, 2.0]), None);
        assert_eq!(values[0].sharpen, 1.0);
    }

    #[test]
    fn blending_weights_predictions() {
        let b = blend(&[(0.25, Prediction::Values(ndarray::array![4.0])), (0.75, Prediction::Values(ndarray::array![8.0]))]).expect("same shapes");
        assert_eq!(b, Prediction::Values(ndarray::array![7.0]));
    }
}
