//! `portcullis dnssec`: the signing keys of the key directory, read and changed directly (the
//! server need not run). A running server picks changes up on `portcullis ctl reload`, and a
//! DS seen within the hour anyway: it looks at the key state hourly while a key waits.
//!
//! - `ds ZONE`: the DS records (SHA-256) of the zone's published KSKs and CSKs, for the parent;
//! - `status [ZONE]`: every key with its role, state and times;
//! - `import ZONE FILE...`: copies BIND or ldns key files (algorithms 8, 13 and 15) into the
//!   key directory, in use at once, their DS taken as already at the parent;
//! - `ds-seen ZONE`: records that the parent now has the DS of the keys waiting for it (a KSK
//!   or CSK rollover then goes on).

use std::path::{Path, PathBuf};

use dnssec::keyfile;
use wire::Name;

use crate::keystate::{DsState, KeyEntry, KeyRing, Role, ensure_dir};

/// `ds ZONE`: one DS record per line.
pub fn ds(dir: &Path, zone: &Name, now: u64) -> Result<String, String> {
    let ring = KeyRing::read(dir, zone).map_err(|e| e.to_string())?;
    let records = ring.ds_records(now);
    if records.is_empty() {
        return Err(format!(
            "{zone}: no key-signing key in {} (start the server with the zone signed first)",
            dir.display()
        ));
    }
    Ok(records.join("\n"))
}

/// The zones with a state file in `dir`.
fn zones_in(dir: &Path) -> Result<Vec<Name>, String> {
    let mut zones = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".state") {
            let text = if stem == "root" { "." } else { stem };
            if let Ok(zone) = text.parse::<Name>() {
                zones.push(zone);
            }
        }
    }
    zones.sort();
    Ok(zones)
}

fn when(t: Option<u64>) -> String {
    t.map_or_else(|| "-".to_owned(), keyfile::timestamp)
}

/// `status [ZONE]`: a table of keys per zone.
pub fn status(dir: &Path, zone: Option<&Name>, now: u64) -> Result<String, String> {
    let zones = match zone {
        Some(z) => vec![z.clone()],
        None => zones_in(dir)?,
    };
    if zones.is_empty() {
        return Ok(format!("no signed zone in {}", dir.display()));
    }
    let mut out = String::new();
    for zone in zones {
        let ring = KeyRing::read(dir, &zone).map_err(|e| e.to_string())?;
        out.push_str(&format!("{zone}\n"));
        out.push_str("  tag   alg role state     published      active         retired        removed        ds\n");
        for e in &ring.entries {
            let (tag, alg) = ring
                .keys
                .get(&e.base)
                .map_or((0, 0), |k| (k.key_tag(), k.pair.algorithm().number()));
            out.push_str(&format!(
                "  {tag:<5} {alg:<3} {:<4} {:<9} {:<14} {:<14} {:<14} {:<14} {}\n",
                match e.role {
                    Role::Csk => "csk",
                    Role::Ksk => "ksk",
                    Role::Zsk => "zsk",
                },
                e.state(now),
                when(e.published),
                when(e.active),
                when(e.retired),
                when(e.removed),
                match e.ds {
                    DsState::None => "-",
                    DsState::Wait => "wait",
                    DsState::Seen => "seen",
                }
            ));
        }
    }
    Ok(out.trim_end().to_owned())
}

/// `import ZONE FILE...`: copies the keys into `dir` and adds them to the zone's state.
pub fn import(dir: &Path, zone: &Name, files: &[PathBuf], now: u64) -> Result<String, String> {
    ensure_dir(dir).map_err(|e| e.to_string())?;
    let mut ring = KeyRing::read(dir, zone).map_err(|e| e.to_string())?;
    let mut loaded = Vec::new();
    for file in files {
        let key = keyfile::read(file).map_err(|e| e.to_string())?;
        if key.zone != *zone {
            return Err(format!(
                "{}: the key is for {}, not {zone}",
                file.display(),
                key.zone
            ));
        }
        loaded.push(key.key);
    }
    let any_zsk = loaded.iter().any(|k| !k.is_sep())
        || ring
            .entries
            .iter()
            .any(|e| e.role == Role::Zsk && e.retired.is_none());
    let mut out = Vec::new();
    for key in loaded {
        let base = keyfile::write(dir, zone, &key, now).map_err(|e| e.to_string())?;
        let name = base
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let role = match (key.is_sep(), any_zsk) {
            (false, _) => Role::Zsk,
            (true, true) => Role::Ksk,
            (true, false) => Role::Csk,
        };
        ring.entries.retain(|e| e.base != name);
        ring.entries.push(KeyEntry {
            base: name.clone(),
            role,
            created: now,
            published: Some(now),
            active: Some(now),
            retired: None,
            removed: None,
            ds: if role.is_sep() {
                DsState::Seen
            } else {
                DsState::None
            },
        });
        out.push(format!("imported {name} as {role:?}"));
    }
    ring.save().map_err(|e| e.to_string())?;
    Ok(out.join("\n"))
}

/// `ds-seen ZONE`.
pub fn ds_seen(dir: &Path, zone: &Name) -> Result<String, String> {
    let mut ring = KeyRing::read(dir, zone).map_err(|e| e.to_string())?;
    let n = ring.ds_seen();
    if n == 0 {
        return Ok(format!("{zone}: no key was waiting for its DS"));
    }
    ring.save().map_err(|e| e.to_string())?;
    Ok(format!(
        "{zone}: DS seen for {n} key(s); a running server goes on within the hour (or now, \
         with `portcullis ctl reload`)"
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use dnssec::{Algorithm, ZoneKey};

    #[test]
    fn import_then_ds_and_status() {
        let dir = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        let zone: Name = "example.test.".parse().unwrap();
        let ksk = ZoneKey::generate(Algorithm::EcdsaP256Sha256, true).unwrap();
        let zsk = ZoneKey::generate(Algorithm::Ed25519, false).unwrap();
        let a = keyfile::write(src.path(), &zone, &ksk, 0).unwrap();
        let b = keyfile::write(src.path(), &zone, &zsk, 0).unwrap();
        let keys = dir.path().join("keys");
        let text = import(&keys, &zone, &[a.clone(), b], 1_800_000_000).unwrap();
        assert!(text.contains("Ksk") && text.contains("Zsk"), "{text}");
        let ds_text = ds(&keys, &zone, 1_800_000_000).unwrap();
        assert!(ds_text.starts_with(&format!("example.test. IN DS {} 13 2 ", ksk.key_tag())));
        let st = status(&keys, None, 1_800_000_000).unwrap();
        assert!(st.contains("active") && st.contains("seen"), "{st}");
        // A key for another zone is refused; so is importing the same key twice.
        let other: Name = "other.test.".parse().unwrap();
        assert!(import(&keys, &other, std::slice::from_ref(&a), 0).is_err());
        assert!(import(&keys, &zone, &[a], 0).is_err());
        assert!(
            ds_seen(&keys, &zone)
                .unwrap()
                .contains("no key was waiting")
        );
    }
}
