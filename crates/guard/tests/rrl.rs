#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use guard::{Decision, Kind, Rrl, RrlConfig, name_key, question, slip};
use proptest::prelude::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn rrl(rate: u32, slip: u32) -> Rrl {
    Rrl::new(RrlConfig {
        responses_per_second: rate,
        nxdomains_per_second: rate,
        errors_per_second: rate,
        referrals_per_second: rate,
        window: 2,
        slip,
        ..RrlConfig::default()
    })
}

fn count(rrl: &Rrl, client: &str, n: usize, now: u64) -> [usize; 3] {
    let mut c = [0; 3];
    for _ in 0..n {
        match rrl.decide(ip(client), Kind::Answer, 7, now) {
            Decision::Send => c[0] += 1,
            Decision::Drop => c[1] += 1,
            Decision::Slip => c[2] += 1,
        }
    }
    c
}

#[test]
fn burst_is_one_second_of_rate() {
    let r = rrl(10, 0);
    assert_eq!(count(&r, "192.0.2.1", 100, 1_000), [10, 90, 0]);
}

#[test]
fn same_prefix_shares_an_account_other_prefix_does_not() {
    let r = rrl(5, 0);
    assert_eq!(count(&r, "192.0.2.1", 5, 0)[0], 5);
    assert_eq!(count(&r, "192.0.2.200", 5, 0)[0], 0);
    assert_eq!(count(&r, "192.0.3.1", 5, 0)[0], 5);
    assert_eq!(count(&r, "2001:db8:0:ff::1", 5, 0)[0], 5);
    assert_eq!(count(&r, "2001:db8:0:1::1", 5, 0)[0], 0, "same /56");
}

#[test]
fn slip_every_second_limited_response() {
    let r = rrl(1, 2);
    assert_eq!(count(&r, "192.0.2.1", 11, 0), [1, 5, 5]);
    let always = rrl(1, 1);
    assert_eq!(count(&always, "192.0.2.1", 11, 0), [1, 0, 10]);
}

#[test]
fn debt_is_bounded_by_window_and_decays() {
    let r = rrl(10, 0);
    // A long flood runs the debt to its cap: `window` (2 s) beyond the second of credit.
    count(&r, "192.0.2.1", 10_000, 0);
    // Balance -20 at 0 ms; it earns 10 per second, and each response asked costs one.
    assert_eq!(count(&r, "192.0.2.1", 1, 1_500)[0], 0);
    assert_eq!(count(&r, "192.0.2.1", 1, 2_200)[0], 1);
}

#[test]
fn zero_rate_and_exempt_are_unlimited() {
    let r = Rrl::new(RrlConfig {
        responses_per_second: 1,
        exempt: vec![(ip("10.0.0.0"), 8)],
        ..RrlConfig::default()
    });
    assert_eq!(count(&r, "10.1.2.3", 50, 0)[0], 50);
    for _ in 0..50 {
        assert_eq!(
            r.decide(ip("192.0.2.1"), Kind::NxDomain, 1, 0),
            Decision::Send
        );
    }
}

#[test]
fn classes_and_names_have_their_own_accounts() {
    let r = rrl(1, 0);
    let c = ip("192.0.2.1");
    assert_eq!(r.decide(c, Kind::Answer, 1, 0), Decision::Send);
    assert_eq!(r.decide(c, Kind::Answer, 1, 0), Decision::Drop);
    assert_eq!(r.decide(c, Kind::Answer, 2, 0), Decision::Send);
    assert_eq!(r.decide(c, Kind::NxDomain, 1, 0), Decision::Send);
    assert_eq!(r.decide(c, Kind::Error, 5, 0), Decision::Send);
    // Errors share one account whatever the key.
    assert_eq!(r.decide(c, Kind::Error, 6, 0), Decision::Drop);
}

#[test]
fn name_key_ignores_case() {
    assert_eq!(name_key(b"\x03WwW\x00", 1), name_key(b"\x03www\x00", 1));
    assert_ne!(name_key(b"\x03www\x00", 1), name_key(b"\x03www\x00", 16));
    // Only the name is folded to lower case: HTTPS (65) is not type 97.
    assert_ne!(name_key(b"\x03www\x00", 65), name_key(b"\x03www\x00", 97));
}

#[test]
fn slip_keeps_header_and_question() {
    // ID 0x1234, QR AA, one question www.example. TXT, one answer, one additional.
    let mut m = vec![0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1];
    m.extend_from_slice(b"\x03www\x07example\x00\x00\x10\x00\x01");
    let qend = m.len();
    m.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, b'x']);
    assert_eq!(question(&m).map(|q| q.1), Some(16));
    let len = slip(&mut m).unwrap();
    assert_eq!(len, qend);
    assert_eq!(&m[..12], &[0x12, 0x34, 0x86, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let mut short = vec![0u8; 11];
    assert_eq!(slip(&mut short), None);
}

#[test]
fn shared_between_threads() {
    let r = std::sync::Arc::new(rrl(100, 0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let r = r.clone();
            std::thread::spawn(move || count(&r, "192.0.2.1", 1000, 0)[0])
        })
        .collect();
    let sent: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(sent, 100);
}

proptest! {
    /// Over any timing, an account never gets more than one second of credit plus `rate` per
    /// second elapsed.
    #[test]
    fn limit_holds(rate in 1u32..200, gaps in proptest::collection::vec(0u64..50, 1..2000)) {
        let r = rrl(rate, 2);
        let mut now = 10_000u64;
        let mut sent = 0u64;
        for gap in &gaps {
            now += gap;
            if r.decide(ip("198.51.100.9"), Kind::Answer, 3, now) == Decision::Send {
                sent += 1;
            }
        }
        let elapsed_ms = now - 10_000;
        let bound = u64::from(rate) + u64::from(rate) * elapsed_ms / 1000 + 1;
        prop_assert!(sent <= bound, "sent {sent} > bound {bound}");
    }
}
