//! Search strategies: ask for a suggestion, tell its result.
//!
//! [`LearnerSearch`] runs across learners: first each learner's cheap, strong starting
//! configurations, cheapest first (FLAML's cost-aware start), then learners chosen by how
//! well and how cheaply they have done, each searched within its own space by TPE mixed
//! with local moves from its best configuration, or at random.
use std::collections::HashMap;

use automl_core::learners::{DataShape, Learner};
use automl_core::preprocess::Encoding;
use automl_core::space::{Hyperparams, SearchSpace};
use automl_core::task::Task;
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub mod portfolio;
mod local;
pub(crate) mod tpe;

pub use tpe::Tpe;

/// A configuration to try, with its learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Learner name.
    pub learner: String,
    /// Hyperparameters.
    pub config: Hyperparams,
}

/// What a strategy may know when asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct AskContext {
    /// Seconds left in the budget, if there is a time budget.
    pub time_left: Option<f64>,
}

/// An ask/tell search strategy over learners and their spaces.
pub trait Strategy: Send {
    /// The next configuration to evaluate, or `None` when the strategy has nothing left.
    fn ask(&mut self, ctx: &AskContext) -> Option<Suggestion>;
    /// The outcome of a suggestion: its loss (smaller is better; `None` when it failed) and
    /// what it cost in seconds.
    fn tell(&mut self, suggestion: &Suggestion, loss: Option<f64>, cost_s: f64);
    /// A suggestion made before a restart (read from the journal), so it is not suggested
    /// again; with its outcome when it finished.
    fn replay(&mut self, suggestion: &Suggestion, outcome: Option<(Option<f64>, f64)>) {
        if let Some((loss, cost_s)) = outcome {
            self.tell(suggestion, loss, cost_s);
        }
    }
}

/// How configurations are drawn within one learner's space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampler {
    /// Tree-structured Parzen estimator.
    #[default]
    Tpe,
    /// Uniform at random.
    Random,
}

impl std::str::FromStr for Sampler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tpe" => Ok(Sampler::Tpe),
            "random" => Ok(Sampler::Random),
            _ => Err(format!("unknown search '{s}'; known: tpe, random")),
        }
    }
}

/// Under TPE, the share of a learner's draws that are local moves from its best
/// configuration ([`local::around`]) rather than TPE's.
const LOCAL_SHARE: f64 = 0.6;
/// Share of the learner picks that explore (the others favour the leaders).
const EXPLORE_SHARE: f64 = 0.1;

/// A portfolio entry expected to take more than this share of the time left is skipped:
/// one slow forest may cost more than ten trials of the learner in the lead.
const PORTFOLIO_SHARE: f64 = 0.3;

struct Arm {
    name: String,
    space: SearchSpace,
    starts: Vec<Hyperparams>,
    cost_hint: f64,
    leads: bool,
    history: Vec<(Vec<f64>, f64)>,
    best: f64,
    trials: usize,
    failures: usize,
    /// Seconds told, and the units of work ([`Learner::work`]) of the configurations told.
    cost: f64,
    units: f64,
    /// The learner, for the work of a configuration (`None`: every configuration is 1).
    learner: Option<Box<dyn Learner>>,
}

impl Arm {
    fn work(&self, config: &Hyperparams) -> f64 {
        self.learner.as_ref().map_or(1.0, |l| l.work(config)).max(1e-9)
    }
}

/// Search across learners (see the module documentation).
pub struct LearnerSearch {
    /// Configurations given to try first, in order (fitted to their learner's space).
    first: std::collections::VecDeque<Suggestion>,
    /// The portfolio's configurations, tried in order after the first trial.
    portfolio: std::collections::VecDeque<Suggestion>,
    arms: Vec<Arm>,
    sampler: Sampler,
    rng: Xoshiro256PlusPlus,
    seen: HashMap<String, usize>,
}

impl LearnerSearch {
    /// A search over `learners` for data of `shape` (as a learner of each input encoding
    /// sees it).
    pub fn new(learners: &[&dyn Learner], task: Task, shape: &dyn Fn(Encoding) -> DataShape, sampler: Sampler, seed: u64) -> Self {
        let mut arms: Vec<Arm> = learners
            .iter()
            .map(|l| Arm {
                name: l.name().to_string(),
                space: l.space(task, shape(l.encoding())),
                starts: l.starts(task, shape(l.encoding())),
                cost_hint: l.relative_cost(shape(l.encoding())),
                leads: l.leads(),
                history: Vec::new(),
                best: f64::INFINITY,
                trials: 0,
                failures: 0,
                cost: 0.0,
                units: 0.0,
                learner: automl_core::learners::learner_by_name(l.name()).ok(),
            })
            .collect();
        arms.sort_by(|a, b| a.cost_hint.total_cmp(&b.cost_hint));
        let names: Vec<&str> = learners.iter().map(|l| l.name()).collect();
        let portfolio = portfolio::entries(task, &names)
            .into_iter()
            .filter_map(|s| arms.iter().find(|a| a.name == s.learner).map(|a| Suggestion { config: a.space.clamp(&s.config), learner: s.learner }))
            .collect();
        LearnerSearch { first: Default::default(), portfolio, arms, sampler, rng: Xoshiro256PlusPlus::seed_from_u64(seed), seen: HashMap::new() }
    }

    /// The next given starting point; or, once every learner has had its first start (or
    /// is too slow for one), the next portfolio entry whose learner is not expected to
    /// take more than [`PORTFOLIO_SHARE`] of the time left by its size and its learner's
    /// measured speed (one that is is dropped). Each is counted as a trial of its learner.
    fn next_queued(&mut self, ctx: &AskContext) -> Option<Suggestion> {
        loop {
            let from_portfolio = self.first.is_empty();
            let fresh_left = (0..self.arms.len()).any(|i| !self.arms[i].starts.is_empty() && self.arms[i].trials == 0 && !self.too_slow(i, ctx, 0.25));
            let s = match self.first.pop_front() {
                Some(s) => s,
                None if !fresh_left => self.portfolio.pop_front()?,
                None => return None,
            };
            let Some(i) = self.arms.iter().position(|a| a.name == s.learner) else { continue };
            if from_portfolio && self.config_too_slow(i, &s.config, ctx, PORTFOLIO_SHARE) {
                continue;
            }
            if self.seen.insert(format!("{}:{:?}", s.learner, s.config), 1).is_none() {
                let arm = &mut self.arms[i];
                arm.trials += 1;
                arm.starts.retain(|c| c != &s.config);
                return Some(s);
            }
        }
    }

    /// Tries `points` first, in order, each fitted to its learner's space; a point of a
    /// learner not searched is an error naming it.
    pub fn with_starting_points(mut self, points: &[Suggestion]) -> Result<Self, String> {
        for (i, p) in points.iter().enumerate() {
            let arm = self.arms.iter().find(|a| a.name == p.learner).ok_or_else(|| {
                let known: Vec<&str> = self.arms.iter().map(|a| a.name.as_str()).collect();
                format!("starting point {i} is of learner '{}', which this run does not search (it searches {})", p.learner, known.join(", "))
            })?;
            self.first.push_back(Suggestion { learner: p.learner.clone(), config: arm.space.clamp(&p.config) });
        }
        Ok(self)
    }

    /// Seconds a trial of arm `i` is expected to take: its mean so far, or for an arm not
    /// tried yet its cost hint scaled by how the hints of tried arms compared with their
    /// measured times; `None` before anything was measured, and always without a time
    /// budget (time then costs nothing, and a run of `--max-trials` is reproducible).
    fn expected_cost(&self, i: usize, ctx: &AskContext) -> Option<f64> {
        let a = &self.arms[i];
        ctx.time_left?;
        if a.trials > 0 {
            return Some(a.cost / a.trials as f64);
        }
        let mut ratios: Vec<f64> = self.arms.iter().filter(|t| t.trials > 0 && t.cost > 0.0).map(|t| t.cost / t.trials as f64 / t.cost_hint.max(1e-6)).collect();
        ratios.sort_by(f64::total_cmp);
        ratios.get(ratios.len() / 2).map(|r| r * a.cost_hint)
    }

    /// Whether arm `i` is expected to take more than `share` of the time left.
    fn too_slow(&self, i: usize, ctx: &AskContext, share: f64) -> bool {
        match (ctx.time_left, self.expected_cost(i, ctx)) {
            (Some(t), Some(c)) => c > share * t,
            _ => false,
        }
    }

    /// Whether `config` of arm `i` is expected to take more than `share` of the time left:
    /// the arm's measured seconds per unit of work times the configuration's work, or
    /// before a measurement the arm's expected cost.
    fn config_too_slow(&self, i: usize, config: &Hyperparams, ctx: &AskContext, share: f64) -> bool {
        let (a, Some(left)) = (&self.arms[i], ctx.time_left) else { return false };
        let cost = if a.units > 0.0 && a.cost > 0.0 { Some(a.cost / a.units * a.work(config)) } else { self.expected_cost(i, ctx) };
        cost.is_some_and(|c| c > share * left)
    }

    fn pick_arm(&mut self, ctx: &AskContext) -> Option<usize> {
        // Cost-aware start: the cheapest learner's first configuration; under a time
        // budget, then the further starts of learners that lead on most data (the
        // booster's defaults: its cheap start says little about what it can do), each
        // while its own expected cost (by its work) fits half the time left; then
        // every other learner's first configuration, cheapest first, leaving out under a
        // time budget those expected to take more than a quarter of the time left; then
        // every learner's further starts.
        let fresh = |a: &Arm| !a.starts.is_empty() && a.trials == 0;
        let tried_any = self.arms.iter().any(|a| a.trials > 0);
        if !tried_any {
            return self.arms.iter().position(fresh);
        }
        let budgeted = ctx.time_left.is_some();
        let leads_next = |i: usize| {
            let a = &self.arms[i];
            a.leads && a.failures < a.trials.max(1) && a.starts.first().is_some_and(|c| !self.config_too_slow(i, c, ctx, 0.5))
        };
        if let Some(i) = (0..self.arms.len()).find(|&i| budgeted && leads_next(i)) {
            return Some(i);
        }
        if let Some(i) = (0..self.arms.len()).find(|&i| fresh(&self.arms[i]) && !self.too_slow(i, ctx, 0.25)) {
            return Some(i);
        }
        if let Some(i) = self.arms.iter().position(|a| !a.starts.is_empty() && a.failures < a.trials.max(1)) {
            let mean_cost = self.arms[i].cost / self.arms[i].trials.max(1) as f64;
            if ctx.time_left.is_none_or(|t| mean_cost * 10.0 < t) {
                return Some(i);
            }
        }
        let usable: Vec<usize> = (0..self.arms.len())
            .filter(|&i| {
                let a = &self.arms[i];
                // Give up on learners that only fail, and on those too slow for the time left.
                let failing = a.failures >= 3 && a.failures == a.trials;
                !failing && !self.too_slow(i, ctx, 1.0)
            })
            .collect();
        if usable.is_empty() {
            return None;
        }
        // Rank learners by best loss; favour the leaders, discounted by their cost under a
        // time budget (without one, a trial's time costs nothing).
        let explore = self.rng.gen::<f64>() < EXPLORE_SHARE;
        let mut ranked = usable;
        ranked.sort_by(|&a, &b| self.arms[a].best.total_cmp(&self.arms[b].best));
        let cost = |i: usize| self.expected_cost(i, ctx).unwrap_or(1.0).max(1e-3);
        let weights: Vec<f64> = if explore {
            // Exploration: every learner alike, but one slower than the leader in
            // inverse proportion to its cost, so that it spends about a leader's trial
            // of time where the leader would have run one (on adult, extra-trees and
            // logistic trials of 1.5 s each, far behind a 0.4 s booster, took a fifth
            // of the search when every learner was as likely).
            let lead = cost(ranked[0]);
            ranked.iter().map(|&i| (lead / cost(i)).min(1.0)).collect()
        } else {
            let min_cost = ranked.iter().map(|&i| cost(i)).fold(f64::INFINITY, f64::min);
            ranked.iter().enumerate().map(|(rank, &i)| 0.5f64.powi(rank as i32 * 2) / (cost(i) / min_cost).sqrt().clamp(1.0, 10.0)).collect()
        };
        let pick = WeightedIndex::new(&weights).map(|w| w.sample(&mut self.rng)).unwrap_or(0);
        ranked.get(pick).copied()
    }
}

impl Strategy for LearnerSearch {
    fn ask(&mut self, ctx: &AskContext) -> Option<Suggestion> {
        if let Some(s) = self.next_queued(ctx) {
            return Some(s);
        }
        for _ in 0..50 {
            let i = self.pick_arm(ctx)?;
            let arm = &mut self.arms[i];
            let config = if !arm.starts.is_empty() {
                arm.starts.remove(0)
            } else if arm.space.is_empty() {
                // A learner without hyperparameters has nothing more to try.
                arm.failures = arm.trials.max(3);
                arm.trials = arm.failures;
                continue;
            } else {
                let local = self.sampler == Sampler::Tpe && self.rng.gen::<f64>() < LOCAL_SHARE;
                let unit = match self.sampler {
                    Sampler::Random => (0..arm.space.len()).map(|_| self.rng.gen::<f64>()).collect(),
                    Sampler::Tpe => local.then(|| local::around(&arm.history, &mut self.rng)).flatten().unwrap_or_else(|| Tpe::default().suggest(&arm.space, &arm.history, &mut self.rng)),
                };
                arm.space.from_unit(&unit)
            };
            let key = format!("{}:{:?}", arm.name, config);
            if self.seen.contains_key(&key) {
                arm.trials += 1; // a repeat counts, so exhausted spaces are left
                arm.failures += usize::from(arm.space.is_empty());
                continue;
            }
            self.seen.insert(key, 1);
            arm.trials += 1;
            return Some(Suggestion { learner: arm.name.clone(), config });
        }
        None
    }

    fn replay(&mut self, suggestion: &Suggestion, outcome: Option<(Option<f64>, f64)>) {
        self.first.retain(|s| s != suggestion);
        self.portfolio.retain(|s| s != suggestion);
        if let Some(arm) = self.arms.iter_mut().find(|a| a.name == suggestion.learner) {
            arm.starts.retain(|c| c != &suggestion.config);
            arm.trials += 1;
            self.seen.insert(format!("{}:{:?}", arm.name, suggestion.config), 1);
        }
        if let Some((loss, cost_s)) = outcome {
            self.tell(suggestion, loss, cost_s);
        }
    }

    fn tell(&mut self, suggestion: &Suggestion, loss: Option<f64>, cost_s: f64) {
        let Some(arm) = self.arms.iter_mut().find(|a| a.name == suggestion.learner) else { return };
        arm.cost += cost_s;
        arm.units += arm.work(&suggestion.config);
        let unit = arm.space.to_unit(&suggestion.config);
        match loss {
            Some(l) if l.is_finite() => {
                arm.best = arm.best.min(l);
                arm.history.push((unit, l));
            }
            _ => {
                arm.failures += 1;
                arm.history.push((unit, f64::INFINITY));
            }
        }
    }
}

/// TPE over one search space, for custom trials: every suggestion is of the one
/// "learner" (the spec's name); failed trials count as infinitely bad. Never runs out.
pub struct SpaceSearch {
    name: String,
    space: SearchSpace,
    rng: Xoshiro256PlusPlus,
    history: Vec<(Vec<f64>, f64)>,
}

impl SpaceSearch {
    /// A search of `space` whose suggestions are named `name`.
    pub fn new(name: &str, space: SearchSpace, seed: u64) -> Self {
        SpaceSearch { name: name.to_string(), space, rng: Xoshiro256PlusPlus::seed_from_u64(seed), history: Vec::new() }
    }
}

impl Strategy for SpaceSearch {
    fn ask(&mut self, _ctx: &AskContext) -> Option<Suggestion> {
        let unit = Tpe::default().suggest(&self.space, &self.history, &mut self.rng);
        Some(Suggestion { learner: self.name.clone(), config: self.space.from_unit(&unit) })
    }

    fn tell(&mut self, suggestion: &Suggestion, loss: Option<f64>, _cost_s: f64) {
        let loss = loss.filter(|l| l.is_finite()).unwrap_or(f64::INFINITY);
        self.history.push((self.space.to_unit(&suggestion.config), loss));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::learners::all_learners;

    #[test]
    fn starts_cheapest_first_then_favours_the_best_learner() {
        let learners = all_learners();
        let refs: Vec<&dyn Learner> = learners.iter().filter(|l| l.supports(Task::Binary)).map(|l| l.as_ref()).collect();
        let shape = DataShape { rows: 1000, features: 10, classes: 2 };
        let mut s = LearnerSearch::new(&refs, Task::Binary, &|_| shape, Sampler::Tpe, 0);
        let ctx = AskContext::default();
        let first: Vec<Suggestion> = (0..refs.len()).map(|_| s.ask(&ctx).unwrap()).collect();
        let cheapest = refs.iter().min_by(|a, b| a.relative_cost(shape).total_cmp(&b.relative_cost(shape))).unwrap().name();
        assert_eq!(first[0].learner, cheapest, "cheapest learner first");
        let mut names: Vec<&str> = first.iter().map(|f| f.learner.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), refs.len(), "every learner's start comes first");
        for f in &first {
            s.tell(f, Some(if f.learner == "logistic" { 0.1 } else { 0.5 }), 0.1);
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for _ in 0..100 {
            let g = s.ask(&ctx).unwrap();
            s.tell(&g, Some(if g.learner == "logistic" { 0.1 } else { 0.5 }), 0.1);
            *counts.entry(g.learner).or_default() += 1;
        }
        assert!(counts["logistic"] > 50, "{counts:?}");
    }

    #[test]
    fn exploration_under_a_time_budget_spends_little_on_a_slow_learner_far_behind() {
        // The booster leads at 0.1 s a trial; extra-trees is last and takes 10 s a trial.
        // Picked as often as the others when exploring, it would take about 4% of the
        // picks (0.4 s each on average: four times the booster's time); exploring by cost
        // it takes about 1% (what its rank earns it).
        let learners = all_learners();
        let refs: Vec<&dyn Learner> = learners.iter().filter(|l| ["naive_bayes", "gbdt", "extra_trees"].contains(&l.name())).map(|l| l.as_ref()).collect();
        assert_eq!(refs.len(), 3);
        let shape = DataShape { rows: 1000, features: 10, classes: 2 };
        let mut s = LearnerSearch::new(&refs, Task::Binary, &|_| shape, Sampler::Random, 0);
        let ctx = AskContext { time_left: Some(1e9) };
        let outcome = |learner: &str| match learner {
            "gbdt" => (0.1, 0.1),
            "naive_bayes" => (0.5, 0.01),
            _ => (0.9, 10.0),
        };
        let mut slow = 0;
        for _ in 0..3000 {
            let g = s.ask(&ctx).expect("a suggestion");
            let (loss, cost) = outcome(&g.learner);
            s.tell(&g, Some(loss), cost);
            slow += usize::from(g.learner == "extra_trees");
        }
        assert!(slow < 75, "extra-trees got {slow} of 3000 picks");
    }
}
