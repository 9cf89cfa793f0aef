//! DNS over QUIC (RFC 9250): `portcullis serve` with a `[quic]` listener and the `[tls]`
//! certificate from `portcullis cert self-signed`, asked by real clients over loopback:
//! `kdig +quic` (when the installed kdig is built with QUIC), dnspython's `dns.query.quic`
//! (aioquic), `portcullis query +quic` and the `DoqClient`, each getting the answers `dig` gets
//! over UDP. Raw quinn clients check the protocol rules: a non-zero message ID or a
//! unidirectional stream closes the connection with DOQ_PROTOCOL_ERROR, two messages on one
//! stream reset that stream only, a resumed session's 0-RTT query is answered while a NOTIFY in
//! 0-RTT is REFUSED, the per-client connection limit refuses the next connection, a listener
//! ACL that drops ignores the client, SIGHUP serves a new certificate, an idle connection and
//! shutdown close with DOQ_NO_ERROR, padded queries get padded answers, queries count under
//! `doq`, DDR names the listener, `max_streams` holds a third stream back, and a stream without
//! FIN is reset. The client side is also checked against a DoQ server of another
//! implementation (`tests/interop/doq_server.py`, on aioquic), through a slow relay (a
//! handshake outlives the query that started it), and as a resolver's `quic://` forwarder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    ChildGuard, Scratch, Server, answer_section, ask, config, free_port, make_cert, pquery, query,
    zone,
};
use quinn::crypto::rustls::QuicClientConfig;
use quinn::{ConnectionError, VarInt};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use transport::client_tls::{ClientTls, Trust};
use transport::doq_client::DoqClient;
use wire::{Message, RType};

/// A server for `example.test.` over UDP and TCP on one port and over QUIC on another, with a
/// fresh self-signed certificate for `dns.test`; `server` lines go into `[server]`, `tls` lines
/// into `[tls]`, `more` is appended (`{doq}` in it standing for the DoQ address).
fn start(test: &str, server: &str, tls: &str, more: &str) -> (Scratch, Server, SocketAddr) {
    let scratch = Scratch::new(test);
    make_cert(&scratch.0, "dns.test");
    let (port, quic_port) = (free_port(), free_port());
    let doq = SocketAddr::from(([127, 0, 0, 1], quic_port));
    scratch.write("example.test.zone", &zone(1));
    let text = config(&format!("127.0.0.1:{port}"))
        .replace("[server]\n", &format!("[server]\n{server}\n"))
        + &format!(
            "\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n{tls}\n\n[quic]\nlisten = [\"{doq}\"]\n"
        )
        + &more.replace("{doq}", &doq.to_string());
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (scratch, server, doq)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A `DoqClient` for `to` trusting the certificate in `cert`, checking `name`.
fn doq_client(to: SocketAddr, cert: &Path, name: &str) -> DoqClient {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let tls = ClientTls::new(&Trust::Ca(cert.to_owned()), name, &[b"doq"], true).unwrap();
    DoqClient::new(to, tls).unwrap()
}

/// A raw quinn client configuration (ALPN `doq`, early data on) trusting `cert.pem`.
fn raw_config(scratch: &Scratch) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(scratch.0.join("cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"doq".to_vec()];
    config.enable_early_data = true;
    let crypto = QuicClientConfig::try_from(Arc::new(config)).unwrap();
    quinn::ClientConfig::new(Arc::new(crypto))
}

fn raw_endpoint() -> quinn::Endpoint {
    quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap()
}

/// `message` behind its 2-byte length.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// One query on a new stream of `conn`; the response's message, or the read error.
async fn raw_ask(conn: &quinn::Connection, wire: &[u8]) -> Result<Vec<u8>, String> {
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    send.write_all(wire).await.map_err(|e| e.to_string())?;
    send.finish().unwrap();
    let data = recv.read_to_end(70_000).await.map_err(|e| e.to_string())?;
    assert_eq!(
        usize::from(u16::from_be_bytes([data[0], data[1]])),
        data.len() - 2
    );
    Ok(data[2..].to_vec())
}

/// A query with message ID 0, as DoQ wants.
fn doq_query(name: &str, qtype: RType) -> Vec<u8> {
    query(0, name, qtype, Some(1232))
}

/// The RCODE of a response.
fn rcode(response: &[u8]) -> u8 {
    response[3] & 0x0f
}

/// The application error code the peer closed `conn` with.
async fn closed_with(conn: &quinn::Connection) -> u64 {
    match tokio::time::timeout(Duration::from_secs(5), conn.closed())
        .await
        .expect("closed within 5 s")
    {
        ConnectionError::ApplicationClosed(close) => close.error_code.into_inner(),
        other => panic!("closed otherwise: {other}"),
    }
}

#[test]
fn kdig_over_quic_gets_the_udp_answer() {
    let (_scratch, server, doq) = start("doq-kdig", "", "", "");
    let probe = Command::new("kdig")
        .arg(format!("@{}", doq.ip()))
        .args(["-p", &doq.port().to_string(), "+quic", "+time=2"])
        .args(["+retry=0", "www.example.test.", "A"])
        .output()
        .expect("kdig: scripts/test.sh installs knot-dnsutils");
    let text = String::from_utf8_lossy(&probe.stdout).into_owned()
        + &String::from_utf8_lossy(&probe.stderr);
    if !text.contains("(QUIC)") {
        // Debian bookworm's kdig 3.2 is built without libngtcp2: `+quic` falls back to UDP.
        eprintln!("SKIPPED: this kdig has no QUIC support: {text}");
        return;
    }
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let udp = ask("dig", server.addr, &["+short", name, qtype]);
        let quic = ask("kdig", doq, &["+quic", "+short", name, qtype]);
        assert!(!udp.trim().is_empty(), "no answer for {name}");
        assert_eq!(quic, udp, "{name} {qtype}");
    }
}

/// dnspython's DoQ client (aioquic) asking `name` `qtype` at `doq` with `verify` (a CA file,
/// or `False`); the answer section's records as text, one a line.
fn dnspython(doq: SocketAddr, name: &str, qtype: &str, verify: &str) -> String {
    let script = format!(
        "import dns.query, dns.message\n\
         q = dns.message.make_query('{name}', '{qtype}')\n\
         r = dns.query.quic(q, '{ip}', port={port}, timeout=5, verify={verify}, \
         server_hostname='dns.test')\n\
         assert r.id == q.id\n\
         for rrset in r.answer:\n    for rd in rrset:\n        print(rd.to_text())\n",
        ip = doq.ip(),
        port = doq.port(),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3: scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "dnspython over QUIC failed ({verify}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dnspython_over_quic_gets_the_udp_answer() {
    let (scratch, server, doq) = start("doq-dnspython", "", "", "");
    let ca = format!("'{}'", scratch.0.join("cert.pem").display());
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let udp = ask("dig", server.addr, &["+short", name, qtype]);
        assert!(!udp.trim().is_empty(), "no answer for {name}");
        for verify in [ca.as_str(), "False"] {
            assert_eq!(dnspython(doq, name, qtype, verify), udp, "{name} {qtype}");
        }
    }
}

#[test]
fn query_over_quic_gets_the_udp_answer_and_checks_the_name() {
    let (scratch, server, doq) = start("doq-query", "", "", "");
    let udp_at = format!("@{}", server.addr);
    let doq_at = format!("@{doq}");
    let footer = format!(";; SERVER: 127.0.0.1#{}(QUIC)", doq.port());
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let (code, udp, stderr) = pquery(&scratch.0, &[name, qtype, &udp_at]);
        assert_eq!(code, Some(0), "{udp}{stderr}");
        let want = answer_section(&udp);
        assert!(!want.is_empty(), "{udp}");
        for trust in [
            &["+tls-ca=cert.pem", "+tls-name=dns.test"][..],
            &["+tls-ca=cert.pem"],
            &["+insecure"],
        ] {
            let mut args = vec![name, qtype, "+quic", &doq_at];
            args.extend_from_slice(trust);
            let (code, stdout, stderr) = pquery(&scratch.0, &args);
            assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
            assert_eq!(answer_section(&stdout), want, "{args:?}");
            assert!(stdout.contains(";; QUIC TLSv1.3, ALPN doq\n"), "{stdout}");
            assert!(stdout.contains(&footer), "{stdout}");
            assert!(stdout.contains(";; Query time: "), "{stdout}");
            assert_eq!(stderr, "");
        }
    }
    // A name the certificate is not valid for.
    let (code, stdout, stderr) = pquery(
        &scratch.0,
        &[
            "www.example.test.",
            "+quic",
            "+timeout=3",
            &doq_at,
            "+tls-ca=cert.pem",
            "+tls-name=other.test",
        ],
    );
    assert_eq!(code, Some(9), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "communications error to 127.0.0.1#{}: ",
            doq.port()
        )) && stderr.contains("not valid for name"),
        "{stderr}"
    );
    assert!(!stdout.contains("ANSWER SECTION"), "{stdout}");
    // No trust given: the system's CA bundle, which does not know a self-signed certificate.
    let (code, _, stderr) = pquery(&scratch.0, &["www.example.test.", "+quic", &doq_at]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
}

#[test]
fn protocol_errors_close_the_connection_or_reset_the_stream() {
    let (scratch, _server, doq) = start("doq-protocol", "", "", "");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        // A message ID other than 0: DOQ_PROTOCOL_ERROR.
        let conn = endpoint
            .connect_with(config.clone(), doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let ok = raw_ask(&conn, &framed(&doq_query("www.example.test.", RType::A))).await;
        let ok = ok.unwrap();
        assert_eq!((ok[0], ok[1], rcode(&ok)), (0, 0, 0));
        let bad = query(0x1234, "www.example.test.", RType::A, None);
        assert!(raw_ask(&conn, &framed(&bad)).await.is_err());
        assert_eq!(closed_with(&conn).await, 0x2);

        // Two messages on one stream: that stream is reset, the connection goes on.
        let conn = endpoint
            .connect_with(config.clone(), doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let one = framed(&doq_query("www.example.test.", RType::A));
        let two = [one.clone(), one.clone()].concat();
        let err = raw_ask(&conn, &two).await.unwrap_err();
        assert!(err.contains("reset by peer: error 2"), "{err}");
        // A length the stream does not match (FIN before the message's end): reset too.
        let err = raw_ask(&conn, &one[..one.len() - 1]).await.unwrap_err();
        assert!(err.contains("reset by peer: error 2"), "{err}");
        assert!(raw_ask(&conn, &one).await.is_ok());

        // A unidirectional stream from the client: DOQ_PROTOCOL_ERROR.
        let mut uni = conn.open_uni().await.unwrap();
        uni.write_all(&one).await.unwrap();
        uni.finish().unwrap();
        assert_eq!(closed_with(&conn).await, 0x2);
    });
}

#[test]
fn a_resumed_session_asks_in_0rtt() {
    let (scratch, _server, doq) = start("doq-0rtt", "", "", "");
    let client = doq_client(doq, &scratch.0.join("cert.pem"), "dns.test");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let deadline = || Instant::now() + Duration::from_secs(5);
        let q = query(0x4242, "www.example.test.", RType::A, Some(1232));
        let first = client.exchange(&q, deadline()).await.unwrap();
        assert_eq!(Message::parse(&first).unwrap().header().id, 0x4242);
        // The session ticket arrives after the handshake; give it a moment, then reconnect.
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.close().await;
        let second = client.exchange(&q, deadline()).await.unwrap();
        assert_eq!(second, first);
        let stats = client.stats();
        assert_eq!(
            (stats.connections, stats.early_answers),
            (2, 1),
            "{stats:?}"
        );

        // In 0-RTT the server answers a standard query, and refuses a NOTIFY it would
        // otherwise answer NOTIMP.
        let endpoint = raw_endpoint();
        let mut conn = endpoint
            .connect_with(config.clone(), doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let mut notify = doq_query("example.test.", RType::SOA);
        notify[2] = 4 << 3;
        let after_handshake = raw_ask(&conn, &framed(&notify)).await.unwrap();
        assert_eq!(rcode(&after_handshake), 4, "NOTIMP");
        let plain = framed(&doq_query("www.example.test.", RType::A));
        let notify = framed(&notify);
        // The server judges a stream by whether the handshake was still going when it took
        // the stream: a busy machine may take it only after the client's Finished (safe: a
        // completed handshake is no replay), so a few resumed connections are tried.
        let mut refused = 0;
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            conn.close(VarInt::from_u32(0), b"");
            let (early, accepted) = endpoint
                .connect_with(config.clone(), doq, "dns.test")
                .unwrap()
                .into_0rtt()
                .expect("a session ticket for 0-RTT");
            let (notified, answer) =
                tokio::join!(raw_ask(&early, &notify), raw_ask(&early, &plain));
            assert!(accepted.await, "the server accepted the early data");
            assert_eq!(rcode(&answer.unwrap()), 0);
            match rcode(&notified.unwrap()) {
                5 => refused += 1,
                rcode => assert_eq!(rcode, 4, "REFUSED in 0-RTT, else NOTIMP"),
            }
            conn = early;
            if refused > 0 {
                break;
            }
        }
        assert!(refused > 0, "no NOTIFY was refused in 0-RTT");
    });
}

#[test]
fn the_per_client_connection_limit_refuses_the_next_connection() {
    let (scratch, _server, doq) = start("doq-limit", "tcp_max_connections_per_client = 2", "", "");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        let connect = || async {
            endpoint
                .connect_with(config.clone(), doq, "dns.test")
                .unwrap()
                .await
        };
        let a = connect().await.unwrap();
        let b = connect().await.unwrap();
        match connect().await {
            Err(ConnectionError::ConnectionClosed(close)) => {
                assert_eq!(
                    close.error_code,
                    quinn::TransportErrorCode::CONNECTION_REFUSED
                );
            }
            other => panic!("a third connection: {other:?}"),
        }
        assert!(
            raw_ask(&b, &framed(&doq_query("www.example.test.", RType::A)))
                .await
                .is_ok()
        );
        a.close(VarInt::from_u32(0), b"");
        drop(a);
        // The place is free once the server has seen the close.
        let mut again = None;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Ok(conn) = connect().await {
                again = Some(conn);
                break;
            }
        }
        assert!(again.is_some(), "no connection after one closed");
    });
}

#[test]
fn a_listener_acl_that_drops_ignores_the_client() {
    let acl = "[[acl.listener]]\nlisten = \"{doq}\"\nquery = [\"drop any\"]\n";
    let (scratch, server, doq) = start("doq-acl", "", "", acl);
    let udp = ask("dig", server.addr, &["+short", "www.example.test.", "A"]);
    assert_eq!(udp.trim(), "192.0.2.80");
    let client = doq_client(doq, &scratch.0.join("cert.pem"), "dns.test");
    let started = Instant::now();
    let err = runtime()
        .block_on(client.exchange(
            &doq_query("www.example.test.", RType::A),
            started + Duration::from_secs(2),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
}

#[test]
fn sighup_serves_a_new_certificate() {
    let (scratch, server, doq) = start("doq-reload", "", "", "");
    let served = |scratch: &Scratch| {
        let config = raw_config(scratch);
        runtime().block_on(async {
            let endpoint = raw_endpoint();
            let conn = endpoint
                .connect_with(config, doq, "127.0.0.1")
                .unwrap()
                .await
                .unwrap();
            let certs = conn
                .peer_identity()
                .unwrap()
                .downcast::<Vec<CertificateDer<'static>>>()
                .unwrap();
            conn.close(VarInt::from_u32(0), b"");
            certs[0].to_vec()
        })
    };
    let before = served(&scratch);
    make_cert(&scratch.0, "other.test");
    server.signal("HUP");
    server.wait_log("reloaded", 1);
    let after = served(&scratch);
    assert_ne!(after, before);
}

/// The Python DoQ server of `tests/interop/doq_server.py` on a free port, with the scratch
/// directory's certificate; its standard output, read line by line.
fn python_server(
    scratch: &Scratch,
) -> (ChildGuard, SocketAddr, BufReader<std::process::ChildStdout>) {
    let port = free_port();
    let script: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "interop",
        "doq_server.py",
    ]
    .iter()
    .collect();
    let mut child = ChildGuard(
        Command::new("python3")
            .arg(script)
            .args(["cert.pem", "key.pem", &port.to_string()])
            .current_dir(&scratch.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready", "the aioquic server did not start");
    (child, SocketAddr::from(([127, 0, 0, 1], port)), out)
}

#[test]
fn the_client_works_with_another_doq_server() {
    let scratch = Scratch::new("doq-aioquic");
    make_cert(&scratch.0, "dns.test");
    let (_child, addr, mut out) = python_server(&scratch);
    let mut next_line = || {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line
    };
    // `portcullis query +quic`.
    let at = format!("@{addr}");
    let (code, stdout, stderr) = pquery(
        &scratch.0,
        &["www.example.test.", "A", "+quic", &at, "+tls-ca=cert.pem"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        answer_section(&stdout),
        vec!["www.example.test.\t300\tIN\tA\t192.0.2.1"],
        "{stdout}"
    );
    assert!(stdout.contains(";; QUIC TLSv1.3, ALPN doq\n"), "{stdout}");
    // The message ID on the wire was 0.
    assert_eq!(next_line().trim(), "query id=0 www.example.test. A");

    // `DoqClient`: the caller's ID back, several queries on one connection.
    let client = doq_client(addr, &scratch.0.join("cert.pem"), "dns.test");
    runtime().block_on(async {
        let deadline = Instant::now() + Duration::from_secs(5);
        for (id, name, qtype, rcode_want) in [
            (0x1111, "www.example.test.", RType::AAAA, 0),
            (0x2222, "txt.example.test.", RType::TXT, 0),
            (0x3333, "nothere.example.test.", RType::A, 3),
        ] {
            let response = client
                .exchange(&query(id, name, qtype, None), deadline)
                .await
                .unwrap();
            let msg = Message::parse(&response).unwrap();
            assert_eq!(msg.header().id, id);
            assert_eq!(rcode(&response), rcode_want, "{name}");
        }
        assert_eq!(client.stats().connections, 1);
        client.close().await;
    });
    for _ in 0..3 {
        assert!(next_line().starts_with("query id=0 "));
    }
}

#[test]
fn doq_counts_under_its_label_and_a_resolver_designates_it() {
    let http = free_port();
    let (scratch, server, doq) = start(
        "doq-ddr",
        &format!("http = \"127.0.0.1:{http}\""),
        "name = \"dns.test\"",
        "\n[resolver]\nenabled = true\n",
    );
    let client = doq_client(doq, &scratch.0.join("cert.pem"), "dns.test");
    let q = doq_query("www.example.test.", RType::A);
    let deadline = Instant::now() + Duration::from_secs(5);
    runtime().block_on(async {
        client.exchange(&q, deadline).await.unwrap();
        client.close().await;
    });
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let series = "portcullis_queries_total{transport=\"doq\",qtype=\"A\"}";
    assert_eq!(common::metric(&text, series), Some(1.0), "{text}");
    // Discovery of Designated Resolvers (RFC 9462) names the DoQ endpoint.
    let svcb = ask(
        "dig",
        server.addr,
        &["+short", "_dns.resolver.arpa.", "SVCB"],
    );
    assert_eq!(
        svcb.trim(),
        format!(
            "1 dns.test. alpn=\"doq\" port={} ipv4hint=127.0.0.1",
            doq.port()
        ),
        "{svcb}"
    );
}

#[test]
fn a_quic_listener_needs_the_tls_certificate() {
    let (listen, quic) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--listen", &listen, "--listen-quic", &quic])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("tls.cert"), "{text}");
}

#[test]
fn shutdown_closes_open_connections() {
    let (scratch, mut server, doq) = start("doq-shutdown", "", "", "");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        let conn = endpoint
            .connect_with(config, doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let q = framed(&doq_query("www.example.test.", RType::A));
        assert!(raw_ask(&conn, &q).await.is_ok());
        server.signal("TERM");
        // The server says goodbye with DOQ_NO_ERROR rather than going silent.
        assert_eq!(closed_with(&conn).await, 0x0);
    });
    assert!(server.wait_exit(Duration::from_secs(10)).success());
}

#[test]
fn an_idle_connection_is_closed() {
    // `more` lands in `[quic]`, the last section.
    let (scratch, _server, doq) = start("doq-idle", "", "", "idle_timeout = 1\n");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        let conn = endpoint
            .connect_with(config, doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let q = framed(&doq_query("www.example.test.", RType::A));
        assert!(raw_ask(&conn, &q).await.is_ok());
        let started = Instant::now();
        assert_eq!(closed_with(&conn).await, 0x0, "DOQ_NO_ERROR");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(800) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    });
}

#[test]
fn padded_queries_get_padded_answers() {
    // RFC 8467: a response to a padded query is padded to a multiple of 468 bytes.
    let (scratch, _server, doq) = start("doq-padding", "", "", "");
    let script = format!(
        "import dns.query, dns.message, dns.edns\n\
         q = dns.message.make_query('www.example.test.', 'A', use_edns=0, pad=128)\n\
         r = dns.query.quic(q, '{ip}', port={port}, timeout=5, verify='{ca}', \
         server_hostname='dns.test')\n\
         assert any(o.otype == dns.edns.OptionType.PADDING for o in r.options), r\n\
         print(len(r.to_wire()))\n",
        ip = doq.ip(),
        port = doq.port(),
        ca = scratch.0.join("cert.pem").display(),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let len: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(len % 468, 0, "{len} bytes");
}

#[test]
fn a_stream_without_fin_is_reset_and_keepalive_closes() {
    let (scratch, _server, doq) = start("doq-fin", "", "", "");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        let conn = endpoint
            .connect_with(config, doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        // The whole query, but no FIN: reset with DOQ_PROTOCOL_ERROR after the message
        // timeout (5 s); the connection goes on.
        let q = framed(&doq_query("www.example.test.", RType::A));
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&q).await.unwrap();
        let started = Instant::now();
        let err = recv.read_to_end(70_000).await.unwrap_err().to_string();
        assert!(err.contains("reset by peer: error 2"), "{err}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(4) && waited < Duration::from_secs(8),
            "{waited:?}"
        );
        assert!(raw_ask(&conn, &q).await.is_ok());
        // The edns-tcp-keepalive option has no place in DoQ (RFC 9250 section 5.5.2).
        let mut keepalive = doq_query("www.example.test.", RType::A);
        let n = keepalive.len();
        keepalive[n - 1] = 4; // the OPT RDATA length, last in the message
        keepalive.extend_from_slice(&[0, 11, 0, 0]);
        assert!(raw_ask(&conn, &framed(&keepalive)).await.is_err());
        assert_eq!(closed_with(&conn).await, 0x2);
    });
}

/// `GET /metrics` at `http` with curl.
fn metrics(http: u16) -> String {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http}/metrics")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asks `name` A of `server` with RD=1: the RCODE and the first address.
fn resolve(server: SocketAddr, name: &str) -> (u8, Option<String>) {
    let mut q = query(7, name, RType::A, Some(1232));
    q[2] |= 0x01; // RD
    let resp = common::try_exchange(server, &q, Duration::from_secs(8))
        .unwrap_or_else(|| panic!("{name}: no answer from {server} within 8 s"));
    let m = Message::parse(&resp).unwrap();
    let addr = m
        .records(wire::message::Section::Answer)
        .find(|r| r.rtype == RType::A)
        .map(|r| {
            let d = r.raw_rdata();
            format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3])
        });
    (rcode(&resp), addr)
}

/// A resolver forwarding `zone` to `quic://dns.test@doq`, trusting `ca`: its scratch, server
/// and HTTP port.
fn start_forwarder(test: &str, zone: &str, doq: SocketAddr, ca: &Path) -> (Scratch, Server, u16) {
    let b = Scratch::new(test);
    let (port, http) = (free_port(), free_port());
    let text = format!(
        "[server]\nlisten = [\"127.0.0.1:{port}\"]\nworkers = 1\nhttp = \"127.0.0.1:{http}\"\n\
         control_socket = \"control.sock\"\n\
         [resolver]\nenabled = true\ninsecure_local_upstreams = true\ndrivers = 1\n\
         [dnssec]\nvalidation = false\n\
         [[forward]]\nzone = \"{zone}\"\nto = [\"quic://dns.test@{doq}\"]\nca = \"{}\"\n",
        ca.display()
    );
    let config = b.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, b.0.join("server.log"));
    (b, server, http)
}

#[test]
fn a_resolver_forwards_over_quic_to_the_aioquic_server() {
    let scratch = Scratch::new("doq-upstream-aioquic");
    make_cert(&scratch.0, "dns.test");
    let (_child, addr, mut out) = python_server(&scratch);
    let (_b, b, _) = start_forwarder(
        "doq-upstream-aioquic-b",
        "example.test.",
        addr,
        &scratch.0.join("cert.pem"),
    );
    assert_eq!(
        resolve(b.addr, "www.example.test."),
        (0, Some("192.0.2.1".to_owned())),
        "{}",
        b.log()
    );
    // The aioquic server saw the question with message ID 0 (RFC 9250 section 4.2.1).
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // (The name's letter case is the resolver's 0x20 randomisation.)
    assert!(
        line.to_ascii_lowercase()
            .starts_with("query id=0 www.example.test"),
        "{line}"
    );
}

#[test]
fn a_resolver_forwards_over_quic() {
    // Portcullis A serves `fwd.test.` over DoQ; Portcullis B, a resolver, forwards `fwd.test.`
    // to it as `quic://dns.test@ADDR`, trusting A's certificate.
    let a_http = free_port();
    let fwd = "[[zone]]\norigin = \"fwd.test.\"\ntext = \"\"\"\n$TTL 3600\n\
               @ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 127.0.0.1\n\
               www A 192.0.2.80\n* A 192.0.2.99\n\"\"\"\n";
    let (a_scratch, _a, doq) = start(
        "doq-upstream-a",
        &format!("http = \"127.0.0.1:{a_http}\""),
        "",
        fwd,
    );
    let (_b, b_server, b_http) = start_forwarder(
        "doq-upstream-b",
        "fwd.test.",
        doq,
        &a_scratch.0.join("cert.pem"),
    );
    let b_addr = b_server.addr;
    let connections = || {
        common::metric(
            &metrics(a_http),
            "portcullis_connections_total{transport=\"doq\"}",
        )
        .unwrap_or(0.0)
    };
    let before = connections();
    assert_eq!(
        resolve(b_addr, "www.fwd.test."),
        (0, Some("192.0.2.80".to_owned())),
        "{}",
        b_server.log()
    );
    for i in 0..10 {
        let name = format!("n{i}.fwd.test.");
        assert_eq!(
            resolve(b_addr, &name),
            (0, Some("192.0.2.99".to_owned())),
            "{name}"
        );
    }
    assert_eq!(
        connections() - before,
        1.0,
        "11 questions over one QUIC connection"
    );
    let b_metrics = metrics(b_http);
    let quic = common::metric(
        &b_metrics,
        "portcullis_upstream_queries_total{protocol=\"quic\"}",
    )
    .unwrap();
    assert!(quic >= 11.0, "{b_metrics}");
}

/// A UDP relay on loopback that holds every packet `delay` before passing it on, between one
/// client and `server`; its address.
async fn slow_relay(server: SocketAddr, delay: Duration) -> SocketAddr {
    let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut client = None;
        let mut buf = vec![0u8; 65_535];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let to = if from == server {
                match client {
                    Some(c) => c,
                    None => continue,
                }
            } else {
                client = Some(from);
                server
            };
            let (socket, packet) = (socket.clone(), buf[..n].to_vec());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&packet, to).await;
            });
        }
    });
    addr
}

#[test]
fn a_handshake_outlives_the_query_that_started_it() {
    let (scratch, _server, doq) = start("doq-slow", "", "", "");
    runtime().block_on(async {
        // 100 ms each way: a round trip of 200 ms, a handshake of more.
        let relay = slow_relay(doq, Duration::from_millis(100)).await;
        let client = doq_client(relay, &scratch.0.join("cert.pem"), "dns.test");
        // Not a replay-safe query (no 0-RTT shortcut anyway on a first connection).
        let q = query(0x77, "www.example.test.", RType::A, Some(1232));
        let first = client
            .exchange(&q, Instant::now() + Duration::from_millis(150))
            .await
            .unwrap_err();
        assert_eq!(first.kind(), std::io::ErrorKind::TimedOut, "{first}");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // The handshake went on: this query only needs its round trip.
        let second = client
            .exchange(&q, Instant::now() + Duration::from_millis(700))
            .await
            .unwrap();
        assert_eq!(Message::parse(&second).unwrap().header().id, 0x77);
        assert_eq!(client.stats().connections, 1);
    });
}

#[test]
fn max_streams_bounds_the_queries_open_at_once() {
    let (scratch, _server, doq) = start("doq-streams", "", "", "max_streams = 2\n");
    let config = raw_config(&scratch);
    runtime().block_on(async {
        let endpoint = raw_endpoint();
        let conn = endpoint
            .connect_with(config, doq, "dns.test")
            .unwrap()
            .await
            .unwrap();
        let q = framed(&doq_query("www.example.test.", RType::A));
        // Two streams open, their queries not finished: the server holds both.
        let (mut send1, mut recv1) = conn.open_bi().await.unwrap();
        send1.write_all(&q).await.unwrap();
        let (mut send2, _recv2) = conn.open_bi().await.unwrap();
        send2.write_all(&q).await.unwrap();
        // A third must wait for a slot.
        let third = tokio::time::timeout(Duration::from_millis(500), conn.open_bi()).await;
        assert!(third.is_err(), "a third stream opened while two were open");
        // Finishing one query frees its slot once it is answered.
        send1.finish().unwrap();
        let answer = recv1.read_to_end(70_000).await.unwrap();
        assert_eq!(rcode(&answer[2..]), 0);
        let third = tokio::time::timeout(Duration::from_secs(3), conn.open_bi()).await;
        assert!(third.is_ok(), "no slot after an answer");
    });
}

#[test]
fn early_data_a_restarted_server_refuses_is_asked_again() {
    let (scratch, mut server, doq) = start("doq-0rtt-restart", "", "", "");
    let client = doq_client(doq, &scratch.0.join("cert.pem"), "dns.test");
    let q = query(0x5151, "www.example.test.", RType::A, Some(1232));
    let rt = runtime();
    let first = rt.block_on(async {
        let answer = client
            .exchange(&q, Instant::now() + Duration::from_secs(5))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.close().await;
        answer
    });
    // A new process knows nothing of the session: its ticket resumes nothing, the early data
    // is refused, and the client asks again once the full handshake is done.
    let addr = server.addr;
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(10)).success());
    let _restarted = Server::start(
        &scratch.0.join("portcullis.toml"),
        addr,
        scratch.0.join("server2.log"),
    );
    let second = rt
        .block_on(client.exchange(&q, Instant::now() + Duration::from_secs(5)))
        .unwrap();
    assert_eq!(second, first);
    let stats = client.stats();
    assert_eq!(
        (stats.connections, stats.early_answers),
        (2, 0),
        "{stats:?}"
    );
}
