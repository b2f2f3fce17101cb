//! Stopping-rule plugin `always-stop`, for the host's tests: stops every trial at its
//! first intermediate score. A run where it stops every trial must still give a model,
//! refit from the best stopped trial's configuration.
//!
//! Build: `../../build.sh` (writes `dist/always_stop.wasm`).

use automl_plugin_sdk::{export_stopping_rule, Curve, PluginInfo, StoppingRule, TrialSummary, Verdict};

/// The plugin.
pub struct AlwaysStop;

impl StoppingRule for AlwaysStop {
    fn info() -> PluginInfo {
        PluginInfo::new("always-stop", env!("CARGO_PKG_VERSION"), "Test plugin: stops every trial at its first report")
    }

    fn judge_trial(_current: &Curve, _finished: &[Curve], _higher_is_better: bool) -> Result<Verdict, String> {
        Ok(Verdict::Stop)
    }

    fn judge_run(_history: &[TrialSummary], _higher_is_better: bool) -> Result<Verdict, String> {
        Ok(Verdict::Proceed)
    }
}

export_stopping_rule!(AlwaysStop);
