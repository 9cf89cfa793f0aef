//! The per-query paths of the domain state and the verdicts allocate nothing once a domain is
//! tracked: counting a query (gated or not, with the feature vector handed back), counting an
//! answer, rolling windows (the domain's anomaly series learned and their limits set),
//! scoring with the domain model, checking verdicts and weighing a name against the allow
//! list all run under a counting allocator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use alloc_count::allocations;
use detect::verdict::{BlockKind, Enforce, Verdict, Verdicts};
use detect::{
    AllowList, DOMAIN_FEATURES, DomainConfig, DomainModel, DomainTable, QueryObservation,
};
use wire::{Name, RType};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

#[test]
fn observing_a_tracked_domain_allocates_nothing() {
    let table = DomainTable::new(DomainConfig {
        capacity: 1000,
        ..DomainConfig::default()
    });
    let model = DomainModel::new(
        [0.0; DOMAIN_FEATURES],
        [1.0; DOMAIN_FEATURES],
        [0.5; DOMAIN_FEATURES],
        -3.0,
        0.9,
    )
    .unwrap();
    let domain = name("Tunnel.Example");
    let lefts: Vec<Name> = (0..500)
        .map(|i| name(&format!("{i:0>30}.chunk.tunnel.example")))
        .collect();
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let obs = |i: usize| {
        let wire = lefts[i].as_wire();
        QueryObservation {
            domain: domain.as_ref(),
            key: table.key(domain.as_ref()),
            left: &wire[..wire.len() - domain.len()],
            qtype: RType::TXT,
            client,
            score: 0.9,
            suspicious: true,
            weight: 1.0,
        }
    };
    assert!(table.observe_query(&obs(0), 0).new_domain);

    let before = allocations();
    let mut scored = 0;
    for i in 1..500 {
        // Two windows' worth of time, so both roll.
        let now = i as u64 * 10_000;
        let seen = table.observe_query(&obs(i), now);
        if let Some(features) = seen.features {
            scored += 1;
            std::hint::black_box(model.score(&features));
        }
        let key = table.key(domain.as_ref());
        table.observe_answer(key, i % 3 == 0, 120 + i);
    }
    assert_eq!(allocations(), before);
    assert!(scored > 100, "{scored}");
}

#[test]
fn checking_verdicts_and_the_allow_list_allocates_nothing() {
    let verdicts = Verdicts::new(16);
    let allow = AllowList::new(&[name("corp.example")], 16);
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let blocked = name("tunnel.example");
    let limited = name("chatty.example");
    let other = name("example.com");
    let names = [
        name("1.2.0.192.in-addr.arpa"),
        name("sel._domainkey.example.com"),
        name("a.b.example.com"),
    ];

    // No verdict and no run-time allow: the fast paths.
    let before = allocations();
    assert_eq!(verdicts.check(other.as_ref(), client, 0), None);
    for n in &names {
        std::hint::black_box(allow.weight(n.as_ref(), 0));
    }
    assert_eq!(allocations(), before);

    let v = |enforce| Verdict {
        enforce,
        client: None,
        until_ms: 1_000_000,
        reason: "tunnel",
        summary: "test".into(),
    };
    verdicts.set(blocked.as_ref(), v(Enforce::Block(BlockKind::Nxdomain)), 0);
    verdicts.set(limited.as_ref(), v(Enforce::RateLimited { qps: 10 }), 0);
    assert!(allow.allow(name("vendor.example").as_ref(), 1_000_000, 0));

    let before = allocations();
    for t in 0..100 {
        assert_eq!(verdicts.check(other.as_ref(), client, t), None);
        assert!(verdicts.check(blocked.as_ref(), client, t).is_some());
        std::hint::black_box(verdicts.check(limited.as_ref(), client, t));
        for n in &names {
            std::hint::black_box(allow.weight(n.as_ref(), t));
        }
    }
    assert_eq!(allocations(), before);
}
