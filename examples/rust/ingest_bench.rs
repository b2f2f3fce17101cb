//! Ingest speed and memory: `automl_core::data::read_csv` (structure check, polars parse,
//! conversion to the engine's table) against polars' own CSV reader on the same file.
//!
//!     cargo run --release -p automl --example ingest_bench -- [SIZE_MB=1024] [PATH=/tmp/automl-ingest.csv]
//!
//! Generates the file when absent: 8 numeric columns, 2 categorical, 1 with missing values.
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use polars_io::prelude::*;

fn generate(path: &Path, mb: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "a,b,c,d,e,f,g,h,city,grade,maybe,y")?;
    let cities = ["Paris", "Lagos", "Lima", "Oslo", "Pune", "Kyoto"];
    let mut written = 0usize;
    let mut i: u64 = 0;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while written < mb << 20 {
        let mut line = String::with_capacity(128);
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push_str(&format!("{:.4},", (x % 1_000_000) as f64 / 997.0));
        }
        let maybe = if i % 10 == 0 { String::new() } else { (i % 97).to_string() };
        line.push_str(&format!("{},{},{},{}\n", cities[(x % 6) as usize], ["A", "B", "C"][(i % 3) as usize], maybe, i % 2));
        written += line.len();
        f.write_all(line.as_bytes())?;
        i += 1;
    }
    f.flush()
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok())))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let mb: usize = args.get(1).map_or(Ok(1024), |s| s.parse())?;
    let path = args.get(2).map_or("/tmp/automl-ingest.csv".to_string(), |s| s.clone());
    let path = Path::new(&path);
    if !path.exists() {
        generate(path, mb)?;
    }
    let size = std::fs::metadata(path)?.len() as f64 / (1 << 20) as f64;
    let which = args.get(3).map(String::as_str).unwrap_or("both");
    println!("| reader | file MB | seconds | MB/s | peak RSS MB |\n|---|---|---|---|---|");
    if which != "automl" {
        let t = Instant::now();
        let df = CsvReadOptions::default().with_has_header(true).try_into_reader_with_file_path(Some(path.to_path_buf()))?.finish()?;
        let s = t.elapsed().as_secs_f64();
        println!("| polars CsvReader ({} rows) | {size:.0} | {s:.2} | {:.0} | {:.0} |", df.height(), size / s, peak_rss_mb());
    }
    if which != "polars" {
        let t = Instant::now();
        let table = automl::core::data::read_csv(path, &Default::default())?;
        let s = t.elapsed().as_secs_f64();
        println!("| automl read_csv ({} rows) | {size:.0} | {s:.2} | {:.0} | {:.0} |", table.n_rows, size / s, peak_rss_mb());
    }
    Ok(())
}
