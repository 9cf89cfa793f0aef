//! One TCP connection: a reader that parses frames and answers queries, a writer that sends the
//! queued responses, and, once a zone transfer is asked for, a transfer worker; see the
//! [parent module](super) for the rules they keep.
//!
//! ```text
//!   socket ──► reader ──(responses)──────────────► queue ──► writer ──► socket
//!                 └──(transfers)──► transfer worker ──┘
//! ```
//!
//! The queue is bounded twice: in messages ([`TcpLimits::max_pipelined`](super::TcpLimits)) and
//! in bytes, by a semaphore whose permits travel with each message and return when the writer
//! has written it. The reader and the writer run in one task; the transfer worker is a blocking
//! thread, because a [`TransferStream`] is neither `Send` nor quick (it writes up to 64 KiB per
//! message), and it runs the connection's transfers one after the other.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{Client, TransferRequest};
use metrics::{Rcode, TcpReject, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::table::{ConnState, Ticket};
use super::{Counters, MAX_MESSAGE, TcpLimits};
use crate::Shutdown;
use crate::answer::{Answer, Responder, framed};
use crate::tls::TlsSettings;

/// The read buffer's starting size: room for a few pipelined queries in one read.
const INITIAL_READ: usize = 1024;
/// A read buffer grown beyond this for a large message shrinks back once it is empty.
const SHRINK_ABOVE: usize = 4 * INITIAL_READ;
/// The writer joins queued responses into one write up to about this many bytes.
const BATCH_BYTES: usize = 16 * 1024;
/// ... and at most this many responses.
const BATCH_MESSAGES: usize = 64;
/// How long a closing connection waits for the client's FIN; see [`linger`].
const LINGER: Duration = Duration::from_secs(1);
/// Transfers asked for on one connection and not yet started before the reader waits.
const TRANSFER_QUEUE: usize = 4;

/// What every connection of one [`super::serve`] shares.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Answers the queries and counts them under `tcp` or `dot`.
    pub(crate) responder: Responder,
    /// What the engine is told the queries came over: TCP, or TLS (an encrypted transport,
    /// whose responses are padded).
    pub(crate) transport: engine::Transport,
    pub(crate) limits: TcpLimits,
    pub(crate) shutdown: Shutdown,
}

/// A framed message on its way to the client, holding its share of the byte budget.
struct Outgoing {
    /// The 2-byte length and the message.
    frame: Vec<u8>,
    /// Returned to the budget when the writer has written the frame.
    _permit: OwnedSemaphorePermit,
    /// Whether writing it settles one pending response (transfer messages do not: the
    /// transfer as a whole is pending until its last message is queued).
    settles: bool,
}

/// A transfer waiting for the transfer worker.
struct TransferJob {
    request: Box<TransferRequest>,
    received: Instant,
}

// ---------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------

/// Serves one accepted connection until it closes, is evicted, or the server shuts down.
/// With `tls`, the connection first completes a TLS handshake (within its timeout), then runs
/// over the TLS stream.
pub(crate) async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    ticket: Ticket,
    shared: Arc<Shared>,
    tls: Option<Arc<TlsSettings>>,
) {
    let state = ticket.state().clone();
    let key = ticket.index();
    let closer = Closer {
        ticket: Some(ticket),
        key,
        counters: shared.responder.counters().clone(),
        transport: shared.responder.transport(),
    };
    tokio::select! {
        biased;
        _ = state.evicted.notified() => {}
        _ = open(stream, tls, peer, &state, key, &shared) => {}
    }
    drop(closer);
}

/// Runs the connection over the TCP stream, or over TLS once the handshake is done.
async fn open(
    mut stream: TcpStream,
    tls: Option<Arc<TlsSettings>>,
    peer: SocketAddr,
    state: &Arc<ConnState>,
    key: usize,
    shared: &Arc<Shared>,
) {
    // Responses are written whole, often several at once: no reason to wait for more.
    let _ = stream.set_nodelay(true);
    match tls {
        None => {
            let (rd, wr) = stream.split();
            connection(rd, wr, peer, state, key, shared).await;
        }
        Some(tls) => {
            let Some(stream) = tls.handshake(stream).await else {
                shared.responder.counters().with(key, |m| {
                    let t = shared.responder.transport();
                    m.connection_rejected(t, TcpReject::TlsHandshake);
                });
                return;
            };
            let (rd, wr) = tokio::io::split(stream);
            connection(rd, wr, peer, state, key, shared).await;
        }
    }
}

/// Counts the connection closed and frees its place in the table, however the task ends
/// (aborted at the end of the shutdown grace included).
struct Closer {
    ticket: Option<Ticket>,
    key: usize,
    counters: Arc<Counters>,
    transport: Transport,
}

impl Drop for Closer {
    fn drop(&mut self) {
        // The place is free before the close is counted: whoever sees the count may connect.
        drop(self.ticket.take());
        self.counters
            .with(self.key, |m| m.connection_closed(self.transport));
    }
}

/// Closes the byte budget when the connection ends, so a transfer worker waiting on it stops.
struct CloseBudget(Arc<Semaphore>);

impl Drop for CloseBudget {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Serves queries on an open stream (TCP, or TLS after the handshake) until it ends.
async fn connection<R, W>(
    mut rd: R,
    wr: W,
    peer: SocketAddr,
    state: &Arc<ConnState>,
    key: usize,
    shared: &Arc<Shared>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (tx, rx) = mpsc::channel(shared.limits.max_pipelined);
    let budget = Arc::new(Semaphore::new(shared.limits.max_buffered));
    let _close_budget = CloseBudget(budget.clone());
    let reader = Reader {
        tx,
        budget,
        client: Client {
            addr: peer.ip(),
            transport: shared.transport,
        },
        port: peer.port(),
        state: state.clone(),
        key,
        shared: shared.clone(),
        transfers: None,
    };
    let closed_cleanly = {
        let reader = reader.run(&mut rd);
        let writer = write_loop(wr, rx, state, shared.limits.idle_timeout);
        tokio::pin!(reader, writer);
        tokio::select! {
            // The writer ends first only when a write failed or timed out: give up on the rest.
            _ = &mut writer => false,
            // The reader is done: send what is owed, then close.
            _ = &mut reader => writer.await,
        }
    };
    if closed_cleanly {
        linger(&mut rd).await;
    }
}

/// After our FIN, reads and discards what the client still sends, for a moment, until its own
/// FIN. Closing a socket with unread data sends a reset, and a reset can make the client's
/// system discard responses it has received and not yet read.
async fn linger<R: AsyncRead + Unpin>(rd: &mut R) {
    let drain = async {
        let mut sink = [0u8; 512];
        while let Ok(n) = rd.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// The reading half: frames in, answers queued.
struct Reader {
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Semaphore>,
    client: Client,
    /// The client's port, for the query log.
    port: u16,
    state: Arc<ConnState>,
    key: usize,
    shared: Arc<Shared>,
    /// The transfer worker's queue, once the first transfer started it.
    transfers: Option<mpsc::Sender<TransferJob>>,
}

/// What to do after answering one message.
enum Action {
    Reply(Vec<u8>),
    Transfer(Box<TransferRequest>),
    /// Handed to the resolver: the answer comes through the channel.
    Resolving(oneshot::Receiver<crate::resolver::Resolved>),
    Close,
}

impl Reader {
    /// Reads and answers until the client closes, a timer or a limit ends the connection, or
    /// the server shuts down.
    async fn run<R: AsyncRead + Unpin>(mut self, rd: &mut R) {
        let limits = self.shared.limits.clone();
        let shutdown = self.shared.shutdown.clone();
        let stop = shutdown.wait();
        tokio::pin!(stop);
        let mut buf = FrameBuf::new();
        let mut answered = 0usize;
        loop {
            while let Some(range) = buf.next_frame() {
                let received = Instant::now();
                self.state.touch();
                let action = buf
                    .slice(range.clone())
                    .map_or(Action::Close, |query| self.answer(query, received));
                buf.consume(range);
                if !self.act(action, received).await {
                    return;
                }
                answered += 1;
                if limits
                    .max_queries_per_connection
                    .is_some_and(|max| answered >= max)
                {
                    return;
                }
            }
            buf.settle();

            let now = Instant::now();
            let mut idle_deadline = self.state.last_activity() + limits.idle_timeout;
            if idle_deadline <= now && !self.state.is_idle() {
                // Answers are still owed: not idle. Look again later.
                idle_deadline = now + limits.idle_timeout;
            }
            let message_deadline = buf.partial_since.map(|t| t + limits.message_timeout);
            let deadline = message_deadline.map_or(idle_deadline, |m| m.min(idle_deadline));

            tokio::select! {
                biased;
                _ = &mut stop => return,
                read = rd.read(buf.spare()) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.filled(n),
                },
                _ = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    if message_deadline.is_some_and(|m| m <= now) {
                        return;
                    }
                    let idle_since = self.state.last_activity();
                    if self.state.is_idle() && idle_since + limits.idle_timeout <= now {
                        return;
                    }
                }
            }
        }
    }

    /// Answers one message (see [`crate::answer`]).
    fn answer(&self, query: &[u8], received: Instant) -> Action {
        match self
            .shared
            .responder
            .answer(self.key, &self.client, self.port, query, received)
        {
            Answer::Reply(frame) => Action::Reply(frame),
            Answer::Transfer(request) => Action::Transfer(request),
            Answer::Resolving(rx) => Action::Resolving(rx),
            Answer::Close => Action::Close,
        }
    }

    /// Queues an answer; false when the connection should end.
    async fn act(&mut self, action: Action, received: Instant) -> bool {
        match action {
            Action::Reply(frame) => {
                let Ok(permit) = self
                    .budget
                    .clone()
                    .acquire_many_owned(permits(&frame))
                    .await
                else {
                    return false;
                };
                self.state.add_pending(1);
                let sent = self.tx.send(Outgoing {
                    frame,
                    _permit: permit,
                    settles: true,
                });
                if sent.await.is_err() {
                    return false;
                }
                true
            }
            Action::Resolving(rx) => {
                // Owed until the answer is queued; the connection is not idle meanwhile.
                self.state.add_pending(1);
                let (tx, budget, state) =
                    (self.tx.clone(), self.budget.clone(), self.state.clone());
                let (shared, key) = (self.shared.clone(), self.key);
                let ip = SocketAddr::new(self.client.addr, self.port);
                tokio::spawn(async move {
                    let queued = async {
                        let frame = shared.responder.resolved(rx, key, ip, received).await?;
                        let permit = budget.acquire_many_owned(permits(&frame)).await.ok()?;
                        tx.send(Outgoing {
                            frame,
                            _permit: permit,
                            settles: true,
                        })
                        .await
                        .ok()
                    };
                    if queued.await.is_none() {
                        state.sub_pending(1);
                    }
                });
                true
            }
            Action::Transfer(request) => {
                self.state.add_pending(1);
                let job = TransferJob { request, received };
                let jobs = match &self.transfers {
                    Some(jobs) => jobs.clone(),
                    None => {
                        let jobs = self.start_transfer_worker();
                        self.transfers = Some(jobs.clone());
                        jobs
                    }
                };
                if jobs.send(job).await.is_err() {
                    self.state.sub_pending(1);
                    return false;
                }
                true
            }
            Action::Close => false,
        }
    }

    /// Starts the blocking thread that streams this connection's transfers in turn.
    fn start_transfer_worker(&self) -> mpsc::Sender<TransferJob> {
        let (jobs_tx, mut jobs_rx) = mpsc::channel::<TransferJob>(TRANSFER_QUEUE);
        let worker = TransferWorker {
            tx: self.tx.clone(),
            budget: self.budget.clone(),
            state: self.state.clone(),
            counters: self.shared.responder.counters().clone(),
            transport: self.shared.responder.transport(),
            key: self.key,
            handle: Handle::current(),
        };
        // The thread ends when the reader drops the job queue and the queue is empty, or when
        // the connection is gone (the response queue or the budget closed).
        let _detached = tokio::task::spawn_blocking(move || {
            let mut out = vec![0u8; MAX_MESSAGE];
            while let Some(job) = jobs_rx.blocking_recv() {
                let completed = worker.stream(&job, &mut out);
                worker.state.sub_pending(1);
                if !completed {
                    return;
                }
            }
        });
        jobs_tx
    }
}

/// The budget a frame takes: its length in bytes (at most 65,537).
fn permits(frame: &[u8]) -> u32 {
    u32::try_from(frame.len()).unwrap_or(u32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Transfer worker
// ---------------------------------------------------------------------------------------------

/// Streams zone transfers into the connection's queue, from a blocking thread.
struct TransferWorker {
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Semaphore>,
    state: Arc<ConnState>,
    counters: Arc<Counters>,
    /// The label the transfer's response counts under.
    transport: Transport,
    key: usize,
    handle: Handle,
}

impl TransferWorker {
    /// Queues every message of one transfer, in order; false when the connection is gone.
    fn stream(&self, job: &TransferJob, out: &mut [u8]) -> bool {
        let mut stream = job.request.stream();
        let mut first = true;
        while let Some(len) = stream.next_message(out) {
            let Some(message) = out.get(..len) else {
                break;
            };
            let frame = framed(message);
            let acquire = self.budget.clone().acquire_many_owned(permits(&frame));
            let Ok(permit) = self.handle.block_on(acquire) else {
                return false;
            };
            let outgoing = Outgoing {
                frame,
                _permit: permit,
                settles: false,
            };
            if self.tx.blocking_send(outgoing).is_err() {
                return false;
            }
            if first {
                first = false;
                let latency = job.received.elapsed();
                self.counters.with(self.key, |m| {
                    m.count_response(self.transport, Rcode::NoError);
                    m.observe_latency(self.transport, metrics::Source::Zone, latency);
                });
            }
            // A long transfer is activity: the connection is not idle while it runs.
            self.state.touch();
        }
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

/// Writes queued frames, joining small ones into one write, until every sender is gone; then
/// closes the sending side and returns true. Returns false as soon as a write fails or takes
/// longer than `timeout`.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<Outgoing>,
    state: &ConnState,
    timeout: Duration,
) -> bool {
    let mut batch: Vec<u8> = Vec::new();
    let mut held: Vec<Outgoing> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut bytes = first.frame.len();
        held.push(first);
        while bytes < BATCH_BYTES && held.len() < BATCH_MESSAGES {
            match rx.try_recv() {
                Ok(next) => {
                    bytes += next.frame.len();
                    held.push(next);
                }
                Err(_) => break,
            }
        }
        let data: &[u8] = match held.as_slice() {
            [one] => &one.frame,
            many => {
                batch.clear();
                for m in many {
                    batch.extend_from_slice(&m.frame);
                }
                &batch
            }
        };
        match tokio::time::timeout(timeout, wr.write_all(data)).await {
            Ok(Ok(())) => {}
            _ => return false,
        }
        state.touch();
        state.sub_pending(held.iter().filter(|m| m.settles).count());
        // Dropping the frames returns their bytes to the budget.
        held.clear();
        if batch.capacity() > 2 * BATCH_BYTES {
            batch = Vec::new();
        }
    }
    matches!(
        tokio::time::timeout(timeout, wr.shutdown()).await,
        Ok(Ok(()))
    )
}

// ---------------------------------------------------------------------------------------------
// FrameBuf
// ---------------------------------------------------------------------------------------------

/// The bytes read and not yet answered: zero or more complete frames, then maybe the start of
/// one more.
#[derive(Debug)]
struct FrameBuf {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// When the first byte of the incomplete message at the end arrived (about: the time of the
    /// read that brought it).
    partial_since: Option<Instant>,
    last_read: Instant,
}

impl FrameBuf {
    fn new() -> FrameBuf {
        FrameBuf {
            buf: vec![0; INITIAL_READ],
            start: 0,
            end: 0,
            partial_since: None,
            last_read: Instant::now(),
        }
    }

    fn pending(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or(&[])
    }

    /// The length the next message announces, once its two length bytes are here.
    fn announced(&self) -> Option<usize> {
        match self.pending() {
            [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
            _ => None,
        }
    }

    /// Where the next complete message lies in the buffer.
    fn next_frame(&self) -> Option<Range<usize>> {
        let len = self.announced()?;
        let have = self.end - self.start;
        (have >= 2 + len).then(|| self.start + 2..self.start + 2 + len)
    }

    fn slice(&self, range: Range<usize>) -> Option<&[u8]> {
        self.buf.get(range)
    }

    /// Drops a message returned by [`FrameBuf::next_frame`] and its length.
    fn consume(&mut self, message: Range<usize>) {
        self.start = message.end.min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// After the complete frames are consumed: note whether a message is half here, and give
    /// back memory a large message took.
    fn settle(&mut self) {
        if self.start == self.end {
            self.partial_since = None;
            if self.buf.len() > SHRINK_ABOVE {
                self.buf.truncate(INITIAL_READ);
                self.buf.shrink_to_fit();
            }
        } else if self.partial_since.is_none() {
            self.partial_since = Some(self.last_read);
        }
    }

    /// Room to read into: always at least one byte, and enough for the whole of the message
    /// being read.
    fn spare(&mut self) -> &mut [u8] {
        let need = self.announced().map_or(2, |len| len + 2);
        if self.start > 0 && (self.end == self.buf.len() || self.buf.len() - self.start < need) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.start < need {
            self.buf.resize(self.start + need, 0);
        }
        if self.end == self.buf.len() {
            // Complete frames are consumed before reading, so this cannot happen; grow anyway
            // rather than hand out an empty slice (a read of 0 bytes would look like EOF).
            self.buf.resize(self.buf.len() + INITIAL_READ, 0);
        }
        self.buf.get_mut(self.end..).unwrap_or(&mut [])
    }

    /// Notes `n` bytes read into [`FrameBuf::spare`].
    fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
        self.last_read = Instant::now();
        if self.partial_since.is_none() && self.start < self.end {
            self.partial_since = Some(self.last_read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(buf: &mut FrameBuf, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let spare = buf.spare();
            let n = spare.len().min(rest.len());
            spare[..n].copy_from_slice(&rest[..n]);
            buf.filled(n);
            rest = &rest[n..];
        }
    }

    fn frames(buf: &mut FrameBuf) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(r) = buf.next_frame() {
            out.push(buf.slice(r.clone()).unwrap().to_vec());
            buf.consume(r);
        }
        buf.settle();
        out
    }

    #[test]
    fn frames_split_anywhere() {
        let mut wire = Vec::new();
        for m in [&b"abc"[..], b"", b"hello world"] {
            wire.extend_from_slice(&framed(m));
        }
        for split in 0..wire.len() {
            let mut buf = FrameBuf::new();
            feed(&mut buf, &wire[..split]);
            let mut got = frames(&mut buf);
            feed(&mut buf, &wire[split..]);
            got.extend(frames(&mut buf));
            assert_eq!(got, vec![b"abc".to_vec(), vec![], b"hello world".to_vec()]);
            assert!(buf.partial_since.is_none());
        }
    }

    #[test]
    fn grows_for_a_large_message_and_shrinks_after() {
        let big = vec![7u8; 60_000];
        let mut buf = FrameBuf::new();
        let wire = framed(&big);
        feed(&mut buf, &wire[..100]);
        assert!(frames(&mut buf).is_empty());
        assert!(buf.partial_since.is_some());
        feed(&mut buf, &wire[100..]);
        assert_eq!(frames(&mut buf), vec![big]);
        assert_eq!(buf.buf.len(), INITIAL_READ);
    }

    #[test]
    fn max_sized_frame_fits() {
        let big = vec![1u8; MAX_MESSAGE];
        let mut buf = FrameBuf::new();
        feed(&mut buf, b"\x00\x01x");
        feed(&mut buf, &framed(&big));
        let got = frames(&mut buf);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].len(), MAX_MESSAGE);
    }
}
