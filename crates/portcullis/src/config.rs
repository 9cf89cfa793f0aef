//! The configuration file: TOML, read into a typed [`Config`] in which every value is already
//! within its bounds.
//!
//! Rules (docs/CONFIG.md lists every setting):
//! - an unknown key is an error, not a typo silently ignored;
//! - every setting has a default, so an empty file is a valid configuration, and bounds,
//!   enforced when the file is read; an error names the key and where it was written
//!   (`file:line:column`);
//! - without `--config`, the configuration embedded in the binary ([`DEFAULT_CONFIG`], the
//!   text of `src/default.toml`) is used: it serves the small zone `portcullis.test.`, written
//!   inline, so a fresh install answers something;
//! - command-line flags override the file ([`Overrides`]): `--listen` replaces the listeners,
//!   `--zone` adds zones, `--allow-transfer` adds to the global transfer ACL, `--trust-anchor`
//!   replaces the trust anchors;
//! - `--zone` without `--config` runs an authoritative server for just the zones given: the
//!   built-in zone is left out, and the built-in resolver too unless a resolver flag
//!   (`--root-hints`, `--forward`, `--allow-recursion`, `--insecure-local-upstreams`) asks
//!   for it.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Error as _};
use toml::Spanned;
use wire::Name;

use crate::prefix::Prefix;

pub mod acl;
pub mod cookies;
pub mod dashboard;
pub mod detect;
pub mod dnssec;
pub mod events;
pub mod https;
pub mod limits;
pub mod policy;
pub mod quic;
pub mod resolver;
pub mod rrl;
pub mod signing;
pub mod tls;

pub use self::dnssec::DnssecSettings;
pub use acl::AclSettings;
pub use cookies::CookieSettings;
pub use detect::DetectSettings;
pub use https::HttpsSettings;
pub use limits::LimitsSettings;
pub use policy::{PolicySettings, RpzArg};
pub use quic::QuicSettings;
pub use resolver::{
    CacheSettings, ForwardConfig, ForwardTarget, QnameMinimisation, ResolverConfig, ResolverLimits,
    SecureServer,
};
pub use rrl::RrlSettings;
pub use signing::SigningSettings;
pub use tls::TlsSettings;

/// The default configuration, embedded in the binary: `portcullis config default` prints it.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// How the embedded default configuration is named in messages.
pub const DEFAULT_CONFIG_LABEL: &str = "<default config>";

// ---------------------------------------------------------------------------------------------
// Bounds
// ---------------------------------------------------------------------------------------------

/// The bounds of an integer setting.
#[derive(Clone, Copy, Debug)]
pub struct IntBounds {
    /// The key, as `section.key`.
    pub key: &'static str,
    /// Smallest value accepted.
    pub min: u64,
    /// Largest value accepted.
    pub max: u64,
}

/// `server.workers`: worker threads.
pub const WORKERS: IntBounds = IntBounds {
    key: "server.workers",
    min: 1,
    max: 1024,
};
/// `server.udp_payload`: the largest UDP response, in bytes.
pub const UDP_PAYLOAD: IntBounds = IntBounds {
    key: "server.udp_payload",
    min: 512,
    max: 4096,
};
/// `server.tcp_idle_timeout`: seconds an idle TCP connection is kept.
pub const TCP_IDLE_TIMEOUT: IntBounds = IntBounds {
    key: "server.tcp_idle_timeout",
    min: 1,
    max: 300,
};
/// `server.tcp_max_connections`: open TCP connections, in all.
pub const TCP_MAX_CONNECTIONS: IntBounds = IntBounds {
    key: "server.tcp_max_connections",
    min: 1,
    max: 1_000_000,
};
/// `server.tcp_max_connections_per_client`: open TCP connections from one client address.
pub const TCP_MAX_CONNECTIONS_PER_CLIENT: IntBounds = IntBounds {
    key: "server.tcp_max_connections_per_client",
    min: 1,
    max: 65_535,
};

/// `server.tcp_max_queries_per_connection`: queries answered on one TCP connection before it
/// is closed; 0 for no limit.
pub const TCP_MAX_QUERIES_PER_CONNECTION: IntBounds = IntBounds {
    key: "server.tcp_max_queries_per_connection",
    min: 0,
    max: 1_000_000,
};

/// Every integer setting, for the documentation test.
pub const INT_SETTINGS: [IntBounds; 6] = [
    WORKERS,
    UDP_PAYLOAD,
    TCP_IDLE_TIMEOUT,
    TCP_MAX_CONNECTIONS,
    TCP_MAX_CONNECTIONS_PER_CLIENT,
    TCP_MAX_QUERIES_PER_CONNECTION,
];

/// Most listen addresses.
pub const MAX_LISTEN: usize = 64;
/// Longest `server.nsid`, in bytes.
pub const MAX_NSID: usize = 128;
/// Longest `server.version`, `server.hostname` and `server.server_id`, in bytes: one TXT
/// character-string.
pub const MAX_IDENTITY: usize = 255;
/// Longest `server.user`, in bytes.
pub const MAX_USER: usize = 32;
/// Longest `server.control_socket` path, in bytes: a Unix socket address holds 107 and a NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// Every key the file may hold, as `section.key` (`zone.*` for the keys of a `[[zone]]`).
pub const KEYS: &[&str] = &[
    "server.listen",
    "server.workers",
    "server.user",
    "server.nsid",
    "server.version",
    "server.hostname",
    "server.server_id",
    "server.udp_payload",
    "server.tcp_idle_timeout",
    "server.tcp_max_connections",
    "server.tcp_max_connections_per_client",
    "server.tcp_max_queries_per_connection",
    "server.control_socket",
    "server.http",
    "server.http_token",
    "server.http_token_file",
    "server.log_level",
    "server.allow_transfer",
    "zone.origin",
    "zone.file",
    "zone.text",
    "zone.allow_transfer",
    "zone.dnssec",
    "resolver.enabled",
    "resolver.root_hints",
    "resolver.allow_recursion",
    "resolver.qname_minimisation",
    "resolver.case_randomisation",
    "resolver.cookies",
    "resolver.insecure_local_upstreams",
    "resolver.ipv4",
    "resolver.ipv6",
    "resolver.edns_payload",
    "resolver.failure_ttl",
    "resolver.infra_max_servers",
    "resolver.drivers",
    "resolver.queue",
    "resolver.encrypted_only",
    "resolver.max_upstream_queries",
    "resolver.max_referrals",
    "resolver.max_cname_chain",
    "resolver.max_ns_names_resolved",
    "resolver.max_addresses_per_ns_set",
    "resolver.max_glueless_queries",
    "resolver.max_dependency_depth",
    "resolver.max_question_millis",
    "resolver.max_outstanding_per_server",
    "resolver.max_resolutions_per_client",
    "resolver.max_mesh",
    "resolver.max_waiters",
    "cache.max_bytes",
    "cache.shards",
    "cache.min_ttl",
    "cache.max_ttl",
    "cache.max_negative_ttl",
    "cache.serve_stale",
    "cache.max_stale",
    "cache.stale_answer_ttl",
    "cache.stale_answer_client_timeout",
    "cache.prefetch",
    "signing.algorithm",
    "signing.layout",
    "signing.denial",
    "signing.nsec3_opt_out",
    "signing.signature_validity",
    "signing.refresh",
    "signing.key_dir",
    "signing.zsk_lifetime",
    "signing.ksk_lifetime",
    "signing.propagation_delay",
    "signing.parent_servers",
    "forward.zone",
    "forward.to",
    "forward.ca",
    "forward.spki_pins",
    "forward.selection",
    "forward.tls_insecure",
    "stub.zone",
    "stub.servers",
    "dnssec.validation",
    "dnssec.trust_anchor_files",
    "dnssec.negative_trust_anchors",
    "dnssec.auto_trust_anchor_file",
    "dnssec.allow_sha1",
    "dnssec.bogus_ttl",
    "dnssec.max_nsec3_iterations",
    "dnssec.aggressive_nsec",
    "dnssec.aggressive_nsec_records",
    "rrl.enabled",
    "rrl.responses_per_second",
    "rrl.nxdomains_per_second",
    "rrl.errors_per_second",
    "rrl.referrals_per_second",
    "rrl.window",
    "rrl.slip",
    "rrl.ipv4_prefix",
    "rrl.ipv6_prefix",
    "rrl.exempt",
    "rrl.log_only",
    "rrl.table_size",
    "policy.check_interval",
    "policy.max_entries",
    "policy.ttl",
    "blocklist.file",
    "blocklist.name",
    "blocklist.action",
    "blocklist.sinkhole",
    "blocklist.answer",
    "blocklist.ede",
    "allowlist.file",
    "allowlist.name",
    "rpz.origin",
    "rpz.file",
    "rpz.ede",
    "limits.enabled",
    "limits.query_rate",
    "limits.query_rate_action",
    "limits.large_response",
    "limits.ipv4_prefix",
    "limits.ipv6_prefix",
    "limits.exempt",
    "limits.table_size",
    "limits.max_blocks",
    "limits.zone_nxdomains_per_second",
    "limits.zone_queries_per_second",
    "limits.zone_hold",
    "limits.zone_table_size",
    "limits.rule.metric",
    "limits.rule.per_second",
    "limits.rule.window",
    "limits.rule.action",
    "limits.rule.duration",
    "cookies.enabled",
    "cookies.require",
    "cookies.secret",
    "cookies.previous_secret",
    "cookies.rotate_interval",
    "acl.lists",
    "acl.query",
    "acl.recursion",
    "acl.transfer",
    "acl.http",
    "acl.control",
    "acl.listener.listen",
    "acl.listener.query",
    "acl.listener.recursion",
    "events.file",
    "events.syslog",
    "events.syslog_facility",
    "events.queue",
    "events.max_per_second",
    "tls.listen",
    "tls.cert",
    "tls.key",
    "tls.min_version",
    "tls.handshake_timeout",
    "tls.name",
    "https.listen",
    "https.path",
    "https.json",
    "https.max_streams",
    "quic.listen",
    "quic.max_streams",
    "quic.idle_timeout",
    "detect.mode",
    "detect.block",
    "detect.block_for",
    "detect.per_client",
    "detect.rate_limit",
    "detect.domains",
    "detect.clients",
    "detect.verdicts",
    "detect.short_window",
    "detect.long_window",
    "detect.anomaly_window",
    "detect.learning",
    "detect.allow",
    "detect.allow_for",
    "detect.sinkhole",
    "detect.model",
    "detect.psl",
    "dashboard.enabled",
    "dashboard.top_capacity",
    "dashboard.top_sample",
    "dashboard.top_window",
    "dashboard.events",
    "dashboard.max_overrides",
];

// ---------------------------------------------------------------------------------------------
// The typed configuration
// ---------------------------------------------------------------------------------------------

/// A configuration that was read and checked: every value is within its bounds.
#[derive(Clone, Debug)]
pub struct Config {
    /// How the configuration is named in messages: its path, or [`DEFAULT_CONFIG_LABEL`].
    pub label: String,
    /// The `[server]` settings.
    pub server: ServerConfig,
    /// The zones served, in the order written (the zones of `--zone` last).
    pub zones: Vec<ZoneConfig>,
    /// The `[resolver]` settings.
    pub resolver: ResolverConfig,
    /// The `[cache]` settings.
    pub cache: CacheSettings,
    /// The `[[forward]]` and `[[stub]]` zones, forwards first, then stubs, each in the order
    /// written (`--forward` replaces a configured zone or adds one).
    pub forwards: Vec<ForwardConfig>,
    /// The `[dnssec]` settings.
    pub dnssec: DnssecSettings,
    /// The `[signing]` settings, for the zones with `dnssec = true`.
    pub signing: SigningSettings,
    /// The `[rrl]` settings: response rate limiting over UDP.
    pub rrl: RrlSettings,
    /// `[policy]`, `[[blocklist]]`, `[[allowlist]]`, `[[rpz]]`: blocklists and response policy.
    pub policy: PolicySettings,
    /// The `[limits]` settings: client limits, dynamic blocks, the random-subdomain defence.
    pub limits: LimitsSettings,
    /// The `[cookies]` settings: DNS cookies as a server.
    pub cookies: CookieSettings,
    /// The `[acl]` settings: access-control lists.
    pub acl: AclSettings,
    /// `[events]`: where security events are written.
    pub events: ::events::EventsConfig,
    /// `[tls]`: DNS over TLS serving, and the certificate of every encrypted listener.
    pub tls: TlsSettings,
    /// `[https]`: DNS over HTTPS serving.
    pub https: HttpsSettings,
    /// `[quic]`: DNS over QUIC serving (with `[tls]`'s certificate).
    pub quic: QuicSettings,
    /// `[detect]`: tunnelling and anomaly detection in the resolver.
    pub detect: DetectSettings,
    /// `[dashboard]`: the live web dashboard and its API on `server.http`.
    pub dashboard: dashboard::DashboardSettings,
}

/// The `[server]` section.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Addresses to answer DNS on; never empty, no duplicates.
    pub listen: Vec<SocketAddr>,
    /// Worker threads.
    pub workers: u16,
    /// User to switch to once the listeners are bound.
    pub user: Option<String>,
    /// EDNS NSID (RFC 5001) sent to clients that ask; none by default.
    pub nsid: Option<String>,
    /// Answer to CHAOS TXT `version.bind`; hidden (REFUSED) when absent.
    pub version: Option<String>,
    /// Answer to CHAOS TXT `hostname.bind`; hidden when absent.
    pub hostname: Option<String>,
    /// Answer to CHAOS TXT `id.server`; hidden when absent.
    pub server_id: Option<String>,
    /// Largest UDP response, in bytes (the EDNS payload size we advertise and honour).
    pub udp_payload: u16,
    /// How long an idle TCP connection is kept.
    pub tcp_idle_timeout: Duration,
    /// Open TCP connections, in all.
    pub tcp_max_connections: u32,
    /// Open TCP connections from one client address.
    pub tcp_max_connections_per_client: u32,
    /// Queries answered on one TCP connection before it is closed; 0: no limit.
    pub tcp_max_queries_per_connection: u32,
    /// Path of the control socket.
    pub control_socket: PathBuf,
    /// Address of the HTTP endpoint (`/metrics`); none by default.
    pub http: Option<SocketAddr>,
    /// The token the dashboard's API asks for (`server.http_token` or the file's content).
    pub http_token: Option<String>,
    /// Least severe log level written.
    pub log_level: LogLevel,
    /// Clients allowed zone transfers of every zone.
    pub allow_transfer: Vec<Prefix>,
}

/// One `[[zone]]`.
#[derive(Clone, Debug)]
pub struct ZoneConfig {
    /// The zone's apex.
    pub origin: Name,
    /// Where its records come from.
    pub source: ZoneSource,
    /// Clients allowed transfers of this zone, beside the global `server.allow_transfer`.
    pub allow_transfer: Vec<Prefix>,
    /// Serve the zone signed (`dnssec = true`, or `--sign ORIGIN`), as `[signing]` says.
    pub dnssec: bool,
    /// Where the zone was configured.
    pub defined_at: Location,
}

/// Where a zone's records come from.
#[derive(Clone, Debug)]
pub enum ZoneSource {
    /// A master file. A relative `file` in the configuration is taken from the configuration
    /// file's directory; a `--zone` file from the working directory.
    File(PathBuf),
    /// Master-file text written in the configuration; `first_line` is where its first line sits
    /// in the configuration file, so errors point there.
    Inline {
        /// The text.
        text: String,
        /// Line of the configuration file holding the text's first line.
        first_line: u32,
    },
}

/// The log levels, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// Informational messages too.
    Info,
    /// Debugging detail.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name used in the file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<LogLevel, String> {
        match s {
            "error" => Ok(LogLevel::Error),
            "warn" => Ok(LogLevel::Warn),
            "info" => Ok(LogLevel::Info),
            "debug" => Ok(LogLevel::Debug),
            "trace" => Ok(LogLevel::Trace),
            _ => Err(format!(
                "`{s}` is not a log level: use error, warn, info, debug or trace"
            )),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A place in a configuration file; the column counts characters, from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file's path, or [`DEFAULT_CONFIG_LABEL`], or `command line`.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

impl Location {
    /// The location of byte `offset` of `text`.
    pub fn of(file: &str, text: &str, offset: usize) -> Location {
        let before = text.get(..offset.min(text.len())).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).map_or(0, |l| l.chars().count()) + 1;
        Location {
            file: file.to_owned(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where, when the problem sits at one place in a file.
    pub location: Option<Location>,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn at(location: Location, message: impl Into<String>) -> ConfigError {
        ConfigError {
            location: Some(location),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    /// `file:line:column: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// A setting that is legal but probably not what was meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where, when known.
    pub location: Option<Location>,
    /// What looks wrong.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

impl Config {
    /// The embedded default configuration.
    pub fn builtin() -> Result<Config, ConfigError> {
        Config::from_toml(DEFAULT_CONFIG, DEFAULT_CONFIG_LABEL, None)
    }

    /// Reads the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            location: None,
            message: format!("{label}: cannot read the configuration: {e}"),
        })?;
        Config::from_toml(&text, &label, path.parent())
    }

    /// Reads configuration text; `label` names it in errors, and relative paths (zone files,
    /// the control socket) are taken from `base_dir` (the working directory when `None`).
    pub fn from_toml(
        text: &str,
        label: &str,
        base_dir: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            let location = e.span().map(|s| Location::of(label, text, s.start));
            ConfigError {
                location,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        let at = |span: Range<usize>| Location::of(label, text, span.start);

        let mut zones: Vec<ZoneConfig> = Vec::with_capacity(file.zones.len());
        for entry in file.zones {
            let defined_at = at(entry.span());
            let zone = entry.into_inner();
            let source = match (zone.file, zone.text) {
                (Some(path), None) => {
                    let path = path.into_inner();
                    ZoneSource::File(relative_to(base_dir, path))
                }
                (None, Some(inline)) => {
                    let start = inline.span().start;
                    let raw = text.get(start..).unwrap_or_default();
                    // A multi-line string drops the newline right after its opening quotes.
                    let skip = ["\"\"\"\r\n", "\"\"\"\n", "'''\r\n", "'''\n"]
                        .iter()
                        .any(|q| raw.starts_with(q));
                    let line = at(inline.span()).line;
                    ZoneSource::Inline {
                        text: inline.into_inner(),
                        first_line: if skip { line + 1 } else { line },
                    }
                }
                (Some(_), Some(_)) | (None, None) => {
                    return Err(ConfigError::at(
                        defined_at,
                        "zone: give exactly one of `file` (a master file) and `text` \
                         (master-file text)",
                    ));
                }
            };
            let origin = zone.origin.into_inner();
            if let Some(first) = zones.iter().find(|z| z.origin == origin) {
                return Err(ConfigError::at(
                    defined_at,
                    format!(
                        "zone.origin: zone {origin} is configured twice (first at {})",
                        first.defined_at
                    ),
                ));
            }
            zones.push(ZoneConfig {
                origin,
                source,
                allow_transfer: zone.allow_transfer,
                dnssec: zone.dnssec,
                defined_at,
            });
        }

        let mut tables: Vec<ForwardConfig> = Vec::with_capacity(file.forwards.len());
        for f in file.forwards {
            let defined_at = at(f.span());
            tables.push(f.into_inner().into_config(defined_at, at, base_dir)?);
        }
        for f in file.stubs {
            let defined_at = at(f.span());
            let f = f.into_inner();
            tables.push(ForwardConfig::plain(f.zone, f.servers, true, defined_at));
        }
        let mut forwards: Vec<ForwardConfig> = Vec::with_capacity(tables.len());
        for table in tables {
            if let Some(first) = forwards.iter().find(|f| f.zone == table.zone) {
                let key = if table.stub {
                    "stub.zone"
                } else {
                    "forward.zone"
                };
                return Err(ConfigError::at(
                    table.defined_at,
                    format!(
                        "{key}: zone {} is already forwarded or stubbed at {}",
                        table.zone, first.defined_at
                    ),
                ));
            }
            forwards.push(table);
        }
        check_upstreams(&forwards)?;
        let cache = file.cache.into_settings().map_err(|message| ConfigError {
            location: None,
            message: format!("{label}: {message}"),
        })?;

        let dnssec = file.dnssec.into_settings(label, text, base_dir)?;
        let cookies = file.cookies.into_settings(label, text)?;
        let signing = file
            .signing
            .into_settings(base_dir)
            .map_err(|message| ConfigError {
                location: None,
                message: format!("{label}: {message}"),
            })?;
        let policy = policy::PolicyTables {
            section: file.policy,
            blocklists: file.blocklists,
            allowlists: file.allowlists,
            rpz: file.rpz,
        }
        .into_settings(label, text, base_dir)?;
        let acl = file.acl.into_settings(label, text)?;
        let s = file.server;
        let http_token = dashboard::token(s.http_token, s.http_token_file, &at, base_dir)?;
        let dashboard = file.dashboard.into_settings();
        dashboard::check_exposed(
            s.http,
            http_token.as_deref(),
            &dashboard,
            dashboard::http_location(label, text),
            label,
        )?;
        let mut config = Config {
            label: label.to_owned(),
            server: ServerConfig {
                listen: s.listen,
                workers: s.workers.unwrap_or_else(default_workers),
                user: s.user,
                nsid: s.nsid,
                version: s.version,
                hostname: s.hostname,
                server_id: s.server_id,
                udp_payload: s.udp_payload,
                tcp_idle_timeout: Duration::from_secs(s.tcp_idle_timeout),
                tcp_max_connections: s.tcp_max_connections,
                tcp_max_connections_per_client: s.tcp_max_connections_per_client,
                tcp_max_queries_per_connection: s.tcp_max_queries_per_connection,
                control_socket: relative_to(base_dir, s.control_socket),
                http: s.http,
                http_token,
                log_level: s.log_level,
                allow_transfer: s.allow_transfer,
            },
            zones,
            resolver: file.resolver.into_config(base_dir),
            cache,
            forwards,
            dnssec,
            signing,
            rrl: file.rrl.into_settings(),
            policy,
            limits: file.limits.into_settings(at)?,
            cookies,
            acl,
            events: file.events.into_config(base_dir),
            tls: file.tls.into_settings(base_dir),
            https: file.https.into_settings(),
            quic: file.quic.into_settings(),
            detect: file.detect.into_settings(base_dir),
            dashboard,
        };
        acl::reconcile(&mut config)?;
        Ok(config)
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, overrides: &Overrides) -> Result<(), ConfigError> {
        let command_line = Location {
            file: "command line".into(),
            line: 1,
            column: 1,
        };
        if !overrides.listen.is_empty() {
            self.server.listen = checked_listen(overrides.listen.clone())
                .map_err(|m| ConfigError::at(command_line.clone(), format!("--listen: {m}")))?;
        }
        for zone in &overrides.zones {
            if let Some(first) = self.zones.iter().find(|z| z.origin == zone.origin) {
                return Err(ConfigError::at(
                    command_line.clone(),
                    format!(
                        "--zone: zone {} is already configured at {}",
                        zone.origin, first.defined_at
                    ),
                ));
            }
            self.zones.push(ZoneConfig {
                origin: zone.origin.clone(),
                source: ZoneSource::File(zone.file.clone()),
                allow_transfer: Vec::new(),
                dnssec: false,
                defined_at: command_line.clone(),
            });
        }
        for prefix in &overrides.allow_transfer {
            if !self.server.allow_transfer.contains(prefix) {
                self.server.allow_transfer.push(*prefix);
            }
        }
        if let Some(http) = overrides.http {
            self.server.http = Some(http);
            dashboard::check_exposed(
                Some(http),
                self.server.http_token.as_deref(),
                &self.dashboard,
                Some(command_line.clone()),
                &self.label,
            )?;
        }
        if let Some(level) = overrides.log_level {
            self.server.log_level = level;
        }
        if let Some(hints) = &overrides.root_hints {
            self.resolver.root_hints = Some(hints.clone());
            self.resolver.enabled = true;
        }
        let mut from_flags: Vec<Name> = Vec::new();
        for f in &overrides.forwards {
            self.resolver.enabled = true;
            match self.forwards.iter_mut().find(|c| c.zone == f.zone) {
                // Flags for one zone add up; a flag replaces what the file says of the zone's
                // servers (its trust and selection stay).
                Some(c) if from_flags.contains(&f.zone) => {
                    let addr = f.to.addr();
                    if c.target(addr).is_some_and(|t| t != f.to) {
                        return Err(ConfigError::at(
                            command_line.clone(),
                            format!("--forward: {addr} is given twice, in two different ways"),
                        ));
                    }
                    c.add_target(&f.to);
                }
                Some(c) => {
                    c.set_targets(std::slice::from_ref(&f.to));
                    c.stub = false;
                    c.defined_at = command_line.clone();
                    from_flags.push(f.zone.clone());
                }
                None => {
                    let mut c = ForwardConfig::plain(
                        f.zone.clone(),
                        Vec::new(),
                        false,
                        command_line.clone(),
                    );
                    c.add_target(&f.to);
                    self.forwards.push(c);
                    from_flags.push(f.zone.clone());
                }
            }
        }
        if !overrides.forwards.is_empty() {
            check_upstreams(&self.forwards)?;
        }
        if overrides.encrypted_only {
            self.resolver.encrypted_only = true;
        }
        for prefix in &overrides.allow_recursion {
            if !self.resolver.allow_recursion.contains(prefix) {
                self.resolver.allow_recursion.push(*prefix);
            }
        }
        if overrides.insecure_local_upstreams {
            self.resolver.insecure_local_upstreams = true;
        }
        self.dnssec
            .apply_trust_anchor_flags(&overrides.trust_anchors)?;
        if overrides.no_validation {
            self.dnssec.validation = false;
        }
        if let Some(rate) = overrides.rrl {
            let b = rrl::RESPONSES_PER_SECOND;
            if !(b.min..=b.max).contains(&u64::from(rate)) {
                return Err(ConfigError::at(
                    command_line.clone(),
                    format!(
                        "--rrl: {rate} is out of bounds: it must be from {} to {}",
                        b.min, b.max
                    ),
                ));
            }
            self.rrl.enabled = true;
            self.rrl.limits.responses_per_second = rate;
        }
        if let Some(events) = &overrides.events {
            self.events.json = Some(events::sink(events, None));
        }
        if let Some(mode) = overrides.detect {
            self.detect.mode = Some(mode);
        }
        self.tls
            .apply_flags(
                overrides.tls_cert.as_deref(),
                overrides.tls_key.as_deref(),
                &overrides.listen_tls,
            )
            .map_err(|m| ConfigError::at(command_line.clone(), m))?;
        self.https
            .apply_flags(&overrides.listen_https)
            .map_err(|m| ConfigError::at(command_line.clone(), m))?;
        self.quic
            .apply_flags(&overrides.listen_quic)
            .map_err(|m| ConfigError::at(command_line.clone(), m))?;
        signing::apply_overrides(self, overrides)
            .map_err(|m| ConfigError::at(command_line.clone(), m))?;
        self.policy
            .apply_flags(&overrides.blocklists, &overrides.rpz)
            .map_err(|m| ConfigError::at(command_line.clone(), m))?;
        Ok(())
    }

    /// Settings that are legal but probably not what was meant.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut out = Vec::new();
        let s = &self.server;
        if s.tcp_max_connections_per_client > s.tcp_max_connections {
            out.push(ConfigWarning {
                location: None,
                message: format!(
                    "{}: server.tcp_max_connections_per_client ({}) is above \
                     server.tcp_max_connections ({}), so it never applies",
                    self.label, s.tcp_max_connections_per_client, s.tcp_max_connections
                ),
            });
        }
        if let Some(http) = s.http
            && s.listen.contains(&http)
        {
            out.push(ConfigWarning {
                location: None,
                message: format!(
                    "{}: server.http ({http}) is also a DNS listen address",
                    self.label
                ),
            });
        }
        for f in &self.forwards {
            if f.trust == resolver::Trust::Insecure && !f.secure.is_empty() {
                out.push(ConfigWarning {
                    location: Some(f.defined_at.clone()),
                    message: format!(
                        "forward.tls_insecure: the certificates of the servers for {} are not \
                         checked; anyone on the path can answer for them (for tests only)",
                        f.zone
                    ),
                });
            }
        }
        out
    }
}

/// The default for `server.workers`: the CPUs this process may run on (its affinity mask and
/// CPU quota), within [`WORKERS`].
pub fn default_workers() -> u16 {
    let n = std::thread::available_parallelism().map_or(1, usize::from);
    n.clamp(WORKERS.min as usize, WORKERS.max as usize) as u16
}

/// Where the configuration comes from: a file (or the embedded default) and the command line's
/// overrides. The server keeps it to read the configuration again on reload.
#[derive(Clone, Debug, Default)]
pub struct ConfigSource {
    /// `--config`: the file; the embedded default when `None`.
    pub path: Option<PathBuf>,
    /// The other flags.
    pub overrides: Overrides,
}

impl ConfigSource {
    /// Reads the configuration and applies the overrides.
    pub fn read(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.path {
            Some(path) => Config::load(path)?,
            None => Config::builtin()?,
        };
        if self.path.is_none() && !self.overrides.zones.is_empty() {
            // `--zone` without a file runs an authoritative server for the zones given: the
            // built-in zone goes, and so does the resolver unless a resolver flag asks for it.
            config.zones.clear();
            config.resolver.enabled = self.overrides.wants_resolver();
        }
        config.apply(&self.overrides)?;
        Ok(config)
    }
}

/// What the command line changes in the configuration.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`: replaces `server.listen` when not empty.
    pub listen: Vec<SocketAddr>,
    /// `--zone ORIGIN=FILE`: zones added.
    pub zones: Vec<ZoneArg>,
    /// `--allow-transfer`: added to `server.allow_transfer`.
    pub allow_transfer: Vec<Prefix>,
    /// `--http`: replaces `server.http`.
    pub http: Option<SocketAddr>,
    /// `--log-level`: replaces `server.log_level`.
    pub log_level: Option<LogLevel>,
    /// `--root-hints`: replaces `resolver.root_hints` and turns the resolver on.
    pub root_hints: Option<PathBuf>,
    /// `--forward ZONE=ADDR[:PORT]`: forwards added (replacing the file's for the same zone);
    /// turns the resolver on.
    pub forwards: Vec<ForwardArg>,
    /// `--allow-recursion`: added to `resolver.allow_recursion`.
    pub allow_recursion: Vec<Prefix>,
    /// `--insecure-local-upstreams`: sets `resolver.insecure_local_upstreams`.
    pub insecure_local_upstreams: bool,
    /// `--encrypted-only`: sets `resolver.encrypted_only` (strict mode).
    pub encrypted_only: bool,
    /// `--trust-anchor FILE`: when given, these files' anchors replace the configured ones.
    pub trust_anchors: Vec<PathBuf>,
    /// `--no-validation`: sets `dnssec.validation` to false.
    pub no_validation: bool,
    /// `--sign ORIGIN`: zones served signed; `--key-dir`: replaces `signing.key_dir`.
    pub signing: signing::SigningOverrides,
    /// `--blocklist FILE`: blocklists added (NXDOMAIN, EDE 15).
    pub blocklists: Vec<PathBuf>,
    /// `--rpz ORIGIN=FILE`: response policy zones added.
    pub rpz: Vec<RpzArg>,
    /// `--events FILE|-`.
    pub events: Option<String>,
    /// `--rrl N`: rate limiting on, N responses a second.
    pub rrl: Option<u32>,
    /// `--tls-cert FILE`: replaces `tls.cert`.
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key FILE`: replaces `tls.key`.
    pub tls_key: Option<PathBuf>,
    /// `--listen-tls`: replaces `tls.listen` when not empty.
    pub listen_tls: Vec<SocketAddr>,
    /// `--listen-https`: replaces `https.listen` when not empty.
    pub listen_https: Vec<SocketAddr>,
    /// `--listen-quic`: replaces `quic.listen` when not empty.
    pub listen_quic: Vec<SocketAddr>,
    /// `--detect off|log|alert|block`: replaces `detect.mode`.
    pub detect: Option<::detect::Mode>,
}

impl Overrides {
    /// Whether a resolver flag was given (`--root-hints`, `--forward`, `--allow-recursion`,
    /// `--insecure-local-upstreams`).
    pub fn wants_resolver(&self) -> bool {
        self.root_hints.is_some()
            || !self.forwards.is_empty()
            || !self.allow_recursion.is_empty()
            || self.insecure_local_upstreams
    }
}

/// A `--forward ZONE=SERVER` argument; SERVER is `ADDR[:PORT]` or a `tls://`, `https://` or
/// `quic://` URL as in `forward.to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardArg {
    /// The zone (`.` for everything).
    pub zone: Name,
    /// The server (port 53 when none is given for plain DNS).
    pub to: ForwardTarget,
}

impl FromStr for ForwardArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ForwardArg, String> {
        let Some((zone, to)) = s.split_once('=') else {
            return Err(format!("`{s}` is not ZONE=ADDR[:PORT]"));
        };
        Ok(ForwardArg {
            zone: parse_origin(zone)?,
            to: resolver::forward_target(to)?,
        })
    }
}

/// Every encrypted server must be one upstream: its address may not also be a plain server,
/// or an encrypted one with another name, path, protocol or trust, in any forward or stub
/// (the transport knows an upstream by its address alone).
fn check_upstreams(forwards: &[ForwardConfig]) -> Result<(), ConfigError> {
    for f in forwards {
        for s in &f.secure {
            for other in forwards {
                let clash = if other.is_plain(s.addr) {
                    other.to.contains(&s.addr)
                } else {
                    other
                        .secure
                        .iter()
                        .any(|o| o.addr == s.addr && (o != s || other.trust != f.trust))
                };
                if clash {
                    return Err(ConfigError::at(
                        other.defined_at.clone(),
                        format!(
                            "{} is configured as {}://{}@{} at {} and differently here \
                             (zone {}): one address is one upstream",
                            s.addr,
                            s.scheme.name(),
                            s.name,
                            s.addr,
                            f.defined_at,
                            other.zone
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A `--zone ORIGIN=FILE` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneArg {
    /// The zone's apex.
    pub origin: Name,
    /// Its master file.
    pub file: PathBuf,
}

impl FromStr for ZoneArg {
    type Err = String;

    fn from_str(s: &str) -> Result<ZoneArg, String> {
        let Some((origin, file)) = s.split_once('=') else {
            return Err(format!("`{s}` is not ORIGIN=FILE"));
        };
        if file.is_empty() {
            return Err(format!("`{s}`: the file is missing after `=`"));
        }
        Ok(ZoneArg {
            origin: parse_origin(origin)?,
            file: PathBuf::from(file),
        })
    }
}

fn parse_origin(text: &str) -> Result<Name, String> {
    if text.is_empty() {
        return Err("the zone origin is empty".into());
    }
    text.parse::<Name>()
        .map_err(|e| format!("`{text}` is not a domain name: {e}"))
}

fn checked_listen(listen: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, String> {
    if listen.is_empty() {
        return Err("at least one address is needed".into());
    }
    if listen.len() > MAX_LISTEN {
        return Err(format!(
            "{} addresses, more than the {MAX_LISTEN} allowed",
            listen.len()
        ));
    }
    let mut seen = HashSet::new();
    for addr in &listen {
        if !seen.insert(addr) {
            return Err(format!("{addr} is listed twice"));
        }
    }
    Ok(listen)
}

// ---------------------------------------------------------------------------------------------
// The file as written
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    server: ServerSection,
    #[serde(default, rename = "zone")]
    zones: Vec<Spanned<ZoneSection>>,
    #[serde(default)]
    resolver: resolver::ResolverSection,
    #[serde(default)]
    cache: resolver::CacheSection,
    #[serde(default, rename = "forward")]
    forwards: resolver::Forwards,
    #[serde(default, rename = "stub")]
    stubs: resolver::Stubs,
    #[serde(default)]
    dnssec: dnssec::DnssecSection,
    #[serde(default)]
    signing: signing::SigningSection,
    #[serde(default)]
    rrl: rrl::RrlSection,
    #[serde(default)]
    policy: policy::PolicySection,
    #[serde(default, rename = "blocklist")]
    blocklists: Vec<Spanned<policy::BlocklistSection>>,
    #[serde(default, rename = "allowlist")]
    allowlists: Vec<Spanned<policy::AllowlistSection>>,
    #[serde(default)]
    rpz: Vec<Spanned<policy::RpzSection>>,
    #[serde(default)]
    limits: limits::LimitsSection,
    #[serde(default)]
    cookies: cookies::CookieSection,
    #[serde(default)]
    acl: acl::AclSection,
    #[serde(default)]
    events: events::EventsSection,
    #[serde(default)]
    tls: tls::TlsSection,
    #[serde(default)]
    https: https::HttpsSection,
    #[serde(default)]
    quic: quic::QuicSection,
    #[serde(default)]
    detect: detect::DetectSection,
    #[serde(default)]
    dashboard: dashboard::DashboardSection,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ServerSection {
    #[serde(deserialize_with = "de_listen")]
    listen: Vec<SocketAddr>,
    #[serde(deserialize_with = "de_workers")]
    workers: Option<u16>,
    #[serde(deserialize_with = "de_user")]
    user: Option<String>,
    #[serde(deserialize_with = "de_nsid")]
    nsid: Option<String>,
    #[serde(deserialize_with = "de_version")]
    version: Option<String>,
    #[serde(deserialize_with = "de_hostname")]
    hostname: Option<String>,
    #[serde(deserialize_with = "de_server_id")]
    server_id: Option<String>,
    #[serde(deserialize_with = "de_udp_payload")]
    udp_payload: u16,
    #[serde(deserialize_with = "de_tcp_idle_timeout")]
    tcp_idle_timeout: u64,
    #[serde(deserialize_with = "de_tcp_max_connections")]
    tcp_max_connections: u32,
    #[serde(deserialize_with = "de_tcp_max_connections_per_client")]
    tcp_max_connections_per_client: u32,
    #[serde(deserialize_with = "de_tcp_max_queries_per_connection")]
    tcp_max_queries_per_connection: u32,
    #[serde(deserialize_with = "de_control_socket")]
    control_socket: PathBuf,
    #[serde(deserialize_with = "de_http")]
    http: Option<SocketAddr>,
    http_token: Option<Spanned<String>>,
    http_token_file: Option<Spanned<PathBuf>>,
    #[serde(deserialize_with = "de_log_level")]
    log_level: LogLevel,
    #[serde(deserialize_with = "de_server_allow_transfer")]
    allow_transfer: Vec<Prefix>,
}

impl Default for ServerSection {
    /// The documented defaults (docs/CONFIG.md).
    fn default() -> ServerSection {
        ServerSection {
            listen: vec![
                SocketAddr::from(([127, 0, 0, 1], 53)),
                SocketAddr::from(([0, 0, 0, 0, 0, 0, 0, 1], 53)),
            ],
            workers: None,
            user: None,
            nsid: None,
            version: None,
            hostname: None,
            server_id: None,
            udp_payload: 1232,
            tcp_idle_timeout: 10,
            tcp_max_connections: 4096,
            tcp_max_connections_per_client: 64,
            tcp_max_queries_per_connection: 0,
            control_socket: PathBuf::from("/run/portcullis/control.sock"),
            http: None,
            http_token: None,
            http_token_file: None,
            log_level: LogLevel::Info,
            allow_transfer: Vec::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneSection {
    #[serde(deserialize_with = "de_origin")]
    origin: Spanned<Name>,
    #[serde(default, deserialize_with = "de_zone_file")]
    file: Option<Spanned<PathBuf>>,
    #[serde(default, deserialize_with = "de_zone_text")]
    text: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_zone_allow_transfer")]
    allow_transfer: Vec<Prefix>,
    #[serde(default)]
    dnssec: bool,
}

// Each setting has its own deserializer so that every error names its key; toml adds where
// the value was written.

/// Deserializes a `T`, naming `key` in the error.
fn keyed<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D, key: &str) -> Result<T, D::Error> {
    T::deserialize(d).map_err(|e| D::Error::custom(format!("{key}: {e}")))
}

/// Accepts a TOML integer; says "an integer" rather than "i64" when given something else.
struct IntVisitor;

impl de::Visitor<'_> for IntVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(format!("{v} is too large")))
    }
}

fn int<'de, D: Deserializer<'de>>(d: D, b: IntBounds) -> Result<u64, D::Error> {
    let v = d
        .deserialize_i64(IntVisitor)
        .map_err(|e| D::Error::custom(format!("{}: {e}", b.key)))?;
    match u64::try_from(v) {
        Ok(v) if (b.min..=b.max).contains(&v) => Ok(v),
        _ => Err(D::Error::custom(format!(
            "{}: {v} is out of bounds: it must be from {} to {}",
            b.key, b.min, b.max
        ))),
    }
}

fn text<'de, D: Deserializer<'de>>(d: D, key: &str, max: usize) -> Result<String, D::Error> {
    let s: String = keyed(d, key)?;
    if s.is_empty() || s.len() > max {
        return Err(D::Error::custom(format!(
            "{key}: must be 1 to {max} bytes long, not {}",
            s.len()
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(D::Error::custom(format!(
            "{key}: control characters are not allowed"
        )));
    }
    Ok(s)
}

fn parsed<'de, T, D>(d: D, key: &str) -> Result<T, D::Error>
where
    T: FromStr,
    T::Err: fmt::Display,
    D: Deserializer<'de>,
{
    let s: String = keyed(d, key)?;
    s.parse()
        .map_err(|e| D::Error::custom(format!("{key}: {e}")))
}

fn addr<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<SocketAddr, D::Error> {
    let s: String = keyed(d, key)?;
    s.parse().map_err(|_| {
        D::Error::custom(format!(
            "{key}: `{s}` is not an address with a port, such as 127.0.0.1:53 or [::1]:53"
        ))
    })
}

fn prefixes<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Vec<Prefix>, D::Error> {
    let list: Vec<String> = keyed(d, key)?;
    let mut out: Vec<Prefix> = Vec::with_capacity(list.len());
    for s in list {
        let p: Prefix = s
            .parse()
            .map_err(|e| D::Error::custom(format!("{key}: {e}")))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

fn de_listen<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SocketAddr>, D::Error> {
    let key = "server.listen";
    let list: Vec<String> = keyed(d, key)?;
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        out.push(addr(
            de::value::StringDeserializer::<D::Error>::new(s),
            key,
        )?);
    }
    checked_listen(out).map_err(|m| D::Error::custom(format!("{key}: {m}")))
}

fn de_workers<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    int(d, WORKERS).map(|v| Some(v as u16))
}

fn de_user<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let key = "server.user";
    let user = text(d, key, MAX_USER)?;
    if user.contains([':', '/']) || user.chars().any(char::is_whitespace) {
        return Err(D::Error::custom(format!(
            "{key}: `{user}` is not a user name"
        )));
    }
    Ok(Some(user))
}

fn de_nsid<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "server.nsid", MAX_NSID).map(Some)
}

fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "server.version", MAX_IDENTITY).map(Some)
}

fn de_hostname<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "server.hostname", MAX_IDENTITY).map(Some)
}

fn de_server_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    text(d, "server.server_id", MAX_IDENTITY).map(Some)
}

fn de_udp_payload<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    int(d, UDP_PAYLOAD).map(|v| v as u16)
}

fn de_tcp_idle_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, TCP_IDLE_TIMEOUT)
}

fn de_tcp_max_connections<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    int(d, TCP_MAX_CONNECTIONS).map(|v| v as u32)
}

fn de_tcp_max_connections_per_client<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    int(d, TCP_MAX_CONNECTIONS_PER_CLIENT).map(|v| v as u32)
}

fn de_tcp_max_queries_per_connection<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    int(d, TCP_MAX_QUERIES_PER_CONNECTION).map(|v| v as u32)
}

/// `path` taken from `base_dir` when it is relative.
fn relative_to(base_dir: Option<&Path>, path: PathBuf) -> PathBuf {
    match base_dir {
        Some(dir) if path.is_relative() && dir != Path::new("") => dir.join(path),
        _ => path,
    }
}

fn de_control_socket<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let key = "server.control_socket";
    let s: String = keyed(d, key)?;
    if s.is_empty() || s.len() > MAX_SOCKET_PATH || s.contains('\0') {
        return Err(D::Error::custom(format!(
            "{key}: a socket path must be 1 to {MAX_SOCKET_PATH} bytes long, not {}",
            s.len()
        )));
    }
    Ok(PathBuf::from(s))
}

fn de_http<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    addr(d, "server.http").map(Some)
}

fn de_log_level<'de, D: Deserializer<'de>>(d: D) -> Result<LogLevel, D::Error> {
    parsed(d, "server.log_level")
}

fn de_server_allow_transfer<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Prefix>, D::Error> {
    prefixes(d, "server.allow_transfer")
}

fn de_origin<'de, D: Deserializer<'de>>(d: D) -> Result<Spanned<Name>, D::Error> {
    let key = "zone.origin";
    let s: Spanned<String> = keyed(d, key)?;
    let span = s.span();
    let name = parse_origin(s.get_ref()).map_err(|m| D::Error::custom(format!("{key}: {m}")))?;
    Ok(Spanned::new(span, name))
}

fn de_zone_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<PathBuf>>, D::Error> {
    let key = "zone.file";
    let s: Spanned<String> = keyed(d, key)?;
    if s.get_ref().is_empty() {
        return Err(D::Error::custom(format!("{key}: the path is empty")));
    }
    let span = s.span();
    Ok(Some(Spanned::new(span, PathBuf::from(s.into_inner()))))
}

fn de_zone_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Spanned<String>>, D::Error> {
    keyed(d, "zone.text").map(Some)
}

fn de_zone_allow_transfer<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Prefix>, D::Error> {
    prefixes(d, "zone.allow_transfer")
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
