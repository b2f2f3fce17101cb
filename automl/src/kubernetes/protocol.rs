//! What a trial pod sends back, with no sidecar:
//!
//! - **Intermediate scores** as `name=value` lines on stdout (Katib's StdOut format). A
//!   `step=N` line sets the step of the values after it; without one, each value of a
//!   name is the next step.
//! - **The final result** as a small versioned JSON document ([`TrialReport`]) written to
//!   the container's termination message file, which the kubelet copies into the pod's
//!   status (at most 4096 bytes per container).
use serde::{Deserialize, Serialize};

use crate::trial::{TrialResult, TrialStatus};

/// Version of the [`TrialReport`] document.
pub const REPORT_VERSION: u32 = 1;

/// The kubelet keeps at most this many bytes of a container's termination message.
pub const TERMINATION_MESSAGE_LIMIT: usize = 4096;

/// Environment variable naming the termination message file (default
/// `/dev/termination-log`, the container spec's default `terminationMessagePath`).
pub const TERMINATION_PATH_ENV: &str = "AUTOML_TERMINATION_MESSAGE_PATH";

/// A trial's final result, as written to the termination message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialReport {
    /// Document version ([`REPORT_VERSION`]).
    pub v: u32,
    /// Trial number.
    pub trial: u64,
    /// How it ended.
    pub status: TrialStatus,
    /// Mean validation score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Standard deviation over folds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_std: Option<f64>,
    /// Per-fold scores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fold_scores: Vec<f64>,
    /// Seconds spent.
    pub fit_time_s: f64,
    /// Why it failed or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl TrialReport {
    /// The report of a result (its curve travels on stdout instead).
    pub fn from_result(r: &TrialResult) -> Self {
        TrialReport { v: REPORT_VERSION, trial: r.id, status: r.status, score: r.score, score_std: r.score_std, fold_scores: r.fold_scores.clone(), fit_time_s: r.fit_time_s, message: r.message.clone() }
    }

    /// JSON that fits the termination message: a long message, then the fold scores, are
    /// shortened until it does.
    pub fn to_json(&self) -> String {
        let mut r = self.clone();
        // Each round shortens the message to at most its first 100 bytes, or drops the fold
        // scores, or replaces the message: three rounds reach the limit.
        for _ in 0..4 {
            let json = serde_json::to_string(&r).unwrap_or_default();
            if json.len() <= TERMINATION_MESSAGE_LIMIT {
                return json;
            }
            match &mut r.message {
                Some(m) if m.len() > 200 => {
                    let over = json.len() - TERMINATION_MESSAGE_LIMIT;
                    let cut = m.len().saturating_sub(over + 20).max(100);
                    let cut = (0..=cut).rev().find(|&i| m.is_char_boundary(i)).unwrap_or(0);
                    m.truncate(cut);
                    m.push_str(" [truncated]");
                }
                _ if !r.fold_scores.is_empty() => r.fold_scores.clear(),
                _ => {
                    r.message = Some("[message too long]".into());
                }
            }
        }
        let bare = TrialReport { fold_scores: Vec::new(), message: Some("[report too long]".into()), ..self.clone() };
        serde_json::to_string(&bare).unwrap_or_default()
    }

    /// Parses a termination message; `None` when it is not one of ours.
    pub fn parse(text: &str) -> Result<Self, String> {
        let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| format!("the termination message is not a trial report ({e}): {}", preview(text)))?;
        let v = value.get("v").and_then(|v| v.as_u64()).unwrap_or(0);
        if v != u64::from(REPORT_VERSION) {
            return Err(format!("trial report version {v} is not understood (this controller reads version {REPORT_VERSION}); use the same automl version for the image and the controller"));
        }
        serde_json::from_value(value).map_err(|e| format!("malformed trial report ({e}): {}", preview(text)))
    }
}

fn preview(text: &str) -> String {
    let t = text.trim();
    let end = (0..=t.len().min(200)).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0);
    format!("{:?}", &t[..end])
}

/// Reads `name=value` metric lines (Katib's StdOut format) from a log, line by line.
#[derive(Debug, Default)]
pub struct MetricLines {
    step: Option<usize>,
    counts: std::collections::HashMap<String, usize>,
}

/// One value read from a log line.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// Metric name.
    pub name: String,
    /// Step (from `step=N`, or the count of values of this name so far).
    pub step: usize,
    /// The value.
    pub value: f64,
}

impl MetricLines {
    /// Values on `line`: every `name = number` in it, as Katib's default collector reads
    /// them (`([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)`); other text is ignored.
    pub fn feed(&mut self, line: &str) -> Vec<MetricValue> {
        let mut out = Vec::new();
        let b = line.as_bytes();
        let is_name = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'|';
        for (eq, _) in line.match_indices('=') {
            let mut end = eq;
            while end > 0 && b[end - 1] == b' ' {
                end -= 1;
            }
            let mut start = end;
            while start > 0 && is_name(b[start - 1]) {
                start -= 1;
            }
            let mut v = eq + 1;
            while v < b.len() && b[v] == b' ' {
                v += 1;
            }
            let mut w = v;
            while w < b.len() && (b[w].is_ascii_digit() || matches!(b[w], b'.' | b'+' | b'-' | b'e' | b'E')) {
                w += 1;
            }
            let (Some(name), Ok(value)) = ((start < end).then(|| &line[start..end]), line[v..w].parse::<f64>()) else { continue };
            // `1e999` parses as infinity: not a score.
            if !value.is_finite() {
                continue;
            }
            if name == "step" {
                if value >= 0.0 && value.fract() == 0.0 {
                    self.step = Some(value as usize);
                }
                continue;
            }
            let count = self.counts.entry(name.to_string()).or_default();
            *count += 1;
            out.push(MetricValue { name: name.to_string(), step: self.step.unwrap_or(*count), value });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_that_is_not_finite_is_not_a_score() {
        let mut p = MetricLines::default();
        assert!(p.feed("accuracy=1e999").is_empty());
        let v = p.feed("accuracy=0.5");
        assert_eq!((v.len(), v[0].step), (1, 1), "{v:?}");
    }

    #[test]
    fn a_long_message_with_many_fold_scores_is_shortened_without_underflow() {
        // The fold scores alone overflow the limit by more than the message's length.
        let r = TrialReport { v: 1, trial: 1, status: TrialStatus::Failed, score: None, score_std: None, fold_scores: vec![0.123_456_789_012_345_67; 400], fit_time_s: 1.0, message: Some("x".repeat(300)) };
        let json = r.to_json();
        assert!(json.len() <= TERMINATION_MESSAGE_LIMIT, "{}", json.len());
        let back = TrialReport::parse(&json).expect("parses");
        assert!(back.fold_scores.is_empty() && back.message.as_deref().is_some_and(|m| m.starts_with("xxx") && m.ends_with("[truncated]")), "{back:?}");
    }

    #[test]
    fn report_round_trips_and_fits_the_limit() {
        let r = TrialReport { v: 1, trial: 3, status: TrialStatus::Failed, score: None, score_std: None, fold_scores: vec![0.5; 10], fit_time_s: 1.5, message: Some("é".repeat(5000)) };
        let json = r.to_json();
        assert!(json.len() <= TERMINATION_MESSAGE_LIMIT, "{}", json.len());
        let back = TrialReport::parse(&json).expect("parses");
        assert_eq!(back.trial, 3);
        assert!(back.message.as_deref().is_some_and(|m| m.ends_with("[truncated]")));
        let ok = TrialReport { message: None, status: TrialStatus::Ok, score: Some(0.9), ..r };
        assert_eq!(TrialReport::parse(&ok.to_json()).expect("parses"), ok);
        assert!(TrialReport::parse("Error: boom").unwrap_err().contains("not a trial report"));
        assert!(TrialReport::parse(r#"{"v":2,"trial":1}"#).unwrap_err().contains("version 2"));
    }

    #[test]
    fn metric_lines_follow_katib_format() {
        let mut m = MetricLines::default();
        assert!(m.feed("epoch 1 starting").is_empty());
        let v = m.feed("accuracy=0.5 loss=1.2");
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].name.as_str(), v[0].step, v[0].value), ("accuracy", 1, 0.5));
        assert_eq!(m.feed("accuracy = 0.6")[0].step, 2);
        m.feed("step=30");
        assert_eq!(m.feed("accuracy=0.7,loss=nan")[0].step, 30);
        assert!(m.feed("path=/x=y").is_empty());
        assert_eq!(m.feed("val-auc=1e-3")[0].value, 1e-3);
    }
}
