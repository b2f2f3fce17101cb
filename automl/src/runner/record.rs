//! The record of a run: the crash-safe journal (`journal.jsonl`, synced before the runner
//! acts on an entry), the trials log (`trials.jsonl`, one line per finished trial in the
//! schema of [`report::trial_json`]) and the leaderboard (`leaderboard.csv`). A run
//! without an output folder records nothing.
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::journal::{self, Entry, Journal, JournalState};
use crate::outcome::StopReason;
use crate::report;
use crate::runlock::RunLock;
use crate::search::Suggestion;
use crate::trial::TrialResult;
use crate::util::append_json_line;

/// File name of the trials log inside the output folder.
pub const TRIALS_FILE: &str = "trials.jsonl";
/// File name of the leaderboard inside the output folder.
pub const LEADERBOARD_FILE: &str = "leaderboard.csv";

/// Writes a run's journal, trials log and leaderboard.
pub struct Recorder {
    out: Option<PathBuf>,
    journal: Option<Journal>,
    trials_log: Option<PathBuf>,
    /// Seconds of search spent by earlier sessions of a resumed run.
    spent_before: f64,
    /// Files written so far.
    pub files: Vec<PathBuf>,
    /// The output folder's lock, held while the run records.
    _lock: Option<RunLock>,
}

/// Refuses to start a new run in `out` when it records one already: it would truncate
/// that run's journal and trials and replace its model.
fn refuse_recorded_run(out: &Path) -> Result<()> {
    if !out.join(journal::JOURNAL_FILE).exists() {
        return Ok(());
    }
    let what = match journal::read(out) {
        Ok(state) if state.ended => format!("a finished run ({} trials)", state.trials.len()),
        Ok(state) => format!("a run that can be resumed ({} trials; continue it with `automl resume {}`)", state.trials.len(), out.display()),
        Err(_) => "the journal of an earlier run".to_string(),
    };
    Err(Error::Config(format!("{} already holds {what}; choose another --out, or pass --force to replace it", out.display())))
}

impl Recorder {
    /// A recorder that writes nothing (no output folder, or a dry run).
    pub fn none() -> Self {
        Recorder { out: None, journal: None, trials_log: None, spent_before: 0.0, files: Vec::new(), _lock: None }
    }

    /// Opens the record in `out` (created if needed): a new journal starting with the
    /// experiment's id and `settings`, or, for a resumed run, the old one with a new
    /// session; the trials log is emptied only for a new run.
    ///
    /// The folder is locked for the run (see [`RunLock`]); a new run into a folder that
    /// already records one is refused unless `force`.
    pub fn open(out: Option<&Path>, resume: Option<&JournalState>, experiment: &str, settings: serde_json::Value, force: bool) -> Result<Self> {
        let Some(out) = out else { return Ok(Self::none()) };
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let lock = RunLock::acquire(out)?;
        if resume.is_none() && !force {
            refuse_recorded_run(out)?;
        }
        let (journal, spent_before) = match resume {
            None => {
                let mut j = Journal::create(out)?;
                j.write(&Entry::Start { version: journal::JOURNAL_VERSION, experiment: experiment.to_string(), config: settings })?;
                j.write(&Entry::Session { spent_s: 0.0 })?;
                (j, 0.0)
            }
            Some(r) => {
                let mut j = Journal::append(out)?;
                j.write(&Entry::Session { spent_s: r.spent_s })?;
                (j, r.spent_s)
            }
        };
        let trials_log = out.join(TRIALS_FILE);
        if resume.is_none() {
            std::fs::write(&trials_log, b"").map_err(|e| Error::io(&trials_log, e))?;
        }
        let files = vec![journal.path().to_path_buf(), trials_log.clone()];
        Ok(Recorder { out: Some(out.to_path_buf()), journal: Some(journal), trials_log: Some(trials_log), spent_before, files, _lock: Some(lock) })
    }

    /// The output folder, if the run has one.
    pub fn out(&self) -> Option<&Path> {
        self.out.as_deref()
    }

    /// Seconds spent by earlier sessions of this run.
    pub fn spent_before(&self) -> f64 {
        self.spent_before
    }

    /// A configuration was chosen for `trial`: journaled before it starts, so that a
    /// restart knows the trial exists.
    pub fn suggested(&mut self, trial: u64, suggestion: &Suggestion) -> Result<()> {
        self.journal(&Entry::Suggested { trial, suggestion: suggestion.clone() })
    }

    /// `trial` exists where it runs, as `job`.
    pub fn dispatched(&mut self, trial: u64, job: &str) -> Result<()> {
        self.journal(&Entry::Dispatched { trial, job: job.to_string() })
    }

    /// `elapsed_s` seconds of this session's search have passed (see [`Entry::Elapsed`]).
    pub fn elapsed(&mut self, elapsed_s: f64) -> Result<()> {
        self.journal(&Entry::Elapsed { elapsed_s: self.spent_before + elapsed_s })
    }

    /// A trial ended, `elapsed_s` seconds into this session's search: journaled, then
    /// appended to the trials log.
    pub fn finished(&mut self, result: &TrialResult, elapsed_s: f64) -> Result<()> {
        self.journal(&Entry::Finished { result: result.clone(), elapsed_s: self.spent_before + elapsed_s })?;
        match &self.trials_log {
            Some(p) => append_json_line(p, &report::trial_json(result)),
            None => Ok(()),
        }
    }

    /// The search ended.
    pub fn ended(&mut self, stop: StopReason) -> Result<()> {
        self.journal(&Entry::Ended { stop_reason: format!("{stop:?}") })
    }

    /// Writes `leaderboard.csv` (trials ranked best first).
    pub fn leaderboard(&mut self, ranked: &[TrialResult], metric: &str, ensemble: Option<report::EnsembleRow>) -> Result<()> {
        let Some(out) = &self.out else { return Ok(()) };
        let p = out.join(LEADERBOARD_FILE);
        report::write_leaderboard(&p, ranked, metric, ensemble)?;
        if !self.files.contains(&p) {
            self.files.push(p);
        }
        Ok(())
    }

    /// Writes `value` as `name` (JSON) in the output folder.
    pub fn json_file(&mut self, name: &str, value: &impl serde::Serialize) -> Result<()> {
        let Some(out) = &self.out else { return Ok(()) };
        let p = out.join(name);
        crate::util::write_json(&p, value)?;
        self.files.push(p);
        Ok(())
    }

    /// Records a file written by someone else (the model).
    pub fn wrote(&mut self, path: PathBuf) {
        self.files.push(path);
    }

    fn journal(&mut self, entry: &Entry) -> Result<()> {
        match self.journal.as_mut() {
            Some(j) => j.write(entry),
            None => Ok(()),
        }
    }
}

