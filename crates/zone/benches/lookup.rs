//! Criterion benchmarks of [`Zone::lookup`]: an exact hit, NODATA, NXDOMAIN, a wildcard match and
//! a referral, on generated zones of 10,000 and 1,000,000 names. Figures and commands are in
//! docs/PERFORMANCE.md.
//!
//! Each case cycles through 4,096 query names spread over the whole zone, so that at 1,000,000
//! names the lookup pays the cache misses it would pay under real traffic; the timed part is the
//! whole `lookup` call, name hashing or key building included.
//!
//! With `LOOKUP_COUNT=<size>/<case>` in the environment (e.g. `1M/hit`) the binary instead runs
//! 100,000 lookups of that case in `count_lookups` and exits, for instruction counts under
//! `valgrind --tool=callgrind --toggle-collect=*count_lookups*`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use wire::{Class, Name, RType};
use zone::{Lookup, Record, Zone, ZoneBuilder};

/// Queries per case; a power of two.
const QUERIES: usize = 4096;

/// A zone of about `names` names: a unit of `host<u>` (A, AAAA, MX, TXT), `www<u>` (A), a
/// delegation `del<u>` (two NS) with glue `ns1.del<u>` (A, AAAA) and `ns2.del<u>` (A), and for
/// every eighth unit a wildcard `*.wild<u>` (A, TXT) under the empty non-terminal `wild<u>`.
/// Returns the zone and the number of units.
fn build(names: usize) -> (Zone, u32) {
    let origin: Name = "example.".parse().unwrap();
    let mut b = ZoneBuilder::new(origin.clone());
    let mut add = |owner: &Name, rtype: RType, rdata: Vec<u8>| {
        b.add(Record {
            owner: owner.clone(),
            class: Class::IN,
            rtype,
            ttl: 3600,
            rdata,
            loc: None,
        });
    };
    let rel = |text: String| Name::from_text(text.as_bytes(), Some(origin.as_ref())).unwrap();
    let ns = rel("ns".into());
    let mut soa = ns.as_wire().to_vec();
    soa.extend_from_slice(rel("hostmaster".into()).as_wire());
    for v in [2024010101u32, 7200, 3600, 1_209_600, 300] {
        soa.extend_from_slice(&v.to_be_bytes());
    }
    add(&origin, RType::SOA, soa);
    add(&origin, RType::NS, ns.as_wire().to_vec());
    add(&ns, RType::A, vec![192, 0, 2, 1]);
    let mut count = 2;
    let mut unit = 0u32;
    while count < names {
        let [a, b, c, d] = unit.to_be_bytes();
        let host = rel(format!("host{unit}"));
        add(&host, RType::A, vec![10, b, c, d]);
        let aaaa = [&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 8], &[a, b, c, d]].concat();
        add(&host, RType::AAAA, aaaa.clone());
        let mut mx = 10u16.to_be_bytes().to_vec();
        mx.extend_from_slice(rel(format!("mail{}", unit % 16)).as_wire());
        add(&host, RType::MX, mx);
        let txt = format!("v=spf1 ip4:10.{b}.{c}.{d} -all");
        let txt = [&[txt.len() as u8][..], txt.as_bytes()].concat();
        add(&host, RType::TXT, txt.clone());
        add(&rel(format!("www{unit}")), RType::A, vec![10, b, c, d]);
        let cut = rel(format!("del{unit}"));
        let ns1 = rel(format!("ns1.del{unit}"));
        let ns2 = rel(format!("ns2.del{unit}"));
        add(&cut, RType::NS, ns1.as_wire().to_vec());
        add(&cut, RType::NS, ns2.as_wire().to_vec());
        add(&ns1, RType::A, vec![172, 16, c, d]);
        add(&ns1, RType::AAAA, aaaa);
        add(&ns2, RType::A, vec![172, 16, c, d.wrapping_add(1)]);
        count += 5;
        if unit.is_multiple_of(8) {
            let wild = rel(format!("*.wild{unit}"));
            add(&wild, RType::A, vec![10, 255, c, d]);
            add(&wild, RType::TXT, txt);
            count += 2;
        }
        unit += 1;
    }
    let zone = match b.finish() {
        Ok(built) => built.zone,
        Err(problems) => panic!("zone refused: {}", problems[0]),
    };
    (zone, unit)
}

/// `QUERIES` queries made by `make` from pseudo-random unit numbers below `units`.
fn queries(units: u32, make: impl Fn(u32) -> (String, RType)) -> Vec<(Name, RType)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..QUERIES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let (text, rtype) = make((state % u64::from(units)) as u32);
            (text.parse().unwrap(), rtype)
        })
        .collect()
}

/// The queries of one case.
type Queries = Vec<(Name, RType)>;

type Case = (
    &'static str,
    fn(u32) -> (String, RType),
    fn(&Lookup<'_>) -> bool,
);

const SIZES: [(&str, usize); 2] = [("10k", 10_000), ("1M", 1_000_000)];

const CASES: [Case; 5] = [
    (
        "hit",
        |u| (format!("host{u}.example."), RType::A),
        |l| {
            matches!(
                l,
                Lookup::Answer {
                    wildcard: false,
                    ..
                }
            )
        },
    ),
    (
        "nodata",
        |u| (format!("www{u}.example."), RType::AAAA),
        |l| {
            matches!(
                l,
                Lookup::NoData {
                    wildcard: false,
                    ..
                }
            )
        },
    ),
    (
        "nxdomain",
        |u| (format!("nohost{u}.example."), RType::A),
        |l| matches!(l, Lookup::NxDomain { .. }),
    ),
    (
        "wildcard",
        |u| (format!("q{u}.wild{}.example.", u & !7), RType::A),
        |l| matches!(l, Lookup::Answer { wildcard: true, .. }),
    ),
    (
        "referral",
        |u| (format!("www.del{u}.example."), RType::A),
        |l| matches!(l, Lookup::Referral { .. }),
    ),
];

/// The zone of `names` names and the queries of each case, checked against the expected kind.
fn setup(names: usize) -> (Zone, Vec<(&'static str, Queries)>) {
    let (zone, units) = build(names);
    eprintln!(
        "zone: {} names, {} records, {:.1} bytes/record",
        zone.name_count(),
        zone.record_count(),
        zone.memory_bytes() as f64 / zone.record_count() as f64
    );
    let cases = CASES
        .iter()
        .map(|&(name, make, expect)| {
            let qs = queries(units, make);
            for (qname, qtype) in &qs {
                let l = zone.lookup(qname.as_ref(), *qtype);
                assert!(expect(&l), "{qname} {qtype}: {l:?}");
            }
            (name, qs)
        })
        .collect();
    (zone, cases)
}

fn lookups(c: &mut Criterion) {
    for (label, names) in SIZES {
        let (zone, cases) = setup(names);
        let mut group = c.benchmark_group(format!("lookup/{label}"));
        for (name, qs) in cases {
            group.bench_function(name, |b| {
                let mut i = 0usize;
                b.iter(|| {
                    let (qname, qtype) = &qs[i % QUERIES];
                    i = i.wrapping_add(1);
                    black_box(zone.lookup(black_box(qname.as_ref()), black_box(*qtype)))
                })
            });
        }
        group.finish();
    }
}

/// Runs `n` lookups cycling through `qs`; returns how many were answers.
#[inline(never)]
fn count_lookups(zone: &Zone, qs: &[(Name, RType)], n: usize) -> usize {
    let mut answers = 0;
    for i in 0..n {
        let (qname, qtype) = &qs[i % QUERIES];
        let l = zone.lookup(black_box(qname.as_ref()), black_box(*qtype));
        answers += usize::from(matches!(black_box(l), Lookup::Answer { .. }));
    }
    answers
}

criterion_group!(benches, lookups);

fn main() {
    if let Ok(which) = std::env::var("LOOKUP_COUNT") {
        let (size, case) = which.split_once('/').unwrap();
        let names = SIZES.iter().find(|s| s.0 == size).unwrap().1;
        let (zone, cases) = setup(names);
        let qs = &cases.iter().find(|c| c.0 == case).unwrap().1;
        let answers = count_lookups(&zone, qs, 100_000);
        eprintln!("{which}: 100000 lookups, {answers} answers");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
