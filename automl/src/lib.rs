//! automl
