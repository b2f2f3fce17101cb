use ndarray::Array2;
use rand::{Rng, SeedableRng};

use super::*;
use crate::gbdt::walk::Walk;

fn rng(seed: u64) -> rand_xoshiro::Xoshiro256PlusPlus {
    rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `n` rows of 4 uniform columns; the last two are noise.
fn inputs(n: usize, seed: u64) -> Array2<f64> {
    let mut r = rng(seed);
    Array2::from_shape_fn((n, 4), |_| r.gen::<f64>())
}

fn accuracy(p: &Array2<f64>, codes: &[usize]) -> f64 {
    let hits = p.rows().into_iter().zip(codes).filter(|(row, &c)| crate::metrics::argmax(row.iter().copied()) == c).count();
    hits as f64 / codes.len() as f64
}

fn r2(p: &Array2<f64>, y: &[f64]) -> f64 {
    let mean = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p.column(0)).map(|(t, v)| (t - v).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|t| (t - mean).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

fn both() -> [ForestParams; 2] {
    [ForestParams { n_trees: 30, ..ForestParams::random_forest() }, ForestParams { n_trees: 30, ..ForestParams::extra_trees() }]
}

fn classes(x: &Array2<f64>, k: usize) -> Vec<usize> {
    // Classes by the sum of the first two columns (diagonal boundaries: axis splits must
    // combine), with 3 % of labels flipped.
    x.rows().into_iter().enumerate().map(|(i, r)| if i % 33 == 0 { (i / 33) % k } else { (((r[0] + r[1]) / 2.0 * k as f64) as usize).min(k - 1) }).collect()
}

#[test]
fn classifies_binary_and_multiclass_data_it_has_not_seen() {
    let (x, test) = (inputs(800, 1), inputs(400, 2));
    for k in [2, 3] {
        let (y, y_test) = (classes(&x, k), classes(&test, k));
        for params in both() {
            let forest = ForestModel::fit(&params, x.view(), ForestTarget::Classes { codes: &y, k }, &[], None).unwrap();
            let p = forest.predict(test.view());
            assert_eq!(p.dim(), (400, k));
            assert!(p.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-9 && r.iter().all(|v| (0.0..=1.0).contains(v))));
            let acc = accuracy(&p, &y_test);
            assert!(acc > 0.88, "{:?} k={k}: {acc}", params.splitter);
            forest.check().unwrap();
        }
    }
}

#[test]
fn regresses_data_it_has_not_seen() {
    let (x, test) = (inputs(800, 3), inputs(400, 4));
    let f = |x: &Array2<f64>| -> Vec<f64> { x.rows().into_iter().map(|r| (r[0] * 6.0).sin() * 3.0 + 4.0 * r[1] * r[1]).collect() };
    let (y, y_test) = (f(&x), f(&test));
    for params in both() {
        let forest = ForestModel::fit(&params, x.view(), ForestTarget::Values(&y), &[], None).unwrap();
        let p = forest.predict(test.view());
        assert_eq!(p.dim(), (400, 1));
        let score = r2(&p, &y_test);
        assert!(score > 0.9, "{:?}: {score}", params.splitter);
    }
}

#[test]
fn a_seed_gives_one_forest_whatever_the_threads_and_it_round_trips() {
    let x = inputs(300, 5);
    let y = classes(&x, 3);
    for params in both() {
        let fit = |threads: usize, seed: u64| ForestModel::fit(&ForestParams { threads, seed, ..params.clone() }, x.view(), ForestTarget::Classes { codes: &y, k: 3 }, &[], None).unwrap();
        let one = fit(1, 7);
        assert_eq!(one, fit(2, 7));
        assert_ne!(one, fit(1, 8));
        let bytes = postcard::to_stdvec(&one).unwrap();
        let back: ForestModel = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, one);
        assert_eq!(back.predict(x.view()), one.predict(x.view()));
    }
}

#[test]
fn missing_values_are_learned_as_a_direction() {
    // Missing x0 means class 1, whatever the rest says; otherwise x0 > 0.5 is class 1.
    let mut x = inputs(600, 6);
    let mut test = inputs(300, 7);
    let label = |x: &mut Array2<f64>| -> Vec<usize> {
        (0..x.nrows())
            .map(|i| {
                if i % 4 == 0 {
                    x[[i, 0]] = f64::NAN;
                    1
                } else {
                    usize::from(x[[i, 0]] > 0.5)
                }
            })
            .collect()
    };
    let (y, y_test) = (label(&mut x), label(&mut test));
    for params in both() {
        let forest = ForestModel::fit(&params, x.view(), ForestTarget::Classes { codes: &y, k: 2 }, &[], None).unwrap();
        let p = forest.predict(test.view());
        assert!(accuracy(&p, &y_test) > 0.95, "{:?}: {}", params.splitter, accuracy(&p, &y_test));
        // A row missing a column no training row missed goes to the heavier side.
        let mut row = test.row(1).to_owned().insert_axis(ndarray::Axis(0));
        row[[0, 2]] = f64::NAN;
        assert!(forest.predict(row.view()).iter().all(|v| v.is_finite()));
    }
}

#[test]
fn categorical_columns_split_by_category_sets() {
    // Column 0 holds 12 category codes; classes and values depend on the code alone, not
    // on its order; missing codes behave like category 3.
    let mut r = rng(8);
    let good = [1usize, 4, 7, 9, 11];
    let mut make = |n: usize| {
        let mut x = Array2::from_shape_fn((n, 3), |_| r.gen::<f64>());
        let mut codes = Vec::with_capacity(n);
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let c = (x[[i, 1]] * 12.0) as usize % 12;
            x[[i, 0]] = if i % 10 == 0 { f64::NAN } else { c as f64 };
            let c = if i % 10 == 0 { 3 } else { c };
            codes.push(usize::from(good.contains(&c) || c == 3));
            values.push(c as f64 * if c % 2 == 0 { 1.0 } else { -1.0 });
        }
        (x, codes, values)
    };
    let (mut x, codes, values) = make(600);
    let (mut test, test_codes, test_values) = make(300);
    // Column 1 (which the codes come from) becomes noise, so only the categories tell.
    let mut noise = rng(9);
    x.column_mut(1).mapv_inplace(|_| noise.gen());
    test.column_mut(1).mapv_inplace(|_| noise.gen());
    let categorical = [true, false, false];
    for params in both() {
        let forest = ForestModel::fit(&params, x.view(), ForestTarget::Classes { codes: &codes, k: 2 }, &categorical, None).unwrap();
        assert!(forest.trees.iter().any(|t| !t.sets.is_empty()));
        let acc = accuracy(&forest.predict(test.view()), &test_codes);
        assert!(acc > 0.97, "{:?}: {acc}", params.splitter);
        // Regression as scikit-learn's default: every feature a candidate.
        let params = ForestParams { max_features: 3, ..params };
        let forest = ForestModel::fit(&params, x.view(), ForestTarget::Values(&values), &categorical, None).unwrap();
        let score = r2(&forest.predict(test.view()), &test_values);
        assert!(score > 0.97, "{:?}: {score}", params.splitter);
        let bytes = postcard::to_stdvec(&forest).unwrap();
        assert_eq!(postcard::from_bytes::<ForestModel>(&bytes).unwrap().predict(test.view()), forest.predict(test.view()));
    }
}

#[test]
fn leaves_respect_min_samples_leaf_and_depth() {
    let x = inputs(400, 10);
    let y = classes(&x, 2);
    let params = ForestParams { n_trees: 5, min_samples_leaf: 20, bootstrap: false, max_features: 4, ..ForestParams::default() };
    let forest = ForestModel::fit(&params, x.view(), ForestTarget::Classes { codes: &y, k: 2 }, &[], None).unwrap();
    let tree = &forest.trees[0];
    let mut counts = vec![0usize; tree.n_leaves()];
    x.rows().into_iter().for_each(|r| counts[tree.leaf(r.as_slice().unwrap())] += 1);
    assert!(counts.iter().all(|&c| c >= 20), "{counts:?}");
    let shallow = ForestModel::fit(&ForestParams { max_depth: 2, ..params }, x.view(), ForestTarget::Classes { codes: &y, k: 2 }, &[], None).unwrap();
    assert!(shallow.trees.iter().all(|t| t.n_leaves() <= 4));
}

#[test]
fn a_passed_deadline_keeps_one_tree() {
    let x = inputs(200, 11);
    let y = classes(&x, 2);
    let past = Instant::now() - std::time::Duration::from_millis(1);
    let forest = ForestModel::fit(&ForestParams::default(), x.view(), ForestTarget::Classes { codes: &y, k: 2 }, &[], Some(past)).unwrap();
    assert_eq!(forest.n_trees(), 1);
}

#[test]
fn bad_inputs_are_errors() {
    let x = inputs(20, 12);
    let y = vec![0usize; 20];
    let fit = |x: ArrayView2<f64>, t: ForestTarget| ForestModel::fit(&ForestParams::default(), x, t, &[], None);
    assert!(fit(x.view(), ForestTarget::Classes { codes: &y[..10], k: 2 }).is_err());
    assert!(fit(x.view(), ForestTarget::Classes { codes: &vec![2; 20], k: 2 }).is_err_and(|e| e.contains("class 2")));
    assert!(fit(x.view(), ForestTarget::Values(&vec![f64::NAN; 20])).is_err());
    let mut inf = x.clone();
    inf[[3, 1]] = f64::INFINITY;
    assert!(fit(inf.view(), ForestTarget::Classes { codes: &y, k: 2 }).is_err());
    // One class only: every tree is a leaf.
    let forest = fit(x.view(), ForestTarget::Classes { codes: &y, k: 2 }).unwrap();
    assert!(forest.trees.iter().all(|t| t.nodes.is_empty()));
    assert_eq!(forest.predict(x.view()).column(0).sum(), 20.0);
}

#[test]
fn a_tampered_forest_fails_its_check() {
    let x = inputs(200, 13);
    let y = classes(&x, 3);
    let forest = ForestModel::fit(&ForestParams { n_trees: 3, ..ForestParams::default() }, x.view(), ForestTarget::Classes { codes: &y, k: 3 }, &[], None).unwrap();
    forest.check().unwrap();
    let tamper = |f: &dyn Fn(&mut ForestModel)| {
        let mut m = forest.clone();
        f(&mut m);
        m.check().unwrap_err()
    };
    assert!(tamper(&|m| m.trees[1].nodes[0].children[0] = 1_000_000).contains("tree 1: node 0: left child is node 1000000"));
    assert!(tamper(&|m| m.trees[0].nodes[2].children[1] = !1_000_000).contains("right child is leaf 1000000"));
    assert!(tamper(&|m| m.trees[0].nodes[3].children[0] = 1).contains("cycle"));
    assert!(tamper(&|m| m.trees[0].nodes[0].feature = 4).contains("column 4 of the forest's 4"));
    let retest = |m: &mut ForestModel, test: Test| {
        let node = &m.trees[0].nodes[0];
        m.trees[0].nodes[0] = Node::new(node.feature, test, node.default_left(), node.children);
    };
    assert!(tamper(&|m| retest(m, Test::Numeric(f64::NAN))).contains("NaN"));
    assert!(tamper(&|m| retest(m, Test::Categorical(0))).contains("category set 0 of 0"));
    fn sparse(m: &mut ForestModel) -> (&mut Vec<u32>, &mut Vec<u32>, &mut Vec<f64>) {
        match &mut m.trees[2].leaves {
            Leaves::Sparse { offsets, classes, freqs } => (offsets, classes, freqs),
            Leaves::Dense { .. } => unreachable!("multiclass leaves are sparse"),
        }
    }
    assert!(tamper(&|m| sparse(m).0.push(0)).contains("leaf offsets"));
    assert!(tamper(&|m| sparse(m).1[0] = 3).contains("class 3 of 3"));
    assert!(tamper(&|m| sparse(m).2[0] = f64::NAN).contains("non-finite"));
    assert!(tamper(&|m| sparse(m).0.swap(1, 2)).contains("out of order"));
    assert!(tamper(&|m| m.trees.clear()).contains("without trees"));
    // Regression leaves are dense.
    let values: Vec<f64> = x.column(0).to_vec();
    let mut forest = ForestModel::fit(&ForestParams { n_trees: 2, ..ForestParams::default() }, x.view(), ForestTarget::Values(&values), &[], None).unwrap();
    forest.check().unwrap();
    let Leaves::Dense { values, .. } = &mut forest.trees[1].leaves else { unreachable!("regression leaves are dense") };
    values.push(0.5);
    assert!(forest.check().is_err_and(|e| e.starts_with("tree 1: ") && e.contains("leaf values of width 1")));
}

#[test]
fn nodes_are_compact() {
    assert_eq!(std::mem::size_of::<Node>(), 24);
}
