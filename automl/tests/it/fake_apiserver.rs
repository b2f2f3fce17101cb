//! The in-process API server (`automl-kube-fake`) against the real kube client:
//! CRUD and errors, paging, watches that survive compaction, throttling, delete
//! propagation, log streaming, and the scripted and process kubelets.
use std::future::Future;
use std::time::{Duration, Instant};

use kube_fake::{Exit, FakeApiServer, Kubelet, PodScript, Schedule};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;

const NS: &str = "fake-test";

fn client(server: &FakeApiServer) -> kube::Client {
    kube::Client::try_from(kube::Config::new(server.url().parse().expect("url"))).expect("client")
}

fn jobs(server: &FakeApiServer) -> Api<Job> {
    Api::namespaced(client(server), NS)
}

fn pods(server: &FakeApiServer) -> Api<Pod> {
    Api::namespaced(client(server), NS)
}

/// A Job whose container runs `command`.
fn job_with(name: &str, command: &[&str], backoff_limit: i32) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": { "app": "fake-test" } },
        "spec": {
            "backoffLimit": backoff_limit,
            "template": {
                "metadata": { "labels": { "trial": name } },
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{ "name": "main", "image": "example.com/train:1", "command": command }],
                },
            },
        },
    }))
    .expect("job")
}

fn job(name: &str) -> Job {
    job_with(name, &["train"], 6)
}

fn script(schedule: Schedule, lines: &[&str], exit: Exit) -> Kubelet {
    Kubelet::always(PodScript {
        schedule,
        logs: lines.iter().map(|l| (Duration::from_millis(30), l.to_string())).collect(),
        exit,
    })
}

fn start(kubelet: Kubelet) -> FakeApiServer {
    FakeApiServer::start(kubelet).expect("start the fake API server")
}

/// Runs `f` with a time limit.
async fn within<T>(secs: u64, what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Polls `check` on the server's state until it holds.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn api_error(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn job_condition(job: &Job, type_: &str) -> Option<String> {
    job.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_ && c.status == "True")?.reason.clone()
}

fn is_job_failed() -> impl kube::runtime::wait::Condition<Job> {
    |job: Option<&Job>| job.is_some_and(|j| job_condition(j, "Failed").is_some())
}

fn terminated(pod: &Pod) -> Option<k8s_openapi::api::core::v1::ContainerStateTerminated> {
    pod.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.terminated.clone()
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status.as_ref()?.phase.as_deref()
}

fn job_pods(server: &FakeApiServer, job: &str) -> Vec<Pod> {
    server
        .pods(NS)
        .into_iter()
        .filter(|p| p.metadata.labels.as_ref().and_then(|l| l.get("job-name")).map(String::as_str) == Some(job))
        .collect()
}

#[tokio::test]
async fn a_job_completes_through_await_condition() {
    let server = start(script(
        Schedule::After(Duration::from_millis(5)),
        &["hello"],
        Exit::Succeeded { message: Some("done".into()) },
    ));
    let api = jobs(&server);
    let created = api.create(&PostParams::default(), &job("trial-1")).await.expect("create");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let done = within(15, "Job completion", await_condition(api.clone(), "trial-1", conditions::is_job_completed()))
        .await
        .expect("watch")
        .expect("the Job exists");
    let status = done.status.clone().expect("status");
    assert_eq!(status.succeeded, Some(1));
    assert!(status.start_time.is_some() && status.completion_time.is_some());
    assert_eq!(job_condition(&done, "SuccessCriteriaMet").as_deref(), Some("CompletionsReached"));

    let listed =
        pods(&server).list(&ListParams::default().labels("batch.kubernetes.io/job-name=trial-1")).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    let pod = &listed.items[0];
    assert!(pod.metadata.name.as_deref().is_some_and(|n| n.starts_with("trial-1-") && n.len() == "trial-1-".len() + 5));
    let labels = pod.metadata.labels.as_ref().expect("labels");
    assert_eq!(labels.get("trial").map(String::as_str), Some("trial-1"));
    assert_eq!(labels.get("controller-uid"), created.metadata.uid.as_ref());
    let owner = &pod.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!((owner.kind.as_str(), owner.controller), ("Job", Some(true)));
    assert_eq!(phase(pod), Some("Succeeded"));
    let t = terminated(pod).expect("terminated");
    assert_eq!((t.exit_code, t.reason.as_deref(), t.message.as_deref()), (0, Some("Completed"), Some("done")));
    assert_eq!(
        pods(&server).logs(pod.metadata.name.as_deref().expect("name"), &LogParams::default()).await.expect("logs"),
        "hello\n"
    );
    assert_eq!(server.jobs_created(), 1);
}

#[tokio::test]
async fn errors_come_as_status_with_code_and_reason() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    let api = jobs(&server);
    api.create(&PostParams::default(), &job("dup")).await.expect("create");
    let e = api_error(api.create(&PostParams::default(), &job("dup")).await.expect_err("duplicate"));
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));

    for bad in ["Bad_Name", &"a".repeat(64)] {
        let e = api_error(api.create(&PostParams::default(), &job(bad)).await.expect_err("bad name"));
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{bad}: {e:?}");
        assert!(e.message.contains("metadata.name"), "{}", e.message);
    }
    let mut always = job("always");
    always.spec.as_mut().and_then(|s| s.template.spec.as_mut()).expect("spec").restart_policy = Some("Always".into());
    let e = api_error(api.create(&PostParams::default(), &always).await.expect_err("restartPolicy"));
    assert_eq!(e.code, 422);
    assert!(e.message.contains("spec.template.spec.restartPolicy"), "{}", e.message);
    let mut empty = job("empty");
    empty.spec.as_mut().and_then(|s| s.template.spec.as_mut()).expect("spec").containers.clear();
    assert_eq!(api_error(api.create(&PostParams::default(), &empty).await.expect_err("no containers")).code, 422);

    let e = api_error(api.get("missing").await.expect_err("missing"));
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    let e = api_error(api.delete("missing", &DeleteParams::default()).await.expect_err("missing"));
    assert_eq!(e.code, 404);
    assert_eq!(api.get_opt("missing").await.expect("get_opt"), None);
    assert_eq!(server.jobs_created(), 1);
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    let api = jobs(&server);
    for name in ["e", "c", "a", "d", "b"] {
        api.create(&PostParams::default(), &job(name)).await.expect("create");
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(2);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.expect("list");
        assert!(page.items.len() <= 2);
        assert!(page.metadata.resource_version.is_some());
        names.extend(page.items.iter().filter_map(|j| j.metadata.name.clone()));
        pages += 1;
        token = page.metadata.continue_.filter(|c| !c.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    let one = api.list(&ListParams::default().fields("metadata.name=c")).await.expect("field selector");
    assert_eq!(one.items.len(), 1);
    let none = api.list(&ListParams::default().labels("app=other")).await.expect("label selector");
    assert!(none.items.is_empty());
    let all = api.list(&ListParams::default().labels("app=fake-test,!missing")).await.expect("label selector");
    assert_eq!(all.items.len(), 5);
}

#[tokio::test]
async fn the_watcher_relists_after_compaction_and_cut_watches() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    let api = jobs(&server);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = watcher(api.clone(), watcher::Config::default()).default_backoff().applied_objects();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Ok(job) = item {
                let _ = tx.send(job.metadata.name.clone().unwrap_or_default());
            }
        }
    });
    api.create(&PostParams::default(), &job("before")).await.expect("create");
    seen(&mut rx, "before").await;

    let lists_before =
        server.requests().iter().filter(|r| r.method == "GET" && r.path.ends_with("/jobs") && !r.is_watch()).count();
    server.compact();
    server.cut_watches();
    api.create(&PostParams::default(), &job("after")).await.expect("create");
    seen(&mut rx, "after").await;
    let lists_after =
        server.requests().iter().filter(|r| r.method == "GET" && r.path.ends_with("/jobs") && !r.is_watch()).count();
    assert!(lists_after > lists_before, "the watcher re-listed ({lists_before} -> {lists_after})");

    // A watch from a compacted resourceVersion: HTTP 200 with a 410 ERROR event inside.
    let old =
        server.requests().iter().filter(|r| r.is_watch()).find_map(|r| r.param("resourceVersion")).expect("a watch");
    let url = format!("{}/apis/batch/v1/namespaces/{NS}/jobs?watch=true&resourceVersion={old}", server.url());
    let body = raw_get(&url).await;
    assert!(body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("\"type\":\"ERROR\"") && body.contains("\"code\":410") && body.contains("Expired"), "{body}");
    task.abort();
}

/// Waits until the watcher task reports `name`.
async fn seen(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>, name: &str) {
    within(15, name, async {
        while let Some(seen) = rx.recv().await {
            if seen == name {
                return;
            }
        }
        panic!("watcher ended");
    })
    .await
}

/// A plain HTTP/1.0 GET, returning the whole response.
async fn raw_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_at(rest.find('/').expect("path"));
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await.expect("write");
    let mut out = String::new();
    within(10, "raw GET", stream.read_to_string(&mut out)).await.expect("read");
    out
}

#[tokio::test]
async fn watches_replay_from_a_resource_version_and_send_bookmarks() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    let api = jobs(&server);
    let list = api.list(&ListParams::default()).await.expect("list");
    let rv = list.metadata.resource_version.expect("rv");
    api.create(&PostParams::default(), &job("replayed")).await.expect("create");
    let wp = kube::api::WatchParams::default().timeout(2);
    let events: Vec<_> =
        within(10, "watch", api.watch(&wp, &rv).await.expect("watch").try_collect::<Vec<_>>()).await.expect("events");
    let kinds: Vec<String> = events.iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(kinds.first().map(String::as_str), Some("Added event"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "Bookmark event"), "{kinds:?}");
}

#[tokio::test]
async fn throttled_requests_are_retried_by_the_client() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    server.throttle_next(1, 1);
    let started = Instant::now();
    jobs(&server).create(&PostParams::default(), &job("throttled")).await.expect("create after a 429");
    assert!(started.elapsed() >= Duration::from_millis(900), "Retry-After was honoured");
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 201]);
    assert_eq!(server.jobs_created(), 1);
}

#[tokio::test]
async fn delete_orphans_pods_by_default_and_removes_them_in_background() {
    let server = start(script(Schedule::After(Duration::from_millis(5)), &[], Exit::Hang));
    let api = jobs(&server);
    for name in ["orphaning", "background"] {
        api.create(&PostParams::default(), &job(name)).await.expect("create");
    }
    eventually("pods running", || {
        ["orphaning", "background"].iter().all(|j| job_pods(&server, j).iter().any(|p| phase(p) == Some("Running")))
    })
    .await;

    let answer = api.delete("orphaning", &DeleteParams::default()).await.expect("delete");
    assert!(answer.is_right(), "Jobs answer a Status");
    let left = job_pods(&server, "orphaning");
    assert_eq!(left.len(), 1, "the pod stays");
    assert_eq!(left[0].metadata.owner_references, None, "without its ownerReference");
    assert_eq!(phase(&left[0]), Some("Running"));

    api.delete("background", &DeleteParams::background()).await.expect("delete");
    assert!(job_pods(&server, "background").is_empty(), "the pod is deleted with the Job");
    assert_eq!(server.jobs(NS).len(), 0);

    // Deleting a pod answers the pod.
    let name = left[0].metadata.name.clone().expect("name");
    let answer = pods(&server).delete(&name, &DeleteParams::default()).await.expect("delete pod");
    assert!(answer.is_left());
    assert!(server.pods(NS).is_empty());
}

#[tokio::test]
async fn log_follow_streams_lines_in_order_and_ends() {
    let server = start(script(
        Schedule::After(Duration::from_millis(5)),
        &["one", "two", "three"],
        Exit::Succeeded { message: None },
    ));
    jobs(&server).create(&PostParams::default(), &job("logs")).await.expect("create");
    let api = pods(&server);
    eventually("a pod", || !job_pods(&server, "logs").is_empty()).await;
    let name = job_pods(&server, "logs")[0].metadata.name.clone().expect("name");
    let lp = LogParams { follow: true, ..LogParams::default() };
    // Until the container starts, the server answers 400 and the client retries.
    let stream = within(10, "log stream", async {
        loop {
            match api.log_stream(&name, &lp).await {
                Ok(s) => break s,
                Err(kube::Error::Api(s)) if s.code == 400 => tokio::time::sleep(Duration::from_millis(5)).await,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let lines: Vec<String> = within(10, "log lines", stream.lines().try_collect()).await.expect("lines");
    assert_eq!(lines, ["one", "two", "three"]);
    let pod = api.get(&name).await.expect("pod");
    assert_eq!(phase(&pod), Some("Succeeded"), "the stream ended with the container");
    let tail = api.logs(&name, &LogParams { tail_lines: Some(1), ..LogParams::default() }).await.expect("tail");
    assert_eq!(tail, "three\n");
}

#[tokio::test]
async fn logs_of_a_pod_not_started_are_a_bad_request() {
    let server = start(script(Schedule::ImagePullError, &[], Exit::Hang));
    jobs(&server).create(&PostParams::default(), &job("pull")).await.expect("create");
    eventually("ImagePullBackOff", || {
        job_pods(&server, "pull").iter().any(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c[0].state.as_ref())
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                == Some("ImagePullBackOff")
        })
    })
    .await;
    let name = job_pods(&server, "pull")[0].metadata.name.clone().expect("name");
    let e = api_error(pods(&server).logs(&name, &LogParams::default()).await.expect_err("not started"));
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    assert!(e.message.contains("waiting to start"), "{}", e.message);
}

#[tokio::test]
async fn the_process_kubelet_runs_the_command() {
    let server = start(Kubelet::Process { extra_env: vec![("EXTRA".into(), "x".into())] });
    let command =
        ["/bin/sh", "-c", r#"echo a=1; echo "{\"v\":1}" > $AUTOML_TERMINATION_MESSAGE_PATH; echo "$EXTRA" >&2"#];
    let api = jobs(&server);
    api.create(&PostParams::default(), &job_with("proc", &command, 0)).await.expect("create");
    within(15, "Job completion", await_condition(api, "proc", conditions::is_job_completed())).await.expect("watch");
    let pod = job_pods(&server, "proc").pop().expect("pod");
    assert_eq!(phase(&pod), Some("Succeeded"));
    let t = terminated(&pod).expect("terminated");
    assert_eq!((t.exit_code, t.reason.as_deref()), (0, Some("Completed")));
    assert_eq!(t.message.as_deref().map(str::trim), Some(r#"{"v":1}"#));
    let log =
        pods(&server).logs(pod.metadata.name.as_deref().expect("name"), &LogParams::default()).await.expect("logs");
    assert!(log.starts_with("a=1\n") || log.ends_with("a=1\n"), "{log:?}");
    assert!(log.contains("x\n"), "stderr and extra_env: {log:?}");
}

#[tokio::test]
async fn the_process_kubelet_reports_failures_and_kills_at_the_deadline() {
    let server = start(Kubelet::Process { extra_env: Vec::new() });
    let api = jobs(&server);
    api.create(&PostParams::default(), &job_with("exit3", &["/bin/sh", "-c", "echo boom; exit 3"], 1))
        .await
        .expect("create");
    within(15, "Job failure", await_condition(api.clone(), "exit3", is_job_failed())).await.expect("watch");
    let failed = api.get("exit3").await.expect("job");
    assert_eq!(job_condition(&failed, "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(failed.status.as_ref().and_then(|s| s.failed), Some(2), "one retry");
    let pods_left = job_pods(&server, "exit3");
    assert_eq!(pods_left.len(), 2);
    for pod in &pods_left {
        let t = terminated(pod).expect("terminated");
        assert_eq!((t.exit_code, t.reason.as_deref()), (3, Some("Error")));
    }

    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    let mut slow = job_with("slow", &["/bin/sh", "-c", &script], 0);
    slow.spec.as_mut().expect("spec").active_deadline_seconds = Some(1);
    let started = Instant::now();
    api.create(&PostParams::default(), &slow).await.expect("create");
    within(15, "deadline", await_condition(api.clone(), "slow", is_job_failed())).await.expect("watch");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(job_condition(&api.get("slow").await.expect("job"), "Failed").as_deref(), Some("DeadlineExceeded"));
    assert!(job_pods(&server, "slow").is_empty(), "active pods are deleted");
    let pid = std::fs::read_to_string(&pid_file).expect("pid").trim().to_string();
    eventually("the process is killed", || !std::path::Path::new(&format!("/proc/{pid}")).exists()).await;
}

#[tokio::test]
async fn an_oom_kill_with_backoff_limit_zero_fails_the_job() {
    let oom = Exit::Failed { code: 137, reason: "OOMKilled".into(), message: None };
    let server = start(script(Schedule::After(Duration::from_millis(5)), &["loading"], oom));
    let api = jobs(&server);
    api.create(&PostParams::default(), &job_with("oom", &["train"], 0)).await.expect("create");
    let job =
        within(15, "Job failure", await_condition(api, "oom", is_job_failed())).await.expect("watch").expect("job");
    assert_eq!(job_condition(&job, "Failed").as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(job_condition(&job, "FailureTarget").as_deref(), Some("BackoffLimitExceeded"));
    let pods = job_pods(&server, "oom");
    assert_eq!(pods.len(), 1);
    assert_eq!(phase(&pods[0]), Some("Failed"));
    let t = terminated(&pods[0]).expect("terminated");
    assert_eq!((t.exit_code, t.reason.as_deref()), (137, Some("OOMKilled")));
}

#[tokio::test]
async fn an_unschedulable_pod_stays_pending() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    jobs(&server).create(&PostParams::default(), &job("never")).await.expect("create");
    let unschedulable = |p: &Pod| {
        p.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| {
            cs.iter().any(|c| {
                c.type_ == "PodScheduled" && c.status == "False" && c.reason.as_deref() == Some("Unschedulable")
            })
        })
    };
    eventually("Unschedulable", || job_pods(&server, "never").iter().any(unschedulable)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let listed = pods(&server).list(&ListParams::default().labels("job-name=never")).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    assert_eq!(phase(&listed.items[0]), Some("Pending"));
    assert!(unschedulable(&listed.items[0]));
    assert_eq!(server.jobs(NS)[0].status.as_ref().and_then(|s| s.active), Some(1));
}

#[tokio::test]
async fn an_evicted_pod_counts_as_a_failure() {
    let server = start(script(Schedule::After(Duration::from_millis(5)), &[], Exit::Hang));
    let api = jobs(&server);
    api.create(&PostParams::default(), &job_with("evicted", &["train"], 0)).await.expect("create");
    eventually("running", || job_pods(&server, "evicted").iter().any(|p| phase(p) == Some("Running"))).await;
    let name = job_pods(&server, "evicted")[0].metadata.name.clone().expect("name");
    server.evict_pod(NS, &name);
    within(15, "Job failure", await_condition(api, "evicted", is_job_failed())).await.expect("watch");
    let pod = pods(&server).get(&name).await.expect("pod");
    let status = pod.status.expect("status");
    assert_eq!((status.phase.as_deref(), status.reason.as_deref()), (Some("Failed"), Some("Evicted")));
}

#[tokio::test]
async fn kubeconfig_crash_and_restart() {
    let server = start(script(Schedule::Never, &[], Exit::Hang));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path, NS).expect("kubeconfig");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config");
    assert_eq!(config.default_namespace, NS);
    let client = kube::Client::try_from(config).expect("client");
    let api: Api<Job> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &job("via-kubeconfig")).await.expect("create");
    assert_eq!(server.jobs(NS).len(), 1);

    server.crash();
    assert!(jobs(&server).list(&ListParams::default()).await.is_err(), "no answer while crashed");
    server.restart().expect("restart");
    let listed = within(10, "list after restart", jobs(&server).list(&ListParams::default())).await.expect("list");
    assert_eq!(listed.items.len(), 1);
}

#[test]
fn the_server_handle_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<FakeApiServer>();
    send_sync::<Kubelet>();
}

fn experiment(name: &str) -> automl::kubernetes::crd::Experiment {
    serde_json::from_value(json!({
        "apiVersion": "automl.dev/v1alpha1",
        "kind": "Experiment",
        "metadata": { "name": name },
        "spec": { "data": { "pvc": { "claim": "data", "path": "a.csv" } }, "target": "y" },
        "status": { "phase": "Succeeded" },
    }))
    .expect("experiment")
}

#[tokio::test]
async fn experiments_have_a_status_subresource_and_finalizers_hold_their_deletion() {
    use automl::kubernetes::crd::Experiment;
    use kube::api::{Patch, PatchParams};
    let server = start(Kubelet::default());
    let api: Api<Experiment> = Api::namespaced(client(&server), NS);
    let created = api.create(&PostParams::default(), &experiment("e1")).await.expect("create");
    assert!(created.status.is_none(), "a create ignores status: {created:?}");
    assert_eq!(created.metadata.generation, Some(1));
    // Writes to the object leave status alone; writes to /status change only status.
    let status = json!({ "status": { "phase": "Running" }, "spec": { "target": "ignored" } });
    let patched = api.patch_status("e1", &PatchParams::default(), &Patch::Merge(&status)).await.expect("status");
    assert_eq!(patched.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    assert_eq!(patched.spec.target.as_deref(), Some("y"));
    let spec = json!({ "spec": { "concurrency": 3 }, "status": { "phase": "Failed" } });
    let patched = api.patch("e1", &PatchParams::default(), &Patch::Merge(&spec)).await.expect("spec");
    assert_eq!((patched.spec.concurrency, patched.metadata.generation), (Some(3), Some(2)));
    assert_eq!(patched.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    // A stale resourceVersion is a conflict.
    let mut stale = created.clone();
    stale.spec.concurrency = Some(9);
    let err = api.replace("e1", &PostParams::default(), &stale).await.expect_err("stale replace");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err:?}");
    // A finalizer holds the deletion, and the Jobs it owns stay until it is removed.
    let fin = json!({ "metadata": { "finalizers": ["automl.dev/cleanup"] } });
    let owner = api.patch("e1", &PatchParams::default(), &Patch::Merge(&fin)).await.expect("finalizer");
    let mut owned = job("owned-1");
    owned.metadata.owner_references = Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        api_version: "automl.dev/v1alpha1".into(),
        kind: "Experiment".into(),
        name: "e1".into(),
        uid: owner.metadata.uid.clone().expect("uid"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    jobs(&server).create(&PostParams::default(), &owned).await.expect("owned job");
    api.delete("e1", &DeleteParams::default()).await.expect("delete");
    let held = api.get("e1").await.expect("still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(server.jobs(NS).len(), 1);
    let none = json!({ "metadata": { "finalizers": null } });
    api.patch("e1", &PatchParams::default(), &Patch::Merge(&none)).await.expect("remove finalizer");
    assert!(api.get_opt("e1").await.expect("get").is_none());
    assert!(server.jobs(NS).is_empty(), "the garbage collector deletes the owned Job");
}

#[tokio::test]
async fn a_lease_is_replaced_only_from_its_current_version() {
    use k8s_openapi::api::coordination::v1::Lease;
    let server = start(Kubelet::default());
    let api: Api<Lease> = Api::namespaced(client(&server), NS);
    let lease: Lease = serde_json::from_value(json!({ "metadata": { "name": "automl-operator" }, "spec": { "holderIdentity": "a", "leaseDurationSeconds": 15 } })).expect("lease");
    let first = api.create(&PostParams::default(), &lease).await.expect("create");
    assert!(api.create(&PostParams::default(), &lease).await.is_err(), "a second create is refused");
    let mut mine = first.clone();
    mine.spec.as_mut().expect("spec").holder_identity = Some("b".into());
    let taken = api.replace("automl-operator", &PostParams::default(), &mine).await.expect("replace");
    assert_eq!(taken.spec.and_then(|s| s.holder_identity).as_deref(), Some("b"));
    let mut late = first;
    late.spec.as_mut().expect("spec").holder_identity = Some("c".into());
    let err = api.replace("automl-operator", &PostParams::default(), &late).await.expect_err("stale");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err:?}");
}
