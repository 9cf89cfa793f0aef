//! The process's clock on the cache's time scale.
//!
//! The engine, the cache and the recursor never read a clock: they take `now` as a
//! [`cache::Time`], milliseconds since an epoch the caller chooses. Every transport takes it
//! from here, so the UDP workers, the TCP connections and the resolver drivers agree: the epoch
//! is the first call in the process, and the clock is monotonic ([`Instant`]).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cache::Time;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Now, as milliseconds since the process's epoch.
pub fn now() -> Time {
    let ms = epoch().elapsed().as_millis();
    Time::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The [`Instant`] of a [`Time`] on this clock, for timers.
pub fn instant(at: Time) -> Instant {
    epoch() + Duration::from_millis(at.as_millis())
}
