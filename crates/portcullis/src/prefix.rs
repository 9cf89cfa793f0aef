//! Address prefixes for the configuration: the `guard` crate's [`Prefix`], which the ACLs
//! match, re-exported so that configuration modules name it as before.

pub use guard::prefix::{Prefix, PrefixError};
