//! Presentation form to wire form, type by type.
//!
//! Each reader takes the fields of one record's RDATA and appends the wire form; errors name the
//! field at fault. Numbers are decimal; names complete with the origin unless they end in a dot;
//! binary data is hex or base64 and may be split over several fields at the end of the RDATA.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::encoding::{Base64Decoder, decode_base32hex, decode_hex};
use super::lists::TypeBitmap;
use super::loc::Loc;
use super::svcb::params_from_text;
use crate::name::NameRef;
use crate::text::{Fields, TextError, parse_decimal, unescape};
use crate::types::RType;

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers").
const ALGORITHMS: &[(u8, &str)] = &[
    (1, "RSAMD5"),
    (2, "DH"),
    (3, "DSA"),
    (5, "RSASHA1"),
    (6, "DSA-NSEC3-SHA1"),
    (7, "RSASHA1-NSEC3-SHA1"),
    (8, "RSASHA256"),
    (10, "RSASHA512"),
    (12, "ECC-GOST"),
    (13, "ECDSAP256SHA256"),
    (14, "ECDSAP384SHA384"),
    (15, "ED25519"),
    (16, "ED448"),
    (252, "INDIRECT"),
    (253, "PRIVATEDNS"),
    (254, "PRIVATEOID"),
];

/// CERT type mnemonics (RFC 4398 section 2.1).
pub(crate) const CERT_TYPES: &[(u16, &str)] = &[
    (1, "PKIX"),
    (2, "SPKI"),
    (3, "PGP"),
    (4, "IPKIX"),
    (5, "ISPKI"),
    (6, "IPGP"),
    (7, "ACPKIX"),
    (8, "IACPKIX"),
    (253, "URI"),
    (254, "OID"),
];

/// Reads `rtype`'s own presentation form (not the generic one) and appends the wire form.
pub(crate) fn typed_from_text(
    rtype: RType,
    f: &mut Fields<'_, '_>,
    origin: NameRef<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    let name = |f: &mut Fields<'_, '_>, what: &str, out: &mut Vec<u8>| -> Result<(), TextError> {
        out.extend_from_slice(f.name(what, origin)?.as_wire());
        Ok(())
    };
    let u16 = |f: &mut Fields<'_, '_>, what: &str, out: &mut Vec<u8>| -> Result<(), TextError> {
        out.extend_from_slice(&f.u16(what)?.to_be_bytes());
        Ok(())
    };
    let u8 = |f: &mut Fields<'_, '_>, what: &str, out: &mut Vec<u8>| -> Result<(), TextError> {
        out.push(f.u8(what)?);
        Ok(())
    };
    match rtype {
        RType::A => {
            let field = f.next("IPv4 address")?;
            let addr: Ipv4Addr =
                parse_utf8(field.text).ok_or_else(|| f.error("expected an IPv4 address"))?;
            out.extend_from_slice(&addr.octets());
        }
        RType::AAAA => {
            let field = f.next("IPv6 address")?;
            let addr: Ipv6Addr =
                parse_utf8(field.text).ok_or_else(|| f.error("expected an IPv6 address"))?;
            out.extend_from_slice(&addr.octets());
        }
        RType::NS
        | RType::CNAME
        | RType::DNAME
        | RType::PTR
        | RType::MD
        | RType::MF
        | RType::MB
        | RType::MG
        | RType::MR => name(f, "target name", out)?,
        RType::MX | RType::RT | RType::KX => {
            u16(f, "preference", out)?;
            name(f, "exchange host", out)?;
        }
        RType::AFSDB => {
            u16(f, "subtype", out)?;
            name(f, "hostname", out)?;
        }
        RType::PX => {
            u16(f, "preference", out)?;
            name(f, "MAP822", out)?;
            name(f, "MAPX400", out)?;
        }
        RType::SOA => {
            name(f, "primary server (MNAME)", out)?;
            name(f, "responsible mailbox (RNAME)", out)?;
            out.extend_from_slice(&f.u32("serial")?.to_be_bytes());
            for what in ["refresh", "retry", "expire", "minimum"] {
                out.extend_from_slice(&f.ttl(what)?.to_be_bytes());
            }
        }
        RType::MINFO => {
            name(f, "RMAILBX", out)?;
            name(f, "EMAILBX", out)?;
        }
        RType::RP => {
            name(f, "mailbox", out)?;
            name(f, "TXT owner", out)?;
        }
        RType::HINFO => {
            f.char_string("CPU", out)?;
            f.char_string("OS", out)?;
        }
        RType::TXT | RType::SPF => {
            f.char_string("character-string", out)?;
            while !f.is_empty() {
                f.char_string("character-string", out)?;
            }
        }
        RType::SRV => {
            u16(f, "priority", out)?;
            u16(f, "weight", out)?;
            u16(f, "port", out)?;
            name(f, "target", out)?;
        }
        RType::NAPTR => {
            u16(f, "order", out)?;
            u16(f, "preference", out)?;
            f.char_string("flags", out)?;
            f.char_string("services", out)?;
            f.char_string("regexp", out)?;
            name(f, "replacement", out)?;
        }
        RType::CAA => {
            u8(f, "flags", out)?;
            let tag = f.next("tag")?;
            if tag.text.is_empty()
                || tag.text.len() > 255
                || !tag.text.iter().all(u8::is_ascii_alphanumeric)
            {
                return Err(f.error("a CAA tag is letters and digits"));
            }
            out.push(tag.text.len() as u8);
            out.extend_from_slice(tag.text);
            let value = f.next("value")?;
            unescape(value.text, out).map_err(|m| f.error(m))?;
        }
        RType::URI => {
            u16(f, "priority", out)?;
            u16(f, "weight", out)?;
            let target = f.next("target")?;
            let start = out.len();
            unescape(target.text, out).map_err(|m| f.error(m))?;
            if out.len() == start {
                return Err(f.error("empty URI target"));
            }
        }
        RType::SSHFP => {
            u8(f, "algorithm", out)?;
            u8(f, "fingerprint type", out)?;
            hex_rest(f, "fingerprint", out)?;
        }
        RType::TLSA | RType::SMIMEA => {
            u8(f, "certificate usage", out)?;
            u8(f, "selector", out)?;
            u8(f, "matching type", out)?;
            hex_rest(f, "certificate association data", out)?;
        }
        RType::DS | RType::CDS => {
            u16(f, "key tag", out)?;
            out.push(algorithm(f)?);
            u8(f, "digest type", out)?;
            hex_rest(f, "digest", out)?;
        }
        RType::DNSKEY | RType::CDNSKEY => {
            u16(f, "flags", out)?;
            u8(f, "protocol", out)?;
            out.push(algorithm(f)?);
            base64_rest(f, "public key", out)?;
        }
        RType::RRSIG => {
            let field = f.next("type covered")?;
            let covered =
                RType::from_text(field.text).ok_or_else(|| f.error("expected a record type"))?;
            out.extend_from_slice(&covered.0.to_be_bytes());
            out.push(algorithm(f)?);
            u8(f, "labels", out)?;
            out.extend_from_slice(&f.ttl("original TTL")?.to_be_bytes());
            for what in ["signature expiration", "signature inception"] {
                let field = f.next(what)?;
                let t = parse_time(field.text).ok_or_else(|| {
                    f.error(format!("expected {what} as YYYYMMDDHHmmSS or seconds"))
                })?;
                out.extend_from_slice(&t.to_be_bytes());
            }
            u16(f, "key tag", out)?;
            name(f, "signer name", out)?;
            base64_rest(f, "signature", out)?;
        }
        RType::NSEC => {
            name(f, "next domain name", out)?;
            type_list(f, out)?;
        }
        RType::NSEC3 => {
            u8(f, "hash algorithm", out)?;
            u8(f, "flags", out)?;
            u16(f, "iterations", out)?;
            salt(f, out)?;
            let field = f.next("next hashed owner name")?;
            let at = out.len();
            out.push(0);
            decode_base32hex(field.text, out).map_err(|m| f.error(m))?;
            let len = out.len() - at - 1;
            if !(1..=255).contains(&len) {
                return Err(f.error("next hashed owner name must be 1 to 255 bytes"));
            }
            if let Some(b) = out.get_mut(at) {
                *b = len as u8;
            }
            type_list(f, out)?;
        }
        RType::NSEC3PARAM => {
            u8(f, "hash algorithm", out)?;
            u8(f, "flags", out)?;
            u16(f, "iterations", out)?;
            salt(f, out)?;
        }
        RType::ZONEMD => {
            out.extend_from_slice(&f.u32("serial")?.to_be_bytes());
            u8(f, "scheme", out)?;
            let hash = f.u8("hash algorithm")?;
            out.push(hash);
            let (at, start) = (f.position(), out.len());
            hex_rest(f, "digest", out)?;
            let len = out.len() - start;
            let ok = match hash {
                1 => len == 48,
                2 => len == 64,
                _ => len >= 12,
            };
            if !ok {
                return Err(TextError::new(
                    at,
                    "digest length does not fit the hash algorithm (48 bytes for SHA-384, 64 for SHA-512, at least 12)",
                ));
            }
        }
        RType::LOC => Loc::from_text(f)?.write(out),
        RType::CERT => {
            let field = f.next("certificate type")?;
            let t = CERT_TYPES
                .iter()
                .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(field.text))
                .map(|(v, _)| *v)
                .or_else(|| parse_decimal(field.text, u64::from(u16::MAX)).map(|v| v as u16))
                .ok_or_else(|| f.error("expected a certificate type"))?;
            out.extend_from_slice(&t.to_be_bytes());
            u16(f, "key tag", out)?;
            out.push(algorithm(f)?);
            base64_rest(f, "certificate", out)?;
        }
        RType::OPENPGPKEY => base64_rest(f, "public key", out)?,
        RType::DHCID => base64_rest(f, "DHCID digest", out)?,
        RType::EUI48 => eui(f, 6, out)?,
        RType::EUI64 => eui(f, 8, out)?,
        RType::SVCB | RType::HTTPS => {
            let priority = f.u16("priority")?;
            out.extend_from_slice(&priority.to_be_bytes());
            name(f, "target name", out)?;
            // AliasMode (priority 0) SHOULD NOT carry SvcParams and receivers ignore them
            // (RFC 9460 section 2.4.1); they are accepted here as on the wire, so that every
            // valid RDATA has a text form that reads back.
            params_from_text(f, out)?;
        }
        _ => {
            return Err(TextError::new(
                f.position(),
                format!("no text form known for {rtype}: use the generic form \\# LENGTH HEX"),
            ));
        }
    }
    f.finish()
}

fn parse_utf8<T: core::str::FromStr>(text: &[u8]) -> Option<T> {
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// A DNSSEC algorithm: a number or a mnemonic.
fn algorithm(f: &mut Fields<'_, '_>) -> Result<u8, TextError> {
    let field = f.next("algorithm")?;
    ALGORITHMS
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(field.text))
        .map(|(v, _)| *v)
        .or_else(|| parse_decimal(field.text, 255).map(|v| v as u8))
        .ok_or_else(|| f.error("expected an algorithm number or mnemonic"))
}

/// Hex in one or more fields up to the end, at least one byte.
fn hex_rest(f: &mut Fields<'_, '_>, what: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    let first = f.position();
    let fields = f.remaining();
    if fields.is_empty() {
        f.next(what)?;
    }
    for (i, field) in fields.iter().enumerate() {
        decode_hex(field.text, out)
            .map_err(|m| TextError::new(first + i, format!("bad {what}: {m}")))?;
    }
    f.skip_rest();
    Ok(())
}

/// Base64 in one or more fields up to the end, at least one byte.
fn base64_rest(f: &mut Fields<'_, '_>, what: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
    let first = f.position();
    let fields = f.remaining();
    if fields.is_empty() {
        f.next(what)?;
    }
    let start = out.len();
    let mut d = Base64Decoder::new();
    for (i, field) in fields.iter().enumerate() {
        d.push(field.text, out)
            .map_err(|m| TextError::new(first + i, format!("bad {what}: {m}")))?;
    }
    let last = first + fields.len().saturating_sub(1);
    d.finish()
        .map_err(|m| TextError::new(last, format!("bad {what}: {m}")))?;
    if out.len() == start {
        return Err(TextError::new(last, format!("empty {what}")));
    }
    f.skip_rest();
    Ok(())
}

/// An NSEC3 salt: hex, or `-` for none; appended with its length byte.
fn salt(f: &mut Fields<'_, '_>, out: &mut Vec<u8>) -> Result<(), TextError> {
    let field = f.next("salt")?;
    let at = out.len();
    out.push(0);
    if field.text != b"-" {
        decode_hex(field.text, out).map_err(|m| f.error(format!("bad salt: {m}")))?;
    }
    let len = out.len() - at - 1;
    if len > 255 {
        return Err(f.error("salt longer than 255 bytes"));
    }
    if let Some(b) = out.get_mut(at) {
        *b = len as u8;
    }
    Ok(())
}

/// The types of an NSEC or NSEC3 record, to the end of the fields.
fn type_list(f: &mut Fields<'_, '_>, out: &mut Vec<u8>) -> Result<(), TextError> {
    let mut types = Vec::new();
    while !f.is_empty() {
        let field = f.next("type")?;
        types.push(RType::from_text(field.text).ok_or_else(|| f.error("expected a record type"))?);
    }
    TypeBitmap::write(&types, out);
    Ok(())
}

/// `xx-xx-...` with `len` pairs of hex digits.
fn eui(f: &mut Fields<'_, '_>, len: usize, out: &mut Vec<u8>) -> Result<(), TextError> {
    let field = f.next("EUI")?;
    let bad = || f.error(format!("expected {len} hex pairs joined by '-'"));
    if field.text.len() != len * 3 - 1 {
        return Err(bad());
    }
    for (i, part) in field.text.split(|&c| c == b'-').enumerate() {
        if i >= len || part.len() != 2 {
            return Err(bad());
        }
        decode_hex(part, out).map_err(|_| bad())?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Signature times (RFC 4034 section 3.2)
// ---------------------------------------------------------------------------------------------

/// Parses `YYYYMMDDHHmmSS` (UTC) or decimal seconds since 1970, up to 2^32 - 1.
pub(crate) fn parse_time(text: &[u8]) -> Option<u32> {
    if text.len() != 14 {
        return parse_decimal(text, u64::from(u32::MAX)).map(|v| v as u32);
    }
    let num = |a: usize, b: usize| parse_decimal(text.get(a..b)?, 9999);
    let (year, month, day) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (hour, minute, second) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
    if !(1970..=2106).contains(&year)
        || !(1..=12).contains(&month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64;
    u32::try_from(secs).ok()
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day counted from 1970-01-01: (year, month, day), by the civil-from-days
/// conversion of the proleptic Gregorian calendar.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}
