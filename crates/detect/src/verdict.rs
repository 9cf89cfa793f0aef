//! What was decided about a registered domain, for how long, and the allow list.
//!
//! [`Verdicts`] is read before the cache on every query routed to the resolver, so its common
//! case (no verdict stands, or none on this name) costs one atomic load, or two when some other
//! domain has one: a 256-bit filter of the domains with verdicts is checked before the lock.
//! Verdicts expire on their own (`until_ms`), removed lazily when next looked at or when room
//! is needed; a rate limit is a token bucket per verdict. Setting, expiring and evicting a
//! verdict costs O(log n) whatever the table holds (an index by expiry, a counting filter), so
//! a flood of alerting domains cannot make each new alert scan the table.
//!
//! [`AllowList`] names the zones whose traffic legitimately looks like a tunnel (reverse zones,
//! block and reputation lists, antivirus clouds, DKIM and DMARC): their queries are still
//! counted, with a lower weight, and never blocked.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wire::{Name, NameRef};

use crate::psl::{hash_wire_label, lowercase8};

/// How a blocked name is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// As if the name did not exist.
    Nxdomain,
    /// REFUSED: honest about the refusal.
    Refused,
    /// An answer pointing at the operator's sinkhole.
    Sinkhole,
}

/// What to do with a query instead of resolving it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
    /// Answer every query of the domain this way.
    Block(BlockKind),
    /// Let `qps` queries a second through; [`Verdicts::check`] returns this for the excess,
    /// which should be refused.
    RateLimited {
        /// Queries a second let through (also the burst).
        qps: u32,
    },
}

/// A decision standing on a registered domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// What to do.
    pub enforce: Enforce,
    /// Only this client's queries when set; everyone's otherwise.
    pub client: Option<IpAddr>,
    /// When it lapses.
    pub until_ms: u64,
    /// Short, stable cause (`"tunnel"`, `"anomaly"`, `"operator"` …).
    pub reason: &'static str,
    /// One line for the operator: what was seen.
    pub summary: Box<str>,
}

/// A standing verdict with its domain, as listed for `ctl` and the API.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictEntry {
    /// The registered domain (lowercased).
    pub domain: Name,
    /// The verdict.
    pub verdict: Verdict,
}

#[derive(Debug)]
struct Standing {
    verdict: Verdict,
    /// Its key in [`Table::by_expiry`].
    key: ExpiryKey,
    /// Token bucket of a rate limit: tokens left and when it was last refilled.
    tokens: f32,
    refilled_ms: u64,
}

/// When a verdict lapses, and a sequence number that makes the key unique.
type ExpiryKey = (u64, u64);

impl Standing {
    fn new(verdict: Verdict, key: ExpiryKey, now_ms: u64) -> Standing {
        let tokens = match verdict.enforce {
            Enforce::RateLimited { qps } => qps.max(1) as f32,
            Enforce::Block(_) => 0.0,
        };
        Standing {
            verdict,
            key,
            tokens,
            refilled_ms: now_ms,
        }
    }

    fn applies(&self, client: IpAddr) -> bool {
        self.verdict.client.is_none_or(|c| c == client)
    }

    /// Whether this query exceeds the rate limit (takes a token when it does not).
    fn over_limit(&mut self, qps: u32, now_ms: u64) -> bool {
        let rate = qps.max(1) as f32;
        let elapsed = now_ms.saturating_sub(self.refilled_ms) as f32;
        self.tokens = (self.tokens + elapsed * rate / 1000.0).min(rate);
        self.refilled_ms = self.refilled_ms.max(now_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            false
        } else {
            true
        }
    }
}

/// Copies a wire name lowercased into `buf`.
fn lowercase<'b>(name: NameRef<'_>, buf: &'b mut [u8; 255]) -> &'b [u8] {
    let wire = name.as_wire();
    let n = wire.len().min(buf.len());
    for (d, s) in buf.iter_mut().zip(&wire[..n]) {
        *d = s.to_ascii_lowercase();
    }
    &buf[..n]
}

/// FNV-1a: fast on short names. Unkeyed where a collision costs little: a lock taken in the
/// verdict prefilter, a longer probe in the allow list's set of zones (whose keys are the
/// operator's and ours, not a client's).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Bit of a lowercased name in the 256-bit prefilter.
fn filter_bit(lower: &[u8]) -> usize {
    let mut h = Fnv::default();
    h.write(lower);
    (h.finish() >> 56) as usize
}

#[derive(Debug)]
struct Table {
    by_domain: HashMap<Box<[u8]>, Vec<Standing>>,
    /// Every verdict's domain by its expiry: the next to lapse first, for purging and eviction.
    by_expiry: BTreeMap<ExpiryKey, Box<[u8]>>,
    /// Domains per filter bit, so a bit is cleared when its last domain goes.
    filter_counts: [u32; 256],
    next_seq: u64,
    len: usize,
}

impl Default for Table {
    fn default() -> Table {
        Table {
            by_domain: HashMap::new(),
            by_expiry: BTreeMap::new(),
            filter_counts: [0; 256],
            next_seq: 0,
            len: 0,
        }
    }
}

/// Standing verdicts by registered domain (case-insensitive), bounded.
#[derive(Debug)]
pub struct Verdicts {
    capacity: usize,
    /// Verdicts standing (expired ones included until removed): 0 is the common fast path.
    count: AtomicUsize,
    /// Which domains may have a verdict, by [`filter_bit`].
    filter: [AtomicU64; 4],
    table: Mutex<Table>,
}

impl Verdicts {
    /// An empty set holding at most `capacity` verdicts.
    pub fn new(capacity: usize) -> Verdicts {
        Verdicts {
            capacity: capacity.max(1),
            count: AtomicUsize::new(0),
            filter: Default::default(),
            table: Mutex::new(Table::default()),
        }
    }

    /// The verdict to enforce on a query whose registered domain is `registered`, from
    /// `client`: a block, or a rate limit whose bucket is empty. No allocation; one atomic
    /// load when no verdict stands.
    pub fn check(&self, registered: NameRef<'_>, client: IpAddr, now_ms: u64) -> Option<Enforce> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut buf = [0u8; 255];
        let lower = lowercase(registered, &mut buf);
        let bit = filter_bit(lower);
        if self.filter[bit / 64].load(Ordering::Acquire) & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mut guard = self.table.lock().ok()?;
        let table = &mut *guard;
        let list = table.by_domain.get_mut(lower)?;
        let mut emptied = false;
        while let Some(i) = list.iter().position(|s| s.verdict.until_ms <= now_ms) {
            let gone = list.swap_remove(i);
            table.by_expiry.remove(&gone.key);
            table.len -= 1;
            emptied = list.is_empty();
        }
        let mut result = None;
        // A block wins over a rate limit; a client's own verdict is as good as everyone's.
        if let Some(s) = list
            .iter()
            .find(|s| s.applies(client) && matches!(s.verdict.enforce, Enforce::Block(_)))
        {
            result = Some(s.verdict.enforce);
        } else if let Some(s) = list.iter_mut().find(|s| s.applies(client))
            && let Enforce::RateLimited { qps } = s.verdict.enforce
            && s.over_limit(qps, now_ms)
        {
            result = Some(s.verdict.enforce);
        }
        if emptied {
            self.remove_domain(table, lower);
        }
        self.count.store(table.len, Ordering::Release);
        result
    }

    /// Puts a verdict on `domain` (its registered domain), replacing one for the same client
    /// (or for everyone). When full, the verdict closest to expiry makes room.
    pub fn set(&self, domain: NameRef<'_>, verdict: Verdict, now_ms: u64) {
        let mut buf = [0u8; 255];
        let lower = lowercase(domain, &mut buf);
        let Ok(mut guard) = self.table.lock() else {
            return;
        };
        let table = &mut *guard;
        let key = (verdict.until_ms, table.next_seq);
        table.next_seq += 1;
        if let Some(list) = table.by_domain.get_mut(lower)
            && let Some(s) = list.iter_mut().find(|s| s.verdict.client == verdict.client)
        {
            table.by_expiry.remove(&s.key);
            table.by_expiry.insert(key, lower.into());
            *s = Standing::new(verdict, key, now_ms);
            return;
        }
        self.purge(table, now_ms);
        if table.len >= self.capacity {
            self.evict_soonest(table);
        }
        let standing = Standing::new(verdict, key, now_ms);
        table.by_expiry.insert(key, lower.into());
        match table.by_domain.get_mut(lower) {
            Some(list) => list.push(standing),
            None => {
                table.by_domain.insert(lower.into(), vec![standing]);
                let bit = filter_bit(lower);
                table.filter_counts[bit] += 1;
                if table.filter_counts[bit] == 1 {
                    self.filter[bit / 64].fetch_or(1 << (bit % 64), Ordering::Release);
                }
            }
        }
        table.len += 1;
        self.count.store(table.len, Ordering::Release);
    }

    /// Removes every verdict on `domain`; whether there was one.
    pub fn clear(&self, domain: NameRef<'_>) -> bool {
        let mut buf = [0u8; 255];
        let lower = lowercase(domain, &mut buf);
        let Ok(mut guard) = self.table.lock() else {
            return false;
        };
        let table = &mut *guard;
        let Some(list) = table.by_domain.get(lower) else {
            return false;
        };
        for s in list {
            table.by_expiry.remove(&s.key);
        }
        table.len -= list.len();
        self.remove_domain(table, lower);
        self.count.store(table.len, Ordering::Release);
        true
    }

    /// The verdicts standing at `now_ms`, for the operator.
    pub fn list(&self, now_ms: u64) -> Vec<VerdictEntry> {
        let Ok(table) = self.table.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (domain, list) in &table.by_domain {
            let Ok(name) = Name::from_wire(domain) else {
                continue;
            };
            for s in list.iter().filter(|s| s.verdict.until_ms > now_ms) {
                out.push(VerdictEntry {
                    domain: name.clone(),
                    verdict: s.verdict.clone(),
                });
            }
        }
        out
    }

    /// Verdicts held (expired ones not yet removed included).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the verdicts that have lapsed by `now_ms`, the soonest first.
    fn purge(&self, table: &mut Table, now_ms: u64) {
        while let Some(entry) = table.by_expiry.first_entry()
            && entry.key().0 <= now_ms
        {
            let (key, domain) = entry.remove_entry();
            self.remove_standing(table, &domain, key);
        }
    }

    /// Makes room by removing the verdict closest to expiry.
    fn evict_soonest(&self, table: &mut Table) {
        if let Some((key, domain)) = table.by_expiry.pop_first() {
            self.remove_standing(table, &domain, key);
        }
    }

    /// Removes the standing verdict `key` of `domain` (already out of `by_expiry`).
    fn remove_standing(&self, table: &mut Table, domain: &[u8], key: ExpiryKey) {
        let Some(list) = table.by_domain.get_mut(domain) else {
            return;
        };
        if let Some(i) = list.iter().position(|s| s.key == key) {
            list.swap_remove(i);
            table.len -= 1;
        }
        if list.is_empty() {
            self.remove_domain(table, domain);
        }
        self.count.store(table.len, Ordering::Release);
    }

    /// Drops `domain`'s (empty or cleared) list and its share of the filter.
    fn remove_domain(&self, table: &mut Table, domain: &[u8]) {
        if table.by_domain.remove(domain).is_none() {
            return;
        }
        let bit = filter_bit(domain);
        table.filter_counts[bit] = table.filter_counts[bit].saturating_sub(1);
        if table.filter_counts[bit] == 0 {
            self.filter[bit / 64].fetch_and(!(1 << (bit % 64)), Ordering::Release);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Allow list
// ---------------------------------------------------------------------------------------------

/// Weight of a query in an allow-listed zone: still counted, five times less.
pub const ALLOWED_WEIGHT: f32 = 0.2;

/// Zones whose ordinary traffic looks like tunnelling: reverse zones, DNS block and
/// reputation lists, hash reputation, antivirus cloud lookups. Each is a zone its operator
/// documents for DNS look-ups: `spamhaus.net` is Spamhaus's Data Query Service (`zen.dq`,
/// and the Hash Blocklist `_file.hbl.dq`); `psbl.surriel.com`, `uceprotect.net` and
/// `0spam.org` are the PSBL, UCEPROTECT and 0spam lists; `hash.cymru.com` is Team Cymru's
/// Malware Hash Registry, `circl.lu` CIRCL's hashlookup (`dns.hashlookup.circl.lu`).
/// `google.com` and `outbound.protection.outlook.com` hold the hosts Gmail and Microsoft 365
/// send mail from (`mail-wr1-f54.google.com`): a mail server confirming each sender's reverse
/// name asks a stream of new ones (tools/detect/probes.py, shapes `gmail` and `outlook`), and no one but
/// their operators can make names under them.
pub const BUILTIN_ALLOWED_ZONES: &[&str] = &[
    "in-addr.arpa",
    "ip6.arpa",
    "spamhaus.org",
    "spamhaus.net",
    "psbl.surriel.com",
    "uceprotect.net",
    "0spam.org",
    "spamcop.net",
    "surbl.org",
    "uribl.com",
    "barracudacentral.org",
    "sorbs.net",
    "mailspike.net",
    "dnswl.org",
    "hash.cymru.com",
    "circl.lu",
    "sophosxl.net",
    "avqs.mcafee.com",
    "e5.sk",
    "avast.com",
    "trendmicro.com",
    "kaspersky-labs.com",
    "eset.com",
    "bitdefender.net",
    "mcafee.com",
    "google.com",
    "outbound.protection.outlook.com",
];

/// Labels that mark DKIM keys and DMARC policies, looked up with long random-looking names.
const ALLOWED_LABELS: [&[u8]; 2] = [b"_domainkey", b"_dmarc"];

/// Built-in and operator zones, plus the operator's run-time allows (`ctl allow-domain`).
#[derive(Debug)]
pub struct AllowList {
    /// Lowercased wire forms of the static zones.
    zones: Vec<Box<[u8]>>,
    /// The zones by suffix hash ([`zone_hash`]): open addressing, at most half full, each
    /// slot the hash and the zone's index + 1 (0: empty). A query's suffixes are hashed a
    /// label at a time from the right, so each costs one label's hashing and no copy.
    zone_slots: Box<[(u64, u32)]>,
    /// Most labels in a static zone: longer suffixes need no lookup.
    max_labels: usize,
    /// Wire lengths of the static zones (a bit per length): a suffix of another length needs
    /// no hashing, which rejects most names before any lookup.
    lengths: [u64; 4],
    /// A 256-bit filter of the zones' last [`END_BYTES`] wire bytes, lowercased
    /// ([`end_bit`]): a name that ends otherwise is under no static zone, whatever its
    /// suffixes, so most names need no suffix hashed at all. `None` when some zone is shorter
    /// (an operator's): every name is then looked up.
    ends: Option<[u64; 4]>,
    /// Run-time allows: lowercased wire form → until when.
    runtime: Mutex<HashMap<Box<[u8]>, u64>>,
    /// Run-time allows held: 0 skips the lock.
    runtime_count: AtomicUsize,
    runtime_capacity: usize,
}

/// The suffix hash of a zone's wire form, as [`AllowList::allows`] computes it for a query's
/// suffixes: its labels from the right, through the public suffix list's label hash.
fn zone_hash(wire: &[u8]) -> u64 {
    let (offsets, n) = label_offsets(wire);
    offsets[..n].iter().rev().fold(0, |h, &off| {
        let off = usize::from(off);
        hash_wire_label(h, wire, off + 1, off + 1 + usize::from(wire[off]))
    })
}

/// Wire bytes at the end of a name that [`AllowList::ends`] filters on: every built-in zone
/// has at least this many (`e5.sk` has 7).
const END_BYTES: usize = 7;

/// The last [`END_BYTES`] bytes of a wire name, lowercased, little-endian; `None` when it is
/// shorter.
fn end_word(wire: &[u8]) -> Option<u64> {
    let n = wire.len();
    let word = match n {
        8.. => {
            let mut w = [0u8; 8];
            w.copy_from_slice(wire.get(n - 8..)?);
            u64::from_le_bytes(w) >> 8
        }
        END_BYTES => crate::domain::tail_word(wire),
        _ => return None,
    };
    Some(lowercase8(word))
}

/// The filter bit of an [`end_word`].
fn end_bit(word: u64) -> usize {
    (word.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize
}

/// A zone hash's home slot in a table of `2^bits` slots.
fn zone_home(h: u64, bits: u32) -> usize {
    (h >> (64 - bits)) as usize
}

/// Whether a label of the wire name is a DKIM or DMARC one ([`ALLOWED_LABELS`]), in one walk
/// over its length bytes.
fn has_allowed_label(wire: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        let len = usize::from(len);
        if len == 0 {
            return false;
        }
        if let Some(label) = wire.get(at + 1..at + 1 + len)
            && ALLOWED_LABELS
                .iter()
                .any(|a| a.len() == len && a.eq_ignore_ascii_case(label))
        {
            return true;
        }
        at += 1 + len;
    }
    false
}

/// Label start offsets of a wire name (at most 127 labels), and how many.
fn label_offsets(wire: &[u8]) -> ([u8; 128], usize) {
    let mut offsets = [0u8; 128];
    let mut n = 0;
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 || n == offsets.len() {
            break;
        }
        offsets[n] = at as u8;
        n += 1;
        at += 1 + usize::from(len);
    }
    (offsets, n)
}

impl AllowList {
    /// The built-in zones plus `operator_zones`; at most `runtime_capacity` run-time allows.
    pub fn new(operator_zones: &[Name], runtime_capacity: usize) -> AllowList {
        let mut zones: Vec<Box<[u8]>> = Vec::new();
        let mut max_labels = 0;
        let mut lengths = [0u64; 4];
        let mut ends = Some([0u64; 4]);
        let builtin = BUILTIN_ALLOWED_ZONES
            .iter()
            .filter_map(|z| z.parse::<Name>().ok());
        for zone in builtin.chain(operator_zones.iter().cloned()) {
            let mut buf = [0u8; 255];
            let lower = lowercase(zone.as_ref(), &mut buf);
            max_labels = max_labels.max(zone.as_ref().label_count());
            lengths[lower.len() / 64] |= 1 << (lower.len() % 64);
            ends = ends.and_then(|mut ends| {
                let bit = end_bit(end_word(lower)?);
                ends[bit / 64] |= 1 << (bit % 64);
                Some(ends)
            });
            if !zones.iter().any(|z| **z == *lower) {
                zones.push(lower.into());
            }
        }
        let bits = (zones.len() * 2)
            .next_power_of_two()
            .max(16)
            .trailing_zeros();
        let mut zone_slots = vec![(0u64, 0u32); 1 << bits].into_boxed_slice();
        let mask = zone_slots.len() - 1;
        for (i, zone) in zones.iter().enumerate() {
            let h = zone_hash(zone);
            let mut at = zone_home(h, bits);
            // At most half full: an empty slot is always found.
            while zone_slots[at].1 != 0 {
                at = (at + 1) & mask;
            }
            zone_slots[at] = (h, u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
        AllowList {
            zones,
            zone_slots,
            max_labels,
            lengths,
            ends,
            runtime: Mutex::new(HashMap::new()),
            runtime_count: AtomicUsize::new(0),
            runtime_capacity: runtime_capacity.max(1),
        }
    }

    /// Whether the suffix `wire[at..]`, hashed to `h`, is a static zone (compared ignoring
    /// case). Bounded: the table is at most half full.
    fn is_zone(&self, h: u64, suffix: &[u8]) -> bool {
        let mask = self.zone_slots.len() - 1;
        let bits = self.zone_slots.len().trailing_zeros();
        let home = zone_home(h, bits);
        for step in 0..self.zone_slots.len() {
            let (slot_hash, index) = self.zone_slots[(home + step) & mask];
            if index == 0 {
                return false;
            }
            if slot_hash == h
                && self
                    .zones
                    .get(index as usize - 1)
                    .is_some_and(|z| z.eq_ignore_ascii_case(suffix))
            {
                return true;
            }
        }
        false
    }

    /// Whether `name` is in an allowed zone (suffix match on label boundaries), has a DKIM or
    /// DMARC label, or is under a run-time allow still in force (the root only as itself):
    /// never block it. No allocation;
    /// no copy of the name unless run-time allows stand.
    pub fn allows(&self, name: NameRef<'_>, now_ms: u64) -> bool {
        let wire = name.as_wire();
        if has_allowed_label(wire) {
            return true;
        }
        // Static zones: the suffixes of at most `max_labels` labels whose length is a zone's,
        // from the right; the hash is extended a label at a time, only as far as needed. None
        // when the name does not end as some zone does.
        let may_end_in_zone = self.ends.is_none_or(|ends| {
            end_word(wire).is_some_and(|w| {
                let bit = end_bit(w);
                ends[bit / 64] & (1 << (bit % 64)) != 0
            })
        });
        let runtime = self.runtime_count.load(Ordering::Acquire) > 0;
        if !may_end_in_zone && !runtime {
            // Most names: no label offsets needed.
            return false;
        }
        let (offsets, n) = label_offsets(wire);
        let zones = if may_end_in_zone { self.max_labels } else { 0 };
        let (mut h, mut hashed) = (0, 0);
        for k in 1..=n.min(zones) {
            let off = usize::from(offsets[n - k]);
            let wire_len = wire.len() - off;
            if self.lengths[(wire_len / 64) & 3] & (1 << (wire_len % 64)) == 0 {
                continue;
            }
            while hashed < k {
                hashed += 1;
                let at = usize::from(offsets[n - hashed]);
                h = hash_wire_label(h, wire, at + 1, at + 1 + usize::from(wire[at]));
            }
            if self.is_zone(h, &wire[off..]) {
                return true;
            }
        }
        if !runtime {
            return false;
        }
        let mut buf = [0u8; 255];
        let lower = lowercase(name, &mut buf);
        let Ok(mut runtime) = self.runtime.lock() else {
            return false;
        };
        // The suffixes at each label, or the root itself: the detector asks for the root when
        // it counts a name under it (names that exist nowhere), so an allow of `.` covers
        // those and nothing else.
        let starts = offsets[..n].iter().map(|&o| usize::from(o));
        for off in starts.chain((n == 0).then_some(0)) {
            let suffix = &lower[off..];
            match runtime.get(suffix) {
                Some(&until) if until > now_ms => return true,
                Some(_) => {
                    runtime.remove(suffix);
                    self.runtime_count.store(runtime.len(), Ordering::Release);
                }
                None => {}
            }
        }
        false
    }

    /// The weight of a query of `name` in the per-domain state: [`ALLOWED_WEIGHT`] when
    /// allowed, 1.0 otherwise.
    pub fn weight(&self, name: NameRef<'_>, now_ms: u64) -> f32 {
        if self.allows(name, now_ms) {
            ALLOWED_WEIGHT
        } else {
            1.0
        }
    }

    /// The operator allows `domain` and the names under it until `until_ms`. False when the
    /// table is full of allows still in force.
    pub fn allow(&self, domain: NameRef<'_>, until_ms: u64, now_ms: u64) -> bool {
        let mut buf = [0u8; 255];
        let lower = lowercase(domain, &mut buf);
        let Ok(mut runtime) = self.runtime.lock() else {
            return false;
        };
        if !runtime.contains_key(lower) && runtime.len() >= self.runtime_capacity {
            runtime.retain(|_, until| *until > now_ms);
            if runtime.len() >= self.runtime_capacity {
                return false;
            }
        }
        runtime.insert(lower.into(), until_ms);
        self.runtime_count.store(runtime.len(), Ordering::Release);
        true
    }

    /// Withdraws a run-time allow; whether there was one.
    pub fn disallow(&self, domain: NameRef<'_>) -> bool {
        let mut buf = [0u8; 255];
        let lower = lowercase(domain, &mut buf);
        let Ok(mut runtime) = self.runtime.lock() else {
            return false;
        };
        let had = runtime.remove(lower).is_some();
        self.runtime_count.store(runtime.len(), Ordering::Release);
        had
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::net::Ipv4Addr;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn client(i: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, i))
    }

    fn verdict(enforce: Enforce, client: Option<IpAddr>, until_ms: u64) -> Verdict {
        Verdict {
            enforce,
            client,
            until_ms,
            reason: "tunnel",
            summary: "412 distinct subdomains in 60 s".into(),
        }
    }

    const NX: Enforce = Enforce::Block(BlockKind::Nxdomain);

    #[test]
    fn blocks_until_expiry_case_insensitively() {
        let v = Verdicts::new(8);
        let d = name("Tunnel.Example");
        assert_eq!(v.check(d.as_ref(), client(1), 0), None);
        v.set(d.as_ref(), verdict(NX, None, 1000), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v.check(name("tunnel.EXAMPLE").as_ref(), client(1), 999),
            Some(NX)
        );
        assert_eq!(
            v.check(name("other.example").as_ref(), client(1), 999),
            None
        );
        assert_eq!(v.list(500).len(), 1);
        assert_eq!(v.list(500)[0].domain, name("tunnel.example"));
        // Expired: gone, and removed lazily by the check.
        assert_eq!(v.list(1000).len(), 0);
        assert_eq!(v.check(d.as_ref(), client(1), 1000), None);
        assert_eq!(v.len(), 0);
        assert!(v.is_empty());
    }

    #[test]
    fn per_client_verdicts() {
        let v = Verdicts::new(8);
        let d = name("tunnel.example");
        v.set(
            d.as_ref(),
            verdict(Enforce::Block(BlockKind::Refused), Some(client(7)), 10_000),
            0,
        );
        assert_eq!(
            v.check(d.as_ref(), client(7), 1),
            Some(Enforce::Block(BlockKind::Refused))
        );
        assert_eq!(v.check(d.as_ref(), client(8), 1), None);
        // A second client's verdict stands beside the first; the same client's replaces.
        v.set(d.as_ref(), verdict(NX, Some(client(8)), 10_000), 1);
        v.set(d.as_ref(), verdict(NX, Some(client(7)), 10_000), 1);
        assert_eq!(v.len(), 2);
        assert_eq!(v.check(d.as_ref(), client(7), 2), Some(NX));
        assert!(v.clear(name("TUNNEL.example").as_ref()));
        assert!(!v.clear(d.as_ref()));
        assert_eq!(v.check(d.as_ref(), client(7), 3), None);
        assert!(v.is_empty());
    }

    #[test]
    fn rate_limit_is_a_token_bucket() {
        let v = Verdicts::new(8);
        let d = name("chatty.example");
        let limited = Enforce::RateLimited { qps: 5 };
        v.set(d.as_ref(), verdict(limited, None, 100_000), 0);
        // A burst of five passes, the sixth is refused.
        for _ in 0..5 {
            assert_eq!(v.check(d.as_ref(), client(1), 0), None);
        }
        assert_eq!(v.check(d.as_ref(), client(1), 0), Some(limited));
        // 200 ms later, one more token.
        assert_eq!(v.check(d.as_ref(), client(1), 200), None);
        assert_eq!(v.check(d.as_ref(), client(1), 200), Some(limited));
        // A long pause refills to the burst only.
        for _ in 0..5 {
            assert_eq!(v.check(d.as_ref(), client(1), 60_000), None);
        }
        assert_eq!(v.check(d.as_ref(), client(1), 60_000), Some(limited));
        // A block wins over a rate limit.
        v.set(d.as_ref(), verdict(NX, Some(client(2)), 100_000), 0);
        assert_eq!(v.check(d.as_ref(), client(2), 60_000), Some(NX));
    }

    #[test]
    fn full_table_replaces_the_verdict_closest_to_expiry() {
        let v = Verdicts::new(3);
        v.set(name("a.example").as_ref(), verdict(NX, None, 500), 0);
        v.set(name("b.example").as_ref(), verdict(NX, None, 300), 0);
        v.set(name("c.example").as_ref(), verdict(NX, None, 900), 0);
        v.set(name("d.example").as_ref(), verdict(NX, None, 700), 0);
        assert_eq!(v.len(), 3);
        assert_eq!(v.check(name("b.example").as_ref(), client(1), 1), None);
        for d in ["a.example", "c.example", "d.example"] {
            assert_eq!(v.check(name(d).as_ref(), client(1), 1), Some(NX), "{d}");
        }
        // Expired verdicts make room first.
        v.set(name("e.example").as_ref(), verdict(NX, None, 2000), 600);
        assert_eq!(
            v.check(name("c.example").as_ref(), client(1), 600),
            Some(NX)
        );
        assert_eq!(
            v.check(name("e.example").as_ref(), client(1), 600),
            Some(NX)
        );
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn a_flood_of_verdicts_keeps_the_latest_and_the_index_consistent() {
        // Far more alerting domains than room: each new verdict evicts the one closest to
        // expiry (O(log n)), and what is held is exactly the latest `capacity`.
        let v = Verdicts::new(1_000);
        for i in 0..20_000u64 {
            let d = name(&format!("d{i}.example"));
            v.set(d.as_ref(), verdict(NX, None, 1_000_000 + i), i);
        }
        assert_eq!(v.len(), 1_000);
        for i in [0u64, 18_999] {
            let d = name(&format!("d{i}.example"));
            assert_eq!(v.check(d.as_ref(), client(1), 20_000), None, "d{i}");
        }
        for i in [19_000u64, 19_500, 19_999] {
            let d = name(&format!("D{i}.EXAMPLE"));
            assert_eq!(v.check(d.as_ref(), client(1), 20_000), Some(NX), "d{i}");
        }
        // Per-client verdicts on one domain, replaced and cleared: the counts follow.
        let shared = name("shared.example");
        v.set(shared.as_ref(), verdict(NX, Some(client(1)), 2_000_000), 0);
        v.set(shared.as_ref(), verdict(NX, Some(client(2)), 2_000_000), 0);
        v.set(shared.as_ref(), verdict(NX, Some(client(2)), 3_000_000), 0);
        assert_eq!(v.len(), 1_000);
        assert!(v.clear(shared.as_ref()));
        assert_eq!(v.len(), 998);
        assert_eq!(v.check(shared.as_ref(), client(2), 20_000), None);
        // Everything lapses: the next set purges them all.
        v.set(
            name("last.example").as_ref(),
            verdict(NX, None, 9_000_000),
            5_000_000,
        );
        assert_eq!(v.len(), 1);
        let table = v.table.lock().unwrap();
        assert_eq!(table.by_expiry.len(), 1);
        assert_eq!(table.filter_counts.iter().sum::<u32>(), 1);
    }

    #[test]
    fn allow_list_matches_on_label_boundaries() {
        let a = AllowList::new(&[name("corp.Example")], 4);
        let allowed = [
            "1.2.0.192.in-addr.arpa",
            "IN-ADDR.ARPA",
            "b.a.9.8.ip6.arpa",
            "2.0.0.127.zen.spamhaus.org",
            "x.Hash.Cymru.com",
            "0123abcd.avqs.mcafee.com",
            "2.0.0.127.abcdefkey.zen.dq.spamhaus.net",
            "2.0.0.127.psbl.surriel.com",
            "2.0.0.127.dnsbl-1.uceprotect.net",
            "2.0.0.127.bl.0spam.org",
            "deep.host.corp.example",
            "sel._domainkey.example.com",
            "_dmarc.example.com",
            "S._DomainKey.Example.com",
            "a-very-long-label-of-a-tunnel-like-host.Corp.EXAMPLE",
        ];
        for n in allowed {
            assert!(a.allows(name(n).as_ref(), 0), "{n}");
            assert_eq!(a.weight(name(n).as_ref(), 0), ALLOWED_WEIGHT, "{n}");
        }
        let other = [
            "notspamhaus.org",
            "spamhaus.org.evil.example",
            "cymru.com",
            "surriel.com",
            "example.com",
            "xcorp.example",
            "domainkey.example.com",
            "arpa",
        ];
        for n in other {
            assert!(!a.allows(name(n).as_ref(), 0), "{n}");
            assert_eq!(a.weight(name(n).as_ref(), 0), 1.0, "{n}");
        }
    }

    #[test]
    fn every_zone_passes_the_end_filter_and_short_zones_turn_it_off() {
        let a = AllowList::new(&[], 4);
        assert!(a.ends.is_some());
        for zone in BUILTIN_ALLOWED_ZONES {
            for n in [zone.to_string(), format!("x.{}", zone.to_uppercase())] {
                assert!(a.allows(name(&n).as_ref(), 0), "{n}");
            }
        }
        // An operator's zone shorter than the filter's bytes: no filter, still matched.
        let short = AllowList::new(&[name("a.b")], 4);
        assert!(short.ends.is_none());
        assert!(short.allows(name("x.A.b").as_ref(), 0));
        assert!(!short.allows(name("x.b").as_ref(), 0));
        assert!(!a.allows(name("b").as_ref(), 0));
    }

    #[test]
    fn runtime_allows_expire_and_are_bounded() {
        let a = AllowList::new(&[], 2);
        let d = name("Vendor.example");
        assert!(a.allow(d.as_ref(), 1000, 0));
        assert!(a.allows(name("x.y.vendor.EXAMPLE").as_ref(), 999));
        assert!(!a.allows(name("xvendor.example").as_ref(), 999));
        assert!(a.allow(name("b.example").as_ref(), 5000, 0));
        // Full of allows in force.
        assert!(!a.allow(name("c.example").as_ref(), 5000, 10));
        // Re-allowing one held is always possible.
        assert!(a.allow(d.as_ref(), 2000, 10));
        assert!(a.allows(d.as_ref(), 1500));
        assert!(!a.allows(d.as_ref(), 2000));
        // The expired one made room.
        assert!(a.allow(name("c.example").as_ref(), 5000, 2000));
        assert!(a.disallow(name("C.example").as_ref()));
        assert!(!a.allows(name("c.example").as_ref(), 2001));
        assert!(!a.disallow(name("c.example").as_ref()));
    }
}
