//! Domain names (RFC 1034 section 3.1, RFC 1035 sections 2.3.4 and 3.1).
//!
//! A name is a sequence of labels, each 1 to 63 bytes, ending with the empty root label; its
//! uncompressed wire form (a length byte before each label, a zero byte at the end) is at most
//! 255 bytes. Names keep the case they were written with, but compare and hash without regard to
//! ASCII case (RFC 4343).
//!
//! - [`Name`] owns a name inline (no heap), valid by construction: use it for per-query work.
//! - [`NameRef`] borrows a validated uncompressed wire name, e.g. from a zone's storage.
//! - [`CanonicalKey`] turns a name into bytes whose plain byte order is the DNSSEC canonical
//!   order of names (RFC 4034 section 6.1), for ordered lookups.
//!
//! Compressed names inside messages are read by [`crate::message`]; the presentation (text) form
//! is read by [`Name::from_text`] and written by `Display`.

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};

/// Longest uncompressed wire form of a name, root label included (RFC 1035 section 3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label (RFC 1035 section 2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Most labels a name can have, root excluded: 127 one-byte labels take 254 bytes plus the root.
pub const MAX_LABELS: usize = 127;

/// Why bytes or text are not a valid name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// The name would be longer than 255 bytes in wire form.
    TooLong,
    /// A label is longer than 63 bytes.
    LabelTooLong,
    /// An empty label where one is not allowed (`a..b`, a leading dot).
    EmptyLabel,
    /// The data ends inside the name.
    Truncated,
    /// A label type other than a plain label (0b00) or, in messages, a pointer (0b11).
    BadLabelType,
    /// A compression pointer that does not point strictly backwards, or too many of them.
    BadPointer,
    /// Bytes follow the name where none may.
    TrailingBytes,
    /// A malformed escape in the text form (`\` followed by too few digits, a value above 255).
    BadEscape,
    /// A relative name where an absolute one is required and no origin is known.
    Relative,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameError::TooLong => "name longer than 255 bytes",
            NameError::LabelTooLong => "label longer than 63 bytes",
            NameError::EmptyLabel => "empty label",
            NameError::Truncated => "name truncated",
            NameError::BadLabelType => "unsupported label type",
            NameError::BadPointer => "bad compression pointer",
            NameError::TrailingBytes => "trailing bytes after name",
            NameError::BadEscape => "bad escape in name",
            NameError::Relative => "relative name without an origin",
        })
    }
}

impl std::error::Error for NameError {}

// ---------------------------------------------------------------------------------------------
// NameRef
// ---------------------------------------------------------------------------------------------

/// A borrowed, validated, uncompressed wire-form name.
#[derive(Clone, Copy)]
pub struct NameRef<'a> {
    wire: &'a [u8],
}

impl<'a> NameRef<'a> {
    /// The root name.
    pub const ROOT: NameRef<'static> = NameRef { wire: &[0] };

    /// Validates `wire` as exactly one uncompressed name, with nothing after it.
    pub fn from_wire(wire: &'a [u8]) -> Result<Self, NameError> {
        let (name, rest) = Self::split_wire(wire)?;
        if rest.is_empty() {
            Ok(name)
        } else {
            Err(NameError::TrailingBytes)
        }
    }

    /// Reads one uncompressed name from the start of `data`, returning it and the bytes after it.
    pub fn split_wire(data: &'a [u8]) -> Result<(Self, &'a [u8]), NameError> {
        let len = uncompressed_len(data)?;
        let (wire, rest) = data.split_at(len);
        Ok((NameRef { wire }, rest))
    }

    /// Wraps bytes already known to be a valid uncompressed name (made by this crate).
    pub(crate) fn from_wire_unchecked(wire: &'a [u8]) -> Self {
        debug_assert!(uncompressed_len(wire) == Ok(wire.len()));
        NameRef { wire }
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.wire
    }

    /// Length of the wire form in bytes (1 for the root).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.wire.len()
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Number of labels, the root label not counted.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The labels from left to right, root excluded.
    pub fn labels(&self) -> Labels<'a> {
        Labels { rest: self.wire }
    }

    /// Whether the leftmost label is `*` (a wildcard owner, RFC 4592).
    pub fn is_wildcard(&self) -> bool {
        self.wire.len() >= 2 && self.wire[0] == 1 && self.wire[1] == b'*'
    }

    /// The name without its leftmost `n` labels; `None` when it has fewer than `n`.
    pub fn strip_labels(&self, n: usize) -> Option<NameRef<'a>> {
        let mut pos = 0;
        for _ in 0..n {
            let len = usize::from(*self.wire.get(pos)?);
            if len == 0 {
                return None;
            }
            pos += 1 + len;
        }
        Some(NameRef {
            wire: &self.wire[pos..],
        })
    }

    /// The parent name (one label stripped); `None` for the root.
    pub fn parent(&self) -> Option<NameRef<'a>> {
        if self.is_root() {
            None
        } else {
            self.strip_labels(1)
        }
    }

    /// Whether `self` equals `ancestor` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, ancestor: NameRef<'_>) -> bool {
        let (mine, theirs) = (self.label_count(), ancestor.label_count());
        match mine.checked_sub(theirs) {
            Some(extra) => self.strip_labels(extra).is_some_and(|s| s == ancestor),
            None => false,
        }
    }

    /// Copies into an owned [`Name`].
    pub fn to_name(&self) -> Name {
        let mut buf = [0u8; MAX_NAME_LEN];
        buf[..self.wire.len()].copy_from_slice(self.wire);
        Name {
            len: self.wire.len() as u8,
            buf,
        }
    }

    /// Compares in DNSSEC canonical order (RFC 4034 section 6.1): labels from the right, each
    /// compared as lowercased byte strings, a missing label sorting first.
    pub fn canonical_cmp(&self, other: &NameRef<'_>) -> Ordering {
        let mut a = [(0u8, 0u8); MAX_LABELS];
        let mut b = [(0u8, 0u8); MAX_LABELS];
        let na = label_offsets(self.wire, &mut a);
        let nb = label_offsets(other.wire, &mut b);
        for i in 1..=na.min(nb) {
            let (sa, la) = a[na - i];
            let (sb, lb) = b[nb - i];
            let la = &self.wire[usize::from(sa)..usize::from(sa) + usize::from(la)];
            let lb = &other.wire[usize::from(sb)..usize::from(sb) + usize::from(lb)];
            let ord = cmp_lowercase(la, lb);
            if ord != Ordering::Equal {
                return ord;
            }
        }
        na.cmp(&nb)
    }

    /// Writes the canonical key of this name into `key`, see [`CanonicalKey`].
    pub fn canonical_key(&self) -> CanonicalKey {
        CanonicalKey::new(*self)
    }
}

/// Fills `out` with (start, length) of each label's bytes; returns how many.
fn label_offsets(wire: &[u8], out: &mut [(u8, u8); MAX_LABELS]) -> usize {
    let mut n = 0;
    let mut pos = 0;
    while let Some(&len) = wire.get(pos) {
        if len == 0 || n == MAX_LABELS {
            break;
        }
        out[n] = ((pos + 1) as u8, len);
        n += 1;
        pos += 1 + usize::from(len);
    }
    n
}

fn cmp_lowercase(a: &[u8], b: &[u8]) -> Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Validates an uncompressed name at the start of `data`; returns its length in bytes.
fn uncompressed_len(data: &[u8]) -> Result<usize, NameError> {
    let mut pos = 0;
    loop {
        let len = usize::from(*data.get(pos).ok_or(NameError::Truncated)?);
        if len == 0 {
            pos += 1;
            return if pos > MAX_NAME_LEN {
                Err(NameError::TooLong)
            } else {
                Ok(pos)
            };
        }
        if len > MAX_LABEL_LEN {
            return Err(NameError::BadLabelType);
        }
        pos += 1 + len;
        if pos >= MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        if pos > data.len() {
            return Err(NameError::Truncated);
        }
    }
}

/// Iterator over the labels of a name, left to right, root excluded.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.rest.first()?);
        if len == 0 {
            return None;
        }
        let label = self.rest.get(1..1 + len)?;
        self.rest = &self.rest[1 + len..];
        Some(label)
    }
}

impl PartialEq for NameRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.wire.eq_ignore_ascii_case(other.wire)
    }
}

impl Eq for NameRef<'_> {}

impl Hash for NameRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for &b in self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl PartialOrd for NameRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Names order canonically (RFC 4034 section 6.1).
impl Ord for NameRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical_cmp(other)
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            write_label_text(label, f)?;
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Writes one label in presentation form: `.`, `\`, `"`, `(`, `)`, `;`, `@`, `$` escaped with a
/// backslash, bytes outside printable ASCII as `\DDD`.
pub fn write_label_text(label: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                out.write_char('\\')?;
                out.write_char(char::from(b))?;
            }
            0x21..=0x7e => out.write_char(char::from(b))?,
            _ => write!(out, "\\{b:03}")?,
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Name
// ---------------------------------------------------------------------------------------------

/// An owned domain name, stored inline in uncompressed wire form (256 bytes, no heap).
#[derive(Clone)]
pub struct Name {
    len: u8,
    buf: [u8; MAX_NAME_LEN],
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name {
            len: 1,
            buf: [0; MAX_NAME_LEN],
        }
    }

    /// Wraps `len` bytes of `buf` that already hold a valid uncompressed name, labels then the
    /// root byte (zero, as the buffer was zeroed).
    pub(crate) fn from_wire_parts(buf: [u8; MAX_NAME_LEN], len: usize) -> Name {
        debug_assert!(uncompressed_len(&buf[..len]) == Ok(len));
        Name {
            len: len as u8,
            buf,
        }
    }

    /// Validates `wire` as exactly one uncompressed name.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        NameRef::from_wire(wire).map(|n| n.to_name())
    }

    /// Builds a name from labels, left to right (the root label is implied).
    pub fn from_labels<'l>(labels: impl IntoIterator<Item = &'l [u8]>) -> Result<Name, NameError> {
        let mut b = NameBuilder::new();
        for label in labels {
            b.push_label(label)?;
        }
        b.finish()
    }

    /// Parses the presentation form (RFC 1035 section 5.1): labels separated by dots, `\X` and
    /// `\DDD` escapes, a trailing dot for an absolute name. A relative name (no trailing dot) is
    /// completed with `origin`; without an origin it is an error. `@` alone means the origin.
    pub fn from_text(text: &[u8], origin: Option<NameRef<'_>>) -> Result<Name, NameError> {
        if text == b"@" {
            return origin.map(|o| o.to_name()).ok_or(NameError::Relative);
        }
        if text == b"." {
            return Ok(Name::root());
        }
        if text.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        let mut b = NameBuilder::new();
        let mut label = [0u8; MAX_LABEL_LEN];
        let mut label_len = 0usize;
        let mut i = 0;
        let mut absolute = false;
        while i < text.len() {
            let c = text[i];
            let byte = match c {
                b'.' => {
                    if label_len == 0 {
                        return Err(NameError::EmptyLabel);
                    }
                    b.push_label(&label[..label_len])?;
                    label_len = 0;
                    i += 1;
                    if i == text.len() {
                        absolute = true;
                    }
                    continue;
                }
                b'\\' => {
                    let (byte, used) = parse_escape(&text[i + 1..])?;
                    // The shared `i += 1` below accounts for the last byte of the escape.
                    i += used - 1;
                    byte
                }
                _ => c,
            };
            if label_len == MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong);
            }
            label[label_len] = byte;
            label_len += 1;
            i += 1;
        }
        if label_len > 0 {
            b.push_label(&label[..label_len])?;
        }
        if !absolute {
            let origin = origin.ok_or(NameError::Relative)?;
            for l in origin.labels() {
                b.push_label(l)?;
            }
        }
        b.finish()
    }

    /// The borrowed view of this name.
    pub fn as_ref(&self) -> NameRef<'_> {
        NameRef::from_wire_unchecked(&self.buf[..usize::from(self.len)])
    }

    /// The uncompressed wire form.
    pub fn as_wire(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Length of the wire form in bytes.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Lowercases ASCII letters in place (canonical form for DNSSEC, RFC 4034 section 6.2).
    pub fn make_lowercase(&mut self) {
        let len = usize::from(self.len);
        let mut pos = 0;
        while pos < len {
            let l = usize::from(self.buf[pos]);
            self.buf[pos + 1..pos + 1 + l].make_ascii_lowercase();
            pos += 1 + l;
        }
    }

    /// `label` prepended to this name (e.g. `*` to form a wildcard).
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        let mut b = NameBuilder::new();
        b.push_label(label)?;
        for l in self.as_ref().labels() {
            b.push_label(l)?;
        }
        b.finish()
    }

    /// This name (taken as relative) followed by `suffix`.
    pub fn concat(&self, suffix: NameRef<'_>) -> Result<Name, NameError> {
        let mut b = NameBuilder::new();
        for l in self.as_ref().labels().chain(suffix.labels()) {
            b.push_label(l)?;
        }
        b.finish()
    }
}

impl<'a> From<NameRef<'a>> for Name {
    fn from(n: NameRef<'a>) -> Name {
        n.to_name()
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_ref().hash(state)
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_ref().canonical_cmp(&other.as_ref())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.as_ref(), f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_ref(), f)
    }
}

impl core::str::FromStr for Name {
    type Err = NameError;

    /// Parses an absolute name; a name without a trailing dot is taken as absolute too.
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::from_text(s.as_bytes(), Some(NameRef::ROOT))
    }
}

/// Parses the escape after a backslash: `DDD` (three decimal digits, at most 255) or one byte.
/// Returns the byte and how many input bytes, the backslash included, it used.
pub fn parse_escape(after_backslash: &[u8]) -> Result<(u8, usize), NameError> {
    match after_backslash {
        [d0, rest @ ..] if d0.is_ascii_digit() => match rest {
            [d1, d2, ..] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
                let v =
                    u32::from(d0 - b'0') * 100 + u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0');
                u8::try_from(v)
                    .map(|b| (b, 4))
                    .map_err(|_| NameError::BadEscape)
            }
            _ => Err(NameError::BadEscape),
        },
        [c, ..] => Ok((*c, 2)),
        [] => Err(NameError::BadEscape),
    }
}

// ---------------------------------------------------------------------------------------------
// NameBuilder
// ---------------------------------------------------------------------------------------------

/// Builds a [`Name`] label by label, enforcing the label and name length limits.
#[derive(Clone, Debug)]
pub struct NameBuilder {
    name: Name,
}

impl NameBuilder {
    /// An empty builder (finishing it at once gives the root).
    pub fn new() -> NameBuilder {
        NameBuilder {
            name: Name {
                len: 0,
                buf: [0; MAX_NAME_LEN],
            },
        }
    }

    /// Appends one label.
    pub fn push_label(&mut self, label: &[u8]) -> Result<(), NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        let pos = usize::from(self.name.len);
        // Room for the length byte, the label and the final root byte.
        if pos + 1 + label.len() + 1 > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        self.name.buf[pos] = label.len() as u8;
        self.name.buf[pos + 1..pos + 1 + label.len()].copy_from_slice(label);
        self.name.len = (pos + 1 + label.len()) as u8;
        Ok(())
    }

    /// Wire bytes written so far (labels only, no root byte yet).
    pub fn len(&self) -> usize {
        usize::from(self.name.len)
    }

    /// Whether no label has been pushed.
    pub fn is_empty(&self) -> bool {
        self.name.len == 0
    }

    /// Appends the root label and returns the name.
    pub fn finish(mut self) -> Result<Name, NameError> {
        let pos = usize::from(self.name.len);
        if pos + 1 > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        self.name.buf[pos] = 0;
        self.name.len = (pos + 1) as u8;
        Ok(self.name)
    }
}

impl Default for NameBuilder {
    fn default() -> Self {
        NameBuilder::new()
    }
}

// ---------------------------------------------------------------------------------------------
// CanonicalKey
// ---------------------------------------------------------------------------------------------

/// Longest canonical key: every label byte escaped to two bytes plus one separator per label.
pub const MAX_KEY_LEN: usize = 2 * (MAX_NAME_LEN - 1);

/// A name as bytes whose byte-wise order is the DNSSEC canonical order of names.
///
/// Labels are written right to left, lowercased, each followed by a `0x00` separator; the bytes
/// `0x00` and `0x01` inside a label become `01 01` and `01 02`, so that the separator sorts
/// below every label byte and the order stays exact even for binary labels. The root's key is
/// empty; an ancestor's key is a prefix of its descendants' keys.
#[derive(Clone)]
pub struct CanonicalKey {
    len: u16,
    buf: [u8; MAX_KEY_LEN],
}

impl CanonicalKey {
    /// The key of `name`.
    pub fn new(name: NameRef<'_>) -> CanonicalKey {
        let mut key = CanonicalKey {
            len: 0,
            buf: [0; MAX_KEY_LEN],
        };
        let mut offsets = [(0u8, 0u8); MAX_LABELS];
        let n = label_offsets(name.as_wire(), &mut offsets);
        let wire = name.as_wire();
        let mut pos = 0;
        for &(start, len) in offsets[..n].iter().rev() {
            for &b in &wire[usize::from(start)..usize::from(start) + usize::from(len)] {
                match b {
                    0 | 1 => {
                        key.buf[pos] = 1;
                        key.buf[pos + 1] = b + 1;
                        pos += 2;
                    }
                    _ => {
                        key.buf[pos] = b.to_ascii_lowercase();
                        pos += 1;
                    }
                }
            }
            key.buf[pos] = 0;
            pos += 1;
        }
        key.len = pos as u16;
        key
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl fmt::Debug for CanonicalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CanonicalKey({:02x?})", self.as_bytes())
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn text_round_trip_and_escapes() {
        assert_eq!(n("www.Example.COM.").to_string(), "www.Example.COM.");
        assert_eq!(n(".").to_string(), ".");
        let odd = Name::from_text(br"a\.b.c\032d.\255.", None).unwrap();
        assert_eq!(odd.as_ref().label_count(), 3);
        assert_eq!(odd.to_string(), r"a\.b.c\032d.\255.");
        assert_eq!(Name::from_text(br"\256.", None), Err(NameError::BadEscape));
        assert_eq!(Name::from_text(br"\25", None), Err(NameError::BadEscape));
        assert_eq!(Name::from_text(b"a..b.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_text(b".a.", None), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_text(b"a", None), Err(NameError::Relative));
    }

    #[test]
    fn relative_names_and_at() {
        let origin = n("example.org.");
        assert_eq!(
            Name::from_text(b"www", Some(origin.as_ref())).unwrap(),
            n("www.example.org.")
        );
        assert_eq!(
            Name::from_text(b"@", Some(origin.as_ref())).unwrap(),
            origin
        );
        assert_eq!(
            Name::from_text(b"abs.", Some(origin.as_ref())).unwrap(),
            n("abs.")
        );
    }

    #[test]
    fn length_limits() {
        let label63 = "a".repeat(63);
        assert!(Name::from_text(format!("{label63}.").as_bytes(), None).is_ok());
        assert_eq!(
            Name::from_text(format!("a{label63}.").as_bytes(), None),
            Err(NameError::LabelTooLong)
        );
        // 4 labels of 63 = 256 bytes of labels: too long.
        let long = format!("{label63}.{label63}.{label63}.{label63}.");
        assert_eq!(
            Name::from_text(long.as_bytes(), None),
            Err(NameError::TooLong)
        );
        // 3 x 63 + 61 = 253 wire bytes of labels plus root = 254: fine; 62 gives 255: fine.
        let max = format!("{label63}.{label63}.{label63}.{}.", "b".repeat(61));
        assert_eq!(Name::from_text(max.as_bytes(), None).unwrap().len(), 255);
        let over = format!("{label63}.{label63}.{label63}.{}.", "b".repeat(62));
        assert_eq!(
            Name::from_text(over.as_bytes(), None),
            Err(NameError::TooLong)
        );
    }

    #[test]
    fn wire_validation() {
        assert!(NameRef::from_wire(b"\x03www\x00").is_ok());
        assert_eq!(
            NameRef::from_wire(b"\x03www").unwrap_err(),
            NameError::Truncated
        );
        assert_eq!(
            NameRef::from_wire(b"\x03www\x00\x00").unwrap_err(),
            NameError::TrailingBytes
        );
        assert_eq!(
            NameRef::from_wire(b"\xc0\x00").unwrap_err(),
            NameError::BadLabelType
        );
        assert_eq!(NameRef::from_wire(b"").unwrap_err(), NameError::Truncated);
    }

    #[test]
    fn case_insensitive_eq_and_hash() {
        use std::collections::hash_map::DefaultHasher;
        let (a, b) = (n("WwW.example.com."), n("www.EXAMPLE.com."));
        assert_eq!(a, b);
        let h = |x: &Name| {
            let mut s = DefaultHasher::new();
            x.hash(&mut s);
            s.finish()
        };
        assert_eq!(h(&a), h(&b));
        assert_eq!(a.to_string(), "WwW.example.com.");
    }

    #[test]
    fn rfc4034_canonical_order() {
        // The example list from RFC 4034 section 6.1, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            r"zABC.a.EXAMPLE.",
            "z.example.",
            r"\001.z.example.",
            "*.z.example.",
            r"\200.z.example.",
        ];
        let parsed: Vec<Name> = names
            .iter()
            .map(|s| Name::from_text(s.as_bytes(), None).unwrap())
            .collect();
        for w in parsed.windows(2) {
            assert_eq!(w[0].cmp(&w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            let (k0, k1) = (w[0].as_ref().canonical_key(), w[1].as_ref().canonical_key());
            assert!(k0.as_bytes() < k1.as_bytes(), "key {} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn subdomains_and_parents() {
        let a = n("a.b.example.");
        assert!(a.as_ref().is_subdomain_of(n("EXAMPLE.").as_ref()));
        assert!(a.as_ref().is_subdomain_of(a.as_ref()));
        assert!(a.as_ref().is_subdomain_of(NameRef::ROOT));
        assert!(!n("example.").as_ref().is_subdomain_of(a.as_ref()));
        assert!(
            !n("xexample.")
                .as_ref()
                .is_subdomain_of(n("example.").as_ref())
        );
        assert_eq!(a.as_ref().parent().unwrap(), n("b.example.").as_ref());
        assert!(NameRef::ROOT.parent().is_none());
        assert_eq!(n("example.").prepend(b"*").unwrap(), n("*.example."));
        assert!(n("*.example.").as_ref().is_wildcard());
    }

    fn arb_label() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(
                prop_oneof![Just(b'a'), Just(b'Z'), Just(b'-'), Just(b'0')],
                1..8
            ),
            proptest::collection::vec(any::<u8>(), 1..64),
        ]
    }

    pub(crate) fn arb_name() -> impl Strategy<Value = Name> {
        proptest::collection::vec(arb_label(), 0..6).prop_filter_map("too long", |labels| {
            Name::from_labels(labels.iter().map(Vec::as_slice)).ok()
        })
    }

    proptest! {
        #[test]
        fn prop_text_round_trip(name in arb_name()) {
            let text = name.to_string();
            let back = Name::from_text(text.as_bytes(), None).unwrap();
            prop_assert_eq!(back.as_wire(), name.as_wire());
        }

        #[test]
        fn prop_key_order_matches_canonical_order(a in arb_name(), b in arb_name()) {
            let ka = a.as_ref().canonical_key();
            let kb = b.as_ref().canonical_key();
            prop_assert_eq!(ka.as_bytes().cmp(kb.as_bytes()), a.cmp(&b));
        }

        #[test]
        fn prop_wire_round_trip(name in arb_name()) {
            let back = Name::from_wire(name.as_wire()).unwrap();
            prop_assert_eq!(back.as_wire(), name.as_wire());
        }
    }
}
