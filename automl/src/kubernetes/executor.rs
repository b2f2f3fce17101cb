//! Dispatches trials as Jobs and follows them to a result.
//!
//! One watcher on the experiment's Jobs and one on its pods (selected by the experiment
//! label) feed every trial's state; each trial has a task that creates its Job (or adopts
//! an existing one: Job names are deterministic, so a create answered 409 is a Job made
//! before a restart), follows its pod's log for `name=value` scores, and decides the
//! outcome from the Job's conditions, the pod's status and its termination message.
//! Nothing here blocks the caller: results arrive through the event callback.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automl_core::learners::Control;
use automl_core::space::Hyperparams;
use futures::{AsyncBufReadExt, StreamExt};
use kube::runtime::WatchStreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::watcher;

use super::manifest::JobTemplate;
use super::protocol::{MetricLines, TrialReport};
use super::{labels, manifest};
use crate::error::{Error, Result};
use crate::executor::{Executor, ExecutorEvent};
use crate::options::KubernetesOptions;
use crate::trial::{TrialMonitor, TrialResult, TrialSpec, TrialStatus, STOPPED_BY_RULE};
use crate::util::lock;

/// One trial to run as a Job.
#[derive(Debug, Clone)]
pub struct Launch {
    /// Trial number.
    pub id: u64,
    /// Learner name (or the custom trial's name).
    pub learner: String,
    /// Hyperparameters.
    pub config: Hyperparams,
    /// The metric whose `name=value` lines are the trial's scores.
    pub objective: String,
    /// The Job to create.
    pub job: Job,
    /// Only look for the Job (it was created before a restart); never create it.
    pub adopt_only: bool,
}

type Sink = Arc<dyn Fn(ExecutorEvent) + Send + Sync>;

/// Runs trials as Jobs in one namespace, for one experiment.
pub struct KubernetesExecutor {
    runtime: tokio::runtime::Runtime,
    client: kube::Client,
    namespace: String,
    experiment: String,
    cfg: KubernetesOptions,
    template: JobTemplate,
    hub: Arc<Hub>,
    sink: Sink,
    events: std::sync::mpsc::Receiver<ExecutorEvent>,
    /// The experiment's plugin ConfigMap was created (and is deleted at the end).
    plugins_published: bool,
}

#[derive(Default)]
struct Hub {
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Creates in flight: shutdown waits for them, so no Job appears after it.
    creating: std::sync::atomic::AtomicUsize,
    /// Jobs given up on; deleted again at shutdown in case a create raced the delete.
    abandoned: Mutex<Vec<String>>,
    /// Since when the API server has not answered (watches and reads failing), if it has not.
    failing_since: Mutex<Option<Instant>>,
}

impl Hub {
    /// The API server answered.
    fn answered(&self) {
        *lock(&self.failing_since) = None;
    }
    /// A watch or read failed.
    fn unanswered(&self) {
        lock(&self.failing_since).get_or_insert_with(Instant::now);
    }
}

#[derive(Default)]
struct Slot {
    changed: tokio::sync::Notify,
    job: Mutex<Option<Job>>,
    job_gone: AtomicBool,
    pods: Mutex<BTreeMap<String, Pod>>,
    abandoned: AtomicBool,
}

impl Hub {
    fn slot(&self, id: u64) -> Option<Arc<Slot>> {
        lock(&self.slots).get(&id).cloned()
    }
}

/// The UID of the object that controls `pod` (its Job's, for a trial's pod).
fn controller_uid(pod: &Pod) -> Option<&str> {
    pod.metadata.owner_references.as_ref()?.iter().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
}

fn trial_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<u64> {
    meta.labels.as_ref()?.get(labels::TRIAL)?.parse().ok()
}

impl KubernetesExecutor {
    /// Puts the preprocessor and metric components (SHA-256, bytes) where trial pods mount
    /// them: the experiment's plugin ConfigMap.
    pub fn publish_plugins(&mut self, components: &[(String, Arc<[u8]>)]) -> Result<()> {
        if components.is_empty() {
            return Ok(());
        }
        let mut map = super::plugins::config_map(&self.experiment, components)?;
        if let Some(owner) = &self.cfg.owner {
            map.metadata.owner_references = Some(vec![super::manifest::owner_reference(owner)]);
        }
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
        self.runtime.block_on(super::plugins::publish(&api, &map))?;
        self.plugins_published = true;
        Ok(())
    }

    /// Connects with the inferred configuration (`KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster ServiceAccount) and starts watching `experiment`'s Jobs and pods.
    /// Trials' Jobs are made from `template`.
    pub fn connect(cfg: KubernetesOptions, experiment: &str, template: JobTemplate) -> Result<Self> {
        let runtime = runtime()?;
        let client = runtime.block_on(async {
            let config = kube::Config::infer().await.map_err(|e| Error::cluster_caused("no Kubernetes configuration found; set KUBECONFIG or run inside a cluster", e))?;
            kube::Client::try_from(config).map_err(|e| Error::cluster_caused("cannot build a Kubernetes client", e))
        })?;
        Self::with_client(runtime, client, cfg, experiment, template)
    }

    fn with_client(runtime: tokio::runtime::Runtime, client: kube::Client, cfg: KubernetesOptions, experiment: &str, template: JobTemplate) -> Result<Self> {
        let (tx, events) = std::sync::mpsc::channel();
        let tx = Mutex::new(tx);
        let sink: Sink = Arc::new(move |e| {
            let _ = lock(&tx).send(e);
        });
        let namespace = cfg.namespace.clone().unwrap_or_else(|| client.default_namespace().to_string());
        let hub = Arc::new(Hub::default());
        let selector = format!("{}={experiment}", labels::EXPERIMENT);
        let jobs: Api<Job> = Api::namespaced(client.clone(), &namespace);
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        // Fail fast on a cluster that cannot be reached or refuses us.
        runtime.block_on(jobs.list(&ListParams::default().labels(&selector).limit(1))).map_err(|e| Error::cluster_caused(format!("cannot list Jobs in namespace '{namespace}'"), e))?;
        let h = Arc::clone(&hub);
        runtime.spawn(watcher(jobs, watcher::Config::default().labels(&selector)).default_backoff().for_each(move |event| {
            let h = Arc::clone(&h);
            async move {
                if event.is_ok() {
                    h.answered();
                }
                match event {
                    Ok(watcher::Event::Apply(job) | watcher::Event::InitApply(job)) => {
                        if let Some(slot) = trial_of(&job.metadata).and_then(|id| h.slot(id)) {
                            *lock(&slot.job) = Some(job);
                            slot.job_gone.store(false, Ordering::Relaxed);
                            slot.changed.notify_one();
                        }
                    }
                    Ok(watcher::Event::Delete(job)) => {
                        if let Some(slot) = trial_of(&job.metadata).and_then(|id| h.slot(id)) {
                            slot.job_gone.store(true, Ordering::Relaxed);
                            slot.changed.notify_one();
                        }
                    }
                    // The watcher re-lists and retries on its own (with backoff below).
                    Ok(_) => {}
                    Err(_) => h.unanswered(),
                }
            }
        }));
        let h = Arc::clone(&hub);
        runtime.spawn(watcher(pods, watcher::Config::default().labels(&selector)).default_backoff().for_each(move |event| {
            let h = Arc::clone(&h);
            async move {
                let (pod, deleted) = match event {
                    Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => (p, false),
                    Ok(watcher::Event::Delete(p)) => (p, true),
                    Ok(_) | Err(_) => return,
                };
                let (Some(slot), Some(name)) = (trial_of(&pod.metadata).and_then(|id| h.slot(id)), pod.metadata.name.clone()) else { return };
                if deleted {
                    lock(&slot.pods).remove(&name);
                } else {
                    lock(&slot.pods).insert(name, pod);
                }
                slot.changed.notify_one();
            }
        }));
        Ok(KubernetesExecutor { runtime, client, namespace, experiment: experiment.to_string(), cfg, template, hub, sink, events, plugins_published: false })
    }

    /// Like [`connect`](Self::connect) but with a given client configuration (tests,
    /// benchmarks).
    pub fn with_kube_client(client_config: kube::Config, cfg: KubernetesOptions, experiment: &str, template: JobTemplate) -> Result<Self> {
        let runtime = runtime()?;
        let client = {
            let _guard = runtime.enter();
            kube::Client::try_from(client_config).map_err(|e| Error::cluster_caused("cannot build a Kubernetes client", e))?
        };
        Self::with_client(runtime, client, cfg, experiment, template)
    }

    /// The namespace Jobs go to.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The experiment id (the value of the experiment label).
    pub fn experiment(&self) -> &str {
        &self.experiment
    }

    /// The options.
    pub fn options(&self) -> &KubernetesOptions {
        &self.cfg
    }

    /// Starts `launch`; scores go to `monitor` as they are logged (a `Stop` answer deletes
    /// the Job), the outcome to [`next_event`](Executor::next_event).
    pub fn launch_job(&self, launch: Launch, monitor: Arc<dyn TrialMonitor>) {
        let slot = Arc::new(Slot::default());
        lock(&self.hub.slots).insert(launch.id, Arc::clone(&slot));
        let ctx = TrialTask {
            jobs: Api::namespaced(self.client.clone(), &self.namespace),
            pods: Api::namespaced(self.client.clone(), &self.namespace),
            slot,
            sink: Arc::clone(&self.sink),
            hub: Arc::clone(&self.hub),
            unschedulable_timeout: Duration::from_secs(self.cfg.unschedulable_timeout_s),
        };
        self.runtime.spawn(ctx.run(launch, monitor));
    }

    /// Gives up on a trial: its Job is deleted (pods included) and no result is sent.
    pub fn abandon(&self, id: u64) {
        if let Some(slot) = lock(&self.hub.slots).remove(&id) {
            slot.abandoned.store(true, Ordering::SeqCst);
            slot.changed.notify_one();
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let name = manifest::job_name(&self.experiment, id);
        lock(&self.hub.abandoned).push(name.clone());
        self.runtime.spawn(async move { delete_job(&jobs, &name).await });
    }

    /// Trials still running.
    pub fn running(&self) -> Vec<u64> {
        lock(&self.hub.slots).keys().copied().collect()
    }

    /// Ends the experiment's side on the cluster: unless `keep_jobs`, deletes every Job of
    /// the experiment still running (pods included), waiting for the deletes to be
    /// accepted. Returns how many were deleted.
    pub fn delete_running(&self, keep_jobs: bool) -> Result<usize> {
        let ids: Vec<u64> = lock(&self.hub.slots).drain().map(|(id, slot)| {
            slot.abandoned.store(true, Ordering::SeqCst);
            slot.changed.notify_one();
            id
        }).collect();
        if keep_jobs {
            return Ok(0);
        }
        // A create still in flight would make its Job after the deletes below.
        let waited = Instant::now();
        while self.hub.creating.load(Ordering::SeqCst) > 0 && waited.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let names: Vec<String> = ids.iter().map(|&id| manifest::job_name(&self.experiment, id)).collect();
        let again: Vec<String> = lock(&self.hub.abandoned).drain(..).collect();
        self.runtime.block_on(async {
            let deletes = names.iter().chain(&again).map(|n| delete_job(&jobs, n));
            let done = futures::future::join_all(deletes).await;
            let failed = done.iter().filter(|d| !**d).count();
            if failed > 0 {
                return Err(Error::cluster(format!(
                    "could not delete {failed} of {} trial Job(s) (the API server did not accept the deletes); delete them with: kubectl delete jobs -n {} -l {}={}",
                    done.len(),
                    self.namespace,
                    labels::EXPERIMENT,
                    self.experiment
                )));
            }
            Ok(names.len())
        })
    }

    /// Looks up a trial's Job: `Ok(None)` when it does not exist.
    pub fn find_job(&self, id: u64) -> Result<Option<Job>> {
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        self.runtime.block_on(jobs.get_opt(&manifest::job_name(&self.experiment, id))).map_err(|e| Error::cluster_caused(format!("cannot look up the Job of trial {id}"), e))
    }
}

impl Executor for KubernetesExecutor {
    fn launch(&mut self, spec: TrialSpec, adopt: bool, monitor: Arc<dyn TrialMonitor>) -> Result<()> {
        let job = self.template.job(&self.cfg, &self.namespace, &self.experiment, &spec)?;
        let launch = Launch { id: spec.id, learner: spec.learner.clone(), config: spec.config.clone(), objective: spec.metric.clone(), job, adopt_only: adopt };
        self.launch_job(launch, monitor);
        Ok(())
    }

    fn abandon(&mut self, trial: u64) {
        KubernetesExecutor::abandon(self, trial);
    }

    fn next_event(&mut self, timeout: Duration) -> Option<ExecutorEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    fn shutdown(&mut self, keep: bool) -> Vec<String> {
        let still_running = self.running().len();
        let mut notes = Vec::new();
        if self.plugins_published && !(keep && still_running > 0) {
            let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), &self.namespace);
            notes.extend(self.runtime.block_on(super::plugins::withdraw(&api, &self.experiment)));
        }
        match self.delete_running(keep) {
            Ok(0) => {}
            Ok(n) => notes.push(format!("deleted {n} running trial Job(s) of experiment {}", self.experiment)),
            Err(e) => notes.push(e.to_string()),
        }
        if keep && still_running > 0 {
            notes.push(format!("--keep-jobs: {still_running} trial Job(s) left running (label {}={})", labels::EXPERIMENT, self.experiment));
        }
        notes
    }

    fn startup_allowance(&self) -> Duration {
        Duration::from_secs(self.cfg.startup_allowance_s)
    }

    fn check(&self) -> Result<()> {
        let limit = Duration::from_secs(self.cfg.api_outage_s);
        match *lock(&self.hub.failing_since) {
            Some(since) if since.elapsed() >= limit => Err(Error::cluster(format!(
                "the Kubernetes API server has not answered for {} s (--api-outage-limit): the run stopped; its trial Jobs may still be running, and `automl resume` continues it once the cluster is back",
                limit.as_secs()
            ))),
            _ => Ok(()),
        }
    }

    fn remote(&self) -> bool {
        true
    }
}

/// How often a running trial's state is read directly, besides the watchers.
const REFRESH: Duration = Duration::from_secs(5);

fn name_selector(job: &str) -> String {
    format!("batch.kubernetes.io/job-name={job}")
}

/// The executor's own async runtime: two workers for the watchers and trial tasks.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("automl-kube")
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime { what: "the Kubernetes executor".into(), source: e })
}

/// Deletes a Job with its pods (background propagation: a Job deleted with the default
/// policy leaves its pods running). True when the delete was accepted or it was gone.
async fn delete_job(jobs: &Api<Job>, name: &str) -> bool {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => true,
        Err(kube::Error::Api(s)) if s.code == 404 => true,
        Err(_) => false,
    }
}

struct TrialTask {
    jobs: Api<Job>,
    pods: Api<Pod>,
    slot: Arc<Slot>,
    sink: Sink,
    hub: Arc<Hub>,
    unschedulable_timeout: Duration,
}

/// Scores read from the log so far, shared with the log-following task.
#[derive(Default)]
struct LogState {
    /// The pod these lines and curves are from: a replaced pod's attempt starts over.
    pod: String,
    curve: Vec<(usize, f64)>,
    /// `train_<objective>` values (the overfitting rule's training scores).
    train_curve: Vec<(usize, f64)>,
    stop_requested: bool,
    tail: Vec<String>,
    lines: usize,
    /// The reader reached the end of this pod's log (the pod had finished).
    ended: bool,
}

impl TrialTask {
    async fn run(self, launch: Launch, monitor: Arc<dyn TrialMonitor>) {
        let started = Instant::now();
        let id = launch.id;
        let name = launch.job.metadata.name.clone().unwrap_or_default();
        let mut result = TrialResult::ended(id, launch.learner.clone(), launch.config.clone(), TrialStatus::Failed, 0.0, None);
        let adopted = match self.create_or_adopt(&launch, &name).await {
            Ok(Some(adopted)) => adopted,
            Ok(None) => return,
            Err(message) => {
                result.message = Some(message);
                return self.finish(result, started);
            }
        };
        (self.sink)(ExecutorEvent::Dispatched { trial: id, job: name.clone() });
        // An adopted Job may have finished long ago: the watchers will not hear of it
        // again, so read its state now (and now and then, in case a watch missed news).
        if adopted {
            self.refresh(&name, id).await;
        }
        if let Some(result) = self.follow(&launch, &name, monitor, result).await {
            self.finish(result, started);
        }
    }

    /// Creates the trial's Job, or finds the one made before a restart. `Ok(Some(adopted))`
    /// once it exists; `Ok(None)` when the trial was abandoned first; `Err` says why it
    /// cannot exist.
    async fn create_or_adopt(&self, launch: &Launch, name: &str) -> std::result::Result<Option<bool>, String> {
        if launch.adopt_only {
            return match self.jobs.get_opt(name).await {
                Ok(Some(job)) => {
                    *lock(&self.slot.job) = Some(job);
                    Ok(Some(true))
                }
                Ok(None) => Err(format!("Job {name} was dispatched before the restart but no longer exists (deleted, or removed by ttlSecondsAfterFinished before its result was read)")),
                Err(e) => Err(format!("cannot look up Job {name}: {e}")),
            };
        }
        self.hub.creating.fetch_add(1, Ordering::SeqCst);
        if self.slot.abandoned.load(Ordering::SeqCst) {
            self.hub.creating.fetch_sub(1, Ordering::SeqCst);
            return Ok(None);
        }
        let created = self.jobs.create(&PostParams::default(), &launch.job).await;
        self.hub.creating.fetch_sub(1, Ordering::SeqCst);
        match created {
            Ok(job) => {
                if let Err(e) = self.create_pod_group(&job).await {
                    delete_job(&self.jobs, name).await;
                    return Err(e);
                }
                *lock(&self.slot.job) = Some(job);
                Ok(Some(false))
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Some(true)),
            Err(e) => Err(format!("cannot create Job {name}: {}", describe(&e))),
        }
    }

    /// Follows the Job, its pods and the newest pod's log until the trial has an outcome
    /// (`None`: it was abandoned, nothing is to be reported).
    async fn follow(&self, launch: &Launch, name: &str, monitor: Arc<dyn TrialMonitor>, mut result: TrialResult) -> Option<TrialResult> {
        let id = launch.id;
        let mut last_refresh = Instant::now();
        let mut final_read = false;
        let logs = Arc::new(Mutex::new(LogState::default()));
        let mut following: Option<String> = None;
        let mut pending_since: Option<Instant> = None;
        loop {
            if self.slot.abandoned.load(Ordering::Relaxed) {
                return None;
            }
            if lock(&logs).stop_requested {
                delete_job(&self.jobs, name).await;
                let l = lock(&logs);
                result.status = TrialStatus::EarlyStopped;
                result.score = l.curve.last().map(|c| c.1);
                result.curve = l.curve.clone();
                result.train_curve = l.train_curve.clone();
                result.message = Some(format!("{STOPPED_BY_RULE} (Job deleted)"));
                return Some(result);
            }
            let mut job = lock(&self.slot.job).clone();
            // The Job and pod watches are separate streams: when the Job has finished, read
            // its pods directly so the outcome does not depend on which news came first.
            if !final_read && job.as_ref().is_some_and(job_finished) {
                final_read = true;
                self.refresh(name, id).await;
                job = lock(&self.slot.job).clone();
            }
            // Only the Job's own pods (its controller UID), not any pod with its labels.
            let job_uid = job.as_ref().and_then(|j| j.metadata.uid.as_deref());
            let pods: Vec<Pod> = lock(&self.slot.pods).values().filter(|p| job_uid.is_some() && controller_uid(p) == job_uid).cloned().collect();
            // Follow the log of the current attempt once its container has started: a pod
            // that has not failed before one that has (creation times tie within a second),
            // then the newest.
            let not_failed = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Failed");
            // A gang's objective is index 0's.
            if let Some(pod) = pods.iter().filter(|p| started_container(p) && leads(p)).max_by_key(|p| (not_failed(p), p.metadata.creation_timestamp.clone())) {
                let pod_name = pod.metadata.name.clone().unwrap_or_default();
                if following.as_deref() != Some(&pod_name) {
                    following = Some(pod_name.clone());
                    tokio::spawn(follow_log(self.pods.clone(), pod_name, id, launch.learner.clone(), launch.objective.clone(), Arc::clone(&monitor), Arc::clone(&logs), Arc::clone(&self.slot)));
                }
            }
            if let Some(outcome) = self.outcome(job.as_ref(), &pods, &mut pending_since) {
                // The log may still hold the last lines: wait (100 ms at most) for its
                // reader to reach the end of the stream.
                if following.is_some() {
                    let deadline = Instant::now() + Duration::from_millis(100);
                    while !lock(&logs).ended && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                self.conclude(outcome, launch, name, &logs, &mut result).await;
                return Some(result);
            }
            // Wait for news; wake up now and then for the unschedulable clock.
            let _ = tokio::time::timeout(Duration::from_millis(500), self.slot.changed.notified()).await;
            if last_refresh.elapsed() >= REFRESH {
                self.refresh(name, id).await;
                last_refresh = Instant::now();
            }
        }
    }

    /// Writes `outcome` into `result`, with the scores logged so far.
    async fn conclude(&self, outcome: Outcome, launch: &Launch, name: &str, logs: &Mutex<LogState>, result: &mut TrialResult) {
        let tail = {
            let l = lock(logs);
            result.curve = l.curve.clone();
            result.train_curve = l.train_curve.clone();
            l.tail.clone()
        };
        match outcome {
            Outcome::Report(report) => {
                result.status = report.status;
                result.score = report.score;
                result.score_std = report.score_std;
                result.fold_scores = report.fold_scores;
                result.message = report.message;
            }
            Outcome::Succeeded(message) => match result.curve.last() {
                // A custom trial: its last logged objective value is its score.
                Some(&(_, v)) => {
                    result.status = TrialStatus::Ok;
                    result.score = Some(v);
                }
                None => {
                    let what = message.map(|m| format!("; its termination message: {m}")).unwrap_or_default();
                    result.message = Some(format!("the trial finished without reporting '{}' (print '{}=VALUE' lines or write a trial report){what}", launch.objective, launch.objective));
                }
            },
            Outcome::Failed { message, delete, timed_out } => {
                if timed_out {
                    result.status = TrialStatus::TimedOut;
                }
                let tail = if tail.is_empty() || message.contains("log:") { String::new() } else { format!("; last log lines: {}", tail.join(" | ")) };
                result.message = Some(format!("{message}{tail}"));
                if delete {
                    delete_job(&self.jobs, name).await;
                }
            }
        }
    }

    /// Reads the Job and its pods directly (not from the watchers).
    async fn refresh(&self, name: &str, id: u64) {
        match self.jobs.get_opt(name).await {
            Ok(found) => {
                self.hub.answered();
                match found {
                    Some(job) => *lock(&self.slot.job) = Some(job),
                    None => self.slot.job_gone.store(true, Ordering::Relaxed),
                }
            }
            Err(_) => return self.hub.unanswered(),
        }
        let selector = format!("{}={id},{}", labels::TRIAL, name_selector(name));
        if let Ok(list) = self.pods.list(&ListParams::default().labels(&selector)).await {
            let mut pods = lock(&self.slot.pods);
            pods.clear();
            for p in list.items {
                if let Some(n) = p.metadata.name.clone() {
                    pods.insert(n, p);
                }
            }
        }
    }

    fn finish(&self, mut result: TrialResult, started: Instant) {
        if self.slot.abandoned.load(Ordering::Relaxed) {
            return;
        }
        lock(&self.hub.slots).remove(&result.id);
        if result.fit_time_s == 0.0 {
            result.fit_time_s = started.elapsed().as_secs_f64();
        }
        if result.status != TrialStatus::Ok && result.status != TrialStatus::EarlyStopped {
            result.score = None;
        }
        (self.sink)(ExecutorEvent::Finished(result));
    }

    /// The trial's outcome, once there is one.
    fn outcome(&self, job: Option<&Job>, pods: &[Pod], pending_since: &mut Option<Instant>) -> Option<Outcome> {
        if self.slot.job_gone.load(Ordering::Relaxed) {
            return Some(Outcome::Failed { message: "its Job was deleted outside automl".into(), delete: false, timed_out: false });
        }
        let conditions = job.and_then(|j| j.status.as_ref()).and_then(|s| s.conditions.clone()).unwrap_or_default();
        let is = |t: &str| conditions.iter().find(|c| c.type_ == t && c.status == "True");
        if is("Complete").is_some() {
            let pod = pods.iter().find(|p| phase(p) == "Succeeded" && leads(p));
            let message = pod.and_then(termination_message);
            return Some(match message.as_deref().map(TrialReport::parse) {
                Some(Ok(report)) => Outcome::Report(report),
                Some(Err(_)) | None if pod.is_none() => Outcome::Failed { message: "the Job completed but its pod is gone, so its result cannot be read (was ttlSecondsAfterFinished too short?)".into(), delete: false, timed_out: false },
                _ => Outcome::Succeeded(message),
            });
        }
        if let Some(c) = is("Failed") {
            let reason = c.reason.clone().unwrap_or_default();
            let last_failed = pods.iter().filter(|p| phase(p) == "Failed").max_by_key(|p| p.metadata.creation_timestamp.clone());
            let pod_why = last_failed.map(pod_failure).unwrap_or_default();
            return Some(if reason == "DeadlineExceeded" {
                Outcome::Failed { message: format!("exceeded its Job's activeDeadlineSeconds ({}){}", c.message.clone().unwrap_or_default(), if pod_why.is_empty() { String::new() } else { format!("; {pod_why}") }), delete: false, timed_out: true }
            } else {
                let why = if pod_why.is_empty() { c.message.clone().unwrap_or(reason) } else { pod_why };
                // A built-in trial that failed inside still wrote its report.
                if let Some(Ok(report)) = last_failed.and_then(termination_message).as_deref().map(TrialReport::parse) {
                    if report.message.is_some() {
                        return Some(Outcome::Report(report));
                    }
                }
                Outcome::Failed { message: format!("pod failed: {why}"), delete: false, timed_out: false }
            });
        }
        // Still going: a gang its queue does not admit, or pods that will never run.
        if let Some(outcome) = self.not_admitted(job, pending_since) {
            return Some(outcome);
        }
        let newest = pods.iter().max_by_key(|p| p.metadata.creation_timestamp.clone())?;
        if let Some(waiting) = newest.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|cs| cs.first()).and_then(|c| c.state.as_ref()).and_then(|s| s.waiting.as_ref()) {
            let reason = waiting.reason.clone().unwrap_or_default();
            if ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"].contains(&reason.as_str()) {
                let image = newest.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone()).unwrap_or_default();
                return Some(Outcome::Failed {
                    message: format!("{reason} for image '{image}': {} (check the image name, the registry's credentials, or set --image)", waiting.message.clone().unwrap_or_default()),
                    delete: true,
                    timed_out: false,
                });
            }
        }
        // Any live pod of the trial (a gang has several) that cannot be placed.
        let unschedulable = pods.iter().filter(|p| !matches!(phase(p), "Succeeded" | "Failed")).find_map(unschedulable_condition);
        match unschedulable {
            Some(c) => {
                let since = *pending_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= self.unschedulable_timeout {
                    let live: Vec<&Pod> = pods.iter().filter(|p| !matches!(phase(p), "Succeeded" | "Failed")).collect();
                    let placed = live.iter().filter(|p| unschedulable_condition(p).is_none()).count();
                    let gang = if live.len() > 1 { format!(" ({placed} of the gang's {} pods were placed; all of it is deleted)", live.len()) } else { String::new() };
                    return Some(Outcome::Failed {
                        message: format!(
                            "unschedulable for {:.0} s: {}{gang} (check GPU, CPU and memory requests, node selectors and tolerations)",
                            since.elapsed().as_secs_f64(),
                            c.message.clone().unwrap_or_default()
                        ),
                        delete: true,
                        timed_out: false,
                    });
                }
            }
            None => *pending_since = None,
        }
        None
    }
}

impl TrialTask {
    /// The PodGroup of a coscheduled Job, owned by it (one left from before a restart is kept).
    async fn create_pod_group(&self, job: &Job) -> std::result::Result<(), String> {
        let Some(group) = manifest::pod_group(job, self.unschedulable_timeout.as_secs()) else { return Ok(()) };
        let resource = kube::api::ApiResource {
            group: "scheduling.x-k8s.io".into(),
            version: "v1alpha1".into(),
            api_version: "scheduling.x-k8s.io/v1alpha1".into(),
            kind: "PodGroup".into(),
            plural: "podgroups".into(),
        };
        let namespace = job.metadata.namespace.clone().unwrap_or_default();
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(self.jobs.clone().into_client(), &namespace, &resource);
        let object: kube::api::DynamicObject = serde_json::from_value(group).map_err(|e| format!("cannot build the PodGroup: {e}"))?;
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(format!("cannot create the trial's PodGroup (is scheduler-plugins' coscheduling installed?): {}", describe(&e))),
        }
    }

    /// A suspended Job (Kueue has not admitted its gang) past the unschedulable timeout.
    fn not_admitted(&self, job: Option<&Job>, pending_since: &mut Option<Instant>) -> Option<Outcome> {
        let job = job?;
        if job.spec.as_ref().and_then(|s| s.suspend) != Some(true) {
            return None;
        }
        let since = *pending_since.get_or_insert_with(Instant::now);
        if since.elapsed() < self.unschedulable_timeout {
            return None;
        }
        let pods = job.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1);
        let queue = job.metadata.labels.as_ref().and_then(|l| l.get(manifest::KUEUE_QUEUE)).cloned().unwrap_or_default();
        Some(Outcome::Failed {
            message: format!("not admitted for {:.0} s: its gang of {pods} pods waits in the Kueue queue '{queue}', whose quota cannot hold all of them at once; none of its pods ran (raise the queue's quota or ask for fewer pods)", since.elapsed().as_secs_f64()),
            delete: true,
            timed_out: false,
        })
    }
}

/// Whether `p` is the pod a trial reports through: the only one, or a gang's index 0.
fn leads(p: &Pod) -> bool {
    p.metadata.annotations.as_ref().and_then(|a| a.get("batch.kubernetes.io/job-completion-index")).is_none_or(|i| i == "0")
}

fn unschedulable_condition(p: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
}

enum Outcome {
    Report(TrialReport),
    Succeeded(Option<String>),
    Failed { message: String, delete: bool, timed_out: bool },
}

fn job_finished(job: &Job) -> bool {
    job.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"))
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

fn started_container(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|cs| cs.first()).and_then(|c| c.state.as_ref()).is_some_and(|s| s.running.is_some() || s.terminated.is_some())
}

fn termination_message(p: &Pod) -> Option<String> {
    let cs = p.status.as_ref()?.container_statuses.as_ref()?;
    let c = cs.iter().find(|c| c.name == manifest::CONTAINER).or(cs.first())?;
    c.state.as_ref()?.terminated.as_ref()?.message.clone().filter(|m| !m.trim().is_empty())
}

/// Why a failed pod failed, in words.
fn pod_failure(p: &Pod) -> String {
    let status = p.status.as_ref();
    if status.and_then(|s| s.reason.as_deref()) == Some("Evicted") {
        return format!("evicted: {}", status.and_then(|s| s.message.clone()).unwrap_or_default());
    }
    // An eviction through the API (drain, preemption, taint manager): Kubernetes 1.26+
    // marks the pod with a DisruptionTarget condition before it is killed.
    let disruption = status.and_then(|s| s.conditions.as_ref()).and_then(|cs| cs.iter().find(|c| c.type_ == "DisruptionTarget" && c.status == "True"));
    if let Some(c) = disruption {
        let why = [c.reason.as_deref(), c.message.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return format!("evicted ({})", if why.is_empty() { "DisruptionTarget" } else { why.as_str() });
    }
    let terminated = status.and_then(|s| s.container_statuses.as_ref()).and_then(|cs| cs.first()).and_then(|c| c.state.as_ref()).and_then(|s| s.terminated.as_ref());
    let Some(t) = terminated else {
        return status.and_then(|s| s.message.clone().or(s.reason.clone())).unwrap_or_default();
    };
    let reason = t.reason.clone().unwrap_or_default();
    if reason == "OOMKilled" {
        let limit = p.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.resources.as_ref()).and_then(|r| r.limits.as_ref()).and_then(|l| l.get("memory")).map(|q| q.0.clone());
        return format!("OOMKilled: the trial ran out of memory{} (raise --memory, or lower the data size)", limit.map(|l| format!(" (limit {l})")).unwrap_or_default());
    }
    let message = t.message.clone().filter(|m| !m.trim().is_empty()).map(|m| format!("; log: {}", m.trim())).unwrap_or_default();
    format!("container exited with code {} ({reason}){message}", t.exit_code)
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => other.to_string(),
    }
}

/// Follows a pod's log, turning objective lines into scores for the monitor. Retries
/// while the container is being created (the API answers 400 until it runs), and
/// reconnects when a stream ends before the pod does (an API server restart, an idle
/// timeout), skipping the lines already read.
#[allow(clippy::too_many_arguments)]
async fn follow_log(pods: Api<Pod>, pod: String, id: u64, learner: String, objective: String, monitor: Arc<dyn TrialMonitor>, logs: Arc<Mutex<LogState>>, slot: Arc<Slot>) {
    let params = LogParams { follow: true, container: Some(manifest::CONTAINER.to_string()), ..Default::default() };
    let mut parser = MetricLines::default();
    start_attempt(&logs, &pod, id, monitor.as_ref());
    let follower = Follower { id, learner, objective, monitor, logs: Arc::clone(&logs), slot: Arc::clone(&slot), pod: pod.clone() };
    let mut failures = 0;
    while failures < 20 {
        if !follower.wanted() {
            return;
        }
        let Ok(stream) = pods.log_stream(&pod, &params).await else {
            failures += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        let mut stream = std::pin::pin!(stream);
        // A new stream replays the log from the start: skip what was read.
        let already = lock(&logs).lines;
        let (mut seen, mut buf) = (0usize, Vec::new());
        while let Some(line) = next_line(&mut stream, &mut buf).await {
            seen += 1;
            if seen <= already {
                continue;
            }
            if !follower.wanted() {
                return;
            }
            failures = 0;
            follower.line(&line, &mut parser).await;
        }
        // The stream ended: at the pod's end, or cut while it runs.
        if pod_finished(&slot, &pod) {
            let mut state = lock(&logs);
            if state.pod == pod {
                state.ended = true;
            }
            return;
        }
        failures += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A new pod (the Job replaced a failed one) is a new attempt: its curve, not a splice of
/// both, is what the rules judge.
fn start_attempt(logs: &Mutex<LogState>, pod: &str, id: u64, monitor: &dyn TrialMonitor) {
    let mut state = lock(logs);
    if state.pod != pod {
        let replaced = !state.pod.is_empty();
        *state = LogState { pod: pod.to_string(), tail: std::mem::take(&mut state.tail), ..LogState::default() };
        if replaced {
            monitor.restart(id);
        }
    }
}

/// Whether the pod's container has ended (or the pod is gone), as the watchers saw it.
fn pod_finished(slot: &Slot, pod: &str) -> bool {
    let pods = lock(&slot.pods);
    let terminated = |p: &Pod| {
        let cs = p.status.as_ref().and_then(|s| s.container_statuses.as_ref());
        cs.and_then(|cs| cs.first()).and_then(|c| c.state.as_ref()).is_some_and(|s| s.terminated.is_some())
    };
    pods.get(pod).is_none_or(terminated)
}

/// Most bytes of a log line kept; the rest of a longer line is skipped.
const MAX_LOG_LINE: usize = 4096;

/// The next line of a log as text (invalid UTF-8 replaced, at most [`MAX_LOG_LINE`]
/// bytes kept); `None` at the end of the stream or on an error.
async fn next_line(reader: &mut (impl futures::AsyncBufRead + Unpin), buf: &mut Vec<u8>) -> Option<String> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = reader.fill_buf().await.ok()?;
        if chunk.is_empty() {
            if !any {
                return None;
            }
            break;
        }
        any = true;
        let (take, ends) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LOG_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
        reader.consume_unpin(take);
        if ends {
            break;
        }
    }
    while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
        buf.pop();
    }
    Some(String::from_utf8_lossy(buf).into_owned())
}

/// What one log follower reports to: its trial, the monitor and the trial's log state.
struct Follower {
    id: u64,
    learner: String,
    objective: String,
    monitor: Arc<dyn TrialMonitor>,
    logs: Arc<Mutex<LogState>>,
    slot: Arc<Slot>,
    pod: String,
}

impl Follower {
    /// Still following: the trial is not abandoned and this is still its current pod.
    fn wanted(&self) -> bool {
        !self.slot.abandoned.load(Ordering::Relaxed) && lock(&self.logs).pod == self.pod
    }

    /// One new line: objective values go to the curve and the monitor, the line to the tail.
    async fn line(&self, line: &str, parser: &mut MetricLines) {
        let values = parser.feed(line);
        // The objective on the training rows comes just before its validation score.
        for v in values.iter().filter(|v| v.name.strip_prefix("train_") == Some(self.objective.as_str())) {
            self.monitor.report_train(self.id, v.step, v.value);
            lock(&self.logs).train_curve.push((v.step, v.value));
        }
        {
            let mut state = lock(&self.logs);
            state.lines += 1;
            state.tail.push(line.chars().take(300).collect());
            if state.tail.len() > 5 {
                state.tail.remove(0);
            }
        }
        for v in values.into_iter().filter(|v| v.name == self.objective) {
            {
                let mut state = lock(&self.logs);
                if state.stop_requested {
                    continue;
                }
                state.curve.push((v.step, v.value));
            }
            // Stopping-rule plugins judge here: off the runtime's workers, so a slow rule
            // stalls no other trial's watcher.
            let (judge, name, id) = (Arc::clone(&self.monitor), self.learner.clone(), self.id);
            let control = tokio::task::spawn_blocking(move || judge.report(id, &name, v.step, v.value)).await.unwrap_or(Control::Continue);
            if control == Control::Stop {
                lock(&self.logs).stop_requested = true;
                self.slot.changed.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_bounded_and_invalid_utf8_is_replaced_not_fatal() {
        let mut bytes = b"accuracy=0.5\r\n\xff\xfeok\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 10_000));
        bytes.extend_from_slice(b"\nlast");
        let mut reader = futures::io::Cursor::new(bytes);
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let lines = runtime.block_on(async {
            let (mut buf, mut lines) = (Vec::new(), Vec::new());
            while let Some(line) = next_line(&mut reader, &mut buf).await {
                lines.push(line);
            }
            lines
        });
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0], "accuracy=0.5");
        assert_eq!(lines[1], "\u{fffd}\u{fffd}ok");
        assert_eq!(lines[2], "x".repeat(MAX_LOG_LINE));
        assert_eq!(lines[3], "last");
    }

    #[test]
    fn a_pod_evicted_through_the_api_is_reported_as_evicted() {
        use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, ContainerStatus, PodCondition, PodStatus};
        let terminated = ContainerStateTerminated { exit_code: 137, reason: Some("Error".into()), ..Default::default() };
        let killed = ContainerStatus { state: Some(ContainerState { terminated: Some(terminated), ..Default::default() }), ..Default::default() };
        let condition = PodCondition { type_: "DisruptionTarget".into(), status: "True".into(), reason: Some("EvictionByEvictionAPI".into()), message: Some("Eviction API: evicting".into()), ..Default::default() };
        let status = PodStatus { phase: Some("Failed".into()), conditions: Some(vec![condition]), container_statuses: Some(vec![killed]), ..Default::default() };
        let pod = Pod { status: Some(status), ..Default::default() };
        assert_eq!(pod_failure(&pod), "evicted (EvictionByEvictionAPI: Eviction API: evicting)");
    }
}
