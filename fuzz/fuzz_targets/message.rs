//! Any bytes as a DNS message: parsing never panics, and a message that parses can be written
//! again record by record and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wire::message::{Message, Section};
use wire::writer::MessageWriter;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse(data) else { return };
    let _ = msg.edns().map(|e| e.options().count());
    let _ = msg.rcode();
    let mut buf = vec![0u8; 65535];
    let Ok(mut w) = MessageWriter::new(&mut buf, 65535, msg.header()) else { return };
    let mut expected = Vec::new();
    for q in msg.questions() {
        let name = q.qname().expect("a parsed message has readable question names");
        w.push_question(name.as_ref(), q.qtype, q.qclass).expect("fits");
    }
    for section in Section::RECORDS {
        for rr in msg.records(section) {
            let owner = rr.owner().expect("a parsed message has readable owners");
            let mut rdata = Vec::new();
            if rr.rdata_into(&mut rdata).is_err() {
                return;
            }
            if wire::rdata::layout(rr.rtype).is_some_and(|l| l.compress_on_send)
                && wire::rdata::validate(rr.rtype, &rdata).is_err()
            {
                return;
            }
            if w.push(section, owner.as_ref(), rr.rtype, rr.class, rr.ttl, &rdata).is_err() {
                // Decompressed RDATA can outgrow the 64 KiB message.
                return;
            }
            expected.push((owner, rr.rtype, rr.class, rr.ttl, rdata));
        }
    }
    let out = w.finish();
    let again = Message::parse(out).expect("what the writer writes parses");
    let mut got = Vec::new();
    for section in Section::RECORDS {
        for rr in again.records(section) {
            let mut rdata = Vec::new();
            rr.rdata_into(&mut rdata).expect("rewritten RDATA decompresses");
            got.push((rr.owner().expect("owner"), rr.rtype, rr.class, rr.ttl, rdata));
        }
    }
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.0, e.0);
        assert_eq!((g.1, g.2, g.3), (e.1, e.2, e.3));
        assert!(g.4.eq_ignore_ascii_case(&e.4));
    }
});
