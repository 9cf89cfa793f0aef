//! UDP workers over loopback: answers, metrics, the reply's source address on a wildcard bind,
//! and shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use engine::{Catalog, Engine, EngineConfig};
use metrics::{QType, Registry};
use transport::{SharedEngine, Shutdown, udp};
use wire::message::{Flags, Header, Section};
use wire::writer::MessageWriter;
use wire::{Class, Message, Name, RType, Rcode};

const ZONE: &str = "$TTL 3600\n@ SOA ns hostmaster 7 7200 3600 1209600 300\n@ NS ns\n\
                    ns A 192.0.2.1\nwww A 192.0.2.80\n";

fn engine() -> SharedEngine {
    let origin: Name = "example.test.".parse().unwrap();
    let zone = zone::load_str(ZONE, std::path::Path::new("t.zone"), origin.as_ref())
        .unwrap()
        .zone;
    let engine = Engine::new(Catalog::new(vec![zone]).unwrap(), EngineConfig::default()).unwrap();
    Arc::new(ArcSwap::from_pointee(engine))
}

fn query(id: u16, name: &str, qtype: RType) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let header = Header {
        id,
        flags: Flags::default(),
        ..Header::default()
    };
    let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
    let qname: Name = name.parse().unwrap();
    w.push_question(qname.as_ref(), qtype, Class::IN).unwrap();
    w.finish().to_vec()
}

fn client(target: SocketAddr) -> UdpSocket {
    let bind: SocketAddr = if target.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Sends `q` to `to` and returns the response and where it came from.
fn exchange(s: &UdpSocket, to: SocketAddr, q: &[u8]) -> (Vec<u8>, SocketAddr) {
    s.send_to(q, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, from) = s.recv_from(&mut buf).unwrap();
    (buf[..n].to_vec(), from)
}

fn start(addr: &str, workers: usize) -> (udp::UdpWorkers, Shutdown, Arc<Registry>) {
    let registry = Arc::new(Registry::new(SystemTime::now()));
    let shutdown = Shutdown::new();
    let w = udp::spawn_workers(
        addr.parse().unwrap(),
        workers,
        engine(),
        &registry,
        shutdown.clone(),
    )
    .unwrap();
    (w, shutdown, registry)
}

#[test]
fn answers_and_counts() {
    let (workers, shutdown, registry) = start("127.0.0.1:0", 2);
    let addr = workers.local_addr();
    assert_ne!(addr.port(), 0);
    let s = client(addr);

    let (resp, from) = exchange(&s, addr, &query(1, "www.example.test.", RType::A));
    assert_eq!(from, addr);
    let m = Message::parse(&resp).unwrap();
    assert_eq!(m.header().id, 1);
    assert!(m.header().flags.aa());
    assert_eq!(m.rcode(), Rcode::NOERROR);
    assert_eq!(m.records(Section::Answer).count(), 1);

    let (resp, _) = exchange(&s, addr, &query(2, "nope.example.test.", RType::A));
    assert_eq!(Message::parse(&resp).unwrap().rcode(), Rcode::NXDOMAIN);

    let (resp, _) = exchange(&s, addr, &query(3, "example.org.", RType::A));
    assert_eq!(Message::parse(&resp).unwrap().rcode(), Rcode::REFUSED);

    // A readable header with garbage after it: FORMERR.
    let mut garbage = query(4, "www.example.test.", RType::A);
    garbage.truncate(20);
    let (resp, _) = exchange(&s, addr, &garbage);
    let h = Header::parse(&resp).unwrap();
    assert_eq!(h.id, 4);
    assert_eq!(h.flags.rcode_bits(), 1);

    // Shorter than a header: dropped, and the next query is still answered.
    s.send_to(&[1, 2, 3], addr).unwrap();
    let (resp, _) = exchange(&s, addr, &query(5, "www.example.test.", RType::A));
    assert_eq!(Header::parse(&resp).unwrap().id, 5);

    // A batch: many queries in flight at once, all answered.
    for id in 100..164u16 {
        s.send_to(&query(id, "www.example.test.", RType::A), addr)
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    let mut buf = [0u8; 4096];
    while seen.len() < 64 {
        let (n, _) = s.recv_from(&mut buf).unwrap();
        seen.insert(Header::parse(&buf[..n]).unwrap().id);
    }

    shutdown.trigger();
    let t = Instant::now();
    workers.join();
    assert!(t.elapsed() < Duration::from_secs(2));

    let totals = registry.totals();
    assert_eq!(totals.queries(metrics::Transport::Udp, QType::A), 68);
    assert_eq!(
        totals.responses(metrics::Transport::Udp, metrics::Rcode::NoError),
        66
    );
    assert_eq!(
        totals.responses(metrics::Transport::Udp, metrics::Rcode::NxDomain),
        1
    );
    assert_eq!(totals.malformed(metrics::Transport::Udp), 2);
    let observed: u64 = metrics::Source::ALL
        .iter()
        .map(|&s| totals.latency_count(metrics::Transport::Udp, s))
        .sum();
    assert_eq!(observed, 69);
}

#[test]
fn wildcard_bind_replies_from_the_address_asked() {
    let (workers, shutdown, _) = start("0.0.0.0:0", 1);
    let port = workers.local_addr().port();
    let s = client("127.0.0.1:1".parse().unwrap());
    for ip in ["127.0.0.1", "127.0.0.2", "127.0.0.3"] {
        let to: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let (resp, from) = exchange(&s, to, &query(9, "www.example.test.", RType::A));
        assert_eq!(from, to, "the reply to {to} came from {from}");
        assert_eq!(Header::parse(&resp).unwrap().id, 9);
    }
    shutdown.trigger();
    workers.join();
}

#[test]
fn ipv6_loopback() {
    // Machines without IPv6 on loopback skip this.
    if UdpSocket::bind("[::1]:0").is_err() {
        return;
    }
    let (workers, shutdown, _) = start("[::1]:0", 1);
    let addr = workers.local_addr();
    let s = client(addr);
    let (resp, from) = exchange(&s, addr, &query(6, "www.example.test.", RType::A));
    assert_eq!(from, addr);
    assert_eq!(Message::parse(&resp).unwrap().rcode(), Rcode::NOERROR);
    shutdown.trigger();
    workers.join();
}

#[test]
fn an_address_in_use_is_an_error() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let registry = Arc::new(Registry::new(SystemTime::now()));
    let e = udp::spawn_workers(
        taken.local_addr().unwrap(),
        1,
        engine(),
        &registry,
        Shutdown::new(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
}
