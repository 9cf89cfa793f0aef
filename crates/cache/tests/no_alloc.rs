//! A cache hit allocates nothing: plain answers, CNAME chains, NODATA, NXDOMAIN (also through
//! an ancestor's NXDOMAIN), RRSIGs with DO, stale answers and misses run under a counting
//! allocator that records every allocation made on this thread.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloc_count::allocations;
use cache::{AnswerMode, Cache, CacheAnswer, CacheConfig, NegativeKind, RrSet, Time, Trust};
use wire::{Class, Header, MessageWriter, Name, RType, Rcode};

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn set(owner: &str, rtype: RType, rdatas: Vec<Vec<u8>>) -> RrSet {
    RrSet {
        owner: name(owner),
        rtype,
        class: Class::IN,
        ttl: 300,
        rdatas,
        sigs: vec![vec![9; 80]],
    }
}

fn soa() -> RrSet {
    let mut rdata = name("ns.example.").as_wire().to_vec();
    rdata.extend_from_slice(name("host.example.").as_wire());
    rdata.extend_from_slice(&[0; 16]);
    rdata.extend_from_slice(&300u32.to_be_bytes());
    set("example.", RType::SOA, vec![rdata])
}

#[test]
fn answering_from_the_cache_allocates_nothing() {
    let cache = Cache::new(CacheConfig::default());
    let now = Time::from_millis(1_000_000);
    let ins = |s: RrSet| assert!(cache.insert_rrset(&s, Trust::AuthAnswer, now));
    ins(set(
        "www.example.",
        RType::A,
        vec![vec![192, 0, 2, 1], vec![192, 0, 2, 2]],
    ));
    ins(set(
        "www.example.",
        RType::MX,
        vec![b"\x00\x0a\x04mail\x07example\x00".to_vec()],
    ));
    ins(set(
        "alias.example.",
        RType::CNAME,
        vec![name("alias2.example.").as_wire().to_vec()],
    ));
    ins(set(
        "alias2.example.",
        RType::CNAME,
        vec![name("www.example.").as_wire().to_vec()],
    ));
    ins(set("old.example.", RType::A, vec![vec![192, 0, 2, 3]]));
    let nsec = set("www.example.", RType::NSEC, vec![vec![0, 0, 1, 0x40]]);
    let www = name("www.example.");
    cache.insert_negative(
        www.as_ref(),
        RType::TXT,
        NegativeKind::NoData,
        &soa(),
        &[nsec],
        now,
    );
    let gone = name("gone.example.");
    cache.insert_negative(
        gone.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa(),
        &[],
        now,
    );

    let plain = AnswerMode::default();
    let dnssec = AnswerMode {
        dnssec_ok: true,
        stale: false,
        validated: false,
    };
    let stale = AnswerMode {
        dnssec_ok: true,
        stale: true,
        validated: false,
    };
    let hit =
        |rcode| move |a: CacheAnswer| matches!(a, CacheAnswer::Hit { rcode: r, .. } if r == rcode);
    let noerror = hit(Rcode::NOERROR);
    let nxdomain = hit(Rcode::NXDOMAIN);
    let miss = |a: CacheAnswer| a == CacheAnswer::Miss;
    let later = now.plus_secs(400);
    #[allow(clippy::type_complexity)]
    let cases: [(
        &str,
        RType,
        AnswerMode,
        Time,
        &dyn Fn(CacheAnswer) -> bool,
        u16,
    ); 11] = [
        ("www.example.", RType::A, plain, now, &noerror, 2),
        ("WWW.Example.", RType::MX, dnssec, now, &noerror, 2),
        ("alias.example.", RType::A, plain, now, &noerror, 4),
        ("alias.example.", RType::A, dnssec, now, &noerror, 7),
        ("www.example.", RType::TXT, plain, now, &noerror, 0),
        ("www.example.", RType::TXT, dnssec, now, &noerror, 0),
        ("gone.example.", RType::A, plain, now, &nxdomain, 0),
        ("a.b.gone.example.", RType::AAAA, dnssec, now, &nxdomain, 0),
        ("nothing.example.", RType::A, plain, now, &miss, 0),
        ("old.example.", RType::A, plain, later, &miss, 0),
        ("old.example.", RType::A, stale, later, &noerror, 2),
    ];
    let mut buf = [0u8; 1232];
    for (q, qtype, mode, at, check, answers) in cases {
        let qname = name(q);
        let before = allocations();
        let mut w = MessageWriter::new(&mut buf, 1232, Header::default()).unwrap();
        w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
        let result = cache.answer(qname.as_ref(), qtype, mode, at, &mut w);
        let count = w.count(wire::Section::Answer);
        let allocated = allocations() - before;
        assert!(check(result), "{q} {qtype}: {result:?}");
        assert_eq!(count, answers, "{q} {qtype}");
        assert_eq!(allocated, 0, "{q} {qtype} allocated {allocated} times");
    }
}
