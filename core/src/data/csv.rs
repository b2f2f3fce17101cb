//! CSV ingest with polars, after a structural check that names the bad line.
use std::io::Read;
use std::path::Path;

use polars_core::prelude::*;
use polars_io::prelude::*;

use super::Table;
use crate::error::{Error, Result};

/// How to read a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field separator; `None` (the default) reads `,` unless the header shows another
    /// (see [`sniff_delimiter`]).
    pub delimiter: Option<u8>,
    /// Strings read as missing in every column, besides the empty field (default none:
    /// `NA` or `None` are real categories in some data sets).
    pub na_values: Vec<String>,
    /// Columns always read as text, whatever they look like (targets, categorical columns
    /// of a trained model), so their values round-trip exactly.
    pub text_columns: Vec<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: None, na_values: Vec::new(), text_columns: Vec::new() }
    }
}

/// Reads `path` into a [`Table`].
///
/// Refuses, with the line number, files that are empty, have a header only, rows with a
/// different number of fields than the header (polars would silently fill short rows
/// with nulls), or bytes that are not UTF-8. The check streams the file on its own thread
/// while polars parses it.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Table> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    std::fs::metadata(path).map_err(io)?;
    let delimiter = options.delimiter.or_else(|| sniff_delimiter(path)).unwrap_or(b',');
    let (check, parsed) = std::thread::scope(|scope| {
        let check = scope.spawn(|| check_file(path, delimiter));
        let parsed = read_path(path, options, delimiter, Some(b'"'), Some(1000));
        (check.join(), parsed)
    });
    let quoting = match check {
        Ok(Ok(q)) => q,
        Ok(Err(CheckError::Io(e))) => return Err(io(e)),
        Ok(Err(CheckError::Bad(line, message))) => return Err(Error::Csv { path: path.to_path_buf(), line, message }),
        Err(_) => return Err(Error::Data(format!("{}: the CSV check failed unexpectedly", path.display()))),
    };
    let quote = (quoting == Quoting::Standard).then_some(b'"');
    let parsed = if quote.is_some() { parsed } else { read_path(path, options, delimiter, quote, Some(1000)) };
    let df = match parsed {
        Ok(df) => df,
        // A value past the inferred rows did not parse as the inferred type: infer from all rows.
        Err(_) => read_path(path, options, delimiter, quote, None).map_err(|e| Error::Csv { path: path.to_path_buf(), line: 0, message: e.to_string() })?,
    };
    let mut table = Table::from_polars(&df)?;
    detect_dates(&mut table, &options.text_columns);
    Ok(table)
}

/// Turns text columns whose every value is an ISO-like date or time into
/// [`Column::Datetime`](super::Column::Datetime). Decided on the distinct values, so it
/// costs little; columns the caller wants as text are left alone.
fn detect_dates(table: &mut Table, keep_text: &[String]) {
    for (name, column) in table.names.iter().zip(table.columns.iter_mut()) {
        let super::Column::Str(s) = column else { continue };
        if s.levels.is_empty() || keep_text.contains(name) {
            continue;
        }
        let Some(ms): Option<Vec<i64>> = s.levels.iter().map(|l| super::parse_datetime(l)).collect() else { continue };
        let values = s.codes.iter().map(|&c| (c != super::MISSING_CODE).then(|| ms[c as usize])).collect();
        *column = super::Column::Datetime(values);
    }
}

/// The delimiter a file's header shows when it is not `,`: a header without a `,` that
/// holds `;`, tabs or `|` (the most frequent of them), as a semicolon- or tab-separated
/// file's does. `None` when the header has a `,` (or none of them, or cannot be read).
pub fn sniff_delimiter(path: &Path) -> Option<u8> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    std::fs::File::open(path).ok()?.take(64 << 10).read_to_end(&mut head).ok()?;
    let header = head.split(|&b| b == b'\n').next()?;
    if header.contains(&b',') {
        return None;
    }
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    [b';', b'\t', b'|'].into_iter().map(|d| (count(d), d)).filter(|(n, _)| *n > 0).max().map(|(_, d)| d)
}

/// How a delimiter is written in messages.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        d => format!("'{}'", d as char),
    }
}

fn read_path(path: &Path, options: &CsvOptions, delimiter: u8, quote: Option<u8>, infer_rows: Option<usize>) -> Result<DataFrame> {
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
            p.with_separator(delimiter)
                .with_quote_char(quote)
                .with_null_values(Some(NullValues::AllColumns(null_values.clone())))
        })
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?;
    Ok(reader.finish()?)
}

enum CheckError {
    Io(std::io::Error),
    Bad(usize, String),
}

fn check_file(path: &Path, delimiter: u8) -> std::result::Result<Quoting, CheckError> {
    let mut file = std::fs::File::open(path).map_err(CheckError::Io)?;
    let mut checker = Checker::new(delimiter);
    let mut buf = vec![0u8; 4 << 20];
    let mut carry = 0usize; // bytes of an incomplete UTF-8 sequence kept from the last block
    loop {
        let n = file.read(&mut buf[carry..]).map_err(CheckError::Io)?;
        let end = carry + n;
        let block = &buf[..end];
        let valid = match std::str::from_utf8(block) {
            Ok(_) => end,
            Err(e) if e.error_len().is_none() && n > 0 => e.valid_up_to(),
            Err(e) => {
                checker.feed(&block[..e.valid_up_to()]).map_err(|(l, m)| CheckError::Bad(l, m))?;
                return Err(CheckError::Bad(
                    checker.line,
                    "bytes that are not UTF-8; re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`".into(),
                ));
            }
        };
        checker.feed(&block[..valid]).map_err(|(l, m)| CheckError::Bad(l, m))?;
        if n == 0 {
            break;
        }
        buf.copy_within(valid..end, 0);
        carry = end - valid;
    }
    checker.finish().map_err(|(l, m)| CheckError::Bad(l, m))
}

type Bad = (usize, String);

/// How a file uses quotes, as the check found: standard CSV quoting, or none at all (no
/// field is quoted, and some hold a `"`, which is then a plain character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    Standard,
    None,
}

/// Quote-aware count of fields per record, fed block by block.
struct Checker {
    delimiter: u8,
    line: usize,
    record_line: usize,
    fields: usize,
    in_quotes: bool,
    /// At the start of a field: only there does a `"` open a quoted field (elsewhere it is
    /// a character of the field, as in `5'10"`).
    field_start: bool,
    /// Just after a quoted field's closing `"`: a second `"` is an escaped quote.
    just_closed: bool,
    /// Whether any field is quoted.
    quoted: bool,
    /// The first line with a `"` inside an unquoted field.
    inner_quote: Option<usize>,
    has_content: bool,
    header_fields: Option<usize>,
    data_rows: usize,
    any_content: bool,
}

impl Checker {
    fn new(delimiter: u8) -> Self {
        Checker { delimiter, line: 1, record_line: 1, fields: 1, in_quotes: false, field_start: true, just_closed: false, quoted: false, inner_quote: None, has_content: false, header_fields: None, data_rows: 0, any_content: false }
    }

    fn end_record(&mut self) -> std::result::Result<(), Bad> {
        if self.has_content {
            self.any_content = true;
            match self.header_fields {
                None => self.header_fields = Some(self.fields),
                Some(h) if h != self.fields => {
                    return Err((self.record_line, format!("{} fields where the header has {h}; fix the row or quote fields that contain the delimiter", self.fields)))
                }
                Some(_) => self.data_rows += 1,
            }
        }
        self.fields = 1;
        self.has_content = false;
        self.record_line = self.line;
        Ok(())
    }

    fn feed(&mut self, block: &[u8]) -> std::result::Result<(), Bad> {
        if !self.in_quotes && memchr::memchr(b'"', block).is_none() {
            // Fast path: no quotes, only delimiters and line ends matter. Count the
            // delimiters of each line with a plain filter-count, which vectorises.
            let delimiter = self.delimiter;
            let count = |part: &[u8]| part.iter().filter(|&&b| b == delimiter).count();
            let has_text = |part: &[u8]| !part.is_empty() && part != b"\r";
            let mut last = 0usize;
            for at in memchr::memchr_iter(b'\n', block) {
                let line = &block[last..at];
                self.fields += count(line);
                self.has_content |= has_text(line);
                self.line += 1;
                self.end_record()?;
                last = at + 1;
            }
            let tail = &block[last..];
            self.fields += count(tail);
            self.has_content |= has_text(tail);
            if let Some(&b) = block.last() {
                self.field_start = b == delimiter || b == b'\n';
                self.just_closed = false;
            }
            return Ok(());
        }
        for &b in block {
            self.byte(b)?;
        }
        Ok(())
    }

    /// One byte of the slow path: quotes open a field only at its start, and `""` inside a
    /// quoted field is an escaped quote.
    fn byte(&mut self, b: u8) -> std::result::Result<(), Bad> {
        let just_closed = std::mem::take(&mut self.just_closed);
        if b == b'"' {
            if self.in_quotes {
                self.in_quotes = false;
                self.just_closed = true;
            } else if self.field_start || just_closed {
                self.in_quotes = true;
                self.quoted = true;
            } else {
                self.inner_quote.get_or_insert(self.line);
            }
            self.has_content = true;
            self.field_start = false;
        } else if b == b'\n' {
            self.line += 1;
            if !self.in_quotes {
                self.end_record()?;
                self.field_start = true;
            }
        } else if !self.in_quotes && b == self.delimiter {
            self.fields += 1;
            self.has_content = true;
            self.field_start = true;
        } else if b != b'\r' {
            self.has_content = true;
            self.field_start = false;
        }
        Ok(())
    }

    fn finish(mut self) -> std::result::Result<Quoting, Bad> {
        if self.in_quotes {
            return Err((self.record_line, "a quoted field is never closed".into()));
        }
        self.end_record()?;
        if !self.any_content {
            return Err((1, "the file is empty: expected a header row and data rows".into()));
        }
        if self.data_rows == 0 {
            return Err((2, "the file has a header but no data rows".into()));
        }
        match (self.inner_quote, self.quoted) {
            (None, _) => Ok(Quoting::Standard),
            (Some(_), false) => Ok(Quoting::None),
            (Some(line), true) => Err((line, "a '\"' inside an unquoted field, in a file that also quotes fields: quote that field and double its quotes (5'10\" becomes \"5'10\"\"\")".into())),
        }
    }
}

/// Checks a whole buffer (see [`Checker`]); returns `(line, message)`.
#[cfg(test)]
fn check_structure(bytes: &[u8], delimiter: u8) -> std::result::Result<Quoting, Bad> {
    if let Err(e) = std::str::from_utf8(bytes) {
        let mut c = Checker::new(delimiter);
        c.feed(&bytes[..e.valid_up_to()])?;
        return Err((c.line, "bytes that are not UTF-8; re-encode the file as UTF-8".into()));
    }
    let mut c = Checker::new(delimiter);
    c.feed(bytes)?;
    c.finish()
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
    fn a_quote_inside_an_unquoted_field_is_a_character_of_it() {
        assert!(check_structure(b"name,height\nann,5'10\"\nbob,6'1\"\n", b',').is_ok());
        // Quoted fields still hold delimiters and escaped quotes; an unclosed one is refused.
        assert!(check_structure(b"a,b\n\"say \"\"hi, there\"\"\",2\n", b',').is_ok());
        assert!(check_structure(b"a,b\n\"open,2\n3,4\n", b',').unwrap_err().1.contains("never closed"));
        // Mixed with quoted fields, polars would misread it: refused, with what to do.
        assert!(check_structure(b"a,b\n\"x, y\",5'10\"\n", b',').unwrap_err().1.contains("quote that field"));
        // And the file reads, with the quote kept in the value.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heights.csv");
        std::fs::write(&path, "name,height\nann,5'10\"\nbob,6'1\"\n").unwrap();
        let table = read_csv(&path, &CsvOptions::default()).unwrap();
        let crate::data::Column::Str(heights) = table.column("height").unwrap() else { panic!("text") };
        assert_eq!(heights.get(0), Some("5'10\""));
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

#[cfg(test)]
mod block_tests {
    use super::*;

    #[test]
    fn block_boundaries_do_not_change_the_verdict() {
        let text = b"a,b\n\"x,\ny\",2\n3,4\n5\n";
        for split in 0..text.len() {
            let mut c = Checker::new(b',');
            let r = c.feed(&text[..split]).and_then(|_| c.feed(&text[split..])).and_then(|_| c.finish());
            assert_eq!(r.unwrap_err().0, 5, "split at {split}");
        }
    }
}
