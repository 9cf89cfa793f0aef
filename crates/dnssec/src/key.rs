//! DNSKEY identification: key tags and DS digests (RFC 4034 sections 5.1.4 and Appendix B).
//!
//! An RRSIG names its signing key by the signer's name, the algorithm and a 16-bit *key tag*,
//! a checksum of the DNSKEY RDATA. Tags are not unique (different keys may collide), so a
//! validator tries every DNSKEY with matching tag and algorithm.
//!
//! A DS record in the parent zone holds a digest of a child DNSKEY: the hash of the DNSKEY's
//! owner name in canonical (lowercase, uncompressed) wire form followed by its RDATA. Digest
//! types 1 (SHA-1, RFC 4034), 2 (SHA-256, RFC 4509) and 4 (SHA-384, RFC 6605) are computed.
//! RFC 8624 section 3.3 forbids SHA-1 for new DS records but still has validators accept it;
//! whether to is the validator's choice ([`digest_supported`]).

use std::fmt;

use ring::digest;
use wire::NameRef;

/// The key tag of a DNSKEY RDATA (RFC 4034 Appendix B): the RDATA summed as big-endian 16-bit
/// words with the carries folded back in. For algorithm 1 (RSA/MD5, Appendix B.1) the tag is
/// instead the third- and second-to-last octets of the public key.
pub fn key_tag(dnskey_rdata: &[u8]) -> u16 {
    if dnskey_rdata.get(3) == Some(&1) {
        let n = dnskey_rdata.len();
        if n >= 7 {
            return u16::from_be_bytes([dnskey_rdata[n - 3], dnskey_rdata[n - 2]]);
        }
    }
    let mut acc: u32 = 0;
    for (i, &b) in dnskey_rdata.iter().enumerate() {
        acc += if i % 2 == 0 {
            u32::from(b) << 8
        } else {
            u32::from(b)
        };
    }
    acc += (acc >> 16) & 0xffff;
    (acc & 0xffff) as u16
}

/// A DS digest type this crate does not compute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestError {
    /// The digest type asked for.
    pub digest_type: u8,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported DS digest type {}", self.digest_type)
    }
}

impl std::error::Error for DigestError {}

/// Whether a validator uses DS records of digest type `digest_type`: 2 (SHA-256) and 4
/// (SHA-384), plus 1 (SHA-1) when `sha1` is set. A DS RRset with only unsupported digests makes
/// the child zone insecure (RFC 4035 section 5.2).
pub fn digest_supported(digest_type: u8, sha1: bool) -> bool {
    matches!(digest_type, 2 | 4) || (sha1 && digest_type == 1)
}

/// The DS digest of the DNSKEY `dnskey_rdata` owned by `owner` (RFC 4034 section 5.1.4):
/// `digest(lowercase owner wire | DNSKEY RDATA)` with digest type 1 (SHA-1), 2 (SHA-256) or 4
/// (SHA-384).
pub fn ds_digest(
    owner: NameRef<'_>,
    dnskey_rdata: &[u8],
    digest_type: u8,
) -> Result<Vec<u8>, DigestError> {
    let algorithm = match digest_type {
        1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        2 => &digest::SHA256,
        4 => &digest::SHA384,
        _ => return Err(DigestError { digest_type }),
    };
    let mut ctx = digest::Context::new(algorithm);
    ctx.update(&owner.as_wire().to_ascii_lowercase());
    ctx.update(dnskey_rdata);
    Ok(ctx.finish().as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_tag_folds_carries() {
        // Sum of words 0xffff + 0x0002 = 0x10001, folded: 0x0002.
        assert_eq!(key_tag(&[0xff, 0xff, 0x00, 0x02]), 0x0002);
        // An odd trailing byte counts as a high byte.
        assert_eq!(
            key_tag(&[0x01, 0x00, 0x03, 0x08, 0x05]),
            0x0100 + 0x0308 + 0x0500
        );
    }

    #[test]
    fn rsamd5_key_tag_comes_from_the_modulus() {
        // Appendix B.1: bits 8..24 of the modulus's least significant 24 bits.
        assert_eq!(key_tag(&[1, 0, 3, 1, 1, 3, 0xab, 0xcd, 0xef]), 0xabcd);
    }

    #[test]
    fn unsupported_digest_type() {
        let root = wire::Name::root();
        for digest_type in [0, 3, 5] {
            assert_eq!(
                ds_digest(root.as_ref(), &[], digest_type),
                Err(DigestError { digest_type })
            );
        }
        let on: Vec<u8> = (0..=255).filter(|&d| digest_supported(d, false)).collect();
        assert_eq!(on, [2, 4]);
        let on: Vec<u8> = (0..=255).filter(|&d| digest_supported(d, true)).collect();
        assert_eq!(on, [1, 2, 4]);
    }
}
