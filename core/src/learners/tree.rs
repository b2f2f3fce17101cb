//! Decision trees and random forests of linfa-trees, with leaf class frequencies for
//! probabilities. linfa has no regression tree, so both are classification-only.
use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{class_codes, Check, Control, DataShape, FitContext, FittedModel, Learner};
use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::space::{get_f64, get_str, get_usize, Hyperparams, ParamValue, SearchSpace};
use crate::task::{Target, Task};

/// Deepest tree the spaces allow; leaf keys are paths packed in a u64.
const MAX_DEPTH: i64 = 30;

/// A fitted classification tree with class frequencies at each leaf.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TreeModel {
    tree: DecisionTree<f64, usize>,
    /// Leaf path key to class probabilities.
    leaves: BTreeMap<u64, Vec<f64>>,
    pub(super) n_classes: usize,
    pub(super) n_features: usize,
}

fn leaf_key(root: &TreeNode<f64, usize>, x: ArrayView1<f64>) -> u64 {
    let mut node = root;
    let mut key = 1u64;
    while !node.is_leaf() {
        let (feature, value, _) = node.split();
        let children = node.children();
        let go_left = x[feature] < value;
        let next = if go_left { children[0] } else { children[1] };
        match next {
            Some(child) => {
                key = key * 2 + u64::from(!go_left);
                node = child;
            }
            None => break,
        }
    }
    key
}

impl TreeModel {
    fn fit(params: &linfa_trees::DecisionTreeParams<f64, usize>, x: ArrayView2<f64>, codes: &Array1<usize>, k: usize) -> Result<TreeModel> {
        let tree = params.clone().fit(&DatasetBase::new(x, codes.clone())).map_err(|e| Error::learner("decision_tree", e))?;
        let mut counts: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for (row, &c) in x.rows().into_iter().zip(codes) {
            counts.entry(leaf_key(tree.root_node(), row)).or_insert_with(|| vec![0.0; k])[c] += 1.0;
        }
        let leaves = counts
            .into_iter()
            .map(|(key, c)| {
                let total: f64 = c.iter().sum::<f64>() + 0.1 * k as f64;
                (key, c.iter().map(|v| (v + 0.1) / total).collect())
            })
            .collect();
        Ok(TreeModel { tree, leaves, n_classes: k, n_features: x.ncols() })
    }

    fn add_proba(&self, x: ArrayView2<f64>, out: &mut Array2<f64>) {
        for (i, row) in x.rows().into_iter().enumerate() {
            let key = leaf_key(self.tree.root_node(), row);
            match self.leaves.get(&key) {
                Some(p) => p.iter().enumerate().for_each(|(c, v)| out[[i, c]] += v),
                // A leaf no training row reached (cannot happen for in-sample fits): use the tree's label.
                None => {
                    let label = self.tree.predict(&row.insert_axis(Axis(0)))[0];
                    out[[i, label.min(self.n_classes - 1)]] += 1.0;
                }
            }
        }
    }

    /// Class probabilities.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        self.add_proba(x, &mut out);
        out
    }

    pub(super) fn check(&self) -> Check {
        check_nodes(self.tree.root_node(), self.n_features)?;
        for (key, p) in &self.leaves {
            if p.len() != self.n_classes {
                return Err(format!("leaf {key} holds {} class probabilities for {} classes", p.len(), self.n_classes));
            }
            if p.iter().any(|v| !v.is_finite()) {
                return Err(format!("leaf {key} holds a non-finite probability"));
            }
        }
        Ok(())
    }
}

/// Every split reads a feature in range, has both children, and is shallow enough for
/// [`leaf_key`]'s path to fit its u64.
fn check_nodes(root: &TreeNode<f64, usize>, n_features: usize) -> Check {
    let mut stack = vec![(root, 0i64)];
    while let Some((node, depth)) = stack.pop() {
        if node.is_leaf() {
            continue;
        }
        let (feature, value, _) = node.split();
        if feature >= n_features || value.is_nan() {
            return Err(format!("a split on feature {feature} of {n_features} at {value}"));
        }
        if depth >= 63 {
            return Err(format!("a tree deeper than 63 levels (at most {MAX_DEPTH} are grown)"));
        }
        for child in node.children() {
            let child = child.as_deref().ok_or("a split with a missing child")?;
            stack.push((child, depth + 1));
        }
    }
    Ok(())
}

fn tree_params(config: &Hyperparams, learner: &str) -> Result<linfa_trees::DecisionTreeParams<f64, usize>> {
    let quality = match get_str(config, "criterion", learner)? {
        "gini" => SplitQuality::Gini,
        "entropy" => SplitQuality::Entropy,
        other => return Err(Error::params(learner, format!("unknown criterion '{other}'"))),
    };
    Ok(DecisionTree::params()
        .split_quality(quality)
        .max_depth(Some(get_usize(config, "max_depth", learner)?.min(MAX_DEPTH as usize)))
        .min_weight_split(get_usize(config, "min_samples_split", learner)? as f32)
        .min_weight_leaf(get_usize(config, "min_samples_leaf", learner)? as f32))
}

fn tree_space(shape: DataShape) -> SearchSpace {
    // Depth bounded by data size: linfa trees are slow on deep fits (94 s unbounded on 100k x 20).
    let max_depth = if shape.rows * shape.features > 2_000_000 { 16 } else { MAX_DEPTH };
    SearchSpace::default()
        .int("max_depth", 2, max_depth, false)
        .int("min_samples_split", 2, 40, true)
        .int("min_samples_leaf", 1, 20, true)
        .choice("criterion", &["gini", "entropy"])
}

fn tree_start(depth: i64) -> Hyperparams {
    Hyperparams::from([
        ("max_depth".into(), ParamValue::Int(depth)),
        ("min_samples_split".into(), ParamValue::Int(4)),
        ("min_samples_leaf".into(), ParamValue::Int(2)),
        ("criterion".into(), ParamValue::Choice("gini".into())),
    ])
}

/// A single classification tree.
pub struct DecisionTreeLearner;

impl Learner for DecisionTreeLearner {
    fn name(&self) -> &'static str {
        "decision_tree"
    }
    fn description(&self) -> &'static str {
        "decision tree, depth-bounded (classification; linfa has no regression tree)"
    }
    fn supports(&self, task: Task) -> bool {
        task.is_classification()
    }
    fn space(&self, _task: Task, shape: DataShape) -> SearchSpace {
        tree_space(shape)
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        vec![tree_start(6)]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        1.0 + shape.features as f64 / 10.0
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, _ctx: &mut FitContext) -> Result<FittedModel> {
        let (codes, k) = class_codes(self.name(), y)?;
        Ok(FittedModel::Tree(TreeModel::fit(&tree_params(config, self.name())?, x, &codes, k)?))
    }
}

/// A fitted random forest: trees on bootstrap rows and a subset of columns each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForestModel {
    trees: Vec<(TreeModel, Vec<usize>)>,
    pub(super) n_classes: usize,
    pub(super) n_features: usize,
}

impl ForestModel {
    /// Class probabilities: the mean of the trees' leaf frequencies.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut out = Array2::zeros((x.nrows(), self.n_classes));
        for (tree, features) in &self.trees {
            tree.add_proba(x.select(Axis(1), features).view(), &mut out);
        }
        out /= self.trees.len().max(1) as f64;
        out
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    pub(super) fn check(&self) -> Check {
        if self.trees.is_empty() {
            return Err("a forest without trees".into());
        }
        self.trees.iter().enumerate().try_for_each(|(i, (tree, features))| {
            if tree.n_classes != self.n_classes {
                return Err(format!("tree {i} has {} classes, the forest {}", tree.n_classes, self.n_classes));
            }
            if features.len() != tree.n_features || features.iter().any(|&f| f >= self.n_features) {
                return Err(format!("tree {i} reads {} features, not {} of the forest's {}", features.len(), tree.n_features, self.n_features));
            }
            tree.check().map_err(|e| format!("tree {i}: {e}"))
        })
    }
}

/// Random forest of linfa trees, grown tree by tree so it can stop at a deadline or when
/// the early-stopping rule says so.
pub struct RandomForestLearner;

impl Learner for RandomForestLearner {
    fn name(&self) -> &'static str {
        "random_forest"
    }
    fn description(&self) -> &'static str {
        "random forest of linfa trees with column subsets per tree (classification)"
    }
    fn supports(&self, task: Task) -> bool {
        task.is_classification()
    }
    fn space(&self, _task: Task, shape: DataShape) -> SearchSpace {
        tree_space(shape).int("n_trees", 10, 200, true).float("feature_fraction", 0.2, 1.0, false).float("sample_fraction", 0.3, 1.0, false)
    }
    fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
        let mut c = tree_start(10);
        c.insert("n_trees".into(), ParamValue::Int(30));
        c.insert("feature_fraction".into(), ParamValue::Float(0.6));
        c.insert("sample_fraction".into(), ParamValue::Float(0.8));
        vec![c]
    }
    fn relative_cost(&self, shape: DataShape) -> f64 {
        10.0 * (1.0 + shape.features as f64 / 10.0)
    }
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
        let name = self.name();
        let (codes, k) = class_codes(name, y)?;
        let params = tree_params(config, name)?;
        let n_trees = get_usize(config, "n_trees", name)?.max(1);
        let n_cols = ((x.ncols() as f64 * get_f64(config, "feature_fraction", name)?).ceil() as usize).clamp(1, x.ncols());
        let n_rows = ((x.nrows() as f64 * get_f64(config, "sample_fraction", name)?).ceil() as usize).max(2);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(ctx.seed);
        let report_every = (n_trees / 5).max(5);
        let mut valid_sum = ctx.valid.map(|(vx, _)| Array2::<f64>::zeros((vx.nrows(), k)));
        let mut trees = Vec::with_capacity(n_trees);
        while trees.len() < n_trees {
            let rows: Vec<usize> = (0..n_rows).map(|_| rng.gen_range(0..x.nrows())).collect();
            let mut features = sample(&mut rng, x.ncols(), n_cols).into_vec();
            features.sort_unstable();
            let sub = x.select(Axis(0), &rows).select(Axis(1), &features);
            let sub_codes: Array1<usize> = rows.iter().map(|&r| codes[r]).collect();
            let distinct = { let mut s = sub_codes.to_vec(); s.sort_unstable(); s.dedup(); s.len() };
            if distinct < 2 {
                continue; // a bootstrap of one class teaches nothing
            }
            let tree = TreeModel::fit(&params, sub.view(), &sub_codes, k)?;
            if let (Some((vx, _)), Some(sum)) = (ctx.valid, valid_sum.as_mut()) {
                tree.add_proba(vx.select(Axis(1), &features).view(), sum);
            }
            trees.push((tree, features));
            let done = trees.len();
            if done % report_every == 0 && done < n_trees {
                if let Some(sum) = &valid_sum {
                    if ctx.report(done, &Prediction::Classes(sum / done as f64), None) == Control::Stop {
                        break;
                    }
                }
            }
            if ctx.expired() {
                break;
            }
        }
        if trees.is_empty() {
            return Err(Error::learner(name, "no tree could be grown"));
        }
        Ok(FittedModel::Forest(ForestModel { trees, n_classes: k, n_features: x.ncols() }))
    }
}
