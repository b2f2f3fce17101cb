//! Engine errors as Python exceptions. The classes live in the pure-Python module
//! `automl.errors` (so that, say, `ConfigError` is both an `AutoMLError` and a
//! `ValueError`); this maps each engine error to one of them, keeping the Rust message.
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// An exception of class `name` from `automl.errors`, carrying `message`.
pub fn exception(py: Python<'_>, name: &str, message: String) -> PyErr {
    let class = py.import("automl.errors").and_then(|m| m.getattr(name));
    match class {
        Ok(class) => match class.call1((message.clone(),)) {
            Ok(instance) => PyErr::from_value(instance),
            Err(e) => e,
        },
        // Only when the package is broken: still say what happened.
        Err(_) => PyRuntimeError::new_err(message),
    }
}

/// A `DataError`: the data cannot be used as it is.
pub fn data_error(py: Python<'_>, message: String) -> PyErr {
    exception(py, "DataError", message)
}

/// The exception for an engine error.
pub fn to_py(py: Python<'_>, error: automl::Error) -> PyErr {
    use automl::core::Error as Core;
    let class = match &error {
        automl::Error::Config(_) => "ConfigError",
        automl::Error::Model { .. } => "ModelFileError",
        automl::Error::NoSuccessfulTrial { .. } => "TrialsFailedError",
        automl::Error::Io { .. } | automl::Error::Thread { .. } | automl::Error::Serialize { .. } | automl::Error::Runtime { .. } => "AutoMLError",
        automl::Error::Cluster { .. } => "ClusterError",
        automl::Error::Download { .. } => "DataError",
        automl::Error::Core(core) => match core {
            Core::InvalidParams { .. } | Core::Unknown { .. } => "ConfigError",
            Core::Learner { .. } => "AutoMLError",
            Core::Plugin { .. } => "PluginError",
            _ => "DataError",
        },
    };
    exception(py, class, with_causes(&error))
}

/// The error's message followed by the causes it does not already spell out (a cluster
/// error's client error, say), as the CLI prints them.
fn with_causes(error: &automl::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        source = cause.source();
    }
    message
}
