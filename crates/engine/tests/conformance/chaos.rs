//! CHAOS TXT identity names (`version.bind`, `hostname.bind`, `id.server` of RFC 4892,
//! `version.server`): hidden by default, answered from the configuration.

use wire::{Class, RType, Rcode};

use crate::support::*;
use engine::{AnswerSource, EngineConfig};

#[test]
fn hidden_by_default() {
    for n in [
        "version.bind.",
        "hostname.bind.",
        "id.server.",
        "version.server.",
    ] {
        let r = ask_udp(&query(n, RType::TXT).class(Class::CH));
        assert_eq!(r.rcode(), Rcode::REFUSED, "{n}");
    }
}

#[test]
fn configured_names_answer() {
    let e = engine_with(EngineConfig {
        version: Some("Portcullis 0.1".into()),
        hostname: Some("ns1.example".into()),
        id: Some("pc-1".into()),
        ..EngineConfig::default()
    });
    for (n, text) in [
        ("VERSION.bind.", "Portcullis 0.1"),
        ("version.server.", "Portcullis 0.1"),
        ("hostname.bind.", "ns1.example"),
        ("id.server.", "pc-1"),
    ] {
        let r = ask(&e, &query(n, RType::TXT).class(Class::CH), udp());
        assert_eq!(r.rcode(), Rcode::NOERROR);
        assert!(r.flags().aa());
        assert_eq!(r.info.source, AnswerSource::Chaos);
        let answer = r.answer();
        assert_eq!(answer.len(), 1);
        assert_eq!(answer[0].class, Class::CH);
        assert_eq!(answer[0].owner, n);
        assert_eq!(&answer[0].rdata[1..], text.as_bytes());
    }
    let r = ask(
        &e,
        &query("version.bind.", RType::A).class(Class::CH),
        udp(),
    );
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    let r = ask(
        &e,
        &query("other.bind.", RType::TXT).class(Class::CH),
        udp(),
    );
    assert_eq!(r.rcode(), Rcode::REFUSED);
    // In class IN these names are ordinary names, in none of our zones.
    let r = ask(&e, &query("version.bind.", RType::TXT), udp());
    assert_eq!(r.rcode(), Rcode::REFUSED);
}
