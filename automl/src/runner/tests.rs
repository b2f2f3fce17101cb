//! The scheduling loop against a fake executor: no threads, no cluster, and a clock that
//! moves only when the loop waits, so budgets are tested exactly and at once.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automl_core::metrics::Direction;
use automl_core::space::ParamValue;

use super::monitor::RuleMonitor;
use super::record::Recorder;
use super::schedule::{RefitReserve, Schedule, SearchOutcome};
use crate::executor::{Executor, ExecutorEvent};
use crate::journal::JournalState;
use crate::options::{Budgets, CancelToken};
use crate::outcome::{Silent, StopReason};
use crate::search::{AskContext, Strategy, Suggestion};
use crate::trial::{TrialMonitor, TrialResult, TrialSpec, TrialStatus};

/// What a fake trial does.
#[derive(Clone, Copy, Debug)]
enum Act {
    /// Finishes after this many seconds with this score.
    Score(f64, f64),
    /// Fails after this many seconds.
    Fail(f64),
    /// Never ends.
    Hang,
}

/// Runs trials by script on a virtual clock.
struct FakeExecutor {
    now: Instant,
    script: Box<dyn Fn(u64) -> Act>,
    pending: VecDeque<(Instant, TrialResult)>,
    launched: Vec<(u64, bool)>,
    abandoned: Vec<u64>,
}

impl FakeExecutor {
    fn new(script: impl Fn(u64) -> Act + 'static) -> Self {
        FakeExecutor { now: Instant::now(), script: Box::new(script), pending: VecDeque::new(), launched: Vec::new(), abandoned: Vec::new() }
    }
}

impl Executor for FakeExecutor {
    fn launch(&mut self, spec: TrialSpec, adopt: bool, _monitor: Arc<dyn TrialMonitor>) -> crate::error::Result<()> {
        self.launched.push((spec.id, adopt));
        let (after, status, score, message) = match (self.script)(spec.id) {
            Act::Score(after, score) => (after, TrialStatus::Ok, Some(score), None),
            Act::Fail(after) => (after, TrialStatus::Failed, None, Some("the learner failed".to_string())),
            Act::Hang => return Ok(()),
        };
        let mut r = TrialResult::ended(spec.id, spec.learner, spec.config, status, after, message);
        r.score = score;
        r.fold_scores = score.into_iter().collect();
        self.pending.push_back((self.now + Duration::from_secs_f64(after), r));
        self.pending.make_contiguous().sort_by_key(|(at, _)| *at);
        Ok(())
    }

    fn abandon(&mut self, trial: u64) {
        self.abandoned.push(trial);
        self.pending.retain(|(_, r)| r.id != trial);
    }

    fn next_event(&mut self, timeout: Duration) -> Option<ExecutorEvent> {
        let until = self.now + timeout;
        match self.pending.front() {
            Some((at, _)) if *at <= until => {
                let (at, r) = self.pending.pop_front()?;
                self.now = self.now.max(at);
                Some(ExecutorEvent::Finished(r))
            }
            _ => {
                self.now = until;
                None
            }
        }
    }

    fn shutdown(&mut self, _keep: bool) -> Vec<String> {
        Vec::new()
    }

    fn now(&self) -> Instant {
        self.now
    }
}

/// Suggests x = 1, 2, 3, ... and remembers what it was told.
#[derive(Default)]
struct Counting {
    asked: i64,
    told: Vec<(i64, Option<f64>)>,
    replayed: Vec<i64>,
}

fn x_of(s: &Suggestion) -> i64 {
    match s.config.get("x") {
        Some(ParamValue::Int(x)) => *x,
        _ => -1,
    }
}

impl Strategy for Counting {
    fn ask(&mut self, _ctx: &AskContext) -> Option<Suggestion> {
        self.asked += 1;
        Some(Suggestion { learner: "fake".into(), config: [("x".to_string(), ParamValue::Int(self.asked))].into() })
    }
    fn tell(&mut self, s: &Suggestion, loss: Option<f64>, _cost_s: f64) {
        self.told.push((x_of(s), loss));
    }
    fn replay(&mut self, s: &Suggestion, outcome: Option<(Option<f64>, f64)>) {
        self.replayed.push(x_of(s));
        self.asked = self.asked.max(x_of(s));
        if let Some((loss, _)) = outcome {
            self.told.push((x_of(s), loss));
        }
    }
}

fn spec(id: u64, s: &Suggestion, limit: Option<f64>) -> TrialSpec {
    TrialSpec {
        id,
        learner: s.learner.clone(),
        config: s.config.clone(),
        metric: "accuracy".into(),
        validation: automl_core::validation::ValidationPlan::Holdout { fraction: 0.2 },
        seed: id,
        split_seed: 0,
        time_limit_s: limit,
        data: None,
        train_scores: false,
    }
}

fn budgets(time: Option<f64>, trials: Option<usize>) -> Budgets {
    Budgets { time_budget: time, max_trials: trials, concurrency: 1, ..Budgets::default() }
}

fn search(ex: &mut FakeExecutor, strategy: &mut Counting, budgets: Budgets, resume: Option<&JournalState>) -> SearchOutcome {
    let mut recorder = Recorder::none();
    let monitor = Arc::new(RuleMonitor::new(None, Direction::Maximize, false, Vec::new()));
    Schedule {
        strategy,
        executor: ex,
        monitor,
        recorder: &mut recorder,
        observer: &mut Silent,
        budgets,
        direction: Direction::Maximize,
        spec: &spec,
        reserve: RefitReserve::None,
        run_rules: Vec::new(),
        setup_time: Duration::ZERO,
    }
    .run(resume)
    .expect("the search runs")
}

#[test]
fn a_trial_still_running_when_the_budget_ends_is_timed_out_and_the_search_stops() {
    // Trials take 3 s each; the third never ends.
    let mut ex = FakeExecutor::new(|id| if id == 3 { Act::Hang } else { Act::Score(3.0, 0.5 + id as f64 / 10.0) });
    let mut strategy = Counting::default();
    let started = ex.now;
    let mut b = budgets(Some(10.0), None);
    b.trial_time_limit = Some(100.0);
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.stop_reason, StopReason::TimeBudget);
    let statuses: Vec<_> = out.results.iter().map(|r| (r.id, r.status)).collect();
    assert_eq!(statuses, vec![(1, TrialStatus::Ok), (2, TrialStatus::Ok), (3, TrialStatus::TimedOut)]);
    assert!(out.results[2].message.as_deref().is_some_and(|m| m.contains("time budget ran out")), "{:?}", out.results[2]);
    // Left to the executor's shutdown, which keeps it (--keep-jobs) or stops it.
    assert!(ex.abandoned.is_empty(), "{:?}", ex.abandoned);
    // Ended at the budget, not before and not long after.
    let ended = ex.now.duration_since(started).as_secs_f64();
    assert!((10.0..10.5).contains(&ended), "ended at {ended} s");
    assert_eq!(out.best.as_ref().map(|b| b.id), Some(2));
}

#[test]
fn a_trial_past_its_own_limit_is_abandoned_and_its_slot_reused() {
    let mut ex = FakeExecutor::new(|id| if id == 1 { Act::Hang } else { Act::Score(1.0, 0.7) });
    let mut strategy = Counting::default();
    let mut b = budgets(None, Some(3));
    b.trial_time_limit = Some(5.0);
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.stop_reason, StopReason::MaxTrials);
    let first = out.results.iter().find(|r| r.id == 1).expect("trial 1");
    assert_eq!(first.status, TrialStatus::TimedOut);
    assert!(first.message.as_deref().is_some_and(|m| m.contains("exceeded its time limit of 5.0 s")), "{first:?}");
    assert_eq!(out.results.len(), 3);
}

#[test]
fn patience_ends_the_search_after_that_many_trials_without_a_new_best() {
    // The first trial is the best; nothing after it improves.
    let mut ex = FakeExecutor::new(|id| Act::Score(1.0, if id == 1 { 0.9 } else { 0.5 }));
    let mut strategy = Counting::default();
    let mut b = budgets(None, Some(50));
    b.patience = Some(3);
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.stop_reason, StopReason::Patience);
    assert_eq!(out.results.len(), 4, "the best, then three without improvement");
}

#[test]
fn the_target_score_ends_the_search_once_reached() {
    let mut ex = FakeExecutor::new(|id| Act::Score(1.0, id as f64 / 10.0));
    let mut strategy = Counting::default();
    let mut b = budgets(None, Some(50));
    b.target_score = Some(0.45);
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.stop_reason, StopReason::TargetScore);
    assert_eq!(out.results.len(), 5, "trial 5 scores 0.5 >= 0.45");
    assert_eq!(out.best.map(|b| b.id), Some(5));
}

#[test]
fn a_failing_trial_fails_alone_and_the_strategy_hears_of_it() {
    let mut ex = FakeExecutor::new(|id| if id == 2 { Act::Fail(0.5) } else { Act::Score(1.0, 0.6) });
    let mut strategy = Counting::default();
    let out = search(&mut ex, &mut strategy, budgets(None, Some(4)), None);
    assert_eq!(out.stop_reason, StopReason::MaxTrials);
    let failed = out.results.iter().find(|r| r.id == 2).expect("trial 2");
    assert_eq!((failed.status, failed.score), (TrialStatus::Failed, None));
    assert_eq!(out.results.iter().filter(|r| r.status == TrialStatus::Ok).count(), 3);
    assert!(strategy.told.contains(&(2, None)), "{:?}", strategy.told);
}

#[test]
fn concurrency_keeps_that_many_trials_running() {
    let mut ex = FakeExecutor::new(|_| Act::Score(2.0, 0.5));
    let mut strategy = Counting::default();
    let mut b = budgets(Some(5.0), None);
    b.concurrency = 3;
    let out = search(&mut ex, &mut strategy, b, None);
    // Three at a time, 2 s each: two waves finish within 5 s, the third is cut off.
    let ok = out.results.iter().filter(|r| r.status == TrialStatus::Ok).count();
    let cut = out.results.iter().filter(|r| r.status == TrialStatus::TimedOut).count();
    assert_eq!((ok, cut), (6, 3), "{:?}", out.results.iter().map(|r| (r.id, r.status)).collect::<Vec<_>>());
}

#[test]
fn a_cancelled_run_stops_dispatching_and_abandons_what_runs() {
    let mut ex = FakeExecutor::new(|_| Act::Hang);
    let mut strategy = Counting::default();
    let token = CancelToken::new();
    token.cancel();
    let mut b = budgets(None, Some(10));
    b.cancel = Some(token);
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.stop_reason, StopReason::Interrupted);
    assert!(out.results.is_empty(), "nothing was started: {:?}", out.results);
}

#[test]
fn resume_replays_finished_trials_and_adopts_the_unfinished_without_asking_again() {
    let s = |x: i64| Suggestion { learner: "fake".into(), config: [("x".to_string(), ParamValue::Int(x))].into() };
    let done = |id: u64, score: f64| {
        let mut r = TrialResult::ended(id, "fake".into(), s(id as i64).config, TrialStatus::Ok, 1.0, None);
        r.score = Some(score);
        r
    };
    let state = JournalState {
        experiment: "abc".into(),
        config: serde_json::json!({}),
        trials: vec![(1, s(1), Some("job-1".into()), Some(done(1, 0.8))), (2, s(2), Some("job-2".into()), None), (3, s(3), None, Some(done(3, 0.6)))],
        spent_s: 4.0,
        ended: false,
        torn_tail: true,
        finished_s: Default::default(),
    };
    let mut ex = FakeExecutor::new(|_| Act::Score(1.0, 0.7));
    let mut strategy = Counting::default();
    let out = search(&mut ex, &mut strategy, budgets(None, Some(5)), Some(&state));
    // Trial 2 was adopted (it had a Job), then 4 and 5 were new.
    assert_eq!(ex.launched, vec![(2, true), (4, false), (5, false)]);
    assert_eq!(strategy.replayed, vec![1, 2, 3]);
    let mut ids: Vec<u64> = out.results.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
    assert_eq!(out.best.map(|b| b.id), Some(1), "the replayed best stays best");
    assert!(out.notes.iter().any(|n| n.contains("torn")), "{:?}", out.notes);
    assert_eq!(out.stop_reason, StopReason::MaxTrials);
}

#[test]
fn the_time_budget_of_a_resumed_run_is_what_was_left() {
    let state = JournalState { experiment: "abc".into(), config: serde_json::json!({}), trials: Vec::new(), spent_s: 8.0, ended: false, torn_tail: false, finished_s: Default::default() };
    let mut ex = FakeExecutor::new(|_| Act::Hang);
    let started = ex.now;
    let mut strategy = Counting::default();
    let out = search(&mut ex, &mut strategy, budgets(Some(10.0), None), Some(&state));
    assert_eq!(out.stop_reason, StopReason::TimeBudget);
    let ended = ex.now.duration_since(started).as_secs_f64();
    assert!((2.0..2.5).contains(&ended), "2 s were left, ended after {ended} s");
}

#[test]
fn the_time_spent_is_journaled_as_the_run_goes_not_only_when_trials_finish() {
    // One trial that never finishes: no `finished` entry ever says how long the run took.
    let dir = tempfile::tempdir().expect("tmp");
    let mut ex = FakeExecutor::new(|_| Act::Hang);
    let mut strategy = Counting::default();
    let mut recorder = Recorder::open(Some(dir.path()), None, "exp", serde_json::json!({}), false).expect("recorder");
    let monitor = Arc::new(RuleMonitor::new(None, Direction::Maximize, false, Vec::new()));
    let mut b = budgets(Some(30.0), Some(1));
    b.trial_time_limit = Some(100.0);
    Schedule {
        strategy: &mut strategy,
        executor: &mut ex,
        monitor,
        recorder: &mut recorder,
        observer: &mut Silent,
        budgets: b,
        direction: Direction::Maximize,
        spec: &spec,
        reserve: RefitReserve::None,
        run_rules: Vec::new(),
        setup_time: Duration::ZERO,
    }
    .run(None)
    .expect("the search runs");
    drop(recorder);
    // A controller killed just before the end would resume with nearly all of it spent.
    let state = crate::journal::read(dir.path()).expect("journal");
    assert!(state.spent_s >= 25.0, "the journal says {} s were spent of 30", state.spent_s);
}

#[test]
fn a_stuck_trial_cannot_keep_a_run_without_a_time_budget_from_ending() {
    // No time budget and no trial limit given: the options still bound each trial.
    let mut options = crate::options::ExperimentOptions::new("data.csv", "y");
    options.time_budget = None;
    options.max_trials = Some(2);
    options.concurrency = 1;
    let b = options.budgets();
    assert_eq!(b.trial_time_limit, Some(crate::options::STUCK_TRIAL_S));
    let mut ex = FakeExecutor::new(|id| if id == 1 { Act::Hang } else { Act::Score(1.0, 0.7) });
    let mut strategy = Counting::default();
    let out = search(&mut ex, &mut strategy, b, None);
    assert_eq!(out.results.len(), 2, "the run ended");
    let stuck = out.results.iter().find(|r| r.id == 1).expect("trial 1");
    assert_eq!(stuck.status, TrialStatus::TimedOut, "{stuck:?}");
    assert_eq!(ex.abandoned, vec![1]);
}
