//! The final refit: the model's configurations fitted on all rows, and the model file
//! made from them. The model is the ensemble the selection chose when one was chosen
//! (members that fail to refit, or whose refit would not fit the time left, are left out,
//! and the rest are kept only while they still beat the best trial), else the best
//! configuration, in leaderboard order, falling back to the next if one fails.
use std::time::Instant;

use automl_core::learners::{fit_guarded, learner_by_name, FitContext, FittedModel};
use automl_core::metrics::Metric;
use automl_core::preprocess::{Encoding, Pipeline};
use automl_core::task::{Target, Task};

use crate::artifact::{BestTrial, Member, ModelArtifact};
use crate::ensemble::Selection;
use crate::error::{Error, Result};
use crate::evaluate::{apply_preprocessors, ExperimentData, Prepared};
use crate::options::ExperimentOptions;
use crate::outcome::Observer;
use crate::plugins::StoredPreprocessor;
use crate::trial::TrialResult;

/// How many of the best configurations are tried before the refit gives up.
const CANDIDATES: usize = 3;

/// The model's configurations fitted on all rows.
pub struct Refitted {
    /// The best single trial refit (the model, or the ensemble's best-ranked member).
    pub trial: TrialResult,
    /// The engine's fitted preprocessing, one per encoding the members use.
    pub pipelines: Vec<Pipeline>,
    /// The fitted members with their weights.
    pub members: Vec<Member>,
    /// The preprocessing plugins, fitted.
    pub preprocessors: Vec<StoredPreprocessor>,
    /// The ensemble the model is, when it is one (weights as refit).
    pub ensemble: Option<Selection>,
    /// What the user should know about the refit.
    pub notes: Vec<String>,
}

impl Refitted {
    /// The model's validation score: the ensemble's out-of-fold score, or the trial's.
    pub fn score(&self) -> f64 {
        self.ensemble.as_ref().map_or(self.trial.score.unwrap_or(f64::NAN), |e| e.score)
    }
}

/// What the refit works with.
pub struct RefitContext<'a> {
    /// The experiment's data.
    pub data: &'a ExperimentData,
    /// The objective, to score an ensemble left with fewer members.
    pub metric: &'a dyn Metric,
    /// When the run's budget ends.
    pub deadline: Option<Instant>,
    /// Rows of a training fold / all rows, to estimate refit times from fold fit times.
    pub fold_share: f64,
    /// Seed of the fits.
    pub seed: u64,
}

/// The preprocessing plugins fitted on all rows, and pipelines by encoding, shared by
/// the members.
struct Shared {
    rows: Vec<usize>,
    prepared: Option<Prepared>,
    pipelines: Vec<Pipeline>,
}

impl Shared {
    fn new(data: &ExperimentData) -> Result<Self> {
        let rows: Vec<usize> = (0..data.table.n_rows).collect();
        let prepared = (!data.preprocessors.is_empty()).then(|| apply_preprocessors(&data.preprocessors, &data.table, &data.features, &rows)).transpose()?;
        Ok(Shared { rows, prepared, pipelines: Vec::new() })
    }

    /// The index of the pipeline for `encoding`, fitted on first use.
    fn pipeline(&mut self, data: &ExperimentData, encoding: Encoding) -> Result<usize> {
        if let Some(i) = self.pipelines.iter().position(|p| p.encoding() == encoding) {
            return Ok(i);
        }
        let (table, features) = match &self.prepared {
            Some(p) => (&p.table, &p.features),
            None => (&data.table, &data.features),
        };
        self.pipelines.push(Pipeline::fit(table, &self.rows, features, encoding)?);
        Ok(self.pipelines.len() - 1)
    }

    /// Fits `trial`'s configuration on all rows; a fit that ran into the deadline (an
    /// iterative learner stops there, with fewer rounds or trees than its trial) is noted.
    fn fit(&mut self, trial: &TrialResult, ctx: &RefitContext, notes: &mut Vec<String>) -> Result<Member> {
        let learner = learner_by_name(&trial.learner)?;
        let index = self.pipeline(ctx.data, learner.encoding())?;
        let table = self.prepared.as_ref().map_or(&ctx.data.table, |p| &p.table);
        let pipeline = &self.pipelines[index];
        let x = pipeline.transform(table, Some(&self.rows))?;
        let mut fit = FitContext::new(ctx.seed);
        fit.deadline = ctx.deadline;
        fit.categorical = pipeline.categorical();
        let model: FittedModel = fit_guarded(learner.as_ref(), &trial.config, x.view(), &ctx.data.target, &mut fit)?;
        if fit.expired() {
            notes.push(format!("the refit of trial {} ({}) reached the end of the time budget and may have stopped short of its configuration (fewer rounds or trees): give the run more time", trial.id, trial.learner));
        }
        Ok(Member { trial: trial.id, learner: trial.learner.clone(), config: trial.config.clone(), weight: 1.0, pipeline: index, model })
    }

    /// The refit model of `members`, with only the pipelines they use.
    fn into_refitted(self, trial: TrialResult, mut members: Vec<Member>, ensemble: Option<Selection>, notes: Vec<String>) -> Refitted {
        let mut pipelines = Vec::new();
        let mut index = vec![None; self.pipelines.len()];
        for (i, p) in self.pipelines.into_iter().enumerate() {
            if members.iter().any(|m| m.pipeline == i) {
                index[i] = Some(pipelines.len());
                pipelines.push(p);
            }
        }
        for m in &mut members {
            m.pipeline = index[m.pipeline].unwrap_or(0);
        }
        Refitted { trial, pipelines, members, preprocessors: self.prepared.map(|p| p.stored).unwrap_or_default(), ensemble, notes }
    }
}

/// Refits the model: `selection`'s ensemble when there is one and it survives its refit;
/// else the best trial's member when it was refit with the ensemble (no second refit);
/// else the best refittable trial of `ranked` that fits.
pub fn refit_model(ranked: &[TrialResult], selection: Option<Selection>, ctx: &RefitContext, observer: &mut dyn Observer) -> Result<Refitted> {
    let mut shared = Shared::new(ctx.data)?;
    let mut notes = Vec::new();
    let best = ranked.iter().find(|t| t.refittable());
    if let (Some(selection), Some(best)) = (selection, best) {
        let members = refit_members(ranked, &selection, best.id, ctx, &mut shared, &mut notes, observer);
        if let Some(kept) = kept_ensemble(ranked, &selection, &members, ctx) {
            let members = members.into_iter().map(|m| Member { weight: kept.members.iter().find(|k| k.0 == m.trial).map_or(m.weight, |k| k.1), ..m }).collect();
            return Ok(shared.into_refitted(best.clone(), members, Some(kept), notes));
        }
        notes.push("the ensemble no longer beat the best trial without the members left out: the model is the best trial alone".into());
        if let Some(m) = members.into_iter().find(|m| m.trial == best.id) {
            return Ok(shared.into_refitted(best.clone(), vec![Member { weight: 1.0, ..m }], None, notes));
        }
    }
    refit_best(ranked, ctx, shared, notes, observer)
}

/// Seconds the refit of `trial` on all rows is expected to take: its per-fold fit time
/// scaled to all rows.
fn refit_estimate(trial: &TrialResult, ctx: &RefitContext) -> f64 {
    trial.fit_time_s / trial.fold_scores.len().max(1) as f64 / ctx.fold_share
}

/// Refits the members of `selection`: the best trial first when it is one (the model if
/// the ensemble falls apart), then by weight. A member whose refit would not fit the time
/// left is left out, as is one whose refit fails; each with a note.
#[allow(clippy::too_many_arguments)]
fn refit_members(ranked: &[TrialResult], selection: &Selection, best: u64, ctx: &RefitContext, shared: &mut Shared, notes: &mut Vec<String>, observer: &mut dyn Observer) -> Vec<Member> {
    let mut order = selection.members.clone();
    order.sort_by_key(|&(id, _)| id != best);
    let mut members = Vec::new();
    for (id, weight) in order {
        let Some(trial) = ranked.iter().find(|t| t.id == id) else { continue };
        let estimate = refit_estimate(trial, ctx);
        let late = ctx.deadline.is_some_and(|d| Instant::now() + std::time::Duration::from_secs_f64(estimate) > d);
        if late && !(members.is_empty() && id == best) {
            notes.push(format!("trial {id} ({}) was left out of the ensemble: its refit (about {estimate:.1} s) would not fit the time left", trial.learner));
            continue;
        }
        observer.on_refit(trial);
        match shared.fit(trial, ctx, notes) {
            Ok(m) => members.push(Member { weight, ..m }),
            Err(e) => notes.push(format!("trial {id} ({}) was left out of the ensemble: its refit failed: {e}", trial.learner)),
        }
    }
    members.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.trial.cmp(&b.trial)));
    members
}

/// The ensemble the refit `members` make: the selection when all were refit, else the
/// ones left scored again; `None` with fewer than two or when they no longer win.
fn kept_ensemble(ranked: &[TrialResult], selection: &Selection, members: &[Member], ctx: &RefitContext) -> Option<Selection> {
    match members.len() {
        n if n == selection.members.len() => Some(selection.clone()),
        n if n >= 2 => rescore(ranked, members, ctx, selection.best_single),
        _ => None,
    }
}

/// The selection of the members left, scored again on the out-of-fold rows; `None` when
/// it no longer beats the best trial.
fn rescore(ranked: &[TrialResult], members: &[Member], ctx: &RefitContext, best_single: f64) -> Option<Selection> {
    let total: f64 = members.iter().map(|m| m.weight).sum();
    let parts: Option<Vec<(f64, automl_core::metrics::Prediction)>> = members
        .iter()
        .map(|m| ranked.iter().find(|t| t.id == m.trial).and_then(|t| t.predictions.as_deref()).map(|p| (m.weight / total, p.clone())))
        .collect();
    let blended = crate::ensemble::blend(&parts?)?;
    let truth = ctx.data.out_of_fold_target();
    let score = ctx.metric.score(&truth, &blended).ok().filter(|s| s.is_finite())?;
    let better = ctx.metric.direction().better(score, best_single);
    better.then(|| Selection { members: members.iter().map(|m| (m.trial, m.weight / total)).collect(), score, best_single })
}

/// Refits the best successful trials of `ranked` on all rows until one fits.
fn refit_best(ranked: &[TrialResult], ctx: &RefitContext, mut shared: Shared, notes: Vec<String>, observer: &mut dyn Observer) -> Result<Refitted> {
    let mut last_error = None;
    // Finished trials rank first; trials stopped early by a rule, with their last score,
    // stand in when none finished.
    let mut notes = notes;
    for candidate in ranked.iter().filter(|t| t.refittable()).take(CANDIDATES) {
        observer.on_refit(candidate);
        // The model's one configuration gets the time its trial took (scaled to all rows)
        // even past the budget: a refit cut short is a worse model than its score says.
        let needed = Instant::now() + std::time::Duration::from_secs_f64(refit_estimate(candidate, ctx) * 1.5);
        let ctx = RefitContext { deadline: ctx.deadline.map(|d| d.max(needed)), ..*ctx };
        match shared.fit(candidate, &ctx, &mut notes) {
            Ok(member) => return Ok(shared.into_refitted(candidate.clone(), vec![member], None, notes)),
            Err(e) => last_error = Some(format!("refit of trial {} ({}) failed: {e}", candidate.id, candidate.learner)),
        }
    }
    let tried = ranked.iter().filter(|t| t.refittable()).take(CANDIDATES).count();
    Err(Error::NoSuccessfulTrial { count: ranked.len(), outcomes: format!("the refit of each of the best {tried} failed"), reasons: last_error.into_iter().collect() })
}

/// The model file's contents for `refitted`.
pub fn artifact(refitted: Refitted, options: &ExperimentOptions, task: Task, target: &Target, metric: &str, data_sha256: String) -> ModelArtifact {
    let labels = match target {
        Target::Classes { labels, .. } => labels.clone(),
        Target::Values(_) => Vec::new(),
    };
    let validation_score = refitted.score();
    let t = &refitted.trial;
    let best = BestTrial { trial: t.id, learner: t.learner.clone(), config: t.config.clone(), score: t.score.unwrap_or(f64::NAN) };
    ModelArtifact {
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        target: options.target.clone(),
        task,
        labels,
        na_values: options.na_values.clone(),
        preprocessors: refitted.preprocessors,
        pipelines: refitted.pipelines,
        members: refitted.members,
        best,
        metric: metric.to_string(),
        validation_score,
        seed: options.seed,
        data_sha256,
        rows: target.len(),
    }
}
