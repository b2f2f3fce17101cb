//! The zero-shot portfolio: configurations chosen offline to cover many datasets (as
//! TabRepo, AutoGluon's presets and FLAML's default configurations are), tried after the
//! first trial. `examples/bench/portfolio.py` builds `portfolio.json` from datasets that
//! are not the benchmark's, and says how.
use automl_core::space::config_from_json;
use automl_core::task::Task;

use super::Suggestion;

const PORTFOLIO: &str = include_str!("portfolio.json");

/// The portfolio's entries for `task`, in order, of the learners in `learners`.
pub fn entries(task: Task, learners: &[&str]) -> Vec<Suggestion> {
    let kind = if task == Task::Regression { "regression" } else { "classification" };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(PORTFOLIO) else { return Vec::new() };
    let Some(list) = value.get(kind).and_then(|l| l.as_array()) else { return Vec::new() };
    list.iter()
        .filter_map(|e| {
            let learner = e.get("learner")?.as_str()?;
            let config = config_from_json(e.get("hyperparameters")?).ok()?;
            learners.contains(&learner).then(|| Suggestion { learner: learner.to_string(), config })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_portfolio_parses_and_names_only_known_learners() {
        let value: serde_json::Value = serde_json::from_str(PORTFOLIO).expect("portfolio.json is JSON");
        let known: Vec<String> = automl_core::learners::all_learners().iter().map(|l| l.name().to_string()).collect();
        for kind in ["classification", "regression"] {
            for e in value[kind].as_array().expect("a list per task kind") {
                let learner = e["learner"].as_str().expect("a learner name");
                assert!(known.iter().any(|k| k == learner), "{learner}");
                config_from_json(&e["hyperparameters"]).expect("hyperparameters");
            }
        }
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        assert_eq!(entries(Task::Binary, &names).len(), value["classification"].as_array().map_or(0, Vec::len));
    }
}
