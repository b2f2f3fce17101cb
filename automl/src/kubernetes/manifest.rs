//! The `batch/v1` Job of a trial.
//!
//! Every Job carries the `app.kubernetes.io/*` labels plus the experiment and trial ids
//! (how a restarted controller finds its Jobs again), runs one pod that is never restarted
//! in place, and runs it locked down: non-root, read-only root filesystem, all capabilities
//! dropped, no privilege escalation, the runtime's default seccomp profile, no
//! ServiceAccount token. A scratch `emptyDir` is mounted at `/tmp` for downloads.
use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements,
    SeccompProfile, SecurityContext, Toleration as K8sToleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels;
use crate::error::{Error, Result};
use crate::options::{DataSource, KubernetesOptions, PreparedStore};
use crate::spec::{TrialContainer, TrialTemplate};
use crate::trial::TrialSpec;

/// Environment variable carrying a built-in trial's [`TrialSpec`] as JSON.
pub const TRIAL_ENV: &str = "AUTOML_TRIAL";
/// The trial container's name.
pub const CONTAINER: &str = "trial";
/// User and group the trial runs as (the image's non-root user).
pub const RUN_AS: i64 = 65532;

/// The name of trial `trial`'s Job in `experiment`.
pub fn job_name(experiment: &str, trial: u64) -> String {
    format!("automl-{experiment}-t{trial}")
}

/// Labels on a trial's Job and pod.
pub fn trial_labels(experiment: &str, trial: u64) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "automl".to_string()),
        ("app.kubernetes.io/component".to_string(), "trial".to_string()),
        ("app.kubernetes.io/part-of".to_string(), "automl".to_string()),
        ("app.kubernetes.io/managed-by".to_string(), "automl".to_string()),
        ("app.kubernetes.io/instance".to_string(), format!("automl-{experiment}")),
        ("app.kubernetes.io/version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        (labels::EXPERIMENT.to_string(), experiment.to_string()),
        (labels::TRIAL.to_string(), trial.to_string()),
    ])
}

/// What a trial's Job runs.
#[derive(Debug, Clone)]
pub enum JobTemplate {
    /// `automl trial` in the trial image, with the spec in [`TRIAL_ENV`].
    Builtin,
    /// The user's image and command, placeholders filled from the trial's configuration.
    Custom(TrialTemplate),
}

impl JobTemplate {
    /// The Job of trial `spec` in `namespace`.
    pub fn job(&self, cfg: &KubernetesOptions, namespace: &str, experiment: &str, spec: &TrialSpec) -> Result<Job> {
        match self {
            JobTemplate::Builtin => builtin_job(cfg, namespace, experiment, spec),
            JobTemplate::Custom(t) => {
                let mut job = trial_job(cfg, namespace, experiment, spec.id, spec.time_limit_s, t.container(&spec.config));
                gang(&mut job, t);
                Ok(job)
            }
        }
    }
}

/// Where a built-in trial reads its data inside the pod: the PVC path, the URL, or the
/// controller's own path.
pub fn data_location(cfg: &KubernetesOptions, local: &std::path::Path) -> String {
    match &cfg.data {
        DataSource::Pvc { mount_path, path, .. } => format!("{}/{}", mount_path.trim_end_matches('/'), path.trim_start_matches('/')),
        DataSource::Url(url) => url.clone(),
        DataSource::SamePath => std::path::absolute(local).unwrap_or_else(|_| local.to_path_buf()).display().to_string(),
    }
}

/// The Job of a built-in trial: `automl trial` with the spec in [`TRIAL_ENV`], its data
/// path rewritten to where the pod finds the data ([`data_location`]).
pub fn builtin_job(cfg: &KubernetesOptions, namespace: &str, experiment: &str, spec: &TrialSpec) -> Result<Job> {
    let mut command = cfg.command.clone();
    command.push("trial".to_string());
    let mut remote = spec.clone();
    if let Some(data) = remote.data.as_mut() {
        data.path = std::path::PathBuf::from(data_location(cfg, &data.path));
    }
    let json = serde_json::to_string(&remote).map_err(|e| Error::Serialize { what: format!("the spec of trial {} as JSON", spec.id), source: Box::new(e) })?;
    let container = TrialContainer { image: cfg.image.clone(), command, args: Vec::new(), env: vec![(TRIAL_ENV.to_string(), json)] };
    let mut job = trial_job(cfg, namespace, experiment, spec.id, spec.time_limit_s, container);
    if spec.data.as_ref().is_some_and(|d| !d.plugins.is_empty()) {
        mount_plugins(&mut job, experiment);
    }
    if spec.data.as_ref().is_some_and(|d| d.prepared.is_some()) {
        mount_prepared(&mut job, cfg);
    }
    let annotations = job.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert("automl.dev/learner".to_string(), spec.learner.clone());
    Ok(job)
}

/// The Job running `container` as trial `trial` of `experiment`.
pub fn trial_job(cfg: &KubernetesOptions, namespace: &str, experiment: &str, trial: u64, time_limit_s: Option<f64>, container: TrialContainer) -> Job {
    let mut labels = trial_labels(experiment, trial);
    if let Some(owner) = &cfg.owner {
        labels.insert(labels::OWNER_UID.to_string(), owner.uid.clone());
    }
    let resources = resources(cfg);
    let mut volumes = vec![Volume { name: "scratch".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Default::default() }];
    let mut mounts = vec![VolumeMount { name: "scratch".into(), mount_path: "/tmp".into(), ..Default::default() }];
    if let DataSource::Pvc { claim, mount_path, .. } = &cfg.data {
        volumes.push(Volume {
            name: "data".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim.clone(), read_only: Some(true) }),
            ..Default::default()
        });
        mounts.push(VolumeMount { name: "data".into(), mount_path: mount_path.clone(), read_only: Some(true), ..Default::default() });
    }
    let mut env: Vec<EnvVar> = container.env.into_iter().map(|(name, value)| EnvVar { name, value: Some(value), ..Default::default() }).collect();
    env.push(EnvVar { name: "TMPDIR".into(), value: Some("/tmp".into()), ..Default::default() });
    let container = Container {
        name: CONTAINER.into(),
        image: Some(container.image),
        image_pull_policy: cfg.image_pull_policy.clone(),
        command: (!container.command.is_empty()).then_some(container.command),
        args: (!container.args.is_empty()).then_some(container.args),
        env: Some(env),
        resources: Some(resources),
        volume_mounts: Some(mounts),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tolerations = tolerations(cfg);
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        containers: vec![container],
        volumes: Some(volumes),
        node_selector: (!cfg.node_selector.is_empty()).then(|| cfg.node_selector.clone()),
        tolerations: (!tolerations.is_empty()).then_some(tolerations),
        priority_class_name: cfg.priority_class.clone(),
        service_account_name: cfg.service_account.clone(),
        automount_service_account_token: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(experiment, trial)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels.clone()),
            owner_references: cfg.owner.as_ref().map(|o| vec![owner_reference(o)]),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(cfg.backoff_limit),
            active_deadline_seconds: time_limit_s.map(|t| t.ceil() as i64 + cfg.startup_allowance_s as i64),
            ttl_seconds_after_finished: Some(cfg.ttl_after_finished_s),
            template: PodTemplateSpec { metadata: Some(ObjectMeta { labels: Some(labels), ..Default::default() }), spec: Some(pod) },
            ..Default::default()
        }),
        status: None,
    }
}

/// CPU and memory as requests = limits, GPUs as a limit.
fn resources(cfg: &KubernetesOptions) -> ResourceRequirements {
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    for (name, value) in [("cpu", &cfg.cpu), ("memory", &cfg.memory)] {
        if let Some(v) = value {
            requests.insert(name.to_string(), Quantity(v.clone()));
            limits.insert(name.to_string(), Quantity(v.clone()));
        }
    }
    if cfg.gpus > 0 {
        limits.insert(cfg.gpu_resource.clone(), Quantity(cfg.gpus.to_string()));
    }
    ResourceRequirements { requests: (!requests.is_empty()).then_some(requests), limits: (!limits.is_empty()).then_some(limits), ..Default::default() }
}

fn tolerations(cfg: &KubernetesOptions) -> Vec<K8sToleration> {
    cfg.tolerations
        .iter()
        .map(|t| K8sToleration {
            key: Some(t.key.clone()),
            operator: Some(if t.value.is_some() { "Equal" } else { "Exists" }.into()),
            value: t.value.clone(),
            effect: t.effect.clone(),
            ..Default::default()
        })
        .collect()
}

/// Jobs as a multi-document YAML stream (what `--dry-run` prints).
pub fn to_yaml(jobs: &[Job]) -> Result<String, String> {
    let mut out = String::new();
    for job in jobs {
        // apiVersion and kind come from the type, not the struct; add them explicitly.
        let mut value = serde_json::to_value(job).map_err(|e| e.to_string())?;
        if let Some(map) = value.as_object_mut() {
            map.insert("apiVersion".into(), "batch/v1".into());
            map.insert("kind".into(), "Job".into());
        }
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&value).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// The controlling owner reference to `owner`: deleting it deletes the Job.
pub(crate) fn owner_reference(owner: &crate::options::Owner) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The label Kueue reads a Job's LocalQueue from.
pub const KUEUE_QUEUE: &str = "kueue.x-k8s.io/queue-name";

/// A multi-pod trial: an Indexed Job with all of its pods at once and no retries (a gang
/// that lost a member is a failed trial); under Kueue, created suspended in its queue.
fn gang(job: &mut Job, t: &TrialTemplate) {
    let Some(spec) = job.spec.as_mut() else { return };
    if t.pods > 1 {
        let n = i32::try_from(t.pods).unwrap_or(i32::MAX);
        spec.completion_mode = Some("Indexed".into());
        spec.completions = Some(n);
        spec.parallelism = Some(n);
        spec.backoff_limit = Some(0);
    }
    match &t.gang {
        Some(crate::spec::Gang::Kueue { queue }) => {
            spec.suspend = Some(true);
            job.metadata.labels.get_or_insert_with(Default::default).insert(KUEUE_QUEUE.to_string(), queue.clone());
        }
        Some(crate::spec::Gang::Coscheduling { scheduler_name }) => {
            let group = job.metadata.name.clone().unwrap_or_default();
            spec.template.metadata.get_or_insert_with(Default::default).labels.get_or_insert_with(Default::default).insert(POD_GROUP.to_string(), group);
            if let Some(pod) = spec.template.spec.as_mut() {
                pod.scheduler_name = Some(scheduler_name.clone().unwrap_or_else(|| COSCHEDULING_SCHEDULER.to_string()));
            }
        }
        None => {}
    }
}

/// The label a coscheduled pod names its PodGroup with (the Job's name).
pub const POD_GROUP: &str = "scheduling.x-k8s.io/pod-group";

/// The scheduler of scheduler-plugins' default install, which runs coscheduling.
pub const COSCHEDULING_SCHEDULER: &str = "scheduler-plugins-scheduler";

/// The PodGroup of a coscheduled Job (`None` for any other): `minMember` = its pods, a
/// schedule timeout, and the Job as its controlling owner so that it goes with the Job.
pub fn pod_group(job: &Job, timeout_s: u64) -> Option<serde_json::Value> {
    let spec = job.spec.as_ref()?;
    let group = spec.template.metadata.as_ref()?.labels.as_ref()?.get(POD_GROUP)?;
    Some(serde_json::json!({
        "apiVersion": "scheduling.x-k8s.io/v1alpha1",
        "kind": "PodGroup",
        "metadata": {
            "name": group,
            "namespace": job.metadata.namespace,
            "labels": job.metadata.labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name, "uid": job.metadata.uid,
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": { "minMember": spec.parallelism.unwrap_or(1), "scheduleTimeoutSeconds": timeout_s },
    }))
}

/// Mounts the experiment's plugin ConfigMap in the trial's container.
fn mount_plugins(job: &mut Job, experiment: &str) {
    let (volume, mount) = super::plugins::volume(experiment);
    add_volume(job, volume, mount);
}

/// Mounts the claim of the prepared data read-only, when the pods do not see its folder
/// already.
fn mount_prepared(job: &mut Job, cfg: &KubernetesOptions) {
    let Some(PreparedStore { claim: Some(claim), pod_dir, .. }) = &cfg.prepared else { return };
    let volume = Volume {
        name: "prepared".into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource { claim_name: claim.clone(), read_only: Some(true) }),
        ..Default::default()
    };
    let mount = VolumeMount { name: "prepared".into(), mount_path: pod_dir.clone(), read_only: Some(true), ..Default::default() };
    add_volume(job, volume, mount);
}

fn add_volume(job: &mut Job, volume: Volume, mount: VolumeMount) {
    if let Some(pod) = job.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        pod.volumes.get_or_insert_with(Vec::new).push(volume);
        if let Some(c) = pod.containers.first_mut() {
            c.volume_mounts.get_or_insert_with(Vec::new).push(mount);
        }
    }
}
