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
use engine::{Catalog, Engine, EngineConfig, IpPrefix};
use metrics::{Registry, ReloadResult, ZoneStats};
use transport::tcp::{self, TcpLimits};
use transport::udp::{self, UdpWorkers};
use transport::{SharedEngine, Shutdown};

use crate::check::{self, ZoneSummary};
use crate::config::{Config, ConfigSource, ServerConfig};
use crate::control::{self, ControlHandler};
use crate::prefix::Prefix;
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
    /// Serializes reloads (a signal and the control socket may ask at once).
    reloading: Mutex<()>,
}

impl Server {
    /// Loads `config` (read from `source`) and builds the first engine. Errors are the
    /// configuration's and zones' problems, one per line, each with its location.
    pub fn new(source: ConfigSource, config: &Config) -> Result<Server, Vec<String>> {
        let registry = Arc::new(Registry::new(SystemTime::now()));
        let loaded = build(config)?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        registry.set_zones(zone_stats(&loaded.zones));
        Ok(Server {
            source,
            engine: Arc::new(ArcSwap::from_pointee(loaded.engine)),
            registry,
            started: config.server.clone(),
            reloading: Mutex::new(()),
        })
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
                let loaded = build(&config).map_err(|errors| errors.join("\n"))?;
                let mut warnings = loaded.warnings;
                warnings.extend(
                    restart_only_changes(&self.started, &config.server)
                        .into_iter()
                        .map(|key| format!("{key} changed: it applies after a restart")),
                );
                self.engine.store(Arc::new(loaded.engine));
                self.registry.set_zones(zone_stats(&loaded.zones));
                Ok(ReloadSummary {
                    zones: loaded.zones,
                    warnings,
                })
            });
        self.registry.count_reload(match result {
            Ok(_) => ReloadResult::Success,
            Err(_) => ReloadResult::Failure,
        });
        result
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

/// An engine built from a configuration, with what the load reported.
struct Loaded {
    engine: Engine,
    zones: Vec<ZoneSummary>,
    warnings: Vec<String>,
}

/// Loads every zone of `config` as `portcullis check` does and builds an engine from them.
fn build(config: &Config) -> Result<Loaded, Vec<String>> {
    let (report, zones) = check::load(config);
    if !report.is_ok() {
        return Err(report.errors);
    }
    let catalog = Catalog::new(zones).map_err(|e| vec![format!("{}: {e}", config.label)])?;
    let engine = Engine::new(catalog, engine_config(config))
        .map_err(|e| vec![format!("{}: {e}", config.label)])?;
    Ok(Loaded {
        engine,
        zones: report.zones,
        warnings: report.warnings,
    })
}

/// The engine's settings from the `[server]` section and each zone's transfer ACL.
pub fn engine_config(config: &Config) -> EngineConfig {
    let s = &config.server;
    EngineConfig {
        udp_payload: s.udp_payload,
        nsid: s.nsid.as_ref().map(|n| n.as_bytes().to_vec()),
        version: s.version.clone(),
        hostname: s.hostname.clone(),
        id: s.server_id.clone(),
        allow_transfer: s.allow_transfer.iter().filter_map(ip_prefix).collect(),
        zone_allow_transfer: config
            .zones
            .iter()
            .filter(|z| !z.allow_transfer.is_empty())
            .map(|z| {
                let acl = z.allow_transfer.iter().filter_map(ip_prefix).collect();
                (z.origin.clone(), acl)
            })
            .collect(),
        ..EngineConfig::default()
    }
}

/// The engine's form of a configured prefix. Both keep the first `len` bits of an address, and
/// a configured prefix has no bits after them, so the conversion always succeeds.
fn ip_prefix(p: &Prefix) -> Option<IpPrefix> {
    IpPrefix::new(p.addr(), p.len())
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
    let shutdown = &running.shutdown;
    let workers = usize::from(config.server.workers);
    for &addr in &config.server.listen {
        let udp = udp::spawn_workers(
            addr,
            workers,
            server.engine().clone(),
            server.registry(),
            shutdown.clone(),
        )
        .map_err(|e| bind_error(addr, &e))?;
        running.udp.push(udp);
    }
    let _enter = runtime.enter();
    let limits = TcpLimits {
        idle_timeout: config.server.tcp_idle_timeout,
        max_connections: config.server.tcp_max_connections as usize,
        max_per_client: config.server.tcp_max_connections_per_client as usize,
        ..TcpLimits::default()
    };
    for &addr in &config.server.listen {
        let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
        running.tasks.push(runtime.spawn(tcp::serve(
            listener,
            server.engine().clone(),
            limits.clone(),
            server.registry().clone(),
            shutdown.clone(),
        )));
    }
    if let Some(addr) = config.server.http {
        let listener = bind_tcp(addr).map_err(|e| bind_error(addr, &e))?;
        let registry = server.registry().clone();
        let health: http::HealthCheck = Arc::new(|| true);
        let stop = shutdown.clone();
        running.tasks.push(runtime.spawn(async move {
            if let Err(e) = http::serve(listener, registry, health, stop).await {
                tracing::error!("HTTP endpoint stopped: {e}");
            }
        }));
        tracing::info!(%addr, "HTTP endpoint: /metrics and /healthz");
    }
    let path = &config.server.control_socket;
    let handler: Arc<dyn ControlHandler> = server.clone();
    match control::serve(path, handler, shutdown.clone()) {
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
