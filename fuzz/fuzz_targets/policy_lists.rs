//! Any bytes as a blocklist or allowlist (plain, hosts and AdBlock lines): parsing never panics,
//! and every name of the list's own lines can be matched without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use guard::policy::{DomainList, ListKind};
use wire::Name;

fuzz_target!(|data: &[u8]| {
    let kind = if data.first().is_some_and(|b| b & 1 == 1) { ListKind::Allow } else { ListKind::Block };
    let Ok(list) = DomainList::parse(data, kind, 10_000) else { return };
    let _ = (list.len(), list.heap_bytes(), list.skipped);
    for field in data.split(|b| b.is_ascii_whitespace() || *b == b'^' || *b == b'|').take(256) {
        if let Ok(name) = Name::from_text(field, Some(Name::root().as_ref())) {
            let _ = list.blocks(name.as_ref());
            if let Ok(below) = name.prepend(b"x") {
                let _ = list.blocks(below.as_ref());
                let _ = list.allows(below.as_ref());
            }
        }
    }
});
