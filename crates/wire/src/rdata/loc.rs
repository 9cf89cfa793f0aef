//! LOC: geographical location (RFC 1876).
//!
//! The wire form is 16 bytes: version (0), size and horizontal and vertical precision (each a
//! mantissa and a power of ten in centimetres, one nibble each), then latitude and longitude in
//! thousandths of an arc second offset by 2^31 (so the equator and the prime meridian are 2^31),
//! and altitude in centimetres above a base 100,000 m below the WGS 84 spheroid.
//!
//! The presentation form (section 3) is
//! `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m] [size[m] [hp[m] [vp[m]]]]`, with defaults of 1 m
//! for size, 10,000 m for horizontal and 10 m for vertical precision.

use core::fmt;

use super::RDataError;
use super::view::Reader;
use crate::text::{Fields, TextError, parse_decimal};

/// The equator and the prime meridian on the wire.
const ZERO: i64 = 1 << 31;
/// Altitude 0 on the wire: 100,000 m in centimetres.
const ALT_BASE: i64 = 10_000_000;
/// Thousandths of an arc second in a degree.
const DEGREE: i64 = 3_600_000;

/// LOC fields, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    /// Always 0.
    pub version: u8,
    /// Diameter of the sphere enclosing the entity, mantissa and exponent (cm).
    pub size: u8,
    /// Horizontal precision, same encoding.
    pub horiz_pre: u8,
    /// Vertical precision, same encoding.
    pub vert_pre: u8,
    /// Latitude: 2^31 plus thousandths of an arc second north.
    pub latitude: u32,
    /// Longitude: 2^31 plus thousandths of an arc second east.
    pub longitude: u32,
    /// Altitude in centimetres plus 10,000,000.
    pub altitude: u32,
}

/// Digits up to 9, and zero written only as `0x00` so that text and wire map one to one.
fn valid_size(b: u8) -> bool {
    b >> 4 <= 9 && b & 0x0f <= 9 && (b >> 4 != 0 || b == 0)
}

impl Loc {
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Loc, RDataError> {
        let loc = Loc {
            version: r.u8()?,
            size: r.u8()?,
            horiz_pre: r.u8()?,
            vert_pre: r.u8()?,
            latitude: r.u32()?,
            longitude: r.u32()?,
            altitude: r.u32()?,
        };
        if loc.version != 0 {
            return Err(RDataError::new("LOC version is not 0"));
        }
        if ![loc.size, loc.horiz_pre, loc.vert_pre]
            .into_iter()
            .all(valid_size)
        {
            return Err(RDataError::new(
                "LOC size or precision not a digit 1 to 9 times a power of ten, or 0",
            ));
        }
        if (i64::from(loc.latitude) - ZERO).abs() > 90 * DEGREE {
            return Err(RDataError::new("LOC latitude beyond 90 degrees"));
        }
        if (i64::from(loc.longitude) - ZERO).abs() > 180 * DEGREE {
            return Err(RDataError::new("LOC longitude beyond 180 degrees"));
        }
        Ok(loc)
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.version, self.size, self.horiz_pre, self.vert_pre]);
        for v in [self.latitude, self.longitude, self.altitude] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    /// Reads the presentation form.
    pub(crate) fn from_text(f: &mut Fields<'_, '_>) -> Result<Loc, TextError> {
        let latitude = angle(f, 90, [b'N', b'S'])?;
        let longitude = angle(f, 180, [b'E', b'W'])?;
        let field = f.next("altitude")?;
        let text = field.text.strip_suffix(b"m").unwrap_or(field.text);
        let (negative, digits) = match text.strip_prefix(b"-") {
            Some(d) => (true, d),
            None => (false, text),
        };
        let cm = fixed_point(digits, 2).ok_or_else(|| f.error("expected an altitude in metres"))?;
        let cm = i64::try_from(cm).unwrap_or(i64::MAX);
        let alt = if negative {
            ALT_BASE - cm
        } else {
            ALT_BASE.saturating_add(cm)
        };
        let altitude = u32::try_from(alt).map_err(|_| f.error("altitude out of range"))?;
        let mut sizes = [0x12, 0x16, 0x13];
        for (slot, what) in
            sizes
                .iter_mut()
                .zip(["size", "horizontal precision", "vertical precision"])
        {
            if f.is_empty() {
                break;
            }
            let field = f.next(what)?;
            let text = field.text.strip_suffix(b"m").unwrap_or(field.text);
            *slot = fixed_point(text, 2)
                .and_then(encode_size)
                .ok_or_else(|| f.error(format!("expected {what} in metres, at most 90000000")))?;
        }
        let [size, horiz_pre, vert_pre] = sizes;
        Ok(Loc {
            version: 0,
            size,
            horiz_pre,
            vert_pre,
            latitude,
            longitude,
            altitude,
        })
    }
}

/// Reads `deg [min [sec]] H` where H is one of `hemispheres` (positive first).
fn angle(f: &mut Fields<'_, '_>, max_degrees: u64, hemispheres: [u8; 2]) -> Result<u32, TextError> {
    let is_hemisphere =
        |t: &[u8]| matches!(t, [c] if hemispheres.contains(&c.to_ascii_uppercase()));
    let mut parts = [0u64; 3];
    let limits = [max_degrees, 59, 59_999];
    let mut n = 0;
    let hemisphere = loop {
        let field = f.next("coordinate")?;
        if n > 0 && is_hemisphere(field.text) {
            break field.text.first().map(u8::to_ascii_uppercase);
        }
        if n == 3 {
            return Err(f.error(format!(
                "expected {} or {}",
                char::from(hemispheres[0]),
                char::from(hemispheres[1])
            )));
        }
        let v = if n == 2 {
            fixed_point(field.text, 3)
        } else {
            parse_decimal(field.text, 1_000_000)
        };
        match v {
            Some(v) if v <= limits[n] => parts[n] = v,
            _ => {
                return Err(
                    f.error(["expected degrees", "expected minutes", "expected seconds"][n])
                );
            }
        }
        n += 1;
    };
    let ms = parts[0] as i64 * DEGREE + parts[1] as i64 * 60_000 + parts[2] as i64;
    if ms > max_degrees as i64 * DEGREE {
        return Err(f.error("coordinate out of range"));
    }
    let v = if hemisphere == Some(hemispheres[0]) {
        ZERO + ms
    } else {
        ZERO - ms
    };
    Ok(v as u32)
}

/// Parses `123` or `123.4` with at most `decimals` digits after the point, scaled to an integer.
fn fixed_point(text: &[u8], decimals: u32) -> Option<u64> {
    let (int, frac) = match text.iter().position(|&c| c == b'.') {
        Some(dot) => (text.get(..dot)?, text.get(dot + 1..)?),
        None => (text, &[][..]),
    };
    if frac.len() > decimals as usize || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let int = if int.is_empty() {
        0
    } else {
        parse_decimal(int, u64::from(u32::MAX))?
    };
    let frac_v = if frac.is_empty() {
        0
    } else {
        parse_decimal(frac, u64::MAX)?
    };
    let scale = 10u64.pow(decimals);
    Some(int * scale + frac_v * 10u64.pow(decimals - frac.len() as u32))
}

/// Encodes centimetres as mantissa and exponent, truncating to one significant digit.
fn encode_size(cm: u64) -> Option<u8> {
    if cm == 0 {
        return Some(0);
    }
    let mut e = 0u8;
    let mut m = cm;
    while m >= 10 {
        m /= 10;
        e += 1;
    }
    (e <= 9).then_some((m as u8) << 4 | e)
}

fn write_size(b: u8, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let cm = u64::from(b >> 4) * 10u64.pow(u32::from(b & 0x0f));
    write!(f, " {}.{:02}m", cm / 100, cm % 100)
}

fn write_angle(v: u32, hemispheres: [char; 2], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let ms = i64::from(v) - ZERO;
    let h = if ms >= 0 {
        hemispheres[0]
    } else {
        hemispheres[1]
    };
    let ms = ms.abs();
    write!(
        f,
        "{} {} {}.{:03} {h}",
        ms / DEGREE,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_angle(self.latitude, ['N', 'S'], f)?;
        f.write_str(" ")?;
        write_angle(self.longitude, ['E', 'W'], f)?;
        let cm = i64::from(self.altitude) - ALT_BASE;
        let sign = if cm < 0 { "-" } else { "" };
        write!(f, " {sign}{}.{:02}m", cm.abs() / 100, cm.abs() % 100)?;
        write_size(self.size, f)?;
        write_size(self.horiz_pre, f)?;
        write_size(self.vert_pre, f)
    }
}
