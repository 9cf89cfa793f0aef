//! Client answers from the cache, written straight into a message (no allocation).
//!
//! For a question (QNAME, QTYPE) the answer is built step by step, each step one name:
//!
//! 1. the RRset of the name and QTYPE: written to the answer section, done (NOERROR);
//! 2. else the name's CNAME (RFC 1034 section 3.6.2): written, and the next step is its target,
//!    at most [`MAX_CNAME_CHAIN`] times;
//! 3. else a NODATA for the name and QTYPE: its SOA goes to the authority section (RFC 2308
//!    section 3), done (NOERROR);
//! 4. else an NXDOMAIN for the name or one of its ancestors (RFC 8020): SOA, done (NXDOMAIN,
//!    also after CNAMEs, RFC 6604);
//! 5. else a miss: the recursor has to ask.
//!
//! Only data at [`Trust::Authority`] and above answers a client. With DO set, each RRset is
//! followed by its RRSIGs, and negative answers carry their NSEC/NSEC3 proofs (RFC 4035
//! section 3.1). Each step takes its shard's read lock only for the time it copies bytes; a
//! CNAME target is copied to the stack before the next lock is taken, so no thread ever holds
//! two shard locks.

use core::cell::Cell;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use wire::name::MAX_NAME_LEN;
use wire::{MessageWriter, NameRef, RType, Rcode, Section, WriteError};

use crate::entry::{Entry, Freshness, Packed};
use crate::key::{KeyBuf, Kind};
use crate::{AnswerMode, Cache, CacheAnswer, MAX_CNAME_CHAIN, Time, Trust, Validation};

/// What one step ended with.
enum Step {
    /// The answer is complete.
    Done(Rcode),
    /// A CNAME was written; its target, of this length, is in the step's name buffer.
    Cname(usize),
    /// Nothing usable in the cache.
    Miss,
    /// The writer's limit was reached.
    Truncated,
}

/// What the steps share.
struct Ctx<'c> {
    cache: &'c Cache,
    mode: AnswerMode,
    now: Time,
    /// The serve-stale window, when stale data may be used.
    stale_window: Option<u64>,
    prefetch: bool,
    stale: bool,
    /// Some entry used was not validated secure.
    not_secure: bool,
}

pub(crate) fn answer(
    cache: &Cache,
    qname: NameRef<'_>,
    qtype: RType,
    mode: AnswerMode,
    now: Time,
    w: &mut MessageWriter<'_>,
) -> CacheAnswer {
    let config = cache.config();
    let mut ctx = Ctx {
        cache,
        mode,
        now,
        stale_window: (mode.stale && config.serve_stale)
            .then(|| u64::from(config.max_stale) * 1000),
        prefetch: false,
        stale: false,
        not_secure: false,
    };
    let result = follow(&mut ctx, qname, qtype, w);
    cache.answers.count(result != CacheAnswer::Miss);
    result
}

/// Runs the steps, following CNAMEs.
fn follow(
    ctx: &mut Ctx<'_>,
    qname: NameRef<'_>,
    qtype: RType,
    w: &mut MessageWriter<'_>,
) -> CacheAnswer {
    let mut name = [0u8; MAX_NAME_LEN];
    let mut next = [0u8; MAX_NAME_LEN];
    let mut len = qname.len();
    name[..len].copy_from_slice(qname.as_wire());
    for _ in 0..=MAX_CNAME_CHAIN {
        let Ok(current) = NameRef::from_wire(&name[..len]) else {
            return CacheAnswer::Miss;
        };
        match step(ctx, current, qtype, w, &mut next) {
            Step::Done(rcode) => {
                return CacheAnswer::Hit {
                    rcode,
                    prefetch: ctx.prefetch,
                    stale: ctx.stale,
                    secure: !ctx.not_secure,
                };
            }
            Step::Cname(target_len) => {
                len = target_len;
                name[..len].copy_from_slice(&next[..len]);
            }
            Step::Miss => return CacheAnswer::Miss,
            Step::Truncated => return CacheAnswer::Truncated,
        }
    }
    // A chain longer than the limit (or a loop): let the recursor deal with it.
    CacheAnswer::Miss
}

/// One name: data, CNAME, NODATA or NXDOMAIN, in that order.
fn step(
    ctx: &mut Ctx<'_>,
    name: NameRef<'_>,
    qtype: RType,
    w: &mut MessageWriter<'_>,
    next: &mut [u8; MAX_NAME_LEN],
) -> Step {
    let dnssec_ok = ctx.mode.dnssec_ok;
    let data = lookup(ctx, Kind::Data, qtype, name, |entry, ttl| {
        let mut sets = entry.sets();
        let set = sets.next()?;
        let mut written = write_set(w, Section::Answer, &set, ttl, dnssec_ok);
        if dnssec_ok {
            // The NSEC/NSEC3 records that proved a wildcard expansion (RFC 4035 3.1.3.3).
            for proof in sets {
                written =
                    written.and_then(|()| write_set(w, Section::Authority, &proof, ttl, true));
            }
        }
        Some(finish(written, Rcode::NOERROR))
    });
    if let Some(step) = data {
        return step;
    }
    if qtype != RType::CNAME {
        let cname = lookup(ctx, Kind::Data, RType::CNAME, name, |entry, ttl| {
            let set = entry.first_set()?;
            let target = NameRef::from_wire(set.rdatas.clone().next()?).ok()?;
            Some(match write_set(w, Section::Answer, &set, ttl, dnssec_ok) {
                Ok(()) => {
                    let len = target.len();
                    next[..len].copy_from_slice(target.as_wire());
                    Step::Cname(len)
                }
                Err(e) => error_step(e),
            })
        });
        if let Some(step) = cname {
            return step;
        }
    }
    let nodata = lookup(ctx, Kind::NoData, qtype, name, |entry, ttl| {
        Some(finish(
            write_negative(w, entry, ttl, dnssec_ok),
            Rcode::NOERROR,
        ))
    });
    if let Some(step) = nodata {
        return step;
    }
    let mut at = Some(name);
    while let Some(owner) = at {
        let nxdomain = lookup(ctx, Kind::NxDomain, qtype, owner, |entry, ttl| {
            Some(finish(
                write_negative(w, entry, ttl, dnssec_ok),
                Rcode::NXDOMAIN,
            ))
        });
        if let Some(step) = nxdomain {
            return step;
        }
        at = owner.parent();
    }
    Step::Miss
}

/// Finds a usable entry and runs `f` on it with the TTL to write, under the shard's read lock.
/// Counts the hit for eviction and notes prefetch and staleness.
fn lookup<'c, R>(
    ctx: &mut Ctx<'c>,
    kind: Kind,
    rtype: RType,
    name: NameRef<'_>,
    f: impl FnOnce(&Entry, u32) -> Option<R>,
) -> Option<R> {
    let key = KeyBuf::new(kind, rtype, name);
    let cache: &'c Cache = ctx.cache;
    let (hash, shard) = cache.locate(key.as_bytes());
    let store = shard.read();
    let entry = store.get(hash, key.as_bytes())?;
    if entry.trust < Trust::Authority
        || (ctx.mode.validated && entry.validation == Validation::Unchecked)
    {
        return None;
    }
    let (ttl, prefetch, stale) = match entry.freshness(ctx.now, ctx.stale_window)? {
        Freshness::Fresh(remaining) => {
            let prefetch = cache.config().prefetch && entry.take_prefetch(remaining);
            (ctx.now.secs_until(entry.expires), prefetch, false)
        }
        Freshness::Stale => (cache.config().stale_answer_ttl, false, true),
    };
    let result = f(entry, ttl)?;
    entry.touch();
    ctx.prefetch |= prefetch;
    ctx.stale |= stale;
    ctx.not_secure |= entry.validation != Validation::Secure;
    Some(result)
}

/// Writes an RRset and, with DO, its RRSIGs.
fn write_set(
    w: &mut MessageWriter<'_>,
    section: Section,
    set: &Packed<'_>,
    ttl: u32,
    dnssec_ok: bool,
) -> Result<(), WriteError> {
    w.push_rrset(
        section,
        set.owner,
        set.rtype,
        set.class,
        ttl,
        set.rdatas.clone(),
    )?;
    if dnssec_ok && !set.sigs.is_empty() {
        w.push_rrset(
            section,
            set.owner,
            RType::RRSIG,
            set.class,
            ttl,
            set.sigs.clone(),
        )?;
    }
    Ok(())
}

/// Writes a negative entry: the SOA, and with DO its signatures and the proofs.
fn write_negative(
    w: &mut MessageWriter<'_>,
    entry: &Entry,
    ttl: u32,
    dnssec_ok: bool,
) -> Result<(), WriteError> {
    let mut sets = entry.sets();
    let soa = sets.next().ok_or(WriteError::BadRdata)?;
    write_set(w, Section::Authority, &soa, ttl, dnssec_ok)?;
    if dnssec_ok {
        for proof in sets {
            write_set(w, Section::Authority, &proof, ttl, true)?;
        }
    }
    Ok(())
}

fn finish(result: Result<(), WriteError>, rcode: Rcode) -> Step {
    match result {
        Ok(()) => Step::Done(rcode),
        Err(e) => error_step(e),
    }
}

fn error_step(e: WriteError) -> Step {
    match e {
        WriteError::Truncated => Step::Truncated,
        // Anything else (bad RDATA, too many records) cannot be answered from here.
        _ => Step::Miss,
    }
}

// ---------------------------------------------------------------------------------------------
// Hit and miss counters
// ---------------------------------------------------------------------------------------------

/// Stripes of [`AnswerCounters`]; threads beyond this many share them.
const STRIPES: usize = 32;

/// Hits and misses of client answers, striped by thread: every answer counts, and one counter
/// written by every core would bounce its cache line between them on each query.
#[derive(Debug)]
pub(crate) struct AnswerCounters {
    stripes: Box<[Stripe]>,
}

/// One thread's counters, alone on their cache line(s).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl AnswerCounters {
    pub(crate) fn new() -> AnswerCounters {
        AnswerCounters {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }

    /// Counts one answer (a relaxed increment on this thread's stripe).
    fn count(&self, hit: bool) {
        if let Some(stripe) = self.stripes.get(stripe_index()) {
            let counter = if hit { &stripe.hits } else { &stripe.misses };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (hits, misses) so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        self.stripes.iter().fold((0, 0), |(h, m), s| {
            (
                h + s.hits.load(Ordering::Relaxed),
                m + s.misses.load(Ordering::Relaxed),
            )
        })
    }
}

/// This thread's stripe, handed out round-robin on its first answer.
fn stripe_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        s.get()
    })
}
