//! `portcullis detect`: the tunnel detector's per-query features and scores from the command
//! line. The trainer (`tools/detect/train.py`) reads its features from `detect features`, so
//! the features a model is trained on are the ones this build computes: one source of truth.

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::Path;

use detect::{FEATURE_NAMES, FEATURES, Model, Psl, extract};
use wire::{Name, RType};

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

    #[test]
    fn score_names_the_registered_domain() {
        let model = load_model(None).unwrap();
        let text = score(&model, "a.b.myapp.herokuapp.com", Some("TXT")).unwrap();
        assert!(text.starts_with("registered domain: myapp.herokuapp.com.\nscore: "));
        assert!(score(&model, "x.com", Some("NOPE")).is_err());
    }
}
