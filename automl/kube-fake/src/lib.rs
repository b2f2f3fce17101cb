//! An in-process Kubernetes API server over real HTTP, for tests and benchmarks.
//!
//! [`FakeApiServer`] serves `batch/v1` Jobs and `v1` Pods to the real `kube` client: create,
//! get, list (label and field selectors, `limit` + `continue`), watch (resourceVersion
//! replay, bookmarks, `410 Expired` inside the stream after [`FakeApiServer::compact`]),
//! delete (with `propagationPolicy`) and pod logs (`follow=true` streams). It also plays the
//! Job controller (one pod per Job, retries up to `backoffLimit`, `activeDeadlineSeconds`)
//! and the kubelet, whose behaviour a [`Kubelet`] decides: scripted, or running the
//! container's command as a local process.
//!
//! It also serves `automl.dev/v1alpha1` Experiments (a custom resource with a `status`
//! subresource, stored as JSON without schema checks) and `coordination.k8s.io/v1` Leases:
//! create, get, list, watch, PUT (refused with 409 from a stale `resourceVersion`), JSON
//! merge patch and JSON patch, finalizers that hold a deletion, and the garbage collector
//! deleting the Jobs an Experiment owns (see `objects`).
//!
//! Simplifications, compared with a real cluster:
//! - a Job runs one pod at a time to one completion, except an Indexed Job, whose
//!   `completions` pods all run at once and which fails when one fails (no per-index
//!   retries); `suspend: true` waits for Kueue-style admission (see `gang`);
//!   `podFailurePolicy` and `successPolicy` are stored, not acted on;
//!   `restartPolicy: OnFailure` behaves like `Never` (a failed container means a new pod);
//! - retries come after a few milliseconds, not the real 10 s exponential back-off;
//! - `ttlSecondsAfterFinished` is ignored: finished Jobs and their pods stay until deleted;
//! - deletion of Jobs and pods is immediate: no grace periods; Foreground propagation
//!   behaves like Background (the Job first, then its pods); only Experiments' finalizers
//!   are acted on;
//! - PUT and PATCH of Jobs and pods, and server-side apply of anything, answer 405 or 415;
//! - the log ignores `sinceSeconds`, `sinceTime`, `timestamps` and `previous`;
//! - pods created directly by clients are run by the kubelet too, with an empty `Job`;
//! - the process kubelet mounts a ConfigMap volume as a temporary directory, and rewrites
//!   the mount path in the container's env values and args to it (a local process cannot
//!   see `/plugins`); other volumes are not mounted.

mod cluster;
mod gang;
mod http;
mod objects;
mod resources;
mod store;

pub use resources::{Experiment, PodGroup};

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{mpsc, watch};

use store::{Key, State};

/// How simulated pods behave: decides per pod what the kubelet does.
#[derive(Clone)]
pub enum Kubelet {
    /// Scripted behaviour: the closure sees the Job and the new pod and returns a script.
    /// Pods created directly by clients are passed an empty `Job`.
    Scripted(Arc<dyn Fn(&Job, &Pod) -> PodScript + Send + Sync>),
    /// Runs the pod's first container for real as a local process: `command` + `args` from
    /// the container spec (`command[0]` is the program path; with no `command`, `args[0]`
    /// is), `workingDir`, env vars from the spec (plain `value`s only) on top of this
    /// process's environment, stdout+stderr captured as the pod log (streamed line by line
    /// while it runs), env `AUTOML_TERMINATION_MESSAGE_PATH` set to a temp file whose content
    /// (at most 4096 bytes, truncated like the kubelet) becomes `state.terminated.message`;
    /// exit code 0 -> Succeeded, else Failed with reason "Error" (a program that cannot be
    /// started: exit code 128, reason "StartError"). The process group is killed (SIGKILL)
    /// when its pod or Job is deleted (with propagation), the pod is evicted, the Job's
    /// `activeDeadlineSeconds` passes or the server is dropped. `extra_env` is added to
    /// every process.
    Process {
        /// Environment variables added to every process (after the container's own).
        extra_env: Vec<(String, String)>,
    },
}

impl Kubelet {
    /// A scripted kubelet from a closure.
    pub fn scripted(f: impl Fn(&Job, &Pod) -> PodScript + Send + Sync + 'static) -> Self {
        Kubelet::Scripted(Arc::new(f))
    }

    /// A scripted kubelet whose pods all follow `script`.
    pub fn always(script: PodScript) -> Self {
        Kubelet::scripted(move |_, _| script.clone())
    }
}

impl Default for Kubelet {
    /// Every pod is scheduled after 5 ms and succeeds at once.
    fn default() -> Self {
        Kubelet::always(PodScript::default())
    }
}

impl fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kubelet::Scripted(_) => f.write_str("Kubelet::Scripted(..)"),
            Kubelet::Process { extra_env } => f.debug_struct("Kubelet::Process").field("extra_env", extra_env).finish(),
        }
    }
}

/// What the scripted kubelet does with one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodScript {
    /// When (or whether) the pod is scheduled and its container created.
    pub schedule: Schedule,
    /// Once the container runs: wait the duration, then emit the line (a `\n` is added
    /// unless the line ends with one).
    pub logs: Vec<(Duration, String)>,
    /// How the container ends, after the last log line.
    pub exit: Exit,
}

impl PodScript {
    /// Scheduled after 5 ms; emits `lines` 1 ms apart; exits 0 with `message` as the
    /// termination message.
    pub fn succeed(lines: &[&str], message: Option<&str>) -> Self {
        PodScript {
            schedule: Schedule::After(Duration::from_millis(5)),
            logs: lines.iter().map(|l| (Duration::from_millis(1), l.to_string())).collect(),
            exit: Exit::Succeeded { message: message.map(str::to_string) },
        }
    }
}

impl Default for PodScript {
    /// Scheduled after 5 ms, no output, exit 0.
    fn default() -> Self {
        PodScript::succeed(&[], None)
    }
}

/// Scheduling of a scripted pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Scheduled after this delay (phase Pending with container `ContainerCreating`), then
    /// running at once.
    After(Duration),
    /// Never scheduled: stays Pending with condition PodScheduled=False reason
    /// "Unschedulable" until deleted or the Job's deadline passes.
    Never,
    /// Scheduled, but the image cannot be pulled: container waiting `ErrImagePull`, then
    /// `ImagePullBackOff`, until deleted or the Job's deadline passes.
    ImagePullError,
}

/// How a scripted container ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exit code 0, reason "Completed".
    Succeeded {
        /// The termination message (`None`: the container wrote none).
        message: Option<String>,
    },
    /// Non-zero exit: pod phase Failed.
    Failed {
        /// Exit code (137 for an OOM kill).
        code: i32,
        /// Terminated reason: "Error" or "OOMKilled".
        reason: String,
        /// The termination message (`None`: the container wrote none; with
        /// `terminationMessagePolicy: FallbackToLogsOnError` the log's tail is used).
        message: Option<String>,
    },
    /// Runs until the pod is deleted or evicted or the Job's deadline passes.
    Hang,
}

/// One request the server received (throttled ones included), for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. "GET".
    pub method: String,
    /// URL path, e.g. "/apis/batch/v1/namespaces/ns/jobs".
    pub path: String,
    /// Raw (percent-encoded) query string, "" when none.
    pub query: String,
    /// HTTP status of the answer.
    pub status: u16,
}

impl RecordedRequest {
    /// The decoded value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<String> {
        http::Params::parse(&self.query).get(key).map(str::to_string)
    }

    /// Whether this was a watch request.
    pub fn is_watch(&self) -> bool {
        http::Params::parse(&self.query).flag("watch")
    }
}

/// State shared by the server thread, its tasks, the kubelet and the handle.
struct Shared {
    state: Mutex<State>,
    kubelet: Kubelet,
    /// Bumped by [`FakeApiServer::cut_watches`]; every watch stream ends.
    cut_tx: watch::Sender<u64>,
    /// False while crashed: connections close and nothing listens.
    up_tx: watch::Sender<bool>,
    /// True once the server is dropped.
    shutdown_tx: watch::Sender<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake apiserver state lock poisoned")
    }
}

/// An in-process Kubernetes API server; see the [module docs](self). Dropping it shuts it
/// down and kills the processes of a [`Kubelet::Process`].
pub struct FakeApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    relisten_tx: mpsc::UnboundedSender<std::net::TcpListener>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeApiServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl FakeApiServer {
    /// Binds 127.0.0.1:0 and serves on its own thread with its own tokio runtime
    /// (so it works from sync tests and from inside another runtime).
    pub fn start(kubelet: Kubelet) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-apiserver")
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            kubelet,
            cut_tx: watch::channel(0).0,
            up_tx: watch::channel(true).0,
            shutdown_tx: watch::channel(false).0,
        });
        let (relisten_tx, relisten_rx) = mpsc::unbounded_channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new().name("fake-apiserver".into()).spawn(move || {
            runtime.block_on(serve(thread_shared, listener, relisten_rx));
            // Drops every task: connections, watches, Job controllers and kubelets (whose
            // process guards kill their processes).
            runtime.shutdown_timeout(Duration::from_secs(2));
        })?;
        Ok(FakeApiServer { shared, addr, relisten_tx, thread: Some(thread) })
    }

    /// The server's base URL, "http://127.0.0.1:PORT".
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig pointing at this server (cluster server = [`url`](Self::url),
    /// namespace `namespace`, no auth), so that `kube::Client::try_default()` and
    /// `Config::infer()` work with `KUBECONFIG=path`.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        // JSON strings are valid YAML scalars, and quote whatever needs quoting.
        let q = |s: &str| serde_json::Value::from(s).to_string();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {}\n\
             current-context: fake\npreferences: {{}}\nusers:\n- name: fake\n  user: {{}}\n",
            q(&self.url()),
            q(namespace),
        );
        std::fs::write(path, text)
    }

    /// Registers a Kueue queue admitting Jobs of at most `pods` pods at once in all (see
    /// the `gang` module): suspended Jobs labelled `kueue.x-k8s.io/queue-name: NAME` start
    /// only when all of their pods fit.
    pub fn add_queue(&self, name: &str, pods: usize) {
        self.shared.lock().queues.insert(name.to_string(), pods);
    }

    /// Coscheduling: pods labelled `scheduling.x-k8s.io/pod-group: G` wait for the PodGroup
    /// `G`, and stay Pending (PodScheduled=False, Unschedulable) unless its `minMember`
    /// pods fit in `pods`; then they are scheduled as usual. Unlimited until called.
    pub fn set_gang_capacity(&self, pods: usize) {
        self.shared.lock().gang_capacity = Some(pods);
    }

    /// The PodGroups in `namespace`, sorted by name.
    pub fn pod_groups(&self, namespace: &str) -> Vec<PodGroup> {
        let st = self.shared.lock();
        st.pod_groups.iter().filter(|((ns, _), _)| ns == namespace).map(|(_, g)| g.clone()).collect()
    }

    /// A snapshot of the Jobs in `namespace`, sorted by name.
    pub fn jobs(&self, namespace: &str) -> Vec<Job> {
        let st = self.shared.lock();
        st.jobs.iter().filter(|((ns, _), _)| ns == namespace).map(|(_, j)| j.clone()).collect()
    }

    /// A snapshot of the Pods in `namespace`, sorted by name.
    pub fn pods(&self, namespace: &str) -> Vec<Pod> {
        let st = self.shared.lock();
        st.pods.iter().filter(|((ns, _), _)| ns == namespace).map(|(_, p)| p.clone()).collect()
    }

    /// The log of a pod so far (`None` when there is no such pod).
    pub fn pod_log(&self, namespace: &str, name: &str) -> Option<String> {
        let st = self.shared.lock();
        let pod = st.pods.get(&(namespace.to_string(), name.to_string()))?;
        let uid = pod.metadata.uid.as_deref()?;
        st.runtimes.get(uid).map(|r| r.log.clone())
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// How many Job creations succeeded.
    pub fn jobs_created(&self) -> u64 {
        self.shared.lock().jobs_created
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }

    /// The next `n` requests are answered 429 TooManyRequests with `Retry-After:
    /// retry_after_s` and a `Status` body.
    pub fn throttle_next(&self, n: usize, retry_after_s: u64) {
        self.shared.lock().throttle = (n, retry_after_s);
    }

    /// Ends every open watch stream now (cleanly, as an API server restart or a load
    /// balancer timeout does); clients re-watch from their last resourceVersion.
    pub fn cut_watches(&self) {
        self.shared.cut_tx.send_modify(|g| *g += 1);
    }

    /// Forgets the event history, as an etcd compaction does: a watch from any
    /// resourceVersion issued before this call gets a `410 Expired` ERROR event in its
    /// (HTTP 200) stream and ends, and so does every open watch (right away); clients must
    /// re-list. Lists made afterwards return a resourceVersion that can be watched from.
    pub fn compact(&self) {
        self.shared.lock().compact();
    }

    /// Evicts a pod, as the kubelet does under node pressure: phase Failed, reason
    /// "Evicted", its container terminated (exit code 137) and its process killed. The Job
    /// counts it as a failure. Does nothing to a missing or finished pod.
    pub fn evict_pod(&self, namespace: &str, name: &str) {
        let key: Key = (namespace.to_string(), name.to_string());
        let mut st = self.shared.lock();
        let Some(uid) = st.pods.get(&key).and_then(|p| p.metadata.uid.clone()) else { return };
        if st.pods.get(&key).is_some_and(|p| store::is_terminal(store::Object::phase(p))) {
            return;
        }
        st.modify::<Pod>(&key, &uid, cluster::mark_evicted);
        if let Some(rt) = st.runtimes.get(&uid) {
            rt.kill_tx.send_replace(true);
            rt.notify();
        }
    }

    /// Simulates an outage: stops listening and closes every connection (open watches and
    /// log streams included). Jobs and pods keep running. [`restart`](Self::restart) ends it.
    pub fn crash(&self) {
        self.shared.up_tx.send_replace(false);
    }

    /// Serves again on the same port after [`crash`](Self::crash).
    pub fn restart(&self) -> std::io::Result<()> {
        if *self.shared.up_tx.borrow() {
            return Ok(());
        }
        // The serve loop drops the old listener asynchronously: retry briefly while the
        // port is still taken.
        let mut attempts = 0;
        let listener = loop {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        listener.set_nonblocking(true)?;
        // Up first: the serve loop drops a listener that arrives while still down.
        self.shared.up_tx.send_replace(true);
        self.relisten_tx.send(listener).map_err(|_| std::io::Error::other("fake apiserver is shut down"))
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.shutdown_tx.send_replace(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The accept loop: one task per connection, until shutdown; drops the listener while
/// crashed and waits for [`FakeApiServer::restart`] to hand over a new one.
async fn serve(
    shared: Arc<Shared>,
    first: std::net::TcpListener,
    mut relisten_rx: mpsc::UnboundedReceiver<std::net::TcpListener>,
) {
    let mut shutdown = shared.shutdown_tx.subscribe();
    let mut up = shared.up_tx.subscribe();
    let mut next = Some(first);
    loop {
        let std_listener = match next.take() {
            Some(l) => l,
            None => tokio::select! {
                l = relisten_rx.recv() => match l {
                    Some(l) => l,
                    None => return,
                },
                _ = shutdown.wait_for(|s| *s) => return,
            },
        };
        let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { continue };
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = up.wait_for(|u| !*u) => break,
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        tokio::spawn(connection(shared.clone(), stream));
                    }
                }
            }
        }
    }
}

/// Serves one HTTP/1.1 connection until the client closes it, a crash or shutdown.
async fn connection(shared: Arc<Shared>, stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut up = shared.up_tx.subscribe();
    let mut shutdown = shared.shutdown_tx.subscribe();
    let service_shared = shared.clone();
    let service = hyper::service::service_fn(move |req| http::handle(service_shared.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = up.wait_for(|u| !*u) => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
}
