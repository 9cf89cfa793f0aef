//! The resolver's transport: driver tasks that run the recursor, the upstream I/O it asks for,
//! and the way answers get back to clients.
//!
//! # Shape
//!
//! ```text
//!  UDP workers ──┐ try_send                      ┌──► fresh UDP socket per upstream query
//!                ├──► job queue ──► driver task ─┤    (random port from the OS CSPRNG)
//!  TCP conns  ───┘  (one per driver)  (Recursor)  └──► TCP connection (TC retry, TCP transmits)
//! ```
//!
//! The engine answers what it can (zones, the cache) in the UDP worker or TCP task that read
//! the query; a cache miss becomes [`engine::Outcome::Recurse`] and a [`Job`] for a driver. A
//! question always goes to the same driver (a hash of the lowercased name, type, class and CD
//! bit), so identical questions meet in one recursor and share one resolution. The queues are
//! bounded: when a driver's queue is full, the question is answered SERVFAIL with an Extended
//! DNS Error ([`engine::QueryError::ResolverBusy`]) and counted, rather than waiting.
//!
//! Each driver is a task on the multi-thread runtime owning one [`recursor::Recursor`] (seeded
//! from the OS CSPRNG). It submits client questions, starts an I/O task for each upstream
//! query the recursor hands out ([`crate::upstream`]), feeds their datagrams back, fires the
//! recursor's timers, and writes each finished answer with the engine (the one current when the
//! answer is ready) to every client waiting for it:
//!
//! - a UDP client from the worker's socket, with the source address the query came to
//!   ([`UdpReply`]: the same packet-information send as the workers');
//! - a TCP client through a oneshot channel to its connection task, which queues the answer
//!   like any other.
//!
//! A failed resolution (SERVFAIL) is answered from stale data when the cache allows it (RFC
//! 8767). An answer served from a cache entry near its expiry starts a background refresh
//! (`ReplyInfo::prefetch` → [`ResolverHandle::prefetch`] → `Recursor::prefetch`).

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use engine::RecursionRequest;
use nix::sys::socket::SockaddrStorage;
use socket2::Socket;
use tokio::sync::{mpsc, oneshot};

use crate::udp::Local;

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

/// Work for a driver.
#[derive(Debug)]
pub enum Job {
    /// A client question the cache could not answer.
    Resolve {
        /// What the response needs from the query.
        request: Box<RecursionRequest>,
        /// Where the response goes.
        reply: ReplyTo,
        /// When the query was received, for the latency metric.
        received: Instant,
    },
    /// Refresh a cached answer in the background (prefetch): no client waits.
    Prefetch {
        /// The question.
        request: Box<RecursionRequest>,
    },
}

impl Job {
    /// The request.
    pub fn request(&self) -> &RecursionRequest {
        match self {
            Job::Resolve { request, .. } | Job::Prefetch { request } => request,
        }
    }
}

/// Where a resolved answer goes.
#[derive(Debug)]
pub enum ReplyTo {
    /// A UDP client: sent from the worker's socket.
    Udp(UdpReply),
    /// A TCP client: the message (without its length prefix) goes to the connection task.
    Tcp(oneshot::Sender<Vec<u8>>),
}

/// What is needed to answer a UDP client from the socket its query came to.
pub struct UdpReply {
    pub(crate) socket: Arc<Socket>,
    pub(crate) peer: SockaddrStorage,
    pub(crate) local: Local,
}

impl std::fmt::Debug for UdpReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpReply")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl UdpReply {
    /// Sends `message`; errors are the client's problem (unreachable) and only counted.
    pub fn send(&self, message: &[u8]) -> std::io::Result<()> {
        crate::udp::send_one(&self.socket, &self.peer, self.local, message)
    }
}

// ---------------------------------------------------------------------------------------------
// ResolverHandle
// ---------------------------------------------------------------------------------------------

/// How workers and connections hand questions to the drivers; cheap to clone.
#[derive(Debug, Clone)]
pub struct ResolverHandle {
    queues: Arc<[mpsc::Sender<Job>]>,
}

impl ResolverHandle {
    /// A handle over the drivers' queues (from `spawn_drivers`).
    pub(crate) fn new(queues: Vec<mpsc::Sender<Job>>) -> ResolverHandle {
        ResolverHandle {
            queues: queues.into(),
        }
    }

    /// Queues `job` for the driver of its question without waiting; gives it back when that
    /// queue is full or the driver is gone.
    pub fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        let Some(queue) = self.queue_for(job.request()) else {
            return Err(Box::new(job));
        };
        queue.try_send(job).map_err(|e| {
            Box::new(match e {
                mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job) => {
                    job
                }
            })
        })
    }

    /// Queues a background refresh of `request`'s question; dropped when the queue is full.
    pub fn prefetch(&self, request: RecursionRequest) -> bool {
        self.submit(Job::Prefetch {
            request: Box::new(request),
        })
        .is_ok()
    }

    fn queue_for(&self, request: &RecursionRequest) -> Option<&mpsc::Sender<Job>> {
        let n = self.queues.len();
        (n > 0)
            .then(|| driver_index(request, n))
            .and_then(|i| self.queues.get(i))
    }
}

/// The driver for `request`'s question among `drivers`: a hash of the lowercased name, the
/// type, the class and CD (what makes two questions the same resolution).
pub fn driver_index(request: &RecursionRequest, drivers: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for b in request.qname().as_wire() {
        h.write_u8(b.to_ascii_lowercase());
    }
    request.qtype().0.hash(&mut h);
    request.qclass().0.hash(&mut h);
    request.checking_disabled().hash(&mut h);
    (h.finish() % drivers.max(1) as u64) as usize
}
