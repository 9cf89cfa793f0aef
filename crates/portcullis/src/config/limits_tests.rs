//! Unit tests of the `[limits]` section: defaults, rules, bounds and their error locations,
//! `server.tcp_max_queries_per_connection`.

use super::super::Config;
use super::*;
use guard::dynblock::{BlockAction, Metric, RateAction, Rule};

fn parse(text: &str) -> Config {
    Config::from_toml(text, "l.toml", None).unwrap()
}

fn error(text: &str) -> String {
    match Config::from_toml(text, "l.toml", None) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn off_unless_configured() {
    let c = parse("");
    assert!(!c.limits.enabled);
    assert!(c.limits.limiter().is_none());
    assert_eq!(c.limits.zone_cap, None);
    assert_eq!(c.limits.client, guard::DynBlockConfig::default());
    assert_eq!(c.server.tcp_max_queries_per_connection, 0);
    // The built-in configuration shows every key with its default.
    let b = Config::builtin().unwrap();
    assert_eq!(b.limits, c.limits);
}

#[test]
fn rules_and_settings_are_read() {
    let c = parse(
        "[server]\ntcp_max_queries_per_connection = 100\n\
         [limits]\nenabled = true\nquery_rate = 500\nquery_rate_action = \"refuse\"\n\
         exempt = [\"192.0.2.0/24\"]\nmax_blocks = 10\nzone_nxdomains_per_second = 50\n\
         [[limits.rule]]\nmetric = \"nxdomains\"\nper_second = 20\nwindow = 5\n\
         action = \"truncate\"\nduration = 30\n\
         [[limits.rule]]\nmetric = \"queries\"\nper_second = 1000\naction = \"drop\"\n",
    );
    assert_eq!(c.server.tcp_max_queries_per_connection, 100);
    let l = &c.limits;
    assert!(l.enabled);
    assert_eq!(l.client.query_rate, 500);
    assert_eq!(l.client.query_rate_action, RateAction::Refuse);
    assert_eq!(l.client.max_blocks, 10);
    assert_eq!(l.client.exempt, vec![("192.0.2.0".parse().unwrap(), 24)]);
    assert_eq!(
        l.client.rules,
        vec![
            Rule {
                metric: Metric::NxDomains,
                per_second: 20,
                window: 5,
                action: BlockAction::Truncate,
                duration: 30,
            },
            Rule {
                metric: Metric::Queries,
                per_second: 1000,
                window: 10,
                action: BlockAction::Drop,
                duration: 60,
            },
        ]
    );
    let limiter = l.limiter().unwrap();
    assert_eq!(limiter.memory(), (65_536 + 10) * 8);
    let z = l.zone_cap.unwrap();
    assert_eq!(z.nxdomains_per_second, 50);
    assert_eq!(z.queries_per_second, 20);
}

#[test]
fn errors_name_the_key_and_the_place() {
    for (text, starts) in [
        (
            "[limits]\nquery_rate_action = \"ignore\"\n",
            "l.toml:2:21: limits.query_rate_action: `ignore` is not one of",
        ),
        (
            "[limits]\nquery_rate = 2000000\n",
            "l.toml:2:14: limits.query_rate: 2000000 is out of bounds",
        ),
        (
            "[limits]\nexempt = [\"10.0.0.1/8\"]\n",
            "l.toml:2:10: limits.exempt:",
        ),
        (
            "[[limits.rule]]\nmetric = \"bytes\"\nper_second = 1\naction = \"drop\"\n",
            "l.toml:2:10: limits.rule.metric: `bytes` is not one of",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\nper_second = 1\naction = \"ban\"\n",
            "l.toml:4:10: limits.rule.action: `ban` is not one of",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\nper_second = 0\naction = \"drop\"\n",
            "l.toml:3:14: limits.rule.per_second: 0 is out of bounds",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\nper_second = 1\naction = \"drop\"\n\
             window = 3601\n",
            "l.toml:5:10: limits.rule.window: 3601 is out of bounds",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\nper_second = 1\naction = \"drop\"\n\
             duration = 0\n",
            "l.toml:5:12: limits.rule.duration: 0 is out of bounds",
        ),
        (
            "\n[[limits.rule]]\nmetric = \"queries\"\nper_second = 100000\naction = \"drop\"\n\
             window = 100\n",
            "l.toml:2:1: limits.rule: per_second × window (10000000) must be at most",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\naction = \"drop\"\n",
            "l.toml:1:1: missing field `per_second`",
        ),
        (
            "[[limits.rule]]\nmetric = \"queries\"\nper_second = 1\naction = \"drop\"\nx = 1\n",
            "l.toml:5:1: unknown field `x`",
        ),
        (
            "[server]\ntcp_max_queries_per_connection = -1\n",
            "l.toml:2:34: server.tcp_max_queries_per_connection: -1 is out of bounds",
        ),
    ] {
        let e = error(text);
        assert!(e.starts_with(starts), "{e}\nexpected {starts}");
    }
    let many = "[[limits.rule]]\nmetric = \"queries\"\nper_second = 1\naction = \"drop\"\n"
        .repeat(MAX_RULES + 1);
    let e = error(&many);
    assert!(e.contains("limits.rule: at most 16 rules"), "{e}");
    assert!(e.starts_with("l.toml:65:1:"), "{e}");
}

#[test]
fn integer_bounds_are_enforced_at_the_value() {
    for b in INT_SETTINGS {
        let (table, key) = match b.key.strip_prefix("limits.rule.") {
            Some(key) => ("[[limits.rule]]", key),
            None => ("[limits]", b.key.trim_start_matches("limits.")),
        };
        let rest = if table == "[limits]" {
            String::new()
        } else {
            [
                ("metric", "\"queries\""),
                ("per_second", "1"),
                ("action", "\"drop\""),
                ("window", "1"),
            ]
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| format!("{k} = {v}\n"))
            .collect()
        };
        for ok in [b.min, b.max] {
            let text = format!("{table}\n{key} = {ok}\n{rest}");
            assert!(Config::from_toml(&text, "l.toml", None).is_ok(), "{text}");
        }
        for bad in [b.min as i64 - 1, b.max as i64 + 1] {
            let text = format!("{table}\n{key} = {bad}\n{rest}");
            let e = error(&text);
            let col = key.len() + 4;
            assert!(
                e.starts_with(&format!(
                    "l.toml:2:{col}: {}: {bad} is out of bounds",
                    b.key
                )),
                "{e}"
            );
        }
    }
}
