//! The `[signing]` section: how zones with `dnssec = true` are signed (docs/CONFIG.md, "Signing
//! keys", lists each key with its default and bounds; docs/OPERATIONS.md, "Signing zones",
//! says how to use them).

use std::path::{Path, PathBuf};

use dnssec::Algorithm;
use serde::Deserialize;

use super::IntBounds;

/// `signing.signature_validity`: seconds a signature is valid.
pub const SIGNATURE_VALIDITY: IntBounds = IntBounds {
    key: "signing.signature_validity",
    min: 3 * 3600,
    max: 366 * 86_400,
};
/// `signing.refresh`: seconds before expiry a signature is replaced; 0 = a third of the
/// validity.
pub const REFRESH: IntBounds = IntBounds {
    key: "signing.refresh",
    min: 0,
    max: 366 * 86_400,
};
/// `signing.zsk_lifetime`: seconds a ZSK signs before it is rolled; 0 = never rolled.
pub const ZSK_LIFETIME: IntBounds = IntBounds {
    key: "signing.zsk_lifetime",
    min: 0,
    max: 10 * 366 * 86_400,
};
/// `signing.ksk_lifetime`: seconds a KSK or CSK signs before it is rolled; 0 = never rolled.
pub const KSK_LIFETIME: IntBounds = IntBounds {
    key: "signing.ksk_lifetime",
    min: 0,
    max: 10 * 366 * 86_400,
};
/// `signing.propagation_delay`: seconds allowed for a change to reach every secondary server
/// and for caches to drop what they held (added to TTLs when rolling keys).
pub const PROPAGATION_DELAY: IntBounds = IntBounds {
    key: "signing.propagation_delay",
    min: 0,
    max: 7 * 86_400,
};

/// Every integer setting of `[signing]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[
    SIGNATURE_VALIDITY,
    REFRESH,
    ZSK_LIFETIME,
    KSK_LIFETIME,
    PROPAGATION_DELAY,
];

/// Which keys a zone has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyLayout {
    /// One combined signing key (flags 257) signs everything.
    Csk,
    /// A key-signing key (257) signs the DNSKEY RRset, a zone-signing key (256) the rest.
    KskZsk,
}

/// How non-existence is proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenialKind {
    /// NSEC (RFC 4034).
    Nsec,
    /// NSEC3 with RFC 9276's parameters: SHA-1, no salt, no extra iteration.
    Nsec3,
}

/// The `[signing]` settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningSettings {
    /// Algorithm of new keys.
    pub algorithm: Algorithm,
    /// Key layout of new zones.
    pub layout: KeyLayout,
    /// NSEC or NSEC3.
    pub denial: DenialKind,
    /// NSEC3 opt-out (insecure delegations left out of the chain).
    pub nsec3_opt_out: bool,
    /// Seconds a signature is valid.
    pub signature_validity: u32,
    /// Seconds before expiry a signature is replaced.
    pub refresh: u32,
    /// Where key files and key state live.
    pub key_dir: PathBuf,
    /// Seconds a ZSK signs before it is rolled (0: never).
    pub zsk_lifetime: u32,
    /// Seconds a KSK or CSK signs before it is rolled (0: never).
    pub ksk_lifetime: u32,
    /// Seconds added to TTLs for changes to propagate during rollovers.
    pub propagation_delay: u32,
    /// Servers of the parent zone asked for the zone's DS during a KSK or CSK rollover.
    pub parent_servers: Vec<std::net::SocketAddr>,
}

impl Default for SigningSettings {
    fn default() -> SigningSettings {
        SigningSection::default()
            .into_settings(None)
            .unwrap_or_else(|_| SigningSettings {
                algorithm: Algorithm::EcdsaP256Sha256,
                layout: KeyLayout::Csk,
                denial: DenialKind::Nsec,
                nsec3_opt_out: false,
                signature_validity: 14 * 86_400,
                refresh: 14 * 86_400 / 3,
                key_dir: PathBuf::from("keys"),
                zsk_lifetime: 0,
                ksk_lifetime: 0,
                propagation_delay: 3600,
                parent_servers: Vec::new(),
            })
    }
}

/// `[signing]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct SigningSection {
    algorithm: String,
    layout: String,
    denial: String,
    nsec3_opt_out: bool,
    signature_validity: u64,
    refresh: u64,
    key_dir: PathBuf,
    zsk_lifetime: u64,
    ksk_lifetime: u64,
    propagation_delay: u64,
    parent_servers: Vec<String>,
}

impl Default for SigningSection {
    fn default() -> SigningSection {
        SigningSection {
            algorithm: "ecdsa-p256".into(),
            layout: "csk".into(),
            denial: "nsec".into(),
            nsec3_opt_out: false,
            signature_validity: 14 * 86_400,
            refresh: 0,
            key_dir: PathBuf::from("keys"),
            zsk_lifetime: 0,
            ksk_lifetime: 0,
            propagation_delay: 3600,
            parent_servers: Vec::new(),
        }
    }
}

fn bounded(value: u64, b: IntBounds) -> Result<u32, String> {
    if (b.min..=b.max).contains(&value) {
        Ok(value as u32)
    } else {
        Err(format!(
            "{}: {value} is out of bounds: it must be from {} to {}",
            b.key, b.min, b.max
        ))
    }
}

impl SigningSection {
    /// Checks the section; a relative `key_dir` is taken from `base_dir`.
    pub(super) fn into_settings(self, base_dir: Option<&Path>) -> Result<SigningSettings, String> {
        let algorithm = parse_algorithm(&self.algorithm)?;
        let layout = match self.layout.as_str() {
            "csk" => KeyLayout::Csk,
            "ksk-zsk" => KeyLayout::KskZsk,
            other => {
                return Err(format!(
                    "signing.layout: `{other}` is not a key layout: use csk or ksk-zsk"
                ));
            }
        };
        let denial = match self.denial.as_str() {
            "nsec" => DenialKind::Nsec,
            "nsec3" => DenialKind::Nsec3,
            other => {
                return Err(format!(
                    "signing.denial: `{other}` is not a denial method: use nsec or nsec3"
                ));
            }
        };
        let signature_validity = bounded(self.signature_validity, SIGNATURE_VALIDITY)?;
        let refresh = match bounded(self.refresh, REFRESH)? {
            0 => signature_validity / 3,
            r if r >= signature_validity => {
                return Err(format!(
                    "signing.refresh: {r} must be below signing.signature_validity ({signature_validity})"
                ));
            }
            r => r,
        };
        let mut parent_servers = Vec::with_capacity(self.parent_servers.len());
        for s in &self.parent_servers {
            parent_servers.push(
                super::resolver::server_addr(s)
                    .map_err(|e| format!("signing.parent_servers: {e}"))?,
            );
        }
        Ok(SigningSettings {
            algorithm,
            layout,
            denial,
            nsec3_opt_out: self.nsec3_opt_out,
            signature_validity,
            refresh,
            key_dir: match base_dir {
                Some(dir) if self.key_dir.is_relative() => dir.join(&self.key_dir),
                _ => self.key_dir,
            },
            zsk_lifetime: bounded(self.zsk_lifetime, ZSK_LIFETIME)?,
            ksk_lifetime: bounded(self.ksk_lifetime, KSK_LIFETIME)?,
            propagation_delay: bounded(self.propagation_delay, PROPAGATION_DELAY)?,
            parent_servers,
        })
    }
}

/// `ecdsa-p256` or `ed25519`.
pub fn parse_algorithm(text: &str) -> Result<Algorithm, String> {
    match text {
        "ecdsa-p256" => Ok(Algorithm::EcdsaP256Sha256),
        "ed25519" => Ok(Algorithm::Ed25519),
        other => Err(format!(
            "signing.algorithm: `{other}` is not an algorithm Portcullis generates keys for: use \
             ecdsa-p256 or ed25519 (RSA keys can be imported, not generated)"
        )),
    }
}

/// `--sign ORIGIN` and `--key-dir DIR`.
#[derive(Clone, Debug, Default)]
pub struct SigningOverrides {
    /// Zones to serve signed; each must be configured (in the file or by `--zone`).
    pub sign: Vec<wire::Name>,
    /// Replaces `signing.key_dir`.
    pub key_dir: Option<PathBuf>,
}

/// Applies `--sign` and `--key-dir` to `config`.
pub(super) fn apply_overrides(
    config: &mut super::Config,
    overrides: &super::Overrides,
) -> Result<(), String> {
    let o = &overrides.signing;
    if let Some(dir) = &o.key_dir {
        config.signing.key_dir = dir.clone();
    }
    for origin in &o.sign {
        let zone = config
            .zones
            .iter_mut()
            .find(|z| z.origin == *origin)
            .ok_or_else(|| {
                format!("--sign: zone {origin} is not served (add it with --zone or [[zone]])")
            })?;
        zone.dnssec = true;
    }
    Ok(())
}
