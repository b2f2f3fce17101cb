use ndarray::{array, Array2};

use super::*;

fn params() -> GbdtParams {
    GbdtParams { min_child_samples: 1, ..GbdtParams::default() }
}

fn no_callback() -> impl FnMut(usize, &Array2<f64>, &Array2<f64>) -> bool {
    |_, _, _| true
}

#[test]
fn first_split_matches_the_hand_computed_answer() {
    // Best squared-error split of [1,1,1,5,5,5] over x = 1..6 is between 3 and 4.
    let x = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
    let y = [1.0, 1.0, 1.0, 5.0, 5.0, 5.0];
    let p = GbdtParams { num_rounds: 1, num_leaves: 2, learning_rate: 1.0, ..params() };
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false], None, &mut no_callback()).unwrap();
    let tree = &b.trees[0][0];
    assert_eq!(tree.nodes.len(), 1);
    assert!(matches!(tree.nodes[0].split, Split::Numeric { threshold, .. } if threshold == 3.5));
    assert_eq!(b.predict(x.view()).column(0).to_vec(), vec![1.0, 1.0, 1.0, 5.0, 5.0, 5.0]);
    // Gain: 3*(-2)^2 + 3*2^2 - 0 = 24.
    assert_eq!(b.importance_gain[0], 24.0);
    assert_eq!(b.importance_split[0], 1);
}

fn friedman(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |_| rng.gen::<f64>());
    let y = x
        .rows()
        .into_iter()
        .map(|r| 10.0 * (std::f64::consts::PI * r[0] * r[1]).sin() + 20.0 * (r[2] - 0.5).powi(2) + 10.0 * r[3] + 5.0 * r[4] + rng.gen::<f64>() - 0.5)
        .collect();
    (x, y)
}

#[test]
fn training_loss_decreases_every_round_and_generalises() {
    let (x, y) = friedman(2000, 1);
    let (tx, ty) = friedman(1000, 2);
    let p = GbdtParams { num_rounds: 60, track_train_loss: true, ..GbdtParams::default() };
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false; 5], Some((tx.view(), &ty)), &mut no_callback()).unwrap();
    assert!(b.train_history.windows(2).all(|w| w[1] <= w[0] + 1e-12), "{:?}", b.train_history);
    let pred = b.predict(tx.view());
    let mean = ty.iter().sum::<f64>() / ty.len() as f64;
    let ss_res: f64 = ty.iter().zip(pred.column(0)).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = ty.iter().map(|a| (a - mean).powi(2)).sum();
    assert!(1.0 - ss_res / ss_tot > 0.85, "R2 {}", 1.0 - ss_res / ss_tot);
}

#[test]
fn missing_values_learn_a_direction() {
    // Missing x means a high target; present x carries a weak signal.
    let n = 400;
    let x = Array2::from_shape_fn((n, 1), |(i, _)| if i % 4 == 0 { f64::NAN } else { (i % 7) as f64 });
    let y: Vec<f64> = (0..n).map(|i| if i % 4 == 0 { 10.0 } else { (i % 7) as f64 * 0.1 }).collect();
    let p = GbdtParams { num_rounds: 50, ..params() };
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false], None, &mut no_callback()).unwrap();
    let pred = b.predict(array![[f64::NAN], [3.0]].view());
    assert!((pred[[0, 0]] - 10.0).abs() < 0.1, "{pred}");
    assert!((pred[[1, 0]] - 0.3).abs() < 0.1, "{pred}");
}

#[test]
fn categorical_splits_group_categories() {
    // Categories {1, 3, 5} are positive: no single threshold separates them.
    let n = 600;
    let x = Array2::from_shape_fn((n, 1), |(i, _)| (i % 6) as f64);
    let y: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i % 2 == 1))).collect();
    let p = GbdtParams { num_rounds: 1, num_leaves: 2, learning_rate: 1.0, ..params() };
    let b = Booster::fit(&p, Objective::Logistic, x.view(), &y, &[true], None, &mut no_callback()).unwrap();
    assert!(matches!(b.trees[0][0].nodes[0].split, Split::Categorical { .. }));
    let pred = b.predict(x.view());
    let correct = (0..n).filter(|&i| (pred[[i, 0]] > 0.5) == (y[i] == 1.0)).count();
    assert_eq!(correct, n);
    // A code never seen in training goes to the last category bin, not a panic.
    assert!(b.predict(array![[42.0]].view())[[0, 0]].is_finite());
}

#[test]
fn softmax_probabilities_sum_to_one() {
    let n = 300;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * (j + 3)) % 11) as f64);
    let y: Vec<f64> = (0..n).map(|i| ((i * 3) % 11 / 4) as f64).collect();
    let p = GbdtParams { num_rounds: 20, ..params() };
    let b = Booster::fit(&p, Objective::Softmax { k: 3 }, x.view(), &y, &[false, false], None, &mut no_callback()).unwrap();
    let proba = b.predict(x.view());
    assert_eq!(proba.ncols(), 3);
    assert!(proba.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9));
    let acc = (0..n).filter(|&i| proba.row(i).iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 == y[i] as usize).count();
    assert!(acc as f64 / n as f64 > 0.95);
}

#[test]
fn early_stopping_keeps_the_best_round_and_reports_each_round() {
    let (x, y) = friedman(300, 3);
    let (vx, vy) = friedman(300, 4);
    let p = GbdtParams { num_rounds: 500, learning_rate: 0.3, early_stopping_rounds: 10, ..GbdtParams::default() };
    let mut seen = 0;
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false; 5], Some((vx.view(), &vy)), &mut |round, scores, train| {
        seen = round;
        // Validation and training raw scores, one row per row of each.
        scores.nrows() == 300 && train.nrows() == 300
    })
    .unwrap();
    assert!(seen < 500, "stopped early at {seen}");
    let best = b.valid_history.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 + 1;
    assert_eq!(b.best_rounds, best);
    assert_eq!(b.trees.len(), best);
    assert_eq!(b.valid_history.len(), seen);
}

#[test]
fn deterministic_for_a_seed_and_serialisable() {
    let (x, y) = friedman(500, 5);
    let p = GbdtParams { num_rounds: 20, bagging_fraction: 0.7, feature_fraction: 0.6, seed: 9, threads: 2, ..GbdtParams::default() };
    let a = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false; 5], None, &mut no_callback()).unwrap();
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false; 5], None, &mut no_callback()).unwrap();
    assert_eq!(a, b);
    let bytes = postcard::to_stdvec(&a).unwrap();
    let c: Booster = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(a.predict(x.view()), c.predict(x.view()));
}

#[test]
fn rejects_bad_inputs() {
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(Booster::fit(&params(), Objective::SquaredError, empty.view(), &[], &[false; 2], None, &mut no_callback()).is_err());
    let x = array![[1.0], [2.0]];
    assert!(Booster::fit(&params(), Objective::SquaredError, x.view(), &[1.0], &[false], None, &mut no_callback()).is_err());
    let bad = GbdtParams { learning_rate: 0.0, ..params() };
    assert!(Booster::fit(&bad, Objective::SquaredError, x.view(), &[1.0, 2.0], &[false], None, &mut no_callback()).unwrap_err().contains("learning_rate"));
}

#[test]
fn weights_act_like_repeated_rows() {
    let n = 200;
    let x = Array2::from_shape_fn((n, 2), |(i, j)| ((i * (j + 2)) % 13) as f64);
    let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 5) as f64 + x[[i, 0]]).collect();
    let w: Vec<f64> = (0..n).map(|i| if i % 3 == 0 { 2.0 } else { 1.0 }).collect();
    let p = GbdtParams { num_rounds: 10, ..params() };
    let weighted = Booster::fit_weighted(&p, Objective::SquaredError, x.view(), &y, Some(&w), &[false; 2], None, &mut no_callback()).unwrap();
    // The same data with every weight-2 row written twice.
    let rows: Vec<usize> = (0..n).flat_map(|i| std::iter::repeat_n(i, w[i] as usize)).collect();
    let xr = x.select(ndarray::Axis(0), &rows);
    let yr: Vec<f64> = rows.iter().map(|&i| y[i]).collect();
    let repeated = Booster::fit(&p, Objective::SquaredError, xr.view(), &yr, &[false; 2], None, &mut no_callback()).unwrap();
    let (a, b) = (weighted.predict(x.view()), repeated.predict(x.view()));
    assert!(a.iter().zip(b.iter()).all(|(u, v)| (u - v).abs() < 1e-9), "{a} vs {b}");
    let bad = vec![-1.0; n];
    assert!(Booster::fit_weighted(&p, Objective::SquaredError, x.view(), &y, Some(&bad), &[false; 2], None, &mut no_callback()).is_err());
}

fn small_booster() -> Booster {
    let (x, y) = friedman(300, 3);
    let p = GbdtParams { num_rounds: 3, num_leaves: 6, ..params() };
    Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false; 5], None, &mut no_callback()).unwrap()
}

#[test]
fn a_fitted_booster_passes_its_check() {
    let b = small_booster();
    assert!(b.trees.iter().flatten().all(|t| t.nodes.len() >= 2));
    assert_eq!(b.check(), Ok(()));
}

#[test]
fn a_tree_that_could_loop_or_index_past_its_arrays_fails_its_check() {
    let broken = |edit: &dyn Fn(&mut Booster)| {
        let mut b = small_booster();
        edit(&mut b);
        b.check().unwrap_err()
    };
    let e = broken(&|b| b.trees[0][0].nodes[0].right = 0);
    assert!(e.contains("tree 0 of round 0: node 0: right child is node 0"), "{e}");
    let e = broken(&|b| b.trees[1][0].nodes[1].left = 0);
    assert!(e.contains("node 1: left child is node 0, not a later node"), "{e}");
    let e = broken(&|b| b.trees[0][0].nodes[0].left = 99);
    assert!(e.contains("left child is node 99"), "{e}");
    let e = broken(&|b| b.trees[0][0].nodes[0].left = -99);
    assert!(e.contains("left child is leaf 98"), "{e}");
    let e = broken(&|b| b.trees[0][0].nodes[0].feature = 5);
    assert!(e.contains("splits on feature 5 of 5"), "{e}");
    let e = broken(&|b| b.trees[0][0].nodes[0].split = Split::Categorical { left: [0; 4], n: 0 });
    assert!(e.contains("categorical split over 0 categories"), "{e}");
    let e = broken(&|b| b.trees[0][0].leaves.push(1.0));
    assert!(e.contains("leaves (expected"), "{e}");
    let e = broken(&|b| {
        let extra = b.trees[2][0].clone();
        b.trees[2].push(extra);
    });
    assert!(e.contains("round 2 has 2 trees for 1 outputs"), "{e}");
    let e = broken(&|b| b.init.clear());
    assert!(e.contains("0 initial scores for 1 outputs"), "{e}");
    let e = broken(&|b| b.trees[0][0].leaves[0] = f64::NAN);
    assert!(e.contains("non-finite value"), "{e}");
}

const NOISE: f64 = 6.0;

/// Large, very imbalanced multiclass data: seven classes from 55% down to 0.3% of the rows,
/// each a noisy blob in four dimensions, rare classes overlapping common ones.
fn imbalanced(n: usize, seed: u64) -> (Array2<f64>, Vec<f64>) {
    let shares = [0.55, 0.3, 0.1, 0.03, 0.01, 0.007, 0.003];
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut x = Array2::zeros((n, 4));
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let u = rng.gen::<f64>();
        let mut acc = 0.0;
        let c = shares.iter().position(|s| {
            acc += s;
            u < acc
        });
        let c = c.unwrap_or(shares.len() - 1);
        for j in 0..4 {
            let centre = ((c * (j + 3)) % 5) as f64 * 0.8;
            x[[i, j]] = centre + (rng.gen::<f64>() - 0.5) * NOISE;
        }
        y.push(c as f64);
    }
    (x, y)
}

/// Held-out multiclass log-loss and accuracy of `p` on (x, y), and the largest raw score.
fn softmax_scores(p: &GbdtParams, n: usize) -> (f64, f64, f64) {
    let (x, y) = imbalanced(n, 3);
    let (tx, ty) = imbalanced(n / 2, 4);
    let k = 7;
    let b = Booster::fit(p, Objective::Softmax { k }, x.view(), &y, &[false; 4], None, &mut no_callback()).unwrap();
    let raw = b.predict_raw(tx.view());
    let proba = b.predict(tx.view());
    let loss = Objective::Softmax { k }.loss(&raw, &ty);
    let right = proba.rows().into_iter().zip(&ty).filter(|(r, &t)| crate::metrics::argmax(r.iter().copied()) == t as usize).count();
    (loss, right as f64 / ty.len() as f64, raw.iter().fold(0.0f64, |m, v| m.max(v.abs())))
}

#[test]
fn softmax_on_large_very_imbalanced_data_does_not_collapse() {
    // Rare classes' leaves have hessian sums near zero: without a bound on leaf outputs
    // their Newton steps explode. The learner's bound keeps the booster sane.
    let base = GbdtParams { num_rounds: 200, ..GbdtParams::default() };
    let bounded = GbdtParams { max_delta_step: 5.0, ..base.clone() };
    let (loss, accuracy, largest) = softmax_scores(&bounded, 12_000);
    let (free_loss, free_accuracy, free_largest) = softmax_scores(&base, 12_000);
    eprintln!("bounded: log-loss {loss:.4}, accuracy {accuracy:.4}, largest raw {largest:.1}; unbounded: {free_loss:.4}, {free_accuracy:.4}, {free_largest:.1}");
    // The class prior alone scores about 1.11 (entropy of the shares); the majority class 0.55.
    assert!(loss < 0.9 && accuracy > 0.6, "bounded: {loss} {accuracy}");
    assert!(largest < 100.0, "raw scores stay bounded: {largest}");
    // The bound costs nothing where nothing explodes.
    assert!(loss <= free_loss + 0.01 && accuracy >= free_accuracy - 0.01, "bounded {loss} {accuracy}, unbounded {free_loss} {free_accuracy}");
}

/// The output of one row, walked node by node with the nodes' own tests.
fn walk_alone(tree: &Tree, row: &[f64]) -> f64 {
    let mut i = if tree.nodes.is_empty() { -1 } else { 0 };
    while i >= 0 {
        let node = &tree.nodes[i as usize];
        i = if tree.goes_left_raw(i as usize, row) { node.left } else { node.right };
    }
    tree.leaves[!i as usize]
}

#[test]
fn block_prediction_matches_walking_each_row_alone() {
    // Numeric, missing and categorical tests (negative and unseen codes too), softmax, and
    // more rows than one block so blocks, lanes and a partial last lane are all used.
    let n = 3000;
    let x = Array2::from_shape_fn((n, 3), |(i, j)| match j {
        0 if i % 5 == 0 => f64::NAN,
        0 => ((i * 7919) % 1000) as f64 / 100.0,
        1 => ((i * 31) % 9) as f64 - 1.0,
        _ => ((i * 13) % 17) as f64,
    });
    let y: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000 / 250 + (i * 31) % 9 % 2) as f64 % 3.0).collect();
    let p = GbdtParams { num_rounds: 15, ..params() };
    let b = Booster::fit(&p, Objective::Softmax { k: 3 }, x.view(), &y, &[false, true, false], None, &mut no_callback()).unwrap();
    assert!(b.trees.iter().flatten().flat_map(|t| &t.nodes).any(|n| matches!(n.split, Split::Categorical { .. })));
    let raw = b.predict_raw(x.slice(ndarray::s![..n - 3, ..]));
    for (i, row) in x.rows().into_iter().take(n - 3).enumerate() {
        for j in 0..3 {
            let alone = b.init[j] + b.trees.iter().map(|round| walk_alone(&round[j], row.as_slice().unwrap())).sum::<f64>();
            assert!((raw[[i, j]] - alone).abs() < 1e-12, "row {i} output {j}: {} against {alone}", raw[[i, j]]);
        }
    }
}
