//! Access-control lists in the engine: the query ACL (engine-wide and per listener) before
//! anything is read, the recursion ACL (refuse and drop), the transfer ACL (refuse and drop).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use cache::{Cache, CacheConfig, Time};
use engine::{
    AclPurpose, AnswerSource, Client, EngineConfig, ListenerAcl, Outcome, QueryError, Resolver,
    Transport,
};
use guard::{Acl, AclAction, Prefix};
use wire::edns::OptionCode;
use wire::message::Message;
use wire::{RType, Rcode};

fn client(addr: &str, transport: Transport) -> Client {
    Client {
        addr: addr.parse().unwrap(),
        transport,
    }
}

fn prefixes(list: &[&str]) -> Vec<Prefix> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

/// `allow 192.0.2.0/24`, `drop 198.51.100.0/24`, `refuse` the rest.
fn acl() -> Acl {
    let allow = prefixes(&["192.0.2.0/24", "2001:db8::/32"]);
    let drop = prefixes(&["198.51.100.0/24"]);
    Acl::new(
        [
            (AclAction::Allow, allow.as_slice()),
            (AclAction::Drop, drop.as_slice()),
        ],
        AclAction::Refuse,
    )
}

fn ede(m: &Message<'_>) -> Option<u16> {
    let data = m.edns()?.option(OptionCode::EDE)?;
    Some(u16::from_be_bytes([*data.first()?, *data.get(1)?]))
}

#[test]
fn query_acl_allows_refuses_and_drops() {
    let e = common::engine_with(
        2,
        EngineConfig {
            query_acl: acl(),
            ..EngineConfig::default()
        },
    );
    let q = common::query("host1.example.test.", RType::A);
    let mut out = vec![0u8; 4096];

    let Outcome::Reply(info) = e.respond(
        &q,
        &client("192.0.2.7", Transport::Udp),
        Time::ZERO,
        &mut out,
    ) else {
        panic!("allowed")
    };
    assert_eq!(info.rcode, Rcode::NOERROR);

    let Outcome::Reply(info) = e.respond(
        &q,
        &client("203.0.113.1", Transport::Udp),
        Time::ZERO,
        &mut out,
    ) else {
        panic!("refused")
    };
    assert_eq!(info.rcode, Rcode::REFUSED);
    assert_eq!(info.source, AnswerSource::Error(QueryError::QueryRefused));
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.header().qdcount, 1);
    assert_eq!(m.header().ancount, 0);
    assert_eq!(ede(&m), Some(18));
    assert_eq!(
        QueryError::QueryRefused.acl(),
        Some((AclAction::Refuse, AclPurpose::Query))
    );

    assert!(matches!(
        e.respond(
            &q,
            &client("198.51.100.9", Transport::Tcp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Drop(QueryError::AclDrop(AclPurpose::Query))
    ));
}

#[test]
fn a_listener_has_its_own_query_acl() {
    let open: SocketAddr = "127.0.0.1:53".parse().unwrap();
    let closed: SocketAddr = "127.0.0.2:53".parse().unwrap();
    let e = common::engine_with(
        2,
        EngineConfig {
            listeners: vec![ListenerAcl {
                addr: closed,
                query: Some(acl()),
                recursion: None,
            }],
            ..EngineConfig::default()
        },
    );
    let q = common::query("host1.example.test.", RType::A);
    let mut out = vec![0u8; 4096];
    let stranger = client("203.0.113.1", Transport::Udp);
    let on_open = e.listener(open);
    let on_closed = e.listener(closed);
    assert_ne!(on_open, on_closed);
    let Outcome::Reply(info) = e.respond_on(on_open, &q, &stranger, Time::ZERO, &mut out) else {
        panic!()
    };
    assert_eq!(info.rcode, Rcode::NOERROR);
    let Outcome::Reply(info) = e.respond_on(on_closed, &q, &stranger, Time::ZERO, &mut out) else {
        panic!()
    };
    assert_eq!(info.rcode, Rcode::REFUSED);
}

#[test]
fn recursion_acl_refuses_and_drops_per_listener() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let special: SocketAddr = "[::1]:53".parse().unwrap();
    let e = common::engine_with(
        2,
        EngineConfig {
            listeners: vec![ListenerAcl {
                addr: special,
                query: None,
                recursion: Some(Acl::allow_all()),
            }],
            ..EngineConfig::default()
        },
    )
    .with_resolver(Resolver::new(cache, acl()));
    let q = common::query("www.elsewhere.example.", RType::A);
    let mut out = vec![0u8; 4096];

    // Allowed: a cache miss becomes a recursion.
    assert!(matches!(
        e.respond(
            &q,
            &client("192.0.2.7", Transport::Udp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Recurse(_)
    ));
    // Refused: REFUSED with EDE 18, no RA.
    let Outcome::Reply(info) = e.respond(
        &q,
        &client("203.0.113.1", Transport::Udp),
        Time::ZERO,
        &mut out,
    ) else {
        panic!()
    };
    assert_eq!(
        info.source,
        AnswerSource::Error(QueryError::RecursionDenied)
    );
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(ede(&m), Some(18));
    assert!(!m.header().flags.ra());
    // Dropped.
    assert!(matches!(
        e.respond(
            &q,
            &client("198.51.100.1", Transport::Udp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Drop(QueryError::AclDrop(AclPurpose::Recursion))
    ));
    // The zone still answers a client the recursion ACL drops.
    let zq = common::query("host1.example.test.", RType::A);
    assert!(matches!(
        e.respond(
            &zq,
            &client("198.51.100.1", Transport::Udp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Reply(_)
    ));
    // The listener with its own recursion ACL offers recursion to everyone.
    let l = e.listener(special);
    assert!(matches!(
        e.respond_on(
            l,
            &q,
            &client("198.51.100.1", Transport::Udp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Recurse(_)
    ));
    assert!(!e.recursion_offered("198.51.100.1".parse().unwrap()));
}

#[test]
fn transfer_acl_refuses_and_drops() {
    let e = common::engine_with(
        2,
        EngineConfig {
            allow_transfer: acl(),
            ..EngineConfig::default()
        },
    );
    let q = common::query("example.test.", RType::AXFR);
    let mut out = vec![0u8; 65_535];
    assert!(matches!(
        e.respond(
            &q,
            &client("192.0.2.1", Transport::Tcp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Transfer(_)
    ));
    let Outcome::Reply(info) = e.respond(
        &q,
        &client("203.0.113.1", Transport::Tcp),
        Time::ZERO,
        &mut out,
    ) else {
        panic!()
    };
    assert_eq!(info.rcode, Rcode::REFUSED);
    assert_eq!(
        QueryError::TransferDenied.acl(),
        Some((AclAction::Refuse, AclPurpose::Transfer))
    );
    assert!(matches!(
        e.respond(
            &q,
            &client("198.51.100.1", Transport::Tcp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Drop(QueryError::AclDrop(AclPurpose::Transfer))
    ));
    // A name that is no zone: dropped too, so nothing tells zones from other names.
    let other = common::query("nowhere.example.", RType::AXFR);
    assert!(matches!(
        e.respond(
            &other,
            &client("198.51.100.1", Transport::Tcp),
            Time::ZERO,
            &mut out
        ),
        Outcome::Drop(QueryError::AclDrop(AclPurpose::Transfer))
    ));
}
