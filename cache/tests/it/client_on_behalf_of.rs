//! On-behalf-of against the mock Entra ID on wiremock: the partition is
//! base64url(SHA-256(assertion)) (or the long-running session key), the second call is
//! served from the cache, the form carries requested_token_use, the assertion, the scopes
//! with `openid profile offline_access` and `client_info=1`.

use std::time::Duration;

use tokencache::client::{AcquireOptions, CacheRefreshReason, TokenSource};
use tokencache::CacheLevel;

use crate::client_support::{check_metadata, obo_partition, Harness, SECRET, TENANT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_behalf_of_uses_the_assertion_hash_partition_and_then_the_cache() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let assertion = h.user_assertion("bob@contoso.example");
    let downstream = "api://downstream/Files.Read";

    let first = client
        .acquire_token_on_behalf_of(TENANT, &assertion, &[downstream], None, &none)
        .await
        .unwrap();
    check_metadata(&first);
    assert_eq!(first.metadata.token_source, TokenSource::IdentityProvider);
    assert_eq!(
        first.metadata.cache_refresh_reason,
        CacheRefreshReason::NoCachedAccessToken
    );
    let account = first.account.clone().expect("OBO results name the user");
    assert_eq!(account.username.as_deref(), Some("bob@contoso.example"));

    let second = client
        .acquire_token_on_behalf_of(TENANT, &assertion, &[downstream], None, &none)
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

    // A different assertion (another user) is another partition: a new request.
    let other_assertion = h.user_assertion("carol@contoso.example");
    let third = client
        .acquire_token_on_behalf_of(TENANT, &other_assertion, &[downstream], None, &none)
        .await
        .unwrap();
    check_metadata(&third);
    assert_eq!(third.metadata.token_source, TokenSource::IdentityProvider);
    assert_ne!(third.access_token, first.access_token);

    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2);
    for (req, a) in sent.iter().zip([&assertion, &other_assertion]) {
        assert_eq!(
            req.field("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        assert_eq!(req.field("requested_token_use"), Some("on_behalf_of"));
        assert_eq!(req.field("assertion"), Some(a.as_str()));
        assert_eq!(
            req.field("scope"),
            Some("api://downstream/Files.Read openid profile offline_access")
        );
        assert_eq!(req.field("client_info"), Some("1"));
        assert_eq!(req.field("client_secret"), Some(SECRET));
    }

    // The partition is base64url(SHA-256(assertion)) and holds the access token.
    let cache = client.cache().unwrap();
    let p = cache
        .get(&obo_partition(&assertion))
        .await
        .unwrap()
        .partition
        .expect("the OBO partition");
    let at = p.access_tokens().next().expect("an access token");
    assert_eq!(at.secret, first.access_token);
    assert_eq!(
        at.user_assertion_hash.as_deref(),
        Some(obo_partition(&assertion).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_behalf_of_after_expiry_exchanges_the_assertion_again() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let assertion = h.user_assertion("dave@contoso.example");
    let scopes = ["api://downstream/Files.Read"];
    let first = client
        .acquire_token_on_behalf_of(TENANT, &assertion, &scopes, None, &none)
        .await
        .unwrap();
    check_metadata(&first);
    // The incoming assertion lives an hour; the downstream token 3,599 s: 300 s before the
    // token's expiry the assertion is still valid.
    h.advance(Duration::from_secs(3599 - 300));
    let again = client
        .acquire_token_on_behalf_of(TENANT, &assertion, &scopes, None, &none)
        .await
        .unwrap();
    check_metadata(&again);
    assert_eq!(
        (
            again.metadata.token_source,
            again.metadata.cache_refresh_reason
        ),
        (TokenSource::IdentityProvider, CacheRefreshReason::Expired)
    );
    assert_ne!(again.access_token, first.access_token);
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_eq!(
            r.field("grant_type"),
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        assert_eq!(r.field("assertion"), Some(assertion.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_running_on_behalf_of_is_keyed_by_the_session_key() {
    let h = Harness::start().await;
    let client = h.client();
    let none = AcquireOptions::default();
    let scopes = ["api://downstream/Files.Read"];
    let a = h.user_assertion("frank@contoso.example");
    let first = client
        .acquire_token_on_behalf_of(TENANT, &a, &scopes, Some("session-42"), &none)
        .await
        .unwrap();
    check_metadata(&first);
    let p = client
        .cache()
        .unwrap()
        .get("session-42")
        .await
        .unwrap()
        .partition
        .expect("the session partition");
    assert_eq!(p.access_tokens().next().unwrap().secret, first.access_token);
    assert!(client
        .cache()
        .unwrap()
        .get(&obo_partition(&a))
        .await
        .unwrap()
        .partition
        .is_none());
    // Later in the session (a new incoming token for the same user): from the cache.
    let later = h.user_assertion("frank@contoso.example");
    assert_ne!(later, a);
    let again = client
        .acquire_token_on_behalf_of(TENANT, &later, &scopes, Some("session-42"), &none)
        .await
        .unwrap();
    check_metadata(&again);
    assert_eq!(again.access_token, first.access_token);
    assert_eq!(again.metadata.token_source, TokenSource::Cache);
    assert_eq!(h.token_request_count().await, 1);
}
