//! The engine's settings: what it advertises, what it reveals about itself, who may query and
//! transfer zones (access-control lists, [`guard::Acl`], for every listener or for one), and
//! how it answers ANY.
//!
//! Every field has a default chosen for a public authoritative server: a UDP payload of 1,232
//! bytes (the DNS Flag Day 2020 value, small enough to avoid IP fragmentation on common paths),
//! no server identity revealed (NSID and the CHAOS names stay silent), queries from everyone,
//! no zone transfers, and the RFC 8482 minimal answer to ANY over UDP. The binary maps its TOML configuration onto
//! [`EngineConfig`]; [`EngineConfig::validate`] enforces the bounds once, at load time.

use core::fmt;
use std::net::{IpAddr, SocketAddr};

use guard::{Acl, AclAction, Prefix};
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
    /// The idle timeout of stream connections, in units of 100 ms, sent in edns-tcp-keepalive
    /// (RFC 7828) to clients that signal support; `None` sends nothing.
    pub tcp_keepalive: Option<u16>,
    /// The TXT answer to `version.bind` and `version.server` in class CHAOS; `None` (the
    /// default) refuses them.
    pub version: Option<String>,
    /// The TXT answer to `hostname.bind`; `None` (the default) refuses it.
    pub hostname: Option<String>,
    /// The TXT answer to `id.server` (RFC 4892); `None` (the default) refuses it.
    pub id: Option<String>,
    /// Who may query at all, on every listener without its own ([`ListenerAcl`]): refused
    /// clients get REFUSED with EDE 18, dropped ones nothing. Everyone by default.
    pub query_acl: Acl,
    /// Who may transfer every zone (AXFR, IXFR); refused clients get REFUSED, dropped ones
    /// nothing. Nobody by default.
    pub allow_transfer: Acl,
    /// Clients allowed to transfer one zone whatever [`EngineConfig::allow_transfer`] says: the
    /// zone's origin and its prefixes. Empty by default.
    pub zone_allow_transfer: Vec<(Name, Vec<Prefix>)>,
    /// Listeners with ACLs of their own, by the address they are bound to. Empty by default.
    pub listeners: Vec<ListenerAcl>,
    /// How ANY is answered over UDP.
    pub any_policy: AnyPolicy,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            udp_payload: DEFAULT_UDP_PAYLOAD,
            nsid: None,
            tcp_keepalive: None,
            version: None,
            hostname: None,
            id: None,
            query_acl: Acl::allow_all(),
            allow_transfer: Acl::refuse_all(),
            zone_allow_transfer: Vec::new(),
            listeners: Vec::new(),
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

    /// What to do with a transfer from `addr` of the zone at `origin` (`None`: a name that is
    /// no zone of ours): allowed when the zone's own list holds the client, else as
    /// [`EngineConfig::allow_transfer`] says.
    pub fn transfer_decision(&self, origin: Option<NameRef<'_>>, addr: IpAddr) -> AclAction {
        let zone_allows = origin.is_some_and(|origin| {
            self.zone_allow_transfer
                .iter()
                .any(|(o, acl)| o.as_ref() == origin && acl.iter().any(|p| p.contains(addr)))
        });
        if zone_allows {
            AclAction::Allow
        } else {
            self.allow_transfer.decide(addr)
        }
    }
}

/// The ACLs of one listener, replacing the engine-wide ones for queries that come to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerAcl {
    /// The address the listener is bound to, as configured (`server.listen`).
    pub addr: SocketAddr,
    /// Who may query through it; `None` keeps [`EngineConfig::query_acl`].
    pub query: Option<Acl>,
    /// Who is offered recursion through it; `None` keeps the resolver's
    /// ([`crate::Resolver::new`]).
    pub recursion: Option<Acl>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn transfer_decisions() {
        let zone: Name = "example.".parse().unwrap();
        let c = EngineConfig {
            allow_transfer: Acl::new(
                [
                    (AclAction::Drop, &["10.0.0.0/8".parse().unwrap()][..]),
                    (AclAction::Allow, &["192.0.2.0/24".parse().unwrap()][..]),
                ],
                AclAction::Refuse,
            ),
            zone_allow_transfer: vec![(zone.clone(), vec!["10.1.0.0/16".parse().unwrap()])],
            ..EngineConfig::default()
        };
        let z = Some(zone.as_ref());
        assert_eq!(c.transfer_decision(z, ip("10.1.2.3")), AclAction::Allow);
        assert_eq!(c.transfer_decision(None, ip("10.1.2.3")), AclAction::Drop);
        assert_eq!(c.transfer_decision(z, ip("192.0.2.1")), AclAction::Allow);
        assert_eq!(
            c.transfer_decision(z, ip("198.51.100.1")),
            AclAction::Refuse
        );
    }

    #[test]
    fn defaults_are_closed_and_valid() {
        let c = EngineConfig::default();
        assert!(c.validate().is_ok());
        assert_eq!(
            c.transfer_decision(None, ip("127.0.0.1")),
            AclAction::Refuse
        );
        assert!(c.query_acl.allows(ip("203.0.113.1")));
        assert_eq!(c.udp_payload, 1232);
        let small = EngineConfig {
            udp_payload: 100,
            ..EngineConfig::default()
        };
        assert!(small.validate().is_err());
    }
}
