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
use crate::domain::{
    DOMAIN_FEATURES, DomainConfig, DomainKey, DomainRule, DomainTable, QueryObservation,
    asks_for_orders, carries_data, from_one_client,
};
use crate::features::{FEATURES, extract};
use crate::model::{Model, QueryScore};
use crate::psl::{Psl, Registered};
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
    /// The per-domain short window (bursts), also a domain's anomaly series' window.
    pub short_window_ms: u64,
    /// The per-domain long window (low and slow exfiltration).
    pub long_window_ms: u64,
    /// The client prefixes' and the server's anomaly baselines' window.
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

/// What an alert on the root says first: its stream is one client's names under top-level
/// labels that cannot exist (see [`Detector::registered`]).
const ROOT_STREAM: &str = "names under top-level labels that exist nowhere: ";

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
    /// What to hand [`Detector::on_answer`] with the resolver's answer; `None` when the
    /// detector is off.
    pub seen: Option<Seen>,
}

/// What [`Detector::on_miss`] found out about a name that [`Detector::on_answer`] needs
/// again (where its registered domain starts, and the domain's key), so that the answer
/// costs no second suffix walk and no second hash. Only for the same name and detector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    registered: Registered,
    key: DomainKey,
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
}

/// Run-time allows held at most.
const ALLOWS: usize = 4096;

impl Detector {
    /// A detector with empty state; `now_ms` starts the anomaly learning period.
    pub fn new(config: DetectConfig, model: Model, psl: Arc<Psl>, now_ms: u64) -> Detector {
        Detector::with_hash_key(config, model, psl, now_ms, None)
    }

    /// [`Detector::new`] with the per-domain table's hash key fixed (`None`: a random one, as
    /// a server must have so that clients cannot choose colliding names). A replay with a
    /// fixed key counts distinct names the same way every run, so training is reproducible.
    pub fn with_hash_key(
        config: DetectConfig,
        model: Model,
        psl: Arc<Psl>,
        now_ms: u64,
        hash_key: Option<[u64; 2]>,
    ) -> Detector {
        let anomaly = AnomalyConfig {
            window_ms: config.anomaly_window_ms,
            learning_ms: config.learning_ms,
            clients_capacity: config.clients,
            ..AnomalyConfig::default()
        };
        let domains = DomainTable::new(DomainConfig {
            capacity: config.domains,
            short_window_ms: config.short_window_ms,
            long_window_ms: config.long_window_ms,
            hash_key,
            anomaly: anomaly.clone(),
            ..DomainConfig::default()
        });
        let anomalies = Anomalies::new(anomaly, now_ms);
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

    /// The domain the detector counts `qname` under, judges and puts verdicts on: its
    /// registered domain (public suffix list, private section included), or the root when
    /// its top-level label cannot be one ([`crate::psl::impossible_tld`]).
    pub fn registered<'a>(&self, qname: NameRef<'a>) -> NameRef<'a> {
        self.tracked(qname, self.psl.registered(qname))
            .domain(qname)
    }

    /// `registered` (the list's answer for `qname`), or the root when `qname`'s top-level
    /// label cannot be one. Such names exist nowhere; a tunnel client sending its data to its
    /// own server rather than through a zone makes them (`dnscat.<hex>.<hex>`), each its own
    /// "registered domain" by the list's default rule. Under the root (one entry per client,
    /// [`DomainTable::client_root_key`]) they form one stream, as a zone's names do.
    fn tracked(&self, qname: NameRef<'_>, registered: Registered) -> Registered {
        if registered.impossible_tld(qname.as_wire()) {
            Registered::root(qname, registered.tld)
        } else {
            registered
        }
    }

    /// A standing verdict on `qname`'s registered domain for `client`: what to answer instead
    /// of resolving. One atomic load when no verdict stands.
    pub fn check(&self, qname: NameRef<'_>, client: IpAddr, now_ms: u64) -> Option<Enforce> {
        if self.verdicts.is_empty() {
            return None;
        }
        self.verdicts.check(self.registered(qname), client, now_ms)
    }

    /// Whether `qname`'s registered domain has been reported for `client` and its alert's
    /// quiet period still runs: a session that starts then gets no alert of its own (one
    /// alert a domain and period), but it is the domain already reported, and in block mode
    /// the verdict set with that alert answers it (unless verdicts are per client and the
    /// session's client is another). The replay counts such sessions.
    pub fn reported(&self, qname: NameRef<'_>, client: IpAddr, now_ms: u64) -> bool {
        self.quiet
            .check(self.registered(qname), client, now_ms)
            .is_some()
    }

    /// A cache miss about to go upstream: scores it, counts it, and perhaps decides.
    pub fn on_miss(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        client: IpAddr,
        now_ms: u64,
    ) -> Decision {
        self.on_miss_observed(qname, qtype, client, now_ms, |_| {})
    }

    /// [`Detector::on_miss`], also handing `observer` the domain's feature vector whenever
    /// the domain model runs (its gates crossed, not in an allowed zone). The
    /// trainer (`portcullis detect replay --vectors`) learns the domain model from exactly
    /// the vectors the server scores.
    pub fn on_miss_observed(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        client: IpAddr,
        now_ms: u64,
        mut observer: impl FnMut(&[f32; DOMAIN_FEATURES]),
    ) -> Decision {
        let mode = self.mode();
        if mode == Mode::Off {
            return Decision::default();
        }
        self.scored.fetch_add(1, Ordering::Relaxed);
        // The query model reads the name as the list splits it (as it was trained); the domain
        // table counts it where the detector tracks it.
        let listed = self.psl.registered(qname);
        let registered = self.tracked(qname, listed);
        let domain = registered.domain(qname);
        let key = if domain.is_root() {
            self.domains.client_root_key(client)
        } else {
            self.domains.key(domain)
        };
        let seen = Some(Seen { registered, key });
        let wire = qname.as_wire();
        let left = wire.get(..registered.offset).unwrap_or_default();
        let mut features = [0.0; FEATURES];
        extract(
            qname,
            qtype,
            listed.offset,
            self.model.bigrams(),
            &mut features,
        );
        let query = self.model.score(&features);
        // A name counted under the root is allowed when the root is (`allow-domain .`).
        let weight = self
            .allow
            .weight(if domain.is_root() { domain } else { qname }, now_ms);
        let observed = self.domains.observe_query(
            &QueryObservation {
                domain,
                key,
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
                domain_hash: key.bits(),
                name_hash: observed.name_hash,
                new_domain: observed.new_domain,
                domain_alerted: observed.anomaly.is_some(),
            },
            now_ms,
        );
        let anomaly = observed
            .anomaly
            .map(|crossed| self.anomalies.domain_alert(crossed, domain, now_ms))
            .or(anomaly);
        if let Some(vector) = &observed.features
            && weight >= 1.0
        {
            observer(vector);
        }
        if let Some(vector) = observed.features
            && weight >= 1.0
        {
            let domain_model = self.model.domain();
            // The score alone first; the contributions an explanation quotes only when it
            // is reached.
            let by_model = carries_data(&vector)
                && from_one_client(&vector)
                && domain_model.probability(&vector) >= domain_model.threshold();
            // Otherwise a rule may flag it whatever the model says.
            let rule = if by_model {
                None
            } else {
                DomainRule::matching(&vector, asks_for_orders(qtype, left))
            };
            if by_model || rule.is_some() {
                let reason = rule.map_or("tunnel domain", DomainRule::reason);
                let explanation = || {
                    let config = self.domains.config();
                    let mut text = match rule {
                        Some(rule) => domain_model.explain_rule(rule, &vector, config),
                        None => domain_model.explain(&domain_model.score(&vector), config),
                    };
                    self.describe(&mut text, domain, key, &query, now_ms);
                    text
                };
                if let Some(alert) = self.tunnel(mode, domain, client, reason, explanation, now_ms)
                {
                    return Decision {
                        enforce: alert.enforced,
                        alert: Some(alert),
                        seen,
                    };
                }
            }
        }
        Decision {
            enforce: None,
            alert: anomaly.and_then(|found| self.anomaly(mode, found, domain, client, now_ms)),
            seen,
        }
    }

    /// The resolver's answer to a miss: NXDOMAIN and response sizes for the domain's windows
    /// and the baselines; perhaps an anomaly alert. `seen` is the miss's [`Decision::seen`].
    pub fn on_answer(
        &self,
        qname: NameRef<'_>,
        seen: Seen,
        client: IpAddr,
        rcode: Rcode,
        response_len: usize,
        now_ms: u64,
    ) -> Option<Box<Alert>> {
        let mode = self.mode();
        if mode == Mode::Off {
            return None;
        }
        let domain = seen.registered.domain(qname);
        let nxdomain = rcode == Rcode::NXDOMAIN;
        self.domains
            .observe_answer(seen.key, nxdomain, response_len);
        let found = self.anomalies.observe_answer(client, nxdomain, now_ms)?;
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
    fn describe(
        &self,
        text: &mut String,
        domain: NameRef<'_>,
        key: DomainKey,
        query: &QueryScore<'_>,
        now_ms: u64,
    ) {
        use std::fmt::Write;
        let _ = write!(text, "; last query {}", query.explain());
        self.domains.write_state(domain, key, now_ms, text);
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
        let (block, block_for, per_client, rate) = {
            let policy = self.policy.lock().ok()?;
            (
                policy.block,
                policy.block_for_ms,
                policy.per_client,
                policy.rate_limit_qps,
            )
        };
        let mut explanation = explanation();
        if domain.is_root() {
            explanation.insert_str(0, ROOT_STREAM);
        }
        let until_ms = now_ms.saturating_add(block_for);
        let summary: Box<str> = explanation.clone().into_boxed_str();
        let enforced = (mode == Mode::Block).then_some(match rate {
            Some(qps) => Enforce::RateLimited { qps },
            None => Enforce::Block(block),
        });
        // The root stands for names that exist nowhere, one stream per client: its verdicts
        // and quiet periods are that client's.
        let own = domain.is_root().then_some(client);
        let target = own.or(per_client.then_some(client));
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
                client: own,
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
        let reason = anomaly_reason(found.kind);
        let about_domain = matches!(
            found.kind,
            AnomalyKind::DomainNames
                | AnomalyKind::DomainNxdomain
                | AnomalyKind::DomainQueries
                | AnomalyKind::DomainClients
                | AnomalyKind::NxdomainStorm
        );
        // The root's stream is one client's names that exist nowhere: its limit and its
        // blame are that client's, as a tunnel verdict on it is.
        let own = (about_domain && domain.is_root()).then_some(client);
        let mut explanation = found.to_string();
        if own.is_some() {
            explanation.insert_str(0, ROOT_STREAM);
        }
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
                        client: own,
                        until_ms: now_ms.saturating_add(block_for),
                        reason: "anomaly",
                        summary: explanation.clone().into_boxed_str(),
                    },
                    now_ms,
                );
                enforced = Some(enforce);
            }
        }
        // A domain's own series (a storm against it) blames no client.
        let client =
            (found.client_prefix.is_some() || !about_domain || own.is_some()).then_some(client);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::domain::{DOMAIN_FEATURE_NAMES, DOMAIN_FEATURES};
    use crate::model::EMBEDDED_MODEL;

    /// The shipped query model with a domain model that flags a domain once it has more than
    /// about 50 distinct subdomains in the short window.
    fn model() -> Model {
        let mut file: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        let mut weights = [0.0f32; DOMAIN_FEATURES];
        weights[1] = 4.0;
        let mean = [0.0f32; DOMAIN_FEATURES];
        let scale = [1.0f32; DOMAIN_FEATURES];
        file["domain"] = serde_json::json!({
            "features": DOMAIN_FEATURE_NAMES,
            "mean": mean,
            "scale": scale,
            "weights": weights,
            "bias": -16.0,
            "threshold": 0.5,
        });
        Model::from_json(&file.to_string()).unwrap()
    }

    fn detector(mode: Mode) -> Detector {
        let config = DetectConfig {
            mode,
            block_for_ms: 60_000,
            ..DetectConfig::default()
        };
        Detector::new(config, model(), Psl::embedded(), 0)
    }

    /// The resolver's answer to the miss `decision` was made for, from [`TUNNEL_CLIENT`]
    /// (nothing to report when the detector is off).
    fn answer(d: &Detector, qname: &Name, decision: &Decision, rcode: Rcode, len: usize, now: u64) {
        if let Some(seen) = decision.seen {
            d.on_answer(qname.as_ref(), seen, TUNNEL_CLIENT, rcode, len, now);
        }
    }

    fn name(text: &str) -> Name {
        text.parse().unwrap()
    }

    const TUNNEL_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    const OTHER_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));

    /// Sends tunnel-like TXT queries `{prefix}<hex>.<counter>.{suffix}` from `client`, 50 ms
    /// apart, each answered `rcode` with 200 bytes, until an alert comes (at most 500);
    /// returns it, its decision and the number of queries it took.
    fn stream(
        detector: &Detector,
        client: IpAddr,
        (prefix, suffix): (&str, &str),
        rcode: Rcode,
        start_ms: u64,
    ) -> Option<(usize, Box<Alert>, Decision)> {
        for i in 0..500u64 {
            let qname = name(&format!(
                "{prefix}{:016x}{:016x}.{:08x}.{suffix}",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                i ^ 0x5555,
                i
            ));
            let now = start_ms + i * 50;
            let decision = detector.on_miss(qname.as_ref(), RType::TXT, client, now);
            if let Some(seen) = decision.seen {
                detector.on_answer(qname.as_ref(), seen, client, rcode, 200, now);
            }
            if let Some(alert) = decision.alert.clone() {
                return Some((i as usize + 1, alert, decision));
            }
        }
        None
    }

    /// A tunnel under `t.example-tunnel.com` from [`TUNNEL_CLIENT`] ([`stream`]).
    fn tunnel(detector: &Detector, start_ms: u64) -> Option<(usize, Box<Alert>, Decision)> {
        let zone = ("", "t.example-tunnel.com.");
        stream(detector, TUNNEL_CLIENT, zone, Rcode::NOERROR, start_ms)
    }

    /// Polls `qname` (A) from one client every 30 s (±10%) up to 60 times; the first alert
    /// and the poll it came on.
    fn poll(detector: &Detector, qname: &str, jitter_ms: u64) -> Option<(u64, Box<Alert>)> {
        poll_type(detector, qname, RType::A, jitter_ms)
    }

    /// [`poll`] with queries of `qtype`.
    fn poll_type(
        detector: &Detector,
        qname: &str,
        qtype: RType,
        jitter_ms: u64,
    ) -> Option<(u64, Box<Alert>)> {
        let qname = name(qname);
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut now = 1_000u64;
        for i in 0..60u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            now += 30_000 - jitter_ms / 2 + state % jitter_ms;
            let decision = detector.on_miss(qname.as_ref(), qtype, TUNNEL_CLIENT, now);
            answer(detector, &qname, &decision, Rcode::NOERROR, 60, now);
            if let Some(alert) = decision.alert {
                return Some((i, alert));
            }
        }
        None
    }

    #[test]
    fn a_beacon_is_alerted_by_its_timing_whatever_the_model_says() {
        // The test model only flags 50 distinct names: a poll of one name is the rule's.
        let (i, alert) = poll(&detector(Mode::Alert), "a3f9c2d17e.c2-example.com.", 6_000)
            .expect("a timer of an identifier is a beacon");
        assert!(i >= 12, "alerted on poll {i}, before 12 pauses were seen");
        assert_eq!(alert.kind, AlertKind::Tunnel);
        assert_eq!(alert.reason, "beacon");
        assert_eq!(alert.domain, name("c2-example.com."));
        assert!(
            alert
                .explanation
                .starts_with("polled like a beacon: pauses between polls regular"),
            "{}",
            alert.explanation
        );
        // A word on the same timer carries no identifier; the identifier at random times
        // (pauses of 1 to 59 s) is no timer.
        assert_eq!(
            poll(&detector(Mode::Alert), "time.c2-example.com.", 6_000),
            None
        );
        assert_eq!(
            poll(&detector(Mode::Alert), "a3f9c2d17e.c2-example.com.", 58_000),
            None
        );
    }

    #[test]
    fn a_timer_of_txt_polls_is_a_beacon_polling_for_orders() {
        // No identifier in the name: what it asks for, on a timer, is the sign.
        let (i, alert) = poll_type(
            &detector(Mode::Alert),
            "orders.c2-example.com.",
            RType::TXT,
            6_000,
        )
        .expect("a timer of TXT polls");
        assert!(i >= 12, "alerted on poll {i}");
        assert_eq!(alert.reason, "beacon");
        assert!(
            alert
                .explanation
                .starts_with("polled like a beacon for its orders"),
            "{}",
            alert.explanation
        );
        // A service's records re-read on a schedule, or addresses: not orders.
        for (qname, qtype) in [
            ("_acme-challenge.www.c2-example.com.", RType::TXT),
            ("_sip._tcp.c2-example.com.", RType::SRV),
            ("orders.c2-example.com.", RType::A),
        ] {
            assert_eq!(
                poll_type(&detector(Mode::Alert), qname, qtype, 6_000),
                None,
                "{qname} {qtype:?}"
            );
        }
    }

    /// Asks `{i}.dl.example-tunnel.com` (a counter) 40 times, 200 ms apart, answered with
    /// `response_len` bytes: the first alert and the query it came on.
    fn pull(qtype: RType, response_len: usize) -> Option<(u64, Box<Alert>)> {
        let d = detector(Mode::Alert);
        for i in 0..40u64 {
            let qname = name(&format!("{i}.dl.example-tunnel.com."));
            let now = 1_000 + i * 200;
            let decision = d.on_miss(qname.as_ref(), qtype, TUNNEL_CLIENT, now);
            answer(&d, &qname, &decision, Rcode::NOERROR, response_len, now);
            if let Some(alert) = decision.alert {
                return Some((i, alert));
            }
        }
        None
    }

    #[test]
    fn a_download_is_alerted_by_its_answers_whatever_the_model_says() {
        // The test model only flags 50 distinct names; the counter carries nothing out.
        let (i, alert) = pull(RType::TXT, 300).expect("large TXT answers to new names");
        assert!(i >= 19, "alerted on query {i}, before 20 names");
        assert_eq!(alert.reason, "download");
        assert_eq!(alert.domain, name("example-tunnel.com."));
        assert!(
            alert.explanation.starts_with("pulled like a download: "),
            "{}",
            alert.explanation
        );
        // The same names with small TXT answers, or as address queries: no download.
        assert_eq!(pull(RType::TXT, 120), None);
        assert_eq!(pull(RType::A, 300), None);
    }

    #[test]
    fn a_tunnel_is_alerted_once_with_its_reasons() {
        let d = detector(Mode::Alert);
        let (queries, alert, decision) = tunnel(&d, 1_000).expect("an alert");
        assert!(queries <= 100, "took {queries} queries");
        assert_eq!(alert.kind, AlertKind::Tunnel);
        assert_eq!(alert.domain, name("example-tunnel.com."));
        assert_eq!(alert.client, Some(TUNNEL_CLIENT));
        assert!(
            alert.explanation.contains("distinct"),
            "{}",
            alert.explanation
        );
        assert!(
            alert.explanation.contains("samples"),
            "{}",
            alert.explanation
        );
        assert_eq!(decision.enforce, None, "alert mode never acts");
        assert_eq!(
            d.check(name("x.example-tunnel.com.").as_ref(), TUNNEL_CLIENT, 9_000),
            None
        );
        // Reported, for every client (a zone's alert is everyone's), until the quiet period
        // ends.
        let under = name("x.example-tunnel.com.");
        assert!(d.reported(under.as_ref(), OTHER_CLIENT, 9_000));
        assert!(!d.reported(name("example.org.").as_ref(), TUNNEL_CLIENT, 9_000));
        // The same session goes on: no second alert while the domain is quiet.
        assert!(tunnel(&d, 10_000).is_none());
        assert!(!d.reported(under.as_ref(), OTHER_CLIENT, 1_000_000));
        assert!(d.stats().queries_scored > 500);
    }

    #[test]
    fn block_mode_enforces_until_the_verdict_lapses_or_is_allowed() {
        let d = detector(Mode::Block);
        let (_, alert, decision) = tunnel(&d, 1_000).expect("an alert");
        let blocked = Some(Enforce::Block(BlockKind::Nxdomain));
        assert_eq!(decision.enforce, blocked);
        assert_eq!(alert.enforced, blocked);
        let under = name("anything.example-tunnel.com.");
        assert_eq!(d.check(under.as_ref(), OTHER_CLIENT, 20_000), blocked);
        assert_eq!(
            d.check(name("example.org.").as_ref(), TUNNEL_CLIENT, 20_000),
            None
        );
        assert_eq!(d.verdicts(20_000).len(), 1);
        assert_eq!(d.stats().verdicts_active, 1);
        // Lapses after block_for_ms.
        assert_eq!(d.check(under.as_ref(), OTHER_CLIENT, 200_000), None);
        // Again, then the operator allows it: cleared, and not blocked again.
        let (_, _, again) = tunnel(&d, 300_000).expect("a second session alerts");
        assert_eq!(again.enforce, blocked);
        assert!(d.allow(under.as_ref(), 330_000));
        assert_eq!(d.check(under.as_ref(), TUNNEL_CLIENT, 330_001), None);
        assert!(
            tunnel(&d, 340_000).is_none(),
            "an allowed domain is not acted on"
        );
        assert_eq!(d.stats().allowed, 1);
    }

    /// `dnscat.<hex>.<counter>.` names from `client` (a tunnel client talking to its own
    /// server: the last label is data, no zone), answered NXDOMAIN ([`stream`]).
    fn no_zone(detector: &Detector, client: IpAddr, start_ms: u64) -> Option<(usize, Box<Alert>)> {
        stream(detector, client, ("dnscat.", ""), Rcode::NXDOMAIN, start_ms)
            .map(|(i, alert, _)| (i, alert))
    }

    #[test]
    fn names_that_exist_nowhere_are_one_stream_per_client() {
        // Each name's last label is hex, so each is its own "registered domain" by the list's
        // default rule; under the root, one client's names are one stream.
        let d = detector(Mode::Block);
        let (i, alert) = no_zone(&d, TUNNEL_CLIENT, 1_000).expect("an alert");
        assert!(i <= 100, "alerted on query {i}");
        assert!(alert.domain.as_ref().is_root());
        assert_eq!(alert.client, Some(TUNNEL_CLIENT));
        let text = &alert.explanation;
        let why = "names under top-level labels that exist nowhere: ";
        assert!(
            text.starts_with(why) && text.contains("samples dnscat."),
            "{text}"
        );
        // The verdict is the client's own, and only on names that exist nowhere.
        let blocked = Some(Enforce::Block(BlockKind::Nxdomain));
        let junk = name("dnscat.0123abcd.");
        assert_eq!(d.check(junk.as_ref(), TUNNEL_CLIENT, 20_000), blocked);
        assert_eq!(d.check(junk.as_ref(), OTHER_CLIENT, 20_000), None);
        // Reported for that client alone: another host's names start no report.
        assert!(d.reported(junk.as_ref(), TUNNEL_CLIENT, 20_000));
        assert!(!d.reported(junk.as_ref(), OTHER_CLIENT, 20_000));
        assert_eq!(
            d.check(name("www.example.org.").as_ref(), TUNNEL_CLIENT, 20_000),
            None
        );
        // The operator allows them: every client's verdict cleared, and quiet while allowed.
        assert!(d.allow(name(".").as_ref(), 30_000));
        assert_eq!(d.check(junk.as_ref(), TUNNEL_CLIENT, 30_001), None);
        assert!(no_zone(&d, TUNNEL_CLIENT, 40_000).is_none());
        assert_eq!(
            d.check(name("www.example.org.").as_ref(), TUNNEL_CLIENT, 40_000),
            None
        );
        // An allow of the root covers nothing but the names counted under it.
        assert!(tunnel(&d, 50_000).is_some());
        let d = detector(Mode::Block);
        no_zone(&d, TUNNEL_CLIENT, 1_000).expect("an alert");
        // Another host doing the same is its own stream, alerted on its own.
        let (_, other) = no_zone(&d, OTHER_CLIENT, 2_000).expect("the second host's alert");
        assert_eq!(other.client, Some(OTHER_CLIENT));
        assert!(other.explanation.contains(&OTHER_CLIENT.to_string()));
        assert!(!other.explanation.contains(&TUNNEL_CLIENT.to_string()));
        // A few names under an address asked as a name, or a bare host name, stay quiet.
        let quiet = detector(Mode::Alert);
        for (k, text) in ["192.0.2.1.", "printer2.", "10.0.0.8.", "nas01."]
            .iter()
            .enumerate()
        {
            let qname = name(text);
            let decision = quiet.on_miss(qname.as_ref(), RType::A, TUNNEL_CLIENT, k as u64);
            assert!(decision.alert.is_none(), "{text}");
        }
    }

    #[test]
    fn an_anomaly_on_names_that_exist_nowhere_is_the_clients() {
        // A domain model that never flags, and no learning period: what alerts is a domain's
        // anomaly series, here the root stream of one client.
        let mut file: serde_json::Value = serde_json::from_str(EMBEDDED_MODEL).unwrap();
        let (zeros, ones) = ([0.0f32; DOMAIN_FEATURES], [1.0f32; DOMAIN_FEATURES]);
        file["domain"] = serde_json::json!({
            "features": DOMAIN_FEATURE_NAMES,
            "mean": zeros,
            "scale": ones,
            "weights": zeros,
            "bias": -100.0,
            "threshold": 0.5,
        });
        let config = DetectConfig {
            mode: Mode::Block,
            learning_ms: 0,
            ..DetectConfig::default()
        };
        let quiet = Model::from_json(&file.to_string()).unwrap();
        let d = Detector::new(config, quiet, Psl::embedded(), 0);
        // Twelve minutes of ordinary traffic, 150 to 300 names a minute: the baselines of the
        // domains and of the server (whose own series must not be what alerts first).
        let mut now = 0;
        for minute in 0..12u64 {
            for site in 0..50 + minute * 37 % 50 {
                for host in ["www", "mail", "api"] {
                    now = minute * 60_000 + site * 500;
                    let qname = name(&format!("{host}.site{site}.example."));
                    d.on_miss(qname.as_ref(), RType::A, OTHER_CLIENT, now);
                }
            }
        }
        // One client sends a stream of names under made-up top-level labels.
        let mut alert = None;
        for i in 0..300u64 {
            let qname = name(&format!("x{i:04x}.{i:04x}a."));
            let decision = d.on_miss(qname.as_ref(), RType::A, TUNNEL_CLIENT, now + i * 100);
            if decision.alert.is_some() {
                alert = decision.alert;
                break;
            }
        }
        let alert = alert.expect("an anomaly on the root stream");
        assert_eq!(alert.kind, AlertKind::Anomaly);
        assert!(alert.domain.as_ref().is_root());
        assert_eq!(alert.client, Some(TUNNEL_CLIENT));
        let text = &alert.explanation;
        assert!(text.starts_with(ROOT_STREAM), "{text}");
        assert!(alert.enforced.is_some(), "block mode, learning over");
        // The limit is that client's.
        let junk = name("x0000.0001a.");
        assert_eq!(d.check(junk.as_ref(), OTHER_CLIENT, now + 40_000), None);
        let limited = (0..200)
            .filter(|_| {
                d.check(junk.as_ref(), TUNNEL_CLIENT, now + 40_000)
                    .is_some()
            })
            .count();
        assert!(limited > 0, "the client's own names are rate-limited");
    }

    #[test]
    fn per_client_blocks_only_the_tunnelling_client() {
        let config = DetectConfig {
            mode: Mode::Block,
            per_client: true,
            ..DetectConfig::default()
        };
        let d = Detector::new(config, model(), Psl::embedded(), 0);
        tunnel(&d, 1_000).expect("an alert");
        let under = name("www.example-tunnel.com.");
        assert!(d.check(under.as_ref(), TUNNEL_CLIENT, 30_000).is_some());
        assert_eq!(d.check(under.as_ref(), OTHER_CLIENT, 30_000), None);
    }

    #[test]
    fn rate_limit_mode_lets_some_through() {
        let config = DetectConfig {
            mode: Mode::Block,
            rate_limit_qps: Some(2),
            ..DetectConfig::default()
        };
        let d = Detector::new(config, model(), Psl::embedded(), 0);
        let (_, alert, _) = tunnel(&d, 1_000).expect("an alert");
        assert_eq!(alert.enforced, Some(Enforce::RateLimited { qps: 2 }));
        let under = name("www.example-tunnel.com.");
        let limited = (0..10)
            .filter(|_| d.check(under.as_ref(), OTHER_CLIENT, 40_000).is_some())
            .count();
        assert!((1..10).contains(&limited), "{limited} of 10 limited");
    }

    #[test]
    fn off_does_nothing_and_reconfigure_keeps_state() {
        let d = detector(Mode::Off);
        assert!(tunnel(&d, 1_000).is_none());
        assert_eq!(d.stats(), DetectStats::default());
        let block = DetectConfig {
            mode: Mode::Block,
            block_for_ms: 60_000,
            ..DetectConfig::default()
        };
        assert!(d.reconfigure(block.clone()));
        assert_eq!(d.mode(), Mode::Block);
        assert!(tunnel(&d, 100_000).is_some());
        let bigger = DetectConfig {
            domains: 5,
            ..block
        };
        assert!(!d.reconfigure(bigger), "capacities need a new detector");
        assert_eq!(d.stats().verdicts_active, 1);
    }

    #[test]
    fn ordinary_names_and_allowed_zones_stay_quiet() {
        let d = detector(Mode::Block);
        let hosts = [
            "www", "mail", "api", "cdn", "static", "login", "docs", "img",
        ];
        for i in 0..2_000u64 {
            let host = hosts[(i % 8) as usize];
            let qname = name(&format!("{host}.site{}.com.", i % 40));
            let decision = d.on_miss(qname.as_ref(), RType::A, TUNNEL_CLIENT, i * 100);
            assert!(decision.alert.is_none(), "{qname}: {:?}", decision.alert);
        }
        // Reverse lookups look random but are allowed: counted, never acted on.
        for i in 0..300u64 {
            let qname = name(&format!(
                "{}.{}.{}.10.in-addr.arpa.",
                i % 251,
                (i * 7) % 251,
                (i * 13) % 251
            ));
            let decision = d.on_miss(qname.as_ref(), RType::PTR, TUNNEL_CLIENT, 300_000 + i * 10);
            assert_eq!(decision.enforce, None);
        }
        assert_eq!(d.stats().verdicts_active, 0);
    }
}
