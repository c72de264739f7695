//! MSAL's 5-minute expiry buffer at its edges: a cached access token with 299 or 300 s left
//! is expired (a new request), with 301 s left it is served from the cache. Checked for an
//! app token and for a user token (silent).

use tokencache::client::{
    AcquireOptions, AuthResult, CacheRefreshReason, TokenSource, EXPIRY_BUFFER_SECS,
};

use crate::client_support::{check_metadata, Harness, REDIRECT_URI, SCOPE, TENANT};

/// Acquires a token, moves the shared clock to `left` seconds before its expiry and
/// acquires again.
async fn app_token_with(left: u64) -> (AuthResult, AuthResult, usize) {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let first = client
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&first);
    h.clock.set_millis((first.expires_on - left) * 1000);
    let second = client
        .acquire_token_for_client(TENANT, &[SCOPE], &none)
        .await
        .unwrap();
    check_metadata(&second);
    (first, second, h.token_request_count().await)
}

async fn user_token_with(left: u64) -> (AuthResult, AuthResult, usize) {
    let h = Harness::start().await;
    let client = h.client();
    let scopes = ["api://resource-a/read"];
    let code = h
        .authorization_code("api://resource-a/read openid offline_access")
        .await;
    let first = client
        .acquire_token_by_authorization_code(TENANT, &code, REDIRECT_URI, &scopes)
        .await
        .unwrap();
    check_metadata(&first);
    h.clock.set_millis((first.expires_on - left) * 1000);
    let second = client
        .acquire_token_silent(
            first.account.as_ref().unwrap(),
            &scopes,
            &AcquireOptions::default(),
        )
        .await
        .unwrap();
    check_metadata(&second);
    (first, second, h.token_request_count().await)
}

fn assert_edge(left: u64, first: &AuthResult, second: &AuthResult, requests: usize) {
    let m = &second.metadata;
    if left > EXPIRY_BUFFER_SECS {
        assert_eq!(
            (m.token_source, m.cache_refresh_reason, requests),
            (TokenSource::Cache, CacheRefreshReason::NotApplicable, 1),
            "{left} s left"
        );
        assert_eq!(second.access_token, first.access_token);
    } else {
        assert_eq!(
            (m.token_source, m.cache_refresh_reason, requests),
            (
                TokenSource::IdentityProvider,
                CacheRefreshReason::Expired,
                2
            ),
            "{left} s left"
        );
        assert_ne!(second.access_token, first.access_token);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_tokens_with_299_and_300_s_left_are_expired_and_with_301_s_are_served() {
    assert_eq!(EXPIRY_BUFFER_SECS, 300);
    for left in [299, 300, 301] {
        let (first, second, n) = app_token_with(left).await;
        assert_edge(left, &first, &second, n);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_tokens_with_299_and_300_s_left_are_expired_and_with_301_s_are_served() {
    for left in [299, 300, 301] {
        let (first, second, n) = user_token_with(left).await;
        assert_edge(left, &first, &second, n);
    }
}
