//! NSEC proofs (RFC 4035 sections 3.1.3 and 5.4, RFC 6840 section 4).
//!
//! A zone's NSEC records chain its names in canonical order (RFC 4034 section 6.1: labels
//! compared from the right, case-insensitively): each names the next one and lists the types at
//! its owner; the last one points back at the apex. An NSEC *matches* its owner and *covers*
//! every name strictly between its owner and its next name; for the last NSEC that is every
//! name after its owner (the wrap-around).
//!
//! Names below a name sort right after it, so the NSEC of a delegation point would appear to
//! cover the child zone's names: it must not be used for them (RFC 6840 section 4.1), nor may
//! an NSEC with DNAME deny the names its DNAME redirects.
//!
//! The closest encloser of a non-existent name (RFC 4592 section 3.3.1), the deepest ancestor
//! that exists, is the longer of its common ancestors with the covering NSEC's owner and next
//! name: both exist, and nothing between them does.

use std::cmp::Ordering;

use wire::rdata::TypeBitmap;
use wire::{Name, NameRef, RType};

use crate::denial::{NoDs, denies_type, hides_descendants};

/// One NSEC record, owner included.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nsec<'a> {
    pub(crate) owner: NameRef<'a>,
    pub(crate) next: NameRef<'a>,
    pub(crate) types: TypeBitmap<'a>,
    /// The owner is the zone apex.
    pub(crate) at_apex: bool,
}

impl Nsec<'_> {
    /// Whether `name` falls strictly inside this record's gap, and the record may speak for it.
    fn covers(&self, name: NameRef<'_>) -> bool {
        let after_owner = self.owner.canonical_cmp(&name) == Ordering::Less;
        let before_next = name.canonical_cmp(&self.next) == Ordering::Less;
        let inside = if self.owner.canonical_cmp(&self.next) == Ordering::Less {
            after_owner && before_next
        } else {
            // The last NSEC of the chain (next is the apex), or a zone of one name.
            after_owner || before_next
        };
        inside
            && !(name.is_subdomain_of(self.owner) && hides_descendants(&self.types, self.at_apex))
    }

    /// Whether the next name lies below `name`: then `name` is an empty non-terminal, it
    /// exists though it owns nothing (RFC 5155 section 7.2.3 calls these out; NSEC shows them
    /// this way).
    fn next_below(&self, name: NameRef<'_>) -> bool {
        self.next != name && self.next.is_subdomain_of(name)
    }

    /// Covers `name` and shows that it does not exist at all.
    fn proves_absent(&self, name: NameRef<'_>) -> bool {
        self.covers(name) && !self.next_below(name)
    }

    /// The closest encloser of `name`, which this record proves absent.
    fn closest_encloser<'n>(&self, name: NameRef<'n>) -> NameRef<'n> {
        let a = common_ancestor(name, self.owner);
        let b = common_ancestor(name, self.next);
        if a.label_count() >= b.label_count() {
            a
        } else {
            b
        }
    }
}

/// The deepest common ancestor of `a` and `b`, as a suffix of `a`.
pub(crate) fn common_ancestor<'n>(a: NameRef<'n>, b: NameRef<'_>) -> NameRef<'n> {
    let (na, nb) = (a.label_count(), b.label_count());
    let mut n = na.min(nb);
    // At most 127 rounds: one label less each time, down to the root, which always matches.
    while n > 0 {
        if let (Some(x), Some(y)) = (a.strip_labels(na - n), b.strip_labels(nb - n))
            && x == y
        {
            return x;
        }
        n -= 1;
    }
    a.strip_labels(na).unwrap_or(NameRef::ROOT)
}

/// `*.` followed by `encloser`.
fn wildcard_at(encloser: NameRef<'_>) -> Option<Name> {
    encloser.to_name().prepend(b"*").ok()
}

/// Matching records all deny `qtype`; `None` when no record matches.
fn matched_denies(set: &[Nsec<'_>], name: NameRef<'_>, qtype: RType) -> Option<bool> {
    let mut matched = set.iter().filter(|n| n.owner == name).peekable();
    matched.peek()?;
    Some(matched.all(|n| denies_type(&n.types, qtype, n.owner, n.at_apex)))
}

/// RFC 4035 section 5.4: `qname` covered (and not an empty non-terminal), and the wildcard at
/// its closest encloser covered.
pub(crate) fn nxdomain(qname: NameRef<'_>, set: &[Nsec<'_>]) -> bool {
    if set.iter().any(|n| n.owner == qname) {
        return false;
    }
    set.iter().filter(|n| n.proves_absent(qname)).any(|cover| {
        wildcard_at(cover.closest_encloser(qname))
            .is_some_and(|w| set.iter().any(|n| n.proves_absent(w.as_ref())))
    })
}

/// RFC 4035 sections 3.1.3.1, 3.1.3.2 and 3.1.3.4.
pub(crate) fn nodata(qname: NameRef<'_>, qtype: RType, set: &[Nsec<'_>]) -> bool {
    if let Some(denied) = matched_denies(set, qname, qtype) {
        return denied;
    }
    // An empty non-terminal owns no data at all.
    if set.iter().any(|n| n.covers(qname) && n.next_below(qname)) {
        return true;
    }
    // Wildcard NODATA: qname does not exist, and the wildcard that would answer lacks qtype.
    set.iter().filter(|n| n.proves_absent(qname)).any(|cover| {
        wildcard_at(cover.closest_encloser(qname)).is_some_and(|w| {
            // The wildcard never names qname itself, so this cannot loop back to the first case.
            matched_denies(set, w.as_ref(), qtype) == Some(true)
        })
    })
}

/// RFC 4035 section 5.3.4: the next closer name does not exist.
pub(crate) fn wildcard(next_closer: NameRef<'_>, set: &[Nsec<'_>]) -> bool {
    set.iter().any(|n| n.proves_absent(next_closer))
}

/// RFC 4035 section 5.2: a matching NSEC without DS (nor CNAME, nor the child's SOA), or an
/// empty non-terminal.
pub(crate) fn no_ds(qname: NameRef<'_>, set: &[Nsec<'_>]) -> Option<NoDs> {
    match matched_denies(set, qname, RType::DS) {
        Some(false) => return None,
        Some(true) => {
            let cut = set
                .iter()
                .any(|n| n.owner == qname && n.types.contains(RType::NS));
            return Some(if cut { NoDs::Delegation } else { NoDs::NotACut });
        }
        None => {}
    }
    set.iter()
        .any(|n| n.covers(qname) && n.next_below(qname))
        .then_some(NoDs::NotACut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_text(s.as_bytes(), None).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn common_ancestors() {
        for (a, b, want) in [
            ("a.b.example.", "c.b.example.", "b.example."),
            ("a.b.example.", "B.Example.", "b.example."),
            ("a.example.", "a.example.", "a.example."),
            ("a.example.", "example.", "example."),
            ("a.example.", "a.test.", "."),
            (".", "a.test.", "."),
        ] {
            assert_eq!(
                common_ancestor(name(a).as_ref(), name(b).as_ref()),
                name(want).as_ref(),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn closest_encloser_is_the_longer_common_ancestor() {
        let (owner, next) = (name("b.example."), name("x.y.d.example."));
        let nsec = Nsec {
            owner: owner.as_ref(),
            next: next.as_ref(),
            types: TypeBitmap::EMPTY,
            at_apex: false,
        };
        let q = name("a.c.d.example.");
        assert!(nsec.covers(q.as_ref()));
        assert_eq!(
            nsec.closest_encloser(q.as_ref()),
            name("d.example.").as_ref()
        );
        let q = name("c.example.");
        assert_eq!(nsec.closest_encloser(q.as_ref()), name("example.").as_ref());
        // d.example is an empty non-terminal: it exists.
        let d = name("d.example.");
        assert!(nsec.covers(d.as_ref()) && nsec.next_below(d.as_ref()));
        assert!(!nsec.proves_absent(d.as_ref()));
    }
}
