//! The end of a run's record: the model's validation predictions, the summary and the
//! report, written into the output folder after the model.
use std::path::Path;
use std::time::Instant;

use automl_core::metrics::Prediction;

use crate::bagging::FinalFitUsed;
use crate::ensemble::Selection;
use crate::error::Result;
use crate::evaluate::ExperimentData;
use crate::html::{self, Validation};
use crate::outcome::ExperimentResult;
use crate::trial::TrialResult;
use crate::artifact::ModelArtifact;
use crate::options::ExperimentOptions;
use super::record::Recorder;

/// Saves `model.automl` into the output folder, if there is one, and measures what the
/// report shows of the model's reliance on each column (only then: nobody would see it),
/// within what is left of the time budget by `deadline`.
pub fn save_model(recorder: &mut Recorder, artifact: &ModelArtifact, validation: Option<&mut Validation>, leaderboard: &[TrialResult], data: &ExperimentData, options: &ExperimentOptions, deadline: Option<Instant>) -> Result<()> {
    let Some(out) = recorder.out() else { return Ok(()) };
    let path = out.join("model.automl");
    artifact.save(&path)?;
    recorder.wrote(path);
    if let Some(v) = validation {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()).as_secs_f64());
        v.importance = Some(super::importance::measure(artifact, leaderboard, data, options.seed, super::importance::allowance(options.time_budget, left)));
    }
    Ok(())
}

/// The model's predictions of the validation rows: the ensemble's blend of its members'
/// out-of-fold predictions, or the best trial's; `None` when the trials kept none (remote
/// trials).
pub fn model_validation(leaderboard: &[TrialResult], ensemble: Option<&Selection>, best: &TrialResult, data: &ExperimentData, fit: FinalFitUsed) -> Option<Validation> {
    let prediction: Prediction = match ensemble {
        Some(e) => crate::ensemble::blend_trials(leaderboard, &e.members)?,
        None => best.predictions.as_deref()?.clone(),
    };
    let source = match (data.splits.len(), fit.name()) {
        (1, _) => "The holdout rows, predicted by the trials' models of the training rows (the model itself was then refit on all rows)",
        (_, "bag") => "Every row predicted by the model's split model that did not train on it (out-of-fold): the bagged model's own validation predictions",
        _ => "Every row predicted out-of-fold by the trials' split models of the model's configurations (the model itself was then fitted on all rows or bagged)",
    };
    html::validation(&data.out_of_fold_target(), &prediction, source)
}

/// Writes `validation.json`, `summary.json` and `report.html` into `out`, and lists them in
/// `result.files`; a report that cannot be made is a note, not an error.
pub fn write_record(out: &Path, result: &mut ExperimentResult, validation: Option<&Validation>) -> Result<()> {
    if let Some(v) = validation {
        let path = out.join(html::VALIDATION_FILE);
        // Compact: thousands of rows of probabilities, pretty-printed, would be a number a line.
        let bytes = serde_json::to_vec(v).map_err(|e| crate::error::Error::Serialize { what: format!("{} as JSON", path.display()), source: Box::new(e) })?;
        crate::util::write_atomic(&path, &bytes)?;
        result.files.push(path);
    }
    let summary = out.join("summary.json");
    let report = out.join(html::REPORT_FILE);
    result.files.push(summary.clone());
    result.files.push(report.clone());
    crate::util::write_json(&summary, &crate::report::summary_json(result))?;
    let mut notes = Vec::new();
    if html::write_or_note(out, &result.artifact, &mut notes).is_none() {
        result.files.retain(|f| f != &report);
        result.notes.append(&mut notes);
        crate::util::write_json(&summary, &crate::report::summary_json(result))?;
    }
    Ok(())
}
