//! The resolver's side of the engine: routing by ACL and RD, RA, the request handed to the
//! resolver, the responses written from a resolution, stale answers (RFC 8767) and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use cache::{Cache, CacheConfig, RrSet, Time, Trust};
use engine::{AnswerSource, Client, Outcome, QueryError, Resolver, Transport};
use recursor::{ExtendedError, Resolution, Security};
use wire::edns::OptionCode;
use wire::message::{Flags, Header, Message, Section};
use wire::writer::MessageWriter;
use wire::{Class, Name, RType, Rcode};

const NOW: Time = Time::from_millis(5_000_000);

fn client(addr: &str, transport: Transport) -> Client {
    Client {
        addr: addr.parse().unwrap(),
        transport,
    }
}

fn a(owner: &str, ttl: u32, n: usize) -> RrSet {
    RrSet {
        owner: owner.parse().unwrap(),
        rtype: RType::A,
        class: Class::IN,
        ttl,
        rdatas: (0..n)
            .map(|i| vec![192, 0, (i / 256) as u8, (i % 256) as u8])
            .collect(),
        sigs: Vec::new(),
    }
}

fn resolver_engine(cache: Arc<Cache>) -> engine::Engine {
    common::engine(10).with_resolver(Resolver::new(cache, Resolver::default_acl()))
}

/// A query with the given flags, EDNS (payload, DO) or none.
fn query(name: &str, rd: bool, cd: bool, edns: Option<(u16, bool)>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id: 0x1234,
        flags: Flags::default().with_rd(rd).with_cd(cd),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), RType::A, Class::IN)
        .unwrap();
    if let Some((payload, dnssec_ok)) = edns {
        w.opt(payload, Rcode::NOERROR, dnssec_ok)
            .unwrap()
            .finish()
            .unwrap();
    }
    w.finish().to_vec()
}

fn ede(m: &Message<'_>) -> Option<u16> {
    let data = m.edns()?.option(OptionCode::EDE)?;
    Some(u16::from_be_bytes([data[0], data[1]]))
}

#[test]
fn ra_and_routing_follow_the_acl_and_rd() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let engine = resolver_engine(cache);
    let mut out = [0u8; 1232];
    let inside = client("10.1.2.3", Transport::Udp);
    let outside = client("203.0.113.7", Transport::Udp);

    // A zone answer: RA for a client offered recursion, not for another.
    let q = common::query("host1.example.test.", RType::A);
    for (c, ra) in [(&inside, true), (&outside, false)] {
        let Outcome::Reply(info) = engine.respond(&q, c, NOW, &mut out) else {
            panic!()
        };
        let m = Message::parse(&out[..info.len]).unwrap();
        assert_eq!(m.header().flags.ra(), ra);
        assert!(m.header().flags.aa());
    }

    // Not in a zone, outside the ACL: REFUSED, EDE 18, no RA.
    let q = query("www.Elsewhere.example.", true, false, Some((1232, false)));
    let Outcome::Reply(info) = engine.respond(&q, &outside, NOW, &mut out) else {
        panic!()
    };
    assert_eq!(
        info.source,
        AnswerSource::Error(QueryError::RecursionDenied)
    );
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::REFUSED);
    assert_eq!(ede(&m), Some(18));
    assert!(!m.header().flags.ra());

    // Inside, RD set, not cached: handed to the resolver with what the response needs.
    let q = query("www.Elsewhere.example.", true, true, Some((1232, true)));
    let Outcome::Recurse(request) = engine.respond(&q, &inside, NOW, &mut out) else {
        panic!()
    };
    assert_eq!(request.id(), 0x1234);
    assert_eq!(request.qname().to_string(), "www.Elsewhere.example.");
    assert!(request.checking_disabled() && request.dnssec_ok());

    // Inside, RD clear, nothing cached: REFUSED (EDE 0), RA set.
    let q = query("www.elsewhere.example.", false, false, Some((1232, false)));
    let Outcome::Reply(info) = engine.respond(&q, &inside, NOW, &mut out) else {
        panic!()
    };
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::REFUSED);
    assert_eq!(ede(&m), Some(0));
    assert!(m.header().flags.ra());
}

#[test]
fn resolutions_are_written_with_ede_and_truncation() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let engine = resolver_engine(cache);
    let mut out = vec![0u8; 65_535];
    let inside = client("127.0.0.1", Transport::Udp);
    let q = query("big.example.", true, false, None);
    let Outcome::Recurse(request) = engine.respond(&q, &inside, NOW, &mut out) else {
        panic!()
    };
    let small = Resolution {
        rcode: Rcode::NOERROR,
        answer: vec![a("big.example.", 300, 2)],
        authority: Vec::new(),
        extended_error: None,
        security: Security::Indeterminate,
    };
    let info = engine.write_resolution(&request, &small, &mut out);
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!((m.header().id, m.header().ancount), (0x1234, 2));
    assert!(m.header().flags.ra() && m.header().flags.rd() && !m.header().flags.aa());
    assert!(!m.header().flags.ad());
    assert!(m.edns().is_none(), "no OPT to a client without EDNS");

    // 100 addresses do not fit in 512 bytes: TC, the question alone.
    let big = Resolution {
        answer: vec![a("big.example.", 300, 100)],
        ..small.clone()
    };
    let info = engine.write_resolution(&request, &big, &mut out);
    assert!(info.truncated && info.len <= 512);
    let m = Message::parse(&out[..info.len]).unwrap();
    assert!(m.header().flags.tc());
    assert_eq!(m.header().ancount, 0);

    // A failure with its EDE, to an EDNS client.
    let q = query("big.example.", true, false, Some((1232, false)));
    let Outcome::Recurse(request) = engine.respond(&q, &inside, NOW, &mut out) else {
        panic!()
    };
    let failed = Resolution {
        rcode: Rcode::SERVFAIL,
        answer: Vec::new(),
        authority: Vec::new(),
        extended_error: Some(ExtendedError {
            code: 22,
            text: "no reachable authority".into(),
        }),
        security: Security::Indeterminate,
    };
    let info = engine.write_resolution(&request, &failed, &mut out);
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::SERVFAIL);
    assert_eq!(ede(&m), Some(22));

    // The queue was full.
    let info = engine
        .write_error(&request, QueryError::ResolverBusy, &mut out)
        .unwrap();
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::SERVFAIL);
    assert_eq!(ede(&m), Some(0));
}

#[test]
fn stale_answers_after_a_failure() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    cache.insert_rrset(&a("old.example.", 60, 1), Trust::AuthAnswer, NOW);
    let engine = resolver_engine(cache);
    let mut out = [0u8; 1232];
    let inside = client("::1", Transport::Udp);
    let later = NOW.plus_secs(120);
    let q = query("old.example.", true, false, Some((1232, false)));
    let Outcome::Recurse(request) = engine.respond(&q, &inside, later, &mut out) else {
        panic!("expired data is not a hit")
    };
    let info = engine.respond_stale(&request, later, &mut out).unwrap();
    assert_eq!(info.source, AnswerSource::Cache { stale: true });
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.header().ancount, 1);
    assert_eq!(ede(&m), Some(3));
    let ttl = m.records(Section::Answer).next().unwrap().ttl;
    assert_eq!(ttl, 30, "RFC 8767 section 4: the stale answer TTL");
    // Nothing cached at all: no stale answer.
    let q = query("never.example.", true, false, Some((1232, false)));
    let Outcome::Recurse(request) = engine.respond(&q, &inside, later, &mut out) else {
        panic!()
    };
    assert!(engine.respond_stale(&request, later, &mut out).is_none());
}
