//! Signing keys: generation, the DNSKEY they publish, and signing (RFC 4034 section 2).
//!
//! A zone publishes its public keys in the apex DNSKEY RRset and signs with the private halves.
//! Portcullis generates keys of two algorithms with `ring`:
//!
//! - **13, ECDSA P-256 with SHA-256** (RFC 6605), the default: small keys and signatures
//!   (64 bytes), the algorithm most signed zones use;
//! - **15, Ed25519** (RFC 8080): as small, deterministic signatures.
//!
//! Algorithm **8, RSA/SHA-256** (RFC 5702) keys can be imported from BIND or ldns key files
//! ([`crate::keyfile`]) and signed with, but not generated: `ring` has no RSA key generation.
//!
//! A [`ZoneKey`] is a key pair with its DNSKEY flags: 256 for a zone-signing key (ZSK), 257
//! (the Secure Entry Point bit, RFC 3757) for a key-signing key (KSK) or a combined signing key
//! (CSK), the key a parent's DS record points at.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};
use ring::rsa::{KeyPairComponents, PublicKeyComponents};
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};

use crate::key::key_tag;

/// DNSKEY flags of a zone-signing key: the Zone Key bit.
pub const ZSK_FLAGS: u16 = 256;
/// DNSKEY flags of a key-signing or combined signing key: Zone Key and Secure Entry Point.
pub const KSK_FLAGS: u16 = 257;

/// A signing algorithm Portcullis signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// 8: RSA/SHA-256 (RFC 5702); import only.
    RsaSha256,
    /// 13: ECDSA P-256 with SHA-256 (RFC 6605).
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The IANA algorithm number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::RsaSha256 => 8,
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm of IANA number `n`, when Portcullis signs with it.
    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            8 => Some(Algorithm::RsaSha256),
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }

    /// The mnemonic of the IANA registry, as key files write it.
    pub fn mnemonic(self) -> &'static str {
        match self {
            Algorithm::RsaSha256 => "RSASHA256",
            Algorithm::EcdsaP256Sha256 => "ECDSAP256SHA256",
            Algorithm::Ed25519 => "ED25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.number(), self.mnemonic())
    }
}

/// Why a key could not be made, loaded or used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The algorithm cannot be generated or is not supported.
    Unsupported(String),
    /// The key material is not a valid key of its algorithm.
    Rejected(String),
    /// The random number generator or the signer failed.
    Crypto,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Unsupported(m) => write!(f, "unsupported: {m}"),
            KeyError::Rejected(m) => write!(f, "invalid key: {m}"),
            KeyError::Crypto => f.write_str("the cryptographic library failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The private half, in the form `ring` signs with.
enum Private {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A key pair of one [`Algorithm`], with the private material as key files hold it.
pub struct KeyPair {
    algorithm: Algorithm,
    /// The public key as the DNSKEY RDATA carries it (RFC 6605 section 4, RFC 8080 section 3,
    /// RFC 3110 section 2).
    public_key: Vec<u8>,
    private: Private,
    /// The private material as named fields of a key file (`PrivateKey` for ECDSA and
    /// Ed25519; `Modulus`, `PublicExponent`, ... for RSA), in file order.
    fields: KeyFields,
    rng: SystemRandom,
}

impl fmt::Debug for KeyPair {
    /// Never prints private material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("algorithm", &self.algorithm)
            .field("public_key", &self.public_key.len())
            .finish_non_exhaustive()
    }
}

/// Private key material as named fields of a key file, in file order.
pub type KeyFields = Vec<(String, Vec<u8>)>;

/// The field names of an RSA private key in a key file, in the order they are written.
pub const RSA_FIELDS: [&str; 8] = [
    "Modulus",
    "PublicExponent",
    "PrivateExponent",
    "Prime1",
    "Prime2",
    "Exponent1",
    "Exponent2",
    "Coefficient",
];

/// A P-256 private scalar as the 32 bytes signing needs. BIND and ldns write it as a big
/// number, leaving out leading zero bytes (one key in 256 has one), and may write a longer
/// field with zeros in front; anything else longer than 32 bytes is refused.
fn p256_scalar_padded(d: &[u8]) -> Result<[u8; 32], KeyError> {
    let start = d.iter().position(|&b| b != 0).unwrap_or(d.len());
    let digits = &d[start..];
    if digits.len() > 32 || d.is_empty() {
        return Err(KeyError::Rejected(format!(
            "P-256 private key of {} bytes",
            d.len()
        )));
    }
    let mut scalar = [0u8; 32];
    scalar[32 - digits.len()..].copy_from_slice(digits);
    Ok(scalar)
}

impl KeyPair {
    /// Generates a new key pair. RSA cannot be generated (see the module docs).
    pub fn generate(algorithm: Algorithm) -> Result<KeyPair, KeyError> {
        let rng = SystemRandom::new();
        match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| KeyError::Crypto)?;
                let pair = EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng)
                    .map_err(|e| KeyError::Rejected(e.to_string()))?;
                let private = p256_scalar(doc.as_ref()).ok_or(KeyError::Crypto)?;
                let public = pair.public_key().as_ref().get(1..).unwrap_or_default();
                // Build it again from the raw parts, as a key file will be read back: this
                // proves the scalar was taken from the right place in the PKCS#8 document.
                KeyPair::from_parts(
                    algorithm,
                    public,
                    &[("PrivateKey".to_owned(), private.to_vec())],
                )
            }
            Algorithm::Ed25519 => {
                let mut seed = [0u8; 32];
                rng.fill(&mut seed).map_err(|_| KeyError::Crypto)?;
                let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
                    .map_err(|e| KeyError::Rejected(e.to_string()))?;
                let public = pair.public_key().as_ref().to_vec();
                KeyPair::from_parts(
                    algorithm,
                    &public,
                    &[("PrivateKey".to_owned(), seed.to_vec())],
                )
            }
            Algorithm::RsaSha256 => Err(KeyError::Unsupported(
                "RSA keys cannot be generated; import them from key files".into(),
            )),
        }
    }

    /// A key pair from its DNSKEY public key field and the private fields of its key file.
    pub fn from_parts(
        algorithm: Algorithm,
        public_key: &[u8],
        fields: &[(String, Vec<u8>)],
    ) -> Result<KeyPair, KeyError> {
        let rng = SystemRandom::new();
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice())
                .ok_or_else(|| KeyError::Rejected(format!("no {name} field")))
        };
        let reject = |e: ring::error::KeyRejected| KeyError::Rejected(e.to_string());
        let (private, kept) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let d = p256_scalar_padded(field("PrivateKey")?)?;
                let d = d.as_slice();
                if public_key.len() != 64 {
                    return Err(KeyError::Rejected(
                        "P-256 public key is not 64 bytes".into(),
                    ));
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(public_key);
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    d,
                    &point,
                    &rng,
                )
                .map_err(reject)?;
                (
                    Private::Ecdsa(pair),
                    vec![("PrivateKey".to_owned(), d.to_vec())],
                )
            }
            Algorithm::Ed25519 => {
                let seed = field("PrivateKey")?;
                let pair =
                    Ed25519KeyPair::from_seed_and_public_key(seed, public_key).map_err(reject)?;
                (
                    Private::Ed25519(pair),
                    vec![("PrivateKey".to_owned(), seed.to_vec())],
                )
            }
            Algorithm::RsaSha256 => {
                let mut values = Vec::with_capacity(RSA_FIELDS.len());
                for name in RSA_FIELDS {
                    values.push(field(name)?);
                }
                let [n, e, d, p, q, dp, dq, qinv] = values[..] else {
                    return Err(KeyError::Rejected("RSA fields missing".into()));
                };
                let pair = RsaKeyPair::from_components(&KeyPairComponents {
                    public_key: PublicKeyComponents { n, e },
                    d,
                    p,
                    q,
                    dP: dp,
                    dQ: dq,
                    qInv: qinv,
                })
                .map_err(reject)?;
                if rsa_public_key(e, n) != public_key {
                    return Err(KeyError::Rejected(
                        "the private key does not match the DNSKEY".into(),
                    ));
                }
                let kept = RSA_FIELDS
                    .iter()
                    .zip(&values)
                    .map(|(name, v)| ((*name).to_owned(), v.to_vec()))
                    .collect();
                (Private::Rsa(pair), kept)
            }
        };
        Ok(KeyPair {
            algorithm,
            public_key: public_key.to_vec(),
            private,
            fields: kept,
            rng,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key field of the DNSKEY RDATA.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The private material as key-file fields (see [`crate::keyfile`]). Handle with care.
    pub fn private_fields(&self) -> &[(String, Vec<u8>)] {
        &self.fields
    }

    /// Signs `message` (RFC 6605 section 4: ECDSA signatures are `r | s`, 64 bytes).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.private {
            Private::Ecdsa(pair) => pair
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
            Private::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Private::Rsa(pair) => {
                let mut sig = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(|_| KeyError::Crypto)?;
                Ok(sig)
            }
        }
    }
}

/// The RSA public key in DNSKEY form (RFC 3110 section 2): exponent length, exponent, modulus.
pub fn rsa_public_key(e: &[u8], n: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + e.len() + n.len());
    match u8::try_from(e.len()) {
        Ok(len) if len > 0 => out.push(len),
        _ => {
            out.push(0);
            out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        }
    }
    out.extend_from_slice(e);
    out.extend_from_slice(n);
    out
}

/// The private scalar of a P-256 PKCS#8 document as `ring` writes it: the 32-byte OCTET STRING
/// that follows the ECPrivateKey version (`INTEGER 1`, RFC 5915 section 3).
fn p256_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    const MARK: [u8; 5] = [0x02, 0x01, 0x01, 0x04, 0x20];
    let at = pkcs8.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    pkcs8.get(at..at + 32)
}

/// A key of a zone: a key pair and its DNSKEY flags.
#[derive(Debug)]
pub struct ZoneKey {
    /// The key pair.
    pub pair: KeyPair,
    /// DNSKEY flags: [`ZSK_FLAGS`] or [`KSK_FLAGS`].
    pub flags: u16,
}

impl ZoneKey {
    /// Generates a key: `ksk` sets the Secure Entry Point flag (a KSK or CSK).
    pub fn generate(algorithm: Algorithm, ksk: bool) -> Result<ZoneKey, KeyError> {
        Ok(ZoneKey {
            pair: KeyPair::generate(algorithm)?,
            flags: if ksk { KSK_FLAGS } else { ZSK_FLAGS },
        })
    }

    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key (RFC 4034 section 2.1).
    pub fn dnskey(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.pair.public_key.len());
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.push(3);
        out.push(self.pair.algorithm.number());
        out.extend_from_slice(&self.pair.public_key);
        out
    }

    /// The key tag (RFC 4034 Appendix B).
    pub fn key_tag(&self) -> u16 {
        key_tag(&self.dnskey())
    }

    /// Whether the Secure Entry Point flag is set (a KSK or CSK).
    pub fn is_sep(&self) -> bool {
        self.flags & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    // `RingCrypto` may gain fields; `default()` keeps these tests valid either way.
    #![allow(clippy::default_constructed_unit_structs)]
    use super::*;
    use crate::verify::{Crypto, RingCrypto};

    #[test]
    fn a_p256_scalar_written_without_its_leading_zero_imports() {
        // Keys until one's scalar starts with a zero byte (one in 256; bounded).
        for _ in 0..10_000 {
            let key = KeyPair::generate(Algorithm::EcdsaP256Sha256).unwrap();
            let d = key.private_fields()[0].1.clone();
            assert_eq!(d.len(), 32);
            if d[0] != 0 {
                continue;
            }
            // As BIND and ldns write it: 31 bytes; and with an extra zero in front: 33.
            for field in [d[1..].to_vec(), [&[0u8][..], &d].concat()] {
                let again = KeyPair::from_parts(
                    Algorithm::EcdsaP256Sha256,
                    key.public_key(),
                    &[("PrivateKey".to_owned(), field)],
                )
                .unwrap();
                assert_eq!(again.private_fields()[0].1, d, "kept as 32 bytes");
                let sig = again.sign(b"m").unwrap();
                RingCrypto::default()
                    .verify(13, key.public_key(), b"m", &sig)
                    .unwrap();
            }
            return;
        }
        panic!("no scalar with a leading zero in 10,000 keys");
    }

    #[test]
    fn p256_scalars_longer_than_32_bytes_or_empty_are_refused() {
        assert!(p256_scalar_padded(&[1; 33]).is_err());
        assert!(p256_scalar_padded(&[]).is_err());
        assert_eq!(p256_scalar_padded(&[7]).unwrap()[31], 7);
    }

    #[test]
    fn generated_keys_sign_and_verify() {
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let key = ZoneKey::generate(alg, true).unwrap();
            let sig = key.pair.sign(b"message").unwrap();
            RingCrypto::default()
                .verify(alg.number(), key.pair.public_key(), b"message", &sig)
                .unwrap();
            assert_eq!(key.dnskey()[..4], [1, 1, 3, alg.number()]);
            assert!(key.is_sep());
            // Rebuilt from its file fields, the key signs the same way.
            let again =
                KeyPair::from_parts(alg, key.pair.public_key(), key.pair.private_fields()).unwrap();
            let sig = again.sign(b"m2").unwrap();
            RingCrypto::default()
                .verify(alg.number(), key.pair.public_key(), b"m2", &sig)
                .unwrap();
        }
        assert!(matches!(
            KeyPair::generate(Algorithm::RsaSha256),
            Err(KeyError::Unsupported(_))
        ));
    }

    #[test]
    fn mismatched_parts_are_rejected() {
        let a = KeyPair::generate(Algorithm::EcdsaP256Sha256).unwrap();
        let b = KeyPair::generate(Algorithm::EcdsaP256Sha256).unwrap();
        assert!(
            KeyPair::from_parts(
                Algorithm::EcdsaP256Sha256,
                a.public_key(),
                b.private_fields()
            )
            .is_err()
        );
    }

    #[test]
    fn rsa_exponent_length_forms() {
        assert_eq!(rsa_public_key(&[1, 0, 1], &[9]), vec![3, 1, 0, 1, 9]);
        let long = vec![1; 256];
        let key = rsa_public_key(&long, &[9]);
        assert_eq!(key[..3], [0, 1, 0]);
    }
}
