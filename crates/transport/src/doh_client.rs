//! The client side of DNS over HTTPS (RFC 8484): what `portcullis query +https` and the
//! resolver's DoH upstreams send queries with.
//!
//! A [`DohClient`] keeps one HTTP/2 connection to its server (TLS with ALPN `h2`) and sends each
//! query as a `POST` of `application/dns-message` on a stream of its own, so many queries share
//! the connection at once (RFC 8484 section 5.2 prefers HTTP/2 for this). The connection is
//! opened on the first query and again after it fails or the server closes it (an idle
//! timeout, say); a query that finds the connection gone retries once on a new one.
//!
//! The message ID sent is 0 (RFC 8484 section 4.1: a DoH client should use 0, so that equal
//! queries are equal HTTP requests for caches) and the caller's ID is put back in the response.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http2::SendRequest;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;

use crate::client_tls::ClientTls;
use crate::secure_upstream::{SecureExchange, SecureSpec};

/// The media type of a DNS message in wire format (RFC 8484 section 6).
pub const DNS_MESSAGE: &str = "application/dns-message";

/// The ALPN protocol of HTTP/2, which the client offers and needs.
pub const ALPN_H2: &[u8] = b"h2";

/// The largest DNS message, and so the largest response body read.
const MAX_MESSAGE: usize = 65_535;

/// A DNS over HTTPS client for one server; see the [module docs](self).
pub struct DohClient {
    server: SocketAddr,
    /// The request URI, `https://host/path`.
    uri: String,
    tls: ClientTls,
    /// The open connection's sender, cloned by each request; `None` before the first query and
    /// after the connection failed. The lock is held while connecting, so concurrent queries
    /// wait for one connection instead of each opening their own.
    conn: Mutex<Option<SendRequest<Full<Bytes>>>>,
}

impl std::fmt::Debug for DohClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DohClient")
            .field("server", &self.server)
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl DohClient {
    /// A client sending to `server` (connected by address), with `host` as the HTTP authority
    /// (`dns.example` or `dns.example:8443`) and `path` the URI path (`/dns-query`). `tls` should
    /// offer ALPN `h2` ([`ALPN_H2`]) and names the certificate to expect.
    pub fn new(server: SocketAddr, host: String, path: String, tls: ClientTls) -> DohClient {
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        DohClient {
            server,
            uri: format!("https://{host}{path}"),
            tls,
            conn: Mutex::new(None),
        }
    }

    /// A client for the resolver's `https://` upstream `spec` (its scheme taken to be `https`):
    /// the certificate checked for `spec.name`, which is also the HTTP authority. Errors: a
    /// name that is not a DNS name or an address, a CA file that cannot be read.
    pub fn upstream(spec: &SecureSpec) -> Result<DohClient, String> {
        let name = ServerName::try_from(spec.name.clone())
            .map_err(|_| format!("`{}` is not a DNS name or an address", spec.name))?;
        let tls = ClientTls::new(&spec.trust, name, &[ALPN_H2], false)?;
        Ok(DohClient::new(
            spec.addr,
            authority(&spec.name, spec.addr.port()),
            spec.path.clone(),
            tls,
        ))
    }

    /// Sends `query` (a DNS message) and returns the response message, its ID that of `query`.
    /// Gives up at `deadline`. Errors: the connection (TCP, TLS, HTTP/2) failed, the server did
    /// not negotiate HTTP/2, answered with an HTTP error status, a body that is not a DNS
    /// message, or too late.
    pub async fn exchange(&self, query: &[u8], deadline: Instant) -> io::Result<Vec<u8>> {
        if query.len() < 12 || query.len() > MAX_MESSAGE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a DNS message (12 to 65535 bytes)",
            ));
        }
        let id = [query[0], query[1]];
        let mut body = query.to_vec();
        body[0] = 0;
        body[1] = 0;
        let body = Bytes::from(body);
        let deadline = tokio::time::Instant::from_std(deadline);
        let exchange = async {
            // A connection that the server closed since the last query is only found out when
            // used: retry once on a new one.
            let mut tries = 0;
            loop {
                tries += 1;
                let mut sender = self.sender().await?;
                match self.post(&mut sender, body.clone()).await {
                    Err(Failure::Connection(e)) => {
                        if tries >= 2 {
                            return Err(e);
                        }
                    }
                    Err(Failure::Response(e)) => return Err(e),
                    Ok(response) => return Ok(response),
                }
            }
        };
        let mut response = tokio::time::timeout_at(deadline, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))??;
        response[0] = id[0];
        response[1] = id[1];
        Ok(response)
    }

    /// The open connection's sender, connecting first when there is none or it closed.
    async fn sender(&self) -> io::Result<SendRequest<Full<Bytes>>> {
        let mut conn = self.conn.lock().await;
        if let Some(sender) = conn.as_ref().filter(|s| !s.is_closed()) {
            return Ok(sender.clone());
        }
        *conn = None;
        let sender = self.connect().await?;
        *conn = Some(sender.clone());
        Ok(sender)
    }

    /// Opens a TCP connection, the TLS session (which must pick `h2`) and HTTP/2 over it. The
    /// connection runs in a task of its own, which ends when every sender is gone.
    async fn connect(&self) -> io::Result<SendRequest<Full<Bytes>>> {
        let tcp = TcpStream::connect(self.server).await?;
        let _ = tcp.set_nodelay(true);
        let tls = TlsConnector::from(self.tls.config.clone())
            .connect(self.tls.name.clone(), tcp)
            .await?;
        if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the server did not agree to HTTP/2 (ALPN h2)",
            ));
        }
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(16 * 1024)
            .handshake(TokioIo::new(tls))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            // The connection's end (an error, or the server's close) shows in the senders.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// One `POST` on the connection of `sender`.
    async fn post(
        &self,
        sender: &mut SendRequest<Full<Bytes>>,
        body: Bytes,
    ) -> Result<Vec<u8>, Failure> {
        let request = hyper::Request::post(self.uri.as_str())
            .header(CONTENT_TYPE, DNS_MESSAGE)
            .header(ACCEPT, DNS_MESSAGE)
            .body(Full::new(body))
            .map_err(|e| Failure::Response(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        sender
            .ready()
            .await
            .map_err(|e| Failure::Connection(io::Error::other(e)))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Failure::Connection(io::Error::other(e)))?;
        let status = response.status();
        if status != hyper::StatusCode::OK {
            return Err(Failure::Response(io::Error::other(format!(
                "the server answered HTTP {status}"
            ))));
        }
        let typed = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| media_type(v) == DNS_MESSAGE);
        if !typed {
            return Err(Failure::Response(io::Error::new(
                io::ErrorKind::InvalidData,
                "the response is not application/dns-message",
            )));
        }
        let body = Limited::new(response.into_body(), MAX_MESSAGE)
            .collect()
            .await
            .map_err(|e| Failure::Response(io::Error::new(io::ErrorKind::InvalidData, e)))?
            .to_bytes();
        if body.len() < 12 {
            return Err(Failure::Response(io::Error::new(
                io::ErrorKind::InvalidData,
                "the response body is not a DNS message",
            )));
        }
        Ok(body.to_vec())
    }
}

/// The resolver's upstreams ([`crate::secure_upstream`]) send through the same client.
impl SecureExchange for DohClient {
    fn exchange(
        &self,
        query: Vec<u8>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send + '_>> {
        Box::pin(async move { DohClient::exchange(self, &query, deadline).await })
    }

    fn protocol(&self) -> &'static str {
        "https"
    }
}

/// The HTTP authority for a server named `host` (a DNS name or an address) on `port`: the
/// port left out when it is HTTPS's own, an IPv6 address in brackets (RFC 3986 section 3.2.2).
pub fn authority(host: &str, port: u16) -> String {
    let host = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => host.to_owned(),
    };
    match port {
        443 => host,
        port => format!("{host}:{port}"),
    }
}

/// Why a request failed: the connection (worth one retry on a new one), or the response.
enum Failure {
    Connection(io::Error),
    Response(io::Error),
}

/// The media type of a `content-type` value, parameters and case aside.
pub(crate) fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_ignore_parameters_and_case() {
        assert_eq!(
            media_type("Application/DNS-Message; charset=x"),
            DNS_MESSAGE
        );
        assert_eq!(media_type(""), "");
    }

    #[test]
    fn authorities() {
        assert_eq!(authority("dns.test", 443), "dns.test");
        assert_eq!(authority("dns.test", 8443), "dns.test:8443");
        assert_eq!(authority("192.0.2.1", 443), "192.0.2.1");
        assert_eq!(authority("2001:db8::1", 8443), "[2001:db8::1]:8443");
    }

    #[test]
    fn an_upstream_client_says_https() {
        let spec = |name: &str, trust| SecureSpec {
            scheme: crate::secure_upstream::Scheme::Https,
            addr: "192.0.2.1:443".parse().unwrap(),
            name: name.to_owned(),
            path: "/dns-query".to_owned(),
            trust,
        };
        let client =
            DohClient::upstream(&spec("dns.test", crate::client_tls::Trust::Insecure)).unwrap();
        assert_eq!(SecureExchange::protocol(&client), "https");
        assert_eq!(client.uri, "https://dns.test/dns-query");
        assert!(DohClient::upstream(&spec("a b", crate::client_tls::Trust::Insecure)).is_err());
        let missing = crate::client_tls::Trust::Ca("/nonexistent/ca.pem".into());
        assert!(DohClient::upstream(&spec("dns.test", missing)).is_err());
    }
}
