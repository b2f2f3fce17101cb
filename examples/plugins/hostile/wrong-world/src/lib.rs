//! Hostile plugin `wrong-world`, for the host's load tests: a component that exports
//! `automl:plugins/metric@0.1.0` by name but with a different `score` signature (see
//! `wit/world.wit`). The host must refuse it when loading, before any call.
//!
//! Build: `../../build.sh` (writes `dist/wrong_world.wasm`).

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "wrong-world" });
}

use bindings::automl::plugins::types::{PluginInfo, PluginKind};
use bindings::exports::automl::plugins::metric::{Direction, Guest, Task};

/// The plugin.
pub struct WrongWorld;

impl Guest for WrongWorld {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "wrong-world".into(),
            kind: PluginKind::Metric,
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Test plugin: metric interface with the wrong score signature".into(),
        }
    }

    fn get_direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(y_true: Vec<f64>, y_pred: Vec<f64>) -> Result<f64, String> {
        let hits = y_true.iter().zip(&y_pred).filter(|(t, p)| t == p).count();
        Ok(hits as f64 / y_true.len().max(1) as f64)
    }
}

bindings::export!(WrongWorld with_types_in bindings);
