//! Presentation-format primitives (RFC 1035 section 5.1): the pieces that RDATA fields are
//! written with in zone files and by `dig`.
//!
//! A record's RDATA arrives as a list of [`Field`]s, already split by the zone-file lexer (which
//! handles parentheses, comments and quoting) but with escapes left as written, because what an
//! escape means depends on the field: a name keeps `\.` as a literal dot inside a label, a
//! character-string turns it into a plain dot. Errors point at the field by index so the caller
//! can report file, line and column.

use core::fmt;

use crate::name::{Name, NameError, NameRef, parse_escape};

/// One whitespace-separated field of presentation-format text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The bytes as written, escapes undecoded; for a quoted field, without the quotes.
    pub text: &'a [u8],
    /// Whether the field was written in double quotes.
    pub quoted: bool,
}

impl<'a> Field<'a> {
    /// An unquoted field.
    pub fn plain(text: &'a [u8]) -> Field<'a> {
        Field {
            text,
            quoted: false,
        }
    }

    /// Splits one line of presentation text into fields: blanks separate fields, a field in
    /// double quotes may hold blanks, and a backslash keeps the byte after it in the field (so
    /// `\"` and `\ ` do not end one). Escapes stay undecoded. For tools and tests; zone files go
    /// through the zone crate's lexer, which also handles parentheses and comments.
    pub fn split(text: &'a str) -> Vec<Field<'a>> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let quoted = b[i] == b'"';
            let start = if quoted { i + 1 } else { i };
            let mut j = start;
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 2,
                    b'"' if quoted => break,
                    c if !quoted && c.is_ascii_whitespace() => break,
                    _ => j += 1,
                }
            }
            let end = j.min(b.len());
            out.push(Field {
                text: &b[start..end],
                quoted,
            });
            i = if quoted { end + 1 } else { end };
        }
        out
    }
}

/// A field that could not be read, with the index of the field it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextError {
    /// Index into the fields given to the parser; equal to their number when fields are missing.
    pub field: usize,
    /// What was expected or what is wrong.
    pub message: String,
}

impl TextError {
    /// An error about field `field`.
    pub fn new(field: usize, message: impl Into<String>) -> TextError {
        TextError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TextError {}

/// A cursor over the fields of one record's RDATA.
#[derive(Debug)]
pub struct Fields<'f, 'a> {
    fields: &'f [Field<'a>],
    pos: usize,
}

impl<'f, 'a> Fields<'f, 'a> {
    /// Starts at the first field.
    pub fn new(fields: &'f [Field<'a>]) -> Self {
        Fields { fields, pos: 0 }
    }

    /// Index of the next field.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Whether every field has been taken.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.fields.len()
    }

    /// The fields not taken yet.
    pub fn remaining(&self) -> &'f [Field<'a>] {
        self.fields.get(self.pos..).unwrap_or(&[])
    }

    /// Takes the next field, or fails saying `what` was expected.
    pub fn next(&mut self, what: &str) -> Result<Field<'a>, TextError> {
        let f = self
            .fields
            .get(self.pos)
            .copied()
            .ok_or_else(|| TextError::new(self.pos, format!("expected {what}")))?;
        self.pos += 1;
        Ok(f)
    }

    /// Takes every field left (after reading them through [`Fields::remaining`]).
    pub fn skip_rest(&mut self) {
        self.pos = self.fields.len();
    }

    /// An error about the field just taken.
    pub fn error(&self, message: impl Into<String>) -> TextError {
        TextError::new(self.pos.saturating_sub(1), message)
    }

    /// Fails unless every field was taken.
    pub fn finish(&self) -> Result<(), TextError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(TextError::new(self.pos, "unexpected extra field"))
        }
    }

    /// Takes an unsigned decimal integer that fits in `u8`.
    pub fn u8(&mut self, what: &str) -> Result<u8, TextError> {
        let v = self.number(what, u64::from(u8::MAX))?;
        Ok(v as u8)
    }

    /// Takes an unsigned decimal integer that fits in `u16`.
    pub fn u16(&mut self, what: &str) -> Result<u16, TextError> {
        let v = self.number(what, u64::from(u16::MAX))?;
        Ok(v as u16)
    }

    /// Takes an unsigned decimal integer that fits in `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32, TextError> {
        let v = self.number(what, u64::from(u32::MAX))?;
        Ok(v as u32)
    }

    fn number(&mut self, what: &str, max: u64) -> Result<u64, TextError> {
        let f = self.next(what)?;
        parse_decimal(f.text, max)
            .ok_or_else(|| self.error(format!("expected {what} (0 to {max})")))
    }

    /// Takes a TTL-style duration: seconds, or units such as `1h30m` (BIND's form).
    pub fn ttl(&mut self, what: &str) -> Result<u32, TextError> {
        let f = self.next(what)?;
        parse_ttl(f.text).ok_or_else(|| {
            self.error(format!(
                "expected {what} (seconds, or a duration like 1h30m)"
            ))
        })
    }

    /// Takes a domain name, relative to `origin` unless it ends with a dot.
    pub fn name(&mut self, what: &str, origin: NameRef<'_>) -> Result<Name, TextError> {
        let f = self.next(what)?;
        Name::from_text(f.text, Some(origin)).map_err(|e| self.error(format!("bad {what}: {e}")))
    }

    /// Takes a character-string (RFC 1035 section 3.3) and appends it with its length byte.
    pub fn char_string(&mut self, what: &str, out: &mut Vec<u8>) -> Result<(), TextError> {
        let f = self.next(what)?;
        append_char_string(f.text, out).map_err(|m| self.error(format!("bad {what}: {m}")))
    }
}

/// Parses a decimal integer no larger than `max`.
pub fn parse_decimal(text: &[u8], max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in text {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    (v <= max).then_some(v)
}

/// Parses a TTL: plain seconds (up to 2^32 - 1), or BIND's units `w d h m s` in any case, such
/// as `1w2d` or `1h30m`.
pub fn parse_ttl(text: &[u8]) -> Option<u32> {
    if let Some(v) = parse_decimal(text, u64::from(u32::MAX)) {
        return Some(v as u32);
    }
    if text.is_empty() || !text[0].is_ascii_digit() {
        return None;
    }
    let mut total: u64 = 0;
    let mut current: Option<u64> = None;
    for &c in text {
        if c.is_ascii_digit() {
            current = Some(
                current
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(c - b'0'))?,
            );
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(current.take()?.checked_mul(unit)?)?;
    }
    if let Some(rest) = current {
        total = total.checked_add(rest)?;
    }
    u32::try_from(total).ok()
}

/// Decodes a character-string's escapes (`\X`, `\DDD`) and appends it with its length byte.
pub fn append_char_string(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let len_at = out.len();
    out.push(0);
    if let Err(e) = unescape(text, out) {
        out.truncate(len_at);
        return Err(e);
    }
    let len = out.len() - len_at - 1;
    if len > 255 {
        out.truncate(len_at);
        return Err("longer than 255 bytes");
    }
    out[len_at] = len as u8;
    Ok(())
}

/// Decodes the escapes (`\X`, `\DDD`) of a field and appends the bytes, with no length limit
/// (for values that fill the rest of the RDATA, such as CAA values and URI targets).
pub fn unescape(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        if c == b'\\' {
            let (b, used) = parse_escape(text.get(i + 1..).unwrap_or(&[]))
                .map_err(|_: NameError| "bad escape")?;
            i += used;
            out.push(b);
        } else {
            i += 1;
            out.push(c);
        }
    }
    Ok(())
}

/// Writes a character-string in double quotes, escaping `"` and `\` and writing bytes outside
/// printable ASCII as `\DDD`.
pub fn write_char_string(data: &[u8], out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('"')?;
    for &b in data {
        match b {
            b'"' | b'\\' => {
                out.write_char('\\')?;
                out.write_char(char::from(b))?;
            }
            0x20..=0x7e => out.write_char(char::from(b))?,
            _ => write!(out, "\\{b:03}")?,
        }
    }
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_forms() {
        assert_eq!(parse_ttl(b"3600"), Some(3600));
        assert_eq!(parse_ttl(b"1h30m"), Some(5400));
        assert_eq!(parse_ttl(b"1W"), Some(604_800));
        assert_eq!(parse_ttl(b"2d3"), Some(172_803));
        assert_eq!(parse_ttl(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_ttl(b"4294967296"), None);
        assert_eq!(parse_ttl(b"h"), None);
        assert_eq!(parse_ttl(b"1hh"), None);
        assert_eq!(parse_ttl(b""), None);
    }

    #[test]
    fn split_respects_quotes_and_escapes() {
        let f = Field::split(r#"a "b c" d\ e "x\"y" "#);
        let texts: Vec<(&[u8], bool)> = f.iter().map(|f| (f.text, f.quoted)).collect();
        assert_eq!(
            texts,
            vec![
                (&b"a"[..], false),
                (&b"b c"[..], true),
                (&br"d\ e"[..], false),
                (&br#"x\"y"#[..], true)
            ]
        );
    }

    #[test]
    fn char_strings() {
        let mut out = Vec::new();
        append_char_string(br#"a\"b\092\255"#, &mut out).unwrap();
        assert_eq!(out, b"\x05a\"b\\\xff");
        let mut s = String::new();
        write_char_string(&out[1..], &mut s).unwrap();
        assert_eq!(s, r#""a\"b\\\255""#);
        assert!(append_char_string(&[b'x'; 256], &mut out).is_err());
    }
}
