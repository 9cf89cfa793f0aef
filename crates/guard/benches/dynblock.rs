//! The cost of client limits on the hot path: one admission (query rate and a rule on
//! queries) and one response recorded (rules on NXDOMAIN and large responses).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use guard::dynblock::{BlockAction, Metric, Rule};
use guard::{DynBlock, DynBlockConfig};

fn rule(metric: Metric) -> Rule {
    Rule {
        metric,
        per_second: 1000,
        window: 10,
        action: BlockAction::Refuse,
        duration: 60,
    }
}

fn limits(c: &mut Criterion) {
    let d = DynBlock::new(DynBlockConfig {
        query_rate: 100_000,
        rules: vec![
            rule(Metric::Queries),
            rule(Metric::NxDomains),
            rule(Metric::LargeResponses),
        ],
        ..DynBlockConfig::default()
    });
    let mut i = 0u32;
    c.bench_function("dynblock_admit_many_clients", |b| {
        b.iter(|| {
            i = i.wrapping_add(257);
            let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i & 0xff_ffff)));
            black_box(d.admit(black_box(client), 1_000))
        })
    });
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    c.bench_function("dynblock_record_nxdomain", |b| {
        b.iter(|| black_box(d.record(black_box(client), 3, 100, 1_000)))
    });
    c.bench_function("dynblock_record_noerror", |b| {
        b.iter(|| black_box(d.record(black_box(client), 0, 100, 1_000)))
    });
}

criterion_group!(benches, limits);
criterion_main!(benches);
