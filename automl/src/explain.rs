//! Why a model predicts what it does: exact TreeSHAP contributions of each input column
//! to every row's prediction (models of boosters and forests), their mean absolute value
//! as feature importance, and permutation importance for any model.
use std::collections::HashMap;
use std::io::Write;

use automl_core::data::{Column, Table};
use automl_core::learners::{FittedModel, OutputSpace};
use automl_core::metrics::{BuiltinMetric, Direction, Metric};
use automl_core::task::{Target, Task};
use ndarray::{Array2, Array3, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::artifact::{csv_field, Member, ModelArtifact};
use crate::error::{Error, Result};

/// Per-row contributions of a model's input columns to its explained outputs.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The input columns (after preprocessing plugins), in the model's order.
    pub columns: Vec<String>,
    /// The outputs explained: the target (regression), class 1's label (binary), or
    /// every class label (multiclass).
    pub outputs: Vec<String>,
    /// What the outputs are: values, margins (boosters' log-odds) or probabilities.
    pub space: OutputSpace,
    /// `(rows, columns + 1, outputs)`: each column's contribution, the base value last.
    pub values: Array3<f64>,
    /// The outputs explained, `(rows, outputs)`: the members' raw outputs averaged with
    /// their weights, computed by prediction (contributions plus base value equal them).
    pub raw: Array2<f64>,
    /// The trials whose configurations were explained.
    pub trials: Vec<u64>,
}

/// How much a column matters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// The column.
    pub column: String,
    /// Mean absolute contribution, or the mean loss of score when it is permuted.
    pub importance: f64,
    /// Standard deviation of the permutation repeats (0 for contributions).
    pub std: f64,
}

impl Explanation {
    /// Mean absolute contribution of each column over rows (summed over outputs), most
    /// important first.
    pub fn importance(&self) -> Vec<Importance> {
        let n = self.values.len_of(Axis(0)).max(1) as f64;
        let mut out: Vec<Importance> = self
            .columns
            .iter()
            .enumerate()
            .map(|(j, c)| Importance { column: c.clone(), importance: self.values.index_axis(Axis(1), j).iter().map(|v| v.abs()).sum::<f64>() / n, std: 0.0 })
            .collect();
        out.sort_by(|a, b| b.importance.total_cmp(&a.importance).then(a.column.cmp(&b.column)));
        out
    }

    /// Names of [`Explanation::table`]'s columns: `shap:COLUMN` for each column,
    /// `base_value` and `raw_prediction` (with several outputs, each name gains `:LABEL`
    /// after its prefix), output after output.
    pub fn header(&self) -> Vec<String> {
        let many = self.outputs.len() > 1;
        let named = |prefix: &str, output: &str, column: Option<&str>| {
            let mut name = prefix.to_string();
            if many {
                name = format!("{name}:{output}");
            }
            if let Some(c) = column {
                name = format!("{name}:{c}");
            }
            name
        };
        let mut header = Vec::new();
        for o in &self.outputs {
            header.extend(self.columns.iter().map(|c| named("shap", o, Some(c))));
            header.push(named("base_value", o, None));
            header.push(named("raw_prediction", o, None));
        }
        header
    }

    /// One row per data row, columns as [`Explanation::header`] names them.
    pub fn table(&self) -> Array2<f64> {
        let (n, width, k) = self.values.dim();
        let mut out = Array2::zeros((n, (width + 1) * k));
        for (i, (row, raw)) in self.values.axis_iter(Axis(0)).zip(self.raw.rows()).enumerate() {
            for (o, r) in raw.iter().enumerate() {
                let at = o * (width + 1);
                row.column(o).iter().enumerate().for_each(|(j, v)| out[[i, at + j]] = *v);
                out[[i, at + width]] = *r;
            }
        }
        out
    }

    /// Writes [`Explanation::table`] as CSV with its header.
    pub fn write_csv(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{}", self.header().iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(","))?;
        for row in self.table().rows() {
            writeln!(out, "{}", row.iter().map(f64::to_string).collect::<Vec<_>>().join(","))?;
        }
        Ok(())
    }
}

impl ModelArtifact {
    /// TreeSHAP contributions of every row of `table` (`source` names it in errors): of
    /// the whole model, or with `trial` of that configuration only. Members' contributions
    /// are weighed as the model weighs their predictions. Refused, with what to do, when a
    /// member is not a booster or forest, or when classification members explain in
    /// different units (boosters' margins, forests' probabilities).
    pub fn explain_table(&self, table: &Table, source: &str, trial: Option<u64>) -> Result<Explanation> {
        let members = self.explained_members(trial)?;
        let table = self.replay(table, source, None)?;
        let columns: Vec<String> = self.inputs().into_iter().map(|c| c.name.clone()).collect();
        let outputs = match self.task {
            Task::Regression => vec![self.target.clone()],
            Task::Binary => self.labels.get(1).cloned().into_iter().collect(),
            Task::Multiclass => self.labels.clone(),
        };
        let (n, k) = (table.n_rows, outputs.len());
        let mut values = Array3::<f64>::zeros((n, columns.len() + 1, k));
        let mut raw = Array2::<f64>::zeros((n, k));
        let mut space = None;
        let mut designs: HashMap<usize, Array2<f64>> = HashMap::new();
        for (m, weight) in &members {
            if !designs.contains_key(&m.pipeline) {
                designs.insert(m.pipeline, self.transform(m.pipeline, &table, source)?);
            }
            let x = &designs[&m.pipeline];
            let bad = |what: &str| Error::Model { path: source.into(), message: format!("member of trial {} ({}) {what}", m.trial, m.learner) };
            let (c, s) = m.model.contributions(x.view())?.ok_or_else(|| bad("has no tree contributions"))?;
            let r = m.model.raw_outputs(x.view())?.ok_or_else(|| bad("has no raw outputs"))?;
            if c.len_of(Axis(2)) != k || r.ncols() != k {
                return Err(bad(&format!("explains {} outputs, the model has {k}", c.len_of(Axis(2)))));
            }
            space = Some(s);
            raw.scaled_add(*weight, &r);
            let sources = self.pipelines[m.pipeline].output_sources();
            let inputs = self.pipelines[m.pipeline].inputs();
            for (f, &src) in sources.iter().enumerate() {
                let j = columns.iter().position(|c| *c == inputs[src].name).ok_or_else(|| bad(&format!("reads column '{}', which the model's inputs do not list", inputs[src].name)))?;
                let mut to = values.index_axis_mut(Axis(1), j);
                to.scaled_add(*weight, &c.index_axis(Axis(1), f));
            }
            let base = columns.len();
            values.index_axis_mut(Axis(1), base).scaled_add(*weight, &c.index_axis(Axis(1), sources.len()));
        }
        let space = space.unwrap_or(OutputSpace::Value);
        Ok(Explanation { columns, outputs, space, values, raw, trials: dedup(members.iter().map(|(m, _)| m.trial)) })
    }

    /// The members [`Self::explain_table`] explains, with their weights summing to 1;
    /// refused when one is not a tree ensemble or classification members' units differ.
    pub fn explained_members(&self, trial: Option<u64>) -> Result<Vec<(&Member, f64)>> {
        let chosen: Vec<&Member> = self.members.iter().filter(|m| trial.is_none_or(|t| m.trial == t)).collect();
        let trees: Vec<u64> = dedup(self.members.iter().filter(|m| is_tree(&m.model)).map(|m| m.trial));
        let choose = if trees.is_empty() {
            "none of its configurations is a booster or forest; `automl explain --permutation` measures the importance of any model's columns".to_string()
        } else {
            format!("explain one of its tree configurations with --trial ({})", trees.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        };
        if chosen.is_empty() {
            let all = dedup(self.members.iter().map(|m| m.trial));
            return Err(Error::Config(format!("the model has no configuration of trial {}; its trials are {}", trial.unwrap_or_default(), all.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))));
        }
        if let Some(m) = chosen.iter().find(|m| !is_tree(&m.model)) {
            return Err(Error::Config(format!("TreeSHAP explains boosters and forests, but the model's configuration of trial {} is {}: {choose}", m.trial, m.learner)));
        }
        if self.task.is_classification() && chosen.iter().any(|m| matches!(m.model, FittedModel::Gbdt(_))) && chosen.iter().any(|m| matches!(m.model, FittedModel::Forest(_))) {
            return Err(Error::Config(format!("the model averages the probabilities of boosters and forests, whose contributions are in different units (log-odds margins, probabilities): {choose}")));
        }
        let total: f64 = chosen.iter().map(|m| m.weight).sum();
        Ok(chosen.into_iter().map(|m| (m, m.weight / total)).collect())
    }

    /// Permutation importance of the raw input columns on the labelled rows of `table`:
    /// for each column, the model's score on the rows minus its score with the column's
    /// values shuffled among them, `repeats` times (seeded). Returns the metric used (the
    /// model's own when built in, else the task's default) and its score on the rows as
    /// given.
    pub fn permutation_importance(&self, table: &Table, source: &str, repeats: usize, seed: u64) -> Result<(BuiltinMetric, f64, Vec<Importance>)> {
        let (rows, truth) = self.labelled_rows(table, source)?;
        let table = table.take(&rows);
        let metric = BuiltinMetric::from_name(&self.metric).unwrap_or_else(|_| BuiltinMetric::default_for(self.task));
        let columns: Vec<String> = self.raw_inputs().into_iter().map(str::to_string).collect();
        let score = |t: &Table| -> Result<f64> { Ok(metric.score(&truth, &self.predict_table(t, source)?)?) };
        let (baseline, importance) = permutation(&table, &columns, repeats, seed, metric.direction(), score)?;
        Ok((metric, baseline, importance))
    }

    /// The rows of `table` with a target value, and those values as the model's classes
    /// or numbers; a label the model does not know or a value that is not a number is an
    /// error naming its row.
    fn labelled_rows(&self, table: &Table, source: &str) -> Result<(Vec<usize>, Target)> {
        let column = table.column(&self.target).map_err(|_| Error::Config(format!("permutation importance needs the true target: {source} has no column '{}'", self.target)))?;
        let text = |r: usize| -> Option<String> {
            match column {
                Column::Str(s) => s.get(r).map(str::to_string),
                Column::Numeric(v) => v[r].is_finite().then(|| automl_core::preprocess::format_number(v[r])),
                Column::Datetime(_) => None,
            }
        };
        let rows: Vec<usize> = (0..table.n_rows).filter(|&r| text(r).is_some()).collect();
        if rows.is_empty() {
            return Err(Error::Config(format!("{source}: no row has a value in the target column '{}'", self.target)));
        }
        let wrong = |r: usize, what: &str| Error::Config(format!("{source}: data row {} has the target '{}', {what}", r + 1, text(r).unwrap_or_default()));
        let truth = if self.task.is_classification() {
            let codes = rows.iter().map(|&r| self.labels.iter().position(|l| Some(l) == text(r).as_ref()).ok_or_else(|| wrong(r, "a class the model does not know"))).collect::<Result<Vec<_>>>()?;
            Target::Classes { codes, labels: self.labels.clone() }
        } else {
            Target::Values(rows.iter().map(|&r| text(r).and_then(|t| t.trim().parse::<f64>().ok()).ok_or_else(|| wrong(r, "not a number"))).collect::<Result<Vec<_>>>()?)
        };
        Ok((rows, truth))
    }
}

/// Permutation importance of `columns` of `table` for a score function: the score as
/// given, and per column (most important first) the mean and standard deviation over
/// `repeats` shuffles of how much worse the score gets (in the metric's `direction`).
pub fn permutation(table: &Table, columns: &[String], repeats: usize, seed: u64, direction: Direction, score: impl Fn(&Table) -> Result<f64>) -> Result<(f64, Vec<Importance>)> {
    let baseline = score(table)?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = Vec::with_capacity(columns.len());
    for name in columns {
        let j = table.index_of(name)?;
        let mut losses = Vec::with_capacity(repeats.max(1));
        for _ in 0..repeats.max(1) {
            let mut order: Vec<usize> = (0..table.n_rows).collect();
            order.shuffle(&mut rng);
            let mut shuffled = table.clone();
            shuffled.columns[j] = table.columns[j].take(&order);
            let s = score(&shuffled)?;
            losses.push(if direction.better(2.0, 1.0) { baseline - s } else { s - baseline });
        }
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        let std = (losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / losses.len() as f64).sqrt();
        out.push(Importance { column: name.clone(), importance: mean, std });
    }
    out.sort_by(|a, b| b.importance.total_cmp(&a.importance).then(a.column.cmp(&b.column)));
    Ok((baseline, out))
}

fn is_tree(model: &FittedModel) -> bool {
    matches!(model, FittedModel::Gbdt(_) | FittedModel::Forest(_))
}

/// Values in first-seen order, without repeats.
fn dedup(values: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    values.for_each(|v| {
        if !out.contains(&v) {
            out.push(v);
        }
    });
    out
}
