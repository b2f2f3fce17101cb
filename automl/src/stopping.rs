//! Early-stopping rules for trials, swappable behind one small trait.

/// Decides from intermediate results whether a running trial should stop.
///
/// Values are losses (smaller is better): the runner converts scores by the metric's
/// direction. `curve` is the running trial's `(step, loss)` history, `completed` the curves
/// of finished trials.
pub trait StoppingRule: Send + Sync {
    /// Name, for reports.
    fn name(&self) -> &str;
    /// True when the trial should stop now.
    fn should_stop(&self, curve: &[(usize, f64)], completed: &[Vec<(usize, f64)>]) -> bool;
}

/// Katib's median stopping rule: at a step at or after `start_step`, once `min_trials`
/// trials have completed, stop a trial whose best value so far is strictly worse than the
/// median of the completed trials' running averages up to the same step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MedianStop {
    /// Completed trials needed before any trial is stopped (Katib default 3).
    pub min_trials: usize,
    /// First step at which a trial may be stopped (Katib default 1).
    pub start_step: usize,
}

impl Default for MedianStop {
    fn default() -> Self {
        MedianStop { min_trials: 3, start_step: 1 }
    }
}

impl StoppingRule for MedianStop {
    fn name(&self) -> &str {
        "median"
    }

    fn should_stop(&self, curve: &[(usize, f64)], completed: &[Vec<(usize, f64)>]) -> bool {
        let Some(&(step, _)) = curve.last() else { return false };
        if step < self.start_step {
            return false;
        }
        let mut averages: Vec<f64> = completed
            .iter()
            .filter_map(|c| {
                let upto: Vec<f64> = c.iter().filter(|(s, _)| *s <= step).map(|(_, v)| *v).collect();
                (!upto.is_empty()).then(|| upto.iter().sum::<f64>() / upto.len() as f64)
            })
            .collect();
        if averages.len() < self.min_trials {
            return false;
        }
        averages.sort_by(f64::total_cmp);
        let n = averages.len();
        let median = if n % 2 == 1 { averages[n / 2] } else { (averages[n / 2 - 1] + averages[n / 2]) / 2.0 };
        let best = curve.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
        best > median
    }
}

/// Stops a trial whose loss has not improved for `patience` reports: the "loss not
/// decreasing" rule of SageMaker Debugger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoImprovement {
    /// Reports without a new best before the trial stops.
    pub patience: usize,
}

impl Default for NoImprovement {
    fn default() -> Self {
        NoImprovement { patience: 3 }
    }
}

impl StoppingRule for NoImprovement {
    fn name(&self) -> &str {
        "no-improvement"
    }

    fn should_stop(&self, curve: &[(usize, f64)], _completed: &[Vec<(usize, f64)>]) -> bool {
        if curve.len() <= self.patience {
            return false;
        }
        let (before, recent) = curve.split_at(curve.len() - self.patience);
        let best_before = before.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
        recent.iter().all(|(_, v)| *v >= best_before)
    }
}

/// A built-in rule selectable by name (`--stopping-rule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinRule {
    /// [`MedianStop`].
    #[default]
    Median,
    /// [`NoImprovement`].
    NoImprovement,
}

impl std::str::FromStr for BuiltinRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "median" => Ok(BuiltinRule::Median),
            "no-improvement" => Ok(BuiltinRule::NoImprovement),
            other => Err(format!("unknown stopping rule '{other}'; known: median, no-improvement")),
        }
    }
}

/// The built-in rules, for `automl plugin list`: `(name, kind, description)`. Data rules
/// run while profiling and show as warnings.
pub fn builtin_rules() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("median", "stopping-rule", "Katib's median rule: stop a trial whose best is worse than the median of finished trials' running averages at the same step (default)"),
        ("no-improvement", "stopping-rule", "loss not decreasing: stop a trial whose last 3 reports did not beat its earlier best (--stopping-rule no-improvement)"),
        ("class-imbalance", "data-rule", "warn when the rarest class is much smaller than the most common (profile warning class_imbalance)"),
        ("leakage", "data-rule", "warn when a feature predicts the target almost perfectly on its own (profile warning leakage)"),
        ("id-like", "data-rule", "drop and warn about columns with a distinct value per row (profile warning id_like)"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_stop_follows_katib_semantics() {
        let rule = MedianStop { min_trials: 3, start_step: 2 };
        let done = vec![vec![(1, 0.5), (2, 0.3)], vec![(1, 0.6), (2, 0.4)], vec![(1, 0.7), (2, 0.5)]];
        // Running averages at step 2: 0.4, 0.5, 0.6 -> median 0.5.
        assert!(!rule.should_stop(&[(1, 0.9)], &done), "before start_step");
        assert!(rule.should_stop(&[(1, 0.9), (2, 0.55)], &done));
        assert!(!rule.should_stop(&[(1, 0.9), (2, 0.5)], &done), "equal to the median is not worse");
        assert!(!rule.should_stop(&[(1, 0.9), (2, 0.9)], &done[..2]), "too few completed trials");
    }

    #[test]
    fn no_improvement_waits_for_patience_reports() {
        let rule = NoImprovement { patience: 2 };
        assert!(!rule.should_stop(&[(1, 0.5), (2, 0.6)], &[]), "too few reports");
        assert!(rule.should_stop(&[(1, 0.5), (2, 0.6), (3, 0.5)], &[]), "no report beat 0.5");
        assert!(!rule.should_stop(&[(1, 0.5), (2, 0.6), (3, 0.4)], &[]), "0.4 is a new best");
    }
}
