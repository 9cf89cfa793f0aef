//! The `[quic]` section: DNS over QUIC (RFC 9250) serving, off while `listen` is empty
//! (docs/CONFIG.md lists each key with its default and bounds). The certificate and key are
//! `[tls]`'s; `crate::tls` builds the TLS configuration, `transport::doq` serves.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::{IntBounds, int};

/// `quic.max_streams`: queries (bidirectional streams) open at once on one connection.
pub const MAX_STREAMS: IntBounds = IntBounds {
    key: "quic.max_streams",
    min: 1,
    max: 10_000,
};

/// `quic.idle_timeout`: seconds a connection with no query in flight is kept.
pub const IDLE_TIMEOUT: IntBounds = IntBounds {
    key: "quic.idle_timeout",
    min: 1,
    max: 300,
};

/// Every integer setting of `[quic]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[MAX_STREAMS, IDLE_TIMEOUT];

/// The `[quic]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuicSettings {
    /// UDP addresses to serve DNS over QUIC on; empty (the default) for none.
    pub listen: Vec<SocketAddr>,
    /// Queries open at once on one connection (the QUIC stream limit).
    pub max_streams: u32,
    /// How long a connection with nothing in flight stays open; `None` (the default) for
    /// `server.tcp_idle_timeout`.
    pub idle_timeout: Option<Duration>,
}

impl QuicSettings {
    /// Whether DNS over QUIC is served.
    pub fn enabled(&self) -> bool {
        !self.listen.is_empty()
    }

    /// Applies `--listen-quic` (which replaces `quic.listen` when given).
    pub fn apply_flags(&mut self, listen: &[SocketAddr]) -> Result<(), String> {
        if !listen.is_empty() {
            self.listen =
                super::tls::checked(listen.to_vec()).map_err(|m| format!("--listen-quic: {m}"))?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct QuicSection {
    #[serde(deserialize_with = "de_listen")]
    listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "de_max_streams")]
    max_streams: u64,
    #[serde(deserialize_with = "de_idle_timeout")]
    idle_timeout: Option<u64>,
}

impl Default for QuicSection {
    fn default() -> QuicSection {
        QuicSection {
            listen: Vec::new(),
            max_streams: 100,
            idle_timeout: None,
        }
    }
}

impl QuicSection {
    /// The settings.
    pub(super) fn into_settings(self) -> QuicSettings {
        QuicSettings {
            listen: self.listen,
            // Within MAX_STREAMS, so within u32.
            max_streams: u32::try_from(self.max_streams).unwrap_or(u32::MAX),
            idle_timeout: self.idle_timeout.map(Duration::from_secs),
        }
    }
}

fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    super::tls::listen_addrs(d, "quic.listen")
}

fn de_max_streams<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, MAX_STREAMS)
}

fn de_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    int(d, IDLE_TIMEOUT).map(Some)
}
