//! The runner's side of early stopping: hears every running trial's intermediate scores,
//! asks the built-in rule and the stopping-rule plugins whether it should go on, and keeps
//! the curves of finished trials they judge against.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use automl_core::learners::Control;
use automl_core::metrics::Direction;

use crate::plugins::{StoppingPlugin, Verdict};
use crate::stopping::{BuiltinRule, MedianStop, NoImprovement, Overfitting, StoppingRule};
use crate::trial::{TrialMonitor, TrialResult, TrialStatus, STOPPED_BY_RULE};
use crate::util::lock;

type Curve = Vec<(usize, f64)>;

/// Judges running trials; shared with the executor, which passes it their reports.
pub struct RuleMonitor {
    rule: Option<Box<dyn StoppingRule>>,
    direction: Direction,
    /// Validation losses of running trials.
    running: Mutex<HashMap<u64, Curve>>,
    /// Training-row losses of running trials, for the overfitting rule.
    running_train: Mutex<HashMap<u64, Curve>>,
    /// Whether the rule judges on training scores (only then are they computed).
    wants_train: bool,
    /// Curves of finished trials, per learner: steps mean different things to different
    /// learners (folds, trees, rounds), so trials are judged against their own kind.
    completed: Mutex<HashMap<String, Vec<Curve>>>,
    cancel: AtomicBool,
    /// Trials given up on: told to stop at their next report.
    abandoned: Mutex<HashSet<u64>>,
    /// Stopping-rule plugins, judging on raw scores.
    plugin_rules: Vec<StoppingPlugin>,
    /// Raw `(step, score)` curves of running trials, for the plugins.
    running_raw: Mutex<HashMap<u64, Curve>>,
    /// Finished trials' raw curves, for the plugins.
    finished_raw: Mutex<Vec<(u64, String, Curve)>>,
    /// A plugin rule that failed while judging a trial fails that trial: its message.
    rule_errors: Mutex<HashMap<u64, String>>,
    /// Which rule stopped a trial, for its message.
    stopped_by: Mutex<HashMap<u64, String>>,
}

/// The built-in rule chosen by name. The median rule starts from the second step: one
/// fold of a small data set is too noisy to judge on.
pub fn builtin_rule(rule: BuiltinRule) -> Box<dyn StoppingRule> {
    match rule {
        BuiltinRule::Median => Box::new(MedianStop { min_trials: 3, start_step: 2 }),
        BuiltinRule::NoImprovement => Box::new(NoImprovement::default()),
        BuiltinRule::Overfitting => Box::new(Overfitting::default()),
    }
}

impl RuleMonitor {
    /// A monitor judging with `rule` (none: trials are never stopped by a built-in rule)
    /// and `plugin_rules`; scores are turned into losses by `direction`.
    pub fn new(rule: Option<Box<dyn StoppingRule>>, direction: Direction, wants_train: bool, plugin_rules: Vec<StoppingPlugin>) -> Self {
        RuleMonitor {
            rule,
            direction,
            running: Mutex::default(),
            running_train: Mutex::default(),
            wants_train,
            completed: Mutex::default(),
            cancel: AtomicBool::new(false),
            abandoned: Mutex::default(),
            plugin_rules,
            running_raw: Mutex::default(),
            finished_raw: Mutex::default(),
            rule_errors: Mutex::default(),
            stopped_by: Mutex::default(),
        }
    }

    /// Tells `trial` to stop at its next report.
    pub fn abandon(&self, trial: u64) {
        lock(&self.abandoned).insert(trial);
    }

    /// Tells every trial to stop at its next report (the search is over).
    pub fn cancel_all(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Records how `result` ended for the rules to come, and completes its story: a trial
    /// whose plugin rule failed is failed, an early-stopped one names the rule that
    /// stopped it.
    pub fn settle(&self, result: &mut TrialResult) {
        if let Some(e) = lock(&self.rule_errors).remove(&result.id) {
            result.status = TrialStatus::Failed;
            result.score = None;
            result.message = Some(e);
        } else if let Some(why) = lock(&self.stopped_by).remove(&result.id) {
            if result.status == TrialStatus::EarlyStopped {
                result.message = Some(name_the_rule(result.message.take(), why));
            }
        }
        let scored = matches!(result.status, TrialStatus::Ok | TrialStatus::EarlyStopped);
        if let Some(raw) = lock(&self.running_raw).remove(&result.id) {
            if scored {
                lock(&self.finished_raw).push((result.id, result.learner.clone(), raw));
            }
        }
        lock(&self.running).remove(&result.id);
        lock(&self.running_train).remove(&result.id);
        let curve: Curve = result.curve.iter().map(|&(s, v)| (s, self.direction.to_loss(v))).collect();
        if scored && !curve.is_empty() {
            lock(&self.completed).entry(result.learner.clone()).or_default().push(curve);
        }
    }

    /// What the plugin rules say of `trial`'s raw curve so far; `Some(Stop)` when one
    /// stops it or fails.
    fn judge_plugins(&self, trial: u64, learner: &str, step: usize, score: f64) -> Option<Control> {
        if self.plugin_rules.is_empty() {
            return None;
        }
        let current = {
            let mut raw = lock(&self.running_raw);
            let c = raw.entry(trial).or_default();
            c.push((step, score));
            c.clone()
        };
        let finished = lock(&self.finished_raw).clone();
        let higher = self.direction == Direction::Maximize;
        for rule in &self.plugin_rules {
            match rule.judge_trial(trial, learner, &current, &finished, higher) {
                Ok(Verdict::Proceed) => {}
                Ok(Verdict::Stop) => {
                    lock(&self.stopped_by).insert(trial, format!("stopped by the '{}' plugin rule", rule.name()));
                    return Some(Control::Stop);
                }
                Err(e) => {
                    lock(&self.rule_errors).insert(trial, e.to_string());
                    return Some(Control::Stop);
                }
            }
        }
        None
    }
}

/// A stopped trial's message with the rule's name in place of the generic words, keeping
/// the rest ("after 2 of 5 folds", notes).
fn name_the_rule(message: Option<String>, why: String) -> String {
    match message {
        Some(m) => match m.strip_prefix(STOPPED_BY_RULE) {
            Some(rest) => format!("{why}{rest}"),
            None => format!("{why}; {m}"),
        },
        None => why,
    }
}

impl TrialMonitor for RuleMonitor {
    fn report_train(&self, trial: u64, step: usize, score: f64) {
        if self.wants_train {
            lock(&self.running_train).entry(trial).or_default().push((step, self.direction.to_loss(score)));
        }
    }

    fn wants_train(&self) -> bool {
        self.wants_train
    }

    fn restart(&self, trial: u64) {
        lock(&self.running).remove(&trial);
        lock(&self.running_train).remove(&trial);
        lock(&self.running_raw).remove(&trial);
    }

    fn report(&self, trial: u64, learner: &str, step: usize, score: f64) -> Control {
        if self.cancel.load(Ordering::Relaxed) || lock(&self.abandoned).contains(&trial) || lock(&self.rule_errors).contains_key(&trial) {
            return Control::Stop;
        }
        if let Some(control) = self.judge_plugins(trial, learner, step, score) {
            return control;
        }
        let Some(rule) = &self.rule else { return Control::Continue };
        let curve = {
            let mut running = lock(&self.running);
            let c = running.entry(trial).or_default();
            c.push((step, self.direction.to_loss(score)));
            c.clone()
        };
        let train = lock(&self.running_train).get(&trial).cloned().unwrap_or_default();
        let completed = lock(&self.completed);
        let same_learner = completed.get(learner).map_or(&[][..], |c| c.as_slice());
        if rule.should_stop(&curve, &train, same_learner) {
            lock(&self.stopped_by).insert(trial, format!("stopped by the '{}' rule", rule.name()));
            Control::Stop
        } else {
            Control::Continue
        }
    }
}
