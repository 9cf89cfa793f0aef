//! Authenticated denial of existence: finding the NSEC and NSEC3 records that prove a name or
//! type absent (RFC 4035 section 3.1.3, RFC 5155 section 7.2).
//!
//! A signed zone links its names into a chain. With NSEC (RFC 4034 section 4) each authoritative
//! name and each delegation point owns an NSEC record naming the next name in canonical order
//! (RFC 4034 section 6.1) and the types the owner has: a name that sorts between an NSEC's owner
//! and its next name does not exist (the NSEC *covers* it). With NSEC3 (RFC 5155) the chain links
//! the hashes of the names instead, each NSEC3 owned by `<base32hex hash>.<apex>`: a hash that
//! falls between an NSEC3 owner's hash and its next hash belongs to no name; an NSEC3 whose owner
//! hash is the name's hash *matches* it.
//!
//! This module gives the answer stage what it needs without searching the zone:
//!
//! - [`Zone::denial_chain`] says which chain the zone has ([`DenialChain`]). A zone whose apex
//!   owns an NSEC record uses NSEC (it wins during a change of chain, as the signer keeps NSEC
//!   until the NSEC3 chain is complete); else the chain of the apex NSEC3PARAM (hash algorithm 1,
//!   SHA-1, the only one defined) when some NSEC3 records use its parameters; else none.
//! - [`Zone::nsec_covering`]: the NSEC owner that is the greatest name at or before a name in
//!   canonical order: the NSEC at the name when it owns one, else the one covering it.
//! - [`Zone::nsec3_hash`] hashes a name with the chain's salt and iterations, and
//!   [`Zone::nsec3_find`] finds the NSEC3 matching or covering a hash.
//!
//! # Cost
//!
//! Both indexes are built with the zone: the node numbers of the NSEC owners (already in canonical
//! order, since nodes are), and the NSEC3 owner hashes decoded from their base32hex labels,
//! sorted, with their node numbers (24 bytes each). A lookup is one binary search, with the query
//! name's canonical key built on the stack: no allocation. Hashing a name costs `iterations + 1`
//! SHA-1 computations over at most 255 + 255 bytes (RFC 5155 section 5); the caller bounds how many
//! it asks for per query ([`Zone::nsec3_hash_cost`]). Unsigned zones pay nothing but an empty
//! index.

use ring::digest;
use wire::name::MAX_NAME_LEN;
use wire::{CanonicalKey, NameRef, RType};

use crate::snapshot::{Node, Zone};

/// Length of an NSEC3 hash (SHA-1, RFC 5155 section 3.1.1).
pub const NSEC3_HASH_LEN: usize = 20;

/// An NSEC3 hash of a name.
pub type Nsec3Hash = [u8; NSEC3_HASH_LEN];

/// The NSEC3 flag bit marking an opt-out span (RFC 5155 section 3.1.2.1).
const OPT_OUT: u8 = 1;

/// Which chain of denial records a zone has (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialChain {
    /// No denial records: an unsigned zone (or one whose chain cannot be used).
    None,
    /// NSEC records (RFC 4034 section 4).
    Nsec,
    /// NSEC3 records with the parameters of the apex NSEC3PARAM (RFC 5155).
    Nsec3,
}

/// What [`Zone::nsec3_find`] found for a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nsec3Find<'a> {
    /// The NSEC3 whose owner hash is the hash: the name exists (or is an opt-out-free name).
    Matches(Node<'a>),
    /// The NSEC3 whose span (owner hash, next hash) contains the hash: no name has it.
    Covers(Node<'a>),
}

/// The denial indexes of a zone, built with it.
#[derive(Clone, Debug, Default)]
pub(crate) struct DenialIndex {
    chain: Option<DenialChainKind>,
    /// Node numbers of the NSEC owners, in canonical order.
    nsec: Vec<u32>,
    /// The NSEC3 parameters, when the chain is NSEC3.
    salt: Vec<u8>,
    iterations: u16,
    /// NSEC3 owner hashes with their node numbers, sorted by hash.
    nsec3: Vec<(Nsec3Hash, u32)>,
}

/// [`DenialChain`] without its `None`, so that the default index is unsigned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DenialChainKind {
    Nsec,
    Nsec3,
}

impl DenialIndex {
    /// Indexes the denial records of `zone` (whose node table is complete).
    pub(crate) fn build(zone: &Zone) -> DenialIndex {
        let mut index = DenialIndex::default();
        if zone.name_count() == 0 {
            return index;
        }
        let apex = zone.apex();
        if apex.rrset(RType::NSEC).is_some() {
            index.nsec = zone
                .nodes()
                .filter(|n| n.rrset(RType::NSEC).is_some())
                .map(|n| n.index)
                .collect();
            index.chain = Some(DenialChainKind::Nsec);
            return index;
        }
        let Some(param) = apex
            .rrset(RType::NSEC3PARAM)
            .and_then(|p| p.rdatas().find_map(nsec3_params))
        else {
            return index;
        };
        let (iterations, salt) = param;
        let origin_labels = zone.origin().label_count();
        for node in zone.nodes() {
            let Some(set) = node.rrset(RType::NSEC3) else {
                continue;
            };
            let owner = node.owner();
            if owner.label_count() != origin_labels + 1
                || !set
                    .rdatas()
                    .any(|r| nsec3_params(r) == Some((iterations, salt)))
            {
                continue;
            }
            if let Some(hash) = owner.labels().next().and_then(base32hex_decode) {
                index.nsec3.push((hash, node.index));
            }
        }
        if index.nsec3.is_empty() {
            return index;
        }
        index.nsec3.sort_unstable();
        index.nsec3.dedup_by(|a, b| a.0 == b.0);
        index.nsec3.shrink_to_fit();
        index.salt = salt.to_vec();
        index.iterations = iterations;
        index.chain = Some(DenialChainKind::Nsec3);
        index
    }

    /// Whether the zone has a usable NSEC3 chain.
    pub(crate) fn is_nsec3(&self) -> bool {
        self.chain == Some(DenialChainKind::Nsec3)
    }

    /// Heap bytes held by the indexes.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.nsec.capacity() * size_of::<u32>()
            + self.nsec3.capacity() * size_of::<(Nsec3Hash, u32)>()
            + self.salt.capacity()
    }
}

impl Zone {
    /// Which chain of denial records the zone has (see the [module docs](self)).
    pub fn denial_chain(&self) -> DenialChain {
        match self.denial.chain {
            None => DenialChain::None,
            Some(DenialChainKind::Nsec) => DenialChain::Nsec,
            Some(DenialChainKind::Nsec3) => DenialChain::Nsec3,
        }
    }

    /// The NSEC owner whose name is the greatest at or before `name` in canonical order: the NSEC
    /// at `name` if it owns one, else the NSEC covering it (RFC 4035 section 3.1.3.2). A name
    /// before the apex (outside the zone) gets the last NSEC, whose span wraps to the apex.
    /// `None` when the zone has no NSEC chain.
    pub fn nsec_covering(&self, name: NameRef<'_>) -> Option<Node<'_>> {
        let key = CanonicalKey::new(name);
        let key = key.as_bytes();
        let list = &self.denial.nsec;
        let after = list.partition_point(|&n| self.key(n) <= key);
        let at = after.checked_sub(1).or_else(|| list.len().checked_sub(1))?;
        Some(Node {
            zone: self,
            index: *list.get(at)?,
        })
    }

    /// SHA-1 computations one [`Zone::nsec3_hash`] costs: the chain's iterations plus one; 0 when
    /// the zone has no NSEC3 chain.
    pub fn nsec3_hash_cost(&self) -> u32 {
        match self.denial.chain {
            Some(DenialChainKind::Nsec3) => u32::from(self.denial.iterations) + 1,
            _ => 0,
        }
    }

    /// The NSEC3 hash of `name` with the chain's salt and iterations (RFC 5155 section 5);
    /// `None` when the zone has no NSEC3 chain.
    pub fn nsec3_hash(&self, name: NameRef<'_>) -> Option<Nsec3Hash> {
        (self.denial.chain == Some(DenialChainKind::Nsec3))
            .then(|| nsec3_hash(name, &self.denial.salt, self.denial.iterations))
    }

    /// The NSEC3 matching `hash`, else the one covering it (the greatest owner hash below it,
    /// or the last, whose span wraps to the first); `None` without an NSEC3 chain.
    pub fn nsec3_find(&self, hash: &Nsec3Hash) -> Option<Nsec3Find<'_>> {
        let list = &self.denial.nsec3;
        let after = list.partition_point(|(h, _)| h <= hash);
        let at = after.checked_sub(1).or_else(|| list.len().checked_sub(1))?;
        let (owner_hash, index) = *list.get(at)?;
        let node = Node { zone: self, index };
        Some(if owner_hash == *hash {
            Nsec3Find::Matches(node)
        } else {
            Nsec3Find::Covers(node)
        })
    }
}

impl Node<'_> {
    /// Whether the node's NSEC3 record has the opt-out flag (RFC 5155 section 3.1.2.1): the span
    /// it covers may hold insecure delegations without NSEC3 records.
    pub fn nsec3_opt_out(&self) -> bool {
        self.rrset(RType::NSEC3)
            .and_then(|s| s.rdatas().next())
            .and_then(|r| r.get(1))
            .is_some_and(|flags| flags & OPT_OUT != 0)
    }
}

/// The NSEC3 hash of `name` (RFC 5155 section 5): SHA-1 over the lowercased wire form and the
/// salt, then `iterations` more times over the previous digest and the salt.
pub fn nsec3_hash(name: NameRef<'_>, salt: &[u8], iterations: u16) -> Nsec3Hash {
    let wire = name.as_wire();
    let mut lower = [0u8; MAX_NAME_LEN];
    let len = wire.len().min(MAX_NAME_LEN);
    // Label length bytes are below 64, so lowercasing them changes nothing.
    for (out, b) in lower.iter_mut().zip(&wire[..len]) {
        *out = b.to_ascii_lowercase();
    }
    let mut hash = sha1(&lower[..len], salt);
    for _ in 0..iterations {
        hash = sha1(&hash, salt);
    }
    hash
}

fn sha1(data: &[u8], salt: &[u8]) -> Nsec3Hash {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(data);
    ctx.update(salt);
    let mut out = [0u8; NSEC3_HASH_LEN];
    let d = ctx.finish();
    let bytes = d.as_ref();
    if bytes.len() == NSEC3_HASH_LEN {
        out.copy_from_slice(bytes);
    }
    out
}

/// Iterations and salt of NSEC3 or NSEC3PARAM RDATA with hash algorithm 1 (both start with
/// algorithm, flags, iterations, salt length, salt).
fn nsec3_params(rdata: &[u8]) -> Option<(u16, &[u8])> {
    let (&[alg, _flags, hi, lo, salt_len], rest) = rdata.split_first_chunk::<5>()?;
    if alg != 1 {
        return None;
    }
    let salt = rest.get(..usize::from(salt_len))?;
    Some((u16::from_be_bytes([hi, lo]), salt))
}

/// Decodes a base32hex label without padding (RFC 4648 section 7) of exactly 32 characters into
/// a hash; case-insensitive.
pub fn base32hex_decode(label: &[u8]) -> Option<Nsec3Hash> {
    if label.len() != 32 {
        return None;
    }
    let mut out = [0u8; NSEC3_HASH_LEN];
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    let mut pos = 0;
    for &c in label {
        let v = match c.to_ascii_lowercase() {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'v' => c - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(pos)? = (acc >> bits) as u8;
            pos += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{build, name};

    fn hex(h: &Nsec3Hash) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 5155 appendix A: salt aabbccdd, 12 iterations.
    #[test]
    fn hashes_match_rfc5155_appendix_a() {
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let cases = [
            ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
            ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
            ("X.W.Example.", "b4um86eghhds6nea196smvmlo4ors995"),
        ];
        for (n, want) in cases {
            let got = nsec3_hash(name(n).as_ref(), &salt, 12);
            assert_eq!(
                hex(&got),
                hex(&base32hex_decode(want.as_bytes()).unwrap()),
                "{n}"
            );
        }
    }

    #[test]
    fn base32hex_rejects_bad_labels() {
        assert!(base32hex_decode(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3to").is_none());
        assert!(base32hex_decode(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3toz").is_none());
        assert!(base32hex_decode(b"0P9MHAVEQVM6T7VBL5LOP2U3T2RP3TOM").is_some());
    }

    const NSEC_ZONE: &str = "
        @ 3600 SOA ns.example. h.example. 1 2 3 4 300
        @ 3600 NS ns.example.
        @ 300 NSEC a.example. NS SOA RRSIG NSEC DNSKEY
        a 3600 A 192.0.2.1
        a 300 NSEC d.b.example. A RRSIG NSEC
        d.b 3600 A 192.0.2.2
        d.b 300 NSEC ns.example. A RRSIG NSEC
        ns 3600 A 192.0.2.3
        ns 300 NSEC example. A RRSIG NSEC
    ";

    #[test]
    fn nsec_covering_finds_the_predecessor() {
        let z = build("example.", NSEC_ZONE).unwrap().zone;
        assert_eq!(z.denial_chain(), DenialChain::Nsec);
        let owner = |n: &str| {
            z.nsec_covering(name(n).as_ref())
                .unwrap()
                .owner()
                .to_string()
        };
        assert_eq!(owner("example."), "example.");
        assert_eq!(owner("0.example."), "example.");
        assert_eq!(owner("a.example."), "a.example.");
        assert_eq!(owner("b.example."), "a.example.", "an empty non-terminal");
        assert_eq!(owner("c.b.example."), "a.example.");
        assert_eq!(owner("z.b.example."), "d.b.example.");
        assert_eq!(owner("zz.example."), "ns.example.");
        assert_eq!(owner("NS.Example."), "ns.example.");
        assert_eq!(z.nsec3_hash(name("a.example.").as_ref()), None);
        assert_eq!(z.nsec3_hash_cost(), 0);
    }

    #[test]
    fn unsigned_zones_have_no_chain() {
        let z = build(
            "example.",
            "@ 3600 SOA ns.example. h.example. 1 2 3 4 300\n@ 3600 NS ns.example.",
        )
        .unwrap()
        .zone;
        assert_eq!(z.denial_chain(), DenialChain::None);
        assert!(z.nsec_covering(name("a.example.").as_ref()).is_none());
    }

    #[test]
    fn nsec3_find_matches_and_covers() {
        // Owner hashes from RFC 5155 appendix A (salt aabbccdd, 12 iterations).
        let text = "
            @ 3600 SOA ns.example. h.example. 1 2 3 4 300
            @ 3600 NS ns.example.
            @ 0 NSEC3PARAM 1 0 12 aabbccdd
            0p9mhaveqvm6t7vbl5lop2u3t2rp3tom 300 NSEC3 1 1 12 aabbccdd 35mthgpgcu1qg68fab165klnsnk3dpvl NS SOA NSEC3PARAM
            35mthgpgcu1qg68fab165klnsnk3dpvl 300 NSEC3 1 1 12 aabbccdd gjeqe526plbf1g8mklp59enfd789njgi NS DS
            gjeqe526plbf1g8mklp59enfd789njgi 300 NSEC3 1 0 12 aabbccdd 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A
            ns 3600 A 192.0.2.3
        ";
        let z = build("example.", text).unwrap().zone;
        assert_eq!(z.denial_chain(), DenialChain::Nsec3);
        assert_eq!(z.nsec3_hash_cost(), 13);
        let find = |n: &str| {
            z.nsec3_find(&z.nsec3_hash(name(n).as_ref()).unwrap())
                .unwrap()
        };
        let Nsec3Find::Matches(apex) = find("example.") else {
            panic!("apex")
        };
        assert!(apex.owner().to_string().starts_with("0p9mh"));
        assert!(apex.nsec3_opt_out());
        // xx.example. hashes to t644…, after the last owner: the last NSEC3 covers it.
        let Nsec3Find::Covers(last) = find("xx.example.") else {
            panic!("xx")
        };
        assert!(last.owner().to_string().starts_with("gjeqe"));
        assert!(!last.nsec3_opt_out());
        // *.w.example. hashes to r53b…, also after gjeqe.
        assert!(matches!(find("*.w.example."), Nsec3Find::Covers(n) if n == last));
        // x.w.example. hashes to b4um…, between 35mt… and gjeq….
        let Nsec3Find::Covers(n) = find("x.w.example.") else {
            panic!("x.w")
        };
        assert!(n.owner().to_string().starts_with("35mth"));
        // A hash before the first owner wraps to the last.
        assert!(matches!(z.nsec3_find(&[0; 20]), Some(Nsec3Find::Covers(n)) if n == last));
        // The NSEC3 owner names themselves do not exist (RFC 5155 section 7.2.8).
        for qtype in [RType::A, RType::NSEC3, RType::RRSIG] {
            let owner = name("gjeqe526plbf1g8mklp59enfd789njgi.example.");
            let crate::Lookup::NxDomain { closest_encloser } = z.lookup(owner.as_ref(), qtype)
            else {
                panic!("{qtype}: {:?}", z.lookup(owner.as_ref(), qtype))
            };
            assert!(closest_encloser.is_apex());
        }
    }

    #[test]
    fn nsec3_records_with_other_parameters_are_ignored() {
        let text = "
            @ 3600 SOA ns.example. h.example. 1 2 3 4 300
            @ 3600 NS ns.example.
            @ 0 NSEC3PARAM 1 0 12 aabbccdd
            0p9mhaveqvm6t7vbl5lop2u3t2rp3tom 300 NSEC3 1 0 5 aabbccdd 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NS SOA
            ns 3600 A 192.0.2.3
        ";
        let z = build("example.", text).unwrap().zone;
        assert_eq!(z.denial_chain(), DenialChain::None);
    }
}
