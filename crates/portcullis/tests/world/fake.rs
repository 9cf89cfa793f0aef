//! A scriptable fake authoritative server for the test internet.
//!
//! It answers UDP and TCP on `127.N.x.y:53` from a small record set, as an authoritative server
//! would (answers with AA, referrals at zone cuts with the glue it holds, CNAMEs, NODATA and
//! NXDOMAIN with the zone's SOA), and misbehaves on demand ([`Behaviour`]): lame (REFUSED or an
//! upward referral to the root, or a sideways one), slow, silent, forging answers (from another port, another
//! address, with a wrong ID or with the question's case changed), not echoing the question's
//! case (0x20), adding records it has no authority for, failing EDNS (FORMERR), always
//! truncating over UDP. Referrals to many names (NXNS) and delegation cycles are plain data: NS
//! records at a cut with no glue.
//!
//! Every query received is recorded ([`Seen`]), even when it is not answered, so tests count the
//! upstream queries a resolver sends: [`Fake::count`], [`Fake::total`].
//!
//! Records are written one a line in presentation form with absolute names, `owner TTL TYPE
//! RDATA` (`www.example.test. 300 A 192.0.2.1`); `127.N.` is replaced by the fake's own block,
//! as in the world's zone files.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wire::message::{Flags, Header, Section};
use wire::text::Field;
use wire::writer::MessageWriter;
use wire::{Class, Message, Name, RType, Rcode};

/// One record of a fake's data.
#[derive(Clone, Debug)]
pub struct Rec {
    pub owner: Name,
    pub rtype: RType,
    pub ttl: u32,
    /// Uncompressed wire RDATA.
    pub rdata: Vec<u8>,
}

/// Reads `owner TTL TYPE RDATA...` (absolute names, fields separated by blanks, no quotes).
pub fn rec(line: &str) -> Rec {
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert!(
        fields.len() >= 4,
        "fake record `{line}`: expected owner TTL TYPE RDATA"
    );
    let owner: Name = fields[0]
        .parse()
        .unwrap_or_else(|e| panic!("fake record `{line}`: owner: {e}"));
    let ttl: u32 = fields[1]
        .parse()
        .unwrap_or_else(|e| panic!("fake record `{line}`: TTL: {e}"));
    let rtype = RType::from_text(fields[2].as_bytes())
        .unwrap_or_else(|| panic!("fake record `{line}`: unknown type"));
    let rdata_fields: Vec<Field<'_>> = fields[3..]
        .iter()
        .map(|f| Field::plain(f.as_bytes()))
        .collect();
    let mut rdata = Vec::new();
    wire::rdata::from_text(rtype, &rdata_fields, Name::root().as_ref(), &mut rdata)
        .unwrap_or_else(|e| panic!("fake record `{line}`: RDATA: {e:?}"));
    Rec {
        owner,
        rtype,
        ttl,
        rdata,
    }
}

/// Reads several records, one a line; blank lines and lines starting with `;` are skipped.
/// `127.N.` becomes `127.<block>.`.
pub fn recs(text: &str, block: u8) -> Vec<Rec> {
    super::subst(text, block)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(rec)
        .collect()
}

/// How a forged answer is sent (RFC 5452: a resolver accepts an answer only when source
/// address, port, ID and question match its query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forgery {
    /// From the server's address but another port.
    SourcePort,
    /// From another address (port 53 there), which the fake binds when it starts.
    SourceAddress(Ipv4Addr),
    /// From the right address and port, with another ID.
    Id,
    /// From the right address and port with the right ID, with the question's letters in the
    /// opposite case (defeated by 0x20 case randomisation, RFC draft-vixie-dnsext-dns0x20).
    QuestionCase,
}

/// What the fake does with the question section it echoes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CaseEcho {
    /// Echoes the question byte for byte (what RFC 1035 servers do).
    #[default]
    Exact,
    /// Lowercases the name: a server that does not preserve case (0x20 fallback needed).
    Lower,
    /// Swaps the case of every letter.
    Swapped,
}

/// Misbehaviours, applied to every query (set them with [`Fake::set`]).
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// Answers REFUSED (a lame server: not authoritative for what it was delegated).
    pub refuse: bool,
    /// Answers with a referral to the root (an upward referral, another lame answer).
    pub upward_referral: bool,
    /// Waits this long before answering.
    pub delay: Option<Duration>,
    /// Never answers (queries are still counted).
    pub silent: bool,
    /// Sends forged answers this way before the true one, for queries whose (name, type) the
    /// `forged` records answer.
    pub forge: Vec<Forgery>,
    /// The forged answer records.
    pub forged: Vec<Rec>,
    /// How long after the forgeries the true answer is sent.
    pub forge_lead: Duration,
    /// How the question is echoed in answers.
    pub case: CaseEcho,
    /// Answers FORMERR without OPT to any query with an OPT record (a server without EDNS).
    pub no_edns: bool,
    /// Over UDP, answers with an empty message with TC set; TCP works.
    pub truncate_udp: bool,
    /// Answers every query with a referral to these NS records instead (an upward or
    /// sideways referral), with `extra_additional` as glue.
    pub referral: Vec<Rec>,
    /// Records added to the answer section of every answer (out of bailiwick, say).
    pub extra_answer: Vec<Rec>,
    /// Records added to the authority section of every answer (out of bailiwick, say).
    pub extra_authority: Vec<Rec>,
    /// Records added to the additional section of every answer.
    pub extra_additional: Vec<Rec>,
}

/// Transport a query came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A query the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The name as sent (case kept).
    pub qname: Name,
    pub qtype: RType,
    pub transport: Transport,
    pub id: u16,
    /// Whether it had an OPT record.
    pub edns: bool,
    pub from: SocketAddr,
}

struct State {
    addr: Ipv4Addr,
    zones: Vec<Name>,
    records: Vec<Rec>,
    behaviour: Mutex<Behaviour>,
    seen: Mutex<Vec<Seen>>,
    stop: AtomicBool,
}

/// A running fake server; stopped (threads joined, sockets closed) when dropped.
pub struct Fake {
    state: Arc<State>,
    threads: Vec<JoinHandle<()>>,
}

impl Fake {
    /// Starts a fake authoritative for `zones` on `addr:53`, answering from `records` (text as
    /// for [`recs`]; an SOA is added for each zone that has none). Panics when the port cannot
    /// be bound.
    pub fn start(addr: Ipv4Addr, zones: &[&str], records: &str, behaviour: Behaviour) -> Fake {
        let block = addr.octets()[1];
        let zones: Vec<Name> = zones
            .iter()
            .map(|z| z.parse().unwrap_or_else(|e| panic!("fake zone {z}: {e}")))
            .collect();
        let mut records = recs(records, block);
        for z in &zones {
            if !records
                .iter()
                .any(|r| r.rtype == RType::SOA && r.owner == *z)
            {
                records.push(rec(&format!(
                    "{z} 300 SOA ns.fake.invalid. hostmaster.fake.invalid. 1 3600 600 86400 300"
                )));
            }
        }
        let mut forgers = Vec::new();
        for f in &behaviour.forge {
            if let Forgery::SourceAddress(ip) = f {
                forgers.push(*ip);
            }
        }
        let state = Arc::new(State {
            addr,
            zones,
            records,
            behaviour: Mutex::new(behaviour),
            seen: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let udp = UdpSocket::bind((addr, 53))
            .unwrap_or_else(|e| panic!("fake server: cannot bind UDP {addr}:53: {e}"));
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let tcp = TcpListener::bind((addr, 53))
            .unwrap_or_else(|e| panic!("fake server: cannot bind TCP {addr}:53: {e}"));
        tcp.set_nonblocking(true).unwrap();
        // Sockets the forgeries are sent from: another port here, port 53 elsewhere.
        let other_port = Arc::new(UdpSocket::bind((addr, 0)).unwrap());
        let other_addrs: Vec<(Ipv4Addr, Arc<UdpSocket>)> = forgers
            .into_iter()
            .map(|ip| {
                let s = UdpSocket::bind((ip, 53))
                    .unwrap_or_else(|e| panic!("fake forger: cannot bind {ip}:53: {e}"));
                (ip, Arc::new(s))
            })
            .collect();
        let udp = Arc::new(udp);
        let mut threads = Vec::new();
        {
            let state = state.clone();
            threads.push(std::thread::spawn(move || {
                udp_loop(&state, &udp, &other_port, &other_addrs)
            }));
        }
        {
            let state = state.clone();
            threads.push(std::thread::spawn(move || tcp_loop(&state, &tcp)));
        }
        Fake { state, threads }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.state.addr
    }

    /// Replaces the behaviour (for the queries that arrive from now on).
    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    /// Every query received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Queries received for `name` (any case) and `qtype`, over both transports.
    pub fn count(&self, name: &str, qtype: RType) -> usize {
        let name: Name = name.parse().unwrap();
        self.seen()
            .iter()
            .filter(|s| s.qname == name && s.qtype == qtype)
            .count()
    }

    /// Queries received for `name` or below it, any type.
    pub fn count_under(&self, name: &str) -> usize {
        let name: Name = name.parse().unwrap();
        self.seen()
            .iter()
            .filter(|s| s.qname.as_ref().is_subdomain_of(name.as_ref()))
            .count()
    }

    /// Queries received over `transport`.
    pub fn count_transport(&self, transport: Transport) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.transport == transport)
            .count()
    }

    /// All queries received.
    pub fn total(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// The queries received, one a line, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = format!("queries seen by fake {}:\n", self.state.addr);
        for s in self.seen() {
            out.push_str(&format!(
                "  {} {} {:?} id={} edns={} from {}\n",
                s.qname, s.qtype, s.transport, s.id, s.edns, s.from
            ));
        }
        out
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Serving
// ---------------------------------------------------------------------------------------------

fn udp_loop(
    state: &Arc<State>,
    udp: &Arc<UdpSocket>,
    other_port: &Arc<UdpSocket>,
    other_addrs: &[(Ipv4Addr, Arc<UdpSocket>)],
) {
    let mut buf = [0u8; 4096];
    while !state.stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        let query = buf[..n].to_vec();
        let Some(seen) = record(state, &query, Transport::Udp, from) else {
            continue;
        };
        let behaviour = state.behaviour.lock().unwrap().clone();
        if behaviour.silent {
            continue;
        }
        let mut sends: Vec<(Arc<UdpSocket>, Vec<u8>, Duration)> = Vec::new();
        let forged_matches = behaviour
            .forged
            .iter()
            .any(|r| r.owner == seen.qname && r.rtype == seen.qtype);
        let mut lead = Duration::ZERO;
        if forged_matches && !behaviour.forge.is_empty() {
            for how in &behaviour.forge {
                let mut msg = build_forged(state, &query, &behaviour.forged);
                let socket = match how {
                    Forgery::SourcePort => other_port.clone(),
                    Forgery::SourceAddress(ip) => other_addrs
                        .iter()
                        .find(|(a, _)| a == ip)
                        .map(|(_, s)| s.clone())
                        .unwrap(),
                    Forgery::Id => {
                        let id = u16::from_be_bytes([msg[0], msg[1]]) ^ 0x5a5a;
                        msg[..2].copy_from_slice(&id.to_be_bytes());
                        udp.clone()
                    }
                    Forgery::QuestionCase => {
                        swap_question_case(&mut msg);
                        udp.clone()
                    }
                };
                sends.push((socket, msg, Duration::ZERO));
            }
            lead = behaviour.forge_lead;
        }
        if let Some(reply) = answer(state, &behaviour, &query, Transport::Udp) {
            sends.push((
                udp.clone(),
                reply,
                lead + behaviour.delay.unwrap_or_default(),
            ));
        }
        if sends.iter().all(|(_, _, d)| d.is_zero()) {
            for (s, m, _) in &sends {
                let _ = s.send_to(m, from);
            }
        } else {
            // Delayed answers go out from a thread of their own so that other queries are
            // still read meanwhile.
            std::thread::spawn(move || {
                for (s, m, d) in sends {
                    std::thread::sleep(d);
                    let _ = s.send_to(&m, from);
                }
            });
        }
    }
}

fn tcp_loop(state: &Arc<State>, listener: &TcpListener) {
    let mut conns = Vec::new();
    while !state.stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, from)) => {
                let state = state.clone();
                conns.push(std::thread::spawn(move || tcp_conn(&state, stream, from)));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for c in conns {
        let _ = c.join();
    }
}

fn tcp_conn(state: &Arc<State>, mut stream: TcpStream, from: SocketAddr) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    // At most 64 messages a connection, and the connection ends with the server.
    let mut pending: Vec<u8> = Vec::new();
    let mut handled = 0;
    let mut buf = [0u8; 4096];
    while !state.stop.load(Ordering::Relaxed) && handled < 64 {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue;
            }
            Err(_) => break,
        }
        while pending.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if pending.len() < 2 + len {
                break;
            }
            let query: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
            handled += 1;
            if record(state, &query, Transport::Tcp, from).is_none() {
                continue;
            }
            let behaviour = state.behaviour.lock().unwrap().clone();
            if behaviour.silent {
                continue;
            }
            if let Some(d) = behaviour.delay {
                std::thread::sleep(d);
            }
            if let Some(reply) = answer(state, &behaviour, &query, Transport::Tcp) {
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if stream.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Records a query; `None` when it is not a readable query with a question.
fn record(state: &State, query: &[u8], transport: Transport, from: SocketAddr) -> Option<Seen> {
    let msg = Message::parse(query).ok()?;
    if msg.header().flags.qr() {
        return None;
    }
    let q = msg.question()?;
    let seen = Seen {
        qname: q.qname().ok()?,
        qtype: q.qtype,
        transport,
        id: msg.header().id,
        edns: msg.edns().is_some(),
        from,
    };
    state.seen.lock().unwrap().push(seen.clone());
    Some(seen)
}

/// The sections of an answer.
struct Reply {
    rcode: Rcode,
    aa: bool,
    answer: Vec<Rec>,
    authority: Vec<Rec>,
    additional: Vec<Rec>,
}

impl Default for Reply {
    fn default() -> Reply {
        Reply {
            rcode: Rcode::NOERROR,
            aa: false,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// The authoritative answer from the fake's records (before misbehaviours).
fn lookup(state: &State, qname: &Name, qtype: RType) -> Reply {
    let Some(zone) = state
        .zones
        .iter()
        .filter(|z| qname.as_ref().is_subdomain_of(z.as_ref()))
        .max_by_key(|z| z.as_ref().label_count())
    else {
        return Reply {
            rcode: Rcode::REFUSED,
            ..Reply::default()
        };
    };
    let records = &state.records;
    let soa = || -> Vec<Rec> {
        records
            .iter()
            .filter(|r| r.rtype == RType::SOA && r.owner == *zone)
            .cloned()
            .collect()
    };
    // The topmost zone cut between the apex (excluded) and the name (included).
    let cut = records
        .iter()
        .filter(|r| {
            r.rtype == RType::NS
                && r.owner != *zone
                && r.owner.as_ref().is_subdomain_of(zone.as_ref())
                && qname.as_ref().is_subdomain_of(r.owner.as_ref())
        })
        .min_by_key(|r| r.owner.as_ref().label_count())
        .map(|r| r.owner.clone());
    if let Some(cut) = cut
        && !(qtype == RType::DS && *qname == cut)
    {
        let ns: Vec<Rec> = records
            .iter()
            .filter(|r| r.rtype == RType::NS && r.owner == cut)
            .cloned()
            .collect();
        let glue = glue_for(records, &ns);
        return Reply {
            rcode: Rcode::NOERROR,
            aa: false,
            answer: Vec::new(),
            authority: ns,
            additional: glue,
        };
    }
    let mut reply = Reply {
        rcode: Rcode::NOERROR,
        aa: true,
        ..Reply::default()
    };
    let mut name = qname.clone();
    // Follows CNAMEs inside the fake's own data, a few steps at most.
    for _ in 0..8 {
        let exact: Vec<Rec> = records
            .iter()
            .filter(|r| r.owner == name && (r.rtype == qtype || qtype == RType::ANY))
            .cloned()
            .collect();
        if !exact.is_empty() {
            if qtype == RType::NS {
                reply.additional = glue_for(records, &exact);
            }
            reply.answer.extend(exact);
            return reply;
        }
        let cname = records
            .iter()
            .find(|r| r.owner == name && r.rtype == RType::CNAME)
            .cloned();
        match cname {
            Some(c) => {
                let target = Name::from_wire(&c.rdata).unwrap();
                reply.answer.push(c);
                let inside = state
                    .zones
                    .iter()
                    .any(|z| target.as_ref().is_subdomain_of(z.as_ref()));
                if !inside {
                    return reply;
                }
                name = target;
            }
            None => {
                let exists = records
                    .iter()
                    .any(|r| r.owner.as_ref().is_subdomain_of(name.as_ref()));
                if !exists {
                    reply.rcode = Rcode::NXDOMAIN;
                }
                reply.authority = soa();
                return reply;
            }
        }
    }
    reply
}

/// Addresses the fake holds for the targets of `ns`.
fn glue_for(records: &[Rec], ns: &[Rec]) -> Vec<Rec> {
    let mut glue = Vec::new();
    for n in ns {
        let Ok(target) = Name::from_wire(&n.rdata) else {
            continue;
        };
        glue.extend(
            records
                .iter()
                .filter(|r| r.owner == target && (r.rtype == RType::A || r.rtype == RType::AAAA))
                .cloned(),
        );
    }
    glue
}

/// The reply to `query` under `behaviour`, or `None` for no reply.
fn answer(
    state: &State,
    behaviour: &Behaviour,
    query: &[u8],
    transport: Transport,
) -> Option<Vec<u8>> {
    let msg = Message::parse(query).ok()?;
    let q = msg.question()?;
    let qname = q.qname().ok()?;
    let edns = msg.edns();
    if behaviour.no_edns && edns.is_some() {
        return Some(write(
            &msg,
            &qname,
            behaviour.case,
            &Reply {
                rcode: Rcode::FORMERR,
                ..Reply::default()
            },
            None,
            512,
            false,
        ));
    }
    let mut reply = if behaviour.refuse {
        Reply {
            rcode: Rcode::REFUSED,
            ..Reply::default()
        }
    } else if behaviour.upward_referral {
        Reply {
            authority: vec![rec(". 3600 NS a.root-servers.")],
            ..Reply::default()
        }
    } else if !behaviour.referral.is_empty() {
        Reply {
            authority: behaviour.referral.clone(),
            ..Reply::default()
        }
    } else {
        lookup(state, &qname, q.qtype)
    };
    if !behaviour.refuse {
        reply.answer.extend(behaviour.extra_answer.iter().cloned());
        reply
            .authority
            .extend(behaviour.extra_authority.iter().cloned());
        reply
            .additional
            .extend(behaviour.extra_additional.iter().cloned());
    }
    let payload = edns.map(|e| e.udp_payload.max(512));
    let limit = match transport {
        Transport::Tcp => 65_535,
        Transport::Udp => usize::from(payload.unwrap_or(512)),
    };
    let truncate = transport == Transport::Udp && behaviour.truncate_udp;
    Some(write(
        &msg,
        &qname,
        behaviour.case,
        &reply,
        payload,
        limit,
        truncate,
    ))
}

/// A forged answer to `query`: the right ID and question, the forged records.
fn build_forged(state: &State, query: &[u8], forged: &[Rec]) -> Vec<u8> {
    let _ = state;
    let msg = Message::parse(query).unwrap();
    let q = msg.question().unwrap();
    let qname = q.qname().unwrap();
    let reply = Reply {
        rcode: Rcode::NOERROR,
        aa: true,
        answer: forged
            .iter()
            .filter(|r| r.owner == qname && r.rtype == q.qtype)
            .cloned()
            .collect(),
        // The rest rides along as additional data, trying to get into the cache.
        additional: forged
            .iter()
            .filter(|r| !(r.owner == qname && r.rtype == q.qtype))
            .cloned()
            .collect(),
        ..Reply::default()
    };
    let payload = msg.edns().map(|e| e.udp_payload.max(512));
    write(
        &msg,
        &qname,
        CaseEcho::Exact,
        &reply,
        payload,
        usize::from(payload.unwrap_or(512)),
        false,
    )
}

fn write(
    query: &Message<'_>,
    qname: &Name,
    case: CaseEcho,
    reply: &Reply,
    payload: Option<u16>,
    limit: usize,
    truncate: bool,
) -> Vec<u8> {
    let qh = query.header();
    let q = query.question().unwrap();
    let flags = Flags::default()
        .with_qr(true)
        .with_opcode(qh.flags.opcode())
        .with_rd(qh.flags.rd())
        .with_cd(qh.flags.cd())
        .with_aa(reply.aa)
        .with_rcode(reply.rcode);
    let mut buf = vec![0u8; 65_535];
    let header = Header {
        id: qh.id,
        flags,
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, limit, header).unwrap();
    let echoed = match case {
        CaseEcho::Exact => qname.clone(),
        CaseEcho::Lower => {
            let mut n = qname.clone();
            n.make_lowercase();
            n
        }
        CaseEcho::Swapped => swapped(qname),
    };
    w.push_question(echoed.as_ref(), q.qtype, q.qclass).unwrap();
    if payload.is_some() {
        w.reserve(11).unwrap();
    }
    let mut tc = truncate;
    if !truncate {
        'sections: for (section, records) in [
            (Section::Answer, &reply.answer),
            (Section::Authority, &reply.authority),
            (Section::Additional, &reply.additional),
        ] {
            for r in records {
                if w.push(
                    section,
                    r.owner.as_ref(),
                    r.rtype,
                    Class::IN,
                    r.ttl,
                    &r.rdata,
                )
                .is_err()
                {
                    // Additional data may be left out; anything else sets TC.
                    tc = section != Section::Additional;
                    break 'sections;
                }
            }
        }
    }
    if tc {
        w.set_flags(w.flags().with_tc(true));
    }
    if let Some(p) = payload {
        w.opt(p.min(1232), Rcode::NOERROR, false)
            .unwrap()
            .finish()
            .unwrap();
    }
    w.finish().to_vec()
}

/// `name` with the case of every ASCII letter swapped.
fn swapped(name: &Name) -> Name {
    let wire: Vec<u8> = name
        .as_wire()
        .iter()
        .map(|&b| if b.is_ascii_alphabetic() { b ^ 0x20 } else { b })
        .collect();
    // Length bytes are below 64 and so never letters: the structure is unchanged.
    Name::from_wire(&wire).unwrap()
}

/// Swaps the case of the question name in a message written by [`write`] (uncompressed at 12).
fn swap_question_case(msg: &mut [u8]) {
    let mut pos = 12;
    while pos < msg.len() && msg[pos] != 0 {
        let len = usize::from(msg[pos]);
        for b in &mut msg[pos + 1..pos + 1 + len] {
            if b.is_ascii_alphabetic() {
                *b ^= 0x20;
            }
        }
        pos += 1 + len;
    }
}
