//! The model artifact: one file (`model.automl`) with the schema, preprocessing, model,
//! metric, seed, versions and a hash of the training data.
use std::io::Write;
use std::path::Path;

use automl_core::data::{read_csv, CsvOptions, Table};
use automl_core::learners::FittedModel;
use automl_core::metrics::Prediction;
use automl_core::preprocess::{InputColumn, Pipeline};
use automl_core::profile::ColumnKind;
use automl_core::space::Hyperparams;
use automl_core::task::Task;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::plugins::{PluginHost, StoredPreprocessor};

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"AUTOML\x00M";
/// Version of the file layout; bumped on any incompatible change (3: a SHA-256 of the
/// payload follows the version).
pub const FORMAT_VERSION: u32 = 3;

/// Bytes before the payload: magic, version, the payload's SHA-256.
const HEADER: usize = 8 + 4 + 32;

/// Everything `predict` needs, in one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Version of the crate that wrote the file.
    pub crate_version: String,
    /// Seconds since the Unix epoch at writing.
    pub created_unix: u64,
    /// Target column name; predictions are written under it.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Class labels, exactly as in the training data (classification).
    pub labels: Vec<String>,
    /// Extra missing-value markers used at training.
    pub na_values: Vec<String>,
    /// Preprocessing plugins, fitted, with their components: replayed before `pipeline`.
    pub preprocessors: Vec<StoredPreprocessor>,
    /// Fitted preprocessing.
    pub pipeline: Pipeline,
    /// Fitted model.
    pub model: FittedModel,
    /// Learner name.
    pub learner: String,
    /// Its hyperparameters.
    pub config: Hyperparams,
    /// Objective metric.
    pub metric: String,
    /// Validation score of the chosen configuration.
    pub validation_score: f64,
    /// Experiment seed.
    pub seed: u64,
    /// SHA-256 of the training file.
    pub data_sha256: String,
    /// Training rows used (with a target).
    pub rows: usize,
}

impl ModelArtifact {
    /// Writes the artifact to `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let body = postcard::to_stdvec(self).map_err(|e| Error::Model { path: path.to_path_buf(), message: format!("cannot encode the model: {e}") })?;
        let tmp = path.with_extension("automl.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&FORMAT_VERSION.to_le_bytes())?;
            f.write_all(&Sha256::digest(&body))?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| Error::io(path, e))
    }

    /// Reads an artifact, refusing files that are not ours, of another format version, or
    /// damaged (the payload's SHA-256 is checked before anything is decoded).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |message: String| Error::Model { path: path.to_path_buf(), message };
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(bad("not an automl model file (expected the model.automl written by `automl run`)".into()));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "model format version {version}, but this automl ({}) reads version {FORMAT_VERSION}; retrain the model with this version or use the automl that wrote it",
                env!("CARGO_PKG_VERSION")
            )));
        }
        if bytes.len() < HEADER || Sha256::digest(&bytes[HEADER..]).as_slice() != &bytes[12..HEADER] {
            return Err(bad("the model file is damaged (its checksum does not match its contents); restore it from a copy or retrain the model".into()));
        }
        postcard::from_bytes(&bytes[HEADER..]).map_err(|e| bad(format!("damaged or incompatible model file ({e}); retrain the model")))
    }

    /// Feature importance of a boosted model, most gain first: (column after
    /// preprocessing, total split gain, number of splits). Empty for other learners.
    pub fn feature_importance(&self) -> Vec<(String, f64, u64)> {
        let FittedModel::Gbdt(m) = &self.model else { return Vec::new() };
        let b = &m.booster;
        let mut v: Vec<(String, f64, u64)> = self
            .pipeline
            .output_names()
            .iter()
            .zip(b.importance_gain.iter().zip(&b.importance_split))
            .map(|(name, (&gain, &splits))| (name.clone(), gain, splits))
            .filter(|(_, _, splits)| *splits > 0)
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    /// Columns the model reads.
    pub fn inputs(&self) -> &[InputColumn] {
        self.pipeline.inputs()
    }

    /// Reads `csv` and predicts every row, in input order. The target column, when
    /// present, is ignored; missing input columns are reported all at once.
    pub fn predict_csv(&self, csv: &Path) -> Result<Prediction> {
        let text_columns = self
            .inputs()
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Categorical | ColumnKind::Text | ColumnKind::Boolean))
            .map(|c| c.name.clone())
            .collect();
        let options = CsvOptions { na_values: self.na_values.clone(), text_columns, ..CsvOptions::default() };
        let table = read_csv(csv, &options)?;
        self.predict_table(&table, &csv.display().to_string())
    }

    /// Predicts every row of an in-memory table (columns by name, extra columns ignored);
    /// `source` names the data in error messages.
    pub fn predict_table(&self, table: &Table, source: &str) -> Result<Prediction> {
        let missing: Vec<&str> = self.inputs().iter().filter(|c| !table.names.contains(&c.name)).map(|c| c.name.as_str()).collect();
        if !missing.is_empty() {
            return Err(Error::Core(automl_core::Error::Data(format!(
                "{source}: missing column{} {} that the model needs; add {} (empty values are allowed)",
                if missing.len() > 1 { "s" } else { "" },
                missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", "),
                if missing.len() > 1 { "them" } else { "it" }
            ))));
        }
        let replayed;
        let table = if self.preprocessors.is_empty() {
            table
        } else {
            let host = PluginHost::shared()?;
            let mut current: Option<Table> = None;
            for p in &self.preprocessors {
                current = Some(p.replay(&host, current.as_ref().unwrap_or(table))?);
            }
            replayed = current.unwrap_or_else(|| table.clone());
            &replayed
        };
        let x = self.pipeline.transform(table, None).map_err(|e| match e {
            automl_core::Error::ColumnType { column, message } => automl_core::Error::ColumnType { column, message: format!("{message} (in {source})") },
            other => other,
        })?;
        Ok(self.model.predict(x.view())?)
    }
}

/// Writes predictions as CSV: one column named like the target, or with `proba` one column
/// per class label.
pub fn write_predictions(artifact: &ModelArtifact, prediction: &Prediction, proba: bool, out: &mut dyn Write) -> std::io::Result<()> {
    match prediction {
        Prediction::Classes(p) if proba => {
            writeln!(out, "{}", artifact.labels.iter().map(|l| csv_field(l)).collect::<Vec<_>>().join(","))?;
            for row in p.rows() {
                writeln!(out, "{}", row.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))?;
            }
        }
        Prediction::Classes(_) => {
            writeln!(out, "{}", csv_field(&artifact.target))?;
            for c in prediction.classes() {
                writeln!(out, "{}", csv_field(&artifact.labels[c]))?;
            }
        }
        Prediction::Values(v) => {
            writeln!(out, "{}", csv_field(&artifact.target))?;
            for x in v {
                writeln!(out, "{x}")?;
            }
        }
    }
    out.flush()
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') || s.is_empty() {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
