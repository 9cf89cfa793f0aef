//! The exposition text, checked against expected text.

use std::time::{Duration, UNIX_EPOCH};

use metrics::{
    ClientLimited, DropReason, QType, RateLimited, Rcode, Registry, ReloadResult, Source,
    TcpReject, Transport, ZoneStats,
};

fn registry() -> Registry {
    Registry::new(UNIX_EPOCH + Duration::from_millis(1_700_000_000_250))
}

/// The lines of `text` from the `# HELP` of `family` up to the next family.
fn family<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
    let help = format!("# HELP {family} ");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&help));
    let mut out: Vec<&str> = lines.next().into_iter().collect();
    out.extend(lines.take_while(|l| !l.starts_with("# HELP ")));
    out
}

#[test]
fn empty_registry_renders_every_series_at_zero() {
    let text = registry().render();
    assert!(text.ends_with('\n'));
    assert_eq!(
        family(&text, "portcullis_connections_total"),
        [
            "# HELP portcullis_connections_total Connections accepted, by transport.",
            "# TYPE portcullis_connections_total counter",
            "portcullis_connections_total{transport=\"tcp\"} 0",
            "portcullis_connections_total{transport=\"dot\"} 0",
            "portcullis_connections_total{transport=\"doh\"} 0",
            "portcullis_connections_total{transport=\"doq\"} 0",
        ]
    );
    assert_eq!(
        family(&text, "portcullis_response_latency_seconds").len(),
        2 + Transport::COUNT * Source::COUNT * (metrics::LATENCY_BUCKETS + 3)
    );
    assert!(text.contains("\nportcullis_build_info{version=\""));
    assert!(text.contains("\nportcullis_ready 1\n"));
    assert_eq!(
        family(&text, "portcullis_queries_total").len(),
        2 + Transport::COUNT * QType::COUNT
    );
    assert_eq!(
        family(&text, "portcullis_responses_total").len(),
        2 + Transport::COUNT * Rcode::COUNT
    );
    assert_eq!(
        family(&text, "portcullis_zone_serial"),
        [
            "# HELP portcullis_zone_serial SOA serial of each zone served.",
            "# TYPE portcullis_zone_serial gauge",
        ]
    );
    assert_eq!(
        family(&text, "process_start_time_seconds"),
        [
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.",
            "# TYPE process_start_time_seconds gauge",
            "process_start_time_seconds 1700000000.25",
        ]
    );
}

#[test]
fn counters_with_labels() {
    let reg = registry();
    let mut w = reg.worker();
    w.count_query(Transport::Udp, QType::A);
    w.count_query(Transport::Udp, QType::A);
    w.count_query(Transport::Tcp, QType::from_code(99));
    w.count_response(Transport::Udp, Rcode::NxDomain);
    w.count_truncated(Transport::Udp);
    w.count_malformed(Transport::Doh);
    w.count_dropped(Transport::Udp, DropReason::RateLimit);
    w.count_rate_limited(RateLimited::Slip);
    w.count_rate_limited(RateLimited::Slip);
    w.count_client_limited(ClientLimited::BlockRefuse);
    w.count_dynamic_block();
    w.connection_opened(Transport::Dot);
    w.connection_opened(Transport::Dot);
    w.connection_closed(Transport::Dot);
    w.connection_opened(Transport::Doq);
    w.connection_rejected(Transport::Tcp, TcpReject::ClientLimit);
    reg.count_reload(ReloadResult::Success);
    reg.count_reload(ReloadResult::Failure);
    reg.count_reload(ReloadResult::Success);
    assert!(!reg.render().contains("portcullis_dynamic_blocks_active"));
    reg.set_dynamic_blocks_source(Box::new(|| 3));
    let text = reg.render();

    for line in [
        "portcullis_queries_total{transport=\"udp\",qtype=\"A\"} 2",
        "portcullis_queries_total{transport=\"udp\",qtype=\"AAAA\"} 0",
        "portcullis_queries_total{transport=\"tcp\",qtype=\"other\"} 1",
        "portcullis_responses_total{transport=\"udp\",rcode=\"NXDOMAIN\"} 1",
        "portcullis_truncated_total{transport=\"udp\"} 1",
        "portcullis_malformed_total{transport=\"doh\"} 1",
        "portcullis_dropped_total{transport=\"udp\",reason=\"rate_limit\"} 1",
        "portcullis_dropped_total{transport=\"udp\",reason=\"acl\"} 0",
        "portcullis_rate_limited_total{decision=\"slip\"} 2",
        "portcullis_rate_limited_total{decision=\"drop\"} 0",
        "portcullis_client_limited_total{action=\"block_refuse\"} 1",
        "portcullis_client_limited_total{action=\"rate_drop\"} 0",
        "portcullis_dynamic_blocks_total 1",
        "portcullis_dynamic_blocks_active 3",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert_eq!(
        family(&text, "portcullis_connections_open")[2..],
        [
            "portcullis_connections_open{transport=\"tcp\"} 0",
            "portcullis_connections_open{transport=\"dot\"} 1",
            "portcullis_connections_open{transport=\"doh\"} 0",
            "portcullis_connections_open{transport=\"doq\"} 1",
        ]
    );
    assert_eq!(
        family(&text, "portcullis_connections_rejected_total")[2..6],
        [
            "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"total_limit\"} 0",
            "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"client_limit\"} 1",
            "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"acl\"} 0",
            "portcullis_connections_rejected_total{transport=\"tcp\",reason=\"tls_handshake\"} 0",
        ]
    );
    assert_eq!(
        family(&text, "portcullis_reloads_total")[2..],
        [
            "portcullis_reloads_total{result=\"success\"} 2",
            "portcullis_reloads_total{result=\"failure\"} 1",
        ]
    );
}

#[test]
fn histogram_is_cumulative_with_sum_and_count() {
    let reg = registry();
    let mut w = reg.worker();
    w.observe_latency(Transport::Tcp, Source::Cache, Duration::from_micros(5));
    w.observe_latency(Transport::Tcp, Source::Cache, Duration::from_micros(15));
    w.observe_latency(Transport::Tcp, Source::Cache, Duration::from_micros(15));
    w.observe_latency(Transport::Tcp, Source::Cache, Duration::from_millis(700));
    w.observe_latency(Transport::Tcp, Source::Cache, Duration::from_secs(3));
    let text = reg.render();
    let tcp: Vec<&str> = family(&text, "portcullis_response_latency_seconds")
        .into_iter()
        .filter(|l| l.contains("transport=\"tcp\",source=\"cache\""))
        .collect();
    let expected = [
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00001"} 1"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00002"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00004"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00008"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00016"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00032"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00064"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00128"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00256"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.00512"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.01024"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.02048"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.04096"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.08192"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.16384"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.32768"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="0.65536"} 3"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="1.31072"} 4"#,
        r#"portcullis_response_latency_seconds_bucket{transport="tcp",source="cache",le="+Inf"} 5"#,
        r#"portcullis_response_latency_seconds_sum{transport="tcp",source="cache"} 3.700035"#,
        r#"portcullis_response_latency_seconds_count{transport="tcp",source="cache"} 5"#,
    ];
    assert_eq!(tcp, expected);
    let head = family(&text, "portcullis_response_latency_seconds");
    assert_eq!(
        head[1],
        "# TYPE portcullis_response_latency_seconds histogram"
    );
    assert!(head.contains(
        &r#"portcullis_response_latency_seconds_bucket{transport="udp",source="zone",le="+Inf"} 0"#
    ));
}

#[test]
fn zone_gauges_escape_label_values_and_replace_the_set() {
    let reg = registry();
    reg.set_zones([
        ZoneStats {
            origin: "example.com.".into(),
            serial: 2024010101,
            records: 42,
            ..ZoneStats::default()
        },
        ZoneStats {
            origin: "we\\\"ird\n.".into(),
            serial: 7,
            records: 3,
            ..ZoneStats::default()
        },
    ]);
    let text = reg.render();
    assert_eq!(
        family(&text, "portcullis_zone_serial")[2..],
        [
            r#"portcullis_zone_serial{zone="example.com."} 2024010101"#,
            r#"portcullis_zone_serial{zone="we\\\"ird\n."} 7"#,
        ]
    );
    assert_eq!(
        family(&text, "portcullis_zone_records")[2..],
        [
            r#"portcullis_zone_records{zone="example.com."} 42"#,
            r#"portcullis_zone_records{zone="we\\\"ird\n."} 3"#,
        ]
    );
    assert_eq!(
        family(&text, "portcullis_zones_loaded")[2],
        "portcullis_zones_loaded 2"
    );

    reg.set_zones([ZoneStats {
        origin: "example.org.".into(),
        serial: 1,
        records: 5,
        ..ZoneStats::default()
    }]);
    let text = reg.render();
    assert_eq!(
        family(&text, "portcullis_zone_serial")[2..],
        [r#"portcullis_zone_serial{zone="example.org."} 1"#]
    );
    assert_eq!(
        family(&text, "portcullis_zones_loaded")[2],
        "portcullis_zones_loaded 1"
    );
}

#[test]
fn families_in_order_each_with_help_and_type() {
    let text = registry().render();
    let types: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    assert_eq!(
        types,
        [
            "portcullis_queries_total counter",
            "portcullis_responses_total counter",
            "portcullis_response_latency_seconds histogram",
            "portcullis_truncated_total counter",
            "portcullis_malformed_total counter",
            "portcullis_dropped_total counter",
            "portcullis_rate_limited_total counter",
            "portcullis_client_limited_total counter",
            "portcullis_dynamic_blocks_total counter",
            "portcullis_connections_total counter",
            "portcullis_connections_open gauge",
            "portcullis_connections_rejected_total counter",
            "portcullis_zone_serial gauge",
            "portcullis_zone_records gauge",
            "portcullis_zones_loaded gauge",
            "portcullis_zone_load_seconds gauge",
            "portcullis_zone_last_load_timestamp_seconds gauge",
            "portcullis_zone_sign_seconds gauge",
            "portcullis_zone_last_sign_timestamp_seconds gauge",
            "portcullis_reloads_total counter",
            "process_start_time_seconds gauge",
            "portcullis_uptime_seconds gauge",
            "process_resident_memory_bytes gauge",
            "portcullis_build_info gauge",
            "portcullis_ready gauge",
            "portcullis_upstream_queries_total counter",
            "portcullis_upstream_responses_accepted_total counter",
            "portcullis_upstream_responses_rejected_total counter",
            "portcullis_upstream_timeouts_total counter",
            "portcullis_upstream_failures_total counter",
            "portcullis_upstream_encrypted_failures_total counter",
            "portcullis_upstream_fallbacks_total counter",
            "portcullis_resolver_limits_total counter",
            "portcullis_resolutions_total counter",
            "portcullis_recursion_results_total counter",
            "portcullis_prefetches_total counter",
            "portcullis_resolutions_in_flight gauge",
            "portcullis_dnssec_validations_total counter",
            "portcullis_root_primings_total counter",
            "portcullis_dnssec_signature_checks_total counter",
            "portcullis_dnssec_validation_seconds_total counter",
            "portcullis_cache_hits_total counter",
            "portcullis_cache_misses_total counter",
            "portcullis_cache_inserts_total counter",
            "portcullis_cache_evictions_total counter",
            "portcullis_cache_expired_total counter",
            "portcullis_cache_stale_answers_total counter",
            "portcullis_cache_entries gauge",
            "portcullis_cache_bytes gauge",
            "portcullis_cache_max_bytes gauge",
            "portcullis_upstream_server_queries_total counter",
            "portcullis_upstream_server_timeouts_total counter",
            "portcullis_upstream_rtt_seconds histogram"
        ]
    );
    assert_eq!(
        text.lines().filter(|l| l.starts_with("# HELP ")).count(),
        types.len()
    );
}

#[test]
fn dropped_worker_counts_are_kept() {
    let reg = registry();
    {
        let mut w = reg.worker();
        w.count_query(Transport::Dot, QType::Mx);
    }
    let mut w = reg.worker();
    w.count_query(Transport::Dot, QType::Mx);
    assert_eq!(reg.totals().queries(Transport::Dot, QType::Mx), 2);
}
