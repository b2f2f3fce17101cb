//! The trial pod's side, what `automl trial` runs: read the spec, fetch and check the
//! data, evaluate, print the scores as Katib's `name=value` lines, and write the result
//! to the termination message.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::manifest::TRIAL_ENV;
use super::protocol::{TrialReport, TERMINATION_PATH_ENV};
use crate::error::{Error, Result};
use crate::evaluate::{evaluate_standalone, read_trial_data, TrialData};
use crate::trial::{DataRef, ScoredOn, TrialResult, TrialSpec, TrialStatus};
use crate::util::sha256_file;

/// Where the kubelet reads the termination message unless the container says otherwise.
const DEFAULT_TERMINATION_PATH: &str = "/dev/termination-log";

/// Reads the trial spec from `file`, else from `$AUTOML_TRIAL`.
pub fn read_spec(file: Option<&Path>) -> Result<TrialSpec> {
    let text = match file {
        Some(p) => std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
        None => std::env::var(TRIAL_ENV).map_err(|_| Error::Config(format!("no trial: set ${TRIAL_ENV} to a trial spec (JSON) or pass --spec FILE")))?,
    };
    serde_json::from_str(&text).map_err(|e| Error::Config(format!("the trial spec is not valid: {e}")))
}

/// Runs `spec` as a trial pod does: scores go to stdout as they come (the objective, and
/// the same metric on the training rows as `train_<metric>` just before it), and the
/// result, whatever happened, to the termination message file
/// (`$AUTOML_TERMINATION_MESSAGE_PATH`, default `/dev/termination-log`).
pub fn run_trial_pod(spec: &TrialSpec) -> Result<TrialResult> {
    let started = Instant::now();
    let outcome = run_remote(spec, &|step, score, on| {
        let mut out = std::io::stdout().lock();
        let prefix = if on == ScoredOn::Training { "train_" } else { "" };
        let _ = writeln!(out, "step={step} {prefix}{}={score}", spec.metric);
        let _ = out.flush();
    });
    let result = outcome.unwrap_or_else(|e| TrialResult::ended(spec.id, spec.learner.clone(), spec.config.clone(), TrialStatus::Failed, started.elapsed().as_secs_f64(), Some(e.to_string())));
    if let Some(score) = result.score {
        println!("final_{}={score}", spec.metric);
    }
    let termination = std::env::var_os(TERMINATION_PATH_ENV).map_or_else(|| PathBuf::from(DEFAULT_TERMINATION_PATH), PathBuf::from);
    std::fs::write(&termination, TrialReport::from_result(&result).to_json()).map_err(|e| Error::io(&termination, e))?;
    Ok(result)
}

/// Runs `spec` on its data: the experiment's prepared copy when the spec names one and it
/// is sound, else the CSV ([`read_csv`]).
pub fn run_remote(spec: &TrialSpec, report: &(dyn Fn(usize, f64, ScoredOn) + Sync)) -> Result<TrialResult> {
    let data = spec.data.as_ref().ok_or_else(|| Error::Config(format!("trial {} has no data: only built-in trials run `automl trial`", spec.id)))?;
    let plugins = crate::evaluate::load_pod_plugins(data)?;
    let input = match data.prepared.as_ref().map(|file| crate::prepared::load(file, data)) {
        Some(Ok(input)) => input,
        Some(Err(e)) => {
            eprintln!("automl trial: {e}; reading the CSV instead");
            read_csv(data)?
        }
        None => read_csv(data)?,
    };
    evaluate_standalone(spec, input, plugins, report)
}

/// Reads the trial's CSV where its data says: an http(s) URL is downloaded into `$TMPDIR`
/// first; a path is read as is. When the spec carries the controller's SHA-256 of the
/// data, a copy that differs is refused (trials on other data would be scored against the
/// wrong rows).
fn read_csv(data: &DataRef) -> Result<TrialData> {
    let location = data.path.to_string_lossy().into_owned();
    let (path, digest, _scratch) = if location.starts_with("http://") || location.starts_with("https://") {
        let dir = scratch_dir()?;
        let (path, digest) = super::fetch::download(&location, &dir)?;
        (path, Some(digest), Some(DirGuard(dir)))
    } else {
        let digest = match &data.sha256 {
            Some(_) => Some(sha256_file(&data.path).map_err(|e| Error::io(&data.path, e))?),
            None => None,
        };
        (data.path.clone(), digest, None)
    };
    check_digest(data, &location, digest.as_deref())?;
    read_trial_data(data, &path)
}

fn check_digest(data: &DataRef, location: &str, actual: Option<&str>) -> Result<()> {
    match (&data.sha256, actual) {
        (Some(expected), Some(actual)) if !expected.is_empty() && expected != actual => Err(Error::Core(automl_core::Error::Data(format!(
            "{location}: this copy of the data differs from the one the experiment was started on (SHA-256 {actual}, expected {expected}); give the trials the same file"
        )))),
        _ => Ok(()),
    }
}

struct DirGuard(PathBuf);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("automl-trial-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}
