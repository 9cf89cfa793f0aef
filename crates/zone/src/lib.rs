//! Zones: master files (RFC 1035 section 5) and immutable zone snapshots.
//!
//! - [`parser`] reads zone files into [`Record`]s: [`parse_file`], or [`parse_str`] for text in
//!   memory; [`lexer`] splits the text into fields, [`generate`] carries out `$GENERATE`.
//! - [`ZoneBuilder`]: collects records, runs the load-time checks ([`check`]) and builds a
//!   [`Zone`], or reports every [`Problem`] found. [`load_file`] does both steps.
//! - [`Zone`]: the immutable snapshot ([`snapshot`]), with [`Zone::lookup`] returning a
//!   [`Lookup`], the authoritative answer decision ([`lookup`]), and the NSEC/NSEC3 records
//!   that prove names and types absent in signed zones ([`denial`]).

#![forbid(unsafe_code)]

pub mod build;
pub mod check;
pub mod denial;
pub mod generate;
mod index;
pub mod lexer;
pub mod load;
pub mod lookup;
pub mod parser;
pub mod record;
pub mod snapshot;

#[cfg(test)]
mod testutil;

pub use build::{Built, ZoneBuilder};
pub use check::Problem;
pub use denial::{DenialChain, Nsec3Find, Nsec3Hash};
pub use load::{LoadError, load_file, load_str};
pub use lookup::Lookup;
pub use parser::{ParseError, Parser, parse_file, parse_str};
pub use record::{Loc, Record};
pub use snapshot::{Node, RRset, RRsets, Rdatas, Zone};
