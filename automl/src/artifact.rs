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
use crate::util::FrameError;

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"AUTOML\x00M";
/// Version of the file layout; bumped on any incompatible change (3: a SHA-256 of the
/// payload follows the version; 4: the model is a list of weighted members, each with
/// its preprocessing, and no write time, so the same run writes the same bytes; 5: a
/// member says which validation split fitted it, for bagged models; 7: a member's class
/// probabilities may be sharpened by a power).
pub const FORMAT_VERSION: u32 = 7;

/// Bytes before the payload: magic, version, the payload's SHA-256.
const HEADER: usize = crate::util::FRAME_HEADER;

/// Most members a model file may have (an ensemble has at most
/// [`ROUNDS`](crate::ensemble::ROUNDS) configurations, each bagged over at most as many
/// split models as `--cv` allows in practice).
const MAX_MEMBERS: usize = 1024;

/// Everything `predict` needs, in one file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Version of the crate that wrote the file.
    pub crate_version: String,
    /// Target column name; predictions are written under it.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Class labels, exactly as in the training data (classification).
    pub labels: Vec<String>,
    /// Extra missing-value markers used at training.
    pub na_values: Vec<String>,
    /// Preprocessing plugins, fitted, with their components: replayed before the pipelines.
    pub preprocessors: Vec<StoredPreprocessor>,
    /// Fitted preprocessing, one per input encoding the members use.
    pub pipelines: Vec<Pipeline>,
    /// The model: one member, or the members of a weighted ensemble, largest weight first;
    /// the weights sum to 1 and predictions are their weighted average.
    pub members: Vec<Member>,
    /// The best trial of the search: the model, or an ensemble's best-ranked candidate.
    pub best: BestTrial,
    /// Objective metric.
    pub metric: String,
    /// Validation score of the model (for an ensemble, on the out-of-fold predictions).
    pub validation_score: f64,
    /// Experiment seed.
    pub seed: u64,
    /// SHA-256 of the training file.
    pub data_sha256: String,
    /// Training rows used (with a target).
    pub rows: usize,
}

/// The best trial of a search, as the model file remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestTrial {
    /// Trial number.
    pub trial: u64,
    /// Learner name.
    pub learner: String,
    /// Its hyperparameters.
    pub config: Hyperparams,
    /// Its validation score.
    pub score: f64,
}

/// One fitted configuration of a model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// The trial whose configuration it is.
    pub trial: u64,
    /// Learner name.
    pub learner: String,
    /// Its hyperparameters.
    pub config: Hyperparams,
    /// Its weight in the model's average.
    pub weight: f64,
    /// Power its class probabilities are raised to (and renormalised) before the average,
    /// fitted on its trial's out-of-fold predictions ([`automl_core::calibrate`]); 1 for
    /// values and for probabilities left as they are.
    pub sharpen: f64,
    /// Which of the artifact's pipelines makes its inputs.
    pub pipeline: usize,
    /// The validation split whose training rows fitted it (a bagged configuration has one
    /// member per split); `None` when it was refit on all rows.
    pub fold: Option<usize>,
    /// The fitted model.
    pub model: FittedModel,
}

/// One configuration of a model: its members (one refit, or one per split when bagged).
#[derive(Debug, Clone, Copy)]
pub struct Configuration<'a> {
    /// Its first member (trial, learner, hyperparameters).
    pub first: &'a Member,
    /// Its weight in the model: its members' weights summed.
    pub weight: f64,
    /// How many fitted models it has.
    pub models: usize,
}

/// The configurations `members` are, in member order (see
/// [`ModelArtifact::configurations`]).
pub fn configurations(members: &[Member]) -> Vec<Configuration<'_>> {
    let mut out: Vec<Configuration> = Vec::new();
    for m in members {
        match out.iter_mut().find(|c| c.first.trial == m.trial) {
            Some(c) => {
                c.weight += m.weight;
                c.models += 1;
            }
            None => out.push(Configuration { first: m, weight: m.weight, models: 1 }),
        }
    }
    out
}

impl Configuration<'_> {
    /// `"bag"` for split models averaged, `"refit"` for one model fitted on all rows.
    pub fn fit(&self) -> &'static str {
        if self.first.fold.is_some() {
            "bag"
        } else {
            "refit"
        }
    }
}

impl ModelArtifact {
    /// The model file's bytes: magic, format version, the payload's SHA-256, the payload.
    /// `path` names the file in errors.
    pub fn to_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        let body = postcard::to_stdvec(self).map_err(|e| Error::Model { path: path.to_path_buf(), message: format!("cannot encode the model: {e}") })?;
        let mut bytes = Vec::with_capacity(HEADER + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&body));
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }

    /// Writes the artifact to `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes(path)?;
        let tmp = crate::util::temp_beside(path);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().inspect_err(|_| drop(std::fs::remove_file(&tmp))).map_err(|e| Error::io(path, e))
    }

    /// Reads an artifact, refusing files that are not ours, of another format version,
    /// damaged (the payload's SHA-256 is checked before anything is decoded), or whose
    /// decoded parts do not fit together (see [`ModelArtifact::check`]), so nothing later
    /// indexes out of range or loops on a crafted file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// An artifact from the bytes of a model file, checked as [`Self::load`] checks a
    /// file; `path` names them in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Model { path: path.to_path_buf(), message };
        let body = crate::util::frame_payload(bytes, MAGIC, FORMAT_VERSION).map_err(|e| match e {
            FrameError::NotOurs => bad("not an automl model file (expected the model.automl written by `automl run`)".into()),
            FrameError::Version(version) => bad(format!(
                "model format version {version}, but this automl ({}) reads version {FORMAT_VERSION}; retrain the model with this version or use the automl that wrote it",
                env!("CARGO_PKG_VERSION")
            )),
            FrameError::Damaged => bad("the model file is damaged (its checksum does not match its contents); restore it from a copy or retrain the model".into()),
        })?;
        let artifact: Self = postcard::from_bytes(body).map_err(|e| bad(format!("damaged or incompatible model file ({e}); retrain the model")))?;
        artifact.check().map_err(|e| bad(format!("the model file is inconsistent: {e}; retrain the model")))?;
        Ok(artifact)
    }

    /// Checks that the parts fit together: each pipeline and member consistent, members'
    /// weights positive and summing to 1, each member reading as many columns as its
    /// pipeline makes, and the task and class labels matching every member's outputs. The
    /// message names what is inconsistent.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (i, p) in self.pipelines.iter().enumerate() {
            p.check().map_err(|e| if self.pipelines.len() > 1 { format!("preprocessing {i}: {e}") } else { format!("preprocessing: {e}") })?;
        }
        if self.members.is_empty() || self.members.len() > MAX_MEMBERS {
            return Err(format!("{} members (a model has 1 to {MAX_MEMBERS})", self.members.len()));
        }
        let weights: f64 = self.members.iter().map(|m| m.weight).sum();
        if self.members.iter().any(|m| !(m.weight > 0.0 && m.weight <= 1.0)) || (weights - 1.0).abs() > 1e-6 {
            return Err(format!("member weights {:?} are not positive with a sum of 1", self.members.iter().map(|m| m.weight).collect::<Vec<_>>()));
        }
        self.members.iter().try_for_each(|m| self.check_member(m))
    }

    fn check_member(&self, m: &Member) -> std::result::Result<(), String> {
        let pipeline = self.pipelines.get(m.pipeline).ok_or_else(|| format!("trial {} uses preprocessing {} of {}", m.trial, m.pipeline, self.pipelines.len()))?;
        m.model.check().map_err(|e| format!("{} model: {e}", m.learner))?;
        let (low, high) = automl_core::calibrate::POWERS;
        if m.sharpen != 1.0 && !(self.task.is_classification() && (low..=high).contains(&m.sharpen)) {
            return Err(format!("trial {} sharpens its predictions by the power {} (1, or for class probabilities {low} to {high})", m.trial, m.sharpen));
        }
        let width = pipeline.output_names().len();
        if m.model.n_features() != width {
            return Err(format!("the model reads {} columns but the preprocessing makes {width}", m.model.n_features()));
        }
        let labels = self.labels.len();
        match (self.task, m.model.n_classes()) {
            (Task::Regression, None) if labels == 0 => Ok(()),
            (Task::Regression, _) => Err(format!("a regression model file with {labels} class labels or a classifier")),
            (task, None) => Err(format!("a {task} model file with a regression model")),
            (Task::Binary, Some(k)) if k != 2 || labels != 2 => Err(format!("a binary model file with {labels} class labels and a model of {k} classes")),
            (_, Some(k)) if k != labels => Err(format!("{labels} class labels for a model of {k} classes")),
            _ => Ok(()),
        }
    }

    /// The member with the largest weight (the only one of a single model).
    pub fn primary(&self) -> &Member {
        &self.members[0]
    }

    /// The configurations (trials) the members are, in member order: a bagged one is one
    /// however many split models it has.
    pub fn configurations(&self) -> Vec<Configuration<'_>> {
        configurations(&self.members)
    }

    /// The learner's name, or `ensemble` for several configurations.
    pub fn learner(&self) -> &str {
        if self.configurations().len() > 1 {
            "ensemble"
        } else {
            &self.primary().learner
        }
    }

    /// Feature importance of the primary member when it is boosted, most gain first:
    /// (column after preprocessing, total split gain, number of splits). Empty for other
    /// learners.
    pub fn feature_importance(&self) -> Vec<(String, f64, u64)> {
        let primary = self.primary();
        let FittedModel::Gbdt(m) = &primary.model else { return Vec::new() };
        let b = &m.booster;
        let mut v: Vec<(String, f64, u64)> = self.pipelines[primary.pipeline]
            .output_names()
            .iter()
            .zip(b.importance_gain.iter().zip(&b.importance_split))
            .map(|(name, (&gain, &splits))| (name.clone(), gain, splits))
            .filter(|(_, _, splits)| *splits > 0)
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    /// Columns the model reads: those of every member's preprocessing, in the first
    /// one's order.
    pub fn inputs(&self) -> Vec<&InputColumn> {
        let mut columns: Vec<&InputColumn> = Vec::new();
        for c in self.pipelines.iter().flat_map(|p| p.inputs()) {
            if !columns.iter().any(|k| k.name == c.name) {
                columns.push(c);
            }
        }
        columns
    }

    /// The raw columns a table must have: those the first preprocessing plugin was given
    /// at training, or without plugins the pipeline's inputs.
    pub fn raw_inputs(&self) -> Vec<&str> {
        match self.preprocessors.first() {
            Some(first) => first.inputs.iter().map(String::as_str).collect(),
            None => self.inputs().into_iter().map(|c| c.name.as_str()).collect(),
        }
    }

    /// Reads `csv` and predicts every row, in input order. The target column, when
    /// present, is ignored; missing input columns are reported all at once. Stored
    /// preprocessing plugins run with the default sandbox (see [`Self::predict_csv_in`]).
    pub fn predict_csv(&self, csv: &Path) -> Result<Prediction> {
        self.predict_csv_in(csv, None)
    }

    /// [`Self::predict_csv`], with stored preprocessing plugins run in `host` (its time and
    /// memory limits) instead of the default one.
    pub fn predict_csv_in(&self, csv: &Path, host: Option<&PluginHost>) -> Result<Prediction> {
        let table = self.read_csv(csv, false)?;
        self.predict_table_in(&table, &csv.display().to_string(), host)
    }

    /// Reads `csv` as the model reads its data: its missing-value markers, and the
    /// columns that were text at training read as text (and the target, `with_target`).
    pub fn read_csv(&self, csv: &Path, with_target: bool) -> Result<Table> {
        let raw = self.raw_inputs();
        let text_columns = self
            .inputs()
            .into_iter()
            .filter(|c| matches!(c.kind, ColumnKind::Categorical | ColumnKind::Text | ColumnKind::Boolean) && raw.contains(&c.name.as_str()))
            .map(|c| c.name.clone())
            .chain(with_target.then(|| self.target.clone()))
            .collect();
        let options = CsvOptions { na_values: self.na_values.clone(), text_columns, ..CsvOptions::default() };
        Ok(read_csv(csv, &options)?)
    }

    /// Predicts every row of an in-memory table (columns by name, extra columns ignored);
    /// `source` names the data in error messages.
    pub fn predict_table(&self, table: &Table, source: &str) -> Result<Prediction> {
        self.predict_table_in(table, source, None)
    }

    /// [`Self::predict_table`], with stored preprocessing plugins run in `host`.
    pub fn predict_table_in(&self, table: &Table, source: &str, host: Option<&PluginHost>) -> Result<Prediction> {
        let table = self.replay(table, source, host)?;
        let mut parts = self.predict_members(&table, source)?;
        match parts.len() {
            1 => Ok(parts.remove(0).1),
            _ => crate::ensemble::blend(&parts).ok_or_else(|| Error::Model { path: source.into(), message: "the ensemble's members predict in different shapes".into() }),
        }
    }

    /// The table the pipelines read: `table` checked for the raw columns the model needs,
    /// then passed through the stored preprocessing plugins (run in `host`, or the default
    /// sandbox), if any.
    pub fn replay<'t>(&self, table: &'t Table, source: &str, host: Option<&PluginHost>) -> Result<std::borrow::Cow<'t, Table>> {
        missing_columns(table, &self.raw_inputs(), source, "that the model needs; add {} (empty values are allowed)")?;
        if self.preprocessors.is_empty() {
            Ok(std::borrow::Cow::Borrowed(table))
        } else {
            let shared;
            let host = match host {
                Some(host) => host,
                None => {
                    shared = PluginHost::shared()?;
                    &shared
                }
            };
            let mut current: Option<Table> = None;
            for p in &self.preprocessors {
                current = Some(p.replay(host, current.as_ref().unwrap_or(table))?);
            }
            let replayed = current.unwrap_or_else(|| table.clone());
            let names: Vec<&str> = self.inputs().into_iter().map(|c| c.name.as_str()).collect();
            missing_columns(&replayed, &names, source, "after the model's preprocessing plugins, which returned them at training")?;
            Ok(std::borrow::Cow::Owned(replayed))
        }
    }

    /// Every member's prediction with its weight, in member order. The pipelines the
    /// members use transform the table once each, and members predict on as many threads
    /// as there are cores (a bagged model has k members per configuration); the result
    /// does not depend on the threads.
    fn predict_members(&self, table: &Table, source: &str) -> Result<Vec<(f64, Prediction)>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(self.members.len()).max(1);
        let mut used: Vec<usize> = self.members.iter().map(|m| m.pipeline).collect();
        used.sort_unstable();
        used.dedup();
        let designs: Vec<(usize, ndarray::Array2<f64>)> = parallel(&used, threads, source, |&i| self.transform(i, table, source).map(|x| (i, x)))?;
        let design = |i: usize| designs.iter().find(|(j, _)| *j == i).map(|(_, x)| x);
        parallel(&self.members, threads, source, |m| {
            let x = design(m.pipeline).ok_or_else(|| Error::Model { path: source.into(), message: format!("member of trial {} has no preprocessing", m.trial) })?;
            Ok((m.weight, automl_core::calibrate::sharpen_prediction(m.model.predict(x.view())?, m.sharpen)))
        })
    }

    /// Pipeline `pipeline`'s design matrix of every row of `table`.
    pub fn transform(&self, pipeline: usize, table: &Table, source: &str) -> Result<ndarray::Array2<f64>> {
        self.pipelines[pipeline].transform(table, None).map_err(|e| {
            Error::Core(match e {
                automl_core::Error::ColumnType { column, message } => automl_core::Error::ColumnType { column, message: format!("{message} (in {source})") },
                other => other,
            })
        })
    }
}

/// `f` of every item, in order, on up to `threads` threads (contiguous chunks); the
/// first error in item order is returned (`source` names the data if a thread panics).
fn parallel<T: Sync, R: Send>(items: &[T], threads: usize, source: &str, f: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    if threads <= 1 || items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    let results: Vec<Result<Vec<R>>> = std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).map(|part| s.spawn(move || part.iter().map(f).collect::<Result<Vec<R>>>())).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(Error::Model { path: source.into(), message: "a member's prediction panicked; please report this with the model file".into() }))).collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// Refuses `table` when it lacks some of `names`, listing them all; `advice` follows the
/// list, with `{}` standing for "it" or "them".
fn missing_columns(table: &Table, names: &[&str], source: &str, advice: &str) -> Result<()> {
    let missing: Vec<&&str> = names.iter().filter(|c| !table.names.iter().any(|n| n == *c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let pronoun = if missing.len() > 1 { "them" } else { "it" };
    Err(Error::Core(automl_core::Error::Data(format!(
        "{source}: missing column{} {} {}",
        if missing.len() > 1 { "s" } else { "" },
        missing.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", "),
        advice.replace("{}", pronoun)
    ))))
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

#[cfg(test)]
mod tests {
    use super::*;
    use automl_core::data::Column;
    use automl_core::learners::{fit_guarded, learner_by_name, DataShape, FitContext};
    use automl_core::task::Target;

    /// A small model of `learner` fitted through the core API on two numeric columns
    /// (classes follow `a + b`, so trees need several splits), as `automl run` would store it.
    fn fitted(learner: &str, task: Task) -> ModelArtifact {
        let (n, k) = (200, if task == Task::Multiclass { 3 } else { 2 });
        let a: Vec<f64> = (0..n).map(|i| (i % 10) as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64).collect();
        let codes: Vec<usize> = a.iter().zip(&b).map(|(x, y)| (x + y) as usize * k / 21).collect();
        let table = Table { names: vec!["a".into(), "b".into()], columns: vec![Column::Numeric(a), Column::Numeric(b)], n_rows: n };
        let rows: Vec<usize> = (0..n).collect();
        let l = learner_by_name(learner).unwrap();
        let features = [("a".to_string(), ColumnKind::Numeric), ("b".to_string(), ColumnKind::Numeric)];
        let pipeline = Pipeline::fit(&table, &rows, &features, l.encoding()).unwrap();
        let x = pipeline.transform(&table, None).unwrap();
        let labels: Vec<String> = (0..k).map(|c| format!("c{c}")).collect();
        let y = Target::Classes { codes, labels: labels.clone() };
        let config = l.starts(task, DataShape { rows: n, features: x.ncols(), classes: k }).remove(0);
        let mut ctx = FitContext::new(0);
        ctx.categorical = pipeline.categorical();
        let model = fit_guarded(l.as_ref(), &config, x.view(), &y, &mut ctx).unwrap();
        ModelArtifact {
            crate_version: "test".into(),
            target: "y".into(),
            task,
            labels,
            na_values: Vec::new(),
            preprocessors: Vec::new(),
            pipelines: vec![pipeline],
            best: BestTrial { trial: 1, learner: learner.into(), config: config.clone(), score: 1.0 },
            members: vec![Member { trial: 1, learner: learner.into(), config, weight: 1.0, sharpen: 1.0, pipeline: 0, fold: None, model }],
            metric: "accuracy".into(),
            validation_score: 1.0,
            seed: 0,
            data_sha256: String::new(),
            rows: n,
        }
    }

    /// Saves `artifact` (with a valid checksum) and loads it back.
    fn round_trip(artifact: &ModelArtifact) -> Result<ModelArtifact> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.automl");
        artifact.save(&path).unwrap();
        ModelArtifact::load(&path)
    }

    fn assert_refused(artifact: &ModelArtifact, what: &str) {
        let err = round_trip(artifact).expect_err("a crafted model file must be refused");
        let Error::Model { message, .. } = &err else { panic!("not a model error: {err}") };
        assert!(message.starts_with("the model file is inconsistent: ") && message.contains(what) && message.ends_with("; retrain the model"), "{message}");
    }

    fn first_booster_tree(artifact: &mut ModelArtifact) -> &mut automl_core::gbdt::Tree {
        let FittedModel::Gbdt(m) = &mut artifact.members[0].model else { panic!("not a boosted model") };
        m.booster.trees.iter_mut().flatten().find(|t| t.nodes.len() >= 2).expect("a tree with two splits")
    }

    #[test]
    fn valid_model_files_load_and_predict() {
        for (learner, task) in [("gbdt", Task::Binary), ("gbdt", Task::Multiclass), ("logistic", Task::Binary), ("logistic", Task::Multiclass)] {
            let artifact = fitted(learner, task);
            let loaded = round_trip(&artifact).unwrap_or_else(|e| panic!("{learner} {task}: {e}"));
            let table = Table { names: vec!["a".into(), "b".into()], columns: vec![Column::Numeric(vec![1.0, 9.0]), Column::Numeric(vec![0.0, 3.0])], n_rows: 2 };
            assert_eq!(loaded.predict_table(&table, "test").unwrap().classes().len(), 2);
        }
    }

    #[test]
    fn a_boosted_tree_node_pointing_at_itself_is_refused_on_load_instead_of_looping() {
        let mut artifact = fitted("gbdt", Task::Binary);
        first_booster_tree(&mut artifact).nodes[0].left = 0;
        assert_refused(&artifact, "node 0: left child is node 0, not a later node");
    }

    #[test]
    fn a_boosted_tree_cycle_through_an_earlier_node_is_refused_on_load() {
        let mut artifact = fitted("gbdt", Task::Multiclass);
        first_booster_tree(&mut artifact).nodes[1].right = 0;
        assert_refused(&artifact, "node 1: right child is node 0, not a later node");
    }

    #[test]
    fn a_boosted_split_on_a_feature_past_the_inputs_is_refused_on_load() {
        let mut artifact = fitted("gbdt", Task::Binary);
        first_booster_tree(&mut artifact).nodes[0].feature = 2;
        assert_refused(&artifact, "splits on feature 2 of 2");
    }

    #[test]
    fn a_label_list_one_too_short_is_refused_on_load() {
        let mut artifact = fitted("gbdt", Task::Multiclass);
        artifact.labels.pop();
        assert_refused(&artifact, "2 class labels for a model of 3 classes");
        let mut artifact = fitted("logistic", Task::Binary);
        artifact.labels.pop();
        assert_refused(&artifact, "a binary model file with 1 class labels");
    }

    #[test]
    fn a_scaler_of_the_wrong_length_is_refused_on_load() {
        let mut artifact = fitted("logistic", Task::Binary);
        // The pipeline's fields are private: corrupt it through its serde form.
        let mut pipeline = serde_json::to_value(&artifact.pipelines[0]).unwrap();
        pipeline["scaler"]["mean"].as_array_mut().unwrap().pop();
        artifact.pipelines[0] = serde_json::from_value(pipeline).unwrap();
        assert_refused(&artifact, "preprocessing: a scaler of 1 means and 2 spreads for 2 columns");
    }

    #[test]
    fn a_model_reading_more_columns_than_the_preprocessing_makes_is_refused_on_load() {
        let mut artifact = fitted("gbdt", Task::Binary);
        let mut pipeline = serde_json::to_value(&artifact.pipelines[0]).unwrap();
        for field in ["inputs", "steps", "output_names", "categorical"] {
            pipeline[field].as_array_mut().unwrap().pop();
        }
        artifact.pipelines[0] = serde_json::from_value(pipeline).unwrap();
        assert_refused(&artifact, "the model reads 2 columns but the preprocessing makes 1");
    }

    #[test]
    fn a_sharpened_member_predicts_sharper_probabilities_and_a_bad_power_is_refused() {
        let mut artifact = fitted("logistic", Task::Binary);
        let table = Table { names: vec!["a".into(), "b".into()], columns: vec![Column::Numeric(vec![1.0, 9.0]), Column::Numeric(vec![0.0, 3.0])], n_rows: 2 };
        let Prediction::Classes(plain) = artifact.predict_table(&table, "test").unwrap() else { panic!("not probabilities") };
        artifact.members[0].sharpen = 3.0;
        let Prediction::Classes(sharp) = round_trip(&artifact).unwrap().predict_table(&table, "test").unwrap() else { panic!("not probabilities") };
        for i in 0..2 {
            let (p, s) = (plain.row(i), sharp.row(i));
            assert!((s[0] - 0.5).abs() > (p[0] - 0.5).abs() && (s[0] > 0.5) == (p[0] > 0.5), "{p} -> {s}");
        }
        for power in [0.0, f64::NAN, 50.0] {
            artifact.members[0].sharpen = power;
            assert_refused(&artifact, "sharpens its predictions by the power");
        }
    }
}
