//! The object store of the fake API server: Jobs, Pods, Experiments and Leases, the global resourceVersion, the
//! event history that watches replay, per-pod runtime data (log, kill switch) and the label
//! and field selectors of list and watch requests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use rand::Rng;
use serde::Serialize;
use tokio::sync::watch;

use super::resources::{Experiment, PodGroup};
use super::RecordedRequest;

/// Events kept for watches; older ones are dropped and move the compaction horizon, as
/// etcd's periodic compaction does. Live watches never need old events.
const MAX_HISTORY: usize = 20_000;

/// `(namespace, name)`; maps ordered by it give lists sorted by namespace, then name.
pub(super) type Key = (String, String);

/// The resource types served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `batch/v1` Job.
    Job,
    /// `v1` Pod.
    Pod,
    /// `automl.dev/v1alpha1` Experiment (a custom resource with a status subresource).
    Experiment,
    /// `coordination.k8s.io/v1` Lease.
    Lease,
    /// `v1` ConfigMap.
    ConfigMap,
    /// `scheduling.x-k8s.io/v1alpha1` PodGroup.
    PodGroup,
}

impl Kind {
    /// Resource name in URLs and `Status.details.kind`.
    pub(super) fn plural(self) -> &'static str {
        match self {
            Kind::Job => "jobs",
            Kind::Pod => "pods",
            Kind::Experiment => "experiments",
            Kind::Lease => "leases",
            Kind::ConfigMap => "configmaps",
            Kind::PodGroup => "podgroups",
        }
    }

    /// API group (`""` for the core group).
    pub(super) fn group(self) -> &'static str {
        match self {
            Kind::Job => "batch",
            Kind::Pod => "",
            Kind::Experiment => "automl.dev",
            Kind::Lease => "coordination.k8s.io",
            Kind::ConfigMap => "",
            Kind::PodGroup => "scheduling.x-k8s.io",
        }
    }

    /// Group-qualified resource, as in `jobs.batch "x" not found`.
    pub(super) fn qualified(self) -> &'static str {
        match self {
            Kind::Job => "jobs.batch",
            Kind::Pod => "pods",
            Kind::Experiment => "experiments.automl.dev",
            Kind::Lease => "leases.coordination.k8s.io",
            Kind::ConfigMap => "configmaps",
            Kind::PodGroup => "podgroups.scheduling.x-k8s.io",
        }
    }

    /// Kind name, as in `Job.batch "x" is invalid`.
    pub(super) fn kind_name(self) -> &'static str {
        match self {
            Kind::Job => "Job",
            Kind::Pod => "Pod",
            Kind::Experiment => "Experiment",
            Kind::Lease => "Lease",
            Kind::ConfigMap => "ConfigMap",
            Kind::PodGroup => "PodGroup",
        }
    }

    /// `apiVersion` of the objects.
    pub(super) fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            Kind::Pod => "v1",
            Kind::Experiment => "automl.dev/v1alpha1",
            Kind::Lease => "coordination.k8s.io/v1",
            Kind::ConfigMap => "v1",
            Kind::PodGroup => "scheduling.x-k8s.io/v1alpha1",
        }
    }
}

/// A stored resource type.
pub(super) trait Object:
    Clone + PartialEq + Serialize + k8s_openapi::Metadata<Ty = ObjectMeta> + Send + 'static
{
    /// Which resource this is.
    const RESOURCE: Kind;
    /// The objects of this type.
    fn map(st: &State) -> &BTreeMap<Key, Self>;
    /// The objects of this type, mutably.
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self>;
    /// `status.phase` (pods only), for field selectors.
    fn phase(&self) -> Option<&str> {
        None
    }
    /// Drops the runtime data kept beside an object that was removed.
    fn forget(st: &mut State, uid: &str);
    /// Whether `status` is a subresource, written only through `/status`.
    const STATUS: bool = false;
    /// Sets what the server sets on a new object.
    fn created(&mut self) {}
}

impl Object for Job {
    const RESOURCE: Kind = Kind::Job;
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.jobs
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.jobs
    }
    fn forget(st: &mut State, uid: &str) {
        // Dropping the sender wakes the Job's controller task, which then stops.
        st.job_kills.remove(uid);
    }
}

impl Object for Pod {
    const RESOURCE: Kind = Kind::Pod;
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.pods
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.pods
    }
    fn phase(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.phase.as_deref())
    }
    fn forget(st: &mut State, uid: &str) {
        // Dropping the runtime drops its kill and log senders: the kubelet task stops (and
        // kills its process) and log followers end.
        st.runtimes.remove(uid);
    }
}

impl Object for Experiment {
    const RESOURCE: Kind = Kind::Experiment;
    const STATUS: bool = true;
    fn created(&mut self) {
        use k8s_openapi::Resource;
        self.api_version = Self::API_VERSION.to_string();
        self.kind = Self::KIND.to_string();
        self.fields.remove("status");
    }
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.experiments
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.experiments
    }
    fn forget(_st: &mut State, _uid: &str) {}
}

impl Object for Lease {
    const RESOURCE: Kind = Kind::Lease;
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.leases
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.leases
    }
    fn forget(_st: &mut State, _uid: &str) {}
}

impl Object for PodGroup {
    const RESOURCE: Kind = Kind::PodGroup;
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.pod_groups
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.pod_groups
    }
    fn forget(_st: &mut State, _uid: &str) {}
    fn created(&mut self) {
        use k8s_openapi::Resource;
        self.api_version = Self::API_VERSION.to_string();
        self.kind = Self::KIND.to_string();
    }
}

impl Object for ConfigMap {
    const RESOURCE: Kind = Kind::ConfigMap;
    fn map(st: &State) -> &BTreeMap<Key, Self> {
        &st.config_maps
    }
    fn map_mut(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.config_maps
    }
    fn forget(_st: &mut State, _uid: &str) {}
}

/// What selectors can look at.
#[derive(Clone, Debug)]
pub(super) struct Fields {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) phase: Option<String>,
}

impl Fields {
    /// The selectable fields of an object.
    pub(super) fn of<T: Object>(obj: &T) -> Self {
        let m = obj.metadata();
        Fields {
            namespace: m.namespace.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            labels: m.labels.clone().unwrap_or_default(),
            phase: obj.phase().map(str::to_string),
        }
    }
}

/// One entry of the watch history.
pub(super) struct Event {
    /// resourceVersion the write produced.
    pub(super) rv: u64,
    pub(super) kind: Kind,
    pub(super) fields: Fields,
    /// The complete watch line, `{"type":..,"object":..}\n`.
    pub(super) line: Bytes,
}

/// Runtime data of a pod that is not part of the object.
pub(super) struct PodRuntime {
    /// The container's output so far.
    pub(super) log: String,
    /// Bumped on every log append and pod status change; wakes log followers.
    pub(super) log_tx: watch::Sender<u64>,
    /// Set to true to stop the kubelet (eviction); dropped when the pod is removed.
    pub(super) kill_tx: watch::Sender<bool>,
}

impl PodRuntime {
    /// Wakes log followers.
    pub(super) fn notify(&self) {
        self.log_tx.send_modify(|v| *v += 1);
    }
}

/// Everything the server knows, behind one mutex.
pub(super) struct State {
    /// The global resourceVersion: the last write's.
    pub(super) rv: u64,
    /// Compaction horizon: watches from a resourceVersion below it are answered `Expired`.
    pub(super) horizon: u64,
    /// Events with `rv > horizon`, oldest first.
    pub(super) history: VecDeque<Event>,
    pub(super) jobs: BTreeMap<Key, Job>,
    pub(super) pods: BTreeMap<Key, Pod>,
    pub(super) experiments: BTreeMap<Key, Experiment>,
    pub(super) leases: BTreeMap<Key, Lease>,
    pub(super) config_maps: BTreeMap<Key, ConfigMap>,
    pub(super) pod_groups: BTreeMap<Key, PodGroup>,
    /// Pods a PodGroup may start at once (coscheduling); unlimited when `None`.
    pub(super) gang_capacity: Option<usize>,
    /// By pod uid.
    pub(super) runtimes: HashMap<String, PodRuntime>,
    /// By Job uid; dropped when the Job is removed, which stops its controller task.
    pub(super) job_kills: HashMap<String, watch::Sender<bool>>,
    pub(super) requests: Vec<RecordedRequest>,
    /// Requests still to answer with 429, and their Retry-After.
    pub(super) throttle: (usize, u64),
    pub(super) jobs_created: u64,
    /// Kueue queues: capacity in pods, by name.
    pub(super) queues: HashMap<String, usize>,
    /// Admitted Jobs: their queue and pods, by Job uid.
    pub(super) admitted: HashMap<String, (String, usize)>,
    /// Publishes `rv` after each write; watches wait on it.
    pub(super) rv_tx: watch::Sender<u64>,
}

impl State {
    /// An empty store.
    pub(super) fn new() -> Self {
        State {
            rv: 1,
            horizon: 0,
            history: VecDeque::new(),
            jobs: BTreeMap::new(),
            pods: BTreeMap::new(),
            experiments: BTreeMap::new(),
            leases: BTreeMap::new(),
            config_maps: BTreeMap::new(),
            pod_groups: BTreeMap::new(),
            gang_capacity: None,
            runtimes: HashMap::new(),
            job_kills: HashMap::new(),
            requests: Vec::new(),
            throttle: (0, 0),
            jobs_created: 0,
            queues: HashMap::new(),
            admitted: HashMap::new(),
            rv_tx: watch::channel(1).0,
        }
    }

    /// Bumps the resourceVersion, stamps it on `obj` and appends the event to the history.
    fn record<T: Object>(&mut self, ty: &str, obj: &mut T) {
        self.rv += 1;
        obj.metadata_mut().resource_version = Some(self.rv.to_string());
        let json = serde_json::to_string(&*obj).unwrap_or_else(|_| "{}".to_string());
        let line = Bytes::from(format!("{{\"type\":\"{ty}\",\"object\":{json}}}\n"));
        self.history.push_back(Event { rv: self.rv, kind: T::RESOURCE, fields: Fields::of(obj), line });
        while self.history.len() > MAX_HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.horizon = old.rv;
            }
        }
        self.rv_tx.send_replace(self.rv);
    }

    /// Stores a new object (ADDED) and returns it as stored.
    pub(super) fn insert<T: Object>(&mut self, mut obj: T) -> T {
        self.record("ADDED", &mut obj);
        T::map_mut(self).insert(key_of(obj.metadata()), obj.clone());
        obj
    }

    /// Applies `f` to the object at `key` if its uid is `uid` (MODIFIED, unless `f` changed
    /// nothing). Returns the object as stored, or `None` when it is gone or was replaced.
    pub(super) fn modify<T: Object>(&mut self, key: &Key, uid: &str, f: impl FnOnce(&mut T)) -> Option<T> {
        let before = T::map(self).get(key)?;
        if before.metadata().uid.as_deref() != Some(uid) {
            return None;
        }
        let mut obj = before.clone();
        f(&mut obj);
        if &obj == before {
            return Some(obj);
        }
        self.record("MODIFIED", &mut obj);
        T::map_mut(self).insert(key.clone(), obj.clone());
        Some(obj)
    }

    /// Removes the object at `key` (DELETED, carrying the deletion's resourceVersion).
    pub(super) fn remove<T: Object>(&mut self, key: &Key) -> Option<T> {
        let mut obj = T::map_mut(self).remove(key)?;
        self.record("DELETED", &mut obj);
        if let Some(uid) = obj.metadata().uid.clone() {
            T::forget(self, &uid);
        }
        Some(obj)
    }

    /// Stores a new pod with its runtime; the receiver is the kubelet's kill switch.
    pub(super) fn insert_pod(&mut self, pod: Pod) -> (Pod, watch::Receiver<bool>) {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let (kill_tx, kill_rx) = watch::channel(false);
        self.runtimes.insert(uid, PodRuntime { log: String::new(), log_tx: watch::channel(0).0, kill_tx });
        (self.insert(pod), kill_rx)
    }

    /// Forgets the history and moves the horizon past every resourceVersion issued so far:
    /// a watch from any of them is `Expired`, and so is an open watch at its next wake-up
    /// (which this triggers). The resourceVersion is bumped (without an event) so that a
    /// list made afterwards returns one that can be watched from.
    pub(super) fn compact(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.horizon = self.rv;
        self.rv_tx.send_replace(self.rv);
    }
}

/// `(namespace, name)` of an object.
pub(super) fn key_of(meta: &ObjectMeta) -> Key {
    (meta.namespace.clone().unwrap_or_default(), meta.name.clone().unwrap_or_default())
}

/// Whether a pod phase is terminal.
pub(super) fn is_terminal(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// The uid of the pod's controlling owner (its Job).
pub(super) fn controller_uid(pod: &Pod) -> Option<&str> {
    pod.metadata.owner_references.as_ref()?.iter().find(|o| o.controller == Some(true)).map(|o| o.uid.as_str())
}

/// The current time at second precision, as the API server writes `Time` fields.
pub(super) fn now() -> Time {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Time(k8s_openapi::jiff::Timestamp::new(secs as i64, 0).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH))
}

/// A random RFC 4122 version-4 style uid.
pub(super) fn new_uid() -> String {
    let mut rng = rand::thread_rng();
    let b: [u8; 16] = rng.gen();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// Five random characters, from the alphabet Kubernetes uses for generated names.
pub(super) fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// An opaque `continue` token for a list that stopped after `key`.
pub(super) fn encode_continue(key: &Key) -> String {
    format!("{}\u{0}{}", key.0, key.1).bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key a `continue` token encodes.
pub(super) fn decode_continue(token: &str) -> Option<Key> {
    if token.len() % 2 != 0 || !token.is_ascii() {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let s = String::from_utf8(bytes).ok()?;
    let (ns, name) = s.split_once('\u{0}')?;
    Some((ns.to_string(), name.to_string()))
}

/// A lowercase RFC 1123 subdomain: what object names must be.
pub(super) fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label_body)
}

/// A lowercase RFC 1123 label (container names), at most 63 characters.
pub(super) fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && is_dns1123_label_body(s)
}

fn is_dns1123_label_body(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// One requirement of a field selector: `field=value` or `field!=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldReq {
    field: String,
    value: String,
    negate: bool,
}

/// The `labelSelector` and `fieldSelector` of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<FieldReq>,
}

impl Selector {
    /// Parses both selectors; the error is the message of a 400 BadRequest.
    pub(super) fn parse(kind: Kind, labels: Option<&str>, fields: Option<&str>) -> Result<Self, String> {
        let mut sel = Selector::default();
        for term in split_top_level(labels.unwrap_or("")) {
            sel.labels.push(parse_label_req(term)?);
        }
        for term in split_top_level(fields.unwrap_or("")) {
            let (field, value, negate) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, false)
            } else {
                return Err(format!("invalid selector: '{term}'; can't understand '{term}'"));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || (kind == Kind::Pod && field == "status.phase");
            if !supported {
                return Err(format!("field label not supported: {field}"));
            }
            sel.fields.push(FieldReq { field: field.to_string(), value: value.trim().to_string(), negate });
        }
        Ok(sel)
    }

    /// Whether an object with these fields is selected.
    pub(super) fn matches(&self, f: &Fields) -> bool {
        let label = |k: &str| f.labels.get(k).map(String::as_str);
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => label(k) != Some(v.as_str()),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
            LabelReq::In(k, vs) => label(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => label(k).is_none_or(|x| vs.iter().all(|v| v != x)),
        });
        let fields_ok = self.fields.iter().all(|req| {
            let actual = match req.field.as_str() {
                "metadata.name" => f.name.as_str(),
                "metadata.namespace" => f.namespace.as_str(),
                _ => f.phase.as_deref().unwrap_or(""),
            };
            (actual == req.value) != req.negate
        });
        labels_ok && fields_ok
    }
}

/// Splits on commas outside parentheses (`a=b,c in (x,y)`), dropping empty terms.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.retain(|t| !t.is_empty());
    out
}

fn parse_label_req(term: &str) -> Result<LabelReq, String> {
    let bad = || format!("unable to parse requirement: invalid label selector term {term:?}");
    let key = |k: &str| {
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            Err(bad())
        } else {
            Ok(k.to_string())
        }
    };
    if let Some(k) = term.strip_prefix('!') {
        return Ok(LabelReq::NotExists(key(k)?));
    }
    for (op, negate) in [(" notin ", true), (" in ", false)] {
        if let Some((k, rest)) = term.split_once(op) {
            let rest = rest.trim();
            let inner = rest.strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(bad)?;
            let values = inner.split(',').map(|v| v.trim().to_string()).collect();
            return Ok(if negate { LabelReq::NotIn(key(k)?, values) } else { LabelReq::In(key(k)?, values) });
        }
    }
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(LabelReq::NotEq(key(k)?, v.trim().to_string()));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(LabelReq::Eq(key(k)?, v.trim().to_string()));
    }
    Ok(LabelReq::Exists(key(term)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(labels: &[(&str, &str)]) -> Fields {
        Fields {
            namespace: "ns".into(),
            name: "a".into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            phase: Some("Running".into()),
        }
    }

    #[test]
    fn label_selectors_match_like_the_api_server() {
        let f = fields(&[("app", "x"), ("tier", "web")]);
        let sel = |s: &str| Selector::parse(Kind::Pod, Some(s), None).expect("valid selector");
        assert!(sel("app=x,tier").matches(&f));
        assert!(sel("app==x,!missing").matches(&f));
        assert!(!sel("app!=x").matches(&f));
        assert!(sel("tier in (db, web),app notin (y)").matches(&f));
        assert!(!sel("tier notin (web)").matches(&f));
        assert!(Selector::parse(Kind::Job, None, Some("status.phase=Running")).is_err());
        assert!(Selector::parse(Kind::Pod, None, Some("status.phase=Running,metadata.name!=b"))
            .expect("valid")
            .matches(&f));
    }

    #[test]
    fn continue_tokens_round_trip() {
        let k = ("ns".to_string(), "job-1".to_string());
        assert_eq!(decode_continue(&encode_continue(&k)), Some(k));
        assert_eq!(decode_continue("zz"), None);
    }

    #[test]
    fn names_are_validated_as_dns_subdomains() {
        assert!(is_dns1123_subdomain("trial-1.a"));
        assert!(!is_dns1123_subdomain("Trial"));
        assert!(!is_dns1123_subdomain("-a"));
        assert!(!is_dns1123_subdomain("a..b"));
        assert!(is_dns1123_label("main"));
    }
}
