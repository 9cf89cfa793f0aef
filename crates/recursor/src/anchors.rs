//! The trust anchors the validator starts chains of trust from: fixed ones from the
//! configuration, or ones kept up to date by RFC 5011 ([`ManagedAnchors`]).
//!
//! With automated updates, the drivers of one process share one [`ManagedAnchors`]: the RFC
//! 5011 state ([`dnssec::autotrust::AutoTrust`]), the anchors it currently trusts, and when each
//! tracked zone's DNSKEY RRset is to be checked again. Every validated DNSKEY RRset of a
//! tracked zone is a check (`observe`), whoever asked for it; the I/O layer asks for the ones
//! that are due (`due`) so that a zone nobody queries is still checked on RFC 5011's schedule.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use dnssec::TrustAnchors;
use dnssec::autotrust::{AutoTrust, query_interval, retry_interval};
use wire::{Name, NameRef};

/// What the RFC 5011 state needs a lock for.
#[derive(Debug)]
struct Managed {
    trust: AutoTrust,
    anchors: Arc<TrustAnchors>,
    /// Per tracked zone, when (seconds since 1970) its DNSKEY RRset is next checked.
    next_check: HashMap<Name, u64>,
    /// Saving the state file failed (the last error), for the operator.
    save_error: Option<String>,
}

/// RFC 5011 trust anchors shared by the drivers; cheap to clone.
#[derive(Clone, Debug)]
pub struct ManagedAnchors {
    inner: Arc<Mutex<Managed>>,
}

impl ManagedAnchors {
    /// Starts managing the anchors of `trust`: every zone is due for a check at once.
    pub fn new(trust: AutoTrust) -> ManagedAnchors {
        let anchors = Arc::new(trust.anchors());
        let next_check = trust.zones().map(|z| (z.clone(), 0)).collect();
        ManagedAnchors {
            inner: Arc::new(Mutex::new(Managed {
                trust,
                anchors,
                next_check,
                save_error: None,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Managed> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The anchors trusted now.
    pub fn anchors(&self) -> Arc<TrustAnchors> {
        Arc::clone(&self.lock().anchors)
    }

    /// Whether `zone` is tracked.
    pub fn tracks(&self, zone: NameRef<'_>) -> bool {
        self.lock().next_check.contains_key(&zone.to_name())
    }

    /// A validated DNSKEY RRset of `zone` with the smallest TTL `ttl` and its signatures'
    /// latest expiry `sig_expiry`: the RFC 5011 check. `self_signed_by` says whether a key
    /// signs the RRset. Saves the state file when a key changed state, or when there is no file
    /// yet: from the first check on, the file decides, and a file that cannot be written shows
    /// then rather than at the next rollover.
    pub fn observe(
        &self,
        zone: NameRef<'_>,
        dnskeys: &[Vec<u8>],
        self_signed_by: impl Fn(&[u8]) -> bool,
        ttl: u32,
        sig_expiry: u64,
        now_unix: u64,
    ) {
        let mut m = self.lock();
        if !m.next_check.contains_key(&zone.to_name()) {
            return;
        }
        if m.trust.observe(zone, dnskeys, self_signed_by, now_unix) || !m.trust.path().exists() {
            m.anchors = Arc::new(m.trust.anchors());
            m.save_error = m.trust.save().err().map(|e| e.to_string());
        }
        let next = now_unix + query_interval(ttl, sig_expiry, now_unix);
        m.next_check.insert(zone.to_name(), next);
    }

    /// The tracked zones whose check is due at `now_unix`. Each is given the retry interval
    /// (RFC 5011 section 2.3) until its check succeeds.
    pub fn due(&self, now_unix: u64) -> Vec<Name> {
        let mut m = self.lock();
        let mut out = Vec::new();
        for (zone, next) in m.next_check.iter_mut() {
            if *next <= now_unix {
                *next = now_unix + retry_interval(3600, now_unix + 86_400, now_unix);
                out.push(zone.clone());
            }
        }
        out
    }

    /// The last error saving the state file, if the last save failed.
    pub fn save_error(&self) -> Option<String> {
        self.lock().save_error.clone()
    }
}

/// Where the validator takes its anchors from.
#[derive(Clone, Debug)]
pub enum Anchors {
    /// Fixed: the built-in root anchors or the configured ones.
    Fixed(Arc<TrustAnchors>),
    /// Kept up to date by RFC 5011.
    Managed(ManagedAnchors),
}

impl Anchors {
    /// The anchors to use now.
    pub fn current(&self) -> Arc<TrustAnchors> {
        match self {
            Anchors::Fixed(a) => Arc::clone(a),
            Anchors::Managed(m) => m.anchors(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn due_zones_wait_for_the_retry_interval() {
        let dir = std::env::temp_dir().join(format!("portcullis-anchors-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("state");
        let trust = AutoTrust::load_or_init(&path, &TrustAnchors::builtin_root()).unwrap();
        let managed = ManagedAnchors::new(trust);
        assert!(managed.tracks(Name::root().as_ref()));
        assert_eq!(managed.due(1_000_000), vec![Name::root()]);
        // Not again until the retry interval (an hour at least) passed.
        assert!(managed.due(1_000_100).is_empty());
        assert_eq!(managed.due(1_000_000 + 3600), vec![Name::root()]);
        assert!(!managed.anchors().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
