//! DNS over UDP (RFC 1035 section 4.2.1): a blocking worker thread per socket, batched system
//! calls, replies from the address each query came to.
//!
//! [`spawn_workers`] binds one socket per worker to the same address with `SO_REUSEPORT`, so
//! the kernel spreads the clients over the workers by a hash of their address and port, and
//! starts one OS thread per socket. No task is spawned per packet and no lock is taken: each
//! worker loops over
//!
//! 1. **receive**: `recvmmsg` fills up to [`BATCH`] preallocated slots of [`QUERY_BUFFER`] bytes
//!    (`MSG_WAITFORONE`: it waits for the first datagram, then takes what is queued). Each slot
//!    keeps the client's address and the address the datagram was sent to (`IP_PKTINFO`,
//!    `IPV6_RECVPKTINFO`), so a socket bound to a wildcard address answers from the address the
//!    client asked, as clients require (RFC 1123 section 6.1.3.5 asks for it of multihomed
//!    servers);
//! 2. **answer**: the current engine is loaded once per batch ([`SharedEngine`]), and each query
//!    is answered into its own preallocated response slot of [`RESPONSE_BUFFER`] bytes; the
//!    engine caps the size by the client's EDNS payload and our `udp_payload` (RFC 6891 section
//!    6.2.5) and sets TC when the answer does not fit;
//! 3. **send**: `sendmmsg` sends the responses with a control message naming their source
//!    address, one call per run of responses that share a source (one call in the common case).
//!
//! The engine applies the ACLs of the listener (the address the workers were started on, as
//! configured: [`engine::Engine::listener`], looked up once per batch): a query an ACL drops
//! is counted as dropped by policy and gets no response; every ACL refusal or drop is a
//! security event.
//!
//! With response rate limiting on (`[rrl]`), step 2 asks the shared [`guard::Rrl`] about each
//! response the engine wrote: a dropped one is not sent, a slipped one is cut to its header and
//! question with TC set ([`guard::slip`]). TCP is not rate limited, as in BIND: its clients
//! cannot forge their address. Answers that a resolution finishes later, sent by the resolver's
//! drivers, are rate limited too, by the same table, when they are sent. Responses to a query
//! with a valid server cookie (RFC 7873, [`engine::ReplyInfo::valid_cookie`]) are not limited:
//! that client proved it receives at its address.
//!
//! With client limits on (`[limits]`), step 2 first asks the shared [`guard::DynBlock`]
//! whether the client's prefix is blocked or over its query rate, and drops the query or
//! answers it REFUSED or truncated without the engine ([`crate::limits`]); each response sent
//! is then counted against the rules on NXDOMAIN and large responses.
//!
//! A socket receive timeout ([`POLL_INTERVAL`]) lets an idle worker notice [`Shutdown`]; a
//! worker that is answering finishes its batch first. Nothing is allocated per packet: the
//! buffers and the system call headers are allocated when the worker starts.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use engine::{
    AnswerKind, AnswerSource, Client, Outcome, QueryError, RecursionRequest, ReplyInfo, Transport,
};
use events::{Action, Event};
use guard::{Decision, Kind};
use metrics::{DropReason, QType, Rcode, Registry, WorkerMetrics};
use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg,
    sendmmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};
use wire::{NameRef, RType};

use crate::guards::Guards;
use crate::limits::{self, Gate};
use crate::resolver::{Job, ReplyTo, ResolverHandle, UdpReply};
use crate::{SharedEngine, Shutdown};

/// Datagrams received (and responses sent) per system call.
pub const BATCH: usize = 32;
/// Bytes kept for each query. Queries are small (a header, one question, an OPT record with a
/// few options): a longer datagram is cut by the kernel and counted as malformed.
pub const QUERY_BUFFER: usize = 4096;
/// Bytes kept for each response: the largest `server.udp_payload` allowed. The engine never
/// writes more than the buffer holds.
pub const RESPONSE_BUFFER: usize = 4096;
/// How long a worker waits for a datagram before it looks at the shutdown signal.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Receive and send buffer asked of the kernel for each socket.
const SOCKET_BUFFER: usize = 4 << 20;

const METRICS: metrics::Transport = metrics::Transport::Udp;

// ---------------------------------------------------------------------------------------------
// Starting workers
// ---------------------------------------------------------------------------------------------

/// The workers answering on one address.
#[derive(Debug)]
pub struct UdpWorkers {
    local_addr: SocketAddr,
    handles: Vec<JoinHandle<()>>,
}

impl UdpWorkers {
    /// The address the sockets are bound to (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for every worker to stop (after [`Shutdown::trigger`]).
    pub fn join(self) {
        for handle in self.handles {
            if handle.join().is_err() {
                tracing::error!(addr = %self.local_addr, "a UDP worker panicked");
            }
        }
    }
}

/// Binds `workers` sockets to `addr` with `SO_REUSEPORT` and starts a thread answering on each
/// from `engine`, counting into `registry`, until `shutdown` is triggered. Every socket is bound
/// before any thread starts, so an error (the address is in use, or the port needs privileges)
/// leaves nothing running. With port 0, the first socket's port is used for the others.
pub fn spawn_workers(
    addr: SocketAddr,
    workers: usize,
    engine: SharedEngine,
    registry: &Arc<Registry>,
    shutdown: Shutdown,
) -> io::Result<UdpWorkers> {
    spawn_resolving_workers(
        addr,
        workers,
        engine,
        None,
        Guards::default(),
        registry,
        shutdown,
    )
}

/// [`spawn_workers`], handing the questions the cache cannot answer to `resolver` (see
/// [`crate::resolver`]), and applying `guards` (one rate-limiting table shared by every worker,
/// so a client's queries count together whichever worker gets them).
pub fn spawn_resolving_workers(
    addr: SocketAddr,
    workers: usize,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    guards: Guards,
    registry: &Arc<Registry>,
    shutdown: Shutdown,
) -> io::Result<UdpWorkers> {
    let workers = workers.max(1);
    let first = bind(addr)?;
    let local_addr = first
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the socket has no IP address"))?;
    let mut sockets = vec![first];
    for _ in 1..workers {
        sockets.push(bind(local_addr)?);
    }
    let guards = Arc::new(guards);
    let mut handles = Vec::with_capacity(workers);
    for (i, socket) in sockets.into_iter().enumerate() {
        let (engine, metrics, stop) = (engine.clone(), registry.worker(), shutdown.clone());
        let resolver = resolver.clone();
        let guards = guards.clone();
        // The system call headers hold raw pointers, so the worker is built in its thread.
        let handle = std::thread::Builder::new()
            .name(format!("udp-{i}-{local_addr}"))
            .spawn(move || {
                Worker::new(socket, addr, engine, resolver, guards, metrics, stop).run();
            });
        match handle {
            Ok(h) => handles.push(h),
            Err(e) => {
                // Stop the workers already started before reporting.
                shutdown.trigger();
                for h in handles {
                    let _ = h.join();
                }
                return Err(e);
            }
        }
    }
    tracing::info!(addr = %local_addr, workers, "answering DNS over UDP");
    Ok(UdpWorkers {
        local_addr,
        handles,
    })
}

/// One socket for `addr`: `SO_REUSEPORT`, packet information on, IPv6 sockets IPv6-only (so
/// `0.0.0.0:53` and `[::]:53` can both be bound), a receive timeout of [`POLL_INTERVAL`].
fn bind(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    match addr {
        SocketAddr::V4(_) => setsockopt(&socket, sockopt::Ipv4PacketInfo, &true)?,
        SocketAddr::V6(_) => {
            socket.set_only_v6(true)?;
            setsockopt(&socket, sockopt::Ipv6RecvPacketInfo, &true)?;
        }
    }
    // Larger kernel buffers absorb bursts; the kernel caps them at its own maximum, and a
    // refusal only costs burst tolerance.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.set_read_timeout(Some(POLL_INTERVAL))?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

// ---------------------------------------------------------------------------------------------
// The worker
// ---------------------------------------------------------------------------------------------

/// The address a datagram was sent to, as the kernel reported it, which becomes its
/// response's source. An unspecified address lets the kernel choose, as for a plain `send`.
#[derive(Clone, Copy)]
pub(crate) enum Local {
    V4(libc::in_pktinfo),
    V6(libc::in6_pktinfo),
}

impl Local {
    /// The unspecified address of the socket's family.
    fn unspecified(v6: bool) -> Local {
        if v6 {
            Local::V6(libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr { s6_addr: [0; 16] },
                ipi6_ifindex: 0,
            })
        } else {
            Local::V4(libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr { s_addr: 0 },
                ipi_addr: libc::in_addr { s_addr: 0 },
            })
        }
    }

    /// Whether two responses can share one `sendmmsg` call.
    fn same(&self, other: &Local) -> bool {
        match (self, other) {
            (Local::V4(a), Local::V4(b)) => {
                a.ipi_spec_dst.s_addr == b.ipi_spec_dst.s_addr && a.ipi_ifindex == b.ipi_ifindex
            }
            (Local::V6(a), Local::V6(b)) => {
                a.ipi6_addr.s6_addr == b.ipi6_addr.s6_addr && a.ipi6_ifindex == b.ipi6_ifindex
            }
            _ => false,
        }
    }
}

/// What the receive call said about one slot.
#[derive(Clone, Copy)]
struct Received {
    len: usize,
    truncated: bool,
    peer: Option<SockaddrStorage>,
    local: Local,
}

/// A response ready in a slot.
#[derive(Clone, Copy)]
struct Pending {
    slot: usize,
    len: usize,
    peer: SockaddrStorage,
    local: Local,
    sent: bool,
}

struct Worker {
    /// Shared with the resolver's drivers, which send resolved answers from it.
    socket: Arc<Socket>,
    /// The address as configured, which names the listener's ACLs ([`engine::Engine::listener`]).
    listen: SocketAddr,
    /// Whether the socket is IPv6.
    v6: bool,
    engine: SharedEngine,
    resolver: Option<ResolverHandle>,
    guards: Arc<Guards>,
    metrics: WorkerMetrics,
    /// This worker's top-k tables, when the dashboard is served.
    top: Option<metrics::TopWorker>,
    shutdown: Shutdown,
    /// Query slots, [`QUERY_BUFFER`] bytes each.
    rx: Box<[u8]>,
    /// Response slots, [`RESPONSE_BUFFER`] bytes each.
    tx: Box<[u8]>,
    rx_headers: MultiHeaders<SockaddrStorage>,
    tx_headers: MultiHeaders<SockaddrStorage>,
    received: [Received; BATCH],
    pending: [Pending; BATCH],
}

impl Worker {
    fn new(
        socket: Socket,
        listen: SocketAddr,
        engine: SharedEngine,
        resolver: Option<ResolverHandle>,
        guards: Arc<Guards>,
        metrics: WorkerMetrics,
        shutdown: Shutdown,
    ) -> Worker {
        let v6 = matches!(
            socket.local_addr().ok().and_then(|a| a.as_socket()),
            Some(SocketAddr::V6(_))
        );
        let empty = Received {
            len: 0,
            truncated: false,
            peer: None,
            local: Local::unspecified(v6),
        };
        Worker {
            listen,
            socket: Arc::new(socket),
            v6,
            engine,
            resolver,
            top: guards.top.as_ref().map(|t| t.worker()),
            guards,
            metrics,
            shutdown,
            rx: vec![0; BATCH * QUERY_BUFFER].into_boxed_slice(),
            tx: vec![0; BATCH * RESPONSE_BUFFER].into_boxed_slice(),
            rx_headers: headers(v6),
            tx_headers: headers(v6),
            received: [empty; BATCH],
            pending: [Pending {
                slot: 0,
                len: 0,
                peer: SockaddrStorage::from(SocketAddr::from(([0, 0, 0, 0], 0))),
                local: Local::unspecified(v6),
                sent: true,
            }; BATCH],
        }
    }

    fn run(&mut self) {
        while !self.shutdown.is_triggered() {
            let count = match self.receive() {
                Ok(n) => n,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    // A persistent error must not spin the CPU.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
            };
            let started = Instant::now();
            let replies = self.answer(count);
            self.send(replies, started);
        }
    }

    /// Receives up to [`BATCH`] datagrams; returns how many.
    fn receive(&mut self) -> Result<usize, Errno> {
        let fd = self.socket.as_raw_fd();
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] = {
            let mut chunks = self.rx.chunks_exact_mut(QUERY_BUFFER);
            std::array::from_fn(|_| [IoSliceMut::new(chunks.next().unwrap_or_default())])
        };
        let results = recvmmsg(
            fd,
            &mut self.rx_headers,
            slices.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        )?;
        let mut count = 0;
        let mut lost_pktinfo = false;
        for (slot, msg) in results.enumerate() {
            let mut local = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for cmsg in cmsgs {
                    match cmsg {
                        ControlMessageOwned::Ipv4PacketInfo(info) => local = Some(Local::V4(info)),
                        ControlMessageOwned::Ipv6PacketInfo(info) => local = Some(Local::V6(info)),
                        _ => {}
                    }
                }
            }
            lost_pktinfo |= local.is_none();
            if let Some(r) = self.received.get_mut(slot) {
                *r = Received {
                    len: msg.bytes,
                    truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
                    peer: msg.address,
                    local: local.unwrap_or(Local::unspecified(self.v6)),
                };
                count = slot + 1;
            }
        }
        if lost_pktinfo {
            // The kernel shrinks each header's control length to what it wrote; a datagram
            // without packet information would leave its slot unable to receive any again.
            // Fresh headers restore them (rare: the option is set before the socket is bound).
            self.rx_headers = headers(self.v6);
        }
        Ok(count)
    }

    /// Answers the first `count` received datagrams; returns how many responses are pending.
    fn answer(&mut self, count: usize) -> usize {
        let engine = self.engine.load();
        let listener = engine.listener(self.listen);
        let now = crate::clock::now();
        let mut replies = 0;
        let rx = self.rx.chunks_exact(QUERY_BUFFER);
        let tx = self.tx.chunks_exact_mut(RESPONSE_BUFFER);
        for (slot, ((received, query), out)) in
            self.received.iter().take(count).zip(rx).zip(tx).enumerate()
        {
            let Some(peer) = received.peer else {
                continue;
            };
            let Some(ip) = peer_ip(&peer) else {
                continue;
            };
            if received.truncated {
                self.metrics.count_malformed(METRICS);
                continue;
            }
            let query = query.get(..received.len).unwrap_or_default();
            let gate = limits::admit(
                &self.guards,
                &mut self.metrics,
                METRICS,
                ip,
                query,
                now,
                out,
            );
            match gate {
                Gate::Answer => {}
                Gate::Drop => continue,
                Gate::Reply(len) => {
                    if let Some(p) = self.pending.get_mut(replies) {
                        *p = Pending {
                            slot,
                            len,
                            peer,
                            local: received.local,
                            sent: false,
                        };
                        replies += 1;
                    }
                    continue;
                }
            }
            let client = Client {
                addr: ip,
                transport: Transport::Udp,
            };
            let mut outcome = engine.respond_on(listener, query, &client, now, out);
            if let Some(top) = &mut self.top {
                let blocked = matches!(
                    &outcome,
                    Outcome::Reply(ReplyInfo {
                        source: AnswerSource::Policy { .. } | AnswerSource::Detection,
                        ..
                    })
                );
                top.observe(query, ip, blocked, now.as_millis() / 1000);
            }
            if let Outcome::Recurse(request) = outcome {
                self.metrics
                    .count_query(METRICS, QType::from_code(request.qtype().0));
                let reply = ReplyTo::Udp(UdpReply {
                    socket: self.socket.clone(),
                    peer,
                    local: received.local,
                    guards: self.guards.clone(),
                });
                let job = Job::Resolve {
                    request,
                    reply,
                    received: Instant::now(),
                };
                let refused = match &self.resolver {
                    Some(resolver) => resolver.submit(job).err(),
                    None => Some(Box::new(job)),
                };
                // Queued: the driver answers. Not queued: SERVFAIL "resolver busy" now.
                let Some(job) = refused else { continue };
                self.metrics.count_dropped(METRICS, DropReason::Overload);
                match engine.write_error(job.request(), QueryError::ResolverBusy, out) {
                    Some(info) => outcome = Outcome::Reply(info),
                    None => continue,
                }
                // Counted once above.
                if let Outcome::Reply(info) = &outcome {
                    self.metrics
                        .count_response(METRICS, Rcode::from_code(info.rcode.0));
                    let Some(len) = rate_limit(&self.guards, &mut self.metrics, ip, info, now, out)
                    else {
                        continue;
                    };
                    if let Some(p) = self.pending.get_mut(replies) {
                        *p = Pending {
                            slot,
                            len,
                            peer,
                            local: received.local,
                            sent: false,
                        };
                        replies += 1;
                    }
                }
                continue;
            }
            match outcome {
                Outcome::Reply(info) => {
                    if info.prefetch
                        && let Some(resolver) = &self.resolver
                        && let Some(request) = RecursionRequest::from_query(query, &client)
                    {
                        resolver.prefetch(request);
                    }
                    let qtype = info.qtype.map_or(QType::Other, |t| QType::from_code(t.0));
                    self.metrics.count_query(METRICS, qtype);
                    if let AnswerSource::Error(e) = info.source {
                        let response = out.get(..info.len).unwrap_or_default();
                        crate::access::report(&self.guards.events, e, ip, response);
                    }
                    if matches!(
                        info.source,
                        AnswerSource::Error(QueryError::Malformed(_) | QueryError::BadOptions)
                    ) {
                        self.metrics.count_malformed(METRICS);
                    }
                    if info.truncated {
                        self.metrics.count_truncated(METRICS);
                    }
                    self.metrics
                        .count_response(METRICS, Rcode::from_code(info.rcode.0));
                    let Some(len) =
                        rate_limit(&self.guards, &mut self.metrics, ip, &info, now, out)
                    else {
                        continue;
                    };
                    let guards = &self.guards;
                    limits::record(guards, &mut self.metrics, ip, info.rcode.0, len, now);
                    if let Some(p) = self.pending.get_mut(replies) {
                        *p = Pending {
                            slot,
                            len,
                            peer,
                            local: received.local,
                            sent: false,
                        };
                        replies += 1;
                    }
                }
                Outcome::Drop(QueryError::OutputTooSmall) => {
                    self.metrics.count_dropped(METRICS, DropReason::Overload);
                }
                // An ACL dropped it.
                Outcome::Drop(e @ QueryError::AclDrop(_)) => {
                    self.metrics.count_dropped(METRICS, DropReason::Policy);
                    crate::access::report(&self.guards.events, e, ip, query);
                }
                Outcome::Drop(_) => self.metrics.count_malformed(METRICS),
                // The engine refuses AXFR over UDP and answers IXFR over UDP with the SOA, so
                // this does not happen; a transfer cannot be streamed over UDP anyway.
                Outcome::Transfer(_) => self.metrics.count_dropped(METRICS, DropReason::Policy),
                // Handled above.
                Outcome::Recurse(_) => {}
            }
        }
        replies
    }

    /// Sends the first `replies` pending responses, one `sendmmsg` per source address.
    fn send(&mut self, replies: usize, started: Instant) {
        let fd = self.socket.as_raw_fd();
        let pending = self.pending.get_mut(..replies).unwrap_or_default();
        let mut next = 0;
        while let Some(first) = pending.iter().skip(next).position(|p| !p.sent) {
            next += first;
            let local = pending
                .get(next)
                .map_or(Local::unspecified(self.v6), |p| p.local);
            // The responses of this source, in the order received.
            let mut group = [0usize; BATCH];
            let mut n = 0;
            for (i, p) in pending.iter().enumerate().skip(next) {
                if !p.sent
                    && p.local.same(&local)
                    && let Some(g) = group.get_mut(n)
                {
                    *g = i;
                    n += 1;
                }
            }
            let mut done = 0;
            while done < n {
                let members = group.get(done..n).unwrap_or_default();
                match send_group(fd, &mut self.tx_headers, &self.tx, pending, members, local) {
                    Ok(sent) if sent > 0 => done += sent,
                    Ok(_) | Err(Errno::EAGAIN) => {
                        // The socket buffer is full: drop the rest of this group.
                        let left = n - done;
                        for _ in 0..left {
                            self.metrics.count_dropped(METRICS, DropReason::Overload);
                        }
                        done = n;
                    }
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        // This response cannot be sent (an unreachable or invalid client
                        // address): skip it and send the others.
                        tracing::debug!(error = %e, "UDP send failed");
                        self.metrics.count_dropped(METRICS, DropReason::Overload);
                        done += 1;
                    }
                }
            }
            for &i in group.get(..n).unwrap_or_default() {
                if let Some(p) = pending.get_mut(i) {
                    p.sent = true;
                }
            }
        }
        let latency = started.elapsed();
        for _ in 0..replies {
            self.metrics.observe_latency(METRICS, latency);
        }
    }
}

/// Asks the rate limiter of `guards` about the response `info` written in `out` for a client
/// at `ip`; returns how many bytes of `out` to send (the response, or its slipped form), or
/// `None` to send nothing. A limited response is a security event.
pub(crate) fn rate_limit(
    guards: &Guards,
    metrics: &mut WorkerMetrics,
    ip: IpAddr,
    info: &ReplyInfo,
    now: cache::Time,
    out: &mut [u8],
) -> Option<usize> {
    let Some(rrl) = guards.rrl.as_deref() else {
        return Some(info.len);
    };
    // A client that returned a valid server cookie receives at its address: not a
    // reflection victim (RFC 7873), so it is never limited.
    if info.valid_cookie {
        return Some(info.len);
    }
    let response = out.get_mut(..info.len)?;
    let (kind, key) = class(info, response);
    let decision = rrl.decide(ip, kind, key, now.as_millis());
    if decision != Decision::Send {
        metrics.count_rate_limited(rate_limit_label(decision, rrl.log_only()));
        guards.events.emit_with(Action::RateLimited, || {
            rate_limit_event(decision, rrl.log_only(), ip, response)
        });
    }
    match decision {
        _ if rrl.log_only() => Some(info.len),
        Decision::Send => Some(info.len),
        Decision::Drop => {
            metrics.count_dropped(METRICS, DropReason::RateLimit);
            None
        }
        Decision::Slip => {
            let len = guard::slip(response);
            if len.is_some() && !info.truncated {
                metrics.count_truncated(METRICS);
            }
            len
        }
    }
}

/// The security event for a limited response to `ip`.
fn rate_limit_event(decision: Decision, log_only: bool, ip: IpAddr, response: &[u8]) -> Event {
    let reason = match (decision, log_only) {
        (_, true) => "rrl-log-only",
        (Decision::Slip, false) => "rrl-slip",
        (_, false) => "rrl-drop",
    };
    let event = Event::new(Action::RateLimited, reason).client(ip);
    match guard::question(response) {
        Some((name, qtype, _)) => match NameRef::from_wire(name) {
            Ok(name) => event.question(name, RType(qtype)),
            Err(_) => event,
        },
        None => event,
    }
}

/// The metrics label of a limited response.
fn rate_limit_label(decision: Decision, log_only: bool) -> metrics::RateLimited {
    match (decision, log_only) {
        (_, true) => metrics::RateLimited::LogOnly,
        (Decision::Slip, false) => metrics::RateLimited::Slip,
        (_, false) => metrics::RateLimited::Drop,
    }
}

/// The rate-limiting class of a response and its key within the class: answers by name and
/// type; NXDOMAIN and referrals by zone (NXDOMAIN from the cache, which names no zone, shares
/// one account per client prefix); every other error in one account.
fn class(info: &ReplyInfo, response: &[u8]) -> (Kind, u64) {
    const NXDOMAIN: u16 = 3;
    let zone_key = |zone: engine::ZoneId| u64::try_from(zone).unwrap_or(u64::MAX);
    match info.source {
        AnswerSource::Zone {
            zone,
            kind: AnswerKind::NxDomain,
        } => (Kind::NxDomain, zone_key(zone)),
        AnswerSource::Zone {
            zone,
            kind: AnswerKind::Referral,
        } => (Kind::Referral, zone_key(zone)),
        AnswerSource::Error(_) | AnswerSource::Failure => (Kind::Error, 0),
        _ if info.rcode.0 == NXDOMAIN => (Kind::NxDomain, u64::MAX),
        _ if info.rcode.0 != 0 => (Kind::Error, 0),
        _ => match guard::question(response) {
            Some((name, qtype, _)) => (Kind::Answer, guard::name_key(name, qtype)),
            None => (Kind::Error, 0),
        },
    }
}

/// One `sendmmsg` of the responses `members` (indices into `pending`) from source `local`;
/// returns how many the kernel took.
fn send_group(
    fd: std::os::fd::RawFd,
    headers: &mut MultiHeaders<SockaddrStorage>,
    tx: &[u8],
    pending: &[Pending],
    members: &[usize],
    local: Local,
) -> Result<usize, Errno> {
    let mut slices: [[IoSlice<'_>; 1]; BATCH] = [[IoSlice::new(&[])]; BATCH];
    let mut addrs: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    let mut n = 0;
    for (&i, (slice, addr)) in members.iter().zip(slices.iter_mut().zip(addrs.iter_mut())) {
        let Some(p) = pending.get(i) else { continue };
        let start = p.slot * RESPONSE_BUFFER;
        let Some(bytes) = tx.get(start..start + p.len) else {
            continue;
        };
        *slice = [IoSlice::new(bytes)];
        *addr = Some(p.peer);
        n += 1;
    }
    let slices = slices.get(..n).unwrap_or_default();
    let addrs = addrs.get(..n).unwrap_or_default();
    // The kernel takes the source address (and, for IPv6, the interface) from the packet
    // information; for IPv4 the interface is left to routing.
    let results = match local {
        Local::V4(mut info) => {
            info.ipi_ifindex = 0;
            let cmsg = [ControlMessage::Ipv4PacketInfo(&info)];
            sendmmsg(fd, headers, slices, addrs, cmsg, MsgFlags::empty())?.count()
        }
        Local::V6(info) => {
            let cmsg = [ControlMessage::Ipv6PacketInfo(&info)];
            sendmmsg(fd, headers, slices, addrs, cmsg, MsgFlags::empty())?.count()
        }
    };
    Ok(results)
}

/// Sends one datagram `message` to `peer` from `socket`, with `local` as its source address
/// (the packet-information message of [`send_group`]): how the resolver's drivers answer a UDP
/// client from the address its query came to.
pub(crate) fn send_one(
    socket: &Socket,
    peer: &SockaddrStorage,
    local: Local,
    message: &[u8],
) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    let iov = [IoSlice::new(message)];
    let sent = match local {
        Local::V4(mut info) => {
            info.ipi_ifindex = 0;
            let cmsg = [ControlMessage::Ipv4PacketInfo(&info)];
            nix::sys::socket::sendmsg(fd, &iov, &cmsg, MsgFlags::empty(), Some(peer))
        }
        Local::V6(info) => {
            let cmsg = [ControlMessage::Ipv6PacketInfo(&info)];
            nix::sys::socket::sendmsg(fd, &iov, &cmsg, MsgFlags::empty(), Some(peer))
        }
    };
    sent.map(|_| ()).map_err(io::Error::from)
}

/// System call headers for a batch, each with room for one packet-information message of the
/// socket's family. When sending, the kernel reads the whole control buffer, which therefore
/// holds exactly the one message [`send_group`] writes.
fn headers(v6: bool) -> MultiHeaders<SockaddrStorage> {
    let control = if v6 {
        nix::cmsg_space!(libc::in6_pktinfo)
    } else {
        nix::cmsg_space!(libc::in_pktinfo)
    };
    MultiHeaders::preallocate(BATCH, Some(control))
}

/// The client's IP address.
pub(crate) fn peer_ip(peer: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = peer.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    peer.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}
