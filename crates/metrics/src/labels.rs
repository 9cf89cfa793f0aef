//! The fixed label sets. Every label is a small enum, so a counter is an array slot found by
//! `as usize`, and a series exists (at zero) from the start rather than appearing on first use.

/// The transport a query arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// DNS over UDP (RFC 1035 section 4.2.1).
    Udp,
    /// DNS over TCP (RFC 7766).
    Tcp,
    /// DNS over TLS (RFC 7858).
    Dot,
    /// DNS over HTTPS (RFC 8484).
    Doh,
    /// DNS over QUIC (RFC 9250).
    Doq,
}

impl Transport {
    /// Number of transports.
    pub const COUNT: usize = 5;
    /// All transports, in label order.
    pub const ALL: [Transport; Transport::COUNT] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Dot,
        Transport::Doh,
        Transport::Doq,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Dot => "dot",
            Transport::Doh => "doh",
            Transport::Doq => "doq",
        }
    }
}

/// Which part of the server produced a response: the `source` label of the latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// An authoritative zone (the server's own, or a local zone such as `resolver.arpa.`).
    Zone,
    /// The resolver's cache, with fresh data.
    Cache,
    /// The resolver's cache, with expired data (serve-stale, RFC 8767).
    Stale,
    /// A resolution that went upstream (iteration or forwarding).
    Recursion,
    /// Answered by the server itself: a CHAOS identity name, an IXFR over UDP.
    Local,
    /// A blocklist or response policy zone.
    Policy,
    /// The tunnelling detector enforcing a verdict.
    Detection,
    /// An error answer: a stage refused the query, or the answer could not be written.
    Error,
}

impl Source {
    /// Number of sources.
    pub const COUNT: usize = 8;
    /// All sources, in label order.
    pub const ALL: [Source; Source::COUNT] = [
        Source::Zone,
        Source::Cache,
        Source::Stale,
        Source::Recursion,
        Source::Local,
        Source::Policy,
        Source::Detection,
        Source::Error,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Source::Zone => "zone",
            Source::Cache => "cache",
            Source::Stale => "stale",
            Source::Recursion => "recursion",
            Source::Local => "local",
            Source::Policy => "policy",
            Source::Detection => "detection",
            Source::Error => "error",
        }
    }
}

/// The query type, folded to the common ones; every other type counts as [`QType::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QType {
    /// A (1).
    A,
    /// AAAA (28).
    Aaaa,
    /// CNAME (5).
    Cname,
    /// MX (15).
    Mx,
    /// NS (2).
    Ns,
    /// PTR (12).
    Ptr,
    /// SOA (6).
    Soa,
    /// SRV (33).
    Srv,
    /// TXT (16).
    Txt,
    /// DS (43).
    Ds,
    /// DNSKEY (48).
    Dnskey,
    /// HTTPS (65).
    Https,
    /// SVCB (64).
    Svcb,
    /// CAA (257).
    Caa,
    /// ANY (255).
    Any,
    /// AXFR (252).
    Axfr,
    /// IXFR (251).
    Ixfr,
    /// Any other type.
    Other,
}

impl QType {
    /// Number of query-type labels.
    pub const COUNT: usize = 18;
    /// All query-type labels, in label order.
    pub const ALL: [QType; QType::COUNT] = [
        QType::A,
        QType::Aaaa,
        QType::Cname,
        QType::Mx,
        QType::Ns,
        QType::Ptr,
        QType::Soa,
        QType::Srv,
        QType::Txt,
        QType::Ds,
        QType::Dnskey,
        QType::Https,
        QType::Svcb,
        QType::Caa,
        QType::Any,
        QType::Axfr,
        QType::Ixfr,
        QType::Other,
    ];

    /// The label for the type with this code.
    pub fn from_code(code: u16) -> QType {
        match code {
            1 => QType::A,
            28 => QType::Aaaa,
            5 => QType::Cname,
            15 => QType::Mx,
            2 => QType::Ns,
            12 => QType::Ptr,
            6 => QType::Soa,
            33 => QType::Srv,
            16 => QType::Txt,
            43 => QType::Ds,
            48 => QType::Dnskey,
            65 => QType::Https,
            64 => QType::Svcb,
            257 => QType::Caa,
            255 => QType::Any,
            252 => QType::Axfr,
            251 => QType::Ixfr,
            _ => QType::Other,
        }
    }

    /// The label value: the type's mnemonic, or `other`.
    pub fn label(self) -> &'static str {
        match self {
            QType::A => "A",
            QType::Aaaa => "AAAA",
            QType::Cname => "CNAME",
            QType::Mx => "MX",
            QType::Ns => "NS",
            QType::Ptr => "PTR",
            QType::Soa => "SOA",
            QType::Srv => "SRV",
            QType::Txt => "TXT",
            QType::Ds => "DS",
            QType::Dnskey => "DNSKEY",
            QType::Https => "HTTPS",
            QType::Svcb => "SVCB",
            QType::Caa => "CAA",
            QType::Any => "ANY",
            QType::Axfr => "AXFR",
            QType::Ixfr => "IXFR",
            QType::Other => "other",
        }
    }
}

/// The response code, folded to the common ones; every other code counts as [`Rcode::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rcode {
    /// NOERROR (0).
    NoError,
    /// FORMERR (1).
    FormErr,
    /// SERVFAIL (2).
    ServFail,
    /// NXDOMAIN (3).
    NxDomain,
    /// NOTIMP (4).
    NotImp,
    /// REFUSED (5).
    Refused,
    /// BADVERS (16, an extended RCODE carried in OPT, RFC 6891 section 6.1.3).
    BadVers,
    /// Any other code.
    Other,
}

impl Rcode {
    /// Number of response-code labels.
    pub const COUNT: usize = 8;
    /// All response-code labels, in label order.
    pub const ALL: [Rcode; Rcode::COUNT] = [
        Rcode::NoError,
        Rcode::FormErr,
        Rcode::ServFail,
        Rcode::NxDomain,
        Rcode::NotImp,
        Rcode::Refused,
        Rcode::BadVers,
        Rcode::Other,
    ];

    /// The label for the (extended, 12-bit) response code `code`.
    pub fn from_code(code: u16) -> Rcode {
        match code {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            16 => Rcode::BadVers,
            _ => Rcode::Other,
        }
    }

    /// The label value: the code's mnemonic, or `other`.
    pub fn label(self) -> &'static str {
        match self {
            Rcode::NoError => "NOERROR",
            Rcode::FormErr => "FORMERR",
            Rcode::ServFail => "SERVFAIL",
            Rcode::NxDomain => "NXDOMAIN",
            Rcode::NotImp => "NOTIMP",
            Rcode::Refused => "REFUSED",
            Rcode::BadVers => "BADVERS",
            Rcode::Other => "other",
        }
    }
}

/// Why a query was dropped without any response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The source is not allowed by an access-control list.
    Acl,
    /// The source went over its rate limit.
    RateLimit,
    /// A policy (blocklist, response policy zone, tunnelling score) said drop.
    Policy,
    /// The server was overloaded: a queue or buffer was full.
    Overload,
}

impl DropReason {
    /// Number of drop reasons.
    pub const COUNT: usize = 4;
    /// All drop reasons, in label order.
    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Acl,
        DropReason::RateLimit,
        DropReason::Policy,
        DropReason::Overload,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::Acl => "acl",
            DropReason::RateLimit => "rate_limit",
            DropReason::Policy => "policy",
            DropReason::Overload => "overload",
        }
    }
}

/// What response rate limiting did with a response over its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateLimited {
    /// Not sent.
    Drop,
    /// Sent truncated (TC set, no records), so a real client retries over TCP.
    Slip,
    /// Sent anyway: `log_only` is set, and this counts what would have been limited.
    LogOnly,
}

impl RateLimited {
    /// Number of decisions.
    pub const COUNT: usize = 3;
    /// All decisions, in label order.
    pub const ALL: [RateLimited; RateLimited::COUNT] =
        [RateLimited::Drop, RateLimited::Slip, RateLimited::LogOnly];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RateLimited::Drop => "drop",
            RateLimited::Slip => "slip",
            RateLimited::LogOnly => "log_only",
        }
    }
}

/// What client limits (`[limits]`) did with a query, before it was answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientLimited {
    /// Its prefix was blocked by a dynamic block: not answered.
    BlockDrop,
    /// Its prefix was blocked: answered truncated (TC set, no records).
    BlockTruncate,
    /// Its prefix was blocked: answered REFUSED.
    BlockRefuse,
    /// Over the prefix's query rate: not answered.
    RateDrop,
    /// Over the prefix's query rate: answered REFUSED.
    RateRefuse,
}

impl ClientLimited {
    /// Number of actions.
    pub const COUNT: usize = 5;
    /// All actions, in label order.
    pub const ALL: [ClientLimited; ClientLimited::COUNT] = [
        ClientLimited::BlockDrop,
        ClientLimited::BlockTruncate,
        ClientLimited::BlockRefuse,
        ClientLimited::RateDrop,
        ClientLimited::RateRefuse,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ClientLimited::BlockDrop => "block_drop",
            ClientLimited::BlockTruncate => "block_truncate",
            ClientLimited::BlockRefuse => "block_refuse",
            ClientLimited::RateDrop => "rate_drop",
            ClientLimited::RateRefuse => "rate_refuse",
        }
    }
}

/// Why a connection (TCP, DoT, DoH or DoQ) was refused at accept time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpReject {
    /// The server-wide connection limit was reached.
    TotalLimit,
    /// The per-client connection limit was reached.
    ClientLimit,
    /// The source is not allowed by an access-control list.
    Acl,
    /// A TLS (DoT, DoH) or QUIC (DoQ) handshake failed or did not finish in time.
    TlsHandshake,
}

impl TcpReject {
    /// Number of rejection reasons.
    pub const COUNT: usize = 4;
    /// All rejection reasons, in label order.
    pub const ALL: [TcpReject; TcpReject::COUNT] = [
        TcpReject::TotalLimit,
        TcpReject::ClientLimit,
        TcpReject::Acl,
        TcpReject::TlsHandshake,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            TcpReject::TotalLimit => "total_limit",
            TcpReject::ClientLimit => "client_limit",
            TcpReject::Acl => "acl",
            TcpReject::TlsHandshake => "tls_handshake",
        }
    }
}

/// How a configuration or zone reload ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// The new state was built and swapped in.
    Success,
    /// The new state was refused; the old one is still served.
    Failure,
}

impl ReloadResult {
    /// Number of results.
    pub const COUNT: usize = 2;
    /// Both results, in label order.
    pub const ALL: [ReloadResult; ReloadResult::COUNT] =
        [ReloadResult::Success, ReloadResult::Failure];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ReloadResult::Success => "success",
            ReloadResult::Failure => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_are_in_discriminant_order() {
        for (i, t) in Transport::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i);
        }
        for (i, s) in Source::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        for (i, q) in QType::ALL.iter().enumerate() {
            assert_eq!(*q as usize, i);
        }
        for (i, r) in Rcode::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        for (i, d) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for (i, d) in RateLimited::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for (i, d) in ClientLimited::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for (i, d) in TcpReject::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
        for (i, d) in ReloadResult::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i);
        }
    }

    #[test]
    fn codes_map_to_labels() {
        assert_eq!(QType::from_code(1), QType::A);
        assert_eq!(QType::from_code(28), QType::Aaaa);
        assert_eq!(QType::from_code(257), QType::Caa);
        assert_eq!(QType::from_code(99), QType::Other);
        assert_eq!(Rcode::from_code(3), Rcode::NxDomain);
        assert_eq!(Rcode::from_code(16), Rcode::BadVers);
        assert_eq!(Rcode::from_code(9), Rcode::Other);
        // Every named type round-trips through its code.
        for q in QType::ALL {
            if q == QType::Other {
                continue;
            }
            let code = (0..=u16::MAX).find(|&c| QType::from_code(c) == q);
            assert!(code.is_some(), "{q:?}");
        }
    }
}
