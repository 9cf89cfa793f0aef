//! The [`Registry`]: hands out one [`WorkerMetrics`] per worker, holds the rarely changing zone
//! and reload figures, and sums everything into [`Totals`] when scraped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::detect::{DetectFigures, DetectSource};
use crate::labels::{
    ClientLimited, DropReason, QType, RateLimited, Rcode, ReloadResult, Source, TcpReject,
    Transport,
};
use crate::resolver::{CacheFigures, CacheSource, ResolverFigures, ResolverSlot, ServerTable};
use crate::security::{SecurityFigures, SecuritySource};
use crate::worker::{LATENCY_BUCKETS, Shard, WorkerMetrics};

const T: usize = Transport::COUNT;
const S: usize = Source::COUNT;

/// The figures of one loaded zone, set from the reload path with [`Registry::set_zones`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneStats {
    /// The zone's origin in presentation form, e.g. `example.com.`: the `zone` label.
    pub origin: String,
    /// The SOA serial being served.
    pub serial: u32,
    /// The number of records in the zone.
    pub records: u64,
    /// How long the last load (read and parse) of the zone took, in nanoseconds.
    pub load_ns: u64,
    /// When the zone was last loaded, in seconds since the Unix epoch.
    pub loaded_at: u64,
    /// How long the last signing of the zone took, in nanoseconds; `None` when it is not
    /// signed by the server.
    pub sign_ns: Option<u64>,
    /// When the zone was last signed, in seconds since the Unix epoch (0 when never).
    pub signed_at: u64,
}

/// Why the server is not ready to take traffic yet; `Ok` when it is.
pub type Readiness = Result<(), String>;

/// Where the registry asks whether the server is ready (`/readyz`, `ctl status`). The flag
/// says whether this is a readiness probe (`/readyz`), which may start work towards being
/// ready (a resolver's root priming), rather than a look (a scrape, `ctl status`).
pub type ReadinessSource = Box<dyn Fn(bool) -> Readiness + Send + Sync>;

/// All of the server's metrics. Share it (`Arc<Registry>`) between the workers, which each take
/// a [`WorkerMetrics`] once, the reload path and the `/metrics` endpoint.
///
/// The locks here are taken when a worker starts, when zones are reloaded and when the registry
/// is scraped, never when a query is counted.
pub struct Registry {
    start_time: Duration,
    shards: Mutex<Vec<Arc<Shard>>>,
    zones: Mutex<Vec<ZoneStats>>,
    reloads: [AtomicU64; ReloadResult::COUNT],
    resolver: Mutex<Vec<ResolverSlot>>,
    cache: Mutex<Option<CacheSource>>,
    security: Mutex<Option<SecuritySource>>,
    detect: Mutex<Option<DetectSource>>,
    /// How many dynamic blocks are active, read at scrape time (client limits on).
    blocks_active: Mutex<Option<GaugeSource>>,
    readiness: Mutex<Option<ReadinessSource>>,
}

/// Where the registry reads a gauge that lives elsewhere, at scrape time.
pub type GaugeSource = Box<dyn Fn() -> u64 + Send + Sync>;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("start_time", &self.start_time)
            .field("zones", &self.zones)
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry for a process that started at `start_time`
    /// (`process_start_time_seconds`).
    pub fn new(start_time: SystemTime) -> Registry {
        Registry {
            start_time: start_time.duration_since(UNIX_EPOCH).unwrap_or_default(),
            shards: Mutex::new(Vec::new()),
            zones: Mutex::new(Vec::new()),
            reloads: std::array::from_fn(|_| AtomicU64::new(0)),
            resolver: Mutex::new(Vec::new()),
            cache: Mutex::new(None),
            security: Mutex::new(None),
            detect: Mutex::new(None),
            blocks_active: Mutex::new(None),
            readiness: Mutex::new(None),
        }
    }

    /// Where to ask whether the server is ready (replacing any earlier source).
    pub fn set_readiness_source(&self, source: ReadinessSource) {
        *lock(&self.readiness) = Some(source);
    }

    /// Whether the server is ready to take traffic, or what it still waits for. Without a
    /// source it is ready (a registry of a server that has nothing to wait for).
    pub fn readiness(&self) -> Readiness {
        lock(&self.readiness).as_ref().map_or(Ok(()), |f| f(false))
    }

    /// [`Registry::readiness`] for a readiness probe (`/readyz`): the source may also start
    /// what readiness waits for (see [`ReadinessSource`]).
    pub fn probe_readiness(&self) -> Readiness {
        lock(&self.readiness).as_ref().map_or(Ok(()), |f| f(true))
    }

    /// Records a signing of `origin` that took `ns` nanoseconds, finished at `at` (Unix
    /// seconds): the zone's signing gauges. A zone not loaded is ignored.
    pub fn record_signing(&self, origin: &str, ns: u64, at: u64) {
        if let Some(z) = lock(&self.zones).iter_mut().find(|z| z.origin == origin) {
            z.sign_ns = Some(ns);
            z.signed_at = at;
        }
    }

    /// A slot for one resolver driver to publish its figures into. They stay in the registry
    /// after the slot is dropped, so totals never go down.
    pub fn resolver_slot(&self) -> ResolverSlot {
        let slot = ResolverSlot::default();
        lock(&self.resolver).push(slot.clone());
        slot
    }

    /// Every resolver driver's figures, summed.
    pub fn resolver(&self) -> ResolverFigures {
        let slots: Vec<ResolverSlot> = lock(&self.resolver).clone();
        let mut sum = ResolverFigures::default();
        for slot in &slots {
            sum.add(&slot.read());
        }
        sum
    }

    /// Every resolver driver's per-server upstream figures, merged (bounded by
    /// [`MAX_UPSTREAM_SERVERS`](crate::MAX_UPSTREAM_SERVERS), the rest under `other`).
    pub fn upstream_servers(&self) -> ServerTable {
        let slots: Vec<ResolverSlot> = lock(&self.resolver).clone();
        let mut sum = ServerTable::default();
        for slot in &slots {
            sum.add(&slot.read_servers());
        }
        sum
    }

    /// Where to read the cache's figures at scrape time (replacing any earlier source).
    pub fn set_cache_source(&self, source: CacheSource) {
        *lock(&self.cache) = Some(source);
    }

    /// Where to read the security event stream's counters at scrape time.
    pub fn set_security_source(&self, source: SecuritySource) {
        *lock(&self.security) = Some(source);
    }

    /// Where to read the tunnelling detector's figures at scrape time (the
    /// `portcullis_detect_*` families, shown only once a source is set).
    pub fn set_detect_source(&self, source: DetectSource) {
        *lock(&self.detect) = Some(source);
    }

    /// The detector's figures; nothing without a source.
    pub fn detect(&self) -> Option<DetectFigures> {
        lock(&self.detect).as_ref().map(|f| f())
    }

    /// Where to read the number of active dynamic blocks at scrape time
    /// (`portcullis_dynamic_blocks_active`, shown only once a source is set).
    pub fn set_dynamic_blocks_source(&self, source: GaugeSource) {
        *lock(&self.blocks_active) = Some(source);
    }

    /// Active dynamic blocks; nothing without a source.
    pub fn dynamic_blocks_active(&self) -> Option<u64> {
        lock(&self.blocks_active).as_ref().map(|f| f())
    }

    /// The security event stream's counters; nothing without a source.
    pub fn security(&self) -> Option<SecurityFigures> {
        lock(&self.security).as_ref().map(|f| f())
    }

    /// The cache's figures; zeros without a cache.
    pub fn cache(&self) -> CacheFigures {
        lock(&self.cache).as_ref().map(|f| f()).unwrap_or_default()
    }

    /// The counters for one more worker thread. Its counts stay in the registry after it is
    /// dropped, so totals never go down.
    pub fn worker(&self) -> WorkerMetrics {
        let shard = Arc::new(Shard::new());
        lock(&self.shards).push(shard.clone());
        WorkerMetrics::new(shard)
    }

    /// Replaces the zone gauges with the zones now loaded: a zone not listed disappears. A
    /// zone listed without signing figures keeps those it had (a reload that did not re-sign).
    pub fn set_zones(&self, zones: impl IntoIterator<Item = ZoneStats>) {
        let mut new: Vec<ZoneStats> = zones.into_iter().collect();
        new.sort_by(|a, b| a.origin.cmp(&b.origin));
        let mut current = lock(&self.zones);
        for z in &mut new {
            if z.sign_ns.is_none()
                && let Some(old) = current.iter().find(|o| o.origin == z.origin)
            {
                z.sign_ns = old.sign_ns;
                z.signed_at = old.signed_at;
            }
        }
        *current = new;
    }

    /// Counts a reload and how it ended.
    pub fn count_reload(&self, result: ReloadResult) {
        self.reloads[result as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// When the process started, as seconds since the Unix epoch.
    pub fn start_time(&self) -> Duration {
        self.start_time
    }

    /// The zone gauges as last set, sorted by origin.
    pub fn zones(&self) -> Vec<ZoneStats> {
        lock(&self.zones).clone()
    }

    /// Sums every worker's counters.
    pub fn totals(&self) -> Totals {
        let shards: Vec<Arc<Shard>> = lock(&self.shards).clone();
        let mut totals = Totals::default();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let add = |to: &mut [u64], from: &[AtomicU64]| {
            for (t, f) in to.iter_mut().zip(from) {
                *t = t.wrapping_add(get(f));
            }
        };
        for shard in &shards {
            for t in 0..T {
                add(&mut totals.queries[t], &shard.queries[t]);
                add(&mut totals.responses[t], &shard.responses[t]);
                for s in 0..S {
                    add(&mut totals.latency[t][s], &shard.latency[t][s]);
                }
                add(&mut totals.latency_sum_ns[t], &shard.latency_sum_ns[t]);
                add(&mut totals.dropped[t], &shard.dropped[t]);
                add(&mut totals.conn_rejected[t], &shard.conn_rejected[t]);
            }
            add(&mut totals.truncated, &shard.truncated);
            add(&mut totals.malformed, &shard.malformed);
            add(&mut totals.rate_limited, &shard.rate_limited);
            add(&mut totals.client_limited, &shard.client_limited);
            totals.dynamic_blocks = totals
                .dynamic_blocks
                .wrapping_add(get(&shard.dynamic_blocks));
            // A scrape racing a worker may see a close before the matching open (relaxed
            // loads); the open gauge saturates at zero then.
            add(&mut totals.conn_closed, &shard.conn_closed);
            add(&mut totals.conn_opened, &shard.conn_opened);
        }
        for r in ReloadResult::ALL {
            totals.reloads[r as usize] = get(&self.reloads[r as usize]);
        }
        totals
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data under these locks is always whole (a push or a replacement), so a panic
    // elsewhere while holding one leaves nothing half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------------------------

/// Every worker's counters, summed: what a scrape reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    queries: [[u64; QType::COUNT]; T],
    responses: [[u64; Rcode::COUNT]; T],
    latency: [[[u64; LATENCY_BUCKETS + 1]; S]; T],
    latency_sum_ns: [[u64; S]; T],
    truncated: [u64; T],
    malformed: [u64; T],
    dropped: [[u64; DropReason::COUNT]; T],
    rate_limited: [u64; RateLimited::COUNT],
    client_limited: [u64; ClientLimited::COUNT],
    dynamic_blocks: u64,
    conn_opened: [u64; T],
    conn_closed: [u64; T],
    conn_rejected: [[u64; TcpReject::COUNT]; T],
    reloads: [u64; ReloadResult::COUNT],
}

impl Totals {
    /// Queries received on `transport` with type `qtype`.
    pub fn queries(&self, transport: Transport, qtype: QType) -> u64 {
        self.queries[transport as usize][qtype as usize]
    }

    /// Responses sent on `transport` with code `rcode`.
    pub fn responses(&self, transport: Transport, rcode: Rcode) -> u64 {
        self.responses[transport as usize][rcode as usize]
    }

    /// Latencies observed on `transport` for answers from `source` in bucket `i` alone (not
    /// cumulative); `i` == [`LATENCY_BUCKETS`] is the `+Inf` bucket.
    pub fn latency_bucket(&self, transport: Transport, source: Source, i: usize) -> u64 {
        self.latency[transport as usize][source as usize]
            .get(i)
            .copied()
            .unwrap_or(0)
    }

    /// Latencies observed on `transport` for answers from `source`.
    pub fn latency_count(&self, transport: Transport, source: Source) -> u64 {
        self.latency[transport as usize][source as usize]
            .iter()
            .fold(0u64, |a, &b| a.wrapping_add(b))
    }

    /// The sum of the latencies observed on `transport` for answers from `source`, in
    /// nanoseconds.
    pub fn latency_sum_ns(&self, transport: Transport, source: Source) -> u64 {
        self.latency_sum_ns[transport as usize][source as usize]
    }

    /// Responses counted in the latency histograms from `source`, over every transport.
    pub fn answers(&self, source: Source) -> u64 {
        Transport::ALL
            .iter()
            .fold(0u64, |a, &t| a.wrapping_add(self.latency_count(t, source)))
    }

    /// Truncated responses sent on `transport`.
    pub fn truncated(&self, transport: Transport) -> u64 {
        self.truncated[transport as usize]
    }

    /// Malformed messages received on `transport`.
    pub fn malformed(&self, transport: Transport) -> u64 {
        self.malformed[transport as usize]
    }

    /// Queries on `transport` dropped for `reason`.
    pub fn dropped(&self, transport: Transport, reason: DropReason) -> u64 {
        self.dropped[transport as usize][reason as usize]
    }

    /// UDP responses over their rate limit that were handled as `decision`.
    pub fn rate_limited(&self, decision: RateLimited) -> u64 {
        self.rate_limited[decision as usize]
    }

    /// Queries acted on by client limits as `action`.
    pub fn client_limited(&self, action: ClientLimited) -> u64 {
        self.client_limited[action as usize]
    }

    /// Dynamic blocks started.
    pub fn dynamic_blocks(&self) -> u64 {
        self.dynamic_blocks
    }

    /// Connections accepted on `transport`.
    pub fn connections(&self, transport: Transport) -> u64 {
        self.conn_opened[transport as usize]
    }

    /// Connections open now on `transport`: accepted minus closed.
    pub fn connections_open(&self, transport: Transport) -> u64 {
        let t = transport as usize;
        self.conn_opened[t].saturating_sub(self.conn_closed[t])
    }

    /// Connections on `transport` refused for `reason`.
    pub fn connections_rejected(&self, transport: Transport, reason: TcpReject) -> u64 {
        self.conn_rejected[transport as usize][reason as usize]
    }

    /// Reloads that ended with `result`.
    pub fn reloads(&self, result: ReloadResult) -> u64 {
        self.reloads[result as usize]
    }
}
