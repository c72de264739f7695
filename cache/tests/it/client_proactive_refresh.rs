//! Proactive refresh: past `refresh_on` the cached token is returned (reason
//! `proactively_refreshed`) and refreshed in the background exactly once, however many
//! callers arrive concurrently; afterwards the cache holds the new token.

use std::time::{Duration, Instant};

use mock_authority::{AuthorityConfig, LatencyModel, Lifetimes};
use tokencache::client::{
    AcquireOptions, AuthResult, CacheRefreshReason, ConfidentialClient, TokenSource,
};
use tokencache::model::keys::partition;

use crate::client_support::{
    authority_config, check_metadata, Harness, CLIENT_ID, REDIRECT_URI, SCOPE, TENANT,
};

const REFRESH_IN: u64 = 1800;

async fn harness() -> Harness {
    Harness::with_config(AuthorityConfig {
        lifetimes: Lifetimes {
            refresh_in: Some(REFRESH_IN),
            ..Lifetimes::default()
        },
        ..authority_config()
    })
    .await
}

async fn cc(client: &ConfidentialClient) -> AuthResult {
    let r = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&r);
    r
}

/// Waits (real time, bounded) until the mock has answered `n` token requests.
async fn wait_for_token_requests(h: &Harness, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.token_request_count().await < n {
        assert!(Instant::now() < deadline, "fewer than {n} token requests");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_callers_past_refresh_on_get_the_cached_token_and_one_refresh() {
    let h = harness().await;
    let client = h.client();
    let first = cc(&client).await;
    assert_eq!(first.metadata.refresh_on, Some(h.now_secs() + REFRESH_IN));

    // The refresh takes 200 ms at the mock, so it lands after all 100 callers are served.
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 200.0 })
        .unwrap();
    h.advance(Duration::from_secs(REFRESH_IN + 1));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { cc(&c).await })
        })
        .collect();
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.access_token, first.access_token);
        assert_eq!(r.metadata.token_source, TokenSource::Cache);
        assert_eq!(
            r.metadata.cache_refresh_reason,
            CacheRefreshReason::ProactivelyRefreshed
        );
    }

    wait_for_token_requests(&h, 2).await;
    // Let a (wrong) second refresh show itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        h.token_request_count().await,
        2,
        "exactly one background refresh"
    );

    // The cache holds the new token, with a new refresh_on.
    let p = client
        .cache()
        .unwrap()
        .get(&partition::app(CLIENT_ID, Some(TENANT)))
        .await
        .unwrap()
        .partition
        .unwrap();
    let at = p.access_tokens().next().unwrap();
    assert_ne!(at.secret, first.access_token);
    assert_eq!(at.refresh_on.map(|t| t.0), Some(h.now_secs() + REFRESH_IN));
    let next = cc(&client).await;
    assert_eq!(next.access_token, at.secret);
    assert_eq!(
        (
            next.metadata.token_source,
            next.metadata.cache_refresh_reason
        ),
        (TokenSource::Cache, CacheRefreshReason::NotApplicable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_landing_while_callers_stream_in_is_still_the_only_one() {
    // No latency and no jitter: the refresh lands while callers are still being served.
    let h = harness().await;
    let client = h.client_with(|o| o.refresh_jitter = Duration::ZERO);
    let first = cc(&client).await;
    h.advance(Duration::from_secs(REFRESH_IN + 1));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        for _ in 0..50 {
            let c = client.clone();
            tasks.push(tokio::spawn(async move { cc(&c).await }));
        }
        tokio::task::yield_now().await;
    }
    let mut old = 0;
    for t in tasks {
        let r = t.await.unwrap();
        assert_eq!(r.metadata.token_source, TokenSource::Cache);
        if r.access_token == first.access_token {
            old += 1;
            assert_eq!(
                r.metadata.cache_refresh_reason,
                CacheRefreshReason::ProactivelyRefreshed
            );
        } else {
            assert_eq!(
                r.metadata.cache_refresh_reason,
                CacheRefreshReason::NotApplicable
            );
        }
    }
    assert!(old >= 1);
    wait_for_token_requests(&h, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.token_request_count().await,
        2,
        "exactly one background refresh"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_past_refresh_on_serves_the_cached_token_and_redeems_the_refresh_token_once() {
    let h = harness().await;
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
    assert_eq!(first.metadata.refresh_on, Some(h.now_secs() + REFRESH_IN));
    let account = first.account.clone().unwrap();
    h.advance(Duration::from_secs(REFRESH_IN));
    for _ in 0..10 {
        let r = client
            .acquire_token_silent(&account, &scopes, &AcquireOptions::default())
            .await
            .unwrap();
        check_metadata(&r);
        if r.access_token == first.access_token {
            assert_eq!(
                r.metadata.cache_refresh_reason,
                CacheRefreshReason::ProactivelyRefreshed
            );
        }
    }
    wait_for_token_requests(&h, 2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].field("grant_type"), Some("refresh_token"));
    let r = client
        .acquire_token_silent(&account, &scopes, &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&r);
    assert_ne!(r.access_token, first.access_token);
    assert_eq!(
        r.metadata.cache_refresh_reason,
        CacheRefreshReason::NotApplicable
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_background_refresh_keeps_the_cached_token_in_use() {
    let h = harness().await;
    let client = h.client();
    let first = cc(&client).await;
    h.fail_every_request(mock_authority::FaultAction::Status {
        status: 503,
        retry_after_s: None,
    });
    h.advance(Duration::from_secs(REFRESH_IN + 1));
    let r = cc(&client).await;
    assert_eq!(r.access_token, first.access_token);
    assert_eq!(
        r.metadata.cache_refresh_reason,
        CacheRefreshReason::ProactivelyRefreshed
    );
    // The refresh and its one retry fail; callers keep getting the cached token.
    wait_for_token_requests(&h, 2).await;
    for _ in 0..10 {
        let r = cc(&client).await;
        assert_eq!(r.access_token, first.access_token);
        assert_eq!(r.metadata.token_source, TokenSource::Cache);
    }
    // Once the identity provider answers again, a later refresh lands.
    h.authority.set_faults(Vec::new()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = cc(&client).await;
        if r.access_token != first.access_token {
            break;
        }
        assert!(Instant::now() < deadline, "no refresh after recovery");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
