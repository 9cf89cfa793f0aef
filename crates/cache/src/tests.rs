//! Unit tests of the cache as a whole, one concept at a time.

use super::*;
use wire::{Header, Message, Section};

fn name(s: &str) -> Name {
    s.parse().unwrap()
}

fn set(owner: &str, rtype: RType, ttl: u32, rdatas: Vec<Vec<u8>>) -> RrSet {
    RrSet {
        owner: name(owner),
        rtype,
        class: Class::IN,
        ttl,
        rdatas,
        sigs: vec![],
    }
}

fn a(owner: &str, ttl: u32, last: u8) -> RrSet {
    set(owner, RType::A, ttl, vec![vec![192, 0, 2, last]])
}

fn cname(owner: &str, target: &str, ttl: u32) -> RrSet {
    set(
        owner,
        RType::CNAME,
        ttl,
        vec![name(target).as_wire().to_vec()],
    )
}

fn ns(owner: &str, target: &str, ttl: u32) -> RrSet {
    set(owner, RType::NS, ttl, vec![name(target).as_wire().to_vec()])
}

fn soa(zone: &str, ttl: u32, minimum: u32) -> RrSet {
    let mut rdata = name("ns.").as_wire().to_vec();
    rdata.extend_from_slice(name("host.").as_wire());
    for v in [1u32, 7200, 900, 1_209_600, minimum] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    set(zone, RType::SOA, ttl, vec![rdata])
}

fn cache_with(f: impl FnOnce(&mut CacheConfig)) -> Cache {
    let mut config = CacheConfig {
        max_bytes: 1 << 20,
        shards: 4,
        ..CacheConfig::default()
    };
    f(&mut config);
    Cache::new(config)
}

fn cache() -> Cache {
    cache_with(|_| {})
}

fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

/// A record as the client sees it.
#[derive(Debug, PartialEq, Eq)]
struct Rr {
    section: Section,
    owner: Name,
    rtype: RType,
    ttl: u32,
}

/// Asks the cache into a fresh message and reads back what it wrote.
fn ask_with(
    c: &Cache,
    q: &str,
    qtype: RType,
    mode: AnswerMode,
    now: Time,
    limit: usize,
) -> (CacheAnswer, Vec<Rr>) {
    let mut buf = [0u8; 4096];
    let mut w = MessageWriter::new(&mut buf, limit, Header::default()).unwrap();
    let qname = name(q);
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    let result = c.answer(qname.as_ref(), qtype, mode, now, &mut w);
    let bytes = w.finish();
    let msg = Message::parse(bytes).unwrap();
    let mut rrs = vec![];
    for section in [Section::Answer, Section::Authority] {
        for r in msg.records(section) {
            rrs.push(Rr {
                section,
                owner: r.owner().unwrap(),
                rtype: r.rtype,
                ttl: r.ttl,
            });
        }
    }
    (result, rrs)
}

fn ask(c: &Cache, q: &str, qtype: RType, now: Time) -> (CacheAnswer, Vec<Rr>) {
    ask_with(c, q, qtype, AnswerMode::default(), now, 4096)
}

fn hit(rcode: Rcode) -> CacheAnswer {
    CacheAnswer::Hit {
        rcode,
        prefetch: false,
        stale: false,
        secure: false,
    }
}

#[test]
fn the_cache_is_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Cache>();
}

// --- configuration ----------------------------------------------------------------------------

#[test]
fn config_defaults_validate_and_bounds_are_checked() {
    assert_eq!(CacheConfig::default().validate(), Ok(()));
    let bad = [
        CacheConfig {
            max_bytes: 1000,
            ..CacheConfig::default()
        },
        CacheConfig {
            shards: 3,
            ..CacheConfig::default()
        },
        CacheConfig {
            shards: 2048,
            ..CacheConfig::default()
        },
        CacheConfig {
            min_ttl: 10,
            max_ttl: 5,
            ..CacheConfig::default()
        },
    ];
    for config in bad {
        assert!(config.validate().is_err(), "{config:?}");
    }
    let c = Cache::new(CacheConfig {
        shards: 3,
        ..CacheConfig::default()
    });
    assert_eq!(c.config().shards, 4);
}

// --- RRsets, TTLs and trust -------------------------------------------------------------------

#[test]
fn answers_with_remaining_ttl_case_insensitively() {
    let c = cache();
    assert!(c.insert_rrset(&a("Www.Example.", 300, 1), Trust::AuthAnswer, secs(0)));
    let (result, rrs) = ask(&c, "WWW.EXAMPLE.", RType::A, secs(100));
    assert_eq!(result, hit(Rcode::NOERROR));
    assert_eq!(rrs.len(), 1);
    assert_eq!((rrs[0].rtype, rrs[0].ttl), (RType::A, 200));
    let (got, trust) = c
        .rrset(name("www.example.").as_ref(), RType::A, secs(250))
        .unwrap();
    assert_eq!((got.ttl, trust), (50, Trust::AuthAnswer));
    assert_eq!(got.rdatas, vec![vec![192, 0, 2, 1]]);
    assert!(
        c.rrset(name("www.example.").as_ref(), RType::A, secs(300))
            .is_none()
    );
    assert_eq!(
        ask(&c, "www.example.", RType::AAAA, secs(1)).0,
        CacheAnswer::Miss
    );
    assert_eq!(
        ask(&c, "www.example.", RType::A, secs(300)).0,
        CacheAnswer::Miss
    );
}

#[test]
fn ttls_are_clamped() {
    let c = cache_with(|c| {
        c.min_ttl = 60;
        c.max_ttl = 3600;
    });
    c.insert_rrset(&a("low.", 5, 1), Trust::Answer, secs(0));
    c.insert_rrset(&a("high.", 1_000_000, 1), Trust::Answer, secs(0));
    let ttl = |n: &str| c.rrset(name(n).as_ref(), RType::A, secs(0)).unwrap().0.ttl;
    assert_eq!((ttl("low."), ttl("high.")), (60, 3600));
}

#[test]
fn lower_trust_never_replaces_unexpired_higher_trust() {
    let c = cache();
    let n = name("ns.example.");
    assert!(c.insert_rrset(&a("ns.example.", 100, 1), Trust::AuthAnswer, secs(0)));
    assert!(!c.insert_rrset(&a("ns.example.", 100, 2), Trust::Glue, secs(10)));
    assert!(!c.insert_rrset(&a("ns.example.", 100, 2), Trust::Answer, secs(10)));
    let (got, trust) = c.rrset(n.as_ref(), RType::A, secs(10)).unwrap();
    assert_eq!((got.rdatas[0][3], trust), (1, Trust::AuthAnswer));
    // Equal trust refreshes; expired data gives way to anything.
    assert!(c.insert_rrset(&a("ns.example.", 100, 3), Trust::AuthAnswer, secs(20)));
    assert!(c.insert_rrset(&a("ns.example.", 100, 4), Trust::Glue, secs(120)));
    let (got, trust) = c.rrset(n.as_ref(), RType::A, secs(120)).unwrap();
    assert_eq!((got.rdatas[0][3], trust), (4, Trust::Glue));
    // Higher trust replaces lower.
    assert!(c.insert_rrset(&a("ns.example.", 100, 5), Trust::Authority, secs(121)));
    assert_eq!(
        c.rrset(n.as_ref(), RType::A, secs(121)).unwrap().1,
        Trust::Authority
    );
}

#[test]
fn clients_are_answered_only_from_authority_and_above() {
    let c = cache();
    c.insert_rrset(&a("glue.example.", 100, 1), Trust::Glue, secs(0));
    c.insert_rrset(&a("add.example.", 100, 1), Trust::Additional, secs(0));
    c.insert_rrset(&a("auth.example.", 100, 1), Trust::Authority, secs(0));
    assert_eq!(
        ask(&c, "glue.example.", RType::A, secs(1)).0,
        CacheAnswer::Miss
    );
    assert_eq!(
        ask(&c, "add.example.", RType::A, secs(1)).0,
        CacheAnswer::Miss
    );
    assert_eq!(
        ask(&c, "auth.example.", RType::A, secs(1)).0,
        hit(Rcode::NOERROR)
    );
    // The recursor still sees glue.
    assert!(
        c.rrset(name("glue.example.").as_ref(), RType::A, secs(1))
            .is_some()
    );
}

#[test]
fn empty_rrsets_and_zero_ttls_are_not_stored() {
    let c = cache();
    assert!(!c.insert_rrset(&set("x.", RType::A, 10, vec![]), Trust::Answer, secs(0)));
    // TTL zero: use once, do not cache.
    assert!(!c.insert_rrset(&a("x.", 0, 1), Trust::Answer, secs(0)));
    let q = name("x.");
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa(".", 0, 300),
        &[],
        secs(0),
    );
    c.insert_failure(q.as_ref(), RType::A, 0, secs(0));
    assert_eq!(c.stats().entries, 0);
    // Unless min_ttl says otherwise.
    let c = cache_with(|c| c.min_ttl = 5);
    assert!(c.insert_rrset(&a("x.", 0, 1), Trust::Answer, secs(0)));
}

// --- negative answers -------------------------------------------------------------------------

#[test]
fn negative_ttl_is_the_smaller_of_soa_ttl_and_minimum_capped() {
    let c = cache_with(|c| c.max_negative_ttl = 1000);
    let q = name("x.example.");
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NoData,
        &soa("example.", 3600, 300),
        &[],
        secs(0),
    );
    let n = c.negative(q.as_ref(), RType::A, secs(0)).unwrap();
    assert_eq!((n.kind, n.soa.ttl), (NegativeKind::NoData, 300));
    c.insert_negative(
        q.as_ref(),
        RType::MX,
        NegativeKind::NoData,
        &soa("example.", 200, 900),
        &[],
        secs(0),
    );
    assert_eq!(
        c.negative(q.as_ref(), RType::MX, secs(50)).unwrap().soa.ttl,
        150
    );
    c.insert_negative(
        q.as_ref(),
        RType::TXT,
        NegativeKind::NoData,
        &soa("example.", 9999, 9999),
        &[],
        secs(0),
    );
    assert_eq!(
        c.negative(q.as_ref(), RType::TXT, secs(0)).unwrap().soa.ttl,
        1000
    );
    // NODATA is per type.
    assert!(c.negative(q.as_ref(), RType::AAAA, secs(0)).is_none());
    assert!(c.negative(q.as_ref(), RType::A, secs(300)).is_none());
}

#[test]
fn negative_answers_need_an_soa() {
    let c = cache();
    let q = name("x.example.");
    let not_soa = a("example.", 300, 1);
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &not_soa,
        &[],
        secs(0),
    );
    let short = set("example.", RType::SOA, 300, vec![vec![0, 0, 1, 2]]);
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &short,
        &[],
        secs(0),
    );
    assert!(c.negative(q.as_ref(), RType::A, secs(0)).is_none());
    assert_eq!(c.stats().entries, 0);
}

#[test]
fn nxdomain_cuts_the_tree_below_it() {
    let c = cache();
    let gone = name("Gone.Example.");
    let mut nsec = set("gone.example.", RType::NSEC, 300, vec![vec![0, 0]]);
    nsec.sigs = vec![vec![7; 40]];
    c.insert_negative(
        gone.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa("example.", 600, 600),
        &[nsec.clone()],
        secs(0),
    );
    for q in ["gone.example.", "a.b.GONE.example."] {
        let n = c.negative(name(q).as_ref(), RType::MX, secs(10)).unwrap();
        assert_eq!(n.kind, NegativeKind::NxDomain);
        assert_eq!(n.soa.ttl, 590);
        assert_eq!(n.proofs.len(), 1);
        assert_eq!(n.proofs[0].sigs, nsec.sigs);
        let (result, rrs) = ask(&c, q, RType::A, secs(10));
        assert_eq!(result, hit(Rcode::NXDOMAIN));
        assert_eq!(rrs.len(), 1);
        assert_eq!(
            (rrs[0].section, rrs[0].rtype, rrs[0].ttl),
            (Section::Authority, RType::SOA, 590)
        );
    }
    assert!(
        c.negative(name("example.").as_ref(), RType::A, secs(10))
            .is_none()
    );
    assert_eq!(
        ask(&c, "other.example.", RType::A, secs(10)).0,
        CacheAnswer::Miss
    );
    // With DO the proof and the signatures come along.
    let mode = AnswerMode {
        dnssec_ok: true,
        stale: false,
        validated: false,
    };
    let (_, rrs) = ask_with(&c, "x.gone.example.", RType::A, mode, secs(10), 4096);
    let types: Vec<RType> = rrs.iter().map(|r| r.rtype).collect();
    assert_eq!(types, [RType::SOA, RType::NSEC, RType::RRSIG]);
}

#[test]
fn negative_and_positive_answers_replace_each_other() {
    let c = cache();
    let q = name("flip.example.");
    c.insert_rrset(&a("flip.example.", 300, 1), Trust::AuthAnswer, secs(0));
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NoData,
        &soa("example.", 60, 60),
        &[],
        secs(1),
    );
    assert!(c.rrset(q.as_ref(), RType::A, secs(1)).is_none());
    let (result, rrs) = ask(&c, "flip.example.", RType::A, secs(2));
    assert_eq!((result, rrs[0].rtype), (hit(Rcode::NOERROR), RType::SOA));
    c.insert_rrset(&a("flip.example.", 300, 2), Trust::AuthAnswer, secs(3));
    assert!(c.negative(q.as_ref(), RType::A, secs(3)).is_none());
    c.insert_negative(
        q.as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa("example.", 60, 60),
        &[],
        secs(4),
    );
    assert!(c.rrset(q.as_ref(), RType::A, secs(4)).is_none());
    c.insert_rrset(&a("flip.example.", 300, 3), Trust::Answer, secs(5));
    assert!(c.negative(q.as_ref(), RType::A, secs(5)).is_none());
}

// --- delegations and failures -----------------------------------------------------------------

#[test]
fn delegations_are_kept_apart_from_answers() {
    let c = cache();
    c.insert_delegation(&ns("example.", "ns1.parent-side.", 100), secs(0));
    c.insert_delegation(&ns(".", "a.root.", 1000), secs(0));
    // The child's own NS RRset, authoritative, with a long TTL.
    c.insert_rrset(
        &ns("example.", "ns2.child-side.", 10_000),
        Trust::AuthAnswer,
        secs(50),
    );
    let q = name("www.Example.");
    let d = c.closest_delegation(q.as_ref(), secs(60)).unwrap();
    assert_eq!(d.owner, name("example."));
    assert_eq!(d.rdatas[0], name("ns1.parent-side.").as_wire());
    assert_eq!(d.ttl, 40);
    let (child, _) = c
        .rrset(name("example.").as_ref(), RType::NS, secs(60))
        .unwrap();
    assert_eq!(child.rdatas[0], name("ns2.child-side.").as_wire());
    // The child's NS does not keep the delegation alive: past its TTL the root's is next.
    let d = c.closest_delegation(q.as_ref(), secs(100)).unwrap();
    assert_eq!(d.owner, Name::root());
    // A newer referral replaces the delegation.
    c.insert_delegation(&ns("example.", "ns3.parent-side.", 100), secs(101));
    let d = c.closest_delegation(q.as_ref(), secs(101)).unwrap();
    assert_eq!(d.rdatas[0], name("ns3.parent-side.").as_wire());
    assert!(c.closest_delegation(q.as_ref(), secs(5000)).is_none());
}

#[test]
fn failures_are_remembered_for_their_ttl() {
    let c = cache();
    let q = name("broken.example.");
    c.insert_failure(q.as_ref(), RType::A, 5, secs(0));
    assert!(c.failure(name("BROKEN.example.").as_ref(), RType::A, secs(4)));
    assert!(!c.failure(q.as_ref(), RType::AAAA, secs(4)));
    assert!(!c.failure(q.as_ref(), RType::A, secs(5)));
    assert_eq!(
        ask(&c, "broken.example.", RType::A, secs(1)).0,
        CacheAnswer::Miss
    );
}

// --- CNAME chains and writing -----------------------------------------------------------------

#[test]
fn cname_chains_are_followed_through_the_cache() {
    let c = cache();
    c.insert_rrset(
        &cname("a.example.", "b.example.", 300),
        Trust::AuthAnswer,
        secs(0),
    );
    c.insert_rrset(
        &cname("b.example.", "c.other.", 100),
        Trust::Answer,
        secs(0),
    );
    c.insert_rrset(&a("c.other.", 200, 9), Trust::AuthAnswer, secs(0));
    let (result, rrs) = ask(&c, "a.example.", RType::A, secs(10));
    assert_eq!(result, hit(Rcode::NOERROR));
    let got: Vec<(RType, u32)> = rrs.iter().map(|r| (r.rtype, r.ttl)).collect();
    assert_eq!(
        got,
        [(RType::CNAME, 290), (RType::CNAME, 90), (RType::A, 190)]
    );
    assert_eq!(rrs[2].owner, name("c.other."));
    // Asking for the CNAME itself stops at it.
    let (_, rrs) = ask(&c, "a.example.", RType::CNAME, secs(10));
    assert_eq!(rrs.len(), 1);
    // A missing link is a miss; a negative end is written after the chain.
    c.insert_rrset(
        &cname("d.example.", "nowhere.example.", 300),
        Trust::AuthAnswer,
        secs(0),
    );
    assert_eq!(
        ask(&c, "d.example.", RType::A, secs(10)).0,
        CacheAnswer::Miss
    );
    c.insert_negative(
        name("nowhere.example.").as_ref(),
        RType::A,
        NegativeKind::NxDomain,
        &soa("example.", 60, 60),
        &[],
        secs(0),
    );
    let (result, rrs) = ask(&c, "d.example.", RType::A, secs(10));
    assert_eq!(result, hit(Rcode::NXDOMAIN));
    let got: Vec<(Section, RType)> = rrs.iter().map(|r| (r.section, r.rtype)).collect();
    assert_eq!(
        got,
        [
            (Section::Answer, RType::CNAME),
            (Section::Authority, RType::SOA)
        ]
    );
}

#[test]
fn cname_loops_and_long_chains_are_misses() {
    let c = cache();
    c.insert_rrset(
        &cname("x.loop.", "y.loop.", 300),
        Trust::AuthAnswer,
        secs(0),
    );
    c.insert_rrset(
        &cname("y.loop.", "x.loop.", 300),
        Trust::AuthAnswer,
        secs(0),
    );
    assert_eq!(ask(&c, "x.loop.", RType::A, secs(1)).0, CacheAnswer::Miss);
    for i in 0..=MAX_CNAME_CHAIN {
        let from = format!("c{i}.chain.");
        let to = format!("c{}.chain.", i + 1);
        c.insert_rrset(&cname(&from, &to, 300), Trust::AuthAnswer, secs(0));
    }
    c.insert_rrset(
        &a(&format!("c{}.chain.", MAX_CNAME_CHAIN + 1), 300, 1),
        Trust::AuthAnswer,
        secs(0),
    );
    assert_eq!(ask(&c, "c0.chain.", RType::A, secs(1)).0, CacheAnswer::Miss);
    // Sixteen CNAMEs are fine.
    let (result, rrs) = ask(&c, "c1.chain.", RType::A, secs(1));
    assert_eq!(
        (result, rrs.len()),
        (hit(Rcode::NOERROR), MAX_CNAME_CHAIN + 1)
    );
}

#[test]
fn rrsigs_are_written_only_with_do() {
    let c = cache();
    let mut s = a("signed.example.", 300, 1);
    s.sigs = vec![vec![1; 50], vec![2; 60]];
    c.insert_rrset(&s, Trust::AuthAnswer, secs(0));
    let (_, rrs) = ask(&c, "signed.example.", RType::A, secs(0));
    assert_eq!(rrs.len(), 1);
    let mode = AnswerMode {
        dnssec_ok: true,
        stale: false,
        validated: false,
    };
    let (_, rrs) = ask_with(&c, "signed.example.", RType::A, mode, secs(0), 4096);
    let types: Vec<RType> = rrs.iter().map(|r| r.rtype).collect();
    assert_eq!(types, [RType::A, RType::RRSIG, RType::RRSIG]);
    assert!(rrs.iter().all(|r| r.ttl == 300));
    assert_eq!(
        c.rrset(name("signed.example.").as_ref(), RType::A, secs(0))
            .unwrap()
            .0
            .sigs,
        s.sigs
    );
}

#[test]
fn an_answer_too_big_for_the_limit_is_truncated_whole() {
    let c = cache();
    let txt: Vec<Vec<u8>> = (0..10)
        .map(|i| vec![60; 61].into_iter().chain([i]).collect())
        .collect();
    c.insert_rrset(
        &set("big.example.", RType::TXT, 300, txt),
        Trust::AuthAnswer,
        secs(0),
    );
    let (result, rrs) = ask_with(
        &c,
        "big.example.",
        RType::TXT,
        AnswerMode::default(),
        secs(0),
        512,
    );
    assert_eq!((result, rrs.len()), (CacheAnswer::Truncated, 0));
    let (result, rrs) = ask_with(
        &c,
        "big.example.",
        RType::TXT,
        AnswerMode::default(),
        secs(0),
        4096,
    );
    assert_eq!((result, rrs.len()), (hit(Rcode::NOERROR), 10));
}

// --- serve-stale and prefetch -----------------------------------------------------------------

#[test]
fn stale_entries_are_served_only_in_stale_mode_within_max_stale() {
    let c = cache_with(|c| {
        c.max_stale = 100;
        c.stale_answer_ttl = 30;
    });
    c.insert_rrset(&a("old.example.", 10, 1), Trust::AuthAnswer, secs(0));
    let stale = AnswerMode {
        dnssec_ok: false,
        stale: true,
        validated: false,
    };
    assert_eq!(
        ask(&c, "old.example.", RType::A, secs(20)).0,
        CacheAnswer::Miss
    );
    let (result, rrs) = ask_with(&c, "old.example.", RType::A, stale, secs(20), 4096);
    assert_eq!(
        result,
        CacheAnswer::Hit {
            rcode: Rcode::NOERROR,
            prefetch: false,
            stale: true,
            secure: false,
        }
    );
    assert_eq!(rrs[0].ttl, 30);
    assert_eq!(
        ask_with(&c, "old.example.", RType::A, stale, secs(110), 4096).0,
        CacheAnswer::Miss
    );
    // Fresh data in stale mode is not stale.
    let (result, _) = ask_with(&c, "old.example.", RType::A, stale, secs(5), 4096);
    assert_eq!(result, hit(Rcode::NOERROR));
    // Without serve-stale, never.
    let off = cache_with(|c| c.serve_stale = false);
    off.insert_rrset(&a("old.example.", 10, 1), Trust::AuthAnswer, secs(0));
    assert_eq!(
        ask_with(&off, "old.example.", RType::A, stale, secs(20), 4096).0,
        CacheAnswer::Miss
    );
}

#[test]
fn prefetch_is_reported_once_per_entry_in_the_last_tenth() {
    let c = cache();
    c.insert_rrset(
        &cname("p.example.", "q.example.", 1000),
        Trust::AuthAnswer,
        secs(0),
    );
    c.insert_rrset(&a("q.example.", 100, 1), Trust::AuthAnswer, secs(0));
    let prefetch = |t| match ask(&c, "p.example.", RType::A, t).0 {
        CacheAnswer::Hit { prefetch, .. } => prefetch,
        other => panic!("{other:?}"),
    };
    assert!(!prefetch(secs(50)));
    assert!(prefetch(secs(91)));
    assert!(!prefetch(secs(92)));
    // A refreshed entry can ask again.
    c.insert_rrset(&a("q.example.", 100, 1), Trust::AuthAnswer, secs(92));
    assert!(prefetch(secs(182)));
    let off = cache_with(|c| c.prefetch = false);
    off.insert_rrset(&a("q.example.", 100, 1), Trust::AuthAnswer, secs(0));
    assert_eq!(
        ask(&off, "q.example.", RType::A, secs(95)).0,
        hit(Rcode::NOERROR)
    );
}

// --- operations -------------------------------------------------------------------------------

#[test]
fn flush_removes_a_name_or_a_subtree() {
    let c = cache();
    for n in ["example.", "www.example.", "a.b.example.", "other."] {
        c.insert_rrset(&a(n, 300, 1), Trust::AuthAnswer, secs(0));
        c.insert_rrset(
            &set(n, RType::TXT, 300, vec![vec![0]]),
            Trust::AuthAnswer,
            secs(0),
        );
    }
    c.insert_delegation(&ns("example.", "ns.", 300), secs(0));
    assert_eq!(c.flush(name("WWW.example.").as_ref(), false), 2);
    assert_eq!(c.flush(name("example.").as_ref(), false), 3);
    assert_eq!(c.stats().entries, 4);
    assert_eq!(c.flush(name("example.").as_ref(), true), 2);
    assert!(
        c.rrset(name("other.").as_ref(), RType::A, secs(0))
            .is_some()
    );
    c.flush_all();
    assert_eq!(c.stats().entries, 0);
    assert_eq!(c.stats().bytes, 0);
}

#[test]
fn stats_count_what_happens() {
    let c = cache();
    c.insert_rrset(&a("s.example.", 300, 1), Trust::AuthAnswer, secs(0));
    ask(&c, "s.example.", RType::A, secs(0));
    ask(&c, "s.example.", RType::A, secs(0));
    ask(&c, "t.example.", RType::A, secs(0));
    let s = c.stats();
    assert_eq!((s.entries, s.inserts, s.hits, s.misses), (1, 1, 2, 1));
    assert_eq!(s.max_bytes, 1 << 20);
    assert!(s.bytes > 0 && s.bytes <= s.max_bytes);
}

#[test]
fn the_budget_holds_and_evictions_are_counted() {
    let c = cache();
    for i in 0..20_000u32 {
        c.insert_rrset(
            &a(&format!("n{i}.example."), 300, 1),
            Trust::Answer,
            secs(0),
        );
    }
    let s = c.stats();
    assert!(s.bytes <= s.max_bytes, "{s:?}");
    assert!(s.evictions > 0 && s.entries > 1000, "{s:?}");
    assert_eq!(s.entries + s.evictions, 20_000);
}

#[test]
fn threads_share_the_cache() {
    let c = cache_with(|c| c.max_bytes = 1 << 20);
    std::thread::scope(|scope| {
        for t in 0..4u32 {
            let c = &c;
            scope.spawn(move || {
                let mut buf = [0u8; 1232];
                for i in 0..3_000u32 {
                    let owner = format!("n{}.t{}.example.", i % 700, t % 2);
                    let now = secs(u64::from(i / 100));
                    c.insert_rrset(&a(&owner, 60, t as u8), Trust::Answer, now);
                    let q = name(&format!("n{}.t{}.example.", (i * 7) % 700, (t + 1) % 2));
                    let mut w = MessageWriter::new(&mut buf, 1232, Header::default()).unwrap();
                    w.push_question(q.as_ref(), RType::A, Class::IN).unwrap();
                    let result = c.answer(q.as_ref(), RType::A, AnswerMode::default(), now, &mut w);
                    assert_ne!(result, CacheAnswer::Truncated);
                    if i % 1000 == 999 {
                        c.flush(name("t0.example.").as_ref(), true);
                    }
                }
            });
        }
    });
    let s = c.stats();
    assert!(s.bytes <= s.max_bytes);
    assert_eq!(s.hits + s.misses, 12_000);
}

#[test]
fn validated_mode_answers_only_from_validated_data() {
    let c = cache();
    c.insert_rrset(&a("u.example.", 300, 1), Trust::AuthAnswer, secs(0));
    let validated = AnswerMode {
        validated: true,
        ..AnswerMode::default()
    };
    let (result, _) = ask_with(&c, "u.example.", RType::A, validated, secs(1), 4096);
    assert_eq!(result, CacheAnswer::Miss);
    // Unchecked data still answers clients that do not ask for validated data (CD).
    assert_eq!(
        ask(&c, "u.example.", RType::A, secs(1)).0,
        hit(Rcode::NOERROR)
    );

    assert!(c.insert_validated(
        &a("u.example.", 300, 1),
        &[],
        Trust::AuthAnswer,
        Validation::Secure,
        secs(2)
    ));
    let (result, _) = ask_with(&c, "u.example.", RType::A, validated, secs(3), 4096);
    assert_eq!(
        result,
        CacheAnswer::Hit {
            rcode: Rcode::NOERROR,
            prefetch: false,
            stale: false,
            secure: true,
        }
    );
    // An unchecked copy at the same trust does not undo validation.
    assert!(!c.insert_rrset(&a("u.example.", 300, 2), Trust::AuthAnswer, secs(4)));
    let (_, _, v) = c
        .rrset_validated(name("u.example.").as_ref(), RType::A, secs(4))
        .unwrap();
    assert_eq!(v, Validation::Secure);

    // Insecure data answers in validated mode, without the secure flag.
    c.insert_validated(
        &a("i.example.", 300, 1),
        &[],
        Trust::AuthAnswer,
        Validation::Insecure,
        secs(0),
    );
    let (result, _) = ask_with(&c, "i.example.", RType::A, validated, secs(1), 4096);
    assert_eq!(result, hit(Rcode::NOERROR));
}

#[test]
fn wildcard_proofs_are_kept_beside_the_data() {
    let c = cache();
    let mut nsec = set("a.example.", RType::NSEC, 300, vec![vec![0, 1, 0]]);
    nsec.sigs = vec![vec![9; 20]];
    c.insert_validated(
        &a("w.example.", 300, 1),
        &[nsec],
        Trust::AuthAnswer,
        Validation::Secure,
        secs(0),
    );
    let mode = AnswerMode {
        dnssec_ok: true,
        validated: true,
        ..AnswerMode::default()
    };
    let (_, rrs) = ask_with(&c, "w.example.", RType::A, mode, secs(1), 4096);
    let types: Vec<RType> = rrs.iter().map(|r| r.rtype).collect();
    assert_eq!(types, [RType::A, RType::NSEC, RType::RRSIG]);
    // Without DO only the data.
    let (_, rrs) = ask(&c, "w.example.", RType::A, secs(1));
    assert_eq!(rrs.len(), 1);
}

#[test]
fn failures_remember_their_extended_error() {
    let c = cache();
    c.insert_failure_ede(name("b.example.").as_ref(), RType::A, 5, 7, secs(0));
    assert_eq!(
        c.failure_ede(name("b.example.").as_ref(), RType::A, secs(1)),
        Some(7)
    );
    assert!(c.failure(name("b.example.").as_ref(), RType::A, secs(1)));
    assert_eq!(
        c.failure_ede(name("b.example.").as_ref(), RType::A, secs(6)),
        None
    );
}
