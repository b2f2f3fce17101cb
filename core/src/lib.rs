//! `automl-core`: data ingest, schema and task inference, profiling, preprocessing,
//! learners, metrics, validation and search-space types for the `automl` engine.
//!
//! Everything here works on in-memory data and is independent of how trials are
//! scheduled; the `automl` crate builds experiments on top.
pub mod calibrate;
pub mod data;
pub mod error;
pub mod forest;
pub mod gbdt;
pub mod learners;
pub mod metrics;
pub mod preprocess;
pub mod profile;
pub mod shap;
pub mod space;
pub mod task;
pub mod validation;

pub use error::{Error, Result};
