//! Zone transfers: AXFR (RFC 5936), and IXFR answered in full (RFC 1995).
//!
//! A transfer sends the whole zone over TCP as a sequence of messages: the SOA record first, then
//! every other record, then the SOA again (RFC 5936 section 2.2). Each message is filled as far
//! as 65,535 bytes allow, with name compression; the first repeats the question, later ones have
//! none (RFC 5936 section 2.2.1 allows both). Records of a large RRset may straddle two messages
//! (a transfer is a stream of records, not of RRsets). When the query had EDNS, every message
//! carries an OPT record.
//!
//! IXFR (RFC 1995) asks for the changes since the serial the client holds, which it sends in an
//! SOA record in the authority section. We keep no history of changes, so an IXFR gets a full
//! AXFR-style answer, which RFC 1995 section 4 allows; a client whose serial is not older than
//! ours gets our SOA alone, meaning "you are up to date" (RFC 1995 section 2). Over UDP an
//! allowed IXFR always gets the SOA alone, telling the client to come back over TCP.
//!
//! The engine decides whether a transfer may happen ([`crate::Engine::respond`] returns
//! [`crate::Outcome::Transfer`] with a [`TransferRequest`]); the transport then calls
//! [`TransferRequest::stream`] and sends each message [`TransferStream::next_message`] writes.
//! This path may allocate (one boxed iterator per transfer); queries never take it.

use core::fmt;
use std::sync::Arc;

use wire::message::{HEADER_LEN, Header, Message, Section};
use wire::writer::MessageWriter;
use wire::{Class, Name, NameRef, RType, Rcode};
use zone::{Node, RRset, Rdatas, Zone};

use crate::catalog::ZoneId;
use crate::engine::COOKIE_ROOM;
use crate::query::{ClientEdns, Request};

/// Bytes an OPT record without options takes.
const OPT_LEN: usize = 11;

/// An allowed transfer of one zone, owning a reference to the zone snapshot it sends: a reload
/// during the transfer does not change what the client receives.
#[derive(Clone)]
pub struct TransferRequest {
    zone: Arc<Zone>,
    zone_id: ZoneId,
    header: Header,
    qname: Name,
    qtype: RType,
    edns: Option<ClientEdns>,
    udp_payload: u16,
    up_to_date: bool,
}

impl TransferRequest {
    pub(crate) fn new(
        zone: Arc<Zone>,
        zone_id: ZoneId,
        request: &Request<'_>,
        qname: Name,
        qtype: RType,
        udp_payload: u16,
    ) -> TransferRequest {
        let up_to_date = qtype == RType::IXFR
            && request
                .message
                .and_then(client_serial)
                .is_some_and(|s| !serial_lt(s, zone.serial()));
        TransferRequest {
            header: Header {
                id: request.header.id,
                flags: request.response_flags().with_aa(true),
                ..Header::default()
            },
            zone,
            zone_id,
            qname,
            qtype,
            edns: request.edns,
            udp_payload,
            up_to_date,
        }
    }

    /// The zone transferred.
    pub fn zone(&self) -> &Arc<Zone> {
        &self.zone
    }

    /// Its position in the catalog.
    pub fn zone_id(&self) -> ZoneId {
        self.zone_id
    }

    /// AXFR or IXFR.
    pub fn qtype(&self) -> RType {
        self.qtype
    }

    /// Whether this is an IXFR from a client already holding our serial (one message, our SOA).
    pub fn up_to_date(&self) -> bool {
        self.up_to_date
    }

    /// A REFUSED response to the request, for a transport that carries no transfers (DNS over
    /// HTTPS: RFC 8484 has one response per request); its length, `None` when `out` is too small.
    pub fn write_refused(&self, out: &mut [u8]) -> Option<usize> {
        let limit = out.len().min(usize::from(u16::MAX));
        let header = Header {
            flags: self.header.flags.with_rcode(Rcode::REFUSED).with_aa(false),
            ..self.header
        };
        let mut w = MessageWriter::new(out, limit, header).ok()?;
        w.push_question(self.qname.as_ref(), self.qtype, Class::IN)
            .ok()?;
        if let Some(edns) = self.edns {
            let opt = w
                .opt(self.udp_payload, Rcode::REFUSED, edns.dnssec_ok)
                .ok()?;
            opt.finish().ok()?;
        }
        Some(w.finish().len())
    }

    /// The messages of the transfer, written one by one.
    pub fn stream(&self) -> TransferStream<'_> {
        let zone: &Zone = &self.zone;
        TransferStream {
            request: self,
            records: Box::new(zone.rrsets().filter(|(_, r)| r.rtype() != RType::SOA)),
            current: None,
            phase: if self.up_to_date {
                Phase::Last
            } else {
                Phase::First
            },
            messages: 0,
        }
    }
}

impl fmt::Debug for TransferRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferRequest")
            .field("zone", &self.zone.origin())
            .field("qtype", &self.qtype)
            .field("up_to_date", &self.up_to_date)
            .finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    First,
    Body,
    Last,
    Done,
}

/// The RRset being sent: its owner, type, TTL and the records not yet written.
struct Current<'a> {
    owner: NameRef<'a>,
    rtype: RType,
    ttl: u32,
    rest: Rdatas<'a>,
    /// The next record to write (read from `rest`, not written yet).
    next: Option<&'a [u8]>,
}

/// Writes the messages of a transfer; see the [module docs](self).
pub struct TransferStream<'a> {
    request: &'a TransferRequest,
    records: Box<dyn Iterator<Item = (Node<'a>, RRset<'a>)> + 'a>,
    current: Option<Current<'a>>,
    phase: Phase,
    messages: usize,
}

impl<'a> TransferStream<'a> {
    /// Writes the next message into `out` (give it 65,535 bytes: fewer make more, smaller
    /// messages) and returns its length; `None` when the transfer is complete, or when `out`
    /// cannot hold even one record.
    pub fn next_message(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.phase == Phase::Done {
            return None;
        }
        let req = self.request;
        let zone: &Zone = &req.zone;
        let limit = out.len().min(usize::from(u16::MAX));
        let mut w = MessageWriter::new(out, limit, req.header).ok()?;
        if self.messages == 0 {
            w.push_question(req.qname.as_ref(), req.qtype, Class::IN)
                .ok()?;
        }
        if let Some(edns) = req.edns {
            let cookie = edns.cookie.map_or(0, |_| COOKIE_ROOM);
            w.reserve(OPT_LEN + cookie).ok()?;
        }
        let soa = zone.soa();
        let mut wrote = false;
        loop {
            match self.phase {
                Phase::First | Phase::Last => {
                    let pushed = w.push_rrset(
                        Section::Answer,
                        zone.origin(),
                        RType::SOA,
                        Class::IN,
                        soa.ttl(),
                        soa.rdatas(),
                    );
                    if pushed.is_err() {
                        if wrote {
                            break;
                        }
                        self.phase = Phase::Done;
                        return None;
                    }
                    wrote = true;
                    if self.phase == Phase::First {
                        self.phase = Phase::Body;
                    } else {
                        self.phase = Phase::Done;
                        break;
                    }
                }
                Phase::Body => {
                    let Some(record) = self.next_record() else {
                        self.phase = Phase::Last;
                        continue;
                    };
                    let (owner, rtype, ttl, rdata) = record;
                    match w.push(Section::Answer, owner, rtype, Class::IN, ttl, rdata) {
                        Ok(()) => {
                            wrote = true;
                            self.consume();
                        }
                        // The message is full: the record opens the next one.
                        Err(_) if wrote => break,
                        // It fits in no message: skip it rather than stall.
                        Err(_) => self.consume(),
                    }
                }
                Phase::Done => break,
            }
        }
        if let Some(edns) = req.edns {
            let mut opt = w
                .opt(req.udp_payload, Rcode::NOERROR, edns.dnssec_ok)
                .ok()?;
            if let Some(c) = edns.cookie {
                opt.cookie(&c.client, &c.server).ok()?;
            }
            opt.finish().ok()?;
        }
        self.messages += 1;
        let len = w.finish().len();
        (len > HEADER_LEN).then_some(len)
    }

    /// The record to write next, without consuming it.
    fn next_record(&mut self) -> Option<(NameRef<'a>, RType, u32, &'a [u8])> {
        loop {
            if let Some(c) = &mut self.current {
                if c.next.is_none() {
                    c.next = c.rest.next();
                }
                if let Some(rdata) = c.next {
                    return self
                        .current
                        .as_ref()
                        .map(|c| (c.owner, c.rtype, c.ttl, rdata));
                }
            }
            let (node, rrset) = self.records.next()?;
            self.current = Some(Current {
                owner: node.owner(),
                rtype: rrset.rtype(),
                ttl: rrset.ttl(),
                rest: rrset.rdatas(),
                next: None,
            });
        }
    }

    /// Marks the record returned by `next_record` as written.
    fn consume(&mut self) {
        if let Some(c) = &mut self.current {
            c.next = None;
        }
    }
}

impl fmt::Debug for TransferStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransferStream")
            .field("phase", &self.phase)
            .field("messages", &self.messages)
            .finish()
    }
}

/// The serial of the SOA record in an IXFR query's authority section (RFC 1995 section 3).
fn client_serial(message: Message<'_>) -> Option<u32> {
    let record = message
        .records(Section::Authority)
        .find(|r| r.rtype == RType::SOA)?;
    let mut rdata = Vec::new();
    record.rdata_into(&mut rdata).ok()?;
    let (_, rest) = NameRef::split_wire(&rdata).ok()?;
    let (_, rest) = NameRef::split_wire(rest).ok()?;
    let serial: [u8; 4] = rest.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(serial))
}

/// `a < b` in serial number arithmetic (RFC 1982 section 3.2).
fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

#[cfg(test)]
mod tests {
    use super::serial_lt;

    #[test]
    fn serial_arithmetic() {
        assert!(serial_lt(1, 2));
        assert!(!serial_lt(2, 2));
        assert!(!serial_lt(3, 2));
        assert!(serial_lt(u32::MAX, 1));
        assert!(!serial_lt(1, u32::MAX));
    }
}
