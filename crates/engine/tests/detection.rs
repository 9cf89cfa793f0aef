//! The engine's detection hooks with the real detector (embedded model and public suffix list),
//! under a counting allocator: a cache hit with detection on allocates nothing; a made-up
//! tunnel's misses are scored until the detector blocks the domain, which is then answered
//! NXDOMAIN with EDE 15 "tunnel: DOMAIN" from the standing verdict, without allocating and
//! without recursing; the alert is one event; other domains still recurse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use alloc_count::allocations;
use cache::{Cache, CacheConfig, RrSet, Time, Trust};
use detect::{DetectConfig, Detector, Mode, Model, Psl};
use engine::{AnswerSource, Client, DetectRecord, Detection, Engine, Outcome, Resolver, Transport};
use wire::edns::{ExtendedError, OptionCode};
use wire::message::Message;
use wire::{Class, RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

const NOW: Time = Time::from_millis(1_000_000_000);

fn engine(mode: Mode) -> (Engine, Arc<DetectRecord>) {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    cache.insert_rrset(
        &RrSet {
            owner: "www.cached.example.".parse().unwrap(),
            rtype: RType::A,
            class: Class::IN,
            ttl: 300,
            rdatas: vec![vec![192, 0, 2, 1]],
            sigs: Vec::new(),
        },
        Trust::AuthAnswer,
        NOW,
    );
    let config = DetectConfig {
        mode,
        ..DetectConfig::default()
    };
    let detector = Detector::new(config, test_model(), Psl::embedded(), NOW.as_millis());
    let record = Arc::new(DetectRecord::new());
    let engine = common::engine(10)
        .with_resolver(Resolver::new(
            cache,
            guard::Acl::allowing(&["192.0.2.0/24".parse().unwrap()]),
        ))
        .with_detector(Detection {
            detector: Arc::new(detector),
            mode,
            sinkhole_v4: std::net::Ipv4Addr::UNSPECIFIED,
            sinkhole_v6: std::net::Ipv6Addr::UNSPECIFIED,
            record: record.clone(),
        });
    (engine, record)
}

/// The shipped query model with a domain model of the test's own (the shipped file may not
/// have one yet): a domain is flagged past about 54 distinct subdomains in the short window.
fn test_model() -> Model {
    let mut file: serde_json::Value = serde_json::from_str(detect::model::EMBEDDED_MODEL).unwrap();
    let mut weights = [0.0f32; detect::DOMAIN_FEATURES];
    weights[1] = 4.0;
    file["domain"] = serde_json::json!({
        "features": detect::DOMAIN_FEATURE_NAMES,
        "mean": vec![0.0f32; detect::DOMAIN_FEATURES],
        "scale": vec![1.0f32; detect::DOMAIN_FEATURES],
        "weights": weights,
        "bias": -16.0,
        "threshold": 0.5,
    });
    Model::from_json(&file.to_string()).unwrap()
}

fn client(addr: &str) -> Client {
    Client {
        addr: addr.parse::<IpAddr>().unwrap(),
        transport: Transport::Udp,
    }
}

/// A tunnel-like name: 96 base32 characters in two labels, under `tunnel.example.`.
fn tunnel_name(i: u64) -> String {
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut state = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut label = |n: usize| {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                B32[(state % 32) as usize] as char
            })
            .collect::<String>()
    };
    format!("{}.{}.tunnel.example.", label(52), label(44))
}

#[test]
fn a_cache_hit_with_detection_on_allocates_nothing() {
    let (engine, _) = engine(Mode::Block);
    let query = common::query("www.cached.example.", RType::A);
    let c = client("192.0.2.9");
    let mut out = [0u8; 1232];
    for _ in 0..3 {
        let before = allocations();
        let outcome = engine.respond(&query, &c, NOW, &mut out);
        assert_eq!(allocations() - before, 0, "a cache hit allocated");
        let Outcome::Reply(info) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(info.rcode, Rcode::NOERROR);
        assert!(matches!(info.source, AnswerSource::Cache { .. }));
    }
}

#[test]
fn a_tunnel_is_blocked_from_its_verdict_without_allocating() {
    let (engine, record) = engine(Mode::Block);
    let c = client("192.0.2.9");
    let mut out = [0u8; 1232];
    let mut blocked_at = None;
    for i in 0..2000u64 {
        let query = common::query(&tunnel_name(i), RType::TXT);
        let now = Time::from_millis(NOW.as_millis() + i * 50);
        match engine.respond(&query, &c, now, &mut out) {
            Outcome::Recurse(request) => {
                // The upstream's answer: NOERROR, a small TXT.
                let resolution = recursor::Resolution {
                    rcode: Rcode::NOERROR,
                    answer: Vec::new(),
                    authority: Vec::new(),
                    extended_error: None,
                    security: recursor::Security::Indeterminate,
                };
                let _ = engine.write_resolution(&request, &resolution, &mut out);
            }
            Outcome::Reply(info) => {
                assert_eq!(info.rcode, Rcode::NXDOMAIN, "query {i}");
                assert_eq!(info.source, AnswerSource::Detection);
                blocked_at = Some(i);
                break;
            }
            other => panic!("query {i}: {other:?}"),
        }
    }
    let blocked_at = blocked_at.expect("the tunnel was blocked within 2,000 queries");
    eprintln!("blocked after {} queries", blocked_at + 1);
    assert_eq!(engine.events().count(events::Action::Tunnel), 1);
    assert_eq!(record.recent().len(), 1);
    assert_eq!(
        record.recent()[0].alert.domain.to_string(),
        "tunnel.example."
    );

    // From now on the standing verdict answers, before the cache, allocating nothing.
    let query = common::query(&tunnel_name(5000), RType::TXT);
    let now = Time::from_millis(NOW.as_millis() + 200_000);
    let _ = engine.respond(&query, &c, now, &mut out);
    let before = allocations();
    let outcome = engine.respond(&query, &c, now, &mut out);
    assert_eq!(allocations() - before, 0, "a blocked answer allocated");
    let Outcome::Reply(info) = outcome else {
        panic!("{outcome:?}")
    };
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::NXDOMAIN);
    assert!(m.header().flags.ra(), "RA set");
    assert!(!m.header().flags.aa(), "never AA");
    let ede = m
        .edns()
        .and_then(|e| e.option(OptionCode::EDE))
        .and_then(|d| ExtendedError::parse(d).ok())
        .unwrap();
    assert_eq!(ede.info_code, 15);
    assert_eq!(ede.text, b"tunnel: tunnel.example.");
    assert!(record.enforced()[0].1 >= 2, "{:?}", record.enforced());
    assert_eq!(
        engine.events().count(events::Action::Tunnel),
        1,
        "one alert"
    );

    // Another domain still goes upstream.
    let query = common::query("www.other.example.", RType::A);
    assert!(matches!(
        engine.respond(&query, &c, now, &mut out),
        Outcome::Recurse(_)
    ));
}
