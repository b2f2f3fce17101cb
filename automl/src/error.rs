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
    #[error("Kubernetes: {message}{}", .source.as_ref().map_or(String::new(), |s| format!(": {s}")))]
    Cluster {
        /// What was being done, and what to check.
        message: String,
        /// The client's error, when there is one (a `kube::Error`).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A thread could not be started (for a trial, a hash, the run itself).
    #[error("cannot start a thread for {what}: {source}")]
    Thread {
        /// What the thread was for.
        what: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// A value could not be encoded (settings for the journal as JSON, Jobs as YAML).
    #[error("cannot encode {what}: {source}")]
    Serialize {
        /// What was being encoded, and as what.
        what: String,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A trial's data could not be downloaded.
    #[error("cannot fetch the data from {url}: {message}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The async runtime that talks to the cluster or downloads data could not start.
    #[error("cannot start the async runtime for {what}: {source}")]
    Runtime {
        /// What it was for.
        what: String,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// No trial gave a model; the reasons of the first few.
    #[error("no trial succeeded ({outcomes}); first failures:\n  {}", .reasons.join("\n  "))]
    NoSuccessfulTrial {
        /// Number of trials.
        count: usize,
        /// How they ended, counted apart ("4 failed, 2 timed out").
        outcomes: String,
        /// Their reasons.
        reasons: Vec<String>,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A cluster error with no underlying client error.
    pub fn cluster(message: impl Into<String>) -> Self {
        Error::Cluster { message: message.into(), source: None }
    }

    /// A cluster error caused by `source` (a `kube::Error`, say).
    pub fn cluster_caused(message: impl Into<String>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Cluster { message: message.into(), source: Some(Box::new(source)) }
    }
}
