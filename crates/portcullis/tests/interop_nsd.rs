//! Differential test against NSD: the same zone served by NSD and by Portcullis, several hundred
//! queries sent to both by dnspython, answers compared (RCODE, AA and TC, every section as a set).
//! Differences Portcullis makes on purpose are listed with their reason in
//! `tests/interop/known-differences.txt`; any other difference fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};

mod peer;
use peer::{Guard, TempDir, serve, start_portcullis};

const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop");

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

    let (_nsd, nsd_port) = serve("nsd", "diff.test.", |port| start_nsd(&dir.0, &zone, port));
    let (_ours, ours_port) = serve("portcullis", "diff.test.", |port| {
        start_portcullis(&dir.0, "diff.test.", &zone, port)
    });

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
