//! The DNS wire format, as Portcullis reads and writes it.
//!
//! DNS messages (RFC 1035 section 4) are parsed in place: a [`message::Message`] is a view over
//! the received bytes that validated every record's framing once, and hands out names, records and
//! EDNS data without copying the message. Responses are written by a [`writer::MessageWriter`]
//! into a caller-provided buffer with name compression from a fixed-size table and all-or-nothing
//! RRsets, so a response that does not fit is cut cleanly and the caller sets TC.
//!
//! Outside messages, data is kept in canonical uncompressed wire form: [`name::Name`] for names,
//! byte strings for RDATA (see [`rdata`] for the typed and presentation forms).
//!
//! Nothing here allocates on the query path, reads a clock or touches a socket.

#![forbid(unsafe_code)]

pub mod display;
pub mod edns;
pub mod message;
pub mod name;
pub mod rdata;
pub mod text;
pub mod types;
pub mod writer;

pub use message::{Flags, Header, Message, ParseError, Section};
pub use name::{CanonicalKey, Name, NameError, NameRef};
pub use types::{Class, Opcode, RType, Rcode};
pub use writer::{MessageWriter, WriteError};
