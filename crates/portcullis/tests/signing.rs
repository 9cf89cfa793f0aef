//! `portcullis serve --sign`: the served zone is signed, and what a zone transfer gives passes
//! BIND's `dnssec-verify` and ldns's `ldns-verify-zone`, for NSEC and NSEC3, ECDSA P-256 and
//! Ed25519, a CSK and a KSK + ZSK. Keys are made in `--key-dir` on the first start and reused
//! on the next; a reload after an edit re-signs only what changed.
//!
//! Missing tools (`dig`, `dnssec-verify`, `ldns-verify-zone`) are a failure: `scripts/test.sh`
//! installs them. Servers run on loopback and are killed when a test ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, free_port, query, try_exchange};
use wire::RType;

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@            SOA   ns1 hostmaster 1 7200 3600 1209600 300
@            NS    ns1
@            MX    10 mail
ns1          A     127.0.0.1
mail         A     192.0.2.2
www          A     192.0.2.3
www          TXT   \"hello\"
a.b.c        A     192.0.2.4
*.wild       A     192.0.2.9
sub          NS    ns.sub
ns.sub       A     192.0.2.53
secure       NS    ns.secure
secure       DS    12345 13 2 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
ns.secure    A     192.0.2.54
";

/// A `portcullis serve` started with `args`, killed when dropped.
struct Served {
    child: std::process::Child,
    addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Served {
    fn start(dir: &Path, args: &[&str]) -> Served {
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.join(format!("server-{port}.log"));
        let listen = addr.to_string();
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("serve")
            .args(args)
            .args(["--listen", &listen, "--allow-transfer", "127.0.0.1"])
            // The built-in configuration's HTTP endpoint (127.0.0.1:8053) is not for tests
            // that run side by side.
            .args(["--http", "off"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut served = Served { child, addr, log };
        let deadline = Instant::now() + Duration::from_secs(30);
        let probe = query(7, "example.test.", RType::SOA, None);
        loop {
            if let Some(status) = served.child.try_wait().unwrap() {
                panic!("the server exited with {status}:\n{}", served.log());
            }
            if try_exchange(addr, &probe, Duration::from_millis(200)).is_some() {
                return served;
            }
            assert!(Instant::now() < deadline, "no answer:\n{}", served.log());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The zone by AXFR, written to `file`.
    fn axfr(&self, file: &Path) -> String {
        let out = Command::new("dig")
            .args([
                "axfr",
                "example.test.",
                &format!("@{}", self.addr.ip()),
                "-p",
                &self.addr.port().to_string(),
                "+onesoa",
                "+nocmd",
                "+nostats",
                "+time=5",
            ])
            .output()
            .expect("dig (bind9-dnsutils) is needed");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success() && text.contains("RRSIG"),
            "AXFR failed:\n{text}\n{}",
            self.log()
        );
        std::fs::write(file, &text).unwrap();
        text
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn verify(file: &Path, csk: bool) {
    let file = file.to_str().unwrap();
    // A CSK has the SEP flag; `-z` tells dnssec-verify a SEP key may sign the whole zone.
    let mut args = vec!["-o", "example.test", file];
    if csk {
        args.insert(0, "-z");
    }
    for (tool, args) in [("dnssec-verify", args), ("ldns-verify-zone", vec![file])] {
        let out = Command::new(tool)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} refused the zone:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn dnskeys(axfr: &str) -> Vec<String> {
    let mut keys: Vec<String> = axfr
        .lines()
        .filter(|l| l.split_whitespace().nth(3) == Some("DNSKEY"))
        .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
        .collect();
    keys.sort();
    keys
}

#[test]
fn flags_sign_and_keys_are_reused() {
    let scratch = Scratch::new("sign-flags");
    let dir = &scratch.0;
    scratch.write("example.test.zone", ZONE);
    let args = [
        "--zone",
        "example.test=example.test.zone",
        "--sign",
        "example.test",
        "--key-dir",
        "keys",
    ];
    let first = {
        let served = Served::start(dir, &args);
        let text = served.axfr(&dir.join("first.axfr"));
        verify(&dir.join("first.axfr"), true);
        text
    };
    // The key directory was made; private key files are the owner's alone.
    let mut privates = 0;
    for entry in std::fs::read_dir(dir.join("keys")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "private") {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", path.display());
            privates += 1;
        }
    }
    assert_eq!(privates, 1, "one CSK by default");
    assert!(dir.join("keys/example.test.state").exists());

    // `portcullis dnssec` reads the key directory: the DS for the parent, the key states.
    let dnssec = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["dnssec", "--key-dir", "keys"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ds = dnssec(&["ds", "example.test"]);
    assert!(
        ds.starts_with("example.test. IN DS ") && ds.contains(" 13 2 "),
        "{ds}"
    );
    let status = dnssec(&["status"]);
    assert!(
        status.contains("csk") && status.contains("active") && status.contains("wait"),
        "{status}"
    );
    // The CDS published meanwhile is the DS printed.
    let digest = ds.split_whitespace().last().unwrap().to_lowercase();
    let cds: String = first
        .lines()
        .filter(|l| l.contains("\tCDS\t"))
        .flat_map(|l| l.split_whitespace().skip(7))
        .collect::<String>()
        .to_lowercase();
    assert_eq!(cds, digest, "the CDS differs from the DS:\n{first}");
    assert!(dnssec(&["ds-seen", "example.test"]).contains("DS seen for 1 key"));

    // A restart reuses the key.
    let served = Served::start(dir, &args);
    let second = served.axfr(&dir.join("second.axfr"));
    assert_eq!(dnskeys(&first), dnskeys(&second));

    // A reload after an edit re-signs only the changed RRsets (the SOA and www A).
    scratch.write(
        "example.test.zone",
        &ZONE
            .replace(" 1 7200", " 2 7200")
            .replace("192.0.2.3", "192.0.2.33"),
    );
    let _ = Command::new("kill")
        .args(["-HUP", &served.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !served.log().contains("signed=2") {
        assert!(
            Instant::now() < deadline,
            "no incremental re-sign:\n{}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served.axfr(&dir.join("third.axfr"));
    verify(&dir.join("third.axfr"), true);
}

#[test]
fn every_algorithm_layout_and_denial_verifies() {
    for algorithm in ["ecdsa-p256", "ed25519"] {
        for layout in ["csk", "ksk-zsk"] {
            for (denial, opt_out) in [("nsec", false), ("nsec3", false), ("nsec3", true)] {
                let scratch = Scratch::new("sign-matrix");
                let dir = &scratch.0;
                scratch.write("example.test.zone", ZONE);
                scratch.write(
                    "portcullis.toml",
                    &format!(
                        "[server]\ncontrol_socket = \"control.sock\"\nworkers = 1\n\n\
                         [signing]\nalgorithm = \"{algorithm}\"\nlayout = \"{layout}\"\n\
                         denial = \"{denial}\"\nnsec3_opt_out = {opt_out}\n\n\
                         [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\n\
                         dnssec = true\n"
                    ),
                );
                let served =
                    Served::start(dir, &["--config", "portcullis.toml", "--key-dir", "keys"]);
                let file = dir.join("zone.axfr");
                let text = served.axfr(&file);
                let want = if layout == "csk" { 1 } else { 2 };
                assert_eq!(dnskeys(&text).len(), want, "{algorithm} {layout}");
                assert_eq!(text.contains("NSEC3PARAM"), denial == "nsec3");
                verify(&file, layout == "csk");
            }
        }
    }
}

#[test]
fn ds_seen_at_the_parent_servers() {
    let scratch = Scratch::new("sign-parent");
    let dir = &scratch.0;
    scratch.write("example.test.zone", ZONE);
    let parent_port = free_port();
    scratch.write(
        "portcullis.toml",
        &format!(
            "[server]\ncontrol_socket = \"control.sock\"\nworkers = 1\n\n\
             [signing]\nparent_servers = [\"127.0.0.1:{parent_port}\"]\n\n\
             [[zone]]\norigin = \"example.test.\"\nfile = \"example.test.zone\"\ndnssec = true\n"
        ),
    );
    // The parent is not up yet: the new key waits for its DS, with a CDS published.
    let child = Served::start(dir, &["--config", "portcullis.toml", "--key-dir", "keys"]);
    assert!(child.axfr(&dir.join("before.axfr")).contains("\tCDS\t"));
    let ds = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["dnssec", "--key-dir", "keys", "ds", "example.test."])
        .current_dir(dir)
        .output()
        .unwrap();
    let ds = String::from_utf8_lossy(&ds.stdout).into_owned();
    assert!(ds.contains(" IN DS "), "{ds}");

    // The parent publishes the DS; at the next signing (a reload here) the child sees it.
    scratch.write(
        "test.zone",
        &format!(
            "$ORIGIN test.\n$TTL 3600\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\n\
             ns A 127.0.0.1\nexample NS ns1.example\nns1.example A 127.0.0.1\n{ds}\n"
        ),
    );
    let _parent = {
        let child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args([
                "serve",
                "--http",
                "off",
                "--zone",
                "test.=test.zone",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{parent_port}"))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        common::ChildGuard(child)
    };
    let probe = query(9, "test.", RType::SOA, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    let parent_addr = SocketAddr::from(([127, 0, 0, 1], parent_port));
    while try_exchange(parent_addr, &probe, Duration::from_millis(200)).is_none() {
        assert!(Instant::now() < deadline, "the parent does not answer");
    }
    let _ = Command::new("kill")
        .args(["-HUP", &child.child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !child.log().contains("DS seen at the parent") {
        assert!(Instant::now() < deadline, "DS not seen:\n{}", child.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = std::fs::read_to_string(dir.join("keys/example.test.state")).unwrap();
    assert!(state.contains(" seen"), "{state}");
    // The zone no longer publishes CDS once the next signing runs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.axfr(&dir.join("after.axfr")).contains("\tCDS\t") {
        assert!(Instant::now() < deadline, "CDS still published");
        std::thread::sleep(Duration::from_millis(100));
    }
}
