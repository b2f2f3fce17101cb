//! Local search around a learner's best point, as FLAML's CFO (Wu et al., 2021) does:
//! small random moves in the unit cube from the best configuration so far, shrinking while
//! they fail to improve on it. Random and TPE draws in an eight-dimensional space rarely
//! land near a good booster in the few trials a short budget allows; a move from its
//! default often does.
use rand::Rng;

use super::tpe::normal;

/// Standard deviation of a move along each coordinate while moves keep improving.
const STEP: f64 = 0.1;
/// The smallest step, however many moves have failed.
const MIN_STEP: f64 = 0.02;
/// Failed moves after which the step halves.
const HALVING: f64 = 8.0;

/// A point near the best finite point of `history`, or `None` when none is finite.
pub fn around(history: &[(Vec<f64>, f64)], rng: &mut impl Rng) -> Option<Vec<f64>> {
    let (best_at, (best, _)) = history.iter().enumerate().filter(|(_, h)| h.1.is_finite()).min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))?;
    let failed = (history.len() - 1 - best_at) as f64;
    let step = (STEP * 0.5f64.powf(failed / HALVING)).max(MIN_STEP);
    Some(best.iter().map(|&u| reflect(u + step * normal(rng))).collect())
}

/// Folds a coordinate back into `[0, 1]` (clamping would pile moves on the bounds).
fn reflect(v: f64) -> f64 {
    let v = v.rem_euclid(2.0);
    if v > 1.0 {
        2.0 - v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn moves_stay_in_the_cube_near_the_best_point_and_shrink_as_they_fail() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        assert_eq!(around(&[(vec![0.5], f64::INFINITY)], &mut rng), None, "no finite point, no move");
        let fresh = vec![(vec![0.9, 0.05], 2.0), (vec![0.2, 0.7], 1.0)];
        let mut stale = fresh.clone();
        stale.extend((0..32).map(|_| (vec![0.5, 0.5], 3.0)));
        let spread = |h: &[(Vec<f64>, f64)], rng: &mut rand_xoshiro::Xoshiro256PlusPlus| {
            let moves: Vec<Vec<f64>> = (0..400).map(|_| around(h, rng).unwrap()).collect();
            assert!(moves.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
            moves.iter().map(|m| ((m[0] - 0.2).powi(2) + (m[1] - 0.7).powi(2)).sqrt()).sum::<f64>() / moves.len() as f64
        };
        let (near, nearer) = (spread(&fresh, &mut rng), spread(&stale, &mut rng));
        assert!(near > 0.05 && near < 0.2, "moves from the best point, not from the others: {near}");
        assert!(nearer < 0.5 * near, "32 failed moves shrink the step: {nearer} vs {near}");
        for (v, folded) in [(-0.1, 0.1), (1.25, 0.75), (0.4, 0.4)] {
            assert!((reflect(v) - folded).abs() < 1e-12, "{v} folds to {folded}");
        }
    }
}
