//! Metrics, health and status over the wire, with the real binary and real clients:
//!
//! - an authoritative server on UDP, TCP and DNS over TLS, asked with `dig` and `kdig +tls`:
//!   `/metrics` (fetched with `curl`) passes `promtool check metrics` and has the families of
//!   issue 9 with non-zero values per transport and per answer source; `/healthz` and
//!   `/readyz` answer 200 to GET and HEAD; `portcullis ctl status` prints its `key: value`
//!   lines; every metric the Grafana dashboard (`contrib/grafana/portcullis.json`) queries is
//!   in the scrape;
//! - a resolver whose root server is not up: `/readyz` is 503 and says why, and turns 200
//!   once the root server starts and priming succeeds.
//!
//! Needs `dig`, `kdig`, `curl` and `promtool` (scripts/test.sh installs them), and root for
//! the root server on port 53 of a loopback address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, Server, ask, config, ctl, free_port, make_cert, metric, zone};

/// `curl` on `url` with `extra` flags: the status code and the body.
fn curl(url: &str, extra: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl: scripts/test.sh installs it");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: scripts/test.sh installs prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}"
    );
}

/// The sum of every sample of `family` whose labels contain all of `labels`.
fn sum(text: &str, family: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            (name == family && labels.iter().all(|want| series.contains(want)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

/// The metric names a PromQL expression uses: the identifiers that start with `portcullis_`
/// or `process_`, with a histogram's `_bucket`, `_sum` and `_count` kept (they are samples).
fn expr_metrics(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &expr[i..];
        if (rest.starts_with("portcullis_") || rest.starts_with("process_"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            i += end;
        } else {
            i += 1;
        }
    }
    out
}

/// Every `expr` of the dashboard's panels (rows' nested panels included).
fn dashboard_exprs(dashboard: &serde_json::Value) -> Vec<String> {
    let mut exprs = Vec::new();
    let mut stack = vec![dashboard];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::String(e)) = map.get("expr") {
                    exprs.push(e.clone());
                }
                stack.extend(map.values());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    exprs
}

#[test]
fn metrics_health_status_and_the_dashboard_after_traffic_on_each_transport() {
    let scratch = Scratch::new("observability");
    make_cert(&scratch.0, "dns.test");
    let (port, tls_port, http_port) = (free_port(), free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    scratch.write(
        "signed.test.zone",
        "$TTL 3600\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 127.0.0.1\n",
    );
    let text = config(&format!("127.0.0.1:{port}")).replace(
        "workers = 2\n",
        &format!("workers = 2\nhttp = \"127.0.0.1:{http_port}\"\n"),
    ) + &format!(
        "\n[[zone]]\norigin = \"signed.test.\"\nfile = \"signed.test.zone\"\ndnssec = true\n\n\
         [tls]\nlisten = [\"127.0.0.1:{tls_port}\"]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n"
    );
    let cfg = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let dot = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let keys = scratch.0.join("keys");
    let server = Server::start_with(
        &cfg,
        addr,
        scratch.0.join("server.log"),
        &["--key-dir", keys.to_str().unwrap()],
    );

    // Traffic on each transport: answers from the zone, and a REFUSED for a name outside.
    for round in 0..3 {
        assert!(ask("dig", addr, &["+short", "www.example.test.", "A"]).contains("192.0.2.80"));
        ask("dig", addr, &["+tcp", "+short", "www.example.test.", "A"]);
        ask(
            "kdig",
            dot,
            &["+tls", "+short", "www.example.test.", "AAAA"],
        );
        if round == 0 {
            ask("dig", addr, &["nowhere.invalid.", "A"]);
        }
    }

    let base = format!("http://127.0.0.1:{http_port}");
    let (code, text) = curl(&format!("{base}/metrics"), &[]);
    assert_eq!(code, 200, "{}", server.log());
    promtool_check(&text);
    for transport in ["udp", "tcp", "dot"] {
        let t = format!("transport=\"{transport}\"");
        assert!(
            sum(
                &text,
                "portcullis_responses_total",
                &[&t, "rcode=\"NOERROR\""]
            ) >= 3.0,
            "{transport}"
        );
        assert!(
            sum(
                &text,
                "portcullis_response_latency_seconds_count",
                &[&t, "source=\"zone\""]
            ) >= 3.0,
            "{transport}: no latency from the zone\n{text}"
        );
    }
    assert!(
        sum(
            &text,
            "portcullis_response_latency_seconds_count",
            &["source=\"error\""]
        ) >= 1.0
    );
    for transport in ["tcp", "dot"] {
        let t = format!("transport=\"{transport}\"");
        assert!(
            sum(&text, "portcullis_connections_total", &[&t]) >= 3.0,
            "{transport}"
        );
    }
    for (family, labels) in [
        ("portcullis_zone_load_seconds", "zone=\"example.test.\""),
        (
            "portcullis_zone_last_load_timestamp_seconds",
            "zone=\"example.test.\"",
        ),
        ("portcullis_zone_sign_seconds", "zone=\"signed.test.\""),
        (
            "portcullis_zone_last_sign_timestamp_seconds",
            "zone=\"signed.test.\"",
        ),
        ("process_resident_memory_bytes", ""),
        ("portcullis_uptime_seconds", ""),
        ("process_start_time_seconds", ""),
        ("portcullis_build_info", "version=\""),
        ("portcullis_ready", ""),
    ] {
        assert!(
            sum(&text, family, &[labels]) > 0.0,
            "{family}{{{labels}}} is not above zero:\n{text}"
        );
    }
    assert_eq!(metric(&text, "portcullis_zones_loaded"), Some(2.0));

    // Health and readiness, GET and HEAD.
    for path in ["/healthz", "/readyz"] {
        let (code, body) = curl(&format!("{base}{path}"), &[]);
        assert_eq!(code, 200, "{path}: {body}");
        let (code, _) = curl(&format!("{base}{path}"), &["-I"]);
        assert_eq!(code, 200, "HEAD {path}");
    }
    assert_eq!(curl(&format!("{base}/readyz"), &[]).1, "ready\n");

    // ctl status: stable `key: value` lines.
    let (code, status) = ctl(&scratch.0.join("control.sock"), "status");
    assert_eq!(code, Some(0), "{status}");
    for line in [
        "role: authoritative",
        "ready: yes",
        &format!("listen_udp: 127.0.0.1:{port}"),
        &format!("listen_dot: 127.0.0.1:{tls_port}"),
        "listen_doh: off",
        &format!("listen_http: 127.0.0.1:{http_port}"),
        "zones: 2",
        "zone: example.test. serial 1 records",
        "detect_mode: off",
    ] {
        assert!(
            status.lines().any(|l| l.starts_with(line)),
            "no {line:?} in\n{status}"
        );
    }
    let total: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("queries_total: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(total >= 10, "{status}");

    // Every metric the Grafana dashboard asks for is in the scrape.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib/grafana/portcullis.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36);
    let exprs = dashboard_exprs(&dashboard);
    assert!(exprs.len() >= 10, "{exprs:?}");
    let scraped: BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut missing = BTreeSet::new();
    for expr in &exprs {
        for name in expr_metrics(expr) {
            if !scraped.contains(name.as_str()) {
                missing.insert(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard asks for metrics the server does not expose: {missing:?}"
    );
}

#[test]
fn a_resolver_is_ready_once_the_root_is_primed() {
    let scratch = Scratch::new("readyz");
    // The root server's address: nothing answers there yet.
    let root_ip = "127.94.0.2";
    let hints = scratch.write(
        "hints",
        &format!(". 3600000 NS a.root.test.\na.root.test. 3600000 A {root_ip}\n"),
    );
    let http_port = free_port();
    let port = free_port();
    let cfg = scratch.write(
        "resolver.toml",
        &format!(
            "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\ncontrol_socket = \"r.sock\"\n\
             http = \"127.0.0.1:{http_port}\"\n"
        ),
    );
    let log = scratch.0.join("resolver.log");
    let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .args(["--root-hints", hints.to_str().unwrap()])
        .args(["--insecure-local-upstreams", "--no-validation"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _resolver = common::ChildGuard(child);
    let base = format!("http://127.0.0.1:{http_port}");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait = |what: &str, limit: Duration, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + limit;
        while !done() {
            assert!(Instant::now() < deadline, "{what}:\n{}", logs());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("the HTTP endpoint is up", Duration::from_secs(20), &|| {
        curl(&format!("{base}/healthz"), &[]).0 == 200
    });
    // Alive, but not ready: the root cannot be primed. The probe asks for a priming, which
    // times out; still not ready.
    let (code, body) = curl(&format!("{base}/readyz"), &[]);
    assert_eq!(code, 503, "{body}");
    let root = format!("{root_ip}:53");
    let timeouts = || {
        let (_, text) = curl(&format!("{base}/metrics"), &[]);
        sum(
            &text,
            "portcullis_upstream_server_timeouts_total",
            &[&format!("server=\"{root}\"")],
        )
    };
    wait(
        "a priming query to the root times out",
        Duration::from_secs(30),
        &|| {
            curl(&format!("{base}/readyz"), &[]);
            timeouts() >= 1.0
        },
    );
    let (code, body) = curl(&format!("{base}/readyz"), &[]);
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("root priming"), "{body}");
    assert_eq!(curl(&format!("{base}/readyz"), &["-I"]).0, 503);
    assert_eq!(curl(&format!("{base}/healthz"), &[]).0, 200);
    let (_, status) = ctl(&scratch.0.join("r.sock"), "status");
    assert!(
        status.contains("\nready: no (resolver: root priming"),
        "{status}"
    );
    assert!(status.contains("\nrole: resolver\n"), "{status}");
    let (_, text) = curl(&format!("{base}/metrics"), &[]);
    assert_eq!(metric(&text, "portcullis_ready"), Some(0.0));

    // The root comes up: priming succeeds and the resolver turns ready.
    scratch.write(
        "root.zone",
        &format!(
            "$TTL 3600\n@ SOA a.root.test. hostmaster 1 7200 3600 1209600 300\n\
             @ NS a.root.test.\na.root.test. A {root_ip}\n"
        ),
    );
    let root_cfg = scratch.write(
        "root.toml",
        &format!(
            "[server]\nlisten = [\"{root}\"]\nworkers = 1\ncontrol_socket = \"root.sock\"\n\
             [[zone]]\norigin = \".\"\nfile = \"root.zone\"\n"
        ),
    );
    let root_log = scratch.0.join("root.log");
    let root_server = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config", root_cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&root_log).unwrap())
        .spawn()
        .unwrap();
    let _root = common::ChildGuard(root_server);
    wait("the resolver turns ready", Duration::from_secs(40), &|| {
        curl(&format!("{base}/readyz"), &[]).0 == 200
    });
    let (_, text) = curl(&format!("{base}/metrics"), &[]);
    assert_eq!(metric(&text, "portcullis_ready"), Some(1.0));
    assert!(metric(&text, "portcullis_root_primings_total").unwrap_or(0.0) >= 1.0);
    assert!(
        sum(
            &text,
            "portcullis_upstream_rtt_seconds_count",
            &[&format!("server=\"{root}\"")]
        ) >= 1.0,
        "{text}"
    );
    promtool_check(&text);
}
