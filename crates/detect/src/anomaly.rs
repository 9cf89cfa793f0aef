//! Learned traffic anomalies: baselines learned online from this server's own traffic, per
//! client prefix, per registered domain and for the whole server, and an alert when the
//! current window is far above them.
//!
//! Tunnels and scanners that a per-query model cannot see (ordinary-looking names, but far too
//! many of them) still change the *shape* of the traffic: a client prefix suddenly asks for
//! thousands of distinct names, a domain gets hundreds of distinct subdomains, the server's
//! NXDOMAIN count explodes. Each such count is a series over fixed windows (`window_ms`); for
//! each series we keep a robust baseline (a streaming median and MAD, a few floats) and flag
//! the window when its value is far above it:
//!
//! `z = (x − median) / (1.4826·MAD + max(floor, floor_ratio·median))`, flagged when
//! `z > z_threshold` and `x ≥ min_count`.
//!
//! The limit is computed once when an entity's window opens, so a query only compares a
//! running count with it: detection fires inside the window, at most once per entity per
//! window. An entity too new to have its own baseline is compared with the population of its
//! kind (all client prefixes, all domains): that is how a client or a domain unlike any seen
//! is caught. During the learning period every flag is marked `learning` (to be logged, never
//! enforced).
//!
//! A domain's series are counted in its entry of the domain table (`domain.rs`), in the short
//! window that the tunnel model reads as well, with its baselines beside them
//! (`DomainSeries`): one lookup a query serves both. The client prefixes' tables here are
//! sharded behind mutexes, fixed in size (set-associative: a key lives in one set of [`WAYS`]
//! slots and evicts the least recently seen of them), and allocated once: a query allocates
//! nothing unless it produces an alert.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Deserialize;
use wire::{Name, NameRef};

/// Slots per set in the client table: the bound on the work of a lookup and the
/// scope of "least recently seen" eviction.
pub const WAYS: usize = 8;

/// The consistency constant that makes a MAD estimate a standard deviation for normal data.
const MAD_TO_SD: f32 = 1.4826;

/// Windows learned with running means (median and mean absolute deviation) before switching to
/// the robust sign-driven updates: a fast, reasonable start instead of a slow crawl from zero.
const WARM_SAMPLES: u32 = 16;

/// Bits in a client prefix's distinct-name bitmap: linear counting up to ~3,000 names.
const CLIENT_NAME_WORDS: usize = 8;
/// Bits in a client prefix's distinct-domain bitmap.
const CLIENT_DOMAIN_WORDS: usize = 2;
/// Bits in the server's distinct-name bitmap: linear counting up to ~150,000 names a window.
const SERVER_NAME_WORDS: usize = 256;

/// What the detector learns and how far is too far. The defaults suit a resolver with a few
/// hundred clients; `clients_capacity` bounds memory (about 200 bytes an entry). A domain's
/// series use the domain table's short window and capacity, and the thresholds here.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Length of a window, the unit of the client prefixes' and the server's series.
    pub window_ms: u64,
    /// From the start, flags are only reported as `learning` for this long.
    pub learning_ms: u64,
    /// Robust z above which a window is anomalous.
    pub z_threshold: f32,
    /// Counts below this never alert, however quiet the baseline (3 queries instead of 1).
    pub min_count: u32,
    /// The scale floor in counts, so a constant series (MAD 0) does not make every change an
    /// anomaly.
    pub floor: f32,
    /// The scale floor as a fraction of the median, for large counts.
    pub floor_ratio: f32,
    /// Windows an entity must have seen before its own baseline is used instead of the
    /// population's (and windows the population must have seen before it is used at all).
    pub min_windows: u32,
    /// Step of the streaming median/MAD, as a fraction of the series' scale per window: small
    /// enough that an attack lasting minutes does not become normal.
    pub learning_rate: f32,
    /// Client prefixes tracked (/24 IPv4, /56 IPv6).
    pub clients_capacity: usize,
    /// Mutex shards of each table (rounded up to a power of two), so workers rarely wait.
    pub shards: usize,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            window_ms: 60_000,
            learning_ms: 3_600_000,
            z_threshold: 8.0,
            min_count: 100,
            floor: 1.0,
            floor_ratio: 0.1,
            min_windows: 10,
            learning_rate: 0.05,
            clients_capacity: 16_384,
            shards: 16,
        }
    }
}

/// Which series was anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnomalyKind {
    /// The whole server's NXDOMAIN answers (random-subdomain storm, water torture).
    NxdomainStorm,
    /// The whole server's distinct names.
    ServerNames,
    /// A client prefix's queries.
    ClientQueries,
    /// A client prefix's distinct names (a scanner).
    ClientNames,
    /// A client prefix's distinct registered domains.
    ClientDomains,
    /// A client prefix's NXDOMAIN answers.
    ClientNxdomain,
    /// A client prefix's queries under domains the server had never seen.
    ClientNewDomains,
    /// A domain's queries.
    DomainQueries,
    /// A domain's distinct subdomains (a tunnel, a storm against it).
    DomainNames,
    /// A domain's NXDOMAIN ratio, in percent.
    DomainNxdomain,
    /// A domain's distinct clients.
    DomainClients,
}

/// A client prefix: /24 for IPv4, /56 for IPv6 (one site, one household).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPrefix {
    /// The network address (host bits zero).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl ClientPrefix {
    /// The prefix `client` belongs to.
    pub fn of(client: IpAddr) -> ClientPrefix {
        match client {
            IpAddr::V4(a) => ClientPrefix {
                addr: IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & 0xffff_ff00)),
                len: 24,
            },
            IpAddr::V6(a) => ClientPrefix {
                addr: IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & !((1u128 << 72) - 1))),
                len: 56,
            },
        }
    }

    /// A table key: the network bits, with bit 0 (never a network bit) telling IPv6 apart.
    fn key(self) -> u128 {
        match self.addr {
            IpAddr::V4(a) => u128::from(a.to_bits()),
            IpAddr::V6(a) => a.to_bits() | 1,
        }
    }
}

impl fmt::Display for ClientPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An explained anomaly: which series, whose, how far from normal.
#[derive(Debug, Clone)]
pub struct AnomalyAlert {
    /// The series.
    pub kind: AnomalyKind,
    /// The client prefix, for client series.
    pub client_prefix: Option<ClientPrefix>,
    /// The registered domain, for domain series.
    pub domain: Option<Name>,
    /// The window's value so far (a count, an estimated distinct count, or a percentage).
    pub value: f64,
    /// The baseline's median.
    pub median: f64,
    /// The baseline's median absolute deviation.
    pub mad: f64,
    /// The robust z of `value`.
    pub z: f64,
    /// The baseline is the population's (all client prefixes or all domains): the entity is
    /// too new to have its own, and is unlike those seen.
    pub population: bool,
    /// Within the learning period: log it, do not act on it.
    pub learning: bool,
    /// The window length, for the explanation.
    pub window_ms: u64,
}

impl fmt::Display for AnomalyAlert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = Thousands(self.value);
        let s = self.window_ms / 1000;
        let client = |f: &mut fmt::Formatter<'_>| match self.client_prefix {
            Some(p) => write!(f, "client {p}"),
            None => write!(f, "a client"),
        };
        let domain = |f: &mut fmt::Formatter<'_>| match &self.domain {
            Some(d) => write!(f, "domain {d}"),
            None => write!(f, "a domain"),
        };
        match self.kind {
            AnomalyKind::NxdomainStorm => write!(f, "the server gave {v} NXDOMAIN answers")?,
            AnomalyKind::ServerNames => write!(f, "the server was asked {v} distinct names")?,
            AnomalyKind::ClientQueries => {
                client(f)?;
                write!(f, " sent {v} queries")?;
            }
            AnomalyKind::ClientNames => {
                client(f)?;
                write!(f, " asked {v} distinct names")?;
            }
            AnomalyKind::ClientDomains => {
                client(f)?;
                write!(f, " asked about {v} distinct domains")?;
            }
            AnomalyKind::ClientNxdomain => {
                client(f)?;
                write!(f, " got {v} NXDOMAIN answers")?;
            }
            AnomalyKind::ClientNewDomains => {
                client(f)?;
                write!(f, " asked {v} queries under never-seen domains")?;
            }
            AnomalyKind::DomainQueries => {
                domain(f)?;
                write!(f, " got {v} queries")?;
            }
            AnomalyKind::DomainNames => {
                domain(f)?;
                write!(f, " was asked {v} distinct names")?;
            }
            AnomalyKind::DomainNxdomain => {
                domain(f)?;
                write!(f, " answered NXDOMAIN to {v}% of queries")?;
            }
            AnomalyKind::DomainClients => {
                domain(f)?;
                write!(f, " was asked by {v} distinct clients")?;
            }
        }
        write!(
            f,
            " in {s} s (normal {} ± {}",
            Thousands(self.median),
            Thousands(self.mad * f64::from(MAD_TO_SD))
        )?;
        if self.population {
            let of = if self.client_prefix.is_some() {
                "client prefixes"
            } else {
                "domains"
            };
            write!(f, " for all {of}; new, unlike any seen")?;
        }
        write!(f, ", z {:.0})", self.z)?;
        if self.learning {
            write!(f, " [learning]")?;
        }
        Ok(())
    }
}

/// A number rounded and written with thousands separators, as people read counts.
struct Thousands(f64);

impl fmt::Display for Thousands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.max(0.0).round();
        // Counts here are far below 2^53: the conversion is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = n as u64;
        let mut div = 1;
        while n / div >= 1000 {
            div *= 1000;
        }
        write!(f, "{}", n / div)?;
        while div > 1 {
            div /= 1000;
            write!(f, ",{:03}", (n / div) % 1000)?;
        }
        Ok(())
    }
}

/// One query routed to the resolver, as the anomaly detector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation {
    /// Who asked.
    pub client: IpAddr,
    /// A hash of the registered domain, case ignored (any good 64-bit hash, the same for
    /// every query of the domain: the detector's [`crate::DomainKey`]), for a client's
    /// distinct domains.
    pub domain_hash: u64,
    /// A hash of the whole query name, lowercased (any good 64-bit hash).
    pub name_hash: u64,
    /// The registered domain had never been seen by the server before.
    pub new_domain: bool,
    /// The domain's own series alerted on this query (the domain table): the client's and
    /// the server's are counted but wait for a later query to alert, so that none is lost.
    pub domain_alerted: bool,
}

/// A robust baseline of one series: streaming median and MAD by stochastic approximation.
#[derive(Debug, Clone, Copy, Default)]
struct Baseline {
    median: f32,
    mad: f32,
    samples: u32,
}

impl Baseline {
    /// Learns one window's value. The first windows use running means (a quick start); after
    /// that each window moves the median and MAD by a fixed fraction of the scale towards the
    /// value, whatever its size: an outlier window moves them no more than a normal one.
    fn learn(&mut self, x: f32, rate: f32) {
        self.samples = self.samples.saturating_add(1);
        if self.samples == 1 {
            self.median = x;
            self.mad = 0.0;
        } else if self.samples <= WARM_SAMPLES {
            #[allow(clippy::cast_precision_loss)]
            let k = 1.0 / self.samples as f32;
            let dev = (x - self.median).abs();
            self.median += (x - self.median) * k;
            self.mad += (dev - self.mad) * k;
        } else {
            let step = rate * (MAD_TO_SD * self.mad).max(1.0);
            self.median += step * sign(x - self.median);
            let dev = (x - self.median).abs();
            self.mad = (self.mad + step * sign(dev - self.mad)).max(0.0);
        }
    }

    fn scale(&self, cfg: &AnomalyConfig) -> f32 {
        MAD_TO_SD * self.mad + cfg.floor.max(cfg.floor_ratio * self.median)
    }

    fn z(&self, x: f32, cfg: &AnomalyConfig) -> f32 {
        (x - self.median) / self.scale(cfg)
    }

    /// The smallest value that is anomalous.
    fn limit(&self, cfg: &AnomalyConfig) -> f32 {
        (self.median + cfg.z_threshold * self.scale(cfg)).max(min_count(cfg))
    }
}

fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[allow(clippy::cast_precision_loss)]
fn min_count(cfg: &AnomalyConfig) -> f32 {
    cfg.min_count as f32
}

/// Linear counting: the distinct items behind `set` bits of `words`·64 set.
#[allow(clippy::cast_precision_loss)]
fn estimate(set: u32, words: usize) -> f32 {
    let m = (words * 64) as f32;
    let set = (set as f32).min(m - 0.5);
    -m * (1.0 - set / m).ln()
}

/// The number of set bits beyond which `words`·64 bits hold more than `limit` items; infinite
/// when the bitmap cannot count that far.
#[allow(clippy::cast_precision_loss)]
fn bits_limit(limit: f32, words: usize) -> f32 {
    let m = (words * 64) as f32;
    let bits = m * (1.0 - (-limit / m).exp());
    if bits >= m - 1.0 { f32::INFINITY } else { bits }
}

/// Sets bit `h` in `bitmap`; true when it was clear (a new item).
fn set_bit(bitmap: &mut [u64], h: u64) -> bool {
    let bits = bitmap.len() * 64;
    // The modulus is below 2^16: the cast cannot truncate.
    #[allow(clippy::cast_possible_truncation)]
    let i = (h % bits as u64) as usize;
    let (w, b) = (i / 64, 1u64 << (i % 64));
    let Some(word) = bitmap.get_mut(w) else {
        return false;
    };
    let new = *word & b == 0;
    *word |= b;
    new
}

/// A strong 64-bit mixer (splitmix64's finaliser): callers' hashes may be weak in low bits.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Which baseline an entity's limits came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Source {
    /// Nobody has learned enough yet: nothing can be anomalous.
    #[default]
    None,
    Own,
    Population,
}

/// Series of a client prefix, in the order of [`ClientEntry::values`].
const CLIENT_KINDS: [AnomalyKind; 5] = [
    AnomalyKind::ClientQueries,
    AnomalyKind::ClientNames,
    AnomalyKind::ClientDomains,
    AnomalyKind::ClientNxdomain,
    AnomalyKind::ClientNewDomains,
];
/// Series of a domain, in the order of [`DomainCounts::values`].
const DOMAIN_KINDS: [AnomalyKind; 4] = [
    AnomalyKind::DomainQueries,
    AnomalyKind::DomainNames,
    AnomalyKind::DomainNxdomain,
    AnomalyKind::DomainClients,
];

/// What a table entry needs for lookup: its full key, to confirm a tag match.
trait Slot: Default {
    fn key(&self) -> Option<u128>;
}

/// One client prefix's learned baselines and current window.
#[derive(Debug, Default)]
struct ClientEntry {
    key: Option<u128>,
    window: u64,
    windows: u32,
    fired: bool,
    source: Source,
    queries: u32,
    nxdomain: u32,
    new_domains: u32,
    name_bits: u32,
    domain_bits: u32,
    names: [u64; CLIENT_NAME_WORDS],
    domains: [u64; CLIENT_DOMAIN_WORDS],
    /// The limits of this window, in the units compared per query (counts or set bits).
    limits: [f32; CLIENT_KINDS.len()],
    own: [Baseline; CLIENT_KINDS.len()],
}

impl Slot for ClientEntry {
    fn key(&self) -> Option<u128> {
        self.key
    }
}

impl ClientEntry {
    /// The current window's values, in the units of the baselines.
    #[allow(clippy::cast_precision_loss)]
    fn values(&self) -> [f32; CLIENT_KINDS.len()] {
        [
            self.queries as f32,
            estimate(self.name_bits, CLIENT_NAME_WORDS),
            estimate(self.domain_bits, CLIENT_DOMAIN_WORDS),
            self.nxdomain as f32,
            self.new_domains as f32,
        ]
    }

    /// The running counts compared with `limits`, per query.
    #[allow(clippy::cast_precision_loss)]
    fn counters(&self) -> [f32; CLIENT_KINDS.len()] {
        [
            self.queries as f32,
            self.name_bits as f32,
            self.domain_bits as f32,
            self.nxdomain as f32,
            self.new_domains as f32,
        ]
    }

    fn set_limits(&mut self, pick: &[Baseline; CLIENT_KINDS.len()], cfg: &AnomalyConfig) {
        for (i, b) in pick.iter().enumerate() {
            let l = b.limit(cfg);
            let l = match i {
                1 => bits_limit(l, CLIENT_NAME_WORDS),
                2 => bits_limit(l, CLIENT_DOMAIN_WORDS),
                _ => l,
            };
            if let Some(slot) = self.limits.get_mut(i) {
                *slot = l;
            }
        }
    }
}

/// One registered domain's window, as the domain table's short window counts it (queries
/// weighted by the allow list, as the tunnel model sees them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DomainCounts {
    pub(crate) queries: f32,
    /// Set bits of the distinct-subdomain bitmap, and its size in 64-bit words.
    pub(crate) names_set: u32,
    pub(crate) names_words: usize,
    pub(crate) answers: f32,
    pub(crate) nxdomain: f32,
    /// Set bits of the 64-bit distinct-client bitmap.
    pub(crate) clients_set: u32,
}

impl DomainCounts {
    /// NXDOMAIN answers as a percentage of the window's answers.
    fn ratio(&self) -> f32 {
        if self.answers > 0.0 {
            100.0 * self.nxdomain.min(self.answers) / self.answers
        } else {
            0.0
        }
    }

    /// The window's values, in the units of the baselines.
    #[allow(clippy::cast_precision_loss)]
    fn values(&self) -> [f32; DOMAIN_KINDS.len()] {
        [
            self.queries,
            estimate(self.names_set, self.names_words),
            self.ratio(),
            estimate(self.clients_set, 1),
        ]
    }

    /// The running counts compared with the limits. The NXDOMAIN ratio only counts once the
    /// window has `min_count` NXDOMAIN answers: a ratio over a handful is noise.
    #[allow(clippy::cast_precision_loss)]
    fn counters(&self, cfg: &AnomalyConfig) -> [f32; DOMAIN_KINDS.len()] {
        let ratio = if self.nxdomain >= min_count(cfg) {
            self.ratio()
        } else {
            0.0
        };
        [
            self.queries,
            self.names_set as f32,
            ratio,
            self.clients_set as f32,
        ]
    }
}

/// One registered domain's learned baselines and the limits of its current window, kept in
/// its entry of the domain table beside the counts ([`DomainCounts`]). In this order
/// (`repr(C)`): what every query reads (the limits, `fired`, `source`) first, the baselines
/// (read when a window closes) last.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct DomainSeries {
    /// The limits of this window, in the units compared per query (counts, set bits, percent).
    limits: [f32; DOMAIN_KINDS.len()],
    windows: u32,
    fired: bool,
    source: Source,
    own: [Baseline; DOMAIN_KINDS.len()],
}

impl DomainSeries {
    /// Whether nothing can fire in this window: the one test most queries make.
    #[inline]
    pub(crate) fn quiet(&self) -> bool {
        self.fired || self.source == Source::None
    }

    fn set_limits(
        &mut self,
        pick: &[Baseline; DOMAIN_KINDS.len()],
        names_words: usize,
        cfg: &AnomalyConfig,
    ) {
        for (i, b) in pick.iter().enumerate() {
            let l = match i {
                1 => bits_limit(b.limit(cfg), names_words),
                // A percentage: min_count does not apply, and it cannot exceed 100.
                2 => b.median + cfg.z_threshold * b.scale(cfg),
                3 => bits_limit(b.limit(cfg), 1),
                _ => b.limit(cfg),
            };
            if let Some(slot) = self.limits.get_mut(i) {
                *slot = l;
            }
        }
    }
}

/// What every domain's series share: the thresholds and the population's baselines, for
/// domains without their own (a new domain unlike any seen). Owned by the domain table.
#[derive(Debug)]
pub(crate) struct DomainBaselines {
    config: AnomalyConfig,
    population: Mutex<[Baseline; DOMAIN_KINDS.len()]>,
}

impl DomainBaselines {
    pub(crate) fn new(config: AnomalyConfig) -> DomainBaselines {
        DomainBaselines {
            config,
            population: Mutex::new([Baseline::default(); DOMAIN_KINDS.len()]),
        }
    }

    /// A domain's window closed with `closed` (`None` for a domain new to the table): learns
    /// it into the domain's and the population's baselines, then sets the limits of the
    /// window that opens. One short lock, once a window per active domain.
    pub(crate) fn roll(&self, s: &mut DomainSeries, closed: Option<&DomainCounts>, words: usize) {
        let cfg = &self.config;
        let mut pop = lock(&self.population);
        if let Some(c) = closed {
            let rate = cfg.learning_rate;
            for (i, ((own, pop), x)) in s
                .own
                .iter_mut()
                .zip(pop.iter_mut())
                .zip(c.values())
                .enumerate()
            {
                // A ratio over a handful of answers says nothing: it is not learned.
                if i == 2 && c.answers < min_count(cfg) {
                    continue;
                }
                own.learn(x, rate);
                pop.learn(x, rate);
            }
            s.windows = s.windows.saturating_add(1);
        }
        s.fired = false;
        if s.windows >= cfg.min_windows {
            s.source = Source::Own;
            let own = s.own;
            s.set_limits(&own, words, cfg);
        } else if pop.first().is_some_and(|b| b.samples >= cfg.min_windows) {
            s.source = Source::Population;
            let pop = *pop;
            s.set_limits(&pop, words, cfg);
        } else {
            s.source = Source::None;
        }
    }

    /// The window's running counts against its limits: the series that crossed, the first
    /// time one does in the window. Callers test [`DomainSeries::quiet`] first.
    pub(crate) fn check(&self, s: &mut DomainSeries, c: &DomainCounts) -> Option<Crossed> {
        if s.quiet() {
            return None;
        }
        let own = (s.source == Source::Own).then_some(&s.own);
        let found = first_crossed(
            &DOMAIN_KINDS,
            &c.counters(&self.config),
            &s.limits,
            || c.values(),
            own,
            &self.population,
        )?;
        s.fired = true;
        Some(found)
    }
}

/// The first series whose running count is over its limit, explained by the baseline that
/// set the limits: the entity's `own` when it has one, else the population's (locked only
/// then).
fn first_crossed<const N: usize>(
    kinds: &[AnomalyKind; N],
    counters: &[f32; N],
    limits: &[f32; N],
    values: impl FnOnce() -> [f32; N],
    own: Option<&[Baseline; N]>,
    population: &Mutex<[Baseline; N]>,
) -> Option<Crossed> {
    let i = counters.iter().zip(limits).position(|(c, l)| c > l)?;
    let kind = *kinds.get(i)?;
    let value = *values().get(i)?;
    let (baseline, population) = match own {
        Some(own) => (*own.get(i)?, false),
        None => (*lock(population).get(i)?, true),
    };
    Some(Crossed {
        kind,
        value,
        baseline,
        population,
    })
}

/// A set's tags and last-seen times: one cache line, apart from the entries, so a lookup
/// reads one line and then only the entry it finds (the set's entries are a line or more
/// each).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Ways {
    /// Per slot: 32 bits of the key's hash with bit 0 set, or 0 when empty. A match is
    /// confirmed by the entry's whole key.
    tags: [u32; WAYS],
    /// Per slot: the low 32 bits of when it was last seen (ms), for eviction; ages are
    /// taken modulo 2^32 ms (49 days), so an entry idle longer than that may look recent.
    seen: [u32; WAYS],
}

/// A fixed-size, set-associative table: bounded lookups, no allocation after `new`.
#[derive(Debug)]
struct Table<E> {
    ways: Vec<Ways>,
    slots: Vec<E>,
}

impl<E: Slot> Table<E> {
    fn new(capacity: usize) -> Self {
        let sets = capacity.div_ceil(WAYS).max(1);
        let mut slots = Vec::with_capacity(sets * WAYS);
        slots.resize_with(sets * WAYS, E::default);
        Table {
            ways: vec![Ways::default(); sets],
            slots,
        }
    }

    /// The entry for `key`, or a fresh one in place of an empty slot or the least recently
    /// seen of its set; true when fresh.
    fn entry(&mut self, key: u128, hash: u64, now_ms: u64) -> Option<(&mut E, bool)> {
        let sets = self.ways.len();
        // `sets` fits in usize, so the remainder does too; the tag and the clock are the
        // low-order 32 bits of their values on purpose.
        #[allow(clippy::cast_possible_truncation)]
        let (index, tag, now) = (
            ((hash >> 20) % sets as u64) as usize,
            (hash >> 32) as u32 | 1,
            now_ms as u32,
        );
        let ways = self.ways.get_mut(index)?;
        let start = index * WAYS;
        let set = self.slots.get_mut(start..start + WAYS)?;
        let found = ways
            .tags
            .iter()
            .zip(set.iter())
            .position(|(t, e)| *t == tag && e.key() == Some(key));
        if let Some(i) = found {
            *ways.seen.get_mut(i)? = now;
            return Some((set.get_mut(i)?, false));
        }
        // An empty slot, else the one idle longest.
        let victim = ways
            .tags
            .iter()
            .zip(ways.seen.iter())
            .enumerate()
            .max_by_key(|(_, (t, s))| {
                if **t == 0 {
                    u64::MAX
                } else {
                    u64::from(now.wrapping_sub(**s))
                }
            })
            .map_or(0, |(i, _)| i);
        *ways.tags.get_mut(victim)? = tag;
        *ways.seen.get_mut(victim)? = now;
        let e = set.get_mut(victim)?;
        *e = E::default();
        Some((e, true))
    }
}

/// The whole server's two series: updated with atomics by every worker, closed by whichever
/// worker first sees a new window.
#[derive(Debug)]
struct Server {
    window: AtomicU64,
    nxdomain: AtomicU32,
    name_bits: AtomicU32,
    names: Box<[AtomicU64]>,
    /// f32 bits of the limits: NXDOMAIN answers, set bits of `names`.
    limit_nxdomain: AtomicU32,
    limit_bits: AtomicU32,
    fired_nxdomain: AtomicBool,
    fired_names: AtomicBool,
    learned: Mutex<[Baseline; 2]>,
}

/// A series that crossed its limit, found under a lock; [`Anomalies::domain_alert`] (for a
/// domain's, which the domain table finds) turns it into an alert.
#[derive(Debug, Clone, Copy)]
pub struct Crossed {
    kind: AnomalyKind,
    value: f32,
    baseline: Baseline,
    population: bool,
}

/// Learned traffic anomalies, shared by every worker.
#[derive(Debug)]
pub struct Anomalies {
    config: AnomalyConfig,
    started_ms: u64,
    clients: Box<[Mutex<Table<ClientEntry>>]>,
    /// The baselines of all client prefixes, for prefixes without their own.
    population: Mutex<[Baseline; CLIENT_KINDS.len()]>,
    server: Server,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves counters, never broken invariants: keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn shard<T>(shards: &[Mutex<T>], hash: u64) -> Option<&Mutex<T>> {
    // The shard count is a power of two below usize::MAX.
    #[allow(clippy::cast_possible_truncation)]
    let i = (hash as usize) & (shards.len() - 1);
    shards.get(i)
}

impl Anomalies {
    /// Allocates every table now; `started_ms` starts the learning period and the windows.
    pub fn new(config: AnomalyConfig, started_ms: u64) -> Anomalies {
        let shards = config.shards.max(1).next_power_of_two();
        let clients = (0..shards)
            .map(|_| Mutex::new(Table::new(config.clients_capacity.div_ceil(shards))))
            .collect();
        let inf = f32::INFINITY.to_bits();
        Anomalies {
            started_ms,
            clients,
            population: Mutex::new([Baseline::default(); CLIENT_KINDS.len()]),
            server: Server {
                window: AtomicU64::new(0),
                nxdomain: AtomicU32::new(0),
                name_bits: AtomicU32::new(0),
                names: (0..SERVER_NAME_WORDS).map(|_| AtomicU64::new(0)).collect(),
                limit_nxdomain: AtomicU32::new(inf),
                limit_bits: AtomicU32::new(inf),
                fired_nxdomain: AtomicBool::new(false),
                fired_names: AtomicBool::new(false),
                learned: Mutex::new([Baseline::default(); 2]),
            },
            config,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AnomalyConfig {
        &self.config
    }

    fn window_of(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.started_ms) / self.config.window_ms.max(1)
    }

    fn learning(&self, now_ms: u64) -> bool {
        now_ms < self.started_ms.saturating_add(self.config.learning_ms)
    }

    /// A query on its way upstream: counts it in the client's and the server's windows (the
    /// domain table counts the domain's). An alert the first time in a window that one of
    /// them crosses its limit.
    pub fn observe(&self, o: &Observation, now_ms: u64) -> Option<AnomalyAlert> {
        let window = self.window_of(now_ms);
        let name_hash = mix(o.name_hash);
        let domain_hash = mix(o.domain_hash);
        let may_fire = !o.domain_alerted;
        let mut fired = self
            .server_name(window, name_hash, may_fire)
            .map(|f| (f, None));
        let prefix = ClientPrefix::of(o.client);
        let c = self.client(prefix, window, now_ms, may_fire && fired.is_none(), |e| {
            e.queries = e.queries.saturating_add(1);
            if set_bit(&mut e.names, name_hash) {
                e.name_bits += 1;
            }
            if set_bit(&mut e.domains, domain_hash) {
                e.domain_bits += 1;
            }
            if o.new_domain {
                e.new_domains = e.new_domains.saturating_add(1);
            }
        });
        fired = fired.or(c.map(|f| (f, Some(prefix))));
        fired.map(|(f, p)| self.alert(f, p, None, now_ms))
    }

    /// The resolver's answer to an observed query: counts NXDOMAIN for the client and the
    /// server (any other answer touches nothing here; the domain table counts the domain's).
    pub fn observe_answer(
        &self,
        client: IpAddr,
        nxdomain: bool,
        now_ms: u64,
    ) -> Option<AnomalyAlert> {
        if !nxdomain {
            return None;
        }
        let window = self.window_of(now_ms);
        let mut fired = self.server_nxdomain(window, true).map(|f| (f, None));
        let prefix = ClientPrefix::of(client);
        let c = self.client(prefix, window, now_ms, fired.is_none(), |e| {
            e.nxdomain = e.nxdomain.saturating_add(1);
        });
        fired = fired.or(c.map(|f| (f, Some(prefix))));
        fired.map(|(f, p)| self.alert(f, p, None, now_ms))
    }

    /// The alert of a domain's series that crossed its limit (found by the domain table).
    pub fn domain_alert(&self, fired: Crossed, domain: NameRef<'_>, now_ms: u64) -> AnomalyAlert {
        self.alert(fired, None, Some(domain), now_ms)
    }

    /// The one allocation, when something is anomalous.
    fn alert(
        &self,
        f: Crossed,
        client_prefix: Option<ClientPrefix>,
        domain: Option<NameRef<'_>>,
        now_ms: u64,
    ) -> AnomalyAlert {
        AnomalyAlert {
            kind: f.kind,
            client_prefix,
            domain: domain.map(|d| {
                let mut n = d.to_name();
                n.make_lowercase();
                n
            }),
            value: f64::from(f.value),
            median: f64::from(f.baseline.median),
            mad: f64::from(f.baseline.mad),
            z: f64::from(f.baseline.z(f.value, &self.config)),
            population: f.population,
            learning: self.learning(now_ms),
            window_ms: self.config.window_ms,
        }
    }

    /// Updates a client prefix's window with `update`, then checks it if `may_fire`.
    fn client(
        &self,
        prefix: ClientPrefix,
        window: u64,
        now_ms: u64,
        may_fire: bool,
        update: impl FnOnce(&mut ClientEntry),
    ) -> Option<Crossed> {
        let key = prefix.key();
        // Folding the key's halves: the mixer spreads them.
        #[allow(clippy::cast_possible_truncation)]
        let hash = mix((key as u64) ^ ((key >> 64) as u64).rotate_left(29));
        let mut table = lock(shard(&self.clients, hash)?);
        let (e, fresh) = table.entry(key, hash, now_ms)?;
        if fresh {
            e.key = Some(key);
            e.window = window;
            self.open_client(e);
        } else if e.window < window {
            self.close_client(e);
            e.window = window;
            self.open_client(e);
        }
        update(e);
        if !may_fire || e.fired || e.source == Source::None {
            return None;
        }
        let own = (e.source == Source::Own).then_some(&e.own);
        let found = first_crossed(
            &CLIENT_KINDS,
            &e.counters(),
            &e.limits,
            || e.values(),
            own,
            &self.population,
        )?;
        e.fired = true;
        Some(found)
    }

    /// Learns the closing window of a client, into its own and the population's baselines.
    fn close_client(&self, e: &mut ClientEntry) {
        let values = e.values();
        let rate = self.config.learning_rate;
        let mut pop = lock(&self.population);
        for ((own, pop), x) in e.own.iter_mut().zip(pop.iter_mut()).zip(values) {
            own.learn(x, rate);
            pop.learn(x, rate);
        }
        e.windows = e.windows.saturating_add(1);
    }

    /// Clears a client's counters for a new window and sets its limits.
    fn open_client(&self, e: &mut ClientEntry) {
        e.queries = 0;
        e.nxdomain = 0;
        e.new_domains = 0;
        e.name_bits = 0;
        e.domain_bits = 0;
        e.names = [0; CLIENT_NAME_WORDS];
        e.domains = [0; CLIENT_DOMAIN_WORDS];
        e.fired = false;
        if e.windows >= self.config.min_windows {
            e.source = Source::Own;
            let own = e.own;
            e.set_limits(&own, &self.config);
            return;
        }
        let pop = *lock(&self.population);
        if pop
            .first()
            .is_some_and(|b| b.samples >= self.config.min_windows)
        {
            e.source = Source::Population;
            e.set_limits(&pop, &self.config);
        } else {
            e.source = Source::None;
        }
    }

    /// Closes the server's window if `window` is newer: the first worker to see it learns the
    /// closed window's values and sets the new limits. Counts that race with the close may
    /// land in either window: a few in thousands.
    fn server_roll(&self, window: u64) {
        let s = &self.server;
        let current = s.window.load(Ordering::Acquire);
        if window <= current
            || s.window
                .compare_exchange(current, window, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        let nx = s.nxdomain.swap(0, Ordering::Relaxed);
        let bits = s.name_bits.swap(0, Ordering::Relaxed);
        for w in s.names.iter() {
            w.store(0, Ordering::Relaxed);
        }
        let mut learned = lock(&s.learned);
        let rate = self.config.learning_rate;
        let [nx_b, names_b] = &mut *learned;
        #[allow(clippy::cast_precision_loss)]
        nx_b.learn(nx as f32, rate);
        names_b.learn(estimate(bits, SERVER_NAME_WORDS), rate);
        let (limit_nx, limit_bits) = if nx_b.samples >= self.config.min_windows {
            (
                nx_b.limit(&self.config),
                bits_limit(names_b.limit(&self.config), SERVER_NAME_WORDS),
            )
        } else {
            (f32::INFINITY, f32::INFINITY)
        };
        s.limit_nxdomain
            .store(limit_nx.to_bits(), Ordering::Relaxed);
        s.limit_bits.store(limit_bits.to_bits(), Ordering::Relaxed);
        s.fired_nxdomain.store(false, Ordering::Relaxed);
        s.fired_names.store(false, Ordering::Relaxed);
    }

    /// Counts a name in the server's window; checks it if `may_fire`.
    fn server_name(&self, window: u64, name_hash: u64, may_fire: bool) -> Option<Crossed> {
        self.server_roll(window);
        let s = &self.server;
        let bits = (SERVER_NAME_WORDS * 64) as u64;
        // The modulus is below 2^15: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let i = (name_hash.rotate_left(16) % bits) as usize;
        let b = 1u64 << (i % 64);
        let word = s.names.get(i / 64)?;
        // Most names repeat: a plain load spares the shared cache line a write.
        if word.load(Ordering::Relaxed) & b != 0 || word.fetch_or(b, Ordering::Relaxed) & b != 0 {
            return None;
        }
        let set = s.name_bits.fetch_add(1, Ordering::Relaxed) + 1;
        #[allow(clippy::cast_precision_loss)]
        let over = set as f32 > f32::from_bits(s.limit_bits.load(Ordering::Relaxed));
        if !over || !may_fire || s.fired_names.swap(true, Ordering::Relaxed) {
            return None;
        }
        let baseline = lock(&s.learned).get(1).copied()?;
        let fired = Crossed {
            kind: AnomalyKind::ServerNames,
            value: estimate(set, SERVER_NAME_WORDS),
            baseline,
            population: false,
        };
        Some(fired)
    }

    /// Counts an NXDOMAIN answer in the server's window; checks it if `may_fire`.
    fn server_nxdomain(&self, window: u64, may_fire: bool) -> Option<Crossed> {
        self.server_roll(window);
        let s = &self.server;
        let n = s.nxdomain.fetch_add(1, Ordering::Relaxed) + 1;
        #[allow(clippy::cast_precision_loss)]
        let over = n as f32 > f32::from_bits(s.limit_nxdomain.load(Ordering::Relaxed));
        if !over || !may_fire || s.fired_nxdomain.swap(true, Ordering::Relaxed) {
            return None;
        }
        let baseline = lock(&s.learned).first().copied()?;
        #[allow(clippy::cast_precision_loss)]
        let fired = Crossed {
            kind: AnomalyKind::NxdomainStorm,
            value: n as f32,
            baseline,
            population: false,
        };
        Some(fired)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::Ipv4Addr;

    use wire::RType;

    use super::*;
    use crate::domain::{DomainConfig, DomainTable, QueryObservation};

    /// xorshift64*: a seeded, reproducible stream.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    const MINUTE: u64 = 60_000;
    const START: u64 = 1_000_000;
    const CLIENTS: u64 = 200;
    const PREFIXES: u64 = 20;
    const NAMES: usize = 2_000;
    const DOMAINS: usize = 50;
    const HOURS: u64 = 3;
    /// Where the attacks start: 150 minutes in, well after the hour of learning.
    const ATTACK_AT: u64 = START + 150 * MINUTE;
    const ATTACK_LEN: u64 = 10 * MINUTE;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Attack {
        None,
        Storm,
        Scanner,
        Tunnel,
    }

    fn client(i: u64) -> IpAddr {
        // Client i in prefix 10.0.(i mod 20).0/24.
        IpAddr::V4(Ipv4Addr::new(
            10,
            0,
            (i % PREFIXES) as u8,
            (i / PREFIXES + 1) as u8,
        ))
    }

    fn domain_text(d: usize) -> String {
        format!("site{d}.com")
    }

    /// One query of the trace: (time, client, registered domain, full name, NXDOMAIN).
    struct Query {
        at: u64,
        client: IpAddr,
        domain: Name,
        name: String,
        nxdomain: bool,
    }

    fn random_label(rng: &mut Rng, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.below(36) as usize]))
            .collect()
    }

    /// The seeded trace: ~10 queries a second from 200 clients in 20 prefixes over a Zipf mix
    /// of 2,000 names under 50 domains (2.5% of names do not exist), for three hours, with
    /// `attack` mixed in from `ATTACK_AT` for ten minutes.
    fn trace(attack: Attack, seed: u64) -> Vec<Query> {
        let mut rng = Rng(seed);
        let domains: Vec<Name> = (0..DOMAINS)
            .map(|d| domain_text(d).parse().unwrap())
            .collect();
        // Zipf (s = 1) over name ranks; client weights 1..5.
        let mut cdf = Vec::with_capacity(NAMES);
        let mut total = 0.0;
        for r in 0..NAMES {
            total += 1.0 / (r as f64 + 1.0);
            cdf.push(total);
        }
        let weights: Vec<u64> = (0..CLIENTS).map(|i| 1 + i % 5).collect();
        let wsum: u64 = weights.iter().sum();
        let pick_client = |rng: &mut Rng| {
            let mut x = rng.below(wsum);
            for (i, w) in weights.iter().enumerate() {
                if x < *w {
                    return i as u64;
                }
                x -= w;
            }
            0
        };
        let mut out = Vec::new();
        let mut t = START;
        let end = START + HOURS * 60 * MINUTE;
        while t < end {
            t += 1 + (-(1.0 - rng.unit()).ln() * 100.0) as u64;
            let u = rng.unit() * total;
            let n = cdf.partition_point(|c| *c < u).min(NAMES - 1);
            let d = n % DOMAINS;
            out.push(Query {
                at: t,
                client: client(pick_client(&mut rng)),
                domain: domains[d].clone(),
                name: format!("h{n}.{}", domain_text(d)),
                nxdomain: (n / DOMAINS) % 40 == 3,
            });
        }
        // The attack, at its own rate, merged by time.
        let mut t = ATTACK_AT;
        let tunnel: Name = "t0nnel.net".parse().unwrap();
        while attack != Attack::None && t < ATTACK_AT + ATTACK_LEN {
            match attack {
                Attack::Storm => {
                    // Water torture: 50 q/s of random names under site3.com, from every
                    // client (open resolvers, a botnet), all NXDOMAIN.
                    t += 20;
                    out.push(Query {
                        at: t,
                        client: client(rng.below(CLIENTS)),
                        domain: domains[3].clone(),
                        name: format!("{}.{}", random_label(&mut rng, 12), domain_text(3)),
                        nxdomain: true,
                    });
                }
                Attack::Scanner => {
                    // Client 37 (10.0.17.0/24) walks 20 unique names a second across domains.
                    t += 50;
                    let d = rng.below(DOMAINS as u64) as usize;
                    out.push(Query {
                        at: t,
                        client: client(37),
                        domain: domains[d].clone(),
                        name: format!("{}.{}", random_label(&mut rng, 8), domain_text(d)),
                        nxdomain: rng.below(10) < 9,
                    });
                }
                Attack::Tunnel => {
                    // Client 58 (10.0.18.0/24) sends 5 q/s of long unique labels to a new
                    // domain, answered.
                    t += 200;
                    out.push(Query {
                        at: t,
                        client: client(58),
                        domain: tunnel.clone(),
                        name: format!("{}.t0nnel.net", random_label(&mut rng, 50)),
                        nxdomain: false,
                    });
                }
                Attack::None => unreachable!(),
            }
        }
        out.sort_by_key(|q| q.at);
        out
    }

    /// Runs a trace through the anomaly detector and the domain table (which counts each
    /// domain's series), as the detector joins them, with the default configuration.
    fn run(trace: &[Query]) -> Vec<(u64, AnomalyAlert)> {
        let config = AnomalyConfig::default();
        let a = Anomalies::new(config.clone(), START);
        let t = DomainTable::new(DomainConfig {
            hash_key: Some([1, 2]),
            anomaly: config,
            ..DomainConfig::default()
        });
        let mut alerts = Vec::new();
        for q in trace {
            let domain = q.domain.as_ref();
            let key = t.key(domain);
            let name: Name = q.name.parse().unwrap();
            let wire = name.as_wire();
            let left = &wire[..wire.len() - domain.as_wire().len()];
            let observed = t.observe_query(
                &QueryObservation {
                    domain,
                    key,
                    left,
                    qtype: RType::A,
                    client: q.client,
                    score: 0.0,
                    suspicious: false,
                    weight: 1.0,
                },
                q.at,
            );
            let o = Observation {
                client: q.client,
                domain_hash: key.bits(),
                name_hash: observed.name_hash,
                new_domain: observed.new_domain,
                domain_alerted: observed.anomaly.is_some(),
            };
            if let Some(crossed) = observed.anomaly {
                alerts.push((q.at, a.domain_alert(crossed, domain, q.at)));
            }
            if let Some(al) = a.observe(&o, q.at) {
                alerts.push((q.at, al));
            }
            t.observe_answer(key, q.nxdomain, 100);
            if let Some(al) = a.observe_answer(q.client, q.nxdomain, q.at) {
                alerts.push((q.at, al));
            }
        }
        alerts
    }

    fn window(at: u64) -> u64 {
        (at - START) / MINUTE
    }

    #[test]
    fn baseline_traffic_raises_nothing_after_learning() {
        for seed in [1, 2, 3] {
            let alerts = run(&trace(Attack::None, seed));
            for (at, al) in &alerts {
                assert!(
                    al.learning,
                    "seed {seed}: false alert in window {}: {al}",
                    window(*at)
                );
            }
            let learning = alerts.len();
            eprintln!("seed {seed}: {learning} learning-period flags, 0 after");
        }
    }

    /// The first alert (after the attack start) that names the attack, in windows after the
    /// window in which it began; no unrelated alert after learning.
    fn detect(attack: Attack, seed: u64, names: impl Fn(&AnomalyAlert) -> bool) -> (u64, u64) {
        let alerts = run(&trace(attack, seed));
        for (at, al) in &alerts {
            eprintln!("{attack:?}/{seed} window {}: {al}", window(*at));
            if *at < ATTACK_AT {
                assert!(al.learning, "false alert before the attack: {al}");
            }
        }
        let (at, al) = alerts
            .iter()
            .find(|(at, al)| *at >= ATTACK_AT && names(al))
            .expect("attack not detected");
        assert!(!al.learning);
        (window(*at) - window(ATTACK_AT), (at - ATTACK_AT) / 1000)
    }

    #[test]
    fn a_random_subdomain_storm_is_caught_within_its_window() {
        for seed in [1, 2, 3] {
            let w = detect(Attack::Storm, seed, |al| {
                al.kind == AnomalyKind::NxdomainStorm
                    || al
                        .domain
                        .as_ref()
                        .is_some_and(|d| d.to_string() == "site3.com.")
            });
            eprintln!(
                "storm, seed {seed}: detected {} windows ({} s) after start",
                w.0, w.1
            );
            assert!(w.0 < 3);
        }
    }

    #[test]
    fn a_client_turned_scanner_is_caught_within_its_window() {
        for seed in [1, 2, 3] {
            let w = detect(Attack::Scanner, seed, |al| {
                al.client_prefix == Some(ClientPrefix::of(client(37)))
            });
            eprintln!(
                "scanner, seed {seed}: detected {} windows ({} s) after start",
                w.0, w.1
            );
            assert!(w.0 < 3);
        }
    }

    #[test]
    fn a_new_tunnel_is_caught_within_its_window() {
        for seed in [1, 2, 3] {
            let w = detect(Attack::Tunnel, seed, |al| {
                al.client_prefix == Some(ClientPrefix::of(client(58)))
                    || al
                        .domain
                        .as_ref()
                        .is_some_and(|d| d.to_string() == "t0nnel.net.")
            });
            eprintln!(
                "tunnel, seed {seed}: detected {} windows ({} s) after start",
                w.0, w.1
            );
            assert!(w.0 < 3);
        }
    }

    #[test]
    fn the_explanation_reads_well() {
        let al = AnomalyAlert {
            kind: AnomalyKind::ClientNames,
            client_prefix: Some(ClientPrefix::of("192.0.2.77".parse().unwrap())),
            domain: None,
            value: 4210.0,
            median: 12.0,
            mad: 3.4,
            z: 83.2,
            population: false,
            learning: false,
            window_ms: 60_000,
        };
        assert_eq!(
            al.to_string(),
            "client 192.0.2.0/24 asked 4,210 distinct names in 60 s (normal 12 ± 5, z 83)"
        );
        let p = ClientPrefix::of("2001:db8:1:2ff:1::1".parse().unwrap());
        assert_eq!(p.to_string(), "2001:db8:1:200::/56");
        assert_eq!(Thousands(1_234_567.4).to_string(), "1,234,567");
        assert_eq!(Thousands(7.0).to_string(), "7");
    }

    #[test]
    fn a_domains_nxdomain_ratio_is_of_its_answers() {
        let mut c = DomainCounts {
            queries: 40.0,
            names_set: 0,
            names_words: 16,
            answers: 40.0,
            nxdomain: 10.0,
            clients_set: 0,
        };
        assert_eq!(c.ratio(), 25.0);
        c.answers = 0.0;
        assert_eq!(c.ratio(), 0.0);
        // Only an NXDOMAIN answer reaches the client table.
        let a = Anomalies::new(AnomalyConfig::default(), 0);
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let filed = |a: &Anomalies| {
            a.clients
                .iter()
                .map(|t| lock(t).slots.iter().filter(|e| e.key.is_some()).count())
                .sum::<usize>()
        };
        assert!(a.observe_answer(client, false, 1_000).is_none());
        assert_eq!(filed(&a), 0);
        assert!(a.observe_answer(client, true, 1_000).is_none());
        assert_eq!(filed(&a), 1);
    }

    #[test]
    fn the_detector_is_shared() {
        fn shared<T: Send + Sync>() {}
        shared::<Anomalies>();
        let v6 = ClientPrefix::of("2001:db8::1".parse().unwrap());
        let v4 = ClientPrefix::of("0.0.0.1".parse().unwrap());
        assert_ne!(v6.key(), v4.key());
    }

    #[test]
    fn the_baseline_is_robust_to_an_outlier() {
        let mut b = Baseline::default();
        let mut rng = Rng(9);
        for _ in 0..500 {
            b.learn(100.0 + rng.below(21) as f32 - 10.0, 0.05);
        }
        let (m, d) = (b.median, b.mad);
        assert!((m - 100.0).abs() < 3.0, "median {m}");
        assert!((3.0..8.0).contains(&d), "mad {d}");
        b.learn(100_000.0, 0.05);
        assert!((b.median - m).abs() < 1.0);
    }

    #[test]
    fn tables_evict_the_least_recently_seen_and_stay_bounded() {
        let cfg = AnomalyConfig {
            clients_capacity: 64,
            shards: 1,
            ..AnomalyConfig::default()
        };
        let a = Anomalies::new(cfg, 0);
        for i in 0..10_000u32 {
            let o = Observation {
                client: IpAddr::V4(Ipv4Addr::from_bits(i << 8)),
                domain_hash: 7,
                name_hash: u64::from(i),
                new_domain: false,
                domain_alerted: false,
            };
            a.observe(&o, u64::from(i));
        }
        let table = lock(&a.clients[0]);
        assert_eq!(table.slots.len(), 64);
        // The last 8 seen of each set survive.
        assert!(table.slots.iter().all(|e| e.key.is_some()));
        assert!(
            table
                .ways
                .iter()
                .flat_map(|w| w.seen)
                .all(|s| s >= 10_000 - 64 * 4)
        );
    }
}
