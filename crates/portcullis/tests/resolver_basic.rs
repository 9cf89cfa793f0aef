//! The recursive resolver through the binary, as a new user would try it: a small test world
//! of two `portcullis serve` authoritative servers on port 53 (the root and `test.`), a
//! resolver started with `--root-hints` and `--insecure-local-upstreams`, and `dig`.
//!
//! Each test owns the loopback block `127.N.0.0/16` (N = 77, 78, 79: the other resolver tests
//! use the blocks listed in `tests/world/mod.rs`): `127.N.0.2` serves the root, `127.N.0.3`
//! serves `test.`, the resolver listens on `127.N.0.1:5300`. Glue carries addresses only, so
//! the authoritative servers need port 53: a test that cannot bind it (not root) says so and
//! passes without checking. Everything started is killed by its PID when the test ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ROOT_ZONE: &str = "$TTL 3600
@ SOA a.root.test. hostmaster.root.test. 1 7200 3600 1209600 300
@ NS a.root.test.
test. NS ns.test.
ns.test. A 127.N.0.3
a.root.test. A 127.N.0.2
";

const TEST_ZONE: &str = "$TTL 300
@ SOA ns hostmaster 1 7200 3600 1209600 60
@ NS ns
ns A 127.N.0.3
a.root A 127.N.0.2
www.example A 192.0.2.80
alias.example CNAME www.example
";

/// A `portcullis serve`, killed by its PID when dropped.
struct Served {
    child: Child,
    log: PathBuf,
    name: &'static str,
}

impl Served {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test's files and processes.
struct World {
    dir: tempfile::TempDir,
    block: u8,
    servers: Vec<Served>,
}

impl World {
    fn new(block: u8) -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
            block,
            servers: Vec::new(),
        }
    }

    fn ip(&self, last: u8) -> String {
        format!("127.{}.0.{last}", self.block)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        let text = text.replace("127.N.", &format!("127.{}.", self.block));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Whether this process may bind port 53 on the block; prints why not.
    fn can_bind_53(&self) -> bool {
        let addr = format!("{}:53", self.ip(2));
        match UdpSocket::bind(&addr) {
            Ok(_) => true,
            Err(e) if e.kind() != std::io::ErrorKind::PermissionDenied => {
                panic!("cannot bind {addr}: {e}")
            }
            Err(e) => {
                println!(
                    "skipped: cannot bind {addr} ({e}); the test world's authoritative servers \
                     need port 53 (run as root)"
                );
                false
            }
        }
    }

    /// Starts an authoritative server for `origin` from `zone` text on `ip:53`.
    fn authoritative(&mut self, name: &'static str, ip: &str, origin: &str, zone: &str) {
        let zone_file = self.write(&format!("{name}.zone"), zone);
        let config = format!(
            "[server]\nlisten = [\"{ip}:53\"]\nworkers = 1\ncontrol_socket = \"{}\"\n\
             [[zone]]\norigin = \"{origin}\"\nfile = \"{}\"\n",
            self.path(&format!("{name}.sock")).display(),
            zone_file.display()
        );
        let config = self.write(&format!("{name}.toml"), &config);
        self.start(name, &["serve", "--config", config.to_str().unwrap()]);
        self.wait_for(name, &format!("{ip}:53"), origin);
    }

    /// Starts the resolver on `127.N.0.1:5300` with `extra` flags and `config` text beside its
    /// listen address, control socket and HTTP endpoint (`127.N.0.1:9153`).
    fn resolver(&mut self, config: &str, extra: &[&str]) {
        let ip = self.ip(1);
        let text = format!(
            "[server]\nlisten = [\"{ip}:5300\"]\nworkers = 1\ncontrol_socket = \"{}\"\n\
             http = \"{ip}:9153\"\n{config}",
            self.path("resolver.sock").display()
        );
        let path = self.write("resolver.toml", &text);
        let mut args = vec!["serve", "--config", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start("resolver", &args);
        // The resolver answers its local name at once.
        self.wait_for("resolver", &format!("{ip}:5300"), "localhost.");
    }

    fn start(&mut self, name: &'static str, args: &[&str]) {
        let log = self.path(&format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.servers.push(Served { child, log, name });
    }

    /// Waits (at most 10 s) until `addr` answers a SOA query for `name` with some status.
    fn wait_for(&mut self, server: &str, addr: &str, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = addr.parse().unwrap();
        loop {
            let out = dig(addr, &[name, "SOA", "+norec"]);
            if out.contains("status:") {
                return;
            }
            for s in &mut self.servers {
                if let Some(status) = s.child.try_wait().unwrap() {
                    panic!("{} exited with {status}:\n{}", s.name, s.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "{server} did not answer on {addr} within 10 s:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("--- {} ---\n{}", s.name, s.log()))
            .collect()
    }

    fn resolver_addr(&self) -> SocketAddr {
        format!("{}:5300", self.ip(1)).parse().unwrap()
    }

    fn ctl(&self, args: &[&str]) -> String {
        let socket = self.path("resolver.sock");
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["ctl", "--socket", socket.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "ctl {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// The value of one sample of the resolver's `/metrics`.
    fn metric(&self, sample: &str) -> u64 {
        let url = format!("http://{}:9153/metrics", self.ip(1));
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "5", &url])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(sample)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {sample} in:\n{text}"))
            .parse()
            .unwrap()
    }
}

/// `dig @addr -p port ARGS`, one try of 2 seconds.
fn dig(addr: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig (Debian package bind9-dnsutils) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The TTL of the first answer record for `name` in dig's output.
fn answer_ttl(out: &str, name: &str) -> u32 {
    out.lines()
        .find(|l| l.starts_with(name) && !l.starts_with(';'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no answer for {name}:\n{out}"))
}

/// The root and `test.` served on port 53 of the block; `None` (skipped) without port 53.
fn world(block: u8) -> Option<World> {
    let mut w = World::new(block);
    if !w.can_bind_53() {
        return None;
    }
    let (root, tld) = (w.ip(2), w.ip(3));
    w.authoritative("root", &root, ".", ROOT_ZONE);
    w.authoritative("tld", &tld, "test.", TEST_ZONE);
    w.write(
        "world.hints",
        ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.N.0.2\n",
    );
    Some(w)
}

fn hints(w: &World) -> String {
    w.path("world.hints").to_str().unwrap().to_owned()
}

#[test]
fn second_answer_comes_from_the_cache_and_flush_empties_it() {
    const N: u8 = 77;
    let Some(mut w) = world(N) else { return };
    let hints = hints(&w);
    w.resolver(
        "",
        &[
            "--root-hints",
            &hints,
            "--insecure-local-upstreams",
            "--no-validation",
        ],
    );
    let addr = w.resolver_addr();

    let first = dig(addr, &["www.example.test"]);
    assert!(first.contains("status: NOERROR"), "{first}\n{}", w.logs());
    assert!(first.contains(" rd ra;"), "RA and RD, no AA: {first}");
    assert!(first.contains("192.0.2.80"), "{first}");
    let sent = w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}");
    assert!(sent >= 2, "root and test. asked: {sent}");
    let hits = w.metric("portcullis_cache_hits_total");

    std::thread::sleep(Duration::from_millis(1100));
    let second = dig(addr, &["www.example.test"]);
    assert!(second.contains("192.0.2.80"), "{second}");
    let (t1, t2) = (
        answer_ttl(&first, "www.example.test."),
        answer_ttl(&second, "www.example.test."),
    );
    assert!(t2 < t1 && t1 <= 300, "TTL {t1} then {t2}");
    assert_eq!(
        w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}"),
        sent,
        "the second answer needed no upstream query"
    );
    assert_eq!(w.metric("portcullis_cache_hits_total"), hits + 1);
    let stats = w.ctl(&["cache-stats"]);
    assert!(
        stats.starts_with("ok\n") && stats.contains("\nhits "),
        "{stats}"
    );

    // A CNAME, over TCP.
    let alias = dig(addr, &["alias.example.test", "+tcp"]);
    assert!(
        alias.contains("CNAME") && alias.contains("192.0.2.80"),
        "{alias}"
    );

    // A reload keeps the cache.
    let entries = |stats: &str| -> u64 {
        stats
            .lines()
            .find_map(|l| l.strip_prefix("entries "))
            .unwrap()
            .parse()
            .unwrap()
    };
    let before = entries(&w.ctl(&["cache-stats"]));
    assert!(before > 0);
    let reloaded = w.ctl(&["reload"]);
    assert!(
        reloaded.starts_with(
            "ok
reloaded"
        ),
        "{reloaded}"
    );
    assert_eq!(entries(&w.ctl(&["cache-stats"])), before);
    let sent = w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}");
    let cached = dig(addr, &["www.example.test"]);
    assert!(cached.contains("192.0.2.80"), "{cached}");
    assert_eq!(
        w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}"),
        sent,
        "answered from the cache kept across the reload"
    );

    // Flush the name and below it, then everything.
    let flushed = w.ctl(&["flush", "example.test", "--subtree"]);
    assert!(
        flushed.contains("flushed example.test. and below"),
        "{flushed}"
    );
    let flushed = w.ctl(&["flush"]);
    assert!(flushed.contains("flushed the whole cache"), "{flushed}");
    let stats = w.ctl(&["cache-stats"]);
    assert!(stats.contains("\nentries 0\n"), "{stats}");
    let again = dig(addr, &["www.example.test"]);
    assert!(again.contains("192.0.2.80"), "{again}");
    assert!(
        w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}") > sent,
        "after a flush the resolver asks again"
    );
}

#[test]
fn forward_to_a_server() {
    const N: u8 = 78;
    let Some(mut w) = world(N) else { return };
    let hints = hints(&w);
    let forward = format!("test.={}", w.ip(3));
    // No --insecure-local-upstreams: a forwarder may be a loopback address, and the forward
    // replaces the local zone `test.`.
    w.resolver(
        "",
        &[
            "--root-hints",
            &hints,
            "--forward",
            &forward,
            "--no-validation",
        ],
    );
    let addr = w.resolver_addr();
    let out = dig(addr, &["www.example.test"]);
    assert!(
        out.contains("status: NOERROR") && out.contains("192.0.2.80"),
        "{out}\n{}",
        w.logs()
    );
    assert_eq!(
        w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}"),
        1,
        "one query, to the forwarder"
    );
    // Other special-use names stay local.
    let out = dig(addr, &["anything.invalid"]);
    assert!(
        out.contains("status: NXDOMAIN") && out.contains(" aa "),
        "{out}"
    );
}

#[test]
fn refused_outside_the_acl_local_zones_for_everyone() {
    const N: u8 = 79;
    let mut w = World::new(N);
    // 127.0.0.1 (where dig sends from) is not offered recursion. No authoritative server is
    // needed: nothing may be asked upstream.
    w.resolver(
        "[resolver]\nenabled = true\nallow_recursion = [\"10.0.0.0/8\"]\n",
        &[],
    );
    let addr = w.resolver_addr();
    let out = dig(addr, &["-b", "127.0.0.1", "www.example.com"]);
    assert!(out.contains("status: REFUSED"), "{out}\n{}", w.logs());
    assert!(
        !out.contains(" ra"),
        "no RA for a client outside the ACL: {out}"
    );
    assert!(out.contains("EDE: 18"), "EDE 18 Prohibited: {out}");
    // The local zones answer every client.
    let out = dig(addr, &["-b", "127.0.0.1", "localhost", "A"]);
    assert!(
        out.contains("status: NOERROR") && out.contains("127.0.0.1"),
        "{out}"
    );
    let out = dig(addr, &["-b", "127.0.0.1", "1.0.0.10.in-addr.arpa", "PTR"]);
    assert!(out.contains("status: NXDOMAIN"), "RFC 6303: {out}");
    assert_eq!(
        w.metric("portcullis_upstream_queries_total{protocol=\"udp\"}"),
        0
    );
}
