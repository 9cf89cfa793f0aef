//! The HTTP endpoint (`server.http`): `GET /metrics` serves the Prometheus text exposition of
//! the [`metrics::Registry`], `GET /healthz` answers `200 ok` while the server is healthy and
//! `503` when not. Any other path is `404`; another method on these paths is `405` (with
//! `Allow: GET, HEAD`).
//!
//! # Why hyper
//!
//! The endpoint faces whatever can reach its address, so its HTTP/1.1 parser must be one that
//! has met hostile input before. hyper (1.x, HTTP/1 server only, with `hyper-util`'s Tokio
//! adapters) is maintained, fuzzed and already built on the Tokio the transports use; the crates
//! it adds (`http`, `httparse`, `http-body`, `httpdate`, ...) are small. A hand-written handler
//! would be shorter, but each of request-line splitting, header folding, `Transfer-Encoding`
//! and pipelining is a place to get wrong, for no gain in a path that is scraped every few
//! seconds.
//!
//! # Limits
//!
//! - at most [`Limits::max_connections`] connections at once (64 by default); a connection
//!   over the limit is closed at once, unread;
//! - the request line and headers are at most 8 KiB ([`MAX_HEADER_BYTES`]; hyper answers `431`
//!   beyond) and must arrive within [`Limits::header_timeout`];
//! - one request per connection (no keep-alive), and the whole connection is bounded by
//!   [`Limits::connection_timeout`].
//!
//! # Access control
//!
//! `acl.http` ([`serve_with`]) is checked when a connection is accepted: a refused client gets
//! `403 Forbidden` to its request, a dropped one is closed unread. Everyone who can reach the
//! address is allowed by default; the address is loopback unless configured otherwise.
//!
//! # The detection API
//!
//! With a [`DetectApi`] ([`serve_api`]), `GET /api/detect` answers the tunnelling detector's
//! standing verdicts and recent alerts as JSON (read-only, like `/metrics`), and
//! `POST /api/detect/allow?domain=NAME` does what `portcullis ctl allow-domain NAME` does, but
//! only on a listener bound to a loopback address: this endpoint has no authentication of its
//! own (that comes with the API work), so a change of state is taken only from this machine;
//! elsewhere it is `403`.
//!
//! # The dashboard
//!
//! With a dashboard [`Backend`](crate::dashboard::Backend) ([`serve_api`]), `/`, its assets and
//! every `/api/` path (the detection API included, which then takes the dashboard's
//! authentication instead of the loopback-only rule) are answered by [`crate::dashboard`].
//!
//! [`serve`] returns when the [`Shutdown`] signal fires, after giving connections in progress
//! a moment to finish.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use events::{Action, Event, Events};
use guard::{Acl, AclAction};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use transport::Shutdown;

/// Largest request line and headers, together, in bytes.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

/// How long connections in progress may go on once shutdown is signalled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Pause after an accept error such as running out of file descriptors, so the loop does not
/// spin while the condition lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The health check: `true` when the server is fit to serve.
pub type HealthCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// The endpoint's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// Time for the request line and headers to arrive.
    pub header_timeout: Duration,
    /// Time for a whole connection: request in, response out.
    pub connection_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 64,
            header_timeout: Duration::from_secs(5),
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// Serves `/metrics` and `/healthz` on `listener` with the default [`Limits`] until `shutdown`
/// fires.
pub async fn serve(
    listener: TcpListener,
    registry: Arc<Registry>,
    health: HealthCheck,
    shutdown: Shutdown,
) -> io::Result<()> {
    serve_with(
        listener,
        registry,
        health,
        shutdown,
        Limits::default(),
        Acl::allow_all(),
        Events::disabled(),
    )
    .await
}

/// What the `/api/detect` endpoints read and change: the running server's detector.
pub trait DetectApi: Send + Sync {
    /// The standing verdicts and recent alerts, as a JSON document.
    fn state_json(&self) -> String;
    /// Clears the verdicts on `domain` and allows it (`ctl allow-domain`); says what it did.
    fn allow(&self, domain: &str) -> Result<String, String>;
}

/// [`serve`] with chosen limits and ACL (`acl.http`): a client it refuses gets 403 Forbidden
/// to every request, one it drops is closed as soon as it is accepted; each is a security
/// event (reason `acl http`) reported to `events`. Returns an error only
/// when the listener itself fails for good (not for the transient errors an accept can meet,
/// such as too many open files).
pub async fn serve_with(
    listener: TcpListener,
    registry: Arc<Registry>,
    health: HealthCheck,
    shutdown: Shutdown,
    limits: Limits,
    acl: Acl,
    events: Events,
) -> io::Result<()> {
    serve_api(
        listener, registry, health, shutdown, limits, acl, events, None, None,
    )
    .await
}

/// [`serve_with`], also answering the detection API of `detect` and the dashboard of
/// `dashboard` (see the module docs).
#[allow(clippy::too_many_arguments)]
pub async fn serve_api(
    listener: TcpListener,
    registry: Arc<Registry>,
    health: HealthCheck,
    shutdown: Shutdown,
    limits: Limits,
    acl: Acl,
    events: Events,
    detect: Option<Arc<dyn DetectApi>>,
    dashboard: Option<Arc<dyn crate::dashboard::Backend>>,
) -> io::Result<()> {
    let loopback = listener.local_addr().is_ok_and(|a| a.ip().is_loopback());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let result = loop {
        tokio::select! {
            () = shutdown.wait() => break Ok(()),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, refused, peer) = match accepted {
                    Ok((stream, peer)) => match acl.decide(peer.ip()) {
                        AclAction::Allow => (stream, false, peer.ip()),
                        AclAction::Refuse => {
                            events.emit(Event::new(Action::AclRefused, "acl http").client(peer.ip()));
                            (stream, true, peer.ip())
                        }
                        AclAction::Drop => {
                            events.emit(Event::new(Action::AclDropped, "acl http").client(peer.ip()));
                            drop(stream);
                            continue;
                        }
                    },
                    Err(e) if e.kind() == io::ErrorKind::InvalidInput => break Err(e),
                    Err(e) => {
                        if !is_per_connection(&e) {
                            tracing::warn!(error = %e, "http: accept failed");
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                        }
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    tracing::debug!("http: connection limit reached, closing a new connection");
                    drop(stream);
                    continue;
                };
                let registry = Arc::clone(&registry);
                let health = Arc::clone(&health);
                let detect = detect.clone();
                let dashboard = dashboard.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    let service = service_fn(move |request: Request<Incoming>| {
                        let registry = Arc::clone(&registry);
                        let health = Arc::clone(&health);
                        let detect = detect.clone();
                        let dashboard = dashboard
                            .clone()
                            .filter(|_| crate::dashboard::handles(request.uri().path()));
                        async move {
                            let response = if refused {
                                plain(StatusCode::FORBIDDEN, "forbidden\n")
                            } else if let Some(backend) = dashboard {
                                crate::dashboard::respond(backend, request, peer).await
                            } else if let Some(api) = detect.as_deref()
                                && request.uri().path().starts_with("/api/detect")
                            {
                                respond_detect(&request, api, loopback)
                            } else {
                                respond(&request, &registry, &health)
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .max_header_size(MAX_HEADER_BYTES)
                        // hyper refuses buffers under 8 KiB; requests are bounded by the line above.
                        .max_buf_size(MAX_HEADER_BYTES.max(8192))
                        .keep_alive(false)
                        .serve_connection(TokioIo::new(stream), service);
                    match tokio::time::timeout(limits.connection_timeout, connection).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(error = %e, "http: connection failed"),
                        Err(_) => tracing::debug!("http: connection timed out"),
                    }
                });
            }
        }
    };
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
    result
}

/// Whether an accept error concerns only the connection being accepted.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The response to one request.
fn respond<B>(
    request: &Request<B>,
    registry: &Registry,
    health: &HealthCheck,
) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if path != "/metrics" && path != "/healthz" {
        return plain(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path == "/metrics" {
        let mut response = Response::new(Full::new(Bytes::from(registry.render())));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        );
        no_store(&mut response);
        response
    } else if health() {
        plain(StatusCode::OK, "ok\n")
    } else {
        plain(StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n")
    }
}

/// The response to a request for `/api/detect...`.
fn respond_detect<B>(
    request: &Request<B>,
    api: &dyn DetectApi,
    loopback: bool,
) -> Response<Full<Bytes>> {
    let json = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        no_store(&mut response);
        response
    };
    let not_allowed = |allow: &'static str| {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        response
    };
    match request.uri().path() {
        "/api/detect" if request.method() == Method::GET || request.method() == Method::HEAD => {
            json(StatusCode::OK, api.state_json())
        }
        "/api/detect" => not_allowed("GET, HEAD"),
        "/api/detect/allow" if request.method() != Method::POST => not_allowed("POST"),
        "/api/detect/allow" if !loopback => plain(
            StatusCode::FORBIDDEN,
            "this listener is not loopback-only: use portcullis ctl allow-domain\n",
        ),
        "/api/detect/allow" => {
            let domain = request
                .uri()
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|pair| pair.strip_prefix("domain="));
            let Some(domain) = domain.filter(|d| !d.is_empty()) else {
                return plain(StatusCode::BAD_REQUEST, "give ?domain=NAME\n");
            };
            match api.allow(domain) {
                Ok(message) => json(
                    StatusCode::OK,
                    serde_json::json!({"ok": true, "message": message}).to_string(),
                ),
                Err(message) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"ok": false, "message": message}).to_string(),
                ),
            }
        }
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// A plain-text response.
fn plain(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    no_store(&mut response);
    response
}

/// Asks caches not to keep the response: it is only true now.
fn no_store<B>(response: &mut Response<B>) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::SystemTime;

    use super::*;

    fn get(method: Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    struct Api;

    impl DetectApi for Api {
        fn state_json(&self) -> String {
            "{\"verdicts\":[]}".into()
        }
        fn allow(&self, domain: &str) -> Result<String, String> {
            Ok(format!("{domain}: allowed"))
        }
    }

    #[test]
    fn the_detection_api_changes_state_only_on_loopback() {
        let r = respond_detect(&get(Method::GET, "/api/detect"), &Api, false);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let allow = get(Method::POST, "/api/detect/allow?domain=tunnel.test");
        assert_eq!(
            respond_detect(&allow, &Api, false).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(respond_detect(&allow, &Api, true).status(), StatusCode::OK);
        let r = respond_detect(&get(Method::GET, "/api/detect/allow?domain=x"), &Api, true);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        let r = respond_detect(&get(Method::POST, "/api/detect/allow"), &Api, true);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = respond_detect(&get(Method::GET, "/api/detect/x"), &Api, true);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn routes() {
        let registry = Registry::new(SystemTime::now());
        let up: HealthCheck = Arc::new(|| true);
        let down: HealthCheck = Arc::new(|| false);
        let r = respond(&get(Method::GET, "/metrics"), &registry, &up);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], metrics::CONTENT_TYPE);
        let r = respond(&get(Method::GET, "/metrics?x=1"), &registry, &up);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            respond(&get(Method::GET, "/healthz"), &registry, &up).status(),
            StatusCode::OK
        );
        assert_eq!(
            respond(&get(Method::HEAD, "/healthz"), &registry, &down).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            respond(&get(Method::GET, "/"), &registry, &up).status(),
            StatusCode::NOT_FOUND
        );
        let r = respond(&get(Method::POST, "/metrics"), &registry, &up);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(
            respond(&get(Method::DELETE, "/nope"), &registry, &up).status(),
            StatusCode::NOT_FOUND
        );
    }
}
