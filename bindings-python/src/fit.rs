//! `fit` and `profile`: run the engine on a DataFrame or a CSV file, with progress events
//! sent to a Python callback and Ctrl-C (or a notebook's stop button) ending the search
//! early while keeping the best model so far.
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use automl::core::data::{read_csv, CsvOptions, Table};
use automl::core::learners::all_learners;
use automl::core::metrics::{BuiltinMetric, Metric};
use automl::core::profile::Profile;
use automl::core::task::TaskChoice;
use automl::core::validation::ValidationPlan;
use automl::search::Sampler;
use automl::trial::TrialResult;
use automl::kubernetes::{DataSource, KubernetesConfig, Toleration};
use automl::{report, CancelToken, ExecutorChoice, Experiment, ExperimentConfig, Observer};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{exception, to_py};
use crate::frame::table_from_arrow;
use crate::model::Model;

/// What the run thread tells the Python thread.
enum Event {
    Profile(String),
    Trial { trial: String, best: Option<f64>, elapsed: f64 },
    Refit(String),
}

struct Forward(mpsc::Sender<Event>);

impl Observer for Forward {
    fn on_profile(&mut self, profile: &Profile) {
        let _ = self.0.send(Event::Profile(serde_json::to_string(profile).unwrap_or_default()));
    }
    fn on_trial(&mut self, result: &TrialResult, best: Option<&TrialResult>, elapsed: Duration) {
        let trial = report::trial_json(result).to_string();
        let _ = self.0.send(Event::Trial { trial, best: best.and_then(|b| b.score), elapsed: elapsed.as_secs_f64() });
    }
    fn on_refit(&mut self, best: &TrialResult) {
        let _ = self.0.send(Event::Refit(best.learner.clone()));
    }
}

/// The data of a fit or profile call: an Arrow-capable frame, or a CSV path.
fn load(data: &Bound<'_, PyAny>, source: &str) -> PyResult<(PathBuf, Option<Table>)> {
    if let Ok(path) = data.extract::<PathBuf>() {
        return Ok((path, None));
    }
    Ok((PathBuf::from(source), Some(table_from_arrow(data, source)?)))
}

fn opt<'py, T>(options: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<T>>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    match options.get_item(key)? {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v.extract::<T>().map(Some).map_err(|e| PyTypeError::new_err(format!("{key}: {e}"))),
    }
}

fn config(path: PathBuf, target: &str, options: &Bound<'_, PyDict>) -> PyResult<ExperimentConfig> {
    let mut c = ExperimentConfig::new(path, target);
    if let Some(task) = opt::<String>(options, "task")? {
        c.task = task.parse::<TaskChoice>().map_err(|e| PyValueError::new_err(format!("task: {e}")))?;
    }
    c.metric = opt(options, "metric")?;
    c.time_budget = opt(options, "time_budget")?;
    c.max_trials = opt(options, "max_trials")?;
    c.target_score = opt(options, "target_score")?;
    c.patience = opt(options, "patience")?;
    if let Some(k) = opt::<usize>(options, "folds")? {
        c.validation = Some(ValidationPlan::KFold { k });
    }
    if let Some(fraction) = opt::<f64>(options, "holdout")? {
        c.validation = Some(ValidationPlan::Holdout { fraction });
    }
    if let Some(n) = opt(options, "concurrency")? {
        c.concurrency = n;
    }
    c.learners = opt(options, "learners")?;
    if let Some(seed) = opt(options, "seed")? {
        c.seed = seed;
    }
    c.out = opt(options, "out")?;
    c.trial_time_limit = opt(options, "trial_time_limit")?;
    if let Some(s) = opt::<String>(options, "search")? {
        c.sampler = match s.as_str() {
            "tpe" => Sampler::Tpe,
            "random" => Sampler::Random,
            other => return Err(PyValueError::new_err(format!("search: expected 'tpe' or 'random', got '{other}'"))),
        };
    }
    if let Some(e) = opt(options, "early_stopping")? {
        c.early_stopping = e;
    }
    if let Some(na) = opt(options, "na_values")? {
        c.na_values = na;
    }
    if let Some(plugins) = opt(options, "plugins")? {
        c.plugins = plugins;
    }
    if let Some(mib) = opt::<usize>(options, "plugin_memory_mb")? {
        c.sandbox.memory_limit = mib << 20;
    }
    if let Some(seconds) = opt::<f64>(options, "plugin_timeout")? {
        c.sandbox.call_timeout = Duration::from_secs_f64(seconds);
    }
    if let Some(k) = options.get_item("kubernetes")?.filter(|v| !v.is_none()) {
        let k = k.cast_into::<PyDict>().map_err(|_| PyTypeError::new_err("kubernetes: expected a dict of options"))?;
        c.executor = ExecutorChoice::Kubernetes(kubernetes(&c.data, &k)?);
    }
    Ok(c)
}

/// The options Python's `kubernetes={...}` takes: the `automl run` Kubernetes flags, with
/// underscores.
const KUBERNETES_OPTIONS: &[&str] = &[
    "namespace", "image", "image_pull_policy", "gpus", "gpu_resource", "cpu", "memory", "node_selector", "tolerations", "priority_class", "service_account",
    "backoff_limit", "job_ttl", "startup_allowance", "unschedulable_timeout", "data_pvc", "data_path", "data_url", "keep_jobs",
];

fn kubernetes(data: &std::path::Path, k: &Bound<'_, PyDict>) -> PyResult<KubernetesConfig> {
    for key in k.keys() {
        let key: String = key.extract().map_err(|_| PyTypeError::new_err("kubernetes: option names must be strings"))?;
        if !KUBERNETES_OPTIONS.contains(&key.as_str()) {
            return Err(PyValueError::new_err(format!("kubernetes: unknown option '{key}'; known: {}", KUBERNETES_OPTIONS.join(", "))));
        }
    }
    let bad = |m: String| PyValueError::new_err(format!("kubernetes: {m}"));
    let mut c = KubernetesConfig::default();
    c.namespace = opt(k, "namespace")?;
    if let Some(image) = opt(k, "image")? {
        c.image = image;
    }
    c.image_pull_policy = opt(k, "image_pull_policy")?;
    if let Some(gpus) = opt(k, "gpus")? {
        c.gpus = gpus;
    }
    if let Some(resource) = opt(k, "gpu_resource")? {
        c.gpu_resource = resource;
    }
    c.cpu = opt(k, "cpu")?;
    c.memory = opt(k, "memory")?;
    if let Some(labels) = opt::<std::collections::BTreeMap<String, String>>(k, "node_selector")? {
        c.node_selector = labels;
    }
    if let Some(tolerations) = opt::<Vec<String>>(k, "tolerations")? {
        c.tolerations = tolerations.iter().map(|t| t.parse::<Toleration>()).collect::<Result<_, _>>().map_err(bad)?;
    }
    c.priority_class = opt(k, "priority_class")?;
    c.service_account = opt(k, "service_account")?;
    if let Some(n) = opt(k, "backoff_limit")? {
        c.backoff_limit = n;
    }
    if let Some(s) = opt(k, "job_ttl")? {
        c.ttl_after_finished_s = s;
    }
    if let Some(s) = opt(k, "startup_allowance")? {
        c.startup_allowance_s = s;
    }
    if let Some(s) = opt(k, "unschedulable_timeout")? {
        c.unschedulable_timeout_s = s;
    }
    let (pvc, path, url) = (opt::<String>(k, "data_pvc")?, opt::<String>(k, "data_path")?, opt::<String>(k, "data_url")?);
    c.data = DataSource::from_options(pvc.as_deref(), path.as_deref(), url.as_deref(), data).map_err(bad)?;
    if let Some(keep) = opt(k, "keep_jobs")? {
        c.keep_jobs = keep;
    }
    Ok(c)
}

/// Runs an experiment. `data` is a frame with `__arrow_c_stream__` (named `source` in
/// messages) or a CSV path; `progress(kind, payload)` is called on this thread with
/// `("profile", json)`, `("trial", (json, best, elapsed))` and `("refit", learner)`.
///
/// Returns `(model, summary_json, trials_json, timeline, interrupted)`; `timeline` holds
/// `(trial id, seconds since start)` in finishing order.
#[pyfunction]
#[pyo3(signature = (data, target, source, options, progress=None))]
#[allow(clippy::type_complexity)]
pub fn fit(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    target: String,
    source: String,
    options: &Bound<'_, PyDict>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Model, String, String, Vec<(u64, f64)>, bool)> {
    let (path, frame) = load(data, &source)?;
    let mut cfg = config(path, &target, options)?;
    cfg.frame = frame.map(std::sync::Arc::new);
    let token = CancelToken::new();
    cfg.cancel = Some(token.clone());
    let experiment = Experiment::new(cfg).map_err(|e| to_py(py, e))?;

    let (tx, rx) = mpsc::channel();
    // Behind a mutex only to be shareable with the GIL released; one thread uses it.
    let rx = std::sync::Mutex::new(rx);
    let worker = std::thread::Builder::new()
        .name("automl-fit".into())
        .spawn(move || experiment.into_run_with(&mut Forward(tx)))
        .map_err(|e| exception(py, "AutoMLError", format!("cannot start the run: {e}")))?;
    let mut interrupted = false;
    let mut callback_error: Option<PyErr> = None;
    let mut timeline = Vec::new();
    loop {
        let event = py.detach(|| rx.lock().unwrap_or_else(|p| p.into_inner()).recv_timeout(Duration::from_millis(100)));
        match event {
            Ok(event) => {
                let sent = match event {
                    Event::Profile(json) => ("profile", json.into_pyobject(py)?.into_any()),
                    Event::Trial { trial, best, elapsed } => {
                        let id = serde_json::from_str::<serde_json::Value>(&trial).ok().and_then(|v| v["trial"].as_u64()).unwrap_or(0);
                        timeline.push((id, elapsed));
                        ("trial", (trial, best, elapsed).into_pyobject(py)?.into_any())
                    }
                    Event::Refit(learner) => ("refit", learner.into_pyobject(py)?.into_any()),
                };
                if let (Some(cb), None) = (&progress, &callback_error) {
                    if let Err(e) = cb.call1(py, sent) {
                        // A broken progress display must not lose the run: stop it early
                        // and raise the display's error once the model is kept.
                        token.cancel();
                        callback_error = Some(e);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Err(e) = py.check_signals() {
            if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                interrupted = true;
                token.cancel();
            } else {
                token.cancel();
                callback_error.get_or_insert(e);
            }
        }
    }
    let result = py
        .detach(|| worker.join())
        .map_err(|_| exception(py, "AutoMLError", "the run panicked; please report this with the data's shape".into()))?
        .map_err(|e| to_py(py, e))?;
    if let Some(e) = callback_error {
        return Err(e);
    }
    let summary = report::summary_json(&result).to_string();
    let trials = serde_json::Value::Array(result.leaderboard.iter().map(report::trial_json).collect()).to_string();
    Ok((Model::new(result.artifact), summary, trials, timeline, interrupted))
}

/// Profiles `data` (a frame or a CSV path) as `automl profile` does; returns the profile
/// as JSON.
#[pyfunction]
#[pyo3(signature = (data, source, target=None, task="auto"))]
pub fn profile(py: Python<'_>, data: &Bound<'_, PyAny>, source: String, target: Option<String>, task: &str) -> PyResult<String> {
    let choice = task.parse::<TaskChoice>().map_err(|e| PyValueError::new_err(format!("task: {e}")))?;
    let (path, frame) = load(data, &source)?;
    let table = match frame {
        Some(t) => t,
        None => {
            let options = CsvOptions { text_columns: target.iter().cloned().collect(), ..CsvOptions::default() };
            py.detach(|| read_csv(&path, &options)).map_err(|e| to_py(py, e.into()))?
        }
    };
    let (p, _) = py
        .detach(|| automl::core::profile::profile(&path, &table, target.as_deref(), choice))
        .map_err(|e| to_py(py, e.into()))?;
    serde_json::to_string(&p).map_err(|e| exception(py, "AutoMLError", e.to_string()))
}

/// The learners: `(name, description, tasks)`.
#[pyfunction]
pub fn learners() -> Vec<(String, String, Vec<String>)> {
    use automl::core::task::Task;
    all_learners()
        .iter()
        .map(|l| {
            let tasks = [Task::Binary, Task::Multiclass, Task::Regression].into_iter().filter(|t| l.supports(*t)).map(|t| t.to_string()).collect();
            (l.name().to_string(), l.description().to_string(), tasks)
        })
        .collect()
}

/// The built-in metrics: `(name, higher_is_better)`.
#[pyfunction]
pub fn metrics() -> Vec<(String, bool)> {
    BuiltinMetric::ALL.iter().map(|m| (m.name().to_string(), matches!(m.direction(), automl::core::metrics::Direction::Maximize))).collect()
}
