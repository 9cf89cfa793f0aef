//! Any text as a root hints file: reading never panics, and hints that read keep their promises
//! (every server has an address, at most the documented bounds, an RRset per family present).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use recursor::Hints;
use recursor::hints::{MAX_HINT_ADDRS, MAX_HINT_SERVERS};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Hints::from_zone_text(&text, Path::new("fuzz.hints")) {
        Ok(hints) => {
            assert!(!hints.servers().is_empty());
            assert!(hints.servers().len() <= MAX_HINT_SERVERS);
            for s in hints.servers() {
                assert!(!s.addrs.is_empty() && s.addrs.len() <= MAX_HINT_ADDRS);
            }
            assert_eq!(hints.ns_rrset().rdatas.len(), hints.servers().len());
            let addrs = hints.addresses().count();
            let in_sets: usize = hints.address_rrsets().iter().map(|s| s.rdatas.len()).sum();
            assert_eq!(addrs, in_sets);
        }
        Err(e) => {
            assert!(!e.problems.is_empty());
            let _ = e.to_string();
        }
    }
});
