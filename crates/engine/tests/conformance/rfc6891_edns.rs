//! EDNS (RFC 6891, RFC 8906 section 3.2): OPT echoed, BADVERS, payload sizes, TC, DO, NSID
//! (RFC 5001).

use wire::edns::OptionCode;
use wire::{RType, Rcode};

use crate::support::*;
use engine::EngineConfig;

#[test]
fn opt_only_when_the_query_had_one() {
    let r = ask_udp(&query("www.example.", RType::A));
    let edns = r.msg().edns().unwrap();
    assert_eq!(edns.udp_payload, 1232);
    assert_eq!(edns.version, 0);
    assert!(!edns.dnssec_ok());
    assert!(edns.raw_options().is_empty());
    let r = ask_udp(&query("www.example.", RType::A).no_edns());
    assert!(r.msg().edns().is_none());
    assert_eq!(r.msg().header().arcount, 0);
}

#[test]
fn do_is_echoed() {
    let r = ask_udp(&query("www.example.", RType::A).dnssec_ok());
    assert!(r.msg().edns().unwrap().dnssec_ok());
    // Also on errors and negative answers.
    let r = ask_udp(&query("nope.example.", RType::A).dnssec_ok());
    assert!(r.msg().edns().unwrap().dnssec_ok());
}

#[test]
fn higher_versions_get_badvers_with_version_0() {
    let r = ask_udp(&query("www.example.", RType::A).version(1));
    assert_eq!(r.rcode(), Rcode::BADVERS);
    assert_eq!(r.msg().header().flags.rcode_bits(), 0);
    let edns = r.msg().edns().unwrap();
    assert_eq!(edns.version, 0);
    assert_eq!(edns.extended_rcode, 1);
    assert!(r.answer().is_empty());
}

#[test]
fn unknown_options_and_flags_are_ignored() {
    let mut q = query("www.example.", RType::A).option(65001, b"whatever");
    // An unknown EDNS flag bit (bit 1 of the flags).
    q.edns.as_mut().unwrap().2 = false;
    let mut bytes = q.bytes();
    let n = bytes.len();
    // The OPT TTL's low byte sits 7 bytes before its RDATA (2 RDLENGTH + 12 option bytes).
    bytes[n - 12 - 2 - 1] |= 0x40;
    let r = ask_bytes(&engine(), &bytes, udp());
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(r.answer().len(), 1);
    assert!(r.msg().edns().unwrap().raw_options().is_empty());
}

#[test]
fn malformed_options_and_two_opts_are_formerr() {
    let mut q = query("www.example.", RType::A);
    q.edns.as_mut().unwrap().3 = vec![0, 10, 0, 40, 1, 2];
    let r = ask_udp(&q);
    assert_eq!(r.rcode(), Rcode::FORMERR);
    assert!(r.msg().edns().is_none());
    let mut bytes = query("www.example.", RType::A).bytes();
    bytes.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    bytes[11] = 2;
    assert_eq!(ask_bytes(&engine(), &bytes, udp()).rcode(), Rcode::FORMERR);
}

/// A zone with a TXT RRset of about 1,100 bytes at `big.example.`.
fn big_engine(config: EngineConfig) -> engine::Engine {
    let mut text = String::from(EXAMPLE);
    for i in 0..10 {
        text.push_str(&format!("big TXT \"{i}{}\"\n", "x".repeat(100)));
    }
    let zones = vec![zone("example.", &text)];
    engine::Engine::new(engine::Catalog::new(zones).unwrap(), config).unwrap()
}

#[test]
fn payload_sizes() {
    let e = big_engine(EngineConfig::default());
    // Without EDNS: 512, truncated, question kept, no OPT.
    let r = ask(&e, &query("big.example.", RType::TXT).no_edns(), udp());
    assert!(r.flags().tc());
    assert!(r.bytes.len() <= 512);
    assert_eq!(r.msg().header().qdcount, 1);
    assert!(r.answer().is_empty());
    // A client payload below 512 counts as 512.
    let r = ask(&e, &query("big.example.", RType::TXT).payload(100), udp());
    assert!(r.flags().tc());
    assert!(r.msg().edns().is_some(), "OPT kept on truncation");
    // 1232 is enough.
    let r = ask(&e, &query("big.example.", RType::TXT), udp());
    assert!(!r.flags().tc());
    assert_eq!(r.answer().len(), 10);
    assert!(r.bytes.len() <= 1232);
    // A client offering more gets our maximum.
    let small = big_engine(EngineConfig {
        udp_payload: 1000,
        ..EngineConfig::default()
    });
    let r = ask(
        &small,
        &query("big.example.", RType::TXT).payload(4096),
        udp(),
    );
    assert!(r.flags().tc());
    assert_eq!(r.msg().edns().unwrap().udp_payload, 1000);
    // TCP carries it all, whatever the payload.
    let r = ask(&e, &query("big.example.", RType::TXT).no_edns(), tcp());
    assert!(!r.flags().tc());
    assert_eq!(r.answer().len(), 10);
}

#[test]
fn truncated_responses_keep_rcode_and_aa() {
    let e = big_engine(EngineConfig::default());
    let r = ask(&e, &query("big.example.", RType::TXT).no_edns(), udp());
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.flags().aa());
    assert!(r.info.truncated);
}

#[test]
fn nsid_only_when_asked_and_configured() {
    let e = engine_with(EngineConfig {
        nsid: Some(b"pc-1".to_vec()),
        ..EngineConfig::default()
    });
    let asked = query("www.example.", RType::A).option(OptionCode::NSID.0, b"");
    let r = ask(&e, &asked, udp());
    assert_eq!(
        r.msg().edns().unwrap().option(OptionCode::NSID),
        Some(&b"pc-1"[..])
    );
    let r = ask(&e, &query("www.example.", RType::A), udp());
    assert_eq!(r.msg().edns().unwrap().option(OptionCode::NSID), None);
    // Not configured: nothing, even when asked.
    let r = ask_udp(&asked);
    assert_eq!(r.msg().edns().unwrap().option(OptionCode::NSID), None);
    // On errors too.
    let r = ask(&e, &asked.clone().version(1), udp());
    assert_eq!(r.rcode(), Rcode::BADVERS);
    assert!(r.msg().edns().unwrap().option(OptionCode::NSID).is_some());
}
