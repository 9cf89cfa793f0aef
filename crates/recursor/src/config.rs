//! What the recursor is told: where to start (root hints, forwards, stub zones), how careful to
//! be (QNAME minimisation, 0x20, cookies, private upstreams) and how much work one client
//! question may cost ([`Limits`]).
//!
//! # Limits
//!
//! A recursive resolver is an amplifier: one client question can make it send many upstream
//! queries. Attacks use that: NXNSAttack (referrals to many glue-less NS names, each one a
//! sub-resolution), TsuNAME (delegations that depend on each other), long CNAME chains, and
//! plain floods of distinct names. Every peer bounds the work per question; the values below
//! are ours, beside the peers' defaults as their source code and documentation give them
//! ("—" where a peer has no single equivalent knob).
//!
//! | limit | ours | Unbound | BIND 9 | Knot Resolver | PowerDNS Recursor |
//! |---|---|---|---|---|---|
//! | upstream queries per client question, sub-resolutions included (NXNSAttack) | 50 | `MAX_SENT_COUNT` 32 per query state, `MAX_TARGET_COUNT` 64 targets per query and its subqueries | `max-recursion-queries` 50 | `KR_ITER_LIMIT` 100 | `max-qperq` 50 |
//! | referrals followed per question | 30 | `MAX_REFERRAL_COUNT` 30 (older), 130 (later) | — | (inside `KR_ITER_LIMIT`) | — |
//! | CNAME/DNAME chain length | 12 | `MAX_RESTART_COUNT` 8 | — | `KR_CNAME_CHAIN_LIMIT` 13 | — |
//! | NS names resolved per delegation (glue-less) | 5 | target fetch policy | — | `KR_COUNT_NO_NSADDR_LIMIT` 5 | — |
//! | server addresses tried per NS set | 12 | `MAX_SENT_COUNT` 32 | — | `KR_QUERY_NSRETRY_LIMIT` 4 retries | — |
//! | glue-less sub-resolutions per client question | 10 | `MAX_TARGET_COUNT` 64 | — | — | `max-ns-address-qperq` 10 |
//! | nesting of sub-resolutions (NS address of an NS address …) | 7 | `max_dependency_depth` | `max-recursion-depth` 7 | — | `max-recursion-depth` 40 |
//! | total time per client question | 10 s | — | — | `KR_RESOLVE_TIME_LIMIT` 10 s | `max-total-msec` 7 s |
//! | outstanding queries per upstream server (a question whose every server is at it waits for a slot, until its total time runs out) | 200 | — | `fetches-per-server` (default not confirmed) | — | — |
//! | resolutions in flight per client address | 1,000 (a tenth of the mesh) | — | — | — | — |
//! | resolutions in flight (mesh size) | 10,000 | — | `recursive-clients` 1000 | — | — |
//! | clients waiting on one resolution | 100 | — | `clients-per-query` 10, `max-clients-per-query` 100 | — | — |
//! | upstream queries per second to a zone whose NXDOMAIN rate spiked (random-subdomain attacks, [`crate::zonecap`]) | off; when configured, `limits.zone_queries_per_second` | — | `fetches-per-zone` (by outstanding fetches, not rate) | — | — |
//!
//! Sources: Unbound `iterator/iterator.h` (two versions: `MAX_REFERRAL_COUNT` went from 30
//! to 130); BIND's CVE-2014-8500 fix (`max-recursion-depth` 7, `max-recursion-queries` 50;
//! later releases changed the latter), ISC's description of `clients-per-query` and
//! `max-clients-per-query` on bind-users, and `recursive-clients` 1000; Knot Resolver
//! `lib/defines.h`; PowerDNS Recursor 4.1's argument defaults in `pdns_recursor.cc`. A "—"
//! means no equivalent knob was found, not that the peer is unbounded.
//!
//! Hitting a limit ends that question alone with SERVFAIL and an Extended DNS Error (RFC 8914)
//! naming the limit; [`crate::RecursorStats::limits_hit`] counts it by [`LimitKind`].

use std::net::SocketAddr;
use std::sync::Arc;

use wire::{Name, NameRef};

use crate::hints::Hints;

/// Everything the recursor is configured with; see the module docs.
#[derive(Clone, Debug)]
pub struct RecursorConfig {
    /// Where iteration starts when the cache knows no delegation: the root servers.
    pub root_hints: Hints,
    /// Zones sent elsewhere: to a recursive server (forward) or to chosen authoritative servers
    /// (stub). A forward for `.` sends everything.
    pub forwards: Vec<Forward>,
    /// QNAME minimisation (RFC 9156).
    pub qname_minimisation: QnameMinimisation,
    /// Random case in upstream questions, checked in answers (0x20, draft-vixie-dnsext-dns0x20).
    pub case_randomisation: bool,
    /// DNS cookies as a client (RFC 7873, RFC 9018).
    pub cookies: bool,
    /// Send to loopback, private, link-local and unspecified addresses learned from referrals
    /// and answers. Off by default (Unbound's `do-not-query-localhost` and private-address
    /// defences); configured forwarders, stubs and hints are always allowed.
    pub insecure_local_upstreams: bool,
    /// Ask IPv4 upstreams.
    pub ipv4: bool,
    /// Ask IPv6 upstreams.
    pub ipv6: bool,
    /// The EDNS UDP payload size announced upstream (RFC 6891; 1232 per DNS Flag Day 2020).
    pub edns_payload: u16,
    /// Seconds a failed resolution is remembered (RFC 9520).
    pub failure_ttl: u32,
    /// Work limits; see the module docs.
    pub limits: Limits,
    /// Most servers remembered by the infrastructure cache.
    pub infra_max_servers: usize,
    /// DNSSEC validation.
    pub validation: ValidationConfig,
    /// The random-subdomain defence: a cap on upstream queries to a zone whose NXDOMAIN rate
    /// spikes ([`crate::zonecap`]); `None`: off. Shared by every clone of the configuration.
    pub zone_cap: Option<crate::zonecap::ZoneCap>,
    /// Names an alias chain is not followed to (the server's blocklists and response policy
    /// zones): a CNAME or DNAME whose target it holds ends the resolution with the chain so
    /// far, so a blocked name is never asked upstream and the policy answers for it.
    pub alias_stop: Option<AliasStop>,
}

/// Whether a CNAME or DNAME target must not be looked up; see
/// [`RecursorConfig::alias_stop`]. Asked once per alias step, from the driver's thread.
#[derive(Clone)]
pub struct AliasStop(pub Arc<dyn Fn(NameRef<'_>) -> bool + Send + Sync>);

impl std::fmt::Debug for AliasStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AliasStop")
    }
}

impl Default for RecursorConfig {
    fn default() -> RecursorConfig {
        RecursorConfig {
            root_hints: Hints::builtin(),
            forwards: Vec::new(),
            qname_minimisation: QnameMinimisation::Relaxed,
            case_randomisation: true,
            cookies: true,
            insecure_local_upstreams: false,
            ipv4: true,
            ipv6: true,
            edns_payload: 1232,
            failure_ttl: 5,
            limits: Limits::default(),
            infra_max_servers: 10_000,
            validation: ValidationConfig::default(),
            zone_cap: None,
            alias_stop: None,
        }
    }
}

/// DNSSEC validation (RFC 4035 section 5); see `validate.rs`.
#[derive(Clone, Debug)]
pub struct ValidationConfig {
    /// Validate at all (answers to questions with CD are never validated).
    pub enabled: bool,
    /// Where chains of trust start: the root KSKs unless configured otherwise; fixed, or kept
    /// up to date by RFC 5011.
    pub anchors: crate::anchors::Anchors,
    /// Domains not validated (RFC 7646): treated as insecure.
    pub negative_anchors: dnssec::NegativeAnchors,
    /// Validate algorithms 5 and 7 and DS digest type 1 (SHA-1); otherwise they count as
    /// unsupported, which makes their zones insecure (RFC 8624 recommends against them).
    pub sha1: bool,
    /// Seconds a bogus result is remembered (answered SERVFAIL without asking again).
    pub bogus_ttl: u32,
    /// Work limits against KeyTrap (CVE-2023-50387) and NSEC3 hashing (CVE-2023-50868).
    pub limits: ValidationLimits,
    /// Answers NXDOMAIN and NODATA from validated NSEC/NSEC3 records (RFC 8198); `None`: off.
    /// The index is shared by every clone of the configuration (the drivers of one process).
    pub aggressive_nsec: Option<crate::aggressive::DenialIndex>,
}

/// How many NSEC/NSEC3 records the RFC 8198 index keeps by default (about 300 bytes each).
pub const DEFAULT_DENIAL_RECORDS: usize = 50_000;

impl ValidationConfig {
    /// Whether DNSSEC validation runs at all.
    pub fn active(&self) -> bool {
        self.enabled && !self.anchors.current().is_empty()
    }
}

impl Default for ValidationConfig {
    fn default() -> ValidationConfig {
        ValidationConfig {
            enabled: true,
            anchors: crate::anchors::Anchors::Fixed(Arc::new(dnssec::TrustAnchors::builtin_root())),
            negative_anchors: dnssec::NegativeAnchors::new(Vec::new()),
            sha1: false,
            bogus_ttl: 60,
            limits: ValidationLimits::default(),
            aggressive_nsec: Some(crate::aggressive::DenialIndex::new(DEFAULT_DENIAL_RECORDS)),
        }
    }
}

/// Bounds on validation work per resolution. The peers' figures (after CVE-2023-50387 and
/// CVE-2023-50868):
///
/// | limit | Portcullis | Unbound 1.19.1+ | PowerDNS Recursor 5 | BIND 9.18.24+ |
/// |---|---|---|---|---|
/// | keys tried per signature | 2 | (key-tag collisions limited) | `max-dnskeys` 2 | 1 failure per key tag |
/// | signatures tried per RRset | 8 | 8 | `max-rrsigs-per-record` 2 | - |
/// | signature checks per resolution | 64 | - | `max-signature-validations-per-query` 30 | `max-validations-per-fetch` 16 |
/// | NSEC3 hashes per proof | 32 | 8 per step, then the step suspends | `max-nsec3-hash-computations-per-query` 600 | - |
/// | NSEC3 iterations (above: insecure) | 50 | 150 | `nsec3-max-iterations` 50 | 50 |
///
/// The NSEC3 figures and their sources are in `dnssec::denial`; a proof also reads at most
/// 64 NSEC and 64 NSEC3 records (`dnssec::denial::MAX_RECORDS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationLimits {
    /// DNSKEYs with the RRSIG's key tag and algorithm tried for one signature.
    pub max_keys_per_signature: u32,
    /// RRSIGs tried for one RRset.
    pub max_signatures_per_rrset: u32,
    /// Signature checks one resolution may spend; beyond it the answer is bogus.
    pub max_validations_per_resolution: u32,
    /// NSEC3 hash computations one proof may spend.
    pub max_nsec3_hashes: u32,
    /// NSEC3 iterations above which a zone's proofs make the answer insecure (RFC 9276).
    pub max_nsec3_iterations: u16,
}

impl Default for ValidationLimits {
    fn default() -> ValidationLimits {
        ValidationLimits {
            max_keys_per_signature: 2,
            max_signatures_per_rrset: 8,
            max_validations_per_resolution: 64,
            max_nsec3_hashes: 32,
            max_nsec3_iterations: 50,
        }
    }
}

/// A zone resolved somewhere else than from the root down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    /// The zone: names at or below it go to `to`. `.` catches everything.
    pub zone: Name,
    /// The servers: by measured round-trip time, or in this order ([`Forward::selection`]).
    pub to: Vec<SocketAddr>,
    /// How they are asked.
    pub kind: ForwardKind,
    /// How one of them is chosen for a query.
    pub selection: Selection,
}

/// How a [`Forward`]'s server is chosen for a query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// By measured round-trip time, at random among the servers near the best (the
    /// infrastructure cache's selection, as for any zone).
    #[default]
    Fastest,
    /// The first server in the configured order that is not failing; the next on a timeout
    /// or an error; back to the first once it answers again (it is retried after
    /// [`crate::infra::ORDER_RETRY_SECS`]). For a primary forwarder with backups.
    Order,
}

/// How the servers of a [`Forward`] are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardKind {
    /// Recursive servers: RD=1, their answers are taken whole for names below the zone.
    Forward,
    /// Authoritative servers for the zone: RD=0, iteration starts at them and follows their
    /// referrals down.
    Stub,
}

/// QNAME minimisation (RFC 9156): tell each server only the part of the name it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QnameMinimisation {
    /// Send the full name everywhere.
    Off,
    /// Minimise, and fall back to the full name when a server answers a minimised query with
    /// an error or a lame answer (RFC 9156 section 3, the default of Unbound and Knot).
    #[default]
    Relaxed,
    /// Minimise and never fall back.
    Strict,
}

/// Work limits per question; the table in the module docs compares each with the peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Upstream queries per client question, its sub-resolutions included.
    pub max_upstream_queries: u32,
    /// Referrals followed per question.
    pub max_referrals: u32,
    /// CNAME and DNAME steps per question.
    pub max_cname_chain: u32,
    /// Glue-less NS names resolved per delegation.
    pub max_ns_names_resolved: u32,
    /// Server addresses tried per NS set.
    pub max_addresses_per_ns_set: u32,
    /// Glue-less sub-resolutions started per client question.
    pub max_glueless_queries: u32,
    /// Nesting of sub-resolutions (a name server address needed to find a name server
    /// address …).
    pub max_dependency_depth: u32,
    /// Total time per client question, milliseconds.
    pub max_question_millis: u64,
    /// Queries outstanding toward one upstream server at once. A resolution whose every
    /// server is at this limit waits (queued per server, first come first served) for a query
    /// to one of them to end; it fails with [`LimitKind::OutstandingPerServer`] only when its
    /// [`Limits::max_question_millis`] runs out while it waits.
    pub max_outstanding_per_server: u32,
    /// Resolutions in flight per client address, counted across every recursor that shares
    /// one [`crate::infra::SharedInfra`] (the resolver drivers of a process).
    pub max_resolutions_per_client: u32,
    /// Resolutions in flight in total (client questions, prefetches and sub-resolutions).
    pub max_mesh: u32,
    /// Client waiters on one resolution.
    pub max_waiters: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_upstream_queries: 50,
            max_referrals: 30,
            max_cname_chain: 12,
            max_ns_names_resolved: 5,
            max_addresses_per_ns_set: 12,
            max_glueless_queries: 10,
            max_dependency_depth: 7,
            max_question_millis: 10_000,
            max_outstanding_per_server: 200,
            max_resolutions_per_client: 1000,
            max_mesh: 10_000,
            max_waiters: 100,
        }
    }
}

/// Which limit ended a question, for the statistics and the EDE text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// [`Limits::max_upstream_queries`].
    UpstreamQueries,
    /// [`Limits::max_referrals`].
    Referrals,
    /// [`Limits::max_cname_chain`].
    CnameChain,
    /// [`Limits::max_ns_names_resolved`].
    NsNamesResolved,
    /// [`Limits::max_addresses_per_ns_set`].
    AddressesPerNsSet,
    /// [`Limits::max_glueless_queries`].
    GluelessQueries,
    /// [`Limits::max_dependency_depth`], or a delegation cycle (TsuNAME).
    DependencyDepth,
    /// [`Limits::max_question_millis`].
    QuestionTime,
    /// [`Limits::max_outstanding_per_server`].
    OutstandingPerServer,
    /// [`Limits::max_resolutions_per_client`].
    ResolutionsPerClient,
    /// [`Limits::max_mesh`].
    Mesh,
    /// [`Limits::max_waiters`].
    Waiters,
    /// The random-subdomain defence held: the zone is capped ([`crate::zonecap`]).
    ZoneCap,
}

impl LimitKind {
    /// Every kind, in the order of [`crate::RecursorStats::limits_hit`].
    pub const ALL: [LimitKind; 13] = [
        LimitKind::UpstreamQueries,
        LimitKind::Referrals,
        LimitKind::CnameChain,
        LimitKind::NsNamesResolved,
        LimitKind::AddressesPerNsSet,
        LimitKind::GluelessQueries,
        LimitKind::DependencyDepth,
        LimitKind::QuestionTime,
        LimitKind::OutstandingPerServer,
        LimitKind::ResolutionsPerClient,
        LimitKind::Mesh,
        LimitKind::Waiters,
        LimitKind::ZoneCap,
    ];

    /// The index into [`crate::RecursorStats::limits_hit`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short name for metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::UpstreamQueries => "upstream_queries",
            LimitKind::Referrals => "referrals",
            LimitKind::CnameChain => "cname_chain",
            LimitKind::NsNamesResolved => "ns_names_resolved",
            LimitKind::AddressesPerNsSet => "addresses_per_ns_set",
            LimitKind::GluelessQueries => "glueless_queries",
            LimitKind::DependencyDepth => "dependency_depth",
            LimitKind::QuestionTime => "question_time",
            LimitKind::OutstandingPerServer => "outstanding_per_server",
            LimitKind::ResolutionsPerClient => "resolutions_per_client",
            LimitKind::Mesh => "mesh",
            LimitKind::Waiters => "waiters",
            LimitKind::ZoneCap => "zone_cap",
        }
    }

    /// The EDE text sent to the client (RFC 8914 section 2: for people, not machines).
    pub fn text(self) -> &'static str {
        match self {
            LimitKind::UpstreamQueries => "upstream query limit reached",
            LimitKind::Referrals => "referral limit reached",
            LimitKind::CnameChain => "CNAME chain limit reached",
            LimitKind::NsNamesResolved => "NS name resolution limit reached",
            LimitKind::AddressesPerNsSet => "server address limit reached",
            LimitKind::GluelessQueries => "glue-less sub-query limit reached",
            LimitKind::DependencyDepth => "delegation dependency limit reached (cycle?)",
            LimitKind::QuestionTime => "resolution time limit reached",
            LimitKind::OutstandingPerServer => "upstream server busy",
            LimitKind::ResolutionsPerClient => "client resolution limit reached",
            LimitKind::Mesh => "resolver busy",
            LimitKind::Waiters => "too many clients waiting for this question",
            LimitKind::ZoneCap => "upstream queries to this zone are capped (NXDOMAIN flood)",
        }
    }
}
