//! Helpers for tests: zones written as text, lookups shown as short strings.

use wire::text::Field;
use wire::{Class, Name, RType};

use crate::{Built, Lookup, Problem, Record, Zone, ZoneBuilder};

pub(crate) fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap()
}

/// One record from `owner ttl TYPE rdata...`; a relative owner or RDATA name is completed with
/// `origin`, `@` is the origin.
pub(crate) fn record(origin: &str, line: &str) -> Record {
    let origin = name(origin);
    let mut fields = line.split_ascii_whitespace();
    let owner = Name::from_text(fields.next().unwrap().as_bytes(), Some(origin.as_ref())).unwrap();
    let ttl = fields.next().unwrap().parse().unwrap();
    let rtype = RType::from_text(fields.next().unwrap().as_bytes()).unwrap();
    let rest: Vec<&str> = fields.collect();
    let rest = rest.join(" ");
    let mut rdata = Vec::new();
    wire::rdata::from_text(rtype, &Field::split(&rest), origin.as_ref(), &mut rdata)
        .unwrap_or_else(|e| panic!("{line}: {e}"));
    Record {
        owner,
        class: Class::IN,
        rtype,
        ttl,
        rdata,
        loc: None,
    }
}

/// Builds a zone from lines of [`record`] text (blank lines and `;` comments skipped).
pub(crate) fn build(origin: &str, text: &str) -> Result<Built, Vec<Problem>> {
    let mut b = ZoneBuilder::new(name(origin));
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
    {
        b.add(record(origin, line));
    }
    b.finish()
}

/// Builds a zone that must load; returns it.
pub(crate) fn zone(origin: &str, text: &str) -> Zone {
    match build(origin, text) {
        Ok(built) => built.zone,
        Err(problems) => panic!("zone refused: {problems:#?}"),
    }
}

/// The messages of a refused zone's errors, as displayed.
pub(crate) fn errors(origin: &str, text: &str) -> Vec<String> {
    match build(origin, text) {
        Ok(_) => panic!("zone loaded but errors were expected"),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

/// The warnings of a zone that loads.
pub(crate) fn warnings(origin: &str, text: &str) -> Vec<String> {
    match build(origin, text) {
        Ok(built) => built.warnings.iter().map(ToString::to_string).collect(),
        Err(problems) => panic!("zone refused: {problems:#?}"),
    }
}

/// A lookup in short form: `answer OWNER TYPE xCOUNT`, `cname OWNER`, `any OWNER`,
/// `nodata OWNER`, `referral CUT`, `dname OWNER`, `nxdomain ENCLOSER`, `out-of-zone`; with
/// ` wildcard` appended for synthesised answers.
pub(crate) fn show(l: Lookup<'_>) -> String {
    let wc = |w: bool| if w { " wildcard" } else { "" };
    match l {
        Lookup::Answer {
            node,
            rrset,
            wildcard,
        } => {
            format!(
                "answer {} {} x{}{}",
                node.owner(),
                rrset.rtype(),
                rrset.count(),
                wc(wildcard)
            )
        }
        Lookup::Cname { node, wildcard, .. } => format!("cname {}{}", node.owner(), wc(wildcard)),
        Lookup::Any { node, wildcard } => format!("any {}{}", node.owner(), wc(wildcard)),
        Lookup::NoData { node, wildcard } => format!("nodata {}{}", node.owner(), wc(wildcard)),
        Lookup::Referral { cut, ns } => {
            assert_eq!(ns.rtype(), RType::NS);
            format!("referral {}", cut.owner())
        }
        Lookup::Dname { node, .. } => format!("dname {}", node.owner()),
        Lookup::NxDomain { closest_encloser } => format!("nxdomain {}", closest_encloser.owner()),
        Lookup::OutOfZone => "out-of-zone".into(),
    }
}

/// Looks up `qname` (absolute text) and `qtype` (mnemonic) and shows the result.
pub(crate) fn q(zone: &Zone, qname: &str, qtype: &str) -> String {
    show(zone.lookup(
        name(qname).as_ref(),
        RType::from_text(qtype.as_bytes()).unwrap(),
    ))
}
