//! The blocklist and response policy settings: `[policy]`, `[[blocklist]]`, `[[allowlist]]`
//! and `[[rpz]]` (docs/CONFIG.md lists each key with its default and bounds; `guard::policy`
//! decides, the engine answers, [`crate::policy`] loads and reloads the files).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use guard::policy::{Action, EDE_BLOCKED, EDE_FILTERED, LocalData, LocalRecord};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use toml::Spanned;
use wire::{Name, NameRef, RType};

use super::{IntBounds, Location, int, keyed, relative_to};

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[policy]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    CHECK_INTERVAL = "policy.check_interval", 0, 86_400;
    MAX_ENTRIES = "policy.max_entries", 1, 100_000_000;
    TTL = "policy.ttl", 0, 86_400;
}

/// Most `[[blocklist]]`, `[[allowlist]]` and `[[rpz]]` tables, in all.
pub const MAX_LISTS: usize = 64;

/// Where a list or zone comes from and how it is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSource {
    /// Its name in events and EDE texts (a list's `name`, else its file name; a zone's origin).
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// Where it was configured.
    pub defined_at: Location,
}

/// One `[[blocklist]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlocklistConfig {
    /// Name and file.
    pub source: ListSource,
    /// What to answer for its names.
    pub action: Action,
    /// The EDE code attached.
    pub ede: Option<u16>,
}

/// One `[[rpz]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpzConfig {
    /// The zone's origin.
    pub origin: Name,
    /// Name (the origin) and file.
    pub source: ListSource,
    /// The EDE code attached to its answers.
    pub ede: Option<u16>,
}

/// Blocklists, allowlists and response policy zones, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySettings {
    /// How often the files are checked for changes; zero: only on reload.
    pub check_interval: Duration,
    /// Most entries in one list or zone.
    pub max_entries: usize,
    /// The blocklists, in order of precedence.
    pub blocklists: Vec<BlocklistConfig>,
    /// The allowlists.
    pub allowlists: Vec<ListSource>,
    /// The response policy zones, in order of precedence (before the lists).
    pub rpz: Vec<RpzConfig>,
}

impl Default for PolicySettings {
    fn default() -> PolicySettings {
        PolicySettings {
            check_interval: Duration::from_secs(10),
            max_entries: 2_000_000,
            blocklists: Vec::new(),
            allowlists: Vec::new(),
            rpz: Vec::new(),
        }
    }
}

impl PolicySettings {
    /// Whether no list and no zone is configured.
    pub fn is_empty(&self) -> bool {
        self.blocklists.is_empty() && self.allowlists.is_empty() && self.rpz.is_empty()
    }

    /// Adds the lists of `--blocklist FILE` (NXDOMAIN, EDE 15) and `--rpz ORIGIN=FILE`.
    pub fn apply_flags(&mut self, blocklists: &[PathBuf], rpz: &[RpzArg]) -> Result<(), String> {
        let at = Location {
            file: "command line".into(),
            line: 1,
            column: 1,
        };
        for file in blocklists {
            self.blocklists.push(BlocklistConfig {
                source: ListSource {
                    name: default_name(file),
                    file: file.clone(),
                    defined_at: at.clone(),
                },
                action: Action::NxDomain,
                ede: Some(EDE_BLOCKED),
            });
        }
        for arg in rpz {
            if self.rpz.iter().any(|z| z.origin == arg.origin) {
                return Err(format!("--rpz: zone {} is configured twice", arg.origin));
            }
            self.rpz.push(RpzConfig {
                origin: arg.origin.clone(),
                source: ListSource {
                    name: arg.origin.to_string(),
                    file: arg.file.clone(),
                    defined_at: at.clone(),
                },
                ede: Some(EDE_BLOCKED),
            });
        }
        if self.blocklists.len() + self.allowlists.len() + self.rpz.len() > MAX_LISTS {
            return Err(format!("more than {MAX_LISTS} lists and policy zones"));
        }
        Ok(())
    }
}

/// A list's default name: its file name.
fn default_name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A `--rpz ORIGIN=FILE` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpzArg {
    /// The zone's origin.
    pub origin: Name,
    /// Its master file.
    pub file: PathBuf,
}

impl FromStr for RpzArg {
    type Err = String;

    fn from_str(s: &str) -> Result<RpzArg, String> {
        let Some((origin, file)) = s.split_once('=') else {
            return Err(format!("`{s}` is not ORIGIN=FILE"));
        };
        if file.is_empty() {
            return Err(format!("`{s}`: the file is missing after `=`"));
        }
        Ok(RpzArg {
            origin: super::parse_origin(origin)?,
            file: PathBuf::from(file),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct PolicySection {
    #[serde(deserialize_with = "de_check_interval")]
    check_interval: u64,
    #[serde(deserialize_with = "de_max_entries")]
    max_entries: u64,
    #[serde(deserialize_with = "de_ttl")]
    ttl: u64,
}

impl Default for PolicySection {
    fn default() -> PolicySection {
        PolicySection {
            check_interval: 10,
            max_entries: 2_000_000,
            ttl: 10,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlocklistSection {
    #[serde(deserialize_with = "de_blocklist_file")]
    file: PathBuf,
    #[serde(default, deserialize_with = "de_blocklist_name")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de_blocklist_action")]
    action: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_blocklist_sinkhole")]
    sinkhole: Option<Vec<std::net::IpAddr>>,
    #[serde(default, deserialize_with = "de_blocklist_answer")]
    answer: Option<Spanned<Vec<String>>>,
    #[serde(default, deserialize_with = "de_blocklist_ede")]
    ede: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AllowlistSection {
    #[serde(deserialize_with = "de_allowlist_file")]
    file: PathBuf,
    #[serde(default, deserialize_with = "de_allowlist_name")]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RpzSection {
    #[serde(deserialize_with = "de_rpz_origin")]
    origin: Name,
    #[serde(deserialize_with = "de_rpz_file")]
    file: PathBuf,
    #[serde(default, deserialize_with = "de_rpz_ede")]
    ede: Option<Spanned<String>>,
}

/// The tables as read, with their spans.
pub(super) struct PolicyTables {
    pub(super) section: PolicySection,
    pub(super) blocklists: Vec<Spanned<BlocklistSection>>,
    pub(super) allowlists: Vec<Spanned<AllowlistSection>>,
    pub(super) rpz: Vec<Spanned<RpzSection>>,
}

impl PolicyTables {
    /// The settings; errors are located in `text` (named `label`).
    pub(super) fn into_settings(
        self,
        label: &str,
        text: &str,
        base_dir: Option<&Path>,
    ) -> Result<PolicySettings, super::ConfigError> {
        let at = |span: Range<usize>| Location::of(label, text, span.start);
        let err = |span: Range<usize>, m: String| super::ConfigError::at(at(span), m);
        let ttl = u32::try_from(self.section.ttl).unwrap_or(10);
        let mut out = PolicySettings {
            check_interval: Duration::from_secs(self.section.check_interval),
            max_entries: usize::try_from(self.section.max_entries).unwrap_or(usize::MAX),
            ..PolicySettings::default()
        };
        let count = self.blocklists.len() + self.allowlists.len() + self.rpz.len();
        if count > MAX_LISTS {
            let span = self.blocklists.last().map(|s| s.span()).unwrap_or_default();
            return Err(err(
                span,
                format!("more than {MAX_LISTS} lists and policy zones"),
            ));
        }
        for table in self.blocklists {
            let span = table.span();
            let b = table.into_inner();
            let file = relative_to(base_dir, b.file);
            let ede = match &b.ede {
                Some(e) => {
                    ede(e.get_ref()).map_err(|m| err(e.span(), format!("blocklist.ede: {m}")))?
                }
                None => Some(EDE_BLOCKED),
            };
            let action = match &b.action {
                None => Action::NxDomain,
                Some(a) => action(
                    a.get_ref(),
                    b.sinkhole.as_deref(),
                    b.answer.as_ref(),
                    ttl,
                    label,
                )
                .map_err(|m| err(a.span(), format!("blocklist.action: {m}")))?,
            };
            if b.sinkhole.is_some()
                && !matches!(
                    b.action.as_ref().map(|a| a.get_ref().as_str()),
                    Some("sinkhole")
                )
            {
                return Err(err(
                    span,
                    "blocklist.sinkhole: only with action = \"sinkhole\"".into(),
                ));
            }
            if b.answer.is_some()
                && !matches!(
                    b.action.as_ref().map(|a| a.get_ref().as_str()),
                    Some("answer")
                )
            {
                return Err(err(
                    span,
                    "blocklist.answer: only with action = \"answer\"".into(),
                ));
            }
            out.blocklists.push(BlocklistConfig {
                source: ListSource {
                    name: b.name.unwrap_or_else(|| default_name(&file)),
                    file,
                    defined_at: at(span),
                },
                action,
                ede,
            });
        }
        for table in self.allowlists {
            let span = table.span();
            let a = table.into_inner();
            let file = relative_to(base_dir, a.file);
            out.allowlists.push(ListSource {
                name: a.name.unwrap_or_else(|| default_name(&file)),
                file,
                defined_at: at(span),
            });
        }
        for table in self.rpz {
            let span = table.span();
            let z = table.into_inner();
            if let Some(first) = out.rpz.iter().find(|r| r.origin == z.origin) {
                return Err(err(
                    span,
                    format!(
                        "rpz.origin: zone {} is configured twice (first at {})",
                        z.origin, first.source.defined_at
                    ),
                ));
            }
            let ede = match &z.ede {
                Some(e) => ede(e.get_ref()).map_err(|m| err(e.span(), format!("rpz.ede: {m}")))?,
                None => Some(EDE_BLOCKED),
            };
            out.rpz.push(RpzConfig {
                source: ListSource {
                    name: z.origin.to_string(),
                    file: relative_to(base_dir, z.file),
                    defined_at: at(span),
                },
                origin: z.origin,
                ede,
            });
        }
        Ok(out)
    }
}

/// `blocked` (15), `filtered` (17) or `none`.
fn ede(text: &str) -> Result<Option<u16>, String> {
    match text {
        "blocked" => Ok(Some(EDE_BLOCKED)),
        "filtered" => Ok(Some(EDE_FILTERED)),
        "none" => Ok(None),
        other => Err(format!("`{other}` is not one of blocked, filtered, none")),
    }
}

/// The action named `text`.
fn action(
    text: &str,
    sinkhole: Option<&[std::net::IpAddr]>,
    answer: Option<&Spanned<Vec<String>>>,
    ttl: u32,
    label: &str,
) -> Result<Action, String> {
    Ok(match text {
        "nxdomain" => Action::NxDomain,
        "nodata" => Action::NoData,
        "refused" => Action::Refused,
        "sinkhole" => {
            let default = [
                std::net::IpAddr::from([0, 0, 0, 0]),
                std::net::IpAddr::from([0u16; 8]),
            ];
            let addrs = sinkhole.unwrap_or(&default);
            if addrs.is_empty() || addrs.len() > 16 {
                return Err("sinkhole: give 1 to 16 addresses".into());
            }
            let records = addrs
                .iter()
                .map(|a| match a {
                    std::net::IpAddr::V4(v4) => LocalRecord {
                        rtype: RType::A,
                        ttl,
                        rdata: v4.octets().to_vec(),
                    },
                    std::net::IpAddr::V6(v6) => LocalRecord {
                        rtype: RType::AAAA,
                        ttl,
                        rdata: v6.octets().to_vec(),
                    },
                })
                .collect();
            Action::Local(LocalData { records })
        }
        "answer" => {
            let Some(records) = answer else {
                return Err("`answer` needs the records, e.g. answer = [\"A 192.0.2.1\"]".into());
            };
            if records.get_ref().is_empty() || records.get_ref().len() > 16 {
                return Err("answer: give 1 to 16 records".into());
            }
            let mut out = Vec::new();
            for r in records.get_ref() {
                out.push(answer_record(r, ttl, label)?);
            }
            Action::Local(LocalData { records: out })
        }
        other => {
            return Err(format!(
                "`{other}` is not one of nxdomain, nodata, refused, sinkhole, answer"
            ));
        }
    })
}

/// One record of `answer`: `TYPE RDATA`, as in a zone file (names absolute).
fn answer_record(text: &str, ttl: u32, label: &str) -> Result<LocalRecord, String> {
    let line = format!("@ {ttl} IN {text}\n");
    let records = zone::parse_str(&line, Path::new(label), NameRef::ROOT)
        .collect_all()
        .map_err(|e| {
            let first = e.first().map(|e| e.message.clone()).unwrap_or_default();
            format!("answer: `{text}`: {first}")
        })?;
    let [record] = records.as_slice() else {
        return Err(format!("answer: `{text}` is not one record"));
    };
    Ok(LocalRecord {
        rtype: record.rtype,
        ttl: record.ttl,
        rdata: record.rdata.clone(),
    })
}

fn de_check_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, CHECK_INTERVAL)
}
fn de_max_entries<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_ENTRIES)
}
fn de_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TTL)
}
fn file<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<PathBuf, D::Error> {
    let p: PathBuf = keyed(d, key)?;
    if p.as_os_str().is_empty() {
        return Err(D::Error::custom(format!("{key}: the path is empty")));
    }
    Ok(p)
}
fn name<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<String>, D::Error> {
    let s: String = keyed(d, key)?;
    if s.is_empty() || s.len() > 64 || s.chars().any(char::is_control) {
        return Err(D::Error::custom(format!(
            "{key}: 1 to 64 bytes without control characters"
        )));
    }
    Ok(Some(s))
}
fn de_blocklist_file<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    file(d, "blocklist.file")
}
fn de_blocklist_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    name(d, "blocklist.name")
}
fn de_blocklist_action<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<String>>, D::Error> {
    keyed(d, "blocklist.action").map(Some)
}
fn de_blocklist_sinkhole<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<std::net::IpAddr>>, D::Error> {
    keyed(d, "blocklist.sinkhole").map(Some)
}
fn de_blocklist_answer<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<Vec<String>>>, D::Error> {
    keyed(d, "blocklist.answer").map(Some)
}
fn de_blocklist_ede<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<String>>, D::Error> {
    keyed(d, "blocklist.ede").map(Some)
}
fn de_allowlist_file<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    file(d, "allowlist.file")
}
fn de_allowlist_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    name(d, "allowlist.name")
}
fn de_rpz_origin<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let s: String = keyed(d, "rpz.origin")?;
    super::parse_origin(&s).map_err(|e| D::Error::custom(format!("rpz.origin: {e}")))
}
fn de_rpz_file<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    file(d, "rpz.file")
}
fn de_rpz_ede<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<String>>, D::Error> {
    keyed(d, "rpz.ede").map(Some)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
