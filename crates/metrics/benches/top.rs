//! The cost of the dashboard's top-k tables on the query path: one query observed by a worker
//! (question name read and lowercased, name and client hashed, slots updated), over 1,024
//! names asked in turn (all in the tables) and over ever-new names (each one evicts).
//! Run: `cargo bench -p metrics --bench top`.
//!
//! On the shared 2-core machine under a load average of 11 to 13 (where `hot_path`'s two
//! counts took 15 ns instead of their quiet 9 ns): about 175 ns a known name, 200 ns a new one.
//! callgrind counts about 400 instructions an observed query (`tests/top_no_alloc.rs`, decay
//! included), hence `dashboard.top_sample` = 8 by default.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use metrics::{TopConfig, TopTables};

fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

fn top(c: &mut Criterion) {
    let tables = TopTables::new(TopConfig::default());
    let mut w = tables.worker();
    let known: Vec<Vec<u8>> = (0..1024)
        .map(|i| query(&format!("www{i}.example.com")))
        .collect();
    let fresh: Vec<Vec<u8>> = (0..65_536)
        .map(|i| query(&format!("n{i}.cdn.example.net")))
        .collect();
    let clients: Vec<IpAddr> = (0..256u32)
        .map(|i| IpAddr::from([10, 0, (i >> 8) as u8, i as u8]))
        .collect();
    let mut group = c.benchmark_group("top");
    let mut i = 0usize;
    group.bench_function("observe, known names", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            w.observe(
                black_box(&known[i]),
                clients[i & 255],
                i.is_multiple_of(10),
                0,
            );
        })
    });
    group.bench_function("observe, new names (evicting)", |b| {
        b.iter(|| {
            i = (i + 1) & 65_535;
            w.observe(black_box(&fresh[i]), clients[i & 255], false, 0);
        })
    });
    group.finish();
}

criterion_group!(benches, top);
criterion_main!(benches);
