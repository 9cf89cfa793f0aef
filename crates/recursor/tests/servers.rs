//! Busy and silent servers: questions queued while every server of a zone is at its
//! outstanding limit, and the RTO backoff when parallel queries time out together.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::infra::{MAX_RTO_MS, UNKNOWN_RTO_MS};
use recursor::{LimitKind, Limits, RecursorConfig};
use sim::*;
use wire::{RType, Rcode};

/// The timeout the recursor gives its next query to 192.0.2.20 (which serves `example.test.`,
/// whose delegation is cached): submits a fresh question and reads the first transmit.
fn next_timeout_to_example(sim: &mut Sim, qname: &str) -> u64 {
    sim.submit(qname, RType::A);
    let t = sim.rec.poll_transmit().expect("a query");
    assert_eq!(t.server.ip(), ip("192.0.2.20"));
    t.deadline.millis_since(sim.now)
}

/// Unbound's `rtt_lost` rule: twenty queries sent together with the same timeout that all time
/// out double the server's RTO once, not twenty times.
#[test]
fn parallel_timeouts_back_off_once() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    sim.server("192.0.2.20").silent = true;
    let waiters: Vec<u64> = (0..20)
        .map(|i| sim.submit(&format!("q{i}.example.test."), RType::A))
        .collect();
    // All twenty go out at once with the same timeout (the server's measured RTO); the
    // simulated server never sees them, as if it were silent.
    let mut first = Vec::new();
    while let Some(t) = sim.rec.poll_transmit() {
        assert_eq!(t.server.ip(), ip("192.0.2.20"));
        first.push(t.deadline.millis_since(sim.now));
    }
    assert_eq!(first.len(), 20);
    let rto = first[0];
    assert!(first.iter().all(|&t| t == rto));
    sim.run();
    for w in waiters {
        let _ = sim.answer(w);
    }
    // Two rounds of parallel timeouts (the server is known to speak EDNS, so there is no
    // retry without it): at the cached delegation, then again after the parent-side retry's
    // fresh referral. The RTO doubled once per round; doubling per timeout would have reached
    // the cap in the first.
    assert_eq!(sim.rec.stats().parent_retries, 20);
    assert_eq!(
        next_timeout_to_example(&mut sim, "after.example.test."),
        rto * 4
    );
    assert!(rto * 4 < MAX_RTO_MS);
    assert!(rto < UNKNOWN_RTO_MS, "the server's RTT was measured");
}

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

/// Questions queued behind a busy root server do not ask it for the referral another one
/// already followed: woken, they start again from the deeper delegation the cache learned.
#[test]
fn queued_questions_follow_referrals_learned_while_waiting() {
    let mut sim = Sim::new(RecursorConfig {
        limits: Limits {
            max_outstanding_per_server: 1,
            ..Limits::default()
        },
        ..config()
    });
    add_world(&mut sim);
    let waiters: Vec<u64> = (0..10)
        .map(|i| sim.submit(&format!("q{i}.example.test."), RType::A))
        .collect();
    sim.run();
    for w in waiters {
        assert_eq!(sim.answer(w).rcode, Rcode::NXDOMAIN);
    }
    assert_eq!(
        sim.queries_since(0)[..3],
        [". NS", "test. A", "example.test. A"],
        "priming, then one referral from each zone"
    );
    assert_eq!(sim.log.len(), 3 + 10, "{:?}", sim.queries_since(0));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the outstanding limit, the burst and the silent servers, every question ends
    /// and nothing is left waiting; with every server answering, a question fails only for
    /// running out of time (waiting for a busy server or not).
    #[test]
    fn bursts_always_end(
        limit in 1u32..4,
        names in proptest::collection::vec((0usize..3, 0u16..500), 1..30),
        silent in proptest::collection::vec(proptest::bool::ANY, 3),
        question_millis in 200u64..3000,
    ) {
        let mut sim = Sim::new(RecursorConfig {
            limits: Limits {
                max_outstanding_per_server: limit,
                max_question_millis: question_millis,
                ..Limits::default()
            },
            ..config()
        });
        add_world(&mut sim);
        let servers = ["192.0.2.10", "192.0.2.20", "192.0.2.30"];
        for (addr, silent) in servers.iter().zip(&silent) {
            sim.server(addr).silent = *silent;
        }
        let zones = ["test.", "example.test.", "other.test."];
        let waiters: Vec<u64> = names
            .iter()
            .map(|(zone, label)| sim.submit(&format!("n{label}.{}", zones[*zone]), RType::A))
            .collect();
        sim.run();
        for w in waiters {
            let res = sim.answer(w);
            if !silent.iter().any(|s| *s) && res.rcode == Rcode::SERVFAIL {
                let text = res.extended_error.as_ref().map(|e| e.text.as_str());
                proptest::prop_assert!(
                    text == Some(LimitKind::OutstandingPerServer.text())
                        || text == Some(LimitKind::QuestionTime.text()),
                    "{:?}",
                    res
                );
            }
        }
        proptest::prop_assert_eq!(sim.rec.in_flight(), 0);
        proptest::prop_assert_eq!(sim.rec.upstream_in_flight(), 0);
        proptest::prop_assert!(sim.rec.next_timeout().is_none());
    }
}
