//! Interop: the Portcullis resolver over a hierarchy (root, a TLD, a leaf) served by NSD and by
//! Knot DNS instead of Portcullis, asked by `dig`, `kdig` and a `wire` client.
//!
//! Every test owns a block `127.N.0.0/16` (the table is in `world/mod.rs`) and needs port 53:
//! run as root, or the tests print `SKIPPED:` and return. The servers come from the Debian
//! packages `nsd` and `knot`; a missing one is reported the same way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

use wire::{RType, Rcode};
use world::{Authority, basic};

fn hierarchy(test: &str, n: u8, authority: Authority, program: &str) {
    if !world::port_53_available(test, n) || !world::tool_available(test, program) {
        return;
    }
    let world = basic(test, n)
        .records("test.", "other NS ns1.other\nns1.other A 127.N.3.1")
        .zone(
            "other.test.",
            "@ NS ns1\nns1 A 127.N.3.1\nwww CNAME www.example.test.\n",
        )
        .server("3.1", &["other.test."])
        .authority(authority)
        .start();
    let resolver = world.resolver();

    let a = resolver.ask("www.example.test.", RType::A);
    assert_eq!(a.rcode, Rcode::NOERROR, "{a}\n{}", world.logs());
    assert_eq!(a.rdatas(RType::A), ["192.0.2.1"], "{a}");
    let cname = resolver.ask("www.other.test.", RType::A);
    assert_eq!(cname.rdatas(RType::CNAME), ["www.example.test."], "{cname}");
    assert_eq!(cname.rdatas(RType::A), ["192.0.2.1"], "{cname}");
    let nx = resolver.ask("nope.example.test.", RType::A);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    let nodata = resolver.ask("www.example.test.", RType::AAAA);
    assert_eq!(nodata.rcode, Rcode::NOERROR, "{nodata}");
    assert!(nodata.answer.is_empty(), "{nodata}");

    if world::tool_available(test, "dig") {
        let short = resolver.dig(&["+short", "txt.example.test.", "TXT"]);
        assert_eq!(short.trim(), "\"hello from example.test\"", "{short}");
    }
    if world::tool_available(test, "kdig") {
        let k = resolver.kdig(&["+tcp", "mail.example.test.", "A"]);
        assert!(
            k.contains("status: NOERROR") && k.contains("192.0.2.25"),
            "{k}"
        );
    }
    // The second time from the cache, with a lower or equal TTL.
    let again = resolver.ask("www.example.test.", RType::A);
    assert!(again.ttl(RType::A) <= a.ttl(RType::A), "{again}");
}

#[test]
fn nsd_hierarchy() {
    hierarchy("nsd_hierarchy", 40, Authority::Nsd, "nsd");
}

#[test]
fn knot_hierarchy() {
    hierarchy("knot_hierarchy", 41, Authority::Knot, "knotd");
}
