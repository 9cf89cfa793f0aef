//! Verifying one RRSIG with one DNSKEY (RFC 4035 section 5.3).
//!
//! [`verify_rrsig`] runs the checks of RFC 4035 section 5.3.1 and then the cryptographic
//! check of section 5.3.3:
//!
//! 1. the RRSIG covers the RRset's type, its signer is the RRset's owner or an ancestor (the
//!    zone the RRset is in), and its labels field is at most the owner's label count;
//! 2. the validity window holds: inception <= now <= expiration, compared in serial number
//!    arithmetic (RFC 4034 section 3.1.5, RFC 1982) so that the 32-bit times wrap in 2106;
//! 3. the DNSKEY is a zone key (flags bit 7), protocol 3, with the RRSIG's algorithm and key
//!    tag;
//! 4. the signature verifies over `RRSIG RDATA without the signature (signer lowercased) |
//!    canonical RRset` ([`crate::canonical`]).
//!
//! The caller must pass a DNSKEY from the signer's apex DNSKEY RRset: the DNSKEY's owner is not
//! part of its RDATA and is not checked here.
//!
//! Cryptography goes through the [`Crypto`] trait; [`RingCrypto`] implements it with `ring`
//! for the algorithms RFC 8624 section 3.1 recommends validators support: 8 (RSA/SHA-256,
//! RFC 5702), 10 (RSA/SHA-512, RFC 5702), 13 and 14 (ECDSA P-256/SHA-256 and P-384/SHA-384,
//! RFC 6605) and 15 (Ed25519, RFC 8080); and, only when asked for, the SHA-1 algorithms 5
//! (RSA/SHA-1, RFC 3110) and 7 (RSASHA1-NSEC3-SHA1, RFC 5155). SHA-1 signatures can be forged
//! with chosen-prefix collisions, RFC 8624 says validators MUST still accept them, and some
//! operating systems' crypto policies already refuse them; so they are a switch, off by default,
//! and [`algorithm_supported`] tells a validator which zones to treat as insecure instead.

use std::fmt;

use cache::RrSet;
use ring::signature;
use wire::RType;
use wire::rdata::{Dnskey, RData, Rrsig};

use crate::canonical::{CanonicalError, canonical_rrset};
use crate::key::key_tag;

/// Why a signature check failed inside a [`Crypto`] implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// The algorithm number is not implemented.
    UnsupportedAlgorithm,
    /// The public key is not valid for the algorithm.
    BadKey,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CryptoError::UnsupportedAlgorithm => "unsupported algorithm",
            CryptoError::BadKey => "malformed public key",
            CryptoError::BadSignature => "signature does not verify",
        })
    }
}

impl std::error::Error for CryptoError {}

/// Signature verification for DNSSEC algorithm numbers (IANA "DNS Security Algorithm Numbers").
pub trait Crypto {
    /// Checks `signature` over `message` with `public_key` in its DNSKEY wire format.
    fn verify(
        &self,
        algorithm: u8,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError>;
}

/// [`Crypto`] on `ring`.
///
/// RSA keys may be 1024 to 8192 bits: 1024-bit zone-signing keys are still deployed, and a
/// validator that refused them would mark those zones bogus.
#[derive(Clone, Copy, Debug, Default)]
pub struct RingCrypto {
    /// Verify algorithms 5 (RSASHA1) and 7 (RSASHA1-NSEC3-SHA1). Off by default: they then
    /// fail with [`CryptoError::UnsupportedAlgorithm`].
    pub sha1: bool,
}

/// Whether [`RingCrypto`] verifies DNSSEC algorithm `alg`: 8, 10, 13, 14 and 15, plus 5 and 7
/// when `sha1` is set. A zone signed only with algorithms outside this set is treated as
/// insecure, not bogus (RFC 4035 section 5.2; RFC 6840 section 5.2).
pub fn algorithm_supported(alg: u8, sha1: bool) -> bool {
    matches!(alg, 8 | 10 | 13 | 14 | 15) || (sha1 && matches!(alg, 5 | 7))
}

/// Splits an RSA public key in DNSKEY format (RFC 3110 section 2) into (exponent, modulus):
/// one length octet, or zero and a 16-bit length, then the exponent, then the modulus.
fn rsa_components(key: &[u8]) -> Result<(&[u8], &[u8]), CryptoError> {
    let (&first, rest) = key.split_first().ok_or(CryptoError::BadKey)?;
    let (len, rest) = if first == 0 {
        let (len, rest) = rest.split_at_checked(2).ok_or(CryptoError::BadKey)?;
        (usize::from(u16::from_be_bytes([len[0], len[1]])), rest)
    } else {
        (usize::from(first), rest)
    };
    let (e, n) = rest.split_at_checked(len).ok_or(CryptoError::BadKey)?;
    if e.is_empty() || n.is_empty() {
        return Err(CryptoError::BadKey);
    }
    Ok((e, n))
}

impl Crypto for RingCrypto {
    fn verify(
        &self,
        algorithm: u8,
        public_key: &[u8],
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        if !algorithm_supported(algorithm, self.sha1) {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        match algorithm {
            5 | 7 | 8 | 10 => {
                let params = match algorithm {
                    8 => &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                    10 => &signature::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
                    _ => &signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                };
                let (e, n) = rsa_components(public_key)?;
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, message, sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
            13 | 14 => {
                // DNSKEY holds x | y (RFC 6605 section 4); ring wants the uncompressed SEC 1
                // point 0x04 | x | y. The signature is r | s, each of fixed width.
                let (params, len) = if algorithm == 13 {
                    (&signature::ECDSA_P256_SHA256_FIXED, 64)
                } else {
                    (&signature::ECDSA_P384_SHA384_FIXED, 96)
                };
                if public_key.len() != len {
                    return Err(CryptoError::BadKey);
                }
                let mut point = Vec::with_capacity(1 + len);
                point.push(4);
                point.extend_from_slice(public_key);
                signature::UnparsedPublicKey::new(params, point)
                    .verify(message, sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
            15 => {
                if public_key.len() != 32 {
                    return Err(CryptoError::BadKey);
                }
                signature::UnparsedPublicKey::new(&signature::ED25519, public_key)
                    .verify(message, sig)
                    .map_err(|_| CryptoError::BadSignature)
            }
            _ => Err(CryptoError::UnsupportedAlgorithm),
        }
    }
}

/// Why an RRSIG does not validate an RRset. Each reason will map to an RFC 8914 extended DNS
/// error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// The RRSIG or DNSKEY RDATA does not parse.
    Malformed,
    /// The RRSIG covers another type than the RRset's.
    TypeMismatch,
    /// The signer is not the owner nor one of its ancestors.
    SignerMismatch,
    /// The labels field exceeds the owner's label count.
    LabelsMismatch,
    /// The expiration time has passed.
    Expired,
    /// The inception time has not come.
    NotYetValid,
    /// The DNSKEY is not a zone key, not protocol 3, or has another algorithm or key tag.
    KeyMismatch,
    /// The algorithm is not implemented.
    UnsupportedAlgorithm,
    /// The public key is not valid for its algorithm.
    BadKey,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::Malformed => "malformed RRSIG or DNSKEY",
            VerifyError::TypeMismatch => "RRSIG covers another type",
            VerifyError::SignerMismatch => "RRSIG signer is not the owner's zone",
            VerifyError::LabelsMismatch => "RRSIG labels exceed the owner's",
            VerifyError::Expired => "signature expired",
            VerifyError::NotYetValid => "signature not yet valid",
            VerifyError::KeyMismatch => "DNSKEY does not match the RRSIG",
            VerifyError::UnsupportedAlgorithm => "unsupported algorithm",
            VerifyError::BadKey => "malformed public key",
            VerifyError::BadSignature => "signature does not verify",
        })
    }
}

impl std::error::Error for VerifyError {}

impl From<CryptoError> for VerifyError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::UnsupportedAlgorithm => VerifyError::UnsupportedAlgorithm,
            CryptoError::BadKey => VerifyError::BadKey,
            CryptoError::BadSignature => VerifyError::BadSignature,
        }
    }
}

/// Whether serial number `a` is at or before `b` (RFC 1982 as used by RFC 4034 section 3.1.5).
fn serial_le(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) >= 0
}

/// Checks that the RRSIG `rrsig_rdata` (uncompressed) made with the DNSKEY `dnskey_rdata`
/// validly signs `rrset` at `now_unix_secs`, verifying with `crypto`.
pub fn verify_rrsig(
    crypto: &dyn Crypto,
    rrset: &RrSet,
    rrsig_rdata: &[u8],
    dnskey_rdata: &[u8],
    now_unix_secs: u64,
) -> Result<(), VerifyError> {
    let Ok(RData::Rrsig(sig)) = RData::parse(RType::RRSIG, rrsig_rdata) else {
        return Err(VerifyError::Malformed);
    };
    let Ok(RData::Dnskey(key)) = RData::parse(RType::DNSKEY, dnskey_rdata) else {
        return Err(VerifyError::Malformed);
    };
    check_fields(rrset, &sig, now_unix_secs)?;
    check_key(&sig, &key, dnskey_rdata)?;

    // The signed data: RRSIG RDATA up to the signer (the signer in canonical form), then the
    // RRset (RFC 4034 section 3.1.8.1).
    let fixed = rrsig_rdata.get(..18).ok_or(VerifyError::Malformed)?;
    let mut message = fixed.to_vec();
    message.extend_from_slice(&sig.signer.as_wire().to_ascii_lowercase());
    let rrset_data = canonical_rrset(rrset, sig.labels, sig.original_ttl).map_err(|e| match e {
        CanonicalError::LabelsExceedOwner => VerifyError::LabelsMismatch,
        CanonicalError::MalformedRdata | CanonicalError::RdataTooLong => VerifyError::Malformed,
    })?;
    message.extend_from_slice(&rrset_data);
    crypto.verify(sig.algorithm, key.public_key, &message, sig.signature)?;
    Ok(())
}

/// RFC 4035 section 5.3.1's checks of the RRSIG against the RRset and the time.
fn check_fields(rrset: &RrSet, sig: &Rrsig<'_>, now_unix_secs: u64) -> Result<(), VerifyError> {
    if sig.type_covered != rrset.rtype {
        return Err(VerifyError::TypeMismatch);
    }
    let owner = rrset.owner.as_ref();
    if !owner.is_subdomain_of(sig.signer) {
        return Err(VerifyError::SignerMismatch);
    }
    if usize::from(sig.labels) > owner.label_count() {
        return Err(VerifyError::LabelsMismatch);
    }
    // Serial arithmetic works modulo 2^32, so only the low 32 bits of the time matter.
    let now = now_unix_secs as u32;
    if !serial_le(now, sig.expiration) {
        return Err(VerifyError::Expired);
    }
    if !serial_le(sig.inception, now) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

/// The DNSKEY must be a zone key of protocol 3 with the RRSIG's algorithm and key tag.
fn check_key(sig: &Rrsig<'_>, key: &Dnskey<'_>, dnskey_rdata: &[u8]) -> Result<(), VerifyError> {
    const ZONE_KEY: u16 = 0x0100;
    if key.flags & ZONE_KEY == 0
        || key.protocol != 3
        || key.algorithm != sig.algorithm
        || key_tag(dnskey_rdata) != sig.key_tag
    {
        return Err(VerifyError::KeyMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_arithmetic_wraps() {
        assert!(serial_le(5, 5));
        assert!(serial_le(5, 6));
        assert!(!serial_le(6, 5));
        // Across the wrap: 0xffff_fff0 is before 0x10.
        assert!(serial_le(0xffff_fff0, 0x10));
        assert!(!serial_le(0x10, 0xffff_fff0));
    }

    #[test]
    fn rsa_key_format() {
        assert_eq!(
            rsa_components(&[1, 3, 0xaa, 0xbb]),
            Ok((&[3][..], &[0xaa, 0xbb][..]))
        );
        assert_eq!(
            rsa_components(&[0, 0, 1, 3, 0xaa]),
            Ok((&[3][..], &[0xaa][..]))
        );
        assert_eq!(rsa_components(&[2, 3]), Err(CryptoError::BadKey));
        assert_eq!(rsa_components(&[]), Err(CryptoError::BadKey));
    }

    #[test]
    fn malformed_rdata_is_named() {
        let rrset = RrSet {
            owner: wire::Name::root(),
            rtype: RType::A,
            class: wire::Class::IN,
            ttl: 0,
            rdatas: Vec::new(),
            sigs: Vec::new(),
        };
        assert_eq!(
            verify_rrsig(
                &RingCrypto::default(),
                &rrset,
                &[0, 1, 8],
                &[1, 0, 3, 8, 1],
                0
            ),
            Err(VerifyError::Malformed)
        );
    }

    #[test]
    fn unknown_algorithm() {
        for alg in [1, 3, 5, 6, 7, 12, 16, 253] {
            assert_eq!(
                RingCrypto::default().verify(alg, &[1, 3, 1], b"m", b"s"),
                Err(CryptoError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        // With SHA-1 allowed, RSASHA1 gets as far as the (bad) key.
        let sha1 = RingCrypto { sha1: true };
        for alg in [5, 7] {
            assert_eq!(
                sha1.verify(alg, &[1, 3, 1], b"m", b"s"),
                Err(CryptoError::BadSignature),
                "{alg}"
            );
        }
    }

    #[test]
    fn supported_algorithms() {
        let on: Vec<u8> = (0..=255)
            .filter(|&a| algorithm_supported(a, false))
            .collect();
        assert_eq!(on, [8, 10, 13, 14, 15]);
        let on: Vec<u8> = (0..=255)
            .filter(|&a| algorithm_supported(a, true))
            .collect();
        assert_eq!(on, [5, 7, 8, 10, 13, 14, 15]);
    }
}
