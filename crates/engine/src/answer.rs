//! The answer stage: write what our zones say about a question (RFC 1034 section 4.3.2).
//!
//! The stage starts at the closest enclosing zone of the query name and acts on the zone's
//! [`Lookup`] decision:
//!
//! - **Answer**: the RRset goes in the answer section, owned by the name asked for (for a
//!   wildcard match too: the synthesised records take the query name as owner, RFC 4592
//!   section 3.3.3). Responses are *minimal*: no NS RRset in the authority section of a positive
//!   answer, as NSD and Knot DNS answer by default. For NS, MX and SRV RRsets, the addresses (A
//!   and AAAA) of their targets that our zones hold go in the additional section, best effort
//!   (RFC 1034 section 4.3.2 step 6; never TC for them, RFC 2181 section 9).
//! - **CNAME** (RFC 1034 section 3.6.2): the CNAME goes in the answer and the lookup starts again
//!   at its target, in whichever of our zones encloses it. The chain is followed in order, at
//!   most [`MAX_CHAIN`] lookups, and stops at a name already visited (a loop) or a name outside
//!   our zones; the records written so far stay, with NOERROR. The final response code is that of
//!   the last lookup: NXDOMAIN at the end of a chain is NXDOMAIN, with the CNAMEs in the answer
//!   (RFC 6604 section 3).
//! - **DNAME** (RFC 6672 section 3.2): the DNAME goes in the answer, then a CNAME synthesised from
//!   it (owner: the name looked up; target: that name with the DNAME owner's suffix replaced by
//!   the DNAME target; TTL: the DNAME's), and the chain goes on at the new name. When the new name
//!   would exceed 255 bytes, the response code is YXDOMAIN (RFC 6672 section 2.2).
//! - **NODATA and NXDOMAIN** (RFC 2308 sections 2.1 and 2.2): the zone's SOA in the authority
//!   section with the negative TTL, the smaller of the SOA's TTL and its MINIMUM field (RFC 2308
//!   section 5). An empty non-terminal is a name that exists: NODATA (RFC 4592 section 2.2.2).
//! - **Referral** (RFC 1034 section 4.3.2 step 3b): below a zone cut, AA is clear, the cut's NS
//!   RRset goes in the authority section and glue in the additional section: every address of
//!   name servers below the cut (*in-domain* glue) must fit, else the response is truncated (RFC
//!   9471 section 3); addresses of the other name servers the zone holds (*sibling* glue) are
//!   added while they fit, with their signatures when the query has the DO bit and they are
//!   this zone's own data (both or neither). With the DO bit, the DS RRset of the cut and its
//!   signatures follow the NS RRset; a cut without DS gets the proof that it has none instead
//!   (RFC 4035 section 3.1.4), so a validator can tell the child is unsigned.
//! - **ANY** (RFC 8482): over TCP every RRset of the name; over UDP what the configured
//!   [`AnyPolicy`] says. A query of type RRSIG gets every signature RRset of the name.
//!
//! # DNSSEC (RFC 4035 section 3.1)
//!
//! With the DO bit, each RRset in the answer and the SOA of negative answers are followed by
//! their RRSIG records when the zone has them (a zone is served as loaded: presigned). The
//! signatures of a wildcard answer are the wildcard's, whose labels field tells the validator the
//! answer was synthesised. In a zone with an NSEC or NSEC3 chain ([`zone::DenialChain`]) the
//! authority section also carries the denial proofs of [`crate::proofs`]: for NXDOMAIN, NODATA
//! (at an empty non-terminal, at a wildcard, for DS at a cut or at an opt-out delegation), for
//! wildcard answers (the next closer name does not exist) and for referrals to unsigned
//! children. Along a CNAME chain each wildcard step gets its proof; those wait (in `Proofs`)
//! until the chain's answer section is complete, since the authority section follows it. DS
//! queries at a cut are answered from the parent side ([`zone::Lookup`]), DNSKEY at the apex like
//! any RRset. Without the DO bit, or in an unsigned zone, none of this runs: the path is the
//! same as before, and allocates nothing either way (`tests/no_alloc.rs`,
//! `tests/dnssec_proofs.rs`).
//!
//! Required data that does not fit sets `Answered::truncated`; the engine then sends an empty
//! response with TC set, which sends the client to TCP. Signatures and proofs are required data:
//! a response never goes out with an RRset stripped of its RRSIGs or a negative answer stripped
//! of its proof (RFC 4035 section 3.1.1).

use wire::message::Section;
use wire::name::NameBuilder;
use wire::writer::{MessageWriter, WriteError};
use wire::{Class, Name, NameRef, RType, Rcode};
use zone::{DenialChain, Lookup, Node, RRset, Zone};

use crate::catalog::{Catalog, ZoneId};
use crate::config::AnyPolicy;
use crate::proofs::{self, Denied, MAX_NSEC3_WORK};

/// Most lookups made for one query while following CNAME and DNAME records.
pub const MAX_CHAIN: usize = 16;
/// Most NS, MX or SRV targets whose addresses are looked up for the additional section.
pub const MAX_ADDITIONAL_TARGETS: usize = 16;
/// The YXDOMAIN response code (RFC 2136), used for DNAME substitutions that are too long.
pub const YXDOMAIN: Rcode = Rcode(6);
/// HINFO RDATA of the RFC 8482 synthesised answer: CPU "RFC8482", OS "".
const RFC8482_HINFO: &[u8] = b"\x07RFC8482\x00";

/// What kind of answer a zone gave, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerKind {
    /// Records of the type asked for (possibly after CNAMEs), or a CNAME chain leaving our
    /// zones.
    Positive,
    /// The name exists without that type.
    NoData,
    /// The name does not exist.
    NxDomain,
    /// A delegation to another zone.
    Referral,
}

/// The result of the answer stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Answered {
    pub zone: ZoneId,
    pub rcode: Rcode,
    pub authoritative: bool,
    pub kind: AnswerKind,
    /// Required data did not fit.
    pub truncated: bool,
    /// The writer refused data for a reason other than size (a zone with malformed RDATA).
    pub failed: bool,
}

/// What the answer stage needs to know about the query.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Question<'e> {
    pub catalog: &'e Catalog,
    pub qtype: RType,
    pub dnssec_ok: bool,
    /// Over TCP (or with [`AnyPolicy::InsecureFull`]): ANY gets every RRset.
    pub full_any: bool,
    pub any_policy: AnyPolicy,
}

/// The denial proofs of one query (see [`crate::proofs`]), with its NSEC3 hash budget.
///
/// Proofs for wildcard answers met along a CNAME chain go in the authority section, which comes
/// after the whole chain in the answer section: they wait here until the chain ends, or until the
/// last lookup writes its own authority records.
struct Proofs<'e> {
    pending: [Option<(&'e Zone, Name, Denied<'e>)>; MAX_CHAIN],
    /// SHA-1 computations left for NSEC3 hashes.
    work: u32,
}

impl<'e> Proofs<'e> {
    fn new() -> Proofs<'e> {
        Proofs {
            pending: [const { None }; MAX_CHAIN],
            work: MAX_NSEC3_WORK,
        }
    }

    /// Keeps the proof of a wildcard answer at `name` for [`Proofs::flush`].
    fn add(&mut self, zone: &'e Zone, name: NameRef<'_>, what: Denied<'e>) {
        if zone.denial_chain() == DenialChain::None {
            return;
        }
        if let Some(slot) = self.pending.iter_mut().find(|p| p.is_none()) {
            *slot = Some((zone, name.to_name(), what));
        }
    }

    /// Writes the proofs kept so far.
    fn flush(&mut self, w: &mut MessageWriter<'_>) -> Result<(), WriteError> {
        for slot in &mut self.pending {
            let Some((zone, name, what)) = slot.take() else {
                break;
            };
            proofs::prove(zone, name.as_ref(), what, w, &mut self.work)?;
        }
        Ok(())
    }

    /// Writes, when the query has the DO bit, the proof that `what` holds for `name` in `zone`.
    fn prove(
        &mut self,
        q: &Question<'_>,
        zone: &'e Zone,
        name: NameRef<'_>,
        what: Denied<'e>,
        w: &mut MessageWriter<'_>,
    ) -> Result<(), WriteError> {
        if !q.dnssec_ok || zone.denial_chain() == DenialChain::None {
            return Ok(());
        }
        proofs::prove(zone, name, what, w, &mut self.work)
    }
}

/// Why writing stopped early.
enum Stop {
    Truncated,
    Failed,
}

impl From<WriteError> for Stop {
    fn from(e: WriteError) -> Stop {
        match e {
            WriteError::Truncated => Stop::Truncated,
            _ => Stop::Failed,
        }
    }
}

/// Answers `qname` starting in zone `zone` (its closest enclosing zone); the question is
/// already written.
pub(crate) fn answer(
    q: &Question<'_>,
    zone: ZoneId,
    qname: &Name,
    w: &mut MessageWriter<'_>,
) -> Answered {
    let mut state = Answered {
        zone,
        rcode: Rcode::NOERROR,
        authoritative: true,
        kind: AnswerKind::Positive,
        truncated: false,
        failed: false,
    };
    let mut proofs = Proofs::new();
    let followed = follow(q, qname, w, &mut state, &mut proofs)
        .and_then(|()| proofs.flush(w).map_err(Stop::from));
    match followed {
        Ok(()) => {}
        Err(Stop::Truncated) => state.truncated = true,
        Err(Stop::Failed) => state.failed = true,
    }
    state
}

/// The lookup loop: one lookup per name of the CNAME/DNAME chain.
fn follow<'e>(
    q: &Question<'e>,
    qname: &Name,
    w: &mut MessageWriter<'_>,
    state: &mut Answered,
    proofs: &mut Proofs<'e>,
) -> Result<(), Stop> {
    match step(q, qname.as_ref(), true, w, state, proofs)? {
        None => Ok(()),
        Some(next) => chain(q, qname, next, w, state, proofs),
    }
}

/// Follows a chain from its second name on. Kept apart from [`follow`] so that answers without
/// a chain do not pay for the list of names visited.
fn chain<'e>(
    q: &Question<'e>,
    qname: &Name,
    mut current: Name,
    w: &mut MessageWriter<'_>,
    state: &mut Answered,
    proofs: &mut Proofs<'e>,
) -> Result<(), Stop> {
    // Names looked up so far (the query name aside), to stop at a loop.
    let mut seen: [Option<Name>; MAX_CHAIN] = [const { None }; MAX_CHAIN];
    for lookup in 1..MAX_CHAIN {
        if current == *qname || seen.iter().flatten().any(|n| *n == current) {
            return Ok(());
        }
        let Some(next) = step(q, current.as_ref(), false, w, state, proofs)? else {
            return Ok(());
        };
        seen[lookup] = Some(current);
        current = next;
    }
    Ok(())
}

/// One lookup of the chain: writes what the closest enclosing zone of `name` says, and returns
/// the name to look up next when that is a CNAME or DNAME.
fn step<'e>(
    q: &Question<'e>,
    name: NameRef<'_>,
    first: bool,
    w: &mut MessageWriter<'_>,
    state: &mut Answered,
    proofs: &mut Proofs<'e>,
) -> Result<Option<Name>, Stop> {
    let Some((_, zone)) = q.catalog.find_for(name, q.qtype) else {
        // Only after a CNAME or DNAME: the chain leaves our zones, the client goes on.
        return Ok(None);
    };
    match zone.lookup(name, q.qtype) {
        Lookup::Answer {
            node,
            rrset,
            wildcard,
        } => {
            state.kind = AnswerKind::Positive;
            push_signed(
                w,
                Section::Answer,
                name,
                node,
                rrset,
                rrset.ttl(),
                q.dnssec_ok,
            )?;
            if q.dnssec_ok && wildcard {
                proofs.add(zone, name, Denied::Wildcard { node });
            }
            proofs.flush(w)?;
            additional(q, w, rrset);
            Ok(None)
        }
        Lookup::Cname {
            node,
            rrset,
            wildcard,
        } => {
            state.kind = AnswerKind::Positive;
            push_signed(
                w,
                Section::Answer,
                name,
                node,
                rrset,
                rrset.ttl(),
                q.dnssec_ok,
            )?;
            if q.dnssec_ok && wildcard {
                proofs.add(zone, name, Denied::Wildcard { node });
            }
            Ok(rrset
                .rdatas()
                .next()
                .and_then(|r| NameRef::from_wire(r).ok())
                .map(|target| target.to_name()))
        }
        Lookup::Dname { node, rrset } => {
            state.kind = AnswerKind::Positive;
            let owner = node.owner();
            push_signed(
                w,
                Section::Answer,
                owner,
                node,
                rrset,
                rrset.ttl(),
                q.dnssec_ok,
            )?;
            let Some(target) = rrset
                .rdatas()
                .next()
                .and_then(|r| NameRef::from_wire(r).ok())
            else {
                return Ok(None);
            };
            let Some(synthesised) = substitute(name, owner, target) else {
                state.rcode = YXDOMAIN;
                return Ok(None);
            };
            w.push(
                Section::Answer,
                name,
                RType::CNAME,
                Class::IN,
                rrset.ttl(),
                synthesised.as_wire(),
            )?;
            Ok(Some(synthesised))
        }
        Lookup::NoData { node, wildcard } => {
            state.kind = AnswerKind::NoData;
            proofs.flush(w)?;
            negative(w, zone, q.dnssec_ok)?;
            proofs.prove(q, zone, name, Denied::NoData { node, wildcard }, w)?;
            Ok(None)
        }
        Lookup::NxDomain { closest_encloser } => {
            state.kind = AnswerKind::NxDomain;
            state.rcode = Rcode::NXDOMAIN;
            proofs.flush(w)?;
            negative(w, zone, q.dnssec_ok)?;
            proofs.prove(q, zone, name, Denied::NxDomain { closest_encloser }, w)?;
            Ok(None)
        }
        Lookup::Any { node, wildcard } => {
            any(q, w, zone, node, name, state, proofs)?;
            if q.dnssec_ok && wildcard && state.kind == AnswerKind::Positive {
                proofs.add(zone, name, Denied::Wildcard { node });
            }
            Ok(None)
        }
        Lookup::Referral { cut, ns } => {
            if first {
                state.authoritative = false;
            }
            state.kind = AnswerKind::Referral;
            proofs.flush(w)?;
            referral(q, w, zone, cut, ns, proofs).map(|()| None)
        }
        Lookup::OutOfZone => Ok(None),
    }
}

/// `name` with its suffix `owner` replaced by `target` (RFC 6672 section 2.2); `None` when the
/// result would be longer than 255 bytes.
fn substitute(name: NameRef<'_>, owner: NameRef<'_>, target: NameRef<'_>) -> Option<Name> {
    let keep = name.label_count().checked_sub(owner.label_count())?;
    let mut b = NameBuilder::new();
    for label in name.labels().take(keep).chain(target.labels()) {
        b.push_label(label).ok()?;
    }
    b.finish().ok()
}

/// Writes `rrset` owned by `owner` with `ttl`, then, when `dnssec_ok`, the node's signatures
/// over it.
fn push_signed(
    w: &mut MessageWriter<'_>,
    section: Section,
    owner: NameRef<'_>,
    node: Node<'_>,
    rrset: RRset<'_>,
    ttl: u32,
    dnssec_ok: bool,
) -> Result<(), WriteError> {
    push(w, section, owner, rrset, ttl)?;
    if dnssec_ok
        && rrset.rtype() != RType::RRSIG
        && let Some(sigs) = node.signatures(rrset.rtype())
    {
        push(w, section, owner, sigs, ttl)?;
    }
    Ok(())
}

fn push(
    w: &mut MessageWriter<'_>,
    section: Section,
    owner: NameRef<'_>,
    rrset: RRset<'_>,
    ttl: u32,
) -> Result<(), WriteError> {
    w.push_rrset(
        section,
        owner,
        rrset.rtype(),
        Class::IN,
        ttl,
        rrset.rdatas(),
    )
}

/// The SOA of `zone` in the authority section, for NODATA and NXDOMAIN (RFC 2308).
fn negative(w: &mut MessageWriter<'_>, zone: &Zone, dnssec_ok: bool) -> Result<(), Stop> {
    let soa = zone.soa();
    push_signed(
        w,
        Section::Authority,
        zone.origin(),
        zone.apex(),
        soa,
        zone.negative_ttl(),
        dnssec_ok,
    )?;
    Ok(())
}

/// A query of type ANY or RRSIG at `node` (RFC 8482).
fn any<'e>(
    q: &Question<'e>,
    w: &mut MessageWriter<'_>,
    zone: &'e Zone,
    node: Node<'e>,
    name: NameRef<'_>,
    state: &mut Answered,
    proofs: &mut Proofs<'e>,
) -> Result<(), Stop> {
    // Matched by a wildcard when the node is not the name itself.
    let wildcard = node.owner() != name;
    state.kind = AnswerKind::Positive;
    if q.qtype == RType::RRSIG {
        let mut found = false;
        for sigs in node.rrsets().filter(|r| r.rtype() == RType::RRSIG) {
            push(w, Section::Answer, name, sigs, sigs.ttl())?;
            found = true;
        }
        if !found {
            state.kind = AnswerKind::NoData;
            proofs.flush(w)?;
            negative(w, zone, q.dnssec_ok)?;
            proofs.prove(q, zone, name, Denied::NoData { node, wildcard }, w)?;
            return Ok(());
        }
        return Ok(());
    }
    if q.full_any || q.any_policy == AnyPolicy::InsecureFull {
        for rrset in node.rrsets() {
            if rrset.rtype() != RType::RRSIG || q.dnssec_ok {
                push(w, Section::Answer, name, rrset, rrset.ttl())?;
            }
        }
        return Ok(());
    }
    match q.any_policy {
        AnyPolicy::Hinfo => {
            w.push(
                Section::Answer,
                name,
                RType::HINFO,
                Class::IN,
                zone.negative_ttl(),
                RFC8482_HINFO,
            )?;
        }
        AnyPolicy::SmallestRrset | AnyPolicy::InsecureFull => {
            // `min_by_key` keeps the first of equal sizes: the lowest type.
            let smallest = node
                .rrsets()
                .filter(|r| r.rtype() != RType::RRSIG)
                .min_by_key(|r| r.encoded().len());
            match smallest {
                Some(rrset) => push_signed(
                    w,
                    Section::Answer,
                    name,
                    node,
                    rrset,
                    rrset.ttl(),
                    q.dnssec_ok,
                )?,
                None => {
                    state.kind = AnswerKind::NoData;
                    proofs.flush(w)?;
                    negative(w, zone, q.dnssec_ok)?;
                    proofs.prove(q, zone, name, Denied::NoData { node, wildcard }, w)?;
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// The addresses of the targets of an NS, MX or SRV RRset, best effort.
fn additional(q: &Question<'_>, w: &mut MessageWriter<'_>, rrset: RRset<'_>) {
    let offset = match rrset.rtype() {
        RType::NS => 0,
        RType::MX => 2,
        RType::SRV => 6,
        _ => return,
    };
    let mut done: [Option<NameRef<'_>>; MAX_ADDITIONAL_TARGETS] = [None; MAX_ADDITIONAL_TARGETS];
    for (i, rdata) in rrset.rdatas().take(MAX_ADDITIONAL_TARGETS).enumerate() {
        let Some(target) = rdata.get(offset..).and_then(|r| NameRef::from_wire(r).ok()) else {
            continue;
        };
        // SRV "." means no service; a target seen before already has its addresses.
        if target.is_root() || done.iter().flatten().any(|d| *d == target) {
            continue;
        }
        done[i] = Some(target);
        let Some((_, zone)) = q.catalog.find(target) else {
            continue;
        };
        for rtype in [RType::A, RType::AAAA] {
            if let Lookup::Answer { node, rrset, .. } = zone.lookup(target, rtype) {
                let written = push_signed(
                    w,
                    Section::Additional,
                    target,
                    node,
                    rrset,
                    rrset.ttl(),
                    q.dnssec_ok,
                );
                if written.is_err() {
                    return;
                }
            }
        }
    }
}

/// The most bytes `rrset` takes on the wire owned by `owner` (its owner written in full for
/// every record, which compression only shortens).
fn encoded_bound(owner: NameRef<'_>, rrset: RRset<'_>) -> usize {
    // Owner, then type, class and TTL (RDLENGTH and RDATA are in the encoded records).
    rrset.count() * (owner.len() + 8) + rrset.encoded().len()
}

/// A referral to the zone below `cut` (RFC 1034 section 4.3.2 step 3b, RFC 9471 for glue).
fn referral<'e>(
    q: &Question<'e>,
    w: &mut MessageWriter<'_>,
    zone: &'e Zone,
    cut: Node<'e>,
    ns: RRset<'_>,
    proofs: &mut Proofs<'e>,
) -> Result<(), Stop> {
    let owner = cut.owner();
    push(w, Section::Authority, owner, ns, ns.ttl())?;
    if q.dnssec_ok {
        match cut.rrset(RType::DS) {
            Some(ds) => push_signed(w, Section::Authority, owner, cut, ds, ds.ttl(), true)?,
            // An insecure delegation: prove the DS RRset absent (RFC 4035 section 3.1.4).
            None => proofs.prove(q, zone, owner, Denied::Delegation { cut }, w)?,
        }
    }
    // In-domain glue first, all of it required; then sibling glue while it fits.
    for in_domain_pass in [true, false] {
        for rdata in ns.rdatas() {
            let Ok(target) = NameRef::from_wire(rdata) else {
                continue;
            };
            if target.is_subdomain_of(owner) != in_domain_pass {
                continue;
            }
            let Some(node) = zone.node(target) else {
                continue;
            };
            // Sibling glue that is authoritative data of this zone comes with its signatures,
            // both or neither.
            let sigs = |rtype| match node.cut() {
                None if q.dnssec_ok => node.signatures(rtype),
                _ => None,
            };
            for rtype in [RType::A, RType::AAAA] {
                let Some(rrset) = node.rrset(rtype) else {
                    continue;
                };
                let signed = sigs(rtype);
                if !in_domain_pass
                    && let Some(sigs) = signed
                    && w.remaining() < encoded_bound(target, rrset) + encoded_bound(target, sigs)
                {
                    return Ok(());
                }
                let written =
                    push(w, Section::Additional, target, rrset, rrset.ttl()).and_then(|()| {
                        match signed {
                            Some(sigs) => push(w, Section::Additional, target, sigs, rrset.ttl()),
                            None => Ok(()),
                        }
                    });
                match written {
                    Ok(()) => {}
                    Err(e) if in_domain_pass => return Err(e.into()),
                    Err(_) => return Ok(()),
                }
            }
        }
    }
    Ok(())
}
