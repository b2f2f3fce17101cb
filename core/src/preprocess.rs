//! Preprocessing: imputation with missing indicators, one-hot and frequency encoding,
//! datetime parts, text lengths and optional scaling. Fitted on training rows only and
//! stored in the model so prediction applies exactly the same transformation.
use std::collections::HashMap;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{Column, Table, MISSING_CODE};
use crate::error::{Error, Result};
use crate::profile::ColumnKind;

/// Text columns with at most this many levels are one-hot encoded in full; larger ones
/// keep one-hot columns for their most frequent levels plus a frequency encoding.
pub const ONE_HOT_MAX_LEVELS: usize = 16;

/// How a learner wants its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// Imputed, one-hot and frequency encoded.
    Dense,
    /// As `Dense`, then standardised.
    Scaled,
    /// For trees: numbers kept with NaN for missing, categories as integer codes (by
    /// frequency) split natively, no indicators.
    Trees,
}

impl Encoding {
    /// All encodings, in index order.
    pub const ALL: [Encoding; 3] = [Encoding::Dense, Encoding::Scaled, Encoding::Trees];
    /// Position in [`Encoding::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Most category codes kept for tree encoding; rarer categories share "missing".
pub const TREE_MAX_CATEGORIES: usize = 254;

/// An input column the pipeline reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputColumn {
    /// Column name.
    pub name: String,
    /// Its kind at training time.
    pub kind: ColumnKind,
}

/// How one input column becomes output columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Step {
    /// Numbers: missing and infinite values filled with the training median.
    Numeric { fill: f64, indicator: bool },
    /// Text: one column per kept level; unseen values give all zeros. With `frequency`,
    /// also the share of training rows with the value.
    Encoded { levels: Vec<String>, frequency: Option<Vec<(String, f64)>>, indicator: bool },
    /// Dates: year, month, day, weekday, hour (when times vary) and days since epoch.
    Datetime { fill_ms: i64, with_time: bool, indicator: bool },
    /// Free text: length in characters and in words.
    TextLength,
}

/// Standardisation of output columns, for learners that need it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 where constant).
    pub std: Vec<f64>,
}

/// A fitted preprocessing pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    inputs: Vec<InputColumn>,
    steps: Vec<Step>,
    output_names: Vec<String>,
    scaler: Option<Scaler>,
    encoding: Encoding,
    categorical: Vec<bool>,
}

impl Pipeline {
    /// Fits on `rows` of `table`, reading the `features` (name, kind), for `encoding`.
    pub fn fit(table: &Table, rows: &[usize], features: &[(String, ColumnKind)], encoding: Encoding) -> Result<Pipeline> {
        let trees = encoding == Encoding::Trees;
        if rows.is_empty() {
            return Err(Error::Data("no training rows to fit preprocessing on".into()));
        }
        let mut inputs = Vec::new();
        let mut steps = Vec::new();
        let mut output_names = Vec::new();
        let mut categorical = Vec::new();
        for (name, kind) in features {
            let column = table.column(name)?;
            // Trees route missing values themselves: no indicator columns.
            let missing = !trees && rows.iter().any(|&r| column.is_missing(r) || matches!(column, Column::Numeric(v) if v[r].is_infinite()));
            let width_before = output_names.len();
            let step = match (kind, column) {
                (ColumnKind::Text, Column::Str(_)) => {
                    output_names.extend([format!("{name}__chars"), format!("{name}__words")]);
                    Step::TextLength
                }
                (_, Column::Numeric(values)) => {
                    let mut present: Vec<f64> = rows.iter().map(|&r| values[r]).filter(|v| v.is_finite()).collect();
                    let fill = median(&mut present);
                    output_names.push(name.clone());
                    Step::Numeric { fill, indicator: missing }
                }
                (_, Column::Str(s)) => {
                    let (counts, _) = s.counts(Some(rows));
                    let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
                    order.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(s.levels[a].cmp(&s.levels[b])));
                    if trees {
                        let kept: Vec<String> = order.iter().take(TREE_MAX_CATEGORIES).map(|&i| s.levels[i].clone()).collect();
                        output_names.push(name.clone());
                        categorical.push(true);
                        inputs.push(InputColumn { name: name.clone(), kind: *kind });
                        steps.push(Step::Encoded { levels: kept, frequency: None, indicator: false });
                        continue;
                    }
                    let high = order.len() > ONE_HOT_MAX_LEVELS;
                    let kept: Vec<String> = order.iter().take(if high { ONE_HOT_MAX_LEVELS - 1 } else { order.len() }).map(|&i| s.levels[i].clone()).collect();
                    output_names.extend(kept.iter().map(|l| format!("{name}={l}")));
                    let frequency = high.then(|| {
                        output_names.push(format!("{name}__frequency"));
                        order.iter().map(|&i| (s.levels[i].clone(), counts[i] as f64 / rows.len() as f64)).collect()
                    });
                    Step::Encoded { levels: kept, frequency, indicator: missing }
                }
                (_, Column::Datetime(values)) => {
                    let mut present: Vec<f64> = rows.iter().filter_map(|&r| values[r]).map(|v| v as f64).collect();
                    let fill_ms = median(&mut present) as i64;
                    let with_time = rows.iter().filter_map(|&r| values[r]).any(|v| v.rem_euclid(86_400_000) != 0);
                    let mut parts = vec!["year", "month", "day", "weekday"];
                    if with_time {
                        parts.push("hour");
                    }
                    parts.push("days");
                    output_names.extend(parts.iter().map(|p| format!("{name}__{p}")));
                    Step::Datetime { fill_ms, with_time, indicator: missing }
                }
            };
            if matches!(step, Step::Numeric { indicator: true, .. } | Step::Encoded { indicator: true, .. } | Step::Datetime { indicator: true, .. }) {
                output_names.push(format!("{name}__missing"));
            }
            categorical.extend(std::iter::repeat_n(false, output_names.len() - width_before));
            inputs.push(InputColumn { name: name.clone(), kind: *kind });
            steps.push(step);
        }
        let mut pipeline = Pipeline { inputs, steps, output_names, scaler: None, encoding, categorical };
        if encoding == Encoding::Scaled {
            let x = pipeline.transform(table, Some(rows))?;
            let n = x.nrows() as f64;
            let mean: Vec<f64> = x.columns().into_iter().map(|c| c.sum() / n).collect();
            let std: Vec<f64> = x
                .columns()
                .into_iter()
                .zip(&mean)
                .map(|(c, m)| {
                    let s = (c.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt();
                    if s > 1e-12 && s.is_finite() { s } else { 1.0 }
                })
                .collect();
            pipeline.scaler = Some(Scaler { mean, std });
        }
        Ok(pipeline)
    }

    /// The input columns, with their kinds at training time.
    pub fn inputs(&self) -> &[InputColumn] {
        &self.inputs
    }

    /// The encoding fitted for.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Which output columns hold category codes (tree encoding).
    pub fn categorical(&self) -> &[bool] {
        &self.categorical
    }

    /// Names of the output columns.
    pub fn output_names(&self) -> &[String] {
        &self.output_names
    }

    /// For each output column, the input column it is made from (an index into
    /// [`Pipeline::inputs`]): one-hot levels, indicators and date parts map to their column.
    pub fn output_sources(&self) -> Vec<usize> {
        self.steps.iter().enumerate().flat_map(|(i, step)| std::iter::repeat_n(i, self.width(step))).collect()
    }

    /// Transforms `rows` of `table` (all rows when `None`) into a finite matrix.
    ///
    /// Columns are found by name; a missing column or a value of the wrong type is an error
    /// naming the column (and the row).
    pub fn transform(&self, table: &Table, rows: Option<&[usize]>) -> Result<Array2<f64>> {
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..table.n_rows).collect();
                &all
            }
        };
        let mut out = Array2::<f64>::zeros((rows.len(), self.output_names.len()));
        let trees = self.encoding == Encoding::Trees;
        let mut at = 0usize;
        for (input, step) in self.inputs.iter().zip(&self.steps) {
            let column = table.column(&input.name)?;
            let width = self.width(step);
            let mut block = out.slice_mut(ndarray::s![.., at..at + width]);
            match (step, column) {
                (Step::Numeric { fill, indicator }, Column::Numeric(values)) => {
                    for (i, &r) in rows.iter().enumerate() {
                        let v = values[r];
                        let ok = v.is_finite();
                        block[[i, 0]] = if ok { v } else if trees { f64::NAN } else { *fill };
                        if *indicator {
                            block[[i, 1]] = f64::from(u8::from(!ok));
                        }
                    }
                }
                (Step::Numeric { fill, indicator }, Column::Str(s)) => {
                    // A number column that reads as text here: parse strictly, name the row. A
                    // boolean column (read as true/false, stored as 1/0) reads those words too.
                    let boolean = input.kind == ColumnKind::Boolean;
                    for (i, &r) in rows.iter().enumerate() {
                        let v = match s.get(r) {
                            None => f64::NAN,
                            Some(text) => parse_number(text, boolean).ok_or_else(|| Error::ColumnType {
                                column: input.name.clone(),
                                message: format!("value '{text}' in data row {} is not a number, but the model was trained on numbers", r + 1),
                            })?,
                        };
                        let ok = v.is_finite();
                        block[[i, 0]] = if ok { v } else if trees { f64::NAN } else { *fill };
                        if *indicator {
                            block[[i, 1]] = f64::from(u8::from(!ok));
                        }
                    }
                }
                (Step::Encoded { levels, .. }, Column::Str(s)) if trees => {
                    // Category code by training frequency; unseen or missing: NaN.
                    let index: HashMap<&str, usize> = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
                    let code: Vec<f64> = s.levels.iter().map(|l| index.get(l.as_str()).map_or(f64::NAN, |&c| c as f64)).collect();
                    for (i, &r) in rows.iter().enumerate() {
                        let c = s.codes[r];
                        block[[i, 0]] = if c == MISSING_CODE { f64::NAN } else { code[c as usize] };
                    }
                }
                (Step::Encoded { levels, frequency, indicator }, Column::Str(s)) => {
                    let index: HashMap<&str, usize> = levels.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
                    let freq: HashMap<&str, f64> = frequency.iter().flatten().map(|(l, f)| (l.as_str(), *f)).collect();
                    // Map this table's dictionary once, then rows by code.
                    let slot: Vec<Option<usize>> = s.levels.iter().map(|l| index.get(l.as_str()).copied()).collect();
                    let share: Vec<f64> = s.levels.iter().map(|l| freq.get(l.as_str()).copied().unwrap_or(0.0)).collect();
                    let k = levels.len();
                    for (i, &r) in rows.iter().enumerate() {
                        let code = s.codes[r];
                        if code == MISSING_CODE {
                            if *indicator {
                                block[[i, width - 1]] = 1.0;
                            }
                            continue;
                        }
                        if let Some(j) = slot[code as usize] {
                            block[[i, j]] = 1.0;
                        }
                        if frequency.is_some() {
                            block[[i, k]] = share[code as usize];
                        }
                    }
                }
                (Step::Encoded { .. }, Column::Numeric(values)) => {
                    // Text at training time, numbers here: compare by the text of the number.
                    let text: Vec<Option<String>> = values.iter().map(|v| v.is_finite().then(|| format_number(*v))).collect();
                    let as_text = Column::Str(crate::data::StrColumn::from_values(text.iter().map(|o| o.as_deref())));
                    block.assign(&self.transform_converted(input, step, width, as_text, rows)?);
                }
                (Step::Datetime { fill_ms, with_time, indicator }, Column::Datetime(values)) => {
                    for (i, &r) in rows.iter().enumerate() {
                        let v = values[r];
                        let parts = date_parts(v.unwrap_or(*fill_ms), *with_time);
                        for (j, p) in parts.iter().enumerate() {
                            block[[i, j]] = if trees && v.is_none() { f64::NAN } else { *p };
                        }
                        if *indicator {
                            block[[i, width - 1]] = f64::from(u8::from(v.is_none()));
                        }
                    }
                }
                (Step::Datetime { .. }, Column::Str(s)) => {
                    // Dates at training time, text here (e.g. a column with no value at all):
                    // parse strictly and name the first row that is not a date.
                    let mut values = Vec::with_capacity(table.n_rows);
                    for r in 0..s.codes.len() {
                        values.push(match s.get(r) {
                            None => None,
                            Some(text) => Some(crate::data::parse_datetime(text).ok_or_else(|| Error::ColumnType {
                                column: input.name.clone(),
                                message: format!("value '{text}' in data row {} is not a date (YYYY-MM-DD[ HH:MM[:SS]]), but the model was trained on dates", r + 1),
                            })?),
                        });
                    }
                    block.assign(&self.transform_converted(input, step, width, Column::Datetime(values), rows)?);
                }
                (Step::TextLength, Column::Str(s)) => {
                    let lengths: Vec<(f64, f64)> = s.levels.iter().map(|l| (l.chars().count() as f64, l.split_whitespace().count() as f64)).collect();
                    for (i, &r) in rows.iter().enumerate() {
                        if let Some(&(c, w)) = lengths.get(s.codes[r] as usize) {
                            block[[i, 0]] = c;
                            block[[i, 1]] = w;
                        }
                    }
                }
                (_, other) => {
                    return Err(Error::ColumnType {
                        column: input.name.clone(),
                        message: format!("reads as {} here, but the model was trained on a {:?} column", other.storage_name(), input.kind),
                    })
                }
            }
            at += width;
        }
        if let Some(scaler) = &self.scaler {
            for (j, mut col) in out.columns_mut().into_iter().enumerate() {
                let (m, s) = (scaler.mean[j], scaler.std[j]);
                col.mapv_inplace(|v| (v - m) / s);
            }
        }
        Ok(out)
    }
}

impl Pipeline {
    /// Checks internal consistency, for a pipeline decoded from a file: one step per
    /// input, the steps' widths adding up to the output names, a flag per output column,
    /// a scaler exactly when the encoding scales and of the output width, finite fill
    /// values. The message names what is inconsistent.
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.inputs.len() != self.steps.len() {
            return Err(format!("{} input columns but {} preprocessing steps", self.inputs.len(), self.steps.len()));
        }
        let width: usize = self.steps.iter().map(|s| self.width(s)).sum();
        if width != self.output_names.len() || self.categorical.len() != width {
            return Err(format!("the steps make {width} columns, but {} are named and {} flagged categorical", self.output_names.len(), self.categorical.len()));
        }
        if let Some((input, e)) = self.inputs.iter().zip(&self.steps).find_map(|(i, s)| s.check().err().map(|e| (i, e))) {
            return Err(format!("column '{}': {e}", input.name));
        }
        match (&self.scaler, self.encoding == Encoding::Scaled) {
            (Some(scaler), true) => scaler.check(width),
            (None, false) => Ok(()),
            (scaler, _) => Err(format!("{} scaler for the {:?} encoding", if scaler.is_some() { "a" } else { "no" }, self.encoding)),
        }
    }

    /// Output columns of `step`: category codes take one column under tree encoding.
    fn width(&self, step: &Step) -> usize {
        if self.encoding == Encoding::Trees && matches!(step, Step::Encoded { .. }) { 1 } else { step_width(step) }
    }

    /// Applies one step to a column converted to the storage it was trained on.
    fn transform_converted(&self, input: &InputColumn, step: &Step, width: usize, column: Column, rows: &[usize]) -> Result<Array2<f64>> {
        let n_rows = column.len();
        let table = Table { names: vec![input.name.clone()], columns: vec![column], n_rows };
        let single = Pipeline {
            inputs: vec![input.clone()],
            steps: vec![step.clone()],
            output_names: vec![String::new(); width],
            scaler: None,
            encoding: self.encoding,
            categorical: Vec::new(),
        };
        single.transform(&table, Some(rows))
    }
}

impl Step {
    fn check(&self) -> std::result::Result<(), String> {
        match self {
            Step::Numeric { fill, .. } if !fill.is_finite() => Err(format!("fill value {fill}")),
            Step::Encoded { frequency: Some(f), .. } if f.iter().any(|(_, v)| !v.is_finite()) => Err("a non-finite level frequency".into()),
            _ => Ok(()),
        }
    }
}

impl Scaler {
    /// Checks one finite mean and one positive, finite spread per column of `width`.
    fn check(&self, width: usize) -> std::result::Result<(), String> {
        if self.mean.len() != width || self.std.len() != width {
            return Err(format!("a scaler of {} means and {} spreads for {width} columns", self.mean.len(), self.std.len()));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("a scaler with a non-finite mean or a spread that is not positive and finite".into());
        }
        Ok(())
    }
}

fn step_width(step: &Step) -> usize {
    match step {
        Step::Numeric { indicator, .. } => 1 + usize::from(*indicator),
        Step::Encoded { levels, frequency, indicator } => levels.len() + usize::from(frequency.is_some()) + usize::from(*indicator),
        Step::Datetime { with_time, indicator, .. } => 5 + usize::from(*with_time) + usize::from(*indicator),
        Step::TextLength => 2,
    }
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A number as the CSV reader would have read it as text (integers without a fraction).
pub fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { v.to_string() }
}

/// Year, month, day, weekday (0 = Monday), hour when `with_time`, and days since the epoch.
fn date_parts(ms: i64, with_time: bool) -> Vec<f64> {
    let days = ms.div_euclid(86_400_000);
    let hour = ms.rem_euclid(86_400_000) / 3_600_000;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 3).rem_euclid(7);
    let mut parts = vec![year as f64, month as f64, day as f64, weekday as f64];
    if with_time {
        parts.push(hour as f64);
    }
    parts.push(days as f64);
    parts
}


/// A number from text, as polars reads it: `true` and `false` (any case) are 1 and 0
/// when `boolean`.
fn parse_number(text: &str, boolean: bool) -> Option<f64> {
    let t = text.trim();
    if boolean {
        if t.eq_ignore_ascii_case("true") {
            return Some(1.0);
        }
        if t.eq_ignore_ascii_case("false") {
            return Some(0.0);
        }
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::StrColumn;

    fn table() -> Table {
        Table {
            names: vec!["x".into(), "c".into(), "d".into()],
            columns: vec![
                Column::Numeric(vec![1.0, f64::NAN, 3.0, f64::INFINITY]),
                Column::Str(StrColumn::from_values([Some("a"), Some("b"), None, Some("a")])),
                Column::Datetime(vec![Some(0), Some(86_400_000 * 31), None, Some(86_400_000)]),
            ],
            n_rows: 4,
        }
    }

    fn features() -> Vec<(String, ColumnKind)> {
        vec![("x".into(), ColumnKind::Numeric), ("c".into(), ColumnKind::Categorical), ("d".into(), ColumnKind::Datetime)]
    }

    #[test]
    fn imputes_encodes_and_marks_missing() {
        let t = table();
        let p = Pipeline::fit(&t, &[0, 1, 2, 3], &features(), Encoding::Dense).unwrap();
        let x = p.transform(&t, None).unwrap();
        assert!(x.iter().all(|v| v.is_finite()));
        let names = p.output_names();
        let col = |n: &str| names.iter().position(|x| x == n).unwrap();
        assert_eq!(x[[1, col("x")]], 3.0); // median of {1, 3}
        assert_eq!(x[[1, col("x__missing")]], 1.0);
        assert_eq!(x[[3, col("x__missing")]], 1.0);
        assert_eq!(x[[0, col("c=a")]], 1.0);
        assert_eq!(x[[2, col("c__missing")]], 1.0);
        assert_eq!(x[[1, col("d__month")]], 2.0);
        assert_eq!(x[[0, col("d__year")]], 1970.0);
        assert_eq!(x[[0, col("d__weekday")]], 3.0); // 1970-01-01 was a Thursday
        // Every output column comes from the input its name starts with.
        let sources = p.output_sources();
        assert_eq!(sources.len(), names.len());
        for (name, &s) in names.iter().zip(&sources) {
            assert!(name.starts_with(&p.inputs()[s].name), "{name} from {}", p.inputs()[s].name);
        }
    }

    #[test]
    fn fits_on_training_rows_only() {
        let t = table();
        let p = Pipeline::fit(&t, &[0, 1], &features(), Encoding::Dense).unwrap();
        // 'x' median from rows 0..2 only: {1}; level 'b' seen, 'a' seen; row 2's value is missing.
        let x = p.transform(&t, Some(&[1])).unwrap();
        assert_eq!(x[[0, 0]], 1.0);
    }

    #[test]
    fn tree_encoding_keeps_missing_and_codes_categories() {
        let t = table();
        let p = Pipeline::fit(&t, &[0, 1, 2, 3], &features(), Encoding::Trees).unwrap();
        let x = p.transform(&t, None).unwrap();
        assert_eq!(p.output_names()[..2], ["x".to_string(), "c".to_string()]);
        assert_eq!(p.categorical()[..2], [false, true]);
        assert!(x[[1, 0]].is_nan() && x[[3, 0]].is_nan(), "missing and infinite stay missing");
        assert_eq!(x[[0, 1]], 0.0, "'a' is the most frequent level");
        assert_eq!(x[[1, 1]], 1.0);
        assert!(x[[2, 1]].is_nan());
        assert!(x[[2, 2]].is_nan(), "a missing date has missing parts");
        assert_eq!(p.categorical().len(), x.ncols());
    }

    #[test]
    fn fitted_pipelines_pass_their_check_and_inconsistent_ones_fail_it() {
        let t = table();
        for encoding in Encoding::ALL {
            let p = Pipeline::fit(&t, &[0, 1, 2, 3], &features(), encoding).unwrap();
            assert_eq!(p.check(), Ok(()), "{encoding:?}");
        }
        let p = Pipeline::fit(&t, &[0, 1, 2, 3], &features(), Encoding::Scaled).unwrap();
        let width = p.output_names().len();
        let broken = |edit: &dyn Fn(&mut Pipeline)| {
            let mut q = p.clone();
            edit(&mut q);
            q.check().unwrap_err()
        };
        let e = broken(&|q| if let Some(s) = q.scaler.as_mut() { s.std.pop(); });
        assert_eq!(e, format!("a scaler of {width} means and {} spreads for {width} columns", width - 1));
        let e = broken(&|q| if let Some(s) = q.scaler.as_mut() { s.std[0] = 0.0; });
        assert!(e.contains("not positive and finite"), "{e}");
        let e = broken(&|q| q.scaler = None);
        assert!(e.contains("no scaler for the Scaled encoding"), "{e}");
        let e = broken(&|q| q.output_names.pop().map_or((), drop));
        assert!(e.contains(&format!("the steps make {width} columns, but {} are named", width - 1)), "{e}");
        let e = broken(&|q| q.steps.pop().map_or((), drop));
        assert!(e.contains("3 input columns but 2 preprocessing steps"), "{e}");
        let e = broken(&|q| q.steps[0] = Step::Numeric { fill: f64::NAN, indicator: true });
        assert!(e.contains("column 'x': fill value NaN"), "{e}");
    }

    #[test]
    fn unseen_levels_are_zero_and_missing_columns_named() {
        let t = table();
        let p = Pipeline::fit(&t, &[0, 1, 2, 3], &features(), Encoding::Scaled).unwrap();
        let mut other = t.clone();
        other.columns[1] = Column::Str(StrColumn::from_values([Some("zzz"), Some("a"), Some("b"), Some("a")]));
        assert!(p.transform(&other, None).is_ok());
        other.remove("c").unwrap();
        assert!(matches!(p.transform(&other, None), Err(Error::MissingColumn { column, .. }) if column == "c"));
    }
}
