//! Python bindings of the automl engine: the native module `automl._automl`. The public
//! Python API (`automl.AutoML`) is written in Python over these few functions; everything
//! here converts arguments and results and leaves the work to the `automl` crate.
mod errors;
mod fit;
mod frame;
mod model;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _automl(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add_function(wrap_pyfunction!(fit::profile, m)?)?;
    m.add_function(wrap_pyfunction!(fit::learners, m)?)?;
    m.add_function(wrap_pyfunction!(fit::metrics, m)?)?;
    Ok(())
}
