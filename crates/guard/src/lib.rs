//! Policy decisions for the hot path. The guard decides; the transports act: nothing here
//! touches a socket, a clock or a log, so each decision is a pure function of its inputs and
//! the shared state, and can be tested with made-up times.
//!
//! The policies: access-control lists by address prefix ([`Acl`]), response rate limiting
//! ([`Rrl`]), as BIND and Knot do it, client limits and dynamic blocks ([`DynBlock`]), as
//! dnsdist does them, and DNS cookies as a server ([`Cookies`], RFC 7873 and RFC 9018).

#![forbid(unsafe_code)]

pub mod acl;
pub mod cookie;
pub mod dynblock;
pub mod policy;
pub mod prefix;
pub mod rrl;

pub use acl::{Acl, AclAction};
pub use cookie::{Checked, Cookies, Invalid, Secret, SecretError, Verdict};
pub use dynblock::{DynBlock, DynBlockConfig};
pub use prefix::{Prefix, PrefixError};
pub use rrl::{Decision, Kind, Rrl, RrlConfig, name_key, question, slip};
