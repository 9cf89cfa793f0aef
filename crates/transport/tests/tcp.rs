//! DNS over TCP against a real socket on loopback, by RFC section: framing (RFC 1035 4.2.2),
//! pipelining and out-of-order answers (RFC 7766 6.2.1.1), idle timeouts (6.2.3), connection
//! limits (6.2.2), zone transfers (RFC 5936), and interop with `kdig` and `dig`.
//!
//! Every test starts its own server on `127.0.0.1:0` inside the test process and bounds each
//! wait with a timeout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use engine::{Catalog, Engine, EngineConfig};
use metrics::{QType, Registry, TcpReject, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use transport::Shutdown;
use transport::tcp::{TcpLimits, serve};
use wire::{Message, Name, RType, Rcode, Section};

/// A bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const SMALL: &str = "\
@    3600 SOA ns hostmaster 1 7200 3600 1209600 300
@    3600 NS  ns
ns   3600 A   192.0.2.1
www  3600 A   192.0.2.2
mail 3600 A   192.0.2.3
";

/// `big.`: an SOA, an NS, its address and 50,000 A records.
const BIG_RECORDS: usize = 50_003;

fn catalog() -> Catalog {
    static ZONES: OnceLock<Vec<Arc<zone::Zone>>> = OnceLock::new();
    let zones = ZONES.get_or_init(|| {
        let small: Name = "example.".parse().unwrap();
        let big_origin: Name = "big.".parse().unwrap();
        let big_text = "@ 3600 SOA ns hostmaster 7 7200 3600 1209600 300\n@ 3600 NS ns\n\
                        ns 3600 A 192.0.2.1\n$GENERATE 1-50000 h$ 3600 A 198.51.100.1\n";
        // `fat.example.`: 200 TXT records, about 52 KB in one response.
        let mut small_text = SMALL.to_string();
        for i in 0..200 {
            small_text.push_str(&format!("fat 3600 TXT \"{i:03}{}\"\n", "x".repeat(240)));
        }
        let a = zone::load_str(&small_text, Path::new("example.zone"), small.as_ref())
            .unwrap()
            .zone;
        let b = zone::load_str(big_text, Path::new("big.zone"), big_origin.as_ref())
            .unwrap()
            .zone;
        vec![Arc::new(a), Arc::new(b)]
    });
    Catalog::from_shared(zones.clone()).unwrap()
}

fn engine() -> Engine {
    let config = EngineConfig {
        allow_transfer: guard::Acl::allowing(&[guard::Prefix::v4([127, 0, 0, 0], 8)]),
        ..EngineConfig::default()
    };
    Engine::new(catalog(), config).unwrap()
}

struct Server {
    addr: SocketAddr,
    shutdown: Shutdown,
    registry: Arc<Registry>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(limits: TcpLimits) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let registry = Arc::new(Registry::new(SystemTime::now()));
        let engine = Arc::new(ArcSwap::from_pointee(engine()));
        let task = tokio::spawn(serve(
            listener,
            engine,
            limits,
            registry.clone(),
            shutdown.clone(),
        ));
        Server {
            addr,
            shutdown,
            registry,
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        self.connect_from("127.0.0.1").await
    }

    /// Connects from a chosen loopback address.
    async fn connect_from(&self, source: &str) -> TcpStream {
        let socket = TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
            .unwrap();
        tokio::time::timeout(WAIT, socket.connect(self.addr))
            .await
            .unwrap()
            .unwrap()
    }

    async fn stop(self) {
        self.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("serve ends after shutdown")
            .unwrap();
    }
}

/// A query for `name` `qtype` with ID `id`, unframed.
fn query(id: u16, name: &str, qtype: RType) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.0.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

fn framed(message: &[u8]) -> Vec<u8> {
    let mut f = (message.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(message);
    f
}

/// Reads one framed message; `None` at EOF or on a reset.
async fn read_message(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut msg).await.ok()?;
    Some(msg)
}

/// Reads one framed message within [`WAIT`].
async fn expect_message(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    tokio::time::timeout(WAIT, read_message(stream))
        .await
        .expect("a response in time")
        .expect("a response, not a close")
}

/// Waits for the server to close the connection: EOF or a reset, with no message first.
async fn expect_close(stream: &mut TcpStream, within: Duration) {
    let mut buf = [0u8; 512];
    let read = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("the server closes the connection in time");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected a close, got {n} bytes"),
    }
}

/// Sends one query and returns the response.
async fn ask(stream: &mut TcpStream, id: u16, name: &str, qtype: RType) -> Vec<u8> {
    stream
        .write_all(&framed(&query(id, name, qtype)))
        .await
        .unwrap();
    expect_message(stream).await
}

fn id_of(msg: &[u8]) -> u16 {
    u16::from_be_bytes([msg[0], msg[1]])
}

/// Makes sure the process may open `needed` descriptors, raising the soft limit if it must.
/// False when even the hard limit is too low.
fn ensure_nofile(needed: u64) -> bool {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= needed {
        return true;
    }
    if hard < needed {
        eprintln!("skipped: RLIMIT_NOFILE hard limit {hard} is below {needed}");
        return false;
    }
    setrlimit(Resource::RLIMIT_NOFILE, needed, hard).is_ok()
}

/// Waits until `check` holds, polling; panics after [`WAIT`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 1035 4.2.2: framing
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_query() {
    let server = Server::start(TcpLimits::default()).await;
    let mut c = server.connect().await;
    let response = ask(&mut c, 0x4242, "www.example.", RType::A).await;
    let m = Message::parse(&response).unwrap();
    assert_eq!(m.header().id, 0x4242);
    assert!(m.header().flags.qr());
    assert!(m.header().flags.aa());
    assert_eq!(m.rcode(), Rcode::NOERROR);
    assert_eq!(m.header().ancount, 1);
    drop(c);

    let registry = server.registry.clone();
    eventually("the close is counted", || {
        registry.totals().connections_open(Transport::Tcp) == 0
    })
    .await;
    let t = registry.totals();
    assert_eq!(t.queries(Transport::Tcp, QType::A), 1);
    assert_eq!(t.responses(Transport::Tcp, metrics::Rcode::NoError), 1);
    assert_eq!(t.latency_count(Transport::Tcp, metrics::Source::Zone), 1);
    assert_eq!(t.connections(Transport::Tcp), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_formerr_or_a_close() {
    let server = Server::start(TcpLimits::default()).await;

    // A zero length: not even a header. The connection closes.
    let mut c = server.connect().await;
    c.write_all(&[0, 0]).await.unwrap();
    expect_close(&mut c, WAIT).await;

    // Shorter than a header.
    let mut c = server.connect().await;
    c.write_all(&framed(&[1, 2, 3, 4, 5])).await.unwrap();
    expect_close(&mut c, WAIT).await;

    // A response sent to us.
    let mut c = server.connect().await;
    let mut r = query(9, "www.example.", RType::A);
    r[2] |= 0x80;
    c.write_all(&framed(&r)).await.unwrap();
    expect_close(&mut c, WAIT).await;

    // A readable header, then garbage: FORMERR with the query's ID, and the connection goes on.
    let mut c = server.connect().await;
    let mut garbage = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    garbage.extend_from_slice(&[0xc0, 0xff, 0x3f, 0x99, 0x01, 0x02, 0x03]);
    c.write_all(&framed(&garbage)).await.unwrap();
    let response = expect_message(&mut c).await;
    assert_eq!(id_of(&response), 0x1234);
    assert_eq!(Message::parse(&response).unwrap().rcode(), Rcode::FORMERR);
    let ok = ask(&mut c, 7, "ns.example.", RType::A).await;
    assert_eq!(Message::parse(&ok).unwrap().rcode(), Rcode::NOERROR);

    // A frame cut short by the client's close.
    let mut c = server.connect().await;
    c.write_all(&[0, 100, 1, 2, 3]).await.unwrap();
    c.shutdown().await.unwrap();
    expect_close(&mut c, WAIT).await;

    // The server is still well.
    let mut c = server.connect().await;
    let ok = ask(&mut c, 8, "www.example.", RType::A).await;
    assert_eq!(Message::parse(&ok).unwrap().rcode(), Rcode::NOERROR);
    assert!(server.registry.totals().malformed(Transport::Tcp) >= 3);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// RFC 7766 6.2.1.1: pipelining, out-of-order answers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_pipelined_queries_in_one_write() {
    let server = Server::start(TcpLimits::default()).await;
    let mut c = server.connect().await;
    let names = [
        "www.example.",
        "ns.example.",
        "mail.example.",
        "nope.example.",
    ];
    let mut wire = Vec::new();
    for id in 1..=10u16 {
        let name = names[usize::from(id) % names.len()];
        wire.extend_from_slice(&framed(&query(id, name, RType::A)));
    }
    c.write_all(&wire).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..10 {
        let response = expect_message(&mut c).await;
        let m = Message::parse(&response).unwrap();
        let id = m.header().id;
        let name = names[usize::from(id) % names.len()];
        let expected = if name == "nope.example." {
            Rcode::NXDOMAIN
        } else {
            Rcode::NOERROR
        };
        assert_eq!(m.rcode(), expected, "id {id}");
        assert_eq!(m.question().unwrap().qname().unwrap().to_string(), name);
        seen.push(id);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    server.stop().await;
}

/// Reads AXFR messages with `id` and other responses until the AXFR's closing SOA; returns the
/// number of AXFR answer records, the other responses, and how many AXFR messages came before
/// each of them.
async fn read_transfer(stream: &mut TcpStream, id: u16) -> (usize, Vec<(Vec<u8>, usize)>, usize) {
    let mut records = 0usize;
    let mut messages = 0usize;
    let mut others = Vec::new();
    loop {
        let msg = expect_message(stream).await;
        let m = Message::parse(&msg).unwrap();
        if m.header().id != id {
            others.push((msg, messages));
            continue;
        }
        assert_eq!(m.rcode(), Rcode::NOERROR);
        let answers: Vec<_> = m.records(Section::Answer).collect();
        assert_eq!(answers.len(), usize::from(m.header().ancount));
        if messages == 0 {
            assert_eq!(
                answers[0].rtype,
                RType::SOA,
                "the transfer starts with the SOA"
            );
        }
        for (i, r) in answers.iter().enumerate() {
            let first = messages == 0 && i == 0;
            if r.rtype == RType::SOA && !first {
                assert_eq!(i, answers.len() - 1, "the closing SOA ends its message");
                records += answers.len();
                return (records, others, messages + 1);
            }
        }
        records += answers.len();
        messages += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axfr_of_a_large_zone_then_a_query_on_the_same_connection() {
    let server = Server::start(TcpLimits::default()).await;
    // A small receive window makes the transfer wait on the client, so the query sent after it
    // can only be answered first if the server answers out of order.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut c = tokio::time::timeout(WAIT, socket.connect(server.addr))
        .await
        .unwrap()
        .unwrap();
    let mut wire = framed(&query(100, "big.", RType::AXFR));
    wire.extend_from_slice(&framed(&query(101, "www.example.", RType::A)));
    c.write_all(&wire).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (records, others, messages) =
        tokio::time::timeout(Duration::from_secs(30), read_transfer(&mut c, 100))
            .await
            .unwrap();
    // SOA, every other record, SOA.
    assert_eq!(records, BIG_RECORDS + 1);
    assert!(messages > 2, "{messages} messages");
    assert_eq!(others.len(), 1, "the small query is answered once");
    let (small, before) = &others[0];
    assert_eq!(id_of(small), 101);
    assert_eq!(Message::parse(small).unwrap().header().ancount, 1);
    assert!(
        *before < messages - 1,
        "the query was answered before the transfer ended ({before} of {messages})"
    );

    // The connection goes on after the transfer.
    let ok = ask(&mut c, 102, "ns.example.", RType::A).await;
    assert_eq!(Message::parse(&ok).unwrap().rcode(), Rcode::NOERROR);
    let t = server.registry.totals();
    assert_eq!(t.queries(Transport::Tcp, QType::Axfr), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_queries_per_connection_closes_after_the_last_answer() {
    let limits = TcpLimits {
        max_queries_per_connection: Some(3),
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let mut c = server.connect().await;
    let mut wire = Vec::new();
    for id in 1..=5u16 {
        wire.extend_from_slice(&framed(&query(id, "www.example.", RType::A)));
    }
    c.write_all(&wire).await.unwrap();
    for _ in 0..3 {
        expect_message(&mut c).await;
    }
    expect_close(&mut c, WAIT).await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// RFC 7766 6.2.3: idle timeouts
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connection_is_closed() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(300),
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let mut c = server.connect().await;
    // Activity restarts the timer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ask(&mut c, 1, "www.example.", RType::A).await;
    let started = Instant::now();
    expect_close(&mut c, Duration::from_secs(3)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_closed_at_the_idle_timeout() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(600),
        message_timeout: Duration::from_secs(30),
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let c = server.connect().await;
    let (mut rd, mut wr) = c.into_split();
    let trickle = tokio::spawn(async move {
        let message = framed(&query(1, "www.example.", RType::A));
        // One byte each 100 ms: the message would take seconds.
        for b in message.iter().cycle().take(100) {
            if wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(3), rd.read(&mut buf))
        .await
        .expect("closed while still trickling");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    trickle.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_must_arrive_within_the_message_timeout() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_secs(30),
        message_timeout: Duration::from_millis(300),
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let mut c = server.connect().await;
    c.write_all(&[0, 40, 1]).await.unwrap();
    let started = Instant::now();
    expect_close(&mut c, Duration::from_secs(3)).await;
    assert!(started.elapsed() >= Duration::from_millis(250));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_dropped() {
    let limits = TcpLimits {
        idle_timeout: Duration::from_millis(500),
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let c = socket.connect(server.addr).await.unwrap();
    let (_rd, mut wr) = c.into_split();
    // Ask for a 52 KB answer 2,000 times (100 MB) and never read. The server stops reading
    // once its queue is full, so this write may never finish: it runs on its own.
    let mut wire = Vec::new();
    for id in 0..2_000u16 {
        wire.extend_from_slice(&framed(&query(id, "fat.example.", RType::TXT)));
    }
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&wire).await;
        wr
    });
    let registry = server.registry.clone();
    eventually("the stuck connection is closed", || {
        let t = registry.totals();
        t.connections(Transport::Tcp) == 1 && t.connections_open(Transport::Tcp) == 0
    })
    .await;
    // It answered some, far fewer than asked, before giving up.
    let answered = registry.totals().queries(Transport::Tcp, QType::Txt);
    assert!(answered > 0 && answered < 2_000, "{answered} answered");
    writer.abort();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// RFC 7766 6.2.2: connection limits
// ---------------------------------------------------------------------------------------------

/// The scenario: 1,000 idle connections and a slowloris writer from 127.0.0.1 do not
/// stop a query from 127.0.0.2 being answered within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_crowd_and_slowloris_do_not_starve_others() {
    if !ensure_nofile(2_200) {
        return;
    }
    let limits = TcpLimits {
        max_per_client: 2_000,
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..1_000 {
        idle.push(server.connect().await);
    }
    let slow = server.connect().await;
    let (_slow_rd, mut slow_wr) = slow.into_split();
    let trickle = tokio::spawn(async move {
        let message = framed(&query(1, "www.example.", RType::A));
        for b in message.iter().cycle().take(100) {
            if slow_wr.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let registry = server.registry.clone();
    eventually("the crowd is accepted", || {
        registry.totals().connections_open(Transport::Tcp) >= 1_001
    })
    .await;

    let started = Instant::now();
    let mut other = server.connect_from("127.0.0.2").await;
    let response = tokio::time::timeout(
        Duration::from_secs(1),
        ask(&mut other, 77, "www.example.", RType::A),
    )
    .await
    .expect("answered within a second");
    assert_eq!(id_of(&response), 77);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(
        registry
            .totals()
            .connections_rejected(Transport::Tcp, TcpReject::TotalLimit),
        0
    );

    trickle.abort();
    drop(idle);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_client_limit_rejects_the_65th() {
    let server = Server::start(TcpLimits::default()).await;
    let mut held = Vec::new();
    for i in 0..64u16 {
        let mut c = server.connect().await;
        ask(&mut c, i, "www.example.", RType::A).await;
        held.push(c);
    }
    let mut extra = server.connect().await;
    let _ = extra
        .write_all(&framed(&query(65, "www.example.", RType::A)))
        .await;
    expect_close(&mut extra, WAIT).await;

    let mut other = server.connect_from("127.0.0.2").await;
    let response = ask(&mut other, 66, "www.example.", RType::A).await;
    assert_eq!(id_of(&response), 66);
    let t = server.registry.totals();
    assert_eq!(
        t.connections_rejected(Transport::Tcp, TcpReject::ClientLimit),
        1
    );

    // A freed place can be taken again.
    drop(held.pop());
    let registry = server.registry.clone();
    eventually("the close is seen", || {
        // 63 held and the one from 127.0.0.2.
        registry.totals().connections_open(Transport::Tcp) == 64
    })
    .await;
    let mut again = server.connect().await;
    ask(&mut again, 67, "www.example.", RType::A).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_total_limit_the_idlest_connection_makes_room() {
    let limits = TcpLimits {
        max_connections: 3,
        ..TcpLimits::default()
    };
    let server = Server::start(limits).await;
    let mut conns = Vec::new();
    for i in 0..3u16 {
        let mut c = server.connect().await;
        ask(&mut c, i, "www.example.", RType::A).await;
        conns.push(c);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut newcomer = server.connect_from("127.0.0.2").await;
    let response = ask(&mut newcomer, 9, "www.example.", RType::A).await;
    assert_eq!(id_of(&response), 9);
    // The first connection, idle the longest, was closed; the others still answer.
    expect_close(&mut conns[0], WAIT).await;
    ask(&mut conns[1], 10, "www.example.", RType::A).await;
    ask(&mut conns[2], 11, "www.example.", RType::A).await;
    assert_eq!(
        server
            .registry
            .totals()
            .connections_rejected(Transport::Tcp, TcpReject::TotalLimit),
        0
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_answers_and_closes() {
    let server = Server::start(TcpLimits::default()).await;
    let mut idle = server.connect().await;
    let mut busy = server.connect().await;
    busy.write_all(&framed(&query(5, "big.", RType::AXFR)))
        .await
        .unwrap();
    // Wait until the transfer has started.
    let first = expect_message(&mut busy).await;
    assert_eq!(id_of(&first), 5);
    let addr = server.addr;
    server.shutdown.trigger();

    // The transfer in flight is completed.
    let mut records = Message::parse(&first)
        .unwrap()
        .records(Section::Answer)
        .count();
    loop {
        let msg = expect_message(&mut busy).await;
        let m = Message::parse(&msg).unwrap();
        records += usize::from(m.header().ancount);
        let last = m.records(Section::Answer).last().unwrap();
        if last.rtype == RType::SOA {
            break;
        }
    }
    assert_eq!(records, BIG_RECORDS + 1);
    expect_close(&mut busy, WAIT).await;
    expect_close(&mut idle, WAIT).await;
    tokio::time::timeout(WAIT, server.task)
        .await
        .expect("serve returns")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}

// ---------------------------------------------------------------------------------------------
// Interop
// ---------------------------------------------------------------------------------------------

/// Runs a command with a hard time limit; `None` when the tool is not installed.
async fn run_tool(program: &str, args: Vec<String>) -> Option<String> {
    if std::process::Command::new(program)
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("skipped: {program} not installed");
        return None;
    }
    let program = program.to_string();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .arg("20")
            .arg(&program)
            .args(&args)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kdig_transfers_the_large_zone() {
    let server = Server::start(TcpLimits::default()).await;
    let args = vec![
        "@127.0.0.1".to_string(),
        "-p".to_string(),
        server.addr.port().to_string(),
        "+time=5".to_string(),
        "+retry=0".to_string(),
        "AXFR".to_string(),
        "big.".to_string(),
    ];
    let Some(out) = run_tool("kdig", args).await else {
        return;
    };
    let a_records = out.lines().filter(|l| l.contains("\tA\t")).count();
    // 50,000 generated records and the name server's address.
    assert_eq!(
        a_records,
        50_001,
        "{}",
        &out[out.len().saturating_sub(500)..]
    );
    let soas = out.lines().filter(|l| l.contains("\tSOA\t")).count();
    assert_eq!(soas, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_keepopen_asks_several_queries_on_one_connection() {
    let server = Server::start(TcpLimits::default()).await;
    let args = [
        "@127.0.0.1",
        "-p",
        &server.addr.port().to_string(),
        "+tcp",
        "+keepopen",
        "+time=5",
        "+tries=1",
        "www.example.",
        "A",
        "mail.example.",
        "A",
        "nope.example.",
        "A",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let Some(out) = run_tool("dig", args).await else {
        return;
    };
    assert_eq!(out.matches("status: NOERROR").count(), 2, "{out}");
    assert_eq!(out.matches("status: NXDOMAIN").count(), 1, "{out}");
    assert!(
        out.contains("192.0.2.2") && out.contains("192.0.2.3"),
        "{out}"
    );
    let registry = server.registry.clone();
    eventually("the queries are counted", || {
        registry.totals().queries(Transport::Tcp, QType::A) == 3
    })
    .await;
    assert_eq!(
        registry.totals().connections(Transport::Tcp),
        1,
        "one connection"
    );
    server.stop().await;
}
