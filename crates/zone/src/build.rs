//! Building a [`Zone`] from records: [`ZoneBuilder`].
//!
//! Records are added one at a time, as the zone-file parser produces them. [`ZoneBuilder::add`]
//! checks what can be checked on a record alone (class, type, owner, RDATA) and packs it into
//! arenas, so a million-record zone does not hold a million 256-byte [`Name`]s.
//! [`ZoneBuilder::finish`] sorts the records into canonical order (RFC 4034 section 6), merges
//! duplicates, groups RRsets, materialises empty non-terminals, marks zone cuts and wildcards,
//! runs the rules of [`crate::check`] and returns the snapshot or every error found.

use wire::{Class, Name, NameRef, RType};

use crate::check::{self, Position, Problem, SetFacts};
use crate::denial::DenialIndex;
use crate::index::NameIndex;
use crate::record::{Loc, Record};
use crate::snapshot::{NONE, NodeEntry, RRsetEntry, Zone};

/// A built zone and the warnings its checks raised.
#[derive(Debug)]
pub struct Built {
    /// The snapshot, ready to serve.
    pub zone: Zone,
    /// Problems that did not stop the load (see [`crate::check`]).
    pub warnings: Vec<Problem>,
}

/// Collects the records of one zone, then checks them and builds the [`Zone`].
#[derive(Debug)]
pub struct ZoneBuilder {
    origin: Name,
    origin_key: Vec<u8>,
    keys: Vec<u8>,
    names: Vec<u8>,
    rdata: Vec<u8>,
    pending: Vec<Pending>,
    errors: Vec<Problem>,
    scratch: Vec<u8>,
}

/// One accepted record, its variable parts in the builder's arenas.
#[derive(Debug)]
struct Pending {
    key: u32,
    key_len: u16,
    name: u32,
    name_len: u8,
    rtype: RType,
    /// For RRSIG, the type covered; else 0. RRSIGs form one RRset per covered type.
    covered: RType,
    ttl: u32,
    rdata: u32,
    rdata_len: u16,
    /// Start of the canonical form of the RDATA (RFC 4034 section 6.2), `rdata_len` long; equal
    /// to `rdata` when the two are the same.
    canon: u32,
    loc: Option<Loc>,
}

impl ZoneBuilder {
    /// A builder for the zone whose apex is `origin`.
    pub fn new(origin: Name) -> ZoneBuilder {
        let origin_key = origin.as_ref().canonical_key().as_bytes().to_vec();
        ZoneBuilder {
            origin,
            origin_key,
            keys: Vec::new(),
            names: Vec::new(),
            rdata: Vec::new(),
            pending: Vec::new(),
            errors: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Adds one record. A record that breaks a per-record rule is dropped and its error kept
    /// for [`ZoneBuilder::finish`].
    pub fn add(&mut self, record: Record) {
        let owner = record.owner.as_ref();
        let error = |message: String| Problem::new(record.loc.clone(), owner, message);
        if record.class != Class::IN {
            return self.errors.push(error(format!(
                "class {} is not served: only IN zones are",
                record.class
            )));
        }
        if record.rtype.is_meta() {
            return self.errors.push(error(format!(
                "{} is a query type and cannot be stored in a zone",
                record.rtype
            )));
        }
        if !owner.is_subdomain_of(self.origin.as_ref()) {
            return self.errors.push(error(format!(
                "out of zone: not at or below the origin {}",
                self.origin
            )));
        }
        let Ok(rdata_len) = u16::try_from(record.rdata.len()) else {
            return self.errors.push(error(format!(
                "{} RDATA longer than 65535 bytes",
                record.rtype
            )));
        };
        if let Err(e) = wire::rdata::validate(record.rtype, &record.rdata) {
            return self.errors.push(error(format!("{}: {e}", record.rtype)));
        }
        let covered = if record.rtype == RType::RRSIG {
            match record.rdata.get(..19) {
                Some(r) => RType(u16::from_be_bytes([r[0], r[1]])),
                None => {
                    return self
                        .errors
                        .push(error("RRSIG: malformed RDATA: too short".into()));
                }
            }
        } else {
            RType(0)
        };
        let key = owner.canonical_key();
        let differs = check::canonical_rdata(record.rtype, &record.rdata, &mut self.scratch);
        let sizes = self.keys.len() + key.as_bytes().len() + self.names.len() + owner.len();
        if u32::try_from(sizes + self.rdata.len() + 2 * record.rdata.len()).is_err() {
            return self.errors.push(error(
                "zone too large: its arenas would exceed 4 GiB".into(),
            ));
        }
        // Records of one name usually come together: share the key and name bytes then.
        let (key_at, key_len) = match self.pending.last() {
            Some(p)
                if self
                    .keys
                    .get(p.key as usize..p.key as usize + usize::from(p.key_len))
                    == Some(key.as_bytes()) =>
            {
                (p.key, p.key_len)
            }
            _ => {
                let at = self.keys.len() as u32;
                self.keys.extend_from_slice(key.as_bytes());
                (at, key.as_bytes().len() as u16)
            }
        };
        let name_at = match self.pending.last() {
            Some(p)
                if self
                    .names
                    .get(p.name as usize..p.name as usize + usize::from(p.name_len))
                    == Some(owner.as_wire()) =>
            {
                p.name
            }
            _ => {
                let at = self.names.len() as u32;
                self.names.extend_from_slice(owner.as_wire());
                at
            }
        };
        let rdata_at = self.rdata.len() as u32;
        self.rdata.extend_from_slice(&record.rdata);
        let canon_at = if differs {
            let at = self.rdata.len() as u32;
            self.rdata.extend_from_slice(&self.scratch);
            at
        } else {
            rdata_at
        };
        self.pending.push(Pending {
            key: key_at,
            key_len,
            name: name_at,
            name_len: owner.len() as u8,
            rtype: record.rtype,
            covered,
            ttl: record.ttl,
            rdata: rdata_at,
            rdata_len,
            canon: canon_at,
            loc: record.loc,
        });
    }

    /// Number of records accepted so far (duplicates not yet merged).
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no record has been accepted.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Checks the zone and builds the snapshot; on failure returns every error found.
    pub fn finish(self) -> Result<Built, Vec<Problem>> {
        let mut order: Vec<u32> = (0..self.pending.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (pa, pb) = (&self.pending[a as usize], &self.pending[b as usize]);
            self.key(pa)
                .cmp(self.key(pb))
                .then(pa.rtype.cmp(&pb.rtype))
                .then(pa.covered.cmp(&pb.covered))
                .then_with(|| self.canon(pa).cmp(self.canon(pb)))
                .then(a.cmp(&b))
        });
        let mut asm = Assembler::new(&self);
        let mut start = 0;
        while start < order.len() {
            let key = self.key(&self.pending[order[start] as usize]);
            let mut end = start + 1;
            while end < order.len() && self.key(&self.pending[order[end] as usize]) == key {
                end += 1;
            }
            asm.name(&order[start..end]);
            start = end;
        }
        asm.finish()
    }

    fn key(&self, p: &Pending) -> &[u8] {
        self.keys
            .get(p.key as usize..p.key as usize + usize::from(p.key_len))
            .unwrap_or_default()
    }

    fn owner(&self, p: &Pending) -> NameRef<'_> {
        let wire = self
            .names
            .get(p.name as usize..p.name as usize + usize::from(p.name_len));
        wire.and_then(|w| NameRef::from_wire(w).ok())
            .unwrap_or(NameRef::ROOT)
    }

    fn rdata(&self, p: &Pending) -> &[u8] {
        self.rdata
            .get(p.rdata as usize..p.rdata as usize + usize::from(p.rdata_len))
            .unwrap_or_default()
    }

    fn canon(&self, p: &Pending) -> &[u8] {
        self.rdata
            .get(p.canon as usize..p.canon as usize + usize::from(p.rdata_len))
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------------
// Assembly
// ---------------------------------------------------------------------------------------------

/// An ancestor of the name being assembled, on the path from the apex.
struct Frame {
    node: u32,
    key_len: usize,
    /// The topmost zone cut at or above this node, or `NONE`.
    cut: u32,
    /// The topmost node owning a DNAME at or above this node, or `NONE`.
    dname: u32,
}

/// Lays out the snapshot's tables from the records in canonical order, one name at a time.
struct Assembler<'b> {
    b: &'b ZoneBuilder,
    zone: Zone,
    path: Vec<Frame>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    /// NS RRsets whose targets need addresses: node index and the first record's location.
    ns_sets: Vec<(u32, Option<Loc>)>,
    too_large: bool,
}

impl<'b> Assembler<'b> {
    fn new(b: &'b ZoneBuilder) -> Assembler<'b> {
        let zone = Zone {
            origin: b.origin.clone(),
            nodes: Vec::new(),
            keys: Vec::new(),
            names: Vec::new(),
            rrsets: Vec::new(),
            rdata: Vec::new(),
            soa: 0,
            serial: 0,
            soa_minimum: 0,
            records: 0,
            index: NameIndex::default(),
            denial: DenialIndex::default(),
        };
        Assembler {
            b,
            zone,
            path: Vec::new(),
            errors: b.errors.clone(),
            warnings: Vec::new(),
            ns_sets: Vec::new(),
            too_large: false,
        }
    }

    /// Adds the name owning the records `group` (indices into the builder's records, sorted), with
    /// any empty non-terminals between it and its nearest existing ancestor.
    fn name(&mut self, group: &[u32]) {
        let b = self.b;
        let first = &b.pending[group[0] as usize];
        let key = b.key(first);
        // The owner as first written, for its case.
        let earliest = group.iter().copied().min().unwrap_or(group[0]);
        let owner = b.owner(&b.pending[earliest as usize]);

        while let Some(top) = self.path.last() {
            if key.starts_with(self.node_key(top.node, top.key_len)) {
                break;
            }
            self.path.pop();
        }
        // Empty non-terminals: the origin, then each ancestor of `key` (a prefix ending with a
        // label separator) longer than the deepest existing one.
        let known = self.path.last().map(|f| f.key_len);
        let origin_len = b.origin_key.len();
        let total_labels = key.iter().filter(|&&c| c == 0).count();
        let prefixes = core::iter::once(origin_len).chain(
            key.iter()
                .enumerate()
                .filter(|&(i, &c)| c == 0 && i + 1 > origin_len)
                .map(|(i, _)| i + 1),
        );
        for len in prefixes {
            if len >= key.len() || known.is_some_and(|k| len <= k) {
                continue;
            }
            let labels = key[..len].iter().filter(|&&c| c == 0).count();
            let ent_owner = owner
                .strip_labels(total_labels - labels)
                .unwrap_or(NameRef::ROOT);
            self.push_node(&key[..len], ent_owner, false, false);
        }

        let has_ns = group
            .iter()
            .any(|&i| b.pending[i as usize].rtype == RType::NS);
        let has_dname = group
            .iter()
            .any(|&i| b.pending[i as usize].rtype == RType::DNAME);
        let is_apex = key.len() == origin_len;
        let parent_dname = self.path.last().map_or(NONE, |f| f.dname);
        let index = self.push_node(key, owner, has_ns && !is_apex, has_dname);

        // RRsets: runs of equal (type, covered); within one, runs of equal canonical RDATA.
        let mut sets: Vec<(RType, usize, &Option<Loc>)> = Vec::new();
        let mut start = 0;
        while start < group.len() {
            let head = &b.pending[group[start] as usize];
            let mut end = start + 1;
            while end < group.len() {
                let p = &b.pending[group[end] as usize];
                if p.rtype != head.rtype || p.covered != head.covered {
                    break;
                }
                end += 1;
            }
            let count = self.rrset(owner, &group[start..end]);
            if head.rtype == RType::NS && !owner.is_wildcard() {
                self.ns_sets.push((index, head.loc.clone()));
            }
            sets.push((head.rtype, count, &head.loc));
            start = end;
        }

        let entry = self.zone.nodes[index as usize];
        let position = match entry.cut {
            NONE => Position::Authoritative,
            cut if cut == index => Position::Cut,
            cut => Position::BelowCut(self.node_owner(cut)),
        };
        let dname_above = (parent_dname != NONE).then(|| self.node_owner(parent_dname));
        let facts: Vec<SetFacts<'_>> = sets
            .iter()
            .map(|&(rtype, count, loc)| SetFacts { rtype, count, loc })
            .collect();
        let mut errors = Vec::new();
        check::check_name(owner, is_apex, &facts, position, dname_above, &mut errors);
        self.errors.extend(errors);
    }

    /// Appends a node below the current path and makes it the path's end; returns its index.
    fn push_node(&mut self, key: &[u8], owner: NameRef<'_>, is_cut: bool, has_dname: bool) -> u32 {
        let index = self.zone.nodes.len() as u32;
        let (parent_cut, parent_dname) =
            self.path.last().map_or((NONE, NONE), |f| (f.cut, f.dname));
        let cut = if parent_cut != NONE {
            parent_cut
        } else if is_cut {
            index
        } else {
            NONE
        };
        let dname = if parent_dname != NONE {
            parent_dname
        } else if has_dname {
            index
        } else {
            NONE
        };
        if owner.is_wildcard()
            && let Some(parent) = self.path.last()
        {
            self.zone.nodes[parent.node as usize].wildcard = index;
        }
        let entry = NodeEntry {
            key: self.offset(self.zone.keys.len()),
            name: self.offset(self.zone.names.len()),
            rrsets: self.offset(self.zone.rrsets.len()),
            cut,
            wildcard: NONE,
        };
        self.zone.nodes.push(entry);
        self.zone.keys.extend_from_slice(key);
        self.zone.names.extend_from_slice(owner.as_wire());
        self.path.push(Frame {
            node: index,
            key_len: key.len(),
            cut,
            dname,
        });
        index
    }

    /// Appends the RRset made of the records `run` (one type, canonical order); returns its
    /// record count after merging duplicates.
    fn rrset(&mut self, owner: NameRef<'_>, run: &[u32]) -> usize {
        let b = self.b;
        let head = &b.pending[run[0] as usize];
        let data = self.offset(self.zone.rdata.len());
        let mut count = 0usize;
        let mut ttl = head.ttl;
        let mut ttl_differs: Option<&Pending> = None;
        let mut previous: Option<&[u8]> = None;
        for &i in run {
            let p = &b.pending[i as usize];
            if p.ttl != head.ttl && ttl_differs.is_none() {
                ttl_differs = Some(p);
            }
            ttl = ttl.min(p.ttl);
            if previous == Some(b.canon(p)) {
                continue;
            }
            previous = Some(b.canon(p));
            let rdata = b.rdata(p);
            self.zone
                .rdata
                .extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            self.zone.rdata.extend_from_slice(rdata);
            count += 1;
        }
        if let Some(p) = ttl_differs {
            let message = format!(
                "TTLs differ within the {} RRset ({} and {}): using {ttl} (RFC 2181 section 5.2)",
                head.rtype, head.ttl, p.ttl
            );
            self.warnings
                .push(Problem::new(p.loc.clone(), owner, message));
        }
        let Ok(count16) = u16::try_from(count) else {
            self.errors.push(Problem::new(
                head.loc.clone(),
                owner,
                format!(
                    "{} RRset of {count} records: at most 65535 fit in a message",
                    head.rtype
                ),
            ));
            self.zone.rdata.truncate(data as usize);
            return count;
        };
        self.zone.rrsets.push(RRsetEntry {
            rtype: head.rtype,
            count: count16,
            ttl,
            data,
        });
        self.zone.records += count;
        count
    }

    /// Closes the tables, runs the whole-zone checks and returns the zone or the errors.
    fn finish(mut self) -> Result<Built, Vec<Problem>> {
        let origin = self.b.origin.as_ref();
        let sentinel = NodeEntry {
            key: self.offset(self.zone.keys.len()),
            name: self.offset(self.zone.names.len()),
            rrsets: self.offset(self.zone.rrsets.len()),
            cut: NONE,
            wildcard: NONE,
        };
        let _ = self.offset(self.zone.rdata.len());
        if self.too_large {
            self.errors.push(Problem::new(
                None,
                origin,
                "zone too large: its tables would exceed 4 GiB",
            ));
        }
        // Names are assembled from the origin down, so the apex, when there is any name, is the
        // first node.
        self.zone.nodes.push(sentinel);
        let soa = match self.zone.name_count() {
            0 => None,
            _ => self.zone.apex().rrset(RType::SOA),
        };
        match soa {
            None => self
                .errors
                .push(Problem::new(None, origin, "no SOA record at the zone apex")),
            Some(soa) => {
                let (serial, minimum) = soa_numbers(soa.rdatas().next().unwrap_or_default());
                self.zone.serial = serial;
                self.zone.soa_minimum = minimum;
                let apex_sets = &self.zone.rrsets[..self.zone.nodes[1].rrsets as usize];
                self.zone.soa = apex_sets
                    .iter()
                    .position(|r| r.rtype == RType::SOA)
                    .unwrap_or(0) as u32;
            }
        }
        if self.zone.name_count() > 0 && self.zone.apex().rrset(RType::NS).is_none() {
            self.errors
                .push(Problem::new(None, origin, "no NS records at the zone apex"));
        }
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        self.zone.index = NameIndex::build(&self.zone);
        self.zone.denial = DenialIndex::build(&self.zone);
        self.check_name_servers();
        self.zone.nodes.shrink_to_fit();
        self.zone.keys.shrink_to_fit();
        self.zone.names.shrink_to_fit();
        self.zone.rrsets.shrink_to_fit();
        self.zone.rdata.shrink_to_fit();
        Ok(Built {
            zone: self.zone,
            warnings: self.warnings,
        })
    }

    /// Warns about in-zone name servers without addresses (see [`crate::check`]).
    fn check_name_servers(&mut self) {
        let zone = &self.zone;
        for (node, loc) in &self.ns_sets {
            let node = crate::snapshot::Node { zone, index: *node };
            let Some(ns) = node.rrset(RType::NS) else {
                continue;
            };
            for target in ns.rdatas() {
                let Ok(target) = NameRef::from_wire(target) else {
                    continue;
                };
                if !target.is_subdomain_of(zone.origin()) {
                    continue;
                }
                let has_address =
                    |t: RType| zone.node(target).is_some_and(|n| n.rrset(t).is_some());
                let answered =
                    |t: RType| matches!(zone.lookup(target, t), crate::Lookup::Answer { .. });
                let message = match zone.lookup(target, RType::A) {
                    crate::Lookup::Referral { cut, .. } => {
                        if has_address(RType::A) || has_address(RType::AAAA) {
                            continue;
                        }
                        format!(
                            "no glue (A or AAAA) for name server {target} below the delegation point {}",
                            cut.owner()
                        )
                    }
                    _ if answered(RType::A) || answered(RType::AAAA) => continue,
                    _ => {
                        format!("name server {target} is in the zone but has no A or AAAA records")
                    }
                };
                self.warnings
                    .push(Problem::new(loc.clone(), node.owner(), message));
            }
        }
    }

    fn node_key(&self, node: u32, len: usize) -> &[u8] {
        let start = self.zone.nodes[node as usize].key as usize;
        self.zone.keys.get(start..start + len).unwrap_or_default()
    }

    /// The owner of an already-assembled node.
    fn node_owner(&self, node: u32) -> NameRef<'_> {
        let start = self.zone.nodes[node as usize].name as usize;
        let end = self
            .zone
            .nodes
            .get(node as usize + 1)
            .map_or(self.zone.names.len(), |n| n.name as usize);
        let wire = self.zone.names.get(start..end).unwrap_or_default();
        NameRef::from_wire(wire).unwrap_or(NameRef::ROOT)
    }

    /// `len` as a table offset; records that the zone is too large when it does not fit.
    fn offset(&mut self, len: usize) -> u32 {
        match u32::try_from(len) {
            Ok(v) if v != NONE => v,
            _ => {
                self.too_large = true;
                0
            }
        }
    }
}

/// SERIAL and MINIMUM from SOA RDATA (RFC 1035 section 3.3.13).
fn soa_numbers(rdata: &[u8]) -> (u32, u32) {
    let numbers = NameRef::split_wire(rdata)
        .and_then(|(_, rest)| NameRef::split_wire(rest))
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let word = |i: usize| {
        numbers
            .get(i * 4..i * 4 + 4)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    (word(0), word(4))
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
