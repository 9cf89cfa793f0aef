//! dnstap on the wire: `portcullis serve --dnstap file:PATH` writes a Frame Streams file that
//! `dnstap-read` (BIND's) reads, client queries and responses over UDP and TCP; `--dnstap
//! unix:PATH` talks to `fstrm_capture` (the handshake, and a reconnect after the reader
//! restarts); a resolver taps the queries it forwards and the responses it gets
//! (RESOLVER_QUERY, RESOLVER_RESPONSE), without client messages when `client = false`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ChildGuard, Scratch, Server, ask, config, free_port, metric, zone};

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `dnstap-read [flags] path`: its standard output (empty when it fails).
fn dnstap_read(path: &Path, flags: &[&str]) -> String {
    let out = Command::new("dnstap-read")
        .args(flags)
        .arg(path)
        .output()
        .expect("dnstap-read (bind9-dnsutils): scripts/test.sh installs it");
    if !out.status.success() {
        return String::new();
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn metrics(http_port: u16) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .expect("curl: scripts/test.sh installs it");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_file_read_by_dnstap_read() {
    let scratch = Scratch::new("dnstap-file");
    let (port, http_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}")).replace(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
    );
    let text = format!("{text}\n[dnstap]\nidentity = \"ns-test\"\n");
    let config = scratch.write("portcullis.toml", &text);
    let tap = scratch.0.join("tap.fstrm");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start_with(
        &config,
        addr,
        scratch.0.join("server.log"),
        &["--dnstap", &format!("file:{}", tap.display())],
    );
    ask("dig", addr, &["www.example.test", "A"]);
    ask("dig", addr, &["missing.example.test", "MX", "+tcp"]);
    wait_for("four messages", || {
        let text = dnstap_read(&tap, &[]);
        text.contains("CR 127.0.0.1") && text.contains("missing.example.test/IN/MX")
    });
    let text = dnstap_read(&tap, &[]);
    let has = |kind: &str, proto: &str, question: &str| {
        text.lines().any(|l| {
            l.contains(&format!(" {kind} 127.0.0.1:"))
                && l.contains(&format!(" {proto} "))
                && l.ends_with(question)
        })
    };
    assert!(has("CQ", "UDP", "www.example.test/IN/A"), "{text}");
    let ours = format!("-> 127.0.0.1:{port} UDP");
    assert!(
        text.lines().any(|l| l.contains(&ours)),
        "our address: {text}"
    );
    assert!(has("CR", "UDP", "www.example.test/IN/A"), "{text}");
    assert!(has("CQ", "TCP", "missing.example.test/IN/MX"), "{text}");
    assert!(has("CR", "TCP", "missing.example.test/IN/MX"), "{text}");

    // The YAML form: every field where dnstap-read expects it.
    let yaml = dnstap_read(&tap, &["-y"]);
    assert!(yaml.contains("type: MESSAGE"), "{yaml}");
    assert!(yaml.contains("identity: ns-test"), "{yaml}");
    assert!(yaml.contains("version: portcullis "), "{yaml}");
    assert!(yaml.contains("type: CLIENT_QUERY"), "{yaml}");
    assert!(yaml.contains("type: CLIENT_RESPONSE"), "{yaml}");
    assert!(yaml.contains("socket_family: INET"), "{yaml}");
    assert!(yaml.contains("socket_protocol: UDP"), "{yaml}");
    assert!(yaml.contains("socket_protocol: TCP"), "{yaml}");
    assert!(yaml.contains("query_address: \"127.0.0.1\""), "{yaml}");
    assert!(yaml.contains("query_time: !!timestamp 20"), "{yaml}");
    assert!(yaml.contains("response_time: !!timestamp 20"), "{yaml}");
    assert!(yaml.contains("status: NXDOMAIN"), "{yaml}");
    assert!(
        yaml.contains("'www.example.test. 3600 IN A 192.0.2.80'"),
        "{yaml}"
    );

    let text = metrics(http_port);
    assert!(
        metric(&text, "portcullis_dnstap_written_total").unwrap() >= 4.0,
        "{text}"
    );
    assert_eq!(metric(&text, "portcullis_dnstap_dropped_total"), Some(0.0));

    // logrotate's way: move the file, SIGHUP; the old file is ended, a new one begun.
    let moved = scratch.0.join("tap.fstrm.1");
    std::fs::rename(&tap, &moved).unwrap();
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(1500));
    ask("dig", addr, &["after.example.test", "A"]);
    wait_for("the new file", || {
        dnstap_read(&tap, &[]).contains("after.example.test/IN/A")
    });
    let old = dnstap_read(&moved, &[]);
    assert!(old.contains("www.example.test/IN/A"), "{old}");
    assert!(!old.contains("after.example.test"), "{old}");
    let bytes = std::fs::read(&moved).unwrap();
    assert!(
        bytes.ends_with(&[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]),
        "ends with STOP"
    );
}

/// `fstrm_capture` on `socket`, writing `file`.
fn capture(socket: &Path, file: &Path, log: &Path) -> ChildGuard {
    let child = Command::new("fstrm_capture")
        .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
        .arg(socket)
        .arg("-w")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("fstrm_capture (fstrm-bin): scripts/test.sh installs it");
    wait_for("the capture socket", || socket.exists());
    ChildGuard(child)
}

/// Stops a capture the way an operator does (SIGINT: it closes its file) and waits.
fn stop(mut capture: ChildGuard) {
    let pid = capture.0.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    capture.wait(Duration::from_secs(10));
}

#[test]
fn a_socket_read_by_fstrm_capture_and_a_reconnect() {
    let scratch = Scratch::new("dnstap-unix");
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let config = scratch.write("portcullis.toml", &config(&format!("127.0.0.1:{port}")));
    let socket = scratch.0.join("tap.sock");
    let (first, second) = (
        scratch.0.join("first.fstrm"),
        scratch.0.join("second.fstrm"),
    );
    let reader = capture(&socket, &first, &scratch.0.join("capture1.log"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _server = Server::start_with(
        &config,
        addr,
        scratch.0.join("server.log"),
        &["--dnstap", &format!("unix:{}", socket.display())],
    );
    ask("dig", addr, &["www.example.test", "A"]);
    std::thread::sleep(Duration::from_millis(500));
    stop(reader);
    let text = dnstap_read(&first, &[]);
    assert!(
        text.contains(" CQ 127.0.0.1:") && text.contains(" CR 127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("www.example.test/IN/A"), "{text}");

    // The reader comes back: the server connects again (within its backoff) and goes on.
    let _ = std::fs::remove_file(&socket);
    let reader = capture(&socket, &second, &scratch.0.join("capture2.log"));
    std::thread::sleep(Duration::from_millis(2500));
    ask("dig", addr, &["again.example.test", "TXT"]);
    std::thread::sleep(Duration::from_millis(500));
    stop(reader);
    let text = dnstap_read(&second, &[]);
    assert!(text.contains("again.example.test/IN/TXT"), "{text}");
}

#[test]
fn a_resolver_taps_what_it_asks_upstream() {
    let scratch = Scratch::new("dnstap-resolver");
    let (auth_port, port) = (free_port(), free_port());
    // The upstream: an authoritative server for example.test.
    scratch.write("example.test.zone", &zone(1));
    let auth_config = scratch.write("auth.toml", &config(&format!("127.0.0.1:{auth_port}")));
    let auth_addr = SocketAddr::from(([127, 0, 0, 1], auth_port));
    let _auth = Server::start(&auth_config, auth_addr, scratch.0.join("auth.log"));
    // The resolver forwards example.test. to it and taps resolver messages only.
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\ncontrol_socket = \"r.sock\"\n\n\
         [dnstap]\nclient = false\n"
    );
    let config = scratch.write("resolver.toml", &text);
    let tap = scratch.0.join("tap.fstrm");
    let resolver = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--dnstap", &format!("file:{}", tap.display())])
        .args(["--forward", &format!("example.test.={auth_addr}")])
        .args(["--allow-recursion", "127.0.0.0/8", "--no-validation"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(scratch.0.join("resolver.log")).unwrap())
        .spawn()
        .unwrap();
    let _resolver = ChildGuard(resolver);
    wait_for("the resolver", || {
        Command::new("dig")
            .args(["@127.0.0.1", "-p", &port.to_string(), "+time=1", "+tries=1"])
            .args(["www.example.test", "A", "+short"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("192.0.2.80"))
    });
    wait_for("resolver messages", || {
        let text = dnstap_read(&tap, &[]);
        text.contains(" RQ ") && text.contains(" RR ")
    });
    let text = dnstap_read(&tap, &[]);
    let upstream = format!("127.0.0.1:{auth_port}");
    assert!(
        text.lines().any(|l| l.contains(" RQ ")
            && l.contains(&upstream)
            && l.to_ascii_lowercase().ends_with("www.example.test/in/a")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" RR ") && l.contains(&upstream)),
        "{text}"
    );
    assert!(
        !text.contains(" CQ ") && !text.contains(" CR "),
        "client = false: {text}"
    );
    let yaml = dnstap_read(&tap, &["-y"]);
    assert!(yaml.contains("type: RESOLVER_QUERY"), "{yaml}");
    assert!(yaml.contains("type: RESOLVER_RESPONSE"), "{yaml}");
    assert!(
        yaml.contains(&format!("response_port: {auth_port}")),
        "{yaml}"
    );
}
