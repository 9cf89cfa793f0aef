//! Zones signed by Portcullis checked by other implementations: BIND's `dnssec-verify` and
//! ldns's `ldns-verify-zone` must accept every combination of algorithm (13, 15), key layout
//! (CSK, KSK + ZSK) and denial (NSEC, NSEC3, NSEC3 opt-out). Keys made by `dnssec-keygen` and
//! `ldns-keygen` (algorithms 8, 13 and 15) are imported from their key files and signed with.
//! The tools come from the `bind9-utils` and `ldnsutils` packages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use dnssec::keyfile;
use dnssec::{
    Algorithm, DenialChain, KeyUse, Nsec3Params, SignParams, ZoneKey, ZoneRecord, sign_zone,
};
use wire::Name;

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@            SOA   ns1 hostmaster 1 7200 3600 1209600 300
@            NS    ns1
@            MX    10 mail
ns1          A     192.0.2.1
mail         A     192.0.2.2
WWW          A     192.0.2.3
www          TXT   \"hello\"
a.b.c        A     192.0.2.4
*.wild       A     192.0.2.9
sub          NS    ns.sub
ns.sub       A     192.0.2.53
secure       NS    ns.secure
secure       DS    12345 13 2 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
ns.secure    A     192.0.2.54
dname        DNAME target.example.
below.dname  A     192.0.2.99
";

fn origin() -> Name {
    "example.test.".parse().unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn records() -> Vec<ZoneRecord> {
    zone::parse_str(ZONE, Path::new("test"), origin().as_ref())
        .collect_all()
        .unwrap()
        .into_iter()
        .map(|r| ZoneRecord {
            owner: r.owner,
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata,
        })
        .collect()
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

/// Signs with `keys`, writes the zone and runs both verifiers on it.
fn sign_and_verify(dir: &Path, label: &str, keys: &[KeyUse<'_>], denial: DenialChain) {
    let mut params = SignParams::new(now(), 14 * 86_400);
    params.denial = denial;
    let signed = sign_zone(&origin(), records(), keys, &params, None).unwrap();
    let mut text = String::new();
    for r in &signed.records {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    let file = dir.join(format!("{label}.zone"));
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    // A combined signing key has the SEP flag; `-z` tells dnssec-verify that a key with it
    // may sign the whole zone.
    let csk = keys.iter().all(|k| k.sign_zone && k.sign_keys);
    let mut args = vec!["-o", "example.test", file];
    if csk {
        args.insert(0, "-z");
    }
    run(dir, "dnssec-verify", &args);
    run(dir, "ldns-verify-zone", &[file]);
}

fn denials() -> [(&'static str, DenialChain); 3] {
    [
        ("nsec", DenialChain::Nsec),
        ("nsec3", DenialChain::Nsec3(Nsec3Params::default())),
        (
            "nsec3-optout",
            DenialChain::Nsec3(Nsec3Params {
                opt_out: true,
                ..Nsec3Params::default()
            }),
        ),
    ]
}

#[test]
fn generated_keys_pass_bind_and_ldns_verifiers() {
    if !have("dnssec-verify") || !have("ldns-verify-zone") {
        eprintln!("skipped: dnssec-verify or ldns-verify-zone missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let csk = ZoneKey::generate(alg, true).unwrap();
        let ksk = ZoneKey::generate(alg, true).unwrap();
        let zsk = ZoneKey::generate(alg, false).unwrap();
        let one = [KeyUse {
            key: &csk,
            publish: true,
            sign_zone: true,
            sign_keys: true,
            cds: true,
        }];
        let split = [
            KeyUse {
                key: &ksk,
                publish: true,
                sign_zone: false,
                sign_keys: true,
                cds: true,
            },
            KeyUse {
                key: &zsk,
                publish: true,
                sign_zone: true,
                sign_keys: false,
                cds: false,
            },
        ];
        for (name, denial) in denials() {
            sign_and_verify(
                dir.path(),
                &format!("{}-csk-{name}", alg.number()),
                &one,
                denial.clone(),
            );
            sign_and_verify(
                dir.path(),
                &format!("{}-split-{name}", alg.number()),
                &split,
                denial,
            );
        }
    }
}

/// Keys made by another tool, imported from their files.
fn import(dir: &Path, program: &str, args: &[&str]) -> ZoneKey {
    let out = run(dir, program, args);
    let base = out
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with("Kexample.test."))
        .unwrap_or_else(|| panic!("{program}: no key name in {out}"));
    let loaded = keyfile::read(&dir.join(base)).unwrap();
    assert_eq!(loaded.zone, origin());
    loaded.key
}

#[test]
fn imported_bind_and_ldns_keys_sign() {
    if !have("dnssec-keygen") || !have("ldns-keygen") || !have("dnssec-verify") {
        eprintln!("skipped: dnssec-keygen, ldns-keygen or dnssec-verify missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (bind_alg, ldns_alg, extra) in [
        ("ECDSAP256SHA256", "ECDSAP256SHA256", &[][..]),
        ("ED25519", "ED25519", &[][..]),
        ("RSASHA256", "RSASHA256", &["-b", "2048"][..]),
    ] {
        let mut ksk_args = vec!["-a", bind_alg, "-f", "KSK"];
        ksk_args.extend_from_slice(extra);
        ksk_args.push("example.test");
        let bind_ksk = import(d, "dnssec-keygen", &ksk_args);
        let mut zsk_args = vec!["-a", ldns_alg];
        zsk_args.extend_from_slice(extra);
        zsk_args.push("example.test");
        let ldns_zsk = import(d, "ldns-keygen", &zsk_args);
        assert!(bind_ksk.is_sep() && !ldns_zsk.is_sep());
        let keys = [
            KeyUse {
                key: &bind_ksk,
                publish: true,
                sign_zone: false,
                sign_keys: true,
                cds: false,
            },
            KeyUse {
                key: &ldns_zsk,
                publish: true,
                sign_zone: true,
                sign_keys: false,
                cds: false,
            },
        ];
        sign_and_verify(d, &format!("import-{bind_alg}"), &keys, DenialChain::Nsec);
        // Written back in Portcullis's own files, the keys read back the same.
        let out = tempfile::tempdir().unwrap();
        for key in [&bind_ksk, &ldns_zsk] {
            let base: PathBuf = keyfile::write(out.path(), &origin(), key, now()).unwrap();
            let again = keyfile::read(&base).unwrap();
            assert_eq!(again.key.dnskey(), key.dnskey());
        }
    }
}
