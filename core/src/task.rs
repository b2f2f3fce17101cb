//! Learning tasks and targets: inference from the target column, exact labels.
use serde::{Deserialize, Serialize};

use crate::data::{Column, StrColumn};
use crate::error::{Error, Result};

/// What is learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Two classes.
    Binary,
    /// Three or more classes.
    Multiclass,
    /// A real-valued target.
    Regression,
}

impl Task {
    /// True for binary and multiclass.
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::Regression => "regression",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The task as the user asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskChoice {
    /// Inferred from the target column.
    #[default]
    Auto,
    /// Force binary classification.
    Binary,
    /// Force multiclass classification.
    Multiclass,
    /// Force regression.
    Regression,
}

impl std::str::FromStr for TaskChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "auto" => TaskChoice::Auto,
            "binary" => TaskChoice::Binary,
            "multiclass" => TaskChoice::Multiclass,
            "regression" => TaskChoice::Regression,
            _ => {
                return Err(Error::Unknown {
                    what: "task",
                    name: s.to_string(),
                    known: ["auto", "binary", "multiclass", "regression"].map(String::from).to_vec(),
                })
            }
        })
    }
}

/// Target values of the rows that have one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Target {
    /// Class indices into `labels`.
    Classes {
        /// One class index per row.
        codes: Vec<usize>,
        /// The exact label text, sorted (numerically when every label is a number).
        labels: Vec<String>,
    },
    /// Real values.
    Values(Vec<f64>),
}

impl Target {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Target::Classes { codes, .. } => codes.len(),
            Target::Values(v) => v.len(),
        }
    }
    /// True with no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        match self {
            Target::Classes { labels, .. } => labels.len(),
            Target::Values(_) => 0,
        }
    }
    /// The target keeping only `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Target {
        match self {
            Target::Classes { codes, labels } => Target::Classes { codes: rows.iter().map(|&r| codes[r]).collect(), labels: labels.clone() },
            Target::Values(v) => Target::Values(rows.iter().map(|&r| v[r]).collect()),
        }
    }
    /// Values as f64 (class index for classification).
    pub fn as_f64(&self) -> Vec<f64> {
        match self {
            Target::Classes { codes, .. } => codes.iter().map(|&c| c as f64).collect(),
            Target::Values(v) => v.clone(),
        }
    }
}

/// A target column made ready for learning.
#[derive(Debug, Clone)]
pub struct PreparedTarget {
    /// The task, inferred or as asked.
    pub task: Task,
    /// Values of the rows in `rows`.
    pub target: Target,
    /// Rows of the table that have a target, in order.
    pub rows: Vec<usize>,
    /// Rows dropped because their target is missing.
    pub missing: usize,
}

/// Sorts labels numerically when all of them are numbers, else as text.
pub fn sort_labels(labels: &mut [String]) {
    let numeric: Option<Vec<f64>> = labels.iter().map(|l| l.trim().parse::<f64>().ok()).collect();
    match numeric {
        Some(_) => labels.sort_by(|a, b| {
            let (x, y) = (a.trim().parse::<f64>().unwrap_or(f64::NAN), b.trim().parse::<f64>().unwrap_or(f64::NAN));
            x.total_cmp(&y).then_with(|| a.cmp(b))
        }),
        None => labels.sort(),
    }
}

/// Prepares the target column `name` (read as text) for `choice`.
pub fn prepare_target(name: &str, column: &Column, choice: TaskChoice) -> Result<PreparedTarget> {
    let text = match column {
        Column::Str(s) => std::borrow::Cow::Borrowed(s),
        // Callers read the target as text; accept other storage for library users.
        Column::Numeric(v) => std::borrow::Cow::Owned(StrColumn::from_values(
            v.iter().map(|x| if x.is_nan() { None } else { Some(x.to_string()) }).collect::<Vec<_>>().iter().map(|o| o.as_deref()),
        )),
        Column::Datetime(_) => return Err(Error::ColumnType { column: name.into(), message: "a date column cannot be the target".into() }),
    };
    let rows: Vec<usize> = (0..text.codes.len()).filter(|&i| text.codes[i] != crate::data::MISSING_CODE).collect();
    let missing = text.codes.len() - rows.len();
    if rows.is_empty() {
        return Err(Error::Data(format!("target column '{name}' has no values")));
    }
    let (counts, _) = text.counts(Some(&rows));
    let present: Vec<usize> = (0..counts.len()).filter(|&l| counts[l] > 0).collect();
    let numbers: Option<Vec<f64>> = present.iter().map(|&l| text.levels[l].trim().parse::<f64>().ok().filter(|x| x.is_finite())).collect();
    let task = match choice {
        TaskChoice::Binary => Task::Binary,
        TaskChoice::Multiclass => Task::Multiclass,
        TaskChoice::Regression => Task::Regression,
        TaskChoice::Auto => match (&numbers, present.len()) {
            (_, 0 | 1) => Task::Binary, // refused below with a clear message
            (_, 2) => Task::Binary,
            (Some(values), k) if k <= 20 && values.iter().all(|v| v.fract() == 0.0) && k * 5 <= rows.len() => Task::Multiclass,
            (Some(_), _) => Task::Regression,
            (None, k) if k > 200 && k * 2 > rows.len() => {
                return Err(Error::ColumnType {
                    column: name.into(),
                    message: format!("{k} distinct non-numeric values in {} rows: this looks like an ID or free text, not a target; pass --task if it really is one", rows.len()),
                })
            }
            (None, _) => Task::Multiclass,
        },
    };
    let target = if task == Task::Regression {
        let mut values = Vec::with_capacity(rows.len());
        for &r in &rows {
            let raw = text.get(r).unwrap_or_default();
            match raw.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(Error::ColumnType {
                        column: name.into(),
                        message: format!("value '{raw}' in data row {} is not a finite number, so the target cannot be used for regression; fix the value or choose a classification task", r + 1),
                    })
                }
            }
        }
        Target::Values(values)
    } else {
        if present.len() < 2 {
            return Err(Error::Data(format!(
                "target column '{name}' has a single class ('{}'): a classifier needs at least two",
                text.levels[present[0]]
            )));
        }
        if task == Task::Binary && present.len() > 2 {
            return Err(Error::Data(format!("target column '{name}' has {} classes; use --task multiclass", present.len())));
        }
        let mut labels: Vec<String> = present.iter().map(|&l| text.levels[l].clone()).collect();
        sort_labels(&mut labels);
        let mut level_to_class = vec![usize::MAX; text.levels.len()];
        for (class, label) in labels.iter().enumerate() {
            if let Some(l) = text.levels.iter().position(|x| x == label) {
                level_to_class[l] = class;
            }
        }
        Target::Classes { codes: rows.iter().map(|&r| level_to_class[text.codes[r] as usize]).collect(), labels }
    };
    Ok(PreparedTarget { task, target, rows, missing })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(values: &[&str]) -> Column {
        Column::Str(StrColumn::from_values(values.iter().map(|v| if v.is_empty() { None } else { Some(*v) })))
    }

    #[test]
    fn infers_tasks_and_keeps_exact_labels() {
        let t = prepare_target("y", &col(&["<=50K", ">50K", "<=50K", ""]), TaskChoice::Auto).unwrap();
        assert_eq!(t.task, Task::Binary);
        assert_eq!(t.missing, 1);
        assert_eq!(t.target, Target::Classes { codes: vec![0, 1, 0], labels: vec!["<=50K".into(), ">50K".into()] });
        let many: Vec<String> = (0..40).map(|i| format!("{}", i % 4)).collect();
        let refs: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        assert_eq!(prepare_target("y", &col(&refs), TaskChoice::Auto).unwrap().task, Task::Multiclass);
        let reals: Vec<String> = (0..40).map(|i| format!("{}.5", i)).collect();
        let refs: Vec<&str> = reals.iter().map(|s| s.as_str()).collect();
        assert_eq!(prepare_target("y", &col(&refs), TaskChoice::Auto).unwrap().task, Task::Regression);
    }

    #[test]
    fn sorts_numeric_labels_numerically() {
        let t = prepare_target("y", &col(&["10", "9", "1.0", "10"]), TaskChoice::Multiclass).unwrap();
        let Target::Classes { labels, .. } = t.target else { panic!() };
        assert_eq!(labels, vec!["1.0", "9", "10"]);
    }

    #[test]
    fn rejects_one_class_and_bad_regression_values() {
        assert!(matches!(prepare_target("y", &col(&["a", "a"]), TaskChoice::Auto), Err(Error::Data(m)) if m.contains("single class")));
        assert!(matches!(prepare_target("y", &col(&["1", "x"]), TaskChoice::Regression), Err(Error::ColumnType { message, .. }) if message.contains("data row 2")));
    }
}
