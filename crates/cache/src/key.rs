//! Cache keys: what an entry is about, as bytes built on the stack.
//!
//! A key is `[kind, type (2 bytes, big-endian), owner name lowercased in wire form]`, at most
//! [`MAX_KEY_LEN`] bytes. Lowercasing makes lookups case-insensitive (RFC 4343): `WWW.Example.`
//! and `www.example.` find the same entry. The kind keeps apart entries that share a name and a
//! type but mean different things:
//!
//! - [`Kind::Data`]: an RRset learned from an answer (or the authority and additional sections);
//! - [`Kind::Delegation`]: the NS RRset of a zone cut as the parent's referral gave it. It lives
//!   apart from the child's own (authoritative) NS RRset, so the child can never extend the life
//!   of a delegation its parent has withdrawn (the "ghost domain" attack);
//! - [`Kind::NoData`]: the name exists but has no records of the type (RFC 2308 section 2.2);
//! - [`Kind::NxDomain`]: the name does not exist, whatever the type (type 0 in the key);
//! - [`Kind::Failure`]: resolving the name and type failed recently (RFC 9520).

use std::hash::{BuildHasher, RandomState};

use wire::name::MAX_NAME_LEN;
use wire::{NameRef, RType};

/// The longest key: kind, type, name.
pub(crate) const MAX_KEY_LEN: usize = 3 + MAX_NAME_LEN;

/// What an entry holds; the first byte of its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// An RRset.
    Data = 1,
    /// A parent-side NS RRset at a zone cut.
    Delegation = 2,
    /// No records of the type at the name.
    NoData = 3,
    /// No such name (any type).
    NxDomain = 4,
    /// Resolution failed.
    Failure = 5,
}

/// A key built in place, without allocating.
pub(crate) struct KeyBuf {
    buf: [u8; MAX_KEY_LEN],
    len: usize,
}

impl KeyBuf {
    /// The key of (`kind`, `rtype`, `name`); the type is ignored (0) for [`Kind::NxDomain`].
    pub(crate) fn new(kind: Kind, rtype: RType, name: NameRef<'_>) -> KeyBuf {
        let mut buf = [0u8; MAX_KEY_LEN];
        let rtype = if kind == Kind::NxDomain { 0 } else { rtype.0 };
        buf[0] = kind as u8;
        buf[1..3].copy_from_slice(&rtype.to_be_bytes());
        let wire = name.as_wire();
        let len = 3 + wire.len();
        // Length octets are at most 63, below b'A', so lowercasing the whole wire form only
        // touches label bytes.
        for (to, from) in buf[3..len].iter_mut().zip(wire) {
            *to = from.to_ascii_lowercase();
        }
        KeyBuf { buf, len }
    }

    /// The key bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The lowercased owner name inside a key (`None` for bytes that are not a key).
pub(crate) fn key_name(key: &[u8]) -> Option<NameRef<'_>> {
    NameRef::from_wire(key.get(3..)?).ok()
}

/// A keyed hash of keys, seeded at random per cache.
///
/// Clients choose the names, so an unkeyed hash would let them aim many keys at one bucket of
/// the hash table. SipHash (std's default) is keyed but costs more than the rest of a lookup;
/// this is the folded-multiply construction of foldhash and wyhash (each 8-byte word is mixed
/// into the state by a 64x64->128-bit multiply whose halves are XORed), with secret seeds.
#[derive(Clone, Debug)]
pub(crate) struct KeyHasher {
    seeds: [u64; 3],
}

impl KeyHasher {
    /// A hasher with seeds from the operating system's randomness (through std's
    /// `RandomState`, which draws its keys from it).
    pub(crate) fn new() -> KeyHasher {
        let state = RandomState::new();
        KeyHasher {
            seeds: [
                state.hash_one(1u64),
                state.hash_one(2u64) | 1,
                state.hash_one(3u64) | 1,
            ],
        }
    }

    /// The hash of `key`; every bit depends on every byte.
    pub(crate) fn hash(&self, key: &[u8]) -> u64 {
        let [s0, s1, s2] = self.seeds;
        let mut h = s0 ^ key.len() as u64;
        let mut chunks = key.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            h = folded_multiply(h ^ u64::from_le_bytes(word), s1);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            h = folded_multiply(h ^ u64::from_le_bytes(word), s1);
        }
        folded_multiply(h, s2).rotate_left(23)
    }
}

/// The 128-bit product of `a` and `b`, its halves XORed.
fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Name;

    #[test]
    fn keys_ignore_case_and_keep_kinds_apart() {
        let a: Name = "WWW.Example.".parse().unwrap();
        let b: Name = "www.example.".parse().unwrap();
        let ka = KeyBuf::new(Kind::Data, RType::A, a.as_ref());
        let kb = KeyBuf::new(Kind::Data, RType::A, b.as_ref());
        assert_eq!(ka.as_bytes(), kb.as_bytes());
        let kd = KeyBuf::new(Kind::Delegation, RType::A, b.as_ref());
        assert_ne!(ka.as_bytes(), kd.as_bytes());
        let nx1 = KeyBuf::new(Kind::NxDomain, RType::A, b.as_ref());
        let nx2 = KeyBuf::new(Kind::NxDomain, RType::MX, b.as_ref());
        assert_eq!(nx1.as_bytes(), nx2.as_bytes());
        assert_eq!(key_name(ka.as_bytes()).unwrap(), b.as_ref());
        assert_eq!(kd.as_bytes()[0], Kind::Delegation as u8);
    }

    #[test]
    fn hashes_spread_over_shards_and_depend_on_the_seed() {
        let h = KeyHasher::new();
        let mut shards = [0u32; 16];
        let mut low = [0u32; 16];
        for i in 0..16_000 {
            let name: Name = format!("host{i}.example.").parse().unwrap();
            let hash = h.hash(KeyBuf::new(Kind::Data, RType::A, name.as_ref()).as_bytes());
            shards[(hash >> 40) as usize & 15] += 1;
            low[hash as usize & 15] += 1;
        }
        for counts in [shards, low] {
            assert!(
                counts.iter().all(|&n| (800..1200).contains(&n)),
                "{counts:?}"
            );
        }
        let other = KeyHasher::new();
        assert_ne!(h.hash(b"abc"), other.hash(b"abc"));
        assert_ne!(h.hash(b"abc"), h.hash(b"abd"));
        assert_ne!(h.hash(b"abc"), h.hash(b"abc\0"));
    }

    #[test]
    fn longest_name_fits() {
        let label = [b'X'; 63];
        let name = Name::from_labels([&label[..], &label[..], &label[..], &label[..61]]).unwrap();
        assert_eq!(name.len(), 255);
        let k = KeyBuf::new(Kind::Data, RType::A, name.as_ref());
        assert_eq!(k.as_bytes().len(), MAX_KEY_LEN);
        assert!(k.as_bytes()[4..].iter().all(|&b| b != b'X'));
    }
}
