//! Options as users give them: every field optional, names as in Python's keyword
//! arguments and (with dashes) the CLI's flags. [`RawOptions::resolve`] turns them into
//! [`ExperimentOptions`]: defaults come from [`ExperimentOptions::new`] and
//! [`KubernetesOptions::default`], nowhere else.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use automl_core::task::TaskChoice;
use automl_core::validation::ValidationPlan;
use serde::{Deserialize, Deserializer};

use super::{duration, ExecutorKind, ExperimentOptions, KubernetesOptions, SandboxPolicy, Toleration};
use crate::error::{Error, Result};
use crate::search::Sampler;
use crate::stopping::BuiltinRule;

/// An experiment's options as given: `None` (or absent) takes the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptions {
    /// auto, binary, multiclass or regression.
    #[serde(default, deserialize_with = "parsed")]
    pub task: Option<TaskChoice>,
    /// Objective metric name.
    pub metric: Option<String>,
    /// Seconds for the whole run; 0 means no time limit [default: 60].
    pub time_budget: Option<f64>,
    /// Most trials.
    pub max_trials: Option<usize>,
    /// Stop once a trial reaches this score.
    pub target_score: Option<f64>,
    /// Stop after this many finished trials without a new best.
    pub patience: Option<usize>,
    /// K-fold cross-validation with this many folds (`--cv`).
    pub folds: Option<usize>,
    /// Validate on this share of the rows.
    pub holdout: Option<f64>,
    /// Trials at once [default: cores].
    pub concurrency: Option<usize>,
    /// Learners to search.
    pub learners: Option<Vec<String>>,
    /// Seed [default: 0].
    pub seed: Option<u64>,
    /// Extra strings read as missing.
    pub na_values: Option<Vec<String>>,
    /// The CSV field separator: one character, or `tab` [default: `,` unless the header
    /// shows `;`, tab or `|`].
    pub delimiter: Option<String>,
    /// Output folder.
    pub out: Option<PathBuf>,
    /// Replace a run already recorded in the output folder.
    pub force: Option<bool>,
    /// Seconds one trial may take.
    pub trial_time_limit: Option<f64>,
    /// tpe or random (`--search`).
    #[serde(default, deserialize_with = "parsed")]
    pub search: Option<Sampler>,
    /// Stop poor trials early [default: true].
    pub early_stopping: Option<bool>,
    /// median, no-improvement or overfitting.
    #[serde(default, deserialize_with = "parsed")]
    pub stopping_rule: Option<BuiltinRule>,
    /// Build a weighted ensemble of the best trials [default: true].
    pub ensemble: Option<bool>,
    /// auto, refit or bag (`--final-fit`).
    #[serde(default, deserialize_with = "parsed")]
    pub final_fit: Option<crate::bagging::FinalFit>,
    /// A JSON file of configurations to try first: a list of objects with `learner` and
    /// `hyperparameters` (as in `trials.jsonl`).
    pub starting_points: Option<PathBuf>,
    /// WebAssembly plugins.
    pub plugins: Option<Vec<PathBuf>>,
    /// Memory cap per plugin instance, in MiB [default: 256].
    pub plugin_memory: Option<usize>,
    /// Longest plugin call, in seconds [default: 30].
    pub plugin_timeout: Option<f64>,
    /// Folders plugins may read.
    pub plugin_allow_dir: Option<Vec<PathBuf>>,
    /// Let plugins open network connections.
    pub plugin_allow_network: Option<bool>,
    /// Environment variables passed to plugins (their values are read now).
    pub plugin_allow_env: Option<Vec<String>>,
    /// Give plugins the real clocks.
    pub plugin_allow_clock: Option<bool>,
    /// Compile plugins every time.
    pub plugin_no_cache: Option<bool>,
    /// local or kubernetes.
    #[serde(default, deserialize_with = "parsed")]
    pub executor: Option<ExecutorKind>,
    /// Options of the Kubernetes executor.
    pub kubernetes: Option<RawKubernetes>,
}

/// The Kubernetes executor's options as given (`automl run --namespace ...`, Python's
/// `kubernetes={...}`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    /// Namespace for trial Jobs.
    pub namespace: Option<String>,
    /// Trial image.
    pub image: Option<String>,
    /// imagePullPolicy.
    pub image_pull_policy: Option<String>,
    /// GPUs per trial.
    pub gpus: Option<u32>,
    /// Extended resource name for GPUs.
    pub gpu_resource: Option<String>,
    /// CPU request and limit.
    pub cpu: Option<String>,
    /// Memory request and limit.
    pub memory: Option<String>,
    /// Node selector: `KEY=VALUE` strings or a map.
    pub node_selector: Option<Labels>,
    /// Tolerations as `KEY[=VALUE][:EFFECT]`.
    pub tolerations: Option<Vec<String>>,
    /// priorityClassName.
    pub priority_class: Option<String>,
    /// ServiceAccount of trial pods.
    pub service_account: Option<String>,
    /// backoffLimit.
    pub backoff_limit: Option<i32>,
    /// ttlSecondsAfterFinished.
    pub job_ttl: Option<i32>,
    /// Seconds added to a trial's limit for scheduling and pulls.
    pub startup_allowance: Option<u64>,
    /// Seconds a pod may stay unschedulable.
    pub unschedulable_timeout: Option<u64>,
    /// Seconds the API server may not answer before the run stops.
    pub api_outage_limit: Option<u64>,
    /// `CLAIM[:MOUNT]` of the data PVC.
    pub data_pvc: Option<String>,
    /// The CSV's path inside the PVC.
    pub data_path: Option<String>,
    /// http(s) URL trial pods download the data from.
    pub data_url: Option<String>,
    /// Leave running Jobs in place at the end.
    pub keep_jobs: Option<bool>,
    /// Folder for the prepared copy of the data that trial pods read instead of the CSV.
    pub prepared_dir: Option<PathBuf>,
    /// `CLAIM[:MOUNT]` trial pods mount read-only to find `prepared_dir`.
    pub prepared_claim: Option<String>,
}

/// Labels as `KEY=VALUE` strings (the CLI) or as a map (Python, YAML).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Labels {
    /// `{"key": "value"}`.
    Map(BTreeMap<String, String>),
    /// `["key=value"]`.
    List(Vec<String>),
}

/// Deserializes an optional value through its `FromStr`, so that Python and YAML get the
/// CLI's messages.
fn parsed<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: std::fmt::Display,
{
    let text: Option<String> = Option::deserialize(d)?;
    text.map(|s| s.parse::<T>().map_err(serde::de::Error::custom)).transpose()
}

impl RawOptions {
    /// Reads options from a JSON object (what Python's keyword arguments become); an
    /// unknown name is refused with the known ones listed.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::Config(format!("options are not valid JSON: {e}")))?;
        check_names("", &value, FIELDS)?;
        if let Some(k) = value.get("kubernetes").filter(|k| !k.is_null()) {
            check_names("kubernetes: ", k, KUBERNETES_FIELDS)?;
        }
        serde_json::from_value(value).map_err(|e| Error::Config(format!("options: {e}")))
    }

    /// The resolved options for `data` and `target`: defaults for what is not given, then
    /// every value checked ([`ExperimentOptions::validate`]).
    pub fn resolve(self, data: impl Into<PathBuf>, target: impl Into<String>) -> Result<ExperimentOptions> {
        let mut o = ExperimentOptions::new(data, target);
        o.sandbox = self.sandbox_policy()?;
        set(&mut o.task, self.task);
        o.metric = self.metric;
        if let Some(t) = self.time_budget {
            super::check_seconds("--time-budget (time_budget)", t, true)?;
            o.time_budget = (t > 0.0).then_some(t);
        }
        o.max_trials = self.max_trials;
        o.target_score = self.target_score;
        o.patience = self.patience;
        o.validation = validation(self.folds, self.holdout)?;
        set(&mut o.concurrency, self.concurrency);
        o.learners = self.learners;
        set(&mut o.seed, self.seed);
        set(&mut o.na_values, self.na_values);
        o.delimiter = self.delimiter.as_deref().map(parse_delimiter).transpose()?;
        o.out = self.out;
        o.force = self.force.unwrap_or(false);
        o.trial_time_limit = self.trial_time_limit;
        set(&mut o.sampler, self.search);
        set(&mut o.early_stopping, self.early_stopping);
        set(&mut o.stopping_rule, self.stopping_rule);
        set(&mut o.ensemble, self.ensemble);
        set(&mut o.final_fit, self.final_fit);
        if let Some(path) = &self.starting_points {
            o.starting_points = read_starting_points(path)?;
        }
        set(&mut o.plugins, self.plugins);
        set(&mut o.executor, self.executor);
        match self.kubernetes {
            Some(k) if o.executor == ExecutorKind::Kubernetes => o.kubernetes = k.resolve(&o.data)?,
            Some(_) => return Err(Error::Config("Kubernetes options are given but the executor is local: add --executor kubernetes (executor='kubernetes')".into())),
            None => o.kubernetes = RawKubernetes::default().resolve(&o.data)?,
        }
        o.validate()?;
        Ok(o)
    }

    /// The plugin sandbox of these options (the `plugin_*` ones), checked.
    pub fn sandbox_policy(&self) -> Result<SandboxPolicy> {
        let mut policy = SandboxPolicy::default();
        let s = &mut policy;
        if let Some(mib) = self.plugin_memory {
            s.memory_limit = mib.checked_mul(1 << 20).ok_or_else(|| Error::Config(format!("--plugin-memory {mib} MiB is too large")))?;
        }
        if let Some(t) = self.plugin_timeout {
            s.call_timeout = duration("--plugin-timeout", t)?;
        }
        set(&mut s.read_dirs, self.plugin_allow_dir.clone());
        set(&mut s.network, self.plugin_allow_network);
        set(&mut s.clock, self.plugin_allow_clock);
        s.env_names = self.plugin_allow_env.clone().unwrap_or_default();
        s.read_env();
        if self.plugin_no_cache == Some(true) {
            s.cache_dir = None;
        }
        policy.validate()?;
        Ok(policy)
    }
}

impl RawKubernetes {
    /// The resolved Kubernetes options; `data` is the local data file (its name is the
    /// default path inside a PVC).
    pub fn resolve(self, data: &Path) -> Result<KubernetesOptions> {
        let mut k = KubernetesOptions::default();
        k.namespace = self.namespace;
        set(&mut k.image, self.image);
        k.image_pull_policy = self.image_pull_policy;
        set(&mut k.gpus, self.gpus);
        set(&mut k.gpu_resource, self.gpu_resource);
        k.cpu = self.cpu;
        k.memory = self.memory;
        k.node_selector = match self.node_selector {
            None => BTreeMap::new(),
            Some(Labels::Map(m)) => m,
            Some(Labels::List(l)) => super::kubernetes::parse_node_selector(&l).map_err(|m| Error::Config(format!("--node-selector: {m}")))?,
        };
        let tolerations = self.tolerations.unwrap_or_default();
        k.tolerations = tolerations.iter().map(|t| t.parse::<Toleration>()).collect::<std::result::Result<_, _>>().map_err(|m| Error::Config(format!("--toleration: {m}")))?;
        k.priority_class = self.priority_class;
        k.service_account = self.service_account;
        set(&mut k.backoff_limit, self.backoff_limit);
        set(&mut k.ttl_after_finished_s, self.job_ttl);
        set(&mut k.startup_allowance_s, self.startup_allowance);
        set(&mut k.unschedulable_timeout_s, self.unschedulable_timeout);
        set(&mut k.api_outage_s, self.api_outage_limit);
        k.data = super::DataSource::from_options(self.data_pvc.as_deref(), self.data_path.as_deref(), self.data_url.as_deref(), data)
            .map_err(|m| Error::Config(format!("{m} (--data-pvc, --data-path, --data-url)")))?;
        set(&mut k.keep_jobs, self.keep_jobs);
        k.prepared = super::kubernetes::PreparedStore::from_options(self.prepared_dir.as_deref(), self.prepared_claim.as_deref()).map_err(Error::Config)?;
        // Tests point this at a local binary; images run `automl`.
        if let Ok(c) = std::env::var("AUTOML_TRIAL_COMMAND") {
            k.command = c.split_whitespace().map(String::from).collect();
        }
        Ok(k)
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

fn validation(folds: Option<usize>, holdout: Option<f64>) -> Result<Option<ValidationPlan>> {
    match (folds, holdout) {
        (Some(_), Some(_)) => Err(Error::Config("give --cv (folds) or --holdout, not both".into())),
        (Some(k), None) if k < 2 => Err(Error::Config(format!("--cv must be at least 2 folds, got {k}"))),
        (Some(k), None) => Ok(Some(ValidationPlan::KFold { k })),
        (None, Some(f)) if !(f > 0.0 && f < 1.0) => Err(Error::Config(format!("--holdout must be a share of the rows in (0, 1), got {f}"))),
        (None, Some(fraction)) => Ok(Some(ValidationPlan::Holdout { fraction })),
        (None, None) => Ok(None),
    }
}

/// A delimiter as users write it: one ASCII character other than a quote or a line
/// break, or `tab` / `\t`.
pub fn parse_delimiter(text: &str) -> Result<u8> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && t.is_ascii() && !matches!(t, "\"" | "\n" | "\r") => Ok(t.as_bytes()[0]),
        t => Err(Error::Config(format!("--delimiter (delimiter) must be one character such as ';' or 'tab', not {t:?}"))),
    }
}

/// The option names [`RawOptions`] knows (a test keeps the list equal to its fields).
const FIELDS: &[&str] = &[
    "task", "metric", "time_budget", "max_trials", "target_score", "patience", "folds", "holdout", "concurrency", "learners", "seed", "na_values", "delimiter", "out", "force",
    "trial_time_limit", "search", "early_stopping", "stopping_rule", "ensemble", "final_fit", "starting_points", "plugins", "plugin_memory", "plugin_timeout", "plugin_allow_dir", "plugin_allow_network",
    "plugin_allow_env", "plugin_allow_clock", "plugin_no_cache", "executor", "kubernetes",
];

/// The option names [`RawKubernetes`] knows.
const KUBERNETES_FIELDS: &[&str] = &[
    "namespace", "image", "image_pull_policy", "gpus", "gpu_resource", "cpu", "memory", "node_selector", "tolerations", "priority_class", "service_account",
    "backoff_limit", "job_ttl", "startup_allowance", "unschedulable_timeout", "api_outage_limit", "data_pvc", "data_path", "data_url", "keep_jobs",
    "prepared_dir", "prepared_claim",
];

fn check_names(prefix: &str, value: &serde_json::Value, known: &[&str]) -> Result<()> {
    let map = value.as_object().ok_or_else(|| Error::Config(format!("{prefix}options must be a mapping of names to values")))?;
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Error::Config(format!("{prefix}unknown option '{k}'; known: {}", known.join(", ")))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists of names match the structs: every listed name deserializes, and the
    /// structs refuse what is not listed.
    #[test]
    fn the_known_names_are_the_fields() {
        for name in FIELDS {
            let value = if *name == "kubernetes" { "{}".to_string() } else { "null".to_string() };
            serde_json::from_str::<RawOptions>(&format!("{{\"{name}\": {value}}}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for name in KUBERNETES_FIELDS {
            serde_json::from_str::<RawKubernetes>(&format!("{{\"{name}\": null}}")).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let e = serde_json::from_str::<RawOptions>("{\"nope\": 1}").expect_err("unknown");
        for name in FIELDS {
            assert!(e.to_string().contains(&format!("`{name}`")), "{name} missing from the struct's own list: {e}");
        }
        let e = serde_json::from_str::<RawKubernetes>("{\"nope\": 1}").expect_err("unknown");
        for name in KUBERNETES_FIELDS {
            assert!(e.to_string().contains(&format!("`{name}`")), "{name}: {e}");
        }
    }

    #[test]
    fn defaults_come_from_the_library_and_values_are_checked_once() {
        let o = RawOptions::default().resolve("d.csv", "y").expect("defaults");
        assert_eq!(o.time_budget, Some(super::super::DEFAULT_TIME_BUDGET_S));
        assert_eq!(o.kubernetes, KubernetesOptions::default());
        let o = RawOptions::from_json(r#"{"time_budget": 0, "max_trials": 3, "folds": 3, "search": "random"}"#).expect("json").resolve("d.csv", "y").expect("resolve");
        assert_eq!((o.time_budget, o.max_trials, o.validation, o.sampler), (None, Some(3), Some(ValidationPlan::KFold { k: 3 }), Sampler::Random));
        for (json, message) in [
            (r#"{"time_budget": -5}"#, "--time-budget (time_budget) must be"),
            (r#"{"time_budget": 1e20}"#, "at most"),
            (r#"{"plugin_timeout": -1}"#, "--plugin-timeout must be"),
            (r#"{"trial_time_limit": 1e300}"#, "--trial-time-limit (trial_time_limit) must be"),
            (r#"{"folds": 3, "holdout": 0.2}"#, "not both"),
            (r#"{"search": "grid"}"#, "unknown search 'grid'"),
            (r#"{"executor": "slurm"}"#, "unknown executor 'slurm'"),
            (r#"{"kubernetes": {"gpu": 1}}"#, "kubernetes: unknown option 'gpu'"),
            (r#"{"executor": "kubernetes", "kubernetes": {"tolerations": ["a:Sometimes"]}}"#, "not one of NoSchedule"),
            (r#"{"kubernetes": {"gpus": 1}}"#, "the executor is local"),
            (r#"{"max_trial": 1}"#, "unknown option 'max_trial'"),
        ] {
            let e = RawOptions::from_json(json).and_then(|r| r.resolve("d.csv", "y")).expect_err(json);
            assert!(e.to_string().contains(message), "{json}: {e}");
        }
    }
}

/// Reads a starting-points file: a JSON list of `{"learner": ..., "hyperparameters": {...}}`.
fn read_starting_points(path: &std::path::Path) -> Result<Vec<crate::search::Suggestion>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let bad = |m: String| Error::Config(format!("{}: {m}; expected a JSON list of {{\"learner\": NAME, \"hyperparameters\": {{...}}}}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON ({e})")))?;
    let items = value.as_array().ok_or_else(|| bad("not a list".into()))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let learner = item.get("learner").and_then(|l| l.as_str()).ok_or_else(|| bad(format!("entry {i} has no \"learner\"")))?;
            let params = item.get("hyperparameters").cloned().unwrap_or(serde_json::json!({}));
            let config = automl_core::space::config_from_json(&params).map_err(|m| bad(format!("entry {i}: {m}")))?;
            Ok(crate::search::Suggestion { learner: learner.to_string(), config })
        })
        .collect()
}
