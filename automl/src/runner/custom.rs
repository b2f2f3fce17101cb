//! Custom trials (`automl run --spec`, Katib's trial template): the user's own image run
//! as Jobs, its `${name}` placeholders filled from the spec's search space, its logged
//! objective the score. The same loop and record as built-in trials; no refit (the
//! user's code trains the model).
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::monitor::{builtin_rule, RuleMonitor};
use super::record::Recorder;
use super::schedule::{RefitReserve, Schedule};
use crate::error::{Error, Result};
use crate::journal::JournalState;
use crate::kubernetes::{JobTemplate, KubernetesExecutor};
use crate::options::{CancelToken, KubernetesOptions};
use crate::outcome::{CustomResult, Observer};
use crate::report;
use crate::search::{AskContext, SpaceSearch, Strategy};
use crate::spec::ExperimentSpec;
use crate::stopping::BuiltinRule;
use crate::util::new_experiment_id;

/// Runs `spec` on the cluster of `kube`, recording into `out`; `resume` continues the
/// journal of a run that stopped. The result holds every trial even when none succeeded
/// (see [`CustomResult::succeeded`]).
#[allow(clippy::too_many_arguments)]
pub fn run_custom_spec(spec: &ExperimentSpec, kube: &KubernetesOptions, out: &Path, force: bool, cancel: Option<CancelToken>, resume: Option<&JournalState>, observer: &mut dyn Observer) -> Result<CustomResult> {
    let start = Instant::now();
    let budgets = spec.budgets(cancel)?;
    let experiment = resume.map_or_else(new_experiment_id, |r| r.experiment.clone());
    let settings = serde_json::json!({ "custom": spec, "kubernetes": kube });
    let mut recorder = Recorder::open(Some(out), resume, &experiment, settings, force)?;
    let direction = spec.direction();
    let rule = spec.early_stopping.unwrap_or(true).then(|| builtin_rule(BuiltinRule::Median));
    let monitor = Arc::new(RuleMonitor::new(rule, direction, false, Vec::new()));
    let mut executor = KubernetesExecutor::connect(kube.clone(), &experiment, JobTemplate::Custom(spec.trial.clone()))?;
    let mut strategy = SpaceSearch::new(&spec.name, spec.space(), spec.seed);
    let make_spec = |id, suggestion: &_, limit| spec.trial_spec(id, suggestion, limit);
    let search = Schedule {
        strategy: &mut strategy,
        executor: &mut executor,
        monitor,
        recorder: &mut recorder,
        observer,
        budgets,
        direction,
        spec: &make_spec,
        reserve: RefitReserve::None,
        run_rules: Vec::new(),
        setup_time: start.elapsed(),
    }
    .run(resume)?;
    let mut notes = search.notes;
    notes.extend(crate::executor::Executor::shutdown(&mut executor, kube.keep_jobs));
    recorder.ended(search.stop_reason)?;
    let leaderboard = report::rank(search.results, direction);
    recorder.leaderboard(&leaderboard, &spec.objective.metric, None)?;
    Ok(CustomResult { experiment, leaderboard, stop_reason: search.stop_reason, elapsed_s: start.elapsed().as_secs_f64(), notes, files: recorder.files })
}

/// The Jobs of the first trials of `spec` (one per concurrent trial) as YAML, creating
/// nothing.
pub fn custom_dry_run(spec: &ExperimentSpec, kube: &KubernetesOptions) -> Result<String> {
    let budgets = spec.budgets(None)?;
    let mut strategy = SpaceSearch::new(&spec.name, spec.space(), spec.seed);
    let (first, limit) = budgets.first_wave();
    let specs: Vec<_> = (1..=first).filter_map(|id| strategy.ask(&AskContext::default()).map(|s| spec.trial_spec(id, &s, limit))).collect();
    if specs.is_empty() {
        return Err(Error::Config("the spec's search space gives no configuration".into()));
    }
    crate::kubernetes::dry_run(kube, &new_experiment_id(), &JobTemplate::Custom(spec.trial.clone()), &specs)
}
