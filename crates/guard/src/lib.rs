//! Policy decisions for the hot path. The guard decides; the transports act: nothing here
//! touches a socket, a clock or a log, so each decision is a pure function of its inputs and
//! the shared state, and can be tested with made-up times.
//!
//! Response rate limiting ([`Rrl`]), as BIND and Knot do it; client limits and dynamic
//! blocks ([`DynBlock`]), as dnsdist does them.

#![forbid(unsafe_code)]

pub mod dynblock;
pub mod rrl;

pub use dynblock::{DynBlock, DynBlockConfig};
pub use rrl::{Decision, Kind, Rrl, RrlConfig, name_key, question, slip};
