//! The table of open connections: how many there are, how many per client address, and for
//! each one when it was last active and whether anything is in flight, so that at the limit
//! the connection idle the longest can be closed to make room (RFC 7766 section 6.2.2).
//!
//! The table is a slab of at most `max_connections` slots behind a lock taken only when a
//! connection opens or closes. A connection's activity lives in its [`ConnState`], atomics that
//! the connection updates without the lock and the table reads when it looks for a victim.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use metrics::TcpReject;
use tokio::sync::Notify;

// ---------------------------------------------------------------------------------------------
// ConnState
// ---------------------------------------------------------------------------------------------

/// What the table knows of one connection, updated by the connection itself.
#[derive(Debug)]
pub(crate) struct ConnState {
    /// When the table was created: the origin of `last_activity`.
    epoch: Instant,
    /// Microseconds from `epoch` to the last complete query read or response written.
    last_activity: AtomicU64,
    /// Responses queued and not yet written, plus transfers not yet fully queued.
    pending: AtomicUsize,
    /// Fired when the table closes the connection to make room for another.
    pub(crate) evicted: Notify,
}

impl ConnState {
    fn new(epoch: Instant) -> ConnState {
        let state = ConnState {
            epoch,
            last_activity: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            evicted: Notify::new(),
        };
        state.touch();
        state
    }

    /// Notes activity now: a complete query read or a response written.
    pub(crate) fn touch(&self) {
        let us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_activity.store(us, Ordering::Relaxed);
    }

    /// When the connection was last active.
    pub(crate) fn last_activity(&self) -> Instant {
        self.epoch + Duration::from_micros(self.last_activity.load(Ordering::Relaxed))
    }

    /// Notes `n` more responses or transfers owed.
    pub(crate) fn add_pending(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// Notes `n` responses or transfers done.
    pub(crate) fn sub_pending(&self, n: usize) {
        // Saturating, so that a miscount can never wrap into "busy forever".
        let _ = self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                Some(p.saturating_sub(n))
            });
    }

    /// Whether nothing is owed to the client.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.load(Ordering::Relaxed) == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Table
// ---------------------------------------------------------------------------------------------

/// The open connections; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Table {
    epoch: Instant,
    max_connections: usize,
    max_per_client: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    per_client: HashMap<IpAddr, usize>,
}

#[derive(Debug)]
struct Slot {
    /// Bumped each time the slot is emptied, so a stale ticket frees nothing.
    generation: u64,
    entry: Option<Entry>,
}

#[derive(Debug)]
struct Entry {
    client: IpAddr,
    state: Arc<ConnState>,
}

/// The table's decision on a new connection.
#[derive(Debug)]
pub(crate) enum Admit {
    /// Serve it; the ticket frees its slot when dropped.
    Accept(Ticket),
    /// Close it.
    Reject(TcpReject),
}

impl Table {
    pub(crate) fn new(max_connections: usize, max_per_client: usize) -> Table {
        Table {
            epoch: Instant::now(),
            max_connections,
            max_per_client,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Decides on a connection from `client`: over the per-client limit it is rejected; at the
    /// total limit the connection idle the longest is evicted for it, or, when none is idle, it
    /// is rejected.
    pub(crate) fn admit(table: &Arc<Table>, client: IpAddr) -> Admit {
        let client = client.to_canonical();
        let mut inner = table.lock();
        if inner.per_client.get(&client).copied().unwrap_or(0) >= table.max_per_client {
            return Admit::Reject(TcpReject::ClientLimit);
        }
        if inner.live >= table.max_connections && !inner.evict_idlest() {
            return Admit::Reject(TcpReject::TotalLimit);
        }
        let state = Arc::new(ConnState::new(table.epoch));
        let index = match inner.free.pop() {
            Some(i) => i,
            None => {
                inner.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                inner.slots.len() - 1
            }
        };
        let Some(slot) = inner.slots.get_mut(index) else {
            // The index came from the free list or the push just above.
            return Admit::Reject(TcpReject::TotalLimit);
        };
        slot.entry = Some(Entry {
            client,
            state: state.clone(),
        });
        let generation = slot.generation;
        inner.live += 1;
        *inner.per_client.entry(client).or_insert(0) += 1;
        Admit::Accept(Ticket {
            table: table.clone(),
            index,
            generation,
            state,
        })
    }

    /// Connections in the table now (evicted ones not counted).
    #[cfg(test)]
    fn live(&self) -> usize {
        self.lock().live
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change under the lock is completed before anything that could panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Evicts the connection with nothing in flight that has been quiet the longest; false
    /// when every connection is busy.
    fn evict_idlest(&mut self) -> bool {
        let victim = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.entry.as_ref().map(|e| (i, e)))
            .filter(|(_, e)| e.state.is_idle())
            .min_by_key(|(_, e)| e.state.last_activity())
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                if let Some(entry) = self.remove(i) {
                    entry.state.evicted.notify_one();
                }
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, index: usize) -> Option<Entry> {
        let slot = self.slots.get_mut(index)?;
        let entry = slot.entry.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.live = self.live.saturating_sub(1);
        if let Some(n) = self.per_client.get_mut(&entry.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&entry.client);
            }
        }
        Some(entry)
    }
}

// ---------------------------------------------------------------------------------------------
// Ticket
// ---------------------------------------------------------------------------------------------

/// A connection's place in the table, freed when dropped (unless the table already evicted it).
#[derive(Debug)]
pub(crate) struct Ticket {
    table: Arc<Table>,
    index: usize,
    generation: u64,
    state: Arc<ConnState>,
}

impl Ticket {
    /// The slot number: stable while the connection lives, small, reused after it.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The connection's shared state.
    pub(crate) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        let current = inner
            .slots
            .get(self.index)
            .is_some_and(|s| s.generation == self.generation && s.entry.is_some());
        if current {
            inner.remove(self.index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn accept(table: &Arc<Table>, client: &str) -> Ticket {
        match Table::admit(table, ip(client)) {
            Admit::Accept(t) => t,
            Admit::Reject(r) => panic!("rejected: {r:?}"),
        }
    }

    #[test]
    fn per_client_limit() {
        let table = Arc::new(Table::new(10, 2));
        let a = accept(&table, "192.0.2.1");
        let _b = accept(&table, "192.0.2.1");
        assert!(matches!(
            Table::admit(&table, ip("192.0.2.1")),
            Admit::Reject(TcpReject::ClientLimit)
        ));
        // A mapped address is the same client.
        assert!(matches!(
            Table::admit(&table, ip("::ffff:192.0.2.1")),
            Admit::Reject(TcpReject::ClientLimit)
        ));
        let _c = accept(&table, "192.0.2.2");
        drop(a);
        let _d = accept(&table, "192.0.2.1");
        assert_eq!(table.live(), 3);
    }

    #[test]
    fn evicts_the_idlest_at_the_limit() {
        let table = Arc::new(Table::new(2, 10));
        let old = accept(&table, "192.0.2.1");
        std::thread::sleep(Duration::from_millis(2));
        let young = accept(&table, "192.0.2.2");
        let _new = accept(&table, "192.0.2.3");
        assert_eq!(table.live(), 2);
        // The old one was told to close; its ticket no longer frees a slot.
        let state = old.state().clone();
        let evicted = state.evicted.notified();
        tokio::pin!(evicted);
        assert!(poll_once(evicted.as_mut()), "the idlest was not evicted");
        drop(old);
        assert_eq!(table.live(), 2);
        // Busy connections are never evicted.
        young.state().add_pending(1);
        let _newer = accept(&table, "192.0.2.4");
        assert!(!young.state().is_idle());
        assert_eq!(table.live(), 2);
    }

    #[test]
    fn rejects_when_all_are_busy() {
        let table = Arc::new(Table::new(1, 10));
        let busy = accept(&table, "192.0.2.1");
        busy.state().add_pending(1);
        assert!(matches!(
            Table::admit(&table, ip("192.0.2.2")),
            Admit::Reject(TcpReject::TotalLimit)
        ));
        busy.state().sub_pending(1);
        let _next = accept(&table, "192.0.2.2");
    }

    /// Polls a future once with a no-op waker.
    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        f.poll(&mut cx).is_ready()
    }
}
