//! Criterion benchmarks of the wire-format hot path: parsing a query, reading compressed names,
//! writing a response. Figures and the command are in docs/PERFORMANCE.md.

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wire::message::{Flags, Header, Message, Section, read_name};
use wire::name::Name;
use wire::writer::MessageWriter;
use wire::{Class, RType, Rcode};

/// A typical query as dig sends it: `www.example.com. A` with EDNS (payload 1232) and a cookie.
fn query() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
    m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[
        0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    m
}

/// A response with compressed names in the answer and additional sections.
fn response() -> Vec<u8> {
    let mut buf = vec![0u8; 1232];
    let header = Header {
        id: 1,
        flags: Flags::default().with_qr(true),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 1232, header).unwrap();
    let q: Name = "www.example.com.".parse().unwrap();
    w.push_question(q.as_ref(), RType::MX, Class::IN).unwrap();
    for i in 0..4u8 {
        let mx = [
            &[0, i][..],
            format!("mx{i}.mail.example.com.")
                .parse::<Name>()
                .unwrap()
                .as_wire(),
        ]
        .concat();
        w.push(Section::Answer, q.as_ref(), RType::MX, Class::IN, 300, &mx)
            .unwrap();
    }
    w.finish().to_vec()
}

fn parse(c: &mut Criterion) {
    let q = query();
    c.bench_function("parse_query", |b| {
        b.iter(|| {
            let msg = Message::parse(black_box(&q)).unwrap();
            let question = msg.question().unwrap();
            let qname = question.qname().unwrap();
            let edns = msg.edns().unwrap();
            black_box((qname.len(), question.qtype, edns.udp_payload))
        })
    });
    let r = response();
    let msg = Message::parse(&r).unwrap();
    let last = msg.records(Section::Answer).last().unwrap();
    let mut rdata_pos = 0;
    for i in 0..r.len() {
        if r[i..].starts_with(b"\x03mx3") {
            rdata_pos = i;
        }
    }
    assert!(rdata_pos > 0 && last.rtype == RType::MX);
    c.bench_function("decompress_name", |b| {
        b.iter(|| {
            black_box(
                read_name(black_box(&r), black_box(rdata_pos))
                    .unwrap()
                    .0
                    .len(),
            )
        })
    });
}

fn write(c: &mut Criterion) {
    let qname: Name = "www.example.com.".parse().unwrap();
    let ns1: Name = "ns1.example.com.".parse().unwrap();
    let ns2: Name = "ns2.example.com.".parse().unwrap();
    let mut buf = [0u8; 1232];
    c.bench_function("write_response", |b| {
        b.iter(|| {
            let header = Header {
                id: 0x1234,
                flags: Flags::default().with_qr(true).with_aa(true),
                ..Header::default()
            };
            let mut w = MessageWriter::new(&mut buf, 1232, header).unwrap();
            w.push_question(qname.as_ref(), RType::A, Class::IN)
                .unwrap();
            w.reserve(11).unwrap();
            let addrs: [&[u8]; 2] = [&[192, 0, 2, 1], &[192, 0, 2, 2]];
            w.push_rrset(
                Section::Answer,
                qname.as_ref(),
                RType::A,
                Class::IN,
                3600,
                addrs,
            )
            .unwrap();
            w.push(
                Section::Authority,
                qname.as_ref().parent().unwrap(),
                RType::NS,
                Class::IN,
                3600,
                ns1.as_wire(),
            )
            .unwrap();
            w.push(
                Section::Authority,
                qname.as_ref().parent().unwrap(),
                RType::NS,
                Class::IN,
                3600,
                ns2.as_wire(),
            )
            .unwrap();
            w.opt(1232, Rcode::NOERROR, false)
                .unwrap()
                .finish()
                .unwrap();
            black_box(w.finish().len())
        })
    });
}

criterion_group!(benches, parse, write);
criterion_main!(benches);
