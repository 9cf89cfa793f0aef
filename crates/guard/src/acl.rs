//! Access-control lists: which clients may do what, by address prefix.
//!
//! An [`Acl`] is an ordered list of rules, each an [`AclAction`] (allow, refuse, drop) and a
//! set of prefixes (IPv4 and IPv6, see [`Prefix`]); the first rule whose set holds the client's
//! address decides, and a client no rule matches gets the list's fallback action. What the
//! actions mean is the caller's: for DNS queries, refuse answers REFUSED (with Extended DNS
//! Error 18, "Prohibited", RFC 8914 section 4.19) and drop sends nothing, which gives a
//! reflection attacker nothing to reflect.
//!
//! # Matching without allocation
//!
//! The rules are compiled when the list is built: every prefix is an address range, ranges of
//! prefixes are nested or disjoint, so one sweep over them (sorted by start, outer first) cuts
//! each address family into disjoint segments, each labelled with the action of the first rule
//! covering it; neighbouring segments with the same action are merged. [`Acl::decide`] is then
//! one binary search over the segment starts of the client's family: about 15 comparisons for
//! 10,000 prefixes, whatever the number of rules and wherever the match sits in them, with no
//! allocation and no lock (`benches/acl.rs`). Memory is 5 bytes per IPv4 segment and 17 per
//! IPv6 segment, at most two segments per prefix.
//!
//! # Built-in lists
//!
//! [`builtin_list`] names the lists every configuration has: `any` (every address), `none` (no
//! address) and `localhost` (127.0.0.0/8 and ::1).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::prefix::Prefix;

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

/// What a rule does with the clients it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AclAction {
    /// Serve the client.
    Allow,
    /// Say no: REFUSED for DNS, 403 for HTTP, an error line on the control socket.
    Refuse,
    /// Say nothing: no response, or the connection closed.
    Drop,
}

impl AclAction {
    /// The word used in configuration files: `allow`, `refuse`, `drop`.
    pub fn name(self) -> &'static str {
        match self {
            AclAction::Allow => "allow",
            AclAction::Refuse => "refuse",
            AclAction::Drop => "drop",
        }
    }
}

impl FromStr for AclAction {
    type Err = String;

    fn from_str(s: &str) -> Result<AclAction, String> {
        match s {
            "allow" => Ok(AclAction::Allow),
            "refuse" => Ok(AclAction::Refuse),
            "drop" => Ok(AclAction::Drop),
            _ => Err(format!("`{s}` is not an action: use allow, refuse or drop")),
        }
    }
}

impl fmt::Display for AclAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in lists
// ---------------------------------------------------------------------------------------------

/// Every address: `0.0.0.0/0` and `::/0`.
pub const ANY: [Prefix; 2] = [Prefix::v4([0, 0, 0, 0], 0), Prefix::v6(0, 0)];
/// The loopback addresses: `127.0.0.0/8` and `::1`.
pub const LOCALHOST: [Prefix; 2] = [Prefix::v4([127, 0, 0, 0], 8), Prefix::v6(1, 128)];

/// The prefixes of a built-in list: `any`, `none` or `localhost`.
pub fn builtin_list(name: &str) -> Option<&'static [Prefix]> {
    match name {
        "any" => Some(&ANY),
        "none" => Some(&[]),
        "localhost" => Some(&LOCALHOST),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Acl
// ---------------------------------------------------------------------------------------------

/// An access-control list, compiled for matching; see the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    v4: Segments<u32>,
    v6: Segments<u128>,
    /// The number of rules it was built from (for messages).
    rules: usize,
}

impl Acl {
    /// The list of `rules`, in order (each an action and the prefixes it applies to; the first
    /// rule holding the client decides), with `otherwise` for clients no rule holds.
    pub fn new<'a>(
        rules: impl IntoIterator<Item = (AclAction, &'a [Prefix])>,
        otherwise: AclAction,
    ) -> Acl {
        let mut v4: Vec<(u32, u32, u32)> = Vec::new();
        let mut v6: Vec<(u128, u128, u32)> = Vec::new();
        let mut actions: Vec<AclAction> = Vec::new();
        for (index, (action, prefixes)) in rules.into_iter().enumerate() {
            let index = u32::try_from(index).unwrap_or(u32::MAX);
            actions.push(action);
            for p in prefixes {
                match p.addr() {
                    IpAddr::V4(a) => {
                        let start = u32::from(a);
                        let host = 32 - u32::from(p.len().min(32));
                        let end = start | u32::MAX.checked_shr(32 - host).unwrap_or(0);
                        v4.push((start, end, index));
                    }
                    IpAddr::V6(a) => {
                        let start = u128::from(a);
                        let host = 128 - u32::from(p.len().min(128));
                        let end = start | u128::MAX.checked_shr(128 - host).unwrap_or(0);
                        v6.push((start, end, index));
                    }
                }
            }
        }
        Acl {
            v4: Segments::build(v4, &actions, otherwise),
            v6: Segments::build(v6, &actions, otherwise),
            rules: actions.len(),
        }
    }

    /// Every client allowed.
    pub fn allow_all() -> Acl {
        Acl::new([], AclAction::Allow)
    }

    /// Every client refused.
    pub fn refuse_all() -> Acl {
        Acl::new([], AclAction::Refuse)
    }

    /// The clients in `prefixes` allowed, every other refused: the classic allow list.
    pub fn allowing(prefixes: &[Prefix]) -> Acl {
        Acl::new([(AclAction::Allow, prefixes)], AclAction::Refuse)
    }

    /// What to do with a client at `addr` (an IPv4-mapped IPv6 address is taken as IPv4).
    pub fn decide(&self, addr: IpAddr) -> AclAction {
        match addr.to_canonical() {
            IpAddr::V4(a) => self.v4.find(u32::from(a)),
            IpAddr::V6(a) => self.v6.find(u128::from(a)),
        }
    }

    /// Whether `addr` is allowed.
    pub fn allows(&self, addr: IpAddr) -> bool {
        self.decide(addr) == AclAction::Allow
    }

    /// Whether every client gets `action`, whatever its address.
    pub fn is_always(&self, action: AclAction) -> bool {
        self.v4.is_always(action) && self.v6.is_always(action)
    }

    /// How many rules it was built from.
    pub fn rules(&self) -> usize {
        self.rules
    }

    /// How many segments it was compiled to (IPv4 and IPv6): its size in memory is about 5
    /// bytes per IPv4 segment and 17 per IPv6 segment.
    pub fn segments(&self) -> (usize, usize) {
        (self.v4.starts.len(), self.v6.starts.len())
    }
}

// ---------------------------------------------------------------------------------------------
// Segments
// ---------------------------------------------------------------------------------------------

/// An address word: `u32` for IPv4, `u128` for IPv6.
trait Word: Copy + Ord + fmt::Debug {
    const ZERO: Self;
    const MAX: Self;
    /// The next value (never called on `MAX`).
    fn succ(self) -> Self;
}

impl Word for u32 {
    const ZERO: u32 = 0;
    const MAX: u32 = u32::MAX;
    fn succ(self) -> u32 {
        self.saturating_add(1)
    }
}

impl Word for u128 {
    const ZERO: u128 = 0;
    const MAX: u128 = u128::MAX;
    fn succ(self) -> u128 {
        self.saturating_add(1)
    }
}

/// One address family cut into segments: segment `i` runs from `starts[i]` to the next start
/// (or the end of the family) and gets `actions[i]`. `starts[0]` is always zero.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Segments<T> {
    starts: Box<[T]>,
    actions: Box<[AclAction]>,
}

impl<T: Word> Segments<T> {
    /// The segments of `ranges` (first address, last address, rule index), where the lowest
    /// rule index covering an address decides, `actions` maps rule indexes to actions, and
    /// `otherwise` applies where no range covers.
    fn build(mut ranges: Vec<(T, T, u32)>, actions: &[AclAction], otherwise: AclAction) -> Self {
        // Ranges of prefixes are nested or disjoint: sorted by start with outer ranges first,
        // each range lies inside the open ranges on the stack above which it is pushed.
        ranges.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let mut cuts: Vec<(T, Option<u32>)> = vec![(T::ZERO, None)];
        // (last address, the rule deciding inside it)
        let mut open: Vec<(T, Option<u32>)> = Vec::new();
        for (start, end, rule) in ranges {
            close_before(&mut open, &mut cuts, Some(start));
            let outer = open.last().and_then(|o| o.1);
            let rule = Some(outer.map_or(rule, |o| o.min(rule)));
            cut(&mut cuts, start, rule);
            open.push((end, rule));
        }
        close_before(&mut open, &mut cuts, None);
        // Rule indexes to actions, merging neighbours that act alike.
        let mut starts: Vec<T> = Vec::with_capacity(cuts.len());
        let mut acts: Vec<AclAction> = Vec::with_capacity(cuts.len());
        for (at, rule) in cuts {
            let action = rule
                .and_then(|r| actions.get(r as usize).copied())
                .unwrap_or(otherwise);
            if acts.last() != Some(&action) {
                starts.push(at);
                acts.push(action);
            }
        }
        Segments {
            starts: starts.into_boxed_slice(),
            actions: acts.into_boxed_slice(),
        }
    }

    fn find(&self, addr: T) -> AclAction {
        // starts[0] is zero, so at least one start is at or below any address.
        let i = self.starts.partition_point(|&s| s <= addr);
        self.actions
            .get(i.saturating_sub(1))
            .copied()
            .unwrap_or(AclAction::Refuse)
    }

    fn is_always(&self, action: AclAction) -> bool {
        self.actions.iter().all(|&a| a == action)
    }
}

/// Closes the open ranges that end before `at` (every one when `at` is `None`), cutting where
/// each ends.
fn close_before<T: Word>(
    open: &mut Vec<(T, Option<u32>)>,
    cuts: &mut Vec<(T, Option<u32>)>,
    at: Option<T>,
) {
    while let Some(&(end, _)) = open.last() {
        if at.is_some_and(|at| end >= at) {
            break;
        }
        open.pop();
        if end != T::MAX {
            let outer = open.last().and_then(|o| o.1);
            cut(cuts, end.succ(), outer);
        }
    }
}

/// Starts a segment at `at` deciding by `rule` (replacing one that starts at the same place).
fn cut<T: Word>(cuts: &mut Vec<(T, Option<u32>)>, at: T, rule: Option<u32>) {
    if let Some(last) = cuts.last_mut()
        && last.0 == at
    {
        last.1 = rule;
        let n = cuts.len();
        if n >= 2 && cuts.get(n - 2).map(|c| c.1) == Some(rule) {
            cuts.pop();
        }
        return;
    }
    if cuts.last().map(|c| c.1) != Some(rule) {
        cuts.push((at, rule));
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ps(list: &[&str]) -> Vec<Prefix> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn first_match_wins() {
        let office = ps(&["192.0.2.0/24", "2001:db8::/32"]);
        let ten = ps(&["10.0.0.0/8"]);
        let inner = ps(&["10.1.0.0/16"]);
        let acl = Acl::new(
            [
                (AclAction::Allow, office.as_slice()),
                (AclAction::Refuse, ten.as_slice()),
                (AclAction::Allow, inner.as_slice()),
                (AclAction::Drop, &ANY[..]),
            ],
            AclAction::Refuse,
        );
        assert_eq!(acl.decide(ip("192.0.2.9")), AclAction::Allow);
        assert_eq!(acl.decide(ip("2001:db8:1::5")), AclAction::Allow);
        assert_eq!(acl.decide(ip("::ffff:192.0.2.9")), AclAction::Allow);
        assert_eq!(acl.decide(ip("10.9.9.9")), AclAction::Refuse);
        // Shadowed by the earlier 10/8 rule.
        assert_eq!(acl.decide(ip("10.1.2.3")), AclAction::Refuse);
        assert_eq!(acl.decide(ip("203.0.113.1")), AclAction::Drop);
        assert_eq!(acl.decide(ip("::1")), AclAction::Drop);
        assert_eq!(acl.rules(), 4);
    }

    #[test]
    fn inner_rule_first() {
        let inner = ps(&["10.1.0.0/16", "10.1.2.3"]);
        let ten = ps(&["10.0.0.0/8"]);
        let acl = Acl::new(
            [
                (AclAction::Drop, inner.as_slice()),
                (AclAction::Allow, ten.as_slice()),
            ],
            AclAction::Refuse,
        );
        assert_eq!(acl.decide(ip("10.1.2.3")), AclAction::Drop);
        assert_eq!(acl.decide(ip("10.1.255.255")), AclAction::Drop);
        assert_eq!(acl.decide(ip("10.2.0.0")), AclAction::Allow);
        assert_eq!(acl.decide(ip("10.0.255.255")), AclAction::Allow);
        assert_eq!(acl.decide(ip("11.0.0.0")), AclAction::Refuse);
        assert_eq!(acl.decide(ip("9.255.255.255")), AclAction::Refuse);
    }

    #[test]
    fn edges_of_the_address_space() {
        let top = ps(&["255.255.255.255", "ffff::/16", "0.0.0.0/32"]);
        let acl = Acl::new([(AclAction::Allow, top.as_slice())], AclAction::Drop);
        assert!(acl.allows(ip("255.255.255.255")));
        assert!(acl.allows(ip("0.0.0.0")));
        assert!(!acl.allows(ip("0.0.0.1")));
        assert!(!acl.allows(ip("255.255.255.254")));
        assert!(acl.allows(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!acl.allows(ip("fffe::1")));
    }

    #[test]
    fn simple_lists() {
        assert!(Acl::allow_all().is_always(AclAction::Allow));
        assert!(Acl::refuse_all().is_always(AclAction::Refuse));
        let acl = Acl::allowing(&LOCALHOST);
        assert!(acl.allows(ip("127.0.0.2")));
        assert!(acl.allows(ip("::1")));
        assert!(!acl.allows(ip("::2")));
        assert!(!acl.allows(ip("128.0.0.1")));
        assert!(!acl.is_always(AclAction::Refuse));
        // Rules that cover everything the same way compile to one segment per family.
        let all = Acl::new([(AclAction::Refuse, &ANY[..])], AclAction::Refuse);
        assert_eq!(all.segments(), (1, 1));
        assert_eq!(builtin_list("none"), Some(&[][..]));
        assert_eq!(builtin_list("any").map(<[Prefix]>::len), Some(2));
        assert!(builtin_list("office").is_none());
    }

    #[test]
    fn actions_parse() {
        for a in [AclAction::Allow, AclAction::Refuse, AclAction::Drop] {
            assert_eq!(a.name().parse::<AclAction>(), Ok(a));
        }
        assert!("deny".parse::<AclAction>().is_err());
    }

    /// The naive model: try each rule in order, each prefix in order.
    fn model(rules: &[(AclAction, Vec<Prefix>)], otherwise: AclAction, addr: IpAddr) -> AclAction {
        rules
            .iter()
            .find(|(_, ps)| ps.iter().any(|p| p.contains(addr)))
            .map_or(otherwise, |(a, _)| *a)
    }

    fn action() -> impl Strategy<Value = AclAction> {
        prop_oneof![
            Just(AclAction::Allow),
            Just(AclAction::Refuse),
            Just(AclAction::Drop)
        ]
    }

    /// Addresses crowded into a few regions so that prefixes overlap often.
    fn addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (
                prop::sample::select(vec![0u32, 0x0a00_0000, 0xc000_0200, 0xffff_ff00]),
                0u32..512
            )
                .prop_map(|(base, off)| IpAddr::from(std::net::Ipv4Addr::from(
                    base.wrapping_add(off)
                ))),
            (
                prop::sample::select(vec![0u128, 0x2001_0db8 << 96, u128::MAX - 1023]),
                0u128..1024
            )
                .prop_map(|(base, off)| IpAddr::from(std::net::Ipv6Addr::from(
                    base.wrapping_add(off)
                ))),
        ]
    }

    fn prefix() -> impl Strategy<Value = Prefix> {
        (addr(), 0u8..=128).prop_map(|(a, len)| {
            let max = if a.is_ipv4() { 32 } else { 128 };
            // Mostly long prefixes, so most are narrow; some short ones cover everything.
            let len = if len < 8 {
                len
            } else {
                max - (len % 12).min(max)
            };
            Prefix::new(a, len).unwrap()
        })
    }

    proptest! {
        #[test]
        fn matches_the_naive_model(
            rules in prop::collection::vec((action(), prop::collection::vec(prefix(), 0..6)), 0..8),
            otherwise in action(),
            probes in prop::collection::vec(addr(), 1..64),
        ) {
            let acl = Acl::new(rules.iter().map(|(a, p)| (*a, p.as_slice())), otherwise);
            for probe in probes {
                prop_assert_eq!(acl.decide(probe), model(&rules, otherwise, probe), "{}", probe);
            }
            // Each rule's own prefixes (their first and last addresses) are probed too.
            for (_, prefixes) in &rules {
                for p in prefixes {
                    let first = p.addr();
                    let last = match first {
                        IpAddr::V4(a) => IpAddr::from(std::net::Ipv4Addr::from(
                            u32::from(a) | u32::MAX.checked_shr(u32::from(p.len())).unwrap_or(0),
                        )),
                        IpAddr::V6(a) => IpAddr::from(std::net::Ipv6Addr::from(
                            u128::from(a) | u128::MAX.checked_shr(u32::from(p.len())).unwrap_or(0),
                        )),
                    };
                    prop_assert_eq!(acl.decide(first), model(&rules, otherwise, first));
                    prop_assert_eq!(acl.decide(last), model(&rules, otherwise, last));
                }
            }
        }
    }
}
