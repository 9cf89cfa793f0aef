//! Lookup tests, filed by RFC section, and a property test against a naive reference.

use wire::{Name, NameRef, RType};

use crate::testutil::{name, q, record, zone};
use crate::{Lookup, Record, ZoneBuilder};

const EXAMPLE: &str = "
@                3600 SOA   ns1 hostmaster 2024010101 7200 3600 1209600 300
@                3600 NS    ns1
@                3600 NS    ns2.example.net.
@                3600 MX    10 mail
ns1              3600 A     192.0.2.1
mail             3600 A     192.0.2.2
mail             3600 AAAA  2001:db8::2
www              3600 CNAME mail
a.b.c            3600 TXT   deep
sub              3600 NS    ns.sub
sub              3600 NS    ns.elsewhere.
sub              3600 DS    60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118
ns.sub           3600 A     192.0.2.53
";

// ---------------------------------------------------------------------------------------------
// RFC 1034 section 4.3.2: the steps of the algorithm
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc1034_4_3_2_step_3a_exact_match() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "mail.example.", "A"), "answer mail.example. A x1");
    assert_eq!(q(&z, "example.", "NS"), "answer example. NS x2");
    assert_eq!(q(&z, "example.", "SOA"), "answer example. SOA x1");
    // The name exists, the type does not.
    assert_eq!(q(&z, "mail.example.", "TXT"), "nodata mail.example.");
}

#[test]
fn rfc1034_4_3_2_step_3a_cname() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "www.example.", "A"), "cname www.example.");
    assert_eq!(q(&z, "www.example.", "MX"), "cname www.example.");
    // Asking for the CNAME itself gets it.
    assert_eq!(
        q(&z, "www.example.", "CNAME"),
        "answer www.example. CNAME x1"
    );
    let Lookup::Cname { rrset, .. } = z.lookup(name("www.example.").as_ref(), RType::A) else {
        panic!()
    };
    assert_eq!(
        rrset.rdatas().collect::<Vec<_>>(),
        vec![name("mail.example.").as_wire()]
    );
}

#[test]
fn rfc1034_4_3_2_step_3b_referral() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "sub.example.", "A"), "referral sub.example.");
    assert_eq!(q(&z, "sub.example.", "NS"), "referral sub.example.");
    assert_eq!(
        q(&z, "deep.below.sub.example.", "A"),
        "referral sub.example."
    );
    // Glue is not authoritative data: a query for it is referred too...
    assert_eq!(q(&z, "ns.sub.example.", "A"), "referral sub.example.");
    // ...but the additional-section lookup finds it.
    let glue = z.node(name("ns.sub.example.").as_ref()).unwrap();
    assert_eq!(
        glue.rrset(RType::A).unwrap().rdatas().next(),
        Some(&[192, 0, 2, 53][..])
    );
    let Lookup::Referral { cut, ns } = z.lookup(name("x.sub.example.").as_ref(), RType::A) else {
        panic!()
    };
    assert!(cut.is_delegation());
    assert_eq!(ns.count(), 2);
}

#[test]
fn rfc1034_4_3_2_step_3c_name_error_and_empty_non_terminals() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "nothere.example.", "A"), "nxdomain example.");
    assert_eq!(q(&z, "x.mail.example.", "A"), "nxdomain mail.example.");
    // b.c.example and c.example own nothing but lead to a.b.c.example: they exist.
    assert_eq!(q(&z, "c.example.", "A"), "nodata c.example.");
    assert_eq!(q(&z, "b.c.example.", "TXT"), "nodata b.c.example.");
    assert_eq!(q(&z, "x.b.c.example.", "TXT"), "nxdomain b.c.example.");
    assert_eq!(q(&z, "z.a.b.c.example.", "TXT"), "nxdomain a.b.c.example.");
    assert_eq!(
        q(&z, "a.b.c.example.", "TXT"),
        "answer a.b.c.example. TXT x1"
    );
}

#[test]
fn rfc1034_4_3_2_step_2_out_of_zone() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "example.com.", "A"), "out-of-zone");
    assert_eq!(q(&z, ".", "NS"), "out-of-zone");
    assert_eq!(q(&z, "xexample.", "A"), "out-of-zone");
    assert_eq!(q(&z, "com.", "A"), "out-of-zone");
}

#[test]
fn rfc8482_any() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "mail.example.", "ANY"), "any mail.example.");
    let Lookup::Any { node, .. } = z.lookup(name("mail.example.").as_ref(), RType::ANY) else {
        panic!()
    };
    let types: Vec<RType> = node.rrsets().map(|r| r.rtype()).collect();
    assert_eq!(types, vec![RType::A, RType::AAAA]);
    assert_eq!(q(&z, "c.example.", "ANY"), "nodata c.example.");
    assert_eq!(q(&z, "sub.example.", "ANY"), "referral sub.example.");
    assert_eq!(q(&z, "nothere.example.", "ANY"), "nxdomain example.");
}

// ---------------------------------------------------------------------------------------------
// RFC 4035 section 3.1.4.1: DS at a zone cut, and the apex
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc4035_3_1_4_1_ds_at_the_cut_is_answered_by_the_parent() {
    let z = zone(
        "example.",
        &format!("{EXAMPLE}\nunsigned 3600 NS ns.elsewhere."),
    );
    assert_eq!(q(&z, "sub.example.", "DS"), "answer sub.example. DS x1");
    assert_eq!(q(&z, "unsigned.example.", "DS"), "nodata unsigned.example.");
    // Below the cut, DS belongs to the child: referral.
    assert_eq!(q(&z, "x.sub.example.", "DS"), "referral sub.example.");
    // DS at the apex belongs to our parent.
    assert_eq!(q(&z, "example.", "DS"), "nodata example.");
}

#[test]
fn apex_cases() {
    let z = zone("example.", EXAMPLE);
    assert_eq!(q(&z, "EXAMPLE.", "mx"), "answer example. MX x1");
    assert_eq!(q(&z, "example.", "AAAA"), "nodata example.");
    let apex = z.apex();
    assert!(apex.is_apex() && !apex.is_delegation() && apex.cut().is_none());
    assert_eq!(z.serial(), 2024010101);
    assert_eq!(z.soa().ttl(), 3600);
    assert_eq!(z.negative_ttl(), 300);
    assert_eq!(z.origin(), name("example.").as_ref());
    // 13 records; names: apex, ns1, mail, www, c, b.c, a.b.c, sub, ns.sub.
    assert_eq!(z.record_count(), 13);
    assert_eq!(z.name_count(), 9);
    assert!(z.memory_bytes() > 0);
}

#[test]
fn negative_ttl_is_the_smaller_of_soa_ttl_and_minimum() {
    let z = zone(
        "example.",
        "@ 60 SOA ns h 1 2 3 4 300\n@ 60 NS ns\nns 60 A 192.0.2.1",
    );
    assert_eq!(z.negative_ttl(), 60);
}

// ---------------------------------------------------------------------------------------------
// RFC 4592 section 2.2.1: the example zone and its table
// ---------------------------------------------------------------------------------------------

const RFC4592: &str = "
@                        3600 SOA   localhost. root.localhost. 1 3600 600 86400 3600
@                        3600 NS    ns.example.com.
@                        3600 NS    ns.example.net.
*                        3600 TXT   \"this is a wildcard\"
*                        3600 MX    10 host1.example.
sub.*                    3600 TXT   \"this is not a wildcard\"
host1                    3600 A     192.0.2.1
_ssh._tcp.host1          3600 SRV   \\# 7 00000000001600
_ssh._tcp.host2          3600 SRV   \\# 7 00000000001600
subdel                   3600 NS    ns.example.com.
subdel                   3600 NS    ns.example.net.
";

#[test]
fn rfc4592_2_2_1_synthesised() {
    let z = zone("example.", RFC4592);
    assert_eq!(
        q(&z, "host3.example.", "MX"),
        "answer *.example. MX x1 wildcard"
    );
    assert_eq!(q(&z, "host3.example.", "A"), "nodata *.example. wildcard");
    assert_eq!(
        q(&z, "foo.bar.example.", "TXT"),
        "answer *.example. TXT x1 wildcard"
    );
}

#[test]
fn rfc4592_2_2_1_not_synthesised() {
    let z = zone("example.", RFC4592);
    // host1.example exists.
    assert_eq!(q(&z, "host1.example.", "MX"), "nodata host1.example.");
    // sub.*.example exists and is no wildcard.
    assert_eq!(q(&z, "sub.*.example.", "MX"), "nodata sub.*.example.");
    // _tcp.host1.example exists (an empty non-terminal).
    assert_eq!(
        q(&z, "_telnet._tcp.host1.example.", "SRV"),
        "nxdomain _tcp.host1.example."
    );
    // subdel.example is a zone cut.
    assert_eq!(
        q(&z, "host.subdel.example.", "A"),
        "referral subdel.example."
    );
    // *.example exists; nothing synthesises below it.
    assert_eq!(q(&z, "ghost.*.example.", "MX"), "nxdomain *.example.");
}

#[test]
fn rfc4592_wildcard_name_itself_and_empty_non_terminals() {
    let z = zone("example.", RFC4592);
    // A query for the wildcard's own name is an ordinary exact match.
    assert_eq!(q(&z, "*.example.", "MX"), "answer *.example. MX x1");
    assert_eq!(q(&z, "*.example.", "A"), "nodata *.example.");
    // host2.example is an empty non-terminal: it exists, no wildcard.
    assert_eq!(q(&z, "host2.example.", "MX"), "nodata host2.example.");
    assert_eq!(
        q(&z, "_ssh._tcp.host2.example.", "SRV"),
        "answer _ssh._tcp.host2.example. SRV x1"
    );
    assert_eq!(q(&z, "x.host2.example.", "MX"), "nxdomain host2.example.");
    // ANY through a wildcard.
    assert_eq!(q(&z, "anything.example.", "ANY"), "any *.example. wildcard");
}

#[test]
fn rfc4592_4_9_empty_non_terminal_wildcard() {
    let z = zone(
        "example.",
        "@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\nsub.* 60 TXT x",
    );
    // *.example exists only as an empty non-terminal: it still is the source of synthesis.
    assert_eq!(q(&z, "host.example.", "TXT"), "nodata *.example. wildcard");
    assert!(z.apex().wildcard().is_some());
}

#[test]
fn rfc4592_wildcard_cname() {
    let z = zone(
        "example.",
        "@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n*.w 60 CNAME ns\nx.w 60 A 192.0.2.9",
    );
    assert_eq!(q(&z, "y.w.example.", "A"), "cname *.w.example. wildcard");
    assert_eq!(
        q(&z, "a.b.w.example.", "CNAME"),
        "answer *.w.example. CNAME x1 wildcard"
    );
    assert_eq!(q(&z, "x.w.example.", "A"), "answer x.w.example. A x1");
    assert_eq!(q(&z, "z.x.w.example.", "A"), "nxdomain x.w.example.");
}

// ---------------------------------------------------------------------------------------------
// RFC 6672: DNAME
// ---------------------------------------------------------------------------------------------

const DNAME: &str = "
@          60 SOA   ns h 1 2 3 4 5
@          60 NS    ns
ns         60 A     192.0.2.1
old        60 DNAME new.example.
old        60 A     192.0.2.7
*          60 TXT   wild
";

#[test]
fn rfc6672_2_3_dname_redirects_names_below_its_owner() {
    let z = zone("example.", DNAME);
    assert_eq!(q(&z, "www.old.example.", "A"), "dname old.example.");
    assert_eq!(q(&z, "a.b.old.example.", "TXT"), "dname old.example.");
    // The owner itself is not redirected (RFC 6672 section 2.3).
    assert_eq!(q(&z, "old.example.", "A"), "answer old.example. A x1");
    assert_eq!(
        q(&z, "old.example.", "DNAME"),
        "answer old.example. DNAME x1"
    );
    assert_eq!(q(&z, "old.example.", "TXT"), "nodata old.example.");
    let Lookup::Dname { rrset, .. } = z.lookup(name("x.old.example.").as_ref(), RType::A) else {
        panic!()
    };
    assert_eq!(rrset.rdatas().next(), Some(name("new.example.").as_wire()));
}

#[test]
fn rfc6672_dname_at_the_apex() {
    let z = zone(
        "example.",
        "@ 60 SOA ns.other. h 1 2 3 4 5\n@ 60 NS ns.other.\n@ 60 DNAME example.net.",
    );
    assert_eq!(q(&z, "www.example.", "A"), "dname example.");
    assert_eq!(q(&z, "example.", "SOA"), "answer example. SOA x1");
}

// ---------------------------------------------------------------------------------------------
// Root zone, binary labels, case
// ---------------------------------------------------------------------------------------------

#[test]
fn root_zone() {
    let z = zone(
        ".",
        "
        .            86400 SOA a.root-servers.net. nstld.verisign-grs.com. 2024 1800 900 604800 86400
        .            518400 NS a.root-servers.net.
        com.         172800 NS a.gtld-servers.net.
        net.         172800 NS a.gtld-servers.net.
        a.gtld-servers.net. 172800 A 192.5.6.30
        arpa.        172800 NS a.root-servers.net.
        ",
    );
    assert_eq!(q(&z, ".", "SOA"), "answer . SOA x1");
    assert_eq!(q(&z, "example.com.", "A"), "referral com.");
    assert_eq!(q(&z, "com.", "DS"), "nodata com.");
    assert_eq!(q(&z, "nosuchtld.", "A"), "nxdomain .");
    assert_eq!(q(&z, "a.b.nosuchtld.", "A"), "nxdomain .");
    assert_eq!(q(&z, "org.", "A"), "nxdomain .");
    // Glue below net.: referred, yet found for the additional section.
    assert_eq!(q(&z, "a.gtld-servers.net.", "A"), "referral net.");
    assert!(z.node(name("a.gtld-servers.net.").as_ref()).is_some());
    assert_eq!(q(&z, "1.in-addr.arpa.", "PTR"), "referral arpa.");
    assert!(z.node(name("a.root-servers.net.").as_ref()).is_none());
}

#[test]
fn binary_labels_and_case() {
    let mut b = ZoneBuilder::new(name("example."));
    for line in [
        "@ 60 SOA ns h 1 2 3 4 5",
        "@ 60 NS ns",
        "ns 60 A 192.0.2.1",
        "MiXeD 60 TXT hello",
    ] {
        b.add(record("example.", line));
    }
    // Labels with bytes 0, 1, '.', 0xff and upper case.
    for label in [&b"\x00"[..], b"\x01", b"a.b", b"\xff", b"\x00\x01Z"] {
        let owner = Name::from_labels([label, b"bin", b"example"]).unwrap();
        b.add(Record {
            owner,
            ..record("example.", "x 60 A 192.0.2.9")
        });
    }
    let z = b.finish().unwrap().zone;
    assert_eq!(
        q(&z, "mixed.example.", "TXT"),
        "answer MiXeD.example. TXT x1"
    );
    assert_eq!(
        q(&z, "MIXED.EXAMPLE.", "TXT"),
        "answer MiXeD.example. TXT x1"
    );
    for label in [&b"\x00"[..], b"\x01", b"a.b", b"\xff", b"\x00\x01z"] {
        let qname = Name::from_labels([label, b"BIN", b"example"]).unwrap();
        let got = z.lookup(qname.as_ref(), RType::A);
        assert!(
            matches!(
                got,
                Lookup::Answer {
                    wildcard: false,
                    ..
                }
            ),
            "{qname}: {got:?}"
        );
    }
    for label in [&b"\x02"[..], b"\x00\x00", b"a", b"\x00\x01"] {
        let qname = Name::from_labels([label, b"bin", b"example"]).unwrap();
        assert_eq!(
            show_l(z.lookup(qname.as_ref(), RType::A)),
            "nxdomain bin.example.",
            "{qname}"
        );
    }
}

fn show_l(l: Lookup<'_>) -> String {
    crate::testutil::show(l)
}

#[test]
fn rrset_views_and_canonical_iteration() {
    let z = zone(
        "example.",
        "@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.2\nns 60 A 192.0.2.1\nns 60 AAAA ::1\nb 60 TXT b\na 60 TXT a",
    );
    let a = z
        .node(name("NS.example.").as_ref())
        .unwrap()
        .rrset(RType::A)
        .unwrap();
    assert_eq!(a.count(), 2);
    // Canonical RDATA order (RFC 4034 section 6.3), each prefixed with its length.
    assert_eq!(a.encoded(), &[0, 4, 192, 0, 2, 1, 0, 4, 192, 0, 2, 2]);
    let owners: Vec<String> = z
        .rrsets()
        .map(|(n, r)| format!("{} {}", n.owner(), r.rtype()))
        .collect();
    assert_eq!(
        owners,
        [
            "example. NS",
            "example. SOA",
            "a.example. TXT",
            "b.example. TXT",
            "ns.example. A",
            "ns.example. AAAA"
        ]
    );
    assert_eq!(z.nodes().len(), 4);
}

// ---------------------------------------------------------------------------------------------
// The name index agrees with the binary search over canonical keys
// ---------------------------------------------------------------------------------------------

/// A generated zone with delegations and glue, wildcards, a DNAME, empty non-terminals, mixed
/// case and binary labels.
fn generated_zone(units: u32) -> crate::Zone {
    let mut b = ZoneBuilder::new(name("Example."));
    for line in [
        "@ 60 SOA ns h 1 2 3 4 5",
        "@ 60 NS ns",
        "ns 60 A 192.0.2.1",
        "*.wild 60 TXT w",
        "alias 60 DNAME example.net.",
        "a.b.c.d.deep 60 A 192.0.2.3",
    ] {
        b.add(record("example.", line));
    }
    for u in 0..units {
        let lines = [
            format!("Host{u} 60 A 192.0.2.4"),
            format!("host{u} 60 MX 10 mail{}", u % 7),
            format!("www.HOST{u} 60 CNAME host{u}"),
            format!("del{u} 60 NS ns.del{u}"),
            format!("ns.del{u} 60 A 192.0.2.5"),
            format!("*.w{u}.ent{} 60 A 192.0.2.6", u % 13),
            format!("_sip._tcp.s{u} 60 SRV 0 0 5060 host{u}"),
        ];
        for line in &lines {
            b.add(record("example.", line));
        }
        let [x, y, ..] = u.to_le_bytes();
        let owner = Name::from_labels([&[0, x, b'Q', y][..], b"bin", b"example"]).unwrap();
        b.add(Record {
            owner,
            ..record("example.", "x 60 A 192.0.2.9")
        });
    }
    b.finish().unwrap().zone
}

#[test]
fn index_agrees_with_binary_search_on_every_node() {
    let z = generated_zone(500);
    let types = [RType::A, RType::MX, RType::DS, RType::NS, RType::ANY];
    let mut checked = 0;
    for node in z.nodes() {
        let owner = node.owner().to_name();
        let upper = Name::from_wire(&owner.as_wire().to_ascii_uppercase()).unwrap();
        let mut qnames = vec![owner.clone(), upper];
        for prefix in [&b"zz"[..], b"*", b"\x00"] {
            if let Ok(child) = owner.prepend(prefix) {
                qnames.extend(child.prepend(b"a").ok());
                qnames.push(child);
            }
        }
        for qname in &qnames {
            for &qtype in &types {
                let got = z.lookup(qname.as_ref(), qtype);
                assert_eq!(
                    got,
                    z.lookup_by_search(qname.as_ref(), qtype),
                    "{qname} {qtype}"
                );
                checked += 1;
            }
        }
        assert_eq!(z.node(owner.as_ref()), Some(node));
    }
    assert!(checked > 100_000, "{checked}");
    assert_eq!(z.node(name("nosuch.example.").as_ref()), None);
    assert_eq!(z.node(name("example.net.").as_ref()), None);
}

#[test]
fn index_probe_sequences_are_short() {
    let z = generated_zone(3000);
    let d = z.index.displacements(&z);
    assert_eq!(d.len(), z.name_count());
    let mean = d.iter().sum::<usize>() as f64 / d.len() as f64;
    let max = d.iter().copied().max().unwrap_or(0);
    // Linear probing at most two thirds full: about one extra probe on average.
    assert!(mean < 1.5 && max < 40, "mean {mean}, max {max}");
}

#[test]
fn index_handles_extreme_names() {
    let z = generated_zone(20);
    // 124 and 127 labels (the most a name can have), inside and outside the zone; the root.
    let deep_in = Name::from_labels((0..123).map(|_| &b"a"[..]).chain([&b"example"[..]])).unwrap();
    let deep_out = Name::from_labels((0..127).map(|_| &b"b"[..])).unwrap();
    let long_label = Name::from_labels([&[b'x'; 63][..], &[b'Y'; 63], b"host1", b"example"]);
    for qname in [deep_in, deep_out, long_label.unwrap(), name(".")] {
        for qtype in [RType::A, RType::DS] {
            let got = z.lookup(qname.as_ref(), qtype);
            assert_eq!(got, z.lookup_by_search(qname.as_ref(), qtype), "{qname}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property: lookup agrees with a naive reference
// ---------------------------------------------------------------------------------------------

mod prop {
    use super::*;
    use proptest::prelude::*;

    const LABELS: [&str; 6] = ["a", "B", "*", "c", "ns", "d"];

    fn arb_owner() -> impl Strategy<Value = Vec<&'static str>> {
        proptest::collection::vec(proptest::sample::select(&LABELS[..]), 1..4)
    }

    fn arb_record() -> impl Strategy<Value = (Vec<&'static str>, u8, u8)> {
        (arb_owner(), 0u8..12, 0u8..3)
    }

    fn owner_text(labels: &[&str]) -> String {
        format!("{}.example.", labels.join("."))
    }

    fn make(labels: &[&str], kind: u8, variant: u8) -> Record {
        let owner = owner_text(labels);
        let line = match kind {
            0..=3 => format!("{owner} 60 A 192.0.2.{variant}"),
            4 => format!("{owner} 60 AAAA 2001:db8::{variant}"),
            5 | 6 => format!("{owner} 60 TXT t{variant}"),
            7 => format!("{owner} 60 MX {variant} a.example."),
            8 => format!("{owner} 60 NS ns{variant}.example.net."),
            9 => format!("{owner} 60 CNAME c.example."),
            10 => format!("{owner} 60 DNAME d{variant}.example.net."),
            _ => format!("{owner} 60 DS {variant} 8 2 {:064x}", 1),
        };
        record("example.", &line)
    }

    /// A zone the builder accepts: records it refuses are dropped, name by name.
    fn valid_zone(wanted: &[(Vec<&'static str>, u8, u8)]) -> (Vec<Record>, crate::Zone) {
        let mut records: Vec<Record> = vec![
            record("example.", "@ 60 SOA ns h 1 2 3 4 5"),
            record("example.", "@ 60 NS ns.example.net."),
        ];
        records.extend(wanted.iter().map(|(l, k, v)| make(l, *k, *v)));
        loop {
            let mut b = ZoneBuilder::new(name("example."));
            for r in &records {
                b.add(r.clone());
            }
            match b.finish() {
                Ok(built) => return (records, built.zone),
                Err(problems) => {
                    let bad: Vec<Name> = problems.into_iter().map(|p| p.owner).collect();
                    records.retain(|r| !bad.contains(&r.owner) || r.owner == name("example."));
                }
            }
        }
    }

    /// The outcome RFC 1034 section 4.3.2 and RFC 4592 give, found by scanning every record.
    fn reference(records: &[Record], qname: &Name, qtype: RType) -> String {
        let origin = name("example.");
        if !qname.as_ref().is_subdomain_of(origin.as_ref()) {
            return "out-of-zone".into();
        }
        let owns = |n: NameRef<'_>, t: RType| {
            records
                .iter()
                .filter(|r| r.owner.as_ref() == n && r.rtype == t)
                .count()
        };
        let exists = |n: NameRef<'_>| records.iter().any(|r| r.owner.as_ref().is_subdomain_of(n));
        let depth = qname.as_ref().label_count() - origin.as_ref().label_count();
        // Walk down from the apex, one label at a time.
        for below in (0..=depth).rev() {
            let here = qname.as_ref().strip_labels(below).unwrap();
            let parent = here.parent().unwrap_or(NameRef::ROOT);
            if here != origin.as_ref() && owns(here, RType::NS) > 0 {
                if below == 0 && qtype == RType::DS {
                    return answer_at(records, here, qtype, false);
                }
                return format!("referral {}", here.to_name());
            }
            if !exists(here) {
                let wild = parent.to_name().prepend(b"*").unwrap();
                if exists(wild.as_ref()) {
                    return answer_at(records, wild.as_ref(), qtype, true);
                }
                return format!("nxdomain {}", parent.to_name());
            }
            if below == 0 {
                if qtype == RType::DS && here == origin.as_ref() {
                    return format!("nodata {}", here.to_name());
                }
                return answer_at(records, here, qtype, false);
            }
            if owns(here, RType::DNAME) > 0 {
                return format!("dname {}", here.to_name());
            }
        }
        unreachable!()
    }

    fn answer_at(records: &[Record], at: NameRef<'_>, qtype: RType, wildcard: bool) -> String {
        let wc = if wildcard { " wildcard" } else { "" };
        let mut set: Vec<&[u8]> = records
            .iter()
            .filter(|r| r.owner.as_ref() == at && r.rtype == qtype)
            .map(|r| &r.rdata[..])
            .collect();
        set.sort();
        set.dedup();
        let any = records.iter().any(|r| r.owner.as_ref() == at);
        if any && (qtype == RType::ANY || qtype == RType::RRSIG) {
            return format!("any {}{wc}", at.to_name());
        }
        if !set.is_empty() {
            return format!("answer {} {qtype} x{}{wc}", at.to_name(), set.len());
        }
        if records
            .iter()
            .any(|r| r.owner.as_ref() == at && r.rtype == RType::CNAME)
        {
            return format!("cname {}{wc}", at.to_name());
        }
        format!("nodata {}{wc}", at.to_name())
    }

    /// `show`, with owners compared without case (the zone keeps the first-loaded case).
    fn normal(s: String) -> String {
        s.to_ascii_lowercase()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn lookup_agrees_with_reference(
            wanted in proptest::collection::vec(arb_record(), 0..24),
            queries in proptest::collection::vec((arb_owner(), 0usize..9, any::<bool>()), 1..24),
        ) {
            let (records, z) = valid_zone(&wanted);
            let types = [RType::A, RType::AAAA, RType::TXT, RType::MX, RType::NS, RType::CNAME,
                RType::DNAME, RType::DS, RType::ANY];
            let mut qnames: Vec<Name> = records.iter().map(|r| r.owner.clone()).collect();
            qnames.extend(queries.iter().map(|(labels, _, upper)| {
                let text = owner_text(labels);
                name(&if *upper { text.to_ascii_uppercase() } else { text })
            }));
            qnames.push(name("example.net."));
            qnames.push(name("."));
            for qname in &qnames {
                for &qtype in &types {
                    let got = z.lookup(qname.as_ref(), qtype);
                    prop_assert_eq!(got, z.lookup_by_search(qname.as_ref(), qtype));
                    let got = normal(crate::testutil::show(got));
                    let want = normal(reference(&records, qname, qtype));
                    prop_assert_eq!(&got, &want, "{} {}", qname, qtype);
                }
            }
        }
    }

    fn arb_any_name() -> impl Strategy<Value = Name> {
        let label = prop_oneof![
            proptest::sample::select(
                &[
                    "*", "host1", "HOST3", "_tcp", "_ssh", "sub", "subdel", "host2"
                ][..]
            )
            .prop_map(|l| l.as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 1..8),
        ];
        (proptest::collection::vec(label, 0..5), any::<bool>()).prop_filter_map(
            "too long",
            |(labels, inside)| {
                let suffix: &[&[u8]] = if inside {
                    &[b"example"]
                } else {
                    &[b"EXAMPLE", b"net"]
                };
                Name::from_labels(
                    labels
                        .iter()
                        .map(Vec::as_slice)
                        .chain(suffix.iter().copied()),
                )
                .ok()
            },
        )
    }

    proptest! {
        #[test]
        fn rfc4592_zone_agrees_with_reference_for_any_name(qname in arb_any_name(), t in 0usize..6) {
            let records: Vec<Record> = RFC4592
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| record("example.", l))
                .collect();
            let z = zone("example.", RFC4592);
            let qtype = [RType::A, RType::MX, RType::TXT, RType::SRV, RType::DS, RType::ANY][t];
            let got = z.lookup(qname.as_ref(), qtype);
            prop_assert_eq!(got, z.lookup_by_search(qname.as_ref(), qtype));
            let got = normal(crate::testutil::show(got));
            let want = normal(reference(&records, &qname, qtype));
            prop_assert_eq!(got, want);
        }
    }
}
