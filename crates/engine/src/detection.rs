//! Tunnelling and anomaly detection in the resolver's answers ([`detect::Detector`] decides,
//! this module asks it at the right points and writes what it enforces).
//!
//! Like the response policy ([`crate::policy`]), detection applies only to what the resolver
//! answers: the operator's zones and the local zones answer first and are never looked at. The
//! detector sees a query at three points:
//!
//! 1. Before the cache ([`detect::Detector::check`]): a standing verdict on the name's
//!    registered domain answers at once. With no verdict standing this is one atomic load, so
//!    a cache hit costs nothing more.
//! 2. On a cache miss that is about to be resolved ([`detect::Detector::on_miss`]): the query
//!    is scored and the domain's and client's state updated. The detector may decide to
//!    enforce (the answer is written instead of resolving) and may return an explained alert,
//!    which becomes a security event ([`events::Action::Tunnel`] or
//!    [`events::Action::Anomaly`]) and an entry of the recent alerts `ctl detections` lists.
//!    Cache hits are not scored: a tunnel's names are unique, so every one of its queries is
//!    a miss, while ordinary traffic is mostly hits and costs nothing.
//! 3. When the resolver's answer is written ([`detect::Detector::on_answer`]): its RCODE and
//!    size, for the NXDOMAIN ratio and the bytes that came back.
//!
//! An enforced answer keeps the client's ID, question, RD and CD, sets RA, never AA, and
//! carries EDE 15 (Blocked) with the text "tunnel: DOMAIN" (or "tunnel rate limit:
//! DOMAIN" for a rate-limited REFUSED): NXDOMAIN, REFUSED, or the sinkhole addresses (A and
//! AAAA, TTL 60; NODATA for other types). Every enforcement is counted
//! ([`DetectRecord::enforced`]); only the first one of a verdict, the one the alert reports,
//! is an event.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cache::Time;
use detect::{Alert, AlertKind, BlockKind, Detector, Enforce, Mode, Seen};
use wire::message::Section;
use wire::{Class, NameRef, RType, Rcode};

use crate::Client;
use crate::engine::{AnswerSource, EDE_ROOM, Engine, Outcome, ReplyInfo};
use crate::error::QueryError;
use crate::query::{Question, Request};

/// EDE INFO-CODE 15, "Blocked" (RFC 8914 section 4.16).
pub const EDE_BLOCKED: u16 = 15;
/// TTL of the sinkhole addresses: short, so that a client sees the real data soon after the
/// verdict ends or the operator allows the domain.
pub const SINKHOLE_TTL: u32 = 60;
/// Recent alerts kept for `ctl detections`.
pub const RECENT_ALERTS: usize = 64;
/// Longest EDE text written (a name in presentation form is at most 1,004 bytes with escapes;
/// the text is cut on a character boundary).
const MAX_TEXT: usize = 128;

/// The detector as one engine uses it: the shared detector, the settings the answers need,
/// and the record kept across reloads.
#[derive(Clone, Debug)]
pub struct Detection {
    /// The detector, shared by every engine a reload builds while its state is kept.
    pub detector: Arc<Detector>,
    /// What is done with findings (severity of events, the metric's `mode` label).
    pub mode: Mode,
    /// The A record of a sinkhole answer.
    pub sinkhole_v4: Ipv4Addr,
    /// The AAAA record of a sinkhole answer.
    pub sinkhole_v6: Ipv6Addr,
    /// Counters and recent alerts, made once by the server.
    pub record: Arc<DetectRecord>,
}

/// One alert as `ctl detections` lists it.
#[derive(Clone, Debug)]
pub struct RecentAlert {
    /// When (the engine's clock, milliseconds).
    pub at_ms: u64,
    /// The mode it was raised in.
    pub mode: Mode,
    /// What the detector said.
    pub alert: Alert,
}

/// What detection has done, kept across reloads: counters for `/metrics` and the last
/// [`RECENT_ALERTS`] alerts.
#[derive(Debug, Default)]
pub struct DetectRecord {
    /// Alerts by kind (tunnel, anomaly) and mode (log, alert, block).
    alerts: [[AtomicU64; 3]; 2],
    /// Enforcements by action (nxdomain, refused, sinkhole, rate_limited).
    enforced: [AtomicU64; 4],
    /// Operator allows that cleared or allowed a domain.
    allowed: AtomicU64,
    recent: Mutex<VecDeque<RecentAlert>>,
    /// The current mode, as a number (for a reader without an engine at hand).
    mode: AtomicU8,
}

/// The label of each alert kind, in counter order.
pub const ALERT_KINDS: [&str; 2] = ["tunnel", "anomaly"];
/// The label of each mode that raises alerts, in counter order.
pub const ALERT_MODES: [&str; 3] = ["log", "alert", "block"];
/// The label of each enforcement, in counter order.
pub const ENFORCE_ACTIONS: [&str; 4] = ["nxdomain", "refused", "sinkhole", "rate_limited"];

fn mode_index(mode: Mode) -> Option<usize> {
    match mode {
        Mode::Off => None,
        Mode::Log => Some(0),
        Mode::Alert => Some(1),
        Mode::Block => Some(2),
    }
}

fn enforce_index(enforce: Enforce) -> usize {
    match enforce {
        Enforce::Block(BlockKind::Nxdomain) => 0,
        Enforce::Block(BlockKind::Refused) => 1,
        Enforce::Block(BlockKind::Sinkhole) => 2,
        Enforce::RateLimited { .. } => 3,
    }
}

/// The label of `enforce` ([`ENFORCE_ACTIONS`]).
pub fn enforce_label(enforce: Enforce) -> &'static str {
    ENFORCE_ACTIONS[enforce_index(enforce)]
}

impl DetectRecord {
    /// An empty record.
    pub fn new() -> DetectRecord {
        DetectRecord::default()
    }

    /// Alerts counted, as (kind, mode, count) for every kind and mode.
    pub fn alerts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut all = Vec::with_capacity(6);
        for (k, kind) in ALERT_KINDS.iter().enumerate() {
            for (m, mode) in ALERT_MODES.iter().enumerate() {
                all.push((*kind, *mode, self.alerts[k][m].load(Ordering::Relaxed)));
            }
        }
        all
    }

    /// Enforcements counted, by action ([`ENFORCE_ACTIONS`]).
    pub fn enforced(&self) -> [(&'static str, u64); 4] {
        std::array::from_fn(|i| (ENFORCE_ACTIONS[i], self.enforced[i].load(Ordering::Relaxed)))
    }

    /// Operator allows counted.
    pub fn allowed(&self) -> u64 {
        self.allowed.load(Ordering::Relaxed)
    }

    /// Counts one operator allow.
    pub fn count_allowed(&self) {
        self.allowed.fetch_add(1, Ordering::Relaxed);
    }

    /// The recent alerts, oldest first.
    pub fn recent(&self) -> Vec<RecentAlert> {
        self.lock().iter().cloned().collect()
    }

    /// Records the mode the engines now run in.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.store(
            mode_index(mode).map_or(0, |i| i as u8 + 1),
            Ordering::Relaxed,
        );
    }

    /// The mode the engines run in.
    pub fn mode(&self) -> Mode {
        match self.mode.load(Ordering::Relaxed) {
            1 => Mode::Log,
            2 => Mode::Alert,
            3 => Mode::Block,
            _ => Mode::Off,
        }
    }

    fn count_enforced(&self, enforce: Enforce) {
        self.enforced[enforce_index(enforce)].fetch_add(1, Ordering::Relaxed);
    }

    fn push(&self, alert: RecentAlert) {
        if let Some(m) = mode_index(alert.mode) {
            let k = match alert.alert.kind {
                AlertKind::Tunnel => 0,
                AlertKind::Anomaly => 1,
            };
            self.alerts[k][m].fetch_add(1, Ordering::Relaxed);
        }
        let mut recent = self.lock();
        if recent.len() >= RECENT_ALERTS {
            recent.pop_front();
        }
        recent.push_back(alert);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<RecentAlert>> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A stack buffer the EDE text is formatted into (no allocation); what does not fit is cut.
struct Text {
    buf: [u8; MAX_TEXT],
    len: usize,
}

impl Text {
    fn new() -> Text {
        Text {
            buf: [0; MAX_TEXT],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        let bytes = self.buf.get(..self.len).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            // Cut inside a character: up to where it is valid.
            Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default(),
        }
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for &b in s.as_bytes() {
            let Some(slot) = self.buf.get_mut(self.len) else {
                return Err(std::fmt::Error);
            };
            *slot = b;
            self.len += 1;
        }
        Ok(())
    }
}

impl Engine {
    /// This engine, asking `detection`'s detector about what the resolver answers (see
    /// [`crate::detection`]).
    pub fn with_detector(mut self, detection: Detection) -> Engine {
        self.detection = Some(detection);
        self
    }

    /// The detection, when it is on.
    pub fn detection(&self) -> Option<&Detection> {
        self.detection.as_ref()
    }

    /// Before the cache: a standing verdict on the name's registered domain answers at once.
    pub(crate) fn detect_check(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        now: Time,
        out: &mut [u8],
    ) -> Option<Outcome> {
        let d = self.detection.as_ref()?;
        let qname = question.qname.as_ref();
        let enforce = d.detector.check(qname, client.addr, now.as_millis())?;
        d.record.count_enforced(enforce);
        let domain = d.detector.registered(qname);
        Some(self.write_detect(d, request, question, client, enforce, domain, out))
    }

    /// A cache miss about to be resolved: scored; an alert is reported, an enforcement
    /// answered instead of resolving (`Err`). `Ok` carries what the answer's report needs
    /// ([`Engine::detect_answer`]), `None` when the detector is off.
    pub(crate) fn detect_miss(
        &self,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        now: Time,
        out: &mut [u8],
    ) -> Result<Option<Seen>, Outcome> {
        let Some(d) = self.detection.as_ref() else {
            return Ok(None);
        };
        let qname = question.qname.as_ref();
        let decision = d
            .detector
            .on_miss(qname, question.qtype, client.addr, now.as_millis());
        if let Some(alert) = decision.alert {
            self.report(d, &alert, now);
        }
        let Some(enforce) = decision.enforce else {
            return Ok(decision.seen);
        };
        d.record.count_enforced(enforce);
        let domain = d.detector.registered(qname);
        Err(self.write_detect(d, request, question, client, enforce, domain, out))
    }

    /// The resolver's answer to a miss the detector scored (an anomaly alert it raises is
    /// reported like a miss's).
    pub(crate) fn detect_answer(
        &self,
        qname: NameRef<'_>,
        seen: Seen,
        client: std::net::IpAddr,
        rcode: Rcode,
        len: usize,
        at_ms: u64,
    ) {
        if let Some(d) = &self.detection
            && let Some(alert) = d.detector.on_answer(qname, seen, client, rcode, len, at_ms)
        {
            self.report(d, &alert, Time::from_millis(at_ms));
        }
    }

    /// An alert as a security event (notice in log mode, warning otherwise) and a recent
    /// alert.
    fn report(&self, d: &Detection, alert: &Alert, now: Time) {
        let action = match alert.kind {
            AlertKind::Tunnel => events::Action::Tunnel,
            AlertKind::Anomaly => events::Action::Anomaly,
        };
        // Log mode, and anomalies within the learning period, are notices.
        let severity = if d.mode == Mode::Log || alert.learning {
            5
        } else {
            4
        };
        self.events.emit_with(action, || {
            let mut event = events::Event::new(action, alert.reason)
                .name(alert.domain.clone())
                .with_severity(severity);
            if let Some(client) = alert.client {
                event = event.client(client);
            }
            let enforced = alert
                .enforced
                .map(|e| format!("; enforced: {}", enforce_label(e)))
                .unwrap_or_default();
            let learning = if alert.learning {
                " (learning: logged only)"
            } else {
                ""
            };
            event.detail(format!("{}{enforced}{learning}", alert.explanation))
        });
        d.record.push(RecentAlert {
            at_ms: now.as_millis(),
            mode: d.mode,
            alert: alert.clone(),
        });
    }

    /// Writes what `enforce` answers to `request` about `domain`.
    #[allow(clippy::too_many_arguments)]
    fn write_detect(
        &self,
        d: &Detection,
        request: &Request<'_>,
        question: &Question,
        client: &Client,
        enforce: Enforce,
        domain: NameRef<'_>,
        out: &mut [u8],
    ) -> Outcome {
        let mut text = Text::new();
        let prefix = match enforce {
            Enforce::RateLimited { .. } => "tunnel rate limit: ",
            Enforce::Block(_) => "tunnel: ",
        };
        // Cut when too long: the text is informative only.
        let _ = write!(text, "{prefix}{domain}");
        let text = text.as_str();
        let (rcode, sinkhole) = match enforce {
            Enforce::Block(BlockKind::Nxdomain) => (Rcode::NXDOMAIN, false),
            Enforce::Block(BlockKind::Refused) | Enforce::RateLimited { .. } => {
                (Rcode::REFUSED, false)
            }
            Enforce::Block(BlockKind::Sinkhole) => (Rcode::NOERROR, true),
        };
        let ede = Some((EDE_BLOCKED, text));
        let edns = request.edns;
        let limit = self.limit(edns, client.transport, out.len());
        let Some(mut w) = self.start(out, limit, request, Some(question), false, edns) else {
            return Outcome::Drop(QueryError::OutputTooSmall);
        };
        if edns.is_some() {
            // Optional: without room the EDE is left out.
            let _ = w.reserve(self.opt_room(edns) + EDE_ROOM.max(6 + text.len()));
        }
        if sinkhole {
            let v4 = d.sinkhole_v4.octets();
            let v6 = d.sinkhole_v6.octets();
            let rdata: Option<(RType, &[u8])> = match question.qtype {
                RType::A => Some((RType::A, &v4)),
                RType::AAAA => Some((RType::AAAA, &v6)),
                _ => None,
            };
            if let Some((rtype, rdata)) = rdata {
                // A response of one address record always fits the smallest limit.
                let _ = w.push_rrset(
                    Section::Answer,
                    question.qname.as_ref(),
                    rtype,
                    Class::IN,
                    SINKHOLE_TTL,
                    [rdata],
                );
            }
        }
        let len = self.finish(w, rcode, edns, ede);
        Outcome::Reply(ReplyInfo {
            len,
            rcode,
            qtype: Some(question.qtype),
            truncated: false,
            source: AnswerSource::Detection,
            prefetch: false,
            valid_cookie: false,
        })
    }
}
