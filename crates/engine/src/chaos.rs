//! Server identity in class CHAOS: `version.bind`, `hostname.bind`, `id.server` and
//! `version.server`.
//!
//! By a convention BIND began and RFC 4892 section 2.3 records (for `id.server`), a client asks
//! a server who it is with a TXT query in class CHAOS (CH). Each name answers from the
//! configuration ([`EngineConfig`]): one TXT record with the configured string, TTL 0, AA set.
//! A name whose string is not configured (the default for all of them: revealing the software
//! version helps attackers more than operators) is REFUSED, as is every other CHAOS name.
//! A configured name asked for another type gets NOERROR with an empty answer.

use wire::message::Section;
use wire::writer::{MessageWriter, WriteError};
use wire::{Class, Name, RType};

use crate::config::EngineConfig;
use crate::error::QueryError;
use crate::query::Question;

/// The identity names, in wire form, and which setting answers each.
const NAMES: [(&[u8], Identity); 4] = [
    (b"\x07version\x04bind\x00", Identity::Version),
    (b"\x08hostname\x04bind\x00", Identity::Hostname),
    (b"\x02id\x06server\x00", Identity::Id),
    (b"\x07version\x06server\x00", Identity::Version),
];

#[derive(Clone, Copy, Debug)]
enum Identity {
    Version,
    Hostname,
    Id,
}

/// The configured string answering `qname`, or why the name is not answered.
pub(crate) fn identity<'c>(config: &'c EngineConfig, qname: &Name) -> Result<&'c str, QueryError> {
    let wire = qname.as_wire();
    let identity = NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(wire))
        .map(|&(_, id)| id)
        .ok_or(QueryError::ChaosHidden)?;
    let text = match identity {
        Identity::Version => &config.version,
        Identity::Hostname => &config.hostname,
        Identity::Id => &config.id,
    };
    text.as_deref().ok_or(QueryError::ChaosHidden)
}

/// Writes the TXT record holding `text` for a TXT or ANY question (nothing for other types).
pub(crate) fn write(
    text: &str,
    question: &Question,
    w: &mut MessageWriter<'_>,
) -> Result<(), WriteError> {
    if question.qtype != RType::TXT && question.qtype != RType::ANY {
        return Ok(());
    }
    // One character-string of at most 255 bytes (longer settings are cut).
    let bytes = &text.as_bytes()[..text.len().min(255)];
    let mut rdata = [0u8; 256];
    rdata[0] = bytes.len() as u8;
    rdata[1..=bytes.len()].copy_from_slice(bytes);
    w.push(
        Section::Answer,
        question.qname.as_ref(),
        RType::TXT,
        Class::CH,
        0,
        &rdata[..=bytes.len()],
    )
}
