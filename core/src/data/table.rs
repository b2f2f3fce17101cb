//! The engine's column-oriented table: what ingest produces and preprocessing consumes.
use polars_core::prelude::*;

use crate::error::{Error, Result};

/// Code of a missing value in a [`StrColumn`].
pub const MISSING_CODE: u32 = u32::MAX;

/// A dictionary-encoded string column: the exact text of each value is kept.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StrColumn {
    /// One code per row; [`MISSING_CODE`] for a missing value.
    pub codes: Vec<u32>,
    /// Distinct values in order of first appearance.
    pub levels: Vec<String>,
}

impl StrColumn {
    /// Builds a column from optional strings.
    pub fn from_values<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        // foldhash: several times faster than SipHash on short strings, and no DoS concern here.
        let mut index: std::collections::HashMap<&'a str, u32, foldhash::fast::FixedState> = std::collections::HashMap::with_hasher(foldhash::fast::FixedState::with_seed(0));
        let mut levels = Vec::new();
        let codes = values
            .into_iter()
            .map(|v| match v {
                None => MISSING_CODE,
                Some(s) => *index.entry(s).or_insert_with(|| {
                    levels.push(s.to_string());
                    (levels.len() - 1) as u32
                }),
            })
            .collect();
        StrColumn { codes, levels }
    }

    /// The value of row `i`, `None` when missing.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self.codes[i] {
            MISSING_CODE => None,
            c => Some(self.levels[c as usize].as_str()),
        }
    }

    /// Count of each level over `rows` (all rows when `None`), and the count of missing values.
    pub fn counts(&self, rows: Option<&[usize]>) -> (Vec<usize>, usize) {
        let mut counts = vec![0usize; self.levels.len()];
        let mut missing = 0;
        let mut add = |c: u32| {
            if c == MISSING_CODE {
                missing += 1
            } else {
                counts[c as usize] += 1
            }
        };
        match rows {
            Some(rows) => rows.iter().for_each(|&r| add(self.codes[r])),
            None => self.codes.iter().for_each(|&c| add(c)),
        }
        (counts, missing)
    }
}

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Column {
    /// Numbers and booleans (as 0/1); `NaN` marks a missing value, infinities are kept.
    Numeric(Vec<f64>),
    /// Strings, dictionary-encoded.
    Str(StrColumn),
    /// Dates and times as milliseconds since the Unix epoch.
    Datetime(Vec<Option<i64>>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Str(s) => s.codes.len(),
            Column::Datetime(v) => v.len(),
        }
    }
    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// True when row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Column::Numeric(v) => v[i].is_nan(),
            Column::Str(s) => s.codes[i] == MISSING_CODE,
            Column::Datetime(v) => v[i].is_none(),
        }
    }
    /// Short name of the storage type, for messages.
    pub fn storage_name(&self) -> &'static str {
        match self {
            Column::Numeric(_) => "numeric",
            Column::Str(_) => "text",
            Column::Datetime(_) => "datetime",
        }
    }
    /// The column keeping only `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Column {
        match self {
            Column::Numeric(v) => Column::Numeric(rows.iter().map(|&r| v[r]).collect()),
            Column::Str(s) => Column::Str(StrColumn { codes: rows.iter().map(|&r| s.codes[r]).collect(), levels: s.levels.clone() }),
            Column::Datetime(v) => Column::Datetime(rows.iter().map(|&r| v[r]).collect()),
        }
    }
}

/// A table of named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// Column names, in file order.
    pub names: Vec<String>,
    /// Columns, parallel to `names`.
    pub columns: Vec<Column>,
    /// Number of rows.
    pub n_rows: usize,
}

impl Table {
    /// Index of the column `name`, or a [`Error::MissingColumn`] naming the closest ones.
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| Error::MissingColumn {
            column: name.to_string(),
            candidates: crate::error::closest_names(name, &self.names),
        })
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Result<&Column> {
        Ok(&self.columns[self.index_of(name)?])
    }

    /// Removes and returns the column `name`.
    pub fn remove(&mut self, name: &str) -> Result<Column> {
        let i = self.index_of(name)?;
        self.names.remove(i);
        Ok(self.columns.remove(i))
    }

    /// The table keeping only `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Table {
        Table { names: self.names.clone(), columns: self.columns.iter().map(|c| c.take(rows)).collect(), n_rows: rows.len() }
    }

    /// Converts a polars frame. Numbers and booleans become [`Column::Numeric`], dates
    /// [`Column::Datetime`], everything else [`Column::Str`] with the exact text.
    pub fn from_polars(df: &DataFrame) -> Result<Table> {
        let series: Vec<&Series> = df.columns().iter().map(|c| c.as_materialized_series()).collect();
        let names = series.iter().map(|s| s.name().to_string()).collect();
        // Columns convert independently: deal them over the cores, text columns (the
        // costly ones) first so they spread evenly.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(series.len()).max(1);
        let mut order: Vec<usize> = (0..series.len()).collect();
        order.sort_by_key(|&i| !series[i].dtype().is_string());
        let mut slots: Vec<Option<Result<Column>>> = (0..series.len()).map(|_| None).collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                    let series = &series;
                    scope.spawn(move || mine.into_iter().map(|i| (i, series_to_column(series[i]))).collect::<Vec<_>>())
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(done) => done.into_iter().for_each(|(i, c)| slots[i] = Some(c)),
                    Err(_) => {}
                }
            }
        });
        let mut columns = Vec::with_capacity(series.len());
        for slot in slots {
            columns.push(slot.unwrap_or_else(|| Err(Error::Data("column conversion failed".into())))?);
        }
        Ok(Table { names, columns, n_rows: df.height() })
    }
}

fn series_to_column(s: &Series) -> Result<Column> {
    let dtype = s.dtype();
    Ok(if dtype.is_primitive_numeric() {
        let f = s.cast(&DataType::Float64)?;
        let ca = f.f64()?;
        // Chunk by chunk over the arrow buffers: a per-value iterator is ten times slower.
        let mut values = Vec::with_capacity(ca.len());
        for arr in ca.downcast_iter() {
            let raw: &[f64] = arr.values();
            match arr.validity() {
                None => values.extend_from_slice(raw),
                Some(valid) => values.extend(raw.iter().zip(valid.iter()).map(|(v, ok)| if ok { *v } else { f64::NAN })),
            }
        }
        Column::Numeric(values)
    } else if dtype.is_bool() {
        Column::Numeric(s.bool()?.iter().map(|v| v.map_or(f64::NAN, |b| if b { 1.0 } else { 0.0 })).collect())
    } else if matches!(dtype, DataType::Date | DataType::Datetime(_, _)) {
        let ms = s.cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?.cast(&DataType::Int64)?;
        Column::Datetime(ms.i64()?.iter().collect())
    } else if dtype.is_string() {
        Column::Str(StrColumn::from_values(s.str()?.iter()))
    } else {
        let st = s.cast(&DataType::String)?;
        Column::Str(StrColumn::from_values(st.str()?.iter()))
    })
}
