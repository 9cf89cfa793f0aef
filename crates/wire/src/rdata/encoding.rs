//! Binary-to-text encodings used by RDATA presentation forms.
//!
//! - hex (RFC 4648 section 8): DS digests, SSHFP fingerprints, TLSA data, NSEC3 salts; written in
//!   upper case, read in any case;
//! - base64 (RFC 4648 section 4): DNSKEY keys, RRSIG signatures, CERT, DHCID, OPENPGPKEY, SVCB
//!   `ech`; zone files may split it over several whitespace-separated fields, so the decoder is
//!   fed piece by piece;
//! - base32hex without padding (RFC 4648 section 7, RFC 5155 section 3.3): NSEC3 next hashed
//!   owner names; written in lower case, as in RFC 5155's examples, read in any case.
//!
//! Decoders reject non-canonical input where a byte could be written two ways (non-zero bits left
//! over in base32hex), so text and wire forms map one to one.

use core::fmt::Write as _;

// ---------------------------------------------------------------------------------------------
// Hex
// ---------------------------------------------------------------------------------------------

/// Appends the upper-case hex form of `data`.
pub fn write_hex(data: &[u8], out: &mut String) {
    for b in data {
        let _ = write!(out, "{b:02X}");
    }
}

/// Decodes hex digits (any case) and appends the bytes.
pub fn decode_hex(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    if !text.len().is_multiple_of(2) {
        return Err("odd number of hex digits");
    }
    for pair in text.chunks_exact(2) {
        let (hi, lo) = match pair {
            [hi, lo] => (hex_value(*hi), hex_value(*lo)),
            _ => (None, None),
        };
        match (hi, lo) {
            (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
            _ => return Err("expected hex digits"),
        }
    }
    Ok(())
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Base64
// ---------------------------------------------------------------------------------------------

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the padded base64 form of `data`.
pub fn write_base64(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

fn base64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A base64 decoder fed one field at a time (padding required, whitespace between fields).
#[derive(Debug, Default)]
pub struct Base64Decoder {
    quad: [u8; 4],
    filled: usize,
    /// Padding seen: nothing but padding may follow.
    ended: bool,
}

impl Base64Decoder {
    /// A decoder with nothing fed yet.
    pub fn new() -> Base64Decoder {
        Base64Decoder::default()
    }

    /// Decodes `text`, appending complete bytes to `out`.
    pub fn push(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
        for &c in text {
            if self.ended && c != b'=' {
                return Err("base64 data after padding");
            }
            if c != b'=' && base64_value(c).is_none() {
                return Err("expected base64");
            }
            if c == b'=' {
                self.ended = true;
            }
            if let Some(slot) = self.quad.get_mut(self.filled) {
                *slot = c;
            }
            self.filled += 1;
            if self.filled == 4 {
                self.flush(out)?;
            }
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        self.filled = 0;
        let pads = self.quad.iter().filter(|&&c| c == b'=').count();
        let data = 4 - pads;
        if data < 2 || self.quad[..data].contains(&b'=') {
            return Err("bad base64 padding");
        }
        let mut n = 0u32;
        for &c in &self.quad[..data] {
            n = n << 6 | base64_value(c).unwrap_or(0);
        }
        n <<= 6 * pads as u32;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..data]);
        Ok(())
    }

    /// Checks that the input ended on a complete quad.
    pub fn finish(&self) -> Result<(), &'static str> {
        if self.filled == 0 {
            Ok(())
        } else {
            Err("base64 length is not a multiple of 4")
        }
    }
}

/// Decodes one complete base64 string.
pub fn decode_base64(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let mut d = Base64Decoder::new();
    d.push(text, out)?;
    d.finish()
}

// ---------------------------------------------------------------------------------------------
// Base32hex
// ---------------------------------------------------------------------------------------------

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Appends the unpadded, lower-case base32hex form of `data`.
pub fn write_base32hex(data: &[u8], out: &mut String) {
    for chunk in data.chunks(5) {
        let mut b = [0u8; 8];
        b[3..3 + chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes(b);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(char::from(BASE32HEX[(n >> (35 - 5 * i) & 31) as usize]));
        }
    }
}

/// Decodes unpadded base32hex (any case) and appends the bytes.
pub fn decode_base32hex(text: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    for chunk in text.chunks(8) {
        let bytes = match chunk.len() {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => return Err("bad base32hex length"),
        };
        let mut n = 0u64;
        for &c in chunk {
            let v = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'v' => c - b'a' + 10,
                b'A'..=b'V' => c - b'A' + 10,
                _ => return Err("expected base32hex"),
            };
            n = n << 5 | u64::from(v);
        }
        let spare = chunk.len() * 5 - bytes * 8;
        if n & ((1 << spare) - 1) != 0 {
            return Err("non-canonical base32hex (bits left over)");
        }
        n >>= spare;
        let be = n.to_be_bytes();
        out.extend_from_slice(&be[8 - bytes..]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 section 10 test vectors.
    const VECTORS: [&str; 7] = ["", "f", "fo", "foo", "foob", "fooba", "foobar"];

    #[test]
    fn base64_rfc4648() {
        let expect = [
            "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
        ];
        for (plain, enc) in VECTORS.iter().zip(expect) {
            let mut s = String::new();
            write_base64(plain.as_bytes(), &mut s);
            assert_eq!(s, enc);
            let mut back = Vec::new();
            decode_base64(enc.as_bytes(), &mut back).unwrap();
            assert_eq!(back, plain.as_bytes());
        }
        let mut out = Vec::new();
        assert!(decode_base64(b"Zg=", &mut out).is_err());
        assert!(decode_base64(b"Z===", &mut out).is_err());
        assert!(decode_base64(b"Zg==Zg==", &mut out).is_err());
        assert!(decode_base64(b"Zm9*", &mut out).is_err());
        // Split across fields.
        let mut d = Base64Decoder::new();
        let mut out = Vec::new();
        d.push(b"Zm9", &mut out).unwrap();
        d.push(b"vYmFy", &mut out).unwrap();
        d.finish().unwrap();
        assert_eq!(out, b"foobar");
    }

    #[test]
    fn base32hex_rfc4648() {
        let expect = [
            "",
            "co",
            "cpng",
            "cpnmu",
            "cpnmuog",
            "cpnmuoj1",
            "cpnmuoj1e8",
        ];
        for (plain, enc) in VECTORS.iter().zip(expect) {
            let mut s = String::new();
            write_base32hex(plain.as_bytes(), &mut s);
            assert_eq!(s, enc);
            let mut back = Vec::new();
            decode_base32hex(enc.to_uppercase().as_bytes(), &mut back).unwrap();
            assert_eq!(back, plain.as_bytes());
        }
        let mut out = Vec::new();
        assert!(decode_base32hex(b"cp", &mut out).is_err(), "bits left over");
        assert!(decode_base32hex(b"c", &mut out).is_err());
        assert!(decode_base32hex(b"cw", &mut out).is_err());
    }

    #[test]
    fn hex() {
        let mut out = Vec::new();
        decode_hex(b"00aBFf", &mut out).unwrap();
        assert_eq!(out, [0, 0xab, 0xff]);
        let mut s = String::new();
        write_hex(&out, &mut s);
        assert_eq!(s, "00ABFF");
        assert!(decode_hex(b"abc", &mut out).is_err());
        assert!(decode_hex(b"zz", &mut out).is_err());
    }
}
