//! Every grant and every error, at library level (no HTTP).

use mock_authority::{AuthorityConfig, Lifetimes, SigningAlg, User, UserAssertion};

use crate::support::*;

fn authorize(a: &mock_authority::Authority, extra: &str) -> String {
    let q = format!(
        "client_id={APP}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%2Fcb&scope=api%3A%2F%2Fres%2Fread+openid+profile+offline_access&state=st1&nonce=n0nce&login_hint={ALICE}{extra}"
    );
    let r = a.authorize(TENANT, &q);
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.location.expect("Location");
    assert!(loc.starts_with("http://localhost/cb?"), "{loc}");
    let url = url::Url::parse(&loc).expect("location URL");
    let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(pairs.get("state").map(String::as_str), Some("st1"));
    pairs["code"].clone()
}

fn redeem(
    a: &mock_authority::Authority,
    code: &str,
    client: &str,
    secret: &str,
) -> mock_authority::Decision {
    token(
        a,
        TENANT,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", "http://localhost/cb"),
            ("scope", "api://res/read openid profile offline_access"),
            ("client_info", "1"),
        ],
    )
}

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
fn authorization_code_returns_user_tokens_and_is_single_use() {
    let (a, _) = authority(strict_config());
    let code = authorize(&a, "");
    let (status, body) = reply(&redeem(&a, &code, APP, SECRET));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "api://res/read");
    let id = claims(body["id_token"].as_str().expect("id_token"));
    for (k, v) in [
        ("oid", ALICE_OID),
        ("tid", TENANT),
        ("preferred_username", ALICE),
        ("aud", APP),
        ("nonce", "n0nce"),
    ] {
        assert_eq!(id[k], v, "id_token {k}");
    }
    assert_eq!(id["iss"], format!("{BASE}/{TENANT}/v2.0"));
    for k in ["sub", "iat", "nbf", "exp"] {
        assert!(!id[k].is_null(), "id_token {k}");
    }
    let info: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            body["client_info"].as_str().expect("client_info"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(info, serde_json::json!({"uid": ALICE_OID, "utid": TENANT}));
    assert!(body["refresh_token"]
        .as_str()
        .is_some_and(|r| !r.is_empty()));
    let at = claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(
        (at["aud"].as_str(), at["scp"].as_str(), at["oid"].as_str()),
        (Some("api://res"), Some("read"), Some(ALICE_OID))
    );
    // Second redemption of the same code.
    assert_entra_error(&redeem(&a, &code, APP, SECRET), 400, "invalid_grant", 54005);
}

#[test]
fn bad_expired_and_foreign_codes_are_invalid_grant() {
    let (a, clock) = authority(strict_config());
    assert_entra_error(
        &redeem(&a, "made-up", APP, SECRET),
        400,
        "invalid_grant",
        70000,
    );
    let code = authorize(&a, "");
    assert_entra_error(
        &redeem(&a, &code, MIDDLE_TIER, MIDDLE_SECRET),
        400,
        "invalid_grant",
        70000,
    );
    let code = authorize(&a, "");
    clock.advance_millis(601_000);
    assert_entra_error(&redeem(&a, &code, APP, SECRET), 400, "invalid_grant", 70008);
}

#[test]
fn pkce_verifier_must_match_the_challenge() {
    let (a, _) = authority(strict_config());
    // base64url(SHA-256(verifier)).
    let challenge =
        "&code_challenge=QxTyNHKk3uYNv23toR9VlfEaXf1ajoSVMYVplbGeZfE&code_challenge_method=S256";
    let code = authorize(&a, challenge);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("code", code.as_str()),
        ("scope", "openid api://res/read"),
        ("code_verifier", "wrong"),
    ];
    assert_entra_error(&token(&a, TENANT, &form), 400, "invalid_grant", 501481);
    let code = authorize(&a, challenge);
    form[3].1 = &code;
    form[5].1 = "dBjftJeZ4CVP-mJ92K9qCqkH5S1aR5j9L8PeiE6sx0U";
    let (status, body) = reply(&token(&a, TENANT, &form));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn unknown_user_is_refused_by_a_strict_authority() {
    let (a, _) = authority(strict_config());
    let r = a.authorize(
        TENANT,
        &format!("client_id={APP}&redirect_uri=http://x/cb&login_hint=mallory@contoso.com"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let (open, _) = authority(AuthorityConfig::default());
    let r = open.authorize(
        "t9",
        "client_id=any&redirect_uri=http://x/cb&login_hint=bob@t9.com",
    );
    assert_eq!(r.status, 302);
}

fn refresh(
    a: &mock_authority::Authority,
    rt: &str,
    client: &str,
    secret: &str,
) -> mock_authority::Decision {
    token(
        a,
        TENANT,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("client_secret", secret),
            ("refresh_token", rt),
            ("scope", "api://res/read openid offline_access"),
            ("client_info", "1"),
        ],
    )
}

fn first_refresh_token(a: &mock_authority::Authority) -> String {
    let code = authorize(a, "");
    reply(&redeem(a, &code, APP, SECRET)).1["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned()
}

#[test]
fn refresh_token_is_bound_to_client_and_user() {
    let (a, _) = authority(strict_config());
    let rt = first_refresh_token(&a);
    let (status, body) = reply(&refresh(&a, &rt, APP, SECRET));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        claims(body["access_token"].as_str().expect("at"))["oid"],
        ALICE_OID
    );
    assert!(body["refresh_token"].is_string() && body["id_token"].is_string());
    assert_entra_error(
        &refresh(&a, &rt, MIDDLE_TIER, MIDDLE_SECRET),
        400,
        "invalid_grant",
        70000,
    );
    assert_entra_error(
        &refresh(&a, "garbage", APP, SECRET),
        400,
        "invalid_grant",
        9002313,
    );
    let mut tampered = rt.clone();
    tampered.insert(5, 'x');
    assert_entra_error(
        &refresh(&a, &tampered, APP, SECRET),
        400,
        "invalid_grant",
        9002313,
    );
}

#[test]
fn refresh_tokens_can_be_revoked_and_expire() {
    let (a, clock) = authority(strict_config());
    let rt = first_refresh_token(&a);
    assert!(a.revoke_refresh_token(&rt));
    assert!(!a.revoke_refresh_token("not-ours"));
    assert_entra_error(&refresh(&a, &rt, APP, SECRET), 400, "invalid_grant", 50173);
    let rt = first_refresh_token(&a);
    a.revoke_user_refresh_tokens(APP, ALICE_OID);
    assert_entra_error(&refresh(&a, &rt, APP, SECRET), 400, "invalid_grant", 50173);
    clock.advance_millis(1);
    let rt = first_refresh_token(&a);
    assert_eq!(reply(&refresh(&a, &rt, APP, SECRET)).0, 200);
    clock.advance_millis(91 * 86_400_000);
    assert_entra_error(&refresh(&a, &rt, APP, SECRET), 400, "invalid_grant", 700082);
}

fn alice() -> User {
    User {
        username: ALICE.into(),
        oid: ALICE_OID.into(),
        tenant: TENANT.into(),
        name: "Alice".into(),
    }
}

fn obo(a: &mock_authority::Authority, assertion: &str) -> mock_authority::Decision {
    token(
        a,
        TENANT,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", MIDDLE_TIER),
            ("client_secret", MIDDLE_SECRET),
            ("assertion", assertion),
            ("requested_token_use", "on_behalf_of"),
            (
                "scope",
                "api://downstream/read openid profile offline_access",
            ),
            ("client_info", "1"),
        ],
    )
}

fn mint(a: &mock_authority::Authority, audience: &str, lifetime_s: u64) -> String {
    a.mint_user_assertion(
        &UserAssertion {
            user: alice(),
            audience: audience.into(),
            client_id: APP.into(),
            scp: "access_as_user".into(),
            lifetime_s,
        },
        BASE,
    )
    .expect("mint")
}

#[test]
fn on_behalf_of_exchanges_a_minted_user_assertion() {
    for alg in [SigningAlg::RS256, SigningAlg::ES256] {
        let mut c = strict_config();
        c.signing = alg;
        let (a, _) = authority(c);
        let assertion = mint(&a, &format!("api://{MIDDLE_TIER}"), 3600);
        let (status, body) = reply(&obo(&a, &assertion));
        assert_eq!(status, 200, "{body}");
        let at = claims(body["access_token"].as_str().expect("at"));
        assert_eq!(
            (at["aud"].as_str(), at["oid"].as_str(), at["azp"].as_str()),
            (Some("api://downstream"), Some(ALICE_OID), Some(MIDDLE_TIER))
        );
        assert!(
            body["refresh_token"].is_string()
                && body["id_token"].is_string()
                && body["client_info"].is_string()
        );
        assert_eq!(a.stats().count("on_behalf_of", 200), 1);
    }
}

#[test]
fn on_behalf_of_refuses_bad_assertions() {
    let (a, clock) = authority(strict_config());
    assert_entra_error(&obo(&a, "garbage"), 400, "invalid_grant", 50027);
    assert_entra_error(&obo(&a, "a.b.c"), 400, "invalid_grant", 50027);
    assert_entra_error(
        &obo(&a, &mint(&a, "api://someone-else", 3600)),
        400,
        "invalid_grant",
        50013,
    );
    let good = mint(&a, MIDDLE_TIER, 3600);
    let (h, rest) = good.split_once('.').expect("jwt");
    let (p, _) = rest.split_once('.').expect("jwt");
    let forged = format!("{h}.{p}.{}", "A".repeat(86));
    assert_entra_error(&obo(&a, &forged), 400, "invalid_grant", 50013);
    let short = mint(&a, MIDDLE_TIER, 60);
    clock.advance_millis(61_000);
    assert_entra_error(&obo(&a, &short), 400, "invalid_grant", 500133);
    let d = token(
        &a,
        TENANT,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("client_id", MIDDLE_TIER),
            ("client_secret", MIDDLE_SECRET),
            ("assertion", &good),
            ("scope", "api://d/x"),
        ],
    );
    assert_entra_error(&d, 400, "invalid_request", 900144);
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
