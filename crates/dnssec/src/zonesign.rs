//! Signing a whole zone (RFC 4035 section 2, RFC 5155 section 7.1).
//!
//! [`sign_zone`] takes the zone's records and its keys and returns the signed zone:
//!
//! - **Keys at the apex**: a DNSKEY record per published key; with [`KeyUse::cds`], a CDS
//!   (SHA-256 digest) and a CDNSKEY record for the key (RFC 7344), the parent's cue for a new
//!   DS. DNSKEY, CDS and CDNSKEY are signed by the key-signing keys, everything else by the
//!   zone-signing keys (a combined key does both).
//! - **What is signed** (RFC 4035 section 2.2): every authoritative RRset. Below a zone cut
//!   (a name other than the apex with NS records) the data is not the zone's: the NS RRset at
//!   the cut and glue below it stay unsigned; a DS RRset at the cut is the zone's and is
//!   signed. Names below a DNAME are occluded and left out too.
//! - **Denial of existence**: an NSEC chain through every name in canonical order (RFC 4034
//!   section 4), or an NSEC3 chain of hashed names (RFC 5155) with the parameters of
//!   [`Nsec3Params`], empty non-terminals included (section 7.1) and, with opt-out, delegations
//!   without DS left out. The defaults follow RFC 9276: SHA-1, no salt, no extra iteration,
//!   no opt-out. The type bitmaps list the types present plus RRSIG and NSEC (NSEC chain) where
//!   signatures exist; at a delegation only NS, DS and their signatures.
//! - **Signature times**: inception [`SignParams::inception_offset`] in the past so that
//!   validators whose clock is behind accept the signatures; expiration `validity` ahead,
//!   minus a jitter derived from the RRset's content so that signatures made together do not
//!   all expire (and need refreshing) together.
//! - **Incremental signing**: given the [`SigStore`] of the previous run, an RRset whose content
//!   did not change keeps each signature that is still fresh (more than
//!   [`SignParams::refresh`] seconds from expiring, by a key still signing). Only changed or
//!   ageing RRsets are signed again, so a reload or a periodic refresh costs little.
//!
//! The signatures are made on every CPU ([`SignParams::threads`]). Nothing reads the clock:
//! the time is [`SignParams::now`].

use std::collections::{HashMap, HashSet};

use ring::digest;
use wire::rdata::TypeBitmap;
use wire::{Name, NameRef, RType};

use crate::key::ds_digest;
use crate::keys::ZoneKey;
use crate::sign::{CanonicalRrset, SignError, rrsig_expiration, rrsig_key};

/// One record of a zone, RDATA uncompressed (class IN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneRecord {
    /// The owner name.
    pub owner: Name,
    /// The type.
    pub rtype: RType,
    /// The TTL.
    pub ttl: u32,
    /// The RDATA, uncompressed.
    pub rdata: Vec<u8>,
}

impl std::fmt::Display for ZoneRecord {
    /// The record in zone-file form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rdata = String::new();
        if wire::rdata::to_text(self.rtype, &self.rdata, &mut rdata).is_err() {
            wire::rdata::generic_to_text(&self.rdata, &mut rdata);
        }
        write!(
            f,
            "{}\t{}\tIN\t{}\t{}",
            self.owner, self.ttl, self.rtype, rdata
        )
    }
}

/// NSEC3 parameters (RFC 5155 section 4; defaults from RFC 9276 section 3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Nsec3Params {
    /// Extra hash iterations: RFC 9276 says 0.
    pub iterations: u16,
    /// Salt: RFC 9276 says none.
    pub salt: Vec<u8>,
    /// Leave delegations without DS out of the chain (RFC 5155 section 6).
    pub opt_out: bool,
}

/// How non-existence is proven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DenialChain {
    /// An NSEC chain (RFC 4034 section 4).
    Nsec,
    /// An NSEC3 chain (RFC 5155).
    Nsec3(Nsec3Params),
}

/// What to sign with, and when.
#[derive(Clone, Debug)]
pub struct SignParams {
    /// The time, seconds since the epoch.
    pub now: u64,
    /// Inception is this many seconds before `now` (clock skew of validators).
    pub inception_offset: u32,
    /// Signatures expire this many seconds after `now`, less the jitter.
    pub validity: u32,
    /// Up to this many seconds are taken off each expiration, varying by RRset.
    pub jitter: u32,
    /// A previous signature is reused only when it expires more than this many seconds from
    /// `now`.
    pub refresh: u32,
    /// NSEC or NSEC3.
    pub denial: DenialChain,
    /// TTL of DNSKEY, CDS and CDNSKEY; the SOA's TTL when `None`.
    pub dnskey_ttl: Option<u32>,
    /// Signing threads; 0 for one per CPU.
    pub threads: usize,
}

impl SignParams {
    /// Parameters with the defaults: inception an hour back, jitter a tenth of `validity`,
    /// refresh when a third of it remains, NSEC.
    pub fn new(now: u64, validity: u32) -> SignParams {
        SignParams {
            now,
            inception_offset: 3600,
            validity,
            jitter: validity / 10,
            refresh: validity / 3,
            denial: DenialChain::Nsec,
            dnskey_ttl: None,
            threads: 0,
        }
    }
}

/// A key and what it does in this signing.
#[derive(Clone, Copy, Debug)]
pub struct KeyUse<'a> {
    /// The key.
    pub key: &'a ZoneKey,
    /// Published in the DNSKEY RRset.
    pub publish: bool,
    /// Signs the zone's RRsets (a ZSK or CSK).
    pub sign_zone: bool,
    /// Signs DNSKEY, CDS and CDNSKEY (a KSK or CSK).
    pub sign_keys: bool,
    /// Published as CDS and CDNSKEY.
    pub cds: bool,
}

/// Signatures of a signing run, by RRset, for the next run to reuse (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct SigStore {
    map: HashMap<(Vec<u8>, RType), Stored>,
}

#[derive(Clone, Debug)]
struct Stored {
    /// SHA-256 (first 16 bytes) of the RRset's canonical form.
    fingerprint: [u8; 16],
    sigs: Vec<Vec<u8>>,
}

impl SigStore {
    /// How many RRsets have signatures.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A signed zone.
#[derive(Debug)]
pub struct SignedZone {
    /// Every record: the zone's, the keys, the NSEC or NSEC3 chain and the RRSIGs.
    pub records: Vec<ZoneRecord>,
    /// The signatures, for the next run.
    pub store: SigStore,
    /// Signatures made in this run.
    pub signed: usize,
    /// Signatures kept from the previous run.
    pub reused: usize,
    /// When the first signature needs refreshing: its expiration minus `refresh`.
    pub next_refresh: u64,
}

/// The part a name plays in the signed zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The apex or a name with authoritative data: everything signed.
    Auth,
    /// A zone cut: only DS signed.
    Delegation,
    /// Below a cut or a DNAME: nothing signed, not in the chain.
    Occluded,
}

/// One RRset while signing.
#[derive(Debug)]
struct Set {
    rtype: RType,
    ttl: u32,
    rdatas: Vec<Vec<u8>>,
}

/// One name while signing.
#[derive(Debug)]
struct Group {
    owner: Name,
    kind: Kind,
    sets: Vec<Set>,
}

/// Types the signer makes: any in the input is dropped and made again.
fn generated(rtype: RType, apex: bool) -> bool {
    matches!(
        rtype,
        RType::RRSIG | RType::NSEC | RType::NSEC3 | RType::NSEC3PARAM
    ) || (apex && matches!(rtype, RType::DNSKEY | RType::CDS | RType::CDNSKEY))
}

/// Signs `records`, the zone whose apex is `origin`, with `keys` (see the module docs).
/// `previous` is the [`SignedZone::store`] of the last run, whose fresh signatures of unchanged
/// RRsets are kept.
pub fn sign_zone(
    origin: &Name,
    records: Vec<ZoneRecord>,
    keys: &[KeyUse<'_>],
    params: &SignParams,
    previous: Option<&SigStore>,
) -> Result<SignedZone, SignError> {
    let origin_ref = origin.as_ref();
    if !keys.iter().any(|k| k.sign_zone) || !keys.iter().any(|k| k.sign_keys) {
        return Err(SignError::Zone(
            "no key signs the zone or no key signs the DNSKEY RRset".into(),
        ));
    }
    let mut records: Vec<ZoneRecord> = records
        .into_iter()
        .filter(|r| {
            r.owner.as_ref().is_subdomain_of(origin_ref) && !generated(r.rtype, r.owner == *origin)
        })
        .collect();
    let soa = records
        .iter()
        .find(|r| r.rtype == RType::SOA && r.owner == *origin)
        .ok_or_else(|| SignError::Zone(format!("{origin}: no SOA record at the apex")))?;
    let soa_minimum = soa
        .rdata
        .len()
        .checked_sub(4)
        .and_then(|at| soa.rdata.get(at..))
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let negative_ttl = soa.ttl.min(soa_minimum);
    let key_ttl = params.dnskey_ttl.unwrap_or(soa.ttl);

    // The keys, and their CDS and CDNSKEY records.
    for k in keys.iter().filter(|k| k.publish) {
        let dnskey = k.key.dnskey();
        if k.cds {
            let digest =
                ds_digest(origin_ref, &dnskey, 2).map_err(|e| SignError::Zone(e.to_string()))?;
            let mut cds = Vec::with_capacity(4 + digest.len());
            cds.extend_from_slice(&k.key.key_tag().to_be_bytes());
            cds.push(k.key.pair.algorithm().number());
            cds.push(2);
            cds.extend_from_slice(&digest);
            records.push(apex_record(origin, RType::CDS, key_ttl, cds));
            records.push(apex_record(origin, RType::CDNSKEY, key_ttl, dnskey.clone()));
        }
        records.push(apex_record(origin, RType::DNSKEY, key_ttl, dnskey));
    }
    if let DenialChain::Nsec3(p) = &params.denial {
        let mut rdata = vec![1, 0];
        rdata.extend_from_slice(&p.iterations.to_be_bytes());
        rdata.push(
            u8::try_from(p.salt.len())
                .map_err(|_| SignError::Zone("NSEC3 salt longer than 255 bytes".into()))?,
        );
        rdata.extend_from_slice(&p.salt);
        records.push(apex_record(origin, RType::NSEC3PARAM, 0, rdata));
    }

    let mut groups = group(records);
    if groups.first().is_none_or(|g| g.owner != *origin) {
        return Err(SignError::Zone(format!("{origin}: no apex")));
    }
    classify(&mut groups);

    // The denial chain.
    let mut chain_groups = match &params.denial {
        DenialChain::Nsec => {
            add_nsec(&mut groups, negative_ttl)?;
            Vec::new()
        }
        DenialChain::Nsec3(p) => nsec3_chain(origin, &groups, p, negative_ttl)?,
    };
    groups.append(&mut chain_groups);

    // The signing jobs.
    let zone_keys: Vec<(&ZoneKey, u16)> = keys
        .iter()
        .filter(|k| k.sign_zone)
        .map(|k| (k.key, k.key.key_tag()))
        .collect();
    let key_keys: Vec<(&ZoneKey, u16)> = keys
        .iter()
        .filter(|k| k.sign_keys)
        .map(|k| (k.key, k.key.key_tag()))
        .collect();
    let mut jobs: Vec<(usize, usize)> = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        for (s, set) in group.sets.iter().enumerate() {
            let signed = match group.kind {
                Kind::Auth => true,
                Kind::Delegation => set.rtype == RType::DS || set.rtype == RType::NSEC,
                Kind::Occluded => false,
            };
            if signed {
                jobs.push((g, s));
            }
        }
    }
    let ctx = JobContext {
        origin: origin_ref,
        groups: &groups,
        zone_keys: &zone_keys,
        key_keys: &key_keys,
        params,
        previous,
    };
    let threads = match params.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
    .clamp(1, 64);
    let chunk = jobs.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<Done>, SignError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let ctx = &ctx;
                scope.spawn(move || part.iter().map(|&job| ctx.run(job)).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(SignError::Zone("a signing thread panicked".into())))
            })
            .collect()
    });

    let mut store = SigStore::default();
    let mut signed = 0;
    let mut reused = 0;
    let mut next_refresh = u64::MAX;
    let mut sigs_by_job: Vec<Done> = Vec::with_capacity(jobs.len());
    for part in results {
        sigs_by_job.extend(part?);
    }
    let mut out: Vec<ZoneRecord> = Vec::new();
    for (&(g, s), done) in jobs.iter().zip(sigs_by_job) {
        signed += done.signed;
        reused += done.reused;
        let group = &groups[g];
        let set = &group.sets[s];
        for sig in &done.sigs {
            if let Some(exp) = rrsig_expiration(sig) {
                let until = absolute(params.now, exp);
                next_refresh = next_refresh.min(until.saturating_sub(u64::from(params.refresh)));
            }
            out.push(ZoneRecord {
                owner: group.owner.clone(),
                rtype: RType::RRSIG,
                ttl: set.ttl,
                rdata: sig.clone(),
            });
        }
        store.map.insert(
            (group.owner.as_wire().to_ascii_lowercase(), set.rtype),
            Stored {
                fingerprint: done.fingerprint,
                sigs: done.sigs,
            },
        );
    }
    for group in groups {
        for set in group.sets {
            for rdata in set.rdatas {
                out.push(ZoneRecord {
                    owner: group.owner.clone(),
                    rtype: set.rtype,
                    ttl: set.ttl,
                    rdata,
                });
            }
        }
    }
    Ok(SignedZone {
        records: out,
        store,
        signed,
        reused,
        next_refresh,
    })
}

/// A 32-bit RRSIG time read as the absolute time nearest `now` (RFC 4034 section 3.1.5).
fn absolute(now: u64, t: u32) -> u64 {
    let delta = i64::from(t.wrapping_sub(now as u32) as i32);
    now.saturating_add_signed(delta)
}

fn apex_record(origin: &Name, rtype: RType, ttl: u32, rdata: Vec<u8>) -> ZoneRecord {
    ZoneRecord {
        owner: origin.clone(),
        rtype,
        ttl,
        rdata,
    }
}

/// Sorts the records into names in canonical order, each with its RRsets (type order, RDATA
/// duplicates removed, the smallest TTL of a set for all its records).
fn group(records: Vec<ZoneRecord>) -> Vec<Group> {
    let keys: Vec<Vec<u8>> = records
        .iter()
        .map(|r| r.owner.as_ref().canonical_key().as_bytes().to_vec())
        .collect();
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by(|&a, &b| {
        keys[a]
            .cmp(&keys[b])
            .then(records[a].rtype.cmp(&records[b].rtype))
    });
    let mut slots: Vec<Option<ZoneRecord>> = records.into_iter().map(Some).collect();
    let mut groups: Vec<Group> = Vec::new();
    let mut last_key: Option<&[u8]> = None;
    for i in order {
        let Some(r) = slots[i].take() else { continue };
        if last_key != Some(keys[i].as_slice()) {
            groups.push(Group {
                owner: r.owner.clone(),
                kind: Kind::Auth,
                sets: Vec::new(),
            });
            last_key = Some(keys[i].as_slice());
        }
        let Some(g) = groups.last_mut() else { continue };
        match g.sets.last_mut() {
            Some(set) if set.rtype == r.rtype => {
                set.ttl = set.ttl.min(r.ttl);
                let canon = crate::canonical::canonical_rdata(r.rtype, &r.rdata).ok();
                let dup = set
                    .rdatas
                    .iter()
                    .any(|rd| crate::canonical::canonical_rdata(r.rtype, rd).ok() == canon);
                if !dup {
                    set.rdatas.push(r.rdata);
                }
            }
            _ => g.sets.push(Set {
                rtype: r.rtype,
                ttl: r.ttl,
                rdatas: vec![r.rdata],
            }),
        }
    }
    groups
}

/// Marks delegations and occluded names; the first group is the apex.
fn classify(groups: &mut [Group]) {
    let mut cut: Option<Name> = None;
    for (i, g) in groups.iter_mut().enumerate() {
        if let Some(c) = &cut {
            if g.owner.as_ref().is_subdomain_of(c.as_ref()) && g.owner != *c {
                g.kind = Kind::Occluded;
                continue;
            }
            cut = None;
        }
        let has = |t: RType| g.sets.iter().any(|s| s.rtype == t);
        if i > 0 && has(RType::NS) {
            g.kind = Kind::Delegation;
            cut = Some(g.owner.clone());
        } else if has(RType::DNAME) {
            cut = Some(g.owner.clone());
        }
    }
}

/// The types a name's bitmap lists, without RRSIG/NSEC: everything at an authoritative name,
/// only NS and DS at a delegation.
fn present_types(g: &Group) -> Vec<RType> {
    g.sets
        .iter()
        .map(|s| s.rtype)
        .filter(|&t| g.kind == Kind::Auth || t == RType::NS || t == RType::DS)
        .collect()
}

/// Adds an NSEC RRset to every name of the chain (RFC 4034 section 4.1).
fn add_nsec(groups: &mut [Group], ttl: u32) -> Result<(), SignError> {
    let chain: Vec<usize> = (0..groups.len())
        .filter(|&i| groups[i].kind != Kind::Occluded)
        .collect();
    for (k, &i) in chain.iter().enumerate() {
        let next_index = chain[(k + 1) % chain.len()];
        let mut rdata = groups[next_index].owner.as_wire().to_ascii_lowercase();
        let g = &groups[i];
        let mut types = present_types(g);
        // The NSEC record is signed wherever it is, delegations included, so RRSIG is
        // always present (RFC 4035 section 2.3).
        types.push(RType::NSEC);
        types.push(RType::RRSIG);
        TypeBitmap::write(&types, &mut rdata);
        let at = g
            .sets
            .iter()
            .position(|s| s.rtype > RType::NSEC)
            .unwrap_or(g.sets.len());
        groups[i].sets.insert(
            at,
            Set {
                rtype: RType::NSEC,
                ttl,
                rdatas: vec![rdata],
            },
        );
    }
    Ok(())
}

/// The NSEC3 chain (RFC 5155 section 7.1) as new names to add to the zone.
fn nsec3_chain(
    origin: &Name,
    groups: &[Group],
    p: &Nsec3Params,
    ttl: u32,
) -> Result<Vec<Group>, SignError> {
    // (hash, types) of every name in the chain.
    let mut entries: Vec<([u8; 20], Vec<RType>)> = Vec::new();
    let existing: HashSet<Vec<u8>> = groups
        .iter()
        .map(|g| g.owner.as_wire().to_ascii_lowercase())
        .collect();
    let mut ents: HashSet<Vec<u8>> = HashSet::new();
    for g in groups {
        let types = match g.kind {
            Kind::Occluded => continue,
            Kind::Delegation => {
                let has_ds = g.sets.iter().any(|s| s.rtype == RType::DS);
                if p.opt_out && !has_ds {
                    // Opt-out: an insecure delegation gets no NSEC3, but the names between
                    // it and the apex still do (below, as empty non-terminals).
                    add_ents(g.owner.as_ref(), origin, &existing, &mut ents);
                    continue;
                }
                let mut t = present_types(g);
                if has_ds {
                    t.push(RType::RRSIG);
                }
                t
            }
            Kind::Auth => {
                let mut t = present_types(g);
                t.push(RType::RRSIG);
                t
            }
        };
        add_ents(g.owner.as_ref(), origin, &existing, &mut ents);
        entries.push((
            crate::nsec3::nsec3_hash(g.owner.as_ref(), &p.salt, p.iterations),
            types,
        ));
    }
    for ent in &ents {
        let name = NameRef::from_wire(ent).map_err(|e| SignError::Zone(e.to_string()))?;
        entries.push((
            crate::nsec3::nsec3_hash(name, &p.salt, p.iterations),
            Vec::new(),
        ));
    }
    entries.sort_by_key(|e| e.0);
    if entries.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(SignError::Zone(
            "NSEC3 hash collision: choose another salt".into(),
        ));
    }
    let salt_len = u8::try_from(p.salt.len())
        .map_err(|_| SignError::Zone("NSEC3 salt longer than 255 bytes".into()))?;
    let mut out = Vec::with_capacity(entries.len());
    for (k, (hash, types)) in entries.iter().enumerate() {
        let next = &entries[(k + 1) % entries.len()].0;
        let mut rdata = vec![1, u8::from(p.opt_out)];
        rdata.extend_from_slice(&p.iterations.to_be_bytes());
        rdata.push(salt_len);
        rdata.extend_from_slice(&p.salt);
        rdata.push(20);
        rdata.extend_from_slice(next);
        TypeBitmap::write(types, &mut rdata);
        let mut label = String::with_capacity(32);
        wire::rdata::write_base32hex(hash, &mut label);
        let owner = origin
            .prepend(label.as_bytes())
            .map_err(|e| SignError::Zone(format!("NSEC3 owner: {e}")))?;
        out.push(Group {
            owner,
            kind: Kind::Auth,
            sets: vec![Set {
                rtype: RType::NSEC3,
                ttl,
                rdatas: vec![rdata],
            }],
        });
    }
    Ok(out)
}

/// Adds the ancestors of `name` below `origin` that own nothing (empty non-terminals).
fn add_ents(
    name: NameRef<'_>,
    origin: &Name,
    existing: &HashSet<Vec<u8>>,
    ents: &mut HashSet<Vec<u8>>,
) {
    let mut at = name.parent();
    // At most 127 labels: the loop ends at the origin or the root.
    while let Some(parent) = at {
        if parent.label_count() <= origin.as_ref().label_count() {
            break;
        }
        let wire = parent.as_wire().to_ascii_lowercase();
        if !existing.contains(&wire) && !ents.insert(wire) {
            break;
        }
        at = parent.parent();
    }
}

/// What the signing threads share.
struct JobContext<'a> {
    origin: NameRef<'a>,
    groups: &'a [Group],
    zone_keys: &'a [(&'a ZoneKey, u16)],
    key_keys: &'a [(&'a ZoneKey, u16)],
    params: &'a SignParams,
    previous: Option<&'a SigStore>,
}

/// The signatures of one RRset.
struct Done {
    fingerprint: [u8; 16],
    sigs: Vec<Vec<u8>>,
    signed: usize,
    reused: usize,
}

impl JobContext<'_> {
    fn run(&self, (g, s): (usize, usize)) -> Result<Done, SignError> {
        let group = &self.groups[g];
        let set = &group.sets[s];
        let canon = CanonicalRrset::new(
            group.owner.as_ref(),
            set.rtype,
            set.ttl,
            set.rdatas.iter().map(Vec::as_slice),
        )?;
        let mut fingerprint = [0u8; 16];
        let digest = digest::digest(&digest::SHA256, canon.data());
        fingerprint.copy_from_slice(&digest.as_ref()[..16]);
        let apex_key_set =
            g == 0 && matches!(set.rtype, RType::DNSKEY | RType::CDS | RType::CDNSKEY);
        let keys = if apex_key_set {
            self.key_keys
        } else {
            self.zone_keys
        };
        let p = self.params;
        let old = self
            .previous
            .and_then(|store| {
                store
                    .map
                    .get(&(group.owner.as_wire().to_ascii_lowercase(), set.rtype))
            })
            .filter(|old| old.fingerprint == fingerprint);
        let mut done = Done {
            fingerprint,
            sigs: Vec::with_capacity(keys.len()),
            signed: 0,
            reused: 0,
        };
        for &(key, tag) in keys {
            let alg = key.pair.algorithm().number();
            let fresh = old.and_then(|old| {
                old.sigs.iter().find(|sig| {
                    rrsig_key(sig) == Some((alg, tag))
                        && rrsig_expiration(sig).is_some_and(|exp| {
                            absolute(p.now, exp) > p.now.saturating_add(u64::from(p.refresh))
                        })
                })
            });
            if let Some(sig) = fresh {
                done.sigs.push(sig.clone());
                done.reused += 1;
                continue;
            }
            let jitter = match p.jitter {
                0 => 0,
                j => {
                    u32::from_be_bytes([
                        fingerprint[0],
                        fingerprint[1],
                        fingerprint[2],
                        fingerprint[3],
                    ]) % j
                }
            };
            let inception = p.now.saturating_sub(u64::from(p.inception_offset));
            let expiration = p.now + u64::from(p.validity.saturating_sub(jitter));
            done.sigs
                .push(canon.sign(key, tag, self.origin, inception, expiration)?);
            done.signed += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
#[path = "zonesign_tests.rs"]
mod tests;
