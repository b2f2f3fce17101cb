//! Histogram gradient-boosted trees, written for the engine: quantile binning, missing
//! values learned as a direction, native categorical splits, leaf-wise growth with
//! histogram subtraction, squared-error / logistic / softmax objectives, row and column
//! subsampling, early stopping on a validation set with per-round scores, rayon threads
//! per booster, serde serialisation and gain / split importance.
//!
//! ```
//! use automl_core::gbdt::{Booster, GbdtParams, Objective};
//! use ndarray::array;
//! let x = array![[1.0], [2.0], [3.0], [4.0]];
//! let y = [0.0, 0.0, 1.0, 1.0];
//! let params = GbdtParams { num_rounds: 20, min_child_samples: 1, ..GbdtParams::default() };
//! let booster = Booster::fit(&params, Objective::Logistic, x.view(), &y, &[false], None, &mut |_, _, _| true).unwrap();
//! let p = booster.predict(x.view());
//! assert!(p[[0, 0]] < 0.5 && p[[3, 0]] > 0.5);
//! ```
mod binning;
mod tree;
pub mod walk;

use ndarray::{Array2, ArrayView2};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use binning::{BinMapper, Binned};
pub use tree::{Node, Split, Tree};
use walk::{in_blocks, Walk};

/// Booster hyperparameters (LightGBM's names and defaults where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtParams {
    /// Boosting rounds (default 100).
    pub num_rounds: usize,
    /// Shrinkage (default 0.1).
    pub learning_rate: f64,
    /// Most leaves per tree (default 31).
    pub num_leaves: usize,
    /// Deepest tree; 0 for no limit (default 0).
    pub max_depth: usize,
    /// Fewest rows in a leaf (default 20).
    pub min_child_samples: usize,
    /// Least hessian sum in a leaf (default 1e-3).
    pub min_child_weight: f64,
    /// L1 regularisation of leaf values (default 0).
    pub lambda_l1: f64,
    /// L2 regularisation of leaf values (default 0).
    pub lambda_l2: f64,
    /// Least gain to split (default 0).
    pub min_split_gain: f64,
    /// Largest absolute leaf output before shrinkage; 0 for no limit (default 0, as in
    /// LightGBM). Rare classes of a softmax have leaves of tiny hessian sums whose Newton
    /// steps are huge; a limit keeps them from blowing up the raw scores.
    pub max_delta_step: f64,
    /// Share of rows drawn for each tree (default 1).
    pub bagging_fraction: f64,
    /// Share of columns drawn for each tree (default 1).
    pub feature_fraction: f64,
    /// Most bins per numeric feature, at most 255 (default 255).
    pub max_bin: usize,
    /// Categories up to which splits are one-vs-rest (default 4).
    pub max_cat_onehot: usize,
    /// Smoothing of category gradient ratios, and fewest rows for a category to be
    /// placed by its ratio (default 10).
    pub cat_smooth: f64,
    /// Extra L2 regularisation of many-vs-many categorical splits (default 10).
    pub cat_l2: f64,
    /// Rows a group of categories must add before the next split point (default 100).
    pub min_data_per_group: usize,
    /// Most categories on the left of a many-vs-many split (default 32).
    pub max_cat_threshold: usize,
    /// Stop when the validation loss has not improved for this many rounds (0: never).
    pub early_stopping_rounds: usize,
    /// Threads for histograms and prediction (default 1).
    pub threads: usize,
    /// Record the training loss after every round in `train_history` (default false: it
    /// costs a pass over the rows per round).
    pub track_train_loss: bool,
    /// Seed for bagging and column sampling.
    pub seed: u64,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            num_rounds: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: 0,
            min_child_samples: 20,
            min_child_weight: 1e-3,
            lambda_l1: 0.0,
            lambda_l2: 0.0,
            min_split_gain: 0.0,
            max_delta_step: 0.0,
            bagging_fraction: 1.0,
            feature_fraction: 1.0,
            max_bin: 255,
            max_cat_onehot: 4,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            min_data_per_group: 100,
            max_cat_threshold: 32,
            early_stopping_rounds: 0,
            threads: 1,
            track_train_loss: false,
            seed: 0,
        }
    }
}

impl GbdtParams {
    /// Checks ranges; the message names the parameter.
    pub fn check(&self) -> Result<(), String> {
        let bad = |name: &str, v: String| Err(format!("{name} = {v} is out of range"));
        if self.num_rounds == 0 {
            return bad("num_rounds", "0".into());
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad("learning_rate", self.learning_rate.to_string());
        }
        if self.num_leaves < 2 {
            return bad("num_leaves", self.num_leaves.to_string());
        }
        if !(self.bagging_fraction > 0.0 && self.bagging_fraction <= 1.0) {
            return bad("bagging_fraction", self.bagging_fraction.to_string());
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return bad("feature_fraction", self.feature_fraction.to_string());
        }
        if self.lambda_l1 < 0.0 || self.lambda_l2 < 0.0 || self.min_child_weight < 0.0 || self.min_split_gain < 0.0 || !(self.max_delta_step >= 0.0) {
            return Err("regularisation parameters must be >= 0".into());
        }
        Ok(())
    }
}

/// The loss being minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Objective {
    /// Squared error; targets are real values.
    SquaredError,
    /// Binary log-loss; targets are 0 or 1.
    Logistic,
    /// Multiclass log-loss; targets are class indices `0..k`.
    Softmax {
        /// Number of classes.
        k: usize,
    },
}

impl Objective {
    /// Trees per round (k for softmax, else 1).
    pub fn n_outputs(self) -> usize {
        match self {
            Objective::Softmax { k } => k,
            _ => 1,
        }
    }

    fn init(self, y: &[f64], w: Option<&[f64]>) -> Vec<f64> {
        let weight = |i: usize| w.map_or(1.0, |w| w[i]);
        let n = (0..y.len()).map(weight).sum::<f64>().max(1e-12);
        let weighted_sum = (0..y.len()).map(|i| weight(i) * y[i]).sum::<f64>();
        match self {
            Objective::SquaredError => vec![weighted_sum / n],
            Objective::Logistic => {
                let p = (weighted_sum / n).clamp(1e-6, 1.0 - 1e-6);
                vec![(p / (1.0 - p)).ln()]
            }
            Objective::Softmax { k } => {
                let mut counts = vec![0.0; k];
                y.iter().enumerate().for_each(|(i, &c)| counts[(c as usize).min(k - 1)] += weight(i));
                counts.iter().map(|c| ((c + 1e-6) / n).ln()).collect()
            }
        }
    }

    /// Gradients and hessians of output `out` for every row, given raw scores `f` (n x k)
    /// and, for softmax, the class probabilities of `f` (computed once per round).
    fn gradients(self, f: &Array2<f64>, probs: Option<&Array2<f64>>, y: &[f64], out: usize, grad: &mut [f64], hess: &mut [f64]) {
        match self {
            Objective::SquaredError => {
                for i in 0..y.len() {
                    grad[i] = f[[i, 0]] - y[i];
                    hess[i] = 1.0;
                }
            }
            Objective::Logistic => {
                for i in 0..y.len() {
                    let p = sigmoid(f[[i, 0]]);
                    grad[i] = p - y[i];
                    hess[i] = (p * (1.0 - p)).max(1e-16);
                }
            }
            Objective::Softmax { k } => {
                let factor = k as f64 / (k as f64 - 1.0).max(1.0);
                let owned;
                let probs = match probs {
                    Some(p) => p,
                    None => {
                        owned = self.transform(f.clone());
                        &owned
                    }
                };
                for i in 0..y.len() {
                    let p = probs[[i, out]];
                    grad[i] = p - f64::from(u8::from(y[i] as usize == out));
                    hess[i] = (factor * p * (1.0 - p)).max(1e-16);
                }
            }
        }
    }

    /// Mean loss of raw scores `f` against `y` (the early-stopping criterion).
    pub fn loss(self, f: &Array2<f64>, y: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        match self {
            Objective::SquaredError => (y.iter().enumerate().map(|(i, t)| (f[[i, 0]] - t).powi(2)).sum::<f64>() / n).sqrt(),
            Objective::Logistic => {
                -y.iter().enumerate().map(|(i, t)| {
                    let p = sigmoid(f[[i, 0]]).clamp(1e-15, 1.0 - 1e-15);
                    t * p.ln() + (1.0 - t) * (1.0 - p).ln()
                }).sum::<f64>() / n
            }
            Objective::Softmax { .. } => {
                -y.iter().enumerate().map(|(i, &t)| {
                    let row = f.row(i);
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let total: f64 = row.iter().map(|v| (v - max).exp()).sum();
                    ((row[t as usize] - max).exp() / total).clamp(1e-15, 1.0).ln()
                }).sum::<f64>() / n
            }
        }
    }

    /// Raw scores to predictions: values, probability of class 1, or class probabilities.
    pub fn transform(self, mut f: Array2<f64>) -> Array2<f64> {
        match self {
            Objective::SquaredError => f,
            Objective::Logistic => {
                f.mapv_inplace(sigmoid);
                f
            }
            Objective::Softmax { .. } => {
                for mut row in f.rows_mut() {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    row.mapv_inplace(|v| (v - max).exp());
                    let total = row.sum();
                    row.mapv_inplace(|v| v / total);
                }
                f
            }
        }
    }
}

#[inline]
fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Runs work on a rayon pool of `n` threads, or inline when `n` is 1: a one-thread pool
/// only adds a hand-off (and a context switch) per call.
pub(crate) struct Threads(Option<rayon::ThreadPool>);

impl Threads {
    /// Everything on the calling thread.
    pub(crate) const INLINE: Threads = Threads(None);

    /// A pool of `n` threads, or inline for `n <= 1`.
    pub(crate) fn new(n: usize) -> Result<Self, String> {
        if n <= 1 {
            return Ok(Threads(None));
        }
        rayon::ThreadPoolBuilder::new().num_threads(n).build().map(|p| Threads(Some(p))).map_err(|e| e.to_string())
    }

    /// `f(0), .., f(n - 1)`, in order.
    pub(crate) fn map<T: Send>(&self, n: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        match &self.0 {
            None => (0..n).map(f).collect(),
            Some(pool) => pool.install(|| (0..n).into_par_iter().map(f).collect()),
        }
    }
}

/// A fitted booster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Booster {
    /// The objective.
    pub objective: Objective,
    /// Input columns.
    pub n_features: usize,
    /// Initial raw score per output.
    pub init: Vec<f64>,
    /// Trees, `n_outputs` per round.
    pub trees: Vec<Vec<Tree>>,
    /// Total gain of each feature's splits.
    pub importance_gain: Vec<f64>,
    /// Number of splits on each feature.
    pub importance_split: Vec<u64>,
    /// Validation loss after each round (empty without validation data).
    pub valid_history: Vec<f64>,
    /// Training loss after each round (with `track_train_loss`).
    pub train_history: Vec<f64>,
    /// Rounds kept (the best round with early stopping).
    pub best_rounds: usize,
}

/// Called after each round with `(round, validation raw scores, training raw scores)`;
/// return `false` to stop.
pub type RoundCallback<'a> = dyn FnMut(usize, &Array2<f64>, &Array2<f64>) -> bool + 'a;

impl Booster {
    /// Fits on `x` (NaN = missing; categorical columns hold non-negative integer codes) and
    /// targets `y` (values, 0/1, or class indices). With `valid`, the validation loss is
    /// tracked every round and used for early stopping; `callback` sees each round.
    pub fn fit(
        params: &GbdtParams,
        objective: Objective,
        x: ArrayView2<f64>,
        y: &[f64],
        categorical: &[bool],
        valid: Option<(ArrayView2<f64>, &[f64])>,
        callback: &mut RoundCallback,
    ) -> Result<Booster, String> {
        Self::fit_weighted(params, objective, x, y, None, categorical, valid, callback)
    }

    /// As [`Booster::fit`], with a non-negative weight per training row: gradients,
    /// hessians, the initial score and the losses are weighted.
    #[allow(clippy::too_many_arguments)]
    pub fn fit_weighted(
        params: &GbdtParams,
        objective: Objective,
        x: ArrayView2<f64>,
        y: &[f64],
        weights: Option<&[f64]>,
        categorical: &[bool],
        valid: Option<(ArrayView2<f64>, &[f64])>,
        callback: &mut RoundCallback,
    ) -> Result<Booster, String> {
        params.check()?;
        if let Some(w) = weights {
            if w.len() != y.len() || w.iter().any(|v| !v.is_finite() || *v < 0.0) || w.iter().sum::<f64>() <= 0.0 {
                return Err("weights must be one finite, non-negative value per row, not all zero".into());
            }
        }
        let (n, d) = x.dim();
        if n == 0 || d == 0 {
            return Err(format!("cannot fit on {n} rows x {d} columns"));
        }
        if y.len() != n {
            return Err(format!("{n} rows but {} targets", y.len()));
        }
        if let Some((vx, vy)) = valid {
            if vx.ncols() != d || vx.nrows() != vy.len() {
                return Err("validation data does not match the training columns".into());
            }
        }
        if x.iter().any(|v| v.is_infinite()) || y.iter().any(|v| !v.is_finite()) {
            return Err("infinite inputs or non-finite targets".into());
        }
        let threads = Threads::new(params.threads)?;
        let k = objective.n_outputs();
        let binned = Binned::fit(x, categorical, params.max_bin, params.seed);
        let init = objective.init(y, weights);
        let mut f = Array2::from_shape_fn((n, k), |(_, j)| init[j]);
        let valid_bins = valid.map(|(vx, _)| Binned::apply(&binned.mappers, vx));
        let mut vf = valid.map(|(vx, _)| Array2::from_shape_fn((vx.nrows(), k), |(_, j)| init[j]));
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let (mut grad, mut hess) = (vec![0.0; n], vec![0.0; n]);
        let mut booster = Booster {
            objective,
            n_features: d,
            init,
            trees: Vec::new(),
            importance_gain: vec![0.0; d],
            importance_split: vec![0; d],
            valid_history: Vec::new(),
            train_history: Vec::new(),
            best_rounds: 0,
        };
        let (mut best_loss, mut best_round) = (f64::INFINITY, 0usize);
        let n_bag = ((n as f64 * params.bagging_fraction).round() as usize).clamp(1, n);
        let n_cols = ((d as f64 * params.feature_fraction).round() as usize).clamp(1, d);
        for round in 0..params.num_rounds {
            let mut rows: Vec<u32> = if n_bag < n {
                let mut r: Vec<u32> = sample(&mut rng, n, n_bag).into_iter().map(|i| i as u32).collect();
                r.sort_unstable();
                r
            } else {
                (0..n as u32).collect()
            };
            let mut features: Vec<usize> = if n_cols < d { sample(&mut rng, d, n_cols).into_vec() } else { (0..d).collect() };
            features.sort_unstable();
            // Softmax: every class's gradients come from the same probabilities.
            let probs = matches!(objective, Objective::Softmax { .. }).then(|| objective.transform(f.clone()));
            let mut round_trees = Vec::with_capacity(k);
            let mut round_ranges = Vec::with_capacity(k);
            for out in 0..k {
                objective.gradients(&f, probs.as_ref(), y, out, &mut grad, &mut hess);
                if let Some(w) = weights {
                    grad.iter_mut().zip(hess.iter_mut()).zip(w).for_each(|((g, h), w)| {
                        *g *= w;
                        *h *= w;
                    });
                }
                let (tree, gains, ranges) = tree::grow(&threads, &binned, &grad, &hess, &mut rows, &features, params);
                for (feat, gain) in gains {
                    booster.importance_gain[feat] += gain;
                    booster.importance_split[feat] += 1;
                }
                // Leaf ranges index `rows` as this tree left it.
                round_ranges.push((ranges, (n_bag == n).then(|| rows.clone())));
                round_trees.push(tree);
            }
            // Update raw scores (all outputs after the round, as LightGBM does per class).
            for (out, tree) in round_trees.iter().enumerate() {
                match &round_ranges[out] {
                    // Every row was in the tree: add each leaf's value to its rows directly.
                    (ranges, Some(order)) => {
                        let mut col = f.column_mut(out);
                        for (leaf, &(a, b)) in ranges.iter().enumerate() {
                            let v = tree.leaves[leaf];
                            for &r in &order[a..b] {
                                col[r as usize] += v;
                            }
                        }
                    }
                    _ => {
                        let updates: Vec<f64> = threads.map(n, |r| tree.predict_binned(&binned.bins, r));
                        f.column_mut(out).iter_mut().zip(updates).for_each(|(a, u)| *a += u);
                    }
                }
                if let (Some(vb), Some(vf)) = (&valid_bins, vf.as_mut()) {
                    let vn = vf.nrows();
                    let vu: Vec<f64> = threads.map(vn, |r| tree.predict_binned(vb, r));
                    vf.column_mut(out).iter_mut().zip(vu).for_each(|(a, u)| *a += u);
                }
            }
            booster.trees.push(round_trees);
            if params.track_train_loss {
                booster.train_history.push(objective.loss(&f, y));
            }
            let mut go_on = true;
            if let (Some((_, vy)), Some(vf)) = (valid, vf.as_ref()) {
                let loss = objective.loss(vf, vy);
                booster.valid_history.push(loss);
                if loss < best_loss - 1e-12 {
                    best_loss = loss;
                    best_round = round + 1;
                } else if params.early_stopping_rounds > 0 && round + 1 - best_round >= params.early_stopping_rounds {
                    go_on = false;
                }
                go_on &= callback(round + 1, vf, &f);
            } else {
                go_on &= callback(round + 1, &Array2::zeros((0, k)), &f);
            }
            if !go_on {
                break;
            }
            let _ = rng.gen::<u64>(); // keep the stream moving the same way with or without bagging
        }
        booster.best_rounds = if valid.is_some() && params.early_stopping_rounds > 0 && best_round > 0 { best_round } else { booster.trees.len() };
        booster.trees.truncate(booster.best_rounds);
        Ok(booster)
    }

    /// Raw scores (n x outputs) for `x`, using rayon's current pool.
    pub fn predict_raw(&self, x: ArrayView2<f64>) -> Array2<f64> {
        in_blocks(x, self.objective.n_outputs(), |rows, m| self.raw_block(rows, m, x.ncols()))
    }

    /// Raw scores of `m` rows (row-major, `d` values a row), row-major.
    fn raw_block(&self, rows: &[f64], m: usize, d: usize) -> Vec<f64> {
        let k = self.objective.n_outputs();
        let mut out: Vec<f64> = (0..m).flat_map(|_| self.init.iter().copied()).collect();
        let mut leaves = vec![0u32; m];
        for round in &self.trees {
            for (j, tree) in round.iter().enumerate() {
                tree.leaves(rows, d, &mut leaves);
                leaves.iter().enumerate().for_each(|(r, &leaf)| out[r * k + j] += tree.leaves[leaf as usize]);
            }
        }
        out
    }

    /// Predictions: values (regression), probability of class 1 (binary, one column), or
    /// class probabilities (multiclass).
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        self.objective.transform(self.predict_raw(x))
    }
}

impl Booster {
    /// Checks internal consistency (after decoding a stored booster): one initial score
    /// and one tree per output in every round, importances per feature, and every tree
    /// (see [`Tree::check`]). The message names what is inconsistent.
    pub fn check(&self) -> Result<(), String> {
        let k = self.objective.n_outputs();
        if matches!(self.objective, Objective::Softmax { k } if k < 2) {
            return Err(format!("softmax objective over {k} classes"));
        }
        if self.n_features == 0 {
            return Err("the booster reads no input columns".into());
        }
        if self.init.len() != k {
            return Err(format!("{} initial scores for {k} outputs", self.init.len()));
        }
        if self.init.iter().any(|v| !v.is_finite()) {
            return Err("a non-finite initial score".into());
        }
        if self.importance_gain.len() != self.n_features || self.importance_split.len() != self.n_features {
            return Err(format!("importances for {} / {} features, but the booster reads {}", self.importance_gain.len(), self.importance_split.len(), self.n_features));
        }
        for (r, round) in self.trees.iter().enumerate() {
            if round.len() != k {
                return Err(format!("round {r} has {} trees for {k} outputs", round.len()));
            }
            for (j, tree) in round.iter().enumerate() {
                tree.check(self.n_features).map_err(|e| format!("tree {j} of round {r}: {e}"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
