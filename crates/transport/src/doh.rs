//! DNS over HTTPS (RFC 8484): DNS messages in HTTP/2 or HTTP/1.1 requests over TLS.
//!
//! A DoH listener accepts TCP connections (port 443 by convention), completes a TLS handshake
//! offering ALPN `h2` and `http/1.1`, and serves HTTP on the protocol the client picked:
//! HTTP/2 when it chose `h2`, HTTP/1.1 otherwise (with keep-alive). Requests:
//!
//! - `GET <path>?dns=<base64url>`: the query in base64url without padding (RFC 8484 section
//!   4.1); a parameter that is not such base64 is answered 400;
//! - `POST <path>` with `content-type: application/dns-message` and the query as the body (at
//!   most 65,535 bytes, else 413; another type is 415);
//! - `GET <path>?name=..&type=..` in the JSON form (`application/dns-json`, see [`json`]) when
//!   it is on ([`DohSettings::json`]);
//! - anything else: 404 for another path, 405 for another method.
//!
//! The response is `200` with `content-type: application/dns-message` (or the JSON) whatever the
//! DNS RCODE, and `cache-control: max-age=N` (RFC 8484 section 5.1): N is the smallest TTL in
//! the answer section; for an answer with none, the negative-caching TTL of the authority
//! section's SOA (the smaller of its TTL and its MINIMUM field, RFC 2308 section 5); for a
//! response with neither (SERVFAIL, REFUSED, FORMERR) `max-age=0`, because RFC 8484 asks for an
//! explicit freshness lifetime on every response and such errors must not be cached. The
//! response carries the message ID the client sent (RFC 8484 asks clients to send 0).
//!
//! Queries are answered by the listener's `Responder`: the same engine, resolver, query ACL,
//! client limits, metrics (transport label `doh`) and EDNS padding (RFC 8467) as the other
//! stream transports; the engine sees [`engine::Transport::Encrypted`]. A zone transfer asked over
//! DoH is refused (REFUSED): its answer is a stream of messages, and DoH has one response per
//! request. A client the query ACL drops has its connection closed at accept; a query that a
//! policy drops closes the connection, as over TCP.
//!
//! # Limits
//!
//! - **Connections**: the TCP connection table ([`TcpLimits::max_connections`],
//!   [`TcpLimits::max_per_client`], eviction of the connection idle the longest), one entry per
//!   TCP connection, so a client cannot multiply its share through HTTP.
//! - **Streams**: at most [`DohSettings::max_streams`] concurrent HTTP/2 streams per connection;
//!   HTTP/1.1 answers one request at a time.
//! - **Sizes**: request headers at most [`MAX_HEADERS`] bytes (room for the base64 of the
//!   largest message in the URI), bodies at most 65,535 bytes.
//! - **Queries**: a connection that has answered
//!   [`TcpLimits::max_queries_per_connection`] queries closes gracefully (HTTP/2 GOAWAY,
//!   HTTP/1.1 `connection: close`); over HTTP/2 a request that crossed the GOAWAY is still
//!   answered, as RFC 9113 section 6.8 has it.
//! - **Time**: the TLS handshake within its timeout; a request body within
//!   [`TcpLimits::message_timeout`] (else 408); HTTP/1.1 request headers within the same; a
//!   connection with no request in flight is closed after [`TcpLimits::idle_timeout`] (HTTP/2
//!   with a GOAWAY), as is every connection on shutdown, which may finish its requests for
//!   [`TcpLimits::shutdown_grace`].
//!
//! The TLS configuration sits in an [`ArcSwap`](arc_swap::ArcSwap) (in [`TlsSettings`]):
//! replacing it (a new certificate on reload) applies to the next handshake, and open
//! connections go on.

pub mod json;

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use metrics::{Registry, TcpReject};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use wire::RType;
use wire::message::{Message, Section};

use crate::answer::{Answer, Responder, framed};
use crate::doh_client::{DNS_MESSAGE, media_type};
use crate::guards::Guards;
use crate::resolver::ResolverHandle;
use crate::tcp::table::{Admit, ConnState, Table, Ticket};
use crate::tcp::{MAX_MESSAGE, TcpLimits};
use crate::tls::TlsSettings;
use crate::{SharedEngine, Shutdown};

/// The ALPN protocols a DoH listener offers, preferred first.
pub const ALPN_DOH: &[&[u8]] = &[b"h2", b"http/1.1"];

/// The largest request head taken: HTTP/1.1 request line and headers, or an HTTP/2 header
/// list. A GET carries the query in base64 in its URI: 87,380 characters for the largest
/// message, and a little room for the rest.
pub const MAX_HEADERS: usize = 96 * 1024;

/// The largest `dns` parameter: the base64url of a 65,535-byte message.
const MAX_DNS_PARAM: usize = MAX_MESSAGE.div_ceil(3) * 4;

// A GET of the largest message fits in the request head, with room for the rest of it.
const _: () = assert!(MAX_DNS_PARAM + 1024 < MAX_HEADERS);

/// How long an idle connection has to close gracefully (HTTP/2: the GOAWAY sent) before it is
/// dropped.
const IDLE_CLOSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The most of a too-large request body read (and dropped) before answering 413; see
/// [`read_body`].
const MAX_DRAINED: usize = 2 * MAX_MESSAGE;

/// Room for a REFUSED answer to a transfer request: the header, the question (a name of at
/// most 255 bytes) and an OPT record.
const REFUSED_ROOM: usize = 512;

/// How long to wait after a failed `accept` before trying again.
const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(20);

/// The settings of one DoH listener.
#[derive(Debug)]
pub struct DohSettings {
    /// The TLS configuration (ALPN [`ALPN_DOH`]) and handshake timeout.
    pub tls: TlsSettings,
    /// The URI path queries are sent to, `/dns-query` by convention (RFC 8484 section 3 leaves
    /// it to the server's URI template).
    pub path: String,
    /// Whether the JSON form (`?name=&type=`) is served.
    pub json: bool,
    /// Concurrent HTTP/2 streams allowed on one connection (at least 1).
    pub max_streams: u32,
}

/// What every connection of one listener shares.
struct Site {
    responder: Responder,
    tls: TlsSettings,
    path: String,
    json: bool,
    max_streams: u32,
    limits: TcpLimits,
    shutdown: Shutdown,
}

/// Serves DNS over HTTPS on `listener` until `shutdown` fires and the connections have closed
/// (at most [`TcpLimits::shutdown_grace`] later); see the [module docs](self).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    listener: TcpListener,
    settings: DohSettings,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    limits: TcpLimits,
    registry: Arc<Registry>,
    guards: Guards,
    shutdown: Shutdown,
) {
    let limits = limits.clamped();
    let listen = match listener.local_addr() {
        Ok(addr) => addr,
        Err(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    let responder = Responder::new(
        engine,
        listen,
        resolver,
        guards,
        &registry,
        metrics::Transport::Doh,
    );
    let table = Arc::new(Table::new(limits.max_connections, limits.max_per_client));
    let site = Arc::new(Site {
        responder,
        tls: settings.tls,
        path: settings.path,
        json: settings.json,
        max_streams: settings.max_streams.max(1),
        limits: limits.clone(),
        shutdown: shutdown.clone(),
    });
    let mut tasks = JoinSet::new();
    let stop = shutdown.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                // The query ACL drops this client: close at once, before any limit counts it.
                Ok((stream, peer)) if site.responder.dropped(peer.ip()) => drop(stream),
                Ok((stream, peer)) => match Table::admit(&table, peer.ip()) {
                    Admit::Accept(ticket) => {
                        site.responder
                            .counters()
                            .with(ticket.index(), |m| m.connection_opened(metrics::Transport::Doh));
                        tasks.spawn(connection(stream, peer, ticket, site.clone()));
                    }
                    Admit::Reject(reason) => {
                        drop(stream);
                        site.responder
                            .counters()
                            .with(0, |m| m.connection_rejected(metrics::Transport::Doh, reason));
                    }
                },
                Err(_) => {
                    // Out of descriptors, say: pause rather than spin on the same error.
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    crate::tcp::drain(&mut tasks, limits.shutdown_grace).await;
}

// ---------------------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------------------

/// What the requests of one connection share.
struct Conn {
    site: Arc<Site>,
    state: Arc<ConnState>,
    /// The connection's slot in the table, which also picks its counter stripe.
    key: usize,
    client: IpAddr,
    /// The client's port, for the query log.
    port: u16,
    /// Fired when a policy drops a query: the connection closes at once.
    close: Notify,
    /// Queries answered, for [`TcpLimits::max_queries_per_connection`].
    answered: AtomicUsize,
    /// Fired when the connection has answered its last query: it closes gracefully.
    finish: Notify,
}

/// Serves one accepted connection until it closes, is evicted, idles out or the server shuts
/// down; its table entry is freed and the close counted however it ends.
async fn connection(stream: TcpStream, peer: SocketAddr, ticket: Ticket, site: Arc<Site>) {
    let conn = Arc::new(Conn {
        site,
        state: ticket.state().clone(),
        key: ticket.index(),
        client: peer.ip(),
        port: peer.port(),
        close: Notify::new(),
        answered: AtomicUsize::new(0),
        finish: Notify::new(),
    });
    let _closer = Closer {
        ticket: Some(ticket),
        conn: conn.clone(),
    };
    tokio::select! {
        biased;
        _ = conn.state.evicted.notified() => {}
        _ = open(stream, &conn) => {}
    }
}

/// Counts the connection closed and frees its place in the table, however its task ends.
struct Closer {
    ticket: Option<Ticket>,
    conn: Arc<Conn>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        // The place is free before the close is counted: whoever sees the count may connect.
        drop(self.ticket.take());
        self.conn
            .site
            .responder
            .counters()
            .with(self.conn.key, |m| {
                m.connection_closed(metrics::Transport::Doh)
            });
    }
}

/// A TCP stream that has the kernel acknowledge at once what each read took (TCP_QUICKACK,
/// which Linux clears again by itself). A client that writes a POST's HEADERS and DATA frames
/// separately holds the DATA back (Nagle's algorithm) until the HEADERS are acknowledged, and a
/// delayed acknowledgement would make that up to 40 ms a query (dnsperf's DoH client does it).
struct QuickAck(TcpStream);

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        read
    }
}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The TLS handshake, then HTTP/2 or HTTP/1.1 by the ALPN protocol the client chose.
async fn open(stream: TcpStream, conn: &Arc<Conn>) {
    let _ = stream.set_nodelay(true);
    let site = &conn.site;
    let Some(tls) = site.tls.handshake(QuickAck(stream)).await else {
        site.responder.counters().with(conn.key, |m| {
            m.connection_rejected(metrics::Transport::Doh, TcpReject::TlsHandshake)
        });
        return;
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let io = TokioIo::new(tls);
    let requests = conn.clone();
    let service = hyper::service::service_fn(move |req| {
        let conn = requests.clone();
        async move { conn.request(req).await }
    });
    // Header limits: the values are far below u32::MAX.
    let max_headers = u32::try_from(MAX_HEADERS).unwrap_or(u32::MAX);
    if h2 {
        let http = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_concurrent_streams(site.max_streams)
            .max_header_list_size(max_headers)
            .serve_connection(io, service);
        drive(http, |c| c.graceful_shutdown(), conn).await;
    } else {
        let http = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(site.limits.message_timeout)
            .max_buf_size(MAX_HEADERS)
            .serve_connection(io, service);
        drive(http, |c| c.graceful_shutdown(), conn).await;
    }
}

/// Runs an HTTP connection until it ends; closes it gracefully (no new requests, the ones in
/// flight finish, for at most the shutdown grace) when it has been idle too long or the server
/// shuts down, and at once when a policy dropped a query.
async fn drive<C: Future>(http: C, graceful: impl FnOnce(Pin<&mut C>), conn: &Conn) {
    tokio::pin!(http);
    let limits = &conn.site.limits;
    let stop = conn.site.shutdown.wait();
    tokio::pin!(stop);
    let mut grace = limits.shutdown_grace;
    loop {
        let now = Instant::now();
        let mut deadline = conn.state.last_activity() + limits.idle_timeout;
        if deadline <= now {
            // Requests are still in flight (else it would have closed): look again later.
            deadline = now + limits.idle_timeout;
        }
        tokio::select! {
            biased;
            _ = &mut http => return,
            _ = conn.close.notified() => return,
            _ = &mut stop => break,
            _ = conn.finish.notified() => break,
            _ = tokio::time::sleep_until(deadline.into()) => {
                let idle_since = conn.state.last_activity();
                if conn.state.is_idle() && idle_since + limits.idle_timeout <= Instant::now() {
                    // Nothing is owed: the close needs only a moment (an HTTP/2 client that
                    // never sent its preface would hold a graceful close forever).
                    grace = grace.min(IDLE_CLOSE);
                    break;
                }
            }
        }
    }
    graceful(http.as_mut());
    let _ = tokio::time::timeout(grace, http).await;
}

/// Marks a request in flight on its connection, and the connection active when it is done.
struct Busy<'a>(&'a ConnState);

impl<'a> Busy<'a> {
    fn new(state: &'a ConnState) -> Busy<'a> {
        state.touch();
        state.add_pending(1);
        Busy(state)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.sub_pending(1);
        self.0.touch();
    }
}

/// The error that makes hyper close an HTTP/1.1 connection or reset an HTTP/2 stream: a policy
/// dropped the query (the connection is closed too, through [`Conn::close`]).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("query dropped by policy")
    }
}

impl std::error::Error for Dropped {}

/// The form a response takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Wire,
    Json,
}

impl Conn {
    /// Answers one HTTP request.
    async fn request(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
        let _busy = Busy::new(&self.state);
        let received = Instant::now();
        let (head, body) = req.into_parts();
        // A body is read (bounded, within the message timeout) before any error is answered, so
        // that the client, done sending, reads the error cleanly instead of a reset stream.
        let body = match head.method {
            Method::GET => Ok(Vec::new()),
            _ => self.read_body(&head, body).await,
        };
        if head.uri.path() != self.site.path {
            return Ok(status(StatusCode::NOT_FOUND, "not found"));
        }
        let (form, query) = match head.method {
            Method::GET => match self.get_query(head.uri.query().unwrap_or_default()) {
                Ok(q) => q,
                Err(response) => return Ok(response),
            },
            Method::POST => match post_query(&head, body) {
                Ok(q) => (Form::Wire, q),
                Err(response) => return Ok(response),
            },
            _ => {
                let mut response = status(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, POST"));
                return Ok(response);
            }
        };
        let Some(frame) = self.answer(&query, received).await? else {
            return Ok(status(StatusCode::BAD_REQUEST, "not a DNS query"));
        };
        let answered = self.answered.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(max) = self.site.limits.max_queries_per_connection
            && answered >= max
        {
            self.finish.notify_one();
        }
        let message = frame.get(2..).unwrap_or_default();
        let max_age = max_age(message);
        let (body, media) = match form {
            Form::Wire => (Bytes::copy_from_slice(message), DNS_MESSAGE),
            Form::Json => match json::response(message) {
                Some(text) => (Bytes::from(text), json::DNS_JSON),
                None => return Ok(status(StatusCode::BAD_GATEWAY, "unreadable answer")),
            },
        };
        let mut response = Response::new(Full::new(body));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(media));
        if let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}")) {
            headers.insert(CACHE_CONTROL, value);
        }
        Ok(response)
    }

    /// The query of a GET: the `dns` parameter, or the JSON form's parameters.
    #[allow(clippy::result_large_err)]
    fn get_query(&self, query: &str) -> Result<(Form, Vec<u8>), Response<Full<Bytes>>> {
        let params = parse_params(query)
            .ok_or_else(|| status(StatusCode::BAD_REQUEST, "malformed query string"))?;
        if let Some((_, dns)) = params.iter().find(|(k, _)| k == "dns") {
            if dns.len() > MAX_DNS_PARAM {
                return Err(status(StatusCode::PAYLOAD_TOO_LARGE, "message too large"));
            }
            let query = URL_SAFE_NO_PAD
                .decode(dns)
                .map_err(|_| status(StatusCode::BAD_REQUEST, "dns parameter: not base64url"))?;
            return Ok((Form::Wire, query));
        }
        if !self.site.json {
            return Err(status(StatusCode::BAD_REQUEST, "no dns parameter"));
        }
        json::query(&params)
            .map(|q| (Form::Json, q))
            .map_err(|why| status(StatusCode::BAD_REQUEST, why))
    }

    /// The body of a request: at most 65,535 bytes arriving within the message timeout (else
    /// the status to answer).
    async fn read_body(&self, head: &Parts, body: Incoming) -> Result<Vec<u8>, StatusCode> {
        let declared = head
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_DRAINED as u64) {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        tokio::time::timeout(self.site.limits.message_timeout, read_body(body))
            .await
            .unwrap_or(Err(StatusCode::REQUEST_TIMEOUT))
    }

    /// The framed response to `query`; `None` when it is not a DNS query to answer (malformed,
    /// or a response). A query a policy drops closes the connection.
    async fn answer(&self, query: &[u8], received: Instant) -> Result<Option<Vec<u8>>, Dropped> {
        let responder = &self.site.responder;
        let client = engine::Client {
            addr: self.client,
            transport: engine::Transport::Encrypted,
        };
        match responder.answer(self.key, &client, self.port, query, received) {
            Answer::Reply(frame) => Ok(Some(frame)),
            // One response per request: a transfer's stream of messages does not fit.
            Answer::Transfer(request) => {
                let mut out = vec![0u8; REFUSED_ROOM];
                let refused = request.write_refused(&mut out).map(|len| {
                    responder.counters().with(self.key, |m| {
                        m.count_response(metrics::Transport::Doh, metrics::Rcode::Refused);
                    });
                    framed(out.get(..len).unwrap_or_default())
                });
                Ok(refused)
            }
            Answer::Resolving(rx) => Ok(responder
                .resolved(
                    rx,
                    self.key,
                    SocketAddr::new(self.client, self.port),
                    received,
                )
                .await),
            Answer::Close => {
                let answerable = Message::parse(query).is_ok_and(|m| !m.header().flags.qr());
                if !answerable {
                    return Ok(None);
                }
                self.close.notify_one();
                Err(Dropped)
            }
        }
    }
}

/// The query of a POST: its `body`, which must be typed `application/dns-message`.
#[allow(clippy::result_large_err)]
fn post_query(
    head: &Parts,
    body: Result<Vec<u8>, StatusCode>,
) -> Result<Vec<u8>, Response<Full<Bytes>>> {
    let typed = head
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| media_type(v) == DNS_MESSAGE);
    if !typed {
        return Err(status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type must be application/dns-message",
        ));
    }
    body.map_err(|code| match code {
        StatusCode::PAYLOAD_TOO_LARGE => status(code, "message too large"),
        StatusCode::REQUEST_TIMEOUT => status(code, "body too slow"),
        _ => status(code, "body unreadable"),
    })
}

/// Reads a request body of at most [`MAX_MESSAGE`] bytes. A longer one is read to its end
/// (and dropped) as long as it stays within [`MAX_DRAINED`], so that the client, done sending,
/// reads the 413 cleanly; past that the 413 goes at once (an HTTP/2 client may then see the
/// stream reset before it reads the response).
async fn read_body(mut body: Incoming) -> Result<Vec<u8>, StatusCode> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| StatusCode::BAD_REQUEST)?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen > MAX_DRAINED {
                return Err(StatusCode::PAYLOAD_TOO_LARGE);
            }
            if seen <= MAX_MESSAGE {
                kept.extend_from_slice(&data);
            }
        }
    }
    if seen > MAX_MESSAGE {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(kept)
}

/// A plain-text error response.
fn status(code: StatusCode, why: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(why.as_bytes())));
    *response.status_mut() = code;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The `key=value` pairs of a query string, percent-decoded (`+` is a space, as in forms);
/// `None` when an escape is malformed, a value is not UTF-8, or there are too many.
pub fn parse_params(query: &str) -> Option<Vec<(String, String)>> {
    /// More parameters than any form of request here has.
    const MAX_PARAMS: usize = 16;
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return None;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The freshness lifetime of a response (see the [module docs](self)): the smallest TTL in the
/// answer section; else the SOA's negative-caching TTL; else 0.
pub fn max_age(message: &[u8]) -> u32 {
    let Ok(m) = Message::parse(message) else {
        return 0;
    };
    if let Some(ttl) = m.records(Section::Answer).map(|r| r.ttl).min() {
        return ttl;
    }
    m.records(Section::Authority)
        .filter(|r| r.rtype == RType::SOA)
        .filter_map(|r| {
            // MINIMUM is the SOA's last field, after the names, which may be compressed.
            let raw = r.raw_rdata();
            let tail: [u8; 4] = raw.get(raw.len().checked_sub(4)?..)?.try_into().ok()?;
            Some(r.ttl.min(u32::from_be_bytes(tail)))
        })
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let p = parse_params("dns=AAAB&name=a%2Eb+c&flag").unwrap();
        assert_eq!(
            p,
            vec![
                ("dns".into(), "AAAB".into()),
                ("name".into(), "a.b c".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert!(parse_params("x=%zz").is_none());
        assert!(parse_params("x=%4").is_none());
        assert!(parse_params(&"a=1&".repeat(17)).is_none());
    }

    /// A response with `answers` A records of the given TTLs and, when `soa` is given, an SOA
    /// (TTL, MINIMUM) in the authority section.
    fn response(answers: &[u32], soa: Option<(u32, u32)>) -> Vec<u8> {
        let mut m = vec![0, 0, 0x81, 0x80, 0, 1];
        m.extend_from_slice(&u16::try_from(answers.len()).unwrap().to_be_bytes());
        m.extend_from_slice(&[0, u8::from(soa.is_some()), 0, 0]);
        m.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        for ttl in answers {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&[0, 4, 192, 0, 2, 1]);
        }
        if let Some((ttl, minimum)) = soa {
            m.extend_from_slice(&[0xc0, 14, 0, 6, 0, 1]);
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&[0, 24, 0xc0, 14, 0xc0, 14]);
            m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4]);
            m.extend_from_slice(&minimum.to_be_bytes());
        }
        m
    }

    #[test]
    fn max_age_is_the_smallest_answer_ttl() {
        assert_eq!(max_age(&response(&[300, 60, 3600], None)), 60);
        assert_eq!(max_age(&response(&[300], Some((10, 5)))), 300);
    }

    #[test]
    fn max_age_of_negative_answers_follows_rfc_2308() {
        assert_eq!(max_age(&response(&[], Some((3600, 300)))), 300);
        assert_eq!(max_age(&response(&[], Some((60, 300)))), 60);
    }

    #[test]
    fn max_age_without_records_is_zero() {
        assert_eq!(max_age(&response(&[], None)), 0);
        assert_eq!(max_age(b"garbage"), 0);
    }

    #[test]
    fn the_largest_message_fits_in_the_headers() {
        assert_eq!(MAX_DNS_PARAM, 87_380);
    }
}
