//! Automated updates of trust anchors (RFC 5011), as a state machine over time passed in, and
//! the state file that keeps it across restarts.
//!
//! A zone operator rolls its key-signing key by publishing the new key in the zone's DNSKEY
//! RRset, signed by the old one, long before it starts to use it. A resolver that checks the
//! RRset regularly sees the new key and, once it has seen it continuously for the *add
//! hold-down* time (30 days), trusts it: an attacker who stole the old key would have to keep
//! the zone's real operator from noticing for that long. The old key is retired by
//! *revoking* it: it is published with the REVOKE flag (0x0080) and signs the DNSKEY RRset
//! itself, and a resolver that sees this stops trusting it at once, for good.
//!
//! Each key is in one of the states of RFC 5011 section 4 ([`KeyState`]); *Start* (a key never
//! seen) is the absence of a record:
//!
//! | state | the key is | next |
//! |---|---|---|
//! | AddPend | new, seen in every check since `since` | Valid after 30 days still present; forgotten (Start) when it disappears first; Revoked when revoked |
//! | Valid | trusted | Missing when absent; Revoked when revoked |
//! | Missing | trusted, but absent from the last check | Valid when back; Revoked when revoked |
//! | Revoked | never trusted again | Removed 30 days after the revocation (the remove hold-down) |
//! | Removed | never trusted again | forgotten once it is no longer published |
//!
//! Only keys with the SEP flag (key-signing keys) become candidates. A key revoked without
//! signing the RRset itself is not taken as revoked (anyone could publish a copy with the flag
//! set), and the self-signature is checked with the key as published, whose key tag counts the
//! REVOKE flag. The caller passes only a DNSKEY RRset it has validated with the current
//! anchors ([`AutoTrust::observe`]).
//!
//! Keys are told apart by algorithm and public key, so a key keeps its record when its flags
//! change. The anchors to validate with ([`AutoTrust::anchors`]) are the Valid and Missing
//! keys, and the configured DS records whose key has not been seen yet: a resolver started
//! with IANA's DS records for the root trusts the matching key on its first check and follows
//! the root's rollovers from then on. A zone whose keys were all revoked keeps an anchor with
//! no key, so that its names are bogus rather than insecure.
//!
//! When to check again is [`query_interval`] (RFC 5011 section 2.3), or [`retry_interval`]
//! after a failed check.
//!
//! # The state file
//!
//! Text, one line per record, `;` starting a comment (written by [`AutoTrust::save`] for
//! people: key tags and dates). Fields are separated by blanks:
//!
//! ```text
//! ; <zone> zone                                    the zone is tracked (even with no key left)
//! ; <zone> ds <DS RDATA>                           a configured DS whose key was not seen yet
//! ; <zone> key <state> <since> <seen> <DNSKEY RDATA>
//! .    zone
//! .    ds   38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
//! .    key  valid 0 1764230000 257 3 8 AwEAAaz/tAm8yTn4... ; tag 20326, valid since configured
//! ```
//!
//! `state` is `addpend`, `valid`, `missing`, `revoked` or `removed`; `since` is when the key
//! entered it (for `addpend`, when it was first seen; 0 for a key taken from the configured
//! anchors), `seen` when it was last in a checked RRset (0: never), both in seconds since
//! 1970 (UTC). RDATA is in presentation form, as in a zone file. The file is replaced
//! atomically (written aside, then renamed over), so a crash leaves the old or the new state.
//!
//! The file, once it exists, decides for the zones it lists: the configured anchors only
//! start zones it does not list (deleting the file starts over from them). Zones it lists that
//! are no longer configured are dropped.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use wire::rdata::RData;
use wire::text::Field;
use wire::{Name, NameRef, RType};

use crate::anchors::{Anchor, FLAG_REVOKE, FLAG_SEP, FLAG_ZONE, TrustAnchors};
use crate::key::{ds_digest, key_tag};

/// One hour, in seconds.
const HOUR: u64 = 3600;
/// One day, in seconds.
const DAY: u64 = 86_400;

/// How long a new key must be seen before it is trusted (RFC 5011 section 2.4.1): 30 days.
pub const ADD_HOLD_DOWN: u64 = 30 * DAY;
/// How long a revoked key is remembered as Revoked before it is Removed (RFC 5011 section
/// 2.4.2): 30 days.
pub const REMOVE_HOLD_DOWN: u64 = 30 * DAY;
/// Keys remembered per zone: new keys beyond are ignored, so a zone cannot grow the state
/// without bound.
pub const MAX_KEYS_PER_ZONE: usize = 32;
/// DNSKEY records of one RRset looked at.
pub const MAX_DNSKEYS_EXAMINED: usize = 64;

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/// The state of a key (RFC 5011 section 4). A key never seen (*Start*) has no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Seen, waiting out the add hold-down.
    AddPend,
    /// Trusted.
    Valid,
    /// Trusted, but absent from the last check.
    Missing,
    /// Revoked by its owner: not trusted, waiting out the remove hold-down.
    Revoked,
    /// Revoked long enough ago; forgotten once no longer published.
    Removed,
}

impl KeyState {
    /// The name in the state file.
    pub fn name(self) -> &'static str {
        match self {
            KeyState::AddPend => "addpend",
            KeyState::Valid => "valid",
            KeyState::Missing => "missing",
            KeyState::Revoked => "revoked",
            KeyState::Removed => "removed",
        }
    }

    fn from_name(s: &[u8]) -> Option<KeyState> {
        [
            KeyState::AddPend,
            KeyState::Valid,
            KeyState::Missing,
            KeyState::Revoked,
            KeyState::Removed,
        ]
        .into_iter()
        .find(|k| k.name().as_bytes() == s)
    }

    /// Whether a key in this state is a trust anchor.
    pub fn is_trusted(self) -> bool {
        matches!(self, KeyState::Valid | KeyState::Missing)
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One key followed for a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedKey {
    /// The DNSKEY RDATA as last seen (with the REVOKE flag once revoked).
    pub dnskey: Vec<u8>,
    /// Its state.
    pub state: KeyState,
    /// When it entered `state` (for AddPend: when first seen), seconds since 1970; 0 for a key
    /// taken from the configured anchors.
    pub since: u64,
    /// When it was last in a checked DNSKEY RRset; 0: never.
    pub seen: u64,
}

/// What is followed of one zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ZoneTrust {
    keys: Vec<TrackedKey>,
    /// Configured DS records whose key has not been seen yet.
    ds: Vec<Vec<u8>>,
}

/// The trust anchors of some zones, kept up to date by RFC 5011, with the file they are kept
/// in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoTrust {
    path: PathBuf,
    zones: BTreeMap<Name, ZoneTrust>,
}

/// Why the state file could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoTrustError {
    /// The file exists but could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        message: String,
    },
    /// A line of the file is not understood.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: u32,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for AutoTrustError {
    /// `path: cannot read ...` or `path:line: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoTrustError::Read { path, message } => write!(
                f,
                "{}: cannot read the trust anchor state: {message}",
                path.display()
            ),
            AutoTrustError::Corrupt {
                path,
                line,
                message,
            } => write!(
                f,
                "{}:{line}: bad trust anchor state: {message}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for AutoTrustError {}

// ---------------------------------------------------------------------------------------------
// Timers (RFC 5011 section 2.3)
// ---------------------------------------------------------------------------------------------

/// Seconds until the next check of a zone's DNSKEY RRset after a successful one (RFC 5011
/// section 2.3): `MAX(1 hour, MIN(15 days, TTL / 2, expiry interval / 2))`, where `ttl` is the
/// RRset's original TTL and the expiry interval runs from `now` to `sig_expiry`, the earliest
/// expiration of its signatures (seconds since 1970).
pub fn query_interval(ttl: u32, sig_expiry: u64, now: u64) -> u64 {
    let expiry = sig_expiry.saturating_sub(now);
    (15 * DAY).min(u64::from(ttl) / 2).min(expiry / 2).max(HOUR)
}

/// Seconds until the next try after a failed check (RFC 5011 section 2.3):
/// `MAX(1 hour, MIN(1 day, TTL / 10, expiry interval / 10))`.
pub fn retry_interval(ttl: u32, sig_expiry: u64, now: u64) -> u64 {
    let expiry = sig_expiry.saturating_sub(now);
    DAY.min(u64::from(ttl) / 10).min(expiry / 10).max(HOUR)
}

// ---------------------------------------------------------------------------------------------
// AutoTrust
// ---------------------------------------------------------------------------------------------

/// Whether two DNSKEY RDATAs are the same key: algorithm and public key, flags aside.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.get(3..).is_some_and(|k| Some(k) == b.get(3..))
}

/// The flags of DNSKEY RDATA.
fn flags(dnskey: &[u8]) -> u16 {
    match dnskey {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

/// `dnskey` with the REVOKE flag cleared.
fn unrevoked(dnskey: &[u8]) -> Vec<u8> {
    let mut key = dnskey.to_vec();
    if let Some(b) = key.get_mut(1) {
        *b &= !(FLAG_REVOKE as u8);
    }
    key
}

/// The index of the configured DS of `zone` that `dnskey` hashes to.
fn matching_ds(zone: NameRef<'_>, ds_list: &[Vec<u8>], dnskey: &[u8]) -> Option<usize> {
    let tag = key_tag(dnskey);
    ds_list.iter().position(|ds| {
        let Ok(RData::Ds(d)) = RData::parse(RType::DS, ds) else {
            return false;
        };
        d.key_tag == tag
            && Some(&d.algorithm) == dnskey.get(3)
            && ds_digest(zone, dnskey, d.digest_type).is_ok_and(|h| h == d.digest)
    })
}

impl AutoTrust {
    /// Reads the state file at `path`, or starts from `initial` when there is none. The zones
    /// followed are those of `initial`: a zone the file lists keeps its state from the file;
    /// one it lacks starts with its configured DS records and DNSKEYs (as Valid keys).
    pub fn load_or_init(path: &Path, initial: &TrustAnchors) -> Result<AutoTrust, AutoTrustError> {
        let mut from_file = match std::fs::read_to_string(path) {
            Ok(text) => parse_state(path, &text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(AutoTrustError::Read {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                });
            }
        };
        let mut zones = BTreeMap::new();
        for anchor in initial.iter() {
            let state = from_file.remove(&anchor.zone).unwrap_or_else(|| ZoneTrust {
                keys: anchor
                    .dnskey
                    .iter()
                    .map(|k| TrackedKey {
                        dnskey: k.clone(),
                        state: KeyState::Valid,
                        since: 0,
                        seen: 0,
                    })
                    .collect(),
                ds: anchor.ds.clone(),
            });
            zones.insert(anchor.zone.clone(), state);
        }
        Ok(AutoTrust {
            path: path.to_path_buf(),
            zones,
        })
    }

    /// Reads state file text as [`save`](AutoTrust::save) writes it, keeping every zone it
    /// lists; `path` is where the state is saved again and what errors name. Unlike
    /// [`load_or_init`](AutoTrust::load_or_init) it needs no configured anchors, so that a file
    /// can be checked (and its reader fuzzed) on its own.
    pub fn from_text(path: &Path, text: &str) -> Result<AutoTrust, AutoTrustError> {
        Ok(AutoTrust {
            path: path.to_path_buf(),
            zones: parse_state(path, text)?,
        })
    }

    /// The state file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The zones followed.
    pub fn zones(&self) -> impl Iterator<Item = &Name> {
        self.zones.keys()
    }

    /// The keys followed for `zone` (none for a zone not followed).
    pub fn keys(&self, zone: NameRef<'_>) -> &[TrackedKey] {
        self.zones
            .get(&zone.to_name())
            .map_or(&[][..], |z| z.keys.as_slice())
    }

    /// Takes in a check of `zone`'s DNSKEY RRset at `now_unix` (seconds since 1970).
    ///
    /// `validated_dnskeys` is the RRset's RDATA; the caller has validated it with the current
    /// [`anchors`](AutoTrust::anchors). `self_signed_by(dnskey)` says whether the RRset carries
    /// a valid signature by that key (with its REVOKE flag, which its key tag counts). Returns
    /// whether any key changed state, so that the caller knows to [`save`](AutoTrust::save).
    pub fn observe(
        &mut self,
        zone: NameRef<'_>,
        validated_dnskeys: &[Vec<u8>],
        self_signed_by: impl Fn(&[u8]) -> bool,
        now_unix: u64,
    ) -> bool {
        let Some(z) = self.zones.get_mut(&zone.to_name()) else {
            return false;
        };
        let now = now_unix;
        let mut changed = false;
        let present: Vec<&[u8]> = validated_dnskeys
            .iter()
            .take(MAX_DNSKEYS_EXAMINED)
            .map(Vec::as_slice)
            .filter(|k| {
                matches!(RData::parse(RType::DNSKEY, k), Ok(RData::Dnskey(d))
                    if d.protocol == 3 && d.flags & FLAG_ZONE != 0)
            })
            .collect();

        for &key in &present {
            let revoked = flags(key) & FLAG_REVOKE != 0;
            let tracked = z.keys.iter_mut().find(|t| same_key(&t.dnskey, key));
            match tracked {
                Some(t) => {
                    t.seen = now;
                    let next = match (t.state, revoked) {
                        // Revbit: only the key itself can revoke itself.
                        (KeyState::AddPend | KeyState::Valid | KeyState::Missing, true)
                            if self_signed_by(key) =>
                        {
                            t.dnskey = key.to_vec();
                            Some(KeyState::Revoked)
                        }
                        // AddTime: seen through the whole hold-down.
                        (KeyState::AddPend, false)
                            if now.saturating_sub(t.since) >= ADD_HOLD_DOWN =>
                        {
                            Some(KeyState::Valid)
                        }
                        // KeyPres.
                        (KeyState::Missing, false) => Some(KeyState::Valid),
                        _ => None,
                    };
                    if let Some(state) = next {
                        t.state = state;
                        t.since = now;
                        changed = true;
                    }
                }
                None if revoked => {
                    // A configured key revoked before it was ever seen: drop its DS.
                    if let Some(i) = matching_ds(zone, &z.ds, &unrevoked(key))
                        && self_signed_by(key)
                    {
                        z.ds.remove(i);
                        z.keys.push(TrackedKey {
                            dnskey: key.to_vec(),
                            state: KeyState::Revoked,
                            since: now,
                            seen: now,
                        });
                        changed = true;
                    }
                }
                None => {
                    let state = if let Some(i) = matching_ds(zone, &z.ds, key) {
                        // Trusted by configuration: the DS becomes the key.
                        z.ds.remove(i);
                        KeyState::Valid
                    } else if flags(key) & FLAG_SEP != 0 && z.keys.len() < MAX_KEYS_PER_ZONE {
                        // NewKey.
                        KeyState::AddPend
                    } else {
                        continue;
                    };
                    z.keys.push(TrackedKey {
                        dnskey: key.to_vec(),
                        state,
                        since: now,
                        seen: now,
                    });
                    changed = true;
                }
            }
        }

        // Keys absent from this RRset, and the remove hold-down.
        let before = z.keys.len();
        z.keys.retain_mut(|t| {
            let absent = !present.iter().any(|k| same_key(&t.dnskey, k));
            match t.state {
                // KeyRem in AddPend: back to Start, its hold-down begins anew if it returns.
                KeyState::AddPend | KeyState::Removed if absent => return false,
                KeyState::Valid if absent => {
                    t.state = KeyState::Missing;
                    t.since = now;
                    changed = true;
                }
                KeyState::Revoked if now.saturating_sub(t.since) >= REMOVE_HOLD_DOWN => {
                    t.state = KeyState::Removed;
                    t.since = now;
                    changed = true;
                }
                _ => {}
            }
            true
        });
        changed || z.keys.len() != before
    }

    /// The trust anchors to validate with: per zone, its Valid and Missing keys as DNSKEY
    /// anchors and its configured DS records not yet matched. A zone with neither stays, with
    /// an empty anchor.
    pub fn anchors(&self) -> TrustAnchors {
        let mut out = TrustAnchors::empty();
        for (zone, z) in &self.zones {
            out.insert(Anchor {
                zone: zone.clone(),
                ds: z.ds.clone(),
                dnskey: z
                    .keys
                    .iter()
                    .filter(|t| t.state.is_trusted())
                    .map(|t| t.dnskey.clone())
                    .collect(),
            });
        }
        out
    }

    /// The state file's text (see the module documentation).
    pub fn to_text(&self) -> String {
        let mut out = String::from(
            "; Portcullis trust anchor state (RFC 5011), rewritten by the server: stop it before \
             editing.\n\
             ; <zone> zone | <zone> ds <DS RDATA> | <zone> key <state> <since> <seen> <DNSKEY RDATA>\n",
        );
        for (zone, z) in &self.zones {
            let _ = writeln!(out, "{zone} zone");
            for ds in &z.ds {
                let _ = writeln!(out, "{zone} ds {}", rdata_text(RType::DS, ds));
            }
            for t in &z.keys {
                let when = if t.since == 0 {
                    "configured".to_owned()
                } else {
                    date(t.since)
                };
                let _ = writeln!(
                    out,
                    "{zone} key {} {} {} {} ; tag {}, {} since {when}",
                    t.state,
                    t.since,
                    t.seen,
                    rdata_text(RType::DNSKEY, &t.dnskey),
                    key_tag(&t.dnskey),
                    t.state,
                );
            }
        }
        out
    }

    /// Writes the state file: to a file beside it, then renamed over it, so that it is never
    /// seen half written.
    pub fn save(&self) -> io::Result<()> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(self.to_text().as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// When to check again after a successful check at `now` (seconds since 1970): `now` plus
    /// [`query_interval`].
    pub fn next_refresh(&self, ttl: u32, sig_expiry: u64, now: u64) -> u64 {
        now.saturating_add(query_interval(ttl, sig_expiry, now))
    }

    /// When to try again after a failed check at `now`: `now` plus [`retry_interval`].
    pub fn next_retry(&self, ttl: u32, sig_expiry: u64, now: u64) -> u64 {
        now.saturating_add(retry_interval(ttl, sig_expiry, now))
    }
}

// ---------------------------------------------------------------------------------------------
// The state file
// ---------------------------------------------------------------------------------------------

/// RDATA in presentation form.
fn rdata_text(rtype: RType, rdata: &[u8]) -> String {
    let mut s = String::new();
    if wire::rdata::to_text(rtype, rdata, &mut s).is_err() {
        wire::rdata::generic_to_text(rdata, &mut s);
    }
    s
}

/// `2026-11-27` for a time in seconds since 1970 (UTC).
fn date(unix: u64) -> String {
    let (year, month, day) = wire::rdata::civil_from_days((unix / DAY) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The line without its comment: from a `;` at the start or after a blank (a `;` inside a name
/// is escaped, `\;`).
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    let cut = (0..b.len()).find(|&i| b[i] == b';' && (i == 0 || b[i - 1].is_ascii_whitespace()));
    cut.map_or(line, |i| &line[..i])
}

fn parse_state(path: &Path, text: &str) -> Result<BTreeMap<Name, ZoneTrust>, AutoTrustError> {
    let mut zones: BTreeMap<Name, ZoneTrust> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let corrupt = |message: String| AutoTrustError::Corrupt {
            path: path.to_path_buf(),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            message,
        };
        let fields = Field::split(strip_comment(line));
        let [owner, kind, rest @ ..] = fields.as_slice() else {
            if fields.is_empty() {
                continue;
            }
            return Err(corrupt("expected `<zone> zone|ds|key ...`".into()));
        };
        let zone = Name::from_text(owner.text, Some(NameRef::ROOT))
            .map_err(|e| corrupt(format!("bad zone name: {e}")))?;
        let rdata = |rtype: RType, fields: &[Field<'_>]| {
            let mut out = Vec::new();
            wire::rdata::from_text(rtype, fields, NameRef::ROOT, &mut out)
                .map(|()| out)
                .map_err(|e| corrupt(format!("bad {rtype} RDATA: {e}")))
        };
        match kind.text {
            b"zone" if rest.is_empty() => {
                zones.entry(zone).or_default();
            }
            b"ds" => {
                let ds = rdata(RType::DS, rest)?;
                zones.entry(zone).or_default().ds.push(ds);
            }
            b"key" => {
                let [state, since, seen, key @ ..] = rest else {
                    return Err(corrupt(
                        "expected `key <state> <since> <seen> <DNSKEY RDATA>`".into(),
                    ));
                };
                let state = KeyState::from_name(state.text).ok_or_else(|| {
                    corrupt(format!(
                        "unknown key state `{}`: expected addpend, valid, missing, revoked or \
                         removed",
                        String::from_utf8_lossy(state.text)
                    ))
                })?;
                let time = |f: &Field<'_>, what: &str| {
                    std::str::from_utf8(f.text)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .ok_or_else(|| corrupt(format!("bad {what} time: expected seconds")))
                };
                let (since, seen) = (time(since, "since")?, time(seen, "seen")?);
                let dnskey = rdata(RType::DNSKEY, key)?;
                if flags(&dnskey) & FLAG_ZONE == 0 {
                    return Err(corrupt("the DNSKEY is not a zone key".into()));
                }
                zones.entry(zone).or_default().keys.push(TrackedKey {
                    dnskey,
                    state,
                    since,
                    seen,
                });
            }
            other => {
                return Err(corrupt(format!(
                    "expected `zone`, `ds` or `key`, not `{}`",
                    String::from_utf8_lossy(other)
                )));
            }
        }
    }
    Ok(zones)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    // RRsets are written as `&[a.clone(), b.clone()]`, one key or several alike.
    #![allow(clippy::cloned_ref_to_slice_refs)]

    use super::*;

    const T0: u64 = 1_800_000_000;

    /// A DNSKEY RDATA: `flags`, protocol 3, algorithm 8, a public key made from `seed`.
    fn key(flags: u16, seed: u8) -> Vec<u8> {
        let mut k = flags.to_be_bytes().to_vec();
        k.extend_from_slice(&[3, 8, 3, 1, 0, 1]);
        k.extend((0..64).map(|i: u8| i.wrapping_mul(seed).wrapping_add(seed)));
        k
    }

    fn revoked(k: &[u8]) -> Vec<u8> {
        let mut k = k.to_vec();
        k[1] |= FLAG_REVOKE as u8;
        k
    }

    fn ds_of(zone: NameRef<'_>, k: &[u8]) -> Vec<u8> {
        let digest = ds_digest(zone, k, 2).unwrap();
        let mut ds = key_tag(k).to_be_bytes().to_vec();
        ds.extend_from_slice(&[8, 2]);
        ds.extend_from_slice(&digest);
        ds
    }

    fn anchored(keys: &[&[u8]]) -> TrustAnchors {
        let mut a = TrustAnchors::empty();
        let mut anchor = Anchor::new(Name::root());
        anchor.dnskey = keys.iter().map(|k| k.to_vec()).collect();
        a.insert(anchor);
        a
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("autotrust-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("root.state")
    }

    fn state(at: &AutoTrust, k: &[u8]) -> Option<KeyState> {
        at.keys(NameRef::ROOT)
            .iter()
            .find(|t| same_key(&t.dnskey, k))
            .map(|t| t.state)
    }

    fn trusted(at: &AutoTrust) -> Vec<Vec<u8>> {
        at.anchors().get(NameRef::ROOT).unwrap().dnskey.clone()
    }

    const NOBODY: fn(&[u8]) -> bool = |_| false;

    #[test]
    fn a_new_key_is_trusted_after_30_days_of_presence() {
        let (old, new) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&temp("add"), &anchored(&[&old])).unwrap();
        assert!(at.observe(NameRef::ROOT, &[old.clone(), new.clone()], NOBODY, T0));
        assert_eq!(state(&at, &new), Some(KeyState::AddPend));
        assert_eq!(trusted(&at), [old.clone()]);
        // Seen again through the hold-down: still pending.
        for day in 1..30 {
            let now = T0 + day * DAY;
            assert!(!at.observe(NameRef::ROOT, &[old.clone(), new.clone()], NOBODY, now));
        }
        assert_eq!(state(&at, &new), Some(KeyState::AddPend));
        assert!(at.observe(
            NameRef::ROOT,
            &[old.clone(), new.clone()],
            NOBODY,
            T0 + ADD_HOLD_DOWN
        ));
        assert_eq!(state(&at, &new), Some(KeyState::Valid));
        assert_eq!(trusted(&at), [old, new]);
    }

    #[test]
    fn a_key_vanishing_before_the_hold_down_is_forgotten() {
        let (old, new) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&temp("vanish"), &anchored(&[&old])).unwrap();
        at.observe(NameRef::ROOT, &[old.clone(), new.clone()], NOBODY, T0);
        assert!(at.observe(NameRef::ROOT, &[old.clone()], NOBODY, T0 + 10 * DAY));
        assert_eq!(state(&at, &new), None);
        // It comes back: the hold-down starts again.
        at.observe(
            NameRef::ROOT,
            &[old.clone(), new.clone()],
            NOBODY,
            T0 + 20 * DAY,
        );
        at.observe(
            NameRef::ROOT,
            &[old.clone(), new.clone()],
            NOBODY,
            T0 + 31 * DAY,
        );
        assert_eq!(state(&at, &new), Some(KeyState::AddPend));
        at.observe(NameRef::ROOT, &[old, new.clone()], NOBODY, T0 + 50 * DAY);
        assert_eq!(state(&at, &new), Some(KeyState::Valid));
    }

    #[test]
    fn only_sep_zone_keys_become_candidates() {
        let old = key(257, 1);
        let zsk = key(256, 3);
        let not_zone = key(1, 4);
        let mut at = AutoTrust::load_or_init(&temp("sep"), &anchored(&[&old])).unwrap();
        assert!(!at.observe(NameRef::ROOT, &[old.clone(), zsk, not_zone], NOBODY, T0));
        assert_eq!(at.keys(NameRef::ROOT).len(), 1);
        // Another zone is not followed.
        let other: Name = "example.".parse().unwrap();
        assert!(!at.observe(other.as_ref(), &[key(257, 9)], NOBODY, T0));
    }

    #[test]
    fn a_self_signed_revocation_revokes_and_30_days_later_removes() {
        let (old, new) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&temp("revoke"), &anchored(&[&old, &new])).unwrap();
        let rev = revoked(&old);
        let rev_tag = key_tag(&rev);
        assert_ne!(rev_tag, key_tag(&old));
        // Published revoked but not signed by itself: nothing happens.
        assert!(!at.observe(NameRef::ROOT, &[rev.clone(), new.clone()], NOBODY, T0));
        assert_eq!(state(&at, &old), Some(KeyState::Valid));
        // Signed by itself, as published (the key tag counts the REVOKE flag).
        let signed = |k: &[u8]| key_tag(k) == rev_tag && flags(k) & FLAG_REVOKE != 0;
        assert!(at.observe(NameRef::ROOT, &[rev.clone(), new.clone()], signed, T0 + DAY));
        assert_eq!(state(&at, &old), Some(KeyState::Revoked));
        assert_eq!(trusted(&at), [new.clone()]);
        // The same key without the flag is not trusted again.
        at.observe(
            NameRef::ROOT,
            &[old.clone(), new.clone()],
            NOBODY,
            T0 + 2 * DAY,
        );
        assert_eq!(state(&at, &old), Some(KeyState::Revoked));
        assert!(at.observe(
            NameRef::ROOT,
            &[rev.clone(), new.clone()],
            signed,
            T0 + 31 * DAY
        ));
        assert_eq!(state(&at, &old), Some(KeyState::Removed));
        // Forgotten once no longer published.
        assert!(at.observe(NameRef::ROOT, &[new.clone()], NOBODY, T0 + 32 * DAY));
        assert_eq!(state(&at, &old), None);
        assert_eq!(trusted(&at), [new]);
    }

    #[test]
    fn a_pending_key_can_be_revoked() {
        let (old, new) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&temp("revpend"), &anchored(&[&old])).unwrap();
        at.observe(NameRef::ROOT, &[old.clone(), new.clone()], NOBODY, T0);
        at.observe(NameRef::ROOT, &[old, revoked(&new)], |_| true, T0 + DAY);
        assert_eq!(state(&at, &new), Some(KeyState::Revoked));
    }

    #[test]
    fn missing_keys_stay_trusted_until_they_return() {
        let (a, b) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&temp("missing"), &anchored(&[&a, &b])).unwrap();
        assert!(at.observe(NameRef::ROOT, &[a.clone()], NOBODY, T0));
        assert_eq!(state(&at, &b), Some(KeyState::Missing));
        assert_eq!(trusted(&at).len(), 2);
        assert!(at.observe(NameRef::ROOT, &[a, b.clone()], NOBODY, T0 + DAY));
        assert_eq!(state(&at, &b), Some(KeyState::Valid));
    }

    #[test]
    fn configured_ds_becomes_the_key_it_matches() {
        let (k2017, k2024) = (key(257, 1), key(257, 2));
        let mut initial = TrustAnchors::empty();
        let mut root = Anchor::new(Name::root());
        root.ds = vec![ds_of(NameRef::ROOT, &k2017), ds_of(NameRef::ROOT, &k2024)];
        initial.insert(root);
        let mut at = AutoTrust::load_or_init(&temp("ds"), &initial).unwrap();
        assert_eq!(at.anchors(), initial);
        // Only the first key is published: it is trusted at once, the other DS stays.
        assert!(at.observe(NameRef::ROOT, &[k2017.clone()], NOBODY, T0));
        assert_eq!(state(&at, &k2017), Some(KeyState::Valid));
        let anchor = at.anchors().get(NameRef::ROOT).unwrap().clone();
        assert_eq!(anchor.dnskey, [k2017.clone()]);
        assert_eq!(anchor.ds, [ds_of(NameRef::ROOT, &k2024)]);
        // The second appears: trusted by its DS, no hold-down.
        assert!(at.observe(NameRef::ROOT, &[k2017, k2024.clone()], NOBODY, T0 + DAY));
        assert_eq!(state(&at, &k2024), Some(KeyState::Valid));
        assert!(at.anchors().get(NameRef::ROOT).unwrap().ds.is_empty());
    }

    #[test]
    fn revoking_every_key_leaves_an_empty_anchor() {
        let only = key(257, 1);
        let mut at = AutoTrust::load_or_init(&temp("all"), &anchored(&[&only])).unwrap();
        at.observe(NameRef::ROOT, &[revoked(&only)], |_| true, T0);
        let anchors = at.anchors();
        let root = anchors.closest(NameRef::ROOT).unwrap();
        assert!(root.dnskey.is_empty() && root.ds.is_empty());
    }

    #[test]
    fn state_survives_save_and_load() {
        let path = temp("save");
        let (old, new) = (key(257, 1), key(257, 2));
        let mut ds_only = Anchor::new("example.".parse().unwrap());
        ds_only.ds.push(ds_of(ds_only.zone.as_ref(), &key(257, 7)));
        let mut initial = anchored(&[&old]);
        initial.insert(ds_only);
        let mut at = AutoTrust::load_or_init(&path, &initial).unwrap();
        at.observe(NameRef::ROOT, &[old.clone(), new.clone()], NOBODY, T0);
        at.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(". key addpend 1800000000 1800000000 257 3 8 "),
            "{text}"
        );
        assert!(text.contains("since 2027-01-15"), "{text}");
        assert!(text.contains("example. ds "), "{text}");
        let back = AutoTrust::load_or_init(&path, &initial).unwrap();
        assert_eq!(back, at);
        // The hold-down goes on from the saved time.
        let mut back = back;
        back.observe(
            NameRef::ROOT,
            &[old, new.clone()],
            NOBODY,
            T0 + ADD_HOLD_DOWN,
        );
        assert_eq!(state(&back, &new), Some(KeyState::Valid));
        assert!(!path.with_extension("state.tmp").exists());
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn the_file_decides_for_the_zones_it_lists() {
        let path = temp("decides");
        let (a, b) = (key(257, 1), key(257, 2));
        let mut at = AutoTrust::load_or_init(&path, &anchored(&[&a])).unwrap();
        at.observe(NameRef::ROOT, &[revoked(&a)], |_| true, T0);
        at.save().unwrap();
        // Configured anchors for the root do not bring the revoked key back.
        let again = AutoTrust::load_or_init(&path, &anchored(&[&a, &b])).unwrap();
        assert_eq!(state(&again, &a), Some(KeyState::Revoked));
        assert!(trusted(&again).is_empty());
        // A zone no longer configured is dropped; a new one starts from its anchors.
        let mut other = Anchor::new("example.".parse().unwrap());
        other.dnskey.push(b.clone());
        let mut initial = TrustAnchors::empty();
        initial.insert(other);
        let moved = AutoTrust::load_or_init(&path, &initial).unwrap();
        assert_eq!(moved.zones().count(), 1);
        assert_eq!(moved.anchors(), initial);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn text_reads_back_to_the_same_state() {
        let (old, new) = (key(257, 1), key(257, 2));
        let mut at =
            AutoTrust::load_or_init(Path::new("/nonexistent/x"), &anchored(&[&old])).unwrap();
        at.observe(NameRef::ROOT, &[revoked(&old), new.clone()], |_| true, T0);
        let text = at.to_text();
        let back = AutoTrust::from_text(Path::new("/nonexistent/x"), &text).unwrap();
        assert_eq!(back, at);
        assert_eq!(back.to_text(), text);
        let err = AutoTrust::from_text(Path::new("s"), ". key valid 0 0 1 3 8 AwEAAQ==\n");
        assert!(err.unwrap_err().to_string().starts_with("s:1: "));
    }

    #[test]
    fn a_corrupt_file_names_path_and_line() {
        let path = temp("corrupt");
        let good = format!(
            "; comment\n\n. zone\n. key valid 0 0 {} ; tag\n",
            rdata_text(RType::DNSKEY, &key(257, 1))
        );
        std::fs::write(&path, &good).unwrap();
        assert!(AutoTrust::load_or_init(&path, &anchored(&[])).is_ok());
        for (bad, message) in [
            (". key valid soon 0 257 3 8 AwEAAQ==", "bad since time"),
            (
                ". key trusted 0 0 257 3 8 AwEAAQ==",
                "unknown key state `trusted`",
            ),
            (". key valid 0 0 257 3 8 !!", "bad DNSKEY RDATA"),
            (". key valid 0 0 1 3 8 AwEAAQ==", "not a zone key"),
            (". ds 1 8 2 zz", "bad DS RDATA"),
            (". anchor", "expected `zone`, `ds` or `key`"),
            ("lonely", "expected `<zone>"),
            ("bad..name zone", "bad zone name"),
        ] {
            std::fs::write(&path, format!("{good}{bad}\n")).unwrap();
            let err = AutoTrust::load_or_init(&path, &anchored(&[])).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with(&format!("{}:5: ", path.display())),
                "{text}"
            );
            assert!(text.contains(message), "{text}");
        }
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_missing_file_starts_from_the_configuration() {
        let at = AutoTrust::load_or_init(
            Path::new("/nonexistent/dir/state"),
            &TrustAnchors::builtin_root(),
        )
        .unwrap();
        assert_eq!(at.anchors(), TrustAnchors::builtin_root());
        assert!(at.save().is_err());
        let dir = temp("unreadable");
        let err = AutoTrust::load_or_init(dir.parent().unwrap(), &anchored(&[])).unwrap_err();
        assert!(matches!(err, AutoTrustError::Read { .. }), "{err}");
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn refresh_timers_follow_rfc_5011_section_2_3() {
        let at = AutoTrust::load_or_init(Path::new("/nonexistent/x"), &anchored(&[])).unwrap();
        // The root: TTL 2 days, signatures valid 10 more days: half the TTL, one day.
        assert_eq!(query_interval(172_800, T0 + 10 * DAY, T0), DAY);
        assert_eq!(at.next_refresh(172_800, T0 + 10 * DAY, T0), T0 + DAY);
        // Signatures expiring sooner: half of what is left.
        assert_eq!(query_interval(172_800, T0 + 8 * HOUR, T0), 4 * HOUR);
        // Never less than an hour, never more than 15 days.
        assert_eq!(query_interval(60, T0 + 100 * DAY, T0), HOUR);
        assert_eq!(query_interval(u32::MAX, T0 + 100 * DAY, T0), 15 * DAY);
        assert_eq!(query_interval(172_800, T0 - 1, T0), HOUR);
        // Retries: a tenth, between an hour and a day.
        assert_eq!(retry_interval(172_800, T0 + 10 * DAY, T0), 17_280);
        assert_eq!(retry_interval(u32::MAX, T0 + 100 * DAY, T0), DAY);
        assert_eq!(retry_interval(600, T0 + 100 * DAY, T0), HOUR);
        assert_eq!(at.next_retry(600, T0 + DAY, T0), T0 + HOUR);
    }

    #[test]
    fn dates_for_people() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_764_201_600), "2025-11-27");
        assert_eq!(strip_comment("a b ; c"), "a b ");
        assert_eq!(strip_comment("a\\;b c"), "a\\;b c");
    }

    #[test]
    fn the_number_of_keys_is_bounded() {
        let old = key(257, 1);
        let mut at = AutoTrust::load_or_init(&temp("bound"), &anchored(&[&old])).unwrap();
        let flood: Vec<Vec<u8>> = (2..200).map(|i| key(257, i)).collect();
        at.observe(NameRef::ROOT, &flood, NOBODY, T0);
        assert_eq!(at.keys(NameRef::ROOT).len(), MAX_KEYS_PER_ZONE);
    }
}
