//! RFC 4035 section 3.1.1: with the DO bit, RRsets in the answer and the SOA of negative answers
//! come with their RRSIG records; without it, never. (Denial proofs: `tests/dnssec_proofs.rs`.)

use wire::{RType, Rcode};

use crate::support::*;
use engine::{Catalog, Engine, EngineConfig};

const SIG: &str = "13 2 3600 20300101000000 20200101000000 12345 example. AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn signed() -> Engine {
    let text = format!(
        "{EXAMPLE}www RRSIG A {SIG}\n@ RRSIG SOA {}\n",
        SIG.replacen("13 2", "13 1", 1)
    );
    Engine::new(
        Catalog::new(vec![zone("example.", &text)]).unwrap(),
        EngineConfig::default(),
    )
    .unwrap()
}

#[test]
fn signatures_follow_their_rrset_only_with_do() {
    let e = signed();
    let r = ask(&e, &query("www.example.", RType::A).dnssec_ok(), udp());
    assert_eq!(
        r.answer_summary(),
        vec![
            ("www.example.".into(), RType::A),
            ("www.example.".into(), RType::RRSIG)
        ]
    );
    let r = ask(&e, &query("www.example.", RType::A), udp());
    assert_eq!(r.answer().len(), 1);
    let r = ask(&e, &query("nope.example.", RType::A).dnssec_ok(), udp());
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    let auth = r.authority();
    assert_eq!(auth[1].rtype, RType::RRSIG);
    assert_eq!(auth[1].ttl, auth[0].ttl, "the negative TTL for both");
}

#[test]
fn rrsig_queries_get_every_signature() {
    let r = ask(&signed(), &query("www.example.", RType::RRSIG), udp());
    assert_eq!(
        r.answer_summary(),
        vec![("www.example.".into(), RType::RRSIG)]
    );
}
