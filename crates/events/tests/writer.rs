//! The writer thread over real sinks: a file and a Unix datagram syslog socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use events::{Action, Event, EventsConfig, Sink};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("events-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config(json: Option<Sink>, syslog: Option<PathBuf>) -> EventsConfig {
    EventsConfig {
        json,
        syslog,
        syslog_facility: 3,
        queue: 1024,
        max_per_second: 1000,
    }
}

/// Waits (bounded) until `done` holds.
fn wait_for(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn json_lines_to_a_file_and_syslog_datagrams() {
    let dir = temp_dir("sinks");
    let file = dir.join("events.json");
    let socket_path = dir.join("log.sock");
    let syslog = UnixDatagram::bind(&socket_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (events, _reopen) =
        events::writer::start(&config(Some(Sink::File(file.clone())), Some(socket_path))).unwrap();
    assert!(events.is_recording());
    let name: wire::Name = "ads.example.".parse().unwrap();
    events.emit(
        Event::new(Action::Blocked, "blocklist")
            .client("127.0.0.1".parse().unwrap())
            .question(name.as_ref(), wire::RType::A)
            .detail("ads.txt"),
    );
    events.emit(Event::new(Action::SpoofRejected, "wrong id").detail("127.9.0.1:53"));

    wait_for(|| std::fs::read_to_string(&file).is_ok_and(|text| text.lines().count() == 2));
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("{\"time\":\"20"), "{}", lines[0]);
    assert!(
        lines[0].ends_with(
            "\"type\":\"security\",\"action\":\"blocked\",\"reason\":\"blocklist\",\
             \"client\":\"127.0.0.1\",\"qname\":\"ads.example.\",\"qtype\":\"A\",\
             \"detail\":\"ads.txt\"}"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("\"action\":\"spoof_rejected\""));

    let mut buf = [0u8; 2048];
    let n = syslog.recv(&mut buf).unwrap();
    let message = std::str::from_utf8(&buf[..n]).unwrap();
    // Facility daemon (3), severity notice (5) for a blocked name.
    assert!(message.starts_with("<29>1 20"), "{message}");
    assert!(message.contains(" portcullis "), "{message}");
    assert!(message.ends_with("\"detail\":\"ads.txt\"}"), "{message}");
    let n = syslog.recv(&mut buf).unwrap();
    // Severity warning (4) for a spoofed answer.
    assert!(
        std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("<28>1 ")
    );

    let figures = events.figures();
    assert_eq!(figures.written, 2);
    assert_eq!(figures.dropped, 0);
    assert_eq!(events.count(Action::Blocked), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_syslog_socket_loses_messages_and_counts_them() {
    let dir = temp_dir("nosyslog");
    let (events, _reopen) =
        events::writer::start(&config(None, Some(dir.join("absent.sock")))).unwrap();
    for _ in 0..3 {
        events.emit(Event::new(Action::AclDropped, "acl query"));
    }
    wait_for(|| events.figures().dropped == 3);
    assert_eq!(events.figures().written, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reopen_follows_a_rotated_file() {
    let dir = temp_dir("rotate");
    let file = dir.join("events.json");
    let (events, reopen) =
        events::writer::start(&config(Some(Sink::File(file.clone())), None)).unwrap();
    events.emit(Event::new(Action::CookieFailure, "badcookie"));
    wait_for(|| std::fs::read_to_string(&file).is_ok_and(|t| t.lines().count() == 1));
    std::fs::rename(&file, dir.join("events.json.1")).unwrap();
    reopen.request();
    events.emit(Event::new(Action::CookieFailure, "badcookie"));
    wait_for(|| std::fs::read_to_string(&file).is_ok_and(|t| t.lines().count() == 1));
    let old = std::fs::read_to_string(dir.join("events.json.1")).unwrap();
    assert_eq!(old.lines().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_sink_means_no_thread_and_counts_only() {
    let (events, _reopen) = events::writer::start(&config(None, None)).unwrap();
    assert!(!events.is_recording());
    events.emit(Event::new(Action::ResolverLimit, "upstream cap"));
    assert_eq!(events.count(Action::ResolverLimit), 1);
}
