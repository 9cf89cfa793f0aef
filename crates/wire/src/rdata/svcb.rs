//! SVCB and HTTPS service parameters (RFC 9460 sections 2.1, 2.2 and 7).
//!
//! On the wire the parameters follow the target name as `key (u16), length (u16), value`, keys
//! in strictly increasing order. [`SvcParams`] holds them validated; iterating yields
//! [`SvcParam`]s, typed for the keys RFC 9460 and RFC 9461 define and raw for the others.
//!
//! In presentation form each parameter is `key=value` or a bare `key`; the value is a
//! character-string (so it may be quoted and use `\X` and `\DDD` escapes), and list-valued keys
//! separate items with commas. `alpn` adds a second level of escaping (Appendix A.1): after the
//! character-string is decoded, `\,` is a comma inside an ALPN id and `\\` a backslash. Keys may
//! be written in any order; the wire form sorts them.

use core::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::RDataError;
use super::encoding::{decode_base64, write_base64};
use super::view::Reader;
use crate::text::{Field, Fields, TextError, unescape};

/// Key numbers (RFC 9460 section 14.3.2, RFC 9461, RFC 9540).
pub mod key {
    /// Keys the client must understand to use the record.
    pub const MANDATORY: u16 = 0;
    /// Application protocols (ALPN ids) offered.
    pub const ALPN: u16 = 1;
    /// The default protocol is not offered.
    pub const NO_DEFAULT_ALPN: u16 = 2;
    /// The port to connect to.
    pub const PORT: u16 = 3;
    /// IPv4 addresses of the service.
    pub const IPV4HINT: u16 = 4;
    /// An ECHConfigList for Encrypted Client Hello.
    pub const ECH: u16 = 5;
    /// IPv6 addresses of the service.
    pub const IPV6HINT: u16 = 6;
    /// The DNS over HTTPS URI template (RFC 9461).
    pub const DOHPATH: u16 = 7;
    /// Oblivious HTTP is offered (RFC 9540).
    pub const OHTTP: u16 = 8;
    /// Reserved, never valid.
    pub const INVALID: u16 = 65535;
}

const KEY_NAMES: [(u16, &str); 9] = [
    (key::MANDATORY, "mandatory"),
    (key::ALPN, "alpn"),
    (key::NO_DEFAULT_ALPN, "no-default-alpn"),
    (key::PORT, "port"),
    (key::IPV4HINT, "ipv4hint"),
    (key::ECH, "ech"),
    (key::IPV6HINT, "ipv6hint"),
    (key::DOHPATH, "dohpath"),
    (key::OHTTP, "ohttp"),
];

// ---------------------------------------------------------------------------------------------
// Wire view
// ---------------------------------------------------------------------------------------------

/// Validated SvcParams in wire form.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SvcParams<'a> {
    data: &'a [u8],
}

/// One parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SvcParam<'a> {
    /// Keys that must be understood: a list of big-endian u16, sorted, non-empty.
    Mandatory(U16List<'a>),
    /// ALPN ids as character-strings, non-empty.
    Alpn(super::CharStrings<'a>),
    /// The default ALPN is not supported.
    NoDefaultAlpn,
    /// The port.
    Port(u16),
    /// IPv4 hints, 4 bytes each, at least one.
    Ipv4Hint(&'a [u8]),
    /// The ECHConfigList, opaque.
    Ech(&'a [u8]),
    /// IPv6 hints, 16 bytes each, at least one.
    Ipv6Hint(&'a [u8]),
    /// The DoH URI template (RFC 9461), UTF-8.
    DohPath(&'a [u8]),
    /// Oblivious HTTP is offered (RFC 9540).
    Ohttp,
    /// Any other key, opaque.
    Unknown { key: u16, value: &'a [u8] },
}

/// A list of big-endian u16 values (for `mandatory`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct U16List<'a>(&'a [u8]);

impl<'a> U16List<'a> {
    /// The values in order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + 'a {
        self.0
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }
}

impl<'a> SvcParams<'a> {
    /// No parameters.
    pub const EMPTY: SvcParams<'static> = SvcParams { data: &[] };

    /// Validates the parameters that fill `data`: keys strictly increasing, every value valid
    /// for its key, the keys listed as mandatory present, `alpn` present with `no-default-alpn`.
    pub fn new(data: &'a [u8]) -> Result<Self, RDataError> {
        let params = SvcParams { data };
        let mut r = Reader::new(data);
        let mut last: Option<u16> = None;
        while !r.is_empty() {
            let key = r.u16()?;
            let len = r.u16()?;
            let value = r.bytes(usize::from(len))?;
            if last.is_some_and(|l| key <= l) {
                return Err(RDataError::new(
                    "SvcParam keys not in strictly increasing order",
                ));
            }
            last = Some(key);
            check_value(key, value).map_err(RDataError::new)?;
        }
        for p in params.iter() {
            if let SvcParam::Mandatory(keys) = p
                && keys.iter().any(|k| params.get(k).is_none())
            {
                return Err(RDataError::new("a key listed as mandatory is missing"));
            }
        }
        if params.get(key::NO_DEFAULT_ALPN).is_some() && params.get(key::ALPN).is_none() {
            return Err(RDataError::new("no-default-alpn without alpn"));
        }
        Ok(params)
    }

    /// The wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.data
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The parameters in key order.
    pub fn iter(&self) -> SvcParamIter<'a> {
        SvcParamIter { rest: self.data }
    }

    /// The parameter with key `key`.
    pub fn get(&self, key: u16) -> Option<SvcParam<'a>> {
        self.iter().find(|p| p.key() == key)
    }
}

impl fmt::Debug for SvcParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over [`SvcParams`].
#[derive(Clone, Debug)]
pub struct SvcParamIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SvcParamIter<'a> {
    type Item = SvcParam<'a>;

    fn next(&mut self) -> Option<SvcParam<'a>> {
        let mut r = Reader::new(self.rest);
        let key = r.u16().ok()?;
        let len = r.u16().ok()?;
        let value = r.bytes(usize::from(len)).ok()?;
        self.rest = r.rest();
        Some(SvcParam::from_wire(key, value))
    }
}

impl<'a> SvcParam<'a> {
    /// Types a value already checked by `check_value`.
    fn from_wire(key: u16, value: &'a [u8]) -> SvcParam<'a> {
        match key {
            key::MANDATORY => SvcParam::Mandatory(U16List(value)),
            key::ALPN => match super::CharStrings::new(value) {
                Ok(ids) => SvcParam::Alpn(ids),
                Err(_) => SvcParam::Unknown { key, value },
            },
            key::NO_DEFAULT_ALPN => SvcParam::NoDefaultAlpn,
            key::PORT => match value {
                [a, b] => SvcParam::Port(u16::from_be_bytes([*a, *b])),
                _ => SvcParam::Unknown { key, value },
            },
            key::IPV4HINT => SvcParam::Ipv4Hint(value),
            key::ECH => SvcParam::Ech(value),
            key::IPV6HINT => SvcParam::Ipv6Hint(value),
            key::DOHPATH => SvcParam::DohPath(value),
            key::OHTTP => SvcParam::Ohttp,
            _ => SvcParam::Unknown { key, value },
        }
    }

    /// The key number.
    pub fn key(&self) -> u16 {
        match self {
            SvcParam::Mandatory(_) => key::MANDATORY,
            SvcParam::Alpn(_) => key::ALPN,
            SvcParam::NoDefaultAlpn => key::NO_DEFAULT_ALPN,
            SvcParam::Port(_) => key::PORT,
            SvcParam::Ipv4Hint(_) => key::IPV4HINT,
            SvcParam::Ech(_) => key::ECH,
            SvcParam::Ipv6Hint(_) => key::IPV6HINT,
            SvcParam::DohPath(_) => key::DOHPATH,
            SvcParam::Ohttp => key::OHTTP,
            SvcParam::Unknown { key, .. } => *key,
        }
    }

    /// The IPv4 hints (empty for other keys).
    pub fn ipv4_hints(&self) -> impl Iterator<Item = Ipv4Addr> + 'a {
        let data: &'a [u8] = if let SvcParam::Ipv4Hint(d) = self {
            d
        } else {
            &[]
        };
        data.chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
    }

    /// The IPv6 hints (empty for other keys).
    pub fn ipv6_hints(&self) -> impl Iterator<Item = Ipv6Addr> + 'a {
        let data: &'a [u8] = if let SvcParam::Ipv6Hint(d) = self {
            d
        } else {
            &[]
        };
        data.chunks_exact(16).map(|c| {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            Ipv6Addr::from(a)
        })
    }
}

/// Checks one value for its key.
fn check_value(key: u16, value: &[u8]) -> Result<(), &'static str> {
    match key {
        key::MANDATORY => {
            if value.is_empty() || !value.len().is_multiple_of(2) {
                return Err("mandatory must be a non-empty list of keys");
            }
            let keys = U16List(value);
            if keys.iter().any(|k| k == key::MANDATORY) {
                return Err("mandatory lists itself");
            }
            if keys.iter().zip(keys.iter().skip(1)).any(|(a, b)| a >= b) {
                return Err("mandatory keys not sorted or repeated");
            }
        }
        key::ALPN => {
            let ids = super::CharStrings::new(value)
                .map_err(|_| "alpn must be a non-empty list of ids")?;
            if ids.iter().any(<[u8]>::is_empty) {
                return Err("empty alpn id");
            }
        }
        key::NO_DEFAULT_ALPN | key::OHTTP if !value.is_empty() => {
            return Err("this key takes no value");
        }
        key::PORT if value.len() != 2 => return Err("port must be 2 bytes"),
        key::IPV4HINT if value.is_empty() || !value.len().is_multiple_of(4) => {
            return Err("bad ipv4hint length");
        }
        key::IPV6HINT if value.is_empty() || !value.len().is_multiple_of(16) => {
            return Err("bad ipv6hint length");
        }
        key::ECH if value.is_empty() => return Err("empty ech"),
        key::DOHPATH if core::str::from_utf8(value).is_err() => return Err("dohpath is not UTF-8"),
        key::INVALID => return Err("key65535 is reserved"),
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Presentation form
// ---------------------------------------------------------------------------------------------

/// Writes ` key=value` for each parameter.
pub(crate) fn write_params(params: SvcParams<'_>, out: &mut String) {
    for p in params.iter() {
        out.push(' ');
        write_key(p.key(), out);
        match p {
            SvcParam::NoDefaultAlpn | SvcParam::Ohttp => {}
            SvcParam::Unknown { value: [], .. } => {}
            SvcParam::Mandatory(keys) => {
                out.push('=');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_key(k, out);
                }
            }
            SvcParam::Alpn(ids) => {
                let mut list = Vec::new();
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        list.push(b',');
                    }
                    for &b in id {
                        if b == b',' || b == b'\\' {
                            list.push(b'\\');
                        }
                        list.push(b);
                    }
                }
                out.push('=');
                write_quoted(&list, out);
            }
            SvcParam::Port(p) => {
                let _ = write!(out, "={p}");
            }
            SvcParam::Ipv4Hint(_) => {
                out.push('=');
                for (i, a) in p.ipv4_hints().enumerate() {
                    let _ = write!(out, "{}{a}", if i > 0 { "," } else { "" });
                }
            }
            SvcParam::Ipv6Hint(_) => {
                out.push('=');
                for (i, a) in p.ipv6_hints().enumerate() {
                    let _ = write!(out, "{}{a}", if i > 0 { "," } else { "" });
                }
            }
            SvcParam::Ech(v) => {
                out.push('=');
                write_base64(v, out);
            }
            SvcParam::DohPath(v) | SvcParam::Unknown { value: v, .. } => {
                out.push('=');
                write_quoted(v, out);
            }
        }
    }
}

fn write_key(k: u16, out: &mut String) {
    match KEY_NAMES.iter().find(|(n, _)| *n == k) {
        Some((_, name)) => out.push_str(name),
        None => {
            let _ = write!(out, "key{k}");
        }
    }
}

/// A quoted character-string with everything outside printable ASCII, space included, as
/// `\DDD`, so that the value stays one field whatever lexer reads it back.
fn write_quoted(value: &[u8], out: &mut String) {
    out.push('"');
    for &b in value {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

fn parse_key(text: &[u8]) -> Option<u16> {
    if let Some(&(k, _)) = KEY_NAMES.iter().find(|(_, n)| n.as_bytes() == text) {
        return Some(k);
    }
    let digits = text.strip_prefix(b"key")?;
    if digits.len() > 1 && digits.first() == Some(&b'0') {
        return None;
    }
    crate::text::parse_decimal(digits, u64::from(u16::MAX)).map(|v| v as u16)
}

/// Reads the SvcParams from the fields left in `f` and appends their wire form.
pub(crate) fn params_from_text(f: &mut Fields<'_, '_>, out: &mut Vec<u8>) -> Result<(), TextError> {
    // (key, value, index of the field that named the key)
    let mut params: Vec<(u16, Vec<u8>, usize)> = Vec::new();
    while !f.is_empty() {
        let at = f.position();
        let field = f.next("SvcParam")?;
        if field.quoted {
            return Err(f.error("expected key=value, found a quoted string"));
        }
        let (key_text, raw) = match field.text.iter().position(|&c| c == b'=') {
            None => (field.text, None),
            Some(eq) => {
                let (k, v) = field.text.split_at(eq);
                let v = v.get(1..).unwrap_or(&[]);
                if v.is_empty() && f.remaining().first().is_some_and(|n: &Field<'_>| n.quoted) {
                    // `key=` then a quoted value.
                    (k, Some(f.next("value")?.text))
                } else {
                    (k, Some(strip_quotes(v)))
                }
            }
        };
        let err = |m: String| TextError::new(at, m);
        let key = parse_key(key_text).ok_or_else(|| {
            err(format!(
                "unknown SvcParam key {:?}",
                String::from_utf8_lossy(key_text)
            ))
        })?;
        let value = match raw {
            None => Vec::new(),
            Some(v) => {
                let mut bytes = Vec::new();
                unescape(v, &mut bytes).map_err(|m| err(m.to_string()))?;
                bytes
            }
        };
        let generic = key_text.starts_with(b"key");
        let wire = if generic {
            value
        } else {
            value_from_text(key, &value).map_err(|m| err(m.to_string()))?
        };
        check_value(key, &wire).map_err(|m| err(m.to_string()))?;
        if params.iter().any(|(k, _, _)| *k == key) {
            return Err(err("SvcParam key repeated".to_string()));
        }
        params.push((key, wire, at));
    }
    params.sort_by_key(|(k, _, _)| *k);
    for (k, v, _) in &params {
        out.extend_from_slice(&k.to_be_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
    }
    for (k, v, at) in &params {
        if *k == key::MANDATORY
            && U16List(v)
                .iter()
                .any(|m| !params.iter().any(|(k2, _, _)| *k2 == m))
        {
            return Err(TextError::new(*at, "a key listed as mandatory is missing"));
        }
        if *k == key::NO_DEFAULT_ALPN && !params.iter().any(|(k2, _, _)| *k2 == key::ALPN) {
            return Err(TextError::new(*at, "no-default-alpn without alpn"));
        }
    }
    Ok(())
}

/// A value written as `"..."` inside an unquoted field, as some lexers hand it over.
fn strip_quotes(v: &[u8]) -> &[u8] {
    match v {
        // The closing quote is real unless an odd number of backslashes escapes it.
        [b'"', inner @ .., b'"']
            if inner.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0 =>
        {
            inner
        }
        _ => v,
    }
}

/// Turns a decoded presentation value into the wire value for `key`.
fn value_from_text(k: u16, value: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::new();
    match k {
        key::MANDATORY => {
            if value.is_empty() {
                return Err("mandatory needs a value");
            }
            let mut keys = Vec::new();
            for name in value.split(|&c| c == b',') {
                keys.push(parse_key(name).ok_or("unknown key in mandatory")?);
            }
            keys.sort_unstable();
            if keys.windows(2).any(|w| w[0] == w[1]) {
                return Err("key repeated in mandatory");
            }
            for key in keys {
                out.extend_from_slice(&key.to_be_bytes());
            }
        }
        key::ALPN => {
            if value.is_empty() {
                return Err("alpn needs a value");
            }
            let mut id = Vec::new();
            let mut i = 0;
            let push = |id: &mut Vec<u8>, out: &mut Vec<u8>| -> Result<(), &'static str> {
                if id.is_empty() || id.len() > 255 {
                    return Err("alpn ids must be 1 to 255 bytes");
                }
                out.push(id.len() as u8);
                out.append(id);
                Ok(())
            };
            while let Some(&c) = value.get(i) {
                i += 1;
                match c {
                    b'\\' => match value.get(i) {
                        Some(&e @ (b',' | b'\\')) => {
                            id.push(e);
                            i += 1;
                        }
                        _ => return Err("in alpn, a backslash may only escape , or \\"),
                    },
                    b',' => push(&mut id, &mut out)?,
                    _ => id.push(c),
                }
            }
            push(&mut id, &mut out)?;
        }
        key::NO_DEFAULT_ALPN | key::OHTTP => {
            if !value.is_empty() {
                return Err("this key takes no value");
            }
        }
        key::PORT => {
            let p = crate::text::parse_decimal(value, u64::from(u16::MAX))
                .ok_or("port must be 0 to 65535")?;
            out.extend_from_slice(&(p as u16).to_be_bytes());
        }
        key::IPV4HINT | key::IPV6HINT => {
            if value.is_empty() {
                return Err("address list needs a value");
            }
            for a in value.split(|&c| c == b',') {
                let a = core::str::from_utf8(a).map_err(|_| "bad address")?;
                if k == key::IPV4HINT {
                    let a: Ipv4Addr = a.parse().map_err(|_| "expected IPv4 addresses")?;
                    out.extend_from_slice(&a.octets());
                } else {
                    let a: Ipv6Addr = a.parse().map_err(|_| "expected IPv6 addresses")?;
                    out.extend_from_slice(&a.octets());
                }
            }
        }
        key::ECH => {
            if value.is_empty() {
                return Err("ech needs a value");
            }
            decode_base64(value, &mut out)?;
        }
        _ => out.extend_from_slice(value),
    }
    Ok(out)
}
