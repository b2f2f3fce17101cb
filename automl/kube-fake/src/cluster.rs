//! The simulated cluster behind the API: the Job controller (one pod at a time, retries up
//! to `backoffLimit`, `activeDeadlineSeconds`; Indexed gangs and Kueue admission are in
//! [`super::gang`]) and the kubelet (scripted, or running the
//! container's command as a local process). Every transition is a write through the store,
//! so clients see it as a MODIFIED event.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, Pod,
    PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use tokio::sync::{oneshot, watch};

use super::store::{controller_uid, is_terminal, key_of, new_uid, now, random_suffix, Key, Object, State};
use super::{Exit, Kubelet, PodScript, Schedule, Shared};

/// Pause before a failed pod is replaced (the real controller backs off from 10 s).
const RETRY_DELAY: Duration = Duration::from_millis(10);
/// `ErrImagePull` turns into `ImagePullBackOff` after this.
const IMAGE_PULL_BACKOFF_AFTER: Duration = Duration::from_millis(20);
/// How often a process kubelet checks whether its process exited.
const PROCESS_POLL: Duration = Duration::from_millis(5);
/// How long a process kubelet waits for the output pipes to close after the process exited
/// (a background grandchild may hold them); the process group is killed after that.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The kubelet's limit on a termination message.
const MAX_TERMINATION_MESSAGE: usize = 4096;
/// `FallbackToLogsOnError`: at most this many last lines / bytes of the log.
const FALLBACK_LINES: usize = 80;
const FALLBACK_BYTES: usize = 2048;
/// The one node pods are scheduled on.
const NODE: &str = "fake-node";

/// How a pod ended, as its Job sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Phase Succeeded.
    Succeeded,
    /// Phase Failed (container error, eviction).
    Failed,
    /// Deleted before it finished (counts as a failure, as in Kubernetes 1.33).
    Gone,
}

/// The labels the Job controller puts on its pods (and the API server on the template).
pub(super) fn job_pod_labels(job_name: &str, job_uid: &str) -> [(String, String); 4] {
    [
        ("batch.kubernetes.io/controller-uid".into(), job_uid.into()),
        ("batch.kubernetes.io/job-name".into(), job_name.into()),
        ("controller-uid".into(), job_uid.into()),
        ("job-name".into(), job_name.into()),
    ]
}

/// Starts the controller of a new Job; it stops when `kill`'s sender is dropped (the Job
/// was deleted) or the Job finishes.
pub(super) fn spawn_job(shared: Arc<Shared>, key: Key, uid: String, kill: watch::Receiver<bool>) {
    tokio::spawn(run_job(shared, key, uid, kill));
}

async fn run_job(shared: Arc<Shared>, key: Key, uid: String, mut kill: watch::Receiver<bool>) {
    let Some(spec) = shared.lock().jobs.get(&key).map(|j| j.spec.clone().unwrap_or_default()) else { return };
    // A suspended Job waits for its queue (Kueue) and holds its capacity while it runs.
    let _admission = match spec.suspend {
        Some(true) => match super::gang::admit(&shared, &key, &uid, &mut kill).await {
            Some(a) => Some(a),
            None => return,
        },
        _ => None,
    };
    let backoff_limit = spec.backoff_limit.unwrap_or(6).max(0);
    // activeDeadlineSeconds counts from startTime, which is now.
    let deadline =
        spec.active_deadline_seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s.max(0) as u64));
    let deadline_passed = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline_passed);
    let completions = spec.completions.unwrap_or(1).max(1) as usize;
    if spec.completion_mode.as_deref() == Some("Indexed") && completions > 1 {
        if super::gang::run_indexed(shared.clone(), key.clone(), uid.clone(), completions, kill, deadline_passed).await.is_err() {
            deadline_exceeded(&shared, &key, &uid, 0);
        }
        return;
    }
    let mut failures = 0;
    loop {
        // Create the pod and count it in the Job status in one critical section, so the
        // Job never shows a pod that is not there.
        let (job, pod, pod_kill) = {
            let mut st = shared.lock();
            let Some(job) = st.jobs.get(&key).filter(|j| j.metadata.uid.as_deref() == Some(&uid)).cloned() else {
                return;
            };
            let pod = job_pod(&st, &job);
            let (pod, pod_kill) = st.insert_pod(pod);
            update_job_status(&mut st, &key, &uid, |s| {
                s.start_time.get_or_insert_with(now);
            });
            (job, pod, pod_kill)
        };
        let outcome_rx = spawn_kubelet(shared.clone(), job, pod, pod_kill);
        let outcome = tokio::select! {
            o = outcome_rx => o.unwrap_or(Outcome::Gone),
            _ = &mut deadline_passed => return deadline_exceeded(&shared, &key, &uid, failures),
            _ = kill.changed() => return,
        };
        if outcome == Outcome::Succeeded {
            return job_complete(&mut shared.lock(), &key, &uid, 1);
        }
        failures += 1;
        if failures > backoff_limit {
            return job_failed(
                &mut shared.lock(),
                &key,
                &uid,
                failures,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            );
        }
        if update_job_status(&mut shared.lock(), &key, &uid, |s| s.failed = Some(failures)).is_none() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(RETRY_DELAY) => {}
            _ = &mut deadline_passed => return deadline_exceeded(&shared, &key, &uid, failures),
            _ = kill.changed() => return,
        }
    }
}

/// `activeDeadlineSeconds` passed: the Job fails and its running pods are deleted (which
/// stops their kubelets and kills their processes); they count as failed.
fn deadline_exceeded(shared: &Shared, key: &Key, uid: &str, failures: i32) {
    let mut st = shared.lock();
    let active: Vec<Key> =
        owned_pods(&st, &key.0, uid).filter(|p| !is_terminal(p.phase())).map(|p| key_of(&p.metadata)).collect();
    let message = "Job was active longer than specified deadline";
    update_job_status(&mut st, key, uid, |s| add_condition(s, "FailureTarget", "DeadlineExceeded", message));
    for k in &active {
        st.remove::<Pod>(k);
    }
    job_failed(&mut st, key, uid, failures + active.len() as i32, "DeadlineExceeded", message);
}

/// Marks the Job complete with `succeeded` pods.
pub(super) fn job_complete(st: &mut State, key: &Key, uid: &str, succeeded: i32) {
    update_job_status(st, key, uid, |s| {
        s.succeeded = Some(succeeded);
        add_condition(s, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods");
    });
    update_job_status(st, key, uid, |s| {
        add_condition(s, "Complete", "CompletionsReached", "Reached expected number of succeeded pods");
        s.completion_time = Some(now());
    });
}

/// Marks the Job failed: FailureTarget, then Failed, as the 1.31+ controller does.
pub(super) fn job_failed(st: &mut State, key: &Key, uid: &str, failures: i32, reason: &str, message: &str) {
    update_job_status(st, key, uid, |s| {
        s.failed = Some(failures);
        if !s.conditions.iter().flatten().any(|c| c.type_ == "FailureTarget") {
            add_condition(s, "FailureTarget", reason, message);
        }
    });
    update_job_status(st, key, uid, |s| add_condition(s, "Failed", reason, message));
}

/// The pods whose controller is the Job `job_uid`.
fn owned_pods<'a>(st: &'a State, ns: &'a str, job_uid: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
    st.pods
        .range((ns.to_string(), String::new())..)
        .take_while(move |((pns, _), _)| pns == ns)
        .map(|(_, p)| p)
        .filter(move |p| controller_uid(p) == Some(job_uid))
}

/// Applies `f` to the Job's status and recomputes `active` and `ready` from its pods.
pub(super) fn update_job_status(st: &mut State, key: &Key, uid: &str, f: impl FnOnce(&mut JobStatus)) -> Option<Job> {
    let (mut active, mut ready) = (0, 0);
    for p in owned_pods(st, &key.0, uid) {
        if !is_terminal(p.phase()) {
            active += 1;
        }
        if p.phase() == Some("Running") {
            ready += 1;
        }
    }
    st.modify::<Job>(key, uid, |job| {
        let s = job.status.get_or_insert_with(Default::default);
        f(s);
        s.active = (active > 0).then_some(active);
        s.ready = Some(ready);
    })
}

fn add_condition(s: &mut JobStatus, type_: &str, reason: &str, message: &str) {
    s.conditions.get_or_insert_with(Vec::new).push(JobCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now()),
        last_transition_time: Some(now()),
    });
}

/// A new pod for the Job, from its template.
pub(super) fn job_pod(st: &State, job: &Job) -> Pod {
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let job_uid = job.metadata.uid.clone().unwrap_or_default();
    let ns = job.metadata.namespace.clone().unwrap_or_default();
    let template = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let tmeta = template.metadata.unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    labels.extend(job_pod_labels(&job_name, &job_uid));
    let name = loop {
        let name = format!("{job_name}-{}", random_suffix());
        if !st.pods.contains_key(&(ns.clone(), name.clone())) {
            break name;
        }
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            generate_name: Some(format!("{job_name}-")),
            namespace: Some(ns),
            uid: Some(new_uid()),
            creation_timestamp: Some(now()),
            labels: Some(labels),
            annotations: tmeta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name: job_name,
                uid: job_uid,
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: Some(pending_status()),
    }
}

/// The status of a pod just created.
pub(super) fn pending_status() -> PodStatus {
    PodStatus { phase: Some("Pending".into()), qos_class: Some("BestEffort".into()), ..Default::default() }
}

/// Starts the kubelet for a stored pod; the receiver gets how it ended. `kill` is the pod's
/// kill switch from [`State::insert_pod`]. `job` is the owner (empty for a bare pod).
pub(super) fn spawn_kubelet(
    shared: Arc<Shared>,
    job: Job,
    pod: Pod,
    mut kill: watch::Receiver<bool>,
) -> oneshot::Receiver<Outcome> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let h = PodHandle {
            key: key_of(&pod.metadata),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            shared: shared.clone(),
        };
        if !super::gang::coscheduled(&h, &pod, &mut kill).await {
            let _ = tx.send(h.after_kill());
            return;
        }
        let outcome = match &shared.kubelet {
            Kubelet::Scripted(script) => {
                let script = script(&job, &pod);
                run_script(&h, &pod, script, &mut kill).await
            }
            Kubelet::Process { extra_env } => run_process(&h, &pod, extra_env, &mut kill).await,
        };
        let _ = tx.send(outcome);
    });
    rx
}

/// The kubelet's view of one pod.
#[derive(Clone)]
pub(super) struct PodHandle {
    pub(super) shared: Arc<Shared>,
    key: Key,
    uid: String,
}

impl PodHandle {
    /// Updates the pod unless it is gone, replaced or already finished (evicted). Returns
    /// whether it did; the kubelet stops when not.
    pub(super) fn write(&self, f: impl FnOnce(&mut Pod)) -> bool {
        let mut st = self.shared.lock();
        let live = st
            .pods
            .get(&self.key)
            .is_some_and(|p| p.metadata.uid.as_deref() == Some(&self.uid) && !is_terminal(p.phase()));
        if !live {
            return false;
        }
        st.modify::<Pod>(&self.key, &self.uid, f);
        if let Some(rt) = st.runtimes.get(&self.uid) {
            rt.notify();
        }
        true
    }

    /// Appends container output to the pod log.
    fn log(&self, text: &str) {
        let mut st = self.shared.lock();
        if let Some(rt) = st.runtimes.get_mut(&self.uid) {
            rt.log.push_str(text);
            rt.notify();
        }
    }

    /// How the pod ended after the kubelet was stopped from outside.
    pub(super) fn after_kill(&self) -> Outcome {
        let st = self.shared.lock();
        match st.pods.get(&self.key).filter(|p| p.metadata.uid.as_deref() == Some(&self.uid)) {
            Some(p) if p.phase() == Some("Failed") => Outcome::Failed,
            Some(p) if p.phase() == Some("Succeeded") => Outcome::Succeeded,
            _ => Outcome::Gone,
        }
    }

    /// Recomputes the owning Job's `active` / `ready` counts.
    fn refresh_job(&self) {
        let mut st = self.shared.lock();
        let Some(pod) = st.pods.get(&self.key) else { return };
        let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true)) else {
            return;
        };
        let (job_key, job_uid) = ((self.key.0.clone(), owner.name.clone()), owner.uid.clone());
        update_job_status(&mut st, &job_key, &job_uid, |_| {});
    }

    /// The container terminated with `code`: records it (with the termination message,
    /// or the log's tail under `FallbackToLogsOnError`) and says how the pod ended.
    fn terminate(&self, pod: &Pod, code: i32, reason: &str, message: Option<String>) -> Outcome {
        let mut message = message.filter(|m| !m.is_empty()).map(|m| truncate(m.into_bytes(), MAX_TERMINATION_MESSAGE));
        let fallback = first_container(pod)
            .and_then(|c| c.termination_message_policy.as_deref())
            .is_some_and(|p| p == "FallbackToLogsOnError");
        if message.is_none() && code != 0 && fallback {
            let st = self.shared.lock();
            message = st.runtimes.get(&self.uid).map(|rt| log_tail(&rt.log)).filter(|m| !m.is_empty());
        }
        if self.write(|p| mark_terminated(p, code, reason, message)) {
            if code == 0 {
                Outcome::Succeeded
            } else {
                Outcome::Failed
            }
        } else {
            self.after_kill()
        }
    }
}

/// Sleeps `d`; true when the kill switch fired first.
async fn killed_during(d: Duration, kill: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = kill.changed() => true,
    }
}

async fn run_script(h: &PodHandle, pod: &Pod, script: PodScript, kill: &mut watch::Receiver<bool>) -> Outcome {
    let image = first_container(pod).and_then(|c| c.image.clone()).unwrap_or_default();
    match script.schedule {
        Schedule::After(d) => {
            if killed_during(d, kill).await || !h.write(|p| mark_scheduled(p, "ContainerCreating", None)) {
                return h.after_kill();
            }
        }
        Schedule::Never => {
            h.write(mark_unschedulable);
            let _ = kill.changed().await;
            return h.after_kill();
        }
        Schedule::ImagePullError => {
            let pull = format!("failed to pull and unpack image \"{image}\": not found");
            if !h.write(|p| mark_scheduled(p, "ErrImagePull", Some(pull.clone())))
                || killed_during(IMAGE_PULL_BACKOFF_AFTER, kill).await
            {
                return h.after_kill();
            }
            let back_off = format!("Back-off pulling image \"{image}\": ErrImagePull: {pull}");
            h.write(|p| set_container(p, waiting("ImagePullBackOff", Some(back_off)), false, false));
            let _ = kill.changed().await;
            return h.after_kill();
        }
    }
    if !h.write(mark_running) {
        return h.after_kill();
    }
    h.refresh_job();
    for (d, line) in script.logs {
        if killed_during(d, kill).await {
            return h.after_kill();
        }
        h.log(&if line.ends_with('\n') { line } else { line + "\n" });
    }
    match script.exit {
        Exit::Succeeded { message } => h.terminate(pod, 0, "Completed", message),
        Exit::Failed { code, reason, message } => h.terminate(pod, code, &reason, message),
        Exit::Hang => {
            let _ = kill.changed().await;
            h.after_kill()
        }
    }
}

async fn run_process(
    h: &PodHandle,
    pod: &Pod,
    extra_env: &[(String, String)],
    kill: &mut watch::Receiver<bool>,
) -> Outcome {
    if !h.write(|p| mark_scheduled(p, "ContainerCreating", None)) {
        return h.after_kill();
    }
    // The kubelet mounts an empty file at terminationMessagePath; a local process gets
    // its path in AUTOML_TERMINATION_MESSAGE_PATH.
    let msg_path = std::env::temp_dir().join(format!("automl-fake-kubelet-{}-{}.msg", std::process::id(), h.uid));
    let _remove = RemoveOnDrop(msg_path.clone());
    let mounts = match config_map_mounts(h, pod) {
        Ok(m) => m,
        Err(e) => return h.terminate(pod, 128, "StartError", Some(e)),
    };
    let _unmount: Vec<RemoveDirOnDrop> = mounts.iter().map(|(_, d)| RemoveDirOnDrop(d.clone())).collect();
    let spawned = std::fs::write(&msg_path, b"")
        .map_err(|e| format!("creating the termination message file: {e}"))
        .and_then(|()| process_command(pod, &msg_path, extra_env, &mounts))
        .and_then(|mut cmd| cmd.spawn().map_err(|e| format!("failed to start container process: {e}")));
    let mut child = match spawned {
        Ok(child) => ProcessGuard { child, reaped: false },
        Err(e) => return h.terminate(pod, 128, "StartError", Some(e)),
    };
    let mut drained = Vec::new();
    if let Some(out) = child.child.stdout.take() {
        drained.push(spawn_reader(h.clone(), out));
    }
    if let Some(err) = child.child.stderr.take() {
        drained.push(spawn_reader(h.clone(), err));
    }
    if !h.write(mark_running) {
        return h.after_kill(); // the guard kills the process
    }
    h.refresh_job();
    let status = loop {
        tokio::select! {
            _ = kill.changed() => {
                child.kill();
                return h.after_kill();
            }
            _ = tokio::time::sleep(PROCESS_POLL) => match child.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) => {}
                Err(_) => break None,
            },
        }
    };
    child.reaped = status.is_some();
    // The log must be complete before the container shows as terminated.
    let all_drained = tokio::time::timeout(DRAIN_TIMEOUT, futures::future::join_all(drained)).await.is_ok();
    if !all_drained || status.is_none() {
        child.kill();
    }
    let code = status.map_or(128 + 9, exit_code);
    let message = std::fs::read(&msg_path).ok().map(|b| truncate(b, MAX_TERMINATION_MESSAGE));
    h.terminate(pod, code, if code == 0 { "Completed" } else { "Error" }, message)
}

/// The container's exit code as the kubelet reports it (128 + signal when killed).
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(9))
    }
    #[cfg(not(unix))]
    {
        status.code().unwrap_or(137)
    }
}

/// The local command for the pod's first container.
fn process_command(pod: &Pod, msg_path: &Path, extra_env: &[(String, String)], mounts: &[(String, PathBuf)]) -> Result<Command, String> {
    let c = first_container(pod).ok_or("the pod has no containers")?;
    // A local process sees a mounted ConfigMap at its temporary directory.
    let remap = |s: &str| mounts.iter().fold(s.to_string(), |s, (m, d)| s.replace(&format!("{m}/"), &format!("{}/", d.display())));
    let env: BTreeMap<String, String> =
        c.env.iter().flatten().filter_map(|e| e.value.as_ref().map(|v| (e.name.clone(), remap(v)))).collect();
    let mut argv: Vec<String> = c.command.clone().unwrap_or_default();
    argv.extend(c.args.clone().unwrap_or_default());
    let argv: Vec<String> = argv.iter().map(|a| remap(&expand_env_refs(a, &env))).collect();
    let (program, args) = argv.split_first().ok_or("the container has neither command nor args")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(&env)
        .env("HOSTNAME", pod.metadata.name.as_deref().unwrap_or_default())
        .env("AUTOML_TERMINATION_MESSAGE_PATH", msg_path)
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = c.working_dir.as_deref().filter(|d| !d.is_empty()) {
        cmd.current_dir(dir);
    }
    // Its own process group, so that killing the pod kills what the command started too.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    Ok(cmd)
}

/// Kubernetes' `$(VAR)` expansion in command and args (`$$` escapes `$`); unknown
/// references stay as written.
fn expand_env_refs(s: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|a| a.split_once(')')) {
            match env.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = tail;
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Copies a pipe into the pod log line by line, on its own thread; the receiver fires at
/// end of file.
fn spawn_reader(h: PodHandle, pipe: impl Read + Send + 'static) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    let _ = std::thread::Builder::new().name("fake-kubelet-log".into()).spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => h.log(&String::from_utf8_lossy(&line)),
            }
        }
        let _ = tx.send(());
    });
    rx
}

/// Owns a running process; kills its process group unless it was reaped.
struct ProcessGuard {
    child: Child,
    reaped: bool,
}

impl ProcessGuard {
    /// SIGKILL to the process group, then to the process; reaps it.
    fn kill(&mut self) {
        #[cfg(unix)]
        {
            // No libc (unsafe code is denied): the shell's kill builtin signals the group.
            let _ = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("kill -9 -{} 2>/dev/null", self.child.id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
        }
    }
}

/// Removes a file when dropped.
struct RemoveOnDrop(PathBuf);

struct RemoveDirOnDrop(PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The ConfigMap volumes of the pod's first container, written into temporary directories
/// as the kubelet would mount them: `(mountPath, directory)`. An error (a ConfigMap that
/// does not exist) is the reason the container cannot start.
fn config_map_mounts(h: &PodHandle, pod: &Pod) -> Result<Vec<(String, PathBuf)>, String> {
    let (Some(spec), Some(c)) = (pod.spec.as_ref(), first_container(pod)) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for v in spec.volumes.iter().flatten() {
        let Some(source) = v.config_map.as_ref() else { continue };
        let Some(mount) = c.volume_mounts.iter().flatten().find(|m| m.name == v.name) else { continue };
        let key = (h.key.0.clone(), source.name.clone());
        let Some(cm) = h.shared.lock().config_maps.get(&key).cloned() else {
            return Err(format!("configmap \"{}\" not found", source.name));
        };
        let dir = std::env::temp_dir().join(format!("automl-fake-kubelet-{}-{}-{}", std::process::id(), h.uid, v.name));
        std::fs::create_dir_all(&dir).map_err(|e| format!("mounting {}: {e}", v.name))?;
        let text = cm.data.iter().flatten().map(|(k, v)| (k, v.as_bytes().to_vec()));
        let binary = cm.binary_data.iter().flatten().map(|(k, v)| (k, v.0.clone()));
        for (name, bytes) in text.chain(binary) {
            std::fs::write(dir.join(name), bytes).map_err(|e| format!("mounting {}: {e}", v.name))?;
        }
        out.push((mount.mount_path.trim_end_matches('/').to_string(), dir));
    }
    Ok(out)
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// At most `max` bytes, as text (a cut character becomes U+FFFD).
fn truncate(mut bytes: Vec<u8>, max: usize) -> String {
    bytes.truncate(max);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The last [`FALLBACK_LINES`] lines of a log, at most [`FALLBACK_BYTES`] bytes.
fn log_tail(log: &str) -> String {
    let trimmed = log.trim_end_matches('\n');
    let start = trimmed.rmatch_indices('\n').nth(FALLBACK_LINES - 1).map_or(0, |(i, _)| i + 1);
    let tail = &trimmed[start..];
    let mut cut = tail.len().saturating_sub(FALLBACK_BYTES);
    while !tail.is_char_boundary(cut) {
        cut += 1;
    }
    tail[cut..].to_string()
}

fn first_container(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::Container> {
    pod.spec.as_ref().and_then(|s| s.containers.first())
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.into()), message }),
        ..Default::default()
    }
}

/// Sets (or replaces) a pod condition; the transition time moves only when the status does.
fn set_pod_condition(status: &mut PodStatus, type_: &str, ok: bool, reason: Option<&str>, message: Option<&str>) {
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let value = if ok { "True" } else { "False" };
    let transition = match conditions.iter().find(|c| c.type_ == type_) {
        Some(old) if old.status == value => old.last_transition_time.clone(),
        _ => Some(now()),
    };
    conditions.retain(|c| c.type_ != type_);
    conditions.push(PodCondition {
        type_: type_.into(),
        status: value.into(),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
        last_transition_time: transition,
        ..Default::default()
    });
}

/// Replaces the status of the pod's (first) container.
fn set_container(pod: &mut Pod, state: ContainerState, ready: bool, started: bool) {
    let (name, image) =
        first_container(pod).map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let created = state.waiting.is_none();
    let status = pod.status.get_or_insert_with(Default::default);
    status.container_statuses = Some(vec![ContainerStatus {
        name,
        image_id: if created { format!("{image}@sha256:0") } else { String::new() },
        image,
        container_id: created.then(|| format!("containerd://{}", uid.replace('-', ""))),
        ready,
        started: Some(started),
        restart_count: 0,
        state: Some(state),
        ..Default::default()
    }]);
}

/// Bound to the node; the container is not running yet (`waiting_reason`).
fn mark_scheduled(pod: &mut Pod, waiting_reason: &str, waiting_message: Option<String>) {
    pod.spec.get_or_insert_with(Default::default).node_name = Some(NODE.into());
    set_container(pod, waiting(waiting_reason, waiting_message), false, false);
    let status = pod.status.get_or_insert_with(Default::default);
    status.host_ip = Some("127.0.0.1".into());
    status.start_time.get_or_insert_with(now);
    set_pod_condition(status, "PodReadyToStartContainers", true, None, None);
    set_pod_condition(status, "Initialized", true, None, None);
    let not_ready = Some("ContainersNotReady");
    set_pod_condition(status, "Ready", false, not_ready, None);
    set_pod_condition(status, "ContainersReady", false, not_ready, None);
    set_pod_condition(status, "PodScheduled", true, None, None);
}

/// No node fits: Pending with PodScheduled=False, reason Unschedulable.
pub(super) fn mark_unschedulable(pod: &mut Pod) {
    let status = pod.status.get_or_insert_with(Default::default);
    set_pod_condition(
        status,
        "PodScheduled",
        false,
        Some("Unschedulable"),
        Some("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
    );
}

/// The container runs.
fn mark_running(pod: &mut Pod) {
    let running =
        ContainerState { running: Some(ContainerStateRunning { started_at: Some(now()) }), ..Default::default() };
    set_container(pod, running, true, true);
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Running".into());
    status.pod_ip = Some("127.0.0.1".into());
    set_pod_condition(status, "Ready", true, None, None);
    set_pod_condition(status, "ContainersReady", true, None, None);
}

/// The container exited: phase Succeeded (code 0) or Failed.
fn mark_terminated(pod: &mut Pod, code: i32, reason: &str, message: Option<String>) {
    let started_at = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.clone());
    let container_id = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.container_id.clone());
    let terminated = ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: code,
            reason: Some(reason.into()),
            message,
            started_at,
            finished_at: Some(now()),
            container_id,
            signal: None,
        }),
        ..Default::default()
    };
    set_container(pod, terminated, false, false);
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some(if code == 0 { "Succeeded" } else { "Failed" }.into());
    let completed = Some("PodCompleted");
    set_pod_condition(status, "Ready", false, completed, None);
    set_pod_condition(status, "ContainersReady", false, completed, None);
    set_pod_condition(status, "PodReadyToStartContainers", false, None, None);
}

/// Evicted by the kubelet under node pressure: phase Failed, reason Evicted; a started
/// container shows as killed (exit code 137).
pub(super) fn mark_evicted(pod: &mut Pod) {
    let started = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.first())
        .and_then(|c| c.state.as_ref())
        .is_some_and(|s| s.running.is_some());
    if started {
        mark_terminated(pod, 137, "Error", None);
    }
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Failed".into());
    status.reason = Some("Evicted".into());
    let message = "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki.";
    status.message = Some(message.into());
    set_pod_condition(status, "DisruptionTarget", true, Some("TerminationByKubelet"), Some(message));
    set_pod_condition(status, "Ready", false, Some("PodFailed"), None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_expand_like_the_kubelet() {
        let env: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into_iter().collect();
        assert_eq!(expand_env_refs("x=$(A) $(B) $$(A) $", &env), "x=1 $(B) $(A) $");
    }

    #[test]
    fn fallback_message_is_the_log_tail() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let tail = log_tail(&log);
        assert!(tail.starts_with("line 20\n") && tail.ends_with("line 99"), "{tail}");
        assert_eq!(log_tail(&"x".repeat(5000)).len(), FALLBACK_BYTES);
    }

    #[test]
    fn termination_messages_are_cut_at_4096_bytes() {
        assert_eq!(truncate(vec![b'a'; 5000], MAX_TERMINATION_MESSAGE).len(), 4096);
    }
}
