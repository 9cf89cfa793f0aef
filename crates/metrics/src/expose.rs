//! The Prometheus text exposition format, version 0.0.4: [`Registry::render`].
//!
//! Each family is a `# HELP` line, a `# TYPE` line and its samples; label values are escaped
//! (`\\`, `\"`, `\n`), and so is help text (`\\`, `\n`). A histogram is exposed as cumulative
//! `_bucket{le="..."}` samples ending with `le="+Inf"`, then `_sum` and `_count`. Every series
//! of the fixed label sets is written, zeros included, so none appears out of nowhere.
//! Reference: <https://prometheus.io/docs/instrumenting/exposition_formats/>.

use std::fmt::Write;

use crate::labels::{
    ClientLimited, DropReason, QType, RateLimited, Rcode, ReloadResult, Source, TcpReject,
    Transport,
};
use crate::registry::{Registry, Totals};
use crate::resolver::{
    Limit, RTT_BOUNDS_MS, RecursionResult, ServerFigures, UpstreamProtocol, UpstreamReject,
    VALIDATION_RESULTS,
};
use crate::worker::{LATENCY_BUCKETS, latency_bound_ns};

/// The `Content-Type` of [`Registry::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Registry {
    /// Renders every metric in the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let totals = self.totals();
        let mut out = Out(String::with_capacity(32 * 1024));
        render_traffic(&mut out, &totals);
        render_connections(&mut out, &totals);
        render_state(&mut out, self, &totals);
        render_resolver(&mut out, self, &totals);
        render_upstream_servers(&mut out, self);
        render_security(&mut out, self);
        render_detect(&mut out, self);
        if let Some(active) = self.dynamic_blocks_active() {
            out.family(
                "portcullis_dynamic_blocks_active",
                "gauge",
                "Dynamic blocks in force ([[limits.rule]]).",
            );
            out.sample("portcullis_dynamic_blocks_active", &[], active);
        }
        out.0
    }
}

fn render_traffic(out: &mut Out, totals: &Totals) {
    out.family(
        "portcullis_queries_total",
        "counter",
        "Queries received, by transport and query type.",
    );
    for t in Transport::ALL {
        for q in QType::ALL {
            out.sample(
                "portcullis_queries_total",
                &[("transport", t.label()), ("qtype", q.label())],
                totals.queries(t, q),
            );
        }
    }

    out.family(
        "portcullis_responses_total",
        "counter",
        "Responses sent, by transport and response code.",
    );
    for t in Transport::ALL {
        for r in Rcode::ALL {
            out.sample(
                "portcullis_responses_total",
                &[("transport", t.label()), ("rcode", r.label())],
                totals.responses(t, r),
            );
        }
    }

    let name = "portcullis_response_latency_seconds";
    out.family(
        name,
        "histogram",
        "Time from receiving a query to handing its response to the transport, by transport and answer source.",
    );
    let bucket = format!("{name}_bucket");
    let les: Vec<String> = (0..LATENCY_BUCKETS)
        .map(|i| seconds(latency_bound_ns(i)))
        .collect();
    for t in Transport::ALL {
        for s in Source::ALL {
            let labels = [("transport", t.label()), ("source", s.label())];
            let mut cumulative = 0u64;
            for (i, le) in les.iter().enumerate() {
                cumulative = cumulative.wrapping_add(totals.latency_bucket(t, s, i));
                out.sample(&bucket, &[labels[0], labels[1], ("le", le)], cumulative);
            }
            let count = totals.latency_count(t, s);
            out.sample(&bucket, &[labels[0], labels[1], ("le", "+Inf")], count);
            out.sample_text(
                &format!("{name}_sum"),
                &labels,
                &seconds(totals.latency_sum_ns(t, s)),
            );
            out.sample(&format!("{name}_count"), &labels, count);
        }
    }

    out.family(
        "portcullis_truncated_total",
        "counter",
        "Responses sent with the TC bit set because they did not fit.",
    );
    for t in Transport::ALL {
        out.sample(
            "portcullis_truncated_total",
            &[("transport", t.label())],
            totals.truncated(t),
        );
    }

    out.family(
        "portcullis_malformed_total",
        "counter",
        "Messages received that could not be parsed as a query.",
    );
    for t in Transport::ALL {
        out.sample(
            "portcullis_malformed_total",
            &[("transport", t.label())],
            totals.malformed(t),
        );
    }

    out.family(
        "portcullis_dropped_total",
        "counter",
        "Queries dropped without a response, by transport and reason.",
    );
    for t in Transport::ALL {
        for d in DropReason::ALL {
            out.sample(
                "portcullis_dropped_total",
                &[("transport", t.label()), ("reason", d.label())],
                totals.dropped(t, d),
            );
        }
    }

    out.family(
        "portcullis_rate_limited_total",
        "counter",
        "UDP responses over their rate limit ([rrl]), by what was done with them.",
    );
    for d in RateLimited::ALL {
        out.sample(
            "portcullis_rate_limited_total",
            &[("decision", d.label())],
            totals.rate_limited(d),
        );
    }

    out.family(
        "portcullis_client_limited_total",
        "counter",
        "Queries acted on by client limits ([limits]): a dynamic block or the query rate.",
    );
    for a in ClientLimited::ALL {
        out.sample(
            "portcullis_client_limited_total",
            &[("action", a.label())],
            totals.client_limited(a),
        );
    }
    out.family(
        "portcullis_dynamic_blocks_total",
        "counter",
        "Dynamic blocks started ([[limits.rule]]).",
    );
    out.sample(
        "portcullis_dynamic_blocks_total",
        &[],
        totals.dynamic_blocks(),
    );
}

/// The connection-oriented transports: UDP has no connections.
const STREAMS: [Transport; 4] = [
    Transport::Tcp,
    Transport::Dot,
    Transport::Doh,
    Transport::Doq,
];

fn render_connections(out: &mut Out, totals: &Totals) {
    let name = "portcullis_connections_total";
    out.family(name, "counter", "Connections accepted, by transport.");
    for t in STREAMS {
        out.sample(name, &[("transport", t.label())], totals.connections(t));
    }
    let name = "portcullis_connections_open";
    out.family(name, "gauge", "Connections open now, by transport.");
    for t in STREAMS {
        out.sample(
            name,
            &[("transport", t.label())],
            totals.connections_open(t),
        );
    }
    let name = "portcullis_connections_rejected_total";
    out.family(
        name,
        "counter",
        "Connections refused at accept time or at their handshake, by transport and reason.",
    );
    for t in STREAMS {
        for r in TcpReject::ALL {
            out.sample(
                name,
                &[("transport", t.label()), ("reason", r.label())],
                totals.connections_rejected(t, r),
            );
        }
    }
}

fn render_state(out: &mut Out, registry: &Registry, totals: &Totals) {
    let zones = registry.zones();
    out.family(
        "portcullis_zone_serial",
        "gauge",
        "SOA serial of each zone served.",
    );
    for z in &zones {
        out.sample(
            "portcullis_zone_serial",
            &[("zone", &z.origin)],
            u64::from(z.serial),
        );
    }
    out.family(
        "portcullis_zone_records",
        "gauge",
        "Records in each zone served.",
    );
    for z in &zones {
        out.sample("portcullis_zone_records", &[("zone", &z.origin)], z.records);
    }
    out.family("portcullis_zones_loaded", "gauge", "Zones served.");
    out.sample("portcullis_zones_loaded", &[], zones.len() as u64);
    let name = "portcullis_zone_load_seconds";
    out.family(
        name,
        "gauge",
        "How long the last load (read and parse) of each zone took.",
    );
    for z in &zones {
        out.sample_text(name, &[("zone", &z.origin)], &seconds(z.load_ns));
    }
    let name = "portcullis_zone_last_load_timestamp_seconds";
    out.family(
        name,
        "gauge",
        "When each zone was last loaded, since the Unix epoch.",
    );
    for z in &zones {
        out.sample(name, &[("zone", &z.origin)], z.loaded_at);
    }
    let name = "portcullis_zone_sign_seconds";
    out.family(
        name,
        "gauge",
        "How long the last signing of each zone the server signs took.",
    );
    for z in &zones {
        if let Some(ns) = z.sign_ns {
            out.sample_text(name, &[("zone", &z.origin)], &seconds(ns));
        }
    }
    let name = "portcullis_zone_last_sign_timestamp_seconds";
    out.family(
        name,
        "gauge",
        "When each zone the server signs was last signed, since the Unix epoch.",
    );
    for z in &zones {
        if z.sign_ns.is_some() {
            out.sample(name, &[("zone", &z.origin)], z.signed_at);
        }
    }

    out.family(
        "portcullis_reloads_total",
        "counter",
        "Configuration and zone reloads, by result.",
    );
    for r in ReloadResult::ALL {
        out.sample(
            "portcullis_reloads_total",
            &[("result", r.label())],
            totals.reloads(r),
        );
    }

    out.family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch, in seconds.",
    );
    let start = registry.start_time();
    let start_ns = start
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(start.subsec_nanos()));
    out.sample_text("process_start_time_seconds", &[], &seconds(start_ns));
    let name = "portcullis_uptime_seconds";
    out.family(name, "gauge", "Time since the process started.");
    let up = crate::process::uptime(start);
    let up_ns = up
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(up.subsec_nanos()));
    out.sample_text(name, &[], &seconds(up_ns / 1_000_000 * 1_000_000));
    if let Some(bytes) = crate::process::resident_bytes() {
        let name = "process_resident_memory_bytes";
        out.family(name, "gauge", "Resident memory size in bytes.");
        out.sample(name, &[], bytes);
    }
    let name = "portcullis_build_info";
    out.family(
        name,
        "gauge",
        "Always 1; the labels say which build of Portcullis is running.",
    );
    out.sample(name, &[("version", env!("CARGO_PKG_VERSION"))], 1);
    let name = "portcullis_ready";
    out.family(
        name,
        "gauge",
        "1 when the server is ready to take traffic (what /readyz answers 200 to), else 0.",
    );
    out.sample(name, &[], u64::from(registry.readiness().is_ok()));
}

fn render_security(out: &mut Out, registry: &Registry) {
    let Some(s) = registry.security() else { return };
    let name = "portcullis_security_events_total";
    out.family(
        name,
        "counter",
        "Policy actions taken (each one a security event), by action.",
    );
    for (action, count) in &s.actions {
        out.sample(name, &[("action", action)], *count);
    }
    let name = "portcullis_security_events_written_total";
    out.family(
        name,
        "counter",
        "Security events written to the event sinks.",
    );
    out.sample(name, &[], s.written);
    let name = "portcullis_security_events_dropped_total";
    out.family(
        name,
        "counter",
        "Security events lost: the writer's queue was full or a sink refused them.",
    );
    out.sample(name, &[], s.dropped);
    let name = "portcullis_security_events_suppressed_total";
    out.family(
        name,
        "counter",
        "Security events not written because their action was over its per-second cap.",
    );
    out.sample(name, &[], s.suppressed);
    for (name, help, value) in [
        (
            "portcullis_query_log_written_total",
            "Query log lines written.",
            s.query_log_written,
        ),
        (
            "portcullis_query_log_dropped_total",
            "Query log records lost: the writer's queue was full or the file refused them.",
            s.query_log_dropped,
        ),
        (
            "portcullis_query_log_suppressed_total",
            "Query log records not written because of the per-second cap (query_log.rate).",
            s.query_log_suppressed,
        ),
        (
            "portcullis_dnstap_written_total",
            "dnstap frames written.",
            s.dnstap_written,
        ),
        (
            "portcullis_dnstap_dropped_total",
            "dnstap messages lost: the writer's queue was full or no reader was connected.",
            s.dnstap_dropped,
        ),
    ] {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
}

fn render_detect(out: &mut Out, registry: &Registry) {
    let Some(d) = registry.detect() else { return };
    let name = "portcullis_detect_queries_scored_total";
    out.family(
        name,
        "counter",
        "Cache misses scored by the tunnelling detector's query model.",
    );
    out.sample(name, &[], d.scored);
    let name = "portcullis_detect_alerts_total";
    out.family(
        name,
        "counter",
        "Alerts of the detector, by kind (tunnel, anomaly) and the mode it ran in.",
    );
    for (kind, mode, count) in &d.alerts {
        out.sample(name, &[("kind", kind), ("mode", mode)], *count);
    }
    let name = "portcullis_detect_enforced_total";
    out.family(
        name,
        "counter",
        "Answers that enforced a detector verdict instead of resolving, by action.",
    );
    for (action, count) in &d.enforced {
        out.sample(name, &[("action", action)], *count);
    }
    let name = "portcullis_detect_domains_tracked";
    out.family(name, "gauge", "Registered domains the detector tracks now.");
    out.sample(name, &[], d.domains_tracked);
    let name = "portcullis_detect_verdicts_active";
    out.family(name, "gauge", "Detector verdicts standing now.");
    out.sample(name, &[], d.verdicts_active);
    let name = "portcullis_detect_allowed_total";
    out.family(
        name,
        "counter",
        "Domains the operator allowed again (ctl allow-domain).",
    );
    out.sample(name, &[], d.allowed);
}

fn render_resolver(out: &mut Out, registry: &Registry, totals: &Totals) {
    let r = registry.resolver();
    let name = "portcullis_upstream_queries_total";
    out.family(
        name,
        "counter",
        "Queries sent to upstream servers, by protocol.",
    );
    for p in UpstreamProtocol::ALL {
        out.sample(
            name,
            &[("protocol", p.label())],
            r.upstream_queries[p as usize],
        );
    }
    let name = "portcullis_upstream_responses_accepted_total";
    out.family(name, "counter", "Upstream responses accepted.");
    out.sample(name, &[], r.upstream_accepted);
    let name = "portcullis_upstream_responses_rejected_total";
    out.family(
        name,
        "counter",
        "Upstream responses rejected as not matching their query (possible spoofing), by reason.",
    );
    for reason in UpstreamReject::ALL {
        out.sample(
            name,
            &[("reason", reason.label())],
            r.upstream_rejected[reason as usize],
        );
    }
    let simple = [
        (
            "portcullis_upstream_timeouts_total",
            "Upstream queries that timed out.",
            r.upstream_timeouts,
        ),
        (
            "portcullis_upstream_failures_total",
            "Upstream queries that could not be sent, or whose connection failed.",
            r.upstream_failures,
        ),
    ];
    for (name, help, value) in simple {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
    let name = "portcullis_upstream_encrypted_failures_total";
    out.family(
        name,
        "counter",
        "Queries to encrypted upstreams whose connection or exchange failed, by protocol.",
    );
    for p in UpstreamProtocol::ENCRYPTED {
        out.sample(
            name,
            &[("protocol", p.label())],
            r.protocol_failures[p as usize],
        );
    }
    let name = "portcullis_upstream_fallbacks_total";
    out.family(
        name,
        "counter",
        "Upstream queries retried another way, by kind: over TCP after truncation, without EDNS, without 0x20.",
    );
    for (kind, value) in [
        ("tcp", r.tcp_fallbacks),
        ("edns", r.edns_fallbacks),
        ("case", r.case_fallbacks),
    ] {
        out.sample(name, &[("kind", kind)], value);
    }
    let name = "portcullis_resolver_limits_total";
    out.family(
        name,
        "counter",
        "Client questions stopped by a resolver limit (answered SERVFAIL), by limit.",
    );
    for l in Limit::ALL {
        out.sample(name, &[("limit", l.label())], r.limits[l as usize]);
    }
    let name = "portcullis_resolutions_total";
    out.family(
        name,
        "counter",
        "Client questions handed to the resolver, by whether they started a resolution or joined one in flight.",
    );
    out.sample(name, &[("kind", "started")], r.resolutions_started);
    out.sample(name, &[("kind", "joined")], r.resolutions_joined);
    let name = "portcullis_recursion_results_total";
    out.family(
        name,
        "counter",
        "Client questions answered by the resolver, by result.",
    );
    for res in RecursionResult::ALL {
        out.sample(name, &[("result", res.label())], r.results[res as usize]);
    }
    let name = "portcullis_prefetches_total";
    out.family(
        name,
        "counter",
        "Cache entries refreshed before they expired.",
    );
    out.sample(name, &[], r.prefetches);
    let name = "portcullis_resolutions_in_flight";
    out.family(
        name,
        "gauge",
        "Resolutions waiting for upstream answers now.",
    );
    out.sample(name, &[], r.in_flight);
    let name = "portcullis_dnssec_validations_total";
    out.family(
        name,
        "counter",
        "Answers judged by DNSSEC validation, by result (bogus ones are answered SERVFAIL).",
    );
    for (result, value) in VALIDATION_RESULTS.iter().zip(r.validation) {
        out.sample(name, &[("result", result)], value);
    }
    let name = "portcullis_root_primings_total";
    out.family(
        name,
        "counter",
        "Root primings (RFC 8109) that succeeded: /readyz waits for the first.",
    );
    out.sample(name, &[], r.primed);
    let name = "portcullis_dnssec_signature_checks_total";
    out.family(
        name,
        "counter",
        "RRSIG verifications made by the validator.",
    );
    out.sample(name, &[], r.signature_checks);
    let name = "portcullis_dnssec_validation_seconds_total";
    out.family(
        name,
        "counter",
        "Time the validator spent checking signatures and denial proofs.",
    );
    out.sample_text(name, &[], &seconds(r.validation_nanos));

    let c = registry.cache();
    let counters = [
        (
            "portcullis_cache_hits_total",
            "Client questions answered from the cache.",
            c.hits,
        ),
        (
            "portcullis_cache_misses_total",
            "Client questions the cache could not answer.",
            c.misses,
        ),
        (
            "portcullis_cache_inserts_total",
            "Entries stored in the cache.",
            c.inserts,
        ),
        (
            "portcullis_cache_evictions_total",
            "Cache entries evicted to stay within the memory budget.",
            c.evictions,
        ),
        (
            "portcullis_cache_expired_total",
            "Cache entries removed because they expired.",
            c.expired,
        ),
        (
            "portcullis_cache_stale_answers_total",
            "Responses answered from expired cache data (serve-stale, RFC 8767).",
            totals.answers(Source::Stale),
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], value);
    }
    let gauges = [
        (
            "portcullis_cache_entries",
            "Entries in the cache.",
            c.entries,
        ),
        (
            "portcullis_cache_bytes",
            "Bytes of memory accounted to cache entries.",
            c.bytes,
        ),
        (
            "portcullis_cache_max_bytes",
            "The cache's memory budget in bytes.",
            c.max_bytes,
        ),
    ];
    for (name, help, value) in gauges {
        out.family(name, "gauge", help);
        out.sample(name, &[], value);
    }
}

fn render_upstream_servers(out: &mut Out, registry: &Registry) {
    let table = registry.upstream_servers();
    let rows: Vec<(String, &ServerFigures)> = table
        .servers
        .iter()
        .map(|(addr, f)| (addr.to_string(), f))
        .chain(std::iter::once(("other".to_owned(), &table.other)))
        .collect();
    let name = "portcullis_upstream_server_queries_total";
    out.family(
        name,
        "counter",
        "Queries sent to each upstream server (the first 256 met; the rest as server=\"other\").",
    );
    for (server, f) in &rows {
        out.sample(name, &[("server", server)], f.queries);
    }
    let name = "portcullis_upstream_server_timeouts_total";
    out.family(
        name,
        "counter",
        "Queries to each upstream server that timed out or whose connection failed.",
    );
    for (server, f) in &rows {
        out.sample(name, &[("server", server)], f.timeouts);
    }
    let name = "portcullis_upstream_rtt_seconds";
    out.family(
        name,
        "histogram",
        "Round-trip time of the answers accepted from each upstream server.",
    );
    let bucket = format!("{name}_bucket");
    let les: Vec<String> = RTT_BOUNDS_MS
        .iter()
        .map(|ms| seconds(ms * 1_000_000))
        .collect();
    for (server, f) in &rows {
        let mut cumulative = 0u64;
        for (le, n) in les.iter().zip(f.rtt) {
            cumulative = cumulative.wrapping_add(n);
            out.sample(&bucket, &[("server", server), ("le", le)], cumulative);
        }
        out.sample(&bucket, &[("server", server), ("le", "+Inf")], f.answers());
        out.sample_text(
            &format!("{name}_sum"),
            &[("server", server)],
            &seconds(f.rtt_sum_ms.saturating_mul(1_000_000)),
        );
        out.sample(&format!("{name}_count"), &[("server", server)], f.answers());
    }
}

// ---------------------------------------------------------------------------------------------
// Text helpers
// ---------------------------------------------------------------------------------------------

struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.0.push_str("# HELP ");
        self.0.push_str(name);
        self.0.push(' ');
        escape(&mut self.0, help, false);
        self.0.push_str("\n# TYPE ");
        self.0.push_str(name);
        self.0.push(' ');
        self.0.push_str(kind);
        self.0.push('\n');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.head(name, labels);
        let _ = writeln!(self.0, "{value}");
    }

    fn sample_text(&mut self, name: &str, labels: &[(&str, &str)], value: &str) {
        self.head(name, labels);
        self.0.push_str(value);
        self.0.push('\n');
    }

    fn head(&mut self, name: &str, labels: &[(&str, &str)]) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(key);
                self.0.push_str("=\"");
                escape(&mut self.0, value, true);
                self.0.push('"');
            }
            self.0.push('}');
        }
        self.0.push(' ');
    }
}

/// Escapes `\` and newline, and in label values also `"`.
fn escape(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// `ns` nanoseconds as an exact decimal number of seconds: `0.00001`, `1.31072`, `0`.
fn seconds(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(10_000), "0.00001");
        assert_eq!(seconds(1_310_720_000), "1.31072");
        assert_eq!(seconds(2_000_000_000), "2");
        assert_eq!(seconds(1), "0.000000001");
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        escape(&mut s, "a\\b\"c\nd", true);
        assert_eq!(s, r#"a\\b\"c\nd"#);
        let mut s = String::new();
        escape(&mut s, "a\\b\"c\nd", false);
        assert_eq!(s, r#"a\\b"c\nd"#);
    }
}
