//! `automl`: search strategies, the experiment runner, trial execution, model artifacts
//! and reports, on top of `automl-core`. The `automl` binary is a thin layer over this.
//!
//! ```no_run
//! let result = automl::Experiment::builder("examples/data/penguins.csv", "species")
//!     .time_budget(10.0)
//!     .build()?
//!     .run()?;
//! println!("{}", automl::report::summary_text(&result));
//! # Ok::<(), automl::Error>(())
//! ```
pub mod artifact;
pub mod error;
pub mod kubernetes;
pub mod plugins;
pub mod experiment;
pub mod journal;
pub mod report;
pub mod search;
pub mod stopping;
pub mod trial;

pub use artifact::ModelArtifact;
pub use automl_core as core;
pub use error::{Error, Result};
pub use experiment::{CancelToken, ExecutorChoice, Experiment, ExperimentBuilder, ExperimentConfig, ExperimentResult, Observer, StopReason};
