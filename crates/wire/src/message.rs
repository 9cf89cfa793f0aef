//! Reading DNS messages (RFC 1035 section 4) in place.
//!
//! [`Message::parse`] walks a received message once and checks its whole framing: the header,
//! every question and record, every name (with the compression rules below), the RDATA lengths,
//! at most one OPT record and only in the additional section, and no bytes after the last
//! record. After that, a [`Message`] is a view that hands out the question, records and EDNS data
//! without copying the message or allocating.
//!
//! Compressed names (RFC 1035 section 4.1.4) are read with the defences RFC 9267 asks for: a
//! pointer must point strictly before everything read so far for this name (so no loops and no
//! forward references), pointers are followed at most [`MAX_POINTERS`] times, labels are at most
//! 63 bytes, the name at most 255 bytes, and the extended label types 0b01 and 0b10 are errors.
//!
//! A parse error says whether the header could be read, which is what a server needs to decide
//! between answering FORMERR and dropping the packet.

use core::fmt;

use crate::edns::Edns;
use crate::name::{MAX_NAME_LEN, Name, NameError, NameRef};
use crate::rdata::{self, Part};
use crate::types::{Class, Opcode, RType, Rcode};

/// Size of the fixed header.
pub const HEADER_LEN: usize = 12;
/// Most compression pointers followed while reading one name.
pub const MAX_POINTERS: usize = 64;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a message could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer than 12 bytes: not even a header. Such a packet is dropped.
    ShortHeader,
    /// The message ends inside a question or record.
    Truncated,
    /// A name is malformed.
    Name(NameError),
    /// Bytes follow the last record the header announced.
    TrailingBytes,
    /// An OPT record outside the additional section, not owned by the root, or a second one.
    BadOpt(&'static str),
    /// RDATA that is malformed for its type (found when decompressing it).
    BadRdata(&'static str),
}

impl ParseError {
    /// Whether the 12-byte header was readable, so that a FORMERR response can be sent.
    pub fn header_readable(&self) -> bool {
        !matches!(self, ParseError::ShortHeader)
    }
}

impl From<NameError> for ParseError {
    fn from(e: NameError) -> ParseError {
        match e {
            NameError::Truncated => ParseError::Truncated,
            e => ParseError::Name(e),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::ShortHeader => f.write_str("message shorter than its header"),
            ParseError::Truncated => f.write_str("message truncated"),
            ParseError::Name(e) => write!(f, "bad name: {e}"),
            ParseError::TrailingBytes => f.write_str("trailing bytes after the last record"),
            ParseError::BadOpt(why) => write!(f, "bad OPT record: {why}"),
            ParseError::BadRdata(why) => write!(f, "bad RDATA: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/// The 16 flag and code bits of the header (RFC 1035 section 4.1.1, RFC 4035 for AD and CD).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(pub u16);

impl Flags {
    const QR: u16 = 0x8000;
    const AA: u16 = 0x0400;
    const TC: u16 = 0x0200;
    const RD: u16 = 0x0100;
    const RA: u16 = 0x0080;
    const Z: u16 = 0x0040;
    const AD: u16 = 0x0020;
    const CD: u16 = 0x0010;

    /// This is a response.
    pub fn qr(self) -> bool {
        self.0 & Self::QR != 0
    }
    /// The kind of query.
    pub fn opcode(self) -> Opcode {
        Opcode(((self.0 >> 11) & 0x0f) as u8)
    }
    /// Authoritative answer.
    pub fn aa(self) -> bool {
        self.0 & Self::AA != 0
    }
    /// Truncated.
    pub fn tc(self) -> bool {
        self.0 & Self::TC != 0
    }
    /// Recursion desired.
    pub fn rd(self) -> bool {
        self.0 & Self::RD != 0
    }
    /// Recursion available.
    pub fn ra(self) -> bool {
        self.0 & Self::RA != 0
    }
    /// The reserved Z bit (must be zero in responses).
    pub fn z(self) -> bool {
        self.0 & Self::Z != 0
    }
    /// Authentic data (RFC 4035 section 3.2.3).
    pub fn ad(self) -> bool {
        self.0 & Self::AD != 0
    }
    /// Checking disabled (RFC 4035 section 3.2.2).
    pub fn cd(self) -> bool {
        self.0 & Self::CD != 0
    }
    /// The low 4 bits of the response code.
    pub fn rcode_bits(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    fn with(self, bit: u16, on: bool) -> Flags {
        Flags(if on { self.0 | bit } else { self.0 & !bit })
    }
    /// With QR set or cleared.
    pub fn with_qr(self, on: bool) -> Flags {
        self.with(Self::QR, on)
    }
    /// With AA set or cleared.
    pub fn with_aa(self, on: bool) -> Flags {
        self.with(Self::AA, on)
    }
    /// With TC set or cleared.
    pub fn with_tc(self, on: bool) -> Flags {
        self.with(Self::TC, on)
    }
    /// With RD set or cleared.
    pub fn with_rd(self, on: bool) -> Flags {
        self.with(Self::RD, on)
    }
    /// With RA set or cleared.
    pub fn with_ra(self, on: bool) -> Flags {
        self.with(Self::RA, on)
    }
    /// With AD set or cleared.
    pub fn with_ad(self, on: bool) -> Flags {
        self.with(Self::AD, on)
    }
    /// With CD set or cleared.
    pub fn with_cd(self, on: bool) -> Flags {
        self.with(Self::CD, on)
    }
    /// With this opcode.
    pub fn with_opcode(self, op: Opcode) -> Flags {
        Flags((self.0 & !0x7800) | (u16::from(op.0 & 0x0f) << 11))
    }
    /// With the low 4 bits of `rcode` (the rest goes in the OPT record).
    pub fn with_rcode(self, rcode: Rcode) -> Flags {
        Flags((self.0 & !0x000f) | u16::from(rcode.header_bits()))
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags(opcode {}", self.opcode().0)?;
        for (on, name) in [
            (self.qr(), "qr"),
            (self.aa(), "aa"),
            (self.tc(), "tc"),
            (self.rd(), "rd"),
            (self.ra(), "ra"),
            (self.z(), "z"),
            (self.ad(), "ad"),
            (self.cd(), "cd"),
        ] {
            if on {
                write!(f, " {name}")?;
            }
        }
        write!(f, " rcode {})", self.rcode_bits())
    }
}

/// The fixed 12-byte message header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Header {
    /// The query ID, echoed in the response.
    pub id: u16,
    /// Flags, opcode and the low bits of the response code.
    pub flags: Flags,
    /// Entries in the question section.
    pub qdcount: u16,
    /// Records in the answer section.
    pub ancount: u16,
    /// Records in the authority section.
    pub nscount: u16,
    /// Records in the additional section.
    pub arcount: u16,
}

impl Header {
    /// Reads the header at the start of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Header, ParseError> {
        let b: &[u8; HEADER_LEN] = buf
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(ParseError::ShortHeader)?;
        let word = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Ok(Header {
            id: word(0),
            flags: Flags(word(2)),
            qdcount: word(4),
            ancount: word(6),
            nscount: word(8),
            arcount: word(10),
        })
    }

    /// The 12 bytes of this header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        for (i, v) in [
            self.id,
            self.flags.0,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ]
        .into_iter()
        .enumerate()
        {
            out[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    /// The count for `section`.
    pub fn count(&self, section: Section) -> u16 {
        match section {
            Section::Question => self.qdcount,
            Section::Answer => self.ancount,
            Section::Authority => self.nscount,
            Section::Additional => self.arcount,
        }
    }
}

/// The four sections of a message, in wire order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// The question.
    Question,
    /// Records that answer the question.
    Answer,
    /// Records pointing toward an authority (NS, SOA for negative answers).
    Authority,
    /// Records that help use the others (addresses of NS targets, OPT).
    Additional,
}

impl Section {
    /// The three record sections, in order.
    pub const RECORDS: [Section; 3] = [Section::Answer, Section::Authority, Section::Additional];

    fn index(self) -> usize {
        self as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Names in messages
// ---------------------------------------------------------------------------------------------

/// Reads the possibly compressed name at `pos` in `msg`. Returns the name and the position just
/// after the name's bytes at `pos` (after the first pointer, if any).
pub fn read_name(msg: &[u8], pos: usize) -> Result<(Name, usize), ParseError> {
    let mut wire = [0u8; MAX_NAME_LEN];
    let mut len = 0;
    // `walk_name` has checked each label (1 to 63 bytes) and the total length before handing
    // the label over, so the copy below stays within the 255 bytes.
    let end = walk_name(msg, pos, |label| {
        let next = len + 1 + label.len();
        let slot = wire.get_mut(len..next).ok_or(NameError::TooLong)?;
        slot[0] = label.len() as u8;
        slot[1..].copy_from_slice(label);
        len = next;
        Ok(())
    })?;
    Ok((Name::from_wire_parts(wire, len + 1), end))
}

/// Checks the possibly compressed name at `pos` without building it; returns the position after
/// it, as [`read_name`] does.
pub fn skip_name(msg: &[u8], pos: usize) -> Result<usize, ParseError> {
    walk_name(msg, pos, |_| Ok(()))
}

/// Walks the labels of the name at `pos`, following pointers by the rules in the module docs.
fn walk_name(
    msg: &[u8],
    pos: usize,
    mut on_label: impl FnMut(&[u8]) -> Result<(), NameError>,
) -> Result<usize, ParseError> {
    let mut cursor = pos;
    // Every pointer must point before this: the start of all bytes read so far for this name.
    let mut limit = pos;
    let mut end = None;
    let mut wire_len = 1usize;
    let mut pointers = 0;
    loop {
        let len = *msg.get(cursor).ok_or(ParseError::Truncated)?;
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    return Ok(end.unwrap_or(cursor + 1));
                }
                let len = usize::from(len);
                let label = msg
                    .get(cursor + 1..cursor + 1 + len)
                    .ok_or(ParseError::Truncated)?;
                wire_len += 1 + len;
                if wire_len > MAX_NAME_LEN {
                    return Err(ParseError::Name(NameError::TooLong));
                }
                on_label(label)?;
                cursor += 1 + len;
            }
            0xc0 => {
                let low = *msg.get(cursor + 1).ok_or(ParseError::Truncated)?;
                let target = usize::from(len & 0x3f) << 8 | usize::from(low);
                pointers += 1;
                if target >= limit || pointers > MAX_POINTERS {
                    return Err(ParseError::Name(NameError::BadPointer));
                }
                if end.is_none() {
                    end = Some(cursor + 2);
                }
                limit = target;
                cursor = target;
            }
            _ => return Err(ParseError::Name(NameError::BadLabelType)),
        }
    }
}

/// Compares the possibly compressed name at `pos` in `msg` with `name`, ignoring ASCII case.
/// Pointers are followed by the same rules as [`read_name`]; a malformed name compares unequal.
pub fn name_eq_at(msg: &[u8], pos: usize, name: NameRef<'_>) -> bool {
    let want = name.as_wire();
    let mut at = 0;
    let mut cursor = pos;
    let mut limit = pos;
    let mut pointers = 0;
    loop {
        let Some(&len) = msg.get(cursor) else {
            return false;
        };
        if len & 0xc0 == 0xc0 {
            let Some(&low) = msg.get(cursor + 1) else {
                return false;
            };
            let target = usize::from(len & 0x3f) << 8 | usize::from(low);
            pointers += 1;
            if target >= limit || pointers > MAX_POINTERS {
                return false;
            }
            limit = target;
            cursor = target;
            continue;
        }
        let n = usize::from(len);
        if want.get(at) != Some(&len) || len & 0xc0 != 0 {
            return false;
        }
        if n == 0 {
            return true;
        }
        let (Some(got), Some(expected)) = (
            msg.get(cursor + 1..cursor + 1 + n),
            want.get(at + 1..at + 1 + n),
        ) else {
            return false;
        };
        if !label_eq(got, expected) {
            return false;
        }
        at += 1 + n;
        cursor += 1 + n;
    }
}

/// Compares two labels of equal length ignoring ASCII case; a plain loop, since labels are
/// short and a call to `memcmp` costs more than the comparison.
#[inline]
fn label_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x == y || x.eq_ignore_ascii_case(y))
}

// ---------------------------------------------------------------------------------------------
// Message
// ---------------------------------------------------------------------------------------------

/// A received message, checked once and read in place.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    buf: &'a [u8],
    header: Header,
    /// Offsets where the question, answer, authority and additional sections start.
    starts: [u16; 4],
    /// Offset of the OPT record's owner, if there is one.
    opt: Option<u16>,
    /// Offset of the first question's QTYPE (0 when there is no question).
    first_qtype: u16,
}

impl<'a> Message<'a> {
    /// Checks the framing of the whole message (see the module docs).
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let header = Header::parse(buf)?;
        if buf.len() > usize::from(u16::MAX) {
            return Err(ParseError::TrailingBytes);
        }
        let mut starts = [HEADER_LEN as u16; 4];
        let mut pos = HEADER_LEN;
        let mut first_qtype = 0;
        for _ in 0..header.qdcount {
            let fixed = skip_name(buf, pos)?;
            if first_qtype == 0 {
                first_qtype = fixed as u16;
            }
            pos = fixed + 4;
            if pos > buf.len() {
                return Err(ParseError::Truncated);
            }
        }
        let mut opt = None;
        for section in Section::RECORDS {
            starts[section.index()] = pos as u16;
            for _ in 0..header.count(section) {
                let owner = pos;
                let fixed_at = skip_name(buf, pos)?;
                let fixed = buf
                    .get(fixed_at..fixed_at + 10)
                    .ok_or(ParseError::Truncated)?;
                let rtype = RType(u16::from_be_bytes([fixed[0], fixed[1]]));
                let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
                pos = fixed_at + 10 + rdlen;
                if pos > buf.len() {
                    return Err(ParseError::Truncated);
                }
                if rtype == RType::OPT {
                    if section != Section::Additional {
                        return Err(ParseError::BadOpt("outside the additional section"));
                    }
                    if opt.is_some() {
                        return Err(ParseError::BadOpt("more than one OPT record"));
                    }
                    if fixed_at != owner + 1 || buf[owner] != 0 {
                        return Err(ParseError::BadOpt("owner is not the root"));
                    }
                    opt = Some(owner as u16);
                }
            }
        }
        if pos != buf.len() {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Message {
            buf,
            header,
            starts,
            opt,
            first_qtype,
        })
    }

    /// The message bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The header.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The first question, if any (queries have exactly one).
    pub fn question(&self) -> Option<Question<'a>> {
        let at = usize::from(self.first_qtype);
        let fixed = self.buf.get(at..at + 4).filter(|_| at != 0)?;
        Some(Question {
            buf: self.buf,
            name_pos: HEADER_LEN,
            qtype: RType(u16::from_be_bytes([fixed[0], fixed[1]])),
            qclass: Class(u16::from_be_bytes([fixed[2], fixed[3]])),
        })
    }

    /// All questions.
    pub fn questions(&self) -> Questions<'a> {
        Questions {
            buf: self.buf,
            pos: HEADER_LEN,
            left: self.header.qdcount,
        }
    }

    /// The records of one section (for [`Section::Question`], none).
    pub fn records(&self, section: Section) -> Records<'a> {
        let left = if section == Section::Question {
            0
        } else {
            self.header.count(section)
        };
        Records {
            buf: self.buf,
            pos: usize::from(self.starts[section.index()]),
            left,
        }
    }

    /// The OPT record's EDNS data (RFC 6891), if the message has one.
    pub fn edns(&self) -> Option<Edns<'a>> {
        let owner = usize::from(self.opt?);
        let record = Records {
            buf: self.buf,
            pos: owner,
            left: 1,
        }
        .next()?;
        Some(Edns::from_record(&record))
    }

    /// The response code, with the upper bits from the OPT record when there is one.
    pub fn rcode(&self) -> Rcode {
        let low = u16::from(self.header.flags.rcode_bits());
        let high = self.edns().map_or(0, |e| u16::from(e.extended_rcode));
        Rcode(high << 4 | low)
    }
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("header", &self.header)
            .field("len", &self.buf.len())
            .finish()
    }
}

/// One entry of the question section.
#[derive(Clone, Copy, Debug)]
pub struct Question<'a> {
    buf: &'a [u8],
    name_pos: usize,
    /// The type asked for.
    pub qtype: RType,
    /// The class asked for.
    pub qclass: Class,
}

impl Question<'_> {
    /// The name asked for, decompressed, in the case it was sent.
    pub fn qname(&self) -> Result<Name, ParseError> {
        read_name(self.buf, self.name_pos).map(|(n, _)| n)
    }

    /// Offset of the name in the message (the question name is at 12 in a query).
    pub fn name_offset(&self) -> usize {
        self.name_pos
    }
}

/// Iterator over the question section.
#[derive(Clone, Debug)]
pub struct Questions<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for Questions<'a> {
    type Item = Question<'a>;

    fn next(&mut self) -> Option<Question<'a>> {
        if self.left == 0 {
            return None;
        }
        let end = skip_name(self.buf, self.pos).ok()?;
        let fixed = self.buf.get(end..end + 4)?;
        let q = Question {
            buf: self.buf,
            name_pos: self.pos,
            qtype: RType(u16::from_be_bytes([fixed[0], fixed[1]])),
            qclass: Class(u16::from_be_bytes([fixed[2], fixed[3]])),
        };
        self.pos = end + 4;
        self.left -= 1;
        Some(q)
    }
}

/// One resource record inside a message.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    buf: &'a [u8],
    owner_pos: usize,
    /// The record type.
    pub rtype: RType,
    /// The class (for OPT, the UDP payload size).
    pub class: Class,
    /// Time to live (for OPT, the extended RCODE, version and flags).
    pub ttl: u32,
    rdata_pos: usize,
    rdata_len: usize,
}

impl<'a> Record<'a> {
    /// The owner name, decompressed.
    pub fn owner(&self) -> Result<Name, ParseError> {
        read_name(self.buf, self.owner_pos).map(|(n, _)| n)
    }

    /// Whether the owner equals `name`, ignoring case, without building it.
    pub fn owner_is(&self, name: NameRef<'_>) -> bool {
        name_eq_at(self.buf, self.owner_pos, name)
    }

    /// The RDATA as sent: names inside may be compressed (pointers into the message).
    pub fn raw_rdata(&self) -> &'a [u8] {
        &self.buf[self.rdata_pos..self.rdata_pos + self.rdata_len]
    }

    /// Appends the RDATA in canonical uncompressed form to `out`, expanding compressed names in
    /// the types where they may occur (RFC 3597 section 4). On error `out` is left as it was.
    pub fn rdata_into(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let start = out.len();
        let result = self.decompress_rdata(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn decompress_rdata(&self, out: &mut Vec<u8>) -> Result<(), ParseError> {
        let Some(layout) = rdata::layout(self.rtype) else {
            out.extend_from_slice(self.raw_rdata());
            return Ok(());
        };
        let end = self.rdata_pos + self.rdata_len;
        let mut pos = self.rdata_pos;
        for part in layout.parts {
            match *part {
                Part::Name => {
                    let (name, next) = read_name(self.buf, pos)?;
                    if next > end {
                        return Err(ParseError::BadRdata("name runs past the RDATA"));
                    }
                    out.extend_from_slice(name.as_wire());
                    pos = next;
                }
                Part::Bytes(n) => {
                    if pos + n > end {
                        return Err(ParseError::BadRdata("too short"));
                    }
                    out.extend_from_slice(&self.buf[pos..pos + n]);
                    pos += n;
                }
                Part::CharString => {
                    let len = usize::from(
                        *self
                            .buf
                            .get(pos)
                            .filter(|_| pos < end)
                            .ok_or(ParseError::BadRdata("too short"))?,
                    );
                    if pos + 1 + len > end {
                        return Err(ParseError::BadRdata("too short"));
                    }
                    out.extend_from_slice(&self.buf[pos..pos + 1 + len]);
                    pos += 1 + len;
                }
                Part::Rest => {
                    out.extend_from_slice(&self.buf[pos..end]);
                    pos = end;
                }
            }
        }
        if pos != end {
            return Err(ParseError::BadRdata("trailing bytes"));
        }
        Ok(())
    }
}

/// Iterator over the records of one section.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Iterator for Records<'a> {
    type Item = Record<'a>;

    fn next(&mut self) -> Option<Record<'a>> {
        if self.left == 0 {
            return None;
        }
        let fixed_at = skip_name(self.buf, self.pos).ok()?;
        let f = self.buf.get(fixed_at..fixed_at + 10)?;
        let rdata_len = usize::from(u16::from_be_bytes([f[8], f[9]]));
        let rdata_pos = fixed_at + 10;
        if rdata_pos + rdata_len > self.buf.len() {
            return None;
        }
        let record = Record {
            buf: self.buf,
            owner_pos: self.pos,
            rtype: RType(u16::from_be_bytes([f[0], f[1]])),
            class: Class(u16::from_be_bytes([f[2], f[3]])),
            ttl: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
            rdata_pos,
            rdata_len,
        };
        self.pos = rdata_pos + rdata_len;
        self.left -= 1;
        Some(record)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `www.example.com. A` with an OPT record (payload 1232, DO set).
    fn query() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        m
    }

    #[test]
    fn parses_a_query() {
        let q = query();
        let m = Message::parse(&q).unwrap();
        assert_eq!(m.header().id, 0x1234);
        assert!(m.header().flags.rd());
        assert!(m.header().flags.ad());
        let question = m.question().unwrap();
        assert_eq!(question.qname().unwrap().to_string(), "www.example.com.");
        assert_eq!(question.qtype, RType::A);
        let edns = m.edns().unwrap();
        assert_eq!(edns.udp_payload, 1232);
        assert!(edns.dnssec_ok());
        assert_eq!(m.records(Section::Additional).count(), 1);
    }

    #[test]
    fn rejects_framing_errors() {
        assert_eq!(
            Message::parse(&[0; 11]).unwrap_err(),
            ParseError::ShortHeader
        );
        let q = query();
        assert_eq!(
            Message::parse(&q[..q.len() - 1]).unwrap_err(),
            ParseError::Truncated
        );
        let mut long = q.clone();
        long.push(0);
        assert_eq!(
            Message::parse(&long).unwrap_err(),
            ParseError::TrailingBytes
        );
        let mut two_opt = q.clone();
        two_opt[11] = 2;
        two_opt.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(
            Message::parse(&two_opt).unwrap_err(),
            ParseError::BadOpt(_)
        ));
        assert!(Message::parse(&two_opt).unwrap_err().header_readable());
    }

    #[test]
    fn compression_rules() {
        // Header, then at 12: "a" + pointer to 12 (itself: a loop).
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[1, b'a', 0xc0, 12, 0, 1, 0, 1]);
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::Name(NameError::BadPointer)
        );
        // A forward pointer.
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 14, 0, 0, 1, 0, 1]);
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::Name(NameError::BadPointer)
        );
        // Extended label type 0b01.
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0x41, 0, 0, 1, 0, 1]);
        assert_eq!(
            Message::parse(&m).unwrap_err(),
            ParseError::Name(NameError::BadLabelType)
        );
        // A valid backward pointer: question "example.", then an answer owned by "a" + ptr.
        let mut m = vec![0, 0, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[
            1, b'a', 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'b', 0xc0, 12,
        ]);
        let msg = Message::parse(&m).unwrap();
        let rr = msg.records(Section::Answer).next().unwrap();
        assert_eq!(rr.owner().unwrap().to_string(), "a.example.");
        assert!(rr.owner_is("A.EXAMPLE.".parse::<Name>().unwrap().as_ref()));
        let mut rdata = Vec::new();
        rr.rdata_into(&mut rdata).unwrap();
        assert_eq!(rdata, b"\x01b\x07example\x00");
    }

    #[test]
    fn name_length_cap_through_pointers() {
        // Four chained 63-byte labels reach 256 bytes: too long even though each step is legal.
        let mut m = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut prev: Option<usize> = None;
        let mut starts = Vec::new();
        for _ in 0..4 {
            let at = m.len();
            starts.push(at);
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
            match prev {
                Some(p) => m.extend_from_slice(&[0xc0 | (p >> 8) as u8, p as u8]),
                None => m.push(0),
            }
            prev = Some(at);
        }
        assert!(skip_name(&m, starts[2]).is_ok());
        assert_eq!(
            skip_name(&m, prev.unwrap()),
            Err(ParseError::Name(NameError::TooLong))
        );
    }
}
