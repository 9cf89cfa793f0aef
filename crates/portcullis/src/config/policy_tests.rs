//! Unit tests of the policy settings: defaults, each action, EDE, errors with their location,
//! the `--blocklist` and `--rpz` flags.

use super::super::{Config, ConfigSource, Overrides};
use super::*;

fn parse(text: &str) -> Result<Config, super::super::ConfigError> {
    Config::from_toml(text, "p.toml", Some(Path::new("/etc/pc")))
}

fn error(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.policy, PolicySettings::default());
    assert!(c.policy.is_empty());
    assert_eq!(c.policy.check_interval, Duration::from_secs(10));
    assert_eq!(c.policy.max_entries, 2_000_000);
    assert_eq!(Config::builtin().unwrap().policy, PolicySettings::default());
}

#[test]
fn lists_and_zones_in_order_with_their_actions() {
    let c = parse(
        "[policy]\ncheck_interval = 0\nmax_entries = 5\nttl = 60\n\n\
         [[blocklist]]\nfile = \"ads.txt\"\n\n\
         [[blocklist]]\nfile = \"/abs/sink.txt\"\nname = \"sink\"\naction = \"sinkhole\"\n\
         sinkhole = [\"192.0.2.1\"]\nede = \"filtered\"\n\n\
         [[blocklist]]\nfile = \"c.txt\"\naction = \"answer\"\nanswer = [\"A 192.0.2.9\", \"TXT no\"]\nede = \"none\"\n\n\
         [[blocklist]]\nfile = \"d.txt\"\naction = \"nodata\"\n\n\
         [[blocklist]]\nfile = \"e.txt\"\naction = \"refused\"\n\n\
         [[allowlist]]\nfile = \"ok.txt\"\n\n\
         [[rpz]]\norigin = \"rpz.example\"\nfile = \"rpz.zone\"\n",
    )
    .unwrap();
    let p = &c.policy;
    assert_eq!(p.check_interval, Duration::ZERO);
    assert_eq!(p.max_entries, 5);
    let b = &p.blocklists;
    assert_eq!(b.len(), 5);
    assert_eq!(b[0].source.name, "ads.txt");
    assert_eq!(b[0].source.file, PathBuf::from("/etc/pc/ads.txt"));
    assert_eq!(b[0].action, Action::NxDomain);
    assert_eq!(b[0].ede, Some(EDE_BLOCKED));
    assert_eq!(b[0].source.defined_at.line, 6);
    assert_eq!(b[1].source.name, "sink");
    assert_eq!(b[1].ede, Some(EDE_FILTERED));
    let Action::Local(data) = &b[1].action else {
        panic!("{:?}", b[1].action)
    };
    assert_eq!(data.records.len(), 1);
    assert_eq!((data.records[0].rtype, data.records[0].ttl), (RType::A, 60));
    assert_eq!(data.records[0].rdata, vec![192, 0, 2, 1]);
    let Action::Local(data) = &b[2].action else {
        panic!()
    };
    assert_eq!(data.records.len(), 2);
    assert_eq!(data.records[1].rtype, RType::TXT);
    assert_eq!(b[2].ede, None);
    assert_eq!(b[3].action, Action::NoData);
    assert_eq!(b[4].action, Action::Refused);
    assert_eq!(p.allowlists[0].file, PathBuf::from("/etc/pc/ok.txt"));
    assert_eq!(p.rpz[0].origin, "rpz.example.".parse::<Name>().unwrap());
    assert_eq!(p.rpz[0].source.name, "rpz.example.");
}

#[test]
fn errors_say_where() {
    let e = error("[[blocklist]]\nfile = \"a\"\naction = \"block\"\n");
    assert!(
        e.starts_with("p.toml:3:10: blocklist.action: `block` is not one of"),
        "{e}"
    );
    let e = error("[[blocklist]]\nfile = \"a\"\nede = \"loud\"\n");
    assert!(e.starts_with("p.toml:3:7: blocklist.ede: `loud`"), "{e}");
    let e = error("[[blocklist]]\nfile = \"a\"\nsinkhole = [\"192.0.2.1\"]\n");
    assert!(e.contains("only with action = \"sinkhole\""), "{e}");
    let e = error("[[blocklist]]\nfile = \"a\"\naction = \"answer\"\n");
    assert!(e.contains("`answer` needs the records"), "{e}");
    let e = error("[[blocklist]]\nfile = \"a\"\naction = \"answer\"\nanswer = [\"A 300.1.1.1\"]\n");
    assert!(e.contains("answer: `A 300.1.1.1`"), "{e}");
    let e = error("[[blocklist]]\naction = \"nodata\"\n");
    assert!(e.contains("missing field `file`"), "{e}");
    let e = error("[[blocklist]]\nfile = \"a\"\ncolour = 1\n");
    assert!(e.contains("unknown field `colour`"), "{e}");
    let e =
        error("[[rpz]]\norigin = \"r.\"\nfile = \"a\"\n[[rpz]]\norigin = \"R.\"\nfile = \"b\"\n");
    assert!(
        e.starts_with("p.toml:4:1: rpz.origin: zone R. is configured twice (first at p.toml:1:1)"),
        "{e}"
    );
    let e = error("[policy]\nmax_entries = 0\n");
    assert!(e.contains("policy.max_entries: 0 is out of bounds"), "{e}");
}

#[test]
fn flags_add_lists_and_zones() {
    let source = ConfigSource {
        path: None,
        overrides: Overrides {
            blocklists: vec![PathBuf::from("/lists/hosts")],
            rpz: vec!["rpz.test.=/z/rpz.zone".parse().unwrap()],
            ..Overrides::default()
        },
    };
    let c = source.read().unwrap();
    assert_eq!(c.policy.blocklists[0].source.name, "hosts");
    assert_eq!(c.policy.blocklists[0].action, Action::NxDomain);
    assert_eq!(c.policy.rpz[0].source.file, PathBuf::from("/z/rpz.zone"));
    assert!("rpz.test.".parse::<RpzArg>().is_err());
    assert!("rpz.test.=".parse::<RpzArg>().is_err());
    let twice = ConfigSource {
        path: None,
        overrides: Overrides {
            rpz: vec!["r.=/a".parse().unwrap(), "r.=/b".parse().unwrap()],
            ..Overrides::default()
        },
    };
    assert!(
        twice
            .read()
            .unwrap_err()
            .to_string()
            .contains("configured twice")
    );
}
