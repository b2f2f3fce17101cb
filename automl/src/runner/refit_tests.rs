//! The prediction bound of `--final-fit auto` across an ensemble's members.
use super::*;
use crate::bagging::{FinalFit, MAX_PREDICT_S_PER_ROW};
use crate::evaluate::evaluate;
use crate::trial::{NoMonitor, TrialSpec};
use automl_core::data::{Column, Table};
use automl_core::profile::ColumnKind;
use automl_core::metrics::BuiltinMetric;
use automl_core::validation::{make_splits, ValidationPlan};

const FOLDS: usize = 3;

fn data() -> ExperimentData {
    let x: Vec<f64> = (0..60).map(|i| i as f64).collect();
    let y: Vec<f64> = x.iter().map(|v| 2.0 * v + (v * 0.7).sin()).collect();
    let table = Table { names: vec!["x".into()], columns: vec![Column::Numeric(x)], n_rows: 60 };
    let target = Target::Values(y);
    let splits = make_splits(&ValidationPlan::KFold { k: FOLDS }, &target, 0).expect("splits");
    ExperimentData::new(table, target, Task::Regression, vec![("x".into(), ColumnKind::Numeric)], splits).with_fold_models(true)
}

/// Trial `id` of `learner`'s first start, whose split models each take `cost` seconds per row predicted.
fn trial(id: u64, learner: &str, cost: f64, data: &ExperimentData, metric: &dyn Metric) -> TrialResult {
    let l = learner_by_name(learner).expect("a learner");
    let spec = TrialSpec {
        id,
        learner: learner.into(),
        config: l.starts(Task::Regression, data.shape(l.encoding()))[0].clone(),
        metric: metric.name().into(),
        validation: ValidationPlan::KFold { k: FOLDS },
        seed: 0,
        split_seed: 0,
        time_limit_s: None,
        data: None,
        train_scores: false,
    };
    let mut t = evaluate(&spec, data, metric, &[], &NoMonitor);
    assert_eq!(t.status, crate::trial::TrialStatus::Ok, "{t:?}");
    let folds = t.fold_models.as_mut().and_then(std::sync::Arc::get_mut).expect("the trial kept its split models, not shared yet");
    assert_eq!(folds.models.len(), FOLDS);
    folds.predict_s_per_row = cost;
    t
}

/// Which of trials 1 (the best) and 2 are bagged when trial 1's split models cost a
/// quarter of the bound each (its bag three quarters) and trial 2's `second` each.
fn bagged(second: f64) -> (Vec<(u64, bool)>, Vec<String>) {
    let data = data();
    let metric = BuiltinMetric::from_name("rmse").expect("rmse");
    let ranked = vec![trial(1, "linear", 0.25 * MAX_PREDICT_S_PER_ROW, &data, &metric), trial(2, "random_forest", second, &data, &metric)];
    let selection = Selection { members: vec![(1, 0.6), (2, 0.4)], score: 0.0, best_single: 0.0 };
    let deadline = Some(Instant::now() + std::time::Duration::from_secs(600));
    let ctx = RefitContext { data: &data, metric: &metric, deadline, fold_share: 2.0 / 3.0, seed: 0, final_fit: FinalFit::Auto };
    let mut shared = Shared::new(&data).expect("shared");
    let mut notes = Vec::new();
    let parts = refit_members(&ranked, &selection, 1, &ctx, &mut shared, &mut notes, &mut crate::outcome::Silent);
    assert_eq!(parts.len(), 2, "{notes:?}");
    let cost: f64 = parts.iter().map(|p| crate::bagging::predict_cost(&ranked[p.trial as usize - 1], p.members.len() > 1)).sum();
    assert!(cost <= MAX_PREDICT_S_PER_ROW * (1.0 + 1e-9), "the whole model must stay within the bound: {cost} > {MAX_PREDICT_S_PER_ROW}");
    (parts.iter().map(|p| (p.trial, p.members.len() == FOLDS)).collect(), notes)
}

#[test]
fn the_best_member_is_bagged_only_when_the_members_after_it_still_fit_the_bound() {
    // Trial 2 refit costs a fifth of the bound: trial 1's bag (three quarters) fits beside it.
    let (parts, _) = bagged(0.2 * MAX_PREDICT_S_PER_ROW);
    assert_eq!(parts, vec![(1, true), (2, false)]);
    // A third: bagging trial 1 would leave a quarter, too little for trial 2's one model,
    // so trial 1 is refit too, and says why.
    let (parts, notes) = bagged(0.3 * MAX_PREDICT_S_PER_ROW);
    assert_eq!(parts, vec![(1, false), (2, false)]);
    assert!(notes.iter().any(|n| n.contains("trial 1 (linear) was refit on all rows rather than bagged")), "{notes:?}");
}
