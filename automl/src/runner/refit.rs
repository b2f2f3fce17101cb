//! The final refit: the best configurations, in leaderboard order, fitted on all rows
//! (falling back to the next if one fails), and the model artifact made from the one
//! that fits.
use std::time::Instant;

use automl_core::learners::{fit_guarded, learner_by_name, FitContext, FittedModel};
use automl_core::preprocess::Pipeline;
use automl_core::task::{Target, Task};

use crate::artifact::ModelArtifact;
use crate::error::{Error, Result};
use crate::evaluate::{apply_preprocessors, ExperimentData};
use crate::options::ExperimentOptions;
use crate::outcome::Observer;
use crate::plugins::StoredPreprocessor;
use crate::trial::TrialResult;

/// How many of the best configurations are tried before the refit gives up.
const CANDIDATES: usize = 3;

/// A configuration fitted on all rows.
pub struct Refitted {
    /// The trial whose configuration it is.
    pub trial: TrialResult,
    /// The engine's fitted preprocessing.
    pub pipeline: Pipeline,
    /// The fitted model.
    pub model: FittedModel,
    /// The preprocessing plugins, fitted.
    pub preprocessors: Vec<StoredPreprocessor>,
}

/// Refits the best successful trials of `ranked` on all rows until one fits.
pub fn refit_best(ranked: &[TrialResult], data: &ExperimentData, deadline: Option<Instant>, seed: u64, observer: &mut dyn Observer) -> Result<Refitted> {
    let rows: Vec<usize> = (0..data.table.n_rows).collect();
    let mut last_error = None;
    // Finished trials rank first; trials stopped early by a rule, with their last score,
    // stand in when none finished.
    for candidate in ranked.iter().filter(|t| t.refittable()).take(CANDIDATES) {
        observer.on_refit(candidate);
        match refit(candidate, data, &rows, deadline, seed) {
            Ok(r) => return Ok(r),
            Err(e) => last_error = Some(format!("refit of trial {} ({}) failed: {e}", candidate.id, candidate.learner)),
        }
    }
    let tried = ranked.iter().filter(|t| t.refittable()).take(CANDIDATES).count();
    Err(Error::NoSuccessfulTrial { count: ranked.len(), outcomes: format!("the refit of each of the best {tried} failed"), reasons: last_error.into_iter().collect() })
}

fn refit(best: &TrialResult, data: &ExperimentData, rows: &[usize], deadline: Option<Instant>, seed: u64) -> Result<Refitted> {
    let learner = learner_by_name(&best.learner)?;
    let prepared = (!data.preprocessors.is_empty()).then(|| apply_preprocessors(&data.preprocessors, &data.table, &data.features, rows)).transpose()?;
    let (table, features) = match &prepared {
        Some(p) => (&p.table, &p.features),
        None => (&data.table, &data.features),
    };
    let pipeline = Pipeline::fit(table, rows, features, learner.encoding())?;
    let x = pipeline.transform(table, Some(rows))?;
    let mut ctx = FitContext::new(seed);
    ctx.deadline = deadline;
    ctx.categorical = pipeline.categorical();
    let model = fit_guarded(learner.as_ref(), &best.config, x.view(), &data.target, &mut ctx)?;
    Ok(Refitted { trial: best.clone(), pipeline, model, preprocessors: prepared.map(|p| p.stored).unwrap_or_default() })
}

/// The model file's contents for `refitted`.
pub fn artifact(refitted: Refitted, options: &ExperimentOptions, task: Task, target: &Target, metric: &str, data_sha256: String) -> ModelArtifact {
    let labels = match target {
        Target::Classes { labels, .. } => labels.clone(),
        Target::Values(_) => Vec::new(),
    };
    ModelArtifact {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        target: options.target.clone(),
        task,
        labels,
        na_values: options.na_values.clone(),
        preprocessors: refitted.preprocessors,
        pipeline: refitted.pipeline,
        model: refitted.model,
        learner: refitted.trial.learner.clone(),
        config: refitted.trial.config.clone(),
        metric: metric.to_string(),
        validation_score: refitted.trial.score.unwrap_or(f64::NAN),
        seed: options.seed,
        data_sha256,
        rows: target.len(),
    }
}
