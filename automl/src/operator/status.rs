//! The Experiment's status as the operator keeps it: the phase, conditions by Kubernetes
//! conventions (a transition time that moves only when the condition's status does), trial
//! counts by outcome and the best trial. The run's thread and the reconciler change a
//! [`Tracker`]; one task per run writes its latest snapshot to the `status` subresource,
//! so a slow API server never holds up the search and writes never go out of order.
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use tokio::sync::watch;

use crate::kubernetes::crd::{Condition, Experiment, ExperimentStatus};
use crate::outcome::Observer;
use crate::trial::{TrialResult, TrialStatus};

/// Phases of an Experiment.
pub mod phase {
    /// Applied, not started.
    pub const PENDING: &str = "Pending";
    /// Its search runs.
    pub const RUNNING: &str = "Running";
    /// It ended with a model.
    pub const SUCCEEDED: &str = "Succeeded";
    /// It ended without one.
    pub const FAILED: &str = "Failed";
}

/// Whether `status` is final: the operator does nothing more for it.
pub fn is_terminal(status: Option<&ExperimentStatus>) -> bool {
    matches!(status.and_then(|s| s.phase.as_deref()), Some(phase::SUCCEEDED | phase::FAILED))
}

/// Now, at the second, as Kubernetes writes times.
pub fn now() -> String {
    Timestamp::from_second(Timestamp::now().as_second()).map_or_else(|_| Timestamp::now().to_string(), |t| t.to_string())
}

/// Sets condition `kind` on `status`; its transition time moves only when its status does.
pub fn set_condition(status: &mut ExperimentStatus, kind: &str, value: bool, reason: &str, message: &str, generation: Option<i64>) {
    let value = if value { "True" } else { "False" };
    let previous = status.conditions.iter().find(|c| c.kind == kind).filter(|c| c.status == value).map(|c| c.last_transition_time.clone());
    status.conditions.retain(|c| c.kind != kind);
    status.conditions.push(Condition {
        kind: kind.to_string(),
        status: value.to_string(),
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: previous.unwrap_or_else(now),
        observed_generation: generation,
    });
}

/// The status of one run, shared by its thread and the reconciler.
pub struct Tracker {
    tx: watch::Sender<ExperimentStatus>,
    generation: Option<i64>,
}

impl Tracker {
    /// Starts from the object's status and spawns the task that writes it (on `runtime`).
    pub fn start(api: Api<Experiment>, name: &str, from: ExperimentStatus, generation: Option<i64>, runtime: &tokio::runtime::Handle) -> Arc<Self> {
        let (tx, rx) = watch::channel(from);
        runtime.spawn(write_loop(api, name.to_string(), rx));
        Arc::new(Tracker { tx, generation })
    }

    /// Changes the status (and has it written).
    pub fn update(&self, f: impl FnOnce(&mut ExperimentStatus, Option<i64>)) {
        self.tx.send_modify(|s| f(s, self.generation));
    }

    /// The status as last set.
    pub fn current(&self) -> ExperimentStatus {
        self.tx.borrow().clone()
    }

    /// The search runs (`resumed`: picked up from its journal, whose finished trials the
    /// runner reports again).
    pub fn running(&self, resumed: bool) {
        self.update(|s, g| {
            s.phase = Some(phase::RUNNING.into());
            s.start_time.get_or_insert_with(now);
            // Counted again from the run: a resumed one replays its journal's trials.
            s.trials = Default::default();
            let (reason, message) = if resumed { ("Resumed", "the search goes on from its journal") } else { ("Started", "the search runs") };
            set_condition(s, "Running", true, reason, message, g);
        });
    }

    /// It ended, with the model at `model` (built-in trials).
    pub fn succeeded(&self, model: Option<String>, best: Option<(u64, Option<f64>)>, message: &str) {
        self.update(|s, g| {
            s.phase = Some(phase::SUCCEEDED.into());
            s.model = model.or(s.model.take());
            if let Some((id, score)) = best {
                s.best_trial = Some(id);
                s.best_score = score.or(s.best_score);
            }
            s.trials.running = 0;
            s.completion_time = Some(now());
            set_condition(s, "Running", false, "Finished", message, g);
            let reason = if s.model.is_some() { "ModelSaved" } else { "SearchEnded" };
            set_condition(s, "Succeeded", true, reason, message, g);
        });
    }

    /// It cannot run, or ended without a model.
    pub fn failed(&self, reason: &str, message: &str) {
        self.update(|s, g| {
            s.phase = Some(phase::FAILED.into());
            s.trials.running = 0;
            s.completion_time = Some(now());
            set_condition(s, "Running", false, reason, message, g);
            set_condition(s, "Succeeded", false, reason, message, g);
        });
    }
}

/// Writes each new snapshot as a merge patch of `status`; retries while the API server
/// fails, stops when the Experiment is gone or a final status is written.
async fn write_loop(api: Api<Experiment>, name: String, mut rx: watch::Receiver<ExperimentStatus>) {
    loop {
        let snapshot = rx.borrow_and_update().clone();
        let patch = serde_json::json!({ "status": snapshot });
        match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) if is_terminal(Some(&snapshot)) => return,
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return,
            Err(e) => {
                eprintln!("automl operator: cannot write the status of {name} (retrying): {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Reports a run's trials to its [`Tracker`].
pub struct RunObserver(pub Arc<Tracker>);

impl Observer for RunObserver {
    fn on_trial(&mut self, result: &TrialResult, best: Option<&TrialResult>, _elapsed: Duration) {
        self.0.update(|s, _| {
            let t = &mut s.trials;
            match result.status {
                TrialStatus::Ok => t.succeeded += 1,
                TrialStatus::Failed => t.failed += 1,
                TrialStatus::EarlyStopped => t.early_stopped += 1,
                TrialStatus::TimedOut => t.timed_out += 1,
            }
            if let Some(b) = best {
                s.best_trial = Some(b.id);
                s.best_score = b.score;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_keeps_its_transition_time_until_its_status_changes() {
        let mut s = ExperimentStatus::default();
        set_condition(&mut s, "Running", true, "Started", "a", Some(1));
        s.conditions[0].last_transition_time = "2020-01-01T00:00:00Z".into();
        set_condition(&mut s, "Running", true, "Resumed", "b", Some(2));
        assert_eq!((s.conditions.len(), s.conditions[0].last_transition_time.as_str()), (1, "2020-01-01T00:00:00Z"));
        assert_eq!((s.conditions[0].reason.as_str(), s.conditions[0].observed_generation), ("Resumed", Some(2)));
        set_condition(&mut s, "Running", false, "Finished", "c", Some(2));
        assert_ne!(s.conditions[0].last_transition_time, "2020-01-01T00:00:00Z");
        assert!(s.conditions[0].last_transition_time.ends_with('Z'));
    }
}
