//! Unit tests of the configuration: defaults, bounds, unknown keys, locations, overrides.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(text, "test.toml", None)
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_file_takes_every_default() {
    let c = parse("").unwrap();
    let s = &c.server;
    assert_eq!(
        s.listen,
        [
            "127.0.0.1:53".parse::<SocketAddr>().unwrap(),
            "[::1]:53".parse().unwrap()
        ]
    );
    assert_eq!(s.workers, default_workers());
    assert!((1..=1024).contains(&s.workers));
    assert_eq!(s.user, None);
    assert_eq!(s.nsid, None);
    assert_eq!(
        (&s.version, &s.hostname, &s.server_id),
        (&None, &None, &None)
    );
    assert_eq!(s.udp_payload, 1232);
    assert_eq!(s.tcp_idle_timeout, Duration::from_secs(10));
    assert_eq!(s.tcp_max_connections, 4096);
    assert_eq!(s.tcp_max_connections_per_client, 64);
    assert_eq!(s.control_socket, Path::new("/run/portcullis/control.sock"));
    assert_eq!(s.http, None);
    assert_eq!(s.log_level, LogLevel::Info);
    assert!(s.allow_transfer.is_empty());
    assert!(c.zones.is_empty());
    assert!(c.warnings().is_empty());
}

#[test]
fn builtin_config_equals_the_defaults_and_serves_its_zone() {
    let c = Config::builtin().unwrap();
    let d = parse("").unwrap();
    assert_eq!(c.label, DEFAULT_CONFIG_LABEL);
    assert_eq!(c.server.listen, d.server.listen);
    assert_eq!(c.server.udp_payload, d.server.udp_payload);
    assert_eq!(c.server.tcp_idle_timeout, d.server.tcp_idle_timeout);
    assert_eq!(c.server.tcp_max_connections, d.server.tcp_max_connections);
    assert_eq!(
        c.server.tcp_max_connections_per_client,
        d.server.tcp_max_connections_per_client
    );
    assert_eq!(c.server.control_socket, d.server.control_socket);
    assert_eq!(c.server.log_level, d.server.log_level);
    assert_eq!(c.zones.len(), 1);
    assert_eq!(c.zones[0].origin.to_string(), "portcullis.test.");
    let ZoneSource::Inline { text, first_line } = &c.zones[0].source else {
        panic!("the built-in zone is inline");
    };
    let line = DEFAULT_CONFIG
        .lines()
        .nth(*first_line as usize - 1)
        .unwrap();
    assert_eq!(line, text.lines().next().unwrap());
}

#[test]
fn commented_defaults_in_the_builtin_config_parse_too() {
    // Uncommenting every `# key = value` line of [server] gives a valid configuration.
    // `file` lines are kept only in the policy examples, whose tables need one.
    let mut policy_table = false;
    let uncommented: String = DEFAULT_CONFIG
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if rest.starts_with("[[") => {
                policy_table = ["[[blocklist]]", "[[allowlist]]", "[[rpz]]"].contains(&rest);
                rest
            }
            // `http_token_file` is the other way to give `http_token`: one of them.
            Some(rest)
                if rest.contains(" = ")
                    && (policy_table || !rest.starts_with("file"))
                    && !rest.starts_with("http_token_file") =>
            {
                rest
            }
            // The example tables of [[forward]] and [[stub]].
            Some(rest) if rest.starts_with("[[") => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = parse(&uncommented).unwrap();
    assert_eq!(c.server.workers, 4);
    assert_eq!(c.server.user.as_deref(), Some("portcullis"));
    assert_eq!(c.server.nsid.as_deref(), Some("ns1"));
    assert_eq!(c.server.version.as_deref(), Some("Portcullis"));
    assert_eq!(c.server.http, Some("127.0.0.1:9153".parse().unwrap()));
    assert_eq!(c.forwards.len(), 3);
    assert!(c.resolver.root_hints.is_some());
    assert_eq!(c.policy.blocklists.len(), 2);
    assert_eq!(c.policy.rpz.len(), 1);
}

#[test]
fn full_example() {
    let c = parse(
        r#"
[server]
listen = ["192.0.2.1:5353"]
workers = 3
nsid = "a"
udp_payload = 4096
tcp_idle_timeout = 300
log_level = "debug"
allow_transfer = ["192.0.2.0/24", "2001:db8::1"]

[[zone]]
origin = "example.com"
file = "zones/example.com.zone"
allow_transfer = ["198.51.100.7"]

[[zone]]
origin = "Example.ORG."
text = "x"
"#,
    )
    .unwrap();
    assert_eq!(c.server.listen, ["192.0.2.1:5353".parse().unwrap()]);
    assert_eq!(c.server.workers, 3);
    assert_eq!(c.server.udp_payload, 4096);
    assert_eq!(c.server.tcp_idle_timeout, Duration::from_secs(300));
    assert_eq!(c.server.log_level, LogLevel::Debug);
    assert_eq!(c.server.allow_transfer.len(), 2);
    assert_eq!(c.zones.len(), 2);
    assert_eq!(c.zones[0].origin.to_string(), "example.com.");
    assert!(
        matches!(&c.zones[0].source, ZoneSource::File(p) if p == Path::new("zones/example.com.zone"))
    );
    assert_eq!(c.zones[0].allow_transfer[0].to_string(), "198.51.100.7/32");
    assert_eq!(c.zones[0].defined_at.to_string(), "test.toml:11:1");
    assert!(matches!(
        &c.zones[1].source,
        ZoneSource::Inline { first_line: 18, .. }
    ));
}

#[test]
fn relative_zone_files_are_taken_from_the_config_directory() {
    let text = "[[zone]]\norigin = \"a.\"\nfile = \"a.zone\"\n[[zone]]\norigin = \"b.\"\nfile = \"/abs/b.zone\"\n";
    let c = Config::from_toml(text, "etc/p.toml", Some(Path::new("etc"))).unwrap();
    assert!(matches!(&c.zones[0].source, ZoneSource::File(p) if p == Path::new("etc/a.zone")));
    assert!(matches!(&c.zones[1].source, ZoneSource::File(p) if p == Path::new("/abs/b.zone")));
}

// ---------------------------------------------------------------------------------------------
// Bounds, each error naming the key and its place
// ---------------------------------------------------------------------------------------------

#[test]
fn integer_bounds_are_enforced_at_the_value() {
    for b in INT_SETTINGS
        .iter()
        .chain(rrl::INT_SETTINGS)
        .chain(cookies::INT_SETTINGS)
        .chain(events::INT_SETTINGS)
        .chain(tls::INT_SETTINGS)
        .chain(https::INT_SETTINGS)
    {
        let (section, key) = b.key.split_once('.').unwrap();
        for ok in [b.min, b.max] {
            let text = format!("[{section}]\n{key} = {ok}\n");
            assert!(parse(&text).is_ok(), "{text}");
        }
        for bad in [b.min as i64 - 1, b.max as i64 + 1] {
            let text = format!("[{section}]\n{key} = {bad}\n");
            let e = error(&text);
            let col = key.len() + 4;
            assert!(
                e.starts_with(&format!(
                    "test.toml:2:{col}: {}: {bad} is out of bounds",
                    b.key
                )),
                "{e}"
            );
            assert!(e.contains(&format!("from {} to {}", b.min, b.max)), "{e}");
        }
    }
}

#[test]
fn wrong_types_name_the_key() {
    let e = error("[server]\nworkers = \"four\"\n");
    assert!(
        e.starts_with(
            "test.toml:2:11: server.workers: invalid type: string \"four\", expected an integer"
        ),
        "{e}"
    );
    let e = error("[server]\nlisten = \"127.0.0.1:53\"\n");
    assert!(e.starts_with("test.toml:2:10: server.listen: "), "{e}");
    let e = error("[server]\nuser = 7\n");
    assert!(e.starts_with("test.toml:2:8: server.user: "), "{e}");
}

#[test]
fn string_and_address_checks() {
    let cases = [
        (
            "[server]\nlisten = []\n",
            "server.listen: at least one address",
        ),
        (
            "[server]\nlisten = [\"127.0.0.1\"]\n",
            "server.listen: `127.0.0.1` is not an address with a port",
        ),
        (
            "[server]\nlisten = [\"127.0.0.1:53\", \"127.0.0.1:53\"]\n",
            "server.listen: 127.0.0.1:53 is listed twice",
        ),
        (
            "[server]\nnsid = \"\"\n",
            "server.nsid: must be 1 to 128 bytes",
        ),
        (
            "[server]\nversion = \"x\\ny\"\n",
            "server.version: control characters",
        ),
        (
            "[server]\nuser = \"a b\"\n",
            "server.user: `a b` is not a user name",
        ),
        (
            "[server]\nhttp = \"localhost\"\n",
            "server.http: `localhost` is not an address",
        ),
        (
            "[server]\nlog_level = \"loud\"\n",
            "server.log_level: `loud` is not a log level",
        ),
        (
            "[server]\nallow_transfer = [\"10.0.0.1/8\"]\n",
            "server.allow_transfer: `10.0.0.1/8` has bits set",
        ),
        (
            "[server]\ncontrol_socket = \"\"\n",
            "server.control_socket: a socket path must be 1 to 107 bytes",
        ),
    ];
    for (text, expected) in cases {
        let e = error(text);
        assert!(e.starts_with("test.toml:2:"), "{e}");
        assert!(e.contains(expected), "{e} lacks {expected:?}");
    }
    let long = "x".repeat(MAX_SOCKET_PATH + 1);
    let e = error(&format!("[server]\ncontrol_socket = \"{long}\"\n"));
    assert!(e.contains("server.control_socket"), "{e}");
}

#[test]
fn unknown_keys_are_errors_with_their_location() {
    let e = error("[server]\nlisten = [\"127.0.0.1:53\"]\nworker = 4\n");
    assert!(
        e.starts_with("test.toml:3:1: unknown field `worker`"),
        "{e}"
    );
    let e = error("[servr]\n");
    assert!(e.starts_with("test.toml:1:2: unknown field `servr`"), "{e}");
    let e = error("[[zone]]\norigin = \"a.\"\nfile = \"f\"\n  axfr = true\n");
    assert!(e.starts_with("test.toml:4:3: unknown field `axfr`"), "{e}");
}

#[test]
fn toml_syntax_errors_have_line_and_column() {
    let e = error("[server]\nudp_payload = = 3\n");
    assert!(e.starts_with("test.toml:2:"), "{e}");
    let e = error("[server\n");
    assert!(e.starts_with("test.toml:1:"), "{e}");
}

#[test]
fn zone_entries_are_checked() {
    let e = error("[[zone]]\norigin = \"a.\"\n");
    assert!(
        e.starts_with("test.toml:1:1: zone: give exactly one of `file`"),
        "{e}"
    );
    let e = error("[[zone]]\norigin = \"a.\"\nfile = \"x\"\ntext = \"y\"\n");
    assert!(e.contains("exactly one of"), "{e}");
    let e = error("[[zone]]\nfile = \"x\"\n");
    assert!(e.contains("missing field `origin`"), "{e}");
    let e = error("[[zone]]\norigin = \"a..b\"\nfile = \"x\"\n");
    assert!(
        e.starts_with("test.toml:2:10: zone.origin: `a..b` is not a domain name"),
        "{e}"
    );
    let e = error(
        "[[zone]]\norigin = \"a.\"\nfile = \"x\"\n\n[[zone]]\norigin = \"A\"\nfile = \"y\"\n",
    );
    assert!(
        e.starts_with(
            "test.toml:5:1: zone.origin: zone A. is configured twice (first at test.toml:1:1)"
        ),
        "{e}"
    );
}

#[test]
fn locations_count_characters() {
    let text = "é\n  ab";
    assert_eq!(Location::of("f", text, 0).to_string(), "f:1:1");
    assert_eq!(Location::of("f", text, 2).to_string(), "f:1:2");
    assert_eq!(Location::of("f", text, 5).to_string(), "f:2:3");
    assert_eq!(Location::of("f", text, 99).to_string(), "f:2:5");
}

#[test]
fn warnings() {
    let c =
        parse("[server]\ntcp_max_connections = 10\ntcp_max_connections_per_client = 20\n").unwrap();
    let w = c.warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].to_string().contains("never applies"), "{}", w[0]);
}

// ---------------------------------------------------------------------------------------------
// Command-line overrides
// ---------------------------------------------------------------------------------------------

#[test]
fn flags_override_the_file() {
    let mut c = parse(
        "[server]\nallow_transfer = [\"192.0.2.0/24\"]\n[[zone]]\norigin = \"a.\"\nfile = \"a.zone\"\n",
    )
    .unwrap();
    c.apply(&Overrides {
        listen: vec!["127.0.0.1:5300".parse().unwrap()],
        zones: vec!["b.=b.zone".parse().unwrap()],
        allow_transfer: vec!["192.0.2.0/24".parse().unwrap(), "::1".parse().unwrap()],
        http: Some("127.0.0.1:9153".parse().unwrap()),
        log_level: Some(LogLevel::Trace),
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(c.server.listen, ["127.0.0.1:5300".parse().unwrap()]);
    let origins: Vec<String> = c.zones.iter().map(|z| z.origin.to_string()).collect();
    assert_eq!(origins, ["a.", "b."]);
    assert!(matches!(&c.zones[1].source, ZoneSource::File(p) if p == Path::new("b.zone")));
    let acl: Vec<String> = c
        .server
        .allow_transfer
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(acl, ["192.0.2.0/24", "::1/128"]);
    assert_eq!(c.server.http, Some("127.0.0.1:9153".parse().unwrap()));
    assert_eq!(c.server.log_level, LogLevel::Trace);
}

#[test]
fn empty_overrides_change_nothing() {
    let mut c = Config::builtin().unwrap();
    c.apply(&Overrides::default()).unwrap();
    assert_eq!(c.server.listen.len(), 2);
    assert_eq!(c.zones.len(), 1);
}

#[test]
fn override_errors() {
    let mut c = Config::builtin().unwrap();
    let e = c
        .apply(&Overrides {
            zones: vec!["portcullis.test=x.zone".parse().unwrap()],
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--zone: zone portcullis.test. is already configured at <default config>:"),
        "{e}"
    );
    let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
    let e = c
        .apply(&Overrides {
            listen: vec![addr, addr],
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("--listen: 127.0.0.1:53 is listed twice"), "{e}");
}

#[test]
fn zone_args() {
    let z: ZoneArg = "example.com=/z/example.com.zone".parse().unwrap();
    assert_eq!(z.origin.to_string(), "example.com.");
    assert_eq!(z.file, Path::new("/z/example.com.zone"));
    assert!("example.com".parse::<ZoneArg>().is_err());
    assert!("example.com=".parse::<ZoneArg>().is_err());
    assert!("=file".parse::<ZoneArg>().is_err());
}

#[test]
fn resolver_sections() {
    let text = r#"
[resolver]
enabled = true
root_hints = "hints.zone"
allow_recursion = ["192.0.2.0/24"]
qname_minimisation = "strict"
max_mesh = 500

[cache]
max_bytes = "128M"
min_ttl = 5

[[forward]]
zone = "corp.example."
to = ["192.0.2.53", "192.0.2.54:5353"]

[[stub]]
zone = "lab.example"
servers = ["[2001:db8::53]:53"]
"#;
    let c = Config::from_toml(text, "r.toml", Some(Path::new("/etc/pc"))).unwrap();
    assert!(c.resolver.enabled);
    assert_eq!(
        c.resolver.root_hints,
        Some(PathBuf::from("/etc/pc/hints.zone"))
    );
    assert_eq!(c.resolver.qname_minimisation, QnameMinimisation::Strict);
    assert_eq!(c.resolver.limits.max_mesh, 500);
    assert_eq!(c.resolver.limits.max_referrals, 30);
    assert_eq!(c.cache.max_bytes, 128 << 20);
    assert_eq!(c.cache.min_ttl, 5);
    assert_eq!(c.forwards.len(), 2);
    assert_eq!(c.forwards[0].to[0], "192.0.2.53:53".parse().unwrap());
    assert!(c.forwards[1].stub);
    assert_eq!(c.forwards[1].zone, "lab.example.".parse().unwrap());

    let empty = Config::from_toml("", "e.toml", None).unwrap();
    assert!(!empty.resolver.enabled);
    assert_eq!(empty.cache.max_bytes, 64 << 20);
    assert_eq!(empty.resolver.allow_recursion.len(), 7);
}

#[test]
fn resolver_errors_name_key_and_place() {
    let cases = [
        (
            "[cache]\nmax_bytes = \"12Q\"\n",
            "e.toml:2:13: cache.max_bytes: `12Q`: unknown unit",
        ),
        (
            "[cache]\nmax_bytes = 1000\n",
            "e.toml:2:13: cache.max_bytes: 1000 bytes is out of bounds",
        ),
        (
            "[cache]\nshards = 3\n",
            "cache.shards: 3 is not a power of two",
        ),
        (
            "[resolver]\nmax_mesh = 0\n",
            "e.toml:2:12: resolver.max_mesh: 0 is out of bounds",
        ),
        (
            "[resolver]\nqname_minimisation = \"yes\"\n",
            "resolver.qname_minimisation: `yes` is not one of",
        ),
        ("[resolver]\nbogus = 1\n", "unknown field `bogus`"),
        (
            "[rrl]\nexempt = [\"10.0.0.1/8\"]\n",
            "e.toml:2:10: rrl.exempt:",
        ),
        ("[rrl]\nenabled = 1\n", "e.toml:2:11: rrl.enabled:"),
        (
            "[[forward]]\nzone = \"a.\"\nto = []\n",
            "forward.to: give 1 to 16 servers, not 0",
        ),
        (
            "[[forward]]\nzone = \"a.\"\nto = [\"x\"]\n",
            "forward.to: `x` is not an address",
        ),
        (
            "[[forward]]\nzone = \"a.\"\nto = [\"192.0.2.1\"]\n[[stub]]\nzone = \"A.\"\nservers = [\"192.0.2.1\"]\n",
            "e.toml:4:1: stub.zone: zone A. is already forwarded or stubbed at e.toml:1:1",
        ),
    ];
    for (text, want) in cases {
        let e = Config::from_toml(text, "e.toml", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn resolver_flags() {
    let mut c = Config::from_toml(
        "[[forward]]\nzone = \".\"\nto = [\"192.0.2.1\"]\n",
        "f.toml",
        None,
    )
    .unwrap();
    c.apply(&Overrides {
        root_hints: Some(PathBuf::from("w.hints")),
        forwards: vec![
            ".=127.0.0.1:5300".parse().unwrap(),
            ".=127.0.0.2".parse().unwrap(),
            "corp.=10.0.0.1".parse().unwrap(),
        ],
        allow_recursion: vec!["203.0.113.0/24".parse().unwrap()],
        insecure_local_upstreams: true,
        ..Overrides::default()
    })
    .unwrap();
    assert!(c.resolver.enabled);
    assert!(c.resolver.insecure_local_upstreams);
    assert_eq!(c.forwards.len(), 2);
    assert_eq!(
        c.forwards[0].to,
        [
            "127.0.0.1:5300".parse().unwrap(),
            "127.0.0.2:53".parse().unwrap()
        ]
    );
    assert_eq!(c.resolver.allow_recursion.len(), 8);
    assert!("nonsense".parse::<ForwardArg>().is_err());
}

#[test]
fn zone_flag_without_a_file_runs_an_authoritative_server() {
    let zone: ZoneArg = "example.test.=example.test.zone".parse().unwrap();
    let alone = ConfigSource {
        path: None,
        overrides: Overrides {
            zones: vec![zone.clone()],
            ..Overrides::default()
        },
    }
    .read()
    .unwrap();
    assert_eq!(alone.zones.len(), 1);
    assert_eq!(alone.zones[0].origin, zone.origin);
    assert!(!alone.resolver.enabled);

    let with_forward = ConfigSource {
        path: None,
        overrides: Overrides {
            zones: vec![zone],
            forwards: vec!["corp.test.=127.0.0.2".parse().unwrap()],
            ..Overrides::default()
        },
    }
    .read()
    .unwrap();
    assert_eq!(with_forward.zones.len(), 1);
    assert!(with_forward.resolver.enabled);

    let plain = ConfigSource {
        path: None,
        overrides: Overrides::default(),
    }
    .read()
    .unwrap();
    assert!(plain.resolver.enabled);
    assert_eq!(plain.zones.len(), 1);
}

#[test]
fn rrl_is_off_unless_configured() {
    let c = parse("").unwrap();
    assert!(!c.rrl.enabled);
    assert!(c.rrl.limiter().is_none());
    let c = parse("[rrl]\nenabled = true\nresponses_per_second = 5\nexempt = [\"192.0.2.0/24\"]\n")
        .unwrap();
    let rrl = c.rrl.limiter().unwrap();
    assert_eq!(rrl.config().responses_per_second, 5);
    assert_eq!(rrl.config().window, 15);
    assert_eq!(rrl.config().slip, 2);
    assert_eq!(rrl.memory(), 65_536 * 8);
}

// ---------------------------------------------------------------------------------------------
// [cookies]
// ---------------------------------------------------------------------------------------------

#[test]
fn cookies_are_on_by_default_with_a_random_secret() {
    let c = parse("").unwrap();
    assert!(c.cookies.enabled && !c.cookies.require);
    assert_eq!(c.cookies.secret, None);
    assert_eq!(c.cookies.rotate_interval, 86_400);
    let d = Config::from_toml(DEFAULT_CONFIG, DEFAULT_CONFIG_LABEL, None).unwrap();
    assert_eq!(d.cookies, c.cookies);
}

#[test]
fn cookie_secrets_are_read_and_checked_without_echoing_them() {
    let c = parse(
        "[cookies]\nrequire = true\nsecret = \"E5E973E5A6B2A43F48E7DC849E37BFCF\"\n\
         previous_secret = \"445536bcd2513298075a5d379663c962\"\n",
    )
    .unwrap();
    assert!(c.cookies.require);
    assert_eq!(
        c.cookies.secret,
        Some(guard::Secret::from_hex("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap())
    );
    assert!(c.cookies.previous_secret.is_some());
    assert!(!format!("{:?}", c.cookies).contains("e5"));

    let e = error("[cookies]\nsecret = \"0123456789abcdef\"\n");
    assert!(
        e.starts_with("test.toml:2:10: cookies.secret: a secret is 32 hexadecimal digits"),
        "{e}"
    );
    assert!(!e.contains("0123456789abcdef"), "{e}");
    let e = error("[cookies]\nsecret = \"zz23456789abcdef0123456789abcdef\"\n");
    assert!(
        e.starts_with("test.toml:2:10: cookies.secret: a secret holds hexadecimal digits only"),
        "{e}"
    );
    assert!(!e.contains("zz23"), "{e}");
    let e = error("[cookies]\nprevious_secret = \"0123456789abcdef0123456789abcdef\"\n");
    assert!(
        e.starts_with(
            "test.toml:2:19: cookies.previous_secret: only meaningful with cookies.secret"
        ),
        "{e}"
    );
    let e = error("[cookies]\nsecret = 12\n");
    assert!(e.contains("cookies.secret"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// [tls]
// ---------------------------------------------------------------------------------------------

#[test]
fn tls_is_off_by_default() {
    let c = parse("").unwrap();
    assert!(!c.tls.enabled());
    assert_eq!(c.tls.min_version, tls::TlsVersion::Tls13);
    assert_eq!(c.tls.handshake_timeout, Duration::from_secs(5));
    let resumption = crate::tls::Resumption::new().unwrap();
    assert!(
        crate::tls::server_config(&c.tls, &resumption)
            .unwrap()
            .is_none()
    );
}

#[test]
fn tls_section_and_flags() {
    let text = "[tls]\nlisten = [\"127.0.0.1:853\"]\ncert = \"c.pem\"\nkey = \"/abs/k.pem\"\n\
                min_version = \"1.2\"\nhandshake_timeout = 2\n";
    let mut c = Config::from_toml(text, "etc/p.toml", Some(Path::new("etc"))).unwrap();
    assert_eq!(c.tls.listen, vec!["127.0.0.1:853".parse().unwrap()]);
    assert_eq!(c.tls.cert.as_deref(), Some(Path::new("etc/c.pem")));
    assert_eq!(c.tls.key.as_deref(), Some(Path::new("/abs/k.pem")));
    assert_eq!(c.tls.min_version, tls::TlsVersion::Tls12);
    assert_eq!(c.tls.handshake_timeout, Duration::from_secs(2));
    c.apply(&Overrides {
        tls_cert: Some("x.pem".into()),
        listen_tls: vec!["127.0.0.1:8853".parse().unwrap()],
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(c.tls.cert.as_deref(), Some(Path::new("x.pem")));
    assert_eq!(c.tls.key.as_deref(), Some(Path::new("/abs/k.pem")));
    assert_eq!(c.tls.listen, vec!["127.0.0.1:8853".parse().unwrap()]);
    let twice: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let e = c
        .apply(&Overrides {
            listen_tls: vec![twice, twice],
            ..Overrides::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("--listen-tls"), "{e}");
}

#[test]
fn tls_errors_name_the_key() {
    let e = error("[tls]\nmin_version = \"1.1\"\n");
    assert!(e.contains("tls.min_version"), "{e}");
    let e = error("[tls]\nlisten = [\"127.0.0.1:853\", \"127.0.0.1:853\"]\n");
    assert!(e.contains("tls.listen") && e.contains("twice"), "{e}");
    let e = error("[tls]\ncert = \"\"\n");
    assert!(e.contains("tls.cert"), "{e}");
    let c = parse("[tls]\nlisten = [\"127.0.0.1:853\"]\n").unwrap();
    let resumption = crate::tls::Resumption::new().unwrap();
    let e = crate::tls::server_config(&c.tls, &resumption).unwrap_err();
    assert!(e.contains("tls.cert"), "{e}");
}

#[test]
fn quic_section_and_flags() {
    let c = parse("").unwrap();
    assert!(!c.quic.enabled());
    assert_eq!((c.quic.max_streams, c.quic.idle_timeout), (100, None));
    let text = "[quic]\nlisten = [\"127.0.0.1:853\"]\nmax_streams = 7\nidle_timeout = 30\n\n\
                [[acl.listener]]\nlisten = \"127.0.0.1:853\"\nquery = [\"drop any\"]\n";
    let mut c = parse(text).unwrap();
    assert_eq!(c.quic.listen, vec!["127.0.0.1:853".parse().unwrap()]);
    assert_eq!(c.quic.max_streams, 7);
    assert_eq!(c.quic.idle_timeout, Some(Duration::from_secs(30)));
    c.apply(&Overrides {
        listen_quic: vec!["127.0.0.1:8853".parse().unwrap()],
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(c.quic.listen, vec!["127.0.0.1:8853".parse().unwrap()]);
    let twice: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let e = c
        .apply(&Overrides {
            listen_quic: vec![twice, twice],
            ..Overrides::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("--listen-quic"), "{e}");
}

#[test]
fn quic_errors_name_the_key() {
    let e = error("[quic]\nmax_streams = 0\n");
    assert!(e.contains("quic.max_streams"), "{e}");
    let e = error("[quic]\nidle_timeout = 301\n");
    assert!(e.contains("quic.idle_timeout"), "{e}");
    let e = error("[quic]\nlisten = [\"127.0.0.1:853\", \"127.0.0.1:853\"]\n");
    assert!(e.contains("quic.listen") && e.contains("twice"), "{e}");
    let e = error("[[acl.listener]]\nlisten = \"127.0.0.1:853\"\nquery = [\"drop any\"]\n");
    assert!(e.contains("quic.listen"), "{e}");
    // A QUIC listener needs `[tls]`'s certificate; the configuration is TLS 1.3 with `doq`.
    let c = parse("[quic]\nlisten = [\"127.0.0.1:853\"]\n").unwrap();
    let resumption = crate::tls::Resumption::new().unwrap();
    let e = crate::tls::doq_server_config(&c.tls, &c.quic, &resumption).unwrap_err();
    assert!(e.contains("tls.cert"), "{e}");
    let none = crate::tls::doq_server_config(&c.tls, &parse("").unwrap().quic, &resumption);
    assert!(none.unwrap().is_none());
}

#[test]
fn the_quic_tls_configuration_is_tls13_doq_with_early_data() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    crate::tls::self_signed("dns.test", &cert, &key).unwrap();
    let mut c =
        parse("[tls]\nmin_version = \"1.2\"\n\n[quic]\nlisten = [\"127.0.0.1:853\"]\n").unwrap();
    (c.tls.cert, c.tls.key) = (Some(cert), Some(key));
    let resumption = crate::tls::Resumption::new().unwrap();
    let config = crate::tls::doq_server_config(&c.tls, &c.quic, &resumption)
        .unwrap()
        .unwrap();
    assert_eq!(config.alpn_protocols, vec![b"doq".to_vec()]);
    assert_eq!(config.max_early_data_size, u32::MAX);
    assert!(config.send_half_rtt_data);
    // Early data needs stateful resumption: no stateless tickets.
    assert!(!config.ticketer.enabled());
}

// ---------------------------------------------------------------------------------------------
// Encrypted forwarders
// ---------------------------------------------------------------------------------------------

fn secure(s: &str) -> SecureServer {
    match resolver::forward_target(s).unwrap() {
        ForwardTarget::Secure(s) => s,
        ForwardTarget::Plain(a) => panic!("{s}: plain {a}"),
    }
}

#[test]
fn forward_targets_with_a_scheme() {
    use resolver::Scheme;
    let t = secure("tls://dns.test@127.0.0.1:8853");
    assert_eq!(
        (t.scheme, t.addr, t.name.as_str(), t.path.as_str()),
        (
            Scheme::Tls,
            "127.0.0.1:8853".parse().unwrap(),
            "dns.test",
            ""
        )
    );
    // Default ports; the address as the name when none is written.
    let t = secure("tls://192.0.2.1");
    assert_eq!((t.addr.port(), t.name.as_str()), (853, "192.0.2.1"));
    let t = secure("quic://dns.test@[2001:db8::1]");
    assert_eq!(t.addr, "[2001:db8::1]:853".parse().unwrap());
    assert_eq!(t.scheme, Scheme::Quic);
    let t = secure("tls://[2001:db8::1]:8853");
    assert_eq!((t.addr.port(), t.name.as_str()), (8853, "2001:db8::1"));
    // DoH: the path, by default /dns-query.
    let t = secure("https://dns.test@192.0.2.2/q");
    assert_eq!(
        (t.addr, t.name.as_str(), t.path.as_str()),
        ("192.0.2.2:443".parse().unwrap(), "dns.test", "/q")
    );
    let t = secure("https://192.0.2.2:8443");
    assert_eq!((t.addr.port(), t.path.as_str()), (8443, "/dns-query"));
    // A host name is resolved now and is the certificate's name.
    let t = secure("https://localhost:8443/dns-query");
    assert!(t.addr.ip().is_loopback(), "{t:?}");
    assert_eq!((t.addr.port(), t.name.as_str()), (8443, "localhost"));
    // Plain, as before.
    assert_eq!(
        resolver::forward_target("192.0.2.1:5353").unwrap(),
        ForwardTarget::Plain("192.0.2.1:5353".parse().unwrap())
    );
    let errors = [
        ("ftp://192.0.2.1", "unknown scheme"),
        ("tls://dns.test", "is not an IP address"),
        ("quic://n@192.0.2.1/path", "has no path"),
        ("tls://@192.0.2.1", "certificate name"),
        ("tls://bad name!@192.0.2.1", "not a DNS name"),
        ("tls://n@192.0.2.1:99999", "is not ADDR[:PORT]"),
        ("https://no-such-host.invalid/dns-query", "cannot resolve"),
    ];
    for (text, want) in errors {
        let e = resolver::forward_target(text).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn forward_trust_selection_and_their_errors() {
    let pin = "foxZRnIh9gZpWnl+zEiKa0EJ2rdCGroMWm02gaxSc9Q=";
    let c = Config::from_toml(
        &format!(
            "[[forward]]\nzone = \".\"\nto = [\"tls://dns.test@192.0.2.1\", \"192.0.2.2\"]\n\
             ca = \"ca.pem\"\nselection = \"order\"\n\
             [[forward]]\nzone = \"corp.\"\nto = [\"tls://192.0.2.3\"]\nspki_pins = [\"{pin}\"]\n\
             [[forward]]\nzone = \"lab.\"\nto = [\"tls://192.0.2.4\"]\ntls_insecure = true\n"
        ),
        "f.toml",
        Some(Path::new("/etc/pc")),
    )
    .unwrap();
    let root = &c.forwards[0];
    assert_eq!(root.to.len(), 2);
    assert_eq!(root.secure.len(), 1);
    assert!(root.is_plain("192.0.2.2:53".parse().unwrap()));
    assert_eq!(root.trust, resolver::Trust::Ca("/etc/pc/ca.pem".into()));
    assert_eq!(root.selection, resolver::Selection::Order);
    match &c.forwards[1].trust {
        resolver::Trust::Pins(pins) => assert_eq!(pins.len(), 1),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.forwards[1].selection, resolver::Selection::Fastest);
    assert_eq!(c.forwards[2].trust, resolver::Trust::Insecure);
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("f.toml:10:1: forward.tls_insecure")),
        "{warnings:?}"
    );

    let cases = [
        (
            "[[forward]]\nzone = \".\"\nto = [\"tls://192.0.2.1\"]\nca = \"a.pem\"\ntls_insecure = true\n",
            "e.toml:5:16: forward.tls_insecure: give only one of",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"192.0.2.1\"]\nca = \"a.pem\"\n",
            "e.toml:4:6: forward.ca: no server in forward.to is encrypted",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"tls://192.0.2.1\"]\nspki_pins = [\"AAAA\"]\n",
            "e.toml:4:13: forward.spki_pins: `AAAA` is 3 bytes",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"tls://192.0.2.1\"]\nselection = \"random\"\n",
            "e.toml:4:13: forward.selection: `random` is not one of",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"ftp://192.0.2.1\"]\n",
            "e.toml:3:6: forward.to: `ftp://192.0.2.1`: unknown scheme",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"tls://192.0.2.1:53\", \"192.0.2.1\"]\n",
            "listed twice, in two different ways",
        ),
        (
            "[[forward]]\nzone = \".\"\nto = [\"tls://192.0.2.1:53\"]\n\
             [[stub]]\nzone = \"s.\"\nservers = [\"192.0.2.1\"]\n",
            "e.toml:4:1: 192.0.2.1:53 is configured as tls://192.0.2.1@192.0.2.1:53 at e.toml:1:1",
        ),
    ];
    for (text, want) in cases {
        let e = Config::from_toml(text, "e.toml", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn forward_flag_with_a_scheme_keeps_the_files_trust() {
    let mut c = Config::from_toml(
        "[[forward]]\nzone = \".\"\nto = [\"192.0.2.1\"]\n",
        "f.toml",
        None,
    )
    .unwrap();
    // `ca` needs an encrypted server in the file; the flag's replaces it.
    c.forwards[0].trust = resolver::Trust::Ca("ca.pem".into());
    c.apply(&Overrides {
        forwards: vec![
            ".=tls://dns.test@127.0.0.1:8853".parse().unwrap(),
            ".=127.0.0.2".parse().unwrap(),
        ],
        encrypted_only: true,
        ..Overrides::default()
    })
    .unwrap();
    let f = &c.forwards[0];
    assert_eq!(f.to.len(), 2);
    assert_eq!(f.secure[0].name, "dns.test");
    assert_eq!(f.trust, resolver::Trust::Ca("ca.pem".into()));
    assert!(c.resolver.encrypted_only);
    assert!(c.resolver.enabled);
    // One address given plain and over TLS: refused.
    let mut c = parse("").unwrap();
    let e = c
        .apply(&Overrides {
            forwards: vec![
                ".=tls://192.0.2.9:53".parse().unwrap(),
                ".=192.0.2.9".parse().unwrap(),
            ],
            ..Overrides::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("given twice"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// [https]
// ---------------------------------------------------------------------------------------------

#[test]
fn https_defaults_section_and_flags() {
    let c = parse("").unwrap();
    assert!(!c.https.enabled());
    assert_eq!(c.https, HttpsSettings::default());
    assert_eq!(
        (c.https.path.as_str(), c.https.json, c.https.max_streams),
        ("/dns-query", true, 100)
    );
    let resumption = crate::tls::Resumption::new().unwrap();
    assert!(
        crate::serve::https_tls_config(&c, &resumption)
            .unwrap()
            .is_none()
    );
    let text = "[https]\nlisten = [\"127.0.0.1:443\"]\npath = \"/q\"\njson = false\n\
                max_streams = 7\n";
    let mut c = parse(text).unwrap();
    assert_eq!(c.https.listen, vec!["127.0.0.1:443".parse().unwrap()]);
    assert_eq!(
        (c.https.path.as_str(), c.https.json, c.https.max_streams),
        ("/q", false, 7)
    );
    // DoH without a certificate cannot start.
    let e = crate::serve::https_tls_config(&c, &resumption).unwrap_err();
    assert!(e.contains("https.listen") && e.contains("tls.cert"), "{e}");
    c.apply(&Overrides {
        listen_https: vec!["127.0.0.1:8443".parse().unwrap()],
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(c.https.listen, vec!["127.0.0.1:8443".parse().unwrap()]);
    let twice: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let e = c
        .apply(&Overrides {
            listen_https: vec![twice, twice],
            ..Overrides::default()
        })
        .unwrap_err();
    assert!(e.to_string().contains("--listen-https"), "{e}");
}

#[test]
fn https_errors_name_the_key() {
    for bad in ["dns-query", "/a?b", "/a#b", "/a b", ""] {
        let e = error(&format!("[https]\npath = \"{bad}\"\n"));
        assert!(e.contains("https.path"), "{bad}: {e}");
    }
    let e = error("[https]\nlisten = [\"127.0.0.1:443\", \"127.0.0.1:443\"]\n");
    assert!(e.contains("https.listen") && e.contains("twice"), "{e}");
    let e = error("[https]\njson = 1\n");
    assert!(e.contains("https.json"), "{e}");
    let e = error("[https]\nnope = 1\n");
    assert!(e.contains("nope"), "{e}");
}
