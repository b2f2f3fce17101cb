//! Early-stopping rules for trials, swappable behind one small trait.

/// Decides from intermediate results whether a running trial should stop.
///
/// Values are losses (smaller is better): the runner converts scores by the metric's
/// direction. `curve` is the running trial's `(step, loss)` history on the validation rows,
/// `train` the same loss on its training rows at the same steps (empty for learners that
/// do not report it), `completed` the validation curves of finished trials.
pub trait StoppingRule: Send + Sync {
    /// Name, for reports.
    fn name(&self) -> &str;
    /// True when the trial should stop now.
    fn should_stop(&self, curve: &[(usize, f64)], train: &[(usize, f64)], completed: &[Vec<(usize, f64)>]) -> bool;
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

    fn should_stop(&self, curve: &[(usize, f64)], _train: &[(usize, f64)], completed: &[Vec<(usize, f64)>]) -> bool {
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

/// Stops a trial whose loss has not improved over its last `window` reports: the "loss not
/// decreasing" rule of SageMaker Debugger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoImprovement {
    /// Reports without a new best before the trial stops.
    pub window: usize,
}

impl Default for NoImprovement {
    fn default() -> Self {
        NoImprovement { window: 3 }
    }
}

impl StoppingRule for NoImprovement {
    fn name(&self) -> &str {
        "no-improvement"
    }

    fn should_stop(&self, curve: &[(usize, f64)], _train: &[(usize, f64)], _completed: &[Vec<(usize, f64)>]) -> bool {
        if curve.len() <= self.window {
            return false;
        }
        let (before, recent) = curve.split_at(curve.len() - self.window);
        let best_before = before.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
        recent.iter().all(|(_, v)| *v >= best_before)
    }
}

/// Stops a trial that is overfitting: over its last `window` reports the gap between
/// validation and training loss widened at every report, and the validation loss is now
/// worse than its best by more than `tolerance` (relative): the "overfit" rule of
/// SageMaker Debugger. A plateau with noise is not overfitting. Needs training scores, which the
/// boosting learner reports on a holdout; for other learners it never stops anything.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overfitting {
    /// Reports of a widening gap before the trial stops.
    pub window: usize,
    /// How much worse than its best the validation loss must be, relative to the best
    /// (0.01: 1%).
    pub tolerance: f64,
}

impl Default for Overfitting {
    fn default() -> Self {
        Overfitting { window: 3, tolerance: 0.01 }
    }
}

impl StoppingRule for Overfitting {
    fn name(&self) -> &str {
        "overfitting"
    }

    fn should_stop(&self, curve: &[(usize, f64)], train: &[(usize, f64)], _completed: &[Vec<(usize, f64)>]) -> bool {
        // (validation loss, gap) at the steps reported on both sides.
        let points: Vec<(f64, f64)> = curve.iter().filter_map(|&(step, valid)| train.iter().find(|(s, _)| *s == step).map(|&(_, t)| (valid, valid - t))).collect();
        if self.window == 0 || points.len() <= self.window {
            return false;
        }
        let window = &points[points.len() - self.window - 1..];
        let widening = window.windows(2).all(|w| w[1].1 > w[0].1);
        let best = points.iter().map(|(v, _)| *v).fold(f64::INFINITY, f64::min);
        let last = points[points.len() - 1].0;
        widening && last - best > self.tolerance * best.abs().max(f64::EPSILON)
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
    /// [`Overfitting`].
    Overfitting,
}

impl std::str::FromStr for BuiltinRule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "median" => Ok(BuiltinRule::Median),
            "no-improvement" => Ok(BuiltinRule::NoImprovement),
            "overfitting" => Ok(BuiltinRule::Overfitting),
            other => Err(format!("unknown stopping rule '{other}'; known: median, no-improvement, overfitting")),
        }
    }
}

/// The built-in rules, for `automl plugin list`: `(name, kind, description)`. Data rules
/// run while profiling and show as warnings.
pub fn builtin_rules() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("median", "stopping-rule", "Katib's median rule: stop a trial whose best is worse than the median of finished trials' running averages at the same step (default)"),
        ("no-improvement", "stopping-rule", "loss not decreasing: stop a trial whose last 3 reports did not beat its earlier best (--stopping-rule no-improvement)"),
        ("overfitting", "stopping-rule", "overfit: stop a trial whose train/validation gap widened over its last 3 reports while its validation loss rose over 1% above its best (boosting on a holdout; --stopping-rule overfitting)"),
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
        assert!(!rule.should_stop(&[(1, 0.9)], &[], &done), "before start_step");
        assert!(rule.should_stop(&[(1, 0.9), (2, 0.55)], &[], &done));
        assert!(!rule.should_stop(&[(1, 0.9), (2, 0.5)], &[], &done), "equal to the median is not worse");
        assert!(!rule.should_stop(&[(1, 0.9), (2, 0.9)], &[], &done[..2]), "too few completed trials");
    }

    #[test]
    fn no_improvement_waits_for_a_window_of_reports() {
        let rule = NoImprovement { window: 2 };
        assert!(!rule.should_stop(&[(1, 0.5), (2, 0.6)], &[], &[]), "too few reports");
        assert!(rule.should_stop(&[(1, 0.5), (2, 0.6), (3, 0.5)], &[], &[]), "no report beat 0.5");
        assert!(!rule.should_stop(&[(1, 0.5), (2, 0.6), (3, 0.4)], &[], &[]), "0.4 is a new best");
    }

    #[test]
    fn overfitting_needs_a_widening_gap_and_a_worse_validation_loss() {
        let rule = Overfitting { window: 2, tolerance: 0.01 };
        let steps = |v: &[f64]| v.iter().enumerate().map(|(i, &x)| (10 * (i + 1), x)).collect::<Vec<_>>();
        // Training loss falls, validation loss rises: gaps 0.1, 0.3, 0.5.
        let (valid, train) = (steps(&[0.5, 0.6, 0.7]), steps(&[0.4, 0.3, 0.2]));
        assert!(rule.should_stop(&valid, &train, &[]));
        assert!(!rule.should_stop(&valid[..2], &train[..2], &[]), "too few reports");
        assert!(!rule.should_stop(&valid, &[], &[]), "no training scores: never stops");
        // The gap widens but validation still improves: healthy learning.
        let (valid, train) = (steps(&[0.5, 0.45, 0.4]), steps(&[0.4, 0.3, 0.2]));
        assert!(!rule.should_stop(&valid, &train, &[]));
        // A plateau, even a noisy one, is not overfitting yet.
        let (valid, train) = (steps(&[0.5, 0.5, 0.5]), steps(&[0.4, 0.3, 0.2]));
        assert!(!rule.should_stop(&valid, &train, &[]));
        let (valid, train) = (steps(&[0.5, 0.501, 0.502]), steps(&[0.4, 0.3, 0.2]));
        assert!(!rule.should_stop(&valid, &train, &[]));
        // Validation gets worse but the gap narrows once: not yet.
        let (valid, train) = (steps(&[0.5, 0.6, 0.7]), steps(&[0.4, 0.1, 0.35]));
        assert!(!rule.should_stop(&valid, &train, &[]));
        // Steps are matched, not positions: a missing training step breaks the run.
        let train = vec![(10, 0.4), (30, 0.2)];
        assert!(!rule.should_stop(&steps(&[0.5, 0.6, 0.7]), &train, &[]));
    }
}
