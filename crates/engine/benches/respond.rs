//! The whole authoritative path of one query through the engine: read, route, answer, finish,
//! on a zone of 10,000 hosts (30,000 records).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use cache::Time;
use criterion::{Criterion, criterion_group, criterion_main};
use engine::{Client, Outcome, Transport};
use wire::RType;

fn respond(c: &mut Criterion) {
    let engine = common::engine(10_000);
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut out = [0u8; 1232];
    let cases = [
        ("hit", "host4242.example.test.", RType::A),
        ("nxdomain", "nope.example.test.", RType::A),
        ("referral", "www.sub.example.test.", RType::A),
        ("cname_chain", "alias.example.test.", RType::A),
    ];
    let mut group = c.benchmark_group("respond");
    for (label, name, qtype) in cases {
        let query = common::query(name, qtype);
        group.bench_function(label, |b| {
            b.iter(
                || match engine.respond(black_box(&query), &client, Time::ZERO, &mut out) {
                    Outcome::Reply(info) => info.len,
                    _ => panic!("expected a reply"),
                },
            )
        });
    }
    group.finish();
}

criterion_group!(benches, respond);
criterion_main!(benches);
