//! Feature binning: numeric columns into at most `max_bin` quantile bins, categorical
//! columns into one bin per category; bin 0 holds missing values.
use ndarray::ArrayView2;
use rand::seq::index::sample;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Rows sampled to find numeric bin boundaries.
const SKETCH_ROWS: usize = 200_000;

/// How one input column is binned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BinMapper {
    /// Bin `b >= 1` holds values `<= upper[b - 1]` (and above the previous bound).
    Numeric {
        /// Upper bounds of bins 1..; the last is +inf.
        upper: Vec<f64>,
    },
    /// Category `c` (a non-negative integer) goes to bin `c + 1`; larger codes share the last bin.
    Categorical {
        /// Number of category bins (without the missing bin).
        n: usize,
    },
}

impl BinMapper {
    /// Bins including the missing bin 0.
    pub fn n_bins(&self) -> usize {
        match self {
            BinMapper::Numeric { upper } => upper.len() + 1,
            BinMapper::Categorical { n } => n + 1,
        }
    }

    /// The bin of a value.
    #[inline]
    pub fn bin(&self, v: f64) -> u8 {
        if v.is_nan() {
            return 0;
        }
        match self {
            BinMapper::Numeric { upper } => (1 + upper.partition_point(|u| *u < v)).min(upper.len()) as u8,
            BinMapper::Categorical { n } => {
                if v < 0.0 {
                    0
                } else {
                    (1 + (v as usize).min(n - 1)) as u8
                }
            }
        }
    }

    /// Fits a mapper on column `values`.
    fn fit(values: &[f64], categorical: bool, max_bin: usize) -> BinMapper {
        if categorical {
            let max_code = values.iter().filter(|v| v.is_finite() && **v >= 0.0).fold(0.0f64, |m, v| m.max(*v)) as usize;
            return BinMapper::Categorical { n: (max_code + 1).clamp(1, max_bin) };
        }
        let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        finite.sort_by(f64::total_cmp);
        let mut distinct: Vec<(f64, usize)> = Vec::new();
        for v in finite {
            match distinct.last_mut() {
                Some((last, count)) if *last == v => *count += 1,
                _ => distinct.push((v, 1)),
            }
        }
        let mut upper = Vec::new();
        if distinct.len() <= max_bin {
            // One bin per distinct value, split half-way between neighbours.
            for w in distinct.windows(2) {
                upper.push((w[0].0 + w[1].0) / 2.0);
            }
        } else {
            // Quantile bins over the distinct values weighted by their counts.
            let total: usize = distinct.iter().map(|d| d.1).sum();
            let per_bin = total as f64 / max_bin as f64;
            let mut acc = 0usize;
            let mut next = per_bin;
            for w in distinct.windows(2) {
                acc += w[0].1;
                if acc as f64 >= next && upper.len() + 1 < max_bin {
                    upper.push((w[0].0 + w[1].0) / 2.0);
                    while next <= acc as f64 {
                        next += per_bin;
                    }
                }
            }
        }
        upper.push(f64::INFINITY);
        BinMapper::Numeric { upper }
    }
}

/// A column-major matrix of bins.
#[derive(Debug, Clone)]
pub struct Binned {
    /// One mapper per column.
    pub mappers: Vec<BinMapper>,
    /// `bins[f][row]`.
    pub bins: Vec<Vec<u8>>,
    /// Rows.
    pub n_rows: usize,
}

impl Binned {
    /// Fits mappers on (a sample of) `x` and bins every row.
    pub fn fit(x: ArrayView2<f64>, categorical: &[bool], max_bin: usize, seed: u64) -> Binned {
        let n = x.nrows();
        let sample_rows: Option<Vec<usize>> = (n > SKETCH_ROWS).then(|| {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut s = sample(&mut rng, n, SKETCH_ROWS).into_vec();
            s.sort_unstable();
            s
        });
        let mappers: Vec<BinMapper> = (0..x.ncols())
            .map(|f| {
                let col = x.column(f);
                let values: Vec<f64> = match &sample_rows {
                    Some(rows) => rows.iter().map(|&r| col[r]).collect(),
                    None => col.to_vec(),
                };
                BinMapper::fit(&values, categorical.get(f).copied().unwrap_or(false), max_bin.clamp(2, 255))
            })
            .collect();
        let bins = Self::apply(&mappers, x);
        Binned { mappers, bins, n_rows: n }
    }

    /// Bins `x` with fitted mappers.
    pub fn apply(mappers: &[BinMapper], x: ArrayView2<f64>) -> Vec<Vec<u8>> {
        mappers.iter().enumerate().map(|(f, m)| x.column(f).iter().map(|&v| m.bin(v)).collect()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_bins_respect_bounds_and_missing() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let m = BinMapper::fit(&values, false, 16);
        assert_eq!(m.n_bins(), 17);
        assert_eq!(m.bin(f64::NAN), 0);
        assert_eq!(m.bin(-5.0), 1);
        assert_eq!(m.bin(1e9), 16);
        let bins: Vec<u8> = values.iter().map(|&v| m.bin(v)).collect();
        assert!(bins.windows(2).all(|w| w[0] <= w[1]));
        // Roughly equal counts per bin.
        let mut counts = [0usize; 17];
        bins.iter().for_each(|&b| counts[b as usize] += 1);
        assert!(counts[1..].iter().all(|&c| (50..=80).contains(&c)), "{counts:?}");
        let few = BinMapper::fit(&[1.0, 2.0, 2.0, 3.0], false, 255);
        assert_eq!((few.bin(1.0), few.bin(2.0), few.bin(3.0)), (1, 2, 3));
    }

    #[test]
    fn categorical_bins() {
        let m = BinMapper::fit(&[0.0, 1.0, 2.0, f64::NAN], true, 255);
        assert_eq!((m.bin(0.0), m.bin(2.0), m.bin(f64::NAN), m.bin(7.0)), (1, 3, 0, 3));
    }
}
