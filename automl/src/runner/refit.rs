//! The final fit: the model's configurations fitted for the model file, and the file made
//! from them. A configuration whose trial kept its split models is bagged (they are
//! averaged, see `bagging`); any other is refit on all rows. The model is the ensemble the
//! selection chose when one was chosen (members that fail to refit, or whose refit would
//! not fit the time left, are left out, and the rest are kept only while they still beat
//! the best trial), else the best configuration, in leaderboard order, falling back to
//! the next if one fails.
use std::time::Instant;

use automl_core::learners::{fit_guarded, learner_by_name, FitContext, FittedModel};
use automl_core::metrics::Metric;
use automl_core::preprocess::{Encoding, Pipeline};
use automl_core::task::{Target, Task};

use crate::artifact::{BestTrial, Member, ModelArtifact};
use crate::bagging::FinalFitUsed;
use crate::ensemble::Selection;
use crate::error::{Error, Result};
use crate::evaluate::{apply_preprocessors, ExperimentData, Prepared};
use crate::options::ExperimentOptions;
use crate::outcome::Observer;
use crate::plugins::StoredPreprocessor;
use crate::trial::TrialResult;

/// Times the kept split models of data with [`MIN_TIMED_ROWS`](crate::bagging::MIN_TIMED_ROWS)
/// to [`MIN_JUDGED_ROWS`](crate::bagging::MIN_JUDGED_ROWS) rows, whose trials did not time
/// them: one split model a trial, on the first split's validation rows repeated to
/// [`TIMED_ROWS`](crate::bagging::TIMED_ROWS), gives its cost per row, and the trial's
/// prediction time (of those rows) for the ensemble's bound. Only when `timed`
/// ([`crate::bagging::times_predictions`]): without a time budget, time costs nothing.
pub fn time_kept_models(leaderboard: &mut [TrialResult], data: &ExperimentData, timed: bool) {
    if !timed || data.table.n_rows >= crate::bagging::MIN_JUDGED_ROWS {
        return;
    }
    for t in leaderboard.iter_mut().filter(|t| t.predictions.is_some()) {
        let Some(folds) = t.fold_models.as_mut().and_then(std::sync::Arc::get_mut) else { continue };
        let Some(model) = folds.models.first() else { continue };
        let Ok(design) = learner_by_name(&t.learner).and_then(|l| data.design(0, l.encoding())) else { continue };
        // The faster of two timings: the first in a process also starts the thread pool and
        // warms the caches (on 200 rows of data it read two to five times the second).
        let time = || crate::bagging::time_per_row(model, &design.x_valid);
        folds.predict_s_per_row = time().min(time());
        t.predict_time_s = folds.predict_s_per_row * crate::bagging::TIMED_ROWS as f64;
    }
}

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
    /// How many configurations were bagged and how many refit.
    pub fit: FinalFitUsed,
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
    /// Which configurations are bagged (see [`crate::bagging::bags`]).
    pub final_fit: crate::bagging::FinalFit,
}

/// The preprocessing plugins fitted on all rows, and pipelines by encoding, shared by
/// the members.
struct Shared {
    rows: Vec<usize>,
    prepared: Option<Prepared>,
    /// Pipelines with the split whose training rows fitted them (`None`: all rows).
    pipelines: Vec<(Option<usize>, Pipeline)>,
    /// Seconds per row of prediction the model may still take (see [`crate::bagging::bags`]).
    cost_left: f64,
    /// Seconds per row the members still to be fitted take at least (each refit, not
    /// bagged): bagging one member may not take it from them.
    reserved: f64,
}

/// One configuration of the model, fitted: refit (one member) or bagged (one member per
/// split, equal weights summing to 1 within it).
struct Part {
    trial: u64,
    weight: f64,
    members: Vec<Member>,
}

impl Shared {
    fn new(data: &ExperimentData) -> Result<Self> {
        let rows: Vec<usize> = (0..data.table.n_rows).collect();
        let prepared = (!data.preprocessors.is_empty()).then(|| apply_preprocessors(&data.preprocessors, &data.table, &data.features, &rows)).transpose()?;
        Ok(Shared { rows, prepared, pipelines: Vec::new(), cost_left: crate::bagging::MAX_PREDICT_S_PER_ROW, reserved: 0.0 })
    }

    /// The index of the pipeline for `encoding` fitted on all rows (`fold` `None`) or on
    /// split `fold`'s training rows (as its trial's model saw them), made on first use.
    fn pipeline(&mut self, data: &ExperimentData, encoding: Encoding, fold: Option<usize>) -> Result<usize> {
        if let Some(i) = self.pipelines.iter().position(|(f, p)| *f == fold && p.encoding() == encoding) {
            return Ok(i);
        }
        let pipeline = match fold {
            Some(f) => data.design(f, encoding)?.pipeline.clone(),
            None => {
                let (table, features) = match &self.prepared {
                    Some(p) => (&p.table, &p.features),
                    None => (&data.table, &data.features),
                };
                Pipeline::fit(table, &self.rows, features, encoding)?
            }
        };
        self.pipelines.push((fold, pipeline));
        Ok(self.pipelines.len() - 1)
    }

    /// `trial`'s configuration for the model: bagged when it kept its split models, else
    /// refit on all rows.
    fn part(&mut self, trial: &TrialResult, weight: f64, ctx: &RefitContext, notes: &mut Vec<String>) -> Result<Part> {
        let bagged = self.bags(trial, ctx);
        let members = match &trial.fold_models {
            Some(folds) if bagged => self.bag(trial, folds, ctx)?,
            Some(folds) => {
                let (per_100k, left_100k, most_100k) = (crate::bagging::predict_cost(trial, true) * 1e5, (self.cost_left - self.reserved).max(0.0) * 1e5, crate::bagging::MAX_PREDICT_S_PER_ROW * 1e5);
                notes.push(format!("trial {} ({}) was refit on all rows rather than bagged: its {} split models would take about {per_100k:.1} s per 100,000 rows, more than the {left_100k:.1} s left once the model's other members are counted (--final-fit auto bags while the whole model predicts 100,000 rows in at most {most_100k:.1} s; --final-fit bag bags anyway)", trial.id, trial.learner, folds.models.len()));
                vec![self.fit(trial, ctx, notes)?]
            }
            None => vec![self.fit(trial, ctx, notes)?],
        };
        self.cost_left -= crate::bagging::predict_cost(trial, bagged);
        if trial.sharpen != 1.0 {
            let how = if trial.sharpen > 1.0 { "more confident: they were too even" } else { "less confident: they were too sure" };
            notes.push(format!("trial {} ({}) gives its class probabilities raised to the power {:.2} and renormalised, a power fitted on its out-of-fold predictions that made them {how}", trial.id, trial.learner, trial.sharpen));
        }
        Ok(Part { trial: trial.id, weight, members })
    }

    /// Whether `trial`'s configuration is bagged, within the prediction cost left.
    fn bags(&self, trial: &TrialResult, ctx: &RefitContext) -> bool {
        crate::bagging::bags(trial, ctx.final_fit, ctx.deadline.is_some(), self.cost_left - self.reserved)
    }

    /// `trial`'s split models as members of equal weight, each with its split's pipeline.
    fn bag(&mut self, trial: &TrialResult, folds: &crate::trial::FoldModels, ctx: &RefitContext) -> Result<Vec<Member>> {
        let encoding = learner_by_name(&trial.learner)?.encoding();
        let k = folds.models.len() as f64;
        let mut members = Vec::with_capacity(folds.models.len());
        for (fold, model) in folds.models.iter().enumerate() {
            let pipeline = self.pipeline(ctx.data, encoding, Some(fold))?;
            members.push(Member { trial: trial.id, learner: trial.learner.clone(), config: trial.config.clone(), weight: 1.0 / k, sharpen: trial.sharpen, pipeline, fold: Some(fold), model: model.clone() });
        }
        Ok(members)
    }

    /// Fits `trial`'s configuration on all rows; a fit that ran into the deadline (an
    /// iterative learner stops there, with fewer rounds or trees than its trial) is noted.
    fn fit(&mut self, trial: &TrialResult, ctx: &RefitContext, notes: &mut Vec<String>) -> Result<Member> {
        let learner = learner_by_name(&trial.learner)?;
        let index = self.pipeline(ctx.data, learner.encoding(), None)?;
        let table = self.prepared.as_ref().map_or(&ctx.data.table, |p| &p.table);
        let pipeline = &self.pipelines[index].1;
        let x = pipeline.transform(table, Some(&self.rows))?;
        let mut fit = FitContext::new(ctx.seed);
        fit.deadline = ctx.deadline;
        fit.categorical = pipeline.categorical();
        let model: FittedModel = fit_guarded(learner.as_ref(), &trial.config, x.view(), &ctx.data.target, &mut fit)?;
        if fit.expired() {
            notes.push(format!("the refit of trial {} ({}) reached the end of the time budget and may have stopped short of its configuration (fewer rounds or trees): give the run more time", trial.id, trial.learner));
        }
        Ok(Member { trial: trial.id, learner: trial.learner.clone(), config: trial.config.clone(), weight: 1.0, sharpen: trial.sharpen, pipeline: index, fold: None, model })
    }

    /// The model of `parts` (each part's weight spread over its members), with only the
    /// pipelines they use.
    fn into_refitted(self, trial: TrialResult, parts: Vec<Part>, ensemble: Option<Selection>, notes: Vec<String>) -> Refitted {
        let fit = FinalFitUsed {
            bagged: parts.iter().filter(|p| p.members.iter().any(|m| m.fold.is_some())).count(),
            folds: parts.iter().map(|p| p.members.len()).max().unwrap_or(1),
            refit: parts.iter().filter(|p| p.members.iter().all(|m| m.fold.is_none())).count(),
        };
        let mut members: Vec<Member> = parts.into_iter().flat_map(|p| p.members.into_iter().map(move |m| Member { weight: m.weight * p.weight, ..m })).collect();
        let mut pipelines = Vec::new();
        let mut index = vec![None; self.pipelines.len()];
        for (i, (_, p)) in self.pipelines.into_iter().enumerate() {
            if members.iter().any(|m| m.pipeline == i) {
                index[i] = Some(pipelines.len());
                pipelines.push(p);
            }
        }
        for m in &mut members {
            m.pipeline = index[m.pipeline].unwrap_or(0);
        }
        Refitted { trial, pipelines, members, preprocessors: self.prepared.map(|p| p.stored).unwrap_or_default(), ensemble, notes, fit }
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
        let parts = refit_members(ranked, &selection, best.id, ctx, &mut shared, &mut notes, observer);
        if let Some(kept) = kept_ensemble(ranked, &selection, &parts, ctx) {
            let parts = parts.into_iter().map(|p| Part { weight: kept.members.iter().find(|k| k.0 == p.trial).map_or(p.weight, |k| k.1), ..p }).collect();
            return Ok(shared.into_refitted(best.clone(), parts, Some(kept), notes));
        }
        notes.push("the ensemble no longer beat the best trial without the members left out: the model is the best trial alone".into());
        if let Some(p) = parts.into_iter().find(|p| p.trial == best.id) {
            return Ok(shared.into_refitted(best.clone(), vec![Part { weight: 1.0, ..p }], None, notes));
        }
    }
    refit_best(ranked, ctx, shared, notes, observer)
}

/// Seconds the refit of `trial` on all rows is expected to take: its per-fold fit time
/// scaled to all rows.
fn refit_estimate(trial: &TrialResult, ctx: &RefitContext) -> f64 {
    trial.fit_time_s / trial.fold_scores.len().max(1) as f64 / ctx.fold_share
}

/// Fits the members of `selection`: the best trial first when it is one (the model if
/// the ensemble falls apart), then by weight. A member to refit whose refit would not fit
/// the time left is left out, as is one whose fit fails; each with a note. Bagged members
/// take no time, and a member is bagged only when the members after it, refit, still fit
/// the prediction bound.
#[allow(clippy::too_many_arguments)]
fn refit_members(ranked: &[TrialResult], selection: &Selection, best: u64, ctx: &RefitContext, shared: &mut Shared, notes: &mut Vec<String>, observer: &mut dyn Observer) -> Vec<Part> {
    let mut order = selection.members.clone();
    order.sort_by_key(|&(id, _)| id != best);
    let mut parts: Vec<Part> = Vec::new();
    let single = |id: u64| ranked.iter().find(|t| t.id == id).map_or(0.0, |t| crate::bagging::predict_cost(t, false));
    shared.reserved = order.iter().map(|&(id, _)| single(id)).sum();
    for (id, weight) in order {
        shared.reserved -= single(id);
        let Some(trial) = ranked.iter().find(|t| t.id == id) else { continue };
        let estimate = refit_estimate(trial, ctx);
        let late = !shared.bags(trial, ctx) && ctx.deadline.is_some_and(|d| Instant::now() + std::time::Duration::from_secs_f64(estimate) > d);
        if late && !(parts.is_empty() && id == best) {
            notes.push(format!("trial {id} ({}) was left out of the ensemble: its refit (about {estimate:.1} s) would not fit the time left", trial.learner));
            continue;
        }
        if !shared.bags(trial, ctx) {
            observer.on_refit(trial);
        }
        match shared.part(trial, weight, ctx, notes) {
            Ok(p) => parts.push(p),
            Err(e) => notes.push(format!("trial {id} ({}) was left out of the ensemble: its refit failed: {e}", trial.learner)),
        }
    }
    parts.sort_by(|a, b| b.weight.total_cmp(&a.weight).then(a.trial.cmp(&b.trial)));
    parts
}

/// The ensemble the fitted `parts` make: the selection when all were fitted, else the
/// ones left scored again; `None` with fewer than two or when they no longer win.
fn kept_ensemble(ranked: &[TrialResult], selection: &Selection, parts: &[Part], ctx: &RefitContext) -> Option<Selection> {
    match parts.len() {
        n if n == selection.members.len() => Some(selection.clone()),
        n if n >= 2 => rescore(ranked, parts, ctx, selection.best_single),
        _ => None,
    }
}

/// The selection of the parts left, scored again on the out-of-fold rows; `None` when
/// it no longer beats the best trial.
fn rescore(ranked: &[TrialResult], parts: &[Part], ctx: &RefitContext, best_single: f64) -> Option<Selection> {
    let total: f64 = parts.iter().map(|p| p.weight).sum();
    let members: Vec<(u64, f64)> = parts.iter().map(|p| (p.trial, p.weight)).collect();
    let blended = crate::ensemble::blend_trials(ranked, &members)?;
    let truth = ctx.data.out_of_fold_target();
    let score = ctx.metric.score(&truth, &blended).ok().filter(|s| s.is_finite())?;
    let better = ctx.metric.direction().better(score, best_single);
    better.then(|| Selection { members: parts.iter().map(|p| (p.trial, p.weight / total)).collect(), score, best_single })
}

/// Refits the best successful trials of `ranked` on all rows until one fits.
fn refit_best(ranked: &[TrialResult], ctx: &RefitContext, mut shared: Shared, notes: Vec<String>, observer: &mut dyn Observer) -> Result<Refitted> {
    let mut last_error = None;
    // Finished trials rank first; trials stopped early by a rule, with their last score,
    // stand in when none finished.
    let mut notes = notes;
    for candidate in ranked.iter().filter(|t| t.refittable()).take(CANDIDATES) {
        if !shared.bags(candidate, ctx) {
            observer.on_refit(candidate);
        }
        // The model's one configuration gets the time its trial took (scaled to all rows)
        // even past the budget: a refit cut short is a worse model than its score says.
        let needed = Instant::now() + std::time::Duration::from_secs_f64(refit_estimate(candidate, ctx) * 1.5);
        let ctx = RefitContext { deadline: ctx.deadline.map(|d| d.max(needed)), ..*ctx };
        match shared.part(candidate, 1.0, &ctx, &mut notes) {
            Ok(part) => return Ok(shared.into_refitted(candidate.clone(), vec![part], None, notes)),
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

#[cfg(test)]
#[path = "refit_tests.rs"]
mod tests;
