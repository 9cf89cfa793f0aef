//! The public suffix list (<https://publicsuffix.org/list/>), to find a name's registered
//! domain: the public suffix plus one label, the unit an attacker registers and a tunnel's
//! traffic shares. The private section is included, so each cloud customer
//! (`myapp.herokuapp.com`, `team.github.io`) is its own registered domain and one tunnel on a
//! shared platform does not taint its neighbours.
//!
//! Rules are kept as 64-bit hashes of the lowercased suffix, fed label by label from the right
//! and eight bytes at a time (one multiply per word, not per byte), so a lookup hashes each
//! suffix of the query name once while walking leftwards and needs no allocation. The hash is
//! seeded at random per list, so a client cannot choose a suffix that collides with a rule.
//! Every proper suffix of a rule is stored too (as an interior node), so the walk stops at the
//! first suffix no rule extends.
//!
//! Rules written in UTF-8 (IDN) are skipped: converting them to A-labels needs Punycode, and
//! their ASCII parents (`cn`, `jp`...) are rules of their own, so names under them get the
//! parent's answer (one label too short for those few suffixes).

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::{Arc, OnceLock};

use wire::NameRef;
use wire::name::MAX_LABELS;

/// A suffix is exactly a normal rule (`co.uk`).
const NORMAL: u8 = 1;
/// A wildcard rule `*.suffix` exists (`*.ck`): every child of this suffix is public.
const WILDCARD: u8 = 2;
/// An exception rule `!suffix` exists (`!www.ck`): this suffix is a registered domain.
const EXCEPTION: u8 = 4;
/// Some longer rule ends with this suffix: keep walking left.
const INTERIOR: u8 = 8;

const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Eight bytes with ASCII `A`-`Z` lowercased, the others unchanged (SWAR: the high bit of
/// each byte of `ge_a` and `gt_z` says whether its low seven bits are ≥ `A`, > `Z`).
pub(crate) fn lowercase8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7f * ONES);
    let ge_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let gt_z = low7 + (0x7f - u64::from(b'Z')) * ONES;
    let upper = ge_a & !gt_z & !x & (0x80 * ONES);
    x | (upper >> 2)
}

/// The multiplier of [`mix`] (odd, bits spread: the golden ratio's).
const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

/// One step of the suffix hash: a 64×64→128-bit multiply folded to 64 bits (one `mul`
/// instruction and a xor), which spreads every input bit both ways and cannot be undone.
fn mix(h: u64, word: u64) -> u64 {
    let p = u128::from(h ^ word) * u128::from(MIX);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Little-endian word of `b`'s (at most eight) bytes, zero-extended.
fn word_of(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |w, &x| w << 8 | u64::from(x))
}

/// Labels up to this long are hashed in one step: their bytes and their length in one word.
const SHORT_LABEL: usize = 7;

/// Feeds one label (1 to 63 bytes, lowercased here) into a suffix hash. A short label (most
/// are: `com`, `co`, `example`) is one step, its bytes with its length in the top byte; a
/// longer one is its length, then its bytes in 8-byte words, the last zero-extended. The two
/// cannot be confused: a short label's first word has a length (1 to 7) in its top byte, a
/// long label's first word is its length (8 to 63). The reference form of
/// [`hash_wire_label`], used to hash the rules.
fn hash_label(h: u64, label: &[u8]) -> u64 {
    if label.len() <= SHORT_LABEL {
        return mix(h, lowercase8(word_of(label)) | (label.len() as u64) << 56);
    }
    label
        .chunks(8)
        .fold(mix(h, label.len() as u64), |h, chunk| {
            mix(h, lowercase8(word_of(chunk)))
        })
}

/// [`hash_label`] of the label `wire[start..end]` (`end - start` from 1 to 63), loading whole
/// words: the last one is the eight bytes ending at `end`, shifted down, so no byte past the
/// label is read; only a label ending in the first eight bytes of the name is read byte by
/// byte.
pub(crate) fn hash_wire_label(h: u64, wire: &[u8], start: usize, end: usize) -> u64 {
    let load = |at: usize| {
        wire.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let len = end - start;
    if len <= SHORT_LABEL {
        let word = if end >= 8 {
            load(end - 8) >> (8 * (8 - len))
        } else {
            word_of(wire.get(start..end).unwrap_or_default())
        };
        return mix(h, lowercase8(word) | (len as u64) << 56);
    }
    let mut h = mix(h, len as u64);
    let mut at = start;
    while end - at > 8 {
        h = mix(h, lowercase8(load(at)));
        at += 8;
    }
    let last = if end >= 8 {
        load(end - 8) >> (8 * (8 - (end - at)))
    } else {
        word_of(wire.get(at..end).unwrap_or_default())
    };
    mix(h, lowercase8(last))
}

/// The keys are already hashes: hashing them again (SipHash) would only cost time.
#[derive(Debug, Default, Clone, Copy)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type RuleMap = HashMap<u64, u8, BuildHasherDefault<PassThrough>>;

/// Low bits of a [`Rules`] slot holding the flags (the rest is the suffix hash).
const FLAG_BITS: u64 = 0xf;

/// The rules as looked up per query: a flat open-addressing table of `hash | flags` words, at
/// most half full. A lookup is a multiply, a shift and usually one load and compare, where a
/// general hash map costs several times that (the walk makes two or three per name).
#[derive(Debug, Clone)]
struct Rules {
    /// Where every suffix hash starts: random per list.
    seed: u64,
    /// `suffix hash & !FLAG_BITS | flags`; 0 for an empty slot (flags are never 0).
    slots: Box<[u64]>,
    /// log2 of the slot count.
    bits: u32,
    len: usize,
}

impl Rules {
    fn new(map: &RuleMap, seed: u64) -> Rules {
        let bits = (map.len() * 2).next_power_of_two().max(16).trailing_zeros();
        let mut slots = vec![0u64; 1 << bits].into_boxed_slice();
        let mask = slots.len() - 1;
        for (&h, &flags) in map {
            let mut at = Rules::home(h, bits);
            // At most half full: an empty slot is always found.
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = h & !FLAG_BITS | u64::from(flags);
        }
        Rules {
            seed,
            slots,
            bits,
            len: map.len(),
        }
    }

    fn home(h: u64, bits: u32) -> usize {
        // The hash's top bits: [`mix`] has already spread every input bit over them (hashing
        // again with a multiply by the same constant made clusters: three probes a lookup).
        (h >> (64 - bits)) as usize
    }

    /// The flags of the suffix hashed to `h` (0 when no rule has it). Bounded: the table is at
    /// most half full, so the probe ends at an empty slot within `slots.len()` steps.
    fn get(&self, h: u64) -> u8 {
        let mask = self.slots.len() - 1;
        let home = Rules::home(h, self.bits);
        for step in 0..self.slots.len() {
            let slot = self.slots[(home + step) & mask];
            if slot == 0 {
                break;
            }
            if (slot ^ h) & !FLAG_BITS == 0 {
                return (slot & FLAG_BITS) as u8;
            }
        }
        0
    }
}

/// A parsed public suffix list.
#[derive(Debug, Clone)]
pub struct Psl {
    rules: Rules,
    skipped_idn: usize,
}

/// Where a name's registered domain starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    /// Byte offset in the name's wire form where the registered domain starts (0 when the
    /// name is itself a public suffix, a registered domain, or the root).
    pub offset: usize,
    /// Labels of the registered domain (root not counted).
    pub labels: usize,
    /// Labels left of the registered domain.
    pub left_labels: usize,
    /// Byte offset of the name's last label, its top-level label (0 for the root).
    pub tld: usize,
}

impl Registered {
    /// The registered domain itself, a suffix of `name` (the name the offset was found for).
    pub fn domain<'a>(&self, name: NameRef<'a>) -> NameRef<'a> {
        name.strip_labels(self.left_labels).unwrap_or(name)
    }

    /// The root as the domain of `name`, whose last label starts at `tld`: every label is
    /// left of it.
    pub fn root(name: NameRef<'_>, tld: usize) -> Registered {
        Registered {
            offset: name.as_wire().len().saturating_sub(1),
            labels: 0,
            left_labels: name.label_count(),
            tld,
        }
    }

    /// Whether the name's top-level label cannot be one ([`impossible_tld`]); `wire` is the
    /// name this was found for.
    pub fn impossible_tld(&self, wire: &[u8]) -> bool {
        impossible_tld(wire, self.tld)
    }
}

/// Whether the label of the wire name `wire` that starts at `at` (its last one, for the
/// question asked here) cannot be a top-level domain: it holds a byte other than an ASCII
/// letter and is not an A-label (`xn--`). Top-level domains are alphabetic (RFC 1123 section
/// 2.1; internationalised ones are A-labels), so a name under such a label exists nowhere in
/// the DNS: a typo, an address asked as a name, or a tunnel client talking to its own server
/// and putting its data where a zone would be (`dnscat.<hex>.<hex>`). False for the root.
pub fn impossible_tld(wire: &[u8], at: usize) -> bool {
    let len = usize::from(wire.get(at).copied().unwrap_or(0));
    let Some(label) = wire.get(at + 1..at + 1 + len).filter(|l| !l.is_empty()) else {
        return false;
    };
    // A letter either case: `| 0x20` folds A-Z onto a-z (and nothing else onto them).
    if label.iter().all(|&b| (b | 0x20).wrapping_sub(b'a') < 26) {
        return false;
    }
    !(label.len() > 4 && label[..4].eq_ignore_ascii_case(b"xn--"))
}

/// Why a public suffix list was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PslError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes) of the offending rule or character.
    pub column: usize,
    /// What is wrong.
    pub message: &'static str,
}

impl fmt::Display for PslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for PslError {}

/// The list shipped with this crate (Debian `publicsuffix`, see `data/`).
static EMBEDDED_TEXT: &str = include_str!("../data/public_suffix_list.dat");

impl Psl {
    /// Parses the list's text format: one rule per line (its first whitespace-separated word),
    /// `//` comments, `*.` wildcards and `!` exceptions.
    pub fn parse(text: &str) -> Result<Psl, PslError> {
        let seed = RandomState::new().hash_one(0x0050_534c_u64);
        let mut rules = RuleMap::default();
        let mut skipped_idn = 0;
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let lead = line.len() - trimmed.len();
            let Some(rule) = trimmed.split_whitespace().next() else {
                continue;
            };
            if rule.starts_with("//") {
                continue;
            }
            let err = |offset: usize, message| PslError {
                line: i + 1,
                column: lead + offset + 1,
                message,
            };
            if !rule.is_ascii() {
                skipped_idn += 1;
                continue;
            }
            let (flag, body, body_at) = if let Some(rest) = rule.strip_prefix('!') {
                (EXCEPTION, rest, 1)
            } else if let Some(rest) = rule.strip_prefix("*.") {
                (WILDCARD, rest, 2)
            } else {
                (NORMAL, rule, 0)
            };
            if body.is_empty() {
                return Err(err(0, "empty rule"));
            }
            if body.len() > 253 {
                return Err(err(0, "rule longer than a name"));
            }
            let mut col = body_at;
            for label in body.split('.') {
                if label.is_empty() {
                    return Err(err(col, "empty label"));
                }
                if label.len() > 63 {
                    return Err(err(col, "label longer than 63 bytes"));
                }
                if let Some(p) = label
                    .bytes()
                    .position(|b| !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
                {
                    let message = if label.as_bytes()[p] == b'*' {
                        "a wildcard must be the whole leftmost label"
                    } else {
                        "character not allowed in a rule"
                    };
                    return Err(err(col + p, message));
                }
                col += label.len() + 1;
            }
            if flag == EXCEPTION && !body.contains('.') {
                return Err(err(0, "an exception needs a parent suffix"));
            }
            let mut h = seed;
            let mut labels = body.rsplit('.').peekable();
            while let Some(label) = labels.next() {
                h = hash_label(h, label.as_bytes());
                let last = labels.peek().is_none();
                *rules.entry(h).or_insert(0) |= if last { flag } else { INTERIOR };
            }
            if flag == WILDCARD {
                // Children of a wildcard's suffix are rules of their own (`x.ck`): keep walking.
                *rules.entry(h).or_insert(0) |= INTERIOR;
            }
        }
        Ok(Psl {
            rules: Rules::new(&rules, seed),
            skipped_idn,
        })
    }

    /// The embedded list, parsed once per process and shared.
    pub fn embedded() -> Arc<Psl> {
        static EMBEDDED: OnceLock<Arc<Psl>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                // The embedded text is tested to parse; an empty list (every name's registered
                // domain its last two labels) would still be a safe answer.
                Arc::new(Psl::parse(EMBEDDED_TEXT).unwrap_or_else(|_| Psl {
                    rules: Rules::new(&RuleMap::default(), 0),
                    skipped_idn: 0,
                }))
            })
            .clone()
    }

    /// Rules kept (interior nodes included).
    pub fn len(&self) -> usize {
        self.rules.len
    }

    /// Whether no rule was kept.
    pub fn is_empty(&self) -> bool {
        self.rules.len == 0
    }

    /// Rules skipped because they are written in UTF-8.
    pub fn skipped_idn(&self) -> usize {
        self.skipped_idn
    }

    /// Finds `name`'s registered domain: no allocation, at most one hash lookup per label.
    pub fn registered(&self, name: NameRef<'_>) -> Registered {
        let wire = name.as_wire();
        // The label count and the starts of the last eight labels, one byte each (a wire name
        // is at most 255 bytes, so a start is below 255), the latest in the low byte: a
        // register to shift rather than an array to clear and fill. The walk rarely goes
        // further left (the embedded list's longest rules have six labels); older starts are
        // found by walking the name again. Bounded: `pos` grows by at least 2 a label.
        let mut recent = 0u64;
        let mut n = 0;
        let mut pos = 0usize;
        while let Some(&len) = wire.get(pos) {
            if len == 0 {
                break;
            }
            recent = recent << 8 | pos as u64 & 0xff;
            n += 1;
            pos += 1 + usize::from(len);
        }
        if n == 0 {
            return Registered {
                offset: 0,
                labels: 0,
                left_labels: 0,
                tld: 0,
            };
        }
        // The start of the `k`-th label from the right (1-based).
        let start = |k: usize| {
            if k <= 8 {
                (recent >> (8 * (k - 1)) & 0xff) as usize
            } else {
                nth_label_start(wire, n - k)
            }
        };
        // Length (in labels) of the public suffix: the default rule `*` makes it at least 1.
        let mut suffix = 1;
        let mut h = self.rules.seed;
        let mut parent_wildcard = false;
        for k in 1..=n {
            let at = start(k);
            let len = usize::from(wire.get(at).copied().unwrap_or(0));
            h = hash_wire_label(h, wire, at + 1, at + 1 + len);
            let flags = self.rules.get(h);
            if flags & EXCEPTION != 0 {
                // An exception wins over every other rule: its parent is the public suffix.
                suffix = k - 1;
                break;
            }
            if flags & NORMAL != 0 || parent_wildcard {
                suffix = k;
            }
            if flags & (INTERIOR | WILDCARD) == 0 {
                break;
            }
            parent_wildcard = flags & WILDCARD != 0;
        }
        if n <= suffix {
            return Registered {
                offset: 0,
                labels: n,
                left_labels: 0,
                tld: start(1),
            };
        }
        Registered {
            offset: start(suffix + 1),
            labels: suffix + 1,
            left_labels: n - suffix - 1,
            tld: start(1),
        }
    }
}

/// Where label `i` (0-based from the left) of the wire name starts: the slow path of
/// [`Psl::registered`] for suffixes of more than eight labels (bounded by the name's labels).
fn nth_label_start(wire: &[u8], i: usize) -> usize {
    let mut pos = 0;
    for _ in 0..i.min(MAX_LABELS) {
        pos += 1 + usize::from(wire.get(pos).copied().unwrap_or(0));
    }
    pos
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use wire::Name;

    fn reg(psl: &Psl, name: &str) -> String {
        let n: Name = name.parse().unwrap();
        let r = psl.registered(n.as_ref());
        let d = r.domain(n.as_ref());
        assert_eq!(d.as_wire(), &n.as_wire()[r.offset..]);
        assert_eq!(d.label_count(), r.labels);
        d.to_string()
    }

    /// The publicsuffix.org test vectors (tests/test_psl.txt) that apply to wire names, plus
    /// the private section and case.
    #[test]
    fn registered_domains_of_the_embedded_list() {
        let psl = Psl::embedded();
        let cases = [
            ("com.", "com."),
            ("example.com.", "example.com."),
            ("www.example.com.", "example.com."),
            ("WWW.Example.COM.", "Example.COM."),
            ("uk.com.", "uk.com."),
            ("example.uk.com.", "example.uk.com."),
            ("b.example.uk.com.", "example.uk.com."),
            ("a.b.example.uk.com.", "example.uk.com."),
            ("example.co.uk.", "example.co.uk."),
            ("a.b.example.co.uk.", "example.co.uk."),
            ("co.uk.", "co.uk."),
            ("ck.", "ck."),
            ("test.ck.", "test.ck."),
            ("b.test.ck.", "b.test.ck."),
            ("a.b.test.ck.", "b.test.ck."),
            ("www.ck.", "www.ck."),
            ("www.www.ck.", "www.ck."),
            ("jp.", "jp."),
            ("test.jp.", "test.jp."),
            ("www.test.jp.", "test.jp."),
            ("ac.jp.", "ac.jp."),
            ("test.ac.jp.", "test.ac.jp."),
            ("www.test.ac.jp.", "test.ac.jp."),
            ("kyoto.jp.", "kyoto.jp."),
            ("test.kyoto.jp.", "test.kyoto.jp."),
            ("ide.kyoto.jp.", "ide.kyoto.jp."),
            ("b.ide.kyoto.jp.", "b.ide.kyoto.jp."),
            ("a.b.ide.kyoto.jp.", "b.ide.kyoto.jp."),
            ("c.kobe.jp.", "c.kobe.jp."),
            ("b.c.kobe.jp.", "b.c.kobe.jp."),
            ("a.b.c.kobe.jp.", "b.c.kobe.jp."),
            ("city.kobe.jp.", "city.kobe.jp."),
            ("www.city.kobe.jp.", "city.kobe.jp."),
            ("us.", "us."),
            ("test.us.", "test.us."),
            ("www.test.us.", "test.us."),
            ("ak.us.", "ak.us."),
            ("test.ak.us.", "test.ak.us."),
            ("www.test.ak.us.", "test.ak.us."),
            ("k12.ak.us.", "k12.ak.us."),
            ("test.k12.ak.us.", "test.k12.ak.us."),
            ("www.test.k12.ak.us.", "test.k12.ak.us."),
            // Private section: each customer is its own registered domain.
            ("x.herokuapp.com.", "x.herokuapp.com."),
            ("a.b.myapp.herokuapp.com.", "myapp.herokuapp.com."),
            ("herokuapp.com.", "herokuapp.com."),
            ("team-site.github.io.", "team-site.github.io."),
            ("www.team-site.GITHUB.io.", "team-site.GITHUB.io."),
            // No rule at all: the default rule `*`.
            ("example.example.", "example.example."),
            ("b.example.example.", "example.example."),
            ("a.b.example.example.", "example.example."),
            (".", "."),
        ];
        for (name, want) in cases {
            assert_eq!(reg(&psl, name), want, "{name}");
        }
    }

    #[test]
    fn parse_small_lists_and_errors() {
        let psl = Psl::parse("// c\n\ncom\n*.ck\n!www.ck\nfoo.bar  trailing words\n").unwrap();
        assert_eq!(reg(&psl, "a.b.ck."), "a.b.ck.");
        assert_eq!(reg(&psl, "a.www.ck."), "www.ck.");
        assert_eq!(reg(&psl, "x.y.foo.bar."), "y.foo.bar.");
        assert_eq!(reg(&psl, "x.bar."), "x.bar.");
        let e = Psl::parse("com\n  a..b\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5));
        let e = Psl::parse("a.*.b\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
        assert!(Psl::parse("!com\n").is_err());
        assert!(Psl::parse("a b\n*.\n").is_err());
        let idn = Psl::parse("cn\n公司.cn\n").unwrap();
        assert_eq!(idn.skipped_idn(), 1);
    }

    /// Rules deeper than the eight label starts kept in a register: the walk finds the older
    /// starts by walking the name again.
    #[test]
    fn rules_of_more_than_eight_labels() {
        let psl =
            Psl::parse("j\nb.c.d.e.f.g.h.i.j\n*.k.l.m.n.o.p.q.r\n!x.k.l.m.n.o.p.q.r\n").unwrap();
        assert_eq!(reg(&psl, "x.y.b.c.d.e.f.g.h.i.j."), "y.b.c.d.e.f.g.h.i.j.");
        assert_eq!(reg(&psl, "A.B.C.D.E.F.G.H.I.J."), "A.B.C.D.E.F.G.H.I.J.");
        assert_eq!(reg(&psl, "c.d.e.f.g.h.i.j."), "i.j.");
        assert_eq!(
            reg(&psl, "q.r.s.t.u.w.k.l.m.n.o.p.q.r."),
            "u.w.k.l.m.n.o.p.q.r."
        );
        assert_eq!(reg(&psl, "a.x.k.l.m.n.o.p.q.r."), "x.k.l.m.n.o.p.q.r.");
        let deep: String =
            (0..40).map(|i| format!("l{i}.")).collect::<String>() + "b.c.d.e.f.g.h.i.j.";
        let want: String =
            (39..40).map(|i| format!("l{i}.")).collect::<String>() + "b.c.d.e.f.g.h.i.j.";
        assert_eq!(reg(&psl, &deep), want);
    }

    #[test]
    fn wire_labels_hash_as_the_rules_do() {
        let text = "a.bc.defghijk.lmnopqrst.UVWXYZ0123456789abcdef.x-y.0123456.01234567.";
        let n: Name = text.parse().unwrap();
        let wire = n.as_wire();
        let mut at = 0;
        for label in text.trim_end_matches('.').split('.') {
            let len = usize::from(wire[at]);
            assert_eq!(len, label.len());
            for seed in [0, 1, u64::MAX] {
                let want = hash_label(seed, label.to_ascii_lowercase().as_bytes());
                assert_eq!(
                    hash_wire_label(seed, wire, at + 1, at + 1 + len),
                    want,
                    "{label}"
                );
            }
            at += 1 + len;
        }
        assert_ne!(hash_label(0, b"a\0"), hash_label(0, b"a"));
    }

    #[test]
    fn top_level_labels_that_cannot_exist() {
        let psl = Psl::embedded();
        let impossible = |text: &str| {
            let n: Name = text.parse().unwrap();
            psl.registered(n.as_ref()).impossible_tld(n.as_wire())
        };
        for name in [
            "dnscat.f28d00731accc80001636f6d6d616e6400.",
            "dnscat.3d7d03.460eee60c3.f585a7ab.",
            "192.0.2.1.",
            "printer2.",
            "a.b.my-zone.",
            "x.under_score.",
        ] {
            assert!(impossible(name), "{name}");
        }
        for name in [
            ".",
            "com.",
            "www.example.com.",
            "a.example.co.uk.",
            "host.corp.",
            "printer.",
            "www.xn--p1ai.",
            "foo.XN--unlisted0.",
            "WWW.Example.COM.",
            "1.2.3.4.in-addr.arpa.",
        ] {
            assert!(!impossible(name), "{name}");
        }
        // The label at an offset, and the root as a domain.
        let n: Name = "a.b.1x.".parse().unwrap();
        assert_eq!(psl.registered(n.as_ref()).tld, 4);
        assert!(impossible_tld(n.as_wire(), 4));
        assert!(!impossible_tld(n.as_wire(), 0));
        assert!(!impossible_tld(n.as_wire(), 7));
        assert!(!impossible_tld(n.as_wire(), 99));
        let root = Registered::root(n.as_ref(), 4);
        assert!(root.domain(n.as_ref()).is_root());
        assert_eq!(root.offset, n.as_wire().len() - 1);
        assert_eq!(root.left_labels, 3);
    }

    #[test]
    fn embedded_list_parses_whole() {
        let psl = Psl::parse(EMBEDDED_TEXT).unwrap();
        assert!(psl.len() > 8_000, "{}", psl.len());
        assert!(psl.skipped_idn() < 1_000);
    }
}
