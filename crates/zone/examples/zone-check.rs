//! Checks a zone file: `zone-check [-q] ORIGIN FILE`.
//!
//! Parses FILE (and what it `$INCLUDE`s) with ORIGIN as the initial `$ORIGIN` and prints each
//! record in zone-file form, one per line, or, when the file has errors, each error as
//! `file:line:column: message` on standard error. Exits with 1 on errors, 2 on bad usage.
//! With `-q`, prints only how many records were read.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use wire::Name;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let quiet = args.first().is_some_and(|a| a == "-q");
    if quiet {
        args.remove(0);
    }
    let [origin, file] = args.as_slice() else {
        eprintln!("usage: zone-check [-q] ORIGIN FILE");
        return ExitCode::from(2);
    };
    let origin = match Name::from_text(origin.as_bytes(), Some(wire::NameRef::ROOT)) {
        Ok(name) => name,
        Err(e) => {
            eprintln!("zone-check: bad origin '{origin}': {e}");
            return ExitCode::from(2);
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut records = 0u64;
    let mut errors = 0u64;
    for item in zone::parse_file(Path::new(file), origin.as_ref()) {
        match item {
            Ok(record) => {
                records += 1;
                if !quiet && writeln!(out, "{record}").is_err() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => {
                errors += 1;
                eprintln!("{e}");
            }
        }
    }
    let _ = out.flush();
    if errors > 0 {
        eprintln!("zone-check: {errors} error(s)");
        return ExitCode::from(1);
    }
    if quiet {
        println!("{records} records");
    }
    ExitCode::SUCCESS
}
