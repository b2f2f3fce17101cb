//! Trials as Kubernetes Jobs, Katib-style: each trial is a `batch/v1` Job running
//! `automl trial` (or the user's own image, see [`crate::spec`]); its intermediate scores
//! come back as `name=value` lines on the pod's log and its result as a small JSON
//! document in the container's termination message, so no sidecar is needed.
//!
//! - [`crd`]: the `Experiment` custom resource and its CustomResourceDefinition.
//! - [`manifest`]: the Job for a trial (resources, GPUs, scheduling, security context).
//! - [`protocol`]: the termination-message document and the `name=value` log format.
//! - [`executor`]: creates Jobs, follows pods and logs, deletes Jobs stopped early.
//! - [`plugins`]: preprocessor and metric components in a ConfigMap the trial pods mount.
//! - [`pod`]: the trial pod's side (`automl trial`): fetch the data, evaluate, report.
//! - [`fetch`]: downloading a trial's data from an http(s) URL.
//!
//! The options of this executor ([`crate::options::KubernetesOptions`]) are plain data and
//! exist without the `kubernetes` feature; this module needs it.
pub mod crd;
pub mod executor;
pub mod fetch;
pub mod manifest;
pub mod plugins;
pub mod pod;
pub mod protocol;

pub use executor::KubernetesExecutor;
pub use manifest::JobTemplate;

use crate::error::{Error, Result};
use crate::options::KubernetesOptions;
use crate::trial::TrialSpec;

/// Label keys on every Job and pod of an experiment.
pub mod labels {
    /// The experiment id.
    pub const EXPERIMENT: &str = "automl.dev/experiment";
    /// The trial number.
    pub const TRIAL: &str = "automl.dev/trial";
    /// The uid of the object that owns the Job (an `Experiment` run by the operator).
    pub const OWNER_UID: &str = "automl.dev/owner-uid";
}

/// The Jobs of `specs` as a multi-document YAML stream, in the options' namespace (or
/// `default`): what `--dry-run` prints. Nothing is sent to a cluster.
pub fn dry_run(options: &KubernetesOptions, experiment: &str, template: &JobTemplate, specs: &[TrialSpec]) -> Result<String> {
    let namespace = options.namespace.clone().unwrap_or_else(|| "default".to_string());
    let jobs: Vec<_> = specs.iter().map(|s| template.job(options, &namespace, experiment, s)).collect::<Result<_>>()?;
    manifest::to_yaml(&jobs).map_err(|e| Error::Serialize { what: "the Jobs as YAML".into(), source: e.into() })
}
