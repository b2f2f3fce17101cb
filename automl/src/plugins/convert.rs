//! Tables to and from the WIT layout: each column's values as raw little-endian bytes, an
//! Arrow-style validity bitmap, and offsets for text.
use automl_core::data::{Column, StrColumn, Table};

use super::bindings::preprocessor::automl::plugins::types::{Column as WitColumn, Dtype, Table as WitTable};

/// `values` collected into `buf` (cleared first, its capacity kept).
pub fn f64s_into(buf: &mut Vec<f64>, values: impl Iterator<Item = f64>) -> &[f64] {
    buf.clear();
    buf.extend(values);
    buf
}

/// `values` as little-endian bytes: a view of the same memory on a little-endian host,
/// else encoded.
pub fn le_bytes(values: &[f64]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        std::borrow::Cow::Borrowed(bytemuck::cast_slice(values))
    } else {
        std::borrow::Cow::Owned(bytes_of(values))
    }
}

/// Little-endian bytes of f64s.
pub fn bytes_of(values: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 8);
    values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out
}

fn bitmap(n: usize, valid: impl Fn(usize) -> bool) -> Vec<u8> {
    if (0..n).all(&valid) {
        return Vec::new();
    }
    let mut bits = vec![0u8; n.div_ceil(8)];
    for i in (0..n).filter(|&i| valid(i)) {
        bits[i / 8] |= 1 << (i % 8);
    }
    bits
}

/// The columns `names` of `table` in the WIT layout.
pub fn to_wit(table: &Table, names: &[String]) -> Result<WitTable, String> {
    let n = table.n_rows;
    let mut columns = Vec::with_capacity(names.len());
    for name in names {
        let column = table.column(name).map_err(|e| e.to_string())?;
        columns.push(match column {
            Column::Numeric(v) => WitColumn { name: name.clone(), dtype: Dtype::Float64, data: bytes_of(v), offsets: Vec::new(), validity: bitmap(n, |i| !v[i].is_nan()) },
            Column::Datetime(v) => WitColumn {
                name: name.clone(),
                dtype: Dtype::Int64,
                data: v.iter().flat_map(|x| x.unwrap_or(0).to_le_bytes()).collect(),
                offsets: Vec::new(),
                validity: bitmap(n, |i| v[i].is_some()),
            },
            Column::Str(s) => {
                let mut data = Vec::new();
                let mut offsets = Vec::with_capacity((n + 1) * 4);
                offsets.extend_from_slice(&0u32.to_le_bytes());
                for i in 0..n {
                    if let Some(text) = s.get(i) {
                        data.extend_from_slice(text.as_bytes());
                    }
                    let end = u32::try_from(data.len()).map_err(|_| format!("column '{name}' holds over 4 GiB of text"))?;
                    offsets.extend_from_slice(&end.to_le_bytes());
                }
                WitColumn { name: name.clone(), dtype: Dtype::Utf8, data, offsets, validity: bitmap(n, |i| s.get(i).is_some()) }
            }
        });
    }
    Ok(WitTable { rows: n as u64, columns })
}

/// A table from the WIT layout. Int64 columns named like a date column of `input` come
/// back as dates; other integers and booleans become numbers.
pub fn from_wit(wit: WitTable, input: &Table) -> Result<Table, String> {
    let n = usize::try_from(wit.rows).map_err(|_| "row count too large".to_string())?;
    if n != input.n_rows {
        return Err(format!("returned {n} rows for {} input rows", input.n_rows));
    }
    let mut names = Vec::with_capacity(wit.columns.len());
    let mut columns = Vec::with_capacity(wit.columns.len());
    for c in wit.columns {
        if names.contains(&c.name) {
            return Err(format!("returned column '{}' twice", c.name));
        }
        let bad = |what: &str| format!("column '{}': {what}", c.name);
        if !c.validity.is_empty() && c.validity.len() < n.div_ceil(8) {
            return Err(bad(&format!("validity bitmap of {} bytes for {n} rows", c.validity.len())));
        }
        let valid = |i: usize| c.validity.is_empty() || c.validity[i / 8] & (1 << (i % 8)) != 0;
        let width = match c.dtype {
            Dtype::Float64 | Dtype::Int64 => 8,
            Dtype::Boolean => 1,
            Dtype::Utf8 => 0,
        };
        if width > 0 && c.data.len() != n * width {
            return Err(bad(&format!("{} bytes of data for {n} rows of {width} bytes", c.data.len())));
        }
        let column = match c.dtype {
            Dtype::Float64 => Column::Numeric(c.data.chunks_exact(8).enumerate().map(|(i, b)| if valid(i) { f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) } else { f64::NAN }).collect()),
            Dtype::Int64 => {
                let ints: Vec<Option<i64>> = c.data.chunks_exact(8).enumerate().map(|(i, b)| valid(i).then(|| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))).collect();
                if matches!(input.column(&c.name), Ok(Column::Datetime(_))) {
                    Column::Datetime(ints)
                } else {
                    Column::Numeric(ints.into_iter().map(|x| x.map_or(f64::NAN, |v| v as f64)).collect())
                }
            }
            Dtype::Boolean => Column::Numeric(c.data.iter().enumerate().map(|(i, &b)| if valid(i) { f64::from(u8::from(b != 0)) } else { f64::NAN }).collect()),
            Dtype::Utf8 => {
                if c.offsets.len() != (n + 1) * 4 {
                    return Err(bad(&format!("{} bytes of offsets for {n} rows (need {})", c.offsets.len(), (n + 1) * 4)));
                }
                let offsets: Vec<usize> = c.offsets.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
                let mut values: Vec<Option<&str>> = Vec::with_capacity(n);
                for i in 0..n {
                    if !valid(i) {
                        values.push(None);
                        continue;
                    }
                    let (a, b) = (offsets[i], offsets[i + 1]);
                    let bytes = c.data.get(a..b).ok_or_else(|| bad(&format!("offsets {a}..{b} outside {} bytes of text", c.data.len())))?;
                    values.push(Some(std::str::from_utf8(bytes).map_err(|_| bad(&format!("row {i} is not UTF-8")))?));
                }
                Column::Str(StrColumn::from_values(values))
            }
        };
        names.push(c.name);
        columns.push(column);
    }
    Ok(Table { names, columns, n_rows: n })
}
