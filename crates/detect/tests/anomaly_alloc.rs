//! Learned anomalies allocate nothing per query: observing queries and answers, opening and
//! closing windows, evicting entries and checking limits run under a counting allocator. Only
//! an alert (rare) allocates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use alloc_count::allocations;
use detect::{Anomalies, AnomalyConfig, Observation};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

fn traffic(a: &Anomalies, range: std::ops::Range<u64>) {
    for i in range {
        let now = i * 6;
        let client = IpAddr::V4(Ipv4Addr::from_bits(((i % 2000) as u32) << 8 | 7));
        let o = Observation {
            client,
            domain_hash: i % 1000,
            name_hash: (i % 20_000).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            new_domain: i % 7 == 0,
            domain_alerted: false,
        };
        assert!(a.observe(&o, now).is_none());
        assert!(a.observe_answer(client, i % 3 == 0, now).is_none());
    }
}

#[test]
fn observing_allocates_nothing() {
    // Before any baseline is learned, then with limits in force (steady traffic that raises
    // nothing): windows of 10,000 queries roll, 2,000 client prefixes fill 2,048 set-associative slots (some evict).
    let config = AnomalyConfig {
        clients_capacity: 2048,
        learning_ms: 0,
        ..AnomalyConfig::default()
    };
    let a = Anomalies::new(config, 0);
    let before = allocations();
    traffic(&a, 0..100_000);
    assert_eq!(allocations(), before);
    traffic(&a, 100_000..300_000);
    let before = allocations();
    traffic(&a, 300_000..400_000);
    assert_eq!(allocations(), before);
}
