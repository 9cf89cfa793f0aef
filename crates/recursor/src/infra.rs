//! The infrastructure cache: what the resolver has learned about each upstream server.
//!
//! Iterative resolution picks, for every step, one of a zone's name servers. Picking well
//! matters: a server far away costs every resolution through it, a dead one costs a timeout.
//! Like Unbound's infra cache (and the server tables of BIND, Knot Resolver and PowerDNS), this
//! keeps per server address and port:
//!
//! - **Round-trip time**, smoothed as TCP does (RFC 6298 section 2): the first sample `R` sets
//!   `SRTT = R`, `RTTVAR = R/2`; later ones `RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|`,
//!   `SRTT = 7/8 SRTT + 1/8 R`. The retransmission timeout is `RTO = SRTT + 4 RTTVAR`, clamped
//!   to [[`MIN_RTO_MS`], [`MAX_RTO_MS`]]. A server never heard from has [`UNKNOWN_RTO_MS`]
//!   (376 ms, Unbound's `UNKNOWN_SERVER_NICENESS`).
//! - **Backoff**: a timeout doubles the server's RTO (RFC 6298 section 5.5), up to
//!   [`MAX_RTO_MS`], but only when the query that timed out waited at least the current RTO
//!   ([`Infra::on_timeout_after`], Unbound's rule in `rtt_lost`): queries sent together with
//!   the same timeout that all time out together double it once, not once each (twenty
//!   parallel queries would otherwise push a server from 376 ms to the 12 s cap at once). An
//!   answer measures a fresh RTT and ends the backoff. Every retry goes out
//!   with a new ID and port, so samples are never ambiguous (Karn's problem does not arise).
//! - **Decay**: RTT and backoff state not updated for [`HOST_TTL_SECS`] (900 s, Unbound's
//!   `infra-host-ttl`) is forgotten: the server is unknown again, so a server that was down
//!   and avoided gets tried again. EDNS support, the case-echo flag and the server cookie expire
//!   the same way, so a server that was upgraded is probed again.
//! - **Lameness** per zone (a server that answers, but not authoritatively for the zone it was
//!   delegated): skipped for that zone for [`LAME_TTL_SECS`] (900 s, Unbound's old
//!   `infra-lame-ttl`); at most [`MAX_LAME_ZONES_PER_SERVER`] zones per server are remembered.
//! - **EDNS support** (RFC 6891 section 7: retry without EDNS when a server fails it), **case
//!   echo** (0x20) and the **server cookie** (RFC 7873) to send back. Case echo lives in
//!   [`SharedInfra`], which the recursors of one process share (one per resolver driver):
//!   a server learned not to echo case by one is asked without 0x20 by all. It also counts
//!   each client's resolutions in flight across all of them
//!   ([`crate::Limits::max_resolutions_per_client`] holds for the process, not per recursor).
//! - **Outstanding queries**: the caller brackets each query with [`Infra::begin`] and
//!   [`Infra::end`]; a server at its limit is not selected (this bounds what one resolver can
//!   send to one server, for example one slowed down by an attack).
//!
//! **Selection** (Unbound's scheme): among the candidates not lame for the zone and not at their
//! outstanding limit, find the lowest RTO, then choose uniformly at random among those within
//! [`SELECTION_BAND_MS`] (400 ms) of it. Near-equal servers share the load, and unknown servers
//! (376 ms) are explored whenever the best known one is not far faster; slow or backed-off
//! servers are left alone until they decay.
//!
//! The cache holds at most `max_servers` servers; a new one evicts the least recently used
//! (preferring one with nothing outstanding). Time is passed in; nothing here reads a clock.
//! The read-only accessors that take no `now` ([`Infra::edns`], [`Infra::echoes_case`],
//! [`Infra::server_cookie`]) judge expiry by the latest time any other method was given.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use cache::Time;
use wire::NameRef;

/// RTO of a server never heard from, in ms (Unbound's `UNKNOWN_SERVER_NICENESS`).
pub const UNKNOWN_RTO_MS: u64 = 376;
/// Smallest RTO, in ms. Unbound's `RTT_MIN_TIMEOUT` is 50 ms, BIND starts at about 800 ms.
/// A smoothed RTT measured one query at a time says nothing of the queueing a burst meets:
/// with a 50 ms floor, a burst of 200 questions to a healthy loopback server (a debug build)
/// had tens to hundreds of its queries time out and sent again (the load grows exactly when
/// the server is busiest); 200 ms gives a server on the same LAN time to work through a burst,
/// or to answer a query that needs a lookup of its own, and still retries a dead fast server
/// within a fifth of a second.
pub const MIN_RTO_MS: u64 = 200;
/// Largest RTO, in ms: the longest one query waits, and the cap of the backoff. Unbound lets
/// backoff grow to 120 s (`infra-cache-max-rtt`) and uses it to mark servers down; 12 s here
/// keeps one query well inside a client's patience, and servers above the band are avoided
/// anyway.
pub const MAX_RTO_MS: u64 = 12_000;
/// Servers whose RTO is within this many ms of the best are chosen among at random (Unbound's
/// `RTT_BAND`).
pub const SELECTION_BAND_MS: u64 = 400;
/// Seconds after which what was learned about a server is forgotten (Unbound's
/// `infra-host-ttl`).
pub const HOST_TTL_SECS: u32 = 900;
/// Seconds a server that failed (timed out, refused the connection) is passed over by the
/// ordered selection ([`Infra::select_ordered`]) before it is tried again: long enough not to
/// pay a dead primary's timeout on every question, short enough to go back to it soon after
/// it recovers.
pub const ORDER_RETRY_SECS: u32 = 10;
/// Seconds a server stays lame for a zone (Unbound's former `infra-lame-ttl`).
pub const LAME_TTL_SECS: u32 = 900;
/// Zones remembered as lame per server; the one expiring first makes room.
pub const MAX_LAME_ZONES_PER_SERVER: usize = 8;
/// Servers looked at, from the least recently used, to find one with nothing outstanding to
/// evict before evicting the least recently used regardless.
const EVICTION_SCAN: usize = 16;

/// Whether a server answers queries that carry EDNS (RFC 6891).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EdnsSupport {
    /// Not known yet: ask with EDNS.
    #[default]
    Unknown,
    /// It answered a query with EDNS.
    Works,
    /// It failed queries with EDNS (FORMERR, NOTIMP, no answer) and answered without.
    Fails,
}

/// Smoothed RTT state, in ms.
#[derive(Clone, Copy, Debug)]
struct Rtt {
    srtt: f64,
    rttvar: f64,
}

impl Rtt {
    fn rto(&self) -> u64 {
        let rto = (self.srtt + 4.0 * self.rttvar).round();
        // `as` saturates for floats; the clamp keeps it in range.
        (rto as u64).clamp(MIN_RTO_MS, MAX_RTO_MS)
    }
}

/// A value learned at a time; forgotten [`HOST_TTL_SECS`] later.
#[derive(Clone, Debug)]
struct Learned<T> {
    value: T,
    at: Time,
}

impl<T> Learned<T> {
    fn new(value: T, at: Time) -> Self {
        Learned { value, at }
    }

    fn fresh(&self, now: Time) -> Option<&T> {
        (now < self.at.plus_secs(HOST_TTL_SECS)).then_some(&self.value)
    }
}

/// What is known about one server.
#[derive(Clone, Debug, Default)]
struct Host {
    /// Smoothed RTT, when measured.
    rtt: Option<Learned<Rtt>>,
    /// The RTO after timeouts, with the time of the last timeout.
    backoff: Option<Learned<u64>>,
    edns: Option<Learned<EdnsSupport>>,
    cookie: Option<Learned<Vec<u8>>>,
    /// Zones (lowercase wire form) this server is lame for, with when that ends.
    lame: Vec<(Box<[u8]>, Time)>,
    outstanding: u32,
    /// Position in the LRU order.
    stamp: u64,
}

impl Host {
    fn rto(&self, now: Time) -> u64 {
        if let Some(b) = self.backoff.as_ref().and_then(|b| b.fresh(now)) {
            return *b;
        }
        self.rtt
            .as_ref()
            .and_then(|r| r.fresh(now))
            .map_or(UNKNOWN_RTO_MS, Rtt::rto)
    }

    fn is_lame(&self, zone: &[u8], now: Time) -> bool {
        self.lame
            .iter()
            .any(|(z, until)| **z == *zone && now < *until)
    }
}

/// What the recursors of one process share about upstream servers: those seen not to echo the
/// question's case (0x20), each forgotten [`HOST_TTL_SECS`] after it was learned. Cheap to
/// clone (the clones share one table, under a lock taken once per upstream query); at most
/// `max_servers` servers are kept, the entry learned first making room.
#[derive(Clone, Debug)]
pub struct SharedInfra {
    no_case_echo: Arc<Mutex<HashMap<SocketAddr, Time>>>,
    max_servers: usize,
    /// Resolutions in flight per client address, in every recursor sharing this (an entry
    /// leaves when its count reaches 0, so the map holds only clients with work in flight).
    clients: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl SharedInfra {
    /// An empty table for at most `max_servers` servers (at least 1).
    pub fn new(max_servers: usize) -> SharedInfra {
        SharedInfra {
            no_case_echo: Arc::new(Mutex::new(HashMap::new())),
            max_servers: max_servers.max(1),
            clients: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Counts one more resolution in flight for `client`, unless it has `max` already.
    pub fn admit_client(&self, client: IpAddr, max: u32) -> bool {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let count = clients.entry(client).or_insert(0);
        if *count >= max {
            if *count == 0 {
                clients.remove(&client);
            }
            return false;
        }
        *count += 1;
        true
    }

    /// A resolution of `client` counted by [`SharedInfra::admit_client`] ended.
    pub fn release_client(&self, client: IpAddr) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = clients.get_mut(&client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                clients.remove(&client);
            }
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Time>> {
        // The table holds plain values: one left by a panicking holder is still whole.
        self.no_case_echo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `server` is believed to echo the question's case at `now` (true until seen
    /// otherwise).
    pub fn echoes_case(&self, server: SocketAddr, now: Time) -> bool {
        self.table()
            .get(&server)
            .is_none_or(|at| now >= at.plus_secs(HOST_TTL_SECS))
    }

    /// Records that `server` does not echo the question's case.
    pub fn set_no_case_echo(&self, server: SocketAddr, now: Time) {
        let mut table = self.table();
        if table.len() >= self.max_servers && !table.contains_key(&server) {
            table.retain(|_, at| now < at.plus_secs(HOST_TTL_SECS));
            if table.len() >= self.max_servers
                && let Some(first) = table.iter().min_by_key(|(_, at)| **at).map(|(s, _)| *s)
            {
                table.remove(&first);
            }
        }
        table.insert(server, now);
    }
}

/// The infrastructure cache (see the module docs). One per recursor instance.
#[derive(Debug)]
pub struct Infra {
    hosts: HashMap<SocketAddr, Host>,
    /// LRU order: stamp to server; the smallest stamp is the least recently used.
    order: BTreeMap<u64, SocketAddr>,
    next_stamp: u64,
    max_servers: usize,
    max_outstanding_per_server: u32,
    /// The latest time any method was given, for the accessors that take none.
    latest: Time,
    /// What is shared with the other recursors of the process.
    pub(crate) shared: SharedInfra,
}

impl Infra {
    /// An empty cache for at most `max_servers` servers (at least 1), each allowed
    /// `max_outstanding_per_server` queries at once (at least 1), sharing nothing.
    pub fn new(max_servers: usize, max_outstanding_per_server: u32) -> Infra {
        Infra::with_shared(
            max_servers,
            max_outstanding_per_server,
            SharedInfra::new(max_servers),
        )
    }

    /// [`Infra::new`], with what is learned about case echo kept in `shared`.
    pub fn with_shared(
        max_servers: usize,
        max_outstanding_per_server: u32,
        shared: SharedInfra,
    ) -> Infra {
        let max_servers = max_servers.max(1);
        Infra {
            hosts: HashMap::with_capacity(max_servers.min(1024)),
            order: BTreeMap::new(),
            next_stamp: 0,
            max_servers,
            max_outstanding_per_server: max_outstanding_per_server.max(1),
            latest: Time::ZERO,
            shared,
        }
    }

    /// Servers known.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no server is known.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The per-server outstanding limit.
    pub fn max_outstanding_per_server(&self) -> u32 {
        self.max_outstanding_per_server
    }

    fn saw(&mut self, now: Time) {
        self.latest = self.latest.max(now);
    }

    /// The server's entry, created when missing (evicting when full) and marked as used now.
    fn entry(&mut self, server: SocketAddr) -> &mut Host {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(old) = self.hosts.get(&server).map(|h| h.stamp) {
            self.order.remove(&old);
        } else if self.hosts.len() >= self.max_servers {
            self.evict();
        }
        self.order.insert(stamp, server);
        let host = self.hosts.entry(server).or_default();
        host.stamp = stamp;
        host
    }

    /// Drops the least recently used server, preferring one with nothing outstanding.
    fn evict(&mut self) {
        let victim = self
            .order
            .iter()
            .take(EVICTION_SCAN)
            .find(|(_, s)| self.hosts.get(*s).is_none_or(|h| h.outstanding == 0))
            .or_else(|| self.order.iter().next())
            .map(|(stamp, server)| (*stamp, *server));
        if let Some((stamp, server)) = victim {
            self.order.remove(&stamp);
            self.hosts.remove(&server);
        }
    }

    /// Chooses a server from `candidates` for a query in `zone` (see the module docs), or
    /// `None` when every candidate is lame for the zone or at its outstanding limit.
    pub fn select(
        &mut self,
        candidates: &[SocketAddr],
        zone: NameRef<'_>,
        now: Time,
        rng: &mut impl rand::Rng,
    ) -> Option<SocketAddr> {
        self.saw(now);
        let zone = lowercase_wire(zone);
        let usable = |server: &SocketAddr| -> Option<u64> {
            match self.hosts.get(server) {
                None => Some(UNKNOWN_RTO_MS),
                Some(h) if h.outstanding >= self.max_outstanding_per_server => None,
                Some(h) if h.is_lame(&zone, now) => None,
                Some(h) => Some(h.rto(now)),
            }
        };
        let best = candidates.iter().filter_map(usable).min()?;
        let limit = best.saturating_add(SELECTION_BAND_MS);
        let in_band = |s: &&SocketAddr| usable(s).is_some_and(|rto| rto <= limit);
        let count = candidates.iter().filter(in_band).count();
        let pick = usize::try_from(rng.next_u64() % count.max(1) as u64).unwrap_or(0);
        candidates.iter().filter(in_band).nth(pick).copied()
    }

    /// Chooses the first of `candidates`, in their order, that is usable (not lame for `zone`,
    /// not at its outstanding limit) and not failing: no timeout or failure in the last
    /// [`ORDER_RETRY_SECS`]. When every usable one is failing, the one with the lowest RTO
    /// (the first among equals). `None` when none is usable. A failing server is tried again
    /// once its hold has passed, and an answer ends its backoff, so the selection goes back to
    /// the first server as soon as it answers.
    pub fn select_ordered(
        &mut self,
        candidates: &[SocketAddr],
        zone: NameRef<'_>,
        now: Time,
    ) -> Option<SocketAddr> {
        self.saw(now);
        let zone = lowercase_wire(zone);
        let usable = |server: &&SocketAddr| match self.hosts.get(*server) {
            None => true,
            Some(h) => h.outstanding < self.max_outstanding_per_server && !h.is_lame(&zone, now),
        };
        let failing = |server: &SocketAddr| {
            self.hosts
                .get(server)
                .and_then(|h| h.backoff.as_ref())
                .is_some_and(|b| now < b.at.plus_secs(ORDER_RETRY_SECS))
        };
        if let Some(first) = candidates.iter().filter(usable).find(|s| !failing(s)) {
            return Some(*first);
        }
        candidates
            .iter()
            .filter(usable)
            .min_by_key(|s| self.rto(**s, now))
            .copied()
    }

    /// The timeout to use for the next query to `server`, in ms.
    pub fn rto(&self, server: SocketAddr, now: Time) -> u64 {
        self.hosts
            .get(&server)
            .map_or(UNKNOWN_RTO_MS, |h| h.rto(now))
    }

    /// The smoothed RTT of `server` in ms, when one was measured and has not decayed.
    pub fn srtt(&self, server: SocketAddr, now: Time) -> Option<u64> {
        let rtt = self.hosts.get(&server)?.rtt.as_ref()?.fresh(now)?;
        Some(rtt.srtt.round() as u64)
    }

    /// An answer came from `server` after `rtt_ms`: updates the smoothed RTT and ends any
    /// backoff.
    pub fn on_response(&mut self, server: SocketAddr, rtt_ms: u64, now: Time) {
        self.saw(now);
        let sample = rtt_ms.min(MAX_RTO_MS * 10) as f64;
        let host = self.entry(server);
        let rtt = match host.rtt.as_ref().and_then(|r| r.fresh(now)) {
            None => Rtt {
                srtt: sample,
                rttvar: sample / 2.0,
            },
            Some(r) => Rtt {
                rttvar: 0.75 * r.rttvar + 0.25 * (r.srtt - sample).abs(),
                srtt: 0.875 * r.srtt + 0.125 * sample,
            },
        };
        host.rtt = Some(Learned::new(rtt, now));
        host.backoff = None;
    }

    /// A query to `server` timed out: doubles its RTO (up to [`MAX_RTO_MS`]) whatever timeout
    /// the query used. The recursor uses [`Infra::on_timeout_after`].
    pub fn on_timeout(&mut self, server: SocketAddr, now: Time) {
        self.saw(now);
        let host = self.entry(server);
        let doubled = host.rto(now).saturating_mul(2).min(MAX_RTO_MS);
        host.backoff = Some(Learned::new(doubled, now));
    }

    /// A query to `server` that waited `timeout_ms` timed out: doubles the server's RTO (up to
    /// [`MAX_RTO_MS`]) only when `timeout_ms` is at least the current RTO (Unbound's
    /// `rtt_lost`). A query sent before an earlier timeout already doubled the RTO says
    /// nothing new, so parallel queries timing out together double it once.
    pub fn on_timeout_after(&mut self, server: SocketAddr, timeout_ms: u64, now: Time) {
        self.saw(now);
        let host = self.entry(server);
        let rto = host.rto(now);
        if timeout_ms >= rto {
            host.backoff = Some(Learned::new(rto.saturating_mul(2).min(MAX_RTO_MS), now));
        }
    }

    /// `server` is lame for `zone` (it answered without authority for it): it is not selected
    /// for that zone for [`LAME_TTL_SECS`].
    pub fn mark_lame(&mut self, server: SocketAddr, zone: NameRef<'_>, now: Time) {
        self.saw(now);
        let zone = lowercase_wire(zone);
        let until = now.plus_secs(LAME_TTL_SECS);
        let host = self.entry(server);
        host.lame.retain(|(_, u)| now < *u);
        if let Some(entry) = host.lame.iter_mut().find(|(z, _)| **z == *zone) {
            entry.1 = until;
            return;
        }
        if host.lame.len() >= MAX_LAME_ZONES_PER_SERVER
            && let Some(first) = host
                .lame
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(i, _)| i)
        {
            host.lame.swap_remove(first);
        }
        host.lame.push((zone.into_boxed_slice(), until));
    }

    /// Whether `server` is lame for `zone` at `now`.
    pub fn is_lame(&self, server: SocketAddr, zone: NameRef<'_>, now: Time) -> bool {
        self.hosts
            .get(&server)
            .is_some_and(|h| h.is_lame(&lowercase_wire(zone), now))
    }

    /// What is known of `server`'s EDNS support.
    pub fn edns(&self, server: SocketAddr) -> EdnsSupport {
        self.hosts
            .get(&server)
            .and_then(|h| h.edns.as_ref())
            .and_then(|e| e.fresh(self.latest))
            .copied()
            .unwrap_or_default()
    }

    /// Records `server`'s EDNS support.
    pub fn set_edns(&mut self, server: SocketAddr, support: EdnsSupport, now: Time) {
        self.saw(now);
        self.entry(server).edns = Some(Learned::new(support, now));
    }

    /// Whether `server` is believed to echo the question's case (true until seen otherwise).
    pub fn echoes_case(&self, server: SocketAddr) -> bool {
        self.shared.echoes_case(server, self.latest)
    }

    /// Records that `server` does not echo the question's case (in the [`SharedInfra`]).
    pub fn set_no_case_echo(&mut self, server: SocketAddr, now: Time) {
        self.saw(now);
        self.shared.set_no_case_echo(server, now);
    }

    /// The server cookie last received from `server`, to send back.
    pub fn server_cookie(&self, server: SocketAddr) -> Option<&[u8]> {
        self.hosts
            .get(&server)?
            .cookie
            .as_ref()?
            .fresh(self.latest)
            .map(Vec::as_slice)
    }

    /// Remembers `server`'s cookie. A cookie that is not 8 to 32 bytes long (RFC 7873 section
    /// 4.2) is not stored, and forgets the old one.
    pub fn set_server_cookie(&mut self, server: SocketAddr, cookie: Vec<u8>, now: Time) {
        self.saw(now);
        let host = self.entry(server);
        host.cookie = (8..=32)
            .contains(&cookie.len())
            .then(|| Learned::new(cookie, now));
    }

    /// Queries to `server` in flight.
    pub fn outstanding(&self, server: SocketAddr) -> u32 {
        self.hosts.get(&server).map_or(0, |h| h.outstanding)
    }

    /// A query to `server` is sent.
    pub fn begin(&mut self, server: SocketAddr) {
        let host = self.entry(server);
        host.outstanding = host.outstanding.saturating_add(1);
    }

    /// A query to `server` is over (answered, timed out or abandoned).
    pub fn end(&mut self, server: SocketAddr) {
        if let Some(h) = self.hosts.get_mut(&server) {
            h.outstanding = h.outstanding.saturating_sub(1);
        }
    }
}

/// A zone name as lowercase wire bytes, the key of lameness.
fn lowercase_wire(zone: NameRef<'_>) -> Vec<u8> {
    zone.as_wire().to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
