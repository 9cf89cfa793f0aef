//! Detection of DNS tunnelling and exfiltration, and of traffic unlike this server's own.
//!
//! Nothing here touches a socket, a clock or a log: the engine passes names, types, clients
//! and times in, and acts on the verdicts that come out, so every decision can be tested with
//! made-up traffic and replayed from a trace.
//!
//! - [`psl`]: the public suffix list (private section included), to find each name's
//!   registered domain without allocating.
//! - [`features`]: one pass over a query name's wire form, bounded, no allocation.
//! - [`model`]: the trained per-query model (standardised logistic regression plus a benign
//!   character-bigram table) with its top contributing features.
//! - [`domain`]: bounded, windowed state per registered domain and the per-domain model.
//! - [`anomaly`]: learned baselines per client prefix and per domain.
//! - [`verdict`]: what was decided, for how long, and the operator's allow list.
//! - [`detector`]: the facade the engine calls, joining them.

#![forbid(unsafe_code)]

pub mod anomaly;
pub mod detector;
pub mod domain;
pub mod features;
pub mod model;
pub mod psl;
pub mod verdict;

pub use anomaly::{
    Anomalies, AnomalyAlert, AnomalyConfig, AnomalyKind, ClientPrefix, Crossed, Observation,
};
pub use detector::{
    Alert, AlertKind, Decision, DetectConfig, DetectStats, Detector, Mode, Seen, VerdictInfo,
};
pub use domain::{
    DOMAIN_FEATURE_NAMES, DOMAIN_FEATURES, DomainConfig, DomainKey, DomainModel, DomainModelError,
    DomainReport, DomainScore, DomainTable, Observed, QueryObservation,
};
pub use features::{Bigrams, FEATURE_NAMES, FEATURES, extract};
pub use model::{Model, ModelError, QueryScore};
pub use psl::{Psl, PslError, Registered};
pub use verdict::{AllowList, BlockKind, Enforce, Verdict, VerdictEntry, Verdicts};
