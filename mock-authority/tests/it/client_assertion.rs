//! Certificate credentials: client assertions checked for structure, audience, issuer,
//! lifetime and signature against the registered certificate.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use mock_authority::AppConfig;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::support::*;

pub struct Cert {
    pub key: RsaKeyPair,
    pub pem: String,
    pub x5t: String,
}

impl Cert {
    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        let der = self.key.as_der().expect("pkcs8");
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }
}

/// An RSA 2048 key and a self-signed certificate for it.
pub fn cert() -> Cert {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa");
    let pkcs8 = key.as_der().expect("pkcs8");
    let rc_key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(pkcs8.as_ref()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .expect("rcgen key");
    let cert = rcgen::CertificateParams::new(vec!["app.example".to_string()])
        .expect("params")
        .self_signed(&rc_key)
        .expect("cert");
    let x5t = B64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        cert.der(),
    ));
    Cert {
        key,
        pem: cert.pem(),
        x5t,
    }
}

fn assertion(c: &Cert, x5t: &str, claims: serde_json::Value) -> String {
    let h = B64.encode(serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": x5t}).to_string());
    let p = B64.encode(claims.to_string());
    let input = format!("{h}.{p}");
    let mut sig = vec![0; c.key.public_modulus_len()];
    c.key
        .sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .expect("sign");
    format!("{input}.{}", B64.encode(sig))
}

fn claims_for(aud: &str, iss: &str, exp_offset: f64) -> serde_json::Value {
    let now = (T0_MS / 1000) as f64;
    serde_json::json!({"aud": aud, "iss": iss, "sub": iss, "jti": "j1", "iat": now + 0.25, "exp": now + exp_offset})
}

fn request(a: &mock_authority::Authority, assertion: &str) -> mock_authority::Decision {
    token(
        a,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CERT_APP),
            ("scope", "api://r/.default"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ],
    )
}

#[test]
fn certificate_credentials_are_verified() {
    let good = cert();
    let other = cert();
    let mut config = strict_config();
    config.apps.push(AppConfig {
        client_id: CERT_APP.into(),
        client_secret: None,
        certificates_pem: vec![good.pem.clone()],
        public_client: false,
    });
    let (a, _) = authority(config);
    let aud = format!("{BASE}/{TENANT}/oauth2/v2.0/token");

    let ok = assertion(&good, &good.x5t, claims_for(&aud, CERT_APP, 600.5));
    let (status, body) = reply(&request(&a, &ok));
    assert_eq!(status, 200, "{body}");

    // Signed by a key that is not registered (but claiming the registered thumbprint).
    let forged = assertion(&other, &good.x5t, claims_for(&aud, CERT_APP, 600.0));
    assert_entra_error(&request(&a, &forged), 401, "invalid_client", 700027);
    // Unknown thumbprint.
    let unknown = assertion(&other, &other.x5t, claims_for(&aud, CERT_APP, 600.0));
    assert_entra_error(&request(&a, &unknown), 401, "invalid_client", 700027);
    // Expired.
    let expired = assertion(&good, &good.x5t, claims_for(&aud, CERT_APP, -1.0));
    assert_entra_error(&request(&a, &expired), 401, "invalid_client", 700024);
    // Wrong audience.
    let wrong_aud = assertion(
        &good,
        &good.x5t,
        claims_for("https://elsewhere/token", CERT_APP, 600.0),
    );
    assert_entra_error(&request(&a, &wrong_aud), 401, "invalid_client", 700212);
    // iss/sub not the client id.
    let wrong_iss = assertion(&good, &good.x5t, claims_for(&aud, APP, 600.0));
    assert_entra_error(&request(&a, &wrong_iss), 401, "invalid_client", 700021);
    // Garbage.
    assert_entra_error(&request(&a, "not.a.jwt"), 401, "invalid_client", 50027);
}

#[test]
fn a_certificate_that_is_not_pem_is_a_setup_error() {
    let mut config = strict_config();
    config.apps.push(AppConfig {
        client_id: CERT_APP.into(),
        client_secret: None,
        certificates_pem: vec!["nope".into()],
        public_client: false,
    });
    let clock = std::sync::Arc::new(mock_authority::ManualTimeSource::new(T0_MS));
    assert!(mock_authority::Authority::new(config, clock).is_err());
}
