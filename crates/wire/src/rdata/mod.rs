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
//! [`RData`] is the typed view: [`RData::parse`] checks wire bytes strictly and borrows fields
//! from them, [`RData::write`] writes them back. Types without specific support (and NULL and
//! OPT, which have no presentation form) are opaque bytes, written and read in the generic form.
//!
//! The code is split by concern: `view` (the typed view), `lists` (character-strings and type
//! bitmaps), `svcb` (SVCB and HTTPS
//! parameters, RFC 9460), `loc` (RFC 1876), `text_in` and `text_out` (presentation form), and
//! `encoding` (hex, base64, base32hex).

use core::fmt::Write as _;

use crate::name::NameRef;
use crate::text::{Field, Fields, TextError};
use crate::types::RType;

mod encoding;
mod lists;
mod loc;
mod svcb;
mod text_in;
mod text_out;
mod view;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use encoding::{
    Base64Decoder, decode_base32hex, decode_base64, decode_hex, write_base32hex, write_base64,
    write_hex,
};
pub use lists::{CharStringIter, CharStrings, TypeBitmap, TypeBitmapIter};
pub use loc::Loc;
pub use svcb::{SvcParam, SvcParamIter, SvcParams, U16List, key as svc_key};
pub use text_in::civil_from_days;
pub use view::{Dnskey, Ds, Nsec3, RData, Rrsig, Soa, Svcb, Tlsa};

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
        RType::NS
        | RType::MD
        | RType::MF
        | RType::CNAME
        | RType::MB
        | RType::MG
        | RType::MR
        | RType::PTR => (&[Name], true),
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
    Some(Layout {
        parts,
        compress_on_send,
    })
}

// ---------------------------------------------------------------------------------------------
// Text to wire
// ---------------------------------------------------------------------------------------------

/// Reads the presentation form of `rtype`'s RDATA from `fields`, appending the wire form to
/// `out`. Relative names are completed with `origin`. On error `out` is left as it was.
///
/// Any type may use the generic form `\# len hex` (RFC 3597 section 5); for a type this crate
/// knows, the bytes so given must be valid for it.
pub fn from_text(
    rtype: RType,
    fields: &[Field<'_>],
    origin: NameRef<'_>,
    out: &mut Vec<u8>,
) -> Result<(), TextError> {
    let start = out.len();
    let result = if fields
        .first()
        .is_some_and(|f| !f.quoted && f.text == b"\\#")
    {
        generic_from_text(fields, out).and_then(|()| {
            let data = out.get(start..).unwrap_or(&[]);
            validate(rtype, data)
                .map_err(|e| TextError::new(1, format!("generic RDATA is not valid {rtype}: {e}")))
        })
    } else {
        text_in::typed_from_text(rtype, &mut Fields::new(fields), origin, out).and_then(|()| {
            // The readers enforce each type's rules field by field; this is a safety net so that
            // text never yields wire data the type's own parser would reject.
            let data = out.get(start..).unwrap_or(&[]);
            validate(rtype, data).map_err(|e| TextError::new(0, e.to_string()))
        })
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
        return Err(TextError::new(
            fields.len(),
            format!("\\# length is {len} but {got} bytes of hex follow"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Wire to text
// ---------------------------------------------------------------------------------------------

/// Appends the presentation form of `rtype`'s uncompressed RDATA to `out`. Types without a
/// specific form are written in the generic form. On error (bytes not valid for the type) `out`
/// is left as it was.
pub fn to_text(rtype: RType, rdata: &[u8], out: &mut String) -> Result<(), RDataError> {
    let rd = RData::parse(rtype, rdata)?;
    text_out::write_text(&rd, out);
    Ok(())
}

/// Appends the generic form `\# len hex` (RFC 3597 section 5).
pub fn generic_to_text(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        write_hex(rdata, out);
    }
}

/// Checks that uncompressed RDATA is well formed for its type: lengths, names valid and
/// uncompressed, no trailing bytes, and each type's own rules (see [`RData::parse`]).
pub fn validate(rtype: RType, rdata: &[u8]) -> Result<(), RDataError> {
    RData::parse(rtype, rdata).map(|_| ())
}

impl core::fmt::Display for RData<'_> {
    /// The presentation form of the RDATA.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut s = String::new();
        text_out::write_text(self, &mut s);
        f.write_str(&s)
    }
}
