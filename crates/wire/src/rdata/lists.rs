//! The variable-length lists inside RDATA, validated once and then iterated: character-strings
//! (TXT, SPF, SVCB `alpn`) and the NSEC/NSEC3 type bitmap (RFC 4034 section 4.1.2).

use core::fmt;

use super::RDataError;
use super::view::Reader;
use crate::types::RType;

/// One or more character-strings (each a length byte and that many bytes), validated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CharStrings<'a> {
    data: &'a [u8],
}

impl<'a> CharStrings<'a> {
    /// Validates `data` as one or more character-strings filling it exactly.
    pub fn new(data: &'a [u8]) -> Result<Self, RDataError> {
        let mut r = Reader::new(data);
        r.char_string()?;
        while !r.is_empty() {
            r.char_string()?;
        }
        Ok(CharStrings { data })
    }

    /// The wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.data
    }

    /// The strings, without their length bytes.
    pub fn iter(&self) -> CharStringIter<'a> {
        CharStringIter { rest: self.data }
    }
}

impl fmt::Debug for CharStrings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|s| String::from_utf8_lossy(s).into_owned()))
            .finish()
    }
}

/// Iterator over character-strings.
#[derive(Clone, Debug)]
pub struct CharStringIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for CharStringIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let s = tail.get(..usize::from(len))?;
        self.rest = tail.get(usize::from(len)..).unwrap_or(&[]);
        Some(s)
    }
}

/// The type bitmap of NSEC and NSEC3 (RFC 4034 section 4.1.2), validated: windows in
/// increasing order, each 1 to 32 bytes long with a non-zero last byte.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TypeBitmap<'a> {
    data: &'a [u8],
}

impl<'a> TypeBitmap<'a> {
    /// Validates `data` as a whole type bitmap (possibly empty).
    pub fn new(data: &'a [u8]) -> Result<Self, RDataError> {
        let mut r = Reader::new(data);
        let mut last: Option<u8> = None;
        while !r.is_empty() {
            let window = r.u8()?;
            if last.is_some_and(|l| window <= l) {
                return Err(RDataError::new("type bitmap windows out of order"));
            }
            last = Some(window);
            let len = r.u8()?;
            if !(1..=32).contains(&len) {
                return Err(RDataError::new("type bitmap window length not 1 to 32"));
            }
            let bits = r.bytes(usize::from(len))?;
            if bits.last() == Some(&0) {
                return Err(RDataError::new(
                    "type bitmap window with trailing zero bytes",
                ));
            }
        }
        Ok(TypeBitmap { data })
    }

    /// The empty bitmap.
    pub const EMPTY: TypeBitmap<'static> = TypeBitmap { data: &[] };

    /// The wire form.
    pub fn as_wire(&self) -> &'a [u8] {
        self.data
    }

    /// The types present, in increasing order.
    pub fn iter(&self) -> TypeBitmapIter<'a> {
        TypeBitmapIter {
            rest: self.data,
            window: 0,
            bits: &[],
            pos: 0,
        }
    }

    /// Whether `rtype` is present.
    pub fn contains(&self, rtype: RType) -> bool {
        self.iter().any(|t| t == rtype)
    }

    /// Appends the bitmap of `types` (any order, duplicates allowed) to `out`.
    pub fn write(types: &[RType], out: &mut Vec<u8>) {
        let mut sorted: Vec<u16> = types.iter().map(|t| t.0).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut i = 0;
        while let Some(&first) = sorted.get(i) {
            let window = (first >> 8) as u8;
            let mut bits = [0u8; 32];
            let mut used = 0;
            while let Some(&t) = sorted.get(i) {
                if (t >> 8) as u8 != window {
                    break;
                }
                let low = usize::from(t as u8);
                bits[low / 8] |= 0x80 >> (low % 8);
                used = low / 8 + 1;
                i += 1;
            }
            out.push(window);
            out.push(used as u8);
            out.extend_from_slice(&bits[..used]);
        }
    }
}

impl fmt::Debug for TypeBitmap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over the types of a [`TypeBitmap`].
#[derive(Clone, Debug)]
pub struct TypeBitmapIter<'a> {
    rest: &'a [u8],
    window: u8,
    bits: &'a [u8],
    pos: usize,
}

impl Iterator for TypeBitmapIter<'_> {
    type Item = RType;

    fn next(&mut self) -> Option<RType> {
        loop {
            if let Some(&byte) = self.bits.get(self.pos / 8) {
                let bit = self.pos % 8;
                let low = self.pos;
                self.pos += 1;
                if byte & (0x80 >> bit) != 0 {
                    return Some(RType(u16::from(self.window) << 8 | low as u16));
                }
                continue;
            }
            let [window, len, tail @ ..] = self.rest else {
                return None;
            };
            let len = usize::from(*len);
            self.window = *window;
            self.bits = tail.get(..len)?;
            self.rest = tail.get(len..)?;
            self.pos = 0;
        }
    }
}
