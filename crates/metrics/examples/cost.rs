//! What counting one query costs: the updates a UDP worker makes per answered query
//! (`count_query`, `count_response`, `observe_latency` with its answer source), `N` times.
//! Run under callgrind twice (`N` and 0) and divide the difference by `N` for the instructions
//! per query; `bench/metrics.sh` does that.
//!
//!     cargo run --release -p metrics --example cost -- 100000

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use metrics::{QType, Rcode, Registry, Source, Transport};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let registry = Registry::new(SystemTime::now());
    let mut w = registry.worker();
    // Latencies spread over the buckets, as a real mix would be.
    let latencies: Vec<Duration> = (0..1024u64)
        .map(|i| Duration::from_nanos(5_000 + (i * 7_919) % 2_000_000))
        .collect();
    for i in 0..n {
        let latency = latencies[(i & 1023) as usize];
        w.count_query(black_box(Transport::Udp), QType::from_code(black_box(1)));
        w.count_response(black_box(Transport::Udp), Rcode::from_code(black_box(0)));
        w.observe_latency(black_box(Transport::Udp), black_box(Source::Cache), latency);
    }
    let totals = registry.totals();
    println!(
        "{} queries counted",
        totals.latency_count(Transport::Udp, Source::Cache)
    );
}
