//! Differential test: the zone files in `tests/data/` read by our parser, by dnspython and by
//! BIND's `named-checkzone` must give the same records.
//!
//! Records are compared as `owner-wire-hex ttl class type rdata-wire-hex` lines (owner
//! lowercased, duplicates dropped, sorted), made here from our records and by `zone_dump.py`
//! for the references. Missing tools are a failure, not a skip: `scripts/test.sh` installs them.

#![allow(clippy::unwrap_used, reason = "test code")]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use wire::Name;

/// (file, origin) of each zone compared.
const ZONES: &[(&str, &str)] = &[
    ("example.test.zone", "example.test."),
    ("directives.zone", "example.org."),
    ("escapes.zone", "example."),
];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn ours(file: &str, origin: &str) -> Vec<String> {
    let origin: Name = origin.parse().unwrap();
    let records = zone::parse_file(&data_dir().join(file), origin.as_ref())
        .collect_all()
        .unwrap_or_else(|errors| {
            panic!(
                "{file}: {}",
                errors
                    .iter()
                    .map(|e| format!("\n  {e}"))
                    .collect::<String>()
            )
        });
    let lines: BTreeSet<String> = records
        .iter()
        .map(|r| {
            let owner = r.owner.as_wire().to_ascii_lowercase();
            format!(
                "{} {} {} {} {}",
                hex(&owner),
                r.ttl,
                r.class.0,
                r.rtype.0,
                hex(&r.rdata)
            )
        })
        .collect();
    lines.into_iter().collect()
}

fn reference(file: &str, origin: &str, bind: bool) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zone_dump.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script);
    if bind {
        cmd.arg("--bind");
    }
    let output = cmd.args([origin, file]).current_dir(data_dir()).output().unwrap_or_else(|e| {
        panic!("cannot run python3 ({e}): the differential test needs python3 with dnspython; scripts/test.sh installs them")
    });
    assert!(
        output.status.success(),
        "zone_dump.py{} {origin} {file} failed (python3, dnspython and bind9-utils must be installed; \
         scripts/test.sh installs them):\n{}",
        if bind { " --bind" } else { "" },
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn compare(file: &str, origin: &str, bind: bool) {
    let ours = ours(file, origin);
    let theirs = reference(file, origin, bind);
    let who = if bind { "named-checkzone" } else { "dnspython" };
    let only_ours: Vec<_> = ours.iter().filter(|l| !theirs.contains(l)).collect();
    let only_theirs: Vec<_> = theirs.iter().filter(|l| !ours.contains(l)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "{file}: records differ from {who}\n only ours: {only_ours:#?}\n only {who}: {only_theirs:#?}"
    );
    assert!(!ours.is_empty());
}

#[test]
fn same_records_as_dnspython() {
    for (file, origin) in ZONES {
        compare(file, origin, false);
    }
}

#[test]
fn same_records_as_named_checkzone() {
    for (file, origin) in ZONES {
        compare(file, origin, true);
    }
}
