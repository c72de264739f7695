//! User flows at library level: authorization code (single use, expiry, PKCE), refresh
//! tokens (binding, revocation, expiry) and on-behalf-of (minted and bad assertions).

use mock_authority::{AuthorityConfig, SigningAlg, User, UserAssertion};

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
