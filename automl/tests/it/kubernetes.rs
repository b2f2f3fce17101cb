//! The Kubernetes executor against the in-process API server over real HTTP: built-in
//! trials run by the real `automl trial` binary (the fake kubelet runs the container's
//! command as a process), early stopping by deleting the Job, failures with their reasons,
//! custom trials, a controller killed with SIGKILL and resumed, Ctrl-C, throttling and
//! cut watches.
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automl::core::learners::Control;
use automl::executor::{Executor, ExecutorEvent};
use automl::kubernetes::executor::{KubernetesExecutor, Launch};
use automl::kubernetes::manifest::trial_job;
use automl::kubernetes::JobTemplate;
use automl::options::KubernetesOptions;
use automl::spec::TrialContainer;
use automl::trial::{TrialMonitor, TrialResult, TrialStatus};
use kube_fake::{Exit, FakeApiServer, Kubelet, PodScript, Schedule};

use super::example;

const NS: &str = "automl-test";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_automl")
}

/// A trial command that waits `delay` seconds before running `automl`, so a test can act
/// while trials run.
pub(crate) fn slow_trial_command(dir: &Path, delay: f64) -> PathBuf {
    let p = dir.join("slow-automl.sh");
    std::fs::write(&p, format!("#!/bin/sh\nsleep {delay}\nexec {} \"$@\"\n", bin())).expect("write script");
    let mut perm = std::fs::metadata(&p).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&p, perm).expect("chmod");
    p
}

fn process_server() -> FakeApiServer {
    FakeApiServer::start(Kubelet::Process { extra_env: Vec::new() }).expect("start the API server")
}

/// `automl ARGS` with KUBECONFIG pointing at `server` and trials running `command`.
fn automl(server: &FakeApiServer, dir: &Path, command: &Path, args: &[&str]) -> Command {
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig, NS).expect("kubeconfig");
    let mut c = Command::new(bin());
    c.args(args).env("KUBECONFIG", &kubeconfig).env("AUTOML_TRIAL_COMMAND", command).env_remove("KUBERNETES_SERVICE_HOST");
    c
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn journal_events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("journal.jsonl")).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn count(events: &[serde_json::Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

#[test]
fn builtin_trials_run_as_jobs_and_report_through_termination_messages() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let o = automl(&server, dir.path(), Path::new(bin()), &["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "4", "--concurrency", "2", "--time-budget", "0", "--cpu", "1", "--memory", "1Gi", "--out", out.to_str().expect("utf-8"), "--json", "-q"])
        .output()
        .expect("run automl");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json summary");
    let board = summary["leaderboard"].as_array().expect("leaderboard");
    assert_eq!(board.len(), 4, "{summary}");
    assert!(board.iter().any(|t| t["status"] == "ok" && t["score"].is_number()), "{summary}");
    assert_eq!(server.jobs_created(), 4);
    // Every Job: labelled, locked down, the trial spec in its environment.
    for job in server.jobs(NS) {
        let labels = job.metadata.labels.clone().unwrap_or_default();
        assert_eq!(labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("automl"));
        assert!(labels.contains_key("automl.dev/experiment") && labels.contains_key("automl.dev/trial"));
        let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec");
        let c = &pod.containers[0];
        let sc = c.security_context.as_ref().expect("security context");
        assert_eq!((sc.read_only_root_filesystem, sc.run_as_non_root, sc.allow_privilege_escalation), (Some(true), Some(true), Some(false)));
        assert_eq!(sc.capabilities.as_ref().and_then(|c| c.drop.clone()), Some(vec!["ALL".to_string()]));
        assert!(c.env.iter().flatten().any(|e| e.name == "AUTOML_TRIAL"));
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    }
    // The journal recorded each step, and the model was refit here.
    let events = journal_events(&out);
    assert_eq!((count(&events, "suggested"), count(&events, "dispatched"), count(&events, "finished")), (4, 4, 4), "{events:?}");
    assert!(out.join("model.automl").exists());
    // The model predicts like a local one.
    let p = Command::new(bin()).args(["predict", "-m", out.join("model.automl").to_str().expect("utf-8"), data.to_str().expect("utf-8")]).output().expect("predict");
    assert!(p.status.success(), "{}", text(&p));
}

/// Runs one launch on the executor against `server`, answering every score with `answer`.
fn run_one(server: &FakeApiServer, cfg: KubernetesOptions, container: TrialContainer, time_limit: Option<f64>, answer: fn(usize) -> Control) -> TrialResult {
    struct M(fn(usize) -> Control, Mutex<usize>);
    impl TrialMonitor for M {
        fn report(&self, _t: u64, _l: &str, _s: usize, _v: f64) -> Control {
            let mut n = self.1.lock().expect("lock");
            *n += 1;
            (self.0)(*n)
        }
    }
    let config = kube::Config::new(server.url().parse().expect("url"));
    let mut ex = KubernetesExecutor::with_kube_client(config, KubernetesOptions { namespace: Some(NS.into()), ..cfg }, "exp1", JobTemplate::Builtin).expect("executor");
    let job = trial_job(ex.options(), NS, "exp1", 1, time_limit, container);
    ex.launch_job(Launch { id: 1, learner: "custom".into(), config: Default::default(), objective: "accuracy".into(), job, adopt_only: false }, Arc::new(M(answer, Mutex::new(0))));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match ex.next_event(deadline.saturating_duration_since(Instant::now())) {
            Some(ExecutorEvent::Finished(r)) => return r,
            Some(ExecutorEvent::Dispatched { .. }) => {}
            None => panic!("no result within 30 s"),
        }
    }
}

fn scripted(script: impl Fn() -> PodScript + Send + Sync + 'static) -> FakeApiServer {
    FakeApiServer::start(Kubelet::Scripted(Arc::new(move |_job, _pod| script()))).expect("start")
}

fn container() -> TrialContainer {
    TrialContainer { image: "example.com/train:1".into(), command: vec!["train".into()], args: vec![], env: vec![] }
}

fn logs(lines: &[&str]) -> Vec<(Duration, String)> {
    lines.iter().map(|l| (Duration::from_millis(20), l.to_string())).collect()
}

#[test]
fn a_custom_trial_is_scored_by_its_last_logged_value() {
    let server = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["epoch 1", "accuracy=0.5", "accuracy = 0.75 loss=0.3"]), exit: Exit::Succeeded { message: None } });
    let r = run_one(&server, KubernetesOptions::default(), container(), None, |_| Control::Continue);
    assert_eq!(r.status, TrialStatus::Ok, "{r:?}");
    assert_eq!(r.score, Some(0.75));
    assert_eq!(r.curve, vec![(1, 0.5), (2, 0.75)]);
}

#[test]
fn an_early_stopped_trial_has_its_job_and_pods_deleted() {
    let server = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.1", "accuracy=0.2", "accuracy=0.3", "accuracy=0.4"]), exit: Exit::Hang });
    let r = run_one(&server, KubernetesOptions::default(), container(), None, |n| if n >= 2 { Control::Stop } else { Control::Continue });
    assert_eq!(r.status, TrialStatus::EarlyStopped, "{r:?}");
    assert_eq!(r.score, Some(0.2));
    // Background propagation: the pods go with the Job.
    let deadline = Instant::now() + Duration::from_secs(5);
    while (!server.jobs(NS).is_empty() || !server.pods(NS).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.jobs(NS).is_empty() && server.pods(NS).is_empty(), "left: {} jobs, {} pods", server.jobs(NS).len(), server.pods(NS).len());
}

#[test]
fn failures_are_recorded_with_their_reasons() {
    let oom = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.1"]), exit: Exit::Failed { code: 137, reason: "OOMKilled".into(), message: None } });
    let r = run_one(&oom, KubernetesOptions { memory: Some("1Gi".into()), ..Default::default() }, container(), None, |_| Control::Continue);
    assert_eq!(r.status, TrialStatus::Failed);
    assert!(r.message.as_deref().is_some_and(|m| m.contains("OOMKilled") && m.contains("1Gi")), "{r:?}");

    let pull = scripted(|| PodScript { schedule: Schedule::ImagePullError, logs: vec![], exit: Exit::Hang });
    let r = run_one(&pull, KubernetesOptions::default(), container(), None, |_| Control::Continue);
    assert!(r.message.as_deref().is_some_and(|m| m.contains("ImagePull") || m.contains("ErrImagePull")), "{r:?}");

    let never = scripted(|| PodScript { schedule: Schedule::Never, logs: vec![], exit: Exit::Hang });
    let r = run_one(&never, KubernetesOptions { unschedulable_timeout_s: 1, ..Default::default() }, container(), None, |_| Control::Continue);
    assert!(r.message.as_deref().is_some_and(|m| m.contains("unschedulable")), "{r:?}");
    assert!(never.jobs(NS).is_empty() || never.jobs(NS).iter().all(|j| j.metadata.deletion_timestamp.is_some()), "an unschedulable trial's Job is deleted");

    let slow = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.1"]), exit: Exit::Hang });
    let r = run_one(&slow, KubernetesOptions { startup_allowance_s: 0, ..Default::default() }, container(), Some(1.0), |_| Control::Continue);
    assert_eq!(r.status, TrialStatus::TimedOut, "{r:?}");
    assert!(r.message.as_deref().is_some_and(|m| m.contains("activeDeadlineSeconds")), "{r:?}");
}

#[test]
fn an_evicted_pod_fails_its_trial_with_the_reason() {
    let server = Arc::new(scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.1"]), exit: Exit::Hang }));
    let s = Arc::clone(&server);
    let evictor = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(pod) = s.pods(NS).into_iter().find(|p| p.status.as_ref().and_then(|st| st.phase.as_deref()) == Some("Running")) {
                std::thread::sleep(Duration::from_millis(100));
                s.evict_pod(NS, pod.metadata.name.as_deref().unwrap_or_default());
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let r = run_one(&server, KubernetesOptions::default(), container(), None, |_| Control::Continue);
    evictor.join().expect("evictor");
    assert_eq!(r.status, TrialStatus::Failed);
    assert!(r.message.as_deref().is_some_and(|m| m.contains("evicted")), "{r:?}");
}

#[test]
fn a_killed_controller_resumes_without_dispatching_twice_or_losing_results() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let slow = slow_trial_command(dir.path(), 0.7);
    let data = example("penguins.csv");
    let args = ["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "6", "--concurrency", "2", "--time-budget", "0", "--learners", "logistic,naive_bayes,gbdt", "--out", out.to_str().expect("utf-8"), "-q"];
    let mut child = automl(&server, dir.path(), &slow, &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
    // Kill it (SIGKILL) once a trial has finished and others are dispatched.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = journal_events(&out);
        if count(&events, "finished") >= 1 && count(&events, "dispatched") > count(&events, "finished") {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {events:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let before = journal_events(&out);
    let finished_before = count(&before, "finished");
    assert!(finished_before < 6);
    // The cluster goes on without its controller; then the controller comes back. The
    // journal chooses the image and command the cluster runs: resume wants them confirmed.
    let o = automl(&server, dir.path(), &slow, &["resume", out.to_str().expect("utf-8"), "-q"]).output().expect("resume");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("trial image") && text(&o).contains("trial command") && text(&o).contains("--accept-settings"), "{}", text(&o));
    let o = automl(&server, dir.path(), &slow, &["resume", out.to_str().expect("utf-8"), "--image", "example.com/other:1", "-q"]).output().expect("resume");
    assert!(o.status.code() == Some(2) && text(&o).contains("not example.com/other:1"), "{}", text(&o));
    let o = automl(&server, dir.path(), &slow, &["resume", out.to_str().expect("utf-8"), "--accept-settings", "--json", "-q"]).output().expect("resume");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let board = summary["leaderboard"].as_array().expect("leaderboard");
    assert_eq!(board.len(), 6, "{summary}");
    let mut ids: Vec<u64> = board.iter().map(|t| t["trial"].as_u64().expect("trial id")).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6]);
    // Each trial had exactly one Job: adopted after the restart, never created twice.
    assert_eq!(server.jobs_created(), 6, "Jobs created");
    let after = journal_events(&out);
    assert_eq!(count(&after, "finished"), 6, "{after:?}");
    assert!(out.join("model.automl").exists());
}

/// Starts a run of slow trials (`extra` added to its arguments), sends it Ctrl-C once two
/// trials are dispatched, and returns its output and how long it took to stop.
fn interrupt_after_two_dispatches(server: &FakeApiServer, dir: &Path, delay: f64, extra: &[&str]) -> (Output, Duration) {
    let out = dir.join("out");
    let slow = slow_trial_command(dir, delay);
    let data = example("penguins.csv");
    let mut args = vec!["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "20", "--concurrency", "2", "--time-budget", "0", "--out", out.to_str().expect("utf-8"), "-q"];
    args.extend_from_slice(extra);
    let child = automl(server, dir, &slow, &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&journal_events(&out), "dispatched") < 2 {
        assert!(Instant::now() < deadline, "no dispatch");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    assert!(status.success());
    let waited = Instant::now();
    let o = child.wait_with_output().expect("wait");
    (o, waited.elapsed())
}

#[test]
fn ctrl_c_deletes_running_jobs_and_keeps_the_leaderboard() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (o, waited) = interrupt_after_two_dispatches(&server, dir.path(), 3.0, &[]);
    assert!(waited < Duration::from_secs(20));
    // Nothing succeeded before the interrupt, so the run reports that (exit 5), with the
    // leaderboard written and the Jobs gone.
    assert!(matches!(o.status.code(), Some(0) | Some(5)), "{}", text(&o));
    assert!(out.join("leaderboard.csv").exists());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.jobs(NS).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(server.jobs(NS).is_empty(), "Jobs left after Ctrl-C: {}", server.jobs(NS).len());
}

#[test]
fn ctrl_c_with_keep_jobs_leaves_the_running_jobs() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (o, _) = interrupt_after_two_dispatches(&server, dir.path(), 5.0, &["--keep-jobs"]);
    assert!(matches!(o.status.code(), Some(0) | Some(5)), "{}", text(&o));
    // Both running trials' Jobs are still there.
    assert_eq!(server.jobs(NS).len(), 2, "{}", text(&o));
    assert!(out.join("leaderboard.csv").exists());
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap_or_default();
    assert!(journal.contains("\"ended\""), "the journal records the end");
}

#[test]
fn throttling_and_cut_watches_do_not_lose_trials() {
    let server = Arc::new(process_server());
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let slow = slow_trial_command(dir.path(), 0.3);
    server.throttle_next(3, 1);
    let s = Arc::clone(&server);
    let disturber = std::thread::spawn(move || {
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(400));
            s.compact();
            s.cut_watches();
        }
    });
    let data = example("penguins.csv");
    let o = automl(&server, dir.path(), &slow, &["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "5", "--concurrency", "2", "--time-budget", "0", "--learners", "logistic,naive_bayes", "--out", out.to_str().expect("utf-8"), "--json", "-q"]).output().expect("run");
    disturber.join().expect("disturber");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["leaderboard"].as_array().map(Vec::len), Some(5), "{summary}");
    assert_eq!(server.jobs_created(), 5);
    assert!(server.requests().iter().any(|r| r.status == 429), "the server throttled");
}

#[test]
fn an_unreachable_cluster_is_exit_code_7() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Hyperparams\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n")).expect("write");
    let data = example("penguins.csv");
    let o = Command::new(bin()).args(["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "1", "--out", dir.path().join("o").to_str().expect("utf-8"), "-q"]).env("KUBECONFIG", &kubeconfig).output().expect("run");
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Kubernetes"), "{}", text(&o));
}

/// On a real cluster (kind, k3s): custom trials of a public busybox image that prints its
/// parameter as the objective. Needs a kubeconfig and the namespace of
/// examples/kubernetes/namespace.yaml; run with
/// `cargo test -p automl --test it -- --ignored real_cluster`.
#[test]
#[ignore = "needs a real cluster: see the README's Kubernetes section"]
fn real_cluster_custom_trials_run_as_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(
        &spec,
        "name: echo\nobjective: { metric: accuracy, direction: maximize }\nparameters:\n  x: { type: float, min: 0.0, max: 1.0 }\ntrial:\n  image: busybox:1.36\n  command: [sh, -c, 'echo accuracy=${x}']\nmax_trials: 3\nconcurrency: 3\n",
    )
    .expect("write spec");
    let namespace = std::env::var("AUTOML_TEST_NAMESPACE").unwrap_or_else(|_| "automl".into());
    let out = dir.path().join("out");
    let o = Command::new(bin()).args(["run", "--spec", spec.to_str().expect("utf-8"), "--namespace", &namespace, "--out", out.to_str().expect("utf-8"), "--json"]).output().expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let board = summary["leaderboard"].as_array().expect("leaderboard");
    assert_eq!(board.len(), 3);
    assert!(board.iter().all(|t| t["status"] == "ok" && t["score"].is_number()), "{summary}");
}

#[test]
fn a_custom_spec_tunes_the_users_image_until_its_goal() {
    // The "image" prints accuracy = its x argument: the search should find large x.
    let server = FakeApiServer::start(Kubelet::scripted(|job, _pod| {
        let args = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].args.clone()).unwrap_or_default();
        let x = args.iter().find_map(|a| a.strip_prefix("--x=")).unwrap_or("0").to_string();
        PodScript { schedule: Schedule::After(Duration::from_millis(5)), logs: vec![(Duration::from_millis(5), format!("epoch=1 accuracy={x}"))], exit: Exit::Succeeded { message: None } }
    }))
    .expect("start");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, "name: echo\nobjective: { metric: accuracy, direction: maximize, goal: 0.97 }\nparameters:\n  x: { type: float, min: 0.0, max: 1.0 }\ntrial:\n  image: example.com/echo:1\n  args: ['--x=${x}']\nmax_trials: 60\nconcurrency: 3\nearly_stopping: false\n").expect("spec");
    let out = dir.path().join("out");
    let o = automl(&server, dir.path(), Path::new("unused"), &["run", "--spec", spec.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8"), "--json"]).output().expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let board = summary["leaderboard"].as_array().expect("leaderboard");
    let best = board[0]["score"].as_f64().expect("score");
    assert!(best >= 0.97, "{summary}");
    assert_eq!(summary["stop_reason"], "target_score", "{summary}");
    assert!(board.len() < 60, "stopped at the goal: {} trials", board.len());
    // The placeholder was filled per trial.
    let job = &server.jobs(NS)[0];
    let args = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).and_then(|p| p.containers[0].args.clone()).unwrap_or_default();
    assert!(args[0].starts_with("--x=") && !args[0].contains("${"), "{args:?}");
    assert!(out.join("leaderboard.csv").exists() && out.join("journal.jsonl").exists());
}

#[test]
fn the_monitor_judges_cluster_trials_off_the_runtimes_workers() {
    // A stopping-rule plugin blocks in its call (up to its time limit): on one of the
    // async runtime's workers that would stall every other watcher, and a blocking wait
    // there panics. The monitor here blocks the way such a call does, and notes whether
    // it could.
    static BLOCKED_ON_A_WORKER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    static JUDGED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    struct Blocking;
    impl TrialMonitor for Blocking {
        fn report(&self, _t: u64, _l: &str, _s: usize, _v: f64) -> Control {
            JUDGED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let wait = std::panic::catch_unwind(|| tokio::runtime::Handle::current().block_on(tokio::time::sleep(Duration::from_millis(50))));
            if wait.is_err() {
                BLOCKED_ON_A_WORKER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Control::Continue
        }
    }
    let server = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.5", "accuracy=0.6"]), exit: Exit::Succeeded { message: None } });
    let config = kube::Config::new(server.url().parse().expect("url"));
    let mut ex = KubernetesExecutor::with_kube_client(config, KubernetesOptions { namespace: Some(NS.into()), ..KubernetesOptions::default() }, "exp1", JobTemplate::Builtin).expect("executor");
    let job = trial_job(ex.options(), NS, "exp1", 1, None, container());
    ex.launch_job(Launch { id: 1, learner: "custom".into(), config: Default::default(), objective: "accuracy".into(), job, adopt_only: false }, Arc::new(Blocking));
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        match ex.next_event(deadline.saturating_duration_since(Instant::now())) {
            Some(ExecutorEvent::Finished(r)) => break r,
            Some(ExecutorEvent::Dispatched { .. }) => {}
            None => panic!("no result within 30 s"),
        }
    };
    assert_eq!(r.score, Some(0.6), "{r:?}");
    assert_eq!(JUDGED.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(BLOCKED_ON_A_WORKER.load(std::sync::atomic::Ordering::SeqCst), 0, "the monitor ran on a runtime worker");
}

#[test]
fn a_pod_with_a_trials_labels_but_not_its_jobs_cannot_report_for_it() {
    // The Job's own pod logs 0.5 then 0.6, slowly; a pod someone else makes with the same
    // labels (no owner reference to the Job) logs 0.99 at once.
    let server = FakeApiServer::start(Kubelet::scripted(|_job, pod| {
        if pod.metadata.owner_references.is_none() {
            return PodScript { schedule: Schedule::After(Duration::from_millis(5)), logs: logs(&["accuracy=0.99"]), exit: Exit::Hang };
        }
        let slow = vec![(Duration::from_millis(600), "accuracy=0.5".to_string()), (Duration::from_millis(600), "accuracy=0.6".to_string())];
        PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: slow, exit: Exit::Succeeded { message: None } }
    }))
    .expect("start");
    let intruder = {
        let url = server.url();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let client = kube::Client::try_from(kube::Config::new(url.parse().expect("url"))).expect("client");
                let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::namespaced(client, NS);
                // Wait for the trial's pod, then copy its labels onto a pod of our own.
                for _ in 0..200 {
                    let list = pods.list(&Default::default()).await.expect("list");
                    if let Some(real) = list.items.into_iter().next() {
                        let mut fake = k8s_openapi::api::core::v1::Pod::default();
                        fake.metadata.name = Some("intruder".into());
                        fake.metadata.labels = real.metadata.labels.clone();
                        fake.spec = real.spec.clone();
                        pods.create(&Default::default(), &fake).await.expect("create the intruder");
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                panic!("the trial's pod never appeared");
            });
        })
    };
    let r = run_one(&server, KubernetesOptions::default(), container(), None, |_| Control::Continue);
    intruder.join().expect("intruder");
    assert_eq!(r.status, TrialStatus::Ok, "{r:?}");
    assert_eq!(r.score, Some(0.6), "{r:?}");
    assert!(r.curve.iter().all(|(_, v)| *v != 0.99), "{r:?}");
}

#[test]
fn deletes_that_fail_during_an_outage_are_not_counted_as_done() {
    let server = scripted(|| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: logs(&["accuracy=0.5"]), exit: Exit::Hang });
    let config = kube::Config::new(server.url().parse().expect("url"));
    let mut ex = KubernetesExecutor::with_kube_client(config, KubernetesOptions { namespace: Some(NS.into()), ..KubernetesOptions::default() }, "exp1", JobTemplate::Builtin).expect("executor");
    let job = trial_job(ex.options(), NS, "exp1", 1, None, container());
    ex.launch_job(Launch { id: 1, learner: "custom".into(), config: Default::default(), objective: "accuracy".into(), job, adopt_only: false }, Arc::new(Continue));
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.jobs(NS).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.crash();
    // The outage takes effect as the server's tasks see it: wait until it refuses
    // connections, and its open ones (the client's pool) are closed.
    let addr = server.url().trim_start_matches("http://").to_string();
    let down = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(&addr).is_ok() && Instant::now() < down {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let notes = Executor::shutdown(&mut ex, false);
    assert!(notes.iter().any(|n| n.contains("could not delete 1 of 1 trial Job(s)") && n.contains("kubectl delete jobs")), "{notes:?}");
    assert!(!notes.iter().any(|n| n.starts_with("deleted")), "{notes:?}");
    server.restart().expect("restart");
    assert_eq!(server.jobs(NS).len(), 1, "the Job is still there, as the note says");
}

struct Continue;
impl TrialMonitor for Continue {
    fn report(&self, _t: u64, _l: &str, _s: usize, _v: f64) -> Control {
        Control::Continue
    }
}

#[test]
fn a_replaced_pod_starts_its_trials_curve_over() {
    // The first pod logs two good scores and dies; the Job (backoff limit 1) starts a
    // second, whose own three scores are the trial's curve.
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let server = FakeApiServer::start(Kubelet::scripted(move |_job, _pod| {
        let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let slow = |lines: &[&str]| lines.iter().map(|l| (Duration::from_millis(80), l.to_string())).collect();
        if attempt == 0 {
            PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: slow(&["accuracy=0.9", "accuracy=0.8"]), exit: Exit::Failed { code: 1, reason: "Error".into(), message: None } }
        } else {
            PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: slow(&["accuracy=0.1", "accuracy=0.2", "accuracy=0.3"]), exit: Exit::Succeeded { message: None } }
        }
    }))
    .expect("start");
    let r = run_one(&server, KubernetesOptions { backoff_limit: 1, ..KubernetesOptions::default() }, container(), None, |_| Control::Continue);
    assert_eq!(r.status, TrialStatus::Ok, "{r:?}");
    assert_eq!(r.curve, vec![(1, 0.1), (2, 0.2), (3, 0.3)], "{r:?}");
    assert_eq!(r.score, Some(0.3));
}

#[test]
fn an_api_server_outage_ends_the_run_with_exit_7_and_a_journal_that_resumes() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let slow = slow_trial_command(dir.path(), 3.0);
    let data = example("penguins.csv");
    let args = [
        "run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "4", "--concurrency", "2", "--time-budget", "0", "--learners", "logistic",
        "--api-outage-limit", "2", "--out", out.to_str().expect("utf-8"), "-q",
    ];
    let child = automl(&server, dir.path(), &slow, &args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&journal_events(&out), "dispatched") < 2 {
        assert!(Instant::now() < deadline, "no dispatch");
        std::thread::sleep(Duration::from_millis(20));
    }
    server.crash();
    let down = Instant::now();
    let o = child.wait_with_output().expect("wait");
    let took = down.elapsed();
    assert_eq!(o.status.code(), Some(7), "{}", text(&o));
    assert!(text(&o).contains("has not answered for 2 s") && text(&o).contains("automl resume"), "{}", text(&o));
    println!("outage noticed and the run ended {:.1} s after the API server went down (limit 2 s)", took.as_secs_f64());
    assert!(took < Duration::from_secs(30), "{took:?}");
    // Not journaled as ended: once the cluster is back, resume finishes the run.
    assert_eq!(count(&journal_events(&out), "ended"), 0);
    server.restart().expect("restart");
    let o = automl(&server, dir.path(), &slow, &["resume", out.to_str().expect("utf-8"), "--accept-settings", "--json", "-q"]).output().expect("resume");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["leaderboard"].as_array().map(Vec::len), Some(4), "{summary}");
}

#[test]
fn a_log_stream_cut_while_the_pod_runs_is_followed_again_without_duplicates() {
    let lines: Vec<(Duration, String)> = (1..=6).map(|i| (Duration::from_millis(150), format!("accuracy=0.{i}"))).collect();
    let server = FakeApiServer::start(Kubelet::scripted(move |_job, _pod| PodScript { schedule: Schedule::After(Duration::from_millis(10)), logs: lines.clone(), exit: Exit::Succeeded { message: None } })).expect("start");
    let r = std::thread::scope(|scope| {
        let cut = scope.spawn(|| {
            // Once the pod has logged a line or two, the API server restarts: every open
            // stream (the log follow included) ends, then it answers again.
            std::thread::sleep(Duration::from_millis(400));
            server.crash();
            std::thread::sleep(Duration::from_millis(300));
            server.restart().expect("restart");
        });
        let r = run_one(&server, KubernetesOptions::default(), container(), None, |_| Control::Continue);
        cut.join().expect("outage");
        r
    });
    assert_eq!(r.status, TrialStatus::Ok, "{r:?}");
    let expected: Vec<(usize, f64)> = (1..=6).map(|i| (i, f64::from(i as u32) / 10.0)).collect();
    assert_eq!(r.curve, expected, "{r:?}");
    assert_eq!(r.score, Some(0.6));
}

/// A custom spec whose trials are gangs of `pods` pods in the Kueue queue `q`.
fn gang_spec(dir: &Path, pods: u32, max_trials: usize) -> PathBuf {
    gang_spec_with(dir, pods, max_trials, "{ scheduler: kueue, queue: q }")
}

/// A custom spec whose trials are gangs of `pods` pods scheduled by `gang`.
fn gang_spec_with(dir: &Path, pods: u32, max_trials: usize, gang: &str) -> PathBuf {
    let spec = dir.join("gang.yaml");
    std::fs::write(&spec, format!("name: ddp\nobjective: {{ metric: accuracy, direction: maximize }}\nparameters:\n  lr: {{ type: float, min: 0.001, max: 0.1, log: true }}\ntrial:\n  image: example.com/ddp:1\n  args: ['--lr=${{lr}}']\n  pods: {pods}\n  gang: {gang}\nmax_trials: {max_trials}\nconcurrency: 1\nearly_stopping: false\n")).expect("spec");
    spec
}

#[test]
fn a_gang_trial_runs_all_its_pods_at_once_and_reports_through_index_0() {
    // Index 0 reports 0.9; the other workers print other values, which must not count.
    let server = FakeApiServer::start(Kubelet::scripted(|_job, pod| {
        let index = pod.metadata.annotations.as_ref().and_then(|a| a.get("batch.kubernetes.io/job-completion-index")).cloned().unwrap_or_default();
        let value = if index == "0" { "0.9" } else { "0.1" };
        PodScript { schedule: Schedule::After(Duration::from_millis(5)), logs: vec![(Duration::from_millis(5), format!("accuracy={value}"))], exit: Exit::Succeeded { message: None } }
    }))
    .expect("start");
    server.add_queue("q", 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let spec = gang_spec(dir.path(), 3, 2);
    let o = automl(&server, dir.path(), Path::new("unused"), &["run", "--spec", spec.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8"), "--json"]).output().expect("run");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let board = summary["leaderboard"].as_array().expect("leaderboard");
    assert!(board.iter().all(|t| t["status"] == "ok" && t["score"] == 0.9), "{summary}");
    let jobs = server.jobs(NS);
    assert_eq!(jobs.len(), 2);
    for job in &jobs {
        let spec = job.spec.as_ref().expect("spec");
        assert_eq!((spec.completion_mode.as_deref(), spec.completions, spec.parallelism, spec.backoff_limit), (Some("Indexed"), Some(3), Some(3), Some(0)));
        assert_eq!(job.metadata.labels.as_ref().and_then(|l| l.get("kueue.x-k8s.io/queue-name")).map(String::as_str), Some("q"));
    }
    let mut indices: Vec<String> = server.pods(NS).iter().filter_map(|p| p.metadata.annotations.as_ref()?.get("batch.kubernetes.io/job-completion-index").cloned()).collect();
    indices.sort();
    assert_eq!(indices, ["0", "0", "1", "1", "2", "2"]);
}

#[test]
fn a_gang_that_does_not_fit_its_queue_never_runs_partly_and_fails_with_the_reason() {
    let server = FakeApiServer::start(Kubelet::always(PodScript::succeed(&["accuracy=0.5"], None))).expect("start");
    // Room for 2 pods: a gang of 3 is never admitted.
    server.add_queue("q", 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let spec = gang_spec(dir.path(), 3, 1);
    let started = Instant::now();
    let o = automl(&server, dir.path(), Path::new("unused"), &["run", "--spec", spec.to_str().expect("utf-8"), "--out", out.to_str().expect("utf-8"), "--unschedulable-timeout", "1", "--json"]).output().expect("run");
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let trial = &summary["leaderboard"][0];
    assert_eq!(trial["status"], "failed", "{}", text(&o));
    let message = trial["message"].as_str().unwrap_or_default();
    assert!(message.contains("not admitted") && message.contains("gang of 3 pods") && message.contains("'q'"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // No pod of it ever existed, and its Job is gone.
    assert_eq!(server.jobs_created(), 1);
    assert!(server.requests().iter().all(|r| !(r.method == "POST" && r.path.ends_with("/pods"))));
    assert!(server.pods(NS).is_empty() && server.jobs(NS).is_empty(), "{:?}", server.jobs(NS));
}

/// Leaderboard scores by trial id from a `--json` summary.
fn scores_by_trial(summary: &serde_json::Value) -> Vec<(u64, String, Option<f64>)> {
    let mut out: Vec<_> = summary["leaderboard"].as_array().into_iter().flatten().map(|t| (t["trial"].as_u64().unwrap_or(0), t["status"].as_str().unwrap_or("").to_string(), t["score"].as_f64())).collect();
    out.sort_by_key(|t| t.0);
    out
}

#[cfg(feature = "plugins")]
#[test]
fn preprocessor_and_metric_plugins_run_in_trial_pods_and_score_as_they_do_locally() {
    let component = |name: &str| Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/dist").join(format!("{name}.wasm"));
    let (pre, metric) = (component("log_transform"), component("cost_weighted"));
    let data = example("titanic.csv");
    let dir = tempfile::tempdir().expect("tempdir");
    let common = ["-t", "survived", "--plugin", pre.to_str().expect("utf-8"), "--plugin", metric.to_str().expect("utf-8"), "--metric", "cost_weighted", "--learners", "logistic,gbdt", "--max-trials", "3", "--concurrency", "1", "--time-budget", "0", "--no-early-stopping", "--json", "-q"];
    let local = Command::new(bin()).arg("run").arg(&data).args(common).args(["--out"]).arg(dir.path().join("local")).output().expect("local run");
    assert!(local.status.success(), "{}", text(&local));
    let server = process_server();
    let remote_out = dir.path().join("remote");
    let mut args = vec!["run", data.to_str().expect("utf-8")];
    args.extend(common);
    args.extend(["--executor", "kubernetes", "--out", remote_out.to_str().expect("utf-8")]);
    let remote = automl(&server, dir.path(), Path::new(bin()), &args).output().expect("remote run");
    assert!(remote.status.success(), "{}", text(&remote));
    let parse = |o: &Output| serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json");
    let (l, r) = (scores_by_trial(&parse(&local)), scores_by_trial(&parse(&remote)));
    assert_eq!(l.len(), 3);
    assert!(l.iter().all(|t| t.1 == "ok"), "{l:?}");
    for (a, b) in l.iter().zip(&r) {
        assert_eq!((a.0, &a.1), (b.0, &b.1));
        let (x, y) = (a.2.expect("local score"), b.2.expect("pod score"));
        assert!((x - y).abs() < 1e-9, "trial {}: local {x}, in a pod {y}", a.0);
    }
    // The preprocessor matters to these scores, so the pods did apply it.
    let bare: Vec<&str> = common.iter().copied().filter(|a| *a != pre.to_str().unwrap_or_default()).collect();
    let bare: Vec<&str> = bare.iter().enumerate().filter(|(i, a)| !(**a == "--plugin" && bare.get(i + 1).is_some_and(|n| n.starts_with('-')))).map(|(_, a)| *a).collect();
    let without = Command::new(bin()).arg("run").arg(&data).args(&bare).args(["--out"]).arg(dir.path().join("bare")).output().expect("bare run");
    assert!(without.status.success(), "{}", text(&without));
    assert_ne!(scores_by_trial(&parse(&without)), l, "the preprocessor changes no score: the test would not see it missing");
    // The components travelled in one ConfigMap that every trial mounted, gone at the end.
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|q| q.method == "POST" && q.path.ends_with("/configmaps")).count(), 1);
    assert!(requests.iter().any(|q| q.method == "DELETE" && q.path.contains("/configmaps/")));
    for job in server.jobs(NS) {
        let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec");
        assert!(pod.volumes.iter().flatten().any(|v| v.config_map.is_some()), "the plugin volume");
    }
}

#[test]
fn a_coscheduled_gang_gets_a_pod_group_and_fails_whole_when_it_does_not_fit() {
    let server = FakeApiServer::start(Kubelet::always(PodScript::succeed(&["accuracy=0.5"], None))).expect("start");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = gang_spec_with(dir.path(), 3, 1, "{ scheduler: coscheduling }");
    let run = |out: &str| automl(&server, dir.path(), Path::new("unused"), &["run", "--spec", spec.to_str().expect("utf-8"), "--out", dir.path().join(out).to_str().expect("utf-8"), "--unschedulable-timeout", "1", "--keep-jobs", "--json"]).output().expect("run");
    // Room for 3: the gang runs, with its PodGroup (minMember 3, owned by the Job).
    server.set_gang_capacity(3);
    let o = run("fits");
    assert!(o.status.success(), "{}", text(&o));
    let groups = server.pod_groups(NS);
    assert_eq!(groups.len(), 1);
    let job = &server.jobs(NS)[0];
    assert_eq!(groups[0].fields["spec"]["minMember"], 3);
    assert_eq!(groups[0].metadata.owner_references.as_ref().map(|o| o[0].uid.clone()), job.metadata.uid.clone());
    let pod = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod spec");
    assert_eq!(pod.scheduler_name.as_deref(), Some("scheduler-plugins-scheduler"));
    // Room for 2: no pod of the gang is ever scheduled; the trial fails with the reason
    // after the timeout, and its Job, pods and PodGroup are deleted.
    server.set_gang_capacity(2);
    let before = server.jobs_created();
    let o = run("too-big");
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let message = summary["leaderboard"][0]["message"].as_str().unwrap_or_default().to_string();
    assert_eq!(summary["leaderboard"][0]["status"], "failed", "{}", text(&o));
    assert!(message.contains("unschedulable") && message.contains("0 of the gang's 3 pods were placed") && message.contains("needs 3 pods at once"), "{message}");
    assert_eq!(server.jobs_created(), before + 1);
    let new_jobs: Vec<_> = server.jobs(NS).into_iter().filter(|j| j.metadata.uid != job.metadata.uid).collect();
    assert!(new_jobs.is_empty(), "{new_jobs:?}");
    assert!(server.pods(NS).iter().all(|p| p.metadata.labels.as_ref().and_then(|l| l.get("batch.kubernetes.io/job-name")) == job.metadata.name.as_ref()));
    assert_eq!(server.pod_groups(NS).len(), 1, "only the first run's PodGroup is left");
}

/// The `AUTOML_TRIAL` spec of each of the server's Jobs, by trial id.
fn job_specs(server: &FakeApiServer) -> Vec<serde_json::Value> {
    let mut specs: Vec<serde_json::Value> = server
        .jobs(NS)
        .iter()
        .filter_map(|job| {
            let pod = job.spec.as_ref()?.template.spec.as_ref()?;
            let env = pod.containers[0].env.iter().flatten().find(|e| e.name == "AUTOML_TRIAL")?;
            serde_json::from_str(env.value.as_deref()?).ok()
        })
        .collect();
    specs.sort_by_key(|s| s["id"].as_u64());
    specs
}

#[test]
fn trial_pods_read_the_prepared_copy_instead_of_the_csv_and_score_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("penguins.csv");
    std::fs::copy(example("penguins.csv"), &data).expect("copy the data");
    let prepared = dir.path().join("prepared");
    // Trials move the CSV away before they start: they can only have read the prepared copy.
    let away = dir.path().join("penguins.away");
    let command = dir.path().join("no-csv-automl.sh");
    std::fs::write(&command, format!("#!/bin/sh\nmv {} {} 2>/dev/null\nexec {} \"$@\"\n", data.display(), away.display(), bin())).expect("write script");
    std::fs::set_permissions(&command, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let common = ["-t", "species", "--executor", "kubernetes", "--learners", "logistic,gbdt", "--max-trials", "3", "--concurrency", "1", "--time-budget", "0", "--no-early-stopping", "--json", "-q"];
    let run = |command: &Path, extra: &[&str], out: &str| {
        let server = process_server();
        let mut args = vec!["run", data.to_str().expect("utf-8")];
        args.extend(common);
        args.extend(extra);
        let out = dir.path().join(out);
        args.extend(["--out", out.to_str().expect("utf-8")]);
        let o = automl(&server, dir.path(), command, &args).output().expect("run automl");
        assert!(o.status.success(), "{}", text(&o));
        (serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json"), job_specs(&server))
    };
    let (with, specs) = run(&command, &["--prepared-dir", prepared.to_str().expect("utf-8")], "with");
    assert!(away.exists() && !data.exists(), "the first trial moved the CSV away");
    std::fs::rename(&away, &data).expect("put the CSV back");
    let (without, plain_specs) = run(Path::new(bin()), &[], "without");
    let (a, b) = (scores_by_trial(&with), scores_by_trial(&without));
    assert_eq!(a.len(), 3);
    assert!(a.iter().all(|t| t.1 == "ok"), "every trial ran on the prepared copy alone: {a:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.0, &x.1), (y.0, &y.1));
        assert!((x.2.expect("score") - y.2.expect("score")).abs() < 1e-12, "trial {}: {x:?} from the prepared copy, {y:?} from the CSV", x.0);
    }
    // One file, named in every spec with its checksum; none without --prepared-dir.
    let files: Vec<PathBuf> = std::fs::read_dir(&prepared).expect("prepared folder").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "automl-data"));
    assert_eq!(specs.len(), 3);
    for s in &specs {
        assert_eq!(s["data"]["prepared"]["path"].as_str(), files[0].to_str(), "{s}");
        assert_eq!(s["data"]["prepared"]["sha256"].as_str().map(str::len), Some(64));
    }
    assert!(plain_specs.iter().all(|s| s["data"].get("prepared").is_none()));
    // A pod given a damaged copy says so and reads the CSV, to the same score.
    let mut bytes = std::fs::read(&files[0]).expect("read");
    let n = bytes.len();
    bytes[n - 9] ^= 0x40;
    std::fs::write(&files[0], &bytes).expect("damage");
    let spec_file = dir.path().join("trial.json");
    std::fs::write(&spec_file, specs[0].to_string()).expect("spec");
    let o = Command::new(bin()).args(["trial", "--spec"]).arg(&spec_file).env("AUTOML_TERMINATION_MESSAGE_PATH", dir.path().join("termination")).output().expect("automl trial");
    assert!(o.status.success(), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("cannot be used: damaged") && stderr.contains("reading the CSV instead"), "{stderr}");
    let last = String::from_utf8_lossy(&o.stdout).lines().rev().find_map(|l| l.strip_prefix("final_").and_then(|v| v.split_once('=')?.1.parse::<f64>().ok()));
    assert_eq!(a[0].0, 1);
    let first = a[0].2.expect("score");
    assert!(last.is_some_and(|s| (s - first).abs() < 1e-12), "{last:?} against {first}: {}", text(&o));
}

#[test]
fn a_prepared_claim_is_mounted_read_only_in_trial_pods_that_read_from_it() {
    use automl::kubernetes::manifest::builtin_job;
    use automl::options::PreparedStore;
    use automl::trial::{DataRef, PreparedFile, TrialSpec};
    let cfg = KubernetesOptions { prepared: PreparedStore::from_options(Some(Path::new("/cache")), Some("automl-prepared")).expect("store"), ..Default::default() };
    let data = DataRef {
        path: "/data/d.csv".into(),
        target: "y".into(),
        task: automl::core::task::Task::Binary,
        na_values: Vec::new(),
        delimiter: None,
        sha256: Some("ab".repeat(32)),
        plugins: Vec::new(),
        sandbox: None,
        prepared: Some(PreparedFile { path: "/prepared/x.automl-data".into(), sha256: "cd".repeat(32) }),
    };
    let spec: TrialSpec = serde_json::from_value(serde_json::json!({ "id": 1, "learner": "gbdt", "config": {}, "metric": "log_loss", "validation": { "k_fold": { "k": 3 } }, "seed": 1 })).expect("spec");
    let with = TrialSpec { data: Some(data.clone()), ..spec.clone() };
    let volumes = |spec: &TrialSpec| {
        let job = builtin_job(&cfg, NS, "e", spec).expect("job");
        let pod = job.spec.and_then(|s| s.template.spec).expect("pod");
        let claim = pod.volumes.iter().flatten().find(|v| v.name == "prepared").and_then(|v| v.persistent_volume_claim.clone());
        let mount = pod.containers[0].volume_mounts.iter().flatten().find(|m| m.name == "prepared").cloned();
        (claim, mount)
    };
    let (claim, mount) = volumes(&with);
    let (claim, mount) = (claim.expect("the claim"), mount.expect("its mount"));
    assert_eq!((claim.claim_name.as_str(), claim.read_only), ("automl-prepared", Some(true)));
    assert_eq!((mount.mount_path.as_str(), mount.read_only), ("/prepared", Some(true)));
    // A trial that reads the CSV does not mount it.
    let without = TrialSpec { data: Some(DataRef { prepared: None, ..data }), ..spec };
    assert_eq!(volumes(&without), (None, None));
}

#[test]
fn a_prepared_folder_that_cannot_be_written_is_a_note_and_the_pods_parse_the_csv() {
    let server = process_server();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = example("penguins.csv");
    let out = dir.path().join("out");
    // Nothing can be created under /proc, not even by root.
    let args = ["run", data.to_str().expect("utf-8"), "-t", "species", "--executor", "kubernetes", "--max-trials", "2", "--time-budget", "0", "--prepared-dir", "/proc/automl-prepared", "--out", out.to_str().expect("utf-8"), "--json", "-q"];
    let o = automl(&server, dir.path(), Path::new(bin()), &args).output().expect("run automl");
    assert!(o.status.success(), "{}", text(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let notes = summary["notes"].as_array().cloned().unwrap_or_default();
    assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("prepared copy of the data was not written") && n.contains("/proc/automl-prepared"))), "{summary}");
    assert!(scores_by_trial(&summary).iter().all(|t| t.1 == "ok"), "{summary}");
    assert!(job_specs(&server).iter().all(|s| s["data"].get("prepared").is_none()));
}
