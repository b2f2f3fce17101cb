//! Hostile metric plugin `sleepy-metric`, for the host's deadline tests: it sleeps for an
//! hour inside a WASI call (`std::thread::sleep`, which is `monotonic-clock.subscribe-duration`
//! then `pollable.block`), where an epoch deadline cannot interrupt it. Where it sleeps is
//! chosen by the environment variable `SLEEP_IN` (granted with `--plugin-env`):
//! `describe` (so loading it hangs) or `score`; unset, it scores 0.5 at once.
//!
//! Build: `../../build.sh` (writes `dist/sleepy_metric.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// The plugin.
pub struct SleepyMetric;

fn sleep_if(place: &str) {
    if std::env::var("SLEEP_IN").is_ok_and(|v| v == place) {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

impl Metric for SleepyMetric {
    fn info() -> PluginInfo {
        sleep_if("describe");
        PluginInfo::new("sleepy-metric", env!("CARGO_PKG_VERSION"), "Test plugin: sleeps in a host call")
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        sleep_if("score");
        Ok(0.5)
    }
}

export_metric!(SleepyMetric);
