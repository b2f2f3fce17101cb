//! The `Experiment` custom resource (`automl.dev/v1alpha1`): an experiment declared to
//! the cluster, as Katib's users declare theirs. Defined once here, with kube's
//! `CustomResource` derive and a JSON schema; `automl operator crd` prints its
//! CustomResourceDefinition for `kubectl apply`.
//!
//! ```yaml
//! apiVersion: automl.dev/v1alpha1
//! kind: Experiment
//! metadata: { name: penguins }
//! spec:
//!   data: { pvc: { claim: automl-data, path: penguins.csv } }
//!   target: species
//!   budget: { timeSeconds: 300, maxTrials: 50 }
//!   concurrency: 4
//!   trialResources: { cpu: "1", memory: 2Gi }
//! ```
use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What an Experiment asks for.
#[derive(CustomResource, Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "automl.dev",
    version = "v1alpha1",
    kind = "Experiment",
    plural = "experiments",
    shortname = "amlx",
    namespaced,
    status = "ExperimentStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Best","type":"number","jsonPath":".status.bestScore"}"#,
    printcolumn = r#"{"name":"Trials","type":"integer","jsonPath":".status.trials.succeeded"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentSpec {
    /// Where the training CSV is.
    pub data: DataSource,
    /// Target column (built-in trials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `auto`, `binary`, `multiclass` or `regression` [default: auto].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Objective metric [default: the task's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// When the search ends.
    #[serde(default)]
    pub budget: Budget,
    /// Trials at once [default: 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Learners searched [default: all].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<String>,
    /// Each trial pod's resources and scheduling.
    #[serde(default)]
    pub trial_resources: TrialResources,
    /// The user's own trial container instead of built-in learners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_trial: Option<CustomTrial>,
    /// WebAssembly plugins (preprocessors, metrics, stopping rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plugins: Vec<PluginSource>,
}

/// The training data: a file on a PersistentVolumeClaim, or an https URL with its digest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    /// A file on a claim the trial pods mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PvcFile>,
    /// An https URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<UrlFile>,
}

/// A file on a PersistentVolumeClaim.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PvcFile {
    /// The claim's name.
    pub claim: String,
    /// The file's path inside the volume.
    pub path: String,
}

/// A file fetched over https and checked by digest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlFile {
    /// The URL.
    pub url: String,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// Budgets: the search ends at the first reached.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Seconds for the whole search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_seconds: Option<f64>,
    /// Most trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_trials: Option<u64>,
    /// Stop once a trial reaches this score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_score: Option<f64>,
    /// Stop after this many trials without improvement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<u64>,
}

/// What each trial pod gets and where it may run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialResources {
    /// CPU request and limit (a Kubernetes quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Memory request and limit (a Kubernetes quantity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// GPUs per trial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// Node labels a trial pod needs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations, as `key[=value]:effect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<String>,
    /// PriorityClass of trial pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class: Option<String>,
    /// The trial image [default: the operator's].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The user's own trial container, Katib's trial template.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomTrial {
    /// The image.
    pub image: String,
    /// The command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments, with `${name}` placeholders filled from `parameters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The search space: one entry per placeholder.
    pub parameters: BTreeMap<String, Parameter>,
    /// What the trials print as `name=value` lines, and which way is better.
    pub objective: Objective,
    /// Pods per trial [default: 1]: more run as one Indexed Job, all at once (index 0
    /// reports the objective).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<u32>,
    /// The gang scheduler that starts all of a trial's pods or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gang: Option<GangScheduling>,
}

/// All-or-nothing scheduling of a multi-pod trial.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GangScheduling {
    /// `kueue` (the Job is created suspended in `queue`, admitted when all its pods fit) or
    /// `coscheduling` (a PodGroup with `minMember` = pods, for scheduler-plugins).
    pub scheduler: String,
    /// The Kueue LocalQueue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The scheduler that runs coscheduling [default: scheduler-plugins-scheduler].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
}

/// One dimension of a custom trial's search space.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    /// `float`, `int` or `categorical`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Least value (float, int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Greatest value (float, int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Searched on a log scale.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub log: bool,
    /// The choices (categorical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A custom trial's objective.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// The metric's name in the trial's output.
    pub metric: String,
    /// `maximize` or `minimize`.
    pub direction: String,
    /// Stop once a trial reaches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<f64>,
}

/// A plugin component: a key of a ConfigMap (binaryData), checked by digest.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginSource {
    /// The ConfigMap.
    pub config_map: String,
    /// The key holding the `.wasm` component.
    pub key: String,
    /// Its SHA-256, hex.
    pub sha256: String,
}

/// What the controller observed.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentStatus {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Conditions, by Kubernetes conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Trials by outcome.
    #[serde(default)]
    pub trials: TrialCounts,
    /// The best trial's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_trial: Option<u64>,
    /// Its score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_score: Option<f64>,
    /// Where the model file is (a path on the data volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When the search started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// When it ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<String>,
}

/// Trials by outcome.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrialCounts {
    /// Running now.
    #[serde(default)]
    pub running: u64,
    /// Finished with a score.
    #[serde(default)]
    pub succeeded: u64,
    /// Failed.
    #[serde(default)]
    pub failed: u64,
    /// Stopped early by a rule.
    #[serde(default)]
    pub early_stopped: u64,
    /// Past their time limit.
    #[serde(default)]
    pub timed_out: u64,
}

/// A condition, as Kubernetes' API conventions define it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Its type, e.g. `Succeeded`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    /// The generation of the spec it was observed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The CustomResourceDefinition, as YAML for `kubectl apply`.
pub fn crd_yaml() -> Result<String, String> {
    use kube::CustomResourceExt;
    serde_saphyr::to_string(&Experiment::crd()).map_err(|e| e.to_string())
}

/// The fields of `object` (an Experiment as JSON) that the CRD's schema does not know,
/// as paths: what the API server's strict field validation refuses on `kubectl apply`.
pub fn unknown_fields(object: &Value) -> Vec<String> {
    use kube::CustomResourceExt;
    let crd = serde_json::to_value(Experiment::crd()).unwrap_or_default();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let mut out = Vec::new();
    // Every object has apiVersion, kind and metadata, whatever the schema lists.
    if let Value::Object(map) = object {
        for (key, value) in map {
            match key.as_str() {
                "apiVersion" | "kind" | "metadata" => {}
                _ => walk(&schema["properties"][key], value, key, &mut out),
            }
        }
    }
    out
}

fn walk(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if schema.is_null() {
        out.push(path.to_string());
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let child = match (&schema["properties"], &schema["additionalProperties"]) {
                    (Value::Object(props), _) => props.get(key).cloned().unwrap_or(Value::Null),
                    (_, Value::Object(extra)) => Value::Object(extra.clone()),
                    _ => Value::Null,
                };
                walk(&child, v, &format!("{path}.{key}"), out);
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(&schema["items"], v, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    const EXAMPLE: &str = include_str!("../../../examples/kubernetes/experiment.yaml");

    #[test]
    fn the_crd_is_namespaced_with_a_status_subresource_and_printer_columns() {
        let crd = Experiment::crd();
        assert_eq!(crd.metadata.name.as_deref(), Some("experiments.automl.dev"));
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().and_then(|s| s.status.as_ref()).is_some());
        let columns: Vec<&str> = version.additional_printer_columns.iter().flatten().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["Phase", "Best", "Trials", "Age"]);
        assert!(crd_yaml().unwrap().contains("kind: CustomResourceDefinition"));
    }

    #[test]
    fn the_schema_accepts_the_examples_and_names_a_misspelled_field() {
        for doc in EXAMPLE.split("\n---\n") {
            let value: Value = serde_saphyr::from_str(doc).unwrap();
            assert_eq!(unknown_fields(&value), Vec::<String>::new(), "{doc}");
            let e: Experiment = serde_json::from_value(value).unwrap();
            assert!(e.spec.data.pvc.is_some() || e.spec.data.url.is_some());
        }
        let first: Value = serde_saphyr::from_str(EXAMPLE.split("\n---\n").next().unwrap()).unwrap();
        let mut typo = first.clone();
        typo["spec"]["trialResources"]["gpu"] = Value::from(1);
        typo["spec"]["budget"]["maxTrial"] = Value::from(3);
        assert_eq!(unknown_fields(&typo), ["spec.budget.maxTrial", "spec.trialResources.gpu"]);
        // Node selectors are free maps: any key is known.
        let mut selector = first;
        selector["spec"]["trialResources"]["nodeSelector"]["anything/at-all"] = Value::from("x");
        assert!(unknown_fields(&selector).is_empty());
    }
}
