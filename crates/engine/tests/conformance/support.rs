//! Helpers: zones from text, queries built with the wire writer, responses read back with
//! `Message`.

pub use cache::Time;
use engine::{Catalog, Client, Engine, EngineConfig, Outcome, ReplyInfo, Transport};
use wire::message::{Flags, Header, Message, Section};
use wire::writer::MessageWriter;
use wire::{Class, Name, Opcode, RType, Rcode};
use zone::Zone;

/// The main test zone, `example.`: negative TTL 300 (SOA TTL 3600, MINIMUM 300).
pub const EXAMPLE: &str = r#"$TTL 3600
@ SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
@ NS ns1
@ NS ns2
@ MX 10 mail
@ MX 20 mail.other.
ns1 A 192.0.2.1
ns1 AAAA 2001:db8::1
ns2 A 192.0.2.2
mail A 192.0.2.25
www A 192.0.2.80
www AAAA 2001:db8::80
www TXT "hello"
alias CNAME www
chain1 CNAME chain2
chain2 CNAME www
loop1 CNAME loop2
loop2 CNAME loop1
dangling CNAME nowhere
external CNAME www.elsewhere.test.
cross CNAME www.other.
crossnx CNAME nope.other.
*.wild TXT "wildcard"
*.wild MX 10 mail
*.wcname CNAME www
exists.wild A 192.0.2.77
a.b.ent A 192.0.2.9
dname DNAME other.
long DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.cccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.other.
_sip._tcp SRV 0 5 5060 sip
sip A 192.0.2.60
sub NS ns.sub
sub NS ns.sibling
sub DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.sub A 192.0.2.53
ns.sub AAAA 2001:db8::53
sibling NS ns.sibling
ns.sibling A 192.0.2.54
multi HINFO "cpu" "os"
multi TXT "a fairly long text record, longer than the address"
multi A 192.0.2.99
"#;

/// A second zone, `other.`: negative TTL 60 (SOA TTL 60, MINIMUM 600).
pub const OTHER: &str = r#"$TTL 3600
@ 60 SOA ns1.example. hostmaster.example. 7 7200 3600 1209600 600
@ NS ns1.example.
www A 192.0.2.100
mail A 192.0.2.101
"#;

pub fn name(s: &str) -> Name {
    s.parse().unwrap()
}

pub fn zone(origin: &str, text: &str) -> Zone {
    zone::load_str(
        text,
        std::path::Path::new("test.zone"),
        name(origin).as_ref(),
    )
    .unwrap()
    .zone
}

/// An engine serving `example.` and `other.`.
pub fn engine() -> Engine {
    engine_with(EngineConfig::default())
}

pub fn engine_with(config: EngineConfig) -> Engine {
    let zones = vec![zone("example.", EXAMPLE), zone("other.", OTHER)];
    Engine::new(Catalog::new(zones).unwrap(), config).unwrap()
}

/// A query under construction.
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u16,
    pub flags: Flags,
    pub qname: Name,
    pub qtype: RType,
    pub qclass: Class,
    /// (payload, version, DO, options)
    pub edns: Option<(u16, u8, bool, Vec<u8>)>,
}

pub fn query(qname: &str, qtype: RType) -> Query {
    Query {
        id: 0x2a2a,
        flags: Flags::default().with_rd(true),
        qname: name(qname),
        qtype,
        qclass: Class::IN,
        edns: Some((1232, 0, false, Vec::new())),
    }
}

impl Query {
    pub fn class(mut self, c: Class) -> Query {
        self.qclass = c;
        self
    }
    pub fn no_edns(mut self) -> Query {
        self.edns = None;
        self
    }
    pub fn payload(mut self, p: u16) -> Query {
        if let Some(e) = &mut self.edns {
            e.0 = p;
        }
        self
    }
    pub fn version(mut self, v: u8) -> Query {
        if let Some(e) = &mut self.edns {
            e.1 = v;
        }
        self
    }
    pub fn dnssec_ok(mut self) -> Query {
        if let Some(e) = &mut self.edns {
            e.2 = true;
        }
        self
    }
    pub fn option(mut self, code: u16, data: &[u8]) -> Query {
        if let Some(e) = &mut self.edns {
            e.3.extend_from_slice(&code.to_be_bytes());
            e.3.extend_from_slice(&(data.len() as u16).to_be_bytes());
            e.3.extend_from_slice(data);
        }
        self
    }
    pub fn opcode(mut self, op: Opcode) -> Query {
        self.flags = self.flags.with_opcode(op);
        self
    }
    pub fn bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u8; 1024];
        let header = Header {
            id: self.id,
            flags: self.flags,
            ..Header::default()
        };
        let mut w = MessageWriter::new(&mut buf, 1024, header).unwrap();
        w.push_question(self.qname.as_ref(), self.qtype, self.qclass)
            .unwrap();
        if let Some((payload, version, dnssec_ok, options)) = &self.edns {
            w.push(
                Section::Additional,
                wire::NameRef::ROOT,
                RType::OPT,
                Class(*payload),
                (u32::from(*version) << 16) | if *dnssec_ok { 0x8000 } else { 0 },
                options,
            )
            .unwrap();
        }
        w.finish().to_vec()
    }
}

pub fn udp() -> Client {
    Client {
        addr: "192.0.2.200".parse().unwrap(),
        transport: Transport::Udp,
    }
}

pub fn tcp() -> Client {
    Client {
        addr: "192.0.2.200".parse().unwrap(),
        transport: Transport::Tcp,
    }
}

/// A response written by the engine.
#[derive(Debug)]
pub struct Response {
    pub info: ReplyInfo,
    pub bytes: Vec<u8>,
}

/// One record of a response, decompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rr {
    pub owner: String,
    pub rtype: RType,
    pub class: Class,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

impl Response {
    pub fn msg(&self) -> Message<'_> {
        Message::parse(&self.bytes).unwrap()
    }
    pub fn rcode(&self) -> Rcode {
        self.msg().rcode()
    }
    pub fn flags(&self) -> Flags {
        self.msg().header().flags
    }
    pub fn section(&self, s: Section) -> Vec<Rr> {
        self.msg()
            .records(s)
            .map(|r| {
                let mut rdata = Vec::new();
                r.rdata_into(&mut rdata).unwrap();
                Rr {
                    owner: r.owner().unwrap().to_string(),
                    rtype: r.rtype,
                    class: r.class,
                    ttl: r.ttl,
                    rdata,
                }
            })
            .collect()
    }
    pub fn answer(&self) -> Vec<Rr> {
        self.section(Section::Answer)
    }
    pub fn authority(&self) -> Vec<Rr> {
        self.section(Section::Authority)
    }
    /// The additional section without OPT.
    pub fn additional(&self) -> Vec<Rr> {
        self.section(Section::Additional)
            .into_iter()
            .filter(|r| r.rtype != RType::OPT)
            .collect()
    }
    /// Owner and type of each answer record.
    pub fn answer_summary(&self) -> Vec<(String, RType)> {
        self.answer()
            .into_iter()
            .map(|r| (r.owner, r.rtype))
            .collect()
    }
}

/// Sends `q` over `client` with a 65,535-byte buffer; panics unless the outcome is a reply.
pub fn ask_bytes(engine: &Engine, bytes: &[u8], client: Client) -> Response {
    let mut out = vec![0u8; 65_535];
    match engine.respond(bytes, &client, Time::ZERO, &mut out) {
        Outcome::Reply(info) => {
            out.truncate(info.len);
            let response = Response { info, bytes: out };
            // Every reply parses and agrees with what the engine reported.
            let m = response.msg();
            assert_eq!(m.rcode(), info.rcode);
            assert_eq!(m.header().flags.tc(), info.truncated);
            assert!(m.header().flags.qr());
            response
        }
        other => panic!("expected a reply, got {other:?}"),
    }
}

pub fn ask(engine: &Engine, q: &Query, client: Client) -> Response {
    ask_bytes(engine, &q.bytes(), client)
}

pub fn ask_udp(q: &Query) -> Response {
    ask(&engine(), q, udp())
}

/// An IPv4 address as RDATA.
pub fn a(s: &str) -> Vec<u8> {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec()
}
