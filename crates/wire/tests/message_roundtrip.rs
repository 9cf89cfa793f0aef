//! Property tests: random messages written with `MessageWriter`, read back with `Message`,
//! written again: every record comes back equal and the second write is byte-identical.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use wire::message::{Flags, Header, Message, Section};
use wire::name::Name;
use wire::writer::MessageWriter;
use wire::{Class, RType};

#[derive(Clone, Debug)]
struct Rr {
    section: Section,
    owner: Name,
    rtype: RType,
    ttl: u32,
    rdata: Vec<u8>,
}

fn arb_label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'B'), Just(b'c'), Just(b'-')], 1..4),
        1 => proptest::collection::vec(any::<u8>(), 1..20),
    ]
}

fn arb_name() -> impl Strategy<Value = Name> {
    // Few distinct labels so that names share suffixes and compression has work to do.
    proptest::collection::vec(arb_label(), 0..5).prop_filter_map("name too long", |labels| {
        Name::from_labels(labels.iter().map(Vec::as_slice)).ok()
    })
}

fn arb_rdata() -> impl Strategy<Value = (RType, Vec<u8>)> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| (RType::A, a.to_vec())),
        any::<[u8; 16]>().prop_map(|a| (RType::AAAA, a.to_vec())),
        arb_name().prop_map(|n| (RType::NS, n.as_wire().to_vec())),
        arb_name().prop_map(|n| (RType::CNAME, n.as_wire().to_vec())),
        (any::<u16>(), arb_name())
            .prop_map(|(p, n)| (RType::MX, [&p.to_be_bytes()[..], n.as_wire()].concat())),
        (arb_name(), arb_name(), any::<[u8; 20]>())
            .prop_map(|(m, r, t)| (RType::SOA, [m.as_wire(), r.as_wire(), &t[..]].concat())),
        (any::<[u8; 6]>(), arb_name())
            .prop_map(|(f, n)| (RType::SRV, [&f[..], n.as_wire()].concat())),
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, d)| (RType(t | 0x8000), d)),
    ]
}

fn arb_rr() -> impl Strategy<Value = Rr> {
    (
        prop_oneof![
            Just(Section::Answer),
            Just(Section::Authority),
            Just(Section::Additional)
        ],
        arb_name(),
        arb_rdata(),
        any::<u32>(),
    )
        .prop_map(|(section, owner, (rtype, rdata), ttl)| Rr {
            section,
            owner,
            rtype,
            ttl,
            rdata,
        })
}

fn write(id: u16, qname: &Name, rrs: &[Rr], buf: &mut [u8]) -> usize {
    let header = Header {
        id,
        flags: Flags::default().with_qr(true).with_rd(true),
        ..Header::default()
    };
    let mut w = MessageWriter::new(buf, 65535, header).unwrap();
    w.push_question(qname.as_ref(), RType::A, Class::IN)
        .unwrap();
    for rr in rrs {
        w.push(
            rr.section,
            rr.owner.as_ref(),
            rr.rtype,
            Class::IN,
            rr.ttl,
            &rr.rdata,
        )
        .unwrap();
    }
    w.finish().len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn write_parse_write(id in any::<u16>(), qname in arb_name(), mut rrs in proptest::collection::vec(arb_rr(), 0..12)) {
        rrs.sort_by_key(|r| r.section);
        let mut buf = vec![0u8; 65535];
        let len = write(id, &qname, &rrs, &mut buf);
        let msg = Message::parse(&buf[..len]).unwrap();
        prop_assert_eq!(msg.header().id, id);
        let got_qname = msg.question().unwrap().qname().unwrap();
        prop_assert_eq!(got_qname.as_wire(), qname.as_wire());

        let mut read = Vec::new();
        for section in Section::RECORDS {
            for rr in msg.records(section) {
                let mut rdata = Vec::new();
                rr.rdata_into(&mut rdata).unwrap();
                read.push(Rr { section, owner: rr.owner().unwrap(), rtype: rr.rtype, ttl: rr.ttl, rdata });
            }
        }
        prop_assert_eq!(read.len(), rrs.len());
        for (got, want) in read.iter().zip(&rrs) {
            prop_assert_eq!(got.section, want.section);
            // Compression may point at an equal name written in another case: compare exactly
            // only where case is preserved by construction (the owner's labels are ours).
            prop_assert_eq!(&got.owner, &want.owner);
            prop_assert_eq!(got.rtype, want.rtype);
            prop_assert_eq!(got.ttl, want.ttl);
            prop_assert!(got.rdata.eq_ignore_ascii_case(&want.rdata) || got.rdata == want.rdata);
            prop_assert_eq!(got.rdata.len(), want.rdata.len());
        }

        let mut again = vec![0u8; 65535];
        let len2 = write(id, &qname, &read, &mut again);
        prop_assert_eq!(&buf[..len], &again[..len2]);
    }

    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(msg) = Message::parse(&data) {
            for q in msg.questions() {
                let _ = q.qname();
            }
            for section in Section::RECORDS {
                for rr in msg.records(section) {
                    let _ = rr.owner();
                    let _ = rr.rdata_into(&mut Vec::new());
                }
            }
            let _ = msg.edns();
        }
    }
}
