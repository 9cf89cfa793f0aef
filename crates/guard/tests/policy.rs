#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The name set and domain lists against a naive model: every suffix compared as text.

use guard::policy::{DomainList, ListKind, NameSet};
use proptest::prelude::*;
use wire::Name;

/// Names from a small alphabet of labels, so that suffixes are shared often.
fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "Ex", "ex", "com", "x-1", "_s", "zz"])
        .prop_map(String::from)
}

fn name() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(label(), 1..5)
}

fn text(labels: &[String]) -> String {
    format!("{}.", labels.join("."))
}

/// Whether `q` is `e` (exact) or strictly below it (below), case-insensitively.
fn model(entries: &[(Vec<String>, bool)], q: &[String]) -> bool {
    let lower = |v: &[String]| v.iter().map(|l| l.to_ascii_lowercase()).collect::<Vec<_>>();
    let q = lower(q);
    entries.iter().any(|(e, below)| {
        let e = lower(e);
        if *below {
            q.len() > e.len() && q[q.len() - e.len()..] == e[..]
        } else {
            q == e
        }
    })
}

proptest! {
    #[test]
    fn name_set_matches_the_model(
        entries in prop::collection::vec((name(), any::<bool>()), 0..40),
        queries in prop::collection::vec(name(), 1..40),
    ) {
        let mut set = NameSet::new();
        for (e, below) in &entries {
            set.insert(text(e).parse::<Name>().unwrap().as_ref(), *below, 0);
        }
        for q in &queries {
            let got = set.lookup(text(q).parse::<Name>().unwrap().as_ref()).is_some();
            prop_assert_eq!(got, model(&entries, q), "query {}", text(q));
        }
    }

    #[test]
    fn lists_match_the_model(
        entries in prop::collection::vec((name(), 0u8..3), 0..30),
        queries in prop::collection::vec(name(), 1..30),
    ) {
        // 0: plain (exact), 1: `*.name` (below), 2: `||name^` (exact and below).
        let mut file = String::new();
        let mut expanded = Vec::new();
        for (e, form) in &entries {
            let n = e.join(".");
            match form {
                0 => { file += &format!("{n}\n"); expanded.push((e.clone(), false)); }
                1 => { file += &format!("*.{n}\n"); expanded.push((e.clone(), true)); }
                _ => {
                    file += &format!("||{n}^\n");
                    expanded.push((e.clone(), false));
                    expanded.push((e.clone(), true));
                }
            }
        }
        let list = DomainList::parse(file.as_bytes(), ListKind::Block, 1000).unwrap();
        prop_assert_eq!(list.skipped, 0);
        for q in &queries {
            let got = list.blocks(text(q).parse::<Name>().unwrap().as_ref());
            prop_assert_eq!(got, model(&expanded, q), "query {}", text(q));
        }
    }

    #[test]
    fn any_text_parses_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = DomainList::parse(&bytes, ListKind::Block, 50);
    }
}
