//! Whatever a server sends, the recursor neither panics nor hangs: genuine answers with bytes
//! flipped, cut short or extended, all accepted as coming from the right server with the
//! right ID (the worst case: an on-path attacker or a broken server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use std::rc::Rc;

use proptest::prelude::*;
use sim::*;
use wire::RType;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mangled_answers_end_in_an_answer(
        flips in proptest::collection::vec((0usize..512, any::<u8>()), 1..8),
        cut in proptest::option::of(0usize..512),
        tail in proptest::collection::vec(any::<u8>(), 0..16),
        target in 0usize..4,
    ) {
        let mut sim = world();
        let server = ["192.0.2.1", "192.0.2.10", "192.0.2.20", "192.0.2.20"][target];
        let flips = Rc::new(flips);
        let tail = Rc::new(tail);
        sim.server(server).custom = Some(Rc::new(move |seen: &Seen, q: &[u8], s: &Server| {
            let mut bytes = answer(s, seen, q).unwrap();
            for &(at, value) in flips.iter() {
                // Keep the ID so the mangled answer is taken as genuine.
                let at = 2 + at % (bytes.len() - 2);
                bytes[at] ^= value;
            }
            if let Some(cut) = cut {
                bytes.truncate(2 + cut % (bytes.len() - 1));
            }
            bytes.extend_from_slice(&tail);
            Reply::Bytes(bytes)
        }));
        let waiter = sim.submit("www.example.test.", RType::A);
        sim.run();
        let _ = sim.answer(waiter);
        prop_assert_eq!(sim.rec.in_flight(), 0);
        prop_assert_eq!(sim.rec.upstream_in_flight(), 0);
        prop_assert!(sim.log.len() <= 50);
    }
}
