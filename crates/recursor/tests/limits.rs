//! Each work limit: hitting it gives that question SERVFAIL with an Extended DNS Error naming
//! the limit, counts it, and stops the work at the limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::{LimitKind, Limits};
use sim::*;
use wire::{RType, Rcode};

fn limited(limits: Limits) -> Sim {
    let mut config = config();
    config.limits = limits;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    sim
}

fn assert_limit(res: &recursor::Resolution, kind: LimitKind) {
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    let ede = res.extended_error.as_ref().expect("an EDE");
    assert_eq!(ede.code, 0, "Other");
    assert_eq!(ede.text, kind.text());
}

#[test]
fn upstream_queries_per_question() {
    let mut sim = limited(Limits {
        max_upstream_queries: 3,
        ..Limits::default()
    });
    let res = sim.resolve("www.example.test.", RType::A);
    assert_limit(&res, LimitKind::UpstreamQueries);
    assert_eq!(
        sim.log.len(),
        3,
        "priming counts against the question that needed it"
    );
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::UpstreamQueries), 1);
    // The next question has its own budget (and the cache).
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
}

#[test]
fn referrals_per_question() {
    let mut sim = limited(Limits {
        max_referrals: 1,
        ..Limits::default()
    });
    let res = sim.resolve("www.example.test.", RType::A);
    assert_limit(&res, LimitKind::Referrals);
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::Referrals), 1);
}

#[test]
fn glueless_sub_queries_per_question() {
    let mut sim = limited(Limits {
        max_glueless_queries: 0,
        ..Limits::default()
    });
    let test = zone(
        "test.",
        &format!("{TEST}glueless.test. 3600 NS ns.other.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    let res = sim.resolve("www.glueless.test.", RType::A);
    assert_limit(&res, LimitKind::GluelessQueries);
}

#[test]
fn dependency_depth() {
    let mut sim = limited(Limits {
        max_dependency_depth: 0,
        ..Limits::default()
    });
    let test = zone(
        "test.",
        &format!("{TEST}glueless.test. 3600 NS ns.other.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    let res = sim.resolve("www.glueless.test.", RType::A);
    assert_limit(&res, LimitKind::DependencyDepth);
}

#[test]
fn addresses_per_ns_set() {
    let mut sim = limited(Limits {
        max_addresses_per_ns_set: 1,
        ..Limits::default()
    });
    let mut text = TEST.to_string();
    for i in 0..4 {
        text.push_str(&format!(
            "many.test. 3600 NS ns{i}.many.test.\nns{i}.many.test. 3600 A 192.0.2.{}\n",
            60 + i
        ));
    }
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![zone("test.", &text)];
    for i in 0..4 {
        sim.serve(&format!("192.0.2.{}", 60 + i), &[]).silent = true;
    }
    let res = sim.resolve("www.many.test.", RType::A);
    assert_limit(&res, LimitKind::AddressesPerNsSet);
    let to_many = sim
        .log
        .iter()
        .filter(|s| s.server.ip().to_string().starts_with("192.0.2.6"))
        .count();
    assert_eq!(to_many, 1);
}

#[test]
fn total_time_per_question() {
    let mut sim = limited(Limits {
        max_question_millis: 300,
        ..Limits::default()
    });
    sim.server("192.0.2.20").silent = true;
    let start = sim.now;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_limit(&res, LimitKind::QuestionTime);
    assert_eq!(sim.now.millis_since(start), 300);
    assert_eq!(sim.rec.upstream_in_flight(), 0, "its query was abandoned");
    assert_eq!(sim.rec.in_flight(), 0);
}

#[test]
fn resolutions_per_client() {
    let mut sim = limited(Limits {
        max_resolutions_per_client: 2,
        ..Limits::default()
    });
    let w1 = sim.submit("a.example.test.", RType::A);
    let w2 = sim.submit("b.example.test.", RType::A);
    let w3 = sim.submit("c.example.test.", RType::A);
    let w4 = sim.submit_from("d.example.test.", RType::A, ip("198.51.100.2"));
    sim.run();
    assert_limit(&sim.answer(w3), LimitKind::ResolutionsPerClient);
    for w in [w1, w2, w4] {
        assert_eq!(sim.answer(w).rcode, Rcode::NXDOMAIN);
    }
    // Released when answered.
    let w5 = sim.submit("e.example.test.", RType::A);
    sim.run();
    assert_eq!(sim.answer(w5).rcode, Rcode::NXDOMAIN);
}

#[test]
fn waiters_per_resolution() {
    let mut sim = limited(Limits {
        max_waiters: 2,
        ..Limits::default()
    });
    let w: Vec<u64> = (0..3)
        .map(|i| {
            sim.submit_from(
                "www.example.test.",
                RType::A,
                ip(&format!("198.51.100.{}", i + 1)),
            )
        })
        .collect();
    sim.run();
    assert_eq!(addresses(&sim.answer(w[0])), ["203.0.113.80"]);
    assert_eq!(addresses(&sim.answer(w[1])), ["203.0.113.80"]);
    assert_limit(&sim.answer(w[2]), LimitKind::Waiters);
}

#[test]
fn mesh_size() {
    let mut sim = limited(Limits {
        max_mesh: 3,
        ..Limits::default()
    });
    // The first question also starts priming: two resolutions.
    let w1 = sim.submit("a.example.test.", RType::A);
    let w2 = sim.submit("b.example.test.", RType::A);
    let w3 = sim.submit("c.example.test.", RType::A);
    assert_eq!(sim.rec.in_flight(), 3);
    sim.run();
    assert_eq!(sim.answer(w1).rcode, Rcode::NXDOMAIN);
    assert_eq!(sim.answer(w2).rcode, Rcode::NXDOMAIN);
    assert_limit(&sim.answer(w3), LimitKind::Mesh);
}

/// A question whose every server is at its outstanding limit waits for a slot; when the
/// question's time runs out first, it fails for the busy server (not at once, as it used to).
#[test]
fn outstanding_queries_per_server() {
    let mut sim = limited(Limits {
        max_outstanding_per_server: 1,
        max_question_millis: 200,
        ..Limits::default()
    });
    // The delegation to example.test. is known; its server is new (RTO 376 ms > 200 ms) and
    // silent: the first question holds the only slot until it runs out of time.
    cache_delegation(&sim, "example.test.", "ns1.example.test.", [192, 0, 2, 20]);
    sim.server("192.0.2.20").silent = true;
    let w1 = sim.submit("a.example.test.", RType::A);
    let w2 = sim.submit("b.example.test.", RType::A);
    // A third question a millisecond later: when the first runs out of time, the slot it
    // frees passes over the second (out of time at that very moment) to this one.
    sim.now = sim.now.plus_millis(1);
    let w3 = sim.submit("c.example.test.", RType::A);
    sim.run();
    assert_limit(&sim.answer(w1), LimitKind::QuestionTime);
    assert_limit(&sim.answer(w2), LimitKind::OutstandingPerServer);
    assert_limit(&sim.answer(w3), LimitKind::QuestionTime);
    let asked: Vec<String> = sim.queries_since(0);
    assert_eq!(asked, ["a.example.test. A", "c.example.test. A"]);
    assert_eq!(sim.rec.stats().busy_waits, 2);
    assert_eq!(sim.rec.in_flight(), 0);
}

#[test]
fn sub_resolutions_are_abandoned_with_their_question() {
    let mut sim = limited(Limits {
        max_question_millis: 300,
        ..Limits::default()
    });
    let test = zone(
        "test.",
        &format!("{TEST}glueless.test. 3600 NS ns.other.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    sim.server("192.0.2.30").silent = true;
    let start = sim.now;
    let res = sim.resolve("www.glueless.test.", RType::A);
    assert_limit(&res, LimitKind::QuestionTime);
    assert_eq!(
        sim.now.millis_since(start),
        300,
        "nothing ran on after the question"
    );
    assert_eq!(sim.rec.stats().abandoned, 1, "the NS address lookup");
    assert_eq!(sim.rec.in_flight(), 0);
    assert_eq!(sim.rec.upstream_in_flight(), 0);
}

/// Puts a delegation of `zone` to `ns` (with glue `addr`) in the cache, as a referral would.
fn cache_delegation(sim: &Sim, zone: &str, ns: &str, addr: [u8; 4]) {
    let ns_set = cache::RrSet {
        owner: name(zone),
        rtype: RType::NS,
        class: wire::Class::IN,
        ttl: 3600,
        rdatas: vec![name(ns).as_wire().to_vec()],
        sigs: Vec::new(),
    };
    sim.cache.insert_delegation(&ns_set, sim.now);
    let glue = cache::RrSet {
        owner: name(ns),
        rtype: RType::A,
        rdatas: vec![addr.to_vec()],
        ..ns_set
    };
    assert!(sim.cache.insert_rrset(&glue, cache::Trust::Glue, sim.now));
}
