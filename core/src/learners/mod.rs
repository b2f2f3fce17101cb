//! Learners: each fits on a design matrix under a configuration from its own search space
//! and returns a [`FittedModel`] that predicts and serialises.
//!
//! [`fit_guarded`] is the one way in: it validates inputs (linfa aborts or panics on NaN,
//! empty data or a wrong column count) and turns a panic into an error, so a failing
//! learner fails one trial and never the process.
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::metrics::Prediction;
use crate::preprocess::Encoding;
use crate::space::{Hyperparams, SearchSpace};
use crate::task::{Target, Task};

mod bayes;
mod boost;
mod explain;
mod forest;
mod knn;
mod linear;
mod logistic;
mod svm;
mod tree;

pub use boost::{GbdtLearner, GbdtModel};
pub use explain::OutputSpace;
pub use crate::forest::ForestModel;
pub use forest::ForestLearner;
pub use tree::TreeModel;

/// Size of the data a learner will see, for spaces and cost estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    /// Training rows.
    pub rows: usize,
    /// Columns after preprocessing.
    pub features: usize,
    /// Classes (0 for regression).
    pub classes: usize,
}

/// What a learner's intermediate report asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop now and return what was fitted so far.
    Stop,
}

/// Callback for intermediate predictions: `(step, validation predictions, training
/// predictions)`. The training predictions (on the rows being fitted, for overfitting
/// rules) come, when [`FitContext::train_predictions`] asks for them, from learners that
/// keep them anyway, such as boosting.
pub type Reporter<'a> = dyn FnMut(usize, &Prediction, Option<&Prediction>) -> Control + 'a;

/// Everything a fit may use besides data and configuration.
pub struct FitContext<'a> {
    /// Seed for any randomness.
    pub seed: u64,
    /// Stop growing (trees, rounds, iterations) after this instant.
    pub deadline: Option<Instant>,
    /// Threads the learner may use.
    pub threads: usize,
    /// Validation data for learners that report per-step scores or stop early.
    pub valid: Option<(ArrayView2<'a, f64>, &'a Target)>,
    /// Receives intermediate validation predictions; may ask to stop.
    pub reporter: Option<&'a mut Reporter<'a>>,
    /// Whether the reporter wants the training rows' predictions too (learners that have
    /// them pass them; they cost a conversion of the training rows' raw scores).
    pub train_predictions: bool,
    /// Which input columns hold category codes (tree encoding); empty when none.
    pub categorical: &'a [bool],
}

impl<'a> FitContext<'a> {
    /// A context with a seed and nothing else.
    pub fn new(seed: u64) -> Self {
        FitContext { seed, deadline: None, threads: 1, valid: None, reporter: None, train_predictions: false, categorical: &[] }
    }
    /// True once the deadline has passed.
    pub fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
    /// Sends intermediate validation predictions (and the training rows' predictions, when
    /// the learner has them) to the reporter, if any.
    pub fn report(&mut self, step: usize, prediction: &Prediction, train: Option<&Prediction>) -> Control {
        match self.reporter.as_mut() {
            Some(r) => r(step, prediction, train),
            None => Control::Continue,
        }
    }
}

/// A learning algorithm with its hyperparameter space.
pub trait Learner: Send + Sync {
    /// Name, as given to `--learners`.
    fn name(&self) -> &'static str;
    /// One line for `--help`.
    fn description(&self) -> &'static str;
    /// True when the learner handles `task`.
    fn supports(&self, task: Task) -> bool;
    /// How the learner wants its inputs encoded (default: imputed, one-hot, unscaled).
    fn encoding(&self) -> Encoding {
        Encoding::Dense
    }
    /// The hyperparameter space for data of this shape (sizes bounded so a fit stays cheap).
    fn space(&self, task: Task, shape: DataShape) -> SearchSpace;
    /// Cheap, strong configurations to try first, cheapest first.
    fn starts(&self, task: Task, shape: DataShape) -> Vec<Hyperparams>;
    /// Rough cost of the first start relative to a logistic regression (for ordering).
    fn relative_cost(&self, shape: DataShape) -> f64;
    /// Relative work of fitting `config`, compared only between configurations of this
    /// learner (say trees x depth): the search scales a learner's measured seconds per unit
    /// of work by it to expect what a configuration will take. 1 by default: the
    /// hyperparameters change the cost little, or unpredictably.
    fn work(&self, _config: &Hyperparams) -> f64 {
        1.0
    }
    /// Whether a run searches it when `--learners` does not name the learners (yes by
    /// default; no for a learner another supersedes, and that a run names explicitly).
    fn by_default(&self) -> bool {
        true
    }
    /// Whether the learner leads on most tabular data, so its further starts run before
    /// other learners' first ones (the booster). No by default.
    fn leads(&self) -> bool {
        false
    }
    /// Fits. Called through [`fit_guarded`], which has validated the inputs.
    fn fit(&self, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel>;
}

/// A fitted model of any learner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FittedModel {
    /// Binary logistic regression (probability of class 1).
    Logistic(logistic::LogisticModel),
    /// Multinomial logistic regression.
    MultiLogistic(logistic::MultiLogisticModel),
    /// Ordinary least squares.
    Linear(linear::LinearModel),
    /// Elastic net or ridge.
    ElasticNet(linear::ElasticNetModel),
    /// A classification tree with leaf class frequencies.
    Tree(TreeModel),
    /// A random forest or extra-trees (classification or regression).
    Forest(ForestModel),
    /// Gaussian naive Bayes.
    NaiveBayes(bayes::NaiveBayesModel),
    /// k nearest neighbours.
    Knn(knn::KnnModel),
    /// Support vector classifier with Platt probabilities.
    Svc(svm::SvcModel),
    /// Support vector regression.
    Svr(svm::SvrModel),
    /// Histogram gradient-boosted trees.
    Gbdt(boost::GbdtModel),
}

impl FittedModel {
    /// Number of input columns the model expects.
    pub fn n_features(&self) -> usize {
        match self {
            FittedModel::Logistic(m) => m.n_features,
            FittedModel::MultiLogistic(m) => m.n_features,
            FittedModel::Linear(m) => m.n_features,
            FittedModel::ElasticNet(m) => m.n_features,
            FittedModel::Tree(m) => m.n_features,
            FittedModel::Forest(m) => m.n_features,
            FittedModel::NaiveBayes(m) => m.n_features,
            FittedModel::Knn(m) => m.n_features(),
            FittedModel::Svc(m) => m.n_features,
            FittedModel::Svr(m) => m.n_features,
            FittedModel::Gbdt(m) => m.booster.n_features,
        }
    }

    /// Classes the model predicts; `None` for a regression model.
    pub fn n_classes(&self) -> Option<usize> {
        match self {
            FittedModel::Logistic(_) | FittedModel::Svc(_) => Some(2),
            FittedModel::MultiLogistic(m) => Some(m.n_classes),
            FittedModel::Tree(m) => Some(m.n_classes),
            FittedModel::Forest(m) => (m.n_classes > 0).then_some(m.n_classes),
            FittedModel::NaiveBayes(m) => Some(m.n_classes),
            FittedModel::Knn(m) => (m.n_classes > 0).then_some(m.n_classes),
            FittedModel::Gbdt(m) => (m.n_classes > 0).then_some(m.n_classes),
            FittedModel::Linear(_) | FittedModel::ElasticNet(_) | FittedModel::Svr(_) => None,
        }
    }

    /// Checks internal consistency, for a model decoded from a file: each model's own
    /// check (array lengths against the input width and class count, indices in range,
    /// trees that cannot loop, finite parameters), then one guarded prediction on a row
    /// of zeros (which reaches what the linfa models keep private). The message names
    /// what is inconsistent.
    pub fn check(&self) -> Check {
        if self.n_features() == 0 {
            return Err("the model reads no input columns".into());
        }
        if let Some(k) = self.n_classes().filter(|&k| k < 2) {
            return Err(format!("a classifier of {k} classes"));
        }
        self.check_parts()?;
        self.check_probe()
    }

    fn check_parts(&self) -> Check {
        match self {
            FittedModel::Logistic(m) => m.check(),
            FittedModel::MultiLogistic(m) => m.check(),
            FittedModel::Linear(m) => m.check(),
            FittedModel::ElasticNet(m) => m.check(),
            FittedModel::Tree(m) => m.check(),
            FittedModel::Forest(m) => m.check(),
            FittedModel::NaiveBayes(_) | FittedModel::Svc(_) => Ok(()), // private state: the probe covers it
            FittedModel::Knn(m) => m.check(),
            FittedModel::Svr(m) => m.check(),
            FittedModel::Gbdt(m) => m.check(),
        }
    }

    /// Runs after [`FittedModel::check_parts`], so a tree cannot loop here.
    fn check_probe(&self) -> Check {
        let zeros = Array2::<f64>::zeros((1, self.n_features()));
        let p = self.predict(zeros.view()).map_err(|e| format!("a trial prediction fails ({e})"))?;
        match (&p, self.n_classes()) {
            (Prediction::Classes(p), Some(k)) if p.ncols() == k => Ok(()),
            (Prediction::Values(_), None) => Ok(()),
            _ => Err("a trial prediction has the wrong shape".into()),
        }
    }

    /// Predicts. A wrong column count or non-finite input is an error, not a panic.
    pub fn predict(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        if x.ncols() != self.n_features() {
            return Err(Error::Data(format!("the model expects {} input columns, got {}", self.n_features(), x.ncols())));
        }
        check_inputs(x, matches!(self, FittedModel::Gbdt(_) | FittedModel::Forest(_)))?;
        let p = catch_unwind(AssertUnwindSafe(|| self.predict_unchecked(x)))
            .map_err(|panic| Error::learner("predict", panic_message(&panic)))??;
        if !p.is_finite() {
            return Err(Error::learner("predict", "non-finite predictions"));
        }
        Ok(p)
    }

    fn predict_unchecked(&self, x: ArrayView2<f64>) -> Result<Prediction> {
        Ok(match self {
            FittedModel::Logistic(m) => m.predict(x),
            FittedModel::MultiLogistic(m) => m.predict(x),
            FittedModel::Linear(m) => m.predict(x),
            FittedModel::ElasticNet(m) => m.predict(x),
            FittedModel::Tree(m) => Prediction::Classes(m.predict_proba(x)),
            FittedModel::Forest(m) => forest::predict(m, x),
            FittedModel::NaiveBayes(m) => in_row_chunks(x, |c| Ok(m.predict(c)))?,
            FittedModel::Knn(m) => in_row_chunks(x, |c| m.predict(c))?,
            FittedModel::Svc(m) => in_row_chunks(x, |c| Ok(m.predict(c)))?,
            FittedModel::Svr(m) => in_row_chunks(x, |c| Ok(m.predict(c)))?,
            FittedModel::Gbdt(m) => m.predict(x),
        })
    }
}

/// Rows a thread predicts at a time for learners that predict on one thread (linfa's).
const CHUNK_ROWS: usize = 4096;

/// `predict` of `x` in chunks of [`CHUNK_ROWS`] rows on rayon's current pool, joined in
/// row order: the same predictions, on every core.
fn in_row_chunks(x: ArrayView2<f64>, predict: impl Fn(ArrayView2<f64>) -> Result<Prediction> + Sync) -> Result<Prediction> {
    use rayon::prelude::*;
    if x.nrows() <= CHUNK_ROWS {
        return predict(x);
    }
    let parts: Vec<Prediction> = x.axis_chunks_iter(ndarray::Axis(0), CHUNK_ROWS).collect::<Vec<_>>().into_par_iter().map(&predict).collect::<Result<_>>()?;
    Prediction::concat(&parts).ok_or_else(|| Error::learner("predict", "chunks predicted in different shapes"))
}

/// Result of a consistency check: the message names what is inconsistent.
pub type Check = std::result::Result<(), String>;

/// Checks a linear model's weights: one per input column, all finite (with the intercepts).
pub(crate) fn check_weights(count: usize, n_features: usize, mut values: impl Iterator<Item = f64>) -> Check {
    if count != n_features {
        return Err(format!("{count} coefficients for {n_features} input columns"));
    }
    if values.any(|v| !v.is_finite()) {
        return Err("a non-finite coefficient".into());
    }
    Ok(())
}

/// Every learner of the engine, in the order `--help` lists them.
pub fn all_learners() -> Vec<Box<dyn Learner>> {
    vec![
        Box::new(boost::GbdtLearner),
        Box::new(logistic::LogisticLearner),
        Box::new(linear::LinearLearner),
        Box::new(linear::ElasticNetLearner { ridge: true }),
        Box::new(linear::ElasticNetLearner { ridge: false }),
        Box::new(tree::DecisionTreeLearner),
        Box::new(forest::ForestLearner { extra: false }),
        Box::new(forest::ForestLearner { extra: true }),
        Box::new(bayes::NaiveBayesLearner),
        Box::new(knn::KnnLearner),
        Box::new(svm::SvmLearner),
    ]
}

/// The learner named `name`.
pub fn learner_by_name(name: &str) -> Result<Box<dyn Learner>> {
    all_learners().into_iter().find(|l| l.name() == name).ok_or_else(|| Error::Unknown {
        what: "learner",
        name: name.to_string(),
        known: all_learners().iter().map(|l| l.name().to_string()).collect(),
    })
}

/// Fits `learner` after validating everything linfa would trip on, catching panics.
pub fn fit_guarded(learner: &dyn Learner, config: &Hyperparams, x: ArrayView2<f64>, y: &Target, ctx: &mut FitContext) -> Result<FittedModel> {
    let name = learner.name();
    if x.nrows() == 0 || x.ncols() == 0 {
        return Err(Error::learner(name, format!("cannot fit on {} rows x {} columns", x.nrows(), x.ncols())));
    }
    if x.nrows() != y.len() {
        return Err(Error::learner(name, format!("{} rows but {} target values", x.nrows(), y.len())));
    }
    check_inputs(x, learner.encoding() == Encoding::Trees)?;
    if let Target::Classes { codes, labels } = y {
        let mut seen = vec![false; labels.len()];
        codes.iter().for_each(|&c| seen[c] = true);
        if seen.iter().filter(|&&s| s).count() < 2 {
            return Err(Error::learner(name, "the training rows hold a single class"));
        }
    }
    if let Target::Values(v) = y {
        if v.iter().any(|t| !t.is_finite()) {
            return Err(Error::learner(name, "non-finite target values"));
        }
    }
    let model = catch_unwind(AssertUnwindSafe(|| learner.fit(config, x, y, ctx))).map_err(|panic| Error::learner(name, format!("panicked: {}", panic_message(&panic))))??;
    Ok(model)
}

/// Refuses infinities, and NaN unless `allow_missing` (a linfa tree given NaN overflows its
/// stack and aborts; the booster routes NaN itself).
pub fn check_inputs(x: ArrayView2<f64>, allow_missing: bool) -> Result<()> {
    match x.indexed_iter().find(|(_, v)| v.is_infinite() || (!allow_missing && v.is_nan())) {
        Some(((r, c), v)) => Err(Error::Data(format!("non-finite value {v} at row {r}, column {c} of the design matrix"))),
        None => Ok(()),
    }
}

/// A caught panic's message, when it has one.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "unknown panic".into())
}

/// Class codes of a classification target.
pub(crate) fn class_codes(learner: &str, y: &Target) -> Result<(Array1<usize>, usize)> {
    match y {
        Target::Classes { codes, labels } => Ok((Array1::from(codes.clone()), labels.len())),
        Target::Values(_) => Err(Error::learner(learner, "needs a classification target")),
    }
}

/// Values of a regression target.
pub(crate) fn target_values(learner: &str, y: &Target) -> Result<Array1<f64>> {
    match y {
        Target::Values(v) => Ok(Array1::from(v.clone())),
        Target::Classes { .. } => Err(Error::learner(learner, "needs a regression target")),
    }
}

/// Deterministically picks at most `max` of `n` rows (all when `n <= max`), stratified by
/// position so the subsample spans the data.
pub(crate) fn subsample_rows(n: usize, max: usize, seed: u64) -> Vec<usize> {
    use rand::seq::index::sample;
    use rand::SeedableRng;
    if n <= max {
        return (0..n).collect();
    }
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut rows = sample(&mut rng, n, max).into_vec();
    rows.sort_unstable();
    rows
}

#[cfg(test)]
pub(crate) mod test_data {
    use super::*;
    use ndarray::Array2;

    /// Two Gaussian-ish blobs, linearly separable with noise; deterministic.
    pub fn blobs(n: usize, k: usize) -> (Array2<f64>, Target) {
        let mut x = Array2::zeros((n, 3));
        let mut codes = Vec::with_capacity(n);
        for i in 0..n {
            let c = i % k;
            let jitter = ((i * 7919) % 101) as f64 / 101.0 - 0.5;
            x[[i, 0]] = c as f64 * 3.0 + jitter;
            x[[i, 1]] = -(c as f64) * 2.0 + jitter * 0.5;
            x[[i, 2]] = ((i * 31) % 17) as f64 / 17.0;
            codes.push(c);
        }
        (x, Target::Classes { codes, labels: (0..k).map(|c| format!("c{c}")).collect() })
    }

    /// y = 3 x0 - 2 x1 + small noise.
    pub fn line(n: usize) -> (Array2<f64>, Target) {
        let mut x = Array2::zeros((n, 2));
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            x[[i, 0]] = (i % 13) as f64;
            x[[i, 1]] = ((i * 7) % 11) as f64;
            y.push(3.0 * x[[i, 0]] - 2.0 * x[[i, 1]] + ((i * 13) % 7) as f64 * 0.01);
        }
        (x, Target::Values(y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{BuiltinMetric, Metric};
    use ndarray::Array2;

    #[test]
    fn predicting_in_chunks_on_threads_gives_the_same_predictions() {
        let (x, y) = test_data::blobs(2 * CHUNK_ROWS + 5, 3);
        let nb = learner_by_name("naive_bayes").unwrap();
        let model = fit_guarded(nb.as_ref(), &nb.starts(Task::Multiclass, DataShape { rows: x.nrows(), features: 3, classes: 3 })[0], x.view(), &y, &mut FitContext::new(0)).unwrap();
        let FittedModel::NaiveBayes(m) = &model else { panic!("not naive Bayes") };
        assert_eq!(model.predict(x.view()).unwrap(), m.predict(x.view()));
    }

    #[test]
    fn every_learner_fits_its_starts_and_round_trips() {
        for learner in all_learners() {
            for task in [Task::Binary, Task::Multiclass, Task::Regression] {
                if !learner.supports(task) {
                    continue;
                }
                let (x, y) = match task {
                    Task::Binary => test_data::blobs(120, 2),
                    Task::Multiclass => test_data::blobs(120, 3),
                    Task::Regression => test_data::line(120),
                };
                let shape = DataShape { rows: 120, features: x.ncols(), classes: y.n_classes() };
                let space = learner.space(task, shape);
                let mut best = f64::NEG_INFINITY;
                for config in learner.starts(task, shape) {
                    space.validate(learner.name(), &config).unwrap();
                    let model = fit_guarded(learner.as_ref(), &config, x.view(), &y, &mut FitContext::new(1))
                        .unwrap_or_else(|e| panic!("{} on {task}: {e}", learner.name()));
                    let p = model.predict(x.view()).unwrap();
                    let metric = if task == Task::Regression { BuiltinMetric::R2 } else { BuiltinMetric::Accuracy };
                    best = best.max(metric.score(&y, &p).unwrap());
                    if let Prediction::Classes(proba) = &p {
                        assert_eq!(proba.ncols(), y.n_classes());
                        assert!(proba.rows().into_iter().all(|r| (r.sum() - 1.0).abs() < 1e-6), "{}", learner.name());
                    }
                    let bytes = postcard_roundtrip(&model);
                    assert_eq!(bytes.predict(x.view()).unwrap(), p, "{}", learner.name());
                    // A fitted model, stored and read back, passes its consistency check.
                    bytes.check().unwrap_or_else(|e| panic!("{} on {task}: {e}", learner.name()));
                    assert_eq!(bytes.n_classes().unwrap_or(0), y.n_classes(), "{}", learner.name());
                    // A wrong column count is an error, not a panic.
                    let wrong = Array2::<f64>::zeros((2, x.ncols() + 1));
                    assert!(model.predict(wrong.view()).is_err());
                }
                // Cheap starts may be weak; the strongest start must fit well.
                assert!(best > 0.8, "{} on {task}: {best}", learner.name());
            }
        }
    }

    fn postcard_roundtrip(model: &FittedModel) -> FittedModel {
        let bytes = postcard::to_stdvec(model).unwrap();
        postcard::from_bytes(&bytes).unwrap()
    }

    #[test]
    fn inconsistent_stored_models_fail_their_check() {
        let (x, y) = test_data::blobs(60, 3);
        let fit = |name: &str| {
            let learner = learner_by_name(name).unwrap();
            let config = learner.starts(Task::Multiclass, DataShape { rows: 60, features: 3, classes: 3 }).remove(0);
            fit_guarded(learner.as_ref(), &config, x.view(), &y, &mut FitContext::new(0)).unwrap()
        };
        let mut knn = fit("knn");
        let FittedModel::Knn(m) = &mut knn else { unreachable!() };
        m.n_classes = 2; // stored targets include class 2
        assert!(knn.check().is_err_and(|e| e.contains("has target 2 (classes: 2)")));
        let mut gbdt = fit("gbdt");
        let FittedModel::Gbdt(m) = &mut gbdt else { unreachable!() };
        m.n_classes = 2;
        assert!(gbdt.check().is_err_and(|e| e.contains("2 classes but a Softmax")));
        let mut forest = fit("random_forest");
        let FittedModel::Forest(m) = &mut forest else { unreachable!() };
        m.n_features = 2; // its trees read column 2
        assert!(forest.check().is_err_and(|e| e.contains("of the forest's 2")), "{:?}", forest.check());
    }

    struct Panicking;
    impl Learner for Panicking {
        fn name(&self) -> &'static str {
            "panicking"
        }
        fn description(&self) -> &'static str {
            "always panics"
        }
        fn supports(&self, _task: Task) -> bool {
            true
        }
        fn space(&self, _task: Task, _shape: DataShape) -> SearchSpace {
            SearchSpace::default()
        }
        fn starts(&self, _task: Task, _shape: DataShape) -> Vec<Hyperparams> {
            vec![Hyperparams::new()]
        }
        fn relative_cost(&self, _shape: DataShape) -> f64 {
            1.0
        }
        fn fit(&self, _config: &Hyperparams, _x: ArrayView2<f64>, _y: &Target, _ctx: &mut FitContext) -> Result<FittedModel> {
            panic!("index out of bounds: the len is 3 but the index is 7")
        }
    }

    #[test]
    fn a_panicking_learner_is_an_error() {
        let (x, y) = test_data::blobs(20, 2);
        let err = fit_guarded(&Panicking, &Hyperparams::new(), x.view(), &y, &mut FitContext::new(0)).unwrap_err();
        assert!(matches!(&err, Error::Learner { learner, message } if learner == "panicking" && message.contains("index out of bounds")), "{err}");
    }

    #[test]
    fn rejects_nan_empty_and_one_class_before_linfa_sees_them() {
        let tree = tree::DecisionTreeLearner;
        let (mut x, y) = test_data::blobs(20, 2);
        let config = tree.starts(Task::Binary, DataShape { rows: 20, features: 3, classes: 2 }).remove(0);
        x[[3, 1]] = f64::NAN;
        assert!(matches!(fit_guarded(&tree, &config, x.view(), &y, &mut FitContext::new(0)), Err(Error::Data(m)) if m.contains("row 3")));
        let empty = Array2::<f64>::zeros((0, 3));
        let none = Target::Classes { codes: vec![], labels: vec!["a".into(), "b".into()] };
        assert!(fit_guarded(&tree, &config, empty.view(), &none, &mut FitContext::new(0)).is_err());
        let (x, _) = test_data::blobs(20, 2);
        let one = Target::Classes { codes: vec![0; 20], labels: vec!["a".into(), "b".into()] };
        assert!(matches!(fit_guarded(&tree, &config, x.view(), &one, &mut FitContext::new(0)), Err(Error::Learner { message, .. }) if message.contains("single class")));
    }
}
