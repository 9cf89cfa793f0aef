//! Any bytes as a record's RDATA: validation and printing never panic, and RDATA that validates
//! prints to text that reads back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::name::Name;
use wire::text::Field;
use wire::RType;

fuzz_target!(|data: &[u8]| {
    let [t0, t1, rdata @ ..] = data else { return };
    let rtype = RType(u16::from_be_bytes([*t0, *t1]) % 270);
    let mut printed = String::new();
    let printable = wire::rdata::to_text(rtype, rdata, &mut printed).is_ok();
    if wire::rdata::validate(rtype, rdata).is_err() {
        return;
    }
    assert!(printable, "valid RDATA must print");
    let mut again = Vec::new();
    wire::rdata::from_text(rtype, &Field::split(&printed), Name::root().as_ref(), &mut again)
        .unwrap_or_else(|e| panic!("printed form {printed:?} does not read back: {e}"));
    assert_eq!(rdata, &again[..], "wire round trip changed {printed:?}");
});
