//! What the prepared copy of the data saves each trial pod, on a CSV of about 100 MB.
//!
//! ```text
//! cargo build --release -p automl --bin automl --example prepared_bench
//! target/release/examples/prepared_bench [MEGABYTES] [RUNS] [--keep]
//! ```
//!
//! `--keep` leaves the folder in place and prints the two `automl trial` commands, to time
//! them with `farm-bench` (which also reports their peak memory).
//!
//! It writes a deterministic CSV (8 numeric columns, 2 categorical ones, a binary target)
//! into a temporary folder, does what the controller does once (digest, parse and
//! profile, write the prepared copy), then runs the same trial pod (`automl trial --spec`,
//! a small booster on a holdout split) RUNS times reading the CSV and RUNS times reading
//! the prepared copy, in turns, and prints a table of medians (min–max).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use automl::core::task::TaskChoice;
use automl::evaluate::ingest;
use automl::prepared::{share, Source, TrialDataRef};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let mut args = std::env::args().skip(1);
    let megabytes: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let runs: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let keep = args.next().as_deref() == Some("--keep");
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/automl");
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("wide.csv");
    let rows = write_csv(&csv, megabytes << 20)?;
    let csv_bytes = std::fs::metadata(&csv)?.len();
    // The controller's side, once per experiment.
    let t = Instant::now();
    let sha256 = automl::util::sha256_file(&csv)?;
    let digest_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ingested = ingest(&csv, None, "y", TaskChoice::Binary, &[], None)?;
    let parse_s = t.elapsed().as_secs_f64();
    let source = Source {
        csv_sha256: sha256.clone(),
        target: "y".into(),
        task: ingested.task,
        na_values: Vec::new(),
        delimiter: None,
    };
    let t = Instant::now();
    let data = TrialDataRef {
        table: &ingested.table,
        target: &ingested.target,
        features: &ingested.features,
    };
    let (prepared, prepared_sha) = share(&dir.path().join("prepared"), &source, &data)?;
    let write_s = t.elapsed().as_secs_f64();
    let prepared_bytes = std::fs::metadata(&prepared)?.len();
    drop(ingested);
    let spec = |with: bool| -> Res<PathBuf> {
        let file = dir
            .path()
            .join(if with { "prepared.json" } else { "csv.json" });
        let prepared =
            with.then(|| serde_json::json!({ "path": prepared, "sha256": prepared_sha }));
        let spec = serde_json::json!({
            "id": 1, "learner": "gbdt", "metric": "log_loss", "seed": 1, "split_seed": 0,
            "validation": { "holdout": { "fraction": 0.2 } },
            "config": { "n_estimators": { "Int": 4 }, "num_leaves": { "Int": 4 }, "learning_rate": { "Float": 0.1 } },
            "data": { "path": csv, "target": "y", "task": "binary", "na_values": [], "sha256": sha256, "prepared": prepared },
        });
        std::fs::write(&file, spec.to_string())?;
        Ok(file)
    };
    let (with_csv, with_prepared) = (spec(false)?, spec(true)?);
    let mut times = (Vec::new(), Vec::new());
    for _ in 0..runs {
        times.0.push(trial(&bin, &with_csv, dir.path())?);
        times.1.push(trial(&bin, &with_prepared, dir.path())?);
    }
    println!("data: {rows} rows x 11 columns, CSV {:.1} MB, prepared copy {:.1} MB; {runs} runs each, in turns\n", mb(csv_bytes), mb(prepared_bytes));
    println!("| step | seconds |\n|---|---|");
    println!("| controller, once: SHA-256 of the CSV | {digest_s:.2} |");
    println!("| controller, once: parse and profile the CSV | {parse_s:.2} |");
    println!("| controller, once: write the prepared copy | {write_s:.2} |");
    println!(
        "| trial pod reading the CSV (median, min-max) | {} |",
        spread(&mut times.0)
    );
    println!(
        "| trial pod reading the prepared copy (median, min-max) | {} |",
        spread(&mut times.1)
    );
    println!(
        "| saved per trial (median of the paired differences) | {:.2} |",
        median(
            &mut times
                .0
                .iter()
                .zip(&times.1)
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>()
        )
    );
    if keep {
        let kept = dir.keep();
        let command = |spec: &Path| {
            format!(
                "AUTOML_TERMINATION_MESSAGE_PATH={}/termination {} trial --spec {}",
                kept.display(),
                bin.display(),
                spec.display()
            )
        };
        println!(
            "\nkept {}:\n  {}\n  {}",
            kept.display(),
            command(&with_csv),
            command(&with_prepared)
        );
    }
    Ok(())
}

/// Runs one trial pod; its wall time in seconds.
fn trial(bin: &Path, spec: &Path, dir: &Path) -> Res<f64> {
    let t = Instant::now();
    let o = Command::new(bin)
        .args(["trial", "--spec"])
        .arg(spec)
        .env("AUTOML_TERMINATION_MESSAGE_PATH", dir.join("termination"))
        .output()?;
    let s = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() || stderr.contains("cannot be used") {
        return Err(format!("the trial failed or did not use its data as asked: {stderr}").into());
    }
    Ok(s)
}

/// A CSV of about `bytes`, the same every time (a fixed-seed generator).
fn write_csv(path: &Path, bytes: usize) -> Res<usize> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "a,b,c,d,e,f,g,h,color,city,y")?;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut written, mut rows) = (0usize, 0usize);
    while written < bytes {
        let x: Vec<f64> = (0..8).map(|_| next()).collect();
        let (color, city) = ((next() * 12.0) as usize, (next() * 300.0) as usize);
        let y = u8::from(
            x[0] + 0.5 * x[1] - x[2] * x[3] + 0.1 * color as f64 / 12.0 + 0.3 * (next() - 0.5)
                > 0.45,
        );
        let line = format!(
            "{:.4},{:.3},{:.5},{},{:.2},{:.4},{:.6},{:.3},c{color},city{city},{y}\n",
            x[0],
            x[1] * 100.0 - 50.0,
            x[2],
            (x[3] * 10_000.0) as u32,
            x[4] * 1e3,
            x[5],
            x[6],
            x[7] * 10.0
        );
        out.write_all(line.as_bytes())?;
        written += line.len();
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn spread(v: &mut [f64]) -> String {
    let m = median(v);
    format!("{m:.2} ({:.2}-{:.2})", v[0], v[v.len() - 1])
}
