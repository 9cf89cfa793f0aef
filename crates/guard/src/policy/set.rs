//! [`NameSet`]: domain names with exact and below-the-name entries, matched against a wire-form
//! name walked right to left without allocating.
//!
//! Every suffix of the query name (the root, then one more label at a time) is hashed with one
//! running 64-bit FNV-1a over its lowercased labels, started from a random key chosen per set,
//! so the hashes of all suffixes cost one pass over the name's bytes. Each hash is looked up in
//! an open-addressing table (linear probing, at most half full) of 16-byte slots: the entry's
//! 64-bit hash and its two values (one for the name itself, one for the names below it).
//! Suffixes longer than the longest entry or shorter than the shortest are not looked up.
//!
//! Names are identified by their keyed 64-bit hash alone, not stored: a lookup reads one slot
//! (one cache line) whether it hits or misses. Two different names share a hash with
//! probability 2^-64 per comparison, about 10^-13 per lookup in a million-entry set; the key is
//! random per set and process, so nobody can make a name collide with a listed one on purpose.
//! A collision would answer one unlisted name as listed, never the reverse.
//!
//! Memory: one 16-byte slot per entry in a table between a quarter and half full, 32 to 64
//! bytes per entry; `docs/PERFORMANCE.md` has the measured figure for a million entries.

use std::hash::BuildHasher;

use wire::NameRef;

/// No value for this half of an entry.
const NONE: u32 = u32::MAX;
/// FNV-1a 64-bit offset basis and prime.
const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One slot: an entry's hash (0: empty; a real hash of 0 is stored as 1) and its values.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    hash: u64,
    /// Value when the name itself is asked (`NONE`: no exact entry).
    exact: u32,
    /// Value for names strictly below it (`NONE`: no such entry).
    below: u32,
}

/// What a lookup found: the most specific entry that applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The value stored with the entry.
    pub value: u32,
    /// Whether the name itself matched (else an ancestor's below-entry did).
    pub exact: bool,
}

/// A set of names, each with an optional value for the name itself and one for every name
/// below it. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct NameSet {
    slots: Vec<Slot>,
    len: usize,
    min_labels: u8,
    max_labels: u8,
    /// The hash key (FNV's starting state).
    key: u64,
}

impl Default for NameSet {
    fn default() -> NameSet {
        NameSet {
            slots: Vec::new(),
            len: 0,
            min_labels: 0,
            max_labels: 0,
            key: FNV_BASIS ^ std::collections::hash_map::RandomState::new().hash_one(FNV_BASIS),
        }
    }
}

/// The running hash with one more label (read as it is, lowercased on the way).
#[inline]
fn step(mut h: u64, label: &[u8]) -> u64 {
    h = (h ^ label.len() as u64).wrapping_mul(FNV_PRIME);
    for &b in label {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
    }
    h
}

/// The hash as stored (never 0) and its slot spread (the FNV state's low bits are weak).
#[inline]
fn finish(h: u64) -> u64 {
    let mut x = h ^ (h >> 33);
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x.max(1)
}

/// Start offsets of the labels of `wire` (a valid name), left to right, and the number of
/// labels. The root byte's offset follows the last label's.
#[inline]
fn label_offsets(wire: &[u8], offsets: &mut [u8; 128]) -> usize {
    let mut n = 0;
    let mut pos = 0usize;
    while let Some(&len) = wire.get(pos) {
        if len == 0 || n == 127 {
            break;
        }
        offsets[n] = pos as u8;
        n += 1;
        pos += 1 + usize::from(len);
    }
    offsets[n] = pos.min(255) as u8;
    n
}

impl NameSet {
    /// An empty set, with a fresh random key.
    pub fn new() -> NameSet {
        NameSet::default()
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
    }

    /// Sets the value for `name` itself (`below == false`) or for the names below it. A later
    /// insert of the same half replaces the value.
    pub fn insert(&mut self, name: NameRef<'_>, below: bool, value: u32) {
        let wire = name.as_wire();
        let mut offsets = [0u8; 128];
        let n = label_offsets(wire, &mut offsets);
        let mut h = self.key;
        for i in (0..n).rev() {
            let at = usize::from(offsets[i]);
            let len = usize::from(wire[at]);
            h = step(h, &wire[at + 1..at + 1 + len]);
        }
        let hash = finish(h);
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let i = match self.find(hash) {
            Some(i) => i,
            None => {
                self.min_labels = if self.len == 0 {
                    n as u8
                } else {
                    self.min_labels.min(n as u8)
                };
                self.max_labels = self.max_labels.max(n as u8);
                self.len += 1;
                self.place(Slot {
                    hash,
                    exact: NONE,
                    below: NONE,
                })
            }
        };
        let slot = &mut self.slots[i];
        if below {
            slot.below = value;
        } else {
            slot.exact = value;
        }
    }

    /// Doubles the table (at least 16 slots) and places every entry again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        for slot in old {
            if slot.hash != 0 {
                self.place(slot);
            }
        }
    }

    /// Puts `slot` in the first free place of its probe sequence; returns where.
    fn place(&mut self, slot: Slot) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (slot.hash as usize) & mask;
        while self.slots[i].hash != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
        i
    }

    /// The slot holding `hash`.
    #[inline]
    fn find(&self, hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = (hash as usize) & mask;
        loop {
            let h = self.slots[i].hash;
            if h == hash {
                return Some(i);
            }
            if h == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// The most specific entry for `name`: its own exact entry, else the below-entry of its
    /// closest ancestor that has one. No allocation.
    #[inline]
    pub fn lookup(&self, name: NameRef<'_>) -> Option<Found> {
        if self.len == 0 {
            return None;
        }
        let wire = name.as_wire();
        let mut offsets = [0u8; 128];
        let n = label_offsets(wire, &mut offsets);
        let mut best = None;
        let mut h = self.key;
        // Suffix with `k` labels starts at offsets[n - k]; k = 0 is the root.
        let deepest = n.min(usize::from(self.max_labels));
        for k in 0..=deepest {
            if k > 0 {
                let at = usize::from(offsets[n - k]);
                let len = usize::from(wire[at]);
                h = step(h, &wire[at + 1..at + 1 + len]);
            }
            if k < usize::from(self.min_labels) {
                continue;
            }
            let Some(i) = self.find(finish(h)) else {
                continue;
            };
            let s = self.slots[i];
            if k == n && s.exact != NONE {
                return Some(Found {
                    value: s.exact,
                    exact: true,
                });
            }
            if k < n && s.below != NONE {
                best = Some(Found {
                    value: s.below,
                    exact: false,
                });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wire::Name;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn exact_below_and_most_specific() {
        let mut s = NameSet::new();
        s.insert(n("Example.COM.").as_ref(), false, 1);
        s.insert(n("example.com.").as_ref(), true, 2);
        s.insert(n("b.a.example.com.").as_ref(), true, 3);
        s.insert(n("org.").as_ref(), true, 4);
        assert_eq!(s.len(), 3);
        let v = |q: &str| s.lookup(n(q).as_ref()).map(|f| (f.value, f.exact));
        assert_eq!(v("EXAMPLE.com."), Some((1, true)));
        assert_eq!(v("x.example.com."), Some((2, false)));
        assert_eq!(v("b.a.example.com."), Some((2, false)));
        assert_eq!(v("c.b.a.example.com."), Some((3, false)));
        assert_eq!(v("com."), None);
        assert_eq!(v("org."), None);
        assert_eq!(v("a.b.org."), Some((4, false)));
        assert_eq!(v("."), None);
        assert_eq!(v("xexample.com."), None);
    }

    #[test]
    fn many_entries_grow() {
        let mut s = NameSet::new();
        for i in 0..10_000 {
            s.insert(n(&format!("h{i}.example.")).as_ref(), i % 2 == 0, i);
        }
        for i in 0..10_000u32 {
            let q = if i % 2 == 0 {
                format!("x.h{i}.example.")
            } else {
                format!("h{i}.example.")
            };
            assert_eq!(s.lookup(n(&q).as_ref()).unwrap().value, i);
        }
        assert!(s.lookup(n("h10000.example.").as_ref()).is_none());
    }

    #[test]
    fn root_entry_covers_everything() {
        let mut s = NameSet::new();
        s.insert(Name::root().as_ref(), true, 7);
        assert_eq!(s.lookup(n("a.b.").as_ref()).unwrap().value, 7);
        assert!(s.lookup(Name::root().as_ref()).is_none());
    }
}
