//! The query log on the wire: `portcullis serve --query-log FILE` writes one JSON line per
//! answered query (UDP, TCP, DNS over TLS), with the fields docs/OPERATIONS.md lists; sampling,
//! address truncation and excluded zones; rotation by size and reopening on SIGHUP; and a full
//! queue that drops and counts in `/metrics` while the server keeps answering.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ChildGuard, Scratch, Server, ask, config, free_port, make_cert, metric, query, zone};
use serde_json::Value;
use wire::RType;

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line of `path`, parsed (each must be one JSON object).
fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn metrics(http_port: u16) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .expect("curl: scripts/test.sh installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends `count` queries for `name` from one socket bound to `from`, each awaited.
fn ask_many(from: &str, to: SocketAddr, name: &str, count: u16) {
    let s = UdpSocket::bind(format!("{from}:0")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 4096];
    for i in 0..count {
        s.send_to(&query(i, name, RType::A, None), to).unwrap();
        s.recv_from(&mut buf).unwrap();
    }
}

#[test]
fn udp_tcp_and_dot_queries_are_logged_with_their_fields() {
    let scratch = Scratch::new("qlog-fields");
    make_cert(&scratch.0, "dns.test");
    let (port, tls_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    let text = format!(
        "{}\n[tls]\nlisten = [\"127.0.0.1:{tls_port}\"]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
        config(&format!("127.0.0.1:{port}"))
    );
    let config = scratch.write("portcullis.toml", &text);
    let log = scratch.0.join("queries.json");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _server = Server::start_with(
        &config,
        addr,
        scratch.0.join("server.log"),
        &["--query-log", log.to_str().unwrap()],
    );
    ask(
        "dig",
        addr,
        &["www.example.test", "A", "+dnssec", "+bufsize=1400"],
    );
    ask(
        "dig",
        addr,
        &["missing.example.test", "AAAA", "+tcp", "+noedns"],
    );
    let out = Command::new("kdig")
        .args(["@127.0.0.1", "-p", &tls_port.to_string(), "+tls", "+time=2"])
        .args(["+retry=0", "www.example.test", "MX"])
        .output()
        .unwrap();
    assert!(out.status.success());
    ask("dig", addr, &["version.bind", "TXT", "CH"]);

    wait_for("four lines", || {
        lines(&log)
            .iter()
            .filter(|l| l["qname"] != "example.test.")
            .count()
            >= 4
    });
    let all = lines(&log);
    let find = |name: &str| {
        all.iter()
            .find(|l| l["qname"] == name)
            .unwrap_or_else(|| panic!("no line for {name}: {all:?}"))
    };

    let udp = find("www.example.test.");
    assert!(udp["time"].as_str().unwrap().ends_with('Z'), "{udp}");
    assert_eq!(
        udp["time"].as_str().unwrap().len(),
        24,
        "ms precision: {udp}"
    );
    assert_eq!(udp["type"], "query");
    assert_eq!(udp["client"], "127.0.0.1");
    assert!(udp["port"].as_u64().unwrap() > 0);
    assert_eq!(udp["transport"], "udp");
    assert_eq!(udp["qtype"], "A");
    assert!(udp.get("qclass").is_none(), "IN is implied: {udp}");
    assert_eq!(udp["rcode"], "NOERROR");
    assert_eq!(udp["source"], "zone");
    assert!(udp["latency_us"].as_u64().is_some());
    assert_eq!(udp["flags"], serde_json::json!(["AA", "RD", "DO"]));
    assert_eq!(udp["edns_udp"], 1400);
    assert!(udp["size"].as_u64().unwrap() > 40);
    assert!(udp["id"].as_u64().is_some());
    assert!(udp.get("policy").is_none());

    let tcp = find("missing.example.test.");
    assert_eq!(tcp["transport"], "tcp");
    assert_eq!(tcp["qtype"], "AAAA");
    assert_eq!(tcp["rcode"], "NXDOMAIN");
    assert!(tcp.get("edns_udp").is_none(), "{tcp}");

    let dot = all
        .iter()
        .find(|l| l["transport"] == "dot")
        .unwrap_or_else(|| panic!("no DoT line: {all:?}"));
    assert_eq!(dot["qname"], "www.example.test.");
    assert_eq!(dot["qtype"], "MX");

    let chaos = find("version.bind.");
    assert_eq!(chaos["qclass"], "CH");
}

#[test]
fn sampling_truncation_and_excluded_zones() {
    let scratch = Scratch::new("qlog-sample");
    let port = free_port();
    let mut z = zone(1);
    z.push_str("a.skip A 192.0.2.1\n");
    scratch.write("example.test.zone", &z);
    let log = scratch.0.join("queries.json");
    let text = format!(
        "{}\n[query_log]\nfile = \"{}\"\nsample = 4\nclient_prefix_v4 = 24\n\
         exclude = [\"skip.example.test\"]\n",
        config(&format!("127.0.0.1:{port}")),
        log.display()
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _server = Server::start(&config, addr, scratch.0.join("server.log"));
    // One socket: one worker (SO_REUSEPORT hashes the client's address and port), whose
    // counter logs one query in four.
    ask_many("127.0.0.5", addr, "www.example.test.", 200);
    ask_many("127.0.0.5", addr, "a.skip.example.test.", 200);
    ask_many("127.0.0.5", addr, "www.example.test.", 4);
    // Every client is in 127.0.0.0/24; the start-up probes ask for example.test. SOA.
    let ours = || -> Vec<Value> {
        lines(&log)
            .into_iter()
            .filter(|l| l["qname"] != "example.test.")
            .collect()
    };
    wait_for("the last sampled line", || ours().len() >= 50);
    std::thread::sleep(Duration::from_millis(300));
    let ours = ours();
    // 404 queries, one in four sampled (the start-up probe may have moved the counter by one),
    // the excluded zone's never written.
    assert!((50..=52).contains(&ours.len()), "{}", ours.len());
    assert!(ours.iter().all(|l| l["qname"] == "www.example.test."));
    assert!(lines(&log).iter().all(|l| l["client"] == "127.0.0.0"));
}

#[test]
fn files_rotate_by_size_and_reopen_on_sighup() {
    let scratch = Scratch::new("qlog-rotate");
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let log = scratch.0.join("queries.json");
    let text = format!(
        "{}\n[query_log]\nfile = \"{}\"\nmax_size = 2000\nkeep = 2\n",
        config(&format!("127.0.0.1:{port}")),
        log.display()
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    let numbered = |n: u32| scratch.0.join(format!("queries.json.{n}"));
    // About 250 bytes a line: 60 lines are 15,000 bytes, many rotations.
    for _ in 0..3 {
        ask_many("127.0.0.1", addr, "www.example.test.", 20);
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for("two rotated files", || numbered(2).exists());
    std::thread::sleep(Duration::from_millis(300));
    assert!(!numbered(3).exists(), "keep = 2");
    for path in [log.clone(), numbered(1), numbered(2)] {
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 2000, "{}: {size}", path.display());
        assert!(!lines(&path).is_empty(), "{}", path.display());
    }
    assert_eq!(lines(&numbered(1)).len(), lines(&numbered(2)).len());

    // logrotate's way: move the file, SIGHUP, and the next lines go to a new file.
    let moved = scratch.0.join("moved.json");
    std::fs::rename(&log, &moved).unwrap();
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(1500));
    ask_many("127.0.0.9", addr, "www.example.test.", 3);
    wait_for("lines in the reopened file", || {
        lines(&log).iter().any(|l| l["client"] == "127.0.0.9")
    });
    assert!(lines(&moved).iter().all(|l| l["client"] != "127.0.0.9"));
}

#[test]
fn a_full_queue_drops_and_counts_and_answers_go_on() {
    let scratch = Scratch::new("qlog-full");
    let (port, http_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    let text = format!(
        "{}\n[query_log]\nqueue = 16\n",
        config(&format!("127.0.0.1:{port}"))
    )
    .replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
    );
    let config = scratch.write("portcullis.toml", &text);
    // The log goes to standard output, a pipe nobody reads: once the pipe and the writer's
    // buffer are full, the writer blocks and the queue fills.
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "serve",
            "--config",
            config.to_str().unwrap(),
            "--query-log",
            "-",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(scratch.0.join("server.log")).unwrap())
        .spawn()
        .unwrap();
    let _guard = ChildGuard(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for("the server", || {
        common::try_exchange(
            addr,
            &query(1, "www.example.test.", RType::A, None),
            Duration::from_millis(200),
        )
        .is_some()
    });
    // 3,000 lines of about 250 bytes: far more than the pipe (64 KiB) and buffer hold.
    ask_many("127.0.0.1", addr, "www.example.test.", 3000);
    let text = metrics(http_port);
    let written = metric(&text, "portcullis_query_log_written_total").unwrap();
    let dropped = metric(&text, "portcullis_query_log_dropped_total").unwrap();
    assert!(written > 100.0, "{text}");
    assert!(dropped > 1000.0, "{text}");
    assert!(written + dropped <= 3002.0, "{written} + {dropped}");
    // Still answering at once.
    let answer = common::exchange(addr, &query(9, "www.example.test.", RType::A, None));
    assert_eq!(answer[3] & 0x0f, 0);
}

#[test]
fn a_blocked_name_and_a_resolved_answer_say_what_answered() {
    let scratch = Scratch::new("qlog-policy");
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    scratch.write("block.txt", "ads.bad.com\n");
    let text = config(&format!("127.0.0.1:{port}"))
        + "\n[acl]\nquery = [\"refuse 127.0.0.7\", \"allow any\"]\n";
    let config = scratch.write("portcullis.toml", &text);
    let log = scratch.0.join("queries.json");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let blocklist = scratch.0.join("block.txt");
    // The forwarder is a closed port: resolutions end in SERVFAIL, from the resolver.
    let _server = Server::start_with(
        &config,
        addr,
        scratch.0.join("server.log"),
        &[
            "--query-log",
            log.to_str().unwrap(),
            "--blocklist",
            blocklist.to_str().unwrap(),
            "--forward",
            ".=127.0.0.1:9",
            "--allow-recursion",
            "127.0.0.0/8",
        ],
    );
    ask("dig", addr, &["ads.bad.com", "A"]);
    // 127.0.0.7 is refused by the query ACL.
    let s = UdpSocket::bind("127.0.0.7:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&query(3, "www.example.test.", RType::A, None), addr)
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.recv(&mut buf).unwrap();
    assert_eq!(buf[..n][3] & 0x0f, 5, "REFUSED");
    ask("dig", addr, &["foo.nowhere.com", "A", "+time=5"]);
    ask("dig", addr, &["bar.nowhere.com", "A", "+time=5", "+tcp"]);
    wait_for("four lines", || {
        lines(&log)
            .iter()
            .filter(|l| l["qname"] != "example.test.")
            .count()
            >= 4
    });
    let all = lines(&log);
    let find = |name: &str| all.iter().find(|l| l["qname"] == name).unwrap();
    let blocked = find("ads.bad.com.");
    assert_eq!(blocked["source"], "policy");
    assert_eq!(blocked["policy"], "blocked");
    assert_eq!(blocked["reason"], "blocklist");
    assert_eq!(blocked["rcode"], "NXDOMAIN");
    let refused = all.iter().find(|l| l["client"] == "127.0.0.7").unwrap();
    assert_eq!(refused["rcode"], "REFUSED");
    assert_eq!(refused["policy"], "acl_refused");
    assert_eq!(refused["reason"], "acl query");
    for (name, transport) in [("foo.nowhere.com.", "udp"), ("bar.nowhere.com.", "tcp")] {
        let line = find(name);
        assert_eq!(line["source"], "recursion", "{line}");
        assert_eq!(line["transport"], transport, "{line}");
        assert_eq!(line["rcode"], "SERVFAIL", "{line}");
        assert_eq!(line["edns_udp"], 1232, "{line}");
        assert_eq!(line["flags"], serde_json::json!(["RD", "RA"]), "{line}");
    }
}
