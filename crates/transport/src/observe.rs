//! The transports' side of the query log and dnstap: one [`QueryRecord`] per response sent,
//! built from the response's bytes and what the transport knows (client, port, transport,
//! latency, what answered), and dnstap's CLIENT_QUERY and CLIENT_RESPONSE. Callers test
//! [`Guards::observing`] (or `guards.dnstap`) first, so with both off a response costs that
//! one test.

use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use engine::{AnswerSource, QueryError};
use events::dnstap::{Dnstap, Kind, Protocol, Record};
use events::query::{Proto, QueryLog, QueryRecord};

use crate::guards::Guards;

/// The query's EDNS (payload size, DO), as far as the caller knows it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum QueryEdns<'a> {
    /// Read it from the query's bytes.
    Query(&'a [u8]),
    /// Already known (a resolved query's request).
    Known(Option<(u16, bool)>),
}

/// One response, as the query log needs it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answered<'a> {
    pub(crate) client: IpAddr,
    pub(crate) port: u16,
    pub(crate) proto: Proto,
    pub(crate) received: Instant,
    pub(crate) query: QueryEdns<'a>,
    /// The response as sent.
    pub(crate) response: &'a [u8],
    /// The engine's RCODE (with the EDNS bits), when it wrote the response.
    pub(crate) rcode: Option<u16>,
    pub(crate) source: &'static str,
    pub(crate) policy: Option<(&'static str, &'static str)>,
    /// Our address the query came to, when known (dnstap's response address).
    pub(crate) server: Option<SocketAddr>,
}

/// Offers a response sent to the query log and to dnstap.
pub(crate) fn answered(guards: &Guards, answered: &Answered<'_>) {
    if let Some(log) = &guards.query_log {
        self::log(log, answered);
    }
    if let Some(tap) = &guards.dnstap
        && tap.client()
    {
        tap.record(Record {
            kind: Kind::ClientResponse,
            protocol: protocol(answered.proto),
            query_address: Some(SocketAddr::new(answered.client, answered.port)),
            response_address: answered.server,
            query_time: None,
            response_time: Some(unix_now()),
            message: answered.response.into(),
        });
    }
}

/// Taps a client's query as it arrives at `server` (our address, when known).
pub(crate) fn client_query(
    tap: &Dnstap,
    client: SocketAddr,
    server: Option<SocketAddr>,
    proto: Proto,
    query: &[u8],
) {
    if !tap.client() {
        return;
    }
    tap.record(Record {
        kind: Kind::ClientQuery,
        protocol: protocol(proto),
        query_address: Some(client),
        response_address: server,
        query_time: Some(unix_now()),
        response_time: None,
        message: query.into(),
    });
}

/// The wall clock since the Unix epoch.
pub(crate) fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// The log's transport as dnstap's.
fn protocol(proto: Proto) -> Protocol {
    match proto {
        Proto::Udp => Protocol::Udp,
        Proto::Tcp => Protocol::Tcp,
        Proto::Dot => Protocol::Dot,
        Proto::Doh => Protocol::Doh,
        Proto::Doq => Protocol::Doq,
    }
}

/// Logs `answered` when this query is sampled.
fn log(log: &QueryLog, answered: &Answered<'_>) {
    if !log.sampled() {
        return;
    }
    let Some(mut record) = QueryRecord::of_response(answered.response) else {
        return;
    };
    record = match answered.query {
        QueryEdns::Query(query) => record.with_query_edns(query),
        QueryEdns::Known(Some((udp, dnssec_ok))) => record.with_edns(udp, dnssec_ok),
        QueryEdns::Known(None) => record,
    };
    record.time_ms = crate::clock::now().as_millis();
    record.client = answered.client;
    record.port = answered.port;
    record.proto = answered.proto;
    record.latency_us = u32::try_from(answered.received.elapsed().as_micros()).unwrap_or(u32::MAX);
    if let Some(rcode) = answered.rcode {
        record.rcode = rcode;
    }
    record.source = answered.source;
    record.policy = answered.policy;
    log.log(record);
}

/// What answered, as logged, and the policy that acted, if one did.
pub(crate) fn source(source: AnswerSource) -> (&'static str, Option<(&'static str, &'static str)>) {
    match source {
        AnswerSource::Zone { .. } => ("zone", None),
        AnswerSource::Chaos => ("chaos", None),
        AnswerSource::Cache { stale: false } => ("cache", None),
        AnswerSource::Cache { stale: true } => ("stale", None),
        AnswerSource::Recursion => ("recursion", None),
        AnswerSource::Transfer { .. } => ("transfer", None),
        AnswerSource::Failure => ("failure", None),
        AnswerSource::Detection => ("detection", Some(("tunnel", "detector verdict"))),
        AnswerSource::Policy { trigger } => ("policy", Some(("blocked", trigger.reason()))),
        AnswerSource::Error(e) => ("error", error_policy(e)),
    }
}

/// The policy behind an error response, when one caused it.
fn error_policy(e: QueryError) -> Option<(&'static str, &'static str)> {
    if let Some((_, purpose)) = e.acl() {
        return Some(("acl_refused", purpose.reason()));
    }
    match e {
        QueryError::BadCookie => Some(("cookie_failure", "bad cookie")),
        _ => None,
    }
}

/// The metrics' transport label as the log's transport.
pub(crate) fn proto(t: metrics::Transport) -> Proto {
    match t {
        metrics::Transport::Udp => Proto::Udp,
        metrics::Transport::Tcp => Proto::Tcp,
        metrics::Transport::Dot => Proto::Dot,
        metrics::Transport::Doh => Proto::Doh,
        metrics::Transport::Doq => Proto::Doq,
    }
}
