//! The detector's per-query calls allocate nothing on traffic that raises no alert: a standing
//! verdict checked before the cache, a cache miss scored and counted (features, the query
//! model, the domain's windows, the anomaly baselines) and its answer counted, under a counting
//! allocator. Only an alert, which is rare, builds its explanation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use alloc_count::allocations;
use detect::{DetectConfig, Detector, Mode, Model, Psl};
use wire::{Name, RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

#[test]
fn scoring_and_counting_ordinary_misses_allocates_nothing() {
    let config = DetectConfig {
        mode: Mode::Block,
        ..DetectConfig::default()
    };
    let detector = Detector::new(config, Model::embedded().unwrap(), Psl::embedded(), 0);
    let hosts = ["www", "mail", "api", "cdn"];
    let names: Vec<Name> = (0..400)
        .map(|i| {
            format!("{}.site{}.co.uk.", hosts[i % 4], i % 100)
                .parse()
                .unwrap()
        })
        .collect();
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    // Every domain is tracked once before counting.
    for (i, qname) in names.iter().enumerate() {
        detector.on_miss(qname.as_ref(), RType::A, client, i as u64);
    }
    let before = allocations();
    let mut alerts = 0;
    {
        for round in 0..5u64 {
            for (i, qname) in names.iter().enumerate() {
                let now = 1_000 + round * 1_000 + i as u64;
                assert!(detector.check(qname.as_ref(), client, now).is_none());
                let decision = detector.on_miss(qname.as_ref(), RType::AAAA, client, now);
                alerts += usize::from(decision.alert.is_some());
                let seen = decision.seen.unwrap();
                detector.on_answer(qname.as_ref(), seen, client, Rcode::NOERROR, 120, now);
            }
        }
    }
    let counted = allocations() - before;
    assert_eq!(alerts, 0);
    assert_eq!(counted, 0, "allocations on the per-query path");
}
