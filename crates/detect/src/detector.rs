//! The detector the server calls: the query model, the per-domain state and model, the learned
//! anomalies and the verdicts, joined.
//!
//! On every query routed to the resolver the engine asks [`Detector::check`] (a standing
//! verdict on the name's registered domain: one atomic load when none stands). On a cache miss
//! about to go upstream it calls [`Detector::on_miss`]: the query is scored (features and the
//! query model), counted in its registered domain's windows and in the anomaly baselines, and,
//! when the domain's cheap gates are crossed, the domain model decides. The resolver's answer
//! goes to [`Detector::on_answer`] (NXDOMAIN and response sizes). What comes out is a
//! [`Decision`]: perhaps something to answer instead, perhaps an explained [`Alert`] for the
//! security events.
//!
//! One tunnel session is one alert: a domain alerted on is not alerted on again until its
//! verdict (or, in the log and alert modes, its quiet period of `block_for_ms`) lapses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use wire::{Name, NameRef, RType, Rcode};

use crate::anomaly::{Anomalies, AnomalyAlert, AnomalyConfig, AnomalyKind, Observation};
use crate::domain::{DomainConfig, DomainModel, DomainTable, QueryObservation};
use crate::features::{FEATURES, extract};
use crate::model::{Model, QueryScore};
use crate::psl::Psl;
use crate::verdict::{AllowList, BlockKind, Enforce, Verdict, Verdicts};

/// What the detector does with what it finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Nothing runs.
    Off,
    /// Detect and report (notice severity); never act.
    #[default]
    Log,
    /// Detect and report as alerts (warning severity); never act.
    Alert,
    /// Alert, and enforce a verdict on the domain for `block_for_ms`.
    Block,
}

impl Mode {
    /// The mode's name in config, flags and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Log => "log",
            Mode::Alert => "alert",
            Mode::Block => "block",
        }
    }

    fn from_u8(v: u8) -> Mode {
        match v {
            0 => Mode::Off,
            1 => Mode::Log,
            2 => Mode::Alert,
            _ => Mode::Block,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Mode::Off => 0,
            Mode::Log => 1,
            Mode::Alert => 2,
            Mode::Block => 3,
        }
    }
}

/// The detector's settings (`[detect]` in the config file).
#[derive(Clone, Debug, PartialEq)]
pub struct DetectConfig {
    /// What to do with detections.
    pub mode: Mode,
    /// How a blocked domain is answered.
    pub block: BlockKind,
    /// How long a verdict stands (and, without one, how long a domain stays quiet after an
    /// alert).
    pub block_for_ms: u64,
    /// Block only the client that was seen tunnelling, not everyone.
    pub per_client: bool,
    /// Rate-limit a tunnel domain to this many queries a second instead of blocking it; also
    /// the limit put on a domain under a random-subdomain storm.
    pub rate_limit_qps: Option<u32>,
    /// Registered domains tracked at most.
    pub domains: usize,
    /// Client prefixes tracked at most by the anomaly baselines.
    pub clients: usize,
    /// Standing verdicts at most.
    pub verdicts: usize,
    /// The per-domain short window (bursts).
    pub short_window_ms: u64,
    /// The per-domain long window (low and slow exfiltration).
    pub long_window_ms: u64,
    /// The anomaly baselines' window.
    pub anomaly_window_ms: u64,
    /// After start, anomalies are only logged for this long, never acted on.
    pub learning_ms: u64,
    /// The operator's zones that legitimately look like tunnels: lowered, still counted.
    pub allow: Vec<Name>,
    /// How long `ctl allow-domain` lasts.
    pub allow_for_ms: u64,
    /// The A answer of a sinkholed name.
    pub sinkhole_v4: Ipv4Addr,
    /// The AAAA answer of a sinkholed name.
    pub sinkhole_v6: Ipv6Addr,
}

/// The storm limit when no `rate_limit_qps` is set: enough for the domain's real users.
const STORM_QPS: u32 = 50;

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            mode: Mode::Log,
            block: BlockKind::Nxdomain,
            block_for_ms: 10 * 60 * 1000,
            per_client: false,
            rate_limit_qps: None,
            domains: 100_000,
            clients: 65_536,
            verdicts: 10_000,
            short_window_ms: 60_000,
            long_window_ms: 3_600_000,
            anomaly_window_ms: 60_000,
            learning_ms: 3_600_000,
            allow: Vec::new(),
            allow_for_ms: 24 * 3_600_000,
            sinkhole_v4: Ipv4Addr::UNSPECIFIED,
            sinkhole_v6: Ipv6Addr::UNSPECIFIED,
        }
    }
}

impl DetectConfig {
    /// Whether `other` differs only in what [`Detector::reconfigure`] can change in place.
    fn same_state(&self, other: &DetectConfig) -> bool {
        self.domains == other.domains
            && self.clients == other.clients
            && self.verdicts == other.verdicts
            && self.short_window_ms == other.short_window_ms
            && self.long_window_ms == other.long_window_ms
            && self.anomaly_window_ms == other.anomaly_window_ms
            && self.learning_ms == other.learning_ms
            && self.allow == other.allow
    }
}

/// Which layer alerted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// The per-domain tunnel model.
    Tunnel,
    /// A learned baseline.
    Anomaly,
}

impl AlertKind {
    /// The kind's name in metric labels.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Tunnel => "tunnel",
            AlertKind::Anomaly => "anomaly",
        }
    }
}

/// An explained detection, for the security events.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Which layer.
    pub kind: AlertKind,
    /// The registered domain (for a client anomaly: that of the query that tipped it).
    pub domain: Name,
    /// The client, when one is to blame.
    pub client: Option<IpAddr>,
    /// A short fixed phrase: "tunnel domain", "nxdomain storm", "client names"...
    pub reason: &'static str,
    /// Why, in words and numbers.
    pub explanation: String,
    /// What now stands on the domain because of it (block mode only).
    pub enforced: Option<Enforce>,
    /// An anomaly within the learning period: logged, never acted on.
    pub learning: bool,
}

/// What the detector made of a cache miss.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// What to answer instead of resolving.
    pub enforce: Option<Enforce>,
    /// An alert to report.
    pub alert: Option<Box<Alert>>,
}

/// A standing verdict, for `ctl detections` and the API.
#[derive(Clone, Debug, PartialEq)]
pub struct VerdictInfo {
    /// The registered domain.
    pub domain: Name,
    /// What is enforced.
    pub enforce: Enforce,
    /// Only this client, when set.
    pub client: Option<IpAddr>,
    /// When it lapses (the caller's clock).
    pub until_ms: u64,
    /// Why: "tunnel", "anomaly".
    pub reason: &'static str,
    /// What was seen.
    pub summary: Box<str>,
}

/// Counters for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Cache misses scored.
    pub queries_scored: u64,
    /// Registered domains tracked now.
    pub domains_tracked: u64,
    /// Verdicts standing now.
    pub verdicts_active: u64,
    /// Domains the operator allowed.
    pub allowed: u64,
}

/// What can change on a reload without losing state.
#[derive(Debug)]
struct Policy {
    block: BlockKind,
    block_for_ms: u64,
    per_client: bool,
    rate_limit_qps: Option<u32>,
    allow_for_ms: u64,
    config: DetectConfig,
}

impl Policy {
    fn new(config: DetectConfig) -> Policy {
        Policy {
            block: config.block,
            block_for_ms: config.block_for_ms,
            per_client: config.per_client,
            rate_limit_qps: config.rate_limit_qps,
            allow_for_ms: config.allow_for_ms,
            config,
        }
    }
}

/// Tunnelling, exfiltration and anomaly detection, shared by every worker.
#[derive(Debug)]
pub struct Detector {
    mode: AtomicU8,
    policy: Mutex<Policy>,
    model: Model,
    psl: Arc<Psl>,
    domains: DomainTable,
    anomalies: Anomalies,
    verdicts: Verdicts,
    /// Domains alerted on recently, without a verdict (log and alert modes, per-client
    /// blocks): one session, one alert.
    quiet: Verdicts,
    allow: AllowList,
    scored: AtomicU64,
    allowed: AtomicU64,
    /// THROWAWAY (server branch): a hand-made domain model until the model file has one.
    domain_model: DomainModel,
}

impl Model {
    /// THROWAWAY (server branch): what `portcullis check` prints of the model.
    pub fn summary(&self) -> String {
        format!("query threshold {:.3}", self.threshold())
    }
}

/// THROWAWAY (server branch): weights on distinct names, bytes out, query scores, types.
fn throwaway_domain_model() -> DomainModel {
    let mut weights = [0.0f32; crate::domain::DOMAIN_FEATURES];
    for (name, w) in [
        ("short_distinct_log", 1.0),
        ("short_bytes_out_log", 0.5),
        ("mean_score", 3.0),
        ("suspicious_share", 3.0),
        ("distinct_per_query", 2.0),
        ("tunnel_type_share", 1.0),
    ] {
        if let Some(i) = crate::domain::DOMAIN_FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
        {
            weights[i] = w;
        }
    }
    DomainModel::new(
        [0.0; crate::domain::DOMAIN_FEATURES],
        [1.0; crate::domain::DOMAIN_FEATURES],
        weights,
        -12.0,
        0.9,
    )
    .unwrap_or_else(|_| unreachable!())
}

/// Run-time allows held at most.
const ALLOWS: usize = 4096;

impl Detector {
    /// A detector with empty state; `now_ms` starts the anomaly learning period.
    pub fn new(config: DetectConfig, model: Model, psl: Arc<Psl>, now_ms: u64) -> Detector {
        let domains = DomainTable::new(DomainConfig {
            capacity: config.domains,
            short_window_ms: config.short_window_ms,
            long_window_ms: config.long_window_ms,
            ..DomainConfig::default()
        });
        let anomalies = Anomalies::new(
            AnomalyConfig {
                window_ms: config.anomaly_window_ms,
                learning_ms: config.learning_ms,
                clients_capacity: config.clients,
                domains_capacity: config.domains,
                ..AnomalyConfig::default()
            },
            now_ms,
        );
        Detector {
            mode: AtomicU8::new(config.mode.to_u8()),
            verdicts: Verdicts::new(config.verdicts),
            quiet: Verdicts::new(config.verdicts),
            allow: AllowList::new(&config.allow, ALLOWS),
            policy: Mutex::new(Policy::new(config)),
            model,
            psl,
            domains,
            anomalies,
            scored: AtomicU64::new(0),
            allowed: AtomicU64::new(0),
            domain_model: throwaway_domain_model(),
        }
    }

    /// The mode in force.
    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::Relaxed))
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Applies `config` keeping the state (domains, baselines, verdicts); false, changing
    /// nothing, when it changes capacities, windows or allowed zones (build a new detector).
    pub fn reconfigure(&self, config: DetectConfig) -> bool {
        let Ok(mut policy) = self.policy.lock() else {
            return false;
        };
        if !policy.config.same_state(&config) {
            return false;
        }
        self.mode.store(config.mode.to_u8(), Ordering::Relaxed);
        *policy = Policy::new(config);
        true
    }

    /// The registered domain of `qname` (public suffix list, private section included).
    pub fn registered<'a>(&self, qname: NameRef<'a>) -> NameRef<'a> {
        self.psl.registered(qname).domain(qname)
    }

    /// A standing verdict on `qname`'s registered domain for `client`: what to answer instead
    /// of resolving. One atomic load when no verdict stands.
    pub fn check(&self, qname: NameRef<'_>, client: IpAddr, now_ms: u64) -> Option<Enforce> {
        if self.verdicts.is_empty() {
            return None;
        }
        self.verdicts.check(self.registered(qname), client, now_ms)
    }

    /// A cache miss about to go upstream: scores it, counts it, and perhaps decides.
    pub fn on_miss(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        client: IpAddr,
        now_ms: u64,
    ) -> Decision {
        let mode = self.mode();
        if mode == Mode::Off {
            return Decision::default();
        }
        self.scored.fetch_add(1, Ordering::Relaxed);
        let registered = self.psl.registered(qname);
        let domain = registered.domain(qname);
        let wire = qname.as_wire();
        let left = wire.get(..registered.offset).unwrap_or_default();
        let mut features = [0.0; FEATURES];
        extract(
            qname,
            qtype,
            registered.offset,
            self.model.bigrams(),
            &mut features,
        );
        let query = self.model.score(&features);
        let weight = self.allow.weight(qname, now_ms);
        let observed = self.domains.observe_query(
            &QueryObservation {
                domain,
                left,
                qtype,
                client,
                score: query.score,
                suspicious: query.score >= self.model.threshold(),
                weight,
            },
            now_ms,
        );
        let anomaly = self.anomalies.observe(
            &Observation {
                client,
                domain,
                name_hash: name_hash(wire),
                new_domain: observed.new_domain,
            },
            now_ms,
        );
        if let Some(vector) = observed.features
            && weight >= 1.0
        {
            let domain_model = &self.domain_model;
            let scored = domain_model.score(&vector);
            if scored.score >= domain_model.threshold() {
                let explanation = || {
                    let mut text = domain_model.explain(&scored, self.domains.config());
                    self.describe(&mut text, domain, &query, now_ms);
                    text
                };
                if let Some(alert) =
                    self.tunnel(mode, domain, client, "tunnel domain", explanation, now_ms)
                {
                    return Decision {
                        enforce: alert.enforced,
                        alert: Some(alert),
                    };
                }
            }
        }
        match anomaly {
            Some(found) => Decision {
                enforce: None,
                alert: self.anomaly(mode, found, domain, client, now_ms),
            },
            None => Decision::default(),
        }
    }

    /// The resolver's answer to a miss: NXDOMAIN and response sizes for the domain's windows
    /// and the baselines; perhaps an anomaly alert.
    pub fn on_answer(
        &self,
        qname: NameRef<'_>,
        client: IpAddr,
        rcode: Rcode,
        response_len: usize,
        now_ms: u64,
    ) -> Option<Box<Alert>> {
        let mode = self.mode();
        if mode == Mode::Off {
            return None;
        }
        let domain = self.registered(qname);
        let nxdomain = rcode == Rcode::NXDOMAIN;
        self.domains
            .observe_answer(domain, nxdomain, response_len, now_ms);
        let found = self
            .anomalies
            .observe_answer(client, domain, nxdomain, now_ms)?;
        self.anomaly(mode, found, domain, client, now_ms)
    }

    /// The operator allows `domain`'s registered domain: its verdicts are cleared and it is
    /// not acted on for `allow_for_ms`. False when the allow table is full.
    pub fn allow(&self, domain: NameRef<'_>, now_ms: u64) -> bool {
        let registered = self.registered(domain);
        let allow_for = self
            .policy
            .lock()
            .map(|p| p.allow_for_ms)
            .unwrap_or(DetectConfig::default().allow_for_ms);
        self.verdicts.clear(registered);
        self.quiet.clear(registered);
        let done = self
            .allow
            .allow(registered, now_ms.saturating_add(allow_for), now_ms);
        if done {
            self.allowed.fetch_add(1, Ordering::Relaxed);
        }
        done
    }

    /// The verdicts standing now.
    pub fn verdicts(&self, now_ms: u64) -> Vec<VerdictInfo> {
        self.verdicts
            .list(now_ms)
            .into_iter()
            .map(|entry| VerdictInfo {
                domain: entry.domain,
                enforce: entry.verdict.enforce,
                client: entry.verdict.client,
                until_ms: entry.verdict.until_ms,
                reason: entry.verdict.reason,
                summary: entry.verdict.summary,
            })
            .collect()
    }

    /// Counters for `/metrics`.
    pub fn stats(&self) -> DetectStats {
        DetectStats {
            queries_scored: self.scored.load(Ordering::Relaxed),
            domains_tracked: self.domains.len() as u64,
            verdicts_active: self.verdicts.len() as u64,
            allowed: self.allowed.load(Ordering::Relaxed),
        }
    }

    /// Appends what the domain's state shows (samples, clients, first and last seen) and the
    /// query that tipped it to an explanation.
    fn describe(&self, text: &mut String, domain: NameRef<'_>, query: &QueryScore, now_ms: u64) {
        use std::fmt::Write;
        let _ = write!(text, "; last query {}", query.explain());
        if let Some(report) = self.domains.snapshot(domain) {
            if !report.samples.is_empty() {
                let _ = write!(text, "; samples {}", report.samples.join(", "));
            }
            let _ = write!(
                text,
                "; first seen {} s ago, last {} s ago",
                now_ms.saturating_sub(report.first_seen_ms) / 1000,
                now_ms.saturating_sub(report.last_seen_ms) / 1000
            );
            if !report.clients.is_empty() {
                let clients: Vec<String> = report.clients.iter().map(|c| c.to_string()).collect();
                let _ = write!(text, "; clients {}", clients.join(", "));
            }
        }
    }

    /// A tunnel verdict on `domain`, unless one was reached recently: the alert, with what now
    /// stands (block mode).
    fn tunnel(
        &self,
        mode: Mode,
        domain: NameRef<'_>,
        client: IpAddr,
        reason: &'static str,
        explanation: impl FnOnce() -> String,
        now_ms: u64,
    ) -> Option<Box<Alert>> {
        if self.quiet.check(domain, client, now_ms).is_some()
            || self.verdicts.check(domain, client, now_ms).is_some()
        {
            return None;
        }
        let (block, block_for, per_client, rate) = self
            .policy
            .lock()
            .ok()
            .map_or((BlockKind::Nxdomain, 0, false, None), |p| {
                (p.block, p.block_for_ms, p.per_client, p.rate_limit_qps)
            });
        let explanation = explanation();
        let until_ms = now_ms.saturating_add(block_for);
        let summary: Box<str> = explanation.clone().into_boxed_str();
        let enforced = (mode == Mode::Block).then(|| match rate {
            Some(qps) => Enforce::RateLimited { qps },
            None => Enforce::Block(block),
        });
        let target = per_client.then_some(client);
        if let Some(enforce) = enforced {
            self.verdicts.set(
                domain,
                Verdict {
                    enforce,
                    client: target,
                    until_ms,
                    reason: "tunnel",
                    summary: summary.clone(),
                },
                now_ms,
            );
        }
        // Quiet for everyone, so one session (or one domain used by several clients) is one
        // alert a period.
        self.quiet.set(
            domain,
            Verdict {
                enforce: Enforce::Block(block),
                client: None,
                until_ms,
                reason: "alerted",
                summary,
            },
            now_ms,
        );
        Some(Box::new(Alert {
            kind: AlertKind::Tunnel,
            domain: Name::from(domain),
            client: Some(client),
            reason,
            explanation,
            enforced,
            learning: false,
        }))
    }

    /// An anomaly alert. In block mode, once learning is over, a domain under a storm of
    /// random names is rate-limited for everyone (its real users keep a share); client
    /// anomalies are reported, and dynamic blocks act on clients.
    fn anomaly(
        &self,
        mode: Mode,
        found: AnomalyAlert,
        domain: NameRef<'_>,
        client: IpAddr,
        now_ms: u64,
    ) -> Option<Box<Alert>> {
        let explanation = found.to_string();
        let reason = anomaly_reason(found.kind);
        let about_domain = matches!(
            found.kind,
            AnomalyKind::DomainNames
                | AnomalyKind::DomainNxdomain
                | AnomalyKind::DomainQueries
                | AnomalyKind::DomainClients
                | AnomalyKind::NxdomainStorm
        );
        let mut enforced = None;
        if mode == Mode::Block
            && !found.learning
            && about_domain
            && self.allow.weight(domain, now_ms) >= 1.0
        {
            let (block_for, rate) = self
                .policy
                .lock()
                .ok()
                .map_or((0, None), |p| (p.block_for_ms, p.rate_limit_qps));
            let enforce = Enforce::RateLimited {
                qps: rate.unwrap_or(STORM_QPS),
            };
            if self.verdicts.check(domain, client, now_ms).is_none() {
                self.verdicts.set(
                    domain,
                    Verdict {
                        enforce,
                        client: None,
                        until_ms: now_ms.saturating_add(block_for),
                        reason: "anomaly",
                        summary: explanation.clone().into_boxed_str(),
                    },
                    now_ms,
                );
                enforced = Some(enforce);
            }
        }
        let client = found
            .client_prefix
            .is_some()
            .then_some(client)
            .or((!about_domain).then_some(client));
        Some(Box::new(Alert {
            kind: AlertKind::Anomaly,
            domain: found.domain.unwrap_or_else(|| Name::from(domain)),
            client,
            reason,
            explanation,
            enforced,
            learning: found.learning,
        }))
    }
}

/// The event reason of an anomaly.
fn anomaly_reason(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::NxdomainStorm => "nxdomain storm",
        AnomalyKind::ServerNames => "server names",
        AnomalyKind::ClientQueries => "client queries",
        AnomalyKind::ClientNames => "client names",
        AnomalyKind::ClientDomains => "client domains",
        AnomalyKind::ClientNxdomain => "client nxdomain",
        AnomalyKind::ClientNewDomains => "client new domains",
        AnomalyKind::DomainQueries => "domain queries",
        AnomalyKind::DomainNames => "domain names",
        AnomalyKind::DomainNxdomain => "domain nxdomain",
        AnomalyKind::DomainClients => "domain clients",
    }
}

/// FNV-1a over the lowercased wire name: distinct names for the anomaly sketches.
fn name_hash(wire: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in wire {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
