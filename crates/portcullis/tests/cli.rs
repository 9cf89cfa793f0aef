//! The `portcullis` binary, run as an operator would: `check` on good and bad configurations
//! and zones, and `config default`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// check: success
// ---------------------------------------------------------------------------------------------

#[test]
fn check_builtin_config() {
    let out = run(&["check", "--log-level", "warn"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // The default configuration resolves, so detection runs in log mode with the embedded
    // model and list.
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("<default config>: detection log: model version 1: ")
            && lines[0].ends_with("(embedded), public suffix list of 9232 rules (embedded)"),
        "{stdout}"
    );
    assert_eq!(
        lines[1],
        "<default config>: ok: 1 zone(s), 5 record(s), 0 warning(s)"
    );
    assert_eq!(stderr, "");
}

#[test]
fn check_good_config_with_file_and_inline_zones() {
    let config = data("good.toml");
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(": ok: 2 zone(s), 9 record(s), 0 warning(s)"),
        "{stdout}"
    );
    // The configured log level is info: each zone loaded is logged.
    assert!(
        stderr.contains("zone loaded") && stderr.contains("example.test."),
        "{stderr}"
    );
}

#[test]
fn check_with_flags() {
    let zone = data("example.test.zone");
    let out = run(&[
        "check",
        "--listen",
        "127.0.0.1:5300",
        "--listen",
        "[::1]:5300",
        "--zone",
        &format!("example.test.={}", zone.display()),
        "--allow-transfer",
        "2001:db8::/32",
        "--http",
        "127.0.0.1:9153",
        "--log-level",
        "error",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // `--zone` without `--config` serves just the zones given: the built-in zone is left out.
    assert!(stdout.contains("ok: 1 zone(s)"), "{stdout}");
}

#[test]
fn check_prints_zone_warnings_and_succeeds() {
    let zone = data("warn.zone");
    let out = run(&[
        "check",
        "--log-level",
        "error",
        "--zone",
        &format!("warn.test={}", zone.display()),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let expected = format!("warning: {}:3:", zone.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stdout.contains("1 warning(s)"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// check: errors, each with file:line:column
// ---------------------------------------------------------------------------------------------

#[test]
fn check_reports_zone_syntax_errors_with_location() {
    let zone = data("bad-syntax.zone");
    let out = run(&["check", "--zone", &format!("bad.test.={}", zone.display())]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // `ns1 A 192.0.2`: line 4, the address at column 14.
    let expected = format!("error: {}:4:14: bad A RDATA", zone.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("the server would not start"), "{stderr}");
    assert_eq!(stdout, "");
}

#[test]
fn check_reports_inline_zone_errors_at_their_line_in_the_config() {
    let dir = scratch("inline_error");
    let config = dir.join("p.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n\n[[zone]]\norigin = \"x.test.\"\ntext = \"\"\"\n$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2\n\"\"\"\n",
    )
    .unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // `ns A 192.0.2` is line 4 of the text, line 10 of the file; the address starts at column 6.
    let expected = format!("error: {}:10:6: ", config.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        stderr.contains(&format!("configured at {}:4:1", config.display())),
        "{stderr}"
    );
}

#[test]
fn check_reports_zone_check_problems() {
    let dir = scratch("zone_problem");
    let zone = dir.join("z.zone");
    std::fs::write(
        &zone,
        "$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nwww CNAME ns\nwww A 192.0.2.2\n",
    )
    .unwrap();
    let out = run(&["check", "--zone", &format!("z.test.={}", zone.display())]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("{}:5:1", zone.display()))
            || stderr.contains(&format!("{}:6:1", zone.display())),
        "{stderr}"
    );
    assert!(stderr.contains("CNAME"), "{stderr}");
}

#[test]
fn check_reports_missing_zone_file() {
    let out = run(&["check", "--zone", "gone.test.=/nonexistent/gone.zone"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("/nonexistent/gone.zone"), "{stderr}");
}

#[test]
fn check_reports_config_errors_with_location() {
    let dir = scratch("config_errors");
    let cases = [
        (
            "[server]\nworkers = 0\n",
            "2:11",
            "server.workers: 0 is out of bounds",
        ),
        (
            "[server]\nudp_payload = 9000\n",
            "2:15",
            "server.udp_payload: 9000 is out of bounds",
        ),
        (
            "\n[server]\nlisen = [\"127.0.0.1:53\"]\n",
            "3:1",
            "unknown field `lisen`",
        ),
        ("[server]\nlisten = [\"127.0.0.1:53\"\n", "2:", ""),
        (
            "[[zone]]\norigin = \"a.test.\"\nfile = \"a.zone\"\nallow_transfer = [\"10.1.2.3/8\"]\n",
            "4:18",
            "zone.allow_transfer: `10.1.2.3/8` has bits set",
        ),
    ];
    for (i, (body, at, message)) in cases.into_iter().enumerate() {
        let config = dir.join(format!("c{i}.toml"));
        std::fs::write(&config, body).unwrap();
        let out = run(&["check", "--config", config.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{body}: {stdout}{stderr}");
        let expected = format!("error: {}:{at}", config.display());
        assert!(stderr.starts_with(&expected), "{body}: {stderr}");
        assert!(stderr.contains(message), "{body}: {stderr}");
    }
}

#[test]
fn check_relative_zone_files_are_found_beside_the_config() {
    // good.toml names example.test.zone relative to itself; run from elsewhere.
    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["check", "--config", data("good.toml").to_str().unwrap()])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
}

#[test]
fn check_missing_config_file() {
    let out = run(&["check", "--config", "/nonexistent/portcullis.toml"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: /nonexistent/portcullis.toml: cannot read the configuration"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    for args in [
        &["check", "--listen", "127.0.0.1"][..],
        &["check", "--zone", "example.test"],
        &["check", "--allow-transfer", "10.0.0.1/8"],
        &["check", "--log-level", "loud"],
        &["check", "--bogus"],
        &["serve", "--bogus"],
        &["serve", "--listen", "127.0.0.1"],
        &[],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {:?}", text(&out));
    }
    let out = run(&[
        "check",
        "--zone",
        "a.test.=x.zone",
        "--zone",
        "a.test.=y.zone",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("error: command line:1:1: --zone: zone a.test. is already configured at command line:1:1"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// config default
// ---------------------------------------------------------------------------------------------

#[test]
fn config_default_prints_a_config_that_checks() {
    let out = run(&["config", "default"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("# Portcullis configuration."),
        "{stdout}"
    );
    assert!(
        stdout.contains("[server]") && stdout.contains("[[zone]]"),
        "{stdout}"
    );

    let parsed = portcullis::config::Config::from_toml(&stdout, "stdout", None).unwrap();
    assert_eq!(parsed.zones.len(), 1);

    let dir = scratch("config_default");
    let config = dir.join("portcullis.toml");
    std::fs::write(&config, &stdout).unwrap();
    let out = run(&[
        "check",
        "--log-level",
        "warn",
        "--config",
        config.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("ok: 1 zone(s), 5 record(s)"), "{stdout}");
}

#[test]
fn help_and_version() {
    let out = run(&["--help"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("check") && stdout.contains("config"),
        "{stdout}"
    );
    let out = run(&["check", "--help"]);
    let (stdout, _) = text(&out);
    for flag in [
        "--config",
        "--listen",
        "--zone",
        "--allow-transfer",
        "--http",
        "--log-level",
    ] {
        assert!(stdout.contains(flag), "{flag}: {stdout}");
    }
    let out = run(&["--version"]);
    assert_eq!(
        text(&out).0,
        format!("portcullis {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn check_reads_the_root_hints() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("r.toml");
    std::fs::write(&config, "[resolver]\nenabled = true\n").unwrap();
    let hints = dir.path().join("bad.hints");
    std::fs::write(
        &hints,
        ". 3600000 NS a.root.test.\na.root.test. 3600000 BOGUS 127.0.0.2\n",
    )
    .unwrap();
    let out = run(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--root-hints",
        hints.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:2:", hints.display())),
        "{stderr}"
    );
    // --forward needs an address.
    let out = run(&[
        "check",
        "--config",
        config.to_str().unwrap(),
        "--forward",
        "corp",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_reads_the_trust_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("root.ds");
    std::fs::write(
        &good,
        ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "; anchors\n. 3600 IN NS a.root.test.\n").unwrap();
    let out = run(&["check", "--trust-anchor", good.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let out = run(&[
        "check",
        "--trust-anchor",
        good.to_str().unwrap(),
        "--trust-anchor",
        bad.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:1: trust anchor: expected a DS or DNSKEY record, not NS",
            bad.display()
        )),
        "{stderr}"
    );
    // In the configuration file, an anchor file that cannot be read is reported at its key.
    let config = dir.path().join("a.toml");
    std::fs::write(&config, "[dnssec]\ntrust_anchor_files = [\"none.ds\"]\n").unwrap();
    let out = run(&["check", "--config", config.to_str().unwrap()]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:2:23: dnssec.trust_anchor_files: cannot read the trust anchor file",
            config.display()
        )),
        "{stderr}"
    );
}
