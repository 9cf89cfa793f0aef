//! Iterative resolution as a sans-I/O state machine (skeleton; the recursor lands next).

#![forbid(unsafe_code)]

pub mod hints;
pub mod infra;
pub mod upstream;
