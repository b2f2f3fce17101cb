//! Plugin benchmark: a metric plugin against the same metric in native Rust, a
//! preprocessing plugin's throughput against a native transform, and component loads cold
//! against cached. Build the plugins first (examples/plugins/build.sh, build-python.sh):
//!
//!     cargo run --release -p automl --example plugin_bench
//!
//! Prints a markdown table; each time is the median of several runs.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automl::core::data::{Column, Table};
use automl::core::metrics::{Metric, Prediction};
use automl::core::task::Target;
use automl::plugins::{MetricPlugin, PluginHost, PreprocessorPlugin, SandboxPolicy};
use ndarray::Array2;

fn dist(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/dist").join(name)
}

fn median(mut f: impl FnMut() -> Duration, runs: usize) -> Duration {
    let mut t: Vec<Duration> = (0..runs).map(|_| f()).collect();
    t.sort();
    t[runs / 2]
}

fn time(f: impl FnOnce()) -> Duration {
    let s = Instant::now();
    f();
    s.elapsed()
}

/// The cost-weighted metric in native Rust: false negatives cost 5, false positives 1.
fn native_cost(truth: &Target, p: &Prediction) -> f64 {
    let Target::Classes { codes, .. } = truth else { return f64::NAN };
    let pred = p.classes();
    let cost: f64 = codes.iter().zip(&pred).map(|(&t, &y)| match (t, y) {
        (1, 0) => 5.0,
        (0, 1) => 1.0,
        _ => 0.0,
    }).sum();
    cost / codes.len() as f64
}

fn data(n: usize) -> (Target, Prediction) {
    let codes: Vec<usize> = (0..n).map(|i| (i * 7919 % 13 < 6) as usize).collect();
    let proba = Array2::from_shape_fn((n, 2), |(i, j)| {
        let p1 = ((i * 104729) % 1000) as f64 / 1000.0;
        if j == 1 { p1 } else { 1.0 - p1 }
    });
    (Target::Classes { codes, labels: vec!["0".into(), "1".into()] }, Prediction::Classes(proba))
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cache = tempfile::tempdir()?;
    let config = SandboxPolicy { cache_dir: Some(cache.path().to_path_buf()), ..SandboxPolicy::default() };
    let host = PluginHost::new(config.clone())?;
    let mut rows = Vec::new();

    // Loads: cold (compile) then cached (map the compiled code), each in a fresh host.
    let mut metrics = Vec::new();
    for (label, file) in [("Rust", "cost_weighted.wasm"), ("Python", "cost_weighted_py.wasm"), ("JavaScript", "cost_weighted_js.wasm")] {
        let path = dist(file);
        if !path.is_file() {
            println!("(skipping the {label} plugin: {} missing)", path.display());
            continue;
        }
        let size = std::fs::metadata(&path)?.len();
        let cold = time(|| drop(PluginHost::new(SandboxPolicy { cache_dir: None, ..config.clone() }).and_then(|h| h.load(&path))));
        let _ = host.load(&path)?; // fills the cache
        let cached = median(|| time(|| drop(PluginHost::new(config.clone()).and_then(|h| h.load(&path)))), 5);
        rows.push(format!("| load {label} component ({:.1} MB) | cold compile {} ms | cached {} ms | {:.0}x | cached < 10 ms |", size as f64 / 1e6, ms(cold), ms(cached), cold.as_secs_f64() / cached.as_secs_f64()));
        metrics.push((label, MetricPlugin::new(host.load(&path)?)?));
    }

    // Warm per-call overhead: 10 rows, on a reused instance.
    let (t10, p10) = data(10);
    for (label, m) in &metrics {
        let call = median(|| time(|| drop(m.score(&t10, &p10))), 201);
        rows.push(format!("| {label} metric, 10 rows (per call, warm instance) | {:.1} µs | native {:.2} µs | | < 50 µs |", call.as_secs_f64() * 1e6, median(|| time(|| { std::hint::black_box(native_cost(&t10, &p10)); }), 201).as_secs_f64() * 1e6));
    }

    // Metric on 1k and 1M predictions.
    for n in [1_000usize, 1_000_000] {
        let (t, p) = data(n);
        let native = median(|| time(|| { std::hint::black_box(native_cost(&t, &p)); }), 21);
        for (label, m) in &metrics {
            let a = m.score(&t, &p)?;
            let b = native_cost(&t, &p);
            assert!((a - b).abs() < 1e-9, "{label} plugin {a} vs native {b}");
            let runs = if n > 100_000 && *label != "Rust" { 5 } else { 21 };
            let plugin = median(|| time(|| drop(m.score(&t, &p))), runs);
            let goal = match *label {
                "Rust" => "within 3x (1M)",
                "Python" => "within 30x (1M)",
                _ => "",
            };
            rows.push(format!("| {label} metric, {n} rows | plugin {} ms | native {} ms | {:.1}x | {goal} |", ms(plugin), ms(native), plugin.as_secs_f64() / native.as_secs_f64()));
        }
    }

    // Preprocessing: log-transform of 10 numeric columns x 100k rows.
    let path = dist("log_transform.wasm");
    if path.is_file() {
        let n = 100_000;
        let names: Vec<String> = (0..10).map(|i| format!("c{i}")).collect();
        let table = Table { names: names.clone(), columns: (0..10).map(|c| Column::Numeric((0..n).map(|i| ((i * (c + 3)) % 1000) as f64 / 10.0).collect())).collect(), n_rows: n };
        let pre = PreprocessorPlugin::new(host.load(&path)?)?;
        let state = pre.fit(&table, &names)?;
        let plugin = median(|| time(|| drop(pre.transform(&state, &table, &names))), 9);
        let native = median(
            || time(|| drop(std::hint::black_box(table.columns.iter().map(|c| match c { Column::Numeric(v) => v.iter().map(|x| x.ln_1p()).collect::<Vec<f64>>(), _ => Vec::new() }).collect::<Vec<_>>()))),
            9,
        );
        let mb = (n * 10 * 8) as f64 / 1e6;
        rows.push(format!("| log-transform 10 x 100k ({mb:.0} MB) | plugin {:.0} MB/s ({} ms) | native {:.0} MB/s ({} ms) | {:.1}x | |", mb / plugin.as_secs_f64(), ms(plugin), mb / native.as_secs_f64(), ms(native), plugin.as_secs_f64() / native.as_secs_f64()));
    }

    println!("| measurement | plugin | native / cached | ratio | goal |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
