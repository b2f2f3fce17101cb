//! Hostile metric plugin `escape-text`, for the host's tests: its version, description,
//! error and stderr are laced with terminal escape sequences (clear screen, set the window
//! title, a hyperlink) and run to megabytes. The host must bound that text and strip the
//! sequences before it reaches a terminal, the journal or `leaderboard.csv`.
//!
//! Build: `../../build.sh` (writes `dist/escape_text.wasm`).

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// The plugin.
pub struct EscapeText;

/// Clears the screen, sets the window title, opens a hyperlink and turns text red.
const NASTY: &str = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]8;;https://example.invalid\x1b\\link\x1b]8;;\x1b\\\x1b[31m\r\n";

impl Metric for EscapeText {
    fn info() -> PluginInfo {
        PluginInfo::new("escape-text", format!("1.0{NASTY}"), format!("{NASTY}{}", "d".repeat(1 << 20)))
    }

    fn direction() -> Direction {
        Direction::Maximize
    }

    fn supports(_task: Task) -> bool {
        true
    }

    fn score(_predictions: &Predictions) -> Result<f64, String> {
        eprintln!("{NASTY}{}", "e".repeat(1 << 20));
        Err(format!("{NASTY}{}", "x".repeat(1 << 20)))
    }
}

export_metric!(EscapeText);
