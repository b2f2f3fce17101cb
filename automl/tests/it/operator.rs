//! Operator mode against the in-process API server over real HTTP: `automl operator run`
//! (the real binary) reconciles Experiments whose trials run as Jobs executed by the fake
//! kubelet as local processes. An Experiment runs to Succeeded with a model; a deleted one
//! takes its Jobs and pods with it; of two operators one leads, and when it is killed
//! mid-run the other takes over without dispatching a trial twice or losing one.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automl::kubernetes::crd::Experiment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, PostParams};
use kube_fake::{Exit, FakeApiServer, Kubelet, PodScript, Schedule};
use serde_json::json;

use super::example;
use super::kubernetes::slow_trial_command;

const NS: &str = "automl-operator-test";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_automl")
}

/// An operator process; killed (SIGKILL) when dropped.
struct Operator {
    child: Child,
    log: PathBuf,
}

impl Operator {
    fn start(server: &FakeApiServer, root: &Path, identity: &str, trial_command: &Path) -> Operator {
        let kubeconfig = root.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig, NS).expect("kubeconfig");
        let log = root.join(format!("operator-{identity}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin())
            .args(["operator", "run", "--namespace", NS, "--data-root"])
            .arg(root.join("data"))
            .args(["--same-path-trials", "--lease-duration", "2", "--identity", identity])
            .env("KUBECONFIG", &kubeconfig)
            .env("AUTOML_TRIAL_COMMAND", trial_command)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the operator");
        Operator { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A data root holding penguins.csv, as the operator's mounted claim.
fn data_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(root.path().join("data")).expect("data dir");
    std::fs::copy(example("penguins.csv"), root.path().join("data/penguins.csv")).expect("copy data");
    root
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn experiments(server: &FakeApiServer, rt: &tokio::runtime::Runtime) -> Api<Experiment> {
    let _inside = rt.enter();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client");
    Api::namespaced(client, NS)
}

fn leases(server: &FakeApiServer, rt: &tokio::runtime::Runtime) -> Api<Lease> {
    let _inside = rt.enter();
    let client = kube::Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client");
    Api::namespaced(client, NS)
}

fn penguins(name: &str, max_trials: u64, concurrency: u32) -> Experiment {
    serde_json::from_value(json!({
        "apiVersion": "automl.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": { "name": name },
        "spec": {
            "data": { "pvc": { "claim": "automl-data", "path": "penguins.csv" } },
            "target": "species",
            "budget": { "maxTrials": max_trials },
            "concurrency": concurrency,
            "learners": ["gbdt", "logistic"],
            "trialResources": { "cpu": "1", "memory": "1Gi" },
        },
    }))
    .expect("experiment")
}

/// Polls `check` every 20 ms until it gives a value, for at most `secs`.
fn wait_for<T>(secs: u64, what: &str, logs: &dyn Fn() -> String, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}\n{}", logs());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn phase(e: &Experiment) -> Option<&str> {
    e.status.as_ref().and_then(|s| s.phase.as_deref())
}

#[test]
fn an_applied_experiment_runs_to_succeeded_with_its_model_on_the_claim() {
    let server = FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("server");
    let root = data_root();
    let op = Operator::start(&server, root.path(), "a", Path::new(bin()));
    let rt = runtime();
    let api = experiments(&server, &rt);
    let applied = Instant::now();
    let created = rt.block_on(api.create(&PostParams::default(), &penguins("penguins", 4, 2))).expect("apply");
    let uid = created.metadata.uid.clone().expect("uid");
    wait_for(60, "the first Job", &|| op.log(), || (server.jobs_created() > 0).then_some(()));
    eprintln!("reconcile latency: Experiment applied to first Job created in {:.0} ms", applied.elapsed().as_secs_f64() * 1e3);
    let done = wait_for(120, "Succeeded", &|| op.log(), || rt.block_on(api.get("penguins")).ok().filter(|e| phase(e) == Some("Succeeded")));
    let status = done.status.clone().expect("status");
    let t = &status.trials;
    assert_eq!(t.succeeded + t.failed + t.early_stopped + t.timed_out, 4, "{status:?}");
    assert!(t.succeeded >= 1 && t.running == 0, "{status:?}");
    assert!(status.best_trial.is_some() && status.best_score.is_some_and(f64::is_finite), "{status:?}");
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    let succeeded = status.conditions.iter().find(|c| c.kind == "Succeeded").expect("Succeeded condition");
    assert_eq!((succeeded.status.as_str(), succeeded.reason.as_str(), succeeded.observed_generation), ("True", "ModelSaved", Some(1)));
    // The model is on the claim, where the status says.
    let dir = format!(".automl/{NS}/penguins-{}", &uid[..8]);
    assert_eq!(status.model.as_deref(), Some(format!("pvc://automl-data/{dir}/model.automl").as_str()));
    let model = root.path().join("data").join(&dir).join("model.automl");
    let p = Command::new(bin()).args(["predict", "-m"]).arg(&model).arg(example("penguins.csv")).output().expect("predict");
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    // Each trial was one Job, owned by the Experiment, which carries the finalizer.
    assert_eq!(server.jobs_created(), 4);
    for job in server.jobs(NS) {
        let owner = job.metadata.owner_references.as_ref().and_then(|o| o.first()).expect("owner reference");
        assert_eq!((owner.kind.as_str(), owner.uid.as_str(), owner.controller), ("Experiment", uid.as_str(), Some(true)));
    }
    assert_eq!(done.metadata.finalizers.as_deref(), Some(&["automl.dev/trial-jobs".to_string()][..]));
    // The data was parsed once, into the claim's prepared folder, and every trial read that.
    let prepared: Vec<_> = std::fs::read_dir(root.path().join("data/.automl/prepared")).expect("prepared folder").map(|e| e.expect("entry").path()).collect();
    assert_eq!(prepared.len(), 1, "{prepared:?}");
    for job in server.jobs(NS) {
        let env = job.spec.and_then(|s| s.template.spec).map(|p| p.containers[0].env.clone().unwrap_or_default()).unwrap_or_default();
        let spec: serde_json::Value = env.iter().find(|e| e.name == "AUTOML_TRIAL").and_then(|e| serde_json::from_str(e.value.as_deref()?).ok()).expect("trial spec");
        assert_eq!(spec["data"]["prepared"]["path"].as_str(), prepared[0].to_str(), "{spec}");
    }
}

#[test]
fn a_deleted_experiment_takes_its_jobs_and_pods_with_it() {
    let server = FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("server");
    let root = data_root();
    let op = Operator::start(&server, root.path(), "a", &slow_trial_command(root.path(), 30.0));
    let rt = runtime();
    let api = experiments(&server, &rt);
    rt.block_on(api.create(&PostParams::default(), &penguins("doomed", 6, 2))).expect("apply");
    wait_for(60, "two running Jobs", &|| op.log(), || (server.jobs(NS).len() == 2 && server.pods(NS).len() == 2).then_some(()));
    rt.block_on(api.delete("doomed", &DeleteParams::default())).expect("delete");
    wait_for(30, "the Experiment gone", &|| op.log(), || rt.block_on(api.get_opt("doomed")).expect("get").is_none().then_some(()));
    wait_for(30, "its Jobs and pods gone", &|| op.log(), || (server.jobs(NS).is_empty() && server.pods(NS).is_empty()).then_some(()));
    // Nothing new is dispatched for it afterwards.
    std::thread::sleep(Duration::from_secs(2));
    assert!(server.jobs(NS).is_empty(), "{}", op.log());
    assert_eq!(server.jobs_created(), 2);
}

#[test]
fn of_two_operators_one_leads_and_the_other_resumes_when_it_is_killed_mid_run() {
    let server = FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("server");
    let root = data_root();
    let trials = slow_trial_command(root.path(), 2.0);
    let mut a = Operator::start(&server, root.path(), "a", &trials);
    let rt = runtime();
    let holder = || rt.block_on(leases(&server, &rt).get_opt("automl-operator")).ok().flatten().and_then(|l| l.spec?.holder_identity);
    wait_for(30, "a leads", &|| a.log(), || (holder().as_deref() == Some("a")).then_some(()));
    let b = Operator::start(&server, root.path(), "b", &trials);
    let (a_log, b_log) = (a.log.clone(), b.log.clone());
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let logs = || format!("a:\n{}\nb:\n{}", read(&a_log), read(&b_log));
    wait_for(30, "b waits", &logs, || b.log().contains("waiting: a leads").then_some(()));
    let api = experiments(&server, &rt);
    rt.block_on(api.create(&PostParams::default(), &penguins("handover", 6, 2))).expect("apply");
    wait_for(60, "a trial finished and others running", &logs, || {
        let e = rt.block_on(api.get("handover")).ok()?;
        (e.status?.trials.succeeded >= 1 && server.jobs(NS).len() > 1).then_some(())
    });
    assert!(!b.log().contains("starting"), "the follower dispatched nothing: {}", logs());
    a.child.kill().expect("kill a");
    let killed = Instant::now();
    a.child.wait().expect("reap a");
    wait_for(30, "b leads", &logs, || (holder().as_deref() == Some("b")).then_some(()));
    let took_over = killed.elapsed();
    wait_for(30, "b resumes", &logs, || b.log().contains("resuming").then_some(()));
    eprintln!("takeover: a killed to b leading in {:.2} s, to b resuming in {:.2} s", took_over.as_secs_f64(), killed.elapsed().as_secs_f64());
    let done = wait_for(120, "Succeeded", &logs, || rt.block_on(api.get("handover")).ok().filter(|e| phase(e) == Some("Succeeded")));
    let t = done.status.expect("status").trials;
    // None lost, none twice: six trials, six Jobs, one per trial number.
    assert_eq!(t.succeeded + t.failed + t.early_stopped + t.timed_out, 6, "{t:?}\n{}", logs());
    assert_eq!(server.jobs_created(), 6, "{}", logs());
    let mut trials: Vec<String> = server.jobs(NS).iter().filter_map(|j| j.metadata.labels.as_ref()?.get("automl.dev/trial").cloned()).collect();
    trials.sort();
    trials.dedup();
    assert_eq!(trials.len(), 6);
}

/// On a real cluster (kind): the operator of `examples/kubernetes/operator.yaml` runs an
/// Experiment on penguins.csv to Succeeded. Set up once (kind's local-path volumes are
/// ReadWriteOnce, which one node can share):
///
/// ```sh
/// kind create cluster
/// docker build -t ghcr.io/automl-rs/automl:0.1.0 . && kind load docker-image ghcr.io/automl-rs/automl:0.1.0
/// kubectl apply -f examples/kubernetes/namespace.yaml
/// sed 's/ReadOnlyMany/ReadWriteOnce/' examples/kubernetes/data-pvc.yaml | kubectl apply -f -
/// target/debug/automl operator crd | kubectl apply -f -
/// kubectl apply -f examples/kubernetes/operator.yaml
/// cargo test -p automl --test it -- --ignored real_cluster_operator
/// ```
///
/// The test copies penguins.csv onto the claim (through a ConfigMap and a busybox pod),
/// applies the Experiment and waits up to 15 minutes.
#[test]
#[ignore = "needs a real cluster with the operator installed: see the doc comment"]
fn real_cluster_operator_runs_an_experiment_to_succeeded() {
    use k8s_openapi::api::core::v1::{ConfigMap, Pod};
    let rt = runtime();
    let client = rt.block_on(kube::Client::try_default()).expect("kubeconfig");
    let ns = "automl";
    let csv = std::fs::read_to_string(example("penguins.csv")).expect("csv");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let map: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "penguins-csv" }, "data": { "penguins.csv": csv } })).expect("configmap");
    let _ = rt.block_on(maps.delete("penguins-csv", &DeleteParams::default()));
    rt.block_on(maps.create(&PostParams::default(), &map)).expect("create configmap");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let copy: Pod = serde_json::from_value(json!({
        "metadata": { "name": "copy-penguins" },
        "spec": {
            "restartPolicy": "Never",
            "securityContext": { "runAsNonRoot": true, "runAsUser": 65532, "fsGroup": 65532, "seccompProfile": { "type": "RuntimeDefault" } },
            "containers": [{ "name": "copy", "image": "busybox:1.36", "command": ["cp", "/in/penguins.csv", "/data/penguins.csv"],
                "securityContext": { "allowPrivilegeEscalation": false, "capabilities": { "drop": ["ALL"] } },
                "volumeMounts": [{ "name": "in", "mountPath": "/in" }, { "name": "data", "mountPath": "/data" }] }],
            "volumes": [{ "name": "in", "configMap": { "name": "penguins-csv" } }, { "name": "data", "persistentVolumeClaim": { "claimName": "automl-data" } }],
        },
    }))
    .expect("pod");
    let _ = rt.block_on(pods.delete("copy-penguins", &DeleteParams::default()));
    std::thread::sleep(Duration::from_secs(3));
    rt.block_on(pods.create(&PostParams::default(), &copy)).expect("copy pod");
    let never = || String::new();
    let pod_phase = || rt.block_on(pods.get("copy-penguins")).ok().and_then(|p| p.status?.phase);
    wait_for(300, "the copy pod", &never, || (pod_phase().as_deref() == Some("Succeeded")).then_some(()));
    let api: Api<Experiment> = Api::namespaced(client, ns);
    let _ = rt.block_on(api.delete("penguins-real", &DeleteParams::default()));
    std::thread::sleep(Duration::from_secs(5));
    rt.block_on(api.create(&PostParams::default(), &penguins("penguins-real", 6, 2))).expect("apply");
    let done = wait_for(900, "Succeeded or Failed", &never, || rt.block_on(api.get("penguins-real")).ok().filter(|e| matches!(phase(e), Some("Succeeded" | "Failed"))));
    assert_eq!(phase(&done), Some("Succeeded"), "{:?}", done.status);
    assert!(done.status.and_then(|s| s.model).is_some_and(|m| m.starts_with("pvc://automl-state/")));
}

/// Serves `body` to every request on 127.0.0.1, over plain HTTP; returns the URL base.
fn serve_file(body: Vec<u8>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n", body.len());
            let _ = std::io::Write::write_all(&mut stream, head.as_bytes());
            let _ = std::io::Write::write_all(&mut stream, &body);
        }
    });
    base
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn data_by_url_is_downloaded_checked_and_read_by_the_trials() {
    let server = FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("server");
    let root = data_root();
    let op = Operator::start(&server, root.path(), "a", Path::new(bin()));
    let csv = std::fs::read(example("penguins.csv")).expect("csv");
    let base = serve_file(csv.clone());
    let rt = runtime();
    let api = experiments(&server, &rt);
    let by_url = |name: &str, sha256: &str| {
        let mut e = penguins(name, 2, 2);
        e.spec.data = serde_json::from_value(json!({ "url": { "url": format!("{base}/sets/penguins.csv"), "sha256": sha256 } })).expect("data");
        e
    };
    rt.block_on(api.create(&PostParams::default(), &by_url("good", &sha256_hex(&csv)))).expect("apply");
    rt.block_on(api.create(&PostParams::default(), &by_url("tampered", &"0".repeat(64)))).expect("apply");
    let ended = |name: &str| wait_for(120, name, &|| op.log(), || rt.block_on(api.get(name)).ok().filter(|e| matches!(phase(e), Some("Succeeded" | "Failed"))));
    let good = ended("good");
    assert_eq!(phase(&good), Some("Succeeded"), "{:?}\n{}", good.status, op.log());
    let tampered = ended("tampered").status.expect("status");
    assert_eq!(tampered.phase.as_deref(), Some("Failed"));
    let condition = tampered.conditions.iter().find(|c| c.kind == "Succeeded").expect("condition");
    assert_eq!(condition.reason, "DataUnavailable");
    assert!(condition.message.contains("SHA-256"), "{}", condition.message);
    // The trial pods downloaded the file themselves: their Jobs name the URL, not a path.
    let jobs = server.jobs(NS);
    assert!(!jobs.is_empty() && jobs.iter().all(|j| serde_json::to_string(j).unwrap_or_default().contains("/sets/penguins.csv")));
}

#[test]
fn a_custom_trial_experiment_runs_gang_scheduled_trials() {
    // Index 0 of each gang reports lr * 10 as its accuracy; the other worker reports 0.
    let server = FakeApiServer::start(Kubelet::scripted(|job, pod| {
        let index = pod.metadata.annotations.as_ref().and_then(|a| a.get("batch.kubernetes.io/job-completion-index")).cloned().unwrap_or_default();
        let args = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].args.clone()).unwrap_or_default();
        let lr: f64 = args.iter().find_map(|a| a.strip_prefix("--lr=")).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        let value = if index == "0" { lr * 10.0 } else { 0.0 };
        PodScript { schedule: Schedule::After(Duration::from_millis(5)), logs: vec![(Duration::from_millis(5), format!("accuracy={value}"))], exit: Exit::Succeeded { message: None } }
    }))
    .expect("server");
    server.add_queue("q", 2);
    let root = data_root();
    let op = Operator::start(&server, root.path(), "a", Path::new(bin()));
    let exp: Experiment = serde_json::from_value(json!({
        "apiVersion": "automl.dev/v1alpha1", "kind": "Experiment", "metadata": { "name": "ddp" },
        "spec": {
            "data": { "pvc": { "claim": "automl-data", "path": "penguins.csv" } },
            "budget": { "maxTrials": 3 }, "concurrency": 1,
            "customTrial": {
                "image": "example.com/ddp:1", "args": ["--lr=${lr}"],
                "parameters": { "lr": { "type": "float", "min": 0.001, "max": 0.09 } },
                "objective": { "metric": "accuracy", "direction": "maximize" },
                "pods": 2, "gang": { "scheduler": "kueue", "queue": "q" },
            },
        },
    }))
    .expect("experiment");
    let rt = runtime();
    let api = experiments(&server, &rt);
    rt.block_on(api.create(&PostParams::default(), &exp)).expect("apply");
    let done = wait_for(120, "Succeeded", &|| op.log(), || rt.block_on(api.get("ddp")).ok().filter(|e| matches!(phase(e), Some("Succeeded" | "Failed"))));
    let status = done.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Succeeded"), "{status:?}\n{}", op.log());
    assert_eq!((status.trials.succeeded, status.model.as_deref()), (3, None), "{status:?}");
    let best = status.best_score.expect("best score");
    assert!(best > 0.0 && best <= 0.9, "index 0's objective, not the other worker's: {best}");
    let cond = status.conditions.iter().find(|c| c.kind == "Succeeded").expect("condition");
    assert_eq!(cond.reason, "SearchEnded");
    for job in server.jobs(NS) {
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!((spec.completion_mode.as_deref(), spec.parallelism), (Some("Indexed"), Some(2)));
        assert!(job.metadata.owner_references.is_some());
    }
}

#[cfg(feature = "plugins")]
#[test]
fn a_metric_plugin_from_a_config_map_is_the_objective_in_the_trial_pods() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let server = FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("server");
    let root = data_root();
    std::fs::copy(example("titanic.csv"), root.path().join("data/titanic.csv")).expect("copy data");
    let op = Operator::start(&server, root.path(), "a", Path::new(bin()));
    let wasm = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/dist/cost_weighted.wasm")).expect("component");
    let rt = runtime();
    let maps: Api<ConfigMap> = {
        let _inside = rt.enter();
        Api::namespaced(kube::Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client"), NS)
    };
    let map: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "my-plugins" }, "binaryData": { "cost_weighted.wasm": k8s_openapi::ByteString(wasm.clone()) } })).expect("configmap");
    rt.block_on(maps.create(&PostParams::default(), &map)).expect("create configmap");
    let with_plugin = |name: &str, sha256: &str| -> Experiment {
        serde_json::from_value(json!({
            "apiVersion": "automl.dev/v1alpha1", "kind": "Experiment", "metadata": { "name": name },
            "spec": {
                "data": { "pvc": { "claim": "automl-data", "path": "titanic.csv" } }, "target": "survived",
                "metric": "cost_weighted", "budget": { "maxTrials": 2 }, "concurrency": 2, "learners": ["logistic"],
                "plugins": [{ "configMap": "my-plugins", "key": "cost_weighted.wasm", "sha256": sha256 }],
            },
        }))
        .expect("experiment")
    };
    let api = experiments(&server, &rt);
    rt.block_on(api.create(&PostParams::default(), &with_plugin("costly", &sha256_hex(&wasm)))).expect("apply");
    rt.block_on(api.create(&PostParams::default(), &with_plugin("forged", &"f".repeat(64)))).expect("apply");
    let ended = |name: &str| wait_for(120, name, &|| op.log(), || rt.block_on(api.get(name)).ok().filter(|e| matches!(phase(e), Some("Succeeded" | "Failed"))));
    let costly = ended("costly").status.expect("status");
    assert_eq!(costly.phase.as_deref(), Some("Succeeded"), "{costly:?}\n{}", op.log());
    assert_eq!(costly.trials.succeeded, 2, "{costly:?}");
    assert!(costly.best_score.is_some_and(f64::is_finite));
    let forged = ended("forged").status.expect("status");
    let why = forged.conditions.iter().find(|c| c.kind == "Succeeded").expect("condition");
    assert_eq!((forged.phase.as_deref(), why.reason.as_str()), (Some("Failed"), "PluginUnavailable"));
    assert!(why.message.contains("SHA-256"), "{}", why.message);
    // Every trial mounted the run's plugin ConfigMap, which the run deleted at its end.
    let jobs = server.jobs(NS);
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.spec.as_ref().and_then(|s| s.template.spec.as_ref()).is_some_and(|p| p.volumes.iter().flatten().any(|v| v.config_map.is_some()))));
    let names: Vec<String> = rt.block_on(maps.list(&Default::default())).expect("list").items.into_iter().filter_map(|m| m.metadata.name).collect();
    assert_eq!(names, ["my-plugins"]);
}
