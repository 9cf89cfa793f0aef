//! Zones: master files (RFC 1035 section 5) and immutable zone snapshots.

#![forbid(unsafe_code)]
