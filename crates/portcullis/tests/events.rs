//! The security event stream on the wire: a server started with `--rrl` and `--events FILE`
//! writes one JSON line per limited response (up to `events.max_per_second` a second per
//! action), counts every action in `/metrics`, sends RFC 5424 messages to a syslog socket, and
//! reopens its file on SIGHUP after rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Scratch, Server, config, free_port, metric, query, zone};
use wire::RType;

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metrics(http_port: u16) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .expect("curl: scripts/test.sh installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends `count` queries for one name from `from` without waiting for answers.
fn flood(from: &str, to: SocketAddr, count: u16) {
    let s = UdpSocket::bind(format!("{from}:0")).unwrap();
    for i in 0..count {
        s.send_to(&query(i, "www.example.test.", RType::A, Some(1232)), to)
            .unwrap();
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[test]
fn rate_limited_responses_become_events_in_a_file_syslog_and_metrics() {
    let scratch = Scratch::new("events-rrl");
    let (port, http_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    let syslog_path = scratch.0.join("log.sock");
    let syslog = UnixDatagram::bind(&syslog_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let text = format!(
        "{}\n[events]\nsyslog = \"{}\"\nsyslog_facility = \"local3\"\nmax_per_second = 50\n",
        config(&format!("127.0.0.1:{port}")),
        syslog_path.display()
    )
    .replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
    );
    let config = scratch.write("portcullis.toml", &text);
    let events_file = scratch.0.join("events.json");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start_with(
        &config,
        addr,
        scratch.0.join("server.log"),
        &["--rrl", "5", "--events", events_file.to_str().unwrap()],
    );

    // 400 queries for one answer from 127.0.0.2 at 5 a second: nearly all are limited.
    flood("127.0.0.2", addr, 400);
    let lines = || {
        std::fs::read_to_string(&events_file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    wait_for("events in the file", || lines().len() >= 50);
    let first = lines()[0].clone();
    assert!(first.starts_with("{\"time\":\"20"), "{first}");
    assert!(
        first.contains("\"action\":\"rate_limited\"")
            && first.contains("\"client\":\"127.0.0.2\"")
            && first.contains("\"qname\":\"www.example.test.\"")
            && first.contains("\"qtype\":\"A\""),
        "{first}"
    );
    assert!(
        first.contains("\"reason\":\"rrl-drop\"") || first.contains("\"reason\":\"rrl-slip\""),
        "{first}"
    );
    let mut buf = [0u8; 4096];
    let n = syslog.recv(&mut buf).unwrap();
    let message = std::str::from_utf8(&buf[..n]).unwrap();
    // local3 (19) * 8 + warning (4).
    assert!(message.starts_with("<156>1 "), "{message}");
    assert!(message.contains("\"action\":\"rate_limited\""), "{message}");

    // Every limited response is counted; at most 50 a second are written.
    wait_for("metrics", || {
        metric(
            &metrics(http_port),
            "portcullis_security_events_total{action=\"rate_limited\"}",
        )
        .is_some_and(|v| v >= 300.0)
    });
    let text = metrics(http_port);
    let limited = metric(
        &text,
        "portcullis_security_events_total{action=\"rate_limited\"}",
    )
    .unwrap();
    let written = metric(&text, "portcullis_security_events_written_total").unwrap();
    let suppressed = metric(&text, "portcullis_security_events_suppressed_total").unwrap();
    assert!(written + suppressed >= limited - 1.0, "{text}");
    assert!(
        suppressed > 0.0,
        "the per-second cap held nothing back: {text}"
    );
    assert_eq!(
        metric(
            &text,
            "portcullis_security_events_total{action=\"blocked\"}"
        ),
        Some(0.0)
    );
    // 127.0.0.1 is another prefix: still answered.
    let answer = common::exchange(addr, &query(7, "www.example.test.", RType::A, None));
    assert_eq!(answer[3] & 0x0f, 0);

    // Rotation: move the file away, SIGHUP, and new events go to a new file.
    let rotated = scratch.0.join("events.json.1");
    std::fs::rename(&events_file, &rotated).unwrap();
    server.signal("HUP");
    // The reload reopens the file before the next event is written.
    std::thread::sleep(Duration::from_millis(1500));
    flood("127.0.0.3", addr, 200);
    wait_for("events in the reopened file", || {
        std::fs::read_to_string(&events_file).is_ok_and(|t| t.contains("127.0.0.3"))
    });
}
