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
#[derive(Debug, Clone, PartialEq)]
pub struct Bigrams {
    /// `table[prev * BIGRAM_SYMBOLS + next]`, natural log.
    table: Vec<f32>,
    /// `c * log2(c)` for every byte count, for the entropy (kept here, built once per model,
    /// because a float table cannot be computed in a `const`).
    clog2c: Vec<f32>,
}

fn clog2c() -> Vec<f32> {
    (0..=255u8)
        .map(|c| {
            let c = f32::from(c);
            if c > 0.0 { c * c.log2() } else { 0.0 }
        })
        .collect()
}

/// The symbol of one byte.
fn symbol(b: u8) -> usize {
    match b.to_ascii_lowercase() {
        c @ b'a'..=b'z' => usize::from(c - b'a'),
        c @ b'0'..=b'9' => 26 + usize::from(c - b'0'),
        b'-' => 36,
        _ => OTHER,
    }
}

impl Bigrams {
    /// A table from its rows (previous symbol) of columns (next symbol); `None` unless it is
    /// `BIGRAM_SYMBOLS` × `BIGRAM_SYMBOLS` of finite numbers.
    pub fn from_rows(rows: &[Vec<f32>]) -> Option<Bigrams> {
        if rows.len() != BIGRAM_SYMBOLS {
            return None;
        }
        let mut table = Vec::with_capacity(BIGRAM_SYMBOLS * BIGRAM_SYMBOLS);
        for row in rows {
            if row.len() != BIGRAM_SYMBOLS || row.iter().any(|v| !v.is_finite()) {
                return None;
            }
            table.extend_from_slice(row);
        }
        Some(Bigrams {
            table,
            clog2c: clog2c(),
        })
    }

    /// A flat table (every pair equally likely), for tools that need features before a table
    /// was learned.
    pub fn uniform() -> Bigrams {
        let p = -(BIGRAM_SYMBOLS as f32).ln();
        Bigrams {
            table: vec![p; BIGRAM_SYMBOLS * BIGRAM_SYMBOLS],
            clog2c: clog2c(),
        }
    }

    fn get(&self, prev: usize, next: usize) -> f32 {
        self.table
            .get(prev * BIGRAM_SYMBOLS + next)
            .copied()
            .unwrap_or(0.0)
    }
}

const DIGIT: u16 = 1;
const UPPER: u16 = 2;
const LOWER: u16 = 4;
const HEX: u16 = 8;
const BASE32: u16 = 16;
const SIGN: u16 = 32;
const UNUSUAL: u16 = 64;
const VOWEL: u16 = 128;
const CONSONANT: u16 = 256;

/// What each byte counts as, so the per-byte work is one table load and a few additions.
static CLASS: [u16; 256] = classes();

const fn classes() -> [u16; 256] {
    let mut t = [0u16; 256];
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
        if lc.is_ascii_lowercase() {
            if matches!(lc, b'a' | b'e' | b'i' | b'o' | b'u' | b'y') {
                c |= VOWEL;
            } else {
                c |= CONSONANT;
            }
        }
        t[i] = c;
        i += 1;
    }
    t
}

/// Whether `qtype` is one tunnels favour: big or free-form answers (TXT, NULL, KEY, CNAME, MX,
/// SRV) or iodine's private-use types.
pub fn is_tunnel_type(qtype: RType) -> bool {
    matches!(qtype.0, 5 | 10 | 15 | 16 | 25 | 33 | 65280..=65534)
}

/// Fills `out` with the features of `name` asked with `qtype`, `registered_offset` being where
/// its registered domain starts in the wire form ([`crate::psl::Registered::offset`]). An empty
/// left part gives zeros (the type features aside).
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
    // A left part is at most 254 bytes, so a byte's count fits in a u8.
    let mut counts = [0u8; 256];
    // The distinct bytes, in order of first sight, so the entropy sums over them alone.
    let mut distinct = [0u8; 256];
    let mut n_distinct = 0usize;
    let (mut bytes, mut labels, mut longest) = (0usize, 0usize, 0usize);
    let (mut digits, mut upper, mut lower, mut hex, mut b32) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut signs, mut other, mut vowels) = (0u32, 0u32, 0u32);
    let (mut run, mut max_run, mut switches) = (0usize, 0usize, 0u32);
    let (mut loglik, mut pairs) = (0f32, 0u32);
    let mut label_lens = [0u8; 128];

    let mut pos = 0;
    while pos < left.len() && labels < label_lens.len() {
        let len = usize::from(left[pos]);
        let Some(label) = left.get(pos + 1..pos + 1 + len) else {
            break;
        };
        if len == 0 {
            break;
        }
        label_lens[labels] = left[pos];
        labels += 1;
        longest = longest.max(len);
        bytes += len;
        let mut prev = BOUNDARY;
        let mut prev_digit: Option<bool> = None;
        for &b in label {
            let c = &mut counts[usize::from(b)];
            if *c == 0 {
                distinct[n_distinct] = b;
                n_distinct += 1;
            }
            *c = c.saturating_add(1);
            let class = CLASS[usize::from(b)];
            let has = |flag: u16| u32::from(class & flag != 0);
            digits += has(DIGIT);
            upper += has(UPPER);
            lower += has(LOWER);
            hex += has(HEX);
            b32 += has(BASE32);
            signs += has(SIGN);
            other += has(UNUSUAL);
            vowels += has(VOWEL);
            if class & CONSONANT != 0 {
                run += 1;
                max_run = max_run.max(run);
            } else {
                run = 0;
            }
            if class & (DIGIT | UPPER | LOWER) != 0 {
                let is_digit = class & DIGIT != 0;
                if prev_digit.is_some_and(|d| d != is_digit) {
                    switches += 1;
                }
                prev_digit = Some(is_digit);
            }
            let s = symbol(b);
            loglik += bigrams.get(prev, s);
            pairs += 1;
            prev = s;
        }
        loglik += bigrams.get(prev, BOUNDARY);
        pairs += 1;
        run = 0;
        pos += 1 + len;
    }
    if bytes == 0 {
        return;
    }

    let n = bytes as f32;
    // Entropy = log2(n) - sum(c log2 c) / n over the distinct bytes, with a table of c log2 c:
    // one logarithm per name.
    let mut sum_clogc = 0f32;
    for &b in &distinct[..n_distinct] {
        sum_clogc += bigrams.clog2c[usize::from(counts[usize::from(b)])];
    }
    let entropy = (n.log2() - sum_clogc / n).max(0.0);
    let at_max = label_lens[..labels]
        .iter()
        .filter(|&&l| usize::from(l) == longest)
        .count();
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
    out[8] = f32::from(u8::from(hex as usize == bytes && bytes >= 8));
    out[9] = ratio(b32);
    out[10] = ratio(signs);
    out[11] = f32::from(u8::from(upper > 0 && lower > 0 && digits > 0));
    out[12] = ratio(other);
    out[13] = max_run as f32;
    out[14] = if letters > 0 {
        vowels as f32 / letters as f32
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
