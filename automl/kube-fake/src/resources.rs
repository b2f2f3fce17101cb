//! The custom resources the fake serves, kept as JSON with typed metadata: Experiments
//! and scheduler-plugins PodGroups.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A custom resource kept as JSON: typed metadata, the rest (`spec`, `status`) as the
/// client sent it.
macro_rules! custom_resource {
    ($(#[$doc:meta])* $name:ident, $group:literal, $version:literal, $plural:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// Set by the server on create.
            #[serde(rename = "apiVersion", default)]
            pub api_version: String,
            /// Set by the server on create.
            #[serde(default)]
            pub kind: String,
            /// Object metadata.
            #[serde(default)]
            pub metadata: ObjectMeta,
            /// `spec`, `status` and anything else the client sent.
            #[serde(flatten)]
            pub fields: Map<String, Value>,
        }

        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = stringify!($name);
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = ObjectMeta;
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

custom_resource!(
    /// An `automl.dev/v1alpha1` Experiment.
    Experiment, "automl.dev", "v1alpha1", "experiments"
);
custom_resource!(
    /// A scheduler-plugins `scheduling.x-k8s.io/v1alpha1` PodGroup (coscheduling: its
    /// pods start only when `spec.minMember` of them fit, see the `gang` module).
    PodGroup, "scheduling.x-k8s.io", "v1alpha1", "podgroups"
);

