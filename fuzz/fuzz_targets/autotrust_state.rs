//! Any text as an RFC 5011 trust anchor state file: reading never panics; a state that reads
//! writes back to text that reads to the same state and the same text; the state then takes a
//! check of its own keys (some revoked) without panicking, and still round-trips.
#![no_main]

use std::path::Path;

use dnssec::AutoTrust;
use dnssec::autotrust::MAX_KEYS_PER_ZONE;
use libfuzzer_sys::fuzz_target;
use wire::Name;

/// A time in 2027, and the same plus the hold-down: both timers fire in the second check.
const T0: u64 = 1_800_000_000;
const LATER: u64 = T0 + 31 * 86_400;

fn round_trip(path: &Path, at: &AutoTrust) {
    let text = at.to_text();
    let back = AutoTrust::from_text(path, &text)
        .unwrap_or_else(|e| panic!("written state does not read back: {e}\n{text}"));
    assert_eq!(&back, at, "{text}");
    assert_eq!(back.to_text(), text);
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.autotrust");
    let text = String::from_utf8_lossy(data);
    let mut at = match AutoTrust::from_text(path, &text) {
        Ok(at) => at,
        Err(e) => {
            assert!(e.to_string().starts_with("fuzz.autotrust:"), "{e}");
            return;
        }
    };
    round_trip(path, &at);
    let anchors = at.anchors();
    assert_eq!(anchors.iter().count(), at.zones().count());

    // A check of each zone with its own keys, every other one revoked and self-signed.
    let zones: Vec<Name> = at.zones().take(8).cloned().collect();
    for (i, zone) in zones.iter().enumerate() {
        let mut keys: Vec<Vec<u8>> = at
            .keys(zone.as_ref())
            .iter()
            .map(|t| t.dnskey.clone())
            .collect();
        for (j, k) in keys.iter_mut().enumerate() {
            if (i + j) % 2 == 1
                && let Some(b) = k.get_mut(1)
            {
                *b |= 0x80;
            }
        }
        for now in [T0, LATER] {
            at.observe(zone.as_ref(), &keys, |k| k.len() % 2 == 0, now);
            assert!(at.keys(zone.as_ref()).len() <= MAX_KEYS_PER_ZONE.max(keys.len()));
        }
    }
    let _ = at.anchors();
    round_trip(path, &at);
});
