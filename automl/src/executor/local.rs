//! Trials as threads of this process, one per running trial.
use std::collections::HashSet;
use std::sync::{mpsc, Arc};
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use automl_core::metrics::Metric;

use super::{Executor, ExecutorEvent};
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, ExperimentData};
use crate::trial::{TrialMonitor, TrialResult, TrialSpec, TrialStatus};

/// Stack of a trial thread: linfa's trees recurse deeply on large data.
const TRIAL_STACK: usize = 64 << 20;

/// Runs each trial on its own thread over data shared by all of them.
pub struct LocalExecutor {
    data: Arc<ExperimentData>,
    metric: Arc<dyn Metric>,
    extra: Arc<Vec<Arc<dyn Metric>>>,
    tx: mpsc::Sender<TrialResult>,
    rx: mpsc::Receiver<TrialResult>,
    abandoned: HashSet<u64>,
}

impl LocalExecutor {
    /// Trials on `data`, scored with `metric` (the objective) and `extra` (other metrics
    /// shown in the leaderboard).
    pub fn new(data: Arc<ExperimentData>, metric: Arc<dyn Metric>, extra: Vec<Arc<dyn Metric>>) -> Self {
        let (tx, rx) = mpsc::channel();
        LocalExecutor { data, metric, extra: Arc::new(extra), tx, rx, abandoned: HashSet::new() }
    }
}

impl Executor for LocalExecutor {
    /// Threads die with the process, so an adopted trial is simply run again.
    fn launch(&mut self, spec: TrialSpec, _adopt: bool, monitor: Arc<dyn TrialMonitor>) -> Result<()> {
        let (tx, data, metric, extra) = (self.tx.clone(), Arc::clone(&self.data), Arc::clone(&self.metric), Arc::clone(&self.extra));
        let id = spec.id;
        std::thread::Builder::new()
            .name(format!("trial-{id}"))
            .stack_size(TRIAL_STACK)
            .spawn(move || {
                // A panic outside the guarded fit (a metric, the pipeline) fails this trial;
                // a thread that died without a word would keep the run waiting for it.
                let started = Instant::now();
                let run = std::panic::catch_unwind(AssertUnwindSafe(|| evaluate(&spec, &data, metric.as_ref(), &extra, monitor.as_ref())));
                let result = run.unwrap_or_else(|panic| {
                    let message = format!("the trial panicked: {}", automl_core::learners::panic_message(&panic));
                    TrialResult::ended(spec.id, spec.learner.clone(), spec.config.clone(), TrialStatus::Failed, started.elapsed().as_secs_f64(), Some(message))
                });
                let _ = tx.send(result);
            })
            .map(|_| ())
            .map_err(|e| Error::Thread { what: format!("trial {id}"), source: e })
    }

    /// linfa fits cannot be interrupted: the trial is told to stop at its next report (by
    /// its monitor), its thread may run on until its fit returns, and its result is dropped.
    fn abandon(&mut self, trial: u64) {
        self.abandoned.insert(trial);
    }

    fn next_event(&mut self, timeout: Duration) -> Option<ExecutorEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let result = self.rx.recv_timeout(left).ok()?;
            if !self.abandoned.remove(&result.id) {
                return Some(ExecutorEvent::Finished(result));
            }
        }
    }

    fn shutdown(&mut self, _keep: bool) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::data::{Column, Table};
    use automl_core::metrics::{Direction, Prediction};
    use automl_core::profile::ColumnKind;
    use automl_core::task::{Target, Task};
    use automl_core::validation::{make_splits, ValidationPlan};

    #[derive(Debug)]
    struct Panicking;
    impl Metric for Panicking {
        fn name(&self) -> &str {
            "panicking"
        }
        fn direction(&self) -> Direction {
            Direction::Maximize
        }
        fn supports(&self, _task: Task) -> bool {
            true
        }
        fn score(&self, _truth: &Target, _prediction: &Prediction) -> automl_core::Result<f64> {
            panic!("a metric that panics")
        }
    }

    struct Quiet;
    impl TrialMonitor for Quiet {
        fn report(&self, _trial: u64, _learner: &str, _step: usize, _score: f64) -> automl_core::learners::Control {
            automl_core::learners::Control::Continue
        }
    }

    #[test]
    fn a_trial_that_panics_outside_its_fit_fails_instead_of_never_ending() {
        let n = 40;
        let table = Table { names: vec!["x".into()], columns: vec![Column::Numeric((0..n).map(|i| i as f64).collect())], n_rows: n };
        let target = Target::Classes { codes: (0..n).map(|i| usize::from(i >= n / 2)).collect(), labels: vec!["a".into(), "b".into()] };
        let plan = ValidationPlan::Holdout { fraction: 0.25 };
        let splits = make_splits(&plan, &target, 0).expect("splits");
        let data = Arc::new(ExperimentData::new(table, target, Task::Binary, vec![("x".into(), ColumnKind::Numeric)], splits));
        let mut ex = LocalExecutor::new(data, Arc::new(Panicking), Vec::new());
        let learner = automl_core::learners::learner_by_name("logistic").expect("logistic");
        let config = learner.starts(Task::Binary, automl_core::learners::DataShape { rows: n, features: 1, classes: 2 }).remove(0);
        let spec = TrialSpec { id: 1, learner: "logistic".into(), config, metric: "panicking".into(), validation: plan, seed: 0, split_seed: 0, time_limit_s: None, data: None, train_scores: false };
        ex.launch(spec, false, Arc::new(Quiet)).expect("launch");
        let Some(ExecutorEvent::Finished(r)) = ex.next_event(Duration::from_secs(60)) else { panic!("no result: the run would wait for ever") };
        assert_eq!(r.status, TrialStatus::Failed);
        assert!(r.message.as_deref().is_some_and(|m| m.contains("the trial panicked: a metric that panics")), "{r:?}");
    }
}
