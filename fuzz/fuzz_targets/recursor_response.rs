//! Any bytes as upstream answers: a [`Recursor`] (fixed seed, fixed configuration, root hints at
//! 192.0.2.1) is given one client question, and each upstream query it sends is answered with
//! the next piece of the input, or left to time out. The input may ask for the query's ID and
//! question to be patched into its bytes, so the fuzzer gets past acceptance (RFC 5452) into
//! classification, referrals, aliases and negative answers.
//!
//! What must hold: nothing panics; the client question is answered by the time its total-time
//! limit has passed; once far later timers have fired, nothing is left in flight.
//!
//! Input: one byte choosing the question (bits 0-5), at most one query per server at a time
//! (bit 6) and no QNAME minimisation (bit 7), then rounds (at most 64). A round starts with a
//! control byte: bit 7 set means the oldest upstream query times out (nothing else read);
//! otherwise a big-endian u16 length and that many bytes of answer follow. Bit 0: put the
//! query's ID in bytes 0..2. Bit 1: the bytes are a header and the sections after the question,
//! and the query's question section (case included) is put in after the header with QDCOUNT 1.
//! Bit 2: set QR. The answer comes from the address and port the query went to.
#![no_main]

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Arc;

use cache::{Cache, CacheConfig, Time};
use libfuzzer_sys::fuzz_target;
use recursor::{
    Hints, Limits, QnameMinimisation, QueryOptions, Question, Recursor, RecursorConfig, Transmit,
};
use wire::{Class, Name, RType};

const QUESTIONS: [(&str, RType); 8] = [
    ("www.example.test.", RType::A),
    ("alias.example.test.", RType::A),
    ("nx.example.test.", RType::A),
    ("old.example.test.", RType::AAAA),
    ("www.old.example.test.", RType::A),
    ("example.test.", RType::NS),
    ("a.b.c.deep.example.test.", RType::TXT),
    (".", RType::NS),
];

const MAX_ROUNDS: usize = 64;

fn config(selector: u8) -> RecursorConfig {
    let hints = Hints::from_zone_text(
        ". 3600000 NS a.root.sim.\na.root.sim. 3600000 A 192.0.2.1\n",
        Path::new("hints"),
    )
    .expect("valid hints");
    RecursorConfig {
        root_hints: hints,
        ipv6: false,
        insecure_local_upstreams: true,
        qname_minimisation: if selector & 0x80 != 0 {
            QnameMinimisation::Off
        } else {
            QnameMinimisation::Relaxed
        },
        limits: Limits {
            // One query per server at a time: priming, sub-resolutions and the question
            // queue for busy servers.
            max_outstanding_per_server: if selector & 0x40 != 0 { 1 } else { 200 },
            ..Limits::default()
        },
        ..RecursorConfig::default()
    }
}

/// The length of the question section of a query the recursor built (one question).
fn question_len(query: &[u8]) -> Option<usize> {
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1 + len;
        if len == 0 {
            return Some(at + 4 - 12);
        }
    }
}

fn response(t: &Transmit, control: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = if control & 2 != 0 && bytes.len() >= 12 {
        let qlen = question_len(&t.message).unwrap_or(0);
        let mut out = bytes[..12].to_vec();
        out[4] = 0;
        out[5] = 1;
        out.extend_from_slice(&t.message[12..12 + qlen]);
        out.extend_from_slice(&bytes[12..]);
        out
    } else {
        bytes.to_vec()
    };
    if control & 1 != 0 && out.len() >= 2 {
        out[..2].copy_from_slice(&t.message[..2]);
    }
    if control & 4 != 0 && out.len() >= 3 {
        out[2] |= 0x80;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut input)) = data.split_first() else {
        return;
    };
    let config = config(selector);
    let time_limit = config.limits.max_question_millis;
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let mut rec = Recursor::new(config, cache, [7; 32]);
    let start = Time::from_millis(1_000_000);
    let mut now = start;
    let (qname, qtype) = QUESTIONS[usize::from(selector & 0x3f) % QUESTIONS.len()];
    let qname: Name = qname.parse().expect("valid name");
    let question = Question {
        qname,
        qtype,
        qclass: Class::IN,
    };
    let options = QueryOptions {
        client: "198.51.100.1".parse().expect("valid address"),
        checking_disabled: false,
        dnssec_ok: false,
    };
    rec.submit(question, options, 1, now);

    let mut answered = false;
    let mut queue: VecDeque<Transmit> = VecDeque::new();
    for _ in 0..MAX_ROUNDS {
        queue.extend(std::iter::from_fn(|| rec.poll_transmit()));
        while let Some(f) = rec.poll_answer() {
            answered |= f.waiters.contains(&1);
        }
        while rec.poll_closed().is_some() {}
        let Some((&control, rest)) = input.split_first() else {
            break;
        };
        input = rest;
        let Some(t) = queue.pop_front() else { break };
        if control & 0x80 != 0 {
            now = now.max(t.deadline);
            rec.handle_timeout(now);
            continue;
        }
        let Some((len, rest)) = input.split_first_chunk::<2>() else {
            break;
        };
        let len = usize::from(u16::from_be_bytes(*len)).min(rest.len());
        let (bytes, rest) = rest.split_at(len);
        input = rest;
        now = now.plus_millis(10);
        rec.handle_timeout(now);
        let message = response(&t, control, bytes);
        let _ = rec.handle_response(t.id, t.server, &message, now);
    }

    // The question's time limit passes: it must be answered by then.
    now = now.max(start.plus_millis(time_limit));
    rec.handle_timeout(now);
    while rec.poll_transmit().is_some() {}
    while let Some(f) = rec.poll_answer() {
        answered |= f.waiters.contains(&1);
    }
    assert!(
        answered,
        "the client question was not answered within its time limit"
    );
    // Much later every timer has fired: nothing may be left in flight.
    now = now.plus_millis(86_400_000);
    rec.handle_timeout(now);
    while rec.poll_transmit().is_some() {}
    while rec.poll_answer().is_some() {}
    while rec.poll_closed().is_some() {}
    assert_eq!(rec.in_flight(), 0, "resolutions left in flight");
    assert_eq!(
        rec.upstream_in_flight(),
        0,
        "upstream queries left in flight"
    );
    assert!(rec.next_timeout().is_none(), "timers left");
});
