//! The client side of TLS, shared by every encrypted client: `portcullis query +tls/+https/+quic`
//! and the encrypted upstreams of the resolver (DoT, DoH, DoQ forwarders).
//!
//! What the client trusts is a [`Trust`]: the system's CA bundle, the PEM certificates of a
//! file (a private CA, or a server's own self-signed certificate), or nothing at all
//! (`Insecure`, for tests: the handshake must still be signed by the certificate's key). The
//! ALPN protocols are the caller's (`dot`, `h2`, `doq`). Crypto is *ring*, as for the server.

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
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
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

/// [`Trust::Insecure`]: any certificate is taken, for any name, but the handshake must still be
/// signed by its key, so the session is at least with the holder of that certificate.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
