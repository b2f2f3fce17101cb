//! Reports: leaderboard ranking and CSV, JSON documents, and text for the terminal.
use std::fmt::Write as _;
use std::path::Path;

use automl_core::metrics::Direction;
use automl_core::profile::Profile;
use automl_core::space::{config_to_json, config_to_string};
use serde_json::json;

use crate::artifact::{configurations, csv_field, Configuration, Member};
use crate::ensemble::Selection;
use crate::error::{Error, Result};
use crate::outcome::{CustomResult, ExperimentResult};
use crate::trial::{TrialResult, TrialStatus};

/// Successful trials by score (best first, ties to the earlier trial, so the same trials
/// rank the same whatever their timing), then early-stopped, timed-out and
/// failed ones.
pub fn rank(mut trials: Vec<TrialResult>, direction: Direction) -> Vec<TrialResult> {
    let class = |t: &TrialResult| match t.status {
        TrialStatus::Ok => 0,
        TrialStatus::EarlyStopped => 1,
        TrialStatus::TimedOut => 2,
        TrialStatus::Failed => 3,
    };
    trials.sort_by(|a, b| {
        class(a).cmp(&class(b)).then_with(|| {
            let (la, lb) = (a.score.map_or(f64::INFINITY, |s| direction.to_loss(s)), b.score.map_or(f64::INFINITY, |s| direction.to_loss(s)));
            la.total_cmp(&lb).then(a.id.cmp(&b.id))
        })
    });
    trials
}

/// The ensemble a model is, as a leaderboard row: its selection and refit members.
#[derive(Clone, Copy)]
pub struct EnsembleRow<'a> {
    /// Scores and weights.
    pub selection: &'a Selection,
    /// The members, with their learners.
    pub members: &'a [Member],
}

impl EnsembleRow<'_> {
    /// The members as JSON: trial, learner and weight each.
    pub fn members_json(&self) -> serde_json::Value {
        members_json(&configurations(self.members))
    }
}

/// A model's configurations as JSON: trial, learner, weight, and how it was fitted
/// (`refit`, or `bag` with the number of split models averaged).
fn members_json(configurations: &[Configuration]) -> serde_json::Value {
    let row = |c: &Configuration| json!({"trial": c.first.trial, "learner": c.first.learner, "weight": c.weight, "fit": c.fit(), "models": c.models});
    json!(configurations.iter().map(row).collect::<Vec<_>>())
}

/// Writes `leaderboard.csv`: the ensemble first when the model is one (trial `ensemble`,
/// its members and weights as its hyperparameters), then the trials.
/// Other metrics (plugins that are not the objective) follow as one column each.
pub fn write_leaderboard(path: &Path, trials: &[TrialResult], metric: &str, ensemble: Option<EnsembleRow>) -> Result<()> {
    let extra: std::collections::BTreeSet<&str> = trials.iter().flat_map(|t| t.extra_scores.keys().map(String::as_str)).collect();
    const COLUMNS: [&str; 10] = ["rank", "trial", "learner", "metric", "score", "score_std", "fit_time_s", "status", "hyperparameters", "message"];
    let mut s = COLUMNS.join(",");
    for name in &extra {
        // A plugin named like a column gets a suffix rather than a second column of that name.
        let column = if COLUMNS.contains(name) { format!("{name}_plugin") } else { name.to_string() };
        let _ = write!(s, ",{}", csv_field(&column));
    }
    s.push('\n');
    let first = usize::from(ensemble.is_some());
    if let Some(e) = ensemble {
        let fit_time: f64 = e.selection.members.iter().filter_map(|(id, _)| trials.iter().find(|t| t.id == *id)).map(|t| t.fit_time_s).sum();
        let note = format!("weighted ensemble of {} trials, scored on the validation rows (the best trial alone: {})", e.selection.members.len(), e.selection.best_single);
        let _ = write!(s, "1,ensemble,ensemble,{metric},{},,{fit_time:.3},ok,{},{}", e.selection.score, csv_field(&json!({"members": e.members_json()}).to_string()), csv_field(&note));
        s.push_str(&",".repeat(extra.len()));
        s.push('\n');
    }
    for (i, t) in trials.iter().enumerate() {
        let _ = write!(
            s,
            "{},{},{},{},{},{},{:.3},{},{},{}",
            first + i + 1,
            t.id,
            t.learner,
            metric,
            t.score.map_or(String::new(), |v| v.to_string()),
            t.score_std.map_or(String::new(), |v| v.to_string()),
            t.fit_time_s,
            t.status.name(),
            csv_field(&config_to_json(&t.config).to_string()),
            csv_field(t.message.as_deref().unwrap_or(""))
        );
        for name in &extra {
            let _ = write!(s, ",{}", t.extra_scores.get(*name).map_or(String::new(), |v| v.to_string()));
        }
        s.push('\n');
    }
    std::fs::write(path, s).map_err(|e| Error::io(path, e))
}

/// One trial as JSON.
pub fn trial_json(t: &TrialResult) -> serde_json::Value {
    let mut v = json!({
        "trial": t.id,
        "learner": t.learner,
        "hyperparameters": config_to_json(&t.config),
        "status": t.status.name(),
        "score": t.score,
        "score_std": t.score_std,
        "fold_scores": t.fold_scores,
        "curve": t.curve,
        "fit_time_s": t.fit_time_s,
        "message": t.message,
    });
    if !t.train_curve.is_empty() {
        v["train_curve"] = json!(t.train_curve);
    }
    if !t.extra_scores.is_empty() {
        v["extra_scores"] = json!(t.extra_scores);
    }
    v
}

/// The run's summary as JSON (what `automl run --json` prints).
pub fn summary_json(r: &ExperimentResult) -> serde_json::Value {
    let count = |s: TrialStatus| r.leaderboard.iter().filter(|t| t.status == s).count();
    json!({
        "task": r.artifact.task,
        "target": r.artifact.target,
        "metric": r.metric,
        "direction": r.direction,
        "validation": r.validation,
        "rows": r.artifact.rows,
        "best": trial_json(&r.best),
        "model": model_json(r),
        "trials": {
            "total": r.leaderboard.len(),
            "ok": count(TrialStatus::Ok),
            "early_stopped": count(TrialStatus::EarlyStopped),
            "timed_out": count(TrialStatus::TimedOut),
            "failed": count(TrialStatus::Failed),
        },
        "stop_reason": r.stop_reason,
        "seconds": { "search": r.search_s, "refit": r.refit_s, "total": r.elapsed_s, "first_trial": r.first_trial_s },
        "peak_rss_mb": peak_rss_mb(),
        "leaderboard": r.leaderboard.iter().take(10).map(trial_json).collect::<Vec<_>>(),
        "feature_importance": r.artifact.feature_importance().iter().take(20).map(|(f, gain, splits)| json!({"feature": f, "gain": gain, "splits": splits})).collect::<Vec<_>>(),
        "warnings": r.profile.warnings,
        "notes": r.notes,
        "plugins": r.plugins,
        "files": r.files,
    })
}

/// What the model is: its learner (`ensemble` for several members), validation score and
/// members with their weights.
fn model_json(r: &ExperimentResult) -> serde_json::Value {
    let members = members_json(&r.artifact.configurations());
    json!({
        "learner": r.artifact.learner(),
        "validation_score": r.artifact.validation_score,
        "best_trial_score": r.ensemble.as_ref().map(|e| e.best_single),
        "final_fit": r.final_fit.name(),
        "members": members,
    })
}

/// A custom-trial run's summary as JSON (what `automl run --spec --json` prints): the
/// same trial schema as everywhere.
pub fn custom_summary_json(r: &CustomResult) -> serde_json::Value {
    json!({
        "experiment": r.experiment,
        "stop_reason": r.stop_reason,
        "seconds": { "total": r.elapsed_s },
        "leaderboard": r.leaderboard.iter().map(trial_json).collect::<Vec<_>>(),
        "notes": r.notes,
        "files": r.files,
    })
}

/// A custom-trial run's summary as text.
pub fn custom_summary_text(r: &CustomResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "experiment {}: {} trials, stopped: {:?}, {:.1} s", r.experiment, r.leaderboard.len(), r.stop_reason, r.elapsed_s);
    for t in r.leaderboard.iter().take(10) {
        let _ = writeln!(s, "  trial {:>3} {:<14} {:>10}  {}", t.id, t.status.name(), t.score.map_or("-".into(), |v| format!("{v:.5}")), config_to_string(&t.config));
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    for f in &r.files {
        let _ = writeln!(s, "wrote {}", f.display());
    }
    s
}

/// The run's summary as text.
pub fn summary_text(r: &ExperimentResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "task {} on '{}' ({} rows), metric {} ({:?}), validation {:?}", r.artifact.task, r.artifact.target, r.artifact.rows, r.metric, r.direction, r.validation);
    let ok = r.leaderboard.iter().filter(|t| t.status == TrialStatus::Ok).count();
    let _ = writeln!(s, "{} trials ({} ok) in {:.1} s, stopped by {:?}; refit {:.2} s", r.leaderboard.len(), ok, r.elapsed_s, r.stop_reason, r.refit_s);
    let _ = writeln!(s);
    let _ = writeln!(s, "{:>4}  {:<14} {:>10} {:>8} {:>8}  {:<13} hyperparameters", "rank", "learner", r.metric, "± std", "time s", "status");
    for (i, t) in r.leaderboard.iter().take(10).enumerate() {
        let _ = writeln!(
            s,
            "{:>4}  {:<14} {:>10} {:>8} {:>8.2}  {:<13} {}",
            i + 1,
            t.learner,
            t.score.map_or("-".into(), |v| format!("{v:.4}")),
            t.score_std.map_or("-".into(), |v| format!("{v:.4}")),
            t.fit_time_s,
            t.status.name(),
            truncate(&config_to_string(&t.config), 60)
        );
    }
    if r.leaderboard.len() > 10 {
        let _ = writeln!(s, "  ... {} more in leaderboard.csv", r.leaderboard.len() - 10);
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "best: {} {} = {:.4} ({})", r.best.learner, r.metric, r.best.score.unwrap_or(f64::NAN), config_to_string(&r.best.config));
    if let Some(e) = &r.ensemble {
        let members: Vec<String> = e.members.iter().map(|(trial, w)| format!("{} #{trial} {w:.2}", r.leaderboard.iter().find(|t| t.id == *trial).map_or("?", |t| t.learner.as_str()))).collect();
        let _ = writeln!(s, "model: ensemble {} = {:.4} on the validation rows (best trial alone {:.4}): {}", r.metric, e.score, e.best_single, members.join(", "));
    }
    let _ = writeln!(s, "final fit: {}", r.final_fit.describe());
    if !r.best.extra_scores.is_empty() {
        let others: Vec<String> = r.best.extra_scores.iter().map(|(name, v)| format!("{name} = {v:.4}")).collect();
        let _ = writeln!(s, "      also {} (columns of leaderboard.csv)", others.join(", "));
    }
    let importance = r.artifact.feature_importance();
    if !importance.is_empty() {
        let total: f64 = importance.iter().map(|i| i.1).sum::<f64>().max(f64::MIN_POSITIVE);
        let top: Vec<String> = importance.iter().take(8).map(|(f, g, _)| format!("{f} {:.0}%", 100.0 * g / total)).collect();
        let _ = writeln!(s, "most important (share of split gain): {}", top.join(", "));
    }
    for p in &r.plugins {
        let _ = writeln!(s, "plugin {} ({} {}, {:.0} ms to load{})", p.info.name, p.info.kind, p.info.version, p.load.compile_s * 1000.0, if p.load.cached { ", cached" } else { "" });
    }
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    for f in &r.files {
        let _ = writeln!(s, "wrote {}", f.display());
    }
    s
}

/// This process's peak resident memory in MB (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// The profile as text: a table of columns, then warnings.
pub fn profile_text(p: &Profile) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} rows, {} columns", p.file, p.rows, p.columns);
    if let Some(t) = &p.target {
        let _ = write!(s, "target '{}': {}", t.name, t.task);
        if !t.classes.is_empty() {
            let total: usize = t.classes.iter().map(|c| c.1).sum();
            let shares: Vec<String> = t.classes.iter().take(8).map(|(l, c)| format!("{l} {:.1}%", 100.0 * *c as f64 / total.max(1) as f64)).collect();
            let _ = write!(s, " ({}{})", shares.join(", "), if t.classes.len() > 8 { ", ..." } else { "" });
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "\n{:<24} {:<12} {:>9} {:>9}  note", "column", "kind", "missing", "distinct");
    for c in &p.features {
        let note = c.dropped.as_ref().map(|d| format!("dropped: {d}")).unwrap_or_default();
        let _ = writeln!(s, "{:<24} {:<12} {:>8.1}% {:>9}  {}", truncate(&c.name, 24), format!("{:?}", c.kind).to_lowercase(), 100.0 * c.missing_share, c.distinct, note);
    }
    if !p.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings:");
        for w in &p.warnings {
            let _ = writeln!(s, "  - {}{}", w.column.as_ref().map(|c| format!("{c}: ")).unwrap_or_default(), w.message);
        }
    }
    s
}
