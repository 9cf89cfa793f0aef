//! One cache entry: its key and its records packed into a single heap block.
//!
//! An entry is written to clients on the hot path, so it is stored the way it is written: one
//! boxed byte blob holding the key, then one or more packed RRsets. A client answer borrows
//! names and RDATA straight out of the blob (no allocation, no decoding beyond walking length
//! prefixes), and the whole entry costs exactly one allocation, which makes its memory easy to
//! account for.
//!
//! Blob layout (all integers big-endian):
//!
//! ```text
//! key          kind (1) | type (2) | lowercased owner name (wire form)
//! set count    1 byte
//! per RRset    owner name (wire form, case as received) | type (2) | class (2)
//!              | rdata count (2) | { length (2) | rdata }...
//!              | rrsig count (2) | { length (2) | rrsig rdata }...
//! ```
//!
//! A data or delegation entry holds one RRset; a negative entry holds the SOA first, then the
//! NSEC/NSEC3 proofs; a failure entry holds none.

use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use wire::{Class, Name, NameRef, RType};

use crate::{RrSet, Time, Trust, Validation};

/// The largest frequency an entry counts to (S3-FIFO uses two bits).
const MAX_FREQ: u8 = 3;

/// One stored entry. See the module docs.
#[derive(Debug)]
pub(crate) struct Entry {
    /// Key, then the packed RRsets.
    blob: Box<[u8]>,
    key_len: u16,
    /// Hash of the key (kept for rehashing and the ghost set).
    pub(crate) hash: u64,
    /// When the data expires.
    pub(crate) expires: Time,
    /// The TTL it was stored with, in seconds (after clamping).
    pub(crate) ttl: u32,
    /// Where the data came from.
    pub(crate) trust: Trust,
    /// What DNSSEC validation said of it.
    pub(crate) validation: Validation,
    /// For failures: the Extended DNS Error code to answer with (0 when none).
    pub(crate) ede: u16,
    /// Hits since it last moved in the eviction queues (saturating at [`MAX_FREQ`]).
    freq: AtomicU8,
    /// Whether a prefetch has been reported for it.
    prefetched: AtomicBool,
}

/// How usable an entry is at some time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Not expired: this many milliseconds remain.
    Fresh(u64),
    /// Expired, but within the serve-stale window that was asked for.
    Stale,
}

impl Entry {
    /// Builds an entry for `key` holding `sets`; `None` when an RRset cannot be packed (an
    /// RDATA over 65,535 bytes, more than 65,535 records or 255 RRsets).
    pub(crate) fn new(
        key: &[u8],
        hash: u64,
        sets: &[&RrSet],
        expires: Time,
        ttl: u32,
        trust: Trust,
        validation: Validation,
    ) -> Option<Entry> {
        let key_len = u16::try_from(key.len()).ok()?;
        let blob = encode(key, sets)?;
        Some(Entry {
            blob,
            key_len,
            hash,
            expires,
            ttl,
            trust,
            validation,
            ede: 0,
            freq: AtomicU8::new(0),
            prefetched: AtomicBool::new(false),
        })
    }

    /// The key bytes.
    pub(crate) fn key(&self) -> &[u8] {
        self.blob.get(..usize::from(self.key_len)).unwrap_or(&[])
    }

    /// The packed RRsets.
    pub(crate) fn sets(&self) -> Sets<'_> {
        let payload = self.blob.get(usize::from(self.key_len)..).unwrap_or(&[]);
        match payload.split_first() {
            Some((&count, rest)) => Sets { rest, left: count },
            None => Sets { rest: &[], left: 0 },
        }
    }

    /// The first packed RRset, if any.
    pub(crate) fn first_set(&self) -> Option<Packed<'_>> {
        self.sets().next()
    }

    /// Heap bytes this entry costs beyond its slot: the blob's allocation as the allocator
    /// rounds it (glibc: 8 bytes of header, 16-byte steps, 32 bytes at least).
    pub(crate) fn heap_cost(&self) -> usize {
        alloc_size(self.blob.len())
    }

    /// Whether and how the entry may be used at `now`; `stale_ms` is the serve-stale window
    /// allowed past expiry, `None` for fresh data only.
    pub(crate) fn freshness(&self, now: Time, stale_ms: Option<u64>) -> Option<Freshness> {
        if now < self.expires {
            Some(Freshness::Fresh(self.expires.millis_since(now)))
        } else {
            match stale_ms {
                Some(window) if now.millis_since(self.expires) < window => Some(Freshness::Stale),
                _ => None,
            }
        }
    }

    /// Whether a hit with `remaining_ms` left falls in the last tenth of the TTL and no
    /// prefetch was reported for this entry yet; marks it reported.
    pub(crate) fn take_prefetch(&self, remaining_ms: u64) -> bool {
        let ttl_ms = u64::from(self.ttl) * 1000;
        ttl_ms > 0
            && remaining_ms.saturating_mul(10) <= ttl_ms
            && !self.prefetched.load(Ordering::Relaxed)
            && !self.prefetched.swap(true, Ordering::Relaxed)
    }

    /// Counts a hit (for eviction); a relaxed load and store, so readers share a lock.
    pub(crate) fn touch(&self) {
        let f = self.freq.load(Ordering::Relaxed);
        if f < MAX_FREQ {
            self.freq.store(f + 1, Ordering::Relaxed);
        }
    }

    /// The hit counter.
    pub(crate) fn freq(&self) -> u8 {
        self.freq.load(Ordering::Relaxed)
    }

    /// Sets the hit counter.
    pub(crate) fn set_freq(&self, freq: u8) {
        self.freq.store(freq, Ordering::Relaxed);
    }
}

/// The size glibc's malloc really uses for a request of `n` bytes.
pub(crate) fn alloc_size(n: usize) -> usize {
    (n + 8).div_ceil(16).max(2) * 16
}

/// Packs `key` and `sets` into one blob of exactly the needed size.
fn encode(key: &[u8], sets: &[&RrSet]) -> Option<Box<[u8]>> {
    let count = u8::try_from(sets.len()).ok()?;
    let mut len = key.len() + 1;
    for set in sets {
        len += set.owner.len() + 8;
        for r in set.rdatas.iter().chain(&set.sigs) {
            u16::try_from(r.len()).ok()?;
            len += 2 + r.len();
        }
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(key);
    out.push(count);
    for set in sets {
        out.extend_from_slice(set.owner.as_wire());
        out.extend_from_slice(&set.rtype.0.to_be_bytes());
        out.extend_from_slice(&set.class.0.to_be_bytes());
        for list in [&set.rdatas, &set.sigs] {
            out.extend_from_slice(&u16::try_from(list.len()).ok()?.to_be_bytes());
            for r in list {
                out.extend_from_slice(&(r.len() as u16).to_be_bytes());
                out.extend_from_slice(r);
            }
        }
    }
    debug_assert_eq!(out.len(), len);
    Some(out.into_boxed_slice())
}

/// The packed RRsets of an entry, in order.
#[derive(Clone, Debug)]
pub(crate) struct Sets<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for Sets<'a> {
    type Item = Packed<'a>;

    fn next(&mut self) -> Option<Packed<'a>> {
        if self.left == 0 {
            return None;
        }
        let (set, rest) = Packed::parse(self.rest)?;
        self.rest = rest;
        self.left -= 1;
        Some(set)
    }
}

/// One packed RRset, borrowed from an entry.
#[derive(Clone, Debug)]
pub(crate) struct Packed<'a> {
    pub(crate) owner: NameRef<'a>,
    pub(crate) rtype: RType,
    pub(crate) class: Class,
    pub(crate) rdatas: Rdatas<'a>,
    pub(crate) sigs: Rdatas<'a>,
}

impl<'a> Packed<'a> {
    fn parse(bytes: &'a [u8]) -> Option<(Packed<'a>, &'a [u8])> {
        let (owner, rest) = NameRef::split_wire(bytes).ok()?;
        let rtype = RType(read_u16(rest, 0)?);
        let class = Class(read_u16(rest, 2)?);
        let (rdatas, rest) = Rdatas::parse(rest.get(4..)?)?;
        let (sigs, rest) = Rdatas::parse(rest)?;
        Some((
            Packed {
                owner,
                rtype,
                class,
                rdatas,
                sigs,
            },
            rest,
        ))
    }

    /// An owned copy with `ttl`.
    pub(crate) fn to_rrset(&self, ttl: u32) -> RrSet {
        RrSet {
            owner: Name::from(self.owner),
            rtype: self.rtype,
            class: self.class,
            ttl,
            rdatas: self.rdatas.clone().map(<[u8]>::to_vec).collect(),
            sigs: self.sigs.clone().map(<[u8]>::to_vec).collect(),
        }
    }
}

/// Length-prefixed RDATAs, borrowed from an entry.
#[derive(Clone, Debug)]
pub(crate) struct Rdatas<'a> {
    rest: &'a [u8],
    left: u16,
}

impl<'a> Rdatas<'a> {
    /// Reads a count and that many length-prefixed RDATAs; returns them and what follows.
    fn parse(bytes: &'a [u8]) -> Option<(Rdatas<'a>, &'a [u8])> {
        let count = read_u16(bytes, 0)?;
        let body = bytes.get(2..)?;
        let mut at = 0;
        for _ in 0..count {
            at += 2 + usize::from(read_u16(body, at)?);
        }
        let (list, rest) = (body.get(..at)?, body.get(at..)?);
        Some((
            Rdatas {
                rest: list,
                left: count,
            },
            rest,
        ))
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a> Iterator for Rdatas<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let len = usize::from(read_u16(self.rest, 0)?);
        let rdata = self.rest.get(2..2 + len)?;
        self.rest = self.rest.get(2 + len..)?;
        self.left -= 1;
        Some(rdata)
    }
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(owner: &str, rtype: RType, rdatas: Vec<Vec<u8>>, sigs: Vec<Vec<u8>>) -> RrSet {
        RrSet {
            owner: owner.parse().unwrap(),
            rtype,
            class: Class::IN,
            ttl: 300,
            rdatas,
            sigs,
        }
    }

    fn round_trip(sets: &[RrSet]) {
        let refs: Vec<&RrSet> = sets.iter().collect();
        let key = b"\x01\x00\x01\x03abc\x00";
        let e = Entry::new(
            key,
            7,
            &refs,
            Time::ZERO,
            300,
            Trust::Answer,
            Validation::Unchecked,
        )
        .unwrap();
        assert_eq!(e.key(), key);
        let back: Vec<RrSet> = e.sets().map(|p| p.to_rrset(300)).collect();
        assert_eq!(back, sets);
        assert!(e.heap_cost() > key.len());
    }

    #[test]
    fn packs_and_unpacks() {
        round_trip(&[set(
            "Www.Example.",
            RType::A,
            vec![vec![192, 0, 2, 1]],
            vec![],
        )]);
        round_trip(&[]);
        round_trip(&[
            set("example.", RType::SOA, vec![vec![0; 22]], vec![vec![1; 30]]),
            set("a.example.", RType::NSEC, vec![vec![], vec![9]], vec![]),
        ]);
    }

    #[test]
    fn refuses_what_cannot_be_packed() {
        let big = set("x.", RType::TXT, vec![vec![0; 70_000]], vec![]);
        assert!(
            Entry::new(
                b"k",
                0,
                &[&big],
                Time::ZERO,
                1,
                Trust::Answer,
                Validation::Unchecked
            )
            .is_none()
        );
    }

    #[test]
    fn allocation_sizes() {
        assert_eq!(alloc_size(0), 32);
        assert_eq!(alloc_size(24), 32);
        assert_eq!(alloc_size(25), 48);
        assert_eq!(alloc_size(100), 112);
    }

    #[test]
    fn prefetch_is_reported_once_in_the_last_tenth() {
        let s = set("a.", RType::A, vec![vec![1, 2, 3, 4]], vec![]);
        let e = Entry::new(
            b"k",
            0,
            &[&s],
            Time::from_millis(100_000),
            100,
            Trust::Answer,
            Validation::Unchecked,
        )
        .unwrap();
        assert!(!e.take_prefetch(50_000));
        assert!(e.take_prefetch(10_000));
        assert!(!e.take_prefetch(5_000));
    }

    #[test]
    fn freshness_and_stale_window() {
        let e = Entry::new(
            b"k",
            0,
            &[],
            Time::from_millis(10_000),
            10,
            Trust::Answer,
            Validation::Unchecked,
        )
        .unwrap();
        assert_eq!(
            e.freshness(Time::from_millis(4_000), None),
            Some(Freshness::Fresh(6_000))
        );
        assert_eq!(e.freshness(Time::from_millis(10_000), None), None);
        assert_eq!(
            e.freshness(Time::from_millis(12_000), Some(5_000)),
            Some(Freshness::Stale)
        );
        assert_eq!(e.freshness(Time::from_millis(15_000), Some(5_000)), None);
    }

    fn arb_set() -> impl Strategy<Value = RrSet> {
        (
            proptest::collection::vec("[a-zA-Z0-9-]{1,20}", 0..5),
            any::<u16>(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..6),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..3),
        )
            .prop_map(|(labels, t, rdatas, sigs)| RrSet {
                owner: Name::from_labels(labels.iter().map(String::as_bytes)).unwrap(),
                rtype: RType(t),
                class: Class::IN,
                ttl: 60,
                rdatas,
                sigs,
            })
    }

    proptest! {
        #[test]
        fn packing_round_trips(sets in proptest::collection::vec(arb_set(), 0..4)) {
            let refs: Vec<&RrSet> = sets.iter().collect();
            let e = Entry::new(b"\x01\x00\x01\x00", 1, &refs, Time::ZERO, 60, Trust::Glue, Validation::Unchecked).unwrap();
            let back: Vec<RrSet> = e.sets().map(|p| p.to_rrset(60)).collect();
            prop_assert_eq!(back, sets);
        }
    }
}
