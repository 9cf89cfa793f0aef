//! DNS over TLS (RFC 7858) serving: `portcullis serve` with a `[tls]` listener and a
//! certificate from `portcullis cert self-signed`, asked by `kdig +tls` (the same answers as
//! `dig` over UDP), by a rustls client pipelining queries on one connection (ALPN `dot`), and
//! by `openssl s_client`, whose second connection resumes the first one's session. TLS 1.2 is
//! refused unless `min_version = "1.2"`; a client silent past `handshake_timeout` is closed. A
//! missing or unreadable certificate stops `serve` and `check` with a message naming the file;
//! SIGHUP loads a replaced certificate for the next handshake, and sessions resume across it.
//! `portcullis query +tls` gets the UDP answers, trusting the certificate (`+tls-ca`) or not
//! checking it (`+insecure`), and refuses a wrong `+tls-name`, another CA, or no trust at all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{
    ChildGuard, Scratch, Server, answer_section, ask, config, free_port, make_cert, pquery, query,
    zone,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use wire::{Message, RType};

/// A server for `example.test.` over UDP and TCP on one port and over TLS on another, with a
/// fresh self-signed certificate for `dns.test`.
fn start(test: &str) -> (Scratch, Server, SocketAddr) {
    start_with(test, "")
}

/// [`start`] with more lines in `[tls]`.
fn start_with(test: &str, tls: &str) -> (Scratch, Server, SocketAddr) {
    start_full(test, tls, "")
}

/// [`start_with`], the text `more` appended to the configuration (`{dot}` in it standing for
/// the DNS over TLS address; what comes before a `{server}` in it goes into `[server]`).
fn start_full(test: &str, tls: &str, more: &str) -> (Scratch, Server, SocketAddr) {
    let scratch = Scratch::new(test);
    make_cert(&scratch.0, "dns.test");
    let (port, tls_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    // `{server}` in `more` is a line for `[server]`.
    let (server_line, more) = match more.split_once("{server}") {
        Some((line, rest)) => (line.to_owned(), rest),
        None => (String::new(), more),
    };
    let base = config(&format!("127.0.0.1:{port}"))
        .replace("workers = 2\n", &format!("workers = 2\n{server_line}\n"));
    let text = format!(
        "{base}\n[tls]\nlisten = [\"127.0.0.1:{tls_port}\"]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n{tls}\n"
    );
    let text = text + &more.replace("{dot}", &format!("127.0.0.1:{tls_port}"));
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (
        scratch,
        server,
        SocketAddr::from(([127, 0, 0, 1], tls_port)),
    )
}

/// A rustls client trusting only the certificate in `cert.pem`, for `127.0.0.1`.
fn connect(
    scratch: &Scratch,
    to: SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(scratch.0.join("cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"dot".to_vec()];
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(to).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

fn read_frame(r: &mut impl Read) -> Vec<u8> {
    let mut len = [0u8; 2];
    r.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
    r.read_exact(&mut msg).unwrap();
    msg
}

#[test]
fn kdig_over_tls_gets_the_udp_answer() {
    let (_scratch, server, dot) = start("dot-kdig");
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let udp = ask("dig", server.addr, &["+short", name, qtype]);
        let tls = ask("kdig", dot, &["+tls", "+short", name, qtype]);
        assert!(!udp.trim().is_empty(), "no answer for {name}");
        assert_eq!(tls, udp, "{name} {qtype}");
    }
    let full = ask("kdig", dot, &["+tls", "www.example.test.", "A"]);
    assert!(full.contains("TLS session (TLS1.3)"), "{full}");
}

#[test]
fn pipelined_queries_on_one_connection() {
    let (scratch, _server, dot) = start("dot-pipeline");
    let mut tls = connect(&scratch, dot);
    assert_eq!(tls.conn.alpn_protocol(), Some(&b"dot"[..]));
    let mut batch = Vec::new();
    for id in 0..20u16 {
        let name = if id % 2 == 0 {
            "www.example.test."
        } else {
            "big.example.test."
        };
        let q = query(id, name, RType::TXT, Some(4096));
        batch.extend_from_slice(&(q.len() as u16).to_be_bytes());
        batch.extend_from_slice(&q);
    }
    tls.write_all(&batch).unwrap();
    tls.flush().unwrap();
    let mut ids: Vec<u16> = (0..20)
        .map(|_| {
            let resp = read_frame(&mut tls);
            Message::parse(&resp).unwrap().header().id
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
}

/// `openssl s_client` at `dot` saving (`-sess_out`) or offering (`-sess_in`) the session in
/// `sess`; its standard output.
fn session(dot: SocketAddr, flag: &str, sess: &Path) -> String {
    let mut child = ChildGuard(
        Command::new("timeout")
            .args(["10", "openssl", "s_client", "-connect"])
            .arg(dot.to_string())
            .args(["-alpn", "dot", "-servername", "dns.test", flag])
            .arg(sess)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Keep standard input open a moment: the TLS 1.3 tickets come after the handshake.
    std::thread::sleep(Duration::from_millis(700));
    drop(child.0.stdin.take());
    child.wait(Duration::from_secs(15));
    let mut text = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn openssl_resumes_the_session() {
    let (scratch, _server, dot) = start("dot-resume");
    let sess = scratch.0.join("session.pem");
    let first = session(dot, "-sess_out", &sess);
    assert!(first.contains("New, TLSv1.3"), "{first}");
    assert!(first.contains("ALPN protocol: dot"), "{first}");
    let second = session(dot, "-sess_in", &sess);
    assert!(second.contains("Reused, TLSv1.3"), "{second}");
}

#[test]
fn a_bad_certificate_stops_serve_and_check() {
    let scratch = Scratch::new("dot-bad-cert");
    make_cert(&scratch.0, "dns.test");
    scratch.write("garbage.pem", "not a certificate\n");
    let (port, tls_port) = (free_port(), free_port());
    let listen = format!("127.0.0.1:{port}");
    let listen_tls = format!("127.0.0.1:{tls_port}");
    let missing = scratch.0.join("missing.pem");
    let garbage = scratch.0.join("garbage.pem");
    let key = scratch.0.join("key.pem");
    for (cert, named) in [(&missing, "missing.pem"), (&garbage, "garbage.pem")] {
        for command in ["check", "serve"] {
            let out = Command::new("timeout")
                .args(["20", env!("CARGO_BIN_EXE_portcullis"), command])
                .args(["--listen", &listen, "--listen-tls", &listen_tls])
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(&key)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{command}: {text}");
            assert!(
                text.contains(named),
                "{command} does not name {named}: {text}"
            );
        }
    }
    // A listener without a certificate is an error too.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--listen", &listen, "--listen-tls", &listen_tls])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls.cert"));
}

#[test]
fn sighup_loads_a_new_certificate_and_sessions_survive_it() {
    use std::os::unix::fs::PermissionsExt;
    let (scratch, server, dot) = start("dot-reload");
    let mode = std::fs::metadata(scratch.0.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let served = |scratch: &Scratch| {
        let tls = connect(scratch, dot);
        tls.conn.peer_certificates().unwrap()[0].to_vec()
    };
    let der = |path: &Path| {
        CertificateDer::pem_file_iter(path)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    };
    let before = served(&scratch);
    let sess = scratch.0.join("session.pem");
    assert!(session(dot, "-sess_out", &sess).contains("New, TLSv1.3"));
    assert_eq!(before, der(&scratch.0.join("cert.pem")));
    make_cert(&scratch.0, "other.test");
    server.signal("HUP");
    server.wait_log("reloaded", 1);
    let after = served(&scratch);
    assert_ne!(after, before);
    assert_eq!(after, der(&scratch.0.join("cert.pem")));
    // The session made before the reload resumes after it.
    let resumed = session(dot, "-sess_in", &sess);
    assert!(resumed.contains("Reused, TLSv1.3"), "{resumed}");
}

/// `openssl s_client` at `dot` with `flags`; its standard output.
fn s_client(dot: SocketAddr, flags: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["10", "openssl", "s_client", "-connect"])
        .arg(dot.to_string())
        .args(flags)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tls_1_2_only_when_configured() {
    let (_s13, _server13, dot13) = start("dot-tls13");
    let refused = s_client(dot13, &["-tls1_2"]);
    assert!(!refused.contains("TLSv1.2, Cipher"), "{refused}");
    let (_s12, _server12, dot12) = start_with("dot-tls12", "min_version = \"1.2\"");
    let accepted = s_client(dot12, &["-tls1_2", "-alpn", "dot"]);
    assert!(accepted.contains("TLSv1.2"), "{accepted}");
    assert!(accepted.contains("ALPN protocol: dot"), "{accepted}");
}

#[test]
fn a_silent_client_is_closed_at_the_handshake_timeout() {
    let (_scratch, _server, dot) = start_with("dot-handshake", "handshake_timeout = 1");
    let mut silent = TcpStream::connect(dot).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    // Closed without a byte: EOF (or a reset), well before the 5 s read timeout.
    assert!(matches!(silent.read(&mut buf), Ok(0) | Err(_)));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    // The listener still serves.
    let answer = ask("kdig", dot, &["+tls", "+short", "www.example.test.", "A"]);
    assert_eq!(answer.trim(), "192.0.2.80");
}

#[test]
fn a_listener_acl_applies_to_the_dot_address() {
    let acl = "[[acl.listener]]\nlisten = \"{dot}\"\nquery = [\"refuse any\"]\n";
    let (_scratch, server, dot) = start_full("dot-acl", "", acl);
    let udp = ask("dig", server.addr, &["+short", "www.example.test.", "A"]);
    assert_eq!(udp.trim(), "192.0.2.80");
    let tls = ask("kdig", dot, &["+tls", "www.example.test.", "A"]);
    assert!(tls.contains("status: REFUSED"), "{tls}");
}

#[test]
fn query_over_tls_gets_the_udp_answer() {
    let (scratch, server, dot) = start("dot-query");
    let udp_at = format!("@{}", server.addr);
    let dot_at = format!("@{dot}");
    let footer = format!(";; SERVER: 127.0.0.1#{}(TLS)", dot.port());
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let (code, udp, stderr) = pquery(&scratch.0, &[name, qtype, &udp_at]);
        assert_eq!(code, Some(0), "{udp}{stderr}");
        let want = answer_section(&udp);
        assert!(!want.is_empty(), "{udp}");
        for trust in [
            &["+tls-ca=cert.pem", "+tls-name=dns.test"][..],
            // The name checked by default is the address, an IP SAN of the certificate.
            &["+tls-ca=cert.pem"],
            &["+insecure"],
        ] {
            let mut args = vec![name, qtype, "+tls", &dot_at];
            args.extend_from_slice(trust);
            let (code, stdout, stderr) = pquery(&scratch.0, &args);
            assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
            assert_eq!(answer_section(&stdout), want, "{args:?}");
            assert!(
                stdout.contains(";; TLSv1.3, TLS13_") && stdout.contains(", ALPN dot\n"),
                "{stdout}"
            );
            assert!(stdout.contains(&footer), "{stdout}");
            assert!(stdout.contains(";; Query time: "), "{stdout}");
            assert_eq!(stderr, "");
        }
    }
}

#[test]
fn query_over_tls_refuses_what_it_cannot_verify() {
    let (scratch, _server, dot) = start("dot-query-refused");
    let dot_at = format!("@{dot}");
    let q = |more: &[&str]| {
        let mut args = vec!["www.example.test.", "+tls", "+timeout=3", &dot_at];
        args.extend_from_slice(more);
        pquery(&scratch.0, &args)
    };
    // A name the certificate is not valid for.
    let (code, stdout, stderr) = q(&["+tls-ca=cert.pem", "+tls-name=other.test"]);
    assert_eq!(code, Some(9), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "communications error to 127.0.0.1#{}: TLS handshake failed: ",
            dot.port()
        )) && stderr.contains("not valid for name"),
        "{stderr}"
    );
    assert!(!stdout.contains("ANSWER SECTION"), "{stdout}");
    // Another self-signed certificate as the CA.
    let other = Scratch::new("dot-query-other-ca");
    make_cert(&other.0, "dns.test");
    let other_ca = format!("+tls-ca={}", other.0.join("cert.pem").display());
    let (code, _, stderr) = q(&[&other_ca]);
    assert_eq!(code, Some(9), "{stderr}");
    assert!(
        stderr.contains("TLS handshake failed: invalid peer certificate"),
        "{stderr}"
    );
    // No trust given: the system's CA bundle, which does not know a self-signed certificate.
    let (code, stdout, stderr) = q(&[]);
    assert_eq!(code, Some(9), "{stdout}{stderr}");
    assert!(
        stderr.contains("TLS handshake failed: invalid peer certificate"),
        "{stderr}"
    );
    // A CA file that is not there.
    let (code, _, stderr) = q(&["+tls-ca=missing.pem"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("missing.pem: cannot read certificates"),
        "{stderr}"
    );
}

#[test]
fn padded_queries_get_padded_answers_over_tls_only() {
    let (_scratch, server, dot) = start("dot-padding");
    // kdig pads its queries over TLS; the answer is padded to a multiple of 468 bytes (RFC 8467).
    let padded = ask("kdig", dot, &["+tls", "+padding", "www.example.test.", "A"]);
    assert!(padded.contains("PADDING"), "{padded}");
    assert!(padded.contains(";; Received 468 B"), "{padded}");
    // A query that is not padded gets an answer that is not.
    let plain = ask(
        "kdig",
        dot,
        &["+tls", "+nopadding", "www.example.test.", "A"],
    );
    assert!(!plain.contains("PADDING"), "{plain}");
    // Over UDP and TCP nothing is padded, even when asked.
    for transport in ["+notcp", "+tcp"] {
        let clear = ask(
            "kdig",
            server.addr,
            &[transport, "+padding", "www.example.test.", "A"],
        );
        assert!(!clear.contains("PADDING"), "{transport}: {clear}");
    }
}

#[test]
fn keepalive_is_answered_over_streams_only() {
    let (_scratch, server, dot) = start("dot-keepalive");
    // RFC 7828: the idle timeout (10 s by default) to a client that signals support over TCP.
    let tcp = ask(
        "dig",
        server.addr,
        &["+tcp", "+keepalive", "www.example.test.", "A"],
    );
    assert!(tcp.contains("TCP KEEPALIVE: 10.0 secs"), "{tcp}");
    let tls = ask(
        "dig",
        dot,
        &["+tls", "+keepalive", "www.example.test.", "A"],
    );
    assert!(tls.contains("TCP KEEPALIVE: 10.0 secs"), "{tls}");
    // Not over UDP (section 3.3.1), and not to a client that did not ask.
    let udp = ask(
        "dig",
        server.addr,
        &["+notcp", "+keepalive", "www.example.test.", "A"],
    );
    assert!(!udp.contains("KEEPALIVE"), "{udp}");
    let quiet = ask("dig", server.addr, &["+tcp", "www.example.test.", "A"]);
    assert!(!quiet.contains("KEEPALIVE"), "{quiet}");
}

#[test]
fn dot_queries_count_under_their_own_label() {
    let http = free_port();
    let (_scratch, server, dot) = start_full(
        "dot-metrics",
        "",
        &format!("http = \"127.0.0.1:{http}\"{{server}}"),
    );
    ask("kdig", dot, &["+tls", "www.example.test.", "A"]);
    ask("dig", server.addr, &["+tcp", "www.example.test.", "A"]);
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http}/metrics")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let queries = |t: &str| {
        common::metric(
            &text,
            &format!("portcullis_queries_total{{transport=\"{t}\",qtype=\"A\"}}"),
        )
    };
    assert_eq!(queries("dot"), Some(1.0), "{text}");
    assert_eq!(queries("tcp"), Some(1.0), "{text}");
}

#[test]
fn a_resolver_designates_its_dot_listener() {
    // Discovery of Designated Resolvers (RFC 9462): `_dns.resolver.arpa` SVCB names the
    // encrypted endpoint, its port and address.
    let (_scratch, server, dot) = start_with(
        "dot-ddr",
        "name = \"dns.test\"\n\n[resolver]\nenabled = true\n",
    );
    let svcb = ask(
        "dig",
        server.addr,
        &["+short", "_dns.resolver.arpa.", "SVCB"],
    );
    assert_eq!(
        svcb.trim(),
        format!(
            "1 dns.test. alpn=\"dot\" port={} ipv4hint=127.0.0.1",
            dot.port()
        ),
        "{svcb}"
    );
    // The same over the encrypted channel, where a client verifies the designation.
    let over_tls = ask(
        "kdig",
        dot,
        &["+tls", "+short", "_dns.resolver.arpa.", "SVCB"],
    );
    // kdig prints the ALPN without quotes.
    assert_eq!(over_tls.trim(), svcb.trim().replace('"', ""));
    // Without a name there is nothing to designate.
    let (_scratch, plain, _) = start_with("dot-no-ddr", "\n[resolver]\nenabled = true\n");
    let none = ask("dig", plain.addr, &["_dns.resolver.arpa.", "SVCB"]);
    assert!(none.contains("status: NXDOMAIN"), "{none}");
}

#[test]
fn dnspython_and_a_verifying_kdig_get_the_udp_answer() {
    let (scratch, server, dot) = start("dot-dnspython");
    let udp = ask("dig", server.addr, &["+short", "www.example.test.", "A"]);
    // kdig checking the certificate against the CA file and the name.
    let cert = scratch.0.join("cert.pem").display().to_string();
    let ca = format!("+tls-ca={cert}");
    let verified = ask(
        "kdig",
        dot,
        &[
            &ca,
            "+tls-hostname=dns.test",
            "+short",
            "www.example.test.",
            "A",
        ],
    );
    assert_eq!(verified, udp);
    // dnspython's DoT client, verifying too.
    let script = format!(
        "import ssl, dns.message, dns.query\n\
         ctx = ssl.create_default_context(cafile={cert:?})\n\
         q = dns.message.make_query('www.example.test.', 'A')\n\
         r = dns.query.tls(q, '127.0.0.1', port={port}, timeout=5, ssl_context=ctx, \
         server_hostname='dns.test')\n\
         print('\\n'.join(sorted(rd.to_text() for rrset in r.answer for rd in rrset)))\n",
        port = dot.port()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3 with dnspython: scripts/test.sh installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), udp.trim());
}
