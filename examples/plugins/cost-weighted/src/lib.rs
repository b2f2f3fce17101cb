//! Metric plugin `cost_weighted`: the mean misclassification cost of a binary classifier,
//! where a false negative costs 5 and a false positive 1 (lower is better).
//!
//! Build: `cargo build --target wasm32-wasip2 --release` (or `../build.sh`), then
//! `automl run data.csv --target y --plugin dist/cost_weighted.wasm --metric cost_weighted`.

use automl_plugin_sdk::{export_metric, Direction, Metric, PluginInfo, Predictions, Task};

/// Cost of predicting the negative class (index 0) for a positive row (index 1).
pub const FALSE_NEGATIVE_COST: f64 = 5.0;
/// Cost of predicting the positive class (index 1) for a negative row (index 0).
pub const FALSE_POSITIVE_COST: f64 = 1.0;

/// The plugin. The positive class is class index 1: the second label in index order.
pub struct CostWeighted;

impl Metric for CostWeighted {
    fn info() -> PluginInfo {
        PluginInfo::new(
            "cost_weighted",
            env!("CARGO_PKG_VERSION"),
            "Mean binary misclassification cost: false negative 5, false positive 1",
        )
    }

    fn direction() -> Direction {
        Direction::Minimize
    }

    fn supports(task: Task) -> bool {
        task == Task::Binary
    }

    fn score(p: &Predictions) -> Result<f64, String> {
        if p.task() != Task::Binary {
            return Err(format!("cost_weighted scores binary classification, not {:?}", p.task()));
        }
        let pairs = p.y_true().iter().zip(p.y_pred());
        let (cost, total_weight) = match p.weights() {
            // Unweighted: count the two kinds of error (a branch-free loop).
            None => {
                let (false_negatives, false_positives) = pairs.fold((0u64, 0u64), |(fneg, fpos), (&truth, &predicted)| {
                    let (t, y) = (truth == 1.0, predicted == 1.0);
                    (fneg + u64::from(t & !y), fpos + u64::from(!t & y))
                });
                let cost = false_negatives as f64 * FALSE_NEGATIVE_COST + false_positives as f64 * FALSE_POSITIVE_COST;
                (cost, p.rows() as f64)
            }
            Some(weights) => pairs.zip(weights).fold((0.0, 0.0), |(cost, total), ((&truth, &predicted), &w)| {
                let row_cost = match (truth == 1.0, predicted == 1.0) {
                    (true, false) => FALSE_NEGATIVE_COST,
                    (false, true) => FALSE_POSITIVE_COST,
                    _ => 0.0,
                };
                (cost + w * row_cost, total + w)
            }),
        };
        if total_weight.is_nan() || total_weight <= 0.0 {
            return Err(format!("total row weight is {total_weight}; nothing to average over"));
        }
        Ok(cost / total_weight)
    }
}

export_metric!(CostWeighted);

#[cfg(test)]
mod tests {
    use super::*;

    fn predictions(y_true: &[f64], y_pred: &[f64], weights: Option<Vec<f64>>) -> Predictions {
        let labels = vec!["no".to_string(), "yes".to_string()];
        Predictions::new(Task::Binary, y_true.to_vec(), y_pred.to_vec(), vec![], labels, weights).unwrap()
    }

    #[test]
    fn counts_false_negatives_five_times() {
        // One false negative (5), one false positive (1), two correct: 6 / 4.
        let p = predictions(&[1.0, 0.0, 1.0, 0.0], &[0.0, 1.0, 1.0, 0.0], None);
        assert_eq!(CostWeighted::score(&p), Ok(1.5));
    }

    #[test]
    fn weights_the_mean() {
        let p = predictions(&[1.0, 0.0], &[0.0, 0.0], Some(vec![1.0, 3.0]));
        assert_eq!(CostWeighted::score(&p), Ok(5.0 / 4.0));
    }

    #[test]
    fn rejects_empty_predictions_and_other_tasks() {
        assert!(CostWeighted::score(&predictions(&[], &[], None)).is_err());
        let p = Predictions::new(Task::Regression, vec![1.0], vec![1.0], vec![], vec![], None).unwrap();
        assert!(CostWeighted::score(&p).is_err());
        assert!(CostWeighted::supports(Task::Binary) && !CostWeighted::supports(Task::Multiclass));
    }
}
