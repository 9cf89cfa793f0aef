//! Bounded, windowed state per registered domain, and the per-domain model.
//!
//! One query on its own rarely shows a tunnel: the signal is in the volume of *distinct*
//! subdomains a registered domain receives, the bytes carried out in them, the query types and
//! the answers. [`DomainTable`] keeps, per registered domain, a short (default 60 s) and a long
//! (default 1 h) window of counters; [`DomainTable::observe_query`] updates them in bounded
//! work without allocating (an allocation happens only when a new domain is inserted) and,
//! when cheap gates are crossed, hands back the domain's feature vector so the caller can run
//! [`DomainModel::score`] outside the table's lock.
//!
//! Windows are tumbling, read as a sliding estimate: the previous window's total weighted by
//! the part of it still inside the sliding span, plus the current window. No timers: a window
//! rolls when a query or answer arrives after its end.
//!
//! Distinct subdomains are counted with a linear-counting bitmap of keyed hashes of the left
//! part, 1,024 bits for the short window and 2,048 for the long one: the estimate
//! `m·ln(m/zeros)` stays within 10% up to 1,000 and 2,000 names respectively and saturates near
//! 7,100 and 15,600, far above any gate. The hash is keyed so that a client cannot choose names
//! that collide (in the table or in the bitmap) to hide a tunnel.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::fmt::Write as _;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock};

use serde::Deserialize;
use wire::{Name, NameRef, RType};

use crate::anomaly::{AnomalyConfig, Crossed, DomainBaselines, DomainCounts, DomainSeries};
use crate::psl::lowercase8;

/// Number of per-domain features fed to the domain model.
pub const DOMAIN_FEATURES: usize = 23;

/// Stable feature names, in vector order: the model file's `"features"` must equal them.
pub const DOMAIN_FEATURE_NAMES: [&str; DOMAIN_FEATURES] = [
    "short_queries_log",
    "short_distinct_log",
    "short_bytes_out_log",
    "long_queries_log",
    "long_distinct_log",
    "long_bytes_out_log",
    "tunnel_type_share",
    "nxdomain_ratio",
    "mean_score",
    "max_score",
    "suspicious_share",
    "mean_response_log",
    "max_response_log",
    "distinct_clients_log",
    "distinct_per_query",
    "long_suspicious_log",
    "long_bytes_per_query_log",
    "long_distinct_per_query",
    "long_gaps_log",
    "long_gap_cv",
    "lead_client_share",
    "long_novel_bytes_per_query_log",
    "long_identifier_share",
];

/// Pauses shorter than this between two queries of a domain are one burst (A with AAAA, a
/// page's names, a tunnel's transfer), not an interval: only longer ones feed the timing
/// features, so a beacon's regular polls are not drowned by its own bursts.
const MIN_GAP_MS: u64 = 1_000;
/// Pauses needed before their coefficient of variation means anything: three or four
/// pauses of a small site's visits can look as regular as a timer by chance.
const MIN_GAPS_FOR_CV: f32 = 8.0;
/// The coefficient of variation reported while fewer than [`MIN_GAPS_FOR_CV`] pauses were
/// seen: the mean of the known values in the domain model's training vectors, under the
/// fit's weights (0.70 on 2026-11-28), so that "too few pauses to tell" weighs about as
/// much as the typical domain's pauses. At 1.0 (independent arrivals) it counted as
/// evidence of a person browsing, and held the score of slow tunnel sessions, whose few
/// pauses are still too few, under the threshold for 60-120 queries.
const GAP_CV_UNKNOWN: f32 = 0.7;

/// 64-bit words of the short window's distinct-subdomain bitmap (1,024 bits).
const SHORT_WORDS: usize = 16;
/// 64-bit words of the long window's bitmap (2,048 bits): it sees more names.
const LONG_WORDS: usize = 32;
/// Bytes of a sample left part kept for explanations (one full label and its length byte).
const SAMPLE_BYTES: usize = 64;
const SAMPLES: usize = 3;
const CLIENTS: usize = 4;
/// Slots probed per lookup: bounds the work of a lookup, an insert and an eviction.
const PROBES: usize = 16;
/// Bytes of a left part's start and end kept to compare the next new name with.
const EDGE: usize = 32;
/// New names over which the lead client's share is taken (older ones count half, then less).
const VOTE_SPAN: u32 = 1_024;
/// Labels a search suffix may leave in a left part after the name it expands (`default.svc`
/// of `api.github.com.default.svc.cluster.local`).
const SEARCH_SUFFIX_LABELS: usize = 3;
/// Upper bound on the number of shards (locks).
const MAX_SHARDS: usize = 64;

/// Sizes, windows and gates of the per-domain table.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    /// Registered domains tracked at most. With bounded probing the table may start evicting
    /// the least recently seen domains a little before every slot is used.
    pub capacity: usize,
    /// Length of the short window (burst detection).
    pub short_window_ms: u64,
    /// Length of the long window (slow exfiltration).
    pub long_window_ms: u64,
    /// Gate: estimated distinct subdomains in the short window at or above which the model runs.
    pub gate_short_distinct: f32,
    /// Gate: estimated distinct subdomains in the long window.
    pub gate_long_distinct: f32,
    /// Gate: (weighted) suspicious queries in the long window.
    pub gate_suspicious: f32,
    /// Gate: (weighted) pauses of a second or more between queries in the long window: a
    /// beacon polling one or a few names never reaches the distinct gates, but it keeps
    /// coming back, and its timing is what the model then looks at.
    pub gate_gaps: f32,
    /// Once gated, the model runs on every `eval_every`-th query of the domain, and also
    /// whenever its short-window distinct count reaches a new power of two or a query asks
    /// for orders ([`asks_for_orders`]).
    pub eval_every: u32,
    /// Key of the keyed hash; `None` draws a random one (tests fix it to be reproducible).
    pub hash_key: Option<[u64; 2]>,
    /// Thresholds of each domain's learned anomaly series, counted in its short window (the
    /// configuration's window, capacities and shards do not apply here).
    pub anomaly: AnomalyConfig,
}

impl Default for DomainConfig {
    fn default() -> Self {
        DomainConfig {
            capacity: 50_000,
            short_window_ms: 60_000,
            long_window_ms: 3_600_000,
            gate_short_distinct: 8.0,
            gate_long_distinct: 30.0,
            gate_suspicious: 2.0,
            gate_gaps: 12.0,
            eval_every: 4,
            hash_key: None,
            anomaly: AnomalyConfig::default(),
        }
    }
}

/// A registered domain's keyed hash in one [`DomainTable`] ([`DomainTable::key`]): taken once
/// per query and handed to every table that files the domain, so that a miss and its answer
/// hash the name once rather than four times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DomainKey(u64);

impl DomainKey {
    /// The hash's bits, for another table's index (the anomaly tables').
    pub fn bits(self) -> u64 {
        self.0
    }
}

/// One query, as the caller has already analysed it.
#[derive(Debug, Clone, Copy)]
pub struct QueryObservation<'a> {
    /// The registered domain (public suffix plus one label).
    pub domain: NameRef<'a>,
    /// Its key in the table the query goes to ([`DomainTable::key`]).
    pub key: DomainKey,
    /// Wire bytes of the labels before the registered domain (length-prefixed, no root byte);
    /// empty for a query of the registered domain itself.
    pub left: &'a [u8],
    /// Query type.
    pub qtype: RType,
    /// The asking client.
    pub client: IpAddr,
    /// The query model's score, 0..1.
    pub score: f32,
    /// Whether the score reached the query model's threshold.
    pub suspicious: bool,
    /// 1.0, lower for allow-listed zones: their queries are still counted, with less weight.
    pub weight: f32,
}

/// What [`DomainTable::observe_query`] found.
#[derive(Debug, Clone, Copy)]
pub struct Observed {
    /// The domain was not tracked before this query.
    pub new_domain: bool,
    /// A keyed hash of the whole query name, case ignored (for distinct-name counts).
    pub name_hash: u64,
    /// Set when the gates are crossed and it is this query's turn: run the domain model on it.
    pub features: Option<[f32; DOMAIN_FEATURES]>,
    /// One of the domain's learned anomaly series crossed its limit with this query
    /// ([`crate::Anomalies::domain_alert`] words it).
    pub anomaly: Option<Crossed>,
}

/// Sliding-window figures of one domain, for alerts and the control interface.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowReport {
    /// Window length.
    pub window_ms: u64,
    /// Queries (weighted).
    pub queries: f32,
    /// Estimated distinct subdomains.
    pub distinct: f32,
    /// Bytes of new distinct left parts: what a tunnel can carry out.
    pub bytes_out: f32,
    /// Of those, the bytes each new left part did not share with the domain's previous new
    /// one (common start and end left out): what a stream of names adds beyond a pattern
    /// such as `server-001`, `server-002`. Counted in the long window only (0 in the short).
    pub novel_bytes: f32,
    /// New left parts with a label that switches between letters and digits at least
    /// [`IDENTIFIER_SWITCHES`] times (`a3f9c2d17e`, `k3x9q2m7zt`): an identifier a program
    /// made, not a name a person chose. Counted in the long window only (0 in the short).
    pub identifiers: f32,
    /// Share of queries of tunnel-friendly types.
    pub tunnel_type_share: f32,
    /// Answers seen.
    pub answers: f32,
    /// Share of answers that were NXDOMAIN.
    pub nxdomain_ratio: f32,
    /// Mean response size in bytes.
    pub mean_response: f32,
    /// Largest response size in bytes.
    pub max_response: f32,
    /// Estimated distinct clients.
    pub distinct_clients: f32,
    /// Mean query-model score.
    pub mean_score: f32,
    /// Highest query-model score.
    pub max_score: f32,
    /// Suspicious queries (weighted).
    pub suspicious: f32,
    /// Pauses of a second or more between queries (weighted).
    pub gaps: f32,
    /// Mean of those pauses, in seconds.
    pub gap_mean_s: f32,
    /// Their coefficient of variation (standard deviation ÷ mean): near 0 for a timer, about
    /// 1 for independent arrivals; 0.7, the typical domain's, when fewer than eight pauses
    /// were seen (too few to tell).
    pub gap_cv: f32,
}

/// A domain's state, copied out for an alert or `ctl`.
#[derive(Debug, Clone)]
pub struct DomainReport {
    /// The registered domain, as first seen.
    pub domain: Name,
    /// When it was first seen.
    pub first_seen_ms: u64,
    /// When it was last queried.
    pub last_seen_ms: u64,
    /// The short window, estimated at the last query.
    pub short: WindowReport,
    /// The long window, estimated at the last query.
    pub long: WindowReport,
    /// Up to three sample left parts in presentation form (cut at 63 bytes, then `…`).
    pub samples: Vec<String>,
    /// Up to four of the clients that asked.
    pub clients: Vec<IpAddr>,
}

// ---------------------------------------------------------------------------------------------
// Windows
// ---------------------------------------------------------------------------------------------

/// Weighted totals of one tumbling window. For the previous window `distinct` and `clients`
/// hold the final estimates; for the current one they are read from the bitmaps.
///
/// In this order (`repr(C)`): what an answer updates first, right after the window's start
/// (so that an answer reads one line a window); then the previous window's figures that
/// the gates read every query (`distinct`, `suspicious`, `gaps`); then the rest.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Counts {
    answers: f32,
    nx: f32,
    resp_sum: f32,
    resp_max: f32,
    distinct: f32,
    suspicious: f32,
    /// Pauses (weighted), their weighted sum and sum of squares, in seconds.
    gaps: f32,
    gap_sum: f32,
    gap_sq: f32,
    queries: f32,
    bytes_out: f32,
    novel: f32,
    identifiers: f32,
    tunnel: f32,
    clients: f32,
    score_sum: f32,
    score_max: f32,
}

/// One query's contribution to a window, worked out once for both.
#[derive(Debug)]
struct OneQuery {
    /// Keyed hash of the left part, when there is one and it is sampled (see `weight`).
    left_hash: Option<u64>,
    left_len: f32,
    weight: f32,
    tunnel: bool,
    client_bit: u64,
    score: f32,
    suspicious: bool,
    /// Seconds since the domain's previous query when at least `MIN_GAP_MS`, else 0.
    gap_s: f32,
}

// In this order, from a line boundary: the start and the current counts (an answer's
// fields first) fill the first line; the rest of them, the set-bit count, the clients and
// the previous window's figures the gates read fill the second; the previous counts' rest
// is read only when the model runs, and each query reads one word of the bitmap. A
// domain's entry is usually cold in cache (20,000 domains in rotation), so lines touched
// are what a miss costs: a query touches two lines a window and a bitmap word, an answer
// one line a window.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
struct Window<const WORDS: usize> {
    /// Start of the current tumbling window (a multiple of its length): kept rather than its
    /// number so that the common case, still inside it, needs no division.
    start_ms: u64,
    cur: Counts,
    /// Bits set in `bits` (kept, rather than counted on each query).
    ones: u32,
    clients: u64,
    prev: Counts,
    bits: [u64; WORDS],
}

/// Linear counting: `m·ln(m/zeros)`, capped at `m·ln(m)` when the bitmap is full.
fn linear_count_exact(ones: u32, bits: u32) -> f32 {
    let m = bits as f32;
    let zeros = (bits - ones.min(bits)).max(1) as f32;
    m * (m / zeros).ln()
}

/// [`linear_count_exact`] for every count of the three bitmap sizes in use (clients, short
/// and long windows), computed once per process: the gates read two estimates per query, and
/// a logarithm costs more than the rest of the window update.
struct LinearCounts {
    clients: [f32; 65],
    short: [f32; SHORT_WORDS * 64 + 1],
    long: [f32; LONG_WORDS * 64 + 1],
}

fn linear_counts() -> &'static LinearCounts {
    static TABLES: OnceLock<Box<LinearCounts>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let fill = |bits: u32| move |ones: usize| linear_count_exact(ones as u32, bits);
        Box::new(LinearCounts {
            clients: std::array::from_fn(fill(64)),
            short: std::array::from_fn(fill((SHORT_WORDS * 64) as u32)),
            long: std::array::from_fn(fill((LONG_WORDS * 64) as u32)),
        })
    })
}

/// Linear counting, from the tables.
fn linear_count(ones: u32, bits: u32) -> f32 {
    let t = linear_counts();
    let table: &[f32] = match bits {
        64 => &t.clients,
        b if b as usize == SHORT_WORDS * 64 => &t.short,
        b if b as usize == LONG_WORDS * 64 => &t.long,
        _ => &[],
    };
    table
        .get(ones as usize)
        .copied()
        .unwrap_or_else(|| linear_count_exact(ones, bits))
}

impl<const WORDS: usize> Window<WORDS> {
    fn new(now_ms: u64, len_ms: u64) -> Self {
        Window {
            start_ms: now_ms - now_ms % len_ms,
            cur: Counts::default(),
            prev: Counts::default(),
            bits: [0; WORDS],
            ones: 0,
            clients: 0,
        }
    }

    fn distinct_now(&self) -> f32 {
        linear_count(self.ones, (WORDS * 64) as u32)
    }

    /// Sliding estimate of distinct left parts.
    fn distinct(&self, now_ms: u64, len_ms: u64) -> f32 {
        self.prev.distinct * self.prev_weight(now_ms, len_ms) + self.distinct_now()
    }

    /// Sliding count of suspicious queries.
    fn suspicious(&self, now_ms: u64, len_ms: u64) -> f32 {
        self.prev.suspicious * self.prev_weight(now_ms, len_ms) + self.cur.suspicious
    }

    /// Sliding count of pauses.
    fn gaps(&self, now_ms: u64, len_ms: u64) -> f32 {
        self.prev.gaps * self.prev_weight(now_ms, len_ms) + self.cur.gaps
    }

    fn clients_now(&self) -> f32 {
        linear_count(self.clients.count_ones(), 64)
    }

    /// The current window as a domain's anomaly series count it.
    fn series_counts(&self) -> DomainCounts {
        DomainCounts {
            queries: self.cur.queries,
            names_set: self.ones,
            names_words: WORDS,
            answers: self.cur.answers,
            nxdomain: self.cur.nx,
            clients_set: self.clients.count_ones(),
        }
    }

    /// Moves to the tumbling window holding `now_ms`. A time slightly in the past (workers'
    /// clocks read a moment apart) is counted in the current window.
    fn roll(&mut self, now_ms: u64, len_ms: u64) {
        if now_ms < self.start_ms.saturating_add(len_ms) {
            return;
        }
        let windows = (now_ms - self.start_ms) / len_ms;
        if windows == 1 {
            let mut prev = self.cur;
            prev.distinct = self.distinct_now();
            prev.clients = self.clients_now();
            self.prev = prev;
        } else {
            self.prev = Counts::default();
        }
        self.cur = Counts::default();
        self.bits = [0; WORDS];
        self.ones = 0;
        self.clients = 0;
        self.start_ms += windows * len_ms;
    }

    /// Part of the previous window still inside a sliding window ending at `now_ms`.
    fn prev_weight(&self, now_ms: u64, len_ms: u64) -> f32 {
        let into = now_ms.saturating_sub(self.start_ms).min(len_ms);
        1.0 - into as f32 / len_ms as f32
    }

    /// Sets the bit of a left-part hash; whether it was new in this window.
    fn insert_left(&mut self, hash: u64) -> bool {
        let bit = (hash % (WORDS as u64 * 64)) as usize;
        let word = &mut self.bits[bit / 64];
        let mask = 1u64 << (bit % 64);
        let new = *word & mask == 0;
        *word |= mask;
        self.ones += u32::from(new);
        new
    }

    /// Counts one query; whether its left part was new in this window.
    fn on_query(&mut self, q: &OneQuery, now_ms: u64, len_ms: u64) -> bool {
        self.roll(now_ms, len_ms);
        let new = q.left_hash.is_some_and(|h| self.insert_left(h));
        if new {
            self.cur.bytes_out += q.left_len;
        }
        self.clients |= q.client_bit;
        let c = &mut self.cur;
        c.queries += q.weight;
        if q.tunnel {
            c.tunnel += q.weight;
        }
        c.score_sum += q.weight * q.score;
        c.score_max = c.score_max.max(q.score * q.weight);
        if q.suspicious {
            c.suspicious += q.weight;
        }
        if q.gap_s > 0.0 {
            c.gaps += q.weight;
            c.gap_sum += q.weight * q.gap_s;
            c.gap_sq += q.weight * q.gap_s * q.gap_s;
        }
        new
    }

    /// Counts answers kept in the domain's slot since its last query.
    fn on_answers(&mut self, p: Pending, now_ms: u64, len_ms: u64) {
        self.roll(now_ms, len_ms);
        let c = &mut self.cur;
        c.answers += f32::from(p.answers);
        c.nx += f32::from(p.nx);
        c.resp_sum += p.resp_sum as f32;
        c.resp_max = c.resp_max.max(f32::from(p.resp_max));
    }

    // Inlined so that, where the domain model's features are all that is read, the figures
    // they do not use (a square root among them) are never computed.
    #[inline(always)]
    fn report(&self, now_ms: u64, len_ms: u64) -> WindowReport {
        let p = self.prev_weight(now_ms, len_ms);
        let c = &self.cur;
        let q = &self.prev;
        let mix = |prev: f32, cur: f32| prev * p + cur;
        let mx = |prev: f32, cur: f32| if p > 0.0 { prev.max(cur) } else { cur };
        let queries = mix(q.queries, c.queries);
        let answers = mix(q.answers, c.answers);
        let ratio = |num: f32, den: f32| if den > 0.0 { num / den } else { 0.0 };
        let gaps = mix(q.gaps, c.gaps);
        let gap_mean_s = ratio(mix(q.gap_sum, c.gap_sum), gaps);
        let gap_cv = if gaps >= MIN_GAPS_FOR_CV && gap_mean_s > 0.0 {
            let var = ratio(mix(q.gap_sq, c.gap_sq), gaps) - gap_mean_s * gap_mean_s;
            var.max(0.0).sqrt() / gap_mean_s
        } else {
            GAP_CV_UNKNOWN
        };
        WindowReport {
            window_ms: len_ms,
            queries,
            distinct: mix(q.distinct, self.distinct_now()),
            bytes_out: mix(q.bytes_out, c.bytes_out),
            novel_bytes: mix(q.novel, c.novel),
            identifiers: mix(q.identifiers, c.identifiers),
            tunnel_type_share: ratio(mix(q.tunnel, c.tunnel), queries),
            answers,
            nxdomain_ratio: ratio(mix(q.nx, c.nx), answers),
            mean_response: ratio(mix(q.resp_sum, c.resp_sum), answers),
            max_response: mx(q.resp_max, c.resp_max),
            distinct_clients: mix(q.clients, self.clients_now()),
            mean_score: ratio(mix(q.score_sum, c.score_sum), queries),
            max_score: mx(q.score_max, c.score_max),
            suspicious: mix(q.suspicious, c.suspicious),
            gaps,
            gap_mean_s,
            gap_cv,
        }
    }
}

/// Query types a tunnel favours: large or free-form answers (TXT, NULL, KEY, CNAME, MX, SRV)
/// and the private-use range.
fn tunnel_friendly(qtype: RType) -> bool {
    matches!(
        qtype,
        RType::TXT | RType::NULL | RType::KEY | RType::CNAME | RType::MX | RType::SRV
    ) || (65280..=65534).contains(&qtype.0)
}

// ---------------------------------------------------------------------------------------------
// Entries and the sharded table
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Sample {
    len: u8,
    /// Whether the left part was longer than what is kept.
    cut: bool,
    bytes: [u8; SAMPLE_BYTES],
}

// In this order (`repr(C)`): the fields every query reads or writes come first (the first
// line: the header and what of the anomaly series a query reads; the second: the clients
// kept), then the windows (each from a line boundary) and the last new name's edges (a line
// of their own), and what only a report or a closing window reads (the samples, the
// series' baselines) last, so that a cold entry costs as few cache lines as it can
// (see `Window`): a query touches 8 or 9, an answer 2 or 3.
#[derive(Debug)]
#[repr(C, align(64))]
struct Entry {
    last_seen_ms: u64,
    /// The client (key from [`DomainTable::client_hash`]) leading a majority vote over the
    /// domain's new names, and by how many votes: a tunnel's names come from the one host
    /// that runs it, a platform's customer names from many clients a few each.
    lead_client: u64,
    lead_votes: u32,
    /// New names voted on; halved with `lead_votes` at [`VOTE_SPAN`], so that the share
    /// follows recent names.
    voted: u32,
    /// Gated queries so far: every `eval_every`-th runs the model.
    gated: u32,
    /// Power of two of the short distinct count at the last evaluation.
    last_pow: u8,
    client_count: u8,
    prev_len: u8,
    sample_count: u8,
    /// Next sample slot to overwrite once all are used.
    sample_next: u8,
    /// The learned anomaly series, whose counts are the short window's.
    series: DomainSeries,
    clients: [IpAddr; CLIENTS],
    /// The registered domain's wire form, as first seen (the one allocation per domain):
    /// read only by reports, here because it fills the gap before the line-aligned windows.
    name: Box<[u8]>,
    short: Window<SHORT_WORDS>,
    long: Window<LONG_WORDS>,
    /// The last new left part's first and last [`EDGE`] bytes (the tail right-aligned) and
    /// its length (`prev_len`), for the novel bytes of the next one.
    edges: Edges,
    first_seen_ms: u64,
    samples: [Sample; SAMPLES],
}

/// A new left part's first and last [`EDGE`] bytes: one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Edges {
    head: [u8; EDGE],
    tail: [u8; EDGE],
}

impl Entry {
    fn new(name: &[u8], client: IpAddr, now_ms: u64, config: &DomainConfig) -> Entry {
        Entry {
            name: name.into(),
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            short: Window::new(now_ms, config.short_window_ms),
            long: Window::new(now_ms, config.long_window_ms),
            samples: [Sample {
                len: 0,
                cut: false,
                bytes: [0; SAMPLE_BYTES],
            }; SAMPLES],
            sample_count: 0,
            sample_next: 0,
            clients: [client; CLIENTS],
            client_count: 0,
            lead_client: 0,
            lead_votes: 0,
            voted: 0,
            edges: Edges {
                head: [0; EDGE],
                tail: [0; EDGE],
            },
            prev_len: 0,
            gated: 0,
            last_pow: 0,
            series: DomainSeries::default(),
        }
    }

    fn keep_sample(&mut self, left: &[u8]) {
        if left.is_empty() {
            return;
        }
        let slot = if usize::from(self.sample_count) < SAMPLES {
            self.sample_count += 1;
            usize::from(self.sample_count) - 1
        } else {
            let slot = usize::from(self.sample_next);
            self.sample_next = ((slot + 1) % SAMPLES) as u8;
            slot
        };
        let n = left.len().min(SAMPLE_BYTES);
        let sample = &mut self.samples[slot];
        sample.bytes[..n].copy_from_slice(&left[..n]);
        sample.len = n as u8;
        sample.cut = n < left.len();
    }

    /// Boyer-Moore majority vote: a client holding more than half of the new names ends as
    /// the lead, with at least its names minus everyone else's as votes.
    fn vote(&mut self, client_key: u64) {
        if self.voted >= VOTE_SPAN {
            self.voted /= 2;
            self.lead_votes /= 2;
        }
        self.voted += 1;
        if self.lead_votes == 0 {
            self.lead_client = client_key;
            self.lead_votes = 1;
        } else if self.lead_client == client_key {
            self.lead_votes += 1;
        } else {
            self.lead_votes -= 1;
        }
    }

    /// Bytes of `left`, a new name's left part, beyond the start and end it shares with the
    /// previous new one (ASCII case ignored; each compared over at most [`EDGE`] bytes), and
    /// keeps `left` as the previous one.
    fn novel_bytes(&mut self, left: &[u8]) -> usize {
        let n = left.len();
        let p = usize::from(self.prev_len);
        let reach = n.min(p).min(EDGE);
        let same = |a: u8, b: u8| a.eq_ignore_ascii_case(&b);
        let head = (0..reach)
            .take_while(|&k| same(left[k], self.edges.head[k]))
            .count();
        let tail = (1..=reach)
            .take_while(|&k| same(left[n - k], self.edges.tail[EDGE - k]))
            .count();
        let shared = (head + tail).min(n.min(p));
        let m = n.min(EDGE);
        self.edges.head[..m].copy_from_slice(&left[..m]);
        self.edges.tail[EDGE - m..].copy_from_slice(&left[n - m..]);
        self.prev_len = n.min(usize::from(u8::MAX)) as u8;
        n - shared
    }

    /// Lead votes per new name: 1 when one client sent every new name, near 0 when many
    /// clients sent a few each.
    fn lead_share(&self) -> f32 {
        if self.voted == 0 {
            0.0
        } else {
            self.lead_votes as f32 / self.voted as f32
        }
    }

    fn keep_client(&mut self, client: IpAddr) {
        let n = usize::from(self.client_count);
        if n < CLIENTS && !self.clients[..n].contains(&client) {
            self.clients[n] = client;
            self.client_count += 1;
        }
    }
}

/// Whether `left` (a left part's wire labels) reads as an ordinary name with a resolver's
/// search suffix appended: a `com`, `net` or `org` label with a label before it and at most
/// [`SEARCH_SUFFIX_LABELS`] after it (`www.example.com.corp` under `example.org`,
/// `api.github.com` under `ec2.internal`). A host whose search list leaks (a name with fewer
/// dots than `ndots` is tried under each suffix first) asks a stream of such names, new,
/// long and from one client, answered NXDOMAIN: the shape of a word-like tunnel. Three
/// top-level domains only, which hold about half of all registered domains: many others are
/// words (`data`, `shop`, `in`) that an attacker's zone (`<payload>.data.evil.example`) or a
/// word-list encoding would hit. No allocation; bounded by the name's labels.
fn search_expansion(left: &[u8]) -> bool {
    // The starts of the last SEARCH_SUFFIX_LABELS + 1 labels, in a ring. Bounded: `pos`
    // grows by at least 2 a label.
    const RING: usize = SEARCH_SUFFIX_LABELS + 1;
    let mut starts = [0usize; RING];
    let mut n = 0;
    let mut pos = 0;
    while let Some(&len) = left.get(pos) {
        if len == 0 {
            break;
        }
        starts[n % RING] = pos;
        n += 1;
        pos += 1 + usize::from(len);
    }
    // The k-th label from the right, with at least one label before it.
    (0..RING.min(n.saturating_sub(1))).any(|k| {
        let at = starts[(n - 1 - k) % RING];
        match left.get(at..at + 4) {
            Some(&[3, a, b, c]) => matches!(
                [a | 0x20, b | 0x20, c | 0x20],
                [b'c', b'o', b'm'] | [b'n', b'e', b't'] | [b'o', b'r', b'g']
            ),
            _ => false,
        }
    })
}

/// Switches between a letter and a digit, next to each other in one label, that make the
/// label an identifier (`a3f9c2d17e` has eight, `k3x9q2m7zt` seven, `9c46` two; `server-001`,
/// `clients4`, `mail-wr1-f54` and `r5---sn-4g5e6` have one, one, two and five).
pub const IDENTIFIER_SWITCHES: u32 = 3;

/// Whether a label of `left` (wire labels) switches between letters and digits at least
/// [`IDENTIFIER_SWITCHES`] times: a beacon's id or a hash, not a word or a numbered host.
/// One pass over at most 255 bytes.
fn has_identifier(left: &[u8]) -> bool {
    let mut pos = 0;
    while let Some(&len) = left.get(pos) {
        let label = left
            .get(pos + 1..pos + 1 + usize::from(len))
            .unwrap_or_default();
        let switches = label
            .windows(2)
            .filter(|w| {
                (w[0].is_ascii_alphabetic() && w[1].is_ascii_digit())
                    || (w[0].is_ascii_digit() && w[1].is_ascii_alphabetic())
            })
            .count();
        if switches >= IDENTIFIER_SWITCHES as usize {
            return true;
        }
        if len == 0 {
            break;
        }
        pos += 1 + usize::from(len);
    }
    false
}

/// Answers to a domain's queries since its last query, kept in its slot: an answer then
/// reads and writes one cache line (the slot's, which its lookup reads anyway) rather than
/// the entry's, and the next query, which reads the entry anyway, counts them in the windows
/// (as does a report), in the window of the last query: the one the answers' queries (and,
/// but for a round trip, the answers) came in.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Pending {
    answers: u8,
    nx: u8,
    /// The largest response, its size capped at 65,535 (a DNS message's largest).
    resp_max: u16,
    resp_sum: u32,
}

impl Pending {
    /// Whether one more answer could overflow a count: the entry must take them first.
    fn full(&self) -> bool {
        self.answers == u8::MAX
    }

    fn add(&mut self, nxdomain: bool, size: usize) {
        let size = u16::try_from(size).unwrap_or(u16::MAX);
        self.answers += 1;
        self.nx += u8::from(nxdomain);
        self.resp_max = self.resp_max.max(size);
        self.resp_sum += u32::from(size);
    }
}

#[derive(Debug, Default)]
struct Slot {
    /// Keyed hash of the lowercased name with the low bit set; 0 for a never-used slot.
    tag: u64,
    /// The entry's last query, here so that choosing whom to evict reads no entry.
    seen_ms: u64,
    entry: Option<Box<Entry>>,
    pending: Pending,
}

#[derive(Debug)]
struct Shard {
    slots: Vec<Slot>,
    len: usize,
}

enum Found {
    At(usize),
    /// Not present: insert at this slot (empty, or the least recently seen of the probed).
    Vacant(usize),
}

impl Shard {
    /// Finds the domain of `tag` among the probed slots. Slots are never emptied (eviction
    /// overwrites in place), so an empty slot ends the probe.
    ///
    /// The tag alone decides: it is 63 bits of a keyed hash whose key is drawn at random per
    /// process, so names that collide cannot be chosen, and two of 50,000 tracked domains
    /// share a tag by chance once in about 10^10 fills of the table. Comparing the stored
    /// name as well would read one more cache line per query, a separate allocation usually
    /// cold in cache: on cache misses that comparison was a fifth of the detector's time.
    /// Where a name is reported ([`Shard::get`]) it is checked.
    fn find(&self, tag: u64) -> Found {
        let n = self.slots.len();
        let home = (tag >> 1) as usize % n;
        let mut oldest: Option<(usize, u64)> = None;
        for i in 0..PROBES.min(n) {
            // `(home + i) % n` without a division per probe (both terms are below n).
            let at = if home + i >= n {
                home + i - n
            } else {
                home + i
            };
            let slot = &self.slots[at];
            if slot.entry.is_none() {
                return Found::Vacant(at);
            }
            if slot.tag == tag {
                return Found::At(at);
            }
            if oldest.is_none_or(|(_, seen)| slot.seen_ms < seen) {
                oldest = Some((at, slot.seen_ms));
            }
        }
        Found::Vacant(oldest.map_or(home, |(at, _)| at))
    }

    /// The entry of `name`, its name checked: what is reported names the domain it counts.
    fn get(&self, tag: u64, name: &[u8]) -> Option<&Entry> {
        match self.find(tag) {
            Found::At(at) => self.slots[at]
                .entry
                .as_deref()
                .filter(|e| same_name(&e.name, name)),
            Found::Vacant(_) => None,
        }
    }
}

/// Whether two wire names are the same ignoring ASCII case. Clients nearly always repeat a
/// domain's case, so the byte-exact comparison (a `memcmp`) decides most checks; the
/// case-insensitive one, a byte at a time, only runs when the bytes differ.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// Per-registered-domain windowed state, shared by every worker thread.
pub struct DomainTable {
    config: DomainConfig,
    key: [u64; 2],
    shards: Box<[Mutex<Shard>]>,
    /// What every domain's anomaly series share (the population's baselines).
    baselines: DomainBaselines,
}

impl fmt::Debug for DomainTable {
    // The hash key stays out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DomainTable")
            .field("config.capacity", &self.config.capacity)
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The bytes of `bytes` after its last whole 8-byte word, little-endian (the tail a
/// word-at-a-time hash ends with), in a few overlapping loads rather than a loop a byte: the
/// last 8 bytes shifted when there are that many, else two overlapping 4-, 2- or 1-byte loads
/// (the bytes they share are the same, so or-ing them is exact).
pub(crate) fn tail_word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let rest = n % 8;
    if rest == 0 {
        return 0;
    }
    // Fixed-width loads (no length-dependent copy); `n` bounds every slice.
    let le8 = |at: usize| {
        bytes
            .get(at..at + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    };
    let le4 = |at: usize| {
        bytes.get(at..at + 4).map_or(0, |b| {
            u64::from(u32::from_le_bytes(b.try_into().unwrap_or_default()))
        })
    };
    let le2 = |at: usize| {
        bytes.get(at..at + 2).map_or(0, |b| {
            u64::from(u16::from_le_bytes(b.try_into().unwrap_or_default()))
        })
    };
    match n {
        8.. => le8(n - 8) >> (8 * (8 - rest)),
        4.. => le4(0) | le4(n - 4) << (8 * (n - 4)),
        2.. => le2(0) | le2(n - 2) << (8 * (n - 2)),
        _ => u64::from(bytes[0]),
    }
}

/// SipHash-1-3 (the reference algorithm, as `siphasher::sip::SipHasher13` computes it) of
/// `bytes` lowercased, eight bytes at a time: no copy into a lowercased buffer (which cost a
/// 255-byte clear and a byte loop per hash, twice per query).
fn sip13_lowercase(k0: u64, k1: u64, bytes: &[u8]) -> u64 {
    let (mut v0, mut v1, mut v2, mut v3) = (
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    );
    macro_rules! round {
        () => {
            v0 = v0.wrapping_add(v1);
            v1 = v1.rotate_left(13) ^ v0;
            v0 = v0.rotate_left(32);
            v2 = v2.wrapping_add(v3);
            v3 = v3.rotate_left(16) ^ v2;
            v0 = v0.wrapping_add(v3);
            v3 = v3.rotate_left(21) ^ v0;
            v2 = v2.wrapping_add(v1);
            v1 = v1.rotate_left(17) ^ v2;
            v2 = v2.rotate_left(32);
        };
    }
    for word in bytes.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let m = lowercase8(u64::from_le_bytes(w));
        v3 ^= m;
        round!();
        v0 ^= m;
    }
    let last = lowercase8(tail_word(bytes)) | (bytes.len() as u64) << 56;
    v3 ^= last;
    round!();
    v0 ^= last;
    v2 ^= 0xff;
    round!();
    round!();
    round!();
    v0 ^ v1 ^ v2 ^ v3
}

impl DomainTable {
    /// An empty table; slots for `config.capacity` domains are reserved up front (16 bytes
    /// each), the per-domain state only as domains arrive.
    pub fn new(config: DomainConfig) -> DomainTable {
        let mut config = config;
        config.capacity = config.capacity.max(1);
        config.short_window_ms = config.short_window_ms.max(1);
        config.long_window_ms = config.long_window_ms.max(1);
        config.eval_every = config.eval_every.max(1);
        let key = config.hash_key.unwrap_or_else(|| {
            let state = RandomState::new();
            [state.hash_one(0x5eed_u64), state.hash_one(0xfeed_u64)]
        });
        // Built here, once per process, so that no query pays for (or allocates) them.
        linear_counts();
        let shards = MAX_SHARDS.min(config.capacity.next_power_of_two());
        let per_shard = config.capacity.div_ceil(shards);
        let shards = (0..shards)
            .map(|_| {
                Mutex::new(Shard {
                    slots: (0..per_shard).map(|_| Slot::default()).collect(),
                    len: 0,
                })
            })
            .collect();
        DomainTable {
            baselines: DomainBaselines::new(config.anomaly.clone()),
            config,
            key,
            shards,
        }
    }

    /// The configuration in force (after clamping zero values).
    pub fn config(&self) -> &DomainConfig {
        &self.config
    }

    /// Keyed hash of `bytes`, ignoring ASCII case.
    fn hash(&self, salt: u64, bytes: &[u8]) -> u64 {
        sip13_lowercase(self.key[0] ^ salt, self.key[1], bytes)
    }

    /// A cheap keyed mix of a client (an IPv4 address, an IPv6 /64: a host may take any
    /// address of its /64), for the distinct-clients bitmap and the lead-client vote.
    fn client_hash(&self, client: IpAddr) -> u64 {
        let b = client_bytes(client);
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        lo.copy_from_slice(&b[..8]);
        hi.copy_from_slice(&b[8..]);
        let mut x = u64::from_le_bytes(lo) ^ self.key[0];
        x = (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd) ^ u64::from_le_bytes(hi);
        x = (x ^ (x >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53) ^ self.key[1];
        x ^ (x >> 33)
    }

    /// `domain`'s key in this table (keyed: names chosen to collide cannot be made without
    /// the table's key).
    pub fn key(&self, domain: NameRef<'_>) -> DomainKey {
        DomainKey(self.hash(0, domain.as_wire()))
    }

    /// The key of the root's entry for `client` (an IPv4 address, an IPv6 /64): where the
    /// detector counts one client's names under top-level labels that cannot exist
    /// ([`crate::psl::impossible_tld`]), so that each host sending them is its own stream,
    /// as a tunnel's names under a real domain are.
    pub fn client_root_key(&self, client: IpAddr) -> DomainKey {
        DomainKey(self.hash(0, &[0]) ^ self.client_hash(client))
    }

    /// Shard and tag of a registered domain.
    fn locate(&self, domain: NameRef<'_>) -> (&Mutex<Shard>, u64) {
        self.locate_key(self.key(domain))
    }

    /// Shard and tag of a registered domain's key.
    fn locate_key(&self, key: DomainKey) -> (&Mutex<Shard>, u64) {
        let h = key.0;
        // The shard count is a power of two.
        let shard = (h >> 58) as usize & (self.shards.len() - 1);
        (&self.shards[shard], h | 1)
    }

    /// Counts one query to `q.domain` and tells whether the domain model should run now.
    /// Bounded work; allocates only when the domain is new to the table.
    pub fn observe_query(&self, q: &QueryObservation<'_>, now_ms: u64) -> Observed {
        let config = &self.config;
        let (shard, tag) = self.locate_key(q.key);
        let left_hash = self.hash(0x1ef7, q.left);
        // The two keyed hashes, combined unevenly: `a.b` under `c.d` and `c.d` under `a.b`
        // differ.
        let name_hash = left_hash.rotate_left(29) ^ q.key.0;
        let weight = q.weight.clamp(0.0, 1.0);
        // An allow-listed zone's distinct names are sampled at its weight, so its distinct
        // count and bytes out are lowered in the same proportion as its queries.
        let sampled = ((left_hash >> 32) as f32) < weight * 4_294_967_296.0;
        let Ok(mut shard) = shard.lock() else {
            return Observed {
                new_domain: false,
                name_hash,
                features: None,
                anomaly: None,
            };
        };
        let (at, new_domain) = match shard.find(tag) {
            Found::At(at) => (at, false),
            Found::Vacant(at) => {
                let mut entry = Entry::new(q.domain.as_wire(), q.client, now_ms, config);
                self.baselines.roll(&mut entry.series, None, SHORT_WORDS);
                let slot = &mut shard.slots[at];
                let was_empty = slot.entry.is_none();
                slot.tag = tag;
                slot.seen_ms = now_ms;
                slot.pending = Pending::default();
                match &mut slot.entry {
                    Some(old) => **old = entry,
                    None => slot.entry = Some(Box::new(entry)),
                }
                if was_empty {
                    shard.len += 1;
                }
                (at, true)
            }
        };
        let slot = &mut shard.slots[at];
        slot.seen_ms = slot.seen_ms.max(now_ms);
        let pending = std::mem::take(&mut slot.pending);
        let Some(e) = slot.entry.as_deref_mut() else {
            return Observed {
                new_domain,
                name_hash,
                features: None,
                anomaly: None,
            };
        };
        let client_key = self.client_hash(q.client);
        if pending.answers > 0 {
            self.take_answers(e, pending, e.last_seen_ms);
        }
        let gap_ms = now_ms.saturating_sub(e.last_seen_ms);
        e.last_seen_ms = e.last_seen_ms.max(now_ms);
        // A resolver's search list leaking is not payload: such names count towards none of
        // the data floor's clauses (none of their bytes are novel, none holds an identifier,
        // and they are not counted suspicious: a suffix makes an ordinary name score higher).
        let expansion = search_expansion(q.left);
        let one = OneQuery {
            left_hash: (sampled && !q.left.is_empty()).then_some(left_hash),
            left_len: q.left.len() as f32,
            weight,
            tunnel: tunnel_friendly(q.qtype),
            client_bit: 1u64 << (client_key % 64),
            score: q.score,
            suspicious: q.suspicious && !expansion,
            gap_s: if !new_domain && gap_ms >= MIN_GAP_MS {
                gap_ms as f32 / 1000.0
            } else {
                0.0
            },
        };
        self.roll_short(e, now_ms);
        e.short.on_query(&one, now_ms, config.short_window_ms);
        let anomaly = if e.series.quiet() {
            None
        } else {
            self.baselines
                .check(&mut e.series, &e.short.series_counts())
        };
        if e.long.on_query(&one, now_ms, config.long_window_ms) {
            e.vote(client_key);
            if !expansion {
                e.long.cur.novel += e.novel_bytes(q.left) as f32;
                if has_identifier(q.left) {
                    e.long.cur.identifiers += 1.0;
                }
            }
        }
        if new_domain || q.suspicious {
            e.keep_sample(q.left);
        }
        e.keep_client(q.client);

        // The gates read three sliding figures; the full reports only when the model runs.
        let short_distinct = e.short.distinct(now_ms, config.short_window_ms);
        let gated = short_distinct >= config.gate_short_distinct
            || e.long.distinct(now_ms, config.long_window_ms) >= config.gate_long_distinct
            || e.long.suspicious(now_ms, config.long_window_ms) >= config.gate_suspicious
            || e.long.gaps(now_ms, config.long_window_ms) >= config.gate_gaps;
        if !gated {
            return Observed {
                new_domain,
                name_hash,
                features: None,
                anomaly,
            };
        }
        // floor(log2) of a float ≥ 1 is its exponent: no logarithm.
        let pow = ((short_distinct.max(1.0).to_bits() >> 23) as u8)
            .wrapping_sub(127)
            .min(31);
        // A query asking for orders is always a turn: the orders rule can only fire on one,
        // and a beacon polling on a timer would otherwise be judged every `eval_every`-th
        // poll.
        let turn = e.gated % config.eval_every == 0
            || pow > e.last_pow
            || asks_for_orders(q.qtype, q.left);
        e.gated = e.gated.wrapping_add(1);
        if !turn {
            return Observed {
                new_domain,
                name_hash,
                features: None,
                anomaly,
            };
        }
        e.last_pow = e.last_pow.max(pow);
        let short = e.short.report(now_ms, config.short_window_ms);
        let long = e.long.report(now_ms, config.long_window_ms);
        Observed {
            new_domain,
            name_hash,
            features: Some(features(&short, &long, e.lead_share())),
            anomaly,
        }
    }

    /// Counts answers kept in a slot in `e`'s windows, in those of the domain's last query
    /// (`at_ms`, its time): an answer counts with its query, even when the next query comes
    /// in a later window.
    fn take_answers(&self, e: &mut Entry, pending: Pending, at_ms: u64) {
        self.roll_short(e, at_ms);
        e.short
            .on_answers(pending, at_ms, self.config.short_window_ms);
        e.long
            .on_answers(pending, at_ms, self.config.long_window_ms);
    }

    /// Moves `e`'s short window to `now_ms`. A window that closes is learned first by the
    /// domain's anomaly series, which then set the limits of the one that opens.
    fn roll_short(&self, e: &mut Entry, now_ms: u64) {
        let len = self.config.short_window_ms;
        if now_ms < e.short.start_ms.saturating_add(len) {
            return;
        }
        let closed = e.short.series_counts();
        e.short.roll(now_ms, len);
        self.baselines
            .roll(&mut e.series, Some(&closed), SHORT_WORDS);
    }

    /// Counts the resolver's answer to a query of the domain of `key`, in its slot until the
    /// domain's next query, then in the windows of the query before it (see `Pending`; the
    /// NXDOMAIN ratio's anomaly series is checked then). Unknown domains are ignored.
    pub fn observe_answer(&self, key: DomainKey, nxdomain: bool, response_len: usize) {
        let (shard, tag) = self.locate_key(key);
        let Ok(mut shard) = shard.lock() else {
            return;
        };
        let Found::At(at) = shard.find(tag) else {
            return;
        };
        let slot = &mut shard.slots[at];
        if slot.pending.full() {
            let pending = std::mem::take(&mut slot.pending);
            if let Some(e) = slot.entry.as_deref_mut() {
                self.take_answers(e, pending, e.last_seen_ms);
            }
        }
        slot.pending.add(nxdomain, response_len);
    }

    /// A copy of `domain`'s state, its windows estimated as of its last query.
    pub fn snapshot(&self, domain: NameRef<'_>) -> Option<DomainReport> {
        let (shard, tag) = self.locate(domain);
        let mut shard = shard.lock().ok()?;
        shard.get(tag, domain.as_wire())?;
        let Found::At(at) = shard.find(tag) else {
            return None;
        };
        let slot = &mut shard.slots[at];
        let pending = std::mem::take(&mut slot.pending);
        let e = slot.entry.as_deref_mut()?;
        if pending.answers > 0 {
            self.take_answers(e, pending, e.last_seen_ms);
        }
        let at = e.last_seen_ms;
        Some(DomainReport {
            domain: Name::from_wire(&e.name).ok()?,
            first_seen_ms: e.first_seen_ms,
            last_seen_ms: e.last_seen_ms,
            short: e.short.report(at, self.config.short_window_ms),
            long: e.long.report(at, self.config.long_window_ms),
            samples: e.samples[..usize::from(e.sample_count)]
                .iter()
                .map(sample_text)
                .collect(),
            clients: e.clients[..usize::from(e.client_count)].to_vec(),
        })
    }

    /// Appends what `domain`'s state (under `key`: [`DomainTable::key`], or
    /// [`DomainTable::client_root_key`] for the root) shows to an alert's explanation: its
    /// samples, when it was first and last seen, its clients. The text
    /// [`DomainTable::snapshot`]'s report gives, written straight from the entry, without the
    /// report's allocations.
    pub(crate) fn write_state(
        &self,
        domain: NameRef<'_>,
        key: DomainKey,
        now_ms: u64,
        text: &mut String,
    ) {
        let (shard, tag) = self.locate_key(key);
        let Ok(shard) = shard.lock() else {
            return;
        };
        let Some(e) = shard.get(tag, domain.as_wire()) else {
            return;
        };
        let samples = &e.samples[..usize::from(e.sample_count)];
        for (k, sample) in samples.iter().enumerate() {
            text.push_str(if k == 0 { "; samples " } else { ", " });
            write_sample(sample, text);
        }
        let _ = write!(
            text,
            "; first seen {} s ago, last {} s ago",
            now_ms.saturating_sub(e.first_seen_ms) / 1000,
            now_ms.saturating_sub(e.last_seen_ms) / 1000
        );
        let clients = &e.clients[..usize::from(e.client_count)];
        for (k, client) in clients.iter().enumerate() {
            text.push_str(if k == 0 { "; clients " } else { ", " });
            let _ = write!(text, "{client}");
        }
    }

    /// Domains tracked.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |s| s.len))
            .sum()
    }

    /// Whether no domain is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated heap and inline bytes: slots, entries and stored names.
    pub fn memory_bytes(&self) -> usize {
        let mut total = size_of::<DomainTable>() + self.shards.len() * size_of::<Mutex<Shard>>();
        for shard in &self.shards {
            let Ok(shard) = shard.lock() else { continue };
            total += shard.slots.len() * size_of::<Slot>();
            for slot in &shard.slots {
                if let Some(e) = &slot.entry {
                    total += size_of::<Entry>() + e.name.len();
                }
            }
        }
        total
    }
}

/// A client's address as 16 bytes, an IPv6 address cut to its /64.
fn client_bytes(client: IpAddr) -> [u8; 16] {
    match client {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => {
            let mut b = a.octets();
            b[8..].fill(0);
            b
        }
    }
}

/// A kept left part in presentation form; a label cut short ends in `…`.
fn sample_text(s: &Sample) -> String {
    let mut out = String::new();
    write_sample(s, &mut out);
    out
}

/// [`sample_text`], appended to `out` (an alert's explanation, without a `String` a sample).
fn write_sample(s: &Sample, out: &mut String) {
    let start = out.len();
    let mut rest = &s.bytes[..usize::from(s.len)];
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        let take = len.min(tail.len());
        if out.len() > start {
            out.push('.');
        }
        let _ = wire::name::write_label_text(&tail[..take], out);
        rest = &tail[take..];
        if take < len {
            break;
        }
    }
    if s.cut {
        out.push('…');
    }
}

/// `ln(1 + x)` for a count or a size (x ≥ 0): `ln` of `1 + x` rather than `ln_1p`, whose
/// extra precision for tiny x (an absolute error under 1e-7 here) costs more than twice as much
/// and ten are taken per evaluation.
fn ln1p(x: f32) -> f32 {
    (1.0 + x.max(0.0)).ln()
}

/// Index of `long_suspicious_log` in the feature vector.
const LONG_SUSPICIOUS: usize = 15;
/// Index of `long_bytes_per_query_log` in the feature vector.
const LONG_BYTES_PER_QUERY: usize = 16;
/// Bytes of left part a query must average, when none of the domain's queries looked
/// encoded on its own, before its stream of new names is taken for a data channel.
pub const DATA_FLOOR_BYTES: f32 = 10.0;

/// Index of `long_novel_bytes_per_query_log` in the feature vector.
const LONG_NOVEL_PER_QUERY: usize = 21;
/// Bytes a query must add on average beyond what its name shares with the domain's previous
/// new name, when none of the domain's queries looked encoded on its own.
pub const NOVEL_FLOOR_BYTES: f32 = 4.0;

/// Suspicious queries (weighted, long window) that make a domain's names count as carrying
/// data on their own: one could be the query model's false positive (0.3% of ordinary names,
/// and a busy domain has hundreds), two rarely are.
pub const SUSPICIOUS_FLOOR: f32 = 2.0;

/// Index of `long_identifier_share` in the feature vector.
const LONG_IDENTIFIER_SHARE: usize = 22;
/// Share of a domain's new names in the long window that hold an identifier (a label
/// switching between letters and digits at least [`IDENTIFIER_SWITCHES`] times) for its names to count as carrying one: a beacon polling
/// `a3f9c2d17e.evil.example` on a timer sends no payload, but its id is what the channel is
/// for; a name a person picks rarely holds one.
pub const IDENTIFIER_FLOOR: f32 = 0.5;

/// Whether a domain's names carry data: two of its queries in the long window scored as
/// suspicious ([`SUSPICIOUS_FLOOR`]), or half of its new names hold an identifier
/// ([`IDENTIFIER_FLOOR`]), or its left parts average at least [`DATA_FLOOR_BYTES`] of which
/// at least [`NOVEL_FLOOR_BYTES`] are new against the name before. A tunnel alert needs this as well
/// as the domain model's score: a client walking a site's hosts (`login`, `docs`, `video`),
/// a script checking a list of a site's services, or a sweep of numbered hosts
/// (`server-001`, `server-002` ...) make a stream of new names too, of short ordinary labels
/// or of one pattern (tools/detect/probes.py). Every tunnel family of the data passes it
/// (docs/DETECTION.md).
pub fn carries_data(vector: &[f32; DOMAIN_FEATURES]) -> bool {
    vector[LONG_SUSPICIOUS] >= ln1p(SUSPICIOUS_FLOOR)
        || vector[LONG_IDENTIFIER_SHARE] >= IDENTIFIER_FLOOR
        || (vector[LONG_BYTES_PER_QUERY] >= ln1p(DATA_FLOOR_BYTES)
            && vector[LONG_NOVEL_PER_QUERY] >= ln1p(NOVEL_FLOOR_BYTES))
}

/// Index of `lead_client_share` in the feature vector.
const LEAD_CLIENT_SHARE: usize = 20;
/// Lead votes per new name a domain needs before its stream of new names is taken for one
/// host's data channel: below it, many clients each ask a few of its names.
const LEAD_SHARE_FLOOR: f32 = 0.25;

/// Whether one client sends most of a domain's new names (see `Entry::vote`). A tunnel
/// alert needs this as well: a platform's customer subdomains (`acme.platform.example`,
/// ...) asked by many clients make a stream of new names too, a few from each client.
pub fn from_one_client(vector: &[f32; DOMAIN_FEATURES]) -> bool {
    vector[LEAD_CLIENT_SHARE] >= LEAD_SHARE_FLOOR
}

/// Index of `long_gaps_log` in the feature vector.
const LONG_GAPS: usize = 18;
/// Index of `long_gap_cv` in the feature vector.
const LONG_GAP_CV: usize = 19;
/// Pauses in the long window a beacon must have shown: as many as open the pause gate.
pub const BEACON_PAUSES: f32 = 12.0;
/// Deviation ÷ mean of those pauses at or below which they are a timer's. Benign domains of
/// the training data sit at 0.65-1.28 (5th to 95th percentile); a jitter of ±50% around a
/// fixed interval gives about 0.29.
pub const BEACON_GAP_CV: f32 = 0.3;

/// Whether a domain is polled like a beacon, whatever the domain model says: one client
/// ([`from_one_client`]) asking names that hold an identifier ([`IDENTIFIER_FLOOR`]) at
/// pauses as regular as a timer's ([`BEACON_GAP_CV`], over at least [`BEACON_PAUSES`]). A
/// rule rather than a learned weight: a model that never saw a beacon family learns too
/// little about timing from the rest to catch one (docs/DETECTION.md).
pub fn polled_like_a_beacon(vector: &[f32; DOMAIN_FEATURES]) -> bool {
    from_one_client(vector)
        && vector[LONG_IDENTIFIER_SHARE] >= IDENTIFIER_FLOOR
        && vector[LONG_GAPS] >= ln1p(BEACON_PAUSES)
        && vector[LONG_GAP_CV] <= BEACON_GAP_CV
}

/// Index of `long_distinct_log` in the feature vector.
const LONG_DISTINCT: usize = 4;
/// Index of `tunnel_type_share` in the feature vector.
const TUNNEL_TYPE_SHARE: usize = 6;
/// Share of the short window's queries of tunnel-friendly types for a timer of them to be
/// polled for orders.
pub const ORDERS_TYPE_SHARE: f32 = 0.8;

/// Whether a query asks a type whose answer is free-form data (TXT, NULL, the private-use
/// range) for a name with no service label (`_acme-challenge`, `_grpc_config`, `_sip._tcp`:
/// records that software re-reads on a schedule for its own configuration). What an implant
/// polling for its orders asks.
pub fn asks_for_orders(qtype: RType, left: &[u8]) -> bool {
    let data_type = matches!(qtype, RType::TXT | RType::NULL) || (65280..=65534).contains(&qtype.0);
    data_type && !has_service_label(left)
}

/// Whether a wire-format left part has a label starting with `_`. Bounded by its length.
fn has_service_label(left: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&len) = left.get(at) {
        if len == 0 {
            break;
        }
        if left.get(at + 1) == Some(&b'_') {
            return true;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// Whether a domain is polled for orders like a beacon, whatever the names: one client
/// ([`from_one_client`]) asking on a timer ([`BEACON_GAP_CV`], over at least
/// [`BEACON_PAUSES`] pauses) mostly tunnel-friendly types ([`ORDERS_TYPE_SHARE`] of the short
/// window), and this query asks for orders ([`asks_for_orders`]). An implant whose id has no
/// identifier's shape (`9c46`, `orders`) is caught by what it asks for: free-form answers,
/// on a timer, never cached.
pub fn polled_for_orders(vector: &[f32; DOMAIN_FEATURES], asks_orders: bool) -> bool {
    asks_orders
        && from_one_client(vector)
        && vector[TUNNEL_TYPE_SHARE] >= ORDERS_TYPE_SHARE
        && vector[LONG_GAPS] >= ln1p(BEACON_PAUSES)
        && vector[LONG_GAP_CV] <= BEACON_GAP_CV
}
/// Index of `mean_response_log` in the feature vector.
const MEAN_RESPONSE: usize = 11;
/// Index of `long_distinct_per_query` in the feature vector.
const LONG_DISTINCT_PER_QUERY: usize = 17;
/// Distinct names in the long window before a stream of large answers is a download.
pub const DOWNLOAD_NAMES: f32 = 20.0;
/// Share of the short window's queries of tunnel-friendly types (TXT, NULL, ...).
pub const DOWNLOAD_TYPE_SHARE: f32 = 0.8;
/// Mean response size in bytes (short window): a TXT answer of 150 bytes of payload.
pub const DOWNLOAD_RESPONSE_BYTES: f32 = 200.0;
/// Share of the long window's queries that asked a new name: a download fetches each
/// chunk once.
pub const DOWNLOAD_NEW_SHARE: f32 = 0.8;

/// Whether a domain's answers are being pulled like a download, whatever the domain model
/// says: one client ([`from_one_client`]) asking a stream of new names
/// ([`DOWNLOAD_NAMES`], nearly every query a new one) of tunnel-friendly types whose answers
/// are large ([`DOWNLOAD_RESPONSE_BYTES`] on average). The names of a download carry only a
/// counter, so the data floor and the model, which weigh what goes out, miss it; what comes
/// back is the data.
pub fn pulled_like_a_download(vector: &[f32; DOMAIN_FEATURES]) -> bool {
    from_one_client(vector)
        && vector[LONG_DISTINCT] >= ln1p(DOWNLOAD_NAMES)
        && vector[LONG_DISTINCT_PER_QUERY] >= DOWNLOAD_NEW_SHARE
        && vector[TUNNEL_TYPE_SHARE] >= DOWNLOAD_TYPE_SHARE
        && vector[MEAN_RESPONSE] >= ln1p(DOWNLOAD_RESPONSE_BYTES)
}

/// A rule that flags a domain whatever the domain model says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainRule {
    /// [`polled_like_a_beacon`].
    Beacon,
    /// [`polled_for_orders`].
    Orders,
    /// [`pulled_like_a_download`].
    Download,
}

impl DomainRule {
    /// The first rule `vector` meets; `asks_orders` says whether the query it was made at
    /// asks for orders ([`asks_for_orders`]).
    pub fn matching(vector: &[f32; DOMAIN_FEATURES], asks_orders: bool) -> Option<DomainRule> {
        if polled_like_a_beacon(vector) {
            Some(DomainRule::Beacon)
        } else if polled_for_orders(vector, asks_orders) {
            Some(DomainRule::Orders)
        } else if pulled_like_a_download(vector) {
            Some(DomainRule::Download)
        } else {
            None
        }
    }

    /// The alert's reason.
    pub fn reason(self) -> &'static str {
        match self {
            DomainRule::Beacon | DomainRule::Orders => "beacon",
            DomainRule::Download => "download",
        }
    }
}

/// The feature vector, in [`DOMAIN_FEATURE_NAMES`] order.
#[inline(always)]
fn features(short: &WindowReport, long: &WindowReport, lead_share: f32) -> [f32; DOMAIN_FEATURES] {
    let share = |n: f32, d: f32| if d > 0.0 { (n / d).min(1.0) } else { 0.0 };
    [
        ln1p(short.queries),
        ln1p(short.distinct),
        ln1p(short.bytes_out),
        ln1p(long.queries),
        ln1p(long.distinct),
        ln1p(long.bytes_out),
        short.tunnel_type_share,
        short.nxdomain_ratio,
        short.mean_score,
        short.max_score,
        share(short.suspicious, short.queries),
        ln1p(short.mean_response),
        ln1p(short.max_response),
        ln1p(long.distinct_clients),
        share(short.distinct, short.queries),
        ln1p(long.suspicious),
        ln1p(if long.queries > 0.0 {
            long.bytes_out / long.queries
        } else {
            0.0
        }),
        share(long.distinct, long.queries),
        ln1p(long.gaps),
        long.gap_cv.min(4.0),
        lead_share,
        ln1p(if long.queries > 0.0 {
            long.novel_bytes / long.queries
        } else {
            0.0
        }),
        share(long.identifiers, long.distinct),
    ]
}

// ---------------------------------------------------------------------------------------------
// The domain model
// ---------------------------------------------------------------------------------------------

/// Why a domain model could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainModelError {
    /// The text is not the model file's JSON.
    Json(String),
    /// The file's version is not one this code reads.
    Version(u32),
    /// The feature names differ from [`DOMAIN_FEATURE_NAMES`] (trained for other code).
    Features,
    /// An array has the wrong length.
    Length(&'static str),
    /// A value is not finite, or a scale is not positive.
    Value(&'static str),
}

impl fmt::Display for DomainModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainModelError::Json(e) => write!(f, "domain model: {e}"),
            DomainModelError::Version(v) => write!(f, "domain model: unknown version {v}"),
            DomainModelError::Features => {
                f.write_str("domain model: feature names differ from this build's")
            }
            DomainModelError::Length(what) => write!(f, "domain model: wrong length of {what}"),
            DomainModelError::Value(what) => write!(f, "domain model: bad value in {what}"),
        }
    }
}

impl std::error::Error for DomainModelError {}

#[derive(Deserialize)]
struct ModelFile {
    #[serde(default)]
    version: Option<u32>,
    domain: DomainJson,
}

#[derive(Deserialize)]
struct DomainJson {
    features: Vec<String>,
    mean: Vec<f32>,
    scale: Vec<f32>,
    weights: Vec<f32>,
    #[serde(default)]
    normal: Option<Vec<[f32; 2]>>,
    bias: f32,
    threshold: f32,
}

/// Standardised logistic regression over the domain features.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainModel {
    mean: [f32; DOMAIN_FEATURES],
    scale: [f32; DOMAIN_FEATURES],
    weights: [f32; DOMAIN_FEATURES],
    bias: f32,
    threshold: f32,
    /// Per feature, the 5th and 95th percentiles of the benign training domains at the points
    /// the model looked at them: the normal range an explanation quotes.
    normal: Option<[[f32; 2]; DOMAIN_FEATURES]>,
    /// Features a score's top three (what an explanation quotes) may name: all but the counts
    /// with a negative weight. Those weights mostly offset correlated counts (distinct names
    /// against queries), and "3 distinct subdomains in 1 h" is the absence of a sign, not a
    /// reason an operator can act on; they still count in the score.
    quotable: [bool; DOMAIN_FEATURES],
}

/// One feature's part in a score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    /// Index into [`DOMAIN_FEATURE_NAMES`].
    pub feature: usize,
    /// The feature's value (log scale for the `_log` features).
    pub value: f32,
    /// `weight × (value − mean) / scale`: how far it pushed the logit.
    pub contribution: f32,
}

/// A domain model's verdict on one feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DomainScore {
    /// Probability-like score, 0..1.
    pub score: f32,
    /// The three features that pushed the score up most, largest first, among those an
    /// explanation may quote (see `DomainModel::quotable`).
    pub top: [Contribution; 3],
}

fn array(v: Vec<f32>, what: &'static str) -> Result<[f32; DOMAIN_FEATURES], DomainModelError> {
    let a: [f32; DOMAIN_FEATURES] = v.try_into().map_err(|_| DomainModelError::Length(what))?;
    if a.iter().all(|x| x.is_finite()) {
        Ok(a)
    } else {
        Err(DomainModelError::Value(what))
    }
}

impl DomainModel {
    /// A model from its parts (the trainer's output, or a test's).
    pub fn new(
        mean: [f32; DOMAIN_FEATURES],
        scale: [f32; DOMAIN_FEATURES],
        weights: [f32; DOMAIN_FEATURES],
        bias: f32,
        threshold: f32,
    ) -> Result<DomainModel, DomainModelError> {
        let finite = |a: &[f32]| a.iter().all(|x| x.is_finite());
        if !finite(&mean) || !finite(&weights) {
            return Err(DomainModelError::Value("mean or weights"));
        }
        if !scale.iter().all(|s| s.is_finite() && *s > 0.0) {
            return Err(DomainModelError::Value("scale"));
        }
        if !bias.is_finite() || !(0.0..=1.0).contains(&threshold) {
            return Err(DomainModelError::Value("bias or threshold"));
        }
        let quotable = std::array::from_fn(|i| {
            weights[i] >= 0.0 || !DOMAIN_FEATURE_NAMES[i].ends_with("_log")
        });
        Ok(DomainModel {
            mean,
            scale,
            weights,
            bias,
            threshold,
            normal: None,
            quotable,
        })
    }

    /// Reads the `"domain"` part of the shared model file; other keys are ignored.
    pub fn from_json(text: &str) -> Result<DomainModel, DomainModelError> {
        let file: ModelFile =
            serde_json::from_str(text).map_err(|e| DomainModelError::Json(e.to_string()))?;
        if let Some(v) = file.version.filter(|&v| v != 1) {
            return Err(DomainModelError::Version(v));
        }
        let d = file.domain;
        if d.features.len() != DOMAIN_FEATURES
            || d.features
                .iter()
                .zip(DOMAIN_FEATURE_NAMES)
                .any(|(a, b)| a != b)
        {
            return Err(DomainModelError::Features);
        }
        let mut model = DomainModel::new(
            array(d.mean, "mean")?,
            array(d.scale, "scale")?,
            array(d.weights, "weights")?,
            d.bias,
            d.threshold,
        )?;
        if let Some(ranges) = d.normal {
            let ranges: [[f32; 2]; DOMAIN_FEATURES] = ranges
                .try_into()
                .map_err(|_| DomainModelError::Length("normal"))?;
            if ranges.iter().flatten().any(|x| !x.is_finite()) {
                return Err(DomainModelError::Value("normal"));
            }
            model.normal = Some(ranges);
        }
        Ok(model)
    }

    /// Score at or above which a domain is judged a tunnel.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// The score of a feature vector alone, bit for bit [`DomainModel::score`]'s (the same
    /// sum in the same order), without finding the top three: most evaluations stay below
    /// the threshold, and only an alert quotes them.
    pub fn probability(&self, x: &[f32; DOMAIN_FEATURES]) -> f32 {
        let mut logit = self.bias;
        for (i, &value) in x.iter().enumerate() {
            logit += self.weights[i] * (value - self.mean[i]) / self.scale[i];
        }
        1.0 / (1.0 + (-logit).exp())
    }

    /// Scores a feature vector; no allocation.
    pub fn score(&self, x: &[f32; DOMAIN_FEATURES]) -> DomainScore {
        let mut logit = self.bias;
        let none = Contribution {
            feature: 0,
            value: 0.0,
            contribution: f32::NEG_INFINITY,
        };
        let mut top = [none; 3];
        // With too few pauses the coefficient of variation is the stand-in GAP_CV_UNKNOWN:
        // it counts in the score but says nothing about this domain's timing.
        let few_pauses = x[LONG_GAPS] < ln1p(MIN_GAPS_FOR_CV);
        for (i, &value) in x.iter().enumerate() {
            let c = self.weights[i] * (value - self.mean[i]) / self.scale[i];
            logit += c;
            let item = Contribution {
                feature: i,
                value,
                contribution: c,
            };
            if self.quotable[i]
                && !(i == LONG_GAP_CV && few_pauses)
                && let Some(pos) = top.iter().position(|t| c > t.contribution)
            {
                top.copy_within(pos..2, pos + 1);
                top[pos] = item;
            }
        }
        DomainScore {
            score: 1.0 / (1.0 + (-logit).exp()),
            top,
        }
    }

    /// Explains a score in words: each top feature that pushed it up, with its value against
    /// the normal range the model learnt (mean ± one scale, back from log scale), e.g. "412
    /// distinct subdomains in 60 s (normal ≤ 6)". Allocates: call it only to alert.
    pub fn explain(&self, s: &DomainScore, config: &DomainConfig) -> String {
        // Room for the whole alert text (three reasons, then the detector's last query,
        // samples and clients: some 700 bytes), so that it is not regrown piece by piece.
        let mut out = String::with_capacity(1024);
        let pushing = s.top.iter().filter(|t| t.contribution > 0.0);
        for (n, t) in pushing.enumerate() {
            if n > 0 {
                out.push_str("; ");
            }
            let i = t.feature;
            let normal = Normal { model: self, i };
            describe(i, t.value, &normal, config, &mut out);
        }
        if out.is_empty() {
            out.push_str("no feature above its normal range");
        }
        let _ = write!(out, " (domain score {:.2})", s.score);
        out
    }

    /// Why a domain was taken for a beacon ([`polled_like_a_beacon`]) or a download
    /// ([`pulled_like_a_download`]): the figures the rule read, each against its normal
    /// range, and the model's score.
    pub fn explain_rule(
        &self,
        rule: DomainRule,
        vector: &[f32; DOMAIN_FEATURES],
        config: &DomainConfig,
    ) -> String {
        let mut out = String::with_capacity(1024);
        let figures: &[usize] = match rule {
            DomainRule::Beacon => {
                out.push_str("polled like a beacon: ");
                &[
                    LONG_GAP_CV,
                    LONG_GAPS,
                    LONG_IDENTIFIER_SHARE,
                    LEAD_CLIENT_SHARE,
                ]
            }
            DomainRule::Orders => {
                out.push_str("polled like a beacon for its orders (free-form answers): ");
                &[LONG_GAP_CV, LONG_GAPS, TUNNEL_TYPE_SHARE, LEAD_CLIENT_SHARE]
            }
            DomainRule::Download => {
                out.push_str("pulled like a download: ");
                &[
                    MEAN_RESPONSE,
                    TUNNEL_TYPE_SHARE,
                    LONG_DISTINCT,
                    LONG_DISTINCT_PER_QUERY,
                    LEAD_CLIENT_SHARE,
                ]
            }
        };
        for (n, &i) in figures.iter().enumerate() {
            if n > 0 {
                out.push_str("; ");
            }
            describe(i, vector[i], &Normal { model: self, i }, config, &mut out);
        }
        let _ = write!(out, " (domain score {:.2})", self.probability(vector));
        out
    }
}

/// The normal range an explanation quotes for feature `i`, written where it is used (no
/// `String` of its own).
struct Normal<'a> {
    model: &'a DomainModel,
    i: usize,
}

impl fmt::Display for Normal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, i) = (self.model, self.i);
        match &m.normal {
            Some(ranges) => write!(
                f,
                "benign domains: {}–{}",
                Amount(i, ranges[i][0]),
                Amount(i, ranges[i][1])
            ),
            // Without the trained benign ranges: the side of the model's mean ± scale
            // this value is unusual on.
            None if m.weights[i] >= 0.0 => {
                write!(f, "normal ≤ {}", Amount(i, m.mean[i] + m.scale[i]))
            }
            None => write!(f, "normal ≥ {}", Amount(i, m.mean[i] - m.scale[i])),
        }
    }
}

/// Feature `.0`'s value `.1` in its own unit: a count (the `_log` features are ln(1 +
/// count)), a percentage (shares and ratios) or a score.
struct Amount(usize, f32);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (i, value) = (self.0, self.1);
        let name = DOMAIN_FEATURE_NAMES[i];
        if name.ends_with("_log") {
            write!(f, "{}", value.exp_m1().max(0.0).round())
        } else if name.ends_with("_score") || name.ends_with("_cv") {
            write!(f, "{:.2}", value.max(0.0))
        } else {
            write!(f, "{}%", (value.clamp(0.0, 1.0) * 100.0).round())
        }
    }
}

/// A window's length in words: "1 h", "60 s", "5 min".
struct Span(u64);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        if ms >= 3_600_000 && ms.is_multiple_of(3_600_000) {
            write!(f, "{} h", ms / 3_600_000)
        } else if ms >= 120_000 && ms.is_multiple_of(60_000) {
            write!(f, "{} min", ms / 60_000)
        } else if ms.is_multiple_of(1000) {
            write!(f, "{} s", ms / 1000)
        } else {
            write!(f, "{ms} ms")
        }
    }
}

fn describe(i: usize, value: f32, normal: &Normal<'_>, config: &DomainConfig, out: &mut String) {
    let short = Span(config.short_window_ms);
    let long = Span(config.long_window_ms);
    let count = |v: f32| v.exp_m1().max(0.0).round();
    let pct = |v: f32| (v.clamp(0.0, 1.0) * 100.0).round();
    let (v, p) = (count(value), pct(value));
    let _ = match DOMAIN_FEATURE_NAMES[i] {
        "short_queries_log" => write!(out, "{v} queries in {short} ({normal})"),
        "short_distinct_log" => {
            write!(out, "{v} distinct subdomains in {short} ({normal})")
        }
        "short_bytes_out_log" => write!(
            out,
            "{v} bytes in new subdomain names in {short} ({normal})"
        ),
        "long_queries_log" => write!(out, "{v} queries in {long} ({normal})"),
        "long_distinct_log" => write!(out, "{v} distinct subdomains in {long} ({normal})"),
        "long_bytes_out_log" => {
            write!(out, "{v} bytes in new subdomain names in {long} ({normal})")
        }
        "tunnel_type_share" => write!(out, "{p}% of queries of tunnel-friendly types ({normal})"),
        "nxdomain_ratio" => write!(out, "{p}% NXDOMAIN answers ({normal})"),
        "mean_score" => write!(out, "mean query score {value:.2} ({normal})"),
        "max_score" => write!(out, "highest query score {value:.2} ({normal})"),
        "suspicious_share" => write!(out, "{p}% suspicious queries ({normal})"),
        "mean_response_log" => write!(out, "responses of {v} bytes on average ({normal})"),
        "max_response_log" => write!(out, "a response of {v} bytes ({normal})"),
        "distinct_clients_log" => write!(out, "{v} distinct clients in {long} ({normal})"),
        "distinct_per_query" => write!(out, "{p}% of queries for a new subdomain ({normal})"),
        "long_suspicious_log" => {
            write!(out, "{v} suspicious queries in {long} ({normal})")
        }
        "long_bytes_per_query_log" => write!(
            out,
            "{v} bytes in new subdomain names per query in {long} ({normal})"
        ),
        "long_distinct_per_query" => {
            write!(
                out,
                "{p}% of queries in {long} for a new subdomain ({normal})"
            )
        }
        "long_gaps_log" => write!(out, "{v} separate polls in {long} ({normal})"),
        "long_gap_cv" => write!(
            out,
            "pauses between polls regular to {value:.2} (deviation ÷ mean) ({normal})"
        ),
        "lead_client_share" => write!(
            out,
            "one client's new names ahead of all others' by {p}% of them ({normal})"
        ),
        "long_novel_bytes_per_query_log" => write!(
            out,
            "{v} bytes a query beyond what names share with the one before in {long} ({normal})"
        ),
        "long_identifier_share" => write!(
            out,
            "{p}% of new names in {long} holding an identifier ({normal})"
        ),
        other => write!(out, "{other} = {value:.2}"),
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn tail_word_is_the_bytes_after_the_last_whole_word() {
        let bytes: Vec<u8> = (1..=40).collect();
        for n in 0..=bytes.len() {
            let b = &bytes[..n];
            let mut want = 0u64;
            for (i, &x) in b[n - n % 8..].iter().enumerate() {
                want |= u64::from(x) << (8 * i);
            }
            assert_eq!(tail_word(b), want, "length {n}");
        }
    }

    /// The layout the cost depends on (see `Entry` and `Window`): a query touches the
    /// entry's first two lines, two lines of each window and the edges' line; an answer the
    /// first line of each window.
    #[test]
    fn what_a_query_touches_shares_few_cache_lines() {
        use std::mem::{offset_of, size_of};
        let line = |offset: usize| offset / 64;
        // The header and the series' limits, `fired` and `source` (24 bytes): line 0; the
        // clients kept: line 1.
        assert_eq!(line(offset_of!(Entry, series) + 23), 0);
        assert_eq!(line(offset_of!(Entry, clients)), 1);
        for (window, size) in [
            (offset_of!(Entry, short), size_of::<Window<SHORT_WORDS>>()),
            (offset_of!(Entry, long), size_of::<Window<LONG_WORDS>>()),
        ] {
            assert_eq!(window % 64, 0);
            assert!(size % 64 == 0);
        }
        assert_eq!(offset_of!(Entry, edges) % 64, 0);
        type W = Window<SHORT_WORDS>;
        // An answer: the start and the answer's counts.
        assert_eq!(line(offset_of!(W, cur) + offset_of!(Counts, resp_max)), 0);
        // A query: the current counts, the set bits, the clients and the previous window's
        // figures the gates read.
        assert_eq!(line(offset_of!(W, cur) + size_of::<Counts>() - 1), 1);
        assert_eq!(line(offset_of!(W, clients) + 7), 1);
        assert_eq!(line(offset_of!(W, prev) + offset_of!(Counts, gaps)), 1);
    }

    /// A query of the registered domain `d` itself.
    fn apex_query(t: &DomainTable, d: &Name, from: IpAddr, now_ms: u64) -> Observed {
        t.observe_query(
            &QueryObservation {
                domain: d.as_ref(),
                key: t.key(d.as_ref()),
                left: &[],
                qtype: RType::A,
                client: from,
                score: 0.0,
                suspicious: false,
                weight: 1.0,
            },
            now_ms,
        )
    }

    #[test]
    fn answers_wait_in_the_slot_and_none_is_lost() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        let key = t.key(d.as_ref());
        apex_query(&t, &d, client(1), 10);
        // More answers than a slot counts: the entry takes them as the count fills.
        for i in 0..600 {
            t.observe_answer(key, i % 3 == 0, if i == 7 { 70_000 } else { 100 });
        }
        {
            let (shard, tag) = t.locate_key(key);
            let shard = shard.lock().unwrap();
            let Found::At(at) = shard.find(tag) else {
                panic!("not found")
            };
            assert_eq!(usize::from(shard.slots[at].pending.answers), 600 - 2 * 255);
        }
        // The next query counts the rest; so would a report.
        apex_query(&t, &d, client(1), 30);
        let r = t.snapshot(d.as_ref()).unwrap();
        assert_eq!(r.short.answers, 600.0);
        assert!((r.short.nxdomain_ratio - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(r.short.max_response, 65_535.0);
        t.observe_answer(key, true, 100);
        assert_eq!(t.snapshot(d.as_ref()).unwrap().long.answers, 601.0);
    }

    #[test]
    fn a_lookup_trusts_the_tag_and_a_report_checks_the_name() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        let key = t.key(d.as_ref());
        apex_query(&t, &d, client(1), 10);
        let (shard, tag) = t.locate_key(key);
        let shard = shard.lock().unwrap();
        assert!(matches!(shard.find(tag), Found::At(_)));
        assert!(shard.get(tag, name("Example.COM").as_wire()).is_some());
        // Another name under the same tag (a collision no client can choose): found by the
        // hot path's lookup, never reported as that name.
        assert!(shard.get(tag, name("example.net").as_wire()).is_none());
    }

    fn config() -> DomainConfig {
        DomainConfig {
            capacity: 1024,
            hash_key: Some([1, 2]),
            ..DomainConfig::default()
        }
    }

    /// Wire bytes of a left part given as text (`a.b`).
    fn left(text: &str) -> Vec<u8> {
        let n = name(text);
        let wire = n.as_wire();
        wire[..wire.len() - 1].to_vec()
    }

    fn client(i: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, i))
    }

    fn query(t: &DomainTable, domain: &Name, left: &[u8], now_ms: u64) -> Observed {
        t.observe_query(
            &QueryObservation {
                domain: domain.as_ref(),
                key: t.key(domain.as_ref()),
                left,
                qtype: RType::A,
                client: client(1),
                score: 0.1,
                suspicious: false,
                weight: 1.0,
            },
            now_ms,
        )
    }

    #[test]
    fn hash_is_siphash13_of_the_lowercased_bytes() {
        use std::hash::Hasher;
        let mut text = Vec::new();
        for i in 0..300u32 {
            let mut h = siphasher::sip::SipHasher13::new_with_keys(7, 9);
            h.write(&text.to_ascii_lowercase());
            assert_eq!(sip13_lowercase(7, 9, &text), h.finish(), "{i} bytes");
            // Every byte value, upper case included.
            text.push((i.wrapping_mul(97) % 256) as u8);
        }
        for b in 0..=255u8 {
            let got = lowercase8(u64::from_le_bytes([b; 8])).to_le_bytes();
            assert_eq!(got, [b.to_ascii_lowercase(); 8], "{b}");
        }
    }

    #[test]
    fn windows_slide_over_the_previous_one() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        // 60 queries of the same name in the first minute, 10 at 90 s.
        for i in 0..60 {
            query(&t, &d, &left("www"), i * 1000);
        }
        let r = t.snapshot(d.as_ref()).unwrap();
        assert_eq!(r.short.queries, 60.0);
        for i in 0..10 {
            query(&t, &d, &left("www"), 90_000 + i);
        }
        let r = t.snapshot(d.as_ref()).unwrap();
        // Half of the previous minute is still inside the sliding minute.
        assert!((r.short.queries - 40.0).abs() < 0.1, "{}", r.short.queries);
        assert_eq!(r.long.queries, 70.0);
        assert_eq!(r.first_seen_ms, 0);
        assert_eq!(r.last_seen_ms, 90_009);
        // Two windows later, the first minute no longer counts at all.
        query(&t, &d, &left("www"), 200_000);
        let r = t.snapshot(d.as_ref()).unwrap();
        assert!((r.short.queries - 1.0).abs() < 0.01, "{}", r.short.queries);
        // A moment in the past (another worker's clock) counts in the current window.
        query(&t, &d, &left("www"), 199_000);
        assert!((t.snapshot(d.as_ref()).unwrap().short.queries - 2.0).abs() < 0.01);
    }

    #[test]
    fn distinct_estimate_is_within_ten_per_cent_up_to_2000() {
        // The long window (2,048 bits) up to 2,000 names, the short one (1,024) up to 1,000.
        for key in [[1, 2], [3, 4], [5, 6], [0xdead, 0xbeef]] {
            let t = DomainTable::new(DomainConfig {
                hash_key: Some(key),
                ..config()
            });
            let d = name("tunnel.example");
            let mut n = 0;
            for target in [10, 100, 500, 1000, 2000] {
                while n < target {
                    query(&t, &d, &left(&format!("x{n}-data")), 1000);
                    n += 1;
                }
                let r = t.snapshot(d.as_ref()).unwrap();
                let short = (n <= 1000).then_some(r.short.distinct);
                for est in [r.long.distinct].into_iter().chain(short) {
                    let err = (est - n as f32).abs() / n as f32;
                    assert!(err < 0.10, "{n} names estimated {est} (key {key:?})");
                }
            }
        }
    }

    #[test]
    fn bytes_out_counts_new_distinct_names_only() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        query(&t, &d, &left("abcdef"), 0);
        query(&t, &d, &left("ABCDEF"), 1);
        query(&t, &d, &left("x.y"), 2);
        let r = t.snapshot(d.as_ref()).unwrap();
        assert_eq!(r.short.bytes_out, 7.0 + 4.0);
        assert!((r.short.distinct - 2.0).abs() < 0.01);
    }

    #[test]
    fn gates_then_every_fourth_query_powers_of_two_and_orders() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        // The same few names never cross the gates.
        for i in 0..100 {
            let o = query(&t, &d, &left(&format!("n{}", i % 5)), i);
            assert!(o.features.is_none());
        }
        let d = name("exfil.example");
        let mut evaluated = Vec::new();
        for i in 0..40u64 {
            let o = query(&t, &d, &left(&format!("chunk{i}")), 1000 + i);
            assert_eq!(o.new_domain, i == 0);
            if o.features.is_some() {
                evaluated.push(i);
            }
        }
        // The 8th distinct name (i = 7) crosses; then every 4th query, and the 16th and 32nd
        // distinct names (new powers of two) run the model whatever the turn.
        assert_eq!(evaluated.first(), Some(&7));
        assert!(evaluated.contains(&15), "{evaluated:?}");
        assert!(evaluated.contains(&31), "{evaluated:?}");
        assert!(evaluated.len() <= 33 / 4 + 3, "{evaluated:?}");
        // Once gated, a query asking for orders is always a turn (the orders rule can fire on
        // no other), a service label's TXT is not.
        let ask = |i: u64, qtype: RType, text: &str| {
            t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left(text),
                    qtype,
                    client: client(1),
                    score: 0.1,
                    suspicious: false,
                    weight: 1.0,
                },
                2000 + i,
            )
        };
        let turns = |from: u64, qtype: RType, text: &str| {
            (from..from + 8)
                .filter(|&i| ask(i, qtype, text).features.is_some())
                .count()
        };
        assert_eq!(turns(0, RType::TXT, "orders"), 8);
        assert_eq!(turns(10, RType::NULL, "orders"), 8);
        assert_eq!(turns(20, RType::TXT, "_acme-challenge"), 2);
        assert_eq!(turns(30, RType::A, "orders"), 2);
        // Suspicious queries gate on their own.
        let d = name("sus.example");
        let sus = |i: u64| {
            t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left("same"),
                    qtype: RType::TXT,
                    client: client(1),
                    score: 0.9,
                    suspicious: true,
                    weight: 1.0,
                },
                i,
            )
        };
        assert!(sus(0).features.is_none());
        let f = sus(1).features.unwrap();
        assert_eq!(f[6], 1.0, "tunnel_type_share");
        assert!((f[15] - 3f32.ln()).abs() < 1e-5, "long_suspicious_log");
    }

    #[test]
    fn allow_listed_weight_lowers_counts() {
        let t = DomainTable::new(config());
        let d = name("in-addr.arpa");
        for i in 0..1000 {
            t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left(&format!("{}.{}.2.0.192", i % 250, i / 250)),
                    qtype: RType::PTR,
                    client: client(1),
                    score: 0.5,
                    suspicious: false,
                    weight: 0.2,
                },
                i,
            );
        }
        let r = t.snapshot(d.as_ref()).unwrap();
        assert!((r.short.queries - 200.0).abs() < 0.5, "{}", r.short.queries);
        assert!(
            (150.0..250.0).contains(&r.short.distinct),
            "{}",
            r.short.distinct
        );
    }

    /// The lead client's share in the last feature vector the table handed out for `domain`,
    /// query `i` of `queries` asking a new name `n{i}` from `client(i)` at `i` × 100 ms.
    fn lead_share_after(
        t: &DomainTable,
        domain: &str,
        queries: std::ops::Range<u64>,
        client: impl Fn(u64) -> IpAddr,
    ) -> f32 {
        let d = name(domain);
        let mut last = None;
        for i in queries {
            let o = t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left(&format!("n{i}")),
                    qtype: RType::A,
                    client: client(i),
                    score: 0.1,
                    suspicious: false,
                    weight: 1.0,
                },
                i * 100,
            );
            last = o.features.or(last);
        }
        last.expect("the gates were crossed")[LEAD_CLIENT_SHARE]
    }

    #[test]
    fn lead_share_tells_one_client_from_many() {
        let t = DomainTable::new(config());
        // One client: every new name is its vote.
        let one = lead_share_after(&t, "one.example", 0..200, |_| client(1));
        assert!(one > 0.95, "{one}");
        // A platform's names, a few from each of 100 clients.
        let many = lead_share_after(&t, "many.example", 0..200, |i| client((i % 100) as u8));
        assert!(many < 0.1, "{many}");
        // A tunnel's host with others asking three names in ten.
        let mixed = lead_share_after(&t, "mixed.example", 0..200, |i| {
            client(if i % 10 < 3 { 10 + (i % 50) as u8 } else { 1 })
        });
        assert!(mixed >= LEAD_SHARE_FLOOR, "{mixed}");
        // Addresses of one IPv6 /64 are one client: a host may take any of them.
        let v6 = lead_share_after(&t, "v6.example", 0..200, |i| {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i as u16, 7, 7, i as u16))
        });
        assert!(v6 > 0.95, "{v6}");
        // Beyond VOTE_SPAN new names the share follows the recent ones.
        let span = 3 * u64::from(VOTE_SPAN);
        let first = lead_share_after(&t, "turn.example", 0..span, |_| client(1));
        assert!(first > 0.95, "{first}");
        // Ten hours on (query 360,000 is at 36,000 s), in fresh windows, another client
        // takes over.
        let second = lead_share_after(&t, "turn.example", 360_000..360_000 + span, |_| client(2));
        assert!(second > 0.5, "{second}");
    }

    #[test]
    fn answers_and_clients() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        for i in 0..10u8 {
            apex_query(&t, &d, client(i), u64::from(i));
        }
        let upper = name("EXAMPLE.com");
        // A domain's key ignores case: the client table counts a client's distinct domains
        // by it too.
        assert_eq!(t.key(upper.as_ref()), t.key(d.as_ref()));
        t.observe_answer(t.key(upper.as_ref()), true, 100);
        t.observe_answer(t.key(d.as_ref()), false, 500);
        // Unknown domains are ignored.
        let other = name("other.com");
        t.observe_answer(t.key(other.as_ref()), true, 100);
        let r = t.snapshot(d.as_ref()).unwrap();
        assert_eq!(r.short.nxdomain_ratio, 0.5);
        assert_eq!(r.short.mean_response, 300.0);
        assert_eq!(r.short.max_response, 500.0);
        assert!((r.long.distinct_clients - 10.0).abs() < 1.5);
        assert_eq!(r.clients, (0..4).map(client).collect::<Vec<_>>());
        assert!(t.snapshot(name("other.com").as_ref()).is_none());
    }

    #[test]
    fn pauses_and_their_regularity() {
        let t = DomainTable::new(config());
        let d = name("poll.example");
        // A poll every 30 s, each followed 200 ms later by a second query (a burst, not a
        // pause): 20 pauses of 29.8 s.
        let mut last = None;
        for i in 0..21u64 {
            last = query(&t, &d, &left("id1"), 1_000 + i * 30_000)
                .features
                .or(last);
            last = query(&t, &d, &left("id1"), 1_200 + i * 30_000)
                .features
                .or(last);
        }
        let long = t.snapshot(d.as_ref()).unwrap().long;
        assert_eq!(long.gaps, 20.0);
        assert!((long.gap_mean_s - 29.8).abs() < 1e-3, "{}", long.gap_mean_s);
        assert!(long.gap_cv < 1e-3, "{}", long.gap_cv);
        // Gated by the pauses alone (one name, nothing suspicious), with the timer in the vector.
        let f = last.unwrap();
        assert!(f[19] < 1e-3, "long_gap_cv {}", f[19]);
        assert!(f[17] < 0.1, "long_distinct_per_query {}", f[17]);

        // Irregular arrivals: a coefficient of variation near or above 1; too few pauses:
        // GAP_CV_UNKNOWN.
        let t = DomainTable::new(config());
        let mut now = 0;
        for i in 0..40u64 {
            now += [1_000, 90_000, 3_000, 40_000, 2_000][(i % 5) as usize];
            query(&t, &d, &left("id1"), now);
        }
        assert!(t.snapshot(d.as_ref()).unwrap().long.gap_cv > 0.9);
        let t = DomainTable::new(config());
        for i in 0..5u64 {
            query(&t, &d, &left("id1"), i * 30_000);
        }
        assert_eq!(t.snapshot(d.as_ref()).unwrap().long.gap_cv, GAP_CV_UNKNOWN);
    }

    #[test]
    fn carries_data_reads_the_features_it_names() {
        assert_eq!(DOMAIN_FEATURE_NAMES[LONG_SUSPICIOUS], "long_suspicious_log");
        assert_eq!(
            DOMAIN_FEATURE_NAMES[LONG_BYTES_PER_QUERY],
            "long_bytes_per_query_log"
        );
        assert_eq!(
            DOMAIN_FEATURE_NAMES[LONG_NOVEL_PER_QUERY],
            "long_novel_bytes_per_query_log"
        );
        let mut v = [0.0; DOMAIN_FEATURES];
        v[LONG_BYTES_PER_QUERY] = ln1p(9.0);
        v[LONG_NOVEL_PER_QUERY] = ln1p(9.0);
        assert!(!carries_data(&v), "short ordinary labels");
        v[LONG_SUSPICIOUS] = ln1p(1.0);
        assert!(
            !carries_data(&v),
            "one suspicious query: maybe a false positive"
        );
        v[LONG_SUSPICIOUS] = ln1p(2.0);
        assert!(carries_data(&v), "two suspicious queries");
        v[LONG_SUSPICIOUS] = 0.0;
        v[LONG_BYTES_PER_QUERY] = ln1p(10.0);
        v[LONG_NOVEL_PER_QUERY] = ln1p(NOVEL_FLOOR_BYTES);
        assert!(carries_data(&v), "the floors themselves");
        v[LONG_NOVEL_PER_QUERY] = ln1p(2.0);
        assert!(!carries_data(&v), "numbered hosts: one pattern");
        assert_eq!(
            DOMAIN_FEATURE_NAMES[LONG_IDENTIFIER_SHARE],
            "long_identifier_share"
        );
        v[LONG_IDENTIFIER_SHARE] = 0.4;
        assert!(!carries_data(&v), "a few hash-like names among words");
        v[LONG_IDENTIFIER_SHARE] = IDENTIFIER_FLOOR;
        assert!(carries_data(&v), "a beacon's id");
    }

    #[test]
    fn a_beacon_is_one_client_polling_an_identifier_on_a_timer() {
        assert_eq!(DOMAIN_FEATURE_NAMES[LONG_GAPS], "long_gaps_log");
        assert_eq!(DOMAIN_FEATURE_NAMES[LONG_GAP_CV], "long_gap_cv");
        let mut v = [0.0; DOMAIN_FEATURES];
        v[LEAD_CLIENT_SHARE] = 1.0;
        v[LONG_IDENTIFIER_SHARE] = 1.0;
        v[LONG_GAPS] = ln1p(BEACON_PAUSES);
        v[LONG_GAP_CV] = 0.2;
        assert!(polled_like_a_beacon(&v));
        for (what, i, value) in [
            ("irregular pauses", LONG_GAP_CV, 0.6),
            ("too few pauses", LONG_GAPS, ln1p(BEACON_PAUSES - 1.0)),
            ("a word, not an identifier", LONG_IDENTIFIER_SHARE, 0.0),
            ("many clients", LEAD_CLIENT_SHARE, 0.1),
        ] {
            let mut w = v;
            w[i] = value;
            assert!(!polled_like_a_beacon(&w), "{what}");
        }
    }

    #[test]
    fn a_timer_of_free_form_answers_is_polled_for_orders() {
        let wire = |text: &str| {
            let n: Name = text.parse().unwrap();
            n.as_wire()[..n.len() - 1].to_vec()
        };
        assert!(asks_for_orders(RType::TXT, &wire("orders")));
        assert!(asks_for_orders(RType::NULL, &wire("9c46.u")));
        assert!(asks_for_orders(RType(65_400), &wire("x")));
        for (qtype, left) in [
            (RType::A, "orders"),
            (RType::SRV, "web"),
            (RType::MX, "mail"),
            (RType::TXT, "_acme-challenge.www"),
            (RType::TXT, "_grpc_config.api"),
            (RType::TXT, "x._sip._tcp"),
        ] {
            assert!(!asks_for_orders(qtype, &wire(left)), "{qtype:?} {left}");
        }
        let mut v = [0.0; DOMAIN_FEATURES];
        v[LEAD_CLIENT_SHARE] = 1.0;
        v[LONG_GAPS] = ln1p(BEACON_PAUSES);
        v[LONG_GAP_CV] = 0.1;
        v[TUNNEL_TYPE_SHARE] = ORDERS_TYPE_SHARE;
        assert!(polled_for_orders(&v, true));
        assert!(!polled_for_orders(&v, false), "this query asks no orders");
        assert!(!polled_like_a_beacon(&v), "no identifier");
        assert_eq!(DomainRule::matching(&v, true), Some(DomainRule::Orders));
        assert_eq!(DomainRule::Orders.reason(), "beacon");
        for (what, i, value) in [
            ("irregular pauses", LONG_GAP_CV, 0.6),
            ("too few pauses", LONG_GAPS, ln1p(BEACON_PAUSES - 1.0)),
            ("mostly address queries", TUNNEL_TYPE_SHARE, 0.5),
            ("many clients", LEAD_CLIENT_SHARE, 0.1),
        ] {
            let mut w = v;
            w[i] = value;
            assert!(!polled_for_orders(&w, true), "{what}");
        }
    }

    #[test]
    fn a_download_is_one_client_pulling_large_answers_for_new_names() {
        assert_eq!(DOMAIN_FEATURE_NAMES[LONG_DISTINCT], "long_distinct_log");
        assert_eq!(DOMAIN_FEATURE_NAMES[TUNNEL_TYPE_SHARE], "tunnel_type_share");
        assert_eq!(DOMAIN_FEATURE_NAMES[MEAN_RESPONSE], "mean_response_log");
        assert_eq!(
            DOMAIN_FEATURE_NAMES[LONG_DISTINCT_PER_QUERY],
            "long_distinct_per_query"
        );
        let mut v = [0.0; DOMAIN_FEATURES];
        v[LEAD_CLIENT_SHARE] = 1.0;
        v[LONG_DISTINCT] = ln1p(DOWNLOAD_NAMES);
        v[LONG_DISTINCT_PER_QUERY] = 1.0;
        v[TUNNEL_TYPE_SHARE] = 1.0;
        v[MEAN_RESPONSE] = ln1p(DOWNLOAD_RESPONSE_BYTES);
        assert!(pulled_like_a_download(&v));
        for (what, i, value) in [
            ("few names", LONG_DISTINCT, ln1p(DOWNLOAD_NAMES - 1.0)),
            ("the same names again", LONG_DISTINCT_PER_QUERY, 0.5),
            ("address queries", TUNNEL_TYPE_SHARE, 0.5),
            ("small answers", MEAN_RESPONSE, ln1p(120.0)),
            ("many clients", LEAD_CLIENT_SHARE, 0.1),
        ] {
            let mut w = v;
            w[i] = value;
            assert!(!pulled_like_a_download(&w), "{what}");
        }
    }

    #[test]
    fn identifiers_mix_letters_and_digits() {
        for id in [
            "a3f9c2d17e",
            "k3x9q2m7zt",
            "www.3o3a941e4c",
            "11a42n.cdn",
            "r5---sn-4g5e6",
        ] {
            assert!(has_identifier(&left(id)), "{id}");
        }
        assert!(!has_identifier(&[]));
        for word in [
            "server-001",
            "clients4",
            "mail-wr1-f54",
            "9c46",
            "www.example",
            "ip-10-0-0-1",
            "a-1-b-2-c-3",
        ] {
            assert!(!has_identifier(&left(word)), "{word}");
        }
    }

    #[test]
    fn search_expansions_are_ordinary_names_with_a_suffix() {
        for leaked in [
            "www.example.com.corp",
            "api.github.com",
            "API.GitHub.COM.default.svc",
            "a.b.example.net.x.y.z",
            "docs.python.org",
        ] {
            assert!(search_expansion(&left(leaked)), "{leaked}");
        }
        assert!(!search_expansion(&[]));
        for not in [
            "com",
            "com.corp",
            "www",
            "www.6f74.data",
            "www.example.co",
            "a.b.example.com.w.x.y.z",
            "www.example.comm",
            "www.example.c0m",
            "mzxw6ytboi.cxmmqtgk.nets",
        ] {
            assert!(!search_expansion(&left(not)), "{not}");
        }
    }

    #[test]
    fn novel_bytes_leave_out_what_a_name_shares_with_the_one_before() {
        let mut e = Entry::new(b"\x07example\x03com\x00", client(1), 0, &config());
        // The first name is new throughout.
        assert_eq!(e.novel_bytes(&left("server-001")), 11);
        // A numbered host adds the digit that changed.
        assert_eq!(e.novel_bytes(&left("SERVER-002")), 1);
        assert_eq!(e.novel_bytes(&left("server-010")), 2);
        // A random label of the same length shares only its length byte.
        assert_eq!(e.novel_bytes(&left("k3x9q2m7zt")), 10);
        // The same name again (new to a window that rolled): shared start and end do not
        // overlap, nothing is new.
        assert_eq!(e.novel_bytes(&left("K3X9Q2M7ZT")), 0);
        // A label of another length differs in its length byte: new throughout.
        assert_eq!(e.novel_bytes(&left("k3x9")), 5);
        // Labels after the first: a counter label before a payload.
        assert_eq!(e.novel_bytes(&left("7.aaaaaaaa")), 11);
        assert_eq!(e.novel_bytes(&left("8.aaaaaaaa")), 1);
        // Long labels: only EDGE bytes at each end are compared.
        let a = format!("{}.{}", "a".repeat(40), "b".repeat(40));
        let b = format!("{}.{}", "a".repeat(40), "c".repeat(40));
        e.novel_bytes(&left(&a));
        assert_eq!(e.novel_bytes(&left(&b)), 82 - EDGE);
    }

    #[test]
    fn from_one_client_reads_the_feature_it_names() {
        assert_eq!(DOMAIN_FEATURE_NAMES[LEAD_CLIENT_SHARE], "lead_client_share");
        let mut v = [0.0; DOMAIN_FEATURES];
        v[LEAD_CLIENT_SHARE] = 0.2;
        assert!(!from_one_client(&v), "spread over clients");
        v[LEAD_CLIENT_SHARE] = LEAD_SHARE_FLOOR;
        assert!(from_one_client(&v), "the floor itself");
    }

    #[test]
    fn names_are_case_insensitive() {
        let t = DomainTable::new(config());
        assert!(query(&t, &name("Example.COM"), &left("a"), 0).new_domain);
        assert!(!query(&t, &name("example.com"), &left("A"), 1).new_domain);
        assert_eq!(t.len(), 1);
        let r = t.snapshot(name("EXAMPLE.com").as_ref()).unwrap();
        assert_eq!(r.domain.to_string(), "Example.COM.");
        assert!((r.short.distinct - 1.0).abs() < 0.01);
    }

    #[test]
    fn samples_are_bounded_and_cut() {
        let t = DomainTable::new(config());
        let d = name("example.com");
        query(&t, &d, &left("first.one"), 0);
        // Not suspicious: not kept.
        query(&t, &d, &left("ordinary"), 1);
        let long = "a".repeat(63);
        for (i, l) in ["s1", "s2", long.as_str(), "s4"].iter().enumerate() {
            t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left(&format!("{l}.x")),
                    qtype: RType::TXT,
                    client: client(1),
                    score: 0.9,
                    suspicious: true,
                    weight: 1.0,
                },
                2 + i as u64,
            );
        }
        let r = t.snapshot(d.as_ref()).unwrap();
        // Three kept; the oldest overwritten first once full.
        assert_eq!(r.samples.len(), 3);
        assert_eq!(r.samples[0], format!("{long}…"));
        assert_eq!(r.samples[1], "s4.x");
        assert_eq!(r.samples[2], "s2.x");
    }

    #[test]
    fn evicts_least_recently_seen_at_capacity() {
        let t = DomainTable::new(DomainConfig {
            capacity: 256,
            ..config()
        });
        let hot = name("hot.example");
        for i in 0..5000u64 {
            query(&t, &name(&format!("d{i}.example")), &[], i * 2);
            query(&t, &hot, &[], i * 2 + 1);
            assert!(t.len() <= 256);
        }
        assert!(t.len() > 200, "{}", t.len());
        assert!(t.snapshot(hot.as_ref()).is_some());
        assert!(t.snapshot(name("d4999.example").as_ref()).is_some());
        assert!(t.snapshot(name("d0.example").as_ref()).is_none());
        assert!(t.memory_bytes() > 256 * size_of::<Entry>());
    }

    fn model() -> DomainModel {
        let mut mean = [0.0; DOMAIN_FEATURES];
        let mut scale = [1.0; DOMAIN_FEATURES];
        let mut weights = [0.0; DOMAIN_FEATURES];
        // short_distinct_log: normal ln(1+2) ± ln(7/3) → ≤ 6 distinct names.
        mean[1] = 3f32.ln();
        scale[1] = 7f32.ln() - 3f32.ln();
        weights[1] = 2.0;
        mean[6] = 0.1;
        scale[6] = 0.1;
        weights[6] = 1.0;
        weights[8] = 0.5;
        DomainModel::new(mean, scale, weights, -4.0, 0.8).unwrap()
    }

    #[test]
    fn model_scores_and_explains() {
        let m = model();
        let mut x = [0.0; DOMAIN_FEATURES];
        x[1] = 413f32.ln(); // 412 distinct names
        x[6] = 0.9;
        x[8] = 0.7;
        let s = m.score(&x);
        assert!(s.score > 0.99, "{}", s.score);
        assert_eq!(s.top.map(|t| t.feature), [1, 6, 8]);
        let text = m.explain(&s, &DomainConfig::default());
        assert!(
            text.starts_with("412 distinct subdomains in 60 s (normal ≤ 6); 90% of queries of tunnel-friendly types (normal ≤ 20%); mean query score 0.70"),
            "{text}"
        );
        let quiet = m.score(&[0.0; DOMAIN_FEATURES]);
        assert!(quiet.score < m.threshold());
    }

    #[test]
    fn small_counts_are_not_quoted_as_reasons() {
        let mut weights = [0.0; DOMAIN_FEATURES];
        weights[4] = -2.0; // long_distinct_log: a negative weight on a count
        weights[17] = 1.0; // long_distinct_per_query
        weights[19] = -1.0; // long_gap_cv: a low value is a reason (a timer)
        let m = DomainModel::new(
            [0.5; DOMAIN_FEATURES],
            [1.0; DOMAIN_FEATURES],
            weights,
            0.0,
            0.5,
        )
        .unwrap();
        let mut x = [0.5; DOMAIN_FEATURES];
        x[4] = 0.0;
        x[17] = 1.0;
        x[19] = 0.0;
        x[LONG_GAPS] = ln1p(MIN_GAPS_FOR_CV);
        let quoted = |s: &DomainScore| -> Vec<usize> {
            s.top
                .iter()
                .filter(|t| t.contribution > 0.0)
                .map(|t| t.feature)
                .collect()
        };
        let s = m.score(&x);
        let expected = 1.0 / (1.0 + (-(1.0f32 + 0.5 + 0.5)).exp());
        assert!((s.score - expected).abs() < 1e-6, "{}", s.score);
        assert_eq!(quoted(&s), [17, 19]);

        // Too few pauses: the coefficient of variation is a stand-in, which counts in the
        // score but is no reason to quote.
        x[LONG_GAPS] = ln1p(MIN_GAPS_FOR_CV - 1.0);
        let few = m.score(&x);
        assert_eq!(few.score, s.score);
        assert_eq!(quoted(&few), [17]);
    }

    #[test]
    fn model_reads_the_shared_file() {
        let list = |v: f32| format!("[{}]", vec![v.to_string(); DOMAIN_FEATURES].join(","));
        let names = format!(
            "[{}]",
            DOMAIN_FEATURE_NAMES.map(|n| format!("\"{n}\"")).join(",")
        );
        let file = format!(
            r#"{{"version":1,"query":{{"anything":1}},"domain":{{"features":{names},"mean":{},"scale":{},"weights":{},"bias":-1.5,"threshold":0.7}}}}"#,
            list(0.0),
            list(2.0),
            list(1.0)
        );
        let m = DomainModel::from_json(&file).unwrap();
        assert_eq!(m.threshold(), 0.7);
        let s = m.score(&[2.0; DOMAIN_FEATURES]);
        let expected = 1.0 / (1.0 + (-(16.0f32 - 1.5)).exp());
        assert!((s.score - expected).abs() < 1e-6);

        let renamed = file.replace("max_score", "top_score");
        assert_eq!(
            DomainModel::from_json(&renamed),
            Err(DomainModelError::Features)
        );
        let zero_scale = file.replace(
            &format!("\"scale\":{}", list(2.0)),
            &format!("\"scale\":{}", list(0.0)),
        );
        assert_eq!(
            DomainModel::from_json(&zero_scale),
            Err(DomainModelError::Value("scale"))
        );
        let short = file.replace(&format!("\"mean\":{}", list(0.0)), "\"mean\":[0]");
        assert_eq!(
            DomainModel::from_json(&short),
            Err(DomainModelError::Length("mean"))
        );
        assert!(matches!(
            DomainModel::from_json("{}"),
            Err(DomainModelError::Json(_))
        ));
    }

    #[test]
    fn probability_is_the_score_bit_for_bit() {
        let shipped = crate::model::Model::embedded().unwrap();
        let m = shipped.domain();
        let mut x = [0.0f32; DOMAIN_FEATURES];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            for v in &mut x {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                *v = (seed >> 40) as f32 / (1u64 << 21) as f32;
            }
            assert_eq!(m.probability(&x).to_bits(), m.score(&x).score.to_bits());
        }
    }

    #[test]
    fn feature_vector_of_a_tunnel() {
        let t = DomainTable::new(config());
        let d = name("t.example");
        let mut last = None;
        for i in 0..200u64 {
            let o = t.observe_query(
                &QueryObservation {
                    domain: d.as_ref(),
                    key: t.key(d.as_ref()),
                    left: &left(&format!("{i:0>40}.c")),
                    qtype: RType::TXT,
                    client: client(1),
                    score: 0.8,
                    suspicious: true,
                    weight: 1.0,
                },
                i * 100,
            );
            last = o.features.or(last);
        }
        let f = last.unwrap();
        assert!((f[1].exp_m1() - 200.0).abs() < 20.0, "{}", f[1].exp_m1());
        assert!(f[14] > 0.9, "distinct_per_query {}", f[14]);
        assert!((f[10] - 1.0).abs() < 1e-6, "suspicious_share");
        assert!((f[8] - 0.8).abs() < 1e-5, "mean_score");
    }
}
