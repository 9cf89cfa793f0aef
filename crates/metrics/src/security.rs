//! The security event stream's counters, read at scrape time from a source the server sets.

/// What the security event stream has counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityFigures {
    /// Policy actions taken, by action name (every action listed, zeros included).
    pub actions: Vec<(&'static str, u64)>,
    /// Events written to the configured sinks.
    pub written: u64,
    /// Events lost because the writer's queue was full or a sink refused them.
    pub dropped: u64,
    /// Events not written because their action was over its per-second cap.
    pub suppressed: u64,
    /// Query log lines written.
    pub query_log_written: u64,
    /// Query log records lost: its queue was full or the file refused them.
    pub query_log_dropped: u64,
    /// Query log records over `query_log.rate`.
    pub query_log_suppressed: u64,
    /// dnstap frames written.
    pub dnstap_written: u64,
    /// dnstap records lost: the queue was full, or no reader was connected.
    pub dnstap_dropped: u64,
}

/// Where the registry reads the security figures.
pub type SecuritySource = Box<dyn Fn() -> SecurityFigures + Send + Sync>;
