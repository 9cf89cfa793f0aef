//! The process's clock on the cache's time scale.
//!
//! The engine, the cache and the recursor never read a clock: they take `now` as a
//! [`cache::Time`], milliseconds since an epoch the caller chooses. Every transport takes it
//! from here, so the UDP workers, the TCP connections and the resolver drivers agree. The
//! scale is Unix time (DNSSEC validation compares signature validity periods, which are Unix
//! times, with `now`): the wall clock is read once, at the first call in the process, and
//! time advances from there by the monotonic clock ([`Instant`]), so setting the system clock
//! back never makes cache entries live longer or timers fire late.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cache::Time;

/// The first call's monotonic instant and its Unix time in milliseconds.
static EPOCH: OnceLock<(Instant, u64)> = OnceLock::new();

fn epoch() -> (Instant, u64) {
    *EPOCH.get_or_init(|| {
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        (Instant::now(), unix_ms)
    })
}

/// Now, as milliseconds since 1970 (read from the wall clock once, then monotonic).
pub fn now() -> Time {
    let (start, unix_ms) = epoch();
    let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
    Time::from_millis(unix_ms.saturating_add(elapsed))
}

/// The [`Instant`] of a [`Time`] on this clock, for timers.
pub fn instant(at: Time) -> Instant {
    let (start, unix_ms) = epoch();
    start + Duration::from_millis(at.as_millis().saturating_sub(unix_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_unix_time_and_instants_match() {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let t = now();
        assert!(t.as_millis().abs_diff(wall) < 5_000, "{t:?} vs {wall}");
        let later = t.plus_millis(1_000);
        let gap = instant(later).duration_since(instant(t));
        assert_eq!(gap, Duration::from_millis(1_000));
    }
}
