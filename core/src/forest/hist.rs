//! One feature's histogram over a node's samples and the split found on it.
//!
//! Every cell holds `[rows, weight, S_0 .. S_{width-1}]`: the count of distinct rows, the
//! bootstrap weight, and weighted target sums. For classification `S_c` is the weight of
//! class `c` (one-hot targets), for regression `S_0` is the weighted sum of targets; in
//! both cases a side's score is `sum_d S_d^2 / weight`, so maximising the children's score
//! minimises the Gini impurity or the squared error.
use rand::Rng;

use super::{Sample, Splitter};
use crate::gbdt::BinMapper;

/// Where a candidate split sends bins (bin 0, missing, goes by `default_left`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Rule {
    /// Bins `1..=last` go left.
    Numeric {
        /// Last bin going left.
        last: u8,
    },
    /// Bins in the set go left.
    Categorical {
        /// Bitset over bins.
        left: [u64; 4],
    },
}

impl Rule {
    /// Whether a sample in `bin` goes left.
    #[inline]
    pub(super) fn goes_left(&self, bin: u8, default_left: bool) -> bool {
        if bin == 0 {
            return default_left;
        }
        match self {
            Rule::Numeric { last } => bin <= *last,
            Rule::Categorical { left } => super::tree::contains_bin(left, bin as usize),
        }
    }
}

/// A split of a node on one feature.
#[derive(Debug, Clone)]
pub(super) struct Split {
    /// The children's score (larger is better).
    pub score: f64,
    /// The rule.
    pub rule: Rule,
    /// Where missing values go.
    pub default_left: bool,
}

/// What a feature offers a node.
pub(super) enum Outcome {
    /// One bin only: no split is possible (and none in the node's descendants).
    Constant,
    /// Splits exist but none leaves `min_leaf` rows on both sides.
    Invalid,
    /// The split found.
    Found(Split),
}

/// A reusable histogram of one feature.
pub(super) struct Histogram {
    stride: usize,
    cells: Vec<f64>,
    seen: [bool; 256],
    /// Bins with samples, sorted after [`Histogram::build`].
    present: Vec<u8>,
    /// Running left-side sums.
    acc: Vec<f64>,
}

/// Present bins from which a scan of the `seen` flags beats sorting them.
const SCAN_FROM: usize = 32;

impl Histogram {
    /// An empty histogram for targets of `width` dimensions.
    pub(super) fn new(width: usize) -> Self {
        let stride = width + 2;
        Histogram { stride, cells: vec![0.0; 256 * stride], seen: [false; 256], present: Vec::with_capacity(256), acc: vec![0.0; stride] }
    }

    /// Cells per bin.
    pub(super) fn stride(&self) -> usize {
        self.stride
    }

    fn cell(&self, bin: u8) -> &[f64] {
        let at = bin as usize * self.stride;
        &self.cells[at..at + self.stride]
    }

    /// Adds bin `bin` to the running left-side sums.
    fn accumulate(&mut self, bin: u8) {
        let at = bin as usize * self.stride;
        self.acc.iter_mut().zip(&self.cells[at..at + self.stride]).for_each(|(a, c)| *a += c);
    }

    /// Adds `samples`, whose bins are in `col`, after clearing the previous feature.
    pub(super) fn build(&mut self, col: &[u8], samples: &[Sample]) {
        self.clear();
        for s in samples {
            let b = col[s.row as usize];
            if !self.seen[b as usize] {
                self.seen[b as usize] = true;
                self.present.push(b);
            }
            let at = b as usize * self.stride;
            let cell = &mut self.cells[at..at + self.stride];
            cell[0] += 1.0;
            cell[1] += s.w;
            cell[2 + s.dim as usize] += s.wy;
        }
        if self.present.len() < SCAN_FROM {
            self.present.sort_unstable();
        } else {
            self.present.clear();
            self.present.extend((0..=255u8).filter(|&b| self.seen[b as usize]));
        }
    }

    fn clear(&mut self) {
        for &b in &self.present {
            let at = b as usize * self.stride;
            self.cells[at..at + self.stride].iter_mut().for_each(|c| *c = 0.0);
            self.seen[b as usize] = false;
        }
        self.present.clear();
    }

    /// The split of the feature just built (binned by `mapper`, with per-bin value
    /// `ranges`) for a node with sums `total`.
    pub(super) fn split(&mut self, mapper: &BinMapper, ranges: &[(f64, f64)], total: &[f64], min_leaf: f64, choice: Splitter, rng: &mut impl Rng) -> Outcome {
        if self.present.len() < 2 {
            return Outcome::Constant;
        }
        let found = match mapper {
            BinMapper::Numeric { .. } => self.numeric(mapper, ranges, total, min_leaf, choice, rng),
            BinMapper::Categorical { .. } => self.categorical(total, min_leaf, choice, rng),
        };
        match found {
            Some((score, rule, default_left)) => Outcome::Found(Split { score, rule, default_left }),
            None => Outcome::Invalid,
        }
    }

    /// Thresholds between present bins, missing values tried on both sides (and alone
    /// against the rest). Best: every cut, each placed mid-way (in bins) between the
    /// present bins it separates. Random: one threshold drawn uniformly between the node's
    /// least and greatest value (as scikit-learn draws it), rounded up to a bin bound.
    fn numeric(&mut self, mapper: &BinMapper, ranges: &[(f64, f64)], total: &[f64], min_leaf: f64, choice: Splitter, rng: &mut impl Rng) -> Option<(f64, Rule, bool)> {
        let n_bins = mapper.n_bins();
        let missing = (self.present[0] == 0).then(|| self.cell(0).to_vec());
        let bins: Vec<u8> = self.present.iter().copied().filter(|&b| b > 0).collect();
        // The "all present values left, missing right" split, when there is nothing else.
        let all_left = Rule::Numeric { last: (n_bins - 1) as u8 };
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        let mut best = None;
        match choice {
            Splitter::Best => {
                for (i, &b) in bins.iter().enumerate() {
                    self.accumulate(b);
                    match bins.get(i + 1) {
                        Some(&next) => {
                            let last = ((b as usize + next as usize - 1) / 2) as u8;
                            consider(&mut best, total, &self.acc, missing.as_deref(), min_leaf, false, &Rule::Numeric { last });
                        }
                        None if missing.is_some() => consider(&mut best, total, &self.acc, missing.as_deref(), min_leaf, true, &all_left),
                        None => {}
                    }
                }
            }
            Splitter::Random if bins.len() >= 2 => {
                let (first, top) = (bins[0], bins[bins.len() - 1]);
                let (lo, hi) = (ranges[first as usize].0, ranges[top as usize].1);
                let last = if lo < hi && (hi - lo).is_finite() { mapper.bin(rng.gen_range(lo..hi)).clamp(first, top - 1) } else { rng.gen_range(first..top) };
                for &b in bins.iter().take_while(|&&b| b <= last) {
                    self.accumulate(b);
                }
                consider(&mut best, total, &self.acc, missing.as_deref(), min_leaf, false, &Rule::Numeric { last });
            }
            Splitter::Random => {
                // One present bin and missing values (two bins are present).
                self.accumulate(bins[0]);
                consider(&mut best, total, &self.acc, missing.as_deref(), min_leaf, true, &all_left);
            }
        }
        best
    }

    /// Categories (missing as one of them) ordered by their share of one target
    /// dimension; a prefix of that order goes left: the best prefix, or a random one.
    fn categorical(&mut self, total: &[f64], min_leaf: f64, choice: Splitter, rng: &mut impl Rng) -> Option<(f64, Rule, bool)> {
        let key = 2 + sort_dimension(total);
        let share = |c: &[f64]| c[key] / c[1].max(f64::MIN_POSITIVE);
        let mut order = self.present.clone();
        order.sort_by(|&a, &b| share(self.cell(a)).total_cmp(&share(self.cell(b))).then(a.cmp(&b)));
        let has_missing = self.present[0] == 0;
        let random_cut = (choice == Splitter::Random).then(|| rng.gen_range(1..order.len()));
        self.acc.iter_mut().for_each(|a| *a = 0.0);
        let (mut set, mut missing_left) = ([0u64; 4], false);
        let mut best: Option<(f64, Rule, bool)> = None;
        for (i, &b) in order[..order.len() - 1].iter().enumerate() {
            self.accumulate(b);
            if b == 0 {
                missing_left = true; // NaN goes by default_left, not by the set
            } else {
                set[b as usize / 64] |= 1 << (b % 64);
            }
            if random_cut.is_some_and(|c| c != i + 1) {
                continue;
            }
            if let Some((score, wl)) = side_score(total, &self.acc, None, min_leaf) {
                if best.as_ref().is_none_or(|b| score > b.0) {
                    let default_left = if has_missing { missing_left } else { wl >= total[1] - wl };
                    best = Some((score, Rule::Categorical { left: set }, default_left));
                }
            }
        }
        best
    }
}

/// The target dimension categories are ordered by: the target (regression), class 1
/// (binary), the node's most frequent class (multiclass).
fn sort_dimension(total: &[f64]) -> usize {
    match total.len() - 2 {
        1 => 0,
        2 => 1,
        _ => (0..total.len() - 2).fold(0, |best, d| if total[2 + d] > total[2 + best] { d } else { best }),
    }
}

/// Tries the split whose present-bin left side is `acc`, with missing values (`missing`)
/// on either side; without missing values here, future ones go to the heavier side.
/// `missing_right_only` is the "all present left" cut, where missing left is no split.
fn consider(best: &mut Option<(f64, Rule, bool)>, total: &[f64], acc: &[f64], missing: Option<&[f64]>, min_leaf: f64, missing_right_only: bool, rule: &Rule) {
    let mut try_side = |m: Option<&[f64]>, default_left: Option<bool>| {
        if let Some((score, wl)) = side_score(total, acc, m, min_leaf) {
            if best.as_ref().is_none_or(|b| score > b.0) {
                *best = Some((score, rule.clone(), default_left.unwrap_or(wl >= total[1] - wl)));
            }
        }
    };
    match missing {
        None => try_side(None, None),
        Some(m) => {
            try_side(None, Some(false));
            if !missing_right_only {
                try_side(Some(m), Some(true));
            }
        }
    }
}

/// The children's score when the left side holds `left` (plus `extra`): `None` when a
/// side has fewer than `min_leaf` rows; else the score and the left weight.
#[inline]
fn side_score(total: &[f64], left: &[f64], extra: Option<&[f64]>, min_leaf: f64) -> Option<(f64, f64)> {
    let get = |i: usize| left[i] + extra.map_or(0.0, |e| e[i]);
    let (nl, wl) = (get(0), get(1));
    let (nr, wr) = (total[0] - nl, total[1] - wl);
    if nl < min_leaf || nr < min_leaf || wl <= 0.0 || wr <= 0.0 {
        return None;
    }
    let (mut sl, mut sr) = (0.0, 0.0);
    for (i, t) in total.iter().enumerate().skip(2) {
        let a = get(i);
        let b = t - a;
        sl += a * a;
        sr += b * b;
    }
    Some((sl / wl + sr / wr, wl))
}
