//! The control socket (`server.control_socket`): how `portcullis ctl` asks a running server to
//! reload, or to tell its status and statistics.
//!
//! # Protocol
//!
//! A Unix stream socket, one command per connection. The client sends one line (`reload`,
//! `status`, `stats`, `flush [NAME [--subtree]]`, `cache-stats`, `allow-domain NAME`,
//! `detections`, `block NAME` or `allow NAME`, at most [`MAX_COMMAND_LINE`]
//! bytes, ended by `\n` or by closing its
//! side); the server answers with a first line `ok` or `error: REASON`, then any text, and
//! closes the connection. Reading the command and writing the answer are each bounded by
//! [`IO_TIMEOUT`]; the command itself (a reload loads every zone) is not. Every command that
//! changes something (`reload`, `flush`, `allow-domain`, `block`, `allow`) is a security event
//! (`control`, reason "control socket", the command and the peer's user ID as detail), as the
//! same commands are when the dashboard's API runs them.
//!
//! # Who may talk to it
//!
//! The socket file is made mode 0600 right after it is bound, so only its owner (and root) can
//! connect. Then `acl.control` ([`serve_guarded`]) decides by the peer's user ID, which the
//! kernel reports for a Unix socket (`SO_PEERCRED`): root and the server's own user by default;
//! rules can narrow that (to root alone, say), and a refused peer is answered `error: ...`.
//! The socket's directory is created 0750 when missing. A socket file left behind by a server
//! that died is removed at start, but only when nothing answers on it: when another server
//! does, [`serve`] fails rather than take its socket away (`portcullis serve` then warns and
//! runs without a control socket). The file is removed again at shutdown when it is still the
//! one this server bound and the server may still remove it (not after a switch to a user
//! without write access to its directory).
//!
//! [`serve`] binds the socket and returns the future that answers on it; [`request`] is the
//! client half, used by `portcullis ctl` ([`ctl_main`]).

use std::fmt;
use std::fs;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener as StdUnixListener, UnixStream as StdUnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use events::{Action, Event, Events};
use guard::AclAction;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use transport::Shutdown;

use crate::config::acl::UserAcl;

/// Longest command line, newline included.
pub const MAX_COMMAND_LINE: usize = 256;
/// Time for a client to send its command, and for its answer to be written.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Commands handled at once; a client over the limit is told the server is busy.
pub const MAX_CLIENTS: usize = 8;
/// How long `portcullis ctl` waits for an answer (a reload may load large zones).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest answer the client reads.
pub const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Exit code of `portcullis ctl`: the server answered `ok`.
pub const EXIT_OK: u8 = 0;
/// Exit code of `portcullis ctl`: the server answered `error: ...`.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of `portcullis ctl`: the socket could not be reached.
pub const EXIT_UNREACHABLE: u8 = 2;

/// What a running server does for the control socket's commands. Each method runs on a
/// blocking thread, so it may take its time.
pub trait ControlHandler: Send + Sync {
    /// Reloads the configuration and zones; `Ok` describes what changed, `Err` why nothing did.
    fn reload(&self) -> Result<String, String>;
    /// A short description of the running server.
    fn status(&self) -> String;
    /// Counters, as text.
    fn stats(&self) -> String;
    /// Removes cached entries: all of them (`None`), those owned by a name, or a name and
    /// everything below it (`subtree`). `Err` when there is no cache or the name is bad.
    fn flush(&self, name: Option<&str>, subtree: bool) -> Result<String, String> {
        let _ = (name, subtree);
        Err("this server has no cache (the resolver is off)".into())
    }
    /// The cache's figures, as text.
    fn cache_stats(&self) -> Result<String, String> {
        Err("this server has no cache (the resolver is off)".into())
    }
    /// Clears the tunnelling detector's verdicts on the domain `name` and allows it for
    /// `detect.allow_for`; says what was cleared.
    fn allow_domain(&self, name: &str) -> Result<String, String> {
        let _ = name;
        Err("detection is off".into())
    }
    /// The detector's standing verdicts and recent alerts, as text.
    fn detections(&self) -> Result<String, String> {
        Err("detection is off".into())
    }
    /// Blocks `name` and the names below it at run time (the operator's list, see
    /// `crate::policy`); says what it did.
    fn block(&self, name: &str) -> Result<String, String> {
        let _ = name;
        Err("this server has no resolver policy (the resolver is off)".into())
    }
    /// Allows `name` and the names below it at run time, past the blocklists; says what it did.
    fn allow(&self, name: &str) -> Result<String, String> {
        let _ = name;
        Err("this server has no resolver policy (the resolver is off)".into())
    }
}

/// A command line as understood: its word and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    Reload,
    Status,
    Stats,
    Flush { name: Option<String>, subtree: bool },
    CacheStats,
    AllowDomain(String),
    Detections,
    Block(String),
    Allow(String),
}

impl Command {
    /// `reload`, `status`, `stats`, `cache-stats`, `flush`, `flush NAME`, `flush NAME --subtree`.
    fn parse(line: &str) -> Option<Command> {
        let words: Vec<&str> = line.split_whitespace().collect();
        Some(match words.as_slice() {
            ["reload"] => Command::Reload,
            ["status"] => Command::Status,
            ["stats"] => Command::Stats,
            ["cache-stats"] => Command::CacheStats,
            ["allow-domain", name] => Command::AllowDomain((*name).to_owned()),
            ["detections"] => Command::Detections,
            ["block", name] => Command::Block((*name).to_owned()),
            ["allow", name] => Command::Allow((*name).to_owned()),
            ["flush"] => Command::Flush {
                name: None,
                subtree: false,
            },
            ["flush", name] if *name != "--subtree" => Command::Flush {
                name: Some((*name).to_owned()),
                subtree: false,
            },
            ["flush", name, "--subtree"] | ["flush", "--subtree", name] => Command::Flush {
                name: Some((*name).to_owned()),
                subtree: true,
            },
            _ => return None,
        })
    }
}

impl Command {
    /// Whether the command changes the server's state (and so is a security event).
    fn changes_state(&self) -> bool {
        !matches!(
            self,
            Command::Status | Command::Stats | Command::CacheStats | Command::Detections
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

/// Binds the control socket at `path` (see the module docs for stale sockets and permissions)
/// and returns the future that answers commands on it until `shutdown` fires, then removes the
/// socket file. Spawn the future on a Tokio runtime; binding needs none. Root and the user
/// the process runs as may use it; [`serve_guarded`] takes the rules.
pub fn serve(
    path: &Path,
    handler: Arc<dyn ControlHandler>,
    shutdown: Shutdown,
) -> io::Result<impl Future<Output = ()> + Send + 'static> {
    let own = nix::unistd::geteuid().as_raw();
    let acl = UserAcl::default_for(own);
    serve_guarded(path, handler, shutdown, acl, Events::disabled())
}

/// [`serve`] for the peers `acl` allows, by the user ID the kernel reports for the peer
/// (`SO_PEERCRED`): a refused peer is told `error: ...` and closed, a dropped one closed; each
/// is a security event (reason `acl control`, the user ID as detail) reported to `events`.
pub fn serve_guarded(
    path: &Path,
    handler: Arc<dyn ControlHandler>,
    shutdown: Shutdown,
    acl: UserAcl,
    events: Events,
) -> io::Result<impl Future<Output = ()> + Send + 'static> {
    let listener = bind(path)?;
    let identity = fs::symlink_metadata(path).map(|m| (m.dev(), m.ino()))?;
    let path = path.to_path_buf();
    Ok(async move {
        match UnixListener::from_std(listener) {
            Ok(listener) => accept_loop(listener, handler, &acl, &events, &shutdown).await,
            Err(e) => tracing::error!(path = %path.display(), error = %e, "control socket failed"),
        }
        // Remove the file only if it is still ours, not one a later server bound.
        if fs::symlink_metadata(&path).is_ok_and(|m| (m.dev(), m.ino()) == identity) {
            let _ = fs::remove_file(&path);
        }
    })
}

/// Binds the socket, after clearing a stale one, and makes it 0600.
fn bind(path: &Path) -> io::Result<StdUnixListener> {
    let context = |what: &str, e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("control socket {}: {what}: {e}", path.display()),
        )
    };
    match fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "control socket {}: the path exists and is not a socket; \
                     not removing it",
                    path.display()
                ),
            ));
        }
        Ok(_) => match StdUnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!(
                        "control socket {}: another server answers on it; \
                         stop it or choose another server.control_socket",
                        path.display()
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "removing a stale control socket");
                fs::remove_file(path).map_err(|e| context("cannot remove the stale socket", e))?;
            }
            Err(e) => return Err(context("cannot check the existing socket", e)),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
                && !dir.exists()
            {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o750)
                    .create(dir)
                    .map_err(|e| context("cannot create its directory", e))?;
            }
        }
        Err(e) => return Err(context("cannot inspect the path", e)),
    }
    let listener = StdUnixListener::bind(path).map_err(|e| context("cannot bind", e))?;
    if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(0o600)) {
        drop(listener);
        let _ = fs::remove_file(path);
        return Err(context("cannot make it mode 0600", e));
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| context("cannot make it non-blocking", e))?;
    Ok(listener)
}

async fn accept_loop(
    listener: UnixListener,
    handler: Arc<dyn ControlHandler>,
    acl: &UserAcl,
    events: &Events,
    shutdown: &Shutdown,
) {
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let stream = tokio::select! {
            () = shutdown.wait() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // Without the peer's credentials, nobody is recognised: refused.
        let uid = stream.peer_cred().ok().map(|c| c.uid());
        let action = uid.map_or(AclAction::Refuse, |uid| acl.decide(uid));
        if action != AclAction::Allow {
            let kind = match action {
                AclAction::Drop => Action::AclDropped,
                _ => Action::AclRefused,
            };
            let user = uid.map_or_else(|| "uid unknown".to_owned(), |u| format!("uid {u}"));
            events.emit(Event::new(kind, "acl control").detail(user));
        }
        match action {
            AclAction::Allow => {}
            AclAction::Refuse => {
                tracing::info!(uid, "control socket: refused by acl.control");
                tokio::spawn(refuse(stream));
                continue;
            }
            AclAction::Drop => {
                tracing::info!(uid, "control socket: dropped by acl.control");
                continue;
            }
        }
        let handler = Arc::clone(&handler);
        let events = events.clone();
        match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => {
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(e) = answer(stream, handler, &events, uid).await {
                        tracing::debug!(error = %e, "control socket: client failed");
                    }
                });
            }
            Err(_) => {
                tokio::spawn(async move {
                    let _ = write_answer(stream, "error: busy, try again\n").await;
                });
            }
        }
    }
}

/// Reads the command of a refused peer (so that its write does not fail) and answers with an
/// error, all within [`IO_TIMEOUT`].
async fn refuse(stream: UnixStream) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::with_capacity(64);
    let mut limited = (&mut reader).take(MAX_COMMAND_LINE as u64);
    let _ = tokio::time::timeout(IO_TIMEOUT, limited.read_until(b'\n', &mut line)).await;
    let _ = write_answer(
        reader.into_inner(),
        "error: this user may not control the server (acl.control)\n",
    )
    .await;
}

/// Reads one command from `stream`, runs it, writes the answer.
async fn answer(
    stream: UnixStream,
    handler: Arc<dyn ControlHandler>,
    events: &Events,
    uid: Option<u32>,
) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::with_capacity(64);
    let mut limited = (&mut reader).take(MAX_COMMAND_LINE as u64);
    let read = limited.read_until(b'\n', &mut line);
    let response = match tokio::time::timeout(IO_TIMEOUT, read).await {
        Err(_) => "error: no command within the time allowed\n".to_owned(),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) if !line.ends_with(b"\n") && line.len() >= MAX_COMMAND_LINE => {
            format!("error: command line longer than {MAX_COMMAND_LINE} bytes\n")
        }
        Ok(Ok(_)) => {
            let command = String::from_utf8_lossy(&line).trim().to_owned();
            let answer = run_command(&command, handler).await;
            if Command::parse(&command).is_some_and(|c| c.changes_state()) {
                let outcome = if answer.starts_with("ok") {
                    "ok"
                } else {
                    "error"
                };
                let user = uid.map_or_else(|| "uid unknown".to_owned(), |u| format!("uid {u}"));
                events.emit(
                    Event::new(Action::Control, "control socket")
                        .detail(format!("{command} ({outcome}; by {user})")),
                );
            }
            answer
        }
    };
    write_answer(reader.into_inner(), &response).await
}

/// Runs `command` and words the answer.
async fn run_command(command: &str, handler: Arc<dyn ControlHandler>) -> String {
    let Some(parsed) = Command::parse(command) else {
        let shown: String = command
            .chars()
            .filter(|c| !c.is_control())
            .take(64)
            .collect();
        return format!(
            "error: unknown command `{shown}` (commands: reload, status, stats, \
             flush [NAME [--subtree]], cache-stats, allow-domain NAME, detections, \
             block NAME, allow NAME)\n"
        );
    };
    let result = tokio::task::spawn_blocking(move || match parsed {
        Command::Reload => handler.reload(),
        Command::Status => Ok(handler.status()),
        Command::Stats => Ok(handler.stats()),
        Command::Flush { name, subtree } => handler.flush(name.as_deref(), subtree),
        Command::CacheStats => handler.cache_stats(),
        Command::AllowDomain(name) => handler.allow_domain(&name),
        Command::Detections => handler.detections(),
        Command::Block(name) => handler.block(&name),
        Command::Allow(name) => handler.allow(&name),
    })
    .await;
    match result {
        Ok(Ok(text)) => with_newline(format!("ok\n{text}")),
        Ok(Err(reason)) => with_newline(format!("error: {reason}")),
        Err(e) => format!("error: the command failed: {e}\n"),
    }
}

fn with_newline(mut text: String) -> String {
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

async fn write_answer(mut stream: UnixStream, response: &str) -> io::Result<()> {
    let write = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    };
    tokio::time::timeout(IO_TIMEOUT, write)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Why [`request`] got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing could be reached at the path.
    Unreachable {
        /// The socket path.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The connection was made but the exchange failed.
    Exchange(io::Error),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Unreachable { path, error } => write!(
                f,
                "cannot reach the control socket {}: {error} (is the server running? \
                 give its socket with --socket PATH)",
                path.display()
            ),
            ClientError::Exchange(e) => write!(f, "the control socket exchange failed: {e}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends `command` to the socket at `path` and returns the whole answer.
pub fn request(path: &Path, command: &str, timeout: Duration) -> Result<String, ClientError> {
    let mut stream = StdUnixStream::connect(path).map_err(|error| ClientError::Unreachable {
        path: path.to_path_buf(),
        error,
    })?;
    let exchange = |stream: &mut StdUnixStream| -> io::Result<String> {
        stream.set_write_timeout(Some(timeout))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.write_all(format!("{command}\n").as_bytes())?;
        let mut answer = Vec::new();
        stream.take(MAX_RESPONSE).read_to_end(&mut answer)?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    };
    exchange(&mut stream).map_err(ClientError::Exchange)
}

/// Runs `portcullis ctl COMMAND` against `socket`: prints the answer (to standard output after
/// `ok`, to standard error after `error:`) and returns the exit code.
pub fn ctl_main(socket: &Path, command: &str) -> u8 {
    match request(socket, command, CLIENT_TIMEOUT) {
        Ok(answer) => {
            let first = answer.lines().next().unwrap_or("");
            if first == "ok" {
                print!("{answer}");
                EXIT_OK
            } else {
                eprint!("{}", with_newline(answer.clone()));
                if !first.starts_with("error") {
                    eprintln!("error: the server's answer does not start with `ok` or `error`");
                }
                EXIT_ERROR
            }
        }
        Err(e @ ClientError::Unreachable { .. }) => {
            eprintln!("error: {e}");
            EXIT_UNREACHABLE
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_ERROR
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(Command::parse("reload"), Some(Command::Reload));
        assert_eq!(Command::parse(" cache-stats "), Some(Command::CacheStats));
        assert_eq!(
            Command::parse("allow-domain tunnel.test"),
            Some(Command::AllowDomain("tunnel.test".into()))
        );
        assert_eq!(Command::parse("allow-domain"), None);
        assert_eq!(Command::parse("detections"), Some(Command::Detections));
        assert_eq!(
            Command::parse("flush"),
            Some(Command::Flush {
                name: None,
                subtree: false
            })
        );
        assert_eq!(
            Command::parse("flush example.com"),
            Some(Command::Flush {
                name: Some("example.com".into()),
                subtree: false
            })
        );
        assert_eq!(
            Command::parse("flush example.com --subtree"),
            Some(Command::Flush {
                name: Some("example.com".into()),
                subtree: true
            })
        );
        assert_eq!(Command::parse("flush --subtree"), None);
        assert_eq!(Command::parse("flush a b"), None);
        assert_eq!(Command::parse("explode"), None);
        assert_eq!(
            Command::parse("block ads.example"),
            Some(Command::Block("ads.example".into()))
        );
        assert_eq!(
            Command::parse("allow ads.example"),
            Some(Command::Allow("ads.example".into()))
        );
        assert_eq!(Command::parse("block"), None);
        assert!(Command::parse("block x").is_some_and(|c| c.changes_state()));
        assert!(!Command::Status.changes_state());
    }
}
