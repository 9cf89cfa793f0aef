//! Logging a query allocates nothing on the answering thread: the record is built on the
//! stack from the response and moved into the queue's preallocated buffer; the writer thread
//! formats it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use alloc_count::allocations;
use events::query::{Proto, QueryLog, QueryLogConfig, QueryRecord};
use events::writer::{Rotation, Sink};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

#[test]
fn logging_a_query_allocates_nothing() {
    let dir = std::env::temp_dir().join(format!("qlog-alloc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.json");
    let config = QueryLogConfig {
        sink: Some(Sink::File(path.clone())),
        rotation: Some(Rotation {
            max_size: 1 << 20,
            keep: 1,
        }),
        sample: 1,
        rate: 1_000_000,
        client_prefix_v4: 24,
        client_prefix_v6: 56,
        exclude: vec!["skip.test.".parse().unwrap()],
        queue: 4096,
    };
    let (log, _reopen) = QueryLog::start(&config).unwrap().unwrap();
    let mut response = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
    response.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    response.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    let mut query = response[..33].to_vec();
    query[7] = 0;
    query.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    let one = |id: u16| {
        if log.sampled() {
            let mut record = QueryRecord::of_response(&response)
                .unwrap()
                .with_query_edns(&query);
            record.id = id;
            record.time_ms = 1_800_000_000_000;
            record.client = "192.0.2.7".parse().unwrap();
            record.port = 5300;
            record.proto = Proto::Udp;
            record.source = "zone";
            record.latency_us = 12;
            log.log(record);
        }
    };
    // Warm up: the first send may set up the channel's waker.
    one(0);
    let before = allocations();
    for id in 1..=1000 {
        one(id);
    }
    assert_eq!(allocations(), before, "logging 1,000 queries allocated");
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.figures().0 < 1001 {
        assert!(Instant::now() < deadline, "{:?}", log.figures());
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1001);
    assert!(
        text.lines()
            .last()
            .unwrap()
            .contains("\"client\":\"192.0.2.0\"")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
