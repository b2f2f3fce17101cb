//! Tree-structured Parzen estimator (Bergstra et al., 2011) over a learner's unit cube.
use automl_core::space::{Domain, SearchSpace};
use rand::Rng;

/// TPE settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tpe {
    /// Random points before the model is used.
    pub startup: usize,
    /// Share of observations counted as good.
    pub gamma: f64,
    /// Candidates drawn from the good density; the best ratio wins.
    pub candidates: usize,
}

impl Default for Tpe {
    fn default() -> Self {
        Tpe { startup: 5, gamma: 0.25, candidates: 24 }
    }
}

impl Tpe {
    /// A point of the unit cube to try next, given `(point, loss)` history.
    pub fn suggest(&self, space: &SearchSpace, history: &[(Vec<f64>, f64)], rng: &mut impl Rng) -> Vec<f64> {
        let dim = space.len();
        let random = |rng: &mut dyn rand::RngCore| (0..dim).map(|_| rng.gen::<f64>()).collect::<Vec<f64>>();
        if history.len() < self.startup.max(dim + 1) {
            return random(rng);
        }
        let mut order: Vec<usize> = (0..history.len()).collect();
        order.sort_by(|&a, &b| history[a].1.total_cmp(&history[b].1));
        let n_good = ((self.gamma * history.len() as f64).ceil() as usize).clamp(1, history.len() - 1);
        let good: Vec<&[f64]> = order[..n_good].iter().map(|&i| history[i].0.as_slice()).collect();
        let bad: Vec<&[f64]> = order[n_good..].iter().map(|&i| history[i].0.as_slice()).collect();
        let mut best = (f64::NEG_INFINITY, random(rng));
        for _ in 0..self.candidates {
            let x: Vec<f64> = (0..dim)
                .map(|d| match &space.params[d].domain {
                    Domain::Choice(options) => sample_choice(&good, d, options.len(), rng),
                    _ => {
                        // Pick a good point (or the uniform prior) and perturb it.
                        let bw = bandwidth(good.len());
                        let pick = rng.gen_range(0..=good.len());
                        if pick == good.len() {
                            rng.gen::<f64>()
                        } else {
                            // Truncated normal: clamping would pile candidates on the bounds.
                            (0..16).map(|_| good[pick][d] + bw * normal(rng)).find(|v| (0.0..=1.0).contains(v)).unwrap_or_else(|| rng.gen::<f64>())
                        }
                    }
                })
                .collect();
            let score: f64 = (0..dim)
                .map(|d| match &space.params[d].domain {
                    Domain::Choice(options) => choice_density(&good, d, x[d], options.len()).ln() - choice_density(&bad, d, x[d], options.len()).ln(),
                    _ => parzen(&good, d, x[d]).ln() - parzen(&bad, d, x[d]).ln(),
                })
                .sum();
            if score > best.0 {
                best = (score, x);
            }
        }
        best.1
    }
}

fn bandwidth(n: usize) -> f64 {
    (0.3 * (n as f64).powf(-0.2)).clamp(0.03, 0.25)
}

pub(crate) fn normal(rng: &mut impl Rng) -> f64 {
    // Box-Muller.
    let (u, v): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Mixture of Gaussians at the points plus a uniform prior with the weight of one point.
fn parzen(points: &[&[f64]], d: usize, x: f64) -> f64 {
    let bw = bandwidth(points.len());
    let norm = 1.0 / (bw * (2.0 * std::f64::consts::PI).sqrt());
    let sum: f64 = points.iter().map(|p| norm * (-0.5 * ((x - p[d]) / bw).powi(2)).exp()).sum();
    (sum + 1.0) / (points.len() as f64 + 1.0)
}

fn slot(u: f64, k: usize) -> usize {
    ((u * k as f64) as usize).min(k - 1)
}

fn choice_density(points: &[&[f64]], d: usize, x: f64, k: usize) -> f64 {
    let c = slot(x, k);
    let count = points.iter().filter(|p| slot(p[d], k) == c).count() as f64;
    (count + 1.0) / (points.len() as f64 + k as f64)
}

fn sample_choice(points: &[&[f64]], d: usize, k: usize, rng: &mut impl Rng) -> f64 {
    let weights: Vec<f64> = (0..k).map(|c| choice_density(points, d, (c as f64 + 0.5) / k as f64, k)).collect();
    let mut u = rng.gen::<f64>() * weights.iter().sum::<f64>();
    for (c, w) in weights.iter().enumerate() {
        if u < *w {
            return (c as f64 + 0.5) / k as f64;
        }
        u -= w;
    }
    (k as f64 - 0.5) / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn loss(x: &[f64]) -> f64 {
        (x[0] - 0.31).powi(2) + (x[1] - 0.73).powi(2) + if slot(x[2], 3) == 2 { 0.0 } else { 0.05 }
    }

    #[test]
    fn tpe_beats_random_search_on_a_smooth_problem() {
        let space = SearchSpace::default().float("a", 0.0, 1.0, false).float("b", 0.0, 1.0, false).choice("c", &["x", "y", "z"]);
        let (mut tpe_total, mut random_total) = (0.0, 0.0);
        for seed in 0..20 {
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut history: Vec<(Vec<f64>, f64)> = Vec::new();
            for _ in 0..40 {
                let x = Tpe::default().suggest(&space, &history, &mut rng);
                let l = loss(&x);
                history.push((x, l));
            }
            tpe_total += history.iter().map(|h| h.1).fold(f64::INFINITY, f64::min);
            let best_random = (0..40).map(|_| loss(&[rng.gen(), rng.gen(), rng.gen()])).fold(f64::INFINITY, f64::min);
            random_total += best_random;
        }
        eprintln!("tpe {tpe_total} vs random {random_total}");
        assert!(tpe_total < 0.7 * random_total, "tpe {tpe_total} vs random {random_total}");
    }
}
