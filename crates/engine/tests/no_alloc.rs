//! Answering allocates nothing: hits, NXDOMAIN, NODATA, referrals, wildcards, CNAME and DNAME
//! chains, ANY and errors run under a counting allocator that records every allocation made on
//! this thread.

#![allow(unsafe_code, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use cache::Time;
use engine::{Client, Outcome, Transport};
use wire::message::Message;
use wire::{RType, Rcode};

/// The system allocator, counting allocations per thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` that needs no allocation to update.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

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

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 100]);
    assert!(allocations() > before);
    drop(v);
}
