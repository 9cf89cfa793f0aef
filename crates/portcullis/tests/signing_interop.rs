//! Validators accept what Portcullis signs and serves.
//!
//! `portcullis serve --zone ... --sign ... --key-dir ...` signs `example.test.` (ECDSA P-256
//! with one combined key and NSEC; P-256 with a KSK and a ZSK and NSEC3; Ed25519 with one
//! combined key and NSEC3 with opt-out) and serves it on a loopback port, together with the
//! unsigned child zone `sub.example.test.` delegated from it. Three validators are then asked
//! the same questions, trusting the zone's key-signing key:
//!
//! - `delv` asks the authoritative server itself and must say "fully validated";
//! - Unbound, a validating resolver with stub zones pointing at that server, must set AD;
//! - the Portcullis resolver, with `[[stub]]`s and `--trust-anchor`, must set AD.
//!
//! The questions cover positive answers (A, TXT, MX, CNAME), NXDOMAIN, NODATA, a wildcard
//! expansion, a wildcard NODATA, an empty non-terminal and the DS query at the unsigned cut;
//! names below that cut must be insecure (answered, without AD), never bogus. With opt-out every
//! NSEC3 record carries the opt-out flag, so the proofs that rest on a covering NSEC3 record
//! (NXDOMAIN, the wildcard answers and the DS query at the cut) are, rightly, insecure there
//! (RFC 5155 sections 6 and 8): for those only "not bogus" is required.
//!
//! Missing tools skip the test with a `SKIPPED:` line, unless `PORTCULLIS_WORLD_REQUIRED` is set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, free_port, query, try_exchange};
use wire::RType;

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@            SOA   ns1 hostmaster 1 7200 3600 1209600 300
@            NS    ns1
ns1          A     127.0.0.1
www          A     192.0.2.3
mail         A     192.0.2.2
mail         MX    10 mail
text         TXT   \"hello\"
*.wild       A     192.0.2.9
host.a.b     A     192.0.2.4
alias        CNAME www
sub          NS    ns.sub
ns.sub       A     127.0.0.1
";

const CHILD: &str = "$ORIGIN sub.example.test.
$TTL 3600
@            SOA   ns hostmaster 1 7200 3600 1209600 300
@            NS    ns
ns           A     127.0.0.1
host         A     192.0.2.53
";

/// What a validator must conclude.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// Proven: "fully validated", AD set.
    Secure,
    /// Provably unsigned: answered without AD, not SERVFAIL.
    Insecure,
    /// Secure, or insecure through an opt-out span; never bogus.
    NotBogus,
}

/// One question: name, type, response code and verdict, and whether the proof rests on an
/// NSEC3 record covering a name (insecure with opt-out).
struct Case {
    name: &'static str,
    rtype: &'static str,
    rcode: &'static str,
    want: Want,
    covering: bool,
}

const fn case(
    name: &'static str,
    rtype: &'static str,
    rcode: &'static str,
    want: Want,
    covering: bool,
) -> Case {
    Case {
        name,
        rtype,
        rcode,
        want,
        covering,
    }
}

const CASES: &[Case] = &[
    case("www.example.test.", "A", "NOERROR", Want::Secure, false),
    case("text.example.test.", "TXT", "NOERROR", Want::Secure, false),
    case("mail.example.test.", "MX", "NOERROR", Want::Secure, false),
    case(
        "alias.example.test.",
        "CNAME",
        "NOERROR",
        Want::Secure,
        false,
    ),
    case("alias.example.test.", "A", "NOERROR", Want::Secure, false),
    case("nope.example.test.", "A", "NXDOMAIN", Want::Secure, true),
    case(
        "x.nope.example.test.",
        "TXT",
        "NXDOMAIN",
        Want::Secure,
        true,
    ),
    case("www.example.test.", "AAAA", "NOERROR", Want::Secure, false),
    case("mail.example.test.", "TXT", "NOERROR", Want::Secure, false),
    case("x.wild.example.test.", "A", "NOERROR", Want::Secure, true),
    case("x.y.wild.example.test.", "A", "NOERROR", Want::Secure, true),
    case(
        "x.wild.example.test.",
        "AAAA",
        "NOERROR",
        Want::Secure,
        true,
    ),
    case("a.b.example.test.", "A", "NOERROR", Want::Secure, false),
    case("b.example.test.", "TXT", "NOERROR", Want::Secure, false),
    case("sub.example.test.", "DS", "NOERROR", Want::Secure, true),
    case(
        "host.sub.example.test.",
        "A",
        "NOERROR",
        Want::Insecure,
        false,
    ),
    case(
        "nope.sub.example.test.",
        "A",
        "NXDOMAIN",
        Want::Insecure,
        false,
    ),
];

/// How the zone is signed.
#[derive(Clone, Copy, Debug)]
struct Signing {
    algorithm: &'static str,
    layout: &'static str,
    denial: &'static str,
    opt_out: bool,
}

impl Signing {
    /// The verdict required of `case` in a zone signed this way.
    fn want(&self, case: &Case) -> Want {
        if self.opt_out && case.covering && case.want == Want::Secure {
            Want::NotBogus
        } else {
            case.want
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// A process killed by its PID and reaped when the test ends, however it ends; its standard
/// error is kept in `log` for failure messages.
struct Proc {
    child: Child,
    what: String,
    log: PathBuf,
}

impl Proc {
    fn spawn(what: &str, program: &str, args: &[String], dir: &Path) -> Proc {
        let log = dir.join(format!("{}.log", what.replace(' ', "-")));
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} ({program}) starts: {e}"));
        Proc {
            child,
            what: what.to_string(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 30 s) until the process answers a SOA query for `example.test.` on
    /// `addr`, with recursion desired when `recursive`.
    fn wait_ready(&mut self, addr: SocketAddr, recursive: bool) {
        let mut probe = query(7, "example.test.", RType::SOA, None);
        if recursive {
            probe[2] |= 1;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("{} exited with {status}:\n{}", self.what, self.log());
            }
            if try_exchange(addr, &probe, Duration::from_millis(300)).is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} does not answer on {addr}:\n{}",
                self.what,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `tool` is installed; if not, prints a `SKIPPED:` line, or fails when
/// `PORTCULLIS_WORLD_REQUIRED` is set.
fn tool_available(test: &str, tool: &str) -> bool {
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

/// Runs `program` for at most 60 s (it is killed then) and returns its standard output and
/// standard error together. Output goes through a file in `dir`, so that waiting never depends
/// on a pipe being drained.
fn output(dir: &Path, program: &str, args: &[&str]) -> String {
    let file = dir.join(format!("{program}.out"));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let err = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut { err }, &mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} still running after 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stdout = std::fs::read_to_string(&file).unwrap_or_default();
    format!("{stdout}{}", errors.join().unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The three servers
// ---------------------------------------------------------------------------------------------

/// The authoritative server: the signed zone and its unsigned child.
fn start_authoritative(dir: &Path, signing: Signing, addr: SocketAddr) -> Proc {
    std::fs::write(dir.join("example.test.zone"), ZONE).unwrap();
    std::fs::write(dir.join("sub.example.test.zone"), CHILD).unwrap();
    std::fs::write(
        dir.join("auth.toml"),
        format!(
            "[server]\ncontrol_socket = \"auth.sock\"\nworkers = 1\n\n\
             [signing]\nalgorithm = \"{}\"\nlayout = \"{}\"\ndenial = \"{}\"\n\
             nsec3_opt_out = {}\n",
            signing.algorithm, signing.layout, signing.denial, signing.opt_out
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "serve",
        "--config",
        "auth.toml",
        "--listen",
        &addr.to_string(),
        "--zone",
        "example.test=example.test.zone",
        "--zone",
        "sub.example.test=sub.example.test.zone",
        "--sign",
        "example.test",
        "--key-dir",
        "keys",
        "--allow-transfer",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut proc = Proc::spawn(
        "portcullis auth",
        env!("CARGO_BIN_EXE_portcullis"),
        &args,
        dir,
    );
    proc.wait_ready(addr, false);
    proc
}

/// The zone's key-signing key (flags 257) from the key directory, as `FLAGS PROTO ALG KEY`.
fn anchor_key(dir: &Path) -> String {
    let mut keys = Vec::new();
    for entry in std::fs::read_dir(dir.join("keys")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "key") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines().filter(|l| !l.starts_with(';')) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                if let Some(at) = fields.iter().position(|f| *f == "DNSKEY")
                    && fields.get(at + 1) == Some(&"257")
                {
                    keys.push(format!(
                        "{} {} {} {}",
                        fields[at + 1],
                        fields[at + 2],
                        fields[at + 3],
                        fields[at + 4..].concat()
                    ));
                }
            }
        }
    }
    assert_eq!(keys.len(), 1, "one key-signing key in the key directory");
    keys.remove(0)
}

fn start_unbound(dir: &Path, addr: SocketAddr, auth: SocketAddr, key: &str) -> Proc {
    let d = dir.display();
    let stub = |zone: &str| {
        format!(
            "stub-zone:\n    name: \"{zone}\"\n    stub-addr: {}@{}\n",
            auth.ip(),
            auth.port()
        )
    };
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            "server:\n    interface: {}\n    port: {}\n    do-ip6: no\n    \
             do-not-query-localhost: no\n    local-zone: \"test.\" nodefault\n    \
             username: \"\"\n    chroot: \"\"\n    directory: \"{d}\"\n    \
             pidfile: \"{d}/unbound.pid\"\n    use-syslog: no\n    logfile: \"\"\n    \
             verbosity: 1\n    num-threads: 1\n    access-control: 127.0.0.0/8 allow\n    \
             so-reuseport: no\n    module-config: \"validator iterator\"\n    \
             trust-anchor: \"example.test. DNSKEY {key}\"\n    val-log-level: 2\n    \
             target-fetch-policy: \"0 0 0 0 0\"\n\
             remote-control:\n    control-enable: no\n{}{}",
            addr.ip(),
            addr.port(),
            stub("example.test."),
            stub("sub.example.test.")
        ),
    )
    .unwrap();
    let args = vec![
        "-d".to_string(),
        "-c".to_string(),
        conf.display().to_string(),
    ];
    let mut proc = Proc::spawn("unbound", "unbound", &args, dir);
    proc.wait_ready(addr, true);
    proc
}

fn start_resolver(dir: &Path, addr: SocketAddr, auth: SocketAddr, key: &str) -> Proc {
    std::fs::write(
        dir.join("anchor.key"),
        format!("example.test. IN DNSKEY {key}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("resolver.toml"),
        format!(
            "[server]\ncontrol_socket = \"resolver.sock\"\nworkers = 1\n\n\
             [resolver]\nenabled = true\n\n\
             [[stub]]\nzone = \"example.test.\"\nservers = [\"{auth}\"]\n\n\
             [[stub]]\nzone = \"sub.example.test.\"\nservers = [\"{auth}\"]\n"
        ),
    )
    .unwrap();
    let args: Vec<String> = [
        "serve",
        "--config",
        "resolver.toml",
        "--listen",
        &addr.to_string(),
        "--trust-anchor",
        "anchor.key",
        "--insecure-local-upstreams",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut proc = Proc::spawn(
        "portcullis resolver",
        env!("CARGO_BIN_EXE_portcullis"),
        &args,
        dir,
    );
    proc.wait_ready(addr, true);
    proc
}

// ---------------------------------------------------------------------------------------------
// Asking
// ---------------------------------------------------------------------------------------------

/// delv's verdict on `case` from the authoritative server: `(secure, insecure, text)`.
fn delv(dir: &Path, auth: SocketAddr, anchor: &Path, case: &Case) -> (bool, bool, String) {
    let text = output(
        dir,
        "delv",
        &[
            &format!("@{}", auth.ip()),
            "-p",
            &auth.port().to_string(),
            "-a",
            anchor.to_str().unwrap(),
            "+root=example.test",
            "+nomtrace",
            case.name,
            case.rtype,
        ],
    );
    let verdict = |wanted: &str| {
        text.lines()
            .any(|l| l.starts_with("; ") && l.trim_end().ends_with(wanted))
    };
    let secure = verdict("fully validated");
    let insecure = verdict("unsigned answer");
    (secure, insecure, text)
}

/// A resolver's answer to `case` with DO: `(status, ad)` and dig's text.
fn dig(dir: &Path, resolver: SocketAddr, case: &Case) -> (String, bool, String) {
    let text = output(
        dir,
        "dig",
        &[
            &format!("@{}", resolver.ip()),
            "-p",
            &resolver.port().to_string(),
            "+dnssec",
            "+time=5",
            "+tries=2",
            case.name,
            case.rtype,
        ],
    );
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("no response")
        .to_string();
    let ad = text
        .lines()
        .find_map(|l| l.strip_prefix(";; flags:"))
        .and_then(|f| f.split(';').next())
        .is_some_and(|f| f.split_whitespace().any(|f| f == "ad"));
    (status, ad, text)
}

/// Whether a resolver's `(status, ad)` is what `want` asks for `case`.
fn resolver_ok(case: &Case, want: Want, status: &str, ad: bool) -> bool {
    status == case.rcode
        && match want {
            Want::Secure => ad,
            Want::Insecure => !ad,
            Want::NotBogus => true,
        }
}

fn interop(signing: Signing) {
    let test = format!(
        "signing_interop::{}-{}-{}{}",
        signing.algorithm,
        signing.layout,
        signing.denial,
        if signing.opt_out { "-opt-out" } else { "" }
    );
    for tool in ["dig", "delv", "unbound"] {
        if !tool_available(&test, tool) {
            return;
        }
    }
    let scratch = Scratch::new("sign-interop");
    let dir = &scratch.0;
    let ports = [free_port(), free_port(), free_port()];
    let [auth_addr, unbound_addr, resolver_addr] =
        ports.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    let auth = start_authoritative(dir, signing, auth_addr);
    let key = anchor_key(dir);
    let anchor = dir.join("delv-anchor.conf");
    let f: Vec<&str> = key.split(' ').collect();
    std::fs::write(
        &anchor,
        format!(
            "trust-anchors {{\n  example.test. static-key {} {} {} \"{}\";\n}};\n",
            f[0], f[1], f[2], f[3]
        ),
    )
    .unwrap();
    let unbound = start_unbound(dir, unbound_addr, auth_addr, &key);
    let resolver = start_resolver(dir, resolver_addr, auth_addr, &key);

    let mut failures = Vec::new();
    let mut passed = [0usize; 3];
    // What each validator made of the answers that opt-out may leave insecure.
    let mut notes = Vec::new();
    for case in CASES {
        let want = signing.want(case);
        let q = format!("{} {}", case.name, case.rtype);

        let (secure, insecure, text) = delv(dir, auth_addr, &anchor, case);
        let ok = match want {
            Want::Secure => secure,
            Want::Insecure => insecure,
            Want::NotBogus => secure || insecure,
        };
        if want == Want::NotBogus {
            notes.push(format!(
                "{q}: delv {}",
                if secure { "secure" } else { "insecure" }
            ));
        }
        if ok {
            passed[0] += 1;
        } else {
            failures.push(format!("delv {q}: want {want:?}, got:\n{text}"));
        }

        for (i, (what, addr)) in [("unbound", unbound_addr), ("portcullis", resolver_addr)]
            .into_iter()
            .enumerate()
        {
            let (status, ad, text) = dig(dir, addr, case);
            if want == Want::NotBogus
                && let Some(note) = notes.last_mut()
            {
                note.push_str(&format!(", {what} {status} ad={ad}"));
            }
            if resolver_ok(case, want, &status, ad) {
                passed[i + 1] += 1;
            } else {
                failures.push(format!(
                    "{what} {q}: want {} {want:?}, got {status} ad={ad}:\n{text}",
                    case.rcode
                ));
            }
        }
    }
    println!(
        "{test}: of {} questions, delv accepted {}, unbound {}, the Portcullis resolver {}",
        CASES.len(),
        passed[0],
        passed[1],
        passed[2]
    );
    for note in &notes {
        println!("  opt-out, not bogus: {note}");
    }
    assert!(
        failures.is_empty(),
        "{test}: {} failures:\n{}\n\nauthoritative log:\n{}\nunbound log:\n{}\nresolver log:\n{}",
        failures.len(),
        failures.join("\n"),
        auth.log(),
        unbound.log(),
        resolver.log()
    );
}

#[test]
fn p256_csk_nsec_validates() {
    interop(Signing {
        algorithm: "ecdsa-p256",
        layout: "csk",
        denial: "nsec",
        opt_out: false,
    });
}

#[test]
fn p256_ksk_zsk_nsec3_validates() {
    interop(Signing {
        algorithm: "ecdsa-p256",
        layout: "ksk-zsk",
        denial: "nsec3",
        opt_out: false,
    });
}

#[test]
fn ed25519_csk_nsec3_opt_out_validates() {
    interop(Signing {
        algorithm: "ed25519",
        layout: "csk",
        denial: "nsec3",
        opt_out: true,
    });
}
