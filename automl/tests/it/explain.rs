//! `automl explain` and the library's explanations: TreeSHAP contributions that add up to
//! the prediction, feature importance, permutation importance, and refusals that say what
//! to do.
use std::path::Path;
use std::process::Command;

use automl::artifact::ModelArtifact;

use super::write;

fn automl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_automl")).args(args).output().expect("run automl")
}

/// Regression data: `y` from `signal` (numeric, some missing) and `kind` (categorical);
/// `noise` does not matter.
fn regression_csv(n: usize) -> String {
    let mut s = String::from("signal,kind,noise,y\n");
    for i in 0..n {
        let signal = if i % 13 == 0 { String::new() } else { format!("{}", (i * 37 % 101) as f64 / 10.0) };
        let kind = ["a", "b", "c"][i % 3];
        let noise = (i * 53 % 97) as f64;
        let y = signal.parse::<f64>().unwrap_or(5.0) * 2.0 + if kind == "b" { 7.0 } else { 0.0 } + (i % 5) as f64 * 0.1;
        s.push_str(&format!("{signal},{kind},{noise},{y}\n"));
    }
    s
}

fn fit(dir: &Path, learners: &str, csv: &Path, target: &str) -> std::path::PathBuf {
    let out = dir.join(format!("out-{}", learners.replace(',', "-")));
    let o = automl(&["run", csv.to_str().unwrap(), "--target", target, "--learners", learners, "--max-trials", "4", "--concurrency", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join("model.automl")
}

#[test]
fn contributions_plus_base_value_equal_the_prediction_of_boosters_and_forests() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "reg.csv", &regression_csv(400));
    for learners in ["gbdt", "random_forest", "gbdt,extra_trees"] {
        let model = ModelArtifact::load(&fit(dir.path(), learners, &csv, "y")).unwrap();
        let table = model.read_csv(&csv, false).unwrap();
        let e = model.explain_table(&table, "reg.csv", None).unwrap();
        assert_eq!(e.columns, ["signal", "kind", "noise"]);
        assert_eq!(e.values.dim(), (400, 4, 1));
        let prediction = model.predict_table(&table, "reg.csv").unwrap();
        let automl::core::metrics::Prediction::Values(p) = prediction else { panic!("a regression prediction") };
        for (i, row) in e.values.outer_iter().enumerate() {
            let total: f64 = row.sum();
            assert!((total - e.raw[[i, 0]]).abs() < 1e-9, "{learners} row {i}: contributions sum to {total}, raw {}", e.raw[[i, 0]]);
            assert!((e.raw[[i, 0]] - p[i]).abs() < 1e-9, "{learners} row {i}: raw {} but the model predicts {}", e.raw[[i, 0]], p[i]);
        }
        let importance = e.importance();
        assert_eq!(importance.last().unwrap().column, "noise", "{learners}: {importance:?}");
    }
}

#[test]
fn the_cli_writes_contributions_and_permutation_importance_and_refuses_what_it_cannot_explain() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "reg.csv", &regression_csv(300));
    let model = fit(dir.path(), "gbdt", &csv, "y");
    let shap = dir.path().join("shap.csv");
    let o = automl(&["explain", "-m", model.to_str().unwrap(), csv.to_str().unwrap(), "-o", shap.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["method"], "tree_shap");
    assert_eq!(report["output_space"], "value");
    assert_eq!(report["importance"][0]["column"], "signal", "{report}");
    let text = std::fs::read_to_string(&shap).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("shap:signal,shap:kind,shap:noise,base_value,raw_prediction"));
    for line in lines.by_ref().take(50) {
        let v: Vec<f64> = line.split(',').map(|f| f.parse().unwrap()).collect();
        assert!((v[..4].iter().sum::<f64>() - v[4]).abs() < 1e-9, "{line}");
    }
    // Permutation importance: the signal loses the most score, the noise next to nothing.
    let o = automl(&["explain", "-m", model.to_str().unwrap(), csv.to_str().unwrap(), "--permutation", "--repeats", "3", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = report["importance"].as_array().unwrap();
    assert_eq!(rows[0]["column"], "signal", "{report}");
    let noise = rows.iter().find(|r| r["column"] == "noise").unwrap()["importance"].as_f64().unwrap();
    assert!(noise < 0.1 * rows[0]["importance"].as_f64().unwrap(), "{report}");
    // Without the target, permutation importance says what it needs.
    let no_target = write(dir.path(), "x.csv", "signal,kind,noise\n1,a,3\n");
    let o = automl(&["explain", "-m", model.to_str().unwrap(), no_target.to_str().unwrap(), "--permutation"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no column 'y'"), "{}", String::from_utf8_lossy(&o.stderr));
    // A trial the model does not have, and --json without a file for the contributions.
    let o = automl(&["explain", "-m", model.to_str().unwrap(), csv.to_str().unwrap(), "--trial", "999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no configuration of trial 999; its trials are"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = automl(&["explain", "-m", model.to_str().unwrap(), csv.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out FILE"), "{}", String::from_utf8_lossy(&o.stderr));
    // A linear model has no trees: the refusal points to --permutation.
    let linear = fit(dir.path(), "linear", &csv, "y");
    let o = automl(&["explain", "-m", linear.to_str().unwrap(), csv.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--permutation"), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn classes_are_explained_per_label_and_mixed_units_are_refused_with_the_trials_to_choose() {
    let dir = tempfile::tempdir().unwrap();
    let csv = super::example("penguins.csv");
    let model_path = fit(dir.path(), "gbdt,random_forest", &csv, "species");
    let model = ModelArtifact::load(&model_path).unwrap();
    let table = model.read_csv(&csv, false).unwrap();
    let configurations = automl::artifact::configurations(&model.members);
    let whole = model.explain_table(&table, "penguins.csv", None);
    let mixed = configurations.iter().any(|c| c.first.learner == "gbdt") && configurations.iter().any(|c| c.first.learner == "random_forest");
    if mixed {
        let err = whole.expect_err("boosters' margins and forests' probabilities do not add up").to_string();
        assert!(err.contains("--trial"), "{err}");
    }
    for c in &configurations {
        let e = model.explain_table(&table, "penguins.csv", Some(c.first.trial)).unwrap();
        assert_eq!(e.outputs, ["Adelie", "Chinstrap", "Gentoo"]);
        assert_eq!(e.trials, [c.first.trial]);
        for (i, row) in e.values.outer_iter().enumerate() {
            for k in 0..3 {
                assert!((row.column(k).sum() - e.raw[[i, k]]).abs() < 1e-9);
            }
        }
        if c.first.learner == "random_forest" {
            // Forests explain probabilities: each row's outputs sum to 1.
            assert!(e.raw.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
        }
    }
}
