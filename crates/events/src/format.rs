//! Events as text: one JSON object per line, and the RFC 5424 syslog frame around it.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wire::{Class, NameRef, RType, Rcode};

use crate::event::Event;
use crate::query::{QueryRecord, flags};

/// Appends `event`, seen at `at`, to `out` as one JSON object and a newline.
pub(crate) fn json_line(event: &Event, at: SystemTime, out: &mut String) {
    out.push_str("{\"time\":\"");
    timestamp(at, out);
    out.push_str("\",\"type\":\"security\",\"action\":\"");
    out.push_str(event.action.name());
    out.push_str("\",\"reason\":");
    string(event.reason, out);
    if let Some(client) = event.client {
        let _ = write!(out, ",\"client\":\"{client}\"");
    }
    if let Some(qname) = &event.qname {
        out.push_str(",\"qname\":");
        let mut text = String::with_capacity(64);
        let _ = write!(text, "{qname}");
        string(&text, out);
    }
    if let Some(qtype) = event.qtype {
        let _ = write!(out, ",\"qtype\":\"{qtype}\"");
    }
    if let Some(detail) = &event.detail {
        out.push_str(",\"detail\":");
        string(detail, out);
    }
    out.push_str("}\n");
}

/// Appends `record` as one JSON object and a newline; `client` is its address as logged
/// (cut to the configured prefix).
pub(crate) fn query_line(record: &QueryRecord, client: IpAddr, out: &mut String) {
    out.push_str("{\"time\":\"");
    timestamp(UNIX_EPOCH + Duration::from_millis(record.time_ms), out);
    let _ = write!(
        out,
        "\",\"type\":\"query\",\"client\":\"{client}\",\"port\":{},\"transport\":\"{}\"",
        record.port,
        record.proto.name()
    );
    if let Ok(name) = NameRef::from_wire(record.qname_wire()) {
        out.push_str(",\"qname\":");
        let mut text = String::with_capacity(64);
        let _ = write!(text, "{name}");
        string(&text, out);
        let _ = write!(out, ",\"qtype\":\"{}\"", RType(record.qtype));
        if record.qclass != Class::IN.0 {
            let _ = write!(out, ",\"qclass\":\"{}\"", Class(record.qclass));
        }
    }
    let _ = write!(
        out,
        ",\"id\":{},\"rcode\":\"{}\",\"source\":\"{}\",\"latency_us\":{},\"flags\":[",
        record.id,
        Rcode(record.rcode),
        record.source,
        record.latency_us
    );
    let mut first = true;
    for (bit, name) in flags::NAMES {
        if record.flags & bit != 0 {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "\"{name}\"");
        }
    }
    let _ = write!(out, "],\"size\":{}", record.size);
    if let Some(udp) = record.edns_udp {
        let _ = write!(out, ",\"edns_udp\":{udp}");
    }
    if let Some((action, reason)) = record.policy {
        out.push_str(",\"policy\":");
        string(action, out);
        out.push_str(",\"reason\":");
        string(reason, out);
    }
    out.push_str("}\n");
}

/// Appends the RFC 5424 message for `event`: `<PRI>1 TIMESTAMP HOST portcullis PID - - JSON`,
/// without the trailing newline (one datagram is one message).
pub(crate) fn syslog_message(
    event: &Event,
    at: SystemTime,
    facility: u8,
    host: &str,
    pid: u32,
    out: &mut String,
) {
    let pri = u16::from(facility) * 8 + u16::from(event.syslog_severity());
    let _ = write!(out, "<{pri}>1 ");
    timestamp(at, out);
    let _ = write!(out, " {host} portcullis {pid} {} - ", event.action.name());
    json_line(event, at, out);
    if out.ends_with('\n') {
        out.pop();
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped (RFC 8259 7).
fn string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `at` in RFC 3339 UTC with milliseconds: `2026-11-27T11:40:00.123Z`.
pub(crate) fn timestamp(at: SystemTime, out: &mut String) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    );
}

/// The proleptic Gregorian date `days` after 1970-01-01 (days are never negative here).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days end each 400-year era's years.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::event::Action;
    use wire::Name;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn timestamps() {
        let mut s = String::new();
        timestamp(at(0, 0), &mut s);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
        s.clear();
        // 2024-02-29 (a leap day) 23:59:59.999.
        timestamp(at(1_709_251_199, 999), &mut s);
        assert_eq!(s, "2024-02-29T23:59:59.999Z");
        s.clear();
        timestamp(at(4_102_444_800, 5), &mut s);
        assert_eq!(s, "2100-01-01T00:00:00.005Z");
    }

    #[test]
    fn a_full_event_as_json() {
        let name: Name = "we\\\"ird.example.".parse().unwrap();
        let event = Event::new(Action::Blocked, "blocklist")
            .client("127.0.1.2".parse::<IpAddr>().unwrap())
            .question(name.as_ref(), RType::AAAA)
            .detail("ads \"list\"\n");
        let mut s = String::new();
        json_line(&event, at(1_800_000_000, 42), &mut s);
        assert_eq!(
            s,
            "{\"time\":\"2027-01-15T08:00:00.042Z\",\"type\":\"security\",\
             \"action\":\"blocked\",\"reason\":\"blocklist\",\"client\":\"127.0.1.2\",\
             \"qname\":\"we\\\\\\\"ird.example.\",\"qtype\":\"AAAA\",\
             \"detail\":\"ads \\\"list\\\"\\n\"}\n"
        );
    }

    #[test]
    fn a_query_record_as_json() {
        let mut q = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x03w\"w\x07example\x00\x00\x10\x00\x03");
        let mut record = QueryRecord::of_response(&q).unwrap().with_edns(1232, true);
        record.time_ms = 1_800_000_000_042;
        record.port = 5353;
        record.proto = crate::query::Proto::Tcp;
        record.source = "policy";
        record.latency_us = 17;
        record.rcode = 23;
        record.policy = Some(("blocked", "rpz qname"));
        let mut s = String::new();
        query_line(&record, "192.0.2.0".parse().unwrap(), &mut s);
        assert_eq!(
            s,
            "{\"time\":\"2027-01-15T08:00:00.042Z\",\"type\":\"query\",\"client\":\"192.0.2.0\",\
             \"port\":5353,\"transport\":\"tcp\",\"qname\":\"w\\\\\\\"w.example.\",\"qtype\":\"TXT\",\
             \"qclass\":\"CH\",\"id\":4660,\"rcode\":\"BADCOOKIE\",\"source\":\"policy\",\
             \"latency_us\":17,\"flags\":[\"RD\",\"RA\",\"DO\"],\"size\":29,\"edns_udp\":1232,\
             \"policy\":\"blocked\",\"reason\":\"rpz qname\"}\n"
        );
    }

    #[test]
    fn syslog_frame() {
        let event = Event::new(Action::RateLimited, "rrl-drop");
        let mut s = String::new();
        syslog_message(&event, at(0, 0), 3, "ns1", 77, &mut s);
        assert_eq!(
            s,
            "<28>1 1970-01-01T00:00:00.000Z ns1 portcullis 77 rate_limited - \
             {\"time\":\"1970-01-01T00:00:00.000Z\",\"type\":\"security\",\
             \"action\":\"rate_limited\",\"reason\":\"rrl-drop\"}"
        );
    }

    #[test]
    fn a_detection_event_carries_its_own_severity() {
        let domain: Name = "tunnel.test.".parse().unwrap();
        let event = Event::new(Action::Tunnel, "tunnel domain")
            .name(domain)
            .with_severity(5);
        let mut s = String::new();
        syslog_message(&event, at(0, 0), 3, "ns1", 77, &mut s);
        // Facility 3 (daemon), severity 5 (notice): the detector in log mode.
        assert!(s.starts_with("<29>1 "), "{s}");
        assert!(
            s.contains(
                "\"action\":\"tunnel\",\"reason\":\"tunnel domain\",\"qname\":\"tunnel.test.\"}"
            ),
            "{s}"
        );
        s.clear();
        syslog_message(
            &Event::new(Action::Anomaly, "nxdomain storm"),
            at(0, 0),
            3,
            "ns1",
            77,
            &mut s,
        );
        assert!(s.starts_with("<28>1 "), "{s}");
    }
}
