//! Client credentials, every client and request error, discovery documents: library level
//! (no HTTP).

use mock_authority::{AuthorityConfig, Lifetimes, SigningAlg};

use crate::support::*;

#[test]
fn client_credentials_issues_a_signed_app_token_rs256_and_es256() {
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let mut c = strict_config();
        c.signing = alg;
        let (a, _) = authority(c);
        let (status, body) = reply(&token(&a, TENANT, &cc_form("api://res/.default")));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3599);
        assert_eq!(body["ext_expires_in"], 3599);
        assert!(
            body.get("scope").is_none()
                && body.get("refresh_token").is_none()
                && body.get("client_info").is_none(),
            "{body}"
        );
        let at = body["access_token"].as_str().expect("access_token");
        assert_eq!(header(at)["alg"], alg.as_str());
        let c = claims(at);
        assert_eq!(c["aud"], "api://res");
        assert_eq!(c["tid"], TENANT);
        assert_eq!(c["azp"], APP);
        assert_eq!(c["iss"], format!("{BASE}/{TENANT}/v2.0"));
        assert_eq!(c["iat"], T0_MS / 1000);
        assert_eq!(c["exp"], T0_MS / 1000 + 3599);
        assert!(
            verify_with_jwks(at, a.jwks()),
            "signature must verify against the JWKS"
        );
    }
}

#[test]
fn client_credentials_echoes_scope_and_sends_refresh_in_when_configured() {
    let mut c = strict_config();
    c.echo_scope = true;
    c.lifetimes = Lifetimes {
        expires_in: 7200,
        ext_expires_in: 10800,
        refresh_in: Some(3600),
        ..Lifetimes::default()
    };
    let (a, _) = authority(c);
    let (_, body) = reply(&token(&a, TENANT, &cc_form("api://res/.default")));
    assert_eq!(body["scope"], "api://res/.default");
    assert_eq!(
        (
            body["expires_in"].as_u64(),
            body["ext_expires_in"].as_u64(),
            body["refresh_in"].as_u64()
        ),
        (Some(7200), Some(10800), Some(3600))
    );
}

#[test]
fn wrong_secret_is_invalid_client_7000215_with_the_correlation_id_echoed() {
    let (a, _) = authority(strict_config());
    let body = format!("grant_type=client_credentials&client_id={APP}&client_secret=nope&scope=api%3A%2F%2Fr%2F.default");
    let d = a.token(&mock_authority::TokenRequest {
        tenant: TENANT,
        base_url: BASE,
        body: body.as_bytes(),
        client_request_id: Some("corr-1"),
    });
    assert_entra_error(&d, 401, "invalid_client", 7000215);
    assert_eq!(reply(&d).1["correlation_id"], "corr-1");
}

#[test]
fn unknown_client_is_700016_and_missing_credential_7000218() {
    let (a, _) = authority(strict_config());
    let d = token(
        &a,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
            ("scope", "api://r/.default"),
        ],
    );
    assert_entra_error(&d, 400, "unauthorized_client", 700016);
    let d = token(
        &a,
        TENANT,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("scope", "api://r/.default"),
        ],
    );
    assert_entra_error(&d, 401, "invalid_client", 7000218);
}

#[test]
fn missing_parameters_are_900144() {
    let (a, _) = authority(strict_config());
    assert_entra_error(
        &token(&a, TENANT, &[("client_id", APP)]),
        400,
        "invalid_request",
        900144,
    );
    assert_entra_error(
        &token(&a, TENANT, &[("grant_type", "client_credentials")]),
        400,
        "invalid_request",
        900144,
    );
    assert_entra_error(
        &token(
            &a,
            TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP),
                ("client_secret", SECRET),
            ],
        ),
        400,
        "invalid_request",
        900144,
    );
    assert_entra_error(
        &token(
            &a,
            TENANT,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", APP),
                ("client_secret", SECRET),
            ],
        ),
        400,
        "invalid_request",
        900144,
    );
    assert_entra_error(
        &token(
            &a,
            TENANT,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", APP),
                ("client_secret", SECRET),
            ],
        ),
        400,
        "invalid_request",
        900144,
    );
}

#[test]
fn unsupported_grant_is_70003_and_bad_scope_70011() {
    let (a, _) = authority(strict_config());
    assert_entra_error(
        &token(
            &a,
            TENANT,
            &[("grant_type", "password"), ("client_id", APP)],
        ),
        400,
        "unsupported_grant_type",
        70003,
    );
    for scope in [
        "api://r/read",
        "/.default",
        "api://a/.default api://b/.default",
    ] {
        assert_entra_error(
            &token(&a, TENANT, &cc_form(scope)),
            400,
            "invalid_scope",
            70011,
        );
    }
}

#[test]
fn unknown_tenant_is_90002_and_any_tenant_is_accepted_by_default() {
    let (a, _) = authority(strict_config());
    assert_entra_error(
        &token(&a, "nowhere", &cc_form("api://r/.default")),
        400,
        "invalid_request",
        90002,
    );
    let (open, _) = authority(AuthorityConfig::default());
    for t in ["t1", "t2", "anything.onmicrosoft.com"] {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", "any-app"),
            ("client_secret", "any"),
            ("scope", "api://r/.default"),
        ];
        assert_eq!(reply(&token(&open, t, &form)).0, 200);
    }
    assert_eq!(open.stats().distinct_tenants, 3);
}

#[test]
fn discovery_documents_name_every_endpoint() {
    let (a, _) = authority(strict_config());
    let r = a.openid_configuration(TENANT, BASE);
    let doc: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(doc["issuer"], format!("{BASE}/{TENANT}/v2.0"));
    assert_eq!(
        doc["token_endpoint"],
        format!("{BASE}/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{BASE}/{TENANT}/oauth2/v2.0/authorize")
    );
    assert_eq!(
        doc["jwks_uri"],
        format!("{BASE}/{TENANT}/discovery/v2.0/keys")
    );
    assert_eq!(a.openid_configuration("nowhere", BASE).status, 400);
    let jwks: serde_json::Value = serde_json::from_str(a.jwks()).expect("jwks");
    let algs: Vec<_> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["alg"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(algs, ["RS256", "ES256"]);
    let inst: serde_json::Value =
        serde_json::from_str(&a.instance_discovery(BASE).body).expect("json");
    assert_eq!(inst["metadata"][0]["aliases"][0], "login.mock");
}
