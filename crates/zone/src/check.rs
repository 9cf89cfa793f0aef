//! Load-time checks: the rules a zone must follow before Portcullis serves it.
//!
//! [`ZoneBuilder::finish`](crate::ZoneBuilder::finish) refuses a zone with any *error* and reports
//! *warnings* beside the built zone. Each [`Problem`] names the owner and, when the record came
//! from a file, where it was written.
//!
//! Errors:
//! - a class other than IN (only the Internet class is served), a query-only type (RFC 6895
//!   section 3.1), an owner outside the zone, RDATA that is malformed for its type;
//! - no SOA record at the apex, more than one, or an SOA anywhere else (RFC 1035 section 5.2);
//!   no NS records at the apex (RFC 1034 section 4.2.1);
//! - a CNAME beside other data at the same name (RFC 2181 section 10.1; RRSIG and NSEC may sit
//!   beside it, RFC 4035 section 2.5), more than one CNAME or more than one DNAME at one name
//!   (RFC 6672 section 2.4);
//! - occluded data. At a delegation point (a name below the apex with NS records) only the
//!   parent-side records may sit: NS, DS, and the RRSIG and NSEC that go with them (RFC 4035
//!   section 2.4); below it only address records (A, AAAA) may sit, as glue for the name servers.
//!   Below a DNAME nothing may sit (RFC 6672 section 2.4). Such data could never be served, so
//!   like NSD and Knot DNS we reject it rather than keep it silently; glue is the one exception;
//! - a DS RRset at the apex (it belongs in the parent zone, RFC 4035 section 2.4), NS records at a
//!   wildcard name (their meaning is undefined, RFC 4592 section 4.2);
//! - an RRset of more than 65,535 records (no message could carry it).
//!
//! Warnings:
//! - records of one RRset with different TTLs: the smallest is used (RFC 2181 section 5.2);
//! - a name server named in an NS RRset at the apex or a delegation point that lies inside the
//!   zone but has no address: below a zone cut that means missing glue (RFC 1034 section 4.2.1),
//!   elsewhere an in-zone name with neither A nor AAAA.
//!
//! Identical records (same owner, type and RDATA, names compared without case: the canonical
//! form of RFC 4034 section 6.2) are merged silently: RFC 2181 section 5 makes an RRset a set.

use std::fmt;

use wire::rdata::Part;
use wire::{Name, NameRef, RType};

use crate::record::Loc;

/// A problem found while loading a zone: an error (the zone is refused) or a warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where the offending record was written, when it came from a file.
    pub loc: Option<Loc>,
    /// The owner name the problem is about.
    pub owner: Name,
    /// What is wrong, in words.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(loc: Option<Loc>, owner: NameRef<'_>, message: impl Into<String>) -> Problem {
        Problem {
            loc,
            owner: owner.to_name(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    /// `file:line:col: owner: message`, or `owner: message` without a location.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        write!(f, "{}: {}", self.owner, self.message)
    }
}

impl std::error::Error for Problem {}

// ---------------------------------------------------------------------------------------------
// Per-name rules
// ---------------------------------------------------------------------------------------------

/// One RRset of a name, as the per-name rules see it.
pub(crate) struct SetFacts<'l> {
    pub(crate) rtype: RType,
    pub(crate) count: usize,
    pub(crate) loc: &'l Option<Loc>,
}

/// Where a name sits relative to zone cuts and DNAMEs.
pub(crate) enum Position<'n> {
    /// Authoritative data.
    Authoritative,
    /// A delegation point.
    Cut,
    /// Below the delegation point named.
    BelowCut(NameRef<'n>),
}

/// Checks the rules that concern the RRsets of one name; pushes errors onto `errors`.
pub(crate) fn check_name(
    owner: NameRef<'_>,
    is_apex: bool,
    sets: &[SetFacts<'_>],
    position: Position<'_>,
    dname_above: Option<NameRef<'_>>,
    errors: &mut Vec<Problem>,
) {
    let mut push =
        |loc: &Option<Loc>, message: String| errors.push(Problem::new(loc.clone(), owner, message));
    let cname = sets.iter().find(|s| s.rtype == RType::CNAME);
    for s in sets {
        match s.rtype {
            RType::CNAME if s.count > 1 => push(
                s.loc,
                "more than one CNAME record at one name (RFC 2181 section 10.1)".into(),
            ),
            RType::DNAME if s.count > 1 => push(
                s.loc,
                "more than one DNAME record at one name (RFC 6672 section 2.4)".into(),
            ),
            RType::SOA if !is_apex => push(s.loc, "SOA record outside the zone apex".into()),
            RType::SOA if s.count > 1 => {
                push(s.loc, "more than one SOA record at the zone apex".into())
            }
            RType::DS if is_apex => push(
                s.loc,
                "DS at the zone apex belongs in the parent zone".into(),
            ),
            RType::NS if owner.is_wildcard() => push(
                s.loc,
                "NS records at a wildcard name are not supported (RFC 4592 section 4.2)".into(),
            ),
            _ => {}
        }
        if let Some(c) = cname
            && !matches!(s.rtype, RType::CNAME | RType::RRSIG | RType::NSEC)
        {
            push(
                c.loc,
                format!(
                    "CNAME beside other data ({}) at the same name (RFC 2181 section 10.1)",
                    s.rtype
                ),
            );
        }
        match position {
            Position::Authoritative => {}
            Position::Cut
                if matches!(s.rtype, RType::NS | RType::DS | RType::RRSIG | RType::NSEC) => {}
            Position::Cut => push(
                s.loc,
                format!(
                    "{} at a delegation point is occluded: only NS, DS, RRSIG and NSEC belong there",
                    s.rtype
                ),
            ),
            Position::BelowCut(_) if matches!(s.rtype, RType::A | RType::AAAA) => {}
            Position::BelowCut(cut) => push(
                s.loc,
                format!(
                    "{} below the delegation point {cut} is occluded: only A and AAAA glue may sit there",
                    s.rtype
                ),
            ),
        }
        if let Some(d) = dname_above {
            push(
                s.loc,
                format!(
                    "{} below the DNAME at {d} is occluded (RFC 6672 section 2.4)",
                    s.rtype
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical RDATA
// ---------------------------------------------------------------------------------------------

/// Writes the canonical form of `rdata` (RFC 4034 section 6.2, as amended by RFC 6840 section
/// 5.1: the names inside the RDATA of the listed types lowercased) into `out`, replacing its
/// contents. Returns whether it differs from `rdata`.
pub(crate) fn canonical_rdata(rtype: RType, rdata: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.extend_from_slice(rdata);
    let parts: &[Part] = match rtype {
        RType::DNAME => &[Part::Name],
        RType::KX => &[Part::Bytes(2), Part::Name],
        RType::RRSIG => &[Part::Bytes(18), Part::Name, Part::Rest],
        _ => match wire::rdata::layout(rtype) {
            Some(l) => l.parts,
            None => return false,
        },
    };
    let mut pos = 0;
    for part in parts {
        let Some(rest) = out.get(pos..) else { break };
        match *part {
            Part::Name => {
                let Ok((name, _)) = NameRef::split_wire(rest) else {
                    break;
                };
                let end = pos + name.len();
                lowercase_labels(&mut out[pos..end]);
                pos = end;
            }
            Part::Bytes(n) => pos += n,
            Part::CharString => pos += 1 + usize::from(rest.first().copied().unwrap_or(0)),
            Part::Rest => break,
        }
    }
    out.as_slice() != rdata
}

/// Lowercases the label bytes of a validated uncompressed name, leaving length bytes alone.
fn lowercase_labels(wire: &mut [u8]) {
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        let len = usize::from(len);
        if len == 0 {
            break;
        }
        if let Some(label) = wire.get_mut(pos + 1..pos + 1 + len) {
            label.make_ascii_lowercase();
        }
        pos += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_rdata_lowercases_names_only() {
        let mut out = Vec::new();
        // MX: preference bytes untouched (0x41 is 'A'), exchange lowercased.
        let mx = b"\x00\x41\x04MAIL\x07Example\x00";
        assert!(canonical_rdata(RType::MX, mx, &mut out));
        assert_eq!(out, b"\x00\x41\x04mail\x07example\x00");
        // TXT has no names: unchanged.
        assert!(!canonical_rdata(RType::TXT, b"\x03ABC", &mut out));
        assert_eq!(out, b"\x03ABC");
        assert!(canonical_rdata(RType::DNAME, b"\x01X\x00", &mut out));
        assert_eq!(out, b"\x01x\x00");
        // Malformed data stays as it is.
        assert!(!canonical_rdata(RType::NS, b"\x09AB", &mut out));
    }

    #[test]
    fn problem_display() {
        let owner: Name = "www.example.".parse().unwrap();
        let p = Problem::new(None, owner.as_ref(), "bad");
        assert_eq!(p.to_string(), "www.example.: bad");
        let loc = Loc {
            file: std::path::Path::new("db.example").into(),
            line: 3,
            column: 1,
        };
        let p = Problem::new(Some(loc), owner.as_ref(), "bad");
        assert_eq!(p.to_string(), "db.example:3:1: www.example.: bad");
    }
}
