//! The bounded, non-blocking writers: one thread per stream takes items off a bounded queue
//! and hands them to the stream's [`Output`].
//!
//! Every stream (security events, the query log, dnstap) is the same machine: the hot path
//! calls [`Queue::push`], a `try_send` into a `sync_channel` whose buffer is allocated once
//! (a full queue drops the item and counts it, never waits); the thread ([`spawn`]) writes
//! each item, drains what is queued, then flushes once, so a burst costs one system call per
//! buffer and a quiet server's output is always up to date. It wakes every second to honour a
//! [`Reopen`] request (log rotation) and let the output retry a lost connection.
//!
//! [`LineFile`] is the JSON-lines output both the events and the query log write through:
//! standard output or a file appended to (created mode 0640 when missing), rotated by size
//! when asked. A syslog socket that is missing or refuses a datagram loses that message
//! (counted as dropped) and is retried on the next one.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use crate::Events;
use crate::event::Event;
use crate::format::{json_line, syslog_message};

// ---------------------------------------------------------------------------------------------
// The generic machine
// ---------------------------------------------------------------------------------------------

/// What a stream's writer thread does with the items of its queue.
pub trait Output: Send + 'static {
    /// What the queue carries.
    type Item: Send + 'static;
    /// Writes one item, counting it as written or dropped in `counters`.
    fn write(&mut self, item: &Self::Item, counters: &StreamCounters);
    /// The queue ran empty: push out what is buffered.
    fn flush(&mut self);
    /// Close and open the output again (after log rotation).
    fn reopen(&mut self);
    /// Called about once a second when the queue is quiet (a lost connection is retried here).
    fn idle(&mut self) {}
    /// The last handle is gone: end the output (a stream's closing frame).
    fn finish(&mut self) {
        self.flush();
    }
}

/// How many items a stream wrote and lost, for `/metrics`.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Items written to the output.
    pub written: AtomicU64,
    /// Items lost: the queue was full, or the output refused them.
    pub dropped: AtomicU64,
}

impl StreamCounters {
    /// Counts one item written.
    pub fn wrote(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one item lost.
    pub fn lost(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Written and dropped.
    pub fn figures(&self) -> (u64, u64) {
        (
            self.written.load(Ordering::Relaxed),
            self.dropped.load(Ordering::Relaxed),
        )
    }
}

/// The hot path's end of a stream: a bounded queue into its writer thread. Cheap to clone;
/// the thread ends when every clone is gone, after writing what was queued.
#[derive(Debug)]
pub struct Queue<T> {
    tx: SyncSender<T>,
    counters: Arc<StreamCounters>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Queue<T> {
        Queue {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
        }
    }
}

impl<T> Queue<T> {
    /// Queues `item` without waiting; when the queue is full it is dropped and counted.
    pub fn push(&self, item: T) {
        match self.tx.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => self.counters.lost(),
        }
    }

    /// The stream's counters.
    pub fn counters(&self) -> &Arc<StreamCounters> {
        &self.counters
    }

    /// A queue of `capacity` items with no thread behind it: tests read the receiver.
    #[cfg(test)]
    pub(crate) fn bare(capacity: usize) -> (Queue<T>, Receiver<T>) {
        let (tx, rx) = sync_channel(capacity);
        let counters = Arc::default();
        (Queue { tx, counters }, rx)
    }
}

/// Asks a writer to reopen its output (after rotation). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Reopen(Arc<AtomicBool>);

impl Reopen {
    /// The output is closed and opened again before the next write.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// Starts a thread named `name` writing to `output` what is pushed into the returned queue of
/// `capacity` items (at least one); `counters` count what it writes and loses.
pub fn spawn<O: Output>(
    name: &str,
    capacity: usize,
    mut output: O,
    counters: Arc<StreamCounters>,
    reopen: Reopen,
) -> io::Result<Queue<O::Item>> {
    let (tx, rx) = sync_channel(capacity.max(1));
    let thread_counters = counters.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || run(&mut output, &rx, &thread_counters, &reopen))?;
    Ok(Queue { tx, counters })
}

fn run<O: Output>(
    output: &mut O,
    rx: &Receiver<O::Item>,
    counters: &StreamCounters,
    reopen: &Reopen,
) {
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(item) => {
                if reopen.take() {
                    output.reopen();
                }
                output.write(&item, counters);
                // Drain what is queued, then flush once.
                while let Ok(item) = rx.try_recv() {
                    output.write(&item, counters);
                }
                output.flush();
            }
            Err(RecvTimeoutError::Timeout) => {
                if reopen.take() {
                    output.reopen();
                }
                output.idle();
            }
            Err(RecvTimeoutError::Disconnected) => {
                output.finish();
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON lines to a file or standard output
// ---------------------------------------------------------------------------------------------

/// Where JSON lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
}

/// Size-based rotation of a file sink: past `max_size` bytes the file becomes `FILE.1`, the
/// older ones shift to `FILE.2` ... `FILE.keep`, and the oldest goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes a file may hold before it is rotated.
    pub max_size: u64,
    /// Rotated files kept (0: the full file is removed).
    pub keep: u32,
}

/// A JSON-lines output: a buffered file (or standard output) that can be reopened and rotated.
pub struct LineFile {
    sink: Sink,
    rotation: Option<Rotation>,
    out: Option<BufWriter<Box<dyn Write + Send>>>,
    /// Bytes in the current file (buffered ones included).
    size: u64,
}

impl std::fmt::Debug for LineFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineFile")
            .field("sink", &self.sink)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl LineFile {
    /// Opens `sink` (a file is created if missing); an error names the file.
    pub fn open(sink: Sink, rotation: Option<Rotation>) -> io::Result<LineFile> {
        let mut file = LineFile {
            sink,
            rotation,
            out: None,
            size: 0,
        };
        file.open_sink()?;
        Ok(file)
    }

    fn open_sink(&mut self) -> io::Result<()> {
        let (out, size): (Box<dyn Write + Send>, u64) = match &self.sink {
            Sink::Stdout => (Box::new(io::stdout()), 0),
            Sink::File(path) => {
                let file = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o640)
                    .open(path)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
                let size = file.metadata().map_or(0, |m| m.len());
                (Box::new(file), size)
            }
        };
        self.out = Some(BufWriter::with_capacity(64 * 1024, out));
        self.size = size;
        Ok(())
    }

    /// Appends one line (with its newline); false when it could not be written.
    pub fn write_line(&mut self, line: &[u8]) -> bool {
        if let (Some(rotation), Sink::File(_)) = (self.rotation, &self.sink)
            && self.size > 0
            && self.size + line.len() as u64 > rotation.max_size
        {
            self.rotate(rotation);
        }
        let Some(out) = &mut self.out else {
            return false;
        };
        let ok = out.write_all(line).is_ok();
        if ok {
            self.size += line.len() as u64;
        }
        ok
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = out.flush();
        }
    }

    /// Closes and opens the file again; on failure the old handle stays.
    pub fn reopen(&mut self) {
        self.flush();
        if let Sink::File(_) = self.sink {
            let old = self.out.take();
            if self.open_sink().is_err() {
                self.out = old;
            }
        }
    }

    fn rotate(&mut self, rotation: Rotation) {
        let Sink::File(path) = &self.sink else { return };
        let path = path.clone();
        self.flush();
        self.out = None;
        if rotation.keep == 0 {
            let _ = std::fs::remove_file(&path);
        } else {
            for n in (1..rotation.keep).rev() {
                let _ = std::fs::rename(numbered(&path, n), numbered(&path, n + 1));
            }
            let _ = std::fs::rename(&path, numbered(&path, 1));
        }
        // A file that cannot be opened again loses lines (counted) until the next reopen.
        let _ = self.open_sink();
    }
}

/// `FILE.n`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------------------------
// The security events' output
// ---------------------------------------------------------------------------------------------

/// What the stream writes to and how much it may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// JSON lines, when wanted.
    pub json: Option<Sink>,
    /// A Unix datagram socket taking RFC 5424 messages (`/dev/log`), when wanted.
    pub syslog: Option<PathBuf>,
    /// The syslog facility number (3: daemon).
    pub syslog_facility: u8,
    /// Events the queue holds before new ones are dropped.
    pub queue: usize,
    /// Events per second and per action that are queued; the rest are suppressed (counted).
    pub max_per_second: u64,
}

impl EventsConfig {
    /// Whether anything is written at all.
    pub fn has_sink(&self) -> bool {
        self.json.is_some() || self.syslog.is_some()
    }
}

/// Opens the sinks of `config` and starts the writer thread. Without a sink, the stream only
/// counts ([`Events::disabled`]) and no thread starts. The thread ends when every [`Events`]
/// clone is gone, after writing what was queued.
pub fn start(config: &EventsConfig) -> io::Result<(Events, Reopen)> {
    let reopen = Reopen::default();
    if !config.has_sink() {
        return Ok((Events::disabled(), reopen));
    }
    let json = match &config.json {
        None => None,
        Some(sink) => Some(LineFile::open(sink.clone(), None)?),
    };
    let output = EventsOutput {
        json,
        syslog: config.syslog.clone().map(|path| Syslog {
            path,
            socket: None,
            facility: config.syslog_facility,
            host: hostname(),
            pid: std::process::id(),
        }),
        line: String::with_capacity(512),
    };
    let counters = Arc::new(StreamCounters::default());
    let queue = spawn("events", config.queue, output, counters, reopen.clone())?;
    Ok((
        Events::with_queue(Some(queue), config.max_per_second),
        reopen,
    ))
}

struct Syslog {
    path: PathBuf,
    socket: Option<UnixDatagram>,
    facility: u8,
    host: String,
    pid: u32,
}

/// JSON lines and syslog datagrams for each event.
struct EventsOutput {
    json: Option<LineFile>,
    syslog: Option<Syslog>,
    line: String,
}

impl Output for EventsOutput {
    type Item = Event;

    fn write(&mut self, event: &Event, counters: &StreamCounters) {
        let at = SystemTime::now();
        let mut delivered = false;
        if let Some(out) = &mut self.json {
            self.line.clear();
            json_line(event, at, &mut self.line);
            delivered |= out.write_line(self.line.as_bytes());
        }
        if let Some(syslog) = &mut self.syslog {
            self.line.clear();
            syslog_message(
                event,
                at,
                syslog.facility,
                &syslog.host,
                syslog.pid,
                &mut self.line,
            );
            if syslog.send(self.line.as_bytes()) {
                delivered = true;
            } else {
                counters.lost();
            }
        }
        if delivered {
            counters.wrote();
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.json {
            out.flush();
        }
    }

    fn reopen(&mut self) {
        if let Some(out) = &mut self.json {
            out.reopen();
        }
        if let Some(syslog) = &mut self.syslog {
            syslog.socket = None;
        }
    }
}

impl Syslog {
    /// Sends one message, connecting first when needed; false when it was lost.
    fn send(&mut self, message: &[u8]) -> bool {
        if self.socket.is_none() {
            let Ok(socket) = UnixDatagram::unbound() else {
                return false;
            };
            if socket.connect(&self.path).is_err() {
                return false;
            }
            // A full syslog daemon must not stall the writer (and so the queue) for long.
            let _ = socket.set_write_timeout(Some(Duration::from_millis(100)));
            self.socket = Some(socket);
        }
        let sent = self
            .socket
            .as_ref()
            .is_some_and(|s| s.send(message).is_ok());
        if !sent {
            // Reconnect next time: the daemon may have restarted.
            self.socket = None;
        }
        sent
    }
}

/// This machine's name for the syslog HOSTNAME field (`-` when unknown, RFC 5424 6.2.4).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_file_rotates_by_size_and_keeps_n() {
        let dir = std::env::temp_dir().join(format!("linefile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("q.log");
        let rotation = Rotation {
            max_size: 100,
            keep: 2,
        };
        let mut file = LineFile::open(Sink::File(path.clone()), Some(rotation)).unwrap();
        let line = [b'x'; 39];
        let mut line = line.to_vec();
        line.push(b'\n');
        // 40 bytes a line: two fit in 100, the third rotates.
        for _ in 0..7 {
            assert!(file.write_line(&line));
        }
        file.flush();
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        assert_eq!(len(&path), Some(40));
        assert_eq!(len(&numbered(&path, 1)), Some(80));
        assert_eq!(len(&numbered(&path, 2)), Some(80));
        assert_eq!(len(&numbered(&path, 3)), None, "only two kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
