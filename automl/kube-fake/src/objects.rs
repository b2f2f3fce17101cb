//! Experiments (a custom resource with a `status` subresource), Leases and ConfigMaps: create, replace
//! (PUT), JSON merge patch and JSON patch, finalizers that hold a deletion until they are
//! removed, and the garbage collector's part: the Jobs an Experiment owns go with it.
//!
//! As a real API server does for a CRD with a status subresource: writes to the object
//! ignore `status`, writes to `/status` change only `status`, `metadata.generation` moves
//! when `spec` changes, and a PUT (or a patch that names a `resourceVersion`) must name the
//! current one or is answered 409 Conflict. The fake does not check the CRD's schema.

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, Response, StatusCode};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::http::{
    already_exists, bad_request, details, get_object, invalid, json_response, list_or_watch, name_errors, not_found,
    prepare_meta, read_body, status, Body, Params,
};
use super::resources::{Experiment, PodGroup};
use super::store::{Key, Kind, Object, State};
use super::Shared;

/// Which part of an object a write is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The object: `status` is left as it is (when the type has a status subresource).
    Main,
    /// The `status` subresource: only `status` changes.
    Status,
}

/// Serves `/apis/automl.dev/v1alpha1/...experiments...` and
/// `/apis/coordination.k8s.io/v1/...leases...`; `None` for any other path.
pub(super) async fn route(shared: &Arc<Shared>, req: Request<Incoming>, segments: &[&str], params: &Params) -> Option<Response<Body>> {
    let (kind, rest) = match segments {
        ["apis", "automl.dev", "v1alpha1", rest @ ..] => (Kind::Experiment, rest),
        ["apis", "coordination.k8s.io", "v1", rest @ ..] => (Kind::Lease, rest),
        ["apis", "scheduling.x-k8s.io", "v1alpha1", rest @ ..] => (Kind::PodGroup, rest),
        ["api", "v1", rest @ ..] if rest.get(2) == Some(&"configmaps") || rest == ["configmaps"] => (Kind::ConfigMap, rest),
        _ => return None,
    };
    let method = req.method().clone();
    let content_type = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let plural = kind.plural();
    let body = match method {
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => match read_body(req).await {
            Ok(b) => b,
            Err(r) => return Some(r),
        },
        _ => Bytes::new(),
    };
    let write = Write { body: &body, content_type: &content_type, method: &method };
    Some(match (rest, &method) {
        ([p], &Method::GET) if *p == plural => dispatch_list(kind, shared, None, params),
        (["namespaces", ns, p], &Method::GET) if *p == plural => dispatch_list(kind, shared, Some(ns), params),
        (["namespaces", ns, p], &Method::POST) if *p == plural => match kind {
            Kind::Experiment => create::<Experiment>(shared, ns, &body, params),
            Kind::ConfigMap => create::<ConfigMap>(shared, ns, &body, params),
            Kind::PodGroup => create::<PodGroup>(shared, ns, &body, params),
            _ => create::<Lease>(shared, ns, &body, params),
        },
        (["namespaces", ns, p, name] | ["namespaces", ns, p, name, "status"], &Method::GET) if *p == plural => match kind {
            Kind::Experiment => get_object::<Experiment>(shared, ns, name),
            Kind::ConfigMap => get_object::<ConfigMap>(shared, ns, name),
            Kind::PodGroup => get_object::<PodGroup>(shared, ns, name),
            _ => get_object::<Lease>(shared, ns, name),
        },
        (["namespaces", ns, p, name], &Method::PUT | &Method::PATCH) if *p == plural => match kind {
            Kind::Experiment => update::<Experiment>(shared, ns, name, &write, Part::Main),
            Kind::ConfigMap => update::<ConfigMap>(shared, ns, name, &write, Part::Main),
            _ => update::<Lease>(shared, ns, name, &write, Part::Main),
        },
        (["namespaces", ns, p, name, "status"], &Method::PUT | &Method::PATCH) if *p == plural && kind == Kind::Experiment => {
            update::<Experiment>(shared, ns, name, &write, Part::Status)
        }
        (["namespaces", ns, p, name], &Method::DELETE) if *p == plural => match kind {
            Kind::Experiment => super::http::delete::<Experiment>(shared, ns, name, &body, params),
            Kind::ConfigMap => super::http::delete::<ConfigMap>(shared, ns, name, &body, params),
            Kind::PodGroup => super::http::delete::<PodGroup>(shared, ns, name, &body, params),
            _ => super::http::delete::<Lease>(shared, ns, name, &body, params),
        },
        _ => status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource", None),
    })
}

fn dispatch_list(kind: Kind, shared: &Arc<Shared>, ns: Option<&str>, params: &Params) -> Response<Body> {
    match kind {
        Kind::Experiment => list_or_watch::<Experiment>(shared, ns, params),
        Kind::ConfigMap => list_or_watch::<ConfigMap>(shared, ns, params),
        Kind::PodGroup => list_or_watch::<PodGroup>(shared, ns, params),
        _ => list_or_watch::<Lease>(shared, ns, params),
    }
}

/// Stores a new object (`status` dropped where it is a subresource).
fn create<T: Object + DeserializeOwned>(shared: &Shared, ns: &str, body: &[u8], params: &Params) -> Response<Body> {
    let mut obj: T = match serde_json::from_slice(body) {
        Ok(o) => o,
        Err(e) => return bad_request(format!("the body of the request was in an unknown format: {e}")),
    };
    let name = match prepare_meta(T::RESOURCE, obj.metadata_mut(), ns) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let errors = name_errors(&name, 253);
    if !errors.is_empty() {
        return invalid(T::RESOURCE, &name, &errors);
    }
    obj.created();
    let key = (ns.to_string(), name.clone());
    let mut st = shared.lock();
    if T::map(&st).contains_key(&key) {
        return already_exists(T::RESOURCE, &name);
    }
    if params.get("dryRun").is_some() {
        return json_response(StatusCode::CREATED, &obj);
    }
    let stored = st.insert(obj);
    json_response(StatusCode::CREATED, &stored)
}

/// A PUT or PATCH request.
struct Write<'a> {
    body: &'a [u8],
    content_type: &'a str,
    method: &'a Method,
}

impl Write<'_> {
    /// The object the client asks for, from the current one; an error is the response.
    fn apply(&self, current: &Value) -> Result<Value, Response<Body>> {
        let body: Value = serde_json::from_slice(self.body)
            .map_err(|e| bad_request(format!("the body of the request was in an unknown format: {e}")))?;
        if self.method == Method::PUT {
            return Ok(body);
        }
        let mut out = current.clone();
        match self.content_type.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => json_patch::merge(&mut out, &body),
            "application/json-patch+json" => {
                let mut patch: json_patch::Patch = serde_json::from_value(body)
                    .map_err(|e| bad_request(format!("the body of the request was in an unknown format: {e}")))?;
                // As the API server's JSON patch library does: testing a missing field
                // for null succeeds (kube's finalizer helper relies on it).
                patch.0.retain(|op| !matches!(op, json_patch::PatchOperation::Test(t) if t.value.is_null() && out.pointer(t.path.as_str()).is_none()));
                json_patch::patch(&mut out, &patch).map_err(|e| {
                    status(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", format!("the server rejected our request due to an error in our request: {e}"), None)
                })?;
            }
            other => {
                return Err(status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got {other:?})"),
                    None,
                ))
            }
        }
        Ok(out)
    }
}

/// Replaces or patches the object at `(ns, name)`, or its status.
fn update<T: Object + DeserializeOwned>(shared: &Shared, ns: &str, name: &str, write: &Write<'_>, part: Part) -> Response<Body> {
    let key = (ns.to_string(), name.to_string());
    let mut st = shared.lock();
    let Some(current) = T::map(&st).get(&key).cloned() else { return not_found(T::RESOURCE, name) };
    let before = match serde_json::to_value(&current) {
        Ok(v) => v,
        Err(e) => return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string(), None),
    };
    let wanted = match write.apply(&before) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let rv = &before["metadata"]["resourceVersion"];
    match &wanted["metadata"]["resourceVersion"] {
        Value::Null if write.method == Method::PUT => {
            let errors = [("metadata.resourceVersion".to_string(), "Invalid value: 0x0: must be specified for an update".to_string())];
            return invalid(T::RESOURCE, name, &errors);
        }
        Value::String(want) if Some(want.as_str()) != rv.as_str() => return conflict(T::RESOURCE, name),
        _ => {}
    }
    let merged = merge(&before, wanted, part, T::STATUS);
    let obj: T = match serde_json::from_value(merged) {
        Ok(o) => o,
        Err(e) => return invalid(T::RESOURCE, name, &[("body".to_string(), e.to_string())]),
    };
    let uid = current.metadata().uid.clone().unwrap_or_default();
    let Some(stored) = st.modify::<T>(&key, &uid, |o| *o = obj) else { return not_found(T::RESOURCE, name) };
    let finalized = stored.metadata().deletion_timestamp.is_some() && stored.metadata().finalizers.as_ref().is_none_or(Vec::is_empty);
    if finalized {
        st.remove::<T>(&key);
        collect_garbage(&mut st, &uid);
    }
    json_response(StatusCode::OK, &stored)
}

/// The object after a write of `part`: what the client may change taken from `wanted`,
/// what the server owns kept from `before`.
fn merge(before: &Value, mut wanted: Value, part: Part, has_status: bool) -> Value {
    let mut out = before.clone();
    match part {
        Part::Status => out["status"] = wanted["status"].take(),
        Part::Main => {
            let meta = before["metadata"].clone();
            if has_status {
                wanted["status"] = before["status"].clone();
            }
            out = wanted;
            for field in ["uid", "name", "namespace", "creationTimestamp", "deletionTimestamp", "generation", "resourceVersion"] {
                out["metadata"][field] = meta[field].clone();
            }
            if has_status && out["spec"] != before["spec"] {
                out["metadata"]["generation"] = json!(meta["generation"].as_i64().unwrap_or(1) + 1);
            }
        }
    }
    if let Value::Object(m) = &mut out {
        m.retain(|_, v| !v.is_null());
        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
            meta.retain(|_, v| !v.is_null());
        }
    }
    out
}

fn conflict(kind: Kind, name: &str) -> Response<Body> {
    let message = format!(
        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
        kind.qualified()
    );
    status(StatusCode::CONFLICT, "Conflict", message, Some(details(kind, name)))
}

/// The garbage collector, after the object with `uid` went: the Jobs it owns, then their
/// pods (background propagation).
pub(super) fn collect_garbage(st: &mut State, uid: &str) {
    let owned = |refs: &Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>, uid: &str| {
        refs.iter().flatten().any(|o| o.uid == uid)
    };
    let jobs: Vec<(Key, String)> = st
        .jobs
        .iter()
        .filter(|(_, j)| owned(&j.metadata.owner_references, uid))
        .map(|(k, j)| (k.clone(), j.metadata.uid.clone().unwrap_or_default()))
        .collect();
    for (key, job_uid) in jobs {
        st.remove::<Job>(&key);
        remove_owned_pod_groups(st, &job_uid);
        let pods: Vec<Key> = st.pods.iter().filter(|(_, p)| owned(&p.metadata.owner_references, &job_uid)).map(|(k, _)| k.clone()).collect();
        for pod in pods {
            st.remove::<Pod>(&pod);
        }
    }
}

/// The garbage collector, after a Job went: the PodGroups it owns.
pub(super) fn remove_owned_pod_groups(st: &mut State, job_uid: &str) {
    let groups: Vec<Key> = st.pod_groups.iter().filter(|(_, g)| g.metadata.owner_references.iter().flatten().any(|o| o.uid == job_uid)).map(|(k, _)| k.clone()).collect();
    for g in groups {
        st.remove::<PodGroup>(&g);
    }
}
