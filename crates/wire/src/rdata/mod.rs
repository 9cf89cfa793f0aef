//! RDATA: the type-specific part of a resource record.
//!
//! Everywhere outside a message, RDATA is kept in its canonical uncompressed wire form, as bytes.
//! That is what zones store and what the writer copies; the functions here convert it:
//!
//! - [`from_text`] reads the presentation form of a zone file into wire form, including the
//!   generic `\# len hex` form that any type may use (RFC 3597 section 5);
//! - [`to_text`] writes the presentation form back;
//! - [`validate`] checks that wire bytes are well formed for their type;
//! - [`layout`] describes where names sit inside the RDATA of the types whose names may be
//!   compressed in messages (RFC 3597 section 4), for the reader and the writer.
//!
//! Types without specific support are opaque bytes, written and read in the generic form.

use core::fmt::Write as _;

use crate::name::{NameRef, write_label_text};
use crate::text::{Field, Fields, TextError, write_char_string};
use crate::types::RType;

/// Why RDATA bytes are not valid for their type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RDataError {
    /// What is wrong.
    pub reason: &'static str,
}

impl RDataError {
    /// An error with `reason`.
    pub const fn new(reason: &'static str) -> RDataError {
        RDataError { reason }
    }
}

impl core::fmt::Display for RDataError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed RDATA: {}", self.reason)
    }
}

impl std::error::Error for RDataError {}

// ---------------------------------------------------------------------------------------------
// Layouts of RDATA with names
// ---------------------------------------------------------------------------------------------

/// One part of an RDATA layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// A domain name.
    Name,
    /// A fixed number of bytes.
    Bytes(usize),
    /// A character-string: a length byte and that many bytes.
    CharString,
    /// Everything up to the end of the RDATA.
    Rest,
}

/// Where the names are in RDATA whose names may be compressed in messages.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The parts in order.
    pub parts: &'static [Part],
    /// Whether a sender may compress these names: only the RFC 1035 types (RFC 3597 section 4).
    /// When false, names may still arrive compressed from old software and are decompressed.
    pub compress_on_send: bool,
}

/// The layout of `rtype` when its RDATA holds names that may be compressed, else `None`.
pub fn layout(rtype: RType) -> Option<Layout> {
    use Part::*;
    let (parts, compress_on_send): (&'static [Part], bool) = match rtype {
        RType::NS | RType::MD | RType::MF | RType::CNAME | RType::MB | RType::MG | RType::MR | RType::PTR => {
            (&[Name], true)
        }
        RType::SOA => (&[Name, Name, Bytes(20)], true),
        RType::MINFO => (&[Name, Name], true),
        RType::MX => (&[Bytes(2), Name], true),
        RType::RP => (&[Name, Name], false),
        RType::AFSDB | RType::RT => (&[Bytes(2), Name], false),
        RType::PX => (&[Bytes(2), Name, Name], false),
        RType::SRV => (&[Bytes(6), Name], false),
        RType::NAPTR => (&[Bytes(4), CharString, CharString, CharString, Name], false),
        RType::SIG => (&[Bytes(18), Name, Rest], false),
        RType::NXT => (&[Name, Rest], false),
        _ => return None,
    };
    Some(Layout { parts, compress_on_send })
}

// ---------------------------------------------------------------------------------------------
// Text to wire
// ---------------------------------------------------------------------------------------------

/// Reads the presentation form of `rtype`'s RDATA from `fields`, appending the wire form to
/// `out`. Relative names are completed with `origin`. On error `out` is left as it was.
pub fn from_text(rtype: RType, fields: &[Field<'_>], origin: NameRef<'_>, out: &mut Vec<u8>) -> Result<(), TextError> {
    let start = out.len();
    let result = if fields.first().is_some_and(|f| !f.quoted && f.text == b"\\#") {
        generic_from_text(fields, out)
    } else {
        typed_from_text(rtype, &mut Fields::new(fields), origin, out)
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn generic_from_text(fields: &[Field<'_>], out: &mut Vec<u8>) -> Result<(), TextError> {
    let mut f = Fields::new(fields);
    f.next("\\#")?;
    let len = f.u16("RDATA length")?;
    let start = out.len();
    while !f.is_empty() {
        let field = f.next("hex")?;
        decode_hex(field.text, out).map_err(|m| f.error(m))?;
    }
    let got = out.len() - start;
    if got != usize::from(len) {
        return Err(TextError::new(fields.len(), format!("\\# length is {len} but {got} bytes of hex follow")));
    }
    Ok(())
}

fn typed_from_text(rtype: RType, f: &mut Fields<'_, '_>, origin: NameRef<'_>, out: &mut Vec<u8>) -> Result<(), TextError> {
    match rtype {
        RType::A => {
            let field = f.next("IPv4 address")?;
            let addr: std::net::Ipv4Addr = parse_utf8(field.text).ok_or_else(|| f.error("expected an IPv4 address"))?;
            out.extend_from_slice(&addr.octets());
        }
        RType::AAAA => {
            let field = f.next("IPv6 address")?;
            let addr: std::net::Ipv6Addr = parse_utf8(field.text).ok_or_else(|| f.error("expected an IPv6 address"))?;
            out.extend_from_slice(&addr.octets());
        }
        RType::NS | RType::CNAME | RType::DNAME | RType::PTR | RType::MD | RType::MF | RType::MB | RType::MG
        | RType::MR => {
            out.extend_from_slice(f.name("target name", origin)?.as_wire());
        }
        RType::MX => {
            out.extend_from_slice(&f.u16("preference")?.to_be_bytes());
            out.extend_from_slice(f.name("exchange", origin)?.as_wire());
        }
        RType::SOA => {
            out.extend_from_slice(f.name("primary server (MNAME)", origin)?.as_wire());
            out.extend_from_slice(f.name("responsible mailbox (RNAME)", origin)?.as_wire());
            out.extend_from_slice(&f.u32("serial")?.to_be_bytes());
            for what in ["refresh", "retry", "expire", "minimum"] {
                out.extend_from_slice(&f.ttl(what)?.to_be_bytes());
            }
        }
        RType::TXT | RType::SPF => {
            f.char_string("character-string", out)?;
            while !f.is_empty() {
                f.char_string("character-string", out)?;
            }
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

/// Decodes hex digits (any case) and appends the bytes.
pub fn decode_hex(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if !text.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    for pair in text.chunks_exact(2) {
        let hi = hex_value(pair[0]).ok_or("expected hex digits")?;
        let lo = hex_value(pair[1]).ok_or("expected hex digits")?;
        out.push(hi << 4 | lo);
    }
    Ok(())
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Wire to text
// ---------------------------------------------------------------------------------------------

/// Appends the presentation form of `rtype`'s uncompressed RDATA to `out`. Types without a
/// specific form are written in the generic form. On error `out` is left as it was.
pub fn to_text(rtype: RType, rdata: &[u8], out: &mut String) -> Result<(), RDataError> {
    let start = out.len();
    let result = typed_to_text(rtype, rdata, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// Appends the generic form `\# len hex` (RFC 3597 section 5).
pub fn generic_to_text(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        for b in rdata {
            let _ = write!(out, "{b:02X}");
        }
    }
}

/// A cursor over wire RDATA.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], RDataError> {
        if self.data.len() < n {
            return Err(RDataError::new("too short"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    fn u16(&mut self) -> Result<u16, RDataError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, RDataError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<NameRef<'a>, RDataError> {
        let (name, rest) = NameRef::split_wire(self.data).map_err(|_| RDataError::new("bad name"))?;
        self.data = rest;
        Ok(name)
    }

    fn char_string(&mut self) -> Result<&'a [u8], RDataError> {
        let len = usize::from(self.bytes(1)?[0]);
        self.bytes(len)
    }

    fn finish(&self) -> Result<(), RDataError> {
        if self.data.is_empty() { Ok(()) } else { Err(RDataError::new("trailing bytes")) }
    }
}

fn write_name(name: NameRef<'_>, out: &mut String) {
    if name.is_root() {
        out.push('.');
        return;
    }
    for label in name.labels() {
        let _ = write_label_text(label, out);
        out.push('.');
    }
}

fn typed_to_text(rtype: RType, rdata: &[u8], out: &mut String) -> Result<(), RDataError> {
    let mut r = Reader { data: rdata };
    match rtype {
        RType::A => {
            let b = r.bytes(4)?;
            let _ = write!(out, "{}", std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        }
        RType::AAAA => {
            let b = r.bytes(16)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(b);
            let _ = write!(out, "{}", std::net::Ipv6Addr::from(octets));
        }
        RType::NS | RType::CNAME | RType::DNAME | RType::PTR | RType::MD | RType::MF | RType::MB | RType::MG
        | RType::MR => write_name(r.name()?, out),
        RType::MX => {
            let _ = write!(out, "{} ", r.u16()?);
            write_name(r.name()?, out);
        }
        RType::SOA => {
            write_name(r.name()?, out);
            out.push(' ');
            write_name(r.name()?, out);
            for _ in 0..5 {
                let _ = write!(out, " {}", r.u32()?);
            }
        }
        RType::TXT | RType::SPF => {
            let mut first = true;
            loop {
                if !first {
                    out.push(' ');
                }
                first = false;
                let _ = write_char_string(r.char_string()?, out);
                if r.data.is_empty() {
                    break;
                }
            }
        }
        _ => generic_to_text(rdata, out),
    }
    r.finish().or_else(|e| if matches!(rtype, RType::A | RType::AAAA) || layout_known(rtype) { Err(e) } else { Ok(()) })
}

/// Types whose wire reader above consumes the whole RDATA (others were written generically).
fn layout_known(rtype: RType) -> bool {
    matches!(
        rtype,
        RType::NS
            | RType::CNAME
            | RType::DNAME
            | RType::PTR
            | RType::MD
            | RType::MF
            | RType::MB
            | RType::MG
            | RType::MR
            | RType::MX
            | RType::SOA
            | RType::TXT
            | RType::SPF
    )
}

/// Checks that uncompressed RDATA is well formed for its type.
pub fn validate(rtype: RType, rdata: &[u8]) -> Result<(), RDataError> {
    let mut scratch = String::new();
    typed_to_text(rtype, rdata, &mut scratch)
}

#[cfg(test)]
mod tests {
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
        assert_eq!(round_trip(RType::SOA, "ns hostmaster 1 1h 10m 1w 300"), "ns.example. hostmaster.example. 1 3600 600 604800 300");
        assert_eq!(round_trip(RType::TXT, r"a b\032c"), r#""a" "b c""#);
    }

    #[test]
    fn generic_form() {
        assert_eq!(round_trip(RType(65280), r"\# 3 ABCDEF"), r"\# 3 ABCDEF");
        assert_eq!(round_trip(RType(65280), r"\# 0"), r"\# 0");
        assert_eq!(round_trip(RType::A, r"\# 4 C0000201"), "192.0.2.1");
        let origin = Name::root();
        let mut out = Vec::new();
        let err = from_text(RType(65280), &Field::split(r"\# 4 ABCDEF"), origin.as_ref(), &mut out).unwrap_err();
        assert!(err.message.contains("length"), "{err}");
        assert!(out.is_empty());
    }

    #[test]
    fn errors_name_the_field() {
        let origin = Name::root();
        let mut out = Vec::new();
        let err = from_text(RType::MX, &Field::split("10 a. extra"), origin.as_ref(), &mut out).unwrap_err();
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
}
