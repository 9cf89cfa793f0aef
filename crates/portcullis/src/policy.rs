//! Loading and reloading the blocklists, allowlists and response policy zones of
//! `[[blocklist]]`, `[[allowlist]]` and `[[rpz]]` into the [`SharedPolicy`] every engine reads.
//!
//! A [`PolicyLoader`] keeps, per file, the last version that loaded and the file's modification
//! time and size. [`PolicyLoader::load`] reads the files that changed (or all of them when
//! forced: at start, on SIGHUP and `ctl reload`), builds a new [`Policy`] and swaps it in; the
//! engine is not rebuilt. A file that fails keeps its last good version (the error, with its
//! `file:line:col`, is reported); at start there is no last version, and the error stops the
//! server. [`watch`] polls the files every `policy.check_interval`.
//!
//! The operator's run-time list ([`PolicyLoader::block`], [`PolicyLoader::allow`]: `ctl block
//! NAME`, `ctl allow NAME`, `POST /api/block`, `POST /api/allow`) holds at most
//! `dashboard.max_overrides` names, each blocked or allowed with the names below it. Blocked
//! names form the blocklist `operator`, checked before the configured ones (NXDOMAIN with EDE
//! 15 "blocked by operator"); allowed names the allowlist `operator`, which exempts them from
//! every blocklist (not from response policy zones, which decide first). The list lives in
//! memory until the server stops: reloads keep it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use engine::SharedPolicy;
use guard::policy::{Action, BlockList, DomainList, ListKind, Policy, PolicyZone, Rpz};
use transport::Shutdown;

use crate::config::PolicySettings;

/// What one file holds once loaded.
#[derive(Clone, Debug)]
enum Item {
    List(Arc<DomainList>),
    Zone(Arc<Rpz>),
}

/// A file's last good version.
#[derive(Clone, Debug)]
struct Loaded {
    stamp: Option<(SystemTime, u64)>,
    item: Item,
}

/// The resolver's view of the policy: a CNAME or DNAME target the policy answers for (any
/// action but PASSTHRU and TCP-only) is not looked up, so a blocked name never leaves the
/// server even behind an alias. Reads the current policy, reloads included.
pub fn alias_stop(shared: SharedPolicy) -> recursor::AliasStop {
    recursor::AliasStop(Arc::new(move |name| {
        let policy = shared.load();
        !policy.is_empty()
            && policy
                .check_qname(name)
                .is_some_and(|hit| !matches!(*hit.action, Action::Passthru | Action::TcpOnly))
    }))
}

/// What a load did: informational lines and errors (each located).
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Lists loaded, with their sizes, and lines skipped.
    pub loaded: Vec<String>,
    /// Files that could not be loaded.
    pub errors: Vec<String>,
    /// Whether a new policy was swapped in.
    pub swapped: bool,
}

/// The lists' files and their last good versions; see the [module docs](self).
#[derive(Debug)]
pub struct PolicyLoader {
    settings: PolicySettings,
    shared: SharedPolicy,
    last: HashMap<(PathBuf, u8), Loaded>,
    /// The operator's run-time list: each name, and whether it is blocked (else allowed).
    overrides: Vec<(wire::Name, bool)>,
    /// Most names in `overrides`.
    max_overrides: usize,
    /// The run-time list changed since the policy was built.
    overrides_changed: bool,
}

/// The name of the operator's run-time blocklist and allowlist (events, EDE text).
pub const OPERATOR_LIST: &str = "operator";

/// A file's modification time and size, when it can be read.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl PolicyLoader {
    /// A loader for `settings`, with an empty policy.
    pub fn new(settings: PolicySettings) -> PolicyLoader {
        PolicyLoader {
            settings,
            shared: Arc::new(ArcSwap::from_pointee(Policy::default())),
            last: HashMap::new(),
            overrides: Vec::new(),
            max_overrides: 1024,
            overrides_changed: false,
        }
    }

    /// Bounds the operator's run-time list (`dashboard.max_overrides`); names beyond are kept
    /// until removed, new ones refused.
    pub fn set_max_overrides(&mut self, max: usize) {
        self.max_overrides = max;
    }

    /// Blocks `name` and below at run time (see the module docs) and swaps the policy in.
    pub fn block(&mut self, name: &wire::Name) -> Result<String, String> {
        self.set_override(name, true)
    }

    /// Allows `name` and below at run time, past every blocklist, and swaps the policy in.
    pub fn allow(&mut self, name: &wire::Name) -> Result<String, String> {
        self.set_override(name, false)
    }

    fn set_override(&mut self, name: &wire::Name, block: bool) -> Result<String, String> {
        let mut name = name.clone();
        name.make_lowercase();
        let what = if block { "blocked" } else { "allowed" };
        let full = self.overrides.len() >= self.max_overrides;
        match self.overrides.iter_mut().find(|(n, _)| *n == name) {
            Some((_, b)) if *b == block => return Ok(format!("{name} was already {what}")),
            Some((_, b)) => *b = block,
            None if full => {
                return Err(format!(
                    "the operator's list is full ({} names, dashboard.max_overrides)",
                    self.max_overrides
                ));
            }
            None => self.overrides.push((name.clone(), block)),
        }
        self.overrides_changed = true;
        let report = self.load(false);
        log_report(&report);
        Ok(format!(
            "{name} and the names below it are {what} (until the server stops)"
        ))
    }

    /// The operator's list as a blocklist or allowlist (`None` when it has no such name).
    fn operator_list(&self, block: bool) -> Option<Arc<DomainList>> {
        let mut text = String::new();
        for (name, _) in self.overrides.iter().filter(|(_, b)| *b == block) {
            let name = name.to_string();
            text.push_str("||");
            text.push_str(name.trim_end_matches('.'));
            text.push_str("^\n");
        }
        if text.is_empty() {
            return None;
        }
        let kind = if block {
            ListKind::Block
        } else {
            ListKind::Allow
        };
        // Each name fills two entries (the name, and below it).
        DomainList::parse(text.as_bytes(), kind, self.overrides.len() * 2 + 2)
            .ok()
            .map(Arc::new)
    }

    /// The policy the engines read.
    pub fn shared(&self) -> &SharedPolicy {
        &self.shared
    }

    /// The settings in force.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// New settings (a reload): the next [`PolicyLoader::load`] applies them.
    pub fn configure(&mut self, settings: PolicySettings) {
        self.settings = settings;
    }

    /// Whether a configured file changed since it was loaded.
    pub fn changed(&self) -> bool {
        let s = &self.settings;
        let files = s
            .blocklists
            .iter()
            .map(|b| (&b.source.file, 0))
            .chain(s.allowlists.iter().map(|a| (&a.file, 1)))
            .chain(s.rpz.iter().map(|z| (&z.source.file, 2)));
        files.into_iter().any(|(file, zone)| {
            self.last
                .get(&(file.clone(), zone))
                .is_none_or(|l| l.stamp != stamp(file))
        })
    }

    /// Loads the files that changed (all of them when `force`), builds the policy and swaps it
    /// in when anything changed.
    pub fn load(&mut self, force: bool) -> LoadReport {
        let mut report = LoadReport::default();
        let mut changed = force || std::mem::take(&mut self.overrides_changed);
        let max = self.settings.max_entries;
        let mut kept: HashMap<(PathBuf, u8), Loaded> = HashMap::new();
        let mut get =
            |file: &Path, zone: Option<&wire::Name>, kind: ListKind, report: &mut LoadReport| {
                let code = match (zone, kind) {
                    (Some(_), _) => 2,
                    (None, ListKind::Allow) => 1,
                    (None, ListKind::Block) => 0,
                };
                let key = (file.to_path_buf(), code);
                if let Some(k) = kept.get(&key) {
                    return Some(k.item.clone());
                }
                let now = stamp(file);
                let last = self.last.get(&key);
                if !force
                    && let Some(l) = last
                    && l.stamp == now
                {
                    kept.insert(key, l.clone());
                    return Some(l.item.clone());
                }
                changed = true;
                let item = match zone {
                    Some(origin) => Rpz::load(file, origin.as_ref(), max)
                        .map(|z| {
                            report.loaded.push(format!(
                                "{}: policy zone {origin}: {} triggers",
                                file.display(),
                                z.len()
                            ));
                            report.loaded.extend(z.skipped.iter().cloned());
                            Item::Zone(Arc::new(z))
                        })
                        .map_err(|e| e.to_string()),
                    None => DomainList::load(file, kind, max)
                        .map(|l| {
                            report.loaded.push(format!(
                                "{}: {} names, {} lines skipped",
                                file.display(),
                                l.len(),
                                l.skipped
                            ));
                            for s in &l.reported {
                                report.loaded.push(format!(
                                    "{}:{}:{}: skipped: {}",
                                    file.display(),
                                    s.line,
                                    s.column,
                                    s.why
                                ));
                            }
                            Item::List(Arc::new(l))
                        })
                        .map_err(|e| e.to_string()),
                };
                match item {
                    Ok(item) => {
                        kept.insert(
                            key,
                            Loaded {
                                stamp: now,
                                item: item.clone(),
                            },
                        );
                        Some(item)
                    }
                    Err(e) => {
                        let keeping = last.is_some();
                        report.errors.push(if keeping {
                            format!("{e} (keeping the last good version)")
                        } else {
                            e
                        });
                        let l = last?.clone();
                        let item = l.item.clone();
                        kept.insert(key, l);
                        Some(item)
                    }
                }
            };
        let s = self.settings.clone();
        let mut zones = Vec::new();
        for z in &s.rpz {
            if let Some(Item::Zone(rpz)) = get(
                &z.source.file,
                Some(&z.origin),
                ListKind::Block,
                &mut report,
            ) {
                zones.push(PolicyZone::new(rpz, z.ede));
            }
        }
        let mut blocklists = Vec::new();
        if let Some(list) = self.operator_list(true) {
            blocklists.push(BlockList::new(
                OPERATOR_LIST,
                list,
                Action::NxDomain,
                Some(guard::policy::EDE_BLOCKED),
            ));
        }
        for b in &s.blocklists {
            if let Some(Item::List(list)) = get(&b.source.file, None, ListKind::Block, &mut report)
            {
                blocklists.push(BlockList::new(
                    &b.source.name,
                    list,
                    b.action.clone(),
                    b.ede,
                ));
            }
        }
        let mut allowlists = Vec::new();
        for a in &s.allowlists {
            if let Some(Item::List(list)) = get(&a.file, None, ListKind::Allow, &mut report) {
                allowlists.push((a.name.as_str().into(), list));
            }
        }
        if let Some(list) = self.operator_list(false) {
            allowlists.push((OPERATOR_LIST.into(), list));
        }
        let removed = self.last.keys().any(|k| !kept.contains_key(k));
        self.last = kept;
        if changed || removed {
            self.shared
                .store(Arc::new(Policy::new(zones, blocklists, allowlists)));
            report.swapped = true;
        }
        report
    }
}

/// Logs a load's report.
pub fn log_report(report: &LoadReport) {
    for line in &report.loaded {
        tracing::info!("{line}");
    }
    for e in &report.errors {
        tracing::error!("{e}");
    }
}

/// Checks the files every `policy.check_interval` (zero: never) and reloads those that changed,
/// until `shutdown`.
pub async fn watch(loader: Arc<Mutex<PolicyLoader>>, shutdown: Shutdown) {
    loop {
        let interval = loader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .settings()
            .check_interval;
        let wait = if interval.is_zero() {
            std::time::Duration::from_secs(60)
        } else {
            interval
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return,
        }
        if interval.is_zero() {
            continue;
        }
        let loader = loader.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let mut l = loader.lock().unwrap_or_else(PoisonError::into_inner);
            if l.changed() {
                let report = l.load(false);
                log_report(&report);
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn name(text: &str) -> wire::Name {
        text.parse().unwrap()
    }

    /// The list that decides `text` in the current policy, if any.
    fn decided_by(loader: &PolicyLoader, text: &str) -> Option<String> {
        let policy = loader.shared().load();
        policy
            .check_qname(name(text).as_ref())
            .map(|hit| hit.source.to_owned())
    }

    #[test]
    fn the_operators_list_blocks_allows_and_is_bounded() {
        let mut loader = PolicyLoader::new(PolicySettings::default());
        loader.set_max_overrides(2);
        loader.load(true);
        assert_eq!(decided_by(&loader, "x.ads.example."), None);
        let said = loader.block(&name("Ads.Example.")).unwrap();
        assert!(
            said.contains("ads.example. and the names below it are blocked"),
            "{said}"
        );
        assert_eq!(
            decided_by(&loader, "ads.example.").as_deref(),
            Some(OPERATOR_LIST)
        );
        assert_eq!(
            decided_by(&loader, "x.ads.example.").as_deref(),
            Some(OPERATOR_LIST)
        );
        assert_eq!(decided_by(&loader, "other.example."), None);
        assert!(
            loader
                .block(&name("ads.example."))
                .unwrap()
                .contains("already")
        );
        // Allowing the same name turns it around, without taking a second place.
        loader.allow(&name("ads.example.")).unwrap();
        assert_eq!(decided_by(&loader, "x.ads.example."), None);
        loader.block(&name("b.example.")).unwrap();
        let full = loader.block(&name("c.example.")).unwrap_err();
        assert!(full.contains("full (2 names"), "{full}");
        // An allowed name passes the blocked list too, and reloads keep both.
        loader.block(&name("ads.example.")).unwrap();
        loader.allow(&name("b.example.")).unwrap();
        loader.load(true);
        assert_eq!(
            decided_by(&loader, "ads.example.").as_deref(),
            Some(OPERATOR_LIST)
        );
        assert_eq!(decided_by(&loader, "b.example."), None);
    }
}
