//! The control socket with a mock server behind it, in a temporary directory: `portcullis ctl`
//! exit codes, the line protocol's limits, permissions, stale and live sockets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portcullis::control::{self, ControlHandler, IO_TIMEOUT, MAX_COMMAND_LINE};
use tokio::runtime::Runtime;
use transport::Shutdown;

#[derive(Default)]
struct Mock {
    fail_reload: AtomicBool,
    reloads: AtomicUsize,
}

impl ControlHandler for Mock {
    fn reload(&self) -> Result<String, String> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        if self.fail_reload.load(Ordering::SeqCst) {
            Err("zone example.test.: example.test.zone:3:1: bad record".to_owned())
        } else {
            Ok("2 zone(s) loaded".to_owned())
        }
    }
    fn status(&self) -> String {
        "running, 2 zone(s)".to_owned()
    }
    fn stats(&self) -> String {
        "queries 5\nresponses 5\n".to_owned()
    }
}

/// A control socket served by a mock, stopped when dropped.
struct Server {
    rt: Runtime,
    path: PathBuf,
    mock: Arc<Mock>,
    shutdown: Shutdown,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/ctl.sock");
        Server::start_at(dir, path)
    }

    fn start_at(dir: tempfile::TempDir, path: PathBuf) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mock = Arc::new(Mock::default());
        let shutdown = Shutdown::new();
        let future = control::serve(&path, mock.clone(), shutdown.clone()).unwrap();
        let task = rt.spawn(future);
        Server {
            rt,
            path,
            mock,
            shutdown,
            task: Some(task),
            _dir: dir,
        }
    }

    fn stop(mut self) {
        self.shutdown.trigger();
        let task = self.task.take().unwrap();
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
            .expect("the control socket stops once shutdown fires")
            .unwrap();
        assert!(
            !self.path.exists(),
            "the socket file is removed at shutdown"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

fn ctl(socket: &Path, command: &str) -> (Output, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["ctl", "--socket"])
        .arg(socket)
        .arg(command)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

/// Sends raw bytes, closes the sending side, reads the whole answer.
fn raw(path: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(bytes).unwrap();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn ctl_commands_and_exit_codes() {
    let server = Server::start();
    let (out, stdout, stderr) = ctl(&server.path, "status");
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(stdout, "ok\nrunning, 2 zone(s)\n");

    let (out, stdout, _) = ctl(&server.path, "stats");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout, "ok\nqueries 5\nresponses 5\n");

    let (out, stdout, _) = ctl(&server.path, "reload");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout, "ok\n2 zone(s) loaded\n");

    server.mock.fail_reload.store(true, Ordering::SeqCst);
    let (out, stdout, stderr) = ctl(&server.path, "reload");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: zone example.test.: example.test.zone:3:1: bad record\n"
    );
    assert_eq!(server.mock.reloads.load(Ordering::SeqCst), 2);
    server.stop();
}

#[test]
fn unreachable_socket_exits_2_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.sock");
    let (out, _, stderr) = ctl(&path, "status");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    assert!(stderr.contains("--socket"), "{stderr}");

    // A socket file nobody listens on.
    drop(UnixListener::bind(&path).unwrap());
    let (out, _, stderr) = ctl(&path, "status");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}

#[test]
fn line_protocol() {
    let server = Server::start();
    assert_eq!(raw(&server.path, b"status\n"), "ok\nrunning, 2 zone(s)\n");
    // A command ended by closing the sending side, with spaces and a CR around it.
    assert_eq!(raw(&server.path, b" status\r"), "ok\nrunning, 2 zone(s)\n");
    let answer = raw(&server.path, b"frobnicate\n");
    assert!(answer.starts_with("error: unknown command"), "{answer}");
    let answer = raw(&server.path, b"\n");
    assert!(answer.starts_with("error: unknown command"), "{answer}");
    // Only the first line counts.
    assert_eq!(
        raw(&server.path, b"stats\nreload\n"),
        "ok\nqueries 5\nresponses 5\n"
    );
    assert_eq!(server.mock.reloads.load(Ordering::SeqCst), 0);
    let long = vec![b'a'; MAX_COMMAND_LINE * 4];
    let answer = raw(&server.path, &long);
    assert!(
        answer.starts_with("error: command line longer than"),
        "{answer}"
    );
    server.stop();
}

#[test]
fn silent_client_is_timed_out() {
    let server = Server::start();
    let mut stream = UnixStream::connect(&server.path).unwrap();
    stream
        .set_read_timeout(Some(IO_TIMEOUT + Duration::from_secs(5)))
        .unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("error: no command"), "{answer}");
    assert!(started.elapsed() < IO_TIMEOUT + Duration::from_secs(2));
    // The server still answers others.
    assert_eq!(raw(&server.path, b"status\n"), "ok\nrunning, 2 zone(s)\n");
    server.stop();
}

#[test]
fn socket_is_private_and_its_directory_created() {
    let server = Server::start();
    let mode = std::fs::metadata(&server.path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let dir_mode = std::fs::metadata(server.path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    // 0750, less what the umask takes away.
    assert_eq!(dir_mode & 0o027, 0, "{dir_mode:o}");
    server.stop();
}

#[test]
fn stale_socket_is_replaced_live_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctl.sock");
    // A socket file left behind by a server that died.
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = Server::start_at(dir, path.clone());
    assert_eq!(raw(&path, b"status\n"), "ok\nrunning, 2 zone(s)\n");

    // A second server on the same path refuses to start and leaves the first one alone.
    let e = control::serve(&path, Arc::new(Mock::default()), Shutdown::new())
        .err()
        .expect("a second server on a live socket is refused");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains("another server answers"), "{e}");
    assert_eq!(raw(&path, b"status\n"), "ok\nrunning, 2 zone(s)\n");
    server.stop();
}

#[test]
fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctl.sock");
    std::fs::write(&path, "precious").unwrap();
    let e = control::serve(&path, Arc::new(Mock::default()), Shutdown::new())
        .err()
        .expect("a regular file is not replaced");
    assert!(e.to_string().contains("is not a socket"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
}
