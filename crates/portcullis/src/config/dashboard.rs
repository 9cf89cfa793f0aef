//! The `[dashboard]` section (the live web dashboard on `server.http`: its top-k tables, its
//! event feed, the operator's runtime block and allow list) and the HTTP API token
//! (`server.http_token`, `server.http_token_file`). docs/CONFIG.md lists each key.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::{ConfigError, IntBounds, Location, int, relative_to};

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of `[dashboard]`, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    TOP_CAPACITY = "dashboard.top_capacity", 16, 65_536;
    TOP_SAMPLE = "dashboard.top_sample", 1, 1_000;
    TOP_WINDOW = "dashboard.top_window", 1, 86_400;
    EVENTS = "dashboard.events", 16, 100_000;
    MAX_OVERRIDES = "dashboard.max_overrides", 1, 100_000;
}

/// Shortest API token accepted, in bytes.
pub const MIN_TOKEN: usize = 16;
/// Longest API token accepted, in bytes.
pub const MAX_TOKEN: usize = 256;

/// The `[dashboard]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardSettings {
    /// Whether `/` and `/api/*` are served on `server.http` (the detection API aside).
    pub enabled: bool,
    /// Top-k slots per table and per worker.
    pub top_capacity: usize,
    /// Count one query in this many in the top-k tables.
    pub top_sample: u32,
    /// The top-k counts are halved once per window.
    pub top_window: Duration,
    /// Recent security events kept for the live feed.
    pub events: usize,
    /// Names the operator may block or allow at run time (`ctl block`, `POST /api/block`).
    pub max_overrides: usize,
}

impl Default for DashboardSettings {
    fn default() -> DashboardSettings {
        DashboardSection::default().into_settings()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct DashboardSection {
    enabled: bool,
    #[serde(deserialize_with = "de_top_capacity")]
    top_capacity: u64,
    #[serde(deserialize_with = "de_top_sample")]
    top_sample: u64,
    #[serde(deserialize_with = "de_top_window")]
    top_window: u64,
    #[serde(deserialize_with = "de_events")]
    events: u64,
    #[serde(deserialize_with = "de_max_overrides")]
    max_overrides: u64,
}

impl Default for DashboardSection {
    fn default() -> DashboardSection {
        DashboardSection {
            enabled: true,
            top_capacity: 1024,
            // One query in 8: the tables still find the heavy hitters within a window, at an
            // eighth of the cost (about 400 instructions a counted query).
            top_sample: 8,
            top_window: 60,
            events: 500,
            max_overrides: 1024,
        }
    }
}

impl DashboardSection {
    pub(super) fn into_settings(self) -> DashboardSettings {
        // Every value is within its bounds, far below the targets' limits.
        DashboardSettings {
            enabled: self.enabled,
            top_capacity: usize::try_from(self.top_capacity).unwrap_or(1024),
            top_sample: u32::try_from(self.top_sample).unwrap_or(1),
            top_window: Duration::from_secs(self.top_window),
            events: usize::try_from(self.events).unwrap_or(500),
            max_overrides: usize::try_from(self.max_overrides).unwrap_or(1024),
        }
    }
}

fn de_top_capacity<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TOP_CAPACITY)
}
fn de_top_sample<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TOP_SAMPLE)
}
fn de_top_window<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TOP_WINDOW)
}
fn de_events<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, EVENTS)
}
fn de_max_overrides<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_OVERRIDES)
}

/// The API token from `server.http_token` or `server.http_token_file` (read now, relative to
/// the configuration's directory): printable ASCII without spaces, [`MIN_TOKEN`] to
/// [`MAX_TOKEN`] bytes. Both at once is an error.
pub(super) fn token(
    inline: Option<Spanned<String>>,
    file: Option<Spanned<PathBuf>>,
    at: &dyn Fn(Range<usize>) -> Location,
    base_dir: Option<&Path>,
) -> Result<Option<String>, ConfigError> {
    let (text, where_, key) = match (inline, file) {
        (None, None) => return Ok(None),
        (Some(_), Some(f)) => {
            return Err(ConfigError::at(
                at(f.span()),
                "server.http_token_file: give server.http_token or server.http_token_file, \
                 not both",
            ));
        }
        (Some(t), None) => {
            let span = t.span();
            (t.into_inner(), at(span), "server.http_token")
        }
        (None, Some(f)) => {
            let span = f.span();
            let path = relative_to(base_dir, f.into_inner());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::at(
                    at(span.clone()),
                    format!(
                        "server.http_token_file: cannot read {}: {e}",
                        path.display()
                    ),
                )
            })?;
            (text.trim().to_owned(), at(span), "server.http_token_file")
        }
    };
    if text.len() < MIN_TOKEN
        || text.len() > MAX_TOKEN
        || !text.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ConfigError::at(
            where_,
            format!(
                "{key}: the token must be {MIN_TOKEN} to {MAX_TOKEN} printable ASCII characters \
                 without spaces (for example the output of `openssl rand -hex 32`)"
            ),
        ));
    }
    Ok(Some(text))
}

/// Where `server.http` is written in `text`, when it is.
pub(super) fn http_location(label: &str, text: &str) -> Option<Location> {
    #[derive(Deserialize)]
    struct Probe {
        server: Option<ProbeServer>,
    }
    #[derive(Deserialize)]
    struct ProbeServer {
        http: Option<Spanned<toml::Value>>,
    }
    let probe: Probe = toml::from_str(text).ok()?;
    let span = probe.server?.http?.span();
    Some(Location::of(label, text, span.start))
}

/// Refuses an HTTP endpoint that is not on a loopback address without an API token: the
/// dashboard's API can flush, reload and block, so anyone who can reach it must prove who
/// they are. `location` is where `server.http` was set.
pub(super) fn check_exposed(
    http: Option<SocketAddr>,
    token: Option<&str>,
    dashboard: &DashboardSettings,
    location: Option<Location>,
    label: &str,
) -> Result<(), ConfigError> {
    let Some(addr) = http else { return Ok(()) };
    if !dashboard.enabled || addr.ip().is_loopback() || token.is_some() {
        return Ok(());
    }
    let message = format!(
        "server.http: {addr} is not a loopback address, so the dashboard and its API need a \
         token: set server.http_token or server.http_token_file (or dashboard.enabled = false)"
    );
    Err(match location {
        Some(location) => ConfigError::at(location, message),
        None => ConfigError {
            location: None,
            message: format!("{label}: {message}"),
        },
    })
}
