//! DNS over QUIC (RFC 9250): the server.
//!
//! A DoQ client opens a QUIC connection (UDP, port 853 by convention; TLS 1.3 inside, ALPN
//! `doq`) and sends each query on a bidirectional stream of its own: the message behind a
//! 2-byte length, with message ID 0, then the stream's FIN (section 4.2). The server answers on
//! the same stream, framed the same way, and finishes it. Streams run side by side, so one slow
//! answer (a resolution) holds up no other.
//!
//! # What breaks the protocol (section 4.3)
//!
//! - a query with a non-zero message ID: the connection is closed with `DOQ_PROTOCOL_ERROR`
//!   (0x2), as is a query carrying the EDNS TCP keepalive option (section 5.5.2) and a
//!   unidirectional stream opened by the client;
//! - a stream that carries more than one message, or a message whose length the stream does
//!   not match, or no FIN within the message timeout: that stream alone is reset (and its
//!   reading stopped) with `DOQ_PROTOCOL_ERROR`; the connection goes on.
//!
//! # 0-RTT
//!
//! Clients resuming a session may send queries as TLS early data, before the handshake ends,
//! which an attacker can replay (section 4.5). The server accepts early data (it answers a
//! standard query one round trip sooner) but answers a query on a stream opened in 0-RTT only
//! when it is a standard QUERY that is not a zone transfer; anything else there (NOTIFY,
//! UPDATE, AXFR, IXFR) gets REFUSED. Early data needs the rustls settings
//! [`rustls_for_doq`] sets.
//!
//! # Limits
//!
//! Connections go through the same table as TCP and DNS over TLS ([`TcpLimits`]:
//! `max_connections`, `max_per_client`, the idlest connection evicted at the total limit): a
//! connection over a limit is refused before its handshake, and counts in
//! `tcp_connections_rejected_total`. A client whose address QUIC has not validated yet is sent
//! a Retry (QUIC's SYN cookie) rather than refused, and judged again when it comes back from
//! that address: once the limits are full, Initial packets from spoofed sources take no place. A client the listener's query ACL drops is ignored (no
//! packet back, as over UDP). Each connection has at most [`DoqSettings::max_streams`]
//! streams open at once (QUIC flow control: the client cannot open more), a query of at most
//! 65,535 bytes that must arrive whole within [`TcpLimits::message_timeout`], and a bounded
//! receive window. A connection with no query in flight for [`DoqSettings::idle_timeout`] is
//! closed by the server; PINGs keep nothing open past that. QUIC's own idle timeout (the same
//! value) only detects a client that vanished: the server PINGs at half of it, so a
//! connection waiting on a long resolution does not idle out under it. Client addresses may
//! not migrate: the address the ACL and the limits judged is the one served.
//!
//! # Reload and shutdown
//!
//! A reload sends a new rustls configuration (certificate) on the `watch` channel given in
//! [`DoqSettings::tls`]; the endpoint applies it to the next handshake and open connections
//! keep theirs. On shutdown the endpoint stops accepting, connections finish the answers they
//! owe (for at most [`TcpLimits::shutdown_grace`]) and close with `DOQ_NO_ERROR`.
//!
//! # Metrics
//!
//! Queries count under the `doq` transport label; connections count with the TCP ones
//! (`tcp_connections_*`), since they share its limits.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use metrics::Registry;
use quinn::crypto::rustls::QuicServerConfig;
use quinn::{ReadError, ReadToEndError, VarInt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use wire::edns::OptionCode;
use wire::message::Header;
use wire::{Message, MessageWriter, Rcode};

use crate::answer::{Answer, Responder, framed};
use crate::doq_client::{
    DOQ_EXCESSIVE_LOAD, DOQ_INTERNAL_ERROR, DOQ_NO_ERROR, DOQ_PROTOCOL_ERROR,
    DOQ_REQUEST_CANCELLED, replay_safe,
};
use crate::guards::Guards;
use crate::resolver::ResolverHandle;
use crate::tcp::TcpLimits;
use crate::tcp::table::{Admit, ConnState, Table, Ticket};
use crate::{SharedEngine, Shutdown};

/// DOQ_UNSPECIFIED_ERROR (RFC 9250 section 4.3): a policy closed the connection; the client is
/// told no more than that.
const DOQ_UNSPECIFIED_ERROR: u32 = 0x5;
/// The largest stream a query may arrive on: its 2-byte length and 65,535 bytes.
const MAX_FRAME: usize = 2 + 65_535;
/// Bytes a client may have in flight on one connection, all streams together: many small
/// queries, or a few of the largest.
const CONNECTION_WINDOW: u32 = 256 * 1024;
/// Bytes of responses buffered for one connection before writers wait.
const SEND_WINDOW: u64 = 1024 * 1024;
/// Unidirectional streams a client may open: one, so that its opening is seen and answered
/// with `DOQ_PROTOCOL_ERROR` rather than a QUIC stream-limit error.
const UNI_STREAMS: u32 = 1;

/// The DoQ side of a listener.
#[derive(Debug)]
pub struct DoqSettings {
    /// The server's rustls configuration ([`rustls_for_doq`] applied); a new value (a new
    /// certificate on reload) applies to the next handshake.
    pub tls: watch::Receiver<Arc<rustls::ServerConfig>>,
    /// Bidirectional streams (queries) open at once on one connection.
    pub max_streams: u32,
    /// Close a connection with no query in flight this long after its last one; also QUIC's
    /// idle timeout, which the server's PINGs (at half of it) keep from ending a busy one.
    pub idle_timeout: Duration,
    /// How long a new connection has to complete its handshake.
    pub handshake_timeout: Duration,
}

/// Sets what DoQ needs of a server rustls configuration besides ALPN
/// [`ALPN_DOQ`](crate::doq_client::ALPN_DOQ) (RFC 9250 section 4.1.1): early data (0-RTT,
/// section 4.5). QUIC negotiates TLS 1.3 only, whatever the versions the configuration offers
/// otherwise.
pub fn rustls_for_doq(mut config: rustls::ServerConfig) -> rustls::ServerConfig {
    // quinn takes early data only with this value (QUIC has no early data limit of its own).
    config.max_early_data_size = u32::MAX;
    // Answers to 0-RTT queries may leave before the client's Finished arrives.
    config.send_half_rtt_data = true;
    // rustls accepts early data only on stateful resumption: tickets that name a session in
    // `session_storage`, each taken once, so a replayed ClientHello finds no session to resume
    // and its early data is refused. Stateless tickets would resume anywhere, any number of
    // times.
    config.ticketer = Arc::new(NoTickets);
    config
}

/// A ticketer that makes no stateless tickets, so that resumption goes through the session
/// cache; see [`rustls_for_doq`].
#[derive(Debug)]
struct NoTickets;

impl rustls::server::ProducesTickets for NoTickets {
    fn enabled(&self) -> bool {
        false
    }

    fn lifetime(&self) -> u32 {
        0
    }

    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn decrypt(&self, _cipher: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// The quinn configuration of a DoQ endpoint.
fn quic_config(
    tls: &Arc<rustls::ServerConfig>,
    settings: &DoqSettings,
) -> Result<quinn::ServerConfig, String> {
    let crypto = QuicServerConfig::try_from(tls.clone()).map_err(|e| format!("QUIC: {e}"))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(settings.max_streams.max(1)))
        .max_concurrent_uni_streams(VarInt::from_u32(UNI_STREAMS))
        .stream_receive_window(VarInt::from_u32(MAX_FRAME as u32))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(SEND_WINDOW)
        .max_idle_timeout(settings.idle_timeout.try_into().ok())
        .keep_alive_interval(Some(settings.idle_timeout / 2));
    config.transport_config(Arc::new(transport));
    // The address judged at accept (ACL, per-client limit) stays the one served.
    config.migration(false);
    Ok(config)
}

/// What every connection of one listener shares.
struct Shared {
    responder: Responder,
    limits: TcpLimits,
    idle_timeout: Duration,
    handshake_timeout: Duration,
    shutdown: Shutdown,
}

/// Serves DNS over QUIC on `socket` (bound already, so privileges can be dropped before)
/// until `shutdown` fires and the connections have closed; see the [module docs](self).
/// Fails only when the endpoint cannot start (a TLS configuration QUIC cannot use, the socket).
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    socket: std::net::UdpSocket,
    mut settings: DoqSettings,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    limits: TcpLimits,
    registry: Arc<Registry>,
    guards: Guards,
    shutdown: Shutdown,
) -> Result<(), String> {
    let limits = limits.clamped();
    let listen = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let tls = settings.tls.borrow_and_update().clone();
    let endpoint = quinn::Endpoint::new(
        quinn::EndpointConfig::default(),
        Some(quic_config(&tls, &settings)?),
        socket,
        Arc::new(quinn::TokioRuntime),
    )
    .map_err(|e| format!("{listen}: {e}"))?;
    // Responses are padded (RFC 8467) for `engine::Transport::Encrypted` clients.
    let responder = Responder::new(
        engine,
        listen,
        resolver,
        guards,
        &registry,
        metrics::Transport::Doq,
    );
    let shared = Arc::new(Shared {
        responder,
        limits: limits.clone(),
        idle_timeout: settings.idle_timeout,
        handshake_timeout: settings.handshake_timeout,
        shutdown: shutdown.clone(),
    });
    let table = Arc::new(Table::new(limits.max_connections, limits.max_per_client));
    let mut tasks = JoinSet::new();
    let stop = shutdown.wait();
    tokio::pin!(stop);
    let mut reloads = true;
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            changed = settings.tls.changed(), if reloads => match changed {
                Ok(()) => {
                    let tls = settings.tls.borrow_and_update().clone();
                    match quic_config(&tls, &settings) {
                        Ok(config) => endpoint.set_server_config(Some(config)),
                        Err(e) => tracing::error!(%listen, "DoQ keeps its certificate: {e}"),
                    }
                }
                // The server is going away: no more reloads.
                Err(_) => reloads = false,
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            incoming = endpoint.accept() => {
                let Some(incoming) = incoming else { break };
                admit(incoming, &table, &shared, &mut tasks);
            }
        }
    }
    // No new connections; the open ones finish what they owe, then close.
    endpoint.set_server_config(None);
    crate::tcp::drain(&mut tasks, limits.shutdown_grace).await;
    endpoint.close(VarInt::from_u32(DOQ_NO_ERROR), b"");
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    Ok(())
}

/// Decides on a connection attempt before its handshake: ignored when the query ACL drops the
/// client, refused over a connection limit, else served by a task of its own.
fn admit(
    incoming: quinn::Incoming,
    table: &Arc<Table>,
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
) {
    let ip = incoming.remote_address().ip();
    let counters = shared.responder.counters();
    if shared.responder.dropped(ip) {
        // No packet back, as a dropped UDP query gets none (counted and reported already).
        incoming.ignore();
        return;
    }
    match Table::admit(table, ip) {
        Admit::Accept(ticket) => {
            let key = ticket.index();
            counters.with(key, |m| m.connection_opened(metrics::Transport::Doq));
            let state = ticket.state().clone();
            let closer = Closer {
                ticket: Some(ticket),
                key,
                shared: shared.clone(),
            };
            tasks.spawn(async move {
                connection(incoming, ip, key, &state, &closer.shared).await;
                drop(closer);
            });
        }
        // Over a limit with an address nobody has checked: the limits may be full of
        // connections from spoofed sources, so ask the client to prove its address (a Retry,
        // QUIC's SYN cookie) and decide again when it comes back.
        Admit::Reject(_) if !incoming.remote_address_validated() && incoming.may_retry() => {
            let _ = incoming.retry();
        }
        Admit::Reject(reason) => {
            // CONNECTION_REFUSED, before any handshake work.
            incoming.refuse();
            counters.with(0, |m| {
                m.connection_rejected(metrics::Transport::Doq, reason)
            });
        }
    }
}

/// Frees a connection's place in the table and counts it closed, however its task ends
/// (aborted at the end of the shutdown grace included).
struct Closer {
    ticket: Option<Ticket>,
    key: usize,
    shared: Arc<Shared>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        // The place is free before the close is counted: whoever sees the count may connect.
        drop(self.ticket.take());
        self.shared
            .responder
            .counters()
            .with(self.key, |m| m.connection_closed(metrics::Transport::Doq));
    }
}

/// Serves one connection: its handshake, then its streams, until it closes, idles, breaks the
/// protocol, is evicted, or the server shuts down.
async fn connection(
    incoming: quinn::Incoming,
    ip: IpAddr,
    key: usize,
    state: &Arc<ConnState>,
    shared: &Arc<Shared>,
) {
    let Ok(connecting) = incoming.accept() else {
        return;
    };
    // A server's connection is usable at once (0.5-RTT): streams sent as 0-RTT early data are
    // accepted before the handshake completes.
    let (conn, handshake) = match connecting.into_0rtt() {
        Ok(pair) => pair,
        Err(_) => return,
    };
    let handshake = tokio::time::timeout(shared.handshake_timeout, handshake);
    tokio::pin!(handshake);
    let mut handshaking = true;
    let stop = shared.shutdown.wait();
    tokio::pin!(stop);
    let mut streams = JoinSet::new();
    let client = engine::Client {
        addr: ip,
        transport: engine::Transport::Encrypted,
    };
    let port = conn.remote_address().port();
    let close = loop {
        let mut idle_at = state.last_activity() + shared.idle_timeout;
        if !state.is_idle() {
            idle_at = Instant::now() + shared.idle_timeout;
        }
        tokio::select! {
            biased;
            _ = &mut stop => break None,
            _ = state.evicted.notified() => break Some((DOQ_EXCESSIVE_LOAD, &b"evicted"[..])),
            done = &mut handshake, if handshaking => {
                handshaking = false;
                if done.is_err() {
                    shared.responder.counters().with(key, |m| {
                        m.connection_rejected(
                            metrics::Transport::Doq,
                            metrics::TcpReject::TlsHandshake,
                        );
                    });
                    break Some((DOQ_NO_ERROR, &b"handshake timeout"[..]));
                }
            }
            Some(joined) = streams.join_next(), if !streams.is_empty() => {
                if let Ok(Some(close)) = joined {
                    break Some(close);
                }
            }
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => {
                    state.touch();
                    state.add_pending(1);
                    let (shared, state) = (shared.clone(), state.clone());
                    streams.spawn(async move {
                        let verdict = stream(send, recv, key, (&client, port), &shared).await;
                        state.touch();
                        state.sub_pending(1);
                        verdict
                    });
                }
                Err(_) => return,
            },
            uni = conn.accept_uni() => match uni {
                Ok(_) => break Some((DOQ_PROTOCOL_ERROR, &b"unidirectional stream"[..])),
                Err(_) => return,
            },
            _ = tokio::time::sleep_until(idle_at.into()) => {
                if state.is_idle() && state.last_activity() + shared.idle_timeout <= Instant::now() {
                    break Some((DOQ_NO_ERROR, &b"idle"[..]));
                }
            }
        }
    };
    let (code, reason) = match close {
        Some(close) => close,
        None => {
            // Shutdown: the answers owed go out first.
            let drain = async { while streams.join_next().await.is_some() {} };
            let _ = tokio::time::timeout(shared.limits.shutdown_grace, drain).await;
            (DOQ_NO_ERROR, &b"shutdown"[..])
        }
    };
    conn.close(VarInt::from_u32(code), reason);
}

/// What a stream asks of its connection: to close it with this code and reason.
type Close = (u32, &'static [u8]);

/// Reads one query from a stream, answers it and finishes the stream. Returns a close when the
/// query broke the protocol badly enough to end the connection. Every path without an answer
/// resets the stream: quinn finishes a dropped stream, which would read as an empty answer.
async fn stream(
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    key: usize,
    (client, port): (&engine::Client, u16),
    shared: &Shared,
) -> Option<Close> {
    let protocol_error = VarInt::from_u32(DOQ_PROTOCOL_ERROR);
    let read = tokio::time::timeout(shared.limits.message_timeout, recv.read_to_end(MAX_FRAME));
    let data = match read.await {
        Ok(Ok(data)) => data,
        // Cancelled by the client: nothing to answer.
        Ok(Err(ReadToEndError::Read(ReadError::Reset(_)))) => {
            let _ = send.reset(VarInt::from_u32(DOQ_REQUEST_CANCELLED));
            return None;
        }
        Ok(Err(ReadToEndError::Read(_))) => return None,
        // Too long for one message, or no FIN in time.
        Ok(Err(ReadToEndError::TooLong)) | Err(_) => {
            let _ = recv.stop(protocol_error);
            let _ = send.reset(protocol_error);
            return None;
        }
    };
    let received = Instant::now();
    let Some(query) = one_message(&data) else {
        let _ = send.reset(protocol_error);
        return None;
    };
    if query.get(..2).is_some_and(|id| id != [0, 0]) {
        let _ = send.reset(protocol_error);
        return Some((DOQ_PROTOCOL_ERROR, b"non-zero message ID"));
    }
    if has_keepalive(query) {
        let _ = send.reset(protocol_error);
        return Some((DOQ_PROTOCOL_ERROR, b"edns-tcp-keepalive"));
    }
    let responder = &shared.responder;
    let frame = if recv.is_0rtt() && !replay_safe(query) {
        // Replayable early data must not change state or start a transfer (section 4.5).
        refused(query, key, responder)
    } else {
        match responder.answer(key, client, port, query, received) {
            Answer::Reply(frame) => Some(frame),
            // Zone transfers over QUIC (XoQ, RFC 9103 over RFC 9250) are not served.
            Answer::Transfer(_) => refused(query, key, responder),
            Answer::Resolving(rx) => {
                responder
                    .resolved(rx, key, SocketAddr::new(client.addr, port), received)
                    .await
            }
            // A policy drop, or a message beyond answering: the connection ends.
            Answer::Close => {
                let _ = send.reset(VarInt::from_u32(DOQ_UNSPECIFIED_ERROR));
                return Some((DOQ_UNSPECIFIED_ERROR, b""));
            }
        }
    };
    let Some(frame) = frame else {
        // The resolver gave up on it: the client learns at once rather than at its timeout.
        let _ = send.reset(VarInt::from_u32(DOQ_INTERNAL_ERROR));
        return None;
    };
    let written = tokio::time::timeout(shared.idle_timeout, send.write_all(&frame)).await;
    match written {
        Ok(Ok(())) => {
            let _ = send.finish();
        }
        // A client that does not read its answer: give up on this stream.
        _ => {
            let _ = send.reset(VarInt::from_u32(DOQ_REQUEST_CANCELLED));
        }
    }
    None
}

/// A REFUSED response to `query`, framed and counted; see [`refused_message`].
fn refused(query: &[u8], key: usize, responder: &Responder) -> Option<Vec<u8>> {
    let frame = refused_message(query)?;
    let t = responder.transport();
    responder
        .counters()
        .with(key, |m| m.count_response(t, metrics::Rcode::Refused));
    Some(frame)
}

/// A REFUSED response to `query`, framed: its header (opcode and RD kept) and question, and an
/// OPT record when the query had one. `None` when the query cannot be read.
fn refused_message(query: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::parse(query).ok()?;
    let asked = msg.header();
    let flags = asked
        .flags
        .with_qr(true)
        .with_aa(false)
        .with_tc(false)
        .with_ra(false)
        .with_ad(false)
        .with_rcode(Rcode::REFUSED);
    let header = Header {
        id: asked.id,
        flags,
        ..Header::default()
    };
    let mut buf = [0u8; 512];
    let mut w = MessageWriter::new(&mut buf, 512, header).ok()?;
    if let Some(q) = msg.question() {
        let qname = q.qname().ok()?;
        w.push_question(qname.as_ref(), q.qtype, q.qclass).ok()?;
    }
    if msg.edns().is_some() {
        w.opt(1232, Rcode::REFUSED, false).ok()?.finish().ok()?;
    }
    Some(framed(w.finish()))
}

/// The message of a stream's data when it is exactly one length-prefixed message.
fn one_message(data: &[u8]) -> Option<&[u8]> {
    let (len, message) = data.split_first_chunk::<2>()?;
    (usize::from(u16::from_be_bytes(*len)) == message.len()).then_some(message)
}

/// Whether the query carries the EDNS TCP keepalive option, which RFC 9250 section 5.5.2
/// forbids over QUIC.
fn has_keepalive(query: &[u8]) -> bool {
    Message::parse(query)
        .ok()
        .and_then(|m| m.edns())
        .is_some_and(|e| e.option(OptionCode::TCP_KEEPALIVE).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_holds_exactly_one_message() {
        assert_eq!(one_message(&[0, 3, 1, 2, 3]), Some(&[1, 2, 3][..]));
        assert_eq!(one_message(&[0, 0]), Some(&[][..]));
        assert_eq!(
            one_message(&[0, 3, 1, 2]),
            None,
            "FIN before the whole message"
        );
        assert_eq!(one_message(&[0, 1, 1, 0, 1, 2]), None, "two messages");
        assert_eq!(one_message(&[0]), None);
    }

    #[test]
    fn refusals_keep_the_question_and_the_opcode() {
        // A NOTIFY (opcode 4) for example.test. SOA with RD and an OPT record.
        let mut query = vec![0, 0, 4 << 3 | 1, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        query.extend_from_slice(b"\x07example\x04test\x00\x00\x06\x00\x01");
        query.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        let frame = refused_message(&query).unwrap();
        let response = one_message(&frame).unwrap();
        let msg = Message::parse(response).unwrap();
        let h = msg.header();
        assert_eq!((h.id, h.flags.qr(), h.flags.rd()), (0, true, true));
        assert_eq!(h.flags.opcode(), wire::Opcode::NOTIFY);
        assert_eq!(msg.rcode(), Rcode::REFUSED);
        assert_eq!(msg.question().unwrap().qtype, wire::RType::SOA);
        assert!(msg.edns().is_some());
        assert_eq!(refused_message(&[1, 2, 3]), None);
    }
}
