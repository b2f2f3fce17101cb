//! Preprocessor plugin `log-transform`: replaces each float64 or int64 column that is
//! non-negative on the training rows by `ln(1 + x)`, as float64, keeping missing values.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` (or `../build.sh`), then
//! `automl run data.csv --target y --plugin dist/log_transform.wasm`.

use automl_plugin_sdk::{export_preprocessor, Column, DType, PluginInfo, Preprocessor, Table};

/// The plugin. Its fitted state is the names of the columns to transform, one per line.
pub struct LogTransform;

impl Preprocessor for LogTransform {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "log-transform",
            env!("CARGO_PKG_VERSION"),
            "ln(1+x) on numeric columns that are non-negative in training",
        )
    }

    fn fit(train: &Table) -> Result<Vec<u8>, String> {
        let mut chosen = Vec::new();
        for column in train.iter().filter(|c| is_numeric(c.dtype())) {
            // A name with a line break cannot be stored in this state format: left alone.
            if column.name().contains('\n') {
                continue;
            }
            let values = column.to_f64s()?;
            let mut present = values.iter().enumerate().filter(|&(i, _)| column.is_valid(i)).map(|(_, &v)| v);
            let mut any = false;
            // `v >= 0.0` is false for NaN, so a column holding NaN values is left alone.
            let non_negative = present.all(|v| {
                any = true;
                v >= 0.0
            });
            if any && non_negative {
                chosen.push(column.name());
            }
        }
        Ok(chosen.join("\n").into_bytes())
    }

    fn transform(state: &[u8], data: Table) -> Result<Table, String> {
        let state = std::str::from_utf8(state).map_err(|e| format!("state is not UTF-8: {e}"))?;
        let chosen: Vec<&str> = state.lines().collect();
        let rows = data.rows();
        let columns = data
            .into_columns()
            .into_iter()
            .map(|column| {
                if !chosen.contains(&column.name()) || !is_numeric(column.dtype()) {
                    return Ok(column);
                }
                // Values below zero (rows the fit did not see) are treated as 0.
                let logged: Vec<f64> = column.to_f64s()?.into_iter().map(|x| x.max(0.0).ln_1p()).collect();
                Ok(Column::from_f64s(column.name(), &logged, column.validity().as_deref()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Table::new(rows, columns)?)
    }
}

fn is_numeric(dtype: DType) -> bool {
    matches!(dtype, DType::Float64 | DType::Int64)
}

export_preprocessor!(LogTransform);

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table::new(
            3,
            vec![
                Column::from_f64s("income", &[0.0, 10.0, f64::NAN], Some(&[true, true, false])),
                Column::from_i64s("count", &[1, 0, 3], None),
                Column::from_f64s("delta", &[-1.0, 2.0, 3.0], None),
                Column::from_strs("city", [Some("Oslo"), None, Some("Lima")]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn fit_chooses_non_negative_numeric_columns() {
        let state = LogTransform::fit(&table()).unwrap();
        assert_eq!(state, b"income\ncount");
    }

    #[test]
    fn transform_logs_chosen_columns_and_keeps_the_rest() {
        let state = LogTransform::fit(&table()).unwrap();
        let out = LogTransform::transform(&state, table()).unwrap();
        assert_eq!(out.rows(), 3);
        let income = out.column("income").unwrap();
        assert_eq!(income.dtype(), DType::Float64);
        assert_eq!(income.f64s().unwrap()[1], 11f64.ln());
        assert!(!income.is_valid(2), "missing stays missing");
        let count = out.column("count").unwrap();
        assert_eq!(count.dtype(), DType::Float64);
        assert_eq!(count.f64s().unwrap(), vec![2f64.ln(), 0.0, 4f64.ln()]);
        assert_eq!(out.column("delta"), table().column("delta"));
        assert_eq!(out.column("city"), table().column("city"));
        assert_eq!(out.names().collect::<Vec<_>>(), vec!["income", "count", "delta", "city"]);
    }

    #[test]
    fn negative_values_after_fit_map_to_zero() {
        let test = Table::new(1, vec![Column::from_i64s("count", &[-5], None)]).unwrap();
        let out = LogTransform::transform(b"count", test).unwrap();
        assert_eq!(out.column("count").unwrap().f64s().unwrap(), vec![0.0]);
    }
}
