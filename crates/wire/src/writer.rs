//! Writing DNS messages into a caller-provided buffer.
//!
//! [`MessageWriter`] writes the header, then sections in order. It never allocates:
//!
//! - **Name compression** (RFC 1035 section 4.1.4) uses a fixed table of [`COMPRESSION_SLOTS`]
//!   offsets of names (and their suffixes) already written. Names inside RDATA are compressed
//!   only for the RFC 1035 types (RFC 3597 section 4); all other RDATA is copied as it is.
//! - **Truncation is clean**: an RRset is written whole or not at all. When it does not fit in
//!   the size limit, the writer rolls back to where the RRset started and returns
//!   [`WriteError::Truncated`]; the caller decides what that means (set TC, or stop adding
//!   optional records to the additional section).
//! - **Room for OPT**: [`MessageWriter::reserve`] keeps bytes free at the end so the OPT record
//!   always fits after the answer, as RFC 6891 section 7 requires of truncated responses.

use core::fmt;

use crate::edns::{FLAG_DO, OptionCode};
use crate::message::{Flags, HEADER_LEN, Header, Section, name_eq_at};
use crate::name::NameRef;
use crate::rdata::{self, Part};
use crate::types::{Class, RType, Rcode};

/// Offsets remembered for name compression; later names simply compress less.
pub const COMPRESSION_SLOTS: usize = 96;
/// Compression pointers hold 14 bits: names starting later cannot be pointed to.
const POINTER_LIMIT: usize = 0x4000;

/// Why a write did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The record or RRset does not fit within the size limit; nothing of it was written.
    Truncated,
    /// A section was written after a later one (sections must come in wire order).
    SectionOrder,
    /// RDATA that is malformed for its type, found while compressing names in it.
    BadRdata,
    /// More than 65,535 entries in one section.
    TooManyRecords,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WriteError::Truncated => "message size limit reached",
            WriteError::SectionOrder => "sections written out of order",
            WriteError::BadRdata => "malformed RDATA",
            WriteError::TooManyRecords => "too many records in one section",
        })
    }
}

impl std::error::Error for WriteError {}

/// A fixed-size table of names already in the message.
#[derive(Clone)]
struct Compressor {
    /// Offset of each remembered name and how many labels it has (root excluded).
    slots: [(u16, u8); COMPRESSION_SLOTS],
    len: usize,
}

impl Compressor {
    fn new() -> Self {
        Compressor {
            slots: [(0, 0); COMPRESSION_SLOTS],
            len: 0,
        }
    }

    /// Offset of a remembered name equal to `suffix` (which has `labels` labels).
    fn find(&self, msg: &[u8], suffix: NameRef<'_>, labels: usize) -> Option<u16> {
        if self.len == 0 {
            return None;
        }
        self.slots[..self.len]
            .iter()
            .find(|&&(off, n)| {
                usize::from(n) == labels && name_eq_at(msg, usize::from(off), suffix)
            })
            .map(|&(off, _)| off)
    }

    fn remember(&mut self, offset: usize, labels: usize) {
        if self.len < COMPRESSION_SLOTS && offset < POINTER_LIMIT {
            self.slots[self.len] = (offset as u16, labels as u8);
            self.len += 1;
        }
    }
}

/// A position to roll back to.
#[derive(Clone, Copy)]
struct Mark {
    len: usize,
    compressed: usize,
}

/// Writes one DNS message into a borrowed buffer. See the module docs.
pub struct MessageWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// The size limit minus the reservation.
    limit: usize,
    reserved: usize,
    section: Section,
    counts: [u16; 4],
    compressor: Compressor,
    /// End of the first question's name when it was written at offset 12 without compression.
    question_end: usize,
}

impl<'b> MessageWriter<'b> {
    /// Starts a message with `header` (its counts are ignored and kept by the writer) in `buf`,
    /// never writing more than `limit` bytes (nor more than `buf.len()` or 65,535).
    pub fn new(buf: &'b mut [u8], limit: usize, header: Header) -> Result<Self, WriteError> {
        let limit = limit.min(buf.len()).min(usize::from(u16::MAX));
        if limit < HEADER_LEN {
            return Err(WriteError::Truncated);
        }
        let mut w = MessageWriter {
            buf,
            len: HEADER_LEN,
            limit,
            reserved: 0,
            section: Section::Question,
            counts: [0; 4],
            compressor: Compressor::new(),
            question_end: 0,
        };
        w.set_header(header);
        Ok(w)
    }

    /// Replaces the header's ID and flags; the counts stay the writer's.
    pub fn set_header(&mut self, header: Header) {
        let bytes = Header {
            qdcount: 0,
            ancount: 0,
            nscount: 0,
            arcount: 0,
            ..header
        }
        .to_bytes();
        self.buf[..4].copy_from_slice(&bytes[..4]);
        self.write_counts();
    }

    /// The current flags.
    pub fn flags(&self) -> Flags {
        Flags(u16::from_be_bytes([self.buf[2], self.buf[3]]))
    }

    /// Replaces the flags.
    pub fn set_flags(&mut self, flags: Flags) {
        self.buf[2..4].copy_from_slice(&flags.0.to_be_bytes());
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether only the header has been written.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Bytes still free before the limit (the reservation excluded).
    pub fn remaining(&self) -> usize {
        self.limit - self.len
    }

    /// Records written in `section`.
    pub fn count(&self, section: Section) -> u16 {
        self.counts[section as usize]
    }

    /// Keeps `bytes` free at the end for a record written later (the OPT record): the sections
    /// before it may use only what is left. Replaces any earlier reservation.
    pub fn reserve(&mut self, bytes: usize) -> Result<(), WriteError> {
        let total = self.limit + self.reserved;
        if self.len + bytes > total {
            return Err(WriteError::Truncated);
        }
        self.reserved = bytes;
        self.limit = total - bytes;
        Ok(())
    }

    /// Releases the reservation.
    pub fn unreserve(&mut self) {
        self.limit += self.reserved;
        self.reserved = 0;
    }

    /// Writes a question.
    pub fn push_question(
        &mut self,
        qname: NameRef<'_>,
        qtype: RType,
        qclass: Class,
    ) -> Result<(), WriteError> {
        self.enter(Section::Question)?;
        let mark = self.mark();
        let first = self.len == HEADER_LEN;
        let result = self.write_name(qname).and_then(|()| {
            if first {
                self.question_end = HEADER_LEN + qname.len();
            }
            self.put_u16(qtype.0)?;
            self.put_u16(qclass.0)
        });
        self.commit(mark, Section::Question, 1, result)
    }

    /// Writes one record; `rdata` is in uncompressed wire form.
    pub fn push(
        &mut self,
        section: Section,
        owner: NameRef<'_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WriteError> {
        self.push_rrset(section, owner, rtype, class, ttl, [rdata])
    }

    /// Writes every record of an RRset, or none of them when they do not all fit.
    pub fn push_rrset<'r>(
        &mut self,
        section: Section,
        owner: NameRef<'_>,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdatas: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<(), WriteError> {
        self.enter(section)?;
        let mark = self.mark();
        let mut added = 0u16;
        let mut result = Ok(());
        // The owner is compressed once; the RRset's other records repeat its encoding, or point
        // at it when it was written out in full.
        let mut owner_form: Option<(usize, usize)> = None;
        for rdata in rdatas {
            let at = self.len;
            result = match owner_form {
                None => self.write_name(owner),
                Some((start, end)) => self.repeat_name(start, end),
            };
            if result.is_ok() && owner_form.is_none() {
                owner_form = Some((at, self.len));
            }
            result = result.and_then(|()| self.write_record_body(rtype, class, ttl, rdata));
            if result.is_err() {
                break;
            }
            added += 1;
        }
        self.commit(mark, section, added, result)
    }

    /// Starts the OPT record (RFC 6891 section 6.1.2) in the additional section, releasing any
    /// reservation. Options are added to the returned writer; dropping it without
    /// [`OptWriter::finish`] leaves the message without OPT.
    pub fn opt(
        &mut self,
        udp_payload: u16,
        rcode: Rcode,
        dnssec_ok: bool,
    ) -> Result<OptWriter<'_, 'b>, WriteError> {
        self.enter(Section::Additional)?;
        self.unreserve();
        let mark = self.mark();
        let flags = if dnssec_ok { FLAG_DO } else { 0 };
        let ttl = u32::from(rcode.extended_bits()) << 24 | u32::from(flags);
        let head = [0u8, 0, 41];
        let result = self.put(&head).and_then(|()| {
            self.put_u16(udp_payload)?;
            self.put_u32(ttl)?;
            self.put_u16(0)
        });
        if let Err(e) = result {
            self.rollback(mark);
            return Err(e);
        }
        Ok(OptWriter {
            rdata_start: self.len,
            mark,
            writer: self,
            finished: false,
        })
    }

    /// Finishes the message and returns its bytes.
    pub fn finish(self) -> &'b [u8] {
        let len = self.len;
        let buf: &'b [u8] = self.buf;
        &buf[..len]
    }

    // --- internals ---------------------------------------------------------------------------

    fn enter(&mut self, section: Section) -> Result<(), WriteError> {
        if section < self.section {
            return Err(WriteError::SectionOrder);
        }
        self.section = section;
        Ok(())
    }

    fn mark(&self) -> Mark {
        Mark {
            len: self.len,
            compressed: self.compressor.len,
        }
    }

    fn rollback(&mut self, mark: Mark) {
        self.len = mark.len;
        self.compressor.len = mark.compressed;
        if self.question_end > self.len {
            self.question_end = 0;
        }
    }

    fn commit(
        &mut self,
        mark: Mark,
        section: Section,
        added: u16,
        result: Result<(), WriteError>,
    ) -> Result<(), WriteError> {
        let count = &mut self.counts[section as usize];
        let result =
            result.and_then(|()| count.checked_add(added).ok_or(WriteError::TooManyRecords));
        match result {
            Ok(total) => {
                *count = total;
                let at = 4 + 2 * section as usize;
                self.buf[at..at + 2].copy_from_slice(&total.to_be_bytes());
                Ok(())
            }
            Err(e) => {
                self.rollback(mark);
                Err(e)
            }
        }
    }

    fn write_counts(&mut self) {
        for (i, c) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        let end = self.len + bytes.len();
        if end > self.limit {
            return Err(WriteError::Truncated);
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn put_u16(&mut self, v: u16) -> Result<(), WriteError> {
        self.put(&v.to_be_bytes())
    }

    fn put_u32(&mut self, v: u32) -> Result<(), WriteError> {
        self.put(&v.to_be_bytes())
    }

    /// Writes again the name encoded at `start..end`: the same bytes when they are just a
    /// pointer, else a pointer to them.
    fn repeat_name(&mut self, start: usize, end: usize) -> Result<(), WriteError> {
        if end - start == 2 || start >= POINTER_LIMIT {
            let to = self.len + (end - start);
            if to > self.limit {
                return Err(WriteError::Truncated);
            }
            self.buf.copy_within(start..end, self.len);
            self.len = to;
            Ok(())
        } else {
            self.put_u16(0xc000 | start as u16)
        }
    }

    fn write_record_body(
        &mut self,
        rtype: RType,
        class: Class,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), WriteError> {
        self.put_u16(rtype.0)?;
        self.put_u16(class.0)?;
        self.put_u32(ttl)?;
        let rdlen_at = self.len;
        self.put_u16(0)?;
        match rdata::layout(rtype) {
            Some(layout) if layout.compress_on_send => {
                self.write_compressed_rdata(layout.parts, rdata)?
            }
            _ => self.put(rdata)?,
        }
        let rdlen = u16::try_from(self.len - rdlen_at - 2).map_err(|_| WriteError::Truncated)?;
        self.buf[rdlen_at..rdlen_at + 2].copy_from_slice(&rdlen.to_be_bytes());
        Ok(())
    }

    fn write_compressed_rdata(&mut self, parts: &[Part], rdata: &[u8]) -> Result<(), WriteError> {
        let mut rest = rdata;
        for part in parts {
            let take = match *part {
                Part::Name => {
                    let (name, after) =
                        NameRef::split_wire(rest).map_err(|_| WriteError::BadRdata)?;
                    self.write_name(name)?;
                    rest = after;
                    continue;
                }
                Part::Bytes(n) => n,
                Part::CharString => 1 + usize::from(*rest.first().ok_or(WriteError::BadRdata)?),
                Part::Rest => rest.len(),
            };
            let chunk = rest.get(..take).ok_or(WriteError::BadRdata)?;
            self.put(chunk)?;
            rest = &rest[take..];
        }
        if rest.is_empty() {
            Ok(())
        } else {
            Err(WriteError::BadRdata)
        }
    }

    /// Writes `name`, pointing at the longest suffix already in the message.
    fn write_name(&mut self, name: NameRef<'_>) -> Result<(), WriteError> {
        let wire = name.as_wire();
        // Most owners repeat the question name, written in full at offset 12: one exact
        // comparison finds it without walking the compression table.
        if wire.len() > 2
            && self.question_end > HEADER_LEN
            && self.buf.get(HEADER_LEN..self.question_end) == Some(wire)
        {
            return self.put_u16(0xc000 | HEADER_LEN as u16);
        }
        let labels = name.label_count();
        // Walk the suffixes from the whole name down; stop at the first one already written.
        let mut head = 0;
        let mut pointer = None;
        let mut left = labels;
        while left > 0 {
            let suffix = NameRef::from_wire_unchecked(&wire[head..]);
            if let Some(off) = self.compressor.find(&self.buf[..self.len], suffix, left) {
                pointer = Some(off);
                break;
            }
            head += 1 + usize::from(wire[head]);
            left -= 1;
        }
        let at = self.len;
        match pointer {
            Some(off) => {
                self.put(&wire[..head])?;
                self.put_u16(0xc000 | off)?;
            }
            None => self.put(wire)?,
        }
        // Remember where each label written out in full starts.
        let mut pos = 0;
        let mut remaining = labels;
        while pos < head {
            self.compressor.remember(at + pos, remaining);
            pos += 1 + usize::from(wire[pos]);
            remaining -= 1;
        }
        Ok(())
    }
}

impl fmt::Debug for MessageWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageWriter")
            .field("len", &self.len)
            .field("limit", &self.limit)
            .field("counts", &self.counts)
            .finish()
    }
}

/// Adds options to an OPT record being written; see [`MessageWriter::opt`].
pub struct OptWriter<'w, 'b> {
    writer: &'w mut MessageWriter<'b>,
    rdata_start: usize,
    mark: Mark,
    /// Set by `finish`; an OPT record dropped unfinished is rolled back.
    finished: bool,
}

impl OptWriter<'_, '_> {
    /// Adds an option; when it does not fit, nothing of it is written.
    pub fn option(&mut self, code: OptionCode, data: &[u8]) -> Result<(), WriteError> {
        let len = u16::try_from(data.len()).map_err(|_| WriteError::Truncated)?;
        if self.writer.remaining() < 4 + data.len() {
            return Err(WriteError::Truncated);
        }
        self.writer.put_u16(code.0)?;
        self.writer.put_u16(len)?;
        self.writer.put(data)
    }

    /// Adds an Extended DNS Error (RFC 8914).
    pub fn extended_error(&mut self, info_code: u16, text: &str) -> Result<(), WriteError> {
        let mut data = [0u8; 2 + 256];
        let text = &text.as_bytes()[..text.len().min(256)];
        data[..2].copy_from_slice(&info_code.to_be_bytes());
        data[2..2 + text.len()].copy_from_slice(text);
        self.option(OptionCode::EDE, &data[..2 + text.len()])
    }

    /// Adds a TCP keepalive timeout in units of 100 ms (RFC 7828).
    pub fn keepalive(&mut self, timeout: u16) -> Result<(), WriteError> {
        self.option(OptionCode::TCP_KEEPALIVE, &timeout.to_be_bytes())
    }

    /// Adds a cookie (RFC 7873): the client's 8 bytes and the server's cookie.
    pub fn cookie(&mut self, client: &[u8; 8], server: &[u8]) -> Result<(), WriteError> {
        let mut data = [0u8; 40];
        let server = &server[..server.len().min(32)];
        data[..8].copy_from_slice(client);
        data[8..8 + server.len()].copy_from_slice(server);
        self.option(OptionCode::COOKIE, &data[..8 + server.len()])
    }

    /// Adds a padding option (RFC 7830) that makes the finished message a multiple of `block`
    /// bytes long (RFC 8467), as far as the size limit allows.
    pub fn pad_to_block(&mut self, block: usize) -> Result<(), WriteError> {
        if block == 0 {
            return Ok(());
        }
        let with_header = self.writer.len + 4;
        let target = with_header.div_ceil(block) * block;
        let max = self.writer.limit;
        let pad = target.min(max).saturating_sub(with_header);
        if with_header > max {
            return Err(WriteError::Truncated);
        }
        let zeros = [0u8; 512];
        self.writer.put_u16(OptionCode::PADDING.0)?;
        self.writer.put_u16(pad as u16)?;
        let mut left = pad;
        while left > 0 {
            let n = left.min(zeros.len());
            self.writer.put(&zeros[..n])?;
            left -= n;
        }
        Ok(())
    }

    /// Completes the OPT record and counts it; on error it is rolled back.
    pub fn finish(mut self) -> Result<(), WriteError> {
        let rdlen =
            u16::try_from(self.writer.len - self.rdata_start).map_err(|_| WriteError::Truncated)?;
        self.writer.buf[self.rdata_start - 2..self.rdata_start]
            .copy_from_slice(&rdlen.to_be_bytes());
        self.finished = true;
        self.writer
            .commit(self.mark, Section::Additional, 1, Ok(()))
    }
}

impl Drop for OptWriter<'_, '_> {
    /// An OPT record left unfinished is taken out of the message again.
    fn drop(&mut self) {
        if !self.finished {
            self.writer.rollback(self.mark);
        }
    }
}

impl fmt::Debug for OptWriter<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OptWriter")
            .field("rdata_start", &self.rdata_start)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;
    use crate::name::Name;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn header() -> Header {
        Header {
            id: 7,
            flags: Flags::default().with_qr(true).with_aa(true),
            ..Header::default()
        }
    }

    #[test]
    fn compresses_owner_and_rdata_names() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 512, header()).unwrap();
        let q = name("www.Example.com.");
        w.push_question(q.as_ref(), RType::MX, Class::IN).unwrap();
        let mx = [&[0u8, 10][..], name("mail.example.com.").as_wire()].concat();
        w.push(Section::Answer, q.as_ref(), RType::MX, Class::IN, 300, &mx)
            .unwrap();
        let len_before = w.len();
        // The owner is a pointer (2 bytes), the exchange "mail" + pointer (7 bytes).
        let msg = w.finish();
        assert_eq!(len_before, 12 + (17 + 4) + (2 + 10 + 2 + 7));
        let m = Message::parse(msg).unwrap();
        let rr = m.records(Section::Answer).next().unwrap();
        assert_eq!(rr.owner().unwrap().to_string(), "www.Example.com.");
        let mut rdata = Vec::new();
        rr.rdata_into(&mut rdata).unwrap();
        assert_eq!(rdata[2..], *name("mail.Example.com.").as_wire());
    }

    #[test]
    fn rrsets_are_all_or_nothing() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 100, header()).unwrap();
        let q = name("a.example.");
        w.push_question(q.as_ref(), RType::A, Class::IN).unwrap();
        // 12 + 15 = 27; each A record is 2 + 10 + 4 = 16 bytes: 4 fit (91), 5 do not.
        let addrs: Vec<[u8; 4]> = (0..5).map(|i| [192, 0, 2, i]).collect();
        let err = w.push_rrset(
            Section::Answer,
            q.as_ref(),
            RType::A,
            Class::IN,
            60,
            addrs.iter().map(|a| &a[..]),
        );
        assert_eq!(err, Err(WriteError::Truncated));
        assert_eq!(w.len(), 27);
        assert_eq!(w.count(Section::Answer), 0);
        w.push_rrset(
            Section::Answer,
            q.as_ref(),
            RType::A,
            Class::IN,
            60,
            addrs[..4].iter().map(|a| &a[..]),
        )
        .unwrap();
        assert_eq!(w.len(), 91);
        let msg = w.finish();
        assert_eq!(
            Message::parse(msg)
                .unwrap()
                .records(Section::Answer)
                .count(),
            4
        );
    }

    #[test]
    fn sections_in_order_and_reservation() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 60, header()).unwrap();
        let q = name("a.example.");
        w.push_question(q.as_ref(), RType::A, Class::IN).unwrap();
        w.reserve(11).unwrap();
        // 27 + 16 = 43; 43 + 16 = 59 > 60 - 11.
        w.push(
            Section::Answer,
            q.as_ref(),
            RType::A,
            Class::IN,
            60,
            &[1, 2, 3, 4],
        )
        .unwrap();
        assert_eq!(
            w.push(
                Section::Answer,
                q.as_ref(),
                RType::A,
                Class::IN,
                60,
                &[1, 2, 3, 5]
            ),
            Err(WriteError::Truncated)
        );
        let opt = w.opt(1232, Rcode::BADVERS, true).unwrap();
        opt.finish().unwrap();
        assert_eq!(
            w.push(
                Section::Answer,
                q.as_ref(),
                RType::A,
                Class::IN,
                60,
                &[1, 2, 3, 4]
            ),
            Err(WriteError::SectionOrder)
        );
        let msg = w.finish();
        let m = Message::parse(msg).unwrap();
        let edns = m.edns().unwrap();
        assert_eq!(edns.udp_payload, 1232);
        assert!(edns.dnssec_ok());
        assert_eq!(m.rcode(), Rcode::BADVERS);
    }

    #[test]
    fn an_unfinished_opt_is_rolled_back() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 512, header()).unwrap();
        w.push_question(name("example.").as_ref(), RType::A, Class::IN)
            .unwrap();
        let before = w.len();
        let mut opt = w.opt(1232, Rcode::NOERROR, false).unwrap();
        opt.keepalive(100).unwrap();
        drop(opt);
        assert_eq!(w.len(), before);
        let m = Message::parse(w.finish()).unwrap();
        assert!(m.edns().is_none());
    }

    #[test]
    fn padding_reaches_the_block() {
        let mut buf = [0u8; 1024];
        let mut w = MessageWriter::new(&mut buf, 1024, header()).unwrap();
        w.push_question(name("example.").as_ref(), RType::A, Class::IN)
            .unwrap();
        let mut opt = w.opt(1232, Rcode::NOERROR, false).unwrap();
        opt.extended_error(crate::edns::ede::BLOCKED, "policy")
            .unwrap();
        opt.pad_to_block(468).unwrap();
        opt.finish().unwrap();
        let msg = w.finish();
        assert_eq!(msg.len(), 468);
        assert!(Message::parse(msg).is_ok());
    }

    #[test]
    fn a_rolled_back_question_is_never_pointed_at() {
        let q = name("www.example.");
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 512, header()).unwrap();
        // Leave room for the name but not for QTYPE and QCLASS.
        w.reserve(512 - 12 - q.len() - 2).unwrap();
        assert_eq!(
            w.push_question(q.as_ref(), RType::A, Class::IN),
            Err(WriteError::Truncated)
        );
        w.unreserve();
        w.push(
            Section::Answer,
            q.as_ref(),
            RType::A,
            Class::IN,
            1,
            &[1, 2, 3, 4],
        )
        .unwrap();
        let m = Message::parse(w.finish()).unwrap();
        assert_eq!(
            m.records(Section::Answer).next().unwrap().owner().unwrap(),
            q
        );
    }

    #[test]
    fn compression_is_case_insensitive_and_handles_root() {
        let mut buf = [0u8; 512];
        let mut w = MessageWriter::new(&mut buf, 512, header()).unwrap();
        w.push_question(NameRef::ROOT, RType::NS, Class::IN)
            .unwrap();
        let ns = name("A.ROOT-SERVERS.NET.");
        w.push(
            Section::Answer,
            NameRef::ROOT,
            RType::NS,
            Class::IN,
            1,
            ns.as_wire(),
        )
        .unwrap();
        w.push(
            Section::Additional,
            name("a.root-servers.net.").as_ref(),
            RType::A,
            Class::IN,
            1,
            &[1, 2, 3, 4],
        )
        .unwrap();
        let msg = w.finish();
        // header 12, question 5, NS: 1 + 10 + 20 = 31, A: pointer 2 + 10 + 4 = 16.
        assert_eq!(msg.len(), 12 + 5 + 31 + 16);
        let m = Message::parse(msg).unwrap();
        let add = m.records(Section::Additional).next().unwrap();
        assert_eq!(add.owner().unwrap().to_string(), "A.ROOT-SERVERS.NET.");
    }
}
