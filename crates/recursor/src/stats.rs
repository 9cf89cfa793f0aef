//! Counters of what the recursor did: plain `u64`s, read by the I/O layer for metrics.

use crate::config::LimitKind;
use crate::upstream::Rejection;

/// What one [`crate::Recursor`] has done since it was made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecursorStats {
    /// Upstream queries handed out over UDP.
    pub queries_udp: u64,
    /// Upstream queries handed out over TCP.
    pub queries_tcp: u64,
    /// Upstream answers accepted.
    pub responses_accepted: u64,
    /// Datagrams rejected, indexed by [`Rejection::index`] (see [`RecursorStats::rejected`]).
    pub rejected_by_reason: [u64; Rejection::ALL.len()],
    /// Datagrams for queries already over.
    pub late_responses: u64,
    /// Upstream queries that timed out.
    pub timeouts: u64,
    /// Upstream queries the I/O layer could not send or whose connection failed.
    pub send_failures: u64,
    /// Retries over TCP after a truncated UDP answer.
    pub tcp_fallbacks: u64,
    /// Retries without EDNS (FORMERR, NOTIMP, or silence to EDNS).
    pub edns_fallbacks: u64,
    /// Retries without 0x20 case checking for servers that do not echo case.
    pub case_fallbacks: u64,
    /// Lame answers (wrong referral, REFUSED, SERVFAIL, NOTAUTH, missing AA).
    pub lame: u64,
    /// Referrals followed.
    pub referrals: u64,
    /// RRsets dropped because they lay outside the answering server's zone.
    pub out_of_bailiwick: u64,
    /// Server addresses skipped because they are loopback, private or link-local.
    pub private_refused: u64,
    /// Questions ended by a limit, indexed by [`LimitKind::index`] (see
    /// [`RecursorStats::limit_hits`]).
    pub limits_hit: [u64; LimitKind::ALL.len()],
    /// Resolutions started (client questions, prefetches, sub-resolutions, priming).
    pub resolutions_started: u64,
    /// Client questions that joined a resolution already in flight.
    pub resolutions_joined: u64,
    /// Resolutions finished.
    pub resolutions_finished: u64,
    /// Resolutions answered from the cache without an upstream query.
    pub cache_answers: u64,
    /// Sub-resolutions started for name server addresses.
    pub sub_resolutions: u64,
    /// Priming queries (RFC 8109) started.
    pub primings: u64,
    /// Sub-resolutions abandoned because nothing waited for them any more.
    pub abandoned: u64,
    /// Resolutions that ended in SERVFAIL.
    pub servfails: u64,
    /// Answers validated secure (DNSSEC).
    pub validation_secure: u64,
    /// Answers judged insecure (provably unsigned, or outside every trust anchor).
    pub validation_insecure: u64,
    /// Answers judged bogus (answered SERVFAIL).
    pub validation_bogus: u64,
    /// Answers whose chain of trust could not be built, such as no room to fetch a key
    /// (EDE 5, DNSSEC Indeterminate; answered SERVFAIL like bogus, counted apart from it).
    pub validation_indeterminate: u64,
    /// Root primings (RFC 8109) whose answer replaced the hints.
    pub primings_succeeded: u64,
    /// Per-server samples dropped because the queue of [`crate::Recursor::poll_server_sample`]
    /// was full.
    pub server_samples_dropped: u64,
    /// Times a validation waited for DNSKEY or DS resolutions.
    pub validation_waits: u64,
    /// Signature verifications.
    pub signature_checks: u64,
    /// NXDOMAIN and NODATA answers synthesised from validated NSEC/NSEC3 records (RFC 8198).
    pub aggressive_answers: u64,
    /// Time spent judging answers (signatures, proofs), in nanoseconds.
    pub validation_nanos: u64,
    /// Times a resolution waited for a free slot because every server it could ask was at
    /// its outstanding-query limit.
    pub busy_waits: u64,
    /// Times a cached delegation whose servers all failed sent the resolution back to the
    /// parent zone for a fresh referral.
    pub parent_retries: u64,
    /// Security events dropped because the queue of [`crate::Recursor::poll_event`] was full.
    pub events_dropped: u64,
}

/// What happened with one upstream server, for per-server metrics: polled with
/// [`crate::Recursor::poll_server_sample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerSample {
    /// A query was sent to it.
    Sent,
    /// An answer from it was accepted after `rtt_ms` milliseconds.
    Answered {
        /// The round-trip time.
        rtt_ms: u64,
    },
    /// A query to it timed out, or could not be sent, or its connection failed.
    Failed,
}

impl RecursorStats {
    /// Datagrams rejected for `reason`.
    pub fn rejected(&self, reason: Rejection) -> u64 {
        self.rejected_by_reason[reason.index()]
    }

    /// Datagrams rejected for any reason.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_by_reason.iter().sum()
    }

    /// Questions ended by `kind`.
    pub fn limit_hits(&self, kind: LimitKind) -> u64 {
        self.limits_hit[kind.index()]
    }

    /// Upstream queries over both transports.
    pub fn queries(&self) -> u64 {
        self.queries_udp + self.queries_tcp
    }
}
