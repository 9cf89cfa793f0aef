//! docs/CONFIG.md documents every setting: every key of the default configuration (set or
//! shown commented out) and every key the parser knows appears there, with its bounds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use portcullis::config::{
    DEFAULT_CONFIG, INT_SETTINGS, KEYS, cookies, limits, resolver, rrl, signing, tls,
};

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/CONFIG.md");
    std::fs::read_to_string(&path).unwrap()
}

/// `section.key` for every `key = ...` line of the default configuration, commented or not.
fn default_config_keys() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut section = String::new();
    for line in DEFAULT_CONFIG.lines() {
        let line = line.trim();
        // A table shown commented out, as `# [[forward]]`, is a section too.
        let line = match line.strip_prefix("# [") {
            Some(rest) => &line[line.len() - rest.len() - 1..],
            None => line,
        };
        if let Some(name) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
            section = name.to_owned();
        } else if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else {
            let code = line.strip_prefix("# ").unwrap_or(line);
            if let Some((key, _)) = code.split_once(" = ")
                && !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                keys.insert(format!("{section}.{key}"));
            }
        }
    }
    keys
}

#[test]
fn default_config_shows_every_key() {
    let shown = default_config_keys();
    let known: BTreeSet<String> = KEYS.iter().map(|k| (*k).to_owned()).collect();
    assert_eq!(shown, known);
}

#[test]
fn every_key_is_documented() {
    let doc = doc();
    for key in KEYS {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/CONFIG.md lacks `{key}`"
        );
    }
    for key in default_config_keys() {
        assert!(
            doc.contains(&format!("`{key}`")),
            "docs/CONFIG.md lacks `{key}`"
        );
    }
}

#[test]
fn documented_keys_exist() {
    let doc = doc();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        let key = line
            .trim_start_matches("| `")
            .split('`')
            .next()
            .unwrap_or_default();
        assert!(
            KEYS.contains(&key),
            "docs/CONFIG.md documents unknown key `{key}`"
        );
    }
}

#[test]
fn integer_bounds_are_documented() {
    let doc = doc();
    for b in INT_SETTINGS
        .iter()
        .chain(resolver::INT_SETTINGS)
        .chain(portcullis::config::dnssec::INT_SETTINGS)
        .chain(signing::INT_SETTINGS)
        .chain(rrl::INT_SETTINGS)
        .chain(portcullis::config::policy::INT_SETTINGS)
        .chain(limits::INT_SETTINGS)
        .chain(cookies::INT_SETTINGS)
        .chain(portcullis::config::events::INT_SETTINGS)
        .chain(tls::INT_SETTINGS)
        .chain(portcullis::config::https::INT_SETTINGS)
        .chain(portcullis::config::quic::INT_SETTINGS)
        .chain(portcullis::config::detect::INT_SETTINGS)
        .chain(portcullis::config::dashboard::INT_SETTINGS)
    {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", b.key)))
            .unwrap_or_else(|| panic!("no table row for `{}`", b.key));
        let bounds = format!("{} to {}", group(b.min), group(b.max));
        assert!(
            row.contains(&bounds),
            "row for `{}` lacks {bounds:?}: {row}",
            b.key
        );
    }
}

/// `1000000` as `1,000,000`.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
