//! The [`Recursor`]: a mesh of resolutions, the upstream queries they have out, and timers.
//!
//! A *resolution* answers one question (name lowercased, type, class, CD). Client questions,
//! prefetches, name-server address lookups (sub-resolutions) and root priming are all
//! resolutions, kept in one map keyed by question, so that identical questions in flight share
//! one resolution and its upstream queries (in-flight de-duplication, like Unbound's mesh and
//! BIND's `clients-per-query`). A resolution has *waiters*: clients, and other resolutions that
//! need its answer (a delegation whose name server has no glue waits for that name's address).
//! The waiting relation is also the *dependency chain* along which delegation cycles (TsuNAME)
//! are found.
//!
//! Work happens in small steps: an entry point (`submit`, `handle_response`, `handle_timeout`,
//! …) changes one resolution, and whatever that wakes (a parent whose sub-resolution finished, a
//! new sub-resolution to start) is queued and run before the entry point returns. The steps of
//! one resolution live in `iterate.rs` and `reply.rs`.
//!
//! A resolution whose every candidate server is at its outstanding-query limit is *parked*: it
//! waits in a per-server queue and is woken, first come first served, when a query to one of
//! those servers ends (a woken resolution that does not take the slot passes it on); if the
//! cache learned a deeper delegation for its name meanwhile, it starts from there. Only when
//! its total time runs out while parked does it fail, for the busy server.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cache::{Cache, RrSet, Time};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use wire::edns::ede as Ede;
use wire::{Class, Name, RType, Rcode};

use crate::config::{LimitKind, RecursorConfig};
use crate::infra::{Infra, SharedInfra};
use crate::iterate::ZoneState;
use crate::stats::{RecursorStats, ServerSample};
use crate::upstream::{self, Sent};
use crate::{
    ExtendedError, Finished, QueryOptions, Question, RecursorEvent, Resolution, Security, Transmit,
    UpstreamId, Verdict, WaiterId,
};

/// Identifies a resolution in the mesh.
pub(crate) type TaskId = u64;

/// The mesh key: the question with the name lowercased, and CD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub qname: Name,
    pub qtype: RType,
    pub qclass: Class,
    pub cd: bool,
}

impl Key {
    pub(crate) fn new(qname: &Name, qtype: RType, qclass: Class, cd: bool) -> Key {
        let mut qname = qname.clone();
        qname.make_lowercase();
        Key {
            qname,
            qtype,
            qclass,
            cd,
        }
    }
}

/// Who waits for a resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// A client, to be answered through `poll_answer`.
    Client { id: WaiterId, client: IpAddr },
    /// Another resolution that needs this one's answer.
    Task(TaskId),
}

/// Work charged to a client question (and the sub-resolutions it started).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    pub queries: u32,
    pub glueless: u32,
}

/// One resolution in the mesh.
#[derive(Debug)]
pub(crate) struct Task {
    pub id: TaskId,
    pub key: Key,
    /// The question as first asked (case kept).
    pub question: Question,
    pub waiters: Vec<Waiter>,
    /// The resolution whose budget this one spends (itself for client questions).
    pub root: TaskId,
    /// Nesting of sub-resolutions: 0 for client questions.
    pub depth: u32,
    pub deadline: Time,
    /// A prefetch: do not answer the first step from the cache.
    pub refresh: bool,
    /// The root-priming resolution (RFC 8109): asks the hints.
    pub priming: bool,
    pub budget: Budget,
    /// Upstream queries this resolution sent itself.
    pub sent: u32,
    /// The name being resolved now (after CNAME/DNAME steps).
    pub qname: Name,
    /// CNAMEs and DNAMEs followed so far, in order.
    pub chain: Vec<RrSet>,
    /// Alias steps taken.
    pub steps: u32,
    /// Referrals followed.
    pub referrals: u32,
    /// Minimised queries sent (RFC 9156 section 2.3 counts them per resolution).
    pub minimised: u32,
    /// QNAME minimisation given up for this resolution (relaxed fallback).
    pub minimise_off: bool,
    /// The zone being asked, once chosen.
    pub zone: Option<ZoneState>,
    /// Sub-resolutions this one waits for.
    pub pending_subs: u32,
    /// The sub-resolutions it started or joined (abandoned with it when no one else waits).
    pub children: Vec<TaskId>,
    /// The upstream query out, if any.
    pub query: Option<UpstreamId>,
    /// The error of the last sub-resolution that failed, reported if this one fails for it.
    pub sub_error: Option<ExtendedError>,
    /// The parent-side retry (asking a cached delegation's parent again) was used.
    pub parent_retried: bool,
    /// A name server's address lookup: not validated unless a client joins it.
    pub internal: bool,
    /// The result waits for keys to be validated (DNSSEC).
    pub validation: Option<Box<crate::validate::Pending>>,
    /// The zone whose server gave the answer being finished (iteration, for validation).
    pub answered_by: Option<Name>,
}

/// An upstream query in flight.
#[derive(Debug)]
pub(crate) struct Query {
    pub task: TaskId,
    pub sent: Sent,
    pub sent_at: Time,
    pub deadline: Time,
    pub tcp: bool,
    /// Whether the question went out in random case (0x20). Over UDP the answer must echo it;
    /// over TCP (off-path forgery is impractical) an answer in another case is taken, and the
    /// server remembered as not echoing case.
    pub check_case: bool,
    /// A UDP answer came back in the wrong case: the query now waits only
    /// [`CASE_GRACE_MS`] more for one in the right case, then asks over TCP.
    pub case_mismatch: bool,
    /// A TCP query sent because a UDP answer came back in the wrong case: if it fails, the
    /// question is asked over UDP without 0x20.
    pub case_probe: bool,
    /// The cookie retry (BADCOOKIE) was used.
    pub cookie_retry: bool,
}

impl Query {
    /// How long the query was given before it timed out.
    pub(crate) fn timeout_ms(&self) -> u64 {
        self.deadline.millis_since(self.sent_at)
    }
}

/// Timers, ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// An upstream query's deadline.
    Query(UpstreamId),
    /// A resolution's total-time limit.
    Task(TaskId),
}

/// Something to do to a resolution once the current step is over.
#[derive(Debug)]
pub(crate) enum Wake {
    /// Run it (newly created).
    Start,
    /// A query to this server ended while the resolution waited for a slot (it was parked).
    Slot(SocketAddr),
    /// A sub-resolution it waited for finished.
    SubDone {
        key: Box<Key>,
        resolution: Arc<Resolution>,
    },
}

/// The recursive resolver's state machine; see the crate docs.
pub struct Recursor {
    pub(crate) config: RecursorConfig,
    pub(crate) cache: Arc<Cache>,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) infra: Infra,
    pub(crate) cookie_secret: [u8; 16],
    /// Signatures already verified (DNSSEC).
    pub(crate) sig_memo: crate::validate::SigMemo,
    pub(crate) stats: RecursorStats,
    pub(crate) tasks: HashMap<TaskId, Task>,
    pub(crate) mesh: HashMap<Key, TaskId>,
    pub(crate) queries: HashMap<UpstreamId, Query>,
    pub(crate) timers: BTreeSet<(Time, Timer)>,
    pub(crate) wakes: VecDeque<(TaskId, Wake)>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) answers: VecDeque<Finished>,
    pub(crate) closed: VecDeque<UpstreamId>,
    /// Security events for [`Recursor::poll_event`], at most [`MAX_EVENTS`].
    pub(crate) events: VecDeque<RecursorEvent>,
    /// Per-server samples for [`Recursor::poll_server_sample`], at most
    /// [`MAX_SERVER_SAMPLES`].
    pub(crate) server_samples: VecDeque<(SocketAddr, ServerSample)>,
    /// Resolutions waiting for a slot: every server they could ask was at its outstanding
    /// limit. Each waits until a query to one of those servers ends, or its time runs out.
    pub(crate) parked: HashSet<TaskId>,
    /// Per busy server, the parked resolutions in the order they came (entries of resolutions
    /// no longer parked are skipped and cleared as they are met).
    pub(crate) busy: HashMap<SocketAddr, VecDeque<TaskId>>,
    pub(crate) next_task: TaskId,
    pub(crate) next_query: u64,
    /// Priming failed: use the hints as they are until then.
    pub(crate) prime_failed_until: Time,
}

impl std::fmt::Debug for Recursor {
    /// Counts only: the CSPRNG, the cookie secret and the IDs of queries in flight are what a
    /// spoofer would like to read in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recursor")
            .field("resolutions", &self.tasks.len())
            .field("upstream_queries", &self.queries.len())
            .field("timers", &self.timers.len())
            .field("parked", &self.parked.len())
            .field("servers_known", &self.infra.len())
            .finish_non_exhaustive()
    }
}

/// How long a UDP query that received an answer in the wrong case (0x20) still waits for one in
/// the right case before the question is asked over TCP, in ms.
pub(crate) const CASE_GRACE_MS: u64 = 20;

/// How long to use the bare hints after priming failed before priming again.
const PRIME_RETRY_SECS: u32 = 60;

/// Security events kept for [`Recursor::poll_event`]; more are dropped and counted.
pub const MAX_EVENTS: usize = 1024;

/// Most per-server samples kept between two calls of [`Recursor::poll_server_sample`]; the
/// I/O layer polls after every round of work, so this is only reached by a stalled poller.
pub const MAX_SERVER_SAMPLES: usize = 4096;

/// Most resolutions woken in one entry point (a safety bound; each wake is one step).
const MAX_WAKES_PER_CALL: usize = 100_000;

impl Recursor {
    /// A recursor with an empty mesh over `cache`; `seed` seeds the CSPRNG (from the operating
    /// system in production, fixed in tests).
    pub fn new(config: RecursorConfig, cache: Arc<Cache>, seed: [u8; 32]) -> Recursor {
        let shared = SharedInfra::new(config.infra_max_servers);
        Recursor::with_shared(config, cache, seed, shared)
    }

    /// [`Recursor::new`], sharing `shared` (what is learned about servers' case echo) with the
    /// other recursors given the same one: the drivers of one process.
    pub fn with_shared(
        config: RecursorConfig,
        cache: Arc<Cache>,
        seed: [u8; 32],
        shared: SharedInfra,
    ) -> Recursor {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut cookie_secret = [0u8; 16];
        rand::Rng::fill_bytes(&mut rng, &mut cookie_secret);
        let mut memo_key = [0u8; 16];
        rand::Rng::fill_bytes(&mut rng, &mut memo_key);
        let infra = Infra::with_shared(
            config.infra_max_servers,
            config.limits.max_outstanding_per_server,
            shared,
        );
        Recursor {
            config,
            cache,
            rng,
            infra,
            cookie_secret,
            sig_memo: crate::validate::SigMemo::new(memo_key),
            stats: RecursorStats::default(),
            tasks: HashMap::new(),
            mesh: HashMap::new(),
            queries: HashMap::new(),
            timers: BTreeSet::new(),
            wakes: VecDeque::new(),
            transmits: VecDeque::new(),
            answers: VecDeque::new(),
            closed: VecDeque::new(),
            events: VecDeque::new(),
            server_samples: VecDeque::new(),
            parked: HashSet::new(),
            busy: HashMap::new(),
            next_task: 1,
            next_query: 1,
            prime_failed_until: Time::ZERO,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RecursorConfig {
        &self.config
    }

    /// A client question. The answer comes out of [`Recursor::poll_answer`] with `waiter` in
    /// it; identical questions in flight share one resolution.
    pub fn submit(
        &mut self,
        question: Question,
        options: QueryOptions,
        waiter: WaiterId,
        now: Time,
    ) {
        let key = Key::new(
            &question.qname,
            question.qtype,
            question.qclass,
            options.checking_disabled,
        );
        let client = Waiter::Client {
            id: waiter,
            client: options.client,
        };
        let limits = self.config.limits;
        if let Some(&id) = self.mesh.get(&key) {
            let clients = self.tasks.get(&id).map_or(0, |task| {
                task.waiters
                    .iter()
                    .filter(|w| matches!(w, Waiter::Client { .. }))
                    .count()
            });
            if clients >= limits.max_waiters as usize {
                self.refuse(question, waiter, options.client, LimitKind::Waiters);
                return;
            }
            if !self.admit_client(options.client) {
                self.refuse(
                    question,
                    waiter,
                    options.client,
                    LimitKind::ResolutionsPerClient,
                );
                return;
            }
            if let Some(task) = self.tasks.get_mut(&id) {
                task.waiters.push(client);
            }
            self.stats.resolutions_joined += 1;
            return;
        }
        if self.tasks.len() >= limits.max_mesh as usize {
            self.refuse(question, waiter, options.client, LimitKind::Mesh);
            return;
        }
        if !self.admit_client(options.client) {
            self.refuse(
                question,
                waiter,
                options.client,
                LimitKind::ResolutionsPerClient,
            );
            return;
        }
        let id = self.create_task(key, question, vec![client], None, now);
        if let Some(task) = self.tasks.get_mut(&id) {
            task.root = id;
        }
        self.drain(now);
    }

    /// Refreshes a cached entry in the background (prefetch): resolves even if cached, no
    /// waiter. Does nothing when the question is already being resolved or the mesh is full.
    pub fn prefetch(&mut self, question: Question, now: Time) {
        let key = Key::new(&question.qname, question.qtype, question.qclass, false);
        if self.mesh.contains_key(&key) || self.tasks.len() >= self.config.limits.max_mesh as usize
        {
            return;
        }
        let id = self.create_task(key, question, Vec::new(), None, now);
        if let Some(task) = self.tasks.get_mut(&id) {
            task.refresh = true;
        }
        self.drain(now);
    }

    /// A datagram (or TCP message) that arrived for upstream query `id`; see
    /// [`upstream::accept`] for the checks. Rejected ones are counted and otherwise ignored.
    pub fn handle_response(
        &mut self,
        id: UpstreamId,
        from: SocketAddr,
        message: &[u8],
        now: Time,
    ) -> Verdict {
        let Some(query) = self.queries.get_mut(&id) else {
            self.stats.late_responses += 1;
            return Verdict::Closed;
        };
        let check_case = query.check_case && !query.tcp;
        let accepted = match upstream::accept(&query.sent, from, message, check_case) {
            Ok(accepted) => accepted,
            Err(reason) => {
                self.stats.rejected_by_reason[reason.index()] += 1;
                let server = query.sent.server;
                self.event(RecursorEvent::Rejected { server, reason });
                if reason == upstream::Rejection::WrongCase {
                    self.case_mismatch(id, now);
                }
                return Verdict::Rejected(reason);
            }
        };
        let Some(query) = self.close_query(id) else {
            return Verdict::Closed;
        };
        self.stats.responses_accepted += 1;
        let server = query.sent.server;
        if query.check_case && !accepted.case_echoed {
            // Over TCP, from the server itself: it does not echo case.
            self.infra.set_no_case_echo(server, now);
            self.stats.case_fallbacks += 1;
        }
        let rtt_ms = now.millis_since(query.sent_at);
        self.infra.on_response(server, rtt_ms, now);
        self.server_sample(server, ServerSample::Answered { rtt_ms });
        if let Some(cookie) = accepted.server_cookie.clone() {
            self.infra.set_server_cookie(server, cookie, now);
        }
        if let Some(mut task) = self.tasks.remove(&query.task) {
            task.query = None;
            self.on_reply(&mut task, &query, &accepted, now);
            self.put_back(task);
        }
        self.drain(now);
        Verdict::Accepted
    }

    /// A UDP answer to `id` came from the right address and port with the right ID and
    /// question, in the wrong case: a server that does not echo case, or a forger who guessed
    /// port and ID. Waiting for the deadline would cost every question to such a server a full
    /// timeout; instead the query waits [`CASE_GRACE_MS`] more for the genuine answer in the
    /// right case (a forger's datagram comes first, the server's soon after), then the
    /// question goes to the same server over TCP (`case_probe`), as Unbound does.
    fn case_mismatch(&mut self, id: UpstreamId, now: Time) {
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        if query.case_mismatch || query.tcp {
            return;
        }
        query.case_mismatch = true;
        let soon = now.plus_millis(CASE_GRACE_MS);
        if soon < query.deadline {
            self.timers.remove(&(query.deadline, Timer::Query(id)));
            query.deadline = soon;
            self.timers.insert((soon, Timer::Query(id)));
        }
    }

    /// The grace after a wrong-case answer is over: the question goes to the same server over
    /// TCP, in random case again. Off path, TCP cannot be forged, so its answer is taken
    /// whatever its case, and one in another case marks the server as not echoing case.
    fn case_probe(&mut self, task: &mut Task, query: &Query, now: Time) {
        self.resend(task, query, true, query.sent.edns, now);
        if let Some(probe) = task.query.and_then(|id| self.queries.get_mut(&id)) {
            probe.case_probe = true;
        }
    }

    /// A TCP query sent after a case mismatch failed (no TCP at that server): the question is
    /// asked over UDP without 0x20, for this query only (a forger must not be able to turn
    /// 0x20 off for a server by forging wrong-case answers).
    fn case_probe_failed(&mut self, task: &mut Task, query: &Query, now: Time) {
        self.stats.case_fallbacks += 1;
        if let Some(zone) = task.zone.as_mut() {
            zone.sends += 1;
        }
        self.send(task, query.sent.server, false, query.sent.edns, false, now);
    }

    /// The I/O layer could not send upstream query `id`, or its connection failed.
    pub fn handle_failure(&mut self, id: UpstreamId, now: Time) {
        let Some(query) = self.close_query(id) else {
            return;
        };
        if query.case_probe {
            if let Some(mut task) = self.tasks.remove(&query.task) {
                task.query = None;
                self.case_probe_failed(&mut task, &query, now);
                self.put_back(task);
            }
            self.drain(now);
            return;
        }
        self.stats.send_failures += 1;
        self.server_sample(query.sent.server, ServerSample::Failed);
        self.infra
            .on_timeout_after(query.sent.server, query.timeout_ms(), now);
        if let Some(mut task) = self.tasks.remove(&query.task) {
            task.query = None;
            self.on_silence(&mut task, &query, now);
            self.put_back(task);
        }
        self.drain(now);
    }

    /// Time passes: deadlines at or before `now` fire.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, timer));
            match timer {
                Timer::Query(id) => self.query_timed_out(id, now),
                Timer::Task(id) => {
                    // A resolution still waiting for a busy server when its time runs out
                    // failed for the outstanding limit.
                    let kind = if self.parked.remove(&id) {
                        LimitKind::OutstandingPerServer
                    } else {
                        LimitKind::QuestionTime
                    };
                    if let Some(mut task) = self.tasks.remove(&id) {
                        self.fail_limit(&mut task, kind, now);
                        self.put_back(task);
                    }
                }
            }
            self.drain(now);
        }
    }

    /// When [`Recursor::handle_timeout`] should next be called.
    pub fn next_timeout(&self) -> Option<Time> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next upstream query to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next finished client question.
    pub fn poll_answer(&mut self) -> Option<Finished> {
        self.answers.pop_front()
    }

    /// The next upstream query that is over (answered, timed out, or abandoned): stop
    /// listening for it.
    pub fn poll_closed(&mut self) -> Option<UpstreamId> {
        self.closed.pop_front()
    }

    /// Counters.
    pub fn stats(&self) -> &RecursorStats {
        &self.stats
    }

    /// The next security event (a rejected upstream answer, a limit that ended a question, a
    /// zone capped); see [`RecursorEvent`].
    pub fn poll_event(&mut self) -> Option<RecursorEvent> {
        self.events.pop_front()
    }

    /// The next per-server sample (a query sent, an answer and its round-trip time, a
    /// failure), for per-server metrics.
    pub fn poll_server_sample(&mut self) -> Option<(SocketAddr, ServerSample)> {
        self.server_samples.pop_front()
    }

    /// Resolutions in flight (client questions, prefetches, sub-resolutions).
    pub fn in_flight(&self) -> usize {
        self.tasks.len()
    }

    /// Upstream queries in flight.
    pub fn upstream_in_flight(&self) -> usize {
        self.queries.len()
    }

    // -----------------------------------------------------------------------------------------
    // Mesh internals
    // -----------------------------------------------------------------------------------------

    /// Counts a resolution in flight for `client` in every recursor of the process (they
    /// share the count through [`SharedInfra`]), unless it is at its limit.
    fn admit_client(&mut self, client: IpAddr) -> bool {
        let max = self.config.limits.max_resolutions_per_client;
        self.infra.shared.admit_client(client, max)
    }

    fn release_client(&mut self, client: IpAddr) {
        self.infra.shared.release_client(client);
    }

    /// Queues a security event, or counts it dropped when the queue is full.
    /// Queues a per-server sample; counts it dropped when the queue is full.
    pub(crate) fn server_sample(&mut self, server: SocketAddr, sample: ServerSample) {
        if self.server_samples.len() < MAX_SERVER_SAMPLES {
            self.server_samples.push_back((server, sample));
        } else {
            self.stats.server_samples_dropped += 1;
        }
    }

    pub(crate) fn event(&mut self, event: RecursorEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push_back(event);
        } else {
            self.stats.events_dropped += 1;
        }
    }

    /// Answers one client at once with SERVFAIL for `kind`, without touching the mesh.
    fn refuse(&mut self, question: Question, waiter: WaiterId, client: IpAddr, kind: LimitKind) {
        self.stats.limits_hit[kind.index()] += 1;
        self.event(RecursorEvent::Limit {
            kind,
            question: question.clone(),
            client: Some(client),
        });
        self.stats.servfails += 1;
        self.answers.push_back(Finished {
            waiters: vec![waiter],
            question,
            resolution: Arc::new(limit_resolution(kind)),
        });
    }

    /// Creates a resolution, registers it and queues its first step. `parent` is the
    /// resolution that needs it (for sub-resolutions).
    pub(crate) fn create_task(
        &mut self,
        key: Key,
        question: Question,
        waiters: Vec<Waiter>,
        parent: Option<&Task>,
        now: Time,
    ) -> TaskId {
        let id = self.next_task;
        self.next_task += 1;
        let deadline = now.plus_millis(self.config.limits.max_question_millis);
        let task = Task {
            id,
            key: key.clone(),
            qname: question.qname.clone(),
            question,
            waiters,
            root: parent.map_or(id, |p| p.root),
            depth: parent.map_or(0, |p| p.depth + 1),
            deadline,
            refresh: false,
            priming: false,
            budget: Budget::default(),
            sent: 0,
            chain: Vec::new(),
            steps: 0,
            referrals: 0,
            minimised: 0,
            minimise_off: false,
            zone: None,
            pending_subs: 0,
            children: Vec::new(),
            query: None,
            sub_error: None,
            parent_retried: false,
            internal: false,
            validation: None,
            answered_by: None,
        };
        self.tasks.insert(id, task);
        self.mesh.insert(key, id);
        self.timers.insert((deadline, Timer::Task(id)));
        self.wakes.push_back((id, Wake::Start));
        self.stats.resolutions_started += 1;
        id
    }

    /// Puts a resolution taken out of the map back, unless it finished.
    pub(crate) fn put_back(&mut self, task: Task) {
        if self.mesh.get(&task.key) == Some(&task.id) {
            self.tasks.insert(task.id, task);
        }
    }

    /// Runs the queued steps.
    fn drain(&mut self, now: Time) {
        for _ in 0..MAX_WAKES_PER_CALL {
            let Some((id, wake)) = self.wakes.pop_front() else {
                return;
            };
            let Some(mut task) = self.tasks.remove(&id) else {
                continue;
            };
            let mut slot = None;
            match wake {
                Wake::Start => {}
                Wake::Slot(server) => {
                    if task.deadline <= now {
                        // Its time is up: the timer due now ends it for the busy server, and
                        // the slot goes to the next waiter.
                        self.parked.insert(task.id);
                        self.put_back(task);
                        self.unpark(server);
                        continue;
                    }
                    self.skip_to_cached_delegation(&mut task, now);
                    slot = Some(server);
                }
                Wake::SubDone { key, resolution } => {
                    task.pending_subs = task.pending_subs.saturating_sub(1);
                    if task.validation.is_some() {
                        self.validation_sub_done(&mut task, &key, &resolution, now);
                        self.put_back(task);
                        continue;
                    }
                    self.sub_done(&mut task, &key, &resolution, now);
                }
            }
            if task.query.is_none() && task.validation.is_none() {
                self.advance(&mut task, now);
            }
            self.put_back(task);
            if let Some(server) = slot {
                // Woken for a slot it did not take (it asked elsewhere or finished): the
                // next waiter gets it.
                self.unpark(server);
            }
        }
    }

    /// Removes an upstream query: its timer, its count in the infrastructure cache; announces
    /// it through `poll_closed`.
    pub(crate) fn close_query(&mut self, id: UpstreamId) -> Option<Query> {
        let query = self.queries.remove(&id)?;
        self.timers.remove(&(query.deadline, Timer::Query(id)));
        self.infra.end(query.sent.server);
        self.closed.push_back(id);
        self.unpark(query.sent.server);
        Some(query)
    }

    /// `id` waits for a slot at any of `servers` (all at their outstanding limit).
    pub(crate) fn park(&mut self, id: TaskId, servers: &[SocketAddr]) {
        self.parked.insert(id);
        self.stats.busy_waits += 1;
        for server in servers {
            let queue = self.busy.entry(*server).or_default();
            if queue.len() > 2 * self.parked.len() + 16 {
                // Mostly entries of resolutions that went on or ended: drop those.
                queue.retain(|t| self.parked.contains(t));
            }
            queue.push_back(id);
        }
    }

    /// When `server` has a free slot, wakes the first resolution parked on it.
    fn unpark(&mut self, server: SocketAddr) {
        if self.infra.outstanding(server) >= self.config.limits.max_outstanding_per_server {
            return;
        }
        let Some(queue) = self.busy.get_mut(&server) else {
            return;
        };
        while let Some(id) = queue.pop_front() {
            if self.parked.remove(&id) {
                self.wakes.push_back((id, Wake::Slot(server)));
                break;
            }
        }
        if queue.is_empty() {
            self.busy.remove(&server);
        }
    }

    fn query_timed_out(&mut self, id: UpstreamId, now: Time) {
        let Some(query) = self.close_query(id) else {
            return;
        };
        let Some(mut task) = self.tasks.remove(&query.task) else {
            return;
        };
        task.query = None;
        if query.case_mismatch {
            self.case_probe(&mut task, &query, now);
        } else if query.case_probe {
            self.case_probe_failed(&mut task, &query, now);
        } else {
            self.stats.timeouts += 1;
            self.server_sample(query.sent.server, ServerSample::Failed);
            self.infra
                .on_timeout_after(query.sent.server, query.timeout_ms(), now);
            self.on_silence(&mut task, &query, now);
        }
        self.put_back(task);
    }

    /// Ends a resolution with `resolution`: validates it first when it must be (which may
    /// wait for key resolutions), then answers its clients, wakes the resolutions that waited
    /// for it, releases its query and timer.
    pub(crate) fn finish(&mut self, task: &mut Task, mut resolution: Resolution, now: Time) {
        if self.mesh.get(&task.key) != Some(&task.id) {
            return;
        }
        if let Some(id) = task.query.take() {
            self.close_query(id);
        }
        self.clamp_ttls(&mut resolution);
        if task.validation.is_none()
            && task.internal
            && task
                .waiters
                .iter()
                .any(|w| matches!(w, Waiter::Client { .. }))
        {
            // A client joined a name server's address lookup: its answer is validated.
            task.internal = false;
        }
        if task.validation.is_none() && self.needs_validation(task, &resolution) {
            let pending = crate::validate::Pending {
                resolution,
                source_zone: task.answered_by.take(),
                results: HashMap::new(),
                rounds: 0,
            };
            self.validate(task, pending, now);
            return;
        }
        self.complete(task, resolution, now);
    }

    /// [`Recursor::finish`] after validation.
    pub(crate) fn complete(&mut self, task: &mut Task, resolution: Resolution, now: Time) {
        if self.mesh.get(&task.key) != Some(&task.id) {
            return;
        }
        task.validation = None;
        self.mesh.remove(&task.key);
        self.parked.remove(&task.id);
        self.timers.remove(&(task.deadline, Timer::Task(task.id)));
        if let Some(id) = task.query.take() {
            self.close_query(id);
        }
        if resolution.rcode == Rcode::SERVFAIL {
            self.stats.servfails += 1;
            if task.priming {
                self.prime_failed_until = now.plus_secs(PRIME_RETRY_SECS);
            }
        }
        self.stats.resolutions_finished += 1;
        for child in std::mem::take(&mut task.children) {
            self.leave(child, task.id);
        }
        let resolution = Arc::new(resolution);
        let mut clients = Vec::new();
        for waiter in task.waiters.drain(..) {
            match waiter {
                Waiter::Client { id, client } => {
                    clients.push(id);
                    self.release_client(client);
                }
                Waiter::Task(parent) => self.wakes.push_back((
                    parent,
                    Wake::SubDone {
                        key: Box::new(task.key.clone()),
                        resolution: Arc::clone(&resolution),
                    },
                )),
            }
        }
        if !clients.is_empty() {
            self.answers.push_back(Finished {
                waiters: clients,
                question: task.question.clone(),
                resolution,
            });
        }
    }

    /// `parent` no longer waits for `child`; a child left without waiters is abandoned: its
    /// query closed, its own children left in turn (no work for no one).
    fn leave(&mut self, child: TaskId, parent: TaskId) {
        let mut todo = vec![(child, parent)];
        while let Some((child, parent)) = todo.pop() {
            let Some(task) = self.tasks.get_mut(&child) else {
                continue;
            };
            task.waiters.retain(|w| *w != Waiter::Task(parent));
            if !task.waiters.is_empty() {
                continue;
            }
            let Some(task) = self.tasks.remove(&child) else {
                continue;
            };
            self.mesh.remove(&task.key);
            self.parked.remove(&task.id);
            self.timers.remove(&(task.deadline, Timer::Task(task.id)));
            if let Some(id) = task.query {
                self.close_query(id);
            }
            self.stats.abandoned += 1;
            todo.extend(task.children.iter().map(|c| (*c, task.id)));
        }
    }

    /// TTLs as they are to be sent: within the cache's clamps; a negative answer's SOA at most
    /// its MINIMUM field and the negative cap (RFC 2308 section 5), as the cache stores it.
    fn clamp_ttls(&self, resolution: &mut Resolution) {
        let config = self.cache.config();
        let clamp = |ttl: u32| ttl.max(config.min_ttl).min(config.max_ttl);
        for set in &mut resolution.answer {
            set.ttl = clamp(set.ttl);
        }
        for set in &mut resolution.authority {
            set.ttl = clamp(set.ttl);
            if set.rtype == RType::SOA {
                let minimum = set
                    .rdatas
                    .first()
                    .and_then(|r| r.len().checked_sub(4).map(|at| &r[at..]))
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map_or(set.ttl, u32::from_be_bytes);
                set.ttl = set.ttl.min(minimum).min(config.max_negative_ttl);
            }
        }
    }

    /// Ends a resolution with SERVFAIL for a limit.
    pub(crate) fn fail_limit(&mut self, task: &mut Task, kind: LimitKind, now: Time) {
        self.stats.limits_hit[kind.index()] += 1;
        let client = task.waiters.iter().find_map(|w| match w {
            Waiter::Client { client, .. } => Some(*client),
            Waiter::Task(_) => None,
        });
        self.event(RecursorEvent::Limit {
            kind,
            question: task.question.clone(),
            client,
        });
        self.finish(task, limit_resolution(kind), now);
    }

    /// Ends a resolution with SERVFAIL and `ede`, remembering the failure (RFC 9520).
    pub(crate) fn fail(&mut self, task: &mut Task, ede: ExtendedError, now: Time) {
        self.cache.insert_failure(
            task.qname.as_ref(),
            task.key.qtype,
            self.config.failure_ttl,
            now,
        );
        self.finish(task, servfail(ede), now);
    }

    /// Whether `key` is on the dependency chain of `task`: the task itself or any resolution
    /// waiting for it, transitively (a delegation cycle, TsuNAME).
    pub(crate) fn on_chain(&self, task: &Task, key: &Key) -> bool {
        if task.key == *key {
            return true;
        }
        let mut seen: HashSet<TaskId> = HashSet::new();
        let mut todo: Vec<TaskId> = task
            .waiters
            .iter()
            .filter_map(|w| match w {
                Waiter::Task(p) => Some(*p),
                Waiter::Client { .. } => None,
            })
            .collect();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) || seen.len() > 1024 {
                continue;
            }
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            if t.key == *key {
                return true;
            }
            todo.extend(t.waiters.iter().filter_map(|w| match w {
                Waiter::Task(p) => Some(*p),
                Waiter::Client { .. } => None,
            }));
        }
        false
    }

    /// The budget `task` spends: its root's while the root is in the mesh, else its own.
    pub(crate) fn budget<'a>(&'a mut self, task: &'a mut Task) -> &'a mut Budget {
        if task.root != task.id
            && let Some(root) = self.tasks.get_mut(&task.root)
        {
            return &mut root.budget;
        }
        &mut task.budget
    }
}

/// A SERVFAIL resolution with `ede`.
pub(crate) fn servfail(ede: ExtendedError) -> Resolution {
    Resolution {
        rcode: Rcode::SERVFAIL,
        answer: Vec::new(),
        authority: Vec::new(),
        extended_error: Some(ede),
        security: Security::Indeterminate,
    }
}

/// The SERVFAIL for a limit: EDE 0 (Other) with the limit's text.
pub(crate) fn limit_resolution(kind: LimitKind) -> Resolution {
    servfail(ExtendedError {
        code: Ede::OTHER,
        text: kind.text().to_string(),
    })
}
