//! The resolver's transport: driver tasks that run the recursor, the upstream I/O it asks for,
//! and the way answers get back to clients.
//!
//! # Shape
//!
//! ```text
//!  UDP workers ──┐ try_send                      ┌──► fresh UDP socket per upstream query
//!                ├──► job queue ──► driver task ─┤    (random port from the OS CSPRNG)
//!  TCP conns  ───┘  (one per driver)  (Recursor)  └──► TCP connection (TC retry, TCP transmits)
//! ```
//!
//! The engine answers what it can (zones, the cache) in the UDP worker or TCP task that read
//! the query; a cache miss becomes [`engine::Outcome::Recurse`] and a [`Job`] for a driver. A
//! question always goes to the same driver (a hash of the lowercased name, type, class and CD
//! bit), so identical questions meet in one recursor and share one resolution. The queues are
//! bounded: when a driver's queue is full, the question is answered SERVFAIL with an Extended
//! DNS Error ([`engine::QueryError::ResolverBusy`]) and counted, rather than waiting.
//!
//! Each driver is a task on the multi-thread runtime owning one [`recursor::Recursor`] (seeded
//! from the OS CSPRNG). It submits client questions, starts an I/O task for each upstream
//! query the recursor hands out ([`crate::upstream`]), feeds their datagrams back, fires the
//! recursor's timers, and writes each finished answer with the engine (the one current when the
//! answer is ready) to every client waiting for it:
//!
//! - a UDP client from the worker's socket, with the source address the query came to
//!   ([`UdpReply`]: the same packet-information send as the workers');
//! - a TCP client through a oneshot channel to its connection task, which queues the answer
//!   like any other.
//!
//! A query to a server in the [`Upstreams`] map of encrypted upstreams (a `tls://` forwarder;
//! DoH and DoQ later) goes over that upstream's persistent connection
//! ([`crate::secure_upstream`]) instead, whatever transport the recursor chose, and its answer
//! comes back as a message from the server's address. In strict mode
//! ([`Upstreams::encrypted_only`]) a query to any other server is refused, logged and failed
//! back to the recursor: nothing leaves over plain DNS.
//!
//! A failed resolution (SERVFAIL) is answered from stale data when the cache allows it (RFC
//! 8767). So is a client whose question is still being resolved when its *client response
//! timer* runs out (RFC 8767 section 5, [`DriverSettings::stale_client_timeout`], 1.8 s by
//! default): if the cache holds expired data for it, the client gets that (EDE 3) rather than
//! waiting on dead servers past its own timeout, and the resolution goes on to refresh the
//! cache. Without stale data the client keeps waiting for the resolution. An answer served from a cache entry near its expiry starts a background refresh
//! (`ReplyInfo::prefetch` → [`ResolverHandle::prefetch`] → `Recursor::prefetch`).

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cache::Cache;
use engine::{AnswerSource, RecursionRequest, ReplyInfo};
use events::{Action, Events};
use metrics::{RecursionResult, Registry, ResolverFigures, ResolverSlot, WorkerMetrics};
use nix::sys::socket::SockaddrStorage;
use recursor::infra::SharedInfra;
use recursor::{
    QueryOptions, Question, Recursor, RecursorConfig, RecursorEvent, Resolution, Transmit,
    UpstreamId, UpstreamTransport, Verdict, WaiterId,
};
use socket2::Socket;
use tokio::sync::{mpsc, oneshot};
use wire::{Name, Rcode};

use crate::observe::QueryEdns;
use crate::secure_upstream::{self, SecureUpstreams};
use crate::tcp::MAX_MESSAGE;
use crate::udp::Local;
use crate::upstream::{self, Event, PortSource};
use crate::{SharedEngine, Shutdown};

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

/// Work for a driver.
#[derive(Debug)]
pub enum Job {
    /// A client question the cache could not answer.
    Resolve {
        /// What the response needs from the query.
        request: Box<RecursionRequest>,
        /// Where the response goes.
        reply: ReplyTo,
        /// When the query was received, for the latency metric.
        received: Instant,
    },
    /// Refresh a cached answer in the background (prefetch): no client waits.
    Prefetch {
        /// The question.
        request: Box<RecursionRequest>,
    },
}

impl Job {
    /// The request.
    pub fn request(&self) -> &RecursionRequest {
        match self {
            Job::Resolve { request, .. } | Job::Prefetch { request } => request,
        }
    }
}

/// Where a resolved answer goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// A UDP client: sent from the worker's socket.
    Udp(UdpReply),
    /// A TCP client: the message (without its length prefix) goes to the connection task.
    Tcp(oneshot::Sender<Resolved>),
}

/// A resolved answer for a stream client, with what its connection logs of it.
#[derive(Debug)]
pub struct Resolved {
    /// The response, without its length prefix.
    pub message: Vec<u8>,
    /// What answered it.
    pub source: AnswerSource,
    /// The query's EDNS payload size and DO bit, when it had an OPT record.
    pub edns: Option<(u16, bool)>,
}

/// What is needed to answer a UDP client from the socket its query came to.
pub struct UdpReply {
    pub(crate) socket: Arc<Socket>,
    pub(crate) peer: SockaddrStorage,
    pub(crate) local: Local,
    /// The UDP workers' policies (the rate limiter, asked again once the answer is written).
    pub(crate) guards: Arc<crate::guards::Guards>,
}

impl std::fmt::Debug for UdpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpReply")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl UdpReply {
    /// Sends `message`; errors are the client's problem (unreachable) and only counted.
    pub fn send(&self, message: &[u8]) -> std::io::Result<()> {
        crate::udp::send_one(&self.socket, &self.peer, self.local, message)
    }
}

// ---------------------------------------------------------------------------------------------
// ResolverHandle
// ---------------------------------------------------------------------------------------------

/// How workers and connections hand questions to the drivers; cheap to clone.
#[derive(Debug, Clone)]
pub struct ResolverHandle {
    queues: Arc<[mpsc::Sender<Job>]>,
    /// Counts the client questions refused at a full queue.
    overload: ResolverSlot,
}

impl ResolverHandle {
    /// A handle over the drivers' queues (from `spawn_drivers`).
    pub(crate) fn new(queues: Vec<mpsc::Sender<Job>>, overload: ResolverSlot) -> ResolverHandle {
        ResolverHandle {
            queues: queues.into(),
            overload,
        }
    }

    /// Queues `job` for the driver of its question without waiting; gives it back when that
    /// queue is full or the driver is gone.
    /// A client question given back counts as `overload` in
    /// `portcullis_recursion_results_total`.
    pub fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        let sent = match self.queue_for(job.request()) {
            None => Err(job),
            Some(queue) => queue.try_send(job).map_err(|e| match e {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            }),
        };
        sent.map_err(|job| {
            if let Job::Resolve { .. } = job {
                self.overload.count_result(RecursionResult::Overload);
            }
            Box::new(job)
        })
    }

    /// Queues a background refresh of `request`'s question; dropped when the queue is full.
    pub fn prefetch(&self, request: RecursionRequest) -> bool {
        self.submit(Job::Prefetch {
            request: Box::new(request),
        })
        .is_ok()
    }

    fn queue_for(&self, request: &RecursionRequest) -> Option<&mpsc::Sender<Job>> {
        let n = self.queues.len();
        (n > 0)
            .then(|| driver_index(request, n))
            .and_then(|i| self.queues.get(i))
    }
}

/// The driver for `request`'s question among `drivers`: a hash of the lowercased name, the
/// type, the class and CD (what makes two questions the same resolution).
pub fn driver_index(request: &RecursionRequest, drivers: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in request.qname().as_wire() {
        h.write_u8(b.to_ascii_lowercase());
    }
    request.qtype().0.hash(&mut h);
    request.qclass().0.hash(&mut h);
    request.checking_disabled().hash(&mut h);
    (h.finish() % drivers.max(1) as u64) as usize
}

// ---------------------------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------------------------

/// Messages from upstream exchanges waiting for a driver, at most.
const EVENT_QUEUE: usize = 4096;
/// Jobs taken from the queue in one round before the driver looks at its other inputs.
const JOBS_PER_ROUND: usize = 64;
/// Upstream messages taken in one round (they come before jobs and timers: an answer that
/// waits while the driver takes new work may miss its deadline).
const EVENTS_PER_ROUND: usize = 256;

/// How the drivers run.
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// Driver tasks, each with its own recursor (at least 1).
    pub drivers: usize,
    /// Client questions queued per driver (at least 1).
    pub queue: usize,
    /// RFC 8767 section 5's client response timer: a client still waiting this long after its
    /// question was taken is answered from stale data when the cache holds some. `None`: only
    /// a failed resolution is answered stale.
    pub stale_client_timeout: Option<Duration>,
    /// dnstap, when on: the queries sent upstream and the messages received are tapped when
    /// it asks for resolver messages.
    pub dnstap: Option<events::dnstap::Dnstap>,
}

/// The resolver's encrypted upstreams, shared by every driver.
#[derive(Clone, Debug, Default)]
pub struct Upstreams {
    /// The encrypted upstreams, by the address the recursor sends to.
    pub secure: Arc<SecureUpstreams>,
    /// Strict mode (`resolver.encrypted_only`): a query to a server not in `secure` is never
    /// sent. The configuration check makes sure there is none; this is the last guard.
    pub encrypted_only: bool,
}

/// How a query to one server leaves.
#[derive(Debug)]
pub enum Route {
    /// Over plain DNS (UDP or TCP, as the recursor asked).
    Plain,
    /// Over this encrypted upstream.
    Secure(Arc<dyn secure_upstream::SecureExchange>),
    /// Not at all: strict mode, and the server is not an encrypted upstream.
    Refused,
}

impl Upstreams {
    /// How a query to `server` leaves: over its encrypted upstream when it has one, else over
    /// plain DNS unless strict mode refuses it.
    pub fn route(&self, server: std::net::SocketAddr) -> Route {
        match self.secure.get(&server) {
            Some(upstream) => Route::Secure(upstream.clone()),
            None if self.encrypted_only => Route::Refused,
            None => Route::Plain,
        }
    }
}

/// Starts `settings.drivers` driver tasks on the current tokio runtime, each with its own
/// [`Recursor`] (configured by `config`, sharing `cache`, seeded from the OS CSPRNG) and a
/// queue of `settings.queue` jobs; answers are written with the engine current when they are
/// ready. The recursors' security events (upstream answers rejected as spoofed, limits that
/// ended a question, zones capped by the random-subdomain defence) go to `security`. Queries to
/// the servers in `upstreams` go over their encrypted connections. Returns the handle to submit
/// questions, and the tasks (they end at `shutdown`).
#[allow(clippy::too_many_arguments)]
pub fn spawn_drivers(
    config: &RecursorConfig,
    cache: &Arc<Cache>,
    settings: DriverSettings,
    upstreams: &Upstreams,
    engine: &SharedEngine,
    registry: &Arc<Registry>,
    security: &Events,
    shutdown: &Shutdown,
) -> std::io::Result<(ResolverHandle, Vec<tokio::task::JoinHandle<()>>)> {
    let DriverSettings { drivers, queue, .. } = settings;
    let mut queues = Vec::with_capacity(drivers.max(1));
    let mut tasks = Vec::with_capacity(drivers.max(1));
    // What one driver learns of a server's case echo, every driver knows.
    let shared = SharedInfra::new(config.infra_max_servers);
    for _ in 0..drivers.max(1) {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| std::io::Error::other(e.to_string()))?;
        let (jobs_tx, jobs) = mpsc::channel(queue.max(1));
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let driver = Driver {
            recursor: Recursor::with_shared(config.clone(), cache.clone(), seed, shared.clone()),
            ports: PortSource::from_os()?,
            jobs,
            events,
            events_tx,
            waiting: HashMap::new(),
            stale_timeout: settings.stale_client_timeout,
            stale_timers: VecDeque::new(),
            next_waiter: 0,
            exchanges: HashMap::new(),
            upstreams: upstreams.clone(),
            secure_pending: HashMap::new(),
            secure_queries: [[0; 2]; 3],
            engine: engine.clone(),
            metrics: registry.worker(),
            slot: registry.resolver_slot(),
            figures: ResolverFigures::default(),
            out: vec![0; MAX_MESSAGE],
            security: security.clone(),
            tap: settings
                .dnstap
                .clone()
                .filter(events::dnstap::Dnstap::resolver),
            tapped: HashMap::new(),
            shutdown: shutdown.clone(),
        };
        queues.push(jobs_tx);
        tasks.push(tokio::spawn(driver.run()));
    }
    Ok((ResolverHandle::new(queues, registry.resolver_slot()), tasks))
}

/// A client waiting for a resolution.
struct Waiting {
    request: Box<RecursionRequest>,
    reply: ReplyTo,
    received: Instant,
}

/// One driver: a recursor and everything it waits for.
struct Driver {
    recursor: Recursor,
    /// Source ports for upstream UDP queries.
    ports: PortSource,
    jobs: mpsc::Receiver<Job>,
    events: mpsc::Receiver<Event<UpstreamId>>,
    events_tx: mpsc::Sender<Event<UpstreamId>>,
    waiting: HashMap<WaiterId, Waiting>,
    /// The client response timer (RFC 8767 section 5), when on.
    stale_timeout: Option<Duration>,
    /// When each client's timer runs out, in the order the clients came (the timeout is the
    /// same for all, so this is also the order of the times).
    stale_timers: VecDeque<(Instant, WaiterId)>,
    next_waiter: WaiterId,
    /// The exchange task of each upstream query still open.
    exchanges: HashMap<UpstreamId, tokio::task::AbortHandle>,
    /// The encrypted upstreams and strict mode.
    upstreams: Upstreams,
    /// The encrypted protocol of each query still open to an encrypted upstream, to count its
    /// failure by protocol.
    secure_pending: HashMap<UpstreamId, metrics::UpstreamProtocol>,
    /// Queries sent to encrypted upstreams, by encrypted protocol (tls, https, quic) and by the
    /// transport the recursor chose (UDP, TCP): the recursor counts them as UDP or TCP, the
    /// metrics by the protocol they really went over.
    secure_queries: [[u64; 2]; 3],
    engine: SharedEngine,
    /// Responses sent to UDP clients (TCP connections count their own).
    metrics: WorkerMetrics,
    slot: ResolverSlot,
    /// What the recursor's own statistics do not hold (results, prefetches).
    figures: ResolverFigures,
    out: Vec<u8>,
    /// Where the recursor's security events are reported.
    security: Events,
    /// dnstap, when resolver messages are tapped.
    tap: Option<events::dnstap::Dnstap>,
    /// The protocol of each tapped upstream query still open, for its response.
    tapped: HashMap<UpstreamId, events::dnstap::Protocol>,
    shutdown: Shutdown,
}

impl Driver {
    async fn run(mut self) {
        let shutdown = self.shutdown.clone();
        let stop = shutdown.wait();
        tokio::pin!(stop);
        loop {
            let recursor_timer = self.recursor.next_timeout().map(crate::clock::instant);
            let stale_timer = self.stale_timers.front().map(|(at, _)| *at);
            let timer = match (recursor_timer, stale_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let sleep = async {
                match timer {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = &mut stop => break,
                event = self.events.recv() => {
                    if let Some(event) = event {
                        self.event(event);
                        self.ready_events();
                    }
                }
                job = self.jobs.recv() => match job {
                    Some(job) => {
                        self.job(job);
                        for _ in 1..JOBS_PER_ROUND {
                            match self.jobs.try_recv() {
                                Ok(job) => self.job(job),
                                Err(_) => break,
                            }
                        }
                    }
                    // Every handle is gone: the server is stopping.
                    None => break,
                },
                _ = sleep => {
                    // An answer that arrived before the deadline must not lose to it: let the
                    // exchange tasks that are ready run, and take what they passed on first.
                    tokio::task::yield_now().await;
                    self.ready_events();
                    self.recursor.handle_timeout(crate::clock::now());
                    self.stale_timers_due();
                }
            }
            self.drain();
            self.report();
            self.publish();
        }
        for (_, exchange) in self.exchanges.drain() {
            exchange.abort();
        }
    }

    fn job(&mut self, job: Job) {
        let now = crate::clock::now();
        match job {
            Job::Resolve {
                request,
                reply,
                received,
            } => {
                let waiter = self.next_waiter;
                self.next_waiter = self.next_waiter.wrapping_add(1);
                let (question, options) = question_of(&request);
                if let Some(timeout) = self.stale_timeout {
                    self.stale_timers
                        .push_back((Instant::now() + timeout, waiter));
                }
                self.waiting.insert(
                    waiter,
                    Waiting {
                        request,
                        reply,
                        received,
                    },
                );
                self.recursor.submit(question, options, waiter, now);
            }
            Job::Prefetch { request } => {
                let (question, _) = question_of(&request);
                self.figures.prefetches += 1;
                self.recursor.prefetch(question, now);
            }
        }
    }

    fn event(&mut self, event: Event<UpstreamId>) {
        let now = crate::clock::now();
        match event {
            Event::Message { id, from, message } => {
                if let Some(tap) = &self.tap {
                    let protocol = self.tapped.get(&id).copied();
                    tap.record(events::dnstap::Record {
                        kind: events::dnstap::Kind::ResolverResponse,
                        protocol: protocol.unwrap_or(events::dnstap::Protocol::Udp),
                        query_address: None,
                        response_address: Some(from),
                        query_time: None,
                        response_time: Some(crate::observe::unix_now()),
                        message: message.as_slice().into(),
                    });
                }
                match self.recursor.handle_response(id, from, &message, now) {
                    Verdict::Rejected(_) => {}
                    Verdict::Accepted | Verdict::Closed => self.close(id),
                }
            }
            Event::Failed { id } => {
                if let Some(protocol) = self.secure_pending.get(&id) {
                    let failures = &mut self.figures.protocol_failures;
                    if let Some(n) = failures.get_mut(*protocol as usize) {
                        *n += 1;
                    }
                }
                self.recursor.handle_failure(id, now);
                self.close(id);
            }
        }
    }

    /// Handles the upstream messages already waiting (at most [`EVENTS_PER_ROUND`]), so that a
    /// burst of answers is taken in one round rather than one per round.
    fn ready_events(&mut self) {
        for _ in 0..EVENTS_PER_ROUND {
            match self.events.try_recv() {
                Ok(event) => self.event(event),
                Err(_) => break,
            }
        }
    }

    fn close(&mut self, id: UpstreamId) {
        self.secure_pending.remove(&id);
        self.tapped.remove(&id);
        if let Some(exchange) = self.exchanges.remove(&id) {
            exchange.abort();
        }
    }

    /// Sends what the recursor wants sent, answers what it finished, stops listening for what
    /// it closed.
    fn drain(&mut self) {
        while let Some(transmit) = self.recursor.poll_transmit() {
            let Transmit {
                id,
                server,
                transport,
                message,
                deadline,
            } = transmit;
            let deadline = crate::clock::instant(deadline);
            let events = self.events_tx.clone();
            let upstream = match self.upstreams.route(server) {
                Route::Plain => None,
                Route::Secure(upstream) => Some(upstream),
                Route::Refused => {
                    // The configuration check allows no plain server in strict mode: this is
                    // a bug or a server learned at run time. Never sent; the recursor moves on.
                    tracing::warn!(%server, "a plain DNS query was refused: resolver.encrypted_only is on");
                    self.recursor.handle_failure(id, crate::clock::now());
                    continue;
                }
            };
            if let Some(tap) = &self.tap {
                use events::dnstap::Protocol;
                let protocol = match (upstream.as_ref().map(|u| u.protocol()), transport) {
                    (Some("tls"), _) => Protocol::Dot,
                    (Some("https"), _) => Protocol::Doh,
                    (Some("quic"), _) => Protocol::Doq,
                    (_, UpstreamTransport::Tcp) => Protocol::Tcp,
                    _ => Protocol::Udp,
                };
                self.tapped.insert(id, protocol);
                tap.record(events::dnstap::Record {
                    kind: events::dnstap::Kind::ResolverQuery,
                    protocol,
                    query_address: None,
                    response_address: Some(server),
                    query_time: Some(crate::observe::unix_now()),
                    response_time: None,
                    message: message.as_slice().into(),
                });
            }
            if let Some(upstream) = upstream {
                let protocol = metrics::UpstreamProtocol::from_label(upstream.protocol())
                    .unwrap_or(metrics::UpstreamProtocol::Tls);
                let row = (protocol as usize).saturating_sub(2);
                let column = usize::from(transport == UpstreamTransport::Tcp);
                if let Some(n) = self
                    .secure_queries
                    .get_mut(row)
                    .and_then(|r| r.get_mut(column))
                {
                    *n += 1;
                }
                self.secure_pending.insert(id, protocol);
                let task = tokio::spawn(secure_upstream::secure_exchange(
                    id, server, upstream, message, deadline, events,
                ));
                self.exchanges.insert(id, task.abort_handle());
                continue;
            }
            let task = match transport {
                UpstreamTransport::Udp => tokio::spawn(upstream::udp_exchange(
                    id,
                    server,
                    self.ports.draw(),
                    message,
                    deadline,
                    events,
                )),
                UpstreamTransport::Tcp => tokio::spawn(upstream::tcp_exchange(
                    id, server, message, deadline, events,
                )),
            };
            self.exchanges.insert(id, task.abort_handle());
        }
        while let Some(finished) = self.recursor.poll_answer() {
            for waiter in &finished.waiters {
                if let Some(waiting) = self.waiting.remove(waiter) {
                    self.answer(waiting, &finished.resolution);
                }
            }
        }
        while let Some(id) = self.recursor.poll_closed() {
            self.close(id);
        }
    }

    /// Clients whose response timer ran out while their question is still being resolved:
    /// answered from stale data when the cache holds some (the resolution goes on, and its
    /// answer finds no one waiting); the others keep waiting.
    fn stale_timers_due(&mut self) {
        let now = Instant::now();
        while let Some(&(at, waiter)) = self.stale_timers.front() {
            if at > now {
                break;
            }
            self.stale_timers.pop_front();
            let Some(waiting) = self.waiting.remove(&waiter) else {
                continue;
            };
            let engine = self.engine.load();
            let now = crate::clock::now();
            let stale = engine.respond_stale(&waiting.request, now, &mut self.out);
            match stale {
                Some(info) => {
                    // The response policy (blocklists, RPZ) on the answer; `None`: dropped.
                    if let Some(info) = engine.police(&waiting.request, info, now, &mut self.out) {
                        self.reply(waiting, info);
                    }
                }
                None => {
                    self.waiting.insert(waiter, waiting);
                }
            }
        }
    }

    /// Writes and sends the answer for one client.
    fn answer(&mut self, waiting: Waiting, resolution: &Resolution) {
        let engine = self.engine.load();
        let now = crate::clock::now();
        let out = self.out.as_mut_slice();
        let stale = (resolution.rcode == Rcode::SERVFAIL)
            .then(|| engine.respond_stale(&waiting.request, now, out))
            .flatten();
        let info = match stale {
            Some(info) => info,
            None => engine.write_resolution(&waiting.request, resolution, out),
        };
        // The response policy (blocklists, RPZ) on the answer; `None`: dropped.
        if let Some(info) = engine.police(&waiting.request, info, now, out) {
            self.reply(waiting, info);
        }
    }

    /// Counts and sends the response written in `self.out`.
    fn reply(&mut self, waiting: Waiting, info: ReplyInfo) {
        let result = match (info.source, info.rcode) {
            (AnswerSource::Cache { stale: true }, _) => RecursionResult::Stale,
            (_, Rcode::NOERROR) => RecursionResult::NoError,
            (_, Rcode::NXDOMAIN) => RecursionResult::NxDomain,
            (_, Rcode::REFUSED) => RecursionResult::Refused,
            _ => RecursionResult::ServFail,
        };
        self.figures.results[result as usize] += 1;
        match waiting.reply {
            ReplyTo::Udp(udp) => {
                let t = metrics::Transport::Udp;
                let Some(ip) = crate::udp::peer_ip(&udp.peer) else {
                    return;
                };
                let now = crate::clock::now();
                let limited = crate::udp::rate_limit(
                    &udp.guards,
                    &mut self.metrics,
                    ip,
                    &info,
                    now,
                    &mut self.out,
                );
                let Some(message) = limited.and_then(|len| self.out.get(..len)) else {
                    return;
                };
                if udp.send(message).is_ok() {
                    let (guards, len) = (&udp.guards, message.len());
                    if guards.observing() {
                        let (source, policy) = crate::observe::source(info.source);
                        let answered = crate::observe::Answered {
                            client: ip,
                            port: crate::udp::peer_port(&udp.peer),
                            proto: events::query::Proto::Udp,
                            received: waiting.received,
                            query: QueryEdns::Known(waiting.request.client_edns()),
                            response: message,
                            rcode: Some(info.rcode.0),
                            source,
                            policy: match len == info.len {
                                true => policy,
                                false => Some(("rate_limited", "rrl-slip")),
                            },
                            server: None,
                        };
                        crate::observe::answered(guards, &answered);
                    }
                    let rcode = info.rcode.0;
                    crate::limits::record(guards, &mut self.metrics, ip, rcode, len, now);
                    self.metrics
                        .count_response(t, metrics::Rcode::from_code(info.rcode.0));
                    if info.truncated {
                        self.metrics.count_truncated(t);
                    }
                    let source = crate::answer::source(info.source);
                    self.metrics
                        .observe_latency(t, source, waiting.received.elapsed());
                } else {
                    self.metrics.count_dropped(t, metrics::DropReason::Overload);
                }
            }
            // A connection that has closed no longer listens: nothing to do.
            ReplyTo::Tcp(tx) => {
                if let Some(message) = self.out.get(..info.len) {
                    let _ = tx.send(Resolved {
                        message: message.to_vec(),
                        source: info.source,
                        edns: waiting.request.client_edns(),
                    });
                }
            }
        }
    }

    /// Reports the recursor's security events to the event stream.
    fn report(&mut self) {
        while let Some(event) = self.recursor.poll_event() {
            self.security.emit(security_event(event));
        }
    }

    /// Publishes the figures for the metrics.
    fn publish(&mut self) {
        let s = self.recursor.stats();
        let f = &mut self.figures;
        let [tls, https, quic] = self.secure_queries;
        let secure_udp = tls[0] + https[0] + quic[0];
        let secure_tcp = tls[1] + https[1] + quic[1];
        f.upstream_queries = [
            s.queries_udp.saturating_sub(secure_udp),
            s.queries_tcp.saturating_sub(secure_tcp),
            tls[0] + tls[1],
            https[0] + https[1],
            quic[0] + quic[1],
        ];
        f.upstream_accepted = s.responses_accepted;
        for (to, from) in f
            .upstream_rejected
            .iter_mut()
            .zip(s.rejected_by_reason.iter())
        {
            *to = *from;
        }
        f.upstream_timeouts = s.timeouts;
        f.upstream_failures = s.send_failures;
        f.tcp_fallbacks = s.tcp_fallbacks;
        f.edns_fallbacks = s.edns_fallbacks;
        f.case_fallbacks = s.case_fallbacks;
        for (to, from) in f.limits.iter_mut().zip(s.limits_hit.iter()) {
            *to = *from;
        }
        f.resolutions_started = s.resolutions_started;
        f.resolutions_joined = s.resolutions_joined;
        f.in_flight = self.recursor.in_flight() as u64;
        f.validation = [
            s.validation_secure,
            s.validation_insecure,
            s.validation_bogus,
            s.validation_indeterminate,
        ];
        f.primed = s.primings_succeeded;
        f.signature_checks = s.signature_checks;
        f.validation_nanos = s.validation_nanos;
        self.slot.publish(f);
        let recursor = &mut self.recursor;
        let mut samples = std::iter::from_fn(|| recursor.poll_server_sample()).peekable();
        if samples.peek().is_some() {
            self.slot.record_servers(samples.map(|(server, sample)| {
                let sample = match sample {
                    recursor::ServerSample::Sent => metrics::ServerSample::Sent,
                    recursor::ServerSample::Answered { rtt_ms } => {
                        metrics::ServerSample::Answered { rtt_ms }
                    }
                    recursor::ServerSample::Failed => metrics::ServerSample::TimedOut,
                };
                (server, sample)
            }));
        }
    }
}

/// A recursor's event as a security event: a rejected upstream answer is `spoof_rejected` (the
/// reason says why, the detail names the server the query went to); a limit that ended a
/// question, or a zone capped by the random-subdomain defence, is `resolver_limit`.
fn security_event(event: RecursorEvent) -> events::Event {
    match event {
        RecursorEvent::Rejected { server, reason } => {
            events::Event::new(Action::SpoofRejected, reason.as_str()).detail(server.to_string())
        }
        RecursorEvent::Limit {
            kind,
            question,
            client,
        } => {
            let event = events::Event::new(Action::ResolverLimit, kind.name())
                .question(question.qname.as_ref(), question.qtype);
            match client {
                Some(ip) => event.client(ip),
                None => event,
            }
        }
        RecursorEvent::ZoneCapped { zone } => {
            events::Event::new(Action::ResolverLimit, "zone-capped").detail(zone.to_string())
        }
    }
}

/// The recursor's form of a request's question.
fn question_of(request: &RecursionRequest) -> (Question, QueryOptions) {
    (
        Question {
            qname: Name::from(request.qname()),
            qtype: request.qtype(),
            qclass: request.qclass(),
        },
        QueryOptions {
            client: request.client().addr,
            checking_disabled: request.checking_disabled(),
            dnssec_ok: request.dnssec_ok(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{Client, Transport};

    fn request(name: &str) -> RecursionRequest {
        let mut q = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let qname: Name = name.parse().unwrap();
        q.extend_from_slice(qname.as_ref().as_wire());
        q.extend_from_slice(&[0, 1, 0, 1]);
        let client = Client {
            addr: "127.0.0.1".parse().unwrap(),
            transport: Transport::Udp,
        };
        RecursionRequest::from_query(&q, &client).unwrap()
    }

    #[test]
    fn identical_questions_meet_in_one_driver() {
        let a = driver_index(&request("www.example.com."), 7);
        assert_eq!(a, driver_index(&request("WWW.Example.COM."), 7));
        let spread: std::collections::HashSet<usize> = (0..64)
            .map(|i| driver_index(&request(&format!("n{i}.example.")), 4))
            .collect();
        assert_eq!(spread.len(), 4, "questions spread over the drivers");
    }

    #[test]
    fn strict_mode_refuses_plain_servers() {
        let spec = secure_upstream::SecureSpec {
            scheme: secure_upstream::Scheme::Tls,
            addr: "127.0.0.1:853".parse().unwrap(),
            name: "dns.test".into(),
            path: String::new(),
            trust: crate::client_tls::Trust::Insecure,
        };
        let mut secure = SecureUpstreams::new();
        secure.insert(spec.addr, secure_upstream::build(&spec).unwrap());
        let mut upstreams = Upstreams {
            secure: Arc::new(secure),
            encrypted_only: false,
        };
        let plain = "127.0.0.1:53".parse().unwrap();
        assert!(matches!(upstreams.route(spec.addr), Route::Secure(_)));
        assert!(matches!(upstreams.route(plain), Route::Plain));
        upstreams.encrypted_only = true;
        assert!(matches!(upstreams.route(spec.addr), Route::Secure(_)));
        assert!(matches!(upstreams.route(plain), Route::Refused));
    }

    #[test]
    fn a_full_queue_gives_the_job_back() {
        let (tx, _rx) = mpsc::channel(1);
        let registry = Registry::new(std::time::SystemTime::now());
        let handle = ResolverHandle::new(vec![tx], registry.resolver_slot());
        assert!(handle.prefetch(request("a.example.")));
        let job = Job::Prefetch {
            request: Box::new(request("b.example.")),
        };
        let back = handle.submit(job).unwrap_err();
        assert_eq!(back.request().qname().to_string(), "b.example.");
        let overload = |r: &Registry| r.resolver().results[RecursionResult::Overload as usize];
        assert_eq!(overload(&registry), 0, "a prefetch is no client question");
        let (reply, _) = oneshot::channel();
        let job = Job::Resolve {
            request: Box::new(request("c.example.")),
            reply: ReplyTo::Tcp(reply),
            received: Instant::now(),
        };
        assert!(handle.submit(job).is_err());
        assert_eq!(overload(&registry), 1);
        // No driver at all: given back too.
        let none = ResolverHandle::new(Vec::new(), ResolverSlot::default());
        assert!(!none.prefetch(request("c.example.")));
    }
}
