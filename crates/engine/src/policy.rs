//! Blocklists and response policy zones in the resolver's answers ([`guard::policy`] decides,
//! this module writes the responses).
//!
//! Policy applies to what the resolver answers: names routed to the cache and to recursion
//! (RD set or clear), for clients offered recursion. The operator's own zones and the local
//! zones answer first and are never filtered, as BIND applies response policy to recursive
//! answers only: a name the server is authoritative for is the operator's decision already.
//!
//! 1. Before the cache: [`Policy::check_qname`] (and in the resolver, for every CNAME or DNAME
//!    target: `recursor::AliasStop`, set by the server). A hit is answered at once, so a
//!    blocked name is never looked up, forwarded, resolved or prefetched. A PASSTHRU ends
//!    policy for the question; TCP-only over TCP lets the question through.
//! 2. After a cache hit ([`Engine::respond`]) and on a resolution's answer
//!    ([`Engine::write_resolution`]): the written response is read back (no allocation: names
//!    on the stack) and [`Policy::check_answer`] sees its CNAME targets, its A and AAAA
//!    addresses, and, when some zone has NSDNAME triggers, the name servers of the closest
//!    delegation the cache holds for the last name of the chain. A hit rewrites the response:
//!    the CNAMEs before the name that matched are kept, then the action for that name.
//!
//! A policy answer keeps the client's ID, question, RD and CD, sets RA, never AA or AD, carries
//! the policy's EDE (15 Blocked or 17 Filtered, with the list or zone name as text) and, for an
//! RPZ NXDOMAIN or NODATA, the policy zone's SOA in the authority section. Local data is
//! answered with the name asked as owner; a CNAME rewrite is answered with the CNAME and the
//! target's data when the cache holds it, else with the CNAME alone (the client then asks for
//! the target; BIND resolves it first).
//!
//! Every policy answer (and drop) is a security event ([`events::Action::Blocked`], reason
//! "blocklist", "rpz qname", "rpz ip" or "rpz nsdname", the list or zone as detail), counted in
//! `/metrics` and written to the event sinks.
//!
//! The [`SharedPolicy`] is an `Arc<ArcSwap<Policy>>` made once by the server: every engine built
//! on a reload gets the same one, and list reloads swap the policy inside without rebuilding
//! the engine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use arc_swap::ArcSwap;
use cache::Time;
use guard::policy::{Action, Hit, Policy};
use wire::message::{Message, Section};
use wire::{Class, Name, NameRef, RType, Rcode};

use crate::Client;
use crate::engine::{AnswerSource, Engine, Outcome, ReplyInfo};
use crate::error::QueryError;
use crate::query::{Question, Request};
use crate::recursion::RecursionRequest;

/// The policy shared by every engine and swapped on list reloads.
pub type SharedPolicy = Arc<ArcSwap<Policy>>;

/// CNAME steps of an answer read back for the policy (the cache follows at most 16).
const MAX_CHAIN: usize = 16;
/// Addresses of an answer checked against IP triggers.
const MAX_ADDRS: usize = 32;

/// What the policy made of a response.
pub(crate) enum Policed {
    /// The response stands.
    Stands,
    /// Replaced: the new response (or a drop).
    Replaced(Option<ReplyInfo>),
}

impl Engine {
    /// This engine, applying `policy` to what the resolver answers (see [`crate::policy`]).
    pub fn with_policy(mut self, policy: SharedPolicy) -> Engine {
        self.policy = Some(policy);
        self
    }

    /// The shared policy, when one is set.
    pub fn policy(&self) -> Option<&SharedPolicy> {
        self.policy.as_ref()
    }

    /// This engine, reporting every policy answer to `events` (Action::Blocked, the reason
    /// "blocklist", "rpz qname", "rpz ip" or "rpz nsdname", the list or zone as detail).
    pub fn with_events(mut self, events: events::Events) -> Engine {
        self.events = events;
        self
    }

    /// Where policy answers are reported.
    pub fn events(&self) -> &events::Events {
        &self.events
    }

    /// A query routed to the cache and the resolver, with the policy applied before and after
    /// the cache.
    pub(crate) fn policed(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        now: Time,
        rd: bool,
        out: &mut [u8],
    ) -> Outcome {
        let Some(shared) = &self.policy else {
            return self.cached(request, question, client, now, rd, out);
        };
        let policy = shared.load();
        if policy.is_empty() {
            return self.cached(request, question, client, now, rd, out);
        }
        if let Some(hit) = policy.check_qname(question.qname.as_ref()) {
            if *hit.action == Action::Passthru {
                return self.cached(request, question, client, now, rd, out);
            }
            if !(*hit.action == Action::TcpOnly && client.transport.is_stream()) {
                let req = RecursionRequest::new(request, question, client);
                return match self.write_policy(&req, &hit, &[], now, out) {
                    Some(info) => Outcome::Reply(info),
                    None => Outcome::Drop(QueryError::PolicyDrop),
                };
            }
        }
        let outcome = self.cached(request, question, client, now, rd, out);
        let Outcome::Reply(info) = &outcome else {
            return outcome;
        };
        if !matches!(info.source, AnswerSource::Cache { .. }) || info.truncated {
            return outcome;
        }
        let req = RecursionRequest::new(request, question, client);
        match self.police_answer(&policy, &req, info.len, now, out) {
            Policed::Stands => outcome,
            Policed::Replaced(Some(info)) => Outcome::Reply(info),
            Policed::Replaced(None) => Outcome::Drop(QueryError::PolicyDrop),
        }
    }

    /// The policy on a response to `request` already written (`len` bytes of `out`): a resolved
    /// or cached answer. The name asked is checked again (the policy may have been reloaded
    /// since the question came in).
    pub(crate) fn police_written(
        &self,
        request: &RecursionRequest,
        len: usize,
        now: Time,
        out: &mut [u8],
    ) -> Policed {
        let Some(shared) = &self.policy else {
            return Policed::Stands;
        };
        let policy = shared.load();
        if policy.is_empty() {
            return Policed::Stands;
        }
        if let Some(hit) = policy.check_qname(request.qname()) {
            return match hit.action {
                Action::Passthru => Policed::Stands,
                Action::TcpOnly if request.client().transport.is_stream() => {
                    self.police_answer(&policy, request, len, now, out)
                }
                _ => Policed::Replaced(self.write_policy(request, &hit, &[], now, out)),
            };
        }
        self.police_answer(&policy, request, len, now, out)
    }

    /// Reads back the answer section of the response in `out` and applies
    /// [`Policy::check_answer`].
    fn police_answer(
        &self,
        policy: &Policy,
        request: &RecursionRequest,
        len: usize,
        now: Time,
        out: &mut [u8],
    ) -> Policed {
        let Some(bytes) = out.get(..len) else {
            return Policed::Stands;
        };
        let Ok(message) = Message::parse(bytes) else {
            return Policed::Stands;
        };
        // The chain: the name asked, then each CNAME target, with the CNAMEs' TTLs.
        let mut targets: [Option<Name>; MAX_CHAIN] = Default::default();
        let mut ttls = [0u32; MAX_CHAIN];
        let mut steps = 0;
        let mut addrs = [(0usize, IpAddr::V4(Ipv4Addr::UNSPECIFIED)); MAX_ADDRS];
        let mut naddrs = 0;
        for record in message.records(Section::Answer) {
            match record.rtype {
                RType::CNAME if steps < MAX_CHAIN => {
                    let raw = record.raw_rdata();
                    let at = raw.as_ptr() as usize - bytes.as_ptr() as usize;
                    if let Ok((target, _)) = wire::message::read_name(bytes, at) {
                        targets[steps] = Some(target);
                        ttls[steps] = record.ttl;
                        steps += 1;
                    }
                }
                RType::A | RType::AAAA if naddrs < MAX_ADDRS => {
                    let raw = record.raw_rdata();
                    let addr = match raw.len() {
                        4 => <[u8; 4]>::try_from(raw)
                            .ok()
                            .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
                        16 => <[u8; 16]>::try_from(raw)
                            .ok()
                            .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
                        _ => None,
                    };
                    if let Some(addr) = addr {
                        // The step whose name owns it: the last one, unless it is earlier.
                        let step = (0..=steps)
                            .rev()
                            .find(|&s| {
                                if s == 0 {
                                    record.owner_is(request.qname())
                                } else {
                                    targets[s - 1]
                                        .as_ref()
                                        .is_some_and(|t| record.owner_is(t.as_ref()))
                                }
                            })
                            .unwrap_or(steps);
                        addrs[naddrs] = (step, addr);
                        naddrs += 1;
                    }
                }
                _ => {}
            }
        }
        let mut chain = [NameRef::ROOT; MAX_CHAIN + 1];
        chain[0] = request.qname();
        for (i, t) in targets.iter().take(steps).enumerate() {
            if let Some(t) = t {
                chain[i + 1] = t.as_ref();
            }
        }
        let chain = &chain[..=steps];
        let delegation = policy
            .wants_nsdnames()
            .then(|| {
                let last = chain.last().copied().unwrap_or(request.qname());
                self.resolver
                    .as_ref()
                    .and_then(|r| r.cache().closest_delegation(last, now))
            })
            .flatten();
        let mut nsdnames = [NameRef::ROOT; 13];
        let mut nns = 0;
        if let Some(ns) = &delegation {
            for rdata in ns.rdatas.iter().take(nsdnames.len()) {
                if let Ok(name) = NameRef::from_wire(rdata) {
                    nsdnames[nns] = name;
                    nns += 1;
                }
            }
        }
        let Some(hit) = policy.check_answer(chain, &addrs[..naddrs], &nsdnames[..nns]) else {
            return Policed::Stands;
        };
        match hit.action {
            Action::Passthru => Policed::Stands,
            Action::TcpOnly if request.client().transport.is_stream() => Policed::Stands,
            _ => {
                let mut prefix = [(NameRef::ROOT, 0u32, NameRef::ROOT); MAX_CHAIN];
                let n = hit.step.min(steps);
                for i in 0..n {
                    prefix[i] = (chain[i], ttls[i], chain[i + 1]);
                }
                Policed::Replaced(self.write_policy(request, &hit, &prefix[..n], now, out))
            }
        }
    }

    /// Writes the policy answer of `hit` to `request`: the CNAMEs of `prefix` (owner, TTL,
    /// target), then the action for the last target (or the name asked). `None`: drop.
    pub(crate) fn write_policy(
        &self,
        request: &RecursionRequest,
        hit: &Hit<'_>,
        prefix: &[(NameRef<'_>, u32, NameRef<'_>)],
        now: Time,
        out: &mut [u8],
    ) -> Option<ReplyInfo> {
        let name = prefix.last().map_or(request.qname(), |p| p.2);
        let qtype = request.qtype();
        self.events.emit_with(events::Action::Blocked, || {
            events::Event::new(events::Action::Blocked, hit.trigger.reason())
                .client(request.client().addr)
                .question(request.qname(), qtype)
                .detail(hit.source)
        });
        let (mut rcode, negative) = match hit.action {
            Action::Drop => return None,
            Action::NxDomain => (Rcode::NXDOMAIN, true),
            Action::NoData => (Rcode::NOERROR, true),
            Action::Refused => (Rcode::REFUSED, false),
            Action::TcpOnly | Action::Passthru => (Rcode::NOERROR, false),
            Action::Local(data) => {
                let any = data
                    .records
                    .iter()
                    .any(|r| r.rtype == qtype || r.rtype == RType::CNAME || qtype == RType::ANY);
                (Rcode::NOERROR, !any)
            }
        };
        let tc = matches!(hit.action, Action::TcpOnly);
        let source = AnswerSource::Policy {
            trigger: hit.trigger,
        };
        let written = self
            .start_resolved(request, hit.ede, out)
            .and_then(|mut w| {
                if tc {
                    w.set_flags(w.flags().with_tc(true));
                    return Some(self.finish(w, rcode, request.edns, hit.ede));
                }
                for (owner, ttl, target) in prefix {
                    w.push_rrset(
                        Section::Answer,
                        *owner,
                        RType::CNAME,
                        Class::IN,
                        *ttl,
                        [target.as_wire()],
                    )
                    .ok()?;
                }
                let mut rewrite: Option<Name> = None;
                if let Action::Local(data) = hit.action {
                    let cname = data.records.iter().any(|r| r.rtype == RType::CNAME);
                    for r in &data.records {
                        let wanted = if cname {
                            r.rtype == RType::CNAME
                        } else {
                            r.rtype == qtype || qtype == RType::ANY
                        };
                        if !wanted {
                            continue;
                        }
                        let expanded;
                        let rdata = if r.rtype == RType::CNAME
                            && let Ok(target) = NameRef::from_wire(&r.rdata)
                            && target.is_wildcard()
                        {
                            // `*.x`: the name asked in front of `x`.
                            let suffix = target.parent().unwrap_or(NameRef::ROOT);
                            expanded =
                                Name::from_labels(name.labels().chain(suffix.labels())).ok()?;
                            expanded.as_wire()
                        } else {
                            r.rdata.as_slice()
                        };
                        w.push_rrset(Section::Answer, name, r.rtype, Class::IN, r.ttl, [rdata])
                            .ok()?;
                        if r.rtype == RType::CNAME {
                            rewrite = Name::from_wire(rdata).ok();
                        }
                    }
                }
                // A CNAME rewrite: the target's data when the cache holds it (the client asks
                // for the target itself otherwise).
                if let (Some(target), Some(resolver)) = (&rewrite, &self.resolver)
                    && qtype != RType::CNAME
                {
                    let mode = cache::AnswerMode {
                        dnssec_ok: false,
                        stale: false,
                        validated: false,
                    };
                    if let cache::CacheAnswer::Hit { rcode: r, .. } =
                        resolver
                            .cache()
                            .answer(target.as_ref(), qtype, mode, now, &mut w)
                    {
                        rcode = r;
                    }
                }
                if negative && let Some((origin, ttl, soa)) = hit.soa {
                    // Optional: left out when it does not fit.
                    let _ = w.push_rrset(
                        Section::Authority,
                        origin,
                        RType::SOA,
                        Class::IN,
                        ttl,
                        [soa],
                    );
                }
                Some(self.finish(w, rcode, request.edns, hit.ede))
            });
        let (len, truncated) = match written {
            Some(len) => (len, tc),
            None => {
                let w = self.start_resolved(request, hit.ede, out)?;
                let mut w = w;
                w.set_flags(w.flags().with_tc(true));
                (self.finish(w, rcode, request.edns, hit.ede), true)
            }
        };
        let len = self.set_ra(request, out, len);
        Some(ReplyInfo {
            len,
            rcode,
            qtype: Some(qtype),
            truncated,
            source,
            prefetch: false,
            valid_cookie: request.valid_cookie(),
        })
    }
}
