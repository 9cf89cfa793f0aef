//! The `[dnssec]` section: DNSSEC validation by the resolver, and its trust anchors
//! (docs/CONFIG.md lists each key with its default and bounds).
//!
//! Trust anchor files are read with the configuration, so that a bad anchor is reported by
//! `portcullis check` and refused by a reload, like a bad zone: an error inside a file names
//! that file's line and column, a file that cannot be read names the configuration key's
//! place. The RFC 5011 state file (`auto_trust_anchor_file`) is only named here: the resolver
//! reads and rewrites it while it runs.

use std::path::{Path, PathBuf};

use ::dnssec::{AnchorError, TrustAnchors};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use toml::Spanned;
use wire::Name;

use super::{ConfigError, IntBounds, Location, int, keyed, parse_origin, relative_to};

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

/// `dnssec.bogus_ttl`: seconds a bogus result is cached.
pub const BOGUS_TTL: IntBounds = IntBounds {
    key: "dnssec.bogus_ttl",
    min: 0,
    max: 3600,
};
/// `dnssec.max_nsec3_iterations`: NSEC3 iterations above which a zone counts as insecure.
pub const MAX_NSEC3_ITERATIONS: IntBounds = IntBounds {
    key: "dnssec.max_nsec3_iterations",
    min: 0,
    max: 500,
};

/// `dnssec.aggressive_nsec_records`: NSEC/NSEC3 records kept for RFC 8198 answers.
pub const AGGRESSIVE_NSEC_RECORDS: IntBounds = IntBounds {
    key: "dnssec.aggressive_nsec_records",
    min: 0,
    max: 10_000_000,
};

/// Every integer setting of the section, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[BOGUS_TTL, MAX_NSEC3_ITERATIONS, AGGRESSIVE_NSEC_RECORDS];

/// Most files in `dnssec.trust_anchor_files`.
pub const MAX_TRUST_ANCHOR_FILES: usize = 64;
/// Most names in `dnssec.negative_trust_anchors`.
pub const MAX_NEGATIVE_TRUST_ANCHORS: usize = 10_000;

// ---------------------------------------------------------------------------------------------
// The typed section
// ---------------------------------------------------------------------------------------------

/// The `[dnssec]` section, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnssecSettings {
    /// Whether the resolver validates (when it runs at all).
    pub validation: bool,
    /// The trust anchors: the root's built-in ones, or those of the anchor files (and
    /// `--trust-anchor`), which replace them.
    pub anchors: TrustAnchors,
    /// Negative trust anchors (RFC 7646): names not validated, at and below them.
    pub negative: Vec<Name>,
    /// The RFC 5011 state file; `None`: the anchors are not updated automatically.
    pub auto_trust_file: Option<PathBuf>,
    /// Whether the SHA-1 algorithms (5 and 7) and DS digest type 1 are accepted.
    pub allow_sha1: bool,
    /// Seconds a bogus result is cached.
    pub bogus_ttl: u32,
    /// NSEC3 iterations above which a denial proves only insecurity (RFC 9276).
    pub max_nsec3_iterations: u16,
    /// Answer NXDOMAIN and NODATA from validated NSEC/NSEC3 records (RFC 8198).
    pub aggressive_nsec: bool,
    /// Most NSEC/NSEC3 records kept for it.
    pub aggressive_nsec_records: usize,
}

impl Default for DnssecSettings {
    /// The documented defaults (docs/CONFIG.md).
    fn default() -> DnssecSettings {
        DnssecSettings {
            validation: true,
            anchors: TrustAnchors::builtin_root(),
            negative: Vec::new(),
            auto_trust_file: None,
            allow_sha1: false,
            bogus_ttl: 60,
            max_nsec3_iterations: 50,
            aggressive_nsec: true,
            aggressive_nsec_records: 50_000,
        }
    }
}

impl DnssecSettings {
    /// `--trust-anchor FILE`s: when any is given, their anchors replace the configured ones.
    /// Relative paths are taken from the working directory.
    pub(super) fn apply_trust_anchor_flags(
        &mut self,
        files: &[PathBuf],
    ) -> Result<(), ConfigError> {
        if files.is_empty() {
            return Ok(());
        }
        let command_line = Location {
            file: "command line".into(),
            line: 1,
            column: 1,
        };
        let mut anchors = TrustAnchors::empty();
        for path in files {
            anchors.add(load_anchors(path, "--trust-anchor", &command_line)?);
        }
        self.anchors = anchors;
        Ok(())
    }
}

/// Reads one anchor file. An error inside it points into it; a file that cannot be read points
/// at `named_at`, where `key` named it.
fn load_anchors(path: &Path, key: &str, named_at: &Location) -> Result<TrustAnchors, ConfigError> {
    TrustAnchors::load(path).map_err(|e| match e {
        AnchorError::Read { file, message } => ConfigError {
            location: Some(named_at.clone()),
            message: format!("{key}: cannot read the trust anchor file {file}: {message}"),
        },
        AnchorError::Invalid {
            file,
            line,
            column,
            message,
        } => ConfigError {
            location: Some(Location { file, line, column }),
            message: format!("trust anchor: {message}"),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// The section as written
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DnssecSection {
    #[serde(deserialize_with = "de_validation")]
    validation: bool,
    #[serde(deserialize_with = "de_trust_anchor_files")]
    trust_anchor_files: Vec<Spanned<String>>,
    #[serde(deserialize_with = "de_negative_trust_anchors")]
    negative_trust_anchors: Vec<Name>,
    #[serde(deserialize_with = "de_auto_trust_anchor_file")]
    auto_trust_anchor_file: String,
    #[serde(deserialize_with = "de_allow_sha1")]
    allow_sha1: bool,
    #[serde(deserialize_with = "de_bogus_ttl")]
    bogus_ttl: u64,
    #[serde(deserialize_with = "de_max_nsec3_iterations")]
    max_nsec3_iterations: u64,
    #[serde(deserialize_with = "de_aggressive_nsec")]
    aggressive_nsec: bool,
    #[serde(deserialize_with = "de_aggressive_nsec_records")]
    aggressive_nsec_records: u64,
}

impl Default for DnssecSection {
    fn default() -> DnssecSection {
        let d = DnssecSettings::default();
        DnssecSection {
            validation: d.validation,
            trust_anchor_files: Vec::new(),
            negative_trust_anchors: d.negative,
            auto_trust_anchor_file: String::new(),
            allow_sha1: d.allow_sha1,
            bogus_ttl: u64::from(d.bogus_ttl),
            max_nsec3_iterations: u64::from(d.max_nsec3_iterations),
            aggressive_nsec: d.aggressive_nsec,
            aggressive_nsec_records: d.aggressive_nsec_records as u64,
        }
    }
}

impl DnssecSection {
    /// The typed section: reads the anchor files. `label` and `text` are the configuration's,
    /// to place errors; relative paths are taken from `base_dir`.
    pub(super) fn into_settings(
        self,
        label: &str,
        text: &str,
        base_dir: Option<&Path>,
    ) -> Result<DnssecSettings, ConfigError> {
        let anchors = if self.trust_anchor_files.is_empty() {
            TrustAnchors::builtin_root()
        } else {
            let mut anchors = TrustAnchors::empty();
            for file in self.trust_anchor_files {
                let named_at = Location::of(label, text, file.span().start);
                let path = relative_to(base_dir, PathBuf::from(file.into_inner()));
                anchors.add(load_anchors(&path, "dnssec.trust_anchor_files", &named_at)?);
            }
            anchors
        };
        let auto_trust_file = (!self.auto_trust_anchor_file.is_empty())
            .then(|| relative_to(base_dir, PathBuf::from(self.auto_trust_anchor_file)));
        Ok(DnssecSettings {
            validation: self.validation,
            anchors,
            negative: self.negative_trust_anchors,
            auto_trust_file,
            allow_sha1: self.allow_sha1,
            // Checked against bounds that fit.
            bogus_ttl: u32::try_from(self.bogus_ttl).unwrap_or(60),
            max_nsec3_iterations: u16::try_from(self.max_nsec3_iterations).unwrap_or(50),
            aggressive_nsec: self.aggressive_nsec,
            aggressive_nsec_records: usize::try_from(self.aggressive_nsec_records)
                .unwrap_or(50_000),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Deserializers: each names its key
// ---------------------------------------------------------------------------------------------

fn de_validation<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "dnssec.validation")
}

fn de_allow_sha1<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "dnssec.allow_sha1")
}

fn de_bogus_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, BOGUS_TTL)
}

fn de_max_nsec3_iterations<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_NSEC3_ITERATIONS)
}

fn de_aggressive_nsec<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "dnssec.aggressive_nsec")
}

fn de_aggressive_nsec_records<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, AGGRESSIVE_NSEC_RECORDS)
}

fn de_trust_anchor_files<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<Spanned<String>>, D::Error> {
    let key = "dnssec.trust_anchor_files";
    let list: Vec<Spanned<String>> = keyed(d, key)?;
    if list.len() > MAX_TRUST_ANCHOR_FILES {
        return Err(D::Error::custom(format!(
            "{key}: {} files, more than the {MAX_TRUST_ANCHOR_FILES} allowed",
            list.len()
        )));
    }
    if list.iter().any(|f| f.get_ref().is_empty()) {
        return Err(D::Error::custom(format!("{key}: a path is empty")));
    }
    Ok(list)
}

fn de_negative_trust_anchors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Name>, D::Error> {
    let key = "dnssec.negative_trust_anchors";
    let list: Vec<String> = keyed(d, key)?;
    if list.len() > MAX_NEGATIVE_TRUST_ANCHORS {
        return Err(D::Error::custom(format!(
            "{key}: {} names, more than the {MAX_NEGATIVE_TRUST_ANCHORS} allowed",
            list.len()
        )));
    }
    let mut out: Vec<Name> = Vec::with_capacity(list.len());
    for s in list {
        let name = parse_origin(&s).map_err(|m| D::Error::custom(format!("{key}: {m}")))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn de_auto_trust_anchor_file<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let key = "dnssec.auto_trust_anchor_file";
    let s: String = keyed(d, key)?;
    if s.contains('\0') {
        return Err(D::Error::custom(format!("{key}: the path holds a NUL")));
    }
    Ok(s)
}

#[cfg(test)]
#[path = "dnssec_tests.rs"]
mod tests;
