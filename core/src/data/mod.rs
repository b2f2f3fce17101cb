//! Data ingest: CSV files read with polars into a column-oriented [`Table`].
mod csv;
mod dates;
mod table;

pub use csv::{delimiter_name, read_csv, sniff_delimiter, CsvOptions};
pub use dates::parse_datetime;
pub use table::{Column, StrColumn, Table, MISSING_CODE};
