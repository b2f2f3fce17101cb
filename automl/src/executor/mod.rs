//! Where trials run, behind one small trait: the runner hands an [`Executor`] trial specs
//! and hears back through [`Executor::next_event`]; intermediate scores go to the trial's
//! [`TrialMonitor`], which may stop it. Two executors: threads here ([`LocalExecutor`]) and
//! Kubernetes Jobs (`crate::kubernetes::KubernetesExecutor`).
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::trial::{TrialMonitor, TrialResult, TrialSpec};

mod local;

pub use local::LocalExecutor;

/// What an executor tells the runner.
#[derive(Debug, Clone)]
pub enum ExecutorEvent {
    /// The trial exists where it runs (a Job created now, or found from before a restart):
    /// journaled, so that a restarted runner adopts it instead of starting it again.
    Dispatched {
        /// Trial number.
        trial: u64,
        /// The name it runs under (the Job's name).
        job: String,
    },
    /// The trial ended, well or not.
    Finished(TrialResult),
}

/// Runs trials somewhere and reports how they end.
pub trait Executor {
    /// Starts `spec`, reporting its intermediate scores to `monitor`. `adopt`: the trial was
    /// dispatched before a restart, so find it where it runs and never start it twice (an
    /// executor whose trials die with the process starts it again). An error here is the
    /// executor's own failure (no thread could be started), not the trial's.
    fn launch(&mut self, spec: TrialSpec, adopt: bool, monitor: Arc<dyn TrialMonitor>) -> Result<()>;
    /// Gives up on a trial: it is told to stop (a Job is deleted) and a result that comes
    /// later is dropped.
    fn abandon(&mut self, trial: u64);
    /// The next event, waiting at most `timeout`; `None` when nothing happened in time.
    fn next_event(&mut self, timeout: Duration) -> Option<ExecutorEvent>;
    /// Ends the run's side: unless `keep`, stops what still runs. Returns notes for the
    /// user (what was deleted or left running, what could not be cleaned up).
    fn shutdown(&mut self, keep: bool) -> Vec<String>;
    /// Time a trial may run past its own limit before it is given up: scheduling and
    /// image pulls for Jobs, nothing for threads.
    fn startup_allowance(&self) -> Duration {
        Duration::ZERO
    }
    /// Whether trials read their own copy of the data (then their spec carries the
    /// data's SHA-256, and a different copy is refused).
    fn remote(&self) -> bool {
        false
    }
    /// Whether the executor can still run trials: an error (a cluster that stopped
    /// answering) ends the run there, with its journal left resumable.
    fn check(&self) -> Result<()> {
        Ok(())
    }
    /// The clock budgets are measured on. Only test executors that play time change it.
    fn now(&self) -> Instant {
        Instant::now()
    }
}
