//! DNSSEC validation (RFC 4033, RFC 4034, RFC 4035, RFC 5155, RFC 6840).
//!
//! # Where it runs
//!
//! Every resolution that ends with data or a negative answer passes here before its clients
//! are answered (`Recursor::finish`), unless the question was asked with CD (the client
//! validates), validation is off, or the resolution is internal (root priming, a name
//! server's address). The upstream answers were cached as they came, *unchecked*; clients
//! asking without CD are answered only from validated data ([`cache::Validation`]), so
//! unchecked data cannot reach them before it is judged here.
//!
//! # Chains of trust as resolutions
//!
//! Validating needs keys, and keys are DNS data: the validator asks for them through the same
//! mesh, as sub-resolutions that are validated in turn. An RRset signed by zone `Z` needs the
//! *key state* of `Z`: the answer to `Z DNSKEY`, itself validated. That resolution is special:
//! its DNSKEY RRset is vouched for by the DS RRset of `Z` in the parent (`Z DS`, validated
//! with the parent's keys, and so on up) or by a trust anchor at `Z`. So one client question
//! may wait for `example.com DNSKEY`, which waits for `example.com DS`, which waits for `com
//! DNSKEY`, … up to `. DNSKEY`, checked against the root anchors. Each link is a normal
//! resolution: de-duplicated in the mesh, cached with its validation status, and reused by
//! every later question. A DS question whose answer proves there is no DS (an NSEC or NSEC3
//! with the NS bit and without DS) makes the child *insecure*; a DS answer listing only
//! algorithms or digests we do not implement does too (RFC 6840 section 5.2).
//!
//! Unsigned data is *insecure* only when some zone cut between the closest secure zone and
//! the data is proven unsigned; otherwise it is *bogus* (stripped signatures). When the zone
//! that answered is known (iteration), its key state decides; for data from a forwarder or
//! the cache, the validator walks down from the closest known cut asking for the DS of each
//! name toward the owner until one is proven absent (Unbound's approach).
//!
//! # Verdicts
//!
//! Secure (the AD bit may be set), insecure (answered without AD), bogus (SERVFAIL with an
//! Extended DNS Error saying why, RFC 8914, remembered for `bogus_ttl`). Validated data goes
//! back to the cache marked secure or insecure, its TTL capped by the signatures' expiry
//! (RFC 4035 section 5.3.3).
//!
//! # Bounded work (KeyTrap, CVE-2023-50387, and CVE-2023-50868)
//!
//! See [`ValidationLimits`]: keys tried per signature, signatures tried per RRset, signature
//! checks per resolution, NSEC3 hashes per answer and NSEC3 iterations. A resolution that
//! runs out is bogus; the crypto of one resolution runs in one step of one driver, and the
//! caps keep that step short, so validation never holds other clients up for long.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::hash::Hasher;
use std::sync::Arc;

use cache::{NegativeKind, RrSet, Time, Trust, Validation};
use dnssec::denial::{self, Denial, DenialError, NoDs};
use dnssec::{Crypto, CryptoError, RingCrypto, VerifyError, key_tag, verify_rrsig};
use siphasher::sip128::{Hasher128, SipHasher24};
use wire::edns::ede as Ede;
use wire::rdata::RData;
use wire::{Class, Name, RType, Rcode};

use crate::config::ValidationLimits;
use crate::mesh::{Key, Recursor, Task};
use crate::{ExtendedError, Resolution, Security};

/// Most signatures a recursor remembers as verified.
const MEMO_ENTRIES: usize = 8192;

/// Signatures already verified, remembered by a keyed hash of (algorithm, key, signed data,
/// signature): every expansion of one wildcard carries the same signature over the same data
/// (the wildcard's), and the same NSEC/NSEC3 records prove answer after answer, so a flood of
/// random names costs one check per distinct signature, not one per answer. Only successes are
/// kept; the validity window is checked every time before the crypto (`verify_rrsig`). The
/// hash is SipHash keyed by a secret from the recursor's CSPRNG, so nobody can make a forged
/// RRset collide with a remembered one. Cleared when full.
#[derive(Debug)]
pub(crate) struct SigMemo {
    key: [u8; 16],
    seen: RefCell<HashSet<u128>>,
}

impl SigMemo {
    pub(crate) fn new(key: [u8; 16]) -> SigMemo {
        SigMemo {
            key,
            seen: RefCell::new(HashSet::new()),
        }
    }

    fn digest(&self, algorithm: u8, public_key: &[u8], message: &[u8], signature: &[u8]) -> u128 {
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write_u8(algorithm);
        h.write_usize(public_key.len());
        h.write(public_key);
        h.write_usize(message.len());
        h.write(message);
        h.write(signature);
        h.finish128().as_u128()
    }
}

/// [`RingCrypto`] behind the memo, counting the verifications it really makes.
struct MemoCrypto<'a> {
    inner: RingCrypto,
    memo: &'a SigMemo,
    made: Cell<u64>,
}

impl Crypto for MemoCrypto<'_> {
    fn verify(
        &self,
        algorithm: u8,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let digest = self.memo.digest(algorithm, public_key, message, signature);
        if self.memo.seen.borrow().contains(&digest) {
            return Ok(());
        }
        self.made.set(self.made.get() + 1);
        self.inner
            .verify(algorithm, public_key, message, signature)?;
        let mut seen = self.memo.seen.borrow_mut();
        if seen.len() >= MEMO_ENTRIES {
            seen.clear();
        }
        seen.insert(digest);
        Ok(())
    }
}

/// Most labels the walk for an unsigned answer goes down.
const MAX_WALK: usize = 16;

/// Most times one resolution's validation waits for keys before giving up.
const MAX_ROUNDS: u32 = 32;

/// A resolution waiting for the keys to validate it.
#[derive(Debug)]
pub(crate) struct Pending {
    /// The answer to judge.
    pub resolution: Resolution,
    /// The zone whose server gave the answer (iteration only; `None` for a forwarder's or the
    /// cache's answer).
    pub source_zone: Option<Name>,
    /// Finished key resolutions (DNSKEY and DS) by question.
    pub results: HashMap<Key, Arc<Resolution>>,
    /// Times it waited.
    pub rounds: u32,
}

/// What is known of a zone's keys.
#[derive(Clone, Debug)]
enum KeyState {
    /// The zone's validated DNSKEY RDATAs.
    Secure(Vec<Vec<u8>>),
    /// The zone is unsigned, or outside every trust anchor, or under a negative anchor; with
    /// the reason when it is worth telling (an unsupported algorithm).
    Insecure(Option<ExtendedError>),
    Bogus(ExtendedError),
}

/// What the parent says of a zone's DS.
#[derive(Clone, Debug)]
enum DsState {
    /// A trust anchor at the zone: (DS RDATAs, DNSKEY RDATAs).
    Anchor(Vec<Vec<u8>>, Vec<Vec<u8>>),
    /// A validated DS RRset.
    Secure(Vec<Vec<u8>>),
    /// Proven without DS (an unsigned delegation), or the parent is insecure.
    Insecure(Option<ExtendedError>),
    /// The name is no zone cut (the parent's NSEC shows no NS there).
    NotACut,
    Bogus(ExtendedError),
}

/// A judgement.
#[derive(Clone, Debug)]
enum Verdict {
    Secure,
    Insecure(Option<ExtendedError>),
    Bogus(ExtendedError),
}

impl Verdict {
    /// The combined verdict of an answer made of parts: bogus wins, then insecure.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Bogus(e), _) | (_, Verdict::Bogus(e)) => Verdict::Bogus(e),
            (Verdict::Insecure(a), Verdict::Insecure(b)) => Verdict::Insecure(a.or(b)),
            (Verdict::Insecure(e), _) | (_, Verdict::Insecure(e)) => Verdict::Insecure(e),
            (Verdict::Secure, Verdict::Secure) => Verdict::Secure,
        }
    }
}

/// What must be resolved before judging: the questions to ask.
type Need = Vec<Key>;

/// A key question to resolve first (boxed: a `Key` holds a whole name).
type Fetch = Box<Key>;

/// How one RRset of the answer is to be checked. (Made and consumed within one judgement,
/// so the size of the key variant does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
enum Basis {
    /// Verify its signatures with these keys of `zone`.
    Keys { zone: Name, keys: Vec<Vec<u8>> },
    /// Already judged (insecure zone, bogus chain, or unsigned data judged by the walk).
    Judged(Verdict),
}

fn bogus(code: u16, text: impl Into<String>) -> Verdict {
    Verdict::Bogus(ExtendedError {
        code,
        text: text.into(),
    })
}

fn ede(code: u16, text: impl Into<String>) -> ExtendedError {
    ExtendedError {
        code,
        text: text.into(),
    }
}

/// The signer named by the first RRSIG of `set` that parses.
fn signer_of(set: &RrSet) -> Option<Name> {
    set.sigs
        .iter()
        .find_map(|sig| match RData::parse(RType::RRSIG, sig) {
            Ok(RData::Rrsig(r)) => Some(r.signer.to_name()),
            _ => None,
        })
}

/// The RRsets of a negative answer that carry proof: the SOA and the NSEC/NSEC3 RRsets.
fn proof_sets(authority: &[RrSet]) -> Vec<&RrSet> {
    authority
        .iter()
        .filter(|s| matches!(s.rtype, RType::SOA | RType::NSEC | RType::NSEC3))
        .collect()
}

impl Recursor {
    /// Whether `task`'s result must be validated before it is handed out.
    pub(crate) fn needs_validation(&self, task: &Task, resolution: &Resolution) -> bool {
        let v = &self.config.validation;
        v.enabled
            && !task.key.cd
            && !task.priming
            && !task.internal
            && task.key.qclass == Class::IN
            && resolution.security == Security::Indeterminate
            && (resolution.rcode == Rcode::NOERROR || resolution.rcode == Rcode::NXDOMAIN)
            && !v.anchors.current().is_empty()
    }

    /// Starts or continues validating `task`'s result: either finishes the task with the
    /// verdict, or leaves it waiting for key resolutions (`task.validation`).
    pub(crate) fn validate(&mut self, task: &mut Task, mut pending: Pending, now: Time) {
        loop {
            pending.rounds += 1;
            let judged = self.judge(task, &pending, now);
            match judged {
                Ok(verdict) => {
                    self.apply(task, pending, verdict, now);
                    return;
                }
                Err(needs) => {
                    if pending.rounds > MAX_ROUNDS {
                        let verdict = bogus(Ede::DNSSEC_BOGUS, "chain of trust too long");
                        self.apply(task, pending, verdict, now);
                        return;
                    }
                    let before = task.pending_subs;
                    for key in needs {
                        if pending.results.contains_key(&key) {
                            continue;
                        }
                        if self.on_chain(task, &key) {
                            // The chain of trust depends on itself (a DS answered by the
                            // child): that link fails.
                            pending.results.insert(
                                key,
                                Arc::new(crate::mesh::servfail(ede(
                                    Ede::DNSSEC_BOGUS,
                                    "chain of trust loops",
                                ))),
                            );
                            continue;
                        }
                        let subs = task.pending_subs;
                        self.depend_on(task, key.clone(), now);
                        if task.pending_subs == subs {
                            pending.results.insert(
                                key,
                                Arc::new(crate::mesh::servfail(ede(
                                    Ede::DNSSEC_INDETERMINATE,
                                    "no room to fetch a key",
                                ))),
                            );
                        } else if let Some(&id) = self.mesh.get(&key)
                            && let Some(sub) = self.tasks.get_mut(&id)
                        {
                            // Key lookups do not count toward the nesting limit (which
                            // bounds name-server address lookups); cycles are caught above.
                            sub.depth = task.depth;
                        }
                    }
                    if task.pending_subs > before {
                        self.stats.validation_waits += 1;
                        task.validation = Some(Box::new(pending));
                        return;
                    }
                }
            }
        }
    }

    /// A key resolution that a validating task waited for finished.
    pub(crate) fn validation_sub_done(
        &mut self,
        task: &mut Task,
        key: &Key,
        resolution: &Arc<Resolution>,
        now: Time,
    ) {
        let Some(mut pending) = task.validation.take() else {
            return;
        };
        pending.results.insert(key.clone(), Arc::clone(resolution));
        if task.pending_subs > 0 {
            task.validation = Some(pending);
            return;
        }
        self.validate(task, *pending, now);
    }

    /// Ends the task with the verdict: caches what was validated, turns bogus into SERVFAIL.
    fn apply(&mut self, task: &mut Task, pending: Pending, verdict: Verdict, now: Time) {
        let mut resolution = pending.resolution;
        let v = &self.config.validation;
        match verdict {
            Verdict::Bogus(error) => {
                if error.code == Ede::DNSSEC_INDETERMINATE {
                    self.stats.validation_indeterminate += 1;
                } else {
                    self.stats.validation_bogus += 1;
                }
                let ttl = v.bogus_ttl;
                self.cache.insert_failure_ede(
                    task.qname.as_ref(),
                    task.key.qtype,
                    ttl,
                    error.code,
                    now,
                );
                resolution = Resolution {
                    rcode: Rcode::SERVFAIL,
                    answer: Vec::new(),
                    authority: Vec::new(),
                    extended_error: Some(error),
                    security: Security::Bogus,
                };
            }
            Verdict::Secure => {
                self.stats.validation_secure += 1;
                self.observe_anchor(task, &resolution, now);
                self.keep_denials(&resolution, now);
                self.store_validated(task, &mut resolution, Validation::Secure, now);
                resolution.security = Security::Secure;
            }
            Verdict::Insecure(error) => {
                self.stats.validation_insecure += 1;
                self.store_validated(task, &mut resolution, Validation::Insecure, now);
                resolution.security = Security::Insecure;
                if resolution.extended_error.is_none() {
                    resolution.extended_error = error;
                }
            }
        }
        self.complete(task, resolution, now);
    }

    /// The NSEC/NSEC3 records of a secure answer go to the RFC 8198 index, with the SOA of
    /// their zone when the answer is negative.
    fn keep_denials(&self, resolution: &Resolution, now: Time) {
        let Some(index) = &self.config.validation.aggressive_nsec else {
            return;
        };
        let Some(soa) = resolution.authority.iter().find(|s| s.rtype == RType::SOA) else {
            return;
        };
        let Some(zone) = signer_of(soa) else {
            return;
        };
        let proofs: Vec<RrSet> = resolution
            .authority
            .iter()
            .filter(|s| {
                matches!(s.rtype, RType::NSEC | RType::NSEC3) && signer_of(s) == Some(zone.clone())
            })
            .cloned()
            .collect();
        let max_iterations = self.config.validation.limits.max_nsec3_iterations;
        index.insert(&zone, soa, &proofs, max_iterations, now);
    }

    /// An NXDOMAIN or NODATA for the name being resolved, proven by validated NSEC/NSEC3
    /// records of the RFC 8198 index without asking; `None` when they prove nothing.
    pub(crate) fn aggressive_negative(&self, task: &Task, now: Time) -> Option<Resolution> {
        let v = &self.config.validation;
        let index = v.aggressive_nsec.as_ref()?;
        if !v.active() || task.key.cd || index.is_empty() {
            return None;
        }
        let qtype = task.key.qtype;
        let found = index.candidates(&task.qname, qtype, now)?;
        if v.negative_anchors.covers(found.zone.as_ref()) {
            return None;
        }
        let limits = self.nsec3_limits();
        let qname = task.qname.as_ref();
        let rcode = if matches!(
            denial::prove_nxdomain(qname, found.zone.as_ref(), &found.proofs, &limits),
            Ok(Denial::Proven)
        ) {
            Rcode::NXDOMAIN
        } else if matches!(
            denial::prove_nodata(qname, qtype, found.zone.as_ref(), &found.proofs, &limits),
            Ok(Denial::Proven)
        ) {
            Rcode::NOERROR
        } else {
            return None;
        };
        let mut authority = vec![found.soa];
        authority.extend(found.proofs);
        Some(Resolution {
            rcode,
            // The caller puts the alias chain in front.
            answer: Vec::new(),
            authority,
            extended_error: None,
            security: Security::Secure,
        })
    }

    /// A validated DNSKEY RRset of a zone whose anchors RFC 5011 manages: a check of its keys.
    fn observe_anchor(&self, task: &Task, resolution: &Resolution, now: Time) {
        let crate::anchors::Anchors::Managed(managed) = &self.config.validation.anchors else {
            return;
        };
        if task.key.qtype != RType::DNSKEY || !managed.tracks(task.key.qname.as_ref()) {
            return;
        }
        let Some(set) = resolution
            .answer
            .iter()
            .find(|s| s.rtype == RType::DNSKEY && s.owner == task.key.qname)
        else {
            return;
        };
        let now_secs = now.as_millis() / 1000;
        let crypto = RingCrypto {
            sha1: self.config.validation.sha1,
        };
        let signed_by = |key: &[u8]| {
            set.sigs
                .iter()
                .any(|sig| verify_rrsig(&crypto, set, sig, key, now_secs).is_ok())
        };
        let expiry = now_secs + u64::from(signature_ttl(set, now_secs).min(30 * 86_400));
        managed.observe(
            task.key.qname.as_ref(),
            &set.rdatas,
            signed_by,
            set.ttl,
            expiry,
            now_secs,
        );
    }

    /// Puts the validated RRsets back into the cache marked with `validation`, TTLs capped by
    /// the signatures' expiry (RFC 4035 section 5.3.3); the same cap applies to the answer.
    fn store_validated(
        &self,
        task: &Task,
        resolution: &mut Resolution,
        validation: Validation,
        now: Time,
    ) {
        let now_secs = now.as_millis() / 1000;
        for set in resolution
            .answer
            .iter_mut()
            .chain(resolution.authority.iter_mut())
        {
            set.ttl = set.ttl.min(signature_ttl(set, now_secs));
        }
        let proofs: Vec<RrSet> = resolution
            .authority
            .iter()
            .filter(|s| matches!(s.rtype, RType::NSEC | RType::NSEC3))
            .cloned()
            .collect();
        for (i, set) in resolution.answer.iter().enumerate() {
            let trust = self
                .cache
                .rrset_validated(set.owner.as_ref(), set.rtype, now)
                .map(|(_, t, _)| t);
            let Some(trust) = trust.filter(|t| *t >= Trust::Answer) else {
                continue;
            };
            if is_synthesised_cname(resolution.answer.get(i.wrapping_sub(1)), set) {
                continue;
            }
            let wildcard = is_wildcard_expansion(set);
            let kept: &[RrSet] = if wildcard { &proofs } else { &[] };
            self.cache
                .insert_validated(set, kept, trust, validation, now);
        }
        let negative = match resolution.rcode {
            Rcode::NXDOMAIN => Some(NegativeKind::NxDomain),
            Rcode::NOERROR if !answers_question(task, resolution) => Some(NegativeKind::NoData),
            _ => None,
        };
        if let Some(kind) = negative
            && let Some(soa) = resolution.authority.iter().find(|s| s.rtype == RType::SOA)
        {
            let others: Vec<RrSet> = resolution
                .authority
                .iter()
                .filter(|s| s.rtype != RType::SOA)
                .cloned()
                .collect();
            let denied = denied_name(task, resolution);
            self.cache.insert_negative_validated(
                denied.as_ref(),
                task.key.qtype,
                kind,
                soa,
                &others,
                validation,
                now,
            );
        }
    }

    /// Judges the pending answer, or says which key resolutions must finish first.
    fn judge(&mut self, task: &Task, pending: &Pending, now: Time) -> Result<Verdict, Need> {
        let resolution = &pending.resolution;
        let mut needs: Need = Vec::new();
        let mut plans: Vec<(usize, Basis)> = Vec::new();
        let last = resolution.answer.len().saturating_sub(1);
        for (i, set) in resolution.answer.iter().enumerate() {
            if i > 0 && is_synthesised_cname(resolution.answer.get(i - 1), set) {
                // Vouched for by the DNAME before it (RFC 6672 section 5.3.1).
                continue;
            }
            let source = if i == last && resolution.rcode == Rcode::NOERROR {
                pending.source_zone.as_ref()
            } else {
                None
            };
            match self.basis_for(task, pending, set, source, now) {
                Ok(basis) => plans.push((i, basis)),
                Err(key) => needs.push(*key),
            }
        }
        let negative = resolution.rcode == Rcode::NXDOMAIN || !answers_question(task, resolution);
        let mut negative_basis = None;
        let mut wildcard_zone_keys: Option<Basis> = None;
        if negative {
            match self.negative_basis(task, pending, now) {
                Ok(basis) => negative_basis = Some(basis),
                Err(key) => needs.push(*key),
            }
        } else if resolution.answer.iter().any(is_wildcard_expansion) {
            // The wildcard proofs are signed by the same zone as the expanded RRset.
            let signer = resolution
                .answer
                .iter()
                .find(|s| is_wildcard_expansion(s))
                .and_then(signer_of);
            if let Some(zone) = signer {
                match self.key_state(task, pending, &zone, now) {
                    Ok(state) => wildcard_zone_keys = Some(basis_from_state(zone, state)),
                    Err(key) => needs.push(*key),
                }
            }
        }
        if !needs.is_empty() {
            let mut unique: Need = Vec::with_capacity(needs.len());
            for key in needs {
                if !unique.contains(&key) {
                    unique.push(key);
                }
            }
            return Err(unique);
        }

        // Everything known: check signatures and proofs.
        let started = std::time::Instant::now();
        let limits = self.config.validation.limits;
        let mut budget = limits.max_validations_per_resolution;
        let now_secs = now.as_millis() / 1000;
        let crypto = MemoCrypto {
            inner: RingCrypto {
                sha1: self.config.validation.sha1,
            },
            memo: &self.sig_memo,
            made: Cell::new(0),
        };
        let mut verdict = Verdict::Secure;
        for (i, basis) in plans {
            let Some(set) = resolution.answer.get(i) else {
                continue;
            };
            let v = match basis {
                Basis::Judged(v) => v,
                Basis::Keys { zone, keys } => {
                    let mut v =
                        check_set(&crypto, set, &zone, &keys, &limits, &mut budget, now_secs);
                    if matches!(v, Verdict::Secure) && is_wildcard_expansion(set) {
                        v = self.check_wildcard(
                            set,
                            &zone,
                            resolution,
                            &wildcard_zone_keys,
                            &crypto,
                            &mut budget,
                            now_secs,
                        );
                    }
                    v
                }
            };
            verdict = verdict.and(v);
        }
        if let Some(basis) = negative_basis {
            let v = match basis {
                Basis::Judged(v) => v,
                Basis::Keys { zone, keys } => self.check_negative(
                    task,
                    resolution,
                    &zone,
                    &keys,
                    &crypto,
                    &mut budget,
                    now_secs,
                ),
            };
            verdict = verdict.and(v);
        }
        let made = crypto.made.get();
        self.stats.signature_checks += made;
        self.stats.validation_nanos += u64::try_from(started.elapsed().as_nanos()).unwrap_or(0);
        Ok(verdict)
    }

    /// How one answer RRset is to be judged.
    fn basis_for(
        &self,
        task: &Task,
        pending: &Pending,
        set: &RrSet,
        source: Option<&Name>,
        now: Time,
    ) -> Result<Basis, Fetch> {
        if let Some((cached, _, validation)) =
            self.cache
                .rrset_validated(set.owner.as_ref(), set.rtype, now)
            && cached.rdatas == set.rdatas
        {
            // Judged before (and still cached): no need to check the signatures again.
            match validation {
                Validation::Secure => return Ok(Basis::Judged(Verdict::Secure)),
                Validation::Insecure => return Ok(Basis::Judged(Verdict::Insecure(None))),
                Validation::Unchecked => {}
            }
        }
        let Some(signer) = signer_of(set) else {
            let owner = set.owner.clone();
            return self
                .unsigned(task, pending, &owner, set.rtype, source, now)
                .map(Basis::Judged);
        };
        if !set.owner.as_ref().is_subdomain_of(signer.as_ref()) {
            return Ok(Basis::Judged(bogus(
                Ede::DNSSEC_BOGUS,
                format!("{} is signed by {}, not its zone", set.owner, signer),
            )));
        }
        if set.rtype == RType::DNSKEY && set.owner.as_ref() == signer.as_ref() {
            // A zone's own key set: vouched for by the parent's DS or a trust anchor.
            return self.dnskey_basis(pending, set, &signer, now);
        }
        let state = self.key_state(task, pending, &signer, now)?;
        Ok(basis_from_state(signer, state))
    }

    /// The basis of a negative answer: the key state of the zone that signed its SOA/proofs.
    fn negative_basis(&self, task: &Task, pending: &Pending, now: Time) -> Result<Basis, Fetch> {
        let resolution = &pending.resolution;
        let sets = proof_sets(&resolution.authority);
        let signer = sets.iter().find_map(|s| signer_of(s));
        let name = denied_name(task, resolution);
        let Some(signer) = signer else {
            // An unsigned negative answer: insecure only below a proven unsigned cut.
            return self
                .unsigned(
                    task,
                    pending,
                    &name,
                    task.key.qtype,
                    pending.source_zone.as_ref(),
                    now,
                )
                .map(Basis::Judged);
        };
        if !name.as_ref().is_subdomain_of(signer.as_ref()) {
            return Ok(Basis::Judged(bogus(
                Ede::DNSSEC_BOGUS,
                format!("negative answer for {name} signed by {signer}"),
            )));
        }
        if task.key.qtype == RType::DNSKEY && name.as_ref() == signer.as_ref() {
            // A zone denying its own DNSKEY: fine only if the zone is unsigned.
            return Ok(Basis::Judged(
                match self.ds_state(pending, &signer, now)? {
                    DsState::Insecure(e) => Verdict::Insecure(e),
                    DsState::Bogus(e) => Verdict::Bogus(e),
                    DsState::Anchor(..) | DsState::Secure(_) | DsState::NotACut => {
                        bogus(Ede::DNSKEY_MISSING, format!("{signer} has no DNSKEY"))
                    }
                },
            ));
        }
        let state = self.key_state(task, pending, &signer, now)?;
        Ok(basis_from_state(signer, state))
    }

    /// The key state of `zone`, from a trust anchor's absence, a negative anchor, a finished
    /// key resolution or the cache; `Err` names the DNSKEY question to resolve.
    fn key_state(
        &self,
        task: &Task,
        pending: &Pending,
        zone: &Name,
        now: Time,
    ) -> Result<KeyState, Fetch> {
        let v = &self.config.validation;
        if v.negative_anchors.covers(zone.as_ref()) {
            return Ok(KeyState::Insecure(None));
        }
        if v.anchors.current().closest(zone.as_ref()).is_none() {
            return Ok(KeyState::Insecure(None));
        }
        let key = Key::new(zone, RType::DNSKEY, Class::IN, false);
        if task.key == key {
            // Judging the zone's own DNSKEY answer without a DNSKEY RRset in it (unsigned, or
            // denied): what the parent says of the zone decides.
            return Ok(match self.ds_state(pending, zone, now)? {
                DsState::Insecure(e) => KeyState::Insecure(e),
                DsState::Bogus(e) => KeyState::Bogus(e),
                DsState::NotACut => KeyState::Bogus(ede(
                    Ede::DNSKEY_MISSING,
                    format!("{zone} is no zone cut in its parent"),
                )),
                DsState::Anchor(..) | DsState::Secure(_) => KeyState::Bogus(ede(
                    Ede::DNSKEY_MISSING,
                    format!("the DNSKEY RRset of signed zone {zone} is missing"),
                )),
            });
        }
        if let Some(res) = pending.results.get(&key) {
            return Ok(key_state_from(zone, res));
        }
        if let Some(fail) = self.cache.failure_ede(zone.as_ref(), RType::DNSKEY, now)
            && is_dnssec_error(fail)
        {
            return Ok(KeyState::Bogus(ede(
                fail,
                format!("keys of {zone} are bogus"),
            )));
        }
        if let Some((set, _, validation)) =
            self.cache
                .rrset_validated(zone.as_ref(), RType::DNSKEY, now)
        {
            match validation {
                Validation::Secure => return Ok(KeyState::Secure(set.rdatas)),
                Validation::Insecure => return Ok(KeyState::Insecure(None)),
                Validation::Unchecked => {}
            }
        }
        if let Some(negative) = self.cache.negative(zone.as_ref(), RType::DNSKEY, now)
            && negative.validation == Validation::Insecure
        {
            return Ok(KeyState::Insecure(None));
        }
        Err(Box::new(key))
    }

    /// What the parent (or an anchor) says of `zone`'s DS; `Err` names the DS question.
    fn ds_state(&self, pending: &Pending, zone: &Name, now: Time) -> Result<DsState, Fetch> {
        let v = &self.config.validation;
        if v.negative_anchors.covers(zone.as_ref()) {
            return Ok(DsState::Insecure(None));
        }
        let anchors = v.anchors.current();
        if let Some(anchor) = anchors.get(zone.as_ref()) {
            return Ok(DsState::Anchor(anchor.ds.clone(), anchor.dnskey.clone()));
        }
        if zone.as_ref().is_root() || anchors.closest(zone.as_ref()).is_none() {
            return Ok(DsState::Insecure(None));
        }
        let key = Key::new(zone, RType::DS, Class::IN, false);
        if let Some(res) = pending.results.get(&key) {
            return Ok(self.ds_state_from(zone, res));
        }
        if let Some(fail) = self.cache.failure_ede(zone.as_ref(), RType::DS, now)
            && is_dnssec_error(fail)
        {
            return Ok(DsState::Bogus(ede(fail, format!("DS of {zone} is bogus"))));
        }
        if let Some((set, _, validation)) =
            self.cache.rrset_validated(zone.as_ref(), RType::DS, now)
        {
            match validation {
                Validation::Secure => return Ok(DsState::Secure(set.rdatas)),
                Validation::Insecure => return Ok(DsState::Insecure(None)),
                Validation::Unchecked => {}
            }
        }
        if let Some(negative) = self.cache.negative(zone.as_ref(), RType::DS, now) {
            match negative.validation {
                Validation::Insecure => return Ok(DsState::Insecure(None)),
                Validation::Secure => {
                    let kind = match negative.kind {
                        NegativeKind::NxDomain => Rcode::NXDOMAIN,
                        NegativeKind::NoData => Rcode::NOERROR,
                    };
                    let mut authority = vec![negative.soa];
                    authority.extend(negative.proofs);
                    return Ok(self.no_ds_state(zone, kind, &authority));
                }
                Validation::Unchecked => {}
            }
        }
        Err(Box::new(key))
    }

    /// The DS state from a finished DS resolution.
    fn ds_state_from(&self, zone: &Name, res: &Resolution) -> DsState {
        match res.security {
            Security::Bogus => {
                return DsState::Bogus(
                    res.extended_error.clone().unwrap_or_else(|| {
                        ede(Ede::DNSSEC_BOGUS, format!("DS of {zone} is bogus"))
                    }),
                );
            }
            Security::Insecure => return DsState::Insecure(insecure_reason(res)),
            Security::Indeterminate => {
                return DsState::Bogus(ede(
                    Ede::DNSKEY_MISSING,
                    format!("could not fetch the DS of {zone}"),
                ));
            }
            Security::Secure => {}
        }
        if let Some(ds) = res
            .answer
            .iter()
            .find(|s| s.rtype == RType::DS && s.owner.as_ref() == zone.as_ref())
        {
            return DsState::Secure(ds.rdatas.clone());
        }
        if res.answer.iter().any(|s| s.rtype == RType::CNAME) {
            return DsState::NotACut;
        }
        self.no_ds_state(zone, res.rcode, &res.authority)
    }

    /// A validated negative answer to `zone DS`: a delegation without DS (insecure child), or
    /// no cut at all.
    fn no_ds_state(&self, zone: &Name, rcode: Rcode, authority: &[RrSet]) -> DsState {
        if rcode == Rcode::NXDOMAIN {
            return DsState::NotACut;
        }
        let Some(signer) = proof_sets(authority).iter().find_map(|s| signer_of(s)) else {
            return DsState::Insecure(None);
        };
        let proofs: Vec<RrSet> = authority
            .iter()
            .filter(|s| matches!(s.rtype, RType::NSEC | RType::NSEC3))
            .cloned()
            .collect();
        let limits = self.nsec3_limits();
        match denial::prove_no_ds(zone.as_ref(), signer.as_ref(), &proofs, &limits) {
            Ok(NoDs::Delegation | NoDs::OptOut | NoDs::Insecure) => DsState::Insecure(None),
            Ok(NoDs::NotACut) => DsState::NotACut,
            Err(e) => DsState::Bogus(denial_error(e, zone)),
        }
    }

    /// The basis for a zone's own DNSKEY RRset: the keys the DS RRset (or an anchor) vouches
    /// for.
    fn dnskey_basis(
        &self,
        pending: &Pending,
        set: &RrSet,
        zone: &Name,
        now: Time,
    ) -> Result<Basis, Fetch> {
        let sha1 = self.config.validation.sha1;
        let (ds, anchored) = match self.ds_state(pending, zone, now)? {
            DsState::Anchor(ds, keys) => {
                // Anchored DNSKEYs vouch for themselves; anchored DS like a parent's.
                let trusted: Vec<Vec<u8>> = set
                    .rdatas
                    .iter()
                    .filter(|k| keys.iter().any(|a| a == *k))
                    .cloned()
                    .collect();
                (ds, trusted)
            }
            DsState::Secure(ds) => (ds, Vec::new()),
            DsState::Insecure(e) => return Ok(Basis::Judged(Verdict::Insecure(e))),
            DsState::NotACut => {
                return Ok(Basis::Judged(bogus(
                    Ede::DNSKEY_MISSING,
                    format!("{zone} is no zone cut in its parent"),
                )));
            }
            DsState::Bogus(e) => return Ok(Basis::Judged(Verdict::Bogus(e))),
        };
        let usable: Vec<(u16, u8, u8, Vec<u8>)> = ds
            .iter()
            .filter_map(|r| match RData::parse(RType::DS, r) {
                Ok(RData::Ds(d)) => {
                    Some((d.key_tag, d.algorithm, d.digest_type, d.digest.to_vec()))
                }
                _ => None,
            })
            .filter(|(_, alg, dt, _)| {
                dnssec::algorithm_supported(*alg, sha1) && dnssec::digest_supported(*dt, sha1)
            })
            .collect();
        if usable.is_empty() && anchored.is_empty() {
            // Only algorithms or digests we do not implement: insecure (RFC 6840 5.2).
            let code = if ds.iter().any(|r| {
                matches!(RData::parse(RType::DS, r), Ok(RData::Ds(d)) if !dnssec::digest_supported(d.digest_type, sha1))
            }) {
                Ede::UNSUPPORTED_DS_DIGEST
            } else {
                Ede::UNSUPPORTED_DNSKEY_ALGORITHM
            };
            return Ok(Basis::Judged(Verdict::Insecure(Some(ede(
                code,
                format!("{zone}: no DS with a supported algorithm and digest"),
            )))));
        }
        let mut trusted = anchored;
        for key in &set.rdatas {
            let Ok(RData::Dnskey(k)) = RData::parse(RType::DNSKEY, key) else {
                continue;
            };
            let tag = key_tag(key);
            for (ds_tag, alg, dt, digest) in &usable {
                if *ds_tag != tag || *alg != k.algorithm {
                    continue;
                }
                if dnssec::ds_digest(zone.as_ref(), key, *dt).is_ok_and(|d| d == *digest)
                    && !trusted.contains(key)
                {
                    trusted.push(key.clone());
                }
            }
        }
        if trusted.is_empty() {
            return Ok(Basis::Judged(bogus(
                Ede::DNSKEY_MISSING,
                format!("no DNSKEY of {zone} matches its DS"),
            )));
        }
        Ok(Basis::Keys {
            zone: zone.clone(),
            keys: trusted,
        })
    }

    /// Judges unsigned data at `owner`: insecure when a cut between the closest secure zone
    /// and `owner` is proven unsigned, bogus otherwise. `source` is the zone that answered,
    /// when known.
    fn unsigned(
        &self,
        task: &Task,
        pending: &Pending,
        owner: &Name,
        rtype: RType,
        source: Option<&Name>,
        now: Time,
    ) -> Result<Verdict, Fetch> {
        let v = &self.config.validation;
        if v.negative_anchors.covers(owner.as_ref()) {
            return Ok(Verdict::Insecure(None));
        }
        // DS lives in the parent: its zone is above the owner.
        let lookup = if rtype == RType::DS {
            owner
                .as_ref()
                .parent()
                .map(|p| p.to_name())
                .unwrap_or_else(Name::root)
        } else {
            owner.clone()
        };
        let anchors = v.anchors.current();
        let Some(anchor) = anchors.closest(lookup.as_ref()) else {
            return Ok(Verdict::Insecure(None));
        };
        let anchor_zone = anchor.zone.clone();
        if let Some(zone) = source
            && lookup.as_ref().is_subdomain_of(zone.as_ref())
            && zone.as_ref().is_subdomain_of(anchor_zone.as_ref())
        {
            // The zone that answered is known: its keys decide.
            return Ok(match self.key_state(task, pending, zone, now)? {
                KeyState::Insecure(e) => Verdict::Insecure(e),
                KeyState::Bogus(e) => Verdict::Bogus(e),
                KeyState::Secure(_) => bogus(
                    Ede::RRSIGS_MISSING,
                    format!("{owner} {rtype} from signed zone {zone} has no RRSIG"),
                ),
            });
        }
        // Walk down from the closest known cut toward the owner.
        let mut zone = self
            .cache
            .closest_delegation(lookup.as_ref(), now)
            .map(|ns| ns.owner)
            .filter(|cut| cut.as_ref().is_subdomain_of(anchor_zone.as_ref()))
            .unwrap_or(anchor_zone);
        match self.key_state(task, pending, &zone, now)? {
            KeyState::Insecure(e) => return Ok(Verdict::Insecure(e)),
            KeyState::Bogus(e) => return Ok(Verdict::Bogus(e)),
            KeyState::Secure(_) => {}
        }
        let target_labels = lookup.as_ref().label_count();
        let mut labels = zone.as_ref().label_count() + 1;
        for _ in 0..MAX_WALK {
            if labels > target_labels {
                break;
            }
            let Some(child) = ancestor_with_labels(&lookup, labels) else {
                break;
            };
            match self.ds_state(pending, &child, now)? {
                DsState::Insecure(e) => return Ok(Verdict::Insecure(e)),
                DsState::Bogus(e) => return Ok(Verdict::Bogus(e)),
                DsState::NotACut => labels += 1,
                DsState::Secure(_) | DsState::Anchor(..) => {
                    match self.key_state(task, pending, &child, now)? {
                        KeyState::Insecure(e) => return Ok(Verdict::Insecure(e)),
                        KeyState::Bogus(e) => return Ok(Verdict::Bogus(e)),
                        KeyState::Secure(_) => {
                            zone = child;
                            labels = zone.as_ref().label_count() + 1;
                        }
                    }
                }
            }
        }
        Ok(bogus(
            Ede::RRSIGS_MISSING,
            format!("{owner} {rtype} has no RRSIG below signed zone {zone}"),
        ))
    }

    /// Checks a negative answer: the SOA and proofs verify with `keys`, and the proofs deny
    /// the name or type (RFC 4035 section 5.4, RFC 5155 section 8).
    #[allow(clippy::too_many_arguments)]
    fn check_negative(
        &self,
        task: &Task,
        resolution: &Resolution,
        zone: &Name,
        keys: &[Vec<u8>],
        crypto: &dyn Crypto,
        budget: &mut u32,
        now_secs: u64,
    ) -> Verdict {
        let limits = self.config.validation.limits;
        let mut verdict = Verdict::Secure;
        let sets = proof_sets(&resolution.authority);
        let mut proofs = Vec::new();
        for set in sets {
            if set.sigs.is_empty() {
                if set.rtype == RType::SOA {
                    verdict = verdict.and(bogus(
                        Ede::RRSIGS_MISSING,
                        format!("SOA of {zone} has no RRSIG"),
                    ));
                }
                // Unsigned NSEC records prove nothing; they are ignored.
                continue;
            }
            let v = check_set(crypto, set, zone, keys, &limits, budget, now_secs);
            if matches!(v, Verdict::Secure) && set.rtype != RType::SOA {
                proofs.push(set.clone());
            }
            if set.rtype == RType::SOA {
                verdict = verdict.and(v);
            } else if let Verdict::Bogus(e) = v {
                // A bad signature on a proof record: bogus (RFC 4035 5.3).
                verdict = verdict.and(Verdict::Bogus(e));
            }
        }
        if let Verdict::Bogus(_) = verdict {
            return verdict;
        }
        let limits = self.nsec3_limits();
        let denied = denied_name(task, resolution);
        let qname = denied.as_ref();
        let proof = if resolution.rcode == Rcode::NXDOMAIN {
            denial::prove_nxdomain(qname, zone.as_ref(), &proofs, &limits)
        } else {
            denial::prove_nodata(qname, task.key.qtype, zone.as_ref(), &proofs, &limits)
        };
        match proof {
            Ok(Denial::Proven) => verdict,
            Ok(Denial::OptOut | Denial::Insecure) => verdict.and(Verdict::Insecure(None)),
            Err(DenialError::UnsupportedHash) => verdict.and(Verdict::Insecure(None)),
            Err(e) => Verdict::Bogus(denial_error(e, &denied)),
        }
    }

    /// Checks that a wildcard expansion is allowed: the next closer name does not exist
    /// (RFC 4035 section 5.3.4, RFC 5155 section 8.8).
    #[allow(clippy::too_many_arguments)]
    fn check_wildcard(
        &self,
        set: &RrSet,
        zone: &Name,
        resolution: &Resolution,
        zone_keys: &Option<Basis>,
        crypto: &dyn Crypto,
        budget: &mut u32,
        now_secs: u64,
    ) -> Verdict {
        let Some(labels) = set
            .sigs
            .iter()
            .find_map(|s| match RData::parse(RType::RRSIG, s) {
                Ok(RData::Rrsig(r)) => Some(r.labels),
                _ => None,
            })
        else {
            return bogus(Ede::RRSIGS_MISSING, "wildcard answer without RRSIG");
        };
        let keys = match zone_keys {
            Some(Basis::Keys { keys, .. }) => keys.as_slice(),
            Some(Basis::Judged(v)) => return v.clone(),
            None => return bogus(Ede::DNSKEY_MISSING, "no keys for the wildcard proof"),
        };
        let limits = self.config.validation.limits;
        let mut proofs = Vec::new();
        for proof in resolution
            .authority
            .iter()
            .filter(|s| matches!(s.rtype, RType::NSEC | RType::NSEC3) && !s.sigs.is_empty())
        {
            match check_set(crypto, proof, zone, keys, &limits, budget, now_secs) {
                Verdict::Secure => proofs.push(proof.clone()),
                Verdict::Bogus(e) => return Verdict::Bogus(e),
                Verdict::Insecure(_) => {}
            }
        }
        let nsec3 = self.nsec3_limits();
        match denial::prove_wildcard(set.owner.as_ref(), labels, zone.as_ref(), &proofs, &nsec3) {
            Ok(Denial::Proven) => Verdict::Secure,
            Ok(Denial::OptOut | Denial::Insecure) => Verdict::Insecure(None),
            Err(DenialError::UnsupportedHash) => Verdict::Insecure(None),
            Err(e) => Verdict::Bogus(denial_error(e, &set.owner)),
        }
    }

    fn nsec3_limits(&self) -> denial::Nsec3Limits {
        let l = self.config.validation.limits;
        denial::Nsec3Limits {
            max_iterations: l.max_nsec3_iterations,
            max_hashes: l.max_nsec3_hashes,
        }
    }
}

/// The key state a finished `zone DNSKEY` resolution gives.
fn key_state_from(zone: &Name, res: &Resolution) -> KeyState {
    match res.security {
        Security::Secure => {
            let keys = res
                .answer
                .iter()
                .find(|s| s.rtype == RType::DNSKEY && s.owner.as_ref() == zone.as_ref());
            match keys {
                Some(set) => KeyState::Secure(set.rdatas.clone()),
                None => KeyState::Bogus(ede(Ede::DNSKEY_MISSING, format!("{zone} has no DNSKEY"))),
            }
        }
        Security::Insecure => KeyState::Insecure(insecure_reason(res)),
        Security::Bogus => KeyState::Bogus(
            res.extended_error
                .clone()
                .unwrap_or_else(|| ede(Ede::DNSSEC_BOGUS, format!("keys of {zone} are bogus"))),
        ),
        Security::Indeterminate => KeyState::Bogus(ede(
            Ede::DNSKEY_MISSING,
            format!("could not fetch the DNSKEY of {zone}"),
        )),
    }
}

/// The reason worth passing on with an insecure result: an unsupported algorithm or digest
/// (RFC 8914 codes 1 and 2).
fn insecure_reason(res: &Resolution) -> Option<ExtendedError> {
    res.extended_error.clone().filter(|e| {
        e.code == Ede::UNSUPPORTED_DNSKEY_ALGORITHM || e.code == Ede::UNSUPPORTED_DS_DIGEST
    })
}

fn basis_from_state(zone: Name, state: KeyState) -> Basis {
    match state {
        KeyState::Secure(keys) => Basis::Keys { zone, keys },
        KeyState::Insecure(e) => Basis::Judged(Verdict::Insecure(e)),
        KeyState::Bogus(e) => Basis::Judged(Verdict::Bogus(e)),
    }
}

/// Verifies one RRset's signatures against the keys of `zone`, within the KeyTrap limits:
/// secure when one RRSIG verifies (RFC 6840 section 5.11: any valid path).
fn check_set(
    crypto: &dyn Crypto,
    set: &RrSet,
    zone: &Name,
    keys: &[Vec<u8>],
    limits: &ValidationLimits,
    budget: &mut u32,
    now_secs: u64,
) -> Verdict {
    if set.sigs.is_empty() {
        return bogus(
            Ede::RRSIGS_MISSING,
            format!("{} {} has no RRSIG", set.owner, set.rtype),
        );
    }
    let mut last_error: Option<VerifyError> = None;
    let mut tried_sigs = 0u32;
    for sig in &set.sigs {
        let Ok(RData::Rrsig(r)) = RData::parse(RType::RRSIG, sig) else {
            last_error.get_or_insert(VerifyError::Malformed);
            continue;
        };
        if r.signer != zone.as_ref() {
            continue;
        }
        if tried_sigs >= limits.max_signatures_per_rrset {
            break;
        }
        tried_sigs += 1;
        let mut tried_keys = 0u32;
        let mut matched = false;
        for key in keys {
            if key_tag(key) != r.key_tag {
                continue;
            }
            let Ok(RData::Dnskey(k)) = RData::parse(RType::DNSKEY, key) else {
                continue;
            };
            if k.algorithm != r.algorithm {
                continue;
            }
            if tried_keys >= limits.max_keys_per_signature {
                break;
            }
            if *budget == 0 {
                return bogus(
                    Ede::DNSSEC_BOGUS,
                    "too many signature checks for one answer",
                );
            }
            *budget -= 1;
            tried_keys += 1;
            matched = true;
            match verify_rrsig(crypto, set, sig, key, now_secs) {
                Ok(()) => return Verdict::Secure,
                Err(e) => {
                    // Keep the most telling reason: a time error over a key mismatch.
                    if !matches!(
                        last_error,
                        Some(VerifyError::Expired | VerifyError::NotYetValid)
                    ) {
                        last_error = Some(e);
                    }
                }
            }
        }
        if !matched && last_error.is_none() {
            last_error = Some(VerifyError::KeyMismatch);
        }
    }
    let what = format!("{} {}", set.owner, set.rtype);
    Verdict::Bogus(match last_error {
        Some(VerifyError::Expired) => {
            ede(Ede::SIGNATURE_EXPIRED, format!("{what}: signature expired"))
        }
        Some(VerifyError::NotYetValid) => ede(
            Ede::SIGNATURE_NOT_YET_VALID,
            format!("{what}: signature not yet valid"),
        ),
        Some(VerifyError::KeyMismatch) | None => ede(
            Ede::DNSKEY_MISSING,
            format!("{what}: no DNSKEY of {zone} matches its RRSIG"),
        ),
        Some(VerifyError::UnsupportedAlgorithm) => ede(
            Ede::UNSUPPORTED_DNSKEY_ALGORITHM,
            format!("{what}: signature algorithm not supported"),
        ),
        Some(e) => ede(Ede::DNSSEC_BOGUS, format!("{what}: {e}")),
    })
}

/// The EDE for a failed denial proof.
fn denial_error(e: DenialError, name: &Name) -> ExtendedError {
    match e {
        DenialError::Missing => ede(Ede::NSEC_MISSING, format!("no NSEC/NSEC3 proof for {name}")),
        DenialError::TooManyHashes => ede(
            Ede::DNSSEC_BOGUS,
            format!("too many NSEC3 hashes to check the proof for {name}"),
        ),
        DenialError::Malformed => ede(
            Ede::DNSSEC_BOGUS,
            format!("malformed NSEC/NSEC3 for {name}"),
        ),
        DenialError::UnsupportedHash => ede(
            Ede::DNSSEC_INDETERMINATE,
            format!("unsupported NSEC3 hash for {name}"),
        ),
    }
}

/// Whether an EDE code is one validation gives (a remembered bogus result).
pub(crate) fn is_dnssec_error(code: u16) -> bool {
    (Ede::DNSSEC_BOGUS..=Ede::NSEC_MISSING).contains(&code) || code == Ede::DNSSEC_INDETERMINATE
}

/// Whether the answer holds the data asked for (not only a chain ending in NODATA).
fn answers_question(task: &Task, resolution: &Resolution) -> bool {
    resolution
        .answer
        .last()
        .is_some_and(|s| s.rtype == task.key.qtype || task.key.qtype == RType::ANY)
}

/// The name a negative answer denies: the end of the alias chain in the answer, or the name
/// being resolved.
fn denied_name(task: &Task, resolution: &Resolution) -> Name {
    resolution
        .answer
        .last()
        .filter(|s| s.rtype == RType::CNAME)
        .and_then(|s| s.rdatas.first())
        .and_then(|r| crate::response::rdata_name(r))
        .unwrap_or_else(|| task.qname.clone())
}

/// Whether `set` was expanded from a wildcard: its RRSIG's labels field is below the owner's
/// label count (RFC 4035 section 5.3.4).
fn is_wildcard_expansion(set: &RrSet) -> bool {
    let owner_labels = set.owner.as_ref().label_count();
    let owner_labels = if set.owner.as_ref().is_wildcard() {
        owner_labels.saturating_sub(1)
    } else {
        owner_labels
    };
    set.sigs
        .iter()
        .any(|s| match RData::parse(RType::RRSIG, s) {
            Ok(RData::Rrsig(r)) => usize::from(r.labels) < owner_labels,
            _ => false,
        })
}

/// Whether `set` is a CNAME synthesised from the DNAME just before it.
fn is_synthesised_cname(previous: Option<&RrSet>, set: &RrSet) -> bool {
    set.rtype == RType::CNAME
        && set.sigs.is_empty()
        && previous.is_some_and(|p| {
            p.rtype == RType::DNAME && set.owner.as_ref().is_subdomain_of(p.owner.as_ref())
        })
}

/// The ancestor of `name` (or itself) with `labels` labels.
fn ancestor_with_labels(name: &Name, labels: usize) -> Option<Name> {
    let mut at = name.as_ref();
    let count = at.label_count();
    if labels > count {
        return None;
    }
    for _ in 0..(count - labels) {
        at = at.parent()?;
    }
    Some(at.to_name())
}

/// The seconds until the earliest RRSIG expiration of `set`, for the TTL cap of RFC 4035
/// section 5.3.3 (`u32::MAX` without signatures).
fn signature_ttl(set: &RrSet, now_secs: u64) -> u32 {
    set.sigs
        .iter()
        .filter_map(|s| match RData::parse(RType::RRSIG, s) {
            Ok(RData::Rrsig(r)) => {
                let left = r.expiration.wrapping_sub(now_secs as u32) as i32;
                Some(u32::try_from(left.max(0)).unwrap_or(0).min(r.original_ttl))
            }
            _ => None,
        })
        .max()
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    const NOW: u64 = 1_800_000_000;

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn set(owner: &str, rtype: RType, rdatas: Vec<Vec<u8>>) -> RrSet {
        RrSet {
            owner: name(owner),
            rtype,
            class: Class::IN,
            ttl: 3600,
            rdatas,
            sigs: Vec::new(),
        }
    }

    struct Key {
        pair: Ed25519KeyPair,
        dnskey: Vec<u8>,
    }

    fn key() -> Key {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let mut dnskey = vec![1, 0, 3, 15];
        dnskey.extend_from_slice(pair.public_key().as_ref());
        Key { pair, dnskey }
    }

    /// An RRSIG over `rrset` by `key` of `zone`, valid from `inception` to `expiration`.
    fn sign(rrset: &RrSet, key: &Key, zone: &str, inception: u32, expiration: u32) -> Vec<u8> {
        let labels = rrset.owner.as_ref().label_count() as u8;
        let mut rdata = Vec::new();
        rdata.extend_from_slice(&rrset.rtype.0.to_be_bytes());
        rdata.push(15);
        rdata.push(labels);
        rdata.extend_from_slice(&rrset.ttl.to_be_bytes());
        rdata.extend_from_slice(&expiration.to_be_bytes());
        rdata.extend_from_slice(&inception.to_be_bytes());
        rdata.extend_from_slice(&key_tag(&key.dnskey).to_be_bytes());
        rdata.extend_from_slice(name(zone).as_wire());
        let mut message = rdata.clone();
        message.extend(dnssec::canonical_rrset(rrset, labels, rrset.ttl).unwrap());
        rdata.extend_from_slice(key.pair.sign(&message).as_ref());
        rdata
    }

    fn a_set() -> RrSet {
        set("www.example.", RType::A, vec![vec![192, 0, 2, 1]])
    }

    fn valid() -> (u32, u32) {
        ((NOW - 3600) as u32, (NOW + 86_400) as u32)
    }

    fn check(set: &RrSet, keys: &[Vec<u8>], budget: &mut u32) -> Verdict {
        check_set(
            &RingCrypto::default(),
            set,
            &name("example."),
            keys,
            &ValidationLimits::default(),
            budget,
            NOW,
        )
    }

    fn code(v: &Verdict) -> Option<u16> {
        match v {
            Verdict::Bogus(e) => Some(e.code),
            _ => None,
        }
    }

    #[test]
    fn a_good_signature_is_secure() {
        let k = key();
        let mut s = a_set();
        let (i, e) = valid();
        s.sigs.push(sign(&s, &k, "example.", i, e));
        let mut budget = 64;
        assert!(matches!(
            check(&s, std::slice::from_ref(&k.dnskey), &mut budget),
            Verdict::Secure
        ));
        assert_eq!(budget, 63);
    }

    #[test]
    fn failures_say_why() {
        let k = key();
        let (i, e) = valid();
        let mut expired = a_set();
        expired
            .sigs
            .push(sign(&expired, &k, "example.", i, (NOW - 10) as u32));
        let mut budget = 64;
        let keys = [k.dnskey.clone()];
        assert_eq!(
            code(&check(&expired, &keys, &mut budget)),
            Some(Ede::SIGNATURE_EXPIRED)
        );
        let mut early = a_set();
        early
            .sigs
            .push(sign(&early, &k, "example.", (NOW + 10) as u32, e));
        assert_eq!(
            code(&check(&early, &keys, &mut budget)),
            Some(Ede::SIGNATURE_NOT_YET_VALID)
        );
        let mut corrupt = a_set();
        let mut sig = sign(&corrupt, &k, "example.", i, e);
        let last = sig.len() - 1;
        sig[last] ^= 0x55;
        corrupt.sigs.push(sig);
        assert_eq!(
            code(&check(&corrupt, &keys, &mut budget)),
            Some(Ede::DNSSEC_BOGUS)
        );
        let unsigned = a_set();
        assert_eq!(
            code(&check(&unsigned, &keys, &mut budget)),
            Some(Ede::RRSIGS_MISSING)
        );
        let mut other_key = a_set();
        other_key
            .sigs
            .push(sign(&other_key, &key(), "example.", i, e));
        assert_eq!(
            code(&check(&other_key, &keys, &mut budget)),
            Some(Ede::DNSKEY_MISSING)
        );
    }

    /// A DNSKEY RDATA with `key`'s algorithm and the key tag `tag` (garbage key material).
    fn colliding_key(template: &[u8], tag: u16, salt: u8) -> Vec<u8> {
        let mut k = template.to_vec();
        k[10] = salt;
        let n = k.len();
        for hi in 0..=255u8 {
            for lo in 0..=255u8 {
                k[n - 2] = hi;
                k[n - 1] = lo;
                if key_tag(&k) == tag {
                    return k;
                }
            }
        }
        panic!("no collision");
    }

    /// KeyTrap (CVE-2023-50387): many keys sharing a key tag and many signatures cost at most
    /// keys-per-signature x signatures-per-RRset checks, and never more than the budget.
    #[test]
    fn keytrap_is_bounded() {
        let k = key();
        let tag = key_tag(&k.dnskey);
        let keys: Vec<Vec<u8>> = (0..20).map(|i| colliding_key(&k.dnskey, tag, i)).collect();
        assert!(keys.iter().all(|x| key_tag(x) == tag));
        let mut s = a_set();
        let (i, e) = valid();
        let good = sign(&s, &k, "example.", i, e);
        for n in 0..30u8 {
            let mut bad = good.clone();
            let last = bad.len() - 1;
            bad[last] ^= n + 1;
            s.sigs.push(bad);
        }
        let limits = ValidationLimits::default();
        let mut budget = 10_000;
        let v = check(&s, &keys, &mut budget);
        assert!(matches!(v, Verdict::Bogus(_)));
        let spent = 10_000 - budget;
        assert_eq!(
            spent,
            limits.max_keys_per_signature * limits.max_signatures_per_rrset,
            "checks spent"
        );
        // With a small budget the answer is bogus once it runs out.
        let mut budget = 5;
        let v = check(&s, &keys, &mut budget);
        assert_eq!(budget, 0);
        assert!(matches!(v, Verdict::Bogus(ref e) if e.text.contains("too many")));
    }

    /// A signature verified once is not verified again (a wildcard flood), a forged variant
    /// still is, and a failure is never remembered.
    #[test]
    fn verified_signatures_are_remembered() {
        let k = key();
        let mut s = a_set();
        let (i, e) = valid();
        s.sigs.push(sign(&s, &k, "example.", i, e));
        let memo = SigMemo::new([7; 16]);
        let crypto = MemoCrypto {
            inner: RingCrypto::default(),
            memo: &memo,
            made: Cell::new(0),
        };
        let keys = [k.dnskey.clone()];
        let limits = ValidationLimits::default();
        let zone = name("example.");
        let mut budget = 64;
        for _ in 0..3 {
            let v = check_set(&crypto, &s, &zone, &keys, &limits, &mut budget, NOW);
            assert!(matches!(v, Verdict::Secure));
        }
        assert_eq!(crypto.made.get(), 1);
        // Other data under the same signature: checked, and bogus.
        let mut forged = s.clone();
        forged.rdatas = vec![vec![6, 6, 6, 6]];
        let v = check_set(&crypto, &forged, &zone, &keys, &limits, &mut budget, NOW);
        assert!(matches!(v, Verdict::Bogus(_)));
        let v = check_set(&crypto, &forged, &zone, &keys, &limits, &mut budget, NOW);
        assert!(matches!(v, Verdict::Bogus(_)));
        assert_eq!(crypto.made.get(), 3);
        // Expired later: the window is checked before the memo.
        let v = check_set(
            &crypto,
            &s,
            &zone,
            &keys,
            &limits,
            &mut budget,
            u64::from(e) + 10,
        );
        assert!(matches!(v, Verdict::Bogus(_)));
    }

    #[test]
    fn ttl_is_capped_by_signature_expiry() {
        let k = key();
        let mut s = a_set();
        s.sigs.push(sign(
            &s,
            &k,
            "example.",
            (NOW - 10) as u32,
            (NOW + 100) as u32,
        ));
        assert_eq!(signature_ttl(&s, NOW), 100);
        assert_eq!(signature_ttl(&a_set(), NOW), u32::MAX);
        // The original TTL caps too.
        let mut long = a_set();
        long.sigs.push(sign(
            &long,
            &k,
            "example.",
            (NOW - 10) as u32,
            (NOW + 100_000) as u32,
        ));
        assert_eq!(signature_ttl(&long, NOW), 3600);
    }

    #[test]
    fn wildcard_expansion_is_seen_in_the_labels_field() {
        let k = key();
        let (i, e) = valid();
        let mut plain = a_set();
        plain.sigs.push(sign(&plain, &k, "example.", i, e));
        assert!(!is_wildcard_expansion(&plain));
        // Signed as *.example. (labels 1), owned by www.example. (2 labels).
        let mut expanded = a_set();
        let mut rdata = sign(&expanded, &k, "example.", i, e);
        rdata[3] = 1;
        expanded.sigs.push(rdata);
        assert!(is_wildcard_expansion(&expanded));
    }

    #[test]
    fn verdicts_combine() {
        let b = || bogus(Ede::DNSSEC_BOGUS, "x");
        assert!(matches!(
            Verdict::Secure.and(Verdict::Secure),
            Verdict::Secure
        ));
        assert!(matches!(
            Verdict::Secure.and(Verdict::Insecure(None)),
            Verdict::Insecure(_)
        ));
        assert!(matches!(
            Verdict::Insecure(None).and(b()),
            Verdict::Bogus(_)
        ));
        assert!(matches!(b().and(Verdict::Secure), Verdict::Bogus(_)));
    }

    #[test]
    fn ancestors() {
        let n = name("a.b.example.");
        assert_eq!(ancestor_with_labels(&n, 1), Some(name("example.")));
        assert_eq!(ancestor_with_labels(&n, 3), Some(n.clone()));
        assert_eq!(ancestor_with_labels(&n, 0), Some(Name::root()));
        assert_eq!(ancestor_with_labels(&n, 4), None);
    }

    #[test]
    fn dnssec_error_codes() {
        for code in [6, 7, 8, 9, 10, 11, 12, 5] {
            assert!(is_dnssec_error(code), "{code}");
        }
        for code in [0, 1, 2, 3, 13, 22] {
            assert!(!is_dnssec_error(code), "{code}");
        }
    }
}
