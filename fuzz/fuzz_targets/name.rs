//! Any bytes as a message holding compressed names: reading a name at any offset never panics,
//! and a name that reads is valid (at most 255 bytes) and survives the text round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::message::{read_name, skip_name};
use wire::name::Name;

fuzz_target!(|data: &[u8]| {
    for pos in 0..data.len().min(64) {
        let skipped = skip_name(data, pos);
        match read_name(data, pos) {
            Ok((name, end)) => {
                assert_eq!(skipped, Ok(end));
                assert!(name.len() <= 255);
                let text = name.to_string();
                let back = Name::from_text(text.as_bytes(), None).expect("printed names parse");
                assert_eq!(back.as_wire(), name.as_wire());
            }
            Err(e) => assert_eq!(skipped, Err(e)),
        }
    }
});
