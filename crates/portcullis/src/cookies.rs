//! DNS cookie secrets at run time: where they come from, reloads, and rotation.
//!
//! One [`guard::Cookies`] lives as long as the server: every engine a reload builds shares it,
//! so the cookies clients hold survive a reload. Its secrets are
//!
//! - the configured `cookies.secret` (and `previous_secret`), applied at start and again by
//!   each reload that changes them: servers behind one anycast address, configured alike, make
//!   and accept the same cookies, and a new secret is rolled out by configuring it with the
//!   old one as `previous_secret` everywhere first, then dropping the old one;
//! - otherwise a random secret from the OS generator, made at start and replaced every
//!   `cookies.rotate_interval` seconds by [`rotation_timer`], the previous one still accepted
//!   (a cookie lives an hour, the shortest interval allowed). A reload that removes a
//!   configured secret switches to a random one the same way.
//!
//! Secrets are never logged.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use engine::CookiePolicy;
use events::Events;
use guard::{Cookies, Secret};
use transport::Shutdown;

use crate::config::CookieSettings;

/// The server's cookie secrets; see the [module docs](self).
#[derive(Debug)]
pub struct CookieSecrets {
    cookies: Arc<Cookies>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The configured secrets in use; `None` while random ones are.
    configured: Option<(Secret, Option<Secret>)>,
    /// Seconds between two random secrets.
    rotate_interval: u32,
}

impl CookieSecrets {
    /// The secrets `settings` ask for: the configured ones, or a random one.
    pub fn new(settings: &CookieSettings) -> Result<CookieSecrets, String> {
        let cookies = match settings.secret {
            Some(secret) => Cookies::new(secret, settings.previous_secret),
            None => Cookies::new(random()?, None),
        };
        Ok(CookieSecrets {
            cookies: Arc::new(cookies),
            state: Mutex::new(State {
                configured: settings.secret.map(|s| (s, settings.previous_secret)),
                rotate_interval: settings.rotate_interval,
            }),
        })
    }

    /// Applies the settings of a reloaded configuration: new configured secrets replace the
    /// ones in use; without one, a configured secret in use gives way to a random one (and
    /// stays accepted as the previous one).
    pub fn apply(&self, settings: &CookieSettings) -> Result<(), String> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.rotate_interval = settings.rotate_interval;
        let wanted = settings.secret.map(|s| (s, settings.previous_secret));
        match (wanted, state.configured) {
            (Some(w), Some(now)) if w == now => {}
            (Some((secret, previous)), _) => self.cookies.set(secret, previous),
            (None, Some(_)) => self.cookies.rotate(random()?),
            (None, None) => {}
        }
        state.configured = wanted;
        Ok(())
    }

    /// The engine's cookie policy, when `settings` turn cookies on; failures go to `events`.
    pub fn policy(&self, settings: &CookieSettings, events: &Events) -> Option<CookiePolicy> {
        settings.enabled.then(|| CookiePolicy {
            cookies: self.cookies.clone(),
            require: settings.require,
            events: events.clone(),
        })
    }

    /// Replaces a random secret by a new one; configured secrets are left alone. Returns
    /// whether it rotated.
    pub fn rotate(&self) -> Result<bool, String> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.configured.is_some() {
            return Ok(false);
        }
        self.cookies.rotate(random()?);
        Ok(true)
    }

    /// How long until the next rotation.
    fn interval(&self) -> Duration {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Duration::from_secs(u64::from(state.rotate_interval))
    }
}

/// A secret from the OS random generator.
fn random() -> Result<Secret, String> {
    let mut bytes = [0u8; guard::cookie::SECRET_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| format!("cannot read random bytes for the cookie secret: {e}"))?;
    Ok(Secret::new(bytes))
}

/// Rotates a random secret every `cookies.rotate_interval` (as configured when each wait
/// starts) until `shutdown`.
pub async fn rotation_timer(secrets: Arc<CookieSecrets>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(secrets.interval()) => {}
            () = shutdown.wait() => return,
        }
        match secrets.rotate() {
            Ok(true) => tracing::info!("DNS cookie secret rotated"),
            Ok(false) => {}
            Err(e) => tracing::error!("{e}; the cookie secret stays as it is"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn settings(secret: Option<Secret>, previous: Option<Secret>) -> CookieSettings {
        CookieSettings {
            enabled: true,
            require: false,
            secret,
            previous_secret: previous,
            rotate_interval: 3600,
        }
    }

    fn valid(secrets: &CookieSecrets, made_with: &Secret) -> bool {
        let ip = "192.0.2.1".parse().unwrap();
        let cookie = guard::cookie::server_cookie(made_with, &[1; 8], ip, 100);
        secrets.cookies.check(&[1; 8], &cookie, ip, 100).verdict == guard::Verdict::Valid
    }

    #[test]
    fn configured_secrets_apply_and_random_ones_rotate() {
        let a = Secret::new([1; 16]);
        let b = Secret::new([2; 16]);
        let secrets = CookieSecrets::new(&settings(Some(a), None)).unwrap();
        assert!(valid(&secrets, &a));
        assert!(
            !secrets.rotate().unwrap(),
            "configured secrets do not rotate"
        );
        // A rolling change: the new secret, the old one still accepted.
        secrets.apply(&settings(Some(b), Some(a))).unwrap();
        assert!(secrets.cookies.is_current(&b) && valid(&secrets, &a));
        secrets.apply(&settings(Some(b), None)).unwrap();
        assert!(!valid(&secrets, &a));
        // Back to random: b stays valid as the previous secret, until the next rotation.
        secrets.apply(&settings(None, None)).unwrap();
        assert!(!secrets.cookies.is_current(&b) && valid(&secrets, &b));
        assert!(secrets.rotate().unwrap());
        assert!(!valid(&secrets, &b));
    }

    #[test]
    fn policies_follow_enabled_and_require() {
        let secrets = CookieSecrets::new(&settings(None, None)).unwrap();
        let mut s = settings(None, None);
        s.require = true;
        let policy = secrets.policy(&s, &Events::disabled()).unwrap();
        assert!(policy.require && Arc::ptr_eq(&policy.cookies, &secrets.cookies));
        s.enabled = false;
        assert!(secrets.policy(&s, &Events::disabled()).is_none());
    }
}
