//! Filling the cache far past its budget with random names keeps the process's resident memory
//! growth within 1.2 times the budget: the accounting counts what the heap really holds.
//!
//! One test in its own binary, so nothing else allocates while it measures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cache::{Cache, CacheConfig, RrSet, Time, Trust};
use wire::{Class, Name, RType};

/// Resident set size in bytes, from `/proc/self/statm` (pages of 4 KiB).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// xorshift64*: deterministic, good enough for names.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// A random RRset: a name of two to four labels, an A, AAAA or TXT RRset of one to four
/// records, sometimes signed.
fn random_rrset(rng: &mut Rng) -> RrSet {
    let mut labels: Vec<Vec<u8>> = (0..2 + rng.below(3))
        .map(|_| {
            (0..1 + rng.below(12))
                .map(|_| b'a' + rng.below(26) as u8)
                .collect()
        })
        .collect();
    labels.push(b"test".to_vec());
    let owner = Name::from_labels(labels.iter().map(Vec::as_slice)).unwrap();
    let (rtype, len) = match rng.below(3) {
        0 => (RType::A, 4),
        1 => (RType::AAAA, 16),
        _ => (RType::TXT, 1 + rng.below(120)),
    };
    let rdatas = (0..1 + rng.below(4)).map(|i| vec![i as u8; len]).collect();
    let sigs = if rng.below(4) == 0 {
        vec![vec![7; 100 + rng.below(100)]]
    } else {
        vec![]
    };
    RrSet {
        owner,
        rtype,
        class: Class::IN,
        ttl: 3600,
        rdatas,
        sigs,
    }
}

#[test]
fn filling_far_past_the_budget_stays_within_it() {
    const BUDGET: usize = 32 << 20;
    let cache = Cache::new(CacheConfig {
        max_bytes: BUDGET,
        ..CacheConfig::default()
    });
    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let before = rss();
    let now = Time::from_millis(1_000);
    let mut inserted = 0u64;
    // Insert until the cache has evicted more than it holds.
    loop {
        for _ in 0..10_000 {
            let set = random_rrset(&mut rng);
            cache.insert_rrset(&set, Trust::AuthAnswer, now);
            inserted += 1;
        }
        let s = cache.stats();
        if s.evictions > s.entries {
            break;
        }
    }
    let after = rss();
    let s = cache.stats();
    let growth = after.saturating_sub(before);
    let ratio = growth as f64 / BUDGET as f64;
    println!(
        "inserted {inserted}, entries {}, accounted {} bytes ({:.1} per entry), \
         RSS growth {growth} bytes ({:.1} per entry), ratio to budget {ratio:.3}",
        s.entries,
        s.bytes,
        s.bytes as f64 / s.entries as f64,
        growth as f64 / s.entries as f64,
    );
    assert!(s.bytes <= BUDGET as u64, "{s:?}");
    assert!(
        ratio <= 1.2,
        "RSS grew {growth} bytes for a budget of {BUDGET}"
    );
    // The budget is used, not wasted.
    assert!(s.bytes as f64 >= 0.9 * BUDGET as f64, "{s:?}");
}
