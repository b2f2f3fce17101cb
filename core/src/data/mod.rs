//! Data ingest: CSV files read with polars into a column-oriented [`Table`].
mod csv;
mod table;

pub use csv::{read_csv, CsvOptions};
pub use table::{Column, StrColumn, Table, MISSING_CODE};
