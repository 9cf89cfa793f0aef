//! The client side of DNS over QUIC (RFC 9250): what `portcullis query +quic` and the
//! resolver's DoQ upstreams ask through.
//!
//! A [`DoqClient`] keeps one QUIC connection to its server and opens one bidirectional stream
//! per query (RFC 9250 section 4.2): the query goes out behind its 2-byte length with message
//! ID 0 (section 4.2.1: the stream identifies the exchange, so the ID is always 0 on the wire),
//! the stream is finished, and the response is read to the stream's end. The caller's ID is
//! put back in the response, so callers match responses as over any other transport.
//!
//! The connection is made on the first query and made again when it has closed (the server's
//! idle timeout, a restart); a query that meets a connection which turns out to be dead is
//! asked once more on a fresh one. A handshake runs in a task of its own: a query whose
//! deadline passes gives up waiting for it, and the next queries find the connection made
//! (a server slower to reach than one query's timeout is not tried again and again). Sessions are resumed from the tickets the server sent
//! (rustls keeps them in memory), and a resumed connection carries a replay-safe query (a
//! standard QUERY, not a zone transfer) as 0-RTT early data, saving a round trip; any other
//! query waits for the handshake (section 4.5). A query the server's 0-RTT refusal lost is
//! asked again once the handshake is done.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quinn::crypto::rustls::{HandshakeData, QuicClientConfig};
use quinn::{ConnectionError, ReadError, ReadToEndError, VarInt, WriteError};
use tokio::sync::{Mutex, watch};

use crate::client_tls::ClientTls;

/// The ALPN protocol identifier of DNS over QUIC (RFC 9250 section 4.1.1).
pub const ALPN_DOQ: &[u8] = b"doq";

/// DOQ_NO_ERROR (RFC 9250 section 4.3): the application closes the connection normally.
pub const DOQ_NO_ERROR: u32 = 0x0;
/// DOQ_INTERNAL_ERROR: the implementation hit an internal error.
pub const DOQ_INTERNAL_ERROR: u32 = 0x1;
/// DOQ_PROTOCOL_ERROR: the peer broke RFC 9250 (a non-zero message ID, a unidirectional
/// stream, two messages on a stream, ...).
pub const DOQ_PROTOCOL_ERROR: u32 = 0x2;
/// DOQ_REQUEST_CANCELLED: a stream abandoned (a query the server gave up reading).
pub const DOQ_REQUEST_CANCELLED: u32 = 0x3;
/// DOQ_EXCESSIVE_LOAD: closed for load (too many connections).
pub const DOQ_EXCESSIVE_LOAD: u32 = 0x4;

/// The largest response: a 2-byte length and 65,535 bytes.
const MAX_FRAME: usize = 2 + 65_535;
/// How long an unused connection stays open: the server's idle timeout usually ends it first.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A DNS over QUIC client for one server; see the [module docs](self). Cheap to share: every
/// method takes `&self`, and concurrent queries share the connection.
#[derive(Debug)]
pub struct DoqClient {
    server: SocketAddr,
    /// The name the certificate must be valid for, as quinn takes it.
    name: String,
    config: quinn::ClientConfig,
    state: Mutex<State>,
    connections: AtomicU64,
    early_answers: AtomicU64,
}

/// The socket and the connection, made when first needed.
#[derive(Debug, Default)]
struct State {
    endpoint: Option<quinn::Endpoint>,
    conn: Option<Conn>,
    /// A handshake under way: its outcome, once there is one.
    pending: Option<watch::Receiver<Option<Handshake>>>,
}

/// How a handshake ended: the connection, or the error's kind and text (an `io::Error` is
/// not `Clone`, and every waiter gets one).
type Handshake = Result<Conn, (io::ErrorKind, String)>;

/// An open (or opening) connection.
#[derive(Clone, Debug)]
struct Conn {
    conn: quinn::Connection,
    /// True once the handshake is complete; false while the connection is in 0-RTT.
    handshake: watch::Receiver<bool>,
}

/// What a [`DoqClient`] has done, for tests and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DoqClientStats {
    /// Connections opened (handshakes started).
    pub connections: u64,
    /// Answers to queries sent as 0-RTT early data (the server accepted the early data).
    pub early_answers: u64,
}

impl DoqClient {
    /// A client for `server` with `tls`, which should offer ALPN [`ALPN_DOQ`] and TLS 1.3 only
    /// ([`ClientTls::new`] with `tls13_only`); early data is turned on here. Nothing is sent
    /// until the first [`DoqClient::exchange`], which must run inside a tokio runtime. Fails
    /// when the TLS configuration cannot do QUIC (no TLS 1.3 AES-128-GCM suite).
    pub fn new(server: SocketAddr, tls: ClientTls) -> io::Result<DoqClient> {
        let mut rustls_config = (*tls.config).clone();
        rustls_config.enable_early_data = true;
        let crypto = QuicClientConfig::try_from(Arc::new(rustls_config))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("QUIC: {e}")))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        let mut transport = quinn::TransportConfig::default();
        transport.max_idle_timeout(IDLE_TIMEOUT.try_into().ok());
        // DoQ uses client-initiated bidirectional streams only (RFC 9250 section 4.2).
        transport.max_concurrent_uni_streams(VarInt::from_u32(0));
        transport.max_concurrent_bidi_streams(VarInt::from_u32(0));
        config.transport_config(Arc::new(transport));
        Ok(DoqClient {
            server,
            name: tls.name.to_str().into_owned(),
            config,
            state: Mutex::new(State::default()),
            connections: AtomicU64::new(0),
            early_answers: AtomicU64::new(0),
        })
    }

    /// Sends `query` (a whole DNS message, any ID) and returns the response with the query's
    /// ID, or an error once `deadline` passes (`TimedOut`), the server cannot be reached, the
    /// handshake fails, or the response is not one well-framed DNS message.
    pub async fn exchange(&self, query: &[u8], deadline: Instant) -> io::Result<Vec<u8>> {
        let (Some(id), Ok(len)) = (query.get(..2), u16::try_from(query.len())) else {
            return Err(invalid(
                "the query is not a DNS message of at most 65,535 bytes",
            ));
        };
        if query.len() < 12 {
            return Err(invalid("the query is shorter than a DNS header"));
        }
        let mut frame = Vec::with_capacity(query.len() + 2);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(query.get(2..).unwrap_or_default());
        let early_ok = replay_safe(query);
        let asked = async {
            // A cached connection may have died unseen (the server's idle timeout): one more
            // try, on a fresh connection, when the first fails for that reason.
            let mut last = None;
            for _ in 0..2 {
                let conn = self.connection(early_ok).await?;
                match self.ask(&conn, &frame, early_ok).await {
                    Ok(response) => return Ok(response),
                    Err(Failure::Connection(e)) => {
                        self.forget(&conn).await;
                        last = Some(e);
                    }
                    Err(Failure::Other(e)) => return Err(e),
                    // `ask` asks again itself; it never hands this back.
                    Err(Failure::EarlyRejected) => {
                        return Err(io::Error::other("the server refused the early data"));
                    }
                }
            }
            Err(last.unwrap_or_else(|| io::Error::other("no connection")))
        };
        let mut response = tokio::time::timeout_at(deadline.into(), asked)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        if let Some(head) = response.get_mut(..2) {
            head.copy_from_slice(id);
        }
        Ok(response)
    }

    /// What the client has done so far.
    pub fn stats(&self) -> DoqClientStats {
        DoqClientStats {
            connections: self.connections.load(Ordering::Relaxed),
            early_answers: self.early_answers.load(Ordering::Relaxed),
        }
    }

    /// The ALPN protocol the open connection negotiated (`doq`), once its handshake is done.
    pub async fn alpn(&self) -> Option<Vec<u8>> {
        let state = self.state.lock().await;
        let data = state.conn.as_ref()?.conn.handshake_data()?;
        data.downcast::<HandshakeData>().ok()?.protocol
    }

    /// Closes the connection with DOQ_NO_ERROR and waits (at most a second) until the server
    /// has been told, so it does not keep the connection until its idle timeout.
    pub async fn close(&self) {
        let mut state = self.state.lock().await;
        if let Some(conn) = state.conn.take() {
            conn.conn.close(VarInt::from_u32(DOQ_NO_ERROR), b"");
        }
        if let Some(endpoint) = &state.endpoint {
            let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
        }
    }

    /// The open connection, or a new one. A new connection to a server that gave a session
    /// ticket before is usable at once in 0-RTT when `early_ok`. Otherwise the handshake runs
    /// in a task of its own, which queries wait on: a query whose deadline passes first gives
    /// up its wait, not the handshake, so a server slower to reach than one query's timeout
    /// still gets a connection for the next ones.
    async fn connection(&self, early_ok: bool) -> io::Result<Conn> {
        let mut pending = {
            let mut state = self.state.lock().await;
            if let Some(conn) = &state.conn
                && conn.conn.close_reason().is_none()
            {
                return Ok(conn.clone());
            }
            state.conn = None;
            match &state.pending {
                Some(pending) => pending.clone(),
                None => {
                    let connecting = self.connect(&mut state)?;
                    let connecting = if early_ok {
                        match connecting.into_0rtt() {
                            Ok((conn, accepted)) => {
                                let (tx, rx) = watch::channel(false);
                                tokio::spawn(async move {
                                    accepted.await;
                                    let _ = tx.send(true);
                                });
                                let conn = Conn {
                                    conn,
                                    handshake: rx,
                                };
                                state.conn = Some(conn.clone());
                                return Ok(conn);
                            }
                            Err(connecting) => connecting,
                        }
                    } else {
                        connecting
                    };
                    let (tx, rx) = watch::channel(None);
                    tokio::spawn(async move {
                        let done = connecting.await.map(established).map_err(|e| {
                            let e = connection_error(e);
                            (e.kind(), e.to_string())
                        });
                        let _ = tx.send(Some(done));
                    });
                    state.pending = Some(rx.clone());
                    rx
                }
            }
        };
        let done = pending
            .wait_for(Option::is_some)
            .await
            .map_err(|_| io::Error::other("the handshake task ended"))?
            .clone();
        let mut state = self.state.lock().await;
        // The first waiter to see the outcome installs it; the next attempt starts afresh.
        if state
            .pending
            .as_ref()
            .is_some_and(|p| p.same_channel(&pending))
        {
            state.pending = None;
            if let Some(Ok(conn)) = &done {
                state.conn = Some(conn.clone());
            }
        }
        match done {
            Some(Ok(conn)) => Ok(conn),
            Some(Err((kind, what))) => Err(io::Error::new(kind, what)),
            None => Err(io::Error::other("no handshake")),
        }
    }

    /// Starts a connection on the endpoint (made first if needed).
    fn connect(&self, state: &mut State) -> io::Result<quinn::Connecting> {
        let endpoint = match &state.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let local = match self.server {
                    SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                    SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
                };
                let endpoint = quinn::Endpoint::client(local)?;
                state.endpoint = Some(endpoint.clone());
                endpoint
            }
        };
        let connecting = endpoint
            .connect_with(self.config.clone(), self.server, &self.name)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("QUIC: {e}")))?;
        self.connections.fetch_add(1, Ordering::Relaxed);
        Ok(connecting)
    }

    /// Drops `conn` from the cache, if it is still the cached one.
    async fn forget(&self, conn: &Conn) {
        let mut state = self.state.lock().await;
        if state
            .conn
            .as_ref()
            .is_some_and(|c| c.conn.stable_id() == conn.conn.stable_id())
        {
            state.conn = None;
        }
    }

    /// One query on one stream of `conn`: `frame` is the length and the query with ID 0.
    async fn ask(&self, conn: &Conn, frame: &[u8], early_ok: bool) -> Result<Vec<u8>, Failure> {
        let mut handshake = conn.handshake.clone();
        if !early_ok {
            // Not replay-safe: never as early data (RFC 9250 section 4.5).
            handshake
                .wait_for(|done| *done)
                .await
                .map_err(|_| Failure::Connection(io::Error::other("the handshake failed")))?;
        }
        // A query whose early data the server refused is asked again after the handshake.
        for _ in 0..2 {
            let early = !*handshake.borrow();
            match stream_exchange(&conn.conn, frame).await {
                Ok(response) => {
                    if early {
                        self.early_answers.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(response);
                }
                Err(Failure::EarlyRejected) => {
                    let _ = handshake.wait_for(|done| *done).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Failure::Other(io::Error::other("0-RTT rejected twice")))
    }
}

/// The resolver's DoQ upstreams (`quic://` forwarders) ask through a [`DoqClient`].
impl crate::secure_upstream::SecureExchange for DoqClient {
    fn exchange(
        &self,
        query: Vec<u8>,
        deadline: Instant,
    ) -> std::pin::Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + Send + '_>> {
        Box::pin(async move { DoqClient::exchange(self, &query, deadline).await })
    }

    fn protocol(&self) -> &'static str {
        "quic"
    }
}

impl Drop for DoqClient {
    fn drop(&mut self) {
        if let Some(conn) = self.state.get_mut().conn.take() {
            conn.conn.close(VarInt::from_u32(DOQ_NO_ERROR), b"");
        }
    }
}

/// Why an exchange failed: the connection (worth a fresh one), or anything else.
enum Failure {
    Connection(io::Error),
    /// The server refused the 0-RTT data the query went in: ask again after the handshake.
    EarlyRejected,
    Other(io::Error),
}

/// A connection whose handshake is complete.
fn established(conn: quinn::Connection) -> Conn {
    let (_tx, rx) = watch::channel(true);
    Conn {
        conn,
        handshake: rx,
    }
}

/// Opens a stream, writes `frame`, finishes, and reads the one framed response to the end.
async fn stream_exchange(conn: &quinn::Connection, frame: &[u8]) -> Result<Vec<u8>, Failure> {
    let (mut send, mut recv) = conn
        .open_bi()
        .await
        .map_err(|e| Failure::Connection(connection_error(e)))?;
    match send.write_all(frame).await {
        Ok(()) => {}
        Err(WriteError::ZeroRttRejected) => {
            return Err(Failure::EarlyRejected);
        }
        Err(WriteError::ConnectionLost(e)) => return Err(Failure::Connection(connection_error(e))),
        Err(e) => return Err(Failure::Other(io::Error::other(format!("QUIC: {e}")))),
    }
    // Finishing fails only on a stream already reset; the read below says why.
    let _ = send.finish();
    let data = match recv.read_to_end(MAX_FRAME).await {
        Ok(data) => data,
        Err(ReadToEndError::Read(ReadError::ZeroRttRejected)) => {
            return Err(Failure::EarlyRejected);
        }
        Err(ReadToEndError::Read(ReadError::ConnectionLost(e))) => {
            return Err(Failure::Connection(connection_error(e)));
        }
        Err(ReadToEndError::Read(ReadError::Reset(code))) => {
            return Err(Failure::Other(io::Error::new(
                io::ErrorKind::ConnectionReset,
                format!(
                    "the server reset the stream ({})",
                    error_name(code.into_inner())
                ),
            )));
        }
        Err(e) => return Err(Failure::Other(io::Error::other(format!("QUIC: {e}")))),
    };
    unframe(data).map_err(Failure::Other)
}

/// The message of a stream's data: exactly one, behind its 2-byte length, with a header.
fn unframe(data: Vec<u8>) -> io::Result<Vec<u8>> {
    let announced = match data.get(..2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => {
            return Err(invalid_data(
                "the server closed the stream without a response",
            ));
        }
    };
    if data.len() - 2 != announced {
        return Err(invalid_data(&format!(
            "the response's length field says {announced} bytes, the stream carried {}",
            data.len() - 2
        )));
    }
    if announced < 12 {
        return Err(invalid_data("the response is shorter than a DNS header"));
    }
    let mut data = data;
    data.drain(..2);
    Ok(data)
}

/// Whether `query` may go as 0-RTT early data, which an attacker can replay: a standard
/// QUERY (opcode 0) for neither AXFR nor IXFR (RFC 9250 section 4.5).
pub(crate) fn replay_safe(query: &[u8]) -> bool {
    let opcode = query.get(2).map_or(0xff, |b| (b >> 3) & 0x0f);
    opcode == 0 && !matches!(question_type(query), Some(251 | 252))
}

/// The QTYPE of the first question, if the message has one that can be read.
fn question_type(message: &[u8]) -> Option<u16> {
    let qdcount = u16::from_be_bytes([*message.get(4)?, *message.get(5)?]);
    if qdcount == 0 {
        return None;
    }
    // Skip the question name: labels, ending at the root (no compression in a question).
    let mut at = 12usize;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
    Some(u16::from_be_bytes([
        *message.get(at)?,
        *message.get(at + 1)?,
    ]))
}

/// A connection error as an I/O error an operator can read: an application close carries the
/// DoQ error code's name (RFC 9250 section 4.3).
fn connection_error(e: ConnectionError) -> io::Error {
    match e {
        ConnectionError::TimedOut => io::ErrorKind::TimedOut.into(),
        ConnectionError::ApplicationClosed(close) => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the server closed the connection ({})",
                error_name(close.error_code.into_inner())
            ),
        ),
        ConnectionError::ConnectionClosed(close) => io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("QUIC: the connection was closed: {close}"),
        ),
        ConnectionError::TransportError(e) => {
            io::Error::new(io::ErrorKind::ConnectionAborted, format!("QUIC: {e}"))
        }
        ConnectionError::Reset => io::ErrorKind::ConnectionReset.into(),
        other => io::Error::other(format!("QUIC: {other}")),
    }
}

/// The name of a DoQ error code (RFC 9250 section 4.3), or its number.
fn error_name(code: u64) -> String {
    match code {
        0x0 => "DOQ_NO_ERROR".to_owned(),
        0x1 => "DOQ_INTERNAL_ERROR".to_owned(),
        0x2 => "DOQ_PROTOCOL_ERROR".to_owned(),
        0x3 => "DOQ_REQUEST_CANCELLED".to_owned(),
        0x4 => "DOQ_EXCESSIVE_LOAD".to_owned(),
        0x5 => "DOQ_UNSPECIFIED_ERROR".to_owned(),
        0xd098ea5e => "DOQ_ERROR_RESERVED".to_owned(),
        n => format!("error 0x{n:x}"),
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

fn invalid_data(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(flags: u8, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, flags, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x07example\x04test\x00");
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn only_plain_queries_are_replay_safe() {
        assert!(replay_safe(&query(0x01, 1)));
        assert!(!replay_safe(&query(0x01, 252)), "AXFR");
        assert!(!replay_safe(&query(0x01, 251)), "IXFR");
        assert!(!replay_safe(&query(4 << 3, 6)), "NOTIFY");
        assert!(!replay_safe(&query(5 << 3, 6)), "UPDATE");
        assert!(!replay_safe(&[0u8; 2]));
        assert_eq!(question_type(&query(0, 28)), Some(28));
    }

    #[test]
    fn responses_are_one_framed_message() {
        let msg = query(0x81, 1);
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        assert_eq!(unframe(framed.clone()).unwrap(), msg);
        let mut two = framed.clone();
        two.extend_from_slice(&framed);
        assert!(unframe(two).is_err());
        assert!(unframe(framed[..framed.len() - 1].to_vec()).is_err());
        assert!(unframe(vec![0]).is_err());
        assert!(unframe(vec![0, 2, 0, 0]).is_err());
    }

    #[test]
    fn the_client_and_its_exchanges_can_move_between_tasks() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<F: Future + Send>(_: F) {}
        let name = rustls_pki_types::ServerName::try_from("dns.test").unwrap();
        let tls = ClientTls::new(&crate::client_tls::Trust::Insecure, name, &[ALPN_DOQ], true);
        let client = DoqClient::new("127.0.0.1:853".parse().unwrap(), tls.unwrap()).unwrap();
        send_sync(&client);
        // Not polled: nothing is sent, no runtime is needed.
        send(client.exchange(&query(0, 1), Instant::now()));
        assert_eq!(client.stats(), DoqClientStats::default());
    }

    #[test]
    fn error_codes_are_named() {
        assert_eq!(error_name(2), "DOQ_PROTOCOL_ERROR");
        assert_eq!(error_name(0x99), "error 0x99");
    }
}
