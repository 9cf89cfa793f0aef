//! Domain lists as blocklists publish them, in three formats told apart line by line:
//!
//! | line | format | meaning |
//! |---|---|---|
//! | `ads.example` | plain | that name only |
//! | `*.ads.example` | plain | every name below `ads.example` (not the name itself) |
//! | `0.0.0.0 ads.example a.example` | hosts | each name only (the address is ignored); `localhost` and its kin are skipped |
//! | `\|\|ads.example^` | AdBlock | the name and every name below it |
//! | `@@\|\|ads.example^` | AdBlock | an exception: the name and below are allowed |
//!
//! Hosts entries are exact and `||name^` rules cover the subdomains, as AdGuard Home reads
//! them. `#` and `!` start comments (also after a hosts entry), `[Adblock Plus 2.0]` headers
//! are ignored. What cannot be used in DNS (cosmetic `##` rules, rules with modifiers other than
//! `$important`, regular expressions, names with wildcards inside, URLs, invalid names) is
//! skipped and counted; the first [`MAX_REPORTED`] are reported with their line and column so
//! the operator can find them. The whole list is refused (and the last good one kept) only when
//! the file cannot be read or holds more entries than allowed.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use wire::{Name, NameRef};

use super::set::NameSet;

/// Skipped lines reported by location (the rest are only counted).
pub const MAX_REPORTED: usize = 10;
/// Largest list file read: 1 GiB.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Names in hosts files that name the machine itself, never blocked.
const HOSTS_SELF: [&str; 12] = [
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Whether a list blocks (its `@@` exceptions still allow) or allows everything it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// A blocklist.
    Block,
    /// An allowlist.
    Allow,
}

/// A line that was skipped, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// Why.
    pub why: &'static str,
}

/// A list that could not be used at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    /// `file:line:col`-style location (line and column 1 for whole-file problems).
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ListError {}

/// A parsed list: names blocked, names allowed (exceptions), and what was skipped.
#[derive(Clone, Debug, Default)]
pub struct DomainList {
    /// Names it blocks (empty for an allowlist).
    pub block: NameSet,
    /// Names it allows.
    pub allow: NameSet,
    /// Lines skipped.
    pub skipped: usize,
    /// The first [`MAX_REPORTED`] of them.
    pub reported: Vec<Skipped>,
}

impl DomainList {
    /// Reads the list in `path`, at most `max_entries` names.
    pub fn load(path: &Path, kind: ListKind, max_entries: usize) -> Result<DomainList, ListError> {
        let whole = |message: String| ListError {
            file: path.display().to_string(),
            line: 1,
            column: 1,
            message,
        };
        let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        if !meta.is_file() {
            return Err(whole("not a regular file".into()));
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(whole(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        let text = std::fs::read(path).map_err(|e| whole(format!("cannot read: {e}")))?;
        DomainList::parse(&text, kind, max_entries).map_err(|(line, column, message)| ListError {
            file: path.display().to_string(),
            line,
            column,
            message,
        })
    }

    /// Parses list text; an error is `(line, column, message)`.
    pub fn parse(
        text: &[u8],
        kind: ListKind,
        max_entries: usize,
    ) -> Result<DomainList, (u32, u32, String)> {
        let mut list = DomainList::default();
        for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let mut outcome = Vec::new();
            let skipped = parse_line(raw, &mut outcome);
            if let Some((column, why)) = skipped {
                list.skipped += 1;
                if list.reported.len() < MAX_REPORTED {
                    list.reported.push(Skipped {
                        line,
                        column: u32::try_from(column + 1).unwrap_or(u32::MAX),
                        why,
                    });
                }
            }
            for rule in outcome {
                if list.block.len() + list.allow.len() >= max_entries {
                    return Err((line, 1, format!("more than {max_entries} entries")));
                }
                let set = if rule.allow || kind == ListKind::Allow {
                    &mut list.allow
                } else {
                    &mut list.block
                };
                if rule.exact {
                    set.insert(rule.name.as_ref(), false, 0);
                }
                if rule.below {
                    set.insert(rule.name.as_ref(), true, 0);
                }
            }
        }
        Ok(list)
    }

    /// Whether this list blocks `name`: a block entry matches and no exception does.
    #[inline]
    pub fn blocks(&self, name: NameRef<'_>) -> bool {
        self.block.lookup(name).is_some() && self.allow.lookup(name).is_none()
    }

    /// Whether this list allows `name`.
    #[inline]
    pub fn allows(&self, name: NameRef<'_>) -> bool {
        self.allow.lookup(name).is_some()
    }

    /// Names held (block and allow).
    pub fn len(&self) -> usize {
        self.block.len() + self.allow.len()
    }

    /// Whether it holds no name.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.block.heap_bytes() + self.allow.heap_bytes()
    }
}

/// One name a line adds.
struct Rule {
    name: Name,
    exact: bool,
    below: bool,
    allow: bool,
}

/// Reads one line into `rules`; returns the column and reason when it is skipped.
fn parse_line(raw: &[u8], rules: &mut Vec<Rule>) -> Option<(usize, &'static str)> {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let line = raw[start..].trim_ascii_end();
    if line.is_empty() || line[0] == b'#' || line[0] == b'!' || line[0] == b'[' {
        return None;
    }
    for cosmetic in [&b"##"[..], b"#@#", b"#?#", b"#$#", b"#%#"] {
        if let Some(at) = line.windows(cosmetic.len()).position(|w| w == cosmetic) {
            return Some((start + at, "cosmetic rule"));
        }
    }
    let (allow, rest, at) = match line.strip_prefix(b"@@") {
        Some(rest) => (true, rest, start + 2),
        None => (false, line, start),
    };
    if let Some(body) = rest.strip_prefix(b"||") {
        let at = at + 2;
        let Some(end) = body.iter().position(|&b| b == b'^') else {
            return Some((at, "AdBlock rule without ^"));
        };
        let tail = &body[end + 1..];
        let tail = tail.strip_prefix(b"|").unwrap_or(tail);
        if !(tail.is_empty() || tail == b"$important") {
            return Some((at + end + 1, "AdBlock modifier"));
        }
        return match domain(&body[..end]) {
            Some(name) => {
                rules.push(Rule {
                    name,
                    exact: true,
                    below: true,
                    allow,
                });
                None
            }
            None => Some((at, "not a domain name")),
        };
    }
    if allow {
        return Some((start, "AdBlock rule not anchored with ||"));
    }
    // Hosts or plain: fields up to a comment.
    let text = match line.iter().position(|&b| b == b'#') {
        Some(hash) => &line[..hash],
        None => line,
    };
    let mut fields = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let first = fields.next()?;
    let is_ip = std::str::from_utf8(first)
        .ok()
        .and_then(|s| s.parse::<IpAddr>().ok())
        .is_some();
    if is_ip {
        let mut any = false;
        for field in fields {
            any = true;
            let self_name = HOSTS_SELF
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(field.trim_ascii_end()));
            if self_name {
                continue;
            }
            let column = field.as_ptr() as usize - raw.as_ptr() as usize;
            match domain(field) {
                Some(name) => rules.push(Rule {
                    name,
                    exact: true,
                    below: false,
                    allow: false,
                }),
                None => return Some((column, "not a domain name")),
            }
        }
        return (!any).then_some((start, "hosts line without a name"));
    }
    if fields.next().is_some() {
        return Some((start, "more than one field"));
    }
    let (field, below) = match first.strip_prefix(b"*.") {
        Some(rest) => (rest, true),
        None => (first, false),
    };
    match domain(field) {
        Some(name) => {
            rules.push(Rule {
                name,
                exact: !below,
                below,
                allow: false,
            });
            None
        }
        None => Some((start, "not a domain name")),
    }
}

/// `text` as an absolute, lowercased name, if it is a plain host name (letters, digits, `-`,
/// `_`, dots; a trailing dot allowed).
fn domain(text: &[u8]) -> Option<Name> {
    let ok = !text.is_empty()
        && text
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        return None;
    }
    let mut name = Name::from_text(text, Some(NameRef::ROOT)).ok()?;
    if name.as_ref().is_root() {
        return None;
    }
    name.make_lowercase();
    Some(name)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn list(text: &str) -> DomainList {
        DomainList::parse(text.as_bytes(), ListKind::Block, 100).unwrap()
    }

    fn blocks(l: &DomainList, name: &str) -> bool {
        l.blocks(name.parse::<Name>().unwrap().as_ref())
    }

    #[test]
    fn three_formats_on_their_lines() {
        let l = list(
            "# comment\n! adblock comment\n[Adblock Plus 2.0]\nplain.example\n*.wild.example\n\
             0.0.0.0 hosts.example other.example # trailing\n127.0.0.1 localhost\n\
             ||adblock.example^\n@@||ok.adblock.example^\nexample.com##.banner\n\
             ||mod.example^$third-party\n||imp.example^$important\n",
        );
        assert!(blocks(&l, "plain.example."));
        assert!(!blocks(&l, "a.plain.example."));
        assert!(!blocks(&l, "wild.example."));
        assert!(blocks(&l, "a.b.wild.example."));
        assert!(blocks(&l, "HOSTS.example."));
        assert!(!blocks(&l, "x.hosts.example."));
        assert!(blocks(&l, "other.example."));
        assert!(!blocks(&l, "localhost."));
        assert!(blocks(&l, "adblock.example."));
        assert!(blocks(&l, "x.adblock.example."));
        assert!(!blocks(&l, "ok.adblock.example."));
        assert!(!blocks(&l, "a.ok.adblock.example."));
        assert!(!blocks(&l, "mod.example."));
        assert!(blocks(&l, "imp.example."));
        assert_eq!(l.skipped, 2);
        assert_eq!(l.reported[0].line, 10);
        assert_eq!(l.reported[0].why, "cosmetic rule");
        assert_eq!(l.reported[1].line, 11);
    }

    #[test]
    fn bad_names_are_skipped_with_their_column() {
        let l = list("good.example\n  bad..example\n0.0.0.0 ok.example b@d\n");
        assert!(blocks(&l, "good.example."));
        assert!(blocks(&l, "ok.example."));
        assert_eq!(l.skipped, 2);
        assert_eq!((l.reported[0].line, l.reported[0].column), (2, 3));
        assert_eq!((l.reported[1].line, l.reported[1].column), (3, 20));
    }

    #[test]
    fn the_entry_bound_refuses_the_list() {
        let err = DomainList::parse(b"a.example\nb.example\nc.example\n", ListKind::Block, 2)
            .unwrap_err();
        assert_eq!(err.0, 3);
    }

    #[test]
    fn an_allowlist_allows_everything_it_names() {
        let l = DomainList::parse(b"a.example\n||b.example^\n", ListKind::Allow, 10).unwrap();
        assert!(l.block.is_empty());
        assert!(l.allows("a.example.".parse::<Name>().unwrap().as_ref()));
        assert!(l.allows("x.b.example.".parse::<Name>().unwrap().as_ref()));
    }
}
