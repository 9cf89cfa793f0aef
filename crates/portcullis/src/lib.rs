//! The Portcullis server binary's library half: configuration ([`config`]), address prefixes
//! ([`prefix`]), the checks behind `portcullis check` ([`check`]), the dig-like client
//! behind `portcullis query` ([`query`]) and the `/metrics` HTTP endpoint ([`http`]).
//! `src/main.rs` holds the command line.

#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod http;
pub mod prefix;
pub mod query;
