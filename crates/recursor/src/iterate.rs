//! One resolution's steps: the cache first, then where to start, which server to ask, what to
//! ask it, and the name-server addresses to resolve first.
//!
//! # The cache first
//!
//! Before any server is asked, the cache may end the step: a remembered failure (RFC 9520),
//! the data, a CNAME to follow, a DNAME at an ancestor of the name, or a negative answer
//! (RFC 2308, with the NXDOMAIN cut of RFC 8020). A cached DNAME answers every name below its
//! owner (RFC 6672 section 3.2): the resolver synthesises the CNAME from the name to the name
//! with the owner's suffix replaced by the DNAME's target, adds both to the answer and goes on
//! at the target, as it would with the DNAME fresh from a server. Synthesised CNAMEs are never
//! cached (`reply.rs`), so every answer below a DNAME is built here, with the DNAME RRset and
//! its RRSIGs in it (section 3.4), never by the CNAME-only `Cache::answer`. The closest
//! ancestor with a DNAME is used; a substitution that would make a name too long is not taken
//! from the cache (the server answers it, YXDOMAIN by section 2.2).
//!
//! # Where iteration starts
//!
//! The deepest of: a configured forward zone (everything at or below it goes to the
//! forwarders with RD=1, RFC 1034 section 5.3.1's "forwarders"), a stub zone (its configured
//! authoritative servers, RD=0, unless the cache already knows a deeper delegation learned
//! from them), or the closest delegation in the cache (for a DS question, the closest one
//! above the name: DS lives in the parent, RFC 4035 section 3.1.4.1). With nothing in the
//! cache, the root: first *priming* (RFC 8109), one `. NS` query to a hint server whose answer
//! and glue are cached, then iteration from the root servers it named. When priming fails the
//! hints themselves are used for a while.
//!
//! # Parent-side retry
//!
//! When every server of a delegation that came from the cache fails (lame, silent, or without
//! an address because the glue expired before the NS RRset), the cached delegation may be
//! stale: the zone moved to other servers, or its glue changed. Like Unbound's parent-side
//! fallback, the resolution then asks the parent zone's servers once more for the referral,
//! whose delegation and glue replace the cached ones, and goes on from there. At most once per
//! resolution, within the limits on referrals, queries and time.
//!
//! # Which server
//!
//! The addresses of the zone's name servers (glue and cached addresses, or the configured ones),
//! in the families configured, minus the private ones learned from the network (`addr.rs`),
//! minus the ones already tried for this zone; among them the infrastructure cache picks by
//! smoothed RTT and skips servers lame for the zone or at their outstanding limit. When none is
//! left, names without addresses are resolved as sub-resolutions, one name at a time (A and
//! AAAA), within the limits on names per delegation, sub-queries per question and nesting, and
//! never for a name below the delegated zone (its address could only come from glue: asking
//! for it would go through the very servers we cannot reach) or a question already on the
//! dependency chain (a delegation cycle, TsuNAME).
//!
//! # QNAME minimisation (RFC 9156)
//!
//! Iterating (not forwarding), the resolver tells each zone's servers one label more than the
//! zone (type A, section 2.1 of the RFC suggests A over NS for compatibility) until a referral
//! or the full name: a server for `com.` learns `example.com.`, never `www.example.com.`. After
//! `MINIMISE_ONE_LAB` one-label steps the remaining labels are spread so that no more than
//! `MAX_MINIMISE_COUNT` minimised queries are sent (section 2.3).
//!
//! What earlier resolutions learned is reused: a minimised name that the cache shows to exist
//! inside the zone being asked and to be no zone cut (a NODATA for A whose SOA is that zone's,
//! or A data from an authoritative answer) is not asked again; the next label is tried, as
//! Unbound skips a minimised name cached as NOERROR. So `s1.wild.example.` after
//! `s0.wild.example.` costs one query at `example.`'s servers, not two. A NODATA from another
//! zone (a child's apex whose delegation expired) does not count: there may be a cut there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use cache::{Time, Trust};
use wire::edns::ede as Ede;
use wire::{Class, Name, RType, Rcode};

use crate::config::{ForwardKind, LimitKind, QnameMinimisation, Selection};
use crate::infra::EdnsSupport;
use crate::mesh::{Key, Query, Recursor, Task, Timer, Waiter};
use crate::response::{dname_substitute, rdata_name};
use crate::upstream::{self, Sent};
use crate::{
    ExtendedError, Question, Resolution, Security, Transmit, UpstreamId, UpstreamTransport,
};

/// Most minimised queries per resolution (RFC 9156 section 2.3, Unbound's value).
pub(crate) const MAX_MINIMISE_COUNT: u32 = 10;
/// Minimised queries that add one label each before labels are added in bigger steps.
pub(crate) const MINIMISE_ONE_LAB: u32 = 4;

/// Most steps one call to `advance` takes (cache hits along a CNAME chain, zone changes).
const MAX_STEPS_PER_ADVANCE: usize = 64;

/// How a zone's servers are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZoneKind {
    /// Authoritative servers, RD=0.
    Iterate,
    /// Recursive forwarders, RD=1.
    Forward,
}

/// What is known of one name server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddrState {
    /// Addresses known (perhaps none usable).
    Known,
    /// No address yet: may be resolved.
    Unknown,
    /// Being resolved by sub-resolutions (this many left).
    Resolving(u8),
    /// Could not be resolved, or must not be.
    Failed,
}

/// One name server of a zone.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    /// Its name (`None` for configured forwarders and stub addresses).
    pub name: Option<Name>,
    pub addrs: Vec<SocketAddr>,
    pub state: AddrState,
    /// Addresses from configuration or hints: exempt from the private-address rule.
    pub configured: bool,
}

/// The zone a resolution is asking, and how far through its servers it is.
#[derive(Clone, Debug)]
pub(crate) struct ZoneState {
    pub cut: Name,
    pub kind: ZoneKind,
    pub servers: Vec<Server>,
    /// Addresses already asked in this zone.
    pub tried: Vec<SocketAddr>,
    /// Queries sent in this zone.
    pub sends: u32,
    /// NS names resolved for this zone.
    pub names_resolved: u32,
    /// Servers that timed out with EDNS while their EDNS support is unknown: asked again
    /// without EDNS when nothing else is left.
    pub noedns_retry: Vec<SocketAddr>,
    /// The question sent to this zone now (minimised or full); `None` to choose it anew.
    pub asked: Option<(Name, RType)>,
    /// Labels of the last minimised name that turned out not to be a zone cut.
    pub min_labels: usize,
    /// The delegation was read from the cache (not from a referral just received, the hints
    /// or the configuration): when none of its servers helps, the parent may be asked again.
    pub from_cache: bool,
    /// Servers are chosen in the order listed rather than by RTT (a forward or stub zone
    /// configured with [`crate::Selection::Order`]).
    pub ordered: bool,
}

impl ZoneState {
    pub(crate) fn new(cut: Name, kind: ZoneKind, servers: Vec<Server>) -> ZoneState {
        let min_labels = cut.as_ref().label_count();
        ZoneState {
            cut,
            kind,
            servers,
            tried: Vec::new(),
            sends: 0,
            names_resolved: 0,
            noedns_retry: Vec::new(),
            asked: None,
            min_labels,
            from_cache: false,
            ordered: false,
        }
    }
}

/// What `pick` found.
enum Pick {
    Send(SocketAddr),
    /// Waiting for sub-resolutions.
    Wait,
    /// Every server that could be asked is at its outstanding limit: wait for a slot at these.
    Busy(Vec<SocketAddr>),
    Exhausted(Option<LimitKind>),
}

/// The address in A or AAAA RDATA.
pub(crate) fn rdata_addr(rtype: RType, rdata: &[u8]) -> Option<IpAddr> {
    match rtype {
        RType::A => <[u8; 4]>::try_from(rdata)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        RType::AAAA => <[u8; 16]>::try_from(rdata)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

impl Recursor {
    /// Takes the next steps of `task` until it waits (an upstream query or sub-resolutions)
    /// or finishes.
    pub(crate) fn advance(&mut self, task: &mut Task, now: Time) {
        for _ in 0..MAX_STEPS_PER_ADVANCE {
            // Finished, waiting for an answer, or finished and waiting for keys to validate.
            if self.mesh.get(&task.key) != Some(&task.id)
                || task.query.is_some()
                || task.validation.is_some()
            {
                return;
            }
            if task.pending_subs > 0 && task.zone.is_none() {
                return;
            }
            if task.zone.is_none() {
                if self.answer_from_cache(task, now) {
                    continue;
                }
                if self.mesh.get(&task.key) != Some(&task.id) || task.validation.is_some() {
                    return;
                }
                if !self.begin_zone(task, now) {
                    return;
                }
            }
            self.ask(task, now);
            return;
        }
        self.fail(
            task,
            ExtendedError {
                code: Ede::OTHER,
                text: "resolution loop".to_string(),
            },
            now,
        );
    }

    /// Answers what the cache can for the current name: data, a CNAME step, a negative answer
    /// or a remembered failure. Returns true when it took a CNAME step (the caller looks
    /// again); a finished task is no longer in the mesh.
    fn answer_from_cache(&mut self, task: &mut Task, now: Time) -> bool {
        if task.key.qclass != Class::IN {
            self.finish(task, refused(), now);
            return false;
        }
        let qtype = task.key.qtype;
        if matches!(
            qtype,
            RType::AXFR | RType::IXFR | RType::OPT | RType::TKEY | RType::TSIG
        ) || qtype == RType::MAILA
            || qtype == RType::MAILB
        {
            self.finish(task, refused(), now);
            return false;
        }
        let refresh = std::mem::take(&mut task.refresh);
        if refresh {
            return false;
        }
        let name = task.qname.clone();
        if let Some(code) = self.cache.failure_ede(name.as_ref(), qtype, now) {
            let bogus = crate::validate::is_dnssec_error(code);
            // A bogus result does not stop a client that validates itself (CD).
            if !(bogus && task.key.cd) {
                let ede = if bogus {
                    ExtendedError {
                        code,
                        text: "DNSSEC validation failed recently".to_string(),
                    }
                } else {
                    ExtendedError {
                        code: Ede::CACHED_ERROR,
                        text: "recent failure to resolve (RFC 9520)".to_string(),
                    }
                };
                self.finish(task, crate::mesh::servfail(ede), now);
                return false;
            }
        }
        if let Some((set, trust)) = self.cache.rrset(name.as_ref(), qtype, now)
            && trust >= Trust::Authority
        {
            let mut answer = std::mem::take(&mut task.chain);
            answer.push(set);
            self.finish_cached(task, Rcode::NOERROR, answer, Vec::new(), now);
            return false;
        }
        if qtype != RType::CNAME
            && let Some((cname, trust)) = self.cache.rrset(name.as_ref(), RType::CNAME, now)
            && trust >= Trust::Authority
            && let Some(target) = cname.rdatas.first().and_then(|r| rdata_name(r))
        {
            task.chain.push(cname);
            return self.alias_step(task, target, now);
        }
        if qtype != RType::DNAME
            && let Some((dname, target)) = self.cached_dname(&name, now)
        {
            let cname = cache::RrSet {
                owner: name.clone(),
                rtype: RType::CNAME,
                class: task.key.qclass,
                ttl: dname.ttl,
                rdatas: vec![target.as_wire().to_vec()],
                sigs: Vec::new(),
            };
            task.chain.push(dname);
            task.chain.push(cname);
            if qtype == RType::CNAME {
                // The synthesised CNAME is the data asked for.
                let answer = std::mem::take(&mut task.chain);
                self.finish_cached(task, Rcode::NOERROR, answer, Vec::new(), now);
                return false;
            }
            return self.alias_step(task, target, now);
        }
        if let Some(negative) = self.cache.negative(name.as_ref(), qtype, now) {
            let rcode = match negative.kind {
                cache::NegativeKind::NxDomain => Rcode::NXDOMAIN,
                cache::NegativeKind::NoData => Rcode::NOERROR,
            };
            let mut authority = vec![negative.soa];
            authority.extend(negative.proofs);
            let answer = std::mem::take(&mut task.chain);
            self.finish_cached(task, rcode, answer, authority, now);
            return false;
        }
        if let Some(mut resolution) = self.aggressive_negative(task, now) {
            // Proven by validated NSEC/NSEC3 records (RFC 8198). An alias chain before it is
            // validated with it; alone it is secure as it stands.
            self.stats.aggressive_answers += 1;
            resolution.answer = std::mem::take(&mut task.chain);
            if !resolution.answer.is_empty() {
                resolution.security = Security::Indeterminate;
            }
            task.answered_by = None;
            self.finish(task, resolution, now);
            return false;
        }
        false
    }

    /// The DNAME cached at the closest proper ancestor of `name` (credible data only), with
    /// `name` rewritten by it (RFC 6672 section 2.2).
    fn cached_dname(&self, name: &Name, now: Time) -> Option<(cache::RrSet, Name)> {
        let mut owner = name.as_ref().parent();
        while let Some(at) = owner {
            if let Some((dname, trust)) = self.cache.rrset(at, RType::DNAME, now)
                && trust >= Trust::Authority
            {
                let target = dname.rdatas.first().and_then(|r| rdata_name(r))?;
                let rewritten = dname_substitute(name, &dname.owner, &target)?;
                return Some((dname, rewritten));
            }
            owner = at.parent();
        }
        None
    }

    fn finish_cached(
        &mut self,
        task: &mut Task,
        rcode: Rcode,
        answer: Vec<cache::RrSet>,
        authority: Vec<cache::RrSet>,
        now: Time,
    ) {
        if task.sent == 0 {
            self.stats.cache_answers += 1;
        }
        // The data came from the cache, not from the zone asked last.
        task.answered_by = None;
        let resolution = Resolution {
            rcode,
            answer,
            authority,
            extended_error: None,
            security: Security::Indeterminate,
        };
        self.finish(task, resolution, now);
    }

    /// Follows an alias to `target`: counts the step against the chain limit, starts over at
    /// the new name. Returns whether the task goes on.
    pub(crate) fn alias_step(&mut self, task: &mut Task, target: Name, now: Time) -> bool {
        task.steps += 1;
        if task.steps > self.config.limits.max_cname_chain {
            self.fail_limit(task, LimitKind::CnameChain, now);
            return false;
        }
        if let Some(stop) = &self.config.alias_stop
            && (stop.0)(target.as_ref())
        {
            // A name the server's policy answers for: never asked upstream. The chain so far
            // is the answer, and the engine writes the policy's answer for its target.
            let resolution = Resolution {
                rcode: Rcode::NOERROR,
                answer: std::mem::take(&mut task.chain),
                authority: Vec::new(),
                extended_error: None,
                security: Security::Indeterminate,
            };
            self.finish(task, resolution, now);
            return false;
        }
        task.qname = target;
        task.zone = None;
        task.answered_by = None;
        true
    }

    /// Chooses where to start for the current name. Returns false when the task waits for
    /// priming or finished.
    fn begin_zone(&mut self, task: &mut Task, now: Time) -> bool {
        let qname = task.qname.clone();
        let forward_for = |name: &Name| {
            self.config
                .forwards
                .iter()
                .filter(|f| name.as_ref().is_subdomain_of(f.zone.as_ref()))
                .max_by_key(|f| f.zone.as_ref().label_count())
                .cloned()
        };
        let mut forward = forward_for(&qname);
        let lookup = if task.key.qtype == RType::DS && !qname.as_ref().is_root() {
            qname
                .as_ref()
                .parent()
                .map_or(qname.clone(), |p| p.to_name())
        } else {
            qname.clone()
        };
        // A DS RRset lives in the parent zone: a stub for the DS owner's own zone names the
        // child's servers, which cannot prove the DS absent (RFC 4035 section 3.1.4.1), so
        // the parent's route is taken instead.
        if task.key.qtype == RType::DS
            && forward.as_ref().is_some_and(|f| {
                f.kind == ForwardKind::Stub
                    && f.zone.as_ref().label_count() == qname.as_ref().label_count()
            })
        {
            forward = forward_for(&lookup);
        }
        let delegation = self.cache.closest_delegation(lookup.as_ref(), now);
        if let Some(forward) = forward {
            let configured = || Server {
                name: None,
                addrs: forward.to.clone(),
                state: AddrState::Known,
                configured: true,
            };
            let ordered = forward.selection == Selection::Order;
            match forward.kind {
                ForwardKind::Forward => {
                    let mut zone =
                        ZoneState::new(forward.zone.clone(), ZoneKind::Forward, vec![configured()]);
                    zone.ordered = ordered;
                    task.zone = Some(zone);
                    return true;
                }
                ForwardKind::Stub => {
                    let deeper = delegation.as_ref().is_some_and(|d| {
                        d.owner.as_ref().label_count() > forward.zone.as_ref().label_count()
                            && d.owner.as_ref().is_subdomain_of(forward.zone.as_ref())
                    });
                    if !deeper {
                        let mut zone = ZoneState::new(
                            forward.zone.clone(),
                            ZoneKind::Iterate,
                            vec![configured()],
                        );
                        zone.ordered = ordered;
                        task.zone = Some(zone);
                        return true;
                    }
                }
            }
        }
        if let Some(ns) = delegation {
            let servers = self.servers_for(&ns, now);
            let mut zone = ZoneState::new(ns.owner.clone(), ZoneKind::Iterate, servers);
            zone.from_cache = true;
            task.zone = Some(zone);
            return true;
        }
        let is_root_ns = qname.as_ref().is_root() && task.key.qtype == RType::NS;
        if is_root_ns || task.priming || now < self.prime_failed_until {
            if is_root_ns {
                // A client asking `. NS` before priming primes.
                task.priming = true;
            }
            task.zone = Some(self.hints_zone());
            return true;
        }
        // Prime first (RFC 8109): wait for `. NS`, then look again.
        let key = Key::new(&Name::root(), RType::NS, Class::IN, false);
        self.depend_on(task, key, now);
        if task.pending_subs == 0 {
            task.zone = Some(self.hints_zone());
            return true;
        }
        false
    }

    /// The root zone as the hints describe it.
    fn hints_zone(&self) -> ZoneState {
        let servers = self
            .config
            .root_hints
            .servers()
            .iter()
            .map(|s| Server {
                name: Some(s.name.clone()),
                addrs: s.addrs.iter().map(|a| SocketAddr::new(*a, 53)).collect(),
                state: AddrState::Known,
                configured: true,
            })
            .collect();
        ZoneState::new(Name::root(), ZoneKind::Iterate, servers)
    }

    /// The servers of a delegation, with the addresses the cache knows (glue included).
    pub(crate) fn servers_for(&self, ns: &cache::RrSet, now: Time) -> Vec<Server> {
        let mut servers = Vec::new();
        for rdata in &ns.rdatas {
            let Some(name) = rdata_name(rdata) else {
                continue;
            };
            let mut addrs = Vec::new();
            for rtype in self.families() {
                if let Some((set, _)) = self.cache.rrset(name.as_ref(), rtype, now) {
                    addrs.extend(
                        set.rdatas
                            .iter()
                            .filter_map(|r| rdata_addr(rtype, r))
                            .map(|a| SocketAddr::new(a, 53)),
                    );
                }
            }
            let mut configured = false;
            if addrs.is_empty() && ns.owner.as_ref().is_root() {
                // A root server the priming answer gave no address for: the hints may know it.
                if let Some(hint) = self
                    .config
                    .root_hints
                    .servers()
                    .iter()
                    .find(|h| h.name == name)
                {
                    addrs.extend(hint.addrs.iter().map(|a| SocketAddr::new(*a, 53)));
                    configured = true;
                }
            }
            let below_cut = name.as_ref().is_subdomain_of(ns.owner.as_ref());
            let state = if !addrs.is_empty() {
                AddrState::Known
            } else if below_cut {
                // Only glue could give this address: resolving it needs this very zone.
                AddrState::Failed
            } else {
                AddrState::Unknown
            };
            servers.push(Server {
                name: Some(name),
                addrs,
                state,
                configured,
            });
        }
        servers
    }

    /// The address types asked for, by the families configured.
    pub(crate) fn families(&self) -> Vec<RType> {
        let mut out = Vec::with_capacity(2);
        if self.config.ipv4 {
            out.push(RType::A);
        }
        if self.config.ipv6 {
            out.push(RType::AAAA);
        }
        out
    }

    /// Sends the zone's current question to the next server, or starts sub-resolutions for
    /// addresses, or fails the task when nothing is left.
    pub(crate) fn ask(&mut self, task: &mut Task, now: Time) {
        match self.pick(task, now) {
            Pick::Send(server) => {
                let Some(zone) = task.zone.as_mut() else {
                    return;
                };
                zone.tried.push(server);
                zone.sends += 1;
                self.send(task, server, false, true, true, now);
            }
            Pick::Wait => {}
            Pick::Busy(servers) => self.park(task.id, &servers),
            Pick::Exhausted(Some(kind)) => self.fail_limit(task, kind, now),
            Pick::Exhausted(None) => {
                // Last resort: servers that timed out with EDNS, once more without.
                let retry = task.zone.as_mut().and_then(|z| z.noedns_retry.pop());
                if let Some(server) = retry {
                    self.stats.edns_fallbacks += 1;
                    self.send(task, server, false, false, true, now);
                    return;
                }
                if self.ask_parent_again(task, now) {
                    return;
                }
                let ede = task.sub_error.take().unwrap_or(ExtendedError {
                    code: Ede::NO_REACHABLE_AUTHORITY,
                    text: "no server of the zone answered usefully".to_string(),
                });
                self.fail(task, ede, now);
            }
        }
    }

    /// A resolution woken from waiting for a busy server: when the cache learned a deeper
    /// delegation for its name meanwhile (another resolution followed the referral it was
    /// waiting to ask for), it starts again from there instead of asking for it again.
    pub(crate) fn skip_to_cached_delegation(&self, task: &mut Task, now: Time) {
        let Some(zone) = task.zone.as_ref() else {
            return;
        };
        if zone.kind != ZoneKind::Iterate || task.key.qtype == RType::DS {
            return;
        }
        let deeper = self
            .cache
            .closest_delegation(task.qname.as_ref(), now)
            .is_some_and(|ns| {
                ns.owner.as_ref().label_count() > zone.cut.as_ref().label_count()
                    && ns.owner.as_ref().is_subdomain_of(zone.cut.as_ref())
            });
        if deeper {
            task.zone = None;
        }
    }

    /// Parent-side retry: every server of a delegation read from the cache failed (lame,
    /// silent, or no address: its glue expired before its NS RRset). The delegation may be
    /// stale, so the parent zone is asked once more for the referral, which replaces the cached
    /// delegation and its glue; iteration then goes on from the fresh servers. Once per
    /// resolution; the referral and the queries count against the usual limits. Returns
    /// whether the resolution goes on.
    fn ask_parent_again(&mut self, task: &mut Task, now: Time) -> bool {
        if task.parent_retried {
            return false;
        }
        let Some(zone) = task.zone.as_ref() else {
            return false;
        };
        if !zone.from_cache || zone.kind != ZoneKind::Iterate {
            return false;
        }
        // Only what a fresh referral can mend: servers asked that failed, or names inside the
        // zone left without glue. Not names elsewhere that could not be resolved (a delegation
        // cycle, a broken zone of their own) nor addresses refused as private.
        let glue_missing = zone.servers.iter().any(|s| {
            s.addrs.is_empty()
                && s.name
                    .as_ref()
                    .is_some_and(|n| n.as_ref().is_subdomain_of(zone.cut.as_ref()))
        });
        if zone.tried.is_empty() && !glue_missing {
            return false;
        }
        let Some(above) = zone.cut.as_ref().parent() else {
            return false;
        };
        task.parent_retried = true;
        self.stats.parent_retries += 1;
        let parent = match self.cache.closest_delegation(above, now) {
            Some(ns) => {
                let servers = self.servers_for(&ns, now);
                ZoneState::new(ns.owner.clone(), ZoneKind::Iterate, servers)
            }
            None => self.hints_zone(),
        };
        task.zone = Some(parent);
        self.ask(task, now);
        true
    }

    fn pick(&mut self, task: &mut Task, now: Time) -> Pick {
        let limits = self.config.limits;
        let Some(zone) = task.zone.as_ref() else {
            return Pick::Exhausted(None);
        };
        let mut candidates = Vec::new();
        let mut busy = Vec::new();
        let mut private = false;
        for server in &zone.servers {
            for addr in &server.addrs {
                if zone.tried.contains(addr) || !self.family_ok(addr.ip()) {
                    continue;
                }
                if !server.configured
                    && !self.config.insecure_local_upstreams
                    && crate::addr::is_local(addr.ip())
                {
                    self.stats.private_refused += 1;
                    private = true;
                    continue;
                }
                if self.infra.outstanding(*addr) >= limits.max_outstanding_per_server {
                    busy.push(*addr);
                }
                candidates.push(*addr);
            }
        }
        if !candidates.is_empty() {
            if zone.sends >= limits.max_addresses_per_ns_set {
                return Pick::Exhausted(Some(LimitKind::AddressesPerNsSet));
            }
            let cut = zone.cut.clone();
            let chosen = if zone.ordered {
                self.infra.select_ordered(&candidates, cut.as_ref(), now)
            } else {
                self.infra
                    .select(&candidates, cut.as_ref(), now, &mut self.rng)
            };
            if let Some(server) = chosen {
                return Pick::Send(server);
            }
            if !busy.is_empty() {
                return Pick::Busy(busy);
            }
        }
        if private && task.sub_error.is_none() {
            task.sub_error = Some(ExtendedError {
                code: Ede::NO_REACHABLE_AUTHORITY,
                text: "name server addresses are private (insecure_local_upstreams is off)"
                    .to_string(),
            });
        }
        // Nothing to ask: resolve a name server's address.
        if task.pending_subs > 0 {
            return Pick::Wait;
        }
        match self.resolve_next_name(task, now) {
            Ok(true) => Pick::Wait,
            Ok(false) => Pick::Exhausted(None),
            Err(kind) => Pick::Exhausted(Some(kind)),
        }
    }

    fn family_ok(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(_) => self.config.ipv4,
            IpAddr::V6(_) => self.config.ipv6,
        }
    }

    /// Starts sub-resolutions for the next name server without an address. `Ok(true)` when
    /// the task now waits; `Ok(false)` when no name is left; `Err` for a limit.
    fn resolve_next_name(&mut self, task: &mut Task, now: Time) -> Result<bool, LimitKind> {
        let limits = self.config.limits;
        loop {
            let Some(zone) = task.zone.as_ref() else {
                return Ok(false);
            };
            let Some(index) = zone
                .servers
                .iter()
                .position(|s| s.state == AddrState::Unknown)
            else {
                return Ok(false);
            };
            if zone.names_resolved >= limits.max_ns_names_resolved {
                return Err(LimitKind::NsNamesResolved);
            }
            if task.depth + 1 > limits.max_dependency_depth {
                return Err(LimitKind::DependencyDepth);
            }
            if self.budget(task).glueless >= limits.max_glueless_queries {
                return Err(LimitKind::GluelessQueries);
            }
            self.budget(task).glueless += 1;
            let Some(name) = task
                .zone
                .as_mut()
                .and_then(|z| {
                    z.names_resolved += 1;
                    z.servers.get_mut(index)
                })
                .and_then(|s| s.name.clone())
            else {
                return Ok(false);
            };
            let before = task.pending_subs;
            for rtype in self.families() {
                let key = Key::new(&name, rtype, Class::IN, false);
                if self.on_chain(task, &key) {
                    self.stats.limits_hit[LimitKind::DependencyDepth.index()] += 1;
                    task.sub_error = Some(ExtendedError {
                        code: Ede::NO_REACHABLE_AUTHORITY,
                        text: "delegation cycle: a name server's address depends on itself"
                            .to_string(),
                    });
                    continue;
                }
                self.stats.sub_resolutions += 1;
                self.depend_on(task, key.clone(), now);
                if let Some(&id) = self.mesh.get(&key)
                    && let Some(sub) = self.tasks.get_mut(&id)
                    && sub.waiters == [Waiter::Task(task.id)]
                {
                    sub.internal = true;
                }
            }
            let started = task.pending_subs - before;
            if let Some(server) = task.zone.as_mut().and_then(|z| z.servers.get_mut(index)) {
                server.state = if started > 0 {
                    AddrState::Resolving(started as u8)
                } else {
                    AddrState::Failed
                };
            }
            if started > 0 {
                return Ok(true);
            }
        }
    }

    /// Makes `task` wait for the resolution of `key`, joining one in flight or starting one.
    pub(crate) fn depend_on(&mut self, task: &mut Task, key: Key, now: Time) {
        if let Some(&id) = self.mesh.get(&key) {
            if id == task.id {
                return;
            }
            if let Some(other) = self.tasks.get_mut(&id) {
                other.waiters.push(Waiter::Task(task.id));
                task.pending_subs += 1;
                task.children.push(id);
            }
            return;
        }
        if self.tasks.len() >= self.config.limits.max_mesh as usize {
            return;
        }
        let question = Question {
            qname: key.qname.clone(),
            qtype: key.qtype,
            qclass: key.qclass,
        };
        let priming = key.qname.as_ref().is_root() && key.qtype == RType::NS;
        let id = self.create_task(key, question, vec![Waiter::Task(task.id)], Some(task), now);
        if let Some(sub) = self.tasks.get_mut(&id) {
            sub.priming = priming;
        }
        if priming {
            self.stats.primings += 1;
        }
        task.pending_subs += 1;
        task.children.push(id);
    }

    /// A sub-resolution `key` that `task` waited for finished with `resolution`.
    pub(crate) fn sub_done(
        &mut self,
        task: &mut Task,
        key: &Key,
        resolution: &Arc<Resolution>,
        _now: Time,
    ) {
        if resolution.rcode == Rcode::SERVFAIL
            && let Some(ede) = &resolution.extended_error
            && (task.sub_error.is_none() || ede.code == Ede::OTHER)
        {
            task.sub_error = Some(ede.clone());
        }
        let Some(zone) = task.zone.as_mut() else {
            return;
        };
        let addrs: Vec<SocketAddr> = resolution
            .answer
            .iter()
            .filter(|s| s.rtype == key.qtype)
            .flat_map(|s| s.rdatas.iter().filter_map(|r| rdata_addr(s.rtype, r)))
            .map(|a| SocketAddr::new(a, 53))
            .collect();
        for server in &mut zone.servers {
            if server.name.as_ref() != Some(&key.qname) {
                continue;
            }
            for addr in &addrs {
                if !server.addrs.contains(addr) {
                    server.addrs.push(*addr);
                }
            }
            if let AddrState::Resolving(left) = server.state {
                server.state = if left > 1 {
                    AddrState::Resolving(left - 1)
                } else if server.addrs.is_empty() {
                    AddrState::Failed
                } else {
                    AddrState::Known
                };
            }
        }
    }

    /// The question to send to the current zone: minimised (RFC 9156) or full. A minimised
    /// name the cache already knows to exist inside this zone is not asked again: the next
    /// label is tried (see `known_inside`).
    fn question_for(&mut self, task: &mut Task, now: Time) -> (Name, RType) {
        let minimise = self.config.qname_minimisation != QnameMinimisation::Off
            && !task.minimise_off
            && !task.priming;
        let Some(zone) = task.zone.as_mut() else {
            return (task.qname.clone(), task.key.qtype);
        };
        if let Some(asked) = &zone.asked {
            return asked.clone();
        }
        let full = (task.qname.clone(), task.key.qtype);
        let target = task.qname.as_ref().label_count();
        let mut asked = full.clone();
        if minimise && zone.kind != ZoneKind::Forward && task.key.qtype != RType::DS {
            // Each round adds at least one label: bounded by the name's labels.
            while zone.min_labels < target {
                let have = zone.min_labels;
                let step = if task.minimised < MINIMISE_ONE_LAB {
                    1
                } else {
                    let left_queries = MAX_MINIMISE_COUNT.saturating_sub(task.minimised) as usize;
                    let left_labels = target.saturating_sub(have);
                    if left_queries <= 1 {
                        left_labels
                    } else {
                        left_labels.div_ceil(left_queries).max(1)
                    }
                };
                let next = have + step;
                if next >= target {
                    break;
                }
                let Some(name) = task.qname.as_ref().strip_labels(target - next) else {
                    break;
                };
                let name = name.to_name();
                if self.known_inside(&name, &zone.cut, now) {
                    zone.min_labels = next;
                    continue;
                }
                task.minimised += 1;
                asked = (name, RType::A);
                break;
            }
        }
        zone.asked = Some(asked.clone());
        asked
    }

    /// Whether the cache shows that `name` exists inside the zone at `cut` and is no zone cut,
    /// as the answer to a minimised query would: a NODATA for A whose SOA is the zone's, or A
    /// data from an authoritative answer (RFC 9156 section 3 lets a resolver use what it
    /// knows; Unbound skips a minimised name cached as NOERROR). Referrals never count: their
    /// NS are kept apart as delegations and their glue is below `Trust::AuthAnswer`.
    fn known_inside(&self, name: &Name, cut: &Name, now: Time) -> bool {
        if let Some(negative) = self.cache.negative(name.as_ref(), RType::A, now) {
            return negative.kind == cache::NegativeKind::NoData && negative.soa.owner == *cut;
        }
        self.cache
            .rrset(name.as_ref(), RType::A, now)
            .is_some_and(|(_, trust)| trust >= Trust::AuthAnswer)
    }

    /// Sends the zone's current question to `server`. `tcp`, `edns` and `case` choose the
    /// transport, EDNS and 0x20 (each also subject to what is known of the server).
    pub(crate) fn send(
        &mut self,
        task: &mut Task,
        server: SocketAddr,
        tcp: bool,
        edns: bool,
        case: bool,
        now: Time,
    ) {
        let limits = self.config.limits;
        if self.budget(task).queries >= limits.max_upstream_queries {
            self.fail_limit(task, LimitKind::UpstreamQueries, now);
            return;
        }
        if !self.zone_admits(task, now) {
            self.fail_limit(task, LimitKind::ZoneCap, now);
            return;
        }
        self.budget(task).queries += 1;
        task.sent += 1;
        self.parked.remove(&task.id);
        let (qname, qtype) = self.question_for(task, now);
        let rd = task
            .zone
            .as_ref()
            .is_some_and(|z| z.kind == ZoneKind::Forward);
        let edns = edns && self.infra.edns(server) != EdnsSupport::Fails;
        let check_case = case && self.config.case_randomisation && self.infra.echoes_case(server);
        let sent_name = if check_case {
            upstream::randomise_case(&qname, &mut self.rng)
        } else {
            qname
        };
        let client_cookie = (edns && self.config.cookies)
            .then(|| upstream::client_cookie(&self.cookie_secret, None, server.ip()));
        let sent = Sent {
            id: (rand::Rng::next_u32(&mut self.rng) & 0xffff) as u16,
            qname: sent_name,
            qtype,
            qclass: task.key.qclass,
            server,
            rd,
            cd: rd && self.config.validation.active(),
            edns,
            dnssec_ok: edns,
            client_cookie,
        };
        let message = upstream::build_query(
            &sent,
            self.infra.server_cookie(server),
            self.config.edns_payload,
        );
        let rto = self.infra.rto(server, now);
        let deadline = now.plus_millis(if tcp {
            rto.saturating_mul(2).max(1000)
        } else {
            rto
        });
        let id = UpstreamId(self.next_query);
        self.next_query += 1;
        self.infra.begin(server);
        self.timers.insert((deadline, Timer::Query(id)));
        self.queries.insert(
            id,
            Query {
                task: task.id,
                sent,
                sent_at: now,
                deadline,
                tcp,
                check_case,
                case_mismatch: false,
                case_probe: false,
                cookie_retry: false,
            },
        );
        task.query = Some(id);
        self.server_sample(server, crate::stats::ServerSample::Sent);
        if tcp {
            self.stats.queries_tcp += 1;
        } else {
            self.stats.queries_udp += 1;
        }
        self.transmits.push_back(Transmit {
            id,
            server,
            transport: if tcp {
                UpstreamTransport::Tcp
            } else {
                UpstreamTransport::Udp
            },
            message,
            deadline,
        });
    }

    /// Whether the random-subdomain cap ([`crate::zonecap`]) lets one more query go to the
    /// servers of the zone `task` asks. Forwarded zones are never capped.
    fn zone_admits(&self, task: &Task, now: Time) -> bool {
        let (Some(cap), Some(zone)) = (&self.config.zone_cap, &task.zone) else {
            return true;
        };
        zone.kind == ZoneKind::Forward
            || cap.admit(&zone.cut, now.as_millis()) == crate::zonecap::Admit::Send
    }

    /// Asks the same server the same question again (TCP after TC, no EDNS after FORMERR,
    /// no 0x20 for a server that does not echo case).
    pub(crate) fn resend(
        &mut self,
        task: &mut Task,
        query: &Query,
        tcp: bool,
        edns: bool,
        now: Time,
    ) {
        if let Some(zone) = task.zone.as_mut() {
            zone.sends += 1;
        }
        let case = query.check_case && self.infra.echoes_case(query.sent.server);
        self.send(task, query.sent.server, tcp, edns, case, now);
    }

    /// The query went unanswered (timeout or I/O failure): try the next server.
    pub(crate) fn on_silence(&mut self, task: &mut Task, query: &Query, now: Time) {
        let server = query.sent.server;
        if query.sent.edns
            && self.infra.edns(server) == EdnsSupport::Unknown
            && let Some(zone) = task.zone.as_mut()
            && !zone.noedns_retry.contains(&server)
        {
            zone.noedns_retry.push(server);
        }
        self.ask(task, now);
    }
}

/// A REFUSED resolution (a class or type the recursor does not resolve).
fn refused() -> Resolution {
    Resolution {
        rcode: Rcode::REFUSED,
        answer: Vec::new(),
        authority: Vec::new(),
        extended_error: Some(ExtendedError {
            code: Ede::NOT_SUPPORTED,
            text: "class or type not resolved".to_string(),
        }),
        security: Security::Indeterminate,
    }
}
