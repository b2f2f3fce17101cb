//! Prediction time of an ensemble against its members alone.
//!
//!     cargo run --release -p automl --example ensemble_predict_bench -- MODEL.automl DATA.csv [ROWS] [REPEATS]
//!
//! Reads DATA.csv (repeated up to ROWS rows, default 100,000), then times, REPEATS times
//! (default 5; the median is printed), `predict_table` of the whole model and of each
//! member alone (a copy of the artifact with only that member), and prints a table: the
//! ensemble's time against its best member's (the first: the largest weight), and the
//! added cost per member added. Reading the CSV is left out: `automl predict` pays it once
//! whatever the model.
use std::path::PathBuf;
use std::time::Instant;

use automl::artifact::Member;
use automl::core::data::{read_csv, CsvOptions, Table};
use automl::ModelArtifact;

fn median_seconds(repeats: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn repeated(table: &Table, rows: usize) -> Table {
    let index: Vec<usize> = (0..rows).map(|i| i % table.n_rows.max(1)).collect();
    table.take(&index)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(data)) = (args.get(1), args.get(2)) else {
        return Err("usage: ensemble_predict_bench MODEL.automl DATA.csv [ROWS] [REPEATS]".into());
    };
    let rows: usize = args.get(3).map_or(Ok(100_000), |r| r.parse())?;
    let repeats: usize = args.get(4).map_or(Ok(5), |r| r.parse())?;
    let artifact = ModelArtifact::load(&PathBuf::from(model))?;
    let text: Vec<String> = artifact.inputs().iter().filter(|c| !matches!(c.kind, automl::core::profile::ColumnKind::Numeric)).map(|c| c.name.clone()).collect();
    let table = repeated(&read_csv(&PathBuf::from(data), &CsvOptions { text_columns: text, ..CsvOptions::default() })?, rows);
    let time = |a: &ModelArtifact| median_seconds(repeats, || drop(a.predict_table(&table, data).expect("predict")));
    let whole = time(&artifact);
    println!("{rows} rows, median of {repeats}\n");
    println!("| model | learner | weight | predict s |");
    println!("|---|---|---|---|");
    println!("| ensemble | {} members | 1 | {whole:.3} |", artifact.members.len());
    let mut alone = Vec::new();
    for m in &artifact.members {
        let mut one = artifact.clone();
        one.members = vec![Member { weight: 1.0, ..m.clone() }];
        let t = time(&one);
        println!("| trial {} | {} | {:.3} | {t:.3} |", m.trial, m.learner, m.weight);
        alone.push(t);
    }
    let best = alone.first().copied().unwrap_or(whole);
    let added = artifact.members.len().saturating_sub(1).max(1) as f64;
    println!("\nensemble / best member: {:.2}x; per member added: {:+.0}% of the best member's time", whole / best, 100.0 * (whole / best - 1.0) / added);
    Ok(())
}
