//! Answering a query from a zone allocates nothing: parse, lookup and write run with a counting
//! allocator that records every allocation made on this thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use alloc_count::allocations;
use wire::message::Message;
use wire::{RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

#[test]
fn answering_allocates_nothing() {
    let zone = common::answer::zone(1000);
    let cases = [
        ("host7.example.test.", RType::A, Rcode::NOERROR, 1),
        ("HOST7.Example.Test.", RType::MX, Rcode::NOERROR, 1),
        ("host7.example.test.", RType::TXT, Rcode::NOERROR, 0),
        ("nope.example.test.", RType::A, Rcode::NXDOMAIN, 0),
        ("a.wild.example.test.", RType::TXT, Rcode::NOERROR, 1),
        ("deep.sub.example.test.", RType::A, Rcode::NOERROR, 0),
        ("elsewhere.test.", RType::A, Rcode::REFUSED, 0),
    ];
    let queries: Vec<Vec<u8>> = cases
        .iter()
        .map(|(n, t, _, _)| common::answer::query(n, *t))
        .collect();
    let mut out = [0u8; 1232];
    for (query, (name, _, rcode, answers)) in queries.iter().zip(cases) {
        let before = allocations();
        let len = common::answer::answer(&zone, query, &mut out).unwrap();
        let after = allocations();
        assert_eq!(after - before, 0, "answering {name} allocated");
        let response = Message::parse(&out[..len]).unwrap();
        assert_eq!(response.rcode(), rcode, "{name}");
        assert_eq!(response.header().ancount, answers, "{name}");
    }
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(allocations() > before);
    drop(v);
}
