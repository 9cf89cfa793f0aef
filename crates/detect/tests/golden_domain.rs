//! The shipped domain model scores as its trainer (`tools/detect/train_domain.py`) computed:
//! every vector in `model/golden_domain.tsv` (replayed from held-out sessions) scores the same
//! here. And the shipped model, through the facade, flags a tunnel and not ordinary traffic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};

use detect::{
    AlertKind, DOMAIN_FEATURE_NAMES, DOMAIN_FEATURES, DetectConfig, Detector, Mode, Model, Psl,
};
use wire::{Name, RType, Rcode};

#[test]
fn golden_domain_scores_match_the_trainer() {
    let model = Model::embedded().unwrap();
    let text = include_str!("../model/golden_domain.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    assert_eq!(header[3..3 + DOMAIN_FEATURES], DOMAIN_FEATURE_NAMES);
    let mut checked = 0;
    for line in lines {
        let cols: Vec<&str> = line.split('\t').collect();
        let mut x = [0f32; DOMAIN_FEATURES];
        for (v, text) in x.iter_mut().zip(&cols[3..3 + DOMAIN_FEATURES]) {
            *v = text.parse().unwrap();
        }
        let want: f32 = cols[3 + DOMAIN_FEATURES].parse().unwrap();
        let got = model.domain().score(&x).score;
        assert!(
            (got - want).abs() < 1e-4,
            "{} {} query {}: Rust {got:.6}, trainer {want:.6}",
            cols[0],
            cols[1],
            cols[2]
        );
        checked += 1;
    }
    assert!(checked >= 20, "{checked} golden vectors");
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

fn detector() -> Detector {
    let config = DetectConfig {
        mode: Mode::Alert,
        ..DetectConfig::default()
    };
    Detector::new(config, Model::embedded().unwrap(), Psl::embedded(), 0)
}

#[test]
fn the_shipped_model_flags_a_base32_txt_tunnel_within_50_queries() {
    let d = detector();
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..50u64 {
        let mut label = String::new();
        for _ in 0..52 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            label.push(alphabet[(state % 32) as usize] as char);
        }
        let qname: Name = format!("{label}.{i:x}.x.exfil-example.com.")
            .parse()
            .unwrap();
        let now = 1_000 + i * 300;
        let decision = d.on_miss(qname.as_ref(), RType::TXT, CLIENT, now);
        d.on_answer(
            qname.as_ref(),
            decision.seen.unwrap(),
            CLIENT,
            Rcode::NOERROR,
            250,
            now,
        );
        if let Some(alert) = decision.alert {
            assert_eq!(alert.domain, "exfil-example.com.".parse::<Name>().unwrap());
            return;
        }
    }
    panic!("no alert in 50 queries");
}

#[test]
fn the_shipped_model_leaves_ordinary_sites_alone() {
    let d = detector();
    let hosts = [
        "www", "mail", "api", "cdn", "static", "img", "login", "docs",
    ];
    // People pick sites and pages in no fixed order: a round robin would hit each site on a
    // timer, which is what a beacon does (see the next test).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut now = 0u64;
    for i in 0..3_000u64 {
        let r = next();
        let qname: Name = format!("{}.site{}.example.", hosts[(r % 8) as usize], (r >> 8) % 50)
            .parse()
            .unwrap();
        let qtype = if i % 3 == 0 { RType::AAAA } else { RType::A };
        now += (r >> 32) % 200;
        let decision = d.on_miss(qname.as_ref(), qtype, CLIENT, now);
        d.on_answer(
            qname.as_ref(),
            decision.seen.unwrap(),
            CLIENT,
            Rcode::NOERROR,
            90,
            now,
        );
        if let Some(alert) = decision.alert {
            assert_ne!(
                alert.kind,
                AlertKind::Tunnel,
                "{qname}: {}",
                alert.explanation
            );
        }
    }
}

/// The index and explanation of the first tunnel alert a fresh detector raises on `queries`
/// (time, name, client; A queries, each a miss answered NOERROR).
fn first_tunnel_alert(
    queries: impl IntoIterator<Item = (u64, Name, IpAddr)>,
) -> Option<(u64, String)> {
    first_tunnel_alert_of(queries, RType::A, Rcode::NOERROR, 80)
}

/// [`first_tunnel_alert`] with queries of `qtype`, each answered `rcode` with `len` bytes.
fn first_tunnel_alert_of(
    queries: impl IntoIterator<Item = (u64, Name, IpAddr)>,
    qtype: RType,
    rcode: Rcode,
    len: usize,
) -> Option<(u64, String)> {
    let d = detector();
    for (i, (now, qname, client)) in (0u64..).zip(queries) {
        let decision = d.on_miss(qname.as_ref(), qtype, client, now);
        d.on_answer(
            qname.as_ref(),
            decision.seen.unwrap(),
            client,
            rcode,
            len,
            now,
        );
        if let Some(alert) = decision.alert {
            assert_eq!(alert.kind, AlertKind::Tunnel, "{}", alert.explanation);
            return Some((i, alert.explanation));
        }
    }
    None
}

/// xorshift64: the tests' seeded randomness.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The first tunnel alert when 400 distinct customer names of 4-12 random letters
/// (`qkzvhd.platform-example.com`) are asked about 1.5 s apart, the client of each chosen by
/// `client`.
fn customer_names(client: impl Fn(u64) -> IpAddr) -> Option<(u64, String)> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut now = 0u64;
    first_tunnel_alert((0..400u64).map(|i| {
        let len = 4 + xorshift(&mut state) % 9;
        let user: String = (0..len)
            .map(|_| char::from(b'a' + (xorshift(&mut state) % 26) as u8))
            .collect();
        now += 200 + xorshift(&mut state) % 2_600;
        let qname = format!("{user}.platform-example.com.").parse().unwrap();
        (now, qname, client(i))
    }))
}

#[test]
fn the_shipped_model_leaves_a_platforms_customer_names_alone() {
    // A platform whose customers are its subdomains, not in the public suffix list: many
    // clients, a few of its names each. A stream of new names, but not one host's.
    let many = |i: u64| IpAddr::V4(Ipv4Addr::new(10, 0, (i % 200 / 100) as u8, (i % 100) as u8));
    assert_eq!(customer_names(many), None);
    // The same names from one host are a stream of data it sends.
    let (i, explanation) = customer_names(|_| CLIENT).expect("one client's names are flagged");
    assert!(i < 50, "flagged after {i} queries: {explanation}");
}

#[test]
fn the_shipped_model_leaves_a_sweep_of_numbered_hosts_alone() {
    // An inventory script asking `server-000` ... `server-199` of one zone, 20 a second: a
    // stream of new names of 11 bytes each from one client, but each adds a digit or two to
    // the one before, which carries no data.
    let sweep = (0..200u64).map(|i| {
        let qname = format!("server-{i:03}.corp-example.com.").parse().unwrap();
        (i * 50, qname, CLIENT)
    });
    assert_eq!(first_tunnel_alert(sweep), None);
}

#[test]
fn the_shipped_model_leaves_a_leaking_search_list_alone() {
    // A host whose resolver tries each name under its search suffix first (more dots than a
    // name has under `ndots`): ordinary names, each new, about 2 s apart, all under the
    // organisation's own domain and answered NXDOMAIN. A stream of long new names from one
    // client, but they are its own lookups (`search_expansion` in domain.rs).
    const HOSTS: [&str; 10] = [
        "www", "docs", "api", "static", "cdn", "mail", "news", "download", "status", "login",
    ];
    const SITES: [&str; 12] = [
        "wikipedia.org",
        "github.com",
        "python.org",
        "debian.org",
        "rust-lang.org",
        "mozilla.org",
        "kernel.org",
        "cloudflare.net",
        "postgresql.org",
        "stackoverflow.com",
        "example.net",
        "gnome.org",
    ];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut now = 0u64;
    let leak = (0..120u64).map(|i| {
        let host = HOSTS[(i % 10) as usize];
        let site = SITES[((i / 10 + xorshift(&mut state)) % 12) as usize];
        now += 100 + xorshift(&mut state) % 3_900;
        let qname = format!("{host}.{site}.corp.org-example.com.")
            .parse()
            .unwrap();
        (now, qname, CLIENT)
    });
    assert_eq!(first_tunnel_alert(leak), None);
}

/// The first poll that raised a tunnel alert (and its explanation) when `qname` is asked every
/// 30 s (±10%) for 50 polls, each a miss (TTL 0 answers).
fn poll_on_a_timer(qname: &str) -> Option<(u64, String)> {
    let qname: Name = qname.parse().unwrap();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut now = 1_000u64;
    first_tunnel_alert((0..50).map(|_| {
        now += 27_000 + xorshift(&mut state) % 6_000;
        (now, qname.clone(), CLIENT)
    }))
}

#[test]
fn the_shipped_model_flags_a_beacon_polling_on_a_timer() {
    // One name asked on a timer, each a miss: no data beyond its id, the timing is the signal.
    // The same holds for any benign poll on a timer whose answers are not cached, which is why
    // such zones belong on the allow list (docs/DETECTION.md).
    let (i, explanation) = poll_on_a_timer("k3x9q2m7zt.update-check-example.com.")
        .expect("no alert in 50 polls of a random 10-character id");
    assert!(i >= 8, "flagged after {i} queries: {explanation}");
    assert!(explanation.contains("regular"), "{explanation}");
    // A hex id, as a C2 framework's beacon sends, is flagged the same way: the data floor
    // takes an identifier (letters and digits switching three times or more) for what the
    // channel carries, even when the query model scores it ordinary.
    for id in ["a3f9c2d17e", "a3f9c2"] {
        let (i, explanation) = poll_on_a_timer(&format!("{id}.update-check-example.com."))
            .unwrap_or_else(|| panic!("no alert in 50 polls of {id}"));
        assert!(i >= 8, "{id} flagged after {i} queries: {explanation}");
    }
    // One name asked again and again carries its bytes once: a poll of a word or of a short
    // number (`9c46`) is not a data channel, however regular, and timing alone does not make
    // a tunnel.
    for ordinary in ["time", "9c46", "status-check"] {
        assert_eq!(
            poll_on_a_timer(&format!("{ordinary}.update-check-example.com.")),
            None,
            "{ordinary}"
        );
    }
}

#[test]
fn the_shipped_model_flags_hash_sized_hex_in_txt() {
    // 48 hex characters a query, 5 a second: per query it looks like a hash-reputation
    // look-up (the query model scores it low); per domain it is a stream of new names carrying
    // bytes, which the domain model judges without the query score.
    let d = detector();
    let mut state = 0x51_7cc1_b727_220a_u64;
    for i in 0..50u64 {
        let mut label = String::new();
        for _ in 0..48 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            label.push(char::from(b"0123456789abcdef"[(state % 16) as usize]));
        }
        let qname: Name = format!("{label}.t.hexdrop-example.net.").parse().unwrap();
        let now = 1_000 + i * 200;
        let decision = d.on_miss(qname.as_ref(), RType::TXT, CLIENT, now);
        d.on_answer(
            qname.as_ref(),
            decision.seen.unwrap(),
            CLIENT,
            Rcode::NOERROR,
            120,
            now,
        );
        if let Some(alert) = decision.alert {
            assert_eq!(alert.kind, AlertKind::Tunnel, "{}", alert.explanation);
            return;
        }
    }
    panic!("no alert in 50 queries");
}

#[test]
fn the_shipped_model_flags_a_slow_word_list_session_within_50_queries() {
    // Data spelt in words (`kernelspectra.printfcolours.wordy-example.link`), sent in bursts
    // of ten queries 50 ms apart with a pause of 15-30 s after each burst, TXT, answered
    // NXDOMAIN. Per query the names look ordinary; per domain they are a stream of new names
    // carrying bytes. After 50 queries the domain has had four pauses, too few to say
    // whether they are regular: they must count neither for a timer nor against a tunnel.
    const WORDS: [&str; 16] = [
        "kernel", "spectra", "printf", "colours", "bayesian", "lattice", "derive", "motif",
        "plain", "frame", "turtle", "cipher", "storage", "window", "syntax", "reader",
    ];
    let mut state = 0x51_7cc1_b727_220a_u64;
    let mut now = 1_000u64;
    let session = (0..50u64).map(|i| {
        now += if i % 10 == 9 {
            15_000 + xorshift(&mut state) % 15_000
        } else {
            50
        };
        let labels = 2 + xorshift(&mut state) % 3;
        let mut qname = String::new();
        for _ in 0..labels {
            for _ in 0..2 {
                qname.push_str(WORDS[(xorshift(&mut state) % 16) as usize]);
            }
            qname.push('.');
        }
        qname.push_str("wordy-example.link.");
        (now, qname.parse().unwrap(), CLIENT)
    });
    let (i, explanation) = first_tunnel_alert_of(session, RType::TXT, Rcode::NXDOMAIN, 150)
        .expect("no alert in 50 queries");
    assert!(i < 50, "{i}");
    assert!(!explanation.contains("regular"), "{explanation}");
}
