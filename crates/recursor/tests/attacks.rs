//! Attacks on a resolver in the simulated network: forged answers (RFC 5452), out-of-bailiwick
//! data (Kaminsky, MaginotDNS), NXNSAttack, delegation cycles (TsuNAME), CNAME loops, private
//! upstream addresses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use std::net::SocketAddr;
use std::rc::Rc;

use recursor::{Forward, ForwardKind, LimitKind, Rejection, Verdict};
use sim::*;
use wire::{Name, RType, Rcode};

fn a(owner: &str, addr: [u8; 4]) -> Rec {
    (name(owner), RType::A, 300, addr.to_vec())
}

fn ns(owner: &str, target: &str) -> Rec {
    (name(owner), RType::NS, 300, name(target).as_wire().to_vec())
}

/// `name` with the case of every letter flipped.
fn flip_case(n: &Name) -> Name {
    let flipped: Vec<u8> = n
        .as_wire()
        .iter()
        .map(|b| {
            if b.is_ascii_alphabetic() {
                b ^ 0x20
            } else {
                *b
            }
        })
        .collect();
    Name::from_wire(&flipped).unwrap()
}

#[test]
fn forged_answers_are_ignored_and_counted() {
    let mut sim = world();
    sim.forger = Some(Box::new(|t, seen| {
        if seen.text() != "www.example.test. A" {
            return Vec::new();
        }
        let evil = [a("www.example.test.", [6, 6, 6, 6])];
        let forged = |seen: &Seen, qname: &Name| {
            respond(
                seen,
                qname,
                Rcode::NOERROR,
                true,
                false,
                [&evil, &[], &[]],
                true,
            )
        };
        let mut wrong_id = seen.clone();
        wrong_id.id ^= 0x5a5a;
        let mut wrong_port = t.server;
        wrong_port.set_port(5353);
        let wrong_addr: SocketAddr = "192.0.2.99:53".parse().unwrap();
        let mut wrong_type = seen.clone();
        wrong_type.qtype = RType::AAAA;
        vec![
            (t.server, forged(&wrong_id, &seen.qname)),
            (wrong_port, forged(seen, &seen.qname)),
            (wrong_addr, forged(seen, &seen.qname)),
            (t.server, forged(seen, &flip_case(&seen.qname))),
            (t.server, forged(seen, &name("www.evil.test."))),
            (t.server, forged(&wrong_type, &seen.qname)),
            (t.server, b"\x00\x01garbage".to_vec()),
        ]
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"], "the genuine answer wins");
    let stats = sim.rec.stats();
    assert_eq!(stats.rejected(Rejection::WrongId), 1);
    assert_eq!(stats.rejected(Rejection::WrongSource), 2);
    assert_eq!(stats.rejected(Rejection::WrongCase), 1);
    assert_eq!(stats.rejected(Rejection::WrongQuestion), 2);
    assert_eq!(stats.rejected(Rejection::Malformed), 1);
    assert!(
        sim.forged_verdicts
            .iter()
            .all(|v| matches!(v, Verdict::Rejected(_)))
    );
    // Nothing forged is cached.
    let (cached, _) = sim
        .cache
        .rrset(name("www.example.test.").as_ref(), RType::A, sim.now)
        .unwrap();
    assert_eq!(cached.rdatas, [vec![203, 0, 113, 80]]);
    // A datagram for a query that is over is not even looked at.
    assert_eq!(stats.case_fallbacks, 0);
}

#[test]
fn late_datagrams_for_closed_queries_are_closed() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    let verdict = sim.rec.handle_response(
        recursor::UpstreamId(1),
        "192.0.2.1:53".parse().unwrap(),
        &[0; 12],
        sim.now,
    );
    assert_eq!(verdict, Verdict::Closed);
    assert_eq!(sim.rec.stats().late_responses, 1);
}

#[test]
fn out_of_bailiwick_records_are_never_cached() {
    let mut sim = world();
    // The test. server adds a sibling's address and a foreign name server to its referral.
    sim.server("192.0.2.10").custom = Some(Rc::new(|seen: &Seen, q: &[u8], s: &Server| {
        if seen.text() != "example.test. A" {
            return Reply::Bytes(answer(s, seen, q).unwrap());
        }
        let authority = [ns("example.test.", "ns1.example.test.")];
        let additional = [
            a("ns1.example.test.", [192, 0, 2, 20]),
            a("www.other.test.", [6, 6, 6, 6]),
            a("ns.victim.sim.", [6, 6, 6, 6]),
        ];
        Reply::Bytes(respond(
            seen,
            &seen.qname,
            Rcode::NOERROR,
            false,
            false,
            [&[], &authority, &additional],
            true,
        ))
    }));
    // The example.test. server answers with poison for other zones.
    sim.server("192.0.2.20").custom = Some(Rc::new(|seen: &Seen, q: &[u8], s: &Server| {
        if seen.text() != "www.example.test. A" {
            return Reply::Bytes(answer(s, seen, q).unwrap());
        }
        let answer_section = [
            a("www.example.test.", [203, 0, 113, 80]),
            a("www.other.test.", [6, 6, 6, 6]),
        ];
        let authority = [
            ns("other.test.", "ns.evil.sim."),
            ns("test.", "ns.evil.sim."),
        ];
        let additional = [
            a("ns.evil.sim.", [6, 6, 6, 6]),
            a("ns1.other.test.", [6, 6, 6, 6]),
        ];
        Reply::Bytes(respond(
            seen,
            &seen.qname,
            Rcode::NOERROR,
            true,
            false,
            [&answer_section, &authority, &additional],
            true,
        ))
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert!(sim.rec.stats().out_of_bailiwick >= 5);
    for (owner, rtype) in [
        ("www.other.test.", RType::A),
        ("ns.victim.sim.", RType::A),
        ("ns.evil.sim.", RType::A),
        ("ns1.other.test.", RType::A),
        ("other.test.", RType::NS),
    ] {
        assert!(
            sim.cache
                .rrset(name(owner).as_ref(), rtype, sim.now)
                .is_none(),
            "{owner} {rtype} must not be cached"
        );
    }
    let deleg = sim
        .cache
        .closest_delegation(name("www.other.test.").as_ref(), sim.now)
        .unwrap();
    assert_eq!(
        deleg.owner,
        name("test."),
        "no delegation taught by example.test."
    );
    let targets: Vec<Name> = deleg
        .rdatas
        .iter()
        .map(|r| Name::from_wire(r).unwrap())
        .collect();
    assert_eq!(targets, [name("ns1.test.")]);
    let res = sim.resolve("www.other.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.90"]);
}

#[test]
fn alias_target_data_from_another_zone_is_not_believed() {
    let mut sim = world();
    sim.server("192.0.2.20").custom = Some(Rc::new(|seen: &Seen, q: &[u8], s: &Server| {
        if seen.text() != "alias.example.test. A" {
            return Reply::Bytes(answer(s, seen, q).unwrap());
        }
        let answer_section = [
            (
                name("alias.example.test."),
                RType::CNAME,
                300,
                name("www.other.test.").as_wire().to_vec(),
            ),
            a("www.other.test.", [6, 6, 6, 6]),
        ];
        Reply::Bytes(respond(
            seen,
            &seen.qname,
            Rcode::NOERROR,
            true,
            false,
            [&answer_section, &[], &[]],
            true,
        ))
    }));
    let res = sim.resolve("alias.example.test.", RType::A);
    assert_eq!(
        addresses(&res),
        ["203.0.113.90"],
        "asked other.test.'s server itself"
    );
}

#[test]
fn upward_referral_is_lame() {
    let mut sim = world();
    sim.server("192.0.2.20").custom = Some(Rc::new(|seen: &Seen, _q: &[u8], _s: &Server| {
        let authority = [ns("test.", "ns1.test.")];
        Reply::Bytes(respond(
            seen,
            &seen.qname,
            Rcode::NOERROR,
            false,
            false,
            [&[], &authority, &[]],
            true,
        ))
    }));
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert_eq!(sim.rec.stats().lame, 1);
    assert_eq!(
        sim.rec.stats().referrals,
        2,
        "the upward one is not followed"
    );
}

/// `test.` delegates `nxns.test.` to 100 glue-less names in `victim.test.` (192.0.2.50),
/// which does not have them.
fn nxns_world() -> Sim {
    let mut sim = world();
    let mut text = format!(
        "{TEST}victim.test. 3600 NS ns1.victim.test.\nns1.victim.test. 3600 A 192.0.2.50\n"
    );
    for i in 0..100 {
        text.push_str(&format!("nxns.test. 3600 NS x{i}.victim.test.\n"));
    }
    let test = zone("test.", &text);
    let victim = zone(
        "victim.test.",
        "victim.test. 300 SOA ns1.victim.test. a.victim.test. 1 1 1 1 60\n\
         victim.test. 300 NS ns1.victim.test.\nns1.victim.test. 300 A 192.0.2.50\n",
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    sim.serve("192.0.2.50", &[&victim]);
    sim
}

#[test]
fn nxns_referral_to_100_names_is_bounded() {
    let mut sim = nxns_world();
    let res = sim.resolve("www.nxns.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    let ede = res.extended_error.as_ref().unwrap();
    assert_eq!(ede.code, 0);
    assert_eq!(ede.text, "NS name resolution limit reached");
    let to_victim = sim.servers[&ip("192.0.2.50")].seen;
    assert_eq!(to_victim, 5, "five NS names resolved, not a hundred");
    assert_eq!(
        sim.log.len(),
        9,
        "priming, test., nxns.test., victim.test., five names"
    );
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::NsNamesResolved), 1);
    assert_eq!(sim.rec.in_flight(), 0);
}

#[test]
fn a_limit_hit_by_one_question_leaves_others_alone() {
    let mut sim = nxns_world();
    let attack = sim.submit("www.nxns.test.", RType::A);
    let normal = sim.submit("www.example.test.", RType::A);
    sim.run();
    assert_eq!(sim.answer(attack).rcode, Rcode::SERVFAIL);
    assert!(sim.answer(attack).extended_error.is_some());
    assert_eq!(addresses(&sim.answer(normal)), ["203.0.113.80"]);
}

#[test]
fn delegation_cycle_ends_in_servfail() {
    let mut sim = world();
    let test = zone(
        "test.",
        &format!("{TEST}a.test. 3600 NS ns.b.test.\nb.test. 3600 NS ns.a.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    let res = sim.resolve("www.a.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    let ede = res.extended_error.as_ref().unwrap();
    assert_eq!(ede.code, 22);
    assert!(ede.text.contains("cycle"), "{}", ede.text);
    assert!(sim.log.len() <= 6, "{:?}", sim.queries_since(0));
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::DependencyDepth), 1);
    assert_eq!(sim.rec.in_flight(), 0);
    assert_eq!(sim.rec.upstream_in_flight(), 0);
}

#[test]
fn cname_loop_is_bounded() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!("{EXAMPLE}loop.example.test. 300 CNAME loop.other.test.\n"),
    );
    let other = zone(
        "other.test.",
        &format!("{OTHER}loop.other.test. 300 CNAME loop.example.test.\n"),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    sim.servers.get_mut(&ip("192.0.2.30")).unwrap().zones = vec![other];
    let res = sim.resolve("loop.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert_eq!(
        res.extended_error.as_ref().unwrap().text,
        "CNAME chain limit reached"
    );
    assert!(sim.log.len() <= 8, "{:?}", sim.queries_since(0));
    assert_eq!(sim.rec.stats().limit_hits(LimitKind::CnameChain), 1);
}

#[test]
fn cname_loop_inside_one_answer_is_bounded() {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!(
            "{EXAMPLE}l1.example.test. 300 CNAME l2.example.test.\n\
             l2.example.test. 300 CNAME l1.example.test.\n"
        ),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    let res = sim.resolve("l1.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert_eq!(sim.rec.in_flight(), 0);
}

/// `test.` delegates `private.test.` to a server at 10.0.0.53 (glue).
fn private_world(insecure: bool) -> Sim {
    let mut config = config();
    config.insecure_local_upstreams = insecure;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    let test = zone(
        "test.",
        &format!(
            "{TEST}private.test. 3600 NS ns.private.test.\nns.private.test. 3600 A 10.0.0.53\n"
        ),
    );
    let private = zone(
        "private.test.",
        "private.test. 300 SOA ns.private.test. a.private.test. 1 1 1 1 60\n\
         private.test. 300 NS ns.private.test.\nns.private.test. 300 A 10.0.0.53\n\
         www.private.test. 300 A 203.0.113.53\n",
    );
    sim.servers.get_mut(&ip("192.0.2.10")).unwrap().zones = vec![test];
    sim.serve("10.0.0.53", &[&private]);
    sim
}

#[test]
fn private_addresses_from_glue_are_refused() {
    let mut sim = private_world(false);
    let res = sim.resolve("www.private.test.", RType::A);
    assert_eq!(res.rcode, Rcode::SERVFAIL);
    assert_eq!(sim.servers[&ip("10.0.0.53")].seen, 0, "never sent there");
    assert!(
        res.extended_error
            .as_ref()
            .unwrap()
            .text
            .contains("private")
    );
    assert!(sim.rec.stats().private_refused >= 1);
}

#[test]
fn insecure_local_upstreams_allows_them() {
    let mut sim = private_world(true);
    let res = sim.resolve("www.private.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.53"]);
    assert_eq!(sim.servers[&ip("10.0.0.53")].seen, 1);
}

#[test]
fn configured_forwarders_may_be_private() {
    let mut config = config();
    config.forwards = vec![Forward {
        zone: name("private.test."),
        to: vec!["10.0.0.53:53".parse().unwrap()],
        kind: ForwardKind::Forward,
        selection: Default::default(),
    }];
    let mut sim = Sim::new(config);
    let private = zone(
        "private.test.",
        "private.test. 300 SOA ns.private.test. a.private.test. 1 1 1 1 60\n\
         private.test. 300 NS ns.private.test.\nns.private.test. 300 A 10.0.0.53\n\
         www.private.test. 300 A 203.0.113.53\n",
    );
    sim.serve("10.0.0.53", &[&private]);
    let res = sim.resolve("www.private.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.53"]);
}

#[test]
fn debug_output_shows_no_secrets() {
    let mut sim = world();
    sim.submit("www.example.test.", RType::A);
    let text = format!("{:?}", sim.rec);
    assert_eq!(
        text,
        "Recursor { resolutions: 2, upstream_queries: 1, timers: 3, parked: 0, servers_known: 1, .. }"
    );
}
