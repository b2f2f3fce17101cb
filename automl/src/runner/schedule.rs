//! The scheduling loop: ask the strategy, dispatch to the executor, collect what ends,
//! and stop on the budgets (time, trials, target score, patience), a stopping-rule
//! plugin, or a cancel. It knows trials only as specs and results, so the same loop runs
//! built-in and custom trials, on threads or on a cluster, and a fake executor tests it.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automl_core::metrics::Direction;

use super::monitor::RuleMonitor;
use super::record::Recorder;
use crate::error::Result;
use crate::executor::{Executor, ExecutorEvent};
use crate::journal::JournalState;
use crate::options::Budgets;
use crate::outcome::{Observer, StopReason};
use crate::plugins::{StoppingPlugin, TrialSummary, Verdict};
use crate::search::{AskContext, Strategy, Suggestion};
use crate::trial::{TrialMonitor, TrialResult, TrialSpec, TrialStatus};

/// Trials after the best whose refit time the reserve counts, for an ensemble.
const ENSEMBLE_RESERVE_TRIALS: usize = 3;
/// The most of the budget kept back to refit ensemble members other than the best trial.
const OTHERS_RESERVE_SHARE: f64 = 0.1;

/// Share of the budget the refit reserve keeps back at least: small data refits and
/// blends in a few hundredths of a second, and the best trial's own refit gets its time
/// even past the budget.
const MIN_RESERVE_SHARE: f64 = 0.03;
/// The best trial's refit is reserved this many times its per-fold fit time scaled to all
/// rows (a trial's time also covers its validation predictions, which a refit skips: on
/// diamonds three members refit in 1.7 s where their trials took 2.0 s by that scale).
const BEST_REFIT_MARGIN: f64 = 1.25;

/// Seconds a trial may overrun its limit before it is abandoned.
const TRIAL_GRACE_S: f64 = 1.0;

/// Builds the spec of trial `id` from a suggestion and its time limit.
pub type SpecFn<'a> = dyn Fn(u64, &Suggestion, Option<f64>) -> TrialSpec + 'a;

/// How long the final refit will take, to keep that time back from the search.
#[derive(Debug, Clone, Copy)]
pub enum RefitReserve {
    /// No refit follows (custom trials): the search may use the whole budget.
    None,
    /// The best configuration is refit on all rows; a training fold holds this share of
    /// them (the refit costs about a fold's fit time scaled by rows).
    Refit {
        /// Rows of a training fold / all rows.
        fold_share: f64,
        /// Which configurations are bagged instead (they need no refit time).
        final_fit: crate::bagging::FinalFit,
        /// Seconds kept back, besides, for what the report measures after the model is
        /// saved (0 without an output folder).
        report_s: f64,
    },
}

impl RefitReserve {
    fn report_s(self) -> f64 {
        match self {
            RefitReserve::None => 0.0,
            RefitReserve::Refit { report_s, .. } => report_s,
        }
    }
}

/// Everything the loop works with.
pub struct Schedule<'a> {
    /// Suggests configurations.
    pub strategy: &'a mut dyn Strategy,
    /// Runs them.
    pub executor: &'a mut dyn Executor,
    /// Judges running trials from their reports.
    pub monitor: Arc<RuleMonitor>,
    /// Journals and logs what happens.
    pub recorder: &'a mut Recorder,
    /// Hears of every finished trial.
    pub observer: &'a mut dyn Observer,
    /// What ends the search.
    pub budgets: Budgets,
    /// Which way scores are better.
    pub direction: Direction,
    /// Turns suggestions into specs.
    pub spec: &'a SpecFn<'a>,
    /// Time to keep back for the refit.
    pub reserve: RefitReserve,
    /// Stopping-rule plugins that may end the run after each trial.
    pub run_rules: Vec<StoppingPlugin>,
    /// Time the session spent before the loop (setup, connecting): budgets count it.
    pub setup_time: Duration,
}

/// What the search did.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    /// Every trial, in the order they ended (replayed ones first).
    pub results: Vec<TrialResult>,
    /// The best successful trial.
    pub best: Option<TrialResult>,
    /// Why the search stopped.
    pub stop_reason: StopReason,
    /// Things the user should know.
    pub notes: Vec<String>,
    /// Seconds from start to the first trial that finished in this session.
    pub first_trial_s: Option<f64>,
    /// Seconds the search took in this session.
    pub search_s: f64,
}

struct Running {
    suggestion: Suggestion,
    started: Instant,
    limit: Option<f64>,
}

/// How a trial came to be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It finished and reported.
    Finished,
    /// It was given up on (its limit, the budget, a cancel) or could not start.
    Abandoned,
    /// It had finished before a restart (read back from the journal).
    Replayed,
}

/// The loop's state.
/// How often the time spent is journaled while trials run.
const HEARTBEAT: Duration = Duration::from_secs(5);

struct State {
    start: Instant,
    /// This session's time budget (what is left of it for a resumed run).
    budget_s: Option<f64>,
    running: HashMap<u64, Running>,
    results: Vec<TrialResult>,
    best: Option<TrialResult>,
    since_improvement: usize,
    next_id: u64,
    stop: Option<StopReason>,
    first_trial_s: Option<f64>,
    notes: Vec<String>,
    history: Vec<TrialSummary>,
    /// Seconds kept back for the final refit; refined from the best trial's fit time.
    reserve_s: f64,
    /// When the time spent was last journaled.
    last_heartbeat: Instant,
}

impl State {
    fn new(start: Instant, budget_s: Option<f64>, reserve: RefitReserve) -> Self {
        let reserve_s = match reserve {
            RefitReserve::None => 0.0,
            RefitReserve::Refit { .. } => (MIN_RESERVE_SHARE * budget_s.unwrap_or(f64::INFINITY)).min(2.0) + reserve.report_s(),
        };
        State {
            start,
            budget_s,
            running: HashMap::new(),
            results: Vec::new(),
            best: None,
            since_improvement: 0,
            next_id: 1,
            last_heartbeat: start,
            stop: None,
            first_trial_s: None,
            notes: Vec::new(),
            history: Vec::new(),
            reserve_s,
        }
    }

    /// When the search must end to leave time for the refit.
    fn search_deadline(&self) -> Option<Instant> {
        let budget = self.budget_s?;
        Some(self.start + Duration::from_secs_f64((budget - self.reserve_s).max(0.0)))
    }

    /// The refit needs about the per-fold fit times of the trials it will fit, scaled to
    /// all rows: the best trial's, and those of the next best that an ensemble may add
    /// (their share of the reserve is smaller, and at most a tenth of the budget: an
    /// ensemble drops members that do not fit, and a slow forest that may join one should
    /// not end the search early).
    fn refine_reserve(&mut self, reserve: RefitReserve, direction: Direction) {
        let (RefitReserve::Refit { fold_share, final_fit, report_s }, Some(budget)) = (reserve, self.budget_s) else { return };
        let mut ok: Vec<&TrialResult> = self.results.iter().filter(|t| t.status == TrialStatus::Ok && t.score.is_some()).collect();
        ok.sort_by(|a, b| direction.to_loss(a.score.unwrap_or(f64::NAN)).total_cmp(&direction.to_loss(b.score.unwrap_or(f64::NAN))));
        let per_fold = |t: &TrialResult| if crate::bagging::bags(t, final_fit, true, crate::bagging::MAX_PREDICT_S_PER_ROW) { 0.0 } else { t.fit_time_s / t.fold_scores.len().max(1) as f64 / fold_share };
        let Some(best) = ok.first() else { return };
        let others: f64 = ok.iter().skip(1).take(ENSEMBLE_RESERVE_TRIALS).map(|t| per_fold(t)).sum();
        self.reserve_s = (per_fold(best) * BEST_REFIT_MARGIN + (others * 0.5).min(OTHERS_RESERVE_SHARE * budget) + 0.2).clamp(MIN_RESERVE_SHARE * budget.min(40.0), 0.35 * budget) + report_s;
    }
}

impl Schedule<'_> {
    /// Runs the search to its end; a resumed run first takes in what its journal says.
    pub fn run(mut self, resume: Option<&JournalState>) -> Result<SearchOutcome> {
        let spent = resume.map_or(0.0, |r| r.spent_s);
        let budget_s = self.budgets.time_budget.map(|t| (t - spent).max(0.0));
        let now = self.executor.now();
        let start = now.checked_sub(self.setup_time).unwrap_or(now);
        let mut st = State::new(start, budget_s, self.reserve);
        if let Some(r) = resume {
            for (suggestion, result) in self.resume(&mut st, r)? {
                self.settle(&mut st, suggestion, result, Ended::Replayed)?;
            }
        }
        loop {
            if self.cancelled() {
                st.stop.get_or_insert(StopReason::Interrupted);
            }
            self.dispatch(&mut st)?;
            if st.running.is_empty() {
                break;
            }
            if self.wait(&mut st)? {
                st.stop.get_or_insert(StopReason::TimeBudget);
                break;
            }
        }
        self.monitor.cancel_all();
        let search_s = self.executor.now().saturating_duration_since(st.start).as_secs_f64();
        Ok(SearchOutcome {
            results: st.results,
            best: st.best,
            stop_reason: st.stop.unwrap_or(StopReason::SearchExhausted),
            notes: st.notes,
            first_trial_s: st.first_trial_s,
            search_s,
        })
    }

    fn cancelled(&self) -> bool {
        self.budgets.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    fn limit(&self, st: &State, time_left: Option<f64>) -> Option<f64> {
        self.budgets.trial_limit(st.budget_s, time_left)
    }

    /// Replays the journal of a run that stopped: the strategy learns what was tried,
    /// unfinished trials are started again or adopted where they run, and the finished
    /// ones are returned to be recorded like new ones (without writing them again).
    fn resume(&mut self, st: &mut State, r: &JournalState) -> Result<Vec<(Suggestion, TrialResult)>> {
        let mut finished = Vec::new();
        for (id, suggestion, job, result) in &r.trials {
            st.next_id = st.next_id.max(id + 1);
            match result {
                Some(res) => {
                    self.strategy.replay(suggestion, Some((self.loss(res), res.fit_time_s)));
                    finished.push((suggestion.clone(), res.clone()));
                }
                None => {
                    self.strategy.replay(suggestion, None);
                    let limit = self.limit(st, st.budget_s);
                    self.launch(st, *id, suggestion.clone(), limit, job.is_some())?;
                }
            }
        }
        if r.torn_tail {
            st.notes.push("the journal's last line was torn by the crash and was ignored".into());
        }
        Ok(finished)
    }

    fn loss(&self, r: &TrialResult) -> Option<f64> {
        match (r.status, r.score) {
            (TrialStatus::Ok | TrialStatus::EarlyStopped, Some(s)) => Some(self.direction.to_loss(s)),
            _ => None,
        }
    }

    /// Starts trials while there are free slots and budget.
    fn dispatch(&mut self, st: &mut State) -> Result<()> {
        while st.stop.is_none() && st.running.len() < self.budgets.concurrency {
            if self.budgets.max_trials.is_some_and(|m| st.next_id as usize > m) {
                st.stop = Some(StopReason::MaxTrials);
                break;
            }
            let now = self.executor.now();
            let time_left = st.search_deadline().map(|d| d.saturating_duration_since(now).as_secs_f64());
            if time_left.is_some_and(|t| t <= 0.0) {
                st.stop = Some(StopReason::TimeBudget);
                break;
            }
            let Some(suggestion) = self.strategy.ask(&AskContext { time_left }) else {
                if st.running.is_empty() {
                    // Nothing fits in the time left, or nothing is left at all.
                    let fits_without_deadline = time_left.is_some() && self.strategy.ask(&AskContext::default()).is_some();
                    st.stop = Some(if fits_without_deadline { StopReason::TimeBudget } else { StopReason::SearchExhausted });
                }
                break;
            };
            let id = st.next_id;
            st.next_id += 1;
            self.recorder.suggested(id, &suggestion)?;
            let limit = self.limit(st, time_left);
            self.launch(st, id, suggestion, limit, false)?;
        }
        Ok(())
    }

    /// Hands a trial to the executor. An executor that cannot start trials at all (no
    /// thread, no runtime) ends the run with its error; the journal keeps the trial for
    /// `automl resume`.
    fn launch(&mut self, st: &mut State, id: u64, suggestion: Suggestion, limit: Option<f64>, adopt: bool) -> Result<()> {
        let spec = (self.spec)(id, &suggestion, limit);
        let started = self.executor.now();
        self.heartbeat(st, started)?;
        let monitor = Arc::clone(&self.monitor) as Arc<dyn TrialMonitor>;
        self.executor.launch(spec, adopt, monitor)?;
        st.running.insert(id, Running { suggestion, started, limit });
        Ok(())
    }

    /// Journals the search time spent at `now`.
    fn heartbeat(&mut self, st: &mut State, now: Instant) -> Result<()> {
        st.last_heartbeat = now;
        self.recorder.elapsed(now.saturating_duration_since(st.start).as_secs_f64())
    }

    /// Waits for the next event, or until the budget ends or a trial overruns its limit.
    /// True when the budget is spent (or the run was cancelled).
    fn wait(&mut self, st: &mut State) -> Result<bool> {
        // An executor that can no longer run trials (a cluster gone) ends the run here,
        // before the journal records an end: `automl resume` continues it.
        self.executor.check()?;
        let grace = TRIAL_GRACE_S + self.executor.startup_allowance().as_secs_f64();
        let overdue_at = st.running.values().filter_map(|r| r.limit.map(|l| r.started + Duration::from_secs_f64(l + grace))).min();
        let wake = match (st.search_deadline(), overdue_at) {
            (Some(d), Some(o)) => Some(d.min(o)),
            (d, o) => d.or(o),
        };
        let now = self.executor.now();
        // Woken at least every heartbeat, to journal the time spent.
        let mut wait = wake.map_or(HEARTBEAT, |w| w.saturating_duration_since(now)).min(HEARTBEAT);
        if self.budgets.cancel.is_some() {
            wait = wait.min(Duration::from_millis(50));
        }
        if now.saturating_duration_since(st.last_heartbeat) >= HEARTBEAT {
            self.heartbeat(st, now)?;
        }
        match self.executor.next_event(wait) {
            Some(ExecutorEvent::Dispatched { trial, job }) => self.recorder.dispatched(trial, &job)?,
            Some(ExecutorEvent::Finished(result)) => {
                // A trial finishing after it was abandoned was recorded then.
                if let Some(r) = st.running.remove(&result.id) {
                    self.settle(st, r.suggestion, result, Ended::Finished)?;
                }
            }
            None => return self.abandon_overdue(st, grace),
        }
        Ok(false)
    }

    /// Gives up on trials past their own limit (the executor stops them), or on all of them
    /// once the budget is spent or the run is cancelled (then the executor's shutdown keeps
    /// or stops them, as `--keep-jobs` says). True in the latter case.
    fn abandon_overdue(&mut self, st: &mut State, grace: f64) -> Result<bool> {
        let now = self.executor.now();
        let interrupted = self.cancelled();
        if interrupted {
            st.stop.get_or_insert(StopReason::Interrupted);
        }
        let budget_spent = interrupted || st.search_deadline().is_some_and(|d| now >= d);
        let mut overdue: Vec<u64> = st
            .running
            .iter()
            .filter(|(_, r)| budget_spent || r.limit.is_some_and(|l| now >= r.started + Duration::from_secs_f64(l + grace)))
            .map(|(id, _)| *id)
            .collect();
        overdue.sort_unstable();
        for id in overdue {
            let Some(r) = st.running.remove(&id) else { continue };
            self.monitor.abandon(id);
            if !budget_spent {
                self.executor.abandon(id);
            }
            let why = if interrupted {
                "still running when the run was interrupted".to_string()
            } else if budget_spent {
                "still running when the time budget ran out".to_string()
            } else {
                format!("exceeded its time limit of {:.1} s", r.limit.unwrap_or(0.0))
            };
            let spent = now.saturating_duration_since(r.started).as_secs_f64();
            let result = TrialResult::ended(id, r.suggestion.learner.clone(), r.suggestion.config.clone(), TrialStatus::TimedOut, spent, Some(why));
            self.settle(st, r.suggestion, result, Ended::Abandoned)?;
        }
        Ok(budget_spent)
    }

    /// Records an ended trial: the rules learn its curve, the strategy its loss, the
    /// journal and trials log its result; then the goals and run-level rules are checked.
    fn settle(&mut self, st: &mut State, suggestion: Suggestion, mut result: TrialResult, how: Ended) -> Result<()> {
        self.monitor.settle(&mut result);
        let elapsed = self.executor.now().saturating_duration_since(st.start);
        if how == Ended::Finished {
            st.first_trial_s.get_or_insert(elapsed.as_secs_f64());
        }
        if how != Ended::Replayed {
            self.strategy.tell(&suggestion, self.loss(&result), result.fit_time_s);
        }
        let improved = result.status == TrialStatus::Ok
            && result.score.is_some_and(|s| st.best.as_ref().and_then(|b| b.score).is_none_or(|b| self.direction.better(s, b)));
        if improved {
            st.since_improvement = 0;
            st.best = Some(result.without_kept());
        } else {
            st.since_improvement += 1;
        }
        if how != Ended::Replayed {
            // Journaled before anything else uses it.
            self.recorder.finished(&result, elapsed.as_secs_f64())?;
        }
        st.history.push(TrialSummary { trial: result.id, learner: result.learner.clone(), score: result.score, finished_s: elapsed.as_secs_f64() });
        st.results.push(result);
        crate::ensemble::keep_best(&mut st.results, self.direction);
        crate::bagging::keep_best(&mut st.results, self.direction);
        st.refine_reserve(self.reserve, self.direction);
        self.observer.on_trial(&st.results[st.results.len() - 1], st.best.as_ref(), elapsed);
        self.check_goals(st);
        self.judge_run(st);
        Ok(())
    }

    /// The target score and patience.
    fn check_goals(&self, st: &mut State) {
        if let (Some(target), Some(b)) = (self.budgets.target_score, st.best.as_ref().and_then(|b| b.score)) {
            if !self.direction.better(target, b) {
                st.stop.get_or_insert(StopReason::TargetScore);
            }
        }
        if self.budgets.patience.is_some_and(|p| st.since_improvement >= p) {
            st.stop.get_or_insert(StopReason::Patience);
        }
    }

    /// Asks the stopping-rule plugins whether the run should end; one that fails is
    /// switched off with a note.
    fn judge_run(&mut self, st: &mut State) {
        let Some(last) = st.history.last().map(|h| h.trial) else { return };
        let higher = self.direction == Direction::Maximize;
        let mut failed = Vec::new();
        for (i, rule) in self.run_rules.iter().enumerate() {
            match rule.judge_run(&st.history, higher) {
                Ok(Verdict::Proceed) => {}
                Ok(Verdict::Stop) => {
                    if st.stop.is_none() {
                        st.notes.push(format!("the '{}' plugin rule ended the run after trial {last}", rule.name()));
                    }
                    st.stop.get_or_insert(StopReason::StoppingRule);
                }
                Err(e) => {
                    st.notes.push(format!("{e}; its run-level rule was switched off after trial {last}"));
                    failed.push(i);
                }
            }
        }
        for i in failed.into_iter().rev() {
            self.run_rules.remove(i);
        }
    }
}
