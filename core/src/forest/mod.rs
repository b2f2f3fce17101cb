//! Random forests and extra-trees, written for the engine on the booster's binned data
//! ([`crate::gbdt::Binned`]): classification trees split on Gini impurity (histograms of
//! per-class weights) with leaf class frequencies, regression trees on squared error with
//! leaf means; the forest averages its trees.
//!
//! - Random forest: rows drawn with replacement per tree (bootstrap counts as weights),
//!   `max_features` candidate features per split, the best threshold over the bins.
//! - Extra-trees: all rows, one random threshold per candidate feature (uniform between
//!   the node's least and greatest value, as scikit-learn draws it, rounded up to a bin
//!   bound), the best of those.
//!
//! Missing values (NaN) are bin 0: a split tries them on both sides and keeps the better
//! (`default_left`); a node without missing values sends future ones to its heavier child.
//! Categorical columns (non-negative integer codes) split by category sets: categories,
//! missing among them, ordered by their share of the target (regression), of class 1
//! (binary) or of the node's most frequent class (multiclass), and a prefix of that order
//! goes left (the best prefix; extra-trees: a random one).
//!
//! Trees grow in parallel, each from its own seed, so a forest is the same for a seed
//! whatever the thread count. Prediction reads raw values (thresholds are bin bounds).
//!
//! ```
//! use automl_core::forest::{ForestModel, ForestParams, ForestTarget};
//! use ndarray::array;
//! let x = array![[1.0], [2.0], [3.0], [4.0]];
//! let params = ForestParams { n_trees: 10, ..ForestParams::default() };
//! let forest = ForestModel::fit(&params, x.view(), ForestTarget::Classes { codes: &[0, 0, 1, 1], k: 2 }, &[false], None).unwrap();
//! let p = forest.predict(x.view());
//! assert!(p[[0, 0]] > 0.5 && p[[3, 1]] > 0.5);
//! ```
mod grow;
mod hist;
mod leaves;
mod tree;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::gbdt::walk::{in_blocks, Walk};
use crate::gbdt::{Binned, Threads};

pub use leaves::Leaves;
pub use tree::{CategorySet, ForestTree, Node, Test};

/// How split thresholds are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Splitter {
    /// The best threshold of each candidate feature (random forest).
    Best,
    /// One random threshold per candidate feature (extra-trees).
    Random,
}

/// Forest hyperparameters (scikit-learn's names where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Trees (default 100).
    pub n_trees: usize,
    /// Candidate features drawn per split (constant ones count, as in scikit-learn, but a
    /// split looks further while all it drew were constant); more than the columns means
    /// all (default 0: the square root of the columns).
    pub max_features: usize,
    /// Fewest rows in a leaf (default 1).
    pub min_samples_leaf: usize,
    /// Deepest tree; 0 for no limit (default 0; trees stop at depth 64 anyway).
    pub max_depth: usize,
    /// Draw each tree's rows with replacement (default true).
    pub bootstrap: bool,
    /// Best or random thresholds (default best).
    pub splitter: Splitter,
    /// Most bins per numeric feature, at most 255 (default 255).
    pub max_bin: usize,
    /// Threads growing trees (default 1).
    pub threads: usize,
    /// Seed for the binning sample, the bootstraps and the feature draws.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { n_trees: 100, max_features: 0, min_samples_leaf: 1, max_depth: 0, bootstrap: true, splitter: Splitter::Best, max_bin: 255, threads: 1, seed: 0 }
    }
}

impl ForestParams {
    /// Random forest defaults: bootstrap rows, best thresholds.
    pub fn random_forest() -> Self {
        ForestParams::default()
    }

    /// Extra-trees defaults: all rows, random thresholds.
    pub fn extra_trees() -> Self {
        ForestParams { bootstrap: false, splitter: Splitter::Random, ..ForestParams::default() }
    }

    /// Checks ranges; the message names the parameter.
    pub fn check(&self) -> Result<(), String> {
        if self.n_trees == 0 {
            return Err("n_trees = 0 is out of range".into());
        }
        if self.min_samples_leaf == 0 {
            return Err("min_samples_leaf = 0 is out of range".into());
        }
        if !(2..=255).contains(&self.max_bin) {
            return Err(format!("max_bin = {} is out of range (2 to 255)", self.max_bin));
        }
        Ok(())
    }

    /// Candidate features per split for `n_features` columns.
    fn features_per_split(&self, n_features: usize) -> usize {
        match self.max_features {
            0 => ((n_features as f64).sqrt() as usize).max(1),
            m => m.min(n_features),
        }
    }
}

/// Training targets.
#[derive(Debug, Clone, Copy)]
pub enum ForestTarget<'a> {
    /// Class indices `0..k`, one per row.
    Classes {
        /// Class of each row.
        codes: &'a [usize],
        /// Number of classes (at least 2).
        k: usize,
    },
    /// Real values, one per row.
    Values(&'a [f64]),
}

impl ForestTarget<'_> {
    fn len(&self) -> usize {
        match self {
            ForestTarget::Classes { codes, .. } => codes.len(),
            ForestTarget::Values(v) => v.len(),
        }
    }

    /// Target dimensions: classes, or 1.
    fn width(&self) -> usize {
        match self {
            ForestTarget::Classes { k, .. } => *k,
            ForestTarget::Values(_) => 1,
        }
    }

    /// The dimension and value row `r` adds to histograms.
    #[inline]
    fn at(&self, r: usize) -> (u32, f64) {
        match self {
            ForestTarget::Classes { codes, .. } => (codes[r] as u32, 1.0),
            ForestTarget::Values(v) => (0, v[r]),
        }
    }

    fn check(&self) -> Result<(), String> {
        match self {
            ForestTarget::Classes { codes, k } => {
                if *k < 2 {
                    return Err(format!("a classification target of {k} classes"));
                }
                match codes.iter().find(|&&c| c >= *k) {
                    Some(c) => Err(format!("class {c} of a target with {k} classes")),
                    None => Ok(()),
                }
            }
            ForestTarget::Values(v) if v.iter().any(|t| !t.is_finite()) => Err("non-finite target values".into()),
            ForestTarget::Values(_) => Ok(()),
        }
    }
}

/// One training row of a tree: its bootstrap weight `w`, and `w` times its target value
/// in target dimension `dim` (the class, or 0).
#[derive(Debug, Clone, Copy)]
struct Sample {
    row: u32,
    dim: u32,
    w: f64,
    wy: f64,
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestModel {
    /// Input columns.
    pub n_features: usize,
    /// Classes; 0 for regression.
    pub n_classes: usize,
    /// The trees.
    pub trees: Vec<ForestTree>,
}

impl ForestModel {
    /// Fits on `x` (NaN = missing; categorical columns hold non-negative integer codes)
    /// and `target`. Trees not started by `deadline` are left out (the first always grows).
    pub fn fit(params: &ForestParams, x: ArrayView2<f64>, target: ForestTarget, categorical: &[bool], deadline: Option<Instant>) -> Result<ForestModel, String> {
        params.check()?;
        let (n, d) = x.dim();
        if n == 0 || d == 0 {
            return Err(format!("cannot fit on {n} rows x {d} columns"));
        }
        if target.len() != n {
            return Err(format!("{n} rows but {} targets", target.len()));
        }
        if n > u32::MAX as usize {
            return Err(format!("{n} rows: at most {} are supported", u32::MAX));
        }
        if x.iter().any(|v| v.is_infinite()) {
            return Err("infinite inputs".into());
        }
        target.check()?;
        let threads = Threads::new(params.threads)?;
        let binned = Binned::fit(x, categorical, params.max_bin, params.seed);
        let setup = grow::Setup {
            binned: &binned,
            width: target.width(),
            max_features: params.features_per_split(d),
            min_leaf: params.min_samples_leaf,
            max_depth: params.max_depth,
            choice: params.splitter,
            ranges: if params.splitter == Splitter::Random { bin_ranges(x, &binned) } else { vec![Vec::new(); d] },
        };
        let grown = threads.map(params.n_trees, |t| {
            if t > 0 && deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(tree_seed(params.seed, t));
            let mut samples = draw_samples(n, params.bootstrap, &target, &mut rng);
            Some(grow::grow(&setup, &mut samples, &mut rng))
        });
        // Trees after one left out are dropped too, so the forest is a prefix.
        let trees = grown.into_iter().map_while(|t| t).collect();
        let n_classes = match target {
            ForestTarget::Classes { k, .. } => k,
            ForestTarget::Values(_) => 0,
        };
        Ok(ForestModel { n_features: d, n_classes, trees })
    }

    /// Values per prediction: classes, or 1.
    pub fn width(&self) -> usize {
        self.n_classes.max(1)
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Class probabilities (n x classes, rows summing to 1) or values (n x 1): the mean of
    /// the trees' leaves, using rayon's current pool. `x` must have `n_features` columns.
    pub fn predict(&self, x: ArrayView2<f64>) -> Array2<f64> {
        in_blocks(x, self.width(), |rows, m| self.predict_block(rows, m, x.ncols()))
    }

    /// Predictions of `m` rows (row-major, `d` values a row), row-major.
    fn predict_block(&self, rows: &[f64], m: usize, d: usize) -> Vec<f64> {
        let w = self.width();
        let mut out = vec![0.0; m * w];
        let mut leaves = vec![0u32; m];
        for tree in &self.trees {
            tree.leaves(rows, d, &mut leaves);
            for (&leaf, acc) in leaves.iter().zip(out.chunks_exact_mut(w)) {
                tree.leaves.add_to(leaf as usize, acc);
            }
        }
        let scale = 1.0 / self.trees.len().max(1) as f64;
        out.iter_mut().for_each(|v| *v *= scale);
        out
    }

    /// Checks internal consistency (after decoding a stored forest): at least one tree,
    /// and every tree (see [`ForestTree::check`]). The message names what is inconsistent.
    pub fn check(&self) -> Result<(), String> {
        if self.n_features == 0 {
            return Err("the forest reads no input columns".into());
        }
        if self.n_classes == 1 {
            return Err("a classifier of 1 class".into());
        }
        if self.trees.is_empty() {
            return Err("a forest without trees".into());
        }
        self.trees.iter().enumerate().try_for_each(|(i, tree)| tree.check(self.n_features, self.width()).map_err(|e| format!("tree {i}: {e}")))
    }
}

/// Tree `t`'s seed: the forest's seed and the tree index mixed (SplitMix64's finaliser).
fn tree_seed(seed: u64, t: usize) -> u64 {
    let mut z = seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Per numeric column and bin, the least and greatest value in it (empty for categorical
/// columns): where extra-trees draw thresholds.
fn bin_ranges(x: ArrayView2<f64>, binned: &Binned) -> Vec<Vec<(f64, f64)>> {
    binned
        .mappers
        .iter()
        .enumerate()
        .map(|(f, mapper)| {
            if matches!(mapper, crate::gbdt::BinMapper::Categorical { .. }) {
                return Vec::new();
            }
            let mut ranges = vec![(f64::INFINITY, f64::NEG_INFINITY); mapper.n_bins()];
            for (&v, &b) in x.column(f).iter().zip(&binned.bins[f]) {
                let r = &mut ranges[b as usize];
                *r = (r.0.min(v), r.1.max(v));
            }
            ranges
        })
        .collect()
}

/// The rows of one tree with their weights: bootstrap counts, or 1 for every row.
fn draw_samples(n: usize, bootstrap: bool, target: &ForestTarget, rng: &mut impl Rng) -> Vec<Sample> {
    let counts = bootstrap.then(|| {
        let mut counts = vec![0u32; n];
        (0..n).for_each(|_| counts[rng.gen_range(0..n)] += 1);
        counts
    });
    (0..n)
        .filter_map(|r| {
            let w = counts.as_ref().map_or(1, |c| c[r]);
            (w > 0).then(|| {
                let (dim, y) = target.at(r);
                Sample { row: r as u32, dim, w: f64::from(w), wy: f64::from(w) * y }
            })
        })
        .collect()
}
