//! The random-subdomain defence in the simulated network: a flood of random names under one
//! zone caps the upstream queries to that zone's server, while other zones resolve normally,
//! and the recursor reports the cap and the questions it ended as events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::{LimitKind, RecursorEvent, ZoneCap, ZoneCapConfig};
use sim::*;
use wire::{RType, Rcode};

const NX_PER_SECOND: u32 = 20;
const CAP: u32 = 10;

fn capped_world() -> Sim {
    let mut config = config();
    config.zone_cap = Some(ZoneCap::new(ZoneCapConfig {
        nxdomains_per_second: NX_PER_SECOND,
        queries_per_second: CAP,
        hold: 30,
        table_size: 64,
    }));
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    sim
}

#[test]
fn a_random_subdomain_flood_is_capped_per_zone() {
    let mut sim = capped_world();
    // Warm the delegations: the flood then costs one query per name without the cap.
    assert_eq!(
        addresses(&sim.resolve("www.example.test.", RType::A)),
        ["203.0.113.80"]
    );
    let victim = ip("192.0.2.20");
    let before = sim.log.iter().filter(|s| s.server.ip() == victim).count();
    let start = sim.now;
    // 2,000 random names over 10 simulated seconds (200 a second).
    let mut servfails = 0;
    let mut nxdomains = 0;
    let mut other_answered = 0;
    for i in 0..2000u32 {
        sim.now = sim.now.plus_millis(5);
        let label = format!("r{:08x}", i.wrapping_mul(2_654_435_761));
        let res = sim.resolve(&format!("{label}.example.test."), RType::A);
        match res.rcode {
            Rcode::NXDOMAIN => nxdomains += 1,
            Rcode::SERVFAIL => {
                let ede = res.extended_error.as_ref().expect("an EDE");
                assert_eq!(ede.text, LimitKind::ZoneCap.text());
                servfails += 1;
            }
            other => panic!("{other:?}"),
        }
        if i % 100 == 50 {
            // Another zone, during the flood: answered as usual.
            // Flushed each time, so that it is asked upstream.
            sim.cache.flush(name("www.other.test.").as_ref(), false);
            let res = sim.resolve("www.other.test.", RType::A);
            assert_eq!(addresses(&res), ["203.0.113.90"]);
            other_answered += 1;
        }
    }
    let seconds = sim.now.millis_since(start).div_ceil(1000);
    let to_victim = sim.log.iter().filter(|s| s.server.ip() == victim).count() - before;
    // Before the cap: at most the threshold and one more in the first second; then at most
    // CAP in each second the flood touched.
    let bound = (NX_PER_SECOND + 1) as u64 + CAP as u64 * (seconds + 1);
    assert!(
        (to_victim as u64) <= bound,
        "{to_victim} queries to the victim's server, bound {bound}"
    );
    assert!(to_victim as u64 >= u64::from(CAP) * (seconds - 1));
    assert_eq!(nxdomains + servfails, 2000);
    assert!(servfails > 1500, "{servfails} capped");
    assert_eq!(other_answered, 20);
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::ZoneCap), servfails);

    // One event for the cap, one per question it ended (the queue keeps the first 1,024).
    let mut capped = 0;
    let mut limits = 0;
    while let Some(event) = sim.rec.poll_event() {
        match event {
            RecursorEvent::ZoneCapped { zone } => {
                assert_eq!(zone.to_string(), "example.test.");
                capped += 1;
            }
            RecursorEvent::Limit { kind, client, .. } => {
                assert_eq!(kind, LimitKind::ZoneCap);
                assert_eq!(client, Some(ip("198.51.100.1")));
                limits += 1;
            }
            RecursorEvent::Rejected { .. } => panic!("nothing was forged"),
        }
    }
    assert_eq!(capped, 1);
    assert_eq!(limits as u64 + sim.rec.stats().events_dropped, servfails);
}

#[test]
fn without_the_cap_every_name_costs_a_query() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    let before = sim.log.len();
    for i in 0..200u32 {
        sim.now = sim.now.plus_millis(5);
        let res = sim.resolve(&format!("n{i}.example.test."), RType::A);
        assert_eq!(res.rcode, Rcode::NXDOMAIN);
    }
    assert_eq!(sim.log.len() - before, 200);
}

#[test]
fn forwarded_zones_are_never_capped() {
    let mut config = config();
    config.zone_cap = Some(ZoneCap::new(ZoneCapConfig {
        nxdomains_per_second: 1,
        queries_per_second: 1,
        hold: 30,
        table_size: 64,
    }));
    config.forwards = vec![recursor::Forward {
        zone: name("example.test."),
        to: vec!["192.0.2.20:53".parse().unwrap()],
        kind: recursor::ForwardKind::Forward,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    for i in 0..50u32 {
        sim.now = sim.now.plus_millis(5);
        let res = sim.resolve(&format!("f{i}.example.test."), RType::A);
        assert_ne!(res.rcode, Rcode::SERVFAIL);
    }
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::ZoneCap), 0);
}

#[test]
fn rejected_answers_and_limits_become_events() {
    let mut sim = world();
    sim.forger = Some(Box::new(|t, seen| {
        if seen.text() != "www.example.test. A" {
            return Vec::new();
        }
        let mut wrong_id = seen.clone();
        wrong_id.id ^= 0x5a5a;
        let forged = respond(
            &wrong_id,
            &seen.qname,
            Rcode::NOERROR,
            true,
            false,
            [&[], &[], &[]],
            true,
        );
        vec![(t.server, forged)]
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let events: Vec<RecursorEvent> = std::iter::from_fn(|| sim.rec.poll_event()).collect();
    assert_eq!(
        events,
        [RecursorEvent::Rejected {
            server: "192.0.2.20:53".parse().unwrap(),
            reason: recursor::Rejection::WrongId,
        }]
    );
    // A limit that ends a question names it, the question and the client.
    let mut config = config();
    config.limits.max_referrals = 1;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    match sim.rec.poll_event() {
        Some(RecursorEvent::Limit {
            kind,
            question,
            client,
        }) => {
            assert_eq!(kind, LimitKind::Referrals);
            assert_eq!(question.qname, name("www.example.test."));
            assert_eq!(client, Some(ip("198.51.100.1")));
        }
        other => panic!("{other:?}"),
    }
}

/// The per-client limit holds across the recursors of a process (one per resolver driver),
/// which share it through `SharedInfra`: questions spread over drivers do not multiply it.
#[test]
fn resolutions_per_client_are_counted_across_recursors() {
    use recursor::infra::SharedInfra;
    use recursor::{QueryOptions, Question, Recursor};
    use std::sync::Arc;

    let mut config = config();
    config.limits.max_resolutions_per_client = 2;
    let cache = Arc::new(cache::Cache::new(cache::CacheConfig::default()));
    let shared = SharedInfra::new(100);
    let mut a = Recursor::with_shared(config.clone(), cache.clone(), [1; 32], shared.clone());
    let mut b = Recursor::with_shared(config, cache, [2; 32], shared);
    let now = cache::Time::from_millis(1_000_000);
    let ask = |r: &mut Recursor, name: &str, client: &str, waiter: u64| {
        r.submit(
            Question {
                qname: sim::name(name),
                qtype: RType::A,
                qclass: wire::Class::IN,
            },
            QueryOptions {
                client: ip(client),
                checking_disabled: false,
                dnssec_ok: false,
            },
            waiter,
            now,
        );
    };
    ask(&mut a, "a.example.test.", "198.51.100.1", 1);
    ask(&mut b, "b.example.test.", "198.51.100.1", 2);
    assert!(a.poll_answer().is_none() && b.poll_answer().is_none());
    // A third, on either recursor, is one too many for that client; not for another.
    ask(&mut a, "c.example.test.", "198.51.100.1", 3);
    let refused = a.poll_answer().expect("refused at once");
    assert_eq!(refused.waiters, [3]);
    assert_eq!(
        refused.resolution.extended_error.as_ref().unwrap().text,
        LimitKind::ResolutionsPerClient.text()
    );
    ask(&mut b, "d.example.test.", "198.51.100.2", 4);
    assert!(b.poll_answer().is_none());
}
