//! RFC 8482: ANY over UDP gets one RRset (by default the smallest), over TCP every RRset.

use wire::{RType, Rcode};

use crate::support::*;
use engine::{AnyPolicy, EngineConfig};

#[test]
fn udp_any_gets_the_smallest_rrset() {
    let r = ask_udp(&query("multi.example.", RType::ANY));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert_eq!(
        r.answer_summary(),
        vec![("multi.example.".into(), RType::A)]
    );
}

#[test]
fn tcp_any_gets_every_rrset() {
    let r = ask(&engine(), &query("multi.example.", RType::ANY), tcp());
    let mut types: Vec<RType> = r.answer().iter().map(|x| x.rtype).collect();
    types.sort();
    assert_eq!(types, vec![RType::A, RType::HINFO, RType::TXT]);
}

#[test]
fn hinfo_policy_synthesises_rfc8482() {
    let e = engine_with(EngineConfig {
        any_policy: AnyPolicy::Hinfo,
        ..EngineConfig::default()
    });
    let r = ask(&e, &query("multi.example.", RType::ANY), udp());
    let answer = r.answer();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].rtype, RType::HINFO);
    assert_eq!(answer[0].rdata, b"\x07RFC8482\x00");
    assert_eq!(answer[0].ttl, 300);
}

#[test]
fn insecure_full_policy_sends_everything_over_udp() {
    let e = engine_with(EngineConfig {
        any_policy: AnyPolicy::InsecureFull,
        ..EngineConfig::default()
    });
    let r = ask(&e, &query("multi.example.", RType::ANY), udp());
    assert_eq!(r.answer().len(), 3);
}

#[test]
fn any_at_missing_names_and_wildcards() {
    let r = ask_udp(&query("nope.example.", RType::ANY));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    let r = ask_udp(&query("ent.example.", RType::ANY));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    let r = ask_udp(&query("q.wild.example.", RType::ANY));
    assert_eq!(r.answer()[0].owner, "q.wild.example.");
    // ANY does not follow CNAMEs: the CNAME is the name's only RRset.
    let r = ask_udp(&query("alias.example.", RType::ANY));
    assert_eq!(
        r.answer_summary(),
        vec![("alias.example.".into(), RType::CNAME)]
    );
}

#[test]
fn rrsig_queries_without_signatures_are_nodata() {
    let r = ask_udp(&query("www.example.", RType::RRSIG));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    assert_eq!(r.authority()[0].rtype, RType::SOA);
}
