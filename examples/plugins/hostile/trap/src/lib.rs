//! Hostile metric plugin `trap`, for the host's trap tests: `score` prints
//! `about to panic` to stderr, then panics with `deliberate panic in trap plugin` (a
//! WebAssembly trap: the host must report it as a trap, distinct from an `Err`, and go on).
//!
//! Build: `../../build.sh` (writes `dist/trap.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// The plugin.
pub struct Trap;

impl Metric for Trap {
    fn info() -> PluginInfo {
        PluginInfo::new("trap", env!("CARGO_PKG_VERSION"), "Test plugin: score panics")
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        eprintln!("about to panic");
        panic!("deliberate panic in trap plugin");
    }
}

export_metric!(Trap);
