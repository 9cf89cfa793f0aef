//! EDNS(0) (RFC 6891): the OPT pseudo-record and its options.
//!
//! The OPT record sits in the additional section, owned by the root. Its CLASS field carries the
//! sender's UDP payload size, its TTL field the upper 8 bits of the response code, the EDNS
//! version and the flags (DO, RFC 3225), and its RDATA a list of options, each a code, a length
//! and bytes. [`Edns`] reads them in place; options stay bytes, with small parsers for the ones
//! the server acts on: cookies (RFC 7873), Extended DNS Errors (RFC 8914), NSID (RFC 5001),
//! padding (RFC 7830), TCP keepalive (RFC 7828) and client subnet (RFC 7871). Writing OPT is done
//! by [`crate::writer::OptWriter`].

use core::fmt;

use crate::message::Record;

/// The DO bit in the OPT flags: the client wants DNSSEC records (RFC 3225).
pub const FLAG_DO: u16 = 0x8000;

/// An EDNS option code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionCode(pub u16);

impl OptionCode {
    /// Name server identifier (RFC 5001).
    pub const NSID: OptionCode = OptionCode(3);
    /// Client subnet (RFC 7871).
    pub const CLIENT_SUBNET: OptionCode = OptionCode(8);
    /// Zone expire (RFC 7314).
    pub const EXPIRE: OptionCode = OptionCode(9);
    /// DNS cookie (RFC 7873).
    pub const COOKIE: OptionCode = OptionCode(10);
    /// TCP keepalive (RFC 7828).
    pub const TCP_KEEPALIVE: OptionCode = OptionCode(11);
    /// Padding (RFC 7830).
    pub const PADDING: OptionCode = OptionCode(12);
    /// Extended DNS error (RFC 8914).
    pub const EDE: OptionCode = OptionCode(15);
}

impl fmt::Debug for OptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OptionCode({})", self.0)
    }
}

/// Why an EDNS option's data is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionError(pub &'static str);

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed EDNS option: {}", self.0)
    }
}

impl std::error::Error for OptionError {}

// ---------------------------------------------------------------------------------------------
// Edns
// ---------------------------------------------------------------------------------------------

/// The EDNS data of a message, read in place from its OPT record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns<'a> {
    /// The sender's largest UDP payload (values below 512 are treated as 512 by servers).
    pub udp_payload: u16,
    /// The upper 8 bits of the 12-bit response code.
    pub extended_rcode: u8,
    /// The EDNS version (0 is the only one defined).
    pub version: u8,
    /// The flags; see [`FLAG_DO`].
    pub flags: u16,
    options: &'a [u8],
}

impl<'a> Edns<'a> {
    pub(crate) fn from_record(record: &Record<'a>) -> Edns<'a> {
        let ttl = record.ttl;
        Edns {
            udp_payload: record.class.0,
            extended_rcode: (ttl >> 24) as u8,
            version: (ttl >> 16) as u8,
            flags: ttl as u16,
            options: record.raw_rdata(),
        }
    }

    /// Whether the DO bit is set.
    pub fn dnssec_ok(&self) -> bool {
        self.flags & FLAG_DO != 0
    }

    /// The options, in the order sent. A malformed option list ends the iteration with an
    /// error item; check [`Edns::validate_options`] first to treat that as FORMERR.
    pub fn options(&self) -> Options<'a> {
        Options {
            rest: self.options,
            failed: false,
        }
    }

    /// Checks that the option list is well framed (each option's length fits).
    pub fn validate_options(&self) -> Result<(), OptionError> {
        self.options().try_for_each(|o| o.map(|_| ()))
    }

    /// The data of the first option with `code`, if present and the list is well framed up to it.
    pub fn option(&self, code: OptionCode) -> Option<&'a [u8]> {
        self.options()
            .map_while(Result::ok)
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d)
    }

    /// The raw option bytes (the OPT RDATA).
    pub fn raw_options(&self) -> &'a [u8] {
        self.options
    }
}

/// Iterator over EDNS options as `(code, data)`.
#[derive(Clone, Debug)]
pub struct Options<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<(OptionCode, &'a [u8]), OptionError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() || self.failed {
            return None;
        }
        let parsed = match self.rest {
            [c0, c1, l0, l1, data @ ..] => {
                let len = usize::from(u16::from_be_bytes([*l0, *l1]));
                match (data.get(..len), data.get(len..)) {
                    (Some(d), Some(rest)) => {
                        Some((OptionCode(u16::from_be_bytes([*c0, *c1])), d, rest))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match parsed {
            Some((code, data, rest)) => {
                self.rest = rest;
                Some(Ok((code, data)))
            }
            None => {
                self.failed = true;
                Some(Err(OptionError("option runs past the OPT RDATA")))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Option data
// ---------------------------------------------------------------------------------------------

/// A DNS cookie (RFC 7873 section 4): an 8-byte client cookie and an optional 8 to 32-byte
/// server cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookie<'a> {
    /// The client cookie.
    pub client: [u8; 8],
    /// The server cookie, empty when the client has none yet.
    pub server: &'a [u8],
}

impl<'a> Cookie<'a> {
    /// Reads cookie option data; a total length other than 8 or 16 to 40 is FORMERR.
    pub fn parse(data: &'a [u8]) -> Result<Cookie<'a>, OptionError> {
        if data.len() != 8 && !(16..=40).contains(&data.len()) {
            return Err(OptionError("cookie length must be 8 or 16 to 40 bytes"));
        }
        let mut client = [0u8; 8];
        client.copy_from_slice(&data[..8]);
        Ok(Cookie {
            client,
            server: &data[8..],
        })
    }
}

/// An Extended DNS Error (RFC 8914 section 2): an info code and optional UTF-8 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtendedError<'a> {
    /// The INFO-CODE (see [`ede`] for the registered ones).
    pub info_code: u16,
    /// EXTRA-TEXT, possibly empty.
    pub text: &'a [u8],
}

impl<'a> ExtendedError<'a> {
    /// Reads EDE option data.
    pub fn parse(data: &'a [u8]) -> Result<ExtendedError<'a>, OptionError> {
        match data {
            [a, b, text @ ..] => Ok(ExtendedError {
                info_code: u16::from_be_bytes([*a, *b]),
                text,
            }),
            _ => Err(OptionError("EDE shorter than its info code")),
        }
    }
}

/// Registered Extended DNS Error codes (RFC 8914 section 4).
pub mod ede {
    /// Other error.
    pub const OTHER: u16 = 0;
    /// A DNSKEY RRset uses an unsupported algorithm.
    pub const UNSUPPORTED_DNSKEY_ALGORITHM: u16 = 1;
    /// A DS RRset uses an unsupported digest type.
    pub const UNSUPPORTED_DS_DIGEST: u16 = 2;
    /// An answer served from stale data.
    pub const STALE_ANSWER: u16 = 3;
    /// An answer forged by policy.
    pub const FORGED_ANSWER: u16 = 4;
    /// DNSSEC validation ended indeterminate.
    pub const DNSSEC_INDETERMINATE: u16 = 5;
    /// DNSSEC validation found the answer bogus.
    pub const DNSSEC_BOGUS: u16 = 6;
    /// A signature has expired.
    pub const SIGNATURE_EXPIRED: u16 = 7;
    /// A signature is not yet valid.
    pub const SIGNATURE_NOT_YET_VALID: u16 = 8;
    /// No DNSKEY matches the DS.
    pub const DNSKEY_MISSING: u16 = 9;
    /// RRSIGs missing.
    pub const RRSIGS_MISSING: u16 = 10;
    /// No zone key bit set.
    pub const NO_ZONE_KEY_BIT: u16 = 11;
    /// NSEC records missing.
    pub const NSEC_MISSING: u16 = 12;
    /// A cached error.
    pub const CACHED_ERROR: u16 = 13;
    /// The server is not ready.
    pub const NOT_READY: u16 = 14;
    /// Blocked by policy.
    pub const BLOCKED: u16 = 15;
    /// Censored.
    pub const CENSORED: u16 = 16;
    /// Filtered on the client's request.
    pub const FILTERED: u16 = 17;
    /// The client is not allowed.
    pub const PROHIBITED: u16 = 18;
    /// A stale NXDOMAIN answer.
    pub const STALE_NXDOMAIN_ANSWER: u16 = 19;
    /// Not authoritative.
    pub const NOT_AUTHORITATIVE: u16 = 20;
    /// Not supported.
    pub const NOT_SUPPORTED: u16 = 21;
    /// No reachable authority.
    pub const NO_REACHABLE_AUTHORITY: u16 = 22;
    /// A network error.
    pub const NETWORK_ERROR: u16 = 23;
    /// Invalid data.
    pub const INVALID_DATA: u16 = 24;
}

/// Reads NSID data: the request is empty (RFC 5001 section 2.3); anything else is the identifier.
pub fn nsid_requested(data: &[u8]) -> bool {
    data.is_empty()
}

/// Reads padding data: RFC 7830 says the bytes should be zero; receivers ignore their value.
pub fn padding_len(data: &[u8]) -> usize {
    data.len()
}

/// Reads a TCP keepalive option (RFC 7828 section 3.1): empty in queries, a timeout in units of
/// 100 ms in responses.
pub fn keepalive_timeout(data: &[u8]) -> Result<Option<u16>, OptionError> {
    match data {
        [] => Ok(None),
        [a, b] => Ok(Some(u16::from_be_bytes([*a, *b]))),
        _ => Err(OptionError("keepalive must be empty or 2 bytes")),
    }
}

/// A client subnet (RFC 7871 section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientSubnet<'a> {
    /// Address family: 1 for IPv4, 2 for IPv6.
    pub family: u16,
    /// Prefix length of the client's address that the sender included.
    pub source_prefix: u8,
    /// Prefix length the answer covers (0 in queries).
    pub scope_prefix: u8,
    /// The address, cut to `ceil(source_prefix / 8)` bytes.
    pub address: &'a [u8],
}

impl<'a> ClientSubnet<'a> {
    /// Reads and checks client subnet data: a known family, a prefix within the family's
    /// length, exactly enough address bytes, and the bits past the prefix zero.
    pub fn parse(data: &'a [u8]) -> Result<ClientSubnet<'a>, OptionError> {
        let [f0, f1, source_prefix, scope_prefix, address @ ..] = data else {
            return Err(OptionError("client subnet shorter than 4 bytes"));
        };
        let family = u16::from_be_bytes([*f0, *f1]);
        let max_bits = match family {
            1 => 32,
            2 => 128,
            _ => return Err(OptionError("unknown client subnet family")),
        };
        if *source_prefix > max_bits || *scope_prefix > max_bits {
            return Err(OptionError("prefix longer than the address"));
        }
        if address.len() != usize::from(source_prefix.div_ceil(8)) {
            return Err(OptionError(
                "address length does not match the source prefix",
            ));
        }
        let spare_bits = address.len() * 8 - usize::from(*source_prefix);
        if let Some(last) = address.last()
            && spare_bits > 0
            && last & ((1u8 << spare_bits) - 1) != 0
        {
            return Err(OptionError("address bits set past the source prefix"));
        }
        Ok(ClientSubnet {
            family,
            source_prefix: *source_prefix,
            scope_prefix: *scope_prefix,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_iterate_and_detect_bad_framing() {
        let rdata = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 3, 0, 0];
        let edns = Edns {
            udp_payload: 1232,
            extended_rcode: 0,
            version: 0,
            flags: FLAG_DO,
            options: &rdata,
        };
        let all: Vec<_> = edns.options().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(edns.option(OptionCode::NSID), Some(&[][..]));
        let cookie = Cookie::parse(edns.option(OptionCode::COOKIE).unwrap()).unwrap();
        assert_eq!(cookie.client, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(cookie.server.is_empty());
        let bad = [0, 10, 0, 9, 1];
        let edns = Edns {
            options: &bad,
            ..edns
        };
        assert!(edns.validate_options().is_err());
        assert_eq!(edns.option(OptionCode::COOKIE), None);
    }

    #[test]
    fn cookie_lengths() {
        assert!(Cookie::parse(&[0; 8]).is_ok());
        assert!(Cookie::parse(&[0; 9]).is_err());
        assert!(Cookie::parse(&[0; 15]).is_err());
        assert_eq!(Cookie::parse(&[0; 16]).unwrap().server.len(), 8);
        assert!(Cookie::parse(&[0; 40]).is_ok());
        assert!(Cookie::parse(&[0; 41]).is_err());
    }

    #[test]
    fn client_subnet_checks() {
        let ok = ClientSubnet::parse(&[0, 1, 24, 0, 192, 0, 2]).unwrap();
        assert_eq!(
            (ok.family, ok.source_prefix, ok.address),
            (1, 24, &[192, 0, 2][..])
        );
        assert!(ClientSubnet::parse(&[0, 1, 24, 0, 192, 0]).is_err());
        assert!(ClientSubnet::parse(&[0, 1, 23, 0, 192, 0, 3]).is_err());
        assert!(ClientSubnet::parse(&[0, 1, 33, 0, 1, 2, 3, 4, 5]).is_err());
        assert!(ClientSubnet::parse(&[0, 3, 0, 0]).is_err());
        assert!(ClientSubnet::parse(&[0, 2, 0, 0]).is_ok());
    }

    #[test]
    fn ede_and_keepalive() {
        let e = ExtendedError::parse(&[0, 15, b'n', b'o']).unwrap();
        assert_eq!((e.info_code, e.text), (ede::BLOCKED, &b"no"[..]));
        assert!(ExtendedError::parse(&[0]).is_err());
        assert_eq!(keepalive_timeout(&[]), Ok(None));
        assert_eq!(keepalive_timeout(&[1, 0]), Ok(Some(256)));
        assert!(keepalive_timeout(&[1]).is_err());
    }
}
