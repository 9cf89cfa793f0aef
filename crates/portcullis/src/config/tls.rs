//! The `[tls]` section: DNS over TLS (RFC 7858) serving, off while `listen` is empty
//! (docs/CONFIG.md lists each key with its default and bounds; `crate::tls` loads the
//! certificate, `transport::tls` serves).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Error as _};

use super::{IntBounds, addr, int, keyed, relative_to};

/// `tls.handshake_timeout`: seconds a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: IntBounds = IntBounds {
    key: "tls.handshake_timeout",
    min: 1,
    max: 60,
};

/// Every integer setting of `[tls]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[HANDSHAKE_TIMEOUT];

/// At most this many listen addresses for each encrypted transport (DoT, DoH, DoQ).
const MAX_LISTEN: usize = 64;

/// The oldest TLS version offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only (the default).
    #[default]
    Tls13,
}

/// The `[tls]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Addresses to serve DNS over TLS on; empty (the default) for none.
    pub listen: Vec<SocketAddr>,
    /// The certificate chain, PEM, leaf first.
    pub cert: Option<PathBuf>,
    /// The private key, PEM (PKCS #8, SEC1 or PKCS #1).
    pub key: Option<PathBuf>,
    /// The oldest TLS version offered.
    pub min_version: TlsVersion,
    /// How long a client has to complete the handshake.
    pub handshake_timeout: Duration,
    /// The name clients reach the server by, which the certificate is valid for; when set, a
    /// resolver announces its encrypted listeners under it at `_dns.resolver.arpa` (Discovery
    /// of Designated Resolvers, RFC 9462).
    pub name: Option<wire::Name>,
}

impl TlsSettings {
    /// Whether DNS over TLS is served.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty()
    }

    /// Applies `--tls-cert`, `--tls-key` and `--listen-tls` (which replaces `tls.listen`).
    pub fn apply_flags(
        &mut self,
        cert: Option<&Path>,
        key: Option<&Path>,
        listen: &[SocketAddr],
    ) -> Result<(), String> {
        if let Some(cert) = cert {
            self.cert = Some(cert.to_owned());
        }
        if let Some(key) = key {
            self.key = Some(key.to_owned());
        }
        if !listen.is_empty() {
            self.listen = checked(listen.to_vec()).map_err(|m| format!("--listen-tls: {m}"))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct TlsSection {
    #[serde(deserialize_with = "de_listen")]
    listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "de_cert")]
    cert: Option<PathBuf>,
    #[serde(deserialize_with = "de_key")]
    key: Option<PathBuf>,
    #[serde(deserialize_with = "de_min_version")]
    min_version: TlsVersion,
    #[serde(deserialize_with = "de_handshake_timeout")]
    handshake_timeout: u64,
    #[serde(deserialize_with = "de_name")]
    name: Option<wire::Name>,
}

impl Default for TlsSection {
    fn default() -> TlsSection {
        TlsSection {
            listen: Vec::new(),
            cert: None,
            key: None,
            min_version: TlsVersion::Tls13,
            handshake_timeout: 5,
            name: None,
        }
    }
}

impl TlsSection {
    /// The settings, with the PEM paths taken relative to the configuration file's directory.
    pub(super) fn into_settings(self, base_dir: Option<&Path>) -> TlsSettings {
        TlsSettings {
            listen: self.listen,
            cert: self.cert.map(|p| relative_to(base_dir, p)),
            key: self.key.map(|p| relative_to(base_dir, p)),
            min_version: self.min_version,
            handshake_timeout: Duration::from_secs(self.handshake_timeout),
            name: self.name,
        }
    }
}

/// `listen`, when it has at most [`MAX_LISTEN`] addresses and none twice (for the DoT, DoH and
/// DoQ listeners alike).
pub(super) fn checked(listen: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    if listen.len() > MAX_LISTEN {
        return Err(format!(
            "{} addresses, more than the {MAX_LISTEN} allowed",
            listen.len()
        ));
    }
    for (i, a) in listen.iter().enumerate() {
        if listen.get(..i).is_some_and(|before| before.contains(a)) {
            return Err(format!("{a} is listed twice"));
        }
    }
    Ok(listen)
}

fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    listen_addrs(d, "tls.listen")
}

/// The listen addresses of `key` (`tls.listen`, `https.listen`, `quic.listen`), each an IP
/// address with a port, checked by [`checked`].
pub(super) fn listen_addrs<'de, D: Deserializer<'de>>(
    d: D,
    key: &str,
) -> Result<Vec<SocketAddr>, D::Error> {
    let list: Vec<String> = keyed(d, key)?;
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(addr(
            de::value::StringDeserializer::<D::Error>::new(s),
            key,
        )?);
    }
    checked(out).map_err(|m| D::Error::custom(format!("{key}: {m}")))
}

fn pem_path<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Option<PathBuf>, D::Error> {
    let s: String = keyed(d, key)?;
    if s.is_empty() || s.contains('\0') {
        return Err(D::Error::custom(format!("{key}: not a file name: `{s}`")));
    }
    Ok(Some(PathBuf::from(s)))
}

fn de_cert<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    pem_path(d, "tls.cert")
}

fn de_key<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    pem_path(d, "tls.key")
}

fn de_min_version<'de, D: Deserializer<'de>>(d: D) -> Result<TlsVersion, D::Error> {
    let key = "tls.min_version";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "1.3" => Ok(TlsVersion::Tls13),
        "1.2" => Ok(TlsVersion::Tls12),
        _ => Err(D::Error::custom(format!(
            "{key}: `{s}` is not a TLS version: \"1.3\" or \"1.2\""
        ))),
    }
}

fn de_handshake_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, HANDSHAKE_TIMEOUT)
}

fn de_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<wire::Name>, D::Error> {
    let key = "tls.name";
    let s: String = keyed(d, key)?;
    let absolute = if s.ends_with('.') {
        s.clone()
    } else {
        format!("{s}.")
    };
    match absolute.parse::<wire::Name>() {
        Ok(name) if s != "." && !s.is_empty() => Ok(Some(name)),
        _ => Err(D::Error::custom(format!("{key}: `{s}` is not a host name"))),
    }
}
