//! `portcullis serve`: load the configuration and zones, answer DNS over UDP on every listen
//! address, reload on SIGHUP, stop on SIGTERM or SIGINT.
//!
//! The [`Server`] owns what a reload replaces: the engine every worker answers from, behind an
//! `ArcSwap` ([`transport::SharedEngine`]). A reload ([`Server::reload`]) reads the
//! configuration and every zone again, exactly as `portcullis check` does ([`check::load`]),
//! builds a new engine aside and swaps it in at once; a refused configuration or zone leaves the
//! old engine serving. The settings applied once at start (`server.listen`, `server.workers`,
//! `server.user`, the TCP limits, `server.control_socket`, `server.http`, `server.log_level`)
//! change at the next start; a reload names those that changed.
//!
//! The UDP workers are OS threads blocking in `recvmmsg` ([`transport::udp`]); the main thread
//! runs a single-threaded tokio runtime that waits for signals.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use cache::{Cache, CacheConfig};
use engine::{Catalog, Engine, EngineConfig, Resolver};
use events::writer::Reopen;
use events::{Action, Events, EventsConfig};
use metrics::{CacheFigures, Registry, ReloadResult, SecurityFigures, ZoneStats};
use recursor::{Forward, ForwardKind, Hints, Limits, RecursorConfig};
use transport::guards::Guards;
use transport::limits::ClientLimits;
use transport::resolver::ResolverHandle;
use transport::tcp::{self, TcpLimits};
use transport::udp::{self, UdpWorkers};
use transport::{SharedEngine, Shutdown};

use crate::check::{self, ZoneSummary};
use crate::config::{
    CacheSettings, Config, ConfigSource, DEFAULT_CONFIG_LABEL, QnameMinimisation, ServerConfig,
};
use crate::control::{self, ControlHandler};
use crate::cookies::{self, CookieSecrets};
use crate::detection::DetectState;
use crate::policy::PolicyLoader;
use crate::signer::{MIN_TIMER_INTERVAL, Signer};
use crate::{http, privileges};

/// What a successful reload loaded.
#[derive(Clone, Debug)]
pub struct ReloadSummary {
    /// The zones now served.
    pub zones: Vec<ZoneSummary>,
    /// Warnings from the configuration and the zones, and settings that need a restart.
    pub warnings: Vec<String>,
}

/// The state a running server shares between its workers, its signal handler and its control
/// socket.
#[derive(Debug)]
pub struct Server {
    source: ConfigSource,
    engine: SharedEngine,
    registry: Arc<Registry>,
    /// The `[server]` section the server was started with: a reload applies the zones and the
    /// settings the engine reads, and says which of the others changed (they need a restart).
    started: ServerConfig,
    /// The `[acl]` section it was started with: the HTTP and control-socket ACLs need a
    /// restart; the query, recursion, transfer and listener ACLs are the engine's.
    started_acl: crate::config::AclSettings,
    /// The configuration the resolver was started with (its drivers and cache are made once).
    started_resolver: Option<ResolverSnapshot>,
    /// The resolver's cache, kept across reloads; `None` when the resolver is off.
    cache: Option<Arc<Cache>>,
    /// Serializes reloads (a signal and the control socket may ask at once) and signature
    /// refreshes.
    reloading: Mutex<()>,
    /// The signed zones' keys and signatures, kept across reloads.
    signer: Signer,
    /// The DNS cookie secrets, kept across reloads (a reload applies configured ones).
    cookies: Arc<CookieSecrets>,
    /// The blocklists and response policy zones, kept across reloads (`crate::policy`).
    policy: Arc<Mutex<PolicyLoader>>,
    /// The security event stream, made once (its sinks change at a restart).
    events: Events,
    /// Asks the event writer to reopen its file, on every reload (after log rotation).
    events_reopen: Reopen,
    /// The `[events]` section the stream was started with.
    started_events: EventsConfig,
    /// The `[limits]` section the listeners were started with.
    started_limits: crate::config::LimitsSettings,
    /// The DNS over TLS listeners' TLS configuration, replaced by a reload (a new certificate
    /// applies to the next handshake); `None` when DNS over TLS is off.
    tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    /// The `[tls]` section the listeners were started with.
    started_tls: crate::config::TlsSettings,
    /// The TLS session cache and ticket keys, kept across reloads.
    resumption: crate::tls::Resumption,
    /// The DNS over HTTPS listeners' TLS configuration (ALPN `h2`, `http/1.1`), replaced by a
    /// reload like `tls`'s; `None` when DNS over HTTPS is off.
    https_tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    /// The `[https]` section the listeners were started with.
    started_https: crate::config::HttpsSettings,
    /// The DNS over QUIC listeners' TLS configuration: a reload sends the new one, which each
    /// endpoint applies to its next handshake; `None` when DNS over QUIC is off.
    doq: Option<tokio::sync::watch::Sender<Arc<rustls::ServerConfig>>>,
    /// The `[quic]` section the listeners were started with.
    started_quic: crate::config::QuicSettings,
    /// The tunnelling detector, kept across reloads (`crate::detection`).
    detect: Arc<DetectState>,
    /// The dashboard's top-k tables, event ring and configuration summary
    /// (`crate::dashboard`); its tables are fed only when it is served.
    dashboard: Arc<crate::dashboard::Dashboard>,
    /// Whether the dashboard is served (`dashboard.enabled` and `server.http` at start).
    dashboard_on: bool,
}

impl Server {
    /// Loads `config` (read from `source`) and builds the first engine. Errors are the
    /// configuration's and zones' problems, one per line, each with its location.
    pub fn new(source: ConfigSource, config: &Config) -> Result<Server, Vec<String>> {
        let registry = Arc::new(Registry::new(SystemTime::now()));
        let cache = config
            .resolver
            .enabled
            .then(|| cache_config(&config.cache))
            .transpose()
            .map_err(|e| vec![format!("{}: cache: {e}", config.label)])?
            .map(|c| Arc::new(Cache::new(c)));
        if let Some(cache) = &cache {
            let cache = cache.clone();
            registry.set_cache_source(Box::new(move || {
                let s = cache.stats();
                CacheFigures {
                    entries: s.entries,
                    bytes: s.bytes,
                    max_bytes: s.max_bytes,
                    hits: s.hits,
                    misses: s.misses,
                    inserts: s.inserts,
                    evictions: s.evictions,
                    expired: s.expired,
                }
            }));
        }
        let (events, events_reopen) = events::writer::start(&config.events)
            .map_err(|e| vec![format!("{}: events: {e}", config.label)])?;
        // The dashboard's event ring and top-k tables (fed only when the dashboard is served).
        let dashboard_on = config.dashboard.enabled && config.server.http.is_some();
        let recent = Arc::new(events::Recent::new(config.dashboard.events));
        let events = if dashboard_on {
            events.with_recent(recent.clone())
        } else {
            events
        };
        let top = Arc::new(metrics::TopTables::new(metrics::TopConfig {
            capacity: config.dashboard.top_capacity,
            sample: config.dashboard.top_sample,
            window: config.dashboard.top_window,
        }));
        let dashboard = Arc::new(crate::dashboard::Dashboard::new(config, top, recent));
        let counters = events.clone();
        registry.set_security_source(Box::new(move || {
            let f = counters.figures();
            SecurityFigures {
                actions: Action::ALL
                    .iter()
                    .zip(f.actions)
                    .map(|(a, n)| (a.name(), n))
                    .collect(),
                written: f.written,
                dropped: f.dropped,
                suppressed: f.suppressed,
            }
        }));
        let signer = Signer::new();
        let cookies = CookieSecrets::new(&config.cookies)
            .map_err(|e| vec![format!("{}: {e}", config.label)])?;
        let mut policy = PolicyLoader::new(config.policy.clone());
        policy.set_max_overrides(config.dashboard.max_overrides);
        let report = policy.load(true);
        if !report.errors.is_empty() {
            return Err(report.errors);
        }
        crate::policy::log_report(&report);
        let detect = Arc::new(DetectState::new());
        let mut detect_warnings = Vec::new();
        let detection = detect.configure(config, true, &mut detect_warnings)?;
        set_detect_source(&registry, &detect);
        let mut loaded = build(
            config,
            cache.as_ref(),
            &signer,
            validates(&config.dnssec),
            unix_now(),
            policy.shared(),
            &events,
            detection,
        )?;
        loaded.warnings.extend(detect_warnings);
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        let resumption =
            crate::tls::Resumption::new().map_err(|e| vec![format!("{}: {e}", config.label)])?;
        let tls = crate::tls::server_config(&config.tls, &resumption)
            .map_err(|e| vec![format!("{}: {e}", config.label)])?
            .map(|c| Arc::new(ArcSwap::from_pointee(c)));
        let https_tls = https_tls_config(config, &resumption)
            .map_err(|e| vec![format!("{}: {e}", config.label)])?
            .map(|c| Arc::new(ArcSwap::from_pointee(c)));
        let doq = crate::tls::doq_server_config(&config.tls, &config.quic, &resumption)
            .map_err(|e| vec![format!("{}: {e}", config.label)])?
            .map(|c| tokio::sync::watch::Sender::new(Arc::new(c)));
        registry.set_zones(zone_stats(&loaded.zones));
        if let Some(policy) = cookies.policy(&config.cookies, &events) {
            loaded.engine = loaded.engine.with_cookies(policy);
        }
        Ok(Server {
            source,
            engine: Arc::new(ArcSwap::from_pointee(loaded.engine)),
            registry,
            started: config.server.clone(),
            started_acl: config.acl.clone(),
            started_resolver: config.resolver.enabled.then(|| resolver_snapshot(config)),
            cache,
            reloading: Mutex::new(()),
            signer,
            cookies: Arc::new(cookies),
            policy: Arc::new(Mutex::new(policy)),
            events,
            events_reopen,
            started_events: config.events.clone(),
            started_limits: config.limits.clone(),
            tls,
            started_tls: config.tls.clone(),
            resumption,
            https_tls,
            started_https: config.https.clone(),
            doq,
            started_quic: config.quic.clone(),
            detect,
            dashboard,
            dashboard_on,
        })
    }

    /// The tunnelling detector's state.
    pub fn detect(&self) -> &Arc<DetectState> {
        &self.detect
    }

    /// The security event stream.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The resolver's cache, when the resolver is on.
    pub fn cache(&self) -> Option<&Arc<Cache>> {
        self.cache.as_ref()
    }

    /// The engine the workers answer from.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// The metrics.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Reads the configuration and zones again and serves them. On an error nothing changes:
    /// the old engine keeps serving, and the error lists every problem (one per line, each with
    /// its `file:line:column`). Counts the reload either way.
    pub fn reload(&self) -> Result<ReloadSummary, String> {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = self
            .source
            .read()
            .map_err(|e| e.to_string())
            .and_then(|config| {
                // The validator keeps the settings it started with (see `resolver_changes`).
                let validating = self
                    .started_resolver
                    .as_ref()
                    .is_some_and(|started| validates(&started.3));
                let mut policy = self.policy.lock().unwrap_or_else(PoisonError::into_inner);
                let mut loaded = build(
                    &config,
                    self.cache.as_ref(),
                    &self.signer,
                    validating,
                    unix_now(),
                    policy.shared(),
                    &self.events,
                    None,
                )
                .map_err(|errors| errors.join("\n"))?;
                let tls = crate::tls::server_config(&config.tls, &self.resumption)
                    .map_err(|e| format!("{}: {e}", config.label))?;
                let https_tls = https_tls_config(&config, &self.resumption)
                    .map_err(|e| format!("{}: {e}", config.label))?;
                let doq =
                    crate::tls::doq_server_config(&config.tls, &config.quic, &self.resumption)
                        .map_err(|e| format!("{}: {e}", config.label))?;
                self.cookies
                    .apply(&config.cookies)
                    .map_err(|e| format!("{}: {e}", config.label))?;
                if let Some(policy) = self.cookies.policy(&config.cookies, &self.events) {
                    loaded.engine = loaded.engine.with_cookies(policy);
                }
                // The detector last, once nothing else can refuse the reload: a refused reload
                // leaves it as it was.
                let mut detect_warnings = Vec::new();
                let detection = self
                    .detect
                    .configure(&config, false, &mut detect_warnings)
                    .map_err(|errors| errors.join("\n"))?;
                if let Some(detection) = detection
                    && loaded.engine.resolver().is_some()
                {
                    loaded.engine = loaded.engine.with_detector(detection);
                }
                loaded.warnings.extend(detect_warnings);
                // Lists that fail keep their last good version: warnings, not a refusal.
                policy.configure(config.policy.clone());
                let report = policy.load(true);
                crate::policy::log_report(&report);
                let mut warnings = loaded.warnings;
                warnings.extend(report.errors);
                let events_changed = (config.events != self.started_events).then_some("[events]");
                warnings.extend(
                    restart_only_changes(&self.started, &config.server)
                        .into_iter()
                        .chain(self.started_acl.restart_only_changes(&config.acl))
                        .chain(resolver_changes(self.started_resolver.as_ref(), &config))
                        .chain(events_changed)
                        .chain((config.limits != self.started_limits).then_some("[limits]"))
                        .chain(tls_restart_changes(&self.started_tls, &config.tls))
                        .chain((config.https != self.started_https).then_some("[https]"))
                        .chain((config.quic != self.started_quic).then_some("[quic]"))
                        .map(|key| format!("{key} changed: it applies after a restart")),
                );
                self.engine.store(Arc::new(loaded.engine));
                if let (Some(shared), Some(tls)) = (&self.tls, tls) {
                    shared.store(Arc::new(tls));
                }
                if let (Some(shared), Some(tls)) = (&self.https_tls, https_tls) {
                    shared.store(Arc::new(tls));
                }
                if let (Some(doq), Some(tls)) = (&self.doq, doq) {
                    doq.send_replace(Arc::new(tls));
                }
                self.registry.set_zones(zone_stats(&loaded.zones));
                if let Some(section) = self.dashboard.set_config(&config) {
                    warnings.push(format!("{section} changed: it applies after a restart"));
                }
                Ok(ReloadSummary {
                    zones: loaded.zones,
                    warnings,
                })
            });
        // Reloads follow log rotation: the event file is opened again.
        self.events_reopen.request();
        self.registry.count_reload(match result {
            Ok(_) => ReloadResult::Success,
            Err(_) => ReloadResult::Failure,
        });
        result
    }
}

impl Server {
    /// The signed zones' state.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// Signs again the zones whose signatures near their refresh point or whose keys change
    /// state at `now`, and serves them. A zone that fails to sign keeps its old snapshot (and
    /// is tried again later). Returns how many zones were replaced.
    pub fn refresh_signatures(&self, now: u64) -> usize {
        let _one_at_a_time = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut fresh = Vec::new();
        for (origin, result) in self.signer.resign_due(now) {
            match result {
                Ok(zone) => fresh.push(Arc::new(zone)),
                Err(e) => tracing::error!(zone = %origin, "cannot re-sign: {e}"),
            }
        }
        if fresh.is_empty() {
            return 0;
        }
        let current = self.engine.load();
        let zones: Vec<Arc<zone::Zone>> = current
            .catalog()
            .zones()
            .iter()
            .map(|z| {
                fresh
                    .iter()
                    .find(|f| f.origin() == z.origin())
                    .unwrap_or(z)
                    .clone()
            })
            .collect();
        let engine = Catalog::from_shared(zones)
            .map_err(|e| e.to_string())
            .and_then(|c| Engine::new(c, current.config().clone()).map_err(|e| e.to_string()));
        match engine {
            Ok(mut engine) => {
                if let Some(resolver) = current.resolver() {
                    engine = engine.with_resolver(resolver.clone());
                }
                if let Some(policy) = current.cookies() {
                    engine = engine.with_cookies(policy.clone());
                }
                if let Some(policy) = current.policy() {
                    engine = engine
                        .with_policy(policy.clone())
                        .with_events(current.events().clone());
                }
                if let Some(detection) = current.detection() {
                    engine = engine.with_detector(detection.clone());
                }
                self.engine.store(Arc::new(engine));
                fresh.len()
            }
            Err(e) => {
                tracing::error!("cannot serve the re-signed zones: {e}");
                0
            }
        }
    }
}

/// Where `/metrics` reads the detector's figures: the detector's own counters and the
/// record's alerts and enforcements.
fn set_detect_source(registry: &Registry, detect: &Arc<DetectState>) {
    let detect = detect.clone();
    registry.set_detect_source(Box::new(move || {
        let record = detect.record();
        let stats = detect.detector().map(|d| d.stats()).unwrap_or_default();
        metrics::DetectFigures {
            scored: stats.queries_scored,
            alerts: record.alerts(),
            enforced: record.enforced().to_vec(),
            domains_tracked: stats.domains_tracked,
            verdicts_active: stats.verdicts_active,
            allowed: record.allowed(),
        }
    }));
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Wakes when the next zone needs signing (at most every [`MIN_TIMER_INTERVAL`] seconds, at
/// least every hour so that key state written by `portcullis dnssec` is picked up) and
/// refreshes signatures, until `shutdown`.
async fn signing_timer(server: Arc<Server>, shutdown: Shutdown) {
    let mut last = unix_now();
    loop {
        let now = unix_now();
        let at = server
            .signer
            .next_event()
            .unwrap_or(now + 3600)
            .clamp(last + MIN_TIMER_INTERVAL, now + 3600);
        let wait = std::time::Duration::from_secs(at.saturating_sub(now));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return,
        }
        last = unix_now();
        let server = server.clone();
        let replaced = tokio::task::spawn_blocking(move || server.refresh_signatures(unix_now()))
            .await
            .unwrap_or(0);
        if replaced > 0 {
            tracing::info!(zones = replaced, "signatures refreshed");
        }
    }
}

/// The settings of `[server]` that differ between `old` and `new` and that only a restart
/// applies: sockets, threads, TCP limits, the user, logging. The rest (zones, the engine's
/// settings) a reload applies.
fn restart_only_changes(old: &ServerConfig, new: &ServerConfig) -> Vec<&'static str> {
    let changed = [
        ("server.listen", old.listen != new.listen),
        ("server.workers", old.workers != new.workers),
        ("server.user", old.user != new.user),
        (
            "server.tcp_idle_timeout",
            old.tcp_idle_timeout != new.tcp_idle_timeout,
        ),
        (
            "server.tcp_max_connections",
            old.tcp_max_connections != new.tcp_max_connections,
        ),
        (
            "server.tcp_max_connections_per_client",
            old.tcp_max_connections_per_client != new.tcp_max_connections_per_client,
        ),
        (
            "server.tcp_max_queries_per_connection",
            old.tcp_max_queries_per_connection != new.tcp_max_queries_per_connection,
        ),
        (
            "server.control_socket",
            old.control_socket != new.control_socket,
        ),
        ("server.http", old.http != new.http),
        ("server.log_level", old.log_level != new.log_level),
    ];
    changed
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

/// The settings of `[tls]` that differ between `old` and `new` and that only a restart applies:
/// the listeners and the handshake timeout. The certificate, key and versions a reload applies.
fn tls_restart_changes(
    old: &crate::config::TlsSettings,
    new: &crate::config::TlsSettings,
) -> Vec<&'static str> {
    let changed = [
        ("tls.listen", old.listen != new.listen),
        (
            "tls.handshake_timeout",
            old.handshake_timeout != new.handshake_timeout,
        ),
    ];
    changed
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

/// The TLS configuration of the DNS over HTTPS listeners: the certificate, key and versions of
/// `[tls]`, offering ALPN `h2` and `http/1.1`; `None` when DNS over HTTPS is off.
pub(crate) fn https_tls_config(
    config: &Config,
    resumption: &crate::tls::Resumption,
) -> Result<Option<rustls::ServerConfig>, String> {
    if !config.https.enabled() {
        return Ok(None);
    }
    if config.tls.cert.is_none() || config.tls.key.is_none() {
        return Err(
            "https.listen is set but tls.cert or tls.key is missing (--tls-cert, --tls-key)".into(),
        );
    }
    crate::tls::server_config_for(&config.tls, resumption, transport::doh::ALPN_DOH).map(Some)
}

/// The resolver's settings that only a restart applies: `[resolver]` (ACL cleared), `[cache]`
/// and the forwards and stubs.
type ResolverSnapshot = (
    crate::config::ResolverConfig,
    CacheSettings,
    Vec<(String, String)>,
    crate::config::DnssecSettings,
);

/// What of the resolver's configuration only a restart applies: everything but
/// `resolver.allow_recursion` (which the engine holds), with the forwards as text, and the
/// validator's settings.
fn resolver_snapshot(config: &Config) -> ResolverSnapshot {
    let mut resolver = config.resolver.clone();
    resolver.allow_recursion.clear();
    let forwards = config
        .forwards
        .iter()
        .map(|f| (f.zone.to_string(), format!("{:?} {}", f.to, f.stub)))
        .collect();
    (
        resolver,
        config.cache.clone(),
        forwards,
        config.dnssec.clone(),
    )
}

/// Whether the resolver validates with these settings.
fn validates(d: &crate::config::DnssecSettings) -> bool {
    d.validation && !d.anchors.is_empty()
}

/// The resolver's sections that changed and need a restart.
fn resolver_changes(started: Option<&ResolverSnapshot>, new: &Config) -> Vec<&'static str> {
    let now = new.resolver.enabled.then(|| resolver_snapshot(new));
    match (started, now) {
        (None, None) => Vec::new(),
        (None, Some(_)) | (Some(_), None) => vec!["resolver.enabled"],
        (Some(old), Some(now)) => [
            ("[resolver]", old.0 != now.0),
            ("[cache]", old.1 != now.1),
            ("[[forward]] or [[stub]]", old.2 != now.2),
            ("[dnssec]", old.3 != now.3),
        ]
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect(),
    }
}

/// The cache's settings from `[cache]`.
pub fn cache_config(c: &CacheSettings) -> Result<CacheConfig, String> {
    let config = CacheConfig {
        max_bytes: usize::try_from(c.max_bytes).unwrap_or(usize::MAX),
        shards: c.shards as usize,
        min_ttl: c.min_ttl,
        max_ttl: c.max_ttl,
        max_negative_ttl: c.max_negative_ttl,
        serve_stale: c.serve_stale,
        max_stale: c.max_stale,
        stale_answer_ttl: c.stale_answer_ttl,
        prefetch: c.prefetch,
    };
    config.validate()?;
    Ok(config)
}

/// The encrypted upstreams of `config`'s forwards, by address, each built by
/// [`transport::secure_upstream::build`] (nothing is connected yet). An error names where the
/// forward was configured.
pub fn secure_upstreams(
    config: &Config,
) -> Result<transport::secure_upstream::SecureUpstreams, String> {
    let mut upstreams = transport::secure_upstream::SecureUpstreams::new();
    for f in &config.forwards {
        for s in &f.secure {
            if upstreams.contains_key(&s.addr) {
                // The same upstream in two forwards (the configuration checked they agree).
                continue;
            }
            let spec = transport::secure_upstream::SecureSpec {
                scheme: s.scheme,
                addr: s.addr,
                name: s.name.clone(),
                path: s.path.clone(),
                trust: f.trust.clone(),
            };
            let upstream = transport::secure_upstream::build(&spec).map_err(|e| {
                format!(
                    "{}: forward {}: {}://{}@{}: {e}",
                    f.defined_at,
                    f.zone,
                    s.scheme.name(),
                    s.name,
                    s.addr
                )
            })?;
            upstreams.insert(s.addr, upstream);
        }
    }
    Ok(upstreams)
}

/// The recursor's settings from `[resolver]`, `[[forward]]` and `[[stub]]`; reads the root
/// hints file. Errors name the file, line and column.
pub fn recursor_config(config: &Config) -> Result<RecursorConfig, String> {
    let r = &config.resolver;
    let root_hints = match &r.root_hints {
        Some(path) => Hints::from_file(path).map_err(|e| e.to_string())?,
        None => Hints::builtin(),
    };
    let l = &r.limits;
    Ok(RecursorConfig {
        root_hints,
        forwards: config
            .forwards
            .iter()
            .map(|f| Forward {
                zone: f.zone.clone(),
                to: f.to.clone(),
                kind: if f.stub {
                    ForwardKind::Stub
                } else {
                    ForwardKind::Forward
                },
                selection: f.selection,
            })
            .collect(),
        qname_minimisation: match r.qname_minimisation {
            QnameMinimisation::Off => recursor::QnameMinimisation::Off,
            QnameMinimisation::Relaxed => recursor::QnameMinimisation::Relaxed,
            QnameMinimisation::Strict => recursor::QnameMinimisation::Strict,
        },
        case_randomisation: r.case_randomisation,
        cookies: r.cookies,
        insecure_local_upstreams: r.insecure_local_upstreams,
        ipv4: r.ipv4,
        ipv6: r.ipv6,
        edns_payload: r.edns_payload,
        failure_ttl: r.failure_ttl,
        limits: Limits {
            max_upstream_queries: l.max_upstream_queries,
            max_referrals: l.max_referrals,
            max_cname_chain: l.max_cname_chain,
            max_ns_names_resolved: l.max_ns_names_resolved,
            max_addresses_per_ns_set: l.max_addresses_per_ns_set,
            max_glueless_queries: l.max_glueless_queries,
            max_dependency_depth: l.max_dependency_depth,
            max_question_millis: l.max_question_millis,
            max_outstanding_per_server: l.max_outstanding_per_server,
            max_resolutions_per_client: l.max_resolutions_per_client,
            max_mesh: l.max_mesh,
            max_waiters: l.max_waiters,
        },
        infra_max_servers: r.infra_max_servers as usize,
        validation: validation_config(config)?,
        zone_cap: config.limits.zone_cap.map(recursor::ZoneCap::new),
        // Set by `start_resolver`, which holds the policy.
        alias_stop: None,
    })
}

/// The validator's settings from `[dnssec]`; loads the RFC 5011 state file when one is set.
fn validation_config(config: &Config) -> Result<recursor::ValidationConfig, String> {
    let d = &config.dnssec;
    let anchors = match &d.auto_trust_file {
        Some(path) => {
            let trust =
                dnssec::AutoTrust::load_or_init(path, &d.anchors).map_err(|e| e.to_string())?;
            recursor::Anchors::Managed(recursor::ManagedAnchors::new(trust))
        }
        None => recursor::Anchors::Fixed(Arc::new(d.anchors.clone())),
    };
    let defaults = recursor::ValidationLimits::default();
    Ok(recursor::ValidationConfig {
        enabled: d.validation,
        anchors,
        negative_anchors: dnssec::NegativeAnchors::new(d.negative.clone()),
        sha1: d.allow_sha1,
        bogus_ttl: d.bogus_ttl,
        limits: recursor::ValidationLimits {
            max_nsec3_iterations: d.max_nsec3_iterations,
            ..defaults
        },
        aggressive_nsec: (d.aggressive_nsec && d.aggressive_nsec_records > 0)
            .then(|| recursor::DenialIndex::new(d.aggressive_nsec_records)),
    })
}

/// An engine built from a configuration, with what the load reported.
struct Loaded {
    engine: Engine,
    zones: Vec<ZoneSummary>,
    warnings: Vec<String>,
}

/// Loads every zone of `config` as `portcullis check` does and builds an engine from them;
/// with the resolver on, adds the local zones and the resolver part answering from `cache`,
/// and the tunnelling detector when `detection` is given.
#[allow(clippy::too_many_arguments)]
fn build(
    config: &Config,
    cache: Option<&Arc<Cache>>,
    signer: &Signer,
    validating: bool,
    now: u64,
    policy: &engine::SharedPolicy,
    events: &Events,
    detection: Option<engine::Detection>,
) -> Result<Loaded, Vec<String>> {
    let (report, zones) = check::load(config);
    if !report.is_ok() {
        return Err(report.errors);
    }
    // The zones with `dnssec = true` are served signed.
    let mut signed_origins = Vec::new();
    let mut zones = zones
        .into_iter()
        .map(|z| {
            let origin = z.origin().to_name();
            match config.zones.iter().find(|c| c.origin == origin) {
                Some(c) if c.dnssec => {
                    signed_origins.push(origin.clone());
                    signer
                        .sign(z, &config.signing, now)
                        .map_err(|e| format!("{origin}: cannot sign: {e}"))
                }
                _ => Ok(z),
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| vec![e])?;
    signer.retain(&signed_origins);
    let resolver = config.resolver.enabled.then_some(cache).flatten();
    if resolver.is_some() && !config.resolver.insecure_local_upstreams {
        let served: Vec<wire::Name> = config.zones.iter().map(|z| z.origin.clone()).collect();
        let forwarded: Vec<wire::Name> = config.forwards.iter().map(|f| f.zone.clone()).collect();
        zones.extend(engine::local_zones(&served, &forwarded));
    }
    if resolver.is_some()
        && let Some(zone) = ddr_zone(config)
    {
        zones.push(zone);
    }
    let catalog = Catalog::new(zones).map_err(|e| vec![format!("{}: {e}", config.label)])?;
    let mut engine = Engine::new(catalog, engine_config(config))
        .map_err(|e| vec![format!("{}: {e}", config.label)])?;
    if let Some(cache) = resolver {
        let acl = config.acl.recursion_acl(config);
        engine = engine
            .with_resolver(Resolver::new(cache.clone(), acl).with_validation(validating))
            .with_policy(policy.clone())
            .with_events(events.clone());
        if let Some(detection) = detection {
            engine = engine.with_detector(detection);
        }
    }
    Ok(Loaded {
        engine,
        zones: report.zones,
        warnings: report.warnings,
    })
}

/// The `resolver.arpa.` zone of Discovery of Designated Resolvers (RFC 9462): the encrypted
/// listeners, announced under `tls.name`, with the unicast listen addresses as hints (without a
/// name, an empty zone: `resolver.arpa.` is never forwarded). `None` when the operator serves
/// or forwards `resolver.arpa.` itself.
fn ddr_zone(config: &Config) -> Option<zone::Zone> {
    let origin: wire::Name = "resolver.arpa.".parse().ok()?;
    if config.zones.iter().any(|z| z.origin == origin)
        || config.forwards.iter().any(|f| {
            origin.as_ref().is_subdomain_of(f.zone.as_ref()) && f.zone != wire::Name::root()
        })
    {
        return None;
    }
    let mut endpoints: Vec<engine::DdrEndpoint> = Vec::new();
    let mut hints: Vec<std::net::IpAddr> = Vec::new();
    let mut add = |alpn: &'static str, listen: &[SocketAddr], dohpath: Option<&str>| {
        let mut ports: Vec<u16> = Vec::new();
        for a in listen {
            if !a.ip().is_unspecified() && !hints.contains(&a.ip()) {
                hints.push(a.ip());
            }
            if !ports.contains(&a.port()) {
                ports.push(a.port());
            }
        }
        for port in ports {
            endpoints.push(engine::DdrEndpoint {
                alpn,
                port,
                dohpath: dohpath.map(str::to_owned),
            });
        }
    };
    add("dot", &config.tls.listen, None);
    let dohpath = format!("{}{{?dns}}", config.https.path);
    add("h2", &config.https.listen, Some(&dohpath));
    add("doq", &config.quic.listen, None);
    engine::ddr_zone(config.tls.name.as_ref(), &endpoints, &hints)
}

/// The engine's settings from the `[server]` section, each zone's transfer ACL and `[acl]`.
pub fn engine_config(config: &Config) -> EngineConfig {
    let s = &config.server;
    EngineConfig {
        udp_payload: s.udp_payload,
        nsid: s.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
        // RFC 7828 counts in units of 100 ms.
        tcp_keepalive: Some(
            u16::try_from(s.tcp_idle_timeout.as_millis() / 100).unwrap_or(u16::MAX),
        ),
        version: s.version.clone(),
        hostname: s.hostname.clone(),
        id: s.server_id.clone(),
        query_acl: config.acl.query_acl(),
        allow_transfer: config.acl.transfer_acl(config),
        zone_allow_transfer: config
            .zones
            .iter()
            .filter(|z| !z.allow_transfer.is_empty())
            .map(|z| (z.origin.clone(), z.allow_transfer.clone()))
            .collect(),
        listeners: config.acl.listener_acls(
            &[
                &s.listen[..],
                &config.tls.listen[..],
                &config.https.listen[..],
                &config.quic.listen[..],
            ]
            .concat(),
        ),
        ..EngineConfig::default()
    }
}

fn zone_stats(zones: &[ZoneSummary]) -> Vec<ZoneStats> {
    zones
        .iter()
        .map(|z| ZoneStats {
            origin: z.origin.to_string(),
            serial: z.serial,
            records: z.records as u64,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// Serves `config` (read from `source`, which a reload reads again) until SIGTERM or SIGINT.
/// Returns 0 after a clean stop, 1 when the server cannot start.
///
/// Start-up order: load and build the engine; bind every UDP and TCP listener, the HTTP
/// endpoint and the control socket; then drop privileges (so binding port 53 and creating the
/// control socket happen as root, answering does not); then wait for signals.
pub fn run(source: ConfigSource, config: &Config) -> ExitCode {
    let server = match Server::new(source, config) {
        Ok(server) => Arc::new(server),
        Err(errors) => {
            for e in &errors {
                tracing::error!("{e}");
            }
            tracing::error!("{}: {} error(s): not starting", config.label, errors.len());
            return ExitCode::FAILURE;
        }
    };
    let shutdown = Shutdown::new();
    let workers = usize::from(config.server.workers);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.clamp(1, 16))
        .thread_name("portcullis-io")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the I/O runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut running = Running {
        udp: Vec::with_capacity(config.server.listen.len()),
        tasks: Vec::new(),
        shutdown: shutdown.clone(),
    };
    if let Err(message) = start(&server, config, &runtime, &mut running) {
        tracing::error!("{message}");
        running.stop(&runtime);
        return ExitCode::FAILURE;
    }
    if let Some(user) = &config.server.user
        && let Err(e) = privileges::drop_privileges(user)
    {
        tracing::error!("cannot switch to user {user}: {e}");
        running.stop(&runtime);
        return ExitCode::FAILURE;
    }
    let zones = server.engine().load().catalog().len();
    tracing::info!(zones, workers, "serving");

    let code = match runtime.block_on(wait_for_stop(&server)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("cannot wait for signals: {e}");
            ExitCode::FAILURE
        }
    };
    running.stop(&runtime);
    tracing::info!("stopped");
    code
}

/// What a running server has started, to stop in order.
struct Running {
    udp: Vec<UdpWorkers>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    shutdown: Shutdown,
}

impl Running {
    /// Triggers the shutdown and waits for every worker and task (TCP gives in-flight answers
    /// its own grace period).
    fn stop(self, runtime: &tokio::runtime::Runtime) {
        self.shutdown.trigger();
        runtime.block_on(async {
            for task in self.tasks {
                let _ = task.await;
            }
        });
        self.udp.into_iter().for_each(UdpWorkers::join);
    }
}

/// Binds and starts every listener of `config`: UDP workers and a TCP listener on each listen
/// address, the HTTP endpoint, the control socket.
fn start(
    server: &Arc<Server>,
    config: &Config,
    runtime: &tokio::runtime::Runtime,
    running: &mut Running,
) -> Result<(), String> {
    let workers = usize::from(config.server.workers);
    let _enter = runtime.enter();
    let resolver = start_resolver(server, config, running)?;
    let shutdown = &running.shutdown.clone();
    // One rate limiter for every UDP listener and worker: a client is counted once, whichever
    // address or worker its queries reach. Its table is sized once, here; a reload keeps it.
    let rrl = config.rrl.limiter().map(Arc::new);
    if let Some(rrl) = &rrl {
        tracing::info!(
            table_bytes = rrl.memory(),
            log_only = rrl.log_only(),
            "response rate limiting on"
        );
    }
    // The dashboard's top-k tables, fed by every listener when the dashboard is served.
    let top = server.dashboard_on.then(|| server.dashboard.top().clone());
    // Client limits likewise: one table for every listener, UDP and TCP.
    let client_limits = config.limits.limiter().map(ClientLimits::new);
    // The policies of the stream transports (TCP, DoT, DoH, DoQ): response rate limiting is
    // for UDP only.
    let stream_guards = || Guards {
        rrl: None,
        events: server.events().clone(),
        limits: client_limits.clone(),
        top: top.clone(),
    };
    if let Some(limits) = &client_limits {
        tracing::info!(
            table_bytes = limits.table().memory(),
            rules = limits.table().config().rules.len(),
            "client limits and dynamic blocks on"
        );
        let limits = limits.clone();
        server
            .registry()
            .set_dynamic_blocks_source(Box::new(move || {
                let now = transport::clock::now().as_millis();
                limits.table().active(now) as u64
            }));
    }
    let mut listen = Vec::with_capacity(config.server.listen.len());
    for &addr in &config.server.listen {
        let udp = udp::spawn_resolving_workers(
            addr,
            workers,
            server.engine().clone(),
            resolver.clone(),
            Guards {
                rrl: rrl.clone(),
                events: server.events().clone(),
                limits: client_limits.clone(),
                top: top.clone(),
            },
            server.registry(),
            shutdown.clone(),
        );
        match udp {
            Ok(udp) => {
                running.udp.push(udp);
                listen.push(addr);
            }
            Err(e) if optional_listen(server, config, addr, &e) => {
                tracing::warn!(
                    "not listening on {addr}: {e}: this host has no IPv6 loopback; the built-in \
                     configuration goes on without it"
                );
            }
            Err(e) => return Err(bind_error(addr, &e)),
        }
    }
    let limits = TcpLimits {
        idle_timeout: config.server.tcp_idle_timeout,
        max_connections: config.server.tcp_max_connections as usize,
        max_per_client: config.server.tcp_max_connections_per_client as usize,
        max_queries_per_connection: match config.server.tcp_max_queries_per_connection {
            0 => None,
            n => Some(n as usize),
        },
        ..TcpLimits::default()
    };
    for &addr in &listen {
        let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
        running.tasks.push(runtime.spawn(tcp::serve_guarded(
            listener,
            server.engine().clone(),
            resolver.clone(),
            limits.clone(),
            server.registry().clone(),
            stream_guards(),
            shutdown.clone(),
        )));
    }
    if let Some(tls) = &server.tls {
        for &addr in &config.tls.listen {
            let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
            let settings = transport::tls::TlsSettings {
                config: tls.clone(),
                handshake_timeout: config.tls.handshake_timeout,
            };
            running.tasks.push(runtime.spawn(transport::tls::serve(
                listener,
                settings,
                server.engine().clone(),
                resolver.clone(),
                limits.clone(),
                server.registry().clone(),
                stream_guards(),
                shutdown.clone(),
            )));
            tracing::info!(%addr, "DNS over TLS");
        }
    }
    if let Some(tls) = &server.https_tls {
        for &addr in &config.https.listen {
            let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
            let settings = transport::doh::DohSettings {
                tls: transport::tls::TlsSettings {
                    config: tls.clone(),
                    handshake_timeout: config.tls.handshake_timeout,
                },
                path: config.https.path.clone(),
                json: config.https.json,
                max_streams: config.https.max_streams,
            };
            running.tasks.push(runtime.spawn(transport::doh::serve(
                listener,
                settings,
                server.engine().clone(),
                resolver.clone(),
                limits.clone(),
                server.registry().clone(),
                stream_guards(),
                shutdown.clone(),
            )));
            tracing::info!(%addr, path = %config.https.path, "DNS over HTTPS");
        }
    }
    if let Some(doq) = &server.doq {
        for &addr in &config.quic.listen {
            let socket = bind_udp(addr).map_err(|e| bind_error(addr, &e))?;
            let settings = transport::doq::DoqSettings {
                tls: doq.subscribe(),
                max_streams: config.quic.max_streams,
                idle_timeout: config
                    .quic
                    .idle_timeout
                    .unwrap_or(config.server.tcp_idle_timeout),
                handshake_timeout: config.tls.handshake_timeout,
            };
            let served = transport::doq::serve(
                socket,
                settings,
                server.engine().clone(),
                resolver.clone(),
                limits.clone(),
                server.registry().clone(),
                stream_guards(),
                shutdown.clone(),
            );
            running.tasks.push(runtime.spawn(async move {
                if let Err(e) = served.await {
                    tracing::error!(%addr, "DNS over QUIC stopped: {e}");
                }
            }));
            tracing::info!(%addr, "DNS over QUIC");
        }
    }
    if let Some(addr) = config.server.http {
        let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
        let registry = server.registry().clone();
        let health: http::HealthCheck = Arc::new(|| true);
        let stop = shutdown.clone();
        let acl = config.acl.http_acl();
        let limits = http::Limits::default();
        let events = server.events().clone();
        let detect: Arc<dyn http::DetectApi> = server.clone();
        let backend: Option<Arc<dyn crate::dashboard::Backend>> = server
            .dashboard_on
            .then(|| server.clone() as Arc<dyn crate::dashboard::Backend>);
        running.tasks.push(runtime.spawn(async move {
            let served = http::serve_api(
                listener,
                registry,
                health,
                stop,
                limits,
                acl,
                events,
                Some(detect),
                backend,
            );
            if let Err(e) = served.await {
                tracing::error!("HTTP endpoint stopped: {e}");
            }
        }));
        if server.dashboard_on {
            tracing::info!(%addr, "HTTP endpoint: the dashboard at http://{addr}/, /metrics and /healthz");
        } else {
            tracing::info!(%addr, "HTTP endpoint: /metrics and /healthz");
        }
    }
    running
        .tasks
        .push(runtime.spawn(signing_timer(server.clone(), shutdown.clone())));
    running.tasks.push(runtime.spawn(cookies::rotation_timer(
        server.cookies.clone(),
        shutdown.clone(),
    )));
    running.tasks.push(runtime.spawn(crate::policy::watch(
        server.policy.clone(),
        shutdown.clone(),
    )));
    let path = &config.server.control_socket;
    let handler: Arc<dyn ControlHandler> = server.clone();
    match control::serve_guarded(
        path,
        handler,
        shutdown.clone(),
        config.acl.control_acl(config),
        server.events().clone(),
    ) {
        Ok(task) => running.tasks.push(runtime.spawn(task)),
        // The server answers DNS without its control socket; `portcullis ctl` and reloads by
        // SIGHUP say what is possible.
        Err(e) => tracing::warn!(
            "no control socket at {}: {e}; `portcullis ctl` will not reach this server (SIGHUP still reloads)",
            path.display()
        ),
    }
    Ok(())
}

/// Starts the resolver's drivers when the resolver is on; their handle goes to every listener.
fn start_resolver(
    server: &Arc<Server>,
    config: &Config,
    running: &mut Running,
) -> Result<Option<ResolverHandle>, String> {
    let Some(cache) = server.cache() else {
        return Ok(None);
    };
    let mut recursor = recursor_config(config)?;
    let shared = server
        .policy
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .shared()
        .clone();
    recursor.alias_stop = Some(crate::policy::alias_stop(shared));
    let r = &config.resolver;
    let upstreams = transport::resolver::Upstreams {
        secure: Arc::new(secure_upstreams(config)?),
        encrypted_only: r.encrypted_only,
    };
    let (handle, tasks) = transport::resolver::spawn_drivers(
        &recursor,
        cache,
        transport::resolver::DriverSettings {
            drivers: usize::from(r.drivers),
            queue: r.queue as usize,
            stale_client_timeout: match config.cache.stale_answer_client_timeout {
                0 => None,
                ms => Some(std::time::Duration::from_millis(u64::from(ms))),
            },
        },
        &upstreams,
        server.engine(),
        server.registry(),
        server.events(),
        &running.shutdown,
    )
    .map_err(|e| format!("cannot start the resolver: {e}"))?;
    running.tasks.extend(tasks);
    if let recursor::Anchors::Managed(managed) = &recursor.validation.anchors
        && recursor.validation.enabled
    {
        running.tasks.push(tokio::spawn(check_trust_anchors(
            managed.clone(),
            handle.clone(),
            running.shutdown.clone(),
        )));
    }
    tracing::info!(
        drivers = r.drivers,
        forwards = config.forwards.len(),
        encrypted_upstreams = upstreams.secure.len(),
        encrypted_only = r.encrypted_only,
        hints = %r.root_hints.as_ref().map_or("built in".to_owned(), |p| p.display().to_string()),
        "resolver on"
    );
    Ok(Some(handle))
}

/// How often the RFC 5011 schedule is looked at (each zone is checked on its own schedule,
/// at least an hour apart).
const ANCHOR_CHECK_TICK: std::time::Duration = std::time::Duration::from_secs(60);

/// RFC 5011 active refresh (section 2.3): asks for the DNSKEY RRset of every managed trust
/// anchor's zone when its check is due; the validator takes the check in when the answer is
/// validated (`ManagedAnchors::observe`).
async fn check_trust_anchors(
    managed: recursor::ManagedAnchors,
    handle: ResolverHandle,
    shutdown: Shutdown,
) {
    let client = engine::Client {
        addr: std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        transport: engine::Transport::Udp,
    };
    let mut reported: Option<String> = None;
    loop {
        let now = SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for zone in managed.due(now) {
            if let Some(request) =
                anchor_query(&zone).and_then(|q| engine::RecursionRequest::from_query(&q, &client))
            {
                tracing::debug!(%zone, "checking the trust anchor's DNSKEY RRset (RFC 5011)");
                handle.prefetch(request);
            }
        }
        let error = managed.save_error();
        if error.is_some() && error != reported {
            tracing::error!(
                error = error.as_deref().unwrap_or(""),
                "cannot save the trust anchor state"
            );
        }
        reported = error;
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(ANCHOR_CHECK_TICK) => {}
        }
    }
}

/// A query for `zone DNSKEY` with DO set.
fn anchor_query(zone: &wire::Name) -> Option<Vec<u8>> {
    let mut buf = [0u8; 512];
    let header = wire::message::Header {
        flags: wire::Flags(0).with_rd(true),
        ..wire::message::Header::default()
    };
    let limit = buf.len();
    let mut w = wire::MessageWriter::new(&mut buf, limit, header).ok()?;
    w.push_question(zone.as_ref(), wire::RType::DNSKEY, wire::Class::IN)
        .ok()?;
    w.opt(1232, wire::Rcode::NOERROR, true)
        .ok()?
        .finish()
        .ok()?;
    Some(w.finish().to_vec())
}

/// Whether failing to bind `addr` may be skipped with a warning: the built-in configuration's
/// `[::1]:53` on a host without IPv6 (no such address, or no IPv6 at all).
fn optional_listen(server: &Server, config: &Config, addr: SocketAddr, e: &std::io::Error) -> bool {
    let builtin = config.label == DEFAULT_CONFIG_LABEL && server.source.overrides.listen.is_empty();
    let no_ipv6 = matches!(
        e.raw_os_error(),
        Some(nix::libc::EADDRNOTAVAIL | nix::libc::EAFNOSUPPORT)
    );
    builtin && no_ipv6 && addr.ip() == std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)
}

/// A TCP listener on `addr`: `SO_REUSEADDR` so a restart binds at once, IPv6 sockets IPv6-only
/// so `0.0.0.0` and `[::]` bind side by side, as the UDP sockets do.
fn bind_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let raw = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
            raw.set_only_v6(true)?;
            raw.set_nonblocking(true)?;
            tokio::net::TcpSocket::from_std_stream(raw.into())
        }
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A UDP socket for a DNS over QUIC endpoint on `addr`, bound now (before privileges are
/// dropped): IPv6 sockets IPv6-only, as the other listeners. No `SO_REUSEPORT`: a QUIC
/// connection's packets must all reach the one endpoint that holds it.
fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl ControlHandler for Server {
    fn reload(&self) -> Result<String, String> {
        let summary = Server::reload(self)?;
        let mut text = format!("reloaded: {} zone(s)", summary.zones.len());
        for z in &summary.zones {
            text.push_str(&format!(
                "\n{} serial {} records {}",
                z.origin, z.serial, z.records
            ));
        }
        for w in &summary.warnings {
            text.push_str(&format!("\nwarning: {w}"));
        }
        Ok(text)
    }

    fn status(&self) -> String {
        let uptime = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|now| now.saturating_sub(self.registry.start_time()).as_secs())
            .unwrap_or(0);
        let zones = self.registry.zones();
        let mut text = format!("running for {uptime} s, serving {} zone(s)", zones.len());
        for z in &zones {
            text.push_str(&format!(
                "\n{} serial {} records {}",
                z.origin, z.serial, z.records
            ));
        }
        text
    }

    fn stats(&self) -> String {
        self.registry.render()
    }

    fn flush(&self, name: Option<&str>, subtree: bool) -> Result<String, String> {
        let cache = self
            .cache
            .as_ref()
            .ok_or("this server has no cache (the resolver is off)")?;
        match name {
            None => {
                let before = cache.stats().entries;
                cache.flush_all();
                Ok(format!("flushed the whole cache: {before} entries"))
            }
            Some(text) => {
                let name: wire::Name = text
                    .parse()
                    .map_err(|e| format!("`{text}` is not a domain name: {e}"))?;
                let removed = cache.flush(name.as_ref(), subtree);
                let what = if subtree { " and below" } else { "" };
                Ok(format!("flushed {name}{what}: {removed} entries"))
            }
        }
    }

    fn cache_stats(&self) -> Result<String, String> {
        let cache = self
            .cache
            .as_ref()
            .ok_or("this server has no cache (the resolver is off)")?;
        let s = cache.stats();
        Ok(format!(
            "entries {}\nbytes {}\nmax_bytes {}\nhits {}\nmisses {}\ninserts {}\nevictions {}\nexpired {}",
            s.entries, s.bytes, s.max_bytes, s.hits, s.misses, s.inserts, s.evictions, s.expired
        ))
    }

    fn allow_domain(&self, text: &str) -> Result<String, String> {
        let absolute = if text.ends_with('.') {
            text.to_owned()
        } else {
            format!("{text}.")
        };
        let mut name: wire::Name = absolute
            .parse()
            .map_err(|e| format!("`{text}` is not a domain name: {e}"))?;
        name.make_lowercase();
        if self.detect.detector().is_none() {
            return Err("detection is off".into());
        }
        let now_ms = transport::clock::now().as_millis();
        Ok(self.detect.allow(&name, &self.events, now_ms))
    }

    fn detections(&self) -> Result<String, String> {
        Ok(self.detect.list(transport::clock::now().as_millis()))
    }

    fn block(&self, name: &str) -> Result<String, String> {
        let name = self.override_name(name)?;
        self.policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .block(&name)
    }

    fn allow(&self, name: &str) -> Result<String, String> {
        let name = self.override_name(name)?;
        self.policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .allow(&name)
    }
}

impl Server {
    /// A name for the operator's run-time list; an error when there is no resolver to apply
    /// it or the text is not a name.
    fn override_name(&self, text: &str) -> Result<wire::Name, String> {
        if self.cache.is_none() {
            return Err("this server has no resolver policy (the resolver is off)".into());
        }
        let absolute = if text.ends_with('.') {
            text.to_owned()
        } else {
            format!("{text}.")
        };
        absolute
            .parse()
            .map_err(|e| format!("`{text}` is not a domain name: {e}"))
    }
}

impl crate::dashboard::Backend for Server {
    fn dashboard(&self) -> &crate::dashboard::Dashboard {
        &self.dashboard
    }

    fn registry(&self) -> &Registry {
        &self.registry
    }

    fn events(&self) -> &Events {
        &self.events
    }

    fn controls(&self) -> &dyn ControlHandler {
        self
    }

    fn detect_json(&self) -> String {
        self.detect.json(transport::clock::now().as_millis())
    }

    fn zone_serials(&self) -> Vec<(String, u32)> {
        self.registry
            .zones()
            .into_iter()
            .map(|z| (z.origin, z.serial))
            .collect()
    }
}

impl http::DetectApi for Server {
    fn state_json(&self) -> String {
        self.detect.json(transport::clock::now().as_millis())
    }

    fn allow(&self, domain: &str) -> Result<String, String> {
        ControlHandler::allow_domain(self, domain)
    }
}

/// Waits for SIGTERM or SIGINT; reloads on each SIGHUP, in the background so that a stop is
/// never held up by a long zone load.
async fn wait_for_stop(server: &Arc<Server>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: stopping");
                return Ok(());
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: stopping");
                return Ok(());
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                let server = server.clone();
                tokio::task::spawn_blocking(move || log_reload(&server));
            }
        }
    }
}

/// Reloads and logs the outcome.
fn log_reload(server: &Server) {
    match server.reload() {
        Ok(summary) => {
            for warning in &summary.warnings {
                tracing::warn!("{warning}");
            }
            for z in &summary.zones {
                tracing::info!(zone = %z.origin, serial = z.serial, records = z.records, "serving");
            }
            tracing::info!(zones = summary.zones.len(), "reloaded");
        }
        Err(errors) => {
            for e in errors.lines() {
                tracing::error!("{e}");
            }
            tracing::error!("reload refused: still serving the previous configuration and zones");
        }
    }
}

/// What to say when `addr` cannot be bound.
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied && addr.port() < 1024 {
        let example = SocketAddr::new(addr.ip(), 5300);
        return format!(
            "cannot listen on {addr}: {e}: ports below 1024 need privileges: run as root, \
             grant the binary CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep \
             /path/to/portcullis), or use a higher port (--listen {example})"
        );
    }
    if e.kind() == std::io::ErrorKind::AddrInUse {
        return format!(
            "cannot listen on {addr}: {e}: another process is using it, or a previous run's \
             connections are still closing"
        );
    }
    format!("cannot listen on {addr}: {e}")
}
