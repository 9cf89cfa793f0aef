//! Iterative resolution as a sans-I/O state machine: a recursive resolver's core.
//!
//! # How a name is resolved (RFC 1034 section 5.3.3)
//!
//! A stub asks a recursive resolver for `www.example.com. A`. The resolver looks in its cache
//! first; on a miss it finds the deepest zone cut it knows for the name (at worst the root,
//! from the built-in *root hints*, refreshed by a *priming* query, RFC 8109) and asks one of
//! that zone's servers. The server answers (authoritative data, AA set), or *refers* the
//! resolver to a child zone (NS records at the cut, with *glue* addresses for name servers
//! inside the parent's zone), or says the name or type does not exist (NXDOMAIN, NODATA, with
//! the zone's SOA so the resolver may cache that, RFC 2308). The resolver follows referrals
//! down, CNAME and DNAME aliases across zones (RFC 1034 section 3.6.2, RFC 6672), and resolves
//! the addresses of name servers that came without glue as *sub-resolutions*. Everything it
//! learns goes into the shared [`cache::Cache`] with a credibility rank (RFC 2181 5.4.1).
//!
//! # Sans-I/O
//!
//! [`Recursor`] never touches a socket or a clock, in the style of `quinn-proto`: the I/O layer
//! calls [`Recursor::submit`] for client questions, takes upstream queries from
//! [`Recursor::poll_transmit`] and sends them (a fresh random source port each, TCP when asked),
//! feeds datagrams back with [`Recursor::handle_response`], calls [`Recursor::handle_timeout`]
//! at [`Recursor::next_timeout`], and collects answers from [`Recursor::poll_answer`] and ended
//! upstream queries from [`Recursor::poll_closed`]. Time comes in as `now`; randomness (query
//! IDs, 0x20 case, server choice) from a ChaCha20 CSPRNG seeded by the caller. The tests in
//! `tests/` drive it against a simulated network of fake authoritative servers.
//!
//! # Modules
//!
//! - [`config`]: [`RecursorConfig`], forwards and stubs, [`Limits`] with the peers' values.
//! - `mesh`: the [`Recursor`] itself, resolutions keyed by question so identical questions
//!   share one (in-flight de-duplication), timers, queues.
//! - `iterate`: one resolution's steps: cache, where to start, which server, sub-resolutions.
//! - `reply`: what an upstream answer means and what to do next (referral, answer, alias,
//!   negative, lame, retry over TCP or without EDNS).
//! - `response`: reading an answer into RRsets, the bailiwick scrub, the classification.
//! - [`infra`]: per-server state (smoothed RTT, lameness, EDNS, 0x20, cookies).
//! - [`upstream`]: building queries and accepting only genuine answers (RFC 5452).
//! - [`hints`]: root hints.
//! - `validate`: DNSSEC validation: chains of trust as sub-resolutions, verdicts, EDEs.
//! - [`anchors`]: trust anchors, fixed or kept up to date by RFC 5011.
//! - [`aggressive`]: answers from validated NSEC/NSEC3 records (RFC 8198).
//! - [`zonecap`]: the random-subdomain defence, a cap on upstream queries to a zone whose
//!   NXDOMAIN rate spikes.
//! - `addr`: the private-address rule.

#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};

use cache::{RrSet, Time};
use wire::{Class, Name, RType, Rcode};

mod addr;
pub mod aggressive;
pub mod anchors;
pub mod config;
pub mod hints;
pub mod infra;
mod iterate;
mod mesh;
mod reply;
mod response;
mod stats;
pub mod upstream;
mod validate;
pub mod zonecap;

pub use aggressive::DenialIndex;
pub use anchors::{Anchors, ManagedAnchors};
pub use config::{
    AliasStop, Forward, ForwardKind, LimitKind, Limits, QnameMinimisation, RecursorConfig,
    Selection, ValidationConfig, ValidationLimits,
};
pub use hints::{Hints, HintsError};
pub use mesh::Recursor;
pub use stats::{RecursorStats, ServerSample};
pub use upstream::Rejection;
pub use zonecap::{ZoneCap, ZoneCapConfig};

/// Identifies a client waiting for an answer; chosen by the I/O layer, handed back in
/// [`Finished::waiters`].
pub type WaiterId = u64;

/// Identifies one upstream query (one [`Transmit`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct UpstreamId(pub u64);

/// A question (RFC 1035 section 4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name, in the case the client sent.
    pub qname: Name,
    /// The type.
    pub qtype: RType,
    /// The class.
    pub qclass: Class,
}

/// What the client's query said besides the question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// The client's address: resolutions per client are limited.
    pub client: IpAddr,
    /// CD (RFC 4035 section 3.2.2): the client validates itself. Part of the mesh key.
    pub checking_disabled: bool,
    /// DO (RFC 3225): the client wants DNSSEC records (the engine writes them).
    pub dnssec_ok: bool,
}

/// How an upstream query is to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamTransport {
    /// One datagram from a fresh socket on a random port.
    Udp,
    /// A TCP connection (RFC 7766); the I/O layer adds the two-byte length prefix.
    Tcp,
}

/// An upstream query to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Identifies the query in [`Recursor::handle_response`] and [`Recursor::poll_closed`].
    pub id: UpstreamId,
    /// Where to send it (port included).
    pub server: SocketAddr,
    /// Over what.
    pub transport: UpstreamTransport,
    /// The DNS message, without a TCP length prefix.
    pub message: Vec<u8>,
    /// When the recursor gives up on it (it also fires through [`Recursor::handle_timeout`]).
    pub deadline: Time,
}

/// What [`Recursor::handle_response`] made of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The answer was taken; the query is over.
    Accepted,
    /// Not the answer (spoofed, late, malformed): counted and ignored; keep listening.
    Rejected(Rejection),
    /// The query is already over (answered, timed out or abandoned): stop listening.
    /// (An addition to the contract.)
    Closed,
}

/// Something a security monitor wants to know, for the I/O layer to report
/// ([`Recursor::poll_event`]). Kept in a bounded queue: when the I/O layer does not take them,
/// the newest are dropped and counted ([`RecursorStats::events_dropped`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecursorEvent {
    /// A datagram for an upstream query was rejected as not the genuine answer (RFC 5452):
    /// wrong source, ID, question, case or cookie. `server` is where the query went.
    Rejected {
        /// The server the query was sent to.
        server: SocketAddr,
        /// Why the datagram was rejected.
        reason: Rejection,
    },
    /// A work limit ended a client question (SERVFAIL with an EDE), or the random-subdomain
    /// cap held.
    Limit {
        /// Which limit.
        kind: LimitKind,
        /// The question it ended.
        question: Question,
        /// The client that asked, when one did (not for prefetches or internal lookups).
        client: Option<IpAddr>,
    },
    /// A zone's NXDOMAIN rate went above the threshold: its upstream queries are capped from
    /// now on ([`zonecap`]).
    ZoneCapped {
        /// The zone (its delegation point).
        zone: Name,
    },
}

/// A finished resolution and the clients waiting for it.
#[derive(Clone, Debug)]
pub struct Finished {
    /// The clients to answer.
    pub waiters: Vec<WaiterId>,
    /// The question as the first client asked it.
    pub question: Question,
    /// The outcome, shared by every waiter.
    pub resolution: std::sync::Arc<Resolution>,
}

/// The outcome of resolving one question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// NOERROR, NXDOMAIN, SERVFAIL or REFUSED.
    pub rcode: Rcode,
    /// The answer section in order: the CNAME/DNAME chain first, then the data.
    pub answer: Vec<RrSet>,
    /// The SOA of a negative answer and its NSEC/NSEC3 proofs.
    pub authority: Vec<RrSet>,
    /// An Extended DNS Error (RFC 8914), e.g. which limit was hit.
    pub extended_error: Option<ExtendedError>,
    /// What DNSSEC validation concluded ([`Security::Indeterminate`] when not validated: CD,
    /// validation off, or a failure before any data).
    pub security: Security,
}

/// An Extended DNS Error (RFC 8914).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedError {
    /// The INFO-CODE (see `wire::edns::ExtendedError` constants).
    pub code: u16,
    /// EXTRA-TEXT for people.
    pub text: String,
}

/// The DNSSEC status of an answer (RFC 4035 section 4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Validated from a trust anchor.
    Secure,
    /// Provably unsigned.
    Insecure,
    /// Validation failed.
    Bogus,
    /// Not validated.
    Indeterminate,
}

#[cfg(test)]
mod tests {
    /// The I/O layer moves a recursor into a driver task on a multi-thread runtime and sends
    /// finished answers to other tasks.
    #[test]
    fn types_cross_threads() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<super::Recursor>();
        send::<super::Finished>();
        send::<super::Transmit>();
        sync::<super::Resolution>();
        send::<super::RecursorConfig>();
    }
}
