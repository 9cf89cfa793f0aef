//! Property tests: no input makes `respond` panic, and every reply parses as a DNS message with
//! the query's ID.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use cache::Time;
use engine::{Client, Engine, Outcome, Transport};
use proptest::prelude::*;
use wire::RType;
use wire::message::Message;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| common::engine(50))
}

fn check(bytes: &[u8], tcp: bool, out_len: usize) {
    let client = Client {
        addr: "192.0.2.1".parse().unwrap(),
        transport: if tcp { Transport::Tcp } else { Transport::Udp },
    };
    let mut out = vec![0u8; out_len];
    match engine().respond(bytes, &client, Time::ZERO, &mut out) {
        Outcome::Reply(info) => {
            assert!(info.len <= out_len);
            let m = Message::parse(&out[..info.len]).expect("a reply parses");
            assert_eq!(m.header().id.to_be_bytes(), bytes[..2]);
            assert!(m.header().flags.qr());
            assert_eq!(m.rcode(), info.rcode);
            if !tcp {
                assert!(info.len <= 1232);
            }
        }
        Outcome::Drop(_) | Outcome::Transfer(_) | Outcome::Recurse(_) => {}
    }
}

/// Valid queries for names across the test zone's features.
fn valid_query() -> impl Strategy<Value = Vec<u8>> {
    let names = prop::sample::select(vec![
        "host1.example.test.",
        "nope.example.test.",
        "x.wild.example.test.",
        "a.b.sub.example.test.",
        "alias.example.test.",
        "host3.dname.example.test.",
        "example.test.",
        "other.test.",
    ]);
    let types = prop::sample::select(vec![
        RType::A,
        RType::AAAA,
        RType::MX,
        RType::ANY,
        RType::NS,
        RType::SOA,
        RType::DS,
        RType::AXFR,
        RType::IXFR,
        RType::OPT,
        RType::RRSIG,
    ]);
    (names, types).prop_map(|(n, t)| common::query(n, t))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600), tcp: bool) {
        check(&bytes, tcp, 65_535);
    }

    #[test]
    fn mutated_queries(
        query in valid_query(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        shorten: bool,
        tcp: bool,
        small_out: bool,
    ) {
        let mut bytes = query;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if shorten {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        check(&bytes, tcp, if small_out { 600 } else { 65_535 });
    }
}
