//! The pipeline that turns one query into one response: read, route, answer, finish.
//!
//! [`Engine::respond`] runs the stages in order, each returning an explicit decision:
//!
//! 0. **Admit**: the query ACL of the listener the query came to ([`Engine::respond_on`]), or
//!    the engine-wide one ([`EngineConfig::query_acl`]). Decision: drop (nothing is read), refuse
//!    (REFUSED with EDE 18, [`QueryError::QueryRefused`]), or go on. With the default ACL,
//!    which allows everyone, this is one binary search over one segment.
//! 1. **Read** ([`crate::query`]): header, framing, EDNS, opcode, question count, QTYPE.
//!    Decision: drop, reject with an error, or go on.
//! 2. **Route**: which part of the server answers. Class IN goes to the closest enclosing zone
//!    ([`Catalog::find`]); when no zone encloses the name, to the cache and the resolver for a
//!    client offered recursion ([`crate::recursion`]; the listener's recursion ACL, or the
//!    resolver's), else it is refused (or dropped, when the ACL says so); class CH to the
//!    identity names ([`crate::chaos`]); AXFR and IXFR to the transfer checks (ACL, TCP, zone
//!    apex). Decision: a `Route`.
//! 3. **Answer** ([`crate::answer`], [`crate::chaos`]): write the sections.
//! 4. **Finish**: the response code, the OPT record (RFC 6891 section 6.1: present when the
//!    query had one, our payload size, the DO bit echoed, NSID when asked for and configured), and
//!    TC when required data did not fit: the response is then cut back to the question and OPT,
//!    so that no partial answer is cached, and the client retries over TCP (RFC 2181 section 9,
//!    RFC 6891 section 7).
//!
//! # Cookies
//!
//! An engine built [`Engine::with_cookies`] is a DNS cookie server (RFC 7873, RFC 9018; see
//! [`guard::cookie`]). The read stage checks the query's COOKIE option; every response to a
//! query that carried one (errors, cache answers and the answers of a later resolution
//! included) carries the client cookie and our server cookie, in room kept for it like NSID's.
//! With [`CookiePolicy::require`], a UDP query whose client cookie comes without a valid server
//! cookie is answered BADCOOKIE and nothing else (RFC 7873 section 5.2.3); TCP never needs one.
//! [`ReplyInfo::valid_cookie`] tells the transport that the client proved its address. An
//! invalid server cookie, and every BADCOOKIE sent, is a security event
//! ([`Action::CookieFailure`], reasons "cookie invalid" and "badcookie").
//!
//! # Sizes
//!
//! Over UDP a response holds at most 512 bytes without EDNS; with EDNS, the client's payload
//! size (512 when it says less) capped by ours, [`EngineConfig::udp_payload`] (RFC 6891 section
//! 6.2.5). Over TCP, 65,535 bytes. Never more than `out.len()`: give the engine a buffer of at
//! least our UDP payload size for UDP and 65,535 bytes for TCP.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cache::Time;
use events::{Action, Event, Events};
use guard::{Acl, AclAction};

use wire::edns::OptionCode;
use wire::message::{Header, Section};
use wire::writer::MessageWriter;
use wire::{Class, RType, Rcode};

use crate::answer::{self, AnswerKind};
use crate::catalog::{Catalog, ZoneId};
use crate::chaos;
use crate::config::{ConfigError, EngineConfig, ListenerAcl};
use crate::detection::Detection;
use crate::error::{AclPurpose, QueryError};
use crate::policy::SharedPolicy;
use crate::query::{self, ClientEdns, CookieCheck, Question, Read, Request};
use crate::recursion::{RecursionRequest, Resolver};
use crate::transfer::TransferRequest;

/// Bytes an OPT record without options takes.
pub(crate) const OPT_LEN: usize = 11;
/// Largest DNS message (the TCP length prefix is 16 bits).
const MAX_MESSAGE: usize = 65_535;
/// The UDP limit without EDNS, and the smallest with it (RFC 1035 section 4.2.1).
const CLASSIC_UDP: u16 = 512;
/// Room kept for an Extended DNS Error option: its header, code and a short text.
pub(crate) const EDE_ROOM: usize = 4 + 2 + 64;
/// Room an edns-tcp-keepalive option with its timeout takes in a response.
const KEEPALIVE_ROOM: usize = 4 + 2;
/// Responses over encrypted transports are padded to a multiple of this many bytes, the
/// block-length policy RFC 8467 section 4.1 recommends for responses.
pub const RESPONSE_PADDING_BLOCK: usize = 468;
/// Room a COOKIE option takes in a response: its header, the client and our server cookie.
pub(crate) const COOKIE_ROOM: usize =
    4 + guard::cookie::CLIENT_COOKIE_LEN + guard::cookie::SERVER_COOKIE_LEN;

/// The transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: responses are size-limited and may be truncated.
    Udp,
    /// TCP: up to 65,535 bytes, transfers allowed.
    Tcp,
    /// An encrypted transport (DNS over TLS, HTTPS or QUIC): a stream transport like TCP, whose
    /// responses are also padded (RFC 7830, RFC 8467) when the query was.
    Encrypted,
}

impl Transport {
    /// Whether responses may be up to 65,535 bytes (everything but UDP).
    pub fn is_stream(self) -> bool {
        self != Transport::Udp
    }
}

/// Who asked, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Client {
    /// The client's address (for the transfer ACL).
    pub addr: IpAddr,
    /// The transport the query came over.
    pub transport: Transport,
}

/// The listener a query came to, for its ACLs: from [`Engine::listener`]. The default is a
/// listener without ACLs of its own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Listener(usize);

/// Which part of the server produced a reply, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerSource {
    /// A zone answered (with the kind of answer the last lookup gave).
    Zone {
        /// The zone that started the answer.
        zone: ZoneId,
        /// What the answer says.
        kind: AnswerKind,
    },
    /// A CHAOS identity name.
    Chaos,
    /// The resolver's cache (`stale`: from expired data, RFC 8767).
    Cache {
        /// Whether expired data answered.
        stale: bool,
    },
    /// A resolution that just finished.
    Recursion,
    /// An IXFR over UDP, answered with the zone's SOA alone.
    Transfer {
        /// The zone asked for.
        zone: ZoneId,
    },
    /// A stage rejected the query.
    Error(QueryError),
    /// The answer could not be written (a zone with malformed data): SERVFAIL.
    Failure,
    /// The tunnelling detector enforced a verdict ([`crate::detection`]).
    Detection,
    /// A blocklist or response policy zone answered ([`crate::policy`]).
    Policy {
        /// Which kind of rule matched.
        trigger: guard::policy::Trigger,
    },
}

/// A response written into the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyInfo {
    /// Length of the response at the start of the buffer.
    pub len: usize,
    /// Its response code (12 bits, EDNS included).
    pub rcode: Rcode,
    /// The QTYPE asked for, when the query had a readable question.
    pub qtype: Option<RType>,
    /// Whether TC is set.
    pub truncated: bool,
    /// What produced it.
    pub source: AnswerSource,
    /// A cached entry used is near its expiry: the transport should refresh it in the
    /// background (prefetch; the question is the query's).
    pub prefetch: bool,
    /// The query carried a valid server cookie of ours: the client is not forging its address
    /// (RFC 7873), so rate limiting lets its responses through.
    pub valid_cookie: bool,
}

/// DNS cookies as a server: the secrets (shared by every engine a reload builds, and rotated
/// in place) and whether UDP queries must carry a valid server cookie.
#[derive(Clone, Debug)]
pub struct CookiePolicy {
    /// The current and previous server secrets.
    pub cookies: Arc<guard::Cookies>,
    /// Answer BADCOOKIE to UDP queries with a client cookie and no valid server cookie.
    pub require: bool,
    /// Where cookie failures are reported.
    pub events: Events,
}

/// What to do with a query.
#[derive(Debug)]
pub enum Outcome {
    /// Send the response described.
    Reply(ReplyInfo),
    /// Send nothing.
    Drop(QueryError),
    /// Stream a zone transfer (TCP only); see [`TransferRequest::stream`].
    Transfer(Box<TransferRequest>),
    /// Not in the cache: resolve it, then answer with [`Engine::write_answer`] (or
    /// [`Engine::respond_stale`] when the resolution failed).
    Recurse(Box<RecursionRequest>),
}

/// Where a query goes after the read stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Zone(ZoneId),
    Chaos,
    Transfer(ZoneId),
    /// IXFR over UDP from an allowed client.
    SoaOnly(ZoneId),
    /// The cache, then resolution (RD set, recursion offered).
    Recurse,
    /// The cache alone (RD clear, recursion offered).
    CacheOnly,
    Reject(QueryError),
}

/// The authoritative engine: zones and settings, shared read-only by every worker.
#[derive(Debug)]
pub struct Engine {
    pub(crate) catalog: Catalog,
    pub(crate) config: EngineConfig,
    pub(crate) resolver: Option<Resolver>,
    pub(crate) cookies: Option<CookiePolicy>,
    pub(crate) policy: Option<SharedPolicy>,
    pub(crate) detection: Option<Detection>,
    pub(crate) events: Events,
}

impl Engine {
    /// An engine answering from `catalog` with `config` (checked first).
    pub fn new(catalog: Catalog, config: EngineConfig) -> Result<Engine, ConfigError> {
        config.validate()?;
        Ok(Engine {
            catalog,
            config,
            resolver: None,
            cookies: None,
            policy: None,
            detection: None,
            events: Events::disabled(),
        })
    }

    /// This engine, answering DNS cookies with `policy` (see the [module docs](self)).
    pub fn with_cookies(mut self, policy: CookiePolicy) -> Engine {
        self.cookies = Some(policy);
        self
    }

    /// The cookie policy, when cookies are on.
    pub fn cookies(&self) -> Option<&CookiePolicy> {
        self.cookies.as_ref()
    }

    /// This engine, also resolving for the clients `resolver` allows (see [`crate::recursion`]).
    pub fn with_resolver(mut self, resolver: Resolver) -> Engine {
        self.resolver = Some(resolver);
        self
    }

    /// The resolver part, when recursion is on.
    pub fn resolver(&self) -> Option<&Resolver> {
        self.resolver.as_ref()
    }

    /// Whether recursion (and the cache) is offered to `addr` on a listener without ACLs of its
    /// own.
    pub fn recursion_offered(&self, addr: IpAddr) -> bool {
        self.recursion(Listener::default(), addr) == Some(AclAction::Allow)
    }

    /// The listener bound to `addr` (as configured), for [`Engine::respond_on`]: one with ACLs
    /// of its own ([`EngineConfig::listeners`]), else the default. Cheap: a scan of the
    /// listeners with ACLs of their own; call it once per batch of queries.
    pub fn listener(&self, addr: SocketAddr) -> Listener {
        self.config
            .listeners
            .iter()
            .position(|l| l.addr == addr)
            .map_or(Listener::default(), |i| Listener(i + 1))
    }

    fn listener_acl(&self, listener: Listener) -> Option<&ListenerAcl> {
        listener
            .0
            .checked_sub(1)
            .and_then(|i| self.config.listeners.get(i))
    }

    /// The query ACL of `listener`.
    pub fn query_acl(&self, listener: Listener) -> &Acl {
        self.listener_acl(listener)
            .and_then(|l| l.query.as_ref())
            .unwrap_or(&self.config.query_acl)
    }

    /// What the recursion ACL of `listener` does with `addr`; `None` without a resolver.
    pub(crate) fn recursion(&self, listener: Listener, addr: IpAddr) -> Option<AclAction> {
        let resolver = self.resolver.as_ref()?;
        let acl = self
            .listener_acl(listener)
            .and_then(|l| l.recursion.as_ref())
            .unwrap_or(resolver.acl());
        Some(acl.decide(addr))
    }

    /// The zones.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Answers `query` from `client` into `out`; see the [module docs](self). `now` is the
    /// caller's clock, on the cache's time scale ([`cache::Time`]): cached TTLs count down from
    /// it. Never panics and never allocates, except to start a zone transfer or a recursion.
    /// The ACLs are the engine-wide ones; [`Engine::respond_on`] uses a listener's.
    pub fn respond(&self, query: &[u8], client: &Client, now: Time, out: &mut [u8]) -> Outcome {
        self.respond_on(Listener::default(), query, client, now, out)
    }

    /// [`Engine::respond`] for a query that came to `listener`: its query and recursion ACLs
    /// apply.
    pub fn respond_on(
        &self,
        listener: Listener,
        query: &[u8],
        client: &Client,
        now: Time,
        out: &mut [u8],
    ) -> Outcome {
        let cookies = self.cookies.as_ref().map(|p| CookieCheck {
            cookies: &p.cookies,
            ip: client.addr,
            // Unix seconds modulo 2^32, as cookie timestamps count (RFC 9018 section 4.3).
            now: (now.as_millis() / 1000) as u32,
        });
        // Stage 0: admit.
        match self.query_acl(listener).decide(client.addr) {
            AclAction::Allow => {}
            AclAction::Drop => return Outcome::Drop(QueryError::AclDrop(AclPurpose::Query)),
            AclAction::Refuse => {
                return match query::read(query, cookies, client.transport) {
                    Read::Drop(e) => Outcome::Drop(e),
                    // A malformed query gets its own error, as from anyone.
                    Read::Reject(request, e) => self.reject(&request, e, client, out),
                    Read::Query(request) => {
                        self.reject(&request, QueryError::QueryRefused, client, out)
                    }
                };
            }
        }
        let read = query::read(query, cookies, client.transport);
        if let Some(policy) = &self.cookies {
            self.cookie_event(policy, &read, client);
        }
        let valid_cookie = read.valid_cookie();
        let mut outcome = self.respond_inner(listener, read, client, now, out);
        if let Outcome::Recurse(request) = &mut outcome {
            request.set_listener(listener);
        }
        if let Outcome::Reply(info) = &mut outcome {
            info.valid_cookie = valid_cookie;
            if self.recursion(listener, client.addr) == Some(AclAction::Allow) {
                // RA (RFC 1035 section 4.1.1): set in every response to a client offered
                // recursion, zone and error answers included. Bit 7 of the fourth header byte.
                if let Some(flags) = out.get_mut(3) {
                    *flags |= 0x80;
                }
            }
        }
        outcome
    }

    fn respond_inner(
        &self,
        listener: Listener,
        read: Read<'_>,
        client: &Client,
        now: Time,
        out: &mut [u8],
    ) -> Outcome {
        let request = match read {
            Read::Drop(e) => return Outcome::Drop(e),
            Read::Reject(request, e) => return self.reject(&request, e, client, out),
            Read::Query(request) => request,
        };
        if self.cookie_missing(&request, client) {
            return self.reject(&request, QueryError::BadCookie, client, out);
        }
        let Some(question) = &request.question else {
            return self.reject(&request, QueryError::QuestionCount(0), client, out);
        };
        match self.route(listener, &request, question, client) {
            Route::Zone(zone) => self.answer(&request, question, zone, client, out),
            Route::Recurse => self.policed(&request, question, client, now, true, out),
            Route::CacheOnly => self.policed(&request, question, client, now, false, out),
            Route::Chaos => self.chaos(&request, question, client, out),
            Route::SoaOnly(zone) => self.soa_only(&request, question, zone, client, out),
            Route::Transfer(id) => match self.catalog.zone(id) {
                Some(zone) => Outcome::Transfer(Box::new(TransferRequest::new(
                    zone.clone(),
                    id,
                    &request,
                    question.qname.clone(),
                    question.qtype,
                    self.config.udp_payload,
                ))),
                None => self.reject(&request, QueryError::TransferNotZone, client, out),
            },
            Route::Reject(e) => self.reject(&request, e, client, out),
        }
    }

    /// Cookies are required, the query came over UDP with a client cookie, and its server
    /// cookie is missing or invalid (RFC 7873 section 5.2.3). Queries without a COOKIE option
    /// are answered as by a server that does not know cookies.
    fn cookie_missing(&self, request: &Request<'_>, client: &Client) -> bool {
        self.cookies.as_ref().is_some_and(|p| p.require)
            && client.transport == Transport::Udp
            && request
                .edns
                .and_then(|e| e.cookie)
                .is_some_and(|c| c.verdict != guard::Verdict::Valid)
    }

    /// Reports an invalid server cookie, or the BADCOOKIE about to be sent, as a security
    /// event. Queries without a server cookie are the normal first contact: no event, unless
    /// cookies are required.
    fn cookie_event(&self, policy: &CookiePolicy, read: &Read<'_>, client: &Client) {
        let (request, badcookie) = match read {
            Read::Query(r) => (r, self.cookie_missing(r, client)),
            Read::Reject(r, _) => (r, false),
            Read::Drop(_) => return,
        };
        let Some(cookie) = request.edns.and_then(|e| e.cookie) else {
            return;
        };
        let reason = match cookie.verdict {
            _ if badcookie => "badcookie",
            guard::Verdict::Invalid(_) => "cookie invalid",
            _ => return,
        };
        policy.events.emit_with(Action::CookieFailure, || {
            let event = Event::new(Action::CookieFailure, reason).client(client.addr);
            match &request.question {
                Some(q) => event.question(q.qname.as_ref(), q.qtype),
                None => event,
            }
        });
    }

    // --- stage 2: route ----------------------------------------------------------------------

    fn route(
        &self,
        listener: Listener,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
    ) -> Route {
        let qtype = question.qtype;
        let transfer = qtype == RType::AXFR || qtype == RType::IXFR;
        match question.qclass {
            Class::IN => {}
            Class::CH if !transfer => return Route::Chaos,
            other => return Route::Reject(QueryError::Class(other)),
        }
        if transfer {
            if qtype == RType::AXFR && client.transport == Transport::Udp {
                return Route::Reject(QueryError::TransferOverUdp);
            }
            // A client that may transfer nothing learns nothing, not even which names are
            // zones we serve.
            let zone = self.catalog.exact(question.qname.as_ref());
            let origin = zone.map(|(_, z)| z.origin());
            return match (self.config.transfer_decision(origin, client.addr), zone) {
                (AclAction::Refuse, _) => Route::Reject(QueryError::TransferDenied),
                (AclAction::Drop, _) => Route::Reject(QueryError::AclDrop(AclPurpose::Transfer)),
                (AclAction::Allow, None) => Route::Reject(QueryError::TransferNotZone),
                (AclAction::Allow, Some((id, _))) if client.transport == Transport::Udp => {
                    Route::SoaOnly(id)
                }
                (AclAction::Allow, Some((id, _))) => Route::Transfer(id),
            };
        }
        match self.catalog.find_for(question.qname.as_ref(), qtype) {
            Some((id, _)) => Route::Zone(id),
            None => match self.recursion(listener, client.addr) {
                Some(AclAction::Allow) if request.header.flags.rd() => Route::Recurse,
                Some(AclAction::Allow) => Route::CacheOnly,
                Some(AclAction::Refuse) => Route::Reject(QueryError::RecursionDenied),
                Some(AclAction::Drop) => Route::Reject(QueryError::AclDrop(AclPurpose::Recursion)),
                None => Route::Reject(QueryError::NotAuthoritative),
            },
        }
    }

    // --- stage 3: answer ---------------------------------------------------------------------

    fn answer(
        &self,
        request: &Request<'_>,
        question: &Question,
        zone: ZoneId,
        client: &Client,
        out: &mut [u8],
    ) -> Outcome {
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), true, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        let q = answer::Question {
            catalog: &self.catalog,
            qtype: question.qtype,
            dnssec_ok: edns.is_some_and(|e| e.dnssec_ok),
            full_any: client.transport.is_stream(),
            any_policy: self.config.any_policy,
        };
        let answered = answer::answer(&q, zone, &question.qname, &mut w);
        w.set_flags(w.flags().with_aa(answered.authoritative));
        let mut source = AnswerSource::Zone {
            zone,
            kind: answered.kind,
        };
        let mut rcode = answered.rcode;
        if answered.truncated || answered.failed {
            if answered.failed {
                rcode = Rcode::SERVFAIL;
                source = AnswerSource::Failure;
            }
            let aa = answered.authoritative && !answered.failed;
            let Some(mut w) = self.start(out, limit, request, Some(question), aa, edns) else {
                return Outcome::Drop(QueryError::OutputTooSmall);
            };
            w.set_flags(w.flags().with_tc(answered.truncated && !answered.failed));
            let len = self.finish(w, rcode, edns, None);
            return Outcome::Reply(ReplyInfo {
                len,
                rcode,
                qtype: Some(question.qtype),
                truncated: !answered.failed,
                source,
                prefetch: false,
                valid_cookie: false,
            });
        }
        let len = self.finish(w, rcode, edns, None);
        Outcome::Reply(ReplyInfo {
            len,
            rcode,
            qtype: Some(question.qtype),
            truncated: false,
            source,
            prefetch: false,
            valid_cookie: false,
        })
    }

    fn chaos(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        out: &mut [u8],
    ) -> Outcome {
        let text = match chaos::identity(&self.config, &question.qname) {
            Ok(text) => text,
            Err(e) => return self.reject(request, e, client, out),
        };
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), true, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        // At most 12 + 259 + 266 bytes, below the 512-byte minimum: it always fits.
        let truncated = chaos::write(text, question, &mut w).is_err();
        w.set_flags(w.flags().with_tc(truncated));
        let len = self.finish(w, Rcode::NOERROR, edns, None);
        Outcome::Reply(ReplyInfo {
            len,
            rcode: Rcode::NOERROR,
            qtype: Some(question.qtype),
            truncated,
            source: AnswerSource::Chaos,
            prefetch: false,
            valid_cookie: false,
        })
    }

    /// An IXFR over UDP: our SOA alone, which sends the client to TCP (RFC 1995 section 2).
    fn soa_only(
        &self,
        request: &Request<'_>,
        question: &Question,
        zone: ZoneId,
        client: &Client,
        out: &mut [u8],
    ) -> Outcome {
        let Some(z) = self.catalog.zone(zone) else {
            return self.reject(request, QueryError::TransferNotZone, client, out);
        };
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), true, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        let soa = z.soa();
        let truncated = w
            .push_rrset(
                Section::Answer,
                z.origin(),
                RType::SOA,
                Class::IN,
                soa.ttl(),
                soa.rdatas(),
            )
            .is_err();
        w.set_flags(w.flags().with_tc(truncated));
        let len = self.finish(w, Rcode::NOERROR, edns, None);
        Outcome::Reply(ReplyInfo {
            len,
            rcode: Rcode::NOERROR,
            qtype: Some(question.qtype),
            truncated,
            source: AnswerSource::Transfer { zone },
            prefetch: false,
            valid_cookie: false,
        })
    }

    /// The error response for `error` (the one place errors become responses), or a drop.
    pub(crate) fn reject(
        &self,
        request: &Request<'_>,
        error: QueryError,
        client: &Client,
        out: &mut [u8],
    ) -> Outcome {
        let Some(rcode) = error.rcode() else {
            return Outcome::Drop(error);
        };
        let question = request.question.as_ref().filter(|_| error.keeps_question());
        let edns = request.edns.filter(|_| error.keeps_opt());
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, question, false, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        let ede = error.extended_error().filter(|_| edns.is_some());
        if ede.is_some() {
            // An error response holds no records: the room is there (or the EDE is left out).
            let _ = w.reserve(self.opt_room(edns) + EDE_ROOM);
        }
        let len = self.finish(w, rcode, edns, ede);
        Outcome::Reply(ReplyInfo {
            len,
            rcode,
            qtype: question.map(|q| q.qtype),
            truncated: false,
            source: AnswerSource::Error(error),
            prefetch: false,
            valid_cookie: false,
        })
    }

    // --- stage 4: finish ---------------------------------------------------------------------

    /// The most bytes the response may take.
    pub(crate) fn limit(
        &self,
        edns: Option<ClientEdns>,
        transport: Transport,
        out: usize,
    ) -> usize {
        let limit = match (transport, edns) {
            (Transport::Tcp | Transport::Encrypted, _) => MAX_MESSAGE,
            (Transport::Udp, None) => usize::from(CLASSIC_UDP),
            (Transport::Udp, Some(e)) => {
                usize::from(e.payload.max(CLASSIC_UDP).min(self.config.udp_payload))
            }
        };
        limit.min(out)
    }

    /// The NSID to send, when the client asked and we have one.
    fn nsid(&self, edns: Option<ClientEdns>) -> Option<&[u8]> {
        self.config
            .nsid
            .as_deref()
            .filter(|_| edns.is_some_and(|e| e.nsid))
    }

    /// The edns-tcp-keepalive timeout to send (RFC 7828 section 3.3.2), in units of 100 ms:
    /// to a client that signalled support over a stream transport.
    fn keepalive(&self, edns: Option<ClientEdns>) -> Option<u16> {
        self.config
            .tcp_keepalive
            .filter(|_| edns.is_some_and(|e| e.keepalive))
    }

    /// Room for the OPT record with the options we add to every response: NSID when asked
    /// for, the cookie when the query had one, the keepalive timeout. Padding takes what is left
    /// of a stream transport's 65,535 bytes, so it needs no room kept.
    pub(crate) fn opt_room(&self, edns: Option<ClientEdns>) -> usize {
        let nsid = self.nsid(edns).map_or(0, |n| 4 + n.len());
        let cookie = edns.and_then(|e| e.cookie).map_or(0, |_| COOKIE_ROOM);
        let keepalive = self.keepalive(edns).map_or(0, |_| KEEPALIVE_ROOM);
        OPT_LEN + nsid + cookie + keepalive
    }

    /// Starts a response: header, question, and room kept for the OPT record.
    pub(crate) fn start<'b>(
        &self,
        out: &'b mut [u8],
        limit: usize,
        request: &Request<'_>,
        question: Option<&Question>,
        authoritative: bool,
        edns: Option<ClientEdns>,
    ) -> Option<MessageWriter<'b>> {
        let header = Header {
            id: request.header.id,
            flags: request.response_flags().with_aa(authoritative),
            ..Header::default()
        };
        let mut w = MessageWriter::new(out, limit, header).ok()?;
        if let Some(q) = question {
            w.push_question(q.qname.as_ref(), q.qtype, q.qclass).ok()?;
        }
        if edns.is_some() && w.reserve(self.opt_room(edns)).is_err() {
            w.reserve(OPT_LEN).ok()?;
        }
        Some(w)
    }

    /// Sets the response code, adds the OPT record, and returns the response length.
    pub(crate) fn finish(
        &self,
        mut w: MessageWriter<'_>,
        rcode: Rcode,
        edns: Option<ClientEdns>,
        ede: Option<(u16, &str)>,
    ) -> usize {
        w.set_flags(w.flags().with_rcode(rcode));
        if let Some(e) = edns
            && let Ok(mut opt) = w.opt(self.config.udp_payload, rcode, e.dnssec_ok)
        {
            if let Some(nsid) = self.nsid(edns) {
                // Dropped when it does not fit: it is optional.
                let _ = opt.option(OptionCode::NSID, nsid);
            }
            if let Some(c) = e.cookie {
                // Room was kept by `start`.
                let _ = opt.cookie(&c.client, &c.server);
            }
            if let Some((code, text)) = ede {
                // Room was kept by the caller; dropped when it does not fit, as it is optional.
                let _ = opt.extended_error(code, text);
            }
            if let Some(timeout) = self.keepalive(edns) {
                let _ = opt.keepalive(timeout);
            }
            if e.pad {
                // Last, so that it rounds the whole message up (RFC 8467 section 4.1).
                let _ = opt.pad_to_block(RESPONSE_PADDING_BLOCK);
            }
            let _ = opt.finish();
        }
        w.finish().len()
    }
}
