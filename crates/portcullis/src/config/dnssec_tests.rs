//! Unit tests of the `[dnssec]` section: defaults, anchor files and their errors, bounds, the
//! `--trust-anchor` flag.

use super::super::{Config, ConfigSource, Overrides};
use super::*;

const ROOT_DS: &str =
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
const TEST_DS: &str = "; the test root\n. 86400 IN DS 1234 13 2 ( 0123456789abcdef0123456789abcdef\n    0123456789abcdef0123456789abcdef )\n";

fn parse_in(text: &str, dir: &Path) -> Result<Config, ConfigError> {
    Config::from_toml(text, "d.toml", Some(dir))
}

fn error(text: &str) -> String {
    match Config::from_toml(text, "d.toml", None) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults() {
    let c = Config::from_toml("", "d.toml", None).unwrap();
    assert_eq!(c.dnssec, DnssecSettings::default());
    let d = &c.dnssec;
    assert!(d.validation);
    assert_eq!(d.anchors, TrustAnchors::builtin_root());
    assert!(d.negative.is_empty());
    assert_eq!(d.auto_trust_file, None);
    assert!(!d.allow_sha1);
    assert_eq!(d.bogus_ttl, 60);
    assert_eq!(d.max_nsec3_iterations, 50);
    // The built-in configuration writes the same values out.
    assert_eq!(Config::builtin().unwrap().dnssec, DnssecSettings::default());
    // An empty list of files is the default too.
    let c = Config::from_toml("[dnssec]\ntrust_anchor_files = []\n", "d.toml", None).unwrap();
    assert_eq!(c.dnssec.anchors, TrustAnchors::builtin_root());
}

#[test]
fn every_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.ds"), ROOT_DS).unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/test.ds"), TEST_DS).unwrap();
    let c = parse_in(
        r#"
[dnssec]
validation = false
trust_anchor_files = ["root.ds", "keys/test.ds"]
negative_trust_anchors = ["broken.example", "Broken.Example.", "other.test."]
auto_trust_anchor_file = "state/root.autotrust"
allow_sha1 = true
bogus_ttl = 0
max_nsec3_iterations = 150
"#,
        dir.path(),
    )
    .unwrap();
    let d = c.dnssec;
    assert!(!d.validation);
    // Both files' records, for one zone: they join.
    let root = d.anchors.get(wire::NameRef::ROOT).unwrap();
    assert_eq!(root.ds.len(), 2);
    assert_eq!(d.anchors.iter().count(), 1);
    let negative: Vec<String> = d.negative.iter().map(ToString::to_string).collect();
    assert_eq!(negative, ["broken.example.", "other.test."]);
    assert_eq!(
        d.auto_trust_file,
        Some(dir.path().join("state/root.autotrust"))
    );
    assert!(d.allow_sha1);
    assert_eq!(d.bogus_ttl, 0);
    assert_eq!(d.max_nsec3_iterations, 150);
}

#[test]
fn bounds_and_types() {
    let cases = [
        (
            "[dnssec]\nbogus_ttl = 3601\n",
            "d.toml:2:13: dnssec.bogus_ttl: 3601 is out of bounds: it must be from 0 to 3600",
        ),
        (
            "[dnssec]\nmax_nsec3_iterations = -1\n",
            "d.toml:2:24: dnssec.max_nsec3_iterations: -1 is out of bounds",
        ),
        (
            "[dnssec]\nmax_nsec3_iterations = 501\n",
            "dnssec.max_nsec3_iterations: 501 is out of bounds: it must be from 0 to 500",
        ),
        (
            "[dnssec]\nvalidation = \"yes\"\n",
            "dnssec.validation: invalid type",
        ),
        (
            "[dnssec]\nallow_sha1 = 1\n",
            "dnssec.allow_sha1: invalid type",
        ),
        (
            "[dnssec]\nnegative_trust_anchors = [\"a..b\"]\n",
            "d.toml:2:26: dnssec.negative_trust_anchors: `a..b` is not a domain name",
        ),
        (
            "[dnssec]\nnegative_trust_anchors = \"a.\"\n",
            "dnssec.negative_trust_anchors: invalid type",
        ),
        (
            "[dnssec]\ntrust_anchor_files = [\"\"]\n",
            "d.toml:2:22: dnssec.trust_anchor_files: a path is empty",
        ),
        (
            "[dnssec]\nauto_trust_anchor_file = 1\n",
            "dnssec.auto_trust_anchor_file: invalid type",
        ),
        (
            "[dnssec]\ntrust_anchors = []\n",
            "unknown field `trust_anchors`",
        ),
    ];
    for (text, want) in cases {
        let e = error(text);
        assert!(e.contains(want), "{text:?}: {e}");
    }
    let many = format!(
        "[dnssec]\ntrust_anchor_files = [{}]\n",
        vec!["\"a\""; MAX_TRUST_ANCHOR_FILES + 1].join(", ")
    );
    assert!(error(&many).contains("65 files, more than the 64 allowed"));
}

#[test]
fn anchor_file_errors_point_into_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.ds");
    std::fs::write(&bad, "; comment\n\nwww.example. 300 IN A 192.0.2.1\n").unwrap();
    let e = parse_in("[dnssec]\ntrust_anchor_files = [\"bad.ds\"]\n", dir.path()).unwrap_err();
    let loc = e.location.clone().unwrap();
    assert_eq!(loc.file, bad.display().to_string());
    assert_eq!((loc.line, loc.column), (3, 1));
    assert!(
        e.to_string()
            .ends_with("trust anchor: expected a DS or DNSKEY record, not A"),
        "{e}"
    );
    std::fs::write(&bad, ". DS 1 8 2 ( 00\n 11 )\n").unwrap();
    let e = parse_in("[dnssec]\ntrust_anchor_files = [\"bad.ds\"]\n", dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}:1:1: trust anchor: a DS digest of type 2 is 32 bytes long, not 2",
            bad.display()
        )),
        "{e}"
    );
}

#[test]
fn an_unreadable_anchor_file_points_at_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("root.ds"), ROOT_DS).unwrap();
    let e = parse_in(
        "[dnssec]\ntrust_anchor_files = [\n  \"root.ds\",\n  \"missing.ds\",\n]\n",
        dir.path(),
    )
    .unwrap_err()
    .to_string();
    let missing = dir.path().join("missing.ds");
    assert!(
        e.starts_with(&format!(
            "d.toml:4:3: dnssec.trust_anchor_files: cannot read the trust anchor file {}: ",
            missing.display()
        )),
        "{e}"
    );
}

#[test]
fn trust_anchor_flags_replace_the_anchors() {
    let dir = tempfile::tempdir().unwrap();
    let test_ds = dir.path().join("test.ds");
    std::fs::write(&test_ds, TEST_DS).unwrap();
    let root_ds = dir.path().join("root.ds");
    std::fs::write(&root_ds, ROOT_DS).unwrap();

    let mut c = Config::builtin().unwrap();
    c.apply(&Overrides {
        trust_anchors: vec![test_ds.clone()],
        ..Overrides::default()
    })
    .unwrap();
    let root = c.dnssec.anchors.get(wire::NameRef::ROOT).unwrap();
    assert_eq!(root.ds.len(), 1);
    assert_eq!(&root.ds[0][..4], &[0x04, 0xd2, 13, 2]);

    // They replace anchor files too, and several add up.
    let mut c = parse_in("[dnssec]\ntrust_anchor_files = [\"root.ds\"]\n", dir.path()).unwrap();
    c.apply(&Overrides {
        trust_anchors: vec![test_ds.clone(), root_ds],
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(
        c.dnssec.anchors.get(wire::NameRef::ROOT).unwrap().ds.len(),
        2
    );

    // Through a configuration source, as the server reads it (and reads it again on reload).
    let source = ConfigSource {
        path: None,
        overrides: Overrides {
            trust_anchors: vec![test_ds.clone()],
            ..Overrides::default()
        },
    };
    let c = source.read().unwrap();
    assert_eq!(
        c.dnssec.anchors.get(wire::NameRef::ROOT).unwrap().ds.len(),
        1
    );
    assert!(c.dnssec.validation);
}

#[test]
fn trust_anchor_flag_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::builtin().unwrap();
    let e = c
        .apply(&Overrides {
            trust_anchors: vec![dir.path().join("none.ds")],
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("command line:1:1: --trust-anchor: cannot read the trust anchor file "),
        "{e}"
    );
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "\n\n. DNSKEY 257 3 8 ***\n").unwrap();
    let e = c
        .apply(&Overrides {
            trust_anchors: vec![bad.clone()],
            ..Overrides::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}:3:18: trust anchor: bad DNSKEY RDATA",
            bad.display()
        )),
        "{e}"
    );
    // A failed flag leaves the anchors as they were.
    assert_eq!(c.dnssec.anchors, TrustAnchors::builtin_root());
}
