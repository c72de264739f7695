//! Every `cache_refresh_reason` the client reports, set where MSAL.NET sets it:
//! not_applicable, no_cached_access_token, expired, proactively_refreshed,
//! force_refresh_or_claims (force and claims separately; claims go out as a form field) and
//! cache_disabled; and `refresh_on` from the server's `refresh_in`.

use std::time::Duration;

use mock_authority::{AuthorityConfig, Lifetimes};
use tokencache::client::{
    AcquireOptions, AuthResult, CacheRefreshReason, ConfidentialClient, TokenSource,
};
use tokencache::CacheLevel;

use crate::client_support::{authority_config, check_metadata, Harness, SCOPE, TENANT};

async fn cc(client: &ConfidentialClient, opts: &AcquireOptions) -> AuthResult {
    let r = client
        .acquire_token_for_client(TENANT, &[SCOPE], opts)
        .await
        .unwrap();
    check_metadata(&r);
    r
}

fn reason(r: &AuthResult) -> (TokenSource, CacheRefreshReason) {
    (r.metadata.token_source, r.metadata.cache_refresh_reason)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cached_token_then_not_applicable_then_expired() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();

    let first = cc(&client, &none).await;
    assert_eq!(
        reason(&first),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::NoCachedAccessToken
        )
    );
    let hit = cc(&client, &none).await;
    assert_eq!(
        reason(&hit),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );
    assert_eq!(hit.metadata.cache_level, CacheLevel::L1);

    // Within the 5-minute buffer the token is still cached, and expired.
    h.advance(Duration::from_secs(3599 - 300));
    let expired = cc(&client, &none).await;
    assert_eq!(
        reason(&expired),
        (TokenSource::IdentityProvider, CacheRefreshReason::Expired)
    );
    assert_ne!(expired.access_token, first.access_token);
    let hit = cc(&client, &none).await;
    assert_eq!(
        reason(&hit),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );
    assert_eq!(hit.access_token, expired.access_token);

    // Past its expiry an app-token partition is gone from L1 and L2 (its expiry is the
    // latest access token's, as Identity.Web's SuggestedCacheExpiry): nothing is cached.
    h.advance(Duration::from_secs(3599));
    let gone = cc(&client, &none).await;
    assert_eq!(
        reason(&gone),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::NoCachedAccessToken
        )
    );
    assert_eq!(h.token_request_count().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_refresh_and_claims_each_go_to_the_identity_provider() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let cached = cc(&client, &none).await;

    let forced = cc(
        &client,
        &AcquireOptions {
            force_refresh: true,
            claims: None,
        },
    )
    .await;
    assert_eq!(
        reason(&forced),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::ForceRefreshOrClaims
        )
    );
    assert_ne!(forced.access_token, cached.access_token);

    let claims = r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#;
    let challenged = cc(
        &client,
        &AcquireOptions {
            force_refresh: false,
            claims: Some(claims.into()),
        },
    )
    .await;
    assert_eq!(
        reason(&challenged),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::ForceRefreshOrClaims
        )
    );
    assert_ne!(challenged.access_token, forced.access_token);

    // The token obtained with claims replaces the cached one.
    let after = cc(&client, &none).await;
    assert_eq!(
        reason(&after),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );
    assert_eq!(after.access_token, challenged.access_token);

    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0].field("claims"), None);
    assert_eq!(
        sent[1].field("claims"),
        None,
        "force_refresh alone sends no claims"
    );
    assert_eq!(sent[2].field("claims"), Some(claims));
    for r in &sent {
        assert_eq!(r.field("grant_type"), Some("client_credentials"));
        assert_eq!(r.field("scope"), Some(SCOPE));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cache_every_call_is_cache_disabled() {
    let h = Harness::start().await;
    let client = ConfidentialClient::new(h.options(), h.http(), None, h.shared_clock());
    assert!(client.cache().is_none());
    let none = AcquireOptions::default();
    let a = cc(&client, &none).await;
    let b = cc(&client, &none).await;
    for r in [&a, &b] {
        assert_eq!(
            reason(r),
            (
                TokenSource::IdentityProvider,
                CacheRefreshReason::CacheDisabled
            )
        );
        assert_eq!(r.metadata.cache_level, CacheLevel::None);
        assert_eq!(r.metadata.duration_in_cache, Duration::ZERO);
    }
    assert_ne!(a.access_token, b.access_token);
    // Forcing does not change the reason: there is no cache to bypass.
    let forced = cc(
        &client,
        &AcquireOptions {
            force_refresh: true,
            claims: None,
        },
    )
    .await;
    assert_eq!(
        forced.metadata.cache_refresh_reason,
        CacheRefreshReason::CacheDisabled
    );
    assert_eq!(h.token_request_count().await, 3);
    let usage = tokencache::L2Store::usage(&*h.store, "").await.unwrap();
    assert_eq!(usage.keys, 0, "nothing was written anywhere");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_in_sets_refresh_on_and_past_it_the_cached_token_is_proactively_refreshed() {
    let h = Harness::with_config(AuthorityConfig {
        lifetimes: Lifetimes {
            refresh_in: Some(1800),
            ..Lifetimes::default()
        },
        ..authority_config()
    })
    .await;
    let client = h.client();
    let none = AcquireOptions::default();
    let first = cc(&client, &none).await;
    let t0 = h.now_secs();
    assert_eq!(first.metadata.refresh_on, Some(t0 + 1800));
    let hit = cc(&client, &none).await;
    assert_eq!(hit.metadata.refresh_on, Some(t0 + 1800));
    assert_eq!(
        reason(&hit),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );

    h.advance(Duration::from_secs(1800));
    let proactive = cc(&client, &none).await;
    assert_eq!(
        reason(&proactive),
        (TokenSource::Cache, CacheRefreshReason::ProactivelyRefreshed)
    );
    assert_eq!(proactive.access_token, first.access_token);
    assert_eq!(proactive.metadata.refresh_on, Some(t0 + 1800));

    // The background refresh lands; the next call serves the new token.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let next = loop {
        let r = cc(&client, &none).await;
        if r.access_token != first.access_token {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(
        reason(&next),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );
    assert_eq!(next.metadata.refresh_on, Some(t0 + 1800 + 1800));
    assert_eq!(h.token_request_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_on_a_silent_call_redeem_the_refresh_token_with_the_claims() {
    let h = Harness::start().await;
    let client = h.client();
    let scopes = ["api://resource-a/read"];
    let code = h
        .authorization_code("api://resource-a/read openid offline_access")
        .await;
    let first = client
        .acquire_token_by_authorization_code(
            TENANT,
            &code,
            crate::client_support::REDIRECT_URI,
            &scopes,
        )
        .await
        .unwrap();
    check_metadata(&first);
    assert_eq!(
        reason(&first),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::NotApplicable
        ),
        "a code redemption never reads the cache"
    );
    let claims = r#"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#;
    let r = client
        .acquire_token_silent(
            first.account.as_ref().unwrap(),
            &scopes,
            &AcquireOptions {
                force_refresh: false,
                claims: Some(claims.into()),
            },
        )
        .await
        .unwrap();
    check_metadata(&r);
    assert_eq!(
        reason(&r),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::ForceRefreshOrClaims
        )
    );
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].field("grant_type"), Some("refresh_token"));
    assert_eq!(sent[1].field("claims"), Some(claims));
}
