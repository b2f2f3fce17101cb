//! An Experiment's plugins (`spec.plugins`): each component is read from a ConfigMap key
//! in the Experiment's namespace, checked against the SHA-256 the spec gives, and written
//! into the run folder, from where the runner loads it as `automl run --plugin` does.
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use sha2::{Digest, Sha256};

use super::translate::Refusal;
use crate::kubernetes::crd::PluginSource;

/// Fetches the components of `sources` into `dir/plugins/`; their paths, in order.
pub async fn fetch(api: &Api<ConfigMap>, sources: &[PluginSource], dir: &Path) -> Result<Vec<PathBuf>, Refusal> {
    let mut paths = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let at = format!("spec.plugins[{i}]");
        let unavailable = |message: String| Refusal { reason: "PluginUnavailable", message: format!("{at}: {message}") };
        let map = api.get_opt(&source.config_map).await.map_err(|e| unavailable(format!("cannot read ConfigMap {}: {e}", source.config_map)))?;
        let map = map.ok_or_else(|| unavailable(format!("there is no ConfigMap {} in the Experiment's namespace", source.config_map)))?;
        let bytes = map.binary_data.as_ref().and_then(|d| d.get(&source.key)).map(|b| b.0.clone()).or_else(|| map.data.as_ref().and_then(|d| d.get(&source.key)).map(|s| s.clone().into_bytes()));
        let bytes = bytes.ok_or_else(|| unavailable(format!("ConfigMap {} has no key {} (create it with kubectl create configmap {} --from-file={}=PLUGIN.wasm)", source.config_map, source.key, source.config_map, source.key)))?;
        let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        if !digest.eq_ignore_ascii_case(&source.sha256) {
            return Err(unavailable(format!("the component in {}/{} has SHA-256 {digest}, not {}; fix the digest or the ConfigMap", source.config_map, source.key, source.sha256)));
        }
        let plugins = dir.join("plugins");
        let path = plugins.join(format!("{i}-{}", crate::trial::plugin_key(&digest)));
        std::fs::create_dir_all(&plugins).and_then(|()| std::fs::write(&path, &bytes)).map_err(|e| Refusal { reason: "StateUnavailable", message: format!("{}: {e}", path.display()) })?;
        paths.push(path);
    }
    Ok(paths)
}
