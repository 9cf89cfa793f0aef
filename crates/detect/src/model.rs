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
    bias: f32,
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

/// A query's score and the features that pushed it up most.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryScore {
    /// Logistic probability that the query carries tunnelled data, 0 to 1.
    pub score: f32,
    /// The three largest contributions (feature index, weight × standardised value), largest
    /// first; only positive ones are reasons.
    pub top: [(usize, f32); 3],
    /// The raw values of the features in `top`, for the explanation.
    pub values: [f32; 3],
}

impl QueryScore {
    /// "score 0.97: entropy 4.6 bits (+3.1), left part 112 bytes (+2.4), ...": the features
    /// that raised the score, with their values.
    pub fn explain(&self) -> impl fmt::Display + '_ {
        Explain(self)
    }
}

struct Explain<'a>(&'a QueryScore);

impl fmt::Display for Explain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "score {:.2}", self.0.score)?;
        let mut sep = ": ";
        for (&(i, c), &v) in self.0.top.iter().zip(&self.0.values) {
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
        Ok(Model {
            domain,
            mean: array(&q.mean, "mean")?,
            per_unit: {
                let weights = array(&q.weights, "weights")?;
                std::array::from_fn(|i| weights[i] / scale[i])
            },
            bias: q.bias,
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

    /// Scores one query's features: no allocation.
    pub fn score(&self, features: &[f32; FEATURES]) -> QueryScore {
        // The contributions in one vectorisable pass, summed in four lanes: a single running
        // sum would be a chain of twenty dependent additions.
        let c: [f32; FEATURES] =
            std::array::from_fn(|i| self.per_unit[i] * (features[i] - self.mean[i]));
        let mut lanes = [c[0], c[1], c[2], c[3]];
        for k in 1..FEATURES / 4 {
            let chunk = [c[4 * k], c[4 * k + 1], c[4 * k + 2], c[4 * k + 3]];
            lanes = std::array::from_fn(|j| lanes[j] + chunk[j]);
        }
        let z = self.bias + ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
        // The three largest, in registers: (feature, contribution, value).
        let none = (0usize, f32::NEG_INFINITY, 0f32);
        let (mut t0, mut t1, mut t2) = (none, none, none);
        for (i, (&ci, &x)) in c.iter().zip(features).enumerate() {
            if ci > t2.1 {
                let item = (i, ci, x);
                if ci > t1.1 {
                    t2 = t1;
                    if ci > t0.1 {
                        t1 = t0;
                        t0 = item;
                    } else {
                        t1 = item;
                    }
                } else {
                    t2 = item;
                }
            }
        }
        QueryScore {
            score: 1.0 / (1.0 + (-z).exp()),
            top: [(t0.0, t0.1), (t1.0, t1.1), (t2.0, t2.1)],
            values: [t0.2, t1.2, t2.2],
        }
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
        assert!(m.summary().contains("domain model of 20 features"));
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
        let s = QueryScore {
            score: 0.97,
            top: [(4, 3.1), (0, 2.44), (18, 0.5)],
            values: [4.63, 112.0, 1.0],
        };
        assert_eq!(
            s.explain().to_string(),
            "score 0.97: entropy 4.6 bits (+3.1), left part 112 bytes (+2.4), tunnel-friendly type (+0.5)"
        );
    }
}
