//! Encrypted forwarders (DNS over TLS upstreams), over real loopback sockets:
//!
//! - Portcullis A serves zones over DoT with a certificate from `portcullis cert self-signed`;
//!   Portcullis B forwards to it with `tls://dns.test@ADDR:PORT` (`ca` = A's certificate) and
//!   answers with A's data; twenty questions ride one TLS connection (A's accepted TCP
//!   connections, from its `/metrics`), and B counts them as `protocol="tls"`.
//! - A wrong certificate name, another CA, or a wrong SPKI pin gives SERVFAIL; the right pin
//!   (computed by `openssl`, independently of our DER walk) works, and so does `tls_insecure`
//!   (with a warning).
//! - `selection = "order"` with a dead first server fails over to the second.
//! - Strict mode: `portcullis check` refuses `encrypted_only` with iterative resolution or a
//!   plain server anywhere, and accepts an all-TLS forward for `.`.
//! - Interoperability with Unbound, both ways: Portcullis forwarding over TLS to Unbound's
//!   `tls-port`, and Unbound (`forward-tls-upstream: yes`) forwarding to Portcullis's DoT
//!   listener.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    ChildGuard, Scratch, Server, free_port, make_cert, metric, query, try_exchange, zone,
};
use wire::message::Section;
use wire::{Message, RType, Rcode};

/// The RFC 7858 pin of the certificate in `cert`: base64 of the SHA-256 of its DER SPKI,
/// computed by `openssl` as stubby's documentation does.
fn openssl_pin(cert: &Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | \
         openssl dgst -sha256 -binary | openssl enc -base64",
        cert.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "openssl failed");
    let pin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(pin.len(), 44, "{pin}");
    pin
}

/// The zone `fwd.test.`: `www` and a wildcard, so that every question is a cache miss.
fn fwd_zone() -> String {
    "$TTL 3600\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 127.0.0.1\n\
     www A 192.0.2.80\n* A 192.0.2.99\n"
        .to_string()
}

/// Portcullis A: `example.test.` and `fwd.test.` over UDP/TCP, and over TLS on port `dot` of
/// every address of `dot_ips`, with a certificate for `dns.test` in `a/`; `/metrics` on its
/// HTTP port. Returns the server, its DoT port and its HTTP address.
fn start_a(scratch: &Scratch, dot_ips: &[&str]) -> (Server, u16, SocketAddr) {
    let (server, dot, _, http) = start_a_with_doh(scratch, dot_ips);
    (server, dot, http)
}

/// [`start_a`], also serving DNS over HTTPS on 127.0.0.1: the server, its DoT port, its DoH
/// port and its HTTP address.
fn start_a_with_doh(scratch: &Scratch, dot_ips: &[&str]) -> (Server, u16, u16, SocketAddr) {
    let dir = scratch.0.join("a");
    make_cert(&dir, "dns.test");
    let (port, dot, doh, http) = (free_port(), free_port(), free_port(), free_port());
    std::fs::write(dir.join("example.test.zone"), zone(1)).unwrap();
    std::fs::write(dir.join("fwd.test.zone"), fwd_zone()).unwrap();
    let listen_tls: Vec<String> = dot_ips.iter().map(|ip| format!("\"{ip}:{dot}\"")).collect();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\nhttp = \"127.0.0.1:{http}\"\n\
         control_socket = \"control.sock\"\nlog_level = \"info\"\n\
         [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n\
         [[zone]]\norigin = \"fwd.test.\"\nfile = \"fwd.test.zone\"\n\
         [tls]\nlisten = [{}]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
         [https]\nlisten = [\"127.0.0.1:{doh}\"]\n",
        listen_tls.join(", ")
    );
    let conf = dir.join("portcullis.toml");
    std::fs::write(&conf, text).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&conf, addr, dir.join("server.log"));
    (server, dot, doh, SocketAddr::from(([127, 0, 0, 1], http)))
}

/// Portcullis B: a resolver serving `example.test.` itself (so that it answers the start
/// probe), validation off, local upstreams allowed, with `more` appended to its configuration
/// and `flags` on its command line. Returns the server and its HTTP address.
fn start_b(scratch: &Scratch, name: &str, more: &str, flags: &[&str]) -> (Server, SocketAddr) {
    let dir = scratch.0.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let (port, http) = (free_port(), free_port());
    std::fs::write(dir.join("example.test.zone"), zone(1)).unwrap();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\nhttp = \"127.0.0.1:{http}\"\n\
         control_socket = \"control.sock\"\nlog_level = \"debug\"\n\
         [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n\
         [resolver]\nenabled = true\ninsecure_local_upstreams = true\ndrivers = 1\n\
         [dnssec]\nvalidation = false\n{more}\n"
    );
    let conf = dir.join("portcullis.toml");
    std::fs::write(&conf, text).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start_with(&conf, addr, dir.join("server.log"), flags);
    (server, SocketAddr::from(([127, 0, 0, 1], http)))
}

/// `GET /metrics` at `http`.
fn metrics(http: SocketAddr) -> String {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text
}

/// Asks `name` A of `server` with RD=1 and waits up to 8 s: the RCODE and the addresses.
fn resolve(server: SocketAddr, name: &str) -> (Rcode, Vec<String>) {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(100);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut q = query(id, name, RType::A, Some(1232));
    q[2] |= 0x01; // RD
    let resp = try_exchange(server, &q, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("{name}: no answer from {server} within 8 s"));
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.header().id, id);
    let addrs = m
        .records(Section::Answer)
        .filter(|r| r.rtype == RType::A)
        .map(|r| {
            let d = r.raw_rdata();
            format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3])
        })
        .collect();
    (m.rcode(), addrs)
}

#[test]
fn dot_forwarding_answers_over_one_connection() {
    let scratch = Scratch::new("fwd-tls-basic");
    let (_a, dot, a_http) = start_a(&scratch, &["127.0.0.1"]);
    let ca = scratch.0.join("a/cert.pem");
    let target = format!("tls://dns.test@127.0.0.1:{dot}");
    // The file names the CA; the flag (the same server) replaces the file's servers and keeps
    // its trust.
    let more = format!(
        "[[forward]]\nzone = \".\"\nto = [\"{target}\"]\nca = \"{}\"\n",
        ca.display()
    );
    let flag = format!(".={target}");
    let (b, b_http) = start_b(&scratch, "b", &more, &["--forward", &flag]);
    let before = metric(
        &metrics(a_http),
        "portcullis_connections_total{transport=\"dot\"}",
    )
    .unwrap();
    assert_eq!(
        resolve(b.addr, "www.fwd.test."),
        (Rcode::NOERROR, vec!["192.0.2.80".into()])
    );
    for i in 0..20 {
        let (rcode, addrs) = resolve(b.addr, &format!("n{i}.fwd.test."));
        assert_eq!(rcode, Rcode::NOERROR, "n{i}");
        assert_eq!(addrs, ["192.0.2.99"], "n{i}");
    }
    let after = metric(
        &metrics(a_http),
        "portcullis_connections_total{transport=\"dot\"}",
    )
    .unwrap();
    assert_eq!(
        after - before,
        1.0,
        "21 questions over one TLS connection:\n{}",
        b.log()
    );
    let b_metrics = metrics(b_http);
    let tls = metric(
        &b_metrics,
        "portcullis_upstream_queries_total{protocol=\"tls\"}",
    )
    .unwrap();
    assert!(tls >= 21.0, "{b_metrics}");
    assert_eq!(
        metric(
            &b_metrics,
            "portcullis_upstream_queries_total{protocol=\"udp\"}"
        ),
        Some(0.0),
        "nothing over plain DNS"
    );
}

#[test]
fn names_cas_and_pins_are_checked() {
    let scratch = Scratch::new("fwd-tls-trust");
    let ips = [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.5",
        "127.0.0.6",
    ];
    let (_a, dot, _) = start_a(&scratch, &ips);
    let ca = scratch.0.join("a/cert.pem");
    make_cert(&scratch.0.join("other"), "dns.test");
    let other = scratch.0.join("other/cert.pem");
    let right_pin = openssl_pin(&ca);
    let wrong_pin = openssl_pin(&other);
    // One forward per case, each to its own address of A (an address is one upstream).
    let forward = |zone: &str, ip: &str, name: &str, trust: String| {
        format!("[[forward]]\nzone = \"{zone}\"\nto = [\"tls://{name}{ip}:{dot}\"]\n{trust}\n")
    };
    let ca_key = |p: &PathBuf| format!("ca = \"{}\"", p.display());
    let pins = |p: &str| format!("spki_pins = [\"{p}\"]");
    let more = [
        forward("ok.fwd.test.", ips[0], "dns.test@", ca_key(&ca)),
        forward("name.fwd.test.", ips[1], "wrong.test@", ca_key(&ca)),
        forward("ca.fwd.test.", ips[2], "dns.test@", ca_key(&other)),
        forward("pin.fwd.test.", ips[3], "", pins(&right_pin)),
        forward("badpin.fwd.test.", ips[4], "", pins(&wrong_pin)),
        // Tests only: no check at all, so even a wrong name passes.
        forward(
            "insecure.fwd.test.",
            ips[5],
            "wrong.test@",
            "tls_insecure = true".into(),
        ),
    ]
    .concat();
    let (b, _) = start_b(&scratch, "b", &more, &[]);
    let answered = |zone: &str| resolve(b.addr, &format!("x.{zone}"));
    let good = (Rcode::NOERROR, vec!["192.0.2.99".to_string()]);
    assert_eq!(answered("ok.fwd.test."), good, "{}", b.log());
    assert_eq!(answered("pin.fwd.test."), good, "{}", b.log());
    assert_eq!(answered("insecure.fwd.test."), good, "{}", b.log());
    assert!(b.log().contains("forward.tls_insecure"), "warned");
    for refused in ["name.fwd.test.", "ca.fwd.test.", "badpin.fwd.test."] {
        let (rcode, addrs) = answered(refused);
        assert_eq!(rcode, Rcode::SERVFAIL, "{refused}: {addrs:?}");
    }
}

#[test]
fn ordered_selection_fails_over_from_a_dead_server() {
    let scratch = Scratch::new("fwd-tls-order");
    let (_a, dot, _) = start_a(&scratch, &["127.0.0.1"]);
    let ca = scratch.0.join("a/cert.pem");
    // Nothing listens on the first server's port: the connection is refused.
    let dead = free_port();
    let more = format!(
        "[[forward]]\nzone = \".\"\nselection = \"order\"\nca = \"{}\"\n\
         to = [\"tls://dns.test@127.0.0.1:{dead}\", \"tls://dns.test@127.0.0.1:{dot}\"]\n",
        ca.display()
    );
    let (b, b_http) = start_b(&scratch, "b", &more, &[]);
    let started = Instant::now();
    for i in 0..5 {
        let (rcode, addrs) = resolve(b.addr, &format!("o{i}.fwd.test."));
        assert_eq!(rcode, Rcode::NOERROR, "o{i}:\n{}", b.log());
        assert_eq!(addrs, ["192.0.2.99"]);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failover took {:?}",
        started.elapsed()
    );
    let failures = metric(
        &metrics(b_http),
        "portcullis_upstream_encrypted_failures_total{protocol=\"tls\"}",
    )
    .unwrap();
    assert!(failures >= 1.0, "the dead server was tried first");
}

/// `portcullis check` on `text` (written to `name` in `scratch`) with `flags`: the exit code
/// and standard error.
fn check(scratch: &Scratch, name: &str, text: &str, flags: &[&str]) -> (Option<i32>, String) {
    let conf = scratch.write(name, text);
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--config"])
        .arg(&conf)
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code(), text)
}

#[test]
fn strict_mode_needs_encrypted_forwarders_everywhere() {
    let scratch = Scratch::new("fwd-tls-strict");
    make_cert(&scratch.0, "dns.test");
    let ca = scratch.0.join("cert.pem");
    let resolver = "[resolver]\nenabled = true\nencrypted_only = true\n";
    let tls_root = format!(
        "[[forward]]\nzone = \".\"\nto = [\"tls://dns.test@192.0.2.1\", \"tls://192.0.2.2:8853\"]\nca = \"{}\"\n",
        ca.display()
    );
    // Iterative resolution: refused, and the message says why.
    let (code, text) = check(&scratch, "iter.toml", resolver, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("iterative resolution"), "{text}");
    assert!(text.contains("port 53"), "{text}");
    // `serve` refuses to start with it too.
    let listen = format!("127.0.0.1:{}", free_port());
    let out = Command::new("timeout")
        .args(["20", env!("CARGO_BIN_EXE_portcullis"), "serve", "--config"])
        .arg(scratch.0.join("iter.toml"))
        .args(["--listen", &listen])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("iterative resolution"), "{stderr}");
    // A plain forwarder for `.`.
    let plain = format!("{resolver}[[forward]]\nzone = \".\"\nto = [\"192.0.2.1\"]\n");
    let (code, text) = check(&scratch, "plain.toml", &plain, &[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("plain DNS server 192.0.2.1:53"), "{text}");
    // All TLS for `.`, but a plain stub elsewhere; the flag turns strict mode on.
    let stub = format!(
        "[resolver]\nenabled = true\n{tls_root}[[stub]]\nzone = \"corp.\"\nservers = [\"10.0.0.1\"]\n"
    );
    let (code, text) = check(&scratch, "stub.toml", &stub, &["--encrypted-only"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("stub for corp. has the plain DNS server"),
        "{text}"
    );
    // Without the flag, the same file passes.
    let (code, text) = check(&scratch, "stub.toml", &stub, &[]);
    assert_eq!(code, Some(0), "{text}");
    // All TLS: accepted.
    let ok = format!("{resolver}{tls_root}");
    let (code, text) = check(&scratch, "ok.toml", &ok, &[]);
    assert_eq!(code, Some(0), "{text}");
    // All DoH: accepted too.
    let doh = format!(
        "{resolver}[[forward]]\nzone = \".\"\nto = [\"https://dns.test@192.0.2.1/dns-query\"]\nca = \"{}\"\n",
        ca.display()
    );
    let (code, text) = check(&scratch, "doh.toml", &doh, &[]);
    assert_eq!(code, Some(0), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Unbound
// ---------------------------------------------------------------------------------------------

/// Unbound with `server` lines (after the common ones) and `rest` (more clauses), answering
/// plain DNS on `port`; waits (at most 20 s) until it answers there.
fn start_unbound(dir: &Path, port: u16, server: &str, rest: &str) -> ChildGuard {
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n    interface: 127.0.0.1@{port}\n    port: {port}\n    do-ip6: no\n    \
             username: \"\"\n    chroot: \"\"\n    directory: \"{d}\"\n    \
             pidfile: \"{d}/unbound.pid\"\n    use-syslog: no\n    logfile: \"\"\n    \
             verbosity: 1\n    num-threads: 1\n    access-control: 127.0.0.0/8 allow\n    \
             so-reuseport: no\n    module-config: \"iterator\"\n{server}\n{rest}\n\
             remote-control:\n    control-enable: no\n"
        ),
    )
    .unwrap();
    let log = dir.join("unbound.log");
    let child = Command::new("unbound")
        .args(["-d", "-c"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run unbound ({e}): scripts/test.sh installs it"));
    let mut guard = ChildGuard(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    let probe = query(3, "unbound.probe.", RType::A, None);
    loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            panic!(
                "unbound exited with {status}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if try_exchange(addr, &probe, Duration::from_millis(200)).is_some() {
            return guard;
        }
        assert!(
            Instant::now() < deadline,
            "unbound silent for 20 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

#[test]
fn portcullis_forwards_over_tls_to_unbound() {
    let scratch = Scratch::new("fwd-tls-to-unbound");
    let dir = scratch.0.join("unbound");
    make_cert(&dir, "dns.test");
    let (port, tls_port) = (free_port(), free_port());
    let server = format!(
        "    interface: 127.0.0.1@{tls_port}\n    tls-port: {tls_port}\n    \
         tls-service-key: \"{d}/key.pem\"\n    tls-service-pem: \"{d}/cert.pem\"\n    \
         local-zone: \"unb.test.\" static\n    local-data: \"www.unb.test. A 192.0.2.53\"\n",
        d = dir.display()
    );
    let _unbound = start_unbound(&dir, port, &server, "");
    let more = format!(
        "[[forward]]\nzone = \".\"\nto = [\"tls://dns.test@127.0.0.1:{tls_port}\"]\nca = \"{}\"\n",
        dir.join("cert.pem").display()
    );
    let (b, b_http) = start_b(&scratch, "b", &more, &[]);
    let got = resolve(b.addr, "www.unb.test.");
    assert_eq!(
        got,
        (Rcode::NOERROR, vec!["192.0.2.53".to_string()]),
        "{}",
        b.log()
    );
    let tls = metric(
        &metrics(b_http),
        "portcullis_upstream_queries_total{protocol=\"tls\"}",
    )
    .unwrap();
    assert!(tls >= 1.0);
}

#[test]
fn unbound_forwards_over_tls_to_portcullis() {
    let scratch = Scratch::new("fwd-tls-from-unbound");
    let (_a, dot, _) = start_a(&scratch, &["127.0.0.1"]);
    let dir = scratch.0.join("unbound");
    let port = free_port();
    let server = format!(
        "    tls-cert-bundle: \"{}\"\n    do-not-query-localhost: no\n    \
         local-zone: \"test.\" nodefault\n",
        scratch.0.join("a/cert.pem").display()
    );
    let rest = format!(
        "forward-zone:\n    name: \".\"\n    forward-tls-upstream: yes\n    \
         forward-addr: 127.0.0.1@{dot}#dns.test\n"
    );
    let _unbound = start_unbound(&dir, port, &server, &rest);
    let unbound = SocketAddr::from(([127, 0, 0, 1], port));
    let got = resolve(unbound, "www.fwd.test.");
    assert_eq!(
        got,
        (Rcode::NOERROR, vec!["192.0.2.80".to_string()]),
        "{}",
        std::fs::read_to_string(dir.join("unbound.log")).unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------------
// DNS over HTTPS upstreams
// ---------------------------------------------------------------------------------------------

#[test]
fn doh_forwarding_answers_over_one_connection() {
    let scratch = Scratch::new("fwd-doh-basic");
    let (_a, _, doh, a_http) = start_a_with_doh(&scratch, &["127.0.0.1"]);
    let ca = scratch.0.join("a/cert.pem");
    let more = format!(
        "[[forward]]\nzone = \".\"\nto = [\"https://dns.test@127.0.0.1:{doh}/dns-query\"]\n\
         ca = \"{}\"\n",
        ca.display()
    );
    let (b, b_http) = start_b(&scratch, "b", &more, &["--encrypted-only"]);
    let before = metric(
        &metrics(a_http),
        "portcullis_connections_total{transport=\"doh\"}",
    )
    .unwrap();
    assert_eq!(
        resolve(b.addr, "www.fwd.test."),
        (Rcode::NOERROR, vec!["192.0.2.80".into()]),
        "{}",
        b.log()
    );
    for i in 0..20 {
        let (rcode, addrs) = resolve(b.addr, &format!("n{i}.fwd.test."));
        assert_eq!((rcode, addrs), (Rcode::NOERROR, vec!["192.0.2.99".into()]));
    }
    let a_metrics = metrics(a_http);
    let after = metric(
        &a_metrics,
        "portcullis_connections_total{transport=\"doh\"}",
    )
    .unwrap();
    assert_eq!(
        after - before,
        1.0,
        "21 questions over one HTTP/2 connection"
    );
    let doh_queries = metric(
        &a_metrics,
        "portcullis_queries_total{transport=\"doh\",qtype=\"A\"}",
    )
    .unwrap();
    assert!(doh_queries >= 21.0, "{a_metrics}");
    let b_metrics = metrics(b_http);
    let https = metric(
        &b_metrics,
        "portcullis_upstream_queries_total{protocol=\"https\"}",
    )
    .unwrap();
    assert!(https >= 21.0, "{b_metrics}");
}

/// dnsdist with a DoH frontend (`addDOHLocal`) on `doh`, in front of the plain DNS server
/// `backend`; waits (at most 20 s) until it answers `www.fwd.test.` over plain DNS on `port`.
fn start_dnsdist(dir: &Path, port: u16, doh: u16, backend: SocketAddr) -> ChildGuard {
    std::fs::create_dir_all(dir).unwrap();
    let d = dir.display();
    let conf = dir.join("dnsdist.conf");
    std::fs::write(
        &conf,
        format!(
            "setSecurityPollSuffix(\"\")\n\
             setLocal(\"127.0.0.1:{port}\")\n\
             addDOHLocal(\"127.0.0.1:{doh}\", \"{d}/cert.pem\", \"{d}/key.pem\", \"/dns-query\")\n\
             newServer({{ address = \"{backend}\", checkName = \"fwd.test.\", checkType = \"SOA\" }})\n"
        ),
    )
    .unwrap();
    let log = dir.join("dnsdist.log");
    let child = Command::new("dnsdist")
        .args(["--supervised", "--disable-syslog", "-C"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run dnsdist ({e}): scripts/test.sh installs it"));
    let mut guard = ChildGuard(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut probe = query(4, "www.fwd.test.", RType::A, None);
    probe[2] |= 0x01;
    loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            panic!(
                "dnsdist exited with {status}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if let Some(resp) = try_exchange(addr, &probe, Duration::from_millis(300))
            && Message::parse(&resp).is_ok_and(|m| m.rcode() == Rcode::NOERROR)
        {
            return guard;
        }
        assert!(
            Instant::now() < deadline,
            "dnsdist not answering for 20 s:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn portcullis_forwards_over_doh_to_dnsdist() {
    let scratch = Scratch::new("fwd-doh-dnsdist");
    let (a, _, _) = start_a(&scratch, &["127.0.0.1"]);
    let dir = scratch.0.join("dnsdist");
    make_cert(&dir, "doh.test");
    let (port, doh) = (free_port(), free_port());
    let _dnsdist = start_dnsdist(&dir, port, doh, a.addr);
    let more = format!(
        "[[forward]]\nzone = \"fwd.test.\"\nto = [\"https://doh.test@127.0.0.1:{doh}/dns-query\"]\n\
         ca = \"{}\"\n",
        dir.join("cert.pem").display()
    );
    let (b, b_http) = start_b(&scratch, "b", &more, &[]);
    assert_eq!(
        resolve(b.addr, "www.fwd.test."),
        (Rcode::NOERROR, vec!["192.0.2.80".into()]),
        "{}",
        b.log()
    );
    for i in 0..5 {
        let (rcode, addrs) = resolve(b.addr, &format!("d{i}.fwd.test."));
        assert_eq!((rcode, addrs), (Rcode::NOERROR, vec!["192.0.2.99".into()]));
    }
    let b_metrics = metrics(b_http);
    let https = metric(
        &b_metrics,
        "portcullis_upstream_queries_total{protocol=\"https\"}",
    )
    .unwrap();
    assert!(https >= 6.0, "{b_metrics}");
}
