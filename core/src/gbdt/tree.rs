//! One regression tree grown leaf-wise on binned data from gradients and hessians.
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use super::binning::{BinMapper, Binned};
use super::walk::Walk;
use super::GbdtParams;

/// Bins of one feature's histogram: sums of gradients and hessians, and row counts.
#[derive(Debug, Clone, Copy, Default)]
struct Bin {
    g: f64,
    h: f64,
    n: u32,
}

/// How a node splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Split {
    /// Left when `value <= threshold` (bins `<= bin`).
    Numeric {
        /// Raw-value threshold.
        threshold: f64,
        /// Last bin going left.
        bin: u8,
    },
    /// Left when the category's bin is in the set.
    Categorical {
        /// Bitset over bins.
        left: [u64; 4],
        /// Category bins of the feature (codes past it share the last bin).
        n: usize,
    },
}

/// An internal node; children `< 0` are leaves (`!child` is the leaf index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature index.
    pub feature: u32,
    /// The split.
    pub split: Split,
    /// Where missing values go.
    pub default_left: bool,
    /// Left child.
    pub left: i32,
    /// Right child.
    pub right: i32,
}

/// A fitted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Internal nodes; empty for a single leaf.
    pub nodes: Vec<Node>,
    /// Leaf outputs (already scaled by the learning rate).
    pub leaves: Vec<f64>,
    /// Training rows that reached each leaf (the cover TreeSHAP weighs paths by).
    pub covers: Vec<u32>,
}

fn in_set(set: &[u64; 4], bin: usize) -> bool {
    set[bin / 64] >> (bin % 64) & 1 == 1
}

impl Tree {
    /// Whether a row of raw values goes left at internal node `i`.
    #[inline]
    pub fn goes_left_raw(&self, i: usize, row: &[f64]) -> bool {
        let node = &self.nodes[i];
        node.goes_left(row[node.feature as usize])
    }

    /// Leaf index for a row of bins.
    #[inline]
    fn leaf_binned(&self, bins: &[Vec<u8>], row: usize) -> usize {
        if self.nodes.is_empty() {
            return 0;
        }
        let mut i = 0i32;
        loop {
            let node = &self.nodes[i as usize];
            let b = bins[node.feature as usize][row];
            let left = if b == 0 { node.default_left } else { goes_left(&node.split, b) };
            i = if left { node.left } else { node.right };
            if i < 0 {
                return !i as usize;
            }
        }
    }

    /// Output for row `row` of binned data.
    #[inline]
    pub fn predict_binned(&self, bins: &[Vec<u8>], row: usize) -> f64 {
        self.leaves[self.leaf_binned(bins, row)]
    }
}

impl Tree {
    /// Checks that prediction on rows of `n_features` values cannot index out of range or
    /// loop: every child is a later node or an existing leaf (so traversal only moves
    /// forward and ends), features are in range, leaf values are finite.
    pub fn check(&self, n_features: usize) -> Result<(), String> {
        if self.leaves.len() != self.nodes.len() + 1 {
            return Err(format!("{} internal nodes but {} leaves (expected {})", self.nodes.len(), self.leaves.len(), self.nodes.len() + 1));
        }
        if self.covers.len() != self.leaves.len() || self.covers.contains(&0) {
            return Err(format!("{} leaf covers for {} leaves (each at least 1 row)", self.covers.len(), self.leaves.len()));
        }
        if let Some(i) = self.leaves.iter().position(|v| !v.is_finite()) {
            return Err(format!("leaf {i} has the non-finite value {}", self.leaves[i]));
        }
        self.nodes.iter().enumerate().try_for_each(|(i, node)| node.check(i, self.nodes.len(), self.leaves.len(), n_features).map_err(|e| format!("node {i}: {e}")))
    }
}

impl Node {
    /// Whether raw value `v` of the node's feature goes left.
    #[inline]
    fn goes_left(&self, v: f64) -> bool {
        if v.is_nan() {
            return self.default_left;
        }
        match &self.split {
            Split::Numeric { threshold, .. } => v <= *threshold,
            Split::Categorical { left, n } if v >= 0.0 => in_set(left, 1 + (v as usize).min(n - 1)),
            Split::Categorical { .. } => self.default_left,
        }
    }

    /// Checks node `index` of a tree with `n_nodes` nodes and `n_leaves` leaves.
    fn check(&self, index: usize, n_nodes: usize, n_leaves: usize, n_features: usize) -> Result<(), String> {
        if self.feature as usize >= n_features {
            return Err(format!("splits on feature {} of {n_features}", self.feature));
        }
        for (side, child) in [("left", self.left), ("right", self.right)] {
            if child < 0 && (!child) as usize >= n_leaves {
                return Err(format!("{side} child is leaf {} of {n_leaves}", !child));
            }
            // A child at or before its parent could make traversal loop forever.
            if child >= 0 && (child as usize <= index || child as usize >= n_nodes) {
                return Err(format!("{side} child is node {child}, not a later node of {n_nodes} (a cycle or out of range)"));
            }
        }
        self.split.check()
    }
}

impl Split {
    fn check(&self) -> Result<(), String> {
        match self {
            Split::Numeric { threshold, .. } if threshold.is_nan() => Err("numeric split with a NaN threshold".into()),
            // Category bins are 1..=n and must fit the 256-bit set.
            Split::Categorical { n, .. } if *n == 0 || *n > 255 => Err(format!("categorical split over {n} categories (1 to 255 allowed)")),
            _ => Ok(()),
        }
    }
}

#[inline]
fn goes_left(split: &Split, bin: u8) -> bool {
    match split {
        Split::Numeric { bin: last, .. } => bin <= *last,
        Split::Categorical { left, .. } => in_set(left, bin as usize),
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    gain: f64,
    feature: usize,
    split: Split,
    default_left: bool,
}

struct Leaf {
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    hist: Vec<Vec<Bin>>,
    best: Option<Candidate>,
    /// Where this leaf hangs: (node index, is left child); `None` for the root.
    parent: Option<(usize, bool)>,
}

#[inline]
fn threshold_l1(g: f64, l1: f64) -> f64 {
    if g > l1 {
        g - l1
    } else if g < -l1 {
        g + l1
    } else {
        0.0
    }
}

#[inline]
fn score(g: f64, h: f64, p: &GbdtParams) -> f64 {
    let t = threshold_l1(g, p.lambda_l1);
    t * t / (h + p.lambda_l2)
}

/// Grows one tree. `rows` are the (bagged) training rows; `features` the sampled columns.
/// Returns the tree, the gain of each split with its feature, and each leaf's range in
/// `rows` (which is left partitioned by leaf).
pub fn grow(threads: &super::Threads, binned: &Binned, grad: &[f64], hess: &[f64], rows: &mut [u32], features: &[usize], p: &GbdtParams) -> (Tree, Vec<(usize, f64)>, Vec<(usize, usize)>) {
    let mut scratch = vec![0u32; rows.len()];
    let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &r| (g + grad[r as usize], h + hess[r as usize]));
    let root_hist = build_hist(threads, binned, grad, hess, rows, features);
    let mut leaves = vec![Leaf { start: 0, end: rows.len(), depth: 0, g, h, hist: root_hist, best: None, parent: None }];
    leaves[0].best = best_split(&leaves[0], binned, features, p);
    let mut nodes: Vec<Node> = Vec::new();
    let mut gains = Vec::new();
    let mut heap: BinaryHeap<(OrdF64, usize)> = BinaryHeap::new();
    if let Some(c) = &leaves[0].best {
        heap.push((OrdF64(c.gain), 0));
    }
    let mut n_leaves = 1;
    while n_leaves < p.num_leaves {
        let Some((_, li)) = heap.pop() else { break };
        let Some(cand) = leaves[li].best.take() else { continue };
        // Partition the leaf's rows, stably, into left then right.
        let (start, end) = (leaves[li].start, leaves[li].end);
        let col = &binned.bins[cand.feature];
        let (mut nl, mut nr) = (0usize, 0usize);
        for &r in rows[start..end].iter() {
            let b = col[r as usize];
            let left = if b == 0 { cand.default_left } else { goes_left(&cand.split, b) };
            if left {
                scratch[start + nl] = r;
                nl += 1;
            } else {
                nr += 1;
                scratch[end - nr] = r;
            }
        }
        rows[start..start + nl].copy_from_slice(&scratch[start..start + nl]);
        // Right rows were written back to front: restore their order.
        for (k, i) in (start + nl..end).enumerate() {
            rows[i] = scratch[end - 1 - k];
        }
        // Sums of the children from the rows themselves (exact, no float drift).
        let sum = |rs: &[u32]| rs.iter().fold((0.0, 0.0), |(g, h), &r| (g + grad[r as usize], h + hess[r as usize]));
        let (gl, hl) = sum(&rows[start..start + nl]);
        let (gr, hr) = (leaves[li].g - gl, leaves[li].h - hl);
        // Build the smaller child's histogram, subtract for the larger.
        let (small_range, small_is_left) = if nl <= nr { ((start, start + nl), true) } else { ((start + nl, end), false) };
        let small_hist = build_hist(threads, binned, grad, hess, &rows[small_range.0..small_range.1], features);
        let parent_hist = std::mem::take(&mut leaves[li].hist);
        let large_hist: Vec<Vec<Bin>> = parent_hist
            .into_iter()
            .zip(&small_hist)
            .map(|(mut ph, sh)| {
                for (a, b) in ph.iter_mut().zip(sh) {
                    a.g -= b.g;
                    a.h -= b.h;
                    a.n -= b.n;
                }
                ph
            })
            .collect();
        let (left_hist, right_hist) = if small_is_left { (small_hist, large_hist) } else { (large_hist, small_hist) };
        let node_index = nodes.len();
        let depth = leaves[li].depth + 1;
        if let Some((parent, is_left)) = leaves[li].parent {
            if is_left {
                nodes[parent].left = node_index as i32;
            } else {
                nodes[parent].right = node_index as i32;
            }
        }
        gains.push((cand.feature, cand.gain));
        nodes.push(Node { feature: cand.feature as u32, split: cand.split, default_left: cand.default_left, left: -1, right: -1 });
        // The parent's slot becomes the left child; the right child is new.
        leaves[li] = Leaf { start, end: start + nl, depth, g: gl, h: hl, hist: left_hist, best: None, parent: Some((node_index, true)) };
        leaves.push(Leaf { start: start + nl, end, depth, g: gr, h: hr, hist: right_hist, best: None, parent: Some((node_index, false)) });
        n_leaves += 1;
        let ri = leaves.len() - 1;
        for i in [li, ri] {
            if p.max_depth == 0 || leaves[i].depth < p.max_depth {
                leaves[i].best = best_split(&leaves[i], binned, features, p);
                if let Some(c) = &leaves[i].best {
                    heap.push((OrdF64(c.gain), i));
                }
            }
        }
    }
    // Leaf outputs, and links from nodes to leaf indices.
    let mut values = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        let step = -threshold_l1(leaf.g, p.lambda_l1) / (leaf.h + p.lambda_l2);
        let step = if p.max_delta_step > 0.0 { step.clamp(-p.max_delta_step, p.max_delta_step) } else { step };
        values.push(step * p.learning_rate);
        if let Some((parent, is_left)) = leaf.parent {
            let link = !(i as i32);
            if is_left {
                nodes[parent].left = link;
            } else {
                nodes[parent].right = link;
            }
        }
    }
    let ranges: Vec<(usize, usize)> = leaves.iter().map(|l| (l.start, l.end)).collect();
    let covers = ranges.iter().map(|&(a, b)| (b - a) as u32).collect();
    (Tree { nodes, leaves: values, covers }, gains, ranges)
}

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Histogram cells (rows x features) from which building is spread over threads.
const PARALLEL_MIN_CELLS: usize = 200_000;

fn build_hist(threads: &super::Threads, binned: &Binned, grad: &[f64], hess: &[f64], rows: &[u32], features: &[usize]) -> Vec<Vec<Bin>> {
    // Ordered gradients: contiguous reads in the per-feature loops.
    let og: Vec<f64> = rows.iter().map(|&r| grad[r as usize]).collect();
    let oh: Vec<f64> = rows.iter().map(|&r| hess[r as usize]).collect();
    let mut hist: Vec<Vec<Bin>> = (0..binned.mappers.len()).map(|_| Vec::new()).collect();
    let (og, oh) = (&og, &oh);
    // Small nodes are not worth a fork-join: below this many cells, stay on this thread.
    let threads = if rows.len() * features.len() < PARALLEL_MIN_CELLS { &super::Threads::INLINE } else { threads };
    let built: Vec<(usize, Vec<Bin>)> = threads.map(features.len(), |i| {
            let f = features[i];
            let mut hf = vec![Bin::default(); binned.mappers[f].n_bins()];
            let col = &binned.bins[f];
            for ((&r, &g), &h) in rows.iter().zip(og).zip(oh) {
                let b = &mut hf[col[r as usize] as usize];
                b.g += g;
                b.h += h;
                b.n += 1;
            }
            (f, hf)
        });
    for (f, hf) in built {
        hist[f] = hf;
    }
    hist
}

fn best_split(leaf: &Leaf, binned: &Binned, features: &[usize], p: &GbdtParams) -> Option<Candidate> {
    let n = (leaf.end - leaf.start) as u32;
    if (n as usize) < 2 * p.min_child_samples.max(1) {
        return None;
    }
    let parent = score(leaf.g, leaf.h, p);
    let ok = |n: u32, h: f64| n as usize >= p.min_child_samples.max(1) && h >= p.min_child_weight;
    let mut best: Option<Candidate> = None;
    let mut consider = |gain: f64, feature: usize, split: Split, default_left: bool| {
        if gain > p.min_split_gain && gain.is_finite() && best.as_ref().is_none_or(|b| gain > b.gain) {
            best = Some(Candidate { gain, feature, split, default_left });
        }
    };
    for &f in features {
        let hist = &leaf.hist[f];
        let missing = hist[0];
        match &binned.mappers[f] {
            BinMapper::Numeric { upper } => {
                // Scan thresholds; missing values tried on each side.
                let mut acc = Bin::default();
                for b in 1..hist.len() - 1 {
                    acc.g += hist[b].g;
                    acc.h += hist[b].h;
                    acc.n += hist[b].n;
                    if acc.n == 0 {
                        continue;
                    }
                    for missing_left in [false, true] {
                        if missing_left && missing.n == 0 {
                            continue;
                        }
                        let (gl, hl, nl) = if missing_left { (acc.g + missing.g, acc.h + missing.h, acc.n + missing.n) } else { (acc.g, acc.h, acc.n) };
                        let (gr, hr, nr) = (leaf.g - gl, leaf.h - hl, n - nl);
                        if !ok(nl, hl) || !ok(nr, hr) {
                            continue;
                        }
                        let gain = score(gl, hl, p) + score(gr, hr, p) - parent;
                        // With no missing values here, send future ones to the larger side.
                        let default_left = if missing.n == 0 { hl >= hr } else { missing_left };
                        consider(gain, f, Split::Numeric { threshold: upper[b - 1], bin: b as u8 }, default_left);
                    }
                }
            }
            BinMapper::Categorical { n: n_cats } => {
                let present: Vec<usize> = (1..hist.len()).filter(|&b| hist[b].n > 0).collect();
                if present.len() < 2 {
                    continue;
                }
                let try_set = |bins: &[usize], extra_l2: f64, consider: &mut dyn FnMut(f64, usize, Split, bool)| {
                    let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0u32);
                    let mut set = [0u64; 4];
                    for &b in bins {
                        gl += hist[b].g;
                        hl += hist[b].h;
                        nl += hist[b].n;
                        set[b / 64] |= 1 << (b % 64);
                    }
                    let (gr, hr, nr) = (leaf.g - gl, leaf.h - hl, n - nl);
                    if ok(nl, hl) && ok(nr, hr) {
                        let s = |g: f64, h: f64| {
                            let t = threshold_l1(g, p.lambda_l1);
                            t * t / (h + p.lambda_l2 + extra_l2)
                        };
                        let gain = s(gl, hl) + s(gr, hr) - s(leaf.g, leaf.h);
                        consider(gain, f, Split::Categorical { left: set, n: *n_cats }, false);
                    }
                };
                if present.len() <= p.max_cat_onehot {
                    for &b in &present {
                        try_set(&[b], 0.0, &mut consider);
                    }
                } else {
                    // LightGBM's many-vs-many: categories with enough rows sorted by gradient
                    // ratio, prefixes from both ends tried once each group holds
                    // `min_data_per_group` rows, with `cat_l2` extra regularisation.
                    let mut sorted: Vec<usize> = present.iter().copied().filter(|&b| f64::from(hist[b].n) >= p.cat_smooth).collect();
                    sorted.sort_by(|&a, &b| (hist[a].g / (hist[a].h + p.cat_smooth)).total_cmp(&(hist[b].g / (hist[b].h + p.cat_smooth))));
                    let limit = sorted.len().saturating_sub(1).min(p.max_cat_threshold);
                    for from_end in [false, true] {
                        let mut group = 0u32;
                        for k in 1..=limit {
                            let added = if from_end { sorted[sorted.len() - k] } else { sorted[k - 1] };
                            group += hist[added].n;
                            if (group as usize) < p.min_data_per_group {
                                continue;
                            }
                            group = 0;
                            let bins = if from_end { &sorted[sorted.len() - k..] } else { &sorted[..k] };
                            try_set(bins, p.cat_l2, &mut consider);
                        }
                    }
                }
            }
        }
    }
    best
}

impl Walk for Tree {
    fn has_nodes(&self) -> bool {
        !self.nodes.is_empty()
    }

    #[inline(always)]
    fn step(&self, i: usize, rows: &[f64], base: usize) -> i32 {
        let node = &self.nodes[i];
        let v = rows[base + node.feature as usize];
        let left = match &node.split {
            Split::Numeric { threshold, .. } => (v <= *threshold) | (v.is_nan() & node.default_left),
            _ => node.goes_left(v),
        };
        [node.left, node.right][usize::from(!left)]
    }
}
