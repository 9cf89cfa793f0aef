//! RFC 1034 section 4.3.2: answers from the closest enclosing zone, AA, minimal responses,
//! additional addresses; the question keeps the client's case.

use wire::message::Section;
use wire::{Class, RType, Rcode};

use crate::support::*;
use engine::{AnswerKind, AnswerSource};

#[test]
fn a_hit_is_authoritative_and_minimal() {
    let r = ask_udp(&query("www.example.", RType::A));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert!(r.flags().rd(), "RD is copied");
    assert!(!r.flags().ra());
    assert_eq!(r.msg().header().id, 0x2a2a);
    let answer = r.answer();
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].owner, "www.example.");
    assert_eq!(answer[0].rdata, a("192.0.2.80"));
    assert_eq!(answer[0].ttl, 3600);
    assert!(
        r.authority().is_empty(),
        "no NS in authority (minimal responses)"
    );
    assert!(r.additional().is_empty());
    assert_eq!(
        r.info.source,
        AnswerSource::Zone {
            zone: 0,
            kind: AnswerKind::Positive
        }
    );
    assert_eq!(r.info.qtype, Some(RType::A));
}

#[test]
fn question_keeps_case_lookup_ignores_it() {
    let r = ask_udp(&query("WwW.ExAmPlE.", RType::AAAA));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    let q = r.msg().question().unwrap();
    assert_eq!(q.qname().unwrap().as_wire(), b"\x03WwW\x07ExAmPlE\x00");
    assert_eq!(r.answer().len(), 1);
    assert_eq!(r.answer()[0].owner, "WwW.ExAmPlE.");
}

#[test]
fn several_zones_the_closest_answers() {
    let r = ask_udp(&query("www.other.", RType::A));
    assert_eq!(r.answer()[0].rdata, a("192.0.2.100"));
    assert!(r.flags().aa());
    assert!(matches!(r.info.source, AnswerSource::Zone { zone: 1, .. }));
    // A zone nested inside another takes over its names.
    let parent = zone("example.", EXAMPLE);
    let child = zone(
        "deep.example.",
        "@ 300 SOA ns1.example. h 1 2 3 4 5\n@ 300 NS ns1.example.\nhost 300 A 192.0.2.222\n",
    );
    let e = engine::Engine::new(
        engine::Catalog::new(vec![parent, child]).unwrap(),
        engine::EngineConfig::default(),
    )
    .unwrap();
    let r = ask(&e, &query("host.deep.example.", RType::A), udp());
    assert_eq!(r.answer()[0].rdata, a("192.0.2.222"));
    let r = ask(&e, &query("nothing.deep.example.", RType::A), udp());
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(r.authority()[0].owner, "deep.example.");
}

#[test]
fn names_outside_every_zone_are_refused() {
    for n in ["www.example.com.", ".", "com."] {
        let r = ask_udp(&query(n, RType::A));
        assert_eq!(r.rcode(), Rcode::REFUSED, "{n}");
        assert!(!r.flags().aa());
        assert!(r.answer().is_empty());
        assert_eq!(r.msg().header().qdcount, 1, "the question is kept");
    }
}

#[test]
fn mx_targets_get_addresses_in_additional() {
    let r = ask_udp(&query("example.", RType::MX));
    assert_eq!(r.answer().len(), 2);
    let add = r.additional();
    // mail.example. from this zone, mail.other. from the other zone we serve.
    assert!(
        add.iter()
            .any(|x| x.owner == "mail.example." && x.rtype == RType::A)
    );
    assert!(
        add.iter()
            .any(|x| x.owner == "mail.other." && x.rdata == a("192.0.2.101"))
    );
    assert!(r.authority().is_empty());
}

#[test]
fn ns_and_srv_targets_get_addresses() {
    let r = ask_udp(&query("example.", RType::NS));
    assert_eq!(r.answer().len(), 2);
    let add = r.additional();
    assert_eq!(
        add.iter().filter(|x| x.owner == "ns1.example.").count(),
        2,
        "A and AAAA"
    );
    assert!(add.iter().any(|x| x.owner == "ns2.example."));
    let r = ask_udp(&query("_sip._tcp.example.", RType::SRV));
    assert_eq!(r.additional()[0].owner, "sip.example.");
}

#[test]
fn additional_data_never_truncates() {
    // Two MX targets with addresses cannot all fit in 512 bytes once the answer is padded with a
    // long name: the answer stays, the additional section shrinks, TC stays clear.
    let mut text = String::from(EXAMPLE);
    for i in 0..12 {
        text.push_str(&format!(
            "big MX {i} host{i}.example.\nhost{i} AAAA 2001:db8::{i}\n"
        ));
    }
    let e = engine::Engine::new(
        engine::Catalog::new(vec![zone("example.", &text)]).unwrap(),
        engine::EngineConfig::default(),
    )
    .unwrap();
    let r = ask(&e, &query("big.example.", RType::MX).no_edns(), udp());
    assert!(!r.flags().tc());
    assert_eq!(r.answer().len(), 12);
    assert!(r.additional().len() < 12);
    assert!(r.bytes.len() <= 512);
}

#[test]
fn ds_at_a_cut_comes_from_the_parent_side() {
    let r = ask_udp(&query("sub.example.", RType::DS));
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert_eq!(r.answer_summary(), vec![("sub.example.".into(), RType::DS)]);
    // The parent of a cut without DS: NODATA from the parent, not a referral.
    let r = ask_udp(&query("sibling.example.", RType::DS));
    assert!(r.flags().aa());
    assert!(r.answer().is_empty());
    assert_eq!(r.authority()[0].rtype, RType::SOA);
}

#[test]
fn class_of_records_is_in() {
    let r = ask_udp(&query("www.example.", RType::TXT));
    assert_eq!(r.answer()[0].class, Class::IN);
    assert_eq!(r.section(Section::Question).len(), 0);
}
