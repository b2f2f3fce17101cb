use ndarray::Array2;
use rand::{Rng, SeedableRng};

use super::*;
use crate::forest::{ForestModel, ForestParams, ForestTarget};
use crate::gbdt::{Booster, GbdtParams, Objective};

/// `n` rows of 4 columns: three numbers (a tenth of column 1 missing) and a category code.
fn inputs(n: usize, seed: u64) -> Array2<f64> {
    let mut r = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    Array2::from_shape_fn((n, 4), |(_, j)| match j {
        1 if r.gen::<f64>() < 0.1 => f64::NAN,
        3 => f64::from(r.gen_range(0..6u8)),
        _ => r.gen::<f64>(),
    })
}

fn target(x: &Array2<f64>) -> Vec<f64> {
    x.rows().into_iter().map(|r| 3.0 * r[0] + if r[1].is_nan() { 1.0 } else { 2.0 * r[1] * r[2] } + if r[3] >= 3.0 { 1.5 } else { 0.0 }).collect()
}

/// The tree's output where only the features in `known` (a bit set) are known: the
/// features not known are averaged over by cover, as the path-dependent definition says.
fn expected<T: ShapTree>(e: &TreeExplainer<T>, node: i32, row: &[f64], known: usize, outputs: usize) -> Vec<f64> {
    let mut out = vec![0.0; outputs];
    if node < 0 {
        e.tree.add_leaf(!node as usize, 1.0, &mut out);
        return out;
    }
    let i = node as usize;
    let [l, r] = e.tree.children(i);
    if known >> e.tree.feature(i) & 1 == 1 {
        return expected(e, if e.tree.goes_left(i, row) { l } else { r }, row, known, outputs);
    }
    for c in [l, r] {
        let share = e.cover(c) / e.cover(node);
        out.iter_mut().zip(expected(e, c, row, known, outputs)).for_each(|(o, v)| *o += share * v);
    }
    out
}

/// Shapley values by their definition: every subset of the other features.
fn brute_force<T: ShapTree>(e: &TreeExplainer<T>, row: &[f64], features: usize, outputs: usize) -> Vec<f64> {
    let fact = |n: usize| (1..=n).product::<usize>() as f64;
    let root = if e.tree.n_nodes() == 0 { -1 } else { 0 };
    let mut phi = vec![0.0; features * outputs];
    for f in 0..features {
        for set in (0..1usize << features).filter(|s| s >> f & 1 == 0) {
            let size = set.count_ones() as usize;
            let w = fact(size) * fact(features - size - 1) / fact(features);
            let (with, without) = (expected(e, root, row, set | 1 << f, outputs), expected(e, root, row, set, outputs));
            for o in 0..outputs {
                phi[f * outputs + o] += w * (with[o] - without[o]);
            }
        }
    }
    phi
}

/// Checks every tree against the definition on `rows`, and that contributions plus the
/// base value give the tree's output.
fn agrees_with_definition<T: ShapTree>(trees: &[&T], rows: &Array2<f64>, outputs: usize) {
    let features = rows.ncols();
    let mut split_trees = 0;
    for tree in trees {
        let e = TreeExplainer::new(*tree);
        split_trees += usize::from(tree.n_nodes() >= 3);
        for row in rows.rows() {
            let row = row.to_vec();
            let mut phi = vec![0.0; features * outputs];
            e.add_contributions(&row, 1.0, Layout { stride: outputs, offset: 0, width: outputs }, &mut phi);
            let want = brute_force(&e, &row, features, outputs);
            for (got, want) in phi.iter().zip(&want) {
                assert!((got - want).abs() < 1e-9, "TreeSHAP {got} but the definition gives {want}");
            }
            let mut total = vec![0.0; outputs];
            e.add_expected(1.0, &mut total);
            for o in 0..outputs {
                total[o] += (0..features).map(|f| phi[f * outputs + o]).sum::<f64>();
            }
            let root = if tree.n_nodes() == 0 { -1 } else { 0 };
            let output = expected(&e, root, &row, (1 << features) - 1, outputs);
            for (t, o) in total.iter().zip(&output) {
                assert!((t - o).abs() < 1e-9, "contributions and base sum to {t}, the tree gives {o}");
            }
        }
    }
    assert!(split_trees > 0, "no tree with several splits was checked");
}

#[test]
fn booster_trees_match_the_shapley_definition_and_sum_to_their_output() {
    let x = inputs(600, 1);
    let y = target(&x);
    let p = GbdtParams { num_rounds: 8, num_leaves: 12, min_child_samples: 5, ..GbdtParams::default() };
    let b = Booster::fit(&p, Objective::SquaredError, x.view(), &y, &[false, false, false, true], None, &mut |_, _, _| true).unwrap();
    let trees: Vec<_> = b.trees.iter().flatten().collect();
    assert!(trees.iter().any(|t| t.nodes.iter().any(|n| matches!(n.split, crate::gbdt::Split::Categorical { .. }))), "no categorical split to check");
    agrees_with_definition(&trees, &inputs(25, 2), 1);
}

#[test]
fn forest_trees_match_the_shapley_definition_for_values_and_classes() {
    let x = inputs(400, 3);
    let y = target(&x);
    let p = ForestParams { n_trees: 4, max_depth: 6, ..ForestParams::random_forest() };
    let f = ForestModel::fit(&p, x.view(), ForestTarget::Values(&y), &[false, false, false, true], None).unwrap();
    agrees_with_definition(&f.trees.iter().collect::<Vec<_>>(), &inputs(15, 4), 1);
    // Three classes: sparse leaves, one output per class.
    let codes: Vec<usize> = y.iter().map(|v| ((v / 2.0) as usize).min(2)).collect();
    let f = ForestModel::fit(&p, x.view(), ForestTarget::Classes { codes: &codes, k: 3 }, &[false, false, false, true], None).unwrap();
    agrees_with_definition(&f.trees.iter().collect::<Vec<_>>(), &inputs(15, 5), 3);
}

#[test]
fn model_contributions_sum_to_the_raw_predictions() {
    let x = inputs(500, 6);
    let y = target(&x);
    let codes: Vec<usize> = y.iter().map(|v| ((v / 2.0) as usize).min(2)).collect();
    let cats = [false, false, false, true];
    let test = inputs(40, 7);
    let sums = |c: &Array3<f64>| c.sum_axis(Axis(1));
    let close = |a: &ndarray::Array2<f64>, b: &ndarray::Array2<f64>| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-9);
    let p = GbdtParams { num_rounds: 30, min_child_samples: 5, ..GbdtParams::default() };
    let objective = Objective::Softmax { k: 3 };
    let codes_f: Vec<f64> = codes.iter().map(|&c| c as f64).collect();
    let b = Booster::fit(&p, objective, x.view(), &codes_f, &cats, None, &mut |_, _, _| true).unwrap();
    let c = booster(&b, test.view());
    assert_eq!(c.dim(), (40, 5, 3));
    assert!(close(&sums(&c), &b.predict_raw(test.view())), "booster contributions do not sum to its raw scores");
    let p = ForestParams { n_trees: 20, ..ForestParams::random_forest() };
    let f = ForestModel::fit(&p, x.view(), ForestTarget::Classes { codes: &codes, k: 3 }, &cats, None).unwrap();
    let c = forest(&f, test.view());
    assert!(close(&sums(&c), &f.predict(test.view())), "forest contributions do not sum to its probabilities");
    // The base value is the same for every row.
    assert!(c.axis_iter(Axis(0)).all(|r| r[[4, 0]] == c[[0, 4, 0]]));
}

#[test]
fn a_single_leaf_explains_everything_by_its_base_value() {
    let tree = Tree { nodes: Vec::new(), leaves: vec![2.5], covers: vec![7] };
    let e = TreeExplainer::new(&tree);
    let mut phi = vec![0.0; 3];
    e.add_contributions(&[1.0, 2.0, 3.0], 1.0, Layout { stride: 1, offset: 0, width: 1 }, &mut phi);
    let mut base = vec![0.0];
    e.add_expected(1.0, &mut base);
    assert_eq!((phi, base), (vec![0.0; 3], vec![2.5]));
}
