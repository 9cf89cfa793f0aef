//! The `[events]` section: where security events go (docs/CONFIG.md lists each key with its
//! default and bounds; the `events` crate writes them).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use super::{IntBounds, int, keyed, relative_to};

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[events]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    QUEUE = "events.queue", 16, 1_000_000;
    MAX_PER_SECOND = "events.max_per_second", 1, 1_000_000;
}

/// Syslog facilities by name (RFC 5424 table 1), for `events.syslog_facility`.
const FACILITIES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct EventsSection {
    #[serde(deserialize_with = "de_file")]
    file: Option<String>,
    #[serde(deserialize_with = "de_syslog")]
    syslog: Option<PathBuf>,
    #[serde(deserialize_with = "de_facility")]
    syslog_facility: u8,
    #[serde(deserialize_with = "de_queue")]
    queue: u64,
    #[serde(deserialize_with = "de_max_per_second")]
    max_per_second: u64,
}

impl Default for EventsSection {
    /// No sink: actions are only counted in `/metrics`.
    fn default() -> EventsSection {
        EventsSection {
            file: None,
            syslog: None,
            syslog_facility: 3,
            queue: 8192,
            max_per_second: 1000,
        }
    }
}

impl EventsSection {
    pub(super) fn into_config(self, base_dir: Option<&Path>) -> events::EventsConfig {
        events::EventsConfig {
            json: self.file.map(|f| sink(&f, base_dir)),
            syslog: self.syslog.map(|p| relative_to(base_dir, p)),
            syslog_facility: self.syslog_facility,
            queue: usize::try_from(self.queue).unwrap_or(8192),
            max_per_second: self.max_per_second,
        }
    }
}

/// `-` is standard output; anything else a file path.
pub(crate) fn sink(text: &str, base_dir: Option<&Path>) -> events::Sink {
    if text == "-" {
        events::Sink::Stdout
    } else {
        events::Sink::File(relative_to(base_dir, PathBuf::from(text)))
    }
}

fn de_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let file: String = keyed(d, "events.file")?;
    if file.is_empty() {
        return Err(D::Error::custom(
            "events.file: give a file path, or `-` for standard output",
        ));
    }
    Ok(Some(file))
}
fn de_syslog<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let path: PathBuf = keyed(d, "events.syslog")?;
    if path.as_os_str().is_empty() {
        return Err(D::Error::custom(
            "events.syslog: give the path of a Unix datagram socket, such as /dev/log",
        ));
    }
    Ok(Some(path))
}
fn de_facility<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let name: String = keyed(d, "events.syslog_facility")?;
    FACILITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        .map(|&(_, code)| code)
        .ok_or_else(|| {
            D::Error::custom(format!(
                "events.syslog_facility: `{name}` is not a syslog facility (daemon, user, \
                 local0 to local7, ...)"
            ))
        })
}
fn de_queue<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, QUEUE)
}
fn de_max_per_second<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_PER_SECOND)
}
