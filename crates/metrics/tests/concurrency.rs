//! Several workers counting at once: after they are joined, the scrape sums are exact.

use std::sync::Arc;
use std::thread;
use std::time::SystemTime;

use metrics::{QType, Rcode, Registry, Transport};

#[test]
fn sums_are_exact_after_join() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 100_000;
    let reg = Arc::new(Registry::new(SystemTime::now()));
    let scraper = {
        let reg = reg.clone();
        // Scrapes while the workers count: must not disturb them, and never go down.
        thread::spawn(move || {
            let mut last = 0;
            for _ in 0..50 {
                let now = reg.totals().queries(Transport::Udp, QType::A);
                assert!(now >= last);
                last = now;
                let _ = reg.render();
                thread::yield_now();
            }
        })
    };
    let workers: Vec<_> = (0..THREADS)
        .map(|n| {
            let mut w = reg.worker();
            thread::spawn(move || {
                for i in 0..PER_THREAD {
                    w.count_query(Transport::Udp, QType::A);
                    w.count_response(Transport::Udp, Rcode::NoError);
                    w.observe_latency_ns(Transport::Udp, metrics::Source::Zone, 1_000 * (i % 3));
                    if n % 2 == 0 {
                        w.connection_opened(Transport::Tcp);
                        w.connection_closed(Transport::Tcp);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    scraper.join().unwrap();

    let totals = reg.totals();
    let n = THREADS * PER_THREAD;
    assert_eq!(totals.queries(Transport::Udp, QType::A), n);
    assert_eq!(totals.responses(Transport::Udp, Rcode::NoError), n);
    assert_eq!(
        totals.latency_count(Transport::Udp, metrics::Source::Zone),
        n
    );
    assert_eq!(
        totals.latency_bucket(Transport::Udp, metrics::Source::Zone, 0),
        n
    );
    // Per thread: 0, 1000, 2000 ns repeating over 100_000 observations.
    let per_thread_sum: u64 = (0..PER_THREAD).map(|i| 1_000 * (i % 3)).sum();
    assert_eq!(
        totals.latency_sum_ns(Transport::Udp, metrics::Source::Zone),
        THREADS * per_thread_sum
    );
    assert_eq!(totals.connections(Transport::Tcp), THREADS / 2 * PER_THREAD);
    assert_eq!(totals.connections_open(Transport::Tcp), 0);
    assert_eq!(totals.queries(Transport::Tcp, QType::A), 0);
    let text = reg.render();
    assert!(text.contains(&format!(
        "portcullis_queries_total{{transport=\"udp\",qtype=\"A\"}} {n}\n"
    )));
}
