//! What the differential tests against NSD share (`interop_nsd.rs`, `auth_dnssec.rs`): a
//! child process and a folder cleaned up on every path, and a server started on a free
//! loopback port and waited for until it answers.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (by its own PID) when the test ends, however it ends.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A temporary folder removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
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

/// Waits until a server answers a SOA query for `zone` (`signed.test.`) on `port`, for at
/// most 20 s: `false` when it exited first.
fn wait_for(server: &mut Guard, port: u16, zone: &str, what: &str) -> bool {
    let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in zone.split('.').filter(|l| !l.is_empty()) {
        query.push(u8::try_from(label.len()).unwrap());
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(b"\x00\x00\x06\x00\x01");
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

/// Starts a server of `zone` with `start` on a free port and waits until it answers; one
/// that exits before answering (another process took the port between `free_port` and its
/// bind) is started again on another port, at most three times.
pub fn serve(what: &str, zone: &str, start: impl Fn(u16) -> Guard) -> (Guard, u16) {
    for _ in 0..3 {
        let port = free_port();
        let mut guard = start(port);
        if wait_for(&mut guard, port, zone, what) {
            return (guard, port);
        }
    }
    panic!("{what} exited at start on three ports in a row");
}

/// Portcullis serving `origin` from `zone` on `port`, authoritative only as NSD is (the
/// built-in configuration is a resolver), its control socket in `dir`.
pub fn start_portcullis(dir: &Path, origin: &str, zone: &Path, port: u16) -> Guard {
    let config = dir.join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ncontrol_socket = \"{}\"\n",
            dir.join("control.sock").display()
        ),
    )
    .unwrap();
    Guard(
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--zone")
            .arg(format!("{origin}={}", zone.display()))
            .arg("--log-level")
            .arg("warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("portcullis starts"),
    )
}
