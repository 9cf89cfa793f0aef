//! Header and question checks (RFC 1035 section 4.1.1, RFC 9619, RFC 6895): FORMERR, NOTIMP,
//! REFUSED, drops; the mapping is in `engine::error`.

use wire::message::Flags;
use wire::{Class, Opcode, RType, Rcode};

use crate::support::*;
use engine::{AnswerSource, Outcome, QueryError};

fn outcome(bytes: &[u8]) -> Outcome {
    let mut out = [0u8; 1232];
    engine().respond(bytes, &udp(), Time::ZERO, &mut out)
}

#[test]
fn unreadable_headers_and_responses_are_dropped() {
    assert!(matches!(
        outcome(&[1, 2, 3]),
        Outcome::Drop(QueryError::ShortHeader)
    ));
    let mut q = query("www.example.", RType::A);
    q.flags = q.flags.with_qr(true);
    assert!(matches!(
        outcome(&q.bytes()),
        Outcome::Drop(QueryError::Response)
    ));
}

#[test]
fn malformed_messages_are_formerr_without_question() {
    let mut bytes = query("www.example.", RType::A).no_edns().bytes();
    bytes.truncate(bytes.len() - 1);
    let r = ask_bytes(&engine(), &bytes, udp());
    assert_eq!(r.rcode(), Rcode::FORMERR);
    assert_eq!(r.msg().header().qdcount, 0);
    assert_eq!(r.msg().header().id, 0x2a2a);
    assert!(r.msg().edns().is_none());
    // Trailing garbage.
    let mut bytes = query("www.example.", RType::A).bytes();
    bytes.push(0);
    assert_eq!(ask_bytes(&engine(), &bytes, udp()).rcode(), Rcode::FORMERR);
}

#[test]
fn question_count_other_than_one_is_formerr() {
    let mut bytes = query("www.example.", RType::A).no_edns().bytes();
    // Zero questions: cut the question off.
    let mut zero = bytes[..12].to_vec();
    zero[5] = 0;
    let r = ask_bytes(&engine(), &zero, udp());
    assert_eq!(r.rcode(), Rcode::FORMERR);
    assert_eq!(
        r.info.source,
        AnswerSource::Error(QueryError::QuestionCount(0))
    );
    // Two questions.
    let question = bytes[12..].to_vec();
    bytes.extend_from_slice(&question);
    bytes[5] = 2;
    let r = ask_bytes(&engine(), &bytes, udp());
    assert_eq!(r.rcode(), Rcode::FORMERR);
    assert_eq!(r.msg().header().qdcount, 0);
}

#[test]
fn other_opcodes_are_notimp() {
    for op in [
        Opcode::IQUERY,
        Opcode::STATUS,
        Opcode::NOTIFY,
        Opcode::UPDATE,
        Opcode(15),
    ] {
        let r = ask_udp(&query("example.", RType::SOA).opcode(op));
        assert_eq!(r.rcode(), Rcode::NOTIMP, "{op:?}");
        assert_eq!(r.flags().opcode(), op, "the opcode is echoed");
        assert!(r.answer().is_empty());
    }
}

#[test]
fn classes_other_than_in_are_refused() {
    for class in [Class::HS, Class::ANY, Class(2), Class(42)] {
        let r = ask_udp(&query("www.example.", RType::A).class(class));
        assert_eq!(r.rcode(), Rcode::REFUSED, "{class}");
    }
    let r = ask_udp(&query("www.example.", RType::A).class(Class::CH));
    assert_eq!(r.rcode(), Rcode::REFUSED);
}

#[test]
fn meta_types() {
    for (t, rcode) in [
        (RType::OPT, Rcode::FORMERR),
        (RType::TSIG, Rcode::FORMERR),
        (RType::TKEY, Rcode::NOTIMP),
        (RType::MAILA, Rcode::NOTIMP),
        (RType::MAILB, Rcode::NOTIMP),
        (RType(128), Rcode::NOTIMP),
    ] {
        let r = ask_udp(&query("www.example.", t));
        assert_eq!(r.rcode(), rcode, "{t}");
        assert_eq!(r.msg().header().qdcount, 1);
        assert!(r.msg().edns().is_some(), "OPT kept for {t}");
    }
    // Unknown data types are ordinary: NODATA.
    let r = ask_udp(&query("www.example.", RType(65280)));
    assert_eq!(r.rcode(), Rcode::NOERROR);
}

#[test]
fn flags_of_a_response() {
    let mut q = query("www.example.", RType::A);
    q.flags = Flags::default().with_cd(true).with_ad(true);
    let r = ask_udp(&q);
    assert!(r.flags().cd(), "CD is copied (RFC 4035 section 3.1.6)");
    assert!(!r.flags().ad());
    assert!(!r.flags().rd());
    assert!(!r.flags().z());
}

#[test]
fn a_tiny_output_buffer_drops() {
    let mut out = [0u8; 8];
    let o = engine().respond(
        &query("www.example.", RType::A).bytes(),
        &udp(),
        Time::ZERO,
        &mut out,
    );
    assert!(matches!(o, Outcome::Drop(QueryError::OutputTooSmall)));
}
