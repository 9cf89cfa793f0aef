//! Denial-of-existence proofs checked against the worked examples of the RFCs:
//!
//! - RFC 5155 Appendix A (the `example.` zone signed with NSEC3, salt `aabbccdd`, 12 iterations,
//!   opt-out on every record) and the responses of Appendix B: name error (B.1), no data (B.2),
//!   empty non-terminal (B.2.1), referral to an opt-out unsigned zone (B.3), wildcard expansion
//!   (B.4), wildcard no data (B.5), DS no data from the child (B.6);
//! - RFC 4035 Appendix A (the same zone signed with NSEC) and the responses of Appendix B.
//!
//! The records are the RFCs' own, typed in; the hashes are recomputed by [`nsec3_hash`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use cache::RrSet;
use dnssec::{
    Denial, DenialError, NoDs, Nsec3Limits, nsec3_hash, prove_no_ds, prove_nodata, prove_nxdomain,
    prove_wildcard,
};
use wire::{Name, RType};

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// RRsets from zone-file text (absolute names), grouped by owner and type.
fn rrsets(text: &str) -> Vec<RrSet> {
    let mut out: Vec<RrSet> = Vec::new();
    for record in zone::parse_str(text, Path::new("test"), Name::root().as_ref()) {
        let r = record.unwrap_or_else(|e| panic!("{e}"));
        match out
            .iter_mut()
            .find(|s| s.owner == r.owner && s.rtype == r.rtype)
        {
            Some(set) => set.rdatas.push(r.rdata),
            None => out.push(RrSet {
                owner: r.owner,
                rtype: r.rtype,
                class: r.class,
                ttl: r.ttl,
                rdatas: vec![r.rdata],
                sigs: Vec::new(),
            }),
        }
    }
    out
}

fn base32hex(hash: &[u8]) -> String {
    let mut s = String::new();
    wire::rdata::write_base32hex(hash, &mut s);
    s
}

const LIMITS: Nsec3Limits = Nsec3Limits {
    max_iterations: 50,
    max_hashes: 32,
};

// ---------------------------------------------------------------------------------------------
// RFC 5155
// ---------------------------------------------------------------------------------------------

/// RFC 5155 Appendix A: the hashed owner names of the example zone.
#[test]
fn rfc5155_appendix_a_hashes() {
    let salt = [0xaa, 0xbb, 0xcc, 0xdd];
    for (owner, hash) in [
        ("example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
        ("a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
        ("ai.example.", "gjeqe526plbf1g8mklp59enfd789njgi"),
        ("ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ("ns2.example.", "q04jkcevqvmu85r014c7dkba38o0ji5r"),
        ("w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"),
        ("*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ("x.w.example.", "b4um86eghhds6nea196smvmlo4ors995"),
        ("y.w.example.", "ji6neoaepv8b5o6k4ev33abha8ht9fgc"),
        ("x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"),
        ("xx.example.", "t644ebqk9bibcna874givr6joj62mlhv"),
        (
            "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
            "kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
        ),
        // Case does not matter: the name is lowercased first.
        ("X.W.Example.", "b4um86eghhds6nea196smvmlo4ors995"),
    ] {
        let got = nsec3_hash(name(owner).as_ref(), &salt, 12);
        assert_eq!(base32hex(&got), hash, "{owner}");
    }
}

/// The NSEC3 chain of RFC 5155 Appendix A (RRSIGs left out: the callers check them).
const NSEC3_ZONE: &str = "\
0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM
2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. 3600 IN NSEC3 1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG
2vptu5timamqttgl4luu9kg21e0aor3s.example. 3600 IN NSEC3 1 1 12 aabbccdd 35mthgpgcu1qg68fab165klnsnk3dpvl MX RRSIG
35mthgpgcu1qg68fab165klnsnk3dpvl.example. 3600 IN NSEC3 1 1 12 aabbccdd b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG
b4um86eghhds6nea196smvmlo4ors995.example. 3600 IN NSEC3 1 1 12 aabbccdd gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG
gjeqe526plbf1g8mklp59enfd789njgi.example. 3600 IN NSEC3 1 1 12 aabbccdd ji6neoaepv8b5o6k4ev33abha8ht9fgc A HINFO AAAA RRSIG
ji6neoaepv8b5o6k4ev33abha8ht9fgc.example. 3600 IN NSEC3 1 1 12 aabbccdd k8udemvp1j2f7eg6jebps17vp3n8i58h
k8udemvp1j2f7eg6jebps17vp3n8i58h.example. 3600 IN NSEC3 1 1 12 aabbccdd kohar7mbb8dc2ce8a9qvl8hon4k53uhi
kohar7mbb8dc2ce8a9qvl8hon4k53uhi.example. 3600 IN NSEC3 1 1 12 aabbccdd q04jkcevqvmu85r014c7dkba38o0ji5r A HINFO AAAA RRSIG
q04jkcevqvmu85r014c7dkba38o0ji5r.example. 3600 IN NSEC3 1 1 12 aabbccdd r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG
r53bq7cc2uvmubfu5ocmm6pers9tk9en.example. 3600 IN NSEC3 1 1 12 aabbccdd t644ebqk9bibcna874givr6joj62mlhv MX RRSIG
t644ebqk9bibcna874givr6joj62mlhv.example. 3600 IN NSEC3 1 1 12 aabbccdd 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A HINFO AAAA RRSIG
";

/// The NSEC3 records of the chain whose owner hashes start with the given prefixes, with the
/// flags field rewritten (the Appendix sets opt-out on every record).
fn nsec3s(prefixes: &[&str], flags: u8) -> Vec<RrSet> {
    let text: String = NSEC3_ZONE
        .lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .map(|l| l.replace(" NSEC3 1 1 12 ", &format!(" NSEC3 1 {flags} 12 ")) + "\n")
        .collect();
    let sets = rrsets(&text);
    assert_eq!(sets.len(), prefixes.len(), "{prefixes:?}");
    sets
}

fn example() -> Name {
    name("example.")
}

/// B.1: name error for a.c.x.w.example: 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom covers the next
/// closer name c.x.w.example, b4um86eghhds6nea196smvmlo4ors995 matches the closest encloser
/// x.w.example, 35mthgpgcu1qg68fab165klnsnk3dpvl covers the wildcard *.x.w.example.
#[test]
fn rfc5155_b1_name_error() {
    let q = name("a.c.x.w.example.");
    let zone = example();
    let proof = ["0p9m", "b4um", "35mt"];
    // The Appendix's records carry opt-out: the covered span may hide an unsigned delegation,
    // so the answer is insecure (RFC 5155 section 9.2).
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &nsec3s(&proof, 1), &LIMITS),
        Ok(Denial::OptOut)
    );
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &nsec3s(&proof, 0), &LIMITS),
        Ok(Denial::Proven)
    );
    // Each record is needed.
    for missing in 0..proof.len() {
        let mut some = proof.to_vec();
        some.remove(missing);
        assert_eq!(
            prove_nxdomain(q.as_ref(), zone.as_ref(), &nsec3s(&some, 0), &LIMITS),
            Err(DenialError::Missing),
            "without {}",
            proof[missing]
        );
    }
    // The proof is for this name only: an existing name is not denied by it.
    for exists in ["x.w.example.", "ns1.example.", "example."] {
        assert_eq!(
            prove_nxdomain(
                name(exists).as_ref(),
                zone.as_ref(),
                &nsec3s(&proof, 0),
                &LIMITS
            ),
            Err(DenialError::Missing),
            "{exists}"
        );
    }
}

/// The whole chain proves exactly the names that do not exist.
#[test]
fn rfc5155_full_chain_nxdomain() {
    let all = rrsets(&NSEC3_ZONE.replace(" NSEC3 1 1 12 ", " NSEC3 1 0 12 "));
    let zone = example();
    for exists in [
        "example.",
        "a.example.",
        "ai.example.",
        "ns1.example.",
        "ns2.example.",
        "w.example.",
        "*.w.example.",
        "x.w.example.",
        "y.w.example.",
        "x.y.w.example.",
        "xx.example.",
        "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.",
    ] {
        assert_eq!(
            prove_nxdomain(name(exists).as_ref(), zone.as_ref(), &all, &LIMITS),
            Err(DenialError::Missing),
            "{exists}"
        );
    }
    for absent in [
        "b.example.",
        "zz.example.",
        "a.c.x.w.example.",
        "q.x.y.w.example.",
    ] {
        assert_eq!(
            prove_nxdomain(name(absent).as_ref(), zone.as_ref(), &all, &LIMITS),
            Ok(Denial::Proven),
            "{absent}"
        );
    }
    // Below w.example a wildcard exists, so no name there is denied: the wildcard answers.
    assert_eq!(
        prove_nxdomain(
            name("a.z.w.example.").as_ref(),
            zone.as_ref(),
            &all,
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
    // Below a.example the names belong to the child zone: the parent cannot deny them.
    assert_eq!(
        prove_nxdomain(name("b.a.example.").as_ref(), zone.as_ref(), &all, &LIMITS),
        Err(DenialError::Missing)
    );
}

/// B.2: no data for ns1.example MX: 2t7b4g4vsa5smi47k61mv5bv1a22bojr matches ns1.example with
/// neither MX nor CNAME.
#[test]
fn rfc5155_b2_no_data() {
    let zone = example();
    let q = name("ns1.example.");
    let set = nsec3s(&["2t7b"], 1);
    assert_eq!(
        prove_nodata(q.as_ref(), RType::MX, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
    // With CNAME at the name the data may be at the target (RFC 6840 section 4.4).
    let cname = rrsets(
        "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. 3600 IN NSEC3 1 0 12 aabbccdd \
         2vptu5timamqttgl4luu9kg21e0aor3s CNAME RRSIG\n",
    );
    assert_eq!(
        prove_nodata(q.as_ref(), RType::MX, zone.as_ref(), &cname, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(q.as_ref(), RType::A, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    // The record matches ns1.example only.
    assert_eq!(
        prove_nodata(
            name("ns2.example.").as_ref(),
            RType::MX,
            zone.as_ref(),
            &set,
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// B.2.1: no data for the empty non-terminal y.w.example: ji6neoaepv8b5o6k4ev33abha8ht9fgc
/// matches it with an empty type bitmap.
#[test]
fn rfc5155_b2_1_empty_non_terminal() {
    let zone = example();
    let q = name("y.w.example.");
    let set = nsec3s(&["ji6n"], 1);
    for qtype in [RType::A, RType::DS, RType::TXT] {
        assert_eq!(
            prove_nodata(q.as_ref(), qtype, zone.as_ref(), &set, &LIMITS),
            Ok(Denial::Proven),
            "{qtype}"
        );
    }
    assert_eq!(
        prove_no_ds(q.as_ref(), zone.as_ref(), &set, &LIMITS),
        Ok(NoDs::NotACut)
    );
}

/// B.3: referral to the unsigned c.example through an opt-out span: 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom
/// matches the closest provable encloser example, 35mthgpgcu1qg68fab165klnsnk3dpvl covers the
/// next closer c.example with opt-out.
#[test]
fn rfc5155_b3_opt_out_referral() {
    let zone = example();
    let c = name("c.example.");
    let set = nsec3s(&["35mt", "0p9m"], 1);
    assert_eq!(
        prove_no_ds(c.as_ref(), zone.as_ref(), &set, &LIMITS),
        Ok(NoDs::OptOut)
    );
    assert_eq!(
        prove_nodata(c.as_ref(), RType::DS, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::OptOut)
    );
    // Without opt-out the same records prove c.example absent, not an insecure delegation.
    let strict = nsec3s(&["35mt", "0p9m"], 0);
    assert_eq!(
        prove_no_ds(c.as_ref(), zone.as_ref(), &strict, &LIMITS),
        Err(DenialError::Missing)
    );
    // Without the record matching the closest encloser there is no proof.
    assert_eq!(
        prove_no_ds(c.as_ref(), zone.as_ref(), &nsec3s(&["35mt"], 1), &LIMITS),
        Err(DenialError::Missing)
    );
}

/// B.4: a.z.w.example MX answered from *.w.example (RRSIG labels 2):
/// q04jkcevqvmu85r014c7dkba38o0ji5r covers the next closer name z.w.example.
#[test]
fn rfc5155_b4_wildcard_expansion() {
    let zone = example();
    let q = name("a.z.w.example.");
    assert_eq!(
        prove_wildcard(q.as_ref(), 2, zone.as_ref(), &nsec3s(&["q04j"], 1), &LIMITS),
        Ok(Denial::OptOut)
    );
    assert_eq!(
        prove_wildcard(q.as_ref(), 2, zone.as_ref(), &nsec3s(&["q04j"], 0), &LIMITS),
        Ok(Denial::Proven)
    );
    // With labels 1 the next closer would be w.example, which exists.
    assert_eq!(
        prove_wildcard(q.as_ref(), 1, zone.as_ref(), &nsec3s(&["q04j"], 0), &LIMITS),
        Err(DenialError::Missing)
    );
    // The wrong record proves nothing.
    assert_eq!(
        prove_wildcard(q.as_ref(), 2, zone.as_ref(), &nsec3s(&["k8ud"], 0), &LIMITS),
        Err(DenialError::Missing)
    );
    // A labels field above the owner's label count is impossible; equal means no wildcard.
    assert_eq!(
        prove_wildcard(q.as_ref(), 5, zone.as_ref(), &[], &LIMITS),
        Err(DenialError::Malformed)
    );
    assert_eq!(
        prove_wildcard(q.as_ref(), 4, zone.as_ref(), &[], &LIMITS),
        Ok(Denial::Proven)
    );
}

/// B.5: wildcard no data for a.z.w.example AAAA: k8udemvp1j2f7eg6jebps17vp3n8i58h matches the
/// closest encloser w.example, q04jkcevqvmu85r014c7dkba38o0ji5r covers the next closer
/// z.w.example, r53bq7cc2uvmubfu5ocmm6pers9tk9en matches the wildcard *.w.example without AAAA.
#[test]
fn rfc5155_b5_wildcard_no_data() {
    let zone = example();
    let q = name("a.z.w.example.");
    let proof = ["k8ud", "q04j", "r53b"];
    assert_eq!(
        prove_nodata(
            q.as_ref(),
            RType::AAAA,
            zone.as_ref(),
            &nsec3s(&proof, 1),
            &LIMITS
        ),
        Ok(Denial::OptOut)
    );
    assert_eq!(
        prove_nodata(
            q.as_ref(),
            RType::AAAA,
            zone.as_ref(),
            &nsec3s(&proof, 0),
            &LIMITS
        ),
        Ok(Denial::Proven)
    );
    // The wildcard has MX: no denial of MX.
    assert_eq!(
        prove_nodata(
            q.as_ref(),
            RType::MX,
            zone.as_ref(),
            &nsec3s(&proof, 0),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
    for missing in 0..proof.len() {
        let mut some = proof.to_vec();
        some.remove(missing);
        assert_eq!(
            prove_nodata(
                q.as_ref(),
                RType::AAAA,
                zone.as_ref(),
                &nsec3s(&some, 0),
                &LIMITS
            ),
            Err(DenialError::Missing),
            "without {}",
            proof[missing]
        );
    }
}

/// B.6: the DS query for example. answered by the example zone itself: the NSEC3 matching
/// example has SOA, so it is the child's apex record and cannot deny the DS the parent holds
/// (a validator asks the parent). The same record does deny other types at the apex.
#[test]
fn rfc5155_b6_ds_from_child_is_not_accepted() {
    let zone = example();
    let set = nsec3s(&["0p9m"], 1);
    assert_eq!(
        prove_nodata(zone.as_ref(), RType::DS, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_no_ds(zone.as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(zone.as_ref(), RType::TXT, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
}

/// Delegations in the NSEC3 zone: a.example is a signed delegation (NS DS), its NSEC3 neither
/// denies the DS nor the child's data.
#[test]
fn rfc5155_delegation_records() {
    let zone = example();
    let a = name("a.example.");
    let set = nsec3s(&["35mt"], 0);
    assert_eq!(
        prove_no_ds(a.as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(a.as_ref(), RType::MX, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    // ai.example exists without NS: no cut there.
    assert_eq!(
        prove_no_ds(
            name("ai.example.").as_ref(),
            zone.as_ref(),
            &nsec3s(&["gjeq"], 0),
            &LIMITS
        ),
        Ok(NoDs::NotACut)
    );
}

/// RFC 9276 and CVE-2023-50868: iteration cap, hash budget, unknown algorithm and flags.
#[test]
fn nsec3_limits_and_unusable_records() {
    let zone = example();
    let q = name("a.c.x.w.example.");
    let proof = nsec3s(&["0p9m", "b4um", "35mt"], 0);
    let low = Nsec3Limits {
        max_iterations: 11,
        max_hashes: 32,
    };
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &proof, &low),
        Ok(Denial::Insecure)
    );
    assert_eq!(
        prove_no_ds(name("c.example.").as_ref(), zone.as_ref(), &proof, &low),
        Ok(NoDs::Insecure)
    );
    // The proof hashes example, w.example, x.w.example, c.x.w.example and *.x.w.example.
    let budget = |max_hashes| Nsec3Limits {
        max_iterations: 50,
        max_hashes,
    };
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &proof, &budget(4)),
        Err(DenialError::TooManyHashes)
    );
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &proof, &budget(5)),
        Ok(Denial::Proven)
    );
    // A long query name costs no more: the search starts at the apex.
    let long = name("a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.c.x.w.example.");
    assert_eq!(
        prove_nxdomain(long.as_ref(), zone.as_ref(), &proof, &budget(5)),
        Ok(Denial::Proven)
    );
    // Hash algorithm 2 is unknown: the zone counts as insecure.
    let other_alg = rrsets(&NSEC3_ZONE.replace(" NSEC3 1 1 12 ", " NSEC3 2 0 12 "));
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &other_alg, &LIMITS),
        Err(DenialError::UnsupportedHash)
    );
    // Flags other than 0 and 1 make a record to ignore (RFC 5155 section 8.2).
    let other_flags = rrsets(&NSEC3_ZONE.replace(" NSEC3 1 1 12 ", " NSEC3 1 2 12 "));
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &other_flags, &LIMITS),
        Err(DenialError::Missing)
    );
    // Records owned outside the zone, or not one label below the apex, are ignored.
    for owner_zone in ["example.org.", "sub.example."] {
        let moved = rrsets(
            &NSEC3_ZONE
                .replace(" NSEC3 1 1 12 ", " NSEC3 1 0 12 ")
                .replace(".example. 3600", &format!(".{owner_zone} 3600")),
        );
        assert_eq!(
            prove_nxdomain(q.as_ref(), zone.as_ref(), &moved, &LIMITS),
            Err(DenialError::Missing),
            "{owner_zone}"
        );
    }
    // A query name outside the zone is never denied by it.
    assert_eq!(
        prove_nxdomain(
            name("a.example.org.").as_ref(),
            zone.as_ref(),
            &proof,
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// Records with another salt or iteration count are a separate chain: mixing them proves
/// nothing, each chain alone still works.
#[test]
fn nsec3_parameter_sets_are_not_mixed() {
    let zone = example();
    let q = name("a.c.x.w.example.");
    let mut mixed = nsec3s(&["0p9m", "b4um"], 0);
    mixed.extend(rrsets(
        &NSEC3_ZONE
            .lines()
            .filter(|l| l.starts_with("35mt"))
            .map(|l| l.replace(" NSEC3 1 1 12 aabbccdd ", " NSEC3 1 0 12 aabbccde ") + "\n")
            .collect::<String>(),
    ));
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &mixed, &LIMITS),
        Err(DenialError::Missing)
    );
    let mut both = nsec3s(&["0p9m", "b4um", "35mt"], 0);
    both.extend(mixed);
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &both, &LIMITS),
        Ok(Denial::Proven)
    );
}

// ---------------------------------------------------------------------------------------------
// RFC 4035
// ---------------------------------------------------------------------------------------------

/// The NSEC chain of RFC 4035 Appendix A.
const NSEC_ZONE: &str = "\
example. 3600 IN NSEC a.example. NS SOA MX RRSIG NSEC DNSKEY
a.example. 3600 IN NSEC ai.example. NS DS RRSIG NSEC
ai.example. 3600 IN NSEC b.example. A HINFO AAAA RRSIG NSEC
b.example. 3600 IN NSEC ns1.example. NS RRSIG NSEC
ns1.example. 3600 IN NSEC ns2.example. A RRSIG NSEC
ns2.example. 3600 IN NSEC *.w.example. A RRSIG NSEC
*.w.example. 3600 IN NSEC x.w.example. MX RRSIG NSEC
x.w.example. 3600 IN NSEC x.y.w.example. MX RRSIG NSEC
x.y.w.example. 3600 IN NSEC xx.example. MX RRSIG NSEC
xx.example. 3600 IN NSEC example. A HINFO AAAA RRSIG NSEC
";

/// The NSEC records of the chain owned by the given names.
fn nsecs(owners: &[&str]) -> Vec<RrSet> {
    let text: String = NSEC_ZONE
        .lines()
        .filter(|l| owners.iter().any(|o| l.starts_with(&format!("{o} "))))
        .map(|l| l.to_owned() + "\n")
        .collect();
    let sets = rrsets(&text);
    assert_eq!(sets.len(), owners.len(), "{owners:?}");
    sets
}

/// B.2: name error for ml.example: b.example NSEC ns1.example covers it, example NSEC
/// a.example covers the wildcard *.example.
#[test]
fn rfc4035_b2_name_error() {
    let zone = example();
    let q = name("ml.example.");
    assert_eq!(
        prove_nxdomain(
            q.as_ref(),
            zone.as_ref(),
            &nsecs(&["b.example.", "example."]),
            &LIMITS
        ),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &nsecs(&["b.example."]), &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nxdomain(q.as_ref(), zone.as_ref(), &nsecs(&["example."]), &LIMITS),
        Err(DenialError::Missing)
    );
    // The wrong NSEC does not cover ml.example.
    assert_eq!(
        prove_nxdomain(
            q.as_ref(),
            zone.as_ref(),
            &nsecs(&["ai.example.", "example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
    // b.example is a delegation: its NSEC cannot deny names in the child zone below it.
    assert_eq!(
        prove_nxdomain(
            name("mc.b.example.").as_ref(),
            zone.as_ref(),
            &nsecs(&["b.example.", "example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// The last NSEC wraps around to the apex and covers every name after its owner.
#[test]
fn rfc4035_wrap_around() {
    let zone = example();
    let set = nsecs(&["xx.example.", "example."]);
    for q in ["zz.example.", "xy.example.", "a.xx.example.", "yy.example."] {
        assert_eq!(
            prove_nxdomain(name(q).as_ref(), zone.as_ref(), &set, &LIMITS),
            Ok(Denial::Proven),
            "{q}"
        );
    }
    assert_eq!(
        prove_nxdomain(name("xx.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nxdomain(name("example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
}

/// B.3: no data for ns1.example MX.
#[test]
fn rfc4035_b3_no_data() {
    let zone = example();
    let q = name("ns1.example.");
    let set = nsecs(&["ns1.example."]);
    assert_eq!(
        prove_nodata(q.as_ref(), RType::MX, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_nodata(q.as_ref(), RType::A, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    // The empty non-terminal w.example: ns2.example NSEC *.w.example shows a name below it.
    let ent = nsecs(&["ns2.example."]);
    let w = name("w.example.");
    assert_eq!(
        prove_nodata(w.as_ref(), RType::A, zone.as_ref(), &ent, &LIMITS),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_no_ds(w.as_ref(), zone.as_ref(), &ent, &LIMITS),
        Ok(NoDs::NotACut)
    );
    assert_eq!(
        prove_nxdomain(
            w.as_ref(),
            zone.as_ref(),
            &nsecs(&["ns2.example.", "example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// B.5: referral to the unsigned b.example: its NSEC has NS and no DS.
#[test]
fn rfc4035_b5_unsigned_delegation() {
    let zone = example();
    let b = name("b.example.");
    let set = nsecs(&["b.example."]);
    assert_eq!(
        prove_no_ds(b.as_ref(), zone.as_ref(), &set, &LIMITS),
        Ok(NoDs::Delegation)
    );
    assert_eq!(
        prove_nodata(b.as_ref(), RType::DS, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
    // The parent-side NSEC says nothing about the child's apex data (RFC 6840 section 4.1).
    assert_eq!(
        prove_nodata(b.as_ref(), RType::MX, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    // a.example has DS: no denial.
    assert_eq!(
        prove_no_ds(
            name("a.example.").as_ref(),
            zone.as_ref(),
            &nsecs(&["a.example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
    // ns1.example exists without NS.
    assert_eq!(
        prove_no_ds(
            name("ns1.example.").as_ref(),
            zone.as_ref(),
            &nsecs(&["ns1.example."]),
            &LIMITS
        ),
        Ok(NoDs::NotACut)
    );
}

/// B.6: a.z.w.example MX from *.w.example (labels 2): x.y.w.example NSEC xx.example covers the
/// next closer z.w.example.
#[test]
fn rfc4035_b6_wildcard_expansion() {
    let zone = example();
    let q = name("a.z.w.example.");
    assert_eq!(
        prove_wildcard(
            q.as_ref(),
            2,
            zone.as_ref(),
            &nsecs(&["x.y.w.example."]),
            &LIMITS
        ),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_wildcard(
            q.as_ref(),
            2,
            zone.as_ref(),
            &nsecs(&["x.w.example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
    // x.w.example exists: an answer for a.x.w.example from *.w.example cannot be right.
    assert_eq!(
        prove_wildcard(
            name("a.x.w.example.").as_ref(),
            2,
            zone.as_ref(),
            &nsecs(&["x.w.example.", "x.y.w.example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// B.7: wildcard no data for a.z.w.example AAAA: x.y.w.example NSEC xx.example covers the
/// name, *.w.example NSEC x.w.example shows the wildcard has no AAAA.
#[test]
fn rfc4035_b7_wildcard_no_data() {
    let zone = example();
    let q = name("a.z.w.example.");
    let set = nsecs(&["x.y.w.example.", "*.w.example."]);
    assert_eq!(
        prove_nodata(q.as_ref(), RType::AAAA, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_nodata(q.as_ref(), RType::MX, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(
            q.as_ref(),
            RType::AAAA,
            zone.as_ref(),
            &nsecs(&["x.y.w.example."]),
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// B.8: the DS query for example. answered by the child: its apex NSEC (with SOA) does not
/// deny the DS.
#[test]
fn rfc4035_b8_ds_from_child_is_not_accepted() {
    let zone = example();
    let set = nsecs(&["example."]);
    assert_eq!(
        prove_nodata(zone.as_ref(), RType::DS, zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(zone.as_ref(), RType::TXT, zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
}

/// RFC 6840 sections 4.1 and 4.4: DNAME hides the names below; CNAME at the name means the
/// data may be elsewhere.
#[test]
fn rfc6840_dname_and_cname_bits() {
    let zone = example();
    let set = rrsets(
        "d.example. 3600 IN NSEC f.example. DNAME RRSIG NSEC\n\
         example. 3600 IN NSEC d.example. NS SOA RRSIG NSEC DNSKEY\n\
         f.example. 3600 IN NSEC g.example. CNAME RRSIG NSEC\n",
    );
    // e.example is really absent; x.d.example is the DNAME's to answer.
    assert_eq!(
        prove_nxdomain(name("e.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
    assert_eq!(
        prove_nxdomain(name("x.d.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    assert_eq!(
        prove_nodata(
            name("f.example.").as_ref(),
            RType::A,
            zone.as_ref(),
            &set,
            &LIMITS
        ),
        Err(DenialError::Missing)
    );
}

/// An NSEC whose RRSIG was made for a wildcard owner (labels below the owner's count) was
/// synthesised, not published: it is not used.
#[test]
fn wildcard_expanded_nsec_is_ignored() {
    let zone = example();
    let mut set = nsecs(&["b.example.", "example."]);
    let mut rrsig = vec![0, 47, 13, 1, 0, 0, 14, 16, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7];
    rrsig.extend_from_slice(zone.as_wire());
    rrsig.extend_from_slice(&[1, 2, 3]);
    let b = set
        .iter()
        .position(|s| s.owner == name("b.example."))
        .unwrap();
    set[b].sigs.push(rrsig.clone());
    assert_eq!(
        prove_nxdomain(name("ml.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Missing)
    );
    // Labels 2 is the owner's own count: fine.
    rrsig[3] = 2;
    set[b].sigs = vec![rrsig];
    assert_eq!(
        prove_nxdomain(name("ml.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Ok(Denial::Proven)
    );
}

#[test]
fn malformed_rdata_is_reported() {
    let zone = example();
    let set = vec![RrSet {
        owner: name("b.example."),
        rtype: RType::NSEC,
        class: wire::Class::IN,
        ttl: 0,
        rdatas: vec![vec![3, b'n', b's']],
        sigs: Vec::new(),
    }];
    assert_eq!(
        prove_nxdomain(name("ml.example.").as_ref(), zone.as_ref(), &set, &LIMITS),
        Err(DenialError::Malformed)
    );
    assert_eq!(
        prove_nxdomain(name("ml.example.").as_ref(), zone.as_ref(), &[], &LIMITS),
        Err(DenialError::Missing)
    );
}

/// One signed RRset may carry thousands of NSEC records; only the first
/// `dnssec::denial::MAX_RECORDS` are looked at, so the pairwise checks stay cheap.
#[test]
fn many_records_are_capped() {
    let zone = example();
    let mut rdatas = Vec::new();
    for i in 0..5000 {
        let mut rdata = name(&format!("z{i}.example.")).as_wire().to_vec();
        wire::rdata::TypeBitmap::write(&[RType::A, RType::NSEC], &mut rdata);
        rdatas.push(rdata);
    }
    let set = vec![RrSet {
        owner: name("a.example."),
        rtype: RType::NSEC,
        class: wire::Class::IN,
        ttl: 0,
        rdatas,
        sigs: Vec::new(),
    }];
    let start = std::time::Instant::now();
    for q in ["b.example.", "c.example.", "y.example."] {
        assert_eq!(
            prove_nxdomain(name(q).as_ref(), zone.as_ref(), &set, &LIMITS),
            Err(DenialError::Missing)
        );
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
}
