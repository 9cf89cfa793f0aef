//! dnstap (<https://dnstap.info>): DNS messages as protocol buffers over Frame Streams, for
//! `dnstap-read`, `fstrm_capture` and the collectors built on them.
//!
//! What the server saw is a [`Record`]: the message's bytes (one copy, the one allocation a
//! message costs), its type (client query and response, resolver query and response), the
//! transport and the addresses. The hot path pushes records into a bounded queue
//! ([`crate::writer`]); the writer thread encodes each one (the `Dnstap` and `Message`
//! protobuf messages of dnstap.proto, written by hand: the message is small and fixed) and
//! frames it for its output:
//!
//! - `file:PATH`: a unidirectional Frame Streams file, `START` with the content type
//!   `protobuf:dnstap.Dnstap`, then data frames, flushed whenever the queue runs empty. The
//!   file is created (replaced) at start; a reload that finds it moved away (logrotate) ends it
//!   with `STOP` and starts a new one. A file cut short by the server's exit has no `STOP`,
//!   which `dnstap-read` accepts.
//! - `unix:PATH`: the bidirectional handshake (`READY`, the reader's `ACCEPT`, `START`), then
//!   data frames. A reader that goes away is reconnected with a backoff (0.5 s doubling to
//!   30 s); while disconnected, records are dropped and counted.
//!
//! Frame Streams: a data frame is a 4-byte big-endian length and the payload; a control frame
//! is an escape (a zero length), its 4-byte length, a 4-byte type and its fields (type 1, the
//! content type: a 4-byte length and the bytes).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::writer::{self, Output, Queue, Reopen, StreamCounters};

/// The Frame Streams content type of dnstap.
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// The dnstap message types the server writes (dnstap.proto `Message.Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A query the resolver sent upstream.
    ResolverQuery = 3,
    /// A response the resolver received from upstream.
    ResolverResponse = 4,
    /// A query a client sent us.
    ClientQuery = 5,
    /// A response we sent a client.
    ClientResponse = 6,
}

impl Kind {
    fn is_query(self) -> bool {
        matches!(self, Kind::ResolverQuery | Kind::ClientQuery)
    }

    fn from_code(code: u64) -> Option<Kind> {
        Some(match code {
            3 => Kind::ResolverQuery,
            4 => Kind::ResolverResponse,
            5 => Kind::ClientQuery,
            6 => Kind::ClientResponse,
            _ => return None,
        })
    }
}

/// The transport (dnstap.proto `SocketProtocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// UDP.
    Udp = 1,
    /// TCP.
    Tcp = 2,
    /// DNS over TLS.
    Dot = 3,
    /// DNS over HTTPS.
    Doh = 4,
    /// DNS over QUIC.
    Doq = 7,
}

impl Protocol {
    fn from_code(code: u64) -> Option<Protocol> {
        Some(match code {
            1 => Protocol::Udp,
            2 => Protocol::Tcp,
            3 => Protocol::Dot,
            4 => Protocol::Doh,
            7 => Protocol::Doq,
            _ => return None,
        })
    }
}

/// One DNS message, as the hot path hands it to the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Which message it is.
    pub kind: Kind,
    /// Its transport.
    pub protocol: Protocol,
    /// The side that sent the query: the client, or (for resolver messages) us.
    pub query_address: Option<SocketAddr>,
    /// The side that answers: us, or the upstream server.
    pub response_address: Option<SocketAddr>,
    /// When the query was sent or received, since the Unix epoch.
    pub query_time: Option<Duration>,
    /// When the response was sent or received, since the Unix epoch.
    pub response_time: Option<Duration>,
    /// The DNS message.
    pub message: Box<[u8]>,
}

// ---------------------------------------------------------------------------------------------
// Protocol buffers
// ---------------------------------------------------------------------------------------------

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint((field << 3) | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn varint_field(field: u64, v: u64, out: &mut Vec<u8>) {
    varint(field << 3, out);
    varint(v, out);
}

fn fixed32_field(field: u64, v: u32, out: &mut Vec<u8>) {
    varint((field << 3) | 5, out);
    out.extend_from_slice(&v.to_le_bytes());
}

fn ip_bytes(ip: IpAddr) -> ([u8; 16], usize) {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(a) => {
            if let Some(s) = b.get_mut(..4) {
                s.copy_from_slice(&a.octets());
            }
            (b, 4)
        }
        IpAddr::V6(a) => (a.octets(), 16),
    }
}

/// Appends the `Dnstap` protobuf message for `record` to `out`; `scratch` holds the inner
/// `Message` while it is measured.
pub fn encode(
    record: &Record,
    identity: &[u8],
    version: &[u8],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    scratch.clear();
    let m = scratch;
    varint_field(1, record.kind as u64, m);
    let family = record.query_address.or(record.response_address);
    if let Some(addr) = family {
        varint_field(2, if addr.is_ipv4() { 1 } else { 2 }, m);
    }
    varint_field(3, record.protocol as u64, m);
    if let Some(a) = record.query_address {
        let (b, n) = ip_bytes(a.ip());
        bytes_field(4, b.get(..n).unwrap_or_default(), m);
    }
    if let Some(a) = record.response_address {
        let (b, n) = ip_bytes(a.ip());
        bytes_field(5, b.get(..n).unwrap_or_default(), m);
    }
    if let Some(a) = record.query_address {
        varint_field(6, u64::from(a.port()), m);
    }
    if let Some(a) = record.response_address {
        varint_field(7, u64::from(a.port()), m);
    }
    if let Some(t) = record.query_time {
        varint_field(8, t.as_secs(), m);
        fixed32_field(9, t.subsec_nanos(), m);
    }
    if record.kind.is_query() {
        bytes_field(10, &record.message, m);
    }
    if let Some(t) = record.response_time {
        varint_field(12, t.as_secs(), m);
        fixed32_field(13, t.subsec_nanos(), m);
    }
    if !record.kind.is_query() {
        bytes_field(14, &record.message, m);
    }
    bytes_field(1, identity, out);
    bytes_field(2, version, out);
    bytes_field(14, m, out);
    varint_field(15, 1, out);
}

/// A `Dnstap` message read back: what `encode` writes (tests, the fuzz target).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// `identity`.
    pub identity: Vec<u8>,
    /// `version`.
    pub version: Vec<u8>,
    /// `Message.type`, when known.
    pub kind: Option<Kind>,
    /// `Message.socket_family`.
    pub family: Option<u64>,
    /// `Message.socket_protocol`, when known.
    pub protocol: Option<Protocol>,
    /// `Message.query_address` and `query_port`.
    pub query_address: Option<SocketAddr>,
    /// `Message.response_address` and `response_port`.
    pub response_address: Option<SocketAddr>,
    /// `Message.query_time_sec` and `_nsec`.
    pub query_time: Option<Duration>,
    /// `Message.response_time_sec` and `_nsec`.
    pub response_time: Option<Duration>,
    /// `Message.query_message`.
    pub query_message: Option<Vec<u8>>,
    /// `Message.response_message`.
    pub response_message: Option<Vec<u8>>,
}

/// Why a buffer is not a `Dnstap` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError;

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a dnstap message")
    }
}

impl std::error::Error for DecodeError {}

/// One protobuf field: its number and value.
enum Value<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first().ok_or(DecodeError)?;
            self.0 = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.0.len() {
            return Err(DecodeError);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<Option<(u64, Value<'a>)>, DecodeError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Int(self.varint()?),
            1 => {
                let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| DecodeError)?;
                Value::Int(u64::from_le_bytes(b))
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| DecodeError)?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| DecodeError)?;
                Value::Int(u64::from(u32::from_le_bytes(b)))
            }
            _ => return Err(DecodeError),
        };
        Ok(Some((key >> 3, value)))
    }
}

fn ip_from(bytes: &[u8]) -> Result<IpAddr, DecodeError> {
    if let Ok(b) = <[u8; 4]>::try_from(bytes) {
        return Ok(IpAddr::from(b));
    }
    <[u8; 16]>::try_from(bytes)
        .map(IpAddr::from)
        .map_err(|_| DecodeError)
}

/// Reads a `Dnstap` message (unknown fields skipped; a `type` other than MESSAGE, or none,
/// is an error).
pub fn decode(buf: &[u8]) -> Result<Decoded, DecodeError> {
    let mut d = Decoded::default();
    let mut r = Reader(buf);
    let mut message = None;
    let mut is_message = false;
    while let Some((field, value)) = r.field()? {
        match (field, value) {
            (1, Value::Bytes(b)) => d.identity = b.to_vec(),
            (2, Value::Bytes(b)) => d.version = b.to_vec(),
            (14, Value::Bytes(b)) => message = Some(b),
            (15, Value::Int(t)) => is_message = t == 1,
            _ => {}
        }
    }
    if !is_message {
        return Err(DecodeError);
    }
    let Some(message) = message else {
        return Ok(d);
    };
    let mut r = Reader(message);
    let (mut qa, mut ra, mut qp, mut rp) = (None, None, 0u16, 0u16);
    let (mut qs, mut qn, mut rs, mut rn) = (None, 0u32, None, 0u32);
    while let Some((field, value)) = r.field()? {
        match (field, value) {
            (1, Value::Int(v)) => d.kind = Kind::from_code(v),
            (2, Value::Int(v)) => d.family = Some(v),
            (3, Value::Int(v)) => d.protocol = Protocol::from_code(v),
            (4, Value::Bytes(b)) => qa = Some(ip_from(b)?),
            (5, Value::Bytes(b)) => ra = Some(ip_from(b)?),
            (6, Value::Int(v)) => qp = u16::try_from(v).map_err(|_| DecodeError)?,
            (7, Value::Int(v)) => rp = u16::try_from(v).map_err(|_| DecodeError)?,
            (8, Value::Int(v)) => qs = Some(v),
            (9, Value::Int(v)) => qn = u32::try_from(v).map_err(|_| DecodeError)?,
            (10, Value::Bytes(b)) => d.query_message = Some(b.to_vec()),
            (12, Value::Int(v)) => rs = Some(v),
            (13, Value::Int(v)) => rn = u32::try_from(v).map_err(|_| DecodeError)?,
            (14, Value::Bytes(b)) => d.response_message = Some(b.to_vec()),
            _ => {}
        }
    }
    d.query_address = qa.map(|ip| SocketAddr::new(ip, qp));
    d.response_address = ra.map(|ip| SocketAddr::new(ip, rp));
    let time = |s: Option<u64>, n: u32| s.map(|s| Duration::new(s, n.min(999_999_999)));
    d.query_time = time(qs, qn);
    d.response_time = time(rs, rn);
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Frame Streams
// ---------------------------------------------------------------------------------------------

/// Frame Streams control frame types.
pub mod control {
    /// The reader accepts the content type (bidirectional).
    pub const ACCEPT: u32 = 1;
    /// The stream starts.
    pub const START: u32 = 2;
    /// The stream stops.
    pub const STOP: u32 = 3;
    /// The writer is ready (bidirectional).
    pub const READY: u32 = 4;
    /// The reader acknowledges STOP (bidirectional).
    pub const FINISH: u32 = 5;
}

/// Appends a control frame of `kind`, carrying the dnstap content type when `typed`.
pub fn control_frame(kind: u32, typed: bool, out: &mut Vec<u8>) {
    let fields = if typed { 8 + CONTENT_TYPE.len() } else { 0 };
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&u32::try_from(4 + fields).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    if typed {
        out.extend_from_slice(&1u32.to_be_bytes());
        out.extend_from_slice(&u32::try_from(CONTENT_TYPE.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(CONTENT_TYPE);
    }
}

/// What a Frame Streams byte stream holds, read back (tests, the fuzz target).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frames {
    /// Control frames in order: their type and content types.
    pub controls: Vec<(u32, Vec<Vec<u8>>)>,
    /// Data frames in order.
    pub data: Vec<Vec<u8>>,
}

/// Reads a whole Frame Streams byte stream (frames at most 1 MiB).
pub fn read_frames(mut buf: &[u8]) -> Result<Frames, DecodeError> {
    const MAX: usize = 1 << 20;
    let mut frames = Frames::default();
    let u32_at = |buf: &mut &[u8]| -> Result<u32, DecodeError> {
        let (head, rest) = buf.split_first_chunk::<4>().ok_or(DecodeError)?;
        *buf = rest;
        Ok(u32::from_be_bytes(*head))
    };
    while !buf.is_empty() {
        let len = u32_at(&mut buf)? as usize;
        if len > MAX || len > buf.len() {
            return Err(DecodeError);
        }
        if len > 0 {
            let (data, rest) = buf.split_at(len);
            frames.data.push(data.to_vec());
            buf = rest;
            continue;
        }
        let len = u32_at(&mut buf)? as usize;
        if !(4..=MAX).contains(&len) || len > buf.len() {
            return Err(DecodeError);
        }
        let (mut body, rest) = buf.split_at(len);
        buf = rest;
        let kind = u32_at(&mut body)?;
        let mut types = Vec::new();
        while !body.is_empty() {
            let field = u32_at(&mut body)?;
            let n = u32_at(&mut body)? as usize;
            if field != 1 || n > body.len() {
                return Err(DecodeError);
            }
            let (t, rest) = body.split_at(n);
            types.push(t.to_vec());
            body = rest;
        }
        frames.controls.push((kind, types));
    }
    Ok(frames)
}

/// Reads one control frame from a bidirectional peer: its type.
fn read_control(stream: &mut impl Read) -> io::Result<u32> {
    let mut word = [0u8; 4];
    stream.read_exact(&mut word)?;
    if word != [0; 4] {
        return Err(io::Error::other(
            "a data frame where a control frame was due",
        ));
    }
    stream.read_exact(&mut word)?;
    let len = u32::from_be_bytes(word) as usize;
    if !(4..=512).contains(&len) {
        return Err(io::Error::other("a control frame of a bad length"));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    let kind = body
        .first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b))
        .unwrap_or(0);
    Ok(kind)
}

// ---------------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------------

/// Where dnstap goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `file:PATH`.
    File(PathBuf),
    /// `unix:PATH`: a Frame Streams reader's socket.
    Unix(PathBuf),
}

impl std::str::FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        match s.split_once(':') {
            Some(("file", p)) if !p.is_empty() => Ok(Target::File(PathBuf::from(p))),
            Some(("unix", p)) if !p.is_empty() => Ok(Target::Unix(PathBuf::from(p))),
            _ => Err(format!(
                "`{s}` is not a dnstap output: give unix:PATH or file:PATH"
            )),
        }
    }
}

/// What dnstap writes and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnstapConfig {
    /// The output; `None`: dnstap is off.
    pub output: Option<Target>,
    /// Write CLIENT_QUERY and CLIENT_RESPONSE.
    pub client: bool,
    /// Write RESOLVER_QUERY and RESOLVER_RESPONSE.
    pub resolver: bool,
    /// The `identity` field (default: the host name).
    pub identity: String,
    /// The `version` field.
    pub version: String,
    /// Records the queue holds before new ones are dropped.
    pub queue: usize,
}

/// The dnstap stream's handle: cheap to clone.
#[derive(Clone, Debug)]
pub struct Dnstap {
    queue: Queue<Record>,
    client: bool,
    resolver: bool,
}

impl Dnstap {
    /// Opens the output and starts the writer thread; `None` when dnstap is off. A file that
    /// cannot be created is an error; a socket nobody listens on yet is retried.
    pub fn start(config: &DnstapConfig) -> io::Result<Option<(Dnstap, Reopen)>> {
        let Some(target) = &config.output else {
            return Ok(None);
        };
        let mut output = DnstapOutput {
            target: target.clone(),
            out: None,
            inode: None,
            probe: None,
            identity: config.identity.clone().into_bytes(),
            version: config.version.clone().into_bytes(),
            frame: Vec::with_capacity(1024),
            scratch: Vec::with_capacity(1024),
            retry_at: Instant::now(),
            backoff: MIN_BACKOFF,
        };
        if let Target::File(_) = target {
            output.open_file()?;
        } else {
            output.connect();
        }
        let counters = Arc::new(StreamCounters::default());
        let reopen = Reopen::default();
        let queue = writer::spawn("dnstap", config.queue, output, counters, reopen.clone())?;
        let dnstap = Dnstap {
            queue,
            client: config.client,
            resolver: config.resolver,
        };
        Ok(Some((dnstap, reopen)))
    }

    /// Whether client messages are wanted.
    pub fn client(&self) -> bool {
        self.client
    }

    /// Whether resolver messages are wanted.
    pub fn resolver(&self) -> bool {
        self.resolver
    }

    /// Queues `record`; a full queue drops and counts it.
    pub fn record(&self, record: Record) {
        self.queue.push(record);
    }

    /// Frames written and records dropped (queue full, or no reader connected).
    pub fn figures(&self) -> (u64, u64) {
        self.queue.counters().figures()
    }
}

const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct DnstapOutput {
    target: Target,
    /// The open file or connected socket, after its START.
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    /// The file's inode, to tell whether it was moved away.
    inode: Option<u64>,
    /// The connected socket again, to notice a reader that went away while all was quiet.
    probe: Option<UnixStream>,
    identity: Vec<u8>,
    version: Vec<u8>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    /// When to try the socket again.
    retry_at: Instant,
    backoff: Duration,
}

impl DnstapOutput {
    /// Creates the file (replacing one left by an earlier run) and writes START.
    fn open_file(&mut self) -> io::Result<()> {
        let Target::File(path) = &self.target else {
            return Ok(());
        };
        let file = File::create(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        self.inode = file.metadata().ok().map(|m| m.ino());
        let mut out: BufWriter<Box<dyn Write + Send>> =
            BufWriter::with_capacity(64 * 1024, Box::new(file));
        let mut start = Vec::new();
        control_frame(control::START, true, &mut start);
        out.write_all(&start)?;
        out.flush()?;
        self.out = Some(out);
        Ok(())
    }

    /// Connects to the socket and runs the handshake, when it is time to try.
    fn connect(&mut self) {
        let Target::Unix(path) = &self.target else {
            return;
        };
        if self.out.is_some() || Instant::now() < self.retry_at {
            return;
        }
        match handshake(path) {
            Ok(stream) => {
                self.backoff = MIN_BACKOFF;
                self.probe = stream.try_clone().ok();
                self.out = Some(BufWriter::with_capacity(64 * 1024, Box::new(stream)));
            }
            Err(_) => {
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
            }
        }
    }

    /// The connection broke: drop it and retry later.
    fn lost(&mut self) {
        self.out = None;
        self.probe = None;
        if let Target::Unix(_) = self.target {
            self.retry_at = Instant::now() + self.backoff;
        }
    }

    /// Whether the reader closed its end (a non-blocking read sees the end of the stream).
    fn reader_gone(&mut self) -> bool {
        let Some(probe) = &mut self.probe else {
            return false;
        };
        if probe.set_nonblocking(true).is_err() {
            return true;
        }
        let mut buf = [0u8; 64];
        let gone = match probe.read(&mut buf) {
            Ok(0) => true,
            // A FINISH or anything else the reader sends is not ours to act on.
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        };
        let _ = probe.set_nonblocking(false);
        gone
    }

    /// Writes the frame in `self.frame`; false when the output broke.
    fn send_frame(&mut self) -> bool {
        self.out
            .as_mut()
            .is_some_and(|out| out.write_all(&self.frame).is_ok())
    }
}

/// READY, ACCEPT, START on a new connection to `path`.
fn handshake(path: &std::path::Path) -> io::Result<UnixStream> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    // A stalled reader must not hold the writer (and so the queue) for long.
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    let mut frame = Vec::new();
    control_frame(control::READY, true, &mut frame);
    stream.write_all(&frame)?;
    if read_control(&mut stream)? != control::ACCEPT {
        return Err(io::Error::other("the reader did not accept"));
    }
    frame.clear();
    control_frame(control::START, true, &mut frame);
    stream.write_all(&frame)?;
    Ok(stream)
}

impl Output for DnstapOutput {
    type Item = Record;

    fn write(&mut self, record: &Record, counters: &StreamCounters) {
        if self.out.is_none() {
            self.connect();
        }
        if self.out.is_none() {
            counters.lost();
            return;
        }
        self.frame.clear();
        self.frame.extend_from_slice(&[0; 4]);
        encode(
            record,
            &self.identity,
            &self.version,
            &mut self.scratch,
            &mut self.frame,
        );
        let len = u32::try_from(self.frame.len() - 4).unwrap_or(0);
        if let Some(head) = self.frame.get_mut(..4) {
            head.copy_from_slice(&len.to_be_bytes());
        }
        if self.send_frame() {
            counters.wrote();
            return;
        }
        // The reader may have restarted: one new connection at once, then the backoff.
        self.lost();
        self.retry_at = Instant::now();
        self.connect();
        if self.send_frame() {
            counters.wrote();
        } else {
            counters.lost();
            self.lost();
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.out
            && out.flush().is_err()
        {
            self.lost();
        }
    }

    fn reopen(&mut self) {
        let Target::File(path) = &self.target else {
            return;
        };
        let moved = std::fs::metadata(path).map_or(true, |m| Some(m.ino()) != self.inode);
        if moved {
            self.finish();
            // A file that cannot be created loses records (counted) until the next reopen.
            let _ = self.open_file();
        }
    }

    fn idle(&mut self) {
        if self.reader_gone() {
            self.lost();
        }
        self.connect();
    }

    fn finish(&mut self) {
        if let Some(out) = &mut self.out {
            let mut stop = Vec::new();
            control_frame(control::STOP, false, &mut stop);
            let _ = out.write_all(&stop);
            let _ = out.flush();
        }
        self.out = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn sample() -> Record {
        Record {
            kind: Kind::ClientQuery,
            protocol: Protocol::Udp,
            query_address: Some("127.0.0.1:5353".parse().unwrap()),
            response_address: Some("127.0.0.2:53".parse().unwrap()),
            query_time: Some(Duration::new(1_800_000_000, 5)),
            response_time: None,
            message: vec![0xab, 0xcd].into_boxed_slice(),
        }
    }

    #[test]
    fn known_bytes() {
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        encode(&sample(), b"ns1", b"v1", &mut scratch, &mut out);
        let message: Vec<u8> = [
            &[0x08, 5][..],                        // type CLIENT_QUERY
            &[0x10, 1],                            // family INET
            &[0x18, 1],                            // protocol UDP
            &[0x22, 4, 127, 0, 0, 1],              // query_address
            &[0x2a, 4, 127, 0, 0, 2],              // response_address
            &[0x30, 0xe9, 0x29],                   // query_port 5353
            &[0x38, 53],                           // response_port
            &[0x40, 0x80, 0xa4, 0xa7, 0xda, 0x06], // query_time_sec 1,800,000,000
            &[0x4d, 5, 0, 0, 0],                   // query_time_nsec (fixed32)
            &[0x52, 2, 0xab, 0xcd],                // query_message
        ]
        .concat();
        let mut expected = vec![0x0a, 3, b'n', b's', b'1', 0x12, 2, b'v', b'1', 0x72];
        expected.push(message.len() as u8);
        expected.extend_from_slice(&message);
        expected.extend_from_slice(&[0x78, 1]);
        assert_eq!(out, expected);
    }

    #[test]
    fn control_frames_known_bytes() {
        let mut out = Vec::new();
        control_frame(control::START, true, &mut out);
        let mut expected = vec![0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 22];
        expected.extend_from_slice(CONTENT_TYPE);
        assert_eq!(out, expected);
        out.clear();
        control_frame(control::STOP, false, &mut out);
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]);
        let frames = read_frames(&[expected.as_slice(), &[0, 0, 0, 2, 7, 8], &out].concat());
        let frames = frames.unwrap();
        assert_eq!(frames.data, vec![vec![7, 8]]);
        assert_eq!(
            frames.controls,
            vec![
                (control::START, vec![CONTENT_TYPE.to_vec()]),
                (control::STOP, vec![])
            ]
        );
        assert!(read_frames(&[0, 0, 0, 9, 1]).is_err());
    }

    #[test]
    fn targets() {
        assert_eq!(
            "unix:/run/dnstap.sock".parse::<Target>(),
            Ok(Target::Unix("/run/dnstap.sock".into()))
        );
        assert_eq!(
            "file:tap.fstrm".parse::<Target>(),
            Ok(Target::File("tap.fstrm".into()))
        );
        assert!("tcp:1.2.3.4".parse::<Target>().is_err());
        assert!("file:".parse::<Target>().is_err());
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::ResolverQuery),
            Just(Kind::ResolverResponse),
            Just(Kind::ClientQuery),
            Just(Kind::ClientResponse)
        ]
    }

    fn protocol() -> impl Strategy<Value = Protocol> {
        prop_oneof![
            Just(Protocol::Udp),
            Just(Protocol::Tcp),
            Just(Protocol::Dot),
            Just(Protocol::Doh),
            Just(Protocol::Doq)
        ]
    }

    fn addr() -> impl Strategy<Value = Option<SocketAddr>> {
        prop_oneof![
            Just(None),
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, p)| Some(SocketAddr::new(ip.into(), p))),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, p)| Some(SocketAddr::new(ip.into(), p))),
        ]
    }

    fn time() -> impl Strategy<Value = Option<Duration>> {
        proptest::option::of(
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        )
    }

    proptest! {
        #[test]
        fn records_round_trip(
            kind in kind(),
            protocol in protocol(),
            qa in addr(),
            ra in addr(),
            qt in time(),
            rt in time(),
            message in proptest::collection::vec(any::<u8>(), 0..600),
            identity in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let record = Record {
                kind, protocol, query_address: qa, response_address: ra,
                query_time: qt, response_time: rt, message: message.clone().into_boxed_slice(),
            };
            let (mut scratch, mut out) = (Vec::new(), Vec::new());
            encode(&record, &identity, b"portcullis", &mut scratch, &mut out);
            let d = decode(&out).unwrap();
            prop_assert_eq!(d.identity, identity);
            prop_assert_eq!(d.version, b"portcullis".to_vec());
            prop_assert_eq!(d.kind, Some(kind));
            prop_assert_eq!(d.protocol, Some(protocol));
            prop_assert_eq!(d.query_address, qa);
            prop_assert_eq!(d.response_address, ra);
            prop_assert_eq!(d.query_time, qt);
            prop_assert_eq!(d.response_time, rt);
            let (q, r) = if kind.is_query() { (Some(message), None) } else { (None, Some(message)) };
            prop_assert_eq!(d.query_message, q);
            prop_assert_eq!(d.response_message, r);
        }

        #[test]
        fn decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
            let _ = read_frames(&bytes);
        }
    }
}
