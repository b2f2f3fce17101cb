//! Trials as threads of this process, one per running trial.
use std::collections::HashSet;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use automl_core::metrics::Metric;

use super::{Executor, ExecutorEvent};
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, ExperimentData};
use crate::trial::{TrialMonitor, TrialResult, TrialSpec};

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
                let result = evaluate(&spec, &data, metric.as_ref(), &extra, monitor.as_ref());
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
