//! Resolution from the root down in the simulated network: referrals, the cache, aliases,
//! negative answers, forwarding and stub zones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::{Forward, ForwardKind, QnameMinimisation};
use sim::*;
use wire::{RType, Rcode};

#[test]
fn root_tld_leaf() {
    let mut sim = world();
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    // Priming, then one query per zone (minimised above the leaf).
    assert_eq!(
        sim.queries_since(0),
        [". NS", "test. A", "example.test. A", "www.example.test. A"]
    );
    assert!(
        sim.log
            .iter()
            .all(|s| s.edns && s.dnssec_ok && !s.rd && !s.tcp)
    );
    assert_eq!(sim.rec.in_flight(), 0);
    assert_eq!(sim.rec.upstream_in_flight(), 0);
    assert_eq!(sim.rec.stats().primings, 1);
}

#[test]
fn second_query_comes_from_the_cache() {
    let mut sim = world();
    let first = sim.resolve("www.example.test.", RType::A);
    let sent = sim.log.len();
    sim.now = sim.now.plus_secs(100);
    let second = sim.resolve("www.example.test.", RType::A);
    assert_eq!(sim.log.len(), sent, "no upstream traffic");
    assert_eq!(addresses(&second), addresses(&first));
    assert_eq!(second.answer[0].ttl, 200, "the remaining TTL");
    assert_eq!(sim.rec.stats().cache_answers, 1);
    // A sibling name needs only the leaf zone's server.
    let before = sim.log.len();
    let res = sim.resolve("nothere.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(sim.queries_since(before), ["nothere.example.test. A"]);
}

#[test]
fn without_minimisation_the_full_name_goes_everywhere() {
    let mut config = config();
    config.qname_minimisation = QnameMinimisation::Off;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(
        sim.queries_since(0),
        [
            ". NS",
            "www.example.test. A",
            "www.example.test. A",
            "www.example.test. A"
        ]
    );
}

#[test]
fn cname_across_zones() {
    let mut sim = world();
    let res = sim.resolve("alias.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(
        answer_types(&res),
        ["alias.example.test. CNAME", "www.other.test. A"]
    );
    assert_eq!(addresses(&res), ["203.0.113.90"]);
    // Cached: both steps answer from the cache now.
    let before = sim.log.len();
    let again = sim.resolve("alias.example.test.", RType::A);
    assert_eq!(sim.log.len(), before);
    assert_eq!(answer_types(&again), answer_types(&res));
}

#[test]
fn an_alias_to_a_stopped_name_ends_the_chain_without_asking_for_it() {
    // The server's policy answers for www.other.test.: the resolver never asks for it.
    let mut config = config();
    config.alias_stop = Some(recursor::AliasStop(std::sync::Arc::new(|name| {
        name.to_string().eq_ignore_ascii_case("www.other.test.")
    })));
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let res = sim.resolve("alias.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(answer_types(&res), ["alias.example.test. CNAME"]);
    let asked = sim.queries_since(0);
    assert!(
        asked.iter().all(|q| !q.contains("other.test")),
        "the stopped name or its zone was asked: {asked:?}"
    );
    // From the cache too: the CNAME, and still nothing asked for its target.
    let before = sim.log.len();
    let again = sim.resolve("alias.example.test.", RType::A);
    assert_eq!(answer_types(&again), ["alias.example.test. CNAME"]);
    assert_eq!(sim.log.len(), before);
}

#[test]
fn cname_inside_one_zone_in_one_answer() {
    let mut sim = world();
    let res = sim.resolve("inside.example.test.", RType::A);
    assert_eq!(
        answer_types(&res),
        ["inside.example.test. CNAME", "www.example.test. A"]
    );
    assert_eq!(sim.queries_since(3), ["inside.example.test. A"]);
}

#[test]
fn nodata_and_nxdomain_are_cached() {
    let mut sim = world();
    let res = sim.resolve("www.example.test.", RType::AAAA);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert!(res.answer.is_empty());
    assert_eq!(res.authority[0].rtype, RType::SOA);
    let before = sim.log.len();
    let again = sim.resolve("www.example.test.", RType::AAAA);
    assert_eq!(again.rcode, Rcode::NOERROR);
    assert!(again.answer.is_empty());
    assert_eq!(sim.log.len(), before, "NODATA from the negative cache");

    let res = sim.resolve("missing.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(res.authority[0].rtype, RType::SOA);
    let before = sim.log.len();
    // RFC 8020: below an NXDOMAIN nothing exists; no query needed.
    let below = sim.resolve("a.b.missing.example.test.", RType::TXT);
    assert_eq!(below.rcode, Rcode::NXDOMAIN);
    assert_eq!(sim.log.len(), before);
}

#[test]
fn forwarding_sends_rd_and_trusts_the_answer() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("."),
        to: vec!["192.0.2.53:5353".parse().unwrap()],
        kind: ForwardKind::Forward,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    // A "recursive" server: answers anything from its zones without AA.
    let example = zone("example.test.", EXAMPLE);
    let other = zone("other.test.", OTHER);
    sim.serve("192.0.2.53", &[&example, &other]).custom = Some(std::rc::Rc::new(
        |seen: &Seen, query: &[u8], server: &Server| {
            assert!(seen.rd, "RD=1 to a forwarder");
            let mut normal = answer(server, seen, query).unwrap();
            normal[2] &= !0x04; // clear AA
            normal[3] |= 0x80; // RA
            Reply::Bytes(normal)
        },
    ));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(
        sim.queries_since(0),
        ["www.example.test. A"],
        "no priming, no minimisation"
    );
    assert_eq!(sim.log[0].server.port(), 5353);
    let res = sim.resolve("nope.other.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    let before = sim.log.len();
    let again = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&again), ["203.0.113.80"]);
    assert_eq!(sim.log.len(), before, "forwarded answers are cached");
}

#[test]
fn ordered_forwarders_fail_over_and_go_back() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("."),
        to: ["192.0.2.51:53", "192.0.2.52:53", "192.0.2.53:53"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect(),
        kind: ForwardKind::Forward,
        selection: recursor::Selection::Order,
    }];
    let mut sim = Sim::new(config);
    let example = zone("example.test.", EXAMPLE);
    for addr in ["192.0.2.51", "192.0.2.52", "192.0.2.53"] {
        sim.serve(addr, &[&example]).custom = Some(std::rc::Rc::new(
            |seen: &Seen, query: &[u8], server: &Server| match answer(server, seen, query) {
                None => Reply::Silent,
                Some(mut normal) => {
                    normal[2] &= !0x04; // clear AA
                    normal[3] |= 0x80; // RA
                    Reply::Bytes(normal)
                }
            },
        ));
    }
    let servers_since = |sim: &Sim, from: usize| -> Vec<String> {
        sim.log[from..]
            .iter()
            .map(|s| s.server.ip().to_string())
            .collect()
    };
    // The first server, always (the fastest selection would spread over all three).
    for i in 0..6 {
        let res = sim.resolve(&format!("n{i}.example.test."), RType::A);
        assert_eq!(res.rcode, Rcode::NXDOMAIN);
    }
    assert!(servers_since(&sim, 0).iter().all(|s| s == "192.0.2.51"));
    // The first goes silent: the second answers, and is asked first from then on.
    sim.server("192.0.2.51").silent = true;
    let before = sim.log.len();
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(servers_since(&sim, before), ["192.0.2.51", "192.0.2.52"]);
    let before = sim.log.len();
    let res = sim.resolve("m.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(servers_since(&sim, before), ["192.0.2.52"]);
    // It recovers: after the hold it is tried again, answers, and is the first again.
    sim.server("192.0.2.51").silent = false;
    sim.now = sim.now.plus_secs(recursor::infra::ORDER_RETRY_SECS + 1);
    for name in ["p.example.test.", "q.example.test."] {
        let before = sim.log.len();
        let res = sim.resolve(name, RType::A);
        assert_eq!(res.rcode, Rcode::NXDOMAIN);
        assert_eq!(servers_since(&sim, before), ["192.0.2.51"], "{name}");
    }
}

#[test]
fn forward_zone_beside_iteration() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("corp.test."),
        to: vec!["192.0.2.53:53".parse().unwrap()],
        kind: ForwardKind::Forward,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let corp = zone(
        "corp.test.",
        "corp.test. 300 SOA ns.corp.test. a.corp.test. 1 1 1 1 60\n\
         corp.test. 300 NS ns.corp.test.\nns.corp.test. 300 A 192.0.2.53\n\
         intranet.corp.test. 300 A 10.1.2.3\n",
    );
    sim.serve("192.0.2.53", &[&corp]);
    let res = sim.resolve("intranet.corp.test.", RType::A);
    assert_eq!(addresses(&res), ["10.1.2.3"]);
    assert_eq!(sim.queries_since(0), ["intranet.corp.test. A"]);
    assert!(sim.log[0].rd);
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert!(!sim.log[1].rd, "iteration elsewhere");
}

#[test]
fn stub_zone_iterates_from_the_given_servers() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("example.test."),
        to: vec!["192.0.2.20:53".parse().unwrap()],
        kind: ForwardKind::Stub,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(sim.queries_since(0), ["www.example.test. A"]);
    assert!(!sim.log[0].rd, "RD=0 to a stub's authoritative servers");
}

#[test]
fn ttls_are_clamped_and_negative_ttl_is_the_soa_minimum() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!("{EXAMPLE}long.example.test. 9999999 A 203.0.113.99\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let res = sim.resolve("long.example.test.", RType::A);
    assert_eq!(res.answer[0].ttl, 86_400, "max_ttl");
    let res = sim.resolve("missing.example.test.", RType::A);
    // The SOA's TTL is 3600 and its MINIMUM 300.
    assert_eq!(res.authority[0].ttl, 300);
}

#[test]
fn forwarder_that_refers_is_lame() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("."),
        to: vec!["192.0.2.10:53".parse().unwrap()],
        kind: ForwardKind::Forward,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    // 192.0.2.10 is an authoritative server: it refers instead of recursing.
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert_eq!(sim.rec.stats().lame, 1);
}

#[test]
fn nxdomain_after_a_cname_in_another_zone() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!("{EXAMPLE}dangling.example.test. 300 CNAME gone.other.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let res = sim.resolve("dangling.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    assert_eq!(answer_types(&res), ["dangling.example.test. CNAME"]);
    assert_eq!(res.authority[0].owner, name("other.test."));
    // From the cache: the CNAME, then the negative answer for its target.
    let before = sim.log.len();
    let again = sim.resolve("dangling.example.test.", RType::A);
    assert_eq!(sim.log.len(), before);
    assert_eq!(again.rcode, Rcode::NXDOMAIN);
    assert_eq!(answer_types(&again), ["dangling.example.test. CNAME"]);
}

#[test]
fn child_side_ns_does_not_replace_the_delegation() {
    let mut sim = world();
    sim.server("192.0.2.20").custom = Some(std::rc::Rc::new(
        |seen: &Seen, query: &[u8], server: &Server| {
            if seen.text() != "example.test. NS" {
                return Reply::Normal;
            }
            let _ = (query, server);
            let ns = |t: &str| {
                (
                    name("example.test."),
                    RType::NS,
                    300,
                    name(t).as_wire().to_vec(),
                )
            };
            Reply::Bytes(respond(
                seen,
                &seen.qname,
                Rcode::NOERROR,
                true,
                false,
                [
                    &[ns("ns1.example.test."), ns("ghost.elsewhere.test.")],
                    &[],
                    &[],
                ],
                true,
            ))
        },
    ));
    let res = sim.resolve("example.test.", RType::NS);
    assert_eq!(
        res.answer[0].rdatas.len(),
        2,
        "the child's answer is answered"
    );
    let deleg = sim
        .cache
        .closest_delegation(name("www.example.test.").as_ref(), sim.now)
        .unwrap();
    assert_eq!(deleg.owner, name("example.test."));
    assert_eq!(
        deleg.rdatas.len(),
        1,
        "the parent's delegation stays (ghost domains)"
    );
}

#[test]
fn any_returns_what_the_server_sent() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!(
            "{EXAMPLE}multi.example.test. 300 A 203.0.113.5\nmulti.example.test. 300 TXT \"hi\"\n"
        ),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let res = sim.resolve("multi.example.test.", RType::ANY);
    assert_eq!(res.rcode, Rcode::NOERROR);
    let mut types = answer_types(&res);
    types.sort();
    assert_eq!(types, ["multi.example.test. A", "multi.example.test. TXT"]);
}

#[test]
fn a_client_asking_for_the_root_ns_primes() {
    let mut sim = world();
    let res = sim.resolve(".", RType::NS);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(sim.queries_since(0), [". NS"]);
    assert!(
        sim.cache
            .closest_delegation(name("test.").as_ref(), sim.now)
            .is_some()
    );
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(sim.log.len(), 4, "no second priming");
}
