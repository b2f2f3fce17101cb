//! Exact TreeSHAP (Lundberg et al., "Consistent individualized feature attribution for
//! tree ensembles", algorithm 2): per-row feature contributions of a tree's output, with
//! conditional expectations weighed by the training rows each node saw (its cover), in
//! O(leaves x depth²) per row. For every row, the contributions plus the tree's expected
//! output (the base value) sum to its output.
//!
//! The booster's and the forests' trees implement [`ShapTree`]; [`TreeExplainer`] walks
//! one tree with its node covers computed once.
use ndarray::{Array3, ArrayView2, Axis};
use rayon::prelude::*;

use crate::forest::{ForestModel, ForestTree};
use crate::gbdt::{Booster, Tree};

/// A binary tree as TreeSHAP walks it. Children `>= 0` are internal nodes, later than
/// their parent; `< 0` are leaves (`!child` is the leaf).
pub trait ShapTree {
    /// Internal nodes (0 for a tree of one leaf).
    fn n_nodes(&self) -> usize;
    /// Left and right child of internal node `i`.
    fn children(&self, i: usize) -> [i32; 2];
    /// The feature node `i` tests.
    fn feature(&self, i: usize) -> usize;
    /// Whether `row` goes left at node `i` (missing values included).
    fn goes_left(&self, i: usize, row: &[f64]) -> bool;
    /// Training rows (or weight) that reached `leaf`.
    fn leaf_cover(&self, leaf: usize) -> f64;
    /// Adds `scale` times `leaf`'s outputs to `out` (one slot per output).
    fn add_leaf(&self, leaf: usize, scale: f64, out: &mut [f64]);
}

impl ShapTree for Tree {
    fn n_nodes(&self) -> usize {
        self.nodes.len()
    }
    fn children(&self, i: usize) -> [i32; 2] {
        [self.nodes[i].left, self.nodes[i].right]
    }
    fn feature(&self, i: usize) -> usize {
        self.nodes[i].feature as usize
    }
    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        self.goes_left_raw(i, row)
    }
    fn leaf_cover(&self, leaf: usize) -> f64 {
        f64::from(self.covers[leaf])
    }
    fn add_leaf(&self, leaf: usize, scale: f64, out: &mut [f64]) {
        out[0] += scale * self.leaves[leaf];
    }
}

impl ShapTree for ForestTree {
    fn n_nodes(&self) -> usize {
        self.nodes.len()
    }
    fn children(&self, i: usize) -> [i32; 2] {
        self.nodes[i].children
    }
    fn feature(&self, i: usize) -> usize {
        self.nodes[i].feature as usize
    }
    fn goes_left(&self, i: usize, row: &[f64]) -> bool {
        self.goes_left_raw(i, row)
    }
    fn leaf_cover(&self, leaf: usize) -> f64 {
        f64::from(self.covers[leaf])
    }
    fn add_leaf(&self, leaf: usize, scale: f64, out: &mut [f64]) {
        let mut values = vec![0.0; out.len()];
        self.leaves.add_to(leaf, &mut values);
        out.iter_mut().zip(values).for_each(|(o, v)| *o += scale * v);
    }
}

/// One element of the path from the root: the feature split on, the share of the cover
/// that follows the path when the feature is unknown (`zero`) and whether the row follows
/// it when known (`one`), and the permutation weight.
#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: Option<usize>,
    zero: f64,
    one: f64,
    weight: f64,
}

/// A tree ready to be explained: its node covers (sums of its leaves') and depth.
pub struct TreeExplainer<'a, T: ShapTree> {
    tree: &'a T,
    covers: Vec<f64>,
    depth: usize,
}

impl<'a, T: ShapTree> TreeExplainer<'a, T> {
    /// Prepares `tree` (a checked tree: children later than parents, covers positive).
    pub fn new(tree: &'a T) -> Self {
        let n = tree.n_nodes();
        let mut covers = vec![0.0; n];
        let mut depths = vec![0usize; n];
        let cover = |c: i32, covers: &[f64]| if c < 0 { tree.leaf_cover(!c as usize) } else { covers[c as usize] };
        // Children come after their parents: covers from the last node back.
        for i in (0..n).rev() {
            let [l, r] = tree.children(i);
            covers[i] = cover(l, &covers) + cover(r, &covers);
        }
        for i in 0..n {
            for c in tree.children(i).into_iter().filter(|&c| c >= 0) {
                depths[c as usize] = depths[i] + 1;
            }
        }
        let depth = depths.iter().max().map_or(0, |d| d + 1);
        TreeExplainer { tree, covers, depth }
    }

    fn cover(&self, node: i32) -> f64 {
        if node < 0 {
            self.tree.leaf_cover(!node as usize)
        } else {
            self.covers[node as usize]
        }
    }

    /// Adds `scale` times the tree's expected output (leaves weighed by cover) to `out`.
    pub fn add_expected(&self, scale: f64, out: &mut [f64]) {
        let root = if self.tree.n_nodes() == 0 { -1 } else { 0 };
        let total = self.cover(root);
        let leaves = self.tree.n_nodes() + 1;
        (0..leaves).for_each(|leaf| self.tree.add_leaf(leaf, scale * self.tree.leaf_cover(leaf) / total, out));
    }

    /// Adds `scale` times the contributions of `row`'s features to `phi`, feature `f`'s
    /// to `phi[f * layout.stride + layout.offset..][..layout.width]`.
    pub fn add_contributions(&self, row: &[f64], scale: f64, layout: Layout, phi: &mut [f64]) {
        if self.tree.n_nodes() == 0 {
            return; // one leaf: the output is the base value
        }
        let mut path = vec![PathElement::default(); (self.depth + 3) * (self.depth + 4) / 2];
        let mut walk = Walk { explainer: self, row, scale, layout, phi, path: &mut path };
        walk.recurse(0, 0, 0, 1.0, 1.0, None);
    }
}

/// Where a tree's outputs go among a model's: `width` slots from `offset`, in blocks of
/// `stride` per feature.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Outputs of the model.
    pub stride: usize,
    /// The tree's first output among them.
    pub offset: usize,
    /// The tree's outputs.
    pub width: usize,
}

/// One row's walk through a tree.
struct Walk<'w, 'a, T: ShapTree> {
    explainer: &'w TreeExplainer<'a, T>,
    row: &'w [f64],
    scale: f64,
    layout: Layout,
    phi: &'w mut [f64],
    path: &'w mut [PathElement],
}

impl<T: ShapTree> Walk<'_, '_, T> {
    /// Visits `node` with the parent's path at `parent` of `depth` elements, extending it
    /// by the parent's split (`zero`, `one`, `feature`).
    fn recurse(&mut self, node: i32, parent: usize, depth: usize, zero: f64, one: f64, feature: Option<usize>) {
        let at = parent + depth + 1;
        self.path.copy_within(parent..parent + depth, at);
        let path = &mut self.path[at..];
        extend(path, depth, zero, one, feature);
        let tree = self.explainer.tree;
        if node < 0 {
            for i in 1..=depth {
                let el = path[i];
                let w = unwound_sum(path, depth, i);
                let f = el.feature.unwrap_or(0);
                let from = f * self.layout.stride + self.layout.offset;
                tree.add_leaf(!node as usize, self.scale * w * (el.one - el.zero), &mut self.phi[from..from + self.layout.width]);
            }
            return;
        }
        let i = node as usize;
        let split = tree.feature(i);
        let [left, right] = tree.children(i);
        let (hot, cold) = if tree.goes_left(i, self.row) { (left, right) } else { (right, left) };
        let w = self.explainer.cover(node);
        let (hot_zero, cold_zero) = (self.explainer.cover(hot) / w, self.explainer.cover(cold) / w);
        let (mut in_zero, mut in_one, mut depth) = (1.0, 1.0, depth);
        // A feature split on before: undo that split, to redo it here.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == Some(split)) {
            in_zero = path[k].zero;
            in_one = path[k].one;
            unwind(path, depth, k);
            depth -= 1;
        }
        self.recurse(hot, at, depth + 1, hot_zero * in_zero, in_one, Some(split));
        self.recurse(cold, at, depth + 1, cold_zero * in_zero, 0.0, Some(split));
    }
}

/// Contributions of every row of `x` to the outputs of a model made of `trees`, each
/// with its scale and layout, plus `init`: `(rows, features + 1, outputs)`, feature `f`'s
/// contributions at `[.., f, ..]` and the base value (init plus the trees' expected
/// outputs) last.
fn contributions<T: ShapTree + Sync>(trees: &[(&T, f64, Layout)], init: &[f64], x: ArrayView2<f64>) -> Array3<f64> {
    let (n, d, k) = (x.nrows(), x.ncols(), init.len());
    let explainers: Vec<(TreeExplainer<T>, f64, Layout)> = trees.iter().map(|&(t, s, l)| (TreeExplainer::new(t), s, l)).collect();
    let mut base = init.to_vec();
    for (e, scale, l) in &explainers {
        e.add_expected(*scale, &mut base[l.offset..l.offset + l.width]);
    }
    let rows: Vec<Vec<f64>> = x
        .axis_iter(Axis(0))
        .into_par_iter()
        .map(|row| {
            let row = row.to_vec();
            let mut phi = vec![0.0; (d + 1) * k];
            explainers.iter().for_each(|(e, scale, l)| e.add_contributions(&row, *scale, *l, &mut phi));
            phi[d * k..].copy_from_slice(&base);
            phi
        })
        .collect();
    Array3::from_shape_fn((n, d + 1, k), |(i, f, o)| rows[i][f * k + o])
}

/// TreeSHAP contributions of a booster's raw scores (one per output: the value, the
/// log-odds of class 1, or each class's margin); see [`contributions`] for the shape.
pub fn booster(b: &Booster, x: ArrayView2<f64>) -> Array3<f64> {
    let k = b.init.len();
    let trees: Vec<(&Tree, f64, Layout)> = b.trees.iter().flat_map(|round| round.iter().enumerate().map(move |(j, t)| (t, 1.0, Layout { stride: k, offset: j, width: 1 }))).collect();
    contributions(&trees, &b.init, x)
}

/// TreeSHAP contributions of a forest's outputs (class probabilities, or the value): the
/// mean of its trees'.
pub fn forest(f: &ForestModel, x: ArrayView2<f64>) -> Array3<f64> {
    let k = f.width();
    let scale = 1.0 / f.trees.len().max(1) as f64;
    let trees: Vec<(&ForestTree, f64, Layout)> = f.trees.iter().map(|t| (t, scale, Layout { stride: k, offset: 0, width: k })).collect();
    contributions(&trees, &vec![0.0; k], x)
}

/// Rough work of explaining one row with `tree` (leaves times depth squared), for
/// choosing how many rows an explanation can afford.
pub fn work<T: ShapTree>(tree: &T) -> f64 {
    let e = TreeExplainer::new(tree);
    (tree.n_nodes() + 1) as f64 * ((e.depth + 1) * (e.depth + 1)) as f64
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: Option<usize>) {
    path[depth] = PathElement { feature, zero, one, weight: if depth == 0 { 1.0 } else { 0.0 } };
    let d = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / d;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / d;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, k: usize) {
    let (one, zero) = (path[k].one, path[k].zero);
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next * d / ((i + 1) as f64 * one);
            next = tmp - path[i].weight * zero * (depth - i) as f64 / d;
        } else {
            path[i].weight = path[i].weight * d / (zero * (depth - i) as f64);
        }
    }
    for i in k..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

fn unwound_sum(path: &[PathElement], depth: usize, k: usize) -> f64 {
    let (one, zero) = (path[k].one, path[k].zero);
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next * d / ((i + 1) as f64 * one);
            total += tmp;
            next = path[i].weight - tmp * zero * (depth - i) as f64 / d;
        } else if zero != 0.0 {
            total += path[i].weight / zero / ((depth - i) as f64 / d);
        }
    }
    total
}

#[cfg(test)]
mod tests;
