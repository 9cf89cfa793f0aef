//! Any bytes as a response policy zone: loading never panics, and a zone that loads answers
//! QNAME, IP and NSDNAME lookups for names and addresses around its own triggers.
#![no_main]

use std::net::IpAddr;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use guard::policy::Rpz;
use wire::Name;

fuzz_target!(|data: &[u8]| {
    let origin: Name = "rpz.fuzz.".parse().expect("valid");
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rpz) = Rpz::from_str(text, Path::new("fuzz.rpz"), origin.as_ref(), 10_000) else { return };
    let _ = (rpz.len(), rpz.has_answer_triggers(), rpz.soa.is_some());
    for word in text.split_whitespace().take(256) {
        if let Ok(name) = Name::from_text(word.as_bytes(), Some(Name::root().as_ref())) {
            let _ = rpz.qname(name.as_ref());
            let _ = rpz.nsdname(name.as_ref());
            if let Ok(below) = name.prepend(b"x") {
                let _ = rpz.qname(below.as_ref());
            }
        }
        if let Ok(addr) = word.parse::<IpAddr>() {
            let _ = rpz.ip(addr);
        }
    }
    for addr in ["192.0.2.1", "2001:db8::1", "0.0.0.0", "::"] {
        let _ = rpz.ip(addr.parse().expect("valid"));
    }
});
