//! `portcullis serve` over UDP, run as an operator would and queried with `dig` (BIND),
//! `kdig` (Knot) and a client built on the `wire` crate: answers, negative answers, truncation,
//! refusals, FORMERR, the reply's source address on a wildcard bind, SIGHUP reloads (good and
//! broken), SIGTERM. Missing tools are a failure, not a skip: `scripts/test.sh` installs them.
//!
//! Every server runs on loopback on a free port, from files in a scratch directory under the
//! system temporary directory; guards (`common/mod.rs`, shared with `serve_ops.rs`) kill the
//! server and remove the files on every path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Scratch, Server, ask, config, ctl, exchange, free_port, query, serve, zone};
use wire::message::{Header, Section};
use wire::{Message, RType, Rcode};

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// The whole server as wired by `serve`: TCP beside UDP on the same address, `/metrics` on the
/// HTTP address, and `portcullis ctl` status and reload over the control socket.
#[test]
fn tcp_metrics_and_control_socket_are_served() {
    let scratch = Scratch::new("wired");
    let port = free_port();
    let http_port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}")).replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));

    let tcp = ask("dig", addr, &["+tcp", "+short", "www.example.test.", "A"]);
    assert_eq!(tcp.trim(), "192.0.2.80");
    let big = ask("kdig", addr, &["+tcp", "big.example.test.", "TXT"]);
    assert!(big.contains("ANSWER: 20"), "{big}");

    let metrics = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .unwrap();
    assert!(
        metrics.status.success(),
        "curl failed: scripts/test.sh installs it"
    );
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.contains("portcullis_queries_total{transport=\"tcp\",qtype=\"A\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_zone_serial{zone=\"example.test.\"} 1"),
        "{metrics}"
    );

    let socket = scratch.0.join("control.sock");
    let (code, status) = ctl(&socket, "status");
    assert_eq!(code, Some(0), "{status}\n{}", server.log());
    assert!(status.contains("example.test. serial 1"), "{status}");
    scratch.write("example.test.zone", &zone(2));
    let (code, reloaded) = ctl(&socket, "reload");
    assert_eq!(code, Some(0), "{reloaded}");
    assert!(reloaded.contains("example.test. serial 2"), "{reloaded}");
    assert_eq!(server.serial(), 2);
    let (code, stats) = ctl(&socket, "stats");
    assert_eq!(code, Some(0));
    assert!(
        stats.contains("portcullis_reloads_total{result=\"success\"} 1"),
        "{stats}"
    );
}

#[test]
fn answers_with_dig_kdig_and_wire() {
    let (_scratch, server) = serve("answers");
    let addr = server.addr;

    // A hit.
    for tool in ["dig", "kdig"] {
        let out = ask(tool, addr, &["+norec", "www.example.test.", "A"]);
        assert!(out.contains("status: NOERROR"), "{tool}:\n{out}");
        assert!(out.contains("192.0.2.80"), "{tool}:\n{out}");
        assert!(out.contains(" aa"), "{tool}: authoritative:\n{out}");
    }
    let m = exchange(addr, &query(1, "www.example.test.", RType::A, Some(1232)));
    let m = Message::parse(&m).unwrap();
    assert_eq!(m.header().id, 1);
    assert_eq!(m.rcode(), Rcode::NOERROR);
    assert_eq!(
        m.records(Section::Answer).next().unwrap().raw_rdata(),
        [192, 0, 2, 80]
    );

    // NXDOMAIN with the SOA in the authority section.
    for tool in ["dig", "kdig"] {
        let out = ask(tool, addr, &["nope.example.test.", "A"]);
        assert!(out.contains("status: NXDOMAIN"), "{tool}:\n{out}");
        assert!(out.contains("SOA"), "{tool}:\n{out}");
    }
    let r = exchange(addr, &query(2, "nope.example.test.", RType::A, None));
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.rcode(), Rcode::NXDOMAIN);
    assert_eq!(
        m.records(Section::Authority).next().unwrap().rtype,
        RType::SOA
    );

    // A large answer: TC without EDNS, the whole answer with a large enough buffer.
    let r = exchange(addr, &query(3, "big.example.test.", RType::TXT, None));
    let m = Message::parse(&r).unwrap();
    assert!(m.header().flags.tc());
    assert!(r.len() <= 512);
    let r = exchange(addr, &query(4, "big.example.test.", RType::TXT, Some(4096)));
    let m = Message::parse(&r).unwrap();
    assert!(!m.header().flags.tc());
    assert_eq!(m.records(Section::Answer).count(), 20);
    let out = ask(
        "dig",
        addr,
        &["+noedns", "+ignore", "big.example.test.", "TXT"],
    );
    assert!(out.contains(" tc"), "dig:\n{out}");
    let out = ask("dig", addr, &["+bufsize=4096", "big.example.test.", "TXT"]);
    assert!(out.contains("ANSWER: 20"), "dig:\n{out}");
    let out = ask("kdig", addr, &["+bufsize=4096", "big.example.test.", "TXT"]);
    assert!(out.contains("ANSWER: 20"), "kdig:\n{out}");

    // Out of zone: REFUSED.
    for tool in ["dig", "kdig"] {
        let out = ask(tool, addr, &["example.org.", "A"]);
        assert!(out.contains("status: REFUSED"), "{tool}:\n{out}");
    }

    // Garbage after a readable header: FORMERR with the query's ID.
    let mut garbage = query(5, "www.example.test.", RType::A, None);
    garbage.truncate(19);
    garbage.extend_from_slice(&[0xff; 7]);
    let r = exchange(addr, &garbage);
    let h = Header::parse(&r).unwrap();
    assert_eq!(h.id, 5);
    assert!(h.flags.qr());
    assert_eq!(h.flags.rcode_bits(), 1, "FORMERR");
}

#[test]
fn a_wildcard_bind_replies_from_the_address_asked() {
    let scratch = Scratch::new("wildcard");
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let config = scratch.write("portcullis.toml", &config(&format!("0.0.0.0:{port}")));
    let server = Server::start(
        &config,
        SocketAddr::from(([127, 0, 0, 1], port)),
        scratch.0.join("server.log"),
    );
    let second = SocketAddr::from(([127, 0, 0, 2], port));
    // `try_exchange` checks that the reply comes from the address queried.
    let r = exchange(second, &query(6, "www.example.test.", RType::A, None));
    assert_eq!(Message::parse(&r).unwrap().rcode(), Rcode::NOERROR);
    let out = ask("dig", second, &["www.example.test.", "A"]);
    assert!(out.contains("192.0.2.80"), "dig:\n{out}");
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// Reload and stop
// ---------------------------------------------------------------------------------------------

#[test]
fn sighup_reloads_and_a_broken_zone_keeps_the_old_one() {
    let (scratch, server) = serve("reload");
    assert_eq!(server.serial(), 1);

    scratch.write("example.test.zone", &zone(2));
    server.signal("HUP");
    server.wait_log("reloaded", 1);
    assert_eq!(server.serial(), 2);

    // A zone with an error: refused, the old data still served, the error located.
    scratch.write(
        "example.test.zone",
        &zone(3).replace("www A 192.0.2.80", "www A 192.0.2.800"),
    );
    server.signal("HUP");
    server.wait_log("reload refused", 1);
    assert!(
        server.log().contains("example.test.zone:5:7: bad A RDATA"),
        "the error names the file and line:\n{}",
        server.log()
    );
    assert_eq!(server.serial(), 2);
    let r = exchange(server.addr, &query(9, "www.example.test.", RType::A, None));
    assert_eq!(Message::parse(&r).unwrap().rcode(), Rcode::NOERROR);

    // Fixed again: served.
    scratch.write("example.test.zone", &zone(4));
    server.signal("HUP");
    server.wait_log("reloaded", 2);
    assert_eq!(server.serial(), 4);
}

#[test]
fn sigterm_stops_promptly_with_exit_0() {
    let (_scratch, mut server) = serve("sigterm");
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

// ---------------------------------------------------------------------------------------------
// Start-up errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_privileged_port_without_privileges_says_how_to_fix_it() {
    // Needs root to switch to an unprivileged user, and a kernel that keeps port 53 privileged.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1024);
    if !root || start <= 53 {
        eprintln!("skipped: needs root and ip_unprivileged_port_start above 53");
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            env!("CARGO_BIN_EXE_portcullis"),
            "serve",
            "--listen",
            "127.0.0.1:53",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for hint in [
        "run as root",
        "CAP_NET_BIND_SERVICE",
        "--listen 127.0.0.1:5300",
    ] {
        assert!(stderr.contains(hint), "{hint} missing:\n{stderr}");
    }
}

#[test]
fn a_broken_zone_at_start_exits_1() {
    let scratch = Scratch::new("broken");
    scratch.write("example.test.zone", "@ SOA ns hostmaster\n");
    let config = scratch.write("portcullis.toml", &config("127.0.0.1:1"));
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("example.test.zone:1:"), "{stderr}");
}
