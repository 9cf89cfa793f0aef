//! Metrics: per-worker counters and latency histograms with fixed label sets, summed when
//! scraped, exposed in the Prometheus text format.
//!
//! - [`Registry`]: one per process. [`Registry::worker`] hands each worker thread its own
//!   [`WorkerMetrics`]; [`Registry::set_zones`] and [`Registry::count_reload`] serve the reload
//!   path; [`Registry::render`] writes the exposition ([`expose`]); [`Registry::totals`] sums
//!   the counters for other readers (a control socket, tests).
//! - The resolver ([`resolver`]): each driver publishes [`ResolverFigures`] into its
//!   [`ResolverSlot`]; the cache's [`CacheFigures`] are read at scrape time.
//! - [`WorkerMetrics`]: counting on the query path costs a relaxed load and store of a counter
//!   only that worker writes: no lock, no atomic read-modify-write ([`worker`]).
//! - The labels are enums ([`labels`]): [`Transport`], [`QType`], [`Rcode`], [`DropReason`],
//!   [`TcpReject`], [`ReloadResult`]. Map a wire code with [`QType::from_code`] or
//!   [`Rcode::from_code`]; types and codes outside the common set count as `other`.
//!
//! Metric names follow the Prometheus conventions: counters end in `_total`, units are base
//! units (seconds), and every family carries HELP and TYPE lines.

#![forbid(unsafe_code)]

pub mod detect;
pub mod expose;
pub mod labels;
pub mod registry;
pub mod resolver;
pub mod security;
pub mod top;
pub mod worker;

pub use detect::{DetectFigures, DetectSource};
pub use expose::CONTENT_TYPE;
pub use labels::{
    ClientLimited, DropReason, QType, RateLimited, Rcode, ReloadResult, TcpReject, Transport,
};
pub use registry::{GaugeSource, Registry, Totals, ZoneStats};
pub use resolver::{
    CacheFigures, CacheSource, Limit, RecursionResult, ResolverFigures, ResolverSlot,
    UpstreamProtocol, UpstreamReject,
};
pub use security::{SecurityFigures, SecuritySource};
pub use top::{TopConfig, TopEntry, TopSnapshot, TopTables, TopWorker};
pub use worker::{LATENCY_BUCKETS, WorkerMetrics, latency_bound_ns, latency_bucket};
