//! Verification against signatures made by a real signer: a small zone is signed at test time
//! with `ldns-signzone` using keys from `ldns-keygen` for every supported algorithm, then read
//! back with the zone parser and checked RRSIG by RRSIG. DS digests are compared with
//! `ldns-key2ds`. A second zone is signed by BIND's `dnssec-signzone` with a KSK/ZSK split and
//! its DS digests are compared with `dnssec-dsfromkey`. Zones signed with the SHA-1 algorithms
//! 5 and 7 verify only with [`RingCrypto::sha1`] set. The tools come from the `ldnsutils` and
//! `bind9-utils` packages (`scripts/test.sh` installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use cache::RrSet;
use dnssec::{RingCrypto, VerifyError, ds_digest, key_tag, verify_rrsig};
use wire::rdata::RData;
use wire::{Class, Name, RType};

const ALGORITHMS: [(&str, u8); 5] = [
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
];
/// 2026-01-01 00:00:00 UTC and 2036-01-01 00:00:00 UTC, the validity window given to the signer.
const INCEPTION: u64 = 1_767_225_600;
const EXPIRATION: u64 = 2_082_758_400;
const NOW: u64 = 1_900_000_000;

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@       SOA   ns1 hostmaster 1 7200 3600 1209600 300
@       NS    ns1
@       MX    10 MAIL.Example.Test.
ns1     A     192.0.2.1
WWW     A     192.0.2.20
www     A     192.0.2.3
www     TXT   \"Mixed Case Text\"
*.wild  A     192.0.2.9
alias   CNAME WWW.example.test.
";

/// A key made by `ldns-keygen`: its file base name, algorithm and the tag the tool gave it.
struct Key {
    base: PathBuf,
    algorithm: u8,
    tool_tag: u16,
}

struct Fixture {
    keys: Vec<Key>,
    /// DNSKEY RDATAs of the signed zone's apex.
    dnskeys: Vec<Vec<u8>>,
    /// RRsets by (lowercase owner, type), each with the RRSIGs covering it in `sigs`.
    rrsets: RrSets,
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{program}` ({e}): install ldnsutils and bind9-utils \
                 (scripts/test.sh does)"
            )
        });
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh directory under Cargo's temporary directory for integration tests.
fn temp_dir(label: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dnssec-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn apex() -> Name {
    Name::from_text(b"example.test.", None).expect("apex")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = temp_dir("ldns");
        let mut keys = Vec::new();
        for (name, algorithm) in ALGORITHMS {
            let base = run(
                &dir,
                "ldns-keygen",
                &["-a", name, "-b", "2048", "example.test."],
            );
            let base = base.trim().to_owned();
            let tool_tag = base.rsplit('+').next().and_then(|t| t.parse().ok());
            keys.push(Key {
                base: dir.join(&base),
                algorithm,
                tool_tag: tool_tag.expect("key tag in the key file name"),
            });
        }
        std::fs::write(dir.join("zone"), ZONE).expect("write zone");
        let mut args = vec!["-i", "20260101000000", "-e", "20360101000000", "zone"];
        let bases: Vec<String> = keys.iter().map(|k| k.base.display().to_string()).collect();
        args.extend(bases.iter().map(String::as_str));
        run(&dir, "ldns-signzone", &args);

        let (dnskeys, rrsets) = read_signed(&dir.join("zone.signed"));
        Fixture {
            keys,
            dnskeys,
            rrsets,
        }
    })
}

/// RRsets by (lowercase owner, type), each with the RRSIGs covering it in `sigs`.
type RrSets = BTreeMap<(Name, u16), RrSet>;

/// DNSKEY RDATAs and RRsets of a signed zone file.
fn read_signed(path: &Path) -> (Vec<Vec<u8>>, RrSets) {
    let apex = apex();
    let mut rrsets = RrSets::new();
    let mut dnskeys = Vec::new();
    let mut sigs = Vec::new();
    for record in zone::parse_file(path, apex.as_ref()) {
        let record = record.unwrap_or_else(|e| panic!("signed zone: {e}"));
        let mut key = record.owner.clone();
        key.make_lowercase();
        match record.rtype {
            RType::RRSIG => {
                let Ok(RData::Rrsig(s)) = RData::parse(RType::RRSIG, &record.rdata) else {
                    panic!("bad RRSIG {record}");
                };
                sigs.push(((key, s.type_covered.0), record.rdata));
                continue;
            }
            RType::DNSKEY => dnskeys.push(record.rdata.clone()),
            _ => {}
        }
        rrsets
            .entry((key, record.rtype.0))
            .or_insert_with(|| RrSet {
                owner: record.owner.clone(),
                rtype: record.rtype,
                class: record.class,
                ttl: record.ttl,
                rdatas: Vec::new(),
                sigs: Vec::new(),
            })
            .rdatas
            .push(record.rdata);
    }
    for (key, sig) in sigs {
        rrsets
            .get_mut(&key)
            .expect("RRSIG without RRset")
            .sigs
            .push(sig);
    }
    (dnskeys, rrsets)
}

fn rrset(owner: &str, rtype: RType) -> &'static RrSet {
    let mut name = Name::from_text(owner.as_bytes(), None).expect("name");
    name.make_lowercase();
    &fixture().rrsets[&(name, rtype.0)]
}

/// The DNSKEY whose tag and algorithm the RRSIG names.
fn signing_key(rrsig: &[u8]) -> &'static [u8] {
    let Ok(RData::Rrsig(s)) = RData::parse(RType::RRSIG, rrsig) else {
        panic!("bad RRSIG");
    };
    fixture()
        .dnskeys
        .iter()
        .find(|k| key_tag(k) == s.key_tag && k.get(3) == Some(&s.algorithm))
        .expect("no DNSKEY for the RRSIG")
}

fn algorithm(rrsig: &[u8]) -> u8 {
    rrsig[2]
}

#[test]
fn every_rrsig_verifies_for_every_algorithm() {
    let f = fixture();
    assert!(f.rrsets.len() >= 10, "{} RRsets", f.rrsets.len());
    for rrset in f.rrsets.values() {
        let mut algorithms: Vec<u8> = rrset.sigs.iter().map(|s| algorithm(s)).collect();
        algorithms.sort_unstable();
        assert_eq!(
            algorithms,
            [8, 10, 13, 14, 15],
            "{} {}",
            rrset.owner,
            rrset.rtype
        );
        for sig in &rrset.sigs {
            assert_eq!(
                verify_rrsig(&RingCrypto::default(), rrset, sig, signing_key(sig), NOW),
                Ok(()),
                "{} {} algorithm {}",
                rrset.owner,
                rrset.rtype,
                algorithm(sig)
            );
        }
    }
}

#[test]
fn canonical_form_ignores_case_order_duplicates_and_ttl() {
    let www = rrset("www.example.test.", RType::A);
    assert_eq!(www.rdatas.len(), 2);
    let mut shuffled = www.clone();
    shuffled.owner = Name::from_text(b"wWw.EXAMPLE.test.", None).expect("name");
    shuffled.rdatas.reverse();
    shuffled.rdatas.push(shuffled.rdatas[0].clone());
    shuffled.ttl = 17;
    // MX and CNAME were written with uppercase names: the signer lowercased them, we must too.
    let mx = rrset("example.test.", RType::MX);
    let cname = rrset("alias.example.test.", RType::CNAME);
    for set in [&shuffled, mx, cname] {
        for sig in &set.sigs {
            assert_eq!(
                verify_rrsig(&RingCrypto::default(), set, sig, signing_key(sig), NOW),
                Ok(())
            );
        }
    }
}

#[test]
fn wildcard_expansion_verifies_with_the_wildcard_signature() {
    let wild = rrset("*.wild.example.test.", RType::A);
    let mut expanded = wild.clone();
    expanded.owner = Name::from_text(b"a.b.wild.example.test.", None).expect("name");
    for sig in &expanded.sigs {
        assert_eq!(sig[3], 3, "labels field of a wildcard RRSIG");
        assert_eq!(
            verify_rrsig(
                &RingCrypto::default(),
                &expanded,
                sig,
                signing_key(sig),
                NOW
            ),
            Ok(())
        );
    }
}

#[test]
fn tampering_fails() {
    let www = rrset("www.example.test.", RType::A);
    for sig in &www.sigs {
        let key = signing_key(sig);
        let mut changed = www.clone();
        changed.rdatas[0][3] ^= 1;
        assert_eq!(
            verify_rrsig(&RingCrypto::default(), &changed, sig, key, NOW),
            Err(VerifyError::BadSignature),
            "record changed, algorithm {}",
            algorithm(sig)
        );
        let mut bad_sig = sig.clone();
        let last = bad_sig.len() - 1;
        bad_sig[last] ^= 1;
        assert_eq!(
            verify_rrsig(&RingCrypto::default(), www, &bad_sig, key, NOW),
            Err(VerifyError::BadSignature),
            "signature changed, algorithm {}",
            algorithm(sig)
        );
        let mut other_ttl = sig.clone();
        other_ttl[4..8].copy_from_slice(&60u32.to_be_bytes());
        assert_eq!(
            verify_rrsig(&RingCrypto::default(), www, &other_ttl, key, NOW),
            Err(VerifyError::BadSignature)
        );
    }
}

#[test]
fn validity_window_is_enforced() {
    let www = rrset("www.example.test.", RType::A);
    for sig in &www.sigs {
        let key = signing_key(sig);
        let check = |now| verify_rrsig(&RingCrypto::default(), www, sig, key, now);
        assert_eq!(check(INCEPTION), Ok(()));
        assert_eq!(check(EXPIRATION), Ok(()));
        assert_eq!(check(INCEPTION - 1), Err(VerifyError::NotYetValid));
        assert_eq!(check(EXPIRATION + 1), Err(VerifyError::Expired));
    }
}

#[test]
fn mismatches_are_named() {
    let f = fixture();
    let www = rrset("www.example.test.", RType::A);
    let ns = rrset("example.test.", RType::NS);
    let sig = &www.sigs[0];
    let other_key = f
        .dnskeys
        .iter()
        .find(|k| k.get(3) != Some(&algorithm(sig)))
        .expect("another key");
    assert_eq!(
        verify_rrsig(&RingCrypto::default(), www, sig, other_key, NOW),
        Err(VerifyError::KeyMismatch)
    );
    assert_eq!(
        verify_rrsig(
            &RingCrypto::default(),
            www,
            &ns.sigs[0],
            signing_key(&ns.sigs[0]),
            NOW
        ),
        Err(VerifyError::TypeMismatch)
    );
    let mut elsewhere = www.clone();
    elsewhere.owner = Name::from_text(b"www.example.org.", None).expect("name");
    assert_eq!(
        verify_rrsig(
            &RingCrypto::default(),
            &elsewhere,
            sig,
            signing_key(sig),
            NOW
        ),
        Err(VerifyError::SignerMismatch)
    );
    let mut not_zone_key = signing_key(sig).to_vec();
    not_zone_key[0] &= !1;
    assert_eq!(
        verify_rrsig(&RingCrypto::default(), www, sig, &not_zone_key, NOW),
        Err(VerifyError::KeyMismatch)
    );
}

#[test]
fn key_tags_match_the_tool() {
    let f = fixture();
    assert_eq!(f.dnskeys.len(), ALGORITHMS.len());
    for key in &f.keys {
        let found = f
            .dnskeys
            .iter()
            .filter(|k| k.get(3) == Some(&key.algorithm))
            .map(|k| key_tag(k))
            .collect::<Vec<_>>();
        assert_eq!(found, [key.tool_tag], "algorithm {}", key.algorithm);
    }
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn ds_digests_match_the_tool() {
    let f = fixture();
    let apex = apex();
    for key in &f.keys {
        let dnskey = f
            .dnskeys
            .iter()
            .find(|k| k.get(3) == Some(&key.algorithm))
            .expect("DNSKEY");
        let dir = key.base.parent().expect("dir");
        let file = format!("{}.key", key.base.display());
        for (flag, digest_type) in [("-2", 2), ("-4", 4)] {
            let out = run(dir, "ldns-key2ds", &["-n", "-f", flag, &file]);
            // `example.test. 3600 IN DS <tag> <alg> <type> <hex>`
            let fields: Vec<&str> = out.split_whitespace().collect();
            assert_eq!(
                fields.get(6),
                Some(&digest_type.to_string().as_str()),
                "{out}"
            );
            let want = decode_hex(&fields[7..].concat());
            assert_eq!(
                ds_digest(apex.as_ref(), dnskey, digest_type),
                Ok(want),
                "algorithm {} digest {digest_type}",
                key.algorithm
            );
        }
    }
}

#[test]
fn class_is_part_of_the_signed_data() {
    let www = rrset("www.example.test.", RType::A);
    let mut chaos = www.clone();
    chaos.class = Class(3);
    let sig = &www.sigs[0];
    assert_eq!(
        verify_rrsig(&RingCrypto::default(), &chaos, sig, signing_key(sig), NOW),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn bind_signed_zone_verifies_and_ds_matches_dnssec_dsfromkey() {
    let dir = temp_dir("bind");
    let keygen = |extra: &[&str]| {
        let mut args = vec!["-q", "-K", ".", "-a", "RSASHA256", "-b", "2048"];
        args.extend_from_slice(extra);
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
    run(
        &dir,
        "dnssec-signzone",
        &[
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
            "zone",
            &ksk,
            &zsk,
        ],
    );
    let (dnskeys, rrsets) = read_signed(&dir.join("zone.signed"));
    assert_eq!(dnskeys.len(), 2);
    assert!(rrsets.len() >= 10, "{} RRsets", rrsets.len());
    for rrset in rrsets.values() {
        assert!(
            !rrset.sigs.is_empty(),
            "{} {} unsigned",
            rrset.owner,
            rrset.rtype
        );
        for sig in &rrset.sigs {
            let tag = u16::from_be_bytes([sig[16], sig[17]]);
            let key = dnskeys
                .iter()
                .find(|k| key_tag(k) == tag)
                .expect("no DNSKEY for the RRSIG");
            assert_eq!(
                verify_rrsig(&RingCrypto::default(), rrset, sig, key, NOW),
                Ok(()),
                "{} {}",
                rrset.owner,
                rrset.rtype
            );
        }
    }
    // The KSK: its tag is in its file name, and DS digests match dnssec-dsfromkey.
    let ksk_tag: u16 = ksk
        .rsplit('+')
        .next()
        .and_then(|t| t.parse().ok())
        .expect("tag");
    let ksk_rdata = dnskeys
        .iter()
        .find(|k| key_tag(k) == ksk_tag && k[..2] == [1, 1])
        .expect("KSK with the file name's tag");
    let apex = apex();
    for (digest, digest_type) in [("SHA-256", 2), ("SHA-384", 4)] {
        let out = run(
            &dir,
            "dnssec-dsfromkey",
            &["-a", digest, &format!("{ksk}.key")],
        );
        // `example.test. IN DS <tag> <alg> <type> <hex>`
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.get(3), Some(&ksk_tag.to_string().as_str()), "{out}");
        let want = decode_hex(&fields[6..].concat().to_ascii_lowercase());
        assert_eq!(
            ds_digest(apex.as_ref(), ksk_rdata, digest_type),
            Ok(want),
            "{digest}"
        );
    }
}

/// RSA/SHA-1 (algorithm 5, NSEC) and RSASHA1-NSEC3-SHA1 (algorithm 7, NSEC3) zones signed by
/// `ldns-signzone`: they verify only when SHA-1 is allowed, and their SHA-1 DS digests match
/// `ldns-key2ds -1`.
#[test]
fn sha1_algorithms_verify_only_when_allowed() {
    let sha1 = RingCrypto { sha1: true };
    for (alg_name, algorithm) in [("RSASHA1", 5u8), ("RSASHA1-NSEC3-SHA1", 7)] {
        let dir = temp_dir(&format!("sha1-{algorithm}"));
        let base = run(
            &dir,
            "ldns-keygen",
            &["-a", alg_name, "-b", "2048", "example.test."],
        )
        .trim()
        .to_owned();
        std::fs::write(dir.join("zone"), ZONE).expect("write zone");
        let mut args = vec!["-i", "20260101000000", "-e", "20360101000000"];
        if algorithm == 7 {
            args.push("-n");
        }
        args.extend(["zone", base.as_str()]);
        run(&dir, "ldns-signzone", &args);
        let (dnskeys, rrsets) = read_signed(&dir.join("zone.signed"));
        assert_eq!(dnskeys.len(), 1);
        let key = &dnskeys[0];
        assert_eq!(key[3], algorithm);
        let denial = if algorithm == 7 {
            RType::NSEC3
        } else {
            RType::NSEC
        };
        assert!(rrsets.values().any(|s| s.rtype == denial), "{alg_name}");
        for rrset in rrsets.values() {
            assert_eq!(rrset.sigs.len(), 1, "{} {}", rrset.owner, rrset.rtype);
            let sig = &rrset.sigs[0];
            assert_eq!(
                verify_rrsig(&sha1, rrset, sig, key, NOW),
                Ok(()),
                "{alg_name} {} {}",
                rrset.owner,
                rrset.rtype
            );
            assert_eq!(
                verify_rrsig(&RingCrypto::default(), rrset, sig, key, NOW),
                Err(VerifyError::UnsupportedAlgorithm)
            );
        }
        let mut changed = rrsets
            .values()
            .find(|s| s.rtype == RType::A)
            .expect("A")
            .clone();
        changed.rdatas[0][3] ^= 1;
        assert_eq!(
            verify_rrsig(&sha1, &changed, &changed.sigs[0], key, NOW),
            Err(VerifyError::BadSignature)
        );
        let out = run(
            &dir,
            "ldns-key2ds",
            &["-n", "-f", "-1", &format!("{base}.key")],
        );
        let fields: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fields.get(6), Some(&"1"), "{out}");
        assert_eq!(
            ds_digest(apex().as_ref(), key, 1),
            Ok(decode_hex(&fields[7..].concat())),
            "{alg_name}"
        );
    }
}
