//! Growing one tree depth-first on binned data: node sums, the split search over randomly
//! drawn candidate features, and the in-place partition of the node's samples.
use rand::Rng;

use super::hist::{Histogram, Outcome, Rule, Split};
use super::leaves::Leaves;
use super::tree::{CategorySet, ForestTree, Node, Test};
use super::{Sample, Splitter};
use crate::gbdt::{BinMapper, Binned};

/// Deepest tree grown whatever `max_depth` says (prediction walks are bounded anyway).
pub(super) const DEPTH_LIMIT: usize = 64;

/// What every tree of a forest is grown with.
pub(super) struct Setup<'a> {
    /// The training data, binned.
    pub binned: &'a Binned,
    /// Target dimensions: classes, or 1 for regression.
    pub width: usize,
    /// Candidate features drawn per split.
    pub max_features: usize,
    /// Fewest rows in a leaf.
    pub min_leaf: usize,
    /// Deepest node split (0: no limit besides [`DEPTH_LIMIT`]).
    pub max_depth: usize,
    /// Best or random thresholds.
    pub choice: Splitter,
    /// Per numeric feature and bin, the least and greatest training value in it.
    pub ranges: Vec<Vec<(f64, f64)>>,
}

/// The best split of a node: its feature and how it splits.
struct Candidate {
    feature: usize,
    split: Split,
}

/// A node waiting to be grown: its samples, depth, where it hangs, and the features
/// already known to be constant in it.
struct Pending {
    start: usize,
    end: usize,
    depth: usize,
    parent: Option<(usize, usize)>,
    constant: Vec<u32>,
}

/// Scratch buffers of one tree.
struct Scratch {
    hist: Histogram,
    total: Vec<f64>,
    pool: Vec<u32>,
    is_constant: Vec<bool>,
}

/// Grows a tree on `samples` (reordered in place).
pub(super) fn grow(setup: &Setup, samples: &mut [Sample], rng: &mut impl Rng) -> ForestTree {
    let n_features = setup.binned.mappers.len();
    let hist = Histogram::new(setup.width);
    let mut scratch = Scratch { total: vec![0.0; hist.stride()], hist, pool: (0..n_features as u32).collect(), is_constant: vec![false; n_features] };
    let mut tree = ForestTree { nodes: Vec::new(), leaves: Leaves::new(setup.width), sets: Vec::new(), covers: Vec::new() };
    let mut stack = vec![Pending { start: 0, end: samples.len(), depth: 0, parent: None, constant: Vec::new() }];
    while let Some(p) = stack.pop() {
        let node = &mut samples[p.start..p.end];
        let splittable = node_sums(node, &mut scratch.total) && splittable(setup, &p, &scratch.total);
        let found = if splittable { best_split(setup, &mut scratch, node, &p.constant, rng) } else { None };
        let Some((cand, constant)) = found else {
            let leaf = tree.leaves.push(scratch.total[1], &scratch.total[2..]);
            tree.covers.push(scratch.total[1] as u32);
            link(&mut tree, p.parent, !(leaf as i32));
            continue;
        };
        let index = tree.nodes.len();
        link(&mut tree, p.parent, index as i32);
        let mid = p.start + partition(node, &setup.binned.bins[cand.feature], &cand.split.rule, cand.split.default_left);
        let test = to_test(&mut tree, &setup.binned.mappers[cand.feature], &cand);
        tree.nodes.push(Node::new(cand.feature as u32, test, cand.split.default_left, [0, 0]));
        // Right first on the stack, so the left child is grown next.
        let depth = p.depth + 1;
        stack.push(Pending { start: mid, end: p.end, depth, parent: Some((index, 1)), constant: constant.clone() });
        stack.push(Pending { start: p.start, end: mid, depth, parent: Some((index, 0)), constant });
    }
    tree
}

/// Points the parent's child slot at `child` (a node index, or `!leaf`).
fn link(tree: &mut ForestTree, parent: Option<(usize, usize)>, child: i32) {
    if let Some((node, side)) = parent {
        tree.nodes[node].children[side] = child;
    }
}

/// Sums `[rows, weight, S_d..]` of the node into `total`; false when the node's targets
/// are all equal (a pure class, or a constant value), so it is a leaf.
fn node_sums(samples: &[Sample], total: &mut [f64]) -> bool {
    total.iter_mut().for_each(|t| *t = 0.0);
    let mut squares = 0.0;
    for s in samples {
        total[0] += 1.0;
        total[1] += s.w;
        total[2 + s.dim as usize] += s.wy;
        squares += s.wy * s.wy / s.w;
    }
    let w = total[1];
    if total.len() == 3 {
        // Regression: the weighted variance against the mean square.
        let spread = squares - total[2] * total[2] / w;
        spread > 1e-12 * squares
    } else {
        !total[2..].contains(&w)
    }
}

fn splittable(setup: &Setup, p: &Pending, total: &[f64]) -> bool {
    let depth_limit = if setup.max_depth == 0 { DEPTH_LIMIT } else { setup.max_depth.min(DEPTH_LIMIT) };
    total[0] >= (2 * setup.min_leaf).max(2) as f64 && p.depth < depth_limit
}

/// The best split over candidate features drawn without replacement, as scikit-learn
/// draws them: `max_features` draws, constant features (known from an ancestor, or found
/// here) counting as drawn but not evaluated, and more draws while every one so far was
/// constant. Also returns the node's constant features, for its children.
fn best_split(setup: &Setup, scratch: &mut Scratch, samples: &[Sample], known: &[u32], rng: &mut impl Rng) -> Option<(Candidate, Vec<u32>)> {
    known.iter().for_each(|&f| scratch.is_constant[f as usize] = true);
    let mut constant = known.to_vec();
    let mut best: Option<Candidate> = None;
    let (mut drawn, mut constants_drawn) = (0, 0);
    let min_leaf = setup.min_leaf as f64;
    // The pool is a permutation of all features; drawing from any order is uniform.
    let pool = &mut scratch.pool;
    while drawn < pool.len() && (drawn < setup.max_features || drawn <= constants_drawn) {
        let pick = rng.gen_range(drawn..pool.len());
        pool.swap(drawn, pick);
        let f = pool[drawn] as usize;
        drawn += 1;
        if scratch.is_constant[f] {
            constants_drawn += 1;
            continue;
        }
        scratch.hist.build(&setup.binned.bins[f], samples);
        match scratch.hist.split(&setup.binned.mappers[f], &setup.ranges[f], &scratch.total, min_leaf, setup.choice, rng) {
            Outcome::Constant => {
                constant.push(f as u32);
                constants_drawn += 1;
            }
            Outcome::Invalid => {}
            Outcome::Found(split) => {
                if best.as_ref().is_none_or(|b| split.score > b.split.score) {
                    best = Some(Candidate { feature: f, split });
                }
            }
        }
    }
    known.iter().for_each(|&f| scratch.is_constant[f as usize] = false);
    best.map(|b| (b, constant))
}

/// Moves the samples going left to the front; returns how many there are.
fn partition(samples: &mut [Sample], col: &[u8], rule: &Rule, default_left: bool) -> usize {
    let (mut i, mut j) = (0, samples.len());
    while i < j {
        if rule.goes_left(col[samples[i].row as usize], default_left) {
            i += 1;
        } else {
            j -= 1;
            samples.swap(i, j);
        }
    }
    i
}

/// The raw-value test of a candidate (a category set is added to the tree).
fn to_test(tree: &mut ForestTree, mapper: &BinMapper, cand: &Candidate) -> Test {
    match (&cand.split.rule, mapper) {
        // The last bin's bound is +inf: f64::MAX says the same of finite values (inputs are
        // finite) and stays finite in any encoding.
        (Rule::Numeric { last }, BinMapper::Numeric { upper }) => Test::Numeric((*last as usize).checked_sub(1).and_then(|i| upper.get(i)).copied().unwrap_or(f64::MAX).min(f64::MAX)),
        (Rule::Categorical { left }, BinMapper::Categorical { n }) => {
            tree.sets.push(CategorySet { left: *left, n: *n as u16 });
            Test::Categorical((tree.sets.len() - 1) as u32)
        }
        // Rules come from the feature's own mapper.
        (Rule::Numeric { .. }, _) | (Rule::Categorical { .. }, _) => Test::Numeric(f64::MAX),
    }
}
