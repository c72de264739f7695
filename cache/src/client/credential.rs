//! Client credentials: a secret (sent as `client_secret`) or a certificate, from which a
//! client-assertion JWT is signed (PS256, `x5t#S256` header, `aud` = token endpoint,
//! `iss` = `sub` = client id, `jti`), as MSAL does. Assertions are reused for a few minutes.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PSS_SHA256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A credential could not be loaded. Never shows key material.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialError {
    #[error("certificate: {0}")]
    Certificate(&'static str),
    #[error("private key: {0}")]
    PrivateKey(&'static str),
}

/// How the app proves who it is.
#[derive(Clone)]
pub enum ClientCredential {
    Secret(String),
    Certificate(Arc<CertificateCredential>),
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCredential::Secret(_) => f.write_str("Secret(<redacted>)"),
            ClientCredential::Certificate(c) => write!(f, "Certificate(x5t#S256={})", c.x5t_s256),
        }
    }
}

impl ClientCredential {
    pub fn secret(s: impl Into<String>) -> Self {
        ClientCredential::Secret(s.into())
    }

    /// From PEM text: a certificate (`BEGIN CERTIFICATE`) and a PKCS#8 RSA key (`BEGIN PRIVATE KEY`).
    pub fn certificate_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CredentialError> {
        let cert = pem_block(cert_pem, "CERTIFICATE")
            .ok_or(CredentialError::Certificate("no PEM CERTIFICATE block"))?;
        let key = pem_block(key_pem, "PRIVATE KEY").ok_or(CredentialError::PrivateKey(
            "no PEM PRIVATE KEY (PKCS#8) block",
        ))?;
        let key_pair = RsaKeyPair::from_pkcs8(&key)
            .map_err(|_| CredentialError::PrivateKey("not a PKCS#8 RSA key"))?;
        Ok(ClientCredential::Certificate(Arc::new(
            CertificateCredential {
                x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&cert)),
                x5c: STANDARD.encode(&cert),
                key_pair,
                rng: SystemRandom::new(),
                cached: Mutex::new(HashMap::new()),
            },
        )))
    }
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

/// A certificate and its RSA key, with assertions cached per token endpoint.
pub struct CertificateCredential {
    x5t_s256: String,
    x5c: String,
    key_pair: RsaKeyPair,
    rng: SystemRandom,
    /// endpoint -> (assertion, Unix seconds after which a new one is signed)
    cached: Mutex<HashMap<String, (Arc<str>, u64)>>,
}

impl CertificateCredential {
    /// Assertions live 10 minutes and are re-signed after 5.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        endpoint: &str,
        now_secs: u64,
    ) -> Result<Arc<str>, CredentialError> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((a, renew_at)) = cached.get(endpoint) {
            if *renew_at > now_secs {
                return Ok(a.clone());
            }
        }
        let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t_s256, "x5c": [self.x5c]});
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&self.rng, &mut jti)
            .map_err(|_| CredentialError::PrivateKey("no randomness"))?;
        let claims = serde_json::json!({
            "aud": endpoint, "iss": client_id, "sub": client_id,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "nbf": now_secs, "iat": now_secs, "exp": now_secs + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PSS_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| CredentialError::PrivateKey("signing failed"))?;
        let jwt: Arc<str> = Arc::from(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)));
        cached.insert(endpoint.to_owned(), (jwt.clone(), now_secs + 300));
        Ok(jwt)
    }
}

fn pem_block(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    STANDARD.decode(b64).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_and_bad_pem_is_named() {
        assert_eq!(
            format!("{:?}", ClientCredential::secret("hunter2")),
            "Secret(<redacted>)"
        );
        assert_eq!(
            ClientCredential::certificate_pem("nope", "nope").unwrap_err(),
            CredentialError::Certificate("no PEM CERTIFICATE block")
        );
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        assert_eq!(
            ClientCredential::certificate_pem(cert, key).unwrap_err(),
            CredentialError::PrivateKey("not a PKCS#8 RSA key")
        );
    }
}
