//! The `[dnstap]` section: DNS messages as dnstap over Frame Streams (docs/CONFIG.md lists
//! each key with its default and bounds; the `events` crate writes them).

use std::path::Path;

use events::dnstap::{DnstapConfig, Target};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use super::{IntBounds, int, keyed, relative_to, text};

/// `dnstap.queue`.
pub const QUEUE: IntBounds = IntBounds {
    key: "dnstap.queue",
    min: 16,
    max: 1_000_000,
};
/// Every integer setting of `[dnstap]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[QUEUE];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DnstapSection {
    #[serde(deserialize_with = "de_output")]
    output: Option<Target>,
    #[serde(deserialize_with = "de_client")]
    client: bool,
    #[serde(deserialize_with = "de_resolver")]
    resolver: bool,
    #[serde(deserialize_with = "de_identity")]
    identity: Option<String>,
    #[serde(deserialize_with = "de_version")]
    version: Option<String>,
    #[serde(deserialize_with = "de_queue")]
    queue: u64,
}

impl Default for DnstapSection {
    /// Off; when an output is given: client and resolver messages.
    fn default() -> DnstapSection {
        DnstapSection {
            output: None,
            client: true,
            resolver: true,
            identity: None,
            version: None,
            queue: 8192,
        }
    }
}

impl DnstapSection {
    pub(super) fn into_config(self, base_dir: Option<&Path>) -> DnstapConfig {
        DnstapConfig {
            output: self.output.map(|t| target(t, base_dir)),
            client: self.client,
            resolver: self.resolver,
            identity: self.identity.unwrap_or_else(events::writer::hostname),
            version: self
                .version
                .unwrap_or_else(|| format!("portcullis {}", env!("CARGO_PKG_VERSION"))),
            queue: usize::try_from(self.queue).unwrap_or(8192),
        }
    }
}

/// `unix:PATH` or `file:PATH`, a relative path taken from the configuration's directory.
pub(crate) fn target(t: Target, base_dir: Option<&Path>) -> Target {
    match t {
        Target::File(p) => Target::File(relative_to(base_dir, p)),
        Target::Unix(p) => Target::Unix(relative_to(base_dir, p)),
    }
}

fn de_output<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Target>, D::Error> {
    let s: String = keyed(d, "dnstap.output")?;
    s.parse()
        .map(Some)
        .map_err(|e| D::Error::custom(format!("dnstap.output: {e}")))
}
fn de_client<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "dnstap.client")
}
fn de_resolver<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "dnstap.resolver")
}
fn de_identity<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "dnstap.identity", 255).map(Some)
}
fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "dnstap.version", 255).map(Some)
}
fn de_queue<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, QUEUE)
}
