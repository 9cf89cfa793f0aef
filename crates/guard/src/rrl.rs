//! Response rate limiting (RRL), as BIND and Knot do it.
//!
//! A reflection attack sends small queries with a forged source address and lets the server
//! send large answers to the victim. RRL counts the responses going to each client *prefix*
//! (by default a /24 for IPv4 and a /56 for IPv6, since an attacker can forge any address in a
//! victim's network) for each *response*: the same answer (name and type), NXDOMAIN from the
//! same zone, any error, or a referral from the same zone. Above the configured rate the
//! responses are dropped, and every `slip`-th one goes out truncated (TC set, no records), so a
//! real client behind that prefix retries over TCP, which cannot be forged.
//!
//! # Accounts
//!
//! Each (prefix, class, name) is an account with a balance in the manner of BIND: it earns
//! `rate` responses per second, at most one second's worth, and every response asked of it
//! costs one, whether it is then sent or not. A response is sent while the balance is not
//! negative. The debt is bounded by `window` × `rate`, so a prefix that stops flooding is served
//! again within `window` seconds, while a flood above the rate gets nothing but slips.
//!
//! The balance is kept as a *theoretical arrival time* (the time at which the debt would be
//! paid off, as in the generic cell rate algorithm), so one 64-bit word holds the whole account
//! and decays by itself: an account idle for a second is back at full credit without anyone
//! touching it.
//!
//! # The table
//!
//! The accounts live in a fixed table of `AtomicU64`s allocated once ([`Rrl::new`]); a decision
//! allocates nothing and takes no lock. Workers on other threads update the same table with
//! compare-and-swap, so every UDP worker shares one view of each prefix (the kernel spreads one
//! client's queries over all workers by port). An account's slot is chosen by a keyed hash (a
//! random key per process, so an attacker cannot aim collisions), and a 12-bit tag tells whose
//! account a slot holds: a different tag replaces it. Two accounts that meet in one slot with
//! different tags keep resetting each other, which loosens their limit; with the same tag (1
//! chance in 4,096 for a pair that meet) they share one account, which tightens it.
//!
//! Memory: 8 bytes per entry (`table_size` rounded up to a power of two).

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the transport does with a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Send it as written.
    Send,
    /// Send nothing.
    Drop,
    /// Send it cut to the header and question with TC set (see [`slip`]).
    Slip,
}

/// The class of a response, each with its own rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An answer, or a NODATA, from a zone or the cache: keyed by name and type.
    Answer,
    /// A name that does not exist: keyed by the zone, so random names under one zone share an
    /// account.
    NxDomain,
    /// Any error response (REFUSED, SERVFAIL, FORMERR...): one account per prefix.
    Error,
    /// A delegation: keyed by the zone.
    Referral,
}

impl Kind {
    fn index(self) -> u8 {
        match self {
            Kind::Answer => 0,
            Kind::NxDomain => 1,
            Kind::Error => 2,
            Kind::Referral => 3,
        }
    }
}

/// The settings of [`Rrl`]. A rate of 0 leaves that class unlimited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrlConfig {
    /// Answers per second for one name and type to one prefix.
    pub responses_per_second: u32,
    /// NXDOMAIN responses per second from one zone to one prefix.
    pub nxdomains_per_second: u32,
    /// Error responses per second to one prefix.
    pub errors_per_second: u32,
    /// Referrals per second from one zone to one prefix.
    pub referrals_per_second: u32,
    /// Seconds of debt an account may run up (its balance is bounded by `window` × rate).
    pub window: u32,
    /// Every `slip`-th limited response is sent truncated; 0 never, 1 always.
    pub slip: u32,
    /// Prefix length an IPv4 client is counted under.
    pub ipv4_prefix: u8,
    /// Prefix length an IPv6 client is counted under.
    pub ipv6_prefix: u8,
    /// Clients that are never limited: (network address, prefix length).
    pub exempt: Vec<(IpAddr, u8)>,
    /// Decide, but let the transport send anyway (it counts what it would have done).
    pub log_only: bool,
    /// Number of accounts kept (rounded up to a power of two).
    pub table_size: usize,
}

impl Default for RrlConfig {
    fn default() -> RrlConfig {
        RrlConfig {
            responses_per_second: 0,
            nxdomains_per_second: 0,
            errors_per_second: 0,
            referrals_per_second: 0,
            window: 15,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            exempt: Vec::new(),
            log_only: false,
            table_size: 65_536,
        }
    }
}

const TAT_BITS: u32 = 44;
const TAT_MASK: u64 = (1 << TAT_BITS) - 1;
const SLIP_SHIFT: u32 = TAT_BITS;
const TAG_SHIFT: u32 = TAT_BITS + 8;
const MICROS: u64 = 1_000_000;

/// Response rate limiting: see the [module docs](self).
#[derive(Debug)]
pub struct Rrl {
    config: RrlConfig,
    /// (masked network as u128, prefix length, IPv6) of each exempt prefix.
    exempt: Vec<(u128, u8, bool)>,
    table: Box<[AtomicU64]>,
    mask: usize,
    hasher: RandomState,
}

impl Rrl {
    /// A limiter with an empty table of `config.table_size` entries (at least 1).
    pub fn new(config: RrlConfig) -> Rrl {
        let size = config.table_size.max(1).next_power_of_two();
        let table = (0..size).map(|_| AtomicU64::new(0)).collect();
        let exempt = config
            .exempt
            .iter()
            .map(|&(addr, len)| {
                let (bits, v6) = bits(addr);
                (mask(bits, len, v6), len, v6)
            })
            .collect();
        Rrl {
            config,
            exempt,
            table,
            mask: size - 1,
            hasher: RandomState::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RrlConfig {
        &self.config
    }

    /// Whether decisions are only to be counted, not acted on.
    pub fn log_only(&self) -> bool {
        self.config.log_only
    }

    /// Bytes the table takes.
    pub fn memory(&self) -> usize {
        self.table.len() * 8
    }

    /// What to do with a response of `kind` to `client` at `now_ms` (milliseconds on any
    /// clock that does not go backwards). `key` names the response within its class: see
    /// [`name_key`] for answers; a zone's identity for NXDOMAIN and referrals; anything
    /// (say 0) for errors.
    pub fn decide(&self, client: IpAddr, kind: Kind, key: u64, now_ms: u64) -> Decision {
        let rate = match kind {
            Kind::Answer => self.config.responses_per_second,
            Kind::NxDomain => self.config.nxdomains_per_second,
            Kind::Error => self.config.errors_per_second,
            Kind::Referral => self.config.referrals_per_second,
        };
        if rate == 0 {
            return Decision::Send;
        }
        let (addr, v6) = bits(client);
        if self
            .exempt
            .iter()
            .any(|&(net, len, ev6)| ev6 == v6 && mask(addr, len, v6) == net)
        {
            return Decision::Send;
        }
        let len = if v6 {
            self.config.ipv6_prefix
        } else {
            self.config.ipv4_prefix
        };
        let prefix = mask(addr, len, v6);
        let key = match kind {
            Kind::Error => 0,
            _ => key,
        };
        let hash = self.hasher.hash_one((prefix, v6, kind.index(), key));
        let slot = match self
            .table
            .get(usize::try_from(hash).unwrap_or(0) & self.mask)
        {
            Some(slot) => slot,
            None => return Decision::Send,
        };
        let tag = hash >> (64 - 12);
        let interval = (MICROS / u64::from(rate)).max(1);
        // One second of credit, and at most `window` seconds of debt beyond it.
        let credit = MICROS;
        let debt_cap = MICROS.saturating_mul(u64::from(self.config.window.max(1))) + credit;
        let now = now_ms.wrapping_mul(1000) & TAT_MASK;
        let slip_every = u64::from(self.config.slip);
        let mut old = slot.load(Ordering::Relaxed);
        loop {
            // An empty slot (0) reads as an account paid off long ago, which is what it is.
            let ours = old >> TAG_SHIFT == tag;
            let (tat, slips) = if ours {
                (old & TAT_MASK, (old >> SLIP_SHIFT) & 0xff)
            } else {
                (now, 0)
            };
            // Debt now: how far the account's paid-off time lies ahead of `now`.
            let debt = u64::try_from(ahead(tat, now)).unwrap_or(0);
            let send = debt + interval <= credit;
            let new_debt = (debt + interval).min(debt_cap);
            let (decision, slips) = if send {
                (Decision::Send, slips)
            } else {
                let slips = slips + 1;
                if slip_every != 0 && slips >= slip_every {
                    (Decision::Slip, 0)
                } else {
                    (Decision::Drop, slips.min(0xff))
                }
            };
            let new_tat = (now + new_debt) & TAT_MASK;
            let new = (tag << TAG_SHIFT) | (slips << SLIP_SHIFT) | new_tat;
            match slot.compare_exchange_weak(old, new, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return decision,
                Err(current) => old = current,
            }
        }
    }
}

/// How far `tat` lies ahead of `now` on the wrapping 44-bit microsecond clock; negative when
/// behind. An account idle for more than half the clock's period (about 100 days) reads wrong,
/// at worst as a debt that the next responses pay off.
fn ahead(tat: u64, now: u64) -> i64 {
    let diff = tat.wrapping_sub(now) & TAT_MASK;
    if diff >= 1 << (TAT_BITS - 1) {
        i64::try_from(diff).unwrap_or(0) - (1 << TAT_BITS)
    } else {
        i64::try_from(diff).unwrap_or(0)
    }
}

/// The address as 128 bits (IPv4 in the low 32), and whether it is IPv6. IPv4-mapped IPv6
/// addresses count as IPv4, as a dual-stack socket reports IPv4 clients that way.
pub(crate) fn bits(addr: IpAddr) -> (u128, bool) {
    match addr.to_canonical() {
        IpAddr::V4(a) => (u128::from(u32::from(a)), false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

/// The first `len` bits of an address of 32 or 128 bits.
pub(crate) fn mask(bits: u128, len: u8, v6: bool) -> u128 {
    let width: u32 = if v6 { 128 } else { 32 };
    let len = u32::from(len).min(width);
    if len == 0 {
        return 0;
    }
    let keep = u128::MAX << (128 - len);
    if v6 {
        bits & keep
    } else {
        (bits << 96 & keep) >> 96
    }
}

/// The key of an answer: its name (wire form, compared without regard to ASCII case) and type.
pub fn name_key(name: &[u8], qtype: u16) -> u64 {
    // FNV-1a, unkeyed and cheap: it only folds the name into the key, and the table's own
    // hash over (prefix, class, key) is keyed, so collisions here cannot be aimed at a slot.
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(PRIME);
    }
    for b in qtype.to_be_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(PRIME);
    }
    h
}

/// The question of a DNS message: its name (wire form, uncompressed as the first name of a
/// message always is), its type, and the offset just past it. `None` when there is no
/// readable question.
pub fn question(message: &[u8]) -> Option<(&[u8], u16, usize)> {
    let qdcount = u16::from_be_bytes([*message.get(4)?, *message.get(5)?]);
    if qdcount == 0 {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
    }
    let name = message.get(12..at)?;
    let qtype = u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]);
    let end = at + 4;
    message.get(..end)?;
    Some((name, qtype, end))
}

/// Cuts a response in place to its header and question with TC set and no records (a
/// "slipped" response, which tells a real client to ask again over TCP); returns its new
/// length. The OPT record goes too, so the slip is never larger than the query that caused
/// it. `None` when the message has no readable question: send nothing then.
pub fn slip(message: &mut [u8]) -> Option<usize> {
    let (_, _, end) = question(message)?;
    // TC is bit 1 of the third header byte; QDCOUNT stays 1; ANCOUNT, NSCOUNT, ARCOUNT go to 0.
    let flags = message.get_mut(2)?;
    *flags |= 0x02;
    message.get_mut(4..6)?.copy_from_slice(&[0, 1]);
    message.get_mut(6..12)?.fill(0);
    Some(end)
}
