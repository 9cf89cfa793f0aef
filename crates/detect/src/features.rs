//! Per-query features: what a tunnel's encoder leaves in a query name.
//!
//! A tunnel packs payload into the labels left of the attacker's registered domain (the "left
//! part"): long, chunked at a fixed label length, high in entropy, drawn from an encoding's
//! alphabet (hex, base32, base64) and unlike the character pairs of names people choose. The
//! features measure those traits and how much information the left part carries under the
//! benign bigram model (its surprisal: exfiltration needs many bits per query), in one pass
//! over the wire form (at most 255 bytes, no allocation), and the query type (tunnels favour
//! types with large answers).
//!
//! Names are compared case-insensitively except where case is the signal (base64 mixes case,
//! resolvers and people do not).

use wire::{NameRef, RType};

/// Number of features.
pub const FEATURES: usize = 20;

/// Feature names, in order: stable, the model file lists them and refuses to load when they
/// differ.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "left_len",
    "left_labels",
    "longest_label",
    "max_len_share",
    "entropy",
    "digit_ratio",
    "case_mix",
    "hex_share",
    "all_hex",
    "base32_share",
    "base64_signs",
    "mixed_case_digits",
    "other_share",
    "consonant_run",
    "vowel_ratio",
    "class_switches",
    "bigram_loglik",
    "surprisal",
    "qtype_tunnel",
    "qtype_address",
];

/// The unit of a yes/no feature: an explanation names it without a value.
pub const FLAG: &str = "flag";

/// How each feature reads in an explanation: a short label, and its value's unit and decimals.
pub const FEATURE_LABELS: [(&str, &str, usize); FEATURES] = [
    ("left part", " bytes", 0),
    ("labels", "", 0),
    ("longest label", " bytes", 0),
    ("labels at max length", "", 2),
    ("entropy", " bits", 1),
    ("digit ratio", "", 2),
    ("case mixing", "", 2),
    ("hex share", "", 2),
    ("all hex", FLAG, 0),
    ("base32 share", "", 2),
    ("base64 signs", "", 2),
    ("mixed case with digits", FLAG, 0),
    ("unusual bytes", "", 2),
    ("consonant run", "", 0),
    ("vowel ratio", "", 2),
    ("letter/digit switches", "", 2),
    ("bigram log-likelihood", "", 2),
    ("surprisal", " bits", 0),
    ("tunnel-friendly type", FLAG, 0),
    ("address type", FLAG, 0),
];

/// Symbols of the bigram alphabet: the characters of [`BIGRAM_ALPHABET`], then "other", then
/// the label boundary.
pub const BIGRAM_SYMBOLS: usize = BIGRAM_ALPHABET.len() + 2;
/// The characters with a symbol of their own (letters are folded to lowercase first).
pub const BIGRAM_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789-";
const OTHER: usize = BIGRAM_ALPHABET.len();
const BOUNDARY: usize = BIGRAM_ALPHABET.len() + 1;

/// Log-probabilities of the next character given the previous one, learned from benign left
/// parts: a tunnel's encoded bytes make pairs ordinary names rarely do.
///
/// Kept in fixed point (natural log × 2^32, in `i64`): summing integers is exact and each
/// addition takes one cycle, where a floating-point sum is a serial chain of four-cycle
/// additions, the per-byte bottleneck of [`extract`] when it was kept as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bigrams {
    /// `table[prev * BIGRAM_SYMBOLS + next]`, natural log × [`FIXED_ONE`], padded to
    /// [`TABLE_SLOTS`] so that a masked index needs no bounds check; then, at [`STEPS`],
    /// `(c+1)·log2(c+1) − c·log2(c)` × [`FIXED_ONE`] for every byte count `c`: the entropy's
    /// sum of `c·log2 c` over the bytes, kept up to date one byte at a time with no logarithm
    /// and no pass over the distinct bytes (here because a float table cannot be computed in
    /// a `const`, and in one array so the per-byte loop needs one register for both).
    table: Box<[i64; TABLE_SLOTS + 256]>,
    /// `log2(n)` for every left-part length `n`: one logarithm less per name.
    log2: Box<[f32; 256]>,
}

/// The fixed-point unit of [`Bigrams`]: 2^32, so rounding a value costs at most 2^-33.
const FIXED_ONE: f64 = 4_294_967_296.0;
/// Largest magnitude (in nats) kept of a bigram log-probability, so 255 of them fit in an
/// `i64` (learned values are above −20; a table beyond this is clamped to it).
const FIXED_BOUND: f64 = 1_048_576.0;
/// Entries of the padded bigram table (a power of two above `BIGRAM_SYMBOLS²` = 1,521).
const TABLE_SLOTS: usize = 2048;
/// Where the entropy's steps start in the table.
const STEPS: usize = TABLE_SLOTS;

fn fixed(v: f64) -> i64 {
    (v.clamp(-FIXED_BOUND, FIXED_BOUND) * FIXED_ONE).round() as i64
}

/// The symbol of one byte.
const fn symbol(b: u8) -> usize {
    match b.to_ascii_lowercase() {
        c @ b'a'..=b'z' => (c - b'a') as usize,
        c @ b'0'..=b'9' => 26 + (c - b'0') as usize,
        b'-' => 36,
        _ => OTHER,
    }
}

impl Bigrams {
    fn build(table: impl Fn(usize) -> f32) -> Bigrams {
        let mut fixed_table = Box::new([0i64; TABLE_SLOTS + 256]);
        for (i, v) in fixed_table
            .iter_mut()
            .take(BIGRAM_SYMBOLS * BIGRAM_SYMBOLS)
            .enumerate()
        {
            *v = fixed(f64::from(table(i)));
        }
        // c·log2(c) as the entropy has always computed it (in f32), summed exactly.
        let clog2c = |c: usize| {
            let c = c as f32;
            f64::from(if c > 0.0 { c * c.log2() } else { 0.0 })
        };
        for (c, v) in fixed_table[STEPS..].iter_mut().enumerate() {
            *v = ((clog2c(c + 1) - clog2c(c)) * FIXED_ONE).round() as i64;
        }
        let mut log2 = Box::new([0f32; 256]);
        for (n, v) in log2.iter_mut().enumerate() {
            *v = (n as f32).log2();
        }
        Bigrams {
            table: fixed_table,
            log2,
        }
    }

    /// A table from its rows (previous symbol) of columns (next symbol); `None` unless it is
    /// `BIGRAM_SYMBOLS` × `BIGRAM_SYMBOLS` of finite numbers.
    pub fn from_rows(rows: &[Vec<f32>]) -> Option<Bigrams> {
        if rows.len() != BIGRAM_SYMBOLS
            || rows
                .iter()
                .any(|row| row.len() != BIGRAM_SYMBOLS || row.iter().any(|v| !v.is_finite()))
        {
            return None;
        }
        Some(Bigrams::build(|i| {
            rows[i / BIGRAM_SYMBOLS][i % BIGRAM_SYMBOLS]
        }))
    }

    /// A flat table (every pair equally likely), for tools that need features before a table
    /// was learned.
    pub fn uniform() -> Bigrams {
        let p = -(BIGRAM_SYMBOLS as f32).ln();
        Bigrams::build(|_| p)
    }

    /// The fixed-point log-probability at `row + next` (`row` = previous symbol × symbols).
    fn get(&self, row: usize, next: usize) -> i64 {
        self.table[(row + next) & (TABLE_SLOTS - 1)]
    }

    /// The entropy's step from byte count `c` to `c + 1`.
    fn step(&self, c: u8) -> i64 {
        self.table[STEPS + usize::from(c)]
    }
}

// Per-byte counts, one 8-bit lane each in a `u64`: a left part has at most 253 bytes, so a
// lane cannot overflow, and one addition of a table entry counts a byte in all eight.
const DIGIT: u64 = 1;
const UPPER: u64 = 1 << 8;
const LOWER: u64 = 1 << 16;
const HEX: u64 = 1 << 24;
const BASE32: u64 = 1 << 32;
const SIGN: u64 = 1 << 40;
const UNUSUAL: u64 = 1 << 48;
const VOWEL: u64 = 1 << 56;

/// The count in one lane of the packed counters.
fn lane(counts: u64, flag: u64) -> u32 {
    ((counts / flag) & 0xff) as u32
}

/// A byte's part in the features, one field per use so that the per-byte loop loads each
/// directly (no shift or mask), from one table (one base register).
#[derive(Clone, Copy)]
struct ByteInfo {
    /// Class counts, one 8-bit lane each (see [`DIGIT`]...).
    classes: u64,
    /// Its bigram symbol's row in the table (symbol × symbols).
    row: u16,
    /// Its bigram symbol.
    sym: u8,
    /// 1 for a letter, 2 for a digit, 0 otherwise (for the letter/digit switches).
    kind: u8,
    /// 3 when the byte is neither letter nor digit (the last kind is kept), else 0.
    keep: u8,
    /// 0xff for a consonant, else 0: the consonant run is `(run + 1) & mask`.
    consonant: u8,
}

static BYTES: [ByteInfo; 256] = byte_infos();

const fn byte_infos() -> [ByteInfo; 256] {
    let classes = classes();
    let mut t = [ByteInfo {
        classes: 0,
        row: 0,
        sym: 0,
        kind: 0,
        keep: 0,
        consonant: 0,
    }; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let lc = b.to_ascii_lowercase();
        let sym = symbol(b);
        let letter = lc.is_ascii_lowercase();
        let kind = if letter {
            LETTER
        } else if b.is_ascii_digit() {
            DIGIT_KIND
        } else {
            0
        };
        let consonant = letter && !matches!(lc, b'a' | b'e' | b'i' | b'o' | b'u' | b'y');
        t[i] = ByteInfo {
            classes: classes[i],
            row: (sym * BIGRAM_SYMBOLS) as u16,
            sym: sym as u8,
            kind,
            keep: if kind == 0 { 3 } else { 0 },
            consonant: if consonant { 0xff } else { 0 },
        };
        i += 1;
    }
    t
}

/// What each byte counts as: one 8-bit lane per class, so the per-byte counting is one
/// addition.
const fn classes() -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let lc = b.to_ascii_lowercase();
        let mut c = 0;
        if b.is_ascii_digit() {
            c |= DIGIT;
        }
        if b.is_ascii_uppercase() {
            c |= UPPER;
        }
        if b.is_ascii_lowercase() {
            c |= LOWER;
        }
        if b.is_ascii_hexdigit() {
            c |= HEX;
        }
        if lc.is_ascii_lowercase() || (b >= b'2' && b <= b'7') {
            c |= BASE32;
        }
        if matches!(b, b'+' | b'/' | b'=' | b'_') {
            c |= SIGN;
        }
        if !(b.is_ascii_alphanumeric() || b == b'-') {
            c |= UNUSUAL;
        }
        if matches!(lc, b'a' | b'e' | b'i' | b'o' | b'u' | b'y') {
            c |= VOWEL;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const LETTER: u8 = 1;
const DIGIT_KIND: u8 = 2;

/// The bigram row of the label boundary.
const BOUNDARY_ROW: usize = BOUNDARY * BIGRAM_SYMBOLS;

/// What the per-byte loop sums over a left part's labels.
#[derive(Default)]
struct Scan {
    /// Class counts, one 8-bit lane each (see [`DIGIT`]...).
    classes: u64,
    /// The current run of consonants (reset at each label's end) and the longest.
    run: u32,
    max_run: u32,
    /// Letter/digit switches.
    switches: u32,
    /// The bigram log-likelihood, fixed point.
    loglik: i64,
    /// Σ c·log2 c over the byte counts, fixed point.
    sum_clogc: i64,
}

impl Scan {
    /// One label's bytes, then its boundary pair.
    ///
    /// Per byte: two table loads (its classes and its symbol), integer additions only (packed
    /// class counts, the fixed-point bigram sum and the entropy's `c·log2 c` sum), no branch
    /// but the loop's.
    #[inline(always)]
    fn label(&mut self, label: &[u8], counts: &mut [u8; 256], bigrams: &Bigrams) {
        let Scan {
            mut classes,
            mut run,
            mut max_run,
            mut switches,
            mut loglik,
            mut sum_clogc,
        } = *self;
        let mut row = BOUNDARY_ROW;
        // 0 before the label's first letter or digit, else the kind of the last one.
        let mut prev_kind = 0u32;
        for &b in label {
            let info = &BYTES[usize::from(b)];
            classes += info.classes;
            let c = &mut counts[usize::from(b)];
            sum_clogc += bigrams.step(*c);
            *c = c.wrapping_add(1);
            run = (run + 1) & u32::from(info.consonant);
            max_run = max_run.max(run);
            let kind = u32::from(info.kind);
            // A letter after a digit or a digit after a letter: kinds 1 and 2 differ in both
            // bits, so their xor plus one is 4 and every other pair's is below.
            switches += ((prev_kind ^ kind) + 1) >> 2;
            prev_kind = (prev_kind & u32::from(info.keep)) | kind;
            loglik += bigrams.get(row, usize::from(info.sym));
            row = usize::from(info.row);
        }
        loglik += bigrams.get(row, BOUNDARY);
        *self = Scan {
            classes,
            run: 0,
            max_run,
            switches,
            loglik,
            sum_clogc,
        };
    }
}

/// Whether `qtype` is one tunnels favour: big or free-form answers (TXT, NULL, KEY, CNAME, MX,
/// SRV) or iodine's private-use types.
pub fn is_tunnel_type(qtype: RType) -> bool {
    matches!(qtype.0, 5 | 10 | 15 | 16 | 25 | 33 | 65280..=65534)
}

/// Fills `out` with the features of `name` asked with `qtype`, `registered_offset` being where
/// its registered domain starts in the wire form ([`crate::psl::Registered::offset`]). An empty
/// left part gives zeros (the type features aside).
///
/// Per byte: two table loads (its classes and its symbol), integer additions only (packed
/// class counts, the fixed-point bigram sum and the entropy's `c·log2 c` sum), no branch but
/// the loop's.
pub fn extract(
    name: NameRef<'_>,
    qtype: RType,
    registered_offset: usize,
    bigrams: &Bigrams,
    out: &mut [f32; FEATURES],
) {
    *out = [0.0; FEATURES];
    out[18] = f32::from(u8::from(is_tunnel_type(qtype)));
    out[19] = f32::from(u8::from(matches!(
        qtype,
        RType::A | RType::AAAA | RType::HTTPS
    )));

    let wire = name.as_wire();
    let left = wire.get(..registered_offset.min(wire.len())).unwrap_or(&[]);
    // A left part is at most 253 bytes, so a byte's count fits in a u8.
    let mut counts = [0u8; 256];
    let mut scan = Scan::default();
    // u32 rather than usize: converting them to f32 is then one instruction.
    let (mut bytes, mut labels, mut longest, mut at_max, mut pairs) =
        (0u32, 0u32, 0usize, 0u32, 0u32);
    if let Some((&len, label)) = left.split_first()
        && usize::from(len) == label.len()
        && len != 0
    {
        // The usual left part, one label (`www`, `mail`): no label loop, whose bookkeeping
        // costs a short name more than its bytes do.
        scan.label(label, &mut counts, bigrams);
        (bytes, labels, longest, at_max, pairs) =
            (u32::from(len), 1, label.len(), 1, u32::from(len) + 1);
    } else {
        let mut pos = 0;
        while pos < left.len() {
            let len = usize::from(left[pos]);
            let Some(label) = left.get(pos + 1..pos + 1 + len) else {
                break;
            };
            if len == 0 {
                break;
            }
            labels += 1;
            if len > longest {
                longest = len;
                at_max = 1;
            } else if len == longest {
                at_max += 1;
            }
            bytes += len as u32;
            scan.label(label, &mut counts, bigrams);
            pairs += len as u32 + 1;
            pos += 1 + len;
        }
    }
    let Scan {
        classes,
        max_run,
        switches,
        loglik,
        sum_clogc,
        ..
    } = scan;
    if bytes == 0 {
        return;
    }

    let n = bytes as f32;
    let loglik = (loglik as f64 / FIXED_ONE) as f32;
    let sum_clogc = (sum_clogc as f64 / FIXED_ONE) as f32;
    // Entropy = log2(n) - sum(c log2 c) / n.
    let entropy = (bigrams.log2[(bytes as usize).min(255)] - sum_clogc / n).max(0.0);
    let digits = lane(classes, DIGIT);
    let upper = lane(classes, UPPER);
    let lower = lane(classes, LOWER);
    let hex = lane(classes, HEX);
    let letters = upper + lower;
    let ratio = |k: u32| k as f32 / n;

    out[0] = (bytes + labels - 1) as f32;
    out[1] = labels as f32;
    out[2] = longest as f32;
    out[3] = if labels >= 2 {
        at_max as f32 / labels as f32
    } else {
        0.0
    };
    out[4] = entropy;
    out[5] = ratio(digits);
    out[6] = if letters > 0 {
        upper.min(lower) as f32 / letters as f32
    } else {
        0.0
    };
    out[7] = ratio(hex);
    out[8] = f32::from(u8::from(hex == bytes && bytes >= 8));
    out[9] = ratio(lane(classes, BASE32));
    out[10] = ratio(lane(classes, SIGN));
    out[11] = f32::from(u8::from(upper > 0 && lower > 0 && digits > 0));
    out[12] = ratio(lane(classes, UNUSUAL));
    out[13] = max_run as f32;
    out[14] = if letters > 0 {
        lane(classes, VOWEL) as f32 / letters as f32
    } else {
        0.0
    };
    out[15] = ratio(switches);
    out[16] = loglik / pairs as f32;
    out[17] = -loglik / std::f32::consts::LN_2;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::psl::Psl;
    use wire::Name;

    fn features(name: &str, qtype: RType) -> [f32; FEATURES] {
        let n: Name = name.parse().unwrap();
        let r = Psl::embedded().registered(n.as_ref());
        let mut out = [0.0; FEATURES];
        extract(n.as_ref(), qtype, r.offset, &Bigrams::uniform(), &mut out);
        out
    }

    fn get(f: &[f32; FEATURES], name: &str) -> f32 {
        f[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn empty_left_part_is_zeros_but_the_type() {
        let f = features("example.com.", RType::TXT);
        assert_eq!(get(&f, "qtype_tunnel"), 1.0);
        assert!(f[..18].iter().all(|&v| v == 0.0));
        let f = features("co.uk.", RType::A);
        assert_eq!(get(&f, "qtype_address"), 1.0);
        assert!(f[..18].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn hex_tunnel_name() {
        let f = features(
            "0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210.Evil.Example.",
            RType::CNAME,
        );
        assert_eq!(get(&f, "left_len"), 65.0);
        assert_eq!(get(&f, "left_labels"), 2.0);
        assert_eq!(get(&f, "longest_label"), 32.0);
        assert_eq!(get(&f, "max_len_share"), 1.0);
        assert!((get(&f, "entropy") - 4.0).abs() < 1e-5);
        assert_eq!(get(&f, "hex_share"), 1.0);
        assert_eq!(get(&f, "all_hex"), 1.0);
        assert_eq!(get(&f, "qtype_tunnel"), 1.0);
        assert!(get(&f, "class_switches") > 0.0);
    }

    #[test]
    fn ordinary_and_base64_names() {
        let f = features("www.example.com.", RType::A);
        assert_eq!(get(&f, "left_len"), 3.0);
        assert_eq!(get(&f, "consonant_run"), 3.0);
        assert_eq!(get(&f, "all_hex"), 0.0);
        assert_eq!(get(&f, "vowel_ratio"), 0.0);
        let f = features("aGVsbG8gd29y_bGQ9.t.example.com.", RType::TXT);
        assert!(get(&f, "case_mix") > 0.2);
        assert_eq!(get(&f, "mixed_case_digits"), 1.0);
        assert!(get(&f, "base64_signs") > 0.0);
        assert!(get(&f, "other_share") > 0.0);
    }

    #[test]
    fn uppercase_does_not_change_the_rest() {
        let a = features("mail.google.com.", RType::AAAA);
        let b = features("MAIL.GOOGLE.COM.", RType::AAAA);
        assert_eq!(a, b);
    }
}
