//! DNS over TLS (RFC 7858): the TCP transport of [`crate::tcp`] inside a TLS session.
//!
//! A DoT connection is a TCP connection (port 853 by convention) whose first bytes are a TLS
//! handshake; after it, the stream carries the same length-prefixed messages as DNS over TCP
//! (RFC 7858 section 3.3). So [`serve`] runs the TCP accept loop and connection code unchanged
//! on the TLS stream: pipelined queries answered out of order, the idle and message timeouts,
//! the connection limits (a connection counts from its accept, handshake included), the query
//! ACL and the client limits. The engine sees [`engine::Transport::Encrypted`] (so a padded
//! query gets a padded response, RFC 8467), and the queries count under the `dot` transport
//! label.
//!
//! The handshake has its own deadline ([`TlsSettings::handshake_timeout`]); one that fails or
//! runs late closes the connection and counts in `portcullis_connections_rejected_total` with
//! the reason `tls_handshake`.
//!
//! The TLS settings ([`rustls::ServerConfig`]: certificate, versions, ALPN `dot`, session
//! resumption) are built by the caller and held in an [`ArcSwap`], so replacing them (a new
//! certificate on reload) applies to the next handshake without touching open connections.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::guards::Guards;
use crate::resolver::ResolverHandle;
use crate::tcp::{self, Endpoint, TcpLimits};
use crate::{SharedEngine, Shutdown};

/// The ALPN protocol identifier of DNS over TLS (RFC 7858, IANA "dot").
pub const ALPN_DOT: &[u8] = b"dot";

/// The TLS side of a DoT listener.
#[derive(Debug)]
pub struct TlsSettings {
    /// The server's TLS configuration, swapped whole when the certificate is replaced.
    pub config: Arc<ArcSwap<rustls::ServerConfig>>,
    /// How long a client has, from its accept, to complete the handshake.
    pub handshake_timeout: Duration,
}

impl TlsSettings {
    /// Completes the server side of the handshake on `stream`; `None` when it fails or does
    /// not finish within [`TlsSettings::handshake_timeout`].
    pub(crate) async fn handshake<S>(&self, stream: S) -> Option<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.config.load_full());
        tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream))
            .await
            .ok()?
            .ok()
    }
}

/// Serves DNS over TLS on `listener` until `shutdown` fires and the connections have closed;
/// see the [module docs](self) and [`tcp::serve_guarded`], whose rules apply unchanged.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    tls: TlsSettings,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    limits: TcpLimits,
    registry: Arc<Registry>,
    guards: Guards,
    shutdown: Shutdown,
) {
    let endpoint = Endpoint {
        engine,
        resolver,
        limits,
        registry,
        guards,
        shutdown,
    };
    tcp::accept_loop(listener, endpoint, Some(Arc::new(tls))).await;
}
