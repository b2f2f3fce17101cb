//! Decision trees of linfa-trees, with leaf class frequencies for probabilities. linfa has
//! no regression tree, so this is classification-only (forests are [`crate::forest`]).
use std::collections::BTreeMap;

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::{class_codes, Check, DataShape, FitContext, FittedModel, Learner};
use crate::error::{Error, Result};
use crate::space::{get_str, get_usize, Hyperparams, ParamValue, SearchSpace};
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
    /// Superseded by the engine's forests (deterministic, regression too), and linfa breaks
    /// ties in hash-map order, which would make runs irreproducible: named, it runs.
    fn by_default(&self) -> bool {
        false
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
