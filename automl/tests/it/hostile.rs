//! Hostile and careless plugins against the host's limits (issue 13): guests that block in
//! a WASI call, where an epoch deadline cannot reach them, and preprocessors whose output
//! columns are not their input columns. Each deadline test prints how long past its limit
//! the call ended (the overshoot); run with `--nocapture` to see the figures.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use automl::core::metrics::{Metric, Prediction};
use automl::core::task::Target;
use automl::plugins::{MetricPlugin, PluginHost, SandboxPolicy};
use ndarray::array;

fn component(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/dist").join(format!("{name}.wasm"));
    assert!(p.is_file(), "{} is missing: build the example plugins first with examples/plugins/build.sh", p.display());
    p
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap_or_default()
}

/// `automl ARGS` with `SLEEP_IN` set to `sleep_in` (the sleepy guests read it when it is
/// granted with `--plugin-allow-env SLEEP_IN`).
fn automl(args: &[&str], sleep_in: &str) -> (Output, Duration) {
    let start = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_automl"))
        .args(args)
        .env("AUTOML_CACHE_DIR", std::env::temp_dir().join("automl-test-cache"))
        .env("SLEEP_IN", sleep_in)
        .output()
        .expect("run automl");
    (o, start.elapsed())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const LIMIT: Duration = Duration::from_millis(500);

fn sleepy_host(sleep_in: &str, cache_dir: Option<&Path>) -> PluginHost {
    let env = vec![("SLEEP_IN".to_string(), sleep_in.to_string())];
    PluginHost::new(SandboxPolicy { call_timeout: LIMIT, env, cache_dir: cache_dir.map(Path::to_path_buf), ..SandboxPolicy::default() }).expect("host")
}

/// Asserts the call ended with the time-limit error within `limit` plus a margin, and
/// prints the overshoot.
fn ended_in_time(what: &str, error: &str, took: Duration, limit: Duration) {
    assert!(error.contains("exceeded its time limit"), "{what}: {error}");
    let overshoot = took.saturating_sub(limit);
    println!("overshoot past the {:.1} s limit, {what}: {:.1} ms", limit.as_secs_f64(), overshoot.as_secs_f64() * 1e3);
    assert!(took < limit + Duration::from_secs(2), "{what} took {took:?} for a limit of {limit:?}");
}

#[test]
fn a_guest_sleeping_in_describe_fails_its_load_within_the_deadline() {
    // Compiled once into a cache first, so that the figure is the call's, not the compiler's.
    let cache = tempfile::tempdir().expect("tmp");
    sleepy_host("", Some(cache.path())).load(&component("sleepy_metric")).expect("loads when it does not sleep");
    let host = sleepy_host("describe", Some(cache.path()));
    let start = Instant::now();
    let e = host.load(&component("sleepy_metric")).expect_err("a load that sleeps").to_string();
    ended_in_time("describe (library)", &e, start.elapsed(), LIMIT);
    assert!(e.contains("describe"), "{e}");
    // The CLI's inspect returns too, with the plugin error's exit code.
    let (o, took) = automl(&["plugin", "inspect", path(&component("sleepy_metric")), "--plugin-timeout", "1", "--plugin-allow-env", "SLEEP_IN"], "describe");
    assert_eq!(o.status.code(), Some(6), "{}", text(&o.stderr));
    // The process's own start-up and compile count here too.
    ended_in_time("describe (automl plugin inspect)", &text(&o.stderr), took, Duration::from_secs(1));
}

#[test]
fn a_guest_sleeping_in_score_fails_the_call_within_the_deadline_and_the_host_goes_on() {
    let host = sleepy_host("score", None);
    let metric = MetricPlugin::new(host.load(&component("sleepy_metric")).expect("loads: it only sleeps in score")).expect("metric");
    let truth = Target::Classes { codes: vec![0, 1], labels: vec!["no".into(), "yes".into()] };
    let p = Prediction::Classes(array![[0.9, 0.1], [0.2, 0.8]]);
    for _ in 0..2 {
        let start = Instant::now();
        let e = metric.score(&truth, &p).expect_err("a score that sleeps").to_string();
        ended_in_time("score", &e, start.elapsed(), LIMIT);
    }
    // Not a stuck host: another plugin on it still scores.
    let cost = MetricPlugin::new(host.load(&component("cost_weighted")).expect("cost")).expect("metric");
    assert!(cost.score(&truth, &p).expect("score").is_finite());
}

#[test]
fn a_stopping_rule_sleeping_in_judge_trial_fails_its_trials_not_the_run() {
    let out = tempfile::tempdir().expect("tmp");
    let data = crate::example("penguins.csv");
    let (o, took) = automl(
        &[
            "run", path(&data), "--target", "species", "--plugin", path(&component("sleepy_rule")), "--plugin-timeout", "0.3", "--max-trials", "3", "--concurrency", "1",
            "--learners", "gbdt", "--out", path(out.path()),
        ],
        "",
    );
    let trials = std::fs::read_to_string(out.path().join("trials.jsonl")).expect("trials");
    assert_eq!(trials.lines().count(), 3, "{trials}\n{}", text(&o.stderr));
    assert!(trials.lines().all(|l| l.contains("exceeded its time limit of 0.3 s")), "{trials}");
    assert!(took < Duration::from_secs(60), "the run took {took:?}");
}

/// No escape or other control character, and at most `max` characters.
fn assert_clean(what: &str, text: &str, max: usize) {
    assert!(!text.chars().any(char::is_control), "{what} keeps control characters: {:?}", &text[..text.len().min(300)]);
    assert!(text.chars().count() <= max, "{what} is {} characters long", text.chars().count());
}

#[test]
fn plugin_text_is_bounded_and_stripped_of_terminal_sequences() {
    let host = PluginHost::new(SandboxPolicy { cache_dir: None, ..SandboxPolicy::default() }).expect("host");
    let plugin = host.load(&component("escape_text")).expect("it loads: only its text is hostile");
    let info = plugin.info();
    assert!(info.version.starts_with("1.0"), "{:?}", info.version);
    assert_clean("version", &info.version, 65);
    assert_clean("description", &info.description, 301);
    let metric = MetricPlugin::new(plugin).expect("metric");
    let truth = Target::Classes { codes: vec![0, 1], labels: vec!["no".into(), "yes".into()] };
    let e = metric.score(&truth, &Prediction::Classes(array![[0.9, 0.1], [0.2, 0.8]])).expect_err("it always fails").to_string();
    assert_clean("the score error", &e, 5000);
    // Through the CLI: what reaches the terminal, the trials log and the leaderboard.
    let out = tempfile::tempdir().expect("tmp");
    let data = crate::example("penguins.csv");
    let (o, _) = automl(&["plugin", "inspect", path(&component("escape_text"))], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains('\u{1b}'), "{}", text(&o.stdout));
    let (o, _) = automl(&["run", path(&data), "--target", "species", "--plugin", path(&component("escape_text")), "--max-trials", "2", "--learners", "logistic", "--out", path(out.path())], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    for file in ["trials.jsonl", "leaderboard.csv", "journal.jsonl"] {
        let written = std::fs::read_to_string(out.path().join(file)).expect(file);
        assert!(!written.contains('\u{1b}') && !written.contains("\\u001b"), "{file}: {written}");
    }
    assert!(!text(&o.stderr).contains('\u{1b}') && !text(&o.stdout).contains('\u{1b}'));
}

#[test]
fn a_tampered_or_foreign_cache_entry_is_compiled_again_never_executed() {
    let cache = tempfile::tempdir().expect("tmp");
    let host = || PluginHost::new(SandboxPolicy { cache_dir: Some(cache.path().to_path_buf()), ..SandboxPolicy::default() }).expect("host");
    let entry_of = |digest: &str| {
        std::fs::read_dir(cache.path().join("plugins")).expect("cache").filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(digest))).expect("an entry")
    };
    let cost = host().load(&component("cost_weighted")).expect("cost");
    let trap = host().load(&component("trap")).expect("trap");
    let (cost_entry, trap_entry) = (entry_of(cost.digest()), entry_of(trap.digest()));
    let truth = Target::Classes { codes: vec![0, 1, 1, 0], labels: vec!["no".into(), "yes".into()] };
    let p = Prediction::Classes(array![[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]]);
    // A foreign entry: another component's compiled code, signed for that one, put under
    // this component's name (as someone able to write the folder could).
    std::fs::copy(&trap_entry, &cost_entry).expect("swap");
    let loaded = host().load(&component("cost_weighted")).expect("cost again");
    assert!(!loaded.load_stats().cached, "the foreign entry was used");
    assert_eq!(MetricPlugin::new(loaded).expect("metric").score(&truth, &p).expect("cost_weighted's own code"), 1.5);
    // The entry was rewritten: the next load maps it again.
    assert!(host().load(&component("cost_weighted")).expect("cost").load_stats().cached);
    // A byte flipped in the code is caught the same way.
    let mut bytes = std::fs::read(&cost_entry).expect("entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&cost_entry, &bytes).expect("tamper");
    assert!(!host().load(&component("cost_weighted")).expect("cost").load_stats().cached);
    // A folder other users may write is not used at all, and says why.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let open = host();
    assert!(open.cache_warning().is_some_and(|w| w.contains("writable by other users")), "{:?}", open.cache_warning());
    assert!(!open.load(&component("cost_weighted")).expect("cost").load_stats().cached);
}

/// This process's peak resident memory so far, in bytes (Linux). Printed, not asserted:
/// tests running beside this one share the process.
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok());
    kib.unwrap_or(0) << 10
}

#[test]
fn many_result_columns_aliasing_one_guest_buffer_cannot_multiply_host_memory() {
    use automl::core::data::{Column, Table};
    use automl::plugins::PreprocessorPlugin;
    let host = PluginHost::new(SandboxPolicy { memory_limit: 64 << 20, cache_dir: None, ..SandboxPolicy::default() }).expect("host");
    let bomb = PreprocessorPlugin::new(host.load(&component("column_bomb")).expect("it loads")).expect("preprocessor");
    let rows = 10_000;
    let table = Table { names: vec!["a".into()], columns: vec![Column::Numeric((0..rows).map(f64::from).collect())], n_rows: rows as usize };
    let inputs = vec!["a".to_string()];
    let before = peak_rss();
    let start = Instant::now();
    // 25,000 columns of 80,000 bytes each, all one buffer: 2 GB if copied one by one.
    let e = bomb.transform(&[], &table, &inputs).expect_err("refused").to_string();
    assert!(e.contains("more than its memory limit of 64 MiB") && e.contains("may not share"), "{e}");
    println!("column bomb (2 GB if copied): refused in {:.0} ms, peak memory of the test process grew by {} MiB (cap 64 MiB)", start.elapsed().as_secs_f64() * 1e3, peak_rss().saturating_sub(before) >> 20);
    // Its fitted state is 40 MiB: more than a preprocessor may keep in model.automl.
    let e = bomb.fit(&table, &inputs).expect_err("refused").to_string();
    assert!(e.contains("fitted state over 32 MiB"), "{e}");
}

/// A small binary data set with a `sleep` column of `sleep` values (0/1 alternating when
/// `None`), for the reshaping preprocessor.
fn reshaping_csv(dir: &Path, name: &str, sleep: Option<u32>) -> PathBuf {
    let mut s = String::from("x1,x2,sleep,y\n");
    for i in 0..120u32 {
        let (x1, x2) = (f64::from(i % 13), f64::from((i * 7) % 11));
        let y = if x1 + x2 > 11.0 { "yes" } else { "no" };
        s.push_str(&format!("{x1},{x2},{},{y}\n", sleep.unwrap_or(i % 2)));
    }
    crate::write(dir, name, &s)
}

#[test]
fn a_preprocessor_that_renames_and_adds_columns_predicts_from_the_raw_columns_and_cannot_hang_predict() {
    let dir = tempfile::tempdir().expect("tmp");
    let train = reshaping_csv(dir.path(), "train.csv", None);
    let out = dir.path().join("run");
    let (o, _) = automl(
        &["run", path(&train), "--target", "y", "--plugin", path(&component("reshaping_preprocessor")), "--max-trials", "2", "--learners", "logistic", "--out", path(&out)],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let model = out.join("model.automl");
    let artifact = automl::ModelArtifact::load(&model).expect("model");
    // The model reads the plugin's columns, the user gives the raw ones.
    assert!(artifact.inputs().iter().any(|c| c.name == "pp_rows_sum"), "{:?}", artifact.inputs());
    assert_eq!(artifact.raw_inputs(), ["x1", "x2", "sleep"]);
    let (o, _) = automl(&["predict", "--model", path(&model), path(&train)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout).lines().count(), 121);
    // A missing raw column is named as such.
    let partial = crate::write(dir.path(), "partial.csv", "x1,sleep\n1,0\n");
    let (o, _) = automl(&["predict", "--model", path(&model), path(&partial)], "");
    assert!(text(&o.stderr).contains("missing column 'x2'"), "{}", text(&o.stderr));
    // On these rows the stored plugin sleeps in a WASI call: predict still ends, at its
    // plugin time limit.
    let hang = reshaping_csv(dir.path(), "hang.csv", Some(5));
    let (o, took) = automl(&["predict", "--model", path(&model), path(&hang), "--plugin-timeout", "1"], "");
    assert!(!o.status.success());
    ended_in_time("transform at predict (automl predict)", &text(&o.stderr), took, Duration::from_secs(1));
    // The component compiled by the CLI runs is mapped from their cache: the figure is
    // the call's, not the compiler's.
    let cache_dir = Some(std::env::temp_dir().join("automl-test-cache"));
    let host = PluginHost::new(SandboxPolicy { call_timeout: LIMIT, cache_dir, ..SandboxPolicy::default() }).expect("host");
    let start = Instant::now();
    let e = artifact.predict_csv_in(&hang, Some(&host)).expect_err("a plugin that sleeps").to_string();
    ended_in_time("transform at predict (library)", &e, start.elapsed(), LIMIT);
}

#[test]
fn a_run_whose_trials_a_rule_all_stopped_still_gives_a_model() {
    let out = tempfile::tempdir().expect("tmp");
    let data = crate::example("penguins.csv");
    let (o, _) = automl(
        &["run", path(&data), "--target", "species", "--plugin", path(&component("always_stop")), "--max-trials", "4", "--learners", "logistic,gbdt", "--out", path(out.path()), "--json"],
        "",
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(summary["trials"]["early_stopped"], 4, "{summary}");
    assert_eq!(summary["best"]["status"], "early_stopped", "{summary}");
    assert!(summary["notes"].as_array().is_some_and(|n| n.iter().any(|n| n.as_str().unwrap_or_default().contains("no trial ran to the end"))), "{summary}");
    let model = out.path().join("model.automl");
    let (o, _) = automl(&["predict", "--model", path(&model), path(&data)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    // When no trial has a score at all, the message counts how they ended, apart.
    let (o, _) = automl(
        &["run", path(&data), "--target", "species", "--plugin", path(&component("sleepy_rule")), "--plugin-timeout", "0.2", "--max-trials", "2", "--learners", "gbdt", "--out", path(&out.path().join("b"))],
        "",
    );
    assert_eq!(o.status.code(), Some(5), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("no trial succeeded (2 failed)"), "{}", text(&o.stderr));
}
