//! Zones a recursive resolver answers itself: private reverse zones (RFC 6303) and special-use
//! names (RFC 6761, RFC 7686, RFC 8375).
//!
//! A resolver that sent these questions upstream would leak private addresses and local names
//! to the root and the `arpa` servers, which can only answer NXDOMAIN, and load them for
//! nothing (RFC 6303 section 1). Like Unbound's default `local-zone`s, a resolver built here
//! serves them as ordinary [`Zone`]s in its [`Catalog`](crate::Catalog), so they answer first,
//! authoritatively, to every client, whether recursion is offered to it or not:
//!
//! - **private reverse zones** (RFC 6303 section 4): the RFC 1918 ranges, `0/8`, `127/8`,
//!   `169.254/16`, the documentation networks, the broadcast address, the RFC 6598 shared
//!   range `100.64/10`, `::`, `::1`, `fd00::/8`, `fe80::/10`, `2001:db8::/32`. Each holds only the
//!   SOA and NS of RFC 6303 section 3 (`nobody.invalid.`, the zone's own name as NS), so every
//!   name below answers NXDOMAIN; `127.in-addr.arpa` and the `::1` zone answer the loopback
//!   address's PTR with `localhost.`;
//! - **special-use names**: `localhost.` (RFC 6761 section 6.3: the loopback addresses, for the
//!   name and every name below it), `test.` and `invalid.` (RFC 6761 sections 6.2 and 6.4:
//!   NXDOMAIN), `onion.` (RFC 7686: NXDOMAIN, never resolved in the DNS) and `home.arpa.`
//!   (RFC 8375: NXDOMAIN unless served locally).
//!
//! A zone that the operator serves, forwards or stubs is not shadowed: [`local_zones`] leaves out
//! a local zone the operator serves itself, and every local zone at or above a forwarded or
//! stubbed name. `resolver.insecure_local_upstreams` leaves them
//! all out, so that a test world under `.test` or on private addresses resolves.

use std::net::IpAddr;
use std::path::Path;

use wire::{Name, NameRef};
use zone::Zone;

/// The SOA values of RFC 6303 section 3: serial 1, refresh 3600, retry 1200, expire 604800,
/// minimum (the negative TTL) 10800.
const SOA_TIMERS: &str = "1 3600 1200 604800 10800";
/// The TTL of the records of a local zone.
const TTL: u32 = 10_800;

/// The private reverse zones of RFC 6303 section 4 (and RFC 6598), without the trailing dot.
fn private_reverse() -> Vec<String> {
    let mut zones: Vec<String> = vec!["10.in-addr.arpa".into()];
    zones.extend((16..=31).map(|n| format!("{n}.172.in-addr.arpa")));
    zones.extend(
        [
            "168.192.in-addr.arpa",
            "0.in-addr.arpa",
            "127.in-addr.arpa",
            "254.169.in-addr.arpa",
            "2.0.192.in-addr.arpa",
            "100.51.198.in-addr.arpa",
            "113.0.203.in-addr.arpa",
            "255.255.255.255.in-addr.arpa",
        ]
        .map(String::from),
    );
    // RFC 6598 shared address space, 100.64.0.0/10 (Unbound serves it too).
    zones.extend((64..=127).map(|n| format!("{n}.100.in-addr.arpa")));
    let zeros = "0.".repeat(31);
    zones.push(format!("{zeros}0.ip6.arpa"));
    zones.push(format!("1.{zeros}ip6.arpa"));
    zones.extend(
        [
            "d.f.ip6.arpa",
            "8.e.f.ip6.arpa",
            "9.e.f.ip6.arpa",
            "a.e.f.ip6.arpa",
            "b.e.f.ip6.arpa",
            "8.b.d.0.1.0.0.2.ip6.arpa",
        ]
        .map(String::from),
    );
    zones
}

/// The records beside the SOA and NS of `origin` (relative owners), for the zones that answer
/// something.
fn extra_records(origin: &str) -> &'static str {
    let loopback6 = origin.starts_with("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.");
    match origin {
        "localhost" => "@ A 127.0.0.1\n@ AAAA ::1\n* A 127.0.0.1\n* AAAA ::1\n",
        "127.in-addr.arpa" => "1.0.0 PTR localhost.\n",
        _ if loopback6 => "@ PTR localhost.\n",
        _ => "",
    }
}

/// Every local zone's origin (absolute, with the trailing dot): the private reverse zones, then
/// the special-use names.
pub fn local_zone_names() -> Vec<Name> {
    let special = ["localhost", "test", "invalid", "onion", "home.arpa"];
    private_reverse()
        .into_iter()
        .chain(special.into_iter().map(String::from))
        .filter_map(|z| format!("{z}.").parse().ok())
        .collect()
}

/// The local zones, built, leaving out those that would shadow the operator's: a zone the
/// operator serves under the same name (a served zone below a local zone needs nothing: the
/// closest enclosing zone answers), and every local zone at or above a zone the operator
/// forwards or stubs (local zones answer before the resolver).
pub fn local_zones(served: &[Name], forwarded: &[Name]) -> Vec<Zone> {
    local_zone_names()
        .into_iter()
        .filter(|origin| !served.contains(origin))
        .filter(|origin| {
            !forwarded
                .iter()
                .any(|c| c.as_ref().is_subdomain_of(origin.as_ref()))
        })
        .filter_map(|origin| build(origin.as_ref()))
        .collect()
}

/// One local zone: SOA and NS as RFC 6303 section 3 sets them, and its extra records.
fn build(origin: NameRef<'_>) -> Option<Zone> {
    let text = origin.to_string();
    let bare = text.trim_end_matches('.');
    let zone_text = format!(
        "$TTL {TTL}\n@ SOA @ nobody.invalid. {SOA_TIMERS}\n@ NS @\n{}",
        extra_records(bare)
    );
    zone::load_str(&zone_text, Path::new("<local zone>"), origin)
        .ok()
        .map(|built| built.zone)
}

/// An encrypted endpoint of this resolver, as Discovery of Designated Resolvers announces it
/// (RFC 9462, with the SvcParams of RFC 9461).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DdrEndpoint {
    /// The ALPN protocol: `dot`, `h2` or `doq`.
    pub alpn: &'static str,
    /// The port it listens on.
    pub port: u16,
    /// The URI template of DNS over HTTPS (`/dns-query{?dns}`, RFC 9461 section 5).
    pub dohpath: Option<String>,
}

/// The TTL of the DDR records: clients cache the designation for this long.
const DDR_TTL: u32 = 300;

/// The `resolver.arpa.` zone of Discovery of Designated Resolvers (RFC 9462 section 4): one
/// SVCB record at `_dns.resolver.arpa.` per endpoint, in order of preference, all with the
/// target `name` (the name the server's certificate is valid for, which clients verify) and
/// with address hints `hints` (the unicast addresses of the listeners). Every other name in
/// `resolver.arpa.` is NXDOMAIN; without a name or endpoints, every name is. A resolver serves
/// it either way: queries for `resolver.arpa.` must never be forwarded (RFC 9462 section 6.4).
/// `None` when the records do not parse (a `dohpath` with a space, say).
pub fn ddr_zone(name: Option<&Name>, endpoints: &[DdrEndpoint], hints: &[IpAddr]) -> Option<Zone> {
    let endpoints = if name.is_some() { endpoints } else { &[] };
    let v4: Vec<String> = hints
        .iter()
        .filter(|ip| ip.is_ipv4())
        .map(ToString::to_string)
        .collect();
    let v6: Vec<String> = hints
        .iter()
        .filter(|ip| ip.is_ipv6())
        .map(ToString::to_string)
        .collect();
    let mut text = format!("$TTL {TTL}\n@ SOA @ nobody.invalid. {SOA_TIMERS}\n@ NS @\n");
    for (priority, e, name) in (1u16..)
        .zip(endpoints)
        .filter_map(|(p, e)| Some((p, e, name?)))
    {
        text.push_str(&format!(
            "_dns {DDR_TTL} SVCB {priority} {name} alpn={} port={}",
            e.alpn, e.port
        ));
        if !v4.is_empty() {
            text.push_str(&format!(" ipv4hint={}", v4.join(",")));
        }
        if !v6.is_empty() {
            text.push_str(&format!(" ipv6hint={}", v6.join(",")));
        }
        if let Some(path) = &e.dohpath {
            text.push_str(&format!(" dohpath={path}"));
        }
        text.push('\n');
    }
    let origin: Name = "resolver.arpa.".parse().ok()?;
    zone::load_str(&text, Path::new("<resolver.arpa>"), origin.as_ref())
        .ok()
        .map(|built| built.zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zone::Lookup;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn every_local_zone_builds() {
        let names = local_zone_names();
        assert_eq!(local_zones(&[], &[]).len(), names.len());
        assert!(names.contains(&n("16.172.in-addr.arpa.")));
        assert!(names.contains(&n("31.172.in-addr.arpa.")));
        assert!(!names.contains(&n("32.172.in-addr.arpa.")));
        assert!(names.contains(&n("d.f.ip6.arpa.")));
        assert!(names.contains(&n("home.arpa.")));
    }

    #[test]
    fn configured_zones_are_not_shadowed() {
        let all = local_zones(&[], &[]).len();
        let kept = local_zones(
            &[n("Test."), n("portcullis.onion.")],
            &[n("1.10.in-addr.arpa."), n("example.")],
        );
        assert_eq!(kept.len(), all - 2);
        assert!(kept.iter().any(|z| z.origin() == n("onion.").as_ref()));
        assert!(
            kept.iter()
                .all(|z| z.origin() != n("10.in-addr.arpa.").as_ref())
        );
        assert!(kept.iter().all(|z| z.origin() != n("test.").as_ref()));
    }

    #[test]
    fn localhost_answers_loopback() {
        let zones = local_zones(&[], &[]);
        let localhost = zones
            .iter()
            .find(|z| z.origin() == n("localhost.").as_ref())
            .unwrap();
        for name in ["localhost.", "www.localhost."] {
            assert!(matches!(
                localhost.lookup(n(name).as_ref(), wire::RType::A),
                Lookup::Answer { .. }
            ));
        }
        let test = zones
            .iter()
            .find(|z| z.origin() == n("test.").as_ref())
            .unwrap();
        assert!(matches!(
            test.lookup(n("www.example.test.").as_ref(), wire::RType::A),
            Lookup::NxDomain { .. }
        ));
    }

    #[test]
    fn the_ddr_zone_lists_each_endpoint_in_order() {
        let endpoints = [
            DdrEndpoint {
                alpn: "dot",
                port: 853,
                dohpath: None,
            },
            DdrEndpoint {
                alpn: "h2",
                port: 443,
                dohpath: Some("/dns-query{?dns}".into()),
            },
        ];
        let hints = ["192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap()];
        let zone = ddr_zone(Some(&n("dns.example.")), &endpoints, &hints).unwrap();
        let dns = n("_dns.resolver.arpa.");
        let Lookup::Answer { rrset, .. } = zone.lookup(dns.as_ref(), wire::RType::SVCB) else {
            panic!("no SVCB at _dns.resolver.arpa.");
        };
        assert_eq!(rrset.rdatas().count(), 2);
        let empty = ddr_zone(None, &endpoints, &hints).unwrap();
        assert!(matches!(
            empty.lookup(dns.as_ref(), wire::RType::SVCB),
            Lookup::NxDomain { .. }
        ));
    }
}
