//! Broken and slow servers: lame delegations, timeouts, truncation, servers without EDNS or
//! 0x20, glue-less delegations, failure caching, QNAME minimisation's fallbacks, and the mesh
//! sharing identical questions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use std::rc::Rc;

use recursor::{QnameMinimisation, Rejection};
use sim::*;
use wire::{RType, Rcode};

/// The world with `example.test.` served by two servers: 192.0.2.20 and 192.0.2.21.
fn two_server_world() -> Sim {
    let mut sim = Sim::new(config());
    let root = zone(".", ROOT);
    let test = zone(
        "test.",
        &TEST.replace(
            "ns1.example.test. 3600 A 192.0.2.20\n",
            "ns1.example.test. 3600 A 192.0.2.20\n\
             example.test. 3600 NS ns2.example.test.\n\
             ns2.example.test. 3600 A 192.0.2.21\n",
        ),
    );
    let example = zone("example.test.", EXAMPLE);
    let other = zone("other.test.", OTHER);
    sim.serve("192.0.2.1", &[&root]);
    sim.serve("192.0.2.10", &[&test]);
    sim.serve("192.0.2.20", &[&example]);
    sim.serve("192.0.2.21", &[&example]);
    sim.serve("192.0.2.30", &[&other]);
    sim
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("host{i}.example.test.")).collect()
}

#[test]
fn lame_server_then_good_server() {
    let mut sim = two_server_world();
    sim.server("192.0.2.21").rcode = Some(Rcode::REFUSED);
    for qname in names(8) {
        let res = sim.resolve(&qname, RType::A);
        assert_eq!(
            res.rcode,
            Rcode::NXDOMAIN,
            "{qname}: the good server answers"
        );
    }
    // The lame server was asked once, then marked lame for the zone and never again.
    assert_eq!(sim.servers[&ip("192.0.2.21")].seen, 1);
    assert_eq!(sim.rec.stats().lame, 1);
}

#[test]
fn timeout_then_retry_elsewhere() {
    let mut sim = two_server_world();
    sim.server("192.0.2.21").silent = true;
    let start = sim.now;
    for qname in names(6) {
        let res = sim.resolve(&qname, RType::A);
        assert_eq!(res.rcode, Rcode::NXDOMAIN, "{qname}");
    }
    assert!(sim.rec.stats().timeouts >= 1);
    let silent = sim.servers[&ip("192.0.2.21")].seen as u64;
    assert_eq!(
        sim.rec.stats().timeouts,
        silent,
        "each query to the silent server timed out"
    );
    assert!(
        silent <= 2,
        "a server that timed out is avoided: asked {silent} times"
    );
    assert!(
        sim.now.millis_since(start) >= 376,
        "waited for the first timeout"
    );
}

#[test]
fn all_servers_silent_is_servfail_and_cached_as_a_failure() {
    let mut sim = world();
    sim.server("192.0.2.20").silent = true;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    let ede = res.extended_error.as_ref().unwrap();
    assert_eq!(ede.code, 22, "No Reachable Authority");
    // Asked once with EDNS, once without (it might be an old server dropping EDNS).
    let to_leaf: Vec<bool> = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .map(|s| s.edns)
        .collect();
    assert_eq!(to_leaf, [true, false]);
    // RFC 9520: the failure is remembered for failure_ttl (5 s): no upstream query.
    let before = sim.log.len();
    let again = sim.resolve("www.example.test.", RType::A);
    assert_eq!(again.rcode, Rcode::SERVFAIL);
    assert_eq!(
        again.extended_error.as_ref().unwrap().code,
        13,
        "Cached Error"
    );
    assert_eq!(sim.log.len(), before);
    // After it expires, the resolver tries again.
    sim.now = sim.now.plus_secs(6);
    sim.server("192.0.2.20").silent = false;
    let later = sim.resolve("www.example.test.", RType::A);
    assert_eq!(later.rcode, Rcode::NOERROR);
}

#[test]
fn truncated_answer_is_asked_again_over_tcp() {
    let mut sim = world();
    sim.server("192.0.2.20").truncate_udp = true;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let leaf: Vec<(String, bool)> = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .map(|s| (s.text(), s.tcp))
        .collect();
    assert_eq!(
        leaf,
        [
            ("www.example.test. A".to_string(), false),
            ("www.example.test. A".to_string(), true)
        ]
    );
    assert_eq!(sim.rec.stats().tcp_fallbacks, 1);
    assert_eq!(sim.rec.stats().queries_tcp, 1);
}

#[test]
fn formerr_to_edns_is_asked_again_without_and_remembered() {
    let mut sim = world();
    sim.server("192.0.2.20").formerr_on_edns = true;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let leaf = |sim: &Sim| -> Vec<bool> {
        sim.log
            .iter()
            .filter(|s| s.server.ip() == ip("192.0.2.20"))
            .map(|s| s.edns)
            .collect()
    };
    assert_eq!(leaf(&sim), [true, false]);
    assert_eq!(sim.rec.stats().edns_fallbacks, 1);
    let res = sim.resolve("other.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(
        leaf(&sim),
        [true, false, false],
        "no EDNS to that server any more"
    );
}

#[test]
fn silence_to_edns_only_is_asked_again_without() {
    let mut sim = world();
    sim.server("192.0.2.20").custom = Some(Rc::new(|seen: &Seen, _q: &[u8], _s: &Server| {
        if seen.edns {
            Reply::Silent
        } else {
            Reply::Normal
        }
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(sim.rec.stats().timeouts, 1);
    assert_eq!(sim.rec.stats().edns_fallbacks, 1);
}

#[test]
fn server_that_does_not_echo_case_is_asked_again_without_0x20() {
    let mut sim = world();
    sim.server("192.0.2.20").lowercase_question = true;
    let started = sim.now;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let stats = sim.rec.stats();
    assert_eq!(stats.rejected(Rejection::WrongCase), 1);
    assert_eq!(stats.case_fallbacks, 1);
    assert_eq!(stats.timeouts, 0, "a case fallback is no timeout");
    // Not a timeout's worth of waiting: a short grace, then the same question over TCP (in
    // random case again), whose lowercase answer is taken and marks the server.
    let took = sim.now.millis_since(started);
    assert!(took < 200, "the case fallback took {took} ms");
    let last = sim.log.last().unwrap();
    assert!(
        last.tcp && last.server.ip() == ip("192.0.2.20"),
        "{}",
        last.text()
    );
    // Remembered: the next query to that server is not randomised and is accepted at once.
    let before = sim.log.len();
    let res = sim.resolve("nothere.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(sim.log.len(), before + 1);
    assert_eq!(sim.log[before].qname.to_string(), "nothere.example.test.");
    assert_eq!(sim.rec.stats().rejected(Rejection::WrongCase), 1);
}

/// A server that neither echoes case nor answers over TCP: after the grace, the TCP question
/// fails and the question is asked over UDP without 0x20, for that query only (forged
/// wrong-case datagrams must not turn 0x20 off for a server).
#[test]
fn case_fallback_without_tcp_asks_udp_without_0x20_once() {
    let mut sim = world();
    let server = sim.server("192.0.2.20");
    server.lowercase_question = true;
    server.custom = Some(Rc::new(|seen: &Seen, _q: &[u8], _s: &Server| {
        if seen.tcp {
            Reply::Silent
        } else {
            Reply::Normal
        }
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let to_server: Vec<&Seen> = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .collect();
    assert_eq!(to_server.len(), 3, "UDP in random case, TCP, UDP as asked");
    assert!(to_server[1].tcp);
    assert!(!to_server[2].tcp);
    assert_eq!(
        to_server[2].qname.as_wire(),
        name("www.example.test.").as_wire()
    );
    // Not remembered: the next question is in random case again.
    let before = sim.log.len();
    sim.resolve("nothere.example.test.", RType::A);
    assert_ne!(
        sim.log[before].qname.as_wire(),
        name("nothere.example.test.").as_wire()
    );
}

#[test]
fn case_is_randomised_towards_servers_that_echo_it() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    let sent = &sim.log.last().unwrap().qname;
    assert_ne!(sent.as_wire(), name("www.example.test.").as_wire());
    assert_eq!(*sent, name("www.example.test."));
}

#[test]
fn dname_is_followed_with_a_synthesised_cname() {
    let mut sim = world();
    let res = sim.resolve("www.old.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(
        answer_types(&res),
        [
            "old.example.test. DNAME",
            "www.old.example.test. CNAME",
            "www.new.other.test. A"
        ]
    );
    assert_eq!(addresses(&res), ["203.0.113.91"]);
}

#[test]
fn glueless_delegation_resolves_the_name_server_first() {
    let mut sim = world();
    let test = zone(
        "test.",
        &format!("{TEST}glueless.test. 3600 NS ns.other.test.\n"),
    );
    let other = zone(
        "other.test.",
        &format!("{OTHER}ns.other.test. 300 A 192.0.2.40\n"),
    );
    let glueless = zone(
        "glueless.test.",
        "glueless.test. 300 SOA ns.other.test. a.glueless.test. 1 1 1 1 60\n\
         glueless.test. 300 NS ns.other.test.\nwww.glueless.test. 300 A 203.0.113.100\n",
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    sim.servers.get_mut(&ip("192.0.2.30")).unwrap().zones = vec![other];
    sim.serve("192.0.2.40", &[&glueless]);
    let res = sim.resolve("www.glueless.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(addresses(&res), ["203.0.113.100"]);
    assert_eq!(
        sim.queries_since(0),
        [
            ". NS",
            "test. A",
            "glueless.test. A",
            "other.test. A",
            "ns.other.test. A",
            "www.glueless.test. A"
        ]
    );
    assert_eq!(sim.rec.stats().sub_resolutions, 1);
    assert_eq!(sim.rec.in_flight(), 0);
}

#[test]
fn qname_minimisation_sequence() {
    let mut sim = world();
    let res = sim.resolve("a.b.c.deep.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.81"]);
    assert_eq!(
        sim.queries_since(0),
        [
            ". NS",
            "test. A",
            "example.test. A",
            "deep.example.test. A",
            "c.deep.example.test. A",
            "b.c.deep.example.test. A",
            "a.b.c.deep.example.test. A"
        ]
    );
}

#[test]
fn qname_minimisation_spreads_long_names_over_ten_queries() {
    let mut sim = world();
    let long = "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15.l16.l17.l18.example.test.";
    let example = zone(
        "example.test.",
        &format!("{EXAMPLE}{long} 300 A 203.0.113.82\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let res = sim.resolve(long, RType::A);
    assert_eq!(addresses(&res), ["203.0.113.82"]);
    let labels: Vec<usize> = sim
        .log
        .iter()
        .skip(1)
        .map(|s| s.qname.as_ref().label_count())
        .collect();
    // One label at a time for MINIMISE_ONE_LAB (4) queries, then bigger steps so that at most
    // MAX_MINIMISE_COUNT (10) minimised queries are sent, then the full name.
    assert_eq!(labels, [1, 2, 3, 4, 7, 10, 13, 16, 18, 20]);
    assert_eq!(sim.log.last().unwrap().text(), format!("{long} A"));
}

#[test]
fn minimised_nxdomain_ends_a_long_name_early() {
    let mut sim = world();
    let long = "l1.l2.l3.l4.l5.l6.l7.l8.l9.l10.l11.l12.l13.l14.l15.l16.l17.l18.example.test.";
    let res = sim.resolve(long, RType::A);
    assert_eq!(
        res.rcode,
        Rcode::NXDOMAIN,
        "RFC 8020: stops at the first missing name"
    );
    assert_eq!(
        sim.queries_since(1),
        ["test. A", "example.test. A", "l18.example.test. A"]
    );
}

#[test]
fn nxdomain_cut_stops_minimisation() {
    let mut sim = world();
    let res = sim.resolve("x.y.missing.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(
        sim.queries_since(0),
        [
            ". NS",
            "test. A",
            "example.test. A",
            "missing.example.test. A"
        ]
    );
    let before = sim.log.len();
    let res = sim.resolve("z.missing.example.test.", RType::MX);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(sim.log.len(), before, "RFC 8020 from the negative cache");
}

/// The leaf server refuses minimised queries (anything but the full name of its data).
fn refuse_minimised(sim: &mut Sim) {
    sim.server("192.0.2.20").custom = Some(Rc::new(|seen: &Seen, q: &[u8], s: &Server| {
        let text = seen.text();
        if text == "deep.example.test. A" || text == "c.deep.example.test. A" {
            Reply::Bytes(respond(
                seen,
                &seen.qname,
                Rcode::REFUSED,
                false,
                false,
                [&[], &[], &[]],
                true,
            ))
        } else {
            Reply::Bytes(answer(s, seen, q).unwrap())
        }
    }));
}

#[test]
fn relaxed_minimisation_falls_back_to_the_full_name() {
    let mut sim = world();
    refuse_minimised(&mut sim);
    let res = sim.resolve("a.b.c.deep.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.81"]);
    assert_eq!(
        sim.queries_since(0),
        [
            ". NS",
            "test. A",
            "example.test. A",
            "deep.example.test. A",
            "a.b.c.deep.example.test. A"
        ]
    );
    assert_eq!(sim.rec.stats().lame, 0, "a fallback, not a lame server");
}

#[test]
fn strict_minimisation_does_not_fall_back() {
    let mut config = config();
    config.qname_minimisation = QnameMinimisation::Strict;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    refuse_minimised(&mut sim);
    let res = sim.resolve("a.b.c.deep.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert!(
        !sim.queries_since(0)
            .contains(&"a.b.c.deep.example.test. A".to_string())
    );
}

#[test]
fn identical_questions_share_one_resolution() {
    let mut sim = world();
    let first = sim.submit("www.example.test.", RType::A);
    let second = sim.submit("WWW.Example.TEST.", RType::A);
    let other_type = sim.submit("www.example.test.", RType::AAAA);
    sim.run();
    assert_eq!(
        sim.answers.len(),
        2,
        "one answer for the A waiters, one for AAAA"
    );
    let shared = sim
        .answers
        .iter()
        .find(|f| f.waiters.contains(&first))
        .unwrap();
    assert_eq!(shared.waiters, [first, second]);
    assert_eq!(addresses(&shared.resolution), ["203.0.113.80"]);
    assert!(sim.answers.iter().any(|f| f.waiters == [other_type]));
    let a_queries = sim
        .log
        .iter()
        .filter(|s| s.text() == "www.example.test. A")
        .count();
    assert_eq!(a_queries, 1, "one upstream query for both waiters");
    assert_eq!(sim.rec.stats().resolutions_joined, 1);
    assert_eq!(sim.rec.stats().primings, 1, "priming shared too");
}

#[test]
fn prefetch_resolves_a_cached_name_again() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    let before = sim.log.len();
    sim.rec.prefetch(
        recursor::Question {
            qname: name("www.example.test."),
            qtype: RType::A,
            qclass: wire::Class::IN,
        },
        sim.now,
    );
    sim.run();
    assert_eq!(sim.queries_since(before), ["www.example.test. A"]);
    assert_eq!(sim.answers.len(), 1, "no waiter, no answer");
}

#[test]
fn send_failure_moves_on_to_the_next_server() {
    let mut sim = two_server_world();
    sim.fail_sends_to.push(ip("192.0.2.21"));
    for qname in names(6) {
        assert_eq!(sim.resolve(&qname, RType::A).rcode, Rcode::NXDOMAIN);
    }
    assert!(sim.rec.stats().send_failures >= 1);
}

#[test]
fn failed_priming_falls_back_to_the_hints() {
    let mut sim = world();
    sim.server("192.0.2.1").custom = Some(Rc::new(|seen: &Seen, _q: &[u8], _s: &Server| {
        if seen.text() == ". NS" {
            Reply::Silent
        } else {
            Reply::Normal
        }
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let stats = sim.rec.stats();
    assert_eq!(stats.primings, 1);
    assert_eq!(stats.servfails, 1, "the priming resolution itself");
    // Within the next minute the hints are used without priming again.
    let res = sim.resolve("www.other.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.90"]);
    assert_eq!(sim.rec.stats().primings, 1);
}

#[test]
fn glueless_with_both_families_uses_the_first_address_found() {
    let mut config = config();
    config.ipv6 = true;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let test = zone(
        "test.",
        &format!("{TEST}glueless.test. 3600 NS ns.other.test.\n"),
    );
    let other = zone(
        "other.test.",
        &format!("{OTHER}ns.other.test. 300 A 192.0.2.40\n"),
    );
    let glueless = zone(
        "glueless.test.",
        "glueless.test. 300 SOA ns.other.test. a.glueless.test. 1 1 1 1 60\n\
         glueless.test. 300 NS ns.other.test.\nwww.glueless.test. 300 A 203.0.113.100\n",
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    sim.servers.get_mut(&ip("192.0.2.30")).unwrap().zones = vec![other];
    sim.serve("192.0.2.40", &[&glueless]);
    let res = sim.resolve("www.glueless.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.100"]);
    let lookups: Vec<String> = sim
        .queries_since(0)
        .into_iter()
        .filter(|q| q.starts_with("ns.other.test."))
        .collect();
    assert_eq!(lookups, ["ns.other.test. A", "ns.other.test. AAAA"]);
    assert_eq!(sim.rec.stats().sub_resolutions, 2);
    assert_eq!(sim.rec.in_flight(), 0);
}

#[test]
fn many_concurrent_questions_all_finish() {
    let mut sim = two_server_world();
    sim.server("192.0.2.21").silent = true;
    let mut waiters = Vec::new();
    for i in 0..60 {
        let client = ip(&format!("198.51.100.{}", i % 7 + 1));
        waiters.push((
            sim.submit_from(&format!("h{i}.example.test."), RType::A, client),
            Rcode::NXDOMAIN,
        ));
        waiters.push((
            sim.submit_from("www.example.test.", RType::A, client),
            Rcode::NOERROR,
        ));
        waiters.push((
            sim.submit_from("alias.example.test.", RType::A, client),
            Rcode::NOERROR,
        ));
        waiters.push((
            sim.submit_from(&format!("x.h{i}.other.test."), RType::AAAA, client),
            Rcode::NXDOMAIN,
        ));
    }
    sim.run();
    for (waiter, rcode) in waiters {
        assert_eq!(
            sim.answer(waiter).rcode,
            rcode,
            "waiter {waiter}: {:?}",
            sim.answer(waiter)
        );
    }
    assert_eq!(sim.rec.in_flight(), 0);
    assert_eq!(sim.rec.upstream_in_flight(), 0);
    assert!(sim.rec.next_timeout().is_none());
    assert_eq!(sim.rec.stats().primings, 1);
    // Sixty clients, one resolution (one query, or two when the silent server came first).
    let www = sim
        .log
        .iter()
        .filter(|s| s.text() == "www.example.test. A")
        .count();
    assert!(www <= 2);
    assert_eq!(sim.rec.stats().resolutions_joined, 2 * 59);
}

/// RFC 6672 section 3.2: a cached DNAME answers other names below its owner without asking
/// the owner's zone again; the CNAME is synthesised from the cache.
#[test]
fn cached_dname_answers_names_below_it() {
    let mut sim = world();
    let dname = sim.resolve("old.example.test.", RType::DNAME);
    assert_eq!(answer_types(&dname), ["old.example.test. DNAME"]);
    sim.resolve("www.new.other.test.", RType::A);

    // Everything is cached: no upstream query at all.
    let from = sim.log.len();
    let res = sim.resolve("WWW.old.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(
        answer_types(&res),
        [
            "old.example.test. DNAME",
            "www.old.example.test. CNAME",
            "www.new.other.test. A"
        ]
    );
    assert_eq!(addresses(&res), ["203.0.113.91"]);
    assert!(
        sim.queries_since(from).is_empty(),
        "{:?}",
        sim.queries_since(from)
    );

    // A CNAME question is answered by the synthesised CNAME itself.
    let res = sim.resolve("mail.old.example.test.", RType::CNAME);
    assert_eq!(
        answer_types(&res),
        ["old.example.test. DNAME", "mail.old.example.test. CNAME"]
    );
    assert!(sim.queries_since(from).is_empty());

    // A target not cached is asked of its own zone only, never of example.test.'s server.
    let res = sim.resolve("x.y.old.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(
        answer_types(&res),
        ["old.example.test. DNAME", "x.y.old.example.test. CNAME"]
    );
    let asked: Vec<_> = sim.log[from..].iter().map(|s| s.server.ip()).collect();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|a| *a == ip("192.0.2.30")), "{asked:?}");
    assert_eq!(sim.rec.in_flight(), 0);
}

/// `test.` with `example.test.` delegated to `ns` at `addr`, glue TTL `glue_ttl`.
fn test_zone_delegating(ns: &str, addr: &str, glue_ttl: u32) -> Rc<zone::Zone> {
    zone(
        "test.",
        &TEST.replace(
            "example.test. 3600 NS ns1.example.test.\nns1.example.test. 3600 A 192.0.2.20\n",
            &format!("example.test. 3600 NS {ns}\n{ns} {glue_ttl} A {addr}\n"),
        ),
    )
}

/// The zone moved: the cached delegation points at a server that no longer answers for it.
/// Its parent is asked again, once, and the fresh referral leads to the new server.
#[test]
fn a_stale_cached_delegation_is_refreshed_from_the_parent() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    // example.test. moves to ns2 at 192.0.2.21; the old server refuses it now (lame).
    let example = zone("example.test.", EXAMPLE);
    sim.serve("192.0.2.21", &[&example]);
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test_zone_delegating(
        "ns2.example.test.",
        "192.0.2.21",
        3600,
    )];
    sim.server("192.0.2.20").rcode = Some(Rcode::REFUSED);
    let from = sim.log.len();
    let res = sim.resolve("inside.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR, "{res:?}");
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let servers: Vec<_> = sim.log[from..].iter().map(|s| s.server.ip()).collect();
    assert_eq!(
        servers,
        [ip("192.0.2.20"), ip("192.0.2.10"), ip("192.0.2.21")],
        "{:?}",
        sim.queries_since(from)
    );
    assert_eq!(sim.rec.stats().parent_retries, 1);
    // The fresh delegation replaced the stale one: the next question goes to the new server.
    let from = sim.log.len();
    sim.resolve("a.b.c.deep.example.test.", RType::A);
    assert!(
        sim.log[from..]
            .iter()
            .all(|s| s.server.ip() == ip("192.0.2.21"))
    );
}

/// The glue expired before the NS RRset: the delegation is cached but its only server has no
/// address (and, being inside the zone, can get one only from glue). The parent is asked again
/// for the referral and its glue.
#[test]
fn expired_glue_is_fetched_again_from_the_parent() {
    let mut sim = world();
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones =
        vec![test_zone_delegating("ns1.example.test.", "192.0.2.20", 60)];
    sim.resolve("www.example.test.", RType::A);
    sim.now = sim.now.plus_secs(120);
    let from = sim.log.len();
    let res = sim.resolve("nothing.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN, "{res:?}");
    let servers: Vec<_> = sim.log[from..].iter().map(|s| s.server.ip()).collect();
    assert_eq!(servers, [ip("192.0.2.10"), ip("192.0.2.20")]);
    assert_eq!(sim.rec.stats().parent_retries, 1);
}

/// When the fresh referral leads to the same dead server, the question fails after the one
/// retry: the parent is asked once, not again and again.
#[test]
fn the_parent_side_retry_happens_once() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    sim.server("192.0.2.20").silent = true;
    let from = sim.log.len();
    let res = sim.resolve("dead.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    let to_parent = sim.log[from..]
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.10"))
        .count();
    assert_eq!(to_parent, 1, "{:?}", sim.queries_since(from));
    assert_eq!(sim.rec.stats().parent_retries, 1);
    assert_eq!(sim.rec.in_flight(), 0);
}

/// RFC 9156: once a minimised query showed that a name exists inside the zone and is no zone
/// cut (NODATA from that zone's servers), later resolutions below it do not ask for it again
/// (Unbound skips a minimised name cached as NOERROR): five names below one empty
/// non-terminal cost 6 queries at the leaf, not 10.
#[test]
fn qname_minimisation_reuses_what_it_learned() {
    let mut sim = world();
    let mut text = EXAMPLE.to_string();
    for i in 0..5 {
        text.push_str(&format!(
            "s{i}.wild.example.test. 300 A 203.0.113.{}\n",
            100 + i
        ));
    }
    let example = zone("example.test.", &text);
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    for i in 0..5 {
        let res = sim.resolve(&format!("s{i}.wild.example.test."), RType::A);
        assert_eq!(addresses(&res), [format!("203.0.113.{}", 100 + i)]);
    }
    let leaf: Vec<String> = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .map(Seen::text)
        .collect();
    assert_eq!(
        leaf,
        [
            "wild.example.test. A",
            "s0.wild.example.test. A",
            "s1.wild.example.test. A",
            "s2.wild.example.test. A",
            "s3.wild.example.test. A",
            "s4.wild.example.test. A"
        ]
    );
}

/// The same with data at the minimised name (an authoritative A answer says the name exists
/// and is no cut), and with a NODATA from a full question.
#[test]
fn qname_minimisation_reuses_data_and_nodata() {
    let mut sim = world();
    let text = format!(
        "{EXAMPLE}mid.example.test. 300 A 203.0.113.110\n\
         x.mid.example.test. 300 A 203.0.113.111\ny.mid.example.test. 300 A 203.0.113.112\n"
    );
    let example = zone("example.test.", &text);
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    sim.resolve("x.mid.example.test.", RType::A);
    let from = sim.log.len();
    let res = sim.resolve("y.mid.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.112"]);
    assert_eq!(sim.queries_since(from), ["y.mid.example.test. A"]);

    let mut sim = world();
    let other = zone(
        "other.test.",
        &format!("{OTHER}a.nodata.other.test. 300 A 203.0.113.113\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.30")).unwrap().zones = vec![other];
    let res = sim.resolve("nodata.other.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert!(res.answer.is_empty());
    let from = sim.log.len();
    sim.resolve("a.nodata.other.test.", RType::A);
    assert_eq!(sim.queries_since(from), ["a.nodata.other.test. A"]);
}

/// A NODATA learned from another zone's servers does not count: its SOA names that zone.
/// Here the child's apex NODATA outlives the delegation; iterating the parent again, the
/// child's name is still asked minimised (and referred), not skipped to the full name.
#[test]
fn qname_minimisation_ignores_another_zones_nodata() {
    let mut sim = world();
    let test = zone(
        "test.",
        &TEST.replace(
            "example.test. 3600 NS ns1.example.test.\nns1.example.test. 3600 A",
            "example.test. 10 NS ns1.example.test.\nns1.example.test. 10 A",
        ),
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    let res = sim.resolve("example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert!(res.answer.is_empty(), "the apex has no A");
    sim.now = sim.now.plus_secs(20);
    let from = sim.log.len();
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let asked: Vec<(String, _)> = sim.log[from..]
        .iter()
        .map(|s| (s.text(), s.server.ip()))
        .collect();
    assert_eq!(
        asked,
        [
            ("example.test. A".to_string(), ip("192.0.2.10")),
            ("www.example.test. A".to_string(), ip("192.0.2.20"))
        ]
    );
}

/// RFC 6672 section 3.4: an answer through a DNAME carries the DNAME whether it was just
/// resolved or comes from the cache. The synthesised CNAME is not cached as a CNAME, so the
/// client hot path (`Cache::answer`, CNAMEs only) misses and the recursor's cached-DNAME path
/// answers with the DNAME, the synthesised CNAME and the target's data, without asking.
#[test]
fn dname_kept_in_cached_answers() {
    let mut sim = world();
    let signed = format!(
        "{EXAMPLE}old.example.test. 300 RRSIG DNAME 13 3 300 20300101000000 20200101000000 \
         12345 example.test. AAECAwQFBgc=\n"
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![zone("example.test.", &signed)];
    let expected = [
        "old.example.test. DNAME",
        "www.old.example.test. CNAME",
        "www.new.other.test. A",
    ];
    let res = sim.resolve("www.old.example.test.", RType::A);
    assert_eq!(answer_types(&res), expected);
    assert_eq!(res.answer[0].sigs.len(), 1, "the DNAME's RRSIG");
    let from = sim.log.len();
    for round in 0..2 {
        let mut buf = [0u8; 1232];
        let mut w = wire::writer::MessageWriter::new(&mut buf, 1232, wire::Header::default())
            .expect("writer");
        let qname = name("www.old.example.test.");
        w.push_question(qname.as_ref(), RType::A, wire::Class::IN)
            .expect("question");
        let mode = cache::AnswerMode {
            dnssec_ok: false,
            stale: false,
            validated: false,
        };
        let hit = sim
            .cache
            .answer(qname.as_ref(), RType::A, mode, sim.now, &mut w);
        assert_eq!(
            hit,
            cache::CacheAnswer::Miss,
            "round {round}: the hot path has no DNAME"
        );
        let res = sim.resolve("www.old.example.test.", RType::A);
        assert_eq!(answer_types(&res), expected, "round {round}");
        assert_eq!(
            res.answer[0].sigs.len(),
            1,
            "round {round}: the DNAME's RRSIG"
        );
        assert_eq!(addresses(&res), ["203.0.113.91"]);
    }
    assert!(
        sim.queries_since(from).is_empty(),
        "{:?}",
        sim.queries_since(from)
    );
}

/// A CNAME question below a DNAME: the server's answer carries the DNAME and the CNAME it
/// synthesised; the answer keeps both (the CNAME is not mistaken for data at the name), and
/// the synthesised CNAME is not cached to answer later questions without its DNAME.
#[test]
fn cname_question_below_a_dname_keeps_the_dname() {
    let mut sim = world();
    let res = sim.resolve("mail.old.example.test.", RType::CNAME);
    assert_eq!(
        answer_types(&res),
        ["old.example.test. DNAME", "mail.old.example.test. CNAME"]
    );
    let res = sim.resolve("mail.old.example.test.", RType::CNAME);
    assert_eq!(
        answer_types(&res),
        ["old.example.test. DNAME", "mail.old.example.test. CNAME"],
        "from the cache"
    );
    let res = sim.resolve("mail.old.example.test.", RType::A);
    assert_eq!(
        res.rcode,
        Rcode::NXDOMAIN,
        "mail.new.other.test. does not exist"
    );
    assert_eq!(
        answer_types(&res),
        ["old.example.test. DNAME", "mail.old.example.test. CNAME"]
    );
}

/// The same with the DNAME's target inside its own zone (the loopback world's case: the
/// server answers with DNAME, CNAME and the target's A in one message).
#[test]
fn dname_into_its_own_zone_kept_in_cached_answers() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!("{EXAMPLE}d.example.test. 300 DNAME example.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let expected = [
        "d.example.test. DNAME",
        "www.d.example.test. CNAME",
        "www.example.test. A",
    ];
    let res = sim.resolve("www.d.example.test.", RType::A);
    assert_eq!(answer_types(&res), expected, "resolved");
    let from = sim.log.len();
    let res = sim.resolve("www.d.example.test.", RType::A);
    assert_eq!(answer_types(&res), expected, "cached");
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert!(sim.queries_since(from).is_empty());
}
