#![allow(clippy::unwrap_used, clippy::expect_used)]
// `RingCrypto` may gain fields; `default()` keeps these tests valid either way.
#![allow(clippy::default_constructed_unit_structs)]

use std::collections::BTreeMap;

use cache::RrSet;
use wire::rdata::{RData, TypeBitmap};
use wire::{Class, Name, RType};

use super::*;
use crate::keys::{Algorithm, ZoneKey};
use crate::sign::rrsig_key;
use crate::verify::{RingCrypto, verify_rrsig};

const NOW: u64 = 1_800_000_000;
const VALIDITY: u32 = 14 * 86_400;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

/// The records of a zone-file text (via the zone parser).
pub(super) fn records(text: &str) -> Vec<ZoneRecord> {
    let origin = name("example.test.");
    zone::parse_str(text, std::path::Path::new("test"), origin.as_ref())
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

pub(super) const ZONE: &str = "$ORIGIN example.test.
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
";

type Sets = BTreeMap<(Vec<u8>, RType), RrSet>;

/// Groups signed records into RRsets, RRSIGs attached to what they cover.
fn rrsets(records: &[ZoneRecord]) -> Sets {
    let mut sets: Sets = BTreeMap::new();
    for r in records {
        let covered = if r.rtype == RType::RRSIG {
            RType(u16::from_be_bytes([r.rdata[0], r.rdata[1]]))
        } else {
            r.rtype
        };
        let key = (
            r.owner.as_ref().canonical_key().as_bytes().to_vec(),
            covered,
        );
        let set = sets.entry(key).or_insert_with(|| RrSet {
            owner: r.owner.clone(),
            rtype: covered,
            class: Class::IN,
            ttl: r.ttl,
            rdatas: Vec::new(),
            sigs: Vec::new(),
        });
        if r.rtype == RType::RRSIG {
            set.sigs.push(r.rdata.clone());
        } else {
            set.rdatas.push(r.rdata.clone());
        }
    }
    sets
}

fn dnskeys(sets: &Sets) -> Vec<Vec<u8>> {
    sets.values()
        .find(|s| s.rtype == RType::DNSKEY)
        .map(|s| s.rdatas.clone())
        .unwrap_or_default()
}

/// Every signature verifies with one of the DNSKEYs.
fn check_all_signatures(sets: &Sets, at: u64) -> usize {
    let keys = dnskeys(sets);
    let mut count = 0;
    for set in sets.values() {
        for sig in &set.sigs {
            let ok = keys
                .iter()
                .any(|k| verify_rrsig(&RingCrypto::default(), set, sig, k, at).is_ok());
            assert!(ok, "{} {}: signature does not verify", set.owner, set.rtype);
            count += 1;
        }
    }
    count
}

fn is_signed(sets: &Sets, owner: &str, rtype: RType) -> bool {
    let key = (
        name(owner).as_ref().canonical_key().as_bytes().to_vec(),
        rtype,
    );
    sets.get(&key).is_some_and(|s| !s.sigs.is_empty())
}

fn csk(alg: Algorithm) -> ZoneKey {
    ZoneKey::generate(alg, true).unwrap()
}

fn use_csk(key: &ZoneKey) -> Vec<KeyUse<'_>> {
    vec![KeyUse {
        key,
        publish: true,
        sign_zone: true,
        sign_keys: true,
        cds: true,
    }]
}

#[test]
fn nsec_zone_signatures_and_chain() {
    let key = csk(Algorithm::EcdsaP256Sha256);
    let params = SignParams::new(NOW, VALIDITY);
    let signed = sign_zone(
        &name("example.test."),
        records(ZONE),
        &use_csk(&key),
        &params,
        None,
    )
    .unwrap();
    let sets = rrsets(&signed.records);
    assert!(check_all_signatures(&sets, NOW) > 10);
    // Authoritative data signed; delegation NS and glue not; DS at a cut signed.
    assert!(is_signed(&sets, "www.example.test.", RType::A));
    assert!(is_signed(&sets, "example.test.", RType::DNSKEY));
    assert!(is_signed(&sets, "example.test.", RType::CDS));
    assert!(is_signed(&sets, "secure.example.test.", RType::DS));
    assert!(!is_signed(&sets, "sub.example.test.", RType::NS));
    assert!(!is_signed(&sets, "ns.sub.example.test.", RType::A));
    assert!(!is_signed(&sets, "ns.secure.example.test.", RType::A));
    // The NSEC chain: every non-occluded name once, in canonical order, closing at the apex.
    let nsecs: Vec<&RrSet> = sets.values().filter(|s| s.rtype == RType::NSEC).collect();
    let owners: Vec<String> = nsecs.iter().map(|s| s.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "example.test.",
            "a.b.c.example.test.",
            "mail.example.test.",
            "ns1.example.test.",
            "secure.example.test.",
            "sub.example.test.",
            "*.wild.example.test.",
            "WWW.example.test.",
        ]
    );
    for (i, set) in nsecs.iter().enumerate() {
        let Ok(RData::Nsec {
            next,
            types: bitmap,
        }) = RData::parse(RType::NSEC, &set.rdatas[0])
        else {
            panic!("bad NSEC");
        };
        let want = nsecs[(i + 1) % nsecs.len()]
            .owner
            .to_string()
            .to_lowercase();
        assert_eq!(next.to_string(), want);
        let types: Vec<RType> = bitmap.iter().collect();
        match set.owner.to_string().as_str() {
            "example.test." => {
                for t in [
                    RType::SOA,
                    RType::NS,
                    RType::DNSKEY,
                    RType::CDS,
                    RType::CDNSKEY,
                ] {
                    assert!(types.contains(&t));
                }
                assert!(types.contains(&RType::RRSIG) && types.contains(&RType::NSEC));
            }
            "sub.example.test." => assert_eq!(types, [RType::NS, RType::RRSIG, RType::NSEC]),
            "secure.example.test." => {
                assert_eq!(types, [RType::NS, RType::DS, RType::RRSIG, RType::NSEC]);
            }
            "WWW.example.test." => {
                assert_eq!(types, [RType::A, RType::TXT, RType::RRSIG, RType::NSEC]);
            }
            _ => {}
        }
        // The NSEC TTL is the SOA's negative TTL (RFC 9077).
        assert_eq!(set.ttl, 300);
    }
    // Times: inception an hour back, expiration within the jitter of the validity.
    for set in sets.values() {
        for sig in &set.sigs {
            let Ok(RData::Rrsig(r)) = RData::parse(RType::RRSIG, sig) else {
                panic!()
            };
            assert_eq!(u64::from(r.inception), NOW - 3600);
            let exp = u64::from(r.expiration);
            assert!(exp <= NOW + u64::from(VALIDITY));
            assert!(exp > NOW + u64::from(VALIDITY - VALIDITY / 10));
        }
    }
}

#[test]
fn nsec3_chain_with_empty_non_terminals() {
    let key = csk(Algorithm::Ed25519);
    for opt_out in [false, true] {
        let mut params = SignParams::new(NOW, VALIDITY);
        params.denial = DenialChain::Nsec3(Nsec3Params {
            opt_out,
            ..Nsec3Params::default()
        });
        let signed = sign_zone(
            &name("example.test."),
            records(ZONE),
            &use_csk(&key),
            &params,
            None,
        )
        .unwrap();
        let sets = rrsets(&signed.records);
        check_all_signatures(&sets, NOW);
        assert!(is_signed(&sets, "example.test.", RType::NSEC3PARAM));
        assert!(!sets.values().any(|s| s.rtype == RType::NSEC));
        let nsec3: Vec<&RrSet> = sets.values().filter(|s| s.rtype == RType::NSEC3).collect();
        let hashed = |owner: &str| {
            let h = crate::nsec3::nsec3_hash(name(owner).as_ref(), &[], 0);
            let mut label = String::new();
            wire::rdata::write_base32hex(&h, &mut label);
            name(&format!("{label}.example.test."))
        };
        let find = |owner: &str| nsec3.iter().find(|s| s.owner == hashed(owner)).copied();
        // Names: apex, ns1, mail, www, a.b.c (+ ENTs b.c and c), *.wild (+ ENT wild), sub,
        // secure; opt-out leaves the insecure `sub` out.
        let want = if opt_out { 10 } else { 11 };
        assert_eq!(nsec3.len(), want);
        for ent in ["c.example.test.", "b.c.example.test.", "wild.example.test."] {
            let set = find(ent).unwrap_or_else(|| panic!("no NSEC3 for {ent}"));
            let Ok(RData::Nsec3(n)) = RData::parse(RType::NSEC3, &set.rdatas[0]) else {
                panic!()
            };
            assert_eq!(n.types.iter().count(), 0);
            assert_eq!(n.flags, u8::from(opt_out));
        }
        assert_eq!(find("sub.example.test.").is_none(), opt_out);
        let apex = find("example.test.").unwrap();
        let Ok(RData::Nsec3(n)) = RData::parse(RType::NSEC3, &apex.rdatas[0]) else {
            panic!()
        };
        let types = TypeBitmap::new(n.types.as_wire()).unwrap();
        assert!(types.contains(RType::NSEC3PARAM) && types.contains(RType::RRSIG));
        assert!(!types.contains(RType::NSEC3));
        // The chain is closed: the next hashes are the owners' hashes rotated by one.
        let mut owners: Vec<Vec<u8>> = Vec::new();
        let mut nexts: Vec<Vec<u8>> = Vec::new();
        for s in &nsec3 {
            let Ok(RData::Nsec3(n)) = RData::parse(RType::NSEC3, &s.rdatas[0]) else {
                panic!()
            };
            let label = &s.owner.as_wire()[1..33];
            let mut h = Vec::new();
            wire::rdata::decode_base32hex(label, &mut h).unwrap();
            owners.push(h);
            nexts.push(n.next_hashed.to_vec());
        }
        owners.sort();
        nexts.sort();
        assert_eq!(owners, nexts);
    }
}

#[test]
fn ksk_zsk_split() {
    let ksk = ZoneKey::generate(Algorithm::EcdsaP256Sha256, true).unwrap();
    let zsk = ZoneKey::generate(Algorithm::EcdsaP256Sha256, false).unwrap();
    let keys = [
        KeyUse {
            key: &ksk,
            publish: true,
            sign_zone: false,
            sign_keys: true,
            cds: false,
        },
        KeyUse {
            key: &zsk,
            publish: true,
            sign_zone: true,
            sign_keys: false,
            cds: false,
        },
    ];
    let signed = sign_zone(
        &name("example.test."),
        records(ZONE),
        &keys,
        &SignParams::new(NOW, VALIDITY),
        None,
    )
    .unwrap();
    let sets = rrsets(&signed.records);
    check_all_signatures(&sets, NOW);
    for set in sets.values().filter(|s| !s.sigs.is_empty()) {
        let want = if set.rtype == RType::DNSKEY {
            ksk.key_tag()
        } else {
            zsk.key_tag()
        };
        for sig in &set.sigs {
            assert_eq!(rrsig_key(sig), Some((13, want)));
        }
    }
    assert!(!sets.values().any(|s| s.rtype == RType::CDS));
    assert_eq!(dnskeys(&sets).len(), 2);
}

#[test]
fn incremental_signing_keeps_fresh_signatures() {
    let key = csk(Algorithm::EcdsaP256Sha256);
    let keys = use_csk(&key);
    let origin = name("example.test.");
    let params = SignParams::new(NOW, VALIDITY);
    let first = sign_zone(&origin, records(ZONE), &keys, &params, None).unwrap();
    assert_eq!(first.reused, 0);
    let total = first.signed;

    // One changed record: its RRset, the SOA and the NSECs whose bitmaps or next names moved
    // are signed again; the rest is kept.
    let changed = ZONE
        .replace("192.0.2.3", "192.0.2.33")
        .replace(" 1 7200", " 2 7200");
    let mut later = params.clone();
    later.now = NOW + 86_400;
    let second = sign_zone(
        &origin,
        records(&changed),
        &keys,
        &later,
        Some(&first.store),
    )
    .unwrap();
    assert_eq!(second.signed, 2, "the A RRset and the SOA");
    assert_eq!(second.reused, total - 2);
    check_all_signatures(&rrsets(&second.records), NOW + 86_400);

    // Past the refresh point every signature is made again.
    let mut much_later = params.clone();
    much_later.now = first.next_refresh + 1;
    let third = sign_zone(
        &origin,
        records(&changed),
        &keys,
        &much_later,
        Some(&second.store),
    )
    .unwrap();
    assert!(third.signed > 0);
    check_all_signatures(&rrsets(&third.records), much_later.now);
    assert!(third.next_refresh > first.next_refresh);

    // A new key signs everything at once; the old key's fresh signatures stay.
    let zsk = ZoneKey::generate(Algorithm::EcdsaP256Sha256, false).unwrap();
    let mut two = keys.clone();
    two.push(KeyUse {
        key: &zsk,
        publish: true,
        sign_zone: true,
        sign_keys: false,
        cds: false,
    });
    let fourth = sign_zone(&origin, records(ZONE), &two, &params, Some(&first.store)).unwrap();
    check_all_signatures(&rrsets(&fourth.records), NOW);
    // The DNSKEY RRset changed (a new key), so it and the apex NSEC... only DNSKEY's content
    // changed: NSEC bitmaps did not.
    assert_eq!(fourth.reused, total - 1);
}

#[test]
fn refuses_zone_without_soa_or_keys() {
    let key = csk(Algorithm::EcdsaP256Sha256);
    let origin = name("example.test.");
    let no_soa = records(ZONE)
        .into_iter()
        .filter(|r| r.rtype != RType::SOA)
        .collect();
    assert!(
        sign_zone(
            &origin,
            no_soa,
            &use_csk(&key),
            &SignParams::new(NOW, 1000),
            None
        )
        .is_err()
    );
    assert!(
        sign_zone(
            &origin,
            records(ZONE),
            &[],
            &SignParams::new(NOW, 1000),
            None
        )
        .is_err()
    );
}

#[test]
fn nsec3_hash_matches_rfc5155_appendix_a() {
    // RFC 5155 Appendix A: salt aabbccdd, 12 iterations; H(example) = 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.
    let h = crate::nsec3::nsec3_hash(name("example.").as_ref(), &[0xaa, 0xbb, 0xcc, 0xdd], 12);
    let mut text = String::new();
    wire::rdata::write_base32hex(&h, &mut text);
    assert_eq!(text, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
}
