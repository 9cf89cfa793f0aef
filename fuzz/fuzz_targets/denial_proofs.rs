//! NSEC and NSEC3 denial proofs over records built from the input: proving NXDOMAIN, NODATA,
//! a wildcard answer and a missing DS never panics, whatever the records say, and never costs
//! more hashes than the limit allows. Names are drawn from a few labels under a few zones and
//! NSEC3 owners and next hashes are mostly real hashes of such names, so that records match
//! and cover the names asked about often enough for the proof logic (not only the parsers) to
//! run.
#![no_main]

use cache::RrSet;
use dnssec::{Nsec3Limits, nsec3_hash, prove_no_ds, prove_nodata, prove_nxdomain, prove_wildcard};
use libfuzzer_sys::fuzz_target;
use wire::text::Field;
use wire::{Class, Name, NameRef, RType};

const ZONES: [&str; 3] = [".", "example.", "a.example."];
const LABELS: [&str; 8] = ["a", "b", "c", "*", "www", "example", "sub", "\\000"];
const TYPES: [RType; 12] = [
    RType::A,
    RType::NS,
    RType::SOA,
    RType::CNAME,
    RType::DS,
    RType::RRSIG,
    RType::NSEC,
    RType::DNSKEY,
    RType::TXT,
    RType::AAAA,
    RType::NSEC3,
    RType::DNAME,
];
/// The limits of the proofs; iterations above 8 make a proof `Insecure`.
const LIMITS: Nsec3Limits = Nsec3Limits {
    max_iterations: 8,
    max_hashes: 32,
};

/// The input, read a byte at a time; zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[usize::from(self.byte()) % from.len()]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// A name: up to three labels, under one of the zones (mostly `zone`).
    fn name(&mut self, zone: &str) -> Name {
        let b = self.byte();
        let parent = if b & 0xc0 == 0xc0 {
            ZONES[usize::from(self.byte()) % ZONES.len()]
        } else {
            zone
        };
        let mut text = String::new();
        for _ in 0..(b & 3) {
            text.push_str(LABELS[usize::from(self.byte()) % LABELS.len()]);
            text.push('.');
        }
        if parent != "." || text.is_empty() {
            text.push_str(parent);
        }
        Name::from_text(text.as_bytes(), Some(NameRef::ROOT)).unwrap_or_else(|_| Name::root())
    }

    /// A type bitmap in presentation form: up to five types.
    fn types(&mut self) -> String {
        let n = self.byte() % 6;
        (0..n).map(|_| format!(" {}", self.pick(&TYPES))).collect()
    }
}

fn base32hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(DIGITS[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(DIGITS[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "-".into();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RDATA from presentation text; `None` when it does not read.
fn rdata(rtype: RType, text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    wire::rdata::from_text(rtype, &Field::split(text), NameRef::ROOT, &mut out).ok()?;
    Some(out)
}

/// An RRSIG over `rtype` with `labels`, signature bytes aside (only the labels field counts).
fn rrsig(rtype: RType, labels: u8, zone: &str) -> Option<Vec<u8>> {
    rdata(
        RType::RRSIG,
        &format!("{rtype} 13 {labels} 3600 20300101000000 20200101000000 1 {zone} AAAA"),
    )
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let zone_text = *input.pick(&ZONES);
    let zone = Name::from_text(zone_text.as_bytes(), Some(NameRef::ROOT)).expect("valid");
    // NSEC3 parameters shared by the records, mostly.
    let salt = {
        let n = usize::from(input.byte() % 4);
        input.bytes(n)
    };
    let iterations = u16::from(input.byte() % 10);

    let mut sets = Vec::new();
    for _ in 0..input.byte() % 8 {
        let kind = input.byte();
        let owner_name = input.name(zone_text);
        let mut rdatas = Vec::new();
        let mut owner = owner_name.clone();
        for _ in 0..1 + kind % 2 {
            if kind & 0x10 == 0 {
                let next = input.name(zone_text);
                let types = input.types();
                rdatas.extend(rdata(RType::NSEC, &format!("{next}{types}")));
            } else {
                let b = input.byte();
                let (alg, flags) = if b & 0x80 == 0 {
                    (1, b & 1)
                } else {
                    (b & 3, b)
                };
                let own_params = input.byte() & 0xe0 == 0xe0;
                let (salt, iterations) = if own_params {
                    let n = usize::from(input.byte() % 4);
                    (input.bytes(n), u16::from(input.byte()))
                } else {
                    (salt.clone(), iterations)
                };
                let hash_of = |input: &mut Input<'_>| -> Vec<u8> {
                    let b = input.byte();
                    if b & 0xf0 == 0xf0 {
                        input.bytes(usize::from(b & 0x1f))
                    } else {
                        let mut h = nsec3_hash(input.name(zone_text).as_ref(), &salt, iterations);
                        // Now and then one step off: just above or below a real hash.
                        match b & 0x0c {
                            0x04 => h[19] = h[19].wrapping_add(1),
                            0x08 => h[19] = h[19].wrapping_sub(1),
                            _ => {}
                        }
                        h.to_vec()
                    }
                };
                let own = hash_of(&mut input);
                let next = hash_of(&mut input);
                let types = input.types();
                if let Ok(o) = zone.prepend(base32hex(&own).as_bytes()) {
                    owner = o;
                }
                rdatas.extend(rdata(
                    RType::NSEC3,
                    &format!(
                        "{alg} {flags} {iterations} {} {}{types}",
                        hex(&salt),
                        base32hex(&next)
                    ),
                ));
            }
        }
        let rtype = if kind & 0x10 == 0 {
            RType::NSEC
        } else {
            RType::NSEC3
        };
        let labels = if kind & 0x20 != 0 {
            input.byte() % 4
        } else {
            u8::try_from(owner.as_ref().label_count()).unwrap_or(u8::MAX)
        };
        let sigs = rrsig(rtype, labels, zone_text).into_iter().collect();
        sets.push(RrSet {
            owner,
            rtype,
            class: Class::IN,
            ttl: 3600,
            rdatas,
            sigs,
        });
    }

    let qname = input.name(zone_text);
    let qtype = *input.pick(&TYPES);
    let labels = input.byte() % 5;
    let z = zone.as_ref();
    let q = qname.as_ref();
    let _ = prove_nxdomain(q, z, &sets, &LIMITS).map_err(|e| e.to_string());
    let _ = prove_nodata(q, qtype, z, &sets, &LIMITS).map_err(|e| e.to_string());
    let _ = prove_wildcard(q, labels, z, &sets, &LIMITS).map_err(|e| e.to_string());
    let _ = prove_no_ds(q, z, &sets, &LIMITS).map_err(|e| e.to_string());
    // The signer name may be any zone, not only the one the records were built for.
    let other = Name::from_text(input.pick(&ZONES).as_bytes(), Some(NameRef::ROOT)).expect("valid");
    let _ = prove_nxdomain(q, other.as_ref(), &sets, &LIMITS);
    let _ = prove_no_ds(q, other.as_ref(), &sets, &LIMITS);
});
