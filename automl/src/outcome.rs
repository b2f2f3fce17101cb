//! What a run produces, and what it reports while it runs: the result types shared by
//! the runner, the reports and the bindings.
use std::path::PathBuf;
use std::time::Duration;

use automl_core::metrics::Direction;
use automl_core::profile::Profile;
use automl_core::validation::ValidationPlan;
use serde::Serialize;

use crate::artifact::ModelArtifact;
use crate::plugins::{LoadStats, PluginInfo};
use crate::trial::{TrialResult, TrialStatus};

/// Receives progress while an experiment runs. All methods default to doing nothing.
pub trait Observer {
    /// The data was read and profiled.
    fn on_profile(&mut self, _profile: &Profile) {}
    /// A trial finished; `best` is the best so far.
    fn on_trial(&mut self, _result: &TrialResult, _best: Option<&TrialResult>, _elapsed: Duration) {}
    /// The search ended; the best configuration is being refit on all rows.
    fn on_refit(&mut self, _best: &TrialResult) {}
}

/// An observer that ignores everything.
pub struct Silent;
impl Observer for Silent {}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The time budget ran out.
    TimeBudget,
    /// `max_trials` were run.
    MaxTrials,
    /// A trial reached the target score.
    TargetScore,
    /// `patience` trials without improvement.
    Patience,
    /// The strategy had nothing left to try.
    SearchExhausted,
    /// Stopped from outside (Ctrl-C, a notebook's stop button) through a [`CancelToken`].
    Interrupted,
    /// A stopping-rule plugin ended the run.
    StoppingRule,
}

/// What an experiment produced.
#[derive(Debug, Clone)]
pub struct ExperimentResult {
    /// Data profile.
    pub profile: Profile,
    /// Objective metric name.
    pub metric: String,
    /// Its direction.
    pub direction: Direction,
    /// The validation plan used.
    pub validation: ValidationPlan,
    /// Every trial, best first (successful trials ranked by score, then the others).
    pub leaderboard: Vec<TrialResult>,
    /// The trial whose configuration was refit.
    pub best: TrialResult,
    /// The refit model.
    pub artifact: ModelArtifact,
    /// The ensemble the model is (its members and weights are the artifact's), when the
    /// selection found one that beats the best trial.
    pub ensemble: Option<crate::ensemble::Selection>,
    /// How the model's configurations were fitted: bagged, refit, or both.
    pub final_fit: crate::bagging::FinalFitUsed,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// Seconds from start to the end of the search.
    pub search_s: f64,
    /// Seconds of the final refit.
    pub refit_s: f64,
    /// Seconds in all.
    pub elapsed_s: f64,
    /// Seconds from start to the first finished trial.
    pub first_trial_s: Option<f64>,
    /// Files written.
    pub files: Vec<PathBuf>,
    /// Things the user should know that did not stop the run (a plugin's run-level rule
    /// that failed and was switched off, say).
    pub notes: Vec<String>,
    /// The plugins used, with how they were loaded.
    pub plugins: Vec<LoadedPlugin>,
}

/// A plugin used by a run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadedPlugin {
    /// Its description.
    pub info: PluginInfo,
    /// SHA-256 of the component.
    pub digest: String,
    /// Compile or cache-load time.
    pub load: LoadStats,
}

/// What a custom-trial experiment (`automl run --spec`) produced: no model, since the
/// user's own code trains it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomResult {
    /// Experiment id (the label on its Jobs).
    pub experiment: String,
    /// Trials, best first.
    pub leaderboard: Vec<TrialResult>,
    /// Why the search ended.
    pub stop_reason: StopReason,
    /// Seconds.
    pub elapsed_s: f64,
    /// Notes for the user.
    pub notes: Vec<String>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

impl CustomResult {
    /// `Ok` when a trial succeeded, else the error naming the first failures.
    pub fn succeeded(&self) -> crate::error::Result<()> {
        if self.leaderboard.iter().any(|r| r.status == crate::trial::TrialStatus::Ok) {
            return Ok(());
        }
        Err(no_successful_trial(&self.leaderboard))
    }
}

/// The error of a search in which no trial succeeded: the first few reasons.
pub fn no_successful_trial(leaderboard: &[TrialResult]) -> crate::error::Error {
    let reasons = leaderboard.iter().filter_map(|t| t.message.as_ref().map(|m| format!("trial {} {}: {m}", t.id, t.learner))).take(5).collect();
    let mut outcomes: Vec<String> = Vec::new();
    for (status, what) in [(TrialStatus::Failed, "failed"), (TrialStatus::TimedOut, "timed out"), (TrialStatus::EarlyStopped, "early-stopped before a score"), (TrialStatus::Ok, "without a score")] {
        let n = leaderboard.iter().filter(|t| t.status == status).count();
        if n > 0 {
            outcomes.push(format!("{n} {what}"));
        }
    }
    let outcomes = if outcomes.is_empty() { "no trial ran".to_string() } else { outcomes.join(", ") };
    crate::error::Error::NoSuccessfulTrial { count: leaderboard.len(), outcomes, reasons }
}
