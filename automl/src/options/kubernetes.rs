//! How trials run on a Kubernetes cluster: the options of `--executor kubernetes`, the
//! same for the CLI, Python's `kubernetes={...}` and a resumed run's journal. Plain data:
//! it is here even when the engine is built without the `kubernetes` feature.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where a PVC data volume is mounted when no mount path is given.
pub const DATA_MOUNT: &str = "/data";

/// The trial image used when none is given: built from the repository's `Dockerfile`.
pub const DEFAULT_IMAGE: &str = "ghcr.io/automl-rs/automl:0.1.0";

/// Where trial pods find the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    /// A PersistentVolumeClaim mounted read-only at `mount_path`; the CSV is at
    /// `mount_path/path`.
    Pvc {
        /// Claim name.
        claim: String,
        /// Where it is mounted in the pod.
        mount_path: String,
        /// The CSV's path inside the volume.
        path: String,
    },
    /// An http(s) URL the trial downloads (into its scratch volume) before it starts.
    Url(String),
    /// The same path as on the controller's machine (a hostPath or an image that holds the
    /// data); meant for tests and single-node clusters.
    SamePath,
}

impl DataSource {
    /// The data source from the options of `automl run` (and Python's `kubernetes=`):
    /// a PVC as `CLAIM[:MOUNT_PATH]` with the CSV at `path` inside it (default: the data
    /// file's name), or an http(s) URL, or else the same path as here.
    pub fn from_options(pvc: Option<&str>, path: Option<&str>, url: Option<&str>, data: &std::path::Path) -> Result<DataSource, String> {
        match (pvc, url) {
            (Some(_), Some(_)) => Err("give the data as a PVC or as a URL, not both".into()),
            (Some(pvc), None) => {
                let (claim, mount) = pvc.split_once(':').unwrap_or((pvc, DATA_MOUNT));
                if claim.is_empty() {
                    return Err(format!("data PVC '{pvc}' has no claim name; write CLAIM[:MOUNT_PATH]"));
                }
                let path = match path {
                    Some(p) => p.to_string(),
                    None => data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                };
                Ok(DataSource::Pvc { claim: claim.to_string(), mount_path: mount.to_string(), path })
            }
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => Ok(DataSource::Url(url.to_string())),
            (None, Some(url)) => Err(format!("data URL '{url}' must be an http:// or https:// URL")),
            (None, None) if path.is_some() => Err("a data path names the CSV inside a PVC: give the PVC too".into()),
            (None, None) => Ok(DataSource::SamePath),
        }
    }
}

/// Parses `KEY=VALUE` node selector labels.
pub fn parse_node_selector<S: AsRef<str>>(labels: &[S]) -> Result<BTreeMap<String, String>, String> {
    labels
        .iter()
        .map(|kv| {
            let kv = kv.as_ref();
            kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| format!("node selector '{kv}': write KEY=VALUE"))
        })
        .collect()
}

/// A toleration, as `key[=value]:effect` on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toleration {
    /// Taint key.
    pub key: String,
    /// Taint value; `None` tolerates any value (operator Exists).
    pub value: Option<String>,
    /// NoSchedule, PreferNoSchedule or NoExecute; `None` for all.
    pub effect: Option<String>,
}

impl std::str::FromStr for Toleration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kv, effect) = match s.rsplit_once(':') {
            Some((kv, e)) => (kv, Some(e.to_string())),
            None => (s, None),
        };
        if let Some(e) = &effect {
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&e.as_str()) {
                return Err(format!("toleration '{s}': effect '{e}' is not one of NoSchedule, PreferNoSchedule, NoExecute"));
            }
        }
        let (key, value) = match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (kv.to_string(), None),
        };
        if key.is_empty() {
            return Err(format!("toleration '{s}' has no key; write key[=value][:effect], e.g. nvidia.com/gpu:NoSchedule"));
        }
        Ok(Toleration { key, value, effect })
    }
}

/// How trials run on the cluster. Everything has a default but the data source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KubernetesOptions {
    /// Namespace for the Jobs; the kubeconfig's (or the pod's) namespace when `None`.
    pub namespace: Option<String>,
    /// Container image holding the `automl` binary.
    pub image: String,
    /// The image's program; `automl trial` is run as `command + ["trial"]`.
    pub command: Vec<String>,
    /// `imagePullPolicy` (Always, IfNotPresent, Never); the cluster's default when `None`.
    pub image_pull_policy: Option<String>,
    /// GPUs per trial (as a limit on `gpu_resource`); none when 0.
    pub gpus: u32,
    /// The extended resource GPUs are requested as.
    pub gpu_resource: String,
    /// CPU request and limit per trial (a Kubernetes quantity: `2`, `500m`).
    pub cpu: Option<String>,
    /// Memory request and limit per trial (`4Gi`).
    pub memory: Option<String>,
    /// `nodeSelector` labels.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations (a GPU taint, say).
    pub tolerations: Vec<Toleration>,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
    /// ServiceAccount the trial pods run as; the namespace's default when `None`.
    pub service_account: Option<String>,
    /// Pod retries before a trial counts as failed (`backoffLimit`).
    pub backoff_limit: i32,
    /// Seconds a finished Job is kept (`ttlSecondsAfterFinished`).
    pub ttl_after_finished_s: i32,
    /// Seconds added to a trial's own time limit for scheduling and image pulls
    /// (`activeDeadlineSeconds` = limit + this).
    pub startup_allowance_s: u64,
    /// A trial whose pod cannot be scheduled for this long fails.
    pub unschedulable_timeout_s: u64,
    /// The run stops (exit code 7, resumable) when the API server has not answered for
    /// this long.
    #[serde(default = "default_outage")]
    pub api_outage_s: u64,
    /// Where trial pods find the data.
    pub data: DataSource,
    /// Leave running Jobs in place when the run is interrupted.
    pub keep_jobs: bool,
    /// The object that owns the trial Jobs (the operator's `Experiment`): set as their
    /// controlling owner reference, so the garbage collector deletes them with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// Where the controller keeps the prepared copy of the data that trial pods read
    /// instead of the CSV; `None`: every pod parses the CSV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared: Option<PreparedStore>,
}

/// A folder for prepared copies of the data: written by the controller, read by pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedStore {
    /// The folder as the controller sees it.
    pub dir: std::path::PathBuf,
    /// The same folder as trial pods see it.
    pub pod_dir: String,
    /// A claim trial pods mount read-only at `pod_dir`; `None` when they see the folder
    /// already (inside the data volume, or at the same path).
    pub claim: Option<String>,
}

/// Where trial pods mount a prepared-data claim unless told otherwise.
pub const PREPARED_MOUNT: &str = "/prepared";

impl PreparedStore {
    /// From `--prepared-dir DIR` and `--prepared-claim CLAIM[:MOUNT]`: with a claim, pods
    /// mount it at MOUNT (default `/prepared`); without, they read DIR at the same path.
    pub fn from_options(dir: Option<&std::path::Path>, claim: Option<&str>) -> Result<Option<PreparedStore>, String> {
        let Some(dir) = dir else {
            return match claim {
                Some(_) => Err("--prepared-claim needs --prepared-dir: where this process sees the claim, to write the prepared data".into()),
                None => Ok(None),
            };
        };
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let Some(claim) = claim else {
            return Ok(Some(PreparedStore { pod_dir: dir.display().to_string(), dir, claim: None }));
        };
        let (name, mount) = claim.split_once(':').unwrap_or((claim, PREPARED_MOUNT));
        if name.is_empty() || !mount.starts_with('/') {
            return Err(format!("prepared claim '{claim}': write CLAIM[:MOUNT_PATH] with an absolute mount path"));
        }
        Ok(Some(PreparedStore { dir, pod_dir: mount.to_string(), claim: Some(name.to_string()) }))
    }

    /// Where pods find the file `name` of this folder.
    pub fn pod_path(&self, name: &str) -> std::path::PathBuf {
        std::path::Path::new(&self.pod_dir).join(name)
    }
}

/// An owner of trial Jobs, as an `ownerReference` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// `apiVersion` of the owner (`automl.dev/v1alpha1`).
    pub api_version: String,
    /// Its kind (`Experiment`).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its uid: the Jobs are labelled with it too (`automl.dev/owner-uid`).
    pub uid: String,
}

impl Default for KubernetesOptions {
    fn default() -> Self {
        KubernetesOptions {
            namespace: None,
            image: DEFAULT_IMAGE.to_string(),
            command: vec!["automl".to_string()],
            image_pull_policy: None,
            gpus: 0,
            gpu_resource: "nvidia.com/gpu".to_string(),
            cpu: None,
            memory: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            priority_class: None,
            service_account: None,
            backoff_limit: 0,
            ttl_after_finished_s: 3600,
            startup_allowance_s: 120,
            unschedulable_timeout_s: 300,
            api_outage_s: default_outage(),
            data: DataSource::SamePath,
            keep_jobs: false,
            owner: None,
            prepared: None,
        }
    }
}

impl KubernetesOptions {
    /// Checks the values the cluster would refuse, before any Job is made.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |m: String| Err(crate::error::Error::Config(m));
        if self.backoff_limit < 0 {
            return bad(format!("--backoff-limit must be >= 0, got {}", self.backoff_limit));
        }
        if self.ttl_after_finished_s < 0 {
            return bad(format!("--job-ttl must be >= 0 seconds, got {}", self.ttl_after_finished_s));
        }
        for (name, s) in [("--startup-allowance", self.startup_allowance_s), ("--unschedulable-timeout", self.unschedulable_timeout_s), ("--api-outage-limit", self.api_outage_s)] {
            if s as f64 > super::MAX_SECONDS {
                return bad(format!("{name} must be at most {:e} seconds, got {s}", super::MAX_SECONDS));
            }
        }
        if self.image.trim().is_empty() {
            return bad("--image must name a container image".into());
        }
        if self.command.is_empty() {
            return bad("the trial command is empty (AUTOML_TRIAL_COMMAND?)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_source_comes_from_the_options() {
        let data = std::path::Path::new("/home/me/train.csv");
        let pvc = |claim: &str, mount: &str, path: &str| DataSource::Pvc { claim: claim.into(), mount_path: mount.into(), path: path.into() };
        assert_eq!(DataSource::from_options(Some("d"), None, None, data), Ok(pvc("d", DATA_MOUNT, "train.csv")));
        assert_eq!(DataSource::from_options(Some("d:/mnt"), Some("x/y.csv"), None, data), Ok(pvc("d", "/mnt", "x/y.csv")));
        assert_eq!(DataSource::from_options(None, None, Some("https://h/d.csv"), data), Ok(DataSource::Url("https://h/d.csv".into())));
        assert_eq!(DataSource::from_options(None, None, None, data), Ok(DataSource::SamePath));
        for (pvc, path, url, message) in [
            (Some(":/mnt"), None, None, "no claim name"),
            (None, None, Some("ftp://h/d.csv"), "http:// or https://"),
            (Some("d"), None, Some("https://h/d.csv"), "not both"),
            (None, Some("d.csv"), None, "give the PVC too"),
        ] {
            let e = DataSource::from_options(pvc, path, url, data).expect_err(message);
            assert!(e.contains(message), "{e}");
        }
    }

    #[test]
    fn the_prepared_folder_comes_from_the_options() {
        let dir = std::path::Path::new("/shared/prepared");
        assert_eq!(PreparedStore::from_options(None, None), Ok(None));
        let same = PreparedStore { dir: dir.into(), pod_dir: "/shared/prepared".into(), claim: None };
        assert_eq!(PreparedStore::from_options(Some(dir), None), Ok(Some(same)));
        let claimed = PreparedStore::from_options(Some(dir), Some("cache")).unwrap().unwrap();
        assert_eq!((claimed.claim.as_deref(), claimed.pod_dir.as_str()), (Some("cache"), PREPARED_MOUNT));
        assert_eq!(claimed.pod_path("x.automl-data"), std::path::Path::new("/prepared/x.automl-data"));
        assert_eq!(PreparedStore::from_options(Some(dir), Some("cache:/mnt/p")).unwrap().unwrap().pod_dir, "/mnt/p");
        for (claim, message) in [(Some(":/p"), "CLAIM[:MOUNT_PATH]"), (Some("c:rel"), "absolute")] {
            let e = PreparedStore::from_options(Some(dir), claim).expect_err(message);
            assert!(e.contains(message), "{e}");
        }
        assert!(PreparedStore::from_options(None, Some("c")).expect_err("no dir").contains("--prepared-dir"));
    }
}

fn default_outage() -> u64 {
    120
}
