//! What one worker thread counts: [`WorkerMetrics`], and the shard it publishes through.
//!
//! Each worker owns one [`WorkerMetrics`]. Its counters live in a `Shard` of `AtomicU64`s that
//! only that worker writes: an increment is a relaxed load and a relaxed store (on x86-64 and
//! AArch64, two plain `mov`s), never a read-modify-write, so there is no lock, no `lock`-prefixed
//! instruction and no cache line shared between writers. The [`Registry`](crate::Registry) keeps
//! an `Arc` of every shard and sums them when it is scraped.
//!
//! Why not a plain `u64` copy beside the atomics (increment the copy, store it)? With a single
//! writer, loading the atomic gives the same value the copy would, from the same cache line, so
//! the copy only doubles the memory. `&mut self` on every method keeps the single-writer rule
//! checked by the compiler: a `WorkerMetrics` cannot be shared between threads to write.
//!
//! A scrape may see one counter of a worker updated and another not yet: the totals are
//! eventually exact (exact once the workers are quiet, exact after they are joined), which is
//! all Prometheus asks of counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::labels::{
    ClientLimited, DropReason, QType, RateLimited, Rcode, Source, TcpReject, Transport,
};

// ---------------------------------------------------------------------------------------------
// Latency buckets
// ---------------------------------------------------------------------------------------------

/// Upper bound of the first latency bucket, in nanoseconds: 10 µs.
pub const LATENCY_FIRST_BOUND_NS: u64 = 10_000;

/// Number of finite latency buckets. Bucket `i` holds latencies up to
/// `LATENCY_FIRST_BOUND_NS << i`: 10 µs, 20 µs, 40 µs, ... 655.36 ms, 1.31072 s.
pub const LATENCY_BUCKETS: usize = 18;

/// The upper bound of finite bucket `i`, in nanoseconds.
pub const fn latency_bound_ns(i: usize) -> u64 {
    LATENCY_FIRST_BOUND_NS << i
}

/// The bucket a latency of `ns` nanoseconds falls in: the first whose bound is at least `ns`, or
/// [`LATENCY_BUCKETS`] (the `+Inf` bucket) when it is above them all.
///
/// With bounds doubling from 10 µs this is a division by a constant (a multiply) and a count of
/// leading zeros: the smallest `i` with `ceil(ns / 10 µs) <= 2^i`.
#[inline]
pub fn latency_bucket(ns: u64) -> usize {
    let units = ns.div_ceil(LATENCY_FIRST_BOUND_NS);
    let i = (u64::BITS - units.saturating_sub(1).leading_zeros()) as usize;
    if i < LATENCY_BUCKETS {
        i
    } else {
        LATENCY_BUCKETS
    }
}

// ---------------------------------------------------------------------------------------------
// Shard
// ---------------------------------------------------------------------------------------------

const T: usize = Transport::COUNT;
const S: usize = Source::COUNT;

/// The counters of one worker. Aligned so no two shards share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shard {
    pub(crate) queries: [[AtomicU64; QType::COUNT]; T],
    pub(crate) responses: [[AtomicU64; Rcode::COUNT]; T],
    /// Per transport and answer source: the finite buckets, then `+Inf`. Not cumulative: each
    /// observation lands in one slot; the exposition adds them up.
    pub(crate) latency: [[[AtomicU64; LATENCY_BUCKETS + 1]; S]; T],
    pub(crate) latency_sum_ns: [[AtomicU64; S]; T],
    pub(crate) truncated: [AtomicU64; T],
    pub(crate) malformed: [AtomicU64; T],
    pub(crate) dropped: [[AtomicU64; DropReason::COUNT]; T],
    /// UDP responses over their rate limit, by what was done with them.
    pub(crate) rate_limited: [AtomicU64; RateLimited::COUNT],
    /// Queries acted on by client limits, by action.
    pub(crate) client_limited: [AtomicU64; ClientLimited::COUNT],
    /// Dynamic blocks started.
    pub(crate) dynamic_blocks: AtomicU64,
    /// Connections accepted, closed and refused, per transport (UDP stays at zero).
    pub(crate) conn_opened: [AtomicU64; T],
    pub(crate) conn_closed: [AtomicU64; T],
    pub(crate) conn_rejected: [[AtomicU64; TcpReject::COUNT]; T],
}

impl Shard {
    pub(crate) fn new() -> Shard {
        Shard {
            queries: std::array::from_fn(|_| zeros()),
            responses: std::array::from_fn(|_| zeros()),
            latency: std::array::from_fn(|_| std::array::from_fn(|_| zeros())),
            latency_sum_ns: std::array::from_fn(|_| zeros()),
            truncated: zeros(),
            malformed: zeros(),
            dropped: std::array::from_fn(|_| zeros()),
            rate_limited: zeros(),
            client_limited: zeros(),
            dynamic_blocks: AtomicU64::new(0),
            conn_opened: zeros(),
            conn_closed: zeros(),
            conn_rejected: std::array::from_fn(|_| zeros()),
        }
    }
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

/// Adds `n` to a counter that only the calling worker writes: no read-modify-write needed.
#[inline]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

// ---------------------------------------------------------------------------------------------
// WorkerMetrics
// ---------------------------------------------------------------------------------------------

/// The counters of one worker thread, from [`Registry::worker`](crate::Registry::worker).
///
/// Keep it in the thread that counts; every method takes `&mut self`, so one `WorkerMetrics`
/// has one writer. Counts survive the `WorkerMetrics` being dropped: the registry keeps them.
#[derive(Debug)]
pub struct WorkerMetrics {
    shard: Arc<Shard>,
}

impl WorkerMetrics {
    pub(crate) fn new(shard: Arc<Shard>) -> WorkerMetrics {
        WorkerMetrics { shard }
    }

    /// Counts a query received on `transport` with query type `qtype`.
    #[inline]
    pub fn count_query(&mut self, transport: Transport, qtype: QType) {
        bump(&self.shard.queries[transport as usize][qtype as usize], 1);
    }

    /// Counts a response sent on `transport` with response code `rcode`.
    #[inline]
    pub fn count_response(&mut self, transport: Transport, rcode: Rcode) {
        bump(&self.shard.responses[transport as usize][rcode as usize], 1);
    }

    /// Records the time from receiving a query to handing its response to the transport, with
    /// the part of the server that answered it. One histogram per (transport, source) pair, so
    /// the source costs no extra counter update.
    #[inline]
    pub fn observe_latency(&mut self, transport: Transport, source: Source, latency: Duration) {
        let ns = latency
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(latency.subsec_nanos()));
        self.observe_latency_ns(transport, source, ns);
    }

    /// [`WorkerMetrics::observe_latency`] with the latency in nanoseconds.
    #[inline]
    pub fn observe_latency_ns(&mut self, transport: Transport, source: Source, ns: u64) {
        let (t, s) = (transport as usize, source as usize);
        bump(&self.shard.latency[t][s][latency_bucket(ns)], 1);
        bump(&self.shard.latency_sum_ns[t][s], ns);
    }

    /// Counts a response sent truncated (TC set) on `transport`.
    #[inline]
    pub fn count_truncated(&mut self, transport: Transport) {
        bump(&self.shard.truncated[transport as usize], 1);
    }

    /// Counts a message on `transport` that could not be parsed as a query.
    #[inline]
    pub fn count_malformed(&mut self, transport: Transport) {
        bump(&self.shard.malformed[transport as usize], 1);
    }

    /// Counts a query on `transport` dropped without a response, and why.
    #[inline]
    pub fn count_dropped(&mut self, transport: Transport, reason: DropReason) {
        bump(&self.shard.dropped[transport as usize][reason as usize], 1);
    }

    /// Counts a response over its rate limit, and what was done with it.
    #[inline]
    pub fn count_rate_limited(&mut self, decision: RateLimited) {
        bump(&self.shard.rate_limited[decision as usize], 1);
    }

    /// Counts a query acted on by client limits, and how.
    #[inline]
    pub fn count_client_limited(&mut self, action: ClientLimited) {
        bump(&self.shard.client_limited[action as usize], 1);
    }

    /// Counts a dynamic block started.
    #[inline]
    pub fn count_dynamic_block(&mut self) {
        bump(&self.shard.dynamic_blocks, 1);
    }

    /// Counts a connection accepted on `transport` (TCP, DoT, DoH, DoQ).
    #[inline]
    pub fn connection_opened(&mut self, transport: Transport) {
        bump(&self.shard.conn_opened[transport as usize], 1);
    }

    /// Counts a connection on `transport` closed. The open-connection gauge is opened minus
    /// closed, summed over all workers, so a connection may be closed on a worker other than
    /// the one that opened it.
    #[inline]
    pub fn connection_closed(&mut self, transport: Transport) {
        bump(&self.shard.conn_closed[transport as usize], 1);
    }

    /// Counts a connection on `transport` refused at accept time (or at its handshake), and
    /// why.
    #[inline]
    pub fn connection_rejected(&mut self, transport: Transport, reason: TcpReject) {
        bump(
            &self.shard.conn_rejected[transport as usize][reason as usize],
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_are_inclusive() {
        assert_eq!(latency_bucket(0), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(10_000), 0);
        assert_eq!(latency_bucket(10_001), 1);
        assert_eq!(latency_bucket(20_000), 1);
        assert_eq!(latency_bucket(20_001), 2);
        assert_eq!(latency_bucket(1_000_000_000), 17);
        assert_eq!(latency_bucket(latency_bound_ns(17)), 17);
        assert_eq!(latency_bucket(latency_bound_ns(17) + 1), LATENCY_BUCKETS);
        assert_eq!(latency_bucket(u64::MAX), LATENCY_BUCKETS);
    }

    #[test]
    fn bucket_matches_a_linear_search() {
        let linear = |ns: u64| {
            (0..LATENCY_BUCKETS)
                .find(|&i| ns <= latency_bound_ns(i))
                .unwrap_or(LATENCY_BUCKETS)
        };
        let mut ns = 0u64;
        while ns < 4_000_000_000 {
            for probe in [ns.saturating_sub(1), ns, ns + 1] {
                assert_eq!(latency_bucket(probe), linear(probe), "{probe}");
            }
            ns = ns * 3 / 2 + 7;
        }
        for i in 0..LATENCY_BUCKETS {
            let b = latency_bound_ns(i);
            for probe in [b - 1, b, b + 1] {
                assert_eq!(latency_bucket(probe), linear(probe), "{probe}");
            }
        }
    }

    #[test]
    fn bounds_cover_10us_to_1s() {
        assert_eq!(latency_bound_ns(0), 10_000);
        assert!(latency_bound_ns(LATENCY_BUCKETS - 1) >= 1_000_000_000);
        assert!(latency_bound_ns(LATENCY_BUCKETS - 2) < 1_000_000_000);
    }
}
