//! Hostile metric plugin `endless-loop`, for the host's time-limit tests: `score` never
//! returns. The host must interrupt it (epoch deadline or fuel) and fail the trial.
//!
//! Build: `../../build.sh` (writes `dist/endless_loop.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// The plugin.
pub struct EndlessLoop;

impl Metric for EndlessLoop {
    fn info() -> PluginInfo {
        PluginInfo::new("endless-loop", env!("CARGO_PKG_VERSION"), "Test plugin: score never returns")
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        let mut counter: u64 = 0;
        loop {
            // `black_box` keeps the optimiser from proving the loop pointless.
            counter = std::hint::black_box(counter.wrapping_add(1));
        }
    }
}

export_metric!(EndlessLoop);
