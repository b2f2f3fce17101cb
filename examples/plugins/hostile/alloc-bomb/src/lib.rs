//! Hostile metric plugin `alloc-bomb`, for the host's memory-limit tests: `score`
//! allocates 64 MiB chunks, writes to every page and keeps them, without bound. The host's
//! memory limit must refuse the growth (the guest then traps) and fail the trial.
//!
//! Build: `../../build.sh` (writes `dist/alloc_bomb.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// Bytes per allocation.
pub const CHUNK: usize = 64 << 20;

/// The plugin.
pub struct AllocBomb;

impl Metric for AllocBomb {
    fn info() -> PluginInfo {
        PluginInfo::new("alloc-bomb", env!("CARGO_PKG_VERSION"), "Test plugin: score allocates without bound")
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; CHUNK];
            // Touch every 4 KiB so the memory is really used, not just reserved.
            for (i, byte) in chunk.iter_mut().enumerate().step_by(4096) {
                *byte = i as u8 | 1;
            }
            kept.push(std::hint::black_box(chunk));
            std::hint::black_box(&kept);
        }
    }
}

export_metric!(AllocBomb);
