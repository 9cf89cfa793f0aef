//! Referrals (RFC 1034 section 4.3.2 step 3b) with glue (RFC 9471), and DS at a cut with DO
//! (RFC 4035 section 3.1.4).

use wire::{RType, Rcode};

use crate::support::*;
use engine::{AnswerKind, AnswerSource, EngineConfig};

#[test]
fn a_referral_has_ns_in_authority_glue_and_no_aa() {
    let r = ask_udp(&query("www.sub.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(!r.flags().aa());
    assert!(r.answer().is_empty());
    let auth = r.authority();
    assert_eq!(auth.len(), 2);
    assert!(
        auth.iter()
            .all(|x| x.rtype == RType::NS && x.owner == "sub.example.")
    );
    let add = r.additional();
    // In-domain glue (A and AAAA of ns.sub), then sibling glue (ns.sibling).
    assert_eq!(add[0].owner, "ns.sub.example.");
    assert_eq!(add.len(), 3);
    assert!(add.iter().any(|x| x.owner == "ns.sibling.example."));
    assert!(matches!(
        r.info.source,
        AnswerSource::Zone {
            kind: AnswerKind::Referral,
            ..
        }
    ));
    // The cut itself refers too.
    let r = ask_udp(&query("sub.example.", RType::NS));
    assert!(!r.flags().aa());
    assert!(r.answer().is_empty());
    assert_eq!(r.authority().len(), 2);
}

#[test]
fn glue_addresses_are_not_answers() {
    let r = ask_udp(&query("ns.sub.example.", RType::A));
    assert!(!r.flags().aa());
    assert!(r.answer().is_empty());
    assert_eq!(r.authority()[0].rtype, RType::NS);
}

#[test]
fn ds_follows_ns_with_do() {
    let r = ask_udp(&query("www.sub.example.", RType::A).dnssec_ok());
    let auth = r.authority();
    assert_eq!(auth.last().unwrap().rtype, RType::DS);
    let r = ask_udp(&query("www.sub.example.", RType::A));
    assert!(r.authority().iter().all(|x| x.rtype == RType::NS));
}

/// A zone whose delegation has more in-domain glue than 512 bytes hold.
fn fat_glue_engine() -> engine::Engine {
    let mut text = String::from(EXAMPLE);
    for i in 0..20 {
        text.push_str(&format!("fat NS ns{i}.fat\nns{i}.fat AAAA 2001:db8::{i}\n"));
    }
    text.push_str("fat NS ns.sibling\n");
    let zones = vec![zone("example.", &text)];
    engine::Engine::new(
        engine::Catalog::new(zones).unwrap(),
        EngineConfig::default(),
    )
    .unwrap()
}

#[test]
fn in_domain_glue_must_fit_or_tc() {
    let e = fat_glue_engine();
    let r = ask(&e, &query("www.fat.example.", RType::A).no_edns(), udp());
    assert!(r.flags().tc());
    assert!(r.info.truncated);
    assert_eq!(r.msg().header().qdcount, 1);
    assert!(r.answer().is_empty() && r.authority().is_empty());
    // Over TCP it all fits.
    let r = ask(&e, &query("www.fat.example.", RType::A), tcp());
    assert!(!r.flags().tc());
    assert_eq!(r.authority().len(), 21);
    assert_eq!(r.additional().len(), 21);
}

#[test]
fn sibling_glue_is_best_effort() {
    // 1,000 bytes hold the 20 in-domain AAAA records (989 bytes with OPT) but not the sibling's
    // A record after them (16 more).
    let e = fat_glue_engine();
    let r = ask(
        &e,
        &query("www.fat.example.", RType::A).payload(1000),
        udp(),
    );
    assert!(!r.flags().tc());
    let add = r.additional();
    assert_eq!(add.iter().filter(|x| x.rtype == RType::AAAA).count(), 20);
    assert!(!add.iter().any(|x| x.owner == "ns.sibling.example."));
    let r = ask(
        &e,
        &query("www.fat.example.", RType::A).payload(1232),
        udp(),
    );
    assert!(
        r.additional()
            .iter()
            .any(|x| x.owner == "ns.sibling.example.")
    );
}
