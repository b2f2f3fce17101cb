//! Errors of the `automl` crate.
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong running an experiment or using a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Data, learner or metric errors from `automl-core`.
    #[error(transparent)]
    Core(#[from] automl_core::Error),
    /// An invalid setting (a usage error).
    #[error("{0}")]
    Config(String),
    /// A file could not be written or read.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A model file that is not ours, is damaged, or comes from an incompatible version.
    #[error("{path}: {message}")]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The Kubernetes cluster could not be reached or refused a request.
    #[error("Kubernetes: {0}")]
    Cluster(String),
    /// Every trial failed; the reasons of the first few.
    #[error("no trial succeeded ({count} failed); first failures:\n  {}", .reasons.join("\n  "))]
    NoSuccessfulTrial {
        /// Number of failed trials.
        count: usize,
        /// Their reasons.
        reasons: Vec<String>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
