//! The canonical form of an RRset, the exact bytes a signature covers (RFC 4034 section 6).
//!
//! DNS names compare case-insensitively and an RRset is unordered, but a signature covers
//! bytes, so signer and validator agree on one encoding:
//!
//! - **Names** (RFC 4034 section 6.2): the owner is written uncompressed in lowercase; so are
//!   the names inside the RDATA of the types listed there (NS, CNAME, SOA, MX, SRV, RRSIG, ...).
//!   RFC 6840 section 5.1 removes NSEC from that list: its next-name keeps its case. Other
//!   types' RDATA is left exactly as it is.
//! - **TTL**: every record carries the RRSIG's *original TTL*, not the (possibly decremented)
//!   TTL as received (RFC 4034 section 6.2, item 5; RFC 4035 section 5.3.2).
//! - **Order** (RFC 4034 section 6.3): records are sorted by their canonical RDATA compared as
//!   left-justified unsigned octet sequences, and duplicates are removed.
//! - **Wildcards** (RFC 4035 section 5.3.2): an answer synthesized from `*.example.` arrives
//!   with the queried owner, say `a.b.example.`. The RRSIG's labels field counts the labels of
//!   the name that was signed (root and the `*` not counted); when the owner has more labels,
//!   the signed owner was `*.` followed by the rightmost `labels` labels of the owner.
//!
//! Each record is then `owner | type | class | original TTL | RDATA length | RDATA`, and the
//! RRset is those records concatenated.

use std::fmt;

use cache::RrSet;
use wire::rdata::Part;
use wire::{Name, NameRef, RType};

/// Why an RRset could not be put in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CanonicalError {
    /// The RRSIG labels field exceeds the owner's label count (RFC 4035 section 5.3.1).
    LabelsExceedOwner,
    /// An RDATA is truncated or holds an invalid name where the type's layout has one.
    MalformedRdata,
    /// An RDATA is longer than 65535 bytes.
    RdataTooLong,
}

impl fmt::Display for CanonicalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CanonicalError::LabelsExceedOwner => "RRSIG labels field exceeds the owner's labels",
            CanonicalError::MalformedRdata => "malformed RDATA",
            CanonicalError::RdataTooLong => "RDATA longer than 65535 bytes",
        })
    }
}

impl std::error::Error for CanonicalError {}

/// Where names sit in the RDATA of the types whose names are lowercased (RFC 4034 section 6.2
/// as amended by RFC 6840 section 5.1); `None` for the types kept as they are.
///
/// The RFC 1035-era types come from [`wire::rdata::layout`]; the list adds the later types
/// with names (KX, DNAME, RRSIG). A6 (historic, RFC 6563) is not lowercased.
fn lowercase_layout(rtype: RType) -> Option<&'static [Part]> {
    use Part::*;
    match rtype {
        RType::KX => Some(&[Bytes(2), Name]),
        RType::DNAME => Some(&[Name]),
        RType::RRSIG => Some(&[Bytes(18), Name, Rest]),
        _ => wire::rdata::layout(rtype).map(|l| l.parts),
    }
}

/// The canonical form of one uncompressed RDATA of type `rtype`: its embedded names lowercased
/// when the type is one of RFC 4034 section 6.2's.
pub fn canonical_rdata(rtype: RType, rdata: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let mut out = rdata.to_vec();
    let Some(parts) = lowercase_layout(rtype) else {
        return Ok(out);
    };
    let mut pos = 0;
    for part in parts {
        let rest = rdata.get(pos..).ok_or(CanonicalError::MalformedRdata)?;
        let len = match part {
            Part::Name => {
                let (name, _) =
                    NameRef::split_wire(rest).map_err(|_| CanonicalError::MalformedRdata)?;
                let len = name.as_wire().len();
                // Length octets are at most 63, never ASCII letters, so the whole wire name
                // can be lowercased byte by byte.
                if let Some(bytes) = out.get_mut(pos..pos + len) {
                    bytes.make_ascii_lowercase();
                }
                len
            }
            Part::Bytes(n) => *n,
            Part::CharString => {
                1 + usize::from(*rest.first().ok_or(CanonicalError::MalformedRdata)?)
            }
            Part::Rest => break,
        };
        if len > rest.len() {
            return Err(CanonicalError::MalformedRdata);
        }
        pos += len;
    }
    Ok(out)
}

/// The owner name as signed: lowercased, and rebuilt as a wildcard when the RRSIG's `labels`
/// is smaller than the owner's label count (RFC 4035 section 5.3.2).
pub fn signed_owner(owner: NameRef<'_>, labels: u8) -> Result<Name, CanonicalError> {
    let count = owner.label_count();
    let labels = usize::from(labels);
    let mut name = match count.checked_sub(labels) {
        None => return Err(CanonicalError::LabelsExceedOwner),
        Some(0) => owner.to_name(),
        Some(extra) => owner
            .strip_labels(extra)
            .ok_or(CanonicalError::LabelsExceedOwner)?
            .to_name()
            .prepend(b"*")
            .map_err(|_| CanonicalError::MalformedRdata)?,
    };
    name.make_lowercase();
    Ok(name)
}

/// The RRset in canonical form as covered by an RRSIG with the given `labels` and
/// `original_ttl` fields: the records' concatenated canonical wire form (RFC 4034 section
/// 6.3; RFC 4035 section 5.3.2). The RRset's own TTL and signatures are not used.
pub fn canonical_rrset(
    rrset: &RrSet,
    labels: u8,
    original_ttl: u32,
) -> Result<Vec<u8>, CanonicalError> {
    let owner = signed_owner(rrset.owner.as_ref(), labels)?;
    let mut rdatas = rrset
        .rdatas
        .iter()
        .map(|rd| canonical_rdata(rrset.rtype, rd))
        .collect::<Result<Vec<_>, _>>()?;
    rdatas.sort_unstable();
    rdatas.dedup();
    let mut out = Vec::new();
    for rd in &rdatas {
        let len = u16::try_from(rd.len()).map_err(|_| CanonicalError::RdataTooLong)?;
        out.extend_from_slice(owner.as_wire());
        out.extend_from_slice(&rrset.rtype.0.to_be_bytes());
        out.extend_from_slice(&rrset.class.0.to_be_bytes());
        out.extend_from_slice(&original_ttl.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(rd);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Class;

    fn name(s: &str) -> Name {
        Name::from_text(s.as_bytes(), None).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn lowercases_names_in_listed_types_only() {
        let mut mx = vec![0, 10];
        mx.extend_from_slice(name("MAIL.Example.").as_wire());
        let mut want = vec![0, 10];
        want.extend_from_slice(name("mail.example.").as_wire());
        assert_eq!(canonical_rdata(RType::MX, &mx), Ok(want));
        // NSEC keeps its case (RFC 6840 section 5.1); TXT has no names.
        let nsec = name("B.Example.").as_wire().to_vec();
        assert_eq!(canonical_rdata(RType::NSEC, &nsec), Ok(nsec.clone()));
        assert_eq!(
            canonical_rdata(RType::TXT, b"\x02AB"),
            Ok(b"\x02AB".to_vec())
        );
        assert_eq!(
            canonical_rdata(RType::MX, &[0, 10, 5, b'a']),
            Err(CanonicalError::MalformedRdata)
        );
    }

    #[test]
    fn sorts_dedups_and_uses_original_ttl() {
        let rrset = RrSet {
            owner: name("WWW.Example."),
            rtype: RType::A,
            class: Class::IN,
            ttl: 5,
            rdatas: vec![vec![10, 0, 0, 2], vec![10, 0, 0, 1], vec![10, 0, 0, 2]],
            sigs: Vec::new(),
        };
        let got = canonical_rrset(&rrset, 2, 3600).unwrap_or_default();
        let mut want = Vec::new();
        for last in [1, 2] {
            want.extend_from_slice(name("www.example.").as_wire());
            want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 10, 0, 0, last]);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn rebuilds_wildcard_owner() {
        let owner = name("A.B.Example.");
        assert_eq!(signed_owner(owner.as_ref(), 2), Ok(name("*.b.example.")));
        assert_eq!(signed_owner(owner.as_ref(), 1), Ok(name("*.example.")));
        assert_eq!(signed_owner(owner.as_ref(), 3), Ok(name("a.b.example.")));
        assert_eq!(
            signed_owner(owner.as_ref(), 4),
            Err(CanonicalError::LabelsExceedOwner)
        );
    }
}
