//! Upstream queries: building them, and accepting only the genuine answer (RFC 5452).
//!
//! A resolver asks authoritative servers over UDP, where anyone can send it a datagram that
//! claims to come from the server. An off-path attacker who wins the race poisons the cache
//! (Kaminsky, 2008). RFC 5452 makes the race long: the answer must match everything the attacker
//! has to guess.
//!
//! - The source address and port it comes from equal the server and port asked.
//! - The ID equals the query's 16 random bits.
//! - The question equals ours, and the query went out from a fresh random source port (the I/O
//!   layer binds one per query: about 16 more bits).
//! - 0x20 (draft-vixie-dnsext-dns0x20): the letters of the question name are sent in random
//!   case; servers echo the question byte for byte, so the answer must carry the same case: one
//!   more bit per letter. Some servers do not echo case; [`accept`] reports that instead of
//!   refusing when asked to, and the infrastructure cache remembers such servers.
//! - DNS cookies (RFC 7873, RFC 9018): the query carries a client cookie, a keyed hash of the
//!   client and server addresses; an answer carrying a cookie must echo ours, and the server's
//!   part is remembered and sent back next time, which lets the server recognise us.
//!
//! Rejected datagrams are dropped and counted ([`Rejection::as_str`] is the metric label); the
//! I/O layer keeps listening until an answer is accepted or the query's deadline passes.
//!
//! Random values come from the caller's CSPRNG ([`rand::Rng`], ChaCha20 seeded from the
//! operating system in production): IDs and case bits must not be predictable from earlier
//! ones.

use std::hash::Hasher;
use std::net::{IpAddr, SocketAddr};

use siphasher::sip::SipHasher24;
use wire::edns::{Cookie, OptionCode};
use wire::message::Header;
use wire::{Class, Flags, Message, MessageWriter, Name, Opcode, RType, Rcode};

/// Largest query written: header, a 255-byte name, type and class, an OPT record with a full
/// cookie (8 + 32 bytes), with room to spare.
const QUERY_BUF: usize = 512;

/// What was sent in one upstream query, kept to check its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The query ID.
    pub id: u16,
    /// The name as sent, in its randomised case.
    pub qname: Name,
    /// The type asked.
    pub qtype: RType,
    /// The class asked.
    pub qclass: Class,
    /// The server (address and port) the query went to.
    pub server: SocketAddr,
    /// Whether recursion was desired (to a forwarder).
    pub rd: bool,
    /// CD (RFC 4035 section 3.2.2): a validating resolver asks its forwarders for data they
    /// have not validated, so that it sees bogus data and says why, rather than a bare
    /// SERVFAIL.
    pub cd: bool,
    /// Whether the query carried an OPT record.
    pub edns: bool,
    /// The DO bit (RFC 3225), meaningful only with `edns`.
    pub dnssec_ok: bool,
    /// The client cookie sent, meaningful only with `edns`.
    pub client_cookie: Option<[u8; 8]>,
}

/// Flips the case of the ASCII letters of `name` by random bits (0x20 encoding). Other bytes and
/// the name's structure are unchanged, so the result equals `name` case-insensitively.
pub fn randomise_case(name: &Name, rng: &mut impl rand::Rng) -> Name {
    let mut wire = [0u8; wire::name::MAX_NAME_LEN];
    let src = name.as_wire();
    let Some(out) = wire.get_mut(..src.len()) else {
        return name.clone();
    };
    out.copy_from_slice(src);
    let mut bits = 0u64;
    let mut left = 0u32;
    let mut pos = 0usize;
    // Walk the labels: a length byte, then that many bytes of label.
    while let Some(&len) = out.get(pos) {
        if len == 0 {
            break;
        }
        let end = (pos + 1 + usize::from(len)).min(out.len());
        for b in &mut out[pos + 1..end] {
            if b.is_ascii_alphabetic() {
                if left == 0 {
                    bits = rng.next_u64();
                    left = 64;
                }
                if bits & 1 == 1 {
                    *b ^= 0x20;
                }
                bits >>= 1;
                left -= 1;
            }
        }
        pos = end;
    }
    Name::from_wire(out).unwrap_or_else(|_| name.clone())
}

/// Writes the query `sent` describes: its ID, RD as asked (CD clear), one question with the name
/// exactly as in `sent` (case included, no compression), and, with `sent.edns`, an OPT record
/// advertising `payload` with DO as asked and, when `sent.client_cookie` is set, a COOKIE
/// option with the client cookie followed by `server_cookie` (when known; 8 to 32 bytes, longer
/// is cut to 32).
pub fn build_query(sent: &Sent, server_cookie: Option<&[u8]>, payload: u16) -> Vec<u8> {
    let mut buf = [0u8; QUERY_BUF];
    match write_query(&mut buf, sent, server_cookie, payload) {
        Ok(len) => buf[..len].to_vec(),
        // Cannot happen: the largest query fits in QUERY_BUF (see the tests).
        Err(_) => Vec::new(),
    }
}

fn write_query(
    buf: &mut [u8],
    sent: &Sent,
    server_cookie: Option<&[u8]>,
    payload: u16,
) -> Result<usize, wire::WriteError> {
    let header = Header {
        id: sent.id,
        flags: Flags(0)
            .with_opcode(Opcode::QUERY)
            .with_rd(sent.rd)
            .with_cd(sent.cd),
        ..Header::default()
    };
    let limit = buf.len();
    let mut w = MessageWriter::new(buf, limit, header)?;
    w.push_question(sent.qname.as_ref(), sent.qtype, sent.qclass)?;
    if sent.edns {
        let mut opt = w.opt(payload, Rcode::NOERROR, sent.dnssec_ok)?;
        if let Some(client) = &sent.client_cookie {
            opt.cookie(client, server_cookie.unwrap_or(&[]))?;
        }
        opt.finish()?;
    }
    Ok(w.finish().len())
}

/// Why a datagram was not taken as the answer to an upstream query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// It came from another address or port than the query went to.
    WrongSource,
    /// Its ID is not the query's.
    WrongId,
    /// QR is clear, or the opcode is not QUERY.
    NotResponse,
    /// Its question is not the one asked (name, type or class), or it has several.
    WrongQuestion,
    /// The question name matches but not in the case sent (0x20 check).
    WrongCase,
    /// It does not parse as a DNS message.
    Malformed,
    /// It carries a cookie whose client part is not ours, or a malformed cookie.
    BadCookie,
}

impl Rejection {
    /// Every reason, in a fixed order (for metric arrays).
    pub const ALL: [Rejection; 7] = [
        Rejection::WrongSource,
        Rejection::WrongId,
        Rejection::NotResponse,
        Rejection::WrongQuestion,
        Rejection::WrongCase,
        Rejection::Malformed,
        Rejection::BadCookie,
    ];

    /// The metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rejection::WrongSource => "wrong_source",
            Rejection::WrongId => "wrong_id",
            Rejection::NotResponse => "not_response",
            Rejection::WrongQuestion => "wrong_question",
            Rejection::WrongCase => "wrong_case",
            Rejection::Malformed => "malformed",
            Rejection::BadCookie => "bad_cookie",
        }
    }

    /// The position of this reason in [`Rejection::ALL`].
    pub fn index(&self) -> usize {
        *self as usize
    }
}

/// An answer taken as genuine.
#[derive(Clone, Debug)]
pub struct Accepted<'a> {
    /// The parsed message.
    pub message: Message<'a>,
    /// The server cookie it carried (8 to 32 bytes), to remember and send next time; `None`
    /// when it carried none (a server that sent one before and stops is the caller's concern:
    /// RFC 7873 section 5.3 lets it retry over TCP).
    pub server_cookie: Option<Vec<u8>>,
    /// Whether the question came back in the exact case sent. `false` only when `check_case`
    /// was off: the caller falls back (and remembers) for servers that do not echo case.
    pub case_echoed: bool,
    /// Whether the question section was present. `false` only for a FORMERR, NOTIMP or
    /// SERVFAIL answer with no question (servers that cannot parse the query, often its EDNS,
    /// answer so): such an answer matched only on source and ID, so it may change how this
    /// server is asked (EDNS off) but carries no data.
    pub question_echoed: bool,
}

/// Checks a datagram `message` received from `from` against the query `sent` (see the module
/// docs). Checks run from the cheapest: source, header (ID, QR, opcode), framing, question,
/// case, cookie. With `check_case` off, a question in another case is accepted with
/// `case_echoed == false`.
pub fn accept<'a>(
    sent: &Sent,
    from: SocketAddr,
    message: &'a [u8],
    check_case: bool,
) -> Result<Accepted<'a>, Rejection> {
    if from != sent.server {
        return Err(Rejection::WrongSource);
    }
    let header = Header::parse(message).map_err(|_| Rejection::Malformed)?;
    if header.id != sent.id {
        return Err(Rejection::WrongId);
    }
    if !header.flags.qr() || header.flags.opcode() != Opcode::QUERY {
        return Err(Rejection::NotResponse);
    }
    let parsed = Message::parse(message).map_err(|_| Rejection::Malformed)?;

    let mut case_echoed = true;
    let question_echoed = header.qdcount != 0;
    if question_echoed {
        if header.qdcount != 1 {
            return Err(Rejection::WrongQuestion);
        }
        let q = parsed.question().ok_or(Rejection::Malformed)?;
        if q.qtype != sent.qtype || q.qclass != sent.qclass {
            return Err(Rejection::WrongQuestion);
        }
        let qname = q.qname().map_err(|_| Rejection::Malformed)?;
        // Names compare case-insensitively; the wire bytes compare the case too.
        if qname != sent.qname {
            return Err(Rejection::WrongQuestion);
        }
        if qname.as_wire() != sent.qname.as_wire() {
            if check_case {
                return Err(Rejection::WrongCase);
            }
            case_echoed = false;
        }
    } else {
        let rcode = parsed.rcode();
        if rcode != Rcode::FORMERR && rcode != Rcode::NOTIMP && rcode != Rcode::SERVFAIL {
            return Err(Rejection::WrongQuestion);
        }
    }

    let mut server_cookie = None;
    if let (true, Some(ours), Some(edns)) = (sent.edns, &sent.client_cookie, parsed.edns())
        && let Some(data) = edns.option(OptionCode::COOKIE)
    {
        let cookie = Cookie::parse(data).map_err(|_| Rejection::BadCookie)?;
        if cookie.client != *ours {
            return Err(Rejection::BadCookie);
        }
        if !cookie.server.is_empty() {
            server_cookie = Some(cookie.server.to_vec());
        }
    }
    Ok(Accepted {
        message: parsed,
        server_cookie,
        case_echoed,
        question_echoed,
    })
}

/// The client cookie for `server` (RFC 7873 section 4.1): SipHash-2-4 keyed with `secret` over
/// the client's address (when known) and the server's address.
///
/// RFC 7873 asks that the client cookie be a pseudorandom function of both addresses and a
/// secret only the client knows, so that servers cannot track the client across networks
/// (appendix A.2 suggests HMAC-SHA256-64; RFC 9018 chose SipHash-2-4 for server cookies, and
/// it is a fine 64-bit PRF with a 128-bit key here too). The secret must come from the CSPRNG;
/// it may change at restart (servers then see a new client and hand out a new server cookie).
/// The client address is `None` when the query leaves from a wildcard socket; the cookie then
/// depends on the server alone, which is no worse for tracking than the source address itself.
pub fn client_cookie(secret: &[u8; 16], client_ip: Option<IpAddr>, server: IpAddr) -> [u8; 8] {
    let mut h = SipHasher24::new_with_key(secret);
    let mut feed = |ip: Option<IpAddr>| match ip {
        None => h.write(&[0]),
        Some(IpAddr::V4(a)) => {
            h.write(&[4]);
            h.write(&a.octets());
        }
        Some(IpAddr::V6(a)) => {
            h.write(&[6]);
            h.write(&a.octets());
        }
    };
    feed(client_ip);
    feed(Some(server));
    h.finish().to_be_bytes()
}

#[cfg(test)]
mod tests;
