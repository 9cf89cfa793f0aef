//! RFC 2308: NXDOMAIN and NODATA carry the zone's SOA with the negative TTL; empty
//! non-terminals are NODATA (RFC 4592 section 2.2.2).

use wire::{RType, Rcode};

use crate::support::*;
use engine::{AnswerKind, AnswerSource};

#[test]
fn nxdomain_has_the_soa_with_the_negative_ttl() {
    let r = ask_udp(&query("nope.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert!(r.flags().aa());
    assert!(r.answer().is_empty());
    let auth = r.authority();
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].owner, "example.");
    assert_eq!(auth[0].rtype, RType::SOA);
    // min(SOA TTL 3600, MINIMUM 300)
    assert_eq!(auth[0].ttl, 300);
    assert!(matches!(
        r.info.source,
        AnswerSource::Zone {
            kind: AnswerKind::NxDomain,
            ..
        }
    ));
}

#[test]
fn nodata_has_the_soa_and_noerror() {
    let r = ask_udp(&query("www.example.", RType::MX));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    assert_eq!(r.authority()[0].rtype, RType::SOA);
    assert_eq!(r.authority()[0].ttl, 300);
    assert!(matches!(
        r.info.source,
        AnswerSource::Zone {
            kind: AnswerKind::NoData,
            ..
        }
    ));
}

#[test]
fn negative_ttl_is_the_soa_ttl_when_smaller() {
    // other.: SOA TTL 60, MINIMUM 600.
    let r = ask_udp(&query("nope.other.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(r.authority()[0].ttl, 60);
    assert_eq!(r.authority()[0].owner, "other.");
}

#[test]
fn empty_non_terminals_are_nodata() {
    for n in ["b.ent.example.", "ent.example."] {
        let r = ask_udp(&query(n, RType::A));
        assert_eq!(r.rcode(), Rcode::NOERROR, "{n}");
        assert!(r.answer().is_empty());
        assert_eq!(r.authority()[0].rtype, RType::SOA);
    }
    let r = ask_udp(&query("x.b.ent.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
}
