//! Column typing, data profile and guardrails: what is in the data and what is wrong with it.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{Column, StrColumn, Table, MISSING_CODE};
use crate::task::{prepare_target, PreparedTarget, Target, Task, TaskChoice};
use crate::error::Result;

/// What a column is, for modelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// Real or integer numbers.
    Numeric,
    /// Two values (0/1, true/false, yes/no).
    Boolean,
    /// A small or moderate set of text values.
    Categorical,
    /// Dates or date-times.
    Datetime,
    /// Long, mostly distinct text.
    Text,
    /// A distinct value per row (an identifier): dropped.
    IdLike,
    /// A single value: dropped.
    Constant,
    /// No value at all: dropped.
    Empty,
}

impl ColumnKind {
    /// True for kinds that are not used as features.
    pub fn is_dropped(self) -> bool {
        matches!(self, ColumnKind::IdLike | ColumnKind::Constant | ColumnKind::Empty)
    }
}

/// One column of the profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ColumnProfile {
    /// Column name.
    pub name: String,
    /// Inferred kind.
    pub kind: ColumnKind,
    /// Missing values.
    pub missing: usize,
    /// Missing share in [0, 1].
    pub missing_share: f64,
    /// Distinct non-missing values.
    pub distinct: usize,
    /// Infinite values (numeric columns), treated as missing.
    pub infinite: usize,
    /// Minimum, maximum and mean for numeric columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<[f64; 3]>,
    /// Most frequent values and their counts (text columns), at most five.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<(String, usize)>,
    /// Why the column is not used, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped: Option<String>,
}

/// The kinds of warning the profile raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// Some values are missing.
    MissingValues,
    /// Every value is missing.
    AllMissing,
    /// A single value.
    Constant,
    /// A distinct value per row.
    IdLike,
    /// Infinite or NaN numbers.
    NonFinite,
    /// Strings such as `NA` that may mean "missing".
    NullMarker,
    /// A text column whose values are nearly all numbers.
    MostlyNumeric,
    /// One class is rare.
    ClassImbalance,
    /// A feature predicts the target almost perfectly.
    Leakage,
    /// Rows without a target value (dropped).
    MissingTarget,
    /// The file's delimiter was detected from its header (not `,`).
    Delimiter,
}

/// A data problem found by the profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Warning {
    /// Kind of problem.
    pub kind: WarningKind,
    /// The column concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// What was found and what to do.
    pub message: String,
}

/// The target as profiled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetProfile {
    /// Target column.
    pub name: String,
    /// Task (inferred or as asked).
    pub task: Task,
    /// Rows with a missing target, dropped.
    pub missing: usize,
    /// Class labels and counts (classification).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<(String, usize)>,
}

/// What the data holds and what is wrong with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The file profiled.
    pub file: String,
    /// Data rows.
    pub rows: usize,
    /// Columns (target included).
    pub columns: usize,
    /// The target, when one was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetProfile>,
    /// Every column but the target.
    pub features: Vec<ColumnProfile>,
    /// Problems found.
    pub warnings: Vec<Warning>,
}

impl Profile {
    /// Feature columns used for learning, with their kinds.
    pub fn used_features(&self) -> Vec<(String, ColumnKind)> {
        self.features.iter().filter(|c| !c.kind.is_dropped()).map(|c| (c.name.clone(), c.kind)).collect()
    }
}

const NULL_MARKERS: &[&str] = &["NA", "N/A", "na", "n/a", "NaN", "nan", "null", "NULL", "Null", "None", "none", "?", "-", "missing", "#N/A", "nil"];

/// Profiles `table`. With a `target`, the target is prepared (missing rows dropped) and
/// target-aware checks (class balance, leakage) run on the rows that have one.
pub fn profile(file: &Path, table: &Table, target: Option<&str>, choice: TaskChoice) -> Result<(Profile, Option<PreparedTarget>)> {
    let mut warnings = Vec::new();
    let prepared = match target {
        Some(name) => Some(prepare_target(name, table.column(name)?, choice)?),
        None => None,
    };
    let target_profile = match (&prepared, target) {
        (Some(p), Some(name)) => {
            if p.missing > 0 {
                warnings.push(Warning {
                    kind: WarningKind::MissingTarget,
                    column: Some(name.into()),
                    message: format!("{} rows have no value in the target '{name}' and are dropped", p.missing),
                });
            }
            let classes = match &p.target {
                Target::Classes { codes, labels } => {
                    let mut counts = vec![0usize; labels.len()];
                    codes.iter().for_each(|&c| counts[c] += 1);
                    let (min, max) = (counts.iter().copied().min().unwrap_or(0), counts.iter().copied().max().unwrap_or(0));
                    if max > 0 && (min as f64) < 0.1 * max as f64 {
                        let rare = counts.iter().position(|&c| c == min).map(|i| labels[i].clone()).unwrap_or_default();
                        warnings.push(Warning {
                            kind: WarningKind::ClassImbalance,
                            column: Some(name.into()),
                            message: format!(
                                "class '{rare}' has {min} rows against {max} for the largest class; accuracy can mislead: consider --metric balanced_accuracy or macro_f1"
                            ),
                        });
                    }
                    labels.iter().cloned().zip(counts).collect()
                }
                Target::Values(_) => Vec::new(),
            };
            Some(TargetProfile { name: name.into(), task: p.task, missing: p.missing, classes })
        }
        _ => None,
    };
    let mut features = Vec::new();
    for (name, column) in table.names.iter().zip(&table.columns) {
        if Some(name.as_str()) == target {
            continue;
        }
        let cp = profile_column(name, column, table.n_rows, &mut warnings);
        if let (Some(p), false) = (&prepared, cp.kind.is_dropped()) {
            if let Some(score) = leakage_score(column, p) {
                if score >= 0.99 {
                    warnings.push(Warning {
                        kind: WarningKind::Leakage,
                        column: Some(name.clone()),
                        message: format!(
                            "'{name}' alone predicts the target almost perfectly (score {score:.3}); if it is only known after the outcome, drop it from the file"
                        ),
                    });
                }
            }
        }
        features.push(cp);
    }
    let profile = Profile { file: file.display().to_string(), rows: table.n_rows, columns: table.names.len(), target: target_profile, features, warnings };
    Ok((profile, prepared))
}

fn profile_column(name: &str, column: &Column, n_rows: usize, warnings: &mut Vec<Warning>) -> ColumnProfile {
    let mut warn = |kind, message: String| warnings.push(Warning { kind, column: Some(name.to_string()), message });
    let (missing, distinct, infinite, stats, top, kind) = match column {
        Column::Numeric(values) => {
            let infinite = values.iter().filter(|v| v.is_infinite()).count();
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            let missing = values.len() - finite.len();
            let mut sorted = finite.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            let distinct = sorted.len();
            let stats = (!finite.is_empty()).then(|| [sorted[0], sorted[distinct - 1], finite.iter().sum::<f64>() / finite.len() as f64]);
            if infinite > 0 {
                warn(WarningKind::NonFinite, format!("{infinite} infinite values, treated as missing"));
            }
            let integer = finite.iter().all(|v| v.fract() == 0.0);
            let lname = name.to_lowercase();
            let id_name = lname == "id" || lname.ends_with("_id") || lname.ends_with("id") && name.chars().rev().nth(2).is_some_and(|c| c.is_lowercase()) || lname.starts_with("id_");
            let kind = if finite.is_empty() {
                ColumnKind::Empty
            } else if distinct == 1 {
                ColumnKind::Constant
            } else if integer && distinct == finite.len() && finite.len() >= 20 && (id_name || finite.windows(2).all(|w| w[1] == w[0] + 1.0)) {
                ColumnKind::IdLike
            } else if distinct == 2 && sorted == [0.0, 1.0] {
                ColumnKind::Boolean
            } else {
                ColumnKind::Numeric
            };
            (missing, distinct, infinite, stats, Vec::new(), kind)
        }
        Column::Datetime(values) => {
            let present: Vec<i64> = values.iter().flatten().copied().collect();
            let mut sorted = present.clone();
            sorted.sort();
            sorted.dedup();
            let kind = match sorted.len() {
                0 => ColumnKind::Empty,
                1 => ColumnKind::Constant,
                _ => ColumnKind::Datetime,
            };
            (values.len() - present.len(), sorted.len(), 0, None, Vec::new(), kind)
        }
        Column::Str(s) => {
            let (counts, missing) = s.counts(None);
            let present = n_rows - missing;
            let distinct = counts.iter().filter(|&&c| c > 0).count();
            let mut order: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] > 0).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(counts[i]));
            let top: Vec<(String, usize)> = order.iter().take(5).map(|&i| (s.levels[i].clone(), counts[i])).collect();
            check_text_values(s, &counts, present, &mut warn);
            let mean_len = if present == 0 { 0.0 } else { order.iter().map(|&i| s.levels[i].chars().count() * counts[i]).sum::<usize>() as f64 / present as f64 };
            let kind = if present == 0 {
                ColumnKind::Empty
            } else if distinct == 1 {
                ColumnKind::Constant
            } else if is_boolean_levels(s, &counts) {
                ColumnKind::Boolean
            } else if distinct == present && present >= 20 && mean_len < 40.0 {
                ColumnKind::IdLike
            } else if mean_len >= 40.0 && distinct * 2 > present {
                ColumnKind::Text
            } else {
                ColumnKind::Categorical
            };
            (missing, distinct, 0, None, top, kind)
        }
    };
    let dropped = match kind {
        ColumnKind::Empty => Some("every value is missing".to_string()),
        ColumnKind::Constant => Some("a single value".to_string()),
        ColumnKind::IdLike => Some(format!("a distinct value in each of its {distinct} rows (an identifier)")),
        _ => None,
    };
    match kind {
        ColumnKind::Empty => warn(WarningKind::AllMissing, "every value is missing: column dropped".into()),
        ColumnKind::Constant => warn(WarningKind::Constant, "a single value: column dropped".into()),
        ColumnKind::IdLike => warn(WarningKind::IdLike, format!("{distinct} distinct values, one per row: looks like an identifier, dropped")),
        _ if missing > 0 => warn(
            WarningKind::MissingValues,
            format!("{missing} missing values ({:.1}%): imputed, with a missing indicator", 100.0 * missing as f64 / n_rows.max(1) as f64),
        ),
        _ => {}
    }
    ColumnProfile { name: name.to_string(), kind, missing, missing_share: missing as f64 / n_rows.max(1) as f64, distinct, infinite, stats, top, dropped }
}

fn check_text_values(s: &StrColumn, counts: &[usize], present: usize, warn: &mut impl FnMut(WarningKind, String)) {
    let markers: Vec<String> = (0..counts.len())
        .filter(|&i| counts[i] > 0 && NULL_MARKERS.contains(&s.levels[i].trim()))
        .map(|i| format!("'{}' ({} rows)", s.levels[i], counts[i]))
        .collect();
    if !markers.is_empty() {
        warn(
            WarningKind::NullMarker,
            format!("values {} look like missing-value markers; they are kept as categories unless you pass --na-values", markers.join(", ")),
        );
    }
    let numeric: usize = (0..counts.len()).filter(|&i| s.levels[i].trim().parse::<f64>().is_ok()).map(|i| counts[i]).sum();
    if present > 0 && numeric < present && numeric as f64 >= 0.9 * present as f64 {
        let examples: Vec<String> = (0..counts.len())
            .filter(|&i| counts[i] > 0 && s.levels[i].trim().parse::<f64>().is_err())
            .take(3)
            .map(|i| format!("'{}'", s.levels[i]))
            .collect();
        warn(
            WarningKind::MostlyNumeric,
            format!(
                "{:.1}% of values are numbers but some are not ({}): the column is read as text; pass --na-values if these mean missing",
                100.0 * numeric as f64 / present as f64,
                examples.join(", ")
            ),
        );
    }
}

fn is_boolean_levels(s: &StrColumn, counts: &[usize]) -> bool {
    const PAIRS: &[[&str; 2]] = &[["true", "false"], ["yes", "no"], ["y", "n"], ["t", "f"]];
    let present: Vec<String> = (0..counts.len()).filter(|&i| counts[i] > 0).map(|i| s.levels[i].trim().to_lowercase()).collect();
    present.len() == 2 && PAIRS.iter().any(|p| present.iter().all(|v| p.contains(&v.as_str())))
}

/// How well `column` alone predicts the target: purity of up to 64 buckets for classes
/// (1 = perfect), share of variance explained by the buckets for regression.
fn leakage_score(column: &Column, prepared: &PreparedTarget) -> Option<f64> {
    let rows = &prepared.rows;
    let buckets: Vec<u32> = match column {
        Column::Str(s) => {
            let (counts, _) = s.counts(Some(rows));
            if counts.iter().filter(|&&c| c > 0).count() > 64 {
                return None;
            }
            rows.iter().map(|&r| s.codes[r]).collect()
        }
        Column::Numeric(v) => quantile_buckets(&rows.iter().map(|&r| v[r]).collect::<Vec<_>>()),
        Column::Datetime(v) => quantile_buckets(&rows.iter().map(|&r| v[r].map_or(f64::NAN, |x| x as f64)).collect::<Vec<_>>()),
    };
    let n = buckets.len() as f64;
    let mut ids: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let b: Vec<usize> = buckets.iter().map(|&k| { let l = ids.len(); *ids.entry(k).or_insert(l) }).collect();
    let nb = ids.len();
    if nb < 2 {
        return None;
    }
    match &prepared.target {
        Target::Classes { codes, labels } => {
            let k = labels.len();
            let mut table = vec![0usize; nb * k];
            b.iter().zip(codes).for_each(|(&bi, &c)| table[bi * k + c] += 1);
            let pure: usize = table.chunks(k).map(|row| row.iter().copied().max().unwrap_or(0)).sum();
            let mut class = vec![0usize; k];
            codes.iter().for_each(|&c| class[c] += 1);
            let baseline = class.iter().copied().max().unwrap_or(0) as f64 / n;
            let purity = pure as f64 / n;
            // Only meaningful when the majority class alone is far from perfect.
            (baseline < 0.9).then(|| (purity - baseline) / (1.0 - baseline))
        }
        Target::Values(y) => {
            let mean = y.iter().sum::<f64>() / n;
            let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
            let mut sums = vec![(0.0f64, 0usize); nb];
            b.iter().zip(y).for_each(|(&bi, &v)| { sums[bi].0 += v; sums[bi].1 += 1 });
            let within: f64 = b.iter().zip(y).map(|(&bi, &v)| (v - sums[bi].0 / sums[bi].1 as f64).powi(2)).sum();
            (total > 0.0).then(|| 1.0 - within / total)
        }
    }
}

fn quantile_buckets(values: &[f64]) -> Vec<u32> {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..64).map(|q| finite.get(q * finite.len() / 64).copied().unwrap_or(f64::INFINITY)).collect();
    edges.dedup();
    values
        .iter()
        .map(|v| if v.is_finite() { edges.partition_point(|e| e <= v) as u32 } else { MISSING_CODE })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cols: Vec<(&str, Column)>) -> Table {
        let n = cols[0].1.len();
        Table { names: cols.iter().map(|c| c.0.to_string()).collect(), columns: cols.into_iter().map(|c| c.1).collect(), n_rows: n }
    }

    fn text(values: Vec<String>) -> Column {
        Column::Str(StrColumn::from_values(values.iter().map(|v| if v.is_empty() { None } else { Some(v.as_str()) })))
    }

    #[test]
    fn types_columns_and_warns() {
        let n = 100;
        let t = table(vec![
            ("id", Column::Numeric((0..n).map(|i| i as f64).collect())),
            ("code", text((0..n).map(|i| format!("c{i}")).collect())),
            ("const", Column::Numeric(vec![1.0; n])),
            ("empty", Column::Numeric(vec![f64::NAN; n])),
            ("x", Column::Numeric((0..n).map(|i| if i % 10 == 0 { f64::INFINITY } else { (i % 7) as f64 }).collect())),
            ("color", text((0..n).map(|i| ["red", "NA", "blue"][i % 3].to_string()).collect())),
            ("leak", Column::Numeric((0..n).map(|i| (i % 2) as f64 * 10.0).collect())),
            ("y", text((0..n).map(|i| if i == 5 { String::new() } else { ["no", "yes"][i % 2].to_string() }).collect())),
        ]);
        let (p, prepared) = profile(Path::new("t.csv"), &t, Some("y"), TaskChoice::Auto).unwrap();
        let kind = |name: &str| p.features.iter().find(|c| c.name == name).unwrap().kind;
        assert_eq!(kind("id"), ColumnKind::IdLike);
        assert_eq!(kind("code"), ColumnKind::IdLike);
        assert_eq!(kind("const"), ColumnKind::Constant);
        assert_eq!(kind("empty"), ColumnKind::Empty);
        assert_eq!(kind("x"), ColumnKind::Numeric);
        assert_eq!(kind("color"), ColumnKind::Categorical);
        let has = |k: WarningKind, c: &str| p.warnings.iter().any(|w| w.kind == k && w.column.as_deref() == Some(c));
        assert!(has(WarningKind::NonFinite, "x"));
        assert!(has(WarningKind::NullMarker, "color"));
        assert!(has(WarningKind::Leakage, "leak"));
        assert!(!has(WarningKind::Leakage, "x"));
        assert!(has(WarningKind::MissingTarget, "y"));
        assert_eq!(prepared.unwrap().rows.len(), 99);
        assert_eq!(p.used_features().len(), 3);
    }
}
