//! The `[limits]` section: client limits and dynamic blocks (the `guard` crate decides, the UDP
//! and TCP transports act), and the resolver's random-subdomain defence (the `recursor`
//! crate's zone cap). docs/CONFIG.md lists each key with its default and bounds.

use std::ops::Range;

use serde::Deserialize;
use serde::de::Deserializer;
use toml::Spanned;

use super::{ConfigError, IntBounds, Location, int, keyed, prefixes};
use crate::prefix::Prefix;

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[limits]` and `[[limits.rule]]`, for the documentation
        /// test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    QUERY_RATE = "limits.query_rate", 0, 1_000_000;
    LARGE_RESPONSE = "limits.large_response", 512, 65_535;
    IPV4_PREFIX = "limits.ipv4_prefix", 8, 32;
    IPV6_PREFIX = "limits.ipv6_prefix", 16, 128;
    TABLE_SIZE = "limits.table_size", 1024, 16_777_216;
    MAX_BLOCKS = "limits.max_blocks", 1, 1_000_000;
    ZONE_NXDOMAINS_PER_SECOND = "limits.zone_nxdomains_per_second", 0, 1_000_000;
    ZONE_QUERIES_PER_SECOND = "limits.zone_queries_per_second", 1, 1_000_000;
    ZONE_HOLD = "limits.zone_hold", 1, 86_400;
    ZONE_TABLE_SIZE = "limits.zone_table_size", 16, 1_000_000;
    RULE_PER_SECOND = "limits.rule.per_second", 1, 1_000_000;
    RULE_WINDOW = "limits.rule.window", 1, 3600;
    RULE_DURATION = "limits.rule.duration", 1, 86_400;
}

/// Most `[[limits.rule]]` tables.
pub const MAX_RULES: usize = 16;

/// The `[limits]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LimitsSettings {
    /// Whether client limits and dynamic blocks apply at all.
    pub enabled: bool,
    /// What the client limiter is built from.
    pub client: guard::DynBlockConfig,
    /// The random-subdomain defence; `None`: off.
    pub zone_cap: Option<recursor::ZoneCapConfig>,
}

impl LimitsSettings {
    /// The limiter to share between the UDP workers and TCP connections, when enabled.
    pub fn limiter(&self) -> Option<guard::DynBlock> {
        self.enabled
            .then(|| guard::DynBlock::new(self.client.clone()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct LimitsSection {
    #[serde(deserialize_with = "de_enabled")]
    enabled: bool,
    #[serde(deserialize_with = "de_query_rate")]
    query_rate: u64,
    #[serde(deserialize_with = "de_query_rate_action")]
    query_rate_action: String,
    #[serde(deserialize_with = "de_large_response")]
    large_response: u64,
    #[serde(deserialize_with = "de_ipv4_prefix")]
    ipv4_prefix: u64,
    #[serde(deserialize_with = "de_ipv6_prefix")]
    ipv6_prefix: u64,
    #[serde(deserialize_with = "de_exempt")]
    exempt: Vec<Prefix>,
    #[serde(deserialize_with = "de_table_size")]
    table_size: u64,
    #[serde(deserialize_with = "de_max_blocks")]
    max_blocks: u64,
    #[serde(rename = "rule")]
    rules: Vec<Spanned<RuleSection>>,
    #[serde(deserialize_with = "de_zone_nxdomains_per_second")]
    zone_nxdomains_per_second: u64,
    #[serde(deserialize_with = "de_zone_queries_per_second")]
    zone_queries_per_second: u64,
    #[serde(deserialize_with = "de_zone_hold")]
    zone_hold: u64,
    #[serde(deserialize_with = "de_zone_table_size")]
    zone_table_size: u64,
}

impl Default for LimitsSection {
    /// Off; dnsdist-like prefixes (/24, /56); the random-subdomain defence off.
    fn default() -> LimitsSection {
        let d = guard::DynBlockConfig::default();
        let z = recursor::ZoneCapConfig::default();
        LimitsSection {
            enabled: false,
            query_rate: u64::from(d.query_rate),
            query_rate_action: "drop".to_owned(),
            large_response: d.large_response as u64,
            ipv4_prefix: u64::from(d.ipv4_prefix),
            ipv6_prefix: u64::from(d.ipv6_prefix),
            exempt: Vec::new(),
            table_size: d.table_size as u64,
            max_blocks: d.max_blocks as u64,
            rules: Vec::new(),
            zone_nxdomains_per_second: 0,
            zone_queries_per_second: u64::from(z.queries_per_second),
            zone_hold: u64::from(z.hold),
            zone_table_size: z.table_size as u64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    #[serde(deserialize_with = "de_rule_metric")]
    metric: guard::dynblock::Metric,
    #[serde(deserialize_with = "de_rule_per_second")]
    per_second: u64,
    #[serde(default = "default_window", deserialize_with = "de_rule_window")]
    window: u64,
    #[serde(deserialize_with = "de_rule_action")]
    action: guard::dynblock::BlockAction,
    #[serde(default = "default_duration", deserialize_with = "de_rule_duration")]
    duration: u64,
}

fn default_window() -> u64 {
    10
}

fn default_duration() -> u64 {
    60
}

impl LimitsSection {
    /// The settings; `at` turns a span of the file into a location for errors.
    pub(super) fn into_settings(
        self,
        at: impl Fn(Range<usize>) -> Location,
    ) -> Result<LimitsSettings, ConfigError> {
        // Every value was checked against its bounds, which fit the narrower types.
        let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let u8_of = |v: u64| u8::try_from(v).unwrap_or(u8::MAX);
        let usize_of = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        if self.rules.len() > MAX_RULES {
            let span = self.rules.get(MAX_RULES).map_or(0..0, Spanned::span);
            return Err(ConfigError::at(
                at(span),
                format!("limits.rule: at most {MAX_RULES} rules"),
            ));
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        for rule in self.rules {
            let span = rule.span();
            let r = rule.into_inner();
            let events = r.per_second.saturating_mul(r.window);
            if events > guard::dynblock::MAX_EVENTS_PER_WINDOW {
                return Err(ConfigError::at(
                    at(span),
                    format!(
                        "limits.rule: per_second × window ({events}) must be at most {}",
                        guard::dynblock::MAX_EVENTS_PER_WINDOW
                    ),
                ));
            }
            rules.push(guard::dynblock::Rule {
                metric: r.metric,
                per_second: u32_of(r.per_second),
                window: u32_of(r.window),
                action: r.action,
                duration: u32_of(r.duration),
            });
        }
        let query_rate_action = match self.query_rate_action.as_str() {
            "refuse" => guard::dynblock::RateAction::Refuse,
            _ => guard::dynblock::RateAction::Drop,
        };
        Ok(LimitsSettings {
            enabled: self.enabled,
            client: guard::DynBlockConfig {
                query_rate: u32_of(self.query_rate),
                query_rate_action,
                rules,
                large_response: usize_of(self.large_response),
                ipv4_prefix: u8_of(self.ipv4_prefix),
                ipv6_prefix: u8_of(self.ipv6_prefix),
                exempt: self.exempt.iter().map(|p| (p.addr(), p.len())).collect(),
                table_size: usize_of(self.table_size),
                max_blocks: usize_of(self.max_blocks),
            },
            zone_cap: (self.zone_nxdomains_per_second > 0).then(|| recursor::ZoneCapConfig {
                nxdomains_per_second: u32_of(self.zone_nxdomains_per_second),
                queries_per_second: u32_of(self.zone_queries_per_second),
                hold: u32_of(self.zone_hold),
                table_size: usize_of(self.zone_table_size),
            }),
        })
    }
}

fn de_enabled<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "limits.enabled")
}
fn de_exempt<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Prefix>, D::Error> {
    prefixes(d, "limits.exempt")
}
fn de_query_rate_action<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let key = "limits.query_rate_action";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "drop" | "refuse" => Ok(s),
        _ => Err(serde::de::Error::custom(format!(
            "{key}: `{s}` is not one of \"drop\", \"refuse\""
        ))),
    }
}
fn de_rule_metric<'de, D: Deserializer<'de>>(d: D) -> Result<guard::dynblock::Metric, D::Error> {
    use guard::dynblock::Metric;
    let key = "limits.rule.metric";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "queries" => Ok(Metric::Queries),
        "nxdomains" => Ok(Metric::NxDomains),
        "large_responses" => Ok(Metric::LargeResponses),
        _ => Err(serde::de::Error::custom(format!(
            "{key}: `{s}` is not one of \"queries\", \"nxdomains\", \"large_responses\""
        ))),
    }
}
fn de_rule_action<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<guard::dynblock::BlockAction, D::Error> {
    use guard::dynblock::BlockAction;
    let key = "limits.rule.action";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "drop" => Ok(BlockAction::Drop),
        "truncate" => Ok(BlockAction::Truncate),
        "refuse" => Ok(BlockAction::Refuse),
        _ => Err(serde::de::Error::custom(format!(
            "{key}: `{s}` is not one of \"drop\", \"truncate\", \"refuse\""
        ))),
    }
}
fn de_query_rate<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, QUERY_RATE)
}
fn de_large_response<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, LARGE_RESPONSE)
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
fn de_max_blocks<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_BLOCKS)
}
fn de_zone_nxdomains_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ZONE_NXDOMAINS_PER_SECOND)
}
fn de_zone_queries_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ZONE_QUERIES_PER_SECOND)
}
fn de_zone_hold<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ZONE_HOLD)
}
fn de_zone_table_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ZONE_TABLE_SIZE)
}
fn de_rule_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RULE_PER_SECOND)
}
fn de_rule_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RULE_WINDOW)
}
fn de_rule_duration<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RULE_DURATION)
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
