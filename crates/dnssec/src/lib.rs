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

pub mod anchors;
pub mod autotrust;
pub mod canonical;
pub mod denial;
pub mod key;
pub mod keyfile;
pub mod keys;
pub mod nsec;
pub mod nsec3;
pub mod sign;
pub mod verify;
pub mod zonesign;

pub use anchors::{Anchor, AnchorError, NegativeAnchors, TrustAnchors};
pub use autotrust::{AutoTrust, AutoTrustError, KeyState, TrackedKey};
pub use canonical::{CanonicalError, canonical_rdata, canonical_rrset};
pub use denial::{
    Denial, DenialError, NoDs, Nsec3Limits, prove_no_ds, prove_nodata, prove_nxdomain,
    prove_wildcard,
};
pub use key::{DigestError, digest_supported, ds_digest, key_tag};
pub use keys::{Algorithm, KeyError, KeyPair, ZoneKey};
pub use nsec3::nsec3_hash;
pub use sign::{CanonicalRrset, SignError, sign_rrset};
pub use verify::{Crypto, CryptoError, RingCrypto, VerifyError, algorithm_supported, verify_rrsig};
pub use zonesign::{
    DenialChain, KeyUse, Nsec3Params, SigStore, SignParams, SignedZone, ZoneRecord, sign_zone,
};
