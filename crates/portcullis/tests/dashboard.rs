//! The live dashboard, end to end: a resolver (`portcullis serve` forwarding `example.test.` to
//! a second, authoritative `portcullis serve`, with a blocklist and an event file) under a
//! bounded loop of UDP and TCP queries, its page loaded in Debian's chromium driven by
//! Playwright (`tests/browser/dashboard.mjs`), which reads every chart's latest values, blocks
//! a name from the page and saves a screenshot (`target/dashboard-screenshot.png`); then the
//! block is seen over DNS. Also: the token mode, the refusal of an exposed listener without a
//! token, and the committed bundle against a fresh build of `web/`.
//!
//! Needs `/usr/bin/chromium` (Debian `chromium`), Node.js, and `npm ci` done in `web/` and
//! `tests/browser/` (scripts/test.sh does all of it). Without them the browser and bundle tests
//! print `SKIPPED:` loudly, unless `PORTCULLIS_BROWSER_REQUIRED` or `CI` is set: then they fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Scratch, Server, ask, free_port, query, try_exchange};
use wire::RType;

const ZONE: &str = "$TTL 3600\n@ SOA ns hostmaster 7 7200 3600 1209600 300\n@ NS ns\n\
                    ns A 127.0.0.1\nwww A 192.0.2.80\napi A 192.0.2.81\n";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a missing tool must fail the test rather than skip it.
fn required() -> bool {
    std::env::var_os("PORTCULLIS_BROWSER_REQUIRED").is_some() || std::env::var_os("CI").is_some()
}

/// `None` when everything the browser test needs is here; else why not (and fails when
/// required).
fn missing(needs: &[(&Path, &str)]) -> Option<String> {
    let absent: Vec<&str> = needs
        .iter()
        .filter(|(p, _)| !p.exists())
        .map(|(_, what)| *what)
        .collect();
    if absent.is_empty() {
        return None;
    }
    let why = absent.join(", ");
    assert!(
        !required(),
        "required but missing: {why} (see scripts/test.sh)"
    );
    eprintln!("SKIPPED: missing {why} (scripts/test.sh installs them)");
    Some(why)
}

/// A query with RD set (`common::query` leaves it clear), for the resolver.
fn rd(id: u16, name: &str, payload: Option<u16>) -> Vec<u8> {
    let mut q = query(id, name, RType::A, payload);
    q[2] |= 0x01;
    q
}

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Content-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// One DNS query over TCP; the response, if any came within a second.
fn tcp_exchange(addr: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let len = u16::try_from(q.len()).ok()?.to_be_bytes();
    s.write_all(&[&len[..], q].concat()).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut resp = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut resp).ok()?;
    Some(resp)
}

/// The authoritative server and the resolver with the dashboard on `127.0.0.1:<http>`.
struct Setup {
    scratch: Scratch,
    auth: Server,
    resolver: Server,
    http: SocketAddr,
}

fn start(test: &str) -> Setup {
    let scratch = Scratch::new(test);
    scratch.write("example.test.zone", ZONE);
    scratch.write("ads.txt", "||ads.example.test^\n");
    let auth_port = free_port();
    let auth = scratch.write(
        "auth.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:{auth_port}\"]\nworkers = 1\ncontrol_socket = \"auth.sock\"\n\n\
             [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n"
        ),
    );
    let auth = Server::start(
        &auth,
        SocketAddr::from(([127, 0, 0, 1], auth_port)),
        scratch.0.join("auth.log"),
    );
    let port = free_port();
    let http_port = free_port();
    let config = scratch.write(
        "resolver.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 2\ncontrol_socket = \"r.sock\"\n\
             http = \"127.0.0.1:{http_port}\"\n\n\
             [[zone]]\norigin = \"local.test.\"\ntext = \"\"\"\n$TTL 60\n@ SOA ns hostmaster 3 7200 3600 1209600 300\n@ NS ns\nns A 127.0.0.1\n\"\"\"\n\n\
             [resolver]\nenabled = true\n\n\
             [[forward]]\nzone = \"example.test.\"\nto = [\"127.0.0.1:{auth_port}\"]\n\n\
             [dnssec]\nvalidation = false\n\n\
             [[blocklist]]\nfile = \"ads.txt\"\nname = \"ads\"\n\n\
             [events]\nfile = \"events.json\"\n\n\
             [dashboard]\ntop_sample = 1\n"
        ),
    );
    // The readiness probe of `Server::start` asks for example.test. SOA: forwarded, answered.
    let resolver = Server::start(
        &config,
        SocketAddr::from(([127, 0, 0, 1], port)),
        scratch.0.join("resolver.log"),
    );
    Setup {
        scratch,
        auth,
        resolver,
        http: SocketAddr::from(([127, 0, 0, 1], http_port)),
    }
}

/// Sends queries until `stop` (at most `limit`): cached names, a blocked one, new NXDOMAIN
/// names, and TCP queries; about 40 a second.
fn traffic(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let end = Instant::now() + limit;
        let mut sent = 0u64;
        let mut i = 0u16;
        while !stop.load(Ordering::Relaxed) && Instant::now() < end {
            i = i.wrapping_add(1);
            let t = Duration::from_millis(500);
            for name in [
                "www.example.test.",
                "ads.example.test.",
                "api.example.test.",
            ] {
                try_exchange(addr, &rd(i, name, Some(1232)), t);
            }
            let nx = format!("nx{}.example.test.", i % 50);
            try_exchange(addr, &rd(i, &nx, Some(1232)), t);
            tcp_exchange(addr, &rd(i, "www.example.test.", None));
            sent += 5;
            std::thread::sleep(Duration::from_millis(100));
        }
        sent
    })
}

#[test]
fn the_dashboard_in_chromium_shows_live_figures_and_blocks_a_name() {
    let browser = repo().join("tests/browser");
    let chromium = Path::new("/usr/bin/chromium");
    let playwright = browser.join("node_modules/playwright-core");
    if missing(&[
        (chromium, "/usr/bin/chromium (apt install chromium)"),
        (
            &playwright,
            "tests/browser/node_modules (npm ci in tests/browser)",
        ),
    ])
    .is_some()
    {
        return;
    }
    let s = start("dashboard-browser");
    let stop = Arc::new(AtomicBool::new(false));
    let sender = traffic(s.resolver.addr, stop.clone(), Duration::from_secs(150));
    let _ = std::fs::create_dir_all(repo().join("target"));
    let screenshot = repo()
        .join("target")
        .canonicalize()
        .unwrap()
        .join("dashboard-screenshot.png");
    let mut node = Command::new("node")
        .current_dir(&browser)
        .args([
            "dashboard.mjs",
            &format!("http://{}/", s.http),
            screenshot.to_str().unwrap(),
            "api.example.test",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (Node.js) runs");
    // Bounded: the script's own waits are 20 s each; kill it by PID past two minutes.
    let deadline = Instant::now() + Duration::from_secs(120);
    while node.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = node.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = node.wait_with_output().unwrap();
    stop.store(true, Ordering::Relaxed);
    let sent = sender.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser checks failed ({sent} queries sent): {stdout}\n{stderr}\n{}",
        s.resolver.log()
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    eprintln!("read from the page: {seen}");
    eprintln!("screenshot: {}", screenshot.display());
    for key in [
        "qps",
        "qps_tcp",
        "rps",
        "p50_ms",
        "cache_hit_ratio",
        "upstream_queries",
        "upstream_server_queries",
    ] {
        assert!(seen[key].as_f64().unwrap() > 0.0, "{key}: {seen}");
    }
    assert!(
        seen["block_event"]
            .as_str()
            .unwrap()
            .contains("blocklist: ads")
    );
    // The upstream panel names the server the resolver forwards to.
    let auth = s.auth.addr.to_string();
    assert!(
        seen["upstream_servers"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|a| a == auth),
        "{seen}"
    );
    assert_eq!(seen["zones"], "local.test.3");
    assert!(screenshot.metadata().unwrap().len() > 10_000);

    // The block clicked on the page holds over DNS, with the operator's EDE.
    let dig = ask("dig", s.resolver.addr, &["api.example.test"]);
    assert!(dig.contains("status: NXDOMAIN"), "{dig}");
    assert!(dig.contains("blocked by operator"), "{dig}");
    // The control socket sees the same list: allow it again, and it resolves.
    let socket = s.scratch.0.join("r.sock");
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "ctl",
            "--socket",
            socket.to_str().unwrap(),
            "allow",
            "api.example.test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dig = ask("dig", s.resolver.addr, &["api.example.test", "+short"]);
    assert_eq!(dig.trim(), "192.0.2.81");
    // Both controls are security events, in the file too.
    let events = std::fs::read_to_string(s.scratch.0.join("events.json")).unwrap();
    assert!(
        events.contains("\"action\":\"control\",\"reason\":\"http api\"")
            && events.contains("block api.example.test (ok; by loopback from 127.0.0.1)"),
        "{events}"
    );
    assert!(events.contains("\"reason\":\"control socket\""), "{events}");
}

#[test]
fn the_api_serves_json_and_controls_refuse_cross_site_requests() {
    let s = start("dashboard-api");
    let addr = s.resolver.addr;
    for _ in 0..3 {
        try_exchange(
            addr,
            &rd(1, "www.example.test.", None),
            Duration::from_secs(1),
        );
        try_exchange(
            addr,
            &rd(2, "ads.example.test.", None),
            Duration::from_secs(1),
        );
    }
    let (status, body) = http(s.http, "GET", "/api/stats", &[]);
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(stats["queries"]["udp"].as_u64().unwrap() >= 7, "{stats}");
    assert!(stats["cache"]["hits"].as_u64().unwrap() >= 2, "{stats}");
    assert_eq!(stats["top"]["blocked"][0]["name"], "ads.example.test.");
    assert_eq!(stats["top"]["blocked"][0]["count"], 3);
    let (_, body) = http(s.http, "GET", "/api/events?after=1", &[]);
    let events: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(events["last"], 3, "{events}");
    assert_eq!(events["events"].as_array().unwrap().len(), 2);
    assert_eq!(events["events"][0]["reason"], "blocklist");
    let (_, body) = http(s.http, "GET", "/api/config", &[]);
    let config: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(config["role"], "authoritative and resolver");
    assert_eq!(config["policy"]["blocklists"][0], "ads");
    assert!(!body.contains("secret") && !body.contains("token\":\""));

    // Controls: POST only, the page's header, same origin, loopback host.
    let ctl = [("X-Portcullis", "1")];
    assert_eq!(http(s.http, "GET", "/api/reload", &ctl).0, 405);
    assert_eq!(http(s.http, "POST", "/api/reload", &[]).0, 403);
    let cross = [("X-Portcullis", "1"), ("Sec-Fetch-Site", "cross-site")];
    assert_eq!(http(s.http, "POST", "/api/reload", &cross).0, 403);
    let origin = [("X-Portcullis", "1"), ("Origin", "http://evil.example")];
    assert_eq!(http(s.http, "POST", "/api/reload", &origin).0, 403);
    let (status, body) = http(s.http, "POST", "/api/flush?name=www.example.test", &ctl);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("flushed www.example.test.: 1 entries"),
        "{body}"
    );
    let (status, body) = http(s.http, "POST", "/api/block", &ctl);
    assert_eq!(status, 400, "{body}");
    assert_eq!(http(s.http, "POST", "/api/reload", &ctl).0, 200);
    let (status, _) = http(s.http, "POST", "/api/detect/allow?domain=tunnel.test", &ctl);
    assert_eq!(status, 200);
    // The page and its assets, with the content security policy.
    let (status, body) = http(s.http, "GET", "/", &[]);
    assert_eq!(status, 200);
    assert!(body.contains("<script defer src=\"/app.js\">"));
    assert_eq!(http(s.http, "GET", "/app.js", &[]).0, 200);
    assert_eq!(http(s.http, "GET", "/api/nothing", &[]).0, 404);
}

#[test]
fn a_token_guards_the_api_and_not_the_metrics() {
    let scratch = Scratch::new("dashboard-token");
    scratch.write("example.test.zone", ZONE);
    scratch.write("token", "0123456789abcdef0123456789abcdef\n");
    let port = free_port();
    let http_port = free_port();
    let config = scratch.write(
        "portcullis.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\ncontrol_socket = \"c.sock\"\n\
             http = \"127.0.0.1:{http_port}\"\nhttp_token_file = \"token\"\n\n\
             [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n"
        ),
    );
    let _server = Server::start(
        &config,
        SocketAddr::from(([127, 0, 0, 1], port)),
        scratch.0.join("server.log"),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], http_port));
    let good = [
        ("Authorization", "Bearer 0123456789abcdef0123456789abcdef"),
        ("X-Portcullis", "1"),
    ];
    let bad = [("Authorization", "Bearer 0123456789abcdef0123456789abcdee")];
    assert_eq!(http(addr, "GET", "/api/stats", &[]).0, 401);
    assert_eq!(http(addr, "GET", "/api/stats", &bad).0, 401);
    assert_eq!(
        http(addr, "POST", "/api/reload", &[("X-Portcullis", "1")]).0,
        401
    );
    assert_eq!(http(addr, "GET", "/api/stats", &good).0, 200);
    assert_eq!(http(addr, "GET", "/api/detect", &[]).0, 401);
    assert_eq!(http(addr, "POST", "/api/reload", &good).0, 200);
    // A reload takes a new token.
    scratch.write("token", "fedcba9876543210fedcba9876543210\n");
    assert_eq!(http(addr, "POST", "/api/reload", &good).0, 200);
    assert_eq!(http(addr, "GET", "/api/stats", &good).0, 401);
    let new = [("Authorization", "Bearer fedcba9876543210fedcba9876543210")];
    assert_eq!(http(addr, "GET", "/api/stats", &new).0, 200);
    scratch.write("token", "0123456789abcdef0123456789abcdef\n");
    let new_ctl = [new[0], ("X-Portcullis", "1")];
    assert_eq!(http(addr, "POST", "/api/reload", &new_ctl).0, 200);
    // Open: the page (which asks for the token), the metrics and the health check.
    assert_eq!(http(addr, "GET", "/", &[]).0, 200);
    assert_eq!(http(addr, "GET", "/metrics", &[]).0, 200);
    assert_eq!(http(addr, "GET", "/healthz", &[]).0, 200);

    // In the browser: the page asks for the token, keeps it for the tab and goes live.
    let browser = repo().join("tests/browser");
    if missing(&[
        (
            Path::new("/usr/bin/chromium"),
            "/usr/bin/chromium (apt install chromium)",
        ),
        (
            &browser.join("node_modules/playwright-core"),
            "tests/browser/node_modules (npm ci in tests/browser)",
        ),
    ])
    .is_some()
    {
        return;
    }
    let out = Command::new("node")
        .current_dir(&browser)
        .args([
            "dashboard.mjs",
            "--token",
            &format!("http://{addr}/"),
            "0123456789abcdef0123456789abcdef",
        ])
        .output()
        .expect("node (Node.js) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"asked\":true") && stdout.contains("\"stored\":true"),
        "{stdout}"
    );
}

#[test]
fn an_exposed_endpoint_without_a_token_is_refused_with_its_location() {
    let scratch = Scratch::new("dashboard-exposed");
    let config = scratch.write(
        "portcullis.toml",
        "[server]\nlisten = [\"127.0.0.1:5300\"]\n\nhttp = \"0.0.0.0:8053\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("portcullis.toml:4:8"), "{stderr}");
    assert!(stderr.contains("server.http_token"), "{stderr}");
    // A short token is refused too, where it is written.
    let config = scratch.write(
        "portcullis.toml",
        "[server]\nlisten = [\"127.0.0.1:5300\"]\nhttp = \"0.0.0.0:8053\"\nhttp_token = \"short\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("portcullis.toml:4:14"), "{stderr}");
    // With a token it is accepted.
    let config = scratch.write(
        "portcullis.toml",
        "[server]\nlisten = [\"127.0.0.1:5300\"]\nhttp = \"0.0.0.0:8053\"\n\
         http_token = \"0123456789abcdef0123\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_committed_bundle_matches_a_fresh_build() {
    let web = repo().join("web");
    if missing(&[(
        &web.join("node_modules/esbuild"),
        "web/node_modules (npm ci in web)",
    )])
    .is_some()
    {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("node")
        .current_dir(&web)
        .args(["build.mjs", out.path().to_str().unwrap()])
        .status()
        .expect("node (Node.js) runs");
    assert!(status.success());
    for file in ["index.html", "app.js", "app.css"] {
        let fresh = std::fs::read(out.path().join(file)).unwrap();
        let committed = std::fs::read(web.join("dist").join(file)).unwrap();
        assert!(
            fresh == committed,
            "web/dist/{file} differs from a fresh build of web/src: run `npm run build` in web/ \
             and commit web/dist"
        );
    }
    let js = std::fs::metadata(web.join("dist/app.js")).unwrap().len();
    assert!(js < 150_000, "the bundle grew to {js} bytes");
}
