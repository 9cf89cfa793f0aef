//! The `[rrl]` section: response rate limiting over UDP (docs/CONFIG.md lists each key with
//! its default and bounds; the `guard` crate decides, the UDP transport acts).

use serde::Deserialize;
use serde::de::Deserializer;

use super::{IntBounds, int, keyed, prefixes};
use crate::prefix::Prefix;

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[rrl]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    RESPONSES_PER_SECOND = "rrl.responses_per_second", 0, 1_000_000;
    NXDOMAINS_PER_SECOND = "rrl.nxdomains_per_second", 0, 1_000_000;
    ERRORS_PER_SECOND = "rrl.errors_per_second", 0, 1_000_000;
    REFERRALS_PER_SECOND = "rrl.referrals_per_second", 0, 1_000_000;
    WINDOW = "rrl.window", 1, 3600;
    SLIP = "rrl.slip", 0, 10;
    IPV4_PREFIX = "rrl.ipv4_prefix", 8, 32;
    IPV6_PREFIX = "rrl.ipv6_prefix", 16, 128;
    TABLE_SIZE = "rrl.table_size", 1024, 16_777_216;
}

/// The `[rrl]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrlSettings {
    /// Whether UDP responses are rate limited at all.
    pub enabled: bool,
    /// What the limiter is built from.
    pub limits: guard::RrlConfig,
}

impl RrlSettings {
    /// The limiter to share between the UDP workers, when enabled.
    pub fn limiter(&self) -> Option<guard::Rrl> {
        self.enabled.then(|| guard::Rrl::new(self.limits.clone()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RrlSection {
    #[serde(deserialize_with = "de_enabled")]
    enabled: bool,
    #[serde(deserialize_with = "de_responses_per_second")]
    responses_per_second: u64,
    #[serde(deserialize_with = "de_nxdomains_per_second")]
    nxdomains_per_second: u64,
    #[serde(deserialize_with = "de_errors_per_second")]
    errors_per_second: u64,
    #[serde(deserialize_with = "de_referrals_per_second")]
    referrals_per_second: u64,
    #[serde(deserialize_with = "de_window")]
    window: u64,
    #[serde(deserialize_with = "de_slip")]
    slip: u64,
    #[serde(deserialize_with = "de_ipv4_prefix")]
    ipv4_prefix: u64,
    #[serde(deserialize_with = "de_ipv6_prefix")]
    ipv6_prefix: u64,
    #[serde(deserialize_with = "de_exempt")]
    exempt: Vec<Prefix>,
    #[serde(deserialize_with = "de_log_only")]
    log_only: bool,
    #[serde(deserialize_with = "de_table_size")]
    table_size: u64,
}

impl Default for RrlSection {
    /// BIND's defaults where BIND has one (window 15, slip 2, /24 and /56); no rate limited
    /// until one is set.
    fn default() -> RrlSection {
        let d = guard::RrlConfig::default();
        RrlSection {
            enabled: false,
            responses_per_second: u64::from(d.responses_per_second),
            nxdomains_per_second: u64::from(d.nxdomains_per_second),
            errors_per_second: u64::from(d.errors_per_second),
            referrals_per_second: u64::from(d.referrals_per_second),
            window: u64::from(d.window),
            slip: u64::from(d.slip),
            ipv4_prefix: u64::from(d.ipv4_prefix),
            ipv6_prefix: u64::from(d.ipv6_prefix),
            exempt: Vec::new(),
            log_only: false,
            table_size: d.table_size as u64,
        }
    }
}

impl RrlSection {
    pub(super) fn into_settings(self) -> RrlSettings {
        // Every value was checked against its bounds, which fit the narrower types.
        let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let u8_of = |v: u64| u8::try_from(v).unwrap_or(u8::MAX);
        RrlSettings {
            enabled: self.enabled,
            limits: guard::RrlConfig {
                responses_per_second: u32_of(self.responses_per_second),
                nxdomains_per_second: u32_of(self.nxdomains_per_second),
                errors_per_second: u32_of(self.errors_per_second),
                referrals_per_second: u32_of(self.referrals_per_second),
                window: u32_of(self.window),
                slip: u32_of(self.slip),
                ipv4_prefix: u8_of(self.ipv4_prefix),
                ipv6_prefix: u8_of(self.ipv6_prefix),
                exempt: self.exempt.iter().map(|p| (p.addr(), p.len())).collect(),
                log_only: self.log_only,
                table_size: usize::try_from(self.table_size).unwrap_or(1 << 16),
            },
        }
    }
}

fn de_enabled<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "rrl.enabled")
}
fn de_log_only<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "rrl.log_only")
}
fn de_exempt<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Prefix>, D::Error> {
    prefixes(d, "rrl.exempt")
}
fn de_responses_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RESPONSES_PER_SECOND)
}
fn de_nxdomains_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, NXDOMAINS_PER_SECOND)
}
fn de_errors_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ERRORS_PER_SECOND)
}
fn de_referrals_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, REFERRALS_PER_SECOND)
}
fn de_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, WINDOW)
}
fn de_slip<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, SLIP)
}
fn de_ipv4_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, IPV4_PREFIX)
}
fn de_ipv6_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, IPV6_PREFIX)
}
fn de_table_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TABLE_SIZE)
}
