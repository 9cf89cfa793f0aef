//! DNS over TCP: RFC 1035 section 4.2.2 framing with RFC 7766 connection handling.
//!
//! Over TCP every message is preceded by its length as a 16-bit big-endian integer, so a
//! message holds at most 65,535 bytes and a connection carries any number of them. RFC 7766
//! asks a server to:
//!
//! - read queries **pipelined**: a client may send many without waiting, and each is answered
//!   as soon as it is ready, possibly out of order (section 6.2.1.1): clients match responses
//!   by message ID;
//! - close a connection left **idle** (section 6.2.3), and not let one client hold many
//!   connections; when it runs short, prefer closing idle connections (section 6.2.2);
//! - answer everything that needs more than a datagram: large responses, and zone transfers
//!   (AXFR, RFC 5936; IXFR, RFC 1995), streamed as a sequence of messages.
//!
//! # How a connection runs
//!
//! [`serve`] accepts connections and gives each a task (`tcp/conn.rs`) with two halves joined by a
//! bounded queue: a reader parses frames and answers each query with the engine at once, and a
//! writer sends the queued responses, several to a write. A zone transfer is handed to a
//! transfer worker (a blocking thread per connection, started on the first transfer) that
//! writes its messages into the same queue, in order, while the reader goes on answering other
//! queries on the connection. Responses may therefore overtake the messages of a transfer.
//!
//! Memory per connection is bounded: the queue holds at most
//! [`TcpLimits::max_pipelined`] responses and [`TcpLimits::max_buffered`] bytes; when it is full
//! the reader stops reading, so a client that does not read its responses fills its own TCP
//! window and no buffer of ours. The read buffer starts at 1 KiB and grows only to the frame
//! being read. The engine writes into a 64 KiB buffer per worker thread, not per connection.
//!
//! # Timers
//!
//! - **Idle**: a connection with nothing in flight is closed [`TcpLimits::idle_timeout`] after
//!   its last complete query or its last response written. Bytes that do not complete a message
//!   do not count, so a client trickling bytes (slowloris) is closed like an idle one.
//! - **One message**: once its first byte has arrived, a message must be complete within
//!   [`TcpLimits::message_timeout`], even while a transfer keeps the connection busy.
//! - **Writes**: a response that cannot be written within the idle timeout (a client that does
//!   not read) closes the connection.
//!
//! # Limits
//!
//! At most [`TcpLimits::max_connections`] connections in all and
//! [`TcpLimits::max_per_client`] from one address. A connection over the per-client limit is
//! accepted and closed at once, so the listener keeps serving everyone else. At the total
//! limit, the connection idle the longest (nothing in flight) is closed to make room for the new
//! one (RFC 7766 section 6.2.2); when none is idle, the new one is closed. Both count in
//! `tcp_connections_rejected_total` ([`metrics::TcpReject`]).
//!
//! # Access control
//!
//! A client the listener's query ACL drops ([`engine::Engine::query_acl`]) is closed as soon as
//! it is accepted; one it refuses gets REFUSED to each query. The ACLs of the engine current
//! at accept time (and at each query) apply, so a reload changes them for open connections too.
//!
//! # Shutdown
//!
//! When the [`Shutdown`] signal fires, [`serve`] stops accepting; every connection stops
//! reading, sends the responses it owes (transfers included) and closes. Connections still
//! open after [`TcpLimits::shutdown_grace`] are closed at once.
//!
//! # DNS over TLS
//!
//! [`crate::tls::serve`] runs this accept loop and connection code on TLS streams: the
//! connection is generic over its read and write halves, and the rules above apply unchanged.
//!
//! # Metrics
//!
//! Each query counts as over UDP, with the `tcp` transport label: the query by type, the
//! response by code, the latency from a complete query to its response being queued (for a
//! transfer, to its first message), truncation and malformed messages. Connections count opened,
//! closed and rejected. Tasks move between threads, so [`serve`] takes a few
//! [`metrics::WorkerMetrics`] behind locks held for one count each, rather than one per thread.

mod conn;
pub(crate) mod table;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics::{Registry, WorkerMetrics};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::answer::Responder;
use crate::guards::Guards;
use crate::resolver::ResolverHandle;
use crate::{SharedEngine, Shutdown};
use conn::Shared;
use table::{Admit, Table};

/// The largest DNS message: the TCP length prefix is 16 bits.
pub const MAX_MESSAGE: usize = 65_535;

/// How long to wait after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

// ---------------------------------------------------------------------------------------------
// TcpLimits
// ---------------------------------------------------------------------------------------------

/// The bounds on TCP connections; see the [module docs](self). Values out of bounds are
/// brought to the nearest bound when [`serve`] starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLimits {
    /// Close a connection with nothing in flight this long after its last complete query or
    /// response (RFC 7766 section 6.2.3). Default 10 s; at least 1 ms.
    pub idle_timeout: Duration,
    /// The longest a message may take to arrive once its first byte has. Default 5 s; at least
    /// 1 ms.
    pub message_timeout: Duration,
    /// Connections open at once. Default 4,096; at least 1.
    pub max_connections: usize,
    /// Connections open at once from one client address. Default 64; at least 1.
    pub max_per_client: usize,
    /// Queries answered on one connection before it is closed; `None` (the default) for no
    /// limit. `Some(0)` counts as `Some(1)`.
    pub max_queries_per_connection: Option<usize>,
    /// Responses queued on one connection before the reader stops reading it. Default 128; at
    /// least 1.
    pub max_pipelined: usize,
    /// Bytes of responses queued on one connection before the reader stops reading it. Default
    /// 256 KiB; at least 65,537 (one framed message of the largest size) and at most 2^32 - 1.
    pub max_buffered: usize,
    /// How long connections may go on sending what they owe after shutdown. Default 5 s.
    pub shutdown_grace: Duration,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(5),
            max_connections: 4096,
            max_per_client: 64,
            max_queries_per_connection: None,
            max_pipelined: 128,
            max_buffered: 256 * 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

impl TcpLimits {
    /// The limits brought within the bounds documented on each field.
    pub fn clamped(&self) -> TcpLimits {
        let min_time = Duration::from_millis(1);
        TcpLimits {
            idle_timeout: self.idle_timeout.max(min_time),
            message_timeout: self.message_timeout.max(min_time),
            max_connections: self.max_connections.max(1),
            max_per_client: self.max_per_client.max(1),
            max_queries_per_connection: self.max_queries_per_connection.map(|n| n.max(1)),
            max_pipelined: self.max_pipelined.max(1),
            max_buffered: self.max_buffered.clamp(MAX_MESSAGE + 2, u32::MAX as usize),
            shutdown_grace: self.shutdown_grace,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

/// Serves DNS over TCP on `listener` until `shutdown` fires and the connections have closed (at
/// most [`TcpLimits::shutdown_grace`] later); see the [module docs](self).
///
/// Run it inside a multi-thread tokio runtime: connections are spawned on it, and zone transfers
/// use its blocking threads.
pub async fn serve(
    listener: TcpListener,
    engine: SharedEngine,
    limits: TcpLimits,
    registry: Arc<Registry>,
    shutdown: Shutdown,
) {
    serve_resolving(listener, engine, None, limits, registry, shutdown).await;
}

/// [`serve`], handing the questions the cache cannot answer to `resolver` (see
/// [`crate::resolver`]); their answers are queued on the connection when they are ready.
pub async fn serve_resolving(
    listener: TcpListener,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    limits: TcpLimits,
    registry: Arc<Registry>,
    shutdown: Shutdown,
) {
    serve_guarded(
        listener,
        engine,
        resolver,
        limits,
        registry,
        Guards::default(),
        shutdown,
    )
    .await;
}

/// [`serve_resolving`], reporting what the policies do (ACL refusals and drops) to
/// `guards.events`. With client limits in `guards`, a blocked prefix's queries are refused or
/// dropped (a drop closes the connection); a `truncate` block means nothing over TCP, so they
/// are answered ([`crate::limits`]). Response rate limiting does not apply over TCP.
pub async fn serve_guarded(
    listener: TcpListener,
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
    accept_loop(listener, endpoint, None).await;
}

/// What a TCP or a DNS over TLS listener ([`crate::tls::serve`]) serves with, the TLS
/// settings aside.
pub(crate) struct Endpoint {
    pub(crate) engine: SharedEngine,
    pub(crate) resolver: Option<ResolverHandle>,
    pub(crate) limits: TcpLimits,
    pub(crate) registry: Arc<Registry>,
    pub(crate) guards: Guards,
    pub(crate) shutdown: Shutdown,
}

/// Accepts connections on `listener` until shutdown and runs each, in the clear or, with
/// `tls`, after a TLS handshake; then drains them for the shutdown grace.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    endpoint: Endpoint,
    tls: Option<Arc<crate::tls::TlsSettings>>,
) {
    let Endpoint {
        engine,
        resolver,
        limits,
        registry,
        guards,
        shutdown,
    } = endpoint;
    let limits = limits.clamped();
    let table = Arc::new(Table::new(limits.max_connections, limits.max_per_client));
    let listen = match listener.local_addr() {
        Ok(addr) => addr,
        Err(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    let (label, transport) = match tls {
        Some(_) => (metrics::Transport::Dot, engine::Transport::Encrypted),
        None => (metrics::Transport::Tcp, engine::Transport::Tcp),
    };
    let responder = Responder::new(engine, listen, resolver, guards, &registry, label);
    let counters = responder.counters().clone();
    let shared = Arc::new(Shared {
        responder,
        transport,
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
                Ok((stream, peer)) if shared.responder.dropped(peer.ip()) => {
                    // The query ACL drops this client: close at once, before any limit counts
                    // it (the responder counts and reports the drop).
                    drop(stream);
                }
                Ok((stream, peer)) => match Table::admit(&table, peer.ip()) {
                    Admit::Accept(ticket) => {
                        counters.with(ticket.index(), |m| m.connection_opened(label));
                        tasks.spawn(conn::run(stream, peer, ticket, shared.clone(), tls.clone()));
                    }
                    Admit::Reject(reason) => {
                        // Closing the socket at once keeps the listener free for others.
                        drop(stream);
                        counters.with(0, |m| m.connection_rejected(label, reason));
                    }
                },
                Err(_) => {
                    // Out of descriptors or a connection aborted before accept: pause briefly
                    // rather than spin on an error that the next call would repeat.
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            },
        }
    }
    drop(listener);

    drain(&mut tasks, limits.shutdown_grace).await;
}

/// Waits for the connection tasks to finish what they owe, for at most `grace`, then aborts
/// the rest: the end of every stream listener (TCP, DoT, DoH, DoQ) at shutdown.
pub(crate) async fn drain(tasks: &mut JoinSet<()>, grace: Duration) {
    let finished = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, finished).await.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

/// A few [`WorkerMetrics`] shared by the connection tasks, which move between threads: each
/// connection counts into one chosen by its slot, under a lock held for one count.
#[derive(Debug)]
pub(crate) struct Counters {
    stripes: Box<[Mutex<WorkerMetrics>]>,
}

impl Counters {
    pub(crate) fn new(registry: &Registry) -> Counters {
        let n = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .clamp(1, 64);
        Counters {
            stripes: (0..n).map(|_| Mutex::new(registry.worker())).collect(),
        }
    }

    /// Runs `f` on the counters of stripe `key` (any number: it is reduced modulo the stripes).
    pub(crate) fn with<R>(&self, key: usize, f: impl FnOnce(&mut WorkerMetrics) -> R) -> R {
        let stripe = &self.stripes[key % self.stripes.len()];
        // A count is one store; a panic elsewhere cannot leave a stripe half-written.
        let mut m = stripe.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut m)
    }
}
