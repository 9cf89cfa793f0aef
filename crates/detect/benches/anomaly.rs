//! The cost of one observed query (and of its answer) to the learned-anomaly detector's client
//! prefixes and server series, in a steady state with learned baselines: 1,000 client
//! prefixes, 5,000 domains, 100,000 queries a second of simulated time. (A domain's series
//! are counted in the domain table: `benches/domain.rs`.)
//! Run with `cargo bench -p detect --bench anomaly`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use detect::{Anomalies, AnomalyConfig, Observation};

/// This thread's user and system time in clock ticks (Linux, usually 100 a second), if known:
/// the bench machine is shared, and wall time counts the other processes' turns too.
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which ends with ')'): utime and stime are 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    Some(f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?)
}

const CLIENTS: u64 = 1_000;
const DOMAINS: u64 = 5_000;

fn anomaly(c: &mut Criterion) {
    let a = Anomalies::new(AnomalyConfig::default(), 0);
    let query = |i: u64| {
        let client = IpAddr::V4(Ipv4Addr::from_bits(((i * 7919 % CLIENTS) as u32) << 8 | 1));
        let d = i * 104_729 % DOMAINS;
        Observation {
            client,
            // The detector's keyed hash of the domain.
            domain_hash: d.wrapping_mul(0xff51_afd7_ed55_8ccd),
            name_hash: (i % 50_000).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            new_domain: false,
            domain_alerted: false,
        }
    };
    // Two hours of learning at 100 queries a second, so limits are in force.
    let mut i = 0;
    let mut now = 0;
    while now < 7_200_000 {
        let o = query(i);
        a.observe(&o, now);
        a.observe_answer(o.client, i % 50 == 0, now);
        i += 1;
        now += 10;
    }
    c.bench_function("anomaly/observe", |b| {
        b.iter(|| {
            let o = query(i);
            i += 1;
            // 100,000 queries a second: 6 million a window, about 1,000 per entity, so
            // window closes are amortised as on a busy server (and happen in a long run).
            now += u64::from(i % 100 == 0);
            black_box(a.observe(black_box(&o), now))
        })
    });
    c.bench_function("anomaly/observe_answer", |b| {
        b.iter(|| {
            let o = query(i);
            i += 1;
            now += u64::from(i % 100 == 0);
            black_box(a.observe_answer(black_box(o.client), i % 50 == 0, now))
        })
    });
    // The same loop, 20 million queries and answers timed in CPU time rather than wall time.
    const N: u64 = 20_000_000;
    let wall = Instant::now();
    let before = cpu_ticks();
    for _ in 0..N {
        let o = query(i);
        i += 1;
        now += u64::from(i % 100 == 0);
        black_box(a.observe(black_box(&o), now));
        black_box(a.observe_answer(black_box(o.client), i % 50 == 0, now));
    }
    let wall = wall.elapsed().as_nanos() as f64 / N as f64;
    match (before, cpu_ticks()) {
        (Some(b), Some(e)) => println!(
            "anomaly/observe+observe_answer: {:.0} ns CPU ({wall:.0} ns wall) per query",
            (e - b) as f64 * 10_000_000.0 / N as f64
        ),
        _ => println!("anomaly/observe+observe_answer: {wall:.0} ns wall per query"),
    }
}

criterion_group!(benches, anomaly);
criterion_main!(benches);
