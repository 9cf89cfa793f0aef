//! Any bytes as a zone file: parsing and building never panic, and a zone that loads answers
//! lookups for its own names, names below them and the names around them without panicking.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wire::{Name, RType};

fuzz_target!(|data: &[u8]| {
    let origin: Name = "fuzz.test.".parse().expect("valid");
    let Ok(built) = zone::load_str(data, Path::new("fuzz.zone"), origin.as_ref()) else { return };
    let zone = built.zone;
    let owners: Vec<Name> = zone.nodes().map(|n| n.owner().to_name()).take(64).collect();
    let qtypes = [RType::A, RType::NS, RType::CNAME, RType::DS, RType::ANY, RType::TXT, RType::RRSIG];
    for owner in &owners {
        let below = owner.prepend(b"zz").ok();
        let wildcard_hit = owner.prepend(b"*").ok();
        for name in [Some(owner.clone()), below, wildcard_hit].into_iter().flatten() {
            for qtype in qtypes {
                let _ = zone.lookup(name.as_ref(), qtype);
            }
            let _ = zone.node(name.as_ref());
        }
    }
    let _ = zone.rrsets().count();
    let _ = (zone.serial(), zone.negative_ttl(), zone.memory_bytes());
});
