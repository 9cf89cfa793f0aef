//! `portcullis`: the command line.
//!
//! - `portcullis check [flags]` reads the configuration and every zone as the server would,
//!   prints warnings and errors (each with `file:line:column`) and exits 0 when it could serve,
//!   1 when not.
//! - `portcullis serve [flags]` loads the same and answers DNS on the configured addresses
//!   until SIGTERM or SIGINT (exit 0); SIGHUP reloads the configuration and zones, keeping the
//!   old ones when the new ones are refused. Exit 1 when it cannot start.
//! - `portcullis config default` prints the built-in configuration, to start one from.
//! - `portcullis query NAME [TYPE] [@SERVER]...` asks a server, as dig does (`query.rs`).
//! - `portcullis ctl [--socket PATH] reload|status|stats|flush [NAME [--subtree]]|cache-stats`
//!   talks to a running server's control socket (`control.rs`).
//!
//! - `portcullis dnssec [--key-dir DIR] ds ZONE|status [ZONE]|import ZONE FILE...|ds-seen ZONE`
//!   reads and changes the signing keys of the key directory (`dnssec_cli.rs`).
//!
//! - `portcullis cert self-signed --name NAME [--out-cert FILE] [--out-key FILE]` writes a
//!   self-signed certificate and key for DNS over TLS tests (`tls.rs`).
//!
//! - `portcullis detect features [--model FILE] [--left]` reads `QTYPE<TAB>QNAME` lines and
//!   prints the tunnel detector's features as TSV; `portcullis detect score [--model FILE]
//!   NAME [TYPE]` prints the registered domain, the score and why; `portcullis detect replay
//!   [--vectors] TRACE...` replays labelled traces through a real detector (`detect_cli.rs`).
//!
//! Exit codes: 0 success, 1 the configuration or a zone is refused, 2 the command line is wrong.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use portcullis::config::signing::SigningOverrides;
use portcullis::config::{
    Config, ConfigSource, DEFAULT_CONFIG, ForwardArg, LogLevel, Overrides, ZoneArg,
};
use portcullis::prefix::Prefix;
use portcullis::{check, serve};

/// Portcullis, a DNS server.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check the configuration and every zone as the server would load them, print warnings
    /// and errors, and exit non-zero if the server could not start.
    Check(ServerArgs),
    /// Answer DNS queries: load the configuration and zones as `check` does, then serve them
    /// until SIGTERM or SIGINT; SIGHUP reloads the configuration and zones.
    Serve(ServerArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Ask a DNS server a question and print the answer as dig does (exit 0 on an answer, 9
    /// when none came, 1 on a command-line error).
    Query(QueryArgs),
    /// Send a command to a running server over its control socket (exit 0 on `ok`, 1 on
    /// `error`, 2 when the socket cannot be reached).
    Ctl(CtlArgs),
    /// Signing keys in the key directory: DS records, status, import, DS seen at the parent.
    Dnssec(DnssecArgs),
    /// TLS certificates for DNS over TLS.
    #[command(subcommand)]
    Cert(CertCommand),
    /// The tunnel detector's per-query features and scores (exit 1 on a bad input line).
    Detect(DetectArgs),
}

/// `portcullis detect`.
#[derive(Debug, Args)]
struct DetectArgs {
    /// A model file (JSON, as tools/detect/train.py writes) instead of the embedded one.
    #[arg(long, value_name = "FILE", global = true)]
    model: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    command: DetectCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum DetectCommand {
    /// Read `QTYPE<TAB>QNAME` lines on standard input, print their features as TSV.
    Features {
        /// Add a first column with each name's left part (the labels before its registered
        /// domain).
        #[arg(long)]
        left: bool,
    },
    /// Replay labelled traces (tools/detect/README.md format, gunzipped) through a real
    /// detector in alert mode: per session, the query on which its domain was flagged.
    Replay {
        /// Print the domain feature vector at every gate crossing instead (for the trainer).
        #[arg(long)]
        vectors: bool,
        /// Sessions start at deterministic offsets spread over this many milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 3_600_000)]
        spread_ms: u64,
        /// Replay a session's queries at least this many milliseconds apart.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        min_gap_ms: u64,
        /// Take the detector's windows, capacities, learning period and allowed zones from
        /// this configuration file's `[detect]` (the mode is alert whatever it says).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The trace files.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
    },
    /// Print a name's registered domain, its score and the features behind it.
    Score {
        /// The query name.
        name: String,
        /// The query type (A when not given).
        qtype: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write a self-signed ECDSA P-256 certificate for NAME (and 127.0.0.1 and ::1) and its
    /// private key, PEM, for tests.
    SelfSigned {
        /// The server name the certificate is for.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Where to write the certificate.
        #[arg(long, value_name = "FILE", default_value = "cert.pem")]
        out_cert: PathBuf,
        /// Where to write the private key (created with mode 0600).
        #[arg(long, value_name = "FILE", default_value = "key.pem")]
        out_key: PathBuf,
    },
}

/// `portcullis dnssec`.
#[derive(Debug, Args)]
struct DnssecArgs {
    /// The key directory. Without it, `signing.key_dir` of --config, or of the built-in
    /// configuration.
    #[arg(long, value_name = "DIR", global = true)]
    key_dir: Option<PathBuf>,
    /// Configuration file to take `signing.key_dir` from.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    command: DnssecCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum DnssecCommand {
    /// Print the DS records (SHA-256) of the zone's key-signing keys, for the parent zone.
    Ds {
        /// The zone.
        zone: wire::Name,
    },
    /// Print every key with its role, state and times.
    Status {
        /// Only this zone.
        zone: Option<wire::Name>,
    },
    /// Copy BIND or ldns key files (K<zone>+<alg>+<tag>, algorithms 8, 13, 15) into the key
    /// directory; they sign at the next signing, their DS taken as present at the parent.
    Import {
        /// The zone.
        zone: wire::Name,
        /// Key files: the base name, or the .key or .private file.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Record that the parent zone now has the DS of the keys waiting for it.
    DsSeen {
        /// The zone.
        zone: wire::Name,
    },
}

/// `portcullis ctl`.
#[derive(Debug, Args)]
struct CtlArgs {
    /// The control socket. Without it, `server.control_socket` of --config, or of the built-in
    /// configuration.
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Configuration file to take `server.control_socket` from.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum CtlCommand {
    /// Reload the configuration and zones; a failed reload keeps the old ones serving.
    Reload,
    /// Say what is running.
    Status,
    /// Print the counters.
    Stats,
    /// Remove entries from the resolver's cache: everything, or those of NAME (and below it
    /// with --subtree).
    Flush {
        /// The name whose entries go; without it, the whole cache.
        name: Option<String>,
        /// Also every name below NAME.
        #[arg(long, requires = "name")]
        subtree: bool,
    },
    /// Print the resolver's cache figures.
    CacheStats,
    /// Clear the tunnelling detector's verdicts on a domain and allow it for
    /// detect.allow_for.
    AllowDomain {
        /// The domain (its registered domain is cleared).
        name: String,
    },
    /// List the detector's standing verdicts and recent alerts.
    Detections,
    /// Block a name and every name below it (NXDOMAIN, EDE 15 "blocked by operator") until
    /// the server stops.
    Block {
        /// The name.
        name: String,
    },
    /// Allow a name and every name below it past the blocklists until the server stops.
    Allow {
        /// The name.
        name: String,
    },
}

/// `portcullis query`: dig-style words, read by `portcullis::query`.
#[derive(Debug, Args)]
struct QueryArgs {
    /// NAME [TYPE] [CLASS] [@SERVER[:PORT]] [+tcp] [+dnssec] [+norec] [+noedns]
    /// [+bufsize=N] [+timeout=N]
    #[arg(
        value_name = "ARGS",
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    args: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the built-in default configuration (TOML, with comments).
    Default,
}

/// The flags that choose what the server serves.
#[derive(Debug, Args)]
struct ServerArgs {
    /// Configuration file. Without it, the built-in default configuration is used.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to answer DNS on; repeat for more. Replaces the configured addresses.
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Vec<SocketAddr>,
    /// A zone to serve from a master file; repeat for more. Added to the configured zones.
    #[arg(long, value_name = "ORIGIN=FILE")]
    zone: Vec<ZoneArg>,
    /// A client address or prefix allowed zone transfers of every zone; repeat for more.
    #[arg(long, value_name = "PREFIX")]
    allow_transfer: Vec<Prefix>,
    /// Address for the HTTP endpoint serving the dashboard (/), its API, /metrics and /healthz.
    #[arg(long, value_name = "ADDR:PORT")]
    http: Option<SocketAddr>,
    /// Least severe messages logged: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<LogLevel>,
    /// Resolve recursively from the root servers named in this file (zone-file format, like
    /// named.root). Turns the resolver on.
    #[arg(long, value_name = "FILE")]
    root_hints: Option<PathBuf>,
    /// Forward a zone (`.` for everything) to a recursive server: `ADDR[:PORT]`, or encrypted
    /// `tls://NAME@ADDR[:PORT]`, `https://NAME@ADDR[:PORT]/PATH`, `quic://NAME@ADDR[:PORT]`;
    /// repeat for more servers or zones. Turns the resolver on.
    #[arg(long, value_name = "ZONE=SERVER")]
    forward: Vec<ForwardArg>,
    /// Strict mode (resolver.encrypted_only): nothing leaves over plain DNS; needs a forward
    /// for `.` whose servers are all encrypted.
    #[arg(long)]
    encrypted_only: bool,
    /// A client address or prefix offered recursion, beside resolver.allow_recursion; repeat
    /// for more.
    #[arg(long, value_name = "PREFIX")]
    allow_recursion: Vec<Prefix>,
    /// Serve this zone signed with DNSSEC (as `dnssec = true` in its [[zone]]); repeat for
    /// more.
    #[arg(long, value_name = "ORIGIN")]
    sign: Vec<wire::Name>,
    /// Directory of the signing keys and key state (created when missing); replaces
    /// signing.key_dir.
    #[arg(long, value_name = "DIR")]
    key_dir: Option<PathBuf>,
    /// Allow loopback and private upstream addresses and resolve special-use names such as
    /// .test (for test networks; see resolver.insecure_local_upstreams).
    #[arg(long)]
    insecure_local_upstreams: bool,
    /// DNSSEC trust anchors: DS or DNSKEY records in zone-file format; repeat for more files.
    /// Replaces the built-in root anchors and dnssec.trust_anchor_files.
    #[arg(long, value_name = "FILE")]
    trust_anchor: Vec<PathBuf>,
    /// Do not validate DNSSEC (dnssec.validation = false): for a test network whose root has
    /// no trust anchor to give.
    #[arg(long)]
    no_validation: bool,
    /// A blocklist (plain, hosts-file or AdBlock lines, told apart line by line): its names get
    /// NXDOMAIN with EDE 15; repeat for more.
    #[arg(long, value_name = "FILE")]
    blocklist: Vec<PathBuf>,
    /// A response policy zone (BIND's RPZ format) read from FILE; repeat for more.
    #[arg(long, value_name = "ORIGIN=FILE")]
    rpz: Vec<portcullis::config::RpzArg>,
    /// Write security events (blocked names, rate limits, ACL refusals...) as JSON lines to
    /// this file, or `-` for standard output (events.file).
    #[arg(long, value_name = "FILE|-")]
    events: Option<String>,
    /// Rate-limit UDP responses to this many a second per client prefix and response
    /// (turns [rrl] on with rrl.responses_per_second = N).
    #[arg(long, value_name = "N")]
    rrl: Option<u32>,
    /// The TLS certificate chain (PEM) for DNS over TLS (tls.cert).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM) for DNS over TLS (tls.key).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Address to serve DNS over TLS on (RFC 7858, port 853 by convention); repeat for more.
    /// Replaces tls.listen; needs a certificate and key.
    #[arg(long, value_name = "ADDR:PORT")]
    listen_tls: Vec<SocketAddr>,
    /// Address to serve DNS over HTTPS on (RFC 8484, port 443 by convention, path
    /// https.path); repeat for more. Replaces https.listen; needs a certificate and key.
    #[arg(long, value_name = "ADDR:PORT")]
    listen_https: Vec<SocketAddr>,
    /// UDP address to serve DNS over QUIC on (RFC 9250, port 853 by convention); repeat for
    /// more. Replaces quic.listen; needs the [tls] certificate and key.
    #[arg(long, value_name = "ADDR:PORT")]
    listen_quic: Vec<SocketAddr>,
    /// DNS tunnelling and anomaly detection in the resolver: off, log (events only, the
    /// default for a resolver), alert (events as warnings, counted as alerts) or block (alert,
    /// and answer the domain NXDOMAIN for detect.block_for). Replaces detect.mode.
    #[arg(long, value_name = "MODE", value_parser = portcullis::config::detect::parse_mode)]
    detect: Option<detect::Mode>,
}

impl ServerArgs {
    /// Where the configuration comes from, with these flags applied.
    fn source(&self) -> ConfigSource {
        ConfigSource {
            path: self.config.clone(),
            overrides: Overrides {
                listen: self.listen.clone(),
                zones: self.zone.clone(),
                allow_transfer: self.allow_transfer.clone(),
                http: self.http,
                log_level: self.log_level,
                root_hints: self.root_hints.clone(),
                forwards: self.forward.clone(),
                allow_recursion: self.allow_recursion.clone(),
                insecure_local_upstreams: self.insecure_local_upstreams,
                encrypted_only: self.encrypted_only,
                trust_anchors: self.trust_anchor.clone(),
                no_validation: self.no_validation,
                signing: SigningOverrides {
                    sign: self.sign.clone(),
                    key_dir: self.key_dir.clone(),
                },
                blocklists: self.blocklist.clone(),
                rpz: self.rpz.clone(),
                events: self.events.clone(),
                rrl: self.rrl,
                tls_cert: self.tls_cert.clone(),
                tls_key: self.tls_key.clone(),
                listen_tls: self.listen_tls.clone(),
                listen_https: self.listen_https.clone(),
                listen_quic: self.listen_quic.clone(),
                detect: self.detect,
            },
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => run_check(&args),
        Command::Serve(args) => run_serve(&args),
        Command::Config(ConfigCommand::Default) => {
            print!("{DEFAULT_CONFIG}");
            ExitCode::SUCCESS
        }
        Command::Query(args) => ExitCode::from(portcullis::query::main(&args.args)),
        Command::Ctl(args) => run_ctl(&args),
        Command::Dnssec(args) => run_dnssec(&args),
        Command::Detect(args) => run_detect(&args),
        Command::Cert(CertCommand::SelfSigned {
            name,
            out_cert,
            out_key,
        }) => match portcullis::tls::self_signed(&name, &out_cert, &out_key) {
            Ok(()) => {
                println!(
                    "wrote {} and {} for {name}",
                    out_cert.display(),
                    out_key.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_detect(args: &DetectArgs) -> ExitCode {
    use portcullis::detect_cli;
    let result =
        detect_cli::load_model(args.model.as_deref()).and_then(|model| match &args.command {
            DetectCommand::Features { left } => detect_cli::features(
                &model,
                *left,
                std::io::stdin().lock(),
                std::io::BufWriter::new(std::io::stdout().lock()),
            ),
            DetectCommand::Replay {
                vectors,
                spread_ms,
                min_gap_ms,
                config,
                traces,
            } => replay_config(config.as_deref()).and_then(|config| {
                detect_cli::replay(
                    model,
                    config,
                    traces,
                    detect_cli::ReplayOptions {
                        vectors: *vectors,
                        spread_ms: *spread_ms,
                        min_gap_ms: *min_gap_ms,
                    },
                    std::io::BufWriter::new(std::io::stdout().lock()),
                )
            }),
            DetectCommand::Score { name, qtype } => {
                detect_cli::score(&model, name, qtype.as_deref()).map(|text| println!("{text}"))
            }
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The detector settings of a replay: the configuration file's `[detect]`, or the defaults;
/// alert mode either way (a replay reports, it never answers).
fn replay_config(path: Option<&std::path::Path>) -> Result<detect::DetectConfig, String> {
    let mut config = match path {
        Some(file) => Config::load(file)
            .map_err(|e| e.to_string())?
            .detect
            .detect_config(true),
        None => detect::DetectConfig::default(),
    };
    config.mode = detect::Mode::Alert;
    Ok(config)
}

fn run_dnssec(args: &DnssecArgs) -> ExitCode {
    let dir = match (&args.key_dir, &args.config) {
        (Some(dir), _) => dir.clone(),
        (None, config) => {
            let config = match config {
                Some(file) => Config::load(file),
                None => Config::builtin(),
            };
            match config {
                Ok(config) => config.signing.key_dir,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let now = serve::unix_now();
    use portcullis::dnssec_cli;
    let result = match &args.command {
        DnssecCommand::Ds { zone } => dnssec_cli::ds(&dir, zone, now),
        DnssecCommand::Status { zone } => dnssec_cli::status(&dir, zone.as_ref(), now),
        DnssecCommand::Import { zone, files } => dnssec_cli::import(&dir, zone, files, now),
        DnssecCommand::DsSeen { zone } => dnssec_cli::ds_seen(&dir, zone),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_serve(args: &ServerArgs) -> ExitCode {
    let source = args.source();
    let config = match source.read() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.server.log_level);
    serve::run(source, &config)
}

fn run_check(args: &ServerArgs) -> ExitCode {
    let config = match args.source().read() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(config.server.log_level);
    let report = check::check(&config);
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &report.errors {
        eprintln!("error: {error}");
    }
    if !report.is_ok() {
        eprintln!(
            "{}: {} error(s), {} warning(s): the server would not start",
            config.label,
            report.errors.len(),
            report.warnings.len()
        );
        return ExitCode::FAILURE;
    }
    if let Some(detection) = &report.detection {
        println!("{}: {detection}", config.label);
    }
    let records: usize = report.zones.iter().map(|z| z.records).sum();
    println!(
        "{}: ok: {} zone(s), {} record(s), {} warning(s)",
        config.label,
        report.zones.len(),
        records,
        report.warnings.len()
    );
    ExitCode::SUCCESS
}

fn run_ctl(args: &CtlArgs) -> ExitCode {
    let socket = match (&args.socket, &args.config) {
        (Some(path), _) => path.clone(),
        (None, config) => {
            let config = match config {
                Some(file) => Config::load(file),
                None => Config::builtin(),
            };
            match config {
                Ok(config) => config.server.control_socket,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    let command = match &args.command {
        CtlCommand::Reload => "reload".to_owned(),
        CtlCommand::Status => "status".to_owned(),
        CtlCommand::Stats => "stats".to_owned(),
        CtlCommand::CacheStats => "cache-stats".to_owned(),
        CtlCommand::Detections => "detections".to_owned(),
        CtlCommand::AllowDomain { name } => {
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                eprintln!("error: `{name}` is not a domain name");
                return ExitCode::from(2);
            }
            format!("allow-domain {name}")
        }
        CtlCommand::Block { name } | CtlCommand::Allow { name }
            if name.is_empty() || name.chars().any(char::is_whitespace) =>
        {
            eprintln!("error: `{name}` is not a domain name");
            return ExitCode::from(2);
        }
        CtlCommand::Block { name } => format!("block {name}"),
        CtlCommand::Allow { name } => format!("allow {name}"),
        CtlCommand::Flush { name: None, .. } => "flush".to_owned(),
        CtlCommand::Flush {
            name: Some(name),
            subtree,
        } => {
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                eprintln!("error: `{name}` is not a domain name");
                return ExitCode::from(2);
            }
            if *subtree {
                format!("flush {name} --subtree")
            } else {
                format!("flush {name}")
            }
        }
    };
    ExitCode::from(portcullis::control::ctl_main(&socket, &command))
}

/// Logs to standard error, from `level` up.
fn init_logging(level: LogLevel) {
    use tracing_subscriber::filter::LevelFilter;
    let filter = match level {
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(filter)
        .with_target(false)
        .without_time()
        .try_init();
}
