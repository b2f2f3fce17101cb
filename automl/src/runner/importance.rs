//! What the report shows of the model's reliance on each column, measured at the end of a
//! run within a bound of work: mean |TreeSHAP| of its tree configurations on training
//! rows, and permutation importance of its configurations' split models, each on the
//! validation rows it did not train on.
use std::borrow::Cow;
use std::time::Instant;

use automl_core::data::Table;
use automl_core::learners::{learner_by_name, FittedModel};
use automl_core::metrics::{BuiltinMetric, Metric, Prediction};
use automl_core::preprocess::Pipeline;

use crate::artifact::ModelArtifact;
use crate::evaluate::ExperimentData;
use crate::explain::permutation;
use crate::html::{Importances, PermutationImportance, ShapImportance};
use crate::trial::TrialResult;

/// Most rows explained or permuted.
const ROWS: usize = 1000;
/// TreeSHAP work allowed (leaves x depth² summed over rows) in [`SHAP_S`] seconds: less
/// when fewer seconds are left.
const SHAP_WORK: f64 = 1e9;
/// Seconds [`SHAP_WORK`] takes, about (3 s here on one core).
const SHAP_S: f64 = 3.0;
/// Most seconds the permutations may take, estimated from one scoring (less under a
/// time budget: see [`allowance`]).
const PERMUTATION_S: f64 = 20.0;
/// Shuffles per column.
const REPEATS: usize = 3;

/// Seconds both measurements may take: without a time budget [`PERMUTATION_S`]; under
/// one, what is `left` of it when the model is saved (the search kept [`reserve`] back for
/// them), at most a tenth of it, so that the budget holds.
pub fn allowance(time_budget: Option<f64>, left: Option<f64>) -> f64 {
    time_budget.map_or(PERMUTATION_S, |b| (0.1 * b).min(PERMUTATION_S).min(left.unwrap_or(f64::INFINITY)).max(0.0))
}

/// Seconds a run keeps back from its search for the report's measurements: a twentieth
/// of its time budget, from 0.5 to 5 s, when it writes an output folder (0 otherwise).
pub fn reserve(options: &crate::options::ExperimentOptions) -> f64 {
    match (&options.out, options.time_budget) {
        (Some(_), Some(b)) => (0.05 * b).clamp(0.5, 5.0).min(0.1 * b),
        _ => 0.0,
    }
}

/// Both importances of `model`, fitted on `data` by the trials of `leaderboard`, with
/// notes on what was left out; TreeSHAP explains fewer rows, and the permutations are
/// skipped, when they would take more than `seconds` in all.
pub fn measure(model: &ModelArtifact, leaderboard: &[TrialResult], data: &ExperimentData, seed: u64, seconds: f64) -> Importances {
    let mut out = Importances::default();
    let started = Instant::now();
    match shap(model, data, SHAP_WORK * (seconds / SHAP_S).min(1.0)) {
        Ok(s) => out.shap = Some(s),
        Err(note) => out.notes.push(note),
    }
    let seconds = (seconds - started.elapsed().as_secs_f64()).max(0.0);
    match permuted(model, leaderboard, data, seed, seconds) {
        Ok(p) => out.permutation = Some(p),
        Err(note) => out.notes.push(note),
    }
    out
}

/// Mean |TreeSHAP| of the whole model when it can be explained at once, else of its
/// largest tree configuration, on as many training rows as the work bound allows.
fn shap(model: &ModelArtifact, data: &ExperimentData, max_work: f64) -> Result<ShapImportance, String> {
    let (trial, whole) = match model.explained_members(None) {
        Ok(_) => (None, true),
        Err(e) => {
            let heaviest = crate::artifact::configurations(&model.members).into_iter().filter(|c| c.first.model.shap_work().is_some()).max_by(|a, b| a.weight.total_cmp(&b.weight));
            (Some(heaviest.ok_or_else(|| format!("TreeSHAP is not shown: {e}"))?.first.trial), false)
        }
    };
    let members = model.explained_members(trial).map_err(|e| format!("TreeSHAP is not shown: {e}"))?;
    let work: f64 = members.iter().filter_map(|(m, _)| m.model.shap_work()).sum();
    let rows = ((max_work / work.max(1.0)) as usize).min(ROWS).min(data.table.n_rows);
    if rows < 50 {
        return Err(format!("TreeSHAP is not shown: the model's trees would take too long to explain in the time left here; `automl explain` computes it ({work:.1e} steps a row)"));
    }
    let sample = data.table.take(&spread(data.table.n_rows, rows));
    let e = model.explain_table(&sample, "the training rows", trial).map_err(|e| format!("TreeSHAP is not shown: {e}"))?;
    Ok(ShapImportance { trials: e.trials.clone(), whole_model: whole, space: e.space.name().into(), rows, columns: e.importance() })
}

/// A model of one validation split, with its share of the model's weight.
struct SplitModel<'a> {
    fold: usize,
    weight: f64,
    model: &'a FittedModel,
    sharpen: f64,
    pipeline: Cow<'a, Pipeline>,
}

/// The model's configurations as split models: a bagged configuration's own members, a
/// refit one's models of the splits from its trial; `None` when a refit configuration's
/// trial kept none (a holdout, plugins, remote trials).
fn split_models<'a>(model: &'a ModelArtifact, leaderboard: &'a [TrialResult], data: &ExperimentData) -> Option<Vec<SplitModel<'a>>> {
    let mut out = Vec::new();
    for c in model.configurations() {
        if c.first.fold.is_some() {
            let members = model.members.iter().filter(|m| m.trial == c.first.trial);
            out.extend(members.map(|m| SplitModel { fold: m.fold.unwrap_or(0), weight: m.weight, model: &m.model, sharpen: m.sharpen, pipeline: Cow::Borrowed(&model.pipelines[m.pipeline]) }));
            continue;
        }
        let folds = leaderboard.iter().find(|t| t.id == c.first.trial)?.fold_models.as_ref()?;
        let encoding = learner_by_name(&c.first.learner).ok()?.encoding();
        let k = folds.models.len() as f64;
        for (fold, m) in folds.models.iter().enumerate() {
            let pipeline = data.design(fold, encoding).ok()?.pipeline.clone();
            out.push(SplitModel { fold, weight: c.weight / k, model: m, sharpen: c.first.sharpen, pipeline: Cow::Owned(pipeline) });
        }
    }
    Some(out)
}

/// Permutation importance of the model's configurations (see [`split_models`]): each
/// split's models predict the validation rows of that split, so every score is on rows
/// they did not train on.
fn permuted(model: &ModelArtifact, leaderboard: &[TrialResult], data: &ExperimentData, seed: u64, seconds: f64) -> Result<PermutationImportance, String> {
    if seconds <= 0.0 {
        return Err("permutation importance is not shown: no time was left of the time budget; `automl explain --permutation` measures it".into());
    }
    let Some(bagged) = split_models(model, leaderboard, data).filter(|s| !s.is_empty()) else {
        return Err("permutation importance is not shown: the model was refit on all rows and its trials kept no models of the validation splits, so no rows are held out from it; `automl explain --permutation` measures it on data you held out".into());
    };
    let mut folds: Vec<usize> = bagged.iter().map(|m| m.fold).collect();
    folds.sort_unstable();
    folds.dedup();
    let per_fold = ROWS.div_ceil(folds.len());
    let mut rows = Vec::new();
    let mut parts = Vec::new();
    for &k in &folds {
        let valid = &data.splits.get(k).ok_or_else(|| format!("permutation importance is not shown: split {k} is not in this run"))?.valid;
        let picked: Vec<usize> = spread(valid.len(), per_fold.min(valid.len())).into_iter().map(|i| valid[i]).collect();
        parts.push((k, rows.len()..rows.len() + picked.len()));
        rows.extend(picked);
    }
    let table = data.table.take(&rows);
    let truth = data.target.take(&rows);
    let metric = BuiltinMetric::from_name(&model.metric).unwrap_or_else(|_| BuiltinMetric::default_for(model.task));
    let score = |t: &Table| -> crate::error::Result<f64> {
        let mut predictions = Vec::new();
        for (k, range) in &parts {
            let positions: Vec<usize> = range.clone().collect();
            let of_fold: Vec<&SplitModel> = bagged.iter().filter(|m| m.fold == *k).collect();
            let total: f64 = of_fold.iter().map(|m| m.weight).sum();
            // Configurations of one encoding share the split's pipeline: transform once.
            let mut designs: Vec<(&Pipeline, ndarray::Array2<f64>)> = Vec::new();
            let mut members: Vec<(f64, Prediction)> = Vec::with_capacity(of_fold.len());
            for m in &of_fold {
                let at = match designs.iter().position(|(p, _)| **p == *m.pipeline) {
                    Some(at) => at,
                    None => {
                        designs.push((&*m.pipeline, m.pipeline.transform(t, Some(&positions))?));
                        designs.len() - 1
                    }
                };
                members.push((m.weight / total, automl_core::calibrate::sharpen_prediction(m.model.predict(designs[at].1.view())?, m.sharpen)));
            }
            predictions.push(crate::ensemble::blend(&members).ok_or_else(|| crate::error::Error::Config("members predict in different shapes".into()))?);
        }
        let joined = Prediction::concat(&predictions).ok_or_else(|| crate::error::Error::Config("splits predict in different shapes".into()))?;
        Ok(metric.score(&truth, &joined)?)
    };
    let columns: Vec<String> = model.inputs().into_iter().map(|c| c.name.clone()).collect();
    let started = Instant::now();
    score(&table).map_err(|e| format!("permutation importance is not shown: {e}"))?;
    let once = started.elapsed().as_secs_f64();
    let repeats = if once * (columns.len() * REPEATS) as f64 <= seconds { REPEATS } else { 1 };
    if once * columns.len() as f64 > seconds {
        return Err(format!("permutation importance is not shown: {} columns at {once:.2} s a scoring would take too long in the time left here; `automl explain --permutation` measures it", columns.len()));
    }
    let (baseline, importance) = permutation(&table, &columns, repeats, seed, metric.direction(), score).map_err(|e| format!("permutation importance is not shown: {e}"))?;
    Ok(PermutationImportance { metric: metric.name().to_string(), score: baseline, rows: rows.len(), repeats, columns: importance })
}

/// `k` indices spread evenly over `0..n` (all of them when `k >= n`).
fn spread(n: usize, k: usize) -> Vec<usize> {
    if k >= n {
        return (0..n).collect();
    }
    (0..k).map(|i| i * n / k).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_measures_within_what_is_left_of_the_budget() {
        // Without a budget: the fixed bound. Under one: a tenth of it, at most what is left.
        assert_eq!(allowance(None, None), PERMUTATION_S);
        assert_eq!(allowance(Some(30.0), Some(10.0)), 3.0);
        assert_eq!(allowance(Some(30.0), Some(1.2)), 1.2);
        assert_eq!(allowance(Some(30.0), Some(0.0)), 0.0);
        assert_eq!(allowance(Some(1000.0), Some(500.0)), PERMUTATION_S);
        // The search keeps a twentieth back for it, from 0.5 to 5 s, only with an output folder.
        let mut o = crate::options::ExperimentOptions::new("data.csv", "y");
        o.time_budget = Some(30.0);
        assert_eq!(reserve(&o), 0.0);
        o.out = Some("out".into());
        assert_eq!(reserve(&o), 1.5);
        o.time_budget = Some(2.0);
        assert_eq!(reserve(&o), 0.2, "never more than a tenth of a short budget");
        o.time_budget = Some(600.0);
        assert_eq!(reserve(&o), 5.0);
        o.time_budget = None;
        assert_eq!(reserve(&o), 0.0);
    }
}
