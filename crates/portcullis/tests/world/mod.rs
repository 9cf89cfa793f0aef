//! A test internet on loopback: a hierarchy of authoritative servers (root, TLDs, leaf zones)
//! for the resolver's tests, brought up and torn down by each test.
//!
//! A world is declared ([`WorldBuilder`]): zones with their records in master-file text, and
//! servers, each an address `127.N.x.y` with the zones it serves. [`WorldBuilder::start`] writes
//! the zone files into a temporary folder, starts one `portcullis serve` (authoritative only)
//! per server address on port 53, waits until every server answers the SOA of each of its zones
//! with AA, and writes a root hints file from the root zone's apex NS records and their
//! addresses. Port 53 is required: glue carries only addresses, so a resolver following
//! referrals always talks to port 53. Misbehaving servers are [`fake::Fake`]s, started by the
//! test beside the world on addresses of the same block.
//!
//! A world may be signed ([`signed`]): zones are signed bottom-up at start by BIND, ldns or Knot
//! (some broken on purpose), the parents get their children's DS records, and the root's trust
//! anchor is written to a file that the resolver is started with.
//!
//! A resolver is started on the world with [`World::resolver`]: `portcullis serve --root-hints
//! ... --insecure-local-upstreams --allow-recursion 127.0.0.0/8` on `127.N.255.1:53`, or
//! Unbound when `PORTCULLIS_WORLD_RESOLVER=unbound` (to check that a world, and a test's
//! expectations, are right against a reference resolver).
//!
//! # Address blocks
//!
//! Each test owns the block `127.N.0.0/16`, so tests run in parallel without sharing a port.
//! Every N is listed here, once, across all test files:
//!
//! | N | test |
//! |---|---|
//! | 9 | resolver_world::blocks_are_unique (binds nothing) |
//! | 10 | resolver_world::world_answers_by_itself |
//! | 11 | resolver_world::resolves_root_tld_leaf |
//! | 12 | resolver_world::second_query_from_cache |
//! | 13 | resolver_world::cname_across_zones |
//! | 14 | resolver_world::glueless_delegation |
//! | 15 | resolver_world::nxdomain_and_nodata |
//! | 16 | resolver_world::dig_and_kdig_as_clients |
//! | 17 | resolver_world::identical_questions_share_one_query |
//! | 18 | resolver_world::forward_zone |
//! | 19 | resolver_world::serve_stale_when_servers_die |
//! | 20 | resolver_attacks::lame_refused_falls_back |
//! | 21 | resolver_attacks::lame_upward_referral_falls_back |
//! | 22 | resolver_attacks::silent_server_falls_back |
//! | 23 | resolver_attacks::slow_server_still_answers |
//! | 24 | resolver_attacks::truncation_retries_over_tcp |
//! | 25 | resolver_attacks::no_edns_server |
//! | 26 | resolver_attacks::forged_answers_rejected |
//! | 27 | resolver_attacks::case_not_echoed_still_resolves |
//! | 28 | resolver_attacks::out_of_bailiwick_ignored |
//! | 29 | resolver_attacks::nxns_bounded |
//! | 30 | resolver_attacks::delegation_cycle_fails_fast |
//! | 31 | resolver_attacks::fake_misbehaves_as_scripted |
//! | 32 | resolver_attacks::long_cname_chain_limited |
//! | 33 | resolver_attacks::ghost_domain_dies |
//! | 34 | resolver_world::qname_minimisation |
//! | 35 | resolver_attacks::deep_delegation_limited |
//! | 36 | resolver_attacks::no_server_answers |
//! | 37 | resolver_attacks::hijack_attempts_ignored |
//! | 38 | resolver_world::qname_minimisation_reuses_what_it_learned |
//! | 39 | resolver_world::dname_kept_in_cached_answers |
//! | 42 | resolver_world::prefetch_refreshes_before_expiry |
//! | 43 | resolver_world::burst_without_spurious_timeouts |
//! | 44 | resolver_world::stale_answer_while_resolution_goes_on |
//! | 40 | resolver_interop::nsd_hierarchy |
//! | 41 | resolver_interop::knot_hierarchy |
//! | 50 | resolver_dnssec::signed_world_serves_signatures |
//! | 51 | resolver_dnssec::secure_answer_has_ad |
//! | 52 | resolver_dnssec::negative_answers_nsec |
//! | 53 | resolver_dnssec::negative_answers_nsec3 |
//! | 54 | resolver_dnssec::nsec3_opt_out_insecure_delegation |
//! | 55 | resolver_dnssec::expired_signatures_bogus |
//! | 56 | resolver_dnssec::not_yet_valid_bogus |
//! | 57 | resolver_dnssec::wrong_ds_bogus |
//! | 58 | resolver_dnssec::missing_dnskey_bogus |
//! | 59 | resolver_dnssec::corrupted_signature_bogus |
//! | 60 | resolver_dnssec::missing_rrsig_bogus |
//! | 61 | resolver_dnssec::missing_nsec_proof_bogus |
//! | 62 | resolver_dnssec::unsigned_child_insecure |
//! | 63 | resolver_dnssec::unsupported_algorithm_insecure |
//! | 64 | resolver_dnssec::unsupported_digest_insecure |
//! | 65 | resolver_dnssec::nsec3_iterations_above_limit_insecure |
//! | 66 | resolver_dnssec::rsasha1_insecure_unless_allowed |
//! | 67 | resolver_dnssec::negative_trust_anchor |
//! | 68 | resolver_dnssec::each_signer_validates |
//! | 69 | resolver_dnssec::algorithms_validate |
//! | 70 | resolver_dnssec::signed_world_served_by_knot |
//! | 71 | resolver_dnssec::dnskey_trust_anchor |
//! | 72 | resolver_dnssec::cname_chains_across_zones |
//! | 73 | resolver_dnssec::extra_keys_and_ds_still_secure |
//! | 74 | resolver_autotrust::state_file_follows_the_root_and_then_decides |
//! | 75 | resolver_autotrust::a_new_root_key_is_pending |
//! | 76 | resolver_autotrust::a_revoked_root_key_is_revoked |
//! | 90 | resolver_dnssec::aggressive_nsec |
//! | 91 | resolver_dnssec::aggressive_nsec3 |
//! | 92 | resolver_dnssec::validation_through_a_forwarder |
//! | 93 | rpz_interop::bind_and_portcullis_agree |
//! | 120 | limits::random_subdomain_flood_is_capped_per_zone |
//! | 121 | limits::resolutions_per_client_are_capped |
//! | 77, 78, 79 | resolver_basic (its own small harness) |
//!
//! In a block, by convention: `127.N.0.x` root servers, `127.N.1.x` TLD servers, `127.N.2.x`
//! and up leaf servers and fakes, `127.N.250.x` forgers, `127.N.255.1` the resolver.
//!
//! Everything a world starts is stopped by its PID when the guard owning it is dropped, which
//! also happens when a test panics; every wait has a bound and fails with a message naming what
//! did not come up, with its log.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod fake;
pub mod signed;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use wire::edns::{ExtendedError, OptionCode};
use wire::message::{Flags, Header, Section};
use wire::writer::MessageWriter;
use wire::{Class, Message, Name, RType, Rcode};

/// How long a world (or a resolver) may take to come up.
pub const START_LIMIT: Duration = Duration::from_secs(10);

/// Replaces `127.N.` with `127.<block>.` in zone and record text.
pub fn subst(text: &str, block: u8) -> String {
    text.replace("127.N.", &format!("127.{block}."))
}

/// `127.<block>.<rest>`, e.g. `ip(11, "2.1")`.
pub fn ip(block: u8, rest: &str) -> Ipv4Addr {
    format!("127.{block}.{rest}")
        .parse()
        .unwrap_or_else(|e| panic!("bad address 127.{block}.{rest}: {e}"))
}

/// Whether this process may bind port 53 in the block. When it may not (not root), says so on
/// the real standard error (not captured by the test harness) with a `SKIPPED:` line, and the
/// test returns early; with `PORTCULLIS_WORLD_REQUIRED=1` it fails instead.
pub fn port_53_available(test: &str, block: u8) -> bool {
    let probe = ip(block, "0.254");
    match UdpSocket::bind((probe, 53)) {
        Ok(_) => true,
        Err(e) => {
            let why = format!(
                "SKIPPED: {test}: cannot bind {probe}:53 ({e}); the test internet needs port 53 \
                 on 127.{block}.0.0/16 (run as root or with CAP_NET_BIND_SERVICE)\n"
            );
            assert!(
                std::env::var_os("PORTCULLIS_WORLD_REQUIRED").is_none(),
                "{why}"
            );
            let _ = std::io::stderr().write_all(why.as_bytes());
            false
        }
    }
}

/// Whether `tool` is on the PATH; if not, says so like [`port_53_available`].
pub fn tool_available(test: &str, tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let why = format!("SKIPPED: {test}: `{tool}` is not installed\n");
        assert!(
            std::env::var_os("PORTCULLIS_WORLD_REQUIRED").is_none(),
            "{why}"
        );
        let _ = std::io::stderr().write_all(why.as_bytes());
    }
    found
}

// ---------------------------------------------------------------------------------------------
// Processes and folders
// ---------------------------------------------------------------------------------------------

/// A child process, killed by its PID and reaped when dropped.
pub struct Guard {
    pub child: Child,
    pub what: String,
    pub log: PathBuf,
}

impl Guard {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has exited.
    pub fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited with {status}:\n{}", self.what, self.log());
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("portcullis-world-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spawn(what: String, program: &str, args: &[String], log: PathBuf) -> Guard {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({program}): {e}"));
    Guard {
        child,
        what,
        log: log.with_extension("err"),
    }
}

// ---------------------------------------------------------------------------------------------
// The world
// ---------------------------------------------------------------------------------------------

struct ZoneSpec {
    origin: String,
    text: String,
}

struct ServerSpec {
    addr: Ipv4Addr,
    zones: Vec<String>,
}

/// Which program serves the world's zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    Portcullis,
    Nsd,
    Knot,
}

/// The declaration of a world. See the module docs.
pub struct WorldBuilder {
    test: String,
    block: u8,
    zones: Vec<ZoneSpec>,
    servers: Vec<ServerSpec>,
    authority: Authority,
    /// Zones to sign at start (see [`signed`]).
    signings: Vec<(String, signed::Signing)>,
    /// The trust anchor as DNSKEY records instead of DS records.
    dnskey_anchor: bool,
}

impl WorldBuilder {
    pub fn new(test: &str, block: u8) -> WorldBuilder {
        WorldBuilder {
            test: test.to_string(),
            block,
            zones: Vec::new(),
            servers: Vec::new(),
            authority: Authority::Portcullis,
            signings: Vec::new(),
            dnskey_anchor: false,
        }
    }

    /// A zone: master-file text with names relative to `origin` (`$ORIGIN` and `$TTL 3600` are
    /// written before it; an SOA is added when the text has none; `127.N.` becomes the block).
    pub fn zone(mut self, origin: &str, text: &str) -> WorldBuilder {
        let text = subst(text, self.block);
        let has_soa = text
            .lines()
            .any(|l| l.split_whitespace().any(|w| w.eq_ignore_ascii_case("SOA")));
        let soa = if has_soa {
            String::new()
        } else {
            "@ 3600 SOA ns.invalid. hostmaster.invalid. 1 3600 600 86400 300\n".to_string()
        };
        self.zones.push(ZoneSpec {
            origin: origin.to_string(),
            text: format!("$ORIGIN {origin}\n$TTL 3600\n{soa}{text}\n"),
        });
        self
    }

    /// More records for a zone already declared (text as for [`Self::zone`]).
    pub fn records(mut self, origin: &str, text: &str) -> WorldBuilder {
        let text = subst(text, self.block);
        let zone = self
            .zones
            .iter_mut()
            .find(|z| z.origin == origin)
            .unwrap_or_else(|| panic!("records for {origin}, which is not declared"));
        zone.text.push_str(&text);
        zone.text.push('\n');
        self
    }

    /// A server on `127.N.<rest>:53` serving `zones` (origins declared with [`Self::zone`]).
    pub fn server(mut self, rest: &str, zones: &[&str]) -> WorldBuilder {
        self.servers.push(ServerSpec {
            addr: ip(self.block, rest),
            zones: zones.iter().map(|z| z.to_string()).collect(),
        });
        self
    }

    /// Serves the zones with NSD or Knot instead of Portcullis.
    pub fn authority(mut self, authority: Authority) -> WorldBuilder {
        self.authority = authority;
        self
    }

    /// Writes the files, starts the servers and waits (at most [`START_LIMIT`]) until every
    /// one answers the SOA of each of its zones.
    pub fn start(mut self) -> World {
        let dir = Scratch::new(&format!("{}-{}", self.test, self.block));
        let hints = dir.write("root.hints", &root_hints(&self.zones));
        let anchor = if self.signings.is_empty() {
            None
        } else {
            signed::sign_world(&dir, &mut self.zones, &self.signings, self.dnskey_anchor)
        };
        let mut files = Vec::new();
        for z in &self.zones {
            let name = if z.origin == "." {
                "root.zone".to_string()
            } else {
                format!("{}zone", z.origin)
            };
            files.push((z.origin.clone(), dir.write(&name, &z.text)));
        }
        let file_of = |origin: &str| -> PathBuf {
            files
                .iter()
                .find(|(o, _)| o == origin)
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| panic!("server serves {origin}, which is not declared"))
        };
        let mut servers = Vec::new();
        for s in &self.servers {
            let zones: Vec<(String, PathBuf)> =
                s.zones.iter().map(|z| (z.clone(), file_of(z))).collect();
            let guard = match self.authority {
                Authority::Portcullis => start_portcullis(&dir, s.addr, &zones),
                Authority::Nsd => start_nsd(&dir, s.addr, &zones),
                Authority::Knot => start_knot(&dir, s.addr, &zones),
            };
            servers.push((s.addr, s.zones.clone(), guard));
        }
        let mut world = World {
            block: self.block,
            test: self.test,
            hints,
            anchor,
            servers,
            dir,
        };
        world.wait_ready();
        world
    }
}

/// The hints file: the root zone's apex NS records and the addresses it holds for them.
fn root_hints(zones: &[ZoneSpec]) -> String {
    let root = zones
        .iter()
        .find(|z| z.origin == ".")
        .expect("a world needs a root zone");
    let rows: Vec<Vec<&str>> = root
        .text
        .lines()
        .filter(|l| !l.starts_with('$') && !l.trim_start().starts_with(';'))
        .map(|l| l.split_whitespace().collect())
        .filter(|r: &Vec<&str>| r.len() >= 3)
        .collect();
    let kind = |r: &Vec<&str>| r[r.len() - 2].to_ascii_uppercase();
    let mut out = String::new();
    for r in &rows {
        if (r[0] == "@" || r[0] == ".") && kind(r) == "NS" {
            let target = r[r.len() - 1];
            out.push_str(&format!(".\t3600000\tNS\t{target}\n"));
            for a in &rows {
                if a[0].eq_ignore_ascii_case(target) && kind(a) == "A" {
                    out.push_str(&format!("{target}\t3600000\tA\t{}\n", a[a.len() - 1]));
                }
            }
        }
    }
    assert!(
        out.contains("\tA\t"),
        "the root zone has no apex NS with an address: no hints"
    );
    out
}

fn start_portcullis(dir: &Scratch, addr: Ipv4Addr, zones: &[(String, PathBuf)]) -> Guard {
    let mut config = format!(
        "[server]\nlisten = [\"{addr}:53\"]\nworkers = 1\nlog_level = \"warn\"\n\
         control_socket = \"{addr}.sock\"\nhttp = \"{addr}:8053\"\n"
    );
    for (origin, file) in zones {
        config.push_str(&format!(
            "\n[[zone]]\norigin = \"{origin}\"\nfile = \"{}\"\n",
            file.display()
        ));
    }
    let path = dir.write(&format!("{addr}.toml"), &config);
    spawn(
        format!("portcullis (authoritative) on {addr}"),
        env!("CARGO_BIN_EXE_portcullis"),
        &[
            "serve".into(),
            "--config".into(),
            path.display().to_string(),
        ],
        dir.0.join(format!("{addr}.log")),
    )
}

fn start_nsd(dir: &Scratch, addr: Ipv4Addr, zones: &[(String, PathBuf)]) -> Guard {
    let d = dir.0.join(format!("nsd-{addr}"));
    std::fs::create_dir_all(&d).unwrap();
    let d = d.display();
    let mut conf = format!(
        "server:\n    ip-address: {addr}@53\n    username: \"\"\n    chroot: \"\"\n    \
         database: \"\"\n    zonelistfile: \"{d}/zone.list\"\n    xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    \
         pidfile: \"{d}/nsd.pid\"\n    rrl-ratelimit: 0\n    server-count: 1\n    \
         verbosity: 0\n    do-ip6: no\nremote-control:\n    control-enable: no\n"
    );
    for (origin, file) in zones {
        conf.push_str(&format!(
            "zone:\n    name: \"{origin}\"\n    zonefile: \"{}\"\n",
            file.display()
        ));
    }
    let path = dir.write(&format!("nsd-{addr}.conf"), &conf);
    spawn(
        format!("nsd on {addr}"),
        "nsd",
        &["-d".into(), "-c".into(), path.display().to_string()],
        dir.0.join(format!("nsd-{addr}.log")),
    )
}

fn start_knot(dir: &Scratch, addr: Ipv4Addr, zones: &[(String, PathBuf)]) -> Guard {
    let d = dir.0.join(format!("knot-{addr}"));
    std::fs::create_dir_all(&d).unwrap();
    let d = d.display();
    let mut conf = format!(
        "server:\n    listen: {addr}@53\n    rundir: \"{d}\"\n    udp-workers: 1\n    \
         tcp-workers: 1\n    background-workers: 1\ncontrol:\n    listen: \"{d}/knot.sock\"\n\
         database:\n    storage: \"{d}\"\nlog:\n  - target: stderr\n    any: warning\nzone:\n"
    );
    for (origin, file) in zones {
        conf.push_str(&format!(
            "  - domain: \"{origin}\"\n    file: \"{}\"\n    zonefile-sync: -1\n    \
             journal-content: none\n",
            file.display()
        ));
    }
    let path = dir.write(&format!("knot-{addr}.conf"), &conf);
    spawn(
        format!("knotd on {addr}"),
        "knotd",
        &["-c".into(), path.display().to_string()],
        dir.0.join(format!("knot-{addr}.log")),
    )
}

/// A running world.
pub struct World {
    pub block: u8,
    pub test: String,
    hints: PathBuf,
    /// The trust-anchor file (the root's DS records) when the root is signed.
    anchor: Option<PathBuf>,
    servers: Vec<(Ipv4Addr, Vec<String>, Guard)>,
    // Last, so that the processes are stopped before their files go.
    dir: Scratch,
}

impl World {
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        for (addr, zones, guard) in &mut self.servers {
            for zone in zones.iter() {
                loop {
                    guard.check_running();
                    let q = query_bytes(1, zone, RType::SOA, false, Some(1232));
                    let answered = exchange_udp(SocketAddr::from((*addr, 53)), &q, 200)
                        .and_then(|r| Reply::parse(&r).ok())
                        .is_some_and(|r| r.rcode == Rcode::NOERROR && r.flags.aa());
                    if answered {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{} did not answer the SOA of {zone} within {START_LIMIT:?}:\n{}",
                        guard.what,
                        guard.log()
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }

    /// `127.<block>.<rest>`.
    pub fn ip(&self, rest: &str) -> Ipv4Addr {
        ip(self.block, rest)
    }

    /// Replaces a zone's text (as for [`WorldBuilder::zone`]; give it an SOA with a higher
    /// serial), reloads every server of the zone (SIGHUP) and waits (at most [`START_LIMIT`])
    /// until each serves `serial`. Portcullis servers only.
    pub fn replace_zone(&mut self, origin: &str, text: &str, serial: u32) {
        let text = format!("$ORIGIN {origin}\n$TTL 3600\n{}\n", subst(text, self.block));
        let file = if origin == "." {
            "root.zone".to_string()
        } else {
            format!("{origin}zone")
        };
        let tmp = self.dir.write(&format!(".{file}.new"), &text);
        std::fs::rename(&tmp, self.dir.0.join(&file)).unwrap();
        let deadline = Instant::now() + START_LIMIT;
        for (addr, zones, guard) in &mut self.servers {
            if !zones.iter().any(|z| z == origin) {
                continue;
            }
            let ok = Command::new("kill")
                .args(["-HUP", &guard.child.id().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot signal {}", guard.what);
            loop {
                guard.check_running();
                let q = query_bytes(3, origin, RType::SOA, false, None);
                let now = exchange_udp(SocketAddr::from((*addr, 53)), &q, 200)
                    .and_then(|b| Reply::parse(&b).ok())
                    .and_then(|r| {
                        let soa = r.answer.into_iter().find(|rr| rr.rtype == RType::SOA)?;
                        soa.rdata.split_whitespace().nth(2)?.parse::<u32>().ok()
                    });
                if now == Some(serial) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} did not load serial {serial} of {origin}:\n{}",
                    guard.what,
                    guard.log()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Stops the server on `127.N.<rest>` (killed by its PID): from now on that address is
    /// silent.
    pub fn stop_server(&mut self, rest: &str) {
        let addr = self.ip(rest);
        let at = self
            .servers
            .iter()
            .position(|(a, _, _)| *a == addr)
            .unwrap_or_else(|| panic!("no server on {addr}"));
        drop(self.servers.remove(at));
    }

    pub fn hints(&self) -> &Path {
        &self.hints
    }

    /// The trust-anchor file of a world whose root is signed: the root's DS records (or
    /// key-signing DNSKEY records, [`WorldBuilder::dnskey_anchor`]) in zone-file format.
    pub fn trust_anchor(&self) -> Option<&Path> {
        self.anchor.as_deref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// Queries a Portcullis authoritative server of the world has received (its `/metrics`).
    pub fn queries_at(&self, rest: &str) -> u64 {
        let addr = self.ip(rest);
        let text = http_get(SocketAddr::from((addr, 8053)), "/metrics")
            .unwrap_or_else(|e| panic!("metrics of {addr}: {e}"));
        metric_sum(&text, "portcullis_queries_total", &[]) as u64
    }

    /// Queries received by every Portcullis authoritative server of the world.
    pub fn queries_total(&self) -> u64 {
        self.servers
            .iter()
            .map(|(addr, _, _)| {
                let text = http_get(SocketAddr::from((*addr, 8053)), "/metrics")
                    .unwrap_or_else(|e| panic!("metrics of {addr}: {e}"));
                metric_sum(&text, "portcullis_queries_total", &[]) as u64
            })
            .sum()
    }

    /// Starts the resolver under test on `127.N.255.1:53` (Portcullis, or Unbound with
    /// `PORTCULLIS_WORLD_RESOLVER=unbound`) with this world's root hints.
    pub fn resolver(&self) -> Resolver {
        Resolver::start(self, ResolverKind::from_env(), &[])
    }

    /// Like [`Self::resolver`], with more `portcullis serve` arguments.
    pub fn resolver_with(&self, args: &[&str]) -> Resolver {
        Resolver::start(self, ResolverKind::from_env(), args)
    }

    /// Like [`Self::resolver`], with `toml` added to Portcullis's configuration file (after
    /// its `[server]` section; Portcullis only).
    pub fn resolver_with_config(&self, toml: &str) -> Resolver {
        Resolver::start_with(self, ResolverKind::from_env(), &[], toml)
    }

    /// The resolver with `toml` added to Portcullis's configuration file, or `unbound` (lines
    /// of Unbound's `server:` clause, indented) to Unbound's: the same setting for either.
    pub fn resolver_configured(&self, toml: &str, unbound: &str) -> Resolver {
        let kind = ResolverKind::from_env();
        match kind {
            ResolverKind::Portcullis => Resolver::start_with(self, kind, &[], toml),
            ResolverKind::Unbound => Resolver::start_full(self, kind, &[], "", unbound),
        }
    }

    /// Portcullis as the resolver, with `toml` added to its configuration file but without
    /// `--trust-anchor`: its anchors come from its configuration alone.
    pub fn resolver_unanchored(&self, toml: &str) -> Resolver {
        Resolver::start_inner(
            self,
            ResolverKind::Portcullis,
            "255.1",
            &[],
            toml,
            "",
            false,
        )
    }

    /// The logs of every server, for failure messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|(_, _, g)| format!("--- {}\n{}", g.what, g.log()))
            .collect()
    }
}

/// The world most tests start from, served by Portcullis:
///
/// - the root on `127.N.0.1` (`a.root-servers.`), delegating `test.` with glue;
/// - `test.` on `127.N.1.1` (`ns1.nic.test.`), delegating `example.test.` with glue;
/// - `example.test.` on `127.N.2.1` and `127.N.2.2`: `www` A 192.0.2.1 (TTL 3600), `mail` A
///   192.0.2.25, `alias` CNAME `www`, `txt` TXT.
///
/// Tests add delegations with [`WorldBuilder::records`] and further zones and servers on the
/// returned builder.
pub fn basic(test: &str, block: u8) -> WorldBuilder {
    WorldBuilder::new(test, block)
        .zone(
            ".",
            "@ NS a.root-servers.\n\
             a.root-servers. A 127.N.0.1\n\
             test. NS ns1.nic.test.\n\
             ns1.nic.test. A 127.N.1.1\n",
        )
        .zone(
            "test.",
            "@ NS ns1.nic\n\
             ns1.nic A 127.N.1.1\n\
             example NS ns1.example\n\
             example NS ns2.example\n\
             ns1.example A 127.N.2.1\n\
             ns2.example A 127.N.2.2\n",
        )
        .zone(
            "example.test.",
            "@ NS ns1\n\
             @ NS ns2\n\
             ns1 A 127.N.2.1\n\
             ns2 A 127.N.2.2\n\
             www A 192.0.2.1\n\
             mail 300 A 192.0.2.25\n\
             alias CNAME www\n\
             txt TXT \"hello from example.test\"\n",
        )
        .server("0.1", &["."])
        .server("1.1", &["test."])
        .server("2.1", &["example.test."])
        .server("2.2", &["example.test."])
}

// ---------------------------------------------------------------------------------------------
// The resolver under test
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolverKind {
    Portcullis,
    Unbound,
}

impl ResolverKind {
    pub fn from_env() -> ResolverKind {
        match std::env::var("PORTCULLIS_WORLD_RESOLVER").as_deref() {
            Ok("unbound") => ResolverKind::Unbound,
            _ => ResolverKind::Portcullis,
        }
    }
}

/// A recursive resolver on `127.N.255.1:53`, stopped when dropped.
pub struct Resolver {
    pub kind: ResolverKind,
    pub addr: SocketAddr,
    /// Portcullis only: the HTTP endpoint (`/metrics`) and the control socket.
    pub http: Option<SocketAddr>,
    pub control: Option<PathBuf>,
    guard: Guard,
    // Last, so that the process is stopped before its files go.
    dir: Scratch,
}

impl Resolver {
    pub fn start(world: &World, kind: ResolverKind, args: &[&str]) -> Resolver {
        Resolver::start_with(world, kind, args, "")
    }

    /// [`Resolver::start`], with `toml` added to Portcullis's configuration file.
    pub fn start_with(world: &World, kind: ResolverKind, args: &[&str], toml: &str) -> Resolver {
        Resolver::start_full(world, kind, args, toml, "")
    }

    /// [`Resolver::start_with`], with `unbound` added to Unbound's `server:` clause. A world
    /// with a trust anchor gets it: `--trust-anchor FILE` for Portcullis, validation with
    /// `trust-anchor-file:` for Unbound.
    pub fn start_full(
        world: &World,
        kind: ResolverKind,
        args: &[&str],
        toml: &str,
        unbound: &str,
    ) -> Resolver {
        Resolver::start_inner(world, kind, "255.1", args, toml, unbound, true)
    }

    /// A second Portcullis resolver, on `127.N.<at>:53`, with the world's trust anchor and
    /// `args` (for example `--forward .=ADDR`, to forward through the first).
    pub fn start_portcullis_at(world: &World, at: &str, args: &[&str]) -> Resolver {
        Resolver::start_inner(world, ResolverKind::Portcullis, at, args, "", "", true)
    }

    /// [`Resolver::start_full`] on `127.N.<at>:53`; Portcullis gets the world's trust anchor
    /// only when `anchored`.
    fn start_inner(
        world: &World,
        kind: ResolverKind,
        at: &str,
        args: &[&str],
        toml: &str,
        unbound: &str,
        anchored: bool,
    ) -> Resolver {
        let ip = world.ip(at);
        let addr = SocketAddr::from((ip, 53));
        let dir = Scratch::new(&format!("{}-{}-resolver-{at}", world.test, world.block));
        let hints = world.hints().display().to_string();
        let (guard, http, control) = match kind {
            ResolverKind::Portcullis => {
                let http = SocketAddr::from((ip, 8053));
                let control = dir.0.join("control.sock");
                let config = dir.write(
                    "resolver.toml",
                    &format!(
                        "[server]\nlisten = [\"{addr}\"]\nworkers = 2\nlog_level = \"info\"\n\
                         control_socket = \"{}\"\nhttp = \"{http}\"\n{toml}\n",
                        control.display()
                    ),
                );
                let mut argv: Vec<String> = vec![
                    "serve".into(),
                    "--config".into(),
                    config.display().to_string(),
                    "--root-hints".into(),
                    hints,
                    "--insecure-local-upstreams".into(),
                    "--allow-recursion".into(),
                    "127.0.0.0/8".into(),
                ];
                if let Some(anchor) = world.trust_anchor() {
                    if anchored {
                        argv.push("--trust-anchor".into());
                        argv.push(anchor.display().to_string());
                    }
                } else {
                    // An unsigned world: its root is not the one the built-in anchors vouch
                    // for.
                    argv.push("--no-validation".into());
                }
                argv.extend(args.iter().map(|a| a.to_string()));
                let guard = spawn(
                    format!("portcullis resolver on {addr}"),
                    env!("CARGO_BIN_EXE_portcullis"),
                    &argv,
                    dir.0.join("resolver.log"),
                );
                (guard, Some(http), Some(control))
            }
            ResolverKind::Unbound => {
                assert!(args.is_empty(), "Portcullis arguments given to Unbound");
                assert!(toml.is_empty(), "Portcullis configuration given to Unbound");
                let d = dir.0.display();
                // Validation as the DNSSEC tests expect it: NSEC3 with more than 50 iterations
                // counts as insecure (RFC 9276), the reasons for bogus answers are logged.
                let modules = match world.trust_anchor() {
                    Some(anchor) => format!(
                        "\"validator iterator\"\n    trust-anchor-file: \"{}\"\n    \
                         val-log-level: 2\n    \
                         val-nsec3-keysize-iterations: \"1024 50 2048 50 4096 50\"",
                        anchor.display()
                    ),
                    None => "\"iterator\"".to_string(),
                };
                let conf = dir.write(
                    "unbound.conf",
                    &format!(
                        "server:\n    interface: {ip}\n    port: 53\n    do-ip6: no\n    \
                         do-not-query-localhost: no\n    local-zone: \"test.\" nodefault\n    \
                         root-hints: \"{hints}\"\n    username: \"\"\n    chroot: \"\"\n    \
                         directory: \"{d}\"\n    pidfile: \"{d}/unbound.pid\"\n    \
                         use-syslog: no\n    logfile: \"\"\n    verbosity: 1\n    \
                         num-threads: 1\n    access-control: 127.0.0.0/8 allow\n    \
                         module-config: {modules}\n    use-caps-for-id: yes\n    ede: yes\n    \
                         so-reuseport: no\n{unbound}\nremote-control:\n    control-enable: no\n"
                    ),
                );
                let guard = spawn(
                    format!("unbound on {addr}"),
                    "unbound",
                    &["-d".into(), "-c".into(), conf.display().to_string()],
                    dir.0.join("unbound.log"),
                );
                (guard, None, None)
            }
        };
        let mut resolver = Resolver {
            kind,
            addr,
            http,
            control,
            guard,
            dir,
        };
        resolver.wait_ready();
        resolver
    }

    /// Waits until the resolver answers anything (a question with RD=0, which sends nothing
    /// upstream).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_LIMIT;
        let probe = query_bytes(2, ".", RType::NS, false, Some(1232));
        loop {
            self.guard.check_running();
            if exchange_udp(self.addr, &probe, 200).is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer within {START_LIMIT:?}:\n{}",
                self.guard.what,
                self.guard.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn is_portcullis(&self) -> bool {
        self.kind == ResolverKind::Portcullis
    }

    pub fn log(&self) -> String {
        self.guard.log()
    }

    /// Asks `name` `qtype` with RD=1 over UDP (EDNS, 1232 bytes); panics without an answer
    /// within `limit`.
    pub fn ask_within(&self, name: &str, qtype: RType, limit: Duration) -> Reply {
        self.ask_flagged(name, qtype, Ask::default(), limit)
    }

    /// Asks `name` `qtype` with RD=1 over UDP (EDNS, 1232 bytes) and the DO, AD and CD bits of
    /// `ask`; panics without an answer within 15 s.
    pub fn ask_with(&self, name: &str, qtype: RType, ask: Ask) -> Reply {
        self.ask_flagged(name, qtype, ask, Duration::from_secs(15))
    }

    fn ask_flagged(&self, name: &str, qtype: RType, ask: Ask, limit: Duration) -> Reply {
        static NEXT: AtomicU16 = AtomicU16::new(0x3c3c);
        let id = NEXT.fetch_add(0x1357, Ordering::Relaxed);
        let q = query_with(id, name, qtype, ask);
        let started = Instant::now();
        let bytes = exchange_udp(self.addr, &q, limit.as_millis() as u64).unwrap_or_else(|| {
            panic!(
                "{name} {qtype}: no answer from the resolver within {limit:?}\n{}",
                self.log()
            )
        });
        let mut reply = Reply::parse(&bytes).unwrap();
        reply.elapsed = started.elapsed();
        assert_eq!(reply.id, id, "reply with another ID");
        reply
    }

    /// [`Self::ask_within`] with a 15 s limit.
    pub fn ask(&self, name: &str, qtype: RType) -> Reply {
        self.ask_within(name, qtype, Duration::from_secs(15))
    }

    /// The resolver's `/metrics` text (Portcullis only).
    pub fn metrics(&self) -> Option<String> {
        let http = self.http?;
        http_get(http, "/metrics").ok()
    }

    /// The sum of the samples of a `/metrics` family whose labels contain every string of
    /// `labels` (Portcullis only).
    pub fn metric(&self, family: &str, labels: &[&str]) -> Option<f64> {
        Some(metric_sum(&self.metrics()?, family, labels))
    }

    /// The resolver's metric lines whose name contains one of `words`, for reports.
    pub fn metric_lines(&self, words: &[&str]) -> String {
        self.metrics()
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.ends_with(" 0"))
            .filter(|l| words.iter().any(|w| l.contains(w)))
            .map(|l| format!("  {l}\n"))
            .collect()
    }

    /// `portcullis ctl --socket ... <command>` (Portcullis only): exit code and output.
    pub fn ctl(&self, command: &[&str]) -> Option<(Option<i32>, String)> {
        let socket = self.control.as_ref()?;
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["ctl", "--socket", socket.to_str().unwrap()])
            .args(command)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Some((out.status.code(), text))
    }

    /// Runs `dig @resolver` with a bounded time; returns its output.
    pub fn dig(&self, args: &[&str]) -> String {
        run_client(
            "dig",
            &[
                &format!("@{}", self.addr.ip()),
                "-p",
                "53",
                "+time=5",
                "+tries=1",
            ],
            args,
        )
    }

    /// Runs `kdig @resolver` with a bounded time; returns its output.
    pub fn kdig(&self, args: &[&str]) -> String {
        run_client(
            "kdig",
            &[
                &format!("@{}", self.addr.ip()),
                "-p",
                "53",
                "+timeout=5",
                "+retry=0",
            ],
            args,
        )
    }
}

fn run_client(tool: &str, base: &[&str], args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(base)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): scripts/test.sh installs it"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

// ---------------------------------------------------------------------------------------------
// A DNS client
// ---------------------------------------------------------------------------------------------

/// A query; `rd` sets recursion desired, `payload` adds an OPT record.
pub fn query_bytes(id: u16, name: &str, qtype: RType, rd: bool, payload: Option<u16>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default().with_rd(rd),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name
        .parse()
        .unwrap_or_else(|e| panic!("bad name {name}: {e}"));
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    if let Some(p) = payload {
        w.opt(p, Rcode::NOERROR, false).unwrap().finish().unwrap();
    }
    w.finish().to_vec()
}

/// The DNSSEC bits of a query: DO (RFC 3225), AD (RFC 6840 5.7) and CD (RFC 4035 3.2.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    pub dnssec_ok: bool,
    pub ad: bool,
    pub cd: bool,
}

impl Ask {
    /// DO set.
    pub const DO: Ask = Ask {
        dnssec_ok: true,
        ad: false,
        cd: false,
    };
    /// DO and CD set: the answer is not validated.
    pub const DO_CD: Ask = Ask {
        dnssec_ok: true,
        ad: false,
        cd: true,
    };
    /// AD set, no DO.
    pub const AD: Ask = Ask {
        dnssec_ok: false,
        ad: true,
        cd: false,
    };
}

/// A query with RD=1, EDNS (1232 bytes) and the bits of `ask`.
pub fn query_with(id: u16, name: &str, qtype: RType, ask: Ask) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default()
            .with_rd(true)
            .with_ad(ask.ad)
            .with_cd(ask.cd),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name
        .parse()
        .unwrap_or_else(|e| panic!("bad name {name}: {e}"));
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    w.opt(1232, Rcode::NOERROR, ask.dnssec_ok)
        .unwrap()
        .finish()
        .unwrap();
    w.finish().to_vec()
}

/// Sends `q` over UDP from a fresh socket; the reply from `to` with the same ID, or `None`
/// after `millis`.
pub fn exchange_udp(to: SocketAddr, q: &[u8], millis: u64) -> Option<Vec<u8>> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    s.send_to(q, to).ok()?;
    let deadline = Instant::now() + Duration::from_millis(millis);
    let mut buf = [0u8; 65_535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let (n, from) = match s.recv_from(&mut buf) {
            Ok(got) => got,
            // A signal woke the wait (a socket with a timeout is never restarted): wait on.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        if from == to && n >= 2 && buf[..2] == q[..2] {
            return Some(buf[..n].to_vec());
        }
    }
}

/// Sends `q` over UDP and collects every datagram that arrives within `millis`, with its
/// source (forgeries included).
pub fn collect_udp(to: SocketAddr, q: &[u8], millis: u64) -> Vec<(SocketAddr, Vec<u8>)> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.send_to(q, to).unwrap();
    let deadline = Instant::now() + Duration::from_millis(millis);
    let mut got = Vec::new();
    let mut buf = [0u8; 65_535];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.recv_from(&mut buf) {
            Ok((n, from)) => got.push((from, buf[..n].to_vec())),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    got
}

/// Sends `q` over TCP (RFC 1035 4.2.2 framing); the reply, or `None` after `millis`.
pub fn exchange_tcp(to: SocketAddr, q: &[u8], millis: u64) -> Option<Vec<u8>> {
    let limit = Duration::from_millis(millis);
    let mut s = TcpStream::connect_timeout(&to, limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).ok()?;
    Some(reply)
}

/// One record of a reply, in presentation form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    /// Lowercased owner.
    pub owner: String,
    pub rtype: RType,
    pub ttl: u32,
    pub rdata: String,
}

impl std::fmt::Display for Rr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.owner, self.ttl, self.rtype, self.rdata
        )
    }
}

/// A reply, read into owned parts.
#[derive(Clone, Debug)]
pub struct Reply {
    pub id: u16,
    pub flags: Flags,
    pub rcode: Rcode,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    pub additional: Vec<Rr>,
    /// Extended DNS errors (RFC 8914): code and text.
    pub ede: Vec<(u16, String)>,
    pub elapsed: Duration,
}

impl Reply {
    pub fn parse(bytes: &[u8]) -> Result<Reply, String> {
        let m = Message::parse(bytes).map_err(|e| format!("{e:?}"))?;
        let section = |s: Section| -> Vec<Rr> {
            m.records(s)
                .filter(|r| r.rtype != RType::OPT)
                .map(|r| {
                    let mut raw = Vec::new();
                    r.rdata_into(&mut raw).unwrap();
                    let mut rdata = String::new();
                    wire::rdata::to_text(r.rtype, &raw, &mut rdata)
                        .unwrap_or_else(|_| wire::rdata::generic_to_text(&raw, &mut rdata));
                    Rr {
                        owner: r.owner().unwrap().to_string().to_ascii_lowercase(),
                        rtype: r.rtype,
                        ttl: r.ttl,
                        rdata,
                    }
                })
                .collect()
        };
        let mut ede = Vec::new();
        if let Some(edns) = m.edns() {
            for (code, data) in edns.options().flatten() {
                if code == OptionCode::EDE
                    && let Ok(e) = ExtendedError::parse(data)
                {
                    ede.push((e.info_code, String::from_utf8_lossy(e.text).into_owned()));
                }
            }
        }
        Ok(Reply {
            id: m.header().id,
            flags: m.header().flags,
            rcode: m.rcode(),
            answer: section(Section::Answer),
            authority: section(Section::Authority),
            additional: section(Section::Additional),
            ede,
            elapsed: Duration::ZERO,
        })
    }

    /// The RDATA of the answer records of `rtype`, sorted.
    pub fn rdatas(&self, rtype: RType) -> Vec<String> {
        let mut v: Vec<String> = self
            .answer
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.rdata.clone())
            .collect();
        v.sort();
        v
    }

    /// The TTL of the first answer record of `rtype`.
    pub fn ttl(&self, rtype: RType) -> Option<u32> {
        self.answer.iter().find(|r| r.rtype == rtype).map(|r| r.ttl)
    }

    /// Every record of every section, one a line.
    pub fn all_records(&self) -> Vec<&Rr> {
        self.answer
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
            .collect()
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "rcode {} {:?} ede {:?} in {:?}",
            self.rcode, self.flags, self.ede, self.elapsed
        )?;
        for (name, s) in [
            ("answer", &self.answer),
            ("authority", &self.authority),
            ("additional", &self.additional),
        ] {
            for r in s {
                writeln!(f, "  {name}: {r}")?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP and metrics
// ---------------------------------------------------------------------------------------------

/// A bounded HTTP/1.0 GET; the body.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    match body.split_once("\r\n\r\n") {
        Some((head, rest)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
            Ok(rest.to_string())
        }
        _ => Err(format!("unexpected HTTP reply: {body}")),
    }
}

/// The sum of the samples of `family` whose labels contain every string of `labels` (e.g.
/// `transport="udp"`).
pub fn metric_sum(text: &str, family: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let rest = series.strip_prefix(family)?;
            if !(rest.is_empty() || rest.starts_with('{')) {
                return None;
            }
            if !labels.iter().all(|x| rest.contains(x)) {
                return None;
            }
            value.parse::<f64>().ok()
        })
        .sum()
}
