//! Answers with the DO bit from signed zones of 10,000 hosts: the cost of RRSIGs and of the NSEC
//! and NSEC3 denial proofs, next to the same questions without DO. Signatures are placeholders
//! (the engine copies them, it never checks them); the NSEC3 chain is real (hashes of the
//! names, salt `abcd`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use cache::Time;
use criterion::{Criterion, criterion_group, criterion_main};
use engine::{Catalog, Client, Engine, EngineConfig, Outcome, Transport};
use wire::message::{Flags, Header};
use wire::writer::MessageWriter;
use wire::{Class, Name, RType, Rcode};

const SIG: &str = "13 3 3600 20300101000000 20200101000000 12345 example.test. \
    AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==";
const HOSTS: usize = 10_000;

/// Names of the zone below the apex, with their types (the apex is added apart).
fn names() -> Vec<(String, &'static str)> {
    let mut names = vec![
        ("*.wild".to_string(), "TXT"),
        ("ns1".to_string(), "A"),
        ("sub".to_string(), "NS"),
    ];
    for i in 0..HOSTS {
        names.push((format!("host{i}"), "A AAAA"));
    }
    names
}

fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn zone_text(nsec3: Option<u16>) -> String {
    let mut text = format!(
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ RRSIG SOA {SIG}\n\
         @ RRSIG NS {SIG}\nns1 RRSIG A {SIG}\nsub NS ns.sub\nns.sub A 192.0.2.53\n\
         *.wild TXT \"wildcard\"\n*.wild RRSIG TXT {}\nns1 A 192.0.2.1\n",
        SIG.replacen("13 3", "13 2", 1)
    );
    for i in 0..HOSTS {
        text += &format!(
            "host{i} A 192.0.2.{}\nhost{i} AAAA 2001:db8::{i:x}\nhost{i} RRSIG A {SIG}\n\
             host{i} RRSIG AAAA {SIG}\n",
            i % 256
        );
    }
    let mut chain: Vec<(String, String)> = names()
        .into_iter()
        .map(|(n, t)| (n, t.to_string()))
        .collect();
    chain.push(("@".to_string(), "NS SOA".to_string()));
    match nsec3 {
        None => {
            let origin: Name = "example.test.".parse().unwrap();
            let mut sorted: Vec<(Name, String, String)> = chain
                .into_iter()
                .map(|(n, t)| {
                    let name = if n == "@" {
                        origin.clone()
                    } else {
                        Name::from_text(n.as_bytes(), Some(origin.as_ref())).unwrap()
                    };
                    (name, n, t)
                })
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (i, (_, owner, types)) in sorted.iter().enumerate() {
                let next = &sorted[(i + 1) % sorted.len()].0;
                text += &format!("{owner} 300 NSEC {next} {types} RRSIG NSEC\n");
                text += &format!("{owner} 300 RRSIG NSEC {SIG}\n");
            }
        }
        Some(iterations) => {
            text += &format!("@ NSEC3PARAM 1 0 {iterations} abcd\n");
            let origin: Name = "example.test.".parse().unwrap();
            let mut hashed: Vec<(String, String)> = chain
                .into_iter()
                .map(|(n, t)| {
                    let name = if n == "@" {
                        origin.clone()
                    } else {
                        Name::from_text(n.as_bytes(), Some(origin.as_ref())).unwrap()
                    };
                    let h = zone::denial::nsec3_hash(name.as_ref(), &[0xab, 0xcd], iterations);
                    (base32hex(&h), t)
                })
                .collect();
            hashed.sort();
            for (i, (hash, types)) in hashed.iter().enumerate() {
                let next = &hashed[(i + 1) % hashed.len()].0;
                text += &format!("{hash} 300 NSEC3 1 0 {iterations} abcd {next} {types} RRSIG\n");
                text += &format!("{hash} 300 RRSIG NSEC3 {SIG}\n");
            }
        }
    }
    text
}

fn engine(nsec3: Option<u16>) -> Engine {
    let origin: Name = "example.test.".parse().unwrap();
    let zone = zone::load_str(
        &zone_text(nsec3),
        std::path::Path::new("bench.zone"),
        origin.as_ref(),
    )
    .unwrap()
    .zone;
    Engine::new(Catalog::new(vec![zone]).unwrap(), EngineConfig::default()).unwrap()
}

fn query(name: &str, qtype: RType, dnssec_ok: bool) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut w = MessageWriter::new(&mut buf, 512, Header::default()).unwrap();
    w.set_flags(Flags::default());
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    w.opt(4096, Rcode::NOERROR, dnssec_ok)
        .unwrap()
        .finish()
        .unwrap();
    let len = w.finish().len();
    buf.truncate(len);
    buf
}

fn respond(c: &mut Criterion) {
    let client = Client {
        addr: "192.0.2.9".parse().unwrap(),
        transport: Transport::Udp,
    };
    let mut out = [0u8; 4096];
    let engines = [
        ("nsec", engine(None)),
        ("nsec3_0", engine(Some(0))),
        ("nsec3_10", engine(Some(10))),
    ];
    let cases = [
        ("hit", "host4242.example.test.", RType::A),
        ("nodata", "host4242.example.test.", RType::TXT),
        ("nxdomain", "nope.example.test.", RType::A),
        ("wildcard", "x.wild.example.test.", RType::TXT),
        ("referral", "www.sub.example.test.", RType::A),
    ];
    let mut group = c.benchmark_group("respond_dnssec");
    for (chain, engine) in &engines {
        for (label, name, qtype) in cases {
            for dnssec_ok in [false, true] {
                let q = query(name, qtype, dnssec_ok);
                let id = format!("{chain}/{label}/{}", if dnssec_ok { "do" } else { "plain" });
                // The response is the one meant: with DO, signatures and proofs are in it.
                let Outcome::Reply(info) = engine.respond(&q, &client, Time::ZERO, &mut out) else {
                    panic!("{id}: no reply");
                };
                let m = wire::Message::parse(&out[..info.len]).unwrap();
                let records = m.header().ancount + m.header().nscount;
                let want = match (label, dnssec_ok) {
                    (_, false) => 1,
                    ("hit", true) => 2,
                    ("nxdomain", true) if *chain != "nsec" => 8,
                    ("referral", true) => 3,
                    (_, true) => 4,
                };
                assert!(records >= want, "{id}: {records} records");
                group.bench_function(id, |b| {
                    b.iter(
                        || match engine.respond(black_box(&q), &client, Time::ZERO, &mut out) {
                            Outcome::Reply(info) => info.len,
                            _ => panic!("expected a reply"),
                        },
                    )
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, respond);
criterion_main!(benches);
