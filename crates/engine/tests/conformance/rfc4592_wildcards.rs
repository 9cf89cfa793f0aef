//! RFC 4592: wildcard synthesis, with the query name as owner; no match for existing names or
//! names below them.

use wire::{RType, Rcode};

use crate::support::*;

#[test]
fn synthesised_records_take_the_query_name() {
    let r = ask_udp(&query("Anything.wild.example.", RType::TXT));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert_eq!(
        r.answer_summary(),
        vec![("Anything.wild.example.".into(), RType::TXT)]
    );
    let r = ask_udp(&query("a.b.c.wild.example.", RType::MX));
    assert_eq!(r.answer()[0].owner, "a.b.c.wild.example.");
    assert_eq!(
        r.additional()[0].owner,
        "mail.example.",
        "additional for synthesised MX"
    );
}

#[test]
fn wildcard_nodata() {
    let r = ask_udp(&query("x.wild.example.", RType::AAAA));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    assert_eq!(r.authority()[0].rtype, RType::SOA);
}

#[test]
fn existing_names_block_the_wildcard() {
    let r = ask_udp(&query("exists.wild.example.", RType::TXT));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty(), "NODATA, not the wildcard TXT");
    let r = ask_udp(&query("below.exists.wild.example.", RType::TXT));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
}

#[test]
fn the_wildcard_name_itself_matches_exactly() {
    let r = ask_udp(&query("*.wild.example.", RType::TXT));
    assert_eq!(r.answer()[0].owner, "*.wild.example.");
}

#[test]
fn wildcard_cnames_are_followed() {
    let r = ask_udp(&query("foo.wcname.example.", RType::A));
    assert_eq!(
        r.answer_summary(),
        vec![
            ("foo.wcname.example.".into(), RType::CNAME),
            ("www.example.".into(), RType::A)
        ]
    );
}
