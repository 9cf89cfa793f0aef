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
}
