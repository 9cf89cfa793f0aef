//! The engine's settings: what it advertises, what it reveals about itself, who may transfer
//! zones, and how it answers ANY.
//!
//! Every field has a default chosen for a public authoritative server: a UDP payload of 1,232
//! bytes (the DNS Flag Day 2020 value, small enough to avoid IP fragmentation on common paths),
//! no server identity revealed (NSID and the CHAOS names stay silent), no zone transfers, and the
//! RFC 8482 minimal answer to ANY over UDP. The binary maps its TOML configuration onto
//! [`EngineConfig`]; [`EngineConfig::validate`] enforces the bounds once, at load time.

use core::fmt;
use core::str::FromStr;
use std::net::IpAddr;

use wire::{Name, NameRef};

/// Smallest UDP payload a server may use: the classic DNS limit (RFC 1035 section 2.3.4).
pub const MIN_UDP_PAYLOAD: u16 = 512;
/// The default UDP payload we advertise and use (DNS Flag Day 2020).
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;
/// Longest NSID we send; RFC 5001 sets no limit, this keeps the OPT record small.
pub const MAX_NSID_LEN: usize = 128;
/// Longest identity string (one TXT character-string, RFC 1035 section 3.3).
pub const MAX_IDENTITY_LEN: usize = 255;

/// How a query of type ANY is answered over UDP (RFC 8482). Over TCP every RRset of the name is
/// sent, whatever the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AnyPolicy {
    /// One existing RRset of the name: the smallest in wire size (the lowest type on a tie),
    /// with its signatures when the client set DO (RFC 8482 section 4.1). The default: the data
    /// is real, so it caches and validates like any other answer.
    #[default]
    SmallestRrset,
    /// A synthesised HINFO RRset with CPU "RFC8482" and an empty OS (RFC 8482 section 4.2), with
    /// the zone's negative TTL. It is unsigned, so a DNSSEC-signed zone should not use it.
    Hinfo,
    /// Every RRset, as over TCP; TC is set when they do not fit. Exposes the server to
    /// amplification, hence the name.
    InsecureFull,
}

/// The engine's settings; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The UDP payload we advertise in OPT and the most we send over UDP to an EDNS client
    /// (RFC 6891 section 6.2.5). Between 512 and 65,535; default 1,232.
    pub udp_payload: u16,
    /// The name server identifier sent to clients that ask for it (RFC 5001); `None`, the
    /// default, sends nothing. At most [`MAX_NSID_LEN`] bytes.
    pub nsid: Option<Vec<u8>>,
    /// The TXT answer to `version.bind` and `version.server` in class CHAOS; `None` (the
    /// default) refuses them.
    pub version: Option<String>,
    /// The TXT answer to `hostname.bind`; `None` (the default) refuses it.
    pub hostname: Option<String>,
    /// The TXT answer to `id.server` (RFC 4892); `None` (the default) refuses it.
    pub id: Option<String>,
    /// Clients allowed to transfer every zone (AXFR, IXFR); empty, the default, allows nobody.
    pub allow_transfer: Vec<IpPrefix>,
    /// Clients allowed to transfer one zone, beside [`EngineConfig::allow_transfer`]: the zone's
    /// origin and its prefixes. Empty by default.
    pub zone_allow_transfer: Vec<(Name, Vec<IpPrefix>)>,
    /// How ANY is answered over UDP.
    pub any_policy: AnyPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            udp_payload: DEFAULT_UDP_PAYLOAD,
            nsid: None,
            version: None,
            hostname: None,
            id: None,
            allow_transfer: Vec::new(),
            zone_allow_transfer: Vec::new(),
            any_policy: AnyPolicy::default(),
        }
    }
}

impl EngineConfig {
    /// Checks the bounds documented on each field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.udp_payload < MIN_UDP_PAYLOAD {
            return Err(ConfigError("udp_payload must be at least 512"));
        }
        if self.nsid.as_ref().is_some_and(|n| n.len() > MAX_NSID_LEN) {
            return Err(ConfigError("nsid must be at most 128 bytes"));
        }
        for s in [&self.version, &self.hostname, &self.id]
            .into_iter()
            .flatten()
        {
            if s.len() > MAX_IDENTITY_LEN {
                return Err(ConfigError(
                    "version, hostname and id must be at most 255 bytes",
                ));
            }
        }
        Ok(())
    }

    /// Whether `addr` may transfer every zone.
    pub fn transfer_allowed(&self, addr: IpAddr) -> bool {
        self.allow_transfer.iter().any(|p| p.contains(addr))
    }

    /// Whether `addr` may transfer the zone at `origin`: allowed for every zone, or for this one.
    pub fn zone_transfer_allowed(&self, origin: NameRef<'_>, addr: IpAddr) -> bool {
        self.transfer_allowed(addr)
            || self
                .zone_allow_transfer
                .iter()
                .any(|(o, acl)| o.as_ref() == origin && acl.iter().any(|p| p.contains(addr)))
    }
}

/// A setting out of its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfigError(pub &'static str);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------------------
// IpPrefix
// ---------------------------------------------------------------------------------------------

/// An address prefix such as `192.0.2.0/24` or `2001:db8::/32`, for access lists.
///
/// IPv4 clients seen through an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack
/// socket reports them) match IPv4 prefixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

impl IpPrefix {
    /// The prefix of the first `len` bits of `addr`; the bits after them are cleared. `None`
    /// when `len` is longer than the address (32 for IPv4, 128 for IPv6).
    pub fn new(addr: IpAddr, len: u8) -> Option<IpPrefix> {
        let addr = addr.to_canonical();
        let bits = Self::bits(addr);
        if u32::from(len) > bits {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask32(len)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask128(len)).into()),
        };
        Some(IpPrefix { addr, len })
    }

    /// The first address of the prefix.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether the prefix is `/0` (every address of its family).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `addr` lies inside the prefix.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr.to_canonical()) {
            (IpAddr::V4(p), IpAddr::V4(a)) => u32::from(a) & mask32(self.len) == u32::from(p),
            (IpAddr::V6(p), IpAddr::V6(a)) => u128::from(a) & mask128(self.len) == u128::from(p),
            _ => false,
        }
    }

    fn bits(addr: IpAddr) -> u32 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl FromStr for IpPrefix {
    type Err = ConfigError;

    /// `address/length`, or a bare address (a host prefix).
    fn from_str(s: &str) -> Result<IpPrefix, ConfigError> {
        let bad = ConfigError("expected an address or address/length");
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => {
                let len: u8 = l.parse().map_err(|_| bad)?;
                (a.parse::<IpAddr>().map_err(|_| bad)?, Some(len))
            }
            None => (s.parse::<IpAddr>().map_err(|_| bad)?, None),
        };
        let len = len.unwrap_or(Self::bits(addr.to_canonical()) as u8);
        IpPrefix::new(addr, len).ok_or(ConfigError("prefix length longer than the address"))
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_parse_and_match() {
        let p: IpPrefix = "192.0.2.77/24".parse().unwrap();
        assert_eq!(p.to_string(), "192.0.2.0/24");
        assert!(p.contains(ip("192.0.2.1")));
        assert!(p.contains(ip("::ffff:192.0.2.9")));
        assert!(!p.contains(ip("192.0.3.1")));
        assert!(!p.contains(ip("2001:db8::1")));
        let host: IpPrefix = "2001:db8::1".parse().unwrap();
        assert_eq!(host.len(), 128);
        assert!(host.contains(ip("2001:db8::1")));
        assert!(!host.contains(ip("2001:db8::2")));
        let all: IpPrefix = "::/0".parse().unwrap();
        assert!(all.is_empty());
        assert!(all.contains(ip("2001:db8::2")));
        assert!("10.0.0.0/33".parse::<IpPrefix>().is_err());
        assert!("10.0.0.0/x".parse::<IpPrefix>().is_err());
        assert!("nonsense".parse::<IpPrefix>().is_err());
        let v4all: IpPrefix = "0.0.0.0/0".parse().unwrap();
        assert!(v4all.contains(ip("203.0.113.5")));
    }

    #[test]
    fn defaults_are_closed_and_valid() {
        let c = EngineConfig::default();
        assert!(c.validate().is_ok());
        assert!(!c.transfer_allowed(ip("127.0.0.1")));
        assert_eq!(c.udp_payload, 1232);
        let small = EngineConfig {
            udp_payload: 100,
            ..EngineConfig::default()
        };
        assert!(small.validate().is_err());
    }
}
