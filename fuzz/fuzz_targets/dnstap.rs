//! Any bytes through the dnstap readers the tests use (a Frame Streams stream and a `Dnstap`
//! protobuf message) never panic; every message decoded from a frame is re-encoded and read
//! back the same.
#![no_main]

use events::dnstap::{Record, decode, encode, read_frames};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let messages: Vec<Vec<u8>> = match read_frames(data) {
        Ok(frames) => frames.data,
        Err(_) => vec![data.to_vec()],
    };
    for message in messages {
        let Ok(d) = decode(&message) else { continue };
        let (Some(kind), Some(protocol)) = (d.kind, d.protocol) else { continue };
        let Some(body) = d.query_message.clone().or(d.response_message.clone()) else { continue };
        let record = Record {
            kind,
            protocol,
            query_address: d.query_address,
            response_address: d.response_address,
            query_time: d.query_time,
            response_time: d.response_time,
            message: body.into_boxed_slice(),
        };
        let (mut scratch, mut out) = (Vec::new(), Vec::new());
        encode(&record, &d.identity, &d.version, &mut scratch, &mut out);
        let again = decode(&out).expect("an encoded record decodes");
        assert_eq!(again.kind, d.kind);
        assert_eq!(again.query_address, d.query_address);
        assert_eq!(again.response_address, d.response_address);
        assert_eq!(again.query_time, d.query_time);
        assert_eq!(again.identity, d.identity);
    }
});
