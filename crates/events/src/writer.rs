//! The one writer thread: takes events off the bounded queue and writes them to the sinks.
//!
//! Files are opened for appending (created mode 0640 when missing) and written through a
//! buffer flushed whenever the queue runs empty, so a burst costs one system call per buffer
//! and a quiet server's file is always up to date. [`Reopen`] makes the writer close and open
//! the file again (after log rotation). A syslog socket that is missing or refuses a datagram
//! loses that message (counted as dropped) and is retried on the next one.

use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::{Duration, SystemTime};

use crate::event::Event;
use crate::format::{json_line, syslog_message};
use crate::{Counters, Events};

/// Where JSON lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Standard output.
    Stdout,
    /// A file, appended to.
    File(PathBuf),
}

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

/// Asks the writer to reopen its file (after rotation). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Reopen(Arc<AtomicBool>);

impl Reopen {
    /// The file is closed and opened again before the next write.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
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
        Some(sink) => Some(open(sink)?),
    };
    let (tx, rx) = sync_channel(config.queue.max(1));
    let events = Events::with_queue(Some(tx), config.max_per_second);
    let mut writer = Writer {
        json,
        json_sink: config.json.clone(),
        syslog: config.syslog.clone().map(|path| Syslog {
            path,
            socket: None,
            facility: config.syslog_facility,
            host: hostname(),
            pid: std::process::id(),
        }),
        reopen: reopen.clone(),
        counters: events.counters(),
        line: String::with_capacity(512),
    };
    std::thread::Builder::new()
        .name("events".into())
        .spawn(move || writer.run(&rx))?;
    Ok((events, reopen))
}

fn open(sink: &Sink) -> io::Result<BufWriter<Box<dyn Write + Send>>> {
    let out: Box<dyn Write + Send> = match sink {
        Sink::Stdout => Box::new(io::stdout()),
        Sink::File(path) => Box::new(
            OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .open(path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?,
        ),
    };
    Ok(BufWriter::with_capacity(64 * 1024, out))
}

struct Syslog {
    path: PathBuf,
    socket: Option<UnixDatagram>,
    facility: u8,
    host: String,
    pid: u32,
}

struct Writer {
    json: Option<BufWriter<Box<dyn Write + Send>>>,
    json_sink: Option<Sink>,
    syslog: Option<Syslog>,
    reopen: Reopen,
    counters: Arc<Counters>,
    line: String,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    fn run(&mut self, rx: &Receiver<Event>) {
        loop {
            // Wake now and then to honour a reopen request on a quiet server.
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(event) => {
                    self.write(&event);
                    // Drain what is queued, then flush once.
                    while let Ok(event) = rx.try_recv() {
                        self.write(&event);
                    }
                    self.flush();
                }
                Err(RecvTimeoutError::Timeout) => self.maybe_reopen(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    fn write(&mut self, event: &Event) {
        self.maybe_reopen();
        let at = SystemTime::now();
        let mut delivered = false;
        if let Some(out) = &mut self.json {
            self.line.clear();
            json_line(event, at, &mut self.line);
            delivered |= out.write_all(self.line.as_bytes()).is_ok();
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
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if delivered {
            self.counters.written.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.json {
            let _ = out.flush();
        }
    }

    fn maybe_reopen(&mut self) {
        if !self.reopen.0.swap(false, Ordering::Relaxed) {
            return;
        }
        self.flush();
        if let Some(sink) = &self.json_sink
            && let Ok(file) = open(sink)
        {
            self.json = Some(file);
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
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".to_owned())
}
