//! Counting a query into the dashboard's top-k tables allocates nothing: known names, new
//! names that evict others, blocked names, and a window's decay.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use alloc_count::allocations;
use metrics::{TopConfig, TopTables};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[test]
fn observe_does_not_allocate() {
    let tables = TopTables::new(TopConfig {
        capacity: 64,
        ..TopConfig::default()
    });
    let mut worker = tables.worker();
    let queries: Vec<Vec<u8>> = (0..2_000)
        .map(|i| query(&format!("h{i}.example.com")))
        .collect();
    let clients: Vec<IpAddr> = (0..=255u8).map(|i| IpAddr::from([10, 0, 0, i])).collect();
    let before = allocations();
    for (i, q) in queries.iter().enumerate() {
        let now = (i / 500) as u64 * 60;
        worker.observe(q, clients[i % clients.len()], i % 7 == 0, now);
        worker.observe(&queries[0], clients[0], false, now);
    }
    assert_eq!(allocations(), before, "observe allocated");
    let top = tables.snapshot(3, 120);
    assert_eq!(top.names[0].key, "h0.example.com.");
}
