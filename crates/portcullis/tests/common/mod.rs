//! What the tests that run `portcullis serve` share: a scratch directory and a server process
//! that are cleaned up on every path, a test zone and configuration, a `wire` client, and `dig`,
//! `kdig` and `portcullis ctl` runners.
//!
//! Each test file includes this module (`mod common;`) and uses part of it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wire::message::{Flags, Header, Section};
use wire::writer::MessageWriter;
use wire::{Class, Message, Name, RType, Rcode};

// ---------------------------------------------------------------------------------------------
// Guards
// ---------------------------------------------------------------------------------------------

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portcullis-serve-{test}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        // Write aside and rename, so a reload never reads half a file.
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `portcullis serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `portcullis serve --config <config>` and waits (at most 20 s) until it answers
    /// on `addr`.
    pub fn start(config: &Path, addr: SocketAddr, log: PathBuf) -> Server {
        Server::start_with(config, addr, log, &[])
    }

    /// [`Server::start`] with more command-line flags.
    #[allow(dead_code)]
    pub fn start_with(config: &Path, addr: SocketAddr, log: PathBuf, flags: &[&str]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut server = Server { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = query(7, "example.test.", RType::SOA, None);
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("the server exited with {status}:\n{}", server.log());
            }
            if try_exchange(addr, &probe, Duration::from_millis(200)).is_some() {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "no answer within 20 s:\n{}",
                server.log()
            );
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name} failed");
    }

    /// Waits at most `limit` for the server to exit; panics if it is still running.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "still running {limit:?} later:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most 10 s) until the log holds `text` `times` times.
    pub fn wait_log(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.log().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "`{text}` not logged:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The SOA serial served for `example.test.`.
    pub fn serial(&self) -> u32 {
        let resp = exchange(self.addr, &query(8, "example.test.", RType::SOA, None));
        let m = Message::parse(&resp).unwrap();
        let soa = m.records(Section::Answer).next().expect("an SOA");
        let rdata = soa.raw_rdata();
        let at = rdata.len() - 20;
        u32::from_be_bytes(rdata[at..at + 4].try_into().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A port free for UDP and TCP on every IPv4 address (so that a wildcard bind works too).
///
/// It is chosen below the kernel's ephemeral range when that leaves room: a port from the
/// range could be taken by a client socket (tests open many: dnsperf, a connection flood)
/// between this check and the server's bind.
pub fn free_port() -> u16 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    for _ in 0..200 {
        let port = if ephemeral_low > 11_000 {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (std::process::id(), N.fetch_add(1, Ordering::Relaxed)).hash(&mut h);
            Instant::now().hash(&mut h);
            10_000 + (h.finish() % u64::from(ephemeral_low - 10_000)) as u16
        } else {
            UdpSocket::bind("0.0.0.0:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        };
        let any = Ipv4Addr::UNSPECIFIED;
        if UdpSocket::bind((any, port)).is_ok() && TcpListener::bind((any, port)).is_ok() {
            return port;
        }
    }
    panic!("no free port after 200 tries");
}

pub fn zone(serial: u32) -> String {
    let mut z = format!(
        "$TTL 3600\n@ SOA ns hostmaster {serial} 7200 3600 1209600 300\n@ NS ns\n\
         ns A 127.0.0.1\nwww A 192.0.2.80\n"
    );
    // About 2,000 bytes of TXT: more than 512, less than the 4,096 configured.
    for i in 0..20 {
        z.push_str(&format!("big TXT \"{i:02}{}\"\n", "x".repeat(90)));
    }
    z
}

pub fn config(listen: &str) -> String {
    format!(
        "[server]\nlisten = [\"{listen}\"]\nworkers = 2\nudp_payload = 4096\nlog_level = \"info\"\n\
         control_socket = \"control.sock\"\n\n\
         [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n"
    )
}

/// A server on `127.0.0.1:<free port>` serving `example.test.` with serial 1.
pub fn serve(test: &str) -> (Scratch, Server) {
    let scratch = Scratch::new(test);
    let port = free_port();
    scratch.write("example.test.zone", &zone(1));
    let config = scratch.write("portcullis.toml", &config(&format!("127.0.0.1:{port}")));
    let log = scratch.0.join("server.log");
    let server = Server::start(&config, SocketAddr::from(([127, 0, 0, 1], port)), log);
    (scratch, server)
}

/// A query; `payload` adds an OPT record.
pub fn query(id: u16, name: &str, qtype: RType, payload: Option<u16>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default(),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    if let Some(p) = payload {
        w.opt(p, Rcode::NOERROR, false).unwrap().finish().unwrap();
    }
    w.finish().to_vec()
}

/// `recv_from` that waits on when a signal interrupts it (a socket with a read timeout is
/// never restarted by the kernel); `None` on a timeout or another error.
pub fn recv_from(s: &UdpSocket, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    loop {
        match s.recv_from(buf) {
            Ok(got) => return Some(got),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

pub fn try_exchange(to: SocketAddr, q: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let local = if to.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    };
    let s = UdpSocket::bind(local).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.send_to(q, to).unwrap();
    let mut buf = [0u8; 65_535];
    let (n, from) = recv_from(&s, &mut buf)?;
    assert_eq!(from, to, "the reply came from another address");
    Some(buf[..n].to_vec())
}

pub fn exchange(to: SocketAddr, q: &[u8]) -> Vec<u8> {
    try_exchange(to, q, Duration::from_secs(5)).expect("an answer within 5 s")
}

/// Runs `tool` (dig or kdig) against the server; returns its output.
pub fn ask(tool: &str, addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new(tool)
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=2"])
        .arg(if tool == "kdig" {
            "+retry=0"
        } else {
            "+tries=1"
        })
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): scripts/test.sh installs it"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

/// A port free for UDP and TCP on every address of `ips` (so a server can listen on all of
/// them); panics after 50 tries.
pub fn free_port_on(ips: &[IpAddr]) -> u16 {
    for _ in 0..50 {
        let port = free_port();
        let free = ips.iter().all(|&ip| {
            let addr = SocketAddr::new(ip, port);
            UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok()
        });
        if free {
            return port;
        }
    }
    panic!("no port free on all of {ips:?} after 50 tries");
}

/// Runs `portcullis ctl --socket <socket> <command>`; returns its exit code and standard output
/// (standard error appended, for failure messages).
pub fn ctl(socket: &Path, command: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["ctl", "--socket", socket.to_str().unwrap(), command])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// The value of the metric line `series` (a name with its labels, as rendered) in a Prometheus
/// text exposition.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// A child process (other than the server) killed and reaped when dropped.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Waits at most `limit` for the child to exit, or panics (the guard then kills it).
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `portcullis cert self-signed --name NAME` into `dir` (created if need be): `cert.pem`
/// and `key.pem`, valid for NAME, 127.0.0.1 and ::1.
pub fn make_cert(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["cert", "self-signed", "--name", name])
        .args(["--out-cert", "cert.pem", "--out-key", "key.pem"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `portcullis query ARGS` in `dir`: its exit code, standard output and standard error.
pub fn pquery(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("query")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines of the answer section of `portcullis query` output.
pub fn answer_section(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| *l != ";; ANSWER SECTION:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}
