//! Trust anchors (RFC 4033 section 3, RFC 4035 section 4.3) and negative trust anchors
//! (RFC 7646).
//!
//! A validator proves an answer by building a chain of signatures up from it to a key it
//! trusts without proof: a *trust anchor*. An anchor is a zone name with DS or DNSKEY records
//! configured for it; the DNSKEY RRset found at that zone is accepted when one of its keys
//! matches one of them. The chain for a name starts at the anchor closest above it
//! ([`TrustAnchors::closest`]); a name with no anchor above it cannot be proven and is
//! insecure.
//!
//! Without configuration the validator uses the root zone's key-signing keys as IANA publishes
//! them in `root-anchors.xml` (RFC 9718): KSK-2017 (key tag 20326) and KSK-2024 (key tag
//! 38696), both RSA/SHA-256, as SHA-256 DS records ([`TrustAnchors::builtin_root`]).
//!
//! Anchor files hold DS and DNSKEY records in zone-file form (RFC 1035 section 5), the way
//! `dig` prints them and `/usr/share/dns/root.key` holds them, read with the zone crate's
//! parser: comments, parentheses, `$ORIGIN` and `$TTL` are allowed, a TTL and the class may be
//! left out. Any other record type is an error, as are a DNSKEY without the zone-key flag or
//! with the REVOKE flag (RFC 5011 section 3), and a DS whose digest length does not fit its
//! digest type. Errors name `file:line:column` ([`AnchorError`]).
//!
//! A *negative* trust anchor ([`NegativeAnchors`]) turns validation off at and below a name,
//! so that a zone whose operator broke its signatures stays reachable until they are fixed
//! (RFC 7646).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use wire::rdata::RData;
use wire::{Name, NameRef, RType};

/// The zone-key flag of a DNSKEY (RFC 4034 section 2.1.1): only zone keys sign zone data.
pub const FLAG_ZONE: u16 = 0x0100;
/// The REVOKE flag of a DNSKEY (RFC 5011 section 3): the key must no longer be trusted.
pub const FLAG_REVOKE: u16 = 0x0080;
/// The Secure Entry Point flag of a DNSKEY (RFC 4034 section 2.1.1): a key-signing key.
pub const FLAG_SEP: u16 = 0x0001;

/// Digest lengths of the DS digest types (IANA "Delegation Signer (DS) Resource Record
/// Digest Algorithms"): 1 SHA-1, 2 SHA-256, 3 GOST R 34.11-94, 4 SHA-384.
fn digest_len(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 | 3 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Anchor
// ---------------------------------------------------------------------------------------------

/// The trust anchor of one zone: its DS and DNSKEY records, as uncompressed RDATA.
///
/// A DNSKEY RRset at `zone` is trusted when one of its keys is one of `dnskey`, or hashes to
/// one of `ds`. An anchor may have neither (every key revoked through RFC 5011): then nothing
/// at or below `zone` can be proven, and the validator must treat it as bogus, not insecure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The zone the records belong to.
    pub zone: Name,
    /// DS RDATA: key tag, algorithm, digest type, digest.
    pub ds: Vec<Vec<u8>>,
    /// DNSKEY RDATA: flags, protocol, algorithm, public key.
    pub dnskey: Vec<Vec<u8>>,
}

impl Anchor {
    /// An anchor for `zone` without records.
    pub fn new(zone: Name) -> Anchor {
        Anchor {
            zone,
            ds: Vec::new(),
            dnskey: Vec::new(),
        }
    }

    /// Adds `other`'s records that this anchor lacks.
    fn merge(&mut self, other: Anchor) {
        for ds in other.ds {
            if !self.ds.contains(&ds) {
                self.ds.push(ds);
            }
        }
        for key in other.dnskey {
            if !self.dnskey.contains(&key) {
                self.dnskey.push(key);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TrustAnchors
// ---------------------------------------------------------------------------------------------

/// The configured trust anchors, one [`Anchor`] per zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustAnchors {
    /// By zone; [`Name`] compares without case.
    zones: BTreeMap<Name, Anchor>,
}

/// KSK-2017's DS digest (SHA-256), from IANA's root-anchors.xml.
const ROOT_KSK_2017_SHA256: [u8; 32] =
    hex32(b"E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D");
/// KSK-2024's DS digest (SHA-256), from IANA's root-anchors.xml.
const ROOT_KSK_2024_SHA256: [u8; 32] =
    hex32(b"683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16");

/// Decodes 64 hex digits at compile time (a bad digit stops the build).
const fn hex32(text: &[u8; 64]) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("not a hex digit"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(text[2 * i]) << 4) | nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

/// DS RDATA from its fields.
fn ds_rdata(key_tag: u16, algorithm: u8, digest_type: u8, digest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + digest.len());
    out.extend_from_slice(&key_tag.to_be_bytes());
    out.push(algorithm);
    out.push(digest_type);
    out.extend_from_slice(digest);
    out
}

impl TrustAnchors {
    /// The root zone's key-signing keys as IANA publishes them (root-anchors.xml): KSK-2017
    /// (key tag 20326) and KSK-2024 (key tag 38696), algorithm 8 (RSA/SHA-256), as DS records
    /// with digest type 2 (SHA-256).
    ///
    /// Both are listed so that a resolver started before, during or after the root's rollover
    /// to KSK-2024 finds a trusted key in the root's DNSKEY RRset.
    pub fn builtin_root() -> TrustAnchors {
        let mut root = Anchor::new(Name::root());
        root.ds.push(ds_rdata(20326, 8, 2, &ROOT_KSK_2017_SHA256));
        root.ds.push(ds_rdata(38696, 8, 2, &ROOT_KSK_2024_SHA256));
        let mut anchors = TrustAnchors::empty();
        anchors.insert(root);
        anchors
    }

    /// No anchors: nothing can be proven.
    pub fn empty() -> TrustAnchors {
        TrustAnchors::default()
    }

    /// Reads anchors from zone-file text; `file` names it in errors and is where `$INCLUDE`d
    /// files are looked for.
    pub fn parse(text: &str, file: &str) -> Result<TrustAnchors, AnchorError> {
        // A TTL means nothing for an anchor; `$TTL 0` in front lets a record leave it out
        // without the zone parser asking for one. It takes a line, taken back off below.
        let prefixed = format!("$TTL 0\n{text}");
        let label = Path::new(file);
        let at_line = |loc: &zone::Loc| {
            if loc.file.as_ref() == label {
                loc.line.saturating_sub(1).max(1)
            } else {
                loc.line
            }
        };
        let mut anchors = TrustAnchors::empty();
        for item in zone::parse_str(&prefixed, label, NameRef::ROOT) {
            let record = item.map_err(|e| AnchorError::Invalid {
                file: e.loc.file.display().to_string(),
                line: at_line(&e.loc),
                column: e.loc.column,
                message: e.message,
            })?;
            let invalid = |message: String| match &record.loc {
                Some(loc) => AnchorError::Invalid {
                    file: loc.file.display().to_string(),
                    line: at_line(loc),
                    column: loc.column,
                    message,
                },
                None => AnchorError::Invalid {
                    file: file.to_owned(),
                    line: 1,
                    column: 1,
                    message,
                },
            };
            let mut anchor = Anchor::new(record.owner.clone());
            match record.rtype {
                RType::DS => {
                    check_ds(&record.rdata).map_err(invalid)?;
                    anchor.ds.push(record.rdata);
                }
                RType::DNSKEY => {
                    check_dnskey(&record.rdata).map_err(invalid)?;
                    anchor.dnskey.push(record.rdata);
                }
                other => {
                    return Err(invalid(format!(
                        "expected a DS or DNSKEY record, not {other}"
                    )));
                }
            }
            anchors.insert(anchor);
        }
        if anchors.is_empty() {
            return Err(AnchorError::Invalid {
                file: file.to_owned(),
                line: 1,
                column: 1,
                message: "no DS or DNSKEY record: a trust anchor file must hold at least one"
                    .into(),
            });
        }
        Ok(anchors)
    }

    /// Reads an anchor file.
    pub fn load(path: &Path) -> Result<TrustAnchors, AnchorError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AnchorError::Read {
            file: file.clone(),
            message: e.to_string(),
        })?;
        TrustAnchors::parse(&text, &file)
    }

    /// Adds `other`'s anchors; records for a zone already anchored join its anchor.
    pub fn add(&mut self, other: TrustAnchors) {
        for anchor in other.zones.into_values() {
            self.insert(anchor);
        }
    }

    /// Adds one anchor, joining the records of an anchor for the same zone.
    pub fn insert(&mut self, anchor: Anchor) {
        match self.zones.get_mut(&anchor.zone) {
            Some(existing) => existing.merge(anchor),
            None => {
                self.zones.insert(anchor.zone.clone(), anchor);
            }
        }
    }

    /// The anchor of the deepest anchored zone at or above `name`: where its chain of trust
    /// starts. `None`: no anchor covers `name`, which is then insecure.
    pub fn closest(&self, name: NameRef<'_>) -> Option<&Anchor> {
        // At most 128 steps: a name has at most 127 labels.
        let mut at = Some(name);
        while let Some(n) = at {
            if let Some(anchor) = self.get(n) {
                return Some(anchor);
            }
            at = n.parent();
        }
        None
    }

    /// The anchor of exactly `zone`.
    pub fn get(&self, zone: NameRef<'_>) -> Option<&Anchor> {
        if self.zones.is_empty() {
            return None;
        }
        self.zones.get(&zone.to_name())
    }

    /// Whether there is no anchor at all.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The anchors, in canonical order of their zones.
    pub fn iter(&self) -> impl Iterator<Item = &Anchor> {
        self.zones.values()
    }
}

/// Checks DS RDATA as an anchor: a known digest type with a digest of its length.
fn check_ds(rdata: &[u8]) -> Result<(), String> {
    let Ok(RData::Ds(ds)) = RData::parse(RType::DS, rdata) else {
        return Err("malformed DS record".into());
    };
    match digest_len(ds.digest_type) {
        Some(len) if len == ds.digest.len() => Ok(()),
        Some(len) => Err(format!(
            "a DS digest of type {} is {len} bytes long, not {}",
            ds.digest_type,
            ds.digest.len()
        )),
        None => Err(format!(
            "unknown DS digest type {}: use 2 (SHA-256), 4 (SHA-384) or 1 (SHA-1)",
            ds.digest_type
        )),
    }
}

/// Checks DNSKEY RDATA as an anchor: a zone key, protocol 3, not revoked.
fn check_dnskey(rdata: &[u8]) -> Result<(), String> {
    let Ok(RData::Dnskey(key)) = RData::parse(RType::DNSKEY, rdata) else {
        return Err("malformed DNSKEY record".into());
    };
    if key.flags & FLAG_ZONE == 0 {
        return Err(format!(
            "DNSKEY flags {} lack the zone-key bit (256): such a key signs nothing in a zone",
            key.flags
        ));
    }
    if key.flags & FLAG_REVOKE != 0 {
        return Err(format!(
            "DNSKEY flags {} have the REVOKE bit (128): a revoked key cannot be an anchor",
            key.flags
        ));
    }
    if key.protocol != 3 {
        return Err(format!(
            "DNSKEY protocol {} is not 3 (RFC 4034 section 2.1.2)",
            key.protocol
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// NegativeAnchors
// ---------------------------------------------------------------------------------------------

/// Negative trust anchors (RFC 7646): names at and below which answers are not validated.
///
/// Answers covered are treated as insecure: no AD bit, no SERVFAIL for bad signatures. RFC 7646
/// section 2 meant them as a short-lived fix for an operator's mistake, to be removed once the
/// zone validates again.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegativeAnchors {
    /// [`Name`] compares without case.
    names: BTreeSet<Name>,
}

impl NegativeAnchors {
    /// Negative anchors at `names`.
    pub fn new(names: Vec<Name>) -> Self {
        NegativeAnchors {
            names: names.into_iter().collect(),
        }
    }

    /// Whether `name` is at or below a negative anchor.
    pub fn covers(&self, name: NameRef<'_>) -> bool {
        self.closest(name).is_some()
    }

    /// The deepest negative anchor at or above `name`. A validator that also has a positive
    /// anchor deeper than it (closer to `name`) validates from that one.
    pub fn closest(&self, name: NameRef<'_>) -> Option<&Name> {
        if self.names.is_empty() {
            return None;
        }
        // At most 128 steps: a name has at most 127 labels.
        let mut at = Some(name);
        while let Some(n) = at {
            if let Some(found) = self.names.get(&n.to_name()) {
                return Some(found);
            }
            at = n.parent();
        }
        None
    }

    /// The names, in canonical order.
    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.names.iter()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why trust anchors could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnchorError {
    /// The file could not be read.
    Read {
        /// The file's path.
        file: String,
        /// The system's reason.
        message: String,
    },
    /// Something in the text is not an acceptable anchor.
    Invalid {
        /// The file (an `$INCLUDE`d file by its own path).
        file: String,
        /// Line, from 1.
        line: u32,
        /// Column in bytes, from 1.
        column: u32,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for AnchorError {
    /// `file: cannot read ...` or `file:line:column: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnchorError::Read { file, message } => {
                write!(f, "{file}: cannot read the trust anchors: {message}")
            }
            AnchorError::Invalid {
                file,
                line,
                column,
                message,
            } => write!(f, "{file}:{line}:{column}: {message}"),
        }
    }
}

impl std::error::Error for AnchorError {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::key::{ds_digest, key_tag};

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn invalid(text: &str) -> (u32, u32, String) {
        match TrustAnchors::parse(text, "anchors.txt") {
            Err(AnchorError::Invalid {
                file,
                line,
                column,
                message,
            }) => {
                assert_eq!(file, "anchors.txt");
                (line, column, message)
            }
            other => panic!("{other:?}"),
        }
    }

    const KEY_20326: &str = "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=";

    #[test]
    fn builtin_root_has_both_ksks() {
        let anchors = TrustAnchors::builtin_root();
        let root = anchors.get(NameRef::ROOT).unwrap();
        assert!(root.dnskey.is_empty());
        let tags: Vec<(u16, u8, u8, usize)> = root
            .ds
            .iter()
            .map(|d| match RData::parse(RType::DS, d).unwrap() {
                RData::Ds(ds) => (ds.key_tag, ds.algorithm, ds.digest_type, ds.digest.len()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(tags, [(20326, 8, 2, 32), (38696, 8, 2, 32)]);
        assert_eq!(
            &root.ds[0][4..8],
            &[0xE0, 0x6D, 0x44, 0xB8],
            "digest starts as published"
        );
        assert_eq!(root.ds[1][4..].last(), Some(&0x16));
        // The same anchors, written as text.
        let text = TrustAnchors::parse(
            ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
             . IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16\n",
            "root.ds",
        )
        .unwrap();
        assert_eq!(text, anchors);
    }

    #[test]
    fn builtin_digests_match_the_published_root_keys() {
        // KSK-2017's key, as IANA publishes it: its digest must be the built-in one.
        let k2017 = TrustAnchors::parse(&format!(". DNSKEY 257 3 8 {KEY_20326}"), "k").unwrap();
        let rdata = &k2017.get(NameRef::ROOT).unwrap().dnskey[0];
        assert_eq!(key_tag(rdata), 20326);
        assert_eq!(
            ds_digest(NameRef::ROOT, rdata, 2).unwrap(),
            ROOT_KSK_2017_SHA256
        );

        // Both keys, from Debian's dns-root-data when it is installed.
        let path = Path::new("/usr/share/dns/root.key");
        if !path.exists() {
            println!(
                "note: {} is missing (package dns-root-data): KSK-2024's digest not cross-checked",
                path.display()
            );
            return;
        }
        let keys = TrustAnchors::load(path).unwrap();
        let root = keys.get(NameRef::ROOT).unwrap();
        let builtin = TrustAnchors::builtin_root();
        let want = &builtin.get(NameRef::ROOT).unwrap().ds;
        let mut checked = 0;
        for key in &root.dnskey {
            let tag = key_tag(key);
            if tag != 20326 && tag != 38696 {
                continue;
            }
            let ds = ds_rdata(tag, 8, 2, &ds_digest(NameRef::ROOT, key, 2).unwrap());
            assert!(want.contains(&ds), "key {tag} hashes to no built-in DS");
            checked += 1;
        }
        assert_eq!(checked, 2, "root.key holds KSK-2017 and KSK-2024");
    }

    #[test]
    fn parses_ds_and_dnskey_in_zone_file_form() {
        let text = format!(
            "; trust anchors\n\
             example.  3600 IN DS 12345 13 2 ( 0123456789abcdef0123456789abcdef\n\
             \t0123456789abcdef0123456789abcdef ) ; split\n\
             $ORIGIN org.\n\
             sub IN DNSKEY 257 3 8 {KEY_20326}\n\
             \x20   DNSKEY 256 3 8 {KEY_20326}\n\
             example. DS 999 8 4 {}\n",
            "ab".repeat(48)
        );
        let a = TrustAnchors::parse(&text, "t").unwrap();
        let ex = a.get(name("EXAMPLE.").as_ref()).unwrap();
        assert_eq!(ex.ds.len(), 2);
        assert!(ex.dnskey.is_empty());
        let sub = a.get(name("sub.org.").as_ref()).unwrap();
        assert_eq!(sub.dnskey.len(), 2);
        assert_eq!(a.iter().count(), 2);
    }

    #[test]
    fn duplicates_and_added_anchors_merge() {
        let one = ". DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D";
        let mut a = TrustAnchors::parse(&format!("{one}\n{one}\n"), "t").unwrap();
        assert_eq!(a.get(NameRef::ROOT).unwrap().ds.len(), 1);
        a.add(TrustAnchors::builtin_root());
        assert_eq!(a.get(NameRef::ROOT).unwrap().ds.len(), 2);
        assert_eq!(a, TrustAnchors::builtin_root());
    }

    #[test]
    fn other_types_are_refused_where_written() {
        let (line, column, message) =
            invalid("; first\n\n. DS 1 8 2 00\nwww.example. A 192.0.2.1\n");
        // The DS's digest is too short: line 3.
        assert_eq!((line, column), (3, 1), "{message}");
        assert!(message.contains("32 bytes long, not 1"), "{message}");
        let (line, column, message) = invalid("; first\nwww.example. 300 A 192.0.2.1\n");
        assert_eq!((line, column), (2, 1));
        assert!(
            message.contains("expected a DS or DNSKEY record, not A"),
            "{message}"
        );
        let (line, _, message) = invalid("\n\n. IN NS a.root-servers.net.\n");
        assert_eq!(line, 3);
        assert!(message.contains("not NS"), "{message}");
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let (line, column, message) = invalid("\n. IN DNSKEY 257 3 8 !!!\n");
        assert_eq!(line, 2);
        assert_eq!(column, 21, "{message}");
        let (line, _, message) = invalid(". CH DS 1 8 2 00\n");
        assert_eq!(line, 1);
        assert!(message.contains("class"), "{message}");
    }

    #[test]
    fn digest_lengths_and_types() {
        for (dt, len, ok) in [
            (1, 20, true),
            (1, 32, false),
            (2, 32, true),
            (2, 48, false),
            (3, 32, true),
            (4, 48, true),
            (4, 32, false),
            (0, 32, false),
            (5, 32, false),
        ] {
            let text = format!(". DS 1 8 {dt} {}", "00".repeat(len));
            assert_eq!(
                TrustAnchors::parse(&text, "t").is_ok(),
                ok,
                "type {dt} length {len}"
            );
        }
        assert!(
            invalid(". DS 1 8 7 00")
                .2
                .contains("unknown DS digest type 7")
        );
    }

    #[test]
    fn dnskey_flags_are_checked() {
        let (_, _, m) = invalid(&format!(". DNSKEY 1 3 8 {KEY_20326}"));
        assert!(m.contains("zone-key"), "{m}");
        let (_, _, m) = invalid(&format!(". DNSKEY 385 3 8 {KEY_20326}"));
        assert!(m.contains("REVOKE"), "{m}");
        let (_, _, m) = invalid(&format!(". DNSKEY 257 2 8 {KEY_20326}"));
        assert!(m.contains("protocol"), "{m}");
        assert!(TrustAnchors::parse(&format!(". DNSKEY 256 3 8 {KEY_20326}"), "t").is_ok());
    }

    #[test]
    fn empty_files_are_refused() {
        let (line, column, m) = invalid("; nothing here\n");
        assert_eq!((line, column), (1, 1));
        assert!(m.contains("no DS or DNSKEY"), "{m}");
    }

    #[test]
    fn load_names_the_file() {
        let err = TrustAnchors::load(Path::new("/nonexistent/anchors.key")).unwrap_err();
        assert!(matches!(err, AnchorError::Read { .. }));
        assert!(
            err.to_string()
                .starts_with("/nonexistent/anchors.key: cannot read")
        );
        let dir = std::env::temp_dir().join(format!("anchors-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.key");
        std::fs::write(&path, "\n. TXT \"x\"\n").unwrap();
        let err = TrustAnchors::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}:2:1: ", path.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn closest_finds_the_deepest_anchor_at_or_above() {
        let mut a = TrustAnchors::builtin_root();
        a.add(TrustAnchors::parse(&format!("example. DNSKEY 257 3 8 {KEY_20326}"), "t").unwrap());
        let at = |n: &str| a.closest(name(n).as_ref()).map(|x| x.zone.to_string());
        assert_eq!(at("www.Example."), Some("example.".into()));
        assert_eq!(at("example."), Some("example.".into()));
        assert_eq!(at("xexample."), Some(".".into()));
        assert_eq!(at("."), Some(".".into()));
        let only =
            TrustAnchors::parse(&format!("example. DNSKEY 257 3 8 {KEY_20326}"), "t").unwrap();
        assert!(only.closest(name("org.").as_ref()).is_none());
        assert!(TrustAnchors::empty().closest(NameRef::ROOT).is_none());
        assert!(TrustAnchors::empty().is_empty());
    }

    #[test]
    fn negative_anchors_cover_names_at_and_below() {
        let n = NegativeAnchors::new(vec![
            name("broken.example."),
            name("Broken.Example."),
            name("a.b.broken.example."),
        ]);
        assert_eq!(n.names().count(), 2);
        assert!(n.covers(name("broken.example.").as_ref()));
        assert!(n.covers(name("www.broken.example.").as_ref()));
        assert!(!n.covers(name("example.").as_ref()));
        assert!(!n.covers(name("notbroken.example.").as_ref()));
        assert_eq!(
            n.closest(name("x.a.b.broken.example.").as_ref())
                .map(ToString::to_string),
            Some("a.b.broken.example.".into())
        );
        assert!(NegativeAnchors::default().is_empty());
        assert!(!NegativeAnchors::new(Vec::new()).covers(NameRef::ROOT));
    }
}
