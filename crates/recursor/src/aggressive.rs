//! Aggressive use of the DNSSEC-validated cache (RFC 8198): answering NXDOMAIN and NODATA from
//! NSEC and NSEC3 records already validated, without asking.
//!
//! An NSEC record says that no name exists between its owner and its next name (in canonical
//! order), and which types its owner has; an NSEC3 record says the same of hashed names. Once a
//! negative answer has validated secure, its records prove more than the one question they
//! came with: a random-subdomain flood (`<random>.example.com`, the "water torture" attack)
//! against a signed zone is answered from them after the first few queries, without loading the
//! zone's servers, and a resolver under such a flood keeps its upstream capacity.
//!
//! [`DenialIndex`] keeps, per signed zone, the zone's SOA and its validated NSEC records in
//! canonical order and NSEC3 records in hash order, each until its TTL (capped by the SOA's
//! negative TTL, RFC 8198 section 5.4 and RFC 9077) runs out. For a question, `candidates`
//! picks the records that could prove it (the NSEC at or before the name and before each
//! possible wildcard; the NSEC3 matching or covering the hashes of the name's ancestors and
//! their wildcards) and the validator's own proof functions (`dnssec::denial`) decide. Only a
//! full proof answers: an NSEC3 opt-out span proves nothing here (RFC 8198 section 4.1).
//!
//! The index is shared by the drivers of one process and bounded: at most `max_records`
//! records in all; a zone's expired records are dropped whenever it is written to, and when the
//! index is full a zone's records are replaced rather than added to.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

use cache::{RrSet, Time};
use wire::name::CanonicalKey;
use wire::rdata::RData;
use wire::{Name, NameRef, RType};
use zone::Nsec3Hash;

/// Most labels between a zone and a name that `candidates` looks at (each costs one or two
/// NSEC3 hashes).
const MAX_LABELS_BELOW_ZONE: usize = 16;

/// A record and when it expires.
#[derive(Clone, Debug)]
struct Kept {
    set: RrSet,
    expires: Time,
}

/// What one zone's negative answers taught.
#[derive(Debug, Default)]
struct ZoneDenials {
    soa: Option<Kept>,
    nsec: BTreeMap<Vec<u8>, Kept>,
    nsec3: BTreeMap<Nsec3Hash, Kept>,
    /// The NSEC3 chain's salt and iterations (one parameter set per zone).
    nsec3_params: Option<(Vec<u8>, u16)>,
}

impl ZoneDenials {
    fn len(&self) -> usize {
        self.nsec.len() + self.nsec3.len()
    }

    fn drop_expired(&mut self, now: Time) {
        self.nsec.retain(|_, k| k.expires > now);
        self.nsec3.retain(|_, k| k.expires > now);
        if self.soa.as_ref().is_some_and(|k| k.expires <= now) {
            self.soa = None;
        }
    }
}

#[derive(Debug, Default)]
struct Index {
    zones: HashMap<Name, ZoneDenials>,
    records: usize,
}

/// Validated NSEC/NSEC3 records by zone, shared by the recursors of one process.
#[derive(Clone, Debug)]
pub struct DenialIndex {
    inner: Arc<RwLock<Index>>,
    max_records: usize,
}

/// What `candidates` found for a question.
#[derive(Debug)]
pub(crate) struct Candidates {
    /// The zone the records belong to.
    pub zone: Name,
    /// Its SOA (TTL: seconds left).
    pub soa: RrSet,
    /// The NSEC or NSEC3 RRsets that may prove the question (TTLs: seconds left).
    pub proofs: Vec<RrSet>,
}

/// The negative TTL of an SOA RRset: the smaller of its TTL and its MINIMUM field.
fn negative_ttl(soa: &RrSet) -> u32 {
    soa.rdatas
        .first()
        .and_then(|r| r.len().checked_sub(4).and_then(|at| r.get(at..)))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, u32::from_be_bytes)
        .min(soa.ttl)
}

/// The NSEC3 hash in an NSEC3 owner name (its first label, base32hex).
fn owner_hash(owner: NameRef<'_>) -> Option<Nsec3Hash> {
    owner
        .labels()
        .next()
        .and_then(zone::denial::base32hex_decode)
}

impl DenialIndex {
    /// An empty index for at most `max_records` NSEC/NSEC3 records.
    pub fn new(max_records: usize) -> DenialIndex {
        DenialIndex {
            inner: Arc::new(RwLock::new(Index::default())),
            max_records,
        }
    }

    /// Records held now.
    pub fn len(&self) -> usize {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .records
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes in the SOA and NSEC/NSEC3 RRsets of a negative answer from `zone` that validated
    /// secure. NSEC3 chains with more than `max_iterations` iterations are not kept (their
    /// proofs only ever make answers insecure).
    pub(crate) fn insert(
        &self,
        zone: &Name,
        soa: &RrSet,
        proofs: &[RrSet],
        max_iterations: u16,
        now: Time,
    ) {
        let cap = negative_ttl(soa);
        if cap == 0 || self.max_records == 0 {
            return;
        }
        let mut index = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let index = &mut *index;
        let entry = index.zones.entry(zone.clone()).or_default();
        let before = entry.len();
        let others = index.records.saturating_sub(before);
        entry.drop_expired(now);
        if others + entry.len() + proofs.len() > self.max_records {
            // Full: this zone starts over (a flood against one zone cannot crowd the rest out
            // for long: every zone's entries expire).
            entry.nsec.clear();
            entry.nsec3.clear();
        }
        entry.soa = Some(Kept {
            set: soa.clone(),
            expires: now.plus_secs(cap),
        });
        for set in proofs {
            if others + entry.len() >= self.max_records {
                break;
            }
            let ttl = set.ttl.min(cap);
            if ttl == 0 {
                continue;
            }
            let kept = Kept {
                set: set.clone(),
                expires: now.plus_secs(ttl),
            };
            match set.rtype {
                RType::NSEC => {
                    let key = CanonicalKey::new(set.owner.as_ref()).as_bytes().to_vec();
                    entry.nsec.insert(key, kept);
                }
                RType::NSEC3 => {
                    let Some(Ok(RData::Nsec3(n))) =
                        set.rdatas.first().map(|r| RData::parse(RType::NSEC3, r))
                    else {
                        continue;
                    };
                    if n.hash_algorithm != 1 || n.iterations > max_iterations {
                        continue;
                    }
                    let Some(hash) = owner_hash(set.owner.as_ref()) else {
                        continue;
                    };
                    let params = (n.salt.to_vec(), n.iterations);
                    if entry.nsec3_params.as_ref() != Some(&params) {
                        // A new parameter set (the zone re-salted): the old chain is gone.
                        entry.nsec3.clear();
                        entry.nsec3_params = Some(params);
                    }
                    entry.nsec3.insert(hash, kept);
                }
                _ => {}
            }
        }
        let after = entry.len();
        index.records = index.records.saturating_sub(before) + after;
        if after == 0 {
            index.zones.remove(zone);
        }
    }

    /// The records that may prove that `qname` (or its type `qtype`) does not exist, from the
    /// deepest zone at or above it that the index knows (for DS, above it: DS is the parent's).
    pub(crate) fn candidates(&self, qname: &Name, qtype: RType, now: Time) -> Option<Candidates> {
        let index = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut at = if qtype == RType::DS {
            qname.as_ref().parent()
        } else {
            Some(qname.as_ref())
        };
        let mut labels_seen = 0;
        let (zone, denials) = loop {
            let name = at?;
            if let Some(d) = index.zones.get(&name.to_name()) {
                break (name.to_name(), d);
            }
            labels_seen += 1;
            if labels_seen > MAX_LABELS_BELOW_ZONE + 1 {
                return None;
            }
            at = name.parent();
        };
        let soa = denials.soa.as_ref().filter(|k| k.expires > now)?;
        let mut proofs: Vec<RrSet> = Vec::new();
        let mut take = |kept: &Kept| {
            if kept.expires > now && !proofs.iter().any(|p| p.owner == kept.set.owner) {
                let mut set = kept.set.clone();
                set.ttl = now.secs_until(kept.expires);
                proofs.push(set);
            }
        };
        // The names that matter: the name and its ancestors down to the zone, and the
        // wildcard below each of them.
        let mut names: Vec<Name> = Vec::new();
        let mut n = Some(qname.as_ref());
        while let Some(name) = n {
            if !name.is_subdomain_of(zone.as_ref()) || names.len() > MAX_LABELS_BELOW_ZONE {
                break;
            }
            names.push(name.to_name());
            n = name.parent();
        }
        if !denials.nsec.is_empty() {
            for name in &names {
                let key = CanonicalKey::new(name.as_ref()).as_bytes().to_vec();
                if let Some((_, kept)) = denials.nsec.range(..=key).next_back() {
                    take(kept);
                }
                if let Ok(wild) = name.prepend(b"*") {
                    let key = CanonicalKey::new(wild.as_ref()).as_bytes().to_vec();
                    if let Some((_, kept)) = denials.nsec.range(..=key).next_back() {
                        take(kept);
                    }
                }
            }
        }
        if let Some((salt, iterations)) = &denials.nsec3_params {
            let find = |hash: Nsec3Hash| {
                denials
                    .nsec3
                    .range(..=hash)
                    .next_back()
                    .or_else(|| denials.nsec3.iter().next_back())
                    .map(|(_, k)| k.clone())
            };
            for name in &names {
                let hash = zone::denial::nsec3_hash(name.as_ref(), salt, *iterations);
                if let Some(kept) = find(hash) {
                    take(&kept);
                }
                if let Ok(wild) = name.prepend(b"*") {
                    let hash = zone::denial::nsec3_hash(wild.as_ref(), salt, *iterations);
                    if let Some(kept) = find(hash) {
                        take(&kept);
                    }
                }
            }
        }
        if proofs.is_empty() {
            return None;
        }
        let mut soa_set = soa.set.clone();
        soa_set.ttl = now.secs_until(soa.expires);
        Some(Candidates {
            zone,
            soa: soa_set,
            proofs,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use wire::Class;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn soa(ttl: u32, minimum: u32) -> RrSet {
        let mut rdata = name("ns.example.").as_wire().to_vec();
        rdata.extend_from_slice(name("host.example.").as_wire());
        for v in [1u32, 3600, 600, 86400, minimum] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        RrSet {
            owner: name("example."),
            rtype: RType::SOA,
            class: Class::IN,
            ttl,
            rdatas: vec![rdata],
            sigs: Vec::new(),
        }
    }

    /// An NSEC from `owner` to `next` with the A bit.
    fn nsec(owner: &str, next: &str, ttl: u32) -> RrSet {
        let mut rdata = name(next).as_wire().to_vec();
        rdata.extend_from_slice(&[0, 1, 0x40]);
        RrSet {
            owner: name(owner),
            rtype: RType::NSEC,
            class: Class::IN,
            ttl,
            rdatas: vec![rdata],
            sigs: Vec::new(),
        }
    }

    #[test]
    fn finds_the_covering_records_until_they_expire() {
        let index = DenialIndex::new(100);
        let now = Time::from_millis(1_000_000);
        let chain = [
            nsec("example.", "b.example.", 3600),
            nsec("b.example.", "d.example.", 3600),
            nsec("d.example.", "example.", 3600),
        ];
        // The SOA's MINIMUM (300) caps every record's TTL (RFC 9077).
        index.insert(&name("example."), &soa(3600, 300), &chain, 50, now);
        assert_eq!(index.len(), 3);
        let found = index
            .candidates(&name("c.example."), RType::A, now)
            .unwrap();
        assert_eq!(found.zone, name("example."));
        let owners: Vec<String> = found.proofs.iter().map(|p| p.owner.to_string()).collect();
        // b covers c; the apex covers *.example.
        assert!(owners.contains(&"b.example.".to_string()), "{owners:?}");
        assert!(owners.contains(&"example.".to_string()), "{owners:?}");
        assert!(found.proofs.iter().all(|p| p.ttl <= 300));
        let proven = dnssec::denial::prove_nxdomain(
            name("c.example.").as_ref(),
            name("example.").as_ref(),
            &found.proofs,
            &dnssec::denial::Nsec3Limits::default(),
        );
        assert_eq!(proven, Ok(dnssec::denial::Denial::Proven));
        // Gone with the negative TTL.
        assert!(
            index
                .candidates(&name("c.example."), RType::A, now.plus_secs(301))
                .is_none()
        );
        // Another zone is not looked into.
        assert!(index.candidates(&name("c.other."), RType::A, now).is_none());
    }

    #[test]
    fn stays_within_its_record_limit() {
        let index = DenialIndex::new(10);
        let now = Time::from_millis(1_000_000);
        for round in 0..50u32 {
            let owner = format!("n{round}.example.");
            let next = format!("n{round}x.example.");
            index.insert(
                &name("example."),
                &soa(3600, 3600),
                &[nsec(&owner, &next, 3600)],
                50,
                now,
            );
            assert!(index.len() <= 10, "{}", index.len());
        }
        // A zero negative TTL keeps nothing.
        let empty = DenialIndex::new(10);
        empty.insert(
            &name("example."),
            &soa(0, 0),
            &[nsec("a.example.", "b.example.", 60)],
            50,
            now,
        );
        assert!(empty.is_empty());
    }
}
