//! The whole authoritative hot path for one query: parse, zone lookup, write the response.
//! Figures and the command are in docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/answer.rs"]
mod answer;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wire::RType;

fn answer_path(c: &mut Criterion) {
    let zone = answer::zone(10_000);
    let mut out = [0u8; 1232];
    let cases = [
        ("hit_a", "host4242.example.test.", RType::A),
        ("hit_mx", "host4242.example.test.", RType::MX),
        ("nodata", "host4242.example.test.", RType::TXT),
        ("nxdomain", "nope.example.test.", RType::A),
        ("wildcard", "x.wild.example.test.", RType::TXT),
        ("referral", "www.sub.example.test.", RType::A),
    ];
    let mut group = c.benchmark_group("answer");
    for (label, name, qtype) in cases {
        let query = answer::query(name, qtype);
        group.bench_function(label, |b| {
            b.iter(|| answer::answer(&zone, black_box(&query), &mut out).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, answer_path);
criterion_main!(benches);
