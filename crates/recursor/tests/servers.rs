//! Busy and silent servers: questions queued while every server of a zone is at its
//! outstanding limit, and the RTO backoff when parallel queries time out together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::{LimitKind, Limits, RecursorConfig};
use sim::*;
use wire::{RType, Rcode};

/// A burst of forty questions toward one zone whose server takes two queries at a time: they
/// queue for slots and all get their answer; none fails for the busy server, and the server
/// never has more than two queries outstanding.
#[test]
fn a_burst_queues_for_busy_servers() {
    let mut sim = Sim::new(RecursorConfig {
        limits: Limits {
            max_outstanding_per_server: 2,
            ..Limits::default()
        },
        ..config()
    });
    add_world(&mut sim);
    sim.resolve("www.example.test.", RType::A);
    let from = sim.log.len();
    let waiters: Vec<u64> = (0..40)
        .map(|i| sim.submit(&format!("q{i}.example.test."), RType::A))
        .collect();
    sim.run();
    for w in waiters {
        let res = sim.answer(w);
        assert_eq!(res.rcode, Rcode::NXDOMAIN, "{res:?}");
    }
    let stats = sim.rec.stats();
    assert_eq!(stats.limit_hits(LimitKind::OutstandingPerServer), 0);
    assert!(stats.busy_waits >= 38, "{} waits", stats.busy_waits);
    // Each query is answered `latency` ms after it is sent: at most two in any such window.
    let sent: Vec<_> = sim.log[from..]
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .map(|s| s.at)
        .collect();
    assert_eq!(sent.len(), 40);
    for &at in &sent {
        let overlapping = sent
            .iter()
            .filter(|&&other| other >= at && other.millis_since(at) < sim.latency)
            .count();
        assert!(overlapping <= 2, "{overlapping} queries at once");
    }
    assert_eq!(sim.rec.in_flight(), 0);
}
