//! Loading a zone: parse a master file, then build and check the snapshot.
//!
//! Parse errors stop the load before the build (a zone with a syntax error is never served, even
//! in part); otherwise every problem the build's checks find is reported at once. Either way the
//! caller gets every error with its file, line and column, and keeps serving what it had.

use std::fmt;
use std::path::Path;

use wire::{Name, NameRef};

use crate::build::{Built, ZoneBuilder};
use crate::check::Problem;
use crate::parser::{ParseError, Parser, parse_file, parse_str};

/// Why a zone could not be loaded: every error found, in file order.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read or has syntax errors.
    Parse(Vec<ParseError>),
    /// The records parsed, but the zone breaks the load-time checks.
    Zone(Vec<Problem>),
}

impl fmt::Display for LoadError {
    /// One error per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = match self {
            LoadError::Parse(errors) => errors.iter().map(ToString::to_string).collect(),
            LoadError::Zone(problems) => problems.iter().map(ToString::to_string).collect(),
        };
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for LoadError {}

/// Loads the zone `origin` from the master file at `path`.
pub fn load_file(path: &Path, origin: NameRef<'_>) -> Result<Built, LoadError> {
    build(parse_file(path, origin), origin)
}

/// Loads the zone `origin` from master-file text; `file_label` names it in errors.
pub fn load_str(
    text: &(impl AsRef<[u8]> + ?Sized),
    file_label: &Path,
    origin: NameRef<'_>,
) -> Result<Built, LoadError> {
    build(parse_str(text, file_label, origin), origin)
}

fn build(parser: Parser<'_>, origin: NameRef<'_>) -> Result<Built, LoadError> {
    let mut builder = ZoneBuilder::new(Name::from(origin));
    let mut errors = Vec::new();
    for item in parser {
        match item {
            Ok(record) if errors.is_empty() => builder.add(record),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(LoadError::Parse(errors));
    }
    builder.finish().map_err(LoadError::Zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lookup;
    use wire::RType;

    fn origin() -> Name {
        "example.".parse().unwrap()
    }

    #[test]
    fn loads_and_answers() {
        let text = "$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
        let built = load_str(text, Path::new("example.zone"), origin().as_ref()).unwrap();
        assert_eq!(built.zone.serial(), 1);
        let ns: Name = "ns.example.".parse().unwrap();
        assert!(matches!(
            built.zone.lookup(ns.as_ref(), RType::A),
            Lookup::Answer { .. }
        ));
    }

    #[test]
    fn parse_errors_come_first_with_locations() {
        let text =
            "$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\n@ NS ns\nns A 192.0.2\nx AAAA ::1 junk\n";
        let err = load_str(text, Path::new("bad.zone"), origin().as_ref()).unwrap_err();
        let shown = err.to_string();
        assert!(
            matches!(err, LoadError::Parse(ref e) if e.len() == 2),
            "{shown}"
        );
        assert!(shown.starts_with("bad.zone:4:6: "), "{shown}");
        assert!(shown.contains("\nbad.zone:5:"), "{shown}");
    }

    #[test]
    fn check_problems_are_reported() {
        let text = "$TTL 300\n@ SOA ns hostmaster 1 2 3 4 5\nwww CNAME x\nwww A 192.0.2.1\n";
        let err = load_str(text, Path::new("z"), origin().as_ref()).unwrap_err();
        assert!(matches!(err, LoadError::Zone(_)), "{err}");
        assert!(
            err.to_string().contains("z:3:1") || err.to_string().contains("z:4:1"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let err = load_file(Path::new("/nonexistent/zone.file"), origin().as_ref()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/zone.file"), "{err}");
    }
}
