//! DNSSEC validation by the resolver on a signed test internet (tests/world, tests/world/signed.rs):
//! secure answers carry AD (and RRSIGs when DO is set), negative answers are proven with NSEC
//! and NSEC3, unsigned delegations are insecure, and zones broken on purpose are bogus
//! (SERVFAIL with the extended DNS error that names the failure, RFC 8914) while `+cd` still
//! returns their data. Zones signed by `dnssec-signzone`, `ldns-signzone` and Knot's automatic
//! signing, with algorithms 8, 10, 13, 14 and 15, must all validate.
//!
//! The expectations were checked against Unbound (`PORTCULLIS_WORLD_RESOLVER=unbound`); where
//! Unbound differs from what Portcullis promises, the Portcullis expectation is asserted only
//! for Portcullis, with a note on what Unbound does.
//!
//! Every test owns a block `127.N.0.0/16` (the table is in `world/mod.rs`) and needs port 53:
//! run as root, or the tests print `SKIPPED:` and return. The signers and NSD come from the
//! Debian packages `bind9-utils`, `ldnsutils`, `knot` and `nsd`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod world;

use std::net::SocketAddr;

use wire::{RType, Rcode};
use world::signed::{ExtraDs, Fault, Signer, Signing, signed_basic};
use world::{Ask, Reply, Resolver, exchange_udp, query_with};

/// Extended DNS error codes (RFC 8914 section 4).
mod ede {
    pub const UNSUPPORTED_DNSKEY_ALGORITHM: u16 = 1;
    pub const UNSUPPORTED_DS_DIGEST: u16 = 2;
    pub const DNSSEC_BOGUS: u16 = 6;
    pub const SIGNATURE_EXPIRED: u16 = 7;
    pub const SIGNATURE_NOT_YET_VALID: u16 = 8;
    pub const DNSKEY_MISSING: u16 = 9;
    pub const RRSIGS_MISSING: u16 = 10;
    pub const NSEC_MISSING: u16 = 12;
}

/// Whether the test can run: port 53 in its block and the tools of a signed world.
fn can_run(test: &str, n: u8) -> bool {
    world::port_53_available(test, n)
        && [
            "nsd",
            "dnssec-keygen",
            "dnssec-signzone",
            "dnssec-dsfromkey",
            "ldns-read-zone",
        ]
        .iter()
        .all(|t| world::tool_available(test, t))
}

fn has_rrsig(records: &[world::Rr], covered: &str) -> bool {
    records
        .iter()
        .any(|r| r.rtype == RType::RRSIG && r.rdata.split_whitespace().next() == Some(covered))
}

/// A secure positive answer: NOERROR, AD, the data, and RRSIGs over it (DO is set).
fn assert_secure(resolver: &Resolver, name: &str, qtype: RType, data: &str) -> Reply {
    let r = resolver.ask_with(name, qtype, Ask::DO);
    assert_eq!(
        r.rcode,
        Rcode::NOERROR,
        "{name} {qtype}: {r}\n{}",
        resolver.log()
    );
    assert!(
        r.flags.ad(),
        "{name} {qtype} is not secure: {r}\n{}",
        resolver.log()
    );
    assert!(
        r.rdatas(qtype).iter().any(|d| d == data),
        "{name} {qtype}: no {data}: {r}"
    );
    assert!(
        has_rrsig(&r.answer, &qtype.to_string()),
        "{name} {qtype}: no RRSIG with DO: {r}"
    );
    r
}

/// An insecure positive answer: NOERROR, no AD, the data.
fn assert_insecure(resolver: &Resolver, name: &str, qtype: RType, data: &str) -> Reply {
    let r = resolver.ask_with(name, qtype, Ask::DO);
    assert_eq!(
        r.rcode,
        Rcode::NOERROR,
        "{name} {qtype}: {r}\n{}",
        resolver.log()
    );
    assert!(!r.flags.ad(), "{name} {qtype} has AD: {r}");
    assert!(
        r.rdatas(qtype).iter().any(|d| d == data),
        "{name} {qtype}: no {data}: {r}"
    );
    r
}

/// A bogus answer: SERVFAIL with extended error `code` (Portcullis; `unbound_code` is what
/// Unbound sends, `None` when it sends none or another), and the unvalidated data with CD
/// (rcode `cd_rcode`), asked with `ask()` and with `dig +cd`.
fn assert_bogus(
    resolver: &Resolver,
    name: &str,
    qtype: RType,
    code: u16,
    unbound_code: Option<u16>,
    cd_rcode: Rcode,
) {
    let r = resolver.ask_with(name, qtype, Ask::DO);
    assert_eq!(
        r.rcode,
        Rcode::SERVFAIL,
        "{name} {qtype} is not bogus: {r}\n{}",
        resolver.log()
    );
    assert!(!r.flags.ad(), "{r}");
    let expected = if resolver.is_portcullis() {
        Some(code)
    } else {
        unbound_code
    };
    if let Some(expected) = expected {
        assert!(
            r.ede.iter().any(|(c, _)| *c == expected),
            "{name} {qtype}: extended error {expected} expected: {r}"
        );
    }
    // Without DO the same.
    let plain = resolver.ask(name, qtype);
    assert_eq!(plain.rcode, Rcode::SERVFAIL, "{plain}");

    let cd = resolver.ask_with(name, qtype, Ask::DO_CD);
    assert_eq!(cd.rcode, cd_rcode, "{name} {qtype} with CD: {cd}");
    assert!(!cd.flags.ad(), "{name} {qtype} with CD has AD: {cd}");
    if cd_rcode == Rcode::NOERROR {
        assert!(!cd.rdatas(qtype).is_empty(), "{name} {qtype} with CD: {cd}");
    }
    if world::tool_available("dig", "dig") {
        let dig = resolver.dig(&["+dnssec", "+cd", name, &qtype.to_string()]);
        let status = format!("status: {cd_rcode}");
        assert!(dig.contains(&status), "dig +cd {name}: {dig}");
        let flags = dig.lines().find(|l| l.contains(";; flags:")).unwrap_or("");
        assert!(
            flags.contains(" cd") && !flags.contains(" ad"),
            "dig +cd {name}: {dig}"
        );
    }
}

/// The extended error `code` on an answer, checked for Portcullis only: Unbound attaches none
/// to insecure answers, and sends 6 rather than 12 for a wildcard answer without its proof.
fn assert_ede_portcullis(resolver: &Resolver, r: &Reply, code: u16) {
    if resolver.is_portcullis() {
        assert!(
            r.ede.iter().any(|(c, _)| *c == code),
            "extended error {code} expected: {r}"
        );
    }
}

fn ask_direct(world: &world::World, server: &str, name: &str, qtype: RType) -> Reply {
    let q = query_with(7, name, qtype, Ask::DO);
    // Authoritative servers get no RD; the bit is harmless to them.
    let to = SocketAddr::from((world.ip(server), 53));
    let bytes = exchange_udp(to, &q, 2000).unwrap_or_else(|| panic!("{to} did not answer"));
    Reply::parse(&bytes).unwrap()
}

/// The signed world alone, without a resolver: every level serves its signed data and DS, and
/// the trust anchor is the root's DS.
#[test]
fn signed_world_serves_signatures() {
    const N: u8 = 50;
    if !can_run("signed_world_serves_signatures", N) {
        return;
    }
    let world = signed_basic("signed-by-itself", N)
        .leaf("secure", "2.1", Some(Signing::bind()))
        .leaf("plain", "2.2", None)
        .start();
    let anchor = std::fs::read_to_string(world.trust_anchor().unwrap()).unwrap();
    assert!(anchor.starts_with(". IN DS "), "{anchor}");

    let root = ask_direct(&world, "0.1", ".", RType::DNSKEY);
    assert!(root.rdatas(RType::DNSKEY).len() >= 2, "{root}");
    assert!(has_rrsig(&root.answer, "DNSKEY"), "{root}");
    // The root's KSK is the one the anchor names.
    let tag = anchor.split_whitespace().nth(3).unwrap();
    assert!(
        root.answer
            .iter()
            .any(|r| r.rtype == RType::RRSIG && r.rdata.split_whitespace().nth(6) == Some(tag)),
        "no DNSKEY signature by key {tag}: {root}"
    );

    let ds = ask_direct(&world, "1.1", "secure.test.", RType::DS);
    assert_eq!(ds.rdatas(RType::DS).len(), 1, "{ds}");
    assert!(has_rrsig(&ds.answer, "DS"), "{ds}");
    let no_ds = ask_direct(&world, "1.1", "plain.test.", RType::DS);
    assert!(no_ds.answer.is_empty(), "{no_ds}");
    assert!(
        no_ds.authority.iter().any(|r| r.rtype == RType::NSEC),
        "no NSEC proof of no DS: {no_ds}"
    );

    let www = ask_direct(&world, "2.1", "www.secure.test.", RType::A);
    assert!(www.flags.aa() && has_rrsig(&www.answer, "A"), "{www}");
    let plain = ask_direct(&world, "2.2", "www.plain.test.", RType::A);
    assert!(!has_rrsig(&plain.answer, "A"), "{plain}");
}

/// Secure answers have AD when DO or AD is set in the query (RFC 4035 3.2.3, RFC 6840 5.8);
/// RRSIGs come only with DO; without DO or AD, no AD.
#[test]
fn secure_answer_has_ad() {
    const N: u8 = 51;
    if !can_run("secure_answer_has_ad", N) {
        return;
    }
    let world = signed_basic("secure-ad", N)
        .leaf("secure", "2.1", Some(Signing::bind()))
        .start();
    let resolver = world.resolver();

    assert_secure(&resolver, "www.secure.test.", RType::A, "192.0.2.1");
    assert_secure(
        &resolver,
        "txt.secure.test.",
        RType::TXT,
        "\"hello from secure\"",
    );
    let keys = resolver.ask_with("secure.test.", RType::DNSKEY, Ask::DO);
    assert!(
        keys.flags.ad() && keys.rdatas(RType::DNSKEY).len() >= 2,
        "{keys}"
    );
    let root = resolver.ask_with(".", RType::SOA, Ask::DO);
    assert!(root.flags.ad(), "{root}");
    let ds = resolver.ask_with("secure.test.", RType::DS, Ask::DO);
    assert!(ds.flags.ad() && ds.rdatas(RType::DS).len() == 1, "{ds}");
    assert!(has_rrsig(&ds.answer, "DS"), "{ds}");

    // No DO, no AD in the query: no AD and no RRSIG.
    let plain = resolver.ask("www.secure.test.", RType::A);
    assert_eq!(plain.rdatas(RType::A), ["192.0.2.1"], "{plain}");
    assert!(
        !plain.flags.ad(),
        "AD without DO or AD in the query: {plain}"
    );
    assert!(!has_rrsig(&plain.answer, "A"), "RRSIG without DO: {plain}");

    // AD in the query, no DO: AD, still no RRSIG.
    let ad = resolver.ask_with("www.secure.test.", RType::A, Ask::AD);
    assert!(ad.flags.ad(), "{ad}");
    assert!(!has_rrsig(&ad.answer, "A"), "RRSIG without DO: {ad}");

    // The same through dig.
    if world::tool_available("secure_answer_has_ad", "dig") {
        let dig = resolver.dig(&["+dnssec", "mail.secure.test.", "A"]);
        let flags = dig.lines().find(|l| l.contains(";; flags:")).unwrap_or("");
        assert!(flags.contains(" ad"), "{dig}");
        assert!(dig.contains("RRSIG\tA 13 3 "), "{dig}");
        let dig = resolver.dig(&["+noadflag", "mail.secure.test.", "A"]);
        let flags = dig.lines().find(|l| l.contains(";; flags:")).unwrap_or("");
        assert!(!flags.contains(" ad") && !dig.contains("RRSIG"), "{dig}");
    }
    // Over TCP with kdig: the same.
    if world::tool_available("secure_answer_has_ad", "kdig") {
        let k = resolver.kdig(&["+dnssec", "+tcp", "txt.secure.test.", "TXT"]);
        let flags = k.lines().find(|l| l.contains(";; Flags:")).unwrap_or("");
        assert!(flags.contains(" ad"), "{k}");
        assert!(k.contains("RRSIG\tTXT 13 3 "), "{k}");
    }
}

/// NXDOMAIN, NODATA and wildcard answers in a zone signed with `signing`, each secure, with
/// the proofs in the authority section when DO is set.
fn negative_answers(test: &str, n: u8, signing: Signing, proof: RType) {
    let world = signed_basic(test, n)
        .leaf("neg", "2.1", Some(signing))
        .start();
    let resolver = world.resolver();
    let proof_name = proof.to_string();

    let nx = resolver.ask_with("nope.neg.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}\n{}", resolver.log());
    assert!(
        nx.flags.ad(),
        "NXDOMAIN not secure: {nx}\n{}",
        resolver.log()
    );
    assert!(nx.authority.iter().any(|r| r.rtype == proof), "{nx}");
    assert!(has_rrsig(&nx.authority, &proof_name), "{nx}");
    assert!(has_rrsig(&nx.authority, "SOA"), "{nx}");

    let nodata = resolver.ask_with("www.neg.test.", RType::AAAA, Ask::DO);
    assert_eq!(nodata.rcode, Rcode::NOERROR, "{nodata}");
    assert!(nodata.answer.is_empty(), "{nodata}");
    assert!(nodata.flags.ad(), "NODATA not secure: {nodata}");
    assert!(
        nodata.authority.iter().any(|r| r.rtype == proof),
        "{nodata}"
    );

    // A name below an existing one (an empty non-terminal is not there: `wild` only exists
    // as the parent of the wildcard).
    let ent = resolver.ask_with("wild.neg.test.", RType::A, Ask::DO);
    assert_eq!(ent.rcode, Rcode::NOERROR, "empty non-terminal: {ent}");
    assert!(ent.answer.is_empty() && ent.flags.ad(), "{ent}");

    // Wildcard expansion: secure, with the proof that the name itself does not exist.
    let wild = assert_secure(&resolver, "any.wild.neg.test.", RType::A, "192.0.2.99");
    assert!(
        wild.authority.iter().any(|r| r.rtype == proof),
        "wildcard answer without the next-closer proof: {wild}"
    );
    let wild_nodata = resolver.ask_with("any.wild.neg.test.", RType::AAAA, Ask::DO);
    assert_eq!(wild_nodata.rcode, Rcode::NOERROR, "{wild_nodata}");
    assert!(
        wild_nodata.answer.is_empty() && wild_nodata.flags.ad(),
        "{wild_nodata}"
    );

    // Without DO: the same codes, no AD, no proofs.
    let plain = resolver.ask("nope2.neg.test.", RType::A);
    assert_eq!(plain.rcode, Rcode::NXDOMAIN, "{plain}");
    assert!(!plain.flags.ad(), "{plain}");
    assert!(!plain.authority.iter().any(|r| r.rtype == proof), "{plain}");
}

#[test]
fn negative_answers_nsec() {
    const N: u8 = 52;
    if !can_run("negative_answers_nsec", N) {
        return;
    }
    negative_answers("negative_answers_nsec", N, Signing::bind(), RType::NSEC);
}

#[test]
fn negative_answers_nsec3() {
    const N: u8 = 53;
    if !can_run("negative_answers_nsec3", N) {
        return;
    }
    negative_answers(
        "negative_answers_nsec3",
        N,
        Signing::bind().nsec3(0, false),
        RType::NSEC3,
    );
}

/// An NSEC3 opt-out zone with an unsigned delegation: the child is insecure (RFC 5155 6),
/// the zone's own names secure.
#[test]
fn nsec3_opt_out_insecure_delegation() {
    const N: u8 = 54;
    if !can_run("nsec3_opt_out_insecure_delegation", N) {
        return;
    }
    let world = signed_basic("opt-out", N)
        .leaf("optout", "2.1", Some(Signing::bind().nsec3(0, true)))
        .records(
            "optout.test.",
            "child NS ns1.child\nns1.child A 127.N.3.1\n",
        )
        .zone(
            "child.optout.test.",
            "@ NS ns1\nns1 A 127.N.3.1\nwww A 192.0.2.7\n",
        )
        .server("3.1", &["child.optout.test."])
        .start();
    let resolver = world.resolver();
    assert_secure(&resolver, "www.optout.test.", RType::A, "192.0.2.1");
    assert_insecure(&resolver, "www.child.optout.test.", RType::A, "192.0.2.7");
    let nx = resolver.ask_with("nope.child.optout.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(!nx.flags.ad(), "{nx}");
    // A name in an opt-out span of the parent that does not exist: NXDOMAIN, but only
    // insecurely proven (the span could hide an unsigned delegation, RFC 5155 9.2).
    let nx = resolver.ask_with("nope.optout.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(!nx.flags.ad(), "{nx}");
    // Likewise a wildcard expansion whose next closer name falls in an opt-out span.
    assert_insecure(&resolver, "any.wild.optout.test.", RType::A, "192.0.2.99");
    // Names that exist are proven by their own signatures.
    let nodata = resolver.ask_with("www.optout.test.", RType::AAAA, Ask::DO);
    assert!(nodata.answer.is_empty() && nodata.flags.ad(), "{nodata}");
}

// ---------------------------------------------------------------------------------------------
// Bogus zones
// ---------------------------------------------------------------------------------------------

/// A world with the leaf `broken.test.` signed with `signing`, plus a good leaf `good.test.`
/// (to show that the failure stays in its zone).
fn broken_world(test: &str, n: u8, signing: Signing) -> (world::World, Resolver) {
    let world = signed_basic(test, n)
        .leaf("broken", "2.1", Some(signing))
        .leaf("good", "2.2", Some(Signing::bind()))
        .start();
    let resolver = world.resolver();
    (world, resolver)
}

#[test]
fn expired_signatures_bogus() {
    const N: u8 = 55;
    if !can_run("expired_signatures_bogus", N) {
        return;
    }
    let (_world, resolver) = broken_world("expired", N, Signing::bind().fault(Fault::Expired));
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::SIGNATURE_EXPIRED,
        Some(ede::SIGNATURE_EXPIRED),
        Rcode::NOERROR,
    );
    assert_secure(&resolver, "www.good.test.", RType::A, "192.0.2.1");
}

#[test]
fn not_yet_valid_bogus() {
    const N: u8 = 56;
    if !can_run("not_yet_valid_bogus", N)
        || !world::tool_available("not_yet_valid", "ldns-signzone")
    {
        return;
    }
    let (_world, resolver) = broken_world(
        "not-yet-valid",
        N,
        Signing::new(Signer::Ldns, 13).fault(Fault::NotYetValid),
    );
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::SIGNATURE_NOT_YET_VALID,
        Some(ede::SIGNATURE_NOT_YET_VALID),
        Rcode::NOERROR,
    );
    assert_secure(&resolver, "www.good.test.", RType::A, "192.0.2.1");
}

#[test]
fn wrong_ds_bogus() {
    const N: u8 = 57;
    if !can_run("wrong_ds_bogus", N) {
        return;
    }
    let (_world, resolver) = broken_world("wrong-ds", N, Signing::bind().fault(Fault::WrongDs));
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::DNSKEY_MISSING,
        Some(ede::DNSKEY_MISSING),
        Rcode::NOERROR,
    );
    assert_secure(&resolver, "www.good.test.", RType::A, "192.0.2.1");
}

#[test]
fn missing_dnskey_bogus() {
    const N: u8 = 58;
    if !can_run("missing_dnskey_bogus", N) {
        return;
    }
    let (_world, resolver) = broken_world("no-dnskey", N, Signing::bind().fault(Fault::NoDnskey));
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::DNSKEY_MISSING,
        Some(ede::DNSKEY_MISSING),
        Rcode::NOERROR,
    );
    assert_secure(&resolver, "www.good.test.", RType::A, "192.0.2.1");
}

#[test]
fn corrupted_signature_bogus() {
    const N: u8 = 59;
    if !can_run("corrupted_signature_bogus", N) {
        return;
    }
    let (_world, resolver) = broken_world(
        "bad-signature",
        N,
        Signing::bind().fault(Fault::BadSignature),
    );
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::DNSSEC_BOGUS,
        Some(ede::DNSSEC_BOGUS),
        Rcode::NOERROR,
    );
    // Only the A RRset of www is broken.
    assert_secure(&resolver, "mail.broken.test.", RType::A, "192.0.2.25");
}

#[test]
fn missing_rrsig_bogus() {
    const N: u8 = 60;
    if !can_run("missing_rrsig_bogus", N) {
        return;
    }
    let (_world, resolver) = broken_world("no-rrsig", N, Signing::bind().fault(Fault::NoRrsig));
    assert_bogus(
        &resolver,
        "www.broken.test.",
        RType::A,
        ede::RRSIGS_MISSING,
        Some(ede::RRSIGS_MISSING),
        Rcode::NOERROR,
    );
    assert_secure(&resolver, "mail.broken.test.", RType::A, "192.0.2.25");
}

#[test]
fn missing_nsec_proof_bogus() {
    const N: u8 = 61;
    if !can_run("missing_nsec_proof_bogus", N) {
        return;
    }
    let world = signed_basic("no-nsec", N)
        .leaf(
            "broken",
            "2.1",
            Some(Signing::bind().fault(Fault::NoDenial)),
        )
        .leaf(
            "broken3",
            "2.2",
            Some(Signing::bind().nsec3(0, false).fault(Fault::NoDenial)),
        )
        .start();
    let resolver = world.resolver();
    for zone in ["broken.test.", "broken3.test."] {
        assert_bogus(
            &resolver,
            &format!("nope.{zone}"),
            RType::A,
            ede::NSEC_MISSING,
            Some(ede::NSEC_MISSING),
            Rcode::NXDOMAIN,
        );
        // NODATA and wildcard answers without proof are bogus too; positive answers stay
        // secure.
        let nodata = resolver.ask_with(&format!("www.{zone}"), RType::AAAA, Ask::DO);
        assert_eq!(nodata.rcode, Rcode::SERVFAIL, "{nodata}");
        assert!(
            nodata.ede.iter().any(|(c, _)| *c == ede::NSEC_MISSING),
            "{nodata}"
        );
        let wild = resolver.ask_with(&format!("any.wild.{zone}"), RType::A, Ask::DO);
        assert_eq!(wild.rcode, Rcode::SERVFAIL, "{wild}");
        // Unbound sends 6 (DNSSEC Bogus, "wildcard proof failed") here.
        assert_ede_portcullis(&resolver, &wild, ede::NSEC_MISSING);
        assert_secure(&resolver, &format!("www.{zone}"), RType::A, "192.0.2.1");
    }
}

// ---------------------------------------------------------------------------------------------
// Insecure zones
// ---------------------------------------------------------------------------------------------

/// An unsigned zone under a signed parent that proves it has no DS: insecure, answers without
/// AD.
#[test]
fn unsigned_child_insecure() {
    const N: u8 = 62;
    if !can_run("unsigned_child_insecure", N) {
        return;
    }
    let world = signed_basic("unsigned-child", N)
        .leaf("plain", "2.1", None)
        .start();
    let resolver = world.resolver();
    assert_insecure(&resolver, "www.plain.test.", RType::A, "192.0.2.1");
    let ad = resolver.ask_with("www.plain.test.", RType::A, Ask::AD);
    assert!(ad.rcode == Rcode::NOERROR && !ad.flags.ad(), "{ad}");
    let nx = resolver.ask_with("nope.plain.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(!nx.flags.ad(), "{nx}");
    // The proof that there is no DS is itself secure.
    let ds = resolver.ask_with("plain.test.", RType::DS, Ask::DO);
    assert_eq!(ds.rcode, Rcode::NOERROR, "{ds}");
    assert!(ds.answer.is_empty() && ds.flags.ad(), "{ds}");
}

/// A zone signed only with Ed448 (algorithm 16), which Portcullis does not implement: insecure
/// (RFC 4035 5.2), with extended error 1.
#[test]
fn unsupported_algorithm_insecure() {
    const N: u8 = 63;
    if !can_run("unsupported_algorithm_insecure", N) {
        return;
    }
    let world = signed_basic("ed448", N)
        .leaf("ed448", "2.1", Some(Signing::new(Signer::Bind, 16)))
        .start();
    let resolver = world.resolver();
    if resolver.is_portcullis() {
        let r = assert_insecure(&resolver, "www.ed448.test.", RType::A, "192.0.2.1");
        assert_ede_portcullis(&resolver, &r, ede::UNSUPPORTED_DNSKEY_ALGORITHM);
    } else {
        // Unbound (with OpenSSL 3) implements Ed448: the zone is secure there.
        assert_secure(&resolver, "www.ed448.test.", RType::A, "192.0.2.1");
    }
}

/// The parent's only DS for a signed zone has digest type 3 (GOST), which Portcullis does not
/// implement: insecure, with extended error 2.
#[test]
fn unsupported_digest_insecure() {
    const N: u8 = 64;
    if !can_run("unsupported_digest_insecure", N) {
        return;
    }
    let world = signed_basic("gost-ds", N)
        .leaf("gost", "2.1", Some(Signing::bind().fault(Fault::GostDs)))
        .start();
    let resolver = world.resolver();
    let r = assert_insecure(&resolver, "www.gost.test.", RType::A, "192.0.2.1");
    assert_ede_portcullis(&resolver, &r, ede::UNSUPPORTED_DS_DIGEST);
}

/// NSEC3 with 100 iterations (above the limit of 50, RFC 9276 3.2): negative answers are
/// insecure, not bogus; positive answers need no NSEC3 and stay secure.
#[test]
fn nsec3_iterations_above_limit_insecure() {
    const N: u8 = 65;
    if !can_run("nsec3_iterations_above_limit_insecure", N) {
        return;
    }
    let world = signed_basic("nsec3-iterations", N)
        .leaf("costly", "2.1", Some(Signing::bind().nsec3(100, false)))
        .start();
    let resolver = world.resolver();
    let nx = resolver.ask_with("nope.costly.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}\n{}", resolver.log());
    assert!(!nx.flags.ad(), "{nx}");
    let nodata = resolver.ask_with("www.costly.test.", RType::AAAA, Ask::DO);
    assert_eq!(nodata.rcode, Rcode::NOERROR, "{nodata}");
    assert!(!nodata.flags.ad(), "{nodata}");
    assert_secure(&resolver, "www.costly.test.", RType::A, "192.0.2.1");
}

/// A zone signed with RSASHA1 (algorithm 5): insecure by default (SHA-1 is not trusted, RFC
/// 9905 / RFC 8624 update), secure with `allow_sha1 = true`.
#[test]
fn rsasha1_insecure_unless_allowed() {
    const N: u8 = 66;
    if !can_run("rsasha1_insecure_unless_allowed", N) {
        return;
    }
    let world = signed_basic("rsasha1", N)
        .leaf("sha1", "2.1", Some(Signing::new(Signer::Bind, 5)))
        .start();
    if world::ResolverKind::from_env() == world::ResolverKind::Portcullis {
        let resolver = world.resolver();
        let r = assert_insecure(&resolver, "www.sha1.test.", RType::A, "192.0.2.1");
        assert_ede_portcullis(&resolver, &r, ede::UNSUPPORTED_DNSKEY_ALGORITHM);
        drop(resolver);
        let resolver = world.resolver_with_config("[dnssec]\nallow_sha1 = true\n");
        assert_secure(&resolver, "www.sha1.test.", RType::A, "192.0.2.1");
    } else {
        // Unbound validates RSASHA1 and has no switch for it: secure.
        let resolver = world.resolver();
        assert_secure(&resolver, "www.sha1.test.", RType::A, "192.0.2.1");
    }
}

/// A negative trust anchor (RFC 7646) on a bogus zone: its answers come without AD instead of
/// SERVFAIL; other zones still validate.
#[test]
fn negative_trust_anchor() {
    const N: u8 = 67;
    if !can_run("negative_trust_anchor", N) {
        return;
    }
    let world = signed_basic("nta", N)
        .leaf(
            "broken",
            "2.1",
            Some(Signing::bind().fault(Fault::BadSignature)),
        )
        .leaf("good", "2.2", Some(Signing::bind()))
        .start();
    let resolver = world.resolver_configured(
        "[dnssec]\nnegative_trust_anchors = [\"broken.test.\"]\n",
        "    domain-insecure: \"broken.test.\"\n",
    );
    assert_insecure(&resolver, "www.broken.test.", RType::A, "192.0.2.1");
    assert_secure(&resolver, "www.good.test.", RType::A, "192.0.2.1");
}

// ---------------------------------------------------------------------------------------------
// Signers and algorithms
// ---------------------------------------------------------------------------------------------

/// Zones signed by `dnssec-signzone`, `ldns-signzone` and Knot, with NSEC and NSEC3, all
/// validate: positive and negative answers are secure.
#[test]
fn each_signer_validates() {
    const N: u8 = 68;
    if !can_run("each_signer_validates", N)
        || !world::tool_available("each_signer_validates", "ldns-signzone")
        || !world::tool_available("each_signer_validates", "knotd")
    {
        return;
    }
    let world = signed_basic("signers", N)
        .leaf(
            "bind",
            "2.1",
            Some(Signing::new(Signer::Bind, 8).nsec3(0, false)),
        )
        .leaf("ldns", "2.2", Some(Signing::new(Signer::Ldns, 13)))
        .leaf(
            "ldns3",
            "2.3",
            Some(Signing::new(Signer::Ldns, 15).nsec3(0, false)),
        )
        .leaf("knot", "2.4", Some(Signing::new(Signer::Knot, 13)))
        .leaf(
            "knot3",
            "2.5",
            Some(Signing::new(Signer::Knot, 8).nsec3(0, false)),
        )
        .start();
    let resolver = world.resolver();
    for leaf in ["bind", "ldns", "ldns3", "knot", "knot3"] {
        assert_secure(
            &resolver,
            &format!("www.{leaf}.test."),
            RType::A,
            "192.0.2.1",
        );
        assert_secure(
            &resolver,
            &format!("x.wild.{leaf}.test."),
            RType::A,
            "192.0.2.99",
        );
        let nx = resolver.ask_with(&format!("nope.{leaf}.test."), RType::A, Ask::DO);
        assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{leaf}: {nx}");
        assert!(nx.flags.ad(), "{leaf}: NXDOMAIN not secure: {nx}");
        let nodata = resolver.ask_with(&format!("mail.{leaf}.test."), RType::TXT, Ask::DO);
        assert_eq!(nodata.rcode, Rcode::NOERROR, "{leaf}: {nodata}");
        assert!(
            nodata.answer.is_empty() && nodata.flags.ad(),
            "{leaf}: {nodata}"
        );
    }
}

/// RSASHA256 (8), RSASHA512 (10), ECDSA P-256 (13) and P-384 (14), Ed25519 (15): all secure.
#[test]
fn algorithms_validate() {
    const N: u8 = 69;
    if !can_run("algorithms_validate", N) {
        return;
    }
    let algorithms = [8u8, 10, 13, 14, 15];
    let mut builder = signed_basic("algorithms", N);
    for (i, alg) in algorithms.iter().enumerate() {
        builder = builder.leaf(
            &format!("alg{alg}"),
            &format!("2.{}", i + 1),
            Some(Signing::new(Signer::Bind, *alg)),
        );
    }
    let world = builder.start();
    let resolver = world.resolver();
    for alg in algorithms {
        let r = assert_secure(
            &resolver,
            &format!("www.alg{alg}.test."),
            RType::A,
            "192.0.2.1",
        );
        let rrsig = r.answer.iter().find(|r| r.rtype == RType::RRSIG).unwrap();
        assert_eq!(
            rrsig.rdata.split_whitespace().nth(1),
            Some(alg.to_string().as_str()),
            "{r}"
        );
    }
}

/// The signed world served by Knot instead of NSD: the same answers validate.
#[test]
fn signed_world_served_by_knot() {
    const N: u8 = 70;
    if !can_run("signed_world_served_by_knot", N)
        || !world::tool_available("signed_world_served_by_knot", "knotd")
    {
        return;
    }
    let world = signed_basic("served-by-knot", N)
        .leaf("secure", "2.1", Some(Signing::bind().nsec3(0, false)))
        .leaf("plain", "2.2", None)
        .authority(world::Authority::Knot)
        .start();
    let resolver = world.resolver();
    assert_secure(&resolver, "www.secure.test.", RType::A, "192.0.2.1");
    let nx = resolver.ask_with("nope.secure.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(nx.flags.ad(), "{nx}");
    assert_insecure(&resolver, "www.plain.test.", RType::A, "192.0.2.1");
}

/// The trust anchor given as the root's key-signing DNSKEY instead of its DS: the same
/// validation.
#[test]
fn dnskey_trust_anchor() {
    const N: u8 = 71;
    if !can_run("dnskey_trust_anchor", N) {
        return;
    }
    let world = signed_basic("dnskey-anchor", N)
        .leaf("secure", "2.1", Some(Signing::bind()))
        .leaf(
            "broken",
            "2.2",
            Some(Signing::bind().fault(Fault::BadSignature)),
        )
        .dnskey_anchor()
        .start();
    let anchor = std::fs::read_to_string(world.trust_anchor().unwrap()).unwrap();
    assert!(anchor.contains("DNSKEY\t257 3 13 "), "{anchor}");
    let resolver = world.resolver();
    assert_secure(&resolver, "www.secure.test.", RType::A, "192.0.2.1");
    let bogus = resolver.ask_with("www.broken.test.", RType::A, Ask::DO);
    assert_eq!(bogus.rcode, Rcode::SERVFAIL, "{bogus}");
}

/// CNAME chains across zones: secure only when every link is (RFC 4035 5), so a secure alias
/// of a name in an unsigned zone is insecure, and an alias into a bogus zone is bogus.
#[test]
fn cname_chains_across_zones() {
    const N: u8 = 72;
    if !can_run("cname_chains_across_zones", N) {
        return;
    }
    let world = signed_basic("cname-chains", N)
        .leaf("one", "2.1", Some(Signing::bind()))
        .leaf("two", "2.2", Some(Signing::bind().nsec3(0, false)))
        .leaf("plain", "2.3", None)
        .leaf(
            "broken",
            "2.4",
            Some(Signing::bind().fault(Fault::BadSignature)),
        )
        .records(
            "one.test.",
            "to-two CNAME www.two.test.\nto-plain CNAME www.plain.test.\n\
             to-broken CNAME www.broken.test.\nto-nowhere CNAME nope.two.test.\n",
        )
        .start();
    let resolver = world.resolver();

    let r = assert_secure(&resolver, "to-two.one.test.", RType::A, "192.0.2.1");
    assert!(has_rrsig(&r.answer, "CNAME"), "{r}");
    let r = assert_insecure(&resolver, "to-plain.one.test.", RType::A, "192.0.2.1");
    assert_eq!(r.rdatas(RType::CNAME), ["www.plain.test."], "{r}");
    let r = resolver.ask_with("to-broken.one.test.", RType::A, Ask::DO);
    assert_eq!(r.rcode, Rcode::SERVFAIL, "{r}");
    let nx = resolver.ask_with("to-nowhere.one.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(nx.flags.ad(), "{nx}");
    assert_eq!(nx.rdatas(RType::CNAME), ["nope.two.test."], "{nx}");
}

/// What a validator must look past: a zone signed with an algorithm Portcullis lacks (Ed448)
/// beside one it has (RFC 6840 5.11), a stale DS beside the right one (a key rollover), a GOST
/// DS beside a SHA-256 one. All secure.
#[test]
fn extra_keys_and_ds_still_secure() {
    const N: u8 = 73;
    if !can_run("extra_keys_and_ds_still_secure", N) {
        return;
    }
    let world = signed_basic("extra-keys", N)
        .leaf("twoalgs", "2.1", Some(Signing::bind().also(16)))
        .leaf(
            "rollover",
            "2.2",
            Some(Signing::bind().extra_ds(ExtraDs::StaleKey)),
        )
        .leaf(
            "gostplus",
            "2.3",
            Some(Signing::bind().extra_ds(ExtraDs::Gost)),
        )
        .start();
    let resolver = world.resolver();
    let r = assert_secure(&resolver, "www.twoalgs.test.", RType::A, "192.0.2.1");
    let algorithms: Vec<&str> = r
        .answer
        .iter()
        .filter(|r| r.rtype == RType::RRSIG)
        .filter_map(|r| r.rdata.split_whitespace().nth(1))
        .collect();
    assert!(
        algorithms.contains(&"13") && algorithms.contains(&"16"),
        "{r}"
    );
    let nx = resolver.ask_with("nope.twoalgs.test.", RType::A, Ask::DO);
    assert!(nx.rcode == Rcode::NXDOMAIN && nx.flags.ad(), "{nx}");

    let ds = resolver.ask_with("rollover.test.", RType::DS, Ask::DO);
    assert_eq!(ds.rdatas(RType::DS).len(), 2, "{ds}");
    assert_secure(&resolver, "www.rollover.test.", RType::A, "192.0.2.1");

    let ds = resolver.ask_with("gostplus.test.", RType::DS, Ask::DO);
    assert_eq!(ds.rdatas(RType::DS).len(), 2, "{ds}");
    assert_secure(&resolver, "www.gostplus.test.", RType::A, "192.0.2.1");
}

/// RFC 8198: once the zone's NSEC (or NSEC3) records are validated, NXDOMAIN and NODATA for
/// other names they cover are answered from them, secure, without asking the zone's servers:
/// a random-subdomain flood stops reaching them.
///
/// With NSEC the names' spans are known from their order, so the flood must not reach the
/// server at all. With NSEC3 the names hash anywhere: `warm_up` misses teach most spans, and
/// one flood name may still fall into a span not seen yet (at most `allowed` queries).
fn aggressive_negative_answers(
    test: &str,
    block: u8,
    signing: Signing,
    warm_up: usize,
    allowed: u64,
) {
    let world = signed_basic(test, block)
        .leaf("secure", "2.1", Some(signing))
        .authority(world::Authority::Portcullis)
        .start();
    let resolver = world.resolver();
    // Warm up: enough misses for the zone's few denial records to be learned.
    for i in 0..warm_up {
        let r = resolver.ask_with(&format!("warm{i}.secure.test."), RType::A, Ask::DO);
        assert_eq!(r.rcode, Rcode::NXDOMAIN, "{r}");
        assert!(r.flags.ad(), "{r}");
    }
    // A NODATA teaches the name's own record (and the types it has).
    let nodata = resolver.ask_with("mail.secure.test.", RType::TXT, Ask::DO);
    assert!(nodata.answer.is_empty() && nodata.flags.ad(), "{nodata}");
    let before = world.queries_at("2.1");
    for i in 0..30 {
        let r = resolver.ask_with(&format!("flood-{i}.secure.test."), RType::A, Ask::DO);
        assert_eq!(r.rcode, Rcode::NXDOMAIN, "{r}");
        assert!(r.flags.ad(), "{r}");
    }
    let nodata = resolver.ask_with("mail.secure.test.", RType::AAAA, Ask::DO);
    assert!(nodata.answer.is_empty() && nodata.flags.ad(), "{nodata}");
    let after = world.queries_at("2.1");
    if resolver.is_portcullis() {
        assert!(
            after - before <= allowed,
            "the zone's server was asked {} times during the flood",
            after - before
        );
    }
    // The CD bit bypasses it (the client validates itself): the servers are asked.
    let cd = resolver.ask_with("cd-1.secure.test.", RType::A, Ask::DO_CD);
    assert_eq!(cd.rcode, Rcode::NXDOMAIN, "{cd}");
}

#[test]
fn aggressive_nsec() {
    const N: u8 = 90;
    if !can_run("aggressive_nsec", N) {
        return;
    }
    aggressive_negative_answers("aggressive_nsec", N, Signing::bind(), 40, 0);
}

#[test]
fn aggressive_nsec3() {
    const N: u8 = 91;
    if !can_run("aggressive_nsec3", N) {
        return;
    }
    aggressive_negative_answers(
        "aggressive_nsec3",
        N,
        Signing::bind().nsec3(0, false),
        200,
        1,
    );
}

/// Validation through a forwarder (RD=1 to another resolver, which sends DNSSEC records with
/// DO): secure names get AD, an unsigned child is proven insecure by DS questions walked down
/// through the forwarder, and a bogus zone is SERVFAIL with its EDE.
#[test]
fn validation_through_a_forwarder() {
    const N: u8 = 92;
    if !can_run("validation_through_a_forwarder", N) {
        return;
    }
    let world = signed_basic("forwarder", N)
        .leaf("secure", "2.1", Some(Signing::bind()))
        .leaf("plain", "2.2", None)
        .leaf("broken", "2.3", Some(Signing::bind().fault(Fault::Expired)))
        .start();
    let upstream = world.resolver();
    let to = format!(".={}", upstream.addr);
    let resolver = Resolver::start_portcullis_at(&world, "255.2", &["--forward", &to]);
    assert_secure(&resolver, "www.secure.test.", RType::A, "192.0.2.1");
    let nx = resolver.ask_with("nope.secure.test.", RType::A, Ask::DO);
    assert_eq!(nx.rcode, Rcode::NXDOMAIN, "{nx}");
    assert!(nx.flags.ad(), "{nx}");
    assert_insecure(&resolver, "www.plain.test.", RType::A, "192.0.2.1");
    let bogus = resolver.ask_with("www.broken.test.", RType::A, Ask::DO);
    assert_eq!(bogus.rcode, Rcode::SERVFAIL, "{bogus}");
    assert!(bogus.ede.iter().any(|(code, _)| *code == 7), "{bogus}");
}
