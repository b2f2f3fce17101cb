//! Hostile stopping-rule plugin `sleepy-rule`, for the host's deadline tests: `judge-trial`
//! sleeps for an hour inside a WASI call (`std::thread::sleep`), where an epoch deadline
//! cannot interrupt it; `judge-run` answers at once.
//!
//! Build: `../../build.sh` (writes `dist/sleepy_rule.wasm`).

use automl_plugin_sdk::{export_stopping_rule, Curve, PluginInfo, StoppingRule, TrialSummary, Verdict};

/// The plugin.
pub struct SleepyRule;

impl StoppingRule for SleepyRule {
    fn info() -> PluginInfo {
        PluginInfo::new("sleepy-rule", env!("CARGO_PKG_VERSION"), "Test plugin: judge-trial sleeps in a host call")
    }

    fn judge_trial(_current: &Curve, _finished: &[Curve], _higher_is_better: bool) -> Result<Verdict, String> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok(Verdict::Proceed)
    }

    fn judge_run(_history: &[TrialSummary], _higher_is_better: bool) -> Result<Verdict, String> {
        Ok(Verdict::Proceed)
    }
}

export_stopping_rule!(SleepyRule);
