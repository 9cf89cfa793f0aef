//! `portcullis query`: a small `dig`, for checking a server by hand or from a script.
//!
//! ```text
//! portcullis query NAME [TYPE] [CLASS] [@SERVER[:PORT]] [+tcp] [+dnssec] [+norec]
//!                  [+noedns] [+bufsize=N] [+timeout=N]
//!                  [+tls [+tls-ca=FILE | +insecure] [+tls-name=NAME]]
//!                  [+https[=/PATH] [+tls-ca=FILE | +insecure] [+tls-name=NAME]]
//!                  [+quic [+tls-ca=FILE | +insecure] [+tls-name=NAME]]
//! ```
//!
//! The query is one question (RFC 1035 section 4.1.2) with a random 16-bit ID from the
//! operating system and, unless `+noedns`, an OPT record (RFC 6891) advertising a UDP payload of
//! 1232 bytes, the size the DNS flag day 2020 settled on to avoid IP fragmentation. RD is set
//! unless `+norec`; `+dnssec` sets the DO bit (RFC 3225) and so needs EDNS.
//!
//! It goes over UDP from a random source port, or over TCP with `+tcp` (RFC 7766, each message
//! behind a two-byte length). A UDP answer with TC set is asked again over TCP, as `dig` does. A
//! UDP datagram is taken as the answer only when it carries the query's ID, has QR set and
//! repeats the question (RFC 5452 section 9.1); anything else is reported on standard error and
//! the wait goes on until the timeout, so a stray or forged datagram cannot end the query.
//!
//! With `+tls` it goes over DNS over TLS (RFC 7858: TCP framing inside TLS 1.3 or 1.2, ALPN
//! `dot`, port 853 unless `@SERVER` names one). The server's certificate is checked against the
//! system's CA bundle, or the PEM certificates of `+tls-ca=FILE` (a CA, or the server's own
//! self-signed certificate), for the name `+tls-name=NAME`, by default the server's address as
//! an IP address SAN; `+insecure` accepts any certificate (the handshake signature is still
//! checked). The answer starts with the TLS version, cipher
//! suite and ALPN protocol negotiated, and its time includes the connection and handshake.
//!
//! With `+https` it goes over DNS over HTTPS (RFC 8484: a `POST` of `application/dns-message`
//! over HTTP/2, TLS with ALPN `h2`, port 443 unless `@SERVER` names one) to the path `/dns-query`,
//! or `+https=/PATH`. The certificate is checked as for `+tls` (`+tls-ca`, `+tls-name`,
//! `+insecure`); the HTTP authority is the `+tls-name`, else the server's address. The message
//! ID sent is 0, as RFC 8484 asks, and the answer is checked against the query's own ID, put
//! back by the client ([`transport::doh_client`]).
//!
//! With `+quic` it goes over DNS over QUIC (RFC 9250: one QUIC stream for the query, message ID 0
//! on the wire, TLS 1.3, ALPN `doq`, UDP port 853 unless `@SERVER` names one), through
//! [`transport::doq_client::DoqClient`], with the same certificate options as `+tls`. The answer
//! starts with `;; QUIC` and the ALPN protocol, and its time includes the handshake.
//!
//! The answer is printed as `dig` prints it ([`wire::display::DigStyle`]) with a footer giving
//! the round-trip time, the server and transport, and the answer's size. Exit codes follow
//! `dig`: 0 when an answer came back (whatever its RCODE), 9 when none did, 1 for a command-line
//! error.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use rustls_pki_types::ServerName;
use transport::client_tls::ClientTls;
use transport::doq_client::DoqClient;

use wire::display::DigStyle;
use wire::message::Header;
use wire::{Class, Flags, Message, MessageWriter, Name, Opcode, RType, Rcode};

/// The port asked when `@SERVER` names none.
pub const DEFAULT_PORT: u16 = 53;
/// The port asked with `+tls` when `@SERVER` names none (RFC 7858 section 3.1).
pub const DEFAULT_TLS_PORT: u16 = 853;
/// The port asked with `+https` when `@SERVER` names none (RFC 8484 uses HTTPS's).
pub const DEFAULT_HTTPS_PORT: u16 = 443;
/// The URI path asked with `+https` alone.
pub const DEFAULT_HTTPS_PATH: &str = "/dns-query";
/// The server asked without `@SERVER`.
pub const DEFAULT_SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53);
/// How long to wait for an answer, per transport, without `+timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest `+timeout`, in seconds.
pub const MAX_TIMEOUT_SECS: u64 = 300;
/// The EDNS UDP payload size advertised without `+bufsize`.
pub const DEFAULT_BUFSIZE: u16 = 1232;

/// Exit code: an answer came back.
pub const EXIT_OK: u8 = 0;
/// Exit code: the command line is wrong.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: no answer came back (`dig` uses 9 too).
pub const EXIT_NO_RESPONSE: u8 = 9;

/// The usage line printed with command-line errors.
pub const USAGE: &str = "usage: portcullis query NAME [TYPE] [CLASS] [@SERVER[:PORT]] \
     [+tcp] [+dnssec] [+norec] [+noedns] [+bufsize=N] [+timeout=N] \
     [+tls | +quic [+tls-ca=FILE | +insecure] [+tls-name=NAME]] [+https[=/PATH]]";

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/// What to ask, of whom, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// The name asked about (absolute; a name given without the trailing dot is taken as
    /// absolute).
    pub qname: Name,
    /// The type asked for; A by default.
    pub qtype: RType,
    /// The class asked for; IN by default.
    pub qclass: Class,
    /// The server asked.
    pub server: SocketAddr,
    /// Ask over TCP from the start.
    pub tcp: bool,
    /// Set DO (RFC 3225).
    pub dnssec: bool,
    /// Set RD.
    pub recursion: bool,
    /// The EDNS UDP payload size to advertise, or `None` to send no OPT record.
    pub edns: Option<u16>,
    /// How long to wait for an answer, per transport tried.
    pub timeout: Duration,
    /// Ask over DNS over TLS, and how to check the server's certificate (over DNS over HTTPS
    /// or QUIC too, when `https` or `quic` is set).
    pub tls: Option<TlsOptions>,
    /// Ask over DNS over HTTPS, at this URI path.
    pub https: Option<String>,
    /// Ask over DNS over QUIC (RFC 9250), with the certificate checks of `tls`.
    pub quic: bool,
}

/// How `+tls` checks the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// What to trust.
    pub trust: Trust,
    /// The name the certificate must be valid for.
    pub name: ServerName<'static>,
}

pub use transport::client_tls::Trust;

impl QueryOptions {
    /// Reads the command-line arguments after `query`. The first argument that is not an
    /// `@SERVER` or a `+option` is the name; later ones are a type or a class (in either
    /// order). `-p PORT` sets the server's port, as in `dig`.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<QueryOptions, String> {
        let mut qname = None;
        let mut qtype = None;
        let mut qclass = None;
        let mut server = None;
        let mut port = None;
        let mut tcp = false;
        let mut dnssec = false;
        let mut recursion = true;
        let mut edns = Some(DEFAULT_BUFSIZE);
        let mut timeout = DEFAULT_TIMEOUT;
        let mut tls = false;
        let mut tls_ca = None;
        let mut tls_name = None;
        let mut insecure = false;
        let mut https = None;
        let mut quic = false;

        let mut args = args.iter().map(AsRef::as_ref);
        while let Some(arg) = args.next() {
            if let Some(spec) = arg.strip_prefix('@') {
                server = Some(spec);
            } else if let Some(option) = arg.strip_prefix('+') {
                let (key, value) = match option.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (option, None),
                };
                let flag = |on: bool| match value {
                    None => Ok(on),
                    Some(_) => Err(format!("`+{key}` takes no value")),
                };
                match key {
                    "tcp" | "vc" => tcp = flag(true)?,
                    "notcp" | "novc" => tcp = flag(false)?,
                    "dnssec" => dnssec = flag(true)?,
                    "nodnssec" => dnssec = flag(false)?,
                    "rec" | "recurse" => recursion = flag(true)?,
                    "norec" | "norecurse" => recursion = flag(false)?,
                    "edns" => {
                        flag(true)?;
                        edns = Some(edns.unwrap_or(DEFAULT_BUFSIZE));
                    }
                    "noedns" => {
                        flag(false)?;
                        edns = None;
                    }
                    "bufsize" => {
                        let v = value.ok_or("`+bufsize` needs a value: +bufsize=N")?;
                        let size = v.parse::<u16>().map_err(|_| {
                            format!("`+bufsize={v}`: the size must be a number from 0 to 65535")
                        })?;
                        edns = Some(size);
                    }
                    "timeout" | "time" => {
                        let v = value.ok_or("`+timeout` needs a value: +timeout=SECONDS")?;
                        let secs = v
                            .parse::<u64>()
                            .ok()
                            .filter(|s| (1..=MAX_TIMEOUT_SECS).contains(s))
                            .ok_or_else(|| {
                                format!(
                                    "`+timeout={v}`: the timeout must be a number of seconds \
                                     from 1 to {MAX_TIMEOUT_SECS}"
                                )
                            })?;
                        timeout = Duration::from_secs(secs);
                    }
                    "tls" => tls = flag(true)?,
                    "https" => https = Some(https_path(value)?),
                    "nohttps" => https = flag(false).map(|_| None)?,
                    "notls" => tls = flag(false)?,
                    "quic" => quic = flag(true)?,
                    "noquic" => quic = flag(false)?,
                    "insecure" => insecure = flag(true)?,
                    "tls-ca" => match value {
                        Some(v) if !v.is_empty() => tls_ca = Some(PathBuf::from(v)),
                        _ => return Err("`+tls-ca` needs a file: +tls-ca=FILE".to_owned()),
                    },
                    "tls-name" => {
                        let v = value.ok_or("`+tls-name` needs a value: +tls-name=NAME")?;
                        tls_name = Some(ServerName::try_from(v.to_owned()).map_err(|_| {
                            format!("`+tls-name={v}`: not a host name or an IP address")
                        })?);
                    }
                    _ => return Err(format!("unknown option `{arg}`")),
                }
            } else if arg == "-p" {
                let v = args.next().ok_or("`-p` needs a port number")?;
                port = Some(
                    v.parse::<u16>()
                        .map_err(|_| format!("`-p {v}`: not a port number"))?,
                );
            } else if qname.is_none() {
                qname = Some(
                    Name::from_text(arg.as_bytes(), Some(Name::root().as_ref()))
                        .map_err(|e| format!("`{arg}` is not a domain name: {e}"))?,
                );
            } else if let Some(t) = RType::from_text(arg.as_bytes()) {
                qtype = Some(t);
            } else if let Some(c) = Class::from_text(arg.as_bytes()) {
                qclass = Some(c);
            } else {
                return Err(format!("`{arg}` is neither a record type nor a class"));
            }
        }

        let qname = qname.ok_or("no name to ask about")?;
        if dnssec && edns.is_none() {
            return Err("+dnssec needs EDNS: drop +noedns".to_owned());
        }
        // `+tls-ca`, `+tls-name` and `+insecure` imply `+tls` (or go with `+https` or `+quic`),
        // as in `kdig`.
        if quic && https.is_some() {
            return Err("`+https` and `+quic` do not go together".to_owned());
        }
        let tls =
            tls || quic || https.is_some() || tls_ca.is_some() || tls_name.is_some() || insecure;
        let default_port = match (&https, tls) {
            (Some(_), _) => DEFAULT_HTTPS_PORT,
            (None, true) => DEFAULT_TLS_PORT,
            (None, false) => DEFAULT_PORT,
        };
        let mut server = match server {
            Some(spec) => parse_server(spec, default_port)?,
            None => SocketAddr::new(DEFAULT_SERVER.ip(), default_port),
        };
        if let Some(port) = port {
            server.set_port(port);
        }
        let tls = if tls {
            let trust = match (tls_ca, insecure) {
                (Some(_), true) => {
                    return Err("`+tls-ca` and `+insecure` do not go together".to_owned());
                }
                (Some(path), false) => Trust::Ca(path),
                (None, true) => Trust::Insecure,
                // The system's CA bundle, as for a public resolver.
                (None, false) => Trust::System,
            };
            let name = tls_name.unwrap_or_else(|| ServerName::from(server.ip()));
            Some(TlsOptions { trust, name })
        } else {
            None
        };
        Ok(QueryOptions {
            qname,
            qtype: qtype.unwrap_or(RType::A),
            qclass: qclass.unwrap_or(Class::IN),
            server,
            tcp,
            dnssec,
            recursion,
            edns,
            timeout,
            tls,
            https,
            quic,
        })
    }
}

/// The URI path of `+https[=/PATH]`.
fn https_path(value: Option<&str>) -> Result<String, String> {
    match value {
        None => Ok(DEFAULT_HTTPS_PATH.to_owned()),
        Some(p) if p.starts_with('/') && !p.contains(['?', '#', ' ']) => Ok(p.to_owned()),
        Some(p) => Err(format!("`+https={p}`: not a URI path (it starts with `/`)")),
    }
}

/// Reads `@SERVER[:PORT]` without the `@`: an address (`192.0.2.1`, `2001:db8::1`), an address
/// and port (`192.0.2.1:5353`, `[2001:db8::1]:5353`, or `dig`'s `192.0.2.1#5353`), or a host
/// name, looked up with the system resolver. `default_port` is the port when `spec` names none.
pub fn parse_server(spec: &str, default_port: u16) -> Result<SocketAddr, String> {
    let bad_port = |p: &str| format!("`@{spec}`: `{p}` is not a port number");
    if let Ok(addr) = spec.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let (host, port) = if let Some((h, p)) = spec.split_once('#') {
        (h, p.parse::<u16>().map_err(|_| bad_port(p))?)
    } else if let Some(inner) = spec.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        (inner, default_port)
    } else if let Some((h, p)) = spec.rsplit_once(':')
        && !h.contains(':')
    {
        (h, p.parse::<u16>().map_err(|_| bad_port(p))?)
    } else {
        (spec, default_port)
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(format!("`@{spec}`: no server address"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("`@{spec}`: cannot find the server's address: {e}"))?
        .next()
        .ok_or_else(|| format!("`@{spec}`: the server's name has no address"))
}

// ---------------------------------------------------------------------------------------------
// The exchange
// ---------------------------------------------------------------------------------------------

/// The transport an answer came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP connection.
    Tcp,
    /// A TLS session over a TCP connection (RFC 7858).
    Tls,
    /// HTTP/2 over TLS (RFC 8484).
    Https,
    /// A QUIC connection (RFC 9250).
    Quic,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Https => "HTTPS",
            Transport::Quic => "QUIC",
        })
    }
}

/// An answer that came back.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The response bytes; they parse, and match the query.
    pub response: Vec<u8>,
    /// The round trip of the exchange that brought it.
    pub elapsed: Duration,
    /// How it came.
    pub transport: Transport,
    /// Whether a UDP answer came back truncated and this one was asked again over TCP.
    pub retried_over_tcp: bool,
    /// Datagrams ignored on the way (wrong ID, another question, malformed), as messages.
    pub ignored: Vec<String>,
    /// Over TLS, the session negotiated: version, cipher suite and ALPN protocol.
    pub tls_session: Option<String>,
}

/// Why no answer came back.
#[derive(Debug)]
pub struct NoAnswer {
    /// What went wrong, for an operator.
    pub reason: String,
    /// Datagrams ignored on the way.
    pub ignored: Vec<String>,
}

/// Writes the query for `opts` with `id`.
pub fn build_query(opts: &QueryOptions, id: u16) -> Result<Vec<u8>, String> {
    let mut buf = [0u8; 512];
    let header = Header {
        id,
        flags: Flags::default()
            .with_opcode(Opcode::QUERY)
            .with_rd(opts.recursion),
        ..Header::default()
    };
    let fail = |e: wire::WriteError| format!("cannot write the query: {e}");
    let mut w = MessageWriter::new(&mut buf, 512, header).map_err(fail)?;
    w.push_question(opts.qname.as_ref(), opts.qtype, opts.qclass)
        .map_err(fail)?;
    if let Some(payload) = opts.edns {
        w.opt(payload, Rcode::NOERROR, opts.dnssec)
            .and_then(|opt| opt.finish())
            .map_err(fail)?;
    }
    Ok(w.finish().to_vec())
}

/// Checks that `response` answers the query `id` for `opts`: it parses, carries the ID, has
/// QR set and repeats the question. An error response may omit the question (servers answer
/// FORMERR that way).
pub fn check_response(opts: &QueryOptions, id: u16, response: &[u8]) -> Result<(), String> {
    let msg = Message::parse(response).map_err(|e| format!("malformed response: {e}"))?;
    let h = msg.header();
    if h.id != id {
        return Err(format!("ID mismatch: expected ID {id}, got {}", h.id));
    }
    if !h.flags.qr() {
        return Err("the QR bit is not set: a query, not a response".to_owned());
    }
    if h.qdcount > 1 {
        return Err(format!("{} questions in the response", h.qdcount));
    }
    match msg.question() {
        Some(q) => {
            let qname = q
                .qname()
                .map_err(|e| format!("malformed question name: {e}"))?;
            if qname != opts.qname || q.qtype != opts.qtype || q.qclass != opts.qclass {
                return Err(format!(
                    "question mismatch: asked {} {} {}, the response is for {qname} {} {}",
                    opts.qname, opts.qclass, opts.qtype, q.qclass, q.qtype
                ));
            }
        }
        None if msg.rcode() != Rcode::NOERROR => {}
        None => return Err("the response has no question".to_owned()),
    }
    Ok(())
}

/// The client side of `+tls`: the TLS configuration made from [`TlsOptions`].
#[derive(Clone, Debug)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsClient {
    /// TLS 1.3 or 1.2 with ALPN `dot`, trusting what `opts` says. An error (a CA file that
    /// cannot be read or holds no usable certificate) names the file.
    pub fn new(opts: &TlsOptions) -> Result<TlsClient, String> {
        let tls = ClientTls::new(
            &opts.trust,
            opts.name.clone(),
            &[transport::tls::ALPN_DOT],
            false,
        )?;
        Ok(TlsClient {
            config: tls.config,
            name: tls.name,
        })
    }
}

/// Asks the question of `opts` and waits for the answer (see the module docs); over TLS with
/// `tls`, made from `opts.tls`.
pub fn exchange(opts: &QueryOptions, tls: Option<&TlsClient>) -> Result<Answer, NoAnswer> {
    let id = random_id().map_err(|reason| NoAnswer {
        reason,
        ignored: Vec::new(),
    })?;
    let query = build_query(opts, id).map_err(|reason| NoAnswer {
        reason,
        ignored: Vec::new(),
    })?;
    let mut ignored = Vec::new();
    if let (Some(path), Some(tls)) = (&opts.https, &opts.tls) {
        return exchange_https(opts, tls, path, id, &query);
    }
    if let Some(tls) = tls {
        let started = Instant::now();
        return match exchange_tls(opts, tls, &query) {
            Ok((response, session)) => {
                let elapsed = started.elapsed();
                match check_response(opts, id, &response) {
                    Ok(()) => Ok(Answer {
                        response,
                        elapsed,
                        transport: Transport::Tls,
                        retried_over_tcp: false,
                        ignored,
                        tls_session: Some(session),
                    }),
                    Err(reason) => Err(NoAnswer {
                        reason: format!(
                            "{}#{}(TLS): {reason}",
                            opts.server.ip(),
                            opts.server.port()
                        ),
                        ignored,
                    }),
                }
            }
            Err(e) => Err(NoAnswer {
                reason: describe_io(opts.server, &e),
                ignored,
            }),
        };
    }
    if !opts.tcp {
        let started = Instant::now();
        let response = match exchange_udp(opts, id, &query, &mut ignored) {
            Ok(r) => r,
            Err(e) => {
                return Err(NoAnswer {
                    reason: describe_io(opts.server, &e),
                    ignored,
                });
            }
        };
        let elapsed = started.elapsed();
        let truncated = Header::parse(&response).is_ok_and(|h| h.flags.tc());
        if !truncated {
            return Ok(Answer {
                response,
                elapsed,
                transport: Transport::Udp,
                retried_over_tcp: false,
                ignored,
                tls_session: None,
            });
        }
    }
    let started = Instant::now();
    match exchange_tcp(opts, &query) {
        Ok(response) => {
            let elapsed = started.elapsed();
            match check_response(opts, id, &response) {
                Ok(()) => Ok(Answer {
                    response,
                    elapsed,
                    transport: Transport::Tcp,
                    retried_over_tcp: !opts.tcp,
                    ignored,
                    tls_session: None,
                }),
                Err(reason) => Err(NoAnswer {
                    reason: format!("{}#{}(TCP): {reason}", opts.server.ip(), opts.server.port()),
                    ignored,
                }),
            }
        }
        Err(e) => Err(NoAnswer {
            reason: describe_io(opts.server, &e),
            ignored,
        }),
    }
}

/// Asks `query` (with `id`) over DNS over HTTPS at `path`, and checks the answer.
fn exchange_https(
    opts: &QueryOptions,
    tls: &TlsOptions,
    path: &str,
    id: u16,
    query: &[u8],
) -> Result<Answer, NoAnswer> {
    let started = Instant::now();
    let no_answer = |reason| NoAnswer {
        reason,
        ignored: Vec::new(),
    };
    let response =
        post_https(opts, tls, path, query).map_err(|e| no_answer(describe_io(opts.server, &e)))?;
    let elapsed = started.elapsed();
    check_response(opts, id, &response).map_err(|reason| {
        no_answer(format!(
            "{}#{}(HTTPS): {reason}",
            opts.server.ip(),
            opts.server.port()
        ))
    })?;
    Ok(Answer {
        response,
        elapsed,
        transport: Transport::Https,
        retried_over_tcp: false,
        ignored: Vec::new(),
        tls_session: Some(format!("HTTPS (HTTP/2), POST {path}")),
    })
}

/// The DoH exchange itself, on a runtime of its own on this thread.
fn post_https(
    opts: &QueryOptions,
    tls: &TlsOptions,
    path: &str,
    query: &[u8],
) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + opts.timeout;
    let client_tls = ClientTls::new(
        &tls.trust,
        tls.name.clone(),
        &[transport::doh_client::ALPN_H2],
        false,
    )
    .map_err(io::Error::other)?;
    let host = match &tls.name {
        ServerName::DnsName(name) => name.as_ref().to_owned(),
        _ => opts.server.ip().to_string(),
    };
    let authority = transport::doh_client::authority(&host, opts.server.port());
    let client =
        transport::doh_client::DohClient::new(opts.server, authority, path.to_owned(), client_tls);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(client.exchange(query, deadline))
}

/// The client TLS configuration of `+quic` (TLS 1.3, ALPN `doq`, the trust of `+tls-ca` or
/// `+insecure`); `None` without `+quic`. An error names a CA file that cannot be used.
fn quic_tls(opts: &QueryOptions) -> Result<Option<ClientTls>, String> {
    let Some(tls) = opts.tls.as_ref().filter(|_| opts.quic) else {
        return Ok(None);
    };
    let alpn = [transport::doq_client::ALPN_DOQ];
    ClientTls::new(&tls.trust, tls.name.clone(), &alpn, true).map(Some)
}

/// Asks the question of `opts` over DNS over QUIC with `tls`, on a current-thread runtime: one
/// connection, one stream, closed with DOQ_NO_ERROR after the answer.
pub fn exchange_quic(opts: &QueryOptions, tls: ClientTls) -> Result<Answer, NoAnswer> {
    let fail = |reason: String| NoAnswer {
        reason,
        ignored: Vec::new(),
    };
    let id = random_id().map_err(fail)?;
    let query = build_query(opts, id).map_err(fail)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the QUIC client: {e}")))?;
    let client =
        DoqClient::new(opts.server, tls).map_err(|e| fail(describe_io(opts.server, &e)))?;
    runtime.block_on(async {
        let started = Instant::now();
        let response = client.exchange(&query, started + opts.timeout).await;
        let elapsed = started.elapsed();
        let alpn = client.alpn().await;
        client.close().await;
        let response = response.map_err(|e| fail(describe_io(opts.server, &e)))?;
        check_response(opts, id, &response).map_err(|reason| {
            fail(format!(
                "{}#{}(QUIC): {reason}",
                opts.server.ip(),
                opts.server.port()
            ))
        })?;
        let alpn = match alpn {
            Some(p) => format!("ALPN {}", String::from_utf8_lossy(&p)),
            None => "no ALPN".to_owned(),
        };
        Ok(Answer {
            response,
            elapsed,
            transport: Transport::Quic,
            retried_over_tcp: false,
            ignored: Vec::new(),
            // QUIC carries TLS 1.3 only (RFC 9001 section 4.2).
            tls_session: Some(format!("QUIC TLSv1.3, {alpn}")),
        })
    })
}

/// A query ID from the operating system's random source (RFC 5452 section 4.3).
fn random_id() -> Result<u16, String> {
    let mut id = [0u8; 2];
    getrandom::fill(&mut id).map_err(|e| format!("cannot read random bytes for the ID: {e}"))?;
    Ok(u16::from_be_bytes(id))
}

/// Sends `query` over UDP and waits for a datagram that answers it; others go to `ignored`.
fn exchange_udp(
    opts: &QueryOptions,
    id: u16,
    query: &[u8],
    ignored: &mut Vec<String>,
) -> io::Result<Vec<u8>> {
    let local = match opts.server {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = UdpSocket::bind(local)?;
    // Connected: the kernel drops datagrams from other addresses and reports ICMP errors.
    socket.connect(opts.server)?;
    let deadline = Instant::now() + opts.timeout;
    socket.send(query)?;
    let mut buf = vec![0u8; usize::from(u16::MAX)];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        socket.set_read_timeout(Some(left))?;
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::from(io::ErrorKind::TimedOut));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let response = &buf[..n];
        match check_response(opts, id, response) {
            Ok(()) => return Ok(response.to_vec()),
            Err(why) => ignored.push(why),
        }
    }
}

/// Sends `query` over TCP and reads one message back.
fn exchange_tcp(opts: &QueryOptions, query: &[u8]) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + opts.timeout;
    let mut stream = TcpStream::connect_timeout(&opts.server, opts.timeout)?;
    stream.set_nodelay(true)?;
    let len = u16::try_from(query.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(&framed)?;
    read_message(&mut stream, |s| s, deadline)
}

/// Sends `query` over DNS over TLS and reads one message back, with a description of the
/// session (version, cipher suite, ALPN protocol).
fn exchange_tls(
    opts: &QueryOptions,
    tls: &TlsClient,
    query: &[u8],
) -> io::Result<(Vec<u8>, String)> {
    let deadline = Instant::now() + opts.timeout;
    let sock = TcpStream::connect_timeout(&opts.server, opts.timeout)?;
    sock.set_nodelay(true)?;
    let conn = ClientConnection::new(tls.config.clone(), tls.name.clone())
        .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
    let mut stream = StreamOwned::new(conn, sock);
    while stream.conn.is_handshaking() {
        let left = remaining(deadline)?;
        stream.sock.set_read_timeout(Some(left))?;
        stream.sock.set_write_timeout(Some(left))?;
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    io::Error::from(io::ErrorKind::TimedOut)
                }
                kind => io::Error::new(kind, format!("TLS handshake failed: {e}")),
            })?;
    }
    let session = describe_session(&stream.conn);
    let len = u16::try_from(query.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.sock.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(&framed)?;
    stream.flush()?;
    let response = read_message(&mut stream, |s| &s.sock, deadline)?;
    Ok((response, session))
}

/// The TLS version, cipher suite and ALPN protocol of a session, as
/// `TLSv1.3, TLS13_AES_256_GCM_SHA384, ALPN dot`.
fn describe_session(conn: &ClientConnection) -> String {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
        Some(other) => format!("{other:?}"),
        None => "TLS".to_owned(),
    };
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!(", {:?}", s.suite()))
        .unwrap_or_default();
    let alpn = match conn.alpn_protocol() {
        Some(p) => format!("ALPN {}", String::from_utf8_lossy(p)),
        None => "no ALPN".to_owned(),
    };
    format!("{version}{suite}, {alpn}")
}

/// Reads one length-prefixed message from `stream` before `deadline`; `socket` gives the TCP
/// socket under it, whose read timeout bounds each read.
fn read_message<S: Read>(
    stream: &mut S,
    socket: fn(&S) -> &TcpStream,
    deadline: Instant,
) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    read_full(stream, socket, &mut len, deadline)?;
    let mut response = vec![0u8; usize::from(u16::from_be_bytes(len))];
    read_full(stream, socket, &mut response, deadline)?;
    Ok(response)
}

/// Fills `buf` from `stream` before `deadline`.
fn read_full<S: Read>(
    stream: &mut S,
    socket: fn(&S) -> &TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        socket(stream).set_read_timeout(Some(remaining(deadline)?))?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before the whole answer came",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::from(io::ErrorKind::TimedOut));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Time left before `deadline`, or a timeout error when there is none.
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::from(io::ErrorKind::TimedOut))
    } else {
        Ok(left)
    }
}

/// An I/O error of an exchange, worded for an operator.
fn describe_io(server: SocketAddr, e: &io::Error) -> String {
    let what = match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_owned(),
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        _ => e.to_string(),
    };
    format!(
        "communications error to {}#{}: {what}",
        server.ip(),
        server.port()
    )
}

// ---------------------------------------------------------------------------------------------
// The command
// ---------------------------------------------------------------------------------------------

/// Runs `portcullis query` with `args` (the words after `query`) and returns the exit code.
pub fn main<S: AsRef<str>>(args: &[S]) -> u8 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    run(args, &mut stdout.lock(), &mut stderr.lock())
}

/// [`main`] with its output streams given.
pub fn run<S: AsRef<str>>(args: &[S], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let opts = match QueryOptions::parse(args) {
        Ok(opts) => opts,
        Err(e) => {
            let _ = writeln!(err, "error: {e}\n{USAGE}");
            return EXIT_USAGE;
        }
    };
    let quic = match quic_tls(&opts) {
        Ok(quic) => quic,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let dot = opts.tls.as_ref().filter(|_| quic.is_none());
    let tls = match dot.map(TlsClient::new).transpose() {
        Ok(tls) => tls,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return EXIT_USAGE;
        }
    };
    let words: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let _ = writeln!(
        out,
        "\n; <<>> portcullis {} query <<>> {}",
        env!("CARGO_PKG_VERSION"),
        words.join(" ")
    );
    let answer = match quic {
        Some(quic) => exchange_quic(&opts, quic),
        None => exchange(&opts, tls.as_ref()),
    };
    match answer {
        Ok(answer) => {
            for why in &answer.ignored {
                let _ = writeln!(err, ";; Warning: ignored a datagram: {why}");
            }
            if answer.retried_over_tcp {
                let _ = writeln!(out, ";; Truncated, retrying in TCP mode.");
            }
            let _ = write!(out, "{}", report(&opts, &answer));
            EXIT_OK
        }
        Err(no) => {
            for why in &no.ignored {
                let _ = writeln!(err, ";; Warning: ignored a datagram: {why}");
            }
            let _ = writeln!(err, ";; {}", no.reason);
            let _ = writeln!(err, ";; no servers could be reached");
            EXIT_NO_RESPONSE
        }
    }
}

/// The printed answer: the message as `dig` shows it, then the footer.
pub fn report(opts: &QueryOptions, answer: &Answer) -> String {
    let session = match &answer.tls_session {
        Some(s) => format!(";; {s}\n"),
        None => String::new(),
    };
    let body = match Message::parse(&answer.response) {
        Ok(msg) => format!(";; Got answer:\n{}", DigStyle(&msg)),
        // `exchange` only hands out answers that parse.
        Err(e) => format!(";; Got bad packet: {e}\n"),
    };
    format!(
        "{session}{body}\n;; Query time: {} msec\n;; SERVER: {}#{}({})\n;; MSG SIZE  rcvd: {}\n\n",
        answer.elapsed.as_millis(),
        opts.server.ip(),
        opts.server.port(),
        answer.transport,
        answer.response.len()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn parse(args: &[&str]) -> Result<QueryOptions, String> {
        QueryOptions::parse(args)
    }

    #[test]
    fn defaults() {
        let o = parse(&["example.test"]).unwrap();
        assert_eq!(o.qname.to_string(), "example.test.");
        assert_eq!(o.qtype, RType::A);
        assert_eq!(o.qclass, Class::IN);
        assert_eq!(o.server, DEFAULT_SERVER);
        assert!(!o.tcp && !o.dnssec && o.recursion);
        assert_eq!(o.edns, Some(1232));
        assert_eq!(o.timeout, DEFAULT_TIMEOUT);
        assert_eq!(o.tls, None);
    }

    #[test]
    fn tls_options() {
        // The port defaults to 853, and the name to check to the server's address.
        let o = parse(&["a", "+tls", "+tls-ca=ca.pem", "@192.0.2.1"]).unwrap();
        assert_eq!(o.server, "192.0.2.1:853".parse().unwrap());
        let tls = o.tls.unwrap();
        assert_eq!(tls.trust, Trust::Ca(PathBuf::from("ca.pem")));
        assert_eq!(
            tls.name,
            ServerName::from("192.0.2.1".parse::<IpAddr>().unwrap())
        );
        let o = parse(&["a", "+tls", "+insecure"]).unwrap();
        assert_eq!(o.server, "127.0.0.1:853".parse().unwrap());
        assert_eq!(o.tls.unwrap().trust, Trust::Insecure);
        // An explicit port, `-p`, and a name to check.
        let o = parse(&[
            "a",
            "+tls",
            "+insecure",
            "@[::1]:8853",
            "+tls-name=dns.test",
        ])
        .unwrap();
        assert_eq!(o.server, "[::1]:8853".parse().unwrap());
        assert_eq!(
            o.tls.unwrap().name,
            ServerName::try_from("dns.test").unwrap()
        );
        let o = parse(&["a", "+tls", "+insecure", "@192.0.2.1", "-p", "5853"]).unwrap();
        assert_eq!(o.server, "192.0.2.1:5853".parse().unwrap());
        // `+tls-ca` and `+insecure` imply `+tls`; `+notls` turns it off again.
        assert!(parse(&["a", "+tls-ca=ca.pem"]).unwrap().tls.is_some());
        assert!(parse(&["a", "+insecure"]).unwrap().tls.is_some());
        let o = parse(&["a", "+tls", "+notls"]).unwrap();
        assert_eq!((o.tls, o.server), (None, DEFAULT_SERVER));
    }

    #[test]
    fn quic_options() {
        let o = parse(&["a", "+quic", "+insecure", "@192.0.2.1"]).unwrap();
        assert!(o.quic);
        assert_eq!(o.server, "192.0.2.1:853".parse().unwrap());
        assert_eq!(o.tls.unwrap().trust, Trust::Insecure);
        let o = parse(&["a", "+quic"]).unwrap();
        assert_eq!(o.tls.unwrap().trust, Trust::System);
        assert!(!parse(&["a", "+quic", "+noquic", "+insecure"]).unwrap().quic);
        assert!(!parse(&["a", "+tls", "+insecure"]).unwrap().quic);
        let err = parse(&["a", "+quic", "+https", "+insecure"]).unwrap_err();
        assert!(err.contains("do not go together"), "{err}");
    }

    #[test]
    fn tls_usage_errors() {
        // No trust given: the system's CA bundle.
        assert_eq!(
            parse(&["a", "+tls"]).unwrap().tls.unwrap().trust,
            Trust::System
        );
        for (bad, says) in [
            (
                &["a", "+tls", "+tls-ca=x.pem", "+insecure"][..],
                "do not go together",
            ),
            (&["a", "+tls", "+tls-ca"], "needs a file"),
            (&["a", "+tls", "+tls-ca="], "needs a file"),
            (&["a", "+tls", "+insecure", "+tls-name"], "needs a value"),
            (
                &["a", "+tls", "+insecure", "+tls-name=a..b"],
                "not a host name",
            ),
            (&["a", "+tls=1", "+insecure"], "takes no value"),
            (&["a", "+insecure=yes"], "takes no value"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn tls_client_needs_a_usable_ca_file() {
        let opts = |path: &str| TlsOptions {
            trust: Trust::Ca(PathBuf::from(path)),
            name: ServerName::try_from("dns.test").unwrap(),
        };
        let err = TlsClient::new(&opts("/nonexistent/ca.pem")).unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap();
        let err = TlsClient::new(&opts(empty.to_str().unwrap())).unwrap_err();
        assert!(err.contains("no usable PEM certificate"), "{err}");
        let insecure = TlsOptions {
            trust: Trust::Insecure,
            name: ServerName::try_from("dns.test").unwrap(),
        };
        let client = TlsClient::new(&insecure).unwrap();
        assert_eq!(client.config.alpn_protocols, vec![b"dot".to_vec()]);
    }

    #[test]
    fn every_option() {
        let o = parse(&[
            "+tcp",
            "version.bind.",
            "CH",
            "@127.0.0.2:5353",
            "TXT",
            "+dnssec",
            "+norec",
            "+bufsize=4096",
            "+timeout=2",
        ])
        .unwrap();
        assert_eq!(o.qname.to_string(), "version.bind.");
        assert_eq!(o.qtype, RType::TXT);
        assert_eq!(o.qclass, Class::CH);
        assert_eq!(o.server, "127.0.0.2:5353".parse().unwrap());
        assert!(o.tcp && o.dnssec && !o.recursion);
        assert_eq!(o.edns, Some(4096));
        assert_eq!(o.timeout, Duration::from_secs(2));
        assert_eq!(parse(&["a", "+noedns"]).unwrap().edns, None);
        assert_eq!(
            parse(&["a", "-p", "5300"]).unwrap().server,
            "127.0.0.1:5300".parse().unwrap()
        );
    }

    #[test]
    fn servers() {
        for (spec, want) in [
            ("192.0.2.1", "192.0.2.1:53"),
            ("192.0.2.1:5353", "192.0.2.1:5353"),
            ("192.0.2.1#5353", "192.0.2.1:5353"),
            ("::1", "[::1]:53"),
            ("[::1]", "[::1]:53"),
            ("[::1]:5353", "[::1]:5353"),
            ("::1#5353", "[::1]:5353"),
        ] {
            assert_eq!(
                parse_server(spec, DEFAULT_PORT).unwrap(),
                want.parse().unwrap(),
                "{spec}"
            );
        }
        assert_eq!(
            parse_server("[::1]", DEFAULT_TLS_PORT).unwrap(),
            "[::1]:853".parse().unwrap()
        );
        assert!(parse_server("192.0.2.1:99999", DEFAULT_PORT).is_err());
        assert!(parse_server("192.0.2.1#x", DEFAULT_PORT).is_err());
        assert!(parse_server("", DEFAULT_PORT).is_err());
    }

    #[test]
    fn usage_errors() {
        for bad in [
            &[][..],
            &["+tcp"],
            &["a", "NOTATYPE"],
            &["a", "+bogus"],
            &["a", "+timeout=0"],
            &["a", "+timeout"],
            &["a", "+bufsize=70000"],
            &["a", "+tcp=1"],
            &["a", "+dnssec", "+noedns"],
            &["a..b"],
            &["a", "-p"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn query_bytes() {
        let mut o = parse(&["Example.TEST", "MX", "+dnssec"]).unwrap();
        let q = build_query(&o, 0x1234).unwrap();
        let msg = Message::parse(&q).unwrap();
        let h = msg.header();
        assert_eq!(h.id, 0x1234);
        assert!(h.flags.rd() && !h.flags.qr());
        let edns = msg.edns().unwrap();
        assert_eq!(edns.udp_payload, 1232);
        assert!(edns.dnssec_ok());
        assert_eq!(msg.question().unwrap().qtype, RType::MX);
        o.recursion = false;
        o.edns = None;
        o.dnssec = false;
        let q = build_query(&o, 1).unwrap();
        let msg = Message::parse(&q).unwrap();
        assert!(!msg.header().flags.rd());
        assert!(msg.edns().is_none());
    }

    #[test]
    fn responses_must_match() {
        let o = parse(&["example.test"]).unwrap();
        let query = build_query(&o, 7).unwrap();
        // A query is not an answer.
        assert!(check_response(&o, 7, &query).unwrap_err().contains("QR"));
        let mut resp = query.clone();
        resp[2] |= 0x80;
        assert!(check_response(&o, 7, &resp).is_ok());
        assert!(
            check_response(&o, 8, &resp)
                .unwrap_err()
                .contains("ID mismatch")
        );
        let other = parse(&["other.test"]).unwrap();
        assert!(
            check_response(&other, 7, &resp)
                .unwrap_err()
                .contains("question mismatch")
        );
        assert!(check_response(&o, 7, &resp[..5]).is_err());
        // FORMERR without a question is an answer; NOERROR without one is not.
        let mut bare = [0u8; 12];
        bare[..2].copy_from_slice(&7u16.to_be_bytes());
        bare[2] = 0x80;
        assert!(check_response(&o, 7, &bare).is_err());
        bare[3] = 1;
        assert!(check_response(&o, 7, &bare).is_ok());
    }

    #[test]
    fn https_options() {
        let o = parse(&["a", "+https", "+tls-ca=ca.pem", "@192.0.2.1"]).unwrap();
        assert_eq!(o.https.as_deref(), Some(DEFAULT_HTTPS_PATH));
        assert_eq!(o.server, "192.0.2.1:443".parse().unwrap());
        assert_eq!(o.tls.unwrap().trust, Trust::Ca(PathBuf::from("ca.pem")));
        let o = parse(&["a", "+https=/q", "+insecure", "@192.0.2.1", "-p", "8443"]).unwrap();
        assert_eq!(o.https.as_deref(), Some("/q"));
        assert_eq!(o.server, "192.0.2.1:8443".parse().unwrap());
        let o = parse(&["a", "+https", "+nohttps", "+insecure"]).unwrap();
        assert_eq!((o.https, o.server.port()), (None, DEFAULT_TLS_PORT));
        let o = parse(&["a", "+https"]).unwrap();
        assert_eq!(o.tls.unwrap().trust, Trust::System);
        let err = parse(&["a", "+https=dns-query", "+insecure"]).unwrap_err();
        assert!(err.contains("not a URI path"), "{err}");
    }
}
