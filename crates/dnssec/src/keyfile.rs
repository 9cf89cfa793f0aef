//! Key files in the format of BIND's `dnssec-keygen` (also read and written by ldns and Knot's
//! `keymgr import-bind`): a key is two files named `K<zone>+<alg>+<tag>`, with the zone's
//! name ending in a dot, the algorithm number in three digits and the key tag in five:
//!
//! - `.key`: the public DNSKEY record in zone-file form, after comment lines starting with `;`;
//! - `.private`: `Private-key-format: v1.3`, `Algorithm: 13 (ECDSAP256SHA256)`, then the private
//!   material as `Name: base64` lines (`PrivateKey` for ECDSA and Ed25519, the eight RSA
//!   components for RSA), then optional timing lines (`Created: YYYYMMDDHHMMSS` and others),
//!   which this reader ignores.
//!
//! The `.private` file is written with mode 0600 so that only the server's user reads it.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use wire::Name;
use wire::rdata::{decode_base64, write_base64};

use crate::keys::{Algorithm, KeyError, KeyFields, KeyPair, ZoneKey};

/// Why a key file could not be read or written.
#[derive(Debug)]
pub struct KeyFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for KeyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for KeyFileError {}

fn error(path: &Path, message: impl Into<String>) -> KeyFileError {
    KeyFileError {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The base name `K<zone>+<alg>+<tag>` of a key's two files (no extension).
pub fn base_name(zone: &Name, algorithm: u8, tag: u16) -> String {
    let mut zone = zone.clone();
    zone.make_lowercase();
    let text = zone.to_string();
    let text = if text.ends_with('.') {
        text
    } else {
        format!("{text}.")
    };
    format!("K{text}+{algorithm:03}+{tag:05}")
}

/// The `.key` and `.private` paths for a base path (with or without either extension).
pub fn paths(base: &Path) -> (PathBuf, PathBuf) {
    let text = base.to_string_lossy();
    let stem = text
        .strip_suffix(".key")
        .or_else(|| text.strip_suffix(".private"))
        .unwrap_or(&text);
    (
        PathBuf::from(format!("{stem}.key")),
        PathBuf::from(format!("{stem}.private")),
    )
}

/// A key read from its files: the zone it belongs to and the key.
#[derive(Debug)]
pub struct LoadedKey {
    /// The owner of the DNSKEY record: the zone.
    pub zone: Name,
    /// The key.
    pub key: ZoneKey,
}

/// Reads the key whose files are at `base` (`.key` and `.private` appended, or either path).
pub fn read(base: &Path) -> Result<LoadedKey, KeyFileError> {
    let (key_path, private_path) = paths(base);
    let public = fs::read_to_string(&key_path).map_err(|e| error(&key_path, e.to_string()))?;
    let (zone, flags, algorithm, public_key) =
        parse_public(&public).map_err(|m| error(&key_path, m))?;
    let private =
        fs::read_to_string(&private_path).map_err(|e| error(&private_path, e.to_string()))?;
    let (file_alg, fields) = parse_private(&private).map_err(|m| error(&private_path, m))?;
    if file_alg != algorithm.number() {
        return Err(error(
            &private_path,
            format!(
                "algorithm {file_alg} differs from the .key file's {}",
                algorithm.number()
            ),
        ));
    }
    let fields = normalise_fields(algorithm, fields);
    let pair = KeyPair::from_parts(algorithm, &public_key, &fields)
        .map_err(|e: KeyError| error(&private_path, e.to_string()))?;
    Ok(LoadedKey {
        zone,
        key: ZoneKey { pair, flags },
    })
}

/// ldns before 1.8 wrote an Ed25519 seed wrapped in an OCTET STRING (`04 20` then the seed).
fn normalise_fields(
    algorithm: Algorithm,
    mut fields: Vec<(String, Vec<u8>)>,
) -> Vec<(String, Vec<u8>)> {
    if algorithm == Algorithm::Ed25519 {
        for (name, value) in &mut fields {
            if name == "PrivateKey" && value.len() == 34 && value.starts_with(&[0x04, 0x20]) {
                value.drain(..2);
            }
        }
    }
    fields
}

/// Parses a `.key` file: (owner, flags, algorithm, public key).
fn parse_public(text: &str) -> Result<(Name, u16, Algorithm, Vec<u8>), String> {
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(at) = fields.iter().position(|f| f.eq_ignore_ascii_case("DNSKEY")) else {
            return Err(format!("not a DNSKEY record: `{line}`"));
        };
        let owner = fields
            .first()
            .filter(|_| at > 0)
            .ok_or("the DNSKEY record has no owner")?;
        let zone: Name = owner.parse().map_err(|e| format!("owner `{owner}`: {e}"))?;
        let number = |i: usize| -> Result<u16, String> {
            fields
                .get(at + i)
                .and_then(|f| f.parse().ok())
                .ok_or_else(|| "DNSKEY flags, protocol or algorithm missing".to_owned())
        };
        let flags = number(1)?;
        if number(2)? != 3 {
            return Err("DNSKEY protocol is not 3".into());
        }
        let alg = number(3)?;
        let algorithm = u8::try_from(alg)
            .ok()
            .and_then(Algorithm::from_number)
            .ok_or_else(|| {
                format!("algorithm {alg} is not one Portcullis signs with (8, 13, 15)")
            })?;
        let mut key = Vec::new();
        let b64: String = fields.get(at + 4..).unwrap_or_default().concat();
        decode_base64(b64.as_bytes(), &mut key).map_err(|e| format!("public key: {e}"))?;
        return Ok((zone, flags, algorithm, key));
    }
    Err("no DNSKEY record".into())
}

/// Parses a `.private` file: (algorithm number, base64-decoded key fields). Timing fields
/// (whose values are not base64) are skipped.
fn parse_private(text: &str) -> Result<(u8, KeyFields), String> {
    let mut algorithm = None;
    let mut fields = Vec::new();
    let mut format_seen = false;
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        match name {
            "Private-key-format" => {
                if !value.starts_with("v1.") {
                    return Err(format!("unknown Private-key-format {value}"));
                }
                format_seen = true;
            }
            "Algorithm" => {
                let n = value.split_whitespace().next().unwrap_or_default();
                algorithm = Some(
                    n.parse::<u8>()
                        .map_err(|_| format!("Algorithm `{value}`"))?,
                );
            }
            "PrivateKey" | "Modulus" | "PublicExponent" | "PrivateExponent" | "Prime1"
            | "Prime2" | "Exponent1" | "Exponent2" | "Coefficient" => {
                let mut bytes = Vec::new();
                decode_base64(value.as_bytes(), &mut bytes).map_err(|e| format!("{name}: {e}"))?;
                fields.push((name.to_owned(), bytes));
            }
            _ => {}
        }
    }
    if !format_seen {
        return Err("not a private key file: no Private-key-format line".into());
    }
    Ok((algorithm.ok_or("no Algorithm line")?, fields))
}

/// `YYYYMMDDHHMMSS` in UTC, as key files write times.
pub fn timestamp(unix: u64) -> String {
    let secs = unix % 86_400;
    let (y, m, d) = wire::rdata::civil_from_days((unix / 86_400) as i64);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Writes `key` of `zone` into `dir` as `K<zone>+<alg>+<tag>.key` and `.private` (mode 0600),
/// replacing nothing: an existing file is an error. Returns the base path.
pub fn write(
    dir: &Path,
    zone: &Name,
    key: &ZoneKey,
    created: u64,
) -> Result<PathBuf, KeyFileError> {
    let alg = key.pair.algorithm();
    let tag = key.key_tag();
    let base = dir.join(base_name(zone, alg.number(), tag));
    let (key_path, private_path) = paths(&base);
    let mut owner = zone.clone();
    owner.make_lowercase();
    let mut public_b64 = String::new();
    write_base64(key.pair.public_key(), &mut public_b64);
    let kind = if key.is_sep() {
        "key-signing"
    } else {
        "zone-signing"
    };
    let when = timestamp(created);
    let public = format!(
        "; This is a {kind} key, keyid {tag}, for {owner}\n; Created: {when}\n\
         {owner} IN DNSKEY {} 3 {} {public_b64}\n",
        key.flags,
        alg.number()
    );
    let mut private = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\n",
        alg.number(),
        alg.mnemonic()
    );
    for (name, value) in key.pair.private_fields() {
        let mut b64 = String::new();
        write_base64(value, &mut b64);
        private.push_str(&format!("{name}: {b64}\n"));
    }
    private.push_str(&format!("Created: {when}\n"));
    write_new(&private_path, private.as_bytes(), 0o600)?;
    write_new(&key_path, public.as_bytes(), 0o644)?;
    Ok(base)
}

/// Creates `path` with `mode` (never overwriting) and writes `data` to it.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<(), KeyFileError> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| error(path, e.to_string()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|e| error(path, e.to_string()))
}

/// Every key in `dir` (files `K*.private` with their `.key`), sorted by file name.
pub fn read_dir(dir: &Path) -> Result<Vec<(PathBuf, LoadedKey)>, KeyFileError> {
    let entries = fs::read_dir(dir).map_err(|e| error(dir, e.to_string()))?;
    let mut bases = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| error(dir, e.to_string()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".private")
            && stem.starts_with('K')
        {
            bases.push(dir.join(stem));
        }
    }
    bases.sort();
    bases
        .into_iter()
        .map(|base| read(&base).map(|k| (base, k)))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names_and_timestamps() {
        let zone: Name = "Example.Test".parse().unwrap();
        assert_eq!(base_name(&zone, 13, 42), "Kexample.test.+013+00042");
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_767_225_600), "20260101000000");
        assert_eq!(timestamp(951_782_400 + 3661), "20000229010101");
    }

    #[test]
    fn write_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let zone: Name = "example.test.".parse().unwrap();
        for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
            let key = ZoneKey::generate(alg, false).unwrap();
            let base = write(dir.path(), &zone, &key, 1_767_225_600).unwrap();
            let (_, private) = paths(&base);
            let mode = fs::metadata(&private).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let loaded = read(&base).unwrap();
            assert_eq!(loaded.zone, zone);
            assert_eq!(loaded.key.dnskey(), key.dnskey());
            assert!(
                write(dir.path(), &zone, &key, 0).is_err(),
                "never overwrites"
            );
        }
        assert_eq!(read_dir(dir.path()).unwrap().len(), 2);
    }
}
