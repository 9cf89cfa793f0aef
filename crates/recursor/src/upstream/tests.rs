use super::*;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use wire::Section;

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap()
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([7; 32])
}

const SERVER: &str = "192.0.2.53:53";
const CLIENT_COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const SERVER_COOKIE: [u8; 16] = [0xaa; 16];

fn sent() -> Sent {
    Sent {
        id: 0x1234,
        qname: name("wWw.ExAmple.CoM."),
        qtype: RType::A,
        qclass: Class::IN,
        server: SERVER.parse().unwrap(),
        rd: false,
        cd: false,
        edns: true,
        dnssec_ok: true,
        client_cookie: Some(CLIENT_COOKIE),
    }
}

/// How a test response differs from the genuine one.
#[derive(Clone)]
struct Reply {
    id: u16,
    qr: bool,
    rcode: Rcode,
    questions: Vec<(Name, RType, Class)>,
    cookie: Option<Vec<u8>>,
}

impl Reply {
    fn to(sent: &Sent) -> Reply {
        let mut cookie = CLIENT_COOKIE.to_vec();
        cookie.extend_from_slice(&SERVER_COOKIE);
        Reply {
            id: sent.id,
            qr: true,
            rcode: Rcode::NOERROR,
            questions: vec![(sent.qname.clone(), sent.qtype, sent.qclass)],
            cookie: Some(cookie),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut buf = [0u8; 1024];
        let header = Header {
            id: self.id,
            flags: Flags(0)
                .with_qr(self.qr)
                .with_aa(true)
                .with_rcode(self.rcode),
            ..Header::default()
        };
        let mut w = MessageWriter::new(&mut buf, 1024, header).unwrap();
        for (n, t, c) in &self.questions {
            w.push_question(n.as_ref(), *t, *c).unwrap();
        }
        if let Some((n, _, _)) = self.questions.first() {
            w.push(
                Section::Answer,
                n.as_ref(),
                RType::A,
                Class::IN,
                300,
                &[192, 0, 2, 1],
            )
            .unwrap();
        }
        let mut opt = w.opt(1232, Rcode::NOERROR, true).unwrap();
        if let Some(c) = &self.cookie {
            opt.option(OptionCode::COOKIE, c).unwrap();
        }
        opt.finish().unwrap();
        w.finish().to_vec()
    }
}

fn check(sent: &Sent, reply: &Reply) -> Result<(), Rejection> {
    accept(sent, sent.server, &reply.bytes(), true).map(|_| ())
}

// ---- building ----

#[test]
fn query_round_trips_through_the_parser() {
    let s = sent();
    let bytes = build_query(&s, Some(&SERVER_COOKIE), 1232);
    let m = Message::parse(&bytes).unwrap();
    let h = m.header();
    assert_eq!(h.id, 0x1234);
    assert!(!h.flags.qr());
    assert!(!h.flags.rd());
    assert!(!h.flags.cd());
    assert!(!h.flags.aa());
    assert_eq!(h.flags.opcode(), Opcode::QUERY);
    assert_eq!((h.qdcount, h.ancount, h.nscount, h.arcount), (1, 0, 0, 1));
    let q = m.question().unwrap();
    assert_eq!(q.qname().unwrap().as_wire(), s.qname.as_wire());
    assert_eq!((q.qtype, q.qclass), (RType::A, Class::IN));
    let edns = m.edns().unwrap();
    assert_eq!(edns.udp_payload, 1232);
    assert!(edns.dnssec_ok());
    assert_eq!(edns.version, 0);
    let cookie = Cookie::parse(edns.option(OptionCode::COOKIE).unwrap()).unwrap();
    assert_eq!(cookie.client, CLIENT_COOKIE);
    assert_eq!(cookie.server, &SERVER_COOKIE);
}

#[test]
fn query_variants() {
    // RD to a forwarder, DO off, no server cookie yet.
    let s = Sent {
        rd: true,
        cd: false,
        dnssec_ok: false,
        ..sent()
    };
    let bytes = build_query(&s, None, 1400);
    let m = Message::parse(&bytes).unwrap();
    assert!(m.header().flags.rd());
    let edns = m.edns().unwrap();
    assert!(!edns.dnssec_ok());
    assert_eq!(edns.udp_payload, 1400);
    assert_eq!(edns.option(OptionCode::COOKIE).unwrap(), &CLIENT_COOKIE);

    // No cookie.
    let s = Sent {
        client_cookie: None,
        ..sent()
    };
    let m_bytes = build_query(&s, Some(&SERVER_COOKIE), 1232);
    let m = Message::parse(&m_bytes).unwrap();
    assert!(m.edns().unwrap().option(OptionCode::COOKIE).is_none());

    // No EDNS at all.
    let s = Sent {
        edns: false,
        ..sent()
    };
    let bytes = build_query(&s, Some(&SERVER_COOKIE), 1232);
    let m = Message::parse(&bytes).unwrap();
    assert!(m.edns().is_none());
    assert_eq!(m.header().arcount, 0);
    assert_eq!(bytes.len(), 12 + s.qname.len() + 4);
}

#[test]
fn largest_query_fits() {
    let label = [b'a'; 63];
    let long = Name::from_labels([&label[..], &label[..], &label[..], &label[..61]]).unwrap();
    assert_eq!(long.len(), 255);
    let s = Sent {
        qname: long,
        ..sent()
    };
    let bytes = build_query(&s, Some(&[0xbb; 32]), 1232);
    let m = Message::parse(&bytes).unwrap();
    let cookie = m.edns().unwrap().option(OptionCode::COOKIE).unwrap();
    assert_eq!(cookie.len(), 40);
}

// ---- accepting ----

#[test]
fn genuine_answer_is_accepted() {
    let s = sent();
    let reply = Reply::to(&s).bytes();
    let a = accept(&s, s.server, &reply, true).unwrap();
    assert!(a.case_echoed);
    assert!(a.question_echoed);
    assert_eq!(a.server_cookie.as_deref(), Some(&SERVER_COOKIE[..]));
    assert_eq!(a.message.header().ancount, 1);
}

#[test]
fn wrong_source_address_or_port_is_rejected() {
    let s = sent();
    let reply = Reply::to(&s).bytes();
    for from in ["192.0.2.53:5353", "192.0.2.54:53", "[2001:db8::53]:53"] {
        let from: SocketAddr = from.parse().unwrap();
        assert_eq!(
            accept(&s, from, &reply, true).unwrap_err(),
            Rejection::WrongSource,
            "{from}"
        );
    }
}

#[test]
fn wrong_id_is_rejected() {
    let s = sent();
    let mut r = Reply::to(&s);
    r.id ^= 1;
    assert_eq!(check(&s, &r), Err(Rejection::WrongId));
}

#[test]
fn a_query_is_not_a_response() {
    let s = sent();
    let mut r = Reply::to(&s);
    r.qr = false;
    assert_eq!(check(&s, &r), Err(Rejection::NotResponse));
    // Our own query reflected back.
    let q = build_query(&s, None, 1232);
    assert_eq!(
        accept(&s, s.server, &q, true).unwrap_err(),
        Rejection::NotResponse
    );
}

#[test]
fn wrong_question_is_rejected() {
    let s = sent();
    let cases: [fn(&mut Reply); 5] = [
        |r| r.questions[0].0 = name("www.example.net."),
        |r| r.questions[0].1 = RType::AAAA,
        |r| r.questions[0].2 = Class::CH,
        |r| {
            let q = r.questions[0].clone();
            r.questions.push(q);
        },
        // No question in a NOERROR answer.
        |r| r.questions.clear(),
    ];
    for (i, change) in cases.iter().enumerate() {
        let mut r = Reply::to(&s);
        change(&mut r);
        assert_eq!(check(&s, &r), Err(Rejection::WrongQuestion), "case {i}");
    }
}

#[test]
fn wrong_case_is_rejected_when_checked() {
    let s = sent();
    let mut r = Reply::to(&s);
    r.questions[0].0 = name("www.example.com.");
    assert_eq!(check(&s, &r), Err(Rejection::WrongCase));
    // Without the check it is accepted, and the caller learns the case was not echoed.
    let bytes = r.bytes();
    let a = accept(&s, s.server, &bytes, false).unwrap();
    assert!(!a.case_echoed);
}

#[test]
fn bad_cookie_is_rejected() {
    let s = sent();
    let mut r = Reply::to(&s);
    let mut forged = vec![9u8; 8];
    forged.extend_from_slice(&SERVER_COOKIE);
    r.cookie = Some(forged);
    assert_eq!(check(&s, &r), Err(Rejection::BadCookie));
    // A malformed cookie (not 8 or 16..=40 bytes).
    r.cookie = Some(vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_eq!(check(&s, &r), Err(Rejection::BadCookie));
}

#[test]
fn cookies_are_optional() {
    let s = sent();
    // A server that does not do cookies.
    let mut r = Reply::to(&s);
    r.cookie = None;
    let bytes = r.bytes();
    let a = accept(&s, s.server, &bytes, true).unwrap();
    assert_eq!(a.server_cookie, None);
    // A client cookie echoed without a server cookie.
    r.cookie = Some(CLIENT_COOKIE.to_vec());
    let bytes = r.bytes();
    assert_eq!(
        accept(&s, s.server, &bytes, true).unwrap().server_cookie,
        None
    );
    // We sent no cookie: whatever comes back is not checked.
    let s = Sent {
        client_cookie: None,
        ..sent()
    };
    let mut r = Reply::to(&s);
    r.cookie = Some(vec![9u8; 16]);
    let bytes = r.bytes();
    assert_eq!(
        accept(&s, s.server, &bytes, true).unwrap().server_cookie,
        None
    );
    // Nor without EDNS, even if a cookie is set up (it was not sent).
    let s = Sent {
        edns: false,
        ..sent()
    };
    let mut r = Reply::to(&s);
    r.cookie = Some(vec![9u8; 16]);
    let bytes = r.bytes();
    assert_eq!(
        accept(&s, s.server, &bytes, true).unwrap().server_cookie,
        None
    );
}

#[test]
fn malformed_datagrams_are_rejected() {
    let s = sent();
    let reply = Reply::to(&s).bytes();
    for len in [0, 5, 11, 20, reply.len() - 1] {
        let r = accept(&s, s.server, &reply[..len], true).unwrap_err();
        assert!(
            matches!(r, Rejection::Malformed | Rejection::WrongId),
            "{len}: {r:?}"
        );
    }
    let mut trailing = reply.clone();
    trailing.push(0);
    assert_eq!(
        accept(&s, s.server, &trailing, true).unwrap_err(),
        Rejection::Malformed
    );
}

#[test]
fn error_answers_without_question_are_accepted() {
    let s = sent();
    for rcode in [Rcode::FORMERR, Rcode::NOTIMP, Rcode::SERVFAIL] {
        let mut r = Reply::to(&s);
        r.questions.clear();
        r.rcode = rcode;
        r.cookie = None;
        let bytes = r.bytes();
        let a = accept(&s, s.server, &bytes, true).unwrap();
        assert!(!a.question_echoed);
        assert_eq!(a.message.rcode(), rcode);
        // Source and ID still count.
        r.id ^= 0x8000;
        assert_eq!(check(&s, &r), Err(Rejection::WrongId));
    }
    let mut r = Reply::to(&s);
    r.questions.clear();
    r.rcode = Rcode::REFUSED;
    assert_eq!(check(&s, &r), Err(Rejection::WrongQuestion));
}

#[test]
fn rejection_labels_are_distinct_and_indexed() {
    let labels: std::collections::HashSet<_> =
        Rejection::ALL.iter().map(Rejection::as_str).collect();
    assert_eq!(labels.len(), Rejection::ALL.len());
    for (i, r) in Rejection::ALL.iter().enumerate() {
        assert_eq!(r.index(), i);
    }
}

// ---- cookies and case ----

#[test]
fn client_cookie_is_a_keyed_function_of_both_addresses() {
    let secret = [42u8; 16];
    let server: IpAddr = "192.0.2.53".parse().unwrap();
    let other: IpAddr = "192.0.2.54".parse().unwrap();
    let client: IpAddr = "198.51.100.1".parse().unwrap();
    let c = client_cookie(&secret, Some(client), server);
    assert_eq!(c, client_cookie(&secret, Some(client), server));
    assert_ne!(c, client_cookie(&secret, Some(client), other));
    assert_ne!(c, client_cookie(&secret, None, server));
    assert_ne!(c, client_cookie(&[43u8; 16], Some(client), server));
    let v6: IpAddr = "2001:db8::53".parse().unwrap();
    assert_ne!(
        client_cookie(&secret, None, v6),
        client_cookie(&secret, None, server)
    );
}

#[test]
fn randomise_case_changes_letters_only() {
    let original = name("www.example-1.com.");
    let mut rng = rng();
    let mut changed = 0;
    for _ in 0..32 {
        let r = randomise_case(&original, &mut rng);
        assert_eq!(r, original);
        assert_eq!(r.len(), original.len());
        let text = r.to_string();
        assert!(text.contains("-1."), "{text}");
        if r.as_wire() != original.as_wire() {
            changed += 1;
        }
    }
    // 14 letters: the chance of no change in one draw is 2^-14.
    assert_eq!(changed, 32);
    assert_eq!(randomise_case(&Name::root(), &mut rng), Name::root());
}

proptest! {
    #[test]
    fn randomise_case_keeps_names_equal(
        labels in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..20), 0..8),
        seed in any::<[u8; 32]>(),
    ) {
        let Ok(n) = Name::from_labels(labels.iter().map(Vec::as_slice)) else {
            return Ok(());
        };
        let mut rng = ChaCha20Rng::from_seed(seed);
        let r = randomise_case(&n, &mut rng);
        prop_assert_eq!(&r, &n);
        prop_assert_eq!(r.as_wire().to_ascii_lowercase(), n.as_wire().to_ascii_lowercase());
        for (a, b) in r.as_wire().iter().zip(n.as_wire()) {
            prop_assert!(a == b || (a.is_ascii_alphabetic() && a ^ 0x20 == *b));
        }
    }
}
