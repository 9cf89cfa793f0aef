//! The keys of a signed zone and their timeline, kept in the key directory.
//!
//! Each key is a pair of BIND key files (`K<zone>+<alg>+<tag>.key` and `.private`, see
//! [`dnssec::keyfile`]). Beside them, one text file per zone, `<zone>.state` (`root.state` for
//! the root zone), records what each key does and when:
//!
//! ```text
//! # Portcullis key state for example.test.
//! # key role created published active retired removed ds
//! Kexample.test.+013+01234 csk 20261127090000 20261127090000 20261127090000 - - wait
//! ```
//!
//! - `role`: `csk` (signs everything), `ksk` (signs DNSKEY, CDS, CDNSKEY) or `zsk` (signs the
//!   rest);
//! - times (UTC, `YYYYMMDDHHMMSS`, `-` for not yet): `created`; `published` (in the DNSKEY
//!   RRset from then); `active` (signs from then); `retired` (stops signing then); `removed`
//!   (leaves the DNSKEY RRset then);
//! - `ds`: for a KSK or CSK, `wait` while the parent has no DS for it (CDS and CDNSKEY records
//!   are published for it meanwhile, RFC 7344), `seen` once it has (`portcullis dnssec
//!   ds-seen ZONE`, or a DS query to `signing.parent_servers`); `-` for a ZSK.
//!
//! [`KeyRing::load`] reads both, adds keys found as files but not in the state (imported keys:
//! published and active at once, their DS taken as present), makes the first keys of a zone
//! when there are none, and runs the rollovers ([`KeyRing::roll`]). Everything takes `now`, so
//! tests move time forward instead of waiting.
//!
//! # Rollovers
//!
//! - **ZSK, pre-publication** (RFC 6781 section 4.1.1.1): when the active ZSK has signed for
//!   `zsk_lifetime`, a new ZSK is published; it becomes active (and the old one retires) once
//!   the DNSKEY RRset with it has reached every cache: DNSKEY TTL plus `propagation_delay`.
//!   The old key stays published until the signatures it made have expired from caches (the
//!   zone's largest TTL plus `propagation_delay`), then is removed.
//! - **KSK or CSK, double signature** (RFC 6781 section 4.1.2): when the active key has signed
//!   for `ksk_lifetime`, a new key of the same role is published and signs at once beside the
//!   old one, with CDS and CDNSKEY records for it. When its DS is seen at the parent, the old
//!   key retires; it is removed after the zone's largest TTL plus `propagation_delay`.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use dnssec::keyfile;
use dnssec::{KeyUse, ZoneKey};
use wire::Name;

use crate::config::signing::{KeyLayout, SigningSettings};

/// What a key signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Csk,
    /// DNSKEY, CDS and CDNSKEY.
    Ksk,
    /// Everything else.
    Zsk,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Csk => "csk",
            Role::Ksk => "ksk",
            Role::Zsk => "zsk",
        }
    }

    /// Whether the key's DS goes to the parent.
    pub fn is_sep(self) -> bool {
        self != Role::Zsk
    }
}

/// Whether the parent has a DS for a KSK or CSK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsState {
    /// Not a KSK or CSK.
    None,
    /// Not yet: CDS and CDNSKEY are published.
    Wait,
    /// The parent has it.
    Seen,
}

/// One key's line of the state file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEntry {
    /// The key files' base name, `K<zone>+<alg>+<tag>`.
    pub base: String,
    /// What it signs.
    pub role: Role,
    /// When it was made.
    pub created: u64,
    /// In the DNSKEY RRset from then.
    pub published: Option<u64>,
    /// Signs from then.
    pub active: Option<u64>,
    /// Stops signing then.
    pub retired: Option<u64>,
    /// Leaves the DNSKEY RRset then.
    pub removed: Option<u64>,
    /// The parent's DS.
    pub ds: DsState,
}

impl KeyEntry {
    /// In the DNSKEY RRset at `now`.
    pub fn is_published(&self, now: u64) -> bool {
        self.published.is_some_and(|t| t <= now) && self.removed.is_none_or(|t| now < t)
    }

    /// Signs at `now`.
    pub fn is_active(&self, now: u64) -> bool {
        self.active.is_some_and(|t| t <= now) && self.retired.is_none_or(|t| now < t)
    }

    /// A word for `portcullis dnssec status`.
    pub fn state(&self, now: u64) -> &'static str {
        if self.removed.is_some_and(|t| t <= now) {
            "removed"
        } else if self.retired.is_some_and(|t| t <= now) {
            "retired"
        } else if self.is_active(now) {
            "active"
        } else if self.is_published(now) {
            "published"
        } else {
            "created"
        }
    }
}

/// An error with the key directory.
#[derive(Debug)]
pub struct KeyRingError(pub String);

impl fmt::Display for KeyRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyRingError {}

fn err(message: impl Into<String>) -> KeyRingError {
    KeyRingError(message.into())
}

/// The state file of `zone` in `dir`.
pub fn state_path(dir: &Path, zone: &Name) -> PathBuf {
    let mut zone = zone.clone();
    zone.make_lowercase();
    let text = zone.to_string();
    let text = text.trim_end_matches('.');
    let stem = if text.is_empty() { "root" } else { text };
    dir.join(format!("{stem}.state"))
}

fn time_text(t: Option<u64>) -> String {
    t.map_or_else(|| "-".to_owned(), keyfile::timestamp)
}

/// Reads `YYYYMMDDHHMMSS` (UTC) or `-`.
fn parse_time(text: &str) -> Result<Option<u64>, String> {
    if text == "-" {
        return Ok(None);
    }
    let digits = |r: std::ops::Range<usize>| -> Result<i64, String> {
        text.get(r)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("`{text}` is not a time (YYYYMMDDHHMMSS or -)"))
    };
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a time (YYYYMMDDHHMMSS or -)"));
    }
    let (y, m, d) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hh, mm, ss) = (digits(8..10)?, digits(10..12)?, digits(12..14)?);
    // Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let t = days * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(t)
        .map(Some)
        .map_err(|_| format!("`{text}` is before 1970"))
}

/// Parses a state file's text.
pub fn parse_state(text: &str) -> Result<Vec<KeyEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |m: String| format!("line {}: {m}", i + 1);
        let f: Vec<&str> = line.split_whitespace().collect();
        let [base, role, created, published, active, retired, removed, ds] = f[..] else {
            return Err(at(format!("{} fields, 8 expected", f.len())));
        };
        let role = match role {
            "csk" => Role::Csk,
            "ksk" => Role::Ksk,
            "zsk" => Role::Zsk,
            other => return Err(at(format!("role `{other}`: csk, ksk or zsk"))),
        };
        let ds = match ds {
            "-" => DsState::None,
            "wait" => DsState::Wait,
            "seen" => DsState::Seen,
            other => return Err(at(format!("ds `{other}`: wait, seen or -"))),
        };
        out.push(KeyEntry {
            base: base.to_owned(),
            role,
            created: parse_time(created).map_err(at)?.unwrap_or(0),
            published: parse_time(published).map_err(at)?,
            active: parse_time(active).map_err(at)?,
            retired: parse_time(retired).map_err(at)?,
            removed: parse_time(removed).map_err(at)?,
            ds,
        });
    }
    Ok(out)
}

/// The state file's text.
pub fn format_state(zone: &Name, entries: &[KeyEntry]) -> String {
    let mut out = format!(
        "# Portcullis key state for {zone} (docs/OPERATIONS.md, \"Signing zones\")\n\
         # key role created published active retired removed ds\n"
    );
    for e in entries {
        out.push_str(&format!(
            "{} {} {} {} {} {} {} {}\n",
            e.base,
            e.role.name(),
            keyfile::timestamp(e.created),
            time_text(e.published),
            time_text(e.active),
            time_text(e.retired),
            time_text(e.removed),
            match e.ds {
                DsState::None => "-",
                DsState::Wait => "wait",
                DsState::Seen => "seen",
            }
        ));
    }
    out
}

/// Creates the key directory when missing, readable by its owner only.
pub fn ensure_dir(dir: &Path) -> Result<(), KeyRingError> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            err(format!(
                "{}: cannot create the key directory: {e}",
                dir.display()
            ))
        })
}

/// The keys of one zone with their state.
#[derive(Debug)]
pub struct KeyRing {
    /// The zone.
    pub zone: Name,
    /// The key directory.
    pub dir: PathBuf,
    /// The state, one entry per key.
    pub entries: Vec<KeyEntry>,
    /// The keys by base name (removed keys whose files are gone are absent).
    pub keys: HashMap<String, ZoneKey>,
}

impl KeyRing {
    /// Reads the keys and state of `zone` in `dir` without changing anything.
    pub fn read(dir: &Path, zone: &Name) -> Result<KeyRing, KeyRingError> {
        let path = state_path(dir, zone);
        let mut entries = match fs::read_to_string(&path) {
            Ok(text) => parse_state(&text).map_err(|m| err(format!("{}: {m}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(err(format!("{}: {e}", path.display()))),
        };
        let mut keys = HashMap::new();
        if dir.is_dir() {
            for (base, loaded) in keyfile::read_dir(dir).map_err(|e| err(e.to_string()))? {
                if loaded.zone != *zone {
                    continue;
                }
                let name = base
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                keys.insert(name, loaded.key);
            }
        }
        // Keys in files but not in the state: imported, in use at once.
        let mut new: Vec<&String> = keys
            .keys()
            .filter(|b| !entries.iter().any(|e| &e.base == *b))
            .collect();
        new.sort();
        let any_zsk = keys.values().any(|k| !k.is_sep());
        for base in new {
            let sep = keys.get(base).is_some_and(ZoneKey::is_sep);
            let role = match (sep, any_zsk) {
                (false, _) => Role::Zsk,
                (true, true) => Role::Ksk,
                (true, false) => Role::Csk,
            };
            entries.push(KeyEntry {
                base: base.clone(),
                role,
                created: 0,
                published: Some(0),
                active: Some(0),
                retired: None,
                removed: None,
                ds: if sep { DsState::Seen } else { DsState::None },
            });
        }
        Ok(KeyRing {
            zone: zone.clone(),
            dir: dir.to_owned(),
            entries,
            keys,
        })
    }

    /// Reads the keys of `zone`, makes the first ones when there are none (as `settings` say),
    /// runs the rollovers due at `now` ([`KeyRing::roll`]; `max_ttl` is the zone's largest
    /// TTL) and saves the state when anything changed.
    pub fn load(
        settings: &SigningSettings,
        zone: &Name,
        now: u64,
        max_ttl: u32,
        dnskey_ttl: u32,
    ) -> Result<KeyRing, KeyRingError> {
        let dir = &settings.key_dir;
        ensure_dir(dir)?;
        let mut ring = KeyRing::read(dir, zone)?;
        let before = ring.entries.clone();
        for e in &ring.entries {
            if !ring.keys.contains_key(&e.base) && e.removed.is_none_or(|t| t > now) {
                return Err(err(format!(
                    "{}: key {} is in use but its files are missing from {}",
                    zone,
                    e.base,
                    dir.display()
                )));
            }
        }
        let usable = ring
            .entries
            .iter()
            .any(|e| e.removed.is_none_or(|t| now < t));
        if !usable {
            match settings.layout {
                KeyLayout::Csk => {
                    ring.generate(settings.algorithm, Role::Csk, now, Some(now))?;
                }
                KeyLayout::KskZsk => {
                    ring.generate(settings.algorithm, Role::Ksk, now, Some(now))?;
                    ring.generate(settings.algorithm, Role::Zsk, now, Some(now))?;
                }
            }
        }
        if !settings.parent_servers.is_empty() && ring.entries.iter().any(|e| e.ds == DsState::Wait)
        {
            ring.check_parent(&settings.parent_servers);
        }
        ring.roll(settings, now, max_ttl, dnskey_ttl)?;
        if ring.entries != before {
            ring.save()?;
        }
        Ok(ring)
    }

    /// Makes a key of `role` and `algorithm`, published at `now` and active at `active`.
    fn generate(
        &mut self,
        algorithm: dnssec::Algorithm,
        role: Role,
        now: u64,
        active: Option<u64>,
    ) -> Result<String, KeyRingError> {
        let key = ZoneKey::generate(algorithm, role.is_sep())
            .map_err(|e| err(format!("{}: cannot make a key: {e}", self.zone)))?;
        let base =
            keyfile::write(&self.dir, &self.zone, &key, now).map_err(|e| err(e.to_string()))?;
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        tracing::info!(zone = %self.zone, key = %name, role = role.name(), "made a signing key");
        self.entries.push(KeyEntry {
            base: name.clone(),
            role,
            created: now,
            published: Some(now),
            active,
            retired: None,
            removed: None,
            ds: if role.is_sep() {
                DsState::Wait
            } else {
                DsState::None
            },
        });
        self.keys.insert(name.clone(), key);
        Ok(name)
    }

    /// Writes the state file (atomically: a new file renamed over the old).
    pub fn save(&self) -> Result<(), KeyRingError> {
        let path = state_path(&self.dir, &self.zone);
        let tmp = path.with_extension("state.new");
        fs::write(&tmp, format_state(&self.zone, &self.entries))
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| err(format!("{}: {e}", path.display())))
    }

    /// Moves the rollovers forward at `now` (see the module docs). Returns whether anything
    /// changed.
    pub fn roll(
        &mut self,
        settings: &SigningSettings,
        now: u64,
        max_ttl: u32,
        dnskey_ttl: u32,
    ) -> Result<bool, KeyRingError> {
        let linger = u64::from(max_ttl.max(dnskey_ttl)) + u64::from(settings.propagation_delay);
        let prepublish = u64::from(dnskey_ttl) + u64::from(settings.propagation_delay);
        let mut changed = false;

        // ZSK: start a rollover when the newest active ZSK is old enough and none is pending.
        if settings.zsk_lifetime > 0 {
            let active: Vec<usize> = self.live(Role::Zsk, now);
            let pending = self.entries.iter().any(|e| {
                e.role == Role::Zsk && e.retired.is_none() && e.active.is_some_and(|t| t > now)
            });
            if let Some(&newest) = active.last()
                && !pending
                && self.entries[newest]
                    .active
                    .is_some_and(|t| now >= t + u64::from(settings.zsk_lifetime))
            {
                let at = now + prepublish;
                // The successor keeps the algorithm (an algorithm change is not a rollover).
                let algorithm = self.algorithm_of(newest).unwrap_or(settings.algorithm);
                self.generate(algorithm, Role::Zsk, now, Some(at))?;
                for &i in &active {
                    self.entries[i].retired = Some(at);
                    self.entries[i].removed = Some(at + linger);
                }
                tracing::info!(zone = %self.zone, "ZSK rollover started");
                changed = true;
            }
        }

        // KSK or CSK: start a rollover when the newest signing key is old enough.
        for role in [Role::Ksk, Role::Csk] {
            if settings.ksk_lifetime == 0 {
                break;
            }
            let live = self.live(role, now);
            let rolling =
                live.iter().any(|&i| self.entries[i].ds == DsState::Wait) && live.len() > 1;
            if let Some(&newest) = live.last()
                && !rolling
                && self.entries[newest]
                    .active
                    .is_some_and(|t| now >= t + u64::from(settings.ksk_lifetime))
            {
                let algorithm = self.algorithm_of(newest).unwrap_or(settings.algorithm);
                self.generate(algorithm, role, now, Some(now))?;
                tracing::info!(zone = %self.zone, role = role.name(), "key rollover started: waiting for the new DS at the parent");
                changed = true;
            }
        }

        // A new KSK or CSK whose DS is seen: the older ones of its role retire.
        for role in [Role::Ksk, Role::Csk] {
            let live = self.live(role, now);
            let Some(&newest) = live.last() else { continue };
            if live.len() > 1 && self.entries[newest].ds == DsState::Seen {
                for &i in &live[..live.len() - 1] {
                    self.entries[i].retired = Some(now);
                    self.entries[i].removed = Some(now + linger);
                }
                tracing::info!(zone = %self.zone, role = role.name(), "new DS seen: the old key retires");
                changed = true;
            }
        }
        Ok(changed)
    }

    /// Indices of the keys of `role` that are active at `now` or will be (not retired), oldest
    /// first.
    fn live(&self, role: Role, now: u64) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.entries.len())
            .filter(|&i| {
                let e = &self.entries[i];
                e.role == role
                    && e.active.is_some_and(|t| t <= now)
                    && e.retired.is_none_or(|t| now < t)
            })
            .collect();
        v.sort_by_key(|&i| (self.entries[i].active, self.entries[i].created));
        v
    }

    /// The algorithm of entry `i`'s key.
    fn algorithm_of(&self, i: usize) -> Option<dnssec::Algorithm> {
        let e = self.entries.get(i)?;
        self.keys.get(&e.base).map(|k| k.pair.algorithm())
    }

    /// Whether a KSK or CSK in use waits for its DS at the parent.
    pub fn waits_for_ds(&self, now: u64) -> bool {
        self.entries
            .iter()
            .any(|e| e.ds == DsState::Wait && e.is_published(now) && e.retired.is_none())
    }

    /// Marks every KSK and CSK waiting for its DS as seen. Returns how many.
    pub fn ds_seen(&mut self) -> usize {
        let mut n = 0;
        for e in &mut self.entries {
            if e.ds == DsState::Wait {
                e.ds = DsState::Seen;
                n += 1;
            }
        }
        n
    }

    /// Asks each of `servers` (the parent zone's) for the zone's DS RRset and marks as seen
    /// every waiting key whose DS (any digest type Portcullis computes) is in an answer. One UDP
    /// query per server, two seconds each at most; failures leave the state as it is.
    pub fn check_parent(&mut self, servers: &[std::net::SocketAddr]) {
        let mut found: Vec<Vec<u8>> = Vec::new();
        for &server in servers {
            match query_ds(server, &self.zone) {
                Ok(rdatas) => found.extend(rdatas),
                Err(e) => tracing::warn!(zone = %self.zone, %server, "DS query failed: {e}"),
            }
        }
        for e in &mut self.entries {
            if e.ds != DsState::Wait {
                continue;
            }
            let Some(key) = self.keys.get(&e.base) else {
                continue;
            };
            let dnskey = key.dnskey();
            let tag = key.key_tag().to_be_bytes();
            let seen = found.iter().any(|ds| {
                ds.len() > 4
                    && ds[..2] == tag
                    && ds[2] == key.pair.algorithm().number()
                    && dnssec::ds_digest(self.zone.as_ref(), &dnskey, ds[3])
                        .is_ok_and(|d| d == ds[4..])
            });
            if seen {
                tracing::info!(zone = %self.zone, key = %e.base, "DS seen at the parent");
                e.ds = DsState::Seen;
            }
        }
    }

    /// What each key does at `now`, for [`dnssec::sign_zone`].
    pub fn uses(&self, now: u64) -> Vec<KeyUse<'_>> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Some(key) = self.keys.get(&e.base) else {
                continue;
            };
            let publish = e.is_published(now);
            let active = publish && e.is_active(now);
            out.push(KeyUse {
                key,
                publish,
                sign_zone: active && matches!(e.role, Role::Csk | Role::Zsk),
                sign_keys: active && matches!(e.role, Role::Csk | Role::Ksk),
                cds: publish && e.role.is_sep() && e.ds == DsState::Wait && e.retired.is_none(),
            });
        }
        out.retain(|u| u.publish);
        out
    }

    /// The next time a key changes state after `now` (a pending activation, retirement or
    /// removal), when there is one.
    pub fn next_event(&self, now: u64) -> Option<u64> {
        self.entries
            .iter()
            .flat_map(|e| [e.published, e.active, e.retired, e.removed])
            .flatten()
            .filter(|&t| t > now)
            .min()
    }

    /// The DS records (digest SHA-256) of the KSKs and CSKs published at `now`, in zone-file
    /// form.
    pub fn ds_records(&self, now: u64) -> Vec<String> {
        let mut out = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| e.role.is_sep() && e.is_published(now))
        {
            let Some(key) = self.keys.get(&e.base) else {
                continue;
            };
            let Ok(digest) = dnssec::ds_digest(self.zone.as_ref(), &key.dnskey(), 2) else {
                continue;
            };
            let mut hex = String::new();
            wire::rdata::write_hex(&digest, &mut hex);
            out.push(format!(
                "{} IN DS {} {} 2 {}",
                self.zone,
                key.key_tag(),
                key.pair.algorithm().number(),
                hex.to_uppercase()
            ));
        }
        out
    }
}

/// The DS RDATAs in `server`'s answer to `zone DS` (RD off; UDP, two-second timeout).
fn query_ds(server: std::net::SocketAddr, zone: &Name) -> Result<Vec<Vec<u8>>, String> {
    use wire::message::{Flags, Header, Section};
    use wire::writer::MessageWriter;
    use wire::{Class, Message, RType};
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
    let id = u16::from_be_bytes(id);
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default(),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).map_err(|e| e.to_string())?;
    w.push_question(zone.as_ref(), RType::DS, Class::IN)
        .map_err(|e| e.to_string())?;
    let query = w.finish().to_vec();
    let local = if server.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let socket = std::net::UdpSocket::bind(local).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    socket.send(&query).map_err(|e| e.to_string())?;
    let mut answer = vec![0u8; 4096];
    // A few stray datagrams at most; each must match the query's ID.
    for _ in 0..4 {
        let n = socket.recv(&mut answer).map_err(|e| e.to_string())?;
        let Ok(m) = Message::parse(&answer[..n]) else {
            continue;
        };
        if m.header().id != id {
            continue;
        }
        let mut out = Vec::new();
        for r in m.records(Section::Answer) {
            if r.rtype == RType::DS && r.owner_is(zone.as_ref()) {
                out.push(r.raw_rdata().to_vec());
            }
        }
        return Ok(out);
    }
    Err("no matching answer".into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn times_round_trip() {
        for t in [0, 951_782_400 + 3661, 1_800_000_000] {
            assert_eq!(parse_time(&keyfile::timestamp(t)), Ok(Some(t)));
        }
        assert_eq!(parse_time("-"), Ok(None));
        assert!(parse_time("2026").is_err());
    }

    #[test]
    fn state_round_trips() {
        let zone: Name = "example.test.".parse().unwrap();
        let entries = vec![KeyEntry {
            base: "Kexample.test.+013+00001".into(),
            role: Role::Ksk,
            created: 1_800_000_000,
            published: Some(1_800_000_000),
            active: Some(1_800_003_600),
            retired: None,
            removed: None,
            ds: DsState::Wait,
        }];
        let text = format_state(&zone, &entries);
        assert_eq!(parse_state(&text).unwrap(), entries);
        assert_eq!(
            state_path(Path::new("/k"), &zone),
            Path::new("/k/example.test.state")
        );
        assert_eq!(
            state_path(Path::new("/k"), &Name::root()),
            Path::new("/k/root.state")
        );
        assert!(parse_state("K a b").is_err());
    }
}
