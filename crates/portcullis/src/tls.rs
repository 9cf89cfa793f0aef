//! TLS for DNS over TLS (RFC 7858): the server's [`rustls::ServerConfig`] built from the
//! `[tls]` settings, and `portcullis cert self-signed`, which makes a certificate and key for
//! tests.
//!
//! The server offers TLS 1.3 (and 1.2 with `tls.min_version = "1.2"`), the ALPN protocol `dot`
//! (RFC 7858 section 3.1; a client offering none is accepted too), and session resumption both
//! ways: stateful session IDs from a bounded in-memory cache, and stateless tickets (RFC 8446
//! section 4.6.1; RFC 5077 for TLS 1.2) sealed with keys that rotate every six hours, both kept
//! across reloads ([`Resumption`]). Crypto is *ring*, chosen here once for the whole binary.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::TlsSettings;
use crate::config::tls::TlsVersion;

/// Sessions remembered for resumption by session ID (TLS 1.2) or stateful ticket.
const SESSION_CACHE: usize = 1024;

/// What session resumption remembers: the session cache and the ticket keys. A server makes
/// them once and keeps them across reloads, so a client resumes its session after a new
/// certificate is loaded.
#[derive(Clone, Debug)]
pub struct Resumption {
    sessions: Arc<dyn StoresServerSessions>,
    ticketer: Arc<dyn ProducesTickets>,
}

impl Resumption {
    /// A bounded session cache and fresh ticket keys.
    pub fn new() -> Result<Resumption, String> {
        Ok(Resumption {
            sessions: ServerSessionMemoryCache::new(SESSION_CACHE),
            ticketer: rustls::crypto::ring::Ticketer::new()
                .map_err(|e| format!("tls: session tickets: {e}"))?,
        })
    }
}

/// The TLS configuration of the DoT listeners, resuming sessions with `resumption`: `None`
/// when DNS over TLS is off. See [`server_config_for`] for the errors.
pub fn server_config(
    settings: &TlsSettings,
    resumption: &Resumption,
) -> Result<Option<ServerConfig>, String> {
    if !settings.enabled() {
        return Ok(None);
    }
    server_config_for(settings, resumption, &[transport::tls::ALPN_DOT]).map(Some)
}

/// The TLS configuration of an encrypted listener offering the ALPN protocols `alpn` (`dot`;
/// `h2` and `http/1.1`; `doq`), with the certificate, key and versions of `[tls]`. An error (a
/// missing setting, a file that cannot be read or holds no usable PEM, a key that does not
/// match) names the file.
pub fn server_config_for(
    settings: &TlsSettings,
    resumption: &Resumption,
    alpn: &[&[u8]],
) -> Result<ServerConfig, String> {
    let (Some(cert_path), Some(key_path)) = (&settings.cert, &settings.key) else {
        return Err(
            "an encrypted listener is set but tls.cert or tls.key is missing (--tls-cert, --tls-key)"
                .into(),
        );
    };
    let certs = load_certs(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| format!("{}: no usable private key: {e}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&rustls::SupportedProtocolVersion] = match settings.min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            format!(
                "{} and {}: not a usable certificate and key: {e}",
                cert_path.display(),
                key_path.display()
            )
        })?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.session_storage = resumption.sessions.clone();
    config.ticketer = resumption.ticketer.clone();
    Ok(config)
}

/// The certificates of a PEM file, leaf first; at least one.
fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{}: cannot read certificates: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

/// `portcullis cert self-signed`: writes a self-signed ECDSA P-256 certificate for `name`
/// (also valid for 127.0.0.1 and ::1) to `cert_path` and its private key (PKCS #8, mode 0600)
/// to `key_path`. For tests: no client trusts it unless told to.
pub fn self_signed(name: &str, cert_path: &Path, key_path: &Path) -> Result<(), String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("cannot make a key: {e}"))?;
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()])
        .map_err(|e| format!("`{name}` cannot name a certificate: {e}"))?;
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let san = rcgen::SanType::IpAddress(ip);
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("cannot sign the certificate: {e}"))?;
    write_file(cert_path, cert.pem().as_bytes(), 0o644)?;
    write_file(key_path, key.serialize_pem().as_bytes(), 0o600)
}

/// Writes `data` to a new or truncated file created with `mode`.
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| format!("{}: {e}", path.display()))
}
