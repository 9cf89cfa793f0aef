//! What to do with an accepted upstream answer.
//!
//! First the transport-level cases, which ask the same server again: FORMERR or NOTIMP to a
//! query with EDNS means the server does not speak EDNS (RFC 6891 section 7): remember it and
//! ask without; TC over UDP means the answer did not fit: ask over TCP (RFC 7766 section 5);
//! BADCOOKIE means our server cookie was stale: ask once more with the new one (RFC 7873
//! section 5.3).
//!
//! Then the answer is classified (`response.rs`), passed to the validation hook, and acted on:
//!
//! - a *referral* is counted against the referral limit; the delegation goes to the cache with
//!   `insert_delegation` (kept apart from answers, so child-side NS never refresh it: ghost
//!   domains) and the in-bailiwick glue at [`Trust::Glue`]; iteration moves down;
//! - an *answer* is cached (at [`Trust::AuthAnswer`] with AA, [`Trust::Answer`] from a
//!   forwarder) with its alias chain and finishes the resolution; a CNAME synthesised from a
//!   DNAME (RFC 6672) is not cached: the cached DNAME answers the name again, with itself
//!   in the answer as section 3.4 requires, which a lone cached CNAME would not;
//! - an *alias* leaving the zone is cached, counted against the chain limit, and resolution
//!   starts over at its target (cache first);
//! - *NXDOMAIN* and *NODATA* are cached as negative answers with their SOA and proofs (RFC 2308)
//!   and finish the resolution;
//! - a *lame* answer marks the server lame for the zone in the infrastructure cache and the next
//!   server is asked.
//!
//! Answers to a minimised query (RFC 9156) mean something else: NODATA, data or an alias at the
//! minimised name say it exists but is no zone cut, so one more label is sent; NXDOMAIN says
//! nothing exists below it either (RFC 8020), which ends the resolution; an error or a lame
//! answer makes a relaxed resolver ask the full name instead (section 3 of the RFC), and a
//! strict one treat the server as lame.

use cache::{NegativeKind, RrSet, Time, Trust};
use wire::{Name, RType, Rcode};

use crate::Resolution;
use crate::config::{LimitKind, QnameMinimisation};
use crate::infra::EdnsSupport;
use crate::iterate::{ZoneKind, ZoneState, rdata_addr};
use crate::mesh::{Query, Recursor, Task};
use crate::response::{Asked, Classified, Kind, classify, rdata_name};
use crate::upstream::Accepted;

impl Recursor {
    /// Acts on the accepted answer to `query`, sent for `task`; see the module docs.
    pub(crate) fn on_reply(
        &mut self,
        task: &mut Task,
        query: &Query,
        accepted: &Accepted<'_>,
        now: Time,
    ) {
        let msg = &accepted.message;
        let server = query.sent.server;
        let rcode = msg.rcode();
        if query.sent.edns && (rcode == Rcode::FORMERR || rcode == Rcode::NOTIMP) {
            self.infra.set_edns(server, EdnsSupport::Fails, now);
            self.stats.edns_fallbacks += 1;
            self.resend(task, query, query.tcp, false, now);
            return;
        }
        if query.sent.edns && msg.edns().is_some() && self.infra.edns(server) != EdnsSupport::Works
        {
            self.infra.set_edns(server, EdnsSupport::Works, now);
        }
        if rcode == Rcode::BADCOOKIE && !query.cookie_retry {
            self.resend(task, query, query.tcp, query.sent.edns, now);
            if let Some(q) = task.query.and_then(|id| self.queries.get_mut(&id)) {
                q.cookie_retry = true;
            }
            return;
        }
        if !accepted.question_echoed {
            self.lame(task, query, now);
            return;
        }
        if msg.header().flags.tc() {
            if query.tcp {
                self.lame(task, query, now);
            } else {
                self.stats.tcp_fallbacks += 1;
                self.resend(task, query, true, query.sent.edns, now);
            }
            return;
        }
        if rcode != Rcode::NOERROR && rcode != Rcode::NXDOMAIN {
            self.lame(task, query, now);
            return;
        }
        let Some(zone) = task.zone.as_ref() else {
            return;
        };
        let (cut, kind) = (zone.cut.clone(), zone.kind);
        let classified = classify(
            msg,
            Asked {
                qname: query.sent.qname.as_ref(),
                qtype: query.sent.qtype,
                qclass: query.sent.qclass,
                zone: cut.as_ref(),
                forwarder: kind == ZoneKind::Forward,
            },
        );
        self.stats.out_of_bailiwick += classified.dropped as u64;
        if kind == ZoneKind::Iterate {
            // Validation needs the zone whose server answered (unsigned data is judged by it).
            task.answered_by = Some(cut.clone());
        }
        let security = crate::Security::Indeterminate;
        let minimised = query.sent.qname.as_ref().label_count() < task.qname.as_ref().label_count();
        let trust = if kind == ZoneKind::Iterate && classified.authoritative {
            Trust::AuthAnswer
        } else {
            Trust::Answer
        };
        match classified.kind.clone() {
            Kind::Lame(_) => self.lame(task, query, now),
            Kind::Referral { cut, ns, glue, ds } => {
                task.referrals += 1;
                if task.referrals > self.config.limits.max_referrals {
                    self.fail_limit(task, LimitKind::Referrals, now);
                    return;
                }
                self.stats.referrals += 1;
                self.cache.insert_delegation(&ns, now);
                for set in &glue {
                    self.cache.insert_rrset(set, Trust::Glue, now);
                }
                if let Some(ds) = &ds {
                    self.cache.insert_rrset(ds, Trust::Authority, now);
                }
                let mut servers = self.servers_for(&ns, now);
                for server in &mut servers {
                    for set in glue
                        .iter()
                        .filter(|g| Some(&g.owner) == server.name.as_ref())
                    {
                        for addr in set.rdatas.iter().filter_map(|r| rdata_addr(set.rtype, r)) {
                            let addr = std::net::SocketAddr::new(addr, 53);
                            if !server.addrs.contains(&addr) {
                                server.addrs.push(addr);
                            }
                        }
                        if !server.addrs.is_empty() {
                            server.state = crate::iterate::AddrState::Known;
                        }
                    }
                }
                task.zone = Some(ZoneState::new(cut, ZoneKind::Iterate, servers));
                self.ask(task, now);
            }
            Kind::Answer(sets) if minimised => {
                self.cache_all(&sets, trust, now);
                self.minimise_further(task, query, now);
            }
            Kind::Alias(_) if minimised => {
                self.cache_chain(&classified.chain, trust, now);
                self.minimise_further(task, query, now);
            }
            Kind::NoData if minimised => {
                self.cache_negative(
                    &query.sent.qname,
                    query.sent.qtype,
                    NegativeKind::NoData,
                    &classified,
                    now,
                );
                self.minimise_further(task, query, now);
            }
            Kind::Answer(sets) => {
                // One chain: a CNAME asked for below a DNAME is the synthesised one.
                let mut chain = classified.chain.clone();
                chain.extend(sets.iter().cloned());
                self.cache_chain(&chain, trust, now);
                if task.priming
                    && let Some(ns) = sets.first()
                    && self.prime(ns, &classified, now)
                {
                    self.stats.primings_succeeded += 1;
                }
                let mut answer = std::mem::take(&mut task.chain);
                answer.extend(classified.chain.iter().cloned());
                answer.extend(sets);
                self.finish(
                    task,
                    Resolution {
                        rcode: Rcode::NOERROR,
                        answer,
                        // NSEC/NSEC3 proving a wildcard expansion (RFC 4035 section 3.1.3.3).
                        authority: classified.proofs.clone(),
                        extended_error: None,
                        security,
                    },
                    now,
                );
            }
            Kind::Alias(target) => {
                self.cache_chain(&classified.chain, trust, now);
                let cnames = classified
                    .chain
                    .iter()
                    .filter(|s| s.rtype == RType::CNAME)
                    .count() as u32;
                task.steps += cnames.saturating_sub(1);
                task.chain.extend(classified.chain.iter().cloned());
                if self.alias_step(task, target, now) {
                    self.advance(task, now);
                }
            }
            Kind::NoData | Kind::NxDomain => {
                let nx = classified.kind == Kind::NxDomain;
                if nx
                    && kind != ZoneKind::Forward
                    && let Some(cap) = &self.config.zone_cap
                    && cap.on_nxdomain(&cut, now.as_millis())
                {
                    self.event(crate::RecursorEvent::ZoneCapped { zone: cut.clone() });
                }
                let negative = if nx {
                    NegativeKind::NxDomain
                } else {
                    NegativeKind::NoData
                };
                self.cache_chain(&classified.chain, trust, now);
                let end = chain_end(&classified.chain).unwrap_or_else(|| query.sent.qname.clone());
                let qtype = if minimised {
                    query.sent.qtype
                } else {
                    task.key.qtype
                };
                self.cache_negative(&end, qtype, negative, &classified, now);
                let mut answer = std::mem::take(&mut task.chain);
                answer.extend(classified.chain.iter().cloned());
                let mut authority: Vec<RrSet> = classified.soa.iter().cloned().collect();
                authority.extend(classified.proofs.iter().cloned());
                self.finish(
                    task,
                    Resolution {
                        rcode: if nx { Rcode::NXDOMAIN } else { Rcode::NOERROR },
                        answer,
                        authority,
                        extended_error: None,
                        security,
                    },
                    now,
                );
            }
        }
    }

    /// A lame or failed answer: relaxed QNAME minimisation asks the full name instead;
    /// otherwise the server is marked lame for the zone and the next one asked.
    fn lame(&mut self, task: &mut Task, query: &Query, now: Time) {
        let minimised = query.sent.qname.as_ref().label_count() < task.qname.as_ref().label_count();
        if minimised && self.config.qname_minimisation == QnameMinimisation::Relaxed {
            task.minimise_off = true;
            if let Some(zone) = task.zone.as_mut() {
                zone.asked = None;
            }
            self.resend(task, query, query.tcp, query.sent.edns, now);
            return;
        }
        self.stats.lame += 1;
        if let Some(zone) = task.zone.as_ref() {
            let cut = zone.cut.clone();
            self.infra.mark_lame(query.sent.server, cut.as_ref(), now);
        }
        self.ask(task, now);
    }

    /// The minimised name exists and is no zone cut: send one more label to the same zone.
    fn minimise_further(&mut self, task: &mut Task, query: &Query, now: Time) {
        if let Some(zone) = task.zone.as_mut() {
            zone.min_labels = query.sent.qname.as_ref().label_count();
            zone.asked = None;
            zone.tried.clear();
            zone.sends = 0;
        }
        self.ask(task, now);
    }

    fn cache_all(&self, sets: &[RrSet], trust: Trust, now: Time) {
        for set in sets {
            self.cache.insert_rrset(set, trust, now);
        }
    }

    /// Caches an alias chain, except the CNAMEs synthesised from a DNAME (each follows its
    /// DNAME in the chain). Cached as plain CNAMEs they would answer the name later without
    /// the DNAME, which RFC 6672 section 3.4 requires in the answer (and `Cache::answer`
    /// follows CNAMEs only); the cached DNAME synthesises them again (`answer_from_cache`).
    fn cache_chain(&self, chain: &[RrSet], trust: Trust, now: Time) {
        let mut previous: Option<&RrSet> = None;
        for set in chain {
            if !is_synthesised(previous, set) {
                self.cache.insert_rrset(set, trust, now);
            }
            previous = Some(set);
        }
    }

    fn cache_negative(
        &self,
        name: &Name,
        qtype: RType,
        kind: NegativeKind,
        classified: &Classified,
        now: Time,
    ) {
        if let Some(soa) = &classified.soa {
            self.cache
                .insert_negative(name.as_ref(), qtype, kind, soa, &classified.proofs, now);
        }
    }

    /// The answer to a priming query (RFC 8109 section 4): the root NS RRset becomes the root
    /// delegation, the addresses of its names (all inside the root zone) glue.
    /// Returns whether the answer was a root NS RRset (the priming succeeded).
    fn prime(&self, ns: &RrSet, classified: &Classified, now: Time) -> bool {
        if ns.rtype != RType::NS || !ns.owner.as_ref().is_root() {
            return false;
        }
        self.cache.insert_delegation(ns, now);
        let names: Vec<Name> = ns.rdatas.iter().filter_map(|r| rdata_name(r)).collect();
        for set in &classified.additional {
            if names.contains(&set.owner) {
                self.cache.insert_rrset(set, Trust::Glue, now);
            }
        }
        true
    }
}

/// The name an alias chain ends at: the target of its last CNAME.
fn chain_end(chain: &[RrSet]) -> Option<Name> {
    chain
        .iter()
        .rev()
        .find(|s| s.rtype == RType::CNAME)
        .and_then(|s| s.rdatas.first())
        .and_then(|r| rdata_name(r))
}

/// Whether `set` is the CNAME synthesised from the DNAME just before it in a chain (RFC 6672
/// section 2.2: owned by a name below the DNAME's owner).
fn is_synthesised(previous: Option<&RrSet>, set: &RrSet) -> bool {
    set.rtype == RType::CNAME
        && previous.is_some_and(|dname| {
            dname.rtype == RType::DNAME
                && set.owner != dname.owner
                && set.owner.as_ref().is_subdomain_of(dname.owner.as_ref())
        })
}
