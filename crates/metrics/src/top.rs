//! The dashboard's top-k tables: the names asked most, the clients asking most and the names
//! blocked most, over recent traffic.
//!
//! Each worker owns a [`TopWorker`]: three bounded sketches (names, clients, blocked names) of
//! `capacity` slots each, allocated when the worker starts. A sketch is a bucketed
//! space-saving table: a key's hash (a multiply-rotate hash over 8-byte words with a
//! murmur3 finaliser, seeded at random per server so that clients cannot aim collisions
//! without seeing the tables; SipHash cost more than the rest together) picks a bucket of
//! [`BUCKET`] slots; a key found there is counted, a new key
//! takes an empty slot or replaces the bucket's smallest count and inherits it (the
//! space-saving rule: a count overestimates by at most what it inherited, kept as `error`).
//! The buckets are a power of two, `capacity` rounded up. The counts sit apart from the keys,
//! so a lookup reads one or two cache lines. Names are stored lowercased in wire form in fixed
//! 255-byte slots, written only when a name takes a slot. Counting a query is a
//! parse of its question name, two or three hashes and a few slot writes: no allocation
//! (`tests/top_no_alloc.rs`) and no lock shared with other workers. The worker's tables sit
//! behind a mutex of its own that it only `try_lock`s: when the dashboard is reading it, the
//! query is not counted rather than waited for.
//!
//! Recent traffic: every `window` (60 s by default) all counts are halved (exponential decay
//! with a half-life of one window), by the worker on its next query or by the reader, so a
//! name asked a lot an hour ago has faded out. With `sample` = N > 1, one query in N is
//! counted, with weight N. [`TopTables::snapshot`] merges every worker's tables by key.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// A fast seeded hash of `bytes` (see the module docs).
#[inline]
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w.get_mut(..rest.len())
            .unwrap_or_default()
            .copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    // murmur3's fmix64: every input bit reaches every output bit.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The bytes of an address, for [`hash`] (an IPv4 address as its IPv4-mapped IPv6 form).
#[inline]
fn ip_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

/// Slots per bucket: a key is looked for (and evicts) among these.
pub const BUCKET: usize = 4;

/// Longest name in wire form, without the root label.
const NAME_MAX: usize = 255;

/// The settings of the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopConfig {
    /// Slots per table and per worker (rounded up to a multiple of [`BUCKET`]).
    pub capacity: usize,
    /// Count one query in this many (1: every query).
    pub sample: u32,
    /// Counts are halved once per window.
    pub window: Duration,
}

impl Default for TopConfig {
    fn default() -> TopConfig {
        TopConfig {
            capacity: 1024,
            sample: 1,
            window: Duration::from_secs(60),
        }
    }
}

/// A name as stored: lowercased wire-form labels (no root label).
#[derive(Clone, Copy)]
struct NameKey {
    len: u8,
    bytes: [u8; NAME_MAX],
}

impl NameKey {
    const EMPTY: NameKey = NameKey {
        len: 0,
        bytes: [0; NAME_MAX],
    };

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// The name in presentation form, with a trailing dot.
    fn text(&self) -> String {
        let mut out = String::with_capacity(usize::from(self.len) + 1);
        let mut rest = self.as_slice();
        while let Some((&n, tail)) = rest.split_first() {
            let (label, tail) = tail.split_at(usize::from(n).min(tail.len()));
            for &b in label {
                match b {
                    b'.' | b'\\' => {
                        out.push('\\');
                        out.push(char::from(b));
                    }
                    0x21..=0x7e => out.push(char::from(b)),
                    _ => out.push_str(&format!("\\{b:03}")),
                }
            }
            out.push('.');
            rest = tail;
        }
        if out.is_empty() {
            out.push('.');
        }
        out
    }
}

/// The question name of a DNS query in wire form (labels up to the root label, which is left
/// out), or `None` when it is not a plain uncompressed name.
pub fn question_name(query: &[u8]) -> Option<&[u8]> {
    let name = query.get(12..)?;
    let mut at = 0usize;
    loop {
        let n = usize::from(*name.get(at)?);
        if n == 0 {
            return name.get(..at);
        }
        if n > 63 || at + 1 + n > NAME_MAX {
            return None;
        }
        at += 1 + n;
    }
}

/// What a slot counts; its key sits apart (in `Sketch::keys`), so a lookup touches only
/// these 24-byte records, four to a bucket.
#[derive(Clone, Copy, Default)]
struct Slot {
    hash: u64,
    count: u64,
    error: u64,
}

/// A bucketed space-saving table (see the module docs).
struct Sketch<K> {
    slots: Box<[Slot]>,
    keys: Box<[K]>,
    /// Buckets minus one: their number is a power of two.
    mask: u64,
}

impl<K: Copy> Sketch<K> {
    fn new(capacity: usize, empty: K) -> Sketch<K> {
        let buckets = capacity.div_ceil(BUCKET).max(1).next_power_of_two();
        Sketch {
            slots: vec![Slot::default(); buckets * BUCKET].into_boxed_slice(),
            keys: vec![empty; buckets * BUCKET].into_boxed_slice(),
            mask: buckets as u64 - 1,
        }
    }

    /// Counts `weight` for the key whose hash is `hash`; `fill` writes the key into a slot
    /// that takes it.
    fn add(&mut self, hash: u64, weight: u64, fill: impl FnOnce(&mut K)) {
        let start = (hash & self.mask) as usize * BUCKET;
        let Some(bucket) = self.slots.get_mut(start..start + BUCKET) else {
            return;
        };
        let mut victim = 0;
        let mut smallest = u64::MAX;
        for (i, slot) in bucket.iter_mut().enumerate() {
            if slot.count > 0 && slot.hash == hash {
                slot.count = slot.count.saturating_add(weight);
                return;
            }
            if slot.count < smallest {
                smallest = slot.count;
                victim = i;
            }
        }
        if let Some(slot) = bucket.get_mut(victim) {
            slot.hash = hash;
            slot.error = slot.count;
            slot.count = slot.count.saturating_add(weight);
            if let Some(key) = self.keys.get_mut(start + victim) {
                fill(key);
            }
        }
    }

    /// Halves every count `times` times (a count of zero frees its slot).
    fn decay(&mut self, times: u64) {
        let shift = times.min(63) as u32;
        for slot in self.slots.iter_mut() {
            slot.count >>= shift;
            slot.error >>= shift;
        }
    }

    fn live(&self) -> impl Iterator<Item = (&Slot, &K)> {
        self.slots
            .iter()
            .zip(self.keys.iter())
            .filter(|(s, _)| s.count > 0)
    }
}

/// One worker's three tables.
struct Tables {
    names: Sketch<NameKey>,
    clients: Sketch<IpAddr>,
    blocked: Sketch<NameKey>,
    /// The window the counts belong to.
    epoch: u64,
}

impl Tables {
    /// Brings the counts to window `epoch`.
    fn advance(&mut self, epoch: u64) {
        if epoch > self.epoch {
            let times = epoch - self.epoch;
            self.names.decay(times);
            self.clients.decay(times);
            self.blocked.decay(times);
        }
        self.epoch = self.epoch.max(epoch);
    }
}

/// Every worker's tables; share it (`Arc`) with the transports, which each take a
/// [`TopWorker`], and with the dashboard, which reads [`TopTables::snapshot`].
pub struct TopTables {
    config: TopConfig,
    seed: u64,
    workers: Mutex<Vec<Arc<Mutex<Tables>>>>,
}

impl std::fmt::Debug for TopTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopTables")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One entry of a merged table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopEntry<K> {
    /// The name (presentation form) or client address.
    pub key: K,
    /// Its decayed count: an upper bound of the true one.
    pub count: u64,
    /// How much of `count` may belong to keys it replaced.
    pub error: u64,
}

/// The merged tables, largest counts first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopSnapshot {
    /// The names asked most.
    pub names: Vec<TopEntry<String>>,
    /// The clients asking most.
    pub clients: Vec<TopEntry<IpAddr>>,
    /// The names blocked most (blocklists, RPZ, the detector).
    pub blocked: Vec<TopEntry<String>>,
}

impl TopTables {
    /// Empty tables with `config`.
    pub fn new(config: TopConfig) -> TopTables {
        TopTables {
            config: TopConfig {
                capacity: config.capacity.max(BUCKET),
                sample: config.sample.max(1),
                window: config.window.max(Duration::from_secs(1)),
            },
            // The standard library's random keys, drawn from the OS once per process.
            seed: RandomState::new().hash_one(0x5eed_u64),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> TopConfig {
        self.config
    }

    /// The tables of one more worker, allocated now.
    pub fn worker(&self) -> TopWorker {
        let c = self.config.capacity;
        let tables = Arc::new(Mutex::new(Tables {
            names: Sketch::new(c, NameKey::EMPTY),
            clients: Sketch::new(c, IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            blocked: Sketch::new(c, NameKey::EMPTY),
            epoch: 0,
        }));
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tables.clone());
        TopWorker {
            tables,
            seed: self.seed,
            sample: self.config.sample,
            window_secs: self.config.window.as_secs(),
            tick: 0,
        }
    }

    /// Every worker's tables merged by key, the `limit` largest of each kind. `now_secs` is
    /// the clock the workers count with (seconds), for the decay.
    pub fn snapshot(&self, limit: usize, now_secs: u64) -> TopSnapshot {
        let workers: Vec<Arc<Mutex<Tables>>> = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let epoch = now_secs / self.config.window.as_secs().max(1);
        let mut names: HashMap<u64, TopEntry<String>> = HashMap::new();
        let mut clients: HashMap<u64, TopEntry<IpAddr>> = HashMap::new();
        let mut blocked: HashMap<u64, TopEntry<String>> = HashMap::new();
        for tables in &workers {
            let mut t = tables.lock().unwrap_or_else(PoisonError::into_inner);
            t.advance(epoch);
            merge(&mut names, &t.names, NameKey::text);
            merge(&mut clients, &t.clients, |ip| *ip);
            merge(&mut blocked, &t.blocked, NameKey::text);
        }
        TopSnapshot {
            names: largest(names, limit),
            clients: largest(clients, limit),
            blocked: largest(blocked, limit),
        }
    }
}

fn merge<K: Copy, V>(
    into: &mut HashMap<u64, TopEntry<V>>,
    sketch: &Sketch<K>,
    key: impl Fn(&K) -> V,
) {
    for (slot, k) in sketch.live() {
        let entry = into.entry(slot.hash).or_insert_with(|| TopEntry {
            key: key(k),
            count: 0,
            error: 0,
        });
        entry.count = entry.count.saturating_add(slot.count);
        entry.error = entry.error.saturating_add(slot.error);
    }
}

fn largest<V>(map: HashMap<u64, TopEntry<V>>, limit: usize) -> Vec<TopEntry<V>> {
    let mut all: Vec<TopEntry<V>> = map.into_values().collect();
    all.sort_by_key(|e| std::cmp::Reverse(e.count));
    all.truncate(limit);
    all
}

/// One worker's handle on its tables: only that worker counts into them.
pub struct TopWorker {
    tables: Arc<Mutex<Tables>>,
    seed: u64,
    sample: u32,
    window_secs: u64,
    tick: u32,
}

impl std::fmt::Debug for TopWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopWorker").finish_non_exhaustive()
    }
}

impl TopWorker {
    /// Counts one query: its question name (read from the `query` message), its `client`,
    /// and whether a policy `blocked` it. `now_secs` is the worker's clock in seconds.
    /// Allocates nothing; skips the query when a reader holds the tables.
    #[inline]
    pub fn observe(&mut self, query: &[u8], client: IpAddr, blocked: bool, now_secs: u64) {
        if self.sample > 1 {
            self.tick = self.tick.wrapping_add(1);
            if !self.tick.is_multiple_of(self.sample) {
                return;
            }
        }
        let weight = u64::from(self.sample);
        let mut t = match self.tables.try_lock() {
            Ok(t) => t,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        t.advance(now_secs / self.window_secs.max(1));
        t.clients
            .add(hash(self.seed, &ip_bytes(client)), weight, |k| *k = client);
        let Some(name) = question_name(query) else {
            return;
        };
        let mut lower = [0u8; NAME_MAX];
        for (to, from) in lower.iter_mut().zip(name) {
            *to = from.to_ascii_lowercase();
        }
        let len = name.len().min(NAME_MAX);
        let lower = lower.get(..len).unwrap_or_default();
        let h = hash(self.seed, lower);
        let fill = |k: &mut NameKey| {
            k.bytes
                .get_mut(..len)
                .unwrap_or_default()
                .copy_from_slice(lower);
            k.len = u8::try_from(len).unwrap_or(u8::MAX);
        };
        t.names.add(h, weight, fill);
        if blocked {
            t.blocked.add(h, weight, fill);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A query for `name` (dotted, no trailing dot), type A.
    fn query(name: &str) -> Vec<u8> {
        let mut q = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.extend_from_slice(&[0, 0, 1, 0, 1]);
        q
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn question_names_are_read_and_bounded() {
        assert_eq!(
            question_name(&query("www.Example.com")),
            Some(&b"\x03www\x07Example\x03com"[..])
        );
        assert_eq!(question_name(&query("")), Some(&b""[..]), "the root");
        let mut root = vec![0; 12];
        root.push(0);
        assert_eq!(question_name(&root), Some(&b""[..]));
        assert_eq!(question_name(&[0; 11]), None);
        let mut compressed = vec![0; 12];
        compressed.extend_from_slice(&[0xc0, 12]);
        assert_eq!(question_name(&compressed), None);
        let mut truncated = vec![0; 12];
        truncated.extend_from_slice(&[3, b'w']);
        assert_eq!(question_name(&truncated), None);
    }

    #[test]
    fn heavy_hitters_survive_a_flood_of_one_off_names() {
        let tables = TopTables::new(TopConfig {
            capacity: 64,
            ..TopConfig::default()
        });
        let mut w = tables.worker();
        for i in 0..20_000u32 {
            if i % 4 == 0 {
                w.observe(&query("popular.example"), ip(1), false, 0);
            } else if i % 10 == 1 {
                w.observe(&query("ads.example"), ip(2), true, 0);
            } else {
                w.observe(&query(&format!("n{i}.example")), ip(3), false, 0);
            }
        }
        let s = tables.snapshot(5, 0);
        assert_eq!(s.names.first().unwrap().key, "popular.example.");
        assert!(s.names.first().unwrap().count >= 5_000);
        assert!(s.names.iter().any(|e| e.key == "ads.example."));
        assert_eq!(s.blocked.len(), 1);
        assert_eq!(s.blocked[0].key, "ads.example.");
        assert_eq!(s.blocked[0].count, 2_000);
        assert_eq!(s.clients[0].key, ip(3));
        assert!(s.names.len() <= 5 && s.clients.len() == 3);
    }

    #[test]
    fn names_are_counted_case_insensitively_and_shown_escaped() {
        let tables = TopTables::new(TopConfig::default());
        let mut w = tables.worker();
        w.observe(&query("WWW.example"), ip(1), false, 0);
        w.observe(&query("www.EXAMPLE"), ip(1), false, 0);
        w.observe(&query("a\\b"), ip(1), false, 0);
        let s = tables.snapshot(10, 0);
        assert_eq!(s.names[0].key, "www.example.");
        assert_eq!(s.names[0].count, 2);
        assert_eq!(s.names[1].key, "a\\\\b.");
    }

    #[test]
    fn workers_merge_and_counts_decay_per_window() {
        let tables = TopTables::new(TopConfig {
            window: Duration::from_secs(60),
            ..TopConfig::default()
        });
        let (mut a, mut b) = (tables.worker(), tables.worker());
        for _ in 0..8 {
            a.observe(&query("x.example"), ip(1), false, 10);
            b.observe(&query("x.example"), ip(2), false, 10);
        }
        let s = tables.snapshot(10, 59);
        assert_eq!(
            (s.names[0].key.as_str(), s.names[0].count),
            ("x.example.", 16)
        );
        // One window later: halved, by the reader (the workers are idle).
        assert_eq!(tables.snapshot(10, 60).names[0].count, 8);
        // Five more: gone.
        assert!(tables.snapshot(10, 400).names.is_empty());
    }

    #[test]
    fn sampling_counts_one_in_n_with_weight_n() {
        let tables = TopTables::new(TopConfig {
            sample: 4,
            ..TopConfig::default()
        });
        let mut w = tables.worker();
        for _ in 0..400 {
            w.observe(&query("s.example"), ip(1), false, 0);
        }
        assert_eq!(tables.snapshot(1, 0).names[0].count, 400);
    }

    #[test]
    fn a_reader_holding_the_tables_makes_the_worker_skip() {
        let tables = TopTables::new(TopConfig::default());
        let mut w = tables.worker();
        let held = w.tables.clone();
        let guard = held.lock().unwrap();
        w.observe(&query("skip.example"), ip(1), false, 0);
        drop(guard);
        assert!(tables.snapshot(1, 0).names.is_empty());
    }
}
