//! Property tests: random typed RDATA of every supported type, written to wire form by
//! [`RData::write`], must parse back to the same value and bytes, and print to text that reads
//! back to the same bytes. Random bytes of any type never make the text writer panic.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::strategy::Union;

use super::*;
use crate::name::Name;

fn arb_name() -> impl Strategy<Value = Name> {
    let label = prop_oneof![
        proptest::collection::vec(
            prop_oneof![Just(b'a'), Just(b'Z'), Just(b'-'), Just(b'0')],
            1..6
        ),
        proptest::collection::vec(any::<u8>(), 1..12),
    ];
    proptest::collection::vec(label, 0..4).prop_filter_map("too long", |labels| {
        Name::from_labels(labels.iter().map(Vec::as_slice)).ok()
    })
}

fn bytes(len: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), len)
}

fn wire_of(rd: RData<'_>) -> (RType, Vec<u8>) {
    let mut v = Vec::new();
    rd.write(&mut v);
    (rd.rtype(), v)
}

fn char_strings(strings: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for s in strings {
        v.push(s.len() as u8);
        v.extend_from_slice(s);
    }
    v
}

fn arb_types() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![1u16..70, 250u16..300, any::<u16>()], 0..8).prop_map(
        |t| {
            let types: Vec<RType> = t.into_iter().map(RType).collect();
            let mut v = Vec::new();
            TypeBitmap::write(&types, &mut v);
            v
        },
    )
}

/// Valid SvcParams in wire form.
fn arb_svc_params() -> impl Strategy<Value = Vec<u8>> {
    let alpn = proptest::option::of(proptest::collection::vec(bytes(1..8), 1..4));
    let hints4 = proptest::option::of(proptest::collection::vec(any::<[u8; 4]>(), 1..3));
    let hints6 = proptest::option::of(proptest::collection::vec(any::<[u8; 16]>(), 1..3));
    let generic = proptest::collection::btree_map(9u16..65535, bytes(0..10), 0..3);
    (
        (
            alpn,
            any::<bool>(),
            proptest::option::of(any::<u16>()),
            hints4,
        ),
        (
            proptest::option::of(bytes(1..20)),
            hints6,
            proptest::option::of("[ -~]{0,16}"),
        ),
        (any::<bool>(), generic, any::<u64>()),
    )
        .prop_map(
            |((alpn, nda, port, h4), (ech, h6, doh), (ohttp, generic, mask))| {
                let mut p: BTreeMap<u16, Vec<u8>> = generic;
                if let Some(ids) = alpn {
                    p.insert(1, char_strings(&ids));
                    if nda {
                        p.insert(2, Vec::new());
                    }
                }
                if let Some(port) = port {
                    p.insert(3, port.to_be_bytes().to_vec());
                }
                if let Some(h) = h4 {
                    p.insert(4, h.concat());
                }
                if let Some(e) = ech {
                    p.insert(5, e);
                }
                if let Some(h) = h6 {
                    p.insert(6, h.concat());
                }
                if let Some(d) = doh {
                    p.insert(7, d.into_bytes());
                }
                if ohttp {
                    p.insert(8, Vec::new());
                }
                let mandatory: Vec<u8> = p
                    .keys()
                    .enumerate()
                    .filter(|(i, _)| mask >> (i % 64) & 1 == 1)
                    .flat_map(|(_, k)| k.to_be_bytes())
                    .collect();
                if !mandatory.is_empty() {
                    p.insert(0, mandatory);
                }
                let mut v = Vec::new();
                for (k, val) in p {
                    v.extend_from_slice(&k.to_be_bytes());
                    v.extend_from_slice(&(val.len() as u16).to_be_bytes());
                    v.extend_from_slice(&val);
                }
                v
            },
        )
}

fn arb_loc() -> impl Strategy<Value = Loc> {
    let size = prop_oneof![Just(0u8), (1u8..10, 0u8..10).prop_map(|(m, e)| m << 4 | e)];
    let zero = 1i64 << 31;
    (
        (size.clone(), size.clone(), size),
        (
            zero - 324_000_000..=zero + 324_000_000,
            zero - 648_000_000..=zero + 648_000_000,
            any::<u32>(),
        ),
    )
        .prop_map(|((size, horiz_pre, vert_pre), (lat, lon, altitude))| Loc {
            version: 0,
            size,
            horiz_pre,
            vert_pre,
            latitude: lat as u32,
            longitude: lon as u32,
            altitude,
        })
}

/// Random RDATA of every supported type (and a few opaque ones), in wire form.
fn arb_rdata() -> impl Strategy<Value = (RType, Vec<u8>)> {
    let n = arb_name;
    let name_types = [
        RType::NS,
        RType::CNAME,
        RType::DNAME,
        RType::PTR,
        RType::MD,
        RType::MF,
        RType::MB,
        RType::MG,
        RType::MR,
    ];
    let s: Vec<BoxedStrategy<(RType, Vec<u8>)>> = vec![
        any::<[u8; 4]>()
            .prop_map(|a| wire_of(RData::A(Ipv4Addr::from(a))))
            .boxed(),
        any::<[u8; 16]>()
            .prop_map(|a| wire_of(RData::Aaaa(Ipv6Addr::from(a))))
            .boxed(),
        (proptest::sample::select(name_types.to_vec()), n())
            .prop_map(|(t, n)| (t, n.as_wire().to_vec()))
            .boxed(),
        (n(), n(), any::<[u32; 5]>())
            .prop_map(|(m, r, v)| {
                let [serial, refresh, retry, expire, minimum] = v;
                wire_of(RData::Soa(Soa {
                    mname: m.as_ref(),
                    rname: r.as_ref(),
                    serial,
                    refresh,
                    retry,
                    expire,
                    minimum,
                }))
            })
            .boxed(),
        (bytes(0..20), bytes(0..20))
            .prop_map(|(cpu, os)| wire_of(RData::Hinfo { cpu: &cpu, os: &os }))
            .boxed(),
        (n(), n())
            .prop_map(|(a, b)| {
                wire_of(RData::Minfo {
                    rmailbx: a.as_ref(),
                    emailbx: b.as_ref(),
                })
            })
            .boxed(),
        (n(), n())
            .prop_map(|(a, b)| {
                wire_of(RData::Rp {
                    mbox: a.as_ref(),
                    txt: b.as_ref(),
                })
            })
            .boxed(),
        (any::<u16>(), n(), 0..4u8)
            .prop_map(|(p, h, k)| {
                let h = h.as_ref();
                wire_of(match k {
                    0 => RData::Mx {
                        preference: p,
                        exchange: h,
                    },
                    1 => RData::Afsdb {
                        subtype: p,
                        hostname: h,
                    },
                    2 => RData::Rt {
                        preference: p,
                        host: h,
                    },
                    _ => RData::Kx {
                        preference: p,
                        exchanger: h,
                    },
                })
            })
            .boxed(),
        (proptest::collection::vec(bytes(0..30), 1..4), any::<bool>())
            .prop_map(|(s, spf)| {
                let w = char_strings(&s);
                let cs = CharStrings::new(&w).unwrap();
                wire_of(if spf { RData::Spf(cs) } else { RData::Txt(cs) })
            })
            .boxed(),
        (any::<u16>(), n(), n())
            .prop_map(|(p, a, b)| {
                wire_of(RData::Px {
                    preference: p,
                    map822: a.as_ref(),
                    mapx400: b.as_ref(),
                })
            })
            .boxed(),
        arb_loc().prop_map(|l| wire_of(RData::Loc(l))).boxed(),
        (any::<[u16; 3]>(), n())
            .prop_map(|([priority, weight, port], t)| {
                wire_of(RData::Srv {
                    priority,
                    weight,
                    port,
                    target: t.as_ref(),
                })
            })
            .boxed(),
        (
            any::<[u16; 2]>(),
            bytes(0..10),
            bytes(0..10),
            bytes(0..30),
            n(),
        )
            .prop_map(|([order, preference], flags, services, regexp, r)| {
                wire_of(RData::Naptr {
                    order,
                    preference,
                    flags: &flags,
                    services: &services,
                    regexp: &regexp,
                    replacement: r.as_ref(),
                })
            })
            .boxed(),
        (any::<[u16; 2]>(), any::<u8>(), bytes(1..40))
            .prop_map(|([cert_type, key_tag], algorithm, c)| {
                wire_of(RData::Cert {
                    cert_type,
                    key_tag,
                    algorithm,
                    certificate: &c,
                })
            })
            .boxed(),
        (any::<u16>(), any::<[u8; 2]>(), bytes(1..40), any::<bool>())
            .prop_map(|(key_tag, [algorithm, digest_type], digest, cds)| {
                let d = Ds {
                    key_tag,
                    algorithm,
                    digest_type,
                    digest: &digest,
                };
                wire_of(if cds { RData::Cds(d) } else { RData::Ds(d) })
            })
            .boxed(),
        (any::<[u8; 2]>(), bytes(1..40))
            .prop_map(|([algorithm, fp_type], f)| {
                wire_of(RData::Sshfp {
                    algorithm,
                    fp_type,
                    fingerprint: &f,
                })
            })
            .boxed(),
        (
            any::<(u16, u8, u8)>(),
            any::<[u32; 3]>(),
            any::<u16>(),
            n(),
            bytes(1..80),
        )
            .prop_map(
                |(
                    (t, algorithm, labels),
                    [original_ttl, expiration, inception],
                    key_tag,
                    signer,
                    sig,
                )| {
                    wire_of(RData::Rrsig(Rrsig {
                        type_covered: RType(t),
                        algorithm,
                        labels,
                        original_ttl,
                        expiration,
                        inception,
                        key_tag,
                        signer: signer.as_ref(),
                        signature: &sig,
                    }))
                },
            )
            .boxed(),
        (n(), arb_types())
            .prop_map(|(next, t)| {
                wire_of(RData::Nsec {
                    next: next.as_ref(),
                    types: TypeBitmap::new(&t).unwrap(),
                })
            })
            .boxed(),
        (any::<(u16, u8, u8)>(), bytes(1..80), any::<bool>())
            .prop_map(|((flags, protocol, algorithm), key, cdnskey)| {
                let k = Dnskey {
                    flags,
                    protocol,
                    algorithm,
                    public_key: &key,
                };
                wire_of(if cdnskey {
                    RData::Cdnskey(k)
                } else {
                    RData::Dnskey(k)
                })
            })
            .boxed(),
        (bytes(1..40), any::<bool>())
            .prop_map(|(d, pgp)| {
                wire_of(if pgp {
                    RData::Openpgpkey(&d)
                } else {
                    RData::Dhcid(&d)
                })
            })
            .boxed(),
        (
            any::<(u8, u8, u16)>(),
            bytes(0..20),
            bytes(1..33),
            arb_types(),
        )
            .prop_map(|((hash_algorithm, flags, iterations), salt, next, t)| {
                wire_of(RData::Nsec3(Nsec3 {
                    hash_algorithm,
                    flags,
                    iterations,
                    salt: &salt,
                    next_hashed: &next,
                    types: TypeBitmap::new(&t).unwrap(),
                }))
            })
            .boxed(),
        (any::<(u8, u8, u16)>(), bytes(0..20))
            .prop_map(|((hash_algorithm, flags, iterations), salt)| {
                wire_of(RData::Nsec3param {
                    hash_algorithm,
                    flags,
                    iterations,
                    salt: &salt,
                })
            })
            .boxed(),
        (any::<[u8; 3]>(), bytes(1..40), any::<bool>())
            .prop_map(|([usage, selector, matching_type], data, smimea)| {
                let t = Tlsa {
                    usage,
                    selector,
                    matching_type,
                    data: &data,
                };
                wire_of(if smimea {
                    RData::Smimea(t)
                } else {
                    RData::Tlsa(t)
                })
            })
            .boxed(),
        (
            any::<(u32, u8)>(),
            prop_oneof![Just(1u8), Just(2u8), 3u8..=255],
            bytes(12..70),
        )
            .prop_map(|((serial, scheme), hash_algorithm, mut digest)| {
                digest.resize(
                    match hash_algorithm {
                        1 => 48,
                        2 => 64,
                        _ => digest.len(),
                    },
                    7,
                );
                wire_of(RData::Zonemd {
                    serial,
                    scheme,
                    hash_algorithm,
                    digest: &digest,
                })
            })
            .boxed(),
        (1u16.., n(), arb_svc_params(), any::<bool>())
            .prop_map(|(priority, target, params, https)| {
                let s = Svcb {
                    priority,
                    target: target.as_ref(),
                    params: SvcParams::new(&params).unwrap(),
                };
                wire_of(if https {
                    RData::Https(s)
                } else {
                    RData::Svcb(s)
                })
            })
            .boxed(),
        n().prop_map(|t| {
            wire_of(RData::Svcb(Svcb {
                priority: 0,
                target: t.as_ref(),
                params: SvcParams::EMPTY,
            }))
        })
        .boxed(),
        any::<[u8; 6]>()
            .prop_map(|e| wire_of(RData::Eui48(e)))
            .boxed(),
        any::<[u8; 8]>()
            .prop_map(|e| wire_of(RData::Eui64(e)))
            .boxed(),
        (any::<[u16; 2]>(), bytes(1..300))
            .prop_map(|([priority, weight], t)| {
                wire_of(RData::Uri {
                    priority,
                    weight,
                    target: &t,
                })
            })
            .boxed(),
        (any::<u8>(), "[a-zA-Z0-9]{1,15}", bytes(0..300))
            .prop_map(|(flags, tag, value)| {
                wire_of(RData::Caa {
                    flags,
                    tag: tag.as_bytes(),
                    value: &value,
                })
            })
            .boxed(),
        (
            prop_oneof![Just(10u16), Just(41), Just(99_u16 + 1), 65280u16..],
            bytes(0..40),
        )
            .prop_map(|(t, data)| {
                wire_of(RData::Unknown {
                    rtype: RType(t),
                    data: &data,
                })
            })
            .boxed(),
    ];
    Union::new(s)
}

/// Every type with specific support, for random bytes.
const SUPPORTED: [u16; 52] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 21, 26, 28, 29, 33, 35, 36, 37, 39,
    41, 43, 44, 46, 47, 48, 49, 50, 51, 52, 53, 59, 60, 61, 63, 64, 65, 99, 108, 109, 256, 257, 11,
    24, 25, 65280,
];

proptest! {
    #[test]
    fn prop_typed_wire_parse_equal((rtype, wire) in arb_rdata()) {
        let rd = RData::parse(rtype, &wire).map_err(|e| TestCaseError::fail(format!("{rtype}: {e}")))?;
        prop_assert_eq!(rd.rtype(), rtype);
        let mut again = Vec::new();
        rd.write(&mut again);
        prop_assert_eq!(&again, &wire);
        prop_assert_eq!(RData::parse(rtype, &again).ok(), Some(rd));
    }

    #[test]
    fn prop_wire_text_wire_equal((rtype, wire) in arb_rdata()) {
        let mut text = String::new();
        to_text(rtype, &wire, &mut text).map_err(|e| TestCaseError::fail(format!("{rtype}: {e}")))?;
        let mut back = Vec::new();
        from_text(rtype, &Field::split(&text), NameRef::ROOT, &mut back)
            .map_err(|e| TestCaseError::fail(format!("{rtype} {text:?}: field {}: {e}", e.field)))?;
        prop_assert_eq!(&back, &wire, "{} {}", rtype, text);
    }

    #[test]
    fn prop_random_bytes_never_panic(t in proptest::sample::select(SUPPORTED.to_vec()), data in bytes(0..64)) {
        let rtype = RType(t);
        let mut text = String::new();
        if to_text(rtype, &data, &mut text).is_ok() {
            prop_assert!(validate(rtype, &data).is_ok());
            let mut back = Vec::new();
            from_text(rtype, &Field::split(&text), NameRef::ROOT, &mut back)
                .map_err(|e| TestCaseError::fail(format!("{rtype} {text:?}: field {}: {e}", e.field)))?;
            prop_assert_eq!(back, data);
        } else {
            prop_assert!(text.is_empty());
            prop_assert!(validate(rtype, &data).is_err());
        }
    }
}
