//! Builds a large synthetic zone and reports build time and memory per record.
//!
//! `cargo run --release -p zone --example zone-scale -- [RECORDS]` (default 1,000,000). The zone
//! repeats a unit of ten records over six names: a host with A, AAAA, MX and TXT, a `www` name
//! with an A, and a delegation with two NS records and three glue addresses.

use std::error::Error;
use std::time::Instant;

use wire::{Class, Name, RType};
use zone::{Lookup, Record, ZoneBuilder};

fn main() -> Result<(), Box<dyn Error>> {
    let wanted: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 1_000_000,
    };
    let origin: Name = "example.".parse()?;
    let start = Instant::now();
    let mut builder = ZoneBuilder::new(origin.clone());
    let mut add = |owner: &Name, rtype: RType, rdata: Vec<u8>| {
        builder.add(Record {
            owner: owner.clone(),
            class: Class::IN,
            rtype,
            ttl: 3600,
            rdata,
            loc: None,
        });
    };
    let ns: Name = "ns.example.".parse()?;
    let mut soa = ns.as_wire().to_vec();
    soa.extend_from_slice(Name::from_text(b"hostmaster", Some(origin.as_ref()))?.as_wire());
    for v in [2024010101u32, 7200, 3600, 1_209_600, 300] {
        soa.extend_from_slice(&v.to_be_bytes());
    }
    add(&origin, RType::SOA, soa);
    add(&origin, RType::NS, ns.as_wire().to_vec());
    add(&ns, RType::A, vec![192, 0, 2, 1]);
    let mut count = 3;
    let mut unit = 0u32;
    while count < wanted {
        let [a, b, c, d] = unit.to_be_bytes();
        let rel = |text: String| Name::from_text(text.as_bytes(), Some(origin.as_ref()));
        let host = rel(format!("host{unit}"))?;
        add(&host, RType::A, vec![10, b, c, d]);
        add(
            &host,
            RType::AAAA,
            [&[0x20, 0x01, 0x0d, 0xb8][..], &[0; 8], &[a, b, c, d]].concat(),
        );
        let mut mx = 10u16.to_be_bytes().to_vec();
        mx.extend_from_slice(rel(format!("mail{}", unit % 16))?.as_wire());
        add(&host, RType::MX, mx);
        let txt = format!("v=spf1 ip4:10.{b}.{c}.{d} -all");
        add(
            &host,
            RType::TXT,
            [&[txt.len() as u8][..], txt.as_bytes()].concat(),
        );
        add(&rel(format!("www{unit}"))?, RType::A, vec![10, b, c, d]);
        let cut = rel(format!("del{unit}"))?;
        let ns1 = rel(format!("ns1.del{unit}"))?;
        let ns2 = rel(format!("ns2.del{unit}"))?;
        add(&cut, RType::NS, ns1.as_wire().to_vec());
        add(&cut, RType::NS, ns2.as_wire().to_vec());
        add(&ns1, RType::A, vec![172, 16 | (b & 0x0f), c, d]);
        add(
            &ns2,
            RType::A,
            vec![172, 16 | (b & 0x0f), c, d.wrapping_add(1)],
        );
        add(
            &ns1,
            RType::AAAA,
            [&[0x20, 0x01, 0x0d, 0xb8, 0, 1][..], &[0; 6], &[a, b, c, d]].concat(),
        );
        count += 10;
        unit += 1;
    }
    let added = start.elapsed();
    let built = builder
        .finish()
        .map_err(|problems| format!("{} problems, first: {}", problems.len(), problems[0]))?;
    let total = start.elapsed();
    let zone = built.zone;
    let records = zone.record_count();
    println!("records           {records}");
    println!("names             {}", zone.name_count());
    println!("warnings          {}", built.warnings.len());
    println!("add               {:.2} s", added.as_secs_f64());
    println!("finish            {:.2} s", (total - added).as_secs_f64());
    println!("build total       {:.2} s", total.as_secs_f64());
    println!("memory            {} bytes", zone.memory_bytes());
    println!(
        "memory per record {:.1} bytes",
        zone.memory_bytes() as f64 / records as f64
    );

    // A rough lookup rate over existing, missing and delegated names.
    let queries: Vec<(Name, RType)> = (0..unit.min(100_000))
        .flat_map(|u| {
            [
                (format!("host{u}.example."), RType::A),
                (format!("nohost{u}.example."), RType::A),
                (format!("x.del{u}.example."), RType::AAAA),
            ]
        })
        .filter_map(|(text, rtype)| Some((text.parse::<Name>().ok()?, rtype)))
        .collect();
    let start = Instant::now();
    let mut answers = 0usize;
    for (qname, qtype) in &queries {
        if matches!(zone.lookup(qname.as_ref(), *qtype), Lookup::Answer { .. }) {
            answers += 1;
        }
    }
    let elapsed = start.elapsed();
    println!(
        "lookups           {} in {:.3} s, {:.0} ns each ({answers} answers)",
        queries.len(),
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / queries.len().max(1) as f64
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines().filter(|l| l.starts_with("VmHWM")) {
            println!(
                "peak RSS          {}",
                line.trim_start_matches("VmHWM:").trim()
            );
        }
    }
    Ok(())
}
