//! The [`StoppingRule`] trait, its types and its adapter to the generated bindings.

use std::marker::PhantomData;

use crate::__bindings::stopping_rule::exports::automl::plugins::stopping_rule as wit;
use crate::{raw, PluginInfo};

/// Scores reported by one trial as it runs, oldest first (WIT `curve`).
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Trial number.
    pub trial: u64,
    /// Learner name (a step means folds, trees or boosting rounds depending on it).
    pub learner: String,
    /// Steps at which scores were reported; as many as `scores` (the SDK checks).
    pub steps: Vec<u32>,
    /// The scores, one per step, in the metric's own units.
    pub scores: Vec<f64>,
}

impl Curve {
    /// `(step, score)` pairs, oldest first.
    pub fn points(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.steps.iter().copied().zip(self.scores.iter().copied())
    }

    /// Number of reported points.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether no point was reported yet.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    fn from_raw(curve: wit::Curve) -> Result<Curve, String> {
        if curve.steps.len() != curve.scores.len() {
            return Err(format!(
                "curve of trial {} has {} steps and {} scores",
                curve.trial,
                curve.steps.len(),
                curve.scores.len()
            ));
        }
        Ok(Curve { trial: curve.trial, learner: curve.learner, steps: curve.steps, scores: curve.scores })
    }
}

/// A finished trial, for the run-level decision (WIT `trial-summary`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSummary {
    /// Trial number.
    pub trial: u64,
    /// Learner name.
    pub learner: String,
    /// Final validation score; `None` when the trial failed.
    pub score: Option<f64>,
    /// Seconds since the run started, when the trial finished.
    pub finished_s: f64,
}

/// The answer of a stopping rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Keep going.
    Proceed,
    /// Stop (the trial, or the run).
    Stop,
}

/// A custom early-stopping rule (world `stopping-rule-plugin`): for running trials
/// (stop this one?) and for the run (stop the whole search?).
///
/// `higher_is_better` gives the metric's direction;
/// [`Direction::from_higher_is_better`](crate::Direction::from_higher_is_better) turns it
/// into a [`Direction`](crate::Direction) with comparison helpers.
///
/// Export an implementation with [`export_stopping_rule!`](crate::export_stopping_rule).
pub trait StoppingRule {
    /// Name, version and description; the SDK reports the kind `stopping-rule`.
    fn info() -> PluginInfo;

    /// Should the running trial `current` stop, given the curves of finished trials?
    fn judge_trial(current: &Curve, finished: &[Curve], higher_is_better: bool) -> Result<Verdict, String>;

    /// Should the whole run stop, given every finished trial in finishing order?
    fn judge_run(history: &[TrialSummary], higher_is_better: bool) -> Result<Verdict, String>;
}

/// Implements the generated `Guest` trait for any [`StoppingRule`]; used by
/// [`export_stopping_rule!`](crate::export_stopping_rule).
pub struct StoppingRuleAdapter<T>(PhantomData<T>);

fn verdict(v: Verdict) -> wit::Verdict {
    match v {
        Verdict::Proceed => wit::Verdict::Proceed,
        Verdict::Stop => wit::Verdict::Stop,
    }
}

impl<T: StoppingRule> wit::Guest for StoppingRuleAdapter<T> {
    fn describe() -> raw::PluginInfo {
        T::info().into_raw(raw::PluginKind::StoppingRule)
    }

    fn judge_trial(
        current: wit::Curve,
        finished: Vec<wit::Curve>,
        higher_is_better: bool,
    ) -> Result<wit::Verdict, String> {
        let current = Curve::from_raw(current)?;
        let finished = finished.into_iter().map(Curve::from_raw).collect::<Result<Vec<_>, _>>()?;
        T::judge_trial(&current, &finished, higher_is_better).map(verdict)
    }

    fn judge_run(history: Vec<wit::TrialSummary>, higher_is_better: bool) -> Result<wit::Verdict, String> {
        let history: Vec<TrialSummary> = history
            .into_iter()
            .map(|t| TrialSummary { trial: t.trial, learner: t.learner, score: t.score, finished_s: t.finished_s })
            .collect();
        T::judge_run(&history, higher_is_better).map(verdict)
    }
}
