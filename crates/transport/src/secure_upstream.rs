//! Encrypted upstreams for the resolver: forwarders asked over DNS over TLS (RFC 7858, here),
//! DNS over HTTPS (RFC 8484, [`crate::doh_client`]) and DNS over QUIC (RFC 9250,
//! [`crate::doq_client`]).
//!
//! The recursor stays sans-I/O and knows servers only by address: a `[[forward]]` server
//! written `tls://dns.example@192.0.2.1` is `192.0.2.1:853` to it. The drivers hold a
//! [`SecureUpstreams`] map from those addresses to a [`SecureExchange`]; a transmit whose
//! server is in the map goes over it, whatever transport the recursor asked for (the encrypted
//! stream carries any size, so there is never a truncation to retry), and its answer comes back
//! as an ordinary [`Event::Message`] from that address, checked by the recursor like any other.
//!
//! [`build`] is the one place where a client is made for a scheme.
//!
//! # DNS over TLS ([`DotUpstream`])
//!
//! One persistent connection per upstream (ALPN `dot`), opened by the first query and again
//! after it fails, the server closes it, or it sat idle. Queries are pipelined (RFC 7766
//! section 6.2.1.1): many are in flight on the connection at once and answers may come in any
//! order. Each query in flight is given a message ID unique on the connection (the recursor's
//! IDs are random per query and two drivers may pick the same one) and the response gets the
//! query's own ID back, so the recursor sees exactly the ID it sent. At most
//! [`MAX_IN_FLIGHT`] queries wait on a connection; one more fails at once (the recursor then
//! tries another server) rather than queueing behind a slow upstream. A query lost with a
//! connection that was already open (the server closed it, idle, as the query went out) is
//! sent once more on a new connection, within its deadline.
//!
//! The connection is closed after [`IDLE_TIMEOUT`] without a query in flight, or after the idle
//! time the server announces with EDNS TCP keepalive (RFC 7828), at most [`MAX_IDLE`]: every
//! query asks for it with an empty keepalive option (added to the recursor's OPT record). The
//! handshake is bounded by the deadline of the query that opened the connection, but given at
//! least [`MIN_HANDSHAKE`], so that a handshake slower than one query's timeout is not
//! abandoned again and again; every query is bounded by its own deadline.
//!
//! # DNS over QUIC ([`crate::doq_client::DoqClient`])
//!
//! One QUIC connection per upstream (ALPN `doq`, TLS 1.3), a stream per query with message ID
//! 0 on the wire and the query's ID restored; made again when it closes, and resumed with
//! 0-RTT for standard queries. Each query is bounded by its deadline; a handshake goes on past
//! the deadline of the query that started it, for the queries after.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsConnector;

use crate::client_tls::{ClientTls, Trust};
use crate::upstream::Event;

/// An encrypted upstream: DNS over TLS, HTTPS or QUIC toward one server.
pub trait SecureExchange: Send + Sync + std::fmt::Debug {
    /// Sends `query` (a full DNS message, no length prefix) and returns the response message,
    /// by `deadline`. Reuses connections; restores the query's own ID in the response.
    fn exchange(
        &self,
        query: Vec<u8>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send + '_>>;
    /// "tls", "https" or "quic", for logs and metrics.
    fn protocol(&self) -> &'static str;
}

/// The encrypted upstreams of a resolver, by the address the recursor knows them by.
pub type SecureUpstreams = HashMap<SocketAddr, Arc<dyn SecureExchange>>;

/// How an upstream is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// DNS over TLS (RFC 7858), `tls://`.
    Tls,
    /// DNS over HTTPS (RFC 8484), `https://`.
    Https,
    /// DNS over QUIC (RFC 9250), `quic://`.
    Quic,
}

impl Scheme {
    /// The scheme as written in a URL, and the protocol in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Tls => "tls",
            Scheme::Https => "https",
            Scheme::Quic => "quic",
        }
    }

    /// The port when none is written: 853 for DoT and DoQ (RFC 7858, RFC 9250), 443 for DoH.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tls | Scheme::Quic => 853,
            Scheme::Https => 443,
        }
    }

    /// The scheme of a URL prefix (`tls`, `https`, `quic`).
    pub fn from_name(name: &str) -> Option<Scheme> {
        match name {
            "tls" => Some(Scheme::Tls),
            "https" => Some(Scheme::Https),
            "quic" => Some(Scheme::Quic),
            _ => None,
        }
    }
}

/// Everything needed to build one encrypted upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecureSpec {
    /// The protocol.
    pub scheme: Scheme,
    /// Where the server is (the address the recursor sends to).
    pub addr: SocketAddr,
    /// The name its certificate must be valid for: a DNS name, or the address's text.
    pub name: String,
    /// The HTTP path (`https://` only; `/dns-query` unless written).
    pub path: String,
    /// What the client trusts.
    pub trust: Trust,
}

/// Builds the client for one encrypted upstream. Nothing is connected yet: a connection is
/// opened by the first query.
///
pub fn build(spec: &SecureSpec) -> Result<Arc<dyn SecureExchange>, String> {
    match spec.scheme {
        Scheme::Tls => Ok(Arc::new(DotUpstream::new(spec)?)),
        // `DoqClient` opens its QUIC endpoint with the first query, inside the runtime.
        Scheme::Quic => {
            let name = ServerName::try_from(spec.name.clone())
                .map_err(|_| format!("`{}`: not a host name or an IP address", spec.name))?;
            let tls = ClientTls::new(&spec.trust, name, &[crate::doq_client::ALPN_DOQ], true)?;
            let client = crate::doq_client::DoqClient::new(spec.addr, tls)
                .map_err(|e| format!("quic://{}@{}: {e}", spec.name, spec.addr))?;
            Ok(Arc::new(client))
        }
        // One HTTP/2 connection, opened by the first query.
        Scheme::Https => Ok(Arc::new(crate::doh_client::DohClient::upstream(spec)?)),
    }
}

/// Sends `message` over `upstream` and reports the answer to the driver as a message from
/// `server` (or [`Event::Failed`] when the exchange fails before `deadline`; at the deadline
/// nothing is reported: the recursor's timer handles it).
pub async fn secure_exchange<Id: Copy>(
    id: Id,
    server: SocketAddr,
    upstream: Arc<dyn SecureExchange>,
    message: Vec<u8>,
    deadline: Instant,
    events: mpsc::Sender<Event<Id>>,
) {
    match upstream.exchange(message, deadline).await {
        Ok(message) => {
            let _ = events
                .send(Event::Message {
                    id,
                    from: server,
                    message,
                })
                .await;
        }
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
        Err(e) => {
            tracing::debug!(%server, protocol = upstream.protocol(), error = %e, "encrypted upstream exchange");
            let _ = events.send(Event::Failed { id }).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DNS over TLS
// ---------------------------------------------------------------------------------------------

/// Queries in flight on one connection, at most (and queries waiting to be written to it).
pub const MAX_IN_FLIGHT: usize = 128;
/// A connection with nothing in flight is closed after this long (unless the server announced
/// another idle time with EDNS TCP keepalive).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest idle time taken from a server's EDNS TCP keepalive option.
pub const MAX_IDLE: Duration = Duration::from_secs(120);
/// The least time a handshake is given, whatever the deadline of the query that started it.
pub const MIN_HANDSHAKE: Duration = Duration::from_secs(1);

/// A DNS over TLS upstream: one persistent, pipelined connection (see the module docs).
pub struct DotUpstream {
    addr: SocketAddr,
    tls: ClientTls,
    /// The current connection's queue, when one was opened; a closed queue means the
    /// connection ended and the next query opens another.
    conn: Mutex<Option<mpsc::Sender<Request>>>,
    /// Connections whose handshake completed, for tests and logs.
    opened: Arc<AtomicU64>,
}

impl std::fmt::Debug for DotUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DotUpstream")
            .field("addr", &self.addr)
            .field("name", &self.tls.name)
            .finish_non_exhaustive()
    }
}

/// A query handed to a connection task.
#[derive(Debug)]
struct Request {
    query: Vec<u8>,
    reply: oneshot::Sender<io::Result<Vec<u8>>>,
    deadline: Instant,
}

impl DotUpstream {
    /// A client for `spec` (its scheme is taken to be `tls`). Errors: a name that is not a DNS
    /// name or an address, a CA file that cannot be read.
    pub fn new(spec: &SecureSpec) -> Result<DotUpstream, String> {
        let name = ServerName::try_from(spec.name.clone())
            .map_err(|_| format!("`{}` is not a DNS name or an address", spec.name))?;
        let tls = ClientTls::new(&spec.trust, name, &[b"dot"], false)?;
        Ok(DotUpstream {
            addr: spec.addr,
            tls,
            conn: Mutex::new(None),
            opened: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Connections opened so far (handshakes completed).
    pub fn connections_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// The queue of the live connection (and `false`), or of a new one (and `true`; its task
    /// connects in the background, so a query that gives up waiting does not abort the
    /// handshake).
    fn connection(&self, deadline: Instant) -> (mpsc::Sender<Request>, bool) {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = conn.as_ref().filter(|tx| !tx.is_closed()) {
            return (tx.clone(), false);
        }
        let (tx, rx) = mpsc::channel(MAX_IN_FLIGHT);
        let handshake = deadline.max(Instant::now() + MIN_HANDSHAKE);
        tokio::spawn(run_connection(
            self.addr,
            self.tls.clone(),
            handshake,
            rx,
            self.opened.clone(),
        ));
        *conn = Some(tx.clone());
        (tx, true)
    }

    /// One attempt: `query` over the live connection or a new one. `Err(true)` when it was
    /// lost with a connection that was already open (the server may have closed it, idle, as
    /// the query went out): worth one more attempt on a new connection.
    async fn attempt(
        &self,
        query: Vec<u8>,
        deadline: Instant,
    ) -> Result<Vec<u8>, (io::Error, bool)> {
        let (reply, response) = oneshot::channel();
        let request = Request {
            query,
            reply,
            deadline,
        };
        let (conn, fresh) = self.connection(deadline);
        match conn.try_send(request) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let e = io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "too many queries in flight to this upstream",
                );
                return Err((e, false));
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                let e = io::Error::new(io::ErrorKind::ConnectionAborted, "the connection closed");
                return Err((e, !fresh));
            }
        }
        match tokio::time::timeout_at(deadline.into(), response).await {
            Err(_) => Err((
                io::Error::new(io::ErrorKind::TimedOut, "no answer in time"),
                false,
            )),
            Ok(Err(_)) => Err((
                io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the connection closed before the answer",
                ),
                !fresh,
            )),
            Ok(Ok(answer)) => answer.map_err(|e| (e, false)),
        }
    }
}

impl SecureExchange for DotUpstream {
    fn exchange(
        &self,
        query: Vec<u8>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send + '_>> {
        Box::pin(async move {
            if query.len() < 12 || query.len() > usize::from(u16::MAX) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a DNS message",
                ));
            }
            // A query lost with a connection that was already open is sent once more, on a
            // new connection: a server closing an idle connection races with a new query
            // (RFC 7766 section 6.2.3), and a single forwarder would otherwise fail it.
            match self.attempt(query.clone(), deadline).await {
                Ok(answer) => Ok(answer),
                Err((_, true)) if Instant::now() < deadline => {
                    self.attempt(query, deadline).await.map_err(|(e, _)| e)
                }
                Err((e, _)) => Err(e),
            }
        })
    }

    fn protocol(&self) -> &'static str {
        "tls"
    }
}

/// Connects to `addr` over TLS (ALPN `dot`).
async fn connect(
    addr: SocketAddr,
    tls: &ClientTls,
) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let _ = tcp.set_nodelay(true);
    TlsConnector::from(tls.config.clone())
        .connect(tls.name.clone(), tcp)
        .await
}

/// One connection: connects, then writes the queries it is handed with connection-unique IDs
/// and hands each response to its query with the query's ID back, until the connection fails,
/// the server closes it, it has been idle too long, or the upstream is dropped. The queries
/// still waiting then fail (their senders are dropped).
async fn run_connection(
    addr: SocketAddr,
    tls: ClientTls,
    handshake: Instant,
    mut requests: mpsc::Receiver<Request>,
    opened: Arc<AtomicU64>,
) {
    let stream = match tokio::time::timeout_at(handshake.into(), connect(addr, &tls)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%addr, error = %e, "DNS over TLS upstream: cannot connect");
            return;
        }
        Err(_) => {
            tracing::debug!(%addr, "DNS over TLS upstream: handshake timed out");
            return;
        }
    };
    opened.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(%addr, "DNS over TLS upstream: connected");
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut ids = IdMap::new(MAX_IN_FLIGHT);
    let mut frames = FrameBuffer::default();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut idle = IDLE_TIMEOUT;
    let mut last = Instant::now();
    loop {
        let wake = ids.earliest_deadline().unwrap_or(last + idle);
        tokio::select! {
            request = requests.recv() => {
                let Some(Request { mut query, reply, deadline }) = request else {
                    break;
                };
                let now = Instant::now();
                // Its caller gave up while it waited for the handshake: not worth sending.
                if reply.is_closed() || deadline <= now {
                    continue;
                }
                let Some(original) = message_id(&query) else {
                    continue;
                };
                let wire_id = match ids.insert(original, reply, deadline, now) {
                    Ok(id) => id,
                    Err(reply) => {
                        let _ = reply.send(Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "too many queries in flight to this upstream",
                        )));
                        continue;
                    }
                };
                set_message_id(&mut query, wire_id);
                request_keepalive(&mut query);
                let Ok(len) = u16::try_from(query.len()) else {
                    continue;
                };
                let mut framed = Vec::with_capacity(query.len() + 2);
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&query);
                let written =
                    tokio::time::timeout_at(deadline.into(), writer.write_all(&framed)).await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::debug!(%addr, "DNS over TLS upstream: write failed");
                    break;
                }
                last = now;
            }
            read = reader.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => {
                        tracing::debug!(%addr, "DNS over TLS upstream: closed by the server");
                        break;
                    }
                    Ok(n) => n,
                    Err(e) => {
                        tracing::debug!(%addr, error = %e, "DNS over TLS upstream: read failed");
                        break;
                    }
                };
                frames.push(chunk.get(..n).unwrap_or_default());
                while let Some(mut message) = frames.next_frame() {
                    let Some(wire_id) = message_id(&message) else {
                        continue;
                    };
                    // An ID not in flight (a query that gave up and was swept) is dropped.
                    let Some(waiter) = ids.take(wire_id) else {
                        continue;
                    };
                    if let Some(announced) = keepalive(&message) {
                        idle = announced;
                    }
                    set_message_id(&mut message, waiter.original);
                    let _ = waiter.reply.send(Ok(message));
                }
                last = Instant::now();
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                ids.sweep(now);
                if ids.is_empty() && now >= last + idle {
                    tracing::debug!(%addr, "DNS over TLS upstream: idle, closing");
                    break;
                }
            }
        }
    }
    // No query may join a connection that is over: the queue closes first, so that a query
    // that fails with it (the waiters are dropped next) and is sent again finds it closed and
    // opens a new one.
    drop(requests);
    drop(ids);
    // Closing politely lets the server free the connection at once; its failure is moot.
    let _ = tokio::time::timeout(Duration::from_millis(200), writer.shutdown()).await;
}

/// The idle time a server announces in a response's EDNS TCP keepalive option (RFC 7828,
/// units of 100 ms), at most [`MAX_IDLE`].
fn keepalive(message: &[u8]) -> Option<Duration> {
    let parsed = wire::Message::parse(message).ok()?;
    let data = parsed
        .edns()?
        .option(wire::edns::OptionCode::TCP_KEEPALIVE)?;
    let units = wire::edns::keepalive_timeout(data).ok()??;
    Some(Duration::from_millis(u64::from(units) * 100).min(MAX_IDLE))
}

/// Adds an empty EDNS TCP keepalive option to `query` (RFC 7828 section 3.2.1: a client asks
/// for the server's idle time this way; a server may only announce it to a query that asked).
/// Only when the query's last record is its OPT record (how the recursor writes queries) and
/// carries no keepalive yet; anything else is left as it is.
fn request_keepalive(query: &mut Vec<u8>) {
    let Some(options) = wire::Message::parse(query)
        .ok()
        .and_then(|m| m.edns())
        .filter(|e| e.option(wire::edns::OptionCode::TCP_KEEPALIVE).is_none())
        .map(|e| e.raw_options().len())
    else {
        return;
    };
    let Some(rdlen) = u16::try_from(options).ok().filter(|l| *l <= u16::MAX - 4) else {
        return;
    };
    // The OPT record, at the end: root name (0), TYPE 41, CLASS, TTL, RDLENGTH, the options.
    let Some(start) = query.len().checked_sub(options + 11) else {
        return;
    };
    let opt_at_end = query.get(start) == Some(&0)
        && query.get(start + 1..start + 3) == Some(&[0, 41][..])
        && query.get(start + 9..start + 11) == Some(&rdlen.to_be_bytes()[..]);
    if !opt_at_end || query.len() + 4 > usize::from(u16::MAX) {
        return;
    }
    if let Some(len) = query.get_mut(start + 9..start + 11) {
        len.copy_from_slice(&(rdlen + 4).to_be_bytes());
    }
    query.extend_from_slice(&[0, 11, 0, 0]);
}

/// The ID of a DNS message.
fn message_id(message: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*message.first()?, *message.get(1)?]))
}

/// Rewrites the ID of a DNS message.
fn set_message_id(message: &mut [u8], id: u16) {
    if let Some(bytes) = message.get_mut(..2) {
        bytes.copy_from_slice(&id.to_be_bytes());
    }
}

/// A query in flight on a connection.
#[derive(Debug)]
struct Waiter {
    /// The ID the query was sent with by the recursor.
    original: u16,
    reply: oneshot::Sender<io::Result<Vec<u8>>>,
    deadline: Instant,
}

/// The queries in flight on one connection by the ID they carry on it: IDs are handed out in
/// turn, skipping those in use, so no two queries in flight share one, whatever IDs the
/// recursor chose. At most `max` are in flight; a full map first forgets the queries whose
/// caller stopped waiting.
#[derive(Debug)]
struct IdMap {
    next: u16,
    max: usize,
    in_flight: HashMap<u16, Waiter>,
}

impl IdMap {
    fn new(max: usize) -> IdMap {
        IdMap {
            next: 0,
            max: max.min(usize::from(u16::MAX)),
            in_flight: HashMap::new(),
        }
    }

    /// Takes a query in: its ID on the connection, or the reply channel back when full.
    fn insert(
        &mut self,
        original: u16,
        reply: oneshot::Sender<io::Result<Vec<u8>>>,
        deadline: Instant,
        now: Instant,
    ) -> Result<u16, oneshot::Sender<io::Result<Vec<u8>>>> {
        if self.in_flight.len() >= self.max {
            self.sweep(now);
            if self.in_flight.len() >= self.max {
                return Err(reply);
            }
        }
        // At most `max` (< 65,536) IDs are taken, so a free one is found within max + 1 steps.
        let mut id = self.next;
        while self.in_flight.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next = id.wrapping_add(1);
        self.in_flight.insert(
            id,
            Waiter {
                original,
                reply,
                deadline,
            },
        );
        Ok(id)
    }

    /// The query that the response with connection ID `id` answers.
    fn take(&mut self, id: u16) -> Option<Waiter> {
        self.in_flight.remove(&id)
    }

    /// Forgets the queries past their deadline or whose caller stopped waiting.
    fn sweep(&mut self, now: Instant) {
        self.in_flight
            .retain(|_, w| w.deadline > now && !w.reply.is_closed());
    }

    fn earliest_deadline(&self) -> Option<Instant> {
        self.in_flight.values().map(|w| w.deadline).min()
    }

    fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }
}

/// Bytes read from a stream, cut into length-prefixed messages (RFC 1035 section 4.2.2). It
/// never holds more than one partial message (at most 65,537 bytes) beyond the last read.
#[derive(Debug, Default)]
struct FrameBuffer {
    buf: Vec<u8>,
}

impl FrameBuffer {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn next_frame(&mut self) -> Option<Vec<u8>> {
        let len = usize::from(u16::from_be_bytes([*self.buf.first()?, *self.buf.get(1)?]));
        let frame = self.buf.get(2..2 + len)?.to_vec();
        self.buf.drain(..2 + len);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_on_the_connection_and_restored() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let mut map = IdMap::new(4);
        let mut receivers = Vec::new();
        let mut wire = Vec::new();
        // The recursor's IDs collide: the connection's do not.
        for _ in 0..4 {
            let (tx, rx) = oneshot::channel();
            receivers.push(rx);
            wire.push(map.insert(0x1234, tx, later, now).unwrap());
        }
        let distinct: std::collections::HashSet<_> = wire.iter().collect();
        assert_eq!(distinct.len(), 4);
        // Full: the fifth is given back.
        let (tx, _rx) = oneshot::channel();
        assert!(map.insert(7, tx, later, now).is_err());
        // An answer restores the original ID.
        let waiter = map.take(wire[2]).unwrap();
        assert_eq!(waiter.original, 0x1234);
        let mut message = vec![0u8; 12];
        set_message_id(&mut message, wire[2]);
        set_message_id(&mut message, waiter.original);
        assert_eq!(message_id(&message), Some(0x1234));
        assert!(map.take(wire[2]).is_none(), "answered once");
        let (tx, _rx8) = oneshot::channel();
        assert!(
            map.insert(8, tx, later, now).is_ok(),
            "its place is free again"
        );
        // A caller that stopped waiting frees its ID when the map is full.
        drop(receivers.remove(0));
        let (tx, _rx) = oneshot::channel();
        assert!(map.insert(9, tx, later, now).is_ok());
        let (tx, _rx) = oneshot::channel();
        assert!(map.insert(10, tx, later, now).is_err());
        // Past their deadline, all go.
        map.sweep(later);
        assert!(map.is_empty());
    }

    #[test]
    fn ids_skip_those_in_use_when_they_wrap() {
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let mut map = IdMap::new(8);
        map.next = u16::MAX;
        let (tx, _a) = oneshot::channel();
        assert_eq!(map.insert(1, tx, later, now).unwrap(), u16::MAX);
        let (tx, _b) = oneshot::channel();
        assert_eq!(map.insert(1, tx, later, now).unwrap(), 0);
        map.next = u16::MAX;
        let (tx, _c) = oneshot::channel();
        assert_eq!(map.insert(1, tx, later, now).unwrap(), 1);
    }

    #[test]
    fn frames_are_cut_from_any_reads() {
        let mut frames = FrameBuffer::default();
        frames.push(&[0, 3, b'a']);
        assert_eq!(frames.next_frame(), None);
        frames.push(&[b'b', b'c', 0, 1]);
        assert_eq!(frames.next_frame(), Some(b"abc".to_vec()));
        assert_eq!(frames.next_frame(), None);
        frames.push(&[b'z', 0, 0]);
        assert_eq!(frames.next_frame(), Some(b"z".to_vec()));
        assert_eq!(frames.next_frame(), Some(Vec::new()));
        assert_eq!(frames.next_frame(), None);
    }

    #[test]
    fn every_scheme_builds_outside_a_runtime() {
        let spec = |scheme| SecureSpec {
            scheme,
            addr: "127.0.0.1:853".parse().unwrap(),
            name: "dns.test".into(),
            path: "/dns-query".into(),
            trust: Trust::Insecure,
        };
        assert!(build(&spec(Scheme::Tls)).is_ok());
        // Built outside a runtime: the QUIC endpoint waits for the first query.
        let doq = build(&spec(Scheme::Quic)).unwrap();
        assert_eq!(doq.protocol(), "quic");
        let doh = build(&spec(Scheme::Https)).unwrap();
        assert_eq!(doh.protocol(), "https");
        let bad = SecureSpec {
            name: "not a name!".into(),
            ..spec(Scheme::Tls)
        };
        assert!(build(&bad).is_err());
    }

    /// A DNS over TLS server on loopback with a fresh certificate for `dns.test`: it answers
    /// the queries of a connection two at a time, in reverse order (the answer is the query
    /// with QR set), and closes a connection after `per_connection` queries. Its address, the
    /// pin of its key, and the connections it accepted.
    async fn fake_server(per_connection: usize) -> (SocketAddr, [u8; 32], Arc<AtomicU64>) {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["dns.test".to_owned()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der().clone();
        let pin = crate::client_tls::spki_sha256(der.as_ref()).unwrap();
        let key_der = rustls_pki_types::PrivateKeyDer::Pkcs8(
            rustls_pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der], key_der)
            .unwrap();
        config.alpn_protocols = vec![b"dot".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut served = 0;
                    while served < per_connection {
                        let mut batch = Vec::new();
                        for _ in 0..2 {
                            let mut len = [0u8; 2];
                            if tls.read_exact(&mut len).await.is_err() {
                                return;
                            }
                            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                            if tls.read_exact(&mut q).await.is_err() {
                                return;
                            }
                            q[2] |= 0x80;
                            batch.push(q);
                        }
                        for a in batch.iter().rev() {
                            let len = u16::try_from(a.len()).unwrap().to_be_bytes();
                            tls.write_all(&len).await.unwrap();
                            tls.write_all(a).await.unwrap();
                        }
                        served += 2;
                    }
                    let _ = tls.shutdown().await;
                });
            }
        });
        (addr, pin, accepted)
    }

    /// A 13-byte message with ID 0x4242 (every query the same ID) and `marker` after the
    /// header, to tell the answers apart.
    fn marked(marker: u8) -> Vec<u8> {
        let mut q = vec![0u8; 13];
        q[..2].copy_from_slice(&0x4242u16.to_be_bytes());
        q[12] = marker;
        q
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dot_pipelines_colliding_ids_and_reconnects() {
        let (addr, pin, accepted) = fake_server(2).await;
        let spec = SecureSpec {
            scheme: Scheme::Tls,
            addr,
            name: "dns.test".into(),
            path: String::new(),
            trust: Trust::Pins(vec![pin]),
        };
        let up = DotUpstream::new(&spec).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        // Two queries with one ID, answered out of order: each gets its own answer, with the
        // ID it was sent with.
        let (a, b) = tokio::join!(
            up.exchange(marked(1), deadline),
            up.exchange(marked(2), deadline)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((message_id(&a), a[12]), (Some(0x4242), 1));
        assert_eq!((message_id(&b), b[12]), (Some(0x4242), 2));
        assert_ne!(a[2] & 0x80, 0, "an answer");
        assert_eq!(up.connections_opened(), 1, "one connection for both");
        // The server closed the connection after two queries: the next ones open another.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (c, d) = tokio::join!(
            up.exchange(marked(3), deadline),
            up.exchange(marked(4), deadline)
        );
        assert_eq!(c.unwrap()[12], 3);
        assert_eq!(d.unwrap()[12], 4);
        assert_eq!(up.connections_opened(), 2);
        assert_eq!(accepted.load(Ordering::Relaxed), 2);
        // At once after the server closed it: a query lost with the old connection is sent
        // again on a new one.
        let (e, f) = tokio::join!(
            up.exchange(marked(5), deadline),
            up.exchange(marked(6), deadline)
        );
        assert_eq!(e.unwrap()[12], 5);
        assert_eq!(f.unwrap()[12], 6);
        assert_eq!(up.connections_opened(), 3);
        // Another pin: the handshake fails, and the query with it, before its deadline.
        let wrong = SecureSpec {
            trust: Trust::Pins(vec![[0; 32]]),
            ..spec
        };
        let up = DotUpstream::new(&wrong).unwrap();
        let err = up.exchange(marked(7), deadline).await.unwrap_err();
        assert_ne!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert_eq!(up.connections_opened(), 0);
    }

    /// A query with ID 0x4242 for `NAME. A` whose OPT record carries an EDNS TCP keepalive of
    /// `units` × 100 ms (the fake server echoes it back, as a server announcing its idle time).
    fn with_keepalive(name: &str, units: u16) -> Vec<u8> {
        let mut buf = vec![0u8; 512];
        let header = wire::Header {
            id: 0x4242,
            ..wire::Header::default()
        };
        let mut w = wire::MessageWriter::new(&mut buf, 512, header).unwrap();
        let qname: wire::Name = name.parse().unwrap();
        w.push_question(qname.as_ref(), wire::RType::A, wire::Class::IN)
            .unwrap();
        let mut opt = w.opt(1232, wire::Rcode::NOERROR, false).unwrap();
        opt.option(wire::edns::OptionCode::TCP_KEEPALIVE, &units.to_be_bytes())
            .unwrap();
        opt.finish().unwrap();
        w.finish().to_vec()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_servers_keepalive_sets_the_idle_close() {
        let (addr, pin, accepted) = fake_server(100).await;
        let spec = SecureSpec {
            scheme: Scheme::Tls,
            addr,
            name: "dns.test".into(),
            path: String::new(),
            trust: Trust::Pins(vec![pin]),
        };
        let up = DotUpstream::new(&spec).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let pair = || async {
            let (a, b) = tokio::join!(
                up.exchange(with_keepalive("a.", 2), deadline),
                up.exchange(with_keepalive("b.", 2), deadline)
            );
            assert_eq!(message_id(&a.unwrap()), Some(0x4242));
            assert_eq!(message_id(&b.unwrap()), Some(0x4242));
        };
        pair().await;
        // Within the announced 200 ms: the same connection.
        tokio::time::sleep(Duration::from_millis(50)).await;
        pair().await;
        assert_eq!(up.connections_opened(), 1);
        // Idle past it (and far less than the 10 s default): closed, and the next queries
        // open another.
        tokio::time::sleep(Duration::from_millis(600)).await;
        pair().await;
        assert_eq!(up.connections_opened(), 2);
        assert_eq!(accepted.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn queries_ask_for_the_keepalive() {
        // A query with a cookie, as the recursor writes them.
        let mut buf = vec![0u8; 512];
        let header = wire::Header::default();
        let mut w = wire::MessageWriter::new(&mut buf, 512, header).unwrap();
        let qname: wire::Name = "example.test.".parse().unwrap();
        w.push_question(qname.as_ref(), wire::RType::A, wire::Class::IN)
            .unwrap();
        let mut opt = w.opt(1232, wire::Rcode::NOERROR, true).unwrap();
        opt.option(wire::edns::OptionCode(10), &[7; 8]).unwrap();
        opt.finish().unwrap();
        let mut query = w.finish().to_vec();
        let before = query.len();
        request_keepalive(&mut query);
        assert_eq!(query.len(), before + 4);
        let m = wire::Message::parse(&query).unwrap();
        let edns = m.edns().unwrap();
        assert!(edns.dnssec_ok());
        assert_eq!(edns.option(wire::edns::OptionCode(10)), Some(&[7u8; 8][..]));
        assert_eq!(
            edns.option(wire::edns::OptionCode::TCP_KEEPALIVE),
            Some(&[][..])
        );
        // Asked once only; a message without OPT, or not a message, is left alone.
        request_keepalive(&mut query);
        assert_eq!(query.len(), before + 4);
        let mut plain = marked(1);
        request_keepalive(&mut plain);
        assert_eq!(plain, marked(1));
    }

    #[test]
    fn keepalive_is_read_from_the_answer() {
        let mut buf = vec![0u8; 512];
        let header = wire::Header::default();
        let mut w = wire::MessageWriter::new(&mut buf, 512, header).unwrap();
        let root = wire::Name::root();
        w.push_question(root.as_ref(), wire::RType::NS, wire::Class::IN)
            .unwrap();
        let mut opt = w.opt(1232, wire::Rcode::NOERROR, false).unwrap();
        opt.option(wire::edns::OptionCode::TCP_KEEPALIVE, &[0, 50])
            .unwrap();
        opt.finish().unwrap();
        let message = w.finish().to_vec();
        assert_eq!(keepalive(&message), Some(Duration::from_secs(5)));
        assert_eq!(keepalive(&message[..12]), None);
    }
}
