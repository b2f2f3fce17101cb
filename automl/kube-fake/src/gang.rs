//! Gangs: Indexed Jobs whose `completions` pods run at once, and Kueue's all-or-nothing
//! admission. A Job created with `suspend: true` and the label `kueue.x-k8s.io/queue-name`
//! of a queue registered with [`super::FakeApiServer::add_queue`] is admitted (unsuspended)
//! only when the queue's free capacity, counted in pods, holds all of its `parallelism`
//! pods; until then no pod of it exists. Its pods count against the queue until the Job
//! ends or is deleted. A suspended Job of an unknown queue waits forever, as with Kueue.
//!
//! Coscheduling (scheduler-plugins): a pod labelled `scheduling.x-k8s.io/pod-group: G`
//! waits for the PodGroup `G` and is scheduled only when its `minMember` fits the capacity
//! set with [`super::FakeApiServer::set_gang_capacity`]; otherwise every pod of the group
//! stays Pending and Unschedulable, none runs.

use std::sync::Arc;

use futures::stream::{FuturesUnordered, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, Pod};
use tokio::sync::watch;

use super::cluster::{job_complete, job_failed, job_pod, spawn_kubelet, update_job_status, Outcome};
use super::store::{is_terminal, key_of, now, Key, Object};
use super::Shared;

/// The label Kueue reads a Job's queue from.
pub(super) const QUEUE_LABEL: &str = "kueue.x-k8s.io/queue-name";
/// The annotation and label (and env var) of an Indexed Job's pod index.
const INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// How often a suspended Job looks for room in its queue.
const ADMISSION_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Holds the queue capacity of an admitted Job until dropped.
pub(super) struct Admission {
    shared: Arc<Shared>,
    uid: String,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.shared.lock().admitted.remove(&self.uid);
    }
}

/// Waits until the suspended Job is admitted by its queue; `None` when it is deleted first.
pub(super) async fn admit(shared: &Arc<Shared>, key: &Key, uid: &str, kill: &mut watch::Receiver<bool>) -> Option<Admission> {
    loop {
        {
            let mut st = shared.lock();
            let job = st.jobs.get(key).filter(|j| j.metadata.uid.as_deref() == Some(uid))?.clone();
            let queue = job.metadata.labels.as_ref().and_then(|l| l.get(QUEUE_LABEL)).cloned();
            let pods = job.spec.as_ref().and_then(|s| s.parallelism).unwrap_or(1).max(1) as usize;
            if let Some((q, &capacity)) = queue.as_ref().and_then(|q| st.queues.get_key_value(q)) {
                let q = q.clone();
                let used: usize = st.admitted.values().filter(|(aq, _)| *aq == q).map(|(_, n)| n).sum();
                if used + pods <= capacity {
                    st.admitted.insert(uid.to_string(), (q, pods));
                    st.modify::<Job>(key, uid, |j| {
                        if let Some(s) = j.spec.as_mut() {
                            s.suspend = Some(false);
                        }
                    });
                    return Some(Admission { shared: shared.clone(), uid: uid.to_string() });
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(ADMISSION_POLL) => {}
            _ = kill.changed() => return None,
        }
    }
}

/// Runs an Indexed Job's `completions` pods at once (index in the annotation, label and
/// `JOB_COMPLETION_INDEX`): it completes when all succeed, and fails as soon as one fails
/// (no per-index retries), its other pods deleted.
pub(super) async fn run_indexed(shared: Arc<Shared>, key: Key, uid: String, n: usize, mut kill: watch::Receiver<bool>, deadline: impl std::future::Future<Output = ()>) -> Result<(), Deadline> {
    let started = {
        let mut st = shared.lock();
        let Some(job) = st.jobs.get(&key).filter(|j| j.metadata.uid.as_deref() == Some(&uid)).cloned() else { return Ok(()) };
        let mut pods = Vec::new();
        for i in 0..n {
            let pod = indexed_pod(job_pod(&st, &job), i);
            let (pod, pod_kill) = st.insert_pod(pod);
            pods.push((pod, pod_kill));
        }
        update_job_status(&mut st, &key, &uid, |s| {
            s.start_time.get_or_insert_with(now);
        });
        (job, pods)
    };
    let (job, pods) = started;
    let mut outcomes: FuturesUnordered<_> = pods.into_iter().map(|(pod, k)| spawn_kubelet(shared.clone(), job.clone(), pod, k)).collect();
    tokio::pin!(deadline);
    let mut succeeded = 0;
    loop {
        let outcome = tokio::select! {
            o = outcomes.next() => match o {
                Some(o) => o.unwrap_or(Outcome::Gone),
                None => return Ok(()),
            },
            () = &mut deadline => return Err(Deadline),
            _ = kill.changed() => return Ok(()),
        };
        let mut st = shared.lock();
        if outcome != Outcome::Succeeded {
            let active: Vec<Key> = st.pods.values().filter(|p| super::store::controller_uid(p) == Some(uid.as_str()) && !is_terminal(p.phase())).map(|p| key_of(&p.metadata)).collect();
            for k in &active {
                st.remove::<Pod>(k);
            }
            job_failed(&mut st, &key, &uid, 1 + active.len() as i32, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
            return Ok(());
        }
        succeeded += 1;
        update_job_status(&mut st, &key, &uid, |s| s.succeeded = Some(succeeded));
        if succeeded as usize == n {
            job_complete(&mut st, &key, &uid, succeeded);
            return Ok(());
        }
    }
}

/// `activeDeadlineSeconds` passed.
pub(super) struct Deadline;

fn indexed_pod(mut pod: Pod, index: usize) -> Pod {
    let i = index.to_string();
    pod.metadata.annotations.get_or_insert_with(Default::default).insert(INDEX.into(), i.clone());
    pod.metadata.labels.get_or_insert_with(Default::default).insert(INDEX.into(), i.clone());
    let job = pod.metadata.generate_name.clone().unwrap_or_default();
    pod.metadata.name = pod.metadata.name.map(|n| n.replacen(&job, &format!("{job}{i}-"), 1));
    if let Some(spec) = pod.spec.as_mut() {
        for c in &mut spec.containers {
            c.env.get_or_insert_with(Vec::new).push(EnvVar { name: "JOB_COMPLETION_INDEX".into(), value: Some(i.clone()), ..Default::default() });
        }
    }
    pod
}

/// The label a coscheduled pod names its PodGroup with.
const POD_GROUP_LABEL: &str = "scheduling.x-k8s.io/pod-group";

/// The coscheduling plugin's gate: a pod of a PodGroup waits for the group to exist, and
/// is never scheduled when the group's `minMember` exceeds the gang capacity. Returns
/// whether the pod may go on (`false`: it was deleted while waiting).
pub(super) async fn coscheduled(h: &super::cluster::PodHandle, pod: &Pod, kill: &mut watch::Receiver<bool>) -> bool {
    let Some(group) = pod.metadata.labels.as_ref().and_then(|l| l.get(POD_GROUP_LABEL)).cloned() else { return true };
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    loop {
        let verdict = {
            let st = h.shared.lock();
            st.pod_groups.get(&(ns.clone(), group.clone())).map(|g| {
                let min = g.fields.get("spec").and_then(|s| s.get("minMember")).and_then(serde_json::Value::as_u64).unwrap_or(1) as usize;
                (min, st.gang_capacity.is_none_or(|c| min <= c), st.gang_capacity)
            })
        };
        match verdict {
            Some((_, true, _)) => return true,
            Some((min, false, capacity)) => {
                let message = format!("0/1 nodes are available: pod group {group} needs {min} pods at once and only {} fit (coscheduling)", capacity.unwrap_or(0));
                h.write(|p| {
                    super::cluster::mark_unschedulable(p);
                    if let Some(c) = p.status.as_mut().and_then(|s| s.conditions.as_mut()).and_then(|cs| cs.iter_mut().find(|c| c.type_ == "PodScheduled")) {
                        c.message = Some(message.clone());
                    }
                });
                let _ = kill.changed().await;
                return false;
            }
            None => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(ADMISSION_POLL) => {}
            _ = kill.changed() => return false,
        }
    }
}
