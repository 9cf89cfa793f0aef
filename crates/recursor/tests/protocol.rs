//! Protocol details: DNSSEC records kept for the validator, DNS cookies as a client, DS asked
//! of the parent, IPv6 upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use recursor::{Hints, RecursorConfig};
use sim::*;
use wire::{RType, Rcode};

const SIG: &str = "13 3 300 20300101000000 20200101000000 12345 example.test. AAECAwQFBgc=";

fn signed_world() -> Sim {
    let mut sim = world();
    let example = zone(
        "example.test.",
        &format!(
            "{EXAMPLE}www.example.test. 300 RRSIG A {SIG}\n\
             example.test. 300 NSEC www.example.test. NS SOA RRSIG NSEC\n\
             example.test. 300 RRSIG NSEC 13 2 300 20300101000000 20200101000000 12345 example.test. AAECAwQFBgc=\n\
             example.test. 3600 RRSIG SOA 13 2 3600 20300101000000 20200101000000 12345 example.test. AAECAwQFBgc=\n"
        ),
    );
    sim.servers.get_mut(&ip("192.0.2.20")).unwrap().zones = vec![example];
    sim
}

#[test]
fn rrsigs_are_kept_with_their_rrsets_and_cached() {
    let mut sim = signed_world();
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    assert_eq!(
        res.answer[0].sigs.len(),
        1,
        "the RRSIG travels with the RRset"
    );
    let (cached, _) = sim
        .cache
        .rrset(name("www.example.test.").as_ref(), RType::A, sim.now)
        .unwrap();
    assert_eq!(cached.sigs, res.answer[0].sigs);
}

#[test]
fn negative_proofs_are_kept_and_cached() {
    let mut sim = signed_world();
    let res = sim.resolve("missing.example.test.", RType::A);
    assert_eq!(res.rcode, Rcode::NXDOMAIN);
    let types: Vec<RType> = res.authority.iter().map(|s| s.rtype).collect();
    assert_eq!(types, [RType::SOA, RType::NSEC]);
    assert_eq!(res.authority[0].sigs.len(), 1, "the SOA's RRSIG");
    assert_eq!(res.authority[1].sigs.len(), 1, "the NSEC's RRSIG");
    let negative = sim
        .cache
        .negative(name("missing.example.test.").as_ref(), RType::A, sim.now)
        .unwrap();
    assert_eq!(negative.proofs.len(), 1);
    assert_eq!(negative.proofs[0].rtype, RType::NSEC);
    // Answered from the cache with the same proof.
    let before = sim.log.len();
    let again = sim.resolve("missing.example.test.", RType::A);
    assert_eq!(sim.log.len(), before);
    assert_eq!(again.authority.len(), 2);
}

#[test]
fn client_cookie_sent_and_server_cookie_echoed() {
    let mut sim = world();
    sim.server("192.0.2.20").server_cookie = Some(b"SRVCOOKIE-8bytes".to_vec());
    sim.resolve("www.example.test.", RType::A);
    sim.resolve("nothere.example.test.", RType::A);
    let cookies: Vec<Vec<u8>> = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .map(|s| s.cookie.clone().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2);
    assert_eq!(cookies[0].len(), 8, "a client cookie alone at first");
    assert_eq!(&cookies[1][..8], &cookies[0][..8], "the same client cookie");
    assert_eq!(
        &cookies[1][8..],
        b"SRVCOOKIE-8bytes",
        "the server's cookie sent back"
    );
    // Another server gets another client cookie.
    let root_cookie = sim.log[0].cookie.clone().unwrap();
    assert_ne!(root_cookie[..8], cookies[0][..8]);
}

#[test]
fn badcookie_is_retried_once_with_the_new_cookie() {
    let mut sim = world();
    let server = sim.server("192.0.2.20");
    server.server_cookie = Some(b"fresh-server-ck!".to_vec());
    server.require_cookie = true;
    let res = sim.resolve("www.example.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.80"]);
    let to_leaf = sim
        .log
        .iter()
        .filter(|s| s.server.ip() == ip("192.0.2.20"))
        .count();
    assert_eq!(to_leaf, 2);
}

#[test]
fn no_cookies_when_turned_off() {
    let mut config = config();
    config.cookies = false;
    let mut sim = Sim::new(config);
    add_world(&mut sim);
    sim.resolve("www.example.test.", RType::A);
    assert!(sim.log.iter().all(|s| s.cookie.is_none()));
}

#[test]
fn ds_is_asked_of_the_parent() {
    let mut sim = world();
    sim.resolve("www.example.test.", RType::A);
    let before = sim.log.len();
    let res = sim.resolve("example.test.", RType::DS);
    assert_eq!(res.rcode, Rcode::NOERROR);
    assert_eq!(res.authority[0].owner, name("test."), "the parent's SOA");
    let asked: Vec<(String, String)> = sim.log[before..]
        .iter()
        .map(|s| (s.text(), s.server.ip().to_string()))
        .collect();
    assert_eq!(
        asked,
        [("example.test. DS".to_string(), "192.0.2.10".to_string())]
    );
}

#[test]
fn ipv6_upstreams() {
    let hints = Hints::from_zone_text(
        ". 3600000 NS a.root.sim.\na.root.sim. 3600000 AAAA 2001:db8::1\n",
        std::path::Path::new("hints"),
    )
    .unwrap();
    let mut sim = Sim::new(RecursorConfig {
        root_hints: hints,
        ipv4: false,
        ipv6: true,
        validation: no_validation(),
        ..RecursorConfig::default()
    });
    let root = zone(
        ".",
        ". 86400 SOA a.root.sim. admin.root.sim. 1 1800 900 604800 3600\n\
         . 518400 NS a.root.sim.\na.root.sim. 518400 AAAA 2001:db8::1\n\
         test. 172800 NS ns1.test.\nns1.test. 172800 AAAA 2001:db8::10\n\
         ns1.test. 172800 A 192.0.2.10\n",
    );
    let test = zone(
        "test.",
        "test. 3600 SOA ns1.test. admin.test. 1 1800 900 604800 300\n\
         test. 3600 NS ns1.test.\nns1.test. 3600 AAAA 2001:db8::10\n\
         www.test. 300 A 203.0.113.7\n",
    );
    sim.serve("2001:db8::1", &[&root]);
    sim.serve("2001:db8::10", &[&test]);
    let res = sim.resolve("www.test.", RType::A);
    assert_eq!(addresses(&res), ["203.0.113.7"]);
    assert!(sim.log.iter().all(|s| s.server.is_ipv6()), "IPv4 is off");
}
