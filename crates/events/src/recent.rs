//! The recent-events ring: the last events emitted, numbered, for the dashboard's live feed
//! (`GET /api/events?after=SEQ`).
//!
//! Bounded: it holds at most `capacity` events and forgets the oldest. Events reach it as they
//! reach the sinks (after the per-action budget of `max_per_second`), so a flood cannot keep
//! the lock busy; a reader takes the lock once per poll.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Event;

/// One event as kept: its sequence number (from 1, never reused) and when it was emitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Its number: each event gets the next one.
    pub seq: u64,
    /// When it was emitted, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The event.
    pub event: Event,
}

/// The ring; share it (`Arc`) between [`Events`](crate::Events) and its reader.
#[derive(Debug)]
pub struct Recent {
    capacity: usize,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    last_seq: u64,
    items: VecDeque<Recorded>,
}

impl Recent {
    /// A ring of at most `capacity` events (at least one).
    pub fn new(capacity: usize) -> Recent {
        let capacity = capacity.max(1);
        Recent {
            capacity,
            ring: Mutex::new(Ring {
                last_seq: 0,
                items: VecDeque::with_capacity(capacity),
            }),
        }
    }

    /// How many events it keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keeps a copy of `event`, forgetting the oldest when full.
    pub fn push(&self, event: &Event) {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.items.len() >= self.capacity {
            ring.items.pop_front();
        }
        ring.last_seq += 1;
        let seq = ring.last_seq;
        ring.items.push_back(Recorded {
            seq,
            time_ms,
            event: event.clone(),
        });
    }

    /// The events numbered above `after`, oldest first, at most `limit` of the newest; and the
    /// last number given so far.
    pub fn after(&self, after: u64, limit: usize) -> (Vec<Recorded>, u64) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let newer = ring.items.iter().filter(|r| r.seq > after).count();
        let skip = ring.items.len() - newer + newer.saturating_sub(limit);
        (
            ring.items.iter().skip(skip).cloned().collect(),
            ring.last_seq,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    #[test]
    fn keeps_the_newest_and_numbers_them() {
        let recent = Recent::new(3);
        for reason in ["a", "b", "c", "d", "e"] {
            recent.push(&Event::new(Action::Blocked, reason));
        }
        let (all, last) = recent.after(0, 100);
        assert_eq!(last, 5);
        let seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        assert_eq!(all[0].event.reason, "c");
        let (newer, _) = recent.after(4, 100);
        assert_eq!(newer.len(), 1);
        assert_eq!(newer[0].event.reason, "e");
        let (limited, _) = recent.after(0, 2);
        assert_eq!(limited.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5]);
        assert!(recent.after(5, 10).0.is_empty());
    }
}
