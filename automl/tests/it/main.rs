//! Integration tests of the `automl` crate: the library API and the CLI end to end.
mod cli;
#[cfg(feature = "kubernetes")]
mod fake_apiserver;
#[cfg(feature = "kubernetes")]
mod kubernetes;
#[cfg(feature = "kubernetes")]
mod operator;
mod explain;
mod library;
mod report;
#[cfg(feature = "plugins")]
mod plugins;
#[cfg(feature = "plugins")]
mod hostile;

use std::path::{Path, PathBuf};

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

/// A bundled example CSV.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data").join(name)
}

/// A small binary data set with odd labels, a categorical column with a null-like
/// category, an ID column, an all-missing column, NaN/inf values and rows without target.
pub fn messy_csv(n: usize) -> String {
    let mut s = String::from("id,x,color,empty,z,label\n");
    for i in 0..n {
        let x = (i % 17) as f64 / 3.0;
        let color = ["red", "NA", "blue", "green"][i % 4];
        let z = match i % 23 {
            0 => "inf".to_string(),
            1 => "NaN".to_string(),
            _ => format!("{}", (i * 7 % 11) as f64),
        };
        let label = if i % 29 == 0 { "" } else if x + if color == "blue" { 2.0 } else { 0.0 } > 3.0 { "<=50K, \"yes\"" } else { "[75.000-" };
        let label = if label.contains(',') { format!("\"{}\"", label.replace('"', "\"\"")) } else { label.to_string() };
        s.push_str(&format!("{i},{x},{color},,{z},{label}\n"));
    }
    s
}
