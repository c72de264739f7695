//! What single flight must never share: a flight answered from the cache reports cache
//! time (not HTTP) to its followers; a forced call never joins a flight that may be answered
//! from the cache; different users' code redemptions and different tenants' silent calls
//! never share a flight (or a token).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mock_authority::LatencyModel;
use tokencache::client::{AcquireOptions, CacheRefreshReason, ConfidentialClient, TokenSource};
use tokencache::{L2Error, L2Store, L2Usage};

use crate::client_support::{check_metadata, Harness, SCOPE, TENANT};

/// An L2 store whose reads see the store at once, then answer only once the gate is open
/// and a delay has passed.
#[derive(Debug)]
struct GatedReads {
    inner: Arc<dyn L2Store>,
    gate: tokio::sync::Semaphore,
    reads: std::sync::atomic::AtomicUsize,
    delay: Duration,
}

#[async_trait::async_trait]
impl L2Store for GatedReads {
    fn name(&self) -> &'static str {
        "gated-reads"
    }
    async fn get(&self, key: &str, slide: Option<Duration>) -> Result<Option<Bytes>, L2Error> {
        let v = self.inner.get(key, slide).await;
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        drop(self.gate.acquire().await);
        tokio::time::sleep(self.delay).await;
        v
    }
    async fn set(&self, key: &str, value: Bytes, ttl: Option<Duration>) -> Result<(), L2Error> {
        self.inner.set(key, value, ttl).await
    }
    async fn remove(&self, key: &str) -> Result<(), L2Error> {
        self.inner.remove(key).await
    }
    async fn usage(&self, prefix: &str) -> Result<L2Usage, L2Error> {
        self.inner.usage(prefix).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flight_that_finds_the_token_in_the_cache_reports_cache_time_to_everyone() {
    // Instance A's callers miss (their L2 reads happen before instance B writes), then share
    // a flight whose leader re-checks the cache and finds B's token in L2. Nobody sent a
    // request, so nobody spent time in HTTP: the wait was cache time.
    let h = Harness::start().await;
    let gated = Arc::new(GatedReads {
        inner: h.store.clone(),
        gate: tokio::sync::Semaphore::new(0),
        reads: Default::default(),
        delay: Duration::from_millis(100),
    });
    let cache = tokencache::TokenCache::new(
        tokencache::CacheOptions {
            timeout: Duration::from_secs(30),
            ..Default::default()
        },
        gated.clone(),
        h.shared_clock(),
    );
    let a = ConfidentialClient::new(h.options(), h.http(), Some(cache), h.shared_clock());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let c = a.clone();
            tokio::spawn(async move {
                c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    while gated.reads.load(std::sync::atomic::Ordering::SeqCst) < 10 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let b = h.client();
    let written = b
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&written);
    gated.gate.add_permits(1);
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        assert_eq!(r.access_token, written.access_token);
        assert_eq!(
            (r.metadata.token_source, r.metadata.cache_level),
            (TokenSource::Cache, tokencache::CacheLevel::L2)
        );
        check_metadata(&r);
    }
    assert_eq!(h.token_request_count().await, 1, "only B's request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_code_redemptions_of_different_users_are_never_coalesced() {
    // Two users sign in at the same time with the same scopes: each must get their own
    // token and account, never the other's.
    let h = Harness::start().await;
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    let client = h.client();
    let scope = "api://resource-a/read openid profile offline_access";
    let mut tasks = Vec::new();
    for user in ["ann@contoso.example", "ben@contoso.example"] {
        let code = h.authorization_code_for(user, scope).await;
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let r = c
                .acquire_token_by_authorization_code(
                    TENANT,
                    &code,
                    crate::client_support::REDIRECT_URI,
                    &["api://resource-a/read"],
                )
                .await;
            (user, r)
        }));
    }
    let mut tokens = std::collections::HashSet::new();
    for t in tasks {
        let (user, r) = t.await.unwrap();
        let r = r.unwrap();
        check_metadata(&r);
        assert_eq!(
            r.account.as_ref().and_then(|a| a.username.as_deref()),
            Some(user),
            "a user got another user's token"
        );
        tokens.insert(r.access_token.expose().to_owned());
    }
    assert_eq!(tokens.len(), 2);
    assert_eq!(h.token_request_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_silent_calls_for_one_account_in_two_tenants_are_not_coalesced() {
    // A guest account: the same home account id, tokens wanted from two tenants at once.
    let h = Harness::start().await;
    let client = h.client();
    let scopes = ["api://resource-a/read"];
    let code = h
        .authorization_code("api://resource-a/read openid offline_access")
        .await;
    let signed_in = client
        .acquire_token_by_authorization_code(
            TENANT,
            &code,
            crate::client_support::REDIRECT_URI,
            &scopes,
        )
        .await
        .unwrap();
    check_metadata(&signed_in);
    let home = signed_in.account.unwrap();
    h.authority
        .set_latency(LatencyModel::Fixed { ms: 100.0 })
        .unwrap();
    let mut tasks = Vec::new();
    for tenant in ["fabrikam", "woodgrove"] {
        let mut account = home.clone();
        account.tenant_id = tenant.into();
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            c.acquire_token_silent(&account, &scopes, &AcquireOptions::default())
                .await
        }));
    }
    for t in tasks {
        check_metadata(&t.await.unwrap().unwrap());
    }
    let mut paths: Vec<String> = h.token_requests().await[1..]
        .iter()
        .map(|r| r.path.clone())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/fabrikam/oauth2/v2.0/token",
            "/woodgrove/oauth2/v2.0/token"
        ],
        "each tenant asked for its own token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_call_never_joins_a_flight_answered_from_the_cache() {
    // As above, A's callers share a flight whose leader finds B's token in L2. A forced
    // call made while that flight runs must still go to the identity provider.
    let h = Harness::start().await;
    let gated = Arc::new(GatedReads {
        inner: h.store.clone(),
        gate: tokio::sync::Semaphore::new(0),
        reads: Default::default(),
        delay: Duration::from_millis(100),
    });
    let cache = tokencache::TokenCache::new(
        tokencache::CacheOptions {
            timeout: Duration::from_secs(30),
            ..Default::default()
        },
        gated.clone(),
        h.shared_clock(),
    );
    let a = ConfidentialClient::new(h.options(), h.http(), Some(cache), h.shared_clock());
    let reads = || gated.reads.load(std::sync::atomic::Ordering::SeqCst);
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let c = a.clone();
            tokio::spawn(async move {
                c.acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
                    .await
            })
        })
        .collect();
    while reads() < 5 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let written = h
        .client()
        .acquire_token_for_client(TENANT, &[SCOPE], &AcquireOptions::default())
        .await
        .unwrap();
    check_metadata(&written);
    gated.gate.add_permits(1);
    // The sixth read is the flight leader's re-check: the flight is running.
    while reads() < 6 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let forced = a
        .acquire_token_for_client(
            TENANT,
            &[SCOPE],
            &AcquireOptions {
                force_refresh: true,
                claims: None,
            },
        )
        .await
        .unwrap();
    check_metadata(&forced);
    assert_eq!(
        (
            forced.metadata.token_source,
            forced.metadata.cache_refresh_reason
        ),
        (
            TokenSource::IdentityProvider,
            CacheRefreshReason::ForceRefreshOrClaims
        )
    );
    assert_ne!(forced.access_token, written.access_token);
    for t in tasks {
        let r = t.await.unwrap().unwrap();
        check_metadata(&r);
    }
    assert_eq!(
        h.token_request_count().await,
        2,
        "B's request and the forced one"
    );
}
