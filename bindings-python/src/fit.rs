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
use automl::trial::TrialResult;
use automl::{report, CancelToken, Experiment, Observer, RawOptions};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;

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

/// Runs an experiment. `data` is a frame with `__arrow_c_stream__` (named `source` in
/// messages) or a CSV path; `options` are the keyword arguments as a JSON object, read
/// and checked by the engine (`RawOptions`, as for the CLI); `progress(kind, payload)` is
/// called on this thread with
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
    options: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Model, String, String, Vec<(u64, f64)>, bool)> {
    let (path, frame) = load(data, &source)?;
    let mut options = RawOptions::from_json(options).and_then(|raw| raw.resolve(path, &target)).map_err(|e| to_py(py, e))?;
    options.frame = frame.map(std::sync::Arc::new);
    let token = CancelToken::new();
    options.cancel = Some(token.clone());
    let experiment = Experiment::new(options).map_err(|e| to_py(py, e))?;

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
                    match cb.call1(py, sent) {
                        Ok(_) => {}
                        // Ctrl-C while the display ran is an interrupt like any other.
                        Err(e) if e.is_instance_of::<PyKeyboardInterrupt>(py) => {
                            interrupted = true;
                            token.cancel();
                        }
                        // A broken progress display must not lose the run: stop it early
                        // and raise the display's error once the model is kept.
                        Err(e) => {
                            token.cancel();
                            callback_error = Some(e);
                        }
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
