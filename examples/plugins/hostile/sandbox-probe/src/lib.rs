//! Hostile metric plugin `sandbox-probe`, for the host's sandbox tests: `score` tries to
//! read `/etc/passwd`, create `/tmp/automl-probe`, read `$HOME` and connect to
//! `127.0.0.1:80`. If any of them succeeds it returns `Ok(1.0)` (a breach); if all fail
//! it returns an `Err` listing each failure, which is what a sandboxed host must produce.
//!
//! Build: `../../build.sh` (writes `dist/sandbox_probe.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// The plugin.
pub struct SandboxProbe;

/// Tries every escape; `Ok(what succeeded)` on a breach, else `Err(every failure)`.
pub fn probe() -> Result<String, String> {
    let mut failures = Vec::new();
    let mut breach = |what: &str, result: Result<(), String>| match result {
        Ok(()) => Some(what.to_string()),
        Err(e) => {
            failures.push(format!("{what}: {e}"));
            None
        }
    };
    let breaches: Vec<String> = [
        breach("read /etc/passwd", std::fs::read("/etc/passwd").map(drop).map_err(|e| e.to_string())),
        breach(
            "create /tmp/automl-probe",
            std::fs::File::create("/tmp/automl-probe").map(drop).map_err(|e| e.to_string()),
        ),
        breach("env HOME", std::env::var("HOME").map(drop).map_err(|e| e.to_string())),
        breach(
            "connect 127.0.0.1:80",
            std::net::TcpStream::connect("127.0.0.1:80").map(drop).map_err(|e| e.to_string()),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    if breaches.is_empty() {
        Err(failures.join("; "))
    } else {
        Ok(breaches.join("; "))
    }
}

impl Metric for SandboxProbe {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "sandbox-probe",
            env!("CARGO_PKG_VERSION"),
            "Test plugin: score tries files, environment and network; 1.0 means a breach",
        )
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        match probe() {
            Ok(breaches) => {
                eprintln!("sandbox-probe: breach: {breaches}");
                Ok(1.0)
            }
            Err(failures) => Err(failures),
        }
    }
}

export_metric!(SandboxProbe);
