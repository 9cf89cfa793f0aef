//! Response policy zones against BIND: one test world (a root, `test.` and `evil.test.` served
//! by `portcullis serve` on port 53 of 127.93.0.0/16), the same RPZ file
//! (`tests/interop/rpz.zone`) loaded by BIND 9's `named` (`response-policy`, Debian's bind9)
//! and by Portcullis (`--rpz`), both resolving from the same root hints. Every question is
//! asked of both; RCODE, TC and the answer section (owner, type, RDATA; TTLs aside, they count
//! down) must agree: QNAME NXDOMAIN, NODATA, PASSTHRU, DROP, TCP-only, local data, wildcards,
//! CNAMEs into a trigger, rpz-ip (IPv4 and IPv6) and rpz-nsdname.
//!
//! Differences with a reason, not compared: none among these questions. (A CNAME rewrite to
//! another name is answered by Portcullis with the CNAME and the target's data only when the
//! target is cached, where BIND resolves the target: the rewrite here points at a name asked
//! before. See docs/OPERATIONS.md.)
//!
//! Needs root (port 53 for the world) and `named`; without them it says SKIPPED and passes,
//! unless `PORTCULLIS_WORLD_REQUIRED` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ChildGuard, Scratch, Server, try_exchange};
use wire::message::Section;
use wire::{Message, RType};

const ROOT: &str = "$TTL 3600
@ SOA a.root.test. hostmaster.root.test. 1 7200 3600 1209600 300
@ NS a.root.test.
test. NS ns.test.
ns.test. A 127.93.0.3
a.root.test. A 127.93.0.2
";

const TEST: &str = "$TTL 300
@ SOA ns hostmaster 1 7200 3600 1209600 60
@ NS ns
ns A 127.93.0.3
a.root A 127.93.0.2
evil NS ns.evil
ns.evil A 127.93.0.4
www.example A 192.0.2.80
nx.example A 192.0.2.81
nodata.example A 192.0.2.82
ok.example A 192.0.2.83
x.ok.example A 192.0.2.84
drop.example A 192.0.2.85
tcp.example A 192.0.2.86
local.example A 192.0.2.87
wild.example A 192.0.2.88
a.wild.example A 192.0.2.89
ipbad.example A 192.0.2.1
ipbad.example A 192.0.2.90
iprange.example A 198.51.100.7
ip6bad.example AAAA 2001:db8::bad
ip6ok.example AAAA 2001:db8::600d
alias.example CNAME nx.example
alias2.example CNAME ipbad.example
";

const EVIL: &str = "$TTL 300
@ SOA ns hostmaster 1 7200 3600 1209600 60
@ NS ns
ns A 127.93.0.4
www A 192.0.2.66
";

/// The questions, each asked of both resolvers in this order.
const QUESTIONS: &[(&str, RType)] = &[
    ("www.example.test.", RType::A),
    ("nx.example.test.", RType::A),
    ("nx.example.test.", RType::AAAA),
    ("nodata.example.test.", RType::A),
    ("ok.example.test.", RType::A),
    ("x.ok.example.test.", RType::A),
    ("drop.example.test.", RType::A),
    ("tcp.example.test.", RType::A),
    ("local.example.test.", RType::A),
    ("local.example.test.", RType::AAAA),
    ("local.example.test.", RType::MX),
    ("txt.example.test.", RType::TXT),
    ("rw.example.test.", RType::A),
    ("wild.example.test.", RType::A),
    ("a.wild.example.test.", RType::A),
    ("b.a.wild.example.test.", RType::A),
    ("ipbad.example.test.", RType::A),
    ("iprange.example.test.", RType::A),
    ("ip6bad.example.test.", RType::AAAA),
    ("ip6ok.example.test.", RType::AAAA),
    ("alias.example.test.", RType::A),
    ("alias2.example.test.", RType::A),
    ("www.evil.test.", RType::A),
    ("www.example.test.", RType::A),
];

/// What is compared: RCODE, TC, and the answer section as a set of (owner, type, RDATA).
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Nothing,
    Reply {
        rcode: u8,
        tc: bool,
        answer: BTreeSet<String>,
    },
}

fn ask(addr: SocketAddr, id: u16, name: &str, qtype: RType) -> Seen {
    let mut q = common::query(id, name, qtype, Some(1232));
    q[2] |= 0x01; // RD
    let Some(reply) = try_exchange(addr, &q, Duration::from_millis(1500)) else {
        return Seen::Nothing;
    };
    let m = Message::parse(&reply).unwrap();
    let answer = m
        .records(Section::Answer)
        .filter(|r| r.rtype != RType::RRSIG)
        .map(|r| {
            let mut rdata = Vec::new();
            r.rdata_into(&mut rdata).unwrap();
            let mut text = String::new();
            wire::rdata::to_text(r.rtype, &rdata, &mut text).unwrap();
            let owner = r.owner().unwrap().to_string().to_ascii_lowercase();
            format!("{owner} {} {}", r.rtype, text.to_ascii_lowercase())
        })
        .collect();
    Seen::Reply {
        rcode: (m.header().flags.rcode_bits()) & 0x0f,
        tc: m.header().flags.tc(),
        answer,
    }
}

fn skipped(why: &str) -> bool {
    assert!(
        std::env::var_os("PORTCULLIS_WORLD_REQUIRED").is_none(),
        "PORTCULLIS_WORLD_REQUIRED is set: {why}"
    );
    println!("SKIPPED: {why}");
    true
}

#[test]
fn bind_and_portcullis_agree() {
    const N: u8 = 93;
    if UdpSocket::bind(format!("127.{N}.0.2:53")).is_err() {
        skipped("cannot bind port 53 (run as root)");
        return;
    }
    if Command::new("named").arg("-v").output().is_err() {
        skipped("no named (Debian package bind9)");
        return;
    }
    let scratch = Scratch::new("rpz-interop");
    let rpz = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/rpz.zone");
    let mut servers = Vec::new();
    for (name, ip, origin, zone) in [
        ("root", "127.93.0.2", ".", ROOT),
        ("test", "127.93.0.3", "test.", TEST),
        ("evil", "127.93.0.4", "evil.test.", EVIL),
    ] {
        scratch.write(&format!("{name}.zone"), zone);
        let config = scratch.write(
            &format!("{name}.toml"),
            &format!(
                "[server]\nlisten = [\"{ip}:53\"]\nworkers = 1\ncontrol_socket = \"{name}.sock\"\n\n\
                 [[zone]]\norigin = \"{origin}\"\nfile = \"{name}.zone\"\n"
            ),
        );
        let addr: SocketAddr = format!("{ip}:53").parse().unwrap();
        servers.push(Server::start(
            &config,
            addr,
            scratch.0.join(format!("{name}.log")),
        ));
    }
    let hints = scratch.write(
        "hints",
        ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.93.0.2\n",
    );

    // Portcullis, resolving with the RPZ.
    let ours: SocketAddr = "127.93.0.1:5300".parse().unwrap();
    let config = scratch.write(
        "resolver.toml",
        "[server]\nlisten = [\"127.93.0.1:5300\"]\nworkers = 1\ncontrol_socket = \"r.sock\"\n",
    );
    let log = scratch.0.join("resolver.log");
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--root-hints", hints.to_str().unwrap()])
        .args(["--insecure-local-upstreams", "--no-validation"])
        .args(["--rpz", &format!("rpz.local.={rpz}")])
        .args(["--events", scratch.0.join("events.json").to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _ours = ChildGuard(child);

    // BIND, resolving with the same RPZ.
    // BIND listens only on addresses an interface holds: 127.0.0.1, on a free port.
    let bind_port = common::free_port();
    let bind: SocketAddr = format!("127.0.0.1:{bind_port}").parse().unwrap();
    let dir = scratch.0.display().to_string();
    let named_conf = scratch.write(
        "named.conf",
        &format!(
            "options {{\n  directory \"{dir}\";\n  pid-file \"{dir}/named.pid\";\n\
             session-keyfile \"{dir}/session.key\";\n  managed-keys-directory \"{dir}\";\n\
             listen-on port {bind_port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n\
             recursion yes;\n  allow-query {{ any; }};\n  allow-recursion {{ any; }};\n\
             dnssec-validation no;\n  minimal-responses yes;\n\
             response-policy {{ zone \"rpz.local\"; }};\n}};\n\
             controls {{ }};\n\
             zone \".\" {{ type hint; file \"{}\"; }};\n\
             zone \"rpz.local\" {{ type primary; file \"{rpz}\"; allow-query {{ localhost; }}; }};\n",
            hints.display()
        ),
    );
    let named = Command::new("named")
        .args(["-g", "-c", named_conf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(scratch.0.join("named.log")).unwrap())
        .spawn()
        .unwrap();
    let _named = ChildGuard(named);

    // Both up: each answers a name outside the policy.
    let deadline = Instant::now() + Duration::from_secs(20);
    for addr in [ours, bind] {
        loop {
            let seen = ask(addr, 1, "www.example.test.", RType::A);
            if matches!(seen, Seen::Reply { rcode: 0, .. }) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{addr} does not answer ({seen:?}):\n{}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default(),
                std::fs::read_to_string(scratch.0.join("named.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    let mut differences = Vec::new();
    for (i, (name, qtype)) in QUESTIONS.iter().enumerate() {
        let id = 100 + i as u16;
        let theirs = ask(bind, id, name, *qtype);
        let mine = ask(ours, id, name, *qtype);
        if theirs != mine {
            differences.push(format!(
                "{name} {qtype}:\n  bind:       {theirs:?}\n  portcullis: {mine:?}"
            ));
        }
    }
    // A few answers that must be what the RPZ says (both agreeing on nothing is no pass).
    assert!(matches!(
        ask(ours, 1, "nx.example.test.", RType::A),
        Seen::Reply { rcode: 3, .. }
    ));
    assert_eq!(ask(ours, 2, "drop.example.test.", RType::A), Seen::Nothing);
    assert!(matches!(
        ask(ours, 3, "tcp.example.test.", RType::A),
        Seen::Reply { tc: true, .. }
    ));
    assert!(matches!(
        ask(ours, 4, "www.evil.test.", RType::A),
        Seen::Reply { rcode: 3, .. }
    ));
    // Each kind of trigger reported as a security event, with the zone as detail.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = std::fs::read_to_string(scratch.0.join("events.json")).unwrap_or_default();
        let all = ["rpz qname", "rpz ip", "rpz nsdname"].iter().all(|reason| {
            events.lines().any(|l| {
                l.contains("\"action\":\"blocked\"")
                    && l.contains(&format!("\"reason\":\"{reason}\""))
                    && l.contains("\"detail\":\"rpz.local.\"")
            })
        });
        if all {
            break;
        }
        assert!(Instant::now() < deadline, "events:\n{events}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        differences.is_empty(),
        "{} difference(s):\n{}\n--- portcullis ---\n{}",
        differences.len(),
        differences.join("\n"),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
