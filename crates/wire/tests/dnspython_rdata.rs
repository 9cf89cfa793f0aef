//! Differential test against dnspython for RDATA presentation form: for samples of every type
//! with a presentation form here, dnspython and we must make the same wire bytes from the same
//! text; and the text we write back from those bytes must read the same in dnspython.
//!
//! python3 and dnspython are required (scripts/test.sh installs them): without them this test
//! fails, it does not skip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use wire::rdata::{from_text, to_text};
use wire::text::Field;
use wire::{Name, RType};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/dnspython_rdata.py"
);

const KEY: &str = "AwEAAbOFAxl+Lkt0UMglZizKEC1AxUu8zlj65KYatR5wBWMrh18TYzK/ig6Y1t5YTWCO68bynorpNu9fqNFALX7bVl9/gybA0v0EhF+dgXmoUfRX7ksMGgBvtfa2/Y9a3klXNLqkTszIQ4PEMVCjtryl19Be9/PkFeC9ITjgMRQsQhmB39eyMYnal+f3bUxKk4fq7cuEU0dbRpue4H/N6jPucXWOwiMAkTJhghqgy+o9FfIp+tR/emKao94/wpVXDcPf5B18j7xz2SvTTxiuqCzCMtsxnikZHcoh1j4g+Y1B8zIMIvrEM+pZGhh/Yuf4RwCBgaYCi9hpiMWVvS4WBzx0/lU=";
const SIG: &str = "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3Ap3o=";

/// (type, presentation RDATA): every type with a presentation form here that dnspython knows.
fn samples() -> Vec<(&'static str, String)> {
    let fixed: &[(&str, &str)] = &[
        ("A", "192.0.2.1"),
        ("AAAA", "2001:db8::1"),
        ("AAAA", "::ffff:192.0.2.1"),
        ("NS", "ns1"),
        ("NS", "ns.other.test."),
        ("CNAME", "target"),
        ("DNAME", "example.net."),
        ("PTR", r"a\.b.example.org."),
        ("MX", "10 mail"),
        ("MX", "0 ."),
        ("SOA", "ns1 hostmaster 2024010101 7200 3600 1209600 300"),
        ("SOA", "ns1. h. 1 1h 30m 2w 1d"),
        ("TXT", r#""hello world" "second" unquoted \"q\" "\255\000""#),
        ("TXT", r#""""#),
        ("SPF", r#""v=spf1 ip4:192.0.2.0/24 -all""#),
        ("HINFO", r#""PC-Intel" "NetBSD 1.4""#),
        ("RP", "louie.trantor.umd.edu. LAM1.people"),
        ("AFSDB", "1 afs.example.net."),
        ("RT", "10 relay"),
        ("KX", "10 kx.example.net."),
        ("PX", "10 net2.it. PRMD-net2.ADMD-p400.C-it."),
        ("SRV", "0 5 5060 sip"),
        (
            "NAPTR",
            r#"100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
        ),
        ("NAPTR", r#"10 0 "s" "SIP+D2U" "" _sip._udp"#),
        ("CAA", r#"0 issue "ca.example.net; account=230123""#),
        ("CAA", r#"128 tbs "Unknown""#),
        ("CAA", r#"0 iodef "mailto:security@example.com""#),
        ("SSHFP", "2 1 123456789abcdef67890123456789abcdef67890"),
        (
            "TLSA",
            "3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
        ),
        ("SMIMEA", "3 0 0 ABCDEF0123"),
        ("DS", "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118"),
        ("CDS", "0 0 0 00"),
        ("CDNSKEY", "0 3 0 AA=="),
        ("NSEC", "host.example.com. A MX RRSIG NSEC TYPE1234"),
        (
            "NSEC",
            "a.example.com. NS SOA RRSIG NSEC DNSKEY CAA TYPE65534",
        ),
        (
            "NSEC3",
            "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
        ),
        ("NSEC3", "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S"),
        ("NSEC3PARAM", "1 0 12 aabbccdd"),
        ("NSEC3PARAM", "1 0 0 -"),
        (
            "ZONEMD",
            "2018031900 1 1 c68090d90a7aed716bc459f9340e3d7c1370d4d24b7e2fc3a1ddc0b9a87153b9a9713b3c9ae5cc27777f98b8e730044c",
        ),
        ("LOC", "42 21 54 N 71 06 18 W -24m 30m"),
        ("LOC", "42 21 43.952 N 71 5 6.344 W -24m 1m 200m 10m"),
        ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.01m 100m 10m"),
        ("URI", r#"10 1 "ftp://ftp1.example.com/public""#),
        ("CERT", "PGP 0 0 AQIDBAUGBwg="),
        ("CERT", "65000 1 8 AQID"),
        ("OPENPGPKEY", "mQINBFit2jsBEAC7"),
        ("DHCID", "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
        ("EUI48", "00-00-5e-00-53-2a"),
        ("EUI64", "00-00-5e-ef-10-00-00-2a"),
        ("SVCB", "0 foo.example.com."),
        ("SVCB", "1 ."),
        ("SVCB", "16 foo.example.com. port=53"),
        ("SVCB", "1 foo.example.com. key667=hello"),
        ("SVCB", r#"1 foo.example.com. key667="hello\210qoo""#),
        (
            "SVCB",
            r#"1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1""#,
        ),
        (
            "SVCB",
            "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1",
        ),
        ("SVCB", r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#),
        (
            "HTTPS",
            "1 . alpn=h3,h2 no-default-alpn port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=AAQBAgME ipv6hint=2001:db8::1",
        ),
        (
            "HTTPS",
            "1 doh.example. alpn=h2 dohpath=/dns-query{?dns} key65000=x",
        ),
        ("A", r"\# 4 C0000201"),
        ("TYPE65280", r"\# 3 010203"),
        ("TYPE65280", r"\# 0"),
        ("NULL", r"\# 2 0102"),
    ];
    let mut out: Vec<(&str, String)> = fixed.iter().map(|(t, s)| (*t, s.to_string())).collect();
    out.push(("DNSKEY", format!("257 3 8 {KEY}")));
    out.push(("DNSKEY", format!("256 3 RSASHA256 {}", &KEY[..40])));
    out.push((
        "RRSIG",
        format!("A 5 3 86400 20030322173103 20030220173103 2642 example.com. {SIG}"),
    ));
    out.push((
        "RRSIG",
        format!("NSEC3PARAM 13 2 3600 1700000000 1690000000 1 @ {SIG}"),
    ));
    out.push((
        "RRSIG",
        format!("TYPE65280 8 0 0 21060207062815 19700101000000 65535 . {SIG}"),
    ));
    out
}

/// Runs the script over `lines` (type, text) and returns its answers.
fn dnspython(lines: &[(String, String)]) -> Vec<Result<String, String>> {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required for this test (scripts/test.sh installs it with dnspython)");
    let input: String = lines.iter().map(|(t, s)| format!("{t}\t{s}\n")).collect();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the dnspython side failed (are python3 and dnspython installed? scripts/test.sh installs them):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Result<String, String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| match l.strip_prefix("ok ") {
            Some(hex) => Ok(hex.to_string()),
            None => Err(l.to_string()),
        })
        .collect();
    assert_eq!(answers.len(), lines.len(), "one answer per sample");
    answers
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn every_type_reads_as_dnspython_reads_it() {
    let origin: Name = "example.com.".parse().unwrap();
    let mut samples = samples();
    // Base64 split over several fields, as zone files wrap it.
    samples.push((
        "DNSKEY",
        format!("257 3 8 {} {} {}", &KEY[..60], &KEY[60..200], &KEY[200..]),
    ));
    let covered: std::collections::BTreeSet<&str> = samples.iter().map(|(t, _)| *t).collect();
    for t in [
        "A",
        "AAAA",
        "NS",
        "CNAME",
        "DNAME",
        "SOA",
        "PTR",
        "MX",
        "TXT",
        "SPF",
        "SRV",
        "NAPTR",
        "CAA",
        "SSHFP",
        "TLSA",
        "SMIMEA",
        "SVCB",
        "HTTPS",
        "DS",
        "CDS",
        "DNSKEY",
        "CDNSKEY",
        "RRSIG",
        "NSEC",
        "NSEC3",
        "NSEC3PARAM",
        "ZONEMD",
        "HINFO",
        "RP",
        "AFSDB",
        "RT",
        "KX",
        "PX",
        "LOC",
        "URI",
        "CERT",
        "OPENPGPKEY",
        "DHCID",
        "EUI48",
        "EUI64",
        "NULL",
    ] {
        assert!(covered.contains(t), "no sample for {t}");
    }

    let lines: Vec<(String, String)> = samples
        .iter()
        .map(|(t, s)| (t.to_string(), s.clone()))
        .collect();
    let theirs = dnspython(&lines);
    let mut ours_text = Vec::new();
    for ((t, text), want) in samples.iter().zip(&theirs) {
        let rtype = RType::from_text(t.as_bytes()).unwrap();
        let mut wire = Vec::new();
        from_text(rtype, &Field::split(text), origin.as_ref(), &mut wire)
            .unwrap_or_else(|e| panic!("{t} {text:?}: we reject field {}: {e}", e.field));
        let want = want
            .as_ref()
            .unwrap_or_else(|e| panic!("{t} {text:?}: dnspython rejects it: {e}"));
        assert_eq!(
            &hex(&wire),
            want,
            "{t} {text:?}: wire differs from dnspython's"
        );
        let mut printed = String::new();
        to_text(rtype, &wire, &mut printed).unwrap();
        ours_text.push((t.to_string(), printed));
    }

    // What we print, dnspython reads back to the same bytes.
    let again = dnspython(&ours_text);
    for (((t, printed), want), first) in ours_text.iter().zip(&again).zip(&theirs) {
        let want = want
            .as_ref()
            .unwrap_or_else(|e| panic!("{t} {printed:?}: dnspython rejects our text: {e}"));
        assert_eq!(
            Some(want),
            first.as_ref().ok(),
            "{t} {printed:?}: dnspython reads our text differently"
        );
    }
}
