//! `portcullis ctl status`: a summary of the running server, one `key: value` per line so a
//! script can `grep '^cache_hit_ratio:'`. Keys repeat for lists (`zone:`, `upstream:`), and a
//! key always has a value (`off`, `none` or `0` rather than nothing).
//!
//! Everything comes from the [`Registry`] (the same sums `/metrics` reports) and from the
//! configuration the server started with; the queries per second over the last minute come
//! from [`QueryRate`], which a background task samples every [`RATE_TICK`].

use std::collections::VecDeque;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::{QType, Registry, Transport};

/// How often [`QueryRate`] is sampled.
pub const RATE_TICK: Duration = Duration::from_secs(5);

/// The window the query rate is measured over.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// The samples kept: one window's worth, and one more for its start.
const RATE_SAMPLES: usize = (RATE_WINDOW.as_secs() / RATE_TICK.as_secs()) as usize + 1;

/// Total queries, sampled every [`RATE_TICK`], at most a minute's worth.
#[derive(Debug, Default)]
pub struct QueryRate {
    samples: Mutex<VecDeque<(Instant, u64)>>,
}

impl QueryRate {
    /// Records `total` queries seen by `now`.
    pub fn sample(&self, now: Instant, total: u64) {
        let mut samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        if samples.len() >= RATE_SAMPLES {
            samples.pop_front();
        }
        samples.push_back((now, total));
    }

    /// Queries per second from the oldest sample (at most a minute old) to `total` at `now`;
    /// `None` before the first sample.
    pub fn per_second(&self, now: Instant, total: u64) -> Option<f64> {
        let samples = self.samples.lock().unwrap_or_else(PoisonError::into_inner);
        let &(then, before) = samples
            .iter()
            .find(|(t, _)| now.saturating_duration_since(*t) <= RATE_WINDOW + RATE_TICK)?;
        let secs = now.saturating_duration_since(then).as_secs_f64();
        (secs > 0.0).then(|| total.saturating_sub(before) as f64 / secs)
    }
}

/// Queries received on every transport, of every type.
pub fn total_queries(registry: &Registry) -> u64 {
    let totals = registry.totals();
    Transport::ALL
        .iter()
        .flat_map(|&t| QType::ALL.iter().map(move |&q| (t, q)))
        .fold(0u64, |a, (t, q)| a.wrapping_add(totals.queries(t, q)))
}

/// What the status needs besides the registry.
#[derive(Debug)]
pub struct StatusInput<'a> {
    /// `authoritative`, `resolver` or `authoritative+resolver`.
    pub role: &'static str,
    /// The listen addresses per transport label (`udp`, `tcp`, `dot`, `doh`, `doq`).
    pub listeners: [(&'static str, &'a [SocketAddr]); 5],
    /// The HTTP endpoint, when on.
    pub http: Option<SocketAddr>,
    /// The forward and stub targets (plain and encrypted), for their upstream health.
    pub forwards: &'a [SocketAddr],
    /// The tunnelling detector's mode (`off`, `log`, `alert`, `block`).
    pub detect_mode: &'static str,
    /// Queries per second over the last minute, when known.
    pub qps: Option<f64>,
}

/// The status text.
pub fn render(registry: &Registry, input: &StatusInput<'_>) -> String {
    let mut out = String::with_capacity(2048);
    let up = metrics::process::uptime(registry.start_time()).as_secs();
    line(&mut out, "version", env!("CARGO_PKG_VERSION"));
    line(&mut out, "uptime_seconds", up);
    line(&mut out, "role", input.role);
    match registry.readiness() {
        Ok(()) => line(&mut out, "ready", "yes"),
        Err(why) => line(&mut out, "ready", format_args!("no ({why})")),
    }
    for (label, addrs) in input.listeners {
        let key = format!("listen_{label}");
        if addrs.is_empty() {
            line(&mut out, &key, "off");
        } else {
            let list: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            line(&mut out, &key, list.join(" "));
        }
    }
    match input.http {
        Some(addr) => line(&mut out, "listen_http", addr),
        None => line(&mut out, "listen_http", "off"),
    }
    let zones = registry.zones();
    line(&mut out, "zones", zones.len());
    for z in &zones {
        line(
            &mut out,
            "zone",
            format_args!("{} serial {} records {}", z.origin, z.serial, z.records),
        );
    }
    let total = total_queries(registry);
    line(&mut out, "queries_total", total);
    match input.qps {
        Some(qps) => line(&mut out, "queries_per_second_1m", format_args!("{qps:.1}")),
        None => line(&mut out, "queries_per_second_1m", "unknown"),
    }
    let c = registry.cache();
    line(&mut out, "cache_entries", c.entries);
    line(&mut out, "cache_bytes", c.bytes);
    let asked = c.hits.saturating_add(c.misses);
    let ratio = if asked == 0 {
        0.0
    } else {
        c.hits as f64 / asked as f64
    };
    line(&mut out, "cache_hit_ratio", format_args!("{ratio:.3}"));
    let r = registry.resolver();
    let servers = registry.upstream_servers();
    for &addr in input.forwards {
        let f = servers.get(addr).copied().unwrap_or_default();
        let rtt = match f.last_rtt_ms {
            0 => "none".to_owned(),
            ms => format!("{ms}ms"),
        };
        line(
            &mut out,
            "upstream",
            format_args!(
                "{addr} last_rtt {rtt} queries {} timeouts {}",
                f.queries, f.timeouts
            ),
        );
    }
    line(&mut out, "upstream_servers_tracked", servers.servers.len());
    line(&mut out, "upstream_timeouts", r.upstream_timeouts);
    for (result, n) in metrics::VALIDATION_RESULTS.iter().zip(r.validation) {
        line(&mut out, &format!("dnssec_{result}"), n);
    }
    line(&mut out, "detect_mode", input.detect_mode);
    let d = registry.detect().unwrap_or_default();
    line(&mut out, "detect_verdicts_active", d.verdicts_active);
    let s = registry.security().unwrap_or_default();
    line(&mut out, "events_written", s.written);
    line(&mut out, "events_dropped", s.dropped);
    out
}

fn line(out: &mut String, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{key}: {value}");
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    #[test]
    fn rate_over_the_window() {
        let rate = QueryRate::default();
        let t0 = Instant::now();
        assert_eq!(rate.per_second(t0, 0), None);
        for i in 0..20u64 {
            rate.sample(t0 + RATE_TICK * i as u32, i * 500);
        }
        // 100 queries a second all along; only the last minute is kept.
        let now = t0 + RATE_TICK * 20;
        let qps = rate.per_second(now, 10_000).unwrap_or_default();
        assert!((qps - 100.0).abs() < 0.01, "{qps}");
        assert!(
            rate.samples
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
                <= RATE_SAMPLES
        );
    }

    #[test]
    fn every_line_is_a_key_and_a_value() {
        let registry = Registry::new(SystemTime::now());
        let forwards = ["192.0.2.1:53"
            .parse()
            .unwrap_or(SocketAddr::from(([0; 4], 0)))];
        let listen = [SocketAddr::from(([127, 0, 0, 1], 53))];
        let text = render(
            &registry,
            &StatusInput {
                role: "resolver",
                listeners: [
                    ("udp", &listen),
                    ("tcp", &listen),
                    ("dot", &[]),
                    ("doh", &[]),
                    ("doq", &[]),
                ],
                http: None,
                forwards: &forwards,
                detect_mode: "log",
                qps: None,
            },
        );
        for l in text.lines() {
            let (key, value) = l.split_once(": ").unwrap_or_default();
            assert!(!key.is_empty() && !value.is_empty(), "{l:?}");
            assert!(!key.contains(' '), "{l:?}");
        }
        assert!(text.contains("\nlisten_dot: off\n"), "{text}");
        assert!(text.contains("\nupstream: 192.0.2.1:53 last_rtt none queries 0 timeouts 0\n"));
        assert!(text.contains("\nready: yes\n"), "{text}");
    }
}
