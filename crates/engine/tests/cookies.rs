//! DNS cookies as a server (RFC 7873, RFC 9018): the COOKIE option of every response to a
//! query that carried one (zone answers, errors, cache answers, resolutions written later),
//! FORMERR for a malformed option, BADCOOKIE when cookies are required over UDP, the valid
//! cookie reported to the transport, and no allocation on the way.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use alloc_count::allocations;
use cache::{Cache, CacheConfig, RrSet, Time, Trust};
use engine::{
    AnswerSource, Client, CookiePolicy, Engine, Outcome, QueryError, Resolver, Transport,
};
use events::{Action, Events};
use guard::cookie::server_cookie;
use guard::{Cookies, Secret};
use recursor::{Resolution, Security};
use wire::edns::{Cookie, OptionCode};
use wire::message::{Flags, Header, Message};
use wire::writer::MessageWriter;
use wire::{Class, Name, RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// Unix time 1,700,000,000 s, on the cache's millisecond scale.
const NOW: Time = Time::from_millis(1_700_000_000_000);
const NOW_SECS: u32 = 1_700_000_000;
const SECRET: Secret = Secret::new([0x5a; 16]);
const CLIENT_COOKIE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn engine(require: bool) -> Engine {
    common::engine(10).with_cookies(policy(require))
}

fn policy(require: bool) -> CookiePolicy {
    CookiePolicy {
        cookies: Arc::new(Cookies::new(SECRET, None)),
        require,
        events: Events::disabled(),
    }
}

fn client(addr: &str, transport: Transport) -> Client {
    Client {
        addr: addr.parse().unwrap(),
        transport,
    }
}

/// A query for `name` A with EDNS and, when given, a COOKIE option of these bytes.
fn query(name: &str, cookie: Option<&[u8]>) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id: 0x7777,
        flags: Flags::default().with_rd(true),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), RType::A, Class::IN)
        .unwrap();
    let mut opt = w.opt(1232, Rcode::NOERROR, false).unwrap();
    if let Some(cookie) = cookie {
        opt.option(OptionCode::COOKIE, cookie).unwrap();
    }
    opt.finish().unwrap();
    w.finish().to_vec()
}

/// The client cookie followed by `server`.
fn cookie(server: &[u8]) -> Vec<u8> {
    let mut c = CLIENT_COOKIE.to_vec();
    c.extend_from_slice(server);
    c
}

/// The COOKIE option of a response: (client cookie, server cookie).
fn response_cookie(response: &[u8]) -> Option<([u8; 8], Vec<u8>)> {
    let m = Message::parse(response).unwrap();
    let data = m.edns()?.option(OptionCode::COOKIE)?;
    let c = Cookie::parse(data).unwrap();
    Some((c.client, c.server.to_vec()))
}

fn reply(outcome: Outcome) -> engine::ReplyInfo {
    match outcome {
        Outcome::Reply(info) => info,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_client_cookie_gets_a_server_cookie_that_is_then_valid() {
    let engine = engine(false);
    let udp = client("192.0.2.7", Transport::Udp);
    let mut out = [0u8; 1232];
    let q = query("host1.example.test.", Some(&CLIENT_COOKIE));
    let info = reply(engine.respond(&q, &udp, NOW, &mut out));
    assert_eq!(info.rcode, Rcode::NOERROR);
    assert!(!info.valid_cookie);
    let (echoed, server) = response_cookie(&out[..info.len]).unwrap();
    assert_eq!(echoed, CLIENT_COOKIE);
    let expected = server_cookie(
        &SECRET,
        &CLIENT_COOKIE,
        "192.0.2.7".parse().unwrap(),
        NOW_SECS,
    );
    assert_eq!(server, expected);
    assert_eq!(
        Message::parse(&out[..info.len]).unwrap().header().ancount,
        1
    );

    // Sent back, it is valid, and echoed while fresh.
    let q = query("host1.example.test.", Some(&cookie(&server)));
    let info = reply(engine.respond(&q, &udp, NOW.plus_secs(60), &mut out));
    assert!(info.valid_cookie);
    assert_eq!(response_cookie(&out[..info.len]).unwrap().1, server);

    // From another address it is not: answered, with a fresh cookie, not valid.
    let other = client("192.0.2.8", Transport::Udp);
    let info = reply(engine.respond(&q, &other, NOW, &mut out));
    assert_eq!(info.rcode, Rcode::NOERROR);
    assert!(!info.valid_cookie);
    let fresh = response_cookie(&out[..info.len]).unwrap().1;
    assert_ne!(fresh, server);
    assert_eq!(fresh.len(), 16);
}

#[test]
fn queries_without_a_cookie_and_engines_without_cookies_send_none() {
    let udp = client("192.0.2.7", Transport::Udp);
    let mut out = [0u8; 1232];
    let info =
        reply(engine(true).respond(&query("host1.example.test.", None), &udp, NOW, &mut out));
    assert_eq!(
        info.rcode,
        Rcode::NOERROR,
        "no COOKIE option: answered as before"
    );
    assert!(response_cookie(&out[..info.len]).is_none());

    // Cookies off: the option is ignored as by a server that does not know it, even a
    // malformed one.
    let plain = common::engine(10);
    for c in [&CLIENT_COOKIE[..], &[1, 2, 3][..]] {
        let info =
            reply(plain.respond(&query("host1.example.test.", Some(c)), &udp, NOW, &mut out));
        assert_eq!(info.rcode, Rcode::NOERROR);
        assert!(response_cookie(&out[..info.len]).is_none());
    }
}

#[test]
fn a_malformed_cookie_option_is_formerr() {
    let engine = engine(false);
    let udp = client("192.0.2.7", Transport::Udp);
    let mut out = [0u8; 1232];
    for bad in [&[1u8; 7][..], &[1; 9], &[1; 15], &[1; 41]] {
        let info = reply(engine.respond(
            &query("host1.example.test.", Some(bad)),
            &udp,
            NOW,
            &mut out,
        ));
        assert_eq!(info.rcode, Rcode::FORMERR, "{} bytes", bad.len());
        assert_eq!(
            info.source,
            AnswerSource::Error(QueryError::BadCookieOption)
        );
        let m = Message::parse(&out[..info.len]).unwrap();
        assert!(m.edns().is_some(), "FORMERR keeps the OPT record");
        assert!(response_cookie(&out[..info.len]).is_none());
    }
    // A server cookie of another length (8 to 32) is well formed, merely not ours.
    let info = reply(engine.respond(
        &query("host1.example.test.", Some(&cookie(&[9; 8]))),
        &udp,
        NOW,
        &mut out,
    ));
    assert_eq!(info.rcode, Rcode::NOERROR);
    assert!(!info.valid_cookie);
}

#[test]
fn required_cookies_get_badcookie_over_udp_only() {
    let engine = engine(true);
    let udp = client("192.0.2.7", Transport::Udp);
    let mut out = [0u8; 1232];
    // A client cookie alone: BADCOOKIE, no answer, a server cookie to retry with.
    let info = reply(engine.respond(
        &query("host1.example.test.", Some(&CLIENT_COOKIE)),
        &udp,
        NOW,
        &mut out,
    ));
    assert_eq!(info.rcode, Rcode::BADCOOKIE);
    assert_eq!(info.source, AnswerSource::Error(QueryError::BadCookie));
    let m = Message::parse(&out[..info.len]).unwrap();
    assert_eq!(m.rcode(), Rcode::BADCOOKIE);
    assert_eq!((m.header().qdcount, m.header().ancount), (1, 0));
    let (_, server) = response_cookie(&out[..info.len]).unwrap();

    // Retried with it: answered.
    let q = query("host1.example.test.", Some(&cookie(&server)));
    let info = reply(engine.respond(&q, &udp, NOW, &mut out));
    assert_eq!(info.rcode, Rcode::NOERROR);
    assert!(info.valid_cookie);
    assert_eq!(
        Message::parse(&out[..info.len]).unwrap().header().ancount,
        1
    );

    // A forged server cookie: BADCOOKIE again.
    let mut forged = server.clone();
    forged[15] ^= 0xff;
    let info = reply(engine.respond(
        &query("host1.example.test.", Some(&cookie(&forged))),
        &udp,
        NOW,
        &mut out,
    ));
    assert_eq!(info.rcode, Rcode::BADCOOKIE);

    // TCP is never required.
    let tcp = client("192.0.2.7", Transport::Tcp);
    let info = reply(engine.respond(
        &query("host1.example.test.", Some(&CLIENT_COOKIE)),
        &tcp,
        NOW,
        &mut out,
    ));
    assert_eq!(info.rcode, Rcode::NOERROR);
    assert!(response_cookie(&out[..info.len]).is_some());
}

#[test]
fn error_responses_carry_the_cookie() {
    let engine = engine(false);
    let udp = client("192.0.2.7", Transport::Udp);
    let mut out = [0u8; 1232];
    // Not our zone (REFUSED), and NXDOMAIN.
    for (name, rcode) in [
        ("elsewhere.example.", Rcode::REFUSED),
        ("nope.example.test.", Rcode::NXDOMAIN),
    ] {
        let info = reply(engine.respond(&query(name, Some(&CLIENT_COOKIE)), &udp, NOW, &mut out));
        assert_eq!(info.rcode, rcode, "{name}");
        assert_eq!(response_cookie(&out[..info.len]).unwrap().0, CLIENT_COOKIE);
    }
}

fn a(owner: &str) -> RrSet {
    RrSet {
        owner: owner.parse().unwrap(),
        rtype: RType::A,
        class: Class::IN,
        ttl: 300,
        rdatas: vec![vec![192, 0, 2, 1]],
        sigs: Vec::new(),
    }
}

#[test]
fn cache_answers_and_resolutions_carry_the_cookie() {
    let cache = Arc::new(Cache::new(CacheConfig::default()));
    cache.insert_rrset(&a("cached.example."), Trust::AuthAnswer, NOW);
    let engine = common::engine(10)
        .with_resolver(Resolver::new(cache, Resolver::default_acl()))
        .with_cookies(policy(false));
    let me = client("127.0.0.1", Transport::Udp);
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let valid = server_cookie(&SECRET, &CLIENT_COOKIE, ip, NOW_SECS);
    let mut out = vec![0u8; 4096];

    // From the cache.
    let q = query("cached.example.", Some(&cookie(&valid)));
    let info = reply(engine.respond(&q, &me, NOW, &mut out));
    assert_eq!(info.source, AnswerSource::Cache { stale: false });
    assert!(info.valid_cookie);
    assert_eq!(response_cookie(&out[..info.len]).unwrap().1, valid);

    // Resolved later: the request keeps the cookie for the answer and for errors.
    let q = query("resolved.example.", Some(&cookie(&valid)));
    let Outcome::Recurse(request) = engine.respond(&q, &me, NOW, &mut out) else {
        panic!()
    };
    assert!(request.valid_cookie());
    let resolution = Resolution {
        rcode: Rcode::NOERROR,
        answer: vec![a("resolved.example.")],
        authority: Vec::new(),
        extended_error: None,
        security: Security::Indeterminate,
    };
    let info = engine.write_resolution(&request, &resolution, &mut out);
    assert!(info.valid_cookie);
    assert_eq!(
        Message::parse(&out[..info.len]).unwrap().header().ancount,
        1
    );
    assert_eq!(
        response_cookie(&out[..info.len]).unwrap(),
        (CLIENT_COOKIE, valid.to_vec())
    );
    let info = engine
        .write_error(&request, QueryError::ResolverBusy, &mut out)
        .unwrap();
    assert_eq!(info.rcode, Rcode::SERVFAIL);
    assert!(info.valid_cookie);
    assert_eq!(response_cookie(&out[..info.len]).unwrap().1, valid);

    // A client without a valid server cookie: its resolution gets a fresh one.
    let q = query("resolved.example.", Some(&CLIENT_COOKIE));
    let Outcome::Recurse(request) = engine.respond(&q, &me, NOW, &mut out) else {
        panic!()
    };
    assert!(!request.valid_cookie());
    let info = engine.write_resolution(&request, &resolution, &mut out);
    assert!(!info.valid_cookie);
    assert_eq!(response_cookie(&out[..info.len]).unwrap().1, valid);
}

#[test]
fn checking_and_writing_cookies_allocates_nothing() {
    let engine = engine(true);
    let udp = client("192.0.2.7", Transport::Udp);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let valid = server_cookie(&SECRET, &CLIENT_COOKIE, ip, NOW_SECS);
    let queries = [
        query("host1.example.test.", Some(&CLIENT_COOKIE)),
        query("host1.example.test.", Some(&cookie(&valid))),
        query("host1.example.test.", Some(&cookie(&[0; 16]))),
        query("host1.example.test.", Some(&[0; 5])),
    ];
    let mut out = [0u8; 1232];
    // The first look at the shared secrets on a thread registers it with `ArcSwap` (once per
    // thread, as a worker starts); after that nothing allocates.
    let _ = engine.respond(&queries[0], &udp, NOW, &mut out);
    for q in &queries {
        let before = allocations();
        let outcome = engine.respond(q, &udp, NOW, &mut out);
        assert_eq!(allocations() - before, 0, "{outcome:?}");
    }
}

#[test]
fn invalid_cookies_and_badcookie_are_security_events() {
    let count = |p: &CookiePolicy| p.events.count(Action::CookieFailure);
    let udp = client("192.0.2.7", Transport::Udp);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let valid = server_cookie(&SECRET, &CLIENT_COOKIE, ip, NOW_SECS);
    let mut out = [0u8; 1232];
    for require in [false, true] {
        let p = policy(require);
        let engine = common::engine(10).with_cookies(p.clone());
        let mut ask =
            |c: &[u8]| engine.respond(&query("host1.example.test.", Some(c)), &udp, NOW, &mut out);
        // First contact and a valid cookie: no event (unless BADCOOKIE is sent).
        let _ = ask(&CLIENT_COOKIE);
        assert_eq!(count(&p), u64::from(require), "require {require}");
        let _ = ask(&cookie(&valid));
        assert_eq!(count(&p), u64::from(require));
        // An invalid one: one event either way ("cookie invalid", or "badcookie").
        let _ = ask(&cookie(&[0; 16]));
        assert_eq!(count(&p), 1 + u64::from(require));
    }
}
