//! The `automl` binary: exit codes, messages and files, as a user sees them.
use std::path::Path;
use std::process::{Command, Output};

use super::{example, messy_csv, write};

fn automl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_automl")).args(args).output().expect("run automl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn refused(args: &[&str], code: i32, needle: &str) {
    let o = automl(args);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(needle), "{args:?}: expected '{needle}' in: {e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn run_then_predict_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let o = automl(&["run", p(&data), "--target", "species", "--max-trials", "6", "--out", p(&out), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["task"], "multiclass");
    assert_eq!(summary["trials"]["total"], 6);
    assert!(o.stderr.is_empty(), "no progress when stderr is not a terminal: {}", stderr(&o));
    let leaderboard = std::fs::read_to_string(out.join("leaderboard.csv")).unwrap();
    assert!(leaderboard.starts_with("rank,trial,learner,metric,score,score_std,fit_time_s,status,hyperparameters"));
    // One row per trial, and the ensemble's own row when the model is one.
    let ensemble = summary["model"]["learner"] == "ensemble";
    assert_eq!(leaderboard.lines().count(), 7 + usize::from(ensemble));
    assert_eq!(leaderboard.lines().nth(1).is_some_and(|l| l.starts_with("1,ensemble,")), ensemble);

    let preds = dir.path().join("preds.csv");
    let o = automl(&["predict", "--model", p(&out.join("model.automl")), p(&data), "--out", p(&preds)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&preds).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "species");
    assert_eq!(lines.len(), 345);
    let truth: Vec<String> = std::fs::read_to_string(&data).unwrap().lines().skip(1).map(|l| l.rsplit(',').next().unwrap().to_string()).collect();
    let correct = lines[1..].iter().zip(&truth).filter(|(a, b)| *a == b).count();
    assert!(correct > 330, "{correct} of 344 training rows right");

    let o = automl(&["predict", "--model", p(&out.join("model.automl")), p(&data), "--proba"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().next(), Some("Adelie,Chinstrap,Gentoo"));
    let row: f64 = text.lines().nth(1).unwrap().split(',').map(|v| v.parse::<f64>().unwrap()).sum();
    assert!((row - 1.0).abs() < 1e-9);
}

#[test]
fn profile_prints_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "m.csv", &messy_csv(100));
    let o = automl(&["profile", p(&csv), "--target", "label", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"], 100);
    assert_eq!(v["target"]["task"], "binary");
    let o = automl(&["profile", p(&csv)]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("dropped: a distinct value"), "{text}");
}

#[test]
fn refuses_bad_input_with_clear_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nums: String = (0..30).map(|i| format!("{i},{}\n", i % 3)).collect();
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["run".into(), p(&d.join("nope.csv")).into(), "-t".into(), "y".into()], 3, "No such file"),
        (vec!["run".into(), p(&write(d, "empty.csv", "")).into(), "-t".into(), "y".into()], 3, "empty"),
        (vec!["run".into(), p(&write(d, "header.csv", "a,y\n")).into(), "-t".into(), "y".into()], 3, "no data rows"),
        (vec!["run".into(), p(&write(d, "ragged.csv", "a,y\n1,2\n3\n")).into(), "-t".into(), "y".into()], 3, "line 3"),
        (vec!["run".into(), p(&write(d, "latin1.csv", "a,y\n1,caf\u{e9}\n")).into(), "-t".into(), "y".into()], 3, "line"),
        (vec!["run".into(), p(&write(d, "ok.csv", &format!("a,y\n{nums}"))).into(), "-t".into(), "Y".into()], 3, "did you mean 'y'"),
        (vec!["run".into(), p(&write(d, "one.csv", &format!("a,y\n{}", (0..30).map(|i| format!("{i},k\n")).collect::<String>()))).into(), "-t".into(), "y".into()], 3, "single class"),
        (vec!["run".into(), p(&write(d, "row.csv", "a,y\n1,2\n")).into(), "-t".into(), "y".into()], 3, "1 data rows"),
        (vec!["run".into(), p(&d.join("ok.csv")).into(), "-t".into(), "y".into(), "--metric".into(), "auc".into()], 2, "unknown metric 'auc'"),
        (vec!["run".into(), p(&d.join("ok.csv")).into(), "-t".into(), "y".into(), "--learners".into(), "xgb".into()], 2, "unknown learner 'xgb'"),
        (vec!["predict".into(), "--model".into(), p(&d.join("ok.csv")).into(), p(&d.join("ok.csv")).into()], 4, "not an automl model file"),
    ];
    // A latin-1 byte, not UTF-8.
    std::fs::write(d.join("latin1.csv"), b"a,y\n1,caf\xe9\n2,b\n").unwrap();
    for (args, code, needle) in cases {
        let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        refused(&refs, code, needle);
    }
    // A model file from another format version.
    let mut bytes = automl::artifact::MAGIC.to_vec();
    bytes.extend(99u32.to_le_bytes());
    let old = d.join("old.automl");
    std::fs::write(&old, bytes).unwrap();
    refused(&["predict", "--model", p(&old), p(&d.join("ok.csv"))], 4, "format version 99");
}

#[test]
fn a_model_file_with_one_byte_flipped_is_refused_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let o = automl(&["run", p(&data), "--target", "species", "--max-trials", "2", "--learners", "logistic", "--out", p(&out), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let model = out.join("model.automl");
    let mut bytes = std::fs::read(&model).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let damaged = dir.path().join("damaged.automl");
    std::fs::write(&damaged, &bytes).unwrap();
    refused(&["predict", "--model", p(&damaged), p(&data)], 4, "damaged");
    // The intact file still predicts.
    assert!(automl(&["predict", "--model", p(&model), p(&data)]).status.success());
}

#[test]
fn a_true_false_feature_runs_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("a,flag,bit,y\n");
    for i in 0..120 {
        let flag = i % 3 == 0;
        csv.push_str(&format!("{},{},{},{}\n", (i * 7 % 13) as f64 / 13.0, if flag { "true" } else { "false" }, i % 2, if flag { "yes" } else { "no" }));
    }
    let data = write(dir.path(), "bool.csv", &csv);
    let out = dir.path().join("out");
    let o = automl(&["run", p(&data), "--target", "y", "--max-trials", "2", "--learners", "logistic", "--out", p(&out), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = automl(&["predict", "--model", p(&out.join("model.automl")), p(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let predicted: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().skip(1).map(String::from).collect();
    let expected: Vec<&str> = csv.lines().skip(1).map(|l| if l.contains(",true,") { "yes" } else { "no" }).collect();
    assert_eq!(predicted, expected, "the flag alone decides the label");
}

#[test]
fn help_lists_learners_and_exit_codes() {
    let o = automl(&["run", "--help"]);
    let text = String::from_utf8(o.stdout).unwrap();
    for l in ["logistic", "random_forest", "knn", "svm", "Exit codes"] {
        assert!(text.contains(l), "{l}");
    }
}

#[test]
fn a_target_with_too_many_classes_for_its_rows_is_refused_before_any_fit() {
    let dir = tempfile::tempdir().unwrap();
    // 1,000 labels on 2,000 rows: two rows a class.
    let mut csv = String::from("x,y\n");
    for i in 0..2000 {
        csv.push_str(&format!("{},id{}\n", i % 37, i % 1000));
    }
    let data = write(dir.path(), "ids.csv", &csv);
    refused(&["run", p(&data), "--target", "y", "--max-trials", "2", "--out", p(&dir.path().join("out"))], 3, "target 'y' has 1000 classes for 2000 rows (2.0 rows a class)");
}

#[test]
fn a_folder_holding_a_run_is_neither_overwritten_silently_nor_shared() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", p(&data), "--target", "species", "--max-trials", "2", "--learners", "logistic", "--out", p(&out)];
        args.extend_from_slice(extra);
        automl(&args)
    };
    assert!(run(&[]).status.success());
    let board = std::fs::read_to_string(out.join("leaderboard.csv")).unwrap();
    // A second run into the same folder would truncate the first one's record.
    refused(&["run", p(&data), "--target", "species", "--max-trials", "2", "--out", p(&out)], 2, "already holds a finished run (2 trials); choose another --out, or pass --force");
    assert_eq!(std::fs::read_to_string(out.join("leaderboard.csv")).unwrap(), board, "the first run's files are untouched");
    assert!(run(&["--force"]).status.success());
    // While a run holds the folder, no other run or resume may write there.
    let held = automl::runlock::RunLock::acquire(&out).unwrap();
    let o = run(&["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("in use by another automl run") && stderr(&o).contains(&format!("pid {}", std::process::id())), "{}", stderr(&o));
    // A resumable run (its journal without the end) is held too.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    let unfinished: Vec<&str> = journal.lines().filter(|l| !l.contains("\"ended\"")).collect();
    std::fs::write(out.join("journal.jsonl"), unfinished.join("\n") + "\n").unwrap();
    refused(&["resume", p(&out)], 2, "in use by another automl run");
    drop(held);
}

#[test]
fn a_semicolon_separated_file_is_read_with_its_delimiter_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let comma = std::fs::read_to_string(example("penguins.csv")).unwrap();
    // Numbers with a decimal point stay numbers: only the separator changes.
    let data = write(dir.path(), "semi.csv", &comma.replace(',', ";"));
    let o = automl(&["run", p(&data), "--target", "species", "--max-trials", "2", "--learners", "logistic", "--out", p(&dir.path().join("out")), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let warnings = summary["warnings"].as_array().cloned().unwrap_or_default();
    assert!(warnings.iter().any(|w| w["kind"] == "delimiter" && w["message"].as_str().unwrap_or_default().contains("';' as the delimiter")), "{warnings:?}");
    // A tab-separated file with --delimiter tab, and a wrong choice named in the error.
    let tabs = write(dir.path(), "tabs.tsv", &comma.replace(',', "\t"));
    let o = automl(&["profile", p(&tabs), "--target", "species", "--delimiter", "tab", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    refused(&["profile", p(&tabs), "--delimiter", "ab"], 2, "--delimiter (delimiter) must be one character");
}

#[test]
fn resume_lists_what_it_reuses_and_wants_grants_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let o = automl(&["run", p(&data), "--target", "species", "--max-trials", "2", "--learners", "logistic", "--plugin-allow-env", "HOME", "--plugin-allow-clock", "--out", p(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The grant is journaled by name (its value may be a secret), so a resume grants it too.
    let journal = std::fs::read_to_string(out.join("journal.jsonl")).unwrap();
    assert!(journal.contains(r#""env_names":["HOME"]"#), "{journal}");
    let unfinished: Vec<&str> = journal.lines().filter(|l| !l.contains("\"ended\"")).collect();
    std::fs::write(out.join("journal.jsonl"), unfinished.join("\n") + "\n").unwrap();
    refused(&["resume", p(&out)], 2, "plugins get the environment variables HOME; plugins get the real clocks");
    let o = automl(&["resume", p(&out), "--accept-settings"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resuming") && stderr(&o).contains("data ") && stderr(&o).contains("plugins get the real clocks"), "{}", stderr(&o));
}

#[test]
fn starting_points_run_first_fitted_to_their_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let points = dir.path().join("points.json");
    std::fs::write(&points, r#"[{"learner": "logistic", "hyperparameters": {"alpha": 1e9}}, {"learner": "gbdt", "hyperparameters": {"n_estimators": 7, "num_leaves": 100000}}]"#).unwrap();
    let out = dir.path().join("out");
    let data = example("penguins.csv");
    let o = automl(&["run", p(&data), "--target", "species", "--max-trials", "3", "--starting-points", p(&points), "--out", p(&out), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut trials: Vec<serde_json::Value> = std::fs::read_to_string(out.join("trials.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    trials.sort_by_key(|t| t["trial"].as_u64());
    assert_eq!(trials[0]["learner"], "logistic");
    assert_eq!(trials[1]["learner"], "gbdt");
    assert_eq!(trials[1]["hyperparameters"]["n_estimators"], 7);
    // Out of its space: brought to the space's bound, so the trial runs.
    let leaves = trials[1]["hyperparameters"]["num_leaves"].as_i64().unwrap();
    assert!(leaves < 100000 && trials[1]["status"] == "ok", "{}", trials[1]);
    assert!(trials[0]["hyperparameters"]["alpha"].as_f64().unwrap() < 1e9);
    // A point of a learner the run does not search names it.
    std::fs::write(&points, r#"[{"learner": "ridge", "hyperparameters": {}}]"#).unwrap();
    refused(&["run", p(&data), "--target", "species", "--starting-points", p(&points)], 2, "starting point 0 is of learner 'ridge'");
    std::fs::write(&points, r#"{"learner": "gbdt"}"#).unwrap();
    refused(&["run", p(&data), "--target", "species", "--starting-points", p(&points)], 2, "points.json: not a list");
}
