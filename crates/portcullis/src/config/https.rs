//! The `[https]` section: DNS over HTTPS (RFC 8484) serving, off while `listen` is empty
//! (docs/CONFIG.md lists each key with its default and bounds; the certificate, key, TLS
//! versions and handshake timeout are `[tls]`'s; `transport::doh` serves).

use std::net::SocketAddr;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};

use super::{IntBounds, int, keyed};

/// `https.max_streams`: concurrent HTTP/2 streams (requests) on one connection.
pub const MAX_STREAMS: IntBounds = IntBounds {
    key: "https.max_streams",
    min: 1,
    max: 1000,
};

/// Every integer setting of `[https]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[MAX_STREAMS];

/// The longest URI path accepted for `https.path`.
const MAX_PATH: usize = 256;

/// The `[https]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpsSettings {
    /// Addresses to serve DNS over HTTPS on; empty (the default) for none.
    pub listen: Vec<SocketAddr>,
    /// The URI path of queries, `/dns-query` by default.
    pub path: String,
    /// Whether the JSON form (`?name=&type=`, `application/dns-json`) is served.
    pub json: bool,
    /// Concurrent HTTP/2 streams on one connection.
    pub max_streams: u32,
}

impl Default for HttpsSettings {
    fn default() -> HttpsSettings {
        HttpsSection::default().into_settings()
    }
}

impl HttpsSettings {
    /// Whether DNS over HTTPS is served.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty()
    }

    /// Applies `--listen-https` (which replaces `https.listen`).
    pub fn apply_flags(&mut self, listen: &[SocketAddr]) -> Result<(), String> {
        if !listen.is_empty() {
            self.listen =
                super::tls::checked(listen.to_vec()).map_err(|m| format!("--listen-https: {m}"))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct HttpsSection {
    #[serde(deserialize_with = "de_listen")]
    listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "de_path")]
    path: String,
    #[serde(deserialize_with = "de_json")]
    json: bool,
    #[serde(deserialize_with = "de_max_streams")]
    max_streams: u64,
}

impl Default for HttpsSection {
    fn default() -> HttpsSection {
        HttpsSection {
            listen: Vec::new(),
            path: "/dns-query".to_owned(),
            json: true,
            max_streams: 100,
        }
    }
}

impl HttpsSection {
    /// The settings.
    pub(super) fn into_settings(self) -> HttpsSettings {
        HttpsSettings {
            listen: self.listen,
            path: self.path,
            json: self.json,
            // Within MAX_STREAMS, so within u32.
            max_streams: u32::try_from(self.max_streams).unwrap_or(u32::MAX),
        }
    }
}

fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    super::tls::listen_addrs(d, "https.listen")
}

/// A path is `/` and then URI path characters (RFC 3986 section 3.3, no query or fragment).
fn de_path<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let key = "https.path";
    let s: String = keyed(d, key)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~!$&'()*+,;=:@%".contains(c);
    if !s.starts_with('/') || s.len() > MAX_PATH || !s.chars().all(allowed) {
        return Err(D::Error::custom(format!(
            "{key}: `{s}` is not a URI path: `/` then at most {MAX_PATH} characters, no `?` or `#`"
        )));
    }
    Ok(s)
}

fn de_json<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "https.json")
}

fn de_max_streams<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_STREAMS)
}
