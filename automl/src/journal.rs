//! The experiment journal (`DIR/journal.jsonl`): every suggestion, dispatch and result,
//! appended as one JSON line and synced to disk before the runner acts on it, so that
//! `automl resume DIR` can pick up after a crash or `kill -9` with nothing finished lost
//! and nothing dispatched twice.
//!
//! An append-only file is the embedded store: a torn last line (the process died while
//! writing it) is ignored on reading, and every earlier line was synced.
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::search::Suggestion;
use crate::trial::TrialResult;

/// Version of the journal format (2: options with `executor` and `kubernetes` as separate
/// fields, custom trials in the `trials.jsonl` schema of built-in ones; 3: `elapsed`
/// entries).
pub const JOURNAL_VERSION: u32 = 3;
/// The oldest journal version this automl resumes (3 added `elapsed` entries).
const OLDEST_VERSION: u32 = 2;

/// File name of the journal inside the output folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Entry {
    /// The experiment began: its id and settings.
    Start {
        /// Journal format version.
        version: u32,
        /// Experiment id (labels its Jobs).
        experiment: String,
        /// The settings, to resume with.
        config: serde_json::Value,
    },
    /// A run (the first, or a resumed one) began.
    Session {
        /// Seconds of search spent before this session.
        spent_s: f64,
    },
    /// A configuration was chosen for a trial (written before it is dispatched).
    Suggested {
        /// Trial number.
        trial: u64,
        /// Learner and hyperparameters.
        suggestion: Suggestion,
    },
    /// The trial's Job was created (or found) on the cluster.
    Dispatched {
        /// Trial number.
        trial: u64,
        /// Job name.
        job: String,
    },
    /// The trial ended.
    Finished {
        /// Its result.
        result: TrialResult,
        /// Seconds of search spent when it was recorded, earlier sessions included.
        elapsed_s: f64,
    },
    /// Seconds of search spent so far, earlier sessions included: written as the run goes
    /// (each dispatch, and every few seconds while trials run), so that a run killed
    /// between two finished trials resumes with the time it really spent.
    Elapsed {
        /// Seconds of search spent.
        elapsed_s: f64,
    },
    /// The search ended.
    Ended {
        /// Why.
        stop_reason: String,
    },
}

/// Appends entries, syncing each.
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Creates (truncating) the journal in `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let path = dir.join(JOURNAL_FILE);
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Journal { path, file })
    }

    /// Opens the journal in `dir` for appending (after [`read`]), first repairing a tail
    /// torn by a crash: a last entry cut short is cut off, one whose line break was lost
    /// gets it, so the next entry starts on a line of its own.
    pub fn append(dir: &Path) -> Result<Self> {
        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new().read(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        repair_tail(&mut file).map_err(|e| Error::io(&path, e))?;
        Ok(Journal { path, file })
    }

    /// Writes `entry` and syncs it to disk.
    pub fn write(&mut self, entry: &Entry) -> Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(|e| Error::Serialize { what: "a journal entry as JSON".into(), source: Box::new(e) })?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(|e| Error::io(&self.path, e))?;
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Makes the file end with a complete entry and a line break (see [`Journal::append`]).
fn repair_tail(file: &mut File) -> std::io::Result<()> {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    file.seek(std::io::SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let last_start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if serde_json::from_slice::<Entry>(&bytes[last_start..]).is_ok() {
        file.write_all(b"\n")?;
    } else {
        file.set_len(last_start as u64)?;
    }
    file.sync_data()
}

/// What a journal holds, folded.
#[derive(Debug, Clone)]
pub struct JournalState {
    /// Experiment id.
    pub experiment: String,
    /// The settings it was started with.
    pub config: serde_json::Value,
    /// Trials in order of suggestion: suggestion, Job (if dispatched), result (if finished).
    pub trials: Vec<(u64, Suggestion, Option<String>, Option<TrialResult>)>,
    /// Seconds of search spent so far.
    pub spent_s: f64,
    /// Whether the search had ended.
    pub ended: bool,
    /// A damaged last line was ignored.
    pub torn_tail: bool,
    /// Seconds of search spent when each trial's result was recorded, by trial.
    pub finished_s: std::collections::BTreeMap<u64, f64>,
}

/// Reads the journal in `dir`.
pub fn read(dir: &Path) -> Result<JournalState> {
    let path = dir.join(JOURNAL_FILE);
    let file = File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Config(format!("{}: no experiment journal here; `automl resume` needs the --out folder of an `automl run`", dir.display()))
        } else {
            Error::io(&path, e)
        }
    })?;
    // Bytes, not text: a crash may tear the last line inside a UTF-8 character.
    let mut bytes = Vec::new();
    BufReader::new(file).read_to_end(&mut bytes).map_err(|e| Error::io(&path, e))?;
    let lines: Vec<&[u8]> = bytes.strip_suffix(b"\n").unwrap_or(&bytes).split(|&b| b == b'\n').collect();
    let mut state: Option<JournalState> = None;
    let n = lines.len();
    let mut torn_tail = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let entry: Entry = match serde_json::from_slice(line) {
            Ok(e) => e,
            // Only the last line can be torn by a crash; anything earlier is damage.
            Err(_) if i + 1 == n => {
                torn_tail = true;
                break;
            }
            Err(e) => return Err(Error::Config(format!("{}: line {} is damaged ({e}); the journal cannot be resumed", path.display(), i + 1))),
        };
        match entry {
            Entry::Start { version, experiment, config } => {
                if !(OLDEST_VERSION..=JOURNAL_VERSION).contains(&version) {
                    return Err(Error::Config(format!("{}: journal version {version} is not supported by this automl (versions {OLDEST_VERSION} to {JOURNAL_VERSION})", path.display())));
                }
                state = Some(JournalState { experiment, config, trials: Vec::new(), spent_s: 0.0, ended: false, torn_tail: false, finished_s: Default::default() });
            }
            other => {
                let Some(s) = state.as_mut() else {
                    return Err(Error::Config(format!("{}: the journal does not start with the experiment's settings", path.display())));
                };
                match other {
                    Entry::Start { .. } => {}
                    Entry::Session { spent_s } => {
                        s.spent_s = s.spent_s.max(spent_s);
                        s.ended = false;
                    }
                    Entry::Suggested { trial, suggestion } => s.trials.push((trial, suggestion, None, None)),
                    Entry::Dispatched { trial, job } => {
                        if let Some(t) = s.trials.iter_mut().find(|t| t.0 == trial) {
                            t.2 = Some(job);
                        }
                    }
                    Entry::Finished { result, elapsed_s } => {
                        s.spent_s = s.spent_s.max(elapsed_s);
                        s.finished_s.insert(result.id, elapsed_s);
                        if let Some(t) = s.trials.iter_mut().find(|t| t.0 == result.id) {
                            t.3 = Some(result);
                        }
                    }
                    Entry::Elapsed { elapsed_s } => s.spent_s = s.spent_s.max(elapsed_s),
                    Entry::Ended { .. } => s.ended = true,
                }
            }
        }
    }
    let mut state = state.ok_or_else(|| Error::Config(format!("{}: the journal is empty", path.display())))?;
    state.torn_tail = torn_tail;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::TrialStatus;

    fn result(id: u64) -> TrialResult {
        TrialResult { id, learner: "gbdt".into(), config: Default::default(), status: TrialStatus::Ok, score: Some(0.5), score_std: None, fold_scores: vec![], curve: vec![], train_curve: vec![], extra_scores: Default::default(), fit_time_s: 1.0, predict_time_s: 0.0, message: None, predictions: None, fold_models: None, sharpen: 1.0 }
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_everything_before_it_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::create(dir.path()).expect("create");
        j.write(&Entry::Start { version: JOURNAL_VERSION, experiment: "abc".into(), config: serde_json::json!({}) }).expect("write");
        let s = |id: u64| Suggestion { learner: "gbdt".into(), config: Default::default() }.clone().with_id(id);
        j.write(&Entry::Suggested { trial: 1, suggestion: s(1) }).expect("write");
        j.write(&Entry::Dispatched { trial: 1, job: "automl-abc-t1".into() }).expect("write");
        j.write(&Entry::Suggested { trial: 2, suggestion: s(2) }).expect("write");
        j.write(&Entry::Finished { result: result(1), elapsed_s: 3.5 }).expect("write");
        drop(j);
        // A crash in the middle of a write.
        let path = dir.path().join(JOURNAL_FILE);
        let mut text = std::fs::read_to_string(&path).expect("read");
        text.push_str("{\"event\":\"finished\",\"result\":{\"id\":2,");
        std::fs::write(&path, &text).expect("write");
        let state = read(dir.path()).expect("read journal");
        assert!(state.torn_tail);
        assert_eq!(state.experiment, "abc");
        assert_eq!(state.trials.len(), 2);
        assert_eq!(state.trials[0].2.as_deref(), Some("automl-abc-t1"));
        assert!(state.trials[0].3.is_some() && state.trials[1].3.is_none());
        assert_eq!(state.spent_s, 3.5);
        assert!(!state.ended);
        // Damage before the last line is not a crash: it is refused.
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\ngarbage\n{}\n", lines[..2].join("\n"), lines[2..5].join("\n"))).expect("write");
        assert!(read(dir.path()).unwrap_err().to_string().contains("line 3 is damaged"));
    }

    #[test]
    fn a_tail_torn_inside_a_character_is_repaired_and_a_second_resume_reads_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut j = Journal::create(dir.path()).expect("create");
        j.write(&Entry::Start { version: JOURNAL_VERSION, experiment: "abc".into(), config: serde_json::json!({}) }).expect("write");
        j.write(&Entry::Finished { result: result(1), elapsed_s: 1.0 }).expect("write");
        drop(j);
        // The crash cut the next entry in the middle of a two-byte character.
        let path = dir.path().join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        let torn = serde_json::to_vec(&Entry::Finished { result: TrialResult { message: Some("é".into()), ..result(2) }, elapsed_s: 2.0 }).expect("json");
        let cut = torn.iter().position(|&b| b == 0xc3).expect("the é") + 1;
        bytes.extend_from_slice(&torn[..cut]);
        std::fs::write(&path, &bytes).expect("write");
        let state = read(dir.path()).expect("a torn character is a torn tail, not a damaged file");
        assert!(state.torn_tail && state.spent_s == 1.0);
        // The resumed session appends; a second resume reads all of it.
        let mut j = Journal::append(dir.path()).expect("append");
        j.write(&Entry::Finished { result: result(3), elapsed_s: 3.0 }).expect("write");
        drop(j);
        let state = read(dir.path()).expect("the second resume");
        assert!(!state.torn_tail && state.spent_s == 3.0, "{state:?}");
        // A last entry that lost only its line break is kept, and the next starts a line.
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.pop();
        std::fs::write(&path, &bytes).expect("write");
        let mut j = Journal::append(dir.path()).expect("append");
        j.write(&Entry::Finished { result: result(4), elapsed_s: 4.0 }).expect("write");
        drop(j);
        let state = read(dir.path()).expect("read");
        assert!(!state.torn_tail && state.spent_s == 4.0, "{state:?}");
    }

    trait WithId {
        fn with_id(self, id: u64) -> Self;
    }
    impl WithId for Suggestion {
        fn with_id(mut self, id: u64) -> Self {
            self.config.insert("id".into(), automl_core::space::ParamValue::Int(id as i64));
            self
        }
    }
}
