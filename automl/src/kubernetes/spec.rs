//! Experiment spec files for custom trials (Katib's trial template): the user's own image
//! and command, with `${name}` placeholders filled from a search space, and the objective
//! they print as `name=value` lines. `automl run --spec experiment.yaml`.
//!
//! ```yaml
//! name: resnet-lr
//! objective: { metric: accuracy, direction: maximize, goal: 0.95 }
//! parameters:
//!   lr: { type: float, min: 0.0001, max: 0.1, log: true }
//!   layers: { type: int, min: 2, max: 8 }
//!   optimizer: { type: categorical, values: [sgd, adam] }
//! trial:
//!   image: registry.example.com/me/train:1.0
//!   command: [python, train.py]
//!   args: ["--lr=${lr}", "--layers=${layers}", "--optimizer=${optimizer}"]
//! max_trials: 20
//! concurrency: 4
//! ```
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use automl_core::learners::Control;
use automl_core::metrics::Direction;
use automl_core::space::{Config, ParamValue, SearchSpace};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::executor::{Event, KubernetesExecutor, Launch};
use super::manifest::{trial_job, TrialContainer};
use super::KubernetesConfig;
use crate::error::{Error, Result};
use crate::experiment::{CancelToken, StopReason};
use crate::journal::{self, Entry, Journal, JournalState};
use crate::search::tpe::Tpe;
use crate::search::Suggestion;
use crate::stopping::{MedianStop, StoppingRule};
use crate::trial::{TrialMonitor, TrialResult, TrialStatus};

/// A custom-trial experiment, as read from YAML (or JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Name, shown in reports and used as the trials' learner name.
    #[serde(default = "default_name")]
    pub name: String,
    /// What the trials report and which way is better.
    pub objective: Objective,
    /// The search space: one entry per placeholder.
    pub parameters: BTreeMap<String, ParameterSpec>,
    /// The container each trial runs.
    pub trial: TrialTemplate,
    /// Most trials.
    #[serde(default)]
    pub max_trials: Option<usize>,
    /// Trials at once [default: 1].
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Seconds for the whole search.
    #[serde(default)]
    pub time_budget: Option<f64>,
    /// Seconds one trial may take (its Job's activeDeadlineSeconds, plus the startup
    /// allowance).
    #[serde(default)]
    pub trial_time_limit: Option<f64>,
    /// Stop trials whose intermediate objective values fall below the median of finished
    /// trials at the same step [default: true].
    #[serde(default)]
    pub early_stopping: Option<bool>,
    /// Seed of the search.
    #[serde(default)]
    pub seed: u64,
}

fn default_name() -> String {
    "custom".to_string()
}

/// The objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// The `name` of the `name=value` lines the trial prints; its last value is the score.
    pub metric: String,
    /// `maximize` or `minimize`.
    pub direction: GoalDirection,
    /// Stop the search once a trial reaches this.
    #[serde(default)]
    pub goal: Option<f64>,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GoalDirection {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// One hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ParameterSpec {
    /// A real number in `[min, max]`.
    Float {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Search on a log scale.
        #[serde(default)]
        log: bool,
    },
    /// An integer in `[min, max]`.
    Int {
        /// Lower bound.
        min: i64,
        /// Upper bound.
        max: i64,
        /// Search on a log scale.
        #[serde(default)]
        log: bool,
    },
    /// One of some strings.
    Categorical {
        /// The choices.
        values: Vec<String>,
    },
}

/// The trial container, with `${name}` placeholders in `command`, `args` and `env` values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialTemplate {
    /// Image.
    pub image: String,
    /// Command [default: the image's entrypoint].
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl ExperimentSpec {
    /// Reads and checks a spec file (YAML, of which JSON is a subset).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let spec: ExperimentSpec = serde_saphyr::from_str(&text).map_err(|e| Error::Config(format!("{}: not a valid experiment spec: {e}", path.display())))?;
        spec.check().map_err(|m| Error::Config(format!("{}: {m}", path.display())))?;
        Ok(spec)
    }

    /// Checks bounds, names and placeholders.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.parameters.is_empty() {
            return Err("no parameters: give at least one under `parameters`".into());
        }
        for (name, p) in &self.parameters {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(format!("parameter '{name}': names may hold letters, digits, '_' and '-'"));
            }
            match p {
                ParameterSpec::Float { min, max, log } => {
                    if !(min < max) || !min.is_finite() || !max.is_finite() || (*log && *min <= 0.0) {
                        return Err(format!("parameter '{name}': need finite min < max{}", if *log { " and min > 0 for log" } else { "" }));
                    }
                }
                ParameterSpec::Int { min, max, log } => {
                    if min > max || (*log && *min <= 0) {
                        return Err(format!("parameter '{name}': need min <= max{}", if *log { " and min > 0 for log" } else { "" }));
                    }
                }
                ParameterSpec::Categorical { values } => {
                    if values.is_empty() {
                        return Err(format!("parameter '{name}': give at least one value"));
                    }
                }
            }
        }
        let texts = self.trial.command.iter().chain(&self.trial.args).chain(self.trial.env.values());
        for text in texts {
            for placeholder in placeholders(text) {
                if !self.parameters.contains_key(placeholder) {
                    return Err(format!("'{text}' uses ${{{placeholder}}}, which is not a parameter (parameters: {})", self.parameters.keys().cloned().collect::<Vec<_>>().join(", ")));
                }
            }
        }
        let used: Vec<&str> = self.trial.command.iter().chain(&self.trial.args).chain(self.trial.env.values()).flat_map(|t| placeholders(t)).collect();
        if let Some(unused) = self.parameters.keys().find(|k| !used.contains(&k.as_str())) {
            return Err(format!("parameter '{unused}' is never used: put ${{{unused}}} in the trial's command, args or env"));
        }
        if self.concurrency == Some(0) || self.max_trials == Some(0) {
            return Err("concurrency and max_trials must be at least 1".into());
        }
        if self.max_trials.is_none() && self.time_budget.is_none() && self.objective.goal.is_none() {
            return Err("no budget: set max_trials, time_budget or objective.goal".into());
        }
        Ok(())
    }

    /// The search space.
    pub fn space(&self) -> SearchSpace {
        let mut space = SearchSpace::default();
        for (name, p) in &self.parameters {
            space = match p {
                ParameterSpec::Float { min, max, log } => space.float(name, *min, *max, *log),
                ParameterSpec::Int { min, max, log } => space.int(name, *min, *max, *log),
                ParameterSpec::Categorical { values } => space.choice(name, &values.iter().map(String::as_str).collect::<Vec<_>>()),
            };
        }
        space
    }

    /// The container of a trial with `config`'s values in place of the placeholders.
    pub fn container(&self, config: &Config) -> TrialContainer {
        let values: HashMap<&str, String> = config.iter().map(|(k, v)| (k.as_str(), format_value(v))).collect();
        let fill = |t: &String| substitute(t, &values);
        TrialContainer {
            image: self.trial.image.clone(),
            command: self.trial.command.iter().map(fill).collect(),
            args: self.trial.args.iter().map(fill).collect(),
            env: self.trial.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        }
    }

    fn direction(&self) -> Direction {
        match self.objective.direction {
            GoalDirection::Maximize => Direction::Maximize,
            GoalDirection::Minimize => Direction::Minimize,
        }
    }
}

fn format_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Float(f) => format!("{f}"),
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Choice(s) => s.clone(),
    }
}

fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else { break };
        out.push(&after[..end]);
        rest = &after[end + 1..];
    }
    out
}

fn substitute(text: &str, values: &HashMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[i..i + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The outcome of a custom-trial experiment.
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
}

struct CustomMonitor {
    rule: Option<MedianStop>,
    direction: Direction,
    running: Mutex<HashMap<u64, Vec<(usize, f64)>>>,
    completed: Mutex<Vec<Vec<(usize, f64)>>>,
}

impl TrialMonitor for CustomMonitor {
    fn report(&self, trial: u64, _learner: &str, step: usize, score: f64) -> Control {
        let Some(rule) = &self.rule else { return Control::Continue };
        let curve = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            let c = running.entry(trial).or_default();
            c.push((step, self.direction.to_loss(score)));
            c.clone()
        };
        let completed = self.completed.lock().unwrap_or_else(|p| p.into_inner());
        if rule.should_stop(&curve, &[], &completed) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Runs `spec` on the cluster: asks the search for configurations, runs each as a Job of
/// the user's image, reads the objective from its log. Results go to `out`
/// (`journal.jsonl`, `trials.jsonl`, `leaderboard.csv`); `resume` continues a journal.
pub fn run_custom(spec: &ExperimentSpec, kube: KubernetesConfig, out: &Path, cancel: Option<CancelToken>, resume: Option<JournalState>, on_trial: &mut dyn FnMut(&TrialResult)) -> Result<CustomResult> {
    let start = Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let spent_before = resume.as_ref().map_or(0.0, |r| r.spent_s);
    let deadline = spec.time_budget.map(|t| start + Duration::from_secs_f64((t - spent_before).max(0.0)));
    let experiment = resume.as_ref().map_or_else(crate::experiment::new_experiment_id, |r| r.experiment.clone());
    let mut journal = match &resume {
        None => {
            let mut j = Journal::create(out)?;
            let config = serde_json::json!({ "custom": spec, "kubernetes": kube });
            j.write(&Entry::Start { version: journal::JOURNAL_VERSION, experiment: experiment.clone(), config })?;
            j.write(&Entry::Session { spent_s: 0.0 })?;
            j
        }
        Some(r) => {
            let mut j = Journal::append(out)?;
            j.write(&Entry::Session { spent_s: r.spent_s })?;
            j
        }
    };
    let jsonl = out.join("trials.jsonl");
    if resume.is_none() {
        std::fs::write(&jsonl, b"").map_err(|e| Error::io(&jsonl, e))?;
    }
    let direction = spec.direction();
    let space = spec.space();
    let concurrency = spec.concurrency.unwrap_or(1);
    let keep_jobs = kube.keep_jobs;
    let (tx, rx) = mpsc::channel::<Event>();
    let tx = Mutex::new(tx);
    let executor = KubernetesExecutor::connect(kube, &experiment, move |e| {
        let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(e);
    })?;
    let monitor = Arc::new(CustomMonitor {
        rule: spec.early_stopping.unwrap_or(true).then_some(MedianStop { min_trials: 3, start_step: 2 }),
        direction,
        running: Mutex::new(HashMap::new()),
        completed: Mutex::new(Vec::new()),
    });
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(spec.seed);
    let mut history: Vec<(Vec<f64>, f64)> = Vec::new();
    let mut results: Vec<TrialResult> = Vec::new();
    let mut running: HashMap<u64, Instant> = HashMap::new();
    // Each running trial's configuration, for the record of one cut off by the budget.
    let mut configs: HashMap<u64, Config> = HashMap::new();
    let mut next_id = 1u64;
    let mut notes = Vec::new();
    let mut stop: Option<StopReason> = None;
    let launch = |id: u64, config: &Config, adopt_only: bool| {
        let job = trial_job(executor.config(), executor.namespace(), &experiment, id, spec.trial_time_limit, spec.container(config));
        executor.launch(Launch { id, learner: spec.name.clone(), config: config.clone(), objective: spec.objective.metric.clone(), job, adopt_only }, Arc::clone(&monitor) as Arc<dyn TrialMonitor>);
    };
    let record = |r: &TrialResult, history: &mut Vec<(Vec<f64>, f64)>| {
        let loss = match (r.status, r.score) {
            (TrialStatus::Ok | TrialStatus::EarlyStopped, Some(s)) => direction.to_loss(s),
            _ => f64::INFINITY,
        };
        history.push((space.to_unit(&r.config), loss));
        if matches!(r.status, TrialStatus::Ok | TrialStatus::EarlyStopped) && !r.curve.is_empty() {
            let curve = r.curve.iter().map(|&(s, v)| (s, direction.to_loss(v))).collect();
            monitor.completed.lock().unwrap_or_else(|p| p.into_inner()).push(curve);
        }
    };
    if let Some(r) = &resume {
        for (id, suggestion, job, result) in &r.trials {
            next_id = next_id.max(id + 1);
            match result {
                Some(res) => {
                    record(res, &mut history);
                    results.push(res.clone());
                }
                None => {
                    running.insert(*id, Instant::now());
                    configs.insert(*id, suggestion.config.clone());
                    launch(*id, &suggestion.config, job.is_some());
                }
            }
        }
    }
    let reached_goal = |results: &[TrialResult]| {
        spec.objective.goal.is_some_and(|g| results.iter().any(|r| r.status == TrialStatus::Ok && r.score.is_some_and(|s| !direction.better(g, s))))
    };
    loop {
        if cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            stop.get_or_insert(StopReason::Interrupted);
        }
        if reached_goal(&results) {
            stop.get_or_insert(StopReason::TargetScore);
        }
        while stop.is_none() && running.len() < concurrency {
            if spec.max_trials.is_some_and(|m| next_id as usize > m) {
                stop = Some(StopReason::MaxTrials);
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                stop = Some(StopReason::TimeBudget);
                break;
            }
            let unit = Tpe::default().suggest(&space, &history, &mut rng);
            let config = space.from_unit(&unit);
            journal.write(&Entry::Suggested { trial: next_id, suggestion: Suggestion { learner: spec.name.clone(), config: config.clone() } })?;
            running.insert(next_id, Instant::now());
            configs.insert(next_id, config.clone());
            launch(next_id, &config, false);
            next_id += 1;
        }
        if running.is_empty() {
            break;
        }
        let mut wait = Duration::from_millis(200);
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        }
        match rx.recv_timeout(wait) {
            Ok(Event::Dispatched { trial, job, .. }) => journal.write(&Entry::Dispatched { trial, job })?,
            Ok(Event::Finished(r)) => {
                if running.remove(&r.id).is_none() {
                    continue;
                }
                configs.remove(&r.id);
                monitor.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&r.id);
                journal.write(&Entry::Finished { result: r.clone(), elapsed_s: spent_before + start.elapsed().as_secs_f64() })?;
                let mut line = serde_json::to_vec(&r).unwrap_or_default();
                line.push(b'\n');
                std::io::Write::write_all(&mut std::fs::OpenOptions::new().append(true).open(&jsonl).map_err(|e| Error::io(&jsonl, e))?, &line).map_err(|e| Error::io(&jsonl, e))?;
                record(&r, &mut history);
                on_trial(&r);
                results.push(r);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let out_of_time = deadline.is_some_and(|d| Instant::now() >= d);
                let interrupted = cancel.as_ref().is_some_and(|c| c.is_cancelled());
                if out_of_time || interrupted {
                    stop.get_or_insert(if interrupted { StopReason::Interrupted } else { StopReason::TimeBudget });
                    for (id, started) in running.drain() {
                        let why = if interrupted { "still running when the run was interrupted" } else { "still running when the time budget ran out" };
                        let config = configs.remove(&id).unwrap_or_default();
                        let r = TrialResult::ended(id, spec.name.clone(), config, TrialStatus::TimedOut, started.elapsed().as_secs_f64(), Some(why.into()));
                        journal.write(&Entry::Finished { result: r.clone(), elapsed_s: spent_before + start.elapsed().as_secs_f64() })?;
                        results.push(r);
                    }
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    match executor.shutdown(keep_jobs) {
        Ok(0) => {}
        Ok(n) => notes.push(format!("deleted {n} running trial Job(s)")),
        Err(e) => notes.push(format!("could not delete the running trial Jobs: {e}")),
    }
    let stop_reason = stop.unwrap_or(StopReason::SearchExhausted);
    journal.write(&Entry::Ended { stop_reason: format!("{stop_reason:?}") })?;
    let leaderboard = crate::report::rank(results, direction);
    crate::report::write_leaderboard(&out.join("leaderboard.csv"), &leaderboard, &spec.objective.metric)?;
    Ok(CustomResult { experiment, leaderboard, stop_reason, elapsed_s: start.elapsed().as_secs_f64(), notes })
}

/// Where a custom experiment's journal is, if `state` is one: its spec and cluster settings.
pub fn from_journal(state: &JournalState) -> Option<Result<(ExperimentSpec, KubernetesConfig)>> {
    let custom = state.config.get("custom")?;
    let parse = || -> std::result::Result<(ExperimentSpec, KubernetesConfig), serde_json::Error> {
        Ok((serde_json::from_value(custom.clone())?, serde_json::from_value(state.config.get("kubernetes").cloned().unwrap_or_default())?))
    };
    Some(parse().map_err(|e| Error::Config(format!("the journal's experiment spec cannot be read by this automl version ({e})"))))
}

/// The output folder's journal file.
pub fn journal_path(out: &Path) -> PathBuf {
    out.join(journal::JOURNAL_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
name: train
objective: { metric: accuracy, direction: maximize, goal: 0.99 }
parameters:
  lr: { type: float, min: 0.0001, max: 0.1, log: true }
  layers: { type: int, min: 1, max: 4 }
  opt: { type: categorical, values: [sgd, adam] }
trial:
  image: example.com/train:1
  command: [python, train.py]
  args: ["--lr=${lr}", "--layers=${layers}"]
  env: { OPTIMIZER: "${opt}" }
max_trials: 5
"#;

    #[test]
    fn spec_parses_fills_placeholders_and_is_checked() {
        let spec: ExperimentSpec = serde_saphyr::from_str(SPEC).expect("parses");
        spec.check().expect("valid");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let config = spec.space().sample(&mut rng);
        let c = spec.container(&config);
        assert_eq!(c.command, ["python", "train.py"]);
        assert!(c.args[0].starts_with("--lr=") && !c.args[0].contains("${"), "{:?}", c.args);
        assert!(["sgd", "adam"].contains(&c.env[0].1.as_str()), "{:?}", c.env);
        let mut bad = spec.clone();
        bad.trial.args.push("--x=${nope}".into());
        assert!(bad.check().unwrap_err().contains("${nope}"));
        let mut unused = spec.clone();
        unused.trial.env.clear();
        assert!(unused.check().unwrap_err().contains("'opt' is never used"));
        assert!(serde_saphyr::from_str::<ExperimentSpec>("objective: {metric: a, direction: up}").is_err());
    }

    #[test]
    fn substitution_leaves_unknown_text_alone() {
        let values = HashMap::from([("a", "1".to_string())]);
        assert_eq!(substitute("x=${a} y=${b} $z ${", &values), "x=1 y=${b} $z ${");
    }
}
