//! A one-hit scan of ten times the cache's capacity does not flush the hot set: S3-FIFO keeps
//! names that are asked again and lets names asked once leave through the small queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cache::{AnswerMode, Cache, CacheAnswer, CacheConfig, RrSet, Time, Trust};
use wire::{Class, Header, MessageWriter, Name, RType};

fn rrset(owner: &Name) -> RrSet {
    RrSet {
        owner: owner.clone(),
        rtype: RType::A,
        class: Class::IN,
        ttl: 3600,
        rdatas: vec![vec![192, 0, 2, 1]],
        sigs: vec![],
    }
}

/// Asks the cache like a client; on a miss, the "recursor" resolves and inserts. Whether it
/// was a hit.
fn query(cache: &Cache, qname: &Name, now: Time) -> bool {
    let mut buf = [0u8; 512];
    let mut w = MessageWriter::new(&mut buf, 512, Header::default()).unwrap();
    w.push_question(qname.as_ref(), RType::A, Class::IN)
        .unwrap();
    match cache.answer(qname.as_ref(), RType::A, AnswerMode::default(), now, &mut w) {
        CacheAnswer::Hit { .. } => true,
        _ => {
            cache.insert_rrset(&rrset(qname), Trust::AuthAnswer, now);
            false
        }
    }
}

#[test]
fn a_one_hit_scan_of_ten_times_the_capacity_leaves_the_hot_set() {
    let cache = Cache::new(CacheConfig {
        max_bytes: 1 << 20,
        shards: 4,
        ..CacheConfig::default()
    });
    let now = Time::from_millis(1_000);
    let hot: Vec<Name> = (0..500)
        .map(|i| format!("hot{i}.example.").parse().unwrap())
        .collect();
    // Warm up: the hot set is asked a few times.
    for _ in 0..3 {
        for name in &hot {
            query(&cache, name, now);
        }
    }
    // Capacity in entries of this size, measured.
    let mut n = 0u64;
    while cache.stats().evictions == 0 {
        query(
            &cache,
            &format!("fill{n}.scan.example.").parse().unwrap(),
            now,
        );
        n += 1;
    }
    let capacity = cache.stats().entries;
    // The scan: ten times the capacity of names asked once, with the hot set asked in between.
    let (mut hot_asked, mut hot_hits) = (0u64, 0u64);
    for i in 0..10 * capacity {
        let name: Name = format!("scan{i}.example.").parse().unwrap();
        query(&cache, &name, now);
        if i % 4 == 0 {
            let h = &hot[(i / 4) as usize % hot.len()];
            hot_asked += 1;
            hot_hits += u64::from(query(&cache, h, now));
        }
    }
    let during = hot_hits as f64 / hot_asked as f64;
    let after = hot.iter().filter(|h| query(&cache, h, now)).count() as f64 / hot.len() as f64;
    println!(
        "capacity {capacity} entries, scan of {} names: hot hit ratio {during:.3} during, \
         {after:.3} after",
        10 * capacity
    );
    assert!(after >= 0.9, "hot hit ratio after the scan: {after}");
    assert!(during >= 0.9, "hot hit ratio during the scan: {during}");
}
