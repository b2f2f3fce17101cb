//! Stopping-rule plugin `patience`: stops a trial whose last 3 reported scores did not
//! improve on its best earlier score, and stops the run when the best score has not
//! improved over the last 20 successful trials.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` (or `../build.sh`), then
//! `automl run data.csv --target y --plugin dist/patience.wasm`.

use automl_plugin_sdk::{export_stopping_rule, Curve, Direction, PluginInfo, StoppingRule, TrialSummary, Verdict};

/// Reported points of a trial that may pass without improvement.
pub const TRIAL_PATIENCE: usize = 3;
/// Finished successful trials that may pass without improvement.
pub const RUN_PATIENCE: usize = 20;

/// The plugin.
pub struct Patience;

/// Whether none of the last `patience` scores strictly improves on the best score before
/// them. `false` while there are not more than `patience` scores (nothing to compare with).
pub fn stalled(scores: &[f64], patience: usize, direction: Direction) -> bool {
    if scores.len() <= patience {
        return false;
    }
    let (earlier, recent) = scores.split_at(scores.len() - patience);
    match direction.best(earlier.iter().copied()) {
        Some(best) => !recent.iter().any(|&s| direction.is_better(s, best)),
        None => false,
    }
}

impl StoppingRule for Patience {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "patience",
            env!("CARGO_PKG_VERSION"),
            "Stops a trial after 3 points, and the run after 20 trials, without improvement",
        )
    }

    fn judge_trial(current: &Curve, _finished: &[Curve], higher_is_better: bool) -> Result<Verdict, String> {
        let direction = Direction::from_higher_is_better(higher_is_better);
        Ok(if stalled(&current.scores, TRIAL_PATIENCE, direction) { Verdict::Stop } else { Verdict::Proceed })
    }

    fn judge_run(history: &[TrialSummary], higher_is_better: bool) -> Result<Verdict, String> {
        let direction = Direction::from_higher_is_better(higher_is_better);
        let scores: Vec<f64> = history.iter().filter_map(|t| t.score).filter(|s| !s.is_nan()).collect();
        Ok(if stalled(&scores, RUN_PATIENCE, direction) { Verdict::Stop } else { Verdict::Proceed })
    }
}

export_stopping_rule!(Patience);

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(scores: &[f64]) -> Curve {
        Curve { trial: 1, learner: "gbdt".into(), steps: (1..=scores.len() as u32).collect(), scores: scores.to_vec() }
    }

    fn judge(scores: &[f64], higher_is_better: bool) -> Verdict {
        Patience::judge_trial(&curve(scores), &[], higher_is_better).unwrap()
    }

    #[test]
    fn trial_stops_after_three_points_without_improvement() {
        assert_eq!(judge(&[0.8, 0.7, 0.8, 0.75], true), Verdict::Stop, "a tie is no improvement");
        assert_eq!(judge(&[0.8, 0.7, 0.81, 0.75], true), Verdict::Proceed);
        assert_eq!(judge(&[0.5, 0.6, 0.7], true), Verdict::Proceed, "no earlier point yet");
        assert_eq!(judge(&[0.5, 0.6, 0.7, 0.4], true), Verdict::Proceed);
        assert_eq!(judge(&[0.5, 0.6, 0.7, 0.6, 0.6, 0.6], true), Verdict::Stop);
    }

    #[test]
    fn trial_respects_the_direction() {
        assert_eq!(judge(&[0.3, 0.2, 0.25, 0.4], false), Verdict::Proceed, "0.2 improves on 0.3");
        assert_eq!(judge(&[0.2, 0.3, 0.25, 0.4], false), Verdict::Stop);
        assert_eq!(judge(&[0.2, 0.3, 0.25, 0.4], true), Verdict::Proceed);
    }

    fn run(scores: &[Option<f64>]) -> Vec<TrialSummary> {
        scores
            .iter()
            .enumerate()
            .map(|(i, &score)| TrialSummary { trial: i as u64, learner: "lr".into(), score, finished_s: i as f64 })
            .collect()
    }

    #[test]
    fn run_stops_after_twenty_successful_trials_without_improvement() {
        let mut scores = vec![Some(0.9)];
        scores.extend(std::iter::repeat_n(Some(0.8), 19));
        assert_eq!(Patience::judge_run(&run(&scores), true), Ok(Verdict::Proceed));
        scores.push(None);
        assert_eq!(Patience::judge_run(&run(&scores), true), Ok(Verdict::Proceed), "failed trials do not count");
        scores.push(Some(0.85));
        assert_eq!(Patience::judge_run(&run(&scores), true), Ok(Verdict::Stop));
        assert_eq!(Patience::judge_run(&run(&scores), false), Ok(Verdict::Proceed), "0.8 improves on 0.9");
        scores.push(Some(0.95));
        assert_eq!(Patience::judge_run(&run(&scores), true), Ok(Verdict::Proceed));
    }
}
