//! Blocklists and Response Policy Zones: which questions and answers the resolver must not
//! give as they are, and what to answer instead.
//!
//! A [`Policy`] holds, in the operator's order, response policy zones ([`Rpz`]), allowlists and
//! blocklists ([`DomainList`], [`BlockList`]). The engine asks it twice:
//!
//! 1. [`Policy::check_qname`], before the cache and before any resolution, so that a blocked
//!    name never leaves the server: the first RPZ whose QNAME triggers match decides; else a
//!    name on an allowlist goes through; else the first blocklist that blocks the name decides.
//! 2. [`Policy::check_answer`], on every answer from the cache or from a resolution: the CNAME
//!    targets of the answer against QNAME triggers and blocklists (so that a CNAME cannot
//!    cloak a blocked name), its A and AAAA records against RPZ IP triggers, and the name
//!    servers of the zone that answered against NSDNAME triggers.
//!
//! Precedence follows the RPZ draft and BIND: the first zone in the configuration that has any
//! matching trigger wins; within a zone QNAME triggers come before IP triggers, and those before
//! NSDNAME triggers; among QNAME (and NSDNAME) triggers an exact owner beats a wildcard and a
//! longer wildcard a shorter one; among IP triggers the longest prefix wins. A PASSTHRU on the
//! name asked ends policy for that question. RPZ zones come before the lists. Allowlists only
//! exempt names from the blocklists (and a blocklist's own `@@` exceptions from that list).
//!
//! Matching is allocation-free: see [`set`] for the structure and its cost.

pub mod list;
pub mod rpz;
pub mod set;

use std::net::IpAddr;
use std::sync::Arc;

use wire::{NameRef, RType};

pub use list::{DomainList, ListError, ListKind, Skipped};
pub use rpz::{Rpz, RpzError};
pub use set::{Found, NameSet};

/// EDE INFO-CODE 15, "Blocked" (RFC 8914 section 4.16): blocked by the operator's policy.
pub const EDE_BLOCKED: u16 = 15;
/// EDE INFO-CODE 17, "Filtered" (RFC 8914 section 4.18): filtered at the client's request.
pub const EDE_FILTERED: u16 = 17;

/// What to answer instead of the real data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// NXDOMAIN.
    NxDomain,
    /// NOERROR with an empty answer.
    NoData,
    /// REFUSED.
    Refused,
    /// No response at all.
    Drop,
    /// Over UDP an empty response with TC (the client retries over TCP); over TCP the real
    /// answer.
    TcpOnly,
    /// The real answer; no further policy for this question.
    Passthru,
    /// These records, with the name asked as owner (a sinkhole address, a custom answer, or a
    /// CNAME rewrite). A type with no record here gets NODATA.
    Local(LocalData),
}

/// Records answered by a policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalData {
    /// The records, owner-less.
    pub records: Vec<LocalRecord>,
}

/// One record of [`LocalData`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRecord {
    /// Its type.
    pub rtype: RType,
    /// Its TTL.
    pub ttl: u32,
    /// Its RDATA, uncompressed wire form. A CNAME target `*.x` stands for the name asked
    /// followed by `x`.
    pub rdata: Vec<u8>,
}

/// Which kind of rule matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A blocklist.
    Blocklist,
    /// An RPZ QNAME trigger.
    RpzQname,
    /// An RPZ IP trigger.
    RpzIp,
    /// An RPZ NSDNAME trigger.
    RpzNsdname,
}

impl Trigger {
    /// The event reason: "blocklist", "rpz qname", "rpz ip", "rpz nsdname".
    pub fn reason(self) -> &'static str {
        match self {
            Trigger::Blocklist => "blocklist",
            Trigger::RpzQname => "rpz qname",
            Trigger::RpzIp => "rpz ip",
            Trigger::RpzNsdname => "rpz nsdname",
        }
    }
}

/// A blocklist: the names and what to answer for them.
#[derive(Clone, Debug)]
pub struct BlockList {
    /// Its name (events, EDE text).
    pub name: Box<str>,
    /// The names (shared with the loader that keeps the last good version).
    pub list: Arc<DomainList>,
    /// What to answer.
    pub action: Action,
    /// The EDE code to attach, if any.
    pub ede: Option<u16>,
    ede_text: Box<str>,
}

impl BlockList {
    /// A blocklist named `name`.
    pub fn new(name: &str, list: Arc<DomainList>, action: Action, ede: Option<u16>) -> BlockList {
        BlockList {
            name: name.into(),
            list,
            action,
            ede,
            ede_text: format!("blocked by {name}").into(),
        }
    }
}

/// A response policy zone in the policy.
#[derive(Clone, Debug)]
pub struct PolicyZone {
    /// The zone (shared with the loader that keeps the last good version).
    pub rpz: Arc<Rpz>,
    /// The EDE code attached to its answers, if any (PASSTHRU never has one).
    pub ede: Option<u16>,
    name: Box<str>,
    ede_text: Box<str>,
}

impl PolicyZone {
    /// `rpz`, answering with EDE `ede`.
    pub fn new(rpz: Arc<Rpz>, ede: Option<u16>) -> PolicyZone {
        let name = rpz.origin.to_string();
        PolicyZone {
            ede_text: format!("rpz {name}").into(),
            name: name.into(),
            rpz,
            ede,
        }
    }

    /// The zone's name, as written.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A policy decision: what matched and what to do.
#[derive(Clone, Copy, Debug)]
pub struct Hit<'p> {
    /// What to answer.
    pub action: &'p Action,
    /// Which kind of rule matched.
    pub trigger: Trigger,
    /// The list or zone that matched.
    pub source: &'p str,
    /// The EDE to attach (code, text).
    pub ede: Option<(u16, &'p str)>,
    /// The RPZ's origin and SOA, for the authority section of negative answers.
    pub soa: Option<(NameRef<'p>, u32, &'p [u8])>,
    /// Which name of the answer's chain matched (0: the name asked; `i`: the target of the
    /// `i`th CNAME): the response keeps the CNAMEs before it and answers for that name.
    pub step: usize,
}

/// Blocklists, allowlists and response policy zones, in the operator's order. Immutable; a
/// reload builds a new one.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    zones: Vec<PolicyZone>,
    blocklists: Vec<BlockList>,
    allowlists: Vec<(Box<str>, Arc<DomainList>)>,
}

impl Policy {
    /// A policy of these zones and lists (each in order of precedence).
    pub fn new(
        zones: Vec<PolicyZone>,
        blocklists: Vec<BlockList>,
        allowlists: Vec<(Box<str>, Arc<DomainList>)>,
    ) -> Policy {
        Policy {
            zones,
            blocklists,
            allowlists,
        }
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.blocklists.is_empty()
    }

    /// The zones.
    pub fn zones(&self) -> &[PolicyZone] {
        &self.zones
    }

    /// The blocklists.
    pub fn blocklists(&self) -> &[BlockList] {
        &self.blocklists
    }

    /// The allowlists (name, list).
    pub fn allowlists(&self) -> &[(Box<str>, Arc<DomainList>)] {
        &self.allowlists
    }

    /// Whether an answer needs the name servers of its zone (some zone has NSDNAME triggers).
    pub fn wants_nsdnames(&self) -> bool {
        self.zones.iter().any(|z| z.rpz.has_nsdname_triggers())
    }

    fn zone_hit<'p>(
        zone: &'p PolicyZone,
        action: &'p Action,
        trigger: Trigger,
        step: usize,
    ) -> Hit<'p> {
        Hit {
            action,
            trigger,
            source: &zone.name,
            ede: zone
                .ede
                .filter(|_| *action != Action::Passthru)
                .map(|c| (c, &*zone.ede_text)),
            soa: zone
                .rpz
                .soa
                .as_ref()
                .map(|(ttl, rdata)| (zone.rpz.origin.as_ref(), *ttl, rdata.as_slice())),
            step,
        }
    }

    fn list_hit(list: &BlockList, step: usize) -> Hit<'_> {
        Hit {
            action: &list.action,
            trigger: Trigger::Blocklist,
            source: &list.name,
            ede: list.ede.map(|c| (c, &*list.ede_text)),
            soa: None,
            step,
        }
    }

    /// The blocklist hit for `name`, unless an allowlist allows it.
    fn listed(&self, name: NameRef<'_>, step: usize) -> Option<Hit<'_>> {
        let list = self.blocklists.iter().find(|b| b.list.blocks(name))?;
        if self.allowlists.iter().any(|(_, a)| a.allows(name)) {
            return None;
        }
        Some(Policy::list_hit(list, step))
    }

    /// The decision for the name asked, before the cache and resolution. A PASSTHRU hit means
    /// no policy at all for this question.
    #[inline]
    pub fn check_qname(&self, qname: NameRef<'_>) -> Option<Hit<'_>> {
        for zone in &self.zones {
            if let Some(action) = zone.rpz.qname(qname) {
                return Some(Policy::zone_hit(zone, action, Trigger::RpzQname, 0));
            }
        }
        self.listed(qname, 0)
    }

    /// The decision for an answer: `chain` is the name asked followed by each CNAME target in
    /// order, `addrs` the A/AAAA addresses with the index in `chain` of their owner, `nsdnames`
    /// the names of the name servers of the zone that answered. The name asked itself is
    /// assumed checked by [`Policy::check_qname`]. A PASSTHRU hit means the answer stands.
    pub fn check_answer(
        &self,
        chain: &[NameRef<'_>],
        addrs: &[(usize, IpAddr)],
        nsdnames: &[NameRef<'_>],
    ) -> Option<Hit<'_>> {
        for zone in &self.zones {
            for (step, name) in chain.iter().enumerate().skip(1) {
                if let Some(action) = zone.rpz.qname(*name) {
                    return Some(Policy::zone_hit(zone, action, Trigger::RpzQname, step));
                }
            }
            let ip = addrs
                .iter()
                .filter_map(|(step, a)| zone.rpz.ip(*a).map(|(len, act)| (len, *step, act)))
                .fold(None, |best: Option<(u8, usize, &Action)>, hit| match best {
                    Some(b) if b.0 >= hit.0 => Some(b),
                    _ => Some(hit),
                });
            if let Some((_, step, action)) = ip {
                return Some(Policy::zone_hit(zone, action, Trigger::RpzIp, step));
            }
            for ns in nsdnames {
                if let Some(action) = zone.rpz.nsdname(*ns) {
                    return Some(Policy::zone_hit(zone, action, Trigger::RpzNsdname, 0));
                }
            }
        }
        chain
            .iter()
            .enumerate()
            .skip(1)
            .find_map(|(step, name)| self.listed(*name, step))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::path::Path;
    use wire::Name;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn policy() -> Policy {
        let origin = name("rpz.");
        let rpz = Rpz::from_str(
            "@ SOA a. b. 1 2 3 4 60\nrpz.example CNAME .\nok.example CNAME rpz-passthru.\n\
             32.1.2.0.192.rpz-ip CNAME *.\nns.evil.rpz-nsdname CNAME .\n",
            Path::new("rpz"),
            origin.as_ref(),
            10,
        )
        .unwrap();
        let block =
            DomainList::parse(b"||ads.example^\nok.example\n", ListKind::Block, 10).unwrap();
        let allow = DomainList::parse(b"good.ads.example\n", ListKind::Allow, 10).unwrap();
        Policy::new(
            vec![PolicyZone::new(Arc::new(rpz), Some(EDE_FILTERED))],
            vec![BlockList::new(
                "ads",
                Arc::new(block),
                Action::NxDomain,
                Some(EDE_BLOCKED),
            )],
            vec![("allow".into(), Arc::new(allow))],
        )
    }

    #[test]
    fn qname_order_zone_then_allow_then_block() {
        let p = policy();
        let hit = |s: &str| {
            p.check_qname(name(s).as_ref())
                .map(|h| (h.trigger, h.action.clone()))
        };
        assert_eq!(
            hit("rpz.example."),
            Some((Trigger::RpzQname, Action::NxDomain))
        );
        assert_eq!(
            hit("ok.example."),
            Some((Trigger::RpzQname, Action::Passthru))
        );
        assert_eq!(
            hit("x.ads.example."),
            Some((Trigger::Blocklist, Action::NxDomain))
        );
        assert_eq!(hit("good.ads.example."), None);
        assert_eq!(hit("other.example."), None);
        let h = p.check_qname(name("ads.example.").as_ref()).unwrap();
        assert_eq!(h.ede, Some((EDE_BLOCKED, "blocked by ads")));
        assert_eq!(h.source, "ads");
        let h = p.check_qname(name("rpz.example.").as_ref()).unwrap();
        assert_eq!(h.ede, Some((EDE_FILTERED, "rpz rpz.")));
        assert!(h.soa.is_some());
    }

    #[test]
    fn answers_cname_targets_then_ip_then_nsdname() {
        let p = policy();
        let q = name("q.example.");
        let t = name("rpz.example.");
        let ads = name("ads.example.");
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let ns = name("ns.evil.");
        let h = p
            .check_answer(&[q.as_ref(), t.as_ref()], &[(1, ip)], &[ns.as_ref()])
            .unwrap();
        assert_eq!((h.trigger, h.step), (Trigger::RpzQname, 1));
        let h = p
            .check_answer(&[q.as_ref()], &[(0, ip)], &[ns.as_ref()])
            .unwrap();
        assert_eq!((h.trigger, h.action), (Trigger::RpzIp, &Action::NoData));
        let h = p.check_answer(&[q.as_ref()], &[], &[ns.as_ref()]).unwrap();
        assert_eq!(h.trigger, Trigger::RpzNsdname);
        let h = p
            .check_answer(&[q.as_ref(), ads.as_ref()], &[], &[])
            .unwrap();
        assert_eq!((h.trigger, h.step), (Trigger::Blocklist, 1));
        assert!(
            p.check_answer(&[ads.as_ref()], &[], &[]).is_none(),
            "the name asked is not re-checked"
        );
        assert!(p.wants_nsdnames());
    }
}
