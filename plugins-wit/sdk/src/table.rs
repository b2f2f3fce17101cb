//! Tables and columns, checked against the row count when they are built, with typed
//! accessors.

use std::fmt;

use crate::bytes;
use crate::{raw, DecodeError};

/// Element type of a [`Column`] (WIT `dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// 64-bit floats.
    Float64,
    /// 64-bit signed integers.
    Int64,
    /// Booleans.
    Boolean,
    /// UTF-8 text.
    Utf8,
}

impl DType {
    /// Bytes per value in `data`; `None` for variable-width text.
    fn width(self) -> Option<usize> {
        match self {
            DType::Float64 | DType::Int64 => Some(8),
            DType::Boolean => Some(1),
            DType::Utf8 => None,
        }
    }

    fn from_raw(dtype: raw::Dtype) -> DType {
        match dtype {
            raw::Dtype::Float64 => DType::Float64,
            raw::Dtype::Int64 => DType::Int64,
            raw::Dtype::Boolean => DType::Boolean,
            raw::Dtype::Utf8 => DType::Utf8,
        }
    }

    fn into_raw(self) -> raw::Dtype {
        match self {
            DType::Float64 => raw::Dtype::Float64,
            DType::Int64 => raw::Dtype::Int64,
            DType::Boolean => raw::Dtype::Boolean,
            DType::Utf8 => raw::Dtype::Utf8,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::Float64 => "float64",
            DType::Int64 => "int64",
            DType::Boolean => "boolean",
            DType::Utf8 => "utf8",
        })
    }
}

/// Checked values of a column.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// `float64`, `int64` or `boolean`: `len * width` bytes, booleans 0 or 1.
    Fixed(Vec<u8>),
    /// `utf8`: `len + 1` non-decreasing offsets, each on a character boundary of `text`.
    Text { text: String, offsets: Vec<u32> },
}

/// One column: a name, a type, `len()` values and which of them are present.
///
/// Built from the host's bytes by the SDK (checked once, so the typed accessors fail
/// only when called for another type) or by a plugin with the `from_*` constructors.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    name: String,
    dtype: DType,
    len: usize,
    values: Values,
    /// Empty when no value is missing, else exactly `len.div_ceil(8)` bytes.
    validity: Vec<u8>,
}

impl Column {
    /// A column from the wire layout (see `plugins-wit/README.md`): `rows` values in
    /// `data`, `rows + 1` little-endian u32 `offsets` for `utf8` (empty otherwise), and an
    /// LSB-first `validity` bitmap (empty when nothing is missing).
    ///
    /// Every size, offset, boolean byte and the UTF-8 text are checked here.
    pub fn from_parts(
        name: impl Into<String>,
        dtype: DType,
        rows: usize,
        data: Vec<u8>,
        offsets: Vec<u8>,
        validity: Vec<u8>,
    ) -> Result<Column, DecodeError> {
        let values = match dtype.width() {
            Some(width) => {
                if !offsets.is_empty() {
                    return Err(DecodeError::Size {
                        buffer: "offsets",
                        unit: "bytes",
                        expected: 0,
                        found: offsets.len(),
                    });
                }
                let expected = rows.checked_mul(width).ok_or(DecodeError::TooManyRows { rows: rows as u64 })?;
                if data.len() != expected {
                    return Err(DecodeError::Size { buffer: "data", unit: "bytes", expected, found: data.len() });
                }
                if dtype == DType::Boolean {
                    bytes::bools_from_bytes(&data)?;
                }
                Values::Fixed(data)
            }
            None => {
                let offsets = bytes::u32s_from_le(&offsets)?;
                if offsets.len() != rows.saturating_add(1) {
                    return Err(DecodeError::Size {
                        buffer: "offsets",
                        unit: "values",
                        expected: rows.saturating_add(1),
                        found: offsets.len(),
                    });
                }
                let text = String::from_utf8(data)
                    .map_err(|e| DecodeError::Utf8 { valid_up_to: e.utf8_error().valid_up_to() })?;
                let mut previous = 0;
                for (index, &offset) in offsets.iter().enumerate() {
                    let offset = offset as usize;
                    if offset < previous || !text.is_char_boundary(offset) {
                        return Err(DecodeError::Offsets { index });
                    }
                    previous = offset;
                }
                Values::Text { text, offsets }
            }
        };
        let needed = rows.div_ceil(8);
        let validity = if validity.is_empty() {
            validity
        } else if validity.len() < needed {
            return Err(DecodeError::Size {
                buffer: "validity",
                unit: "bytes",
                expected: needed,
                found: validity.len(),
            });
        } else if (0..rows).all(|i| bytes::bitmap_get(&validity, i) == Some(true)) {
            Vec::new()
        } else {
            let mut validity = validity;
            validity.truncate(needed);
            validity
        };
        Ok(Column { name: name.into(), dtype, len: rows, values, validity })
    }

    /// Builds a fixed-width column, writing `missing` for absent values.
    fn fixed<const N: usize, T: Copy>(
        name: impl Into<String>,
        dtype: DType,
        values: &[T],
        validity: Option<&[bool]>,
        missing: T,
        to_bytes: fn(T) -> [u8; N],
    ) -> Column {
        let validity = validity_bitmap(values.len(), validity);
        let data = values
            .iter()
            .enumerate()
            .flat_map(|(i, &v)| {
                let present = validity.is_empty() || bytes::bitmap_get(&validity, i) == Some(true);
                to_bytes(if present { v } else { missing })
            })
            .collect();
        Column { name: name.into(), dtype, len: values.len(), values: Values::Fixed(data), validity }
    }

    /// A `float64` column. `validity[i] == false` marks row `i` missing (stored as NaN);
    /// `None` means every value is present.
    ///
    /// # Panics
    /// If `validity` is given with a length other than `values.len()`.
    pub fn from_f64s(name: impl Into<String>, values: &[f64], validity: Option<&[bool]>) -> Column {
        Column::fixed(name, DType::Float64, values, validity, f64::NAN, f64::to_le_bytes)
    }

    /// An `int64` column. `validity[i] == false` marks row `i` missing (stored as 0);
    /// `None` means every value is present.
    ///
    /// # Panics
    /// If `validity` is given with a length other than `values.len()`.
    pub fn from_i64s(name: impl Into<String>, values: &[i64], validity: Option<&[bool]>) -> Column {
        Column::fixed(name, DType::Int64, values, validity, 0, i64::to_le_bytes)
    }

    /// A `boolean` column. `validity[i] == false` marks row `i` missing (stored as
    /// false); `None` means every value is present.
    ///
    /// # Panics
    /// If `validity` is given with a length other than `values.len()`.
    pub fn from_bools(name: impl Into<String>, values: &[bool], validity: Option<&[bool]>) -> Column {
        Column::fixed(name, DType::Boolean, values, validity, false, |b| [u8::from(b)])
    }

    /// A `utf8` column; `None` items are missing. Accepts the output of
    /// [`strs`](Column::strs) directly, or any iterator of `Option<S: AsRef<str>>`.
    ///
    /// # Panics
    /// If the text adds up to more than 4 GiB (a u32 offset).
    pub fn from_strs<I, S>(name: impl Into<String>, values: I) -> Column
    where
        I: IntoIterator<Item = Option<S>>,
        S: AsRef<str>,
    {
        let mut text = String::new();
        let mut offsets = vec![0u32];
        let mut present = Vec::new();
        for value in values {
            if let Some(s) = &value {
                text.push_str(s.as_ref());
            }
            present.push(value.is_some());
            offsets.push(u32::try_from(text.len()).expect("utf8 column text over 4 GiB"));
        }
        let validity = validity_bitmap(present.len(), Some(&present));
        Column {
            name: name.into(),
            dtype: DType::Utf8,
            len: present.len(),
            values: Values::Text { text, offsets },
            validity,
        }
    }

    /// The same column under another name.
    pub fn with_name(mut self, name: impl Into<String>) -> Column {
        self.name = name.into();
        self
    }

    /// Column name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of values (the table's row count).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether row `i` holds a value; `false` for a missing value or `i >= len()`.
    pub fn is_valid(&self, i: usize) -> bool {
        i < self.len && (self.validity.is_empty() || bytes::bitmap_get(&self.validity, i) == Some(true))
    }

    /// Number of missing values.
    pub fn null_count(&self) -> usize {
        (0..self.len).filter(|&i| !self.is_valid(i)).count()
    }

    /// One flag per row (`true` = present), or `None` when no value is missing. Pass it
    /// back to a `from_*` constructor to keep the missing values of a transformed column.
    pub fn validity(&self) -> Option<Vec<bool>> {
        if self.validity.is_empty() {
            None
        } else {
            Some((0..self.len).map(|i| self.is_valid(i)).collect())
        }
    }

    fn fixed_bytes(&self, expected: DType) -> Result<&[u8], DecodeError> {
        match &self.values {
            Values::Fixed(data) if self.dtype == expected => Ok(data),
            _ => Err(DecodeError::DType { expected, found: self.dtype }),
        }
    }

    /// The values of a `float64` column (NaN, usually, where missing: check
    /// [`is_valid`](Column::is_valid)).
    pub fn f64s(&self) -> Result<Vec<f64>, DecodeError> {
        bytes::f64s_from_le(self.fixed_bytes(DType::Float64)?)
    }

    /// The values of an `int64` column (unspecified where missing).
    pub fn i64s(&self) -> Result<Vec<i64>, DecodeError> {
        bytes::i64s_from_le(self.fixed_bytes(DType::Int64)?)
    }

    /// The values of a `boolean` column (unspecified where missing).
    pub fn bools(&self) -> Result<Vec<bool>, DecodeError> {
        bytes::bools_from_bytes(self.fixed_bytes(DType::Boolean)?)
    }

    /// The values of a `float64` or `int64` column as floats (integers converted with
    /// `as f64`). For any other type: [`DecodeError::DType`] expecting `float64`.
    pub fn to_f64s(&self) -> Result<Vec<f64>, DecodeError> {
        match self.dtype {
            DType::Int64 => Ok(self.i64s()?.into_iter().map(|v| v as f64).collect()),
            _ => self.f64s(),
        }
    }

    /// The values of a `utf8` column, `None` where missing.
    pub fn strs(&self) -> Result<Strs<'_>, DecodeError> {
        match &self.values {
            Values::Text { text, offsets } => Ok(Strs { column: self, text, offsets, row: 0 }),
            Values::Fixed(_) => Err(DecodeError::DType { expected: DType::Utf8, found: self.dtype }),
        }
    }

    pub(crate) fn from_raw(column: raw::Column, rows: usize) -> Result<Column, DecodeError> {
        let raw::Column { name, dtype, data, offsets, validity } = column;
        Column::from_parts(name.clone(), DType::from_raw(dtype), rows, data, offsets, validity)
            .map_err(|e| e.context(format!("column `{name}`")))
    }

    pub(crate) fn into_raw(self) -> raw::Column {
        let (data, offsets) = match self.values {
            Values::Fixed(data) => (data, Vec::new()),
            Values::Text { text, offsets } => (text.into_bytes(), bytes::u32s_to_le(&offsets)),
        };
        raw::Column { name: self.name, dtype: self.dtype.into_raw(), data, offsets, validity: self.validity }
    }
}

/// The validity bitmap for `len` values: empty when every value is present.
fn validity_bitmap(len: usize, validity: Option<&[bool]>) -> Vec<u8> {
    match validity {
        Some(flags) => {
            assert_eq!(flags.len(), len, "validity has {} flags for {len} values", flags.len());
            if flags.iter().all(|&present| present) {
                Vec::new()
            } else {
                bytes::bitmap_from_bools(flags)
            }
        }
        None => Vec::new(),
    }
}

/// Iterator over the values of a `utf8` column, `None` where missing; from
/// [`Column::strs`].
#[derive(Debug, Clone)]
pub struct Strs<'a> {
    column: &'a Column,
    text: &'a str,
    offsets: &'a [u32],
    row: usize,
}

impl<'a> Iterator for Strs<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.row;
        if i >= self.column.len {
            return None;
        }
        self.row += 1;
        if !self.column.is_valid(i) {
            return Some(None);
        }
        // Checked in `from_parts`: offsets non-decreasing, in bounds, on char boundaries.
        let (start, end) = (self.offsets[i] as usize, self.offsets[i + 1] as usize);
        Some(self.text.get(start..end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.column.len - self.row;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Strs<'_> {}

/// A table: columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    rows: usize,
    columns: Vec<Column>,
}

impl Table {
    /// A table of `rows` rows; every column must have `rows` values.
    pub fn new(rows: usize, columns: Vec<Column>) -> Result<Table, DecodeError> {
        for column in &columns {
            if column.len() != rows {
                return Err(DecodeError::Size { buffer: "data", unit: "rows", expected: rows, found: column.len() }
                    .context(format!("column `{}`", column.name())));
            }
        }
        Ok(Table { rows, columns })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The columns, in order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The first column named `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name() == name)
    }

    /// Column names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(Column::name)
    }

    /// Iterates over the columns.
    pub fn iter(&self) -> std::slice::Iter<'_, Column> {
        self.columns.iter()
    }

    /// The columns, by value (to transform and pass on).
    pub fn into_columns(self) -> Vec<Column> {
        self.columns
    }

    pub(crate) fn from_raw(table: raw::Table) -> Result<Table, DecodeError> {
        let rows = usize::try_from(table.rows).map_err(|_| DecodeError::TooManyRows { rows: table.rows })?;
        let columns = table.columns.into_iter().map(|c| Column::from_raw(c, rows)).collect::<Result<Vec<_>, _>>()?;
        Ok(Table { rows, columns })
    }

    pub(crate) fn into_raw(self) -> raw::Table {
        raw::Table { rows: self.rows as u64, columns: self.columns.into_iter().map(Column::into_raw).collect() }
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = &'a Column;
    type IntoIter = std::slice::Iter<'a, Column>;

    fn into_iter(self) -> Self::IntoIter {
        self.columns.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_column_round_trips_with_validity() {
        let c = Column::from_f64s("x", &[1.0, 2.0, 3.0], Some(&[true, false, true]));
        assert_eq!(c.len(), 3);
        assert!(c.is_valid(0) && !c.is_valid(1) && c.is_valid(2) && !c.is_valid(3));
        assert_eq!(c.null_count(), 1);
        assert_eq!(c.validity(), Some(vec![true, false, true]));
        let values = c.f64s().unwrap();
        assert_eq!(values[0], 1.0);
        assert!(values[1].is_nan(), "missing floats are written as NaN");
        let raw = c.clone().into_raw();
        assert_eq!(raw.validity, vec![0b101]);
        assert_eq!(Column::from_raw(raw, 3), Ok(c));
    }

    #[test]
    fn all_present_validity_is_dropped() {
        let c = Column::from_i64s("n", &[5, -7], Some(&[true, true]));
        assert_eq!(c.validity(), None);
        let c = Column::from_parts("n", DType::Int64, 2, bytes::i64s_to_le(&[5, -7]), vec![], vec![0xFF]).unwrap();
        assert_eq!(c.validity(), None);
        assert_eq!(c.i64s(), Ok(vec![5, -7]));
        assert_eq!(c.to_f64s(), Ok(vec![5.0, -7.0]));
    }

    #[test]
    fn text_column_round_trips() {
        let c = Column::from_strs("s", [Some("héllo"), None, Some(""), Some("∑")]);
        let values: Vec<_> = c.strs().unwrap().collect();
        assert_eq!(values, vec![Some("héllo"), None, Some(""), Some("∑")]);
        let raw = c.clone().into_raw();
        assert_eq!(raw.offsets.len(), 5 * 4);
        assert_eq!(Column::from_raw(raw, 4), Ok(c));
    }

    #[test]
    fn rejects_typed_access_to_another_type() {
        let c = Column::from_bools("b", &[true, false], None);
        assert_eq!(c.bools(), Ok(vec![true, false]));
        assert!(matches!(c.f64s(), Err(DecodeError::DType { expected: DType::Float64, found: DType::Boolean })));
        assert!(matches!(c.strs(), Err(DecodeError::DType { expected: DType::Utf8, .. })));
        assert!(matches!(c.to_f64s(), Err(DecodeError::DType { expected: DType::Float64, .. })));
    }

    #[test]
    fn rejects_data_of_the_wrong_size() {
        let r = Column::from_parts("x", DType::Float64, 2, vec![0; 13], vec![], vec![]);
        assert!(matches!(r, Err(DecodeError::Size { buffer: "data", expected: 16, found: 13, .. })));
        let r = Column::from_parts("x", DType::Int64, 1, vec![0; 8], vec![0; 4], vec![]);
        assert!(matches!(r, Err(DecodeError::Size { buffer: "offsets", .. })));
        let r = Column::from_parts("x", DType::Float64, 9, vec![0; 72], vec![], vec![0xFF]);
        assert!(matches!(r, Err(DecodeError::Size { buffer: "validity", expected: 2, found: 1, .. })));
    }

    #[test]
    fn rejects_bad_booleans_offsets_and_utf8() {
        let r = Column::from_parts("b", DType::Boolean, 2, vec![1, 7], vec![], vec![]);
        assert!(matches!(r, Err(DecodeError::Bool { index: 1, byte: 7 })));
        let offsets = |o: &[u32]| bytes::u32s_to_le(o);
        let r = Column::from_parts("s", DType::Utf8, 2, b"abc".to_vec(), offsets(&[0, 2, 1]), vec![]);
        assert!(matches!(r, Err(DecodeError::Offsets { index: 2 })));
        let r = Column::from_parts("s", DType::Utf8, 1, b"abc".to_vec(), offsets(&[0, 4]), vec![]);
        assert!(matches!(r, Err(DecodeError::Offsets { index: 1 })));
        let r = Column::from_parts("s", DType::Utf8, 1, "é".as_bytes().to_vec(), offsets(&[0, 1]), vec![]);
        assert!(matches!(r, Err(DecodeError::Offsets { index: 1 })), "splits a character");
        let r = Column::from_parts("s", DType::Utf8, 1, vec![0xFF], offsets(&[0, 1]), vec![]);
        assert!(matches!(r, Err(DecodeError::Utf8 { valid_up_to: 0 })));
        let r = Column::from_parts("s", DType::Utf8, 2, b"ab".to_vec(), offsets(&[0, 1]), vec![]);
        assert!(matches!(r, Err(DecodeError::Size { buffer: "offsets", expected: 3, found: 2, .. })));
        let r = Column::from_parts("s", DType::Utf8, 1, b"ab".to_vec(), vec![0; 6], vec![]);
        assert!(matches!(r, Err(DecodeError::Length { len: 6, width: 4 })));
    }

    #[test]
    fn raw_table_errors_name_the_column() {
        let table = raw::Table {
            rows: 2,
            columns: vec![raw::Column {
                name: "age".into(),
                dtype: raw::Dtype::Float64,
                data: vec![0; 9],
                offsets: vec![],
                validity: vec![],
            }],
        };
        let err = Table::from_raw(table).unwrap_err();
        assert_eq!(err.to_string(), "column `age`: `data` has 9 bytes, expected 16");
        assert!(matches!(err, DecodeError::In { .. }));
    }

    #[test]
    fn table_checks_column_lengths() {
        let a = Column::from_f64s("a", &[1.0, 2.0], None);
        let b = Column::from_i64s("b", &[1], None);
        assert!(Table::new(2, vec![a.clone()]).is_ok());
        assert!(matches!(Table::new(2, vec![a, b]), Err(DecodeError::In { .. })));
        let t = Table::new(0, vec![]).unwrap();
        assert_eq!(t.rows(), 0);
        assert!(t.column("a").is_none());
    }

    #[test]
    #[should_panic(expected = "validity has 1 flags for 2 values")]
    fn constructor_panics_on_validity_length_mismatch() {
        Column::from_f64s("x", &[1.0, 2.0], Some(&[true]));
    }
}
