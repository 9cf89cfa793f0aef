//! Which upstream addresses the recursor refuses to send to.
//!
//! A name server address learned from the network (glue, an answer) could point the resolver
//! at itself, at the host's loopback services or at the private network behind it: a way to
//! reach what the attacker cannot (and an amplifier against the resolver's own network). Like
//! Unbound (`do-not-query-localhost`, `private-address`), the recursor never sends there unless
//! `insecure_local_upstreams` is set, which test worlds on loopback need. Addresses the operator
//! configured (forwarders, stub servers, hints) are always allowed.
//!
//! Refused ranges: `0.0.0.0/8` (this network), `10/8`, `172.16/12`, `192.168/16` (RFC 1918),
//! `100.64/10` (shared address space, RFC 6598), `127/8` (loopback), `169.254/16`
//! (link-local, RFC 3927), `::` and `::1`, `fc00::/7` (unique local, RFC 4193), `fe80::/10`
//! (link-local), and IPv4-mapped IPv6 forms of the IPv4 ranges.

use std::net::{IpAddr, Ipv4Addr};

/// Whether `ip` is loopback, private, link-local, shared or unspecified (see the module docs).
pub(crate) fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
        }
    }
}

fn is_local_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 0
        || a == 10
        || a == 127
        || (a == 172 && b & 0xf0 == 16)
        || (a == 192 && b == 168)
        || (a == 169 && b == 254)
        || (a == 100 && b & 0xc0 == 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        for local in [
            "0.1.2.3",
            "10.0.0.1",
            "127.0.0.1",
            "127.8.0.53",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:10.1.2.3",
        ] {
            assert!(is_local(local.parse().unwrap()), "{local}");
        }
        for public in [
            "192.0.2.1",
            "198.51.100.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2001:db8::1",
            "fec0::1",
            "::ffff:192.0.2.1",
        ] {
            assert!(!is_local(public.parse().unwrap()), "{public}");
        }
    }
}
