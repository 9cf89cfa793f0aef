//! Response rate limiting on the wire: `portcullis serve` with `[rrl]` on, a flood of a large
//! answer from one loopback prefix (127.0.0.2) and a modest client on another (127.0.1.1).
//! The flood's prefix gets back fewer bytes than it sends (amplification below 1), slipped
//! responses carry TC and no answer, the other prefix is answered, `log_only` drops nothing,
//! and answers that a resolution finishes are limited by the same table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Scratch, Server, config, free_port, metric, query, zone};
use wire::RType;

/// Names `n0` to `n49` besides the test zone's own, so a client can ask 50 different answers.
fn rrl_zone() -> String {
    let mut z = zone(1);
    for i in 0..50 {
        z.push_str(&format!("n{i} A 192.0.2.{i}\n"));
    }
    z
}

/// A server with `[rrl]` set to `rrl`, and `/metrics` on `http_port`.
fn start(test: &str, rrl: &str, http_port: u16) -> (Scratch, Server, SocketAddr) {
    let scratch = Scratch::new(test);
    let port = free_port();
    scratch.write("example.test.zone", &rrl_zone());
    let text = format!("{}\n[rrl]\n{rrl}", config(&format!("127.0.0.1:{port}"))).replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (scratch, server, addr)
}

fn tc(m: &[u8]) -> bool {
    m.len() >= 12 && m[2] & 0x02 != 0
}

fn ancount(m: &[u8]) -> u16 {
    u16::from_be_bytes([m[6], m[7]])
}

#[test]
fn flood_is_limited_while_another_prefix_is_answered() {
    let http_port = free_port();
    let (_scratch, server, addr) = start(
        "rrl-flood",
        "enabled = true\nresponses_per_second = 10\nslip = 2\n",
        http_port,
    );
    let big = query(1, "big.example.test.", RType::TXT, Some(4096));

    // The flood: 2,000 queries over about 2 s from 127.0.0.2, its responses read by a thread.
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let reader = flood.try_clone().unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let read_done = done.clone();
    let received = std::thread::spawn(move || {
        let (mut bytes, mut full, mut slipped, mut bad_slips) = (0usize, 0usize, 0usize, 0usize);
        let mut buf = [0u8; 65_535];
        let mut quiet_since: Option<Instant> = None;
        loop {
            match reader.recv_from(&mut buf) {
                Ok((n, _)) => {
                    quiet_since = None;
                    bytes += n;
                    let m = &buf[..n];
                    if tc(m) {
                        slipped += 1;
                        if ancount(m) != 0 {
                            bad_slips += 1;
                        }
                    } else {
                        full += 1;
                    }
                }
                Err(_) if read_done.load(Ordering::Relaxed) => {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_millis(500) {
                        return (bytes, full, slipped, bad_slips);
                    }
                }
                Err(_) => {}
            }
        }
    });

    // Meanwhile: 50 queries at 20 a second from 127.0.1.1, each for a different name (so under
    // its own limit), each waiting up to 1 s.
    let client = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.1.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let mut latencies = Vec::new();
        let mut buf = [0u8; 4096];
        for i in 0..50u16 {
            let q = query(1000 + i, &format!("n{i}.example.test."), RType::A, None);
            let sent = Instant::now();
            s.send_to(&q, addr).unwrap();
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, _)) if n >= 2 && buf[..2] == q[..2] => {
                        latencies.push(sent.elapsed());
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            std::thread::sleep(Duration::from_millis(50).saturating_sub(sent.elapsed()));
        }
        latencies
    });

    let mut sent_bytes = 0usize;
    let start = Instant::now();
    for i in 0..2000u32 {
        flood.send_to(&big, addr).unwrap();
        sent_bytes += big.len();
        // About 1,000 a second.
        let due = start + Duration::from_millis(u64::from(i + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    done.store(true, Ordering::Relaxed);
    let (out_bytes, full, slipped, bad_slips) = received.join().unwrap();
    let mut latencies = client.join().unwrap();

    latencies.sort();
    let pct = |p: usize| latencies.get(latencies.len() * p / 100).copied();
    println!(
        "flood from 127.0.0.2: {sent_bytes} bytes in, {out_bytes} bytes out \
         (amplification {:.3}); {full} full answers, {slipped} slipped",
        out_bytes as f64 / sent_bytes as f64
    );
    println!(
        "client on 127.0.1.1: {}/50 answered; latency p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        pct(50),
        pct(99),
        latencies.last()
    );
    assert!(
        out_bytes < sent_bytes,
        "amplification {out_bytes} / {sent_bytes} is not below 1\n{}",
        server.log()
    );
    assert!(full <= 20, "{full} full answers for a limit of 10 a second");
    assert!(slipped > 500, "only {slipped} slipped responses");
    assert_eq!(bad_slips, 0, "slipped responses must carry no answer");
    assert!(
        latencies.len() * 100 >= 50 * 99,
        "only {} of 50 answered",
        latencies.len()
    );
    let text = metrics(http_port);
    let series = |d: &str| {
        metric(
            &text,
            &format!("portcullis_rate_limited_total{{decision=\"{d}\"}}"),
        )
    };
    // The server counts every slip it sent; the socket saw at most as many.
    assert!(series("slip").unwrap() >= slipped as f64, "{text}");
    assert!(series("drop").unwrap() >= 900.0, "{text}");
}

#[test]
fn log_only_drops_nothing() {
    let http_port = free_port();
    let (_scratch, _server, addr) = start(
        "rrl-log-only",
        "enabled = true\nresponses_per_second = 1\nslip = 2\nlog_only = true\n",
        http_port,
    );
    let s = UdpSocket::bind("127.0.0.2:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 65_535];
    for i in 0..50u16 {
        let q = query(i, "big.example.test.", RType::TXT, Some(4096));
        s.send_to(&q, addr).unwrap();
        let (n, _) = s.recv_from(&mut buf).expect("every query answered");
        let m = &buf[..n];
        assert!(!tc(m), "query {i} slipped in log-only mode");
        assert_eq!(ancount(m), 20, "query {i}");
    }
    let text = metrics(http_port);
    let series = |d: &str| {
        metric(
            &text,
            &format!("portcullis_rate_limited_total{{decision=\"{d}\"}}"),
        )
    };
    assert!(series("log_only").unwrap() >= 40.0, "{text}");
    assert_eq!(series("drop"), Some(0.0));
    assert_eq!(series("slip"), Some(0.0));
}

/// The `/metrics` text of the server's HTTP endpoint (with `curl`, as an operator would).
fn metrics(http_port: u16) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .expect("curl: scripts/test.sh installs it");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Answers that a resolution finishes are limited too: a resolver forwarding `example.test.` to
/// an authoritative server, one NXDOMAIN a second allowed to a prefix, every limited one
/// slipped. Each name is new, so each answer comes from a finished resolution.
#[test]
fn resolved_answers_are_limited() {
    let scratch = Scratch::new("rrl-resolver");
    let auth_port = free_port();
    scratch.write("example.test.zone", &rrl_zone());
    let auth_config = scratch.write("auth.toml", &config(&format!("127.0.0.1:{auth_port}")));
    let auth_addr = SocketAddr::from(([127, 0, 0, 1], auth_port));
    let _auth = Server::start(&auth_config, auth_addr, scratch.0.join("auth.log"));

    let port = free_port();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 2\ncontrol_socket = \"r.sock\"\n\n\
         [resolver]\nenabled = true\n\n\
         [[forward]]\nzone = \"example.test.\"\nto = [\"127.0.0.1:{auth_port}\"]\n\n\
         [dnssec]\nvalidation = false\n\n\
         [rrl]\nenabled = true\nnxdomains_per_second = 1\nslip = 1\n"
    );
    let resolver_config = scratch.write("resolver.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _resolver = Server::start(&resolver_config, addr, scratch.0.join("resolver.log"));

    let s = UdpSocket::bind("127.0.0.3:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 4096];
    let mut ask = |i: u16| {
        let mut q = query(i, &format!("missing{i}.example.test."), RType::A, None);
        q[2] |= 0x01; // RD
        s.send_to(&q, addr).unwrap();
        let (n, _) = s
            .recv_from(&mut buf)
            .unwrap_or_else(|_| panic!("no answer to {i}"));
        buf[..n].to_vec()
    };
    let first = ask(1);
    assert!(!tc(&first));
    assert_eq!(first[3] & 0x0f, 3, "NXDOMAIN");
    let second = ask(2);
    assert!(tc(&second), "the second NXDOMAIN within a second slips");
    assert_eq!(ancount(&second), 0);
}
