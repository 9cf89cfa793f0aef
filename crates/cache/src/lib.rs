//! The resolver's cache (skeleton: the shared types; the store itself lands next).
//!
//! This file holds the types that the cache, the recursor and the engine share: [`Time`], the
//! clock value passed in from outside (nothing here reads a clock), [`RrSet`], an owned RRset
//! as the recursor learns it, and [`Trust`], the credibility ranking of RFC 2181 section 5.4.1.

#![forbid(unsafe_code)]

use wire::{Class, Name, RType};

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
