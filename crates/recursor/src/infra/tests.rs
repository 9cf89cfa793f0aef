use super::*;

use std::collections::HashMap;

use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use wire::Name;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, i], 53))
}

fn name(s: &str) -> Name {
    Name::from_text(s.as_bytes(), None).unwrap()
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([3; 32])
}

fn secs(s: u64) -> Time {
    Time::from_millis(s * 1000)
}

/// How often each server is chosen in `rounds` selections for `zone`.
fn spread(
    infra: &mut Infra,
    servers: &[SocketAddr],
    zone: &str,
    now: Time,
    rounds: usize,
) -> HashMap<SocketAddr, usize> {
    let zone = name(zone);
    let mut rng = rng();
    let mut counts = HashMap::new();
    for _ in 0..rounds {
        let s = infra.select(servers, zone.as_ref(), now, &mut rng).unwrap();
        *counts.entry(s).or_insert(0) += 1;
    }
    counts
}

#[test]
fn unknown_server_has_unknown_rto() {
    let infra = Infra::new(10, 10);
    assert_eq!(infra.rto(addr(1), Time::ZERO), UNKNOWN_RTO_MS);
    assert_eq!(infra.srtt(addr(1), Time::ZERO), None);
    assert!(infra.is_empty());
}

#[test]
fn first_sample_sets_srtt_and_rttvar() {
    let mut infra = Infra::new(10, 10);
    infra.on_response(addr(1), 100, Time::ZERO);
    assert_eq!(infra.srtt(addr(1), Time::ZERO), Some(100));
    // RTO = SRTT + 4 * RTTVAR = 100 + 4 * 50.
    assert_eq!(infra.rto(addr(1), Time::ZERO), 300);
    assert_eq!(infra.len(), 1);
}

#[test]
fn srtt_converges() {
    let mut infra = Infra::new(10, 10);
    let s = addr(1);
    let mut now = Time::ZERO;
    for _ in 0..100 {
        infra.on_response(s, 240, now);
        now = now.plus_millis(100);
    }
    assert_eq!(infra.srtt(s, now), Some(240));
    // RTTVAR has shrunk to nothing: the RTO is the SRTT.
    assert_eq!(infra.rto(s, now), 240);
    // The server moves farther away: SRTT follows within a few dozen samples.
    for _ in 0..40 {
        infra.on_response(s, 400, now);
        now = now.plus_millis(100);
    }
    let srtt = infra.srtt(s, now).unwrap();
    assert!((395..=400).contains(&srtt), "{srtt}");
    // Very fast servers still get the minimum timeout.
    for _ in 0..100 {
        infra.on_response(addr(2), 1, now);
    }
    assert_eq!(infra.rto(addr(2), now), MIN_RTO_MS);
}

#[test]
fn timeouts_back_off_and_an_answer_ends_it() {
    let mut infra = Infra::new(10, 10);
    let s = addr(1);
    let now = Time::ZERO;
    let mut expected = UNKNOWN_RTO_MS;
    for _ in 0..10 {
        infra.on_timeout(s, now);
        expected = (expected * 2).min(MAX_RTO_MS);
        assert_eq!(infra.rto(s, now), expected);
    }
    assert_eq!(infra.rto(s, now), MAX_RTO_MS);
    infra.on_response(s, 100, now);
    assert_eq!(infra.rto(s, now), 300);
    // Backoff starts from the measured RTO.
    infra.on_timeout(s, now);
    assert_eq!(infra.rto(s, now), 600);
}

#[test]
fn learned_state_decays() {
    let mut infra = Infra::new(10, 10);
    let (fast, dead) = (addr(1), addr(2));
    infra.on_response(fast, 20, secs(0));
    for _ in 0..5 {
        infra.on_timeout(dead, secs(0));
    }
    assert_eq!(infra.rto(dead, secs(10)), MAX_RTO_MS);
    assert_eq!(infra.srtt(fast, secs(899)), Some(20));
    // Fifteen minutes later both are unknown again: the dead server will be tried.
    let later = secs(u64::from(HOST_TTL_SECS));
    assert_eq!(infra.rto(dead, later), UNKNOWN_RTO_MS);
    assert_eq!(infra.rto(fast, later), UNKNOWN_RTO_MS);
    assert_eq!(infra.srtt(fast, later), None);
    // A new sample after decay starts afresh.
    infra.on_response(fast, 200, later);
    assert_eq!(infra.srtt(fast, later), Some(200));
}

#[test]
fn band_selection_spreads_over_near_equal_servers() {
    let mut infra = Infra::new(10, 10);
    let servers = [addr(1), addr(2), addr(3), addr(4)];
    for (s, rtt) in servers.iter().zip([20, 30, 45, 900]) {
        for _ in 0..20 {
            infra.on_response(*s, rtt, Time::ZERO);
        }
    }
    let counts = spread(&mut infra, &servers, "example.", Time::ZERO, 3000);
    // The three within 400 ms of the best share the load; the far one is left alone.
    for s in &servers[..3] {
        let n = counts.get(s).copied().unwrap_or(0);
        assert!((800..=1200).contains(&n), "{s}: {n}");
    }
    assert_eq!(counts.get(&servers[3]), None);
}

#[test]
fn unknown_servers_are_explored() {
    let mut infra = Infra::new(10, 10);
    let servers = [addr(1), addr(2)];
    infra.on_response(addr(1), 100, Time::ZERO);
    let counts = spread(&mut infra, &servers, "example.", Time::ZERO, 1000);
    assert!(counts[&addr(2)] > 300, "{counts:?}");
    assert!(counts[&addr(1)] > 300, "{counts:?}");
}

#[test]
fn backed_off_servers_are_avoided() {
    let mut infra = Infra::new(10, 10);
    let servers = [addr(1), addr(2)];
    infra.on_response(addr(1), 30, Time::ZERO);
    infra.on_timeout(addr(2), Time::ZERO);
    let counts = spread(&mut infra, &servers, "example.", Time::ZERO, 200);
    assert_eq!(counts.get(&addr(2)), None);
    // Every candidate backed off: the least bad one is still tried.
    for _ in 0..5 {
        infra.on_timeout(addr(1), Time::ZERO);
    }
    let counts = spread(&mut infra, &servers, "example.", Time::ZERO, 200);
    assert_eq!(counts.get(&addr(2)), Some(&200));
}

#[test]
fn lame_servers_are_skipped_for_their_zone() {
    let mut infra = Infra::new(10, 10);
    let servers = [addr(1), addr(2)];
    let zone = name("Example.COM.");
    infra.mark_lame(addr(1), zone.as_ref(), secs(0));
    assert!(infra.is_lame(addr(1), name("example.com.").as_ref(), secs(1)));
    let counts = spread(&mut infra, &servers, "EXAMPLE.com.", secs(1), 100);
    assert_eq!(counts.get(&addr(2)), Some(&100));
    // Another zone is not affected.
    let counts = spread(&mut infra, &servers, "example.net.", secs(1), 100);
    assert!(counts.contains_key(&addr(1)));
    // Every server lame: nothing to ask.
    infra.mark_lame(addr(2), zone.as_ref(), secs(0));
    let mut rng = rng();
    assert_eq!(
        infra.select(&servers, zone.as_ref(), secs(1), &mut rng),
        None
    );
    // Lameness expires.
    let later = secs(u64::from(LAME_TTL_SECS));
    assert!(!infra.is_lame(addr(1), zone.as_ref(), later));
    assert!(
        infra
            .select(&servers, zone.as_ref(), later, &mut rng)
            .is_some()
    );
}

#[test]
fn lame_zones_per_server_are_bounded() {
    let mut infra = Infra::new(10, 10);
    let s = addr(1);
    for i in 0..20u64 {
        let zone = name(&format!("z{i}.example."));
        infra.mark_lame(s, zone.as_ref(), secs(i));
    }
    let host = &infra.hosts[&s];
    assert_eq!(host.lame.len(), MAX_LAME_ZONES_PER_SERVER);
    // The most recent ones are kept.
    assert!(infra.is_lame(s, name("z19.example.").as_ref(), secs(20)));
    assert!(!infra.is_lame(s, name("z0.example.").as_ref(), secs(20)));
    // Marking again refreshes without growing.
    infra.mark_lame(s, name("z19.example.").as_ref(), secs(21));
    assert_eq!(infra.hosts[&s].lame.len(), MAX_LAME_ZONES_PER_SERVER);
}

#[test]
fn outstanding_limit_is_respected() {
    let mut infra = Infra::new(10, 2);
    let servers = [addr(1), addr(2)];
    let zone = name("example.");
    let mut rng = rng();
    infra.begin(addr(1));
    infra.begin(addr(1));
    assert_eq!(infra.outstanding(addr(1)), 2);
    for _ in 0..50 {
        assert_eq!(
            infra.select(&servers, zone.as_ref(), Time::ZERO, &mut rng),
            Some(addr(2))
        );
    }
    infra.begin(addr(2));
    infra.begin(addr(2));
    assert_eq!(
        infra.select(&servers, zone.as_ref(), Time::ZERO, &mut rng),
        None
    );
    infra.end(addr(1));
    assert_eq!(
        infra.select(&servers, zone.as_ref(), Time::ZERO, &mut rng),
        Some(addr(1))
    );
    // Ending more than began, or for an unknown server, is harmless.
    infra.end(addr(1));
    infra.end(addr(1));
    infra.end(addr(9));
    assert_eq!(infra.outstanding(addr(1)), 0);
    assert_eq!(infra.outstanding(addr(9)), 0);
    assert_eq!(infra.max_outstanding_per_server(), 2);
}

#[test]
fn no_candidates_no_server() {
    let mut infra = Infra::new(10, 2);
    let mut rng = rng();
    assert_eq!(infra.select(&[], NameRef::ROOT, Time::ZERO, &mut rng), None);
}

#[test]
fn server_count_is_bounded_least_recently_used_first() {
    let mut infra = Infra::new(3, 10);
    for i in 1..=3 {
        infra.on_response(addr(i), 10 * u64::from(i), Time::ZERO);
    }
    // Using 1 again makes 2 the least recently used.
    infra.on_response(addr(1), 10, Time::ZERO);
    infra.on_response(addr(4), 40, Time::ZERO);
    assert_eq!(infra.len(), 3);
    assert_eq!(infra.srtt(addr(2), Time::ZERO), None);
    assert_eq!(infra.srtt(addr(1), Time::ZERO), Some(10));
    assert_eq!(infra.srtt(addr(3), Time::ZERO), Some(30));
    assert_eq!(infra.srtt(addr(4), Time::ZERO), Some(40));
    assert_eq!(infra.order.len(), 3);
}

#[test]
fn eviction_prefers_servers_with_nothing_outstanding() {
    let mut infra = Infra::new(3, 10);
    infra.begin(addr(1));
    infra.on_response(addr(2), 20, Time::ZERO);
    infra.on_response(addr(3), 30, Time::ZERO);
    infra.on_response(addr(4), 40, Time::ZERO);
    assert_eq!(infra.outstanding(addr(1)), 1);
    assert_eq!(infra.srtt(addr(2), Time::ZERO), None);
    assert_eq!(infra.len(), 3);
}

#[test]
fn many_servers_stay_bounded() {
    let mut infra = Infra::new(100, 10);
    for i in 0..10_000u32 {
        let s = SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 53));
        infra.on_response(s, 50, Time::ZERO);
        infra.mark_lame(s, NameRef::ROOT, Time::ZERO);
    }
    assert_eq!(infra.len(), 100);
    assert_eq!(infra.order.len(), 100);
}

#[test]
fn edns_case_and_cookie_are_remembered_then_forgotten() {
    let mut infra = Infra::new(10, 10);
    let s = addr(1);
    assert_eq!(infra.edns(s), EdnsSupport::Unknown);
    assert!(infra.echoes_case(s));
    assert_eq!(infra.server_cookie(s), None);

    infra.set_edns(s, EdnsSupport::Fails, secs(0));
    infra.set_no_case_echo(s, secs(0));
    infra.set_server_cookie(s, vec![7; 16], secs(0));
    assert_eq!(infra.edns(s), EdnsSupport::Fails);
    assert!(!infra.echoes_case(s));
    assert_eq!(infra.server_cookie(s), Some(&[7u8; 16][..]));
    infra.set_edns(s, EdnsSupport::Works, secs(1));
    assert_eq!(infra.edns(s), EdnsSupport::Works);

    // A cookie of the wrong size is not kept, and drops the old one.
    infra.set_server_cookie(s, vec![7; 7], secs(1));
    assert_eq!(infra.server_cookie(s), None);
    infra.set_server_cookie(s, vec![8; 32], secs(1));
    assert_eq!(infra.server_cookie(s), Some(&[8u8; 32][..]));
    infra.set_server_cookie(s, vec![8; 33], secs(1));
    assert_eq!(infra.server_cookie(s), None);
    infra.set_server_cookie(s, vec![8; 8], secs(1));

    // Once the infra cache has seen a time past the host TTL, all of it is forgotten.
    let mut rng = rng();
    let later = secs(1 + u64::from(HOST_TTL_SECS));
    infra.select(&[s], NameRef::ROOT, later, &mut rng);
    assert_eq!(infra.edns(s), EdnsSupport::Unknown);
    assert!(infra.echoes_case(s));
    assert_eq!(infra.server_cookie(s), None);
}

#[test]
fn ports_are_distinct_servers() {
    let mut infra = Infra::new(10, 10);
    let a = SocketAddr::from(([127, 0, 0, 1], 53));
    let b = SocketAddr::from(([127, 0, 0, 1], 5353));
    infra.on_response(a, 10, Time::ZERO);
    assert_eq!(infra.srtt(b, Time::ZERO), None);
}

#[test]
fn parallel_timeouts_double_once() {
    let mut infra = Infra::new(10, 100);
    let s = addr(1);
    let now = Time::ZERO;
    // Twenty queries sent together with the unknown-server RTO all time out together.
    let used = infra.rto(s, now);
    for _ in 0..20 {
        infra.on_timeout_after(s, used, now);
    }
    assert_eq!(infra.rto(s, now), UNKNOWN_RTO_MS * 2);
    // A query sent with the doubled RTO that times out doubles it again.
    infra.on_timeout_after(s, UNKNOWN_RTO_MS * 2, now);
    assert_eq!(infra.rto(s, now), UNKNOWN_RTO_MS * 4);
    // TCP waits longer than the RTO: its timeout counts.
    infra.on_timeout_after(s, UNKNOWN_RTO_MS * 8, now);
    assert_eq!(infra.rto(s, now), UNKNOWN_RTO_MS * 8);
    for _ in 0..10 {
        let used = infra.rto(s, now);
        infra.on_timeout_after(s, used, now);
    }
    assert_eq!(infra.rto(s, now), MAX_RTO_MS);
}

#[test]
fn case_echo_is_shared_by_the_recursors_of_a_process() {
    let shared = SharedInfra::new(2);
    let mut one = Infra::with_shared(10, 10, shared.clone());
    let two = Infra::with_shared(10, 10, shared.clone());
    let alone = Infra::new(10, 10);
    let s = addr(1);
    one.set_no_case_echo(s, secs(0));
    assert!(!one.echoes_case(s));
    assert!(!two.echoes_case(s), "learned by one driver, known to all");
    assert!(alone.echoes_case(s), "nothing shared without a SharedInfra");
    assert!(
        shared.echoes_case(s, secs(u64::from(HOST_TTL_SECS))),
        "forgotten"
    );
    // Bounded: the entry learned first makes room.
    shared.set_no_case_echo(addr(2), secs(1));
    shared.set_no_case_echo(addr(3), secs(2));
    assert!(shared.echoes_case(s, secs(3)));
    assert!(!shared.echoes_case(addr(2), secs(3)));
    assert!(!shared.echoes_case(addr(3), secs(3)));
}

#[test]
fn ordered_selection_fails_over_and_goes_back() {
    let mut infra = Infra::new(10, 10);
    let zone = name(".");
    let servers = [addr(1), addr(2), addr(3)];
    // The first, even when a later one is faster.
    infra.on_response(addr(2), 5, Time::ZERO);
    infra.on_response(addr(1), 300, Time::ZERO);
    assert_eq!(
        infra.select_ordered(&servers, zone.as_ref(), Time::ZERO),
        Some(addr(1))
    );
    // The first fails: the second, until the hold has passed.
    infra.on_timeout(addr(1), secs(1));
    assert_eq!(
        infra.select_ordered(&servers, zone.as_ref(), secs(2)),
        Some(addr(2))
    );
    let retry = u64::from(ORDER_RETRY_SECS);
    assert_eq!(
        infra.select_ordered(&servers, zone.as_ref(), secs(1 + retry)),
        Some(addr(1)),
        "tried again after the hold"
    );
    // It answers: chosen again from then on.
    infra.on_response(addr(1), 20, secs(1 + retry));
    assert_eq!(
        infra.select_ordered(&servers, zone.as_ref(), secs(2 + retry)),
        Some(addr(1))
    );
    // All failing: the lowest RTO.
    let now = secs(100);
    for s in servers {
        infra.on_timeout(s, now);
    }
    infra.on_timeout(addr(1), now);
    infra.on_timeout(addr(3), now);
    assert_eq!(
        infra.select_ordered(&servers, zone.as_ref(), now),
        Some(addr(2))
    );
    // Lame for the zone: skipped.
    infra.mark_lame(addr(2), zone.as_ref(), now);
    let pick = infra.select_ordered(&servers, zone.as_ref(), now);
    assert!(pick == Some(addr(1)) || pick == Some(addr(3)), "{pick:?}");
}
