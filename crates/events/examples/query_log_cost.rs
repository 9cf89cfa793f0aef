//! What logging one query costs the answering thread, for callgrind (docs/PERFORMANCE.md):
//! `query_log_cost N` logs N queries (a UDP response for `www.example.com.` A with its query's
//! OPT record) through a query log writing to /dev/null, then waits for the writer.
//!
//! ```sh
//! cargo build --release -p events --example query_log_cost
//! valgrind --tool=callgrind --toggle-collect='query_log_cost::log_one' \
//!     target/release/examples/query_log_cost 100000 2>&1 | grep Collected   # / 100000
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use events::query::{Proto, QueryLog, QueryLogConfig, QueryRecord};
use events::writer::Sink;

/// The answering thread's work for one response, as `transport::observe` does it.
#[inline(never)]
fn log_one(log: &QueryLog, query: &[u8], response: &[u8], client: IpAddr, id: u16) {
    if !log.sampled() {
        return;
    }
    let Some(record) = QueryRecord::of_response(response) else {
        return;
    };
    let mut record = record.with_query_edns(query);
    record.id = id;
    record.time_ms = 1_800_000_000_000;
    record.client = client;
    record.port = 5300;
    record.proto = Proto::Udp;
    record.latency_us = 12;
    record.source = "zone";
    log.log(record);
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .map_or(100_000, |a| a.parse().unwrap());
    let config = QueryLogConfig {
        sink: Some(Sink::File("/dev/null".into())),
        rotation: None,
        sample: 1,
        rate: 0,
        client_prefix_v4: 24,
        client_prefix_v6: 56,
        exclude: vec!["internal.example.".parse().unwrap()],
        queue: 1 << 20,
    };
    let (log, _reopen) = QueryLog::start(&config).unwrap().unwrap();
    let mut response = vec![0x12, 0x34, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
    response.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    response.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    response.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    let mut query = response[..33].to_vec();
    query[7] = 0;
    query.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    let client: IpAddr = "192.0.2.7".parse().unwrap();
    let started = Instant::now();
    for i in 0..n {
        log_one(
            &log,
            black_box(&query),
            black_box(&response),
            client,
            i as u16,
        );
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while log.figures().0 + log.figures().1 < u64::from(n) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let (written, dropped, _) = log.figures();
    println!(
        "{n} queries: {:.0} ns each on the answering thread; written {written}, dropped {dropped}",
        elapsed.as_nanos() as f64 / f64::from(n.max(1))
    );
}
