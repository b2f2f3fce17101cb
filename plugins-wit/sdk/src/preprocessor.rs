//! The [`Preprocessor`] trait and its adapter to the generated bindings.

use std::marker::PhantomData;

use crate::__bindings::preprocessor::exports::automl::plugins::preprocessor::Guest;
use crate::{raw, PluginInfo, Table};

/// A custom preprocessing step (world `preprocessor-plugin`).
///
/// It sees the raw feature columns (never the target), before the engine's own pipeline.
/// The host calls [`fit`](Preprocessor::fit) on each training fold and on all rows for
/// the final model, stores the returned state in `model.automl`, and calls
/// [`transform`](Preprocessor::transform) with that state on every table to transform,
/// including at `automl predict` time.
///
/// Export an implementation with [`export_preprocessor!`](crate::export_preprocessor).
pub trait Preprocessor {
    /// Name, version and description; the SDK reports the kind `preprocessor`.
    fn info() -> PluginInfo;

    /// Learns from the training rows; returns the fitted state in any encoding the plugin
    /// likes (the host keeps it and passes it back unchanged).
    fn fit(train: &Table) -> Result<Vec<u8>, String>;

    /// Transforms `data` with a fitted `state`. The result must have `data.rows()` rows
    /// (the SDK returns an error otherwise); its columns become the features the engine
    /// sees: return the columns you keep, add new ones, leave out ones to drop.
    fn transform(state: &[u8], data: Table) -> Result<Table, String>;
}

/// Implements the generated `Guest` trait for any [`Preprocessor`]; used by
/// [`export_preprocessor!`](crate::export_preprocessor).
pub struct PreprocessorAdapter<T>(PhantomData<T>);

impl<T: Preprocessor> Guest for PreprocessorAdapter<T> {
    fn describe() -> raw::PluginInfo {
        T::info().into_raw(raw::PluginKind::Preprocessor)
    }

    fn fit(train: raw::Table) -> Result<Vec<u8>, String> {
        let train = Table::from_raw(train).map_err(|e| format!("training table: {e}"))?;
        T::fit(&train)
    }

    fn transform(state: Vec<u8>, data: raw::Table) -> Result<raw::Table, String> {
        let data = Table::from_raw(data).map_err(|e| format!("table to transform: {e}"))?;
        let rows = data.rows();
        let out = T::transform(&state, data)?;
        if out.rows() != rows {
            return Err(format!("transform returned {} rows for {rows} input rows", out.rows()));
        }
        Ok(out.into_raw())
    }
}
