//! HTTP: routing (Experiments and Leases are in [`super::objects`]), the Job and Pod endpoints, watch streams and log streams, and `Status`
//! error bodies as the real API server writes them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::cluster;
use super::store::{
    decode_continue, encode_continue, is_dns1123_label, is_dns1123_subdomain, is_terminal, new_uid, now, random_suffix,
    Fields, Key, Kind, Object, Selector,
};
use super::{RecordedRequest, Shared};

/// Response bodies: a whole JSON document or a stream of chunks.
pub(super) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
const BOOKMARK_EVERY: Duration = Duration::from_secs(1);

/// Decoded query parameters.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses `a=b&c=d` (percent-encoding and `+` decoded; empty pairs skipped).
    pub(super) fn parse(query: &str) -> Self {
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (percent_decode(k), percent_decode(v))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Whether `key` is `true` or `1`.
    pub(super) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = || std::str::from_utf8(b.get(i + 1..i + 3)?).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if hex().is_some() => {
                out.extend(hex());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves one request: throttling, routing, recording.
pub(super) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let throttled = {
        let mut st = shared.lock();
        if st.throttle.0 > 0 {
            st.throttle.0 -= 1;
            Some(st.throttle.1)
        } else {
            None
        }
    };
    let response = match throttled {
        Some(secs) => too_many_requests(secs),
        None => route(&shared, req, &path, &query).await,
    };
    let status = response.status().as_u16();
    shared.lock().requests.push(RecordedRequest { method, path, query, status });
    Ok(response)
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>, path: &str, query: &str) -> Response<Body> {
    let params = Params::parse(query);
    let method = req.method().clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let get = method == Method::GET;
    let config_maps = matches!(segments.as_slice(), ["api", "v1", "configmaps"] | ["api", "v1", "namespaces", _, "configmaps", ..]);
    if config_maps || matches!(segments.as_slice(), ["apis", "automl.dev" | "coordination.k8s.io" | "scheduling.x-k8s.io", ..]) {
        return match super::objects::route(shared, req, &segments, &params).await {
            Some(r) => r,
            None => status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource", None),
        };
    }
    match (segments.as_slice(), method) {
        (["version"], Method::GET) => version(),
        (["api", "v1", "pods"], Method::GET) => list_or_watch::<Pod>(shared, None, &params),
        (["apis", "batch", "v1", "jobs"], Method::GET) => list_or_watch::<Job>(shared, None, &params),
        (["api", "v1", "namespaces", ns, "pods"], Method::GET) => list_or_watch::<Pod>(shared, Some(ns), &params),
        (["apis", "batch", "v1", "namespaces", ns, "jobs"], Method::GET) => {
            list_or_watch::<Job>(shared, Some(ns), &params)
        }
        (["api", "v1", "namespaces", ns, "pods"], Method::POST) => match read_body(req).await {
            Ok(body) => create_pod(shared, ns, &body, &params),
            Err(r) => r,
        },
        (["apis", "batch", "v1", "namespaces", ns, "jobs"], Method::POST) => match read_body(req).await {
            Ok(body) => create_job(shared, ns, &body, &params),
            Err(r) => r,
        },
        (
            ["api", "v1", "namespaces", ns, "pods", name] | ["api", "v1", "namespaces", ns, "pods", name, "status"],
            _,
        ) if get => get_object::<Pod>(shared, ns, name),
        (
            ["apis", "batch", "v1", "namespaces", ns, "jobs", name]
            | ["apis", "batch", "v1", "namespaces", ns, "jobs", name, "status"],
            _,
        ) if get => get_object::<Job>(shared, ns, name),
        (["api", "v1", "namespaces", ns, "pods", name], Method::DELETE) => match read_body(req).await {
            Ok(body) => delete::<Pod>(shared, ns, name, &body, &params),
            Err(r) => r,
        },
        (["apis", "batch", "v1", "namespaces", ns, "jobs", name], Method::DELETE) => match read_body(req).await {
            Ok(body) => delete::<Job>(shared, ns, name, &body, &params),
            Err(r) => r,
        },
        (["api", "v1", "namespaces", ns, "pods", name, "log"], Method::GET) => pod_log(shared, ns, name, &params),
        (
            ["api", "v1", "pods"]
            | ["apis", "batch", "v1", "jobs"]
            | ["api", "v1", "namespaces", _, "pods" | "jobs", ..]
            | ["apis", "batch", "v1", "namespaces", _, "jobs", ..],
            method,
        ) => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
            None,
        ),
        _ => status(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource", None),
    }
}

pub(super) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match req.into_body().collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => Err(bad_request(format!("reading the request body: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------
// Responses

fn full(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(super) fn json_response(code: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => full(code, "application/json", body),
        Err(e) => status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string(), None),
    }
}

/// A chunked body fed by `rx`; it ends when every sender is dropped.
fn streaming(content_type: &'static str, rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(chunks).boxed_unsync());
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A `Status` failure body.
pub(super) fn status(code: StatusCode, reason: &str, message: impl Into<String>, details: Option<Value>) -> Response<Body> {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message.into(),
        "reason": reason,
        "code": code.as_u16(),
    });
    if let Some(d) = details {
        body["details"] = d;
    }
    json_response(code, &body)
}

pub(super) fn bad_request(message: impl Into<String>) -> Response<Body> {
    status(StatusCode::BAD_REQUEST, "BadRequest", message, None)
}

pub(super) fn details(kind: Kind, name: &str) -> Value {
    json!({ "name": name, "group": kind.group(), "kind": kind.plural() })
}

pub(super) fn not_found(kind: Kind, name: &str) -> Response<Body> {
    let message = format!("{} \"{name}\" not found", kind.qualified());
    status(StatusCode::NOT_FOUND, "NotFound", message, Some(details(kind, name)))
}

pub(super) fn already_exists(kind: Kind, name: &str) -> Response<Body> {
    let message = format!("{} \"{name}\" already exists", kind.qualified());
    status(StatusCode::CONFLICT, "AlreadyExists", message, Some(details(kind, name)))
}

fn too_many_requests(retry_after_s: u64) -> Response<Body> {
    let mut r = status(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        "Too many requests, please try again later.",
        Some(json!({ "retryAfterSeconds": retry_after_s })),
    );
    r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after_s));
    r
}

/// 422 Invalid with one cause per `(field, message)`.
pub(super) fn invalid(kind: Kind, name: &str, errors: &[(String, String)]) -> Response<Body> {
    let each: Vec<String> = errors.iter().map(|(f, m)| format!("{f}: {m}")).collect();
    let joined = if each.len() == 1 { each[0].clone() } else { format!("[{}]", each.join(", ")) };
    let qualified = if kind.group().is_empty() {
        kind.kind_name().to_string()
    } else {
        format!("{}.{}", kind.kind_name(), kind.group())
    };
    let causes: Vec<Value> =
        errors.iter().map(|(f, m)| json!({ "reason": "FieldValueInvalid", "message": m, "field": f })).collect();
    status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Invalid",
        format!("{qualified} \"{name}\" is invalid: {joined}"),
        Some(json!({ "name": name, "group": kind.group(), "kind": kind.kind_name(), "causes": causes })),
    )
}

fn version() -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-automl-fake", "gitCommit": "",
            "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24",
            "compiler": "gc", "platform": "linux/amd64",
        }),
    )
}

// ---------------------------------------------------------------------------------------
// Get, list, watch

pub(super) fn get_object<T: Object>(shared: &Shared, ns: &str, name: &str) -> Response<Body> {
    let st = shared.lock();
    match T::map(&st).get(&(ns.to_string(), name.to_string())) {
        Some(obj) => json_response(StatusCode::OK, obj),
        None => not_found(T::RESOURCE, name),
    }
}

pub(super) fn list_or_watch<T: Object>(shared: &Arc<Shared>, ns: Option<&str>, params: &Params) -> Response<Body> {
    let selector = match Selector::parse(T::RESOURCE, params.get("labelSelector"), params.get("fieldSelector")) {
        Ok(s) => s,
        Err(message) => return bad_request(message),
    };
    if params.flag("watch") {
        watch::<T>(shared, ns, selector, params)
    } else {
        list::<T>(shared, ns, &selector, params)
    }
}

/// A list sorted by namespace and name, paged by `limit` and `continue`. The
/// `resourceVersion` parameters are ignored: lists always show the latest state.
fn list<T: Object>(shared: &Shared, ns: Option<&str>, selector: &Selector, params: &Params) -> Response<Body> {
    let limit = params.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|&l| l > 0);
    let after = match params.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(token) => match decode_continue(token) {
            Some(key) => Some(key),
            None => return bad_request("continue key is not valid: incorrect encoded start resourceVersion"),
        },
    };
    let st = shared.lock();
    let (mut items, mut remaining, mut last): (Vec<Value>, usize, Option<&Key>) = (Vec::new(), 0, None);
    for (key, obj) in T::map(&st) {
        if ns.is_some_and(|n| key.0 != n) || after.as_ref().is_some_and(|a| key <= a) {
            continue;
        }
        if !selector.matches(&Fields::of(obj)) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        items.push(serde_json::to_value(obj).unwrap_or(Value::Null));
        last = Some(key);
    }
    let mut metadata = json!({ "resourceVersion": st.rv.to_string() });
    if let (true, Some(last)) = (remaining > 0, last) {
        metadata["continue"] = json!(encode_continue(last));
        metadata["remainingItemCount"] = json!(remaining);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": format!("{}List", T::RESOURCE.kind_name()),
            "apiVersion": T::RESOURCE.api_version(),
            "metadata": metadata,
            "items": items,
        }),
    )
}

/// Who a watch is for.
struct WatchFilter {
    kind: Kind,
    namespace: Option<String>,
    selector: Selector,
}

impl WatchFilter {
    fn matches(&self, kind: Kind, f: &Fields) -> bool {
        kind == self.kind && self.namespace.as_ref().is_none_or(|n| *n == f.namespace) && self.selector.matches(f)
    }
}

fn bookmark_line(kind: Kind, rv: u64, initial_events_end: bool) -> Bytes {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if initial_events_end {
        metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
    }
    let event = json!({
        "type": "BOOKMARK",
        "object": { "kind": kind.kind_name(), "apiVersion": kind.api_version(), "metadata": metadata },
    });
    Bytes::from(format!("{event}\n"))
}

/// The ERROR event that tells a client its resourceVersion was compacted away: it must
/// re-list. It travels inside a 200 stream, as from the real server.
fn expired_line(rv: u64, horizon: u64) -> Bytes {
    let event = json!({
        "type": "ERROR",
        "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": format!("too old resource version: {rv} ({horizon})"),
            "reason": "Expired", "code": 410,
        },
    });
    Bytes::from(format!("{event}\n"))
}

/// A watch: events after `resourceVersion` replayed from the history, then live ones.
/// Without a resourceVersion (or "0"), or with `sendInitialEvents=true`, it starts with
/// synthetic ADDED events for the current objects (the latter then sends the
/// `k8s.io/initial-events-end` BOOKMARK).
fn watch<T: Object>(shared: &Arc<Shared>, ns: Option<&str>, selector: Selector, params: &Params) -> Response<Body> {
    let filter = WatchFilter { kind: T::RESOURCE, namespace: ns.map(str::to_string), selector };
    let rv_param = params.get("resourceVersion").unwrap_or("");
    let from = match rv_param {
        "" | "0" => None,
        rv => match rv.parse::<u64>() {
            Ok(rv) => Some(rv),
            Err(_) => return bad_request(format!("invalid resource version: {rv}")),
        },
    };
    let initial_events = params.flag("sendInitialEvents");
    let timeout = params.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs);
    let bookmarks = params.flag("allowWatchBookmarks");

    // Take the starting point and subscribe under the lock, so no write is missed.
    let (initial, cursor, rv_rx) = {
        let st = shared.lock();
        let mut initial = Vec::new();
        let cursor = match from {
            Some(rv) if rv < st.horizon && !initial_events => {
                return full(StatusCode::OK, "application/json", expired_line(rv, st.horizon));
            }
            Some(rv) if !initial_events => rv.max(st.horizon),
            _ => {
                for obj in T::map(&st).values() {
                    if filter.matches(T::RESOURCE, &Fields::of(obj)) {
                        let json = serde_json::to_string(obj).unwrap_or_else(|_| "{}".into());
                        initial.push(Bytes::from(format!("{{\"type\":\"ADDED\",\"object\":{json}}}\n")));
                    }
                }
                if initial_events {
                    initial.push(bookmark_line(T::RESOURCE, st.rv, true));
                }
                st.rv
            }
        };
        (initial, cursor, st.rv_tx.subscribe())
    };
    let (tx, rx) = mpsc::channel(256);
    let stream = WatchStream { shared: shared.clone(), filter, cursor, bookmarks, timeout, tx };
    tokio::spawn(stream.run(initial, rv_rx));
    streaming("application/json", rx)
}

struct WatchStream {
    shared: Arc<Shared>,
    filter: WatchFilter,
    /// Every event up to this resourceVersion has been considered.
    cursor: u64,
    bookmarks: bool,
    timeout: Option<Duration>,
    tx: mpsc::Sender<Bytes>,
}

enum Wake {
    Changed,
    Bookmark,
    End,
}

impl WatchStream {
    async fn run(mut self, initial: Vec<Bytes>, mut rv_rx: watch::Receiver<u64>) {
        for line in initial {
            if self.tx.send(line).await.is_err() {
                return;
            }
        }
        let mut cut = self.shared.cut_tx.subscribe();
        let mut up = self.shared.up_tx.subscribe();
        let mut shutdown = self.shared.shutdown_tx.subscribe();
        // timeoutSeconds ends the stream (cleanly) like the real server.
        let deadline = tokio::time::sleep(self.timeout.unwrap_or(Duration::from_secs(1 << 30)));
        tokio::pin!(deadline);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Send what happened since the cursor.
            let batch = {
                let st = self.shared.lock();
                if self.cursor < st.horizon {
                    // Compacted while this watch was behind: the client must re-list.
                    Err(expired_line(self.cursor, st.horizon))
                } else {
                    let start = st.history.partition_point(|e| e.rv <= self.cursor);
                    let lines: Vec<Bytes> = st
                        .history
                        .range(start..)
                        .filter(|e| self.filter.matches(e.kind, &e.fields))
                        .map(|e| e.line.clone())
                        .collect();
                    self.cursor = self.cursor.max(st.rv);
                    Ok(lines)
                }
            };
            match batch {
                Err(line) => {
                    let _ = self.tx.send(line).await;
                    return;
                }
                Ok(lines) => {
                    for line in lines {
                        if self.tx.send(line).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let wake = tokio::select! {
                changed = rv_rx.changed() => if changed.is_ok() { Wake::Changed } else { Wake::End },
                _ = ticks.tick(), if self.bookmarks => Wake::Bookmark,
                _ = cut.changed() => Wake::End,
                _ = up.wait_for(|u| !*u) => Wake::End,
                _ = shutdown.wait_for(|s| *s) => Wake::End,
                _ = &mut deadline => Wake::End,
                _ = self.tx.closed() => Wake::End,
            };
            match wake {
                Wake::Changed => {}
                Wake::Bookmark => {
                    if self.tx.send(bookmark_line(self.filter.kind, self.cursor, false)).await.is_err() {
                        return;
                    }
                }
                Wake::End => return,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Create

/// Checks the namespace and resolves `generateName`; clears what the server sets.
pub(super) fn prepare_meta(kind: Kind, meta: &mut ObjectMeta, ns: &str) -> Result<String, Response<Body>> {
    if meta.namespace.as_deref().is_some_and(|n| !n.is_empty() && n != ns) {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    meta.namespace = Some(ns.to_string());
    if meta.name.as_deref().is_none_or(str::is_empty) {
        match meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
            Some(prefix) => meta.name = Some(format!("{prefix}{}", random_suffix())),
            None => {
                let errors =
                    [("metadata.name".to_string(), "Required value: name or generateName is required".to_string())];
                return Err(invalid(kind, "", &errors));
            }
        }
    }
    meta.uid = Some(new_uid());
    meta.creation_timestamp = Some(now());
    meta.deletion_timestamp = None;
    meta.resource_version = None;
    meta.generation = Some(1);
    Ok(meta.name.clone().unwrap_or_default())
}

pub(super) fn name_errors(name: &str, max: usize) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if !is_dns1123_subdomain(name) {
        errors.push((
            "metadata.name".to_string(),
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                 characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
                 regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ),
        ));
    }
    if name.len() > max {
        errors.push((
            "metadata.name".to_string(),
            format!("Invalid value: \"{name}\": must be no more than {max} characters"),
        ));
    }
    errors
}

/// Validates a pod spec under `prefix`; `job` restricts restartPolicy to Never/OnFailure.
fn pod_spec_errors(prefix: &str, spec: Option<&PodSpec>, job: bool) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let containers = spec.map(|s| s.containers.as_slice()).unwrap_or_default();
    if containers.is_empty() {
        errors.push((format!("{prefix}.containers"), "Required value".to_string()));
    }
    for (i, c) in containers.iter().enumerate() {
        if !is_dns1123_label(&c.name) {
            errors.push((
                format!("{prefix}.containers[{i}].name"),
                format!("Invalid value: \"{}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", c.name),
            ));
        }
        if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
            errors.push((format!("{prefix}.containers[{i}].image"), "Required value".to_string()));
        }
    }
    let policy = spec.and_then(|s| s.restart_policy.as_deref());
    let allowed: &[&str] = if job { &["OnFailure", "Never"] } else { &["Always", "OnFailure", "Never"] };
    let supported = allowed.iter().map(|a| format!("\"{a}\"")).collect::<Vec<_>>().join(", ");
    match policy {
        None if job => {
            errors.push((format!("{prefix}.restartPolicy"), format!("Required value: valid values: {supported}")))
        }
        Some(p) if !allowed.contains(&p) => errors.push((
            format!("{prefix}.restartPolicy"),
            format!("Unsupported value: \"{p}\": supported values: {supported}"),
        )),
        _ => {}
    }
    errors
}

/// Defaults the API server applies to every container.
fn default_pod_spec(spec: &mut PodSpec, restart_policy: &str) {
    spec.restart_policy.get_or_insert_with(|| restart_policy.to_string());
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".to_string());
    spec.scheduler_name.get_or_insert_with(|| "default-scheduler".to_string());
    spec.termination_grace_period_seconds.get_or_insert(30);
    for c in &mut spec.containers {
        c.termination_message_path.get_or_insert_with(|| "/dev/termination-log".to_string());
        c.termination_message_policy.get_or_insert_with(|| "File".to_string());
    }
}

fn create_job(shared: &Arc<Shared>, ns: &str, body: &[u8], params: &Params) -> Response<Body> {
    let mut job: Job = match serde_json::from_slice(body) {
        Ok(j) => j,
        Err(e) => return bad_request(format!("the body of the request was in an unknown format: {e}")),
    };
    let name = match prepare_meta(Kind::Job, &mut job.metadata, ns) {
        Ok(n) => n,
        Err(r) => return r,
    };
    // A Job's name becomes a label value on its pods: at most 63 characters.
    let mut errors = name_errors(&name, 63);
    let spec = job.spec.as_ref();
    errors.extend(pod_spec_errors("spec.template.spec", spec.and_then(|s| s.template.spec.as_ref()), true));
    if let Some(b) = spec.and_then(|s| s.backoff_limit).filter(|b| *b < 0) {
        errors.push(("spec.backoffLimit".into(), format!("Invalid value: {b}: must be greater than or equal to 0")));
    }
    if let Some(d) = spec.and_then(|s| s.active_deadline_seconds).filter(|d| *d <= 0) {
        errors.push(("spec.activeDeadlineSeconds".into(), format!("Invalid value: {d}: must be greater than 0")));
    }
    if !errors.is_empty() {
        return invalid(Kind::Job, &name, &errors);
    }

    // Defaulting, as the API server does it.
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let spec = job.spec.get_or_insert_with(Default::default);
    spec.backoff_limit.get_or_insert(6);
    spec.completions.get_or_insert(1);
    spec.parallelism.get_or_insert(1);
    spec.completion_mode.get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    spec.pod_replacement_policy.get_or_insert_with(|| "TerminatingOrFailed".into());
    if spec.manual_selector != Some(true) || spec.selector.is_none() {
        let labels = [("batch.kubernetes.io/controller-uid".to_string(), uid.clone())];
        spec.selector = Some(LabelSelector { match_labels: Some(labels.into_iter().collect()), ..Default::default() });
    }
    let template_meta = spec.template.metadata.get_or_insert_with(Default::default);
    template_meta.labels.get_or_insert_with(Default::default).extend(cluster::job_pod_labels(&name, &uid));
    if let Some(pod_spec) = spec.template.spec.as_mut() {
        default_pod_spec(pod_spec, "Never");
    }
    job.status = Some(Default::default());

    let key = (ns.to_string(), name.clone());
    let (job, kill_rx) = {
        let mut st = shared.lock();
        if st.jobs.contains_key(&key) {
            return already_exists(Kind::Job, &name);
        }
        if params.get("dryRun").is_some() {
            return json_response(StatusCode::CREATED, &job);
        }
        let (kill_tx, kill_rx) = watch::channel(false);
        st.job_kills.insert(uid.clone(), kill_tx);
        st.jobs_created += 1;
        (st.insert(job), kill_rx)
    };
    cluster::spawn_job(shared.clone(), key, uid, kill_rx);
    json_response(StatusCode::CREATED, &job)
}

/// A pod created by a client: stored and run by the kubelet (with an empty `Job`).
fn create_pod(shared: &Arc<Shared>, ns: &str, body: &[u8], params: &Params) -> Response<Body> {
    let mut pod: Pod = match serde_json::from_slice(body) {
        Ok(p) => p,
        Err(e) => return bad_request(format!("the body of the request was in an unknown format: {e}")),
    };
    let name = match prepare_meta(Kind::Pod, &mut pod.metadata, ns) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut errors = name_errors(&name, 253);
    errors.extend(pod_spec_errors("spec", pod.spec.as_ref(), false));
    if !errors.is_empty() {
        return invalid(Kind::Pod, &name, &errors);
    }
    if let Some(spec) = pod.spec.as_mut() {
        default_pod_spec(spec, "Always");
    }
    pod.status = Some(cluster::pending_status());
    let key = (ns.to_string(), name.clone());
    let (pod, kill_rx) = {
        let mut st = shared.lock();
        if st.pods.contains_key(&key) {
            return already_exists(Kind::Pod, &name);
        }
        if params.get("dryRun").is_some() {
            return json_response(StatusCode::CREATED, &pod);
        }
        st.insert_pod(pod)
    };
    // Nobody waits for a bare pod's outcome.
    drop(cluster::spawn_kubelet(shared.clone(), Job::default(), pod.clone(), kill_rx));
    json_response(StatusCode::CREATED, &pod)
}

// ---------------------------------------------------------------------------------------
// Delete

/// Deletes a Job or a Pod. The body is DeleteOptions (may be empty); `propagationPolicy`
/// (body or query) decides a Job's pods: Background or Foreground delete them after the
/// Job; absent or Orphan leave them, without the ownerReference (the default for Jobs).
/// Jobs answer a `Status` Success, pods the deleted object, like the real server.
pub(super) fn delete<T: Object>(shared: &Shared, ns: &str, name: &str, body: &[u8], params: &Params) -> Response<Body> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return bad_request(format!("the body of the request was in an unknown format: {e}")),
        }
    };
    let policy = opts.get("propagationPolicy").and_then(Value::as_str).or_else(|| params.get("propagationPolicy"));
    if let Some(p) = policy.filter(|p| !matches!(*p, "Orphan" | "Background" | "Foreground")) {
        return status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
            None,
        );
    }
    let dry_run =
        opts.get("dryRun").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) || params.get("dryRun").is_some();
    let key = (ns.to_string(), name.to_string());
    let mut st = shared.lock();
    let Some(obj) = T::map(&st).get(&key) else { return not_found(T::RESOURCE, name) };
    let uid = obj.metadata().uid.clone().unwrap_or_default();
    let preconditions = opts.get("preconditions");
    if let Some(want) = preconditions.and_then(|p| p.get("uid")).and_then(Value::as_str).filter(|w| *w != uid) {
        let message = format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}");
        return status(StatusCode::CONFLICT, "Conflict", message, Some(details(T::RESOURCE, name)));
    }
    let rv = obj.metadata().resource_version.clone().unwrap_or_default();
    if let Some(want) =
        preconditions.and_then(|p| p.get("resourceVersion")).and_then(Value::as_str).filter(|w| *w != rv)
    {
        let message = format!(
            "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}"
        );
        return status(StatusCode::CONFLICT, "Conflict", message, Some(details(T::RESOURCE, name)));
    }
    if dry_run {
        return delete_response(&*obj, &uid, name);
    }
    if obj.metadata().finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
        // Held until its finalizers are removed: marked, and answered with the object.
        let marked = st.modify::<T>(&key, &uid, |o| {
            o.metadata_mut().deletion_timestamp.get_or_insert_with(now);
        });
        return match marked {
            Some(o) => json_response(StatusCode::OK, &o),
            None => not_found(T::RESOURCE, name),
        };
    }
    let Some(deleted) = st.remove::<T>(&key) else { return not_found(T::RESOURCE, name) };
    if T::RESOURCE == Kind::Experiment {
        super::objects::collect_garbage(&mut st, &uid);
    }
    if T::RESOURCE == Kind::Job {
        super::objects::remove_owned_pod_groups(&mut st, &uid);
    }
    if T::RESOURCE == Kind::Job {
        // The garbage collector's part: the Job's pods, after the Job.
        let owned: Vec<(Key, String)> = st
            .pods
            .iter()
            .filter(|(_, p)| p.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
            .map(|(k, p)| (k.clone(), p.metadata.uid.clone().unwrap_or_default()))
            .collect();
        for (pod_key, pod_uid) in owned {
            if matches!(policy, Some("Background" | "Foreground")) {
                st.remove::<Pod>(&pod_key);
            } else {
                st.modify::<Pod>(&pod_key, &pod_uid, |p| {
                    if let Some(refs) = p.metadata.owner_references.as_mut() {
                        refs.retain(|o| o.uid != uid);
                    }
                    if p.metadata.owner_references.as_ref().is_some_and(Vec::is_empty) {
                        p.metadata.owner_references = None;
                    }
                });
            }
        }
    }
    delete_response(&deleted, &uid, name)
}

fn delete_response<T: Object>(obj: &T, uid: &str, name: &str) -> Response<Body> {
    match T::RESOURCE {
        Kind::Pod => json_response(StatusCode::OK, obj),
        kind => json_response(
            StatusCode::OK,
            &json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                "details": { "name": name, "group": kind.group(), "kind": kind.plural(), "uid": uid },
            }),
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Logs

/// Why a pod's log cannot be read yet (400), as the real server words it.
fn log_unavailable(pod: &Pod, container: &str) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let status = pod.status.as_ref();
    if is_terminal(status.and_then(|s| s.phase.as_deref())) {
        return None;
    }
    let state = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .and_then(|c| c.state.as_ref());
    match state {
        Some(s) if s.running.is_some() || s.terminated.is_some() => None,
        Some(s) => {
            let reason = s.waiting.as_ref().and_then(|w| w.reason.as_deref()).unwrap_or("ContainerCreating");
            let why = match reason {
                "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
                other => other,
            };
            Some(format!("container \"{container}\" in pod \"{name}\" is waiting to start: {why}"))
        }
        None if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).is_none() => {
            Some(format!("pod {name} does not have a host assigned"))
        }
        None => Some(format!("container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating")),
    }
}

/// `GET .../pods/NAME/log`: what exists (`tailLines`, `limitBytes`), or with `follow=true`
/// a stream of the output as it is produced, ending when the container terminates or the
/// pod is deleted.
fn pod_log(shared: &Arc<Shared>, ns: &str, name: &str, params: &Params) -> Response<Body> {
    let key = (ns.to_string(), name.to_string());
    let follow = params.flag("follow");
    let (text, uid, log_rx, done) = {
        let st = shared.lock();
        let Some(pod) = st.pods.get(&key) else { return not_found(Kind::Pod, name) };
        let containers: Vec<&str> =
            pod.spec.iter().flat_map(|s| s.containers.iter()).map(|c| c.name.as_str()).collect();
        let container = match params.get("container") {
            Some(c) if !containers.contains(&c) => {
                return bad_request(format!("container {c} is not valid for pod {name}"));
            }
            Some(c) => c.to_string(),
            None if containers.len() > 1 => {
                return bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                ));
            }
            None => containers.first().map(|c| c.to_string()).unwrap_or_default(),
        };
        if let Some(message) = log_unavailable(pod, &container) {
            return bad_request(message);
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let done = is_terminal(Object::phase(pod));
        match st.runtimes.get(&uid) {
            Some(rt) => (rt.log.clone(), uid, follow.then(|| rt.log_tx.subscribe()), done),
            None => (String::new(), uid, None, true),
        }
    };
    let mut initial = match params.get("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        Some(n) => {
            let trimmed = text.strip_suffix('\n').unwrap_or(&text);
            let start =
                if n == 0 { text.len() } else { trimmed.rmatch_indices('\n').nth(n - 1).map_or(0, |(i, _)| i + 1) };
            text[start..].as_bytes().to_vec()
        }
        None => text.as_bytes().to_vec(),
    };
    let mut limit = params.get("limitBytes").and_then(|l| l.parse::<usize>().ok());
    if let Some(l) = limit.as_mut() {
        initial.truncate(*l);
        *l -= initial.len();
    }
    let (Some(log_rx), false, false) = (log_rx, done, limit == Some(0)) else {
        return full(StatusCode::OK, "text/plain", initial);
    };
    let (tx, rx) = mpsc::channel(256);
    let follower = LogFollower { shared: shared.clone(), key, uid, offset: text.len(), limit, tx };
    tokio::spawn(follower.run(Bytes::from(initial), log_rx));
    streaming("text/plain", rx)
}

struct LogFollower {
    shared: Arc<Shared>,
    key: Key,
    uid: String,
    /// Bytes of the log already considered.
    offset: usize,
    /// `limitBytes` left.
    limit: Option<usize>,
    tx: mpsc::Sender<Bytes>,
}

impl LogFollower {
    async fn run(mut self, initial: Bytes, mut log_rx: watch::Receiver<u64>) {
        if !initial.is_empty() && self.tx.send(initial).await.is_err() {
            return;
        }
        let mut up = self.shared.up_tx.subscribe();
        let mut shutdown = self.shared.shutdown_tx.subscribe();
        loop {
            let woke = tokio::select! {
                changed = log_rx.changed() => changed.is_ok(),
                _ = up.wait_for(|u| !*u) => false,
                _ = shutdown.wait_for(|s| *s) => false,
                _ = self.tx.closed() => false,
            };
            if !woke {
                return; // the pod was deleted, or the server is going away
            }
            let (mut chunk, done) = {
                let st = self.shared.lock();
                let pod = st.pods.get(&self.key).filter(|p| p.metadata.uid.as_deref() == Some(&self.uid));
                let (Some(pod), Some(rt)) = (pod, st.runtimes.get(&self.uid)) else { return };
                let chunk = rt.log.as_bytes()[self.offset..].to_vec();
                self.offset = rt.log.len();
                (chunk, is_terminal(Object::phase(pod)))
            };
            if let Some(l) = self.limit.as_mut() {
                chunk.truncate(*l);
                *l -= chunk.len();
            }
            if !chunk.is_empty() && self.tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            if done || self.limit == Some(0) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let p = Params::parse("&watch=true&labelSelector=a%3Db%2Cc&x=1+2&bad=%zz&end=%4");
        assert_eq!(p.get("labelSelector"), Some("a=b,c"));
        assert_eq!(p.get("x"), Some("1 2"));
        assert_eq!(p.get("bad"), Some("%zz"));
        assert_eq!(p.get("end"), Some("%4"));
        assert!(p.flag("watch"));
    }
}
