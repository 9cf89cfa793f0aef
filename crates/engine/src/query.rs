//! The first stage: read the query and decide whether it can be answered at all.
//!
//! `read` checks, in this order, and stops at the first failure with a [`QueryError`]:
//!
//! 1. a readable 12-byte header, else drop (no ID to answer to);
//! 2. QR clear, else drop: it is a response;
//! 3. the whole message framing ([`Message::parse`]: names, record lengths, at most one OPT
//!    record, no trailing bytes), else FORMERR;
//! 4. EDNS (RFC 6891): a well-framed option list, else FORMERR; with cookies on, a COOKIE
//!    option of a valid length (RFC 7873 section 5.2.2), else FORMERR, whose server cookie is
//!    then checked ([`guard::Cookies::check`]); version 0, else BADVERS;
//! 5. opcode QUERY, else NOTIMP;
//! 6. exactly one question, else FORMERR;
//! 7. a QTYPE one may ask for (see [`crate::error`] for the meta types).
//!
//! What it read is kept in a `Request` even on failure, so that the error response can echo
//! the ID, the flags, the question (when one was read) and EDNS (when the OPT record was usable).
//! The question name keeps the case the client sent; lookups ignore case.

use std::net::IpAddr;

use guard::{Cookies, Verdict};
use wire::edns::{Cookie, OptionCode};
use wire::message::{Flags, Header, Message};
use wire::{Class, Name, Opcode, RType};

use crate::engine::Transport;
use crate::error::QueryError;

/// The question of a query.
#[derive(Clone, Debug)]
pub(crate) struct Question {
    /// The name asked for, in the client's case.
    pub qname: Name,
    pub qtype: RType,
    pub qclass: Class,
}

/// What the client said about EDNS (RFC 6891 section 6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientEdns {
    /// The client's UDP payload size, as sent.
    pub payload: u16,
    /// The DO bit (RFC 3225), echoed in the response.
    pub dnssec_ok: bool,
    /// Whether the client asked for our NSID (RFC 5001 section 2.1).
    pub nsid: bool,
    /// The client's cookie and the one we answer with, when cookies are on and it sent one.
    pub cookie: Option<CookieReply>,
    /// Whether the client signalled edns-tcp-keepalive (RFC 7828) over a stream transport;
    /// over UDP the option is ignored (section 3.3.1).
    pub keepalive: bool,
    /// Whether the response is padded: the query was padded (RFC 7830 section 4) and came over
    /// an encrypted transport, where padding hides sizes (RFC 8467).
    pub pad: bool,
}

impl ClientEdns {
    /// Whether the query carried a valid server cookie of ours.
    pub fn valid_cookie(&self) -> bool {
        self.cookie.is_some_and(|c| c.verdict == Verdict::Valid)
    }
}

/// A query's COOKIE option as checked, and the option of the response (RFC 7873 section 5.2):
/// the client cookie echoed, with our server cookie. Kept on the stack, and in a
/// [`crate::RecursionRequest`] until the resolution's answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CookieReply {
    /// The client cookie, echoed.
    pub client: [u8; guard::cookie::CLIENT_COOKIE_LEN],
    /// The server cookie to send.
    pub server: [u8; guard::cookie::SERVER_COOKIE_LEN],
    /// What the query's server cookie was worth.
    pub verdict: Verdict,
}

/// What the read stage needs to check cookies: the secrets, who asked, and when.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CookieCheck<'a> {
    pub cookies: &'a Cookies,
    pub ip: IpAddr,
    /// Unix seconds, modulo 2^32.
    pub now: u32,
}

/// A query as far as it could be read.
#[derive(Clone, Debug)]
pub(crate) struct Request<'q> {
    pub header: Header,
    pub question: Option<Question>,
    pub edns: Option<ClientEdns>,
    pub message: Option<Message<'q>>,
}

impl Request<'_> {
    /// The flags a response starts with: QR set, the opcode, RD and CD copied (RFC 1035 section
    /// 4.1.1; RFC 4035 section 3.1.6 for CD), everything else clear.
    pub fn response_flags(&self) -> Flags {
        let q = self.header.flags;
        Flags::default()
            .with_qr(true)
            .with_opcode(q.opcode())
            .with_rd(q.rd())
            .with_cd(q.cd())
    }
}

/// The outcome of reading a query.
#[derive(Debug)]
pub(crate) enum Read<'q> {
    /// Answer nothing.
    Drop(QueryError),
    /// Answer with the error's response code.
    Reject(Request<'q>, QueryError),
    /// A well-formed query with one question, to route.
    Query(Request<'q>),
}

impl Read<'_> {
    /// Whether the query carried a valid server cookie of ours.
    pub fn valid_cookie(&self) -> bool {
        match self {
            Read::Drop(_) => false,
            Read::Reject(r, _) | Read::Query(r) => r.edns.is_some_and(|e| e.valid_cookie()),
        }
    }
}

/// Reads `bytes`, checking cookies when `cookies` is given; see the [module docs](self).
pub(crate) fn read<'q>(
    bytes: &'q [u8],
    cookies: Option<CookieCheck<'_>>,
    transport: Transport,
) -> Read<'q> {
    let header = match Header::parse(bytes) {
        Ok(h) => h,
        Err(_) => return Read::Drop(QueryError::ShortHeader),
    };
    if header.flags.qr() {
        return Read::Drop(QueryError::Response);
    }
    let mut request = Request {
        header,
        question: None,
        edns: None,
        message: None,
    };
    let message = match Message::parse(bytes) {
        Ok(m) => m,
        Err(e) => return Read::Reject(request, QueryError::Malformed(e)),
    };
    request.message = Some(message);
    if header.qdcount == 1
        && let Some(q) = message.question()
        && let Ok(qname) = q.qname()
    {
        request.question = Some(Question {
            qname,
            qtype: q.qtype,
            qclass: q.qclass,
        });
    }
    if let Some(edns) = message.edns() {
        if edns.validate_options().is_err() {
            return Read::Reject(request, QueryError::BadOptions);
        }
        let mut client_edns = ClientEdns {
            payload: edns.udp_payload,
            dnssec_ok: edns.dnssec_ok(),
            nsid: edns.option(OptionCode::NSID).is_some(),
            cookie: None,
            keepalive: false,
            pad: transport == Transport::Encrypted && edns.option(OptionCode::PADDING).is_some(),
        };
        if transport.is_stream()
            && let Some(data) = edns.option(OptionCode::TCP_KEEPALIVE)
        {
            // A query must not carry a timeout (RFC 7828 section 3.3.1): FORMERR.
            if !data.is_empty() {
                return Read::Reject(request, QueryError::BadOptions);
            }
            client_edns.keepalive = true;
        }
        request.edns = Some(client_edns);
        if let Some(check) = cookies
            && let Some(data) = edns.option(OptionCode::COOKIE)
        {
            let Ok(cookie) = Cookie::parse(data) else {
                return Read::Reject(request, QueryError::BadCookieOption);
            };
            let checked = check
                .cookies
                .check(&cookie.client, cookie.server, check.ip, check.now);
            client_edns.cookie = Some(CookieReply {
                client: cookie.client,
                server: checked.reply,
                verdict: checked.verdict,
            });
            request.edns = Some(client_edns);
        }
        if edns.version != 0 {
            return Read::Reject(request, QueryError::BadVersion(edns.version));
        }
    }
    let opcode = header.flags.opcode();
    if opcode != Opcode::QUERY {
        return Read::Reject(request, QueryError::Opcode(opcode));
    }
    let Some(qtype) = request.question.as_ref().map(|q| q.qtype) else {
        return Read::Reject(request, QueryError::QuestionCount(header.qdcount));
    };
    if let Some(error) = qtype_error(qtype) {
        return Read::Reject(request, error);
    }
    Read::Query(request)
}

/// Query types we refuse to look up (see [`crate::error`] for the reasons).
fn qtype_error(qtype: RType) -> Option<QueryError> {
    match qtype {
        RType::OPT | RType::TSIG => Some(QueryError::QtypeForbidden(qtype)),
        RType::TKEY | RType::MAILA | RType::MAILB => Some(QueryError::QtypeNotImplemented(qtype)),
        RType(128..=248) => Some(QueryError::QtypeNotImplemented(qtype)),
        _ => None,
    }
}
