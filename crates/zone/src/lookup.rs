//! The authoritative lookup: what a zone says about one question (RFC 1034 section 4.3.2).
//!
//! [`Zone::lookup`] takes a query name and type and returns a [`Lookup`], the decision the
//! answer stage acts on. The steps, in the order RFC 1034 section 4.3.2 (step 3) takes them,
//! with the refinements of later RFCs:
//!
//! 1. A name outside the zone is [`Lookup::OutOfZone`]: the caller refuses it or looks elsewhere.
//! 2. If the name is at or below a zone cut (a name below the apex that owns NS records) the
//!    zone is not authoritative for it: [`Lookup::Referral`] with the cut's NS RRset. The one
//!    exception is a DS query for the cut itself, answered from the parent side of the cut
//!    (RFC 4035 section 3.1.4.1). A DS query at the apex is not this zone's either (the DS set
//!    lives in the parent); it gets [`Lookup::NoData`].
//! 3. If the name exists (an empty non-terminal counts, RFC 4592 section 2.2.2): the RRset of
//!    the type asked for ([`Lookup::Answer`]); else its CNAME, which the caller follows
//!    ([`Lookup::Cname`], RFC 1034 section 3.6.2); else [`Lookup::NoData`]. A query for type
//!    ANY (or RRSIG, whose RRsets are one per covered type) gets [`Lookup::Any`] and the caller
//!    picks what to send (RFC 8482).
//! 4. Otherwise, find the *closest encloser*, the deepest existing ancestor of the name
//!    (RFC 4592 section 3.3.1). If it owns a DNAME, the name is rewritten ([`Lookup::Dname`],
//!    RFC 6672 section 3.2). If it has a wildcard child `*.<closest encloser>`, that *source of
//!    synthesis* answers as in step 3 with `wildcard: true`, and the caller writes the query name
//!    as the owner (RFC 4592 section 3.3.3). Else [`Lookup::NxDomain`].
//!
//! In a zone signed with NSEC3, a name that owns nothing but NSEC3 records (a hashed owner name)
//! is answered as if it did not exist: [`Lookup::NxDomain`] (RFC 5155 section 7.2.8).
//!
//! A wildcard thus never matches a name that exists, nor a name below an existing one (not even
//! an empty non-terminal), and a query for `*.example` itself is an ordinary exact match.
//!
//! # Cost
//!
//! No heap allocation, and no binary search: the zone's name index (`src/index.rs`), a hash
//! table built with the zone, finds the query name with one hash of its wire form and usually
//! one probe, confirmed by comparing the owner name. When the name is missing, its closest
//! encloser is found by probing ancestors (a binary search over the number of labels, since
//! empty non-terminals make every ancestor of a node a node): none for a name one label below
//! the apex, one for two labels. Zone cuts and wildcard children were resolved at build time.
//! On a zone of 10,000 names an exact hit costs about 450 instructions; at 1,000,000 names it
//! is dominated by three or four cache misses (the index slot, the node, its owner name and its
//! RRsets), where the binary search over canonical keys it replaced took about twenty.
//! `benches/lookup.rs` measures each outcome; docs/PERFORMANCE.md has the figures.

use wire::{NameRef, RType};

use crate::index::{QName, eq_names};
use crate::snapshot::{NONE, Node, RRset, Zone};

/// What a zone says about one question; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The RRset asked for. With `wildcard`, `node` is the wildcard (`*.…`) that synthesised it
    /// and the answer's owner must be the query name.
    Answer {
        /// The node owning the RRset.
        node: Node<'a>,
        /// The RRset of the type asked for.
        rrset: RRset<'a>,
        /// Whether the answer is synthesised from a wildcard.
        wildcard: bool,
    },
    /// The name is an alias: answer with its CNAME and follow the target.
    Cname {
        /// The node owning the CNAME (a wildcard node when `wildcard`).
        node: Node<'a>,
        /// The CNAME RRset (one record).
        rrset: RRset<'a>,
        /// Whether the CNAME is synthesised from a wildcard.
        wildcard: bool,
    },
    /// A query of type ANY or RRSIG at a name with records: iterate [`Node::rrsets`].
    Any {
        /// The node (a wildcard node when `wildcard`).
        node: Node<'a>,
        /// Whether the name is matched by a wildcard.
        wildcard: bool,
    },
    /// The name exists but has no RRset of that type.
    NoData {
        /// The node (a wildcard node when `wildcard`, the cut for a DS query at a cut).
        node: Node<'a>,
        /// Whether the name is matched by a wildcard.
        wildcard: bool,
    },
    /// The name is at or below a zone cut: refer the client to the child zone's servers.
    Referral {
        /// The delegation point.
        cut: Node<'a>,
        /// Its NS RRset (to put in the authority section, with glue from [`Zone::node`]).
        ns: RRset<'a>,
    },
    /// The name lies strictly below a DNAME owner: substitute its suffix (RFC 6672).
    Dname {
        /// The node owning the DNAME.
        node: Node<'a>,
        /// The DNAME RRset (one record).
        rrset: RRset<'a>,
    },
    /// The name does not exist.
    NxDomain {
        /// The deepest existing ancestor of the name (for NSEC proofs, RFC 4035 section 3.1.3.2).
        closest_encloser: Node<'a>,
    },
    /// The name is not at or below the zone's origin.
    OutOfZone,
}

impl Zone {
    /// Looks up `qname` and `qtype` (see the [module docs](self)).
    pub fn lookup(&self, qname: NameRef<'_>, qtype: RType) -> Lookup<'_> {
        // Every node is in the zone, so a name found needs no further check.
        if let Some(index) = self.index.find(self, qname.as_wire()) {
            return self.at_name(index, qtype);
        }
        let q = QName::new(qname.as_wire());
        let origin = self.index.origin_labels();
        if q.labels() < origin || !eq_names(q.suffix(origin), self.origin.as_wire()) {
            return Lookup::OutOfZone;
        }
        // The closest encloser: ancestors exist down to some depth (the apex, at `origin`
        // labels, always does), so binary search on the number of labels.
        let (mut exists, mut missing, mut encloser) = (origin, q.labels(), 0);
        while missing - exists > 1 {
            let depth = exists + (missing - exists) / 2;
            match self.index.find(self, q.suffix(depth)) {
                Some(index) => (exists, encloser) = (depth, index),
                None => missing = depth,
            }
        }
        self.below(encloser, qtype)
    }

    /// The same answer as [`Zone::lookup`], found by binary searches over the canonical keys
    /// instead of the name index: the reference the index is tested against.
    #[cfg(test)]
    pub(crate) fn lookup_by_search(&self, qname: NameRef<'_>, qtype: RType) -> Lookup<'_> {
        let key = qname.canonical_key();
        let key = key.as_bytes();
        if !key.starts_with(self.key(0)) {
            return Lookup::OutOfZone;
        }
        let at = match self.search(key) {
            Ok(index) => return self.at_name(index, qtype),
            Err(at) => at,
        };
        // The apex (index 0) sorts before every name below it, so `at` is at least 1.
        let before = at.saturating_sub(1);
        let before_key = self.key(before);
        let encloser = if key.starts_with(before_key) {
            before
        } else {
            let common = key
                .iter()
                .zip(before_key)
                .take_while(|(a, b)| a == b)
                .count();
            // Keys separate labels with 0x00, a byte that appears nowhere else.
            let len = key[..common]
                .iter()
                .rposition(|&c| c == 0)
                .map_or(0, |i| i + 1);
            self.search_in(&key[..len], 0, before).unwrap_or(0)
        };
        self.below(encloser, qtype)
    }

    /// The name exists as node `index`.
    fn at_name(&self, index: u32, qtype: RType) -> Lookup<'_> {
        let node = Node { zone: self, index };
        let cut = self.entry(index).cut;
        if cut != NONE {
            if cut == index && qtype == RType::DS {
                // The parent side of the cut (RFC 4035 section 3.1.4.1).
                return match node.rrset(RType::DS) {
                    Some(rrset) => Lookup::Answer {
                        node,
                        rrset,
                        wildcard: false,
                    },
                    None => Lookup::NoData {
                        node,
                        wildcard: false,
                    },
                };
            }
            return self.referral(cut);
        }
        if self.denial.is_nsec3() && self.is_nsec3_owner_only(index) {
            // RFC 5155 section 7.2.8: a name owning nothing but NSEC3 records is answered as if
            // it did not exist, since the NSEC3 chain itself denies it.
            let parent = node
                .owner()
                .parent()
                .and_then(|p| self.index.find(self, p.as_wire()))
                .unwrap_or(0);
            return Lookup::NxDomain {
                closest_encloser: Node {
                    zone: self,
                    index: parent,
                },
            };
        }
        if qtype == RType::DS && node.is_apex() {
            return Lookup::NoData {
                node,
                wildcard: false,
            };
        }
        from_node(node, qtype, false)
    }

    /// Whether node `index` owns only NSEC3 records and their signatures, and has no
    /// descendants: an NSEC3 owner name.
    fn is_nsec3_owner_only(&self, index: u32) -> bool {
        let node = Node { zone: self, index };
        let only_nsec3 = !node.is_empty_non_terminal()
            && node
                .rrsets()
                .all(|r| r.rtype() == RType::NSEC3 || r.covered() == Some(RType::NSEC3));
        // Descendants follow a node in canonical order, their keys starting with its key.
        let has_descendants =
            index + 1 < self.len() && self.key(index + 1).starts_with(self.key(index));
        only_nsec3 && !has_descendants
    }

    /// The name does not exist; node `encloser` is its closest encloser.
    fn below(&self, encloser: u32, qtype: RType) -> Lookup<'_> {
        let entry = self.entry(encloser);
        if entry.cut != NONE {
            return self.referral(entry.cut);
        }
        let node = Node {
            zone: self,
            index: encloser,
        };
        if let Some(rrset) = node.rrset(RType::DNAME) {
            return Lookup::Dname { node, rrset };
        }
        if entry.wildcard != NONE {
            return from_node(
                Node {
                    zone: self,
                    index: entry.wildcard,
                },
                qtype,
                true,
            );
        }
        Lookup::NxDomain {
            closest_encloser: node,
        }
    }

    fn referral(&self, cut: u32) -> Lookup<'_> {
        let cut = Node {
            zone: self,
            index: cut,
        };
        match cut.rrset(RType::NS) {
            Some(ns) => Lookup::Referral { cut, ns },
            // Cuts are made from NS RRsets, so this does not happen.
            None => Lookup::NoData {
                node: cut,
                wildcard: false,
            },
        }
    }
}

/// Step 3 at a node that answers for the name (itself, or a wildcard).
fn from_node(node: Node<'_>, qtype: RType, wildcard: bool) -> Lookup<'_> {
    if node.is_empty_non_terminal() {
        return Lookup::NoData { node, wildcard };
    }
    if qtype == RType::ANY || qtype == RType::RRSIG {
        return Lookup::Any { node, wildcard };
    }
    if let Some(rrset) = node.rrset(qtype) {
        return Lookup::Answer {
            node,
            rrset,
            wildcard,
        };
    }
    if let Some(rrset) = node.rrset(RType::CNAME) {
        return Lookup::Cname {
            node,
            rrset,
            wildcard,
        };
    }
    Lookup::NoData { node, wildcard }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
