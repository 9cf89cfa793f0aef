//! A deterministic simulated network for the recursor: fake authoritative servers keyed by IP
//! address, each serving zones built from zone text (answered with `zone::Zone::lookup`) and
//! misbehaving on demand, and a driver loop that carries the recursor's transmits to them and
//! their answers back, with simulated time.
//!
//! Nothing here touches a socket or a clock: a whole scenario runs in microseconds and is the
//! same every time (fixed CSPRNG seed).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use cache::{Cache, CacheConfig, Time};
use recursor::{
    Finished, Hints, QueryOptions, Question, Recursor, RecursorConfig, Transmit, UpstreamTransport,
    Verdict,
};
use wire::message::Header;
use wire::{Class, Flags, Message, MessageWriter, Name, NameRef, Opcode, RType, Rcode, Section};
use zone::{Lookup, Zone};

/// One upstream query as a fake server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Time,
    pub server: SocketAddr,
    pub id: u16,
    /// The name as sent (case included).
    pub qname: Name,
    pub qtype: RType,
    pub rd: bool,
    pub edns: bool,
    pub dnssec_ok: bool,
    pub tcp: bool,
    /// The COOKIE option's data, if any (client cookie, then server cookie).
    pub cookie: Option<Vec<u8>>,
}

impl Seen {
    /// "qname qtype" with the name lowercased, for asserting query sequences.
    pub fn text(&self) -> String {
        format!(
            "{} {}",
            self.qname.to_string().to_ascii_lowercase(),
            self.qtype
        )
    }
}

/// What a custom responder may return.
pub enum Reply {
    /// Answer normally from the zones.
    Normal,
    /// Say nothing.
    Silent,
    /// Send these bytes.
    Bytes(Vec<u8>),
}

/// A custom responder: sees the query, may replace the answer.
pub type Custom = Rc<dyn Fn(&Seen, &[u8], &Server) -> Reply>;

/// Makes forged datagrams for a transmit, delivered before the genuine answer.
pub type Forger = Box<dyn FnMut(&Transmit, &Seen) -> Vec<(SocketAddr, Vec<u8>)>>;

/// An answer in flight: when it arrives, for which query, from where, the bytes.
type InFlight = (Time, recursor::UpstreamId, SocketAddr, Vec<u8>);

/// A fake authoritative server.
#[derive(Clone, Default)]
pub struct Server {
    pub zones: Vec<Rc<Zone>>,
    /// Never answers.
    pub silent: bool,
    /// Answers every query with this RCODE.
    pub rcode: Option<Rcode>,
    /// Answers FORMERR to queries with EDNS (and without a question section).
    pub formerr_on_edns: bool,
    /// Sets TC on every UDP answer (with an empty answer section).
    pub truncate_udp: bool,
    /// Writes the question name back lowercased (does not echo 0x20 case).
    pub lowercase_question: bool,
    /// Answers a client cookie with this server cookie (RFC 7873).
    pub server_cookie: Option<Vec<u8>>,
    /// Answers BADCOOKIE (with a fresh server cookie) to queries without a server cookie.
    pub require_cookie: bool,
    /// Replaces answers.
    pub custom: Option<Custom>,
    /// Queries seen.
    pub seen: usize,
}

/// A zone from text.
pub fn zone(origin: &str, text: &str) -> Rc<Zone> {
    let origin: Name = origin.parse().expect("origin");
    match zone::load_str(text, Path::new("sim"), origin.as_ref()) {
        Ok(built) => Rc::new(built.zone),
        Err(e) => panic!("zone {origin}: {e}"),
    }
}

pub fn name(s: &str) -> Name {
    s.parse().expect("name")
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

/// The simulated network and the recursor under test.
pub struct Sim {
    pub rec: Recursor,
    pub cache: Arc<Cache>,
    pub now: Time,
    pub servers: HashMap<IpAddr, Server>,
    /// Every upstream query delivered (or dropped for want of a server), in order.
    pub log: Vec<Seen>,
    /// Finished answers collected.
    pub answers: Vec<Finished>,
    /// One-way latency of every answer, ms.
    pub latency: u64,
    /// Forged datagrams to deliver before the genuine answer of a transmit.
    pub forger: Option<Forger>,
    /// Verdicts of forged datagrams.
    pub forged_verdicts: Vec<Verdict>,
    /// Transmits the I/O layer refuses to send (handle_failure).
    pub fail_sends_to: Vec<IpAddr>,
    next_waiter: u64,
}

/// Root hints naming one root server at `addr`.
pub fn hints(addr: &str) -> Hints {
    let text = format!(". 3600000 NS a.root.sim.\na.root.sim. 3600000 A {addr}\n");
    Hints::from_zone_text(&text, Path::new("hints")).expect("hints")
}

/// A configuration for the simulation: one root server at 192.0.2.1, IPv4 only, no DNSSEC
/// validation (the simulated zones are unsigned; the validation tests turn it on with their
/// own trust anchors).
pub fn config() -> RecursorConfig {
    RecursorConfig {
        root_hints: hints("192.0.2.1"),
        ipv6: false,
        validation: no_validation(),
        ..RecursorConfig::default()
    }
}

/// Validation off.
pub fn no_validation() -> recursor::ValidationConfig {
    recursor::ValidationConfig {
        enabled: false,
        ..recursor::ValidationConfig::default()
    }
}

impl Sim {
    pub fn new(config: RecursorConfig) -> Sim {
        let cache = Arc::new(Cache::new(CacheConfig::default()));
        let rec = Recursor::new(config, Arc::clone(&cache), [7; 32]);
        Sim {
            rec,
            cache,
            now: Time::from_millis(1_000_000),
            servers: HashMap::new(),
            log: Vec::new(),
            answers: Vec::new(),
            latency: 10,
            forger: None,
            forged_verdicts: Vec::new(),
            fail_sends_to: Vec::new(),
            next_waiter: 1,
        }
    }

    /// Adds a server at `addr` serving `zones`.
    pub fn serve(&mut self, addr: &str, zones: &[&Rc<Zone>]) -> &mut Server {
        let server = self.servers.entry(ip(addr)).or_default();
        server.zones.extend(zones.iter().map(|z| Rc::clone(z)));
        server
    }

    pub fn server(&mut self, addr: &str) -> &mut Server {
        self.servers.get_mut(&ip(addr)).expect("server")
    }

    /// Submits a question from 198.51.100.1; returns its waiter id.
    pub fn submit(&mut self, qname: &str, qtype: RType) -> u64 {
        self.submit_from(qname, qtype, ip("198.51.100.1"))
    }

    pub fn submit_from(&mut self, qname: &str, qtype: RType, client: IpAddr) -> u64 {
        let waiter = self.next_waiter;
        self.next_waiter += 1;
        self.rec.submit(
            Question {
                qname: name(qname),
                qtype,
                qclass: Class::IN,
            },
            QueryOptions {
                client,
                checking_disabled: false,
                dnssec_ok: false,
            },
            waiter,
            self.now,
        );
        waiter
    }

    /// Submits, runs the network until quiet, returns the answer for that question.
    pub fn resolve(&mut self, qname: &str, qtype: RType) -> Arc<recursor::Resolution> {
        let waiter = self.submit(qname, qtype);
        self.run();
        self.answer(waiter)
    }

    /// The answer for `waiter`.
    pub fn answer(&self, waiter: u64) -> Arc<recursor::Resolution> {
        self.answers
            .iter()
            .find(|f| f.waiters.contains(&waiter))
            .map(|f| Arc::clone(&f.resolution))
            .unwrap_or_else(|| panic!("no answer for waiter {waiter}"))
    }

    /// Upstream queries seen since `from` (an index into the log).
    pub fn queries_since(&self, from: usize) -> Vec<String> {
        self.log[from..].iter().map(Seen::text).collect()
    }

    /// Runs until nothing is in flight: transmits delivered, answers fed back after the
    /// latency, timeouts fired.
    pub fn run(&mut self) {
        let mut pending: Vec<InFlight> = Vec::new();
        for _ in 0..1_000_000 {
            while let Some(t) = self.rec.poll_transmit() {
                self.deliver(t, &mut pending);
            }
            while let Some(f) = self.rec.poll_answer() {
                self.answers.push(f);
            }
            while self.rec.poll_closed().is_some() {}
            pending.sort_by_key(|p| p.0);
            let next_msg = pending.first().map(|p| p.0);
            let next_timer = self.rec.next_timeout();
            match (next_msg, next_timer) {
                (None, None) => return,
                (Some(at), timer) if timer.is_none_or(|t| at <= t) => {
                    let (at, id, from, bytes) = pending.remove(0);
                    self.now = self.now.max(at);
                    self.rec.handle_response(id, from, &bytes, self.now);
                }
                (_, Some(t)) => {
                    self.now = self.now.max(t);
                    self.rec.handle_timeout(self.now);
                }
                (Some(_), None) => unreachable!(),
            }
        }
        panic!("simulation did not settle");
    }

    fn deliver(&mut self, t: Transmit, pending: &mut Vec<InFlight>) {
        let msg = Message::parse(&t.message).expect("the recursor sends valid queries");
        let q = msg.question().expect("one question");
        let edns = msg.edns();
        let seen = Seen {
            at: self.now,
            server: t.server,
            id: msg.header().id,
            qname: q.qname().expect("qname"),
            qtype: q.qtype,
            rd: msg.header().flags.rd(),
            edns: edns.is_some(),
            dnssec_ok: edns.is_some_and(|e| e.dnssec_ok()),
            tcp: t.transport == UpstreamTransport::Tcp,
            cookie: edns
                .and_then(|e| e.option(wire::edns::OptionCode::COOKIE))
                .map(<[u8]>::to_vec),
        };
        self.log.push(seen.clone());
        if self.fail_sends_to.contains(&t.server.ip()) {
            self.rec.handle_failure(t.id, self.now);
            return;
        }
        if let Some(forger) = self.forger.as_mut() {
            for (from, bytes) in forger(&t, &seen) {
                let verdict = self.rec.handle_response(t.id, from, &bytes, self.now);
                self.forged_verdicts.push(verdict);
            }
        }
        let Some(server) = self.servers.get_mut(&t.server.ip()) else {
            return;
        };
        server.seen += 1;
        if t.server.port() != 53 && !server.zones.is_empty() && server.custom.is_none() {
            // Fake servers listen on port 53 only.
            return;
        }
        let server = server.clone();
        let reply = match &server.custom {
            Some(custom) => custom(&seen, &t.message, &server),
            None => Reply::Normal,
        };
        let bytes = match reply {
            Reply::Silent => return,
            Reply::Bytes(b) => b,
            Reply::Normal => match answer(&server, &seen, &t.message) {
                Some(b) => b,
                None => return,
            },
        };
        pending.push((self.now.plus_millis(self.latency), t.id, t.server, bytes));
    }
}

/// A record for [`respond`]: owner, type, TTL, RDATA.
pub type Rec = (Name, RType, u32, Vec<u8>);

/// Writes a response to `seen` with the given sections.
pub fn respond(
    seen: &Seen,
    qname_echo: &Name,
    rcode: Rcode,
    aa: bool,
    tc: bool,
    sections: [&[Rec]; 3],
    edns: bool,
) -> Vec<u8> {
    respond_with_cookie(seen, qname_echo, rcode, aa, tc, sections, edns, None)
}

/// [`respond`] with a COOKIE option: the query's client cookie and `server_cookie`.
#[allow(clippy::too_many_arguments)]
pub fn respond_with_cookie(
    seen: &Seen,
    qname_echo: &Name,
    rcode: Rcode,
    aa: bool,
    tc: bool,
    sections: [&[Rec]; 3],
    edns: bool,
    server_cookie: Option<&[u8]>,
) -> Vec<u8> {
    let mut buf = vec![0u8; 65535];
    let flags = Flags(0)
        .with_qr(true)
        .with_opcode(Opcode::QUERY)
        .with_aa(aa)
        .with_tc(tc)
        .with_rd(seen.rd)
        .with_rcode(rcode);
    let header = Header {
        id: seen.id,
        flags,
        ..Header::default()
    };
    let limit = buf.len();
    let mut w = MessageWriter::new(&mut buf, limit, header).expect("writer");
    w.push_question(qname_echo.as_ref(), seen.qtype, Class::IN)
        .expect("question");
    for (section, records) in [Section::Answer, Section::Authority, Section::Additional]
        .into_iter()
        .zip(sections)
    {
        for (owner, rtype, ttl, rdata) in records {
            w.push(section, owner.as_ref(), *rtype, Class::IN, *ttl, rdata)
                .expect("record");
        }
    }
    if edns {
        let mut opt = w.opt(1232, rcode, seen.dnssec_ok).expect("opt");
        if let (Some(server), Some(cookie)) = (server_cookie, &seen.cookie) {
            let client: [u8; 8] = cookie[..8].try_into().expect("client cookie");
            opt.cookie(&client, server).expect("cookie");
        }
        opt.finish().expect("opt");
    }
    w.finish().to_vec()
}

fn rrset_records(owner: NameRef<'_>, set: &zone::RRset<'_>, out: &mut Vec<Rec>) {
    for rdata in set.rdatas() {
        out.push((owner.to_name(), set.rtype(), set.ttl(), rdata.to_vec()));
    }
}

/// The RRSIGs at `node` covering `rtype`, written with `owner`.
fn signatures(owner: NameRef<'_>, node: &zone::Node<'_>, rtype: RType, out: &mut Vec<Rec>) {
    if let Some(sigs) = node.signatures(rtype) {
        rrset_records(owner, &sigs, out);
    }
}

/// The zone's SOA and, with DO, its signatures and the apex NSEC with signatures (a stand-in
/// for a real proof: enough to see proofs kept).
fn negative_authority(zone: &Zone, dnssec_ok: bool, out: &mut Vec<Rec>) {
    rrset_records(zone.origin(), &zone.soa(), out);
    if dnssec_ok {
        let apex = zone.apex();
        signatures(zone.origin(), &apex, RType::SOA, out);
        if let Some(nsec) = apex.rrset(RType::NSEC) {
            rrset_records(zone.origin(), &nsec, out);
            signatures(zone.origin(), &apex, RType::NSEC, out);
        }
    }
}

/// The addresses the zone has for the targets of an NS RRset.
fn add_addresses(zone: &Zone, set: &zone::RRset<'_>, out: &mut Vec<Rec>) {
    for rdata in set.rdatas() {
        let Ok(target) = Name::from_wire(rdata) else {
            continue;
        };
        if let Some(node) = zone.node(target.as_ref()) {
            for t in [RType::A, RType::AAAA] {
                if let Some(glue) = node.rrset(t) {
                    rrset_records(node.owner(), &glue, out);
                }
            }
        }
    }
}

/// The normal answer of `server` to `seen`, from its zones (None: silent).
pub fn answer(server: &Server, seen: &Seen, query: &[u8]) -> Option<Vec<u8>> {
    if server.silent {
        return None;
    }
    let echo = if server.lowercase_question {
        let mut n = seen.qname.clone();
        n.make_lowercase();
        n
    } else {
        seen.qname.clone()
    };
    let edns = seen.edns && !server.formerr_on_edns;
    if seen.edns && server.formerr_on_edns {
        // An old server: FORMERR without a question section.
        let header = Header {
            id: seen.id,
            flags: Flags(0)
                .with_qr(true)
                .with_opcode(Opcode::QUERY)
                .with_rcode(Rcode::FORMERR),
            ..Header::default()
        };
        let _ = query;
        return Some(header.to_bytes().to_vec());
    }
    let has_server_cookie = seen.cookie.as_ref().is_some_and(|c| c.len() > 8);
    if server.require_cookie && seen.cookie.is_some() && !has_server_cookie {
        return Some(respond_with_cookie(
            seen,
            &echo,
            Rcode::BADCOOKIE,
            false,
            false,
            [&[], &[], &[]],
            true,
            server.server_cookie.as_deref(),
        ));
    }
    if let Some(rcode) = server.rcode {
        return Some(respond(
            seen,
            &echo,
            rcode,
            false,
            false,
            [&[], &[], &[]],
            edns,
        ));
    }
    if server.truncate_udp && !seen.tcp {
        return Some(respond(
            seen,
            &echo,
            Rcode::NOERROR,
            true,
            true,
            [&[], &[], &[]],
            edns,
        ));
    }
    let zone = server
        .zones
        .iter()
        .filter(|z| seen.qname.as_ref().is_subdomain_of(z.origin()))
        .max_by_key(|z| z.origin().label_count());
    let Some(zone) = zone else {
        return Some(respond(
            seen,
            &echo,
            Rcode::REFUSED,
            false,
            false,
            [&[], &[], &[]],
            edns,
        ));
    };
    let mut an = Vec::new();
    let mut ns = Vec::new();
    let mut ad = Vec::new();
    let mut aa = true;
    let mut rcode = Rcode::NOERROR;
    let mut qname = seen.qname.clone();
    for _ in 0..8 {
        match zone.lookup(qname.as_ref(), seen.qtype) {
            Lookup::Answer {
                node,
                rrset,
                wildcard,
            } => {
                let owner = if wildcard {
                    qname.as_ref()
                } else {
                    node.owner()
                };
                rrset_records(owner, &rrset, &mut an);
                if seen.dnssec_ok {
                    signatures(owner, &node, rrset.rtype(), &mut an);
                }
                if rrset.rtype() == RType::NS {
                    add_addresses(zone, &rrset, &mut ad);
                }
                break;
            }
            Lookup::Any { node, .. } => {
                for set in node.rrsets() {
                    rrset_records(node.owner(), &set, &mut an);
                }
                break;
            }
            Lookup::Cname {
                node,
                rrset,
                wildcard,
            } => {
                let owner = if wildcard {
                    qname.clone()
                } else {
                    node.owner().to_name()
                };
                rrset_records(owner.as_ref(), &rrset, &mut an);
                if seen.dnssec_ok {
                    signatures(owner.as_ref(), &node, RType::CNAME, &mut an);
                }
                let target = rrset
                    .rdatas()
                    .next()
                    .and_then(|r| Name::from_wire(r).ok())?;
                if !target.as_ref().is_subdomain_of(zone.origin()) {
                    break;
                }
                qname = target;
            }
            Lookup::Dname { node, rrset } => {
                rrset_records(node.owner(), &rrset, &mut an);
                if seen.dnssec_ok {
                    signatures(node.owner(), &node, RType::DNAME, &mut an);
                }
                let target = rrset
                    .rdatas()
                    .next()
                    .and_then(|r| Name::from_wire(r).ok())?;
                let keep = qname.as_ref().label_count() - node.owner().label_count();
                let mut b = wire::name::NameBuilder::new();
                for l in qname.as_ref().labels().take(keep) {
                    b.push_label(l).ok()?;
                }
                for l in target.as_ref().labels() {
                    b.push_label(l).ok()?;
                }
                let new = b.finish().ok()?;
                an.push((
                    qname.clone(),
                    RType::CNAME,
                    rrset.ttl(),
                    new.as_wire().to_vec(),
                ));
                if !new.as_ref().is_subdomain_of(zone.origin()) {
                    break;
                }
                qname = new;
            }
            Lookup::NoData { .. } => {
                negative_authority(zone, seen.dnssec_ok, &mut ns);
                break;
            }
            Lookup::NxDomain { .. } => {
                rcode = Rcode::NXDOMAIN;
                negative_authority(zone, seen.dnssec_ok, &mut ns);
                break;
            }
            Lookup::Referral { cut, ns: set } => {
                if !an.is_empty() {
                    break;
                }
                aa = false;
                rrset_records(cut.owner(), &set, &mut ns);
                add_addresses(zone, &set, &mut ad);
                break;
            }
            Lookup::OutOfZone => break,
        }
    }
    Some(respond_with_cookie(
        seen,
        &echo,
        rcode,
        aa,
        false,
        [&an, &ns, &ad],
        edns,
        server.server_cookie.as_deref(),
    ))
}

/// A standard world: the root (192.0.2.1) delegates `test.` to 192.0.2.10, which delegates
/// `example.test.` to 192.0.2.20 (glue) and `other.test.` to 192.0.2.30.
pub fn world() -> Sim {
    let mut sim = Sim::new(config());
    add_world(&mut sim);
    sim
}

pub const ROOT: &str = "\
. 86400 SOA a.root.sim. admin.root.sim. 1 1800 900 604800 3600
. 518400 NS a.root.sim.
a.root.sim. 518400 A 192.0.2.1
test. 172800 NS ns1.test.
ns1.test. 172800 A 192.0.2.10
";

pub const TEST: &str = "\
test. 3600 SOA ns1.test. admin.test. 1 1800 900 604800 300
test. 3600 NS ns1.test.
ns1.test. 3600 A 192.0.2.10
example.test. 3600 NS ns1.example.test.
ns1.example.test. 3600 A 192.0.2.20
other.test. 3600 NS ns1.other.test.
ns1.other.test. 3600 A 192.0.2.30
";

pub const EXAMPLE: &str = "\
example.test. 3600 SOA ns1.example.test. admin.example.test. 1 1800 900 604800 300
example.test. 3600 NS ns1.example.test.
ns1.example.test. 3600 A 192.0.2.20
www.example.test. 300 A 203.0.113.80
alias.example.test. 300 CNAME www.other.test.
inside.example.test. 300 CNAME www.example.test.
a.b.c.deep.example.test. 300 A 203.0.113.81
old.example.test. 300 DNAME new.other.test.
";

pub const OTHER: &str = "\
other.test. 3600 SOA ns1.other.test. admin.other.test. 1 1800 900 604800 300
other.test. 3600 NS ns1.other.test.
ns1.other.test. 3600 A 192.0.2.30
www.other.test. 300 A 203.0.113.90
www.new.other.test. 300 A 203.0.113.91
";

pub fn add_world(sim: &mut Sim) {
    let root = zone(".", ROOT);
    let test = zone("test.", TEST);
    let example = zone("example.test.", EXAMPLE);
    let other = zone("other.test.", OTHER);
    sim.serve("192.0.2.1", &[&root]);
    sim.serve("192.0.2.10", &[&test]);
    sim.serve("192.0.2.20", &[&example]);
    sim.serve("192.0.2.30", &[&other]);
}

/// The addresses in the answer's A records, as text.
pub fn addresses(res: &recursor::Resolution) -> Vec<String> {
    res.answer
        .iter()
        .filter(|s| s.rtype == RType::A)
        .flat_map(|s| s.rdatas.iter())
        .map(|r| {
            let b: [u8; 4] = r.as_slice().try_into().expect("A");
            std::net::Ipv4Addr::from(b).to_string()
        })
        .collect()
}

/// The types of the answer's RRsets with their owners, lowercased.
pub fn answer_types(res: &recursor::Resolution) -> Vec<String> {
    res.answer
        .iter()
        .map(|s| format!("{} {}", s.owner.to_string().to_ascii_lowercase(), s.rtype))
        .collect()
}
