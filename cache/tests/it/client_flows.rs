//! The acquisition flows of the confidential client against the mock Entra ID on wiremock
//! (on-behalf-of has its own file): client credentials, authorization code → silent →
//! refresh token → forced refresh, and silent without a refresh token. Exact requests.

use std::time::Duration;

use tokencache::client::{
    AccountId, AcquireError, AcquireOptions, CacheRefreshReason, TokenSource,
};
use tokencache::model::keys::partition;
use tokencache::CacheLevel;

use crate::client_support::{
    check_metadata, user_home, Harness, CLIENT_ID, REDIRECT_URI, SCOPE, SECRET, TENANT, USERNAME,
    USER_OID,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_then_cache_l1_then_another_instance_reads_l2() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();

    let first = client
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&first);
    let m = &first.metadata;
    assert_eq!(m.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        m.cache_refresh_reason,
        CacheRefreshReason::NoCachedAccessToken
    );
    assert_eq!(
        m.token_endpoint.as_deref(),
        Some(h.token_endpoint(TENANT).as_str())
    );
    assert_eq!(
        m.refresh_on, None,
        "the mock sends no refresh_in by default"
    );
    assert_eq!(first.expires_on, h.now_secs() + 3599);
    assert_eq!(first.tenant_id, TENANT);
    assert!(first.account.is_none());

    let second = client
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&second);
    assert_eq!(second.access_token, first.access_token);
    assert_eq!(second.metadata.token_source, TokenSource::Cache);
    assert_eq!(second.metadata.cache_level, CacheLevel::L1);
    assert_eq!(
        second.metadata.cache_refresh_reason,
        CacheRefreshReason::NotApplicable
    );

    // Another instance (its own L1) over the same L2.
    let other = h.client();
    let third = other
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&third);
    assert_eq!(third.access_token, first.access_token);
    assert_eq!(third.metadata.token_source, TokenSource::Cache);
    assert_eq!(third.metadata.cache_level, CacheLevel::L2);
    let fourth = other
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&fourth);
    assert_eq!(fourth.metadata.cache_level, CacheLevel::L1);

    // Exactly: one discovery per HttpAuthority, one token request in all.
    let seen: Vec<String> = h
        .requests()
        .await
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        seen,
        [
            format!("GET /{TENANT}/v2.0/.well-known/openid-configuration"),
            format!("POST /{TENANT}/oauth2/v2.0/token"),
        ]
    );
    let sent = &h.token_requests().await[0];
    let fields: Vec<(&str, &str)> = sent
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
            ("scope", SCOPE),
        ]
    );
    assert_eq!(
        sent.header("x-ms-lib-capability"),
        Some("retry-after, h429")
    );
    assert_eq!(sent.header("x-client-sku"), Some("tokenscope.rust"));
    assert_eq!(
        sent.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let p = client
        .cache()
        .unwrap()
        .get(&partition::app(CLIENT_ID, Some(TENANT)))
        .await
        .unwrap();
    assert_eq!(p.partition.expect("app partition").token_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_code_then_silent_then_refresh_token_then_forced_refresh() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let scopes = ["api://resource-a/read"];
    let code = h
        .authorization_code("api://resource-a/read openid profile offline_access")
        .await;

    let first = client
        .acquire_token_by_authorization_code(TENANT, &code, REDIRECT_URI, &scopes)
        .await
        .unwrap();
    check_metadata(&first);
    assert_eq!(first.metadata.token_source, TokenSource::IdentityProvider);
    let account = first.account.clone().expect("an account");
    assert_eq!(
        account,
        AccountId {
            home_account_id: user_home(),
            tenant_id: TENANT.into(),
            username: Some(USERNAME.into()),
        }
    );
    // The user partition holds AT, RT, ID token and account.
    let cache = client.cache().unwrap();
    let p = cache
        .get(&partition::user(&user_home()))
        .await
        .unwrap()
        .partition
        .expect("the user partition");
    assert_eq!(p.access_tokens().count(), 1);
    let rt = p
        .refresh_token(&user_home(), CLIENT_ID)
        .expect("a refresh token")
        .secret
        .clone();
    assert!(p.id_token(&user_home(), CLIENT_ID, TENANT).is_some());
    let acc = p.account(&user_home(), TENANT).expect("an account entry");
    assert_eq!(acc.username, USERNAME);
    assert_eq!(acc.local_account_id, USER_OID);

    // Silent from the cache.
    let silent = client
        .acquire_token_silent(&account, &scopes, &none)
        .await
        .unwrap();
    check_metadata(&silent);
    assert_eq!(silent.access_token, first.access_token);
    assert_eq!(silent.metadata.token_source, TokenSource::Cache);
    assert_eq!(
        silent.metadata.cache_refresh_reason,
        CacheRefreshReason::NotApplicable
    );
    assert_eq!(silent.account.as_ref(), Some(&account));

    // After expiry, silent redeems the refresh token.
    h.advance(Duration::from_secs(3600));
    let refreshed = client
        .acquire_token_silent(&account, &scopes, &none)
        .await
        .unwrap();
    check_metadata(&refreshed);
    assert_eq!(
        refreshed.metadata.token_source,
        TokenSource::IdentityProvider
    );
    assert_eq!(
        refreshed.metadata.cache_refresh_reason,
        CacheRefreshReason::Expired
    );
    assert_ne!(refreshed.access_token, first.access_token);
    assert_eq!(refreshed.expires_on, h.now_secs() + 3599);

    // force_refresh goes to the identity provider again, with the (new) refresh token.
    let forced = client
        .acquire_token_silent(
            &account,
            &scopes,
            &AcquireOptions {
                force_refresh: true,
                claims: None,
            },
        )
        .await
        .unwrap();
    check_metadata(&forced);
    assert_eq!(forced.metadata.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        forced.metadata.cache_refresh_reason,
        CacheRefreshReason::ForceRefreshOrClaims
    );
    assert_ne!(forced.access_token, refreshed.access_token);

    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 3);
    let ac = &sent[0];
    assert_eq!(ac.field("grant_type"), Some("authorization_code"));
    assert_eq!(ac.field("code"), Some(code.as_str()));
    assert_eq!(ac.field("redirect_uri"), Some(REDIRECT_URI));
    assert_eq!(
        ac.field("scope"),
        Some("api://resource-a/read openid profile offline_access")
    );
    assert_eq!(ac.field("client_info"), Some("1"));
    assert_eq!(ac.header("x-anchormailbox"), None);
    let anchor = format!("Oid:{USER_OID}@{TENANT}");
    for r in &sent[1..] {
        assert_eq!(r.field("grant_type"), Some("refresh_token"));
        assert_eq!(
            r.field("scope"),
            Some("api://resource-a/read openid profile offline_access")
        );
        assert_eq!(r.field("client_info"), Some("1"));
        assert_eq!(r.header("x-anchormailbox"), Some(anchor.as_str()));
    }
    assert_eq!(sent[1].field("refresh_token"), Some(rt.expose()));
    assert_ne!(
        sent[2].field("refresh_token"),
        Some(rt.expose()),
        "the forced refresh redeems the refresh token the last response rotated in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_without_a_refresh_token_requires_interaction() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let scopes = ["api://resource-a/read"];

    // An account the cache has never seen.
    let stranger = AccountId {
        home_account_id: format!("{}.{TENANT}", "99999999-0000-4000-8000-000000000000"),
        tenant_id: TENANT.into(),
        username: None,
    };
    let err = client
        .acquire_token_silent(&stranger, &scopes, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::UiRequired), "{err:?}");

    // A known account whose access token expired and whose refresh token is gone.
    let code = h
        .authorization_code("api://resource-a/read openid offline_access")
        .await;
    let r = client
        .acquire_token_by_authorization_code(TENANT, &code, REDIRECT_URI, &scopes)
        .await
        .unwrap();
    check_metadata(&r);
    let account = r.account.unwrap();
    client
        .cache()
        .unwrap()
        .update(&partition::user(&account.home_account_id), |p| {
            p.remove_refresh_token(&account.home_account_id, CLIENT_ID)
        })
        .await
        .unwrap();
    h.advance(Duration::from_secs(3600));
    let err = client
        .acquire_token_silent(&account, &scopes, &none)
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::UiRequired), "{err:?}");
    let err = client
        .acquire_token_silent(
            &account,
            &scopes,
            &AcquireOptions {
                force_refresh: true,
                claims: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AcquireError::UiRequired), "{err:?}");
    assert_eq!(
        h.token_request_count().await,
        1,
        "only the code was redeemed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_for_another_resource_redeems_the_refresh_token_and_keeps_both_tokens() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let code = h
        .authorization_code("api://resource-a/read openid profile offline_access")
        .await;
    let a = client
        .acquire_token_by_authorization_code(
            TENANT,
            &code,
            REDIRECT_URI,
            &["api://resource-a/read"],
        )
        .await
        .unwrap();
    check_metadata(&a);
    let account = a.account.clone().unwrap();

    let b = client
        .acquire_token_silent(&account, &["api://resource-b/write"], &none)
        .await
        .unwrap();
    check_metadata(&b);
    assert_eq!(
        (b.metadata.token_source, b.metadata.cache_refresh_reason),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::NoCachedAccessToken
        )
    );
    // Both resources are now served from the cache.
    for (scope, token) in [
        ("api://resource-a/read", &a.access_token),
        ("api://resource-b/write", &b.access_token),
    ] {
        let r = client
            .acquire_token_silent(&account, &[scope], &none)
            .await
            .unwrap();
        check_metadata(&r);
        assert_eq!(&r.access_token, token, "{scope}");
        assert_eq!(r.metadata.token_source, TokenSource::Cache);
    }
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].field("grant_type"), Some("refresh_token"));
    assert_eq!(
        sent[1].field("scope"),
        Some("api://resource-b/write openid profile offline_access")
    );
}
