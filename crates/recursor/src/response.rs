//! What an upstream answer says: its records read into RRsets, scrubbed to the answering
//! server's zone, and classified.
//!
//! # The bailiwick rule
//!
//! A server is an authority only for its own zone. Anything else it sends, however plausible,
//! is hearsay: an attacker who controls `evil.example` can put `www.bank.example A 6.6.6.6` or
//! `bank.example NS ns.evil.example` into the additional or authority section of an answer about
//! his own zone. Caching that is the Kaminsky-era poisoning (and MaginotDNS, where a forwarder's
//! answer taught records for zones the forwarder did not own). So every RRset whose owner is not
//! at or below the zone the resolver believed it was asking ([`Classified`] is built from what
//! is left) is dropped before anything is cached; glue is further restricted to the addresses of
//! the name servers named in the referral (RFC 2181 section 5.4.1, Unbound's scrubber).
//!
//! # Classification (RFC 1034 section 5.3.3, RFC 2308, RFC 6672)
//!
//! Following the question through the answer section (CNAMEs and DNAMEs within the zone), an
//! answer is one of:
//!
//! - [`Kind::Answer`]: the data asked for, after an alias chain perhaps;
//! - [`Kind::Alias`]: the chain leaves the zone (or stops without data): resolve the target;
//! - [`Kind::NxDomain`] / [`Kind::NoData`]: negative, with the zone's SOA and NSEC/NSEC3 proofs;
//! - [`Kind::Referral`]: NS records for a zone cut strictly below the server's zone and at or
//!   above the name asked, without SOA: go down;
//! - [`Kind::Lame`]: anything else, e.g. a referral upward or sideways, an error code, or no
//!   AA where an authoritative answer was due (a server that does not serve the zone).

use std::collections::HashMap;

use cache::RrSet;
use wire::{Class, Message, Name, NameRef, RType, Rcode, Section};

/// Most alias steps followed inside one answer.
const MAX_CHAIN_IN_MESSAGE: usize = 16;

/// Why an answer was lame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lame {
    /// A referral to a zone that is not below the server's zone, or not above the name.
    BadReferral,
    /// No data, no referral, and no authority (AA clear).
    NotAuthoritative,
    /// The answer cannot be used (a DNAME whose target is too long, a malformed record).
    Unusable,
}

/// The meaning of an answer; see the module docs. (Made once per answer and consumed at
/// once, so the size of the referral variant does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The RRset asked for (for type ANY, every RRset the server sent for the name).
    Answer(Vec<RrSet>),
    /// Continue at this name (the chain left the zone).
    Alias(Name),
    /// The name does not exist.
    NxDomain,
    /// The name exists without that type.
    NoData,
    /// Go down to `cut`.
    Referral {
        /// The new zone cut.
        cut: Name,
        /// Its NS RRset.
        ns: RrSet,
        /// In-bailiwick addresses of names in `ns`.
        glue: Vec<RrSet>,
        /// The DS RRset of the cut, if the parent sent one (signed delegation).
        ds: Option<RrSet>,
    },
    /// Useless: try another server.
    Lame(Lame),
}

/// A classified answer with the records that support it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Classified {
    /// What it means.
    pub kind: Kind,
    /// The CNAMEs and DNAMEs (with synthesised CNAMEs) followed, in order.
    pub chain: Vec<RrSet>,
    /// For negative answers: the zone's SOA.
    pub soa: Option<RrSet>,
    /// NSEC/NSEC3 RRsets (with their signatures) from the authority section.
    pub proofs: Vec<RrSet>,
    /// Whether AA was set.
    pub authoritative: bool,
    /// RRsets dropped as out of bailiwick.
    pub dropped: usize,
    /// In-bailiwick address RRsets of the additional section (used for priming).
    pub additional: Vec<RrSet>,
}

/// Reads the records of one section into RRsets of class `class`, RRSIGs attached to the
/// RRsets they cover (RRSIGs without one are dropped). TTL = the smallest of the records'.
pub(crate) fn section_rrsets(msg: &Message<'_>, section: Section, class: Class) -> Vec<RrSet> {
    let mut sets: Vec<RrSet> = Vec::new();
    let mut index: HashMap<(Name, RType), usize> = HashMap::new();
    let mut sigs: Vec<(Name, RType, u32, Vec<u8>)> = Vec::new();
    for record in msg.records(section) {
        if record.rtype == RType::OPT || record.class != class {
            continue;
        }
        let (Ok(mut owner), mut rdata) = (record.owner(), Vec::new()) else {
            continue;
        };
        // Owners come back in the random case of 0x20; DNSSEC's canonical form is lowercase
        // anyway (RFC 4034 section 6.2).
        owner.make_lowercase();
        if record.rdata_into(&mut rdata).is_err() {
            continue;
        }
        if record.rtype == RType::RRSIG {
            if let Some(covered) = rdata.get(..2) {
                let covered = RType(u16::from_be_bytes([covered[0], covered[1]]));
                sigs.push((owner, covered, record.ttl, rdata));
            }
            continue;
        }
        match index.get(&(owner.clone(), record.rtype)) {
            Some(&i) => {
                let set = &mut sets[i];
                set.ttl = set.ttl.min(record.ttl);
                if !set.rdatas.contains(&rdata) {
                    set.rdatas.push(rdata);
                }
            }
            None => {
                index.insert((owner.clone(), record.rtype), sets.len());
                sets.push(RrSet {
                    owner,
                    rtype: record.rtype,
                    class,
                    ttl: record.ttl,
                    rdatas: vec![rdata],
                    sigs: Vec::new(),
                });
            }
        }
    }
    for (owner, covered, ttl, rdata) in sigs {
        if let Some(&i) = index.get(&(owner, covered)) {
            let set = &mut sets[i];
            set.ttl = set.ttl.min(ttl);
            if !set.sigs.contains(&rdata) {
                set.sigs.push(rdata);
            }
        }
    }
    sets
}

/// The target name in the RDATA of a CNAME, DNAME or NS record.
pub(crate) fn rdata_name(rdata: &[u8]) -> Option<Name> {
    Name::from_wire(rdata).ok()
}

/// `name` rewritten by a DNAME at `owner` to `target` (RFC 6672 section 2.2): the labels of
/// `name` below `owner` followed by `target`. `None` when the result is too long.
pub(crate) fn dname_substitute(name: &Name, owner: &Name, target: &Name) -> Option<Name> {
    let keep = name.as_ref().label_count() - owner.as_ref().label_count();
    let mut b = wire::name::NameBuilder::new();
    for label in name.as_ref().labels().take(keep) {
        b.push_label(label).ok()?;
    }
    for label in target.as_ref().labels() {
        b.push_label(label).ok()?;
    }
    b.finish().ok()
}

/// What the caller asked and of whom.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asked<'a> {
    /// The name sent (perhaps minimised).
    pub qname: NameRef<'a>,
    /// The type sent.
    pub qtype: RType,
    /// The class.
    pub qclass: Class,
    /// The zone the server was asked as an authority for (or the forward zone).
    pub zone: NameRef<'a>,
    /// Whether the server is a forwarder (recursive: AA not expected, no referrals).
    pub forwarder: bool,
}

/// Classifies an accepted answer with RCODE NOERROR or NXDOMAIN (other codes are the caller's);
/// see the module docs.
pub(crate) fn classify(msg: &Message<'_>, asked: Asked<'_>) -> Classified {
    let aa = msg.header().flags.aa();
    let mut dropped = 0;
    let mut scrub = |sets: Vec<RrSet>| -> Vec<RrSet> {
        let before = sets.len();
        let kept: Vec<RrSet> = sets
            .into_iter()
            .filter(|s| s.owner.as_ref().is_subdomain_of(asked.zone))
            .collect();
        dropped += before - kept.len();
        kept
    };
    let answer = scrub(section_rrsets(msg, Section::Answer, asked.qclass));
    let authority = scrub(section_rrsets(msg, Section::Authority, asked.qclass));
    let additional = scrub(section_rrsets(msg, Section::Additional, asked.qclass));
    let mut out = Classified {
        kind: Kind::Lame(Lame::NotAuthoritative),
        chain: Vec::new(),
        soa: None,
        proofs: authority
            .iter()
            .filter(|s| s.rtype == RType::NSEC || s.rtype == RType::NSEC3)
            .cloned()
            .collect(),
        authoritative: aa,
        dropped,
        additional: additional
            .iter()
            .filter(|s| s.rtype == RType::A || s.rtype == RType::AAAA)
            .cloned()
            .collect(),
    };
    let authoritative = aa || asked.forwarder;
    let rcode = msg.rcode();

    // Follow the question through the answer section.
    let mut name: Name = asked.qname.to_name();
    for _ in 0..MAX_CHAIN_IN_MESSAGE {
        // A DNAME above the name first: nothing exists below its owner (RFC 6672 section
        // 2.4), so a CNAME at the name (the one the server synthesised, when a CNAME was
        // asked) is not data; the chain keeps the DNAME.
        if asked.qtype != RType::DNAME
            && let Some(dname) = answer.iter().find(|s| {
                s.rtype == RType::DNAME
                    && s.owner != name
                    && name.as_ref().is_subdomain_of(s.owner.as_ref())
            })
        {
            let Some(target) = dname
                .rdatas
                .first()
                .and_then(|r| rdata_name(r))
                .and_then(|t| dname_substitute(&name, &dname.owner, &t))
            else {
                out.kind = Kind::Lame(Lame::Unusable);
                return out;
            };
            let cname = RrSet {
                owner: name.clone(),
                rtype: RType::CNAME,
                class: asked.qclass,
                ttl: dname.ttl,
                rdatas: vec![target.as_wire().to_vec()],
                sigs: Vec::new(),
            };
            out.chain.push(dname.clone());
            if asked.qtype == RType::CNAME {
                // The synthesised CNAME is the data asked for.
                out.kind = if authoritative {
                    Kind::Answer(vec![cname])
                } else {
                    Kind::Lame(Lame::NotAuthoritative)
                };
                return out;
            }
            out.chain.push(cname);
            name = target;
            continue;
        }
        let data: Vec<RrSet> = if asked.qtype == RType::ANY {
            // RFC 8482: whatever the server chose to send for the name.
            answer.iter().filter(|s| s.owner == name).cloned().collect()
        } else {
            find(&answer, &name, asked.qtype)
                .cloned()
                .into_iter()
                .collect()
        };
        if !data.is_empty() {
            out.kind = if authoritative {
                Kind::Answer(data)
            } else {
                Kind::Lame(Lame::NotAuthoritative)
            };
            return out;
        }
        if asked.qtype != RType::CNAME
            && let Some(cname) = find(&answer, &name, RType::CNAME)
        {
            let Some(target) = cname.rdatas.first().and_then(|r| rdata_name(r)) else {
                out.kind = Kind::Lame(Lame::Unusable);
                return out;
            };
            out.chain.push(cname.clone());
            name = target;
            continue;
        }
        break;
    }
    if !out.chain.is_empty() && !authoritative {
        out.kind = Kind::Lame(Lame::NotAuthoritative);
        return out;
    }

    let soa = authority
        .iter()
        .find(|s| s.rtype == RType::SOA && name.as_ref().is_subdomain_of(s.owner.as_ref()))
        .cloned();
    if !out.chain.is_empty() && !name.as_ref().is_subdomain_of(asked.zone) {
        out.kind = Kind::Alias(name);
        return out;
    }
    if rcode == Rcode::NXDOMAIN {
        out.kind = if authoritative {
            out.soa = soa;
            Kind::NxDomain
        } else {
            Kind::Lame(Lame::NotAuthoritative)
        };
        return out;
    }
    if soa.is_some() && authoritative {
        out.soa = soa;
        out.kind = Kind::NoData;
        return out;
    }
    if !out.chain.is_empty() {
        // A partial chain inside the zone without data or a negative answer: resolve the
        // target afresh.
        out.kind = Kind::Alias(name);
        return out;
    }
    let ns = authority.iter().find(|s| s.rtype == RType::NS);
    if ns.is_some() && asked.forwarder {
        // A recursive server does not refer.
        out.kind = Kind::Lame(Lame::BadReferral);
        return out;
    }
    if let Some(ns) = ns {
        let cut = ns.owner.as_ref();
        let below_zone = cut.is_subdomain_of(asked.zone) && cut != asked.zone;
        if !below_zone || !asked.qname.is_subdomain_of(cut) {
            out.kind = Kind::Lame(Lame::BadReferral);
            return out;
        }
        let names: Vec<Name> = ns.rdatas.iter().filter_map(|r| rdata_name(r)).collect();
        let glue = out
            .additional
            .iter()
            .filter(|s| names.contains(&s.owner))
            .cloned()
            .collect();
        let ds = authority
            .iter()
            .find(|s| s.rtype == RType::DS && s.owner == ns.owner)
            .cloned();
        out.kind = Kind::Referral {
            cut: ns.owner.clone(),
            ns: ns.clone(),
            glue,
            ds,
        };
        return out;
    }
    if aa || asked.forwarder {
        // NODATA without SOA: true, but not cacheable (RFC 2308 section 5).
        out.kind = Kind::NoData;
        return out;
    }
    out
}

fn find<'s>(sets: &'s [RrSet], name: &Name, rtype: RType) -> Option<&'s RrSet> {
    sets.iter().find(|s| s.rtype == rtype && s.owner == *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn dname_substitution() {
        let got = dname_substitute(&n("a.b.old.example."), &n("old.example."), &n("new.test."));
        assert_eq!(got, Some(n("a.b.new.test.")));
        let long = n(&format!("{}.old.", "x".repeat(63)));
        let target = n(&format!(
            "{}.{}.{}.",
            "y".repeat(63),
            "y".repeat(63),
            "y".repeat(63)
        ));
        assert_eq!(dname_substitute(&long, &n("old."), &target), None);
    }
}
