//! What validation costs per answer, piece by piece: one RRSIG check over a typical A RRset for
//! each algorithm a validator meets (8 RSA/SHA-256 with a 2048-bit key, 13 ECDSA P-256, 14 ECDSA
//! P-384, 15 Ed25519), one DS digest, and the NSEC and NSEC3 (0 and 10 iterations) proofs of an
//! NXDOMAIN.
//!
//! The records are real: at start the bench writes a small zone, makes keys with `ldns-keygen`
//! and signs it with `ldns-signzone` (ldnsutils; no network), then reads the signed zone back.
//! Signing with real tools rather than with hand-made signatures keeps the RSA case honest (ring
//! cannot make RSA keys) and gives the denial proofs a real NSEC or NSEC3 chain. The NXDOMAIN
//! proofs get only the records a server would send (two NSEC, three NSEC3), found by dropping
//! every record the proof does not need.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use cache::RrSet;
use criterion::{Criterion, criterion_group, criterion_main};
use dnssec::{Denial, Nsec3Limits, RingCrypto, ds_digest, prove_nxdomain, verify_rrsig};
use wire::rdata::RData;
use wire::{Name, RType};

const ORIGIN: &str = "example.test.";
/// Names below the apex: enough for a chain with gaps, few enough that every NSEC or NSEC3
/// record fits in one proof attempt (the denial code reads at most 64).
const HOSTS: usize = 30;

/// A scratch folder removed when the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} (ldnsutils) could not run: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn unsigned_zone() -> String {
    let mut text = format!(
        "$ORIGIN {ORIGIN}\n$TTL 3600\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\n\
         ns A 192.0.2.53\nwww A 192.0.2.1\nwww A 192.0.2.2\n"
    );
    for i in 0..HOSTS {
        text += &format!("h{i:02} A 192.0.2.{}\n", 10 + i);
    }
    text
}

/// The signed zone's records, grouped into RRsets with their RRSIGs attached.
struct Signed {
    sets: Vec<RrSet>,
}

impl Signed {
    fn get(&self, owner: &str, rtype: RType) -> &RrSet {
        let owner: Name = owner.parse().unwrap();
        self.sets
            .iter()
            .find(|s| s.rtype == rtype && s.owner == owner)
            .unwrap_or_else(|| panic!("no {owner} {rtype:?} in the signed zone"))
    }

    fn of_type(&self, rtype: RType) -> Vec<RrSet> {
        self.sets
            .iter()
            .filter(|s| s.rtype == rtype)
            .cloned()
            .collect()
    }
}

/// Signs the zone with one key of `algorithm` (ldns then signs every RRset, DNSKEY included,
/// with it) and `extra` options of `ldns-signzone` (NSEC3), and reads it back.
fn sign(dir: &Path, tag: &str, algorithm: &str, bits: Option<&str>, extra: &[&str]) -> Signed {
    let zdir = dir.join(tag);
    std::fs::create_dir_all(&zdir).unwrap();
    let unsigned = zdir.join("unsigned.zone");
    std::fs::write(&unsigned, unsigned_zone()).unwrap();
    let mut args = vec!["-a", algorithm];
    if let Some(bits) = bits {
        args.extend(["-b", bits]);
    }
    args.push(ORIGIN);
    let key = run("ldns-keygen", &args, &zdir).trim().to_string();
    let mut args = vec!["-o", ORIGIN, "-f", "signed.zone"];
    args.extend(extra);
    args.extend(["unsigned.zone", key.as_str()]);
    run("ldns-signzone", &args, &zdir);
    let text = std::fs::read_to_string(zdir.join("signed.zone")).unwrap();
    let origin: Name = ORIGIN.parse().unwrap();
    let mut sets: Vec<RrSet> = Vec::new();
    let mut sigs: Vec<(Name, RType, Vec<u8>)> = Vec::new();
    for record in zone::parse_str(&text, Path::new("signed.zone"), origin.as_ref()) {
        let r = record.unwrap_or_else(|e| panic!("{e}"));
        if r.rtype == RType::RRSIG {
            let Ok(RData::Rrsig(sig)) = RData::parse(RType::RRSIG, &r.rdata) else {
                panic!("bad RRSIG");
            };
            sigs.push((r.owner, sig.type_covered, r.rdata));
            continue;
        }
        match sets
            .iter_mut()
            .find(|s| s.rtype == r.rtype && s.owner == r.owner)
        {
            Some(set) => set.rdatas.push(r.rdata),
            None => sets.push(RrSet {
                owner: r.owner,
                rtype: r.rtype,
                class: r.class,
                ttl: r.ttl,
                rdatas: vec![r.rdata],
                sigs: Vec::new(),
            }),
        }
    }
    for (owner, covered, rdata) in sigs {
        if let Some(set) = sets
            .iter_mut()
            .find(|s| s.rtype == covered && s.owner == owner)
        {
            set.sigs.push(rdata);
        }
    }
    Signed { sets }
}

/// An hour from now: `ldns-signzone` makes signatures valid from the second it signs (for four
/// weeks), and the checks must not race that second.
fn validation_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

fn verify(c: &mut Criterion, dir: &Path) {
    let cases = [
        ("8_rsa2048_sha256", "RSASHA256", Some("2048")),
        ("13_ecdsa_p256", "ECDSAP256SHA256", None),
        ("14_ecdsa_p384", "ECDSAP384SHA384", None),
        ("15_ed25519", "ED25519", None),
    ];
    let crypto = RingCrypto::default();
    let now = validation_time();
    let mut group = c.benchmark_group("verify_rrsig");
    let mut keys = Vec::new();
    for (label, algorithm, bits) in cases {
        let zone = sign(dir, label, algorithm, bits, &[]);
        let www = zone.get("www.example.test.", RType::A);
        let dnskey = zone.get(ORIGIN, RType::DNSKEY).rdatas[0].clone();
        let sig = www.sigs[0].clone();
        verify_rrsig(&crypto, www, &sig, &dnskey, now).expect("the signature verifies");
        group.bench_function(label, |b| {
            b.iter(|| verify_rrsig(&crypto, black_box(www), black_box(&sig), &dnskey, now))
        });
        keys.push((label, dnskey));
    }
    group.finish();

    let owner: Name = ORIGIN.parse().unwrap();
    let mut group = c.benchmark_group("ds_digest");
    for (label, dnskey) in &keys {
        if !matches!(*label, "8_rsa2048_sha256" | "13_ecdsa_p256") {
            continue;
        }
        for (digest, name) in [(2, "sha256"), (4, "sha384")] {
            group.bench_function(format!("{label}_{name}"), |b| {
                b.iter(|| ds_digest(owner.as_ref(), black_box(dnskey), digest))
            });
        }
    }
    group.finish();
}

/// The fewest of `records` that still prove `qname` does not exist: each is dropped in turn
/// and kept out when the proof holds without it.
fn minimal_proof(qname: &Name, records: Vec<RrSet>, limits: &Nsec3Limits) -> Vec<RrSet> {
    let zone: Name = ORIGIN.parse().unwrap();
    let proves = |set: &[RrSet]| {
        prove_nxdomain(qname.as_ref(), zone.as_ref(), set, limits) == Ok(Denial::Proven)
    };
    assert!(proves(&records), "the whole chain proves {qname}");
    let mut kept = records;
    let mut i = 0;
    while i < kept.len() {
        let mut without = kept.clone();
        without.remove(i);
        if proves(&without) {
            kept = without;
        } else {
            i += 1;
        }
    }
    kept
}

fn denial(c: &mut Criterion, dir: &Path) {
    let limits = Nsec3Limits::default();
    let zone: Name = ORIGIN.parse().unwrap();
    // Between h04 and h05 in NSEC order; NSEC3 hashes put it anywhere.
    let qname: Name = "h04x.example.test.".parse().unwrap();
    let cases: [(&str, &[&str], RType); 3] = [
        ("nsec", &[], RType::NSEC),
        ("nsec3_0_iterations", &["-n", "-t", "0"], RType::NSEC3),
        (
            "nsec3_10_iterations_salt",
            &["-n", "-t", "10", "-s", "abcdef0123456789"],
            RType::NSEC3,
        ),
    ];
    let mut group = c.benchmark_group("prove_nxdomain");
    for (label, extra, rtype) in cases {
        let signed = sign(dir, label, "ECDSAP256SHA256", None, extra);
        let proof = minimal_proof(&qname, signed.of_type(rtype), &limits);
        eprintln!("{label}: {} records in the proof", proof.len());
        group.bench_function(label, |b| {
            b.iter(|| {
                prove_nxdomain(
                    black_box(qname.as_ref()),
                    zone.as_ref(),
                    black_box(&proof),
                    &limits,
                )
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("portcullis-verify-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scratch = Scratch(dir);
    verify(c, &scratch.0);
    denial(c, &scratch.0);
}

criterion_group!(group, benches);
criterion_main!(group);
