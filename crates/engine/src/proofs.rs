//! Denial-of-existence proofs for signed zones: the NSEC or NSEC3 records (with their RRSIGs)
//! that let a validator check a negative answer, a wildcard answer or an insecure referral
//! (RFC 4035 section 3.1.3, RFC 5155 section 7.2, RFC 6840 section 4).
//!
//! The answer stage calls `prove` only for a query with the DO bit and a zone that has a denial
//! chain ([`Zone::denial_chain`]); unsigned zones and DO=0 queries never come here. What goes in
//! the authority section, after the SOA of a negative answer or the NS RRset of a referral:
//!
//! | case | NSEC (RFC 4035 3.1.3) | NSEC3 (RFC 5155 7.2) |
//! |---|---|---|
//! | NXDOMAIN | the NSEC covering the name, the NSEC covering `*.<closest encloser>` | closest encloser proof (NSEC3 matching the closest encloser, NSEC3 covering the *next closer* name) and the NSEC3 covering `*.<closest encloser>` |
//! | NODATA | the NSEC at the name (an empty non-terminal: the NSEC covering it) | the NSEC3 matching the name; none (a DS query at an opt-out delegation, or an empty non-terminal with only insecure delegations below): the closest provable encloser proof, whose next closer NSEC3 has the opt-out flag |
//! | wildcard NODATA | the NSEC covering the name, the NSEC at the wildcard | closest encloser proof, the NSEC3 matching the wildcard |
//! | wildcard answer | the NSEC covering the name (no closer match exists) | the NSEC3 covering the next closer name |
//! | referral without DS | the NSEC at the cut (NS bit, no DS bit) | the NSEC3 matching the cut, else the closest provable encloser proof (opt-out) |
//!
//! The *closest provable encloser* is the deepest ancestor of the name with a matching NSEC3:
//! the closest encloser itself unless an opt-out chain left it (an empty non-terminal above
//! insecure delegations only) without NSEC3; the proof then goes up label by label. The *next
//! closer* name is the name cut to one label more than the closest encloser. A record that serves
//! two roles is written once.
//!
//! The signatures of a wildcard answer are the wildcard's, as stored: their labels field tells
//! the validator the answer was synthesised (RFC 4035 section 5.3.4), so that and the proof of
//! the next closer name are all it needs.
//!
//! Every record here is required: if one does not fit, the response is truncated (TC), as for
//! the signatures themselves (RFC 4035 section 3.1.1).
//!
//! # Cost
//!
//! NSEC records are found by a binary search over the zone's NSEC owners; nothing is allocated.
//! NSEC3 proofs hash names: each hash costs the chain's iterations plus one SHA-1 computations,
//! and a proof takes one (wildcard answer, NODATA, referral) to three (NXDOMAIN, wildcard NODATA)
//! hashes, more when an opt-out chain makes the closest provable encloser higher than the closest
//! encloser. A query may spend at most [`MAX_NSEC3_WORK`] SHA-1 computations on hashes, CNAME
//! chains included; a proof whose hash would exceed it is left incomplete (the validator then
//! finds the answer bogus). With iterations at 0, as RFC 9276 asks of signers, that is 512 hashes,
//! far more than any answer needs; a three-hash NXDOMAIN proof stays complete up to 169
//! iterations, past the 150 above which validators treat NSEC3 answers as insecure (RFC 9276
//! section 3.2; BIND and Unbound's defaults). Hashing costs about 0.5 µs per SHA-1 computation
//! on the test machine (`benches/respond_dnssec.rs`: an NSEC3 NXDOMAIN answer takes about 3 µs
//! at 0 iterations, 18 µs at 10), so the budget bounds a query at about a quarter of a
//! millisecond of hashing, whatever the zone's iterations.

use wire::message::Section;
use wire::writer::{MessageWriter, WriteError};
use wire::{Class, NameRef, RType};
use zone::{DenialChain, Node, Nsec3Find, RRset, Zone};

/// Most SHA-1 computations one query may spend on NSEC3 hashes (see the [module docs](self)).
pub const MAX_NSEC3_WORK: u32 = 512;

/// Most distinct denial RRsets one proof writes (NSEC3 NXDOMAIN: three; the slack catches
/// NSEC3 walks through opt-out spans, whose records are written once each).
const MAX_PROOF_RRSETS: usize = 8;

/// What a proof must show; see the table in the [module docs](self).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Denied<'z> {
    /// The name does not exist; `closest_encloser` is its deepest existing ancestor.
    NxDomain { closest_encloser: Node<'z> },
    /// The name (or, with `wildcard`, the wildcard `node` matching it) has no RRset of the type.
    NoData { node: Node<'z>, wildcard: bool },
    /// A positive answer synthesised from the wildcard `node`.
    Wildcard { node: Node<'z> },
    /// A referral to the child zone at `cut`, which has no DS RRset (an insecure delegation).
    Delegation { cut: Node<'z> },
}

/// Writes to the authority section the proof that `what` holds for `qname`, in `zone`.
/// `work` is the SHA-1 budget left for this query, decreased by the hashes made.
pub(crate) fn prove<'z>(
    zone: &'z Zone,
    qname: NameRef<'_>,
    what: Denied<'z>,
    w: &mut MessageWriter<'_>,
    work: &mut u32,
) -> Result<(), WriteError> {
    let mut p = Proof {
        zone,
        w,
        work,
        written: [None; MAX_PROOF_RRSETS],
    };
    match zone.denial_chain() {
        DenialChain::None => Ok(()),
        DenialChain::Nsec => p.nsec(qname, what),
        DenialChain::Nsec3 => p.nsec3(qname, what),
    }
}

/// One proof being written.
struct Proof<'z, 'a, 'b> {
    zone: &'z Zone,
    w: &'a mut MessageWriter<'b>,
    work: &'a mut u32,
    /// Nodes whose denial RRset is already written.
    written: [Option<Node<'z>>; MAX_PROOF_RRSETS],
}

impl<'z> Proof<'z, '_, '_> {
    // --- NSEC ----------------------------------------------------------------------------------

    fn nsec(&mut self, qname: NameRef<'_>, what: Denied<'z>) -> Result<(), WriteError> {
        match what {
            Denied::NxDomain { closest_encloser } => {
                self.nsec_covering(qname)?;
                let ce = suffix(qname, closest_encloser.owner().label_count());
                match ce.to_name().prepend(b"*") {
                    Ok(wildcard) => self.nsec_covering(wildcard.as_ref()),
                    Err(_) => Ok(()),
                }
            }
            Denied::NoData {
                node,
                wildcard: false,
            } => match node.rrset(RType::NSEC) {
                Some(_) => self.write(node, RType::NSEC),
                // An empty non-terminal: the NSEC covering it, whose next name is below it.
                None => self.nsec_covering(qname),
            },
            Denied::NoData {
                node,
                wildcard: true,
            } => {
                self.nsec_covering(qname)?;
                self.write(node, RType::NSEC)
            }
            Denied::Wildcard { .. } => self.nsec_covering(qname),
            Denied::Delegation { cut } => self.write(cut, RType::NSEC),
        }
    }

    fn nsec_covering(&mut self, name: NameRef<'_>) -> Result<(), WriteError> {
        match self.zone.nsec_covering(name) {
            Some(node) => self.write(node, RType::NSEC),
            None => Ok(()),
        }
    }

    // --- NSEC3 ---------------------------------------------------------------------------------

    fn nsec3(&mut self, qname: NameRef<'_>, what: Denied<'z>) -> Result<(), WriteError> {
        match what {
            Denied::NxDomain { closest_encloser } => {
                let ce = suffix(qname, closest_encloser.owner().label_count());
                let Some(ce) = self.closest_encloser_proof(qname, ce)? else {
                    return Ok(());
                };
                match ce.to_name().prepend(b"*") {
                    Ok(wildcard) => self.nsec3_any(wildcard.as_ref()),
                    Err(_) => Ok(()),
                }
            }
            Denied::NoData {
                node,
                wildcard: false,
            } => self.nsec3_match_or_opt_out(node.owner()),
            Denied::NoData {
                node,
                wildcard: true,
            } => {
                let ce = suffix(qname, node.owner().label_count().saturating_sub(1));
                self.closest_encloser_proof(qname, ce)?;
                self.nsec3_any(node.owner())
            }
            Denied::Wildcard { node } => {
                let next_closer = suffix(qname, node.owner().label_count());
                self.nsec3_any(next_closer)
            }
            Denied::Delegation { cut } => self.nsec3_match_or_opt_out(cut.owner()),
        }
    }

    /// The NSEC3 matching `name`, an existing name; without one (opt-out left it out), the
    /// closest provable encloser proof for it (RFC 5155 sections 7.2.4 and 7.2.7).
    fn nsec3_match_or_opt_out(&mut self, name: NameRef<'_>) -> Result<(), WriteError> {
        match self.find(name) {
            Some(Nsec3Find::Matches(node)) => self.write(node, RType::NSEC3),
            Some(Nsec3Find::Covers(_)) => match name.parent() {
                Some(parent) if name.label_count() > self.zone.origin().label_count() => {
                    self.closest_encloser_proof(name, parent).map(|_| ())
                }
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The NSEC3 matching or covering `name`, whichever the zone has.
    fn nsec3_any(&mut self, name: NameRef<'_>) -> Result<(), WriteError> {
        match self.find(name) {
            Some(Nsec3Find::Matches(node) | Nsec3Find::Covers(node)) => {
                self.write(node, RType::NSEC3)
            }
            None => Ok(()),
        }
    }

    /// The closest (provable) encloser proof for `name` (RFC 5155 section 7.2.1): starting at
    /// its ancestor `candidate`, the first ancestor with a matching NSEC3, and the NSEC3 covering
    /// the next closer name. Returns that encloser, or `None` when the hash budget ran out.
    fn closest_encloser_proof<'q>(
        &mut self,
        name: NameRef<'q>,
        candidate: NameRef<'q>,
    ) -> Result<Option<NameRef<'q>>, WriteError> {
        let apex_labels = self.zone.origin().label_count();
        let mut ce = candidate;
        // One step per label between the candidate and the apex.
        for _ in 0..=candidate.label_count().saturating_sub(apex_labels) {
            match self.find(ce) {
                None => return Ok(None),
                Some(Nsec3Find::Matches(node)) => {
                    self.write(node, RType::NSEC3)?;
                    if name.label_count() > ce.label_count() {
                        self.nsec3_any(suffix(name, ce.label_count() + 1))?;
                    }
                    return Ok(Some(ce));
                }
                Some(Nsec3Find::Covers(_)) => match ce.parent() {
                    Some(parent) if ce.label_count() > apex_labels => ce = parent,
                    _ => return Ok(None),
                },
            }
        }
        Ok(None)
    }

    /// Hashes `name` (within the query's budget) and finds its NSEC3.
    fn find(&mut self, name: NameRef<'_>) -> Option<Nsec3Find<'z>> {
        let cost = self.zone.nsec3_hash_cost();
        *self.work = self.work.checked_sub(cost)?;
        let hash = self.zone.nsec3_hash(name)?;
        self.zone.nsec3_find(&hash)
    }

    // --- writing -------------------------------------------------------------------------------

    /// Writes the `rtype` RRset of `node` and its signatures, once per proof.
    fn write(&mut self, node: Node<'z>, rtype: RType) -> Result<(), WriteError> {
        if self.written.contains(&Some(node)) {
            return Ok(());
        }
        if let Some(slot) = self.written.iter_mut().find(|s| s.is_none()) {
            *slot = Some(node);
        }
        let Some(rrset) = node.rrset(rtype) else {
            return Ok(());
        };
        push(self.w, node.owner(), rrset)?;
        if let Some(sigs) = node.signatures(rtype) {
            push(self.w, node.owner(), sigs)?;
        }
        Ok(())
    }
}

fn push(w: &mut MessageWriter<'_>, owner: NameRef<'_>, rrset: RRset<'_>) -> Result<(), WriteError> {
    w.push_rrset(
        Section::Authority,
        owner,
        rrset.rtype(),
        Class::IN,
        rrset.ttl(),
        rrset.rdatas(),
    )
}

/// The ancestor of `name` with `labels` labels (`name` itself when it has no more).
fn suffix(name: NameRef<'_>, labels: usize) -> NameRef<'_> {
    name.strip_labels(name.label_count().saturating_sub(labels))
        .unwrap_or(name)
}
