//! The client side of TLS, shared by every encrypted client: `portcullis query +tls/+https/+quic`
//! and the encrypted upstreams of the resolver (DoT, DoH, DoQ forwarders).
//!
//! What the client trusts is a [`Trust`]: the system's CA bundle, the PEM certificates of a
//! file (a private CA, or a server's own self-signed certificate), a set of SPKI pins (RFC 7858
//! section 4.2, as stubby writes them: the SHA-256 of a certificate's DER
//! SubjectPublicKeyInfo), or nothing at all (`Insecure`, for tests). Whatever the trust, the
//! handshake must be signed by the certificate's key, so the session is with the key's holder.
//! The ALPN protocols are the caller's (`dot`, `h2`, `doq`). Crypto is *ring*, as for the
//! server.
//!
//! Pins are checked against the end-entity certificate and every certificate the server sends
//! with it: pinning the key of an intermediate CA keeps working when the server's own key
//! changes. The SPKI is found by a small DER walk ([`spki_of`]) that reads at most a few
//! headers and never allocates, rather than by a full X.509 parser (no new dependency for five
//! tag-length-value steps).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// Where Debian (and most Linux systems) keep the system's trusted CA certificates.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The certificates a client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The system's CA bundle ([`SYSTEM_CA_BUNDLE`]).
    System,
    /// The PEM certificates in the file: a CA, or the server's own certificate.
    Ca(PathBuf),
    /// A certificate whose SPKI SHA-256 (or that of a certificate sent with it) is one of
    /// these; neither the name nor a CA is checked (RFC 7858 section 4.2, out-of-band key
    /// pinned privacy).
    Pins(Vec<[u8; 32]>),
    /// Any certificate (the handshake signature is still checked): tests only.
    Insecure,
}

/// A client TLS configuration for one server: what to trust and the name to check.
#[derive(Clone, Debug)]
pub struct ClientTls {
    /// The rustls configuration (trust, versions, ALPN).
    pub config: Arc<ClientConfig>,
    /// The name the certificate must be valid for (a DNS name or an IP address).
    pub name: ServerName<'static>,
}

impl ClientTls {
    /// TLS 1.3 and 1.2 (1.3 only with `tls13_only`, as QUIC needs) offering `alpn`, trusting
    /// `trust`, for `name`. An error (a CA file that cannot be read or holds no certificate)
    /// names the file.
    pub fn new(
        trust: &Trust,
        name: ServerName<'static>,
        alpn: &[&[u8]],
        tls13_only: bool,
    ) -> Result<ClientTls, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone());
        let builder = if tls13_only {
            builder.with_protocol_versions(&[&rustls::version::TLS13])
        } else {
            builder.with_safe_default_protocol_versions()
        }
        .map_err(|e| format!("tls: {e}"))?;
        let mut config = match trust {
            Trust::System => {
                builder.with_root_certificates(roots_from(Path::new(SYSTEM_CA_BUNDLE))?)
            }
            Trust::Ca(path) => builder.with_root_certificates(roots_from(path)?),
            Trust::Pins(pins) => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(KeyCheck {
                    pins: Some(pins.clone()),
                    provider,
                })),
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(KeyCheck {
                    pins: None,
                    provider,
                })),
        }
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(ClientTls {
            config: Arc::new(config),
            name,
        })
    }
}

/// The trust anchors in the PEM file at `path`.
fn roots_from(path: &Path) -> Result<rustls::RootCertStore, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{}: cannot read certificates: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "{}: no usable PEM certificate in the file",
            path.display()
        ));
    }
    Ok(roots)
}

/// Most pins one server may be given; a pin set is a handful of keys (current and backup).
pub const MAX_PINS: usize = 16;

/// A pin as written in a configuration: the base64 (RFC 4648, with padding) of a SHA-256
/// digest, as RFC 7858 section 4.2 and stubby's `tls_pubkey_pinset` write it.
pub fn parse_pin(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let mut out = Vec::with_capacity(33);
    if text.len() > 64 {
        return Err(format!(
            "`{text}` is not a pin: too long for a SHA-256 digest"
        ));
    }
    wire::rdata::decode_base64(text.as_bytes(), &mut out)
        .map_err(|e| format!("`{text}` is not a base64 pin: {e}"))?;
    <[u8; 32]>::try_from(out.as_slice()).map_err(|_| {
        format!(
            "`{text}` is {} bytes, not the 32 of a SHA-256 digest of an SPKI",
            out.len()
        )
    })
}

/// The SHA-256 of the SubjectPublicKeyInfo of the DER certificate `cert`, when it has one.
pub fn spki_sha256(cert: &[u8]) -> Option<[u8; 32]> {
    let spki = spki_of(cert)?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    <[u8; 32]>::try_from(digest.as_ref()).ok()
}

/// One DER element read from the start of a buffer.
struct DerElement<'a> {
    tag: u8,
    /// The element whole: tag, length and content.
    whole: &'a [u8],
    content: &'a [u8],
    /// What follows it.
    rest: &'a [u8],
}

/// One DER element at the start of `input`. Only the definite forms DER allows (a length of
/// at most four bytes: a certificate is far smaller) are read; anything else is `None`.
fn der_element(input: &[u8]) -> Option<DerElement<'_>> {
    let (&tag, rest) = input.split_first()?;
    // Multi-byte tags never occur in the certificate fields walked here.
    if tag & 0x1f == 0x1f {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (content, after) = rest.split_at(len);
    let whole = input.get(..input.len() - after.len())?;
    Some(DerElement {
        tag,
        whole,
        content,
        rest: after,
    })
}

/// The DER SubjectPublicKeyInfo (tag and length included: that is what a pin hashes) of the
/// X.509 certificate `cert` (RFC 5280 section 4.1): Certificate is a SEQUENCE whose first
/// element, tbsCertificate, is a SEQUENCE of an optional `[0]` version, serialNumber,
/// signature, issuer, validity, subject and subjectPublicKeyInfo. Bounded: seven elements
/// read, each within the one before.
pub fn spki_of(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const VERSION: u8 = 0xa0;
    let certificate = der_element(cert)?;
    if certificate.tag != SEQUENCE {
        return None;
    }
    let tbs = der_element(certificate.content)?;
    if tbs.tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs.content;
    if rest.first() == Some(&VERSION) {
        rest = der_element(rest)?.rest;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = der_element(rest)?.rest;
    }
    let spki = der_element(rest)?;
    (spki.tag == SEQUENCE).then_some(spki.whole)
}

/// The verifier of [`Trust::Pins`] and [`Trust::Insecure`]: the handshake must be signed by the
/// end-entity certificate's key, and names, dates and CAs are not checked. With `pins`, the
/// end-entity certificate, or one sent with it, must have a pinned SPKI: the pin is the whole
/// trust (RFC 7858 section 4.2). Without (`Insecure`, tests only) any certificate is taken, so
/// the session is at least with the holder of that certificate.
#[derive(Debug)]
struct KeyCheck {
    pins: Option<Vec<[u8; 32]>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for KeyCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pins) = &self.pins else {
            return Ok(ServerCertVerified::assertion());
        };
        let pinned = std::iter::once(end_entity)
            .chain(intermediates.iter())
            // A chain is a few certificates; a server sending more is not followed further.
            .take(MAX_PINS)
            .filter_map(|c| spki_sha256(c.as_ref()))
            .any(|hash| pins.contains(&hash));
        if pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "no certificate of the server matches a configured SPKI pin".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_from_base64() {
        // stubby's example pin (getdns.conf): 32 bytes.
        let pin = parse_pin("foxZRnIh9gZpWnl+zEiKa0EJ2rdCGroMWm02gaxSc9Q=").unwrap();
        assert_eq!(pin[0], 0x7e);
        assert!(parse_pin("AAAA").unwrap_err().contains("3 bytes"));
        assert!(parse_pin("not base64!").is_err());
        assert!(parse_pin(&"A".repeat(100)).is_err());
    }

    #[test]
    fn the_der_walk_finds_the_spki() {
        // A minimal certificate shape: SEQUENCE { SEQUENCE { [0]{INTEGER 2}, INTEGER 1,
        // SEQ{}, SEQ{}, SEQ{}, SEQ{}, SEQ{ 05 00 } } }.
        let spki = [0x30, 0x02, 0x05, 0x00];
        let mut tbs = vec![0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01];
        for _ in 0..4 {
            tbs.extend_from_slice(&[0x30, 0x00]);
        }
        tbs.extend_from_slice(&spki);
        let mut inner = vec![0x30, tbs.len() as u8];
        inner.extend_from_slice(&tbs);
        let mut cert = vec![0x30, inner.len() as u8];
        cert.extend_from_slice(&inner);
        assert_eq!(spki_of(&cert), Some(&spki[..]));
        // Long-form lengths are read too.
        let mut long = vec![0x30, 0x81, inner.len() as u8];
        long.extend_from_slice(&inner);
        assert_eq!(spki_of(&long), Some(&spki[..]));
        // Truncated anywhere: nothing, and no panic.
        for n in 0..cert.len() {
            assert_eq!(spki_of(&cert[..n]), None, "{n}");
        }
        assert_eq!(spki_of(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let name = ServerName::try_from("dns.test").unwrap();
        let err = ClientTls::new(
            &Trust::Ca("/nonexistent/ca.pem".into()),
            name,
            &[b"dot"],
            false,
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn insecure_offers_the_alpn_given() {
        let name = ServerName::try_from("dns.test").unwrap();
        let tls = ClientTls::new(&Trust::Insecure, name, &[b"doq"], true).unwrap();
        assert_eq!(tls.config.alpn_protocols, vec![b"doq".to_vec()]);
    }
}
