//! The resolver's side of the pipeline: who is offered recursion, answers from the cache, and
//! the responses written once a resolution has finished.
//!
//! A recursive resolver answers a name it does not serve by asking other servers (RFC 1034
//! section 4.3.1, RFC 1035 section 7). An [`Engine`] with a [`Resolver`] routes a query whose
//! name is in none of its zones (local zones included, which answer first) by the client and
//! the RD bit:
//!
//! | client | RD | route |
//! |---|---|---|
//! | in the recursion ACL | 1 | the cache ([`cache::Cache::answer`], no allocation); on a miss [`Outcome::Recurse`] |
//! | in the recursion ACL | 0 | the cache alone; on a miss the closest delegation the cache knows (a referral, as Unbound answers non-recursive queries), else REFUSED |
//! | outside it | any | REFUSED with EDE 18 "Prohibited" ([`QueryError::RecursionDenied`]) |
//!
//! RA is set in every response to a client in the ACL, and in none to others (RFC 1035 section
//! 4.1.1: RA says whether recursion is available *to this client*).
//!
//! After [`Outcome::Recurse`] the transport resolves the question and writes the response with
//! [`Engine::write_resolution`] from the [`RecursionRequest`] it was given (the client's ID, the
//! question as asked, RD and CD echoed, the OPT record with DO echoed and an Extended DNS Error
//! when the resolution carries one, TC over UDP when the answer does not fit). When the
//! resolution failed, [`Engine::respond_stale`] answers from expired data if the cache allows it
//! (RFC 8767, EDE 3 "Stale Answer"). AD is never set: nothing is validated yet.

use std::sync::Arc;

use cache::{AnswerMode, Cache, CacheAnswer, RrSet, Time};
use recursor::Resolution;
use wire::message::{Header, Section};
use wire::writer::MessageWriter;
use wire::{Class, Name, NameRef, RType, Rcode};

use guard::{Acl, Prefix};

use crate::engine::{
    AnswerSource, Client, EDE_ROOM, Engine, Listener, OPT_LEN, Outcome, ReplyInfo,
};
use crate::error::QueryError;
use crate::query::{self, ClientEdns, Question, Read, Request};

/// EDE INFO-CODE 3, "Stale Answer" (RFC 8914 section 4.4).
const EDE_STALE: u16 = 3;

/// The default recursion ACL: loopback and the private ranges (RFC 1918, RFC 4193 unique local,
/// link-local).
pub const DEFAULT_ALLOW_RECURSION: [&str; 7] = [
    "127.0.0.0/8",
    "::1",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

// ---------------------------------------------------------------------------------------------
// Resolver
// ---------------------------------------------------------------------------------------------

/// The engine's resolver part: the shared cache and the clients offered recursion.
#[derive(Debug, Clone)]
pub struct Resolver {
    cache: Arc<Cache>,
    acl: Acl,
    validating: bool,
}

impl Resolver {
    /// Recursion for the clients `acl` allows, answering from `cache` (kept across reloads:
    /// the same `Arc` goes into every new engine).
    pub fn new(cache: Arc<Cache>, acl: Acl) -> Resolver {
        Resolver {
            cache,
            acl,
            validating: false,
        }
    }

    /// The recursor validates DNSSEC: clients asking without CD are answered from validated
    /// data only, and secure answers get the AD bit when the client set DO or AD (RFC 6840
    /// section 5.8).
    pub fn with_validation(mut self, validating: bool) -> Resolver {
        self.validating = validating;
        self
    }

    /// Whether the recursor validates DNSSEC.
    pub fn validating(&self) -> bool {
        self.validating
    }

    /// [`DEFAULT_ALLOW_RECURSION`], parsed.
    pub fn default_prefixes() -> Vec<Prefix> {
        DEFAULT_ALLOW_RECURSION
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// The default recursion ACL: [`DEFAULT_ALLOW_RECURSION`] allowed, everyone else refused.
    pub fn default_acl() -> Acl {
        Acl::allowing(&Resolver::default_prefixes())
    }

    /// The cache.
    pub fn cache(&self) -> &Arc<Cache> {
        &self.cache
    }

    /// The recursion ACL (listeners may have their own).
    pub fn acl(&self) -> &Acl {
        &self.acl
    }
}

// ---------------------------------------------------------------------------------------------
// RecursionRequest
// ---------------------------------------------------------------------------------------------

/// What the response to a resolved query needs from the query: taken from it when the cache
/// missed, handed back to [`Engine::write_answer`] or [`Engine::respond_stale`].
#[derive(Clone, Debug)]
pub struct RecursionRequest {
    id: u16,
    qname: Name,
    qtype: RType,
    qclass: Class,
    rd: bool,
    cd: bool,
    /// AD in the query: the client understands AD without asking for DNSSEC records.
    ad: bool,
    pub(crate) edns: Option<ClientEdns>,
    client: Client,
    listener: Listener,
    /// When the detector scored the miss (the engine's clock, ms) and what it saw: its
    /// answer is reported to the detector too. `None` for requests the detector did not see.
    detect: Option<(u64, detect::Seen)>,
}

impl RecursionRequest {
    pub(crate) fn new(
        request: &Request<'_>,
        question: &Question,
        client: &Client,
    ) -> RecursionRequest {
        RecursionRequest {
            id: request.header.id,
            qname: question.qname.clone(),
            qtype: question.qtype,
            qclass: question.qclass,
            rd: request.header.flags.rd(),
            cd: request.header.flags.cd(),
            ad: request.header.flags.ad(),
            edns: request.edns,
            client: *client,
            listener: Listener::default(),
            detect: None,
        }
    }

    /// The request of a well-formed query with one question (for a prefetch, say); `None` for
    /// anything else.
    pub fn from_query(query: &[u8], client: &Client) -> Option<RecursionRequest> {
        match query::read(query, None, client.transport) {
            Read::Query(request) => {
                let question = request.question.as_ref()?;
                Some(RecursionRequest::new(&request, question, client))
            }
            _ => None,
        }
    }

    /// The query's ID.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// The name asked for, in the client's case.
    pub fn qname(&self) -> NameRef<'_> {
        self.qname.as_ref()
    }

    /// The type asked for.
    pub fn qtype(&self) -> RType {
        self.qtype
    }

    /// The class asked for.
    pub fn qclass(&self) -> Class {
        self.qclass
    }

    /// CD (RFC 4035 section 3.2.2): the client validates itself.
    pub fn checking_disabled(&self) -> bool {
        self.cd
    }

    /// DO (RFC 3225): the client wants DNSSEC records.
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }

    /// The UDP payload size and DO bit of the query's OPT record, when it had one (for the
    /// query log).
    pub fn client_edns(&self) -> Option<(u16, bool)> {
        self.edns.map(|e| (e.payload, e.dnssec_ok))
    }

    /// Who asked, and how.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the query carried a valid server cookie of ours (RFC 7873).
    pub fn valid_cookie(&self) -> bool {
        self.edns.is_some_and(|e| e.valid_cookie())
    }

    /// Records the listener the query came to (its recursion ACL decides RA).
    pub(crate) fn set_listener(&mut self, listener: Listener) {
        self.listener = listener;
    }
}

// ---------------------------------------------------------------------------------------------
// Engine: the resolver's answers
// ---------------------------------------------------------------------------------------------

impl Engine {
    /// A query routed to the cache: the cached answer, else (RD set) a recursion, else (RD
    /// clear) the closest cached delegation or REFUSED.
    pub(crate) fn cached(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        now: Time,
        rd: bool,
        out: &mut [u8],
    ) -> Outcome {
        let Some(resolver) = &self.resolver else {
            return self.reject(request, QueryError::NotAuthoritative, client, out);
        };
        // A standing verdict of the detector answers before the cache.
        if let Some(outcome) = self.detect_check(request, question, client, now, out) {
            return outcome;
        }
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), false, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        let dnssec_ok = edns.is_some_and(|e| e.dnssec_ok);
        let flags = request.header.flags;
        let mode = AnswerMode {
            dnssec_ok,
            stale: false,
            validated: resolver.validating && !flags.cd(),
        };
        let qname = question.qname.as_ref();
        match resolver
            .cache
            .answer(qname, question.qtype, mode, now, &mut w)
        {
            CacheAnswer::Hit {
                rcode,
                prefetch,
                stale,
                secure,
            } => {
                let len = self.finish(w, rcode, edns, None);
                let ad = resolver.validating && secure && (dnssec_ok || flags.ad());
                set_ad(out, len, ad);
                Outcome::Reply(ReplyInfo {
                    len,
                    rcode,
                    qtype: Some(question.qtype),
                    truncated: false,
                    source: AnswerSource::Cache { stale },
                    prefetch,
                    valid_cookie: false,
                })
            }
            CacheAnswer::Truncated => {
                let Some(mut w) = self.start(out, limit, request, Some(question), false, edns)
                else {
                    return Outcome::Drop(QueryError::OutputTooSmall);
                };
                w.set_flags(w.flags().with_tc(true));
                let len = self.finish(w, Rcode::NOERROR, edns, None);
                Outcome::Reply(ReplyInfo {
                    len,
                    rcode: Rcode::NOERROR,
                    qtype: Some(question.qtype),
                    truncated: true,
                    source: AnswerSource::Cache { stale: false },
                    prefetch: false,
                    valid_cookie: false,
                })
            }
            CacheAnswer::Miss if rd => {
                // The detector scores the miss; it may answer instead of resolving.
                let seen = match self.detect_miss(request, question, client, now, out) {
                    Ok(seen) => seen,
                    Err(outcome) => return outcome,
                };
                let mut recursion = RecursionRequest::new(request, question, client);
                recursion.detect = seen.map(|seen| (now.as_millis(), seen));
                Outcome::Recurse(Box::new(recursion))
            }
            CacheAnswer::Miss => self.cached_referral(request, question, client, now, out),
        }
    }

    /// RD clear and not cached: the closest delegation the cache knows, as a referral.
    fn cached_referral(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        now: Time,
        out: &mut [u8],
    ) -> Outcome {
        let delegation = self
            .resolver
            .as_ref()
            .and_then(|r| r.cache.closest_delegation(question.qname.as_ref(), now));
        let Some(ns) = delegation else {
            return self.reject(request, QueryError::NotCached, client, out);
        };
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), false, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        let truncated = push(&mut w, Section::Authority, &ns, false).is_err();
        let len = if truncated {
            let Some(mut w) = self.start(out, limit, request, Some(question), false, edns) else {
                return Outcome::Drop(QueryError::OutputTooSmall);
            };
            w.set_flags(w.flags().with_tc(true));
            self.finish(w, Rcode::NOERROR, edns, None)
        } else {
            self.finish(w, Rcode::NOERROR, edns, None)
        };
        Outcome::Reply(ReplyInfo {
            len,
            rcode: Rcode::NOERROR,
            qtype: Some(question.qtype),
            truncated,
            source: AnswerSource::Cache { stale: false },
            prefetch: false,
            valid_cookie: false,
        })
    }

    /// The response to a resolved query: `rcode`, the `answer` and `authority` RRsets (RRSIGs
    /// and NSEC/NSEC3 proofs only for a client that set DO), and `extended_error` (RFC 8914)
    /// when given. Over UDP an answer that does not fit is cut back to the question with TC
    /// set. RA is set when `request`'s client is offered recursion.
    pub fn write_answer(
        &self,
        request: &RecursionRequest,
        rcode: Rcode,
        answer: &[RrSet],
        authority: &[RrSet],
        extended_error: Option<(u16, &str)>,
        out: &mut [u8],
    ) -> ReplyInfo {
        let dnssec_ok = request.dnssec_ok();
        let written = self
            .start_resolved(request, extended_error, out)
            .map(|mut w| {
                let mut fits = true;
                for rrset in answer {
                    fits = fits && push(&mut w, Section::Answer, rrset, dnssec_ok).is_ok();
                }
                for rrset in authority {
                    let proof = matches!(rrset.rtype, RType::NSEC | RType::NSEC3 | RType::RRSIG);
                    if dnssec_ok || !proof {
                        fits = fits && push(&mut w, Section::Authority, rrset, dnssec_ok).is_ok();
                    }
                }
                (
                    fits,
                    fits.then(|| self.finish(w, rcode, request.edns, extended_error)),
                )
            });
        let (truncated, len) = match written {
            Some((_, Some(len))) => (false, len),
            _ => {
                // It did not fit: the question alone, with TC (over TCP, 64 KiB did not hold
                // it; the client gets the truncated answer rather than nothing).
                let len = self
                    .start_resolved(request, extended_error, out)
                    .map(|mut w| {
                        w.set_flags(w.flags().with_tc(true));
                        self.finish(w, rcode, request.edns, extended_error)
                    })
                    .unwrap_or(0);
                (true, len)
            }
        };
        let len = self.set_ra(request, out, len);
        ReplyInfo {
            len,
            rcode,
            qtype: Some(request.qtype),
            truncated,
            source: AnswerSource::Recursion,
            prefetch: false,
            valid_cookie: request.valid_cookie(),
        }
    }

    /// The response to a resolved query from the recursor's [`Resolution`]: its RCODE, answer
    /// and authority sections and Extended DNS Error ([`Engine::write_answer`]); AD when the
    /// answer validated secure and the client set DO or AD (RFC 4035 section 3.2.3, RFC 6840
    /// section 5.8).
    pub fn write_resolution(
        &self,
        request: &RecursionRequest,
        resolution: &Resolution,
        out: &mut [u8],
    ) -> ReplyInfo {
        let ede = resolution
            .extended_error
            .as_ref()
            .map(|e| (e.code, e.text.as_str()));
        let info = self.write_answer(
            request,
            resolution.rcode,
            &resolution.answer,
            &resolution.authority,
            ede,
            out,
        );
        let secure = resolution.security == recursor::Security::Secure;
        set_ad(out, info.len, secure && (request.dnssec_ok() || request.ad));
        if let Some((at_ms, seen)) = request.detect {
            self.detect_answer(
                request.qname(),
                seen,
                request.client.addr,
                resolution.rcode,
                info.len,
                at_ms,
            );
        }
        info
    }

    /// An error response to a request that was handed to the resolver, e.g.
    /// [`QueryError::ResolverBusy`] when its queue is full. `None` when the error drops the
    /// query.
    pub fn write_error(
        &self,
        request: &RecursionRequest,
        error: QueryError,
        out: &mut [u8],
    ) -> Option<ReplyInfo> {
        let rcode = error.rcode()?;
        let ede = error.extended_error();
        let w = self.start_resolved(request, ede, out)?;
        let len = self.finish(w, rcode, request.edns, ede);
        let len = self.set_ra(request, out, len);
        Some(ReplyInfo {
            len,
            rcode,
            qtype: Some(request.qtype),
            truncated: false,
            source: AnswerSource::Error(error),
            prefetch: false,
            valid_cookie: request.valid_cookie(),
        })
    }

    /// The response policy ([`crate::policy`]) on a response written for `request` by
    /// [`Engine::write_resolution`] or [`Engine::respond_stale`]: `info` when it stands, the
    /// policy's answer written over it when a trigger matches, `None` when the policy drops it.
    pub fn police(
        &self,
        request: &RecursionRequest,
        info: ReplyInfo,
        now: Time,
        out: &mut [u8],
    ) -> Option<ReplyInfo> {
        if info.truncated || matches!(info.source, AnswerSource::Policy { .. }) {
            return Some(info);
        }
        match self.police_written(request, info.len, now, out) {
            crate::policy::Policed::Stands => Some(info),
            crate::policy::Policed::Replaced(replaced) => replaced,
        }
    }

    /// When resolution failed: an answer from expired data (RFC 8767 section 4), with EDE 3
    /// "Stale Answer", if serve-stale is on and the cache still holds the data; `None` when it
    /// does not.
    pub fn respond_stale(
        &self,
        request: &RecursionRequest,
        now: Time,
        out: &mut [u8],
    ) -> Option<ReplyInfo> {
        let resolver = self.resolver.as_ref()?;
        if !resolver.cache.config().serve_stale {
            return None;
        }
        let ede = Some((EDE_STALE, ""));
        let mut w = self.start_resolved(request, ede, out)?;
        let mode = AnswerMode {
            dnssec_ok: request.dnssec_ok(),
            stale: true,
            validated: resolver.validating && !request.cd,
        };
        let CacheAnswer::Hit {
            rcode,
            stale,
            secure,
            ..
        } = resolver
            .cache
            .answer(request.qname(), request.qtype, mode, now, &mut w)
        else {
            return None;
        };
        let len = self.finish(w, rcode, request.edns, stale.then_some((EDE_STALE, "")));
        set_ad(
            out,
            len,
            resolver.validating && secure && (request.dnssec_ok() || request.ad),
        );
        let len = self.set_ra(request, out, len);
        Some(ReplyInfo {
            len,
            rcode,
            qtype: Some(request.qtype),
            truncated: false,
            source: AnswerSource::Cache { stale },
            prefetch: false,
            valid_cookie: request.valid_cookie(),
        })
    }

    /// A response to `request` started: header (ID, RD and CD echoed), the question as asked,
    /// room for the OPT record (with the cookie, and the EDE when there is one).
    pub(crate) fn start_resolved<'b>(
        &self,
        request: &RecursionRequest,
        ede: Option<(u16, &str)>,
        out: &'b mut [u8],
    ) -> Option<MessageWriter<'b>> {
        let limit = self.limit(request.edns, request.client.transport, out.len());
        let header = Header {
            id: request.id,
            flags: wire::message::Flags::default()
                .with_qr(true)
                .with_opcode(wire::Opcode::QUERY)
                .with_rd(request.rd)
                .with_cd(request.cd),
            ..Header::default()
        };
        let mut w = MessageWriter::new(out, limit, header).ok()?;
        w.push_question(request.qname.as_ref(), request.qtype, request.qclass)
            .ok()?;
        if request.edns.is_some() {
            let ede_room = ede.map_or(0, |(_, text)| EDE_ROOM.max(6 + text.len()));
            if w.reserve(self.opt_room(request.edns) + ede_room).is_err() {
                w.reserve(OPT_LEN).ok()?;
            }
        }
        Some(w)
    }

    /// Sets RA in the response of `len` bytes in `out` when the client is offered recursion.
    pub(crate) fn set_ra(&self, request: &RecursionRequest, out: &mut [u8], len: usize) -> usize {
        if len >= 4
            && self.recursion(request.listener, request.client.addr)
                == Some(guard::AclAction::Allow)
            && let Some(flags) = out.get_mut(3)
        {
            *flags |= 0x80;
        }
        len
    }
}

/// Sets the AD bit of the response in `out` (of `len` bytes) when `on`.
fn set_ad(out: &mut [u8], len: usize, on: bool) {
    if on
        && len >= 4
        && let Some(flags) = out.get_mut(3)
    {
        *flags |= 0x20;
    }
}

/// Writes `rrset` (and its RRSIGs when `dnssec_ok`) into `section`.
fn push(
    w: &mut MessageWriter<'_>,
    section: Section,
    rrset: &RrSet,
    dnssec_ok: bool,
) -> Result<(), wire::writer::WriteError> {
    w.push_rrset(
        section,
        rrset.owner.as_ref(),
        rrset.rtype,
        rrset.class,
        rrset.ttl,
        rrset.rdatas.iter().map(Vec::as_slice),
    )?;
    if dnssec_ok && !rrset.sigs.is_empty() {
        w.push_rrset(
            section,
            rrset.owner.as_ref(),
            RType::RRSIG,
            rrset.class,
            rrset.ttl,
            rrset.sigs.iter().map(Vec::as_slice),
        )?;
    }
    Ok(())
}
