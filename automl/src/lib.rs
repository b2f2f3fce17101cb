//! `automl`: search strategies, the experiment runner, executors, the plugin host, model
//! artifacts and reports, on top of `automl-core`. The `automl` binary is a thin layer
//! over this.
//!
//! ```no_run
//! let result = automl::Experiment::builder("examples/data/penguins.csv", "species")
//!     .time_budget(10.0)
//!     .build()?
//!     .run()?;
//! println!("{}", automl::report::summary_text(&result));
//! # Ok::<(), automl::Error>(())
//! ```
//!
//! Modules, lowest first (each uses only those above it in this list):
//!
//! | module | its one job |
//! |---|---|
//! | [`error`], [`util`] | errors with their causes; digests, JSON files, experiment ids |
//! | [`trial`] | trials as data: spec, result, status, the monitor trait |
//! | [`ensemble`] | out-of-fold predictions kept for the best trials; greedy ensemble selection |
//! | [`bagging`] | split models kept for the best trials, for a bagged final model |
//! | [`search`], [`stopping`] | strategies (ask/tell) and early-stopping rules |
//! | [`options`] | every option, resolved and validated in one place |
//! | [`plugins`] | the WebAssembly plugin host (feature `plugins`) |
//! | [`journal`], [`artifact`] | the crash-safe journal; the model file |
//! | [`explain`] | TreeSHAP contributions and permutation importance of a model file |
//! | [`outcome`], [`report`] | what a run produces; leaderboard, summaries, profile text |
//! | [`html`] | the run report: one self-contained HTML file with SVG charts |
//! | [`evaluate`] | ingest, shared design matrices, evaluating one trial here |
//! | [`prepared`] | the experiment's data parsed once, stored by content hash for trial pods |
//! | [`spec`] | custom-trial specs (feature `kubernetes`) |
//! | [`executor`] | the `Executor` trait and local threads |
//! | [`kubernetes`] | trials as Jobs, dry runs, the trial pod's side (feature `kubernetes`) |
//! | [`runner`] | setup, the scheduling loop, recording, the final refit |
//! | [`experiment`] | the public entry points: `Experiment`, `CustomExperiment`, `resume` |
pub mod error;
pub mod util;

pub mod trial;
pub mod ensemble;
pub mod bagging;

pub mod search;
pub mod stopping;

pub mod options;

pub mod plugins;

pub mod artifact;
pub mod journal;
pub mod explain;
pub mod runlock;

pub mod outcome;
pub mod report;
pub mod html;

pub mod evaluate;
pub mod prepared;

#[cfg(feature = "kubernetes")]
pub mod spec;

pub mod executor;

#[cfg(feature = "kubernetes")]
pub mod kubernetes;
#[cfg(feature = "kubernetes")]
pub mod operator;

pub mod runner;

pub mod experiment;

pub use artifact::ModelArtifact;
pub use automl_core as core;
pub use error::{Error, Result};
pub use experiment::{resume, CustomExperiment, Experiment, ExperimentBuilder, Resumed, Reused};
pub use options::{CancelToken, ExecutorKind, ExperimentOptions, RawOptions};
pub use outcome::{CustomResult, ExperimentResult, Observer, StopReason};
