//! What the command prints: progress on stderr while a run goes (only on a terminal),
//! summaries and listings on stdout.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use automl::core::profile::Profile;
use automl::plugins::{Plugin, PluginInfo};
use automl::trial::TrialResult;
use automl::{report, ExperimentResult, Observer};
use indicatif::{ProgressBar, ProgressStyle};

/// Progress on stderr: a spinner with trials, best score and time left; hidden when stderr
/// is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    budget: Option<f64>,
    trials: usize,
}

impl Progress {
    pub fn new(enabled: bool, budget: Option<f64>) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {wide_msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar.enable_steady_tick(Duration::from_millis(150));
            bar.set_message("reading and profiling the data");
            bar
        });
        Progress { bar, budget, trials: 0 }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_profile(&mut self, p: &Profile) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{} rows, {} columns: searching", p.rows, p.columns));
        }
    }
    fn on_trial(&mut self, result: &TrialResult, best: Option<&TrialResult>, elapsed: Duration) {
        self.trials += 1;
        if let Some(bar) = &self.bar {
            let best = best.map_or("none yet".to_string(), |b| format!("{:.4} ({})", b.score.unwrap_or(f64::NAN), b.learner));
            let left = self.budget.map_or(String::new(), |b| format!(" | {:.0}s left", (b - elapsed.as_secs_f64()).max(0.0)));
            bar.set_message(format!("trials {} | best {best} | last {} {}{left}", self.trials, result.learner, result.status.name()));
        }
    }
    fn on_refit(&mut self, best: &TrialResult) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("refitting {} on all rows", best.learner));
        }
    }
}

/// One line per finished custom trial on stderr (when `enabled`).
#[cfg(feature = "kubernetes")]
pub struct TrialLines(pub bool);

#[cfg(feature = "kubernetes")]
impl Observer for TrialLines {
    fn on_trial(&mut self, r: &TrialResult, _best: Option<&TrialResult>, _elapsed: Duration) {
        if self.0 {
            eprintln!("trial {:>3} {:<14} {:>10} {}", r.id, r.status.name(), r.score.map_or("-".into(), |s| format!("{s:.5}")), r.message.as_deref().unwrap_or(""));
        }
    }
}

/// The summary of a built-in run: data warnings, then the leaderboard and the best.
pub fn summary(result: &ExperimentResult, json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        writeln!(stdout, "{}", serde_json::to_string_pretty(&report::summary_json(result))?)?;
        return Ok(());
    }
    if !result.profile.warnings.is_empty() {
        writeln!(stdout, "data warnings (see profile.json):")?;
        for w in &result.profile.warnings {
            writeln!(stdout, "  - {}{}", w.column.as_ref().map(|c| format!("{c}: ")).unwrap_or_default(), w.message)?;
        }
        writeln!(stdout)?;
    }
    write!(stdout, "{}", report::summary_text(result))?;
    Ok(())
}

/// A loaded plugin's description.
pub fn plugin(path: &Path, plugin: &Plugin, json: bool) -> anyhow::Result<()> {
    let info = plugin.info();
    let load = plugin.load_stats();
    if json {
        let v = serde_json::json!({
            "path": path, "name": info.name, "kind": info.kind, "version": info.version, "description": info.description,
            "exports": plugin.exports(), "sha256": plugin.digest(), "bytes": plugin.bytes().len(),
            "wit": format!("automl:plugins@{}", automl::plugins::WIT_VERSION), "cached": load.cached, "load_s": load.compile_s,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{}", path.display());
    println!("  name:        {}", info.name);
    println!("  kind:        {}", info.kind);
    println!("  version:     {}", info.version);
    println!("  description: {}", info.description);
    println!("  exports:     {}", plugin.exports().join(", "));
    println!("  sha256:      {}", plugin.digest());
    println!("  size:        {} bytes", plugin.bytes().len());
    println!("  load:        {:.1} ms ({})", load.compile_s * 1000.0, if load.cached { "compiled code from the cache" } else { "compiled now" });
    Ok(())
}

/// The built-in metrics and rules, and the plugins found in `dir`.
pub fn plugin_list(dir: Option<&Path>, found: &[(PathBuf, Result<PluginInfo, String>)], json: bool) -> anyhow::Result<()> {
    let rules = automl::stopping::builtin_rules();
    let metrics: Vec<String> = automl::core::metrics::BuiltinMetric::ALL.iter().map(|m| automl::core::metrics::Metric::name(m).to_string()).collect();
    if json {
        let v = serde_json::json!({
            "metrics": metrics,
            "rules": rules.iter().map(|(n, k, d)| serde_json::json!({"name": n, "kind": k, "description": d})).collect::<Vec<_>>(),
            "plugins": found.iter().map(|(p, r)| match r {
                Ok(i) => serde_json::json!({"path": p, "name": i.name, "kind": i.kind, "version": i.version, "description": i.description}),
                Err(e) => serde_json::json!({"path": p, "error": e}),
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("built-in metrics: {}", metrics.join(", "));
    println!("built-in rules:");
    for (name, kind, description) in &rules {
        println!("  {name:<16} {kind:<14} {description}");
    }
    let Some(d) = dir else {
        println!("plugins: pass --dir DIR (or set AUTOML_PLUGIN_DIR) to list the components in a folder");
        return Ok(());
    };
    println!("plugins in {}:", d.display());
    if found.is_empty() {
        println!("  (none)");
    }
    for (p, r) in found {
        match r {
            Ok(i) => println!("  {:<16} {:<14} {:<8} {}  ({})", i.name, i.kind.name(), i.version, i.description, p.display()),
            Err(e) => println!("  {}: cannot load: {e}", p.display()),
        }
    }
    Ok(())
}

/// Feature importance as a table (or JSON with `details` and an `importance` list).
pub fn importance(title: &str, rows: &[automl::explain::Importance], json: bool, mut details: serde_json::Value) -> anyhow::Result<()> {
    if json {
        details["importance"] = serde_json::to_value(rows)?;
        println!("{}", serde_json::to_string_pretty(&details)?);
    } else {
        print!("{}", importance_text(title, rows));
    }
    Ok(())
}

/// The importance table: column, importance, spread, and a bar.
pub fn importance_text(title: &str, rows: &[automl::explain::Importance]) -> String {
    let width = rows.iter().map(|r| r.column.chars().count()).max().unwrap_or(6).max(6);
    let top = rows.iter().map(|r| r.importance).fold(0.0f64, f64::max);
    let spread = rows.iter().any(|r| r.std > 0.0);
    let mut out = format!("{title}\n{:<width$}  {:>10}{}\n", "column", "importance", if spread { "      ± std" } else { "" });
    for r in rows {
        let bar = if top > 0.0 { "#".repeat(((r.importance.max(0.0) / top) * 30.0).round() as usize) } else { String::new() };
        let std = if spread { format!("  {:>9.5}", r.std) } else { String::new() };
        out += &format!("{:<width$}  {:>10.5}{std}  {bar}\n", r.column, r.importance);
    }
    out
}
