//! The resolver against broken and hostile authoritative servers (the fake of tests/world):
//! lame, silent and slow servers beside a good one, truncation, servers without EDNS, forged
//! answers (other source port, other address, other ID, other question case), servers that
//! do not echo the question's case, out-of-bailiwick data, NXNS referrals and delegation
//! cycles. Upstream queries are counted where the servers received them.
//!
//! Every test owns a block `127.N.0.0/16` (the table is in `world/mod.rs`) and needs port 53:
//! run as root, or the tests print `SKIPPED:` and return.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use wire::{RType, Rcode};
use world::fake::{Behaviour, CaseEcho, Fake, Forgery, Transport, recs};
use world::{Reply, Resolver, World, basic, collect_udp, exchange_tcp, query_bytes};

/// Limits of the Portcullis resolver these tests check against (its documented defaults,
/// `recursor::Limits`): upstream queries per client question, glue-less name server names
/// resolved per client question, and the time a client question may take.
const MAX_UPSTREAM_QUERIES: usize = 50;
const MAX_GLUELESS_QUERIES: usize = 10;
/// Glue-less NS names resolved for one delegation (`resolver.max_ns_names_resolved`).
const MAX_NS_NAMES_RESOLVED: usize = 5;
const MAX_QUESTION_TIME: Duration = Duration::from_secs(10);

/// A world whose `test.` delegates `zone` (a label) to `ns1.<zone>.test.` at `127.N.3.1` (a
/// fake, started by the caller) and `ns2.<zone>.test.` at `127.N.3.2` (Portcullis, serving
/// the same data) when `with_good` is set.
fn half_broken(test: &str, n: u8, zone: &str, with_good: bool) -> World {
    let mut tld = format!("{zone} NS ns1.{zone}\nns1.{zone} A 127.N.3.1\n");
    let mut data = "@ NS ns1\nns1 A 127.N.3.1\n".to_string();
    if with_good {
        tld.push_str(&format!("{zone} NS ns2.{zone}\nns2.{zone} A 127.N.3.2\n"));
        data.push_str("@ NS ns2\nns2 A 127.N.3.2\n");
    }
    for (i, name) in ["www", "a", "b", "c", "d", "e"].iter().enumerate() {
        data.push_str(&format!("{name} A 192.0.2.{}\n", 100 + i));
    }
    let origin = format!("{zone}.test.");
    let mut w = basic(test, n).records("test.", &tld).zone(&origin, &data);
    if with_good {
        w = w.server("3.2", &[&origin]);
    }
    w.start()
}

/// The fake's copy of [`half_broken`]'s zone data.
fn fake_data(zone: &str) -> String {
    let mut data =
        format!("{zone}.test. 3600 NS ns1.{zone}.test.\nns1.{zone}.test. 3600 A 127.N.3.1\n");
    for (i, name) in ["www", "a", "b", "c", "d", "e"].iter().enumerate() {
        data.push_str(&format!("{name}.{zone}.test. 3600 A 192.0.2.{}\n", 100 + i));
    }
    data
}

/// Asks the six names of [`half_broken`]'s zone; each must be answered right within `limit`.
/// Returns the slowest time.
fn ask_all(resolver: &Resolver, zone: &str, limit: Duration) -> Vec<Duration> {
    let mut times = Vec::new();
    for (i, name) in ["www", "a", "b", "c", "d", "e"].iter().enumerate() {
        let r = resolver.ask_within(&format!("{name}.{zone}.test."), RType::A, limit);
        assert_eq!(r.rcode, Rcode::NOERROR, "{name}.{zone}.test.: {r}");
        assert_eq!(
            r.rdatas(RType::A),
            [format!("192.0.2.{}", 100 + i)],
            "{name}.{zone}.test.: {r}"
        );
        times.push(r.elapsed);
    }
    times
}

fn lame_case(test: &str, n: u8, zone: &str, behaviour: Behaviour) {
    if !world::port_53_available(test, n) {
        return;
    }
    let world = half_broken(test, n, zone, true);
    let origin = format!("{zone}.test.");
    let fake = Fake::start(world.ip("3.1"), &[&origin], &fake_data(zone), behaviour);
    let resolver = world.resolver();
    let times = ask_all(&resolver, zone, Duration::from_secs(8));
    let good = world.queries_at("3.2");
    eprintln!(
        "{test}: 6 names answered, times {times:?}; the broken server got {} queries, the good \
         one {good}",
        fake.total()
    );
    // The broken server is not asked again and again for every name.
    assert!(fake.total() <= 12, "{}", fake.describe());
}

#[test]
fn lame_refused_falls_back() {
    lame_case(
        "lame_refused_falls_back",
        20,
        "refused",
        Behaviour {
            refuse: true,
            ..Behaviour::default()
        },
    );
}

#[test]
fn lame_upward_referral_falls_back() {
    lame_case(
        "lame_upward_referral_falls_back",
        21,
        "upward",
        Behaviour {
            upward_referral: true,
            ..Behaviour::default()
        },
    );
}

#[test]
fn silent_server_falls_back() {
    lame_case(
        "silent_server_falls_back",
        22,
        "silent",
        Behaviour {
            silent: true,
            ..Behaviour::default()
        },
    );
}

/// A zone served only by a fake `behaviour`: returns the world, the fake and a resolver.
fn only_fake(test: &str, n: u8, zone: &str, behaviour: Behaviour) -> (World, Fake, Resolver) {
    let world = half_broken(test, n, zone, false);
    let origin = format!("{zone}.test.");
    let fake = Fake::start(world.ip("3.1"), &[&origin], &fake_data(zone), behaviour);
    let resolver = world.resolver();
    (world, fake, resolver)
}

#[test]
fn slow_server_still_answers() {
    const N: u8 = 23;
    if !world::port_53_available("slow_server_still_answers", N) {
        return;
    }
    let (_world, fake, resolver) = only_fake(
        "slow",
        N,
        "slow",
        Behaviour {
            delay: Some(Duration::from_millis(400)),
            ..Behaviour::default()
        },
    );
    let times = ask_all(&resolver, "slow", Duration::from_secs(10));
    eprintln!(
        "slow_server_still_answers: the only server answers after 400 ms; times {times:?}, {} \
         queries to it ({} over TCP)",
        fake.total(),
        fake.count_transport(Transport::Tcp)
    );
    // Retransmissions, but bounded: a few per name at most.
    assert!(fake.total() <= 6 * 4, "{}", fake.describe());
}

#[test]
fn truncation_retries_over_tcp() {
    const N: u8 = 24;
    if !world::port_53_available("truncation_retries_over_tcp", N) {
        return;
    }
    let (_world, fake, resolver) = only_fake(
        "tc",
        N,
        "tc",
        Behaviour {
            truncate_udp: true,
            ..Behaviour::default()
        },
    );
    ask_all(&resolver, "tc", Duration::from_secs(8));
    let tcp = fake.count_transport(Transport::Tcp);
    eprintln!(
        "truncation_retries_over_tcp: {} UDP and {tcp} TCP queries for 6 names",
        fake.count_transport(Transport::Udp)
    );
    assert!(tcp >= 6, "answers without TCP:\n{}", fake.describe());
    if let Some(n) = resolver.metric("portcullis_upstream_fallbacks_total", &["kind=\"tcp\""]) {
        assert!(n >= 1.0, "TCP fallbacks not counted");
    }
    assert!(fake.total() <= 6 * 4, "{}", fake.describe());
}

#[test]
fn no_edns_server() {
    const N: u8 = 25;
    if !world::port_53_available("no_edns_server", N) {
        return;
    }
    let (_world, fake, resolver) = only_fake(
        "noedns",
        N,
        "noedns",
        Behaviour {
            no_edns: true,
            ..Behaviour::default()
        },
    );
    ask_all(&resolver, "noedns", Duration::from_secs(8));
    let seen = fake.seen();
    let plain = seen.iter().filter(|s| !s.edns).count();
    eprintln!(
        "no_edns_server: {} queries, {plain} of them without EDNS, for 6 names",
        seen.len()
    );
    assert!(
        plain >= 1,
        "never retried without EDNS:\n{}",
        fake.describe()
    );
    if let Some(n) = resolver.metric("portcullis_upstream_fallbacks_total", &["kind=\"edns\""]) {
        assert!(n >= 1.0, "EDNS fallbacks not counted");
    }
    // The fallback is remembered: not two queries (with and without EDNS) for every name.
    assert!(seen.len() <= 6 + 4, "{}", fake.describe());
}

#[test]
fn forged_answers_rejected() {
    const N: u8 = 26;
    let test = "forged_answers_rejected";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = half_broken(test, N, "bank", false);
    let forger = world.ip("250.1");
    let kinds = [
        Forgery::SourcePort,
        Forgery::SourceAddress(forger),
        Forgery::Id,
        Forgery::QuestionCase,
    ];
    // The forger's socket is bound when the fake starts; nothing is forged before `forged`
    // is set.
    let fake = Fake::start(
        world.ip("3.1"),
        &["bank.test."],
        &fake_data("bank"),
        Behaviour {
            forge: kinds.to_vec(),
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver();
    let names = ["www", "a", "b", "c", "d"];
    let mut phases: Vec<(String, Vec<Forgery>)> = kinds
        .iter()
        .zip(names)
        .map(|(k, n)| (n.to_string(), vec![*k]))
        .collect();
    phases.push(("d".to_string(), kinds.to_vec()));
    if !resolver.is_portcullis() {
        // Unbound's 0x20 fallback re-asks without case randomisation after a mismatch and
        // then takes the forger's answer: only the other forgeries are checked against it.
        phases.retain(|(_, f)| !f.contains(&Forgery::QuestionCase));
        eprintln!("{test}: the question-case forgery is not checked against Unbound");
    }
    for (i, (name, forge)) in phases.iter().enumerate() {
        let qname = format!("{name}.bank.test.");
        fake.set(Behaviour {
            forge: forge.clone(),
            forged: recs(
                &format!(
                    "{qname} 86400 A 6.6.6.{i}\ne.bank.test. 86400 A 6.6.6.66\n\
                     www.example.test. 86400 A 6.6.6.67"
                ),
                N,
            ),
            forge_lead: Duration::from_millis(150),
            ..Behaviour::default()
        });
        let r = resolver.ask_within(&qname, RType::A, Duration::from_secs(8));
        let want = 100 + names.iter().position(|n| n == name).unwrap();
        assert_eq!(
            r.rdatas(RType::A),
            [format!("192.0.2.{want}")],
            "forged with {forge:?}: {r}"
        );
        assert_no_forged(&r);
        eprintln!(
            "forged_answers_rejected: {forge:?}: true answer in {:?}",
            r.elapsed
        );
    }
    fake.set(Behaviour::default());
    // Later, nothing forged comes out of the cache either.
    for (i, name) in ["www", "a", "b", "c", "d", "e"].iter().enumerate() {
        let r = resolver.ask(&format!("{name}.bank.test."), RType::A);
        assert_eq!(r.rdatas(RType::A), [format!("192.0.2.{}", 100 + i)], "{r}");
        assert_no_forged(&r);
    }
    let www = resolver.ask("www.example.test.", RType::A);
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
    eprint!("{}", resolver.metric_lines(&["rejected", "fallbacks"]));
}

fn assert_no_forged(r: &Reply) {
    for rr in r.all_records() {
        assert!(!rr.rdata.starts_with("6.6.6."), "forged data answered: {r}");
    }
}

#[test]
fn case_not_echoed_still_resolves() {
    const N: u8 = 27;
    let test = "case_not_echoed_still_resolves";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records(
            "test.",
            "lower NS ns1.lower\nns1.lower A 127.N.3.1\n\
             swapped NS ns1.swapped\nns1.swapped A 127.N.3.2\n",
        )
        .start();
    let data = |zone: &str, at: &str| {
        format!(
            "{zone}.test. 3600 NS ns1.{zone}.test.\nns1.{zone}.test. 3600 A 127.N.{at}\n\
             www.{zone}.test. 3600 A 192.0.2.27\ntwo.{zone}.test. 3600 A 192.0.2.27\n"
        )
    };
    let lower = Fake::start(
        world.ip("3.1"),
        &["lower.test."],
        &data("lower", "3.1"),
        Behaviour {
            case: CaseEcho::Lower,
            ..Behaviour::default()
        },
    );
    let swapped = Fake::start(
        world.ip("3.2"),
        &["swapped.test."],
        &data("swapped", "3.2"),
        Behaviour {
            case: CaseEcho::Swapped,
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver();
    let mut mixed_after_first = std::collections::HashMap::new();
    for (name, zone, fake) in [
        ("www", "lower", &lower),
        ("www", "swapped", &swapped),
        ("two", "lower", &lower),
        ("two", "swapped", &swapped),
    ] {
        let r = resolver.ask_within(
            &format!("{name}.{zone}.test."),
            RType::A,
            Duration::from_secs(8),
        );
        assert_eq!(r.rcode, Rcode::NOERROR, "{zone}: {r}\n{}", fake.describe());
        assert_eq!(r.rdatas(RType::A), ["192.0.2.27"], "{zone}: {r}");
        let mixed = fake
            .seen()
            .iter()
            .filter(|s| s.qname.to_string() != s.qname.to_string().to_ascii_lowercase())
            .count();
        eprintln!(
            "case_not_echoed_still_resolves: {name}.{zone}: {} queries so far ({mixed} in mixed \
             case), answered in {:?}",
            fake.total(),
            r.elapsed
        );
        if resolver.is_portcullis() {
            // No timeout's worth of waiting (the RTO is 376 ms for a new server): a short
            // grace after the wrong-case answer, then TCP.
            assert!(
                r.elapsed < Duration::from_millis(250),
                "{name}.{zone}: {:?}",
                r.elapsed
            );
            // Remembered, by every driver: the second name goes out as asked.
            let first = *mixed_after_first.entry(zone).or_insert(mixed);
            assert_eq!(mixed, first, "{name}.{zone}: asked in mixed case again");
        }
    }
    eprint!("{}", resolver.metric_lines(&["rejected", "fallbacks"]));
}

#[test]
fn out_of_bailiwick_ignored() {
    const N: u8 = 28;
    let test = "out_of_bailiwick_ignored";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records("test.", "evil NS ns.evil\nns.evil A 127.N.3.1")
        .start();
    // Every answer from evil.test claims example.test, test. and the root for itself, and
    // brings addresses for names it has no authority over.
    let evil = Fake::start(
        world.ip("3.1"),
        &["evil.test."],
        "evil.test. 3600 NS ns.evil.test.\nns.evil.test. 3600 A 127.N.3.1\n\
         www.evil.test. 3600 A 192.0.2.28\n",
        Behaviour {
            extra_authority: recs(
                "example.test. 86400 NS ns.evil.test.\ntest. 86400 NS ns.evil.test.\n\
                 . 86400 NS ns.evil.test.",
                N,
            ),
            extra_additional: recs(
                "ns.evil.test. 86400 A 127.N.3.1\nwww.example.test. 86400 A 6.6.6.1\n\
                 ns1.example.test. 86400 A 127.N.3.1\nns1.nic.test. 86400 A 127.N.3.1\n\
                 a.root-servers. 86400 A 127.N.3.1\nfresh.example.test. 86400 A 6.6.6.2",
                N,
            ),
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver();
    let r = resolver.ask("www.evil.test.", RType::A);
    assert_eq!(r.rdatas(RType::A), ["192.0.2.28"], "{r}");
    // What the evil server claimed is not believed: example.test is still resolved from its
    // own servers, and nothing it sent about other zones is answered.
    let www = resolver.ask("www.example.test.", RType::A);
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
    assert_no_forged(&www);
    let ns1 = resolver.ask("ns1.example.test.", RType::A);
    assert_eq!(ns1.rdatas(RType::A), ["127.28.2.1"], "{ns1}");
    let fresh = resolver.ask("fresh.example.test.", RType::A);
    assert_eq!(fresh.rcode, Rcode::NXDOMAIN, "{fresh}");
    let tld = resolver.ask("test.", RType::NS);
    assert_eq!(tld.rdatas(RType::NS), ["ns1.nic.test."], "{tld}");
    let nic = resolver.ask("ns1.nic.test.", RType::A);
    assert_eq!(nic.rdatas(RType::A), ["127.28.1.1"], "{nic}");
    let outside = evil
        .seen()
        .iter()
        .filter(|s| {
            !s.qname
                .as_ref()
                .is_subdomain_of("evil.test.".parse::<wire::Name>().unwrap().as_ref())
        })
        .count();
    eprintln!(
        "out_of_bailiwick_ignored: the evil server got {} queries, {outside} for names outside \
         evil.test",
        evil.total()
    );
    assert_eq!(
        outside,
        0,
        "the injected delegation was used:\n{}",
        evil.describe()
    );
}

#[test]
fn nxns_bounded() {
    const N: u8 = 29;
    let test = "nxns_bounded";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records(
            "test.",
            "attacker NS ns.attacker\nns.attacker A 127.N.3.1\n\
             victim NS ns.victim\nns.victim A 127.N.4.1\n",
        )
        .start();
    // Any name below sub.attacker.test is referred to 100 name servers under victim.test,
    // without glue: resolving them all would make the victim answer 100+ queries.
    let mut attacker_data = "attacker.test. 3600 NS ns.attacker.test.\n\
                             ns.attacker.test. 3600 A 127.N.3.1\n"
        .to_string();
    for i in 1..=100 {
        attacker_data.push_str(&format!("sub.attacker.test. 3600 NS ns{i}.victim.test.\n"));
    }
    let attacker = Fake::start(
        world.ip("3.1"),
        &["attacker.test."],
        &attacker_data,
        Behaviour::default(),
    );
    let victim = Fake::start(
        world.ip("4.1"),
        &["victim.test."],
        "victim.test. 3600 NS ns.victim.test.\nns.victim.test. 3600 A 127.N.4.1\n",
        Behaviour::default(),
    );
    let resolver = world.resolver();
    let mut per_question = Vec::new();
    for i in 0..3 {
        let (v0, a0, w0) = (victim.total(), attacker.total(), world.queries_total());
        let r = resolver.ask_within(
            &format!("x{i}.sub.attacker.test."),
            RType::A,
            MAX_QUESTION_TIME + Duration::from_secs(5),
        );
        assert_ne!(r.rcode, Rcode::NOERROR, "{r}");
        let v = victim.total() - v0;
        let total = v + (attacker.total() - a0) + (world.queries_total() - w0) as usize;
        eprintln!(
            "nxns_bounded: question {i}: {} {:?} in {:?}; {v} queries to the victim, {total} \
             upstream in all",
            r.rcode, r.ede, r.elapsed
        );
        per_question.push((v, total));
        // At most that many names, each asked for A and AAAA (Unbound has its own limits:
        // 6 to 11 here).
        let bound = if resolver.is_portcullis() {
            2 * MAX_NS_NAMES_RESOLVED.min(MAX_GLUELESS_QUERIES)
        } else {
            2 * MAX_GLUELESS_QUERIES
        };
        assert!(
            v <= bound,
            "{v} queries to the victim for one question:\n{}",
            victim.describe()
        );
        assert!(total <= MAX_UPSTREAM_QUERIES, "{total} upstream queries");
    }
    eprint!("{}", resolver.metric_lines(&["limits", "upstream_queries"]));
    // The resolver still answers others at once.
    let www = resolver.ask_within("www.example.test.", RType::A, Duration::from_secs(2));
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
}

#[test]
fn delegation_cycle_fails_fast() {
    const N: u8 = 30;
    let test = "delegation_cycle_fails_fast";
    if !world::port_53_available(test, N) {
        return;
    }
    // a-cycle.test is served by ns.b-cycle.test, and b-cycle.test by ns.a-cycle.test: no
    // address can ever be found (TsuNAME-like).
    let world = basic(test, N)
        .records(
            "test.",
            "a-cycle NS ns.b-cycle.test.\nb-cycle NS ns.a-cycle.test.\n",
        )
        .start();
    let resolver = world.resolver();
    let before = world.queries_at("1.1");
    let addr = resolver.addr;
    // Meanwhile another client keeps asking ordinary names.
    let other = std::thread::spawn(move || {
        let mut times = Vec::new();
        for name in ["www", "mail", "alias", "txt", "www"] {
            let q = query_bytes(
                7,
                &format!("{name}.example.test."),
                RType::A,
                true,
                Some(1232),
            );
            let started = Instant::now();
            let bytes = world::exchange_udp(addr, &q, 3000);
            let reply = bytes.map(|b| Reply::parse(&b).unwrap());
            times.push((name, reply.map(|r| r.rcode), started.elapsed()));
        }
        times
    });
    let r = resolver.ask_within(
        "www.a-cycle.test.",
        RType::A,
        MAX_QUESTION_TIME + Duration::from_secs(5),
    );
    let tld = world.queries_at("1.1") - before;
    let others = other.join().unwrap();
    eprintln!(
        "delegation_cycle_fails_fast: {} {:?} in {:?}; {tld} queries to the TLD (the others' \
         included); others: {others:?}",
        r.rcode, r.ede, r.elapsed
    );
    assert_eq!(r.rcode, Rcode::SERVFAIL, "{r}");
    // Unbound 1.17 gives no extended error here; Portcullis must.
    assert!(
        !r.ede.is_empty() || !resolver.is_portcullis(),
        "SERVFAIL without an extended error: {r}"
    );
    assert!(r.elapsed < Duration::from_secs(3), "slow: {r}");
    for (name, rcode, took) in others {
        assert!(
            rcode.is_some_and(|c| c == Rcode::NOERROR) && took < Duration::from_secs(2),
            "{name}.example.test: {rcode:?} in {took:?} while the cycle was resolved"
        );
    }
    assert!(
        tld <= MAX_UPSTREAM_QUERIES as u64,
        "{tld} queries to the TLD"
    );
    eprint!("{}", resolver.metric_lines(&["limits"]));
    // Asked again, the failure is remembered (RFC 9520) or fails as fast again.
    let again = resolver.ask_within("www.a-cycle.test.", RType::A, Duration::from_secs(5));
    assert_eq!(again.rcode, Rcode::SERVFAIL, "{again}");
}

/// The fake itself, without a resolver: each misbehaviour does what the tests rely on.
#[test]
fn fake_misbehaves_as_scripted() {
    const N: u8 = 31;
    if !world::port_53_available("fake_misbehaves_as_scripted", N) {
        return;
    }
    let at = world::ip(N, "3.1");
    let to = SocketAddr::from((at, 53));
    let forger = world::ip(N, "250.1");
    let fake = Fake::start(
        at,
        &["fake.test."],
        "fake.test. 3600 NS ns.fake.test.\nns.fake.test. 3600 A 127.N.3.1\n\
         www.fake.test. 3600 A 192.0.2.31\nsub.fake.test. 3600 NS ns.elsewhere.test.\n",
        Behaviour {
            forge: vec![Forgery::SourceAddress(forger)],
            ..Behaviour::default()
        },
    );
    let ask = |name: &str, edns: bool| -> Option<Reply> {
        let q = query_bytes(5, name, RType::A, false, edns.then_some(1232));
        world::exchange_udp(to, &q, 300).map(|b| Reply::parse(&b).unwrap())
    };
    // Plain authority: answer, referral without glue, NXDOMAIN, REFUSED outside its zones.
    let a = ask("WwW.fake.test.", true).unwrap();
    assert!(a.flags.aa() && a.rdatas(RType::A) == ["192.0.2.31"], "{a}");
    let referral = ask("x.sub.fake.test.", true).unwrap();
    assert!(
        !referral.flags.aa() && referral.authority.len() == 1,
        "{referral}"
    );
    assert_eq!(ask("nope.fake.test.", true).unwrap().rcode, Rcode::NXDOMAIN);
    assert_eq!(ask("www.other.test.", true).unwrap().rcode, Rcode::REFUSED);

    let set = |b: Behaviour| fake.set(b);
    set(Behaviour {
        refuse: true,
        ..Behaviour::default()
    });
    assert_eq!(ask("www.fake.test.", true).unwrap().rcode, Rcode::REFUSED);
    set(Behaviour {
        upward_referral: true,
        ..Behaviour::default()
    });
    let up = ask("www.fake.test.", true).unwrap();
    assert_eq!(up.authority[0].owner, ".", "{up}");
    set(Behaviour {
        silent: true,
        ..Behaviour::default()
    });
    assert!(ask("www.fake.test.", true).is_none());
    set(Behaviour {
        no_edns: true,
        ..Behaviour::default()
    });
    assert_eq!(ask("www.fake.test.", true).unwrap().rcode, Rcode::FORMERR);
    assert_eq!(ask("www.fake.test.", false).unwrap().rcode, Rcode::NOERROR);
    set(Behaviour {
        truncate_udp: true,
        ..Behaviour::default()
    });
    let tc = ask("www.fake.test.", true).unwrap();
    assert!(tc.flags.tc() && tc.answer.is_empty(), "{tc}");
    let q = query_bytes(6, "www.fake.test.", RType::A, false, Some(1232));
    let full = Reply::parse(&exchange_tcp(to, &q, 1000).unwrap()).unwrap();
    assert!(!full.flags.tc() && full.answer.len() == 1, "{full}");
    set(Behaviour {
        case: CaseEcho::Swapped,
        ..Behaviour::default()
    });
    let q = query_bytes(8, "WwW.fake.test.", RType::A, false, None);
    let b = world::exchange_udp(to, &q, 300).unwrap();
    assert_eq!(&b[13..16], b"wWw");
    set(Behaviour {
        delay: Some(Duration::from_millis(600)),
        ..Behaviour::default()
    });
    let q = query_bytes(9, "www.fake.test.", RType::A, false, Some(1232));
    assert!(
        collect_udp(to, &q, 400).is_empty(),
        "answered before the delay"
    );
    assert_eq!(
        collect_udp(to, &q, 900).len(),
        1,
        "no answer after the delay"
    );

    // Forgeries: first the forged answers from elsewhere, then the true one from the server.
    set(Behaviour {
        forge: vec![
            Forgery::SourcePort,
            Forgery::SourceAddress(forger),
            Forgery::Id,
            Forgery::QuestionCase,
        ],
        forged: recs("www.fake.test. 60 A 6.6.6.6", N),
        forge_lead: Duration::from_millis(50),
        ..Behaviour::default()
    });
    let q = query_bytes(0x1234, "www.fake.test.", RType::A, false, Some(1232));
    let got = collect_udp(to, &q, 400);
    assert_eq!(got.len(), 5, "{got:?}");
    let froms: Vec<SocketAddr> = got.iter().map(|(f, _)| *f).collect();
    assert_ne!(froms[0].port(), 53);
    assert_eq!(froms[1], SocketAddr::from((forger, 53)));
    assert_eq!(froms[2], to);
    assert_eq!(&got[2].1[..2], &(0x1234u16 ^ 0x5a5a).to_be_bytes());
    assert_eq!(&got[3].1[13..16], b"WWW");
    let truth = Reply::parse(&got[4].1).unwrap();
    assert_eq!((froms[4], truth.id), (to, 0x1234));
    assert_eq!(truth.rdatas(RType::A), ["192.0.2.31"]);

    // Counting, per name and per transport.
    assert_eq!(fake.count("www.fake.test.", RType::A), fake.total() - 3);
    assert_eq!(fake.total(), 15);
    assert_eq!(fake.count_transport(Transport::Tcp), 1);
    assert_eq!(fake.count_under("fake.test."), fake.total() - 1);
}

/// A CNAME chain of 20 steps alternating between two zones (each answer carries one step):
/// the resolver stops at its chain limit with SERVFAIL and an extended error, having sent a
/// bounded number of queries.
#[test]
fn long_cname_chain_limited() {
    const N: u8 = 32;
    let test = "long_cname_chain_limited";
    if !world::port_53_available(test, N) {
        return;
    }
    let mut even = String::from("@ NS ns1\nns1 A 127.N.3.1\n");
    let mut odd = String::from("@ NS ns1\nns1 A 127.N.3.2\n");
    for i in 0..20 {
        let (zone, next) = if i % 2 == 0 {
            (&mut even, "odd")
        } else {
            (&mut odd, "even")
        };
        zone.push_str(&format!("c{i} CNAME c{}.{next}.test.\n", i + 1));
    }
    even.push_str("c20 A 192.0.2.32\n");
    let world = basic(test, N)
        .records(
            "test.",
            "even NS ns1.even\nns1.even A 127.N.3.1\nodd NS ns1.odd\nns1.odd A 127.N.3.2\n",
        )
        .zone("even.test.", &even)
        .zone("odd.test.", &odd)
        .server("3.1", &["even.test."])
        .server("3.2", &["odd.test."])
        .start();
    let resolver = world.resolver();
    // A short chain is followed to the end.
    let short = resolver.ask("c16.even.test.", RType::A);
    assert_eq!(short.rdatas(RType::A), ["192.0.2.32"], "{short}");
    assert_eq!(short.answer.len(), 5, "{short}");
    let before = world.queries_total();
    let r = resolver.ask_within("c0.even.test.", RType::A, MAX_QUESTION_TIME);
    let upstream = world.queries_total() - before;
    eprintln!(
        "{test}: {} {:?} with {} records in {:?}; {upstream} upstream queries",
        r.rcode,
        r.ede,
        r.answer.len(),
        r.elapsed
    );
    eprint!("{}", resolver.metric_lines(&["limits"]));
    if resolver.is_portcullis() {
        assert_eq!(r.rcode, Rcode::SERVFAIL, "{r}");
        assert!(!r.ede.is_empty(), "{r}");
    }
    assert!(upstream <= MAX_UPSTREAM_QUERIES as u64, "{upstream}");
}

/// Ghost domains: the parent removes a delegation while the (malicious) child keeps serving
/// its NS with a long TTL. Once the parent's delegation has expired, the resolver must not keep
/// the zone alive by refreshing it from the child's own NS records.
#[test]
fn ghost_domain_dies() {
    const N: u8 = 33;
    let test = "ghost_domain_dies";
    if !world::port_53_available(test, N) {
        return;
    }
    let tld = "@ SOA ns1.nic hostmaster 1 3600 600 86400 1\n@ NS ns1.nic\nns1.nic A 127.N.1.1\n\
               example NS ns1.example\nns1.example A 127.N.2.1\n";
    let mut world = basic(test, N)
        .records("test.", "ghost 2 NS ns.ghost\nns.ghost 2 A 127.N.3.1")
        .start();
    // The child answers with its NS at a day's TTL, whatever it is asked.
    let child = Fake::start(
        world.ip("3.1"),
        &["ghost.test."],
        "ghost.test. 86400 NS ns.ghost.test.\nns.ghost.test. 86400 A 127.N.3.1\n\
         www.ghost.test. 1 A 192.0.2.33\nmail.ghost.test. 1 A 192.0.2.34\n",
        Behaviour {
            extra_authority: recs("ghost.test. 86400 NS ns.ghost.test.", N),
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver();
    let a = resolver.ask("www.ghost.test.", RType::A);
    assert_eq!(a.rdatas(RType::A), ["192.0.2.33"], "{a}");
    // The parent drops the delegation.
    world.replace_zone("test.", &tld.replace("hostmaster 1", "hostmaster 2"), 2);
    // The child's NS are asked for again and again, as an attacker would make happen.
    for _ in 0..8 {
        resolver.ask("ghost.test.", RType::NS);
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = child.total();
    let r = resolver.ask("mail.ghost.test.", RType::A);
    eprintln!(
        "{test}: after the delegation expired: {} {:?}; the child got {} queries before, {} \
         after",
        r.rcode,
        r.rdatas(RType::A),
        after,
        child.total() - after
    );
    // Unbound 1.17 keeps using the child's NS here (the ghost stays); Portcullis must not.
    if resolver.is_portcullis() {
        assert_eq!(
            r.rcode,
            Rcode::NXDOMAIN,
            "the ghost zone is still resolved: {r}"
        );
    }
}

/// A chain of 36 nested zones, each delegating the next, each on a fake server of its own
/// (`127.N.3.k`): every level costs a referral. Ten levels resolve; the full depth stops at the
/// referral or query limit (asked cold) with SERVFAIL and an extended error, within the query
/// budget.
#[test]
fn deep_delegation_limited() {
    const N: u8 = 35;
    const DEPTH: usize = 36;
    let test = "deep_delegation_limited";
    if !world::port_53_available(test, N) {
        return;
    }
    let origin = |k: usize| -> String {
        let mut o = String::new();
        for i in (1..=k).rev() {
            o.push_str(&format!("d{i}."));
        }
        o.push_str("test.");
        o
    };
    let world = basic(test, N)
        .records("test.", "d1 NS ns.d1\nns.d1 A 127.N.3.1")
        .start();
    let fakes: Vec<Fake> = (1..=DEPTH)
        .map(|k| {
            let o = origin(k);
            let mut data = format!(
                "{o} 3600 NS ns.{o}\nns.{o} 3600 A 127.N.3.{k}\nwww.{o} 3600 A 192.0.2.{k}\n"
            );
            if k < DEPTH {
                let next = origin(k + 1);
                data.push_str(&format!(
                    "{next} 3600 NS ns.{next}\nns.{next} 3600 A 127.N.3.{}\n",
                    k + 1
                ));
            }
            Fake::start(
                world.ip(&format!("3.{k}")),
                &[&o],
                &data,
                Behaviour::default(),
            )
        })
        .collect();
    let resolver = world.resolver();
    let asked = |fakes: &[Fake]| fakes.iter().map(Fake::total).sum::<usize>();

    let before = world.queries_total() as usize + asked(&fakes);
    let deep = resolver.ask_within(
        &format!("www.{}", origin(DEPTH)),
        RType::A,
        MAX_QUESTION_TIME + Duration::from_secs(5),
    );
    let upstream = world.queries_total() as usize + asked(&fakes) - before;
    let deepest = fakes
        .iter()
        .rposition(|f| f.total() > 0)
        .map_or(0, |i| i + 1);
    eprintln!(
        "{test}: depth {DEPTH}: {} {:?} in {:?}, {upstream} upstream queries, deepest level \
         asked {deepest}",
        deep.rcode, deep.ede, deep.elapsed
    );
    eprint!("{}", resolver.metric_lines(&["limits"]));
    if resolver.is_portcullis() {
        assert_eq!(deep.rcode, Rcode::SERVFAIL, "{deep}");
        assert!(!deep.ede.is_empty(), "{deep}");
    }
    assert!(
        upstream <= MAX_UPSTREAM_QUERIES,
        "{upstream} upstream queries"
    );
    // Ten levels down is fine, and the resolver still works.
    let ten = resolver.ask(&format!("www.{}", origin(10)), RType::A);
    assert_eq!(ten.rdatas(RType::A), ["192.0.2.10"], "{ten}");
}

/// Every server of a zone is silent, or refuses: SERVFAIL with an extended error within the
/// time budget of a question, and the failure is remembered (RFC 9520) rather than sent
/// upstream again at once.
#[test]
fn no_server_answers() {
    const N: u8 = 36;
    let test = "no_server_answers";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records(
            "test.",
            "silent NS ns1.silent\nns1.silent A 127.N.3.1\nsilent NS ns2.silent\n\
             ns2.silent A 127.N.3.2\nrefusing NS ns1.refusing\nns1.refusing A 127.N.3.3\n",
        )
        .start();
    let silent = Behaviour {
        silent: true,
        ..Behaviour::default()
    };
    let fakes = [
        Fake::start(world.ip("3.1"), &["silent.test."], "", silent.clone()),
        Fake::start(world.ip("3.2"), &["silent.test."], "", silent),
        Fake::start(
            world.ip("3.3"),
            &["refusing.test."],
            "",
            Behaviour {
                refuse: true,
                ..Behaviour::default()
            },
        ),
    ];
    let resolver = world.resolver();
    let mut cases = vec![("refusing", Duration::from_secs(3))];
    if resolver.is_portcullis() {
        // Unbound has no time budget per question: it keeps trying silent servers for longer
        // than a test should wait.
        cases.insert(0, ("silent", MAX_QUESTION_TIME + Duration::from_secs(2)));
    }
    for (zone, limit) in cases {
        let name = format!("www.{zone}.test.");
        let before: usize = fakes.iter().map(Fake::total).sum();
        let r = resolver.ask_within(&name, RType::A, limit + Duration::from_secs(3));
        let sent = fakes.iter().map(Fake::total).sum::<usize>() - before;
        eprintln!(
            "{test}: {zone}: {} {:?} in {:?} after {sent} queries",
            r.rcode, r.ede, r.elapsed
        );
        assert_eq!(r.rcode, Rcode::SERVFAIL, "{r}");
        assert!(r.elapsed <= limit, "{zone}: took {:?}", r.elapsed);
        if resolver.is_portcullis() {
            assert!(!r.ede.is_empty(), "{r}");
        }
        assert!(sent <= MAX_UPSTREAM_QUERIES, "{sent} queries");
        // Asked again at once: answered from the failure cache, nothing sent.
        let before: usize = fakes.iter().map(Fake::total).sum();
        let again = resolver.ask_within(&name, RType::A, Duration::from_secs(2));
        let sent = fakes.iter().map(Fake::total).sum::<usize>() - before;
        eprintln!(
            "{test}: {zone} again: {} {:?} in {:?} after {sent} queries",
            again.rcode, again.ede, again.elapsed
        );
        assert_eq!(again.rcode, Rcode::SERVFAIL, "{again}");
        if resolver.is_portcullis() {
            assert_eq!(sent, 0, "the failure was not remembered");
        }
    }
    // Meanwhile the rest of the world resolves.
    let www = resolver.ask_within("www.example.test.", RType::A, Duration::from_secs(2));
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
}

/// A hostile server for evil.test tries to take over example.test: an A record for
/// www.example.test after its own CNAME, a referral whose only glue is out of its bailiwick,
/// and a sideways referral handing example.test to itself. None of it is used or answered.
#[test]
fn hijack_attempts_ignored() {
    const N: u8 = 37;
    let test = "hijack_attempts_ignored";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records("test.", "evil NS ns.evil\nns.evil A 127.N.3.1")
        .start();
    let evil = Fake::start(
        world.ip("3.1"),
        &["evil.test."],
        "evil.test. 3600 NS ns.evil.test.\nns.evil.test. 3600 A 127.N.3.1\n\
         www.evil.test. 3600 A 192.0.2.37\ncname.evil.test. 3600 CNAME www.example.test.\n\
         sub.evil.test. 3600 NS ns.example.test.\nns.example.test. 3600 A 127.N.3.9\n",
        Behaviour {
            extra_answer: recs("www.example.test. 86400 A 6.6.6.37", N),
            ..Behaviour::default()
        },
    );
    // Where the out-of-bailiwick glue points: it must never be asked.
    let trap = Fake::start(
        world.ip("3.9"),
        &["sub.evil.test.", "example.test."],
        "",
        Behaviour::default(),
    );
    let resolver = world.resolver();

    let c = resolver.ask("cname.evil.test.", RType::A);
    eprintln!("{test}: CNAME out of the zone: {c}");
    assert_eq!(c.rdatas(RType::CNAME), ["www.example.test."], "{c}");
    assert_eq!(c.rdatas(RType::A), ["192.0.2.1"], "{c}");
    assert_no_forged(&c);
    let w = resolver.ask("www.evil.test.", RType::A);
    assert_eq!(w.rdatas(RType::A), ["192.0.2.37"], "{w}");
    assert_no_forged(&w);

    let sub = resolver.ask_within("x.sub.evil.test.", RType::A, MAX_QUESTION_TIME);
    eprintln!(
        "{test}: referral with out-of-bailiwick glue: {} {:?}",
        sub.rcode, sub.ede
    );
    assert_eq!(
        trap.total(),
        0,
        "out-of-bailiwick glue used:\n{}",
        trap.describe()
    );
    let ns = resolver.ask("ns.example.test.", RType::A);
    assert_eq!(
        ns.rcode,
        Rcode::NXDOMAIN,
        "out-of-bailiwick glue answered: {ns}"
    );

    // Now every answer from evil.test is a referral of example.test to itself.
    evil.set(Behaviour {
        referral: recs("example.test. 86400 NS ns.evil.test.", N),
        extra_additional: recs("ns.evil.test. 86400 A 127.N.3.1", N),
        ..Behaviour::default()
    });
    let side = resolver.ask_within("other.evil.test.", RType::A, MAX_QUESTION_TIME);
    eprintln!("{test}: sideways referral: {} {:?}", side.rcode, side.ede);
    assert!(side.answer.is_empty(), "{side}");
    let mail = resolver.ask("mail.example.test.", RType::A);
    assert_eq!(mail.rdatas(RType::A), ["192.0.2.25"], "{mail}");
    let www = resolver.ask("www.example.test.", RType::A);
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
    assert_no_forged(&www);
    let evil_zone: wire::Name = "evil.test.".parse().unwrap();
    let outside = evil
        .seen()
        .iter()
        .filter(|s| !s.qname.as_ref().is_subdomain_of(evil_zone.as_ref()))
        .count();
    assert_eq!(
        outside,
        0,
        "the hijacked delegation was used:\n{}",
        evil.describe()
    );
    assert_eq!(trap.total(), 0, "{}", trap.describe());
}
