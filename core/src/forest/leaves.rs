//! Leaf values of a tree: dense for regression and binary classification, sparse (only the
//! classes present) for multiclass, so a tree's leaves take memory in proportion to its
//! training rows whatever the number of classes.
use serde::{Deserialize, Serialize};

/// The values of a tree's leaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Leaves {
    /// `width` values per leaf: the mean target (width 1), or class frequencies.
    Dense {
        /// Values per leaf.
        width: usize,
        /// `values[leaf * width..][..width]`.
        values: Vec<f64>,
    },
    /// Class frequencies of the classes present in each leaf.
    Sparse {
        /// Leaf `l`'s classes are `classes[offsets[l]..offsets[l + 1]]`.
        offsets: Vec<u32>,
        /// Classes.
        classes: Vec<u32>,
        /// Their frequencies.
        freqs: Vec<f64>,
    },
}

impl Leaves {
    /// No leaves yet, for targets of `width` dimensions (sparse above two).
    pub(super) fn new(width: usize) -> Leaves {
        if width > 2 {
            Leaves::Sparse { offsets: vec![0], classes: Vec::new(), freqs: Vec::new() }
        } else {
            Leaves::Dense { width, values: Vec::new() }
        }
    }

    /// Adds a leaf from its weight and per-dimension weighted sums; returns its index.
    pub(super) fn push(&mut self, weight: f64, sums: &[f64]) -> usize {
        let leaf = self.len();
        match self {
            Leaves::Dense { values, .. } => values.extend(sums.iter().map(|s| s / weight)),
            Leaves::Sparse { offsets, classes, freqs } => {
                for (c, s) in sums.iter().enumerate().filter(|(_, s)| **s != 0.0) {
                    classes.push(c as u32);
                    freqs.push(s / weight);
                }
                offsets.push(classes.len() as u32);
            }
        }
        leaf
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        match self {
            Leaves::Dense { width, values } => values.len() / (*width).max(1),
            Leaves::Sparse { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    /// True without leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds leaf `leaf`'s values to `out` (one slot per target dimension).
    #[inline]
    pub fn add_to(&self, leaf: usize, out: &mut [f64]) {
        match self {
            Leaves::Dense { width, values } => out.iter_mut().zip(&values[leaf * width..(leaf + 1) * width]).for_each(|(o, v)| *o += v),
            Leaves::Sparse { offsets, classes, freqs } => {
                let range = offsets[leaf] as usize..offsets[leaf + 1] as usize;
                classes[range.clone()].iter().zip(&freqs[range]).for_each(|(&c, f)| out[c as usize] += f);
            }
        }
    }

    /// Checks that there are `n_leaves` leaves of `width` finite values (classes below
    /// `width`, offsets in order and in range). The message names what is wrong.
    pub(super) fn check(&self, n_leaves: usize, width: usize) -> Result<(), String> {
        let values = match self {
            Leaves::Dense { width: w, values } => {
                if *w != width || values.len() != n_leaves * width {
                    return Err(format!("{} leaf values of width {w} for {n_leaves} leaves of {width}", values.len()));
                }
                values
            }
            Leaves::Sparse { offsets, classes, freqs } => {
                if offsets.len() != n_leaves + 1 || offsets.first() != Some(&0) || offsets.last().map(|&o| o as usize) != Some(classes.len()) || freqs.len() != classes.len() {
                    return Err(format!("{} leaf offsets over {} classes and {} frequencies for {n_leaves} leaves", offsets.len(), classes.len(), freqs.len()));
                }
                if offsets.windows(2).any(|w| w[0] > w[1]) {
                    return Err("leaf offsets out of order".into());
                }
                if let Some(c) = classes.iter().find(|&&c| c as usize >= width) {
                    return Err(format!("a leaf holds class {c} of {width}"));
                }
                freqs
            }
        };
        match values.iter().find(|v| !v.is_finite()) {
            Some(v) => Err(format!("a leaf holds the non-finite value {v}")),
            None => Ok(()),
        }
    }
}
