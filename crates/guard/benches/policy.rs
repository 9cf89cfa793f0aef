//! Loading a million suffix entries and matching names against them.
//!
//! `cargo bench -p guard --bench policy`. The load time and the memory per entry are printed
//! before the criterion runs (docs/PERFORMANCE.md keeps the figures).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use guard::policy::{DomainList, ListKind};
use wire::Name;

const ENTRIES: usize = 1_000_000;

/// A deterministic pseudo-random sequence (xorshift).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn host(state: &mut u64) -> String {
    let tlds = ["com", "net", "org", "io", "example"];
    let v = next(state);
    format!("h{:x}-{}.{}", v >> 20, v % 977, tlds[(v % 5) as usize])
}

fn match_million(c: &mut Criterion) {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut text = String::with_capacity(ENTRIES * 30);
    let mut listed = Vec::new();
    for i in 0..ENTRIES {
        let h = host(&mut state);
        text.push_str("||");
        text.push_str(&h);
        text.push_str("^\n");
        if i % 1000 == 0 {
            listed.push(h);
        }
    }
    let start = Instant::now();
    let list = DomainList::parse(text.as_bytes(), ListKind::Block, 2_000_000).unwrap_or_default();
    let took = start.elapsed();
    assert_eq!(list.len(), ENTRIES);
    println!(
        "loaded {} suffix entries in {:.2} s; {:.1} bytes per entry",
        list.len(),
        took.as_secs_f64(),
        list.heap_bytes() as f64 / list.len() as f64
    );
    // Names below listed entries (hits) and random names (misses), 4 labels deep.
    let hits: Vec<Name> = listed
        .iter()
        .map(|h| {
            format!("www.cdn.{h}.")
                .parse()
                .unwrap_or_else(|_| Name::root())
        })
        .collect();
    let misses: Vec<Name> = (0..1000)
        .map(|_| {
            format!("www.cdn.{}.", host(&mut state))
                .parse()
                .unwrap_or_else(|_| Name::root())
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("blocklist_1m_hit", |b| {
        b.iter(|| {
            i = (i + 1) % hits.len();
            black_box(list.blocks(black_box(hits[i].as_ref())))
        })
    });
    c.bench_function("blocklist_1m_miss", |b| {
        b.iter(|| {
            i = (i + 1) % misses.len();
            black_box(list.blocks(black_box(misses[i].as_ref())))
        })
    });
}

criterion_group!(benches, match_million);
criterion_main!(benches);
