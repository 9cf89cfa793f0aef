//! `portcullis`: the command line.
//!
//! - `portcullis check [flags]` reads the configuration and every zone as the server would,
//!   prints warnings and errors (each with `file:line:column`) and exits 0 when it could serve,
//!   1 when not.
//! - `portcullis serve [flags]` loads the same and answers DNS on the configured addresses
//!   until SIGTERM or SIGINT (exit 0); SIGHUP reloads the configuration and zones, keeping the
//!   old ones when the new ones are refused. Exit 1 when it cannot start.
//! - `portcullis config default` prints the built-in configuration, to start one from.
//!
//! Exit codes: 0 success, 1 the configuration or a zone is refused, 2 the command line is wrong.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use portcullis::config::{ConfigSource, DEFAULT_CONFIG, LogLevel, Overrides, ZoneArg};
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
    /// Address for the HTTP endpoint serving /metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    http: Option<SocketAddr>,
    /// Least severe messages logged: error, warn, info, debug or trace.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<LogLevel>,
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
