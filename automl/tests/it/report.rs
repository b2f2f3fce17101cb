//! The run report (`report.html`): written by every run with an output folder, rebuilt
//! by `automl report`, self-contained, and drawn for any mix of trial outcomes.
use std::path::Path;
use std::process::Command;

use automl::journal::{Entry, Journal, JOURNAL_VERSION};
use automl::search::Suggestion;
use automl::trial::{TrialResult, TrialStatus};

use super::{example, write};

fn automl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_automl")).args(args).output().expect("run automl")
}

/// Fails when the page would fetch anything: every style, script and chart is inline.
fn assert_self_contained(html: &str) {
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "url(", "<script src", "<img"] {
        assert!(!html.contains(needle), "the report refers to something outside it: {needle}");
    }
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
}

#[test]
fn a_run_writes_a_self_contained_report_that_automl_report_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = automl(&["run", example("penguins.csv").to_str().unwrap(), "--target", "species", "--max-trials", "8", "--concurrency", "1", "--out", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = out.join("report.html");
    assert!(summary["files"].as_array().unwrap().iter().any(|f| f.as_str() == report.to_str()), "{summary}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert_self_contained(&html);
    for section in ["<h2>Data</h2>", "<h2>Search over time</h2>", "<h2>Leaderboard</h2>", "<h2>The model</h2>", "<h2>Validation predictions</h2>", "<h2>Budgets</h2>"] {
        assert!(html.contains(section), "no {section}");
    }
    // One leaderboard row per trial, every trial drawn in the search chart.
    let board = &html[html.find("<h2>Leaderboard</h2>").unwrap()..html.find("<h2>The model</h2>").unwrap()];
    assert_eq!(board.matches("<tr class=").count(), 8);
    let search = &html[html.find("<h2>Search over time</h2>").unwrap()..html.find("<h2>Leaderboard</h2>").unwrap()];
    assert_eq!(search.matches("<title>trial ").count(), 8);
    // Classification: a confusion matrix of the three species whose counts are every
    // validated row (5-fold CV: each row once), and a ROC curve.
    assert!(html.contains("aria-label=\"confusion matrix\"") && html.contains("ROC curve"));
    let validation: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("validation.json")).unwrap()).unwrap();
    assert_eq!(validation["truth"].as_array().unwrap().len(), 344);
    assert_eq!(validation["labels"], serde_json::json!(["Adelie", "Chinstrap", "Gentoo"]));
    // `automl report` rebuilds the same page from the folder.
    std::fs::remove_file(&report).unwrap();
    let o = automl(&["report", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), html);
    // Not a run folder: a clear refusal.
    let o = automl(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a run folder"));
}

/// The log loss of `validation.json`'s predictions over all its rows (a trial's score is
/// the mean of its splits' instead).
fn pooled_log_loss(validation: &serde_json::Value) -> f64 {
    let truth = validation["truth"].as_array().unwrap();
    let p = validation["probabilities"].as_array().unwrap();
    let sum: f64 = truth.iter().zip(p).map(|(t, row)| -row[t.as_f64().unwrap() as usize].as_f64().unwrap().clamp(1e-15, 1.0).ln()).sum();
    sum / truth.len() as f64
}

#[test]
fn a_bagged_booster_report_shows_treeshap_and_permutation_importance() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = automl(&["run", example("penguins.csv").to_str().unwrap(), "--target", "species", "--learners", "gbdt", "--final-fit", "bag", "--max-trials", "3", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let validation: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("validation.json")).unwrap()).unwrap();
    let importance = &validation["importance"];
    assert_eq!(importance["shap"]["whole_model"], true, "{importance}");
    assert_eq!(importance["shap"]["space"], "margin");
    assert_eq!(importance["shap"]["columns"].as_array().unwrap().len(), 7, "one row per input column: {importance}");
    let permutation = &importance["permutation"];
    assert_eq!(permutation["metric"], "log_loss");
    assert_eq!(permutation["rows"], 344, "every row is some split's validation row: {permutation}");
    // The bagged model's own out-of-fold log loss, recomputed from its split models.
    let score = pooled_log_loss(&validation);
    assert!((permutation["score"].as_f64().unwrap() - score).abs() < 1e-6, "{permutation} against {score}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let section = &html[html.find("<h2>What the model relies on</h2>").unwrap()..];
    assert!(section.contains("<h3>TreeSHAP</h3>") && section.contains("<h3>Permutation importance</h3>"));
}

#[test]
fn a_model_refit_on_all_rows_says_why_it_has_no_permutation_importance() {
    let dir = tempfile::tempdir().unwrap();
    let importance = |args: &[&str]| -> serde_json::Value {
        let out = dir.path().join(args.join("-").replace(['-', '.'], ""));
        let mut all = vec!["run", example("penguins.csv").to_str().unwrap().to_string().leak() as &str, "--target", "species", "--learners", "gbdt,logistic", "--max-trials", "4", "--out", out.to_str().unwrap().to_string().leak()];
        all.extend_from_slice(args);
        let o = automl(&all);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let validation: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("validation.json")).unwrap()).unwrap();
        serde_json::json!({"score": pooled_log_loss(&validation), "importance": validation["importance"]})
    };
    // With --final-fit refit (trials keep no split models) or under a holdout, nothing is
    // held out from a model refit on all rows: a note says so.
    for args in [&["--final-fit", "refit"][..], &["--holdout", "0.25"]] {
        let run = importance(args);
        assert!(run["importance"]["permutation"].is_null(), "{run}");
        assert!(run["importance"]["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().starts_with("permutation importance is not shown")), "{run}");
        assert!(run["score"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn a_regression_run_shows_predicted_against_actual() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,b,y\n");
    for i in 0..300 {
        let (a, b) = ((i % 17) as f64, (i % 5) as f64);
        csv.push_str(&format!("{a},{b},{}\n", 2.0 * a - b + (i % 3) as f64 * 0.1));
    }
    let data = write(dir.path(), "r.csv", &csv);
    let out = dir.path().join("out");
    let o = automl(&["run", data.to_str().unwrap(), "--target", "y", "--max-trials", "5", "--out", out.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("aria-label=\"predicted against actual\"") && html.contains("aria-label=\"residuals\""));
    assert!(!html.contains("confusion matrix"));
}

fn trial(id: u64, learner: &str, status: TrialStatus, score: Option<f64>, curve: usize, message: Option<&str>) -> TrialResult {
    let mut t = TrialResult::ended(id, learner.into(), Default::default(), status, 0.5, message.map(str::to_string));
    t.score = score;
    t.curve = (1..=curve).map(|s| (s, score.unwrap_or(0.5) - 0.3 / s as f64)).collect();
    t
}

/// A run folder holding a journal only (a run still going, or killed), with `n` trials
/// of every outcome.
fn journal_only_run(dir: &Path, n: u64, curve: usize) {
    let mut j = Journal::create(dir).unwrap();
    let config = serde_json::json!({"data": "x.csv", "target": "y", "metric": "accuracy", "time_budget": 30.0});
    j.write(&Entry::Start { version: JOURNAL_VERSION, experiment: "e1".into(), config }).unwrap();
    j.write(&Entry::Session { spent_s: 0.0 }).unwrap();
    for id in 1..=n {
        let learner = ["gbdt", "random_forest", "logistic", "extra_trees"][id as usize % 4];
        j.write(&Entry::Suggested { trial: id, suggestion: Suggestion { learner: learner.into(), config: Default::default() } }).unwrap();
        let result = match id % 5 {
            0 => trial(id, learner, TrialStatus::Failed, None, 0, Some("the learner panicked: <boom> & more")),
            1 => trial(id, learner, TrialStatus::EarlyStopped, Some(0.6), curve, Some("stopped by the median rule after 3 of 5 folds")),
            2 => trial(id, learner, TrialStatus::TimedOut, None, 0, Some("time limit reached")),
            _ => trial(id, learner, TrialStatus::Ok, Some(0.7 + (id % 7) as f64 / 100.0), curve, None),
        };
        j.write(&Entry::Finished { result, elapsed_s: id as f64 * 0.1 }).unwrap();
    }
    // One trial still running.
    j.write(&Entry::Suggested { trial: n + 1, suggestion: Suggestion { learner: "gbdt".into(), config: Default::default() } }).unwrap();
}

#[test]
fn a_running_folder_with_failed_stopped_and_timed_out_trials_has_a_report() {
    let dir = tempfile::tempdir().unwrap();
    journal_only_run(dir.path(), 10, 5);
    let path = automl::html::write(dir.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("running (or stopped before the end"), "the report says the run is not finished");
    assert!(html.contains("1 not finished"));
    // Failed and timed-out trials are drawn as crosses, stopped ones as rings; text from
    // trials is escaped.
    assert!(html.contains("&lt;boom&gt; &amp; more") && !html.contains("<boom>"));
    assert!(html.contains("<h2>Learning curves</h2>") && html.contains("stroke-dasharray"));
    for status in ["failed", "timed_out", "early_stopped", "ok"] {
        assert!(html.contains(&format!("<tr class=\"{status}\">")), "{status}");
    }
    assert!(!html.contains("<h2>The model</h2>"), "no model yet");
}

#[test]
fn the_report_of_a_thousand_trial_run_stays_under_3_mb() {
    let dir = tempfile::tempdir().unwrap();
    journal_only_run(dir.path(), 1000, 100);
    let html = std::fs::read_to_string(automl::html::write(dir.path()).unwrap()).unwrap();
    assert_eq!(html.matches("<tr class=").count(), 1000);
    assert!(html.len() < 3 << 20, "{} bytes", html.len());
}
