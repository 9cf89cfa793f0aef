//! The HTTP endpoint on loopback: fetched with `curl` and with a raw TCP stream; the `/metrics`
//! body passes `promtool check metrics`. Needs `curl` and `promtool` (Debian packages `curl`
//! and `prometheus`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use metrics::{QType, Rcode, Registry, Source, Transport};
use portcullis::http::{self, HealthCheck, Limits};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use transport::Shutdown;

/// A running endpoint, stopped when dropped.
struct Endpoint {
    rt: Runtime,
    addr: SocketAddr,
    healthy: Arc<AtomicBool>,
    shutdown: Shutdown,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Endpoint {
    fn start(limits: Limits) -> Endpoint {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let registry = Arc::new(Registry::new(SystemTime::now()));
        let mut worker = registry.worker();
        worker.count_query(Transport::Udp, QType::A);
        worker.count_response(Transport::Udp, Rcode::NoError);
        worker.observe_latency(Transport::Udp, Source::Zone, Duration::from_micros(42));
        let healthy = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&healthy);
        let health: HealthCheck = Arc::new(move || flag.load(Ordering::SeqCst));
        let shutdown = Shutdown::new();
        let task = rt.spawn(http::serve_with(
            listener,
            registry,
            health,
            shutdown.clone(),
            limits,
            guard::Acl::allow_all(),
            events::Events::disabled(),
        ));
        Endpoint {
            rt,
            addr,
            healthy,
            shutdown,
            task: Some(task),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the endpoint and checks that it returned in good time.
    fn stop(mut self) {
        self.shutdown.trigger();
        let task = self.task.take().unwrap();
        let started = Instant::now();
        let result = self
            .rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
            .expect("serve returns once shutdown fires");
        result.unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

fn curl(args: &[&str]) -> Output {
    match Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
    {
        Ok(out) => out,
        Err(e) => panic!("cannot run curl ({e}): install the Debian package `curl`"),
    }
}

/// Sends `request` on a fresh connection and reads until the server closes it.
fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

fn promtool_check(body: &[u8]) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run promtool ({e}): install the Debian package `prometheus` \
             (apt-get install prometheus), as scripts/test.sh does"
        ),
    };
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn metrics_with_curl_pass_promtool() {
    let ep = Endpoint::start(Limits::default());
    let out = curl(&["-D", "-", "-o", "/dev/null", &ep.url("/metrics")]);
    assert!(out.status.success(), "{out:?}");
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        head.contains(&format!("content-type: {}\r\n", metrics::CONTENT_TYPE)),
        "{head}"
    );
    assert!(head.contains("connection: close\r\n"), "{head}");

    let out = curl(&["--fail", &ep.url("/metrics")]);
    assert!(out.status.success(), "{out:?}");
    let body = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(body.contains("# TYPE "), "{body}");
    assert!(body.contains("transport=\"udp\""), "{body}");
    promtool_check(&out.stdout);
    ep.stop();
}

#[test]
fn healthz_follows_the_health_check() {
    let ep = Endpoint::start(Limits::default());
    let out = curl(&["-w", "%{http_code}", &ep.url("/healthz")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n200");
    ep.healthy.store(false, Ordering::SeqCst);
    let out = curl(&["-w", "%{http_code}", &ep.url("/healthz")]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "unhealthy\n503");
    ep.healthy.store(true, Ordering::SeqCst);
    let out = curl(&["-I", "-w", "%{http_code}", &ep.url("/healthz")]);
    assert!(
        String::from_utf8_lossy(&out.stdout).ends_with("200"),
        "{out:?}"
    );
    ep.stop();
}

#[test]
fn raw_requests() {
    let ep = Endpoint::start(Limits::default());
    let r = raw(ep.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    assert!(r.ends_with("\r\n\r\nok\n"), "{r}");

    let r = raw(ep.addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");

    let r = raw(
        ep.addr,
        b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
    assert!(
        r.to_ascii_lowercase().contains("allow: get, head\r\n"),
        "{r}"
    );

    // HTTP/1.0 works too, and a second request on the connection is not served.
    let r = raw(
        ep.addr,
        b"GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
    );
    assert!(r.starts_with("HTTP/1.0 200 OK\r\n"), "{r}");
    assert_eq!(r.matches("HTTP/1.").count(), 1, "{r}");

    // Headers over 8 KiB are refused.
    let mut big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 9000));
    big.extend_from_slice(b"\r\n\r\n");
    let r = raw(ep.addr, &big);
    assert!(
        r.is_empty() || r.starts_with("HTTP/1.1 431 "),
        "expected 431 or a closed connection, got {r}"
    );

    // Garbage is not a request.
    let r = raw(ep.addr, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n");
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 400 "), "{r}");
    ep.stop();
}

#[test]
fn slow_clients_and_connection_limit() {
    let ep = Endpoint::start(Limits {
        max_connections: 2,
        header_timeout: Duration::from_millis(500),
        connection_timeout: Duration::from_secs(2),
    });
    // Two idle connections take both slots.
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(ep.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // A third is closed without an answer.
    let r = raw(ep.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r, "", "a connection over the limit is closed");
    // The idle ones are dropped after the header timeout, freeing the slots.
    let started = Instant::now();
    for mut stream in idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf);
    }
    assert!(started.elapsed() < Duration::from_secs(3));
    std::thread::sleep(Duration::from_millis(100));
    let r = raw(ep.addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    ep.stop();
}
