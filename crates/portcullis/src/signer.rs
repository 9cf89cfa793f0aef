//! Serving zones signed: the zones with `dnssec = true` (or `--sign ORIGIN`) are signed when
//! loaded and re-signed as time passes.
//!
//! [`Signer`] keeps, per signed zone, the zone as loaded (unsigned), its settings and the
//! signatures of the last run ([`dnssec::SigStore`]):
//!
//! - at start and on each reload, [`Signer::sign`] signs the freshly loaded zone; signatures
//!   of RRsets that did not change and are still fresh are kept, so a reload after a small
//!   edit signs only what changed;
//! - a timer in the server asks [`Signer::next_event`] when to wake and then
//!   [`Signer::resign_due`], which signs again the zones whose signatures near their refresh
//!   point or whose keys change state (rollovers, [`crate::keystate`]).
//!
//! Keys come from the key directory ([`crate::keystate::KeyRing`]); a zone without keys gets
//! new ones. Nothing here reads the clock: `now` (seconds since the epoch) is passed in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use dnssec::{DenialChain, Nsec3Params, SigStore, SignParams, ZoneRecord, sign_zone};
use wire::{Class, Name, RType};
use zone::{Record, Zone, ZoneBuilder};

use crate::config::signing::{DenialKind, SigningSettings};
use crate::keystate::KeyRing;

/// Never wake the timer more often than this, in seconds: signatures are refreshed in batches.
pub const MIN_TIMER_INTERVAL: u64 = 60;

/// While a key waits for its DS, the key state (and the parent's servers) are looked at this
/// often, in seconds.
pub const DS_POLL_INTERVAL: u64 = 3600;

/// The signing state of one zone.
#[derive(Debug)]
struct ZoneSigning {
    unsigned: Arc<Zone>,
    settings: SigningSettings,
    store: SigStore,
    /// When the zone next needs signing: a signature reaches its refresh point or a key
    /// changes state.
    next_event: u64,
    /// The SOA serial served.
    serial: u32,
}

/// What one signing produced.
struct Signed {
    zone: Zone,
    store: SigStore,
    next_event: u64,
    serial: u32,
}

/// The signed zones' state, shared by reloads and the refresh timer.
#[derive(Debug, Default)]
pub struct Signer {
    zones: Mutex<HashMap<Name, ZoneSigning>>,
}

/// The records of a zone as loaded, without any DNSSEC records (the signer makes them again).
pub fn zone_records(zone: &Zone) -> Vec<ZoneRecord> {
    let mut out = Vec::with_capacity(zone.record_count());
    for (node, rrset) in zone.rrsets() {
        if rrset.rtype() == RType::RRSIG {
            continue;
        }
        let owner = node.owner().to_name();
        for rdata in rrset.rdatas() {
            out.push(ZoneRecord {
                owner: owner.clone(),
                rtype: rrset.rtype(),
                ttl: rrset.ttl(),
                rdata: rdata.to_vec(),
            });
        }
    }
    out
}

/// Builds a zone snapshot from signed records.
pub fn build_zone(origin: &Name, records: Vec<ZoneRecord>) -> Result<Zone, String> {
    let mut builder = ZoneBuilder::new(origin.clone());
    for r in records {
        builder.add(Record {
            owner: r.owner,
            class: Class::IN,
            rtype: r.rtype,
            ttl: r.ttl,
            rdata: r.rdata,
            loc: None,
        });
    }
    builder
        .finish()
        .map(|built| built.zone)
        .map_err(|problems| {
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        })
}

/// The [`SignParams`] of `settings` at `now`.
fn params(settings: &SigningSettings, now: u64) -> SignParams {
    let mut p = SignParams::new(now, settings.signature_validity);
    p.refresh = settings.refresh;
    p.denial = match settings.denial {
        DenialKind::Nsec => DenialChain::Nsec,
        DenialKind::Nsec3 => DenialChain::Nsec3(Nsec3Params {
            opt_out: settings.nsec3_opt_out,
            ..Nsec3Params::default()
        }),
    };
    p
}

/// Whether serial `a` is after `b` (RFC 1982).
fn serial_gt(a: u32, b: u32) -> bool {
    a != b && (a.wrapping_sub(b) as i32) > 0
}

/// Sets the serial of the apex SOA record (the first of its five 32-bit fields).
fn set_serial(records: &mut [ZoneRecord], origin: &Name, serial: u32) {
    for r in records.iter_mut() {
        if r.rtype == RType::SOA && r.owner == *origin {
            let len = r.rdata.len();
            if let Some(field) = r
                .rdata
                .get_mut(len.saturating_sub(20)..len.saturating_sub(16))
            {
                field.copy_from_slice(&serial.to_be_bytes());
            }
        }
    }
}

/// Signs `unsigned` at `now` with the keys of `settings.key_dir`, reusing `previous`.
///
/// Secondaries fetch the zone again only when its SOA serial grows, so when new signatures are
/// made and the file's serial is not newer than `last_serial` (the serial served so far), the
/// serial served is `last_serial + 1` (RFC 1982 arithmetic): refreshed signatures reach them.
fn sign_once(
    unsigned: &Zone,
    settings: &SigningSettings,
    now: u64,
    previous: Option<&SigStore>,
    last_serial: Option<u32>,
) -> Result<Signed, String> {
    let origin = unsigned.origin().to_name();
    let mut records = zone_records(unsigned);
    let file_serial = unsigned.serial();
    let mut serial = match last_serial {
        Some(last) if !serial_gt(file_serial, last) => last,
        _ => file_serial,
    };
    set_serial(&mut records, &origin, serial);
    let max_ttl = records.iter().map(|r| r.ttl).max().unwrap_or(0);
    let dnskey_ttl = unsigned.soa().ttl();
    let ring =
        KeyRing::load(settings, &origin, now, max_ttl, dnskey_ttl).map_err(|e| e.to_string())?;
    let uses = ring.uses(now);
    let params = params(settings, now);
    let mut signed = sign_zone(&origin, records.clone(), &uses, &params, previous)
        .map_err(|e| format!("{origin}: {e}"))?;
    if last_serial == Some(serial) && signed.signed > 0 {
        // Only the SOA's signature changes in this second run.
        serial = serial.wrapping_add(1);
        set_serial(&mut records, &origin, serial);
        let again = sign_zone(&origin, records, &uses, &params, Some(&signed.store))
            .map_err(|e| format!("{origin}: {e}"))?;
        signed = dnssec::SignedZone {
            signed: signed.signed + again.signed,
            reused: again.reused,
            ..again
        };
    }
    tracing::info!(
        zone = %origin,
        serial,
        signed = signed.signed,
        kept = signed.reused,
        "zone signed"
    );
    let mut next = ring
        .next_event(now)
        .map_or(signed.next_refresh, |t| t.min(signed.next_refresh));
    if ring.waits_for_ds(now) {
        // Look again within the hour: `portcullis dnssec ds-seen` may have been run, or the
        // parent's servers may now have the DS.
        next = next.min(now + DS_POLL_INTERVAL);
    }
    let zone = build_zone(&origin, signed.records)
        .map_err(|e| format!("{origin}: the signed zone does not build: {e}"))?;
    Ok(Signed {
        zone,
        store: signed.store,
        next_event: next,
        serial,
    })
}

impl Signer {
    /// An empty signer.
    pub fn new() -> Signer {
        Signer::default()
    }

    /// Signs the freshly loaded zone `unsigned` at `now` and remembers it for refreshes. The
    /// previous signatures of the zone are reused where the RRset did not change (and the
    /// settings did not).
    pub fn sign(
        &self,
        unsigned: Zone,
        settings: &SigningSettings,
        now: u64,
    ) -> Result<Zone, String> {
        let origin = unsigned.origin().to_name();
        let (previous, last_serial) = {
            let zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            let z = zones.get(&origin);
            (
                z.filter(|z| z.settings == *settings)
                    .map(|z| z.store.clone()),
                z.map(|z| z.serial),
            )
        };
        let signed = sign_once(&unsigned, settings, now, previous.as_ref(), last_serial)?;
        self.zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                origin,
                ZoneSigning {
                    unsigned: Arc::new(unsigned),
                    settings: settings.clone(),
                    store: signed.store,
                    next_event: signed.next_event,
                    serial: signed.serial,
                },
            );
        Ok(signed.zone)
    }

    /// Forgets the zones not in `origins` (no longer signed after a reload).
    pub fn retain(&self, origins: &[Name]) {
        self.zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|origin, _| origins.contains(origin));
    }

    /// When a zone next needs signing, if any zone is signed.
    pub fn next_event(&self) -> Option<u64> {
        self.zones
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|z| z.next_event)
            .min()
    }

    /// Signs again every zone due at `now`, from the zone as last loaded. Returns the new
    /// snapshots, or for a zone that failed, its error (the old snapshot keeps serving), each
    /// with how long the signing took (the zone's signing-time metric).
    pub fn resign_due(&self, now: u64) -> Vec<(Name, Result<Zone, String>, std::time::Duration)> {
        type Due = (Name, Arc<Zone>, SigningSettings, SigStore, u32);
        let due: Vec<Due> = {
            let zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            zones
                .iter()
                .filter(|(_, z)| z.next_event <= now)
                .map(|(o, z)| {
                    (
                        o.clone(),
                        z.unsigned.clone(),
                        z.settings.clone(),
                        z.store.clone(),
                        z.serial,
                    )
                })
                .collect()
        };
        let mut out = Vec::with_capacity(due.len());
        for (origin, unsigned, settings, store, serial) in due {
            let started = std::time::Instant::now();
            let result = sign_once(&unsigned, &settings, now, Some(&store), Some(serial));
            let took = started.elapsed();
            let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            match result {
                Ok(signed) => {
                    if let Some(z) = zones.get_mut(&origin) {
                        z.store = signed.store;
                        z.next_event = signed.next_event;
                        z.serial = signed.serial;
                    }
                    out.push((origin, Ok(signed.zone), took));
                }
                Err(e) => {
                    // Try again after the minimum interval rather than in a tight loop.
                    if let Some(z) = zones.get_mut(&origin) {
                        z.next_event = now + MIN_TIMER_INTERVAL;
                    }
                    out.push((origin, Err(e), took));
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "signer_tests.rs"]
mod tests;
