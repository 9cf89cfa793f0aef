//! Zone transfers: AXFR over TCP to allowed clients (RFC 5936), IXFR answered in full or with
//! the SOA alone (RFC 1995).

use std::collections::HashSet;

use wire::message::Message;
use wire::{RType, Rcode};

use crate::support::*;
use engine::{Client, EngineConfig, Outcome, QueryError, Transport};

fn allowed() -> EngineConfig {
    EngineConfig {
        allow_transfer: guard::Acl::allowing(&["192.0.2.0/24".parse().unwrap()]),
        ..EngineConfig::default()
    }
}

/// Runs a transfer and returns each message's bytes.
fn transfer(e: &engine::Engine, q: &Query, out_len: usize) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; 65_535];
    let Outcome::Transfer(t) = e.respond(&q.bytes(), &tcp(), Time::ZERO, &mut out) else {
        panic!("expected a transfer");
    };
    let mut stream = t.stream();
    let mut messages = Vec::new();
    let mut buf = vec![0u8; out_len];
    while let Some(len) = stream.next_message(&mut buf) {
        messages.push(buf[..len].to_vec());
        assert!(messages.len() < 10_000);
    }
    messages
}

/// Every answer record of the messages, as (owner, type, rdata).
fn records(messages: &[Vec<u8>]) -> Vec<(String, RType, Vec<u8>)> {
    let mut all = Vec::new();
    for m in messages {
        let msg = Message::parse(m).unwrap();
        assert_eq!(msg.rcode(), Rcode::NOERROR);
        assert!(msg.header().flags.aa());
        for r in msg.records(wire::message::Section::Answer) {
            let mut rdata = Vec::new();
            r.rdata_into(&mut rdata).unwrap();
            all.push((r.owner().unwrap().to_string(), r.rtype, rdata));
        }
    }
    all
}

#[test]
fn axfr_sends_the_zone_between_two_soas() {
    let e = engine_with(allowed());
    let messages = transfer(&e, &query("example.", RType::AXFR), 65_535);
    assert_eq!(messages.len(), 1);
    let msg = Message::parse(&messages[0]).unwrap();
    assert_eq!(msg.header().qdcount, 1);
    assert!(msg.edns().is_some());
    let all = records(&messages);
    assert_eq!(all.first().unwrap().1, RType::SOA);
    assert_eq!(all.last().unwrap().1, RType::SOA);
    let zone = zone("example.", EXAMPLE);
    assert_eq!(all.len(), zone.record_count() + 1);
    assert_eq!(all.iter().filter(|r| r.1 == RType::SOA).count(), 2);
}

#[test]
fn large_zones_take_several_full_messages() {
    let mut text = String::from(EXAMPLE);
    for i in 0..5000 {
        text.push_str(&format!(
            "h{i} TXT \"{}\"\nh{i} A 192.0.2.{}\n",
            "t".repeat(20),
            i % 256
        ));
    }
    let zones = vec![zone("example.", &text)];
    let e = engine::Engine::new(engine::Catalog::new(zones).unwrap(), allowed()).unwrap();
    let messages = transfer(&e, &query("example.", RType::AXFR), 65_535);
    assert!(messages.len() >= 3, "{} messages", messages.len());
    for (i, m) in messages.iter().enumerate() {
        let msg = Message::parse(m).unwrap();
        assert_eq!(msg.header().qdcount, u16::from(i == 0));
        if i + 1 < messages.len() {
            assert!(m.len() > 60_000, "message {i} is only {} bytes", m.len());
        }
    }
    let all = records(&messages);
    assert_eq!(all.len(), zones_records(&text) + 1);
    let distinct: HashSet<_> = all[1..all.len() - 1].iter().collect();
    assert_eq!(distinct.len(), all.len() - 2, "no record twice");
    assert_eq!(all.last().unwrap().1, RType::SOA);
    // A small buffer makes more, smaller messages with the same records.
    let small = transfer(&e, &query("example.", RType::AXFR), 4096);
    assert!(small.len() > messages.len());
    assert_eq!(records(&small), all);
}

fn zones_records(text: &str) -> usize {
    zone("example.", text).record_count()
}

#[test]
fn refusals() {
    let e = engine_with(allowed());
    // Over UDP: refused.
    let r = ask(&e, &query("example.", RType::AXFR), udp());
    assert_eq!(r.rcode(), Rcode::REFUSED);
    assert_eq!(
        r.info.source,
        engine::AnswerSource::Error(QueryError::TransferOverUdp)
    );
    // Not in the ACL (and the default ACL is empty).
    let stranger = Client {
        addr: "203.0.113.1".parse().unwrap(),
        transport: Transport::Tcp,
    };
    let r = ask(&e, &query("example.", RType::AXFR), stranger);
    assert_eq!(r.rcode(), Rcode::REFUSED);
    let r = ask(&engine(), &query("example.", RType::AXFR), tcp());
    assert_eq!(r.rcode(), Rcode::REFUSED);
    let r = ask(&engine(), &query("example.", RType::IXFR), tcp());
    assert_eq!(r.rcode(), Rcode::REFUSED);
    // Not a zone apex.
    let r = ask(&e, &query("www.example.", RType::AXFR), tcp());
    assert_eq!(r.rcode(), Rcode::NOTAUTH);
    let r = ask(&e, &query("example.com.", RType::AXFR), tcp());
    assert_eq!(r.rcode(), Rcode::NOTAUTH);
}

/// An IXFR query with the client's SOA (serial `serial`) in the authority section.
fn ixfr(serial: u32) -> Vec<u8> {
    let mut bytes = query("example.", RType::IXFR).no_edns().bytes();
    bytes[9] = 1; // NSCOUNT
    bytes.extend_from_slice(b"\x07example\x00\x00\x06\x00\x01\x00\x00\x0e\x10");
    let mut rdata = b"\x00\x00".to_vec();
    rdata.extend_from_slice(&serial.to_be_bytes());
    rdata.extend_from_slice(&[0; 16]);
    bytes.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&rdata);
    bytes
}

#[test]
fn ixfr_is_a_full_transfer_unless_up_to_date() {
    let e = engine_with(allowed());
    let mut out = vec![0u8; 65_535];
    let Outcome::Transfer(t) = e.respond(&ixfr(1), &tcp(), Time::ZERO, &mut out) else {
        panic!("expected a transfer");
    };
    assert!(!t.up_to_date());
    assert_eq!(t.qtype(), RType::IXFR);
    let mut stream = t.stream();
    let len = stream.next_message(&mut out).unwrap();
    let all = records(&[out[..len].to_vec()]);
    assert!(all.len() > 2);
    assert!(stream.next_message(&mut out).is_none());
    // The client already has our serial: the SOA alone.
    let Outcome::Transfer(t) = e.respond(&ixfr(2024010101), &tcp(), Time::ZERO, &mut out) else {
        panic!("expected a transfer");
    };
    assert!(t.up_to_date());
    let mut stream = t.stream();
    let len = stream.next_message(&mut out).unwrap();
    let all = records(&[out[..len].to_vec()]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].1, RType::SOA);
    assert!(stream.next_message(&mut out).is_none());
}

#[test]
fn ixfr_over_udp_gets_the_soa_alone() {
    let e = engine_with(allowed());
    let r = ask_bytes(&e, &ixfr(1), udp());
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert_eq!(r.answer_summary(), vec![("example.".into(), RType::SOA)]);
}

#[test]
fn a_zone_acl_allows_that_zone_only() {
    let e = engine_with(EngineConfig {
        zone_allow_transfer: vec![(
            "example.".parse().unwrap(),
            vec!["192.0.2.0/24".parse().unwrap()],
        )],
        ..EngineConfig::default()
    });
    let mut out = vec![0u8; 65_535];
    let q = query("example.", RType::AXFR);
    assert!(matches!(
        e.respond(&q.bytes(), &tcp(), Time::ZERO, &mut out),
        Outcome::Transfer(_)
    ));
    // Another zone, or a name that is no zone: refused, as if no ACL allowed anything.
    let r = ask(&e, &query("other.", RType::AXFR), tcp());
    assert_eq!(
        r.info.source,
        engine::AnswerSource::Error(QueryError::TransferDenied)
    );
    let r = ask(&e, &query("example.com.", RType::AXFR), tcp());
    assert_eq!(
        r.info.source,
        engine::AnswerSource::Error(QueryError::TransferDenied)
    );
    // A client outside the zone's ACL.
    let stranger = Client {
        addr: "203.0.113.1".parse().unwrap(),
        transport: Transport::Tcp,
    };
    let r = ask(&e, &query("example.", RType::AXFR), stranger);
    assert_eq!(r.rcode(), Rcode::REFUSED);
}
