//! Errors of `automl-core`.
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ingest, profiling, preprocessing, fitting and scoring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed; `line` is 1-based and counts the header.
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1), 0 when unknown.
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// The data cannot be used as asked (no rows, one class, ...).
    #[error("{0}")]
    Data(String),
    /// A column named by the user, or needed by a model, is not there.
    #[error("column '{column}' not found{}", suggestion(.candidates))]
    MissingColumn {
        /// The column asked for.
        column: String,
        /// Closest names present, best first.
        candidates: Vec<String>,
    },
    /// A column has values of the wrong type.
    #[error("column '{column}': {message}")]
    ColumnType {
        /// The column.
        column: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A configuration that does not fit a learner's space or the task.
    #[error("invalid parameters for {learner}: {message}")]
    InvalidParams {
        /// The learner.
        learner: String,
        /// The problem.
        message: String,
    },
    /// A learner failed while fitting or predicting.
    #[error("{learner} failed: {message}")]
    Learner {
        /// The learner.
        learner: String,
        /// The learner's own message.
        message: String,
    },
    /// A WebAssembly plugin failed to load or failed in a call (trapped, ran out of time or
    /// memory, returned an error, or broke the plugin contract).
    #[error("plugin '{plugin}': {message}")]
    Plugin {
        /// The plugin's name (or file, before it could be asked).
        plugin: String,
        /// What happened and, where it helps, what to do.
        message: String,
    },
    /// An unknown learner, metric or option value.
    #[error("unknown {what} '{name}'; known: {}", .known.join(", "))]
    Unknown {
        /// "metric", "learner", ...
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// An error from polars that has no better description.
    #[error(transparent)]
    Polars(#[from] polars_core::error::PolarsError),
}

fn suggestion(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", candidates.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(" or "))
    }
}

impl Error {
    /// Shorthand for a learner failure.
    pub fn learner(learner: &str, message: impl std::fmt::Display) -> Self {
        Error::Learner { learner: learner.to_string(), message: message.to_string() }
    }
    /// Shorthand for invalid parameters.
    pub fn params(learner: &str, message: impl std::fmt::Display) -> Self {
        Error::InvalidParams { learner: learner.to_string(), message: message.to_string() }
    }
}

/// Names in `known` closest to `name` (edit distance, case-insensitive), best first.
pub fn closest_names(name: &str, known: &[String]) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &String)> = known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3) || k.to_lowercase().contains(&lower) || lower.contains(&k.to_lowercase()))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, k)| k.clone()).collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_column_names() {
        let known = vec!["income".to_string(), "age".to_string(), "education".to_string()];
        assert_eq!(closest_names("incme", &known), vec!["income".to_string()]);
        assert_eq!(closest_names("Income", &known), vec!["income".to_string()]);
        assert!(closest_names("zzzzzzzz", &known).is_empty());
    }
}
