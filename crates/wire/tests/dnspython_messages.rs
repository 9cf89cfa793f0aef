//! Differential test against dnspython, an independent implementation: messages that dnspython
//! writes (with its name compression) read the same here, record by record; and the messages we
//! write from those records read the same in dnspython.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use wire::message::{Flags, Header, Message, Section};
use wire::writer::MessageWriter;
use wire::{Class, RType};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/dnspython_messages.py"
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// One record as the script prints it: section, owner hex, type, class, TTL, RDATA hex.
type Row = (String, String, u16, u16, u32, String);

fn section_name(s: Section) -> &'static str {
    match s {
        Section::Answer => "answer",
        Section::Authority => "authority",
        Section::Additional => "additional",
        Section::Question => "question",
    }
}

/// Our reading of a message in the script's record format, sorted.
fn records_of(msg: &Message<'_>) -> Vec<Row> {
    let mut out = Vec::new();
    for section in Section::RECORDS {
        for rr in msg.records(section).filter(|rr| rr.rtype != RType::OPT) {
            let mut rdata = Vec::new();
            rr.rdata_into(&mut rdata).unwrap();
            out.push((
                section_name(section).to_string(),
                hex(rr.owner().unwrap().as_wire()),
                rr.rtype.0,
                rr.class.0,
                rr.ttl,
                hex(&rdata),
            ));
        }
    }
    out.sort();
    out
}

fn python(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is required for this test (scripts/test.sh installs it with dnspython)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dnspython side failed (is dnspython installed? scripts/test.sh installs it):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Pulls `"key": "value"` strings and the records arrays out of the script's JSON without a
/// JSON crate: the format is fixed and simple.
fn parse_json(text: &str) -> Vec<(String, Vec<Row>)> {
    let mut out = Vec::new();
    for item in text.split("{\"wire\": \"").skip(1) {
        let (wire, rest) = item.split_once('"').unwrap();
        let records_text = rest.split_once("\"records\": [").unwrap().1;
        let mut records = Vec::new();
        for rec in records_text.split('[').skip(1) {
            let body = rec.split(']').next().unwrap();
            let f: Vec<&str> = body.split(", ").map(|s| s.trim_matches('"')).collect();
            if f.len() == 6 {
                records.push((
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].to_string(),
                ));
            }
        }
        records.sort();
        out.push((wire.to_string(), records));
    }
    out
}

#[test]
fn dnspython_messages_read_the_same_here_and_ours_there() {
    let generated = parse_json(&python(&["gen", "7", "400"], None));
    assert_eq!(generated.len(), 400);
    let mut ours = Vec::new();
    for (i, (wire_hex, want)) in generated.iter().enumerate() {
        let wire = unhex(wire_hex);
        let msg = Message::parse(&wire).unwrap_or_else(|e| panic!("message {i}: {e}"));
        let got = records_of(&msg);
        assert_eq!(&got, want, "message {i} reads differently");

        // Write the same records ourselves, compressing as we do.
        let mut buf = vec![0u8; 65535];
        let header = Header {
            id: msg.header().id,
            flags: Flags::default().with_qr(true),
            ..Header::default()
        };
        let mut w = MessageWriter::new(&mut buf, 65535, header).unwrap();
        let q = msg.question().unwrap();
        w.push_question(q.qname().unwrap().as_ref(), q.qtype, q.qclass)
            .unwrap();
        for section in Section::RECORDS {
            for rr in msg.records(section).filter(|rr| rr.rtype != RType::OPT) {
                let mut rdata = Vec::new();
                rr.rdata_into(&mut rdata).unwrap();
                w.push(
                    section,
                    rr.owner().unwrap().as_ref(),
                    rr.rtype,
                    Class(rr.class.0),
                    rr.ttl,
                    &rdata,
                )
                .unwrap();
            }
        }
        let written = w.finish();
        assert!(
            written.len() <= wire.len() + 11,
            "message {i}: we compress worse than dnspython"
        );
        let records_json: Vec<String> = got
            .iter()
            .map(|r| {
                format!(
                    "[\"{}\", \"{}\", {}, {}, {}, \"{}\"]",
                    r.0, r.1, r.2, r.3, r.4, r.5
                )
            })
            .collect();
        ours.push(format!(
            "{{\"wire\": \"{}\", \"records\": [{}]}}",
            hex(written),
            records_json.join(", ")
        ));
    }
    python(&["check"], Some(&format!("[{}]", ours.join(", "))));
}
