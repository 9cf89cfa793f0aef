//! The Portcullis server binary's library half: configuration ([`config`]), address prefixes
//! ([`prefix`], the `guard` crate's), the checks behind `portcullis check` ([`check`]), the
//! server behind `portcullis serve` ([`serve`]), the dig-like client behind `portcullis query`
//! ([`query`]), the `/metrics` HTTP endpoint ([`http`]) and the control socket behind
//! `portcullis ctl` ([`control`]), the DNS cookie secrets ([`cookies`]), and the switch away
//! from root ([`privileges`]).
//! Signing: [`signer`] (zones served signed), [`keystate`] (keys and rollovers) and
//! [`dnssec_cli`] (`portcullis dnssec`).
//! Blocklists and response policy zones: [`policy`] (loading and reloading the files).
//! The live web dashboard and its API on the HTTP endpoint: [`dashboard`].
//! `src/main.rs` holds the command line.

#![forbid(unsafe_code)]

pub mod check;
pub mod config;
pub mod control;
pub mod cookies;
pub mod dashboard;
pub mod detect_cli;
pub mod detection;
pub mod dnssec_cli;
pub mod http;
pub mod keystate;
pub mod policy;
pub mod prefix;
pub mod privileges;
pub mod query;
pub mod serve;
pub mod signer;
pub mod tls;
