//! The per-query model: logistic regression over standardised [`crate::features`], with the
//! benign bigram table the features need. Linear on purpose: each feature's contribution
//! (weight × standardised value) is its share of the score, so every alert can say why.
//!
//! The model file is JSON (`model/detect-model.json`, written by `tools/detect/train.py`),
//! embedded in the binary and overridable by configuration:
//!
//! ```json
//! {"version": 1,
//!  "query": {"features": [...], "mean": [...], "scale": [...], "weights": [...], "bias": 0.0,
//!            "threshold": 0.9, "bigrams": {"alphabet": "ab...9-", "table": [[...], ...]}},
//!  "domain": {...}}
//! ```
//!
//! `"domain"` is the per-domain model ([`crate::domain`], written by
//! `tools/detect/train_domain.py`); a file without it is refused.

use std::fmt;

use serde::Deserialize;

use crate::domain::{DomainModel, DomainModelError};
use crate::features::{BIGRAM_ALPHABET, Bigrams, FEATURE_LABELS, FEATURE_NAMES, FEATURES, FLAG};

/// The model shipped with this crate.
pub static EMBEDDED_MODEL: &str = include_str!("../model/detect-model.json");

/// The file format version this code reads.
pub const MODEL_VERSION: u32 = 1;

/// The trained per-query model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    mean: [f32; FEATURES],
    /// Weight divided by scale: the contribution of one raw unit, so scoring multiplies only.
    per_unit: [f32; FEATURES],
    /// `bias − Σ per_unit·mean`: the standardisation folded in, so the linear score is the
    /// raw features' dot product with `per_unit` plus this (twenty multiply-adds, no
    /// subtraction per feature).
    folded_bias: f32,
    threshold: f32,
    bigrams: Bigrams,
    /// The per-domain model, from the same file.
    domain: DomainModel,
}

/// Why a model file was refused.
#[derive(Debug)]
pub enum ModelError {
    /// Not JSON, or not the expected shape.
    Json(serde_json::Error),
    /// A version this code does not read.
    Version(u32),
    /// The feature list differs from this build's [`FEATURE_NAMES`].
    Features,
    /// A vector's length is not the number of features.
    Length(&'static str),
    /// A number is not finite, or a scale is not positive.
    Value(&'static str),
    /// The bigram alphabet or table does not have this build's shape.
    Bigrams,
    /// The `"domain"` part is wrong.
    Domain(DomainModelError),
    /// The file has no `"domain"` part: the per-domain layer cannot run without one.
    MissingDomain,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::Json(e) => write!(f, "model file: {e}"),
            ModelError::Version(v) => {
                write!(
                    f,
                    "model file version {v}, this build reads {MODEL_VERSION}"
                )
            }
            ModelError::Features => write!(
                f,
                "model features differ from this build's (retrain: tools/detect/train.py)"
            ),
            ModelError::Length(what) => write!(f, "model: {what} needs {FEATURES} numbers"),
            ModelError::Value(what) => write!(f, "model: {what} has a value out of range"),
            ModelError::Bigrams => write!(f, "model: bigram alphabet or table has the wrong shape"),
            ModelError::Domain(e) => write!(f, "model, domain part: {e}"),
            ModelError::MissingDomain => write!(
                f,
                "model file has no \"domain\" part (train it: tools/detect/train_domain.py)"
            ),
        }
    }
}

impl std::error::Error for ModelError {}

#[derive(Deserialize)]
struct FileTop {
    version: u32,
    query: FileQuery,
    /// Read by [`DomainModel::from_json`] from the same text.
    domain: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct FileQuery {
    features: Vec<String>,
    mean: Vec<f32>,
    scale: Vec<f32>,
    weights: Vec<f32>,
    bias: f32,
    threshold: f32,
    bigrams: FileBigrams,
}

#[derive(Deserialize)]
struct FileBigrams {
    alphabet: String,
    table: Vec<Vec<f32>>,
}

fn array(v: &[f32], what: &'static str) -> Result<[f32; FEATURES], ModelError> {
    let a: [f32; FEATURES] = v.try_into().map_err(|_| ModelError::Length(what))?;
    if a.iter().any(|x| !x.is_finite()) {
        return Err(ModelError::Value(what));
    }
    Ok(a)
}

/// A query's score, and what an explanation needs: the features that pushed it up most are
/// found only when asked ([`QueryScore::explain`]), since almost no query is ever explained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryScore<'m> {
    /// Logistic probability that the query carries tunnelled data, 0 to 1.
    pub score: f32,
    model: &'m Model,
    /// The raw features scored (a copy: 80 bytes, cheaper than the contributions).
    features: [f32; FEATURES],
}

impl QueryScore<'_> {
    /// The three largest contributions, largest first: (feature index, weight × standardised
    /// value, raw value). Only positive ones are reasons.
    pub fn top(&self) -> [(usize, f32, f32); 3] {
        let none = (0usize, f32::NEG_INFINITY, 0f32);
        let mut top = [none; 3];
        for (i, ((&x, &w), &m)) in self
            .features
            .iter()
            .zip(&self.model.per_unit)
            .zip(&self.model.mean)
            .enumerate()
        {
            let item = (i, w * (x - m), x);
            if let Some(at) = top.iter().position(|t| item.1 > t.1) {
                top.copy_within(at..2, at + 1);
                top[at] = item;
            }
        }
        top
    }

    /// "score 0.97: entropy 4.6 bits (+3.1), left part 112 bytes (+2.4), ...": the features
    /// that raised the score, with their values.
    pub fn explain(&self) -> impl fmt::Display + use<> {
        Explain {
            score: self.score,
            top: self.top(),
        }
    }
}

struct Explain {
    score: f32,
    /// (feature, contribution, raw value), largest contribution first.
    top: [(usize, f32, f32); 3],
}

impl fmt::Display for Explain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "score {:.2}", self.score)?;
        let mut sep = ": ";
        for &(i, c, v) in &self.top {
            if c <= 0.0 {
                continue;
            }
            let Some(&(label, unit, decimals)) = FEATURE_LABELS.get(i) else {
                continue;
            };
            if unit == FLAG {
                write!(f, "{sep}{label} (+{c:.1})")?;
            } else {
                write!(f, "{sep}{label} {v:.decimals$}{unit} (+{c:.1})")?;
            }
            sep = ", ";
        }
        Ok(())
    }
}

impl Model {
    /// Reads a model file's `"query"` part.
    pub fn from_json(text: &str) -> Result<Model, ModelError> {
        let top: FileTop = serde_json::from_str(text).map_err(ModelError::Json)?;
        if top.version != MODEL_VERSION {
            return Err(ModelError::Version(top.version));
        }
        let q = top.query;
        if q.features.len() != FEATURES || q.features.iter().zip(FEATURE_NAMES).any(|(a, b)| a != b)
        {
            return Err(ModelError::Features);
        }
        let scale = array(&q.scale, "scale")?;
        if scale.iter().any(|&s| s <= 0.0) {
            return Err(ModelError::Value("scale"));
        }
        if !q.bias.is_finite() || !(0.0..=1.0).contains(&q.threshold) {
            return Err(ModelError::Value("bias or threshold"));
        }
        if q.bigrams.alphabet != BIGRAM_ALPHABET {
            return Err(ModelError::Bigrams);
        }
        let bigrams = Bigrams::from_rows(&q.bigrams.table).ok_or(ModelError::Bigrams)?;
        if top.domain.is_none() {
            return Err(ModelError::MissingDomain);
        }
        let domain = DomainModel::from_json(text).map_err(ModelError::Domain)?;
        let mean = array(&q.mean, "mean")?;
        let weights = array(&q.weights, "weights")?;
        let per_unit: [f32; FEATURES] = std::array::from_fn(|i| weights[i] / scale[i]);
        // Summed in f64: one rounding instead of twenty.
        let shift: f64 = per_unit
            .iter()
            .zip(&mean)
            .map(|(&w, &m)| f64::from(w) * f64::from(m))
            .sum();
        Ok(Model {
            domain,
            mean,
            per_unit,
            folded_bias: (f64::from(q.bias) - shift) as f32,
            threshold: q.threshold,
            bigrams,
        })
    }

    /// The model shipped in the binary.
    pub fn embedded() -> Result<Model, ModelError> {
        Model::from_json(EMBEDDED_MODEL)
    }

    /// The per-domain model of the same file.
    pub fn domain(&self) -> &DomainModel {
        &self.domain
    }

    /// One line for `portcullis check`: what the file holds.
    pub fn summary(&self) -> String {
        format!(
            "version {MODEL_VERSION}: query model of {FEATURES} features (threshold {:.3}), \
             domain model of {} features (threshold {:.3})",
            self.threshold,
            crate::domain::DOMAIN_FEATURES,
            self.domain.threshold()
        )
    }

    /// The benign bigram table, for [`crate::features::extract`].
    pub fn bigrams(&self) -> &Bigrams {
        &self.bigrams
    }

    /// The score above which a query counts as suspicious (chosen by the trainer for 0.5%
    /// false positives on benign training queries).
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Scores one query's features: no allocation. Twenty multiply-adds and a logistic; the
    /// reasons are worked out only if [`QueryScore::explain`] is called.
    pub fn score(&self, features: &[f32; FEATURES]) -> QueryScore<'_> {
        QueryScore {
            score: 1.0 / (1.0 + (-self.linear(features)).exp()),
            model: self,
            features: *features,
        }
    }

    /// The score before the logistic: `bias + Σ weight × standardised value`, in four lanes
    /// (a single running sum would be a chain of twenty dependent additions).
    fn linear(&self, features: &[f32; FEATURES]) -> f32 {
        let mut lanes = [0f32; 4];
        for (x, w) in features.chunks_exact(4).zip(self.per_unit.chunks_exact(4)) {
            lanes = std::array::from_fn(|j| lanes[j] + w[j] * x[j]);
        }
        self.folded_bias + ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_loads() {
        let m = Model::embedded().unwrap();
        assert!(m.threshold() > 0.0 && m.threshold() < 1.0);
        assert!(m.domain().threshold() > 0.0 && m.domain().threshold() < 1.0);
        assert!(m.summary().contains("domain model of 23 features"));
    }

    #[test]
    fn wrong_features_or_shapes_are_refused() {
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        v["query"]["features"][0] = "renamed".into();
        assert!(matches!(
            Model::from_json(&v.to_string()),
            Err(ModelError::Features)
        ));
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        v["query"]["weights"].as_array_mut().unwrap().pop();
        assert!(matches!(
            Model::from_json(&v.to_string()),
            Err(ModelError::Length("weights"))
        ));
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        v["version"] = 2.into();
        assert!(matches!(
            Model::from_json(&v.to_string()),
            Err(ModelError::Version(2))
        ));
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        v["query"]["bigrams"]["table"].as_array_mut().unwrap().pop();
        assert!(matches!(
            Model::from_json(&v.to_string()),
            Err(ModelError::Bigrams)
        ));
        assert!(matches!(Model::from_json("{"), Err(ModelError::Json(_))));
        let mut v: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        v.as_object_mut().unwrap().remove("domain");
        let err = Model::from_json(&v.to_string()).unwrap_err();
        assert!(matches!(err, ModelError::MissingDomain));
        assert!(err.to_string().contains("\"domain\""), "{err}");
    }

    #[test]
    fn explanation_lists_positive_contributions() {
        let s = Explain {
            score: 0.97,
            top: [(4, 3.1, 4.63), (0, 2.44, 112.0), (18, 0.5, 1.0)],
        };
        assert_eq!(
            s.to_string(),
            "score 0.97: entropy 4.6 bits (+3.1), left part 112 bytes (+2.4), tunnel-friendly type (+0.5)"
        );
    }

    #[test]
    fn folded_score_is_the_standardised_one() {
        let m = Model::embedded().unwrap();
        let file: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        let bias = file["query"]["bias"].as_f64().unwrap() as f32;
        for k in 0..50 {
            let x: [f32; FEATURES] = std::array::from_fn(|i| {
                m.mean[i] + m.per_unit[i].signum() * (k as f32 - 25.0) * 0.1 * (i as f32 + 1.0)
            });
            let z: f32 = bias
                + (0..FEATURES)
                    .map(|i| m.per_unit[i] * (x[i] - m.mean[i]))
                    .sum::<f32>();
            let s = m.score(&x);
            assert!((s.score - 1.0 / (1.0 + (-z).exp())).abs() < 1e-5, "{k}");
            // The top three are the largest contributions, in order.
            let mut all: Vec<f32> = (0..FEATURES)
                .map(|i| m.per_unit[i] * (x[i] - m.mean[i]))
                .collect();
            all.sort_by(|a, b| b.total_cmp(a));
            assert_eq!(s.top().map(|t| t.1), [all[0], all[1], all[2]]);
        }
    }
}
