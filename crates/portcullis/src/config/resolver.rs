//! The resolver's sections of the configuration: `[resolver]`, `[cache]`, `[[forward]]` and
//! `[[stub]]` (docs/CONFIG.md lists each key with its default and bounds).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use toml::Spanned;
use wire::Name;

pub use recursor::Selection;
pub use transport::client_tls::Trust;
pub use transport::secure_upstream::Scheme;

use super::{ConfigError, IntBounds, Location, int, keyed, parse_origin, prefixes};
use crate::prefix::Prefix;

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

macro_rules! bounds {
    ($($name:ident = $key:literal, $min:expr, $max:expr;)*) => {
        $(
            #[doc = concat!("`", $key, "`.")]
            pub const $name: IntBounds = IntBounds { key: $key, min: $min, max: $max };
        )*
        /// Every integer setting of the resolver's sections, for the documentation test.
        pub const INT_SETTINGS: &[IntBounds] = &[$($name),*];
    };
}

bounds! {
    EDNS_PAYLOAD = "resolver.edns_payload", 512, 4096;
    FAILURE_TTL = "resolver.failure_ttl", 0, 3600;
    INFRA_MAX_SERVERS = "resolver.infra_max_servers", 16, 10_000_000;
    DRIVERS = "resolver.drivers", 1, 64;
    QUEUE = "resolver.queue", 16, 1_000_000;
    MAX_UPSTREAM_QUERIES = "resolver.max_upstream_queries", 1, 1000;
    MAX_REFERRALS = "resolver.max_referrals", 1, 1000;
    MAX_CNAME_CHAIN = "resolver.max_cname_chain", 1, 100;
    MAX_NS_NAMES_RESOLVED = "resolver.max_ns_names_resolved", 1, 100;
    MAX_ADDRESSES_PER_NS_SET = "resolver.max_addresses_per_ns_set", 1, 1000;
    MAX_GLUELESS_QUERIES = "resolver.max_glueless_queries", 1, 1000;
    MAX_DEPENDENCY_DEPTH = "resolver.max_dependency_depth", 1, 100;
    MAX_QUESTION_MILLIS = "resolver.max_question_millis", 100, 120_000;
    MAX_OUTSTANDING_PER_SERVER = "resolver.max_outstanding_per_server", 1, 100_000;
    MAX_RESOLUTIONS_PER_CLIENT = "resolver.max_resolutions_per_client", 1, 1_000_000;
    MAX_MESH = "resolver.max_mesh", 1, 1_000_000;
    MAX_WAITERS = "resolver.max_waiters", 1, 100_000;
    CACHE_SHARDS = "cache.shards", 1, 1024;
    MIN_TTL = "cache.min_ttl", 0, 86_400;
    MAX_TTL = "cache.max_ttl", 1, 604_800;
    MAX_NEGATIVE_TTL = "cache.max_negative_ttl", 0, 86_400;
    MAX_STALE = "cache.max_stale", 0, 604_800;
    STALE_ANSWER_TTL = "cache.stale_answer_ttl", 1, 3600;
    STALE_ANSWER_CLIENT_TIMEOUT = "cache.stale_answer_client_timeout", 0, 60_000;
}

/// `cache.max_bytes` bounds: 1 MiB to 1 TiB.
pub const CACHE_MAX_BYTES: IntBounds = IntBounds {
    key: "cache.max_bytes",
    min: 1 << 20,
    max: 1 << 40,
};

/// Most servers in one `[[forward]]` or `[[stub]]`.
pub const MAX_FORWARD_SERVERS: usize = 16;

pub use engine::recursion::DEFAULT_ALLOW_RECURSION;

// ---------------------------------------------------------------------------------------------
// The typed sections
// ---------------------------------------------------------------------------------------------

/// QNAME minimisation (RFC 9156).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QnameMinimisation {
    /// The full name to every server.
    Off,
    /// Minimise, fall back to the full name when a server misbehaves (the default).
    Relaxed,
    /// Minimise, never fall back.
    Strict,
}

/// The resolver's work limits (see the recursor's documentation for the peers' values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverLimits {
    /// Upstream queries per client question.
    pub max_upstream_queries: u32,
    /// Referrals followed per question.
    pub max_referrals: u32,
    /// CNAME and DNAME steps per question.
    pub max_cname_chain: u32,
    /// Glue-less NS names resolved per delegation.
    pub max_ns_names_resolved: u32,
    /// Server addresses tried per NS set.
    pub max_addresses_per_ns_set: u32,
    /// Glue-less sub-resolutions per client question.
    pub max_glueless_queries: u32,
    /// Nesting of sub-resolutions.
    pub max_dependency_depth: u32,
    /// Total time per client question, milliseconds.
    pub max_question_millis: u64,
    /// Queries outstanding toward one upstream server.
    pub max_outstanding_per_server: u32,
    /// Resolutions in flight per client address.
    pub max_resolutions_per_client: u32,
    /// Resolutions in flight in all.
    pub max_mesh: u32,
    /// Clients waiting on one resolution.
    pub max_waiters: u32,
}

/// The `[resolver]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolverConfig {
    /// Whether the server resolves for clients at all.
    pub enabled: bool,
    /// A root hints file (zone-file format, like named.root); the built-in hints when `None`.
    pub root_hints: Option<PathBuf>,
    /// Clients offered recursion.
    pub allow_recursion: Vec<Prefix>,
    /// QNAME minimisation.
    pub qname_minimisation: QnameMinimisation,
    /// 0x20 case randomisation of upstream questions.
    pub case_randomisation: bool,
    /// DNS cookies toward upstreams.
    pub cookies: bool,
    /// Query loopback and private upstream addresses, resolve special-use names, and serve no
    /// local zones.
    pub insecure_local_upstreams: bool,
    /// Ask IPv4 upstreams.
    pub ipv4: bool,
    /// Ask IPv6 upstreams.
    pub ipv6: bool,
    /// EDNS payload size announced upstream.
    pub edns_payload: u16,
    /// Seconds a failed resolution is remembered (RFC 9520).
    pub failure_ttl: u32,
    /// Servers remembered by the infrastructure cache.
    pub infra_max_servers: u32,
    /// Driver tasks, each running one recursor.
    pub drivers: u16,
    /// Client questions queued per driver.
    pub queue: u32,
    /// Strict mode: nothing leaves over plain DNS (every server is an encrypted forwarder).
    pub encrypted_only: bool,
    /// Work limits.
    pub limits: ResolverLimits,
}

/// The `[cache]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// Memory budget in bytes.
    pub max_bytes: u64,
    /// Shards (a power of two).
    pub shards: u32,
    /// Smallest TTL kept, seconds.
    pub min_ttl: u32,
    /// Largest TTL kept, seconds.
    pub max_ttl: u32,
    /// Largest negative TTL kept, seconds.
    pub max_negative_ttl: u32,
    /// Serve expired data when resolution fails (RFC 8767).
    pub serve_stale: bool,
    /// Seconds past expiry that data may still be served stale.
    pub max_stale: u32,
    /// TTL of a stale answer.
    pub stale_answer_ttl: u32,
    /// Milliseconds a client waits for a resolution before it is answered from stale data
    /// (RFC 8767 section 5, the client response timer); 0 = only when resolution fails.
    pub stale_answer_client_timeout: u32,
    /// Refresh entries asked for in the last tenth of their TTL.
    pub prefetch: bool,
}

/// One `[[forward]]` or `[[stub]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardConfig {
    /// The zone (`.` for everything).
    pub zone: Name,
    /// The servers' addresses, in the order written (encrypted ones included).
    pub to: Vec<SocketAddr>,
    /// The servers of `to` reached over an encrypted protocol; the others are plain DNS.
    pub secure: Vec<SecureServer>,
    /// What the encrypted servers' certificates are checked against (`ca`, `spki_pins`,
    /// `tls_insecure`; the system's CA bundle by default).
    pub trust: Trust,
    /// How a server is chosen for a query (`selection`).
    pub selection: Selection,
    /// `[[stub]]` (authoritative servers, RD=0) rather than `[[forward]]` (recursive, RD=1).
    pub stub: bool,
    /// Where it was configured (`command line` for `--forward`).
    pub defined_at: Location,
}

impl ForwardConfig {
    /// A forward or stub whose servers are all plain DNS, chosen by RTT.
    pub fn plain(zone: Name, to: Vec<SocketAddr>, stub: bool, defined_at: Location) -> Self {
        ForwardConfig {
            zone,
            to,
            secure: Vec::new(),
            trust: Trust::System,
            selection: Selection::Fastest,
            stub,
            defined_at,
        }
    }

    /// Whether the server at `addr` is asked over plain DNS.
    pub fn is_plain(&self, addr: SocketAddr) -> bool {
        !self.secure.iter().any(|s| s.addr == addr)
    }

    /// Replaces the servers by `targets` (`--forward`), keeping the trust and selection.
    pub fn set_targets(&mut self, targets: &[ForwardTarget]) {
        self.to.clear();
        self.secure.clear();
        for t in targets {
            self.add_target(t);
        }
    }

    /// The server at `addr`, as it would be written.
    pub fn target(&self, addr: SocketAddr) -> Option<ForwardTarget> {
        if !self.to.contains(&addr) {
            return None;
        }
        Some(match self.secure.iter().find(|s| s.addr == addr) {
            Some(s) => ForwardTarget::Secure(s.clone()),
            None => ForwardTarget::Plain(addr),
        })
    }

    /// Adds a server (when its address is not there yet).
    pub fn add_target(&mut self, target: &ForwardTarget) {
        let addr = target.addr();
        if self.to.contains(&addr) {
            return;
        }
        self.to.push(addr);
        if let ForwardTarget::Secure(s) = target {
            self.secure.push(s.clone());
        }
    }
}

/// A server reached over an encrypted protocol: `tls://`, `https://` or `quic://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecureServer {
    /// The protocol.
    pub scheme: Scheme,
    /// Its address (a host name in an `https://` URL is resolved when the file is read).
    pub addr: SocketAddr,
    /// The name its certificate is checked for: the name before `@`, the host name of an
    /// `https://` URL, else the address itself.
    pub name: String,
    /// The HTTP path of an `https://` server (`/dns-query` unless written); empty otherwise.
    pub path: String,
}

/// One server of `forward.to` or `--forward`, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForwardTarget {
    /// `ADDR[:PORT]`: plain DNS (port 53 by default).
    Plain(SocketAddr),
    /// `tls://`, `https://` or `quic://`.
    Secure(SecureServer),
}

impl ForwardTarget {
    /// The address the recursor sends to.
    pub fn addr(&self) -> SocketAddr {
        match self {
            ForwardTarget::Plain(a) => *a,
            ForwardTarget::Secure(s) => s.addr,
        }
    }
}

/// SPKI pins (SHA-256 digests) as read from `forward.spki_pins`.
pub type Pins = Vec<[u8; 32]>;

/// The HTTP path of an `https://` forwarder when the URL has none (RFC 8484's example).
pub const DEFAULT_DOH_PATH: &str = "/dns-query";
/// Longest certificate name (a domain name in text) and HTTP path accepted in a URL.
const MAX_URL_PART: usize = 255;

/// Parses a forward target: `ADDR[:PORT]`, `tls://[NAME@]ADDR[:PORT]`,
/// `https://[NAME@]ADDR[:PORT][/PATH]`, `https://HOST[:PORT][/PATH]` (HOST resolved now, with
/// the system resolver, and used as the certificate name) or `quic://[NAME@]ADDR[:PORT]`.
pub fn forward_target(s: &str) -> Result<ForwardTarget, String> {
    let Some((scheme_text, rest)) = s.split_once("://") else {
        return server_addr(s).map(ForwardTarget::Plain);
    };
    let scheme = Scheme::from_name(&scheme_text.to_ascii_lowercase()).ok_or_else(|| {
        format!("`{s}`: unknown scheme `{scheme_text}://` (use tls://, https:// or quic://)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let path = match (scheme, path) {
        (Scheme::Https, "") => DEFAULT_DOH_PATH.to_string(),
        (Scheme::Https, p) => p.to_string(),
        (_, "") => String::new(),
        (_, p) => {
            return Err(format!(
                "`{s}`: a {}:// server has no path (`{p}`)",
                scheme.name()
            ));
        }
    };
    if path.len() > MAX_URL_PART || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{s}`: the path is not a usable HTTP path"));
    }
    let (name, host_port) = match authority.rsplit_once('@') {
        Some((name, host)) => (Some(name), host),
        None => (None, authority),
    };
    if let Some(name) = name
        && (name.is_empty() || name.len() > MAX_URL_PART)
    {
        return Err(format!(
            "`{s}`: the certificate name before `@` is empty or too long"
        ));
    }
    let (host, port) = split_host_port(host_port)
        .ok_or_else(|| format!("`{s}`: `{host_port}` is not ADDR[:PORT]"))?;
    let port = port.unwrap_or(scheme.default_port());
    let (addr, host_name) = match host.parse::<IpAddr>() {
        Ok(ip) => (SocketAddr::new(ip, port), None),
        Err(_) if scheme == Scheme::Https && name.is_none() => (
            resolve_host(host, port).map_err(|e| format!("`{s}`: {e}"))?,
            Some(host),
        ),
        Err(_) => {
            return Err(format!(
                "`{s}`: `{host}` is not an IP address (write the certificate name before `@`: \
                 {}://NAME@ADDR)",
                scheme.name()
            ));
        }
    };
    let name = name
        .or(host_name)
        .map_or_else(|| addr.ip().to_string(), str::to_string);
    if rustls_pki_types::ServerName::try_from(name.as_str()).is_err() {
        return Err(format!(
            "`{s}`: `{name}` is not a DNS name or an IP address"
        ));
    }
    Ok(ForwardTarget::Secure(SecureServer {
        scheme,
        addr,
        name,
        path,
    }))
}

/// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address: the host and the port.
fn split_host_port(s: &str) -> Option<(&str, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            p => Some((host, Some(p.strip_prefix(':')?.parse().ok()?))),
        };
    }
    if s.parse::<IpAddr>().is_ok() {
        return Some((s, None));
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && !host.is_empty() => {
            Some((host, Some(port.parse().ok()?)))
        }
        Some(_) => None,
        None if s.is_empty() => None,
        None => Some((s, None)),
    }
}

/// The first address of `host` from the system resolver (`getaddrinfo`), once, when the
/// configuration is read: the resolver must not depend on itself to find its upstream.
fn resolve_host(host: &str, port: u16) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{host}` has no address"))
}

// ---------------------------------------------------------------------------------------------
// The sections as written
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct ResolverSection {
    #[serde(deserialize_with = "de_enabled")]
    enabled: bool,
    #[serde(deserialize_with = "de_root_hints")]
    root_hints: Option<PathBuf>,
    #[serde(deserialize_with = "de_allow_recursion")]
    allow_recursion: Vec<Prefix>,
    #[serde(deserialize_with = "de_qname_minimisation")]
    qname_minimisation: QnameMinimisation,
    #[serde(deserialize_with = "de_case_randomisation")]
    case_randomisation: bool,
    #[serde(deserialize_with = "de_cookies")]
    cookies: bool,
    #[serde(deserialize_with = "de_insecure_local_upstreams")]
    insecure_local_upstreams: bool,
    #[serde(deserialize_with = "de_ipv4")]
    ipv4: bool,
    #[serde(deserialize_with = "de_ipv6")]
    ipv6: bool,
    #[serde(deserialize_with = "de_edns_payload")]
    edns_payload: u64,
    #[serde(deserialize_with = "de_failure_ttl")]
    failure_ttl: u64,
    #[serde(deserialize_with = "de_infra_max_servers")]
    infra_max_servers: u64,
    #[serde(deserialize_with = "de_drivers")]
    drivers: u64,
    #[serde(deserialize_with = "de_queue")]
    queue: u64,
    #[serde(deserialize_with = "de_encrypted_only")]
    encrypted_only: bool,
    #[serde(deserialize_with = "de_max_upstream_queries")]
    max_upstream_queries: u64,
    #[serde(deserialize_with = "de_max_referrals")]
    max_referrals: u64,
    #[serde(deserialize_with = "de_max_cname_chain")]
    max_cname_chain: u64,
    #[serde(deserialize_with = "de_max_ns_names_resolved")]
    max_ns_names_resolved: u64,
    #[serde(deserialize_with = "de_max_addresses_per_ns_set")]
    max_addresses_per_ns_set: u64,
    #[serde(deserialize_with = "de_max_glueless_queries")]
    max_glueless_queries: u64,
    #[serde(deserialize_with = "de_max_dependency_depth")]
    max_dependency_depth: u64,
    #[serde(deserialize_with = "de_max_question_millis")]
    max_question_millis: u64,
    #[serde(deserialize_with = "de_max_outstanding_per_server")]
    max_outstanding_per_server: u64,
    #[serde(deserialize_with = "de_max_resolutions_per_client")]
    max_resolutions_per_client: u64,
    #[serde(deserialize_with = "de_max_mesh")]
    max_mesh: u64,
    #[serde(deserialize_with = "de_max_waiters")]
    max_waiters: u64,
}

impl Default for ResolverSection {
    /// The documented defaults (docs/CONFIG.md).
    fn default() -> ResolverSection {
        ResolverSection {
            enabled: false,
            root_hints: None,
            allow_recursion: default_allow_recursion(),
            qname_minimisation: QnameMinimisation::Relaxed,
            case_randomisation: true,
            cookies: true,
            insecure_local_upstreams: false,
            ipv4: true,
            ipv6: true,
            edns_payload: 1232,
            failure_ttl: 5,
            infra_max_servers: 10_000,
            drivers: default_drivers(),
            queue: 4096,
            encrypted_only: false,
            max_upstream_queries: 50,
            max_referrals: 30,
            max_cname_chain: 12,
            max_ns_names_resolved: 5,
            max_addresses_per_ns_set: 12,
            max_glueless_queries: 10,
            max_dependency_depth: 7,
            max_question_millis: 10_000,
            max_outstanding_per_server: 200,
            max_resolutions_per_client: 1000,
            max_mesh: 10_000,
            max_waiters: 100,
        }
    }
}

/// The default recursion ACL, parsed.
pub fn default_allow_recursion() -> Vec<Prefix> {
    DEFAULT_ALLOW_RECURSION
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The default number of resolver drivers: the CPUs available, at most 4.
pub fn default_drivers() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4) as u64)
}

impl ResolverSection {
    /// The typed section; `base_dir` resolves a relative hints path.
    pub(super) fn into_config(self, base_dir: Option<&std::path::Path>) -> ResolverConfig {
        // Every value was checked against bounds that fit the narrower types.
        let n32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        ResolverConfig {
            enabled: self.enabled,
            root_hints: self.root_hints.map(|p| super::relative_to(base_dir, p)),
            allow_recursion: self.allow_recursion,
            qname_minimisation: self.qname_minimisation,
            case_randomisation: self.case_randomisation,
            cookies: self.cookies,
            insecure_local_upstreams: self.insecure_local_upstreams,
            ipv4: self.ipv4,
            ipv6: self.ipv6,
            edns_payload: u16::try_from(self.edns_payload).unwrap_or(1232),
            failure_ttl: n32(self.failure_ttl),
            infra_max_servers: n32(self.infra_max_servers),
            drivers: u16::try_from(self.drivers).unwrap_or(1),
            queue: n32(self.queue),
            encrypted_only: self.encrypted_only,
            limits: ResolverLimits {
                max_upstream_queries: n32(self.max_upstream_queries),
                max_referrals: n32(self.max_referrals),
                max_cname_chain: n32(self.max_cname_chain),
                max_ns_names_resolved: n32(self.max_ns_names_resolved),
                max_addresses_per_ns_set: n32(self.max_addresses_per_ns_set),
                max_glueless_queries: n32(self.max_glueless_queries),
                max_dependency_depth: n32(self.max_dependency_depth),
                max_question_millis: self.max_question_millis,
                max_outstanding_per_server: n32(self.max_outstanding_per_server),
                max_resolutions_per_client: n32(self.max_resolutions_per_client),
                max_mesh: n32(self.max_mesh),
                max_waiters: n32(self.max_waiters),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct CacheSection {
    #[serde(deserialize_with = "de_max_bytes")]
    max_bytes: u64,
    #[serde(deserialize_with = "de_shards")]
    shards: u64,
    #[serde(deserialize_with = "de_min_ttl")]
    min_ttl: u64,
    #[serde(deserialize_with = "de_max_ttl")]
    max_ttl: u64,
    #[serde(deserialize_with = "de_max_negative_ttl")]
    max_negative_ttl: u64,
    #[serde(deserialize_with = "de_serve_stale")]
    serve_stale: bool,
    #[serde(deserialize_with = "de_max_stale")]
    max_stale: u64,
    #[serde(deserialize_with = "de_stale_answer_ttl")]
    stale_answer_ttl: u64,
    #[serde(deserialize_with = "de_stale_answer_client_timeout")]
    stale_answer_client_timeout: u64,
    #[serde(deserialize_with = "de_prefetch")]
    prefetch: bool,
}

impl Default for CacheSection {
    fn default() -> CacheSection {
        CacheSection {
            max_bytes: 64 << 20,
            shards: 16,
            min_ttl: 0,
            max_ttl: 86_400,
            max_negative_ttl: 3600,
            serve_stale: true,
            max_stale: 86_400,
            stale_answer_ttl: 30,
            stale_answer_client_timeout: 1800,
            prefetch: true,
        }
    }
}

impl CacheSection {
    /// The typed section, with the checks between keys.
    pub(super) fn into_settings(self) -> Result<CacheSettings, String> {
        if !self.shards.is_power_of_two() {
            return Err(format!(
                "cache.shards: {} is not a power of two (1, 2, 4, ... 1024)",
                self.shards
            ));
        }
        if self.min_ttl > self.max_ttl {
            return Err(format!(
                "cache.min_ttl ({}) is above cache.max_ttl ({})",
                self.min_ttl, self.max_ttl
            ));
        }
        let n32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(CacheSettings {
            max_bytes: self.max_bytes,
            shards: n32(self.shards),
            min_ttl: n32(self.min_ttl),
            max_ttl: n32(self.max_ttl),
            max_negative_ttl: n32(self.max_negative_ttl),
            serve_stale: self.serve_stale,
            max_stale: n32(self.max_stale),
            stale_answer_ttl: n32(self.stale_answer_ttl),
            stale_answer_client_timeout: n32(self.stale_answer_client_timeout),
            prefetch: self.prefetch,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForwardSection {
    #[serde(deserialize_with = "de_forward_zone")]
    pub(super) zone: Name,
    #[serde(deserialize_with = "de_forward_to")]
    pub(super) to: Vec<ForwardTarget>,
    #[serde(default, deserialize_with = "de_forward_ca")]
    pub(super) ca: Option<Spanned<PathBuf>>,
    #[serde(default, deserialize_with = "de_forward_pins")]
    pub(super) spki_pins: Option<Spanned<Pins>>,
    #[serde(default, deserialize_with = "de_forward_selection")]
    pub(super) selection: Selection,
    #[serde(default, deserialize_with = "de_forward_tls_insecure")]
    pub(super) tls_insecure: Option<Spanned<bool>>,
}

impl ForwardSection {
    /// The typed forward, defined at `defined_at`; `at` locates a key's value. The trust keys
    /// exclude each other and need an encrypted server.
    pub(super) fn into_config(
        self,
        defined_at: Location,
        at: impl Fn(std::ops::Range<usize>) -> Location,
        base_dir: Option<&std::path::Path>,
    ) -> Result<ForwardConfig, ConfigError> {
        let insecure = self.tls_insecure.filter(|b| *b.get_ref());
        let given: Vec<(&str, std::ops::Range<usize>)> = [
            self.ca.as_ref().map(|c| ("forward.ca", c.span())),
            self.spki_pins
                .as_ref()
                .map(|p| ("forward.spki_pins", p.span())),
            insecure
                .as_ref()
                .map(|i| ("forward.tls_insecure", i.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let [first, second, ..] = given.as_slice() {
            return Err(ConfigError::at(
                at(second.1.clone()),
                format!(
                    "{}: give only one of forward.ca, forward.spki_pins and \
                     forward.tls_insecure ({} is set too)",
                    second.0, first.0
                ),
            ));
        }
        let mut config = ForwardConfig::plain(self.zone, Vec::new(), false, defined_at);
        for t in &self.to {
            config.add_target(t);
        }
        if let Some((key, span)) = given.first()
            && config.secure.is_empty()
        {
            return Err(ConfigError::at(
                at(span.clone()),
                format!(
                    "{key}: no server in forward.to is encrypted (tls://, https:// or quic://), \
                     so there is no certificate to check"
                ),
            ));
        }
        config.trust = match (self.ca, self.spki_pins, insecure) {
            (Some(ca), _, _) => Trust::Ca(super::relative_to(base_dir, ca.into_inner())),
            (_, Some(pins), _) => Trust::Pins(pins.into_inner()),
            (_, _, Some(_)) => Trust::Insecure,
            _ => Trust::System,
        };
        config.selection = self.selection;
        Ok(config)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StubSection {
    #[serde(deserialize_with = "de_stub_zone")]
    pub(super) zone: Name,
    #[serde(deserialize_with = "de_stub_servers")]
    pub(super) servers: Vec<SocketAddr>,
}

/// The spanned tables of `[[forward]]`.
pub(super) type Forwards = Vec<Spanned<ForwardSection>>;
/// The spanned tables of `[[stub]]`.
pub(super) type Stubs = Vec<Spanned<StubSection>>;

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// A server address: `ADDR:PORT`, `[V6]:PORT`, or a bare address (port 53).
pub fn server_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    s.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| {
            format!(
                "`{s}` is not an address, such as 192.0.2.53, 192.0.2.53:5353 or [2001:db8::53]:53"
            )
        })
}

/// A size in bytes: an integer, or a string with a binary suffix (`"64M"`, `"512K"`, `"1G"`,
/// `"1T"`; `"64MiB"` and `"64MB"` too, both meaning 2^20 bytes per M).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as \"64M\" or 67108864"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("`{s}`: unknown unit (use K, M, G or T)")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

// ---------------------------------------------------------------------------------------------
// Deserializers: each names its key
// ---------------------------------------------------------------------------------------------

macro_rules! de_bool {
    ($($f:ident = $key:literal;)*) => {$(
        fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
            keyed(d, $key)
        }
    )*};
}

de_bool! {
    de_enabled = "resolver.enabled";
    de_case_randomisation = "resolver.case_randomisation";
    de_cookies = "resolver.cookies";
    de_insecure_local_upstreams = "resolver.insecure_local_upstreams";
    de_ipv4 = "resolver.ipv4";
    de_ipv6 = "resolver.ipv6";
    de_encrypted_only = "resolver.encrypted_only";
    de_serve_stale = "cache.serve_stale";
    de_prefetch = "cache.prefetch";
}

macro_rules! de_int {
    ($($f:ident = $bounds:ident;)*) => {$(
        fn $f<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
            int(d, $bounds)
        }
    )*};
}

de_int! {
    de_edns_payload = EDNS_PAYLOAD;
    de_failure_ttl = FAILURE_TTL;
    de_infra_max_servers = INFRA_MAX_SERVERS;
    de_drivers = DRIVERS;
    de_queue = QUEUE;
    de_max_upstream_queries = MAX_UPSTREAM_QUERIES;
    de_max_referrals = MAX_REFERRALS;
    de_max_cname_chain = MAX_CNAME_CHAIN;
    de_max_ns_names_resolved = MAX_NS_NAMES_RESOLVED;
    de_max_addresses_per_ns_set = MAX_ADDRESSES_PER_NS_SET;
    de_max_glueless_queries = MAX_GLUELESS_QUERIES;
    de_max_dependency_depth = MAX_DEPENDENCY_DEPTH;
    de_max_question_millis = MAX_QUESTION_MILLIS;
    de_max_outstanding_per_server = MAX_OUTSTANDING_PER_SERVER;
    de_max_resolutions_per_client = MAX_RESOLUTIONS_PER_CLIENT;
    de_max_mesh = MAX_MESH;
    de_max_waiters = MAX_WAITERS;
    de_shards = CACHE_SHARDS;
    de_min_ttl = MIN_TTL;
    de_max_ttl = MAX_TTL;
    de_max_negative_ttl = MAX_NEGATIVE_TTL;
    de_max_stale = MAX_STALE;
    de_stale_answer_ttl = STALE_ANSWER_TTL;
    de_stale_answer_client_timeout = STALE_ANSWER_CLIENT_TIMEOUT;
}

fn de_root_hints<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let key = "resolver.root_hints";
    let s: String = keyed(d, key)?;
    if s.is_empty() {
        return Err(D::Error::custom(format!("{key}: the path is empty")));
    }
    Ok(Some(PathBuf::from(s)))
}

fn de_allow_recursion<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Prefix>, D::Error> {
    prefixes(d, "resolver.allow_recursion")
}

fn de_qname_minimisation<'de, D: Deserializer<'de>>(d: D) -> Result<QnameMinimisation, D::Error> {
    let key = "resolver.qname_minimisation";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "off" => Ok(QnameMinimisation::Off),
        "relaxed" => Ok(QnameMinimisation::Relaxed),
        "strict" => Ok(QnameMinimisation::Strict),
        _ => Err(D::Error::custom(format!(
            "{key}: `{s}` is not one of \"off\", \"relaxed\", \"strict\""
        ))),
    }
}

fn de_max_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Size {
        Int(i64),
        Text(String),
    }
    let b = CACHE_MAX_BYTES;
    let v = match keyed::<Size, D>(d, b.key)? {
        Size::Int(n) => {
            u64::try_from(n).map_err(|_| D::Error::custom(format!("{}: {n} is negative", b.key)))?
        }
        Size::Text(s) => parse_size(&s).map_err(|e| D::Error::custom(format!("{}: {e}", b.key)))?,
    };
    if !(b.min..=b.max).contains(&v) {
        return Err(D::Error::custom(format!(
            "{}: {v} bytes is out of bounds: it must be from 1M (1048576) to 1T (1099511627776)",
            b.key
        )));
    }
    Ok(v)
}

fn zone_key<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Name, D::Error> {
    let s: String = keyed(d, key)?;
    parse_origin(&s).map_err(|m| D::Error::custom(format!("{key}: {m}")))
}

fn servers<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<SocketAddr>, D::Error> {
    let list: Vec<String> = keyed(d, key)?;
    if list.is_empty() || list.len() > MAX_FORWARD_SERVERS {
        return Err(D::Error::custom(format!(
            "{key}: give 1 to {MAX_FORWARD_SERVERS} servers, not {}",
            list.len()
        )));
    }
    let mut out: Vec<SocketAddr> = Vec::with_capacity(list.len());
    for s in list {
        let a = server_addr(&s).map_err(|e| D::Error::custom(format!("{key}: {e}")))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn de_forward_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    zone_key(d, "forward.zone")
}

fn de_forward_to<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ForwardTarget>, D::Error> {
    let key = "forward.to";
    let list: Vec<String> = keyed(d, key)?;
    if list.is_empty() || list.len() > MAX_FORWARD_SERVERS {
        return Err(D::Error::custom(format!(
            "{key}: give 1 to {MAX_FORWARD_SERVERS} servers, not {}",
            list.len()
        )));
    }
    let mut out: Vec<ForwardTarget> = Vec::with_capacity(list.len());
    for s in list {
        let t = forward_target(&s).map_err(|e| D::Error::custom(format!("{key}: {e}")))?;
        match out.iter().find(|o| o.addr() == t.addr()) {
            Some(o) if *o == t => {}
            Some(_) => {
                return Err(D::Error::custom(format!(
                    "{key}: `{s}`: {} is listed twice, in two different ways",
                    t.addr()
                )));
            }
            None => out.push(t),
        }
    }
    Ok(out)
}

fn de_forward_ca<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<PathBuf>>, D::Error> {
    let key = "forward.ca";
    let s: Spanned<String> = keyed(d, key)?;
    if s.get_ref().is_empty() {
        return Err(D::Error::custom(format!("{key}: the path is empty")));
    }
    let span = s.span();
    Ok(Some(Spanned::new(span, PathBuf::from(s.into_inner()))))
}

fn de_forward_pins<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<Pins>>, D::Error> {
    let key = "forward.spki_pins";
    let list: Spanned<Vec<String>> = keyed(d, key)?;
    let span = list.span();
    let list = list.into_inner();
    let max = transport::client_tls::MAX_PINS;
    if list.is_empty() || list.len() > max {
        return Err(D::Error::custom(format!(
            "{key}: give 1 to {max} pins, not {}",
            list.len()
        )));
    }
    let pins = list
        .iter()
        .map(|p| transport::client_tls::parse_pin(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| D::Error::custom(format!("{key}: {e}")))?;
    Ok(Some(Spanned::new(span, pins)))
}

fn de_forward_selection<'de, D: Deserializer<'de>>(d: D) -> Result<Selection, D::Error> {
    let key = "forward.selection";
    let s: String = keyed(d, key)?;
    match s.as_str() {
        "fastest" => Ok(Selection::Fastest),
        "order" => Ok(Selection::Order),
        _ => Err(D::Error::custom(format!(
            "{key}: `{s}` is not one of \"fastest\", \"order\""
        ))),
    }
}

fn de_forward_tls_insecure<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<bool>>, D::Error> {
    keyed(d, "forward.tls_insecure").map(Some)
}

fn de_stub_zone<'de, D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    zone_key(d, "stub.zone")
}

fn de_stub_servers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    servers(d, "stub.servers")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("M").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            server_addr("192.0.2.53"),
            Ok("192.0.2.53:53".parse().unwrap())
        );
        assert_eq!(
            server_addr("192.0.2.53:5353"),
            Ok("192.0.2.53:5353".parse().unwrap())
        );
        assert_eq!(server_addr("::1"), Ok("[::1]:53".parse().unwrap()));
        assert!(server_addr("ns.example").is_err());
    }

    #[test]
    fn default_acl_is_loopback_and_private() {
        let acl = default_allow_recursion();
        assert_eq!(acl.len(), DEFAULT_ALLOW_RECURSION.len());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(acl.iter().any(|p| p.contains(ip("172.31.1.1"))));
        assert!(!acl.iter().any(|p| p.contains(ip("172.32.1.1"))));
        assert!(!acl.iter().any(|p| p.contains(ip("8.8.8.8"))));
    }
}
