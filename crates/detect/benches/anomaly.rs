//! The cost of one observed query (and of its answer) to the learned-anomaly detector, in a
//! steady state with learned baselines: 1,000 client prefixes, 5,000 domains, 100,000 queries a
//! second of simulated time.
//! Run with `cargo bench -p detect --bench anomaly`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use detect::{Anomalies, AnomalyConfig, Observation};
use wire::Name;

/// This thread's time on a CPU so far (Linux), else wall time: the bench machine is shared,
/// and wall time would count the other processes' turns.
fn cpu_ns(wall: Instant) -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| wall.elapsed().as_nanos() as u64)
}

/// Runs `f` `iters` times and returns the CPU time it took.
fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let wall = Instant::now();
    let start = cpu_ns(wall);
    for _ in 0..iters {
        f();
    }
    Duration::from_nanos(cpu_ns(wall) - start)
}

const CLIENTS: u64 = 1_000;
const DOMAINS: u64 = 5_000;

fn anomaly(c: &mut Criterion) {
    let a = Anomalies::new(AnomalyConfig::default(), 0);
    let domains: Vec<Name> = (0..DOMAINS)
        .map(|i| format!("domain{i}.example").parse().unwrap())
        .collect();
    let query = |i: u64| {
        let client = IpAddr::V4(Ipv4Addr::from_bits(((i * 7919 % CLIENTS) as u32) << 8 | 1));
        let domain = domains[(i * 104_729 % DOMAINS) as usize].as_ref();
        (
            Observation {
                client,
                domain,
                name_hash: (i % 50_000).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                new_domain: false,
            },
            domain,
        )
    };
    // Two hours of learning at 100 queries a second, so limits are in force.
    let mut i = 0;
    let mut now = 0;
    while now < 7_200_000 {
        let (o, d) = query(i);
        a.observe(&o, now);
        a.observe_answer(o.client, d, i % 50 == 0, now);
        i += 1;
        now += 10;
    }
    c.bench_function("anomaly/observe", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                let (o, _) = query(i);
                i += 1;
                // 100,000 queries a second: 6 million a window, about 1,000 per entity, so
                // window closes are amortised as on a busy server (and happen in a long run).
                now += u64::from(i % 100 == 0);
                black_box(a.observe(black_box(&o), now));
            })
        })
    });
    c.bench_function("anomaly/observe_answer", |b| {
        b.iter_custom(|iters| {
            timed(iters, || {
                let (o, d) = query(i);
                i += 1;
                now += u64::from(i % 100 == 0);
                black_box(a.observe_answer(black_box(o.client), d, i % 50 == 0, now));
            })
        })
    });
}

criterion_group!(benches, anomaly);
criterion_main!(benches);
