//! Answering one DNS message on a stream or message transport: TCP, DNS over TLS, DNS over
//! HTTPS and DNS over QUIC all read a whole query, hand it to a [`Responder`], and send back
//! what it gives, so the same policies and counts apply to every one of them.
//!
//! A [`Responder`] belongs to one listener. It admits the query through the client limits,
//! answers it with the engine (query ACL, zones, cache, policy), hands cache misses to the
//! resolver, reports ACL refusals and drops as events, and counts everything under the
//! listener's transport label (`tcp`, `dot`, `doh`, `doq`). Answers come back framed with the
//! 2-byte length of RFC 1035 section 4.2.2, which TCP, DoT and DoQ (RFC 9250 section 4.2) send
//! as is and DoH strips.
//!
//! Answering is synchronous: the engine neither waits nor locks, and writes into a per-thread
//! buffer, so a query costs one allocation, the framed answer.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{
    AnswerSource, Client, Outcome, QueryError, RecursionRequest, ReplyInfo, TransferRequest,
};
use metrics::{QType, Rcode, Registry, Transport, WorkerMetrics};
use tokio::sync::oneshot;

use crate::SharedEngine;
use crate::guards::Guards;
use crate::limits::{self, Gate};
use crate::resolver::{Job, ReplyTo, ResolverHandle};
use crate::tcp::{Counters, MAX_MESSAGE};

/// What [`Responder::answer`] gives for one query.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The response, after its 2-byte length.
    Reply(Vec<u8>),
    /// A zone transfer (AXFR, IXFR), for the transport to stream or refuse.
    Transfer(Box<TransferRequest>),
    /// Handed to the resolver: [`Responder::resolved`] waits for the answer.
    Resolving(oneshot::Receiver<Vec<u8>>),
    /// Nothing to send: the query was unreadable or a policy drops it. Over a stream the
    /// client has likely lost the framing, so the connection ends.
    Close,
}

/// Answers the queries of one listener; shared by its connections.
#[derive(Debug)]
pub(crate) struct Responder {
    engine: SharedEngine,
    /// The listener's address, which names its ACLs ([`engine::Engine::listener`]).
    listen: SocketAddr,
    resolver: Option<ResolverHandle>,
    /// The policies (client limits and dynamic blocks) and the event stream, where ACL
    /// refusals and drops and dynamic blocks are reported.
    guards: Guards,
    counters: Arc<Counters>,
    /// The dashboard's top-k tables, striped like `counters`, when it is served.
    top: Option<Box<[std::sync::Mutex<metrics::TopWorker>]>>,
    /// The label every count goes under.
    transport: Transport,
}

impl Responder {
    /// A responder for the listener at `listen`, counting under `transport`.
    pub(crate) fn new(
        engine: SharedEngine,
        listen: SocketAddr,
        resolver: Option<ResolverHandle>,
        guards: Guards,
        registry: &Registry,
        transport: Transport,
    ) -> Responder {
        let top = guards.top.as_ref().map(|t| {
            let stripes = std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1)
                .clamp(1, 64);
            (0..stripes)
                .map(|_| std::sync::Mutex::new(t.worker()))
                .collect()
        });
        Responder {
            engine,
            listen,
            resolver,
            guards,
            counters: Arc::new(Counters::new(registry)),
            top,
            transport,
        }
    }

    /// The counters, for the transport's own counts (connections opened and closed).
    pub(crate) fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// The label counts go under.
    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the listener's query ACL drops the client at `ip`: its connection closes at
    /// once, before any limit counts it. The drop is counted and reported here.
    pub(crate) fn dropped(&self, ip: IpAddr) -> bool {
        let engine = self.engine.load();
        let dropped =
            engine.query_acl(engine.listener(self.listen)).decide(ip) == guard::AclAction::Drop;
        if dropped {
            self.counters.with(0, |m| {
                m.count_dropped(self.transport, metrics::DropReason::Policy);
            });
            let e = QueryError::AclDrop(engine::AclPurpose::Query);
            crate::access::report(&self.guards.events, e, ip, &[]);
        }
        dropped
    }

    /// Answers one query from `client`, counting into stripe `key` (see the module docs).
    pub(crate) fn answer(
        &self,
        key: usize,
        client: &Client,
        query: &[u8],
        received: Instant,
    ) -> Answer {
        let engine = self.engine.load();
        let now = crate::clock::now();
        let (ip, guards, t) = (client.addr, &self.guards, self.transport);
        with_out_buffer(|out| {
            // The counters' lock is taken only when client limits are on.
            let gate = match guards.limits {
                Some(_) => self
                    .counters
                    .with(key, |m| limits::admit(guards, m, t, ip, query, now, out)),
                None => Gate::Answer,
            };
            match gate {
                Gate::Answer => {}
                Gate::Drop => return Answer::Close,
                Gate::Reply(len) => {
                    return out
                        .get(..len)
                        .map_or(Answer::Close, |r| Answer::Reply(framed(r)));
                }
            }
            let listener = engine.listener(self.listen);
            let outcome = engine.respond_on(listener, query, client, now, out);
            if let Some(stripes) = &self.top
                && let Some(stripe) = stripes.get(key % stripes.len().max(1))
            {
                let blocked = matches!(
                    &outcome,
                    Outcome::Reply(ReplyInfo {
                        source: AnswerSource::Policy { .. } | AnswerSource::Detection,
                        ..
                    })
                );
                // One count under the stripe's lock, as for `counters`.
                let mut top = stripe
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                top.observe(query, ip, blocked, now.as_millis() / 1000);
            }
            match outcome {
                Outcome::Reply(info) => match out.get(..info.len) {
                    Some(response) => {
                        if let AnswerSource::Error(e) = info.source {
                            crate::access::report(&guards.events, e, ip, response);
                        }
                        if guards.limits.is_some() {
                            self.counters.with(key, |m| {
                                limits::record(guards, m, ip, info.rcode.0, info.len, now);
                            });
                        }
                        if info.prefetch
                            && let Some(resolver) = &self.resolver
                            && let Some(request) = RecursionRequest::from_query(query, client)
                        {
                            resolver.prefetch(request);
                        }
                        let frame = framed(response);
                        self.counters
                            .with(key, |m| count_reply(m, t, &info, received.elapsed()));
                        Answer::Reply(frame)
                    }
                    None => Answer::Close,
                },
                Outcome::Drop(e) => {
                    if is_malformed(e) {
                        self.counters.with(key, |m| m.count_malformed(t));
                    }
                    if let QueryError::AclDrop(_) = e {
                        self.counters.with(key, |m| {
                            m.count_dropped(t, metrics::DropReason::Policy);
                        });
                        crate::access::report(&guards.events, e, ip, query);
                    }
                    Answer::Close
                }
                Outcome::Transfer(request) => {
                    let qtype = QType::from_code(request.qtype().0);
                    self.counters.with(key, |m| m.count_query(t, qtype));
                    Answer::Transfer(request)
                }
                Outcome::Recurse(request) => {
                    let qtype = QType::from_code(request.qtype().0);
                    self.counters.with(key, |m| m.count_query(t, qtype));
                    let (tx, rx) = oneshot::channel();
                    let job = Job::Resolve {
                        request,
                        reply: ReplyTo::Tcp(tx),
                        received,
                    };
                    let refused = match &self.resolver {
                        Some(resolver) => resolver.submit(job).err(),
                        None => Some(Box::new(job)),
                    };
                    let Some(job) = refused else {
                        return Answer::Resolving(rx);
                    };
                    // The resolver's queue is full: SERVFAIL "resolver busy" now.
                    let written = engine
                        .write_error(job.request(), QueryError::ResolverBusy, out)
                        .and_then(|info| Some((info.rcode.0, out.get(..info.len)?)));
                    match written {
                        Some((rcode, response)) => {
                            self.counters.with(key, |m| {
                                m.count_dropped(t, metrics::DropReason::Overload);
                                m.count_response(t, Rcode::from_code(rcode));
                            });
                            Answer::Reply(framed(response))
                        }
                        None => Answer::Close,
                    }
                }
            }
        })
    }

    /// Waits for the resolver's answer to a query of `client`; returns it framed and counted,
    /// or `None` when the resolver dropped it.
    pub(crate) async fn resolved(
        &self,
        rx: oneshot::Receiver<Vec<u8>>,
        key: usize,
        client: IpAddr,
        received: Instant,
    ) -> Option<Vec<u8>> {
        let message = rx.await.ok()?;
        let rcode = message.get(3).map_or(0, |b| u16::from(b & 0x0f));
        let t = self.transport;
        self.counters.with(key, |m| {
            let (now, len) = (crate::clock::now(), message.len());
            limits::record(&self.guards, m, client, rcode, len, now);
            m.count_response(t, Rcode::from_code(rcode));
            m.observe_latency(t, received.elapsed());
        });
        Some(framed(&message))
    }
}

/// Counts a response written by the engine.
fn count_reply(m: &mut WorkerMetrics, t: Transport, info: &ReplyInfo, latency: Duration) {
    match info.qtype {
        Some(qtype) => m.count_query(t, QType::from_code(qtype.0)),
        None => m.count_malformed(t),
    }
    if let AnswerSource::Error(e) = info.source
        && info.qtype.is_some()
        && is_malformed(e)
    {
        m.count_malformed(t);
    }
    m.count_response(t, Rcode::from_code(info.rcode.0));
    if info.truncated {
        m.count_truncated(t);
    }
    m.observe_latency(t, latency);
}

/// Whether the engine's reason means the message was not a well-formed query.
fn is_malformed(e: QueryError) -> bool {
    matches!(
        e,
        QueryError::ShortHeader | QueryError::Response | QueryError::Malformed(_)
    )
}

/// The message with its 2-byte length in front (RFC 1035 section 4.2.2).
pub(crate) fn framed(message: &[u8]) -> Vec<u8> {
    let len = u16::try_from(message.len()).unwrap_or(u16::MAX);
    let mut frame = Vec::with_capacity(message.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(message.get(..usize::from(len)).unwrap_or(message));
    frame
}

thread_local! {
    /// The engine's output buffer: one per thread, since answering never waits.
    static OUT: RefCell<Vec<u8>> = RefCell::new(vec![0; MAX_MESSAGE]);
}

/// Runs `f` with a buffer of [`MAX_MESSAGE`] bytes.
pub(crate) fn with_out_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    OUT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        // Only if `f` itself asked for the buffer again; never the case, but stay correct.
        Err(_) => f(&mut vec![0; MAX_MESSAGE]),
    })
}
