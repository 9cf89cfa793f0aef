//! The authoritative engine: a query's bytes in, a response's bytes out, from loaded zones.
//!
//! This crate is the answer pipeline of Portcullis as an authoritative server. It does no I/O,
//! reads no clock and takes no lock: the `transport` crate calls [`Engine::respond`] from one
//! worker per core with the received bytes, the client's address and transport, and a buffer to
//! write the response into. Answering a query allocates nothing on the heap (the tests check it
//! with a counting allocator); only starting a zone transfer does.
//!
//! # The pipeline
//!
//! [`Engine::respond`] runs explicit stages, each returning a decision (see [`engine`]):
//! read the query ([`query`]), route it (a zone of the [`Catalog`], the CHAOS identity names of
//! [`chaos`], or a zone transfer), answer ([`answer`]), finish (response code, EDNS, truncation).
//! It returns an [`Outcome`]: a [`ReplyInfo`] describing the response written (length, response
//! code, QTYPE, TC, and which part answered, so the transport counts metrics without parsing the
//! response again), a drop, or a [`TransferRequest`] for AXFR and IXFR over TCP ([`transfer`]),
//! which the transport streams message by message.
//!
//! Every reason a query is not answered from a zone is a [`QueryError`], turned into a response
//! code in one place ([`QueryError::rcode`]); the table in [`error`] gives the rule behind each.
//!
//! # Recursion
//!
//! An engine built [`Engine::with_resolver`] is also a recursive resolver's front end
//! ([`recursion`]): a name in none of its zones (the operator's, and the [`local`] zones of RFC
//! 6303 and RFC 6761) is answered from the shared [`cache::Cache`] for a client in the
//! recursion ACL, without allocating; a miss returns [`Outcome::Recurse`] with a
//! [`RecursionRequest`], and once the transport's resolver has an answer,
//! [`Engine::write_resolution`] (or [`Engine::respond_stale`]) writes the response. `now`, the
//! caller's clock on the cache's time scale, is passed to [`Engine::respond`] for that.
//!
//! # What the answers follow
//!
//! - RFC 1034 section 4.3.2 and RFC 1035: the answer algorithm, the closest enclosing zone,
//!   AA on authoritative data, referrals, additional addresses; RFC 2181 for TC.
//! - RFC 2308: negative answers with the SOA and its negative TTL.
//! - RFC 4592 (wildcards), RFC 6604 (response codes after CNAME), RFC 6672 (DNAME).
//! - RFC 9471 (glue), RFC 4035 section 3.1.4.1 (DS from the parent side of a cut).
//! - RFC 6891 and RFC 8906 (EDNS), RFC 5001 (NSID), RFC 8482 (ANY), RFC 4892 (`id.server`).
//! - RFC 7873 and RFC 9018 (DNS cookies, [`Engine::with_cookies`]).
//! - RFC 5936 (AXFR), RFC 1995 (IXFR, answered in full).
//!
//! # Example
//!
//! ```
//! use engine::{Catalog, Client, Engine, EngineConfig, Outcome, Transport};
//! use wire::{Name, Rcode};
//!
//! let origin: Name = "example.".parse().unwrap();
//! let text = "@ 3600 SOA ns hostmaster 1 7200 3600 1209600 300\n@ 3600 NS ns\nns 3600 A 192.0.2.1\n";
//! let zone = zone::load_str(text, std::path::Path::new("example.zone"), origin.as_ref())
//!     .unwrap()
//!     .zone;
//! let engine = Engine::new(Catalog::new(vec![zone]).unwrap(), EngineConfig::default()).unwrap();
//!
//! // A query for ns.example. A: ID 1, no flags, one question.
//! let mut query = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
//! query.extend_from_slice(b"\x02ns\x07example\x00\x00\x01\x00\x01");
//! let client = Client { addr: "192.0.2.99".parse().unwrap(), transport: Transport::Udp };
//! let mut out = [0u8; 1232];
//! let Outcome::Reply(info) = engine.respond(&query, &client, cache::Time::ZERO, &mut out) else { panic!() };
//! assert_eq!(info.rcode, Rcode::NOERROR);
//! let response = wire::Message::parse(&out[..info.len]).unwrap();
//! assert_eq!(response.header().ancount, 1);
//! ```

#![forbid(unsafe_code)]

pub mod answer;
pub mod catalog;
pub mod chaos;
pub mod config;
pub mod detection;
pub mod engine;
pub mod error;
pub mod local;
pub mod policy;
pub mod proofs;
pub mod query;
pub mod recursion;
pub mod transfer;

pub use answer::AnswerKind;
pub use catalog::{Catalog, CatalogError, ZoneId};
pub use config::{AnyPolicy, ConfigError, EngineConfig, ListenerAcl};
pub use detection::{DetectRecord, Detection, RecentAlert};
pub use engine::{
    AnswerSource, Client, CookiePolicy, Engine, Listener, Outcome, ReplyInfo, Transport,
};
pub use error::{AclPurpose, QueryError};
pub use local::{DdrEndpoint, ddr_zone, local_zone_names, local_zones};
pub use policy::SharedPolicy;
pub use recursion::{RecursionRequest, Resolver};
pub use transfer::{TransferRequest, TransferStream};
