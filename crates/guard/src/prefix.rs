//! Address prefixes for access-control lists: `192.0.2.0/24`, `2001:db8::/32`, or a single
//! address (`192.0.2.1` means `192.0.2.1/32`).
//!
//! An IPv4 client seen through an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a
//! dual-stack socket reports it) matches IPv4 prefixes (RFC 4291 section 2.5.5.2).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 prefix: an address and how many of its leading bits count. Host bits (those
/// after the prefix length) are always zero: `192.0.2.1/24` is refused rather than guessed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// The prefix of the first `len` bits of `addr`, the bits after them cleared (an
    /// IPv4-mapped address becomes its IPv4 prefix). `None` when `len` is longer than the
    /// address (32 for IPv4, 128 for IPv6). Text goes through [`FromStr`], which refuses host
    /// bits instead.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        let addr = addr.to_canonical();
        let bits = bits(addr);
        if len > bits {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
                mask(u128::from(u32::from(a)), 32, len) as u32
            )),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(mask(u128::from(a), 128, len))),
        };
        Some(Prefix { addr, len })
    }

    /// `a.b.c.d/len`, for constants; `len` must be at most 32 and the host bits zero.
    pub const fn v4(a: [u8; 4], len: u8) -> Prefix {
        Prefix {
            addr: IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            len,
        }
    }

    /// An IPv6 prefix from its value, for constants; `len` must be at most 128 and the host
    /// bits zero.
    pub const fn v6(value: u128, len: u8) -> Prefix {
        Prefix {
            addr: IpAddr::V6(Ipv6Addr::from_bits(value)),
            len,
        }
    }

    /// The network address.
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

    /// Whether `addr` lies inside the prefix. IPv4-mapped IPv6 addresses are taken as the IPv4
    /// address they carry.
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.addr, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                mask(u128::from(u32::from(a)), 32, self.len) == u128::from(u32::from(net))
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                mask(u128::from(a), 128, self.len) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// 32 for IPv4, 128 for IPv6.
fn bits(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

/// `value`, `bits` wide, with all but its first `len` bits cleared.
pub(crate) fn mask(value: u128, bits: u8, len: u8) -> u128 {
    if len == 0 {
        return 0;
    }
    let keep = u32::from(len.min(bits));
    let host = u32::from(bits) - keep;
    (value >> host) << host
}

/// Why a prefix could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixError(String);

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrefixError {}

impl FromStr for Prefix {
    type Err = PrefixError;

    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        let (addr_text, len_text) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            PrefixError(format!(
                "`{s}` is not an address prefix such as 192.0.2.0/24 or 2001:db8::/32"
            ))
        })?;
        let bits = bits(addr);
        let len = match len_text {
            None => bits,
            Some(l) => match l.parse::<u8>() {
                Ok(len) if len <= bits && (l == "0" || !l.starts_with('0')) => len,
                _ => {
                    return Err(PrefixError(format!(
                        "`{s}`: the prefix length must be a number from 0 to {bits}"
                    )));
                }
            },
        };
        let value = match addr {
            IpAddr::V4(a) => u128::from(u32::from(a)),
            IpAddr::V6(a) => u128::from(a),
        };
        if mask(value, bits, len) != value {
            let net = match addr {
                IpAddr::V4(_) => IpAddr::from(Ipv4Addr::from(mask(value, bits, len) as u32)),
                IpAddr::V6(_) => IpAddr::from(Ipv6Addr::from(mask(value, bits, len))),
            };
            return Err(PrefixError(format!(
                "`{s}` has bits set after the prefix length: did you mean {net}/{len}?"
            )));
        }
        Ok(Prefix { addr, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_displays() {
        assert_eq!(p("192.0.2.0/24").to_string(), "192.0.2.0/24");
        assert_eq!(p("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(p("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(p("::1").to_string(), "::1/128");
        assert_eq!(p("0.0.0.0/0").len(), 0);
    }

    #[test]
    fn refuses_bad_prefixes() {
        for bad in [
            "192.0.2.1/24",
            "192.0.2.0/33",
            "2001:db8::/129",
            "192.0.2.0/",
            "192.0.2.0/024",
            "example.com",
            "192.0.2.0/-1",
            "",
        ] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
        let e = "192.0.2.1/24".parse::<Prefix>().unwrap_err().to_string();
        assert!(e.contains("did you mean 192.0.2.0/24"), "{e}");
    }

    #[test]
    fn new_masks_host_bits() {
        let a = Prefix::new("192.0.2.77".parse().unwrap(), 24).unwrap();
        assert_eq!(a, p("192.0.2.0/24"));
        let m = Prefix::new("::ffff:192.0.2.77".parse().unwrap(), 32).unwrap();
        assert_eq!(m, p("192.0.2.77"));
        assert!(Prefix::new("10.0.0.0".parse().unwrap(), 33).is_none());
        assert_eq!(Prefix::v4([127, 0, 0, 0], 8), p("127.0.0.0/8"));
        assert_eq!(Prefix::v6(1, 128), p("::1"));
    }

    #[test]
    fn contains() {
        let net = p("192.0.2.0/24");
        assert!(net.contains("192.0.2.200".parse().unwrap()));
        assert!(!net.contains("192.0.3.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(net.contains("::ffff:192.0.2.9".parse().unwrap()));
        assert!(p("0.0.0.0/0").contains("203.0.113.9".parse().unwrap()));
        let v6 = p("2001:db8::/32");
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(p("::/0").contains("::1".parse().unwrap()));
    }
}
