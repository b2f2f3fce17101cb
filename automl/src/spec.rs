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
use std::path::Path;

use automl_core::metrics::Direction;
use automl_core::space::{Hyperparams, ParamValue, SearchSpace};
use automl_core::validation::ValidationPlan;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::journal::JournalState;
use crate::options::{Budgets, CancelToken, KubernetesOptions};
use crate::search::Suggestion;
use crate::trial::TrialSpec;

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
    /// Pods per trial [default: 1]. More run as one Indexed Job, all at once (say, the
    /// workers of one distributed training run; each reads its index from
    /// `JOB_COMPLETION_INDEX`); the objective is read from index 0, and the trial fails
    /// when any pod fails.
    #[serde(default = "one_pod")]
    pub pods: u32,
    /// Start all of a trial's pods or none: the gang scheduler that admits them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gang: Option<Gang>,
}

fn one_pod() -> u32 {
    1
}

/// The gang scheduler of multi-pod trials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheduler", rename_all = "snake_case", deny_unknown_fields)]
pub enum Gang {
    /// Kueue: the Job is created suspended with the label `kueue.x-k8s.io/queue-name`, and
    /// Kueue admits it once its queue's quota holds all of its pods. A trial not admitted
    /// within the unschedulable timeout fails, and its Job is deleted.
    Kueue {
        /// The LocalQueue's name.
        queue: String,
    },
    /// The scheduler-plugins coscheduling plugin: a PodGroup with `minMember = pods` is
    /// created with each Job (owned by it), the pods name it and are scheduled by
    /// `scheduler_name`, which binds all of them or none. A gang still unschedulable after
    /// the unschedulable timeout fails, and its Job (with its PodGroup) is deleted.
    Coscheduling {
        /// The scheduler that runs the coscheduling plugin [default: scheduler-plugins-scheduler].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheduler_name: Option<String>,
    },
}

/// What runs in a trial's container, placeholders filled.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialContainer {
    /// Image.
    pub image: String,
    /// Command (the image's entrypoint when empty).
    pub command: Vec<String>,
    /// Arguments.
    pub args: Vec<String>,
    /// Environment.
    pub env: Vec<(String, String)>,
}

impl TrialTemplate {
    /// The container of a trial with `config`'s values in place of the placeholders.
    pub fn container(&self, config: &Hyperparams) -> TrialContainer {
        let values: HashMap<&str, String> = config.iter().map(|(k, v)| (k.as_str(), format_value(v))).collect();
        let fill = |t: &String| substitute(t, &values);
        TrialContainer {
            image: self.image.clone(),
            command: self.command.iter().map(fill).collect(),
            args: self.args.iter().map(fill).collect(),
            env: self.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect(),
        }
    }

}

impl ExperimentSpec {
    /// Reads and checks a spec file (YAML, of which JSON is a subset).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let spec: ExperimentSpec = serde_saphyr::from_str(&text).map_err(|e| Error::Config(format!("{}: not a valid experiment spec: {e}", path.display())))?;
        spec.check().map_err(|m| Error::Config(format!("{}: {m}", path.display())))?;
        spec.budgets(None).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
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
        if self.trial.pods == 0 {
            return Err("trial.pods must be at least 1".into());
        }
        if let Some(Gang::Kueue { queue }) = &self.trial.gang {
            if queue.is_empty() {
                return Err("trial.gang.queue: name the Kueue LocalQueue".into());
            }
        }
        if self.concurrency == Some(0) || self.max_trials == Some(0) {
            return Err("concurrency and max_trials must be at least 1".into());
        }
        if self.max_trials.is_none() && self.time_budget.is_none() && self.objective.goal.is_none() {
            return Err("no budget: set max_trials, time_budget or objective.goal".into());
        }
        Ok(())
    }

    /// The budgets of the search, checked like a built-in run's.
    pub fn budgets(&self, cancel: Option<CancelToken>) -> Result<Budgets> {
        let b = Budgets {
            time_budget: self.time_budget,
            max_trials: self.max_trials,
            target_score: self.objective.goal,
            patience: None,
            concurrency: self.concurrency.unwrap_or(1),
            trial_time_limit: self.trial_time_limit,
            cancel,
        };
        b.validate()?;
        Ok(b)
    }

    /// The spec of trial `id`: the suggestion's configuration, to be filled into the
    /// template; the objective is what its log is read for.
    pub fn trial_spec(&self, id: u64, suggestion: &Suggestion, time_limit_s: Option<f64>) -> TrialSpec {
        TrialSpec {
            id,
            learner: self.name.clone(),
            config: suggestion.config.clone(),
            metric: self.objective.metric.clone(),
            validation: ValidationPlan::Holdout { fraction: 0.2 },
            seed: crate::trial::trial_seed(self.seed, id),
            split_seed: self.seed,
            time_limit_s,
            data: None,
            train_scores: false,
        }
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

    /// Which way the objective is better.
    pub fn direction(&self) -> Direction {
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

/// A custom experiment's spec and cluster settings, if `state` is the journal of one.
pub fn from_journal(state: &JournalState) -> Option<Result<(ExperimentSpec, KubernetesOptions)>> {
    let custom = state.config.get("custom")?;
    let parse = || -> std::result::Result<(ExperimentSpec, KubernetesOptions), serde_json::Error> {
        Ok((serde_json::from_value(custom.clone())?, serde_json::from_value(state.config.get("kubernetes").cloned().unwrap_or_default())?))
    };
    Some(parse().map_err(|e| Error::Config(format!("the journal's experiment spec cannot be read by this automl version ({e})"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

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
        let c = spec.trial.container(&config);
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
