//! The `[acl]` section: access-control lists for queries, recursion, zone transfers, the HTTP
//! endpoint and the control socket, named address lists, and listeners with ACLs of their own
//! (docs/CONFIG.md lists each key; `guard::Acl` decides, the engine and the listeners act).
//!
//! A rule list is an array of strings `ACTION TARGET`, tried in order, the first match
//! deciding; a client no rule matches is refused:
//!
//! ```toml
//! [acl]
//! lists = { office = ["192.0.2.0/24", "2001:db8::/32"] }
//! query = ["allow office", "refuse 10.0.0.0/8", "drop any"]
//! ```
//!
//! ACTION is `allow`, `refuse` or `drop`; TARGET a prefix (`192.0.2.0/24`, `2001:db8::1`), a
//! list of `acl.lists`, or a built-in list: `any`, `none`, `localhost`. For `acl.control` the
//! targets are users (a name, a numeric user ID, or `any`), since the control socket is a Unix
//! socket and the kernel tells us the peer's user ID.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use guard::{Acl, AclAction, Prefix};
use serde::Deserialize;
use toml::Spanned;

use super::{Config, ConfigError, Location, MAX_LISTEN};

/// Most named lists.
pub const MAX_LISTS: usize = 1024;
/// Most prefixes in all the named lists together.
pub const MAX_PREFIXES: usize = 1_000_000;
/// Most rules in one rule list.
pub const MAX_RULES: usize = 256;
/// Longest list name, in bytes.
pub const MAX_NAME: usize = 64;

/// One compiled-to-be rule list: each rule's action and prefixes, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleList {
    /// The rules, in order.
    pub rules: Vec<(AclAction, Vec<Prefix>)>,
}

impl RuleList {
    /// The ACL: `first` allowed before the rules (the prefixes of `server.allow_transfer`,
    /// `resolver.allow_recursion` and their flags), then the rules; everyone else refused.
    pub fn acl(&self, first: &[Prefix]) -> Acl {
        let head = (!first.is_empty()).then_some((AclAction::Allow, first));
        Acl::new(
            head.into_iter()
                .chain(self.rules.iter().map(|(a, p)| (*a, p.as_slice()))),
            AclAction::Refuse,
        )
    }
}

/// Who a control-socket rule is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserTarget {
    /// Every user.
    Any,
    /// One user ID.
    Uid(u32),
}

/// The control socket's rules, by the peer's user ID: the first match decides, others are
/// refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserAcl {
    /// The rules, in order.
    pub rules: Vec<(AclAction, UserTarget)>,
}

impl UserAcl {
    /// The default: root and `own` (the user the server runs as) allowed, others refused.
    pub fn default_for(own: u32) -> UserAcl {
        UserAcl {
            rules: vec![
                (AclAction::Allow, UserTarget::Uid(0)),
                (AclAction::Allow, UserTarget::Uid(own)),
            ],
        }
    }

    /// What to do with a peer of user ID `uid`.
    pub fn decide(&self, uid: u32) -> AclAction {
        self.rules
            .iter()
            .find(|(_, t)| match t {
                UserTarget::Any => true,
                UserTarget::Uid(u) => *u == uid,
            })
            .map_or(AclAction::Refuse, |(a, _)| *a)
    }
}

/// A listener with ACLs of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSettings {
    /// Its address, one of `server.listen`.
    pub listen: SocketAddr,
    /// Replaces `acl.query` on it.
    pub query: Option<RuleList>,
    /// Replaces the recursion ACL on it.
    pub recursion: Option<RuleList>,
    /// Where it was configured.
    pub defined_at: Location,
}

/// The `[acl]` settings, read and checked. `None` keeps the behaviour of a server without
/// `[acl]`: queries from everyone, recursion as `resolver.allow_recursion` says, transfers as
/// `server.allow_transfer` says, HTTP from everyone who reaches `server.http`, the control
/// socket for root and the server's user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AclSettings {
    /// `acl.query`.
    pub query: Option<RuleList>,
    /// `acl.recursion`.
    pub recursion: Option<RuleList>,
    /// `acl.transfer`.
    pub transfer: Option<RuleList>,
    /// `acl.http`.
    pub http: Option<RuleList>,
    /// `acl.control`.
    pub control: Option<UserAcl>,
    /// `[[acl.listener]]`.
    pub listeners: Vec<ListenerSettings>,
    /// Where `acl.recursion` and `acl.transfer` were written, for the checks against the older
    /// keys.
    recursion_at: Option<Location>,
    transfer_at: Option<Location>,
}

impl AclSettings {
    /// The query ACL for every listener without its own.
    pub fn query_acl(&self) -> Acl {
        self.query
            .as_ref()
            .map_or_else(Acl::allow_all, |r| r.acl(&[]))
    }

    /// The recursion ACL: `resolver.allow_recursion` (with `--allow-recursion`) allowed first,
    /// then `acl.recursion` when given.
    pub fn recursion_acl(&self, config: &Config) -> Acl {
        let allow = &config.resolver.allow_recursion;
        match &self.recursion {
            Some(rules) => rules.acl(allow),
            None => Acl::allowing(allow),
        }
    }

    /// The transfer ACL for every zone: `server.allow_transfer` (with `--allow-transfer`)
    /// allowed first, then `acl.transfer` when given.
    pub fn transfer_acl(&self, config: &Config) -> Acl {
        let allow = &config.server.allow_transfer;
        match &self.transfer {
            Some(rules) => rules.acl(allow),
            None => Acl::allowing(allow),
        }
    }

    /// The HTTP endpoint's ACL.
    pub fn http_acl(&self) -> Acl {
        self.http
            .as_ref()
            .map_or_else(Acl::allow_all, |r| r.acl(&[]))
    }

    /// The control socket's ACL: `acl.control`, else root and the user the server runs as
    /// (`server.user`, or the user that started it).
    pub fn control_acl(&self, config: &Config) -> UserAcl {
        if let Some(acl) = &self.control {
            return acl.clone();
        }
        let own = config
            .server
            .user
            .as_deref()
            .and_then(|u| nix::unistd::User::from_name(u).ok().flatten())
            .map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid.as_raw());
        UserAcl::default_for(own)
    }

    /// The keys that differ from `new` and that only a restart applies: `acl.http` and
    /// `acl.control` (the rest is the engine's, which a reload rebuilds).
    pub fn restart_only_changes(&self, new: &AclSettings) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.http != new.http {
            out.push("acl.http");
        }
        if self.control != new.control {
            out.push("acl.control");
        }
        out
    }

    /// The engine's per-listener ACLs, for the listeners that are listened on.
    pub fn listener_acls(&self, listen: &[SocketAddr]) -> Vec<engine::ListenerAcl> {
        self.listeners
            .iter()
            .filter(|l| listen.contains(&l.listen))
            .map(|l| engine::ListenerAcl {
                addr: l.listen,
                query: l.query.as_ref().map(|r| r.acl(&[])),
                recursion: l.recursion.as_ref().map(|r| r.acl(&[])),
            })
            .collect()
    }
}

/// Checks `[acl]` against the rest of the file: a listener with ACLs must be one of
/// `server.listen`, `tls.listen`, `https.listen` or `quic.listen`, and `acl.recursion` and `acl.transfer` replace `resolver.allow_recursion`
/// and `server.allow_transfer`, so a file gives one or the other. With `acl.recursion`, the
/// default `resolver.allow_recursion` is cleared: only `--allow-recursion` adds to it then.
pub(super) fn reconcile(config: &mut Config) -> Result<(), ConfigError> {
    let acl = &config.acl;
    if let Some(l) = acl.listeners.iter().find(|l| {
        !config.server.listen.contains(&l.listen)
            && !config.tls.listen.contains(&l.listen)
            && !config.https.listen.contains(&l.listen)
            && !config.quic.listen.contains(&l.listen)
    }) {
        return Err(ConfigError::at(
            l.defined_at.clone(),
            format!(
                "acl.listener.listen: {} is not one of server.listen, tls.listen, https.listen or quic.listen",
                l.listen
            ),
        ));
    }
    if let Some(at) = &acl.recursion_at {
        if config.resolver.allow_recursion != super::resolver::default_allow_recursion() {
            return Err(ConfigError::at(
                at.clone(),
                "acl.recursion: resolver.allow_recursion is set too; give the recursion ACL                  in one place (acl.recursion: `allow PREFIX` rules)",
            ));
        }
        config.resolver.allow_recursion.clear();
    }
    if let Some(at) = &acl.transfer_at
        && !config.server.allow_transfer.is_empty()
    {
        return Err(ConfigError::at(
            at.clone(),
            "acl.transfer: server.allow_transfer is set too; give the transfer ACL in one              place (acl.transfer: `allow PREFIX` rules)",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The section as written
// ---------------------------------------------------------------------------------------------

type Rules = Option<Spanned<Vec<Spanned<String>>>>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct AclSection {
    #[serde(default)]
    lists: BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    query: Rules,
    #[serde(default)]
    recursion: Rules,
    #[serde(default)]
    transfer: Rules,
    #[serde(default)]
    http: Rules,
    #[serde(default)]
    control: Rules,
    #[serde(default)]
    listener: Vec<Spanned<ListenerSection>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerSection {
    listen: Spanned<String>,
    #[serde(default)]
    query: Rules,
    #[serde(default)]
    recursion: Rules,
}

/// What reading needs: the file's name and text, for locations.
struct Reader<'a> {
    label: &'a str,
    text: &'a str,
    lists: BTreeMap<String, Vec<Prefix>>,
}

impl Reader<'_> {
    fn error(&self, span: std::ops::Range<usize>, message: String) -> ConfigError {
        ConfigError {
            location: Some(Location::of(self.label, self.text, span.start)),
            message,
        }
    }

    fn rules(&self, key: &str, rules: Rules) -> Result<Option<RuleList>, ConfigError> {
        let Some(rules) = rules else { return Ok(None) };
        if rules.get_ref().len() > MAX_RULES {
            return Err(self.error(rules.span(), format!("{key}: more than {MAX_RULES} rules")));
        }
        let mut out = Vec::with_capacity(rules.get_ref().len());
        for rule in rules.into_inner() {
            let (action, target) = self.split(key, &rule)?;
            let prefixes = if let Some(list) = guard::acl::builtin_list(target) {
                list.to_vec()
            } else if let Some(list) = self.lists.get(target) {
                list.clone()
            } else if let Ok(prefix) = target.parse::<Prefix>() {
                vec![prefix]
            } else {
                let why = match target.parse::<Prefix>() {
                    Err(e) if target.contains(['.', ':', '/']) => e.to_string(),
                    _ => format!(
                        "`{target}` is no list of acl.lists and no built-in list \
                         (any, none, localhost)"
                    ),
                };
                return Err(self.error(rule.span(), format!("{key}: {why}")));
            };
            out.push((action, prefixes));
        }
        Ok(Some(RuleList { rules: out }))
    }

    /// `ACTION TARGET`, split and the action read.
    fn split<'s>(
        &self,
        key: &str,
        rule: &'s Spanned<String>,
    ) -> Result<(AclAction, &'s str), ConfigError> {
        let mut words = rule.get_ref().split_whitespace();
        let (Some(action), Some(target), None) = (words.next(), words.next(), words.next()) else {
            return Err(self.error(
                rule.span(),
                format!(
                    "{key}: `{}` is not a rule: write ACTION TARGET, such as \"allow office\" \
                     or \"refuse 10.0.0.0/8\"",
                    rule.get_ref()
                ),
            ));
        };
        let action = action
            .parse::<AclAction>()
            .map_err(|e| self.error(rule.span(), format!("{key}: {e}")))?;
        Ok((action, target))
    }

    fn users(&self, key: &str, rules: Rules) -> Result<Option<UserAcl>, ConfigError> {
        let Some(rules) = rules else { return Ok(None) };
        if rules.get_ref().len() > MAX_RULES {
            return Err(self.error(rules.span(), format!("{key}: more than {MAX_RULES} rules")));
        }
        let mut out = Vec::with_capacity(rules.get_ref().len());
        for rule in rules.into_inner() {
            let (action, target) = self.split(key, &rule)?;
            let user = if target == "any" {
                UserTarget::Any
            } else if let Ok(uid) = target.parse::<u32>() {
                UserTarget::Uid(uid)
            } else {
                match nix::unistd::User::from_name(target) {
                    Ok(Some(user)) => UserTarget::Uid(user.uid.as_raw()),
                    _ => {
                        return Err(self.error(
                            rule.span(),
                            format!(
                                "{key}: `{target}` is no user of this system (give a user \
                                 name, a numeric user ID, or any)"
                            ),
                        ));
                    }
                }
            };
            out.push((action, user));
        }
        Ok(Some(UserAcl { rules: out }))
    }
}

impl AclSection {
    /// Checks the section; `label` and `text` locate errors.
    pub(super) fn into_settings(self, label: &str, text: &str) -> Result<AclSettings, ConfigError> {
        let mut reader = Reader {
            label,
            text,
            lists: BTreeMap::new(),
        };
        if self.lists.len() > MAX_LISTS {
            return Err(ConfigError {
                location: None,
                message: format!("{label}: acl.lists: more than {MAX_LISTS} lists"),
            });
        }
        let mut total = 0usize;
        for (name, prefixes) in self.lists {
            let span = prefixes.span();
            let valid = !name.is_empty()
                && name.len() <= MAX_NAME
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                && name.parse::<Prefix>().is_err();
            if !valid || guard::acl::builtin_list(&name).is_some() {
                return Err(reader.error(
                    span,
                    format!(
                        "acl.lists: `{name}` cannot name a list: use 1 to {MAX_NAME} letters, \
                         digits, `-` and `_`, and none of any, none, localhost"
                    ),
                ));
            }
            total += prefixes.get_ref().len();
            if total > MAX_PREFIXES {
                return Err(reader.error(
                    span,
                    format!("acl.lists: more than {MAX_PREFIXES} prefixes in all"),
                ));
            }
            let mut list = Vec::with_capacity(prefixes.get_ref().len());
            for p in prefixes.into_inner() {
                let prefix = p
                    .get_ref()
                    .parse::<Prefix>()
                    .map_err(|e| reader.error(p.span(), format!("acl.lists.{name}: {e}")))?;
                list.push(prefix);
            }
            reader.lists.insert(name, list);
        }
        let mut listeners: Vec<ListenerSettings> = Vec::new();
        if self.listener.len() > MAX_LISTEN {
            return Err(ConfigError {
                location: None,
                message: format!("{label}: acl.listener: more than {MAX_LISTEN} listeners"),
            });
        }
        for l in self.listener {
            let l = l.into_inner();
            let listen: SocketAddr = l.listen.get_ref().parse().map_err(|_| {
                reader.error(
                    l.listen.span(),
                    format!(
                        "acl.listener.listen: `{}` is not an address with a port, such as \
                         127.0.0.1:53",
                        l.listen.get_ref()
                    ),
                )
            })?;
            if listeners.iter().any(|o| o.listen == listen) {
                return Err(reader.error(
                    l.listen.span(),
                    format!("acl.listener.listen: {listen} has ACLs twice"),
                ));
            }
            listeners.push(ListenerSettings {
                listen,
                defined_at: Location::of(label, text, l.listen.span().start),
                query: reader.rules("acl.listener.query", l.query)?,
                recursion: reader.rules("acl.listener.recursion", l.recursion)?,
            });
        }
        let at = |r: &Rules| {
            r.as_ref()
                .map(|r| Location::of(label, text, r.span().start))
        };
        let (recursion_at, transfer_at) = (at(&self.recursion), at(&self.transfer));
        Ok(AclSettings {
            recursion_at,
            transfer_at,
            query: reader.rules("acl.query", self.query)?,
            recursion: reader.rules("acl.recursion", self.recursion)?,
            transfer: reader.rules("acl.transfer", self.transfer)?,
            http: reader.rules("acl.http", self.http)?,
            control: reader.users("acl.control", self.control)?,
            listeners,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::net::IpAddr;

    use super::*;

    fn read(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "acl.toml", None)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_keep_todays_behaviour() {
        let c = read("").unwrap();
        assert_eq!(c.acl, AclSettings::default());
        assert!(c.acl.query_acl().is_always(AclAction::Allow));
        assert!(c.acl.http_acl().is_always(AclAction::Allow));
        let recursion = c.acl.recursion_acl(&c);
        assert!(recursion.allows(ip("127.0.0.1")));
        assert!(recursion.allows(ip("192.168.1.1")));
        assert_eq!(recursion.decide(ip("203.0.113.1")), AclAction::Refuse);
        assert!(c.acl.transfer_acl(&c).is_always(AclAction::Refuse));
        let control = c.acl.control_acl(&c);
        assert_eq!(control.decide(0), AclAction::Allow);
        assert_eq!(
            control.decide(nix::unistd::geteuid().as_raw()),
            AclAction::Allow
        );
    }

    #[test]
    fn rules_lists_and_listeners() {
        let c = read(
            r#"
[server]
listen = ["127.0.0.1:5300", "127.0.1.1:5300"]
allow_transfer = []

[acl]
lists = { office = ["192.0.2.0/24", "2001:db8::/32"], lab = ["10.1.0.0/16"] }
query = ["allow office", "drop lab", "refuse 10.0.0.0/8", "allow any"]
recursion = ["allow localhost", "drop any"]
transfer = ["allow office"]
http = ["refuse none", "allow localhost"]
control = ["allow root", "refuse 4242", "drop any"]

[[acl.listener]]
listen = "127.0.1.1:5300"
query = ["refuse any"]
"#,
        )
        .unwrap();
        let q = c.acl.query_acl();
        assert_eq!(q.decide(ip("192.0.2.1")), AclAction::Allow);
        assert_eq!(q.decide(ip("10.1.2.3")), AclAction::Drop);
        assert_eq!(q.decide(ip("10.2.2.3")), AclAction::Refuse);
        assert_eq!(q.decide(ip("203.0.113.1")), AclAction::Allow);
        // acl.recursion replaces the default resolver.allow_recursion.
        assert!(c.resolver.allow_recursion.is_empty());
        let r = c.acl.recursion_acl(&c);
        assert_eq!(r.decide(ip("::1")), AclAction::Allow);
        assert_eq!(r.decide(ip("192.168.0.1")), AclAction::Drop);
        assert!(c.acl.transfer_acl(&c).allows(ip("2001:db8::53")));
        assert!(!c.acl.http_acl().allows(ip("192.0.2.1")));
        let control = c.acl.control_acl(&c);
        assert_eq!(control.decide(0), AclAction::Allow);
        assert_eq!(control.decide(4242), AclAction::Refuse);
        assert_eq!(control.decide(4243), AclAction::Drop);
        let listeners = c.acl.listener_acls(&c.server.listen);
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners[0].addr, "127.0.1.1:5300".parse().unwrap());
        assert!(
            listeners[0]
                .query
                .as_ref()
                .unwrap()
                .is_always(AclAction::Refuse)
        );
        assert!(listeners[0].recursion.is_none());
        // A listener not listened on (after --listen) is left out.
        assert!(
            c.acl
                .listener_acls(&["127.0.0.1:5300".parse().unwrap()])
                .is_empty()
        );
    }

    #[test]
    fn flags_come_before_the_rules() {
        let mut c =
            read("[acl]\nrecursion = [\"refuse any\"]\ntransfer = [\"drop any\"]\n").unwrap();
        c.apply(&crate::config::Overrides {
            allow_recursion: vec!["198.51.100.0/24".parse().unwrap()],
            allow_transfer: vec!["198.51.100.7".parse().unwrap()],
            ..Default::default()
        })
        .unwrap();
        let r = c.acl.recursion_acl(&c);
        assert!(r.allows(ip("198.51.100.9")));
        assert_eq!(r.decide(ip("127.0.0.1")), AclAction::Refuse);
        let t = c.acl.transfer_acl(&c);
        assert!(t.allows(ip("198.51.100.7")));
        assert_eq!(t.decide(ip("198.51.100.8")), AclAction::Drop);
    }

    #[test]
    fn errors_have_locations() {
        let cases = [
            (
                "[acl]\nquery = [\"allow office\"]\n",
                "acl.toml:2:10: acl.query: `office` is no list of acl.lists",
            ),
            (
                "[acl]\nquery = [\"allow any\",\n  \"refuse 10.0.0.1/8\"]\n",
                "acl.toml:3:3: acl.query: `10.0.0.1/8` has bits set after the prefix length: did you mean 10.0.0.0/8?",
            ),
            (
                "[acl]\nrecursion = [\"deny any\"]\n",
                "acl.toml:2:14: acl.recursion: `deny` is not an action: use allow, refuse or drop",
            ),
            (
                "[acl]\nhttp = [\"allow\"]\n",
                "acl.toml:2:9: acl.http: `allow` is not a rule",
            ),
            (
                "[acl]\nlists = { a = [\"192.0.2.0/33\"] }\n",
                "acl.toml:2:16: acl.lists.a: `192.0.2.0/33`: the prefix length must be a number from 0 to 32",
            ),
            (
                "[acl]\nlists = { any = [] }\n",
                "acl.toml:2:17: acl.lists: `any` cannot name a list",
            ),
            (
                "[acl]\ncontrol = [\"allow no-such-user-here\"]\n",
                "acl.toml:2:12: acl.control: `no-such-user-here` is no user of this system",
            ),
            (
                "[[acl.listener]]\nlisten = \"127.0.0.9:53\"\n",
                "acl.toml:2:10: acl.listener.listen: 127.0.0.9:53 is not one of server.listen",
            ),
            (
                "[[acl.listener]]\nlisten = \"127.0.0.1:53\"\nquery = [\"allow nowhere\"]\n",
                "acl.toml:3:10: acl.listener.query: `nowhere` is no list",
            ),
            (
                "[resolver]\nallow_recursion = [\"192.0.2.0/24\"]\n[acl]\nrecursion = [\"allow any\"]\n",
                "acl.toml:4:13: acl.recursion: resolver.allow_recursion is set too",
            ),
            (
                "[server]\nallow_transfer = [\"192.0.2.1\"]\n[acl]\ntransfer = [\"allow any\"]\n",
                "acl.toml:4:12: acl.transfer: server.allow_transfer is set too",
            ),
            (
                "[acl]\nquerry = []\n",
                "acl.toml:2:1: unknown field `querry`",
            ),
        ];
        for (text, expected) in cases {
            let e = read(text).unwrap_err().to_string();
            assert!(
                e.starts_with(expected),
                "{text}\ngot:  {e}\nwant: {expected}"
            );
        }
    }
}
