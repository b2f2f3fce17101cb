//! CSV ingest with polars, after a structural check that names the bad line.
use std::io::Cursor;
use std::path::Path;

use polars::prelude::*;

use super::Table;
use crate::error::{Error, Result};

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field separator (default `,`).
    pub delimiter: u8,
    /// Strings read as missing in every column, besides the empty field (default none:
    /// `NA` or `None` are real categories in some data sets).
    pub na_values: Vec<String>,
    /// Columns always read as text, whatever they look like (targets, categorical columns
    /// of a trained model), so their values round-trip exactly.
    pub text_columns: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: b',', na_values: Vec::new(), text_columns: Vec::new() }
    }
}

/// Reads `path` into a [`Table`].
///
/// Refuses, with the line number, files that are empty, have a header only, rows with a
/// different number of fields than the header, or bytes that are not UTF-8.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    check_structure(&bytes, options.delimiter).map_err(|(line, message)| Error::Csv { path: path.to_path_buf(), line, message })?;
    let df = match read_bytes(bytes, options, Some(1000)) {
        Ok(df) => df,
        // A value past the inferred rows did not parse as the inferred type: infer from all rows.
        Err(_) => {
            let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
            read_bytes(bytes, options, None).map_err(|e| Error::Csv { path: path.to_path_buf(), line: 0, message: e.to_string() })?
        }
    };
    Table::from_polars(&df)
}

fn read_bytes(bytes: Vec<u8>, options: &CsvOptions, infer_rows: Option<usize>) -> Result<DataFrame> {
    let mut null_values: Vec<PlSmallStr> = vec!["".into()];
    null_values.extend(options.na_values.iter().map(|s| PlSmallStr::from(s.as_str())));
    let overwrite = if options.text_columns.is_empty() {
        None
    } else {
        let fields = options.text_columns.iter().map(|c| Field::new(c.as_str().into(), DataType::String));
        Some(Arc::new(Schema::from_iter(fields)))
    };
    let reader = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(infer_rows)
        .with_schema_overwrite(overwrite)
        .map_parse_options(|p| {
            p.with_separator(options.delimiter)
                .with_quote_char(Some(b'"'))
                .with_null_values(Some(NullValues::AllColumns(null_values.clone())))
                .with_try_parse_dates(true)
        })
        .into_reader_with_file_handle(Cursor::new(bytes));
    Ok(reader.finish()?)
}

/// Checks encoding and shape before polars reads the bytes. Returns `(line, message)`.
///
/// One pass: UTF-8 validation of the whole buffer, then a quote-aware count of fields per
/// record. Empty lines are ignored, as polars does.
pub(crate) fn check_structure(bytes: &[u8], delimiter: u8) -> std::result::Result<(), (usize, String)> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err((1, "the file is empty: expected a header row and data rows".into()));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err((line, format!("bytes that are not UTF-8 (byte offset {at}); re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`")));
    }
    let mut line = 1usize; // current physical line
    let mut record_line = 1usize; // line where the current record starts
    let mut fields = 1usize;
    let mut in_quotes = false;
    let mut record_has_content = false;
    let mut header_fields: Option<usize> = None;
    let mut data_rows = 0usize;
    let mut end_record = |fields: usize, record_line: usize, has_content: bool| -> std::result::Result<(), (usize, String)> {
        if !has_content {
            return Ok(());
        }
        match header_fields {
            None => header_fields = Some(fields),
            Some(h) if h != fields => {
                return Err((record_line, format!("{fields} fields where the header has {h}; fix the row or quote fields that contain the delimiter")))
            }
            Some(_) => data_rows += 1,
        }
        Ok(())
    };
    for &b in bytes {
        if b == b'"' {
            in_quotes = !in_quotes;
            record_has_content = true;
        } else if b == b'\n' {
            line += 1;
            if !in_quotes {
                end_record(fields, record_line, record_has_content)?;
                fields = 1;
                record_has_content = false;
                record_line = line;
            }
        } else if !in_quotes && b == delimiter {
            fields += 1;
            record_has_content = true;
        } else if b != b'\r' {
            record_has_content = true;
        }
    }
    if in_quotes {
        return Err((record_line, "a quoted field is never closed".into()));
    }
    end_record(fields, record_line, record_has_content)?;
    if data_rows == 0 {
        return Err((2, "the file has a header but no data rows".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ragged_rows_with_their_line() {
        let err = check_structure(b"a,b\n1,2\n3\n", b',').unwrap_err();
        assert_eq!(err.0, 3);
        assert!(err.1.contains("1 fields where the header has 2"), "{}", err.1);
    }

    #[test]
    fn counts_quoted_delimiters_and_newlines_as_content() {
        assert!(check_structure(b"a,b\n\"x,y\",2\n\"multi\nline\",3\n\n", b',').is_ok());
    }

    #[test]
    fn rejects_non_utf8_with_line() {
        let err = check_structure(b"a,b\n1,2\n\xff,3\n", b',').unwrap_err();
        assert_eq!(err.0, 3);
        assert!(err.1.contains("UTF-8"));
    }

    #[test]
    fn rejects_empty_and_header_only() {
        assert!(check_structure(b"", b',').unwrap_err().1.contains("empty"));
        assert!(check_structure(b"a,b\n", b',').unwrap_err().1.contains("no data rows"));
    }
}
