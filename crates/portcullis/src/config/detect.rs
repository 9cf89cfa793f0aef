//! The `[detect]` section: DNS tunnelling and traffic anomaly detection in the resolver
//! (docs/CONFIG.md lists each key with its default and bounds; the `detect` crate decides,
//! the engine acts, `crate::detect` loads the model and public suffix list).
//!
//! Times are seconds here, like every other time in the configuration; the detector counts in
//! milliseconds. Without `mode`, detection logs for a server that resolves and is off for a
//! pure authoritative server (it watches only what the resolver answers).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ::detect::{BlockKind, DetectConfig, Mode};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use wire::Name;

use super::{IntBounds, int, keyed, relative_to};

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[detect]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    BLOCK_FOR = "detect.block_for", 1, 604_800;
    RATE_LIMIT = "detect.rate_limit", 0, 1_000_000;
    DOMAINS = "detect.domains", 16, 10_000_000;
    CLIENTS = "detect.clients", 16, 10_000_000;
    VERDICTS = "detect.verdicts", 1, 1_000_000;
    SHORT_WINDOW = "detect.short_window", 1, 3_600;
    LONG_WINDOW = "detect.long_window", 60, 86_400;
    ANOMALY_WINDOW = "detect.anomaly_window", 1, 3_600;
    LEARNING = "detect.learning", 0, 604_800;
    ALLOW_FOR = "detect.allow_for", 1, 31_536_000;
}

/// The `[detect]` settings, read and checked.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectSettings {
    /// `mode`; `None`: log for a resolver, off otherwise.
    pub mode: Option<Mode>,
    /// How a blocked domain is answered.
    pub block: BlockKind,
    /// Seconds a verdict is enforced.
    pub block_for: u64,
    /// Enforce a verdict only on the client that raised it.
    pub per_client: bool,
    /// Queries a second let through for a domain under a verdict, instead of blocking it;
    /// 0: block.
    pub rate_limit: u32,
    /// Registered domains tracked at once.
    pub domains: usize,
    /// Client prefixes tracked at once (learned anomalies).
    pub clients: usize,
    /// Verdicts standing at once.
    pub verdicts: usize,
    /// Seconds of the short per-domain window (also a domain's anomaly series' window).
    pub short_window: u64,
    /// Seconds of the long per-domain window.
    pub long_window: u64,
    /// Seconds of the client prefixes' and the server's anomaly baselines' window.
    pub anomaly_window: u64,
    /// Seconds after start during which anomalies are only logged.
    pub learning: u64,
    /// Zones of the operator's that legitimately look like tunnels: lowered, never blocked.
    pub allow: Vec<Name>,
    /// Seconds `ctl allow-domain` allows a domain for.
    pub allow_for: u64,
    /// The sinkhole's IPv4 address.
    pub sinkhole_v4: Ipv4Addr,
    /// The sinkhole's IPv6 address.
    pub sinkhole_v6: Ipv6Addr,
    /// A model file replacing the embedded one.
    pub model: Option<PathBuf>,
    /// A public suffix list replacing the embedded one.
    pub psl: Option<PathBuf>,
}

impl DetectSettings {
    /// The mode in effect: the configured one, else log for a server that resolves.
    pub fn mode(&self, resolver: bool) -> Mode {
        if resolver {
            self.mode.unwrap_or(Mode::Log)
        } else {
            Mode::Off
        }
    }

    /// The detector's configuration, in the mode in effect.
    pub fn detect_config(&self, resolver: bool) -> DetectConfig {
        let ms = |s: u64| s.saturating_mul(1000);
        DetectConfig {
            mode: self.mode(resolver),
            block: self.block,
            block_for_ms: ms(self.block_for),
            per_client: self.per_client,
            rate_limit_qps: (self.rate_limit > 0).then_some(self.rate_limit),
            domains: self.domains,
            clients: self.clients,
            verdicts: self.verdicts,
            short_window_ms: ms(self.short_window),
            long_window_ms: ms(self.long_window),
            anomaly_window_ms: ms(self.anomaly_window),
            learning_ms: ms(self.learning),
            allow: self.allow.clone(),
            allow_for_ms: ms(self.allow_for),
            sinkhole_v4: self.sinkhole_v4,
            sinkhole_v6: self.sinkhole_v6,
        }
    }
}

/// `off`, `log`, `alert` or `block` (`--detect` and `detect.mode`).
pub fn parse_mode(text: &str) -> Result<Mode, String> {
    match text.to_ascii_lowercase().as_str() {
        "off" => Ok(Mode::Off),
        "log" => Ok(Mode::Log),
        "alert" => Ok(Mode::Alert),
        "block" => Ok(Mode::Block),
        _ => Err(format!(
            "`{text}` is not a detection mode: off, log, alert or block"
        )),
    }
}

/// The name of `mode`, as configured.
pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Off => "off",
        Mode::Log => "log",
        Mode::Alert => "alert",
        Mode::Block => "block",
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DetectSection {
    #[serde(deserialize_with = "de_mode")]
    mode: Option<Mode>,
    #[serde(deserialize_with = "de_block")]
    block: BlockKind,
    #[serde(deserialize_with = "de_block_for")]
    block_for: u64,
    #[serde(deserialize_with = "de_per_client")]
    per_client: bool,
    #[serde(deserialize_with = "de_rate_limit")]
    rate_limit: u64,
    #[serde(deserialize_with = "de_domains")]
    domains: u64,
    #[serde(deserialize_with = "de_clients")]
    clients: u64,
    #[serde(deserialize_with = "de_verdicts")]
    verdicts: u64,
    #[serde(deserialize_with = "de_short_window")]
    short_window: u64,
    #[serde(deserialize_with = "de_long_window")]
    long_window: u64,
    #[serde(deserialize_with = "de_anomaly_window")]
    anomaly_window: u64,
    #[serde(deserialize_with = "de_learning")]
    learning: u64,
    #[serde(deserialize_with = "de_allow")]
    allow: Vec<Name>,
    #[serde(deserialize_with = "de_allow_for")]
    allow_for: u64,
    #[serde(deserialize_with = "de_sinkhole")]
    sinkhole: (Ipv4Addr, Ipv6Addr),
    #[serde(deserialize_with = "de_model")]
    model: Option<PathBuf>,
    #[serde(deserialize_with = "de_psl")]
    psl: Option<PathBuf>,
}

impl Default for DetectSection {
    fn default() -> DetectSection {
        DetectSection {
            mode: None,
            block: BlockKind::Nxdomain,
            block_for: 600,
            per_client: false,
            rate_limit: 0,
            domains: 100_000,
            clients: 65_536,
            verdicts: 10_000,
            short_window: 60,
            long_window: 3_600,
            anomaly_window: 60,
            learning: 3_600,
            allow: Vec::new(),
            allow_for: 86_400,
            sinkhole: (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED),
            model: None,
            psl: None,
        }
    }
}

impl DetectSection {
    pub(super) fn into_settings(self, base_dir: Option<&Path>) -> DetectSettings {
        // Each count is within its bounds, so within usize and u32.
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        DetectSettings {
            mode: self.mode,
            block: self.block,
            block_for: self.block_for,
            per_client: self.per_client,
            rate_limit: u32::try_from(self.rate_limit).unwrap_or(u32::MAX),
            domains: size(self.domains),
            clients: size(self.clients),
            verdicts: size(self.verdicts),
            short_window: self.short_window,
            long_window: self.long_window,
            anomaly_window: self.anomaly_window,
            learning: self.learning,
            allow: self.allow,
            allow_for: self.allow_for,
            sinkhole_v4: self.sinkhole.0,
            sinkhole_v6: self.sinkhole.1,
            model: self.model.map(|p| relative_to(base_dir, p)),
            psl: self.psl.map(|p| relative_to(base_dir, p)),
        }
    }
}

fn de_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Mode>, D::Error> {
    let text: String = keyed(d, "detect.mode")?;
    parse_mode(&text)
        .map(Some)
        .map_err(|e| D::Error::custom(format!("detect.mode: {e}")))
}
fn de_block<'de, D: Deserializer<'de>>(d: D) -> Result<BlockKind, D::Error> {
    let text: String = keyed(d, "detect.block")?;
    match text.to_ascii_lowercase().as_str() {
        "nxdomain" => Ok(BlockKind::Nxdomain),
        "refused" => Ok(BlockKind::Refused),
        "sinkhole" => Ok(BlockKind::Sinkhole),
        _ => Err(D::Error::custom(format!(
            "detect.block: `{text}` is not nxdomain, refused or sinkhole"
        ))),
    }
}
fn de_block_for<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, BLOCK_FOR)
}
fn de_per_client<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "detect.per_client")
}
fn de_rate_limit<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RATE_LIMIT)
}
fn de_domains<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, DOMAINS)
}
fn de_clients<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, CLIENTS)
}
fn de_verdicts<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, VERDICTS)
}
fn de_short_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, SHORT_WINDOW)
}
fn de_long_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, LONG_WINDOW)
}
fn de_anomaly_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ANOMALY_WINDOW)
}
fn de_learning<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, LEARNING)
}
fn de_allow_for<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ALLOW_FOR)
}
fn de_allow<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Name>, D::Error> {
    let list: Vec<String> = keyed(d, "detect.allow")?;
    list.iter()
        .map(|text| {
            let absolute = if text.ends_with('.') {
                text.clone()
            } else {
                format!("{text}.")
            };
            let mut name: Name = absolute
                .parse()
                .map_err(|e| D::Error::custom(format!("detect.allow: `{text}`: {e}")))?;
            name.make_lowercase();
            Ok(name)
        })
        .collect()
}
fn de_sinkhole<'de, D: Deserializer<'de>>(d: D) -> Result<(Ipv4Addr, Ipv6Addr), D::Error> {
    let list: Vec<String> = keyed(d, "detect.sinkhole")?;
    let mut out = (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED);
    for text in &list {
        match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => out.0 = a,
            Ok(IpAddr::V6(a)) => out.1 = a,
            Err(_) => {
                return Err(D::Error::custom(format!(
                    "detect.sinkhole: `{text}` is not an IPv4 or IPv6 address"
                )));
            }
        }
    }
    Ok(out)
}
fn path<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<PathBuf>, D::Error> {
    let path: PathBuf = keyed(d, key)?;
    if path.as_os_str().is_empty() {
        return Err(D::Error::custom(format!(
            "{key}: give a file path, or leave it out for the embedded one"
        )));
    }
    Ok(Some(path))
}
fn de_model<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    path(d, "detect.model")
}
fn de_psl<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    path(d, "detect.psl")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_mode_defaults_to_log_for_a_resolver_only() {
        let s = DetectSection::default().into_settings(None);
        assert_eq!(s.mode(true), Mode::Log);
        assert_eq!(s.mode(false), Mode::Off);
        let block = DetectSettings {
            mode: Some(Mode::Block),
            ..s.clone()
        };
        assert_eq!(block.mode(true), Mode::Block);
        assert_eq!(block.mode(false), Mode::Off);
        let c = block.detect_config(true);
        assert_eq!(c.block_for_ms, 600_000);
        assert_eq!(c.rate_limit_qps, None);
        assert_eq!(c.allow_for_ms, 86_400_000);
    }

    #[test]
    fn modes_parse() {
        assert_eq!(parse_mode("BLOCK"), Ok(Mode::Block));
        assert!(parse_mode("loud").is_err());
        for m in [Mode::Off, Mode::Log, Mode::Alert, Mode::Block] {
            assert_eq!(parse_mode(mode_name(m)), Ok(m));
        }
    }
}
