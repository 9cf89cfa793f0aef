//! Client limits and dynamic blocks, in the manner of dnsdist's dynamic blocks.
//!
//! Response rate limiting ([`crate::Rrl`]) limits what goes *out* toward a prefix; this module
//! watches what a client prefix *does* and shuts it out for a while when it misbehaves:
//!
//! - a plain **query rate limit** per client prefix: queries above `query_rate` per second are
//!   dropped or refused, the others go through (so a busy prefix still gets `query_rate`
//!   answers a second);
//! - **rules** over a sliding window: "more than N queries / NXDOMAIN responses / large
//!   responses per second over W seconds" starts a **block** of that prefix for a set time, in
//!   which its queries are dropped, refused, or answered truncated (TC set, no records, so a real
//!   client retries over TCP, which cannot be forged). A block ends by itself.
//!
//! Clients are counted by prefix (a /24 for IPv4, a /56 for IPv6 by default), as an attacker can
//! use any address of its own network; exempt prefixes are never counted or blocked. Nothing
//! here reads a clock or touches a socket: time is a parameter (`now_ms`, milliseconds on a
//! clock that does not go backwards), and the transports act on the [`Verdict`].
//!
//! # Counters
//!
//! Each (prefix, rule) and each prefix's query rate is an account in one fixed table of
//! `AtomicU64`s ([`DynBlockConfig::table_size`] entries, 8 bytes each), updated with
//! compare-and-swap: no lock, no allocation, every worker thread sees the same counts. An
//! account holds a 12-bit tag (which prefix owns the slot; another tag takes the slot over), the
//! number of its current window (12 bits) and two 20-bit counts: the events of the current
//! window and of the previous one. The rate over the last `W` seconds is estimated as the
//! sliding-window counters do: the previous window's count weighted by how much of it still lies
//! within the last `W` seconds, plus the current count. Counts saturate at 2^20 - 1, which is
//! why `per_second` × `window` is bounded by [`MAX_EVENTS_PER_WINDOW`]. Window numbers are kept
//! modulo 4,096: an account left idle for a multiple of 4,096 windows (68 minutes for a
//! one-second window) reads its old counts once more, which can only bring a block forward by
//! those counts.
//!
//! # Blocks
//!
//! Active blocks live in a second table of [`DynBlockConfig::max_blocks`] entries (8 bytes
//! each): a 20-bit tag of the prefix, the action, and the time the block ends. A new block
//! takes a free or expired entry among [`PROBES`] starting at the prefix's hash; when all are
//! held by other active blocks it is not started (and [`DynBlock::record`] says so by
//! returning nothing), so the table never grows. A query first reads one word (the latest end of
//! any block): when every block has ended, it costs no more. Two prefixes whose hashes agree on
//! the slot and the 20-bit tag share a block (about one chance in a million per pair of
//! prefixes meeting in one slot).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::rrl::{bits, mask};

/// The largest `per_second` × `window` a rule may have: the counts of a window saturate at
/// 2^20 - 1.
pub const MAX_EVENTS_PER_WINDOW: u64 = (1 << 20) - 1;

/// Entries of the block table tried for one prefix.
pub const PROBES: usize = 8;

/// What a rule counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Queries received.
    Queries,
    /// NXDOMAIN responses sent.
    NxDomains,
    /// Responses larger than [`DynBlockConfig::large_response`] bytes.
    LargeResponses,
}

impl Metric {
    /// The name used in the configuration and in events.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Queries => "queries",
            Metric::NxDomains => "nxdomains",
            Metric::LargeResponses => "large_responses",
        }
    }
}

/// What a block does to the queries of its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BlockAction {
    /// Send nothing.
    Drop,
    /// Answer with the header and question only, TC set (over UDP; a TCP query is answered).
    Truncate,
    /// Answer REFUSED.
    Refuse,
}

impl BlockAction {
    /// The name used in the configuration and the metrics.
    pub fn name(self) -> &'static str {
        match self {
            BlockAction::Drop => "drop",
            BlockAction::Truncate => "truncate",
            BlockAction::Refuse => "refuse",
        }
    }

    fn code(self) -> u64 {
        match self {
            BlockAction::Drop => 1,
            BlockAction::Truncate => 2,
            BlockAction::Refuse => 3,
        }
    }

    fn from_code(code: u64) -> Option<BlockAction> {
        match code {
            1 => Some(BlockAction::Drop),
            2 => Some(BlockAction::Truncate),
            3 => Some(BlockAction::Refuse),
            _ => None,
        }
    }
}

/// What happens to a query over the plain query rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RateAction {
    /// Send nothing.
    Drop,
    /// Answer REFUSED.
    Refuse,
}

/// "More than `per_second` `metric` per second over `window` seconds": block the prefix with
/// `action` for `duration` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// What is counted.
    pub metric: Metric,
    /// The rate above which the rule fires, per second (at least 1).
    pub per_second: u32,
    /// Seconds the rate is measured over (at least 1).
    pub window: u32,
    /// What the block does.
    pub action: BlockAction,
    /// Seconds the block lasts (at least 1).
    pub duration: u32,
}

/// The settings of [`DynBlock`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DynBlockConfig {
    /// Queries per second let through per prefix; 0: no plain rate limit.
    pub query_rate: u32,
    /// What happens to queries over `query_rate`.
    pub query_rate_action: RateAction,
    /// The dynamic block rules, checked in order.
    pub rules: Vec<Rule>,
    /// Responses of more than this many bytes count as large.
    pub large_response: usize,
    /// Prefix length an IPv4 client is counted under.
    pub ipv4_prefix: u8,
    /// Prefix length an IPv6 client is counted under.
    pub ipv6_prefix: u8,
    /// Clients that are never counted or blocked: (network address, prefix length).
    pub exempt: Vec<(IpAddr, u8)>,
    /// Counter accounts kept (rounded up to a power of two).
    pub table_size: usize,
    /// Blocks active at once, at most.
    pub max_blocks: usize,
}

impl Default for DynBlockConfig {
    fn default() -> DynBlockConfig {
        DynBlockConfig {
            query_rate: 0,
            query_rate_action: RateAction::Drop,
            rules: Vec::new(),
            large_response: 1232,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
            table_size: 65_536,
            max_blocks: 4096,
        }
    }
}

/// What the transport does with a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Answer it.
    Pass,
    /// Its prefix is blocked.
    Blocked(BlockAction),
    /// Its prefix is over the plain query rate.
    Limited(RateAction),
}

/// A block that has just started (the transport reports it once, as an event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// The index of the rule in [`DynBlockConfig::rules`].
    pub rule: usize,
    /// The rule's metric.
    pub metric: Metric,
    /// What the block does.
    pub action: BlockAction,
    /// When it ends (milliseconds, on the caller's clock).
    pub until_ms: u64,
}

/// [`DynBlock::admit`]'s answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    /// What to do with the query.
    pub verdict: Verdict,
    /// A block this query started (a rule on queries fired).
    pub started: Option<Started>,
}

const TAG_SHIFT: u32 = 52;
const EPOCH_SHIFT: u32 = 40;
const EPOCH_MASK: u64 = 0xfff;
const PREV_SHIFT: u32 = 20;
const COUNT_MASK: u64 = (1 << 20) - 1;

const BLOCK_TAG_SHIFT: u32 = 44;
const BLOCK_ACTION_SHIFT: u32 = 42;
const UNTIL_MASK: u64 = (1 << 42) - 1;

/// The query-rate account's index among a prefix's accounts (rules take 0, 1, ...).
const RATE_ACCOUNT: u64 = u64::MAX;

/// Client limits and dynamic blocks: see the [module docs](self).
#[derive(Debug)]
pub struct DynBlock {
    config: DynBlockConfig,
    /// (masked network as u128, prefix length, IPv6) of each exempt prefix.
    exempt: Vec<(u128, u8, bool)>,
    accounts: Box<[AtomicU64]>,
    account_mask: usize,
    blocks: Box<[AtomicU64]>,
    /// The latest end of any block started (milliseconds): nothing to look up after it.
    latest_until: AtomicU64,
    /// Whether a rule counts responses (NXDOMAIN or large ones).
    counts_responses: bool,
    hasher: RandomState,
}

impl DynBlock {
    /// Empty tables of `config.table_size` accounts and `config.max_blocks` blocks (each at
    /// least 1).
    pub fn new(config: DynBlockConfig) -> DynBlock {
        let size = config.table_size.max(1).next_power_of_two();
        let accounts = (0..size).map(|_| AtomicU64::new(0)).collect();
        let blocks = (0..config.max_blocks.max(1))
            .map(|_| AtomicU64::new(0))
            .collect();
        let exempt = config
            .exempt
            .iter()
            .map(|&(addr, len)| {
                let (b, v6) = bits(addr);
                (mask(b, len, v6), len, v6)
            })
            .collect();
        let counts_responses = config.rules.iter().any(|r| r.metric != Metric::Queries);
        DynBlock {
            config,
            exempt,
            accounts,
            account_mask: size - 1,
            blocks,
            latest_until: AtomicU64::new(0),
            counts_responses,
            hasher: RandomState::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &DynBlockConfig {
        &self.config
    }

    /// Bytes the two tables take.
    pub fn memory(&self) -> usize {
        (self.accounts.len() + self.blocks.len()) * 8
    }

    /// Whether responses need to be [recorded](DynBlock::record) at all.
    pub fn counts_responses(&self) -> bool {
        self.counts_responses
    }

    /// A query from `client` arrived at `now_ms`: counts it, and says what to do with it. A
    /// blocked prefix's queries are not counted further.
    pub fn admit(&self, client: IpAddr, now_ms: u64) -> Admission {
        let pass = Admission {
            verdict: Verdict::Pass,
            started: None,
        };
        let Some(prefix) = self.prefix_hash(client) else {
            return pass;
        };
        if let Some(action) = self.blocked(prefix, now_ms) {
            return Admission {
                verdict: Verdict::Blocked(action),
                started: None,
            };
        }
        let mut started = None;
        for (i, rule) in self.config.rules.iter().enumerate() {
            if rule.metric == Metric::Queries && self.count(prefix, i, rule, now_ms) {
                started = started.or_else(|| self.start(prefix, i, rule, now_ms));
                if let Some(action) = self.blocked(prefix, now_ms) {
                    return Admission {
                        verdict: Verdict::Blocked(action),
                        started,
                    };
                }
            }
        }
        if self.config.query_rate > 0 && !self.within_rate(prefix, now_ms) {
            return Admission {
                verdict: Verdict::Limited(self.config.query_rate_action),
                started,
            };
        }
        Admission {
            verdict: Verdict::Pass,
            started,
        }
    }

    /// A response of `len` bytes with RCODE `rcode` went to `client` at `now_ms`: counts it
    /// against the rules on NXDOMAIN and large responses; returns the block it started, if
    /// any (it applies from the next query on).
    pub fn record(&self, client: IpAddr, rcode: u16, len: usize, now_ms: u64) -> Option<Started> {
        const NXDOMAIN: u16 = 3;
        if !self.counts_responses {
            return None;
        }
        let nxdomain = rcode == NXDOMAIN;
        let large = len > self.config.large_response;
        if !nxdomain && !large {
            return None;
        }
        let prefix = self.prefix_hash(client)?;
        let mut started = None;
        for (i, rule) in self.config.rules.iter().enumerate() {
            let counts = match rule.metric {
                Metric::Queries => false,
                Metric::NxDomains => nxdomain,
                Metric::LargeResponses => large,
            };
            if counts && self.count(prefix, i, rule, now_ms) {
                started = started.or_else(|| self.start(prefix, i, rule, now_ms));
            }
        }
        started
    }

    /// Blocks active at `now_ms`.
    pub fn active(&self, now_ms: u64) -> usize {
        if self.latest_until.load(Ordering::Relaxed) <= now_ms {
            return 0;
        }
        self.blocks
            .iter()
            .filter(|b| {
                let v = b.load(Ordering::Relaxed);
                v != 0 && v & UNTIL_MASK > now_ms & UNTIL_MASK
            })
            .count()
    }

    /// Whether `client` is blocked at `now_ms`, and how.
    pub fn block_of(&self, client: IpAddr, now_ms: u64) -> Option<BlockAction> {
        self.blocked(self.prefix_hash(client)?, now_ms)
    }

    // -----------------------------------------------------------------------------------------
    // Internals
    // -----------------------------------------------------------------------------------------

    /// The keyed hash of `client`'s prefix; `None` when it is exempt.
    fn prefix_hash(&self, client: IpAddr) -> Option<u64> {
        let (addr, v6) = bits(client);
        if self
            .exempt
            .iter()
            .any(|&(net, len, ev6)| ev6 == v6 && mask(addr, len, v6) == net)
        {
            return None;
        }
        let len = if v6 {
            self.config.ipv6_prefix
        } else {
            self.config.ipv4_prefix
        };
        Some(self.hasher.hash_one((mask(addr, len, v6), v6)))
    }

    /// The active block of the prefix with hash `prefix`.
    fn blocked(&self, prefix: u64, now_ms: u64) -> Option<BlockAction> {
        let now = now_ms & UNTIL_MASK;
        if self.latest_until.load(Ordering::Relaxed) <= now {
            return None;
        }
        let tag = prefix >> BLOCK_TAG_SHIFT;
        self.block_slots(prefix).find_map(|slot| {
            let v = slot.load(Ordering::Relaxed);
            (v != 0 && v >> BLOCK_TAG_SHIFT == tag && v & UNTIL_MASK > now)
                .then(|| BlockAction::from_code((v >> BLOCK_ACTION_SHIFT) & 0x3))
                .flatten()
        })
    }

    /// The entries of the block table a prefix may use.
    fn block_slots(&self, prefix: u64) -> impl Iterator<Item = &AtomicU64> {
        let len = self.blocks.len();
        let first = usize::try_from(prefix % len as u64).unwrap_or(0);
        (0..PROBES.min(len)).filter_map(move |i| self.blocks.get((first + i) % len))
    }

    /// Starts a block of the prefix for `rule`; `None` when it was already blocked or the
    /// table has no room among its entries.
    fn start(&self, prefix: u64, index: usize, rule: &Rule, now_ms: u64) -> Option<Started> {
        let now = now_ms & UNTIL_MASK;
        let until = now.saturating_add(u64::from(rule.duration.max(1)) * 1000) & UNTIL_MASK;
        let tag = prefix >> BLOCK_TAG_SHIFT;
        let new = (tag << BLOCK_TAG_SHIFT) | (rule.action.code() << BLOCK_ACTION_SHIFT) | until;
        for slot in self.block_slots(prefix) {
            let old = slot.load(Ordering::Relaxed);
            let live = old != 0 && old & UNTIL_MASK > now;
            if live && old >> BLOCK_TAG_SHIFT == tag {
                // Already blocked (another thread started it first).
                return None;
            }
            if live {
                continue;
            }
            if slot
                .compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.latest_until.fetch_max(until, Ordering::Relaxed);
                return Some(Started {
                    rule: index,
                    metric: rule.metric,
                    action: rule.action,
                    until_ms: until,
                });
            }
        }
        None
    }

    /// The slot of account `which` of the prefix, and its 12-bit tag.
    fn account(&self, prefix: u64, which: u64) -> Option<(&AtomicU64, u64)> {
        let h = mix(prefix ^ which.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let slot = self
            .accounts
            .get(usize::try_from(h).unwrap_or(0) & self.account_mask)?;
        Some((slot, h >> TAG_SHIFT))
    }

    /// Counts one event against rule `index` of the prefix; true when the rate over the
    /// rule's window is now above its threshold.
    fn count(&self, prefix: u64, index: usize, rule: &Rule, now_ms: u64) -> bool {
        let Some((slot, tag)) = self.account(prefix, index as u64) else {
            return false;
        };
        let window_ms = u64::from(rule.window.max(1)) * 1000;
        let limit = u64::from(rule.per_second.max(1)) * u64::from(rule.window.max(1));
        let mut old = slot.load(Ordering::Relaxed);
        loop {
            let (prev, cur) = roll(old, tag, now_ms, window_ms);
            let cur = (cur + 1).min(COUNT_MASK);
            let new = pack(tag, now_ms / window_ms, prev, cur);
            match slot.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return estimate(prev, cur, now_ms, window_ms) > limit,
                Err(current) => old = current,
            }
        }
    }

    /// Whether one more query of the prefix fits the plain query rate over the last second;
    /// counts it when it does.
    fn within_rate(&self, prefix: u64, now_ms: u64) -> bool {
        let Some((slot, tag)) = self.account(prefix, RATE_ACCOUNT) else {
            return true;
        };
        let limit = u64::from(self.config.query_rate);
        let mut old = slot.load(Ordering::Relaxed);
        loop {
            let (prev, cur) = roll(old, tag, now_ms, 1000);
            if estimate(prev, cur + 1, now_ms, 1000) > limit {
                return false;
            }
            let new = pack(tag, now_ms / 1000, prev, (cur + 1).min(COUNT_MASK));
            match slot.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(current) => old = current,
            }
        }
    }
}

/// The (previous, current) counts of an account word at `now_ms`, its windows moved on to the
/// one `now_ms` falls in; an account of another tag reads as empty.
fn roll(word: u64, tag: u64, now_ms: u64, window_ms: u64) -> (u64, u64) {
    if word >> TAG_SHIFT != tag || word == 0 {
        return (0, 0);
    }
    let epoch = (now_ms / window_ms) & EPOCH_MASK;
    let stored = (word >> EPOCH_SHIFT) & EPOCH_MASK;
    let (prev, cur) = ((word >> PREV_SHIFT) & COUNT_MASK, word & COUNT_MASK);
    if stored == epoch {
        (prev, cur)
    } else if (stored + 1) & EPOCH_MASK == epoch {
        (cur, 0)
    } else {
        (0, 0)
    }
}

fn pack(tag: u64, epoch: u64, prev: u64, cur: u64) -> u64 {
    (tag << TAG_SHIFT)
        | ((epoch & EPOCH_MASK) << EPOCH_SHIFT)
        | ((prev & COUNT_MASK) << PREV_SHIFT)
        | (cur & COUNT_MASK)
}

/// Events in the last window: the previous window's count weighted by the share of it still
/// inside the last `window_ms`, plus the current count.
fn estimate(prev: u64, cur: u64, now_ms: u64, window_ms: u64) -> u64 {
    let into = now_ms % window_ms;
    prev * (window_ms - into) / window_ms + cur
}

/// A 64-bit finaliser (SplitMix64): spreads the accounts of one prefix over the table.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes into `out` the response that a limit sends instead of an answer: the query's header
/// and question with QR set, no records, and `rcode` (REFUSED is 5), with TC set when
/// `truncated`. Returns its length; `None` when the query has no readable question or is
/// itself a response (nothing is sent then).
pub fn limited_reply(query: &[u8], out: &mut [u8], rcode: u8, truncated: bool) -> Option<usize> {
    let (_, _, end) = crate::rrl::question(query)?;
    let flags = *query.get(2)?;
    if flags & 0x80 != 0 {
        return None;
    }
    out.get_mut(..end)?.copy_from_slice(query.get(..end)?);
    // QR, the opcode and RD kept; AA, TC cleared, then TC as asked.
    let mut f2 = 0x80 | (flags & 0x79);
    if truncated {
        f2 |= 0x02;
    }
    *out.get_mut(2)? = f2;
    *out.get_mut(3)? = rcode & 0x0f;
    out.get_mut(4..12)?
        .copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rule(metric: Metric, per_second: u32, window: u32, action: BlockAction) -> Rule {
        Rule {
            metric,
            per_second,
            window,
            action,
            duration: 10,
        }
    }

    fn with_rules(rules: Vec<Rule>) -> DynBlock {
        DynBlock::new(DynBlockConfig {
            rules,
            table_size: 1024,
            max_blocks: 16,
            ..DynBlockConfig::default()
        })
    }

    #[test]
    fn nothing_configured_passes_everything() {
        let d = DynBlock::new(DynBlockConfig::default());
        for i in 0..10_000 {
            assert_eq!(d.admit(ip("192.0.2.1"), i).verdict, Verdict::Pass);
            assert_eq!(d.record(ip("192.0.2.1"), 3, 4000, i), None);
        }
        assert_eq!(d.active(10_000), 0);
    }

    #[test]
    fn an_nxdomain_flood_blocks_its_prefix_for_the_duration() {
        let d = with_rules(vec![rule(Metric::NxDomains, 10, 2, BlockAction::Refuse)]);
        let flooder = ip("192.0.2.7");
        // 20 allowed over 2 s: the 21st NXDOMAIN within the window starts the block.
        let mut started = None;
        for i in 0..21u64 {
            assert_eq!(d.admit(flooder, 1000 + i).verdict, Verdict::Pass);
            if let Some(s) = d.record(flooder, 3, 100, 1000 + i) {
                started = Some((i, s));
            }
        }
        let (at, s) = started.expect("the rule fired");
        assert_eq!(at, 20);
        assert_eq!(s.action, BlockAction::Refuse);
        assert_eq!(s.until_ms, 1020 + 10_000);
        // The whole /24, not another one; NOERROR answers do not count.
        let neighbour = ip("192.0.2.200");
        assert_eq!(
            d.admit(neighbour, 2000).verdict,
            Verdict::Blocked(BlockAction::Refuse)
        );
        assert_eq!(d.admit(ip("192.0.3.1"), 2000).verdict, Verdict::Pass);
        assert_eq!(d.active(2000), 1);
        // Expires by itself.
        assert_eq!(
            d.admit(flooder, 11_019).verdict,
            Verdict::Blocked(BlockAction::Refuse)
        );
        assert_eq!(d.admit(flooder, 11_020).verdict, Verdict::Pass);
        assert_eq!(d.active(11_020), 0);
    }

    #[test]
    fn a_steady_rate_under_the_threshold_never_blocks() {
        let d = with_rules(vec![rule(Metric::Queries, 100, 5, BlockAction::Drop)]);
        // 90 queries a second for a minute.
        for ms in (0..60_000u64).step_by(11) {
            assert_eq!(d.admit(ip("2001:db8::1"), ms).verdict, Verdict::Pass);
        }
    }

    #[test]
    fn a_query_flood_starts_a_block_on_the_query_that_crosses() {
        let d = with_rules(vec![rule(Metric::Queries, 50, 1, BlockAction::Truncate)]);
        let c = ip("2001:db8:0:1::5");
        let mut verdicts = Vec::new();
        let mut starts = 0;
        for i in 0..60u64 {
            let a = d.admit(c, 5000 + i);
            starts += usize::from(a.started.is_some());
            verdicts.push(a.verdict);
        }
        assert_eq!(starts, 1, "one start, not one per query");
        assert!(verdicts[..50].iter().all(|v| *v == Verdict::Pass));
        assert!(
            verdicts[50..]
                .iter()
                .all(|v| *v == Verdict::Blocked(BlockAction::Truncate))
        );
        // Same /56, other /64: blocked; another /56: not.
        assert!(d.block_of(ip("2001:db8:0:ff::1"), 5100).is_some());
        assert!(d.block_of(ip("2001:db8:0:100::1"), 5100).is_none());
    }

    #[test]
    fn large_responses_count_only_above_the_size() {
        let d = with_rules(vec![rule(Metric::LargeResponses, 5, 1, BlockAction::Drop)]);
        let c = ip("198.51.100.1");
        for i in 0..100u64 {
            assert_eq!(d.record(c, 0, 1232, i), None, "1232 is not above 1232");
        }
        let fired = (0..6u64)
            .filter_map(|i| d.record(c, 0, 1233, 200 + i))
            .count();
        assert_eq!(fired, 1);
        assert_eq!(d.block_of(c, 300), Some(BlockAction::Drop));
    }

    #[test]
    fn the_query_rate_lets_the_rate_through() {
        let d = DynBlock::new(DynBlockConfig {
            query_rate: 100,
            query_rate_action: RateAction::Refuse,
            table_size: 1024,
            ..DynBlockConfig::default()
        });
        let c = ip("203.0.113.9");
        // 1,000 queries a second for 10 s: about 100 a second get through.
        let mut passed = 0;
        let mut limited = 0;
        for i in 0..10_000u64 {
            match d.admit(c, 1_000_000 + i).verdict {
                Verdict::Pass => passed += 1,
                Verdict::Limited(RateAction::Refuse) => limited += 1,
                v => panic!("{v:?}"),
            }
        }
        assert!((950..=1100).contains(&passed), "{passed} passed");
        assert_eq!(passed + limited, 10_000);
        // Nothing is blocked: the rate limit alone is no block.
        assert_eq!(d.active(1_010_000), 0);
    }

    #[test]
    fn exempt_prefixes_are_never_counted() {
        let d = DynBlock::new(DynBlockConfig {
            query_rate: 1,
            rules: vec![rule(Metric::Queries, 1, 1, BlockAction::Drop)],
            exempt: vec![(ip("10.0.0.0"), 8)],
            ..DynBlockConfig::default()
        });
        for i in 0..1000 {
            assert_eq!(d.admit(ip("10.1.2.3"), i).verdict, Verdict::Pass);
        }
        assert_eq!(d.admit(ip("11.1.2.3"), 0).verdict, Verdict::Pass);
        assert_ne!(d.admit(ip("11.1.2.3"), 1).verdict, Verdict::Pass);
    }

    #[test]
    fn a_full_block_table_starts_no_more_blocks() {
        let d = DynBlock::new(DynBlockConfig {
            rules: vec![rule(Metric::Queries, 1, 1, BlockAction::Drop)],
            max_blocks: 2,
            table_size: 4096,
            ..DynBlockConfig::default()
        });
        let mut started = 0;
        for net in 0..50u8 {
            let c = IpAddr::from([192, 0, net, 1]);
            for i in 0..3 {
                started += usize::from(d.admit(c, 100 + i).started.is_some());
            }
        }
        assert_eq!(started, 2);
        assert_eq!(d.active(200), 2);
        // Once they end, there is room again.
        let c = ip("198.51.100.1");
        let again = (0..3).filter(|i| d.admit(c, 20_000 + i).started.is_some());
        assert_eq!(again.count(), 1);
    }

    #[test]
    fn limited_replies_are_header_and_question() {
        // ID 0x1234, RD, one question "a." A IN, one OPT record.
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(&[1, b'a', 0, 0, 1, 0, 1]);
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        let mut out = [0u8; 512];
        let len = limited_reply(&q, &mut out, 5, false).unwrap();
        assert_eq!(len, 19);
        assert_eq!(&out[..4], &[0x12, 0x34, 0x81, 0x05]);
        assert_eq!(&out[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[12..19], &q[12..19]);
        let len = limited_reply(&q, &mut out, 0, true).unwrap();
        assert_eq!(&out[2..4], &[0x83, 0x00]);
        assert_eq!(len, 19);
        // A response is never answered; nor is garbage.
        let mut r = q.clone();
        r[2] |= 0x80;
        assert_eq!(limited_reply(&r, &mut out, 5, false), None);
        assert_eq!(limited_reply(&q[..14], &mut out, 5, false), None);
        assert_eq!(limited_reply(&q, &mut out[..10], 5, false), None);
    }
}
