//! The observability streams `serve` starts once and keeps until exit: the query log
//! (`[query_log]`) and dnstap (`[dnstap]`). Their writers run on threads of their own; a reload reopens their files
//! (after log rotation) and names a changed section, which applies after a restart.

use events::dnstap::{Dnstap, DnstapConfig};
use events::query::{QueryLog, QueryLogConfig};
use events::writer::Reopen;
use metrics::SecurityFigures;

use crate::config::Config;

/// The running streams.
#[derive(Debug)]
pub struct Streams {
    query_log: Option<(QueryLog, Reopen)>,
    started_query_log: QueryLogConfig,
    dnstap: Option<(Dnstap, Reopen)>,
    started_dnstap: DnstapConfig,
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
        let dnstap =
            Dnstap::start(&config.dnstap).map_err(|e| format!("{}: dnstap: {e}", config.label))?;
        if let Some(output) = &config.dnstap.output {
            tracing::info!(
                ?output,
                client = config.dnstap.client,
                resolver = config.dnstap.resolver,
                "dnstap on"
            );
        }
        Ok(Streams {
            query_log,
            started_query_log: config.query_log.clone(),
            dnstap,
            started_dnstap: config.dnstap.clone(),
        })
    }

    /// dnstap's handle for the transports and the resolver, when it is on.
    pub fn dnstap(&self) -> Option<Dnstap> {
        self.dnstap.as_ref().map(|(tap, _)| tap.clone())
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
        if let Some((_, reopen)) = &self.dnstap {
            reopen.request();
        }
    }

    /// The sections that changed since the start and wait for a restart.
    pub fn restart_only_changes(&self, config: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if config.query_log != self.started_query_log {
            changed.push("[query_log]");
        }
        if config.dnstap != self.started_dnstap {
            changed.push("[dnstap]");
        }
        changed
    }
}

/// Fills the streams' counters of `figures` from `query_log` and `dnstap` (zeros when off).
pub fn figures(
    query_log: Option<&QueryLog>,
    dnstap: Option<&Dnstap>,
    figures: &mut SecurityFigures,
) {
    if let Some(tap) = dnstap {
        (figures.dnstap_written, figures.dnstap_dropped) = tap.figures();
    }
    if let Some(log) = query_log {
        let (written, dropped, suppressed) = log.figures();
        figures.query_log_written = written;
        figures.query_log_dropped = dropped;
        figures.query_log_suppressed = suppressed;
    }
}
