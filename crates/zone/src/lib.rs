//! Zones: master files (RFC 1035 section 5) and immutable zone snapshots.

#![forbid(unsafe_code)]

pub mod record;

pub use record::{Loc, Record};
