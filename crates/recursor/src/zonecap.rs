//! Random-subdomain ("water torture") defence: a cap on upstream queries to a zone whose
//! NXDOMAIN rate spikes.
//!
//! The attack sends a resolver questions for random names under one victim zone
//! (`x7f3k.example.com`, `q9a2z.example.com`, ...). None is in the cache, every one makes the
//! resolver ask the zone's servers, and every answer is NXDOMAIN: the resolver turns a botnet's
//! queries into a flood on the victim's authoritative servers, which fall over, and then every
//! resolver waiting on them suffers too.
//!
//! Two defences, in order:
//!
//! 1. **Aggressive use of the DNSSEC-validated cache** (RFC 8198, [`crate::aggressive`]): when
//!    the zone is signed, one NSEC or NSEC3 record proves a whole range of names absent, so
//!    most random names are answered NXDOMAIN without asking anyone. This is tried before any
//!    upstream query, for every question.
//! 2. **A cap per zone** ([`ZoneCap`]): the NXDOMAIN answers from each zone (the delegation
//!    that answered: its cut, such as `example.com.`) are counted over a sliding second. When
//!    a zone's rate goes above [`ZoneCapConfig::nxdomains_per_second`], the zone is *capped*
//!    for [`ZoneCapConfig::hold`] seconds (extended while the rate stays high): at most
//!    [`ZoneCapConfig::queries_per_second`] upstream queries a second go to its servers, all
//!    of them together, from every driver of the process. A question that would send more ends
//!    with SERVFAIL and an Extended DNS Error ([`crate::LimitKind::ZoneCap`]), unless the cache
//!    or the aggressive NSEC index answers it first. Questions in other zones are not touched,
//!    and names of the capped zone already cached are still answered.
//!
//! Zones asked through a forwarder are never capped: the forward zone (often `.`) is no
//! delegation, and capping it would cap everything.
//!
//! # The table
//!
//! [`ZoneCapConfig::table_size`] entries, one zone each, chosen by a keyed hash of the zone's
//! lowercased name; a zone whose entry holds another zone that is capped at the time is not
//! tracked until that cap ends (a capped zone is never evicted by another). One lock guards
//! the table, taken once per NXDOMAIN answer and, while some zone is capped, once per upstream
//! query; while no zone is capped an upstream query reads one atomic word and takes no lock.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use wire::Name;

/// The settings of [`ZoneCap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneCapConfig {
    /// NXDOMAIN answers per second from one zone above which it is capped (at least 1).
    pub nxdomains_per_second: u32,
    /// Upstream queries per second to a capped zone's servers, together (at least 1).
    pub queries_per_second: u32,
    /// Seconds a zone stays capped after its NXDOMAIN rate was last above the threshold.
    pub hold: u32,
    /// Zones tracked at once.
    pub table_size: usize,
}

impl Default for ZoneCapConfig {
    fn default() -> ZoneCapConfig {
        ZoneCapConfig {
            nxdomains_per_second: 100,
            queries_per_second: 20,
            hold: 60,
            table_size: 4096,
        }
    }
}

/// Whether an upstream query may go to a zone's servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Send it.
    Send,
    /// The zone is capped and this second's queries are spent.
    Capped,
}

/// One zone's counts.
#[derive(Clone, Debug)]
struct Entry {
    zone: Name,
    /// The second the NXDOMAIN counts belong to, and the counts of that second and the one
    /// before.
    nx_second: u64,
    nx_current: u32,
    nx_previous: u32,
    /// Capped until this time (ms); 0 when never capped.
    capped_until: u64,
    /// The second the query count belongs to, and the upstream queries sent in it.
    query_second: u64,
    queries: u32,
}

#[derive(Debug)]
struct Inner {
    config: ZoneCapConfig,
    table: Mutex<Vec<Option<Entry>>>,
    /// The latest end of any cap (ms): no zone is capped after it.
    latest_cap: AtomicU64,
    hasher: RandomState,
}

/// The random-subdomain defence's shared state: see the [module docs](self). Cheap to clone;
/// clones share the table (every driver of a process uses one).
#[derive(Clone, Debug)]
pub struct ZoneCap {
    inner: Arc<Inner>,
}

impl ZoneCap {
    /// An empty table of `config.table_size` entries (at least 1).
    pub fn new(config: ZoneCapConfig) -> ZoneCap {
        let size = config.table_size.max(1);
        ZoneCap {
            inner: Arc::new(Inner {
                config,
                table: Mutex::new(vec![None; size]),
                latest_cap: AtomicU64::new(0),
                hasher: RandomState::new(),
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> ZoneCapConfig {
        self.inner.config
    }

    /// An NXDOMAIN answer came from `zone`'s servers at `now_ms`. Returns true when this
    /// starts a cap of the zone (it was not capped).
    pub fn on_nxdomain(&self, zone: &Name, now_ms: u64) -> bool {
        let config = self.inner.config;
        let index = self.index(zone);
        let mut table = self.lock();
        let Some(slot) = table.get_mut(index) else {
            return false;
        };
        let second = now_ms / 1000;
        match slot {
            Some(e) if e.zone == *zone => {}
            Some(e) if e.capped_until > now_ms => return false,
            _ => {
                *slot = Some(Entry {
                    zone: zone.clone(),
                    nx_second: second,
                    nx_current: 0,
                    nx_previous: 0,
                    capped_until: 0,
                    query_second: 0,
                    queries: 0,
                });
            }
        }
        let Some(e) = slot.as_mut() else {
            return false;
        };
        if e.nx_second != second {
            e.nx_previous = if e.nx_second + 1 == second {
                e.nx_current
            } else {
                0
            };
            e.nx_current = 0;
            e.nx_second = second;
        }
        e.nx_current = e.nx_current.saturating_add(1);
        // The previous second weighted by how much of it the last second still covers.
        let into = now_ms % 1000;
        let rate = u64::from(e.nx_previous) * (1000 - into) / 1000 + u64::from(e.nx_current);
        if rate <= u64::from(config.nxdomains_per_second.max(1)) {
            return false;
        }
        let starts = e.capped_until <= now_ms;
        e.capped_until = now_ms + u64::from(config.hold.max(1)) * 1000;
        self.inner
            .latest_cap
            .fetch_max(e.capped_until, Ordering::Relaxed);
        starts
    }

    /// Whether one more upstream query may go to `zone`'s servers at `now_ms`; counts it when
    /// the zone is capped and it may.
    pub fn admit(&self, zone: &Name, now_ms: u64) -> Admit {
        if self.inner.latest_cap.load(Ordering::Relaxed) <= now_ms {
            return Admit::Send;
        }
        let index = self.index(zone);
        let mut table = self.lock();
        let Some(Some(e)) = table.get_mut(index) else {
            return Admit::Send;
        };
        if e.zone != *zone || e.capped_until <= now_ms {
            return Admit::Send;
        }
        let second = now_ms / 1000;
        if e.query_second != second {
            e.query_second = second;
            e.queries = 0;
        }
        if e.queries >= self.inner.config.queries_per_second.max(1) {
            return Admit::Capped;
        }
        e.queries += 1;
        Admit::Send
    }

    /// Whether `zone` is capped at `now_ms`.
    pub fn is_capped(&self, zone: &Name, now_ms: u64) -> bool {
        if self.inner.latest_cap.load(Ordering::Relaxed) <= now_ms {
            return false;
        }
        let index = self.index(zone);
        let table = self.lock();
        matches!(table.get(index), Some(Some(e)) if e.zone == *zone && e.capped_until > now_ms)
    }

    fn index(&self, zone: &Name) -> usize {
        let mut h = self.inner.hasher.build_hasher();
        for b in zone.as_ref().as_wire() {
            h.write_u8(b.to_ascii_lowercase());
        }
        let len = self.inner.config.table_size.max(1) as u64;
        usize::try_from(h.finish() % len).unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<Entry>>> {
        // The table holds counts only: one left half-updated by a panic is still usable.
        self.inner
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn cap(nx: u32, q: u32) -> ZoneCap {
        ZoneCap::new(ZoneCapConfig {
            nxdomains_per_second: nx,
            queries_per_second: q,
            hold: 10,
            table_size: 64,
        })
    }

    #[test]
    fn a_spike_caps_the_zone_and_the_cap_holds_per_second() {
        let c = cap(10, 3);
        let zone = name("victim.example.");
        // Ten a second is allowed; the eleventh within the second starts the cap, once.
        let starts: Vec<bool> = (0..15).map(|i| c.on_nxdomain(&zone, 5000 + i)).collect();
        assert_eq!(starts.iter().filter(|s| **s).count(), 1);
        assert!(starts[10]);
        assert!(c.is_capped(&name("VICTIM.example."), 5100));
        let sent = (0..10)
            .filter(|i| c.admit(&zone, 5100 + i) == Admit::Send)
            .count();
        assert_eq!(sent, 3);
        // The next second has its own three.
        let sent = (0..10)
            .filter(|i| c.admit(&zone, 6000 + i) == Admit::Send)
            .count();
        assert_eq!(sent, 3);
        // Other zones are not touched.
        assert_eq!(c.admit(&name("other.example."), 5100), Admit::Send);
        // The cap ends `hold` seconds after the last spike.
        assert!(c.is_capped(&zone, 15_013));
        assert!(!c.is_capped(&zone, 15_014));
        assert_eq!(c.admit(&zone, 15_014), Admit::Send);
    }

    #[test]
    fn a_steady_rate_under_the_threshold_never_caps() {
        let c = cap(10, 1);
        let zone = name("dnsbl.example.");
        for ms in (0..60_000).step_by(110) {
            assert!(!c.on_nxdomain(&zone, ms));
        }
        assert!(!c.is_capped(&zone, 60_000));
    }

    #[test]
    fn a_capped_zone_is_not_evicted() {
        let c = ZoneCap::new(ZoneCapConfig {
            nxdomains_per_second: 1,
            queries_per_second: 1,
            hold: 10,
            table_size: 1,
        });
        let zone = name("victim.example.");
        assert!(!c.on_nxdomain(&zone, 0));
        assert!(c.on_nxdomain(&zone, 1));
        for i in 0..10 {
            assert!(!c.on_nxdomain(&name(&format!("z{i}.example.")), 2));
        }
        assert!(c.is_capped(&zone, 100));
        // After the cap, another zone takes the entry.
        let other = name("other.example.");
        assert!(!c.on_nxdomain(&other, 20_000));
        assert!(c.on_nxdomain(&other, 20_001));
        assert!(!c.is_capped(&zone, 20_001));
    }
}
