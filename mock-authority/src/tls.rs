//! TLS material: a CA and a server certificate (SANs IP:127.0.0.1, DNS:localhost) generated
//! at start-up, or a certificate and key read from PEM files.

use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::error::SetupError;

/// A generated CA and the server configuration using a certificate it signed.
#[derive(Debug)]
pub struct GeneratedTls {
    /// The CA certificate (PEM), for clients to trust.
    pub ca_pem: String,
    /// rustls configuration.
    pub server_config: Arc<ServerConfig>,
}

fn tls_err(e: impl std::fmt::Display) -> SetupError {
    SetupError::Tls(e.to_string())
}

/// Generates a CA and a server certificate for `127.0.0.1`, `::1` and `localhost`
/// (plus `extra_names`).
pub fn generate(extra_names: &[String]) -> Result<GeneratedTls, SetupError> {
    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tokenscope mock-authority CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(extra_names.iter().cloned());
    let server_key = KeyPair::generate().map_err(tls_err)?;
    let mut params = CertificateParams::new(names).map_err(tls_err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = params.signed_by(&server_key, &issuer).map_err(tls_err)?;

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
    Ok(GeneratedTls {
        ca_pem: ca_cert.pem(),
        server_config: server_config(chain, key)?,
    })
}

/// Reads a certificate chain and a private key from PEM files.
pub fn from_files(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, SetupError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_err(format!("{}: {e}", cert.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(tls_err(format!("{}: no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_err(format!("{}: {e}", key.display())))?;
    server_config(chain, key)
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, SetupError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
