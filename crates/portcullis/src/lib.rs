//! The Portcullis server binary's library half: configuration ([`config`]), address prefixes
//! ([`prefix`]) and the checks behind `portcullis check` ([`check`]). `src/main.rs` holds the
//! command line.

#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod prefix;
