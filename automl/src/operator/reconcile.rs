//! The reconcile loop: for each Experiment, add the finalizer, start its run (or pick it up
//! from its journal after a restart), keep the running-trial count, and on deletion stop
//! the run and delete its Jobs before the finalizer goes.
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams, PropagationPolicy};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{finalizer, Event};
use kube::ResourceExt;

use super::status::{is_terminal, RunObserver, Tracker};
use super::translate::{self, Refusal};
use super::{Context, Run};
use crate::error::{Error, Result};
use crate::kubernetes::crd::Experiment;
use crate::kubernetes::labels;
use crate::options::CancelToken;

/// The finalizer that holds a deleted Experiment until its Jobs are gone.
pub const FINALIZER: &str = "automl.dev/trial-jobs";

/// How often a running Experiment is looked at even when nothing changes.
const RECHECK: Duration = Duration::from_secs(60);

/// Reconciles one Experiment.
pub async fn reconcile(exp: Arc<Experiment>, ctx: Arc<Context>) -> std::result::Result<Action, kube::runtime::finalizer::Error<Error>> {
    let ns = exp.namespace().unwrap_or_else(|| "default".into());
    let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, exp, |event| async {
        match event {
            Event::Apply(e) => apply(&e, &ctx).await,
            Event::Cleanup(e) => cleanup(&e, &ctx).await,
        }
    })
    .await
}

/// After a failed reconcile: again after 1, 2, 4 ... seconds, at most 5 minutes, per object.
pub fn error_policy(exp: Arc<Experiment>, error: &kube::runtime::finalizer::Error<Error>, ctx: Arc<Context>) -> Action {
    let uid = exp.uid().unwrap_or_default();
    let failures = {
        let mut f = crate::util::lock(&ctx.failures);
        let n = f.entry(uid).or_insert(0);
        *n += 1;
        *n
    };
    let wait = Duration::from_secs(1u64 << failures.min(9)).min(Duration::from_secs(300));
    eprintln!("automl operator: reconciling {}/{} failed (again in {}s): {error}", exp.namespace().unwrap_or_default(), exp.name_any(), wait.as_secs());
    Action::requeue(wait)
}

async fn apply(exp: &Experiment, ctx: &Context) -> Result<Action> {
    let uid = exp.uid().unwrap_or_default();
    crate::util::lock(&ctx.failures).remove(&uid);
    if is_terminal(exp.status.as_ref()) {
        return Ok(Action::await_change());
    }
    let running = crate::util::lock(&ctx.runs).get(&uid).map(|r| Arc::clone(&r.tracker));
    match running {
        Some(tracker) => count_running(exp, ctx, &tracker),
        None => start(exp, ctx).await?,
    }
    Ok(Action::requeue(RECHECK))
}

/// Keeps `status.trials.running` at the number of the run's Jobs still active (from the
/// operator's cache of Jobs: a reconcile per Job event must not list them all).
fn count_running(exp: &Experiment, ctx: &Context, tracker: &Tracker) {
    let uid = exp.uid().unwrap_or_default();
    let mine = |j: &Job| j.metadata.labels.as_ref().and_then(|l| l.get(labels::OWNER_UID)) == Some(&uid);
    let active = ctx.jobs.state().iter().filter(|j| mine(j) && j.status.as_ref().is_none_or(|s| s.completion_time.is_none() && !failed(j))).count() as u64;
    let current = tracker.current();
    if current.trials.running != active && !is_terminal(Some(&current)) {
        tracker.update(|s, _| s.trials.running = active);
    }
}

fn failed(job: &Job) -> bool {
    job.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Failed" && c.status == "True")
}

async fn owned_jobs(exp: &Experiment, ctx: &Context) -> Result<Vec<Job>> {
    let ns = exp.namespace().unwrap_or_else(|| "default".into());
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = format!("{}={}", labels::OWNER_UID, exp.uid().unwrap_or_default());
    let list = api.list(&ListParams::default().labels(&selector)).await.map_err(|e| Error::cluster_caused(format!("cannot list the Jobs of {}", exp.name_any()), e))?;
    Ok(list.items)
}

/// Starts the run of `exp` on its own thread: a new one, or the one its journal records.
async fn start(exp: &Experiment, ctx: &Context) -> Result<()> {
    let uid = exp.uid().unwrap_or_default();
    let ns = exp.namespace().unwrap_or_else(|| "default".into());
    let api: Api<Experiment> = Api::namespaced(ctx.client.clone(), &ns);
    let tracker = Tracker::start(api, &exp.name_any(), exp.status.clone().unwrap_or_default(), exp.metadata.generation, &ctx.runtime);
    let dir = translate::run_dir(&ctx.options.state_dir(), exp);
    let fresh = !dir.join(crate::journal::JOURNAL_FILE).exists();
    let plugins = if fresh { super::plugins::fetch(&Api::namespaced(ctx.client.clone(), &ns), &exp.spec.plugins, &dir).await } else { Ok(Vec::new()) };
    let prepared = match plugins.map_err(Prepared::Refused).and_then(|p| prepare(exp, ctx, &dir, fresh, p)) {
        Ok(p) => p,
        Err(Prepared::Refused(r)) => {
            eprintln!("automl operator: {ns}/{}: {}: {}", exp.name_any(), r.reason, r.message);
            tracker.failed(r.reason, &r.message);
            return Ok(());
        }
        Err(Prepared::Finished) => {
            let (model, best) = finished(&dir, ctx);
            tracker.succeeded(model, best, "the search had ended before the operator restarted");
            return Ok(());
        }
    };
    let (mut runnable, resumed) = prepared;
    let cancel = CancelToken::new();
    runnable.set_cancel(cancel.clone());
    tracker.running(resumed);
    eprintln!("automl operator: {ns}/{}: {} in {}", exp.name_any(), if resumed { "resuming" } else { "starting" }, dir.display());
    let deleted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = Run { tracker: Arc::clone(&tracker), cancel, deleted: Arc::clone(&deleted) };
    crate::util::lock(&ctx.runs).insert(uid, run);
    let model = ctx.options.model_location(&dir);
    let name = format!("{ns}/{}", exp.name_any());
    std::thread::Builder::new()
        .name(format!("experiment {name}"))
        .spawn(move || {
            let outcome = runnable.run(&tracker);
            if deleted.load(Ordering::SeqCst) {
                return;
            }
            match outcome {
                Ok(Ended { best, message, model: true }) => tracker.succeeded(Some(model), best, &message),
                Ok(Ended { best, message, model: false }) => tracker.succeeded(None, best, &message),
                Err(e) => {
                    eprintln!("automl operator: {name}: {e}");
                    let reason = if matches!(e, Error::Download { .. }) { "DataUnavailable" } else { "RunFailed" };
                    tracker.failed(reason, &e.to_string());
                }
            }
        })
        .map_err(|e| Error::Config(format!("cannot start a thread for {}: {e}", exp.name_any())))?;
    Ok(())
}

/// A run, ready to start on its thread.
enum Runnable {
    /// Built-in trials, after downloading the data when it comes by URL.
    Builtin(Box<crate::Experiment>, Option<Download>),
    /// The user's trial container.
    Custom(Box<crate::CustomExperiment>),
}

/// Data to fetch into the run folder before a run: `url`, its SHA-256, and where it goes.
struct Download {
    url: String,
    sha256: String,
    to: std::path::PathBuf,
}

/// How a run ended well: the best trial, what to say, and whether there is a model.
struct Ended {
    best: Option<(u64, Option<f64>)>,
    message: String,
    model: bool,
}

impl Runnable {
    fn set_cancel(&mut self, token: CancelToken) {
        match self {
            Runnable::Builtin(e, _) => e.set_cancel(token),
            Runnable::Custom(e) => e.set_cancel(token),
        }
    }

    fn run(self, tracker: &Arc<Tracker>) -> Result<Ended> {
        let mut observer = RunObserver(Arc::clone(tracker));
        match self {
            Runnable::Builtin(e, download) => {
                if let Some(d) = download {
                    fetch(&d)?;
                }
                let r = e.into_run_with(&mut observer)?;
                let message = format!("trial {} is the best ({}); the model is saved", r.best.id, r.best.learner);
                Ok(Ended { best: Some((r.best.id, r.best.score)), message, model: true })
            }
            Runnable::Custom(e) => {
                let r = e.run_with(&mut observer)?;
                r.succeeded()?;
                let best = r.leaderboard.first();
                let message = best.map_or_else(|| "the search ended".to_string(), |b| format!("trial {} is the best: {}", b.id, serde_json::to_string(&b.config).unwrap_or_default()));
                Ok(Ended { best: best.map(|b| (b.id, b.score)), message, model: false })
            }
        }
    }
}

/// Downloads the data (unless an earlier start did) and checks its SHA-256.
fn fetch(d: &Download) -> Result<()> {
    if d.to.exists() {
        return Ok(());
    }
    let dir = d.to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (path, digest) = crate::kubernetes::fetch::download(&d.url, dir)?;
    if digest != d.sha256 {
        let _ = std::fs::remove_file(&path);
        return Err(Error::Download { url: d.url.clone(), message: format!("its SHA-256 is {digest}, not the {} that spec.data.url.sha256 gives; fix the digest or the file", d.sha256) });
    }
    if path != d.to {
        std::fs::rename(&path, &d.to).map_err(|e| Error::io(&d.to, e))?;
    }
    Ok(())
}

enum Prepared {
    Refused(Refusal),
    /// The journal records a search that ended.
    Finished,
}

/// The run: new from the spec (`fresh`: `dir` holds no journal), or resumed from its journal.
fn prepare(exp: &Experiment, ctx: &Context, dir: &Path, fresh: bool, plugins: Vec<std::path::PathBuf>) -> std::result::Result<(Runnable, bool), Prepared> {
    let refused = |reason: &'static str, e: Error| Prepared::Refused(Refusal { reason, message: e.to_string() });
    if !fresh {
        let state = crate::journal::read(dir).map_err(|e| refused("JournalDamaged", e))?;
        if state.ended {
            return Err(Prepared::Finished);
        }
        return match crate::resume(dir).map_err(|e| refused("JournalDamaged", e))? {
            crate::Resumed::Builtin(e) => Ok((Runnable::Builtin(Box::new(e), None), true)),
            crate::Resumed::Custom(e) => Ok((Runnable::Custom(Box::new(e)), true)),
        };
    }
    let plan = translate::plan(exp, &ctx.options, dir, plugins).map_err(Prepared::Refused)?;
    std::fs::create_dir_all(dir).map_err(|e| refused("StateUnavailable", Error::io(dir, e)))?;
    match plan {
        translate::Plan::Builtin(options, fetch) => {
            let download = fetch.map(|(url, sha256)| Download { url, sha256, to: options.data.clone() });
            let e = crate::Experiment::new(*options).map_err(|e| refused("InvalidSpec", e))?;
            Ok((Runnable::Builtin(Box::new(e), download), false))
        }
        translate::Plan::Custom(spec, kubernetes) => {
            let e = crate::CustomExperiment::new(*spec, *kubernetes, dir).map_err(|e| refused("InvalidSpec", e))?;
            Ok((Runnable::Custom(Box::new(e)), false))
        }
    }
}

/// The model (if saved) and best trial of a run folder whose search ended (from its
/// `summary.json`).
fn finished(dir: &Path, ctx: &Context) -> (Option<String>, Option<(u64, Option<f64>)>) {
    let summary: Option<serde_json::Value> = std::fs::read(dir.join("summary.json")).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let best = summary.as_ref().and_then(|s| Some((s["best"]["id"].as_u64()?, s["best"]["score"].as_f64())));
    let model = dir.join("model.automl").exists().then(|| ctx.options.model_location(dir));
    (model, best)
}

/// The Experiment is being deleted: its run stops and its Jobs (and their pods) go.
async fn cleanup(exp: &Experiment, ctx: &Context) -> Result<Action> {
    let uid = exp.uid().unwrap_or_default();
    if let Some(run) = crate::util::lock(&ctx.runs).remove(&uid) {
        run.deleted.store(true, Ordering::SeqCst);
        run.cancel.cancel();
    }
    let ns = exp.namespace().unwrap_or_else(|| "default".into());
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let background = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
    for job in owned_jobs(exp, ctx).await? {
        match api.delete(&job.name_any(), &background).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::cluster_caused(format!("cannot delete Job {}", job.name_any()), e)),
        }
    }
    eprintln!("automl operator: {ns}/{}: deleted; its Jobs are gone", exp.name_any());
    Ok(Action::await_change())
}
