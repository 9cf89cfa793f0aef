//! DNSSEC-aware authoritative answers, checked against NSD and a validator.
//!
//! A zone with every case of RFC 4035 section 3.1 and RFC 5155 section 7.2 (existing names,
//! NXDOMAIN, NODATA, an empty non-terminal, wildcard answers and wildcard NODATA, a wildcard
//! CNAME, signed and unsigned delegations, an unsigned delegation below an empty non-terminal)
//! is signed by BIND's `dnssec-signzone` three ways (NSEC; NSEC3 with a salt and iterations;
//! NSEC3 with opt-out) and by `ldns-signzone` (NSEC3), then served by Portcullis and by NSD on
//! loopback ports. For each query, with the DO bit:
//!
//! - the response code, the AA and TC flags and every section (as a set of records, owner names
//!   lowercased) must be the same from both servers;
//! - `delv`, trusting the zone's key-signing key, must reach the same verdict on both servers'
//!   answers, and for the chains without opt-out that verdict must be "fully validated" (a
//!   positive or a negative answer). With opt-out, an answer whose proof goes through an opt-out
//!   span is, rightly, insecure ("unsigned answer") from both.
//!
//! Missing tools skip the test with a `SKIPPED:` line, unless `PORTCULLIS_WORLD_REQUIRED` is set
//! (scripts/test.sh installs bind9-utils, bind9-dnsutils, ldnsutils and nsd).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod peer;
use peer::{Guard, TempDir, serve, start_portcullis};

const ZONE: &str = "\
$ORIGIN signed.test.
$TTL 3600
@           SOA   ns hostmaster 1 7200 3600 1209600 300
@           NS    ns
ns          A     192.0.2.1
www         A     192.0.2.2
www         AAAA  2001:db8::2
mail        MX    10 www
alias       CNAME www
host.sub    A     192.0.2.3
*.wild      A     192.0.2.4
*.wild      TXT   \"wild\"
*.wc        CNAME www
secure      NS    ns.secure
secure      DS    12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.secure   A     192.0.2.5
insecure    NS    ns.insecure
ns.insecure A     192.0.2.6
child.ent   NS    ns.signed.test.
";

/// Questions whose answers come from the zone itself: compared and validated.
const IN_ZONE: &[(&str, &str)] = &[
    ("signed.test.", "SOA"),
    ("signed.test.", "DNSKEY"),
    ("signed.test.", "TXT"),
    ("www.signed.test.", "A"),
    ("WWW.Signed.Test.", "AAAA"),
    ("www.signed.test.", "TXT"),
    ("mail.signed.test.", "MX"),
    ("alias.signed.test.", "A"),
    ("nope.signed.test.", "A"),
    ("a.b.c.nope.signed.test.", "A"),
    ("zzz.signed.test.", "A"),
    ("sub.signed.test.", "A"),
    ("x.sub.signed.test.", "A"),
    ("ent.signed.test.", "A"),
    ("x.wild.signed.test.", "A"),
    ("x.wild.signed.test.", "TXT"),
    ("x.wild.signed.test.", "AAAA"),
    ("x.y.wild.signed.test.", "TXT"),
    ("wild.signed.test.", "A"),
    ("foo.wc.signed.test.", "A"),
    ("foo.wc.signed.test.", "AAAA"),
    ("secure.signed.test.", "DS"),
    ("insecure.signed.test.", "DS"),
    ("child.ent.signed.test.", "DS"),
    ("ns.signed.test.", "A"),
    ("alias.signed.test.", "CNAME"),
    ("*.wild.signed.test.", "TXT"),
    ("a.b.c.wild.signed.test.", "A"),
    ("foo.wc.signed.test.", "CNAME"),
    ("x.host.sub.signed.test.", "A"),
    ("x.www.signed.test.", "A"),
    ("0.signed.test.", "A"),
    ("~.signed.test.", "A"),
    ("Nope.Signed.Test.", "MX"),
];

/// Compared with NSD only: referrals (a validator does not follow them from one server) and
/// the DS query at the apex (answered NODATA here, but validated from the parent zone, which
/// this test does not have).
const COMPARED_ONLY: &[(&str, &str)] = &[
    ("signed.test.", "DS"),
    ("secure.signed.test.", "A"),
    ("host.secure.signed.test.", "A"),
    ("insecure.signed.test.", "A"),
    ("ns.insecure.signed.test.", "A"),
    ("child.ent.signed.test.", "NS"),
    ("deep.child.ent.signed.test.", "A"),
];

/// How the zone is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chain {
    Nsec,
    Nsec3,
    Nsec3OptOut,
    LdnsNsec3,
}

// ---------------------------------------------------------------------------------------------
// Tools (processes, folders and ports: `peer`)
// ---------------------------------------------------------------------------------------------

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

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Signing and serving
// ---------------------------------------------------------------------------------------------

/// Signs the zone in `dir`; returns the signed file and the delv trust anchor file.
fn sign(dir: &Path, chain: Chain) -> (PathBuf, PathBuf) {
    let ksk = run(
        dir,
        "dnssec-keygen",
        &[
            "-q",
            "-a",
            "ECDSAP256SHA256",
            "-f",
            "KSK",
            "-K",
            ".",
            "signed.test",
        ],
    );
    let zsk = run(
        dir,
        "dnssec-keygen",
        &["-q", "-a", "ECDSAP256SHA256", "-K", ".", "signed.test"],
    );
    let (ksk, zsk) = (ksk.trim(), zsk.trim());
    let unsigned = dir.join("signed.test.zone");
    let signed = dir.join("signed.test.signed");
    let signed_arg = signed.to_str().unwrap();
    match chain {
        Chain::LdnsNsec3 => {
            std::fs::write(&unsigned, ZONE).unwrap();
            // ldns reads BIND's key files; -n NSEC3, -s salt, -t iterations, -p opt-out off.
            run(
                dir,
                "ldns-signzone",
                &[
                    "-n",
                    "-s",
                    "0ff1ce",
                    "-t",
                    "2",
                    "-f",
                    signed_arg,
                    "signed.test.zone",
                    ksk,
                    zsk,
                ],
            );
        }
        _ => {
            std::fs::write(
                &unsigned,
                format!("{ZONE}$INCLUDE {ksk}.key\n$INCLUDE {zsk}.key\n"),
            )
            .unwrap();
            let mut args = vec!["-q", "-o", "signed.test", "-K", ".", "-f", signed_arg];
            match chain {
                Chain::Nsec => {}
                Chain::Nsec3 => args.extend(["-3", "abcd", "-H", "5"]),
                _ => args.extend(["-3", "-", "-H", "0", "-A"]),
            }
            args.push("signed.test.zone");
            run(dir, "dnssec-signzone", &args);
        }
    }
    // delv's trust anchor: the key-signing key as a static key.
    let key = std::fs::read_to_string(dir.join(format!("{ksk}.key"))).unwrap();
    let line = key.lines().find(|l| !l.starts_with(';')).unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let at = fields.iter().position(|f| *f == "DNSKEY").unwrap();
    let anchor = dir.join("anchors.conf");
    std::fs::write(
        &anchor,
        format!(
            "trust-anchors {{\n  signed.test. static-key {} {} {} \"{}\";\n}};\n",
            fields[at + 1],
            fields[at + 2],
            fields[at + 3],
            fields[at + 4..].concat()
        ),
    )
    .unwrap();
    (signed, anchor)
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
             zone:\n    name: signed.test.\n    zonefile: \"{}\"\n",
            zone.display()
        ),
    )
    .unwrap();
    Guard(
        Command::new("nsd")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd starts"),
    )
}

// ---------------------------------------------------------------------------------------------
// Asking and comparing
// ---------------------------------------------------------------------------------------------

/// One response as dig prints it: status, AA and TC, the records of the answer and authority
/// sections, and those of the additional section (the OPT pseudo-record aside), owner names
/// lowercased.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: String,
    aa: bool,
    tc: bool,
    records: BTreeSet<String>,
    additional: BTreeSet<String>,
}

impl Response {
    /// Whether `self` (ours) and `nsd` agree, but for the differences Portcullis makes on
    /// purpose:
    /// - a truncated response is empty here (NSD sends what fit): only the flags count;
    /// - positive answers name the addresses of MX and NS targets in the additional section
    ///   (NSD's `minimal-responses` leaves them out): the additional section counts only in
    ///   referrals (glue);
    /// - a referral whose sibling glue does not fit is not truncated here (RFC 9471 section 3:
    ///   only in-domain glue is required); NSD sets TC. The records must still agree.
    fn agrees(&self, nsd: &Response) -> bool {
        if self.status != nsd.status || self.aa != nsd.aa {
            return false;
        }
        if self.tc || nsd.tc {
            let sibling_glue_cut = !self.aa && !self.tc && self.records == nsd.records;
            return self.tc == nsd.tc || sibling_glue_cut;
        }
        self.records == nsd.records && (self.aa || self.additional == nsd.additional)
    }
}

fn ask(port: u16, name: &str, rtype: &str, bufsize: u16) -> Response {
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "+dnssec",
            "+norec",
            "+notcp",
            "+ignore",
            // NSD does not answer cookies; ours would take 28 bytes of the 512.
            "+nocookie",
            "+time=2",
            "+tries=2",
            &format!("+bufsize={bufsize}"),
            "+noall",
            "+comments",
            "+answer",
            "+authority",
            "+additional",
            name,
            rtype,
        ])
        .output()
        .expect("dig runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut r = Response {
        status: String::new(),
        aa: false,
        tc: false,
        records: BTreeSet::new(),
        additional: BTreeSet::new(),
    };
    let mut in_additional = false;
    for line in text.lines() {
        if line.starts_with(";; ") && line.ends_with("SECTION:") {
            in_additional = line.contains("ADDITIONAL");
        }
        if let Some(rest) = line.split("status: ").nth(1) {
            r.status = rest.split(',').next().unwrap_or_default().to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags:") {
            let flags = rest.split(';').next().unwrap_or_default();
            r.aa = flags.split_whitespace().any(|f| f == "aa");
            r.tc = flags.split_whitespace().any(|f| f == "tc");
        } else if !line.starts_with(';') && !line.trim().is_empty() {
            let mut fields = line.split_whitespace();
            let owner = fields.next().unwrap_or_default().to_ascii_lowercase();
            let rest: Vec<&str> = fields.collect();
            let record = format!("{owner} {}", rest.join(" "));
            if in_additional {
                r.additional.insert(record);
            } else {
                r.records.insert(record);
            }
        }
    }
    assert!(
        !r.status.is_empty(),
        "no response to {name} {rtype}:\n{text}"
    );
    r
}

/// delv's verdict on `name` `rtype` from the server on `port`: "fully validated", "negative
/// response, fully validated", "unsigned answer", or its failure message.
fn verdict(port: u16, anchor: &Path, name: &str, rtype: &str) -> String {
    let out = Command::new("delv")
        .args([
            "@127.0.0.1",
            "-p",
            &port.to_string(),
            "-a",
            anchor.to_str().unwrap(),
            "+root=signed.test",
            name,
            rtype,
        ])
        .output()
        .expect("delv runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for wanted in [
        "; negative response, fully validated",
        "; fully validated",
        "; unsigned answer",
    ] {
        if text.lines().any(|l| l.starts_with(wanted)) {
            return wanted.trim_start_matches("; ").to_string();
        }
    }
    let failure: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(";;") && (l.contains("fail") || l.contains("no valid")))
        .collect();
    format!("not validated: {}", failure.join(" | "))
}

fn differential(chain: Chain) {
    let test = format!("auth_dnssec::{chain:?}");
    let signer = if chain == Chain::LdnsNsec3 {
        "ldns-signzone"
    } else {
        "dnssec-signzone"
    };
    for tool in ["nsd", "dig", "delv", "dnssec-keygen", signer] {
        if !tool_available(&test, tool) {
            return;
        }
    }
    let dir = TempDir::new(&format!("auth-dnssec-{chain:?}").to_ascii_lowercase());
    let (zone, anchor) = sign(&dir.0, chain);
    let (_nsd, nsd_port) = serve("nsd", "signed.test.", |port| start_nsd(&dir.0, &zone, port));
    let (_ours, ours_port) = serve("portcullis", "signed.test.", |port| {
        start_portcullis(&dir.0, "signed.test.", &zone, port)
    });

    // An NSEC3 owner name is answered as if it did not exist (RFC 5155 section 7.2.8).
    let signed_text = std::fs::read_to_string(&zone).unwrap();
    let hashed_owner = signed_text
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[3] == "NSEC3").then(|| f[0].to_string())
        })
        .filter(|_| chain != Chain::Nsec);
    let hashed: Vec<(&str, &str)> = hashed_owner
        .iter()
        .flat_map(|o| [(o.as_str(), "A"), (o.as_str(), "NSEC3")])
        .collect();

    let mut failures = Vec::new();
    let mut compared = 0;
    let mut validated = 0;
    let questions = IN_ZONE.iter().chain(COMPARED_ONLY).chain(&hashed);
    for (i, &(name, rtype)) in questions.enumerate() {
        // Each question at the largest size, then at 512 bytes where proofs may not fit.
        for bufsize in [1232, 512] {
            let theirs = ask(nsd_port, name, rtype, bufsize);
            let ours = ask(ours_port, name, rtype, bufsize);
            compared += 1;
            if !ours.agrees(&theirs) {
                let all = |r: &Response| r.records.union(&r.additional).cloned().collect();
                let (ours_all, theirs_all): (BTreeSet<String>, BTreeSet<String>) =
                    (all(&ours), all(&theirs));
                let only_ours: Vec<_> = ours_all.difference(&theirs_all).collect();
                let only_theirs: Vec<_> = theirs_all.difference(&ours_all).collect();
                failures.push(format!(
                    "{name} {rtype} (bufsize {bufsize}): ours {} aa={} tc={}, NSD {} aa={} tc={}\n  \
                     only ours: {only_ours:#?}\n  only NSD: {only_theirs:#?}",
                    ours.status, ours.aa, ours.tc, theirs.status, theirs.aa, theirs.tc
                ));
            }
        }
        if i >= IN_ZONE.len() {
            continue;
        }
        let ours = verdict(ours_port, &anchor, name, rtype);
        let theirs = verdict(nsd_port, &anchor, name, rtype);
        let must_validate = !matches!(chain, Chain::Nsec3OptOut);
        if ours != theirs || (must_validate && !ours.contains("fully validated")) {
            failures.push(format!(
                "{name} {rtype}: delv says {ours:?} of ours, {theirs:?} of NSD's"
            ));
        } else if ours.contains("fully validated") {
            validated += 1;
        }
    }
    println!(
        "{chain:?}: {compared} responses compared with NSD, {validated} of {} in-zone answers \
         fully validated by delv",
        IN_ZONE.len()
    );
    assert!(
        failures.is_empty(),
        "{chain:?}: {} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn nsec_answers_match_nsd_and_validate() {
    differential(Chain::Nsec);
}

#[test]
fn nsec3_answers_match_nsd_and_validate() {
    differential(Chain::Nsec3);
}

#[test]
fn nsec3_opt_out_answers_match_nsd() {
    differential(Chain::Nsec3OptOut);
}

#[test]
fn ldns_nsec3_answers_match_nsd_and_validate() {
    differential(Chain::LdnsNsec3);
}
