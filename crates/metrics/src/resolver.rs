//! What the recursive resolver counts: upstream traffic, answers rejected as possible
//! spoofing, limits hit, resolutions, and the cache's own figures.
//!
//! The resolver runs a few driver tasks, each owning a recursor whose counters are plain
//! integers. A driver copies them into a [`ResolverFigures`] and publishes it into its own
//! [`ResolverSlot`] after each round of work (one uncontended lock); a scrape sums the slots.
//! The cache keeps its own counters; the registry asks it for them at scrape time through the
//! function given to [`Registry::set_cache_source`](crate::Registry::set_cache_source).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The protocol of a query sent upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamProtocol {
    /// UDP, from a fresh random port.
    Udp,
    /// TCP (after a truncated answer, or chosen by the recursor).
    Tcp,
    /// DNS over TLS, to a `tls://` forwarder.
    Tls,
    /// DNS over HTTPS, to an `https://` forwarder.
    Https,
    /// DNS over QUIC, to a `quic://` forwarder.
    Quic,
}

impl UpstreamProtocol {
    /// Number of protocols.
    pub const COUNT: usize = 5;
    /// All protocols, in label order.
    pub const ALL: [UpstreamProtocol; 5] = [
        UpstreamProtocol::Udp,
        UpstreamProtocol::Tcp,
        UpstreamProtocol::Tls,
        UpstreamProtocol::Https,
        UpstreamProtocol::Quic,
    ];
    /// The encrypted protocols, whose failures are counted apart.
    pub const ENCRYPTED: [UpstreamProtocol; 3] = [
        UpstreamProtocol::Tls,
        UpstreamProtocol::Https,
        UpstreamProtocol::Quic,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            UpstreamProtocol::Udp => "udp",
            UpstreamProtocol::Tcp => "tcp",
            UpstreamProtocol::Tls => "tls",
            UpstreamProtocol::Https => "https",
            UpstreamProtocol::Quic => "quic",
        }
    }

    /// The protocol of a label value (`tls`, `https`, `quic` as a secure upstream names
    /// itself; `udp`, `tcp`).
    pub fn from_label(label: &str) -> Option<UpstreamProtocol> {
        UpstreamProtocol::ALL
            .into_iter()
            .find(|p| p.label() == label)
    }
}

/// Why an upstream response was rejected (RFC 5452: everything that does not match the query
/// is dropped, and a burst of such responses is the sign of a spoofing attempt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamReject {
    /// From another address or port than the query went to.
    WrongSource,
    /// Another message ID.
    WrongId,
    /// QR clear or another opcode: not a response.
    NotResponse,
    /// Another question.
    WrongQuestion,
    /// The question's letter case differs from the one sent (0x20).
    WrongCase,
    /// Not a parseable DNS message.
    Malformed,
    /// A cookie that is not ours (RFC 7873).
    BadCookie,
}

impl UpstreamReject {
    /// Number of reasons.
    pub const COUNT: usize = 7;
    /// All reasons, in label order.
    pub const ALL: [UpstreamReject; 7] = [
        UpstreamReject::WrongSource,
        UpstreamReject::WrongId,
        UpstreamReject::NotResponse,
        UpstreamReject::WrongQuestion,
        UpstreamReject::WrongCase,
        UpstreamReject::Malformed,
        UpstreamReject::BadCookie,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            UpstreamReject::WrongSource => "wrong_source",
            UpstreamReject::WrongId => "wrong_id",
            UpstreamReject::NotResponse => "not_response",
            UpstreamReject::WrongQuestion => "wrong_question",
            UpstreamReject::WrongCase => "wrong_case",
            UpstreamReject::Malformed => "malformed",
            UpstreamReject::BadCookie => "bad_cookie",
        }
    }
}

/// A resolver limit (the defences against NXNSAttack, TsuNAME and their kin); the recursor's
/// documentation gives each value beside the peers'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Upstream queries for one client question.
    UpstreamQueries,
    /// Referrals followed.
    Referrals,
    /// CNAME and DNAME chain length.
    CnameChain,
    /// Glue-less NS names resolved for one delegation.
    NsNamesResolved,
    /// Server addresses tried per NS set.
    AddressesPerNsSet,
    /// Glue-less sub-queries for one client question.
    GluelessQueries,
    /// Nesting of sub-resolutions, or a delegation cycle.
    DependencyDepth,
    /// Total time for one client question.
    QuestionTime,
    /// Outstanding queries to one upstream server.
    OutstandingPerServer,
    /// Resolutions in flight for one client.
    ResolutionsPerClient,
    /// Resolutions in flight in all.
    Mesh,
    /// Clients waiting on one resolution.
    Waiters,
    /// Upstream queries to a zone capped for its NXDOMAIN rate (random-subdomain attacks).
    ZoneCap,
}

impl Limit {
    /// Number of limits.
    pub const COUNT: usize = 13;
    /// All limits, in label order.
    pub const ALL: [Limit; 13] = [
        Limit::UpstreamQueries,
        Limit::Referrals,
        Limit::CnameChain,
        Limit::NsNamesResolved,
        Limit::AddressesPerNsSet,
        Limit::GluelessQueries,
        Limit::DependencyDepth,
        Limit::QuestionTime,
        Limit::OutstandingPerServer,
        Limit::ResolutionsPerClient,
        Limit::Mesh,
        Limit::Waiters,
        Limit::ZoneCap,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Limit::UpstreamQueries => "upstream_queries",
            Limit::Referrals => "referrals",
            Limit::CnameChain => "cname_chain",
            Limit::NsNamesResolved => "ns_names_resolved",
            Limit::AddressesPerNsSet => "addresses_per_ns_set",
            Limit::GluelessQueries => "glueless_queries",
            Limit::DependencyDepth => "dependency_depth",
            Limit::QuestionTime => "question_time",
            Limit::OutstandingPerServer => "outstanding_per_server",
            Limit::ResolutionsPerClient => "resolutions_per_client",
            Limit::Mesh => "mesh",
            Limit::Waiters => "waiters",
            Limit::ZoneCap => "zone_cap",
        }
    }
}

/// How a client question handed to the resolver ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecursionResult {
    /// Answered NOERROR.
    NoError,
    /// Answered NXDOMAIN.
    NxDomain,
    /// Answered SERVFAIL.
    ServFail,
    /// Answered REFUSED (by the upstream, passed on).
    Refused,
    /// Answered from expired data after the resolution failed (RFC 8767).
    Stale,
    /// Not taken: the resolver's queue was full (answered SERVFAIL or dropped).
    Overload,
}

impl RecursionResult {
    /// Number of results.
    pub const COUNT: usize = 6;
    /// All results, in label order.
    pub const ALL: [RecursionResult; 6] = [
        RecursionResult::NoError,
        RecursionResult::NxDomain,
        RecursionResult::ServFail,
        RecursionResult::Refused,
        RecursionResult::Stale,
        RecursionResult::Overload,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RecursionResult::NoError => "noerror",
            RecursionResult::NxDomain => "nxdomain",
            RecursionResult::ServFail => "servfail",
            RecursionResult::Refused => "refused",
            RecursionResult::Stale => "stale",
            RecursionResult::Overload => "overload",
        }
    }
}

/// One driver's counters (and its mesh gauge), as published; sums of several drivers too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolverFigures {
    /// Queries sent upstream, by protocol.
    pub upstream_queries: [u64; UpstreamProtocol::COUNT],
    /// Upstream responses accepted.
    pub upstream_accepted: u64,
    /// Upstream responses rejected, by reason.
    pub upstream_rejected: [u64; UpstreamReject::COUNT],
    /// Upstream queries that timed out.
    pub upstream_timeouts: u64,
    /// Upstream queries that could not be sent or whose connection failed.
    pub upstream_failures: u64,
    /// Of those, the ones to encrypted upstreams, by protocol (UDP and TCP stay 0).
    pub protocol_failures: [u64; UpstreamProtocol::COUNT],
    /// Retries over TCP after a truncated answer.
    pub tcp_fallbacks: u64,
    /// Retries without EDNS.
    pub edns_fallbacks: u64,
    /// Retries without 0x20 case randomisation.
    pub case_fallbacks: u64,
    /// Client questions stopped by a limit, by limit.
    pub limits: [u64; Limit::COUNT],
    /// Resolutions started.
    pub resolutions_started: u64,
    /// Client questions that joined a resolution already in flight.
    pub resolutions_joined: u64,
    /// Client questions answered by the resolver, by result.
    pub results: [u64; RecursionResult::COUNT],
    /// Background refreshes started (prefetch).
    pub prefetches: u64,
    /// Resolutions in flight now (a gauge).
    pub in_flight: u64,
    /// DNSSEC validation verdicts: secure, insecure, bogus, indeterminate (a chain that could
    /// not be built, such as no room to fetch a key: answered SERVFAIL like bogus).
    pub validation: [u64; 4],
    /// Root primings (RFC 8109) that succeeded.
    pub primed: u64,
    /// RRSIG verifications (signature checks) made.
    pub signature_checks: u64,
    /// Time spent judging answers (signatures and denial proofs), in nanoseconds.
    pub validation_nanos: u64,
}

impl ResolverFigures {
    /// Adds `other` to these figures.
    pub fn add(&mut self, other: &ResolverFigures) {
        fn arr<const N: usize>(a: &mut [u64; N], b: &[u64; N]) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.wrapping_add(*y);
            }
        }
        arr(&mut self.upstream_queries, &other.upstream_queries);
        self.upstream_accepted = self.upstream_accepted.wrapping_add(other.upstream_accepted);
        arr(&mut self.upstream_rejected, &other.upstream_rejected);
        self.upstream_timeouts = self.upstream_timeouts.wrapping_add(other.upstream_timeouts);
        self.upstream_failures = self.upstream_failures.wrapping_add(other.upstream_failures);
        arr(&mut self.protocol_failures, &other.protocol_failures);
        self.tcp_fallbacks = self.tcp_fallbacks.wrapping_add(other.tcp_fallbacks);
        self.edns_fallbacks = self.edns_fallbacks.wrapping_add(other.edns_fallbacks);
        self.case_fallbacks = self.case_fallbacks.wrapping_add(other.case_fallbacks);
        arr(&mut self.limits, &other.limits);
        self.resolutions_started = self
            .resolutions_started
            .wrapping_add(other.resolutions_started);
        self.resolutions_joined = self
            .resolutions_joined
            .wrapping_add(other.resolutions_joined);
        arr(&mut self.results, &other.results);
        self.prefetches = self.prefetches.wrapping_add(other.prefetches);
        self.in_flight = self.in_flight.wrapping_add(other.in_flight);
        arr(&mut self.validation, &other.validation);
        self.signature_checks = self.signature_checks.wrapping_add(other.signature_checks);
        self.validation_nanos = self.validation_nanos.wrapping_add(other.validation_nanos);
        self.primed = self.primed.wrapping_add(other.primed);
    }
}

/// The DNSSEC validation results, in the order of [`ResolverFigures::validation`].
pub const VALIDATION_RESULTS: [&str; 4] = ["secure", "insecure", "bogus", "indeterminate"];

/// Upper bounds of the upstream round-trip-time buckets, in milliseconds.
pub const RTT_BOUNDS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/// Upstream servers given a series of their own; the rest are summed under `server="other"`.
/// Forward targets are few; an iterating resolver meets servers without end, so the table
/// keeps the first ones met (the root and TLD servers come first) and stays bounded.
pub const MAX_UPSTREAM_SERVERS: usize = 256;

/// What happened between the resolver and one upstream server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerSample {
    /// A query was sent.
    Sent,
    /// An answer was accepted after `rtt_ms` milliseconds.
    Answered {
        /// The round-trip time.
        rtt_ms: u64,
    },
    /// A query timed out (or its connection failed).
    TimedOut,
}

/// One upstream server's counts and round-trip times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerFigures {
    /// Queries sent to it.
    pub queries: u64,
    /// Queries that timed out or whose connection failed.
    pub timeouts: u64,
    /// Round-trip times per bucket of [`RTT_BOUNDS_MS`], then `+Inf`; not cumulative.
    pub rtt: [u64; RTT_BOUNDS_MS.len() + 1],
    /// The sum of the round-trip times, in milliseconds.
    pub rtt_sum_ms: u64,
    /// The last round-trip time measured, in milliseconds (0: none yet).
    pub last_rtt_ms: u64,
}

impl ServerFigures {
    fn record(&mut self, sample: ServerSample) {
        match sample {
            ServerSample::Sent => self.queries = self.queries.wrapping_add(1),
            ServerSample::TimedOut => self.timeouts = self.timeouts.wrapping_add(1),
            ServerSample::Answered { rtt_ms } => {
                let i = RTT_BOUNDS_MS
                    .iter()
                    .position(|&b| rtt_ms <= b)
                    .unwrap_or(RTT_BOUNDS_MS.len());
                if let Some(slot) = self.rtt.get_mut(i) {
                    *slot = slot.wrapping_add(1);
                }
                self.rtt_sum_ms = self.rtt_sum_ms.wrapping_add(rtt_ms);
                self.last_rtt_ms = rtt_ms.max(1);
            }
        }
    }

    fn add(&mut self, other: &ServerFigures) {
        self.queries = self.queries.wrapping_add(other.queries);
        self.timeouts = self.timeouts.wrapping_add(other.timeouts);
        for (a, b) in self.rtt.iter_mut().zip(other.rtt) {
            *a = a.wrapping_add(b);
        }
        self.rtt_sum_ms = self.rtt_sum_ms.wrapping_add(other.rtt_sum_ms);
        if other.last_rtt_ms != 0 {
            self.last_rtt_ms = other.last_rtt_ms;
        }
    }

    /// Answers whose round-trip time was measured.
    pub fn answers(&self) -> u64 {
        self.rtt.iter().fold(0u64, |a, &b| a.wrapping_add(b))
    }
}

/// Per-server figures, at most [`MAX_UPSTREAM_SERVERS`] servers, the rest summed in `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerTable {
    index: HashMap<SocketAddr, usize>,
    /// The servers with a series of their own, in the order they were first met.
    pub servers: Vec<(SocketAddr, ServerFigures)>,
    /// Every server past the limit.
    pub other: ServerFigures,
}

impl ServerTable {
    /// Records `sample` for `server`.
    pub fn record(&mut self, server: SocketAddr, sample: ServerSample) {
        self.entry(server).record(sample);
    }

    fn entry(&mut self, server: SocketAddr) -> &mut ServerFigures {
        let i = match self.index.get(&server) {
            Some(&i) => i,
            None if self.servers.len() < MAX_UPSTREAM_SERVERS => {
                self.servers.push((server, ServerFigures::default()));
                self.index.insert(server, self.servers.len() - 1);
                self.servers.len() - 1
            }
            None => return &mut self.other,
        };
        match self.servers.get_mut(i) {
            Some((_, f)) => f,
            None => &mut self.other,
        }
    }

    /// Adds `other`'s figures to these, server by server (within the same bound).
    pub fn add(&mut self, other: &ServerTable) {
        for (server, figures) in &other.servers {
            self.entry(*server).add(figures);
        }
        self.other.add(&other.other);
    }

    /// The figures of `server`, when it has a series of its own.
    pub fn get(&self, server: SocketAddr) -> Option<&ServerFigures> {
        let &i = self.index.get(&server)?;
        self.servers.get(i).map(|(_, f)| f)
    }
}

/// The figures one driver publishes; from [`Registry::resolver_slot`](crate::Registry::resolver_slot).
#[derive(Clone, Debug, Default)]
pub struct ResolverSlot {
    pub(crate) figures: Arc<Mutex<ResolverFigures>>,
    pub(crate) servers: Arc<Mutex<ServerTable>>,
}

impl ResolverSlot {
    /// Replaces the published figures with `figures`.
    pub fn publish(&self, figures: &ResolverFigures) {
        let mut f = self.figures.lock().unwrap_or_else(PoisonError::into_inner);
        f.clone_from(figures);
    }

    /// Counts one client question answered with `result` (for counts made outside a driver,
    /// such as [`RecursionResult::Overload`] when a queue is full). Takes the slot's lock.
    pub fn count_result(&self, result: RecursionResult) {
        let mut f = self.figures.lock().unwrap_or_else(PoisonError::into_inner);
        f.results[result as usize] = f.results[result as usize].wrapping_add(1);
    }

    /// Records what happened with upstream servers since the last call, under one lock.
    pub fn record_servers(&self, samples: impl IntoIterator<Item = (SocketAddr, ServerSample)>) {
        let mut table = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        for (server, sample) in samples {
            table.record(server, sample);
        }
    }

    pub(crate) fn read_servers(&self) -> ServerTable {
        self.servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn read(&self) -> ResolverFigures {
        self.figures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The cache's figures, read at scrape time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheFigures {
    /// Entries stored.
    pub entries: u64,
    /// Bytes accounted to them.
    pub bytes: u64,
    /// The memory budget.
    pub max_bytes: u64,
    /// Client questions answered from the cache.
    pub hits: u64,
    /// Client questions the cache could not answer.
    pub misses: u64,
    /// Entries stored.
    pub inserts: u64,
    /// Entries evicted to stay within the budget.
    pub evictions: u64,
    /// Entries removed because they expired.
    pub expired: u64,
}

/// Where the registry reads the cache's figures.
pub type CacheSource = Box<dyn Fn() -> CacheFigures + Send + Sync>;
