//! The tunnelling detector's figures, read at scrape time from a source the server sets.

/// What the detector and the engine's detection hooks have counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DetectFigures {
    /// Cache misses scored by the query model.
    pub scored: u64,
    /// Alerts, as (kind, mode, count): every kind and mode listed, zeros included.
    pub alerts: Vec<(&'static str, &'static str, u64)>,
    /// Answers enforcing a verdict, by action: every action listed, zeros included.
    pub enforced: Vec<(&'static str, u64)>,
    /// Registered domains tracked now.
    pub domains_tracked: u64,
    /// Verdicts standing now.
    pub verdicts_active: u64,
    /// Domains the operator allowed (`ctl allow-domain`).
    pub allowed: u64,
}

/// Where the registry reads the detector's figures.
pub type DetectSource = Box<dyn Fn() -> DetectFigures + Send + Sync>;
