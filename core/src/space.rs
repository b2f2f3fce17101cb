//! Search-space types: hyperparameter domains and configurations as plain data.
use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One hyperparameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// One of a set of names.
    Choice(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Float(v) => write!(f, "{}", format_float(*v)),
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Choice(s) => f.write_str(s),
        }
    }
}

fn format_float(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e5) {
        format!("{v:.3e}")
    } else {
        format!("{}", (v * 1e4).round() / 1e4)
    }
}

/// A configuration: hyperparameter name to value. Serialisable, so a trial can be sent to
/// another process as data.
pub type Hyperparams = BTreeMap<String, ParamValue>;

/// Renders a configuration as `a=1, b=gini`.
pub fn config_to_string(config: &Hyperparams) -> String {
    config.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// Renders a configuration as a JSON object of plain values.
pub fn config_to_json(config: &Hyperparams) -> serde_json::Value {
    serde_json::Value::Object(
        config
            .iter()
            .map(|(k, v)| {
                let j = match v {
                    ParamValue::Float(x) => serde_json::json!(x),
                    ParamValue::Int(i) => serde_json::json!(i),
                    ParamValue::Choice(s) => serde_json::json!(s),
                };
                (k.clone(), j)
            })
            .collect(),
    )
}

/// Reads a configuration from a JSON object of plain values (as [`config_to_json`] writes
/// it): integers become [`ParamValue::Int`], other numbers floats, strings choices.
/// [`SearchSpace::clamp`] then fits it to a learner's space.
pub fn config_from_json(value: &serde_json::Value) -> std::result::Result<Hyperparams, String> {
    let object = value.as_object().ok_or("hyperparameters are not a JSON object")?;
    object
        .iter()
        .map(|(k, v)| {
            let p = match v {
                serde_json::Value::Number(n) if n.is_i64() => ParamValue::Int(n.as_i64().unwrap_or_default()),
                serde_json::Value::Number(n) => ParamValue::Float(n.as_f64().filter(|f| f.is_finite()).ok_or(format!("'{k}' is not a finite number"))?),
                serde_json::Value::String(s) => ParamValue::Choice(s.clone()),
                other => return Err(format!("'{k}' is {other}, not a number or a string")),
            };
            Ok((k.clone(), p))
        })
        .collect()
}

/// The values a hyperparameter may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Domain {
    /// Real numbers in `[low, high]`, sampled uniformly or log-uniformly.
    Float {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
        /// Sample on a log scale.
        log: bool,
    },
    /// Integers in `[low, high]`.
    Int {
        /// Lower bound.
        low: i64,
        /// Upper bound.
        high: i64,
        /// Sample on a log scale.
        log: bool,
    },
    /// One of these names.
    Choice(Vec<String>),
}

/// A named hyperparameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name, as in configurations.
    pub name: String,
    /// Its domain.
    pub domain: Domain,
}

/// A learner's hyperparameter space.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// The hyperparameters.
    pub params: Vec<Param>,
}

impl SearchSpace {
    /// Adds a real hyperparameter.
    pub fn float(mut self, name: &str, low: f64, high: f64, log: bool) -> Self {
        self.params.push(Param { name: name.into(), domain: Domain::Float { low, high, log } });
        self
    }
    /// Adds an integer hyperparameter.
    pub fn int(mut self, name: &str, low: i64, high: i64, log: bool) -> Self {
        self.params.push(Param { name: name.into(), domain: Domain::Int { low, high: high.max(low), log } });
        self
    }
    /// Adds a categorical hyperparameter.
    pub fn choice(mut self, name: &str, options: &[&str]) -> Self {
        self.params.push(Param { name: name.into(), domain: Domain::Choice(options.iter().map(|s| s.to_string()).collect()) });
        self
    }

    /// Number of hyperparameters.
    pub fn len(&self) -> usize {
        self.params.len()
    }
    /// True with no hyperparameter.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }

    /// A configuration drawn at random.
    pub fn sample(&self, rng: &mut impl Rng) -> Hyperparams {
        let unit: Vec<f64> = self.params.iter().map(|_| rng.gen::<f64>()).collect();
        self.from_unit(&unit)
    }

    /// Maps a point of the unit cube to a configuration (one coordinate per parameter).
    pub fn from_unit(&self, unit: &[f64]) -> Hyperparams {
        self.params
            .iter()
            .zip(unit)
            .map(|(p, &u)| {
                let u = u.clamp(0.0, 1.0);
                let v = match &p.domain {
                    Domain::Float { low, high, log } => ParamValue::Float(if *log { (low.ln() + u * (high.ln() - low.ln())).exp() } else { low + u * (high - low) }.clamp(*low, *high)),
                    Domain::Int { low, high, log } => {
                        let (l, h) = (*low as f64 - 0.499, *high as f64 + 0.499);
                        let x = if *log { (l.max(0.5).ln() + u * (h.ln() - l.max(0.5).ln())).exp() } else { l + u * (h - l) };
                        ParamValue::Int((x.round() as i64).clamp(*low, *high))
                    }
                    Domain::Choice(options) => ParamValue::Choice(options[((u * options.len() as f64) as usize).min(options.len() - 1)].clone()),
                };
                (p.name.clone(), v)
            })
            .collect()
    }

    /// Maps a configuration to the unit cube (inverse of [`SearchSpace::from_unit`]).
    pub fn to_unit(&self, config: &Hyperparams) -> Vec<f64> {
        self.params
            .iter()
            .map(|p| match (&p.domain, config.get(&p.name)) {
                (Domain::Float { low, high, log }, Some(ParamValue::Float(v))) => unit_of(*v, *low, *high, *log),
                (Domain::Int { low, high, log }, Some(ParamValue::Int(v))) => {
                    let (l, h) = (*low as f64 - 0.499, *high as f64 + 0.499);
                    if *log { unit_of(*v as f64, l.max(0.5), h, true) } else { unit_of(*v as f64, l, h, false) }
                }
                (Domain::Choice(options), Some(ParamValue::Choice(s))) => {
                    let i = options.iter().position(|o| o == s).unwrap_or(0);
                    (i as f64 + 0.5) / options.len() as f64
                }
                _ => 0.5,
            })
            .collect()
    }

    /// `config` fitted to this space: each parameter's value brought inside its domain
    /// (numbers clamped to the bounds, integers rounded, an unknown choice replaced by the
    /// first), a missing one set to the middle of its domain, and names the space does not
    /// have dropped.
    pub fn clamp(&self, config: &Hyperparams) -> Hyperparams {
        let number = |v: Option<&ParamValue>| match v {
            Some(ParamValue::Float(x)) => Some(*x),
            Some(ParamValue::Int(i)) => Some(*i as f64),
            _ => None,
        };
        let middle = self.from_unit(&vec![0.5; self.params.len()]);
        self.params
            .iter()
            .map(|p| {
                let given = config.get(&p.name);
                let value = match &p.domain {
                    Domain::Float { low, high, .. } => number(given).map(|x| ParamValue::Float(x.clamp(*low, *high))),
                    Domain::Int { low, high, .. } => number(given).map(|x| ParamValue::Int((x.round() as i64).clamp(*low, *high))),
                    Domain::Choice(options) => match given {
                        Some(ParamValue::Choice(s)) if options.contains(s) => Some(ParamValue::Choice(s.clone())),
                        _ => options.first().map(|o| ParamValue::Choice(o.clone())),
                    },
                };
                (p.name.clone(), value.or_else(|| middle.get(&p.name).cloned()).unwrap_or(ParamValue::Float(0.0)))
            })
            .collect()
    }

    /// Checks that `config` names every parameter with a value inside its domain.
    pub fn validate(&self, learner: &str, config: &Hyperparams) -> Result<()> {
        for p in &self.params {
            let ok = match (&p.domain, config.get(&p.name)) {
                (Domain::Float { low, high, .. }, Some(ParamValue::Float(v))) => v.is_finite() && *v >= *low && *v <= *high,
                (Domain::Int { low, high, .. }, Some(ParamValue::Int(v))) => v >= low && v <= high,
                (Domain::Choice(o), Some(ParamValue::Choice(s))) => o.contains(s),
                (_, None) => return Err(Error::params(learner, format!("'{}' is not set", p.name))),
                _ => false,
            };
            if !ok {
                return Err(Error::params(learner, format!("'{}' = {:?} is outside {:?}", p.name, config.get(&p.name), p.domain)));
            }
        }
        Ok(())
    }
}

fn unit_of(v: f64, low: f64, high: f64, log: bool) -> f64 {
    let u = if log { (v.ln() - low.ln()) / (high.ln() - low.ln()) } else { (v - low) / (high - low) };
    if u.is_finite() { u.clamp(0.0, 1.0) } else { 0.5 }
}

/// Reads a real hyperparameter.
pub fn get_f64(config: &Hyperparams, name: &str, learner: &str) -> Result<f64> {
    match config.get(name) {
        Some(ParamValue::Float(v)) => Ok(*v),
        Some(ParamValue::Int(v)) => Ok(*v as f64),
        _ => Err(Error::params(learner, format!("'{name}' must be a number"))),
    }
}

/// Reads an integer hyperparameter.
pub fn get_usize(config: &Hyperparams, name: &str, learner: &str) -> Result<usize> {
    match config.get(name) {
        Some(ParamValue::Int(v)) if *v >= 0 => Ok(*v as usize),
        _ => Err(Error::params(learner, format!("'{name}' must be a non-negative integer"))),
    }
}

/// Reads a categorical hyperparameter.
pub fn get_str<'a>(config: &'a Hyperparams, name: &str, learner: &str) -> Result<&'a str> {
    match config.get(name) {
        Some(ParamValue::Choice(s)) => Ok(s),
        _ => Err(Error::params(learner, format!("'{name}' must be a choice"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn unit_round_trip_and_bounds() {
        let space = SearchSpace::default().float("a", 1e-4, 10.0, true).int("n", 1, 50, true).choice("c", &["x", "y", "z"]);
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        for _ in 0..200 {
            let c = space.sample(&mut rng);
            space.validate("t", &c).unwrap();
            let again = space.from_unit(&space.to_unit(&c));
            assert_eq!(again.get("n"), c.get("n"));
            assert_eq!(again.get("c"), c.get("c"));
        }
        let mut bad = space.sample(&mut rng);
        bad.insert("n".into(), ParamValue::Int(51));
        assert!(matches!(space.validate("t", &bad), Err(Error::InvalidParams { .. })));
    }
}
