//! Fits the engine's booster on a train CSV and scores a test CSV, printing one JSON line
//! (fit seconds, score, rounds); used by `examples/bench/gbdt_vs_lightgbm.py`.
//!
//!     cargo run --release -p automl --example gbdt_bench -- TRAIN.csv TEST.csv TARGET TASK THREADS [ROUNDS]
//!
//! TASK is binary, multiclass or regression. Text columns become native categories.
use std::time::Instant;

use automl::core::data::{read_csv, CsvOptions};
use automl::core::gbdt::{Booster, GbdtParams, Objective};
use automl::core::preprocess::{Encoding, Pipeline};
use automl::core::profile::ColumnKind;
use automl::core::task::{prepare_target, TaskChoice};
use anyhow::{bail, Context};

fn main() -> anyhow::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        bail!("usage: gbdt_bench TRAIN TEST TARGET TASK THREADS [ROUNDS]");
    }
    let (train, test, target, task, threads) = (&a[1], &a[2], &a[3], a[4].as_str(), a[5].parse::<usize>()?);
    let rounds = a.get(6).map_or(Ok(100), |s| s.parse::<usize>())?;
    let options = CsvOptions { text_columns: vec![target.clone()], ..CsvOptions::default() };
    let mut tr = read_csv(train.as_ref(), &options)?;
    let mut te = read_csv(test.as_ref(), &options)?;
    let choice = match task {
        "binary" => TaskChoice::Binary,
        "multiclass" => TaskChoice::Multiclass,
        _ => TaskChoice::Regression,
    };
    let ty = prepare_target(target, &tr.remove(target)?, choice)?;
    let vy = prepare_target(target, &te.remove(target)?, choice)?;
    let features: Vec<(String, ColumnKind)> = tr
        .names
        .iter()
        .zip(&tr.columns)
        .map(|(n, c)| (n.clone(), if matches!(c, automl::core::data::Column::Str(_)) { ColumnKind::Categorical } else { ColumnKind::Numeric }))
        .collect();
    let pipeline = Pipeline::fit(&tr, &ty.rows, &features, Encoding::Trees)?;
    let x = pipeline.transform(&tr, Some(&ty.rows))?;
    let xt = pipeline.transform(&te, Some(&vy.rows))?;
    // Test labels must use the training label order.
    let (y, yt): (Vec<f64>, Vec<f64>) = match (&ty.target, &vy.target) {
        (automl::core::task::Target::Classes { labels, codes }, automl::core::task::Target::Classes { labels: tl, codes: tc }) => {
            let map: Vec<f64> = tl.iter().map(|l| labels.iter().position(|x| x == l).map_or(-1.0, |i| i as f64)).collect();
            (codes.iter().map(|&c| c as f64).collect(), tc.iter().map(|&c| map[c]).collect())
        }
        _ => (ty.target.as_f64(), vy.target.as_f64()),
    };
    let objective = match (task, ty.target.n_classes()) {
        ("regression", _) => Objective::SquaredError,
        (_, 2) => Objective::Logistic,
        (_, k) => Objective::Softmax { k },
    };
    let params = GbdtParams { num_rounds: rounds, threads, ..GbdtParams::default() };
    let start = Instant::now();
    let booster = Booster::fit(&params, objective, x.view(), &y, pipeline.categorical(), None, &mut |_, _, _| true).map_err(anyhow::Error::msg).context("fit")?;
    let fit_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let p = booster.predict(xt.view());
    let predict_s = start.elapsed().as_secs_f64();
    let score = match objective {
        Objective::SquaredError => {
            let mean = yt.iter().sum::<f64>() / yt.len() as f64;
            let res: f64 = yt.iter().zip(p.column(0)).map(|(a, b)| (a - b).powi(2)).sum();
            let tot: f64 = yt.iter().map(|a| (a - mean).powi(2)).sum();
            1.0 - res / tot
        }
        Objective::Logistic => yt.iter().zip(p.column(0)).filter(|(t, q)| (**q > 0.5) == (**t == 1.0)).count() as f64 / yt.len() as f64,
        Objective::Softmax { .. } => {
            yt.iter().enumerate().filter(|(i, t)| p.row(*i).iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0 as f64) == Some(**t)).count() as f64 / yt.len() as f64
        }
    };
    let peak = automl::report::peak_rss_mb();
    println!("{}", serde_json::json!({ "fit_s": fit_s, "predict_s": predict_s, "score": score, "rounds": booster.trees.len(), "peak_rss_mb": peak }));
    Ok(())
}
