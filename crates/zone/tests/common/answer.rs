//! A minimal authoritative answer path over the `wire` and `zone` crates: parse the query, look
//! the question up, write the response. The server's engine does more (CNAME chains, additional
//! addresses, DNSSEC); this is the hot path shared by the allocation test and the benchmark.

use wire::message::{Flags, Header, Message, Section};
use wire::writer::MessageWriter;
use wire::{Class, Rcode};
use zone::{Lookup, Zone};

/// Our EDNS payload size.
const PAYLOAD: usize = 1232;
/// Bytes an OPT record without options takes.
const OPT_LEN: usize = 11;

/// Answers `query` from `zone` into `out`; returns the response length, or `None` when the
/// query is unreadable.
pub fn answer(zone: &Zone, query: &[u8], out: &mut [u8]) -> Option<usize> {
    let msg = Message::parse(query).ok()?;
    let question = msg.question()?;
    let qname = question.qname().ok()?;
    let edns = msg.edns();
    let limit = edns.map_or(512, |e| usize::from(e.udp_payload).clamp(512, PAYLOAD));
    let flags = Flags::default()
        .with_qr(true)
        .with_aa(true)
        .with_rd(msg.header().flags.rd());
    let header = Header {
        id: msg.header().id,
        flags,
        ..Header::default()
    };
    let mut w = MessageWriter::new(out, limit, header).ok()?;
    w.push_question(qname.as_ref(), question.qtype, question.qclass)
        .ok()?;
    if edns.is_some() {
        w.reserve(OPT_LEN).ok()?;
    }
    let soa = zone.soa();
    let negative = |w: &mut MessageWriter<'_>| {
        let ttl = zone.negative_ttl();
        w.push_rrset(
            Section::Authority,
            zone.origin(),
            soa.rtype(),
            Class::IN,
            ttl,
            soa.rdatas(),
        )
    };
    let result = match zone.lookup(qname.as_ref(), question.qtype) {
        Lookup::Answer { rrset, .. } | Lookup::Cname { rrset, .. } => w.push_rrset(
            Section::Answer,
            qname.as_ref(),
            rrset.rtype(),
            Class::IN,
            rrset.ttl(),
            rrset.rdatas(),
        ),
        Lookup::NoData { .. } | Lookup::Any { .. } | Lookup::Dname { .. } => negative(&mut w),
        Lookup::NxDomain { .. } => {
            w.set_flags(w.flags().with_rcode(Rcode::NXDOMAIN));
            negative(&mut w)
        }
        Lookup::Referral { cut, ns } => {
            w.set_flags(w.flags().with_aa(false));
            w.push_rrset(
                Section::Authority,
                cut.owner(),
                ns.rtype(),
                Class::IN,
                ns.ttl(),
                ns.rdatas(),
            )
        }
        Lookup::OutOfZone => {
            w.set_flags(w.flags().with_aa(false).with_rcode(Rcode::REFUSED));
            Ok(())
        }
    };
    if result.is_err() {
        w.set_flags(w.flags().with_tc(true));
    }
    if let Some(e) = edns {
        w.opt(PAYLOAD as u16, Rcode::NOERROR, e.dnssec_ok())
            .ok()?
            .finish()
            .ok()?;
    }
    Some(w.finish().len())
}

/// A query for `name` and `qtype` with EDNS (payload 1232), as dig sends it.
pub fn query(name: &str, qtype: wire::RType) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id: 0x4242,
        flags: Flags::default().with_rd(true),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).expect("room for a header");
    let qname: wire::Name = name.parse().expect("a valid name");
    w.push_question(qname.as_ref(), qtype, Class::IN)
        .expect("room for the question");
    w.opt(1232, Rcode::NOERROR, false)
        .expect("room for OPT")
        .finish()
        .expect("room for OPT");
    w.finish().to_vec()
}

/// A zone of `hosts` names under `example.test.` with A, AAAA and MX records, a wildcard and a
/// delegation.
pub fn zone(hosts: usize) -> Zone {
    let mut text = String::from(
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n\
         *.wild TXT \"wildcard\"\nsub NS ns.sub\nns.sub A 192.0.2.53\n",
    );
    for i in 0..hosts {
        text.push_str(&format!(
            "host{i} A 192.0.2.{}\nhost{i} AAAA 2001:db8::{:x}\nhost{i} MX 10 mail\n",
            i % 256,
            i
        ));
    }
    let origin: wire::Name = "example.test.".parse().expect("valid");
    zone::load_str(&text, std::path::Path::new("bench.zone"), origin.as_ref())
        .expect("the test zone loads")
        .zone
}
