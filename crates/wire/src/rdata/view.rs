//! The typed, borrowed view of RDATA: [`RData`].
//!
//! [`RData::parse`] checks uncompressed wire RDATA strictly for its type (lengths, names valid
//! and uncompressed, no trailing bytes, the type's own rules) and returns a view whose fields
//! borrow from the bytes; [`RData::write`] appends the wire form again. Variable parts that are
//! lists (TXT strings, type bitmaps, SVCB parameters) are validated once and then iterated
//! without further checks.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::RDataError;
use super::lists::{CharStrings, TypeBitmap};
use super::loc::Loc;
use super::svcb::SvcParams;
use crate::name::NameRef;
use crate::types::RType;

// ---------------------------------------------------------------------------------------------
// RData
// ---------------------------------------------------------------------------------------------

/// RDATA of one record, borrowed from its uncompressed wire form.
///
/// Types without specific support, and NULL and OPT, are [`RData::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum RData<'a> {
    /// An IPv4 address (RFC 1035 section 3.4.1).
    A(Ipv4Addr),
    /// An IPv6 address (RFC 3596).
    Aaaa(Ipv6Addr),
    /// An authoritative name server (RFC 1035 section 3.3.11).
    Ns(NameRef<'a>),
    /// A mail destination (obsolete, RFC 1035 section 3.3.4).
    Md(NameRef<'a>),
    /// A mail forwarder (obsolete, RFC 1035 section 3.3.5).
    Mf(NameRef<'a>),
    /// The canonical name of an alias (RFC 1035 section 3.3.1).
    Cname(NameRef<'a>),
    /// A mailbox domain name (experimental, RFC 1035 section 3.3.3).
    Mb(NameRef<'a>),
    /// A mail group member (experimental, RFC 1035 section 3.3.6).
    Mg(NameRef<'a>),
    /// A mail rename (experimental, RFC 1035 section 3.3.8).
    Mr(NameRef<'a>),
    /// A domain name pointer (RFC 1035 section 3.3.12).
    Ptr(NameRef<'a>),
    /// Redirection of a subtree (RFC 6672).
    Dname(NameRef<'a>),
    /// Start of a zone of authority (RFC 1035 section 3.3.13).
    Soa(Soa<'a>),
    /// Host information (RFC 1035 section 3.3.2).
    Hinfo { cpu: &'a [u8], os: &'a [u8] },
    /// Mailbox information (RFC 1035 section 3.3.7).
    Minfo {
        rmailbx: NameRef<'a>,
        emailbx: NameRef<'a>,
    },
    /// A mail exchange (RFC 1035 section 3.3.9).
    Mx {
        preference: u16,
        exchange: NameRef<'a>,
    },
    /// Text strings (RFC 1035 section 3.3.14).
    Txt(CharStrings<'a>),
    /// Sender Policy Framework text (RFC 7208, same form as TXT).
    Spf(CharStrings<'a>),
    /// A responsible person (RFC 1183 section 2.2).
    Rp { mbox: NameRef<'a>, txt: NameRef<'a> },
    /// An AFS database location (RFC 1183 section 1).
    Afsdb { subtype: u16, hostname: NameRef<'a> },
    /// A route-through host (RFC 1183 section 3.3).
    Rt { preference: u16, host: NameRef<'a> },
    /// X.400 mapping (RFC 2163).
    Px {
        preference: u16,
        map822: NameRef<'a>,
        mapx400: NameRef<'a>,
    },
    /// A location (RFC 1876).
    Loc(Loc),
    /// A service location (RFC 2782).
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: NameRef<'a>,
    },
    /// A naming authority pointer (RFC 3403).
    Naptr {
        order: u16,
        preference: u16,
        flags: &'a [u8],
        services: &'a [u8],
        regexp: &'a [u8],
        replacement: NameRef<'a>,
    },
    /// A key exchanger (RFC 2230).
    Kx {
        preference: u16,
        exchanger: NameRef<'a>,
    },
    /// A certificate (RFC 4398).
    Cert {
        cert_type: u16,
        key_tag: u16,
        algorithm: u8,
        certificate: &'a [u8],
    },
    /// A delegation signer (RFC 4034 section 5).
    Ds(Ds<'a>),
    /// A child's copy of DS (RFC 7344).
    Cds(Ds<'a>),
    /// An SSH key fingerprint (RFC 4255).
    Sshfp {
        algorithm: u8,
        fp_type: u8,
        fingerprint: &'a [u8],
    },
    /// A signature over an RRset (RFC 4034 section 3).
    Rrsig(Rrsig<'a>),
    /// The next owner name and the types present (RFC 4034 section 4).
    Nsec {
        next: NameRef<'a>,
        types: TypeBitmap<'a>,
    },
    /// A zone key (RFC 4034 section 2).
    Dnskey(Dnskey<'a>),
    /// A child's copy of DNSKEY (RFC 7344).
    Cdnskey(Dnskey<'a>),
    /// A DHCP client identifier (RFC 4701).
    Dhcid(&'a [u8]),
    /// Hashed authenticated denial of existence (RFC 5155 section 3).
    Nsec3(Nsec3<'a>),
    /// NSEC3 parameters of a zone (RFC 5155 section 4).
    Nsec3param {
        hash_algorithm: u8,
        flags: u8,
        iterations: u16,
        salt: &'a [u8],
    },
    /// A TLS certificate association (RFC 6698).
    Tlsa(Tlsa<'a>),
    /// An S/MIME certificate association (RFC 8162, same form as TLSA).
    Smimea(Tlsa<'a>),
    /// An OpenPGP transferable public key (RFC 7929).
    Openpgpkey(&'a [u8]),
    /// A message digest of the zone (RFC 8976).
    Zonemd {
        serial: u32,
        scheme: u8,
        hash_algorithm: u8,
        digest: &'a [u8],
    },
    /// A service binding (RFC 9460).
    Svcb(Svcb<'a>),
    /// A service binding for HTTP origins (RFC 9460 section 9).
    Https(Svcb<'a>),
    /// A 48-bit extended unique identifier (RFC 7043).
    Eui48([u8; 6]),
    /// A 64-bit extended unique identifier (RFC 7043).
    Eui64([u8; 8]),
    /// A URI (RFC 7553).
    Uri {
        priority: u16,
        weight: u16,
        target: &'a [u8],
    },
    /// A certification authority authorization (RFC 8659).
    Caa {
        flags: u8,
        tag: &'a [u8],
        value: &'a [u8],
    },
    /// Any other type, opaque.
    Unknown { rtype: RType, data: &'a [u8] },
}

/// SOA fields (RFC 1035 section 3.3.13).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Soa<'a> {
    /// The primary server (MNAME).
    pub mname: NameRef<'a>,
    /// The responsible mailbox (RNAME).
    pub rname: NameRef<'a>,
    /// Version number of the zone.
    pub serial: u32,
    /// Seconds between refreshes by secondaries.
    pub refresh: u32,
    /// Seconds before a failed refresh is retried.
    pub retry: u32,
    /// Seconds after which a secondary stops answering without a refresh.
    pub expire: u32,
    /// TTL of negative answers (RFC 2308).
    pub minimum: u32,
}

/// DS and CDS fields (RFC 4034 section 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ds<'a> {
    /// Key tag of the DNSKEY referred to.
    pub key_tag: u16,
    /// Its algorithm.
    pub algorithm: u8,
    /// The digest algorithm (1 SHA-1, 2 SHA-256, 4 SHA-384).
    pub digest_type: u8,
    /// The digest.
    pub digest: &'a [u8],
}

/// DNSKEY and CDNSKEY fields (RFC 4034 section 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dnskey<'a> {
    /// Flags: 256 zone key, 257 with SEP.
    pub flags: u16,
    /// Always 3.
    pub protocol: u8,
    /// The algorithm.
    pub algorithm: u8,
    /// The public key.
    pub public_key: &'a [u8],
}

/// RRSIG fields (RFC 4034 section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rrsig<'a> {
    /// The type of the RRset signed.
    pub type_covered: RType,
    /// The algorithm.
    pub algorithm: u8,
    /// Labels of the original owner name, wildcard and root not counted.
    pub labels: u8,
    /// The TTL of the RRset as signed.
    pub original_ttl: u32,
    /// End of validity, seconds since 1970 in serial number arithmetic.
    pub expiration: u32,
    /// Start of validity.
    pub inception: u32,
    /// Key tag of the signing key.
    pub key_tag: u16,
    /// Owner of the signing key.
    pub signer: NameRef<'a>,
    /// The signature.
    pub signature: &'a [u8],
}

/// NSEC3 fields (RFC 5155 section 3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nsec3<'a> {
    /// The hash algorithm (1 SHA-1).
    pub hash_algorithm: u8,
    /// Flags (bit 0: opt-out).
    pub flags: u8,
    /// Extra hash iterations.
    pub iterations: u16,
    /// The salt, up to 255 bytes.
    pub salt: &'a [u8],
    /// The next hashed owner name, in binary, 1 to 255 bytes.
    pub next_hashed: &'a [u8],
    /// The types present at the original owner.
    pub types: TypeBitmap<'a>,
}

/// TLSA and SMIMEA fields (RFC 6698 section 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlsa<'a> {
    /// Certificate usage.
    pub usage: u8,
    /// Selector (full certificate or public key).
    pub selector: u8,
    /// Matching type (exact, SHA-256, SHA-512).
    pub matching_type: u8,
    /// The certificate association data.
    pub data: &'a [u8],
}

/// SVCB and HTTPS fields (RFC 9460 section 2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Svcb<'a> {
    /// 0 for AliasMode, else ServiceMode with this priority (lower first).
    pub priority: u16,
    /// The alias target or the service's host; the root means the owner itself.
    pub target: NameRef<'a>,
    /// The parameters, validated, in strictly increasing key order.
    pub params: SvcParams<'a>,
}

impl Svcb<'_> {
    /// Whether this is an alias (priority 0, RFC 9460 section 2.4.2).
    pub fn is_alias(&self) -> bool {
        self.priority == 0
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

/// A cursor over wire RDATA; every read is bounds-checked.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], RDataError> {
        if self.data.len() < n {
            return Err(RDataError::new("too short"));
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], RDataError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, RDataError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, RDataError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, RDataError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn name(&mut self) -> Result<NameRef<'a>, RDataError> {
        let (name, rest) =
            NameRef::split_wire(self.data).map_err(|_| RDataError::new("bad name"))?;
        self.data = rest;
        Ok(name)
    }

    pub(crate) fn char_string(&mut self) -> Result<&'a [u8], RDataError> {
        let len = usize::from(self.u8()?);
        self.bytes(len)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }

    pub(crate) fn finish(&self) -> Result<(), RDataError> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(RDataError::new("trailing bytes"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parse and write
// ---------------------------------------------------------------------------------------------

fn non_empty(data: &[u8], what: &'static str) -> Result<(), RDataError> {
    if data.is_empty() {
        Err(RDataError::new(what))
    } else {
        Ok(())
    }
}

impl<'a> RData<'a> {
    /// Reads uncompressed wire RDATA of type `rtype`, checking it strictly.
    pub fn parse(rtype: RType, data: &'a [u8]) -> Result<RData<'a>, RDataError> {
        let mut r = Reader::new(data);
        let rd = match rtype {
            RType::A => RData::A(Ipv4Addr::from(r.array::<4>()?)),
            RType::AAAA => RData::Aaaa(Ipv6Addr::from(r.array::<16>()?)),
            RType::NS => RData::Ns(r.name()?),
            RType::MD => RData::Md(r.name()?),
            RType::MF => RData::Mf(r.name()?),
            RType::CNAME => RData::Cname(r.name()?),
            RType::MB => RData::Mb(r.name()?),
            RType::MG => RData::Mg(r.name()?),
            RType::MR => RData::Mr(r.name()?),
            RType::PTR => RData::Ptr(r.name()?),
            RType::DNAME => RData::Dname(r.name()?),
            RType::SOA => RData::Soa(Soa {
                mname: r.name()?,
                rname: r.name()?,
                serial: r.u32()?,
                refresh: r.u32()?,
                retry: r.u32()?,
                expire: r.u32()?,
                minimum: r.u32()?,
            }),
            RType::HINFO => RData::Hinfo {
                cpu: r.char_string()?,
                os: r.char_string()?,
            },
            RType::MINFO => RData::Minfo {
                rmailbx: r.name()?,
                emailbx: r.name()?,
            },
            RType::MX => RData::Mx {
                preference: r.u16()?,
                exchange: r.name()?,
            },
            RType::TXT => RData::Txt(CharStrings::new(r.rest())?),
            RType::SPF => RData::Spf(CharStrings::new(r.rest())?),
            RType::RP => RData::Rp {
                mbox: r.name()?,
                txt: r.name()?,
            },
            RType::AFSDB => RData::Afsdb {
                subtype: r.u16()?,
                hostname: r.name()?,
            },
            RType::RT => RData::Rt {
                preference: r.u16()?,
                host: r.name()?,
            },
            RType::PX => RData::Px {
                preference: r.u16()?,
                map822: r.name()?,
                mapx400: r.name()?,
            },
            RType::LOC => RData::Loc(Loc::parse(&mut r)?),
            RType::SRV => RData::Srv {
                priority: r.u16()?,
                weight: r.u16()?,
                port: r.u16()?,
                target: r.name()?,
            },
            RType::NAPTR => RData::Naptr {
                order: r.u16()?,
                preference: r.u16()?,
                flags: r.char_string()?,
                services: r.char_string()?,
                regexp: r.char_string()?,
                replacement: r.name()?,
            },
            RType::KX => RData::Kx {
                preference: r.u16()?,
                exchanger: r.name()?,
            },
            RType::CERT => {
                let (cert_type, key_tag, algorithm) = (r.u16()?, r.u16()?, r.u8()?);
                let certificate = r.rest();
                non_empty(certificate, "empty certificate")?;
                RData::Cert {
                    cert_type,
                    key_tag,
                    algorithm,
                    certificate,
                }
            }
            RType::DS => RData::Ds(Ds::parse(&mut r)?),
            RType::CDS => RData::Cds(Ds::parse(&mut r)?),
            RType::SSHFP => {
                let (algorithm, fp_type) = (r.u8()?, r.u8()?);
                let fingerprint = r.rest();
                non_empty(fingerprint, "empty fingerprint")?;
                RData::Sshfp {
                    algorithm,
                    fp_type,
                    fingerprint,
                }
            }
            RType::RRSIG => RData::Rrsig(Rrsig {
                type_covered: RType(r.u16()?),
                algorithm: r.u8()?,
                labels: r.u8()?,
                original_ttl: r.u32()?,
                expiration: r.u32()?,
                inception: r.u32()?,
                key_tag: r.u16()?,
                signer: r.name()?,
                signature: {
                    let s = r.rest();
                    non_empty(s, "empty signature")?;
                    s
                },
            }),
            RType::NSEC => RData::Nsec {
                next: r.name()?,
                types: TypeBitmap::new(r.rest())?,
            },
            RType::DNSKEY => RData::Dnskey(Dnskey::parse(&mut r)?),
            RType::CDNSKEY => RData::Cdnskey(Dnskey::parse(&mut r)?),
            RType::DHCID => {
                let d = r.rest();
                non_empty(d, "empty DHCID")?;
                RData::Dhcid(d)
            }
            RType::NSEC3 => {
                let (hash_algorithm, flags, iterations, salt) =
                    (r.u8()?, r.u8()?, r.u16()?, r.char_string()?);
                let next_hashed = r.char_string()?;
                non_empty(next_hashed, "empty next hashed owner name")?;
                let types = TypeBitmap::new(r.rest())?;
                RData::Nsec3(Nsec3 {
                    hash_algorithm,
                    flags,
                    iterations,
                    salt,
                    next_hashed,
                    types,
                })
            }
            RType::NSEC3PARAM => RData::Nsec3param {
                hash_algorithm: r.u8()?,
                flags: r.u8()?,
                iterations: r.u16()?,
                salt: r.char_string()?,
            },
            RType::TLSA => RData::Tlsa(Tlsa::parse(&mut r)?),
            RType::SMIMEA => RData::Smimea(Tlsa::parse(&mut r)?),
            RType::OPENPGPKEY => {
                let d = r.rest();
                non_empty(d, "empty key")?;
                RData::Openpgpkey(d)
            }
            RType::ZONEMD => {
                let (serial, scheme, hash_algorithm) = (r.u32()?, r.u8()?, r.u8()?);
                let digest = r.rest();
                let ok = match hash_algorithm {
                    1 => digest.len() == 48,
                    2 => digest.len() == 64,
                    _ => digest.len() >= 12,
                };
                if !ok {
                    return Err(RDataError::new(
                        "ZONEMD digest length does not fit its algorithm",
                    ));
                }
                RData::Zonemd {
                    serial,
                    scheme,
                    hash_algorithm,
                    digest,
                }
            }
            RType::SVCB => RData::Svcb(Svcb::parse(&mut r)?),
            RType::HTTPS => RData::Https(Svcb::parse(&mut r)?),
            RType::EUI48 => RData::Eui48(r.array()?),
            RType::EUI64 => RData::Eui64(r.array()?),
            RType::URI => {
                let (priority, weight) = (r.u16()?, r.u16()?);
                let target = r.rest();
                non_empty(target, "empty URI target")?;
                RData::Uri {
                    priority,
                    weight,
                    target,
                }
            }
            RType::CAA => {
                let flags = r.u8()?;
                let tag = r.char_string()?;
                if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(RDataError::new(
                        "CAA tag must be 1 or more letters and digits",
                    ));
                }
                RData::Caa {
                    flags,
                    tag,
                    value: r.rest(),
                }
            }
            _ => RData::Unknown {
                rtype,
                data: r.rest(),
            },
        };
        r.finish()?;
        Ok(rd)
    }

    /// The record type.
    pub fn rtype(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::AAAA,
            RData::Ns(_) => RType::NS,
            RData::Md(_) => RType::MD,
            RData::Mf(_) => RType::MF,
            RData::Cname(_) => RType::CNAME,
            RData::Mb(_) => RType::MB,
            RData::Mg(_) => RType::MG,
            RData::Mr(_) => RType::MR,
            RData::Ptr(_) => RType::PTR,
            RData::Dname(_) => RType::DNAME,
            RData::Soa(_) => RType::SOA,
            RData::Hinfo { .. } => RType::HINFO,
            RData::Minfo { .. } => RType::MINFO,
            RData::Mx { .. } => RType::MX,
            RData::Txt(_) => RType::TXT,
            RData::Spf(_) => RType::SPF,
            RData::Rp { .. } => RType::RP,
            RData::Afsdb { .. } => RType::AFSDB,
            RData::Rt { .. } => RType::RT,
            RData::Px { .. } => RType::PX,
            RData::Loc(_) => RType::LOC,
            RData::Srv { .. } => RType::SRV,
            RData::Naptr { .. } => RType::NAPTR,
            RData::Kx { .. } => RType::KX,
            RData::Cert { .. } => RType::CERT,
            RData::Ds(_) => RType::DS,
            RData::Cds(_) => RType::CDS,
            RData::Sshfp { .. } => RType::SSHFP,
            RData::Rrsig(_) => RType::RRSIG,
            RData::Nsec { .. } => RType::NSEC,
            RData::Dnskey(_) => RType::DNSKEY,
            RData::Cdnskey(_) => RType::CDNSKEY,
            RData::Dhcid(_) => RType::DHCID,
            RData::Nsec3(_) => RType::NSEC3,
            RData::Nsec3param { .. } => RType::NSEC3PARAM,
            RData::Tlsa(_) => RType::TLSA,
            RData::Smimea(_) => RType::SMIMEA,
            RData::Openpgpkey(_) => RType::OPENPGPKEY,
            RData::Zonemd { .. } => RType::ZONEMD,
            RData::Svcb(_) => RType::SVCB,
            RData::Https(_) => RType::HTTPS,
            RData::Eui48(_) => RType::EUI48,
            RData::Eui64(_) => RType::EUI64,
            RData::Uri { .. } => RType::URI,
            RData::Caa { .. } => RType::CAA,
            RData::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Appends the uncompressed wire form to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let name = |out: &mut Vec<u8>, n: &NameRef<'_>| out.extend_from_slice(n.as_wire());
        let u16 = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_be_bytes());
        let u32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_be_bytes());
        let cs = |out: &mut Vec<u8>, s: &[u8]| {
            out.push(s.len() as u8);
            out.extend_from_slice(s);
        };
        match self {
            RData::A(a) => out.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
            RData::Ns(n)
            | RData::Md(n)
            | RData::Mf(n)
            | RData::Cname(n)
            | RData::Mb(n)
            | RData::Mg(n)
            | RData::Mr(n)
            | RData::Ptr(n)
            | RData::Dname(n) => name(out, n),
            RData::Soa(s) => {
                name(out, &s.mname);
                name(out, &s.rname);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    u32(out, v);
                }
            }
            RData::Hinfo { cpu, os } => {
                cs(out, cpu);
                cs(out, os);
            }
            RData::Minfo {
                rmailbx: a,
                emailbx: b,
            }
            | RData::Rp { mbox: a, txt: b } => {
                name(out, a);
                name(out, b);
            }
            RData::Mx {
                preference: p,
                exchange: n,
            }
            | RData::Afsdb {
                subtype: p,
                hostname: n,
            }
            | RData::Rt {
                preference: p,
                host: n,
            }
            | RData::Kx {
                preference: p,
                exchanger: n,
            } => {
                u16(out, *p);
                name(out, n);
            }
            RData::Txt(s) | RData::Spf(s) => out.extend_from_slice(s.as_wire()),
            RData::Px {
                preference,
                map822,
                mapx400,
            } => {
                u16(out, *preference);
                name(out, map822);
                name(out, mapx400);
            }
            RData::Loc(l) => l.write(out),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                for v in [*priority, *weight, *port] {
                    u16(out, v);
                }
                name(out, target);
            }
            RData::Naptr {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement,
            } => {
                u16(out, *order);
                u16(out, *preference);
                for s in [flags, services, regexp] {
                    cs(out, s);
                }
                name(out, replacement);
            }
            RData::Cert {
                cert_type,
                key_tag,
                algorithm,
                certificate,
            } => {
                u16(out, *cert_type);
                u16(out, *key_tag);
                out.push(*algorithm);
                out.extend_from_slice(certificate);
            }
            RData::Ds(d) | RData::Cds(d) => {
                u16(out, d.key_tag);
                out.push(d.algorithm);
                out.push(d.digest_type);
                out.extend_from_slice(d.digest);
            }
            RData::Sshfp {
                algorithm,
                fp_type,
                fingerprint,
            } => {
                out.push(*algorithm);
                out.push(*fp_type);
                out.extend_from_slice(fingerprint);
            }
            RData::Rrsig(s) => {
                u16(out, s.type_covered.0);
                out.push(s.algorithm);
                out.push(s.labels);
                for v in [s.original_ttl, s.expiration, s.inception] {
                    u32(out, v);
                }
                u16(out, s.key_tag);
                name(out, &s.signer);
                out.extend_from_slice(s.signature);
            }
            RData::Nsec { next, types } => {
                name(out, next);
                out.extend_from_slice(types.as_wire());
            }
            RData::Dnskey(k) | RData::Cdnskey(k) => {
                u16(out, k.flags);
                out.push(k.protocol);
                out.push(k.algorithm);
                out.extend_from_slice(k.public_key);
            }
            RData::Dhcid(d) | RData::Openpgpkey(d) => out.extend_from_slice(d),
            RData::Nsec3(n) => {
                out.push(n.hash_algorithm);
                out.push(n.flags);
                u16(out, n.iterations);
                cs(out, n.salt);
                cs(out, n.next_hashed);
                out.extend_from_slice(n.types.as_wire());
            }
            RData::Nsec3param {
                hash_algorithm,
                flags,
                iterations,
                salt,
            } => {
                out.push(*hash_algorithm);
                out.push(*flags);
                u16(out, *iterations);
                cs(out, salt);
            }
            RData::Tlsa(t) | RData::Smimea(t) => {
                out.extend_from_slice(&[t.usage, t.selector, t.matching_type]);
                out.extend_from_slice(t.data);
            }
            RData::Zonemd {
                serial,
                scheme,
                hash_algorithm,
                digest,
            } => {
                u32(out, *serial);
                out.push(*scheme);
                out.push(*hash_algorithm);
                out.extend_from_slice(digest);
            }
            RData::Svcb(s) | RData::Https(s) => {
                u16(out, s.priority);
                name(out, &s.target);
                out.extend_from_slice(s.params.as_wire());
            }
            RData::Eui48(e) => out.extend_from_slice(e),
            RData::Eui64(e) => out.extend_from_slice(e),
            RData::Uri {
                priority,
                weight,
                target,
            } => {
                u16(out, *priority);
                u16(out, *weight);
                out.extend_from_slice(target);
            }
            RData::Caa { flags, tag, value } => {
                out.push(*flags);
                cs(out, tag);
                out.extend_from_slice(value);
            }
            RData::Unknown { data, .. } => out.extend_from_slice(data),
        }
    }
}

impl<'a> Ds<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, RDataError> {
        let (key_tag, algorithm, digest_type) = (r.u16()?, r.u8()?, r.u8()?);
        let digest = r.rest();
        non_empty(digest, "empty digest")?;
        Ok(Ds {
            key_tag,
            algorithm,
            digest_type,
            digest,
        })
    }
}

impl<'a> Dnskey<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, RDataError> {
        let (flags, protocol, algorithm) = (r.u16()?, r.u8()?, r.u8()?);
        let public_key = r.rest();
        non_empty(public_key, "empty public key")?;
        Ok(Dnskey {
            flags,
            protocol,
            algorithm,
            public_key,
        })
    }
}

impl<'a> Tlsa<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, RDataError> {
        let (usage, selector, matching_type) = (r.u8()?, r.u8()?, r.u8()?);
        let data = r.rest();
        non_empty(data, "empty certificate association data")?;
        Ok(Tlsa {
            usage,
            selector,
            matching_type,
            data,
        })
    }
}

impl<'a> Svcb<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, RDataError> {
        let priority = r.u16()?;
        let target = r.name()?;
        let params = SvcParams::new(r.rest())?;
        Ok(Svcb {
            priority,
            target,
            params,
        })
    }
}
