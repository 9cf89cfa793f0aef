//! Access-control lists on the wire, against `portcullis serve`: clients on chosen 127.x
//! source addresses are allowed, refused (REFUSED with EDE 18) or dropped (no answer, the TCP
//! connection closed), by the query ACL, a listener's own ACL, the recursion ACL (with
//! `--allow-recursion`), the transfer ACL (`dig AXFR`), the HTTP ACL (`curl`) and the control
//! socket's, for IPv4 and IPv6 clients; a reload changes an ACL; every refusal and drop is a
//! security event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Scratch, Server, config, ctl, free_port_on, query, zone};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use wire::edns::OptionCode;
use wire::{Message, RType, Rcode};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// What a client got.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    /// A response: its RCODE, its EDE code, whether RA was set, and its answer count.
    Answer {
        rcode: Rcode,
        ede: Option<u16>,
        ra: bool,
        answers: u16,
    },
    /// Nothing within the time allowed, or the connection closed.
    Nothing,
}

fn got(response: &[u8]) -> Got {
    let m = Message::parse(response).unwrap();
    let ede = m.edns().and_then(|e| {
        let data = e.option(OptionCode::EDE)?;
        Some(u16::from_be_bytes([*data.first()?, *data.get(1)?]))
    });
    Got::Answer {
        rcode: m.rcode(),
        ede,
        ra: m.header().flags.ra(),
        answers: m.header().ancount,
    }
}

/// One query over UDP from `from` (port chosen by the kernel) to `to`.
fn udp(from: &str, to: SocketAddr, q: &[u8]) -> Got {
    let s = UdpSocket::bind((ip(from), 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    s.send_to(q, to).unwrap();
    let mut buf = [0u8; 65_535];
    match common::recv_from(&s, &mut buf) {
        Some((n, _)) => got(&buf[..n]),
        None => Got::Nothing,
    }
}

/// One query over TCP from `from` to `to`.
fn tcp(from: &str, to: SocketAddr, q: &[u8]) -> Got {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket
        .bind(&SockAddr::from(SocketAddr::new(ip(from), 0)))
        .unwrap();
    socket.connect(&SockAddr::from(to)).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    // A dropped client's connection is closed: the write may fail, the read sees the end.
    let _ = stream.write_all(&framed);
    let mut len = [0u8; 2];
    if stream.read_exact(&mut len).is_err() {
        return Got::Nothing;
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).unwrap();
    got(&buf)
}

fn refused(ede: Option<u16>, ra: bool) -> Got {
    Got::Answer {
        rcode: Rcode::REFUSED,
        ede,
        ra,
        answers: 0,
    }
}

fn answered(answers: u16) -> Got {
    Got::Answer {
        rcode: Rcode::NOERROR,
        ede: None,
        ra: false,
        answers,
    }
}

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn events(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A configuration listening on `127.0.0.1:port` and `127.0.0.2:port`, with `extra` appended.
fn two_listeners(port: u16, extra: &str) -> String {
    config(&format!("127.0.0.1:{port}"))
        .replace(
            &format!("listen = [\"127.0.0.1:{port}\"]"),
            &format!("listen = [\"127.0.0.1:{port}\", \"127.0.0.2:{port}\"]"),
        )
        .replace("[[zone]]", &format!("{extra}\n[[zone]]"))
}

#[test]
fn query_acl_allows_refuses_and_drops_per_listener() {
    let scratch = Scratch::new("acl-query");
    let port = free_port_on(&[ip("127.0.0.1"), ip("127.0.0.2")]);
    scratch.write("example.test.zone", &zone(1));
    let text = two_listeners(
        port,
        &format!(
            "[acl]\n\
             lists = {{ refused = [\"127.0.1.0/24\"], dropped = [\"127.0.2.0/24\"] }}\n\
             query = [\"drop dropped\", \"refuse refused\", \"allow any\"]\n\n\
             [[acl.listener]]\nlisten = \"127.0.0.2:{port}\"\n\
             query = [\"allow 127.0.1.0/24\", \"refuse any\"]\n"
        ),
    );
    let config = scratch.write("portcullis.toml", &text);
    let events_file = scratch.0.join("events.json");
    let main = SocketAddr::from(([127, 0, 0, 1], port));
    let other = SocketAddr::from(([127, 0, 0, 2], port));
    let server = Server::start_with(
        &config,
        main,
        scratch.0.join("server.log"),
        &["--events", events_file.to_str().unwrap()],
    );
    let with_edns = query(1, "www.example.test.", RType::A, Some(1232));
    let without = query(2, "www.example.test.", RType::A, None);

    // The engine-wide ACL on 127.0.0.1.
    assert_eq!(udp("127.0.0.1", main, &with_edns), answered(1));
    assert_eq!(udp("127.0.1.1", main, &with_edns), refused(Some(18), false));
    assert_eq!(udp("127.0.1.1", main, &without), refused(None, false));
    assert_eq!(udp("127.0.2.1", main, &with_edns), Got::Nothing);
    assert_eq!(tcp("127.0.0.1", main, &with_edns), answered(1));
    assert_eq!(tcp("127.0.1.1", main, &with_edns), refused(Some(18), false));
    assert_eq!(tcp("127.0.2.1", main, &with_edns), Got::Nothing);

    // dig, from a chosen source address.
    let dig = |from: &str| {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "-b",
                from,
                "+time=1",
                "+tries=1",
                "www.example.test.",
                "A",
            ])
            .output()
            .expect("dig: scripts/test.sh installs it");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = dig("127.0.1.1");
    assert!(out.contains("status: REFUSED"), "{out}");
    assert!(out.contains("EDE: 18"), "{out}");
    assert!(dig("127.0.0.1").contains("status: NOERROR"));
    assert!(dig("127.0.2.1").contains("timed out"));

    // The listener on 127.0.0.2 has its own ACL: the other way round.
    assert_eq!(udp("127.0.1.1", other, &with_edns), answered(1));
    assert_eq!(
        udp("127.0.0.1", other, &with_edns),
        refused(Some(18), false)
    );

    // Each refusal and drop is a security event with the client and the question.
    wait_for("the ACL events", || {
        let lines = events(&events_file);
        lines.iter().any(|l| l.contains("\"acl_dropped\""))
            && lines
                .iter()
                .filter(|l| l.contains("\"acl_refused\""))
                .count()
                >= 5
    });
    let lines = events(&events_file);
    let refusal = lines
        .iter()
        .find(|l| l.contains("\"acl_refused\"") && l.contains("127.0.1.1"))
        .unwrap();
    assert!(refusal.contains("\"reason\":\"acl query\""), "{refusal}");
    assert!(
        refusal.contains("\"qname\":\"www.example.test.\""),
        "{refusal}"
    );
    assert!(refusal.contains("\"qtype\":\"A\""), "{refusal}");
    let dropped = lines
        .iter()
        .find(|l| l.contains("\"acl_dropped\"") && l.contains("\"client\":\"127.0.2.1\""))
        .unwrap();
    assert!(dropped.contains("\"reason\":\"acl query\""), "{dropped}");
    drop(server);
}

#[test]
fn recursion_acl_with_allow_recursion_flag() {
    let scratch = Scratch::new("acl-recursion");
    let port = free_port_on(&[ip("127.0.0.1"), ip("127.0.0.2")]);
    scratch.write("example.test.zone", &zone(1));
    let text = two_listeners(
        port,
        &format!(
            "[resolver]\nenabled = true\n\n\
             [acl]\nrecursion = [\"drop 127.0.2.0/24\", \"allow 127.0.0.1\"]\n\n\
             [[acl.listener]]\nlisten = \"127.0.0.2:{port}\"\nrecursion = [\"allow any\"]\n"
        ),
    );
    let config = scratch.write("portcullis.toml", &text);
    let main = SocketAddr::from(([127, 0, 0, 1], port));
    let other = SocketAddr::from(([127, 0, 0, 2], port));
    // Forward to a port nobody answers: no question here needs an upstream.
    let nowhere = format!(".=127.0.0.1:{}", common::free_port());
    let _server = Server::start_with(
        &config,
        main,
        scratch.0.join("server.log"),
        &["--forward", &nowhere, "--allow-recursion", "127.0.3.0/24"],
    );
    // RD clear and nothing cached: a client offered recursion gets REFUSED with EDE 0 and RA;
    // one the ACL refuses, REFUSED with EDE 18 and no RA; one it drops, nothing.
    let q = query(3, "name.elsewhere.example.", RType::A, Some(1232));
    assert_eq!(udp("127.0.0.1", main, &q), refused(Some(0), true));
    assert_eq!(udp("127.0.3.1", main, &q), refused(Some(0), true));
    assert_eq!(udp("127.0.1.1", main, &q), refused(Some(18), false));
    assert_eq!(tcp("127.0.4.1", main, &q), refused(Some(18), false));
    assert_eq!(udp("127.0.2.1", main, &q), Got::Nothing);
    assert_eq!(tcp("127.0.2.1", main, &q), Got::Nothing);
    // The zones still answer everyone.
    let zq = query(4, "www.example.test.", RType::A, Some(1232));
    assert!(matches!(
        udp("127.0.2.1", main, &zq),
        Got::Answer { answers: 1, .. }
    ));
    // The listener on 127.0.0.2 offers recursion to everyone.
    assert_eq!(udp("127.0.2.1", other, &q), refused(Some(0), true));
}

#[test]
fn transfer_acl_with_dig_axfr() {
    let scratch = Scratch::new("acl-transfer");
    let port = free_port_on(&[ip("127.0.0.1")]);
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}")).replace(
        "[[zone]]",
        "[acl]\ntransfer = [\"allow 127.0.0.1\", \"drop 127.0.2.0/24\"]\n\n[[zone]]",
    );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _server = Server::start(&config, addr, scratch.0.join("server.log"));
    let axfr = |from: &str| {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &port.to_string(),
                "-b",
                from,
                "+time=2",
                "+tries=1",
                "example.test.",
                "AXFR",
            ])
            .output()
            .expect("dig: scripts/test.sh installs it");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let allowed = axfr("127.0.0.1");
    assert_eq!(allowed.matches("\tSOA\t").count(), 2, "{allowed}");
    assert!(axfr("127.0.1.1").contains("Transfer failed"));
    let q = query(5, "example.test.", RType::AXFR, None);
    assert_eq!(tcp("127.0.1.1", addr, &q), refused(None, false));
    assert_eq!(tcp("127.0.2.1", addr, &q), Got::Nothing);
}

#[test]
fn http_and_control_acls() {
    let scratch = Scratch::new("acl-http");
    let port = free_port_on(&[ip("127.0.0.1")]);
    let http_port = free_port_on(&[ip("127.0.0.1")]);
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}"))
        .replace(
            "[server]\n",
            &format!("[server]\nhttp = \"127.0.0.1:{http_port}\"\n"),
        )
        .replace(
            "[[zone]]",
            "[acl]\nhttp = [\"allow 127.0.0.1\", \"drop 127.0.2.0/24\"]\n\
             control = [\"refuse any\"]\n\n[[zone]]",
        );
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let _server = Server::start(&config, addr, scratch.0.join("server.log"));
    let curl = |from: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-m",
                "3",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--interface",
                from,
                &format!("http://127.0.0.1:{http_port}/healthz"),
            ])
            .output()
            .expect("curl: scripts/test.sh installs it");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(curl("127.0.0.1"), (Some(0), "200".to_owned()));
    assert_eq!(curl("127.0.1.1"), (Some(0), "403".to_owned()));
    // Closed unread: curl sees an empty reply (exit 52) or a reset (exit 56).
    let (code, status) = curl("127.0.2.1");
    assert!(matches!(code, Some(52 | 56)), "{code:?} {status}");

    // The control socket refuses everyone, root included.
    let (code, out) = ctl(&scratch.0.join("control.sock"), "status");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("may not control the server"), "{out}");

    // The refusals and the drop are counted per action.
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http_port}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let count = |action: &str| {
        common::metric(
            &text,
            &format!("portcullis_security_events_total{{action=\"{action}\"}}"),
        )
    };
    assert_eq!(count("acl_refused"), Some(2.0), "{text}");
    assert_eq!(count("acl_dropped"), Some(1.0), "{text}");
}

#[test]
fn reload_changes_the_query_acl() {
    let scratch = Scratch::new("acl-reload");
    let port = free_port_on(&[ip("127.0.0.1")]);
    scratch.write("example.test.zone", &zone(1));
    let base = config(&format!("127.0.0.1:{port}"));
    let with =
        |rules: &str| base.replace("[[zone]]", &format!("[acl]\nquery = {rules}\n\n[[zone]]"));
    let config = scratch.write(
        "portcullis.toml",
        &with("[\"refuse 127.0.1.0/24\", \"allow any\"]"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    let q = query(6, "www.example.test.", RType::A, Some(1232));
    assert_eq!(udp("127.0.1.1", addr, &q), refused(Some(18), false));
    assert_eq!(udp("127.0.2.1", addr, &q), answered(1));

    scratch.write(
        "portcullis.toml",
        &with("[\"drop 127.0.2.0/24\", \"allow any\"]"),
    );
    server.signal("HUP");
    wait_for("the new ACL", || udp("127.0.1.1", addr, &q) == answered(1));
    assert_eq!(udp("127.0.2.1", addr, &q), Got::Nothing);
    // A reload with a bad ACL keeps the running one and names the place.
    scratch.write("portcullis.toml", &with("[\"allow nowhere\"]"));
    server.signal("HUP");
    server.wait_log("portcullis.toml:", 1);
    assert!(
        server.log().contains("`nowhere` is no list"),
        "{}",
        server.log()
    );
    assert_eq!(udp("127.0.1.1", addr, &q), answered(1));
}

#[test]
fn ipv6_clients_match_ipv6_rules() {
    if UdpSocket::bind("[::1]:0").is_err() {
        println!("SKIPPED: this host has no IPv6 loopback");
        return;
    }
    let scratch = Scratch::new("acl-ipv6");
    let port = free_port_on(&[ip("127.0.0.1"), ip("::1")]);
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}"))
        .replace(
            &format!("listen = [\"127.0.0.1:{port}\"]"),
            &format!("listen = [\"127.0.0.1:{port}\", \"[::1]:{port}\"]"),
        )
        .replace(
            "[[zone]]",
            "[acl]\nquery = [\"refuse ::1\", \"allow any\"]\n\n[[zone]]",
        );
    let config = scratch.write("portcullis.toml", &text);
    let v4 = SocketAddr::from(([127, 0, 0, 1], port));
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let _server = Server::start(&config, v4, scratch.0.join("server.log"));
    let q = query(7, "www.example.test.", RType::A, Some(1232));
    assert_eq!(udp("::1", v6, &q), refused(Some(18), false));
    assert_eq!(udp("127.0.0.1", v4, &q), answered(1));
}
