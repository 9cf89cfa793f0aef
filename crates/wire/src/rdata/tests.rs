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
