//! Policy decisions for the hot path. The guard decides; the transports act: nothing here
//! touches a socket, a clock or a log, so each decision is a pure function of its inputs and
//! the shared state, and can be tested with made-up times.
//!
//! The one policy so far is response rate limiting ([`Rrl`]), as BIND and Knot do it.

#![forbid(unsafe_code)]

pub mod rrl;

pub use rrl::{Decision, Kind, Rrl, RrlConfig, name_key, question, slip};
pub mod policy;
