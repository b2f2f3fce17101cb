//! `automl operator run` against the in-process API server (real HTTP on loopback): the
//! time from an applied Experiment to its first Job, from a finished trial to the next
//! Job, the operator's memory over a long experiment, and how long a standby operator
//! takes to take over when the leader is killed (SIGKILL) halfway.
//!
//!     cargo build --release -p automl --bin automl --example operator_bench
//!     target/release/examples/operator_bench [TRIALS]      # default 1000
//!
//! Trial pods are scripted: they succeed at once with a trial report, so the numbers are
//! the operator's (search, journal, status writes) and the HTTP stack's, not a cluster's.
//! Trials run one at a time, with a 2 s Lease. Prints a markdown table.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automl::kubernetes::crd::Experiment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, ListParams, PostParams};
use kube_fake::{Exit, FakeApiServer, Kubelet, PodScript, Schedule};

const NS: &str = "bench";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn serve(kubeconfig: &Path) -> Res<()> {
    let kubelet = Kubelet::scripted(|job, _pod| {
        let trial = job.metadata.labels.as_ref().and_then(|l| l.get("automl.dev/trial")).cloned().unwrap_or_default();
        let report = format!(r#"{{"v":1,"trial":{trial},"status":"ok","score":0.5,"fit_time_s":0.01}}"#);
        PodScript { schedule: Schedule::After(Duration::from_millis(2)), logs: Vec::new(), exit: Exit::Succeeded { message: Some(report) } }
    });
    let server = FakeApiServer::start(kubelet)?;
    server.write_kubeconfig(kubeconfig, NS)?;
    println!("{}", server.url());
    // Serve until the parent closes our stdin.
    let _ = std::io::stdin().read_line(&mut String::new());
    Ok(())
}

fn vm_hwm_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).map_or(f64::NAN, |kb| kb / 1024.0)
}

fn operator(bin: &Path, root: &Path, identity: &str) -> Res<Child> {
    let log = std::fs::File::create(root.join(format!("operator-{identity}.log")))?;
    Ok(Command::new(bin)
        .args(["operator", "run", "--namespace", NS, "--data-root"])
        .arg(root.join("data"))
        .args(["--same-path-trials", "--lease-duration", "2", "--identity", identity])
        .env("KUBECONFIG", root.join("kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()?)
}

fn wait<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> Res<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve(Path::new(&args[2]));
    }
    let n: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let exe = std::env::current_exe()?;
    let bin: PathBuf = exe.parent().and_then(Path::parent).ok_or("no target dir")?.join("automl");
    let root = tempfile::tempdir()?;
    std::fs::create_dir(root.path().join("data"))?;
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/penguins.csv"), root.path().join("data/penguins.csv"))?;
    let mut server = Command::new(&exe).arg("serve").arg(root.path().join("kubeconfig")).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut url = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().ok_or("no stdout")?), &mut url)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let client = {
        let _inside = rt.enter();
        kube::Client::try_from(kube::Config::new(url.trim().parse()?))?
    };
    let experiments: Api<Experiment> = Api::namespaced(client.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(client, NS);
    let job_count = || rt.block_on(jobs.list_metadata(&ListParams::default())).map_or(0, |l| l.items.len());
    let mut a = operator(&bin, root.path(), "a")?;
    let log = |id: &str| std::fs::read_to_string(root.path().join(format!("operator-{id}.log"))).unwrap_or_default();
    wait("a to lead", 30, || log("a").contains("leads").then_some(()))?;
    let mut b = operator(&bin, root.path(), "b")?;
    wait("b to wait", 30, || log("b").contains("waiting").then_some(()))?;

    let exp: Experiment = serde_json::from_value(serde_json::json!({
        "apiVersion": "automl.dev/v1alpha1", "kind": "Experiment", "metadata": { "name": "bench" },
        "spec": { "data": { "pvc": { "claim": "automl-data", "path": "penguins.csv" } }, "target": "species",
                  "budget": { "maxTrials": n }, "concurrency": 1, "learners": ["gbdt"] },
    }))?;
    let applied = Instant::now();
    rt.block_on(experiments.create(&PostParams::default(), &exp))?;
    wait("the first Job", 60, || (job_count() > 0).then_some(()))?;
    let first_job = applied.elapsed();
    let finished = |e: &Experiment| e.status.as_ref().map_or(0, |s| s.trials.succeeded + s.trials.failed + s.trials.early_stopped + s.trials.timed_out);
    let half = wait("half the trials", 3600, || rt.block_on(experiments.get("bench")).ok().filter(|e| finished(e) >= n / 2))?;
    let a_elapsed = applied.elapsed() - first_job;
    let a_done = finished(&half);
    let a_mb = vm_hwm_mb(a.id());
    let jobs_at_kill = job_count();
    a.kill()?;
    let killed = Instant::now();
    a.wait()?;
    wait("b to resume", 60, || log("b").contains("resuming").then_some(()))?;
    let resumed = killed.elapsed();
    wait("b's first Job", 60, || (job_count() > jobs_at_kill).then_some(()))?;
    let b_first_job = killed.elapsed();
    let done = wait("Succeeded", 3600, || rt.block_on(experiments.get("bench")).ok().filter(|e| e.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")))?;
    let b_mb = vm_hwm_mb(b.id());
    let total = finished(&done);
    let jobs_created = job_count();
    b.kill()?;
    drop(server.stdin.take());
    server.wait()?;

    println!("| figure | value |");
    println!("|---|---|");
    println!("| Experiment applied → first Job created | {:.0} ms |", first_job.as_secs_f64() * 1e3);
    println!("| trial finished → next Job created (mean over {a_done} trials, one at a time, incl. ~2 ms scripted pod) | {:.1} ms |", a_elapsed.as_secs_f64() * 1e3 / a_done.max(1) as f64);
    println!("| leader killed → standby resuming from the journal (2 s Lease) | {:.2} s |", resumed.as_secs_f64());
    println!("| leader killed → standby's first Job | {:.2} s |", b_first_job.as_secs_f64());
    println!("| operator peak memory, {a_done} trials run (leader) | {a_mb:.0} MB |");
    println!("| operator peak memory, {a_done} trials resumed from the journal + {} run, refit (standby) | {b_mb:.0} MB |", total.saturating_sub(a_done));
    println!("| trials in the final status / Jobs created | {total} / {jobs_created} |");
    Ok(())
}
