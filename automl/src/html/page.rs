//! The report's page: sections in the order people read a run (what was asked and what
//! came out, the data, the search, the leaderboard, the model, its validation
//! predictions, what it relies on, the learning curves, budgets), each a picture where
//! one helps.
use std::fmt::Write;

use serde_json::Value;

use super::svg::{bars, esc, heatmap, num, Chart, Line, Mark, Point, PALETTE};
use super::{RunFolder, Validation};
use crate::trial::{TrialResult, TrialStatus};

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Most trials whose learning curves are drawn (the best ones, and those stopped early).
const CURVES: usize = 12;

/// The whole page.
pub fn render(f: &RunFolder) -> String {
    let mut body = String::new();
    header(&mut body, f);
    data_section(&mut body, f);
    search_section(&mut body, f);
    leaderboard_section(&mut body, f);
    model_section(&mut body, f);
    validation_section(&mut body, f);
    importance_section(&mut body, f);
    curves_section(&mut body, f);
    budget_section(&mut body, f);
    let title = format!("automl report: {}", target_name(f));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        esc(&title)
    )
}

fn target_name(f: &RunFolder) -> String {
    f.journal.config.get("target").and_then(Value::as_str).unwrap_or("?").to_string()
}

fn str_of<'a>(v: Option<&'a Value>, key: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(key)).and_then(Value::as_str)
}

fn header(s: &mut String, f: &RunFolder) {
    let (metric, _) = f.metric();
    let data = str_of(Some(&f.journal.config), "data").unwrap_or("?");
    let _ = write!(s, "<h1>{} <small>from {}</small></h1>", esc(&target_name(f)), esc(data));
    let state = match (&f.summary, f.journal.ended) {
        (Some(_), _) => "finished",
        (None, true) => "search ended, model not written",
        (None, false) => "running (or stopped before the end; `automl resume` continues it)",
    };
    let mut facts: Vec<(String, String)> = vec![("run".into(), state.into()), ("metric".into(), metric)];
    if let Some(sum) = &f.summary {
        facts.push(("task".into(), str_of(Some(sum), "task").unwrap_or("?").into()));
        facts.push(("rows".into(), sum.get("rows").map(Value::to_string).unwrap_or_default()));
        if let Some(m) = sum.get("model") {
            facts.push(("model".into(), format!("{} ({} fit)", str_of(Some(m), "learner").unwrap_or("?"), str_of(Some(m), "final_fit").unwrap_or("refit"))));
            facts.push(("validation score".into(), m.get("validation_score").and_then(Value::as_f64).map_or("-".into(), num)));
        }
        facts.push(("stopped by".into(), str_of(Some(sum), "stop_reason").unwrap_or("?").replace('_', " ")));
    }
    facts.push(("trials".into(), outcome_counts(f)));
    s.push_str("<dl class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(s, "<div><dt>{}</dt><dd>{}</dd></div>", esc(&k), esc(&v));
    }
    s.push_str("</dl>");
    for p in &f.problems {
        let _ = write!(s, "<p class=\"warn\">could not read: {}</p>", esc(p));
    }
}

fn outcome_counts(f: &RunFolder) -> String {
    let trials = f.trials();
    let count = |st: TrialStatus| trials.iter().filter(|(_, t)| t.status == st).count();
    let mut parts = vec![format!("{} finished", trials.len())];
    for (st, name) in [(TrialStatus::Ok, "ok"), (TrialStatus::EarlyStopped, "stopped early"), (TrialStatus::TimedOut, "timed out"), (TrialStatus::Failed, "failed")] {
        let n = count(st);
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    let open = f.unfinished().len();
    if open > 0 {
        parts.push(format!("{open} not finished"));
    }
    parts.join(", ")
}

fn data_section(s: &mut String, f: &RunFolder) {
    let Some(p) = &f.profile else { return };
    s.push_str("<section><h2>Data</h2>");
    let _ = write!(s, "<p>{} rows, {} columns.</p>", p.get("rows").map(Value::to_string).unwrap_or_default(), p.get("columns").map(Value::to_string).unwrap_or_default());
    if let Some(warnings) = p.get("warnings").and_then(Value::as_array).filter(|w| !w.is_empty()) {
        s.push_str("<h3>Warnings</h3><ul class=\"warnings\">");
        for w in warnings {
            let _ = write!(s, "<li><b>{}</b> {}</li>", esc(str_of(Some(w), "kind").unwrap_or("")), esc(str_of(Some(w), "message").unwrap_or("")));
        }
        s.push_str("</ul>");
    }
    let Some(features) = p.get("features").and_then(Value::as_array) else {
        s.push_str("</section>");
        return;
    };
    let rows: Vec<(String, f64, String)> = features.iter().map(|c| (str_of(Some(c), "name").unwrap_or("?").to_string(), 100.0 * c.get("missing_share").and_then(Value::as_f64).unwrap_or(0.0), String::new())).filter(|r| r.1 > 0.0).collect();
    if !rows.is_empty() {
        s.push_str("<h3>Missing values</h3>");
        s.push_str(&bars(&rows.iter().map(|(n, v, _)| (n.clone(), *v, format!("{n}: {v:.1}% missing"))).collect::<Vec<_>>(), "share of missing values per column", "%"));
    }
    s.push_str("<h3>Columns</h3><table class=\"sortable\"><thead><tr><th>column</th><th>kind</th><th>missing</th><th>distinct</th><th>summary</th><th>used</th></tr></thead><tbody>");
    for c in features {
        let summary = match c.get("stats").and_then(Value::as_array) {
            Some(st) if st.len() == 3 => format!("min {} · mean {} · max {}", fnum(&st[0]), fnum(&st[1]), fnum(&st[2])),
            _ => c.get("top").and_then(Value::as_array).map(|t| t.iter().take(3).filter_map(|e| e.get(0).and_then(Value::as_str)).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        };
        let dropped = str_of(Some(c), "dropped");
        let _ = write!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td data-v=\"{}\">{:.1}%</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if dropped.is_some() { " class=\"dropped\"" } else { "" },
            esc(str_of(Some(c), "name").unwrap_or("?")),
            esc(&c.get("kind").map(|k| k.as_str().map_or(k.to_string(), str::to_string)).unwrap_or_default()),
            c.get("missing_share").and_then(Value::as_f64).unwrap_or(0.0),
            100.0 * c.get("missing_share").and_then(Value::as_f64).unwrap_or(0.0),
            c.get("distinct").map(Value::to_string).unwrap_or_default(),
            esc(&summary),
            esc(&dropped.map_or("yes".to_string(), |why| format!("dropped: {why}")))
        );
    }
    s.push_str("</tbody></table></section>");
}

fn fnum(v: &Value) -> String {
    v.as_f64().map_or("-".into(), num)
}

/// Learners in order of first appearance, for colours.
fn learners(trials: &[(f64, &TrialResult)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (_, t) in trials {
        if !names.contains(&t.learner) {
            names.push(t.learner.clone());
        }
    }
    names
}

fn search_section(s: &mut String, f: &RunFolder) {
    let trials = f.trials();
    if trials.is_empty() {
        return;
    }
    let (metric, higher) = f.metric();
    let names = learners(&trials);
    let scores: Vec<f64> = trials.iter().filter_map(|(_, t)| t.score).collect();
    let worst = scores.iter().copied().fold(None, |w: Option<f64>, v| Some(w.map_or(v, |w| if higher { w.min(v) } else { w.max(v) }))).unwrap_or(0.0);
    let mut chart = Chart { x_label: "seconds of search".into(), y_label: metric.clone(), ..Chart::default() };
    let mut best: Option<f64> = None;
    let mut best_line = Vec::new();
    for (at, t) in &trials {
        let colour = names.iter().position(|n| n == &t.learner).unwrap_or(0);
        let (mark, y) = match (t.status, t.score) {
            (TrialStatus::Ok, Some(v)) => (Mark::Dot, v),
            (TrialStatus::EarlyStopped, Some(v)) => (Mark::Ring, v),
            (_, v) => (Mark::Cross, v.unwrap_or(worst)),
        };
        let title = format!("trial {} {} ({}) {metric} {} at {:.1} s{}", t.id, t.learner, t.status.name(), t.score.map_or("-".into(), num), at, t.message.as_deref().map_or(String::new(), |m| format!(": {m}")));
        chart.points.push(Point { x: *at, y, colour, mark, title });
        if t.status == TrialStatus::Ok {
            if let Some(v) = t.score.filter(|v| best.is_none_or(|b| if higher { *v > b } else { *v < b })) {
                best = Some(v);
            }
        }
        if let Some(b) = best {
            best_line.push((*at, b));
        }
    }
    chart.lines.push(Line { points: best_line, colour: "#222".into(), steps: true, dashed: false });
    chart.legend = names.iter().enumerate().map(|(i, n)| (n.clone(), PALETTE[i % PALETTE.len()].to_string())).collect();
    chart.legend.push(("best so far".into(), "#222".into()));
    s.push_str("<section><h2>Search over time</h2>");
    let _ = write!(s, "<p>Every finished trial's {} against the time it ended: dots finished, rings were stopped early by a rule, crosses failed or timed out (drawn at the worst score). The line is the best so far. Hover a mark for its trial.</p>", esc(&metric));
    s.push_str(&chart.render("search over time"));
    s.push_str("</section>");
}

fn leaderboard_section(s: &mut String, f: &RunFolder) {
    let (metric, higher) = f.metric();
    let mut trials: Vec<&TrialResult> = f.trials().into_iter().map(|(_, t)| t).collect();
    if trials.is_empty() {
        return;
    }
    let key = |t: &TrialResult| match (t.status, t.score) {
        (TrialStatus::Ok, Some(v)) => (0, if higher { -v } else { v }),
        (TrialStatus::EarlyStopped, Some(v)) => (1, if higher { -v } else { v }),
        _ => (2, 0.0),
    };
    trials.sort_by(|a, b| key(a).0.cmp(&key(b).0).then(key(a).1.total_cmp(&key(b).1)).then(a.id.cmp(&b.id)));
    s.push_str("<section><h2>Leaderboard</h2><p>Click a column to sort.</p><div class=\"scroll\"><table class=\"sortable\"><thead><tr>");
    for h in ["rank", "trial", "learner", metric.as_str(), "± std", "fit s", "status", "hyperparameters", "message"] {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr></thead><tbody>");
    for (i, t) in trials.iter().enumerate() {
        let config = crate::core::space::config_to_json(&t.config).to_string();
        let _ = write!(
            s,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td data-v=\"{}\">{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td class=\"code\">{}</td><td>{}</td></tr>",
            t.status.name(),
            i + 1,
            t.id,
            esc(&t.learner),
            t.score.map_or(String::new(), |v| v.to_string()),
            t.score.map_or("-".into(), |v| format!("{v:.5}")),
            t.score_std.map_or("-".into(), |v| format!("{v:.4}")),
            t.fit_time_s,
            t.status.name(),
            esc(&config),
            esc(t.message.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</tbody></table></div></section>");
}

fn model_section(s: &mut String, f: &RunFolder) {
    let Some(model) = &f.model else { return };
    let configurations = model.configurations();
    s.push_str("<section><h2>The model</h2>");
    let fits: Vec<&str> = configurations.iter().map(|c| c.fit()).collect();
    let how = if fits.iter().all(|f| *f == "bag") {
        format!("bagged: each configuration's {} models of the validation splits, averaged", configurations.first().map_or(0, |c| c.models))
    } else if fits.iter().all(|f| *f == "refit") {
        "refit on all rows".to_string()
    } else {
        "some configurations bagged (their split models averaged), the others refit on all rows".to_string()
    };
    if configurations.len() > 1 {
        let _ = write!(s, "<p>A weighted ensemble of {} trials, chosen by greedy forward selection on the validation predictions; {how}. Validation score {} (the best trial alone: {}).</p>", configurations.len(), num(model.validation_score), num(model.best.score));
        let rows: Vec<(String, f64, String)> = configurations
            .iter()
            .map(|c| (format!("#{} {}", c.first.trial, c.first.learner), c.weight, format!("trial {} {} ({}, {} model{}): weight {:.3}", c.first.trial, c.first.learner, c.fit(), c.models, if c.models > 1 { "s" } else { "" }, c.weight)))
            .collect();
        s.push_str(&bars(&rows, "ensemble weights", ""));
    } else {
        let _ = write!(s, "<p>Trial {} ({}), {how}. Validation score {}.</p>", model.best.trial, esc(&model.best.learner), num(model.validation_score));
    }
    let _ = write!(s, "<p class=\"code\">{}</p></section>", esc(&crate::core::space::config_to_json(&model.best.config).to_string()));
}

fn validation_section(s: &mut String, f: &RunFolder) {
    let Some(v) = &f.validation else { return };
    s.push_str("<section><h2>Validation predictions</h2>");
    let thinned = if v.truth.len() < v.rows { format!(" (every {}th of {} rows)", v.rows.div_ceil(v.truth.len().max(1)), v.rows) } else { String::new() };
    let _ = write!(s, "<p>{}{}.</p>", esc(&v.source), esc(&thinned));
    if v.labels.is_empty() {
        regression_plots(s, v);
    } else {
        classification_plots(s, v);
    }
    s.push_str("</section>");
}

fn classification_plots(s: &mut String, v: &Validation) {
    let k = v.labels.len();
    let mut counts = vec![vec![0usize; k]; k];
    for (t, p) in v.truth.iter().zip(&v.probabilities) {
        let predicted = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i);
        if let Some(row) = counts.get_mut(*t as usize) {
            row[predicted.min(k - 1)] += 1;
        }
    }
    s.push_str("<div class=\"pair\"><figure>");
    s.push_str(&heatmap(&v.labels, &counts, "confusion matrix"));
    s.push_str("<figcaption>Confusion matrix: rows are the true class, columns the predicted one (the most probable).</figcaption></figure>");
    let positive = k - 1;
    let scores: Vec<(f64, bool)> = v.truth.iter().zip(&v.probabilities).map(|(t, p)| (p.get(positive).copied().unwrap_or(0.0), *t as usize == positive)).collect();
    let (roc, auc) = roc_curve(&scores);
    let what = if k == 2 { format!("class {}", v.labels[positive]) } else { format!("class {} against the others", v.labels[positive]) };
    let chart = Chart {
        x_label: "false positive rate".into(),
        y_label: "true positive rate".into(),
        lines: vec![Line { points: roc, colour: PALETTE[0].into(), steps: false, dashed: false }, Line { points: vec![(0.0, 0.0), (1.0, 1.0)], colour: "#999".into(), steps: false, dashed: true }],
        x_range: Some((0.0, 1.0)),
        y_range: Some((0.0, 1.0)),
        ..Chart::default()
    };
    let _ = write!(s, "<figure>{}<figcaption>ROC curve of {}: area {}.</figcaption></figure></div>", chart.render("ROC curve"), esc(&what), num(auc));
}

/// The ROC curve of `(score, positive)` pairs (at most about 200 points) and its area.
pub fn roc_curve(pairs: &[(f64, bool)]) -> (Vec<(f64, f64)>, f64) {
    let mut sorted: Vec<(f64, bool)> = pairs.iter().copied().filter(|p| p.0.is_finite()).collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let positives = sorted.iter().filter(|p| p.1).count().max(1) as f64;
    let negatives = sorted.iter().filter(|p| !p.1).count().max(1) as f64;
    let (mut tp, mut fp, mut area) = (0.0, 0.0, 0.0);
    let mut points = vec![(0.0, 0.0)];
    let every = (sorted.len() / 200).max(1);
    let mut i = 0;
    while i < sorted.len() {
        // Rows with the same score move the curve together (a diagonal through a tie).
        let (x_before, y_before, score) = (fp / negatives, tp / positives, sorted[i].0);
        while i < sorted.len() && sorted[i].0 == score {
            if sorted[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        area += (fp / negatives - x_before) * (tp / positives + y_before) / 2.0;
        if i % every == 0 || i == sorted.len() {
            points.push((fp / negatives, tp / positives));
        }
    }
    (points, area)
}

fn regression_plots(s: &mut String, v: &Validation) {
    let every = (v.truth.len() / 2000).max(1);
    let pairs: Vec<(f64, f64)> = v.truth.iter().zip(&v.values).step_by(every).map(|(a, b)| (*a, *b)).collect();
    let (lo, hi) = pairs.iter().flat_map(|(a, b)| [*a, *b]).filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
    let point = |x: f64, y: f64, t: f64, p: f64| Point { x, y, colour: 0, mark: Mark::Dot, title: format!("actual {}, predicted {}", num(t), num(p)) };
    let scatter = Chart {
        x_label: "actual".into(),
        y_label: "predicted".into(),
        points: pairs.iter().map(|&(t, p)| point(t, p, t, p)).collect(),
        lines: if lo.is_finite() { vec![Line { points: vec![(lo, lo), (hi, hi)], colour: "#999".into(), steps: false, dashed: true }] } else { Vec::new() },
        ..Chart::default()
    };
    let residuals = Chart {
        x_label: "predicted".into(),
        y_label: "actual − predicted".into(),
        points: pairs.iter().map(|&(t, p)| point(p, t - p, t, p)).collect(),
        lines: if lo.is_finite() { vec![Line { points: vec![(lo, 0.0), (hi, 0.0)], colour: "#999".into(), steps: false, dashed: true }] } else { Vec::new() },
        ..Chart::default()
    };
    let _ = write!(s, "<div class=\"pair\"><figure>{}<figcaption>Predicted against actual; the dashed line is a perfect prediction.</figcaption></figure>", scatter.render("predicted against actual"));
    let _ = write!(s, "<figure>{}<figcaption>Residuals against the prediction.</figcaption></figure></div>", residuals.render("residuals"));
}

fn importance_section(s: &mut String, f: &RunFolder) {
    match f.validation.as_ref().and_then(|v| v.importance.as_ref()) {
        Some(i) => measured_importance(s, i),
        None => gain_importance(s, f),
    }
}

/// Mean |TreeSHAP| and permutation importance, as the run measured them.
fn measured_importance(s: &mut String, i: &crate::html::Importances) {
    s.push_str("<section><h2>What the model relies on</h2>");
    let bars_of = |columns: &[crate::explain::Importance], what: &str| -> Vec<(String, f64, String)> {
        columns.iter().take(20).map(|c| (c.column.clone(), c.importance, format!("{}: {what} {}{}", c.column, num(c.importance), if c.std > 0.0 { format!(" ± {}", num(c.std)) } else { String::new() }))).collect()
    };
    if let Some(p) = &i.shap {
        let whose = if p.whole_model { "the model".to_string() } else { format!("the model's largest tree configuration (trial {})", p.trials.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")) };
        let _ = write!(s, "<h3>TreeSHAP</h3><p>Mean absolute contribution of each input column to the {} of {whose}, exact TreeSHAP on {} training rows. <code>automl explain</code> writes every row's contributions.</p>", esc(if p.space == "margin" { "log-odds (margin)" } else { &p.space }), p.rows);
        s.push_str(&bars(&bars_of(&p.columns, "mean |SHAP|"), "mean absolute SHAP value per column", ""));
    }
    if let Some(p) = &i.permutation {
        let _ = write!(s, "<h3>Permutation importance</h3><p>How much {} gets worse when a column's values are shuffled among {} validation rows, each predicted by the models of its validation split, which did not train on it: a bagged configuration's own, a refit one's from its trial ({} shuffles; {} {} as given).</p>", esc(&p.metric), p.rows, p.repeats, esc(&p.metric), num(p.score));
        s.push_str(&bars(&bars_of(&p.columns, "score lost"), "permutation importance per column", ""));
    }
    for note in &i.notes {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(note));
    }
    s.push_str("</section>");
}

/// The booster's split gain, for run folders written before importance was measured.
fn gain_importance(s: &mut String, f: &RunFolder) {
    let Some(model) = &f.model else { return };
    let importance = model.feature_importance();
    if importance.is_empty() {
        return;
    }
    let total: f64 = importance.iter().map(|i| i.1).sum::<f64>().max(f64::MIN_POSITIVE);
    let rows: Vec<(String, f64, String)> = importance.iter().take(20).map(|(name, gain, splits)| (name.clone(), 100.0 * gain / total, format!("{name}: {:.1}% of the split gain, {splits} splits", 100.0 * gain / total))).collect();
    s.push_str("<section><h2>What the model relies on</h2><p>Share of the booster's split gain per input column after preprocessing (its largest member).</p>");
    s.push_str(&bars(&rows, "feature importance", "%"));
    s.push_str("</section>");
}

fn curves_section(s: &mut String, f: &RunFolder) {
    let (metric, higher) = f.metric();
    let mut trials: Vec<&TrialResult> = f.trials().into_iter().map(|(_, t)| t).filter(|t| t.curve.len() > 1).collect();
    if trials.is_empty() {
        return;
    }
    let loss = |t: &TrialResult| t.score.map_or(f64::INFINITY, |v| if higher { -v } else { v });
    trials.sort_by(|a, b| (a.status != TrialStatus::EarlyStopped).cmp(&(b.status != TrialStatus::EarlyStopped)).then(loss(a).total_cmp(&loss(b))));
    let stopped: Vec<&TrialResult> = trials.iter().filter(|t| t.status == TrialStatus::EarlyStopped).take(CURVES / 2).copied().collect();
    let mut best: Vec<&TrialResult> = trials.iter().filter(|t| t.status != TrialStatus::EarlyStopped).copied().collect();
    best.sort_by(|a, b| loss(a).total_cmp(&loss(b)));
    let shown: Vec<&TrialResult> = best.into_iter().take(CURVES - stopped.len()).chain(stopped).collect();
    let mut chart = Chart { x_label: "step (boosting round, or fold)".into(), y_label: metric.clone(), ..Chart::default() };
    for (i, t) in shown.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()].to_string();
        chart.lines.push(Line { points: t.curve.iter().map(|&(x, y)| (x as f64, y)).collect(), colour, steps: false, dashed: t.status == TrialStatus::EarlyStopped });
        if let Some(&(x, y)) = t.curve.last() {
            let title = format!("trial {} {} ({}){}", t.id, t.learner, t.status.name(), t.message.as_deref().map_or(String::new(), |m| format!(": {m}")));
            chart.points.push(Point { x: x as f64, y, colour: i, mark: if t.status == TrialStatus::EarlyStopped { Mark::Ring } else { Mark::Dot }, title });
        }
    }
    s.push_str("<section><h2>Learning curves</h2><p>The intermediate scores the stopping rules judged: the best trials solid, those a rule stopped dashed (hover the end of a curve for the rule).</p>");
    s.push_str(&chart.render("learning curves"));
    s.push_str("</section>");
}

fn budget_section(s: &mut String, f: &RunFolder) {
    let config = &f.journal.config;
    s.push_str("<section><h2>Budgets</h2><table><tbody>");
    let row = |s: &mut String, k: &str, v: String| {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    };
    let opt = |key: &str| config.get(key).filter(|v| !v.is_null()).map_or("none".to_string(), |v| v.to_string());
    row(s, "time budget (s)", opt("time_budget"));
    row(s, "max trials", opt("max_trials"));
    row(s, "target score", opt("target_score"));
    row(s, "patience", opt("patience"));
    row(s, "search time used (s)", format!("{:.1}", f.journal.spent_s));
    if let Some(sum) = &f.summary {
        if let Some(sec) = sum.get("seconds") {
            row(s, "final fit (s)", sec.get("refit").and_then(Value::as_f64).map_or("-".into(), |v| format!("{v:.2}")));
            row(s, "total (s)", sec.get("total").and_then(Value::as_f64).map_or("-".into(), |v| format!("{v:.1}")));
        }
        row(s, "stopped by", str_of(Some(sum), "stop_reason").unwrap_or("?").replace('_', " "));
    }
    s.push_str("</tbody></table>");
    if let Some(notes) = f.summary.as_ref().and_then(|v| v.get("notes")).and_then(Value::as_array).filter(|n| !n.is_empty()) {
        s.push_str("<h3>Notes</h3><ul>");
        for n in notes {
            let _ = write!(s, "<li>{}</li>", esc(n.as_str().unwrap_or("")));
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::roc_curve;

    #[test]
    fn roc_area_is_one_for_a_perfect_ranking_and_a_half_for_ties() {
        let perfect: Vec<(f64, bool)> = (0..10).map(|i| (i as f64, i >= 5)).collect();
        assert!((roc_curve(&perfect).1 - 1.0).abs() < 1e-12);
        let ties: Vec<(f64, bool)> = (0..10).map(|i| (0.5, i % 2 == 0)).collect();
        assert!((roc_curve(&ties).1 - 0.5).abs() < 1e-12);
        let reversed: Vec<(f64, bool)> = (0..10).map(|i| (i as f64, i < 5)).collect();
        assert!(roc_curve(&reversed).1.abs() < 1e-12);
    }
}
