//! The immutable zone snapshot: every name of a zone with its RRsets, laid out for fast lookups.
//!
//! A zone (RFC 1034 section 4.2) is the part of the name tree from its apex down to the zone cuts
//! where other zones take over. Portcullis builds a [`Zone`] once, with
//! [`ZoneBuilder`](crate::ZoneBuilder) (which runs the load-time checks), and never changes it:
//! a reload builds a new one and swaps it in. Queries go through [`Zone::lookup`](crate::Lookup),
//! zone transfers through [`Zone::rrsets`].
//!
//! # Layout
//!
//! Every name of the zone is a *node*, kept in one vector sorted in DNSSEC canonical order
//! (RFC 4034 section 6.1). Empty non-terminals (names that own no records but have descendants
//! that do, RFC 4592 section 2.2.2) are nodes too, so every ancestor of a node, up to the apex, is
//! itself a node. A node is five `u32`s (20 bytes):
//!
//! - the start of its [`CanonicalKey`](wire::CanonicalKey) in the key arena: labels right to
//!   left, lowercased, so that plain byte order is canonical order and an ancestor's key is a
//!   prefix of its descendants' keys;
//! - the start of its owner name in the name arena, in uncompressed wire form with the case it
//!   was loaded with;
//! - the index of its first RRset in the RRset table, sorted by type;
//! - the index of its enclosing zone cut (the topmost delegation point at or above it), if any;
//! - the index of its wildcard child `*.<node>`, if any.
//!
//! Each item ends where the next node's begins (a sentinel node closes the vector), so lengths
//! are not stored. An RRset is 12 bytes: type, record count, TTL and the start of its records in
//! the RDATA arena, where each record is stored as it goes on the wire after the TTL: RDLENGTH
//! (`u16`, big-endian) then the RDATA, uncompressed. Answering copies these bytes. RRSIG records
//! are grouped into one RRset per covered type, as RFC 4034 section 3 and RFC 4035 section 2.2
//! treat them.
//!
//! Lookups by name do not search the keys: a hash table of node indices, keyed by the
//! lowercased owner name (`src/index.rs`), finds a name in one probe. The canonical order
//! serves zone transfers and NSEC proofs of non-existence (`src/denial.rs`).
//!
//! Per record, a zone costs its RDATA plus 2 bytes, plus 12 bytes per RRset and, per
//! name, 20 bytes plus the owner name twice (key and wire form, about its length each), plus
//! 6 to 12 bytes of hash table (1.5 to 3 four-byte slots). A zone of one A record per 20-byte
//! name costs about 84 to 90 bytes per record. `examples/zone-scale.rs` builds a mixed zone of
//! 1,000,000 records (hosts with A, AAAA, MX and TXT, delegations with glue; two records per
//! name) and holds it in 59.9 bytes per record (55.7 without the hash table).

use wire::{Name, NameRef, RType};

use crate::denial::DenialIndex;
use crate::index::NameIndex;

/// Marks a node index that is absent (no enclosing cut, no wildcard child).
pub(crate) const NONE: u32 = u32::MAX;

/// One name of the zone (see the module docs for the layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeEntry {
    pub(crate) key: u32,
    pub(crate) name: u32,
    pub(crate) rrsets: u32,
    pub(crate) cut: u32,
    pub(crate) wildcard: u32,
}

/// One RRset: its records start at `data` in the RDATA arena and end where the next RRset's
/// records start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RRsetEntry {
    pub(crate) rtype: RType,
    pub(crate) count: u16,
    pub(crate) ttl: u32,
    pub(crate) data: u32,
}

// ---------------------------------------------------------------------------------------------
// Zone
// ---------------------------------------------------------------------------------------------

/// An immutable, loaded zone: build it with [`ZoneBuilder`](crate::ZoneBuilder).
#[derive(Debug, Clone)]
pub struct Zone {
    pub(crate) origin: Name,
    /// Nodes in canonical order, then one sentinel holding the arena ends.
    pub(crate) nodes: Vec<NodeEntry>,
    pub(crate) keys: Vec<u8>,
    pub(crate) names: Vec<u8>,
    /// RRsets in node order, then one sentinel holding the RDATA arena's end.
    pub(crate) rrsets: Vec<RRsetEntry>,
    pub(crate) rdata: Vec<u8>,
    /// Index of the apex SOA RRset.
    pub(crate) soa: u32,
    pub(crate) serial: u32,
    pub(crate) soa_minimum: u32,
    pub(crate) records: usize,
    /// Owner names to node indices, for lookups (see [`crate::index`]).
    pub(crate) index: NameIndex,
    /// The NSEC and NSEC3 indexes, for denial proofs (see [`crate::denial`]).
    pub(crate) denial: DenialIndex,
}

impl Zone {
    /// The zone's origin: the name of its apex.
    pub fn origin(&self) -> NameRef<'_> {
        self.origin.as_ref()
    }

    /// The apex node (always the first node).
    pub fn apex(&self) -> Node<'_> {
        Node {
            zone: self,
            index: 0,
        }
    }

    /// The SOA RRset at the apex (there is exactly one SOA record).
    pub fn soa(&self) -> RRset<'_> {
        self.rrset_at(self.soa)
    }

    /// The SOA serial number (RFC 1035 section 3.3.13).
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// The TTL of negative answers: the smaller of the SOA record's TTL and its MINIMUM field
    /// (RFC 2308 section 5). It is also the TTL of the SOA copy put in the authority section.
    pub fn negative_ttl(&self) -> u32 {
        self.soa().ttl().min(self.soa_minimum)
    }

    /// Number of records, duplicates merged.
    pub fn record_count(&self) -> usize {
        self.records
    }

    /// Number of names (nodes), empty non-terminals included.
    pub fn name_count(&self) -> usize {
        self.nodes.len().saturating_sub(1)
    }

    /// Approximate heap bytes held by the snapshot (allocated capacity of its tables).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Zone>()
            + self.nodes.capacity() * size_of::<NodeEntry>()
            + self.keys.capacity()
            + self.names.capacity()
            + self.rrsets.capacity() * size_of::<RRsetEntry>()
            + self.rdata.capacity()
            + self.index.memory_bytes()
            + self.denial.memory_bytes()
    }

    /// The node owning exactly `name`, if the zone has it (an empty non-terminal included).
    /// Zone cuts are ignored: this finds glue below a delegation too, for additional-section
    /// processing (RFC 1034 section 4.3.2 step 6).
    pub fn node(&self, name: NameRef<'_>) -> Option<Node<'_>> {
        let index = self.index.find(self, name.as_wire())?;
        Some(Node { zone: self, index })
    }

    /// All nodes in canonical order, the apex first, empty non-terminals included.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = Node<'_>> + '_ {
        (0..self.name_count() as u32).map(move |index| Node { zone: self, index })
    }

    /// Every RRset with its node, in canonical order of owner names and by type within a
    /// name (for zone transfers; AXFR also wants the SOA repeated at the end, RFC 5936 section 2.2).
    pub fn rrsets(&self) -> impl Iterator<Item = (Node<'_>, RRset<'_>)> + '_ {
        self.nodes()
            .flat_map(|node| node.rrsets().map(move |rrset| (node, rrset)))
    }

    // --- internals -------------------------------------------------------------------------

    /// Number of real nodes (the sentinel excluded).
    pub(crate) fn len(&self) -> u32 {
        self.name_count() as u32
    }

    pub(crate) fn entry(&self, index: u32) -> NodeEntry {
        self.nodes[index as usize]
    }

    /// The canonical key of node `index`.
    pub(crate) fn key(&self, index: u32) -> &[u8] {
        let start = self.nodes[index as usize].key as usize;
        let end = self.nodes[index as usize + 1].key as usize;
        self.keys.get(start..end).unwrap_or_default()
    }

    /// The owner name of node `index` in wire form, as loaded.
    pub(crate) fn owner_wire(&self, index: u32) -> &[u8] {
        let start = self
            .nodes
            .get(index as usize)
            .map_or(0, |n| n.name as usize);
        let end = self
            .nodes
            .get(index as usize + 1)
            .map_or(0, |n| n.name as usize);
        self.names.get(start..end).unwrap_or_default()
    }

    /// Binary search for `key` among all nodes: `Ok(index)` when found, else `Err` of the index
    /// where it would be inserted. Lookups go through the name index instead; tests check the two
    /// agree.
    #[cfg(test)]
    pub(crate) fn search(&self, key: &[u8]) -> Result<u32, u32> {
        self.search_in(key, 0, self.len())
    }

    /// Binary search for `key` among nodes `lo..hi`.
    #[cfg(test)]
    pub(crate) fn search_in(&self, key: &[u8], mut lo: u32, mut hi: u32) -> Result<u32, u32> {
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub(crate) fn rrset_at(&self, index: u32) -> RRset<'_> {
        let e = self.rrsets[index as usize];
        let end = self
            .rrsets
            .get(index as usize + 1)
            .map_or(self.rdata.len(), |n| n.data as usize);
        RRset {
            rtype: e.rtype,
            ttl: e.ttl,
            count: e.count,
            data: self.rdata.get(e.data as usize..end).unwrap_or_default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Node
// ---------------------------------------------------------------------------------------------

/// A name of the zone: its owner name and RRsets. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub(crate) zone: &'a Zone,
    pub(crate) index: u32,
}

impl<'a> Node<'a> {
    /// The owner name, with the case it was loaded with (for an empty non-terminal, the case of
    /// the descendant that brought it into being).
    pub fn owner(&self) -> NameRef<'a> {
        NameRef::from_wire(self.zone.owner_wire(self.index)).unwrap_or(NameRef::ROOT)
    }

    /// The owner name's canonical key bytes (see [`wire::CanonicalKey`]).
    pub fn key(&self) -> &'a [u8] {
        self.zone.key(self.index)
    }

    /// The RRsets, ordered by type (RRSIGs once per covered type).
    pub fn rrsets(&self) -> RRsets<'a> {
        let (start, end) = self.rrset_range();
        RRsets {
            zone: self.zone,
            next: start,
            end,
        }
    }

    /// The RRset of `rtype`, if the node has one. For RRSIG this is the first of the node's
    /// signature RRsets; use [`Node::signatures`] to get those covering one type.
    pub fn rrset(&self, rtype: RType) -> Option<RRset<'a>> {
        let (start, end) = self.rrset_range();
        let slice = self.zone.rrsets.get(start as usize..end as usize)?;
        let at = slice.partition_point(|e| e.rtype < rtype);
        match slice.get(at) {
            Some(e) if e.rtype == rtype => Some(self.zone.rrset_at(start + at as u32)),
            _ => None,
        }
    }

    /// The RRSIG RRset covering `covered` (RFC 4035 section 3.1.1), if any.
    pub fn signatures(&self, covered: RType) -> Option<RRset<'a>> {
        self.rrsets()
            .find(|r| r.rtype() == RType::RRSIG && r.covered() == Some(covered))
    }

    /// Whether the node owns no records (an empty non-terminal, RFC 4592 section 2.2.2).
    pub fn is_empty_non_terminal(&self) -> bool {
        let (start, end) = self.rrset_range();
        start == end
    }

    /// Whether this is the zone apex.
    pub fn is_apex(&self) -> bool {
        self.index == 0
    }

    /// Whether this node is a delegation point: a name below the apex that owns NS records.
    pub fn is_delegation(&self) -> bool {
        self.zone.entry(self.index).cut == self.index
    }

    /// The enclosing zone cut when this node is at or below one (then its data is not
    /// authoritative: the cut's NS RRset, the parent-side DS, or glue).
    pub fn cut(&self) -> Option<Node<'a>> {
        let cut = self.zone.entry(self.index).cut;
        (cut != NONE).then_some(Node {
            zone: self.zone,
            index: cut,
        })
    }

    /// The wildcard child `*.<this node>`, if the zone has one (RFC 4592).
    pub fn wildcard(&self) -> Option<Node<'a>> {
        let w = self.zone.entry(self.index).wildcard;
        (w != NONE).then_some(Node {
            zone: self.zone,
            index: w,
        })
    }

    fn rrset_range(&self) -> (u32, u32) {
        let i = self.index as usize;
        (self.zone.nodes[i].rrsets, self.zone.nodes[i + 1].rrsets)
    }
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::eq(self.zone, other.zone) && self.index == other.index
    }
}

impl Eq for Node<'_> {}

impl core::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Node({})", self.owner())
    }
}

/// Iterator over a node's RRsets, from [`Node::rrsets`].
#[derive(Clone, Debug)]
pub struct RRsets<'a> {
    zone: &'a Zone,
    next: u32,
    end: u32,
}

impl<'a> Iterator for RRsets<'a> {
    type Item = RRset<'a>;

    fn next(&mut self) -> Option<RRset<'a>> {
        if self.next >= self.end {
            return None;
        }
        let r = self.zone.rrset_at(self.next);
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for RRsets<'_> {}

// ---------------------------------------------------------------------------------------------
// RRset
// ---------------------------------------------------------------------------------------------

/// The records of one type at one name, pre-encoded for the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RRset<'a> {
    rtype: RType,
    ttl: u32,
    count: u16,
    data: &'a [u8],
}

impl<'a> RRset<'a> {
    /// The record type.
    pub fn rtype(&self) -> RType {
        self.rtype
    }

    /// The TTL shared by all records (RFC 2181 section 5.2).
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// Number of records (at least 1).
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// The records as stored: for each, RDLENGTH (`u16`, big-endian) then the uncompressed
    /// RDATA, in canonical RDATA order (RFC 4034 section 6.3).
    pub fn encoded(&self) -> &'a [u8] {
        self.data
    }

    /// Each record's RDATA.
    pub fn rdatas(&self) -> Rdatas<'a> {
        Rdatas { rest: self.data }
    }

    /// For an RRSIG RRset, the type its signatures cover.
    pub fn covered(&self) -> Option<RType> {
        if self.rtype != RType::RRSIG {
            return None;
        }
        let first = self.rdatas().next()?;
        Some(RType(u16::from_be_bytes([*first.first()?, *first.get(1)?])))
    }
}

impl core::fmt::Debug for RRset<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RRset({} ttl {} x{})", self.rtype, self.ttl, self.count)
    }
}

/// Iterator over the RDATA of an RRset's records, from [`RRset::rdatas`].
#[derive(Clone, Debug)]
pub struct Rdatas<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Rdatas<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let rdata = rest.get(..len)?;
        self.rest = &rest[len..];
        Some(rdata)
    }
}
