//! The cost of counting on the query path: one query counted and one latency observed, as a
//! worker does per query. Run: `cargo bench -p metrics`.
//!
//! Measured on the shared 2-core development machine under a load average of about 7:
//! baseline (loop and inputs) 3.8 ns; `count_query` + `observe_latency_ns` 9.1 ns, so about
//! 5 ns for the two counts, the bucket index and the sum.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::{QType, Rcode, Registry, Transport};

fn hot_path(c: &mut Criterion) {
    let reg = Registry::new(SystemTime::now());
    let mut w = reg.worker();
    // Latencies from 0 to about 3 ms, so observations spread over the buckets.
    let latencies: Vec<u64> = (0..1024u64).map(|i| i * 2_939).collect();
    let mut group = c.benchmark_group("metrics");
    let mut i = 0usize;
    group.bench_function("baseline (loop and inputs alone)", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box((Transport::Udp, QType::A, latencies[i]));
        })
    });
    group.bench_function("count_query+observe_latency", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            w.count_query(black_box(Transport::Udp), black_box(QType::A));
            w.observe_latency_ns(
                black_box(Transport::Udp),
                black_box(metrics::Source::Cache),
                black_box(latencies[i]),
            );
        })
    });
    group.bench_function(
        "count_query+count_response+observe_latency(Duration)",
        |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                w.count_query(black_box(Transport::Udp), black_box(QType::from_code(28)));
                w.count_response(black_box(Transport::Udp), black_box(Rcode::from_code(0)));
                w.observe_latency(
                    black_box(Transport::Udp),
                    black_box(metrics::Source::Cache),
                    Duration::from_nanos(black_box(latencies[i])),
                );
            })
        },
    );
    group.finish();
    c.bench_function("metrics/render", |b| b.iter(|| black_box(reg.render())));
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
