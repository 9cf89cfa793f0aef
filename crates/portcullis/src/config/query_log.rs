//! The `[query_log]` section: one JSON line per answered query (docs/CONFIG.md lists each key
//! with its default and bounds; the `events` crate writes them).

use std::path::Path;

use events::query::QueryLogConfig;
use events::writer::Rotation;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use wire::Name;

use super::{IntBounds, int, keyed};

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[query_log]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    MAX_SIZE = "query_log.max_size", 0, 1 << 40;
    KEEP = "query_log.keep", 0, 1000;
    SAMPLE = "query_log.sample", 1, 1_000_000;
    RATE = "query_log.rate", 0, 10_000_000;
    CLIENT_PREFIX_V4 = "query_log.client_prefix_v4", 0, 32;
    CLIENT_PREFIX_V6 = "query_log.client_prefix_v6", 0, 128;
    QUEUE = "query_log.queue", 16, 1_000_000;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct QueryLogSection {
    #[serde(deserialize_with = "de_file")]
    file: Option<String>,
    #[serde(deserialize_with = "de_max_size")]
    max_size: u64,
    #[serde(deserialize_with = "de_keep")]
    keep: u64,
    #[serde(deserialize_with = "de_sample")]
    sample: u64,
    #[serde(deserialize_with = "de_rate")]
    rate: u64,
    #[serde(deserialize_with = "de_prefix_v4")]
    client_prefix_v4: u64,
    #[serde(deserialize_with = "de_prefix_v6")]
    client_prefix_v6: u64,
    #[serde(deserialize_with = "de_exclude")]
    exclude: Vec<Name>,
    #[serde(deserialize_with = "de_queue")]
    queue: u64,
}

impl Default for QueryLogSection {
    /// Off; when a file is given: every query, whole addresses, 100 MiB files, 5 kept.
    fn default() -> QueryLogSection {
        QueryLogSection {
            file: None,
            max_size: 100 << 20,
            keep: 5,
            sample: 1,
            rate: 0,
            client_prefix_v4: 32,
            client_prefix_v6: 128,
            exclude: Vec::new(),
            queue: 8192,
        }
    }
}

impl QueryLogSection {
    pub(super) fn into_config(self, base_dir: Option<&Path>) -> QueryLogConfig {
        QueryLogConfig {
            sink: self.file.map(|f| super::events::sink(&f, base_dir)),
            rotation: (self.max_size > 0).then(|| Rotation {
                max_size: self.max_size,
                keep: u32::try_from(self.keep).unwrap_or(5),
            }),
            sample: u32::try_from(self.sample).unwrap_or(1),
            rate: u32::try_from(self.rate).unwrap_or(0),
            client_prefix_v4: u8::try_from(self.client_prefix_v4).unwrap_or(32),
            client_prefix_v6: u8::try_from(self.client_prefix_v6).unwrap_or(128),
            exclude: self.exclude,
            queue: usize::try_from(self.queue).unwrap_or(8192),
        }
    }
}

fn de_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let file: String = keyed(d, "query_log.file")?;
    if file.is_empty() {
        return Err(D::Error::custom(
            "query_log.file: give a file path, or `-` for standard output",
        ));
    }
    Ok(Some(file))
}
fn de_exclude<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Name>, D::Error> {
    let names: Vec<String> = keyed(d, "query_log.exclude")?;
    names
        .iter()
        .map(|n| {
            let fqdn = if n.ends_with('.') {
                n.clone()
            } else {
                format!("{n}.")
            };
            fqdn.parse::<Name>().map_err(|e| {
                D::Error::custom(format!(
                    "query_log.exclude: `{n}` is not a domain name: {e}"
                ))
            })
        })
        .collect()
}
fn de_max_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_SIZE)
}
fn de_keep<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, KEEP)
}
fn de_sample<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, SAMPLE)
}
fn de_rate<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, RATE)
}
fn de_prefix_v4<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, CLIENT_PREFIX_V4)
}
fn de_prefix_v6<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, CLIENT_PREFIX_V6)
}
fn de_queue<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, QUEUE)
}
