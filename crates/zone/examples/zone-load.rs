//! Loads a zone file and reports how long it took and what it costs: `zone-load ORIGIN FILE`.
//!
//! Runs [`zone::load_file`] (parse, build and the load-time checks, as the server does) and
//! prints one figure per line: wall time, records, names, warnings, the snapshot's
//! [`memory_bytes`](zone::Zone::memory_bytes) and bytes per record, and the process's peak
//! resident set size (`VmHWM` in `/proc/self/status`), which also counts the parser's and the
//! builder's transient buffers. On errors, prints them on standard error and exits with 1; bad
//! usage exits with 2. `bench/zone-load.sh` runs it beside NSD and Knot DNS on the same file.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use wire::Name;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [origin, file] = args.as_slice() else {
        eprintln!("usage: zone-load ORIGIN FILE");
        return ExitCode::from(2);
    };
    let origin = match Name::from_text(origin.as_bytes(), Some(wire::NameRef::ROOT)) {
        Ok(name) => name,
        Err(e) => {
            eprintln!("zone-load: bad origin '{origin}': {e}");
            return ExitCode::from(2);
        }
    };

    let start = Instant::now();
    let loaded = zone::load_file(Path::new(file), origin.as_ref());
    let elapsed = start.elapsed();
    let built = match loaded {
        Ok(built) => built,
        Err(e) => {
            eprintln!("{e}");
            let count = match &e {
                zone::LoadError::Parse(errors) => errors.len(),
                zone::LoadError::Zone(problems) => problems.len(),
            };
            eprintln!("zone-load: {count} error(s), zone not loaded");
            return ExitCode::from(1);
        }
    };
    for warning in &built.warnings {
        eprintln!("warning: {warning}");
    }

    let zone = &built.zone;
    let records = zone.record_count();
    let bytes = zone.memory_bytes();
    println!("load time        {:.3} s", elapsed.as_secs_f64());
    println!("records          {records}");
    println!("names            {}", zone.name_count());
    println!("warnings         {}", built.warnings.len());
    println!("memory           {bytes} bytes");
    println!(
        "bytes per record {:.1}",
        bytes as f64 / records.max(1) as f64
    );
    match peak_rss_kib() {
        Some(kib) => println!("peak RSS         {kib} KiB"),
        None => println!("peak RSS         unknown"),
    }
    ExitCode::SUCCESS
}

/// The process's peak resident set size in KiB (`VmHWM`), where `/proc` has it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
