//! The Rust API: builder, run, artifact, predictions.
use automl::bagging::FinalFit;
use automl::core::metrics::Prediction;
use automl::core::profile::WarningKind;
use automl::core::validation::ValidationPlan;
use automl::trial::TrialStatus;
use automl::{Experiment, ModelArtifact, StopReason};

use super::{example, messy_csv, write};

#[test]
fn runs_on_messy_data_and_round_trips_odd_labels() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "messy.csv", &messy_csv(300));
    let result = Experiment::builder(&csv, "label").max_trials(12).time_budget(60.0).concurrency(2).out(dir.path()).build().unwrap().run().unwrap();
    assert_eq!(result.stop_reason, StopReason::MaxTrials);
    assert_eq!(result.leaderboard.len(), 12);
    let kinds: Vec<WarningKind> = result.profile.warnings.iter().map(|w| w.kind).collect();
    for k in [WarningKind::IdLike, WarningKind::AllMissing, WarningKind::NullMarker, WarningKind::NonFinite, WarningKind::MissingTarget] {
        assert!(kinds.contains(&k), "{k:?} missing from {kinds:?}");
    }
    assert_eq!(result.artifact.labels, vec!["<=50K, \"yes\"".to_string(), "[75.000-".to_string()]);
    assert_eq!(result.metric, "log_loss");
    assert!(result.best.score.unwrap() < 0.3, "{:?}", result.best);
    for f in ["model.automl", "leaderboard.csv", "profile.json", "trials.jsonl"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    // The saved model predicts the same as the one in memory, from the same file, with
    // the target column present (and ignored).
    let loaded = ModelArtifact::load(&dir.path().join("model.automl")).unwrap();
    let p = loaded.predict_csv(&csv).unwrap();
    assert_eq!(p, result.artifact.predict_csv(&csv).unwrap());
    assert_eq!(p.len(), 300, "one prediction per input row, missing targets included");
    let mut out = Vec::new();
    automl::artifact::write_predictions(&loaded, &p, false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("label\n"));
    assert!(text.contains("\"<=50K, \"\"yes\"\"\"\n"), "labels are quoted and exact");
}

#[test]
fn predicts_with_unseen_categories_and_reports_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "messy.csv", &messy_csv(200));
    let result = Experiment::builder(&csv, "label").max_trials(3).learners(&["logistic"]).build().unwrap().run().unwrap();
    let new = write(dir.path(), "new.csv", "x,color,z,id,empty\n1.5,purple,3,1,\n,red,,2,\n");
    let p = result.artifact.predict_csv(&new).unwrap();
    assert!(matches!(p, Prediction::Classes(ref m) if m.nrows() == 2));
    let missing = write(dir.path(), "missing.csv", "x,id\n1,1\n");
    let err = result.artifact.predict_csv(&missing).unwrap_err().to_string();
    assert!(err.contains("'color'") && err.contains("'z'"), "{err}");
    let wrong = write(dir.path(), "wrong.csv", "x,color,z\nabc,red,1\n");
    let err = result.artifact.predict_csv(&wrong).unwrap_err().to_string();
    assert!(err.contains("'x'") && err.contains("abc"), "{err}");
}

#[test]
fn regression_with_holdout_and_target_score() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("a,b,when,y\n");
    for i in 0..400 {
        let (a, b) = ((i % 19) as f64, ((i * 7) % 13) as f64);
        s.push_str(&format!("{a},{b},2024-01-{:02},{}\n", i % 28 + 1, 2.0 * a - b + 0.01 * (i % 5) as f64));
    }
    let csv = write(dir.path(), "reg.csv", &s);
    let result = Experiment::builder(&csv, "y")
        .validation(ValidationPlan::Holdout { fraction: 0.25 })
        .target_score(0.95)
        .learners(&["linear", "ridge"])
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(result.metric, "r2");
    assert_eq!(result.stop_reason, StopReason::TargetScore);
    assert!(result.best.score.unwrap() >= 0.95);
    assert!(result.profile.features.iter().any(|c| c.name == "when" && c.kind == automl::core::profile::ColumnKind::Datetime));
    // A date column with no value in a new file reads as text; it still predicts, and a
    // value that is not a date is named.
    let empty_dates = write(dir.path(), "new.csv", "a,b,when\n1,2,\n3,4,\n");
    assert_eq!(result.artifact.predict_csv(&empty_dates).unwrap().len(), 2);
    let bad_dates = write(dir.path(), "bad.csv", "a,b,when\n1,2,2024-01-01\n3,4,soon\n");
    let err = result.artifact.predict_csv(&bad_dates).unwrap_err().to_string();
    assert!(err.contains("'soon'") && err.contains("row 2"), "{err}");
}

#[test]
fn boosted_model_reports_feature_importance() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("signal,noise,city,y\n");
    for i in 0..600 {
        let signal = (i % 50) as f64;
        s.push_str(&format!("{signal},{},{},{}\n", (i * 7919) % 13, ["a", "b", "c"][i % 3], 3.0 * signal + (i % 3) as f64));
    }
    let csv = write(dir.path(), "imp.csv", &s);
    let result = Experiment::builder(&csv, "y").learners(&["gbdt"]).max_trials(3).build().unwrap().run().unwrap();
    let importance = result.artifact.feature_importance();
    assert_eq!(importance[0].0, "signal", "{importance:?}");
    assert!(automl::report::summary_json(&result)["feature_importance"][0]["feature"] == "signal");
    assert!(automl::report::summary_text(&result).contains("most important (share of split gain): signal"));
}

#[test]
fn keeps_the_time_budget() {
    let dir = tempfile::tempdir().unwrap();
    let result = Experiment::builder(example("titanic.csv"), "survived").time_budget(3.0).concurrency(2).out(dir.path()).build().unwrap().run().unwrap();
    // Every trial, abandoned ones included, is in the journal as in the leaderboard.
    let journal = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), result.leaderboard.len());
    assert_eq!(result.stop_reason, StopReason::TimeBudget);
    // Generous margin for a busy CI machine: the point is that the run ends, and this is
    // not a speed test (the benchmark measures the margin).
    assert!(result.elapsed_s < 6.0, "{}", result.elapsed_s);
    assert!(result.leaderboard.iter().filter(|t| t.status == TrialStatus::Ok).count() >= 3);
}

#[test]
fn same_seed_same_search() {
    let run = || {
        // linfa's trees break ties between classes in hash-map order, so they are left out:
        // the search itself (suggestions, splits, seeds) must be reproducible.
        Experiment::builder(example("penguins.csv"), "species")
            .no_time_budget()
            .max_trials(10)
            .concurrency(1)
            .seed(3)
            .learners(&["logistic", "naive_bayes", "knn"])
            .build()
            .unwrap()
            .run()
            .unwrap()
    };
    let (a, b) = (run(), run());
    let key = |r: &automl::ExperimentResult| {
        let mut v: Vec<(u64, String, Option<f64>)> = r.leaderboard.iter().map(|t| (t.id, t.learner.clone(), t.score)).collect();
        v.sort_by_key(|t| t.0);
        v
    };
    assert_eq!(key(&a), key(&b));
}

#[test]
fn rejects_bad_settings_before_reading_data() {
    assert!(Experiment::builder("x.csv", "y").metric("auc").build().is_err());
    assert!(Experiment::builder("x.csv", "y").learners(&["nope"]).build().is_err());
    assert!(Experiment::builder("x.csv", "y").no_time_budget().build().is_err());
    assert!(Experiment::builder("x.csv", "y").max_trials(0).build().is_err());
}

#[test]
fn patience_ends_the_search() {
    let result = Experiment::builder(example("titanic.csv"), "survived")
        .time_budget(60.0)
        .patience(3)
        .concurrency(1) // finish order = trial order
        .learners(&["naive_bayes", "logistic"])
        .build()
        .unwrap()
        .run()
        .unwrap();
    assert_eq!(result.stop_reason, StopReason::Patience);
    // Exactly the three trials after the best did not improve on it.
    let mut by_id = result.leaderboard.clone();
    by_id.sort_by_key(|t| t.id);
    let best_id = result.best.id;
    assert_eq!(by_id.iter().filter(|t| t.id > best_id).count(), 3);
}

#[test]
fn boosting_reports_training_scores_for_the_overfitting_rule() {
    let result = Experiment::builder(example("titanic.csv"), "survived")
        .validation(ValidationPlan::Holdout { fraction: 0.3 })
        .stopping_rule(automl::stopping::BuiltinRule::Overfitting)
        .learners(&["gbdt"])
        .max_trials(6)
        .concurrency(1)
        .build()
        .unwrap()
        .run()
        .unwrap();
    let reported: Vec<_> = result.leaderboard.iter().filter(|t| !t.curve.is_empty()).collect();
    assert!(!reported.is_empty(), "no gbdt trial reported per round");
    for t in reported {
        // The same metric on the training rows, at the same rounds.
        let steps = |c: &[(usize, f64)]| c.iter().map(|(s, _)| *s).collect::<Vec<_>>();
        assert_eq!(steps(&t.train_curve), steps(&t.curve), "trial {}", t.id);
        let (train, valid) = (t.train_curve.last().unwrap().1, t.curve.last().unwrap().1);
        assert!(train.is_finite() && valid.is_finite());
    }
}

/// A reproducible run of `learners` on penguins: 14 trials, one at a time, no time budget.
fn reproducible_run(out: &std::path::Path, ensemble: bool) -> automl::ExperimentResult {
    reproducible_fit(out, ensemble, FinalFit::Auto)
}

/// [`reproducible_run`] with the final fit chosen.
fn reproducible_fit(out: &std::path::Path, ensemble: bool, final_fit: FinalFit) -> automl::ExperimentResult {
    Experiment::builder(example("penguins.csv"), "species").no_time_budget().max_trials(14).concurrency(1).seed(5).ensemble(ensemble).final_fit(final_fit).out(out).build().unwrap().run().unwrap()
}

#[test]
fn the_model_is_a_weighted_ensemble_of_the_best_trials_that_predict_replays() {
    let dir = tempfile::tempdir().unwrap();
    let result = reproducible_fit(dir.path(), true, FinalFit::Refit);
    let e = result.ensemble.as_ref().expect("log-loss on penguins: an ensemble beats the best trial");
    assert!(e.score < e.best_single, "{e:?}");
    assert_eq!(result.artifact.validation_score, e.score);
    let members = &result.artifact.members;
    assert!(members.len() >= 2 && members.len() == e.members.len(), "{e:?}");
    assert!((members.iter().map(|m| m.weight).sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(members.windows(2).all(|w| w[0].weight >= w[1].weight), "largest weight first");
    assert_eq!(result.artifact.learner(), "ensemble");
    // Every member is a finished trial of the leaderboard.
    for m in members {
        let t = result.leaderboard.iter().find(|t| t.id == m.trial).expect("a member is a trial");
        assert_eq!((t.status, &t.learner), (TrialStatus::Ok, &m.learner));
    }
    // The leaderboard shows the ensemble as its own first row, with members and weights.
    let board = std::fs::read_to_string(dir.path().join("leaderboard.csv")).unwrap();
    let row = board.lines().nth(1).unwrap();
    assert!(row.starts_with("1,ensemble,ensemble,log_loss,"), "{row}");
    assert!(row.contains(&format!("\"\"trial\"\":{}", members[0].trial)), "{row}");
    assert_eq!(board.lines().count(), result.leaderboard.len() + 2);
    // The model file replays the ensemble: its prediction is the weighted average of
    // its members' predictions, each alone.
    let csv = example("penguins.csv");
    let loaded = ModelArtifact::load(&dir.path().join("model.automl")).unwrap();
    let p = loaded.predict_csv(&csv).unwrap();
    assert_eq!(p, result.artifact.predict_csv(&csv).unwrap());
    let Prediction::Classes(proba) = &p else { panic!("probabilities") };
    let mut average = ndarray::Array2::<f64>::zeros(proba.dim());
    for m in members {
        let mut alone = loaded.clone();
        alone.members = vec![automl::artifact::Member { weight: 1.0, ..m.clone() }];
        let Prediction::Classes(q) = alone.predict_csv(&csv).unwrap() else { panic!("probabilities") };
        average.scaled_add(m.weight, &q);
    }
    assert!(proba.iter().zip(&average).all(|(a, b)| (a - b).abs() < 1e-12));
    // Without the ensemble, the model is the best trial alone.
    let single = reproducible_fit(&dir.path().join("single"), false, FinalFit::Refit);
    assert!(single.ensemble.is_none());
    assert_eq!(single.artifact.members.len(), 1);
    assert_eq!(single.artifact.members[0].trial, single.best.id);
}

#[test]
fn a_bagged_model_averages_each_configurations_split_models_and_scores_as_its_trials() {
    let dir = tempfile::tempdir().unwrap();
    // Penguins has under 10,000 rows: 5-fold validation, so `auto` bags.
    let result = reproducible_run(dir.path(), true);
    assert_eq!(result.final_fit.name(), "bag", "{:?}", result.final_fit);
    let e = result.ensemble.as_ref().expect("an ensemble");
    let members = &result.artifact.members;
    // Each configuration of the ensemble is there once per split, each split's model once,
    // with its configuration's weight shared equally.
    assert_eq!(members.len(), 5 * e.members.len(), "{e:?}");
    for (trial, weight) in &e.members {
        let own: Vec<_> = members.iter().filter(|m| m.trial == *trial).collect();
        let mut folds: Vec<usize> = own.iter().map(|m| m.fold.expect("a split model")).collect();
        folds.sort_unstable();
        assert_eq!(folds, vec![0, 1, 2, 3, 4], "trial {trial}");
        assert!(own.iter().all(|m| (m.weight - weight / 5.0).abs() < 1e-12), "trial {trial}");
    }
    assert_eq!(result.artifact.configurations().len(), e.members.len());
    assert_eq!(result.artifact.learner(), "ensemble");
    // Each split model predicts its own validation rows as it did in its trial, so the
    // bag's out-of-fold rows score exactly what the selection measured.
    let board = result.leaderboard.iter().find(|t| t.id == result.best.id).unwrap();
    let loaded = ModelArtifact::load(&dir.path().join("model.automl")).unwrap();
    let best_alone: Vec<_> = loaded.members.iter().filter(|m| m.trial == board.id).cloned().collect();
    assert_eq!(best_alone.len(), 5);
    let csv = example("penguins.csv");
    let ingested = automl::evaluate::ingest(&csv, None, "species", automl::core::task::TaskChoice::Auto, &[], None).unwrap();
    assert_eq!(ingested.n_rows, ingested.table.n_rows);
    let splits = automl::core::validation::make_splits(&ValidationPlan::KFold { k: 5 }, &ingested.target, 5).unwrap();
    let Some(Prediction::Classes(oof)) = board.predictions.as_deref() else { panic!("out-of-fold probabilities") };
    let mut offset = 0;
    for (fold, split) in splits.iter().enumerate() {
        let m = best_alone.iter().find(|m| m.fold == Some(fold)).unwrap();
        let mut alone = loaded.clone();
        alone.members = vec![automl::artifact::Member { weight: 1.0, ..m.clone() }];
        let Prediction::Classes(all) = alone.predict_table(&ingested.table.take(&split.valid), "valid").unwrap() else { panic!("probabilities") };
        let trial = oof.slice(ndarray::s![offset..offset + split.valid.len(), ..]);
        assert!(all.iter().zip(trial.iter()).all(|(a, b)| (a - b).abs() < 1e-12), "split {fold}");
        offset += split.valid.len();
    }
    let summary = automl::report::summary_json(&result);
    assert_eq!(summary["model"]["final_fit"], "bag");
    assert_eq!(summary["model"]["members"][0]["models"], 5);
    assert!(automl::report::summary_text(&result).contains("final fit: bagged (5 split models averaged per configuration)"));
    // A single configuration bagged is that learner, not an ensemble.
    let single = reproducible_run(&dir.path().join("single"), false);
    assert_eq!((single.artifact.members.len(), single.artifact.configurations().len()), (5, 1));
    assert_eq!(single.artifact.learner(), single.best.learner);
}

#[test]
fn the_same_data_seed_and_trial_budget_give_a_byte_identical_model() {
    let dir = tempfile::tempdir().unwrap();
    let a = reproducible_run(&dir.path().join("a"), true);
    let _b = reproducible_run(&dir.path().join("b"), true);
    assert!(a.ensemble.is_some(), "the ensemble is covered too");
    assert_eq!(a.final_fit.name(), "bag", "bagging is covered too");
    let bytes = |r: &str| std::fs::read(dir.path().join(r).join("model.automl")).unwrap();
    assert!(bytes("a") == bytes("b"), "model.automl differs between two identical runs");
}
