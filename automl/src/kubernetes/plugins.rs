//! Plugins in trial pods: the preprocessor and metric components of an experiment travel
//! in one ConfigMap (`automl-EXPERIMENT-plugins`, binary data keyed by digest), which every
//! trial Job mounts read-only at [`PLUGIN_MOUNT`]. The pod checks each component's SHA-256
//! against its trial spec before loading it in the same sandbox as a local run.
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource, Volume, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, PostParams};

use super::labels;
use crate::error::{Error, Result};
use crate::trial::{plugin_key, PLUGIN_MOUNT};

/// Most bytes of components one ConfigMap carries (the API server refuses objects over
/// 1 MiB, and the rest of the object needs room).
pub const MAX_BYTES: usize = 1_000_000;

/// The ConfigMap of an experiment's plugins.
pub fn config_map_name(experiment: &str) -> String {
    format!("automl-{experiment}-plugins")
}

/// The ConfigMap for `components` (SHA-256, bytes); an error when they do not fit.
pub fn config_map(experiment: &str, components: &[(String, Arc<[u8]>)]) -> Result<ConfigMap> {
    let total: usize = components.iter().map(|(_, b)| b.len()).sum();
    if total > MAX_BYTES {
        return Err(Error::Config(format!(
            "the preprocessor and metric plugins are {total} bytes, and trial pods receive them in a ConfigMap of at most {MAX_BYTES} bytes; components built with componentize-py or jco are larger: use a Rust plugin, or run the experiment with the local executor"
        )));
    }
    let data: BTreeMap<String, ByteString> = components.iter().map(|(sha, bytes)| (plugin_key(sha), ByteString(bytes.to_vec()))).collect();
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(config_map_name(experiment)),
            labels: Some([(labels::EXPERIMENT.to_string(), experiment.to_string()), ("app.kubernetes.io/managed-by".to_string(), "automl".to_string())].into()),
            ..Default::default()
        },
        binary_data: Some(data),
        immutable: Some(true),
        ..Default::default()
    })
}

/// Creates the ConfigMap (one made before a restart is kept: its name is the experiment's).
pub async fn publish(api: &Api<ConfigMap>, map: &ConfigMap) -> Result<()> {
    match api.create(&PostParams::default(), map).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(Error::cluster_caused(format!("cannot create the plugin ConfigMap {}", map.metadata.name.as_deref().unwrap_or_default()), e)),
    }
}

/// Deletes the ConfigMap; `None`, or a note saying why it could not be.
pub async fn withdraw(api: &Api<ConfigMap>, experiment: &str) -> Option<String> {
    let name = config_map_name(experiment);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => None,
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => Some(format!("could not delete the plugin ConfigMap {name}: {e}")),
    }
}

/// The volume and mount of the ConfigMap in a trial pod.
pub fn volume(experiment: &str) -> (Volume, VolumeMount) {
    let volume = Volume {
        name: "plugins".into(),
        config_map: Some(ConfigMapVolumeSource { name: config_map_name(experiment), ..Default::default() }),
        ..Default::default()
    };
    let mount = VolumeMount { name: "plugins".into(), mount_path: PLUGIN_MOUNT.into(), read_only: Some(true), ..Default::default() };
    (volume, mount)
}
