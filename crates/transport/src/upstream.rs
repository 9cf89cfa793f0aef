//! Upstream I/O for the resolver: one exchange per query the recursor hands out.
//!
//! RFC 5452 makes a forged answer hard to land by making every query hard to guess: a random
//! 16-bit ID (the recursor's), a random letter case (0x20, the recursor's) and, here, a random
//! source port. Each UDP query gets a **fresh socket bound to a port drawn from a CSPRNG**
//! ([`PortSource`]: ChaCha20 seeded from the OS once per driver, so a query costs no
//! `getrandom` call) in 1024..=65535 (a few draws when the port is taken), on the unspecified address of the
//! server's family, so no two queries share a port and a forger has to guess it too. Every
//! datagram that arrives on the socket before the deadline is passed on with its real source
//! address, and the recursor decides whether it is the answer (address, port, ID, question and
//! case must match); the exchange ends when the driver hears that the query is over (it aborts
//! the task), at the deadline, or after [`MAX_DATAGRAMS`] datagrams (a flood of forgeries).
//!
//! Over TCP (RFC 7766; after a truncated answer, or when the recursor asks for it), the query
//! is sent with its two-byte length and one message is read back, within the deadline.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use rand::rngs::ChaCha20Rng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Ports below this are privileged or well known; source ports come from 1024..=65535.
pub const MIN_PORT: u16 = 1024;
/// Draws of a random port before giving up when each is in use.
pub const BIND_ATTEMPTS: usize = 8;
/// Largest upstream UDP message read; our EDNS payload is at most 4,096.
pub const UDP_BUFFER: usize = 4096;
/// Datagrams read for one query before giving up on it (a flood of forgeries).
pub const MAX_DATAGRAMS: usize = 64;

/// What an exchange reports to its driver.
#[derive(Debug)]
pub enum Event<Id> {
    /// A message arrived from `from`.
    Message {
        /// The query.
        id: Id,
        /// The real source address and port.
        from: SocketAddr,
        /// The message (without the TCP length).
        message: Vec<u8>,
    },
    /// The query could not be sent, or its connection failed.
    Failed {
        /// The query.
        id: Id,
    },
}

/// Source ports for upstream queries: a ChaCha20 CSPRNG seeded from the OS, one per driver.
pub struct PortSource {
    rng: ChaCha20Rng,
}

impl fmt::Debug for PortSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The generator's state would let a reader predict the ports.
        f.write_str("PortSource")
    }
}

impl PortSource {
    /// A source seeded from the OS CSPRNG.
    pub fn from_os() -> io::Result<PortSource> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(PortSource {
            rng: ChaCha20Rng::from_seed(seed),
        })
    }

    /// The ports one query tries in turn, each uniform in [`MIN_PORT`]..=65535.
    pub fn draw(&mut self) -> [u16; BIND_ATTEMPTS] {
        let span = u32::from(u16::MAX - MIN_PORT) + 1;
        std::array::from_fn(|_| {
            let port = u32::from(MIN_PORT) + self.rng.random_range(0..span);
            u16::try_from(port).unwrap_or(u16::MAX)
        })
    }
}

/// A UDP socket bound to the first free port of `ports` on the unspecified address of
/// `server`'s family.
pub async fn bind_random(server: SocketAddr, ports: [u16; BIND_ATTEMPTS]) -> io::Result<UdpSocket> {
    let mut last = io::Error::from(io::ErrorKind::AddrInUse);
    for port in ports {
        let local = match server {
            SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
        };
        match UdpSocket::bind(local).await {
            Ok(socket) => return Ok(socket),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Sends `message` to `server` from a fresh socket on the first free port of `ports` and passes
/// every datagram that arrives before `deadline` to `events` (see the module docs). Reports
/// [`Event::Failed`] when the query cannot be sent.
pub async fn udp_exchange<Id: Copy>(
    id: Id,
    server: SocketAddr,
    ports: [u16; BIND_ATTEMPTS],
    message: Vec<u8>,
    deadline: Instant,
    events: mpsc::Sender<Event<Id>>,
) {
    let socket = match bind_random(server, ports).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(%server, error = %e, "upstream UDP socket");
            let _ = events.send(Event::Failed { id }).await;
            return;
        }
    };
    if let Err(e) = socket.send_to(&message, server).await {
        tracing::debug!(%server, error = %e, "upstream UDP send");
        let _ = events.send(Event::Failed { id }).await;
        return;
    }
    let mut buf = vec![0u8; UDP_BUFFER];
    for _ in 0..MAX_DATAGRAMS {
        let received = tokio::time::timeout_at(deadline.into(), socket.recv_from(&mut buf)).await;
        let (n, from) = match received {
            // The deadline: the recursor's timer handles it.
            Err(_) => return,
            Ok(Ok(got)) => got,
            // An ICMP error reported on the socket: the server is unreachable.
            Ok(Err(_)) => {
                let _ = events.send(Event::Failed { id }).await;
                return;
            }
        };
        let message = buf.get(..n).unwrap_or_default().to_vec();
        if events
            .send(Event::Message { id, from, message })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Sends `message` to `server` over TCP and passes the one message read back to `events`,
/// within `deadline`; [`Event::Failed`] when the connection or the exchange fails.
pub async fn tcp_exchange<Id: Copy>(
    id: Id,
    server: SocketAddr,
    message: Vec<u8>,
    deadline: Instant,
    events: mpsc::Sender<Event<Id>>,
) {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let _ = stream.set_nodelay(true);
        let len = u16::try_from(message.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut framed = Vec::with_capacity(message.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&message);
        stream.write_all(&framed).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).await?;
        io::Result::Ok(reply)
    };
    match tokio::time::timeout_at(deadline.into(), exchange).await {
        // The deadline: the recursor's timer handles it.
        Err(_) => {}
        Ok(Ok(message)) => {
            let _ = events
                .send(Event::Message {
                    id,
                    from: server,
                    message,
                })
                .await;
        }
        Ok(Err(e)) => {
            tracing::debug!(%server, error = %e, "upstream TCP exchange");
            let _ = events.send(Event::Failed { id }).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_unprivileged_and_spread() {
        let mut source = PortSource::from_os().unwrap();
        let ports: Vec<u16> = (0..25).flat_map(|_| source.draw()).collect();
        assert!(ports.iter().all(|&p| p >= MIN_PORT));
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert!(distinct.len() > 150);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn udp_passes_every_datagram_with_its_source() {
        let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel(8);
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        let ports = PortSource::from_os().unwrap().draw();
        let task = tokio::spawn(udp_exchange(
            7u64,
            addr,
            ports,
            b"query".to_vec(),
            deadline,
            tx,
        ));
        let mut buf = [0u8; 64];
        let (n, client) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"query");
        assert!(client.port() >= MIN_PORT);
        // A forger on another port, then the server.
        let forger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        forger.send_to(b"forged", client).unwrap();
        server.send_to(b"answer", client).unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            match rx.recv().await.unwrap() {
                Event::Message { id, from, message } => {
                    assert_eq!(id, 7);
                    got.push((from, message));
                }
                Event::Failed { .. } => panic!("failed"),
            }
        }
        assert!(got.contains(&(forger.local_addr().unwrap(), b"forged".to_vec())));
        assert!(got.contains(&(addr, b"answer".to_vec())));
        task.abort();
    }

    #[tokio::test]
    async fn tcp_reads_one_framed_message() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut len = [0u8; 2];
            s.read_exact(&mut len).await.unwrap();
            let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
            s.read_exact(&mut q).await.unwrap();
            assert_eq!(q, b"query");
            s.write_all(b"\x00\x06answer").await.unwrap();
        });
        let (tx, mut rx) = mpsc::channel(8);
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        tcp_exchange(1u64, addr, b"query".to_vec(), deadline, tx).await;
        match rx.recv().await.unwrap() {
            Event::Message { from, message, .. } => {
                assert_eq!(from, addr);
                assert_eq!(message, b"answer");
            }
            Event::Failed { .. } => panic!("failed"),
        }
        server.await.unwrap();
        // Nobody listening: a failure.
        let (tx, mut rx) = mpsc::channel(8);
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap();
        drop(closed);
        tcp_exchange(2u64, gone, b"q".to_vec(), deadline, tx).await;
        assert!(matches!(rx.recv().await, Some(Event::Failed { id: 2 })));
    }
}
