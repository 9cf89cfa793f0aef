//! One shard of the cache: a hash table over a slab of entries, a byte budget, and S3-FIFO
//! eviction.
//!
//! # Why not LRU
//!
//! A resolver sees a small set of popular names asked again and again, and a long tail of names
//! asked once (mail logs resolved for spam checks, random subdomains from a water-torture attack,
//! a crawler). Under LRU every one-hit name goes to the head of the list and pushes popular ones
//! out: a scan as large as the cache empties it. S3-FIFO (Yang et al., "FIFO queues are all you
//! need for cache eviction", SOSP 2023) keeps three queues:
//!
//! - a **small** FIFO (about 10% of the bytes) where new entries start. An entry that leaves it
//!   without having been hit is dropped at once: one-hit wonders stay out of the main cache;
//! - a **main** FIFO for entries hit while in the small queue. An entry reaching the main queue's
//!   tail with hits left is moved back to its head, its counter decremented (a two-bit counter,
//!   so at most three more laps): CLOCK-like second chances;
//! - a **ghost** set remembering the hashes of entries dropped from the small queue. An entry
//!   that comes back soon after (it was evicted too early) goes straight to the main queue.
//!
//! A hit only increments the entry's atomic counter: no list is touched, so lookups run under a
//! shared read lock and many threads answer from one shard at once. Lists change only on insert
//! and eviction, under the write lock.
//!
//! # Accounting
//!
//! Every byte the shard owns on the heap counts against its budget: each entry's blob as the
//! allocator rounds it ([`Entry::heap_cost`]), plus the shard's structures at their *capacity*
//! (the slab of slots, the hash table's allocation, the ghost array). The structures grow by
//! doubling, so their cost jumps; eviction then makes room for the jump, and the free slots it
//! leaves are reused before anything grows again. Expired entries stay (they may be served
//! stale, RFC 8767) until eviction reaches them or they are past the stale window, in which case
//! eviction drops them first when it finds them.

use core::mem::size_of;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::HashTable;

use crate::entry::Entry;

/// "No slot": the end of a list.
const NIL: u32 = u32::MAX;
/// The smallest ghost array.
const MIN_GHOST: usize = 64;

/// A shard: its store under a lock, and counters readable without it. Aligned so that two
/// shards' locks never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Shard {
    store: RwLock<Store>,
    pub(crate) counters: Counters,
}

/// Event counters of one shard.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) inserts: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) expired: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    pub(crate) fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl Shard {
    /// A shard that may use `capacity` bytes.
    pub(crate) fn new(capacity: usize) -> Shard {
        Shard {
            store: RwLock::new(Store::new(capacity)),
            counters: Counters::default(),
        }
    }

    /// Shared access for lookups. A panic while the lock was held cannot leave the store
    /// inconsistent in a way that matters more than losing the cache, so poisoning is ignored.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access for changes.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which list a slot is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
    Free,
}

/// A slab slot: an entry and its links in a doubly linked list (the free list uses `next`).
#[derive(Debug)]
struct Slot {
    entry: Option<Entry>,
    prev: u32,
    next: u32,
    queue: Queue,
}

/// A FIFO queue threaded through the slab: new entries at the head, eviction at the tail.
#[derive(Debug)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
    bytes: usize,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
        bytes: 0,
    };
}

/// What an insert or an eviction did, for the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Whether the entry was stored.
    pub(crate) stored: bool,
    /// Entries evicted to make room.
    pub(crate) evicted: u64,
    /// Entries dropped because they were past use (expired beyond the stale window).
    pub(crate) expired: u64,
}

/// The entries of one shard. See the module docs.
#[derive(Debug)]
pub(crate) struct Store {
    /// Slot indexes, found by the key's hash and a comparison with the key in the entry.
    table: HashTable<u32>,
    slots: Vec<Slot>,
    /// Head of the free-slot list.
    free: u32,
    small: List,
    main: List,
    /// Hashes of entries dropped from the small queue, direct-mapped (a newer hash overwrites
    /// an older one in the same place). Its length is a power of two, at least the number of
    /// entries.
    ghost: Vec<u64>,
    /// Sum of the entries' heap costs.
    data_bytes: usize,
    capacity: usize,
}

impl Store {
    fn new(capacity: usize) -> Store {
        Store {
            table: HashTable::new(),
            slots: Vec::new(),
            free: NIL,
            small: List::EMPTY,
            main: List::EMPTY,
            ghost: Vec::new(),
            data_bytes: 0,
            capacity,
        }
    }

    /// Entries stored.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Heap bytes used: entries plus structures (see the module docs).
    pub(crate) fn bytes(&self) -> usize {
        self.data_bytes
            + self.slots.capacity() * size_of::<Slot>()
            + self.table.allocation_size()
            + self.ghost.capacity() * size_of::<u64>()
    }

    /// The entry with `key`.
    pub(crate) fn get(&self, hash: u64, key: &[u8]) -> Option<&Entry> {
        let idx = self.find(hash, key)?;
        self.entry(idx)
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.table
            .find(hash, |&i| {
                slots
                    .get(i as usize)
                    .and_then(|s| s.entry.as_ref())
                    .is_some_and(|e| e.key() == key)
            })
            .copied()
    }

    fn entry(&self, idx: u32) -> Option<&Entry> {
        self.slots.get(idx as usize)?.entry.as_ref()
    }

    /// Stores `entry`, replacing the entry with the same key when `may_replace` allows it, then
    /// evicts until the shard is within its budget. `dead` says which entries are past use.
    pub(crate) fn insert(
        &mut self,
        entry: Entry,
        may_replace: impl FnOnce(&Entry) -> bool,
        dead: impl Fn(&Entry) -> bool,
    ) -> Outcome {
        let cost = entry.heap_cost();
        if cost + size_of::<Slot>() > self.capacity {
            return Outcome::default();
        }
        let mut outcome = Outcome::default();
        let hash = entry.hash;
        let idx = match self.find(hash, entry.key()) {
            Some(idx) => {
                let Some(slot) = self.slots.get_mut(idx as usize) else {
                    return Outcome::default();
                };
                let Some(old) = slot.entry.as_ref() else {
                    return Outcome::default();
                };
                if !may_replace(old) {
                    return Outcome::default();
                }
                // Same key: the new data takes the old one's place in its queue, and keeps its
                // hits (it is the same question, still as popular).
                entry.set_freq(old.freq());
                let old_cost = old.heap_cost();
                let queue = slot.queue;
                slot.entry = Some(entry);
                self.data_bytes = self.data_bytes - old_cost + cost;
                let list = self.list_mut(queue);
                list.bytes = list.bytes - old_cost + cost;
                idx
            }
            None => {
                outcome = self.make_room(cost, &dead);
                let idx = self.alloc_slot(entry);
                let slots = &self.slots;
                self.table.insert_unique(hash, idx, |&i| {
                    slots
                        .get(i as usize)
                        .and_then(|s| s.entry.as_ref())
                        .map_or(0, |e| e.hash)
                });
                let queue = if self.ghost_take(hash) {
                    Queue::Main
                } else {
                    Queue::Small
                };
                self.push_head(queue, idx, cost);
                self.data_bytes += cost;
                self.grow_ghost();
                idx
            }
        };
        let after = self.evict_to_fit(idx, &dead);
        outcome.evicted += after.evicted;
        outcome.expired += after.expired;
        outcome.stored = self.entry(idx).is_some();
        outcome
    }

    /// Removes the entry with `key`; whether there was one.
    pub(crate) fn remove(&mut self, hash: u64, key: &[u8]) -> bool {
        match self.find(hash, key) {
            Some(idx) => {
                self.remove_slot(idx);
                true
            }
            None => false,
        }
    }

    /// Removes every entry whose key `pred` selects; returns how many.
    pub(crate) fn remove_matching(&mut self, pred: impl Fn(&[u8]) -> bool) -> usize {
        let doomed: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&i| self.entry(i).is_some_and(|e| pred(e.key())))
            .collect();
        for &idx in &doomed {
            self.remove_slot(idx);
        }
        doomed.len()
    }

    /// Removes everything and gives the memory back.
    pub(crate) fn clear(&mut self) {
        *self = Store::new(self.capacity);
    }

    // --- eviction ---------------------------------------------------------------------------

    /// Evicts until within budget, sparing `protect` (the entry just stored) while anything
    /// else can go.
    fn evict_to_fit(&mut self, protect: u32, dead: &impl Fn(&Entry) -> bool) -> Outcome {
        let mut outcome = Outcome::default();
        // A step that removes nothing promotes an entry (once per entry) or costs a main entry
        // one of its at most three hits, so 4 * len steps include a removal. Past that, steps
        // remove whatever is at the tail; the final bound only guards against broken lists.
        let gentle = 4 * self.len() + 16;
        let limit = gentle + self.len() + 16;
        let mut steps = 0;
        while self.bytes() > self.capacity && self.len() > 0 && steps < limit {
            self.evict_step(protect, dead, steps >= gentle, &mut outcome);
            steps += 1;
        }
        outcome
    }

    /// Before a new entry of `cost` bytes comes in: makes sure a slot and a place in the hash
    /// table are free, growing the slab and the table only by what the budget can pay for and
    /// evicting otherwise. Without this, a doubling could cost more than the whole budget and
    /// eviction would then empty the shard to pay for structures it no longer needs.
    fn make_room(&mut self, cost: usize, dead: &impl Fn(&Entry) -> bool) -> Outcome {
        let mut outcome = Outcome::default();
        // As in `evict_to_fit`; past the bound the structures grow whatever it costs (and the
        // eviction after the insert pays for it), so this always ends.
        let gentle = 4 * self.len() + 16;
        let limit = gentle + self.len() + 16;
        let mut steps = 0;
        loop {
            steps += 1;
            let grow_anyway = self.len() == 0 || steps >= limit;
            if self.table.len() == self.table.capacity() {
                // The table doubles (its buckets are a power of two).
                let growth = self.table.allocation_size().max(64);
                if grow_anyway || self.bytes() + growth + cost <= self.capacity {
                    let slots = &self.slots;
                    self.table.reserve(1, |&i| {
                        slots
                            .get(i as usize)
                            .and_then(|s| s.entry.as_ref())
                            .map_or(0, |e| e.hash)
                    });
                } else {
                    self.evict_step(NIL, dead, steps >= gentle, &mut outcome);
                }
                continue;
            }
            if self.free == NIL && self.slots.len() == self.slots.capacity() {
                // The slab grows by up to its size, as far as the budget allows.
                let spare = self.capacity.saturating_sub(self.bytes() + cost) / size_of::<Slot>();
                let add = spare.min(self.slots.capacity().max(16));
                if add > 0 || grow_anyway {
                    self.slots.reserve_exact(add.max(1));
                } else {
                    self.evict_step(NIL, dead, steps >= gentle, &mut outcome);
                }
                continue;
            }
            return outcome;
        }
    }

    fn evict_step(
        &mut self,
        protect: u32,
        dead: &impl Fn(&Entry) -> bool,
        force: bool,
        outcome: &mut Outcome,
    ) {
        let small_first = self.small.bytes > self.capacity / 10 || self.main.len == 0;
        let small_tail = Some(self.small.tail).filter(|&t| t != NIL && t != protect);
        let main_tail = Some(self.main.tail).filter(|&t| t != NIL && t != protect);
        let (idx, queue) = match (small_first, small_tail, main_tail) {
            (true, Some(t), _) | (false, Some(t), None) => (t, Queue::Small),
            (_, _, Some(t)) => (t, Queue::Main),
            // Only the protected entry is left: it goes too.
            (_, None, None) => (protect, Queue::Main),
        };
        let Some(entry) = self.entry(idx) else {
            // A list pointing at an empty slot would be a bug; drop the link to make progress.
            self.remove_slot(idx);
            return;
        };
        let (freq, hash) = (entry.freq(), entry.hash);
        if dead(entry) {
            self.remove_slot(idx);
            outcome.expired += 1;
        } else if force || idx == protect || freq == 0 {
            if queue == Queue::Small {
                self.ghost_put(hash);
            }
            self.remove_slot(idx);
            outcome.evicted += 1;
        } else {
            // A hit entry: from the small queue it is promoted, in the main queue it gets
            // another lap for one of its hits.
            let new_freq = if queue == Queue::Small { 0 } else { freq - 1 };
            if let Some(e) = self.entry(idx) {
                e.set_freq(new_freq);
                let cost = e.heap_cost();
                self.unlink(idx, cost);
                self.push_head(Queue::Main, idx, cost);
            }
        }
    }

    // --- slots and lists --------------------------------------------------------------------

    fn alloc_slot(&mut self, entry: Entry) -> u32 {
        if let Some(slot) = self.slots.get_mut(self.free as usize) {
            let idx = self.free;
            self.free = slot.next;
            slot.entry = Some(entry);
            return idx;
        }
        let idx = self.slots.len() as u32;
        self.slots.push(Slot {
            entry: Some(entry),
            prev: NIL,
            next: NIL,
            queue: Queue::Free,
        });
        idx
    }

    fn remove_slot(&mut self, idx: u32) {
        let Some(slot) = self.slots.get(idx as usize) else {
            return;
        };
        let (hash, cost) = slot
            .entry
            .as_ref()
            .map_or((0, 0), |e| (e.hash, e.heap_cost()));
        if slot.queue != Queue::Free {
            self.unlink(idx, cost);
        }
        if let Ok(found) = self.table.find_entry(hash, |&i| i == idx) {
            found.remove();
        }
        self.data_bytes -= cost;
        if let Some(slot) = self.slots.get_mut(idx as usize) {
            slot.entry = None;
            slot.next = self.free;
            self.free = idx;
        }
    }

    fn list_mut(&mut self, queue: Queue) -> &mut List {
        match queue {
            Queue::Main => &mut self.main,
            Queue::Small | Queue::Free => &mut self.small,
        }
    }

    fn push_head(&mut self, queue: Queue, idx: u32, cost: usize) {
        let list = self.list_mut(queue);
        let old_head = list.head;
        list.head = idx;
        if list.tail == NIL {
            list.tail = idx;
        }
        list.len += 1;
        list.bytes += cost;
        if let Some(h) = self.slots.get_mut(old_head as usize) {
            h.prev = idx;
        }
        if let Some(s) = self.slots.get_mut(idx as usize) {
            s.prev = NIL;
            s.next = old_head;
            s.queue = queue;
        }
    }

    fn unlink(&mut self, idx: u32, cost: usize) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let (prev, next, queue) = (slot.prev, slot.next, slot.queue);
        slot.prev = NIL;
        slot.next = NIL;
        slot.queue = Queue::Free;
        match self.slots.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.list_mut(queue).head = next,
        }
        match self.slots.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.list_mut(queue).tail = prev,
        }
        let list = self.list_mut(queue);
        list.len -= 1;
        list.bytes -= cost;
    }

    // --- ghost ------------------------------------------------------------------------------

    fn ghost_index(&self, hash: u64) -> usize {
        (hash as usize) & (self.ghost.len().wrapping_sub(1))
    }

    fn ghost_put(&mut self, hash: u64) {
        let i = self.ghost_index(hash);
        if let Some(g) = self.ghost.get_mut(i) {
            *g = hash;
        }
    }

    /// Whether `hash` is in the ghost set; forgets it if so.
    fn ghost_take(&mut self, hash: u64) -> bool {
        let i = self.ghost_index(hash);
        match self.ghost.get_mut(i) {
            Some(g) if *g == hash && hash != 0 => {
                *g = 0;
                true
            }
            _ => false,
        }
    }

    /// Keeps the ghost array at least as long as the number of entries
    /// (while the budget can pay for it).
    fn grow_ghost(&mut self) {
        if self.ghost.len() >= self.len().max(MIN_GHOST) {
            return;
        }
        let new_len = self.len().max(MIN_GHOST).next_power_of_two();
        let growth = (new_len - self.ghost.len()) * size_of::<u64>();
        if self.bytes() + growth > self.capacity && !self.ghost.is_empty() {
            return;
        }
        let old = core::mem::replace(&mut self.ghost, vec![0; new_len]);
        for h in old.into_iter().filter(|&h| h != 0) {
            self.ghost_put(h);
        }
    }

    /// Checks the lists against the slab (tests).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut seen = 0;
        for (list, queue) in [(&self.small, Queue::Small), (&self.main, Queue::Main)] {
            let (mut at, mut prev, mut n, mut bytes) = (list.head, NIL, 0, 0);
            while at != NIL {
                let s = &self.slots[at as usize];
                assert_eq!(s.queue, queue);
                assert_eq!(s.prev, prev);
                bytes += s.entry.as_ref().unwrap().heap_cost();
                prev = at;
                at = s.next;
                n += 1;
            }
            assert_eq!(list.tail, prev);
            assert_eq!((list.len, list.bytes), (n, bytes));
            seen += n;
        }
        assert_eq!(seen, self.table.len());
        assert_eq!(self.data_bytes, self.small.bytes + self.main.bytes);
        assert!(self.bytes() <= self.capacity || self.len() == 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RrSet, Time, Trust};
    use wire::{Class, RType};

    fn entry(n: u32) -> Entry {
        let key = n.to_be_bytes();
        let set = RrSet {
            owner: "a.".parse().unwrap(),
            rtype: RType::A,
            class: Class::IN,
            ttl: 60,
            rdatas: vec![vec![0; 40]],
            sigs: vec![],
        };
        let hash = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Entry::new(
            &key,
            hash,
            &[&set],
            Time::from_millis(60_000),
            60,
            Trust::Answer,
            crate::Validation::Unchecked,
        )
        .unwrap()
    }

    #[test]
    fn stays_within_budget_and_lists_stay_consistent() {
        let mut s = Store::new(64 * 1024);
        for n in 0..10_000 {
            let out = s.insert(entry(n), |_| true, |_| false);
            assert!(out.stored);
            if n % 997 == 0 {
                s.check();
            }
        }
        s.check();
        assert!(s.len() > 200, "{} entries", s.len());
        assert!(s.bytes() <= 64 * 1024);
    }

    #[test]
    fn structures_never_outgrow_the_budget() {
        // Entries so small that the slab and the table cost more than the entries: growing
        // them by doubling would overshoot the budget and empty the store.
        let mut s = Store::new(4 << 20);
        for n in 0..200_000u32 {
            let hash = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let e = Entry::new(
                &n.to_be_bytes(),
                hash,
                &[],
                Time::ZERO,
                1,
                Trust::Answer,
                crate::Validation::Unchecked,
            )
            .unwrap();
            assert!(s.insert(e, |_| true, |_| false).stored);
        }
        s.check();
        let (len, bytes) = (s.len(), s.bytes());
        assert!(
            len > 20_000 && bytes >= (4 << 20) * 9 / 10,
            "{len} entries, {bytes} bytes"
        );
    }

    #[test]
    fn replace_keeps_one_entry() {
        let mut s = Store::new(1 << 20);
        assert!(s.insert(entry(1), |_| true, |_| false).stored);
        assert!(!s.insert(entry(1), |_| false, |_| false).stored);
        assert!(s.insert(entry(1), |_| true, |_| false).stored);
        assert_eq!(s.len(), 1);
        s.check();
        assert!(s.remove(entry(1).hash, entry(1).key()));
        assert!(!s.remove(entry(1).hash, entry(1).key()));
        assert_eq!(s.len(), 0);
        s.check();
    }

    #[test]
    fn hit_entries_survive_a_scan() {
        let mut s = Store::new(256 * 1024);
        let hot: Vec<Entry> = (0..100).map(entry).collect();
        for n in 0..100 {
            s.insert(entry(n), |_| true, |_| false);
        }
        for n in 1_000..20_000 {
            if n % 10 == 0 {
                for e in &hot {
                    match s.get(e.hash, e.key()) {
                        Some(e) => e.touch(),
                        // A hot entry that fell out comes back in.
                        None => {
                            s.insert(
                                entry(u32::from_be_bytes(e.key().try_into().unwrap())),
                                |_| true,
                                |_| false,
                            );
                        }
                    }
                }
            }
            s.insert(entry(n), |_| true, |_| false);
        }
        let left = hot
            .iter()
            .filter(|e| s.get(e.hash, e.key()).is_some())
            .count();
        assert!(left >= 95, "{left} hot entries left");
        s.check();
    }

    #[test]
    fn dead_entries_go_first_and_are_counted() {
        let mut s = Store::new(32 * 1024);
        let mut expired = 0;
        for n in 0..2_000 {
            expired += s.insert(entry(n), |_| true, |_| true).expired;
        }
        assert!(expired > 0);
        s.check();
    }

    #[test]
    fn remove_matching_and_clear() {
        let mut s = Store::new(1 << 20);
        for n in 0..100 {
            s.insert(entry(n), |_| true, |_| false);
        }
        assert_eq!(s.remove_matching(|k| k[3] % 2 == 0), 50);
        s.check();
        assert_eq!(s.len(), 50);
        s.clear();
        assert_eq!((s.len(), s.bytes()), (0, 0));
    }

    #[test]
    fn an_entry_larger_than_the_shard_is_refused() {
        let mut s = Store::new(64);
        assert!(!s.insert(entry(1), |_| true, |_| false).stored);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, bool),
        Touch(u32),
        Remove(u32),
        RemoveOdd,
    }

    fn arb_op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            8 => (0..400u32, any::<bool>()).prop_map(|(n, dead)| Op::Insert(n, dead)),
            4 => (0..400u32).prop_map(Op::Touch),
            2 => (0..400u32).prop_map(Op::Remove),
            1 => Just(Op::RemoveOdd),
        ]
    }

    proptest::proptest! {
        #[test]
        fn lists_table_and_budget_stay_consistent(
            ops in proptest::collection::vec(arb_op(), 1..300),
        ) {
            let mut s = Store::new(16 * 1024);
            for op in ops {
                match op {
                    Op::Insert(n, dead) => {
                        s.insert(entry(n), |_| true, move |_| dead);
                    }
                    Op::Touch(n) => {
                        let e = entry(n);
                        if let Some(found) = s.get(e.hash, e.key()) {
                            found.touch();
                        }
                    }
                    Op::Remove(n) => {
                        let e = entry(n);
                        s.remove(e.hash, e.key());
                    }
                    Op::RemoveOdd => {
                        s.remove_matching(|k| k[3] % 2 == 1);
                    }
                }
                s.check();
            }
        }
    }
}
