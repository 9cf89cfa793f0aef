//! Signature, key tag and DS digest vectors published in the RFCs:
//!
//! - RFC 6605 section 6: ECDSA P-256/SHA-256 (algorithm 13) and P-384/SHA-384 (algorithm 14)
//!   keys, their DS records and a signed A RRset;
//! - RFC 8080 section 6.1: two Ed25519 (algorithm 15) keys with their private keys, DS records
//!   and a signed MX RRset. The RRSIG lines as printed lack the algorithm and labels fields;
//!   verified erratum 4935 restores them (`RRSIG MX 15 2 3600 ...`), and with them the
//!   signatures verify. Ed25519 is deterministic, so the private keys re-create them exactly;
//! - RFC 4034 section 5.4: a SHA-1 DS record of an RSA/SHA-1 key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cache::RrSet;
use dnssec::{
    RingCrypto, VerifyError, canonical_rrset, digest_supported, ds_digest, key_tag, verify_rrsig,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use wire::rdata::RData;
use wire::{Name, RType};

/// The records of a zone-file snippet.
struct Vector {
    dnskey: Vec<u8>,
    ds: Vec<u8>,
    rrset: RrSet,
    rrsig: Vec<u8>,
    zone: Name,
}

fn vector(zone: &str, text: &str) -> Vector {
    let zone = Name::from_text(zone.as_bytes(), None).unwrap();
    // Indented here for reading; in a zone file a leading blank means "same owner".
    let text: String = text
        .lines()
        .map(|l| l.trim_start().to_owned() + "\n")
        .collect();
    let (mut dnskey, mut ds, mut rrsig) = (None, None, None);
    let mut rrset: Option<RrSet> = None;
    for record in zone::parse_str(&text, Path::new("rfc"), zone.as_ref()) {
        let r = record.unwrap_or_else(|e| panic!("{e}"));
        match r.rtype {
            RType::DNSKEY => dnskey = Some(r.rdata),
            RType::DS => ds = Some(r.rdata),
            RType::RRSIG => rrsig = Some(r.rdata),
            _ => match &mut rrset {
                Some(set) => set.rdatas.push(r.rdata),
                None => {
                    rrset = Some(RrSet {
                        owner: r.owner,
                        rtype: r.rtype,
                        class: r.class,
                        ttl: r.ttl,
                        rdatas: vec![r.rdata],
                        sigs: Vec::new(),
                    })
                }
            },
        }
    }
    Vector {
        dnskey: dnskey.expect("DNSKEY"),
        ds: ds.expect("DS"),
        rrset: rrset.expect("RRset"),
        rrsig: rrsig.expect("RRSIG"),
        zone,
    }
}

/// The inception time of the vector's RRSIG, a time it is valid at.
fn inception(rrsig: &[u8]) -> u64 {
    let Ok(RData::Rrsig(sig)) = RData::parse(RType::RRSIG, rrsig) else {
        panic!("RRSIG");
    };
    u64::from(sig.inception)
}

/// Checks the key tag, the DS digest and the signature of a vector, and that a changed record
/// or signature fails.
fn check(v: &Vector, tag: u16) {
    assert_eq!(key_tag(&v.dnskey), tag);
    let Ok(RData::Ds(ds)) = RData::parse(RType::DS, &v.ds) else {
        panic!("DS");
    };
    assert_eq!(ds.key_tag, tag);
    assert!(digest_supported(ds.digest_type, false));
    assert_eq!(
        ds_digest(v.zone.as_ref(), &v.dnskey, ds.digest_type).unwrap(),
        ds.digest
    );
    let crypto = RingCrypto::default();
    let now = inception(&v.rrsig);
    assert_eq!(
        verify_rrsig(&crypto, &v.rrset, &v.rrsig, &v.dnskey, now),
        Ok(())
    );
    let mut changed = v.rrset.clone();
    changed.rdatas[0][0] ^= 1;
    assert_eq!(
        verify_rrsig(&crypto, &changed, &v.rrsig, &v.dnskey, now),
        Err(VerifyError::BadSignature)
    );
    let mut bad = v.rrsig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x40;
    assert_eq!(
        verify_rrsig(&crypto, &v.rrset, &bad, &v.dnskey, now),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn rfc6605_p256() {
    let v = vector(
        "example.net.",
        "example.net. 3600 IN DNSKEY 257 3 13 (
            GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb
            krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA== )
         example.net. 3600 IN DS 55648 13 2 (
            b4c8c1fe2e7477127b27115656ad6256f424625bf5c1
            e2770ce6d6e37df61d17 )
         www.example.net. 3600 IN A 192.0.2.1
         www.example.net. 3600 IN RRSIG A 13 3 3600 (
            20100909100439 20100812100439 55648 example.net.
            qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXA
            yGmt+3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw== )",
    );
    check(&v, 55648);
}

#[test]
fn rfc6605_p384() {
    let v = vector(
        "example.net.",
        "example.net. 3600 IN DNSKEY 257 3 14 (
            xKYaNhWdGOfJ+nPrL8/arkwf2EY3MDJ+SErKivBVSum1
            w/egsXvSADtNJhyem5RCOpgQ6K8X1DRSEkrbYQ+OB+v8
            /uX45NBwY8rp65F6Glur8I/mlVNgF6W/qTI37m40 )
         example.net. 3600 IN DS 10771 14 4 (
            72d7b62976ce06438e9c0bf319013cf801f09ecc84b8
            d7e9495f27e305c6a9b0563a9b5f4d288405c3008a94
            6df983d6 )
         www.example.net. 3600 IN A 192.0.2.1
         www.example.net. 3600 IN RRSIG A 14 3 3600 (
            20100909102025 20100812102025 10771 example.net.
            /L5hDKIvGDyI1fcARX3z65qrmPsVz73QD1Mr5CEqOiLP
            95hxQouuroGCeZOvzFaxsT8Glr74hbavRKayJNuydCuz
            WTSSPdz7wnqXL5bdcJzusdnI0RSMROxxwGipWcJm )",
    );
    check(&v, 10771);
}

/// RFC 8080 section 6.1, with erratum 4935: (private key, DNSKEY, DS, signature, key tag).
const ED25519: [(&str, &str, &str, &str, u16); 2] = [
    (
        "ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=",
        "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
        "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
        3613,
    ),
    (
        "DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=",
        "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
        "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
        "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg==",
        35217,
    ),
];

#[test]
fn rfc8080_ed25519() {
    for (private, public, digest, sig, tag) in ED25519 {
        let v = vector(
            "example.com.",
            &format!(
                "example.com. 3600 IN DNSKEY 257 3 15 {public}
                 example.com. 3600 IN DS {tag} 15 2 {digest}
                 example.com. 3600 IN MX 10 mail.example.com.
                 example.com. 3600 IN RRSIG MX 15 2 3600 (
                    1440021600 1438207200 {tag} example.com. {sig} )"
            ),
        );
        check(&v, tag);

        // The private key gives the published public key and, Ed25519 being deterministic,
        // the published signature over the canonical data.
        let mut seed = Vec::new();
        wire::rdata::decode_base64(private.as_bytes(), &mut seed).unwrap();
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        assert_eq!(pair.public_key().as_ref(), &v.dnskey[4..]);
        let mut message = v.rrsig[..18].to_vec();
        message.extend_from_slice(v.zone.as_wire());
        message.extend_from_slice(&canonical_rrset(&v.rrset, 2, 3600).unwrap());
        let Ok(RData::Rrsig(rrsig)) = RData::parse(RType::RRSIG, &v.rrsig) else {
            panic!("RRSIG");
        };
        assert_eq!(pair.sign(&message).as_ref(), rrsig.signature, "key {tag}");
    }
}

/// As printed before the erratum, the RRSIG's labels field would be the algorithm's place:
/// read with labels 3 (more than the owner has) the record is rejected, not verified.
#[test]
fn rfc8080_without_erratum_fails() {
    let (_, public, digest, sig, tag) = ED25519[0];
    let v = vector(
        "example.com.",
        &format!(
            "example.com. 3600 IN DNSKEY 257 3 15 {public}
             example.com. 3600 IN DS {tag} 15 2 {digest}
             example.com. 3600 IN MX 10 mail.example.com.
             example.com. 3600 IN RRSIG MX 15 3 3600 (
                1440021600 1438207200 {tag} example.com. {sig} )"
        ),
    );
    assert_eq!(
        verify_rrsig(
            &RingCrypto::default(),
            &v.rrset,
            &v.rrsig,
            &v.dnskey,
            1_438_207_200
        ),
        Err(VerifyError::LabelsMismatch)
    );
}

/// RFC 4034 section 5.4: the SHA-1 DS of an RSA/SHA-1 zone-signing key.
#[test]
fn rfc4034_sha1_ds() {
    let owner = Name::from_text(b"dskey.example.com.", None).unwrap();
    let mut dnskey = Vec::new();
    for record in zone::parse_str(
        "dskey.example.com. 86400 IN DNSKEY 256 3 5 (
            AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/
            2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvx
            egXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9Xzc
            nOf+EPbtG9DMBmADjFDc2w/rljwvFw== )",
        Path::new("rfc4034"),
        owner.as_ref(),
    ) {
        dnskey = record.unwrap().rdata;
    }
    assert_eq!(key_tag(&dnskey), 60485);
    let mut want = Vec::new();
    wire::rdata::decode_hex(b"2BB183AF5F22588179A53B0A98631FAD1A292118", &mut want).unwrap();
    assert_eq!(ds_digest(owner.as_ref(), &dnskey, 1), Ok(want));
    assert!(digest_supported(1, true));
    assert!(!digest_supported(1, false));
}
