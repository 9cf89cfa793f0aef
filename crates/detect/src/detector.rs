//! Throwaway facade for the server helper's branch only: the API of detect-common.md with
//! bodies that do the least that compiles. Replaced by main's detector.rs on merge.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use wire::{Name, NameRef, RType, Rcode};

/// What the detector does with what it finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Nothing runs.
    Off,
    /// Detect and report at notice severity; never act.
    #[default]
    Log,
    /// Report at warning severity.
    Alert,
    /// Report and enforce.
    Block,
}

/// How a blocked name is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BlockKind {
    /// NXDOMAIN.
    #[default]
    Nxdomain,
    /// REFUSED.
    Refused,
    /// The sinkhole addresses.
    Sinkhole,
}

/// What to answer instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforce {
    /// Blocked.
    Block(BlockKind),
    /// Over the verdict's rate.
    RateLimited {
        /// The rate.
        qps: u32,
    },
}

/// The detector's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct DetectConfig {
    /// What to do.
    pub mode: Mode,
    /// How to block.
    pub block: BlockKind,
    /// How long a block lasts.
    pub block_for_ms: u64,
    /// Block only the offending client.
    pub per_client: bool,
    /// Rate-limit instead of blocking.
    pub rate_limit_qps: Option<u32>,
    /// Domains tracked.
    pub domains: usize,
    /// Clients tracked.
    pub clients: usize,
    /// Verdicts held.
    pub verdicts: usize,
    /// Short window.
    pub short_window_ms: u64,
    /// Long window.
    pub long_window_ms: u64,
    /// Anomaly window.
    pub anomaly_window_ms: u64,
    /// Learning period.
    pub learning_ms: u64,
    /// Operator zones lowered.
    pub allow: Vec<Name>,
    /// How long an operator allow lasts.
    pub allow_for_ms: u64,
    /// Sinkhole IPv4.
    pub sinkhole_v4: Ipv4Addr,
    /// Sinkhole IPv6.
    pub sinkhole_v6: Ipv6Addr,
}

impl Default for DetectConfig {
    fn default() -> DetectConfig {
        DetectConfig {
            mode: Mode::Log,
            block: BlockKind::Nxdomain,
            block_for_ms: 600_000,
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
            allow_for_ms: 86_400_000,
            sinkhole_v4: Ipv4Addr::UNSPECIFIED,
            sinkhole_v6: Ipv6Addr::UNSPECIFIED,
        }
    }
}

/// The trained model (stub).
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    version: u32,
}

impl Model {
    /// The embedded model.
    pub fn embedded() -> Result<Model, String> {
        Ok(Model { version: 1 })
    }
    /// What it is.
    pub fn summary(&self) -> String {
        format!("version {}", self.version)
    }
    /// A model file's text.
    pub fn from_json(text: &str) -> Result<Model, String> {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|_| Model { version: 1 })
            .map_err(|e| format!("{}:{}: {e}", e.line(), e.column()))
    }
}

/// The public suffix list (stub).
#[derive(Debug, PartialEq)]
pub struct Psl {
    rules: usize,
}

impl Psl {
    /// The embedded list.
    pub fn embedded() -> Arc<Psl> {
        Arc::new(Psl { rules: 0 })
    }
    /// A list's text.
    pub fn parse(text: &str) -> Result<Psl, String> {
        Ok(Psl {
            rules: text.lines().count(),
        })
    }
    /// Rules.
    pub fn len(&self) -> usize {
        self.rules
    }
    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.rules == 0
    }
}

/// What kind of alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertKind {
    /// Tunnel.
    Tunnel,
    /// Anomaly.
    Anomaly,
}

/// An explained alert.
#[derive(Clone, Debug)]
pub struct Alert {
    /// Kind.
    pub kind: AlertKind,
    /// Registered domain.
    pub domain: Name,
    /// Client.
    pub client: Option<IpAddr>,
    /// Reason.
    pub reason: &'static str,
    /// Explanation.
    pub explanation: String,
    /// What was enforced.
    pub enforced: Option<Enforce>,
    /// Within the learning period.
    pub learning: bool,
}

/// What a miss decided.
#[derive(Debug, Default)]
pub struct Decision {
    /// Answer this instead.
    pub enforce: Option<Enforce>,
    /// Report this.
    pub alert: Option<Box<Alert>>,
}

/// A standing verdict.
#[derive(Clone, Debug)]
pub struct VerdictInfo {
    /// Registered domain.
    pub domain: Name,
    /// What is enforced.
    pub enforce: Enforce,
    /// Only this client.
    pub client: Option<IpAddr>,
    /// Until.
    pub until_ms: u64,
    /// Reason.
    pub reason: &'static str,
    /// Summary.
    pub summary: Box<str>,
}

/// Counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Queries scored.
    pub queries_scored: u64,
    /// Domains tracked.
    pub domains_tracked: u64,
    /// Verdicts standing.
    pub verdicts_active: u64,
    /// Operator allows.
    pub allowed: u64,
}

/// The facade (stub).
#[derive(Debug)]
pub struct Detector {
    config: DetectConfig,
}

impl Detector {
    /// A detector.
    pub fn new(config: DetectConfig, _model: Model, _psl: Arc<Psl>, _now_ms: u64) -> Detector {
        Detector { config }
    }
    /// A standing verdict.
    pub fn check(&self, _qname: NameRef, _client: IpAddr, _now_ms: u64) -> Option<Enforce> {
        None
    }
    /// A miss.
    pub fn on_miss(
        &self,
        _qname: NameRef,
        _qtype: RType,
        _client: IpAddr,
        _now_ms: u64,
    ) -> Decision {
        Decision::default()
    }
    /// An answer.
    pub fn on_answer(
        &self,
        _qname: NameRef,
        _client: IpAddr,
        _rcode: Rcode,
        _response_len: usize,
        _now_ms: u64,
    ) -> Option<Box<Alert>> {
        None
    }
    /// The mode.
    pub fn mode(&self) -> Mode {
        self.config.mode
    }
    /// Operator allow.
    pub fn allow(&self, _domain: NameRef, _now_ms: u64) -> bool {
        false
    }
    /// Counters.
    pub fn stats(&self) -> DetectStats {
        DetectStats::default()
    }
    /// The registered domain of `qname`.
    pub fn registered<'a>(&self, qname: NameRef<'a>) -> NameRef<'a> {
        qname
    }
    /// Standing verdicts.
    pub fn verdicts(&self, _now_ms: u64) -> Vec<VerdictInfo> {
        Vec::new()
    }
    /// Applies `config` keeping state; false when capacities differ.
    pub fn reconfigure(&self, config: DetectConfig) -> bool {
        config.domains == self.config.domains
    }
}
