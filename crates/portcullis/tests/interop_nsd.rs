//! Differential test against NSD: the same zone served by NSD and by Portcullis, several hundred
//! queries sent to both by dnspython, answers compared (RCODE, AA and TC, every section as a set).
//! Differences Portcullis makes on purpose are listed with their reason in
//! `tests/interop/known-differences.txt`; any other difference fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

/// A child process killed (by its own PID) when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary folder removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("portcullis-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A loopback port free for both UDP and TCP at the time of asking.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until a server answers a SOA query for `diff.test.` on `port`, for at most 20 s:
/// `false` when it exited first.
fn wait_for(server: &mut Guard, port: u16, what: &str) -> bool {
    let query = {
        let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x04diff\x04test\x00\x00\x06\x00\x01");
        q
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if server.0.try_wait().is_ok_and(|status| status.is_some()) {
            return false;
        }
        let _ = socket.send_to(&query, ("127.0.0.1", port));
        if let Ok((n, _)) = socket.recv_from(&mut buf)
            && n > 12
            && buf[..2] == [0x12, 0x34]
        {
            return true;
        }
    }
    panic!("{what} did not answer on port {port} within 20 s");
}

/// Starts a server with `start` on a free port and waits until it answers; one that exits
/// before answering (another process took the port between `free_port` and its bind) is
/// started again on another port, at most three times.
fn serve(what: &str, start: impl Fn(u16) -> Guard) -> (Guard, u16) {
    for _ in 0..3 {
        let port = free_port();
        let mut guard = start(port);
        if wait_for(&mut guard, port, what) {
            return (guard, port);
        }
    }
    panic!("{what} exited at start on three ports in a row");
}

fn require(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{tool} is required (scripts/test.sh installs it)"
    );
}

fn start_nsd(dir: &Path, zone: &Path, port: u16) -> Guard {
    let conf = dir.join("nsd.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "server:\n    ip-address: 127.0.0.1@{port}\n    username: \"\"\n    chroot: \"\"\n    \
             database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    \
             pidfile: \"{d}/nsd.pid\"\n    rrl-ratelimit: 0\n    server-count: 1\n    \
             minimal-responses: yes\n    verbosity: 0\nremote-control:\n    control-enable: no\n\
             zone:\n    name: diff.test.\n    zonefile: \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    let child = Command::new("nsd")
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsd starts");
    Guard(child)
}

#[test]
fn answers_match_nsd() {
    require("nsd");
    require("python3");
    let dir = TempDir::new("nsd-diff");
    let zone = dir.0.join("diff.test.zone");
    std::fs::copy(Path::new(INTEROP).join("diff.test.zone"), &zone).unwrap();

    let (_nsd, nsd_port) = serve("nsd", |port| start_nsd(&dir.0, &zone, port));
    // An empty configuration: authoritative only, as NSD (the built-in one is a resolver).
    let config = dir.0.join("portcullis.toml");
    std::fs::write(&config, "").unwrap();
    let start_ours = |port: u16| {
        Guard(
            Command::new(env!("CARGO_BIN_EXE_portcullis"))
                .arg("serve")
                .arg("--config")
                .arg(&config)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--zone")
                .arg(format!("diff.test.={}", zone.display()))
                .arg("--log-level")
                .arg("warn")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("portcullis starts"),
        )
    };
    let (_ours, ours_port) = serve("portcullis", start_ours);

    let out = Command::new("python3")
        .arg(Path::new(INTEROP).join("differential.py"))
        .arg(format!("127.0.0.1:{nsd_port}"))
        .arg(format!("127.0.0.1:{ours_port}"))
        .arg("diff.test.")
        .arg(&zone)
        .arg("--known-differences")
        .arg(Path::new(INTEROP).join("known-differences.txt"))
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "answers differ from NSD:\n{report}");
    let first = report.lines().next().unwrap_or_default();
    let total: usize = first
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(total >= 300, "only {total} queries compared");
}
