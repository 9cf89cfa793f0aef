//! NSEC3 proofs (RFC 5155 section 8, RFC 9276).
//!
//! NSEC3 chains the zone's names by hash instead of by name: each existing name owns an NSEC3
//! record at `base32hex(H(name)).zone` naming the next hash in the chain and the types at the
//! name. `H` is SHA-1 over the lowercased wire name and a salt, repeated `iterations` more times
//! ([`nsec3_hash`]). Hashes compare as unsigned byte strings, the same order their base32hex
//! text sorts in. A record *matches* a name whose hash is its owner's and *covers* one whose
//! hash falls strictly between its owner's and its next hash (past the last owner for the
//! record that wraps around).
//!
//! Hashing hides the tree, so a non-existent name is denied with a *closest provable encloser
//! proof* (section 8.3): an NSEC3 matches an ancestor of the name (the closest encloser) and
//! another covers the ancestor one label longer (the *next closer* name), which therefore does
//! not exist, nor does anything below it. When that covering record has the opt-out flag, the
//! span may hold unsigned delegations that have no NSEC3 of their own, so the proof only says
//! "insecure" (section 9.2).
//!
//! Records with flags other than 0 and 1 are ignored, and records with a hash algorithm other
//! than 1 cannot be used (section 8.2).

use wire::rdata::TypeBitmap;
use wire::{Name, NameRef, RType};

use crate::denial::{Denial, DenialError, NoDs, Nsec3Limits, denies_type, hides_descendants};

/// SHA-1 output length: the length of every hash in the chain.
const HASH_LEN: usize = 20;

/// The only defined NSEC3 hash algorithm, SHA-1 (RFC 5155 section 11).
const SHA1: u8 = 1;

/// The opt-out flag (RFC 5155 section 3.1.2.1).
const OPT_OUT: u8 = 1;

/// The NSEC3 hash of `name` (RFC 5155 section 5): `IH(salt, x, 0) = H(x | salt)`,
/// `IH(salt, x, k) = H(IH(salt, x, k - 1) | salt)`, over the lowercased wire name, with
/// `iterations` extra rounds. The zone crate's, which the authoritative side uses too.
pub fn nsec3_hash(name: NameRef<'_>, salt: &[u8], iterations: u16) -> [u8; 20] {
    zone::denial::nsec3_hash(name, salt, iterations)
}

/// Why an NSEC3 record cannot be used at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// A hash algorithm other than SHA-1.
    UnsupportedHash,
    /// A next hash that is not a SHA-1 hash.
    Malformed,
}

/// One usable NSEC3 record, its owner's hash decoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nsec3<'a> {
    owner: [u8; HASH_LEN],
    next: [u8; HASH_LEN],
    opt_out: bool,
    iterations: u16,
    salt: &'a [u8],
    types: TypeBitmap<'a>,
}

impl<'a> Nsec3<'a> {
    /// The record at `owner`, if it can take part in proofs for `zone`: `Ok(None)` for records
    /// to ignore (unknown flags, owner not a hash label directly below the zone apex).
    pub(crate) fn new(
        owner: NameRef<'_>,
        zone: NameRef<'_>,
        rdata: &wire::rdata::Nsec3<'a>,
    ) -> Result<Option<Nsec3<'a>>, Skip> {
        if rdata.hash_algorithm != SHA1 {
            return Err(Skip::UnsupportedHash);
        }
        let next: [u8; HASH_LEN] = rdata.next_hashed.try_into().map_err(|_| Skip::Malformed)?;
        if rdata.flags & !OPT_OUT != 0 || owner.parent() != Some(zone) {
            return Ok(None);
        }
        let Some(label) = owner.labels().next() else {
            return Ok(None);
        };
        let mut decoded = Vec::with_capacity(HASH_LEN);
        if wire::rdata::decode_base32hex(label, &mut decoded).is_err() {
            return Ok(None);
        }
        let Ok(owner) = <[u8; HASH_LEN]>::try_from(decoded.as_slice()) else {
            return Ok(None);
        };
        Ok(Some(Nsec3 {
            owner,
            next,
            opt_out: rdata.flags & OPT_OUT != 0,
            iterations: rdata.iterations,
            salt: rdata.salt,
            types: rdata.types,
        }))
    }

    fn matches(&self, hash: &[u8; HASH_LEN]) -> bool {
        self.owner == *hash
    }

    fn covers(&self, hash: &[u8; HASH_LEN]) -> bool {
        if self.owner < self.next {
            self.owner < *hash && *hash < self.next
        } else {
            // The record that wraps around from the last hash to the first, or a chain of one.
            self.owner < *hash || *hash < self.next
        }
    }
}

/// The records sharing one set of hash parameters, with the hashes computed so far.
struct Chain<'s, 'a> {
    set: &'s [Nsec3<'a>],
    salt: &'a [u8],
    iterations: u16,
    hashed: Vec<(Name, [u8; HASH_LEN])>,
}

/// A closest provable encloser proof (RFC 5155 section 8.3).
struct Encloser<'q> {
    encloser: NameRef<'q>,
    /// The covering record of the next closer name had the opt-out flag.
    opt_out: bool,
}

impl<'s, 'a> Chain<'s, 'a> {
    fn records(&self) -> impl Iterator<Item = &'s Nsec3<'a>> + '_ {
        let (salt, iterations) = (self.salt, self.iterations);
        self.set
            .iter()
            .filter(move |r| r.iterations == iterations && r.salt == salt)
    }

    /// The hash of `name`, computed at most once, each computation taken from `budget`.
    fn hash(&mut self, name: NameRef<'_>, budget: &mut u32) -> Result<[u8; HASH_LEN], DenialError> {
        if let Some((_, h)) = self.hashed.iter().find(|(n, _)| n.as_ref() == name) {
            return Ok(*h);
        }
        *budget = budget.checked_sub(1).ok_or(DenialError::TooManyHashes)?;
        let h = nsec3_hash(name, self.salt, self.iterations);
        self.hashed.push((name.to_name(), h));
        Ok(h)
    }

    /// Matching records: `None` when there are none, else whether all of them satisfy `ok`.
    fn matched(&self, hash: &[u8; HASH_LEN], ok: impl Fn(&Nsec3<'a>) -> bool) -> Option<bool> {
        let mut found = self.records().filter(|r| r.matches(hash)).peekable();
        found.peek()?;
        Some(found.all(ok))
    }

    /// Covering records: `None` when there are none, else whether every one is opt-out (one
    /// record without it is enough to prove the name absent securely).
    fn covered(&self, hash: &[u8; HASH_LEN]) -> Option<bool> {
        let mut found = self.records().filter(|r| r.covers(hash)).peekable();
        found.peek()?;
        Some(found.all(|r| r.opt_out))
    }

    /// The closest provable encloser of `qname`, searched from the apex down: each ancestor is
    /// either matched (it exists; go one label deeper), covered (it does not: its parent is the
    /// closest encloser if that parent was matched), or neither (not shown in the answer; go
    /// deeper). The cost grows with the depth of the zone's real names, not with the length of
    /// `qname`. `None` when no proof is present, including when `qname` itself is matched.
    fn closest_encloser<'q>(
        &mut self,
        qname: NameRef<'q>,
        zone: NameRef<'_>,
        budget: &mut u32,
    ) -> Result<Option<Encloser<'q>>, DenialError> {
        let (top, bottom) = (zone.label_count(), qname.label_count());
        // The matched parent of the name being looked at, and whether it may enclose names
        // (not a delegation nor a DNAME, RFC 5155 section 8.3, RFC 6840 section 4.1).
        let mut parent: Option<(NameRef<'q>, bool)> = None;
        for depth in top..=bottom {
            let Some(name) = qname.strip_labels(bottom - depth) else {
                break;
            };
            let h = self.hash(name, budget)?;
            if let Some(encloses) = self.matched(&h, |r| !hides_descendants(&r.types, false)) {
                parent = Some((name, encloses));
                continue;
            }
            if let Some(opt_out) = self.covered(&h) {
                return Ok(match parent {
                    Some((encloser, true)) => Some(Encloser { encloser, opt_out }),
                    _ => None,
                });
            }
            parent = None;
        }
        Ok(None)
    }

    /// Whether the wildcard at `encloser` is covered (does not exist).
    fn no_wildcard(
        &mut self,
        encloser: NameRef<'_>,
        budget: &mut u32,
    ) -> Result<bool, DenialError> {
        let Ok(wildcard) = encloser.to_name().prepend(b"*") else {
            return Ok(false);
        };
        let h = self.hash(wildcard.as_ref(), budget)?;
        Ok(self.covered(&h).is_some())
    }
}

/// Runs `proof` over each set of hash parameters present, sharing one hash budget; `insecure`
/// when any record has more iterations than allowed (RFC 9276 section 3.2).
fn run<T>(
    set: &[Nsec3<'_>],
    limits: &Nsec3Limits,
    insecure: T,
    mut proof: impl FnMut(&mut Chain<'_, '_>, &mut u32) -> Result<Option<T>, DenialError>,
) -> Result<Option<T>, DenialError> {
    if set.iter().any(|r| r.iterations > limits.max_iterations) {
        return Ok(Some(insecure));
    }
    let mut budget = limits.max_hashes;
    for (i, r) in set.iter().enumerate() {
        let seen = set[..i]
            .iter()
            .any(|p| p.iterations == r.iterations && p.salt == r.salt);
        if seen {
            continue;
        }
        let mut chain = Chain {
            set,
            salt: r.salt,
            iterations: r.iterations,
            hashed: Vec::new(),
        };
        if let Some(t) = proof(&mut chain, &mut budget)? {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

fn denial(opt_out: bool) -> Denial {
    if opt_out {
        Denial::OptOut
    } else {
        Denial::Proven
    }
}

/// RFC 5155 section 8.4: closest provable encloser proof for `qname`, and the wildcard at the
/// closest encloser covered.
pub(crate) fn nxdomain(
    qname: NameRef<'_>,
    zone: NameRef<'_>,
    set: &[Nsec3<'_>],
    limits: &Nsec3Limits,
) -> Result<Option<Denial>, DenialError> {
    run(set, limits, Denial::Insecure, |chain, budget| {
        let Some(proof) = chain.closest_encloser(qname, zone, budget)? else {
            return Ok(None);
        };
        Ok(chain
            .no_wildcard(proof.encloser, budget)?
            .then(|| denial(proof.opt_out)))
    })
}

/// RFC 5155 sections 8.5 (a matching record without `qtype` or CNAME, which also covers empty
/// non-terminals), 8.6 (DS: an opt-out span covering the next closer name) and 8.7 (the
/// wildcard at the closest encloser matched without `qtype` or CNAME).
pub(crate) fn nodata(
    qname: NameRef<'_>,
    qtype: RType,
    zone: NameRef<'_>,
    set: &[Nsec3<'_>],
    limits: &Nsec3Limits,
) -> Result<Option<Denial>, DenialError> {
    let at_apex = qname == zone;
    run(set, limits, Denial::Insecure, |chain, budget| {
        let h = chain.hash(qname, budget)?;
        if let Some(denied) = chain.matched(&h, |r| denies_type(&r.types, qtype, qname, at_apex)) {
            return Ok(denied.then_some(Denial::Proven));
        }
        let Some(proof) = chain.closest_encloser(qname, zone, budget)? else {
            return Ok(None);
        };
        if qtype == RType::DS && proof.opt_out {
            return Ok(Some(Denial::OptOut));
        }
        let Ok(wildcard) = proof.encloser.to_name().prepend(b"*") else {
            return Ok(None);
        };
        let w = chain.hash(wildcard.as_ref(), budget)?;
        let denied = chain.matched(&w, |r| {
            denies_type(&r.types, qtype, wildcard.as_ref(), false)
        });
        Ok((denied == Some(true)).then(|| denial(proof.opt_out)))
    })
}

/// RFC 5155 section 8.8: the next closer name covered.
pub(crate) fn wildcard(
    next_closer: NameRef<'_>,
    set: &[Nsec3<'_>],
    limits: &Nsec3Limits,
) -> Result<Option<Denial>, DenialError> {
    run(set, limits, Denial::Insecure, |chain, budget| {
        let h = chain.hash(next_closer, budget)?;
        Ok(chain.covered(&h).map(denial))
    })
}

/// RFC 5155 sections 8.5 and 8.6 for DS: a matching record without DS, CNAME or the child's
/// SOA; or an opt-out span covering the next closer name of `qname`.
pub(crate) fn no_ds(
    qname: NameRef<'_>,
    zone: NameRef<'_>,
    set: &[Nsec3<'_>],
    limits: &Nsec3Limits,
) -> Result<Option<NoDs>, DenialError> {
    run(set, limits, NoDs::Insecure, |chain, budget| {
        let h = chain.hash(qname, budget)?;
        if let Some(denied) = chain.matched(&h, |r| denies_type(&r.types, RType::DS, qname, false))
        {
            if !denied {
                return Ok(None);
            }
            let cut = chain.matched(&h, |r| r.types.contains(RType::NS)) == Some(true);
            return Ok(Some(if cut { NoDs::Delegation } else { NoDs::NotACut }));
        }
        let proof = chain.closest_encloser(qname, zone, budget)?;
        Ok(proof.filter(|p| p.opt_out).map(|_| NoDs::OptOut))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_text(name: &str, salt: &[u8], iterations: u16) -> String {
        let name = Name::from_text(name.as_bytes(), None).unwrap_or_else(|e| panic!("{e}"));
        let mut out = String::new();
        wire::rdata::write_base32hex(&nsec3_hash(name.as_ref(), salt, iterations), &mut out);
        out
    }

    /// Values from BIND's `nsec3hash`.
    #[test]
    fn hashes_match_bind_nsec3hash() {
        assert_eq!(
            hash_text("example.", &[], 0),
            "3msev9usmd4br9s97v51r2tdvmr9iqo1"
        );
        assert_eq!(hash_text(".", &[], 0), "bekjp7dgpvsjukll47bk43i3urmq4u2f");
        assert_eq!(
            hash_text("WWW.Example.COM.", &[0xff], 100),
            "l4ilsbtu0u8umv9t2n46d0sp7iq2rqs2"
        );
    }

    fn record(owner: u8, next: u8) -> Nsec3<'static> {
        Nsec3 {
            owner: [owner; HASH_LEN],
            next: [next; HASH_LEN],
            opt_out: false,
            iterations: 0,
            salt: &[],
            types: TypeBitmap::EMPTY,
        }
    }

    #[test]
    fn cover_is_strict_and_wraps() {
        let r = record(10, 20);
        assert!(r.covers(&[15; HASH_LEN]));
        assert!(!r.covers(&[10; HASH_LEN]));
        assert!(!r.covers(&[20; HASH_LEN]));
        assert!(!r.covers(&[25; HASH_LEN]));
        assert!(r.matches(&[10; HASH_LEN]));
        // The last record of the chain covers past its owner and before the first hash.
        let last = record(200, 10);
        assert!(last.covers(&[250; HASH_LEN]));
        assert!(last.covers(&[5; HASH_LEN]));
        assert!(!last.covers(&[100; HASH_LEN]));
        assert!(!last.covers(&[10; HASH_LEN]));
        // A chain of one record covers every other hash.
        let only = record(7, 7);
        assert!(only.covers(&[8; HASH_LEN]));
        assert!(only.covers(&[6; HASH_LEN]));
        assert!(!only.covers(&[7; HASH_LEN]));
    }

    #[test]
    fn budget_counts_each_new_hash_once() {
        let set = [record(1, 2)];
        let mut chain = Chain {
            set: &set,
            salt: &[],
            iterations: 0,
            hashed: Vec::new(),
        };
        let a = Name::from_text(b"a.example.", None).unwrap_or_else(|e| panic!("{e}"));
        let b = Name::from_text(b"B.example.", None).unwrap_or_else(|e| panic!("{e}"));
        let mut budget = 2;
        assert!(chain.hash(a.as_ref(), &mut budget).is_ok());
        assert!(chain.hash(a.as_ref(), &mut budget).is_ok());
        assert_eq!(budget, 1);
        assert!(chain.hash(b.as_ref(), &mut budget).is_ok());
        let c = Name::from_text(b"c.example.", None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            chain.hash(c.as_ref(), &mut budget),
            Err(DenialError::TooManyHashes)
        );
        // Case does not make a new hash.
        let upper = Name::from_text(b"A.EXAMPLE.", None).unwrap_or_else(|e| panic!("{e}"));
        assert!(chain.hash(upper.as_ref(), &mut budget).is_ok());
    }
}
