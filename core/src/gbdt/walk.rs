//! Prediction of tree ensembles on raw values, shared by the booster and the forests:
//! rows cut into blocks that threads share out, and each block's rows walked through one
//! tree after another, [`LANES`] rows at a time so their memory reads overlap.
use ndarray::{s, Array2, ArrayView2};
use rayon::prelude::*;

/// Rows walked through a tree together by [`Walk::leaves`].
pub const LANES: usize = 8;

/// Most input values (rows x columns) predicted together, tree after tree: a block's rows
/// (256 KiB) stay in a core's own cache while each tree's nodes are read once per block
/// (measured faster than blocks of 8 MiB for boosters and forests alike).
const BLOCK_VALUES: usize = 1 << 15;

/// A tree walked on raw values, node by node.
pub trait Walk {
    /// Whether the tree has internal nodes (without, every row reaches leaf 0).
    fn has_nodes(&self) -> bool;

    /// The child of internal node `i` for the row at `rows[base..]`: a later node (`>= 0`)
    /// or `!leaf`. Branch-free for numeric tests, whose outcomes a CPU cannot predict.
    fn step(&self, i: usize, rows: &[f64], base: usize) -> i32;

    /// The leaf a row of raw values reaches.
    fn leaf(&self, row: &[f64]) -> usize {
        let mut i = if self.has_nodes() { 0 } else { -1 };
        while i >= 0 {
            i = self.step(i as usize, row, 0);
        }
        !i as usize
    }

    /// Leaves of the rows of `rows` (row-major, `d` values a row) into `leaves`.
    fn leaves(&self, rows: &[f64], d: usize, leaves: &mut [u32]) {
        let root = if self.has_nodes() { 0 } else { -1 };
        for (group, out) in rows.chunks(d.max(1) * LANES).zip(leaves.chunks_mut(LANES)) {
            let mut at = [root; LANES];
            let lanes = &mut at[..out.len()];
            let mut walking = root >= 0;
            while walking {
                walking = false;
                // Without a branch on each lane, which a CPU cannot predict: a lane at its
                // leaf walks node 0 again and keeps its leaf.
                for (lane, i) in lanes.iter_mut().enumerate() {
                    let live = *i >= 0;
                    let next = self.step((*i).max(0) as usize, group, lane * d);
                    *i = if live { next } else { *i };
                    walking |= live & (next >= 0);
                }
            }
            out.iter_mut().zip(lanes.iter()).for_each(|(o, &i)| *o = !i as u32);
        }
    }
}

/// `width` values for each row of `x`, from `block(rows, m)`: the row-major values of a
/// block of `m` rows (row-major, `x.ncols()` values a row) into `m * width` outputs.
/// Blocks run on rayon's current pool.
pub fn in_blocks(x: ArrayView2<f64>, width: usize, block: impl Fn(&[f64], usize) -> Vec<f64> + Sync) -> Array2<f64> {
    let n = x.nrows();
    let per_thread = n.div_ceil(rayon::current_num_threads().max(1));
    let size = per_thread.min(BLOCK_VALUES / x.ncols().max(1)).max(LANES);
    let blocks: Vec<Vec<f64>> = (0..n.div_ceil(size))
        .into_par_iter()
        .map(|b| {
            let rows = x.slice(s![b * size..((b + 1) * size).min(n), ..]);
            block(&rows.iter().copied().collect::<Vec<f64>>(), rows.nrows())
        })
        .collect();
    let flat = blocks.concat();
    Array2::from_shape_fn((n, width), |(i, j)| flat[i * width + j])
}
