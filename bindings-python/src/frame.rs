//! DataFrames in: any object with the Arrow PyCapsule stream interface
//! (`__arrow_c_stream__`: polars, pyarrow, pandas >= 2.2 through pyarrow) becomes the
//! engine's [`Table`]. The Arrow buffers are imported without a copy and converted once by
//! [`Table::from_polars`], the same conversion the CLI applies to a parsed CSV.
use std::ffi::CStr;

use automl_core::data::Table;
use polars_core::prelude::*;
use polars_arrow::array::{Array, StructArray};
use polars_arrow::datatypes::ArrowDataType;
use polars_arrow::ffi::{ArrowArrayStream, ArrowArrayStreamReader};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::errors::data_error;

const STREAM_CAPSULE: &CStr = c"arrow_array_stream";

/// Reads `frame` (an object with `__arrow_c_stream__`) into a table; `source` names it in
/// errors.
pub fn table_from_arrow(frame: &Bound<'_, PyAny>, source: &str) -> PyResult<Table> {
    let df = dataframe_from_arrow(frame, source)?;
    let py = frame.py();
    // The conversion is pure Rust: let other Python threads run meanwhile.
    py.detach(|| Table::from_polars(&df)).map_err(|e| data_error(py, format!("{source}: {e}")))
}

fn dataframe_from_arrow(frame: &Bound<'_, PyAny>, source: &str) -> PyResult<DataFrame> {
    if !frame.hasattr("__arrow_c_stream__")? {
        return Err(PyTypeError::new_err(format!(
            "{source}: expected an object with the Arrow stream interface (__arrow_c_stream__), got {}",
            frame.get_type().name()?
        )));
    }
    let capsule = frame.call_method0("__arrow_c_stream__")?;
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| PyTypeError::new_err(format!("{source}: __arrow_c_stream__ did not return a PyCapsule")))?;
    let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?.cast::<ArrowArrayStream>();
    // SAFETY: the capsule holds a valid `ArrowArrayStream` (its name was checked above).
    // The Arrow PyCapsule protocol lets the consumer move the stream out, leaving a
    // released (empty) stream behind, which the capsule's destructor then skips.
    #[allow(unsafe_code)]
    let stream = unsafe { std::ptr::replace(pointer.as_ptr(), ArrowArrayStream::empty()) };
    let bad = |e: PolarsError| data_error(frame.py(), format!("{source}: cannot read the Arrow data: {e}"));
    // SAFETY: `stream` was exported by the producer under the C stream interface.
    #[allow(unsafe_code)]
    let mut reader = unsafe { ArrowArrayStreamReader::try_new(Box::new(stream)) }.map_err(bad)?;
    let ArrowDataType::Struct(fields) = reader.field().dtype().clone() else {
        return Err(PyTypeError::new_err(format!("{source}: the Arrow stream does not hold a table (a struct of columns)")));
    };
    let mut chunks: Vec<Vec<Box<dyn Array>>> = vec![Vec::new(); fields.len()];
    loop {
        // SAFETY: the reader owns the stream; batches are read one at a time.
        #[allow(unsafe_code)]
        let next = unsafe { reader.next() };
        let Some(batch) = next else { break };
        let batch = batch.map_err(bad)?;
        let Some(batch) = batch.as_any().downcast_ref::<StructArray>() else {
            return Err(PyTypeError::new_err(format!("{source}: an Arrow batch is not a struct of columns")));
        };
        for (slot, values) in chunks.iter_mut().zip(batch.values()) {
            slot.push(values.clone());
        }
    }
    let mut columns = Vec::with_capacity(fields.len());
    for (field, arrays) in fields.iter().zip(chunks) {
        let series = if arrays.is_empty() {
            Series::new_empty(field.name.clone(), &DataType::from_arrow_field(field))
        } else {
            Series::try_from((field.name.clone(), arrays)).map_err(|e| {
                data_error(frame.py(), format!("{source}: column '{}' has an Arrow type the engine cannot read ({e}); cast it to a number or a string", field.name))
            })?
        };
        columns.push(series.into_column());
    }
    DataFrame::new_infer_height(columns).map_err(bad)
}
