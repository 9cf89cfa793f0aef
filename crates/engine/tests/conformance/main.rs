//! The engine's behaviour, filed by the RFC section it follows. Each response is read back with
//! `wire::Message`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod support;

mod chaos;
mod errors;
mod rfc1034_answers;
mod rfc1034_chains;
mod rfc2308_negative;
mod rfc4035_signatures;
mod rfc4592_wildcards;
mod rfc5936_transfer;
mod rfc6891_edns;
mod rfc8482_any;
mod rfc9471_referrals;
