//! The policies the transports apply, bundled so that every UDP worker, TCP connection and
//! resolver driver gets the same shared state with one argument.

use std::sync::Arc;

use events::Events;

/// Shared policy state: decisions come from the `guard` crate, actions are reported to the
/// security event stream. Cheap to clone (everything inside is shared).
#[derive(Clone, Debug, Default)]
pub struct Guards {
    /// Response rate limiting over UDP, when configured.
    pub rrl: Option<Arc<guard::Rrl>>,
    /// Where policy actions are reported.
    pub events: Events,
    /// Client limits and dynamic blocks (UDP and TCP), when configured.
    pub limits: Option<crate::limits::ClientLimits>,
    /// The dashboard's top-k tables (names, clients, blocked names), when it is served: each
    /// UDP worker and stream listener takes its own [`metrics::TopWorker`].
    pub top: Option<Arc<metrics::TopTables>>,
    /// The query log, when on: every response sent is offered to it.
    pub query_log: Option<events::query::QueryLog>,
    /// dnstap, when on: client queries and responses (and the resolver's, in its drivers).
    pub dnstap: Option<events::dnstap::Dnstap>,
}

impl Guards {
    /// Whether responses are logged or tapped: with neither on, a response costs this test.
    pub fn observing(&self) -> bool {
        self.query_log.is_some() || self.dnstap.is_some()
    }
}
