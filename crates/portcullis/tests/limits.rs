//! Client limits, dynamic blocks and the random-subdomain defence on the wire, with the real
//! binary: a flood of NXDOMAIN queries from 127.0.1.2 gets its /24 blocked for the rule's
//! duration while 127.0.0.1 is still answered, then the block expires; `truncate` answers TC
//! over UDP and a full answer over TCP; the plain query rate lets its rate through; a TCP
//! connection closes after `server.tcp_max_queries_per_connection` queries; and a resolver
//! flooded with 10,000 random names under one zone caps its queries to that zone's server
//! while names in another zone resolve normally (the world harness, block 120: needs root);
//! and a client over `resolver.max_resolutions_per_client` gets SERVFAIL at once (block 121).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod world;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Scratch, Server, config, free_port, metric, query, zone};
use wire::{RType, Rcode};
use world::basic;
use world::fake::{Behaviour, Fake};

/// An authoritative server for `example.test.` with `[limits]` set to `limits` (and `server`
/// lines added to `[server]`), `/metrics` on `http_port`.
fn start(test: &str, server: &str, limits: &str, http_port: u16) -> (Scratch, Server, SocketAddr) {
    let scratch = Scratch::new(test);
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let text = format!(
        "{}\n[limits]\n{limits}",
        config(&format!("127.0.0.1:{port}"))
    )
    .replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n{server}"),
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (scratch, server, addr)
}

/// Sends `q` from `socket` and waits up to `millis` for the response with its ID.
fn ask_from(socket: &UdpSocket, to: SocketAddr, q: &[u8], millis: u64) -> Option<Vec<u8>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(millis)))
        .unwrap();
    socket.send_to(q, to).unwrap();
    let mut buf = [0u8; 65_535];
    let deadline = Instant::now() + Duration::from_millis(millis);
    while Instant::now() < deadline {
        match socket.recv_from(&mut buf) {
            Ok((n, _)) if n >= 12 && buf[..2] == q[..2] => return Some(buf[..n].to_vec()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    None
}

fn rcode(m: &[u8]) -> u8 {
    m[3] & 0x0f
}

fn tc(m: &[u8]) -> bool {
    m[2] & 0x02 != 0
}

fn ancount(m: &[u8]) -> u16 {
    u16::from_be_bytes([m[6], m[7]])
}

/// The `/metrics` text of the server's HTTP endpoint.
fn metrics(http_port: u16) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .expect("curl: scripts/test.sh installs it");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn limited(text: &str, action: &str) -> f64 {
    metric(
        text,
        &format!("portcullis_client_limited_total{{action=\"{action}\"}}"),
    )
    .unwrap_or_else(|| panic!("no client_limited {action} in\n{text}"))
}

#[test]
fn nxdomain_flood_blocks_its_prefix_for_the_duration() {
    let http_port = free_port();
    let (scratch, server, addr) = start(
        "limits-nxdomain",
        "",
        "enabled = true\n\n[[limits.rule]]\nmetric = \"nxdomains\"\nper_second = 20\n\
         window = 1\naction = \"refuse\"\nduration = 3\n\n[events]\nfile = \"events.json\"\n",
        http_port,
    );
    let flood = UdpSocket::bind("127.0.1.2:0").unwrap();
    let neighbour = UdpSocket::bind("127.0.1.3:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let www = |id| query(id, "www.example.test.", RType::A, None);

    // NXDOMAIN answers until the 21st within a second starts the block.
    let mut nxdomains = 0;
    let mut refused_at = None;
    let started = Instant::now();
    for i in 0..200u16 {
        let q = query(i, &format!("missing{i}.example.test."), RType::A, None);
        let r = ask_from(&flood, addr, &q, 2000).expect("refuse and NXDOMAIN both answer");
        match rcode(&r) {
            3 => nxdomains += 1,
            5 => {
                refused_at = Some(Instant::now());
                assert_eq!(ancount(&r), 0);
                assert_eq!(r[4..6], [0, 1], "the question is echoed");
                break;
            }
            other => panic!("rcode {other}"),
        }
    }
    let refused_at = refused_at.expect("the flood was blocked");
    assert!(
        (21..=40).contains(&nxdomains),
        "{nxdomains} NXDOMAIN before the block ({:?})",
        refused_at - started
    );
    // The whole /24 is blocked, even for names that exist; another /24 is not.
    let r = ask_from(&neighbour, addr, &www(1000), 2000).unwrap();
    assert_eq!(rcode(&r), 5, "the neighbour in 127.0.1.0/24 is refused");
    let r = ask_from(&other, addr, &www(1001), 2000).unwrap();
    assert_eq!(rcode(&r), 0);
    assert_eq!(ancount(&r), 1);
    // The block also applies over TCP: REFUSED.
    let out = common::ask(
        "dig",
        addr,
        &["-b", "127.0.1.2", "+tcp", "www.example.test."],
    );
    assert!(out.contains("status: REFUSED"), "{out}");

    let text = metrics(http_port);
    assert_eq!(
        metric(&text, "portcullis_dynamic_blocks_total"),
        Some(1.0),
        "{text}"
    );
    assert!(limited(&text, "block_refuse") >= 3.0, "{text}");
    assert_eq!(
        metric(&text, "portcullis_dynamic_blocks_active"),
        Some(1.0),
        "{text}"
    );
    server.wait_log("dynamic block started", 1);
    // One security event for the block, not one per refused query.
    assert_eq!(
        metric(
            &text,
            "portcullis_security_events_total{action=\"dynamic_block\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let path = scratch.0.join("events.json");
    let deadline = Instant::now() + Duration::from_secs(10);
    let events = loop {
        let events = std::fs::read_to_string(&path).unwrap_or_default();
        if events.contains("dynamic_block") || Instant::now() > deadline {
            break events;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let blocks: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("\"action\":\"dynamic_block\""))
        .collect();
    assert_eq!(blocks.len(), 1, "{events}");
    for part in [
        "\"reason\":\"nxdomain-rate\"",
        "\"client\":\"127.0.1.2\"",
        "\"detail\":\"rule 1: refuse for 3 s\"",
    ] {
        assert!(blocks[0].contains(part), "{part} in {}", blocks[0]);
    }

    // Expiry: three seconds after it started, the prefix is answered again.
    let expires = refused_at + Duration::from_millis(3100);
    std::thread::sleep(expires.saturating_duration_since(Instant::now()));
    let r = ask_from(&flood, addr, &www(2000), 2000).unwrap();
    assert_eq!(rcode(&r), 0, "the block expired");
    assert_eq!(ancount(&r), 1);
    let text = metrics(http_port);
    assert_eq!(
        metric(&text, "portcullis_dynamic_blocks_active"),
        Some(0.0),
        "{text}"
    );
}

#[test]
fn truncate_answers_tc_over_udp_and_in_full_over_tcp() {
    let http_port = free_port();
    let (_scratch, _server, addr) = start(
        "limits-truncate",
        "",
        "enabled = true\n\n[[limits.rule]]\nmetric = \"queries\"\nper_second = 10\n\
         window = 1\naction = \"truncate\"\nduration = 30\n",
        http_port,
    );
    let flood = UdpSocket::bind("127.0.1.2:0").unwrap();
    let mut full = 0;
    let mut truncated = 0;
    for i in 0..40u16 {
        let q = query(i, "www.example.test.", RType::A, Some(1232));
        let r = ask_from(&flood, addr, &q, 2000).expect("an answer");
        if tc(&r) {
            truncated += 1;
            assert_eq!(ancount(&r), 0, "a truncated answer carries no records");
            assert_eq!(r.len(), q.len() - 11, "header and question, no OPT");
        } else {
            assert_eq!(truncated, 0, "once blocked, always truncated");
            full += 1;
        }
    }
    assert!((10..=15).contains(&full), "{full} full answers");
    assert_eq!(full + truncated, 40);
    // Over TCP the same prefix is answered in full: TCP is what TC asks for.
    let out = common::ask(
        "dig",
        addr,
        &["-b", "127.0.1.2", "+tcp", "www.example.test."],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("192.0.2.80"), "{out}");
    // dig over UDP from that prefix retries over TCP by itself.
    let out = common::ask("dig", addr, &["-b", "127.0.1.2", "www.example.test."]);
    assert!(out.contains("Truncated, retrying in TCP mode"), "{out}");
    assert!(out.contains("192.0.2.80"), "{out}");
    let text = metrics(http_port);
    assert!(limited(&text, "block_truncate") >= 30.0, "{text}");
}

#[test]
fn query_rate_lets_the_rate_through_and_drops_the_rest() {
    let http_port = free_port();
    let (_scratch, _server, addr) = start(
        "limits-rate",
        "",
        "enabled = true\nquery_rate = 20\nexempt = [\"127.0.1.9\"]\n",
        http_port,
    );
    let flood = UdpSocket::bind("127.0.1.2:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // 200 queries at once: about 20 answered, the rest dropped.
    for i in 0..200u16 {
        flood
            .send_to(&query(i, "www.example.test.", RType::A, None), addr)
            .unwrap();
    }
    let mut answered = 0;
    let mut buf = [0u8; 4096];
    while flood.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    assert!((20..=30).contains(&answered), "{answered} answered");
    // An exempt address in the same /24 is not limited.
    let exempt = UdpSocket::bind("127.0.1.9:0").unwrap();
    for i in 0..50u16 {
        let q = query(500 + i, "www.example.test.", RType::A, None);
        let r = ask_from(&exempt, addr, &q, 2000).expect("exempt: always answered");
        assert_eq!(rcode(&r), 0);
    }
    let text = metrics(http_port);
    assert!(limited(&text, "rate_drop") >= 170.0, "{text}");
    assert_eq!(
        metric(&text, "portcullis_dynamic_blocks_total"),
        Some(0.0),
        "{text}"
    );
}

#[test]
fn tcp_connection_closes_after_its_queries() {
    let http_port = free_port();
    let (_scratch, _server, addr) = start(
        "limits-tcp",
        "tcp_max_queries_per_connection = 3\n",
        "",
        http_port,
    );
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Five pipelined queries: three answers, then the server closes.
    let mut out = Vec::new();
    for i in 0..5u16 {
        let q = query(i, "www.example.test.", RType::A, None);
        out.extend_from_slice(&(q.len() as u16).to_be_bytes());
        out.extend_from_slice(&q);
    }
    stream.write_all(&out).unwrap();
    let mut answers = Vec::new();
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            break;
        }
        let mut m = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut m).unwrap();
        answers.push(u16::from_be_bytes([m[0], m[1]]));
    }
    answers.sort_unstable();
    assert_eq!(answers, [0, 1, 2]);
}

/// The random-subdomain defence: 10,000 random names under `victim.test.` (a fake that counts
/// its queries) from one client, while another client resolves fresh names under a wildcard in
/// `example.test.`. The victim gets at most the cap per second (plus the queries before the
/// cap started), the other zone is answered throughout.
#[test]
fn random_subdomain_flood_is_capped_per_zone() {
    const N: u8 = 120;
    const NAMES: u32 = 10_000;
    const NX_PER_SECOND: u64 = 50;
    const CAP: u64 = 20;
    let test = "random_subdomain_flood_is_capped_per_zone";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records("test.", "victim NS ns.victim\nns.victim A 127.N.3.1\n")
        .records("example.test.", "*.wild A 192.0.2.9\n")
        .start();
    let victim = Fake::start(
        world.ip("3.1"),
        &["victim.test."],
        "victim.test. 3600 NS ns.victim.test.\nns.victim.test. 3600 A 127.N.3.1\n",
        Behaviour::default(),
    );
    let resolver = world.resolver_with_config(&format!(
        "\n[limits]\nzone_nxdomains_per_second = {NX_PER_SECOND}\n\
         zone_queries_per_second = {CAP}\nzone_hold = 60\n"
    ));
    if !resolver.is_portcullis() {
        eprintln!("SKIPPED: {test} checks Portcullis's own defence");
        return;
    }
    let to = resolver.addr;
    // Warm the delegation of victim.test.: from then on, one query per random name.
    let first = resolver.ask_within("warm.victim.test.", RType::A, Duration::from_secs(5));
    assert_eq!(first.rcode, Rcode::NXDOMAIN, "{first}");
    let before = victim.total();

    // The flood: 10,000 names at about 2,500 a second, answers read by a thread.
    let flood = UdpSocket::bind((world.ip("255.7"), 0)).unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let reader = flood.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (nx, servfail) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let start = Instant::now();
    // When the first capped answer (SERVFAIL) came back, in ms after `start` (0: not yet).
    let capped_at = Arc::new(AtomicU64::new(0));
    let read = {
        let (done, nx, servfail) = (done.clone(), nx.clone(), servfail.clone());
        let capped_at = capped_at.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut quiet_since: Option<Instant> = None;
            loop {
                match reader.recv_from(&mut buf) {
                    Ok((n, _)) if n >= 12 => {
                        quiet_since = None;
                        match buf[3] & 0x0f {
                            3 => nx.fetch_add(1, Ordering::Relaxed),
                            2 => {
                                let ms = start.elapsed().as_millis().max(1) as u64;
                                let _ = capped_at.compare_exchange(
                                    0,
                                    ms,
                                    Ordering::Relaxed,
                                    Ordering::Relaxed,
                                );
                                servfail.fetch_add(1, Ordering::Relaxed)
                            }
                            _ => 0,
                        };
                    }
                    Ok(_) => {}
                    Err(_) if done.load(Ordering::Relaxed) => {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(2) {
                            return;
                        }
                    }
                    Err(_) => {}
                }
            }
        })
    };
    // Meanwhile: a fresh name in example.test. every 100 ms, each must be answered.
    let other = {
        let done = done.clone();
        let resolver_addr = to;
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut answered = Vec::new();
            let mut i = 0u16;
            while !done.load(Ordering::Relaxed) {
                let mut q = query(
                    40_000 + i,
                    &format!("n{i}.wild.example.test."),
                    RType::A,
                    None,
                );
                q[2] |= 0x01; // RD
                let sent = Instant::now();
                let r = ask_from(&s, resolver_addr, &q, 2000);
                answered.push((i, r.map(|r| (rcode(&r), ancount(&r), sent.elapsed()))));
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            answered
        })
    };
    // The mark: half a second after the first capped answer (so that the queries sent before
    // the cap started have reached the victim), the time and the victim's count.
    let mut mark = None;
    for i in 0..NAMES {
        let label = format!("r{:08x}", i.wrapping_mul(2_654_435_761) ^ 0x5bd1_e995);
        let mut q = query(
            (i % 65_536) as u16,
            &format!("{label}.victim.test."),
            RType::A,
            None,
        );
        q[2] |= 0x01; // RD
        flood.send_to(&q, to).unwrap();
        let at = capped_at.load(Ordering::Relaxed);
        if mark.is_none() && at > 0 && start.elapsed() >= Duration::from_millis(at + 500) {
            mark = Some((Instant::now(), victim.total()));
        }
        let due = start + Duration::from_micros(u64::from(i + 1) * 400);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let flood_time = start.elapsed();
    done.store(true, Ordering::Relaxed);
    read.join().unwrap();
    let others = other.join().unwrap();
    let end = Instant::now();
    let to_victim = (victim.total() - before) as u64;
    let (mark_time, mark_count) = mark.expect("the cap started within the flood");

    // Once the cap holds, the victim gets at most CAP queries in each calendar second: over
    // the T seconds from the mark to the end (the drain included), at most CAP × (⌈T⌉ + 1),
    // and CAP more of margin for a query sent before the cap that arrived late.
    let after = (victim.total() - mark_count) as u64;
    let seconds = (end - mark_time).as_secs_f64().ceil() as u64;
    let bound = CAP * (seconds + 2);
    eprintln!(
        "{test}: {NAMES} names in {flood_time:?}: {to_victim} queries to the victim in all, \
         {} before the cap held ({} ms after the start), {after} in the {seconds} s after \
         (bound {bound}); answers: {} NXDOMAIN, {} SERVFAIL",
        mark_count - before,
        capped_at.load(Ordering::Relaxed),
        nx.load(Ordering::Relaxed),
        servfail.load(Ordering::Relaxed)
    );
    eprint!("{}", resolver.metric_lines(&["zone_cap"]));
    assert!(
        after <= bound,
        "{after} queries reached the victim once capped, bound {bound}"
    );
    // Before: the threshold's NXDOMAINs and what was in flight while they came back, a small
    // share of the flood.
    assert!(
        to_victim <= u64::from(NAMES) / 5,
        "{to_victim} queries reached the victim"
    );
    assert!(
        to_victim >= NX_PER_SECOND,
        "the victim was asked at least until the cap started"
    );
    assert!(
        servfail.load(Ordering::Relaxed) >= 9000,
        "most random names were capped"
    );
    let capped = resolver
        .metric("portcullis_resolver_limits_total", &["zone_cap"])
        .unwrap_or(0.0);
    assert!(capped >= 9000.0, "{capped} counted as zone_cap");
    // Each capped question, and the cap's start, is a resolver_limit security event.
    let events = resolver
        .metric("portcullis_security_events_total", &["resolver_limit"])
        .unwrap_or(0.0);
    assert!(events > capped, "{events} resolver_limit events");
    // The other zone was answered all along, each within its 2 s.
    assert!(others.len() >= 10, "{} names asked", others.len());
    for (i, r) in &others {
        let (code, answers, elapsed) =
            r.unwrap_or_else(|| panic!("n{i}.wild.example.test. not answered"));
        assert_eq!(
            (code, answers),
            (0, 1),
            "n{i}.wild.example.test. in {elapsed:?}"
        );
    }
}

/// `resolver.max_resolutions_per_client` on the wire: a client with two questions in flight
/// (a slow zone) gets SERVFAIL with the limit's extended error for the next ones at once, while
/// another client is answered.
#[test]
fn resolutions_per_client_are_capped() {
    const N: u8 = 121;
    let test = "resolutions_per_client_are_capped";
    if !world::port_53_available(test, N) {
        return;
    }
    let world = basic(test, N)
        .records("test.", "slow NS ns.slow\nns.slow A 127.N.3.1\n")
        .start();
    let _slow = Fake::start(
        world.ip("3.1"),
        &["slow.test."],
        "slow.test. 3600 NS ns.slow.test.\nns.slow.test. 3600 A 127.N.3.1\n",
        Behaviour {
            delay: Some(Duration::from_secs(2)),
            ..Behaviour::default()
        },
    );
    let resolver = world.resolver_with_config("\n[resolver]\nmax_resolutions_per_client = 2\n");
    if !resolver.is_portcullis() {
        eprintln!("SKIPPED: {test} checks Portcullis's own limit");
        return;
    }
    let client = UdpSocket::bind((world.ip("255.7"), 0)).unwrap();
    for i in 0..6u16 {
        let mut q = query(100 + i, &format!("q{i}.slow.test."), RType::A, Some(1232));
        q[2] |= 0x01; // RD
        client.send_to(&q, resolver.addr).unwrap();
    }
    client
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .unwrap();
    let mut refused = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok((n, _)) = client.recv_from(&mut buf) {
        let reply = world::Reply::parse(&buf[..n]).unwrap();
        assert_eq!(reply.rcode, Rcode::SERVFAIL, "{reply}");
        assert!(
            reply
                .ede
                .iter()
                .any(|(_, text)| text == "client resolution limit reached"),
            "{reply}"
        );
        refused.push(reply.id);
    }
    assert_eq!(
        refused.len(),
        4,
        "the questions over the limit: {refused:?}"
    );
    // Another client is not held back.
    let www = resolver.ask_within("www.example.test.", RType::A, Duration::from_secs(2));
    assert_eq!(www.rdatas(RType::A), ["192.0.2.1"], "{www}");
    let hits = resolver
        .metric(
            "portcullis_resolver_limits_total",
            &["resolutions_per_client"],
        )
        .unwrap_or(0.0);
    assert_eq!(hits, 4.0);
}
