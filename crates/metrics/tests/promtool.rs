//! `promtool check metrics` accepts what the registry renders.
//! Needs `promtool` (Debian package `prometheus`; `scripts/test.sh` installs it).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use metrics::{
    CacheFigures, DropReason, Limit, QType, Rcode, RecursionResult, Registry, ReloadResult,
    ResolverFigures, ServerSample, Source, TcpReject, Transport, UpstreamReject, ZoneStats,
};

#[test]
fn promtool_accepts_the_exposition() {
    let reg = Registry::new(SystemTime::now());
    let mut w = reg.worker();
    for (i, t) in Transport::ALL.into_iter().enumerate() {
        for q in QType::ALL {
            w.count_query(t, q);
        }
        for r in Rcode::ALL {
            w.count_response(t, r);
        }
        for d in DropReason::ALL {
            w.count_dropped(t, d);
        }
        w.count_truncated(t);
        w.count_malformed(t);
        for s in Source::ALL {
            w.observe_latency(t, s, Duration::from_micros(37 * (i as u64 + 1)));
        }
        w.observe_latency(t, Source::Zone, Duration::from_secs(2));
        w.connection_opened(t);
        w.connection_rejected(t, TcpReject::TotalLimit);
    }
    reg.count_reload(ReloadResult::Success);
    reg.set_zones([
        ZoneStats {
            origin: "example.test.".into(),
            serial: 2024010101,
            records: 12,
            load_ns: 1_500_000,
            loaded_at: 1_700_000_000,
            sign_ns: Some(25_000_000),
            signed_at: 1_700_000_001,
        },
        ZoneStats {
            origin: "quote\"d.test.".into(),
            serial: 1,
            records: 2,
            ..ZoneStats::default()
        },
    ]);
    let slot = reg.resolver_slot();
    let mut figures = ResolverFigures {
        upstream_queries: [5, 1, 2, 0, 0],
        protocol_failures: [0, 0, 1, 0, 0],
        upstream_accepted: 5,
        in_flight: 2,
        ..ResolverFigures::default()
    };
    figures.upstream_rejected[UpstreamReject::WrongId as usize] = 3;
    figures.limits[Limit::DependencyDepth as usize] = 1;
    figures.results[RecursionResult::Stale as usize] = 1;
    slot.publish(&figures);
    slot.record_servers([
        ("192.0.2.1:53".parse().unwrap(), ServerSample::Sent),
        (
            "192.0.2.1:53".parse().unwrap(),
            ServerSample::Answered { rtt_ms: 12 },
        ),
        ("[2001:db8::1]:853".parse().unwrap(), ServerSample::TimedOut),
    ]);
    reg.resolver_slot().publish(&figures);
    reg.set_cache_source(Box::new(|| CacheFigures {
        entries: 10,
        bytes: 4096,
        max_bytes: 1 << 26,
        hits: 7,
        misses: 3,
        ..CacheFigures::default()
    }));
    let text = reg.render();
    assert!(text.contains("portcullis_upstream_responses_rejected_total{reason=\"wrong_id\"} 6\n"));
    assert!(text.contains("portcullis_cache_hits_total 7\n"));
    assert!(text.contains(
        "portcullis_upstream_rtt_seconds_bucket{server=\"192.0.2.1:53\",le=\"0.025\"} 1\n"
    ));
    assert!(text.contains("portcullis_zone_sign_seconds{zone=\"example.test.\"} 0.025\n"));
    assert!(text.contains("portcullis_resolutions_in_flight 4\n"));

    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run promtool ({e}): install the Debian package `prometheus` \
             (apt-get install prometheus), as scripts/test.sh does"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool check metrics failed ({}):\n{stdout}{stderr}\n--- input ---\n{text}",
        output.status
    );
}
