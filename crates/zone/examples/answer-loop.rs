//! Answers one query N times on the minimal answer path (parse, lookup, write) of
//! `tests/common/answer.rs`, for counting instructions per query with callgrind:
//! `bench/answer-callgrind.sh` runs it twice and divides the difference.
//!
//!     answer-loop N hit|nxdomain|wildcard

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/answer.rs"]
mod answer;

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("usage: answer-loop N hit|nxdomain|wildcard");
    let query = match args.next().as_deref() {
        Some("hit") => answer::query("host4242.example.test.", wire::RType::A),
        Some("nxdomain") => answer::query("nope.example.test.", wire::RType::A),
        Some("wildcard") => answer::query("x.wild.example.test.", wire::RType::TXT),
        _ => panic!("usage: answer-loop N hit|nxdomain|wildcard"),
    };
    let zone = answer::zone(10_000);
    let mut out = [0u8; 1232];
    for _ in 0..n {
        black_box(answer::answer(&zone, black_box(&query), &mut out).expect("an answer"));
    }
}
