//! The experiment runner, in parts a newcomer can find:
//!
//! - [`setup`]: plugins, ingest and profile, metric, splits, learners and strategy;
//! - [`schedule`]: the loop that asks, dispatches, collects and stops on the budgets;
//! - [`record`]: the journal, `trials.jsonl` and the leaderboard;
//! - [`refit`]: the best configuration fitted on all rows, and the model file;
//! - [`monitor`]: early stopping of running trials.
//!
//! Built-in trials (`automl run DATA --target Y`) and custom trials (`automl run --spec`)
//! go through the same loop with their own strategy and spec; where trials run is an
//! [`Executor`](crate::executor::Executor) chosen here.
use std::sync::Arc;
use std::time::{Duration, Instant};

use automl_core::data::Table;

use crate::error::{Error, Result};
use crate::executor::{Executor, LocalExecutor};
use crate::journal::JournalState;
use crate::options::{ExecutorKind, ExperimentOptions};
use crate::outcome::{ExperimentResult, Observer};
use crate::report;
use crate::search::AskContext;
use crate::trial::{TrialResult, TrialStatus};
use crate::util::new_experiment_id;

pub mod finish;
pub mod importance;
pub mod monitor;
pub mod record;
pub mod refit;
pub mod schedule;
pub mod setup;

#[cfg(feature = "kubernetes")]
mod custom;
#[cfg(feature = "kubernetes")]
pub use custom::{custom_dry_run, run_custom_spec};

#[cfg(test)]
mod tests;

use monitor::{builtin_rule, RuleMonitor};
use record::Recorder;
use schedule::{RefitReserve, Schedule};

/// Said when the Kubernetes executor is asked for in an engine built without it.
pub const NO_KUBERNETES: &str = "this automl was built without the `kubernetes` feature: rebuild with it (the default) to run trials on a cluster";

/// Runs the built-in experiment of `options` (a new one, or the one `resume` read back
/// from its journal) on `frame` or the data file, reporting to `observer`.
pub fn run_builtin(options: &ExperimentOptions, resume: Option<&JournalState>, frame: Option<Arc<Table>>, observer: &mut dyn Observer) -> Result<ExperimentResult> {
    let start = Instant::now();
    let remote = options.executor == ExecutorKind::Kubernetes;
    let mut setup = setup::prepare(options, frame, remote)?;
    let experiment = resume.map_or_else(new_experiment_id, |r| r.experiment.clone());
    let settings = serde_json::to_value(options).map_err(|e| Error::Serialize { what: "the settings for the journal as JSON".into(), source: Box::new(e) })?;
    // Output only once the data is known good: a bad file leaves nothing behind.
    let mut recorder = Recorder::open(options.out.as_deref(), resume, &experiment, settings, options.force)?;
    recorder.json_file("profile.json", &setup.profile)?;
    observer.on_profile(&setup.profile);
    let wants_train = options.wants_train_scores();
    let rule = options.early_stopping.then(|| builtin_rule(options.stopping_rule));
    let monitor = Arc::new(RuleMonitor::new(rule, setup.direction, wants_train, setup.plugins.stopping.clone()));
    // Remote trials check their copy of the data against this digest.
    let sha256 = remote.then(|| setup.digest().to_string());
    let mut data = setup.data_ref(options, sha256);
    data.prepared = setup.share_data(options, &data);
    let mut executor = executor_for(options, &setup, &experiment)?;
    let spec = setup.spec(options, data, wants_train);
    let fold_share = setup.fold_share();
    let setup_time = start.elapsed();
    let search = Schedule {
        strategy: &mut setup.strategy,
        executor: executor.as_mut(),
        monitor,
        recorder: &mut recorder,
        observer: &mut *observer,
        budgets: options.budgets(),
        direction: setup.direction,
        spec: &spec,
        reserve: RefitReserve::Refit { fold_share, final_fit: options.final_fit, report_s: importance::reserve(options) },
        run_rules: setup.plugins.stopping.clone(),
        setup_time,
    }
    .run(resume)?;
    let mut notes = std::mem::take(&mut setup.plugins.notes);
    notes.extend(search.notes);
    notes.extend(executor.shutdown(options.kubernetes.keep_jobs));
    recorder.ended(search.stop_reason)?;
    let mut leaderboard = report::rank(search.results, setup.direction);
    recorder.leaderboard(&leaderboard, &setup.metric_name, None)?;
    if !leaderboard.iter().any(TrialResult::refittable) {
        return Err(crate::outcome::no_successful_trial(&leaderboard));
    }
    let refit_start = Instant::now();
    let spent = resume.map_or(0.0, |r| r.spent_s);
    let deadline = options.time_budget.map(|t| start + Duration::from_secs_f64((t - spent).max(0.0)));
    let timed = crate::bagging::times_predictions(setup.data.table.n_rows, deadline.is_some());
    refit::time_kept_models(&mut leaderboard, &setup.data, timed);
    crate::ensemble::sharpen_kept(&mut leaderboard, &setup.data.out_of_fold_target(), deadline);
    let selection = options.ensemble.then(|| crate::ensemble::select(&leaderboard, &setup.data.out_of_fold_target(), setup.metric.as_ref(), deadline, timed)).flatten();
    let ctx = refit::RefitContext { data: &setup.data, metric: setup.metric.as_ref(), deadline, fold_share, seed: options.seed, final_fit: options.final_fit };
    let mut refitted = refit::refit_model(&leaderboard, selection, &ctx, observer)?;
    let refit_s = refit_start.elapsed().as_secs_f64();
    notes.append(&mut refitted.notes);
    let ensemble = refitted.ensemble.clone();
    let final_fit = refitted.fit;
    if let Some(e) = &ensemble {
        notes.push(format!("the model is a weighted ensemble of {} trials ({}), scoring {:.5} on the validation rows against {:.5} for the best trial alone", e.members.len(), e.members.iter().map(|(id, w)| format!("{id}: {w:.2}")).collect::<Vec<_>>().join(", "), e.score, e.best_single));
        recorder.leaderboard(&leaderboard, &setup.metric_name, Some(crate::report::EnsembleRow { selection: e, members: &refitted.members }))?;
    }
    let best = refitted.trial.clone();
    if best.status == TrialStatus::EarlyStopped {
        notes.push(format!(
            "no trial ran to the end: the model is trial {}'s configuration ({}), stopped early by a rule at score {:.4}, refit on all rows",
            best.id,
            best.learner,
            best.score.unwrap_or(f64::NAN)
        ));
    }
    let mut validation = finish::model_validation(&leaderboard, ensemble.as_ref(), &best, &setup.data, final_fit);
    let sha256 = setup.digest().to_string();
    let artifact = refit::artifact(refitted, options, setup.task, &setup.target, &setup.metric_name, sha256);
    finish::save_model(&mut recorder, &artifact, validation.as_mut(), &leaderboard, &setup.data, options, deadline)?;
    let out = recorder.out().map(std::path::Path::to_path_buf);
    let mut result = ExperimentResult {
        profile: setup.profile,
        metric: setup.metric_name,
        direction: setup.direction,
        validation: setup.plan,
        leaderboard,
        best,
        artifact,
        ensemble,
        final_fit,
        stop_reason: search.stop_reason,
        search_s: search.search_s,
        refit_s,
        elapsed_s: start.elapsed().as_secs_f64(),
        first_trial_s: search.first_trial_s,
        files: recorder.files,
        notes,
        plugins: setup.plugins.loaded,
    };
    if let Some(out) = out {
        finish::write_record(&out, &mut result, validation.as_ref())?;
    }
    Ok(result)
}

/// Where the trials of `options` run.
fn executor_for(options: &ExperimentOptions, setup: &setup::Setup, experiment: &str) -> Result<Box<dyn Executor>> {
    match options.executor {
        ExecutorKind::Local => Ok(Box::new(LocalExecutor::new(Arc::clone(&setup.data), Arc::clone(&setup.metric), setup.extra_metrics.clone()))),
        ExecutorKind::Kubernetes => kubernetes_executor(options, experiment, &setup.plugins.remote),
    }
}

#[cfg(feature = "kubernetes")]
fn kubernetes_executor(options: &ExperimentOptions, experiment: &str, plugins: &[(String, Arc<[u8]>)]) -> Result<Box<dyn Executor>> {
    use crate::kubernetes::{JobTemplate, KubernetesExecutor};
    let mut executor = KubernetesExecutor::connect(options.kubernetes.clone(), experiment, JobTemplate::Builtin)?;
    executor.publish_plugins(plugins)?;
    Ok(Box::new(executor))
}

#[cfg(not(feature = "kubernetes"))]
fn kubernetes_executor(_options: &ExperimentOptions, _experiment: &str, _plugins: &[(String, Arc<[u8]>)]) -> Result<Box<dyn Executor>> {
    Err(Error::Config(NO_KUBERNETES.into()))
}

/// The Jobs the Kubernetes executor would create first (one per concurrent trial), as
/// YAML, without connecting to a cluster or writing anything: `--dry-run`. Later trials
/// depend on the scores of these, so they cannot be listed in advance.
pub fn builtin_dry_run(options: &ExperimentOptions) -> Result<String> {
    if options.executor != ExecutorKind::Kubernetes {
        return Err(Error::Config("--dry-run shows the Kubernetes Jobs of a run: add --executor kubernetes".into()));
    }
    let mut setup = setup::prepare(options, None, true)?;
    let sha256 = Some(setup.digest().to_string());
    // Nothing is written: the Jobs are shown without the prepared copy of the data.
    let spec = setup.spec(options, setup.data_ref(options, sha256), options.wants_train_scores());
    let (first, limit) = options.budgets().first_wave();
    let mut specs = Vec::new();
    for id in 1..=first {
        let Some(suggestion) = crate::search::Strategy::ask(&mut setup.strategy, &AskContext::default()) else { break };
        specs.push(spec(id, &suggestion, limit));
    }
    render_dry_run(options, specs)
}

#[cfg(feature = "kubernetes")]
fn render_dry_run(options: &ExperimentOptions, specs: Vec<crate::trial::TrialSpec>) -> Result<String> {
    crate::kubernetes::dry_run(&options.kubernetes, &new_experiment_id(), &crate::kubernetes::JobTemplate::Builtin, &specs)
}

#[cfg(not(feature = "kubernetes"))]
fn render_dry_run(_options: &ExperimentOptions, _specs: Vec<crate::trial::TrialSpec>) -> Result<String> {
    Err(Error::Config(NO_KUBERNETES.into()))
}
