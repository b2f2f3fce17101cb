//! Preprocessor plugin `reshaping-preprocessor`, for the host's tests: its output columns
//! are not its input columns. Each numeric column `c` comes back renamed `pp_c`, a new
//! column `pp_rows_sum` holds each row's sum of them, and other columns are passed through.
//! When a column named `sleep` holds a value above 1, `transform` first sleeps for an
//! hour inside a WASI call (`std::thread::sleep`): a model trained on data whose `sleep`
//! column is 0 or 1 then hangs at predict time on data where it is 5, unless the host bounds
//! the call.
//!
//! Build: `../../build.sh` (writes `dist/reshaping_preprocessor.wasm`).

use automl_plugin_sdk::{export_preprocessor, Column, DType, PluginInfo, Preprocessor, Table};

/// The plugin; it keeps no state.
pub struct Reshaping;

fn numeric(dtype: DType) -> bool {
    matches!(dtype, DType::Float64 | DType::Int64)
}

impl Preprocessor for Reshaping {
    fn info() -> PluginInfo {
        PluginInfo::new("reshaping-preprocessor", env!("CARGO_PKG_VERSION"), "Test plugin: renames and adds columns")
    }

    fn fit(_train: &Table) -> Result<Vec<u8>, String> {
        Ok(Vec::new())
    }

    fn transform(_state: &[u8], data: Table) -> Result<Table, String> {
        if let Some(sleep) = data.column("sleep") {
            if sleep.to_f64s()?.iter().any(|&v| v > 1.0) {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        let rows = data.rows();
        let mut sums = vec![0.0; rows];
        let mut columns = Vec::new();
        for column in data.into_columns() {
            if numeric(column.dtype()) {
                let values = column.to_f64s()?;
                for (sum, (i, v)) in sums.iter_mut().zip(values.iter().enumerate()) {
                    if column.is_valid(i) {
                        *sum += v;
                    }
                }
                let name = format!("pp_{}", column.name());
                columns.push(column.with_name(name));
            } else {
                columns.push(column);
            }
        }
        columns.push(Column::from_f64s("pp_rows_sum", &sums, None));
        Ok(Table::new(rows, columns)?)
    }
}

export_preprocessor!(Reshaping);
