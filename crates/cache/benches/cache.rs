//! The cache's three paths: a client hit written into a message (plain, a CNAME chain, an
//! NXDOMAIN below a cached NXDOMAIN), a miss, and an insert into a full cache.
//! Run with `cargo bench -p cache --bench cache`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use cache::{AnswerMode, Cache, CacheConfig, NegativeKind, RrSet, Time, Trust};
use criterion::{Criterion, criterion_group, criterion_main};
use wire::{Class, Header, MessageWriter, Name, RType};

fn rrset(owner: &str, rtype: RType, rdata: Vec<u8>) -> RrSet {
    RrSet {
        owner: owner.parse().unwrap(),
        rtype,
        class: Class::IN,
        ttl: 3600,
        rdatas: vec![rdata],
        sigs: vec![],
    }
}

fn soa() -> RrSet {
    let mut rdata = "ns.example.".parse::<Name>().unwrap().as_wire().to_vec();
    rdata.extend_from_slice("host.example.".parse::<Name>().unwrap().as_wire());
    rdata.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 14, 16]);
    rrset("example.", RType::SOA, rdata)
}

fn cache_paths(c: &mut Criterion) {
    let cache = Cache::new(CacheConfig::default());
    let now = Time::from_millis(1_000);
    for i in 0..100_000 {
        let owner = format!("host{i}.example.");
        cache.insert_rrset(
            &rrset(&owner, RType::A, vec![192, 0, 2, 1]),
            Trust::AuthAnswer,
            now,
        );
    }
    let target = "host4242.example.".parse::<Name>().unwrap();
    cache.insert_rrset(
        &rrset("www.example.", RType::CNAME, target.as_wire().to_vec()),
        Trust::AuthAnswer,
        now,
    );
    let gone: Name = "gone.example.".parse().unwrap();
    cache.insert_negative(
        gone.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa(),
        &[],
        now,
    );

    let mut out = [0u8; 1232];
    let mut group = c.benchmark_group("cache");
    for (label, q) in [
        ("hit", "host4242.example."),
        ("hit_cname", "www.example."),
        ("hit_nxdomain_cut", "a.b.gone.example."),
        ("miss", "nothere.example."),
    ] {
        let qname: Name = q.parse().unwrap();
        group.bench_function(label, |b| {
            b.iter(|| {
                let mut w = MessageWriter::new(&mut out, 1232, Header::default()).unwrap();
                w.push_question(qname.as_ref(), RType::A, Class::IN)
                    .unwrap();
                let mode = AnswerMode::default();
                black_box(cache.answer(black_box(qname.as_ref()), RType::A, mode, now, &mut w))
            })
        });
    }
    let sets: Vec<RrSet> = (0..4096)
        .map(|i| rrset(&format!("new{i}.example."), RType::A, vec![192, 0, 2, 2]))
        .collect();
    let mut i = 0;
    group.bench_function("insert", |b| {
        b.iter(|| {
            i += 1;
            cache.insert_rrset(&sets[i % sets.len()], Trust::AuthAnswer, now)
        })
    });
    group.finish();
}

criterion_group!(benches, cache_paths);
criterion_main!(benches);
