//! Any text as a public suffix list or a detection model file: parsing never panics, and a
//! list that parses answers registered-domain lookups for names built from its own words.
#![no_main]

use libfuzzer_sys::fuzz_target;
use detect::{Model, Psl};
use wire::Name;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Model::from_json(text);
    let Ok(psl) = Psl::parse(text) else { return };
    for word in text.split_whitespace().take(64) {
        let word = word.trim_start_matches(['!', '*', '.']);
        if let Ok(name) = Name::from_text(word.as_bytes(), Some(Name::root().as_ref())) {
            let registered = psl.registered(name.as_ref());
            let _ = registered.domain(name.as_ref());
            if let Ok(below) = name.prepend(b"x") {
                let _ = psl.registered(below.as_ref()).domain(below.as_ref());
            }
        }
    }
});
