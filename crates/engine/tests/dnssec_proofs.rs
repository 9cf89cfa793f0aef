//! Denial-of-existence proofs in authoritative answers with the DO bit: NSEC (RFC 4035 section
//! 3.1.3), NSEC3 (RFC 5155 section 7.2, with the example zone of its appendix A and the
//! responses of appendix B), referrals to unsigned children (RFC 4035 section 3.1.4), truncation
//! when proofs do not fit (RFC 4035 section 3.1.1) and the NSEC3 hash budget.
//!
//! Writing proofs allocates nothing: a counting allocator checks every case above for both chains.
//! Over some 800 generated names per zone, every NXDOMAIN carries what a validator checks: the
//! NSEC covering the name and the wildcard, or the NSEC3 closest encloser proof and wildcard cover.
//!
//! Signatures here are not real: the engine copies them, it never checks them. The integration
//! test `crates/portcullis/tests/auth_dnssec.rs` signs zones for real and validates the answers.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[allow(dead_code)]
#[path = "conformance/support.rs"]
mod support;

use engine::{Catalog, Engine, EngineConfig, Outcome};
use support::*;
use wire::{Name, RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

const SIG: &str = "13 2 3600 20300101000000 20200101000000 12345 example. AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn engine_for(origin: &str, text: &str) -> Engine {
    Engine::new(
        Catalog::new(vec![zone(origin, text)]).unwrap(),
        EngineConfig::default(),
    )
    .unwrap()
}

fn ask_do(e: &Engine, qname: &str, qtype: RType) -> Response {
    ask(e, &query(qname, qtype).dnssec_ok(), udp())
}

/// Owner and type of each authority record, RRSIGs shown as `RRSIG <covered>`.
fn authority(r: &Response) -> Vec<String> {
    r.authority()
        .into_iter()
        .map(|rr| {
            let t = if rr.rtype == RType::RRSIG {
                format!(
                    "RRSIG {}",
                    RType(u16::from_be_bytes([rr.rdata[0], rr.rdata[1]]))
                )
            } else {
                rr.rtype.to_string()
            };
            format!("{} {t}", rr.owner.to_ascii_lowercase())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// NSEC (RFC 4035 section 3.1.3)
// ---------------------------------------------------------------------------------------------

/// A zone signed with NSEC: every authoritative name and cut owns an NSEC, with a (fake)
/// signature. `sub` is an empty non-terminal, `*.wild` a wildcard, `secure` a signed
/// delegation, `insecure` an unsigned one.
fn nsec_zone() -> String {
    let names: &[(&str, &str)] = &[
        ("@", "NS SOA RRSIG NSEC DNSKEY"),
        ("alias", "CNAME RRSIG NSEC"),
        ("insecure", "NS RRSIG NSEC"),
        ("secure", "NS DS RRSIG NSEC"),
        ("host.sub", "A RRSIG NSEC"),
        ("*.wc", "CNAME RRSIG NSEC"),
        ("*.wild", "A RRSIG NSEC"),
        ("www", "A RRSIG NSEC"),
    ];
    let mut text = String::from(
        "$TTL 3600\n\
         @ SOA ns.other. hostmaster 1 7200 3600 1209600 300\n\
         @ NS ns.other.\n\
         @ DNSKEY 257 3 13 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==\n\
         alias CNAME www\n\
         insecure NS ns.insecure\n\
         ns.insecure A 192.0.2.6\n\
         secure NS ns.other.\n\
         secure DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\
         host.sub A 192.0.2.3\n\
         *.wc CNAME nope\n\
         *.wild A 192.0.2.4\n\
         www A 192.0.2.2\n",
    );
    for (i, (owner, types)) in names.iter().enumerate() {
        let next = names[(i + 1) % names.len()].0;
        let next = if next == "@" { "example." } else { next };
        text += &format!("{owner} 300 NSEC {next} {types}\n");
        text += &format!(
            "{owner} 300 RRSIG NSEC {}\n",
            SIG.replacen("13 2", "13 3", 1)
        );
        for t in types
            .split(' ')
            .filter(|t| !["RRSIG", "NSEC", "NS"].contains(t))
        {
            text += &format!("{owner} RRSIG {t} {SIG}\n");
        }
    }
    text
}

fn nsec_engine() -> Engine {
    engine_for("example.", &nsec_zone())
}

#[test]
fn nxdomain_has_the_covering_nsec_and_the_wildcard_nsec() {
    let r = ask_do(&nsec_engine(), "nope.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(
        authority(&r),
        [
            "example. SOA",
            "example. RRSIG SOA",
            // nope sorts between insecure and secure.
            "insecure.example. NSEC",
            "insecure.example. RRSIG NSEC",
            // *.example sorts before alias: the apex NSEC covers it.
            "example. NSEC",
            "example. RRSIG NSEC",
        ]
    );
}

#[test]
fn one_nsec_serving_both_roles_is_written_once() {
    // 0.example. and *.example. both fall between the apex and alias.
    let r = ask_do(&nsec_engine(), "0.example.", RType::A);
    assert_eq!(
        authority(&r),
        [
            "example. SOA",
            "example. RRSIG SOA",
            "example. NSEC",
            "example. RRSIG NSEC"
        ]
    );
}

#[test]
fn nodata_has_the_nsec_of_the_name() {
    let r = ask_do(&nsec_engine(), "www.example.", RType::TXT);
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(
        authority(&r)[2..],
        ["www.example. NSEC", "www.example. RRSIG NSEC"]
    );
    // At the apex too (a DS query there is NODATA).
    let r = ask_do(&nsec_engine(), "example.", RType::DS);
    assert_eq!(authority(&r)[2..], ["example. NSEC", "example. RRSIG NSEC"]);
}

#[test]
fn empty_non_terminal_nodata_has_the_covering_nsec() {
    let r = ask_do(&nsec_engine(), "sub.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(
        authority(&r)[2..],
        ["secure.example. NSEC", "secure.example. RRSIG NSEC"]
    );
}

#[test]
fn wildcard_answer_proves_no_closer_match() {
    let r = ask_do(&nsec_engine(), "x.wild.example.", RType::A);
    assert_eq!(
        r.answer_summary(),
        [
            ("x.wild.example.".into(), RType::A),
            ("x.wild.example.".into(), RType::RRSIG)
        ]
    );
    // x.wild sorts after *.wild, whose NSEC covers it.
    assert_eq!(
        authority(&r),
        ["*.wild.example. NSEC", "*.wild.example. RRSIG NSEC"]
    );
    // Without the DO bit, nothing.
    let r = ask(&nsec_engine(), &query("x.wild.example.", RType::A), udp());
    assert!(r.authority().is_empty());
}

#[test]
fn wildcard_nodata_has_the_covering_nsec_and_the_wildcard_nsec() {
    let r = ask_do(&nsec_engine(), "a.wild.example.", RType::AAAA);
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(
        authority(&r),
        [
            "example. SOA",
            "example. RRSIG SOA",
            // a.wild sorts after *.wild (`*` is 0x2a, before letters): one NSEC for both.
            "*.wild.example. NSEC",
            "*.wild.example. RRSIG NSEC",
        ]
    );
}

#[test]
fn wildcard_cname_into_nxdomain_proves_both() {
    // x.wc matches *.wc (CNAME to nope.example.), which does not exist.
    let r = ask_do(&nsec_engine(), "x.wc.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(
        r.answer_summary(),
        [
            ("x.wc.example.".into(), RType::CNAME),
            ("x.wc.example.".into(), RType::RRSIG)
        ]
    );
    let auth = authority(&r);
    // The wildcard proof for x.wc (covered by *.wc's NSEC), then the negative answer for nope.
    assert_eq!(
        auth[..2],
        ["*.wc.example. NSEC", "*.wc.example. RRSIG NSEC"]
    );
    assert_eq!(
        auth[2..],
        [
            "example. SOA",
            "example. RRSIG SOA",
            "insecure.example. NSEC",
            "insecure.example. RRSIG NSEC",
            "example. NSEC",
            "example. RRSIG NSEC",
        ]
    );
}

#[test]
fn referral_to_an_unsigned_child_has_the_nsec_at_the_cut() {
    let r = ask_do(&nsec_engine(), "www.insecure.example.", RType::A);
    assert!(!r.flags().aa());
    assert_eq!(
        authority(&r),
        [
            "insecure.example. NS",
            "insecure.example. NSEC",
            "insecure.example. RRSIG NSEC"
        ]
    );
    assert_eq!(r.additional().len(), 1, "the glue");
}

#[test]
fn referral_to_a_signed_child_has_the_ds_and_no_nsec() {
    let r = ask_do(&nsec_engine(), "www.secure.example.", RType::A);
    assert_eq!(
        authority(&r),
        [
            "secure.example. NS",
            "secure.example. DS",
            "secure.example. RRSIG DS"
        ]
    );
}

#[test]
fn ds_queries_at_a_cut_are_answered_from_the_parent_side() {
    let r = ask_do(&nsec_engine(), "secure.example.", RType::DS);
    assert!(r.flags().aa());
    assert_eq!(
        r.answer_summary(),
        [
            ("secure.example.".into(), RType::DS),
            ("secure.example.".into(), RType::RRSIG)
        ]
    );
    // No DS: NODATA with the NSEC at the cut (NS bit, no DS bit).
    let r = ask_do(&nsec_engine(), "insecure.example.", RType::DS);
    assert!(r.flags().aa());
    assert_eq!(
        authority(&r),
        [
            "example. SOA",
            "example. RRSIG SOA",
            "insecure.example. NSEC",
            "insecure.example. RRSIG NSEC"
        ]
    );
}

#[test]
fn dnskey_at_the_apex_comes_signed() {
    let r = ask_do(&nsec_engine(), "example.", RType::DNSKEY);
    assert_eq!(
        r.answer_summary(),
        [
            ("example.".into(), RType::DNSKEY),
            ("example.".into(), RType::RRSIG)
        ]
    );
}

#[test]
fn proofs_that_do_not_fit_truncate() {
    // A 512-byte response holds the SOA and one NSEC with their signatures, not two NSECs.
    let long_sig = format!(
        "13 3 300 20300101000000 20200101000000 12345 example. {}",
        "A".repeat(150 * 4 / 3)
    );
    let text = nsec_zone().replace(&SIG.replacen("13 2", "13 3", 1), &long_sig);
    let e = engine_for("example.", &text);
    let r = ask(
        &e,
        &query("nope.example.", RType::A).dnssec_ok().payload(512),
        udp(),
    );
    assert!(r.flags().tc());
    assert!(r.authority().is_empty());
    let r = ask(&e, &query("nope.example.", RType::A).dnssec_ok(), udp());
    assert!(!r.flags().tc());
    assert_eq!(r.authority().len(), 6);
    // Without DO the same question fits.
    let r = ask(&e, &query("nope.example.", RType::A).payload(512), udp());
    assert!(!r.flags().tc());
}

#[test]
fn unsigned_zones_get_no_proofs() {
    let r = ask_do(&engine(), "nope.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(authority(&r), ["example. SOA"]);
}

// ---------------------------------------------------------------------------------------------
// NSEC3: the example of RFC 5155 appendix A, the responses of appendix B
// ---------------------------------------------------------------------------------------------

const SALT: [u8; 4] = [0xaa, 0xbb, 0xcc, 0xdd];

/// Base32hex without padding (RFC 4648 section 7), lowercase.
fn base32hex(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

fn h(name: &str, iterations: u16) -> String {
    let name: Name = name.parse().unwrap();
    base32hex(&zone::denial::nsec3_hash(name.as_ref(), &SALT, iterations))
}

/// The zone of RFC 5155 appendix A: NSEC3 with opt-out, salt aabbccdd, `iterations` (12 there).
/// `c.example.` is an unsigned delegation in an opt-out span, so it has no NSEC3. The NSEC3
/// chain is made here from the hashes.
fn rfc5155_zone(iterations: u16) -> String {
    let mut text = format!(
        "$TTL 3600\n\
         @ SOA ns1 bugs.x.w 1 3600 300 3600000 3600\n\
         @ NS ns1\n\
         @ NS ns2\n\
         @ MX 1 xx\n\
         @ NSEC3PARAM 1 0 {iterations} aabbccdd\n\
         @ RRSIG SOA {SIG}\n\
         a NS ns1.a\n\
         a NS ns2.a\n\
         a DS 58470 5 1 3079F1593EBAD6DC121E202A8B766A6A4837206C\n\
         a RRSIG DS {SIG}\n\
         ns1.a A 192.0.2.5\n\
         ns2.a A 192.0.2.6\n\
         ai A 192.0.2.9\n\
         ai HINFO \"KLH-10\" \"ITS\"\n\
         ai AAAA 2001:db8::f00:baa9\n\
         c NS ns1.c\n\
         c NS ns2.c\n\
         ns1.c A 192.0.2.7\n\
         ns2.c A 192.0.2.8\n\
         ns1 A 192.0.2.1\n\
         ns2 A 192.0.2.2\n\
         *.w MX 1 ai\n\
         *.w RRSIG MX {}\n\
         x.w MX 1 xx\n\
         x.y.w MX 1 xx\n\
         xx A 192.0.2.10\n\
         xx HINFO \"KLH-10\" \"TOPS-20\"\n\
         xx AAAA 2001:db8::f00:baa7\n",
        SIG
    );
    let names: &[(&str, &str)] = &[
        ("example.", "NS SOA MX RRSIG DNSKEY NSEC3PARAM"),
        ("a.example.", "NS DS RRSIG"),
        ("ai.example.", "A HINFO AAAA RRSIG"),
        ("ns1.example.", "A RRSIG"),
        ("ns2.example.", "A RRSIG"),
        ("w.example.", ""),
        ("*.w.example.", "MX RRSIG"),
        ("x.w.example.", "MX RRSIG"),
        ("y.w.example.", ""),
        ("x.y.w.example.", "MX RRSIG"),
        ("xx.example.", "A HINFO AAAA RRSIG"),
    ];
    let mut chain: Vec<(String, &str)> =
        names.iter().map(|(n, t)| (h(n, iterations), *t)).collect();
    chain.sort();
    for (i, (hash, types)) in chain.iter().enumerate() {
        let next = &chain[(i + 1) % chain.len()].0;
        text += &format!("{hash} 3600 NSEC3 1 1 {iterations} aabbccdd {next} {types}\n");
        text += &format!("{hash} 3600 RRSIG NSEC3 {SIG}\n");
    }
    text
}

/// The NSEC3 owner hashes in the authority section, each followed by its signature, in order.
fn nsec3_owners(r: &Response) -> Vec<String> {
    let auth = authority(r);
    let mut owners = Vec::new();
    for pair in auth.chunks(2) {
        if pair[0].ends_with(" NSEC3") {
            assert_eq!(pair[1], pair[0].replace(" NSEC3", " RRSIG NSEC3"));
            owners.push(pair[0].split('.').next().unwrap().to_string());
        }
    }
    owners
}

/// The owner hash of the NSEC3 covering `name` in the zone of [`rfc5155_zone`], found by a
/// plain scan (the greatest owner hash below the name's, else the last).
fn covering(zone_text: &str, name: &str, iterations: u16) -> String {
    let target = h(name, iterations);
    let mut owners: Vec<&str> = zone_text
        .lines()
        .filter(|l| l.contains(" NSEC3 1 "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    owners.sort();
    owners
        .iter()
        .rev()
        .find(|o| **o < target.as_str())
        .unwrap_or(owners.last().unwrap())
        .to_string()
}

#[test]
fn rfc5155_b1_name_error() {
    let text = rfc5155_zone(12);
    let r = ask_do(&engine_for("example.", &text), "a.c.x.w.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(authority(&r)[..2], ["example. SOA", "example. RRSIG SOA"]);
    // The closest encloser x.w.example matches, the next closer c.x.w.example and the wildcard
    // *.x.w.example are covered (RFC 5155 appendix B.1: 0p9mh…, b4um8…, 35mth…).
    assert_eq!(
        nsec3_owners(&r),
        [
            h("x.w.example.", 12),
            covering(&text, "c.x.w.example.", 12),
            covering(&text, "*.x.w.example.", 12)
        ]
    );
    assert_eq!(
        nsec3_owners(&r),
        [
            "b4um86eghhds6nea196smvmlo4ors995",
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            "35mthgpgcu1qg68fab165klnsnk3dpvl"
        ]
    );
}

#[test]
fn rfc5155_b2_no_data() {
    let r = ask_do(
        &engine_for("example.", &rfc5155_zone(12)),
        "ns1.example.",
        RType::MX,
    );
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(nsec3_owners(&r), ["2t7b4g4vsa5smi47k61mv5bv1a22bojr"]);
}

#[test]
fn rfc5155_b21_no_data_at_an_empty_non_terminal() {
    let r = ask_do(
        &engine_for("example.", &rfc5155_zone(12)),
        "y.w.example.",
        RType::A,
    );
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(nsec3_owners(&r), ["ji6neoaepv8b5o6k4ev33abha8ht9fgc"]);
}

#[test]
fn rfc5155_b3_referral_to_an_opt_out_unsigned_zone() {
    let text = rfc5155_zone(12);
    let r = ask_do(&engine_for("example.", &text), "mc.c.example.", RType::MX);
    assert!(!r.flags().aa());
    assert_eq!(authority(&r)[..2], ["c.example. NS", "c.example. NS"]);
    // The closest provable encloser (the apex) matches; the next closer c.example is covered by
    // an opt-out NSEC3 (RFC 5155 appendix B.3: 0p9mh…, 35mth…).
    assert_eq!(
        nsec3_owners(&r),
        [
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom".to_string(),
            covering(&text, "c.example.", 12)
        ]
    );
    assert_eq!(nsec3_owners(&r)[1], "35mthgpgcu1qg68fab165klnsnk3dpvl");
    // A DS query at the opt-out cut: the same proof, as NODATA (RFC 5155 section 7.2.4).
    let r = ask_do(&engine_for("example.", &text), "c.example.", RType::DS);
    assert!(r.flags().aa());
    assert_eq!(
        nsec3_owners(&r),
        [
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom",
            "35mthgpgcu1qg68fab165klnsnk3dpvl"
        ]
    );
}

#[test]
fn rfc5155_referral_to_a_signed_zone_has_the_ds() {
    let r = ask_do(
        &engine_for("example.", &rfc5155_zone(12)),
        "mc.a.example.",
        RType::MX,
    );
    assert_eq!(
        authority(&r),
        [
            "a.example. NS",
            "a.example. NS",
            "a.example. DS",
            "a.example. RRSIG DS"
        ]
    );
}

#[test]
fn rfc5155_b4_wildcard_expansion() {
    let text = rfc5155_zone(12);
    let r = ask_do(&engine_for("example.", &text), "a.z.w.example.", RType::MX);
    assert_eq!(
        r.answer_summary(),
        [
            ("a.z.w.example.".into(), RType::MX),
            ("a.z.w.example.".into(), RType::RRSIG)
        ]
    );
    // The next closer name z.w.example is covered (RFC 5155 appendix B.4: q04jk…).
    assert_eq!(nsec3_owners(&r), [covering(&text, "z.w.example.", 12)]);
    assert_eq!(nsec3_owners(&r), ["q04jkcevqvmu85r014c7dkba38o0ji5r"]);
}

#[test]
fn rfc5155_b5_wildcard_no_data() {
    let r = ask_do(
        &engine_for("example.", &rfc5155_zone(12)),
        "a.z.w.example.",
        RType::AAAA,
    );
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert!(r.answer().is_empty());
    // Closest encloser w.example matches, next closer z.w.example is covered, the wildcard
    // matches (RFC 5155 appendix B.5: k8ude…, q04jk…, r53bq…).
    assert_eq!(
        nsec3_owners(&r),
        [
            "k8udemvp1j2f7eg6jebps17vp3n8i58h",
            "q04jkcevqvmu85r014c7dkba38o0ji5r",
            "r53bq7cc2uvmubfu5ocmm6pers9tk9en"
        ]
    );
}

#[test]
fn rfc5155_b6_ds_no_data_at_a_name_without_cut() {
    let r = ask_do(
        &engine_for("example.", &rfc5155_zone(12)),
        "ai.example.",
        RType::DS,
    );
    assert_eq!(r.rcode(), Rcode::NOERROR);
    assert_eq!(nsec3_owners(&r), ["gjeqe526plbf1g8mklp59enfd789njgi"]);
}

#[test]
fn nsec3_hash_work_is_bounded_per_query() {
    // 2,500 iterations (the most RFC 5155 section 10.3 allows): one hash costs 2,501 SHA-1
    // computations, over the per-query budget, so no NSEC3 is looked up; the answer still goes
    // out (a validator will not accept it, as RFC 9276 warns).
    let text = rfc5155_zone(2500);
    let r = ask_do(&engine_for("example.", &text), "a.c.x.w.example.", RType::A);
    assert_eq!(r.rcode(), Rcode::NXDOMAIN);
    assert_eq!(authority(&r), ["example. SOA", "example. RRSIG SOA"]);
    // 150 iterations: three hashes fit (453 computations), the NXDOMAIN proof is complete.
    let text = rfc5155_zone(150);
    let r = ask_do(&engine_for("example.", &text), "a.c.x.w.example.", RType::A);
    // (One NSEC3 serving two roles is written once.)
    let mut want: Vec<String> = Vec::new();
    for owner in [
        h("x.w.example.", 150),
        covering(&text, "c.x.w.example.", 150),
        covering(&text, "*.x.w.example.", 150),
    ] {
        if !want.contains(&owner) {
            want.push(owner);
        }
    }
    assert_eq!(nsec3_owners(&r), want);
    // 200 iterations: two hashes fit (402), the third (the wildcard) does not.
    let text = rfc5155_zone(200);
    let r = ask_do(&engine_for("example.", &text), "a.c.x.w.example.", RType::A);
    assert_eq!(nsec3_owners(&r)[0], h("x.w.example.", 200));
    assert!(nsec3_owners(&r).len() <= 2);
}

// ---------------------------------------------------------------------------------------------
// No allocation
// ---------------------------------------------------------------------------------------------

#[test]
fn proofs_allocate_nothing() {
    let cases: &[(&str, RType, usize)] = &[
        ("www.example.", RType::A, 0),
        ("nope.example.", RType::A, 6),
        ("a.c.x.w.example.", RType::A, 8),
        ("www.example.", RType::TXT, 4),
        ("ns1.example.", RType::MX, 4),
        ("sub.example.", RType::A, 4),
        ("y.w.example.", RType::A, 4),
        ("x.wild.example.", RType::A, 2),
        ("a.z.w.example.", RType::MX, 2),
        ("a.wild.example.", RType::AAAA, 4),
        ("a.z.w.example.", RType::AAAA, 8),
        ("x.wc.example.", RType::A, 8),
        ("www.insecure.example.", RType::A, 3),
        ("mc.c.example.", RType::MX, 6),
        ("c.example.", RType::DS, 6),
    ];
    let engines = [nsec_engine(), engine_for("example.", &rfc5155_zone(12))];
    let client = udp();
    let mut out = [0u8; 1232];
    let mut proofs = 0;
    for (name, qtype, _) in cases {
        let bytes = query(name, *qtype).dnssec_ok().bytes();
        for e in &engines {
            let before = alloc_count::allocations();
            let outcome = e.respond(&bytes, &client, Time::ZERO, &mut out);
            assert_eq!(
                alloc_count::allocations() - before,
                0,
                "answering {name} {qtype} allocated"
            );
            let Outcome::Reply(info) = outcome else {
                panic!("{name}: {outcome:?}");
            };
            let m = wire::Message::parse(&out[..info.len]).unwrap();
            proofs += usize::from(m.header().nscount);
        }
    }
    // Both zones answered with their proofs (the counts above, summed over the two zones
    // where the names exist), not with empty authority sections.
    assert!(
        proofs >= cases.iter().map(|c| c.2).sum::<usize>(),
        "{proofs}"
    );
}

// ---------------------------------------------------------------------------------------------
// Every NXDOMAIN proves what a validator checks (RFC 4035 section 5.4, RFC 5155 section 8.4)
// ---------------------------------------------------------------------------------------------

/// Names to ask for: every combination of up to three labels from a small set, below the apex,
/// so that they fall everywhere in the zones' chains (before the first name, after the last,
/// below leaves, below empty non-terminals, next to wildcards).
fn many_names() -> Vec<String> {
    let labels = [
        "0", "a", "Ai", "c", "mc", "w", "x", "y", "z", "zz", "~", "ns1", "wild", "sub",
    ];
    let mut names = Vec::new();
    for a in labels {
        names.push(format!("{a}.example."));
        for b in labels {
            names.push(format!("{b}.{a}.example."));
            for c in ["0", "x", "~"] {
                names.push(format!("{c}.{b}.{a}.example."));
            }
        }
    }
    names
}

/// Whether the span (`owner`, `next`) of a chain ordered by `cmp` covers `x`, the last span
/// wrapping around to the first.
fn spans<T: Ord>(owner: &T, next: &T, x: &T) -> bool {
    if owner < next {
        owner < x && x < next
    } else {
        owner < x || x < next
    }
}

#[test]
fn every_nsec_nxdomain_covers_the_name_and_the_wildcard() {
    let e = nsec_engine();
    let mut checked = 0;
    for qname in many_names() {
        let r = ask_do(&e, &qname, RType::A);
        if r.rcode() != Rcode::NXDOMAIN {
            continue;
        }
        let q: Name = qname.parse().unwrap();
        let nsecs: Vec<(Name, Name)> = r
            .authority()
            .into_iter()
            .filter(|rr| rr.rtype == RType::NSEC)
            .map(|rr| {
                let (next, _) = wire::NameRef::split_wire(&rr.rdata).unwrap();
                (rr.owner.parse().unwrap(), next.to_name())
            })
            .collect();
        let covered = |x: &Name| nsecs.iter().any(|(o, n)| spans(o, n, x));
        assert!(covered(&q), "{qname}: {nsecs:?}");
        // The closest encloser: the deepest ancestor that some NSEC owns or names as next (or
        // that is an ancestor of one, for empty non-terminals); its wildcard must be covered.
        let ce = (1..q.as_ref().label_count())
            .filter_map(|n| q.as_ref().strip_labels(n))
            .find(|a| {
                nsecs
                    .iter()
                    .any(|(o, n)| o.as_ref().is_subdomain_of(*a) || n.as_ref().is_subdomain_of(*a))
            })
            .unwrap();
        let wildcard = ce.to_name().prepend(b"*").unwrap();
        assert!(
            covered(&wildcard),
            "{qname}: {wildcard} not covered: {nsecs:?}"
        );
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn every_nsec3_nxdomain_has_a_closest_encloser_proof() {
    let e = engine_for("example.", &rfc5155_zone(12));
    let mut checked = 0;
    for qname in many_names() {
        let r = ask_do(&e, &qname, RType::A);
        if r.rcode() != Rcode::NXDOMAIN {
            continue;
        }
        // (owner hash, next hash) of each NSEC3, both in base32hex.
        let nsec3s: Vec<(String, String)> = r
            .authority()
            .into_iter()
            .filter(|rr| rr.rtype == RType::NSEC3)
            .map(|rr| {
                let salt_len = usize::from(rr.rdata[4]);
                let hash_len = usize::from(rr.rdata[5 + salt_len]);
                let next = &rr.rdata[6 + salt_len..6 + salt_len + hash_len];
                let owner = rr.owner.split('.').next().unwrap().to_ascii_lowercase();
                (owner, base32hex(next))
            })
            .collect();
        let matches = |name: &str| nsec3s.iter().any(|(o, _)| *o == h(name, 12));
        let covered = |name: &str| nsec3s.iter().any(|(o, n)| spans(o, n, &h(name, 12)));
        let q: Name = qname.parse().unwrap();
        let q = q.as_ref();
        let ce = (1..q.label_count())
            .filter_map(|n| q.strip_labels(n))
            .find(|a| matches(&a.to_string()))
            .unwrap_or_else(|| panic!("{qname}: no closest encloser in {nsec3s:?}"));
        let next_closer = q
            .strip_labels(q.label_count() - ce.label_count() - 1)
            .unwrap();
        assert!(covered(&next_closer.to_string()), "{qname}: next closer");
        assert!(covered(&format!("*.{ce}")), "{qname}: wildcard at {ce}");
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
}
