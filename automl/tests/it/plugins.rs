//! Plugins end to end: every kind loaded and used through `automl run` and `predict`,
//! hostile guests contained, cached loads, and a preprocessor's state surviving the model
//! file. The components are built from source by `examples/plugins/build.sh` (which
//! `.ci/test.sh` runs first).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use automl::core::metrics::{Metric, Prediction};
use automl::core::task::Target;
use automl::plugins::{MetricPlugin, PluginHost, PluginKind, SandboxPolicy};
use automl::ModelArtifact;
use ndarray::{array, Array1};

use crate::example;

fn component(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/dist").join(format!("{name}.wasm"));
    assert!(p.is_file(), "{} is missing: build the example plugins first with examples/plugins/build.sh", p.display());
    p
}

fn host(cache: Option<&Path>) -> PluginHost {
    let config = SandboxPolicy { memory_limit: 64 << 20, call_timeout: Duration::from_millis(500), cache_dir: cache.map(Path::to_path_buf), ..SandboxPolicy::default() };
    PluginHost::new(config).expect("host")
}

fn automl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_automl")).args(args).env("AUTOML_CACHE_DIR", std::env::temp_dir().join("automl-test-cache")).output().expect("run automl")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Scores a small binary prediction with a metric plugin.
fn score(plugin: &MetricPlugin) -> automl::core::Result<f64> {
    let truth = Target::Classes { codes: vec![0, 1, 1, 0], labels: vec!["no".into(), "yes".into()] };
    let p = Prediction::Classes(array![[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]]);
    plugin.score(&truth, &p)
}

#[test]
fn each_kind_is_recognised_with_its_description() {
    let h = host(None);
    for (file, kind, name) in [("log_transform", PluginKind::Preprocessor, "log-transform"), ("cost_weighted", PluginKind::Metric, "cost_weighted"), ("patience", PluginKind::StoppingRule, "patience")] {
        let p = h.load(&component(file)).expect(file);
        assert_eq!(p.kind(), kind, "{file}");
        assert_eq!(p.info().name, name);
        assert!(!p.info().version.is_empty());
        assert!(p.exports().iter().any(|e| e.starts_with(&format!("automl:plugins/{}@0.1", kind.name()))), "{:?}", p.exports());
        assert_eq!(p.digest().len(), 64);
    }
}

#[test]
fn the_metric_plugin_scores_like_its_definition() {
    let m = MetricPlugin::new(host(None).load(&component("cost_weighted")).expect("load")).expect("metric");
    assert_eq!(m.direction(), automl::core::metrics::Direction::Minimize);
    assert!(m.supports(automl::core::task::Task::Binary) && !m.supports(automl::core::task::Task::Regression));
    // Predicted classes 0,1,0,1 against 0,1,1,0: one false negative (5) and one false
    // positive (1) over 4 rows.
    assert_eq!(score(&m).expect("score"), 1.5);
}

#[test]
fn the_same_metric_in_python_and_javascript_scores_alike() {
    // Built with componentize-py and jco from examples/plugins (18 MB and 11 MB components:
    // compiled once into a cache shared by this test's two loads).
    let dir = tempfile::tempdir().expect("tmp");
    for (name, file) in [("cost_weighted_py", "cost_weighted_py"), ("cost_weighted_js", "cost_weighted_js")] {
        let m = MetricPlugin::new(host(Some(dir.path())).load(&component(file)).expect(file)).expect(file);
        assert_eq!(m.name(), name);
        assert_eq!(m.direction(), automl::core::metrics::Direction::Minimize);
        assert!(m.supports(automl::core::task::Task::Binary) && !m.supports(automl::core::task::Task::Multiclass));
        assert_eq!(score(&m).expect(file), 1.5, "{file}");
    }
}

#[test]
fn a_second_load_maps_the_cached_compilation() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = host(Some(dir.path())).load(&component("cost_weighted")).expect("load");
    let second = host(Some(dir.path())).load(&component("cost_weighted")).expect("load");
    assert!(!first.load_stats().cached && second.load_stats().cached);
    let cached: Vec<_> = std::fs::read_dir(dir.path().join("plugins")).expect("cache dir").collect();
    assert_eq!(cached.len(), 1);
}

#[test]
fn hostile_guests_are_contained_with_the_cause_named() {
    let h = host(None);
    let metric = |name: &str| MetricPlugin::new(h.load(&component(name)).expect(name)).expect(name);
    let e = score(&metric("endless_loop")).expect_err("endless loop").to_string();
    assert!(e.contains("exceeded its time limit of 0.5 s"), "{e}");
    let e = score(&metric("alloc_bomb")).expect_err("alloc bomb").to_string();
    assert!(e.contains("exceeded its memory limit of 64 MiB"), "{e}");
    let e = score(&metric("trap")).expect_err("trap").to_string();
    assert!(e.contains("unreachable") && e.contains("deliberate panic in trap plugin") && e.contains("about to panic"), "{e}");
    // No file, environment or network: every attempt fails inside the guest, which then
    // reports an error (a breach would return a score).
    let e = score(&metric("sandbox_probe")).expect_err("sandbox probe").to_string();
    assert!(e.contains("/etc/passwd") && e.contains("connect"), "{e}");
    // A trapped instance is discarded: the next call gets a fresh one, and its error shows
    // only what that call printed.
    let trap = metric("trap");
    for _ in 0..2 {
        let e = score(&trap).expect_err("trap again").to_string();
        assert_eq!(e.matches("about to panic").count(), 1, "{e}");
    }
    // The host is still usable afterwards, and a warm instance gets a full deadline per
    // call: calls spread over longer than one deadline (0.5 s) all succeed.
    let cost = metric("cost_weighted");
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_millis(800) {
        assert_eq!(score(&cost).expect("score"), 1.5);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_component_for_another_world_is_refused_at_load() {
    let e = host(None).load(&component("wrong_world")).expect_err("wrong world").to_string();
    // It exports automl:plugins/metric@0.1.0 by name, with other signatures.
    assert!(e.contains("does not implement the metric world of automl:plugins@0.1.0"), "{e}");
    let o = automl(&["plugin", "inspect", component("wrong_world").to_str().unwrap_or_default()]);
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    let not_wasm = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(not_wasm.path(), b"hello").expect("write");
    let e = host(None).load(not_wasm.path()).expect_err("not wasm").to_string();
    assert!(e.contains("not a WebAssembly file"), "{e}");
}

#[test]
fn a_metric_plugin_is_the_objective_through_the_cli() {
    let out = tempfile::tempdir().expect("tmp");
    let o = automl(&[
        "run", example("titanic.csv").to_str().unwrap_or_default(), "--target", "survived", "--plugin", component("cost_weighted").to_str().unwrap_or_default(),
        "--metric", "cost_weighted", "--max-trials", "6", "--concurrency", "1", "--out", out.path().to_str().unwrap_or_default(), "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["metric"], "cost_weighted");
    assert_eq!(summary["direction"], "minimize");
    assert_eq!(summary["plugins"][0]["info"]["name"], "cost_weighted");
    let best = summary["best"]["score"].as_f64().expect("score");
    assert!(best > 0.0 && best < 1.5, "mean cost per row {best}");
    let board = std::fs::read_to_string(out.path().join("leaderboard.csv")).expect("leaderboard");
    assert!(board.lines().skip(1).all(|l| l.split(',').nth(3) == Some("cost_weighted")), "{board}");
}

#[test]
fn other_metric_plugins_are_leaderboard_columns_and_cannot_fail_a_trial() {
    let out = tempfile::tempdir().expect("tmp");
    let o = automl(&[
        "run", example("titanic.csv").to_str().unwrap_or_default(), "--target", "survived", "--plugin", component("cost_weighted").to_str().unwrap_or_default(),
        "--plugin", component("trap").to_str().unwrap_or_default(), "--learners", "logistic,gbdt", "--max-trials", "4", "--concurrency", "1",
        "--out", out.path().to_str().unwrap_or_default(), "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["metric"], "log_loss");
    let cost = summary["best"]["extra_scores"]["cost_weighted"].as_f64().expect("cost_weighted beside the objective");
    assert!((0.0..=5.0).contains(&cost), "{cost}");
    let board = std::fs::read_to_string(out.path().join("leaderboard.csv")).expect("leaderboard");
    let header: Vec<&str> = board.lines().next().expect("header").split(',').collect();
    assert_eq!(header.last(), Some(&"cost_weighted"), "{board}");
    // The trap plugin panics on every call: no column, a note in each trial, no failed trial.
    assert!(!header.contains(&"trap"), "{board}");
    let trials: Vec<serde_json::Value> = std::fs::read_to_string(out.path().join("trials.jsonl")).expect("trials").lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(trials.len(), 4);
    for t in &trials {
        assert_ne!(t["status"], "failed", "{t}");
        assert!(t["message"].as_str().is_some_and(|m| m.contains("metric 'trap' failed") && !m.contains('\n')), "{t}");
        let cost = t["extra_scores"]["cost_weighted"].as_f64().expect("a cost per trial");
        assert!((0.0..=5.0).contains(&cost), "{t}");
        assert!(t["extra_scores"].get("trap").is_none(), "{t}");
    }
}

#[test]
fn a_hostile_objective_fails_its_trials_not_the_process() {
    let out = tempfile::tempdir().expect("tmp");
    let o = automl(&[
        "run", example("penguins.csv").to_str().unwrap_or_default(), "--target", "species", "--plugin", component("endless_loop").to_str().unwrap_or_default(),
        "--metric", "endless-loop", "--plugin-timeout", "0.3", "--max-trials", "3", "--concurrency", "1", "--out", out.path().to_str().unwrap_or_default(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    let journal = std::fs::read_to_string(out.path().join("trials.jsonl")).expect("journal");
    assert_eq!(journal.lines().count(), 3);
    assert!(journal.lines().all(|l| l.contains("\"failed\"") && l.contains("exceeded its time limit of 0.3 s")), "{journal}");
}

#[test]
fn a_preprocessor_is_fitted_stored_in_the_model_and_replayed_by_predict() {
    let out = tempfile::tempdir().expect("tmp");
    let data = example("titanic.csv");
    let o = automl(&[
        "run", data.to_str().unwrap_or_default(), "--target", "survived", "--plugin", component("log_transform").to_str().unwrap_or_default(),
        "--max-trials", "4", "--concurrency", "1", "--learners", "logistic,gbdt", "--out", out.path().to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let model = out.path().join("model.automl");
    let artifact = ModelArtifact::load(&model).expect("model");
    assert_eq!(artifact.preprocessors.len(), 1);
    let stored = &artifact.preprocessors[0];
    assert_eq!(stored.name, "log-transform");
    assert!(!stored.state.is_empty() && !stored.component.is_empty());
    // The state says which columns it transforms: non-negative numbers on the training rows.
    let state = String::from_utf8_lossy(&stored.state);
    assert!(state.contains("fare") && !state.contains("sex"), "{state}");
    // predict replays it from the model file alone: copy the model away from everything.
    let alone = tempfile::tempdir().expect("tmp");
    let copy = alone.path().join("model.automl");
    std::fs::copy(&model, &copy).expect("copy");
    let o = automl(&["predict", "--model", copy.to_str().unwrap_or_default(), data.to_str().unwrap_or_default(), "--proba"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let from_cli: Vec<f64> = text(&o.stdout).lines().skip(1).map(|l| l.split(',').nth(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)).collect();
    let direct = artifact.predict_csv(&data).expect("predict");
    let Prediction::Classes(p) = direct else { panic!("classification") };
    let direct: Array1<f64> = p.column(1).to_owned();
    assert_eq!(from_cli.len(), direct.len());
    for (a, b) in from_cli.iter().zip(direct.iter()) {
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    }
}

#[test]
fn a_stopping_plugin_can_end_the_run() {
    let out = tempfile::tempdir().expect("tmp");
    // Penguins is easy: the best score stops moving early, and the plugin's run-level rule
    // (no improvement in 20 finished trials) ends the run long before 400 trials or 120 s.
    let o = automl(&[
        "run", example("penguins.csv").to_str().unwrap_or_default(), "--target", "species", "--plugin", component("patience").to_str().unwrap_or_default(),
        "--max-trials", "400", "--time-budget", "120", "--concurrency", "1", "--learners", "logistic,naive_bayes,knn", "--out", out.path().to_str().unwrap_or_default(), "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["stop_reason"], "stopping_rule", "{summary}");
    assert!(summary["notes"][0].as_str().unwrap_or_default().contains("'patience' plugin rule ended the run"));
    assert!(summary["trials"]["total"].as_u64().unwrap_or(0) < 400);
}
