//! The resolver on a test internet of Portcullis authoritative servers (tests/world): answers
//! through root, TLD and leaf; the cache; CNAME chains across zones; glue-less delegations;
//! negative answers; `dig` and `kdig` as clients.
//!
//! Every test owns a block `127.N.0.0/16` (the table is in `world/mod.rs`) and needs port 53:
//! run as root, or the tests print `SKIPPED:` and return.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

use std::net::SocketAddr;
use std::time::Duration;

use wire::RType;
use world::fake::{Behaviour, Fake};
use world::{Reply, basic, exchange_udp, query_bytes};

/// The block table in `world/mod.rs` names each test once, with its own N, and every test
/// that brings up a world is in it with the N it uses.
#[test]
fn blocks_are_unique() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let table = std::fs::read_to_string(format!("{dir}/world/mod.rs")).unwrap();
    let mut seen_n = std::collections::HashSet::new();
    let mut seen_test = std::collections::HashSet::new();
    for row in table.lines().filter_map(|l| l.strip_prefix("//! | ")) {
        let mut cells = row.split(" | ");
        let (Some(n), Some(test)) = (cells.next(), cells.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u8>() else { continue };
        assert!(seen_n.insert(n), "block {n} given twice");
        let test = test
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches(" |");
        assert!(seen_test.insert(test.to_string()), "{test} listed twice");
        let (file, name) = test.split_once("::").unwrap();
        let source = std::fs::read_to_string(format!("{dir}/{file}.rs")).unwrap();
        let at = source
            .find(&format!("fn {name}()"))
            .unwrap_or_else(|| panic!("{test} (block {n}) does not exist"));
        let body = &source[at..source[at..].find("\n}\n").map_or(source.len(), |e| at + e)];
        assert!(
            name == "blocks_are_unique"
                || body.contains(&format!("N: u8 = {n};"))
                || body.contains(&format!(", {n},"))
                || body.lines().any(|l| l.trim() == format!("{n},")),
            "{test} does not use block {n}"
        );
    }
    for file in [
        "resolver_world",
        "resolver_attacks",
        "resolver_interop",
        "resolver_dnssec",
    ] {
        let source = std::fs::read_to_string(format!("{dir}/{file}.rs")).unwrap();
        for chunk in source.split("#[test]\n").skip(1) {
            let chunk = &chunk[chunk.find("fn ").unwrap() + 3..];
            let name = &chunk[..chunk.find('(').unwrap()];
            assert!(
                seen_test.contains(&format!("{file}::{name}")),
                "{file}::{name} has no block in the table of world/mod.rs"
            );
        }
    }
}

fn ask_direct(world: &world::World, server: &str, name: &str, qtype: RType) -> Reply {
    let q = query_bytes(99, name, qtype, false, Some(1232));
    let to = SocketAddr::from((world.ip(server), 53));
    let bytes = exchange_udp(to, &q, 2000).unwrap_or_else(|| panic!("{to} did not answer"));
    Reply::parse(&bytes).unwrap()
}

/// The world alone, without a resolver: each level answers what it should (so that failures
/// elsewhere are the resolver's).
#[test]
fn world_answers_by_itself() {
    const N: u8 = 10;
    if !world::port_53_available("world_answers_by_itself", N) {
        return;
    }
    let world = basic("by-itself", N).start();
    let hints = std::fs::read_to_string(world.hints()).unwrap();
    assert!(
        hints.contains("a.root-servers.\t3600000\tA\t127.10.0.1"),
        "{hints}"
    );

    let root = ask_direct(&world, "0.1", "www.example.test.", RType::A);
    assert!(!root.flags.aa() && root.answer.is_empty(), "{root}");
    assert_eq!(root.authority[0].rdata, "ns1.nic.test.", "{root}");
    assert_eq!(root.additional[0].rdata, "127.10.1.1", "{root}");

    let tld = ask_direct(&world, "1.1", "www.example.test.", RType::A);
    assert_eq!(tld.authority.len(), 2, "{tld}");
    assert_eq!(tld.additional.len(), 2, "{tld}");

    for leaf in ["2.1", "2.2"] {
        let a = ask_direct(&world, leaf, "www.example.test.", RType::A);
        assert!(a.flags.aa(), "{a}");
        assert_eq!(a.rdatas(RType::A), ["192.0.2.1"], "{a}");
    }
    // Each server counted what it was asked (SOA probes at start-up included).
    assert!(world.queries_at("2.1") >= 2);
}

#[test]
fn resolves_root_tld_leaf() {
    const N: u8 = 11;
    if !world::port_53_available("resolves_root_tld_leaf", N) {
        return;
    }
    let world = basic("root-tld-leaf", N).start();
    let resolver = world.resolver();
    let before = world.queries_total();

    let a = resolver.ask("www.example.test.", RType::A);
    assert_eq!(a.rcode, wire::Rcode::NOERROR, "{a}");
    assert!(a.flags.ra() && a.flags.qr() && !a.flags.aa(), "{a}");
    assert_eq!(a.rdatas(RType::A), ["192.0.2.1"], "{a}");
    let ttl = a.ttl(RType::A).unwrap();
    assert!((3590..=3600).contains(&ttl), "TTL {ttl}: {a}");

    let txt = resolver.ask("txt.example.test.", RType::TXT);
    assert_eq!(
        txt.rdatas(RType::TXT),
        ["\"hello from example.test\""],
        "{txt}"
    );
    // Mixed case in, the same data out (names compare without case).
    let mixed = resolver.ask("WwW.ExAmPlE.TeSt.", RType::A);
    assert_eq!(mixed.rdatas(RType::A), ["192.0.2.1"], "{mixed}");

    let upstream = world.queries_total() - before;
    eprintln!(
        "resolves_root_tld_leaf: {upstream} upstream queries for 3 questions, first in {:?}",
        a.elapsed
    );
    // Root, TLD and leaf, with room for QNAME minimisation and the NS addresses; far from the
    // limits.
    assert!((3..=20).contains(&upstream), "{upstream} upstream queries");
    // The resolver counts what the servers received.
    if let Some(sent) = resolver.metric("portcullis_upstream_queries_total", &[]) {
        assert_eq!(
            sent as u64, upstream,
            "sent by the resolver, received by the world"
        );
    }
}

#[test]
fn second_query_from_cache() {
    const N: u8 = 12;
    if !world::port_53_available("second_query_from_cache", N) {
        return;
    }
    let world = basic("cache", N).start();
    let resolver = world.resolver();

    let first = resolver.ask("mail.example.test.", RType::A);
    assert_eq!(first.rdatas(RType::A), ["192.0.2.25"], "{first}");
    let after_first = world.queries_total();
    std::thread::sleep(Duration::from_millis(2100));

    let second = resolver.ask("mail.example.test.", RType::A);
    assert_eq!(second.rdatas(RType::A), ["192.0.2.25"], "{second}");
    let (t1, t2) = (first.ttl(RType::A).unwrap(), second.ttl(RType::A).unwrap());
    assert!(
        t2 < t1 && t1 - t2 <= 4,
        "TTL {t1} then {t2}: the second answer should come from the cache"
    );
    assert_eq!(
        world.queries_total(),
        after_first,
        "the second question went upstream"
    );
    // Another name of the same zone needs only the leaf (the delegation is cached).
    let before = [
        world.queries_at("0.1"),
        world.queries_at("1.1"),
        world.queries_at("2.1") + world.queries_at("2.2"),
    ];
    let www = resolver.ask("www.example.test.", RType::A);
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
    let after = [
        world.queries_at("0.1"),
        world.queries_at("1.1"),
        world.queries_at("2.1") + world.queries_at("2.2"),
    ];
    assert_eq!(after[0], before[0], "root asked again");
    assert_eq!(after[1], before[1], "TLD asked again");
    assert_eq!(after[2] - before[2], 1, "one query to the leaf");
    eprintln!(
        "second_query_from_cache: TTL {t1} -> {t2}, second answer in {:?}, first in {:?}",
        second.elapsed, first.elapsed
    );

    if resolver.is_portcullis() {
        let hits = resolver.metric("portcullis_cache_hits_total", &[]).unwrap();
        assert!(hits >= 1.0, "no cache hit counted");
        let (code, stats) = resolver.ctl(&["cache-stats"]).unwrap();
        eprintln!("ctl cache-stats: {stats}");
        assert_eq!(code, Some(0), "{stats}");
        eprint!("{}", resolver.metric_lines(&["cache", "upstream"]));
    }
}

#[test]
fn cname_across_zones() {
    const N: u8 = 13;
    if !world::port_53_available("cname_across_zones", N) {
        return;
    }
    let world = basic("cname", N)
        .records("test.", "other NS ns1.other\nns1.other A 127.N.3.1")
        .zone(
            "other.test.",
            "@ NS ns1\nns1 A 127.N.3.1\n\
         www CNAME www.example.test.\n\
         chain CNAME alias.example.test.\n\
         loop1 CNAME loop2\nloop2 CNAME loop1\n",
        )
        .server("3.1", &["other.test."])
        .start();
    let resolver = world.resolver();

    let a = resolver.ask("www.other.test.", RType::A);
    assert_eq!(a.rcode, wire::Rcode::NOERROR, "{a}");
    assert_eq!(a.rdatas(RType::CNAME), ["www.example.test."], "{a}");
    assert_eq!(a.rdatas(RType::A), ["192.0.2.1"], "{a}");
    assert_eq!(a.answer[0].rtype, RType::CNAME, "chain first: {a}");

    // Two steps: other.test -> alias.example.test -> www.example.test.
    let b = resolver.ask("chain.other.test.", RType::A);
    assert_eq!(b.answer.len(), 3, "{b}");
    assert_eq!(b.rdatas(RType::A), ["192.0.2.1"], "{b}");

    // A CNAME loop ends, with SERVFAIL or with the loop's records, never hangs.
    let l = resolver.ask_within("loop1.other.test.", RType::A, Duration::from_secs(12));
    assert!(l.rdatas(RType::A).is_empty(), "{l}");
    eprintln!(
        "cname_across_zones: loop answered {} in {:?}",
        l.rcode, l.elapsed
    );
}

#[test]
fn glueless_delegation() {
    const N: u8 = 14;
    if !world::port_53_available("glueless_delegation", N) {
        return;
    }
    // glueless.test is served by ns.provider.example.test: the TLD cannot give its address
    // (it lies below another cut), so the resolver finds it in example.test first.
    let world = basic("glueless", N)
        .records("test.", "glueless NS ns.provider.example.test.")
        .records("example.test.", "ns.provider A 127.N.3.1")
        .zone(
            "glueless.test.",
            "@ NS ns.provider.example.test.\nwww A 192.0.2.14\n",
        )
        .server("3.1", &["glueless.test."])
        .start();
    let resolver = world.resolver();
    let a = resolver.ask("www.glueless.test.", RType::A);
    assert_eq!(a.rcode, wire::Rcode::NOERROR, "{a}");
    assert_eq!(a.rdatas(RType::A), ["192.0.2.14"], "{a}");
    assert!(
        world.queries_at("3.1") >= 2,
        "the glue-less server was not asked"
    );
    eprintln!("glueless_delegation: answered in {:?}", a.elapsed);
}

#[test]
fn nxdomain_and_nodata() {
    const N: u8 = 15;
    if !world::port_53_available("nxdomain_and_nodata", N) {
        return;
    }
    let world = basic("negative", N).start();
    let resolver = world.resolver();

    let nx = resolver.ask("nope.example.test.", RType::A);
    assert_eq!(nx.rcode, wire::Rcode::NXDOMAIN, "{nx}");
    assert!(nx.answer.is_empty(), "{nx}");
    let soa = nx.authority.iter().find(|r| r.rtype == RType::SOA);
    let soa = soa.unwrap_or_else(|| panic!("no SOA with the NXDOMAIN: {nx}"));
    assert_eq!(soa.owner, "example.test.", "{nx}");
    assert!(soa.ttl <= 300, "negative TTL above the SOA minimum: {nx}");

    let nodata = resolver.ask("www.example.test.", RType::AAAA);
    assert_eq!(nodata.rcode, wire::Rcode::NOERROR, "{nodata}");
    assert!(nodata.answer.is_empty(), "{nodata}");
    assert!(
        nodata.authority.iter().any(|r| r.rtype == RType::SOA),
        "{nodata}"
    );

    // Both are cached: asked again, nothing goes upstream.
    let before = world.queries_total();
    let nx2 = resolver.ask("nope.example.test.", RType::A);
    let nodata2 = resolver.ask("www.example.test.", RType::AAAA);
    assert_eq!(nx2.rcode, wire::Rcode::NXDOMAIN, "{nx2}");
    assert_eq!(nodata2.rcode, wire::Rcode::NOERROR, "{nodata2}");
    assert_eq!(world.queries_total(), before, "negative answers not cached");

    // RFC 8020: below an NXDOMAIN, nothing exists either (asked upstream or not, the answer
    // is NXDOMAIN).
    let below = resolver.ask("deeper.nope.example.test.", RType::A);
    assert_eq!(below.rcode, wire::Rcode::NXDOMAIN, "{below}");
    eprintln!(
        "nxdomain_and_nodata: NXDOMAIN below a cached NXDOMAIN cost {} upstream queries",
        world.queries_total() - before
    );
}

#[test]
fn dig_and_kdig_as_clients() {
    const N: u8 = 16;
    if !world::port_53_available("dig_and_kdig_as_clients", N)
        || !world::tool_available("dig_and_kdig_as_clients", "dig")
        || !world::tool_available("dig_and_kdig_as_clients", "kdig")
    {
        return;
    }
    let world = basic("clients", N).start();
    let resolver = world.resolver();

    let short = resolver.dig(&["+short", "www.example.test.", "A"]);
    assert_eq!(short.trim(), "192.0.2.1", "{short}");
    let full = resolver.dig(&["alias.example.test.", "A"]);
    assert!(full.contains("status: NOERROR"), "{full}");
    assert!(full.contains(" ra"), "no RA flag:\n{full}");
    assert!(full.contains("CNAME\twww.example.test."), "{full}");
    let tcp = resolver.dig(&["+tcp", "+short", "mail.example.test.", "A"]);
    assert_eq!(tcp.trim(), "192.0.2.25", "{tcp}");
    let nx = resolver.dig(&["nope.example.test.", "A"]);
    assert!(nx.contains("status: NXDOMAIN"), "{nx}");

    let k = resolver.kdig(&["www.example.test.", "A"]);
    assert!(k.contains("status: NOERROR"), "{k}");
    assert!(k.contains("192.0.2.1"), "{k}");
    let ktcp = resolver.kdig(&["+tcp", "txt.example.test.", "TXT"]);
    assert!(ktcp.contains("hello from example.test"), "{ktcp}");
    let kq = resolver.kdig(&["+short", "+nocookie", "alias.example.test.", "A"]);
    assert!(kq.contains("192.0.2.1"), "{kq}");
}

/// Ten clients ask the same question at once while the only server is slow: one resolution,
/// one upstream query (in-flight de-duplication).
#[test]
fn identical_questions_share_one_query() {
    const N: u8 = 17;
    if !world::port_53_available("identical_questions_share_one_query", N) {
        return;
    }
    let world = basic("dedup", N)
        .records("test.", "slow NS ns1.slow\nns1.slow A 127.N.3.1")
        .start();
    let fake = Fake::start(
        world.ip("3.1"),
        &["slow.test."],
        "slow.test. 3600 NS ns1.slow.test.\nns1.slow.test. 3600 A 127.N.3.1\n\
         www.slow.test. 3600 A 192.0.2.17\n",
        Behaviour {
            delay: Some(Duration::from_millis(150)),
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver();
    // Warm the delegation, so that only the question itself is left to resolve.
    let ns = resolver.ask("slow.test.", RType::NS);
    assert_eq!(ns.rcode, wire::Rcode::NOERROR, "{ns}");
    let before = fake.count("www.slow.test.", RType::A);
    let addr = resolver.addr;
    let clients: Vec<_> = (0..10u16)
        .map(|i| {
            std::thread::spawn(move || {
                let q = query_bytes(100 + i, "www.slow.test.", RType::A, true, Some(1232));
                exchange_udp(addr, &q, 5000).map(|b| Reply::parse(&b).unwrap())
            })
        })
        .collect();
    for c in clients {
        let r = c.join().unwrap().expect("an answer within 5 s");
        assert_eq!(r.rdatas(RType::A), ["192.0.2.17"], "{r}");
    }
    let upstream = fake.count("www.slow.test.", RType::A) - before;
    eprintln!("identical_questions_share_one_query: 10 clients, {upstream} upstream queries");
    eprint!(
        "{}",
        resolver.metric_lines(&["resolutions_total", "cache_hits"])
    );
    assert!(upstream <= 2, "{upstream} queries:\n{}", fake.describe());
}

/// `--forward example.test.=ADDR`: the zone is asked of that server only, never through the
/// root and the TLD (Portcullis only).
#[test]
fn forward_zone() {
    const N: u8 = 18;
    if !world::port_53_available("forward_zone", N) {
        return;
    }
    let world = basic("forward", N).start();
    if world::ResolverKind::from_env() != world::ResolverKind::Portcullis {
        eprintln!("forward_zone: Portcullis only");
        return;
    }
    let to = format!("example.test.={}:53", world.ip("2.2"));
    let resolver = world.resolver_with(&["--forward", &to]);
    let (root, tld, leaf1, leaf2) = (
        world.queries_at("0.1"),
        world.queries_at("1.1"),
        world.queries_at("2.1"),
        world.queries_at("2.2"),
    );
    let a = resolver.ask("www.example.test.", RType::A);
    assert_eq!(a.rdatas(RType::A), ["192.0.2.1"], "{a}");
    let b = resolver.ask("mail.example.test.", RType::A);
    assert_eq!(b.rdatas(RType::A), ["192.0.2.25"], "{b}");
    assert_eq!(world.queries_at("0.1"), root, "the root was asked");
    assert_eq!(world.queries_at("1.1"), tld, "the TLD was asked");
    assert_eq!(world.queries_at("2.1"), leaf1, "the other server was asked");
    assert_eq!(
        world.queries_at("2.2") - leaf2,
        2,
        "not forwarded once per question"
    );
}

/// The servers of a zone die after its records expire: the resolver answers from expired data
/// (RFC 8767) with EDE 3 "Stale Answer" (Portcullis only: Unbound does not serve stale by
/// default).
#[test]
fn serve_stale_when_servers_die() {
    const N: u8 = 19;
    if !world::port_53_available("serve_stale_when_servers_die", N) {
        return;
    }
    let mut world = basic("stale", N)
        .records("example.test.", "short 1 A 192.0.2.19")
        .start();
    if world::ResolverKind::from_env() != world::ResolverKind::Portcullis {
        eprintln!("serve_stale_when_servers_die: Portcullis only");
        return;
    }
    let resolver = world.resolver();
    let a = resolver.ask("short.example.test.", RType::A);
    assert_eq!(a.rdatas(RType::A), ["192.0.2.19"], "{a}");
    world.stop_server("2.1");
    world.stop_server("2.2");
    std::thread::sleep(Duration::from_millis(2200));
    let stale = resolver.ask_within("short.example.test.", RType::A, Duration::from_secs(14));
    eprintln!("serve_stale_when_servers_die: {stale}");
    assert_eq!(stale.rdatas(RType::A), ["192.0.2.19"], "{stale}");
    assert!(
        stale.ede.iter().any(|(code, _)| *code == 3),
        "no EDE 3: {stale}"
    );
    assert_eq!(stale.ttl(RType::A), Some(30), "stale answer TTL: {stale}");
    // RFC 8767 section 5: the client response timer (1.8 s by default) answers from stale
    // data while the resolution goes on, well within dig's 5 s.
    assert!(
        stale.elapsed < Duration::from_millis(2500),
        "stale answer after {:?}",
        stale.elapsed
    );
}

/// QNAME minimisation (RFC 9156): the root and the TLD (fakes here, which record every query)
/// are told only the labels they need, never the full name.
#[test]
fn qname_minimisation() {
    const N: u8 = 34;
    if !world::port_53_available("qname_minimisation", N) {
        return;
    }
    // The root and the TLD are declared (for the hints) but served by fakes.
    let world = world::WorldBuilder::new("qmin", N)
        .zone(".", "@ NS a.root-servers.\na.root-servers. A 127.N.0.1\n")
        .zone(
            "example.test.",
            "@ NS ns1\nns1 A 127.N.2.1\nwww.deep.down A 192.0.2.34\n",
        )
        .server("2.1", &["example.test."])
        .start();
    let root = Fake::start(
        world.ip("0.1"),
        &["."],
        ". 3600 NS a.root-servers.\na.root-servers. 3600 A 127.N.0.1\n\
         test. 3600 NS ns1.nic.test.\nns1.nic.test. 3600 A 127.N.1.1\n",
        Behaviour::default(),
    );
    let tld = Fake::start(
        world.ip("1.1"),
        &["test."],
        "test. 3600 NS ns1.nic.test.\nns1.nic.test. 3600 A 127.N.1.1\n\
         example.test. 3600 NS ns1.example.test.\nns1.example.test. 3600 A 127.N.2.1\n",
        Behaviour::default(),
    );
    let resolver = world.resolver();
    let a = resolver.ask("www.deep.down.example.test.", RType::A);
    assert_eq!(a.rdatas(RType::A), ["192.0.2.34"], "{a}");
    let labels = |s: &world::fake::Seen| s.qname.as_ref().label_count();
    eprintln!("qname_minimisation:\n{}{}", root.describe(), tld.describe());
    // Priming asks the root for its own NS; everything else it sees has one label.
    for s in root.seen() {
        assert!(
            labels(&s) <= 1,
            "the root saw {}:\n{}",
            s.qname,
            root.describe()
        );
    }
    for s in tld.seen() {
        assert!(
            labels(&s) <= 2,
            "the TLD saw {}:\n{}",
            s.qname,
            tld.describe()
        );
    }
}

/// QNAME minimisation re-uses what it learned: once `wild.leaf.test.` is known to be no zone
/// cut (its minimised query got NODATA from leaf.test's server, now cached), names below it
/// are asked in one query each, not two (Unbound: 6 queries for the 5 names here).
#[test]
fn qname_minimisation_reuses_what_it_learned() {
    const N: u8 = 38;
    if !world::port_53_available("qname_minimisation_reuses_what_it_learned", N) {
        return;
    }
    let world = basic("qmin-reuse", N)
        .records("test.", "leaf NS ns1.leaf\nns1.leaf A 127.N.3.1")
        .start();
    let mut data =
        "leaf.test. 3600 NS ns1.leaf.test.\nns1.leaf.test. 3600 A 127.N.3.1\n".to_string();
    for i in 0..5 {
        data.push_str(&format!("s{i}.wild.leaf.test. 3600 A 192.0.2.38\n"));
    }
    let fake = Fake::start(
        world.ip("3.1"),
        &["leaf.test."],
        &data,
        Behaviour::default(),
    );
    let resolver = world.resolver();
    for i in 0..5 {
        let r = resolver.ask(&format!("s{i}.wild.leaf.test."), RType::A);
        assert_eq!(r.rdatas(RType::A), ["192.0.2.38"], "{r}");
    }
    assert!(fake.total() <= 6, "{}", fake.describe());
}

/// An answer through a DNAME (RFC 6672) carries the DNAME record, whether resolved or from
/// the cache (Unbound: both times).
#[test]
fn dname_kept_in_cached_answers() {
    const N: u8 = 39;
    if !world::port_53_available("dname_kept_in_cached_answers", N) {
        return;
    }
    let world = basic("dname", N)
        .records("example.test.", "d DNAME example.test.")
        .start();
    let resolver = world.resolver();
    for round in ["resolved", "cached"] {
        let r = resolver.ask("www.d.example.test.", RType::A);
        assert_eq!(r.rdatas(RType::A), ["192.0.2.1"], "{round}: {r}");
        assert_eq!(r.rdatas(RType::DNAME), ["example.test."], "{round}: {r}");
        assert_eq!(r.answer.len(), 3, "{round}: {r}");
    }
}

/// Prefetch: a question in the last tenth of an entry's TTL is answered from the cache and
/// starts one refresh upstream, so the entry never expires for clients (Portcullis only:
/// Unbound does not prefetch by default).
#[test]
fn prefetch_refreshes_before_expiry() {
    const N: u8 = 42;
    if !world::port_53_available("prefetch_refreshes_before_expiry", N) {
        return;
    }
    let world = basic("prefetch", N)
        .records("example.test.", "hot 10 A 192.0.2.42")
        .start();
    if world::ResolverKind::from_env() != world::ResolverKind::Portcullis {
        eprintln!("prefetch_refreshes_before_expiry: Portcullis only");
        return;
    }
    let resolver = world.resolver();
    let leaf = || world.queries_at("2.1") + world.queries_at("2.2");
    let first = resolver.ask("hot.example.test.", RType::A);
    assert_eq!(first.ttl(RType::A), Some(10), "{first}");
    let before = leaf();
    std::thread::sleep(Duration::from_millis(9300));
    let late = resolver.ask("hot.example.test.", RType::A);
    assert_eq!(late.rdatas(RType::A), ["192.0.2.42"], "{late}");
    assert!(late.ttl(RType::A).unwrap() <= 1, "{late}");
    std::thread::sleep(Duration::from_millis(300));
    let refreshed = leaf() - before;
    std::thread::sleep(Duration::from_millis(1200));
    let after = resolver.ask("hot.example.test.", RType::A);
    eprintln!(
        "prefetch_refreshes_before_expiry: {refreshed} refresh queries; after expiry TTL {:?} \
         in {:?}, {} more upstream",
        after.ttl(RType::A),
        after.elapsed,
        leaf() - before - refreshed
    );
    eprint!("{}", resolver.metric_lines(&["prefetch"]));
    assert_eq!(refreshed, 1, "no prefetch (or more than one)");
    assert!(after.ttl(RType::A).unwrap() >= 7, "not refreshed: {after}");
    assert_eq!(
        leaf() - before,
        1,
        "the refreshed entry went upstream again"
    );
}

/// Bursts of 200 different questions at once (from four client addresses, under the
/// per-client limit) against healthy loopback servers whose RTT the resolver has measured (so
/// their timeout is at its floor): every one is answered, and no upstream query times out (a
/// timeout here is the resolver's own slowness: an answer that arrived before the query's
/// deadline and was not read in time).
#[test]
fn burst_without_spurious_timeouts() {
    const N: u8 = 43;
    const QUESTIONS: usize = 200;
    const BURSTS: usize = 3;
    if !world::port_53_available("burst_without_spurious_timeouts", N) {
        return;
    }
    let records: String = (0..QUESTIONS * BURSTS)
        .map(|i| format!("b{i} A 192.0.2.{}\nw{i} A 192.0.2.{}\n", i % 250, i % 250))
        .collect();
    let world = basic("burst", N).records("example.test.", &records).start();
    let resolver = world.resolver();
    // Warm the delegation and both servers' RTTs, one question at a time.
    for i in 0..30 {
        let warm = resolver.ask(&format!("w{i}.example.test."), RType::A);
        assert_eq!(warm.rdatas(RType::A), [format!("192.0.2.{i}")], "{warm}");
    }
    let clients: Vec<std::net::UdpSocket> = (1..=4)
        .map(|i| std::net::UdpSocket::bind((world.ip(&format!("254.{i}")), 0)).unwrap())
        .collect();
    let mut report = Vec::new();
    for burst in 0..BURSTS {
        let started = std::time::Instant::now();
        for k in 0..QUESTIONS {
            let i = burst * QUESTIONS + k;
            let q = query_bytes(
                i as u16,
                &format!("b{i}.example.test."),
                RType::A,
                true,
                None,
            );
            clients[k % clients.len()]
                .send_to(&q, resolver.addr)
                .unwrap();
        }
        let mut answered = std::collections::HashSet::new();
        let mut slowest = Duration::ZERO;
        let mut buf = [0u8; 2048];
        let deadline = started + Duration::from_secs(15);
        while answered.len() < QUESTIONS && std::time::Instant::now() < deadline {
            for c in &clients {
                c.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
                while let Ok(n) = c.recv(&mut buf) {
                    let r = Reply::parse(&buf[..n]).unwrap();
                    let i = usize::from(r.id);
                    assert_eq!(
                        r.rdatas(RType::A),
                        [format!("192.0.2.{}", i % 250)],
                        "b{i}: {r}"
                    );
                    answered.insert(i);
                    slowest = started.elapsed();
                }
            }
        }
        assert_eq!(
            answered.len(),
            QUESTIONS,
            "burst {burst}: questions left unanswered"
        );
        report.push(slowest);
    }
    let timeouts = resolver.metric("portcullis_upstream_timeouts_total", &[]);
    eprintln!(
        "burst_without_spurious_timeouts: {BURSTS} bursts of {QUESTIONS}, all answered, the \
         last after {report:?}; {timeouts:?} upstream timeouts"
    );
    eprint!(
        "{}",
        resolver.metric_lines(&["upstream", "recursion_results"])
    );
    if let Some(t) = timeouts {
        assert_eq!(t, 0.0, "upstream timeouts against healthy servers");
    }
}

/// RFC 8767 section 5: a client whose question has expired data in the cache is answered from
/// it (EDE 3) when resolution takes longer than the client response timer (300 ms here), and
/// the resolution goes on: when the slow server answers, the cache holds fresh data, served
/// without asking again (Portcullis only).
#[test]
fn stale_answer_while_resolution_goes_on() {
    const N: u8 = 44;
    if !world::port_53_available("stale_answer_while_resolution_goes_on", N) {
        return;
    }
    let world = basic("stale-timer", N)
        .records("test.", "slow NS ns1.slow\nns1.slow A 127.N.3.1")
        .start();
    if world::ResolverKind::from_env() != world::ResolverKind::Portcullis {
        eprintln!("stale_answer_while_resolution_goes_on: Portcullis only");
        return;
    }
    let fake = Fake::start(
        world.ip("3.1"),
        &["slow.test."],
        "slow.test. 3600 NS ns1.slow.test.\nns1.slow.test. 3600 A 127.N.3.1\n\
         www.slow.test. 2 A 192.0.2.44\nw1.slow.test. 60 A 192.0.2.1\n\
         w2.slow.test. 60 A 192.0.2.2\nw3.slow.test. 60 A 192.0.2.3\n",
        Behaviour::default(),
    );
    let resolver = world.resolver_with_config("[cache]\nstale_answer_client_timeout = 300\n");
    let fresh = resolver.ask("www.slow.test.", RType::A);
    assert_eq!(fresh.rdatas(RType::A), ["192.0.2.44"], "{fresh}");
    // A fast server: its timeout is the 200 ms floor.
    for w in ["w1", "w2", "w3"] {
        resolver.ask(&format!("{w}.slow.test."), RType::A);
    }
    std::thread::sleep(Duration::from_millis(2200));
    // Expired; the server now takes 350 ms to answer: the first query times out (200 ms), the
    // second (400 ms after a backoff) gets its answer.
    fake.set(Behaviour {
        delay: Some(Duration::from_millis(350)),
        ..Behaviour::default()
    });
    let before = fake.count("www.slow.test.", RType::A);
    let stale = resolver.ask_within("www.slow.test.", RType::A, Duration::from_secs(5));
    eprintln!("stale_answer_while_resolution_goes_on: {stale}");
    assert_eq!(stale.rdatas(RType::A), ["192.0.2.44"], "{stale}");
    assert!(stale.ede.iter().any(|(c, _)| *c == 3), "no EDE 3: {stale}");
    assert!(
        stale.elapsed >= Duration::from_millis(290) && stale.elapsed < Duration::from_millis(500),
        "stale answer after {:?}",
        stale.elapsed
    );
    // The resolution went on and refreshed the cache.
    std::thread::sleep(Duration::from_millis(700));
    let asked = fake.count("www.slow.test.", RType::A) - before;
    let r = resolver.ask("www.slow.test.", RType::A);
    eprintln!("stale_answer_while_resolution_goes_on: {asked} upstream queries, then {r}");
    eprint!(
        "{}",
        resolver.metric_lines(&["recursion_results", "timeouts"])
    );
    assert_eq!(r.rdatas(RType::A), ["192.0.2.44"], "{r}");
    assert!(r.ede.is_empty(), "not refreshed: {r}");
    assert!(r.ttl(RType::A).unwrap() >= 1, "{r}");
    assert_eq!(
        fake.count("www.slow.test.", RType::A) - before,
        asked,
        "asked again rather than refreshed"
    );
}
