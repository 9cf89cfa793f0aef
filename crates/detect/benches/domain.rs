//! The per-domain state, the domain model, verdicts and the allow list on the per-query path:
//! a query to a hot domain, queries spread over 100,000 tracked domains (scattered, and drawn
//! by popularity as real traffic is; each query's name read from a stream, as a server reads
//! it from the packet it has just received), an answer, a new
//! domain evicting from a full table, a verdict check (none standing, another domain's, a
//! block) and allow-list weights. Prints the memory of 100,000 tracked domains.
//! Run with `cargo bench -p detect --bench domain`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use detect::verdict::{BlockKind, Enforce, Verdict, Verdicts};
use detect::{
    AllowList, DOMAIN_FEATURES, DomainConfig, DomainModel, DomainTable, QueryObservation,
};
use wire::{Name, NameRef, RType};

const DOMAINS: usize = 100_000;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// Resident set size in bytes, from /proc (Linux; 0 elsewhere).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// CPU time of this thread in ns, from /proc (Linux; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds of CPU per call of `f`, over `n` calls: unlike criterion's wall-clock figures,
/// time spent preempted on a shared machine is not counted.
fn cpu_ns_per_op(label: &str, n: u64, mut f: impl FnMut(u64)) {
    let start = thread_cpu_ns();
    for i in 0..n {
        f(i);
    }
    let ns = thread_cpu_ns().saturating_sub(start) as f64 / n as f64;
    eprintln!("{label}: {ns:.1} ns of CPU per call");
}

/// `n` domain indices below `domains`, drawn with Zipf's law of exponent `s` (the k-th most
/// popular domain asked in proportion to 1/k^s), the ranks scattered over the indices; seeded.
fn zipf_draws(domains: usize, s: f64, n: usize) -> Vec<usize> {
    let mut cdf = Vec::with_capacity(domains);
    let mut total = 0.0;
    for k in 1..=domains {
        total += 1.0 / (k as f64).powf(s);
        cdf.push(total);
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
            let rank = cdf.partition_point(|&c| c < u).min(domains - 1);
            (rank * 7919) % domains
        })
        .collect()
}

/// The registered domains of a run of queries, their wire forms one after another in
/// arrival order, with each one's index among the tracked domains.
struct QueryStream {
    wire: Vec<u8>,
    /// Each query's end in `wire` and its domain's index.
    ends: Vec<(u32, u32)>,
}

impl QueryStream {
    fn new(names: &[Name], order: &[usize]) -> QueryStream {
        let mut wire = Vec::new();
        let mut ends = Vec::with_capacity(order.len());
        for &j in order {
            wire.extend_from_slice(names[j].as_wire());
            ends.push((wire.len() as u32, j as u32));
        }
        QueryStream { wire, ends }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The `i`-th query's domain index and registered domain.
    fn get(&self, i: usize) -> (usize, NameRef<'_>) {
        let start = i.checked_sub(1).map_or(0, |p| self.ends[p].0 as usize);
        let (end, j) = self.ends[i];
        let domain = NameRef::from_wire(&self.wire[start..end as usize]).unwrap();
        (j as usize, domain)
    }
}

/// One query's observation; its domain's key taken here, as the detector takes it once a
/// query.
fn obs<'a>(
    table: &DomainTable,
    domain: &'a Name,
    left: &'a [u8],
    client: IpAddr,
) -> QueryObservation<'a> {
    obs_ref(table, domain.as_ref(), left, client)
}

/// [`obs`] of a name borrowed from a [`QueryStream`].
fn obs_ref<'a>(
    table: &DomainTable,
    domain: NameRef<'a>,
    left: &'a [u8],
    client: IpAddr,
) -> QueryObservation<'a> {
    QueryObservation {
        domain,
        key: table.key(domain),
        left,
        qtype: RType::A,
        client,
        score: 0.2,
        suspicious: false,
        weight: 1.0,
    }
}

fn domain_table(c: &mut Criterion) {
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let lefts: Vec<Vec<u8>> = (0..1024)
        .map(|i| {
            let n = name(&format!("{i:0>24}.data"));
            n.as_wire()[..n.len() - 1].to_vec()
        })
        .collect();
    let www = lefts[0].clone();

    // One hot domain, a new left part on each query: the gates are crossed, so every 4th
    // query also builds the feature vector.
    let table = DomainTable::new(DomainConfig::default());
    let hot = name("tunnel.example");
    cpu_ns_per_op("cpu/observe_query/hot_domain", 2_000_000, |i| {
        let left = &lefts[(i % 1024) as usize];
        black_box(table.observe_query(&obs(&table, &hot, left, client), i / 64));
    });
    let mut i = 0u64;
    c.bench_function("domain/observe_query/hot_domain", |b| {
        b.iter(|| {
            i += 1;
            let left = &lefts[(i % 1024) as usize];
            black_box(table.observe_query(&obs(&table, &hot, left, client), i / 64))
        })
    });
    c.bench_function("domain/observe_answer/hot_domain", |b| {
        b.iter(|| {
            i += 1;
            let hot = black_box(hot.as_ref());
            table.observe_answer(table.key(hot), false, 120)
        })
    });

    // 100,000 tracked domains, queried in a scattered order (cache-unfriendly).
    let names: Vec<Name> = (0..DOMAINS)
        .map(|i| name(&format!("site{i}.example")))
        .collect();
    let before = rss();
    let table = DomainTable::new(DomainConfig {
        capacity: DOMAINS * 5 / 4,
        ..DomainConfig::default()
    });
    for (t, d) in names.iter().enumerate() {
        table.observe_query(&obs(&table, d, &www, client), t as u64);
    }
    eprintln!(
        "{} domains tracked (capacity {}): memory_bytes() = {} ({} per domain), RSS grew {} bytes",
        table.len(),
        table.config().capacity,
        table.memory_bytes(),
        table.memory_bytes() / table.len().max(1),
        rss().saturating_sub(before),
    );
    // Each query's name is read from a stream of wire names in arrival order, as a server
    // reads it from the packet it has just received: in cache (the stream is read in order),
    // not from a table of 100,000 names that would add a cache miss of its own.
    let scattered: Vec<usize> = (0..1_000_000).map(|i| (i * 7919) % DOMAINS).collect();
    let stream = QueryStream::new(&names, &scattered);
    cpu_ns_per_op("cpu/observe_query/100k_domains", stream.len() as u64, |i| {
        let (j, domain) = stream.get(i as usize);
        let q = obs_ref(&table, domain, &www, client);
        black_box(table.observe_query(&q, 200_000 + j as u64));
    });
    // The same domains drawn by popularity: the amortised cost, most queries going to domains
    // asked recently, whose entries are still in cache. Misses are spread wider than queries
    // (a popular name is a cache hit until its TTL ends), hence the flatter 0.8 as well.
    for (label, s) in [
        ("cpu/observe_query/100k_domains_zipf_1.0", 1.0),
        ("cpu/observe_query/100k_domains_zipf_0.8", 0.8),
    ] {
        let stream = QueryStream::new(&names, &zipf_draws(DOMAINS, s, 1 << 20));
        cpu_ns_per_op(label, stream.len() as u64, |i| {
            let (_, domain) = stream.get(i as usize);
            let q = obs_ref(&table, domain, &www, client);
            black_box(table.observe_query(&q, 400_000 + i / 64));
        });
    }
    let mut j = 0usize;
    c.bench_function("domain/observe_query/100k_domains", |b| {
        b.iter(|| {
            j = (j + 7919) % DOMAINS;
            let t = 200_000 + j as u64;
            black_box(table.observe_query(&obs(&table, &names[j], &www, client), t))
        })
    });

    // A full table: every query is a new domain evicting the least recently seen.
    let full = DomainTable::new(DomainConfig {
        capacity: 10_000,
        ..DomainConfig::default()
    });
    let mut k = 0usize;
    let mut t = 0u64;
    c.bench_function("domain/observe_query/new_domain_evicting", |b| {
        b.iter(|| {
            k = (k + 1) % DOMAINS;
            t += 1;
            black_box(full.observe_query(&obs(&full, &names[k], &www, client), t))
        })
    });

    let model = DomainModel::new(
        [0.5; DOMAIN_FEATURES],
        [1.0; DOMAIN_FEATURES],
        [0.3; DOMAIN_FEATURES],
        -2.0,
        0.9,
    )
    .unwrap();
    let features = [1.5; DOMAIN_FEATURES];
    c.bench_function("domain/model_score", |b| {
        b.iter(|| black_box(model.score(black_box(&features))))
    });
}

fn verdicts(c: &mut Criterion) {
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let verdicts = Verdicts::new(1024);
    let other = name("example.com");
    cpu_ns_per_op("cpu/verdict/check/none_standing", 10_000_000, |i| {
        black_box(verdicts.check(black_box(other.as_ref()), client, i));
    });
    c.bench_function("verdict/check/none_standing", |b| {
        b.iter(|| black_box(verdicts.check(black_box(other.as_ref()), client, 1)))
    });
    let blocked = name("tunnel.example");
    verdicts.set(
        blocked.as_ref(),
        Verdict {
            enforce: Enforce::Block(BlockKind::Nxdomain),
            client: None,
            until_ms: u64::MAX,
            reason: "tunnel",
            summary: "bench".into(),
        },
        0,
    );
    c.bench_function("verdict/check/another_domain_standing", |b| {
        b.iter(|| black_box(verdicts.check(black_box(other.as_ref()), client, 1)))
    });
    c.bench_function("verdict/check/blocked", |b| {
        b.iter(|| black_box(verdicts.check(black_box(blocked.as_ref()), client, 1)))
    });

    let allow = AllowList::new(&[], 64);
    let plain = name("a1b2c3.cdn.example.com");
    let reverse = name("4.3.2.1.in-addr.arpa");
    cpu_ns_per_op("cpu/allow/weight/no_match", 2_000_000, |i| {
        black_box(allow.weight(black_box(plain.as_ref()), i));
    });
    c.bench_function("allow/weight/no_match", |b| {
        b.iter(|| black_box(allow.weight(black_box(plain.as_ref()), 1)))
    });
    c.bench_function("allow/weight/match", |b| {
        b.iter(|| black_box(allow.weight(black_box(reverse.as_ref()), 1)))
    });
}

criterion_group!(benches, domain_table, verdicts);
criterion_main!(benches);
