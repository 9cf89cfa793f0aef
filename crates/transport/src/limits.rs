//! Client limits and dynamic blocks (`[limits]`) in the transports: what the UDP workers and
//! TCP connections do with the decisions of [`guard::DynBlock`].
//!
//! Before the engine sees a query, `admit` asks whether the client's prefix is blocked or
//! over its query rate, and acts: nothing is sent (drop), or a response of the query's header
//! and question alone is written with REFUSED, or with TC set (truncate: over UDP only; a TCP
//! query of a prefix blocked with `truncate` is answered, as TCP is what truncation asks a
//! client to use). After a response is sent, `record` counts its RCODE (NXDOMAIN) and size
//! against the rules on responses. A block's start is counted once
//! (`portcullis_dynamic_blocks_total`), logged, and reported as one security event
//! ([`events::Action::DynamicBlock`]); every query acted on is counted in
//! `portcullis_client_limited_total{action}`, and a query over the plain rate is a
//! [`events::Action::RateLimited`] event (reason `query-rate`).

use std::net::IpAddr;
use std::sync::Arc;

use events::{Action, Event};
use guard::DynBlock;
use guard::dynblock::{BlockAction, Metric, RateAction, Started, Verdict};
use metrics::{ClientLimited, DropReason, Transport, WorkerMetrics};

use crate::guards::Guards;

/// REFUSED.
const REFUSED: u8 = 5;

/// The shared client limiter, handed to every UDP worker and TCP listener; cheap to clone.
#[derive(Clone, Debug)]
pub struct ClientLimits {
    table: Arc<DynBlock>,
}

impl ClientLimits {
    /// Shares `table` between the transports.
    pub fn new(table: DynBlock) -> ClientLimits {
        ClientLimits {
            table: Arc::new(table),
        }
    }

    /// The limiter.
    pub fn table(&self) -> &DynBlock {
        &self.table
    }
}

/// What to do with a query before the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Answer it as usual.
    Answer,
    /// Send nothing.
    Drop,
    /// Send the first `n` bytes of the output buffer (a REFUSED or truncated response).
    Reply(usize),
}

/// Asks the client limits of `guards` about a query from `ip` on `transport` (see the
/// [module docs](self)); a response it calls for is written into `out`.
pub(crate) fn admit(
    guards: &Guards,
    metrics: &mut WorkerMetrics,
    transport: Transport,
    ip: IpAddr,
    query: &[u8],
    now: cache::Time,
    out: &mut [u8],
) -> Gate {
    let Some(limits) = &guards.limits else {
        return Gate::Answer;
    };
    let admission = limits.table.admit(ip, now.as_millis());
    if let Some(started) = admission.started {
        block_started(guards, metrics, ip, &started);
    }
    let (label, rcode, truncated) = match admission.verdict {
        Verdict::Pass => return Gate::Answer,
        Verdict::Blocked(BlockAction::Truncate) if transport != Transport::Udp => {
            return Gate::Answer;
        }
        Verdict::Blocked(BlockAction::Drop) => (ClientLimited::BlockDrop, None, false),
        Verdict::Blocked(BlockAction::Truncate) => (ClientLimited::BlockTruncate, Some(0), true),
        Verdict::Blocked(BlockAction::Refuse) => (ClientLimited::BlockRefuse, Some(REFUSED), false),
        Verdict::Limited(RateAction::Drop) => (ClientLimited::RateDrop, None, false),
        Verdict::Limited(RateAction::Refuse) => (ClientLimited::RateRefuse, Some(REFUSED), false),
    };
    metrics.count_client_limited(label);
    if let Verdict::Limited(_) = admission.verdict {
        guards
            .events
            .emit(Event::new(Action::RateLimited, "query-rate").client(ip));
    }
    let Some(rcode) = rcode else {
        metrics.count_dropped(transport, DropReason::Policy);
        return Gate::Drop;
    };
    match guard::dynblock::limited_reply(query, out, rcode, truncated) {
        Some(len) => {
            metrics.count_response(transport, metrics::Rcode::from_code(u16::from(rcode)));
            if truncated {
                metrics.count_truncated(transport);
            }
            Gate::Reply(len)
        }
        None => {
            metrics.count_malformed(transport);
            Gate::Drop
        }
    }
}

/// Counts a response of `len` bytes with `rcode` sent to `ip` against the rules on
/// responses.
pub(crate) fn record(
    guards: &Guards,
    metrics: &mut WorkerMetrics,
    ip: IpAddr,
    rcode: u16,
    len: usize,
    now: cache::Time,
) {
    let Some(limits) = &guards.limits else {
        return;
    };
    if let Some(started) = limits.table.record(ip, rcode, len, now.as_millis()) {
        block_started(guards, metrics, ip, &started);
    }
}

/// A dynamic block started: counted, logged and reported once.
fn block_started(guards: &Guards, metrics: &mut WorkerMetrics, ip: IpAddr, started: &Started) {
    metrics.count_dynamic_block();
    let reason = match started.metric {
        Metric::Queries => "query-rate",
        Metric::NxDomains => "nxdomain-rate",
        Metric::LargeResponses => "large-response-rate",
    };
    let seconds = guards.limits.as_ref().map_or(0, |l| {
        l.table()
            .config()
            .rules
            .get(started.rule)
            .map_or(0, |r| r.duration)
    });
    guards.events.emit(
        Event::new(Action::DynamicBlock, reason)
            .client(ip)
            .detail(format!(
                "rule {}: {} for {seconds} s",
                started.rule + 1,
                started.action.name()
            )),
    );
    tracing::warn!(
        client = %ip,
        rule = started.rule,
        metric = started.metric.name(),
        action = started.action.name(),
        "dynamic block started"
    );
}
