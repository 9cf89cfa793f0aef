//! Cost of the per-query path, measured so that a shared machine cannot distort it: the
//! calling thread's CPU time over a long loop (time preempted is not counted) and, under
//! callgrind, instruction counts (which do not depend on load at all).
//!
//! ```sh
//! cargo run --release -p detect --example cost            # every case, CPU ns per call
//! cargo run --release -p detect --example cost -- q17 0   # one case, N calls (0: setup only)
//! STAGE=psl cargo run --release -p detect --example cost -- q17 100000  # one stage alone:
//!                                                     # psl, features or score
//! # instructions per call: the difference of two runs under callgrind, divided by the calls
//! cargo build --release -p detect --example cost
//! for n in 0 100000; do valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/cost q17 $n 2>&1 | grep Collected; done
//! ```
//!
//! Cases: `q17` (`www.example.com` A), `q17b` (`mail.google.com` AAAA), `q138` and `q245`
//! (tunnel-length names, as in `benches/query.rs`; `q245r` is `q245` with its run of 60 `q`
//! replaced by varied letters): registered domain + features + score; `dom` (DomainTable
//! observe_query on a hot domain, a new left part each query, as in `benches/domain.rs`),
//! `ans` (its observe_answer); `anom` (anomaly observe + observe_answer in a learned steady
//! state, as in `benches/anomaly.rs`: the client prefixes' and the server's series; a
//! domain's are in `dom` and `ans`); `miss` (the whole `Detector::on_miss` and `on_answer`,
//! as the server calls them on a cache miss, ordinary names over 20,000 sites); `gated` (the
//! same over 1,000 sites at 400 q/s, the traffic of `bench/detect-instructions.sh`: the
//! domain gates open and the domain model runs).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use detect::{
    Anomalies, AnomalyConfig, Decision, DetectConfig, Detector, DomainConfig, DomainTable,
    FEATURES, Model, Observation, Psl, QueryObservation, extract,
};
use wire::{Name, NameRef, RType, Rcode};

/// CPU time of this thread in ns (Linux `schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn query_case(case: &str) -> Option<(RType, Name)> {
    let text = match case {
        "q17" => return Some((RType::A, "www.example.com.".parse().ok()?)),
        "q17b" => return Some((RType::AAAA, "mail.google.com.".parse().ok()?)),
        "q138" => format!(
            "{}.{}.t.evil.example.",
            "a1b2c3d4e5".repeat(6),
            "f6g7h8i9j0k1l2m3n4o5".repeat(3)
        ),
        "q245" | "q245r" => format!(
            "{}.{}.{}.{}.t.example.co.uk.",
            if case == "q245" {
                "q".repeat(60)
            } else {
                "k3xv9b2mzq".repeat(6)
            },
            "aGVsbG8gd29ybGQ".repeat(4),
            "0123456789abcdef".repeat(3),
            "mzxw6ytb".repeat(7)
        ),
        _ => return None,
    };
    let qtype = if case == "q138" {
        RType::TXT
    } else {
        RType::NULL
    };
    Some((qtype, text.parse().ok()?))
}

/// Runs `n` calls of `case` after its setup; the CPU ns per call.
fn run(case: &str, n: u64) -> f64 {
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let timed = |f: &mut dyn FnMut(u64)| {
        let start = thread_cpu_ns();
        for i in 0..n {
            f(i);
        }
        thread_cpu_ns().saturating_sub(start) as f64 / n.max(1) as f64
    };
    if let Some((qtype, name)) = query_case(case) {
        let model = Model::embedded().unwrap();
        let psl = Psl::embedded();
        let mut f = [0f32; FEATURES];
        let offset = psl.registered(name.as_ref()).offset;
        extract(name.as_ref(), qtype, offset, model.bigrams(), &mut f);
        // One stage alone, or all three.
        return match std::env::var("STAGE").as_deref() {
            Ok("psl") => timed(&mut |_| {
                black_box(psl.registered(black_box(name.as_ref())));
            }),
            Ok("features") => timed(&mut |_| {
                let n = black_box(name.as_ref());
                extract(n, qtype, black_box(offset), model.bigrams(), &mut f);
                black_box(&f);
            }),
            Ok("score") => timed(&mut |_| {
                black_box(model.score(black_box(&f)));
            }),
            _ => timed(&mut |_| {
                let n = black_box(name.as_ref());
                let registered = psl.registered(n);
                extract(n, qtype, registered.offset, model.bigrams(), &mut f);
                black_box(model.score(&f));
            }),
        };
    }
    match case {
        "dom" | "ans" => {
            let lefts: Vec<Vec<u8>> = (0..1024)
                .map(|i| {
                    let n: Name = format!("{i:0>24}.data").parse().unwrap();
                    n.as_wire()[..n.len() - 1].to_vec()
                })
                .collect();
            let table = DomainTable::new(DomainConfig {
                hash_key: Some([1, 2]),
                ..DomainConfig::default()
            });
            let hot: Name = "tunnel.example".parse().unwrap();
            let obs = |i: u64| QueryObservation {
                domain: hot.as_ref(),
                key: table.key(hot.as_ref()),
                left: &lefts[(i % 1024) as usize],
                qtype: RType::A,
                client,
                score: 0.2,
                suspicious: false,
                weight: 1.0,
            };
            for i in 0..10_000 {
                table.observe_query(&obs(i), i / 64);
            }
            if case == "dom" {
                timed(&mut |i| {
                    black_box(table.observe_query(&obs(i), (10_000 + i) / 64));
                })
            } else {
                timed(&mut |_| {
                    let hot = black_box(hot.as_ref());
                    table.observe_answer(table.key(hot), false, 120);
                })
            }
        }
        "anom" => {
            const CLIENTS: u64 = 1_000;
            const DOMAINS: u64 = 5_000;
            let a = Anomalies::new(AnomalyConfig::default(), 0);
            let query = |i: u64| Observation {
                client: IpAddr::V4(Ipv4Addr::from_bits(((i * 7919 % CLIENTS) as u32) << 8 | 1)),
                domain_hash: (i * 104_729 % DOMAINS).wrapping_mul(0xff51_afd7_ed55_8ccd),
                name_hash: (i % 50_000).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                new_domain: false,
                domain_alerted: false,
            };
            let (mut i, mut now) = (0, 0);
            while now < 7_200_000 {
                let o = query(i);
                a.observe(&o, now);
                a.observe_answer(o.client, i % 50 == 0, now);
                i += 1;
                now += 10;
            }
            timed(&mut |_| {
                let o = query(i);
                i += 1;
                now += u64::from(i % 100 == 0);
                black_box(a.observe(black_box(&o), now));
                black_box(a.observe_answer(o.client, i % 50 == 0, now));
            })
        }
        "miss" => {
            // The whole facade as the server calls it on a cache miss and its answer: ordinary
            // names over 20,000 sites, each asked once (as `bench/detect.sh` "misses" does).
            let d = Detector::with_hash_key(
                DetectConfig::default(),
                Model::embedded().unwrap(),
                Psl::embedded(),
                0,
                Some([1, 2]),
            );
            let names: Vec<Name> = (0..100_000u64)
                .map(|i| {
                    format!("h{}.site{}.test.", i / 20_000, i % 20_000)
                        .parse()
                        .unwrap()
                })
                .collect();
            let mut now = 0;
            for (i, n) in names.iter().enumerate() {
                now = i as u64 / 10;
                miss_and_answer(&d, n.as_ref(), client, now);
            }
            let mut k = 0usize;
            timed(&mut |_| {
                let n = names[k % names.len()].as_ref();
                k += 1;
                now += u64::from(k.is_multiple_of(10));
                black_box(miss_and_answer(&d, n, client, now));
            })
        }
        "gated" => gated(n),
        _ => panic!("unknown case {case}"),
    }
}

/// An A query's miss and its 60-byte NOERROR answer, as the server reports them.
fn miss_and_answer(d: &Detector, q: NameRef<'_>, client: IpAddr, now: u64) -> Decision {
    let decision = d.on_miss(q, RType::A, client, now);
    if let Some(seen) = decision.seen {
        black_box(d.on_answer(q, seen, client, Rcode::NOERROR, 60, now));
    }
    decision
}

/// Case `gated`: the traffic of `bench/detect-instructions.sh` (dnsperf at 400 q/s, distinct
/// ordinary names `{host}{k}.site{s}.test.` over 1,000 sites, so each site is asked every
/// 2.5 s on average), through the whole facade. Unlike `miss`, the sites come back often
/// enough for the domain gates to open (a pause of a second or more is a gap) and for the
/// domain model to run, as on the server. Until the data floor went to 10 bytes the model took
/// most of these sites for tunnels and alerted once on each; their left parts (`www1234`,
/// `login12345`) average under 10 bytes, so now none does. Like the bench: 4,000 calls first,
/// then the `n` measured (the bench's 16,000 more; past 16,000 the names repeat). Returns the
/// CPU ns per call.
fn gated(n: u64) -> f64 {
    const SITES: u64 = 1_000;
    const HOSTS: [&str; 10] = [
        "www", "mail", "api", "cdn", "static", "img", "login", "shop", "news", "blog",
    ];
    const WARM: u64 = 4_000;
    const MADE: u64 = 16_000;
    let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let d = Detector::with_hash_key(
        DetectConfig::default(),
        Model::embedded().unwrap(),
        Psl::embedded(),
        0,
        Some([1, 2]),
    );
    // A fixed pseudo-random site per name (splitmix64), as the bench's seeded choice.
    let site = |k: u64| {
        let mut x = k.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (x ^ (x >> 31)) % SITES
    };
    let names: Vec<Name> = (0..WARM + MADE)
        .map(|k| {
            let host = HOSTS[(site(k ^ 0x55) % 10) as usize];
            format!("{host}{k}.site{}.test.", site(k)).parse().unwrap()
        })
        .collect();
    // 400 queries a second: 2.5 ms apart.
    let at = |k: u64| k * 5 / 2;
    for (k, name) in names.iter().enumerate().take(WARM as usize) {
        let now = at(k as u64);
        miss_and_answer(&d, name.as_ref(), client, now);
    }
    let start = thread_cpu_ns();
    for k in WARM..WARM + n {
        let now = at(k);
        let q = black_box(names[(WARM + (k - WARM) % MADE) as usize].as_ref());
        black_box(miss_and_answer(&d, q, client, now));
    }
    thread_cpu_ns().saturating_sub(start) as f64 / n.max(1) as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [case, n] = args.as_slice() {
        let ns = run(case, n.parse().unwrap());
        println!("{case}: {ns:.1} ns CPU per call");
        return;
    }
    for (case, n) in [
        ("q17", 5_000_000),
        ("q17b", 5_000_000),
        ("q138", 1_000_000),
        ("q245", 1_000_000),
        ("q245r", 1_000_000),
        ("dom", 5_000_000),
        ("ans", 5_000_000),
        ("anom", 5_000_000),
        ("miss", 1_000_000),
        ("gated", 16_000),
    ] {
        println!("{case}: {:.1} ns CPU per call", run(case, n));
    }
}
