//! Making one RRSIG (RFC 4034 section 3, RFC 4035 section 2.2).
//!
//! The signature covers the RRSIG RDATA without its signature field (the signer's name in
//! canonical form) followed by the RRset in canonical form ([`crate::canonical`]): owner
//! lowercased, every record with the original TTL, RDATAs with their listed names lowercased,
//! sorted and without duplicates. The labels field counts the owner's labels, not counting a
//! leading `*` (RFC 4034 section 3.1.3), so validators can rebuild a wildcard's owner.

use std::fmt;

use wire::{NameRef, RType};

use crate::canonical::{CanonicalError, canonical_rdata};
use crate::keys::{KeyError, ZoneKey};

/// Why an RRset could not be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// An RDATA is malformed for its type, or too long.
    Canonical(CanonicalError),
    /// The key failed to sign.
    Key(KeyError),
    /// The zone cannot be signed as given (no SOA, a hash collision, ...).
    Zone(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Canonical(e) => write!(f, "cannot sign: {e}"),
            SignError::Key(e) => write!(f, "cannot sign: {e}"),
            SignError::Zone(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SignError {}

impl From<CanonicalError> for SignError {
    fn from(e: CanonicalError) -> Self {
        SignError::Canonical(e)
    }
}

impl From<KeyError> for SignError {
    fn from(e: KeyError) -> Self {
        SignError::Key(e)
    }
}

/// The RRSIG labels field for `owner`: its label count, without a leading wildcard label.
pub fn rrsig_labels(owner: NameRef<'_>) -> u8 {
    let count = owner.label_count();
    let count = if owner.is_wildcard() {
        count.saturating_sub(1)
    } else {
        count
    };
    count.min(255) as u8
}

/// An RRset in canonical form, ready to be signed by any number of keys: the owner's wire form
/// lowercased, then each record's `owner | type | class IN | TTL | RDLENGTH | RDATA`.
#[derive(Clone, Debug)]
pub struct CanonicalRrset {
    rtype: RType,
    ttl: u32,
    labels: u8,
    data: Vec<u8>,
}

impl CanonicalRrset {
    /// Puts the RRset `owner`/`rtype` with `ttl` and `rdatas` (uncompressed) in canonical form.
    pub fn new<'a>(
        owner: NameRef<'_>,
        rtype: RType,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<CanonicalRrset, SignError> {
        let owner_wire = owner.as_wire().to_ascii_lowercase();
        let mut canon = rdatas
            .into_iter()
            .map(|rd| canonical_rdata(rtype, rd))
            .collect::<Result<Vec<_>, _>>()?;
        canon.sort_unstable();
        canon.dedup();
        let size: usize = canon.iter().map(|r| owner_wire.len() + 10 + r.len()).sum();
        let mut data = Vec::with_capacity(size);
        for rd in &canon {
            let len = u16::try_from(rd.len()).map_err(|_| CanonicalError::RdataTooLong)?;
            data.extend_from_slice(&owner_wire);
            data.extend_from_slice(&rtype.0.to_be_bytes());
            data.extend_from_slice(&1u16.to_be_bytes());
            data.extend_from_slice(&ttl.to_be_bytes());
            data.extend_from_slice(&len.to_be_bytes());
            data.extend_from_slice(rd);
        }
        Ok(CanonicalRrset {
            rtype,
            ttl,
            labels: rrsig_labels(owner),
            data,
        })
    }

    /// The canonical bytes (what the signature covers after the RRSIG header).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Signs with `key` for the zone `signer`, valid from `inception` to `expiration` (seconds
    /// since the epoch, written modulo 2^32 as RFC 4034 section 3.1.5 says). Returns the RRSIG
    /// RDATA.
    pub fn sign(
        &self,
        key: &ZoneKey,
        key_tag: u16,
        signer: NameRef<'_>,
        inception: u64,
        expiration: u64,
    ) -> Result<Vec<u8>, SignError> {
        let signer = signer.as_wire().to_ascii_lowercase();
        let mut message = Vec::with_capacity(18 + signer.len() + self.data.len());
        message.extend_from_slice(&self.rtype.0.to_be_bytes());
        message.push(key.pair.algorithm().number());
        message.push(self.labels);
        message.extend_from_slice(&self.ttl.to_be_bytes());
        message.extend_from_slice(&(expiration as u32).to_be_bytes());
        message.extend_from_slice(&(inception as u32).to_be_bytes());
        message.extend_from_slice(&key_tag.to_be_bytes());
        message.extend_from_slice(&signer);
        let header = message.len();
        message.extend_from_slice(&self.data);
        let signature = key.pair.sign(&message)?;
        message.truncate(header);
        message.extend_from_slice(&signature);
        Ok(message)
    }
}

/// Signs one RRset: [`CanonicalRrset::new`] then [`CanonicalRrset::sign`].
#[allow(clippy::too_many_arguments)]
pub fn sign_rrset<'a>(
    key: &ZoneKey,
    signer: NameRef<'_>,
    owner: NameRef<'_>,
    rtype: RType,
    ttl: u32,
    rdatas: impl IntoIterator<Item = &'a [u8]>,
    inception: u64,
    expiration: u64,
) -> Result<Vec<u8>, SignError> {
    CanonicalRrset::new(owner, rtype, ttl, rdatas)?.sign(
        key,
        key.key_tag(),
        signer,
        inception,
        expiration,
    )
}

/// The RRSIG RDATA's expiration field.
pub fn rrsig_expiration(rrsig: &[u8]) -> Option<u32> {
    let b = rrsig.get(8..12)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The RRSIG RDATA's (algorithm, key tag).
pub fn rrsig_key(rrsig: &[u8]) -> Option<(u8, u16)> {
    let alg = *rrsig.get(2)?;
    let tag = rrsig.get(16..18)?;
    Some((alg, u16::from_be_bytes([tag[0], tag[1]])))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    // `RingCrypto` may gain fields; `default()` keeps these tests valid either way.
    #![allow(clippy::default_constructed_unit_structs)]
    use super::*;
    use crate::keys::Algorithm;
    use crate::verify::{RingCrypto, VerifyError, verify_rrsig};
    use cache::RrSet;
    use wire::{Class, Name};

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn signatures_verify() {
        let zone = name("Example.Test.");
        let owner = name("WWW.example.test.");
        let mut mx = vec![0, 10];
        mx.extend_from_slice(name("Mail.Example.Test.").as_wire());
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let key = ZoneKey::generate(alg, false).unwrap();
            let rdatas = [mx.clone(), vec![0, 20, 0]];
            let sig = sign_rrset(
                &key,
                zone.as_ref(),
                owner.as_ref(),
                RType::MX,
                300,
                rdatas.iter().map(Vec::as_slice),
                1000,
                5000,
            )
            .unwrap();
            let rrset = RrSet {
                owner: owner.clone(),
                rtype: RType::MX,
                class: Class::IN,
                ttl: 17,
                rdatas: vec![rdatas[1].clone(), rdatas[0].clone()],
                sigs: Vec::new(),
            };
            let crypto = RingCrypto::default();
            verify_rrsig(&crypto, &rrset, &sig, &key.dnskey(), 2000).unwrap();
            assert_eq!(
                verify_rrsig(&crypto, &rrset, &sig, &key.dnskey(), 6000),
                Err(VerifyError::Expired)
            );
            assert_eq!(rrsig_expiration(&sig), Some(5000));
            assert_eq!(rrsig_key(&sig), Some((alg.number(), key.key_tag())));
        }
    }

    #[test]
    fn wildcard_labels() {
        let key = ZoneKey::generate(Algorithm::EcdsaP256Sha256, false).unwrap();
        let zone = name("example.test.");
        let owner = name("*.w.example.test.");
        assert_eq!(rrsig_labels(owner.as_ref()), 3);
        let sig = sign_rrset(
            &key,
            zone.as_ref(),
            owner.as_ref(),
            RType::A,
            60,
            [&[192, 0, 2, 1][..]],
            0,
            100,
        )
        .unwrap();
        // A validator sees the expanded name and rebuilds the wildcard from the labels field.
        let rrset = RrSet {
            owner: name("x.y.w.example.test."),
            rtype: RType::A,
            class: Class::IN,
            ttl: 60,
            rdatas: vec![vec![192, 0, 2, 1]],
            sigs: Vec::new(),
        };
        verify_rrsig(&RingCrypto::default(), &rrset, &sig, &key.dnskey(), 50).unwrap();
    }
}
