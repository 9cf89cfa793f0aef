//! A whole message in presentation form, laid out as `dig` prints it, for the query client and
//! for logs.
//!
//! ```text
//! ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4660
//! ;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1
//!
//! ;; OPT PSEUDOSECTION:
//! ; EDNS: version: 0, flags: do; udp: 1232
//!
//! ;; QUESTION SECTION:
//! ;www.example.test.      IN  A
//!
//! ;; ANSWER SECTION:
//! www.example.test.  300 IN  A   192.0.2.1
//! ```

use core::fmt;

use crate::edns::{Cookie, ExtendedError, OptionCode};
use crate::message::{Message, Section};
use crate::rdata;
use crate::types::RType;

/// Displays a message as `dig` does (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct DigStyle<'m, 'a>(pub &'m Message<'a>);

impl fmt::Display for DigStyle<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = self.0;
        let h = msg.header();
        let opcode = match h.flags.opcode().0 {
            0 => "QUERY".to_string(),
            1 => "IQUERY".to_string(),
            2 => "STATUS".to_string(),
            4 => "NOTIFY".to_string(),
            5 => "UPDATE".to_string(),
            n => format!("OPCODE{n}"),
        };
        writeln!(
            f,
            ";; ->>HEADER<<- opcode: {opcode}, status: {}, id: {}",
            msg.rcode(),
            h.id
        )?;
        let flags = [
            (h.flags.qr(), "qr"),
            (h.flags.aa(), "aa"),
            (h.flags.tc(), "tc"),
            (h.flags.rd(), "rd"),
            (h.flags.ra(), "ra"),
            (h.flags.ad(), "ad"),
            (h.flags.cd(), "cd"),
        ];
        let set: Vec<&str> = flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        writeln!(
            f,
            ";; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
            set.join(" "),
            h.qdcount,
            h.ancount,
            h.nscount,
            h.arcount
        )?;
        if let Some(edns) = msg.edns() {
            writeln!(f, "\n;; OPT PSEUDOSECTION:")?;
            let do_flag = if edns.dnssec_ok() { " do" } else { "" };
            writeln!(
                f,
                "; EDNS: version: {}, flags:{do_flag}; udp: {}",
                edns.version, edns.udp_payload
            )?;
            for option in edns.options() {
                let Ok((code, data)) = option else {
                    writeln!(f, "; (malformed options)")?;
                    break;
                };
                write_option(f, code, data)?;
            }
        }
        writeln!(f, "\n;; QUESTION SECTION:")?;
        for q in msg.questions() {
            match q.qname() {
                Ok(name) => writeln!(f, ";{name}\t\t{}\t{}", q.qclass, q.qtype)?,
                Err(e) => writeln!(f, ";(bad name: {e})")?,
            }
        }
        for (section, title) in [
            (Section::Answer, "ANSWER"),
            (Section::Authority, "AUTHORITY"),
            (Section::Additional, "ADDITIONAL"),
        ] {
            let mut records = msg
                .records(section)
                .filter(|r| r.rtype != RType::OPT)
                .peekable();
            if records.peek().is_none() {
                continue;
            }
            writeln!(f, "\n;; {title} SECTION:")?;
            for rr in records {
                let owner = match rr.owner() {
                    Ok(n) => n.to_string(),
                    Err(e) => format!("(bad name: {e})"),
                };
                let mut wire = Vec::new();
                let mut text = String::new();
                if rr.rdata_into(&mut wire).is_err()
                    || rdata::to_text(rr.rtype, &wire, &mut text).is_err()
                {
                    text.clear();
                    rdata::generic_to_text(rr.raw_rdata(), &mut text);
                }
                writeln!(f, "{owner}\t{}\t{}\t{}\t{text}", rr.ttl, rr.class, rr.rtype)?;
            }
        }
        Ok(())
    }
}

fn write_option(f: &mut fmt::Formatter<'_>, code: OptionCode, data: &[u8]) -> fmt::Result {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    match code {
        OptionCode::NSID => {
            let text: String = data
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect();
            writeln!(f, "; NSID: {hex} (\"{text}\")")
        }
        OptionCode::COOKIE => match Cookie::parse(data) {
            Ok(c) => {
                let client: String = c.client.iter().map(|b| format!("{b:02x}")).collect();
                let server: String = c.server.iter().map(|b| format!("{b:02x}")).collect();
                writeln!(f, "; COOKIE: {client}{server}")
            }
            Err(_) => writeln!(f, "; COOKIE: {hex} (malformed)"),
        },
        OptionCode::EDE => match ExtendedError::parse(data) {
            Ok(e) => {
                let text = String::from_utf8_lossy(e.text);
                writeln!(f, "; EDE: {} ({})", e.info_code, ede_name(e.info_code))?;
                if text.is_empty() {
                    Ok(())
                } else {
                    writeln!(f, ";      {text}")
                }
            }
            Err(_) => writeln!(f, "; EDE: {hex} (malformed)"),
        },
        OptionCode::PADDING => writeln!(f, "; PADDING: {} bytes", data.len()),
        OptionCode::TCP_KEEPALIVE => writeln!(f, "; TCP-KEEPALIVE: {hex}"),
        OptionCode(n) => writeln!(f, "; OPT={n}: {hex}"),
    }
}

/// The name RFC 8914 section 4 gives an EDE info code.
pub fn ede_name(code: u16) -> &'static str {
    match code {
        0 => "Other Error",
        1 => "Unsupported DNSKEY Algorithm",
        2 => "Unsupported DS Digest Type",
        3 => "Stale Answer",
        4 => "Forged Answer",
        5 => "DNSSEC Indeterminate",
        6 => "DNSSEC Bogus",
        7 => "Signature Expired",
        8 => "Signature Not Yet Valid",
        9 => "DNSKEY Missing",
        10 => "RRSIGs Missing",
        11 => "No Zone Key Bit Set",
        12 => "NSEC Missing",
        13 => "Cached Error",
        14 => "Not Ready",
        15 => "Blocked",
        16 => "Censored",
        17 => "Filtered",
        18 => "Prohibited",
        19 => "Stale NXDomain Answer",
        20 => "Not Authoritative",
        21 => "Not Supported",
        22 => "No Reachable Authority",
        23 => "Network Error",
        24 => "Invalid Data",
        _ => "Unassigned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Flags, Header};
    use crate::name::Name;
    use crate::types::{Class, Rcode};
    use crate::writer::MessageWriter;

    #[test]
    fn prints_like_dig() {
        let mut buf = [0u8; 512];
        let header = Header {
            id: 4660,
            flags: Flags::default().with_qr(true).with_aa(true).with_rd(true),
            ..Header::default()
        };
        let mut w = MessageWriter::new(&mut buf, 512, header).unwrap();
        let q: Name = "www.example.test.".parse().unwrap();
        w.push_question(q.as_ref(), RType::A, Class::IN).unwrap();
        w.push(
            Section::Answer,
            q.as_ref(),
            RType::A,
            Class::IN,
            300,
            &[192, 0, 2, 1],
        )
        .unwrap();
        let mut opt = w.opt(1232, Rcode::NOERROR, true).unwrap();
        opt.extended_error(15, "policy").unwrap();
        opt.finish().unwrap();
        let msg = Message::parse(w.finish()).unwrap();
        let text = DigStyle(&msg).to_string();
        let expected = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 4660\n\
                        ;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 1\n\
                        \n;; OPT PSEUDOSECTION:\n\
                        ; EDNS: version: 0, flags: do; udp: 1232\n\
                        ; EDE: 15 (Blocked)\n\
                        ;      policy\n\
                        \n;; QUESTION SECTION:\n\
                        ;www.example.test.\t\tIN\tA\n\
                        \n;; ANSWER SECTION:\n\
                        www.example.test.\t300\tIN\tA\t192.0.2.1\n";
        assert_eq!(text, expected);
    }
}
