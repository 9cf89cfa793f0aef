//! CNAME chains (RFC 1034 section 3.6.2 and 4.3.2), their final response code (RFC 6604), and
//! DNAME substitution (RFC 6672).

use wire::{Name, RType, Rcode};

use crate::support::*;

#[test]
fn a_cname_is_followed_in_the_zone() {
    let r = ask_udp(&query("alias.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert_eq!(
        r.answer_summary(),
        vec![
            ("alias.example.".into(), RType::CNAME),
            ("www.example.".into(), RType::A)
        ]
    );
}

#[test]
fn chains_come_in_order() {
    let r = ask_udp(&query("chain1.example.", RType::AAAA));
    assert_eq!(
        r.answer_summary(),
        vec![
            ("chain1.example.".into(), RType::CNAME),
            ("chain2.example.".into(), RType::CNAME),
            ("www.example.".into(), RType::AAAA)
        ]
    );
}

#[test]
fn a_query_for_the_cname_itself_is_not_followed() {
    let r = ask_udp(&query("alias.example.", RType::CNAME));
    assert_eq!(
        r.answer_summary(),
        vec![("alias.example.".into(), RType::CNAME)]
    );
}

#[test]
fn chains_cross_into_other_zones_we_serve() {
    let r = ask_udp(&query("cross.example.", RType::A));
    assert_eq!(
        r.answer_summary(),
        vec![
            ("cross.example.".into(), RType::CNAME),
            ("www.other.".into(), RType::A)
        ]
    );
}

#[test]
fn nxdomain_at_the_end_of_a_chain_is_nxdomain() {
    let r = ask_udp(&query("dangling.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(
        r.answer_summary(),
        vec![("dangling.example.".into(), RType::CNAME)]
    );
    assert_eq!(r.authority()[0].rtype, RType::SOA);
    // Across zones: the SOA of the zone of the last lookup.
    let r = ask_udp(&query("crossnx.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(r.authority()[0].owner, "other.");
}

#[test]
fn nodata_at_the_end_of_a_chain() {
    let r = ask_udp(&query("alias.example.", RType::MX));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(r.answer().len(), 1);
    assert_eq!(r.authority()[0].rtype, RType::SOA);
}

#[test]
fn a_chain_leaving_our_zones_stops_with_noerror() {
    let r = ask_udp(&query("external.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(r.answer().len(), 1);
    assert!(r.authority().is_empty());
}

#[test]
fn loops_stop_without_repeating_records() {
    let r = ask_udp(&query("loop1.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(
        r.answer_summary(),
        vec![
            ("loop1.example.".into(), RType::CNAME),
            ("loop2.example.".into(), RType::CNAME)
        ]
    );
}

#[test]
fn long_chains_are_bounded() {
    let mut text = String::from(EXAMPLE);
    for i in 0..40 {
        text.push_str(&format!("c{i} CNAME c{}\n", i + 1));
    }
    text.push_str("c40 A 192.0.2.40\n");
    let e = engine::Engine::new(
        engine::Catalog::new(vec![zone("example.", &text)]).unwrap(),
        engine::EngineConfig::default(),
    )
    .unwrap();
    let r = ask(&e, &query("c0.example.", RType::A), tcp());
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(r.answer().len(), engine::answer::MAX_CHAIN);
    assert!(r.answer().iter().all(|x| x.rtype == RType::CNAME));
}

#[test]
fn dname_synthesises_a_cname() {
    let r = ask_udp(&query("www.dname.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    let answer = r.answer();
    assert_eq!(
        r.answer_summary(),
        vec![
            ("dname.example.".into(), RType::DNAME),
            ("www.dname.example.".into(), RType::CNAME),
            ("www.other.".into(), RType::A)
        ]
    );
    // The synthesised CNAME has the DNAME's TTL and points at the substituted name.
    assert_eq!(answer[1].ttl, answer[0].ttl);
    assert_eq!(
        Name::from_wire(&answer[1].rdata).unwrap(),
        name("www.other.")
    );
    let r = ask_udp(&query("nope.dname.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(r.answer().len(), 2);
}

#[test]
fn the_dname_owner_itself_is_not_rewritten() {
    let r = ask_udp(&query("dname.example.", RType::DNAME));
    assert_eq!(
        r.answer_summary(),
        vec![("dname.example.".into(), RType::DNAME)]
    );
    let r = ask_udp(&query("dname.example.", RType::A));
    assert!(r.answer().is_empty());
}

#[test]
fn too_long_a_substitution_is_yxdomain() {
    let qname = format!("{}.{}.long.example.", "x".repeat(63), "y".repeat(40));
    let r = ask_udp(&query(&qname, RType::A));
    assert_eq!(r.rcode(), engine::answer::YXDOMAIN);
    assert_eq!(
        r.answer_summary(),
        vec![("long.example.".into(), RType::DNAME)]
    );
}
