//! One resource record as read from a zone file, before it joins a zone.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use wire::{Class, Name, RType};

/// Where something was written: file, line and column, all counted from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file, as it was named to the parser (an `$INCLUDE`d file by its resolved path).
    pub file: Arc<Path>,
    /// Line, from 1.
    pub line: u32,
    /// Column in bytes, from 1.
    pub column: u32,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A resource record with its RDATA in uncompressed wire form.
#[derive(Clone, Debug)]
pub struct Record {
    /// The owner name, absolute.
    pub owner: Name,
    /// The class (only IN is served).
    pub class: Class,
    /// The record type.
    pub rtype: RType,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The RDATA in canonical uncompressed wire form.
    pub rdata: Vec<u8>,
    /// Where the record was written; `None` for records made by code.
    pub loc: Option<Loc>,
}

impl fmt::Display for Record {
    /// The record in zone-file form, as `dig` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rdata = String::new();
        if wire::rdata::to_text(self.rtype, &self.rdata, &mut rdata).is_err() {
            wire::rdata::generic_to_text(&self.rdata, &mut rdata);
        }
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.owner, self.ttl, self.class, self.rtype, rdata
        )
    }
}
