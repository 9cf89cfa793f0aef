//! Shared by the allocation test and the benchmark: a zone of many names and queries for it.

#![allow(dead_code)]

use engine::{Catalog, Engine, EngineConfig};
use wire::message::{Flags, Header};
use wire::writer::MessageWriter;
use wire::{Class, Name, RType, Rcode};

/// An engine serving `example.test.` with `hosts` hosts (A, AAAA, MX), a wildcard, a CNAME
/// chain, a DNAME and a delegation with glue.
pub fn engine(hosts: usize) -> Engine {
    engine_with(hosts, EngineConfig::default())
}

/// [`engine`] with `config`.
pub fn engine_with(hosts: usize, config: EngineConfig) -> Engine {
    let mut text = String::from(
        "$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n\
         ns1 A 192.0.2.1\nns2 A 192.0.2.2\nmail A 192.0.2.25\n\
         *.wild TXT \"wildcard\"\nsub NS ns.sub\nsub NS ns2.sub\nns.sub A 192.0.2.53\n\
         ns2.sub AAAA 2001:db8::53\nalias CNAME alias2\nalias2 CNAME host1\n\
         dname DNAME example.test.\n",
    );
    for i in 0..hosts {
        text.push_str(&format!(
            "host{i} A 192.0.2.{}\nhost{i} AAAA 2001:db8::{:x}\nhost{i} MX 10 mail\n",
            i % 256,
            i
        ));
    }
    let origin: Name = "example.test.".parse().expect("valid");
    let zone = zone::load_str(&text, std::path::Path::new("bench.zone"), origin.as_ref())
        .expect("the test zone loads")
        .zone;
    Engine::new(Catalog::new(vec![zone]).expect("one zone"), config).expect("valid config")
}

/// A query for `name` and `qtype` with EDNS (payload 1232), as dig sends it.
pub fn query(name: &str, qtype: RType) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id: 0x4242,
        flags: Flags::default().with_rd(true),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).expect("room for a header");
    let qname: Name = name.parse().expect("a valid name");
    w.push_question(qname.as_ref(), qtype, Class::IN)
        .expect("room for the question");
    w.opt(1232, Rcode::NOERROR, false)
        .expect("room for OPT")
        .finish()
        .expect("room for OPT");
    w.finish().to_vec()
}
