//! Zones: master files (RFC 1035 section 5) and immutable zone snapshots.
//!
//! - [`parser`] reads zone files into [`Record`]s: [`parse_file`], or [`parse_str`] for text in
//!   memory; [`lexer`] splits the text into fields, [`generate`] carries out `$GENERATE`.

#![forbid(unsafe_code)]

pub mod generate;
pub mod lexer;
pub mod parser;
pub mod record;

pub use parser::{ParseError, Parser, parse_file, parse_str};
pub use record::{Loc, Record};
