//! DNS cookies on the wire (RFC 7873, RFC 9018): `portcullis serve` answered by `dig` and
//! `kdig` (which send a client cookie, and retry with the server's cookie after BADCOOKIE) and a
//! client built on the `wire` crate. A configured secret makes the same cookies across a restart
//! (and the cookies RFC 9018 says it should); `require` answers BADCOOKIE until the returned
//! cookie is used; a malformed option is FORMERR; a client with a valid cookie is not rate
//! limited while a flood without cookies from another prefix is; and BIND's `named`, given the
//! same secret, accepts our cookies and makes cookies we accept (RFC 9018 interoperability).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ChildGuard, Scratch, Server, ask, config, exchange, free_port, try_exchange, zone};
use guard::Secret;
use wire::edns::{Cookie, OptionCode};
use wire::message::{Flags, Header};
use wire::writer::MessageWriter;
use wire::{Class, Message, Name, RType, Rcode};

const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const CLIENT_COOKIE: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];

/// A server serving `example.test.` with `[cookies]` set to `cookies` and, when given, `[rrl]`.
fn start(test: &str, cookies: &str, rrl: Option<&str>) -> (Scratch, Server) {
    let scratch = Scratch::new(test);
    let port = free_port();
    let mut z = zone(1);
    for i in 0..20 {
        z.push_str(&format!("n{i} A 192.0.2.{i}\n"));
    }
    scratch.write("example.test.zone", &z);
    let mut text = format!(
        "{}\n[cookies]\n{cookies}\n",
        config(&format!("127.0.0.1:{port}"))
    );
    if let Some(rrl) = rrl {
        text.push_str(&format!("[rrl]\n{rrl}\n"));
    }
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (scratch, server)
}

/// A query for `name` A with EDNS and, when given, a COOKIE option holding `cookie`.
fn query(id: u16, name: &str, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default(),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), RType::A, Class::IN)
        .unwrap();
    let mut opt = w.opt(1232, Rcode::NOERROR, false).unwrap();
    if let Some(c) = cookie {
        opt.option(OptionCode::COOKIE, c).unwrap();
    }
    opt.finish().unwrap();
    w.finish().to_vec()
}

fn with_server(server: &[u8]) -> Vec<u8> {
    let mut c = CLIENT_COOKIE.to_vec();
    c.extend_from_slice(server);
    c
}

/// The response code (EDNS included), the answer count and the COOKIE option's server cookie.
fn read(response: &[u8]) -> (Rcode, u16, Option<Vec<u8>>) {
    let m = Message::parse(response).unwrap();
    let cookie = m
        .edns()
        .and_then(|e| e.option(OptionCode::COOKIE))
        .map(|data| {
            let c = Cookie::parse(data).unwrap();
            assert_eq!(c.client, CLIENT_COOKIE, "the client cookie is echoed");
            c.server.to_vec()
        });
    (m.rcode(), m.header().ancount, cookie)
}

/// The hex of dig's `; COOKIE: <hex>` line, and whether dig called it good.
fn dig_cookie(out: &str) -> (String, bool) {
    let line = out
        .lines()
        .find(|l| l.starts_with("; COOKIE: "))
        .unwrap_or_else(|| panic!("no COOKIE in:\n{out}"));
    let hex = line["; COOKIE: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    (hex, line.ends_with("(good)"))
}

#[test]
fn dig_and_kdig_get_and_return_cookies() {
    let (_scratch, server) = start("cookies-dig", "", None);
    let addr = server.addr;
    // dig sends a client cookie by default; the reply carries it and a 16-byte server cookie.
    let out = ask("dig", addr, &["+cookie", "www.example.test.", "A"]);
    assert!(out.contains("status: NOERROR"), "dig:\n{out}");
    let (first, _) = dig_cookie(&out);
    assert_eq!(first.len(), 2 * (8 + 16), "dig:\n{out}");
    assert!(
        first[16..].starts_with("01000000"),
        "version 1, reserved 0: {first}"
    );
    // Sent back, the server's cookie is good.
    let out = ask(
        "dig",
        addr,
        &[&format!("+cookie={first}"), "www.example.test.", "A"],
    );
    let (second, good) = dig_cookie(&out);
    assert!(good, "dig:\n{out}");
    assert_eq!(second[..16], first[..16]);
    // +nocookie: no COOKIE option either way.
    let out = ask("dig", addr, &["+nocookie", "www.example.test.", "A"]);
    assert!(!out.contains("COOKIE"), "dig:\n{out}");
    // kdig too.
    let out = ask("kdig", addr, &["+cookie", "www.example.test.", "A"]);
    assert!(out.contains("status: NOERROR"), "kdig:\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains("COOKIE: "))
        .unwrap_or_else(|| panic!("kdig:\n{out}"));
    let hex = line.split("COOKIE: ").nth(1).unwrap().trim();
    assert_eq!(hex.len(), 48, "kdig:\n{out}");
}

#[test]
fn require_answers_badcookie_until_the_cookie_is_returned() {
    let (scratch, server) = start(
        "cookies-require",
        "require = true\n[events]\nfile = \"events.json\"\n",
        None,
    );
    let addr = server.addr;
    // A client cookie alone: BADCOOKIE, the question and a server cookie, no answer.
    let (rcode, answers, cookie) = read(&exchange(
        addr,
        &query(1, "www.example.test.", Some(&CLIENT_COOKIE)),
    ));
    assert_eq!((rcode, answers), (Rcode::BADCOOKIE, 0));
    let cookie = cookie.unwrap();
    assert_eq!(cookie.len(), 16);
    // With it: the answer, and the same (fresh) cookie back.
    let (rcode, answers, again) = read(&exchange(
        addr,
        &query(2, "www.example.test.", Some(&with_server(&cookie))),
    ));
    assert_eq!((rcode, answers), (Rcode::NOERROR, 1));
    assert_eq!(again.unwrap(), cookie);
    // A forged server cookie: BADCOOKIE.
    let mut forged = cookie.clone();
    forged[12] ^= 1;
    let (rcode, _, _) = read(&exchange(
        addr,
        &query(3, "www.example.test.", Some(&with_server(&forged))),
    ));
    assert_eq!(rcode, Rcode::BADCOOKIE);
    // No COOKIE option at all: answered as by a server without cookies.
    let (rcode, answers, none) = read(&exchange(addr, &query(4, "www.example.test.", None)));
    assert_eq!((rcode, answers, none), (Rcode::NOERROR, 1, None));
    // TCP never needs a server cookie.
    let out = ask("dig", addr, &["+tcp", "+cookie", "www.example.test.", "A"]);
    assert!(
        out.contains("status: NOERROR") && !out.contains("BADCOOKIE"),
        "dig:\n{out}"
    );
    // dig and kdig retry with the cookie BADCOOKIE brought, and get the answer.
    let out = ask("dig", addr, &["+cookie", "www.example.test.", "A"]);
    assert!(out.contains("BADCOOKIE, retrying"), "dig:\n{out}");
    assert!(
        out.contains("status: NOERROR") && out.contains("192.0.2.80"),
        "dig:\n{out}"
    );
    assert!(dig_cookie(&out).1, "dig:\n{out}");
    let out = ask("kdig", addr, &["+cookie", "www.example.test.", "A"]);
    assert!(out.contains("status: BADCOOKIE"), "kdig:\n{out}");
    assert!(out.contains("192.0.2.80"), "kdig:\n{out}");

    // Each BADCOOKIE is a security event (the client cookie alone, the forged cookie, dig's
    // and kdig's first tries).
    let path = scratch.0.join("events.json");
    let deadline = Instant::now() + Duration::from_secs(5);
    let badcookies = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let n = text
            .lines()
            .filter(|l| l.contains("\"action\":\"cookie_failure\"") && l.contains("badcookie"))
            .count();
        if n >= 4 || Instant::now() > deadline {
            break (n, text);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(badcookies.0, 4, "events:\n{}", badcookies.1);
    assert!(
        badcookies.1.contains("www.example.test."),
        "{}",
        badcookies.1
    );
}

#[test]
fn a_malformed_cookie_option_is_formerr() {
    let (_scratch, server) = start("cookies-formerr", "", None);
    for len in [1usize, 7, 9, 15, 41] {
        let bad = vec![0xab; len];
        let response = exchange(server.addr, &query(9, "www.example.test.", Some(&bad)));
        let m = Message::parse(&response).unwrap();
        assert_eq!(m.rcode(), Rcode::FORMERR, "{len} bytes");
        assert!(m.edns().is_some(), "FORMERR keeps OPT");
    }
}

#[test]
fn disabled_cookies_are_ignored() {
    let (_scratch, server) = start("cookies-off", "enabled = false\nrequire = true\n", None);
    let (rcode, answers, cookie) = read(&exchange(
        server.addr,
        &query(1, "www.example.test.", Some(&CLIENT_COOKIE)),
    ));
    assert_eq!((rcode, answers, cookie), (Rcode::NOERROR, 1, None));
}

#[test]
fn a_configured_secret_makes_the_same_cookies_across_a_restart_and_a_reload() {
    let settings = format!("require = true\nsecret = \"{SECRET}\"\n");
    let (scratch, mut server) = start("cookies-restart", &settings, None);
    let (rcode, _, cookie) = read(&exchange(
        server.addr,
        &query(1, "www.example.test.", Some(&CLIENT_COOKIE)),
    ));
    assert_eq!(rcode, Rcode::BADCOOKIE);
    let cookie = cookie.unwrap();
    // The RFC 9018 construction, computed here: SipHash-2-4 of the client cookie, the cookie's
    // head and the client address under the configured secret.
    let timestamp = u32::from_be_bytes(cookie[4..8].try_into().unwrap());
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let secret = Secret::from_hex(SECRET).unwrap();
    assert_eq!(
        guard::cookie::server_cookie(&secret, &CLIENT_COOKIE, ip, timestamp).to_vec(),
        cookie
    );
    assert!(!server.log().contains(SECRET), "the secret is not logged");

    // Another process with the same configuration (as an anycast peer would be) accepts it.
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(10));
    let config = scratch.0.join("portcullis.toml");
    let server = Server::start(&config, server.addr, scratch.0.join("server2.log"));
    let (rcode, answers, again) = read(&exchange(
        server.addr,
        &query(2, "www.example.test.", Some(&with_server(&cookie))),
    ));
    assert_eq!((rcode, answers), (Rcode::NOERROR, 1));
    assert_eq!(again.unwrap(), cookie, "a fresh cookie is echoed");

    // A reload with a new secret and the old one as previous_secret: still accepted, and the
    // reply carries a cookie of the new secret.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("secret = \"{SECRET}\""),
        &format!("secret = \"445536bcd2513298075a5d379663c962\"\nprevious_secret = \"{SECRET}\""),
    );
    std::fs::write(&config, text).unwrap();
    server.signal("HUP");
    server.wait_log("reloaded", 1);
    let (rcode, answers, renewed) = read(&exchange(
        server.addr,
        &query(3, "www.example.test.", Some(&with_server(&cookie))),
    ));
    assert_eq!((rcode, answers), (Rcode::NOERROR, 1));
    let renewed = renewed.unwrap();
    assert_ne!(renewed, cookie, "renewed under the new secret");
    // Without the previous secret, the old cookie is refused and the new one accepted.
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("previous_secret = \"{SECRET}\"\n"), "");
    std::fs::write(&config, text).unwrap();
    server.signal("HUP");
    server.wait_log("reloaded", 2);
    let (rcode, _, _) = read(&exchange(
        server.addr,
        &query(4, "www.example.test.", Some(&with_server(&cookie))),
    ));
    assert_eq!(rcode, Rcode::BADCOOKIE);
    let (rcode, _, _) = read(&exchange(
        server.addr,
        &query(5, "www.example.test.", Some(&with_server(&renewed))),
    ));
    assert_eq!(rcode, Rcode::NOERROR);
}

/// Sends `count` copies of `q` from `socket` to `to`, 2 ms apart, and counts the full answers
/// (not truncated) that come back.
fn answered(socket: &UdpSocket, to: SocketAddr, q: &[u8], count: usize) -> usize {
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut full = 0;
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        socket.send_to(q, to).unwrap();
        std::thread::sleep(Duration::from_millis(2));
        socket.set_nonblocking(true).unwrap();
        while let Ok((n, _)) = socket.recv_from(&mut buf) {
            if n >= 12 && buf[2] & 0x02 == 0 {
                full += 1;
            }
        }
        socket.set_nonblocking(false).unwrap();
    }
    while let Ok((n, _)) = socket.recv_from(&mut buf) {
        if n >= 12 && buf[2] & 0x02 == 0 {
            full += 1;
        }
    }
    full
}

#[test]
fn a_client_with_a_valid_cookie_is_not_rate_limited() {
    let (_scratch, server) = start(
        "cookies-rrl",
        "",
        Some("enabled = true\nresponses_per_second = 5\nwindow = 5\nslip = 2\n"),
    );
    let addr = server.addr;
    // The cookie client on 127.0.1.1 learns its cookie first.
    let client = UdpSocket::bind("127.0.1.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    client
        .send_to(&query(1, "n1.example.test.", Some(&CLIENT_COOKIE)), addr)
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = client.recv_from(&mut buf).unwrap();
    let cookie = read(&buf[..n]).2.unwrap();

    // A flood without cookies from 127.0.0.2: mostly dropped or slipped.
    let flood = UdpSocket::bind("127.0.0.2:0").unwrap();
    let flooded = answered(&flood, addr, &query(2, "n1.example.test.", None), 200);
    // The same name, as often, with the valid cookie, from 127.0.1.1: every answer.
    let q = query(3, "n1.example.test.", Some(&with_server(&cookie)));
    let served = answered(&client, addr, &q, 200);
    // And from 127.0.1.1 without a cookie, the same limit applies as to anyone.
    let limited = answered(&client, addr, &query(4, "n1.example.test.", None), 200);
    println!("full answers: flood {flooded}/200, cookie {served}/200, no cookie {limited}/200");
    assert!(flooded < 60, "the flood was limited: {flooded}");
    assert!(served >= 198, "the cookie client was answered: {served}");
    assert!(
        limited < 60,
        "without its cookie the client is limited: {limited}"
    );
}

/// Whether `tool` is installed; if not, prints a `SKIPPED:` line, or fails when
/// `PORTCULLIS_WORLD_REQUIRED` is set.
fn tool_available(test: &str, tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let why = format!("SKIPPED: {test}: `{tool}` is not installed");
        assert!(
            std::env::var_os("PORTCULLIS_WORLD_REQUIRED").is_none(),
            "{why}"
        );
        eprintln!("{why}");
    }
    found
}

#[test]
fn bind_and_portcullis_accept_each_others_cookies() {
    if !tool_available("cookies::bind_interop", "named") {
        return;
    }
    let settings = format!("require = true\nsecret = \"{SECRET}\"\n");
    let (scratch, ours) = start("cookies-bind", &settings, None);

    // BIND with the same secret, RFC 9018 cookies, cookies required.
    let port = free_port();
    let dir = scratch.0.display();
    let conf = scratch.write(
        "named.conf",
        &format!(
            "options {{\n  directory \"{dir}\";\n  pid-file \"{dir}/named.pid\";\n  \
             listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  \
             recursion no;\n  cookie-algorithm siphash24;\n  cookie-secret \"{SECRET}\";\n  \
             require-server-cookie yes;\n}};\ncontrols {{ }};\n\
             zone \"example.test\" {{ type primary; file \"{dir}/example.test.zone\"; }};\n"
        ),
    );
    let mut named = Command::new("named");
    named.args(["-g", "-c", conf.to_str().unwrap()]);
    if nix::unistd::geteuid().is_root() {
        named.args(["-u", "root"]);
    }
    let log = std::fs::File::create(scratch.0.join("named.log")).unwrap();
    let _named = ChildGuard(
        named
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let bind = SocketAddr::from(([127, 0, 0, 1], port));
    let probe = query(1, "www.example.test.", None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while try_exchange(bind, &probe, Duration::from_millis(200)).is_none() {
        assert!(
            Instant::now() < deadline,
            "named did not answer:\n{}",
            std::fs::read_to_string(scratch.0.join("named.log")).unwrap_or_default()
        );
    }

    // BIND's cookie, from BADCOOKIE, is valid here.
    let (rcode, _, cookie) = read(&exchange(
        bind,
        &query(2, "www.example.test.", Some(&CLIENT_COOKIE)),
    ));
    assert_eq!(rcode, Rcode::BADCOOKIE);
    let theirs = cookie.unwrap();
    let (rcode, answers, _) = read(&exchange(
        ours.addr,
        &query(3, "www.example.test.", Some(&with_server(&theirs))),
    ));
    assert_eq!((rcode, answers), (Rcode::NOERROR, 1), "BIND's cookie, here");

    // Ours is valid there.
    let (rcode, _, cookie) = read(&exchange(
        ours.addr,
        &query(4, "www.example.test.", Some(&CLIENT_COOKIE)),
    ));
    assert_eq!(rcode, Rcode::BADCOOKIE);
    let mine = cookie.unwrap();
    let (rcode, answers, _) = read(&exchange(
        bind,
        &query(5, "www.example.test.", Some(&with_server(&mine))),
    ));
    assert_eq!((rcode, answers), (Rcode::NOERROR, 1), "our cookie, at BIND");
}
