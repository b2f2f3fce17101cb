//! A fitted model: the same `model.automl` artifact the CLI writes and reads. It pickles
//! as the bytes of that file (`to_bytes` / `from_bytes`, checked as a file is), so joblib,
//! multiprocessing and `pickle.dump` carry the same format as `save` / `load`.
use std::path::{Path, PathBuf};

use automl::core::metrics::Prediction;
use automl::ModelArtifact;
use numpy::{IntoPyArray, PyArray1, PyArray2};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;
use crate::frame::table_from_arrow;

/// A fitted model (pipeline + learner), as stored in `model.automl`.
#[pyclass(module = "automl._automl", frozen)]
pub struct Model {
    artifact: ModelArtifact,
}

impl Model {
    pub fn new(artifact: ModelArtifact) -> Self {
        Model { artifact }
    }
}

/// What the bytes are called in errors.
const BYTES: &str = "model bytes";

#[pymethods]
impl Model {
    /// Reads a model file written by `automl run` or `AutoML.save`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Model> {
        py.detach(|| ModelArtifact::load(&path)).map(Model::new).map_err(|e| to_py(py, e))
    }

    /// Writes the model file (atomically).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.artifact.save(&path)).map_err(|e| to_py(py, e))
    }

    /// The model file's bytes: what `save` writes (format, version and checksum included).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.artifact.to_bytes(Path::new(BYTES))).map_err(|e| to_py(py, e))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// A model from the bytes of a model file, checked as `load` checks a file.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: Vec<u8>) -> PyResult<Model> {
        py.detach(|| ModelArtifact::from_bytes(&data, Path::new(BYTES))).map(Model::new).map_err(|e| to_py(py, e))
    }

    /// Pickling (joblib, multiprocessing, `copy.deepcopy`): the model file's bytes.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let from_bytes = py.get_type::<Model>().getattr("from_bytes")?;
        Ok((from_bytes, (slf.get().to_bytes(py)?,)))
    }

    /// Predicts every row of `frame` (an object with `__arrow_c_stream__`): class
    /// probabilities (rows x classes, columns in `labels` order) for classification, values
    /// for regression.
    fn predict<'py>(&self, py: Python<'py>, frame: &Bound<'py, PyAny>, source: String) -> PyResult<Bound<'py, PyAny>> {
        let table = table_from_arrow(frame, &source)?;
        let prediction = py.detach(|| self.artifact.predict_table(&table, &source)).map_err(|e| to_py(py, e))?;
        Ok(match prediction {
            Prediction::Classes(p) => {
                let array: Bound<'py, PyArray2<f64>> = p.into_pyarray(py);
                array.into_any()
            }
            Prediction::Values(v) => {
                let array: Bound<'py, PyArray1<f64>> = v.into_pyarray(py);
                array.into_any()
            }
        })
    }

    /// "binary", "multiclass" or "regression".
    #[getter]
    fn task(&self) -> String {
        self.artifact.task.to_string()
    }
    /// Target column name.
    #[getter]
    fn target(&self) -> String {
        self.artifact.target.clone()
    }
    /// Class labels as text, exactly as in the training data (empty for regression).
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.artifact.labels.clone()
    }
    /// Input columns the model reads, in training order.
    #[getter]
    fn inputs(&self) -> Vec<String> {
        self.artifact.inputs().iter().map(|c| c.name.clone()).collect()
    }
    /// The chosen learner, or "ensemble" for a weighted ensemble (see ``members``).
    #[getter]
    fn learner(&self) -> String {
        self.artifact.learner().to_string()
    }
    /// Its hyperparameters, as JSON (an ensemble's: its members, each with its trial,
    /// learner, weight and hyperparameters).
    #[getter]
    fn config_json(&self) -> String {
        match self.artifact.configurations().as_slice() {
            [one] => automl::core::space::config_to_json(&one.first.config).to_string(),
            members => serde_json::json!({ "members": members.iter().map(|c| serde_json::json!({
                "trial": c.first.trial, "learner": c.first.learner, "weight": c.weight, "fit": c.fit(),
                "hyperparameters": automl::core::space::config_to_json(&c.first.config),
            })).collect::<Vec<_>>() }).to_string(),
        }
    }
    /// The search's best trial's learner (the model, or an ensemble's best-ranked candidate).
    #[getter]
    fn best_learner(&self) -> String {
        self.artifact.best.learner.clone()
    }
    /// The best trial's hyperparameters, as JSON.
    #[getter]
    fn best_config_json(&self) -> String {
        automl::core::space::config_to_json(&self.artifact.best.config).to_string()
    }
    /// The best trial's validation score.
    #[getter]
    fn best_score(&self) -> f64 {
        self.artifact.best.score
    }
    /// The model's configurations as (trial, learner, weight), largest weight first: one
    /// for a single model (a bagged configuration is one, however many split models).
    #[getter]
    fn members(&self) -> Vec<(u64, String, f64)> {
        self.artifact.configurations().iter().map(|c| (c.first.trial, c.first.learner.clone(), c.weight)).collect()
    }
    /// How each configuration was fitted, in ``members`` order: ``"bag"`` (its split
    /// models averaged) or ``"refit"`` (fitted again on all rows).
    #[getter]
    fn member_fits(&self) -> Vec<&'static str> {
        self.artifact.configurations().iter().map(|c| c.fit()).collect()
    }
    /// Objective metric of the search.
    #[getter]
    fn metric(&self) -> String {
        self.artifact.metric.clone()
    }
    /// Validation score of the chosen configuration.
    #[getter]
    fn validation_score(&self) -> f64 {
        self.artifact.validation_score
    }
    /// Training rows (with a target value).
    #[getter]
    fn rows(&self) -> usize {
        self.artifact.rows
    }
    /// SHA-256 of the training data (file bytes, or the frame's values).
    #[getter]
    fn data_sha256(&self) -> String {
        self.artifact.data_sha256.clone()
    }
    /// Version of the engine that wrote the model.
    #[getter]
    fn engine_version(&self) -> String {
        self.artifact.crate_version.clone()
    }
    /// Feature importance (gain, split count) for tree models; empty for others.
    fn feature_importance(&self) -> Vec<(String, f64, u64)> {
        self.artifact.feature_importance()
    }

    /// TreeSHAP contributions of every row of `frame` (see `automl explain`): the column
    /// names and a rows x columns array, contributions plus base value equal to the raw
    /// prediction; and the mean |contribution| per input column, most important first.
    #[pyo3(signature = (frame, source, trial=None))]
    #[allow(clippy::type_complexity)]
    fn explain<'py>(&self, py: Python<'py>, frame: &Bound<'py, PyAny>, source: String, trial: Option<u64>) -> PyResult<(Vec<String>, Bound<'py, PyArray2<f64>>, Vec<(String, f64)>, String)> {
        let table = table_from_arrow(frame, &source)?;
        let e = py.detach(|| self.artifact.explain_table(&table, &source, trial)).map_err(|e| to_py(py, e))?;
        let importance = e.importance().into_iter().map(|i| (i.column, i.importance)).collect();
        Ok((e.header(), e.table().into_pyarray(py), importance, e.space.name().to_string()))
    }

    /// Permutation importance on the labelled rows of `frame` (which holds the target
    /// column): the metric, its score as given, and (column, mean loss, std) per column.
    fn permutation_importance(&self, py: Python<'_>, frame: &Bound<'_, PyAny>, source: String, repeats: usize, seed: u64) -> PyResult<(String, f64, Vec<(String, f64, f64)>)> {
        use automl::core::metrics::Metric;
        let table = table_from_arrow(frame, &source)?;
        let (metric, score, rows) = py.detach(|| self.artifact.permutation_importance(&table, &source, repeats, seed)).map_err(|e| to_py(py, e))?;
        Ok((metric.name().to_string(), score, rows.into_iter().map(|i| (i.column, i.importance, i.std)).collect()))
    }
}
