//! `portcullis query` against a tiny UDP and TCP responder on loopback, written here with
//! `wire`: answers, the TCP retry after TC, ignored forged datagrams, timeouts and usage errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use wire::message::Header;
use wire::{Class, Message, MessageWriter, Name, RType, Rcode, Section};

// ---------------------------------------------------------------------------------------------
// The responder
// ---------------------------------------------------------------------------------------------

/// Names the responder treats specially.
const TRUNCATE: &str = "tc.test.";
const FORGE: &str = "forged.test.";
const SILENT: &str = "silent.test.";

/// Answers `query`: A 192.0.2.1 for any name, with TC and no answer for `tc.test.` over UDP.
/// The OPT record echoes the query's payload size and DO bit.
fn respond(query: &[u8], udp: bool) -> Option<Vec<u8>> {
    let msg = Message::parse(query).ok()?;
    let q = msg.question()?;
    let qname = q.qname().ok()?;
    let truncate = udp && qname == name(TRUNCATE);
    let h = msg.header();
    let header = Header {
        id: h.id,
        flags: h.flags.with_qr(true).with_aa(true).with_tc(truncate),
        ..Header::default()
    };
    let mut buf = vec![0u8; 4096];
    let mut w = MessageWriter::new(&mut buf, 4096, header).ok()?;
    w.push_question(qname.as_ref(), q.qtype, q.qclass).ok()?;
    if !truncate {
        w.push(
            Section::Answer,
            qname.as_ref(),
            RType::A,
            Class::IN,
            300,
            &[192, 0, 2, 1],
        )
        .ok()?;
    }
    if let Some(edns) = msg.edns() {
        w.opt(edns.udp_payload, Rcode::NOERROR, edns.dnssec_ok())
            .ok()?
            .finish()
            .ok()?;
    }
    Some(w.finish().to_vec())
}

fn name(text: &str) -> Name {
    Name::from_text(text.as_bytes(), None).unwrap()
}

/// The responder's address: UDP and TCP on one loopback port, served by two threads for the
/// whole test run.
fn responder() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (udp, tcp) = (0..20)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("a loopback port free for both UDP and TCP");
        let addr = udp.local_addr().unwrap();
        thread::spawn(move || serve_udp(udp));
        thread::spawn(move || serve_tcp(tcp));
        addr
    })
}

fn serve_udp(socket: UdpSocket) {
    let mut buf = [0u8; 65535];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let query = &buf[..n];
        let qname = Message::parse(query)
            .ok()
            .and_then(|m| m.question())
            .and_then(|q| q.qname().ok());
        if qname == Some(name(SILENT)) {
            continue;
        }
        let Some(response) = respond(query, true) else {
            continue;
        };
        if qname == Some(name(FORGE)) {
            // First a datagram with another ID, then one for another question, then garbage;
            // the client must ignore all three and take the real answer after them.
            let mut forged = response.clone();
            forged[0] ^= 0xff;
            let _ = socket.send_to(&forged, peer);
            let mut other = response.clone();
            let at = 13; // first byte of the first label: "forged" becomes "gorged"
            other[at] = b'g';
            let _ = socket.send_to(&other, peer);
            let _ = socket.send_to(&response[..7], peer);
        }
        let _ = socket.send_to(&response, peer);
    }
}

fn serve_tcp(listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        thread::spawn(move || {
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                return;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if stream.read_exact(&mut query).is_err() {
                return;
            }
            if let Some(response) = respond(&query, false) {
                let mut framed = (response.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&response);
                let _ = stream.write_all(&framed);
            }
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Running the command
// ---------------------------------------------------------------------------------------------

fn query(args: &[&str]) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("query")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

fn at() -> String {
    format!("@{}", responder())
}

fn footer_server(transport: &str) -> String {
    let a = responder();
    format!(";; SERVER: {}#{}({transport})", a.ip(), a.port())
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn answer_over_udp() {
    let (out, stdout, stderr) = query(&["www.example.test", &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: ")),
        "{stdout}"
    );
    assert!(
        lines.contains(&";; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1"),
        "{stdout}"
    );
    assert!(
        lines.contains(&"; EDNS: version: 0, flags:; udp: 1232"),
        "{stdout}"
    );
    assert!(lines.contains(&";www.example.test.\t\tIN\tA"), "{stdout}");
    assert!(
        lines.contains(&"www.example.test.\t300\tIN\tA\t192.0.2.1"),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(";; Query time: ") && l.ends_with(" msec")),
        "{stdout}"
    );
    assert!(lines.contains(&footer_server("UDP").as_str()), "{stdout}");
    let size = lines
        .iter()
        .find_map(|l| l.strip_prefix(";; MSG SIZE  rcvd: "))
        .unwrap();
    // Header 12, question 22, answer 16 (compressed owner), OPT 11.
    assert_eq!(size, "61", "{stdout}");
    assert!(!stdout.contains("Truncated"), "{stdout}");
    assert_eq!(stderr, "");
}

#[test]
fn answer_over_tcp() {
    let (out, stdout, stderr) = query(&["www.example.test", "AAAA", "+tcp", &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(&footer_server("TCP")), "{stdout}");
    assert!(
        stdout.contains(";www.example.test.\t\tIN\tAAAA"),
        "{stdout}"
    );
    assert!(!stdout.contains("Truncated"), "{stdout}");
}

#[test]
fn truncated_udp_answer_is_asked_again_over_tcp() {
    let (out, stdout, stderr) = query(&[TRUNCATE, &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(";; Truncated, retrying in TCP mode.\n"),
        "{stdout}"
    );
    assert!(stdout.contains(&footer_server("TCP")), "{stdout}");
    assert!(
        stdout.contains("tc.test.\t300\tIN\tA\t192.0.2.1"),
        "{stdout}"
    );
    assert!(stdout.contains(";; flags: qr aa rd;"), "{stdout}");
}

#[test]
fn flags_class_and_edns_options() {
    let (out, stdout, _) = query(&["a.test", "+norec", "+dnssec", "+bufsize=4096", &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(";; flags: qr aa; QUERY: 1"), "{stdout}");
    assert!(
        stdout.contains("; EDNS: version: 0, flags: do; udp: 4096"),
        "{stdout}"
    );

    let (out, stdout, _) = query(&["a.test", "+noedns", &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("OPT PSEUDOSECTION"), "{stdout}");
    assert!(stdout.contains("ADDITIONAL: 0"), "{stdout}");

    let (out, stdout, _) = query(&["version.bind", "TXT", "CH", &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains(";version.bind.\t\tCH\tTXT"), "{stdout}");
}

#[test]
fn forged_and_malformed_datagrams_are_ignored() {
    let (out, stdout, stderr) = query(&[FORGE, &at()]);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("forged.test.\t300\tIN\tA\t192.0.2.1"),
        "{stdout}"
    );
    assert!(stderr.contains("ID mismatch"), "{stderr}");
    assert!(stderr.contains("question mismatch"), "{stderr}");
    assert!(stderr.contains("malformed response"), "{stderr}");
}

#[test]
fn no_answer_times_out_with_exit_9() {
    let started = Instant::now();
    let (out, stdout, stderr) = query(&[SILENT, "+timeout=1", &at()]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(9), "{stdout}{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(stderr.contains("no servers could be reached"), "{stderr}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn nothing_listening_gives_exit_9() {
    // A port with nothing on it: bind one, note it, close it.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let (out, stdout, stderr) = query(&["a.test", "+timeout=2", &format!("@127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(9), "{stdout}{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        stderr.contains(&format!("communications error to 127.0.0.1#{port}")),
        "{stderr}"
    );

    let (out, _, stderr) = query(&[
        "a.test",
        "+tcp",
        "+timeout=2",
        &format!("@127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
}

#[test]
fn usage_errors_exit_1() {
    for args in [
        &[][..],
        &["a.test", "NOSUCHTYPE"],
        &["a.test", "+frobnicate"],
        &["a.test", "+timeout=0"],
        &["a.test", "@127.0.0.1:notaport"],
    ] {
        let (out, stdout, stderr) = query(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stdout}{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains("usage: portcullis query"), "{stderr}");
        assert_eq!(stdout, "");
    }
}
