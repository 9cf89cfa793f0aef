//! `$GENERATE`: BIND's directive for runs of records that differ only by a counter.
//!
//! `$GENERATE` is not part of RFC 1035; BIND defined it (its Administrator Reference Manual,
//! "BIND Primary File Extension: the $GENERATE Directive") to write, for example, the CNAMEs of
//! a classless reverse delegation (RFC 2317) in one line:
//!
//! ```text
//! $ORIGIN 0.0.192.IN-ADDR.ARPA.
//! $GENERATE 1-127 $ CNAME $.0
//! ```
//!
//! makes `1 CNAME 1.0`, `2 CNAME 2.0`, ... `127 CNAME 127.0`. The form is
//! `$GENERATE range owner [ttl] [class] type rdata`:
//!
//! - *range* is `start-stop` or `start-stop/step`, integers from 0 to 2^31 - 1, start not above
//!   stop, step at least 1;
//! - in *owner* and *rdata* each `$` becomes the counter, and `${offset,width,base}` (width and
//!   base optional) adds *offset*, pads with zeros to *width* characters and writes in *base*:
//!   `d` decimal, `o` octal, `x`/`X` hexadecimal, `n`/`N` nibbles (the hexadecimal digits
//!   least significant first, each its own label, as in `ip6.arpa`; the width counts the dots);
//! - `$$` is a literal `$`, and a backslash escape (`\$`) is passed on as written, so the name or
//!   RDATA parser sees the escape;
//! - *rdata* is one field: quote it when it has blanks (`$GENERATE 1-4 @ MX "10 mx$"`).
//!
//! Differences from BIND, chosen to fail loudly: a value made negative by an offset is an error
//! (BIND writes `-3`, or a huge hexadecimal number), and one directive makes at most
//! [`MAX_RECORDS`] records. TTL and class follow the rules of ordinary records.

use std::path::Path;
use std::sync::Arc;

use wire::{Name, RType};

use crate::lexer::{Entry, Pos, split_fields};
use crate::parser::{ParseError, loc};
use crate::record::Record;

/// Most records one `$GENERATE` may make.
pub const MAX_RECORDS: u64 = 65_536;

/// Largest `${...}` width: nothing wider fits in a name.
const MAX_WIDTH: usize = 255;

/// Largest value in a range (BIND's bound).
const MAX_VALUE: u64 = (1 << 31) - 1;

// ---------------------------------------------------------------------------------------------
// Range
// ---------------------------------------------------------------------------------------------

/// The counter's values: `start`, `start + step`, ... up to `stop`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First value.
    pub start: u64,
    /// Last value allowed.
    pub stop: u64,
    /// Increment, at least 1.
    pub step: u64,
}

impl Range {
    /// Parses `start-stop` or `start-stop/step`.
    pub fn from_text(text: &[u8]) -> Result<Range, String> {
        let number = |t: &[u8]| wire::text::parse_decimal(t, MAX_VALUE);
        let bad = || {
            "expected a range start-stop or start-stop/step (integers 0 to 2147483647)".to_string()
        };
        let (span, step) = match text.iter().position(|&c| c == b'/') {
            Some(slash) => (&text[..slash], number(&text[slash + 1..]).ok_or_else(bad)?),
            None => (text, 1),
        };
        let dash = span.iter().position(|&c| c == b'-').ok_or_else(bad)?;
        let start = number(&span[..dash]).ok_or_else(bad)?;
        let stop = number(&span[dash + 1..]).ok_or_else(bad)?;
        if start > stop {
            return Err(format!("range start {start} is above its stop {stop}"));
        }
        if step == 0 {
            return Err("range step must be at least 1".to_string());
        }
        Ok(Range { start, stop, step })
    }

    /// How many values the range has.
    pub fn count(&self) -> u64 {
        (self.stop - self.start) / self.step + 1
    }
}

// ---------------------------------------------------------------------------------------------
// Template
// ---------------------------------------------------------------------------------------------

/// How a counter value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    Decimal,
    Octal,
    Hex { upper: bool },
    Nibble { upper: bool },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Bytes copied as they are.
    Literal(Vec<u8>),
    /// The counter plus `offset`, written in `base`, padded to `width`.
    Value {
        offset: i64,
        width: usize,
        base: Base,
    },
}

/// An owner or RDATA text with its `$` substitutions found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// A template error: the byte offset in the text where it is, and what is wrong.
pub type TemplateError = (usize, String);

impl Template {
    /// Reads the `$`, `$$`, `${offset,width,base}` and backslash forms of `text`.
    pub fn parse(text: &[u8]) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while let Some(&c) = text.get(i) {
            match c {
                b'\\' => {
                    // The escape goes on as written; the lexer made sure a byte follows.
                    let end = (i + 2).min(text.len());
                    literal.extend_from_slice(&text[i..end]);
                    i = end;
                }
                b'$' if text.get(i + 1) == Some(&b'$') => {
                    literal.push(b'$');
                    i += 2;
                }
                b'$' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    let (piece, used) = modifier(text, i)?;
                    pieces.push(piece);
                    i += used;
                }
                _ => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Writes the template for counter `value` into `out` (cleared first).
    pub fn expand(&self, value: u64, out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.extend_from_slice(bytes),
                &Piece::Value {
                    offset,
                    width,
                    base,
                } => {
                    let v = i64::try_from(value)
                        .ok()
                        .and_then(|v| v.checked_add(offset));
                    let v = v.and_then(|v| u64::try_from(v).ok()).ok_or_else(|| {
                        format!("offset {offset} makes the value for {value} negative")
                    })?;
                    write_value(v, width, base, out);
                }
            }
        }
        Ok(())
    }
}

/// Reads `$` or `${offset[,width[,base]]}` at `text[at]`; returns the piece and bytes used.
fn modifier(text: &[u8], at: usize) -> Result<(Piece, usize), TemplateError> {
    let plain = Piece::Value {
        offset: 0,
        width: 0,
        base: Base::Decimal,
    };
    if text.get(at + 1) != Some(&b'{') {
        return Ok((plain, 1));
    }
    let body_start = at + 2;
    let close = text[body_start..]
        .iter()
        .position(|&c| c == b'}')
        .ok_or_else(|| (at, "'${' without a closing '}'".to_string()))?;
    let body = &text[body_start..body_start + close];
    let bad = |m: &str| {
        (
            at,
            format!("bad modifier '${{{}}}': {m}", String::from_utf8_lossy(body)),
        )
    };
    let mut parts = body.split(|&c| c == b',');
    let offset_text = parts.next().unwrap_or_default();
    let offset = parse_signed(offset_text).ok_or_else(|| bad("the offset must be an integer"))?;
    let mut width = 0;
    let mut base = Base::Decimal;
    if let Some(w) = parts.next() {
        width = wire::text::parse_decimal(w, MAX_WIDTH as u64)
            .ok_or_else(|| bad("the width must be an integer from 0 to 255"))?
            as usize;
    }
    if let Some(b) = parts.next() {
        base = match b {
            b"d" => Base::Decimal,
            b"o" => Base::Octal,
            b"x" => Base::Hex { upper: false },
            b"X" => Base::Hex { upper: true },
            b"n" => Base::Nibble { upper: false },
            b"N" => Base::Nibble { upper: true },
            _ => return Err(bad("the base must be one of d, o, x, X, n, N")),
        };
    }
    if parts.next().is_some() {
        return Err(bad("at most three parts: offset, width, base"));
    }
    Ok((
        Piece::Value {
            offset,
            width,
            base,
        },
        close + 3,
    ))
}

fn parse_signed(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let v = i64::try_from(wire::text::parse_decimal(digits, 1 << 32)?).ok()?;
    Some(if negative { -v } else { v })
}

/// Appends `v` in `base`, zero-padded to `width` characters.
fn write_value(v: u64, width: usize, base: Base, out: &mut Vec<u8>) {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    if let Base::Nibble { upper } = base {
        // Least significant nibble first, a dot after each but the last; zero nibbles (and a
        // final dot, when the width asks for it) until `width` characters are written.
        let digits = if upper { UPPER } else { LOWER };
        let start = out.len();
        let mut rest = v;
        loop {
            out.push(digits[(rest & 0xf) as usize]);
            rest >>= 4;
            if rest == 0 && out.len() - start >= width {
                break;
            }
            out.push(b'.');
            if rest == 0 && out.len() - start >= width {
                break;
            }
        }
        return;
    }
    let (radix, digits) = match base {
        Base::Decimal => (10, LOWER),
        Base::Octal => (8, LOWER),
        Base::Hex { upper } => (16, if upper { UPPER } else { LOWER }),
        Base::Nibble { .. } => (16, LOWER),
    };
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut rest = v;
    loop {
        buf[n] = digits[(rest % radix) as usize];
        n += 1;
        rest /= radix;
        if rest == 0 {
            break;
        }
    }
    for _ in n..width {
        out.push(b'0');
    }
    out.extend(buf[..n].iter().rev());
}

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

/// A `$GENERATE` directive being carried out: makes its records one at a time.
#[derive(Debug)]
pub(crate) struct Generator {
    range: Range,
    next: u64,
    owner: Template,
    rdata: Template,
    ttl: u32,
    rtype: RType,
    origin: Name,
    file: Arc<Path>,
    /// Where the directive, the owner and the RDATA fields were written.
    at: Pos,
    owner_at: Pos,
    rdata_at: Pos,
    owner_text: Vec<u8>,
    rdata_text: Vec<u8>,
    entry: Entry<'static>,
}

/// What the parser found in the directive's fields.
#[derive(Debug)]
pub(crate) struct Directive<'e, 'a> {
    pub entry: &'e Entry<'a>,
    /// Index of the owner field (the range is just before it).
    pub owner_field: usize,
    /// Index of the RDATA field.
    pub rdata_field: usize,
    pub ttl: u32,
    pub rtype: RType,
}

impl Generator {
    /// Checks the directive and readies its records.
    pub(crate) fn new(
        d: Directive<'_, '_>,
        origin: Name,
        file: &Arc<Path>,
    ) -> Result<Generator, ParseError> {
        let e = d.entry;
        let err = |field: usize, offset: usize, message: String| {
            let mut pos = e.pos(field);
            let quote = usize::from(e.fields.get(field).is_some_and(|f| f.quoted));
            pos.column = pos
                .column
                .saturating_add(u32::try_from(offset + quote).unwrap_or(0));
            ParseError {
                loc: loc(file, pos),
                message,
            }
        };
        let range_field = d.owner_field - 1;
        let range =
            Range::from_text(e.fields[range_field].text).map_err(|m| err(range_field, 0, m))?;
        if range.count() > MAX_RECORDS {
            return Err(err(
                range_field,
                0,
                format!(
                    "$GENERATE would make {} records; the limit is {MAX_RECORDS} per directive",
                    range.count()
                ),
            ));
        }
        let owner = Template::parse(e.fields[d.owner_field].text)
            .map_err(|(o, m)| err(d.owner_field, o, m))?;
        let rdata_field = e
            .fields
            .get(d.rdata_field)
            .ok_or_else(|| err(d.rdata_field, 0, "expected the RDATA".into()))?;
        let rdata = Template::parse(rdata_field.text).map_err(|(o, m)| err(d.rdata_field, o, m))?;
        if e.fields.len() > d.rdata_field + 1 {
            return Err(err(
                d.rdata_field + 1,
                0,
                "unexpected field after the $GENERATE RDATA (quote RDATA that has blanks)".into(),
            ));
        }
        Ok(Generator {
            range,
            next: range.start,
            owner,
            rdata,
            ttl: d.ttl,
            rtype: d.rtype,
            origin,
            file: file.clone(),
            at: e.pos(0),
            owner_at: e.pos(d.owner_field),
            rdata_at: e.pos(d.rdata_field),
            owner_text: Vec::new(),
            rdata_text: Vec::new(),
            entry: Entry::default(),
        })
    }

    /// The next record, or `None` when the range is done. After an error the directive stops.
    pub(crate) fn next_record(&mut self) -> Option<Result<Record, ParseError>> {
        if self.next > self.range.stop {
            return None;
        }
        let value = self.next;
        self.next += self.range.step;
        let result = self.make(value);
        if result.is_err() {
            self.next = self.range.stop + 1;
        }
        Some(result)
    }

    fn make(&mut self, value: u64) -> Result<Record, ParseError> {
        let file = &self.file;
        let fail = |at: Pos, what: &str, text: &[u8], message: &dyn std::fmt::Display| ParseError {
            loc: loc(file, at),
            message: format!(
                "$GENERATE value {value}: {what} '{}': {message}",
                String::from_utf8_lossy(text)
            ),
        };
        self.owner
            .expand(value, &mut self.owner_text)
            .map_err(|m| ParseError {
                loc: loc(file, self.owner_at),
                message: m,
            })?;
        self.rdata
            .expand(value, &mut self.rdata_text)
            .map_err(|m| ParseError {
                loc: loc(file, self.rdata_at),
                message: m,
            })?;
        let owner = Name::from_text(&self.owner_text, Some(self.origin.as_ref()))
            .map_err(|m| fail(self.owner_at, "bad owner name", &self.owner_text, &m))?;
        let mut entry = std::mem::take(&mut self.entry).recycle();
        let mut rdata = Vec::new();
        let result = split_fields(&self.rdata_text, &mut entry)
            .map_err(|m| fail(self.rdata_at, "bad RDATA", &self.rdata_text, &m.message))
            .and_then(|()| {
                wire::rdata::from_text(self.rtype, &entry.fields, self.origin.as_ref(), &mut rdata)
                    .map_err(|m| fail(self.rdata_at, "bad RDATA", &self.rdata_text, &m))
            });
        self.entry = entry.recycle();
        result?;
        Ok(Record {
            owner,
            class: wire::Class::IN,
            rtype: self.rtype,
            ttl: self.ttl,
            rdata,
            loc: Some(loc(file, self.at)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(template: &str, value: u64) -> String {
        let t = Template::parse(template.as_bytes()).unwrap();
        let mut out = Vec::new();
        t.expand(value, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ranges() {
        assert_eq!(
            Range::from_text(b"1-127").unwrap(),
            Range {
                start: 1,
                stop: 127,
                step: 1
            }
        );
        assert_eq!(Range::from_text(b"0-10/3").unwrap().count(), 4);
        assert_eq!(Range::from_text(b"5-5").unwrap().count(), 1);
        assert_eq!(Range::from_text(b"0-2147483647").unwrap().count(), 1 << 31);
        for bad in [
            "",
            "1",
            "1-",
            "-1",
            "2-1",
            "1-2/0",
            "1-2/",
            "a-b",
            "0-2147483648",
            "1-2-3",
            "1/2-3",
        ] {
            assert!(Range::from_text(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn plain_substitution() {
        // BIND's ARM: `$GENERATE 1-127 $ CNAME $.0` and `SERVER$.EXAMPLE.`.
        assert_eq!(expand("$", 7), "7");
        assert_eq!(expand("$.0", 127), "127.0");
        assert_eq!(expand("SERVER$.EXAMPLE.", 2), "SERVER2.EXAMPLE.");
        assert_eq!(expand("$.64/26", 65), "65.64/26");
        assert_eq!(expand("a$b$c", 3), "a3b3c");
    }

    #[test]
    fn literal_dollar() {
        assert_eq!(expand("g$$", 1), "g$");
        assert_eq!(expand(r"h\$", 1), r"h\$");
        assert_eq!(expand(r"\\$", 4), r"\\4");
        assert_eq!(expand(r"\0651$", 4), r"\06514");
    }

    #[test]
    fn modifiers() {
        // The ARM's example: ${-20,3,d} subtracts 20 and pads to three digits.
        assert_eq!(expand("${-20,3,d}", 25), "005");
        assert_eq!(expand("${0,0,d}", 25), "25");
        assert_eq!(expand("${5}", 1), "6");
        assert_eq!(expand("${+5}", 1), "6");
        assert_eq!(expand("${0,3}", 1), "001");
        assert_eq!(expand("${-5,4,x}", 10), "0005");
        assert_eq!(expand("${1,3,o}", 10), "013");
        assert_eq!(expand("${0,2,X}", 10), "0A");
        assert_eq!(expand("${0,1,x}", 255), "ff");
        assert_eq!(expand("${0,0,X}", 48879), "BEEF");
    }

    #[test]
    fn nibbles_as_bind_writes_them() {
        // Checked against named-checkzone: 26 is 0x1a.
        assert_eq!(expand("${0,0,n}", 1), "1");
        assert_eq!(expand("${0,0,n}", 0), "0");
        assert_eq!(expand("${0,3,N}", 26), "A.1");
        assert_eq!(expand("${0,4,n}", 26), "a.1.");
        assert_eq!(expand("${0,5,n}", 26), "a.1.0");
        assert_eq!(expand("${0,1,n}", 300), "c.2.1");
        assert_eq!(expand("${0,8,n}", 0), "0.0.0.0.");
        assert_eq!(expand("${16,0,n}", 0), "0.1");
    }

    #[test]
    fn bad_modifiers() {
        for (t, at) in [
            ("x${1", 1),
            ("${a}", 0),
            ("${1,b}", 0),
            ("${1,2,q}", 0),
            ("${1,2,d,4}", 0),
            ("${1,256}", 0),
        ] {
            let err = Template::parse(t.as_bytes()).unwrap_err();
            assert_eq!(err.0, at, "{t}: {}", err.1);
        }
        let t = Template::parse(b"${-5}").unwrap();
        let mut out = Vec::new();
        assert!(t.expand(4, &mut out).unwrap_err().contains("negative"));
        t.expand(5, &mut out).unwrap();
        assert_eq!(out, b"0");
    }
}
