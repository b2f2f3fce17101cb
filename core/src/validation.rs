//! Validation plans: stratified k-fold or holdout splits, reproducible from a seed.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::task::Target;

/// How trials are validated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationPlan {
    /// k-fold cross-validation, stratified for classification.
    KFold {
        /// Number of folds.
        k: usize,
    },
    /// One split with this share of rows held out, stratified for classification.
    Holdout {
        /// Share held out, in (0, 1).
        fraction: f64,
    },
}

impl ValidationPlan {
    /// The plan chosen by data size: 5-fold CV under 10,000 rows, else a 20% holdout.
    pub fn auto(n_rows: usize) -> Self {
        if n_rows < 10_000 {
            ValidationPlan::KFold { k: 5 }
        } else {
            ValidationPlan::Holdout { fraction: 0.2 }
        }
    }

    /// Number of train/validation splits.
    pub fn n_splits(&self) -> usize {
        match self {
            ValidationPlan::KFold { k } => *k,
            ValidationPlan::Holdout { .. } => 1,
        }
    }

    /// Checks the plan against the number of rows.
    pub fn check(&self, n_rows: usize) -> Result<()> {
        match *self {
            ValidationPlan::KFold { k } if k < 2 || k > n_rows => Err(Error::Data(format!("--cv {k} needs 2 <= k <= rows ({n_rows})"))),
            ValidationPlan::Holdout { fraction } if !(fraction > 0.0 && fraction < 1.0) => Err(Error::Data(format!("--holdout {fraction} must be between 0 and 1"))),
            ValidationPlan::Holdout { fraction } if ((n_rows as f64) * fraction).round() < 1.0 || ((n_rows as f64) * (1.0 - fraction)).round() < 2.0 => {
                Err(Error::Data(format!("{n_rows} rows are too few for a {fraction} holdout")))
            }
            _ => Ok(()),
        }
    }
}

/// Row positions of one split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Rows to fit on.
    pub train: Vec<usize>,
    /// Rows to score on.
    pub valid: Vec<usize>,
}

/// Splits the rows of `target` by `plan`; the same seed gives the same splits everywhere.
pub fn make_splits(plan: &ValidationPlan, target: &Target, seed: u64) -> Result<Vec<Split>> {
    let n = target.len();
    plan.check(n)?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED_0F_5911_75u64);
    // Groups: one per class, or all rows for regression.
    let mut groups: Vec<Vec<usize>> = match target {
        Target::Classes { codes, labels } => {
            let mut g = vec![Vec::new(); labels.len()];
            codes.iter().enumerate().for_each(|(i, &c)| g[c].push(i));
            g
        }
        Target::Values(_) => vec![(0..n).collect()],
    };
    groups.iter_mut().for_each(|g| g.shuffle(&mut rng));
    let k = plan.n_splits().max(2);
    let mut fold_of = vec![0usize; n];
    let mut next = 0usize;
    match plan {
        ValidationPlan::KFold { .. } => {
            // Deal each class round-robin, continuing where the previous class ended.
            for g in &groups {
                for &i in g {
                    fold_of[i] = next % k;
                    next += 1;
                }
            }
        }
        ValidationPlan::Holdout { fraction } => {
            for g in &groups {
                let held = ((g.len() as f64) * fraction).round() as usize;
                for (j, &i) in g.iter().enumerate() {
                    fold_of[i] = usize::from(j >= held);
                }
            }
        }
    }
    let splits: Vec<Split> = (0..plan.n_splits())
        .map(|f| Split { train: (0..n).filter(|&i| fold_of[i] != f).collect(), valid: (0..n).filter(|&i| fold_of[i] == f).collect() })
        .collect();
    if splits.iter().any(|s| s.train.is_empty() || s.valid.is_empty()) {
        return Err(Error::Data(format!("{n} rows are too few to validate with {plan:?}")));
    }
    Ok(splits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kfold_is_stratified_and_partitions_rows() {
        let codes: Vec<usize> = (0..100).map(|i| usize::from(i % 10 == 0)).collect();
        let target = Target::Classes { codes: codes.clone(), labels: vec!["a".into(), "b".into()] };
        let splits = make_splits(&ValidationPlan::KFold { k: 5 }, &target, 7).unwrap();
        let mut seen = vec![0; 100];
        for s in &splits {
            s.valid.iter().for_each(|&i| seen[i] += 1);
            assert_eq!(s.valid.iter().filter(|&&i| codes[i] == 1).count(), 2);
            assert_eq!(s.train.len() + s.valid.len(), 100);
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert_eq!(splits, make_splits(&ValidationPlan::KFold { k: 5 }, &target, 7).unwrap());
    }

    #[test]
    fn holdout_keeps_fraction() {
        let target = Target::Values((0..50).map(f64::from).collect());
        let s = make_splits(&ValidationPlan::Holdout { fraction: 0.2 }, &target, 1).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].valid.len(), 10);
        assert!(make_splits(&ValidationPlan::KFold { k: 1 }, &target, 1).is_err());
    }
}
