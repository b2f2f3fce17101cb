//! From an `Experiment`'s spec to the options of the runner that `automl run` uses: where
//! the operator reads the data, where the trial pods read it, the budgets and the trial
//! pods' resources. What the operator does not run yet is refused here, with the reason
//! the status shows.
use std::path::{Component, Path, PathBuf};

use crate::kubernetes::crd::{Experiment, ExperimentSpec};
use crate::options::{DataSource, ExecutorKind, ExperimentOptions, KubernetesOptions, Owner, Toleration, DATA_MOUNT};

use super::OperatorOptions;

/// Why a spec cannot be run: the condition's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// CamelCase reason (`InvalidSpec`, `DataUnavailable`, `Unsupported`).
    pub reason: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

fn refuse(reason: &'static str, message: impl Into<String>) -> Refusal {
    Refusal { reason, message: message.into() }
}

/// The run folder of an Experiment: its journal, trials, model and report, on the
/// operator's state volume, found again by a restarted operator from the object's uid.
pub fn run_dir(state_dir: &Path, exp: &Experiment) -> PathBuf {
    let ns = exp.metadata.namespace.as_deref().unwrap_or("default");
    let name = exp.metadata.name.as_deref().unwrap_or("experiment");
    let uid = exp.metadata.uid.as_deref().unwrap_or("");
    state_dir.join(ns).join(format!("{name}-{}", &uid[..uid.len().min(8)]))
}

/// What the operator runs for an Experiment.
#[derive(Debug)]
pub enum Plan {
    /// Built-in trials: the options of `automl run`, and the data to download first when it
    /// comes by URL (`(url, sha256)`, into the run folder).
    Builtin(Box<ExperimentOptions>, Option<(String, String)>),
    /// The user's own trial container: the spec of `automl run --spec`.
    Custom(Box<crate::spec::ExperimentSpec>, Box<KubernetesOptions>),
}

/// What to run for `exp`, writing into `out`, with the plugin components at `plugins`.
pub fn plan(exp: &Experiment, op: &OperatorOptions, out: &Path, plugins: Vec<PathBuf>) -> std::result::Result<Plan, Refusal> {
    match &exp.spec.custom_trial {
        Some(_) if !exp.spec.plugins.is_empty() => Err(refuse("InvalidSpec", "spec.plugins: plugins work with built-in trials; a custom trial scores itself")),
        Some(custom) => {
            let spec = custom_spec(exp, custom)?;
            let mut k = KubernetesOptions::default();
            kubernetes(exp, op, DataSource::SamePath, &mut k)?;
            Ok(Plan::Custom(Box::new(spec), Box::new(k)))
        }
        None => {
            let (options, fetch) = options(exp, op, out, plugins)?;
            Ok(Plan::Builtin(Box::new(options), fetch))
        }
    }
}

/// A custom trial's spec, as `automl run --spec` reads it.
fn custom_spec(exp: &Experiment, c: &crate::kubernetes::crd::CustomTrial) -> std::result::Result<crate::spec::ExperimentSpec, Refusal> {
    use crate::spec::{ExperimentSpec, Gang, GoalDirection, Objective, ParameterSpec, TrialTemplate};
    let invalid = |m: String| refuse("InvalidSpec", m);
    let direction = match c.objective.direction.as_str() {
        "maximize" => GoalDirection::Maximize,
        "minimize" => GoalDirection::Minimize,
        d => return Err(invalid(format!("spec.customTrial.objective.direction '{d}': write maximize or minimize"))),
    };
    let mut parameters = std::collections::BTreeMap::new();
    for (name, p) in &c.parameters {
        let bound = |v: Option<f64>, which: &str| v.ok_or_else(|| invalid(format!("spec.customTrial.parameters.{name}: give {which}")));
        let spec = match p.kind.as_str() {
            "float" => ParameterSpec::Float { min: bound(p.min, "min")?, max: bound(p.max, "max")?, log: p.log },
            "int" => ParameterSpec::Int { min: bound(p.min, "min")? as i64, max: bound(p.max, "max")? as i64, log: p.log },
            "categorical" => ParameterSpec::Categorical { values: p.values.clone() },
            t => return Err(invalid(format!("spec.customTrial.parameters.{name}.type '{t}': write float, int or categorical"))),
        };
        parameters.insert(name.clone(), spec);
    }
    let gang = match &c.gang {
        None => None,
        Some(g) if g.scheduler == "kueue" => Some(Gang::Kueue { queue: g.queue.clone().unwrap_or_default() }),
        Some(g) if g.scheduler == "coscheduling" => Some(Gang::Coscheduling { scheduler_name: g.scheduler_name.clone() }),
        Some(g) => return Err(invalid(format!("spec.customTrial.gang.scheduler '{}': write kueue or coscheduling", g.scheduler))),
    };
    let b = &exp.spec.budget;
    let spec = ExperimentSpec {
        name: exp.metadata.name.clone().unwrap_or_default(),
        objective: Objective { metric: c.objective.metric.clone(), direction, goal: c.objective.goal.or(b.target_score) },
        parameters,
        trial: TrialTemplate { image: c.image.clone(), command: c.command.clone(), args: c.args.clone(), env: Default::default(), pods: c.pods.unwrap_or(1), gang },
        max_trials: b.max_trials.map(|n| n as usize),
        concurrency: Some(exp.spec.concurrency.unwrap_or(1).max(1) as usize),
        time_budget: b.time_seconds,
        trial_time_limit: None,
        early_stopping: None,
        seed: 0,
    };
    spec.check().map_err(|m| invalid(format!("spec.customTrial: {m}")))?;
    Ok(spec)
}

/// The runner's options for `exp`, writing into `out`.
fn options(exp: &Experiment, op: &OperatorOptions, out: &Path, plugins: Vec<PathBuf>) -> std::result::Result<(ExperimentOptions, Option<(String, String)>), Refusal> {
    let spec = &exp.spec;
    let target = spec.target.clone().filter(|t| !t.is_empty()).ok_or_else(|| refuse("InvalidSpec", "spec.target: name the target column"))?;
    let (data, trial_data, fetch) = data(spec, op, out)?;
    let mut o = ExperimentOptions::new(data, target);
    o.task = match spec.task.as_deref() {
        None => Default::default(),
        Some(t) => t.parse::<automl_core::task::TaskChoice>().map_err(|e| refuse("InvalidSpec", format!("spec.task: {e}")))?,
    };
    o.metric = spec.metric.clone();
    budgets(spec, &mut o);
    o.concurrency = spec.concurrency.unwrap_or(1).max(1) as usize;
    o.learners = (!spec.learners.is_empty()).then(|| spec.learners.clone());
    o.out = Some(out.to_path_buf());
    o.plugins = plugins;
    o.executor = ExecutorKind::Kubernetes;
    kubernetes(exp, op, trial_data, &mut o.kubernetes)?;
    o.kubernetes.prepared = op.prepared_store();
    o.validate().map_err(|e| refuse("InvalidSpec", e.to_string()))?;
    Ok((o, fetch))
}

fn budgets(spec: &ExperimentSpec, o: &mut ExperimentOptions) {
    let b = &spec.budget;
    // Katib's way: a trial count alone runs until it is reached.
    o.time_budget = match (b.time_seconds, b.max_trials) {
        (Some(t), _) => Some(t),
        (None, Some(_)) => None,
        (None, None) => o.time_budget,
    };
    o.max_trials = b.max_trials.map(|n| n as usize);
    o.target_score = b.target_score;
    o.patience = b.patience.map(|n| n as usize);
}

/// Where the operator reads the CSV, where trial pods read it, and what to download first.
fn data(spec: &ExperimentSpec, op: &OperatorOptions, out: &Path) -> std::result::Result<(PathBuf, DataSource, Option<(String, String)>), Refusal> {
    match (&spec.data.pvc, &spec.data.url) {
        (Some(pvc), None) => {
            if pvc.claim != op.data_claim {
                return Err(refuse("DataUnavailable", format!("spec.data.pvc.claim: this operator mounts the claim '{}' at {}, not '{}'; put the data there or run an operator that mounts it", op.data_claim, op.data_root.display(), pvc.claim)));
            }
            let relative = Path::new(&pvc.path);
            if pvc.path.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
                return Err(refuse("InvalidSpec", format!("spec.data.pvc.path '{}': give a relative path inside the volume, without '..'", pvc.path)));
            }
            let here = op.data_root.join(relative);
            let pods = if op.same_path_trials {
                DataSource::SamePath
            } else {
                DataSource::Pvc { claim: pvc.claim.clone(), mount_path: DATA_MOUNT.to_string(), path: pvc.path.clone() }
            };
            Ok((here, pods, None))
        }
        (None, Some(u)) => {
            if !(u.url.starts_with("https://") || u.url.starts_with("http://")) {
                return Err(refuse("InvalidSpec", format!("spec.data.url.url '{}': give an http(s) URL", u.url)));
            }
            if u.sha256.len() != 64 || !u.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(refuse("InvalidSpec", "spec.data.url.sha256: give the file's SHA-256 as 64 hex digits (sha256sum FILE)"));
            }
            // Downloaded into the run folder before the run; trial pods download it too.
            let here = out.join("data").join(crate::kubernetes::fetch::file_name(&u.url));
            Ok((here, DataSource::Url(u.url.clone()), Some((u.url.clone(), u.sha256.to_ascii_lowercase()))))
        }
        _ => Err(refuse("InvalidSpec", "spec.data: give exactly one of pvc or url")),
    }
}

fn kubernetes(exp: &Experiment, op: &OperatorOptions, data: DataSource, k: &mut KubernetesOptions) -> std::result::Result<(), Refusal> {
    let r = &exp.spec.trial_resources;
    k.namespace = exp.metadata.namespace.clone();
    k.image = r.image.clone().unwrap_or_else(|| op.trial_image.clone());
    k.command = op.trial_command.clone();
    k.cpu = r.cpu.clone();
    k.memory = r.memory.clone();
    k.gpus = r.gpus.unwrap_or(0);
    k.node_selector = r.node_selector.clone();
    k.tolerations = r.tolerations.iter().map(|t| t.parse::<Toleration>()).collect::<std::result::Result<_, _>>().map_err(|e| refuse("InvalidSpec", format!("spec.trialResources.tolerations: {e}")))?;
    k.priority_class = r.priority_class.clone();
    k.data = data;
    // Jobs outlive an operator restart: the next leader adopts them from the journal.
    k.keep_jobs = true;
    k.owner = Some(Owner {
        api_version: "automl.dev/v1alpha1".into(),
        kind: "Experiment".into(),
        name: exp.metadata.name.clone().unwrap_or_default(),
        uid: exp.metadata.uid.clone().ok_or_else(|| refuse("InvalidSpec", "the Experiment has no uid (not read from a cluster)"))?,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator() -> OperatorOptions {
        OperatorOptions { data_root: "/data".into(), data_claim: "automl-data".into(), ..OperatorOptions::default() }
    }

    fn experiment(spec: serde_json::Value) -> Experiment {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "automl.dev/v1alpha1", "kind": "Experiment",
            "metadata": { "name": "penguins", "namespace": "ml", "uid": "0123456789abcdef" },
            "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn a_spec_becomes_the_runners_options_with_its_jobs_owned_by_the_experiment() {
        let exp = experiment(serde_json::json!({
            "data": { "pvc": { "claim": "automl-data", "path": "sets/penguins.csv" } }, "target": "species",
            "budget": { "maxTrials": 12 }, "concurrency": 3, "learners": ["gbdt"],
            "trialResources": { "cpu": "1", "gpus": 1, "tolerations": ["nvidia.com/gpu:NoSchedule"] },
        }));
        let dir = run_dir(Path::new("/data/.automl"), &exp);
        assert_eq!(dir, Path::new("/data/.automl/ml/penguins-01234567"));
        let Plan::Builtin(o, None) = plan(&exp, &operator(), &dir, Vec::new()).unwrap() else { panic!("a built-in plan without a download") };
        assert_eq!(o.data, Path::new("/data/sets/penguins.csv"));
        assert_eq!((o.max_trials, o.time_budget, o.concurrency), (Some(12), None, 3));
        assert_eq!(o.kubernetes.namespace.as_deref(), Some("ml"));
        assert_eq!(o.kubernetes.gpus, 1);
        assert_eq!(o.kubernetes.tolerations[0].key, "nvidia.com/gpu");
        assert!(matches!(&o.kubernetes.data, DataSource::Pvc { claim, path, .. } if claim == "automl-data" && path == "sets/penguins.csv"));
        assert_eq!(o.kubernetes.owner.as_ref().map(|w| w.uid.as_str()), Some("0123456789abcdef"));
        assert!(o.kubernetes.keep_jobs);
    }

    #[test]
    fn what_cannot_run_is_refused_with_a_reason() {
        let base = |data: serde_json::Value| experiment(serde_json::json!({ "data": data, "target": "y" }));
        let cases = [
            (base(serde_json::json!({ "pvc": { "claim": "other", "path": "a.csv" } })), "DataUnavailable", "mounts the claim 'automl-data'"),
            (base(serde_json::json!({ "pvc": { "claim": "automl-data", "path": "../etc/passwd" } })), "InvalidSpec", "without '..'"),
            (base(serde_json::json!({})), "InvalidSpec", "exactly one of pvc or url"),
            (experiment(serde_json::json!({ "data": { "pvc": { "claim": "automl-data", "path": "a.csv" } } })), "InvalidSpec", "spec.target"),
            (experiment(serde_json::json!({ "data": { "pvc": { "claim": "automl-data", "path": "a.csv" } }, "target": "y", "task": "clustering" })), "InvalidSpec", "spec.task"),
        ];
        for (exp, reason, message) in cases {
            let r = plan(&exp, &operator(), Path::new("/tmp/x"), Vec::new()).unwrap_err();
            assert_eq!(r.reason, reason, "{r:?}");
            assert!(r.message.contains(message), "{r:?}");
        }
    }

    #[test]
    fn prepared_data_goes_where_the_trial_pods_can_read_it() {
        // State on the data claim: pods read it through their data mount.
        let on_data = operator().prepared_store().expect("a store");
        assert_eq!((on_data.dir.as_path(), on_data.pod_dir.as_str(), on_data.claim.as_deref()), (Path::new("/data/.automl/prepared"), "/data/.automl/prepared", None));
        let elsewhere = OperatorOptions { data_root: "/mnt/d".into(), state_dir: Some("/mnt/d/runs".into()), ..operator() };
        assert_eq!(elsewhere.prepared_store().expect("a store").pod_dir, "/data/runs/prepared");
        // State on its own claim: none unless a prepared claim is given, which pods mount.
        let own_state = OperatorOptions { state_dir: Some("/state".into()), state_claim: Some("automl-state".into()), ..operator() };
        assert_eq!(own_state.prepared_store(), None);
        let claimed = OperatorOptions { prepared_dir: Some("/prepared".into()), prepared_claim: Some("automl-prepared".into()), ..own_state.clone() };
        let store = claimed.prepared_store().expect("a store");
        assert_eq!((store.pod_dir.as_str(), store.claim.as_deref()), ("/prepared", Some("automl-prepared")));
        // Trials at the same path see the operator's folder as it is.
        let same = OperatorOptions { same_path_trials: true, ..own_state };
        assert_eq!(same.prepared_store().expect("a store").pod_dir, "/state/prepared");
        // The runner's options carry it.
        let exp = experiment(serde_json::json!({ "data": { "pvc": { "claim": "automl-data", "path": "a.csv" } }, "target": "y" }));
        let Plan::Builtin(o, _) = plan(&exp, &operator(), Path::new("/data/.automl/ml/x"), Vec::new()).unwrap() else { panic!("built-in") };
        assert_eq!(o.kubernetes.prepared, Some(on_data));
    }
}
