//! Authenticated denial of existence: checking that NSEC or NSEC3 records prove a negative
//! answer (RFC 4035 sections 3.1.3 and 5.4, RFC 5155 section 8, RFC 6840 section 4).
//!
//! A signed zone cannot sign "nothing", so it signs the gaps instead. Each existing name owns an
//! NSEC record naming the next name in canonical order ([`crate::nsec`]) and the types present,
//! or an NSEC3 record doing the same over SHA-1 hashes of the names ([`crate::nsec3`]). A
//! negative answer carries the records that *match* a name (the name exists, with these types)
//! or *cover* it (the name falls strictly inside a gap, so it does not exist).
//!
//! The proofs, for a query `qname`/`qtype` answered from `zone`:
//!
//! | answer | proof | function |
//! |---|---|---|
//! | NXDOMAIN | `qname` covered, and the wildcard at its closest encloser covered | [`prove_nxdomain`] |
//! | NODATA | `qname` matched without `qtype` or CNAME; or an empty non-terminal; or the wildcard matched without `qtype` | [`prove_nodata`] |
//! | wildcard answer | the next closer name covered (no closer match existed) | [`prove_wildcard`] |
//! | no DS | `qname` matched without DS (with or without NS); or an NSEC3 opt-out span | [`prove_no_ds`] |
//!
//! Records are only trusted inside their own zone (RFC 6840 section 4.1): an NSEC or NSEC3 at a
//! delegation (NS without SOA) comes from the parent side of the cut and says nothing about the
//! child's names or data, except that the cut has no DS; one with DNAME says nothing about the
//! names below it; one with SOA at the queried name comes from the child and cannot deny the DS
//! the parent holds. An NSEC or NSEC3 whose RRSIG shows it was synthesised from a wildcard
//! (labels field below the owner's label count) is ignored.
//!
//! Every RRset handed in must already have passed signature verification: these functions only
//! check what the records say, not who said it.
//!
//! # NSEC3 cost limits
//!
//! Each NSEC3 hash is `iterations + 1` SHA-1 computations, and a closest encloser proof hashes
//! one name per label. CVE-2023-50868 showed that an attacker can make validators spend seconds
//! of CPU on crafted NSEC3 answers. Two caps ([`Nsec3Limits`]) bound the work:
//!
//! - NSEC3 records with more iterations than `max_iterations` are not hashed at all: the answer is
//!   treated as insecure, as RFC 9276 section 3.2 allows (the signature over them has already
//!   been checked, so the zone did publish them).
//! - At most `max_hashes` name hashes are computed per proof; past that the proof fails with
//!   [`DenialError::TooManyHashes`]. The closest encloser search walks from the zone apex down
//!   towards `qname`, so its cost grows with the depth of the zone's real names, not with the
//!   length of an attacker's query name.
//!
//! What the resolvers Portcullis is measured against use today:
//!
//! | resolver | iterations above which NSEC3 is insecure | hash work cap |
//! |---|---|---|
//! | Unbound (1.13.2 and later) | 150 (`val-nsec3-keysize-iterations: "1024 150 2048 150 4096 150"`) | 1.19.1: 8 NSEC3 hash calculations per validation step, then the step suspends and resumes later |
//! | BIND 9.20 | 50 (`DNS_NSEC3_MAXITERATIONS`; 150 in 9.16.16 to 9.18) | no NSEC3-specific cap; `max-validations-per-fetch` 16 and validation moved off the query threads |
//! | PowerDNS Recursor 5.0 and later | 50 (`nsec3-max-iterations`; 150 in 4.5.2 to 4.9) | `max-nsec3-hash-computations-per-query` 600, `max-nsec3s-per-record` 10 (4.8.6, 4.9.3, 5.0.2) |
//! | Knot Resolver 5.7.1 / 6.0.6 | 50, with the salt length priced in (150 from 5.3.1) | answers with more than 8 NSEC3 records in the authority section are bogus |
//!
//! Portcullis defaults to 50 iterations, with BIND, PowerDNS Recursor and Knot Resolver (RFC 9276
//! recommends zones use 0), and 32 hashes per proof: enough for a closest encloser some 28
//! labels below the apex, while the worst case stays at 32 × 51 SHA-1 computations, about a
//! millisecond of one core.

use std::fmt;

use cache::RrSet;
use wire::rdata::{RData, TypeBitmap};
use wire::{NameRef, RType};

use crate::{nsec, nsec3};

/// Caps on the work an NSEC3 proof may cost (see the module documentation for the peers'
/// figures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nsec3Limits {
    /// NSEC3 records with more iterations make the answer [`Denial::Insecure`] (RFC 9276
    /// section 3.2).
    pub max_iterations: u16,
    /// Name hashes one proof may compute before failing with [`DenialError::TooManyHashes`].
    pub max_hashes: u32,
}

impl Default for Nsec3Limits {
    /// 50 iterations (BIND 9.20, PowerDNS Recursor 5, Knot Resolver 5.7.1) and 32 hashes.
    fn default() -> Self {
        Nsec3Limits {
            max_iterations: 50,
            max_hashes: 32,
        }
    }
}

/// What a valid denial proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// The proof holds.
    Proven,
    /// The proof holds only through an NSEC3 opt-out span (RFC 5155 sections 6 and 9.2): an
    /// unsigned delegation may hide there, so the answer is insecure, not secure.
    OptOut,
    /// The NSEC3 records use more iterations than [`Nsec3Limits::max_iterations`]: treat the
    /// answer as insecure (RFC 9276 section 3.2).
    Insecure,
}

/// Why no denial could be established. Each maps to an RFC 8914 extended DNS error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialError {
    /// No record proves the claim (EDE 12, "NSEC Missing").
    Missing,
    /// An NSEC or NSEC3 RDATA does not parse.
    Malformed,
    /// The proof needed more than [`Nsec3Limits::max_hashes`] NSEC3 hashes (CVE-2023-50868).
    TooManyHashes,
    /// Only NSEC3 records with a hash algorithm other than 1 (SHA-1) were present. RFC 5155
    /// section 8.1 has them ignored, which leaves the answer unproven; this variant tells that
    /// case apart so that the validator can treat the zone as insecure, as it does for unknown
    /// DNSKEY algorithms.
    UnsupportedHash,
}

impl fmt::Display for DenialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DenialError::Missing => "no NSEC or NSEC3 record proves the denial",
            DenialError::Malformed => "malformed NSEC or NSEC3 record",
            DenialError::TooManyHashes => "NSEC3 proof needs too many hash computations",
            DenialError::UnsupportedHash => "unsupported NSEC3 hash algorithm",
        })
    }
}

impl std::error::Error for DenialError {}

/// What a DS denial proves about the name queried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoDs {
    /// The name is a zone cut without DS: the child zone is unsigned (insecure).
    Delegation,
    /// The name exists in the zone without NS: there is no zone cut there.
    NotACut,
    /// The name lies in an NSEC3 opt-out span: an unsigned delegation may be there (insecure).
    OptOut,
    /// The NSEC3 records use more iterations than [`Nsec3Limits::max_iterations`] (insecure).
    Insecure,
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Proves that `qname` does not exist in `zone` (RFC 4035 section 5.4, RFC 5155 section 8.4):
/// a record covers `qname`, none shows it to be an empty non-terminal, and a record covers the
/// wildcard at its closest encloser.
///
/// `zone` is the signer name of the NSEC/NSEC3 RRsets; `nsecs` their RRsets (types other than
/// NSEC and NSEC3 are ignored), already signature-checked.
pub fn prove_nxdomain(
    qname: NameRef<'_>,
    zone: NameRef<'_>,
    nsecs: &[RrSet],
    limits: &Nsec3Limits,
) -> Result<Denial, DenialError> {
    if !qname.is_subdomain_of(zone) {
        return Err(DenialError::Missing);
    }
    let found = Found::collect(zone, nsecs);
    found.decide(
        |set| nsec::nxdomain(qname, set).then_some(Denial::Proven),
        |set| nsec3::nxdomain(qname, zone, set, limits),
    )
}

/// Proves that `qname` exists in `zone` without data of type `qtype` (RFC 4035 section 3.1.3,
/// RFC 5155 sections 8.5 to 8.7, RFC 6840 section 4.4): a record matches `qname` with neither
/// `qtype` nor CNAME; or `qname` is an empty non-terminal; or `qname` does not exist but the
/// wildcard that would answer it lacks `qtype` and CNAME; or, for DS only, `qname` lies in an
/// NSEC3 opt-out span ([`Denial::OptOut`]).
///
/// Parent-side records at a delegation do not deny the child's data; for DS, a record with SOA
/// at `qname` comes from the child and is not accepted.
pub fn prove_nodata(
    qname: NameRef<'_>,
    qtype: RType,
    zone: NameRef<'_>,
    nsecs: &[RrSet],
    limits: &Nsec3Limits,
) -> Result<Denial, DenialError> {
    if !qname.is_subdomain_of(zone) {
        return Err(DenialError::Missing);
    }
    let found = Found::collect(zone, nsecs);
    found.decide(
        |set| nsec::nodata(qname, qtype, set).then_some(Denial::Proven),
        |set| nsec3::nodata(qname, qtype, zone, set, limits),
    )
}

/// Proves that a positive answer for `qname` synthesised from a wildcard was the right one: the
/// *next closer* name (the closest encloser, the rightmost `labels` labels of `qname`, plus one
/// more label) does not exist, so no closer match did (RFC 4035 section 5.3.4, RFC 5155 section
/// 8.8). `labels` is the RRSIG labels field of the answer.
///
/// A `labels` equal to the label count of `qname` means no wildcard was used: nothing to prove.
/// A larger one is [`DenialError::Malformed`].
pub fn prove_wildcard(
    qname: NameRef<'_>,
    labels: u8,
    zone: NameRef<'_>,
    nsecs: &[RrSet],
    limits: &Nsec3Limits,
) -> Result<Denial, DenialError> {
    let count = qname.label_count();
    let labels = usize::from(labels);
    let Some(extra) = count.checked_sub(labels) else {
        return Err(DenialError::Malformed);
    };
    if extra == 0 {
        return Ok(Denial::Proven);
    }
    let (Some(next_closer), Some(encloser)) =
        (qname.strip_labels(extra - 1), qname.strip_labels(extra))
    else {
        return Err(DenialError::Malformed);
    };
    if !encloser.is_subdomain_of(zone) {
        return Err(DenialError::Missing);
    }
    let found = Found::collect(zone, nsecs);
    found.decide(
        |set| nsec::wildcard(next_closer, set).then_some(Denial::Proven),
        |set| nsec3::wildcard(next_closer, set, limits),
    )
}

/// Proves the answer to a DS query without DS (RFC 4035 section 5.2, RFC 5155 sections 8.6 and
/// 9.2): `zone` must be a proper ancestor of `qname` (DS lives on the parent side of a cut),
/// and a record matches `qname` without DS, CNAME or SOA ([`NoDs::Delegation`] when NS is
/// present, [`NoDs::NotACut`] when not), or shows `qname` to be an empty non-terminal
/// ([`NoDs::NotACut`]), or an NSEC3 opt-out span covers its next closer name ([`NoDs::OptOut`]).
pub fn prove_no_ds(
    qname: NameRef<'_>,
    zone: NameRef<'_>,
    nsecs: &[RrSet],
    limits: &Nsec3Limits,
) -> Result<NoDs, DenialError> {
    if qname == zone || !qname.is_subdomain_of(zone) {
        return Err(DenialError::Missing);
    }
    let found = Found::collect(zone, nsecs);
    found.decide(
        |set| nsec::no_ds(qname, set),
        |set| nsec3::no_ds(qname, zone, set, limits),
    )
}

// ---------------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------------

/// Whether the types at a matched name deny `qtype` there (RFC 4035 section 3.1.3.1; RFC 6840
/// sections 4.1 and 4.4). `at_apex` says the record's owner is the zone apex.
pub(crate) fn denies_type(
    types: &TypeBitmap<'_>,
    qtype: RType,
    owner: NameRef<'_>,
    at_apex: bool,
) -> bool {
    if types.contains(qtype) || types.contains(RType::CNAME) {
        return false;
    }
    if qtype == RType::DS {
        // SOA means this record is the child's apex; DS is the parent's to deny.
        !types.contains(RType::SOA) || owner.is_root()
    } else {
        !is_delegation(types, at_apex)
    }
}

/// A parent-side record at a zone cut: NS without SOA, not at the apex (RFC 6840 section 4.1).
pub(crate) fn is_delegation(types: &TypeBitmap<'_>, at_apex: bool) -> bool {
    !at_apex && types.contains(RType::NS) && !types.contains(RType::SOA)
}

/// A record whose owner's descendants it cannot vouch for: a delegation or a DNAME.
pub(crate) fn hides_descendants(types: &TypeBitmap<'_>, at_apex: bool) -> bool {
    is_delegation(types, at_apex) || types.contains(RType::DNAME)
}

/// Whether any RRSIG over the RRset says it was synthesised from a wildcard: its labels field
/// is below the owner's label count (a literal `*` label not counted, RFC 4034 section 3.1.3).
fn wildcard_expanded(rrset: &RrSet) -> bool {
    let owner = rrset.owner.as_ref();
    let signed = owner.label_count() - usize::from(owner.is_wildcard());
    rrset
        .sigs
        .iter()
        .any(|sig| match RData::parse(RType::RRSIG, sig) {
            Ok(RData::Rrsig(s)) => usize::from(s.labels) < signed,
            _ => false,
        })
}

/// At most this many NSEC and this many NSEC3 records take part in one proof; the rest are
/// ignored. A negative answer needs three NSEC3 or two NSEC records (a few more with wildcards
/// or several parameter sets); the cap keeps the pairwise NSEC checks of a crafted answer (one
/// signed RRset may hold thousands of records) to a few thousand comparisons.
pub const MAX_RECORDS: usize = 64;

/// The usable NSEC and NSEC3 records of an answer, parsed once.
struct Found<'a> {
    nsec: Vec<nsec::Nsec<'a>>,
    nsec3: Vec<nsec3::Nsec3<'a>>,
    /// Some NSEC or NSEC3 RDATA did not parse.
    malformed: bool,
    /// Some NSEC3 used a hash algorithm other than SHA-1.
    unsupported_hash: bool,
}

impl<'a> Found<'a> {
    fn collect(zone: NameRef<'_>, rrsets: &'a [RrSet]) -> Found<'a> {
        let mut found = Found {
            nsec: Vec::new(),
            nsec3: Vec::new(),
            malformed: false,
            unsupported_hash: false,
        };
        for rrset in rrsets {
            let owner = rrset.owner.as_ref();
            if !matches!(rrset.rtype, RType::NSEC | RType::NSEC3)
                || !owner.is_subdomain_of(zone)
                || wildcard_expanded(rrset)
            {
                continue;
            }
            for rdata in &rrset.rdatas {
                if found.nsec.len() >= MAX_RECORDS || found.nsec3.len() >= MAX_RECORDS {
                    return found;
                }
                match RData::parse(rrset.rtype, rdata) {
                    Ok(RData::Nsec { next, types }) => {
                        // The last NSEC points back at the apex; a next name outside the zone
                        // would stretch a gap over names the zone does not hold.
                        if next.is_subdomain_of(zone) {
                            found.nsec.push(nsec::Nsec {
                                owner,
                                next,
                                types,
                                at_apex: owner == zone,
                            });
                        }
                    }
                    Ok(RData::Nsec3(n)) => match nsec3::Nsec3::new(owner, zone, &n) {
                        Ok(Some(rec)) => found.nsec3.push(rec),
                        Ok(None) => {}
                        Err(nsec3::Skip::UnsupportedHash) => found.unsupported_hash = true,
                        Err(nsec3::Skip::Malformed) => found.malformed = true,
                    },
                    _ => found.malformed = true,
                }
            }
        }
        found
    }

    /// Tries the NSEC proof, then the NSEC3 one; without a proof, says why.
    fn decide<T>(
        &self,
        with_nsec: impl FnOnce(&[nsec::Nsec<'a>]) -> Option<T>,
        with_nsec3: impl FnOnce(&[nsec3::Nsec3<'a>]) -> Result<Option<T>, DenialError>,
    ) -> Result<T, DenialError> {
        if !self.nsec.is_empty()
            && let Some(t) = with_nsec(&self.nsec)
        {
            return Ok(t);
        }
        if !self.nsec3.is_empty()
            && let Some(t) = with_nsec3(&self.nsec3)?
        {
            return Ok(t);
        }
        Err(if self.malformed {
            DenialError::Malformed
        } else if self.unsupported_hash && self.nsec3.is_empty() && self.nsec.is_empty() {
            DenialError::UnsupportedHash
        } else {
            DenialError::Missing
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits() {
        assert_eq!(
            Nsec3Limits::default(),
            Nsec3Limits {
                max_iterations: 50,
                max_hashes: 32
            }
        );
    }

    #[test]
    fn type_rules_at_a_matched_name() {
        let mut bits = Vec::new();
        TypeBitmap::write(&[RType::NS, RType::RRSIG, RType::NSEC], &mut bits);
        let cut = TypeBitmap::new(&bits).unwrap_or(TypeBitmap::EMPTY);
        let owner = wire::Name::from_text(b"sub.example.", None).unwrap_or_else(|e| panic!("{e}"));
        let owner = owner.as_ref();
        // A parent-side cut denies its DS, nothing else.
        assert!(denies_type(&cut, RType::DS, owner, false));
        assert!(!denies_type(&cut, RType::A, owner, false));
        assert!(hides_descendants(&cut, false));
        // The same types at the apex are the zone's own (an apex has SOA anyway).
        assert!(denies_type(&cut, RType::A, owner, true));

        let mut bits = Vec::new();
        TypeBitmap::write(&[RType::NS, RType::SOA, RType::RRSIG], &mut bits);
        let apex = TypeBitmap::new(&bits).unwrap_or(TypeBitmap::EMPTY);
        assert!(!denies_type(&apex, RType::DS, owner, true));
        assert!(denies_type(&apex, RType::DS, NameRef::ROOT, true));
        assert!(!denies_type(&apex, RType::SOA, owner, true));
        assert!(!hides_descendants(&apex, true));
    }
}
