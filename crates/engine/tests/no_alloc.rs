//! Answering allocates nothing: hits, NXDOMAIN, NODATA, referrals, wildcards, CNAME and DNAME
//! chains, ANY and errors run under a counting allocator that records every allocation made on
//! this thread; so do answers from the resolver's cache (a hit, a CNAME chain, a cached
//! NXDOMAIN) and the REFUSED answer to a client outside the recursion ACL, with a blocklist and
//! an RPZ in force too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use alloc_count::allocations;
use cache::{Cache, CacheConfig, NegativeKind, RrSet, Time, Trust};
use engine::{Client, Outcome, Resolver, Transport};
use wire::message::Message;
use wire::{RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

#[test]
fn responding_allocates_nothing() {
    let engine = common::engine(1000);
    let cases = [
        ("host7.example.test.", RType::A, Rcode::NOERROR, 1),
        ("HOST7.Example.Test.", RType::MX, Rcode::NOERROR, 1),
        ("host7.example.test.", RType::TXT, Rcode::NOERROR, 0),
        ("nope.example.test.", RType::A, Rcode::NXDOMAIN, 0),
        ("a.wild.example.test.", RType::TXT, Rcode::NOERROR, 1),
        ("deep.sub.example.test.", RType::A, Rcode::NOERROR, 0),
        ("alias.example.test.", RType::A, Rcode::NOERROR, 3),
        ("host9.dname.example.test.", RType::A, Rcode::NOERROR, 3),
        ("host9.example.test.", RType::ANY, Rcode::NOERROR, 1),
        ("example.test.", RType::NS, Rcode::NOERROR, 2),
        ("elsewhere.test.", RType::A, Rcode::REFUSED, 0),
        ("example.test.", RType::AXFR, Rcode::REFUSED, 0),
        ("example.test.", RType::OPT, Rcode::FORMERR, 0),
    ];
    let queries: Vec<Vec<u8>> = cases
        .iter()
        .map(|(n, t, _, _)| common::query(n, *t))
        .collect();
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut out = [0u8; 1232];
    for (query, (name, qtype, rcode, answers)) in queries.iter().zip(cases) {
        let before = allocations();
        let outcome = engine.respond(query, &client, Time::ZERO, &mut out);
        let after = allocations();
        assert_eq!(after - before, 0, "answering {name} {qtype} allocated");
        let Outcome::Reply(info) = outcome else {
            panic!("{name}: {outcome:?}");
        };
        let response = Message::parse(&out[..info.len]).unwrap();
        assert_eq!(response.rcode(), rcode, "{name} {qtype}");
        assert_eq!(response.header().ancount, answers, "{name} {qtype}");
    }
    // Garbage and truncated queries are answered or dropped without allocating either.
    for bytes in [&[0u8; 5][..], &queries[0][..20], &[0xff; 40][..]] {
        let before = allocations();
        let _ = engine.respond(bytes, &client, Time::ZERO, &mut out);
        assert_eq!(allocations() - before, 0);
    }
}

fn rrset(owner: &str, rtype: RType, ttl: u32, rdatas: Vec<Vec<u8>>) -> RrSet {
    RrSet {
        owner: owner.parse().unwrap(),
        rtype,
        class: wire::Class::IN,
        ttl,
        rdatas,
        sigs: Vec::new(),
    }
}

#[test]
fn a_cache_hit_allocates_nothing() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let now = Time::from_millis(1_000_000);
    let name = |s: &str| s.parse::<wire::Name>().unwrap().as_ref().as_wire().to_vec();
    cache.insert_rrset(
        &rrset(
            "www.cached.example.",
            RType::A,
            300,
            vec![vec![192, 0, 2, 1]],
        ),
        Trust::AuthAnswer,
        now,
    );
    cache.insert_rrset(
        &rrset(
            "alias.cached.example.",
            RType::CNAME,
            300,
            vec![name("www.cached.example.")],
        ),
        Trust::AuthAnswer,
        now,
    );
    let mut soa = name("ns.cached.example.");
    soa.extend(name("hostmaster.cached.example."));
    for v in [1u32, 7200, 3600, 1_209_600, 300] {
        soa.extend(v.to_be_bytes());
    }
    let soa = rrset("cached.example.", RType::SOA, 300, vec![soa]);
    let nope: wire::Name = "nope.cached.example.".parse().unwrap();
    cache.insert_negative(
        nope.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa,
        &[],
        now,
    );

    let engine = common::engine(10).with_resolver(Resolver::new(
        cache,
        guard::Acl::allowing(&["192.0.2.0/24".parse().unwrap()]),
    ));
    let cases = [
        ("www.cached.example.", Rcode::NOERROR, 1, "192.0.2.9"),
        ("WWW.Cached.Example.", Rcode::NOERROR, 1, "192.0.2.9"),
        ("alias.cached.example.", Rcode::NOERROR, 2, "192.0.2.9"),
        ("nope.cached.example.", Rcode::NXDOMAIN, 0, "192.0.2.9"),
        ("www.cached.example.", Rcode::REFUSED, 0, "198.51.100.1"),
    ];
    let queries: Vec<Vec<u8>> = cases
        .iter()
        .map(|(n, _, _, _)| common::query(n, RType::A))
        .collect();
    let mut out = [0u8; 1232];
    for (query, (name, rcode, answers, client)) in queries.iter().zip(cases) {
        let client = Client {
            addr: client.parse().unwrap(),
            transport: Transport::Udp,
        };
        let before = allocations();
        let outcome = engine.respond(query, &client, now.plus_secs(10), &mut out);
        let after = allocations();
        assert_eq!(
            after - before,
            0,
            "answering {name} from the cache allocated"
        );
        let Outcome::Reply(info) = outcome else {
            panic!("{name}: {outcome:?}");
        };
        let response = Message::parse(&out[..info.len]).unwrap();
        assert_eq!(response.rcode(), rcode, "{name}");
        assert_eq!(response.header().ancount, answers, "{name}");
        assert_eq!(
            response.header().flags.ra(),
            rcode != Rcode::REFUSED,
            "{name}"
        );
    }
}

/// With a blocklist and a response policy zone (QNAME and IP triggers) in force, a cache hit
/// that no rule matches still allocates nothing: the QNAME check, reading the answer back and
/// the IP check all work on the stack.
#[test]
fn a_policed_cache_hit_allocates_nothing() {
    use guard::policy::{Action, BlockList, DomainList, ListKind, Policy, PolicyZone, Rpz};
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let now = Time::from_millis(1_000_000);
    let name = |s: &str| s.parse::<wire::Name>().unwrap().as_ref().as_wire().to_vec();
    for owner in ["www.cached.example.", "blocked.cached.example."] {
        cache.insert_rrset(
            &rrset(owner, RType::A, 300, vec![vec![192, 0, 2, 1]]),
            Trust::AuthAnswer,
            now,
        );
    }
    cache.insert_rrset(
        &rrset(
            "alias.cached.example.",
            RType::CNAME,
            300,
            vec![name("www.cached.example.")],
        ),
        Trust::AuthAnswer,
        now,
    );
    let origin: wire::Name = "rpz.".parse().unwrap();
    let rpz = Rpz::from_str(
        "$TTL 60\n@ SOA a. b. 1 2 3 4 5\nnx.example CNAME .\n32.9.2.0.192.rpz-ip CNAME .\n",
        std::path::Path::new("rpz"),
        origin.as_ref(),
        10,
    )
    .unwrap();
    let list = DomainList::parse(b"||blocked.cached.example^\n", ListKind::Block, 10).unwrap();
    let policy = Policy::new(
        vec![PolicyZone::new(Arc::new(rpz), Some(15))],
        vec![BlockList::new(
            "ads",
            Arc::new(list),
            Action::NxDomain,
            Some(15),
        )],
        Vec::new(),
    );
    let engine = common::engine(10)
        .with_resolver(Resolver::new(
            cache,
            guard::Acl::allowing(&["192.0.2.0/24".parse().unwrap()]),
        ))
        .with_policy(Arc::new(arc_swap::ArcSwap::from_pointee(policy)));
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut out = [0u8; 1232];
    // The first load of the policy on a thread sets up arc-swap's per-thread state (once).
    let _ = engine.respond(
        &common::query("www.cached.example.", RType::A),
        &client,
        now.plus_secs(10),
        &mut out,
    );
    for (qname, answers) in [("www.cached.example.", 1), ("alias.cached.example.", 2)] {
        let query = common::query(qname, RType::A);
        let before = allocations();
        let outcome = engine.respond(&query, &client, now.plus_secs(10), &mut out);
        assert_eq!(allocations() - before, 0, "answering {qname} allocated");
        let Outcome::Reply(info) = outcome else {
            panic!("{qname}: {outcome:?}");
        };
        let response = Message::parse(&out[..info.len]).unwrap();
        assert_eq!(response.header().ancount, answers, "{qname}");
    }
    // The blocked name gets its policy answer (building its event may allocate).
    let query = common::query("blocked.cached.example.", RType::A);
    let Outcome::Reply(info) = engine.respond(&query, &client, now.plus_secs(10), &mut out) else {
        panic!()
    };
    assert_eq!(info.rcode, Rcode::NXDOMAIN);
    assert_eq!(engine.events().count(events::Action::Blocked), 1);
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(allocations() > before);
    drop(v);
}
