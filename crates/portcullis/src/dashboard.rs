//! The live web dashboard on `server.http`: the page at `/` (built from `web/` with npm, committed
//! in `web/dist` and embedded here, so `cargo build` never runs npm and nothing comes from a
//! CDN), its JSON API under `/api/`, and the operator's controls.
//!
//! # API
//!
//! Every answer is JSON with `Cache-Control: no-store`.
//!
//! - `GET /api/stats`: counter totals (the page turns them into rates), the latency histogram,
//!   the cache's figures, the top-k tables ([`metrics::top`]), the resolver's upstream figures,
//!   the security event counters and the detector's.
//! - `GET /api/events?after=SEQ`: the recent-events ring ([`events::Recent`]), events numbered
//!   above `SEQ`, at most [`MAX_EVENTS_PER_POLL`].
//! - `GET /api/config`: a summary of the running configuration, nothing secret.
//! - `GET /api/detect`: the detector's verdicts and alerts.
//! - Controls, `POST` only, through the control socket's [`ControlHandler`] so that the CLI and
//!   the API do the same thing: `/api/flush` (`?name=NAME`, `&subtree=1`), `/api/reload`,
//!   `/api/block?name=`, `/api/allow?name=`, `/api/detect/allow?domain=`. Each is a security
//!   event ([`Action::Control`]: the command as reason, the client and argument as detail).
//!
//! # Who may use it
//!
//! `/metrics`, `/healthz` and `/readyz` stay open (`acl.http` applies to everything). With a
//! token (`server.http_token`), every `/api/` request needs `Authorization: Bearer TOKEN`,
//! compared in constant time; the page asks for it once and keeps it in `sessionStorage`. A
//! listener that is not on loopback must have a token (the configuration is refused without).
//! Without a token, the `Host` header must name a loopback address or `localhost`, so a web
//! page elsewhere cannot reach the API by DNS rebinding. Controls also refuse cross-site
//! requests: `Sec-Fetch-Site` other than `same-origin` or `none`, an `Origin` that is not the
//! `Host`, or a missing `X-Portcullis: 1` header (which a cross-site form cannot send, and a
//! cross-site script cannot without a CORS preflight that is never granted).

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use events::{Action, Event, Events, Recent};
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use metrics::{
    LATENCY_BUCKETS, Rcode, Registry, TopTables, Transport, UpstreamProtocol, latency_bound_ns,
};
use serde_json::{Value, json};

use crate::config::Config;
use crate::control::ControlHandler;

/// The page, built by `npm run build` in `web/`.
const INDEX_HTML: &str = include_str!("../../../web/dist/index.html");
/// The page's script (uPlot and the app, bundled by esbuild).
const APP_JS: &str = include_str!("../../../web/dist/app.js");
/// The page's style sheet.
const APP_CSS: &str = include_str!("../../../web/dist/app.css");

/// Most events one `GET /api/events` returns.
pub const MAX_EVENTS_PER_POLL: usize = 500;
/// Rows in each top-k table of `/api/stats`.
pub const TOP_ROWS: usize = 20;

/// The content security policy of every dashboard response: nothing from elsewhere.
const CSP: &str = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'none'";

/// What the dashboard keeps: the top-k tables and the event ring the server feeds, the token,
/// and the configuration summary (replaced on every reload).
#[derive(Debug)]
pub struct Dashboard {
    top: Arc<TopTables>,
    recent: Arc<Recent>,
    /// The API token; a reload may change it (the listener cannot move, so a listener off
    /// loopback keeps needing one: the configuration is refused without).
    token: Mutex<Option<String>>,
    summary: Mutex<Value>,
    /// The `[dashboard]` settings it started with (they apply at start).
    started: crate::config::dashboard::DashboardSettings,
}

impl Dashboard {
    /// The dashboard of `config`, with the tables and ring the server feeds.
    pub fn new(config: &Config, top: Arc<TopTables>, recent: Arc<Recent>) -> Dashboard {
        Dashboard {
            top,
            recent,
            token: Mutex::new(config.server.http_token.clone()),
            summary: Mutex::new(summary(config)),
            started: config.dashboard.clone(),
        }
    }

    /// The top-k tables, for the transports.
    pub fn top(&self) -> &Arc<TopTables> {
        &self.top
    }

    /// Applies a reloaded configuration: its summary and its token. Returns `[dashboard]`
    /// when that section changed, for it applies only after a restart.
    pub fn set_config(&self, config: &Config) -> Option<&'static str> {
        *self.summary.lock().unwrap_or_else(PoisonError::into_inner) = summary(config);
        *self.token.lock().unwrap_or_else(PoisonError::into_inner) =
            config.server.http_token.clone();
        (config.dashboard != self.started).then_some("[dashboard]")
    }

    fn has_token(&self) -> bool {
        self.token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// What the dashboard reads and acts on: the running server.
pub trait Backend: Send + Sync {
    /// The dashboard's own state.
    fn dashboard(&self) -> &Dashboard;
    /// The metrics.
    fn registry(&self) -> &Registry;
    /// The security event stream, where control actions are reported.
    fn events(&self) -> &Events;
    /// The control socket's commands.
    fn controls(&self) -> &dyn ControlHandler;
    /// The detector's verdicts and alerts, as JSON.
    fn detect_json(&self) -> String;
    /// The zone serials now served, by origin.
    fn zone_serials(&self) -> Vec<(String, u32)>;
}

/// Whether the dashboard answers `path`.
pub fn handles(path: &str) -> bool {
    matches!(path, "/" | "/index.html" | "/app.js" | "/app.css") || path.starts_with("/api/")
}

/// A control the API runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Control {
    Flush { name: Option<String>, subtree: bool },
    Reload,
    Block(String),
    Allow(String),
    AllowDomain(String),
}

impl Control {
    /// The command as the control socket writes it (the event's detail).
    fn command(&self) -> String {
        match self {
            Control::Flush { name: None, .. } => "flush".into(),
            Control::Flush {
                name: Some(n),
                subtree,
            } => format!("flush {n}{}", if *subtree { " --subtree" } else { "" }),
            Control::Reload => "reload".into(),
            Control::Block(n) => format!("block {n}"),
            Control::Allow(n) => format!("allow {n}"),
            Control::AllowDomain(n) => format!("allow-domain {n}"),
        }
    }

    fn run(&self, controls: &dyn ControlHandler) -> Result<String, String> {
        match self {
            Control::Flush { name, subtree } => controls.flush(name.as_deref(), *subtree),
            Control::Reload => controls.reload(),
            Control::Block(n) => controls.block(n),
            Control::Allow(n) => controls.allow(n),
            Control::AllowDomain(n) => controls.allow_domain(n),
        }
    }
}

/// The value of `key` in a query string (`a=1&b=2`), percent-decoded.
fn param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| {
            bytes
                .get(j)
                .and_then(|c| char::from(*c).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares two secrets in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

/// Whether a `Host` header names this machine: a loopback address or `localhost`.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a request is refused, if it is.
fn authorize(dashboard: &Dashboard, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let token = dashboard
        .token
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    match &token {
        Some(token) => {
            let given = text(header::AUTHORIZATION)
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
                Ok(())
            } else {
                Err((
                    StatusCode::UNAUTHORIZED,
                    "this API needs Authorization: Bearer TOKEN (server.http_token)",
                ))
            }
        }
        None if text(header::HOST).is_none_or(loopback_host) => Ok(()),
        None => Err((
            StatusCode::FORBIDDEN,
            "without server.http_token the API answers only requests for a loopback host",
        )),
    }
}

/// Why a control request looks cross-site, if it does.
fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Some("cross-site request refused (Sec-Fetch-Site)");
    }
    if let Some(origin) = text("origin") {
        let host = text("host").unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
        if !origin_host.eq_ignore_ascii_case(host) {
            return Some("cross-site request refused (Origin is not this host)");
        }
    }
    if text("x-portcullis") != Some("1") {
        return Some("controls need the header X-Portcullis: 1");
    }
    None
}

/// Answers a dashboard request from `peer` (see the module docs).
pub async fn respond<B>(
    backend: Arc<dyn Backend>,
    request: Request<B>,
    peer: IpAddr,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let query = request.uri().query().map(str::to_owned);
    let query = query.as_deref();
    let get = method == Method::GET || method == Method::HEAD;
    match path.as_str() {
        "/" | "/index.html" if get => return asset(INDEX_HTML, "text/html; charset=utf-8"),
        "/app.js" if get => return asset(APP_JS, "text/javascript; charset=utf-8"),
        "/app.css" if get => return asset(APP_CSS, "text/css; charset=utf-8"),
        "/" | "/index.html" | "/app.js" | "/app.css" => return not_allowed("GET, HEAD"),
        _ => {}
    }
    if let Err((status, why)) = authorize(backend.dashboard(), request.headers()) {
        return json(status, &json!({"ok": false, "message": why}));
    }
    let control = match path.as_str() {
        "/api/stats" | "/api/events" | "/api/config" | "/api/detect" if !get => {
            return not_allowed("GET, HEAD");
        }
        "/api/stats" => return json(StatusCode::OK, &stats(&*backend)),
        "/api/events" => {
            let after = param(query, "after")
                .and_then(|a| a.parse().ok())
                .unwrap_or(0);
            return json(
                StatusCode::OK,
                &events_json(&backend.dashboard().recent, after),
            );
        }
        "/api/config" => {
            let mut summary = backend
                .dashboard()
                .summary
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let zones: Vec<Value> = backend
                .zone_serials()
                .into_iter()
                .map(|(origin, serial)| json!({"origin": origin, "serial": serial}))
                .collect();
            summary["zones"] = Value::Array(zones);
            return json(StatusCode::OK, &summary);
        }
        "/api/detect" => {
            let mut response = Response::new(Full::new(Bytes::from(backend.detect_json())));
            *response.status_mut() = StatusCode::OK;
            return with_headers(response, "application/json");
        }
        "/api/flush" => Control::Flush {
            name: param(query, "name").filter(|n| !n.is_empty()),
            subtree: param(query, "subtree").is_some_and(|s| s == "1" || s == "true"),
        },
        "/api/reload" => Control::Reload,
        "/api/block" | "/api/allow" | "/api/detect/allow" => {
            let key = if path == "/api/detect/allow" {
                "domain"
            } else {
                "name"
            };
            let Some(name) = param(query, key).filter(|n| !n.is_empty()) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    &json!({"ok": false, "message": format!("give ?{key}=NAME")}),
                );
            };
            match path.as_str() {
                "/api/block" => Control::Block(name),
                "/api/allow" => Control::Allow(name),
                _ => Control::AllowDomain(name),
            }
        }
        _ => {
            return json(
                StatusCode::NOT_FOUND,
                &json!({"ok": false, "message": "not found"}),
            );
        }
    };
    if method != Method::POST {
        return not_allowed("POST");
    }
    if let Some(why) = cross_site(request.headers()) {
        return json(StatusCode::FORBIDDEN, &json!({"ok": false, "message": why}));
    }
    let command = control.command();
    let who = if backend.dashboard().has_token() {
        "token"
    } else {
        "loopback"
    };
    let ran = {
        let backend = backend.clone();
        let control = control.clone();
        tokio::task::spawn_blocking(move || control.run(backend.controls())).await
    };
    let result = ran.unwrap_or_else(|e| Err(format!("the command failed: {e}")));
    let outcome = match &result {
        Ok(_) => "ok",
        Err(_) => "error",
    };
    backend.events().emit(
        Event::new(Action::Control, "http api")
            .client(peer)
            .detail(format!("{command} ({outcome}; by {who} from {peer})")),
    );
    match result {
        Ok(message) => json(
            StatusCode::OK,
            &json!({"ok": true, "command": command, "message": message}),
        ),
        Err(message) => json(
            StatusCode::BAD_REQUEST,
            &json!({"ok": false, "command": command, "message": message}),
        ),
    }
}

/// `/api/stats`.
fn stats(backend: &dyn Backend) -> Value {
    let registry = backend.registry();
    let totals = registry.totals();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut queries = serde_json::Map::new();
    for t in Transport::ALL {
        let n: u64 = metrics::QType::ALL
            .iter()
            .map(|&q| totals.queries(t, q))
            .sum();
        queries.insert(t.label().into(), n.into());
    }
    let mut rcodes = serde_json::Map::new();
    for r in Rcode::ALL {
        let n: u64 = Transport::ALL.iter().map(|&t| totals.responses(t, r)).sum();
        rcodes.insert(r.label().into(), n.into());
    }
    let buckets: Vec<u64> = (0..=LATENCY_BUCKETS)
        .map(|i| {
            Transport::ALL
                .iter()
                .flat_map(|&t| metrics::Source::ALL.map(|s| (t, s)))
                .map(|(t, s)| totals.latency_bucket(t, s, i))
                .sum()
        })
        .collect();
    let bounds: Vec<f64> = (0..LATENCY_BUCKETS)
        .map(|i| latency_bound_ns(i) as f64 / 1e9)
        .collect();
    let latency_sum: u64 = Transport::ALL
        .iter()
        .flat_map(|&t| metrics::Source::ALL.map(|s| (t, s)))
        .map(|(t, s)| totals.latency_sum_ns(t, s))
        .sum();
    let cache = registry.cache();
    let resolver = registry.resolver();
    let mut protocols = serde_json::Map::new();
    for p in UpstreamProtocol::ALL {
        protocols.insert(
            p.label().into(),
            json!({
                "queries": resolver.upstream_queries[p as usize],
                "failures": resolver.protocol_failures[p as usize],
            }),
        );
    }
    // The busiest upstream servers, with their timeouts and round-trip times.
    let mut servers = registry.upstream_servers().servers;
    servers.sort_by_key(|s| std::cmp::Reverse(s.1.queries));
    let servers: Vec<Value> = servers
        .iter()
        .take(TOP_ROWS)
        .map(|(addr, f)| {
            let answered: u64 = f.rtt.iter().sum();
            let mean_ms = if answered > 0 {
                f.rtt_sum_ms as f64 / answered as f64
            } else {
                0.0
            };
            json!({
                "server": addr.to_string(),
                "queries": f.queries,
                "timeouts": f.timeouts,
                "answered": answered,
                "mean_rtt_ms": mean_ms,
                "last_rtt_ms": f.last_rtt_ms,
            })
        })
        .collect();
    let security = registry.security().unwrap_or_default();
    let actions: serde_json::Map<String, Value> = security
        .actions
        .iter()
        .map(|(name, n)| ((*name).to_owned(), (*n).into()))
        .collect();
    let top = backend.dashboard().top.snapshot(TOP_ROWS, now.as_secs());
    let names = |rows: &[metrics::TopEntry<String>]| -> Vec<Value> {
        rows.iter()
            .map(|e| json!({"name": e.key, "count": e.count, "error": e.error}))
            .collect()
    };
    let clients: Vec<Value> = top
        .clients
        .iter()
        .map(|e| json!({"client": e.key.to_string(), "count": e.count, "error": e.error}))
        .collect();
    let detect = registry.detect().map(|d| {
        json!({
            "scored": d.scored,
            "domains_tracked": d.domains_tracked,
            "verdicts_active": d.verdicts_active,
            "allowed": d.allowed,
            "alerts": d.alerts.iter().map(|(k, m, n)| json!({"kind": k, "mode": m, "count": n})).collect::<Vec<_>>(),
        })
    });
    json!({
        "time_ms": u64::try_from(now.as_millis()).unwrap_or(u64::MAX),
        "uptime_s": now.saturating_sub(registry.start_time()).as_secs(),
        "queries": queries,
        "rcodes": rcodes,
        "latency": {
            "bounds_s": bounds,
            "buckets": buckets,
            "sum_s": latency_sum as f64 / 1e9,
        },
        "cache": {
            "entries": cache.entries,
            "bytes": cache.bytes,
            "max_bytes": cache.max_bytes,
            "hits": cache.hits,
            "misses": cache.misses,
            "inserts": cache.inserts,
            "evictions": cache.evictions,
            "expired": cache.expired,
        },
        "top": {
            "window_s": backend.dashboard().top.config().window.as_secs(),
            "names": names(&top.names),
            "clients": clients,
            "blocked": names(&top.blocked),
        },
        "upstream": {
            "protocols": protocols,
            "servers": servers,
            "accepted": resolver.upstream_accepted,
            "timeouts": resolver.upstream_timeouts,
            "failures": resolver.upstream_failures,
            "rejected": resolver.upstream_rejected.iter().sum::<u64>(),
            "in_flight": resolver.in_flight,
            "validation": {
                "secure": resolver.validation[0],
                "insecure": resolver.validation[1],
                "bogus": resolver.validation[2],
            },
        },
        "security": {
            "actions": actions,
            "written": security.written,
            "dropped": security.dropped,
            "suppressed": security.suppressed,
        },
        "detect": detect,
    })
}

/// `/api/events`.
fn events_json(recent: &Recent, after: u64) -> Value {
    let (items, last) = recent.after(after, MAX_EVENTS_PER_POLL);
    let events: Vec<Value> = items
        .iter()
        .map(|r| {
            let e = &r.event;
            json!({
                "seq": r.seq,
                "time_ms": r.time_ms,
                "action": e.action.name(),
                "reason": e.reason,
                "client": e.client.map(|c| c.to_string()),
                "qname": e.qname.as_ref().map(ToString::to_string),
                "qtype": e.qtype.map(|t| t.to_string()),
                "detail": e.detail.as_deref(),
            })
        })
        .collect();
    json!({"last": last, "capacity": recent.capacity(), "events": events})
}

/// The configuration summary of `/api/config` (the zones' serials are added when asked).
fn summary(config: &Config) -> Value {
    let s = &config.server;
    let authoritative = !config.zones.is_empty();
    let role = match (authoritative, config.resolver.enabled) {
        (true, true) => "authoritative and resolver",
        (false, true) => "resolver",
        (true, false) => "authoritative",
        (false, false) => "idle",
    };
    let addrs = |a: &[std::net::SocketAddr]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
    let forwards: Vec<Value> = config
        .forwards
        .iter()
        .map(|f| {
            json!({
                "zone": f.zone.to_string(),
                "kind": if f.stub { "stub" } else { "forward" },
                "servers": f.to.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "encrypted": f.secure.iter().map(|s| format!("{:?} {}@{}", s.scheme, s.name, s.addr)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let p = &config.policy;
    json!({
        "role": role,
        "listeners": {
            "dns": addrs(&s.listen),
            "tls": addrs(&config.tls.listen),
            "https": addrs(&config.https.listen),
            "quic": addrs(&config.quic.listen),
            "http": s.http.map(|a| a.to_string()),
        },
        "workers": s.workers,
        "auth": if s.http_token.is_some() { "token" } else { "loopback only" },
        "resolver": {
            "enabled": config.resolver.enabled,
            "root_hints": config.resolver.root_hints.as_ref().map(|p| p.display().to_string()),
            "forwards": forwards,
            "dnssec_validation": config.dnssec.validation.to_string(),
            "qname_minimisation": format!("{:?}", config.resolver.qname_minimisation).to_lowercase(),
        },
        "detection": config.detect.mode.map_or_else(|| "default".to_owned(), |m| format!("{m:?}").to_lowercase()),
        "policy": {
            "blocklists": p.blocklists.iter().map(|b| b.source.name.clone()).collect::<Vec<_>>(),
            "allowlists": p.allowlists.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
            "rpz": p.rpz.iter().map(|z| z.origin.to_string()).collect::<Vec<_>>(),
        },
        "rrl": config.rrl.enabled,
        "client_limits": config.limits.enabled,
        "cookies_required": config.cookies.require,
        "events": {
            "json": config.events.json.as_ref().map(|j| match j {
                events::Sink::Stdout => "stdout".to_owned(),
                events::Sink::File(p) => p.display().to_string(),
            }),
            "syslog": config.events.syslog.as_ref().map(|p| p.display().to_string()),
        },
        "dashboard": {
            "top_capacity": config.dashboard.top_capacity,
            "top_sample": config.dashboard.top_sample,
            "top_window_s": config.dashboard.top_window.as_secs(),
            "events": config.dashboard.events,
            "max_overrides": config.dashboard.max_overrides,
        },
    })
}

fn with_headers(
    mut response: Response<Full<Bytes>>,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response<Full<Bytes>> {
    with_headers(
        Response::new(Full::new(Bytes::from_static(body.as_bytes()))),
        content_type,
    )
}

fn json(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    with_headers(response, "application/json")
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"ok": false, "message": "method not allowed"}),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!constant_time_eq(b"0123456789abcdeg", b"0123456789abcdef"));
        assert!(!constant_time_eq(b"0123456789abcde", b"0123456789abcdef"));
        assert!(!constant_time_eq(b"", b"0123456789abcdef"));
        assert!(!constant_time_eq(b"0123456789abcdef0", b"0123456789abcdef"));
    }

    #[test]
    fn hosts_and_params() {
        assert!(loopback_host("127.0.0.1:8053"));
        assert!(loopback_host("localhost:8053"));
        assert!(loopback_host("[::1]:8053"));
        assert!(loopback_host("127.0.0.2"));
        assert!(!loopback_host("evil.example:8053"));
        assert!(!loopback_host("192.0.2.1:8053"));
        assert_eq!(
            param(Some("name=a%2Eb.example&subtree=1"), "name").as_deref(),
            Some("a.b.example")
        );
        assert_eq!(param(Some("subtree"), "subtree").as_deref(), Some(""));
        assert_eq!(param(None, "name"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn controls_refuse_cross_site_requests() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let ok = headers(&[
            ("host", "127.0.0.1:8053"),
            ("origin", "http://127.0.0.1:8053"),
            ("sec-fetch-site", "same-origin"),
            ("x-portcullis", "1"),
        ]);
        assert_eq!(cross_site(&ok), None);
        assert!(
            cross_site(&headers(&[
                ("x-portcullis", "1"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_some()
        );
        assert!(
            cross_site(&headers(&[
                ("host", "127.0.0.1:8053"),
                ("origin", "http://evil.example"),
                ("x-portcullis", "1")
            ]))
            .is_some()
        );
        assert!(cross_site(&headers(&[("host", "127.0.0.1:8053")])).is_some());
    }
}
