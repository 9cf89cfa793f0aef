//! The numbers DNS gives names to: record types, classes, opcodes and response codes
//! (IANA "Domain Name System (DNS) Parameters").
//!
//! Each is a newtype over its wire integer, so an unknown value is still a valid value: a type
//! this crate has no mnemonic for is written `TYPE65280` (RFC 3597 section 5), a class `CLASS4`.

use core::fmt;

/// A resource record type (RFC 1035 section 3.2.2 and later registrations).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RType(pub u16);

/// Mnemonics of the record types this crate knows by name.
const RTYPE_NAMES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (21, "RT"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (33, "SRV"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (39, "DNAME"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (99, "SPF"),
    (108, "EUI48"),
    (109, "EUI64"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
];

macro_rules! rtype_consts {
    ($($name:ident = $v:expr),* $(,)?) => {
        impl RType {
            $(
                #[allow(missing_docs)]
                pub const $name: RType = RType($v);
            )*
        }
    };
}

rtype_consts! {
    A = 1, NS = 2, MD = 3, MF = 4, CNAME = 5, SOA = 6, MB = 7, MG = 8, MR = 9, NULL = 10,
    WKS = 11, PTR = 12, HINFO = 13, MINFO = 14, MX = 15, TXT = 16, RP = 17, AFSDB = 18, RT = 21,
    SIG = 24, KEY = 25, PX = 26, AAAA = 28, LOC = 29, NXT = 30, SRV = 33, NAPTR = 35, KX = 36,
    CERT = 37, DNAME = 39, OPT = 41, APL = 42, DS = 43, SSHFP = 44, IPSECKEY = 45, RRSIG = 46,
    NSEC = 47, DNSKEY = 48, DHCID = 49, NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52, SMIMEA = 53,
    HIP = 55, CDS = 59, CDNSKEY = 60, OPENPGPKEY = 61, CSYNC = 62, ZONEMD = 63, SVCB = 64,
    HTTPS = 65, SPF = 99, EUI48 = 108, EUI64 = 109, TKEY = 249, TSIG = 250, IXFR = 251,
    AXFR = 252, MAILB = 253, MAILA = 254, ANY = 255, URI = 256, CAA = 257,
}

impl RType {
    /// The mnemonic, when this crate knows one.
    pub fn mnemonic(self) -> Option<&'static str> {
        RTYPE_NAMES
            .iter()
            .find(|(v, _)| *v == self.0)
            .map(|(_, s)| *s)
    }

    /// Parses a mnemonic (any case) or the generic `TYPEnnn` form (RFC 3597 section 5).
    pub fn from_text(text: &[u8]) -> Option<RType> {
        if let Some(&(v, _)) = RTYPE_NAMES
            .iter()
            .find(|(_, s)| s.as_bytes().eq_ignore_ascii_case(text))
        {
            return Some(RType(v));
        }
        generic_number(text, b"TYPE").map(RType)
    }

    /// Query-only types (RFC 6895 section 3.1: meta and question types) never stored in a zone.
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255)
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(s) => f.write_str(s),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl fmt::Debug for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses `PREFIXnnn` (prefix compared without case) with nnn a decimal u16.
fn generic_number(text: &[u8], prefix: &[u8]) -> Option<u16> {
    if text.len() <= prefix.len() || !text[..prefix.len()].eq_ignore_ascii_case(prefix) {
        return None;
    }
    let digits = &text[prefix.len()..];
    if digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(digits).ok()?.parse().ok()
}

/// A record class (RFC 1035 section 3.2.4).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Class(pub u16);

impl Class {
    /// The Internet.
    pub const IN: Class = Class(1);
    /// CHAOS, used for server identification (`version.bind`).
    pub const CH: Class = Class(3);
    /// Hesiod.
    pub const HS: Class = Class(4);
    /// NONE (RFC 2136).
    pub const NONE: Class = Class(254);
    /// ANY, in questions.
    pub const ANY: Class = Class(255);

    /// Parses a mnemonic (any case) or the generic `CLASSnnn` form.
    pub fn from_text(text: &[u8]) -> Option<Class> {
        let known = [
            (b"IN".as_slice(), 1),
            (b"CH", 3),
            (b"CS", 2),
            (b"HS", 4),
            (b"NONE", 254),
            (b"ANY", 255),
        ];
        if let Some(&(_, v)) = known.iter().find(|(s, _)| s.eq_ignore_ascii_case(text)) {
            return Some(Class(v));
        }
        generic_number(text, b"CLASS").map(Class)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("IN"),
            2 => f.write_str("CS"),
            3 => f.write_str("CH"),
            4 => f.write_str("HS"),
            254 => f.write_str("NONE"),
            255 => f.write_str("ANY"),
            v => write!(f, "CLASS{v}"),
        }
    }
}

impl fmt::Debug for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A header opcode (4 bits, RFC 1035 section 4.1.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Opcode = Opcode(0);
    /// An inverse query (obsolete, RFC 3425).
    pub const IQUERY: Opcode = Opcode(1);
    /// A server status request.
    pub const STATUS: Opcode = Opcode(2);
    /// A zone change notification (RFC 1996).
    pub const NOTIFY: Opcode = Opcode(4);
    /// A dynamic update (RFC 2136).
    pub const UPDATE: Opcode = Opcode(5);
}

/// A response code: 4 bits in the header, extended to 12 bits by EDNS (RFC 6891 section 6.1.3).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Rcode(pub u16);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// The query could not be interpreted.
    pub const FORMERR: Rcode = Rcode(1);
    /// The server failed.
    pub const SERVFAIL: Rcode = Rcode(2);
    /// The name does not exist.
    pub const NXDOMAIN: Rcode = Rcode(3);
    /// Not implemented.
    pub const NOTIMP: Rcode = Rcode(4);
    /// Refused by policy.
    pub const REFUSED: Rcode = Rcode(5);
    /// Not authoritative (RFC 2136).
    pub const NOTAUTH: Rcode = Rcode(9);
    /// Unsupported EDNS version (RFC 6891).
    pub const BADVERS: Rcode = Rcode(16);
    /// Bad or missing server cookie (RFC 7873).
    pub const BADCOOKIE: Rcode = Rcode(23);

    /// The low 4 bits, carried in the header.
    pub fn header_bits(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// The high 8 bits, carried in the OPT record's TTL field.
    pub fn extended_bits(self) -> u8 {
        (self.0 >> 4) as u8
    }

    /// The mnemonic used by dig and in logs.
    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            16 => "BADVERS",
            23 => "BADCOOKIE",
            _ => return None,
        })
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(s) => f.write_str(s),
            None => write!(f, "RCODE{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtype_text() {
        assert_eq!(RType::from_text(b"aaaa"), Some(RType::AAAA));
        assert_eq!(RType::from_text(b"TYPE65280"), Some(RType(65280)));
        assert_eq!(RType::from_text(b"type1"), Some(RType::A));
        assert_eq!(RType::from_text(b"TYPE65536"), None);
        assert_eq!(RType::from_text(b"TYPE"), None);
        assert_eq!(RType::from_text(b"BOGUS"), None);
        assert_eq!(RType(65280).to_string(), "TYPE65280");
        assert_eq!(RType::HTTPS.to_string(), "HTTPS");
        for &(v, s) in RTYPE_NAMES {
            assert_eq!(RType::from_text(s.as_bytes()), Some(RType(v)));
        }
    }

    #[test]
    fn class_text() {
        assert_eq!(Class::from_text(b"in"), Some(Class::IN));
        assert_eq!(Class::from_text(b"CLASS3"), Some(Class::CH));
        assert_eq!(Class(42).to_string(), "CLASS42");
    }

    #[test]
    fn rcode_split() {
        assert_eq!(Rcode::BADVERS.header_bits(), 0);
        assert_eq!(Rcode::BADVERS.extended_bits(), 1);
        assert_eq!(Rcode::BADCOOKIE.header_bits(), 7);
    }
}
