//! Blocklists on the wire: a resolver (`portcullis serve` forwarding `example.test.` to an
//! authoritative `portcullis serve`) with `[[blocklist]]`/`[[allowlist]]` lists, asked with
//! `dig` and a `wire` client. A blocked name gets its policy answer with EDE 15 (or 17) and is
//! never sent upstream (the authoritative server's query counter does not move); exceptions and
//! allowlists win; a CNAME cannot cloak a blocked name; each action answers as configured; a
//! changed file is reloaded within `check_interval`, and a bad one keeps the last good list.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Scratch, Server, ask, free_port};

const ZONE: &str = "$TTL 300
@ SOA ns hostmaster 1 7200 3600 1209600 300
@ NS ns
ns A 127.0.0.1
www A 192.0.2.80
ads A 192.0.2.66
x.ads A 192.0.2.68
good.ads A 192.0.2.67
tracker A 192.0.2.69
cloak CNAME tracker
cloak2 CNAME ads.elsewhere.test.
nodata A 192.0.2.70
refused A 192.0.2.71
sink A 192.0.2.72
custom A 192.0.2.73
filtered A 192.0.2.74
allowed A 192.0.2.75
later A 192.0.2.76
";

/// The authoritative server, the resolver and their addresses.
struct Setup {
    scratch: Scratch,
    _auth: Server,
    auth_http: u16,
    resolver: Server,
    addr: SocketAddr,
}

impl Setup {
    /// Queries the authoritative server has received, in all.
    fn upstream_queries(&self) -> f64 {
        let out = std::process::Command::new("curl")
            .args([
                "-sf",
                "--max-time",
                "5",
                &format!("http://127.0.0.1:{}/metrics", self.auth_http),
            ])
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("portcullis_queries_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    fn dig(&self, args: &[&str]) -> String {
        ask("dig", self.addr, args)
    }
}

/// Starts both servers; `lists` writes the list files, `policy` is the resolver's policy TOML.
fn start(test: &str, lists: &[(&str, &str)], policy: &str) -> Setup {
    let scratch = Scratch::new(test);
    for (name, text) in lists {
        scratch.write(name, text);
    }
    scratch.write("example.test.zone", ZONE);
    let auth_port = free_port();
    let auth_http = free_port();
    let auth = scratch.write(
        "auth.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:{auth_port}\"]\nworkers = 1\nhttp = \"127.0.0.1:{auth_http}\"\n\
             control_socket = \"auth.sock\"\n\n[[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n"
        ),
    );
    let auth_addr = SocketAddr::from(([127, 0, 0, 1], auth_port));
    let auth = Server::start(&auth, auth_addr, scratch.0.join("auth.log"));
    let port = free_port();
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\ncontrol_socket = \"r.sock\"\n\n\
         [resolver]\nenabled = true\n\n\
         [[forward]]\nzone = \"example.test.\"\nto = [\"127.0.0.1:{auth_port}\"]\n\n\
         [[forward]]\nzone = \"elsewhere.test.\"\nto = [\"127.0.0.1:{auth_port}\"]\n\n\
         [dnssec]\nvalidation = false\n\n{policy}"
    );
    let config = scratch.write("resolver.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let resolver = Server::start(&config, addr, scratch.0.join("resolver.log"));
    Setup {
        scratch,
        _auth: auth,
        auth_http,
        resolver,
        addr,
    }
}

#[test]
fn blocked_names_get_nxdomain_with_ede_and_never_leave() {
    let s = start(
        "policy-block",
        &[
            (
                "ads.txt",
                "# a mixed list\n||ads.example.test^\n@@||good.ads.example.test^\n\
                 0.0.0.0 tracker.example.test\nexample.test##.banner\n||elsewhere.test^\n",
            ),
            ("allow.txt", "allowed.example.test\n"),
            ("allowed.txt", "allowed.example.test\n"),
        ],
        "[[blocklist]]\nfile = \"ads.txt\"\nname = \"ads\"\n\n\
         [[blocklist]]\nfile = \"allowed.txt\"\n\n\
         [[allowlist]]\nfile = \"allow.txt\"\n\n\
         [events]\nfile = \"events.json\"\n",
    );
    let before = s.upstream_queries();
    for name in [
        "ads.example.test",
        "x.ads.example.test",
        "tracker.example.test",
    ] {
        let out = s.dig(&[name]);
        assert!(out.contains("status: NXDOMAIN"), "{name}: {out}");
        assert!(out.contains("EDE: 15 (Blocked): (blocked by ads)"), "{out}");
        assert!(out.contains(" rd ra;"), "RA, no AA: {out}");
        let tcp = s.dig(&[name, "AAAA", "+tcp"]);
        assert!(tcp.contains("status: NXDOMAIN"), "{name} over TCP: {tcp}");
    }
    assert_eq!(
        s.upstream_queries(),
        before,
        "no blocked name was sent upstream:\n{}",
        s.resolver.log()
    );

    // The exception of the list and the allowlist win; other names resolve.
    let good = s.dig(&["good.ads.example.test"]);
    assert!(
        good.contains("status: NOERROR") && good.contains("192.0.2.67"),
        "{good}"
    );
    let allowed = s.dig(&["allowed.example.test"]);
    assert!(allowed.contains("192.0.2.75"), "{allowed}");
    let www = s.dig(&["www.example.test"]);
    assert!(www.contains("192.0.2.80") && !www.contains("EDE"), "{www}");

    // A CNAME to a blocked name: the CNAME, then NXDOMAIN for its target (resolved, then from
    // the cache).
    for _ in 0..2 {
        let cloak = s.dig(&["cloak.example.test"]);
        assert!(cloak.contains("status: NXDOMAIN"), "{cloak}");
        assert!(cloak.contains("CNAME\ttracker.example.test."), "{cloak}");
        assert!(!cloak.contains("192.0.2.69"), "{cloak}");
    }
    // A CNAME into another zone, to a blocked name: the resolver asks for the CNAME and never
    // for its target (which would go to the same upstream).
    let before = s.upstream_queries();
    let cloak = s.dig(&["cloak2.example.test"]);
    assert!(cloak.contains("status: NXDOMAIN"), "{cloak}");
    assert!(cloak.contains("CNAME\tads.elsewhere.test."), "{cloak}");
    assert!(cloak.contains("EDE: 15 (Blocked)"), "{cloak}");
    assert_eq!(
        s.upstream_queries(),
        before + 1.0,
        "only cloak2.example.test was asked upstream:\n{}",
        s.resolver.log()
    );
    // Each policy answer is a security event.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let events = std::fs::read_to_string(s.scratch.0.join("events.json")).unwrap_or_default();
        let blocked = events
            .lines()
            .filter(|l| {
                l.contains("\"action\":\"blocked\"")
                    && l.contains("\"reason\":\"blocklist\"")
                    && l.contains("\"detail\":\"ads\"")
            })
            .count();
        if blocked >= 8 {
            assert!(
                events.contains("\"qname\":\"cloak.example.test.\""),
                "{events}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{blocked} events:\n{events}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = s.resolver.log();
    assert!(log.contains("ads.txt: 4 names, 1 lines skipped"), "{log}");
    assert!(
        log.contains("ads.txt:5:13: skipped: cosmetic rule"),
        "{log}"
    );
    drop(s.scratch);
}

#[test]
fn each_action_answers_as_configured() {
    let s = start(
        "policy-actions",
        &[
            ("nodata.txt", "nodata.example.test\n"),
            ("refused.txt", "refused.example.test\n"),
            ("sink.txt", "sink.example.test\n"),
            ("custom.txt", "custom.example.test\n"),
            ("filtered.txt", "filtered.example.test\n"),
        ],
        "[policy]\nttl = 42\n\n\
         [[blocklist]]\nfile = \"nodata.txt\"\naction = \"nodata\"\n\n\
         [[blocklist]]\nfile = \"refused.txt\"\naction = \"refused\"\n\n\
         [[blocklist]]\nfile = \"sink.txt\"\naction = \"sinkhole\"\nsinkhole = [\"0.0.0.0\", \"::\"]\n\n\
         [[blocklist]]\nfile = \"custom.txt\"\naction = \"answer\"\nanswer = [\"A 192.0.2.99\", \"TXT blocked\"]\n\n\
         [[blocklist]]\nfile = \"filtered.txt\"\nede = \"filtered\"\n",
    );
    let before = s.upstream_queries();
    let nodata = s.dig(&["nodata.example.test"]);
    assert!(
        nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0"),
        "{nodata}"
    );
    assert!(nodata.contains("EDE: 15 (Blocked)"), "{nodata}");
    let refused = s.dig(&["refused.example.test"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");
    let sink = s.dig(&["sink.example.test"]);
    assert!(
        sink.contains("sink.example.test.\t42\tIN\tA\t0.0.0.0"),
        "{sink}"
    );
    let sink6 = s.dig(&["sink.example.test", "AAAA"]);
    assert!(sink6.contains("IN\tAAAA\t::"), "{sink6}");
    let sinkmx = s.dig(&["sink.example.test", "MX"]);
    assert!(
        sinkmx.contains("status: NOERROR") && sinkmx.contains("ANSWER: 0"),
        "{sinkmx}"
    );
    let custom = s.dig(&["custom.example.test"]);
    assert!(custom.contains("IN\tA\t192.0.2.99"), "{custom}");
    let txt = s.dig(&["custom.example.test", "TXT"]);
    assert!(txt.contains("\"blocked\""), "{txt}");
    let filtered = s.dig(&["filtered.example.test"]);
    assert!(filtered.contains("status: NXDOMAIN"), "{filtered}");
    assert!(filtered.contains("EDE: 17 (Filtered)"), "{filtered}");
    assert_eq!(s.upstream_queries(), before, "nothing went upstream");
}

#[test]
fn changed_files_reload_and_bad_ones_keep_the_last_good_list() {
    let s = start(
        "policy-reload",
        &[("list.txt", "ads.example.test\n")],
        "[policy]\ncheck_interval = 1\nmax_entries = 3\n\n[[blocklist]]\nfile = \"list.txt\"\n",
    );
    assert!(s.dig(&["ads.example.test"]).contains("NXDOMAIN"));
    assert!(s.dig(&["later.example.test"]).contains("192.0.2.76"));
    // The file changes: `later` is blocked within a few seconds (the cache does not hide it).
    std::thread::sleep(Duration::from_millis(1100));
    s.scratch
        .write("list.txt", "ads.example.test\nlater.example.test\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.dig(&["later.example.test"]).contains("NXDOMAIN") {
        assert!(
            Instant::now() < deadline,
            "not reloaded:\n{}",
            s.resolver.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Too many entries: refused, the last good list stays.
    s.scratch.write(
        "list.txt",
        "a.example.test\nb.example.test\nc.example.test\nd.example.test\n",
    );
    s.resolver
        .wait_log("more than 3 entries (keeping the last good version)", 1);
    assert!(s.log_has("list.txt:4:1: more than 3 entries"));
    assert!(s.dig(&["later.example.test"]).contains("NXDOMAIN"));
    assert!(!s.dig(&["a.example.test"]).contains("EDE"));
    // SIGHUP reloads it too.
    s.scratch.write("list.txt", "www.example.test\n");
    s.resolver.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.dig(&["www.example.test"]).contains("NXDOMAIN") {
        assert!(
            Instant::now() < deadline,
            "not reloaded:\n{}",
            s.resolver.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(s.dig(&["later.example.test"]).contains("192.0.2.76"));
}

impl Setup {
    fn log_has(&self, text: &str) -> bool {
        self.resolver.log().contains(text)
    }
}

#[test]
fn flags_add_a_blocklist() {
    let scratch = Scratch::new("policy-flag");
    let list = scratch.write("hosts", "127.0.0.1 localhost\n0.0.0.0 ads.example.test\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--blocklist", list.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "serve",
            "--rpz",
            "rpz.example.=/nonexistent/rpz.zone",
            "--listen",
            "127.0.0.1:1",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("/nonexistent/rpz.zone:1:1"), "{err}");
}
