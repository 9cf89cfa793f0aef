//! The Portcullis server binary's library half: configuration ([`config`]), address prefixes
//! ([`prefix`]), the checks behind `portcullis check` ([`check`]) and the server behind
//! `portcullis serve` ([`serve`]). `src/main.rs` holds the
//! command line.

#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod prefix;
pub mod serve;
