//! The observability streams `serve` starts once and keeps until exit: the query log
//! (`[query_log]`). Their writers run on threads of their own; a reload reopens their files
//! (after log rotation) and names a changed section, which applies after a restart.

use events::query::{QueryLog, QueryLogConfig};
use events::writer::Reopen;
use metrics::SecurityFigures;

use crate::config::Config;

/// The running streams.
#[derive(Debug)]
pub struct Streams {
    query_log: Option<(QueryLog, Reopen)>,
    started_query_log: QueryLogConfig,
}

impl Streams {
    /// Opens the outputs `config` asks for and starts their writers; an error names the
    /// stream and the file.
    pub fn start(config: &Config) -> Result<Streams, String> {
        let query_log = QueryLog::start(&config.query_log)
            .map_err(|e| format!("{}: query_log: {e}", config.label))?;
        if let Some(sink) = &config.query_log.sink {
            tracing::info!(?sink, sample = config.query_log.sample, "query log on");
        }
        Ok(Streams {
            query_log,
            started_query_log: config.query_log.clone(),
        })
    }

    /// The query log's handle for the transports, when it is on.
    pub fn query_log(&self) -> Option<QueryLog> {
        self.query_log.as_ref().map(|(log, _)| log.clone())
    }

    /// Asks every writer to reopen its file (on reload, after rotation).
    pub fn reopen(&self) {
        if let Some((_, reopen)) = &self.query_log {
            reopen.request();
        }
    }

    /// The sections that changed since the start and wait for a restart.
    pub fn restart_only_changes(&self, config: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if config.query_log != self.started_query_log {
            changed.push("[query_log]");
        }
        changed
    }
}

/// Fills the streams' counters of `figures` from `query_log` (zeros when off).
pub fn figures(query_log: Option<&QueryLog>, figures: &mut SecurityFigures) {
    if let Some(log) = query_log {
        let (written, dropped, suppressed) = log.figures();
        figures.query_log_written = written;
        figures.query_log_dropped = dropped;
        figures.query_log_suppressed = suppressed;
    }
}
