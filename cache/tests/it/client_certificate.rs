//! Certificate credentials: the client signs a client-assertion JWT (PS256, `x5t#S256`,
//! `aud` = token endpoint, `iss` = `sub` = client id, a fresh `jti`) that the mock verifies
//! against the registered certificate; assertions are reused for 5 minutes; an
//! unregistered certificate is AADSTS700027 and the error never shows the assertion.

use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::RsaKeyPair;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use mock_authority::{AppConfig, AuthorityConfig};
use tokencache::client::{
    AcquireError, AcquireOptions, ClientCredential, ClientOptions, ConfidentialClient, TokenSource,
};

use crate::client_support::{authority_config, check_metadata, Harness, SCOPE, TENANT};

const CERT_APP: &str = "33333333-cccc-4ddd-8eee-000000000003";

/// A self-signed certificate and its RSA key, as PEM.
fn certificate() -> (String, String) {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa key");
    let der = key.as_der().expect("pkcs8");
    let b64 = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let key_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let rc_key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
        .expect("rcgen key");
    let cert = rcgen::CertificateParams::new(vec!["app.example".to_string()])
        .expect("params")
        .self_signed(&rc_key)
        .expect("certificate");
    (cert.pem(), key_pem)
}

fn json_part(jwt: &str, i: usize) -> serde_json::Value {
    let part = jwt.split('.').nth(i).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn client(h: &Harness, cert_pem: &str, key_pem: &str) -> ConfidentialClient {
    let mut o = ClientOptions::new(
        CERT_APP,
        ClientCredential::certificate_pem(cert_pem, key_pem).expect("credential"),
    );
    o.retry_backoff = Duration::from_millis(5);
    ConfidentialClient::new(o, h.http(), Some(h.cache()), h.shared_clock())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_signs_client_assertions_the_authority_accepts() {
    let (cert_pem, key_pem) = certificate();
    let mut config = authority_config();
    config.apps.push(AppConfig {
        client_id: CERT_APP.into(),
        client_secret: None,
        certificates_pem: vec![cert_pem.clone()],
        public_client: false,
    });
    let h = Harness::with_config(config).await;
    let c = client(&h, &cert_pem, &key_pem);
    let force = AcquireOptions {
        force_refresh: true,
        claims: None,
    };

    let first = c
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&first);
    assert_eq!(first.metadata.token_source, TokenSource::IdentityProvider);
    // Within 5 minutes the same assertion is reused; after, a new one is signed.
    h.advance(Duration::from_secs(299));
    check_metadata(
        &c.acquire_token_for_client(TENANT, &[SCOPE], &force)
            .await
            .unwrap(),
    );
    h.advance(Duration::from_secs(2));
    check_metadata(
        &c.acquire_token_for_client(TENANT, &[SCOPE], &force)
            .await
            .unwrap(),
    );

    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 3);
    let assertions: Vec<&str> = sent
        .iter()
        .map(|r| r.field("client_assertion").expect("an assertion"))
        .collect();
    for r in &sent {
        assert_eq!(r.field("client_secret"), None);
        assert_eq!(
            r.field("client_assertion_type"),
            Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        );
        assert_eq!(r.field("client_id"), Some(CERT_APP));
    }
    assert_eq!(assertions[0], assertions[1]);
    assert_ne!(assertions[1], assertions[2]);
    let header = json_part(assertions[0], 0);
    assert_eq!(header["alg"], "PS256");
    assert!(header["x5t#S256"].as_str().is_some_and(|t| !t.is_empty()));
    let claims = json_part(assertions[0], 1);
    assert_eq!(claims["aud"], h.token_endpoint(TENANT));
    assert_eq!(claims["iss"], CERT_APP);
    assert_eq!(claims["sub"], CERT_APP);
    assert_ne!(claims["jti"], json_part(assertions[2], 1)["jti"]);
    assert_eq!(
        claims["exp"].as_u64(),
        claims["iat"].as_u64().map(|t| t + 600)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_certificate_is_aadsts700027_and_the_error_hides_the_assertion() {
    let (registered, _) = certificate();
    let (other_cert, other_key) = certificate();
    let h = Harness::with_config(AuthorityConfig {
        apps: vec![AppConfig {
            client_id: CERT_APP.into(),
            client_secret: None,
            certificates_pem: vec![registered],
            public_client: false,
        }],
        ..AuthorityConfig::default()
    })
    .await;
    let err = client(&h, &other_cert, &other_key)
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            AcquireError::Authority(e) => e.aadsts(),
            _ => None,
        },
        Some(700_027),
        "{err:?}"
    );
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 1, "an invalid_client is not retried");
    let assertion = sent[0].field("client_assertion").unwrap();
    let signature = assertion.rsplit('.').next().unwrap();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(signature), "{text}");
    }
}
