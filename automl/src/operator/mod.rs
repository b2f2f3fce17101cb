//! Operator mode: `automl operator run` reconciles `Experiment` resources in the cluster,
//! so an experiment runs to its end without anyone's terminal, and survives the operator's
//! own restarts.
//!
//! - [`leader`]: a Lease, so that of several replicas only one dispatches trials;
//! - [`reconcile`]: kube-runtime's `Controller` over Experiments (and the Jobs they own),
//!   the finalizer that deletes an Experiment's Jobs with it, the error policy;
//! - [`translate`]: an Experiment's spec as the options of the runner `automl run` uses;
//! - [`plugins`]: the Experiment's plugin components, from ConfigMaps, checked by digest;
//! - [`status`]: phase, conditions and trial counts written to the status subresource.
//!
//! Each Experiment's run folder (journal, trials, model, report) is on the operator's
//! state volume, `STATE_DIR/NAMESPACE/NAME-UID8`: a claim of its own (`--state-claim`,
//! as in `examples/kubernetes/operator.yaml`), or by default `.automl/` on the data claim. A restarted operator finds the journal there and resumes the
//! run: trials that were running are adopted from their Jobs, never dispatched twice.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::runtime::{watcher, Controller, WatchStreamExt};

use crate::error::{Error, Result};
use crate::kubernetes::crd::Experiment;
use crate::options::{CancelToken, PreparedStore, DATA_MOUNT, DEFAULT_IMAGE, PREPARED_MOUNT};

pub mod leader;
pub mod plugins;
pub mod reconcile;
pub mod status;
pub mod translate;

use leader::{Elector, Holder};

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct OperatorOptions {
    /// Watch Experiments in this namespace only; all namespaces when `None`.
    pub namespace: Option<String>,
    /// The namespace of the Lease (the operator's own).
    pub lease_namespace: Option<String>,
    /// Where the data claim is mounted in the operator's pod.
    pub data_root: PathBuf,
    /// The data claim's name: Experiments read their CSV from it.
    pub data_claim: String,
    /// Run folders; `DATA_ROOT/.automl` when `None`.
    pub state_dir: Option<PathBuf>,
    /// The claim mounted at `state_dir`, when it is not the data claim: the status names
    /// models on it.
    pub state_claim: Option<String>,
    /// Where prepared copies of the data are written (see [`OperatorOptions::prepared_store`]).
    pub prepared_dir: Option<PathBuf>,
    /// A claim mounted at `prepared_dir` that trial pods mount read-only at `/prepared`.
    pub prepared_claim: Option<String>,
    /// The trial image when an Experiment names none.
    pub trial_image: String,
    /// The trial image's program (`automl`).
    pub trial_command: Vec<String>,
    /// Trial pods read the data at the operator's own path (tests, single-node clusters)
    /// instead of mounting the claim.
    pub same_path_trials: bool,
    /// This replica's name in the Lease.
    pub identity: String,
    /// The Lease's name.
    pub lease_name: String,
    /// How long a Lease lasts without renewal (the leader renews every third of it).
    pub lease_duration: Duration,
}

impl Default for OperatorOptions {
    fn default() -> Self {
        OperatorOptions {
            namespace: None,
            lease_namespace: None,
            data_root: PathBuf::from(DATA_MOUNT),
            data_claim: "automl-data".into(),
            state_dir: None,
            state_claim: None,
            prepared_dir: None,
            prepared_claim: None,
            trial_image: DEFAULT_IMAGE.into(),
            trial_command: vec!["automl".into()],
            same_path_trials: false,
            identity: std::env::var("HOSTNAME").unwrap_or_else(|_| format!("automl-operator-{}", std::process::id())),
            lease_name: "automl-operator".into(),
            lease_duration: Duration::from_secs(15),
        }
    }
}

impl OperatorOptions {
    /// Where run folders are.
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(|| self.data_root.join(".automl"))
    }

    /// Where the runner writes the prepared copy of an Experiment's data and where its
    /// trial pods read it: the prepared claim when one is given; else, when the state is on
    /// the data claim, `STATE_DIR/prepared` through the pods' data mount (or at the same
    /// path); else nowhere, and every pod parses the CSV.
    pub fn prepared_store(&self) -> Option<PreparedStore> {
        let dir = self.prepared_dir.clone().unwrap_or_else(|| self.state_dir().join("prepared"));
        if let Some(claim) = &self.prepared_claim {
            return Some(PreparedStore { dir, pod_dir: PREPARED_MOUNT.to_string(), claim: Some(claim.clone()) });
        }
        if self.same_path_trials {
            return Some(PreparedStore { pod_dir: dir.display().to_string(), dir, claim: None });
        }
        let inside = dir.strip_prefix(&self.data_root).ok().filter(|_| self.state_claim.is_none() || self.prepared_dir.is_some())?;
        Some(PreparedStore { pod_dir: Path::new(DATA_MOUNT).join(inside).display().to_string(), dir, claim: None })
    }

    /// The model of the run folder `dir`, as the status names it: `pvc://CLAIM/PATH` when
    /// it is on the state or data claim, else the path in the operator's pod.
    pub fn model_location(&self, dir: &Path) -> String {
        let model = dir.join("model.automl");
        if let (Some(claim), Ok(inside)) = (&self.state_claim, model.strip_prefix(self.state_dir())) {
            return format!("pvc://{claim}/{}", inside.display());
        }
        match model.strip_prefix(&self.data_root) {
            Ok(inside) => format!("pvc://{}/{}", self.data_claim, inside.display()),
            Err(_) => model.display().to_string(),
        }
    }
}

/// What the reconciler shares.
pub struct Context {
    client: kube::Client,
    options: OperatorOptions,
    runtime: tokio::runtime::Handle,
    /// The trial Jobs, as a watch keeps them: counted without asking the API server.
    jobs: kube::runtime::reflector::Store<Job>,
    /// Runs in this process, by Experiment uid.
    runs: Mutex<HashMap<String, Run>>,
    /// Failed reconciles in a row, by uid: the error policy's back-off.
    failures: Mutex<HashMap<String, u32>>,
}

/// One Experiment's run in this process.
struct Run {
    tracker: Arc<status::Tracker>,
    cancel: CancelToken,
    /// Set when the Experiment was deleted: the run's end is not written.
    deleted: Arc<std::sync::atomic::AtomicBool>,
}

/// Runs the operator until it is stopped (SIGTERM, Ctrl-C: it hands its Lease over) or
/// loses its Lease (an error: its trials' Jobs keep running and the next leader adopts
/// them).
pub fn run(options: OperatorOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Error::Runtime { what: "the operator".into(), source: e })?;
    runtime.block_on(serve(options))
}

async fn serve(options: OperatorOptions) -> Result<()> {
    let client = kube::Client::try_default().await.map_err(|e| Error::cluster_caused("no Kubernetes configuration found; set KUBECONFIG or run inside a cluster", e))?;
    let lease_ns = options.lease_namespace.clone().or_else(|| options.namespace.clone()).unwrap_or_else(|| client.default_namespace().to_string());
    let elector = Elector::new(Api::<Lease>::namespaced(client.clone(), &lease_ns), &options.lease_name, &options.identity, options.lease_duration);
    acquire(&elector).await?;
    eprintln!("automl operator: {} leads (Lease {lease_ns}/{})", options.identity, options.lease_name);
    let (experiments, jobs): (Api<Experiment>, Api<Job>) = match &options.namespace {
        Some(ns) => (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns)),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let owned = || watcher::Config::default().labels(crate::kubernetes::labels::OWNER_UID);
    let (store, writer) = kube::runtime::reflector::store();
    let cache = watcher(jobs.clone(), owned()).default_backoff().reflect(writer).for_each(|_| futures::future::ready(()));
    tokio::spawn(cache);
    let ctx = Arc::new(Context { client, options, runtime: tokio::runtime::Handle::current(), jobs: store, runs: Mutex::default(), failures: Mutex::default() });
    let controller = Controller::new(experiments, watcher::Config::default())
        .owns(jobs, owned())
        .shutdown_on_signal()
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| async {});
    let keeping = Box::pin(keep(&elector));
    let outcome = futures::future::select(Box::pin(controller), keeping).await;
    match outcome {
        futures::future::Either::Left((_, keeping)) => {
            drop(keeping);
            elector.release().await;
            eprintln!("automl operator: stopped; the Lease is released");
            Ok(())
        }
        futures::future::Either::Right((lost, controller)) => {
            drop(controller);
            Err(lost)
        }
    }
}

/// Waits until this replica holds the Lease.
async fn acquire(elector: &Elector) -> Result<()> {
    let mut said = None;
    loop {
        match elector.try_acquire_or_renew().await {
            Ok(Holder::Me) => return Ok(()),
            Ok(Holder::Other(h)) if said.as_ref() != Some(&h) => {
                eprintln!("automl operator: waiting: {h} leads");
                said = Some(h);
            }
            Ok(Holder::Other(_)) => {}
            Err(e) => eprintln!("automl operator: {e} (retrying)"),
        }
        tokio::time::sleep(elector.retry_period()).await;
    }
}

/// Renews the Lease; returns the error that ends leadership (another replica took it, or
/// no renewal succeeded for a whole lease duration).
async fn keep(elector: &Elector) -> Error {
    let mut renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(elector.retry_period()).await;
        match elector.try_acquire_or_renew().await {
            Ok(Holder::Me) => renewed = tokio::time::Instant::now(),
            Ok(Holder::Other(h)) => return Error::cluster(format!("the operator lost its Lease to {h}; stopping so that only one replica dispatches trials")),
            Err(e) if renewed.elapsed() >= elector.retry_period() * 3 => return Error::cluster(format!("the operator could not renew its Lease for a whole lease duration ({e}); stopping so that only one replica dispatches trials")),
            Err(e) => eprintln!("automl operator: {e} (retrying)"),
        }
    }
}
