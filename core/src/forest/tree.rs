//! A fitted forest tree: compact internal nodes with raw-value tests, leaf values, and the
//! category sets of its categorical splits; prediction on raw values and the consistency
//! check of a stored tree.
use serde::{Deserialize, Serialize};

use super::leaves::Leaves;
use crate::gbdt::walk::Walk;

/// How an internal node tests its feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Test {
    /// Left when the value is `<= threshold` (a bin boundary of the training data).
    Numeric(f64),
    /// Left when the value's category is in set `i` of the tree's [`ForestTree::sets`]
    /// (`i < 2^30`).
    Categorical(u32),
}

/// The categories a categorical split sends left, as bins (category code `c` is bin
/// `c + 1`; codes past `n - 1` share bin `n`, as in the booster's binning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySet {
    /// Bitset over bins 1..=n (bit 0, the missing bin, is unused: see `default_left`).
    pub left: [u64; 4],
    /// Category bins of the feature.
    pub n: u16,
}

impl CategorySet {
    /// Whether category `code` (a non-negative value) goes left.
    #[inline]
    fn contains(&self, code: f64) -> bool {
        let bin = 1 + (code as usize).min(usize::from(self.n).saturating_sub(1));
        contains_bin(&self.left, bin)
    }
}

/// Whether `bin` is in the 256-bit set.
#[inline]
pub(super) fn contains_bin(set: &[u64; 4], bin: usize) -> bool {
    set[bin / 64] >> (bin % 64) & 1 == 1
}

/// An internal node, packed in 24 bytes. Children `>= 0` are later nodes, `< 0` leaves
/// (`!child` is the leaf).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Numeric test: left when the value is `<= threshold`; 0 for a categorical test.
    threshold: f64,
    /// Feature index.
    pub feature: u32,
    /// Bit 0: missing values go left; bit 1: a categorical test, of the category set
    /// `info >> 2`.
    info: u32,
    /// Left and right child.
    pub children: [i32; 2],
}

const DEFAULT_LEFT: u32 = 1;
const CATEGORICAL: u32 = 2;

impl Node {
    /// A node testing `feature`.
    pub fn new(feature: u32, test: Test, default_left: bool, children: [i32; 2]) -> Node {
        let (threshold, info) = match test {
            Test::Numeric(t) => (t, 0),
            Test::Categorical(set) => (0.0, CATEGORICAL | set << 2),
        };
        Node { threshold, feature, info: info | u32::from(default_left), children }
    }

    /// The test.
    pub fn test(&self) -> Test {
        if self.info & CATEGORICAL == 0 {
            Test::Numeric(self.threshold)
        } else {
            Test::Categorical(self.info >> 2)
        }
    }

    /// Where missing values (NaN, and negative category codes) go.
    #[inline]
    pub fn default_left(&self) -> bool {
        self.info & DEFAULT_LEFT != 0
    }
}

/// A fitted tree of a forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestTree {
    /// Internal nodes; empty for a single leaf.
    pub nodes: Vec<Node>,
    /// Leaf values: class frequencies, or the mean target.
    pub leaves: Leaves,
    /// Category sets of the categorical splits.
    pub sets: Vec<CategorySet>,
    /// Training weight (bootstrap count) that reached each leaf: the cover TreeSHAP
    /// weighs paths by.
    pub covers: Vec<u32>,
}

impl ForestTree {
    /// Whether a row of raw values goes left at internal node `i`.
    pub fn goes_left_raw(&self, i: usize, row: &[f64]) -> bool {
        self.step(i, row, 0) == self.nodes[i].children[0]
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Checks that prediction on rows of `n_features` values cannot index out of range or
    /// loop: every child is a later node or an existing leaf, features and category sets
    /// are in range, `width` finite values per leaf. The message names what is wrong.
    pub fn check(&self, n_features: usize, width: usize) -> Result<(), String> {
        self.leaves.check(self.n_leaves(), width)?;
        if self.covers.len() != self.n_leaves() || self.covers.contains(&0) {
            return Err(format!("{} leaf covers for {} leaves (each at least 1 row)", self.covers.len(), self.n_leaves()));
        }
        if let Some(i) = self.sets.iter().position(|s| s.n == 0 || s.n > 255) {
            return Err(format!("category set {i} over {} categories (1 to 255 allowed)", self.sets[i].n));
        }
        self.nodes.iter().enumerate().try_for_each(|(i, node)| self.check_node(i, node, n_features).map_err(|e| format!("node {i}: {e}")))
    }

    fn check_node(&self, index: usize, node: &Node, n_features: usize) -> Result<(), String> {
        if node.feature as usize >= n_features {
            return Err(format!("splits on column {} of the forest's {n_features}", node.feature));
        }
        match node.test() {
            Test::Numeric(t) if t.is_nan() => return Err("a NaN threshold".into()),
            Test::Categorical(s) if s as usize >= self.sets.len() => return Err(format!("category set {s} of {}", self.sets.len())),
            _ => {}
        }
        let (n_nodes, n_leaves) = (self.nodes.len(), self.n_leaves());
        for (side, child) in ["left", "right"].into_iter().zip(node.children) {
            if child < 0 && (!child) as usize >= n_leaves {
                return Err(format!("{side} child is leaf {} of {n_leaves}", !child));
            }
            // A child at or before its parent could make traversal loop forever.
            if child >= 0 && (child as usize <= index || child as usize >= n_nodes) {
                return Err(format!("{side} child is node {child}, not a later node of {n_nodes} (a cycle or out of range)"));
            }
        }
        Ok(())
    }
}

impl Walk for ForestTree {
    fn has_nodes(&self) -> bool {
        !self.nodes.is_empty()
    }

    #[inline(always)]
    fn step(&self, i: usize, rows: &[f64], base: usize) -> i32 {
        let node = &self.nodes[i];
        let v = rows[base + node.feature as usize];
        let left = if node.info & CATEGORICAL == 0 {
            (v <= node.threshold) | (v.is_nan() & node.default_left())
        } else if v.is_nan() || v < 0.0 {
            node.default_left()
        } else {
            self.sets[(node.info >> 2) as usize].contains(v)
        };
        node.children[usize::from(!left)]
    }
}
