//! Any text as a trust anchor file (DS and DNSKEY records in zone-file form): reading never
//! panics; anchors that read, written out again record by record, read back to the same
//! anchors; looking names up in them never panics.
#![no_main]

use dnssec::TrustAnchors;
use libfuzzer_sys::fuzz_target;
use wire::{NameRef, RType};

/// The anchors as zone-file text, one record a line.
fn to_text(anchors: &TrustAnchors) -> String {
    let mut out = String::new();
    for a in anchors.iter() {
        for (rtype, rdatas) in [(RType::DS, &a.ds), (RType::DNSKEY, &a.dnskey)] {
            for rdata in rdatas {
                let mut text = String::new();
                wire::rdata::to_text(rtype, rdata, &mut text).expect("an anchor's RDATA prints");
                out.push_str(&format!("{} IN {rtype} {text}\n", a.zone));
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `$INCLUDE` would read the fuzzing machine's files.
    if text.to_ascii_lowercase().contains("$include") {
        return;
    }
    let anchors = match TrustAnchors::parse(&text, "fuzz.anchors") {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert!(!anchors.is_empty());
    let written = to_text(&anchors);
    let back = TrustAnchors::parse(&written, "fuzz.anchors")
        .unwrap_or_else(|e| panic!("written anchors do not read back: {e}\n{written}"));
    assert_eq!(back, anchors, "{written}");
    for a in anchors.iter() {
        assert_eq!(anchors.get(a.zone.as_ref()), Some(a));
        let below = a.zone.prepend(b"below").ok();
        if let Some(below) = below {
            assert!(anchors.closest(below.as_ref()).is_some());
        }
    }
    let _ = anchors.closest(NameRef::ROOT);
});
