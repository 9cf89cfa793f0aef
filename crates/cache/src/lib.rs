//! The resolver's cache: what the recursor learned, kept so clients are answered without asking
//! again, under a memory budget.
//!
//! # What is kept
//!
//! - **RRsets** (RFC 1034 section 4.3.2, RFC 2181 section 5): every record of a name and type,
//!   with the RRSIGs that cover them (kept for DNSSEC validation and written for clients that set
//!   DO). Each RRset lives for its TTL, clamped to `[min_ttl, max_ttl]` from [`CacheConfig`].
//! - **Credibility** (RFC 2181 section 5.4.1): the same RRset can be learned from an
//!   authoritative answer, a forwarder's answer, an authority section or a referral's glue, and
//!   these deserve different belief. [`Trust`] ranks them; data of a lower rank never replaces
//!   unexpired data of a higher rank, and clients are answered only from [`Trust::Authority`]
//!   and above: glue serves the resolver alone (it is where poisoning attacks aim).
//! - **Negative answers** (RFC 2308): "no such name" (NXDOMAIN, for the name whatever the type)
//!   and "no such data" (NODATA, for a name and a type) are cached too, with the SOA of the zone
//!   that said so, for `min(SOA TTL, SOA MINIMUM)` (section 5) capped by `max_negative_ttl`.
//!   An NXDOMAIN also covers every name below it (RFC 8020, the "NXDOMAIN cut"): nothing can
//!   exist under a name that does not exist.
//! - **Delegations** learned from a parent's referral, kept apart from answers (a separate key
//!   kind): the child's own NS RRset never refreshes the parent's delegation, so a domain its
//!   parent deleted dies when the delegation expires ("ghost domain names", NDSS 2012).
//! - **Failures** (RFC 9520): a question whose resolution just failed is not tried again for a
//!   few seconds, so a broken zone does not turn every client retry into upstream traffic.
//!
//! # Serving
//!
//! [`Cache::answer`] runs on the client hot path: it writes the cached answer (following CNAMEs
//! through the cache, SOA for negative ends, RRSIGs when asked) into a
//! [`MessageWriter`] without allocating: entries are stored as one byte blob in wire form
//! (see `entry.rs`), keys are built on the stack. TTLs written are the seconds remaining.
//!
//! **Serve-stale** (RFC 8767): expired entries are not removed; they stay until eviction
//! reaches them. When resolution fails, the engine asks again with [`AnswerMode::stale`] and
//! expired data up to `max_stale` seconds old is served with a TTL of `stale_answer_ttl`
//! (section 4 recommends 30 seconds).
//!
//! **Prefetch**: a hit on an entry in the last tenth of its TTL reports `prefetch` once per
//! entry, so the caller starts one background refresh and popular names never expire
//! (Unbound's `prefetch`).
//!
//! # Which call to use
//!
//! The recursor stores what it learns with [`Cache::insert_rrset`], [`Cache::insert_delegation`],
//! [`Cache::insert_negative`] and [`Cache::insert_failure`], and consults [`Cache::rrset`],
//! [`Cache::closest_delegation`], [`Cache::negative`] and [`Cache::failure`] (these copy into
//! owned values). The engine answers clients with [`Cache::answer`] alone. Time is always passed
//! in as a [`Time`]; nothing here reads a clock.
//!
//! # Memory and concurrency
//!
//! The store is split into shards (a power of two) chosen by a hash of the key, each with its
//! own read-write lock and an equal part of `max_bytes`. Lookups take the read lock and only
//! touch atomics; inserts take the write lock and evict with S3-FIFO, which a one-hit scan
//! cannot flush (see `store.rs`). Memory is accounted as the heap really holds it.

#![forbid(unsafe_code)]

mod answer;
mod entry;
mod key;
mod store;

use wire::{Class, MessageWriter, Name, NameRef, RType, Rcode};

use crate::answer::AnswerCounters;
use crate::entry::{Entry, Freshness};
use crate::key::{KeyBuf, KeyHasher, Kind};
use crate::store::{Counters, Shard};

/// A point in time: milliseconds since an arbitrary, monotonic epoch chosen by the caller.
///
/// Nothing in the cache or the recursor reads a clock; the transport passes `now` in, and
/// tests pass whatever time they like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(u64);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(0);

    /// `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Time {
        Time(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// This time plus `millis` milliseconds (saturating).
    pub const fn plus_millis(self, millis: u64) -> Time {
        Time(self.0.saturating_add(millis))
    }

    /// This time plus `secs` seconds (saturating).
    pub const fn plus_secs(self, secs: u32) -> Time {
        Time(self.0.saturating_add(secs as u64 * 1000))
    }

    /// Milliseconds from `earlier` to this time, 0 when `earlier` is later.
    pub const fn millis_since(self, earlier: Time) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// Whole seconds from this time until `later`, rounded down, 0 when `later` has passed;
    /// capped at `u32::MAX`.
    pub fn secs_until(self, later: Time) -> u32 {
        u32::try_from(later.0.saturating_sub(self.0) / 1000).unwrap_or(u32::MAX)
    }
}

/// How far data may be believed, by where it was found (RFC 2181 section 5.4.1), lowest first.
///
/// Data of a lower rank never replaces unexpired data of a higher rank. Clients are answered
/// only from [`Trust::Authority`] and above; glue and additional data serve the resolver alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trust {
    /// Addresses from a referral's additional section (glue).
    Glue,
    /// The additional section of an answer.
    Additional,
    /// The authority section of an authoritative answer (for example the zone's own NS).
    Authority,
    /// The answer section of a response without AA (a forwarder's answer).
    Answer,
    /// The answer section of an authoritative answer (AA set).
    AuthAnswer,
}

/// What DNSSEC validation said of cached data (RFC 4035 section 4.3). Bogus data is never
/// kept as data: a bogus result is remembered as a failure with its Extended DNS Error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Validation {
    /// Not validated (validation off, asked with CD, or not yet judged): answers only clients
    /// that do not want validated data.
    #[default]
    Unchecked,
    /// Provably unsigned (or under a negative trust anchor).
    Insecure,
    /// Validated from a trust anchor.
    Secure,
}

/// An RRset as the resolver learned it: every RDATA in uncompressed wire form, with the RRSIG
/// RDATAs that cover it (kept for DNSSEC validation, written for clients that set DO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrSet {
    /// The owner name, case as received.
    pub owner: Name,
    /// The type.
    pub rtype: RType,
    /// The class (IN).
    pub class: Class,
    /// The TTL as received (the smallest of the records').
    pub ttl: u32,
    /// Each record's RDATA, uncompressed.
    pub rdatas: Vec<Vec<u8>>,
    /// RDATAs of the RRSIG records covering this RRset, uncompressed.
    pub sigs: Vec<Vec<u8>>,
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The smallest memory budget [`CacheConfig::validate`] accepts.
pub const MIN_BYTES: usize = 1 << 20;
/// The largest memory budget [`CacheConfig::validate`] accepts.
pub const MAX_BYTES: usize = 1 << 40;
/// The most shards.
pub const MAX_SHARDS: usize = 1024;
/// The most CNAMEs [`Cache::answer`] follows.
pub const MAX_CNAME_CHAIN: usize = 16;

/// Settings of the cache, with Unbound's names in mind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Memory budget in bytes for everything stored; default 64 MiB, 1 MiB ..= 1 TiB.
    pub max_bytes: usize,
    /// Shards, a power of two; default 16 (1 ..= 1024).
    pub shards: usize,
    /// Smallest TTL an RRset is kept for, in seconds; default 0 (Unbound `cache-min-ttl`).
    pub min_ttl: u32,
    /// Largest TTL an RRset is kept for; default 86,400 (Unbound `cache-max-ttl`).
    pub max_ttl: u32,
    /// Largest TTL of a negative answer; default 3,600 (Unbound `cache-max-negative-ttl`).
    pub max_negative_ttl: u32,
    /// Whether expired data may be served when resolution fails (RFC 8767); default true.
    pub serve_stale: bool,
    /// Seconds past expiry an entry may still be served; default 86,400.
    pub max_stale: u32,
    /// TTL written on a stale answer; default 30 (RFC 8767 section 4).
    pub stale_answer_ttl: u32,
    /// Whether hits near expiry ask for a refresh; default true.
    pub prefetch: bool,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            max_bytes: 64 << 20,
            shards: 16,
            min_ttl: 0,
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
            serve_stale: true,
            max_stale: 86_400,
            stale_answer_ttl: 30,
            prefetch: true,
        }
    }
}

impl CacheConfig {
    /// Checks the bounds; the message names the setting.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(MIN_BYTES..=MAX_BYTES).contains(&self.max_bytes) {
            return Err("max_bytes must be between 1 MiB and 1 TiB");
        }
        if !self.shards.is_power_of_two() || self.shards > MAX_SHARDS {
            return Err("shards must be a power of two from 1 to 1024");
        }
        if self.min_ttl > self.max_ttl {
            return Err("min_ttl must not exceed max_ttl");
        }
        if self.stale_answer_ttl > self.max_ttl {
            return Err("stale_answer_ttl must not exceed max_ttl");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Public result types
// ---------------------------------------------------------------------------------------------

/// Which negative answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NegativeKind {
    /// The name does not exist (RCODE 3).
    NxDomain,
    /// The name exists without records of the type (NOERROR, empty answer).
    NoData,
}

/// A cached negative answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negative {
    /// NXDOMAIN or NODATA.
    pub kind: NegativeKind,
    /// The SOA of the zone that said so, TTL the seconds remaining.
    pub soa: RrSet,
    /// NSEC/NSEC3 RRsets with their signatures, TTL the seconds remaining.
    pub proofs: Vec<RrSet>,
    /// What validation said of it.
    pub validation: Validation,
}

/// How [`Cache::answer`] may answer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnswerMode {
    /// The client set DO: write RRSIGs (and the NSEC/NSEC3 proofs of negative answers).
    pub dnssec_ok: bool,
    /// Allow expired entries within `max_stale` (RFC 8767); their TTL is `stale_answer_ttl`.
    pub stale: bool,
    /// Answer only from data DNSSEC validation judged secure or insecure (a validating
    /// resolver asked without CD); unchecked data is a miss.
    pub validated: bool,
}

/// What [`Cache::answer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheAnswer {
    /// Written. `rcode` is NOERROR or NXDOMAIN. `prefetch`: some entry used is in the last
    /// tenth of its original TTL and prefetching is on (reported once per entry, so one
    /// refresh is started). `stale`: expired data was used (only in stale mode).
    Hit {
        /// NOERROR or NXDOMAIN.
        rcode: Rcode,
        /// Start a background refresh.
        prefetch: bool,
        /// Expired data was used.
        stale: bool,
        /// Every entry used was validated secure: the AD bit may be set (RFC 4035 3.2.3).
        secure: bool,
    },
    /// Not (entirely) in the cache.
    Miss,
    /// The answer did not fit in the writer's limit: the caller sets TC.
    Truncated,
}

/// Counters and sizes, summed over the shards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Entries stored (RRsets, delegations, negative answers, failures).
    pub entries: u64,
    /// Heap bytes used, entries and structures.
    pub bytes: u64,
    /// The budget.
    pub max_bytes: u64,
    /// Client questions answered from the cache by [`Cache::answer`] (truncated ones included).
    pub hits: u64,
    /// Client questions not answered from the cache.
    pub misses: u64,
    /// Entries stored or replaced.
    pub inserts: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries dropped because they were past use (expired beyond the stale window).
    pub expired: u64,
}

// ---------------------------------------------------------------------------------------------
// The cache
// ---------------------------------------------------------------------------------------------

/// The cache: `Send + Sync`, shared as `Arc<Cache>` by the engine and the recursor.
pub struct Cache {
    config: CacheConfig,
    shards: Box<[Shard]>,
    shard_mask: usize,
    hasher: KeyHasher,
    answers: AnswerCounters,
}

impl core::fmt::Debug for Cache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Cache")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Cache {
    /// A cache with `config`. Out-of-range values are brought into range rather than refused
    /// (the shard count rounded up to a power of two, at most 1,024); use
    /// [`CacheConfig::validate`] to report them.
    pub fn new(mut config: CacheConfig) -> Cache {
        config.shards = config.shards.clamp(1, MAX_SHARDS).next_power_of_two();
        config.max_ttl = config.max_ttl.max(config.min_ttl);
        let per_shard = config.max_bytes / config.shards;
        let shards = (0..config.shards).map(|_| Shard::new(per_shard)).collect();
        Cache {
            shard_mask: config.shards - 1,
            shards,
            config,
            hasher: KeyHasher::new(),
            answers: AnswerCounters::new(),
        }
    }

    /// The configuration in force (after [`Cache::new`] brought it into range).
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    // --- the recursor's side (cold path) -----------------------------------------------------

    /// Stores an RRset (TTL clamped to `[min_ttl, max_ttl]`). Lower trust never replaces
    /// unexpired higher trust; returns whether it was stored. An RRset without records, or with
    /// a TTL of zero after clamping, is not stored. Data from an answer (trust
    /// [`Trust::Answer`] and above) removes any cached negative answer for its name and type.
    pub fn insert_rrset(&self, rrset: &RrSet, trust: Trust, now: Time) -> bool {
        self.insert_validated(rrset, &[], trust, Validation::Unchecked, now)
    }

    /// [`Cache::insert_rrset`] with what validation said of the RRset, and the NSEC/NSEC3
    /// RRsets that proved a wildcard expansion (kept beside it: answered with it under DO).
    /// A validated RRset replaces the same data unchecked at the same trust; unchecked data
    /// never replaces validated data of the same trust before it expires (an unvalidated
    /// copy must not undo validation).
    pub fn insert_validated(
        &self,
        rrset: &RrSet,
        proofs: &[RrSet],
        trust: Trust,
        validation: Validation,
        now: Time,
    ) -> bool {
        if rrset.rdatas.is_empty() {
            return false;
        }
        let ttl = rrset.ttl.clamp(self.config.min_ttl, self.config.max_ttl);
        let key = KeyBuf::new(Kind::Data, rrset.rtype, rrset.owner.as_ref());
        let mut sets = Vec::with_capacity(1 + proofs.len());
        sets.push(rrset);
        sets.extend(proofs);
        let stored = self.store(&key, &sets, ttl, trust, validation, now, |old| {
            old.expires <= now
                || trust > old.trust
                || (trust == old.trust && validation >= old.validation)
        });
        if stored && trust >= Trust::Answer {
            let owner = rrset.owner.as_ref();
            self.remove(&KeyBuf::new(Kind::NoData, rrset.rtype, owner));
            self.remove(&KeyBuf::new(Kind::NxDomain, rrset.rtype, owner));
        }
        stored
    }

    /// An unexpired RRset with its trust and what validation said of it.
    pub fn rrset_validated(
        &self,
        name: NameRef<'_>,
        rtype: RType,
        now: Time,
    ) -> Option<(RrSet, Trust, Validation)> {
        self.with_fresh(&KeyBuf::new(Kind::Data, rtype, name), now, |e, ttl| {
            Some((e.first_set()?.to_rrset(ttl), e.trust, e.validation))
        })
    }

    /// An unexpired RRset (TTL = remaining seconds), with its trust.
    pub fn rrset(&self, name: NameRef<'_>, rtype: RType, now: Time) -> Option<(RrSet, Trust)> {
        self.with_fresh(&KeyBuf::new(Kind::Data, rtype, name), now, |e, ttl| {
            Some((e.first_set()?.to_rrset(ttl), e.trust))
        })
    }

    /// A delegation learned from a parent's referral (NS RRset at the zone cut), kept apart
    /// from answers: child-side NS never refreshes it (ghost domains). Replaces an older one.
    pub fn insert_delegation(&self, ns: &RrSet, now: Time) {
        if ns.rdatas.is_empty() {
            return;
        }
        let ttl = ns.ttl.clamp(self.config.min_ttl, self.config.max_ttl);
        let key = KeyBuf::new(Kind::Delegation, RType::NS, ns.owner.as_ref());
        self.store(
            &key,
            &[ns],
            ttl,
            Trust::Authority,
            Validation::Unchecked,
            now,
            |_| true,
        );
    }

    /// The deepest unexpired delegation at or above `name`: (zone cut, NS RRset).
    pub fn closest_delegation(&self, name: NameRef<'_>, now: Time) -> Option<RrSet> {
        let mut at = Some(name);
        while let Some(cut) = at {
            let key = KeyBuf::new(Kind::Delegation, RType::NS, cut);
            let found = self.with_fresh(&key, now, |e, ttl| Some(e.first_set()?.to_rrset(ttl)));
            if found.is_some() {
                return found;
            }
            at = cut.parent();
        }
        None
    }

    /// Negative answers (RFC 2308). `soa` is the SOA from the authority section (required:
    /// without one nothing is cached); `proofs` are NSEC/NSEC3 RRsets with their sigs.
    /// TTL = min(SOA TTL, SOA MINIMUM), capped by max_negative_ttl. A newer negative answer
    /// replaces an older one, and removes the cached data it contradicts (the RRset of that
    /// name and type; for NXDOMAIN also the name's CNAME).
    pub fn insert_negative(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        kind: NegativeKind,
        soa: &RrSet,
        proofs: &[RrSet],
        now: Time,
    ) {
        self.insert_negative_validated(qname, qtype, kind, soa, proofs, Validation::Unchecked, now);
    }

    /// [`Cache::insert_negative`] with what validation said of it; the TTL is also capped by
    /// the SOA RRset's TTL as given (the validator lowers it to the signatures' expiry).
    #[allow(clippy::too_many_arguments)]
    pub fn insert_negative_validated(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        kind: NegativeKind,
        soa: &RrSet,
        proofs: &[RrSet],
        validation: Validation,
        now: Time,
    ) {
        let Some(ttl) = negative_ttl(soa) else {
            return;
        };
        let ttl = ttl.min(self.config.max_negative_ttl);
        let mut sets = Vec::with_capacity(1 + proofs.len());
        sets.push(soa);
        sets.extend(proofs);
        let key_kind = match kind {
            NegativeKind::NxDomain => Kind::NxDomain,
            NegativeKind::NoData => Kind::NoData,
        };
        let key = KeyBuf::new(key_kind, qtype, qname);
        if self.store(&key, &sets, ttl, Trust::AuthAnswer, validation, now, |_| {
            true
        }) {
            self.remove(&KeyBuf::new(Kind::Data, qtype, qname));
            if kind == NegativeKind::NxDomain {
                self.remove(&KeyBuf::new(Kind::Data, RType::CNAME, qname));
            }
        }
    }

    /// A cached negative answer for (qname, qtype): NODATA for that type, or NXDOMAIN for the
    /// name or for any ancestor (RFC 8020: NXDOMAIN cuts the tree below it).
    pub fn negative(&self, qname: NameRef<'_>, qtype: RType, now: Time) -> Option<Negative> {
        let to_negative = |kind: NegativeKind| {
            move |e: &Entry, ttl: u32| {
                let mut sets = e.sets().map(|p| p.to_rrset(ttl));
                let soa = sets.next()?;
                Some(Negative {
                    kind,
                    soa,
                    proofs: sets.collect(),
                    validation: e.validation,
                })
            }
        };
        let key = KeyBuf::new(Kind::NoData, qtype, qname);
        if let Some(n) = self.with_fresh(&key, now, to_negative(NegativeKind::NoData)) {
            return Some(n);
        }
        let mut at = Some(qname);
        while let Some(name) = at {
            let key = KeyBuf::new(Kind::NxDomain, qtype, name);
            if let Some(n) = self.with_fresh(&key, now, to_negative(NegativeKind::NxDomain)) {
                return Some(n);
            }
            at = name.parent();
        }
        None
    }

    /// RFC 9520: remember that resolving (qname, qtype) failed, for `ttl` seconds (at most
    /// `max_ttl`).
    pub fn insert_failure(&self, qname: NameRef<'_>, qtype: RType, ttl: u32, now: Time) {
        self.insert_failure_ede(qname, qtype, ttl, 0, now);
    }

    /// [`Cache::insert_failure`] remembering the Extended DNS Error code to answer with (a
    /// bogus DNSSEC result says why, RFC 8914); 0 for none.
    pub fn insert_failure_ede(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        ttl: u32,
        ede: u16,
        now: Time,
    ) {
        let ttl = ttl.min(self.config.max_ttl);
        let key = KeyBuf::new(Kind::Failure, qtype, qname);
        self.store_entry(
            &key,
            &[],
            ttl,
            Trust::AuthAnswer,
            Validation::Unchecked,
            ede,
            now,
            |_| true,
        );
    }

    /// Whether resolving (qname, qtype) failed within the time given to
    /// [`Cache::insert_failure`].
    pub fn failure(&self, qname: NameRef<'_>, qtype: RType, now: Time) -> bool {
        self.failure_ede(qname, qtype, now).is_some()
    }

    /// The remembered failure of (qname, qtype), with its Extended DNS Error code (0: none).
    pub fn failure_ede(&self, qname: NameRef<'_>, qtype: RType, now: Time) -> Option<u16> {
        let key = KeyBuf::new(Kind::Failure, qtype, qname);
        self.with_fresh(&key, now, |e, _| Some(e.ede))
    }

    // --- the client hot path -----------------------------------------------------------------

    /// Writes the cached answer for (qname, qtype) into `w` after its question: the answer
    /// section follows CNAMEs through the cache (at most 16), data at Trust::Authority or above
    /// only; a negative end writes the SOA (TTL decremented) into authority. RRSIGs are written
    /// too when `dnssec_ok`. TTLs are the remaining seconds. On `Miss`, `w` may hold a partial
    /// answer and the caller starts the message again. Allocates nothing.
    pub fn answer(
        &self,
        qname: NameRef<'_>,
        qtype: RType,
        mode: AnswerMode,
        now: Time,
        w: &mut MessageWriter<'_>,
    ) -> CacheAnswer {
        answer::answer(self, qname, qtype, mode, now, w)
    }

    // --- operations --------------------------------------------------------------------------

    /// Removes everything.
    pub fn flush_all(&self) {
        for shard in self.shards.iter() {
            shard.write().clear();
        }
    }

    /// Removes every entry owned by `name` (and below it with `subtree`); returns how many.
    pub fn flush(&self, name: NameRef<'_>, subtree: bool) -> usize {
        let matches = |key: &[u8]| {
            key::key_name(key).is_some_and(|owner| {
                if subtree {
                    owner.is_subdomain_of(name)
                } else {
                    owner == name
                }
            })
        };
        self.shards
            .iter()
            .map(|s| s.write().remove_matching(matches))
            .sum()
    }

    /// Counters and sizes.
    pub fn stats(&self) -> CacheStats {
        let (hits, misses) = self.answers.totals();
        let mut stats = CacheStats {
            max_bytes: self.config.max_bytes as u64,
            hits,
            misses,
            ..CacheStats::default()
        };
        for shard in self.shards.iter() {
            {
                let store = shard.read();
                stats.entries += store.len() as u64;
                stats.bytes += store.bytes() as u64;
            }
            let c = &shard.counters;
            stats.inserts += Counters::get(&c.inserts);
            stats.evictions += Counters::get(&c.evictions);
            stats.expired += Counters::get(&c.expired);
        }
        stats
    }

    // --- internals ---------------------------------------------------------------------------

    /// The hash of `key` and its shard. The shard takes bits 40 and up, apart from the low bits
    /// (bucket) and the top seven (tag) that the hash table uses.
    pub(crate) fn locate(&self, key: &[u8]) -> (u64, &Shard) {
        let hash = self.hasher.hash(key);
        let idx = (hash >> 40) as usize & self.shard_mask;
        // `shards` has `shard_mask + 1` elements, so the index is always in range.
        (hash, &self.shards[idx])
    }

    /// How long past expiry an entry may still be served (zero without serve-stale).
    fn stale_window_ms(&self) -> u64 {
        if self.config.serve_stale {
            u64::from(self.config.max_stale) * 1000
        } else {
            0
        }
    }

    /// Stores `sets` under `key` for `ttl` seconds; whether it was stored. A TTL of zero means
    /// "use once, do not cache" (RFC 1035 section 3.2.1), so nothing is stored, not even for
    /// serving stale.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        key: &KeyBuf,
        sets: &[&RrSet],
        ttl: u32,
        trust: Trust,
        validation: Validation,
        now: Time,
        may_replace: impl FnOnce(&Entry) -> bool,
    ) -> bool {
        self.store_entry(key, sets, ttl, trust, validation, 0, now, may_replace)
    }

    /// [`Cache::store`] with the Extended DNS Error code a failure entry answers with.
    #[allow(clippy::too_many_arguments)]
    fn store_entry(
        &self,
        key: &KeyBuf,
        sets: &[&RrSet],
        ttl: u32,
        trust: Trust,
        validation: Validation,
        ede: u16,
        now: Time,
        may_replace: impl FnOnce(&Entry) -> bool,
    ) -> bool {
        if ttl == 0 {
            return false;
        }
        let (hash, shard) = self.locate(key.as_bytes());
        let expires = now.plus_secs(ttl);
        let Some(mut entry) =
            Entry::new(key.as_bytes(), hash, sets, expires, ttl, trust, validation)
        else {
            return false;
        };
        entry.ede = ede;
        let window = self.stale_window_ms();
        let dead = |e: &Entry| now.millis_since(e.expires) >= window && now >= e.expires;
        let outcome = shard.write().insert(entry, may_replace, dead);
        let c = &shard.counters;
        Counters::add(&c.inserts, u64::from(outcome.stored));
        Counters::add(&c.evictions, outcome.evicted);
        Counters::add(&c.expired, outcome.expired);
        outcome.stored
    }

    fn remove(&self, key: &KeyBuf) {
        let (hash, shard) = self.locate(key.as_bytes());
        shard.write().remove(hash, key.as_bytes());
    }

    /// Runs `f` on the unexpired entry with `key` and its remaining TTL in seconds.
    fn with_fresh<T>(
        &self,
        key: &KeyBuf,
        now: Time,
        f: impl FnOnce(&Entry, u32) -> Option<T>,
    ) -> Option<T> {
        let (hash, shard) = self.locate(key.as_bytes());
        let store = shard.read();
        let entry = store.get(hash, key.as_bytes())?;
        match entry.freshness(now, None)? {
            Freshness::Fresh(_) => f(entry, now.secs_until(entry.expires)),
            Freshness::Stale => None,
        }
    }
}

/// The negative TTL an SOA gives (RFC 2308 section 5): the smaller of its TTL and its MINIMUM
/// field; `None` when it is not a usable SOA.
fn negative_ttl(soa: &RrSet) -> Option<u32> {
    if soa.rtype != RType::SOA {
        return None;
    }
    let rdata = soa.rdatas.first()?;
    let (_mname, rest) = NameRef::split_wire(rdata).ok()?;
    let (_rname, rest) = NameRef::split_wire(rest).ok()?;
    let minimum = <[u8; 4]>::try_from(rest.get(16..20)?).ok()?;
    Some(soa.ttl.min(u32::from_be_bytes(minimum)))
}

#[cfg(test)]
mod tests;
