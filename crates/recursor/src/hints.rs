//! Root hints: where an iterative resolver asks its first question.
//!
//! A resolver that starts with an empty cache knows nothing of the DNS tree, so it is given the
//! names and addresses of the root's name servers: the *root hints*. IANA publishes them as a
//! zone file, `named.root` (also called `root.hints` or `named.cache`): an NS RRset at the root
//! and an A and AAAA record for each name, all with a TTL of 3,600,000 seconds.
//!
//! Hints are only a bootstrap. They are not trusted data and are not answered to clients:
//! priming (RFC 8109) asks one of these servers for `. NS` and replaces the hints with the
//! root's own answer (and its glue). Stale hints are therefore an availability problem, never a
//! security one, and any one server that still answers is enough to prime.
//!
//! [`Hints::builtin`] is the list IANA published for the root zone as of 2024 (the last change
//! was b.root-servers.net's renumbering to 170.247.170.2 and 2801:1b8:10::b in November 2023).
//! [`Hints::from_file`] reads a file of the same form instead, so a test world (or a private
//! root) can replace it; records other than the root NS RRset and the addresses of its names are
//! ignored, as BIND and Unbound do.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use cache::RrSet;
use wire::{Class, Name, NameRef, RType};
use zone::Loc;

/// TTL of the built-in hints, as in `named.root`.
pub const HINTS_TTL: u32 = 3_600_000;

/// Most NS names read from a hints file (the real root has 13).
pub const MAX_HINT_SERVERS: usize = 64;

/// Most addresses kept per hint server name.
pub const MAX_HINT_ADDRS: usize = 16;

/// One root name server: its name and addresses (IPv4 first, then IPv6, in file order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintServer {
    /// The server's name (e.g. `a.root-servers.net.`).
    pub name: Name,
    /// Its addresses; never empty in a [`Hints`].
    pub addrs: Vec<IpAddr>,
}

/// The root servers a resolver starts from. Every server has at least one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hints {
    servers: Vec<HintServer>,
    ns_ttl: u32,
    addr_ttl: u32,
}

/// One problem found in a hints file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintsProblem {
    /// Where, when the problem belongs to one place in the file.
    pub loc: Option<Loc>,
    /// What is wrong.
    pub message: String,
}

/// Why a hints file was refused: every problem found, each displayed as
/// `file:line:column: message` (or `file: message` for the file as a whole), one per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HintsError {
    /// The file, as named by the caller.
    pub file: std::sync::Arc<Path>,
    /// The problems, in file order; never empty.
    pub problems: Vec<HintsProblem>,
}

impl fmt::Display for HintsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match &p.loc {
                Some(loc) => write!(f, "{loc}: {}", p.message)?,
                None => write!(f, "{}: {}", self.file.display(), p.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for HintsError {}

/// The IANA root servers: name, IPv4 address, IPv6 address.
const BUILTIN: [(&str, Ipv4Addr, Ipv6Addr); 13] = [
    (
        "a.root-servers.net.",
        Ipv4Addr::new(198, 41, 0, 4),
        Ipv6Addr::new(0x2001, 0x503, 0xba3e, 0, 0, 0, 2, 0x30),
    ),
    (
        "b.root-servers.net.",
        Ipv4Addr::new(170, 247, 170, 2),
        Ipv6Addr::new(0x2801, 0x1b8, 0x10, 0, 0, 0, 0, 0xb),
    ),
    (
        "c.root-servers.net.",
        Ipv4Addr::new(192, 33, 4, 12),
        Ipv6Addr::new(0x2001, 0x500, 0x2, 0, 0, 0, 0, 0xc),
    ),
    (
        "d.root-servers.net.",
        Ipv4Addr::new(199, 7, 91, 13),
        Ipv6Addr::new(0x2001, 0x500, 0x2d, 0, 0, 0, 0, 0xd),
    ),
    (
        "e.root-servers.net.",
        Ipv4Addr::new(192, 203, 230, 10),
        Ipv6Addr::new(0x2001, 0x500, 0xa8, 0, 0, 0, 0, 0xe),
    ),
    (
        "f.root-servers.net.",
        Ipv4Addr::new(192, 5, 5, 241),
        Ipv6Addr::new(0x2001, 0x500, 0x2f, 0, 0, 0, 0, 0xf),
    ),
    (
        "g.root-servers.net.",
        Ipv4Addr::new(192, 112, 36, 4),
        Ipv6Addr::new(0x2001, 0x500, 0x12, 0, 0, 0, 0, 0xd0d),
    ),
    (
        "h.root-servers.net.",
        Ipv4Addr::new(198, 97, 190, 53),
        Ipv6Addr::new(0x2001, 0x500, 0x1, 0, 0, 0, 0, 0x53),
    ),
    (
        "i.root-servers.net.",
        Ipv4Addr::new(192, 36, 148, 17),
        Ipv6Addr::new(0x2001, 0x7fe, 0, 0, 0, 0, 0, 0x53),
    ),
    (
        "j.root-servers.net.",
        Ipv4Addr::new(192, 58, 128, 30),
        Ipv6Addr::new(0x2001, 0x503, 0xc27, 0, 0, 0, 2, 0x30),
    ),
    (
        "k.root-servers.net.",
        Ipv4Addr::new(193, 0, 14, 129),
        Ipv6Addr::new(0x2001, 0x7fd, 0, 0, 0, 0, 0, 1),
    ),
    (
        "l.root-servers.net.",
        Ipv4Addr::new(199, 7, 83, 42),
        Ipv6Addr::new(0x2001, 0x500, 0x9f, 0, 0, 0, 0, 0x42),
    ),
    (
        "m.root-servers.net.",
        Ipv4Addr::new(202, 12, 27, 33),
        Ipv6Addr::new(0x2001, 0xdc3, 0, 0, 0, 0, 0, 0x35),
    ),
];

impl Hints {
    /// The IANA root servers a to m with their IPv4 and IPv6 addresses.
    pub fn builtin() -> Hints {
        let servers = BUILTIN
            .iter()
            .filter_map(|(name, v4, v6)| {
                // The names are constants that parse; a failure would only drop that server.
                let name = Name::from_text(name.as_bytes(), None).ok()?;
                Some(HintServer {
                    name,
                    addrs: vec![IpAddr::V4(*v4), IpAddr::V6(*v6)],
                })
            })
            .collect();
        Hints {
            servers,
            ns_ttl: HINTS_TTL,
            addr_ttl: HINTS_TTL,
        }
    }

    /// Hints from zone-file text (the form of `named.root`); `path` names the text in errors.
    pub fn from_zone_text(text: &str, path: &Path) -> Result<Hints, HintsError> {
        Hints::from_parser(zone::parse_str(text, path, NameRef::ROOT), path)
    }

    /// Hints from a zone file (the form of `named.root`).
    pub fn from_file(path: &Path) -> Result<Hints, HintsError> {
        Hints::from_parser(zone::parse_file(path, NameRef::ROOT), path)
    }

    fn from_parser(parser: zone::Parser<'_>, path: &Path) -> Result<Hints, HintsError> {
        let mut problems = Vec::new();
        let mut records = Vec::new();
        for item in parser {
            match item {
                Ok(r) => records.push(r),
                Err(e) => problems.push(HintsProblem {
                    loc: Some(e.loc),
                    message: e.message,
                }),
            }
        }
        let error = |problems| HintsError {
            file: std::sync::Arc::from(path),
            problems,
        };
        if !problems.is_empty() {
            return Err(error(problems));
        }

        // The NS RRset of the root, in file order, without repeats.
        let mut servers: Vec<HintServer> = Vec::new();
        let mut ns_ttl = u32::MAX;
        let mut addr_ttl = u32::MAX;
        for r in records.iter().filter(|r| r.rtype == RType::NS) {
            if !r.owner.as_ref().is_root() {
                problems.push(problem(
                    r,
                    format!("NS record for {}: hints hold only the root's NS", r.owner),
                ));
                continue;
            }
            let target = match Name::from_wire(&r.rdata) {
                Ok(n) => n,
                Err(e) => {
                    problems.push(problem(r, format!("bad NS target: {e}")));
                    continue;
                }
            };
            ns_ttl = ns_ttl.min(r.ttl);
            if servers.iter().any(|s| s.name == target) {
                continue;
            }
            if servers.len() == MAX_HINT_SERVERS {
                problems.push(problem(
                    r,
                    format!("more than {MAX_HINT_SERVERS} root name servers"),
                ));
                break;
            }
            servers.push(HintServer {
                name: target,
                addrs: Vec::new(),
            });
        }

        // Their addresses; addresses of other names are ignored.
        for r in &records {
            let addr = match r.rtype {
                RType::A => <[u8; 4]>::try_from(r.rdata.as_slice())
                    .ok()
                    .map(IpAddr::from),
                RType::AAAA => <[u8; 16]>::try_from(r.rdata.as_slice())
                    .ok()
                    .map(IpAddr::from),
                _ => continue,
            };
            let Some(server) = servers.iter_mut().find(|s| s.name == r.owner) else {
                continue;
            };
            let Some(addr) = addr else {
                problems.push(problem(r, "malformed address"));
                continue;
            };
            addr_ttl = addr_ttl.min(r.ttl);
            if !server.addrs.contains(&addr) && server.addrs.len() < MAX_HINT_ADDRS {
                server.addrs.push(addr);
            }
        }
        if !problems.is_empty() {
            return Err(error(problems));
        }

        let named = servers.len();
        servers.retain(|s| !s.addrs.is_empty());
        for s in &mut servers {
            // IPv4 first, keeping file order within each family.
            s.addrs.sort_by_key(|a| a.is_ipv6());
        }
        if servers.is_empty() {
            let message = if named == 0 {
                "no NS record for the root (.): a hints file lists the root's name servers \
                 (`. NS a.root-servers.net.`) and their addresses"
                    .to_string()
            } else {
                format!(
                    "none of the {named} root name servers has an A or AAAA record: \
                     the hints need at least one address"
                )
            };
            return Err(error(vec![HintsProblem { loc: None, message }]));
        }
        Ok(Hints {
            servers,
            ns_ttl,
            addr_ttl,
        })
    }

    /// The root servers; each has at least one address.
    pub fn servers(&self) -> &[HintServer] {
        &self.servers
    }

    /// Every address of every server, in order (a server's IPv4 addresses first).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.servers.iter().flat_map(|s| s.addrs.iter().copied())
    }

    /// The root NS RRset the hints stand for, to prime the cache with (RFC 8109 section 3).
    pub fn ns_rrset(&self) -> RrSet {
        RrSet {
            owner: Name::root(),
            rtype: RType::NS,
            class: Class::IN,
            ttl: self.ns_ttl,
            rdatas: self
                .servers
                .iter()
                .map(|s| s.name.as_wire().to_vec())
                .collect(),
            sigs: Vec::new(),
        }
    }

    /// The A and AAAA RRsets of the servers (an RRset only for a family that has addresses).
    pub fn address_rrsets(&self) -> Vec<RrSet> {
        let mut out = Vec::with_capacity(self.servers.len() * 2);
        for s in &self.servers {
            for (rtype, v6) in [(RType::A, false), (RType::AAAA, true)] {
                let rdatas: Vec<Vec<u8>> = s
                    .addrs
                    .iter()
                    .filter(|a| a.is_ipv6() == v6)
                    .map(|a| match a {
                        IpAddr::V4(a) => a.octets().to_vec(),
                        IpAddr::V6(a) => a.octets().to_vec(),
                    })
                    .collect();
                if !rdatas.is_empty() {
                    out.push(RrSet {
                        owner: s.name.clone(),
                        rtype,
                        class: Class::IN,
                        ttl: self.addr_ttl,
                        rdatas,
                        sigs: Vec::new(),
                    });
                }
            }
        }
        out
    }
}

fn problem(r: &zone::Record, message: impl Into<String>) -> HintsProblem {
    HintsProblem {
        loc: r.loc.clone(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;
