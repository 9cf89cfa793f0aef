//! Why a query is not answered from a zone, and the one place that maps each reason to a
//! response code.
//!
//! Every stage before the answer returns a [`QueryError`] when it stops a query; the engine turns
//! it into a response with [`QueryError::rcode`] (or drops the packet when that is `None`). The
//! choices, with the rule behind each:
//!
//! | error | response | why |
//! |---|---|---|
//! | [`ShortHeader`](QueryError::ShortHeader) | dropped | no ID to answer to |
//! | [`Response`](QueryError::Response) | dropped | answering a response invites loops between servers |
//! | [`Malformed`](QueryError::Malformed) | FORMERR | RFC 1035 section 4.1.1; two OPT records too (RFC 6891 section 6.1.1) |
//! | [`BadOptions`](QueryError::BadOptions) | FORMERR | the OPT RDATA is not a well-framed option list (RFC 6891 section 6.1.2) |
//! | [`BadVersion`](QueryError::BadVersion) | BADVERS | RFC 6891 section 6.1.3, with an OPT of version 0 |
//! | [`Opcode`](QueryError::Opcode) | NOTIMP | RFC 1035 section 4.1.1 and RFC 8906 section 3 (unknown opcodes); NOTIFY and UPDATE too, for now |
//! | [`QuestionCount`](QueryError::QuestionCount) | FORMERR | a query has exactly one question (RFC 9619) |
//! | [`QtypeForbidden`](QueryError::QtypeForbidden) | FORMERR | OPT and TSIG are pseudo-records that only travel in the additional section (RFC 6891 section 6.1.1, RFC 8945 section 4.2); asking for them is malformed |
//! | [`QtypeNotImplemented`](QueryError::QtypeNotImplemented) | NOTIMP | MAILA, MAILB (obsolete, RFC 883's mail QTYPEs), TKEY (an exchange we do not implement, RFC 2930) and unassigned meta types 128 to 248 (RFC 6895 section 3.1): kinds of query we do not perform |
//! | [`Class`](QueryError::Class) | REFUSED | we serve class IN only (and CHAOS identity names) |
//! | [`NotAuthoritative`](QueryError::NotAuthoritative) | REFUSED | the name is in none of our zones; an authoritative-only server refuses rather than refer upwards |
//! | [`ChaosHidden`](QueryError::ChaosHidden) | REFUSED | identity not configured, or an unknown CHAOS name |
//! | [`TransferOverUdp`](QueryError::TransferOverUdp) | REFUSED | AXFR over UDP is not defined (RFC 5936 section 4.2); the query is well formed, so not FORMERR: we decline it |
//! | [`TransferDenied`](QueryError::TransferDenied) | REFUSED | the client is not in the transfer ACL (RFC 5936 section 2.2.1) |
//! | [`TransferNotZone`](QueryError::TransferNotZone) | NOTAUTH | the name is not the apex of a zone we serve (RFC 5936 section 2.2.1) |
//! | [`OutputTooSmall`](QueryError::OutputTooSmall) | dropped | the caller's buffer cannot hold a response (a transport bug, not the client's) |
//! | [`RecursionDenied`](QueryError::RecursionDenied) | REFUSED, EDE 18 "Prohibited" | recursion is on but not offered to this client (not in `resolver.allow_recursion`), and the name is in no zone we serve; Unbound refuses too (`access-control` refuse) |
//! | [`NotCached`](QueryError::NotCached) | REFUSED, EDE 0 | RD clear, and neither the answer nor a delegation is cached: we only resolve when asked to (RFC 1034 section 4.3.1) |
//! | [`ResolverBusy`](QueryError::ResolverBusy) | SERVFAIL, EDE 0 "resolver busy" | the resolver's queue is full; the client may retry (RFC 8914 section 4.1) |
//! | [`BadCookieOption`](QueryError::BadCookieOption) | FORMERR | a COOKIE option whose length is not 8 (a client cookie) or 16 to 40 (with a server cookie) (RFC 7873 section 5.2.2) |
//! | [`BadCookie`](QueryError::BadCookie) | BADCOOKIE (23), with a fresh server cookie | cookies are required (`cookies.require`) and a UDP query carried a client cookie without a valid server cookie (RFC 7873 section 5.2.3); the client retries with the cookie it was given |
//! | [`QueryRefused`](QueryError::QueryRefused) | REFUSED, EDE 18 "Prohibited" | the query ACL (`[acl] query`, or the listener's) refuses the client (RFC 8914 section 4.19) |
//! | [`AclDrop`](QueryError::AclDrop) | dropped | an ACL (query, recursion or transfer) drops the client: nothing to reflect |
//! | [`PolicyDrop`](QueryError::PolicyDrop) | dropped | a response policy (RPZ `rpz-drop.`) says to answer nothing |
//!
//! [`QueryError::acl`] says which of these are an ACL's doing (with `RecursionDenied` and
//! `TransferDenied`), so that the transports can report them as security events.

use core::fmt;

use guard::AclAction;
use wire::{Class, Opcode, ParseError, RType, Rcode};

/// Which access-control list acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclPurpose {
    /// Who may query at all.
    Query,
    /// Who is offered recursion.
    Recursion,
    /// Who may transfer zones.
    Transfer,
}

impl AclPurpose {
    /// `query`, `recursion` or `transfer`.
    pub fn name(self) -> &'static str {
        match self {
            AclPurpose::Query => "query",
            AclPurpose::Recursion => "recursion",
            AclPurpose::Transfer => "transfer",
        }
    }

    /// The reason named in security events: `acl query`, `acl recursion`, `acl transfer`.
    pub fn reason(self) -> &'static str {
        match self {
            AclPurpose::Query => "acl query",
            AclPurpose::Recursion => "acl recursion",
            AclPurpose::Transfer => "acl transfer",
        }
    }
}

/// Why a query stops before the answer stage; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// Shorter than a header.
    ShortHeader,
    /// The QR bit is set: this is a response.
    Response,
    /// The message framing is broken.
    Malformed(ParseError),
    /// The EDNS option list is malformed.
    BadOptions,
    /// An EDNS version we do not implement.
    BadVersion(u8),
    /// An opcode other than QUERY.
    Opcode(Opcode),
    /// Not exactly one question.
    QuestionCount(u16),
    /// A type that may not be asked for.
    QtypeForbidden(RType),
    /// A query type we do not implement.
    QtypeNotImplemented(RType),
    /// A class we do not serve.
    Class(Class),
    /// The name is in none of our zones.
    NotAuthoritative,
    /// A CHAOS name we do not answer.
    ChaosHidden,
    /// AXFR over UDP.
    TransferOverUdp,
    /// The client may not transfer zones.
    TransferDenied,
    /// A transfer of a name that is not one of our zone apexes.
    TransferNotZone,
    /// The caller's output buffer cannot hold even the response header and question.
    OutputTooSmall,
    /// Recursion is not offered to this client.
    RecursionDenied,
    /// RD is clear and the cache has nothing to say.
    NotCached,
    /// The resolver cannot take more questions now.
    ResolverBusy,
    /// A COOKIE option of a length RFC 7873 does not allow.
    BadCookieOption,
    /// Cookies are required and the query's server cookie is missing or invalid.
    BadCookie,
    /// The query ACL refuses the client.
    QueryRefused,
    /// An ACL drops the client.
    AclDrop(AclPurpose),
    /// A response policy drops the query (RPZ DROP action).
    PolicyDrop,
}

impl QueryError {
    /// The response code to answer with; `None` means drop the packet.
    pub fn rcode(self) -> Option<Rcode> {
        Some(match self {
            QueryError::ShortHeader
            | QueryError::Response
            | QueryError::OutputTooSmall
            | QueryError::AclDrop(_)
            | QueryError::PolicyDrop => {
                return None;
            }
            QueryError::Malformed(_)
            | QueryError::BadOptions
            | QueryError::QuestionCount(_)
            | QueryError::QtypeForbidden(_)
            | QueryError::BadCookieOption => Rcode::FORMERR,
            QueryError::BadCookie => Rcode::BADCOOKIE,
            QueryError::BadVersion(_) => Rcode::BADVERS,
            QueryError::Opcode(_) | QueryError::QtypeNotImplemented(_) => Rcode::NOTIMP,
            QueryError::Class(_)
            | QueryError::NotAuthoritative
            | QueryError::ChaosHidden
            | QueryError::TransferOverUdp
            | QueryError::TransferDenied
            | QueryError::RecursionDenied
            | QueryError::QueryRefused
            | QueryError::NotCached => Rcode::REFUSED,
            QueryError::ResolverBusy => Rcode::SERVFAIL,
            QueryError::TransferNotZone => Rcode::NOTAUTH,
        })
    }

    /// The Extended DNS Error (RFC 8914) sent with the response: INFO-CODE and text.
    pub fn extended_error(self) -> Option<(u16, &'static str)> {
        match self {
            QueryError::RecursionDenied => Some((18, "recursion not offered to this client")),
            QueryError::QueryRefused => Some((18, "refused by access control")),
            QueryError::NotCached => Some((0, "not in the cache; set RD to resolve")),
            QueryError::ResolverBusy => Some((0, "resolver busy")),
            _ => None,
        }
    }

    /// The ACL that stopped the query and what it did, when an ACL did.
    pub fn acl(self) -> Option<(AclAction, AclPurpose)> {
        match self {
            QueryError::QueryRefused => Some((AclAction::Refuse, AclPurpose::Query)),
            QueryError::RecursionDenied => Some((AclAction::Refuse, AclPurpose::Recursion)),
            QueryError::TransferDenied => Some((AclAction::Refuse, AclPurpose::Transfer)),
            QueryError::AclDrop(purpose) => Some((AclAction::Drop, purpose)),
            _ => None,
        }
    }

    /// Whether the response may repeat the question: only when it was read and is one.
    pub(crate) fn keeps_question(self) -> bool {
        !matches!(
            self,
            QueryError::ShortHeader
                | QueryError::Response
                | QueryError::Malformed(_)
                | QueryError::QuestionCount(_)
                | QueryError::OutputTooSmall
        )
    }

    /// Whether the response may carry an OPT record: not when the query's OPT is unusable
    /// (RFC 6891 section 7).
    pub(crate) fn keeps_opt(self) -> bool {
        !matches!(
            self,
            QueryError::ShortHeader
                | QueryError::Response
                | QueryError::Malformed(_)
                | QueryError::BadOptions
                | QueryError::OutputTooSmall
        )
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryError::ShortHeader => f.write_str("shorter than a DNS header"),
            QueryError::Response => f.write_str("a response, not a query"),
            QueryError::Malformed(e) => write!(f, "malformed message: {e}"),
            QueryError::BadOptions => f.write_str("malformed EDNS options"),
            QueryError::BadVersion(v) => write!(f, "EDNS version {v} not implemented"),
            QueryError::Opcode(op) => write!(f, "opcode {} not implemented", op.0),
            QueryError::QuestionCount(n) => write!(f, "{n} questions"),
            QueryError::QtypeForbidden(t) => write!(f, "type {t} may not be queried"),
            QueryError::QtypeNotImplemented(t) => write!(f, "query type {t} not implemented"),
            QueryError::Class(c) => write!(f, "class {c} not served"),
            QueryError::NotAuthoritative => f.write_str("not authoritative for the name"),
            QueryError::ChaosHidden => f.write_str("CHAOS name not answered"),
            QueryError::TransferOverUdp => f.write_str("zone transfer over UDP"),
            QueryError::TransferDenied => f.write_str("zone transfer not allowed"),
            QueryError::TransferNotZone => f.write_str("zone transfer of a name that is no zone"),
            QueryError::PolicyDrop => f.write_str("dropped by a response policy"),
            QueryError::OutputTooSmall => f.write_str("output buffer too small for a response"),
            QueryError::RecursionDenied => f.write_str("recursion not offered to this client"),
            QueryError::NotCached => f.write_str("not in the cache and RD clear"),
            QueryError::ResolverBusy => f.write_str("resolver busy"),
            QueryError::BadCookieOption => f.write_str("malformed COOKIE option"),
            QueryError::BadCookie => f.write_str("no valid server cookie"),
            QueryError::QueryRefused => f.write_str("refused by the query ACL"),
            QueryError::AclDrop(p) => write!(f, "dropped by the {} ACL", p.name()),
        }
    }
}

impl std::error::Error for QueryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mapping() {
        assert_eq!(QueryError::Response.rcode(), None);
        assert_eq!(
            QueryError::Malformed(ParseError::Truncated).rcode(),
            Some(Rcode::FORMERR)
        );
        assert_eq!(QueryError::BadVersion(1).rcode(), Some(Rcode::BADVERS));
        assert_eq!(
            QueryError::Opcode(Opcode::NOTIFY).rcode(),
            Some(Rcode::NOTIMP)
        );
        assert_eq!(QueryError::TransferNotZone.rcode(), Some(Rcode::NOTAUTH));
        assert_eq!(QueryError::Class(Class::HS).rcode(), Some(Rcode::REFUSED));
        assert!(!QueryError::BadOptions.keeps_opt());
        assert!(QueryError::BadOptions.keeps_question());
        assert_eq!(QueryError::BadCookieOption.rcode(), Some(Rcode::FORMERR));
        assert!(QueryError::BadCookieOption.keeps_opt());
        assert_eq!(QueryError::BadCookie.rcode(), Some(Rcode::BADCOOKIE));
        assert!(QueryError::BadCookie.keeps_opt() && QueryError::BadCookie.keeps_question());
        assert_eq!(QueryError::QueryRefused.rcode(), Some(Rcode::REFUSED));
        assert_eq!(QueryError::AclDrop(AclPurpose::Query).rcode(), None);
        assert_eq!(
            QueryError::RecursionDenied.acl(),
            Some((AclAction::Refuse, AclPurpose::Recursion))
        );
        assert_eq!(QueryError::NotCached.acl(), None);
    }
}
