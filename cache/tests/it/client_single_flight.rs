//! Single flight: N = 1,000 concurrent misses for one tenant and scope make exactly one
//! token request (MSAL.NET and msal-node send N); without single flight they make many.
//! The mock answers after 50-300 ms so the misses overlap. Failures are shared too; silent
//! and OBO calls coalesce the same way; a cancelled leader hands its flight over.

use std::sync::Arc;
use std::time::Duration;

use mock_authority::LatencyModel;
use tokencache::client::{AcquireOptions, CacheRefreshReason, ConfidentialClient, TokenSource};

use crate::client_support::{check_metadata, Harness, SCOPE, TENANT};

async fn concurrent_misses(
    client: &ConfidentialClient,
    n: usize,
) -> Vec<tokencache::client::AuthResult> {
    let gate = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (c, g) = (client.clone(), gate.clone());
            tokio::spawn(async move {
                g.wait().await;
                c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        let r = t.await.unwrap().expect("every caller gets a token");
        check_metadata(&r);
        out.push(r);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_misses_make_one_token_request() {
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    let client = h.client();
    let results = concurrent_misses(&client, 1_000).await;

    assert_eq!(h.token_request_count().await, 1);
    assert_eq!(h.authority.stats().count("client_credentials", 200), 1);
    let token = &results[0].access_token;
    let mut from_idp = 0;
    for r in &results {
        assert_eq!(&r.access_token, token);
        let m = &r.metadata;
        match m.token_source {
            // Callers that shared the flight report the request they waited for.
            TokenSource::IdentityProvider => {
                from_idp += 1;
                assert_eq!(
                    m.cache_refresh_reason,
                    CacheRefreshReason::NoCachedAccessToken
                );
            }
            TokenSource::Cache => {
                assert_eq!(m.cache_refresh_reason, CacheRefreshReason::NotApplicable)
            }
        }
    }
    assert!(
        from_idp >= 1,
        "at least the leader went to the identity provider"
    );
    // One discovery, one token request: nothing else was sent.
    assert_eq!(h.requests().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_single_flight_concurrent_misses_each_send() {
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    let client = h.client_with(|o| o.single_flight = false);
    let results = concurrent_misses(&client, 100).await;
    let sent = h.token_request_count().await;
    assert!(sent > 1, "{sent} token requests");
    assert_eq!(
        results
            .iter()
            .filter(|r| r.metadata.token_source == TokenSource::IdentityProvider)
            .count(),
        sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flights_are_per_tenant_and_scope() {
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 50.0 })
        .unwrap();
    let client = h.client();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let tenant = ["t-a", "t-b"][i % 2];
            let scope = ["api://one/.default", "api://two/.default"][(i / 2) % 2];
            c.acquire_token_for_client(tenant, &[scope], &AcquireOptions::default())
                .await
        }));
    }
    for t in tasks {
        check_metadata(&t.await.unwrap().unwrap());
    }
    let mut keys: Vec<String> = h
        .token_requests()
        .await
        .iter()
        .map(|r| format!("{} {}", r.path, r.field("scope").unwrap_or("")))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "/t-a/oauth2/v2.0/token api://one/.default",
            "/t-a/oauth2/v2.0/token api://two/.default",
            "/t-b/oauth2/v2.0/token api://one/.default",
            "/t-b/oauth2/v2.0/token api://two/.default",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_a_failure_too() {
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 50.0 })
        .unwrap();
    h.fail_every_request(mock_authority::FaultAction::Status {
        status: 503,
        retry_after_s: None,
    });
    let client = h.client();
    let gate = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let (c, g) = (client.clone(), gate.clone());
            tokio::spawn(async move {
                g.wait().await;
                c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(
            matches!(&err, tokencache::client::AcquireError::Authority(e) if e.status() == Some(503)),
            "{err:?}"
        );
    }
    assert_eq!(
        h.token_request_count().await,
        2,
        "one request and its retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_silent_calls_after_expiry_redeem_the_refresh_token_once() {
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
    let account = first.account.clone().unwrap();
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    h.advance(Duration::from_secs(3600));
    let gate = Arc::new(tokio::sync::Barrier::new(300));
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let (c, g, a) = (client.clone(), gate.clone(), account.clone());
            tokio::spawn(async move {
                g.wait().await;
                c.acquire_token_silent(&a, &scopes, &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        check_metadata(&r);
        tokens.insert(r.access_token.expose().to_owned());
    }
    assert_eq!(tokens.len(), 1);
    let sent = h.token_requests().await;
    assert_eq!(sent.len(), 2, "the code, then one refresh_token redemption");
    assert_eq!(sent[1].field("grant_type"), Some("refresh_token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_on_behalf_of_misses_for_one_assertion_make_one_request() {
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    let client = h.client();
    let assertion: Arc<str> = Arc::from(h.user_assertion("erin@contoso.example"));
    let gate = Arc::new(tokio::sync::Barrier::new(300));
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let (c, g, a) = (client.clone(), gate.clone(), assertion.clone());
            tokio::spawn(async move {
                g.wait().await;
                c.acquire_token_on_behalf_of(
                    TENANT,
                    &a,
                    &["api://downstream/Files.Read"],
                    None,
                    &AcquireOptions::default(),
                )
                .await
            })
        })
        .collect();
    for t in tasks {
        check_metadata(&t.await.unwrap().unwrap());
    }
    assert_eq!(h.token_request_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_hands_its_flight_to_a_waiting_caller() {
    // The caller leading a flight gives up (its task is dropped) while others wait on it:
    // one of them takes the flight over, and every waiter still gets a token.
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 300.0 })
        .unwrap();
    let client = h.client();
    let c = client.clone();
    let leader = tokio::spawn(async move {
        c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
            .await
    });
    while h.token_request_count().await < 1 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move {
                c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    assert!(leader.await.unwrap_err().is_cancelled());
    for w in waiters {
        check_metadata(&w.await.unwrap().expect("a waiter gets a token"));
    }
    assert_eq!(
        h.token_request_count().await,
        2,
        "the abandoned request and one more"
    );
    // And the next caller is served from the cache.
    let r = client
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&r);
    assert_eq!(r.metadata.token_source, TokenSource::Cache);
}
