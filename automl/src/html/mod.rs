//! The run report: one self-contained HTML file (`DIR/report.html`) made from what a run
//! folder holds, so `automl run` writes it at the end and `automl report DIR` rebuilds it
//! from a finished or running folder alike.
//!
//! - [`RunFolder`] reads the folder: the journal (trials and when each ended), the
//!   profile, the summary, the model and the validation predictions, each optional (a
//!   running run has no model yet).
//! - [`page`] renders it; [`svg`] draws the charts. Nothing is fetched when the file is
//!   opened: styles, data and the small sorting script are inline.
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::artifact::ModelArtifact;
use crate::error::{Error, Result};
use crate::journal::JournalState;
use crate::trial::TrialResult;

pub mod page;
pub mod svg;

/// File name of the report inside the output folder.
pub const REPORT_FILE: &str = "report.html";
/// File name of the model's validation predictions inside the output folder.
pub const VALIDATION_FILE: &str = "validation.json";
/// Most validation rows kept in [`VALIDATION_FILE`] (every n-th row beyond).
pub const VALIDATION_ROWS: usize = 20_000;

/// What a run folder holds, for the report.
pub struct RunFolder<'a> {
    /// The folder.
    pub dir: PathBuf,
    /// The journal, folded (trials, settings, whether the search ended).
    pub journal: JournalState,
    /// `profile.json`, when written.
    pub profile: Option<Value>,
    /// `summary.json`, when the run finished.
    pub summary: Option<Value>,
    /// `model.automl`, when the run finished (the runner's own, not read again, when it
    /// writes the report).
    pub model: Option<std::borrow::Cow<'a, ModelArtifact>>,
    /// `validation.json`: the model's predictions of the validation rows.
    pub validation: Option<Validation>,
    /// What could not be read, for the report to say.
    pub problems: Vec<String>,
}

/// The model's predictions of the validation rows (out-of-fold under k-fold CV).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Validation {
    /// Class labels (classification), else empty.
    pub labels: Vec<String>,
    /// The true class index (classification) or value, per row.
    pub truth: Vec<f64>,
    /// Class probabilities per row (classification), else empty.
    pub probabilities: Vec<Vec<f64>>,
    /// Predicted values per row (regression), else empty.
    pub values: Vec<f64>,
    /// Where the predictions come from, for the report's caption.
    pub source: String,
    /// Rows the model was validated on (more than `truth` holds when thinned).
    pub rows: usize,
    /// What the model relies on, when the run measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance: Option<Importances>,
}

/// Feature importance for the report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Importances {
    /// Mean |TreeSHAP contribution| of the model's tree configurations.
    pub shap: Option<ShapImportance>,
    /// Permutation importance on validation rows.
    pub permutation: Option<PermutationImportance>,
    /// Why a kind is missing.
    pub notes: Vec<String>,
}

/// Mean absolute TreeSHAP contributions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShapImportance {
    /// The trials explained (the whole model, or its largest tree configuration).
    pub trials: Vec<u64>,
    /// Whether that is the whole model.
    pub whole_model: bool,
    /// What the contributions are in: value, margin or probability.
    pub space: String,
    /// Training rows explained.
    pub rows: usize,
    /// Per column, most important first.
    pub columns: Vec<crate::explain::Importance>,
}

/// Score lost when a column is shuffled among validation rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PermutationImportance {
    /// The metric.
    pub metric: String,
    /// Its score on the rows as given.
    pub score: f64,
    /// Validation rows used.
    pub rows: usize,
    /// Shuffles per column.
    pub repeats: usize,
    /// Per column, most important first.
    pub columns: Vec<crate::explain::Importance>,
}

impl<'a> RunFolder<'a> {
    /// Reads `dir`; only the journal is required.
    pub fn read(dir: &Path) -> Result<Self> {
        Self::read_with(dir, None)
    }

    /// Reads `dir`, with `model` standing for its `model.automl` when given.
    pub fn read_with(dir: &Path, model: Option<&'a ModelArtifact>) -> Result<Self> {
        let journal = crate::journal::read(dir)?;
        let mut problems = Vec::new();
        let mut json = |name: &str| -> Option<Value> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).ok()?;
            serde_json::from_str(&text).map_err(|e| problems.push(format!("{}: {e}", path.display()))).ok()
        };
        let profile = json("profile.json");
        let summary = json("summary.json");
        let validation = json(VALIDATION_FILE).and_then(|v| serde_json::from_value(v).map_err(|e| problems.push(format!("{VALIDATION_FILE}: {e}"))).ok());
        let model_path = dir.join("model.automl");
        let model = match (model, model_path.exists()) {
            (Some(m), _) => Some(std::borrow::Cow::Borrowed(m)),
            (None, true) => ModelArtifact::load(&model_path).map_err(|e| problems.push(e.to_string())).ok().map(std::borrow::Cow::Owned),
            (None, false) => None,
        };
        Ok(RunFolder { dir: dir.to_path_buf(), journal, profile, summary, model, validation, problems })
    }

    /// Finished trials with the search seconds when each ended, in that order.
    pub fn trials(&self) -> Vec<(f64, &TrialResult)> {
        let mut out: Vec<(f64, &TrialResult)> = self.journal.trials.iter().filter_map(|t| t.3.as_ref()).map(|r| (self.journal.finished_s.get(&r.id).copied().unwrap_or(0.0), r)).collect();
        out.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        out
    }

    /// Trials suggested but not finished (running, or lost with a crash).
    pub fn unfinished(&self) -> Vec<(u64, &str)> {
        self.journal.trials.iter().filter(|t| t.3.is_none()).map(|t| (t.0, t.1.learner.as_str())).collect()
    }

    /// The metric's name and whether higher is better, from the summary or the settings.
    pub fn metric(&self) -> (String, bool) {
        let from = |v: &Value| v.get("metric").and_then(Value::as_str).map(str::to_string);
        let name = self.summary.as_ref().and_then(from).or_else(|| self.model.as_ref().map(|m| m.metric.clone())).or_else(|| from(&self.journal.config)).unwrap_or_else(|| "score".into());
        let direction = self.summary.as_ref().and_then(|s| s.get("direction")).and_then(Value::as_str).map(str::to_string);
        let higher = match direction.as_deref() {
            Some(d) => d.eq_ignore_ascii_case("maximize"),
            None => !matches!(name.as_str(), "log_loss" | "rmse" | "mae"),
        };
        (name, higher)
    }
}

/// Reads `dir` and writes its report there; returns the file's path.
pub fn write(dir: &Path) -> Result<PathBuf> {
    write_with(dir, None)
}

/// [`write`], with `model` standing for the folder's `model.automl` when given.
pub fn write_with(dir: &Path, model: Option<&ModelArtifact>) -> Result<PathBuf> {
    let folder = RunFolder::read_with(dir, model)?;
    let html = page::render(&folder);
    let path = dir.join(REPORT_FILE);
    crate::util::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// The validation predictions of a model whose out-of-fold predictions are `prediction`
/// of `truth`, thinned to [`VALIDATION_ROWS`].
pub fn validation(truth: &automl_core::task::Target, prediction: &automl_core::metrics::Prediction, source: &str) -> Option<Validation> {
    use automl_core::metrics::Prediction;
    use automl_core::task::Target;
    let rows = truth.len();
    let step = rows.div_ceil(VALIDATION_ROWS).max(1);
    let keep = |i: &usize| i % step == 0;
    let (labels, truth_values) = match truth {
        Target::Classes { labels, codes } => (labels.clone(), codes.iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, &c)| c as f64).collect()),
        Target::Values(v) => (Vec::new(), v.iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, &x)| x).collect()),
    };
    let (probabilities, values) = match prediction {
        Prediction::Classes(p) if p.nrows() == rows => (p.outer_iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, r)| r.to_vec()).collect(), Vec::new()),
        Prediction::Values(v) if v.len() == rows => (Vec::new(), v.iter().enumerate().filter(|(i, _)| keep(i)).map(|(_, &x)| x).collect()),
        _ => return None,
    };
    Some(Validation { labels, truth: truth_values, probabilities, values, source: source.to_string(), rows, importance: None })
}

/// Writes the report of `dir` (whose model is `model`), or says why it could not (the
/// run's results stand).
pub fn write_or_note(dir: &Path, model: &ModelArtifact, notes: &mut Vec<String>) -> Option<PathBuf> {
    match write_with(dir, Some(model)) {
        Ok(p) => Some(p),
        Err(e) => {
            notes.push(format!("the report was not written: {e}; rebuild it with `automl report {}`", dir.display()));
            None
        }
    }
}

/// An error naming a report that cannot be written.
pub fn not_a_run(dir: &Path) -> Error {
    Error::Config(format!("{}: not a run folder (no journal.jsonl); pass the --out folder of an `automl run`", dir.display()))
}
