//! The seeds of the `recursor_response` fuzz target (`fuzz/seeds/recursor_response`) replay as
//! genuine resolutions: each one, fed to a recursor the way the target feeds it, ends in the
//! answer it was recorded from. When the recursor starts asking other questions (a different
//! order, another minimisation step) this fails; `PORTCULLIS_WRITE_SEEDS=1 cargo test -p
//! recursor --test fuzz_seeds` then records them again from the simulated world.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use cache::{Cache, CacheConfig, Time};
use recursor::{QueryOptions, Question, Recursor, RecursorConfig};
use sim::*;
use wire::{Class, RType, Rcode};

/// Seed file, the target's question selector, the question, the expected RCODE.
const SEEDS: [(&str, u8, &str, RType, Rcode); 5] = [
    (
        "referral-answer",
        0,
        "www.example.test.",
        RType::A,
        Rcode::NOERROR,
    ),
    ("cname", 1, "alias.example.test.", RType::A, Rcode::NOERROR),
    (
        "nxdomain-soa",
        2,
        "nx.example.test.",
        RType::A,
        Rcode::NXDOMAIN,
    ),
    (
        "dname",
        4,
        "www.old.example.test.",
        RType::A,
        Rcode::NOERROR,
    ),
    ("ns", 5, "example.test.", RType::NS, Rcode::NOERROR),
];

/// The target's configuration (`fuzz/fuzz_targets/recursor_response.rs`, selector bit 7 clear).
fn target_config() -> RecursorConfig {
    RecursorConfig {
        insecure_local_upstreams: true,
        ..config()
    }
}

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/recursor_response")
}

/// Length of the question section of a message with one question and an uncompressed name.
fn question_len(message: &[u8]) -> usize {
    let mut at = 12;
    loop {
        let len = usize::from(message[at]);
        at += 1 + len;
        if len == 0 {
            return at + 4 - 12;
        }
    }
}

/// Records the world's answers to a resolution of `qname` in the target's input format:
/// control 0x03 (patch ID and question), length, header and sections after the question.
fn record(selector: u8, qname: &str, qtype: RType) -> Vec<u8> {
    let mut sim = Sim::new(target_config());
    add_world(&mut sim);
    let chunks: Rc<RefCell<Vec<u8>>> = Rc::default();
    for addr in ["192.0.2.1", "192.0.2.10", "192.0.2.20", "192.0.2.30"] {
        let chunks = Rc::clone(&chunks);
        sim.server(addr).custom = Some(Rc::new(move |seen: &Seen, query: &[u8], s: &Server| {
            let bytes = answer(s, seen, query).unwrap();
            let mut body = bytes[..12].to_vec();
            body.extend_from_slice(&bytes[12 + question_len(query)..]);
            let mut chunks = chunks.borrow_mut();
            chunks.push(0x03);
            chunks.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
            chunks.extend_from_slice(&body);
            Reply::Bytes(bytes)
        }));
    }
    sim.resolve(qname, qtype);
    let mut input = vec![selector];
    input.extend_from_slice(&chunks.borrow());
    input
}

/// Feeds `input` the way the fuzz target does (control 0x03 rounds only) and returns the
/// RCODE of the answer.
fn replay(input: &[u8], qname: &str, qtype: RType) -> Option<Rcode> {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    let mut rec = Recursor::new(target_config(), cache, [7; 32]);
    let mut now = Time::from_millis(1_000_000);
    let question = Question {
        qname: name(qname),
        qtype,
        qclass: Class::IN,
    };
    let options = QueryOptions {
        client: ip("198.51.100.1"),
        checking_disabled: false,
        dnssec_ok: false,
    };
    rec.submit(question, options, 1, now);
    let mut queue = VecDeque::new();
    let mut rest = &input[1..];
    loop {
        queue.extend(std::iter::from_fn(|| rec.poll_transmit()));
        if let Some(f) = rec.poll_answer() {
            return Some(f.resolution.rcode);
        }
        let (&control, after) = rest.split_first()?;
        assert_eq!(control, 0x03);
        let len = usize::from(u16::from_be_bytes([after[0], after[1]]));
        let body = &after[2..2 + len];
        rest = &after[2 + len..];
        let t = queue.pop_front()?;
        let mut message = body[..12].to_vec();
        message[..2].copy_from_slice(&t.message[..2]);
        message[4..6].copy_from_slice(&[0, 1]);
        message.extend_from_slice(&t.message[12..12 + question_len(&t.message)]);
        message.extend_from_slice(&body[12..]);
        now = now.plus_millis(10);
        rec.handle_response(t.id, t.server, &message, now);
    }
}

#[test]
fn seeds_replay_to_their_answers() {
    let write = std::env::var_os("PORTCULLIS_WRITE_SEEDS").is_some();
    for (file, selector, qname, qtype, rcode) in SEEDS {
        let path = seed_dir().join(file);
        if write {
            std::fs::write(&path, record(selector, qname, qtype)).unwrap();
        }
        let input = std::fs::read(&path).unwrap();
        assert_eq!(input[0], selector, "{file}");
        assert_eq!(replay(&input, qname, qtype), Some(rcode), "{file}");
    }
}
