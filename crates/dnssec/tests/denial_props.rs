//! Property tests of the denial proofs.
//!
//! - **Against a model**: a random zone under `example.` (names of up to three labels, some of
//!   them wildcards) is signed in memory with a complete NSEC chain and a complete NSEC3 chain.
//!   For random query names around those names, each proof must hold exactly when the model
//!   says the name is absent, present without the type, an empty non-terminal, or covered by a
//!   wildcard. Given only a random subset of the chain, a proof may fail but must never claim
//!   something false (a proof with the wrong records fails).
//! - **No panics**: random NSEC and NSEC3 RDATA, well-formed or not, never make a proof panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::collections::BTreeSet;

use cache::RrSet;
use dnssec::{
    Denial, DenialError, NoDs, Nsec3Limits, nsec3_hash, prove_no_ds, prove_nodata, prove_nxdomain,
    prove_wildcard,
};
use proptest::prelude::*;
use wire::rdata::TypeBitmap;
use wire::{Class, Name, NameRef, RType};

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn apex() -> Name {
    name("example.")
}

fn rrset(owner: Name, rtype: RType, rdata: Vec<u8>) -> RrSet {
    RrSet {
        owner,
        rtype,
        class: Class::IN,
        ttl: 300,
        rdatas: vec![rdata],
        sigs: Vec::new(),
    }
}

/// A relative name of 1 to `max` labels from a small alphabet, so that names collide, nest and
/// sort next to each other; a leftmost `*` now and then.
fn relative(max: usize, wildcards: bool) -> impl Strategy<Value = String> {
    let label = prop_oneof![Just("a"), Just("b"), Just("c"), Just("d"), Just("bb")];
    (proptest::collection::vec(label, 1..=max), any::<u8>()).prop_map(move |(labels, star)| {
        let mut s = String::new();
        if wildcards && star % 4 == 0 {
            s.push_str("*.");
        }
        for l in labels {
            s.push_str(l);
            s.push('.');
        }
        s + "example."
    })
}

/// The zone: the apex (SOA, NS), names holding A, and delegations (NS only, unsigned); names
/// below a delegation belong to the child and are not in the zone.
struct Model {
    names: BTreeSet<Name>,
    cuts: BTreeSet<Name>,
}

impl Model {
    /// `rel` are the zone's names; those whose index is in `cut_mask` (and are not wildcards)
    /// become delegations.
    fn new(rel: &[String], cut_mask: u64) -> Model {
        let mut names = BTreeSet::new();
        let mut cuts = BTreeSet::new();
        for (i, s) in rel.iter().enumerate() {
            let n = name(s);
            if cut_mask >> (i % 64) & 1 == 1 && !n.as_ref().is_wildcard() {
                cuts.insert(n);
            } else {
                names.insert(n);
            }
        }
        let below_cut = |n: &Name| {
            cuts.iter()
                .any(|c| n.as_ref() != c.as_ref() && n.as_ref().is_subdomain_of(c.as_ref()))
        };
        let cuts_kept: BTreeSet<Name> = cuts.iter().filter(|c| !below_cut(c)).cloned().collect();
        names.retain(|n| !below_cut(n) && !cuts.contains(n));
        names.insert(apex());
        Model {
            names,
            cuts: cuts_kept,
        }
    }

    fn has_data(&self, q: NameRef<'_>) -> bool {
        self.names.iter().any(|n| n.as_ref() == q)
    }

    fn is_cut(&self, q: NameRef<'_>) -> bool {
        self.cuts.iter().any(|c| c.as_ref() == q)
    }

    /// Strictly below a delegation: the child zone's name, not this zone's.
    fn below_cut(&self, q: NameRef<'_>) -> bool {
        self.cuts
            .iter()
            .any(|c| c.as_ref() != q && q.is_subdomain_of(c.as_ref()))
    }

    /// The name or something below it is in the zone.
    fn exists(&self, q: NameRef<'_>) -> bool {
        self.names
            .iter()
            .chain(&self.cuts)
            .any(|n| n.as_ref().is_subdomain_of(q))
    }

    fn all_names(&self) -> BTreeSet<Name> {
        let apex = apex();
        let mut all = BTreeSet::new();
        for n in self.names.iter().chain(&self.cuts) {
            let mut cur = n.as_ref();
            loop {
                all.insert(cur.to_name());
                if cur == apex.as_ref() {
                    break;
                }
                cur = cur.parent().unwrap();
            }
        }
        all
    }

    fn closest_encloser<'q>(&self, q: NameRef<'q>) -> NameRef<'q> {
        let mut cur = q;
        while !self.exists(cur) {
            cur = cur.parent().unwrap();
        }
        cur
    }

    /// The wildcard that would answer `q`, as its closest encloser, if `q` does not exist.
    fn wildcard_source<'q>(&self, q: NameRef<'q>) -> Option<NameRef<'q>> {
        if self.exists(q) {
            return None;
        }
        let ce = self.closest_encloser(q);
        let wild = ce.to_name().prepend(b"*").unwrap();
        self.has_data(wild.as_ref()).then_some(ce)
    }

    fn types(&self, owner: NameRef<'_>, nsec3: bool) -> Vec<RType> {
        let sig = if nsec3 { RType::RRSIG } else { RType::NSEC };
        if owner == apex().as_ref() {
            vec![RType::SOA, RType::NS, RType::DNSKEY, RType::RRSIG, sig]
        } else if self.is_cut(owner) {
            if nsec3 {
                vec![RType::NS]
            } else {
                vec![RType::NS, RType::RRSIG, RType::NSEC]
            }
        } else if self.has_data(owner) {
            vec![RType::A, RType::RRSIG, sig]
        } else {
            Vec::new()
        }
    }

    /// The complete NSEC chain, in canonical order, the last record pointing at the apex.
    fn nsec_chain(&self) -> Vec<RrSet> {
        let all: BTreeSet<&Name> = self.names.iter().chain(&self.cuts).collect();
        let names: Vec<&Name> = all.into_iter().collect();
        (0..names.len())
            .map(|i| {
                let next = names[(i + 1) % names.len()];
                let mut rdata = next.as_wire().to_vec();
                TypeBitmap::write(&self.types(names[i].as_ref(), false), &mut rdata);
                rrset(names[i].clone(), RType::NSEC, rdata)
            })
            .collect()
    }

    /// The complete NSEC3 chain, empty non-terminals included.
    fn nsec3_chain(&self, salt: &[u8], iterations: u16) -> Vec<RrSet> {
        let mut hashed: Vec<([u8; 20], Name)> = self
            .all_names()
            .into_iter()
            .map(|n| (nsec3_hash(n.as_ref(), salt, iterations), n))
            .collect();
        hashed.sort();
        (0..hashed.len())
            .map(|i| {
                let (hash, n) = &hashed[i];
                let next = hashed[(i + 1) % hashed.len()].0;
                let mut rdata = vec![1, 0];
                rdata.extend_from_slice(&iterations.to_be_bytes());
                rdata.push(salt.len() as u8);
                rdata.extend_from_slice(salt);
                rdata.push(20);
                rdata.extend_from_slice(&next);
                TypeBitmap::write(&self.types(n.as_ref(), true), &mut rdata);
                let mut label = String::new();
                wire::rdata::write_base32hex(hash, &mut label);
                rrset(name(&format!("{label}.example.")), RType::NSEC3, rdata)
            })
            .collect()
    }
}

const LIMITS: Nsec3Limits = Nsec3Limits {
    max_iterations: 50,
    max_hashes: 64,
};

fn proven(r: Result<Denial, DenialError>) -> bool {
    r == Ok(Denial::Proven)
}

/// What the full chain must prove and what no subset may prove falsely.
fn check(model: &Model, chain: &[RrSet], subset: &[RrSet], q: NameRef<'_>) {
    let zone = apex();
    let zone = zone.as_ref();
    if model.below_cut(q) || model.is_cut(q) {
        return check_cut(model, chain, subset, q);
    }
    let wildcard = model.wildcard_source(q);
    let nxdomain = !model.exists(q) && wildcard.is_none();
    let ent = model.exists(q) && !model.has_data(q);

    // Completeness with the whole chain.
    assert_eq!(
        proven(prove_nxdomain(q, zone, chain, &LIMITS)),
        nxdomain,
        "nxdomain {q}"
    );
    let nodata_mx = model.exists(q) || wildcard.is_some();
    assert_eq!(
        proven(prove_nodata(q, RType::MX, zone, chain, &LIMITS)),
        nodata_mx,
        "nodata MX {q}"
    );
    let nodata_a = ent;
    assert_eq!(
        proven(prove_nodata(q, RType::A, zone, chain, &LIMITS)),
        nodata_a,
        "nodata A {q}"
    );
    if let Some(ce) = wildcard {
        let labels = ce.label_count() as u8;
        assert!(
            proven(prove_wildcard(q, labels, zone, chain, &LIMITS)),
            "wildcard {q}"
        );
    }
    if q != zone && model.exists(q) {
        assert!(prove_no_ds(q, zone, chain, &LIMITS).is_ok(), "no DS {q}");
    }

    // Soundness with any subset.
    if proven(prove_nxdomain(q, zone, subset, &LIMITS)) {
        assert!(nxdomain, "false nxdomain {q}");
    }
    if proven(prove_nodata(q, RType::MX, zone, subset, &LIMITS)) {
        assert!(nodata_mx, "false nodata MX {q}");
    }
    if proven(prove_nodata(q, RType::A, zone, subset, &LIMITS)) {
        assert!(nodata_a, "false nodata A {q}");
    }
    if model.exists(q) {
        // A name that exists is never the next closer of a wildcard answer.
        for labels in 0..q.label_count() as u8 {
            assert!(
                !proven(prove_wildcard(q, labels, zone, subset, &LIMITS)),
                "false wildcard {q}"
            );
        }
    }
    if prove_no_ds(q, zone, subset, &LIMITS).is_ok() {
        assert!(model.exists(q) && q != zone, "false no DS {q}");
    }
}

/// At or below a delegation the parent's records deny nothing but the DS at the cut
/// (RFC 6840 section 4.1).
fn check_cut(model: &Model, chain: &[RrSet], subset: &[RrSet], q: NameRef<'_>) {
    let nsec3 = chain.iter().any(|s| s.rtype == RType::NSEC3);
    let zone = apex();
    let zone = zone.as_ref();
    let at_cut = model.is_cut(q);
    if at_cut {
        assert_eq!(
            prove_no_ds(q, zone, chain, &LIMITS),
            Ok(NoDs::Delegation),
            "no DS {q}"
        );
        assert!(
            proven(prove_nodata(q, RType::DS, zone, chain, &LIMITS)),
            "nodata DS {q}"
        );
    }
    for set in [chain, subset] {
        assert!(
            !proven(prove_nxdomain(q, zone, set, &LIMITS)),
            "nxdomain at/below cut {q}"
        );
        for qtype in [RType::A, RType::MX, RType::NS] {
            assert!(
                !proven(prove_nodata(q, qtype, zone, set, &LIMITS)),
                "nodata {qtype} at/below cut {q}"
            );
        }
        // NSEC shows the cut above the next closer name; an NSEC3 cover cannot (RFC 5155
        // section 8.8 asks only for it): there the answer's RRSIG vouches that the wildcard
        // is the zone's own, and the zone holds nothing below its cuts.
        if !nsec3 || model.is_cut(q) {
            for labels in 0..q.label_count() as u8 {
                assert!(
                    !proven(prove_wildcard(q, labels, zone, set, &LIMITS)),
                    "wildcard {q}"
                );
            }
        }
        match prove_no_ds(q, zone, set, &LIMITS) {
            Ok(NoDs::Delegation) => assert!(at_cut, "false delegation {q}"),
            Ok(other) => panic!("{other:?} at/below cut {q}"),
            Err(_) => {}
        }
        if !at_cut {
            assert!(
                !proven(prove_nodata(q, RType::DS, zone, set, &LIMITS)),
                "DS below cut {q}"
            );
        }
    }
}

fn pick(chain: &[RrSet], mask: u64) -> Vec<RrSet> {
    chain
        .iter()
        .enumerate()
        .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
        .map(|(_, s)| s.clone())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nsec_proofs_match_the_model(
        rel in proptest::collection::vec(relative(3, true), 1..10),
        queries in proptest::collection::vec(relative(4, true), 1..8),
        mask in any::<u64>(),
        cuts in any::<u64>(),
    ) {
        let model = Model::new(&rel, cuts & cuts >> 7);
        let chain = model.nsec_chain();
        let subset = pick(&chain, mask);
        for q in &queries {
            check(&model, &chain, &subset, name(q).as_ref());
        }
    }

    #[test]
    fn nsec3_proofs_match_the_model(
        rel in proptest::collection::vec(relative(3, true), 1..10),
        queries in proptest::collection::vec(relative(4, true), 1..8),
        salt in proptest::collection::vec(any::<u8>(), 0..4),
        iterations in 0u16..3,
        mask in any::<u64>(),
        cuts in any::<u64>(),
    ) {
        let model = Model::new(&rel, cuts & cuts >> 7);
        let chain = model.nsec3_chain(&salt, iterations);
        let subset = pick(&chain, mask);
        for q in &queries {
            check(&model, &chain, &subset, name(q).as_ref());
        }
    }

    #[test]
    fn random_rdata_never_panics(
        sets in proptest::collection::vec(
            (relative(3, true), any::<bool>(), proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..48), 1..3)),
            0..6),
        q in relative(5, true),
        labels in any::<u8>(),
        qtype in any::<u16>(),
    ) {
        let rrsets: Vec<RrSet> = sets
            .into_iter()
            .map(|(owner, nsec3, rdatas)| RrSet {
                rdatas,
                ..rrset(name(&owner), if nsec3 { RType::NSEC3 } else { RType::NSEC }, Vec::new())
            })
            .collect();
        run_all(&rrsets, name(&q).as_ref(), labels, RType(qtype));
    }

    #[test]
    fn random_nsec3_fields_never_panic(
        records in proptest::collection::vec(
            (any::<[u8; 20]>(), 0u8..3, any::<u8>(), 0u16..8,
             proptest::collection::vec(any::<u8>(), 0..6),
             proptest::collection::vec(any::<u8>(), 1..24),
             proptest::collection::vec(any::<u16>(), 0..6)),
            0..8),
        q in relative(6, true),
        labels in any::<u8>(),
        qtype in any::<u16>(),
    ) {
        let rrsets: Vec<RrSet> = records
            .into_iter()
            .map(|(owner, alg, flags, iterations, salt, next, types)| {
                let mut rdata = vec![alg, flags];
                rdata.extend_from_slice(&iterations.to_be_bytes());
                rdata.push(salt.len() as u8);
                rdata.extend_from_slice(&salt);
                rdata.push(next.len() as u8);
                rdata.extend_from_slice(&next);
                let types: Vec<RType> = types.into_iter().map(RType).collect();
                TypeBitmap::write(&types, &mut rdata);
                let mut label = String::new();
                wire::rdata::write_base32hex(&owner, &mut label);
                rrset(name(&format!("{label}.example.")), RType::NSEC3, rdata)
            })
            .collect();
        run_all(&rrsets, name(&q).as_ref(), labels, RType(qtype));
    }
}

fn run_all(rrsets: &[RrSet], q: NameRef<'_>, labels: u8, qtype: RType) {
    let limits = Nsec3Limits {
        max_iterations: 5,
        max_hashes: 8,
    };
    for zone in [apex(), Name::root(), name("a.example.")] {
        let zone = zone.as_ref();
        let _ = prove_nxdomain(q, zone, rrsets, &limits);
        let _ = prove_nodata(q, qtype, zone, rrsets, &limits);
        let _ = prove_wildcard(q, labels, zone, rrsets, &limits);
        let _ = prove_no_ds(q, zone, rrsets, &limits);
    }
}

/// The canonical order the model's chain is built in is the one the proofs compare with.
#[test]
fn model_chain_is_in_canonical_order() {
    let model = Model::new(
        &[
            "b.example.".into(),
            "*.a.example.".into(),
            "a.b.example.".into(),
        ],
        0,
    );
    let chain = model.nsec_chain();
    let owners: Vec<String> = chain.iter().map(|s| s.owner.to_string()).collect();
    assert_eq!(
        owners,
        ["example.", "*.a.example.", "b.example.", "a.b.example."]
    );
    for pair in chain.windows(2) {
        assert_eq!(
            pair[0]
                .owner
                .as_ref()
                .canonical_cmp(&pair[1].owner.as_ref()),
            Ordering::Less
        );
    }
}
