//! The zones a server is authoritative for, and which of them answers a name.
//!
//! A server may hold several zones, some nested in others (`example.` and `sub.example.` as
//! separate zones, or a parent with a delegation to a child it also serves). A query is answered
//! from the zone whose origin is the longest suffix of the query name: the *closest enclosing
//! zone* (RFC 1034 section 4.3.2, step 2, "search the available zones for the zone which is the
//! nearest ancestor to QNAME"). A name below no zone is not ours, and is refused.
//!
//! [`Catalog::find`] does this without allocating. With a few zones (up to [`LINEAR_ZONES`]) it
//! compares the query name's last labels with each origin, the deepest origins first. With more,
//! the query name's canonical key (labels right to left, lowercased) is built once on the stack;
//! every ancestor's key is a prefix of it ending at a label separator, so the ancestors are tried
//! from the longest down, each with a binary search over the zones' keys (ancestors longer than
//! the longest origin are skipped).

use core::fmt;
use std::sync::Arc;

use wire::{NameRef, RType};
use zone::Zone;

/// Up to this many zones, [`Catalog::find`] tries each origin in turn.
pub const LINEAR_ZONES: usize = 8;

/// The position of a zone in its [`Catalog`].
pub type ZoneId = usize;

/// A set of zones with distinct origins; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    zones: Vec<Arc<Zone>>,
    /// Canonical key of each origin with the zone's index, sorted by key.
    keys: Vec<(Vec<u8>, ZoneId)>,
    /// Length of the longest key.
    longest: usize,
    /// Zone ids ordered by the label count of their origin, deepest first.
    deepest_first: Vec<(usize, ZoneId)>,
}

/// Why a set of zones cannot form a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogError {
    /// Two zones have the same origin (in presentation form).
    DuplicateOrigin(String),
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::DuplicateOrigin(n) => write!(f, "zone {n} is loaded twice"),
        }
    }
}

impl std::error::Error for CatalogError {}

impl Catalog {
    /// A catalog of `zones`; two zones with the same origin are an error.
    pub fn new(zones: Vec<Zone>) -> Result<Catalog, CatalogError> {
        Self::from_shared(zones.into_iter().map(Arc::new).collect())
    }

    /// A catalog of zones already shared (a reload may keep the zones that did not change).
    pub fn from_shared(zones: Vec<Arc<Zone>>) -> Result<Catalog, CatalogError> {
        let mut keys: Vec<(Vec<u8>, ZoneId)> = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin().canonical_key().as_bytes().to_vec(), i))
            .collect();
        keys.sort();
        for pair in keys.windows(2) {
            if pair[0].0 == pair[1].0 {
                let origin = zones[pair[1].1].origin().to_string();
                return Err(CatalogError::DuplicateOrigin(origin));
            }
        }
        let longest = keys.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut deepest_first: Vec<(usize, ZoneId)> = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin().label_count(), i))
            .collect();
        deepest_first.sort_by(|a, b| b.cmp(a));
        Ok(Catalog {
            zones,
            keys,
            longest,
            deepest_first,
        })
    }

    /// The zones, in the order given.
    pub fn zones(&self) -> &[Arc<Zone>] {
        &self.zones
    }

    /// The zone with this id.
    pub fn zone(&self, id: ZoneId) -> Option<&Arc<Zone>> {
        self.zones.get(id)
    }

    /// Number of zones.
    pub fn len(&self) -> usize {
        self.zones.len()
    }

    /// Whether the catalog holds no zone.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The closest enclosing zone of `name`: the one whose origin is its longest suffix.
    pub fn find(&self, name: NameRef<'_>) -> Option<(ZoneId, &Zone)> {
        if self.keys.is_empty() {
            return None;
        }
        if self.zones.len() <= LINEAR_ZONES {
            let labels = name.label_count();
            return self
                .deepest_first
                .iter()
                .find(|&&(n, id)| {
                    labels >= n
                        && name
                            .strip_labels(labels - n)
                            .is_some_and(|suffix| suffix == self.zones[id].origin())
                })
                .map(|&(_, id)| (id, &*self.zones[id]));
        }
        let key = name.canonical_key();
        let key = key.as_bytes();
        // Each ancestor's key ends just after a 0x00 separator; the root's key is empty.
        let mut end = key.len().min(self.longest);
        loop {
            if (end == 0 || key[end - 1] == 0)
                && let Ok(at) = self
                    .keys
                    .binary_search_by(|(k, _)| k.as_slice().cmp(&key[..end]))
            {
                let id = self.keys[at].1;
                return Some((id, &self.zones[id]));
            }
            if end == 0 {
                return None;
            }
            end -= 1;
        }
    }

    /// The zone that answers `qtype` at `name`: the closest enclosing zone, except for a DS
    /// question at the apex of a zone whose parent zone is served too. The DS RRset of a cut
    /// lives in the parent zone, so it is answered from there, with the DS or the parent's
    /// signed proof of its absence (RFC 4035 section 3.1.4.1); the child's unsigned NODATA
    /// would break a validator's chain of trust.
    pub fn find_for(&self, name: NameRef<'_>, qtype: RType) -> Option<(ZoneId, &Zone)> {
        let found = self.find(name)?;
        if qtype == RType::DS
            && found.1.origin().label_count() == name.label_count()
            && let Some(parent) = name.parent().and_then(|p| self.find(p))
        {
            return Some(parent);
        }
        Some(found)
    }

    /// The zone whose origin is exactly `name`.
    pub fn exact(&self, name: NameRef<'_>) -> Option<(ZoneId, &Zone)> {
        self.find(name)
            .filter(|(_, z)| z.origin().label_count() == name.label_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Name;

    fn zone(origin: &str) -> Zone {
        let origin: Name = origin.parse().unwrap();
        let text = "@ 300 SOA ns hostmaster 1 2 3 4 5\n@ 300 NS ns\nns 300 A 192.0.2.1\n";
        zone::load_str(text, std::path::Path::new("t"), origin.as_ref())
            .unwrap()
            .zone
    }

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn origin_of(c: &Catalog, name: &str) -> Option<String> {
        c.find(n(name).as_ref())
            .map(|(_, z)| z.origin().to_string())
    }

    #[test]
    fn longest_suffix_wins() {
        let c = Catalog::new(vec![zone("example."), zone("sub.example."), zone("test.")]).unwrap();
        assert_eq!(origin_of(&c, "www.example.").as_deref(), Some("example."));
        assert_eq!(origin_of(&c, "EXAMPLE.").as_deref(), Some("example."));
        assert_eq!(
            origin_of(&c, "a.b.Sub.example.").as_deref(),
            Some("sub.example.")
        );
        assert_eq!(origin_of(&c, "xsub.example.").as_deref(), Some("example."));
        assert_eq!(origin_of(&c, "example.com."), None);
        assert_eq!(origin_of(&c, "."), None);
        assert!(c.exact(n("sub.example.").as_ref()).is_some());
        assert!(c.exact(n("www.sub.example.").as_ref()).is_none());
    }

    #[test]
    fn ds_at_a_child_apex_is_answered_by_the_parent() {
        let c = Catalog::new(vec![zone("example."), zone("sub.example.")]).unwrap();
        let origin = |name: &str, qtype| {
            c.find_for(n(name).as_ref(), qtype)
                .map(|(_, z)| z.origin().to_string())
        };
        assert_eq!(
            origin("Sub.Example.", RType::DS).as_deref(),
            Some("example.")
        );
        assert_eq!(
            origin("sub.example.", RType::NS).as_deref(),
            Some("sub.example.")
        );
        assert_eq!(
            origin("x.sub.example.", RType::DS).as_deref(),
            Some("sub.example.")
        );
        // Without the parent zone, the child's apex answers (NODATA).
        assert_eq!(origin("example.", RType::DS).as_deref(), Some("example."));
    }

    #[test]
    fn root_zone_encloses_everything() {
        let c = Catalog::new(vec![zone("."), zone("example.")]).unwrap();
        assert_eq!(origin_of(&c, "www.example.").as_deref(), Some("example."));
        assert_eq!(origin_of(&c, "org.").as_deref(), Some("."));
        assert_eq!(origin_of(&c, ".").as_deref(), Some("."));
    }

    #[test]
    fn many_zones_use_the_sorted_keys() {
        let names: Vec<String> = (0..20).map(|i| format!("z{i}.example.")).collect();
        let mut zones: Vec<Zone> = names.iter().map(|n| zone(n)).collect();
        zones.push(zone("example."));
        zones.push(zone("a.z3.example."));
        let c = Catalog::new(zones).unwrap();
        assert!(c.len() > LINEAR_ZONES);
        assert_eq!(
            origin_of(&c, "www.z7.example.").as_deref(),
            Some("z7.example.")
        );
        assert_eq!(
            origin_of(&c, "b.a.Z3.example.").as_deref(),
            Some("a.z3.example.")
        );
        assert_eq!(
            origin_of(&c, "b.z3.example.").as_deref(),
            Some("z3.example.")
        );
        assert_eq!(origin_of(&c, "z99.example.").as_deref(), Some("example."));
        assert_eq!(origin_of(&c, "example.org."), None);
    }

    #[test]
    fn duplicates_are_refused() {
        let err = Catalog::new(vec![zone("example."), zone("Example.")]).unwrap_err();
        assert_eq!(err, CatalogError::DuplicateOrigin("Example.".into()));
        assert!(
            Catalog::new(Vec::new())
                .unwrap()
                .find(n("a.").as_ref())
                .is_none()
        );
    }
}
