//! Shared test support: a standard configuration, authorities on a manual clock, servers in
//! process, a reqwest client trusting the generated CA, token decoding.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use mock_authority::{
    AppConfig, Authority, AuthorityConfig, Decision, ManualTimeSource, Reply, ServerHandle,
    SigningAlg, TokenRequest, UserConfig,
};
use serde_json::Value;

pub const TENANT: &str = "72f988bf-0000-4000-8000-00000000t001";
pub const OTHER_TENANT: &str = "contoso.onmicrosoft.com";
pub const APP: &str = "11111111-1111-4111-8111-111111111111";
pub const SECRET: &str = "app-secret-value";
pub const MIDDLE_TIER: &str = "22222222-2222-4222-8222-222222222222";
pub const MIDDLE_SECRET: &str = "middle-secret";
pub const CERT_APP: &str = "33333333-3333-4333-8333-333333333333";
pub const ALICE: &str = "alice@contoso.com";
pub const ALICE_OID: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const BASE: &str = "https://login.mock";
/// 2026-11-22 04:00:00 UTC.
pub const T0_MS: u64 = 1_795_320_000_000;

/// Strict configuration: known tenants, registered apps, one test user.
pub fn strict_config() -> AuthorityConfig {
    AuthorityConfig {
        tenants: Some(vec![TENANT.into(), OTHER_TENANT.into()]),
        apps: vec![
            AppConfig::with_secret(APP, SECRET),
            AppConfig::with_secret(MIDDLE_TIER, MIDDLE_SECRET),
        ],
        accept_any_client: false,
        users: vec![UserConfig {
            username: ALICE.into(),
            oid: Some(ALICE_OID.into()),
            tenant: None,
            name: Some("Alice".into()),
        }],
        accept_any_user: false,
        ..AuthorityConfig::default()
    }
}

/// An authority on a manual clock starting at [`T0_MS`].
pub fn authority(config: AuthorityConfig) -> (Arc<Authority>, Arc<ManualTimeSource>) {
    let clock = Arc::new(ManualTimeSource::new(T0_MS));
    let a = Authority::new(config, clock.clone()).expect("authority");
    (Arc::new(a), clock)
}

/// Posts a token request (form pairs) to the library and returns the decision.
pub fn token(a: &Authority, tenant: &str, form: &[(&str, &str)]) -> Decision {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    a.token(&TokenRequest {
        tenant,
        base_url: BASE,
        body: body.as_bytes(),
        client_request_id: None,
    })
}

/// The reply of a decision, with its JSON body.
pub fn reply(d: &Decision) -> (u16, Value) {
    let r: &Reply = d.reply().expect("a reply");
    (r.status, serde_json::from_str(&r.body).expect("JSON body"))
}

/// Asserts an Entra error: status, `error`, and the AADSTS code everywhere it belongs.
#[track_caller]
pub fn assert_entra_error(d: &Decision, status: u16, error: &str, code: u64) {
    let (s, body) = reply(d);
    assert_eq!((s, body["error"].as_str()), (status, Some(error)), "{body}");
    assert_eq!(body["error_codes"], serde_json::json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap_or_default();
    assert!(desc.starts_with(&format!("AADSTS{code}: ")), "{desc}");
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(
            body[k].as_str().is_some_and(|v| !v.is_empty()),
            "{k} missing: {body}"
        );
    }
}

/// The claims of a compact JWT (unverified).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&B64.decode(payload).expect("base64url")).expect("claims JSON")
}

/// The header of a compact JWT.
pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().expect("JWT header");
    serde_json::from_slice(&B64.decode(h).expect("base64url")).expect("header JSON")
}

/// Verifies a JWT's signature against a JWKS document.
pub fn verify_with_jwks(jwt: &str, jwks: &str) -> bool {
    use aws_lc_rs::signature::{
        UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
    };
    let jwks: Value = serde_json::from_str(jwks).expect("JWKS JSON");
    let h = header(jwt);
    let Some(key) = jwks["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["kid"] == h["kid"]))
    else {
        return false;
    };
    let (input, sig) = jwt.rsplit_once('.').expect("three parts");
    let sig = B64.decode(sig).expect("signature");
    let d = |k: &str| {
        B64.decode(key[k].as_str().unwrap_or_default())
            .expect("jwk field")
    };
    match h["alg"].as_str() {
        Some("ES256") => {
            let mut point = vec![4u8];
            point.extend(d("x"));
            point.extend(d("y"));
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(input.as_bytes(), &sig)
                .is_ok()
        }
        Some("RS256") => {
            let c = aws_lc_rs::signature::RsaPublicKeyComponents {
                n: d("n"),
                e: d("e"),
            };
            c.verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
                .is_ok()
        }
        _ => false,
    }
}

/// Client-credential form for the standard app.
pub fn cc_form(scope: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("scope", scope),
        ("client_info", "1"),
    ]
}

/// ES256 variant of a config.
pub fn es256(mut c: AuthorityConfig) -> AuthorityConfig {
    c.signing = SigningAlg::ES256;
    c
}

/// An HTTPS server in process with the strict configuration on the system clock.
pub async fn https_server(config: AuthorityConfig) -> ServerHandle {
    let a = Arc::new(
        Authority::new(config, Arc::new(mock_authority::SystemTimeSource)).expect("authority"),
    );
    mock_authority::start_in_process(a, true)
        .await
        .expect("server")
}

/// A reqwest client trusting the server's CA (and no proxy).
pub fn https_client(server: &ServerHandle) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem.as_deref().expect("CA").as_bytes())
        .expect("CA PEM");
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("client")
}

/// The workspace root.
pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}
