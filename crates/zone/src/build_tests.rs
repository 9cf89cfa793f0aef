//! Tests of the load-time checks (see `check.rs` for the rules), each with its exact text.

use std::path::Path;

use wire::{Class, RType};

use crate::testutil::{build, errors, name, q, record, warnings, zone};
use crate::{Loc, ZoneBuilder};

const BASE: &str = "
@     60 SOA ns h 1 2 3 4 5
@     60 NS  ns
ns    60 A   192.0.2.1
";

fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

// ---------------------------------------------------------------------------------------------
// Per-record rules
// ---------------------------------------------------------------------------------------------

#[test]
fn class_other_than_in_is_refused() {
    let mut b = ZoneBuilder::new(name("example."));
    for line in BASE.lines().map(str::trim).filter(|l| !l.is_empty()) {
        b.add(record("example.", line));
    }
    b.add(crate::Record {
        class: Class::CH,
        ..record("example.", "txt 60 TXT x")
    });
    let errs: Vec<String> = b
        .finish()
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        ["txt.example.: class CH is not served: only IN zones are"]
    );
}

#[test]
fn meta_types_are_refused() {
    let mut b = ZoneBuilder::new(name("example."));
    b.add(crate::Record {
        rtype: RType::ANY,
        ..record("example.", "x 60 TXT x")
    });
    let errs = b.finish().unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "x.example.: ANY is a query type and cannot be stored in a zone"
    );
}

#[test]
fn out_of_zone_records_are_refused() {
    assert_eq!(
        errors("example.", &with("www.example.com. 60 A 192.0.2.1")),
        ["www.example.com.: out of zone: not at or below the origin example."]
    );
}

#[test]
fn malformed_rdata_is_refused() {
    let mut b = ZoneBuilder::new(name("example."));
    for line in BASE.lines().map(str::trim).filter(|l| !l.is_empty()) {
        b.add(record("example.", line));
    }
    let loc = Loc {
        file: Path::new("db.example").into(),
        line: 7,
        column: 1,
    };
    b.add(crate::Record {
        rdata: vec![1, 2, 3],
        loc: Some(loc),
        ..record("example.", "a 60 A 192.0.2.1")
    });
    let errs = b.finish().unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "db.example:7:1: a.example.: A: malformed RDATA: too short"
    );
}

// ---------------------------------------------------------------------------------------------
// SOA and NS at the apex (RFC 1035 section 5.2, RFC 1034 section 4.2.1)
// ---------------------------------------------------------------------------------------------

#[test]
fn soa_rules() {
    assert_eq!(
        errors("example.", "@ 60 NS ns.other."),
        ["example.: no SOA record at the zone apex"]
    );
    assert_eq!(
        errors("example.", "www 60 A 192.0.2.1"),
        [
            "example.: no SOA record at the zone apex",
            "example.: no NS records at the zone apex"
        ]
    );
    assert_eq!(
        errors("example.", &with("@ 60 SOA ns h 2 2 3 4 5")),
        ["example.: more than one SOA record at the zone apex"]
    );
    assert_eq!(
        errors("example.", &with("www 60 SOA ns h 1 2 3 4 5")),
        ["www.example.: SOA record outside the zone apex"]
    );
    // The same SOA twice is one record.
    let z = zone("example.", &with("@ 60 SOA ns h 1 2 3 4 5"));
    assert_eq!(z.soa().count(), 1);
}

#[test]
fn ns_at_the_apex_is_required() {
    assert_eq!(
        errors("example.", "@ 60 SOA ns h 1 2 3 4 5\nns 60 A 192.0.2.1"),
        ["example.: no NS records at the zone apex"]
    );
}

#[test]
fn an_empty_zone_is_refused() {
    let errs = ZoneBuilder::new(name("example.")).finish().unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].to_string(),
        "example.: no SOA record at the zone apex"
    );
}

// ---------------------------------------------------------------------------------------------
// CNAME and DNAME (RFC 2181 section 10.1, RFC 4035 section 2.5, RFC 6672 section 2.4)
// ---------------------------------------------------------------------------------------------

#[test]
fn cname_beside_other_data_is_refused() {
    assert_eq!(
        errors(
            "example.",
            &with("www 60 CNAME ns\nwww 60 TXT x\nwww 60 MX 1 ns")
        ),
        [
            "www.example.: CNAME beside other data (MX) at the same name (RFC 2181 section 10.1)",
            "www.example.: CNAME beside other data (TXT) at the same name (RFC 2181 section 10.1)",
        ]
    );
    assert_eq!(
        errors("example.", &with("@ 60 CNAME ns")),
        [
            "example.: CNAME beside other data (NS) at the same name (RFC 2181 section 10.1)",
            "example.: CNAME beside other data (SOA) at the same name (RFC 2181 section 10.1)",
        ]
    );
}

#[test]
fn cname_beside_rrsig_and_nsec_is_fine() {
    // Covers CNAME (5); 16 bytes of fields; signer `a.`; an empty signature.
    let rrsig = format!("www 60 RRSIG \\# 22 0005{}016100ff", "00".repeat(16));
    let z = zone(
        "example.",
        &with(&format!(
            "www 60 CNAME ns\nwww 60 NSEC ns.example. CNAME RRSIG NSEC\n{rrsig}"
        )),
    );
    let node = z.node(name("www.example.").as_ref()).unwrap();
    assert_eq!(node.signatures(RType::CNAME).unwrap().count(), 1);
    assert!(node.signatures(RType::A).is_none());
    assert_eq!(q(&z, "www.example.", "A"), "cname www.example.");
}

#[test]
fn more_than_one_cname_or_dname_is_refused() {
    assert_eq!(
        errors("example.", &with("www 60 CNAME a\nwww 60 CNAME b")),
        ["www.example.: more than one CNAME record at one name (RFC 2181 section 10.1)"]
    );
    assert_eq!(
        errors("example.", &with("old 60 DNAME a.\nold 60 DNAME b.")),
        ["old.example.: more than one DNAME record at one name (RFC 6672 section 2.4)"]
    );
    // The same CNAME twice, case aside, is one record.
    let z = zone("example.", &with("www 60 CNAME NS\nWWW 60 CNAME ns"));
    assert_eq!(
        z.node(name("www.example.").as_ref())
            .unwrap()
            .rrset(RType::CNAME)
            .unwrap()
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Occluded data
// ---------------------------------------------------------------------------------------------

#[test]
fn data_at_a_delegation_point_is_refused() {
    assert_eq!(
        errors(
            "example.",
            &with(
                "sub 60 NS ns.other.\nsub 60 A 192.0.2.9\nsub 60 DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
            )
        ),
        [
            "sub.example.: A at a delegation point is occluded: only NS, DS, RRSIG and NSEC belong there"
        ]
    );
}

#[test]
fn data_below_a_delegation_point_is_refused_but_glue() {
    assert_eq!(
        errors(
            "example.",
            &with("sub 60 NS ns.sub\nns.sub 60 A 192.0.2.9\nns.sub 60 TXT x\nx.y.sub 60 NS a.")
        ),
        [
            "ns.sub.example.: TXT below the delegation point sub.example. is occluded: only A and AAAA glue may sit there",
            "x.y.sub.example.: NS below the delegation point sub.example. is occluded: only A and AAAA glue may sit there",
        ]
    );
    let z = zone(
        "example.",
        &with("sub 60 NS ns.sub\nns.sub 60 A 192.0.2.9\nns.sub 60 AAAA 2001:db8::9"),
    );
    assert_eq!(q(&z, "ns.sub.example.", "AAAA"), "referral sub.example.");
}

#[test]
fn data_below_a_dname_is_refused() {
    assert_eq!(
        errors(
            "example.",
            &with("old 60 DNAME new.\nwww.old 60 A 192.0.2.9")
        ),
        ["www.old.example.: A below the DNAME at old.example. is occluded (RFC 6672 section 2.4)"]
    );
}

#[test]
fn ds_at_the_apex_and_ns_at_a_wildcard_are_refused() {
    assert_eq!(
        errors(
            "example.",
            &with("@ 60 DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118")
        ),
        ["example.: DS at the zone apex belongs in the parent zone"]
    );
    assert_eq!(
        errors("example.", &with("* 60 NS ns.other.")),
        ["*.example.: NS records at a wildcard name are not supported (RFC 4592 section 4.2)"]
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let errs = errors(
        "example.",
        "www 60 CNAME a\nwww 60 TXT x\nout.of.zone. 60 A 192.0.2.1",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
}

#[test]
fn an_rrset_too_large_for_any_message_is_refused() {
    let mut b = ZoneBuilder::new(name("example."));
    for line in BASE.lines().map(str::trim).filter(|l| !l.is_empty()) {
        b.add(record("example.", line));
    }
    let base = record("example.", "big 60 A 192.0.2.1");
    for i in 0..=65535u32 {
        b.add(crate::Record {
            rdata: (i + (10 << 24)).to_be_bytes().to_vec(),
            ..base.clone()
        });
    }
    let errs = b.finish().unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "big.example.: A RRset of 65536 records: at most 65535 fit in a message"
    );
}

// ---------------------------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------------------------

#[test]
fn differing_ttls_use_the_smallest_and_warn() {
    let text = with("www 300 A 192.0.2.1\nwww 60 A 192.0.2.2\nwww 120 A 192.0.2.3");
    assert_eq!(
        warnings("example.", &text),
        [
            "www.example.: TTLs differ within the A RRset (300 and 60): using 60 (RFC 2181 section 5.2)"
        ]
    );
    let z = zone("example.", &text);
    assert_eq!(
        z.node(name("www.example.").as_ref())
            .unwrap()
            .rrset(RType::A)
            .unwrap()
            .ttl(),
        60
    );
}

#[test]
fn duplicates_merge_silently() {
    let text = with(
        "www 60 A 192.0.2.1\nWWW 60 A 192.0.2.1\nwww 60 MX 10 Mail.Example.\nwww 60 MX 10 mail.example.",
    );
    assert!(warnings("example.", &text).is_empty());
    let z = zone("example.", &text);
    assert_eq!(z.record_count(), 5);
    let node = z.node(name("www.example.").as_ref()).unwrap();
    assert_eq!(node.rrset(RType::MX).unwrap().count(), 1);
    // The first-loaded form is kept.
    assert_eq!(
        node.rrset(RType::MX).unwrap().rdatas().next().unwrap(),
        b"\x00\x0a\x04Mail\x07Example\x00"
    );
    // Same data, different TTL: one record, the smaller TTL, a warning.
    let text = with("www 60 A 192.0.2.1\nwww 30 A 192.0.2.1");
    assert_eq!(warnings("example.", &text).len(), 1);
    assert_eq!(
        zone("example.", &text)
            .node(name("www.example.").as_ref())
            .unwrap()
            .rrset(RType::A)
            .unwrap()
            .count(),
        1
    );
}

#[test]
fn missing_glue_and_addressless_name_servers_warn() {
    let text = "
        @       60 SOA ns h 1 2 3 4 5
        @       60 NS  ns
        @       60 NS  ns.other.
        sub     60 NS  ns.sub
        sub     60 NS  ns2.sub
        sub     60 NS  ns
        ns2.sub 60 AAAA 2001:db8::1
    ";
    assert_eq!(
        warnings("example.", text),
        [
            "example.: name server ns.example. is in the zone but has no A or AAAA records",
            // In canonical RDATA order: ns.sub.example. sorts before ns.example.
            "sub.example.: no glue (A or AAAA) for name server ns.sub.example. below the delegation point sub.example.",
            "sub.example.: name server ns.example. is in the zone but has no A or AAAA records",
        ]
    );
    assert!(warnings("example.", &with("sub 60 NS ns.sub\nns.sub 60 A 192.0.2.9")).is_empty());
}

#[test]
fn problems_carry_their_location() {
    let mut b = ZoneBuilder::new(name("example."));
    for line in BASE.lines().map(str::trim).filter(|l| !l.is_empty()) {
        b.add(record("example.", line));
    }
    let loc = |line| {
        Some(Loc {
            file: Path::new("z/db").into(),
            line,
            column: 5,
        })
    };
    b.add(crate::Record {
        loc: loc(10),
        ..record("example.", "w 60 A 192.0.2.1")
    });
    b.add(crate::Record {
        loc: loc(11),
        ..record("example.", "w 30 A 192.0.2.2")
    });
    let built = b.finish().unwrap();
    assert_eq!(
        built.warnings[0].to_string(),
        "z/db:11:5: w.example.: TTLs differ within the A RRset (60 and 30): using 30 (RFC 2181 section 5.2)"
    );
    assert!(build("example.", BASE).unwrap().warnings.is_empty());
}
