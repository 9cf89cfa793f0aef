//! The name index: a hash table from owner names to node indices, for lookups without a binary
//! search.
//!
//! Names compare without regard to ASCII case (RFC 4343), so the hash is taken over the
//! lowercased wire form, eight bytes at a time (the length bytes keep the labels apart). An
//! ancestor's wire form is a suffix of the name's, so a lookup that misses hashes suffixes to
//! probe for the closest encloser (RFC 4592 section 3.3.1). Because every ancestor of a node, up
//! to the apex, is itself a node (empty non-terminals included), the ancestors that exist are
//! exactly those down to some depth, and that depth is found by a binary search over the number
//! of labels: at most 7 probes for a name of 127 labels, one or two for a typical name.
//!
//! # Layout
//!
//! Open addressing with linear probing over a power-of-two number of `u32` slots, at least
//! 1.5 slots per name (so at most two thirds full). A slot holds `node + 1` in its low bits
//! (0 marks an empty slot) and, in the bits the node numbers leave free, a tag taken from the
//! name's hash: a probe rejects most other names without reading the node. A tag match is
//! confirmed by comparing the node's owner name. For a zone of 1,000,000 names the table takes
//! 2^21 slots, 8 MiB, and tags have 12 bits.
//!
//! The hash is seeded per zone from the standard library's random hasher keys, so the names of a
//! zone cannot be chosen in advance to fall into one long probe sequence.

use std::hash::{BuildHasher, RandomState};

use wire::name::MAX_LABELS;

use crate::snapshot::Zone;

/// Multiplier of the hash steps (the 64-bit golden ratio, odd).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The hash table from owner names to node indices (see the module docs).
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex {
    /// `node + 1` in the bits of `node_mask`, a hash tag in the others; 0 when empty.
    slots: Vec<u32>,
    node_mask: u32,
    /// log2 of the number of slots.
    bits: u32,
    seed: u64,
    /// Labels in the zone's origin.
    origin_labels: usize,
}

impl NameIndex {
    /// Indexes every node of `zone` (whose node table is complete).
    pub(crate) fn build(zone: &Zone) -> NameIndex {
        let names = zone.len();
        let wanted = (names as u64).saturating_add(names as u64 / 2).max(1);
        let slots = usize::try_from(wanted.next_power_of_two()).unwrap_or(1 << 31);
        let node_bits = u32::BITS - names.leading_zeros();
        let mut index = NameIndex {
            slots: vec![0; slots],
            node_mask: u32::MAX.checked_shr(u32::BITS - node_bits).unwrap_or(0),
            bits: slots.trailing_zeros(),
            seed: RandomState::new().hash_one(0x7a6f_6e65u32),
            origin_labels: zone.origin().label_count(),
        };
        let mask = index.slots.len() - 1;
        for node in 0..names {
            let hash = hash(index.seed, zone.owner_wire(node));
            let value = index.tag(hash) | (node + 1);
            let mut slot = index.slot(hash);
            // Fewer names than slots: an empty slot is always found.
            for _ in 0..index.slots.len() {
                if index.slots[slot] == 0 {
                    index.slots[slot] = value;
                    break;
                }
                slot = (slot + 1) & mask;
            }
        }
        index
    }

    /// Heap bytes held by the table.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<u32>()
    }

    /// Labels in the zone's origin.
    pub(crate) fn origin_labels(&self) -> usize {
        self.origin_labels
    }

    /// The node owning `wire` (an uncompressed wire-form name), if the zone has it.
    pub(crate) fn find(&self, zone: &Zone, wire: &[u8]) -> Option<u32> {
        let hash = hash(self.seed, wire);
        let tag = self.tag(hash);
        let mask = self.slots.len().wrapping_sub(1);
        let mut slot = self.slot(hash);
        for _ in 0..self.slots.len() {
            let value = *self.slots.get(slot)?;
            if value == 0 {
                return None;
            }
            if value & !self.node_mask == tag {
                let node = (value & self.node_mask).wrapping_sub(1);
                if eq_names(zone.owner_wire(node), wire) {
                    return Some(node);
                }
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// For each slot in use, how far it is from the slot its name hashes to: the extra probes a
    /// lookup of that name takes.
    #[cfg(test)]
    pub(crate) fn displacements(&self, zone: &Zone) -> Vec<usize> {
        let mask = self.slots.len() - 1;
        (0..self.slots.len())
            .filter(|&i| self.slots[i] != 0)
            .map(|i| {
                let node = (self.slots[i] & self.node_mask) - 1;
                let home = self.slot(hash(self.seed, zone.owner_wire(node)));
                i.wrapping_sub(home) & mask
            })
            .collect()
    }

    fn slot(&self, hash: u64) -> usize {
        // The high bits of the hash pick the slot, the low bits make the tag.
        hash.checked_shr(u64::BITS - self.bits).unwrap_or(0) as usize
    }

    fn tag(&self, hash: u64) -> u32 {
        hash as u32 & !self.node_mask
    }
}

// ---------------------------------------------------------------------------------------------
// QName
// ---------------------------------------------------------------------------------------------

/// A name split into labels, to find its ancestors. Built on the stack when a lookup misses.
#[derive(Debug)]
pub(crate) struct QName<'a> {
    wire: &'a [u8],
    /// Offset of each label's length byte, left to right.
    starts: [u8; MAX_LABELS],
    labels: usize,
}

impl<'a> QName<'a> {
    /// Splits `wire`, an uncompressed wire-form name.
    pub(crate) fn new(wire: &'a [u8]) -> QName<'a> {
        let mut q = QName {
            wire,
            starts: [0; MAX_LABELS],
            labels: 0,
        };
        let mut pos = 0usize;
        while let Some(&len) = wire.get(pos) {
            if len == 0 || q.labels == MAX_LABELS {
                break;
            }
            q.starts[q.labels] = pos as u8;
            q.labels += 1;
            pos += 1 + usize::from(len);
        }
        q
    }

    /// Number of labels, the root not counted.
    pub(crate) fn labels(&self) -> usize {
        self.labels
    }

    /// The wire form of the ancestor with `depth` labels (the whole name when `depth` is at least
    /// the label count).
    pub(crate) fn suffix(&self, depth: usize) -> &'a [u8] {
        let start = match self.labels.checked_sub(depth) {
            None => 0,
            // The root label: the last byte.
            Some(i) if i == self.labels => self.wire.len().saturating_sub(1),
            Some(i) => usize::from(self.starts[i]),
        };
        self.wire.get(start..).unwrap_or_default()
    }
}

/// The hash of a wire-form name, lowercased.
fn hash(seed: u64, wire: &[u8]) -> u64 {
    let mut h = mix(seed, wire.len() as u64);
    let mut chunks = wire.chunks_exact(8);
    for chunk in &mut chunks {
        h = mix(h, lowercase(load(chunk)));
    }
    if !chunks.remainder().is_empty() {
        h = mix(h, lowercase(last_word(wire)));
    }
    h
}

/// The eight bytes of `chunk`, little-endian.
fn load(chunk: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    u64::from_le_bytes(word)
}

/// The last eight bytes of `wire` (overlapping the previous chunk), or all of it zero-padded
/// when shorter.
fn last_word(wire: &[u8]) -> u64 {
    match wire.len().checked_sub(8) {
        Some(start) => load(&wire[start..]),
        None => wire
            .iter()
            .enumerate()
            .fold(0, |w, (i, &b)| w | u64::from(b) << (8 * i)),
    }
}

/// Whether two wire-form names are equal without regard to ASCII case; eight bytes at a time.
pub(crate) fn eq_names(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    // Query names mostly come lowercased and zone names mostly are, so try the bytes as they are
    // before lowercasing.
    let same = |x: u64, y: u64| x == y || lowercase(x) == lowercase(y);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if !same(load(x), load(y)) {
            return false;
        }
    }
    ca.remainder().is_empty() || same(last_word(a), last_word(b))
}

/// One hash step: a 64 x 64 -> 128-bit multiply folded to 64 bits.
fn mix(h: u64, word: u64) -> u64 {
    let m = u128::from(h ^ word) * u128::from(K);
    (m as u64) ^ ((m >> 64) as u64)
}

/// ASCII-lowercases the eight bytes of `word` at once.
fn lowercase(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = word & !HIGH;
    // A byte's high bit is set when its low seven bits are at least b'A', or above b'Z'.
    let from_a = low + ONES * u64::from(0x80 - b'A');
    let past_z = low + ONES * u64::from(0x80 - b'Z' - 1);
    let upper = from_a & !past_z & !word & HIGH;
    word | (upper >> 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_agrees_with_std_for_every_byte() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                let mut bytes = [b'Q', 0, 0xff, b'a', b'@', b'[', b'Z', b'`'];
                bytes[pos] = b;
                let want = bytes.map(|c| c.to_ascii_lowercase());
                assert_eq!(lowercase(u64::from_le_bytes(bytes)).to_le_bytes(), want);
            }
        }
    }

    #[test]
    fn hash_ignores_case_and_separates_labels() {
        let name = |s: &str| wire::Name::from_text(s.as_bytes(), None).unwrap();
        let h = |s: &str| hash(7, name(s).as_wire());
        assert_eq!(h("WWW.Example.ORG."), h("www.example.org."));
        assert_ne!(h("ab.c."), h("a.bc."));
        assert_ne!(h("a.b."), h("b.a."));
        // Names of every length, short ones included.
        let label = "Ab".repeat(32);
        for len in 1..=63 {
            let text = format!("{}.{}.", &label[..len], &label[len..]);
            assert_eq!(h(&text), h(&text.to_ascii_lowercase()), "{text}");
            let other = format!("{}x.{}.", &label[..len - 1], &label[len..]);
            assert_ne!(h(&text), h(&other), "{other}");
            let short = format!("{}.", &label[..len]);
            assert_eq!(h(&short), h(&short.to_ascii_uppercase()), "{short}");
        }
        assert_ne!(h("."), h("a."));
    }

    #[test]
    fn suffixes_are_ancestors() {
        let name = |s: &str| wire::Name::from_text(s.as_bytes(), None).unwrap();
        let n = name("a.b.c.example.");
        let q = QName::new(n.as_wire());
        assert_eq!(q.labels(), 4);
        assert_eq!(q.suffix(2), name("c.example.").as_wire());
        assert_eq!(q.suffix(4), n.as_wire());
        assert_eq!(q.suffix(9), n.as_wire());
        assert_eq!(q.suffix(0), b"\0");
        assert_eq!(QName::new(b"\0").suffix(0), b"\0");
    }

    #[test]
    fn names_compare_without_case() {
        let a = b"\x0bHello-World\x07EXAMPLE\x00";
        assert!(eq_names(a, b"\x0bhello-world\x07example\x00"));
        assert!(!eq_names(a, b"\x0bhello-worle\x07example\x00"));
        assert!(!eq_names(a, b"\x0bhello-world\x07exampl\x00"));
        assert!(!eq_names(b"\x01[\x00", b"\x01{\x00"));
    }
}
