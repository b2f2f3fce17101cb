//! The Kubernetes executor against the in-process API server (real HTTP on loopback):
//! Jobs created per second, time from a finished trial to the next Job created, and the
//! controller's memory with 1,000 trials in the journal.
//!
//!     cargo run --release -p automl --example kube_bench [-- 1000]
//!
//! Pods succeed at once with a trial report, so the numbers are the controller's and the
//! HTTP stack's, not a cluster's. Prints a markdown table.
use std::sync::Arc;
use std::time::{Duration, Instant};

use automl::executor::{Executor, ExecutorEvent};
use automl::kubernetes::executor::{KubernetesExecutor, Launch};
use automl::kubernetes::manifest::trial_job;
use automl::kubernetes::JobTemplate;
use automl::options::KubernetesOptions;
use automl::spec::TrialContainer;
use automl::trial::NoMonitor;
use kube_fake::{FakeApiServer, Kubelet, PodScript};

fn vm_hwm_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let report = r#"{"v":1,"trial":0,"status":"ok","score":0.5,"fit_time_s":0.01}"#;
    // The API server runs in a child process, so the memory measured is the controller's.
    if std::env::args().nth(1).as_deref() == Some("serve") {
        let server = FakeApiServer::start(Kubelet::always(PodScript::succeed(&["accuracy=0.5"], Some(report))))?;
        println!("{}", server.url());
        let mut line = String::new();
        // Serve until the parent closes our stdin.
        let _ = std::io::stdin().read_line(&mut line);
        return Ok(());
    }
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut child = std::process::Command::new(std::env::current_exe()?).arg("serve").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn()?;
    let mut url = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?), &mut url)?;
    let server_url = url.trim().to_string();
    let cfg = KubernetesOptions { namespace: Some("bench".into()), ..KubernetesOptions::default() };
    let mut ex = KubernetesExecutor::with_kube_client(kube::Config::new(server_url.parse()?), cfg, "bench", JobTemplate::Builtin)?;
    let monitor: Arc<dyn automl::trial::TrialMonitor> = Arc::new(NoMonitor);
    let container = || TrialContainer { image: "example.com/trial:1".into(), command: vec!["trial".into()], args: vec![], env: vec![] };
    let launch = |ex: &KubernetesExecutor, id: u64| {
        let job = trial_job(ex.options(), "bench", "bench", id, Some(60.0), container());
        ex.launch_job(Launch { id, learner: "bench".into(), config: Default::default(), objective: "accuracy".into(), job, adopt_only: false }, Arc::clone(&monitor));
    };

    // 2. From a finished trial to the next Job created, one trial at a time.
    let mut gaps = Vec::new();
    let mut id = 1_000_000;
    launch(&ex, id);
    let mut finished_at: Option<Instant> = None;
    while gaps.len() < 100 {
        match ex.next_event(Duration::from_secs(30)).ok_or("no event in 30 s")? {
            ExecutorEvent::Finished(_) => {
                id += 1;
                finished_at = Some(Instant::now());
                launch(&ex, id);
            }
            ExecutorEvent::Dispatched { .. } => {
                if let Some(t) = finished_at.take() {
                    gaps.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
        }
    }
    gaps.sort_by(f64::total_cmp);

    // 3. A journal of n finished trials, read back as `automl resume` does.
    let dir = std::env::temp_dir().join(format!("kube-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut journal = automl::journal::Journal::create(&dir)?;
    journal.write(&automl::journal::Entry::Start { version: automl::journal::JOURNAL_VERSION, experiment: "bench".into(), config: serde_json::json!({}) })?;
    for t in 1..=n {
        let suggestion = automl::search::Suggestion { learner: "gbdt".into(), config: Default::default() };
        journal.write(&automl::journal::Entry::Suggested { trial: t, suggestion })?;
        journal.write(&automl::journal::Entry::Dispatched { trial: t, job: format!("automl-bench-t{t}") })?;
        let result = automl::trial::TrialResult { id: t, learner: "gbdt".into(), config: Default::default(), status: automl::trial::TrialStatus::Ok, score: Some(0.5), score_std: Some(0.01), fold_scores: vec![0.5; 5], curve: (1..=10).map(|s| (s, 0.5)).collect(), train_curve: Vec::new(), extra_scores: Default::default(), fit_time_s: 1.0, predict_time_s: 0.0, message: None, predictions: None, fold_models: None, sharpen: 1.0 };
        journal.write(&automl::journal::Entry::Finished { result, elapsed_s: t as f64 })?;
    }
    let read_start = Instant::now();
    let state = automl::journal::read(&dir)?;
    let read_ms = read_start.elapsed().as_secs_f64() * 1000.0;
    let bytes = std::fs::metadata(dir.join(automl::journal::JOURNAL_FILE))?.len();
    std::fs::remove_dir_all(&dir)?;

    let steady_mb = vm_hwm_mb();
    // 1. Jobs created per second: n launches at once, until every create is acknowledged.
    let start = Instant::now();
    for id in 1..=n {
        launch(&ex, id);
    }
    let (mut dispatched, mut finished) = (0u64, 0u64);
    let mut create_s = 0.0;
    while finished < n {
        match ex.next_event(Duration::from_secs(120)).ok_or("no event in 120 s")? {
            ExecutorEvent::Dispatched { .. } => {
                dispatched += 1;
                if dispatched == n {
                    create_s = start.elapsed().as_secs_f64();
                }
            }
            ExecutorEvent::Finished(_) => finished += 1,
        }
    }
    let all_s = start.elapsed().as_secs_f64();

    println!("| measure | value | goal |");
    println!("|---|---|---|");
    println!("| Jobs created per second ({n} at once) | {:.0} | > 100 |", n as f64 / create_s);
    println!("| {n} trials created, run and collected | {all_s:.2} s | |");
    println!("| finished trial -> next Job created, median (p95), 100 trials | {:.1} ms ({:.1} ms) | < 50 ms |", gaps[gaps.len() / 2], gaps[gaps.len() * 95 / 100]);
    println!("| journal of {n} trials: size, read | {:.1} MB, {read_ms:.0} ms ({} trials) | |", bytes as f64 / 1e6, state.trials.len());
    println!("| controller peak memory (VmHWM; the API server is another process): 100 trials one at a time + a journal of {n} trials read | {steady_mb:.0} MB | < 100 MB |");
    println!("| controller peak memory after {n} trials launched at once | {:.0} MB | |", vm_hwm_mb());
    drop(child.stdin.take());
    let _ = child.wait();
    Ok(())
}
