//! Zones: master files (RFC 1035 section 5) and immutable zone snapshots.
//!
//! - [`Record`]: one resource record as the zone-file parser reads it.
//! - [`ZoneBuilder`]: collects records, runs the load-time checks ([`check`]) and builds a
//!   [`Zone`], or reports every [`Problem`] found.
//! - [`Zone`]: the immutable snapshot ([`snapshot`]), with [`Zone::lookup`] returning a
//!   [`Lookup`], the authoritative answer decision ([`lookup`]).

#![forbid(unsafe_code)]

pub mod build;
pub mod check;
pub mod lookup;
pub mod record;
pub mod snapshot;

#[cfg(test)]
mod testutil;

pub use build::{Built, ZoneBuilder};
pub use check::Problem;
pub use lookup::Lookup;
pub use record::{Loc, Record};
pub use snapshot::{Node, RRset, RRsets, Rdatas, Zone};
