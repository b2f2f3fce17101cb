//! The one error type of the SDK: data from the host (or built by a plugin) that does not
//! have the layout the WIT package describes.

use std::fmt;

use crate::DType;

/// Bytes that do not decode as the layout of `automl:plugins@0.1.0` says, or a typed
/// accessor called on a column of another type.
///
/// It converts into `String` (the error type of every plugin call), so `?` works inside
/// [`Preprocessor`](crate::Preprocessor), [`Metric`](crate::Metric) and
/// [`StoppingRule`](crate::StoppingRule) methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A buffer of fixed-width values whose length is not a multiple of the width.
    Length {
        /// Length of the buffer in bytes.
        len: usize,
        /// Bytes per value.
        width: usize,
    },
    /// A buffer whose size does not match the number of rows.
    Size {
        /// Which buffer (`data`, `offsets`, `validity`, `y-pred`, ...).
        buffer: &'static str,
        /// What the sizes count: `bytes`, `values` or `rows`.
        unit: &'static str,
        /// The size the row count implies.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// UTF-8 offsets that decrease, run past the data or split a character.
    Offsets {
        /// Index of the first bad offset.
        index: usize,
    },
    /// Text bytes that are not valid UTF-8.
    Utf8 {
        /// Byte position of the first invalid sequence.
        valid_up_to: usize,
    },
    /// A boolean byte other than 0 or 1.
    Bool {
        /// Row of the bad byte.
        index: usize,
        /// The byte found.
        byte: u8,
    },
    /// A typed accessor called on a column of another type.
    DType {
        /// The type the accessor reads.
        expected: DType,
        /// The column's type.
        found: DType,
    },
    /// A row count too large for a 32-bit guest.
    TooManyRows {
        /// The row count received.
        rows: u64,
    },
    /// Context: the column or field an error was found in.
    In {
        /// Where, e.g. ``column `age` `` or `y-true`.
        context: String,
        /// What was wrong there.
        source: Box<DecodeError>,
    },
}

impl DecodeError {
    /// Wraps the error with the name of the column or field it was found in.
    pub fn context(self, context: impl Into<String>) -> DecodeError {
        DecodeError::In { context: context.into(), source: Box::new(self) }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length { len, width } => {
                write!(f, "{len} bytes is not a whole number of {width}-byte values")
            }
            DecodeError::Size { buffer, unit, expected, found } => {
                write!(f, "`{buffer}` has {found} {unit}, expected {expected}")
            }
            DecodeError::Offsets { index } => {
                write!(f, "utf8 offset {index} decreases, runs past the data or splits a character")
            }
            DecodeError::Utf8 { valid_up_to } => {
                write!(f, "text is not valid UTF-8 (from byte {valid_up_to})")
            }
            DecodeError::Bool { index, byte } => {
                write!(f, "boolean at row {index} is byte {byte}, expected 0 or 1")
            }
            DecodeError::DType { expected, found } => {
                write!(f, "column is {found}, not {expected}")
            }
            DecodeError::TooManyRows { rows } => write!(f, "{rows} rows do not fit in memory"),
            DecodeError::In { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::In { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<DecodeError> for String {
    fn from(e: DecodeError) -> String {
        e.to_string()
    }
}
