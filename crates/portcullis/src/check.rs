//! `portcullis check`: reads every zone a [`Config`] names, as the server would, and reports
//! every error and warning with its file, line and column.

use std::path::Path;

use wire::Name;
use zone::{Built, LoadError, Loc, Zone};

use crate::config::{Config, ZoneSource};

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Problems that stop the server from starting, one per line, each with its location.
    pub errors: Vec<String>,
    /// Problems that do not, one per line.
    pub warnings: Vec<String>,
    /// The zones that loaded.
    pub zones: Vec<ZoneSummary>,
    /// What detection loads: the mode, the model and the public suffix list (with
    /// `[detect]` on and its files good).
    pub detection: Option<String>,
}

/// A zone that loaded.
#[derive(Clone, Debug)]
pub struct ZoneSummary {
    /// Its apex.
    pub origin: Name,
    /// Its SOA serial.
    pub serial: u32,
    /// How many records it holds.
    pub records: usize,
    /// How long reading and parsing it took, in nanoseconds (the zone-load metric).
    pub load_ns: u64,
    /// How long signing it took, in nanoseconds, when the server signs it (set by `serve`).
    pub sign_ns: Option<u64>,
}

impl Report {
    /// Whether the configuration can be served.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks `config` (its own warnings), loads each of its zones and, with the resolver on, its
/// root hints file and cache settings, and its blocklists and policy zones, as `portcullis
/// serve` does when it starts.
pub fn check(config: &Config) -> Report {
    let mut report = load(config).0;
    if config.resolver.enabled {
        if let Some(path) = &config.resolver.root_hints
            && let Err(e) = recursor::Hints::from_file(path)
        {
            report.errors.push(e.to_string());
        }
        if let Err(e) = crate::serve::cache_config(&config.cache) {
            report.errors.push(format!("{}: cache: {e}", config.label));
        }
        // The encrypted upstreams as the server builds them (a CA file that cannot be read).
        if let Err(e) = crate::serve::secure_upstreams(config) {
            report.errors.push(e);
        }
    }
    // The blocklists, allowlists and response policy zones, as the server loads them.
    if config.resolver.enabled {
        match crate::detection::check(config) {
            Ok(summary) => report.detection = Some(summary),
            Err(errors) => report.errors.extend(errors),
        }
    }
    let policy = crate::policy::PolicyLoader::new(config.policy.clone()).load(true);
    report.errors.extend(policy.errors);
    let built = crate::tls::Resumption::new()
        .and_then(|resumption| crate::tls::server_config(&config.tls, &resumption));
    if let Err(e) = built {
        report.errors.push(format!("{}: {e}", config.label));
    }
    let doq = crate::tls::Resumption::new().and_then(|resumption| {
        crate::tls::doq_server_config(&config.tls, &config.quic, &resumption)
    });
    if let Err(e) = doq {
        report.errors.push(format!("{}: {e}", config.label));
    }
    let https = crate::tls::Resumption::new()
        .and_then(|resumption| crate::serve::https_tls_config(config, &resumption));
    if let Err(e) = https {
        report.errors.push(format!("{}: {e}", config.label));
    }
    report
}

/// `d` in nanoseconds, saturating (585 years).
pub(crate) fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Checks `config` as [`check`] does and keeps the zones that loaded, in configuration order:
/// `portcullis serve` builds its engine from them when the report has no error.
pub fn load(config: &Config) -> (Report, Vec<Zone>) {
    let mut zones = Vec::with_capacity(config.zones.len());
    let mut report = Report {
        warnings: config.warnings().iter().map(ToString::to_string).collect(),
        errors: encrypted_only_errors(config),
        ..Report::default()
    };
    for zone in &config.zones {
        let origin = zone.origin.as_ref();
        let started = std::time::Instant::now();
        let (loaded, shift) = match &zone.source {
            ZoneSource::File(path) => (zone::load_file(path, origin), 0),
            ZoneSource::Inline { text, first_line } => (
                zone::load_str(text, Path::new(&config.label), origin),
                first_line.saturating_sub(1),
            ),
        };
        match loaded {
            Ok(Built { zone: z, warnings }) => {
                report.warnings.extend(warnings.into_iter().map(|mut w| {
                    shift_loc(w.loc.as_mut(), shift);
                    w.to_string()
                }));
                tracing::info!(
                    zone = %zone.origin,
                    serial = z.serial(),
                    records = z.record_count(),
                    "zone loaded"
                );
                report.zones.push(ZoneSummary {
                    origin: zone.origin.clone(),
                    serial: z.serial(),
                    records: z.record_count(),
                    load_ns: nanos(started.elapsed()),
                    sign_ns: None,
                });
                zones.push(z);
            }
            Err(LoadError::Parse(errors)) => {
                report.errors.extend(errors.into_iter().map(|mut e| {
                    shift_loc(Some(&mut e.loc), shift);
                    format!(
                        "{e} (zone {}, configured at {})",
                        zone.origin, zone.defined_at
                    )
                }));
            }
            Err(LoadError::Zone(problems)) => {
                report.errors.extend(problems.into_iter().map(|mut p| {
                    shift_loc(p.loc.as_mut(), shift);
                    format!(
                        "{p} (zone {}, configured at {})",
                        zone.origin, zone.defined_at
                    )
                }));
            }
        }
    }
    (report, zones)
}

/// Strict mode (`resolver.encrypted_only`): the resolver must never need plain DNS. That
/// takes a `[[forward]]` for `.` whose servers are all encrypted (otherwise names are resolved
/// iteratively, over plain port 53 to authoritative servers, which have no encrypted transport
/// to offer), and no plain server in any forward or stub (a zone sent elsewhere would leave
/// over plain DNS too). Empty when strict mode is off or the configuration complies.
pub fn encrypted_only_errors(config: &Config) -> Vec<String> {
    let r = &config.resolver;
    if !(r.enabled && r.encrypted_only) {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let root = config
        .forwards
        .iter()
        .find(|f| f.zone.as_ref().is_root() && !f.stub);
    let all_encrypted = |f: &crate::config::ForwardConfig| f.to.iter().all(|a| !f.is_plain(*a));
    if !root.is_some_and(all_encrypted) {
        errors.push(format!(
            "{}: resolver.encrypted_only needs a [[forward]] for \".\" whose servers are all \
             encrypted (tls://, https://, quic://): without it names are resolved iteratively, \
             and iterative resolution asks authoritative servers over plain DNS on port 53",
            config.label
        ));
    }
    for f in &config.forwards {
        if let Some(plain) = f.to.iter().find(|a| f.is_plain(**a)) {
            let what = if f.stub { "stub" } else { "forward" };
            errors.push(format!(
                "{}: resolver.encrypted_only: the {what} for {} has the plain DNS server {plain} \
                 (use tls://, https:// or quic://, or turn encrypted_only off)",
                f.defined_at, f.zone
            ));
        }
    }
    errors
}

/// Moves a location in inline zone text to where the text sits in the configuration file.
fn shift_loc(loc: Option<&mut Loc>, lines: u32) {
    if let Some(loc) = loc {
        loc.line = loc.line.saturating_add(lines);
    }
}
