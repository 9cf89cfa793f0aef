//! Any text as a record's RDATA: reading never panics, and what reads prints and reads back to
//! the same wire form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::name::Name;
use wire::text::Field;
use wire::RType;

fuzz_target!(|data: &[u8]| {
    let [t0, t1, text @ ..] = data else { return };
    let rtype = RType(u16::from_be_bytes([*t0, *t1]) % 270);
    let Ok(text) = std::str::from_utf8(text) else { return };
    let origin: Name = "origin.test.".parse().expect("valid");
    let mut wire = Vec::new();
    if wire::rdata::from_text(rtype, &Field::split(text), origin.as_ref(), &mut wire).is_err() {
        return;
    }
    let mut printed = String::new();
    wire::rdata::to_text(rtype, &wire, &mut printed).expect("RDATA read from text prints");
    let mut again = Vec::new();
    wire::rdata::from_text(rtype, &Field::split(&printed), origin.as_ref(), &mut again)
        .unwrap_or_else(|e| panic!("printed form {printed:?} does not read back: {e}"));
    assert_eq!(wire, again, "text round trip changed {printed:?}");
});
