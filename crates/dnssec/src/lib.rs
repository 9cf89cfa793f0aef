//! DNSSEC validation building blocks (RFC 4033, RFC 4034, RFC 4035).
//!
//! A signed zone attaches to each RRset one RRSIG per signing key. The RRSIG's signature covers
//! the RRSIG RDATA itself (minus the signature) followed by the RRset in *canonical form*: a
//! byte-exact, case- and order-independent encoding that signer and validator both compute
//! ([`canonical`]). The signature is checked with the public key of a DNSKEY record at the zone
//! apex, found by its algorithm and *key tag* ([`key`]); a DNSKEY is in turn vouched for by a DS
//! record in the parent zone holding a digest of it ([`key::ds_digest`]). [`verify`] ties
//! these together for one RRSIG and one DNSKEY.
//!
//! This crate does not fetch anything nor build chains of trust: it answers "does this RRSIG,
//! made by this DNSKEY, validly sign this RRset at this time?".

#![forbid(unsafe_code)]

pub mod canonical;
pub mod key;
pub mod verify;

pub use canonical::{CanonicalError, canonical_rdata, canonical_rrset};
pub use key::{DigestError, ds_digest, key_tag};
pub use verify::{Crypto, CryptoError, RingCrypto, VerifyError, verify_rrsig};
pub mod keyfile;
pub mod keys;
pub mod sign;
pub mod zonesign;
pub use keys::{Algorithm, KeyError, KeyPair, ZoneKey};
pub use sign::{CanonicalRrset, SignError, sign_rrset};
pub use zonesign::{
    Denial, KeyUse, Nsec3Params, SigStore, SignParams, SignedZone, ZoneRecord, sign_zone,
};
