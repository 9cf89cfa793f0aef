//! The query log's writer over a real file: the per-second cap, and records for excluded
//! names never written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use events::query::{QueryLog, QueryLogConfig, QueryRecord};
use events::writer::Sink;

fn response(name: &[u8]) -> Vec<u8> {
    let mut r = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(name);
    r.extend_from_slice(&[0, 1, 0, 1]);
    r
}

#[test]
fn the_rate_cap_and_exclusions() {
    let dir = std::env::temp_dir().join(format!("qlog-rate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("q.json");
    let config = QueryLogConfig {
        sink: Some(Sink::File(path.clone())),
        rotation: None,
        sample: 1,
        rate: 5,
        client_prefix_v4: 32,
        client_prefix_v6: 128,
        exclude: vec!["skip.test.".parse().unwrap()],
        queue: 1000,
    };
    let (log, _reopen) = QueryLog::start(&config).unwrap().unwrap();
    let skipped = QueryRecord::of_response(&response(b"\x01a\x04SKIP\x04test\x00")).unwrap();
    let kept = QueryRecord::of_response(&response(b"\x01a\x04keep\x04test\x00")).unwrap();
    for _ in 0..50 {
        log.log(skipped);
        log.log(kept);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.figures().0 + log.figures().2 < 50 {
        assert!(Instant::now() < deadline, "{:?}", log.figures());
        std::thread::sleep(Duration::from_millis(20));
    }
    let (written, dropped, suppressed) = log.figures();
    // Five a second (the second may turn once during the loop).
    assert!((5..=10).contains(&written), "{written}");
    assert_eq!((dropped, written + suppressed), (0, 50));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count() as u64, written);
    assert!(
        text.lines()
            .all(|l| l.contains("\"qname\":\"a.keep.test.\""))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
