//! Wire form to presentation form, through the typed view.
//!
//! The output is what BIND and dnspython write in their one-line style: names absolute with a
//! trailing dot, character-strings quoted, binary data in upper-case hex or base64 without line
//! breaks, signature times as `YYYYMMDDHHmmSS`, NSEC3 hashes in lower-case base32hex, and types
//! without a presentation form of their own in the generic `\# len hex` form.

use core::fmt::Write as _;

use super::encoding::{write_base32hex, write_base64, write_hex};
use super::generic_to_text;
use super::lists::TypeBitmap;
use super::svcb::write_params;
use super::text_in::{CERT_TYPES, civil_from_days};
use super::view::RData;
use crate::text::write_char_string;

/// Appends the presentation form of `rd` to `out`.
pub(crate) fn write_text(rd: &RData<'_>, out: &mut String) {
    match rd {
        RData::A(a) => {
            let _ = write!(out, "{a}");
        }
        RData::Aaaa(a) => {
            let _ = write!(out, "{a}");
        }
        RData::Ns(n)
        | RData::Md(n)
        | RData::Mf(n)
        | RData::Cname(n)
        | RData::Mb(n)
        | RData::Mg(n)
        | RData::Mr(n)
        | RData::Ptr(n)
        | RData::Dname(n) => {
            let _ = write!(out, "{n}");
        }
        RData::Soa(s) => {
            let _ = write!(
                out,
                "{} {} {} {} {} {} {}",
                s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
            );
        }
        RData::Hinfo { cpu, os } => {
            let _ = write_char_string(cpu, out);
            out.push(' ');
            let _ = write_char_string(os, out);
        }
        RData::Minfo {
            rmailbx: a,
            emailbx: b,
        }
        | RData::Rp { mbox: a, txt: b } => {
            let _ = write!(out, "{a} {b}");
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
            let _ = write!(out, "{p} {n}");
        }
        RData::Txt(s) | RData::Spf(s) => {
            for (i, s) in s.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write_char_string(s, out);
            }
        }
        RData::Px {
            preference,
            map822,
            mapx400,
        } => {
            let _ = write!(out, "{preference} {map822} {mapx400}");
        }
        RData::Loc(l) => {
            let _ = write!(out, "{l}");
        }
        RData::Srv {
            priority,
            weight,
            port,
            target,
        } => {
            let _ = write!(out, "{priority} {weight} {port} {target}");
        }
        RData::Naptr {
            order,
            preference,
            flags,
            services,
            regexp,
            replacement,
        } => {
            let _ = write!(out, "{order} {preference}");
            for s in [flags, services, regexp] {
                out.push(' ');
                let _ = write_char_string(s, out);
            }
            let _ = write!(out, " {replacement}");
        }
        RData::Cert {
            cert_type,
            key_tag,
            algorithm,
            certificate,
        } => {
            match CERT_TYPES.iter().find(|(v, _)| v == cert_type) {
                Some((_, n)) => out.push_str(n),
                None => {
                    let _ = write!(out, "{cert_type}");
                }
            }
            let _ = write!(out, " {key_tag} {algorithm} ");
            write_base64(certificate, out);
        }
        RData::Ds(d) | RData::Cds(d) => {
            let _ = write!(out, "{} {} {} ", d.key_tag, d.algorithm, d.digest_type);
            write_hex(d.digest, out);
        }
        RData::Sshfp {
            algorithm,
            fp_type,
            fingerprint,
        } => {
            let _ = write!(out, "{algorithm} {fp_type} ");
            write_hex(fingerprint, out);
        }
        RData::Rrsig(s) => {
            let _ = write!(
                out,
                "{} {} {} {} ",
                s.type_covered, s.algorithm, s.labels, s.original_ttl
            );
            write_time(s.expiration, out);
            out.push(' ');
            write_time(s.inception, out);
            let _ = write!(out, " {} {} ", s.key_tag, s.signer);
            write_base64(s.signature, out);
        }
        RData::Nsec { next, types } => {
            let _ = write!(out, "{next}");
            write_types(*types, out);
        }
        RData::Dnskey(k) | RData::Cdnskey(k) => {
            let _ = write!(out, "{} {} {} ", k.flags, k.protocol, k.algorithm);
            write_base64(k.public_key, out);
        }
        RData::Dhcid(d) | RData::Openpgpkey(d) => write_base64(d, out),
        RData::Nsec3(n) => {
            let _ = write!(out, "{} {} {} ", n.hash_algorithm, n.flags, n.iterations);
            write_salt(n.salt, out);
            out.push(' ');
            write_base32hex(n.next_hashed, out);
            write_types(n.types, out);
        }
        RData::Nsec3param {
            hash_algorithm,
            flags,
            iterations,
            salt,
        } => {
            let _ = write!(out, "{hash_algorithm} {flags} {iterations} ");
            write_salt(salt, out);
        }
        RData::Tlsa(t) | RData::Smimea(t) => {
            let _ = write!(out, "{} {} {} ", t.usage, t.selector, t.matching_type);
            write_hex(t.data, out);
        }
        RData::Zonemd {
            serial,
            scheme,
            hash_algorithm,
            digest,
        } => {
            let _ = write!(out, "{serial} {scheme} {hash_algorithm} ");
            write_hex(digest, out);
        }
        RData::Svcb(s) | RData::Https(s) => {
            let _ = write!(out, "{} {}", s.priority, s.target);
            write_params(s.params, out);
        }
        RData::Eui48(e) => write_eui(e, out),
        RData::Eui64(e) => write_eui(e, out),
        RData::Uri {
            priority,
            weight,
            target,
        } => {
            let _ = write!(out, "{priority} {weight} ");
            let _ = write_char_string(target, out);
        }
        RData::Caa { flags, tag, value } => {
            let _ = write!(out, "{flags} {} ", String::from_utf8_lossy(tag));
            let _ = write_char_string(value, out);
        }
        RData::Unknown { data, .. } => generic_to_text(data, out),
    }
}

/// Writes a signature time as `YYYYMMDDHHmmSS` (RFC 4034 section 3.2).
fn write_time(t: u32, out: &mut String) {
    let t = i64::from(t);
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    let _ = write!(
        out,
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    );
}

fn write_salt(salt: &[u8], out: &mut String) {
    if salt.is_empty() {
        out.push('-');
    } else {
        write_hex(salt, out);
    }
}

fn write_types(types: TypeBitmap<'_>, out: &mut String) {
    for t in types.iter() {
        let _ = write!(out, " {t}");
    }
}

fn write_eui(e: &[u8], out: &mut String) {
    for (i, b) in e.iter().enumerate() {
        let _ = write!(out, "{}{b:02x}", if i > 0 { "-" } else { "" });
    }
}
