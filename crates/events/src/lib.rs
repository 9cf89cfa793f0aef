//! The security event stream: what an IDS needs to know about the policies that acted.
//!
//! Every policy action (a blocked name, a rate-limited response, a dynamic block, an ACL
//! refusal, a cookie failure, a spoofed upstream answer, a resolver limit) is an [`Event`]
//! handed to [`Events::emit`]. Emitting counts the action (read by `/metrics`) and, when a sink
//! is configured, moves the event into a bounded queue without blocking: one writer thread
//! ([`writer`]) turns events into JSON lines (a file or standard output) and syslog datagrams
//! (RFC 5424 over a Unix datagram socket). When the queue is full the event is dropped and
//! counted; a flood of one action is capped at `max_per_second` events a second, the rest
//! counted as suppressed. The hot path never waits for a disk.

#![forbid(unsafe_code)]

mod event;
mod format;
pub mod recent;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use event::{Action, Event};
pub use recent::{Recent, Recorded};
pub use writer::{EventsConfig, Sink};

/// The handle every part of the server emits through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Events {
    counters: Arc<Counters>,
    /// The writer's queue, when a sink is configured. The writer ends when every sender is
    /// gone.
    queue: Option<SyncSender<Event>>,
    /// The dashboard's ring of recent events, when it is on.
    recent: Option<Arc<Recent>>,
}

impl Default for Events {
    fn default() -> Events {
        Events::disabled()
    }
}

/// The stream's counters, shared by every handle and the writer.
#[derive(Debug)]
pub(crate) struct Counters {
    counts: [AtomicU64; Action::COUNT],
    /// Per action: the second (Unix time) of the current budget in the high 40 bits, events
    /// queued in that second in the low 24.
    budgets: [AtomicU64; Action::COUNT],
    max_per_second: u64,
    pub(crate) dropped: AtomicU64,
    suppressed: AtomicU64,
    pub(crate) written: AtomicU64,
}

/// The stream's counters, for `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFigures {
    /// Actions taken, in the order of [`Action::ALL`].
    pub actions: [u64; Action::COUNT],
    /// Events written to the sinks.
    pub written: u64,
    /// Events lost because the queue was full.
    pub dropped: u64,
    /// Events not queued because their action was over `max_per_second`.
    pub suppressed: u64,
}

const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

impl Events {
    /// A stream that counts actions and writes nothing: tests, and servers with no sink.
    pub fn disabled() -> Events {
        Events::with_queue(None, 0)
    }

    pub(crate) fn with_queue(queue: Option<SyncSender<Event>>, max_per_second: u64) -> Events {
        Events {
            queue,
            recent: None,
            counters: Arc::new(Counters {
                counts: std::array::from_fn(|_| AtomicU64::new(0)),
                budgets: std::array::from_fn(|_| AtomicU64::new(0)),
                max_per_second: max_per_second.min(COUNT_MASK),
                dropped: AtomicU64::new(0),
                suppressed: AtomicU64::new(0),
                written: AtomicU64::new(0),
            }),
        }
    }

    /// The counters, for the writer.
    pub(crate) fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Whether events go anywhere but the counters: callers may skip building details nobody
    /// will read.
    pub fn is_recording(&self) -> bool {
        self.queue.is_some() || self.recent.is_some()
    }

    /// This stream, also keeping its events in `recent` (the dashboard's feed). Set it before
    /// the handle is cloned: clones made earlier do not feed the ring.
    pub fn with_recent(mut self, recent: Arc<Recent>) -> Events {
        self.recent = Some(recent);
        self
    }

    /// Counts `event`'s action and queues the event for the writer, never blocking.
    pub fn emit(&self, event: Event) {
        self.emit_with(event.action, || event);
    }

    /// Counts `action` and, only when the event will be queued (a sink is configured and the
    /// action is within its budget), builds it with `build` and queues it. Callers on the
    /// query path use this, so that the event's copy of the name and its detail cost nothing
    /// when no sink is configured or a flood is over its budget.
    pub fn emit_with(&self, action: Action, build: impl FnOnce() -> Event) {
        let inner = &*self.counters;
        let index = action.index();
        if let Some(count) = inner.counts.get(index) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if self.queue.is_none() && self.recent.is_none() {
            return;
        }
        if !self.take_budget(index) {
            inner.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let event = build();
        debug_assert_eq!(event.action, action, "the event is of the action counted");
        if let Some(recent) = &self.recent {
            recent.push(&event);
        }
        let Some(queue) = &self.queue else { return };
        match queue.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Takes one event from the action's budget for this second.
    fn take_budget(&self, index: usize) -> bool {
        let Some(budget) = self.counters.budgets.get(index) else {
            return false;
        };
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut current = budget.load(Ordering::Relaxed);
        loop {
            let (at, used) = (current >> COUNT_BITS, current & COUNT_MASK);
            let next = if at == second {
                if used >= self.counters.max_per_second {
                    return false;
                }
                current + 1
            } else {
                (second << COUNT_BITS) | 1
            };
            match budget.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// How many times `action` was taken.
    pub fn count(&self, action: Action) -> u64 {
        self.counters
            .counts
            .get(action.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Every counter of the stream.
    pub fn figures(&self) -> EventFigures {
        let inner = &*self.counters;
        EventFigures {
            actions: std::array::from_fn(|i| {
                inner.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
            }),
            written: inner.written.load(Ordering::Relaxed),
            dropped: inner.dropped.load(Ordering::Relaxed),
            suppressed: inner.suppressed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn disabled_counts_only() {
        let events = Events::disabled();
        assert!(!events.is_recording());
        events.emit(Event::new(Action::Blocked, "blocklist"));
        events.emit(Event::new(Action::Blocked, "blocklist"));
        events.emit(Event::new(Action::AclDropped, "acl query"));
        assert_eq!(events.count(Action::Blocked), 2);
        assert_eq!(events.count(Action::AclDropped), 1);
        assert_eq!(events.count(Action::RateLimited), 0);
        assert_eq!(events.figures().dropped, 0);
    }

    #[test]
    fn emit_with_builds_the_event_only_when_it_is_queued() {
        let built = std::cell::Cell::new(0);
        let build = || {
            built.set(built.get() + 1);
            Event::new(Action::Blocked, "blocklist")
        };
        let disabled = Events::disabled();
        disabled.emit_with(Action::Blocked, build);
        assert_eq!((disabled.count(Action::Blocked), built.get()), (1, 0));

        let (tx, rx) = sync_channel(10);
        let events = Events::with_queue(Some(tx), 2);
        for _ in 0..5 {
            events.emit_with(Action::Blocked, build);
        }
        // The second may turn between emits: at most one more budget.
        assert!((2..=4).contains(&built.get()), "{}", built.get());
        assert_eq!(rx.try_iter().count(), built.get());
        assert_eq!(events.count(Action::Blocked), 5);
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (tx, rx) = sync_channel(2);
        let events = Events::with_queue(Some(tx), 1000);
        for _ in 0..5 {
            events.emit(Event::new(Action::RateLimited, "rrl-drop"));
        }
        assert_eq!(rx.try_iter().count(), 2);
        let f = events.figures();
        assert_eq!(f.dropped, 3);
        assert_eq!(f.actions[Action::RateLimited.index()], 5);
    }

    #[test]
    fn one_action_is_capped_per_second_and_others_are_not() {
        let (tx, rx) = sync_channel(100);
        let events = Events::with_queue(Some(tx), 3);
        for _ in 0..10 {
            events.emit(Event::new(Action::RateLimited, "rrl-drop"));
        }
        events.emit(Event::new(Action::Blocked, "blocklist"));
        let queued: Vec<Event> = rx.try_iter().collect();
        // The second may turn between emits: at most one more budget.
        assert!((4..=7).contains(&queued.len()), "{}", queued.len());
        assert!(queued.iter().any(|e| e.action == Action::Blocked));
        assert_eq!(
            events.figures().suppressed + queued.len() as u64,
            11,
            "every event is queued or suppressed"
        );
    }
}
