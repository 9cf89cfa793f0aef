//! `portcullis detect`: the tunnel detector's per-query features and scores from the command
//! line. The trainer (`tools/detect/train.py`) reads its features from `detect features`, so
//! the features a model is trained on are the ones this build computes: one source of truth.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

use std::net::IpAddr;

use detect::{
    AlertKind, DOMAIN_FEATURE_NAMES, DetectConfig, Detector, FEATURE_NAMES, FEATURES, Model, Psl,
    extract,
};
use wire::{Name, RType, Rcode};

/// The embedded model, or the one in `path`.
pub fn load_model(path: Option<&Path>) -> Result<Model, String> {
    match path {
        None => Model::embedded().map_err(|e| format!("embedded model: {e}")),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Model::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

fn parse_type(text: &str) -> Result<RType, String> {
    RType::from_text(text.as_bytes()).ok_or_else(|| format!("unknown type {text:?}"))
}

fn parse_name(text: &str) -> Result<Name, String> {
    text.parse::<Name>()
        .map_err(|e| format!("bad name {text:?}: {e}"))
}

/// Reads `QTYPE<TAB>QNAME` lines from `input` and writes a TSV of their features (header:
/// the feature names) to `out`. With `left`, a first column holds each name's left part (the
/// labels before its registered domain, presentation form; empty when none), which the
/// trainer learns its bigram table from. A bad line is an error naming its line number.
pub fn features(
    model: &Model,
    left: bool,
    input: impl BufRead,
    mut out: impl Write,
) -> Result<(), String> {
    let psl = Psl::embedded();
    let io = |e: std::io::Error| format!("output: {e}");
    let mut header = String::new();
    if left {
        header.push_str("left\t");
    }
    header.push_str(&FEATURE_NAMES.join("\t"));
    writeln!(out, "{header}").map_err(io)?;
    let mut row = String::new();
    let mut values = [0f32; FEATURES];
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| format!("input line {}: {e}", i + 1))?;
        if line.is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", i + 1);
        let (qtype, qname) = line
            .split_once('\t')
            .ok_or_else(|| at("expected QTYPE<TAB>QNAME".to_string()))?;
        let qtype = parse_type(qtype).map_err(at)?;
        let name = parse_name(qname).map_err(at)?;
        let registered = psl.registered(name.as_ref());
        extract(
            name.as_ref(),
            qtype,
            registered.offset,
            model.bigrams(),
            &mut values,
        );
        row.clear();
        if left {
            let mut first = true;
            for label in name.as_ref().labels().take(registered.left_labels) {
                if !first {
                    row.push('.');
                }
                first = false;
                wire::name::write_label_text(label, &mut row).map_err(|e| at(e.to_string()))?;
            }
            row.push('\t');
        }
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                row.push('\t');
            }
            let _ = write!(row, "{v}");
        }
        writeln!(out, "{row}").map_err(io)?;
    }
    out.flush().map_err(io)
}

/// `detect score NAME [TYPE]`: the registered domain, the score and its explanation.
pub fn score(model: &Model, name: &str, qtype: Option<&str>) -> Result<String, String> {
    let name = parse_name(name)?;
    let qtype = qtype.map(parse_type).transpose()?.unwrap_or(RType::A);
    let registered = Psl::embedded().registered(name.as_ref());
    let mut values = [0f32; FEATURES];
    extract(
        name.as_ref(),
        qtype,
        registered.offset,
        model.bigrams(),
        &mut values,
    );
    let s = model.score(&values);
    let verdict = if s.score > model.threshold() {
        "suspicious"
    } else {
        "ordinary"
    };
    Ok(format!(
        "registered domain: {}\nscore: {:.6} ({verdict}, threshold {:.6})\n{}",
        registered.domain(name.as_ref()),
        s.score,
        model.threshold(),
        s.explain()
    ))
}

/// How `detect replay` lays sessions out in time.
#[derive(Debug, Clone, Copy)]
pub struct ReplayOptions {
    /// Print the domain feature vectors at every gate crossing instead of the per-session
    /// results.
    pub vectors: bool,
    /// Each session starts at a deterministic offset in `0..spread_ms` (a hash of its file
    /// name, without the directory, and its id), so sessions are interleaved as a server would see them.
    pub spread_ms: u64,
    /// Queries of one session are at least this far apart: the real-tool captures have
    /// sub-millisecond gaps that no client waiting on a resolver achieves.
    pub min_gap_ms: u64,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            vectors: false,
            spread_ms: 3_600_000,
            min_gap_ms: 0,
        }
    }
}

/// One trace row as replay needs it.
#[derive(Debug)]
struct Row {
    t_ms: u64,
    client: IpAddr,
    qtype: RType,
    qname: Name,
    rcode: Rcode,
    resp_len: usize,
    data: bool,
}

/// One session of one trace file, and what the replay saw of it.
#[derive(Debug)]
struct Session {
    file: usize,
    id: String,
    rows: Vec<Row>,
    queries: usize,
    data: usize,
    first_alert: Option<(usize, String)>,
    /// The first anomaly alert one of this session's own queries or answers raised: the
    /// query's index and the alert's reason (how a session with no fixed domain is seen).
    first_anomaly: Option<(usize, &'static str)>,
    /// The first query after which the session's domain stood reported for its client
    /// ([`Detector::reported`]): by the session's own alert, or by an earlier one whose quiet
    /// period (and, in block mode, verdict) the session falls in.
    first_reported: Option<usize>,
}

fn parse_rcode(text: &str) -> Result<Rcode, String> {
    Ok(match text {
        "NOERROR" => Rcode::NOERROR,
        "NXDOMAIN" => Rcode::NXDOMAIN,
        "SERVFAIL" => Rcode::SERVFAIL,
        "REFUSED" => Rcode::REFUSED,
        _ => return Err(format!("unknown rcode {text:?}")),
    })
}

/// Reads one trace (the TSV of tools/detect/README.md, not gzipped) into its sessions.
fn read_trace(file: usize, path: &Path, sessions: &mut Vec<Session>) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = "session\tt_ms\tclient\tqtype\tqname\trcode\tresp_len\tdata";
    if lines.next() != Some(header) {
        return Err(format!(
            "{}: not a trace (first line must be {header:?}; gunzip .tsv.gz first)",
            path.display()
        ));
    }
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (n, line) in lines.enumerate() {
        let at = |e: String| format!("{}:{}: {e}", path.display(), n + 2);
        let cols: Vec<&str> = line.split('\t').collect();
        let [id, t_ms, client, qtype, qname, rcode, resp_len, data] = cols[..] else {
            return Err(at("expected 8 columns".to_string()));
        };
        let row = Row {
            t_ms: t_ms.parse().map_err(|e| at(format!("t_ms: {e}")))?,
            client: client.parse().map_err(|e| at(format!("client: {e}")))?,
            qtype: parse_type(qtype).map_err(at)?,
            qname: parse_name(qname).map_err(at)?,
            rcode: parse_rcode(rcode).map_err(at)?,
            resp_len: resp_len.parse().map_err(|e| at(format!("resp_len: {e}")))?,
            data: data == "1",
        };
        let at_session = *index.entry(id.to_string()).or_insert_with(|| {
            sessions.push(Session {
                file,
                id: id.to_string(),
                rows: Vec::new(),
                queries: 0,
                data: 0,
                first_alert: None,
                first_anomaly: None,
                first_reported: None,
            });
            sessions.len() - 1
        });
        sessions[at_session].rows.push(row);
    }
    Ok(())
}

/// FNV-1a, for the deterministic session offsets.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.as_bytes().iter().chain(b"\t") {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// `detect replay`: drives a real [`Detector`] (mode alert, default windows and capacities)
/// with the traces' queries and answers, all sessions interleaved in one detector, and writes
/// per session `file, session, domain, queries, data_queries, first_alert, explanation,
/// first_anomaly, first_reported` (the 1-based index of the session's query on which a tunnel
/// alert named its registered domain, or -1; the index and reason of the first anomaly alert
/// raised by one of the session's own queries or answers, as `12:client names`, or -1; the
/// index of the first query after which its domain stood reported for its client, by its own
/// alert or an earlier one, or -1), or with `vectors` the domain feature vector at every gate crossing (`file,
/// session, query, features...`). Anomaly alerts are counted on standard error.
pub fn replay(
    model: Model,
    config: DetectConfig,
    traces: &[std::path::PathBuf],
    options: ReplayOptions,
    mut out: impl Write,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("output: {e}");
    let mut sessions = Vec::new();
    let mut files = Vec::new();
    for (i, path) in traces.iter().enumerate() {
        read_trace(i, path, &mut sessions)?;
        files.push(path.display().to_string());
    }
    // Every query at its replay time: the session's offset plus its own time, at least
    // `min_gap_ms` after the session's previous query.
    let mut events: Vec<(u64, usize, usize)> = Vec::new();
    for (s, session) in sessions.iter().enumerate() {
        // The file's name without its directory: the same layout wherever the traces are.
        let base = traces[session.file]
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let offset = fnv(&[&base, &session.id]) % options.spread_ms.max(1);
        let mut last: Option<u64> = None;
        for (r, row) in session.rows.iter().enumerate() {
            let mut t = offset + row.t_ms;
            if let Some(prev) = last {
                t = t.max(prev + options.min_gap_ms);
            }
            last = Some(t);
            events.push((t, s, r));
        }
    }
    events.sort_unstable();
    // A fixed key: the same traces give the same vectors and results every run.
    let detector = Detector::with_hash_key(
        config,
        model,
        Psl::embedded(),
        0,
        Some([0x7265_706c_6179, 0x6465_7465_6374]),
    );
    // Anomaly alerts by reason, and whether they came within the learning period.
    let mut anomalies: std::collections::BTreeMap<(&'static str, bool), usize> = Default::default();
    if options.vectors {
        let names = DOMAIN_FEATURE_NAMES.join("\t");
        writeln!(out, "file\tsession\tquery\t{names}").map_err(io)?;
    }
    let mut line = String::new();
    for &(t, s, r) in &events {
        let session = &mut sessions[s];
        let row = &session.rows[r];
        session.queries += 1;
        session.data += usize::from(row.data);
        let query = session.queries;
        let decision = if options.vectors {
            let (file, id) = (&files[session.file], &session.id);
            let mut result = Ok(());
            let decision =
                detector.on_miss_observed(row.qname.as_ref(), row.qtype, row.client, t, |vector| {
                    line.clear();
                    let _ = write!(line, "{file}\t{id}\t{query}");
                    for v in vector {
                        let _ = write!(line, "\t{v}");
                    }
                    if result.is_ok() {
                        result = writeln!(out, "{line}");
                    }
                });
            result.map_err(io)?;
            decision
        } else {
            detector.on_miss(row.qname.as_ref(), row.qtype, row.client, t)
        };
        let answer = decision.seen.and_then(|seen| {
            let qname = row.qname.as_ref();
            detector.on_answer(qname, seen, row.client, row.rcode, row.resp_len, t)
        });
        for alert in decision.alert.iter().chain(answer.iter()) {
            match alert.kind {
                AlertKind::Tunnel => {
                    if session.first_alert.is_none() {
                        session.first_alert = Some((query, alert.explanation.clone()));
                    }
                }
                AlertKind::Anomaly => {
                    *anomalies.entry((alert.reason, alert.learning)).or_default() += 1;
                    if session.first_anomaly.is_none() {
                        session.first_anomaly = Some((query, alert.reason));
                    }
                }
            }
        }
        if session.first_reported.is_none() && detector.reported(row.qname.as_ref(), row.client, t)
        {
            session.first_reported = Some(query);
        }
    }
    if !options.vectors {
        writeln!(
            out,
            "file\tsession\tdomain\tqueries\tdata_queries\tfirst_alert\texplanation\tfirst_anomaly\tfirst_reported"
        )
        .map_err(io)?;
        for session in &sessions {
            let domain = session
                .rows
                .first()
                .map(|row| detector.registered(row.qname.as_ref()).to_string())
                .unwrap_or_default();
            let (first, why) = match &session.first_alert {
                Some((at, why)) => (at.to_string(), why.replace(['\t', '\n'], " ")),
                None => ("-1".to_string(), String::new()),
            };
            let anomaly = match session.first_anomaly {
                Some((at, reason)) => format!("{at}:{reason}"),
                None => "-1".to_string(),
            };
            let reported = session
                .first_reported
                .map_or_else(|| "-1".to_string(), |at| at.to_string());
            writeln!(
                out,
                "{}\t{}\t{domain}\t{}\t{}\t{first}\t{why}\t{anomaly}\t{reported}",
                files[session.file], session.id, session.queries, session.data
            )
            .map_err(io)?;
        }
    }
    for ((reason, learning), count) in &anomalies {
        let when = if *learning { " (learning)" } else { "" };
        eprintln!("anomaly alerts: {reason}{when}: {count}");
    }
    out.flush().map_err(io)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn features_tsv_and_bad_lines() {
        let model = load_model(None).unwrap();
        let mut out = Vec::new();
        features(
            &model,
            true,
            &b"A\twww.example.com.\nTXT\tabc.def.example.co.uk\n"[..],
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("left\tleft_len\t"));
        assert!(lines[1].starts_with("www\t3\t1\t3\t"));
        assert!(lines[2].starts_with("abc.def\t7\t2\t"));
        assert_eq!(lines[2].split('\t').count(), FEATURES + 1);
        let err = features(
            &model,
            false,
            &b"A\tok.com.\nBOGUS\tx.com.\n"[..],
            Vec::new(),
        );
        assert!(err.unwrap_err().starts_with("line 2:"));
        let err = features(&model, false, &b"A x.com.\n"[..], Vec::new());
        assert!(err.unwrap_err().starts_with("line 1:"));
    }

    /// A trace with one tunnel session (base32 in TXT queries, 200 ms apart), a second one of
    /// the same client and domain starting 20 s after the first, and one ordinary site,
    /// written to a temporary file.
    fn trace(dir: &Path) -> std::path::PathBuf {
        let mut text = String::from("session\tt_ms\tclient\tqtype\tqname\trcode\tresp_len\tdata\n");
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for i in 0..60u64 {
            let mut label = String::new();
            for _ in 0..48 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                label.push(char::from(
                    b"abcdefghijklmnopqrstuvwxyz234567"[(state % 32) as usize],
                ));
            }
            let _ = writeln!(
                text,
                "t1\t{}\t192.0.2.9\tTXT\t{label}.{i}.tun.replay-test.net.\tNOERROR\t250\t1",
                i * 200
            );
        }
        for i in 0..3u64 {
            let _ = writeln!(
                text,
                "t2\t{}\t192.0.2.9\tTXT\tmore{i}.tun.replay-test.net.\tNOERROR\t250\t1",
                20_000 + i * 200
            );
        }
        for (i, host) in ["www", "mail", "api", "www", "cdn"].iter().enumerate() {
            let _ = writeln!(
                text,
                "b1\t{}\t192.0.2.10\tA\t{host}.example.org.\tNOERROR\t80\t0",
                i * 1000
            );
        }
        let path = dir.join("mixed.tsv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn replay_flags_the_tunnel_session_only() {
        let dir = std::env::temp_dir().join(format!("portcullis-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = trace(&dir);
        let model = load_model(None).unwrap();
        let config = DetectConfig {
            mode: detect::Mode::Alert,
            ..DetectConfig::default()
        };
        // Every session from the trace's own times: the second tunnel session after the first.
        let options = ReplayOptions {
            min_gap_ms: 20,
            spread_ms: 1,
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        replay(
            model,
            config.clone(),
            std::slice::from_ref(&path),
            options,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(
            rows[0][..6],
            [
                "file",
                "session",
                "domain",
                "queries",
                "data_queries",
                "first_alert"
            ]
        );
        let tunnel = rows.iter().find(|r| r[1] == "t1").unwrap();
        assert_eq!(tunnel[2], "replay-test.net.");
        assert_eq!((tunnel[3], tunnel[4]), ("60", "60"));
        let first: i64 = tunnel[5].parse().unwrap();
        assert!((1..=50).contains(&first), "flagged at {first}");
        assert!(tunnel[6].contains("samples"), "{}", tunnel[6]);
        assert_eq!(rows[0][8], "first_reported");
        assert_eq!(tunnel[8], tunnel[5], "reported by its own alert");
        // The second session: no alert of its own, inside the first one's quiet period.
        let again = rows.iter().find(|r| r[1] == "t2").unwrap();
        assert_eq!((again[5], again[8]), ("-1", "1"));
        let benign = rows.iter().find(|r| r[1] == "b1").unwrap();
        assert_eq!(
            (benign[2], benign[5], benign[8]),
            ("example.org.", "-1", "-1")
        );

        // Vectors: the header, then rows of the tunnel session only (the site never gates).
        let mut out = Vec::new();
        let options = ReplayOptions {
            vectors: true,
            ..options
        };
        let model = load_model(None).unwrap();
        replay(
            model,
            config.clone(),
            std::slice::from_ref(&path),
            options,
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("file\tsession\tquery\tshort_queries_log\t"));
        let rest: Vec<&str> = lines.collect();
        assert!(!rest.is_empty());
        assert!(
            rest.iter()
                .all(|l| matches!(l.split('\t').nth(1), Some("t1" | "t2"))
                    && l.split('\t').count() == 3 + DOMAIN_FEATURE_NAMES.len())
        );

        // Not a trace: refused with the file's name.
        let bad = dir.join("bad.tsv");
        std::fs::write(&bad, "\u{1f}\u{8b}garbage").unwrap();
        let model = load_model(None).unwrap();
        let err = replay(model, config, &[bad], options, Vec::new()).unwrap_err();
        assert!(err.contains("bad.tsv") && err.contains("gunzip"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn score_names_the_registered_domain() {
        let model = load_model(None).unwrap();
        let text = score(&model, "a.b.myapp.herokuapp.com", Some("TXT")).unwrap();
        assert!(text.starts_with("registered domain: myapp.herokuapp.com.\nscore: "));
        assert!(score(&model, "x.com", Some("NOPE")).is_err());
    }
}
