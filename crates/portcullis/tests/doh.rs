//! DNS over HTTPS (RFC 8484) serving: `portcullis serve` with an `[https]` listener and a
//! certificate from `portcullis cert self-signed`, asked by real clients over loopback:
//! `kdig +https` (POST and GET) gets the same answers as `dig` over UDP; `curl` over HTTP/2
//! and HTTP/1.1 sends GET `?dns=` and POST queries, gets `application/dns-message` with the
//! `cache-control: max-age` of RFC 8484 section 5.1, the client's message ID back, the JSON
//! form, and the HTTP errors (400, 404, 405, 413, 415); `curl --doh-url` resolves a name of our
//! zone to fetch a page; dnspython's `dns.query.https` over HTTP/1.1 and HTTP/2;
//! `portcullis query +https` gets the UDP answer and refuses a wrong name; the per-client
//! connection limit closes a third connection; SIGHUP loads a new certificate for new
//! handshakes while an open HTTP/2 connection keeps working.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{
    Scratch, Server, answer_section, ask, config, free_port, make_cert, pquery, query, zone,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use wire::message::Section;
use wire::{Message, RType, Rcode};

/// A server for `example.test.` over UDP and TCP on one port and over HTTPS on another, with a
/// fresh self-signed certificate for `dns.test`; `https` is added to `[https]` and `server` to
/// `[server]`.
fn start(test: &str, https: &str, server: &str) -> (Scratch, Server, SocketAddr) {
    start_full(test, https, server, "")
}

/// [`start`], with `tls` added to `[tls]`; `{doh}` in `https` stands for the DoH address.
fn start_full(test: &str, https: &str, server: &str, tls: &str) -> (Scratch, Server, SocketAddr) {
    let scratch = Scratch::new(test);
    make_cert(&scratch.0, "dns.test");
    let (port, https_port) = (free_port(), free_port());
    scratch.write("example.test.zone", &zone(1));
    let base = config(&format!("127.0.0.1:{port}"))
        .replace("[server]\n", &format!("[server]\n{server}\n"));
    let text = format!(
        "{base}\n[tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n{tls}\n\n\
         [https]\nlisten = [\"127.0.0.1:{https_port}\"]\n{https}\n"
    )
    .replace("{doh}", &format!("127.0.0.1:{https_port}"));
    let config = scratch.write("portcullis.toml", &text);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let server = Server::start(&config, addr, scratch.0.join("server.log"));
    (
        scratch,
        server,
        SocketAddr::from(([127, 0, 0, 1], https_port)),
    )
}

/// base64url without padding (RFC 4648 section 5), as RFC 8484 section 4.1 asks.
fn base64url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// What `curl` got: the status, the HTTP version, the headers (lowercased) and the body.
struct Fetched {
    status: u16,
    version: String,
    headers: String,
    body: Vec<u8>,
}

/// Runs `curl -sk` with `args` in the scratch directory.
fn curl(scratch: &Scratch, args: &[&str]) -> Fetched {
    let (head, body) = (scratch.0.join("head.txt"), scratch.0.join("body.bin"));
    let _ = std::fs::remove_file(&body);
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "10", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_code} %{http_version}"])
        .args(args)
        .current_dir(&scratch.0)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl ({e}): scripts/test.sh installs it"));
    let written = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl {args:?}: {written} {out:?}");
    let (status, version) = written.split_once(' ').unwrap();
    Fetched {
        status: status.parse().unwrap(),
        version: version.to_owned(),
        headers: std::fs::read_to_string(&head).unwrap().to_ascii_lowercase(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

/// The A addresses in the answer section of `msg`.
fn addresses(msg: &[u8]) -> Vec<String> {
    Message::parse(msg)
        .unwrap()
        .records(Section::Answer)
        .filter(|r| r.rtype == RType::A)
        .map(|r| {
            let d = r.raw_rdata();
            format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3])
        })
        .collect()
}

#[test]
fn kdig_over_https_gets_the_udp_answer() {
    let (scratch, server, doh) = start("doh-kdig", "", "");
    let ca = format!("+tls-ca={}", scratch.0.join("cert.pem").display());
    for (name, qtype) in [("www.example.test.", "A"), ("big.example.test.", "TXT")] {
        let udp = ask("dig", server.addr, &["+short", name, qtype]);
        assert!(!udp.trim().is_empty(), "no answer for {name}");
        for method in ["+https", "+https-get"] {
            let args = [method, &ca, "+tls-hostname=dns.test", "+short", name, qtype];
            let https = ask("kdig", doh, &args);
            assert_eq!(https, udp, "{name} {qtype} {method}");
        }
    }
    let full = ask(
        "kdig",
        doh,
        &[
            "+https",
            &ca,
            "+tls-hostname=dns.test",
            "www.example.test.",
            "A",
        ],
    );
    assert!(full.contains("HTTP session (HTTP/2-POST)"), "{full}");
    assert!(full.contains("(status: 200)"), "{full}");
    // A padded query gets an answer padded to a multiple of 468 bytes (RFC 8467).
    let padded = ask(
        "kdig",
        doh,
        &["+https", &ca, "+padding", "www.example.test.", "A"],
    );
    assert!(padded.contains("PADDING"), "{padded}");
    assert!(padded.contains(";; Received 468 B"), "{padded}");
}

#[test]
fn curl_gets_and_posts_over_http2_and_http1() {
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (scratch, _server, doh) = start("doh-curl", "", &format!("http = \"{http}\""));
    let url = format!("https://{doh}/dns-query");
    std::fs::write(
        scratch.0.join("query.bin"),
        query(4242, "www.example.test.", RType::A, None),
    )
    .unwrap();
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        // GET with ID 0, as RFC 8484 asks of clients.
        let q = query(0, "www.example.test.", RType::A, Some(1232));
        let get = format!("{url}?dns={}", base64url(&q));
        let got = curl(
            &scratch,
            &[flag, "-H", "accept: application/dns-message", &get],
        );
        assert_eq!((got.status, got.version.as_str()), (200, version));
        assert!(
            got.headers
                .contains("content-type: application/dns-message"),
            "{}",
            got.headers
        );
        assert!(
            got.headers.contains("cache-control: max-age=3600"),
            "{}",
            got.headers
        );
        assert_eq!(addresses(&got.body), ["192.0.2.80"]);
        assert_eq!(Message::parse(&got.body).unwrap().header().id, 0);
        // POST keeps the ID the client sent.
        let posted = curl(
            &scratch,
            &[
                flag,
                "-H",
                "content-type: application/dns-message",
                "--data-binary",
                "@query.bin",
                &url,
            ],
        );
        assert_eq!(posted.status, 200);
        assert_eq!(addresses(&posted.body), ["192.0.2.80"]);
        assert_eq!(Message::parse(&posted.body).unwrap().header().id, 4242);
        // A negative answer lives as long as the SOA says (RFC 2308): min(3600, 300).
        let q = query(0, "nope.example.test.", RType::A, None);
        let neg = curl(&scratch, &[flag, &format!("{url}?dns={}", base64url(&q))]);
        assert_eq!(neg.status, 200);
        assert_eq!(Message::parse(&neg.body).unwrap().rcode(), Rcode::NXDOMAIN);
        assert!(
            neg.headers.contains("cache-control: max-age=300"),
            "{}",
            neg.headers
        );
    }
    // Counted under the `doh` transport label: 3 A queries and 3 responses per HTTP version.
    let metrics = curl(&scratch, &[&format!("http://{http}/metrics")]);
    let text = String::from_utf8(metrics.body).unwrap();
    let series =
        |name: &str| common::metric(&text, name).unwrap_or_else(|| panic!("{name}:\n{text}"));
    assert_eq!(
        series("portcullis_queries_total{transport=\"doh\",qtype=\"A\"}"),
        6.0
    );
    assert_eq!(
        series("portcullis_responses_total{transport=\"doh\",rcode=\"NOERROR\"}"),
        4.0
    );
    assert_eq!(
        series("portcullis_responses_total{transport=\"doh\",rcode=\"NXDOMAIN\"}"),
        2.0
    );
}

#[test]
fn the_json_form_and_http_errors() {
    let (scratch, _server, doh) = start("doh-json", "", "");
    let url = format!("https://{doh}/dns-query");
    let json = curl(
        &scratch,
        &[
            "-H",
            "accept: application/dns-json",
            &format!("{url}?name=www.example.test&type=A"),
        ],
    );
    assert_eq!(json.status, 200);
    assert!(json.headers.contains("content-type: application/dns-json"));
    let text = String::from_utf8(json.body).unwrap();
    assert!(
        text.starts_with("{\"Status\":0,\"TC\":false,\"RD\":true"),
        "{text}"
    );
    assert!(
        text.contains(
            "\"Answer\":[{\"name\":\"www.example.test.\",\"type\":1,\"TTL\":3600,\"data\":\"192.0.2.80\"}]"
        ),
        "{text}"
    );
    let nx = curl(
        &scratch,
        &[&format!("{url}?name=nope.example.test&type=AAAA")],
    );
    let text = String::from_utf8(nx.body).unwrap();
    assert!(text.starts_with("{\"Status\":3,"), "{text}");
    assert!(
        text.contains("\"Authority\":[{\"name\":\"example.test.\",\"type\":6"),
        "{text}"
    );

    let status = |args: &[&str]| curl(&scratch, args).status;
    assert_eq!(status(&[&format!("{url}?dns=not*base64")]), 400);
    assert_eq!(status(&[&format!("{url}?dns=AAAA=")]), 400);
    assert_eq!(status(&[&url]), 400);
    assert_eq!(status(&[&format!("https://{doh}/other?dns=AAAA")]), 404);
    let put = curl(&scratch, &["-X", "PUT", &url]);
    assert_eq!(put.status, 405);
    assert!(put.headers.contains("allow: get, post"), "{}", put.headers);
    assert_eq!(status(&["--http1.1", "-X", "DELETE", &url]), 405);
    assert_eq!(
        status(&["-H", "content-type: text/plain", "--data-binary", "x", &url]),
        415
    );
    // One byte over the largest DNS message, and more.
    std::fs::write(scratch.0.join("big.bin"), vec![0u8; 65_536]).unwrap();
    std::fs::write(scratch.0.join("huge.bin"), vec![0u8; 100_000]).unwrap();
    let ct = "content-type: application/dns-message";
    for version in ["--http2", "--http1.1"] {
        for file in ["@big.bin", "@huge.bin"] {
            assert_eq!(
                status(&[version, "-H", ct, "--data-binary", file, &url]),
                413,
                "{version} {file}"
            );
        }
    }
    // The listener still answers.
    let q = query(0, "www.example.test.", RType::A, None);
    let ok = curl(&scratch, &[&format!("{url}?dns={}", base64url(&q))]);
    assert_eq!(addresses(&ok.body), ["192.0.2.80"]);
}

#[test]
fn json_off_answers_400() {
    let (scratch, _server, doh) = start("doh-nojson", "json = false\npath = \"/q\"", "");
    let got = curl(
        &scratch,
        &[&format!("https://{doh}/q?name=www.example.test&type=A")],
    );
    assert_eq!(got.status, 400);
    // The configured path serves; the default one does not.
    let q = base64url(&query(0, "www.example.test.", RType::A, None));
    assert_eq!(
        curl(&scratch, &[&format!("https://{doh}/q?dns={q}")]).status,
        200
    );
    assert_eq!(
        curl(&scratch, &[&format!("https://{doh}/dns-query?dns={q}")]).status,
        404
    );
}

#[test]
fn curl_resolves_a_name_through_doh() {
    let (scratch, _server, doh) = start("doh-curl-resolve", "", "");
    // A one-shot web server on loopback: `ns.example.test` is 127.0.0.1 in the test zone.
    let web = TcpListener::bind("127.0.0.1:0").unwrap();
    let web_port = web.local_addr().unwrap().port();
    let serving = std::thread::spawn(move || {
        let (mut conn, _) = web.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut request = [0u8; 2048];
        let n = conn.read(&mut request).unwrap();
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let out = Command::new("curl")
        .args(["-sv", "--max-time", "10", "--doh-insecure", "--doh-url"])
        .arg(format!("https://{doh}/dns-query"))
        .arg(format!("http://ns.example.test:{web_port}/"))
        .current_dir(&scratch.0)
        .output()
        .unwrap();
    let verbose = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{verbose}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello");
    assert!(verbose.contains("DoH A: 127.0.0.1"), "{verbose}");
    let request = serving.join().unwrap();
    assert!(
        request.contains(&format!("Host: ns.example.test:{web_port}")),
        "{request}"
    );
}

#[test]
fn dnspython_over_http1_and_http2() {
    let (scratch, _server, doh) = start("doh-dnspython", "", "");
    let script = format!(
        r#"
import dns.message, dns.query, dns.rcode
q = dns.message.make_query("www.example.test.", "A")
H1, H2 = dns.query.HTTPVersion.H1, dns.query.HTTPVersion.H2
for version, post in ((H1, True), (H2, True), (H2, False)):
    r = dns.query.https(q, "https://{doh}/dns-query", verify="cert.pem", timeout=5,
                        http_version=version, post=post)
    assert r.rcode() == dns.rcode.NOERROR, r
    print("H1" if version == H1 else "H2", "POST" if post else "GET", r.answer[0].to_text())
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .current_dir(&scratch.0)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in ["H1 POST", "H2 POST", "H2 GET"] {
        assert!(
            text.contains(&format!("{line} www.example.test. 3600 IN A 192.0.2.80")),
            "{text}"
        );
    }
}

#[test]
fn query_over_https_gets_the_udp_answer_and_checks_the_name() {
    let (scratch, server, doh) = start("doh-query", "", "");
    let udp_at = format!("@{}", server.addr);
    let doh_at = format!("@{doh}");
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
            let mut args = vec![name, qtype, "+https", &doh_at];
            args.extend_from_slice(trust);
            let (code, stdout, stderr) = pquery(&scratch.0, &args);
            assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
            assert_eq!(answer_section(&stdout), want, "{args:?}");
            assert!(
                stdout.contains(";; HTTPS (HTTP/2), POST /dns-query\n"),
                "{stdout}"
            );
            assert!(
                stdout.contains(&format!(";; SERVER: 127.0.0.1#{}(HTTPS)", doh.port())),
                "{stdout}"
            );
            assert_eq!(stderr, "");
        }
    }
    // A name the certificate is not valid for.
    let (code, stdout, stderr) = pquery(
        &scratch.0,
        &[
            "www.example.test.",
            "+https",
            "+tls-ca=cert.pem",
            "+tls-name=other.test",
            &doh_at,
        ],
    );
    assert_eq!(code, Some(9), "{stdout}{stderr}");
    assert!(stderr.contains("not valid for name"), "{stderr}");
    // Another path: 404, which the client reports.
    let (code, _, stderr) = pquery(
        &scratch.0,
        &["www.example.test.", "+https=/nope", "+insecure", &doh_at],
    );
    assert_eq!(code, Some(9));
    assert!(stderr.contains("HTTP 404"), "{stderr}");
}

/// A rustls client config trusting only the certificate in `cert.pem`, offering `alpn`.
fn client_config(scratch: &Scratch, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
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
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// A TLS connection to `to` with ALPN `h2`, handshake done; `None` when the server closed it.
fn connect(
    config: &Arc<rustls::ClientConfig>,
    to: SocketAddr,
) -> Option<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
    let sock = TcpStream::connect(to).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).ok()?;
    }
    Some(tls)
}

#[test]
fn the_per_client_connection_limit_applies() {
    let (scratch, _server, doh) = start("doh-limit", "", "tcp_max_connections_per_client = 2");
    let config = client_config(&scratch, b"h2");
    let first = connect(&config, doh).expect("first connection");
    let second = connect(&config, doh).expect("second connection");
    assert_eq!(first.conn.alpn_protocol(), Some(&b"h2"[..]));
    // The third is closed at once: no handshake.
    assert!(
        connect(&config, doh).is_none(),
        "a third connection was served"
    );
    drop((first, second));
    // Once they are gone, a new connection is served again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if connect(&config, doh).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no connection after the others closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_connection_closes_after_its_last_query() {
    let (scratch, _server, doh) =
        start("doh-max-queries", "", "tcp_max_queries_per_connection = 2");
    let q = base64url(&query(0, "www.example.test.", RType::A, None));
    let url = format!("https://{doh}/dns-query?dns={q}");
    for version in ["--http1.1", "--http2"] {
        let out = Command::new("curl")
            .args([
                "-skv",
                "--max-time",
                "10",
                version,
                "-o",
                "/dev/null",
                "-o",
                "/dev/null",
            ])
            .args(["-o", "/dev/null", "-w", "%{http_code}\n", &url, &url, &url])
            .current_dir(&scratch.0)
            .output()
            .unwrap();
        let verbose = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{verbose}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200\n200\n200\n");
        match version {
            // Two queries on the first connection, the third on a second one.
            "--http1.1" => assert_eq!(verbose.matches("* Connected to").count(), 2, "{verbose}"),
            // The GOAWAY of a graceful close: a request that crossed it may still be answered
            // on the first connection (RFC 9113 section 6.8), so the count is not checked.
            _ => assert!(verbose.contains("GOAWAY"), "{verbose}"),
        }
    }
}

#[test]
fn the_client_multiplexes_queries_on_one_connection() {
    // One connection per client address: a second would be closed, and its queries would fail.
    let (scratch, _server, doh) = start(
        "doh-client",
        "",
        "tcp_max_connections_per_client = 1\ntcp_idle_timeout = 1",
    );
    let tls = transport::client_tls::ClientTls::new(
        &transport::client_tls::Trust::Ca(scratch.0.join("cert.pem")),
        ServerName::try_from("dns.test").unwrap(),
        &[transport::doh_client::ALPN_H2],
        false,
    )
    .unwrap();
    let client = transport::doh_client::DohClient::new(
        doh,
        "dns.test".to_owned(),
        "/dns-query".to_owned(),
        tls,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = Arc::new(client);
    let answers = runtime.block_on(async {
        let tasks: Vec<_> = (1..=40u16)
            .map(|id| {
                let client = client.clone();
                tokio::spawn(async move {
                    let name = if id % 2 == 0 {
                        "www.example.test."
                    } else {
                        "big.example.test."
                    };
                    let q = query(id, name, RType::TXT, Some(4096));
                    let deadline = Instant::now() + Duration::from_secs(10);
                    (id, client.exchange(&q, deadline).await)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    });
    for (id, answer) in answers {
        let answer = answer.unwrap_or_else(|e| panic!("query {id}: {e}"));
        let msg = Message::parse(&answer).unwrap();
        // The ID went out as 0 and came back as the caller's.
        assert_eq!(msg.header().id, id);
        assert_eq!(msg.rcode(), Rcode::NOERROR);
    }
    // The server closes the idle connection; the next query opens another.
    std::thread::sleep(Duration::from_millis(1500));
    let q = query(7, "www.example.test.", RType::A, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = runtime.block_on(client.exchange(&q, deadline)).unwrap();
    assert_eq!(addresses(&answer), ["192.0.2.80"]);
}

#[test]
fn idle_connections_are_closed() {
    let (scratch, _server, doh) = start("doh-idle", "", "tcp_idle_timeout = 1");
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let config = client_config(&scratch, alpn);
        let mut tls = connect(&config, doh).expect("a connection");
        let started = Instant::now();
        let mut buf = [0u8; 512];
        // HTTP/2 sends its settings (and a GOAWAY at the end); then the connection closes.
        while let Ok(n) = tls.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
            "{alpn:?}: {waited:?}"
        );
    }
}

#[test]
fn a_resolver_designates_its_doh_listener() {
    // Discovery of Designated Resolvers (RFC 9462): `_dns.resolver.arpa` SVCB names the DoH
    // endpoint with ALPN h2, its port and its URI template (RFC 9461 dohpath).
    let (_scratch, server, doh) = start_full(
        "doh-ddr",
        "path = \"/q\"\n\n[resolver]\nenabled = true\n",
        "",
        "name = \"dns.test\"",
    );
    let svcb = ask(
        "dig",
        server.addr,
        &["+short", "_dns.resolver.arpa.", "SVCB"],
    );
    assert_eq!(
        svcb.trim(),
        format!(
            "1 dns.test. alpn=\"h2\" port={} ipv4hint=127.0.0.1 key7=\"/q{{?dns}}\"",
            doh.port()
        ),
        "{svcb}"
    );
}

#[test]
fn listener_acls_apply_to_the_doh_address() {
    let refuse = "\n[[acl.listener]]\nlisten = \"{doh}\"\nquery = [\"refuse any\"]\n";
    let (scratch, server, doh) = start("doh-acl-refuse", refuse, "");
    let udp = ask("dig", server.addr, &["+short", "www.example.test.", "A"]);
    assert_eq!(udp.trim(), "192.0.2.80");
    let q = base64url(&query(0, "www.example.test.", RType::A, None));
    let got = curl(&scratch, &[&format!("https://{doh}/dns-query?dns={q}")]);
    assert_eq!(got.status, 200);
    assert_eq!(Message::parse(&got.body).unwrap().rcode(), Rcode::REFUSED);
    // No record to take a lifetime from: not to be cached.
    assert!(
        got.headers.contains("cache-control: max-age=0"),
        "{}",
        got.headers
    );

    let drop = "\n[[acl.listener]]\nlisten = \"{doh}\"\nquery = [\"drop any\"]\n";
    let (scratch, _server, doh) = start("doh-acl-drop", drop, "");
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "5"])
        .arg(format!("https://{doh}/dns-query?dns={q}"))
        .current_dir(&scratch.0)
        .output()
        .unwrap();
    // Closed at accept: no TLS handshake, no HTTP.
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// The first certificate of a PEM file, DER.
fn der(path: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

#[test]
fn sighup_loads_a_new_certificate_and_open_connections_go_on() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let (scratch, server, doh) = start("doh-reload", "", "");
    let old = der(&scratch.0.join("cert.pem"));
    let config = client_config(&scratch, b"h2");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uri = format!("https://127.0.0.1:{}/dns-query", doh.port());
    let post = |sender: &mut hyper::client::conn::http2::SendRequest<Full<bytes::Bytes>>, id| {
        let request = hyper::Request::post(uri.as_str())
            .header("content-type", "application/dns-message")
            .body(Full::new(bytes::Bytes::from(query(
                id,
                "www.example.test.",
                RType::A,
                None,
            ))))
            .unwrap();
        let sent = sender.send_request(request);
        async move {
            let response = sent.await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap().to_bytes()
        }
    };
    runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(doh).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .unwrap();
        let served = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
        assert_eq!(served, old);
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        assert_eq!(addresses(&post(&mut sender, 1).await), ["192.0.2.80"]);

        make_cert(&scratch.0, "other.test");
        server.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !server.log().contains("reloaded") {
            assert!(Instant::now() < deadline, "no reload:\n{}", server.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The open connection goes on, with its old certificate.
        assert_eq!(addresses(&post(&mut sender, 2).await), ["192.0.2.80"]);
        assert!(!sender.is_closed());
    });
    // A new handshake gets the new certificate (trusting the new one).
    let new = der(&scratch.0.join("cert.pem"));
    assert_ne!(new, old);
    let config = client_config(&scratch, b"h2");
    let tls = connect(&config, doh).expect("a handshake with the new certificate");
    assert_eq!(tls.conn.peer_certificates().unwrap()[0].to_vec(), new);
}

#[test]
fn a_missing_certificate_stops_check() {
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--listen-https", &format!("127.0.0.1:{}", free_port())])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("https.listen is set but tls.cert or tls.key is missing"),
        "{text}"
    );
}
