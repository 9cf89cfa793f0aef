//! `portcullis serve` under operational conditions, through the real binary: reloads (SIGHUP and
//! `portcullis ctl reload`) during a fixed-rate `dnsperf` run, a TCP connection flood with a
//! slow writer, the switch to `server.user` after binding a privileged port, UDP and TCP on
//! IPv4 and IPv6 with the built-in configuration's listen list, and what a reload applies.
//!
//! Missing tools (`dnsperf`, `dig`) are a failure, not a skip: `scripts/test.sh` installs them.
//! Tests that need root, IPv6 or more open files than the system allows print a note and skip.
//! Every server and tool runs on loopback; guards kill every child and remove the scratch files
//! on every path, and every wait is bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{
    ChildGuard, Scratch, Server, ask, config, ctl, free_port_on, metric, query, serve, zone,
};
use wire::RType;

// ---------------------------------------------------------------------------------------------
// Reloads under load
// ---------------------------------------------------------------------------------------------

/// The figures of a dnsperf run's summary.
#[derive(Debug)]
struct Dnsperf {
    sent: u64,
    completed: u64,
    lost: u64,
}

impl Dnsperf {
    /// Reads `Queries sent:`, `Queries completed:` and `Queries lost:` from dnsperf's output.
    fn parse(out: &str) -> Dnsperf {
        let field = |label: &str| -> u64 {
            out.lines()
                .find_map(|line| line.trim().strip_prefix(label))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no `{label}` in dnsperf's output:\n{out}"))
        };
        Dnsperf {
            sent: field("Queries sent:"),
            completed: field("Queries completed:"),
            lost: field("Queries lost:"),
        }
    }
}

/// dnsperf sends 2,000 queries a second for 8 seconds while the test reloads the server ten
/// times, alternating SIGHUP and `portcullis ctl reload`, with a new zone serial each time: no
/// query may go unanswered, and the last serial written is the one served.
#[test]
fn reloads_under_load_lose_no_query() {
    const SECONDS: u64 = 8;
    const RELOADS: u32 = 10;
    let (scratch, server) = serve("reload-load");
    let socket = scratch.0.join("control.sock");
    let queries = scratch.write(
        "queries.txt",
        "www.example.test A\nexample.test SOA\nns.example.test A\nnope.example.test A\n",
    );
    let out_path = scratch.0.join("dnsperf.out");
    let child = Command::new("dnsperf")
        .args(["-s", "127.0.0.1", "-p", &server.addr.port().to_string()])
        .args(["-d", queries.to_str().unwrap()])
        .args(["-l", &SECONDS.to_string(), "-Q", "2000", "-c", "2"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run dnsperf ({e}): scripts/test.sh installs it (Debian package dnsperf)")
        });
    let mut dnsperf = ChildGuard(child);
    let started = Instant::now();

    // Reloads spaced evenly over the run, the first half a step in.
    let step = Duration::from_millis(SECONDS * 1000 / u64::from(RELOADS));
    for i in 0..RELOADS {
        let at = step / 2 + step * i;
        if let Some(wait) = at.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
        let serial = i + 2;
        scratch.write("example.test.zone", &zone(serial));
        if i % 2 == 0 {
            server.signal("HUP");
            wait_for_serial(&server, serial);
        } else {
            let (code, text) = ctl(&socket, "reload");
            assert_eq!(code, Some(0), "ctl reload {i}: {text}\n{}", server.log());
            assert!(
                text.contains(&format!("example.test. serial {serial}")),
                "{text}"
            );
        }
    }
    assert!(
        dnsperf.0.try_wait().unwrap().is_none(),
        "dnsperf ended before the last reload ({:?} in)",
        started.elapsed()
    );

    // dnsperf stops after SECONDS; a query unanswered within its 5 s timeout counts as lost.
    let status = dnsperf.wait(Duration::from_secs(SECONDS + 20));
    let mut stderr = String::new();
    if let Some(mut pipe) = dnsperf.0.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    let out = std::fs::read_to_string(&out_path).unwrap();
    // The summary, without a `[Timeout]` line per lost query.
    let out = out
        .lines()
        .filter(|line| !line.starts_with("[Timeout]"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        status.success(),
        "dnsperf failed ({status}):\n{out}{stderr}"
    );
    let run = Dnsperf::parse(&out);
    println!("dnsperf across {RELOADS} reloads: {run:?}");
    assert_eq!(run.lost, 0, "queries lost across reloads:\n{out}");
    assert_eq!(run.completed, run.sent, "{out}");
    // At 2,000 a second for 8 seconds; allow for a slow machine, not for a stalled run.
    assert!(run.sent >= 8_000, "dnsperf sent too few queries:\n{out}");

    assert_eq!(server.serial(), RELOADS + 1);
    let (code, stats) = ctl(&socket, "stats");
    assert_eq!(code, Some(0), "{stats}");
    assert_eq!(
        metric(&stats, "portcullis_reloads_total{result=\"success\"}"),
        Some(f64::from(RELOADS)),
        "{stats}"
    );
    assert_eq!(
        metric(&stats, "portcullis_reloads_total{result=\"failure\"}"),
        Some(0.0),
        "{stats}"
    );
}

/// Waits (at most 5 s) until the server serves `serial`.
fn wait_for_serial(server: &Server, serial: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.serial() != serial {
        assert!(
            Instant::now() < deadline,
            "serial {serial} not served 5 s after SIGHUP:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Connection flood
// ---------------------------------------------------------------------------------------------

/// Raises this process's soft open-file limit to at least `wanted` (within the hard limit);
/// false when the hard limit is lower.
fn enough_open_files(wanted: u64) -> bool {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= wanted {
        return true;
    }
    if hard < wanted {
        return false;
    }
    setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).unwrap();
    true
}

/// A TCP client from `source` that writes a length-prefixed query one byte every 100 ms, over
/// and over, until dropped or until the server closes the connection.
struct SlowWriter {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<(usize, bool)>>,
}

impl SlowWriter {
    fn start(source: IpAddr, to: SocketAddr) -> SlowWriter {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.bind(&SocketAddr::new(source, 0).into()).unwrap();
        socket
            .connect_timeout(&to.into(), Duration::from_secs(2))
            .unwrap();
        let mut stream: TcpStream = socket.into();
        let q = query(11, "www.example.test.", RType::A, None);
        let mut message = (q.len() as u16).to_be_bytes().to_vec();
        message.extend_from_slice(&q);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut written = 0;
            for byte in message.iter().cycle() {
                if flag.load(Ordering::Relaxed) {
                    return (written, false);
                }
                if stream.write_all(&[*byte]).is_err() {
                    return (written, true);
                }
                written += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (written, false)
        });
        SlowWriter {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the writer; returns how many bytes it wrote and whether the server had closed the
    /// connection.
    fn finish(mut self) -> (usize, bool) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map_or((0, false), |t| t.join().unwrap())
    }
}

impl Drop for SlowWriter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether the server has closed `stream` (without reading or blocking).
fn closed_by_server(stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let closed = match (&*stream).read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    stream.set_nonblocking(false).unwrap();
    closed
}

/// With the default limits (64 TCP connections per client address), 1,000 connections from
/// 127.0.0.1 and a slow writer from 127.0.0.3 leave room for another client: `dig +tcp` from
/// 127.0.0.2 is answered within a second.
#[test]
fn a_connection_flood_leaves_room_for_other_clients() {
    const FLOOD: usize = 1000;
    if !enough_open_files(FLOOD as u64 + 256) {
        println!(
            "note: the open-file hard limit is below {FLOOD} + 256; the flood test is skipped"
        );
        return;
    }
    let (scratch, server) = serve("flood");
    let socket = scratch.0.join("control.sock");
    let addr = server.addr;

    let mut flood = Vec::with_capacity(FLOOD);
    let mut refused = 0;
    for _ in 0..FLOOD {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(stream) => flood.push(stream),
            Err(_) => refused += 1,
        }
    }
    let slow = SlowWriter::start(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), addr);

    // Wait (at most 10 s) until the server has taken every connection: accepted or refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let stats = loop {
        let (code, stats) = ctl(&socket, "stats");
        assert_eq!(code, Some(0), "{stats}");
        let taken = metric(&stats, "portcullis_connections_total{transport=\"tcp\"}").unwrap()
            + metric(
                &stats,
                "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"client_limit\"}",
            )
            .unwrap()
            + metric(
                &stats,
                "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"total_limit\"}",
            )
            .unwrap();
        if taken >= (flood.len() + 1) as f64 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "the server took {taken} of {} connections in 10 s",
            flood.len() + 1
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let kept = flood.iter().filter(|s| !closed_by_server(s)).count();
    // Let the slow writer trickle for a while before the other client asks.
    std::thread::sleep(Duration::from_secs(1));

    let started = Instant::now();
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-b",
            "127.0.0.2",
        ])
        .args(["+tcp", "+time=1", "+tries=1", "www.example.test.", "A"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run dig ({e}): scripts/test.sh installs it"));
    let took = started.elapsed();
    let dig = String::from_utf8_lossy(&out.stdout);
    let (written, slow_closed) = slow.finish();

    println!(
        "flood: {kept} of {FLOOD} connections from 127.0.0.1 kept open by the server, {} closed \
         at once, {refused} refused at connect; the slow writer from 127.0.0.3 sent {written} \
         bytes (connection {}); dig +tcp from 127.0.0.2 answered in {} ms",
        flood.len() - kept,
        if slow_closed {
            "closed by the server"
        } else {
            "still open"
        },
        took.as_millis()
    );
    assert!(out.status.success(), "dig failed:\n{dig}\n{}", server.log());
    assert!(dig.contains("192.0.2.80"), "{dig}");
    assert!(took < Duration::from_secs(1), "dig took {took:?}");
    assert_eq!(kept, 64, "the per-client limit is 64");
    assert_eq!(
        metric(&stats, "portcullis_connections_open{transport=\"tcp\"}"),
        Some(65.0),
        "64 from the flood and the slow writer:\n{stats}"
    );
    assert_eq!(
        metric(
            &stats,
            "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"client_limit\"}"
        ),
        Some((flood.len() - 64) as f64),
        "{stats}"
    );
}

// ---------------------------------------------------------------------------------------------
// Privileges
// ---------------------------------------------------------------------------------------------

/// The `Uid:`, `Gid:` and `Groups:` lines of a `/proc/.../status` file.
fn ids(status_file: &Path) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let text = std::fs::read_to_string(status_file).unwrap();
    let field = |name: &str| -> Vec<u32> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {}", status_file.display()))
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect()
    };
    (field("Uid:"), field("Gid:"), field("Groups:"))
}

/// Started as root with `user = "nobody"`, the server binds a port below 1024 and its control
/// socket, then runs as nobody: every thread's real, effective, saved (and file system) user
/// and group IDs are nobody's, it answers on both transports, and it can still reload.
#[test]
fn root_binds_a_privileged_port_then_runs_as_nobody() {
    use nix::unistd::{User, geteuid};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    if !geteuid().is_root() {
        println!("note: not running as root; the privilege drop test is skipped");
        return;
    }
    let Some(nobody) = User::from_name("nobody").unwrap() else {
        println!("note: no user `nobody`; the privilege drop test is skipped");
        return;
    };
    let localhost = Ipv4Addr::LOCALHOST;
    let Some(port) = (953..=1000u16).find(|&p| {
        UdpSocket::bind((localhost, p)).is_ok() && TcpListener::bind((localhost, p)).is_ok()
    }) else {
        println!(
            "note: no free port in 953..=1000 on 127.0.0.1; the privilege drop test is skipped"
        );
        return;
    };
    let unprivileged_from =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
            .unwrap_or(1024);
    if unprivileged_from <= port {
        println!(
            "note: ports from {unprivileged_from} need no privileges here, so port {port} does \
             not show that the bind comes before the switch"
        );
    }

    let scratch = Scratch::new("privileges");
    scratch.write("example.test.zone", &zone(1));
    let text =
        config(&format!("127.0.0.1:{port}")).replace("[server]\n", "[server]\nuser = \"nobody\"\n");
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from((localhost, port));
    let mut server = Server::start(&config, addr, scratch.0.join("server.log"));
    let pid = server.child.id();

    // Every thread runs as nobody.
    let uid = nobody.uid.as_raw();
    let gid = nobody.gid.as_raw();
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .map(|e| e.unwrap().path().join("status"))
        .collect();
    assert!(tasks.len() > 1, "the server runs worker threads");
    for status in
        std::iter::once(Path::new(&format!("/proc/{pid}/status")).to_path_buf()).chain(tasks)
    {
        let (uids, gids, groups) = ids(&status);
        assert_eq!(uids, [uid; 4], "{}: Uid", status.display());
        assert_eq!(gids, [gid; 4], "{}: Gid", status.display());
        assert_eq!(groups, [gid], "{}: Groups", status.display());
    }

    // Both transports answer on the privileged port.
    for transport in ["+notcp", "+tcp"] {
        let out = ask(
            "dig",
            addr,
            &[transport, "+short", "www.example.test.", "A"],
        );
        assert_eq!(out.trim(), "192.0.2.80", "{transport}");
    }

    // The control socket was made before the switch: root's, mode 0600; root may use it.
    let socket = scratch.0.join("control.sock");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.uid(), 0);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let (code, status) = ctl(&socket, "status");
    assert_eq!(code, Some(0), "{status}\n{}", server.log());

    // A reload after the switch reads the zone again as nobody.
    scratch.write("example.test.zone", &zone(2));
    let (code, reloaded) = ctl(&socket, "reload");
    assert_eq!(code, Some(0), "{reloaded}\n{}", server.log());
    assert_eq!(server.serial(), 2);

    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", server.log());
}

// ---------------------------------------------------------------------------------------------
// IPv4 and IPv6, UDP and TCP
// ---------------------------------------------------------------------------------------------

/// The built-in configuration (`portcullis config default`) with only the port and the control
/// socket changed: `dig` over UDP and TCP gets the built-in zone's answer on `127.0.0.1` and
/// `::1`.
#[test]
fn the_default_listen_list_answers_udp_and_tcp_on_ipv4_and_ipv6() {
    let v6 = UdpSocket::bind("[::1]:0").is_ok() && TcpListener::bind("[::1]:0").is_ok();
    if !v6 {
        println!("note: cannot bind ::1; IPv6 is skipped, IPv4 alone is tested");
    }
    let mut ips = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
    if v6 {
        ips.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    let port = free_port_on(&ips);

    let default = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["config", "default"])
        .output()
        .unwrap();
    assert!(default.status.success());
    let default = String::from_utf8(default.stdout).unwrap();
    let listen = "listen = [\"127.0.0.1:53\", \"[::1]:53\"]";
    let socket = "control_socket = \"/run/portcullis/control.sock\"";
    assert!(
        default.contains(listen) && default.contains(socket),
        "{default}"
    );
    let listen_here = if v6 {
        format!("listen = [\"127.0.0.1:{port}\", \"[::1]:{port}\"]")
    } else {
        format!("listen = [\"127.0.0.1:{port}\"]")
    };
    let text = default
        .replace(listen, &listen_here)
        .replace(socket, "control_socket = \"control.sock\"");

    let scratch = Scratch::new("dual");
    let config = scratch.write("portcullis.toml", &text);
    let server = Server::start(
        &config,
        SocketAddr::new(ips[0], port),
        scratch.0.join("server.log"),
    );
    for &ip in &ips {
        let addr = SocketAddr::new(ip, port);
        for transport in ["+notcp", "+tcp"] {
            let out = ask("dig", addr, &[transport, "portcullis.test.", "TXT"]);
            assert!(
                out.contains("status: NOERROR"),
                "{addr} {transport}:\n{out}"
            );
            assert!(
                out.contains("\"Portcullis is running.\""),
                "{addr} {transport}:\n{out}"
            );
            let via = if transport == "+tcp" { "TCP" } else { "UDP" };
            assert!(
                out.contains(&format!("({via})")),
                "{addr} {transport}:\n{out}"
            );
        }
    }
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// What a reload applies
// ---------------------------------------------------------------------------------------------

/// A reload applies the engine's settings (here `server.udp_payload`) and names the changed
/// settings that wait for a restart (here the TCP idle timeout and the log level).
#[test]
fn a_reload_names_the_settings_that_need_a_restart() {
    let (scratch, server) = serve("restart-only");
    let socket = scratch.0.join("control.sock");
    // The 20 TXT records (about 2,000 bytes) fit the configured 4,096.
    let big = ask(
        "dig",
        server.addr,
        &["+bufsize=4096", "big.example.test.", "TXT"],
    );
    assert!(big.contains("ANSWER: 20"), "{big}");

    let text = config(&format!("127.0.0.1:{}", server.addr.port()))
        .replace("udp_payload = 4096", "udp_payload = 1232")
        .replace(
            "log_level = \"info\"",
            "log_level = \"debug\"\ntcp_idle_timeout = 20",
        );
    scratch.write("portcullis.toml", &text);
    let (code, reloaded) = ctl(&socket, "reload");
    assert_eq!(code, Some(0), "{reloaded}");
    for key in ["server.tcp_idle_timeout", "server.log_level"] {
        let warning = format!("warning: {key} changed: it applies after a restart");
        assert!(reloaded.contains(&warning), "{warning}:\n{reloaded}");
    }
    assert_eq!(reloaded.matches("warning:").count(), 2, "{reloaded}");

    let big = ask(
        "dig",
        server.addr,
        &["+bufsize=4096", "+ignore", "big.example.test.", "TXT"],
    );
    assert!(
        big.contains(" tc"),
        "udp_payload 1232 applies at once:\n{big}"
    );
}
