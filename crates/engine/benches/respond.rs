//! The whole authoritative path of one query through the engine: read, route, answer, finish,
//! on a zone of 10,000 hosts (30,000 records); and a resolver's cache hit, without and with
//! the tunnelling detector on (it should cost one atomic load: no verdict stands).

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

fn cache_hit(c: &mut Criterion) {
    use std::sync::Arc;
    let now = Time::from_millis(1_000_000_000);
    let cache = Arc::new(cache::Cache::new(cache::CacheConfig::default()));
    cache.insert_rrset(
        &cache::RrSet {
            owner: "www.cached.example.".parse().unwrap(),
            rtype: RType::A,
            class: wire::Class::IN,
            ttl: 3600,
            rdatas: vec![vec![192, 0, 2, 1]],
            sigs: Vec::new(),
        },
        cache::Trust::AuthAnswer,
        now,
    );
    let resolver = engine::Resolver::new(
        cache,
        guard::Acl::allowing(&["192.0.2.0/24".parse().unwrap()]),
    );
    let plain = common::engine(10).with_resolver(resolver.clone());
    let detector = detect::Detector::new(
        detect::DetectConfig {
            mode: detect::Mode::Block,
            ..detect::DetectConfig::default()
        },
        detect::Model::embedded().unwrap(),
        detect::Psl::embedded(),
        now.as_millis(),
    );
    let detecting = common::engine(10)
        .with_resolver(resolver)
        .with_detector(engine::Detection {
            detector: Arc::new(detector),
            mode: detect::Mode::Block,
            sinkhole_v4: std::net::Ipv4Addr::UNSPECIFIED,
            sinkhole_v6: std::net::Ipv6Addr::UNSPECIFIED,
            record: Arc::new(engine::DetectRecord::new()),
        });
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut out = [0u8; 1232];
    let query = common::query("www.cached.example.", RType::A);
    let mut group = c.benchmark_group("cache_hit");
    for (label, engine) in [("detect_off", &plain), ("detect_block", &detecting)] {
        group.bench_function(label, |b| {
            b.iter(
                || match engine.respond(black_box(&query), &client, now, &mut out) {
                    Outcome::Reply(info) => info.len,
                    _ => panic!("expected a reply"),
                },
            )
        });
    }
    group.finish();
}

criterion_group!(benches, respond, cache_hit);
criterion_main!(benches);
