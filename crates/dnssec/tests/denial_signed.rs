//! Denial proofs over chains made by real signers: one zone, with a wildcard, empty
//! non-terminals, a CNAME, a DNAME, a signed and an unsigned delegation, is signed by
//! `ldns-signzone` (NSEC; NSEC3 with salt and iterations; NSEC3 with opt-out) and by BIND's
//! `dnssec-signzone` (NSEC; NSEC3; NSEC3 with opt-out). Every NSEC or NSEC3 RRset of the signed
//! zone is handed to the proofs, as a validator's cache would hold them; each query must give
//! the answer the zone's contents call for. The tools come from `ldnsutils` and `bind9-utils`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cache::RrSet;
use dnssec::{
    Denial, DenialError, NoDs, Nsec3Limits, prove_no_ds, prove_nodata, prove_nxdomain,
    prove_wildcard,
};
use wire::{Name, RType};

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@           SOA    ns1 hostmaster 1 7200 3600 1209600 300
@           NS     ns1
ns1         A      192.0.2.1
www         A      192.0.2.2
*.wild      A      192.0.2.9
a.b.c.ent   A      192.0.2.10
alias       CNAME  www
dn          DNAME  example.net.
signed      NS     ns.signed
signed      DS     12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.signed   A      192.0.2.20
unsigned    NS     ns.unsigned
ns.unsigned A      192.0.2.21
";

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}` ({e}): install ldnsutils and bind9-utils")
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_dir(label: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("denial-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn apex() -> Name {
    name("example.test.")
}

/// The NSEC and NSEC3 RRsets of a signed zone file, with their RRSIGs.
fn denial_rrsets(path: &Path) -> Vec<RrSet> {
    let mut sets: Vec<RrSet> = Vec::new();
    let mut sigs = Vec::new();
    for record in zone::parse_file(path, apex().as_ref()) {
        let r = record.unwrap_or_else(|e| panic!("signed zone: {e}"));
        match r.rtype {
            RType::NSEC | RType::NSEC3 => match sets
                .iter_mut()
                .find(|s| s.owner == r.owner && s.rtype == r.rtype)
            {
                Some(s) => s.rdatas.push(r.rdata),
                None => sets.push(RrSet {
                    owner: r.owner,
                    rtype: r.rtype,
                    class: r.class,
                    ttl: r.ttl,
                    rdatas: vec![r.rdata],
                    sigs: Vec::new(),
                }),
            },
            RType::RRSIG if matches!(u16::from_be_bytes([r.rdata[0], r.rdata[1]]), 47 | 50) => {
                sigs.push((r.owner, r.rdata));
            }
            _ => {}
        }
    }
    for (owner, sig) in sigs {
        let covered = RType(u16::from_be_bytes([sig[0], sig[1]]));
        if let Some(s) = sets
            .iter_mut()
            .find(|s| s.owner == owner && s.rtype == covered)
        {
            s.sigs.push(sig);
        }
    }
    assert!(sets.len() >= 8, "{} NSEC/NSEC3 RRsets", sets.len());
    sets
}

fn ldns(label: &str, extra: &[&str]) -> Vec<RrSet> {
    let dir = temp_dir(label);
    let key = run(
        &dir,
        "ldns-keygen",
        &["-a", "ECDSAP256SHA256", "example.test."],
    );
    std::fs::write(dir.join("zone"), ZONE).expect("write zone");
    let mut args = vec!["-i", "20260101000000", "-e", "20360101000000"];
    args.extend_from_slice(extra);
    args.extend(["zone", key.trim()]);
    run(&dir, "ldns-signzone", &args);
    denial_rrsets(&dir.join("zone.signed"))
}

fn bind(label: &str, extra: &[&str]) -> Vec<RrSet> {
    let dir = temp_dir(label);
    let keygen = |more: &[&str]| {
        let mut args = vec!["-q", "-K", ".", "-a", "ECDSAP256SHA256"];
        args.extend_from_slice(more);
        args.push("example.test.");
        run(&dir, "dnssec-keygen", &args).trim().to_owned()
    };
    let ksk = keygen(&["-f", "KSK"]);
    let zsk = keygen(&[]);
    let mut text = ZONE.to_owned();
    for base in [&ksk, &zsk] {
        text += &std::fs::read_to_string(dir.join(format!("{base}.key"))).expect("key file");
    }
    std::fs::write(dir.join("zone"), text).expect("write zone");
    let mut args = vec![
        "-q",
        "-O",
        "full",
        "-o",
        "example.test.",
        "-s",
        "20260101000000",
        "-e",
        "20360101000000",
        "-f",
        "zone.signed",
    ];
    args.extend_from_slice(extra);
    args.extend(["zone", ksk.as_str(), zsk.as_str()]);
    run(&dir, "dnssec-signzone", &args);
    denial_rrsets(&dir.join("zone.signed"))
}

/// Whether the NSEC3 chain has a record for `owner`.
fn has_nsec3_for(sets: &[RrSet], owner: &str) -> bool {
    let Some(first) = sets.first() else {
        return false;
    };
    let Ok(wire::rdata::RData::Nsec3(n)) =
        wire::rdata::RData::parse(RType::NSEC3, &first.rdatas[0])
    else {
        panic!("NSEC3");
    };
    let mut label = String::new();
    wire::rdata::write_base32hex(
        &dnssec::nsec3_hash(name(owner).as_ref(), n.salt, n.iterations),
        &mut label,
    );
    let hashed = name(&format!("{label}.example.test."));
    sets.iter().any(|s| s.owner == hashed)
}

const LIMITS: Nsec3Limits = Nsec3Limits {
    max_iterations: 50,
    max_hashes: 32,
};

/// Checks every query against one signer's chain. `opt_out`: every NSEC3 has the flag, so a
/// closest encloser proof only makes an answer insecure.
fn check(signer: &str, sets: &[RrSet], opt_out: bool) {
    let zone = apex();
    let zone = zone.as_ref();
    let via_span = if opt_out {
        Denial::OptOut
    } else {
        Denial::Proven
    };
    let nsec3 = sets.iter().all(|s| s.rtype == RType::NSEC3);

    let nxdomain = |q: &str| prove_nxdomain(name(q).as_ref(), zone, sets, &LIMITS);
    let nodata = |q: &str, t| prove_nodata(name(q).as_ref(), t, zone, sets, &LIMITS);
    let no_ds = |q: &str| prove_no_ds(name(q).as_ref(), zone, sets, &LIMITS);
    let wildcard = |q: &str, l| prove_wildcard(name(q).as_ref(), l, zone, sets, &LIMITS);

    for q in [
        "nope.example.test.",
        "x.www.example.test.",
        "a.b.ent.example.test.",
        "zzz.example.test.",
    ] {
        assert_eq!(nxdomain(q), Ok(via_span), "{signer}: nxdomain {q}");
    }
    for q in [
        "example.test.",
        "www.example.test.",
        "ent.example.test.",
        "c.ent.example.test.",
        "wild.example.test.",
        "x.wild.example.test.",
        "x.y.wild.example.test.",
        "x.dn.example.test.",
        "x.signed.example.test.",
    ] {
        assert_eq!(
            nxdomain(q),
            Err(DenialError::Missing),
            "{signer}: nxdomain {q}"
        );
    }
    // With opt-out a signer may leave the unsigned delegation out of the chain (BIND does,
    // ldns does not): then an opt-out span covers it and everything below, insecurely.
    let omitted = nsec3 && !has_nsec3_for(sets, "unsigned.example.test.");
    for q in ["unsigned.example.test.", "x.unsigned.example.test."] {
        let want = if omitted {
            Ok(Denial::OptOut)
        } else {
            Err(DenialError::Missing)
        };
        assert_eq!(nxdomain(q), want, "{signer}: nxdomain {q}");
    }

    for (q, t) in [
        ("www.example.test.", RType::TXT),
        ("example.test.", RType::TXT),
        ("ent.example.test.", RType::A),
        ("b.c.ent.example.test.", RType::A),
        ("wild.example.test.", RType::A),
        ("dn.example.test.", RType::TXT),
    ] {
        assert_eq!(nodata(q, t), Ok(Denial::Proven), "{signer}: nodata {q} {t}");
    }
    assert_eq!(
        nodata("x.wild.example.test.", RType::TXT),
        Ok(via_span),
        "{signer}: wildcard nodata"
    );
    for (q, t) in [
        ("www.example.test.", RType::A),
        ("alias.example.test.", RType::A),
        ("x.wild.example.test.", RType::A),
        ("nope.example.test.", RType::A),
        ("unsigned.example.test.", RType::A),
        ("signed.example.test.", RType::DS),
        ("example.test.", RType::DS),
        // CNAME at the name: the DS query is answered at the alias's target, not denied here.
        ("alias.example.test.", RType::DS),
    ] {
        assert_eq!(
            nodata(q, t),
            Err(DenialError::Missing),
            "{signer}: nodata {q} {t}"
        );
    }

    assert_eq!(
        wildcard("x.wild.example.test.", 3),
        Ok(via_span),
        "{signer}"
    );
    assert_eq!(
        wildcard("x.y.wild.example.test.", 3),
        Ok(via_span),
        "{signer}"
    );
    assert_eq!(
        wildcard("www.example.test.", 2),
        Err(DenialError::Missing),
        "{signer}"
    );

    assert_eq!(no_ds("www.example.test."), Ok(NoDs::NotACut), "{signer}");
    assert_eq!(no_ds("ent.example.test."), Ok(NoDs::NotACut), "{signer}");
    assert_eq!(
        no_ds("signed.example.test."),
        Err(DenialError::Missing),
        "{signer}"
    );
    let unsigned = if omitted {
        NoDs::OptOut
    } else {
        NoDs::Delegation
    };
    assert_eq!(no_ds("unsigned.example.test."), Ok(unsigned), "{signer}");
    if nsec3 && opt_out {
        assert_eq!(no_ds("nope.example.test."), Ok(NoDs::OptOut), "{signer}");
    } else {
        assert_eq!(
            no_ds("nope.example.test."),
            Err(DenialError::Missing),
            "{signer}"
        );
    }
}

#[test]
fn ldns_nsec() {
    check("ldns NSEC", &ldns("ldns-nsec", &[]), false);
}

#[test]
fn ldns_nsec3() {
    let sets = ldns("ldns-nsec3", &["-n", "-s", "c0ffee", "-t", "5"]);
    check("ldns NSEC3", &sets, false);
    // Five iterations above the limit: insecure.
    let strict = Nsec3Limits {
        max_iterations: 4,
        max_hashes: 32,
    };
    assert_eq!(
        prove_nxdomain(
            name("nope.example.test.").as_ref(),
            apex().as_ref(),
            &sets,
            &strict
        ),
        Ok(Denial::Insecure)
    );
}

#[test]
fn ldns_nsec3_opt_out() {
    check(
        "ldns NSEC3 opt-out",
        &ldns("ldns-optout", &["-n", "-p", "-t", "0"]),
        true,
    );
}

#[test]
fn bind_nsec() {
    check("BIND NSEC", &bind("bind-nsec", &[]), false);
}

#[test]
fn bind_nsec3() {
    check(
        "BIND NSEC3",
        &bind("bind-nsec3", &["-3", "abcd", "-H", "3"]),
        false,
    );
}

#[test]
fn bind_nsec3_opt_out() {
    check(
        "BIND NSEC3 opt-out",
        &bind("bind-optout", &["-3", "-", "-A"]),
        true,
    );
}
