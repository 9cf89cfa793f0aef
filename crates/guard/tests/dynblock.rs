#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Properties of client limits and dynamic blocks over arbitrary traffic.

use std::net::IpAddr;

use guard::dynblock::{
    BlockAction, DynBlock, DynBlockConfig, Metric, RateAction, Rule, Verdict, limited_reply,
};
use proptest::prelude::*;

fn config(rules: Vec<Rule>, query_rate: u32, max_blocks: usize) -> DynBlockConfig {
    DynBlockConfig {
        query_rate,
        query_rate_action: RateAction::Drop,
        rules,
        table_size: 256,
        max_blocks,
        ..DynBlockConfig::default()
    }
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (0..3u8, 1..50u32, 1..5u32, 0..3u8, 1..5u32).prop_map(|(m, per_second, window, a, duration)| {
        Rule {
            metric: [Metric::Queries, Metric::NxDomains, Metric::LargeResponses][usize::from(m)],
            per_second,
            window,
            action: [
                BlockAction::Drop,
                BlockAction::Truncate,
                BlockAction::Refuse,
            ][usize::from(a)],
            duration,
        }
    })
}

/// One event: (client's third octet, ms since the previous event, rcode, size).
fn arb_traffic() -> impl Strategy<Value = Vec<(u8, u16, u16, u16)>> {
    prop::collection::vec((0..8u8, 0..300u16, 0..6u16, 0..3000u16), 0..600)
}

proptest! {
    /// Blocks never outnumber `max_blocks`, never outlast their rule's duration, and each
    /// start is reported once, for a block that then applies.
    #[test]
    fn blocks_are_bounded_and_expire(
        rules in prop::collection::vec(arb_rule(), 1..4),
        max_blocks in 1..6usize,
        traffic in arb_traffic(),
    ) {
        let longest = rules.iter().map(|r| u64::from(r.duration)).max().unwrap() * 1000;
        let d = DynBlock::new(config(rules.clone(), 0, max_blocks));
        let mut now = 1_000_000u64;
        let mut last_start = None;
        for (net, gap, rcode, size) in traffic {
            now += u64::from(gap);
            let client = IpAddr::from([192, 0, net, 1]);
            let admission = d.admit(client, now);
            if let Some(s) = admission.started {
                prop_assert_eq!(rules[s.rule].metric, Metric::Queries);
                prop_assert_eq!(admission.verdict, Verdict::Blocked(s.action));
                last_start = Some(now);
            }
            if admission.verdict == Verdict::Pass
                && let Some(s) = d.record(client, rcode, usize::from(size), now)
            {
                prop_assert!(s.metric != Metric::Queries);
                prop_assert_eq!(d.block_of(client, now), Some(s.action));
                prop_assert_eq!(s.until_ms, now + u64::from(rules[s.rule].duration) * 1000);
                last_start = Some(now);
            }
            prop_assert!(d.active(now) <= max_blocks);
        }
        if let Some(t) = last_start {
            let after = t + longest;
            prop_assert_eq!(d.active(after), 0);
            for net in 0..8u8 {
                prop_assert_eq!(d.block_of(IpAddr::from([192, 0, net, 1]), after), None);
            }
        }
    }

    /// The plain rate limit lets through at most the rate (plus one second's rounding) in any
    /// one-second window, and never blocks.
    #[test]
    fn the_query_rate_holds(rate in 1..200u32, gaps in prop::collection::vec(0..20u16, 1..2000)) {
        let d = DynBlock::new(config(Vec::new(), rate, 4));
        let client: IpAddr = "2001:db8::1".parse().unwrap();
        let mut now = 5_000u64;
        let mut passed: Vec<u64> = Vec::new();
        for gap in gaps {
            now += u64::from(gap);
            match d.admit(client, now).verdict {
                Verdict::Pass => passed.push(now),
                Verdict::Limited(RateAction::Drop) => {}
                v => prop_assert!(false, "unexpected {:?}", v),
            }
        }
        // Within any aligned second, the previous second's weight is at least 0: no more than
        // the rate passes.
        let mut per_second = std::collections::HashMap::new();
        for t in passed {
            *per_second.entry(t / 1000).or_insert(0u32) += 1;
        }
        for (_, n) in per_second {
            prop_assert!(n <= rate);
        }
        prop_assert_eq!(d.active(now), 0);
    }

    /// Arbitrary bytes never make `limited_reply` panic or write past what it returns.
    #[test]
    fn limited_reply_takes_any_bytes(query in prop::collection::vec(any::<u8>(), 0..80),
                                     rcode in any::<u8>(), tc in any::<bool>()) {
        let mut out = [0xaau8; 96];
        if let Some(len) = limited_reply(&query, &mut out, rcode, tc) {
            prop_assert!(len >= 12 && len <= query.len());
            prop_assert!(out[len..].iter().all(|&b| b == 0xaa));
            prop_assert_eq!(out[2] & 0x80, 0x80);
            prop_assert_eq!(out[2] & 0x02 != 0, tc);
        }
    }
}
