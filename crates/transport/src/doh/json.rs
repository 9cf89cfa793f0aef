//! The JSON form of DNS over HTTPS that Google and Cloudflare serve (`application/dns-json`):
//! `GET /dns-query?name=example.com&type=AAAA`, answered with the response as a JSON object.
//! It is not in RFC 8484; browsers' and scripts' tools use it because it needs no DNS library.
//!
//! The query parameters: `name` (required, at most 255 bytes of text), `type` (a mnemonic such
//! as `AAAA`, `TYPE65` or a number; default `A`), `cd` (`1` or `true`: checking disabled) and
//! `do` (`1` or `true`: DNSSEC records wanted). The answer carries `Status` (the RCODE), the
//! flags `TC`, `RD`, `RA`, `AD`, `CD`, and the `Question`, `Answer`, `Authority` and
//! `Additional` sections (the OPT record left out), each record as `name`, `type`, `TTL` and
//! `data` in presentation format (the `wire` crate's, as in a zone file).

use std::fmt::Write as _;

use wire::message::{Message, Section};
use wire::{Name, RType};

/// The media type of the JSON form.
pub const DNS_JSON: &str = "application/dns-json";

/// The longest `name` parameter taken, in bytes of text (escapes make a name's text longer
/// than its 255 bytes of wire form).
const MAX_NAME_TEXT: usize = 1024;

/// What is wrong with a JSON query's parameters.
pub type BadQuery = &'static str;

/// The DNS query (wire form, ID 0, RD set) that the parameters of a JSON request ask.
pub fn query(params: &[(String, String)]) -> Result<Vec<u8>, BadQuery> {
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let yes = |key: &str| matches!(param(key), Some("1" | "true"));
    let name = param("name").ok_or("no name parameter")?;
    if name.len() > MAX_NAME_TEXT {
        return Err("name parameter too long");
    }
    let name = Name::from_text(name.as_bytes(), Some(Name::root().as_ref()))
        .map_err(|_| "name parameter is not a domain name")?;
    let rtype = match param("type") {
        None => RType::A,
        Some(t) => t
            .parse::<u16>()
            .ok()
            .map(RType)
            .or_else(|| RType::from_text(t.to_ascii_uppercase().as_bytes()))
            .ok_or("type parameter is not a record type")?,
    };
    let mut flags: u16 = 0x0100; // RD
    if yes("cd") {
        flags |= 0x0010;
    }
    let dnssec = yes("do");
    let mut q = Vec::with_capacity(12 + name.len() + 4 + 11);
    q.extend_from_slice(&[0, 0]);
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(dnssec)]);
    q.extend_from_slice(name.as_wire());
    q.extend_from_slice(&rtype.0.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    if dnssec {
        // OPT: root owner, 1232-byte payload, DO set (RFC 3225).
        q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }
    Ok(q)
}

/// The JSON object for the DNS response `msg`; `None` when it does not parse.
pub fn response(msg: &[u8]) -> Option<String> {
    let m = Message::parse(msg).ok()?;
    let h = m.header();
    let mut out = String::with_capacity(256 + msg.len() * 2);
    let _ = write!(
        out,
        "{{\"Status\":{},\"TC\":{},\"RD\":{},\"RA\":{},\"AD\":{},\"CD\":{},\"Question\":[",
        m.rcode().0,
        h.flags.tc(),
        h.flags.rd(),
        h.flags.ra(),
        h.flags.ad(),
        h.flags.cd()
    );
    for (i, q) in m.questions().enumerate() {
        let name = q.qname().ok()?;
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        string(&name.to_string(), &mut out);
        let _ = write!(out, ",\"type\":{}}}", q.qtype.0);
    }
    out.push(']');
    for (key, section) in [
        ("Answer", Section::Answer),
        ("Authority", Section::Authority),
        ("Additional", Section::Additional),
    ] {
        let records: Vec<_> = m
            .records(section)
            .filter(|r| r.rtype != RType::OPT)
            .collect();
        if records.is_empty() {
            continue;
        }
        let _ = write!(out, ",\"{key}\":[");
        let mut rdata = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"name\":");
            string(&r.owner().ok()?.to_string(), &mut out);
            let _ = write!(out, ",\"type\":{},\"TTL\":{},\"data\":", r.rtype.0, r.ttl);
            rdata.clear();
            r.rdata_into(&mut rdata).ok()?;
            let mut data = String::new();
            if wire::rdata::to_text(r.rtype, &rdata, &mut data).is_err() {
                wire::rdata::generic_to_text(&rdata, &mut data);
            }
            string(&data, &mut out);
            out.push('}');
        }
        out.push(']');
    }
    out.push('}');
    Some(out)
}

/// Appends `s` as a JSON string (RFC 8259 section 7).
fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn queries_from_parameters() {
        let q = query(&params(&[("name", "www.example.test"), ("type", "aaaa")])).unwrap();
        let m = Message::parse(&q).unwrap();
        let question = m.question().unwrap();
        assert_eq!(question.qtype, RType::AAAA);
        assert_eq!(question.qname().unwrap().to_string(), "www.example.test.");
        assert!(m.header().flags.rd());
        assert!(m.edns().is_none());
        let q = query(&params(&[("name", "a.test."), ("type", "65"), ("do", "1")])).unwrap();
        let m = Message::parse(&q).unwrap();
        assert_eq!(m.question().unwrap().qtype, RType::HTTPS);
        assert!(m.edns().is_some());
        assert!(query(&params(&[("type", "A")])).is_err());
        assert!(query(&params(&[("name", "a..b")])).is_err());
        assert!(query(&params(&[("name", "a.test"), ("type", "NOPE")])).is_err());
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        string("a\"b\\c\u{1}", &mut out);
        assert_eq!(out, "\"a\\\"b\\\\c\\u0001\"");
    }
}
