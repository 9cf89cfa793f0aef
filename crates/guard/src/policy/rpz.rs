//! Response Policy Zones (draft-vixie-dnsop-dns-rpz, as BIND implements them): a zone file
//! whose owner names are triggers and whose records say what to answer instead.
//!
//! Owners, relative to the zone's origin:
//!
//! | owner | trigger |
//! |---|---|
//! | `name`, `*.name` | QNAME: the name asked (or a CNAME target in the answer) is `name`, or below it |
//! | `<len>.<reversed address>.rpz-ip` | IP: an A or AAAA record in the answer is in the prefix (`32.1.2.0.192.rpz-ip` is 192.0.2.1/32; IPv6 groups reversed, `zz` for the `::` run) |
//! | `name.rpz-nsdname`, `*.name.rpz-nsdname` | NSDNAME: a name server of the zone the answer came from is `name`, or below it |
//!
//! Actions, by the owner's records: a CNAME to `.` is NXDOMAIN, to `*.` NODATA, to
//! `rpz-passthru.` (or to the trigger name itself, the older form) PASSTHRU, to `rpz-drop.`
//! DROP, to `rpz-tcp-only.` TCP-only (TC over UDP); any other records are local data answered
//! instead (a CNAME to another name rewrites; a target `*.x` puts the name asked in front of
//! `x`). `rpz-client-ip` and `rpz-nsip` triggers are not supported: they are skipped and
//! reported. Apex records (SOA, NS) are the zone's own.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use wire::{Name, NameRef, RType};

use super::set::NameSet;
use super::{Action, LocalData, LocalRecord};

/// An RPZ file that cannot be used, with every problem found (`file:line:col: message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpzError {
    /// Each problem, located.
    pub problems: Vec<String>,
}

impl fmt::Display for RpzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problems.join("; "))
    }
}

impl std::error::Error for RpzError {}

/// What kind of trigger an owner is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Qname,
    Nsdname,
    Ip,
}

/// IP triggers: a map per prefix length, longest first. IPv4 addresses are kept as IPv4-mapped
/// IPv6 (`::ffff:a.b.c.d`, length + 96).
#[derive(Clone, Debug, Default)]
struct IpTriggers {
    by_len: Vec<(u8, HashMap<u128, u32>)>,
}

fn key_of(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => (0xffff_u128 << 32) | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn mask(key: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        key & (u128::MAX << (128 - u32::from(len)))
    }
}

impl IpTriggers {
    fn insert(&mut self, key: u128, len: u8, value: u32) {
        let i = match self.by_len.iter().position(|(l, _)| *l == len) {
            Some(i) => i,
            None => {
                self.by_len.push((len, HashMap::new()));
                self.by_len.sort_by_key(|b| std::cmp::Reverse(b.0));
                self.by_len.iter().position(|(l, _)| *l == len).unwrap_or(0)
            }
        };
        if let Some((_, map)) = self.by_len.get_mut(i) {
            map.insert(mask(key, len), value);
        }
    }

    /// The longest prefix holding `addr`: (its length, its value).
    fn lookup(&self, addr: IpAddr) -> Option<(u8, u32)> {
        let key = key_of(addr);
        self.by_len
            .iter()
            .find_map(|(len, map)| map.get(&mask(key, *len)).map(|v| (*len, *v)))
    }

    fn len(&self) -> usize {
        self.by_len.iter().map(|(_, m)| m.len()).sum()
    }
}

/// One response policy zone, loaded.
#[derive(Clone, Debug)]
pub struct Rpz {
    /// The zone's origin (its name in events and EDE texts).
    pub origin: Name,
    /// The zone's SOA (TTL and RDATA), put in the authority section of NXDOMAIN and NODATA
    /// answers so clients can cache them.
    pub soa: Option<(u32, Vec<u8>)>,
    qname: NameSet,
    nsdname: NameSet,
    ip: IpTriggers,
    actions: Vec<Action>,
    /// Triggers skipped (unsupported kinds), located.
    pub skipped: Vec<String>,
}

impl Rpz {
    /// Loads the policy zone `origin` from the master file at `path` with at most
    /// `max_entries` triggers.
    pub fn load(path: &Path, origin: NameRef<'_>, max_entries: usize) -> Result<Rpz, RpzError> {
        Rpz::from_parser(zone::parse_file(path, origin), origin, max_entries)
    }

    /// Loads a policy zone from text (`label` names it in locations).
    pub fn from_str(
        text: &str,
        label: &Path,
        origin: NameRef<'_>,
        max_entries: usize,
    ) -> Result<Rpz, RpzError> {
        Rpz::from_parser(zone::parse_str(text, label, origin), origin, max_entries)
    }

    fn from_parser(
        parser: zone::Parser<'_>,
        origin: NameRef<'_>,
        max_entries: usize,
    ) -> Result<Rpz, RpzError> {
        let mut origin = origin.to_name();
        origin.make_lowercase();
        let mut rpz = Rpz {
            origin: origin.clone(),
            soa: None,
            qname: NameSet::new(),
            nsdname: NameSet::new(),
            ip: IpTriggers::default(),
            actions: Vec::new(),
            skipped: Vec::new(),
        };
        let mut problems = Vec::new();
        // (kind, lowercased owner) -> index in `actions`.
        let mut owners: HashMap<(Kind, Name), usize> = HashMap::new();
        let origin_labels = origin.as_ref().label_count();
        for item in parser {
            let record = match item {
                Ok(r) => r,
                Err(e) => {
                    problems.push(e.to_string());
                    continue;
                }
            };
            let at = record
                .loc
                .as_ref()
                .map_or_else(|| origin.to_string(), |l| l.to_string());
            let mut owner = record.owner.clone();
            owner.make_lowercase();
            if !owner.as_ref().is_subdomain_of(origin.as_ref()) {
                problems.push(format!("{at}: {owner} is outside the policy zone {origin}"));
                continue;
            }
            if owner == origin {
                if record.rtype == RType::SOA {
                    rpz.soa = Some((record.ttl, record.rdata.clone()));
                }
                continue;
            }
            let labels: Vec<&[u8]> = owner.as_ref().labels().collect();
            let rel = &labels[..labels.len() - origin_labels];
            let Some((&last, _)) = rel.split_last() else {
                continue;
            };
            let (kind, trigger) = match last {
                b"rpz-ip" => (Kind::Ip, &rel[..rel.len() - 1]),
                b"rpz-nsdname" => (Kind::Nsdname, &rel[..rel.len() - 1]),
                b"rpz-client-ip" | b"rpz-nsip" => {
                    rpz.skipped
                        .push(format!("{at}: {owner}: trigger kind not supported"));
                    continue;
                }
                _ => (Kind::Qname, rel),
            };
            let index = match owners.get(&(kind, owner.clone())) {
                Some(&i) => i,
                None => {
                    if owners.len() >= max_entries {
                        return Err(RpzError {
                            problems: vec![format!("{at}: more than {max_entries} triggers")],
                        });
                    }
                    let index = rpz.actions.len();
                    let value = index as u32;
                    match kind {
                        Kind::Ip => match ip_trigger(trigger) {
                            Some((key, len)) => rpz.ip.insert(key, len, value),
                            None => {
                                problems.push(format!("{at}: {owner}: not an rpz-ip trigger"));
                                continue;
                            }
                        },
                        Kind::Qname | Kind::Nsdname => {
                            let (below, labels) = match trigger.split_first() {
                                Some((&b"*", rest)) => (true, rest),
                                _ => (false, trigger),
                            };
                            let Ok(name) = Name::from_labels(labels.iter().copied()) else {
                                problems.push(format!("{at}: {owner}: bad trigger name"));
                                continue;
                            };
                            if kind == Kind::Qname {
                                rpz.qname.insert(name.as_ref(), below, value);
                            } else {
                                rpz.nsdname.insert(name.as_ref(), below, value);
                            }
                        }
                    }
                    rpz.actions.push(Action::Local(LocalData::default()));
                    owners.insert((kind, owner.clone()), index);
                    index
                }
            };
            let trigger_name = Name::from_labels(
                trigger
                    .iter()
                    .copied()
                    .skip_while(|l| *l == b"*" && kind != Kind::Ip),
            )
            .ok();
            if let Err(message) = add_record(&mut rpz.actions[index], &record, trigger_name) {
                problems.push(format!("{at}: {owner}: {message}"));
            }
        }
        if !problems.is_empty() {
            return Err(RpzError { problems });
        }
        Ok(rpz)
    }

    /// Triggers held.
    pub fn len(&self) -> usize {
        self.qname.len() + self.nsdname.len() + self.ip.len()
    }

    /// Whether it holds no trigger.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether it has triggers only an answer can fire (IP or NSDNAME).
    pub fn has_answer_triggers(&self) -> bool {
        !self.nsdname.is_empty() || self.ip.len() > 0
    }

    /// Whether it has NSDNAME triggers (the engine then looks up the answer's name servers).
    pub fn has_nsdname_triggers(&self) -> bool {
        !self.nsdname.is_empty()
    }

    /// The action of the QNAME trigger for `name` (exact before wildcard, the longest wildcard
    /// first).
    pub fn qname(&self, name: NameRef<'_>) -> Option<&Action> {
        self.qname
            .lookup(name)
            .and_then(|f| self.actions.get(f.value as usize))
    }

    /// The action of the IP trigger for `addr` and the prefix length that matched.
    pub fn ip(&self, addr: IpAddr) -> Option<(u8, &Action)> {
        let (len, v) = self.ip.lookup(addr)?;
        Some((len, self.actions.get(v as usize)?))
    }

    /// The action of the NSDNAME trigger for the name server `name`.
    pub fn nsdname(&self, name: NameRef<'_>) -> Option<&Action> {
        self.nsdname
            .lookup(name)
            .and_then(|f| self.actions.get(f.value as usize))
    }
}

/// The special CNAME targets.
fn special(target: &[u8], trigger: Option<&Name>) -> Option<Action> {
    let is = |text: &[u8]| {
        let mut wire = Vec::with_capacity(text.len() + 2);
        wire.push(text.len() as u8);
        wire.extend_from_slice(text);
        wire.push(0);
        target.eq_ignore_ascii_case(&wire)
    };
    if target == [0] {
        Some(Action::NxDomain)
    } else if target == [1, b'*', 0] {
        Some(Action::NoData)
    } else if is(b"rpz-passthru") {
        Some(Action::Passthru)
    } else if is(b"rpz-drop") {
        Some(Action::Drop)
    } else if is(b"rpz-tcp-only") {
        Some(Action::TcpOnly)
    } else if trigger.is_some_and(|t| t.as_wire().eq_ignore_ascii_case(target)) {
        Some(Action::Passthru)
    } else {
        None
    }
}

/// Adds one record of a trigger's owner to its action.
fn add_record(
    action: &mut Action,
    record: &zone::Record,
    trigger: Option<Name>,
) -> Result<(), &'static str> {
    let Action::Local(data) = action else {
        return Err("a CNAME action cannot have other records");
    };
    if record.rtype == RType::CNAME
        && let Some(a) = special(&record.rdata, trigger.as_ref())
    {
        if !data.records.is_empty() {
            return Err("a CNAME action cannot have other records");
        }
        *action = a;
        return Ok(());
    }
    let cname = data.records.iter().any(|r| r.rtype == RType::CNAME);
    if cname || (record.rtype == RType::CNAME && !data.records.is_empty()) {
        return Err("a CNAME cannot have other records");
    }
    data.records.push(LocalRecord {
        rtype: record.rtype,
        ttl: record.ttl,
        rdata: record.rdata.clone(),
    });
    Ok(())
}

/// An rpz-ip owner's labels (before `rpz-ip`) as a key and prefix length.
fn ip_trigger(labels: &[&[u8]]) -> Option<(u128, u8)> {
    let (len, parts) = labels.split_first()?;
    let len: u8 = std::str::from_utf8(len).ok()?.parse().ok()?;
    if parts.len() == 4 && len <= 32 {
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            octets[i] = std::str::from_utf8(p).ok()?.parse().ok()?;
        }
        let key = key_of(IpAddr::from(octets));
        return Some((mask(key, len + 96), len + 96));
    }
    if len > 128 || len == 0 {
        return None;
    }
    // Groups from the last to the first; `zz` stands for the run of zero groups.
    let mut groups: Vec<Option<u16>> = Vec::with_capacity(8);
    for p in parts.iter().rev() {
        if p.eq_ignore_ascii_case(b"zz") {
            groups.push(None);
        } else {
            groups.push(Some(
                u16::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok()?,
            ));
        }
    }
    let runs = groups.iter().filter(|g| g.is_none()).count();
    let explicit = groups.len() - runs;
    if runs > 1 || explicit > 8 || (runs == 0 && explicit != 8) || (runs == 1 && explicit == 8) {
        return None;
    }
    let mut full = [0u16; 8];
    let mut i = 0;
    for g in groups {
        match g {
            Some(v) => {
                full[i] = v;
                i += 1;
            }
            None => i += 8 - explicit,
        }
    }
    let addr = std::net::Ipv6Addr::from(full);
    Some((mask(u128::from(addr), len), len))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ZONE: &str = "$TTL 300\n\
@ SOA localhost. root.localhost. 1 3600 600 86400 60\n\
@ NS localhost.\n\
nx.example CNAME .\n\
nodata.example CNAME *.\n\
*.wild.example CNAME .\n\
ok.wild.example CNAME rpz-passthru.\n\
old.example CNAME old.example.\n\
drop.example CNAME rpz-drop.\n\
tcp.example CNAME rpz-tcp-only.\n\
local.example A 192.0.2.7\n\
local.example AAAA 2001:db8::7\n\
rw.example CNAME garden.example.net.\n\
*.w.example CNAME *.garden.example.net.\n\
32.1.2.0.192.rpz-ip CNAME .\n\
24.0.113.0.203.rpz-ip CNAME *.\n\
128.1.zz.db8.2001.rpz-ip CNAME .\n\
ns.bad.example.rpz-nsdname CNAME .\n\
*.evil.example.rpz-nsdname CNAME *.\n\
32.1.0.0.127.rpz-client-ip CNAME .\n";

    fn rpz() -> Rpz {
        Rpz::from_str(
            ZONE,
            Path::new("rpz.zone"),
            "rpz.local.".parse::<Name>().unwrap().as_ref(),
            100,
        )
        .unwrap()
    }

    fn q<'a>(z: &'a Rpz, name: &str) -> Option<&'a Action> {
        z.qname(name.parse::<Name>().unwrap().as_ref())
    }

    #[test]
    fn qname_actions() {
        let z = rpz();
        assert!(z.soa.is_some());
        assert_eq!(q(&z, "nx.example."), Some(&Action::NxDomain));
        assert_eq!(q(&z, "a.nx.example."), None);
        assert_eq!(q(&z, "nodata.example."), Some(&Action::NoData));
        assert_eq!(q(&z, "wild.example."), None);
        assert_eq!(q(&z, "a.b.wild.example."), Some(&Action::NxDomain));
        assert_eq!(q(&z, "ok.wild.example."), Some(&Action::Passthru));
        assert_eq!(q(&z, "x.ok.wild.example."), Some(&Action::NxDomain));
        assert_eq!(q(&z, "old.example."), Some(&Action::Passthru));
        assert_eq!(q(&z, "drop.example."), Some(&Action::Drop));
        assert_eq!(q(&z, "tcp.example."), Some(&Action::TcpOnly));
        let Some(Action::Local(data)) = q(&z, "local.example.") else {
            panic!()
        };
        assert_eq!(data.records.len(), 2);
        assert!(matches!(q(&z, "rw.example."), Some(Action::Local(_))));
        assert_eq!(z.skipped.len(), 1);
    }

    #[test]
    fn ip_and_nsdname_triggers() {
        let z = rpz();
        let ip = |s: &str| z.ip(s.parse().unwrap()).map(|(l, a)| (l, a.clone()));
        assert_eq!(ip("192.0.2.1"), Some((128, Action::NxDomain)));
        assert_eq!(ip("192.0.2.2"), None);
        assert_eq!(ip("203.0.113.9"), Some((120, Action::NoData)));
        assert_eq!(ip("2001:db8::1"), Some((128, Action::NxDomain)));
        assert_eq!(ip("2001:db8::2"), None);
        let ns = |s: &str| z.nsdname(s.parse::<Name>().unwrap().as_ref()).cloned();
        assert_eq!(ns("ns.bad.example."), Some(Action::NxDomain));
        assert_eq!(ns("ns1.evil.example."), Some(Action::NoData));
        assert_eq!(ns("ns.good.example."), None);
        assert!(z.has_answer_triggers());
    }

    #[test]
    fn bad_files_say_where() {
        let origin: Name = "rpz.local.".parse().unwrap();
        let err = Rpz::from_str(
            "@ SOA a. b. 1 2 3 4 5\nx CNAME .\nx A 192.0.2.1\n99.1.2.3.4.5.rpz-ip CNAME .\ny A\n",
            Path::new("bad.rpz"),
            origin.as_ref(),
            100,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bad.rpz:3:"), "{text}");
        assert!(text.contains("bad.rpz:4:"), "{text}");
        assert!(text.contains("bad.rpz:5:"), "{text}");
        let err = Rpz::from_str(
            "$TTL 60\na CNAME .\nb CNAME .\n",
            Path::new("big"),
            origin.as_ref(),
            1,
        )
        .unwrap_err();
        assert!(err.to_string().contains("more than 1"));
    }
}
