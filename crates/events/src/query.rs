//! The query log: one JSON line per answered query, through the same bounded writer as the
//! security events ([`crate::writer`]).
//!
//! The hot path builds a [`QueryRecord`], a `Copy` struct of about 300 bytes holding the
//! question's name in a `[u8; 255]` as it came on the wire, and moves it into the queue: no
//! allocation and no formatting on the answering thread (the queue's buffer is allocated once,
//! when the log starts). The writer thread turns each record into a line (the name to text,
//! the time to RFC 3339, the client cut to its prefix). What the answering thread pays when
//! the log is on: reading the response's header and question (and the query's OPT record),
//! one clock read for the latency, the exclusion check, and one `try_send` (a lock the writer
//! shares, held for a copy of the record). When the log is off the caller holds `None`: one
//! branch.
//!
//! Sampling (`sample = N`) counts queries per thread, so workers share no counter; the
//! per-second cap (`rate`) is one atomic word, as the events' per-action budgets.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wire::Name;

use crate::format;
use crate::writer::{self, LineFile, Output, Queue, Reopen, Rotation, Sink, StreamCounters};

/// What the query log writes to and what it keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryLogConfig {
    /// A file or standard output; `None`: the log is off.
    pub sink: Option<Sink>,
    /// Rotation by size, for a file.
    pub rotation: Option<Rotation>,
    /// Log one query in `sample` (1: every query).
    pub sample: u32,
    /// At most this many lines a second (0: no cap); the rest are counted as suppressed.
    pub rate: u32,
    /// Client IPv4 addresses are cut to this prefix length (32: whole).
    pub client_prefix_v4: u8,
    /// Client IPv6 addresses are cut to this prefix length (128: whole).
    pub client_prefix_v6: u8,
    /// Queries for names at or under these zones are not logged.
    pub exclude: Vec<Name>,
    /// Records the queue holds before new ones are dropped.
    pub queue: usize,
}

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// Plain DNS over UDP.
    Udp,
    /// Plain DNS over TCP.
    Tcp,
    /// DNS over TLS.
    Dot,
    /// DNS over HTTPS.
    Doh,
    /// DNS over QUIC.
    Doq,
}

impl Proto {
    /// The name in the log (the metrics' transport label).
    pub fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
            Proto::Dot => "dot",
            Proto::Doh => "doh",
            Proto::Doq => "doq",
        }
    }
}

/// Header flags of the response (and DO of the query), as logged.
pub mod flags {
    /// Authoritative answer.
    pub const AA: u8 = 1;
    /// Truncated.
    pub const TC: u8 = 1 << 1;
    /// Recursion desired.
    pub const RD: u8 = 1 << 2;
    /// Recursion available.
    pub const RA: u8 = 1 << 3;
    /// Authentic data.
    pub const AD: u8 = 1 << 4;
    /// Checking disabled.
    pub const CD: u8 = 1 << 5;
    /// DNSSEC OK, from the query's OPT record.
    pub const DO: u8 = 1 << 6;
    /// Every flag with its name, in the order written.
    pub const NAMES: [(u8, &str); 7] = [
        (AA, "AA"),
        (TC, "TC"),
        (RD, "RD"),
        (RA, "RA"),
        (AD, "AD"),
        (CD, "CD"),
        (DO, "DO"),
    ];
}

/// One answered query, as the hot path hands it to the writer: fixed size, no heap.
#[derive(Clone, Copy, Debug)]
pub struct QueryRecord {
    /// When it was answered, Unix milliseconds.
    pub time_ms: u64,
    /// The client's address (cut to its prefix when written).
    pub client: IpAddr,
    /// The client's port.
    pub port: u16,
    /// The transport.
    pub proto: Proto,
    /// The message ID.
    pub id: u16,
    /// QTYPE and QCLASS (0 when the response has no question).
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// The response code, extended bits included.
    pub rcode: u16,
    /// [`flags`].
    pub flags: u8,
    /// What answered: "zone", "cache", "recursion", "policy", ...
    pub source: &'static str,
    /// From receipt to the response being ready, in microseconds.
    pub latency_us: u32,
    /// The response's size in bytes.
    pub size: u32,
    /// The UDP payload size the query's OPT record offered, when it had one.
    pub edns_udp: Option<u16>,
    /// The policy that acted and why ("blocked", "rpz qname"), when one did.
    pub policy: Option<(&'static str, &'static str)>,
    /// The question's name in wire form (uncompressed), `qname_len` bytes; 0: none.
    qname: [u8; 255],
    qname_len: u8,
}

impl QueryRecord {
    /// The record of `response` (header, flags and question read from it, size its length),
    /// with the other fields empty for the caller to set; `None` when it is shorter than a
    /// header. The question's name is checked to be a plain uncompressed name.
    pub fn of_response(response: &[u8]) -> Option<QueryRecord> {
        let header = response.get(..12)?;
        let (b2, b3) = (header.get(2).copied()?, header.get(3).copied()?);
        let mut f = 0;
        for (bit, byte, mask) in [
            (flags::AA, b2, 0x04),
            (flags::TC, b2, 0x02),
            (flags::RD, b2, 0x01),
            (flags::RA, b3, 0x80),
            (flags::AD, b3, 0x20),
            (flags::CD, b3, 0x10),
        ] {
            if byte & mask != 0 {
                f |= bit;
            }
        }
        let mut record = QueryRecord {
            time_ms: 0,
            client: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 0,
            proto: Proto::Udp,
            id: u16::from_be_bytes([header.first().copied()?, header.get(1).copied()?]),
            qtype: 0,
            qclass: 0,
            rcode: u16::from(b3 & 0x0f),
            flags: f,
            source: "",
            latency_us: 0,
            size: u32::try_from(response.len()).unwrap_or(u32::MAX),
            edns_udp: None,
            policy: None,
            qname: [0; 255],
            qname_len: 0,
        };
        let qdcount = u16::from_be_bytes([header.get(4).copied()?, header.get(5).copied()?]);
        if qdcount > 0
            && let Some((name, qtype, qclass)) = question(response)
            && let Some(slot) = record.qname.get_mut(..name.len())
        {
            slot.copy_from_slice(name);
            record.qname_len = u8::try_from(name.len()).unwrap_or(0);
            record.qtype = qtype;
            record.qclass = qclass;
        }
        Some(record)
    }

    /// The question's name in wire form; empty when the response had none.
    pub fn qname_wire(&self) -> &[u8] {
        self.qname
            .get(..usize::from(self.qname_len))
            .unwrap_or_default()
    }

    /// Takes the DO bit and the UDP payload size from `query`'s OPT record, when it has one
    /// right after its question (as queries do).
    pub fn with_query_edns(mut self, query: &[u8]) -> QueryRecord {
        if let Some((udp, dnssec_ok)) = query_edns(query) {
            self = self.with_edns(udp, dnssec_ok);
        }
        self
    }

    /// Sets the query's EDNS payload size and DO bit.
    pub fn with_edns(mut self, udp: u16, dnssec_ok: bool) -> QueryRecord {
        self.edns_udp = Some(udp);
        if dnssec_ok {
            self.flags |= flags::DO;
        }
        self
    }
}

/// The first question of `message`: its uncompressed name, type and class.
fn question(message: &[u8]) -> Option<(&[u8], u16, u16)> {
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name = message.get(12..at)?;
    if name.len() > 255 {
        return None;
    }
    let qtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*message.get(at + 2)?, *message.get(at + 3)?]);
    Some((name, qtype, qclass))
}

/// The UDP payload size and DO bit of a query's OPT record, when it is the first additional
/// record after one question and no answer or authority records (RFC 6891 section 6.1.2).
pub fn query_edns(query: &[u8]) -> Option<(u16, bool)> {
    let count = |at: usize| Some(u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]));
    if count(4)? != 1 || count(6)? != 0 || count(8)? != 0 || count(10)? == 0 {
        return None;
    }
    let (name, _, _) = question(query)?;
    let at = 12 + name.len() + 4;
    // Root owner, type OPT (41), CLASS = payload size, TTL = extended RCODE, version, flags.
    if *query.get(at)? != 0 || count(at + 1)? != 41 {
        return None;
    }
    let udp = count(at + 3)?;
    let dnssec_ok = query.get(at + 7)? & 0x80 != 0;
    Some((udp, dnssec_ok))
}

/// The query log's handle: cheap to clone, shared by every worker.
#[derive(Clone, Debug)]
pub struct QueryLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    queue: Queue<QueryRecord>,
    sample: u64,
    rate: u64,
    /// The second and the lines logged in it (see `crate::take_budget`).
    budget: AtomicU64,
    suppressed: AtomicU64,
    /// The excluded zones, lowercased wire names.
    exclude: Vec<Box<[u8]>>,
}

thread_local! {
    /// Queries seen by this thread, for sampling without a shared counter.
    static SEEN: Cell<u64> = const { Cell::new(0) };
}

impl QueryLog {
    /// Opens the sink and starts the writer thread; `None` when the log is off.
    pub fn start(config: &QueryLogConfig) -> io::Result<Option<(QueryLog, Reopen)>> {
        let Some(sink) = &config.sink else {
            return Ok(None);
        };
        let reopen = Reopen::default();
        let file = LineFile::open(sink.clone(), config.rotation)?;
        let output = QueryOutput {
            file,
            line: String::with_capacity(512),
            prefix_v4: config.client_prefix_v4.min(32),
            prefix_v6: config.client_prefix_v6.min(128),
        };
        let counters = Arc::new(StreamCounters::default());
        let queue = writer::spawn("query-log", config.queue, output, counters, reopen.clone())?;
        let exclude = config
            .exclude
            .iter()
            .map(|n| n.as_wire().to_ascii_lowercase().into_boxed_slice())
            .collect();
        let log = QueryLog {
            inner: Arc::new(Inner {
                queue,
                sample: u64::from(config.sample.max(1)),
                rate: u64::from(config.rate),
                budget: AtomicU64::new(0),
                suppressed: AtomicU64::new(0),
                exclude,
            }),
        };
        Ok(Some((log, reopen)))
    }

    /// Whether this query is one of those sampled: asked first, so that a query not logged
    /// costs a thread-local increment.
    pub fn sampled(&self) -> bool {
        let sample = self.inner.sample;
        if sample <= 1 {
            return true;
        }
        SEEN.with(|seen| {
            let n = seen.get();
            seen.set(n.wrapping_add(1));
            n % sample == 0
        })
    }

    /// Logs `record` unless its name is excluded or the second's cap is reached.
    pub fn log(&self, record: QueryRecord) {
        let inner = &*self.inner;
        if !inner.exclude.is_empty() && excluded(&inner.exclude, record.qname_wire()) {
            return;
        }
        if inner.rate > 0 && !crate::take_budget(&inner.budget, inner.rate) {
            inner
                .suppressed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        inner.queue.push(record);
    }

    /// Lines written, records dropped (queue full or write failed), and records over the
    /// per-second cap.
    pub fn figures(&self) -> (u64, u64, u64) {
        let (written, dropped) = self.inner.queue.counters().figures();
        let suppressed = self
            .inner
            .suppressed
            .load(std::sync::atomic::Ordering::Relaxed);
        (written, dropped, suppressed)
    }
}

/// Whether `name` (wire) is at or under one of `zones` (lowercased wire).
fn excluded(zones: &[Box<[u8]>], name: &[u8]) -> bool {
    let mut at = 0;
    while let Some(rest) = name.get(at..) {
        if zones.iter().any(|z| rest.eq_ignore_ascii_case(z)) {
            return true;
        }
        match rest.first() {
            Some(&len) if len > 0 => at += 1 + usize::from(len),
            _ => break,
        }
    }
    false
}

/// Writes records as JSON lines.
struct QueryOutput {
    file: LineFile,
    line: String,
    prefix_v4: u8,
    prefix_v6: u8,
}

impl Output for QueryOutput {
    type Item = QueryRecord;

    fn write(&mut self, record: &QueryRecord, counters: &StreamCounters) {
        self.line.clear();
        let client = truncate(record.client, self.prefix_v4, self.prefix_v6);
        format::query_line(record, client, &mut self.line);
        if self.file.write_line(self.line.as_bytes()) {
            counters.wrote();
        } else {
            counters.lost();
        }
    }

    fn flush(&mut self) {
        self.file.flush();
    }

    fn reopen(&mut self) {
        self.file.reopen();
    }
}

/// `ip` with the bits past its family's prefix length cleared.
pub fn truncate(ip: IpAddr, v4: u8, v6: u8) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let mask = u32::MAX
                .checked_shl(32 - u32::from(v4.min(32)))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & mask))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6.min(128)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A query for `www.Example.com.` A with an OPT record (payload 1232, DO).
    fn query() -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(b"\x03www\x07Example\x03com\x00\x00\x01\x00\x01");
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        q
    }

    #[test]
    fn a_record_from_a_response_and_its_query() {
        let mut response = query();
        // QR AA RD; RA AD; NXDOMAIN.
        response[2] = 0x85;
        response[3] = 0xa3;
        let record = QueryRecord::of_response(&response)
            .unwrap()
            .with_query_edns(&query());
        assert_eq!(record.id, 0x1234);
        assert_eq!(record.qname_wire(), b"\x03www\x07Example\x03com\x00");
        assert_eq!((record.qtype, record.qclass, record.rcode), (1, 1, 3));
        assert_eq!(
            record.flags,
            flags::AA | flags::RD | flags::RA | flags::AD | flags::DO
        );
        assert_eq!(record.edns_udp, Some(1232));
        assert_eq!(record.size as usize, response.len());
    }

    #[test]
    fn a_header_alone_has_no_question() {
        let record = QueryRecord::of_response(&[0, 1, 0x81, 1, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(record.qname_wire(), b"");
        assert!(QueryRecord::of_response(&[0; 11]).is_none());
        // A compressed (impossible) question name is not read.
        let bad = [0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(QueryRecord::of_response(&bad).unwrap().qname_wire(), b"");
    }

    #[test]
    fn exclusion_at_and_under_a_zone_on_label_boundaries() {
        let zones = vec![b"\x07example\x03com\x00".to_vec().into_boxed_slice()];
        assert!(excluded(&zones, b"\x07EXAMPLE\x03com\x00"));
        assert!(excluded(&zones, b"\x03www\x07example\x03com\x00"));
        assert!(!excluded(&zones, b"\x08xexample\x03com\x00"));
        assert!(!excluded(&zones, b"\x03com\x00"));
        assert!(!excluded(&zones, b""));
    }

    #[test]
    fn addresses_cut_to_their_prefix() {
        let cut = |s: &str, v4, v6| truncate(s.parse().unwrap(), v4, v6).to_string();
        assert_eq!(cut("192.0.2.77", 24, 56), "192.0.2.0");
        assert_eq!(cut("192.0.2.77", 32, 56), "192.0.2.77");
        assert_eq!(cut("192.0.2.77", 0, 56), "0.0.0.0");
        assert_eq!(cut("2001:db8:1:2:3::9", 24, 56), "2001:db8:1::");
        assert_eq!(cut("2001:db8:1:2:3::9", 24, 128), "2001:db8:1:2:3::9");
    }
}
