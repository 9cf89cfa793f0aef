//! Presentation and wire vectors, type by type.

use super::*;
use crate::name::Name;

fn round_trip(rtype: RType, text: &str) -> String {
    let origin: Name = "example.".parse().unwrap();
    let mut wire = Vec::new();
    from_text(rtype, &Field::split(text), origin.as_ref(), &mut wire).unwrap();
    let mut out = String::new();
    to_text(rtype, &wire, &mut out).unwrap();
    out
}

#[test]
fn core_types_round_trip() {
    assert_eq!(round_trip(RType::A, "192.0.2.1"), "192.0.2.1");
    assert_eq!(round_trip(RType::AAAA, "2001:db8::1"), "2001:db8::1");
    assert_eq!(round_trip(RType::NS, "ns1"), "ns1.example.");
    assert_eq!(round_trip(RType::MX, "10 mail.other."), "10 mail.other.");
    assert_eq!(
        round_trip(RType::SOA, "ns hostmaster 1 1h 10m 1w 300"),
        "ns.example. hostmaster.example. 1 3600 600 604800 300"
    );
    assert_eq!(round_trip(RType::TXT, r"a b\032c"), r#""a" "b c""#);
}

#[test]
fn generic_form() {
    assert_eq!(round_trip(RType(65280), r"\# 3 ABCDEF"), r"\# 3 ABCDEF");
    assert_eq!(round_trip(RType(65280), r"\# 0"), r"\# 0");
    assert_eq!(round_trip(RType::A, r"\# 4 C0000201"), "192.0.2.1");
    let origin = Name::root();
    let mut out = Vec::new();
    let err = from_text(
        RType(65280),
        &Field::split(r"\# 4 ABCDEF"),
        origin.as_ref(),
        &mut out,
    )
    .unwrap_err();
    assert!(err.message.contains("length"), "{err}");
    assert!(out.is_empty());
}

#[test]
fn errors_name_the_field() {
    let origin = Name::root();
    let mut out = Vec::new();
    let err = from_text(
        RType::MX,
        &Field::split("10 a. extra"),
        origin.as_ref(),
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err.field, 2);
    let err = from_text(RType::MX, &Field::split("x a."), origin.as_ref(), &mut out).unwrap_err();
    assert_eq!(err.field, 0);
    let err = from_text(RType::A, &Field::split("1.2.3"), origin.as_ref(), &mut out).unwrap_err();
    assert_eq!(err.field, 0);
}

#[test]
fn validate_rejects_bad_lengths() {
    assert!(validate(RType::A, &[1, 2, 3]).is_err());
    assert!(validate(RType::A, &[1, 2, 3, 4, 5]).is_err());
    assert!(validate(RType::NS, b"\x01a\x00\x00").is_err());
    assert!(validate(RType(65280), b"anything").is_ok());
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn origin() -> Name {
    "example.com.".parse().unwrap()
}

fn wire_of(rtype: RType, text: &str) -> Result<Vec<u8>, TextError> {
    let mut wire = Vec::new();
    from_text(rtype, &Field::split(text), origin().as_ref(), &mut wire)?;
    Ok(wire)
}

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    decode_hex(clean.as_bytes(), &mut out).unwrap();
    out
}

fn text_of(rtype: RType, wire: &[u8]) -> String {
    let mut out = String::new();
    to_text(rtype, wire, &mut out).unwrap_or_else(|e| panic!("{rtype} {wire:02x?}: {e}"));
    out
}

/// `text` reads as `wire` (if given), writes back as `canonical`, and `canonical` reads as the
/// same wire; the typed view writes the same bytes.
fn check(rtype: RType, text: &str, wire: Option<&str>, canonical: &str) {
    let got =
        wire_of(rtype, text).unwrap_or_else(|e| panic!("{rtype} {text:?}: field {}: {e}", e.field));
    if let Some(w) = wire {
        assert_eq!(got, hex(w), "{rtype} {text}");
    }
    assert_eq!(text_of(rtype, &got), canonical, "{rtype} {text}");
    assert_eq!(
        wire_of(rtype, canonical).unwrap(),
        got,
        "{rtype} re-reading {canonical}"
    );
    let rd = RData::parse(rtype, &got).unwrap();
    assert_eq!(rd.rtype(), rtype);
    let mut again = Vec::new();
    rd.write(&mut again);
    assert_eq!(again, got);
}

/// `text` is rejected, the error pointing at field `field`.
fn reject(rtype: RType, text: &str, field: usize) {
    match wire_of(rtype, text) {
        Ok(w) => panic!("{rtype} {text:?} accepted as {w:02x?}"),
        Err(e) => assert_eq!(e.field, field, "{rtype} {text:?}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 1035 and other simple types
// ---------------------------------------------------------------------------------------------

#[test]
fn simple_types() {
    check(RType::A, "192.0.2.1", Some("c0000201"), "192.0.2.1");
    check(
        RType::AAAA,
        "2001:db8::1",
        Some("20010db8000000000000000000000001"),
        "2001:db8::1",
    );
    check(
        RType::NS,
        "ns1",
        Some("036e7331076578616d706c6503636f6d00"),
        "ns1.example.com.",
    );
    check(RType::CNAME, "@", None, "example.com.");
    check(RType::DNAME, "other.", Some("056f7468657200"), "other.");
    check(RType::PTR, r"a\.b.arpa.", None, r"a\.b.arpa.");
    check(
        RType::MX,
        "10 mail",
        Some("000a046d61696c076578616d706c6503636f6d00"),
        "10 mail.example.com.",
    );
    check(
        RType::SOA,
        "ns hostmaster 2024010101 1h 10m 1w 300",
        None,
        "ns.example.com. hostmaster.example.com. 2024010101 3600 600 604800 300",
    );
    check(
        RType::TXT,
        r#""hello world" x\"y"#,
        Some("0b68656c6c6f20776f726c6403782279"),
        r#""hello world" "x\"y""#,
    );
    check(RType::SPF, r#""v=spf1 -all""#, None, r#""v=spf1 -all""#);
    check(
        RType::HINFO,
        r#""PC-Intel-700mhz" "NetBSD 1.4""#,
        None,
        r#""PC-Intel-700mhz" "NetBSD 1.4""#,
    );
    check(
        RType::MINFO,
        "admin errors.example.net.",
        None,
        "admin.example.com. errors.example.net.",
    );
    check(
        RType::RP,
        "louie.trantor.umd.edu. LAM1.people.umd.edu.",
        None,
        "louie.trantor.umd.edu. LAM1.people.umd.edu.",
    );
    check(RType::AFSDB, "1 afs", None, "1 afs.example.com.");
    check(RType::RT, "2 relay.", None, "2 relay.");
    check(RType::KX, "10 kx", None, "10 kx.example.com.");
    check(
        RType::PX,
        "10 net2.it. PRMD-net2.ADMD-p400.C-it.",
        None,
        "10 net2.it. PRMD-net2.ADMD-p400.C-it.",
    );
    check(RType::MB, "mb", None, "mb.example.com.");
    check(
        RType::SRV,
        "0 5 5060 sipserver",
        Some("0000 0005 13c4 09736970736572766572076578616d706c6503636f6d00"),
        "0 5 5060 sipserver.example.com.",
    );
    check(
        RType::NAPTR,
        r#"100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
        None,
        r#"100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
    );
    check(
        RType::CAA,
        r#"0 issue "ca.example.net; account=230123""#,
        Some("00 05 6973737565 63612e6578616d706c652e6e65743b206163636f756e743d323330313233"),
        r#"0 issue "ca.example.net; account=230123""#,
    );
    check(RType::CAA, "128 tbs Unknown", None, r#"128 tbs "Unknown""#);
    check(
        RType::CAA,
        r#"0 iodef """#,
        Some("00 05 696f646566"),
        r#"0 iodef """#,
    );
    check(
        RType::URI,
        r#"10 1 "ftp://ftp1.example.com/public""#,
        None,
        r#"10 1 "ftp://ftp1.example.com/public""#,
    );
    check(
        RType::EUI48,
        "00-00-5e-00-53-2A",
        Some("00005e00532a"),
        "00-00-5e-00-53-2a",
    );
    check(
        RType::EUI64,
        "00-00-5e-ef-10-00-00-2a",
        Some("00005eef1000002a"),
        "00-00-5e-ef-10-00-00-2a",
    );
    check(
        RType::SSHFP,
        "2 1 123456789abcdef67890123456789abcdef67890",
        None,
        "2 1 123456789ABCDEF67890123456789ABCDEF67890",
    );
    check(
        RType::TLSA,
        "3 1 1 0D6FCE3C40B0C4C6D2D2D7C1C0CEE9D5 A2F8E2E6D3A6E4B0C1D2E3F4A5B6C7D8",
        None,
        "3 1 1 0D6FCE3C40B0C4C6D2D2D7C1C0CEE9D5A2F8E2E6D3A6E4B0C1D2E3F4A5B6C7D8",
    );
    check(
        RType::SMIMEA,
        "3 0 1 ABCDEF",
        Some("030001abcdef"),
        "3 0 1 ABCDEF",
    );
    check(
        RType::OPENPGPKEY,
        "mQINBFit 2jsBEAC7",
        None,
        "mQINBFit2jsBEAC7",
    );
    check(
        RType::DHCID,
        "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
        None,
        "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=",
    );
    check(
        RType::CERT,
        "PGP 0 0 AQID",
        Some("0003 0000 00 010203"),
        "PGP 0 0 AQID",
    );
    check(
        RType::CERT,
        "65000 1 RSASHA256 AQID",
        None,
        "65000 1 8 AQID",
    );
}

#[test]
fn loc_rfc1876() {
    // Examples in RFC 1876 section 4.
    check(
        RType::LOC,
        "42 21 54 N 71 06 18 W -24m 30m",
        Some("00 33 16 13 89 17 2d d0 70 be 15 f0 00 98 8d 20"),
        "42 21 54.000 N 71 6 18.000 W -24.00m 30.00m 10000.00m 10.00m",
    );
    check(
        RType::LOC,
        "42 21 43.952 N 71 5 6.344 W -24m 1m 200m",
        None,
        "42 21 43.952 N 71 5 6.344 W -24.00m 1.00m 200.00m 10.00m",
    );
    check(
        RType::LOC,
        "52 N 4 E 0",
        None,
        "52 0 0.000 N 4 0 0.000 E 0.00m 1.00m 10000.00m 10.00m",
    );
    check(
        RType::LOC,
        "0 S 0 W -0.5m 0m 0m 0m",
        None,
        "0 0 0.000 N 0 0 0.000 E -0.50m 0.00m 0.00m 0.00m",
    );
    reject(RType::LOC, "91 N 4 E 0", 0);
    reject(RType::LOC, "52 60 N 4 E 0", 1);
    reject(RType::LOC, "52 N 4 X 0", 3);
    reject(RType::LOC, "52 N 4 E 0 1m 2m 3m 4m", 8);
    reject(RType::LOC, "52 N 4 E 0 900000000m", 5);
}

// ---------------------------------------------------------------------------------------------
// DNSSEC (RFC 4034, RFC 5155, RFC 7344, RFC 8976)
// ---------------------------------------------------------------------------------------------

const RFC4034_KEY: &str = "AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==";

#[test]
fn dnskey_rfc4034_2_3() {
    let text = "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3 Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10h \
                WqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL 742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==";
    check(RType::DNSKEY, text, None, &format!("256 3 5 {RFC4034_KEY}"));
    let wire = wire_of(RType::DNSKEY, text).unwrap();
    let Ok(RData::Dnskey(k)) = RData::parse(RType::DNSKEY, &wire) else {
        panic!()
    };
    assert_eq!(
        (k.flags, k.protocol, k.algorithm, k.public_key.len()),
        (256, 3, 5, 130)
    );
    check(
        RType::CDNSKEY,
        "0 3 0 AA==",
        Some("0000 03 00 00"),
        "0 3 0 AA==",
    );
    check(
        RType::DNSKEY,
        "257 3 RSASHA256 AwEAAQ==",
        None,
        "257 3 8 AwEAAQ==",
    );
    reject(RType::DNSKEY, "256 3 5", 3);
    reject(RType::DNSKEY, "256 3 5 AQPS Km=", 4);
    reject(RType::DNSKEY, "256 3 NOPE AQID", 2);
}

#[test]
fn rrsig_rfc4034_3_3() {
    let sig = "oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTrPYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6oB9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3tGNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkGJ5D6fwFm8nN+6pBzeDQfsS3Ap3o=";
    let text = format!("A 5 3 86400 20030322173103 20030220173103 2642 example.com. {sig}");
    check(RType::RRSIG, &text, None, &text);
    let wire = wire_of(RType::RRSIG, &text).unwrap();
    let Ok(RData::Rrsig(s)) = RData::parse(RType::RRSIG, &wire) else {
        panic!()
    };
    assert_eq!(s.type_covered, RType::A);
    assert_eq!(s.expiration, 1_048_354_263);
    assert_eq!(s.inception, 1_045_762_263);
    assert_eq!(s.signer.to_string(), "example.com.");
    // Integer seconds on input, dates on output; TYPEnnn for the covered type.
    let int = format!("TYPE1 5 3 1d 1048354263 1045762263 2642 @ {sig}");
    assert_eq!(
        text_of(RType::RRSIG, &wire_of(RType::RRSIG, &int).unwrap()),
        text
    );
    // The last second a u32 can count.
    check(
        RType::RRSIG,
        "A 8 0 0 21060207062815 0 1 . AQID",
        None,
        "A 8 0 0 21060207062815 19700101000000 1 . AQID",
    );
    reject(RType::RRSIG, "A 8 0 0 21060207062816 0 1 . AQID", 4);
    reject(RType::RRSIG, "A 8 0 0 20230230000000 0 1 . AQID", 4);
    reject(RType::RRSIG, "BOGUS 8 0 0 0 0 1 . AQID", 0);
    reject(RType::RRSIG, "A 8 0 0 0 0 1 . AQID*", 8);
}

#[test]
fn ds_rfc4034_5_4() {
    check(
        RType::DS,
        "60485 5 1 2BB183AF5F22588179A53B0A 98631FAD1A292118",
        Some("ec45 05 01 2bb183af5f22588179a53b0a98631fad1a292118"),
        "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
    );
    check(RType::CDS, "0 0 0 00", Some("0000 00 00 00"), "0 0 0 00");
    reject(RType::DS, "60485 5 1 2BB1 83A", 4);
    reject(RType::DS, "60485 5 1", 3);
    reject(RType::DS, "70000 5 1 00", 0);
}

#[test]
fn nsec_rfc4034_4_3() {
    check(
        RType::NSEC,
        "host.example.com. A MX RRSIG NSEC TYPE1234",
        Some(
            "04686f7374076578616d706c6503636f6d00 0006 40010000 0003 04 1b 000000000000000000000000000000000000000000000000000020",
        ),
        "host.example.com. A MX RRSIG NSEC TYPE1234",
    );
    check(RType::NSEC, "next.", Some("046e65787400"), "next.");
    reject(RType::NSEC, "next. A BOGUS", 2);
}

#[test]
fn nsec3_rfc5155_appendix_a() {
    check(
        RType::NSEC3,
        "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
        None,
        "1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM",
    );
    check(
        RType::NSEC3,
        "1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S",
        None,
        "1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s",
    );
    let wire = wire_of(
        RType::NSEC3,
        "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG",
    )
    .unwrap();
    let Ok(RData::Nsec3(n)) = RData::parse(RType::NSEC3, &wire) else {
        panic!()
    };
    assert_eq!(n.salt, [0xaa, 0xbb, 0xcc, 0xdd]);
    assert_eq!(n.next_hashed.len(), 20);
    assert_eq!(n.types.iter().collect::<Vec<_>>(), [RType::A, RType::RRSIG]);
    assert!(n.types.contains(RType::RRSIG) && !n.types.contains(RType::MX));
    check(
        RType::NSEC3PARAM,
        "1 0 12 aabbccdd",
        Some("01 00 000c 04 aabbccdd"),
        "1 0 12 AABBCCDD",
    );
    check(
        RType::NSEC3PARAM,
        "1 0 0 -",
        Some("01 00 0000 00"),
        "1 0 0 -",
    );
    reject(
        RType::NSEC3,
        "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22boj A",
        4,
    );
    reject(
        RType::NSEC3,
        "1 1 12 aabbccd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A",
        3,
    );
    reject(RType::NSEC3PARAM, "1 0 65536 -", 2);
}

#[test]
fn zonemd_rfc8976_a_1() {
    let digest = "C68090D90A7AED716BC459F9340E3D7C1370D4D24B7E2FC3A1DDC0B9A87153B9A9713B3C9AE5CC27777F98B8E730044C";
    check(
        RType::ZONEMD,
        "2018031900 1 1 c68090d90a7aed71 6bc459f9340e3d7c 1370d4d24b7e2fc3 a1ddc0b9a87153b9 a9713b3c9ae5cc27 777f98b8e730044c",
        None,
        &format!("2018031900 1 1 {digest}"),
    );
    // A digest too short for SHA-384.
    reject(RType::ZONEMD, "2018031900 1 1 c68090d90a7aed71", 3);
    check(
        RType::ZONEMD,
        "1 1 240 000102030405060708090a0b",
        None,
        "1 1 240 000102030405060708090A0B",
    );
}

// ---------------------------------------------------------------------------------------------
// SVCB and HTTPS (RFC 9460 Appendix D)
// ---------------------------------------------------------------------------------------------

#[test]
fn svcb_rfc9460_appendix_d() {
    // D.1 AliasMode.
    check(
        RType::HTTPS,
        "0 foo.example.com.",
        Some("0000 03666f6f076578616d706c6503636f6d00"),
        "0 foo.example.com.",
    );
    // AliasMode SvcParams are to be ignored, not refused (RFC 9460 section 2.4.1): they are kept
    // so the text and wire forms stay in step.
    check(
        RType::HTTPS,
        "0 foo.example.com. port=53",
        Some("0000 03666f6f076578616d706c6503636f6d00 0003 0002 0035"),
        "0 foo.example.com. port=53",
    );
    // D.2 ServiceMode.
    check(RType::SVCB, "1 .", Some("0001 00"), "1 .");
    check(
        RType::SVCB,
        "16 foo.example.com. port=53",
        Some("0010 03666f6f076578616d706c6503636f6d00 0003 0002 0035"),
        "16 foo.example.com. port=53",
    );
    check(
        RType::SVCB,
        "1 foo.example.com. key667=hello",
        Some("0001 03666f6f076578616d706c6503636f6d00 029b 0005 68656c6c6f"),
        r#"1 foo.example.com. key667="hello""#,
    );
    check(
        RType::SVCB,
        r#"1 foo.example.com. key667="hello\210qoo""#,
        Some("0001 03666f6f076578616d706c6503636f6d00 029b 0009 68656c6c6fd2716f6f"),
        r#"1 foo.example.com. key667="hello\210qoo""#,
    );
    check(
        RType::SVCB,
        r#"1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1""#,
        Some(
            "0001 03666f6f076578616d706c6503636f6d00 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001",
        ),
        "1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1",
    );
    check(
        RType::SVCB,
        r#"1 example.com. ipv6hint="2001:db8:ffff:ffff:ffff:ffff:198.51.100.100""#,
        Some("0001 076578616d706c6503636f6d00 0006 0010 20010db8ffffffffffffffffc6336464"),
        "1 example.com. ipv6hint=2001:db8:ffff:ffff:ffff:ffff:c633:6464",
    );
    let sorted = "0010 03666f6f076578616d706c65036f726700 0000 0004 0001 0004 \
                  0001 0009 02 6832 05 68332d3139 0004 0004 c0000201";
    check(
        RType::SVCB,
        "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1",
        Some(sorted),
        r#"16 foo.example.org. mandatory=alpn,ipv4hint alpn="h2,h3-19" ipv4hint=192.0.2.1"#,
    );
    let escaped = "0010 03666f6f076578616d706c65036f726700 0001 000c 08 665c6f6f2c626172 02 6832";
    let canonical = r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#;
    check(
        RType::SVCB,
        r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#,
        Some(escaped),
        canonical,
    );
    check(
        RType::SVCB,
        r"16 foo.example.org. alpn=f\\\092oo\092,bar,h2",
        Some(escaped),
        canonical,
    );
}

#[test]
fn svcb_more_params() {
    check(
        RType::HTTPS,
        "1 . alpn=h3 no-default-alpn ech=AEj+DQBE dohpath=/dns-query{?dns} ohttp key65000",
        None,
        r#"1 . alpn="h3" no-default-alpn ech=AEj+DQBE dohpath="/dns-query{?dns}" ohttp key65000"#,
    );
    // `key=` followed by a quoted field, as some lexers split it.
    let fields = [
        Field::plain(b"1"),
        Field::plain(b"."),
        Field::plain(b"alpn="),
        Field {
            text: b"h2,h3",
            quoted: true,
        },
        Field::plain(b"port=443"),
    ];
    let mut wire = Vec::new();
    from_text(RType::HTTPS, &fields, origin().as_ref(), &mut wire).unwrap();
    assert_eq!(text_of(RType::HTTPS, &wire), r#"1 . alpn="h2,h3" port=443"#);
    let Ok(RData::Https(s)) = RData::parse(RType::HTTPS, &wire) else {
        panic!()
    };
    let keys: Vec<u16> = s.params.iter().map(|p| p.key()).collect();
    assert_eq!(keys, [svc_key::ALPN, svc_key::PORT]);
    let Some(SvcParam::Alpn(ids)) = s.params.get(svc_key::ALPN) else {
        panic!()
    };
    assert_eq!(ids.iter().collect::<Vec<_>>(), [b"h2".as_slice(), b"h3"]);
    assert_eq!(s.params.get(svc_key::PORT), Some(SvcParam::Port(443)));
    assert!(!s.is_alias());
}

#[test]
fn svcb_rfc9460_appendix_d_3_failures() {
    // Each rejected, pointing at the offending parameter.
    reject(RType::SVCB, "1 foo.example.com. key123=abc key123=def", 3);
    reject(RType::SVCB, "1 foo.example.com. mandatory", 2);
    reject(RType::SVCB, "1 foo.example.com. alpn", 2);
    reject(RType::SVCB, "1 foo.example.com. port", 2);
    reject(RType::SVCB, "1 foo.example.com. ipv4hint", 2);
    reject(RType::SVCB, "1 foo.example.com. ipv6hint", 2);
    reject(
        RType::SVCB,
        "1 foo.example.com. alpn=h2 no-default-alpn=abc",
        3,
    );
    reject(RType::SVCB, "1 foo.example.com. mandatory=key123", 2);
    reject(RType::SVCB, "1 foo.example.com. mandatory=mandatory", 2);
    reject(
        RType::SVCB,
        "1 foo.example.com. mandatory=key123,key123 key123=abc",
        2,
    );
    // And some of our own.
    reject(RType::SVCB, "1 foo.example.com. port=53 bogus=1", 3);
    reject(RType::SVCB, "1 foo.example.com. no-default-alpn", 2);
    reject(RType::SVCB, "1 foo.example.com. alpn=h2,,h3", 2);
    reject(RType::SVCB, r"1 foo.example.com. alpn=h2\\x", 2);
    reject(RType::SVCB, "1 foo.example.com. port=65536", 2);
    reject(RType::SVCB, "1 foo.example.com. ipv4hint=1.2.3", 2);
    reject(RType::SVCB, "1 foo.example.com. key01=x", 2);
    reject(RType::SVCB, "1 foo.example.com. key65535", 2);
    reject(RType::SVCB, "1 foo.example.com. ech=***", 2);
}

// ---------------------------------------------------------------------------------------------
// Rejected text and wire
// ---------------------------------------------------------------------------------------------

#[test]
fn malformed_text_names_the_field() {
    reject(RType::A, "192.0.2.1 extra", 1);
    reject(RType::SRV, "0 5 70000 host", 2);
    reject(RType::SRV, "0 5 5060", 3);
    reject(
        RType::NAPTR,
        r#"100 10 "u" "E2U+sip" "!^.*$!x!" bad..name"#,
        5,
    );
    reject(RType::CAA, "0 is-sue x", 1);
    reject(RType::CAA, "256 issue x", 0);
    reject(RType::URI, r#"10 1 """#, 2);
    reject(RType::EUI48, "00-00-5e-00-53", 0);
    reject(RType::EUI64, "00-00-5e-00-53-2a-00-0g", 0);
    reject(RType::SSHFP, "2 1 12345", 2);
    reject(RType::TLSA, "3 1 1", 3);
    reject(RType::CERT, "BOGUS 0 0 AQID", 0);
    reject(RType::HINFO, r#""cpu""#, 1);
    reject(RType::NULL, "anything", 0);
    reject(RType::OPT, "anything", 0);
    // The generic form must hold valid RDATA for a known type.
    reject(RType::A, r"\# 3 010203", 1);
    check(RType::NULL, r"\# 2 0102", Some("0102"), r"\# 2 0102");
}

#[test]
fn malformed_wire_rejected() {
    let bad: &[(RType, &str)] = &[
        (RType::A, "c00002"),
        (RType::AAAA, "20010db8"),
        (RType::NS, "03666f6f"),
        (RType::NS, "c00c"),
        (RType::NS, "0000"),
        (RType::MX, "000a"),
        (RType::SOA, "0000 00000001"),
        (RType::TXT, ""),
        (RType::TXT, "0561"),
        (RType::HINFO, "0161"),
        (RType::SRV, "0000000013c4 00 00"),
        (RType::NAPTR, "0064000a 0175 00 00"),
        (RType::CAA, "00 00"),
        (RType::CAA, "00 022d2d"),
        (RType::URI, "000a0001"),
        (RType::DS, "ec450501"),
        (RType::DNSKEY, "01000305"),
        (RType::RRSIG, "0001050300015180"),
        (
            RType::RRSIG,
            "0001 05 03 00015180 00000000 00000000 0a52 00",
        ),
        (RType::NSEC, "00 0001"),
        (RType::NSEC, "00 0000"),
        (RType::NSEC, "00 002140"),
        (RType::NSEC, "00 00014000 00014000"),
        (RType::NSEC, "00 000240 00"),
        (RType::NSEC3, "01010000 00 00"),
        (RType::NSEC3, "01010000 00 01ff 0001"),
        (RType::NSEC3PARAM, "01000000 01"),
        (RType::ZONEMD, "00000001 01 01 0011223344556677"),
        (RType::LOC, "01 00 00 00 80000000 80000000 00989680"),
        (RType::LOC, "00 a0 00 00 80000000 80000000 00989680"),
        (RType::LOC, "00 01 00 00 80000000 80000000 00989680"),
        (RType::LOC, "00 00 00 00 ff000000 80000000 00989680"),
        (RType::EUI48, "0000"),
        (RType::EUI64, "00005e00532a"),
        (RType::SSHFP, "0201"),
        (RType::TLSA, "030101"),
        (RType::OPENPGPKEY, ""),
        (RType::DHCID, ""),
        (RType::CERT, "0001000000"),
        // SVCB: keys out of order, repeated, bad values, missing mandatory, trailing bytes.
        (RType::SVCB, "0001 00 0003 0002 0035 0001 0003 026832"),
        (RType::SVCB, "0001 00 0003 0002 0035 0003 0002 0035"),
        (RType::SVCB, "0001 00 0003 0001 35"),
        (RType::SVCB, "0001 00 0001 0000"),
        (RType::SVCB, "0001 00 0001 0003 026832 0002 0001 00"),
        (RType::SVCB, "0001 00 0002 0000"),
        (RType::SVCB, "0001 00 0000 0002 0003"),
        (RType::SVCB, "0001 00 0000 0002 0000 0000 0000"),
        (RType::SVCB, "0001 00 0004 0003 c00002"),
        (RType::SVCB, "0001 00 0006 0004 20010db8"),
        (RType::SVCB, "0001 00 0005 0000"),
        (RType::SVCB, "0001 00 ffff 0000"),
        (RType::SVCB, "0001 00 0003 0002 00"),
        (RType::HTTPS, "0001 00 0001 0003 026832 00"),
        (RType::SVCB, "0001 00 0001 0003 00 0000"),
    ];
    for (rtype, w) in bad {
        let w = hex(w);
        assert!(validate(*rtype, &w).is_err(), "{rtype} {w:02x?} accepted");
        let mut s = String::new();
        assert!(to_text(*rtype, &w, &mut s).is_err());
        assert!(s.is_empty());
    }
}

#[test]
fn to_text_never_panics_on_truncations() {
    // Every prefix of valid RDATA either reads or is rejected: no panic.
    let samples = [
        (
            RType::SVCB,
            "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1 ech=AEj+DQBE",
        ),
        (
            RType::RRSIG,
            "A 5 3 86400 20030322173103 20030220173103 2642 example.com. AQID",
        ),
        (
            RType::NSEC3,
            "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG TYPE1234",
        ),
        (RType::LOC, "42 21 54 N 71 06 18 W -24m 30m"),
        (
            RType::NAPTR,
            r#"100 10 "u" "E2U+sip" "!^.*$!sip:info@example.com!" ."#,
        ),
    ];
    for (rtype, text) in samples {
        let wire = wire_of(rtype, text).unwrap();
        for n in 0..wire.len() {
            let mut s = String::new();
            let _ = to_text(rtype, &wire[..n], &mut s);
        }
    }
}
