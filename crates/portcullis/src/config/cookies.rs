//! The `[cookies]` section: DNS cookies as a server (RFC 7873, RFC 9018), on by default
//! (docs/CONFIG.md lists each key with its default and bounds; `guard::cookie` makes and checks
//! the cookies, the engine answers with them).
//!
//! The server secret is either configured (`secret`, 32 hexadecimal digits, the same on every
//! server behind one anycast address, with `previous_secret` still accepted while a new one
//! spreads) or, when not, drawn from the OS random generator at start and replaced every
//! `rotate_interval` seconds, the previous one staying valid. Secrets never appear in logs or
//! messages: an error names the key and the place, not the value.

use guard::Secret;
use serde::Deserialize;
use serde::de::{Deserializer, Error as _};
use toml::Spanned;

use super::{ConfigError, IntBounds, Location, int, keyed};

/// `cookies.rotate_interval`: seconds between two random secrets when none is configured. At
/// least an hour, the lifetime of a cookie, so a cookie made just before a rotation stays
/// valid (under the previous secret) until it expires.
pub const ROTATE_INTERVAL: IntBounds = IntBounds {
    key: "cookies.rotate_interval",
    min: 3600,
    max: 2_592_000,
};

/// Every integer setting of `[cookies]`, for the documentation test.
pub const INT_SETTINGS: &[IntBounds] = &[ROTATE_INTERVAL];

/// The `[cookies]` settings, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// Answer COOKIE options at all; off, the option is ignored as by a server that does not
    /// know it.
    pub enabled: bool,
    /// Answer BADCOOKIE to UDP queries with a client cookie but no valid server cookie.
    pub require: bool,
    /// The configured secret; `None`: random, rotated every `rotate_interval`.
    pub secret: Option<Secret>,
    /// A configured secret still accepted (only with `secret`).
    pub previous_secret: Option<Secret>,
    /// Seconds between two random secrets.
    pub rotate_interval: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct CookieSection {
    #[serde(deserialize_with = "de_enabled")]
    enabled: bool,
    #[serde(deserialize_with = "de_require")]
    require: bool,
    #[serde(deserialize_with = "de_secret")]
    secret: Option<Secret>,
    #[serde(deserialize_with = "de_previous_secret")]
    previous_secret: Option<Spanned<Secret>>,
    #[serde(deserialize_with = "de_rotate_interval")]
    rotate_interval: u64,
}

impl Default for CookieSection {
    /// On, not required (as BIND's `require-server-cookie no`), a random secret a day.
    fn default() -> CookieSection {
        CookieSection {
            enabled: true,
            require: false,
            secret: None,
            previous_secret: None,
            rotate_interval: 86_400,
        }
    }
}

impl CookieSection {
    pub(super) fn into_settings(
        self,
        label: &str,
        text: &str,
    ) -> Result<CookieSettings, ConfigError> {
        if let (None, Some(previous)) = (self.secret, &self.previous_secret) {
            return Err(ConfigError::at(
                Location::of(label, text, previous.span().start),
                "cookies.previous_secret: only meaningful with cookies.secret".to_owned(),
            ));
        }
        Ok(CookieSettings {
            enabled: self.enabled,
            require: self.require,
            secret: self.secret,
            previous_secret: self.previous_secret.map(Spanned::into_inner),
            // Checked against bounds that fit.
            rotate_interval: u32::try_from(self.rotate_interval).unwrap_or(86_400),
        })
    }
}

fn de_enabled<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "cookies.enabled")
}
fn de_require<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    keyed(d, "cookies.require")
}
fn de_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    secret(d, "cookies.secret").map(Some)
}
fn de_previous_secret<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Spanned<Secret>>, D::Error> {
    let text: Spanned<String> = keyed(d, "cookies.previous_secret")?;
    let span = text.span();
    let secret = Secret::from_hex(text.get_ref())
        .map_err(|e| D::Error::custom(format!("cookies.previous_secret: {e}")))?;
    Ok(Some(Spanned::new(span, secret)))
}
fn de_rotate_interval<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d, ROTATE_INTERVAL)
}

/// 32 hexadecimal digits; the error says what is wrong, never the value.
fn secret<'de, D: Deserializer<'de>>(d: D, key: &str) -> Result<Secret, D::Error> {
    let text: String = keyed(d, key)?;
    Secret::from_hex(&text).map_err(|e| D::Error::custom(format!("{key}: {e}")))
}
