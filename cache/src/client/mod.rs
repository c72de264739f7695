//! `ConfidentialClient`: MSAL's confidential-client flows over a [`TokenCache`] —
//! client credentials, on-behalf-of, authorization code and silent (refresh token) — with
//! full metadata, the 5-minute expiry buffer, proactive refresh past `refresh_on`, single
//! flight, Retry-After windows and one jittered retry of 5xx and connection errors.

pub mod authority;
mod build;
pub mod credential;
mod flight;
pub mod metadata;

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry::KeyValue;
use rand::Rng;
use tracing::Instrument as _;

pub use authority::{
    AuthorityClient, AuthorityError, HttpAuthority, HttpAuthorityOptions, RawResponse,
    TransportError,
};
pub use credential::{ClientCredential, CredentialError};
pub use metadata::{AccountId, AuthResult, CacheRefreshReason, Metadata, TokenSource};

use crate::cache::{CacheError, CacheLevel, TokenCache};
use crate::clock::SharedClock;
use crate::metrics::{self as names, attr};
use crate::model::entries::AccessToken;
use crate::model::keys::{
    access_token_index, normalize_scopes, partition, sha256_b64url, RESERVED_SCOPES,
};
use crate::model::{Partition, Secret};
use build::{store_response, Inputs};
use flight::{Flights, Refreshing, Throttles};

/// MSAL treats a token with 5 minutes or less left as expired.
pub const EXPIRY_BUFFER_SECS: u64 = 300;

/// An acquisition failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AcquireError {
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error("token cache: {0}")]
    Cache(#[from] CacheError),
    #[error("client credential: {0}")]
    Credential(#[from] CredentialError),
    /// Silent acquisition has nothing to redeem: the user must sign in again.
    #[error("no refresh token for this account: interaction required")]
    UiRequired,
    /// A Retry-After window for this request is still open (fail-fast throttling).
    #[error("throttled: the identity provider asked to wait {remaining:?} more")]
    Throttled { remaining: Duration },
}

impl AcquireError {
    /// A short, secret-free name of the kind of failure (the span's `error.type`).
    pub const fn kind(&self) -> &'static str {
        match self {
            AcquireError::Authority(_) => "authority",
            AcquireError::Cache(_) => "cache",
            AcquireError::Credential(_) => "credential",
            AcquireError::UiRequired => "ui_required",
            AcquireError::Throttled { .. } => "throttled",
        }
    }
}

/// The OAuth flow of an acquisition (stable `tokencache.flow` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    ClientCredentials,
    OnBehalfOf,
    AuthorizationCode,
    Silent,
}

impl Flow {
    pub const fn as_str(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client_credentials",
            Flow::OnBehalfOf => "on_behalf_of",
            Flow::AuthorizationCode => "authorization_code",
            Flow::Silent => "silent",
        }
    }

    /// The `grant_type` sent for this flow.
    pub const fn grant_type(self) -> &'static str {
        match self {
            Flow::ClientCredentials => "client_credentials",
            Flow::OnBehalfOf => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Flow::AuthorizationCode => "authorization_code",
            Flow::Silent => "refresh_token",
        }
    }
}

/// What to do while a Retry-After window is open for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThrottleMode {
    /// Fail at once with [`AcquireError::Throttled`] (MSAL's behaviour).
    #[default]
    FailFast,
    /// Wait the window out, then send.
    Wait,
}

/// Options of a confidential client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub client_id: String,
    pub credential: ClientCredential,
    /// The host recorded as `environment` in cache entries (MSAL Python records the host
    /// without port). Default: `login.microsoftonline.com`.
    pub environment: String,
    /// Upper bound on a Retry-After honoured.
    pub retry_after_cap: Duration,
    pub throttle_mode: ThrottleMode,
    /// Base delay before the one retry of a 5xx or connection error (jittered ×0.5–1.5).
    pub retry_backoff: Duration,
    /// A proactive refresh starts after a random delay up to this.
    pub refresh_jitter: Duration,
    /// Coalesce concurrent misses for one key into one request.
    pub single_flight: bool,
}

impl ClientOptions {
    pub fn new(client_id: impl Into<String>, credential: ClientCredential) -> Self {
        ClientOptions {
            client_id: client_id.into(),
            credential,
            environment: "login.microsoftonline.com".into(),
            retry_after_cap: Duration::from_secs(60),
            throttle_mode: ThrottleMode::FailFast,
            retry_backoff: Duration::from_millis(100),
            refresh_jitter: Duration::from_millis(100),
            single_flight: true,
        }
    }
}

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct AcquireOptions {
    /// Skip the cache and ask the identity provider.
    pub force_refresh: bool,
    /// A claims challenge (JSON); implies a request to the identity provider.
    pub claims: Option<String>,
}

impl AcquireOptions {
    fn bypasses_cache(&self) -> bool {
        self.force_refresh || self.claims.is_some()
    }
}

/// An acquisition in progress (owned, so a background refresh can carry it).
#[derive(Debug, Clone)]
struct Req {
    flow: Flow,
    tenant: String,
    partition_key: String,
    /// `""` for app tokens; the home account id for user tokens once known.
    home: String,
    /// Requested scopes, space-joined, reserved scopes removed.
    target: String,
    normalized: String,
    /// OBO: the incoming assertion (never logged) and its hash.
    assertion: Option<Arc<str>>,
    assertion_hash: Option<String>,
    code: Option<(String, String)>,
    claims: Option<String>,
    force: bool,
}

impl Req {
    /// Requests that share a Retry-After window.
    fn throttle_key(&self) -> String {
        // The tenant too: a user partition (silent) or an assertion (OBO) can be asked for
        // tokens of several tenants (guest accounts).
        let mut key = format!(
            "{}|{}|{}|{}|{}",
            self.flow.as_str(),
            self.tenant,
            self.partition_key,
            self.normalized,
            self.claims.as_deref().unwrap_or("")
        );
        // A code redemption has no partition until the answer names the user: the code
        // (hashed) keeps users signing in at once out of each other's flight (and token)
        // and Retry-After window.
        if let Some((code, _)) = &self.code {
            key.push('|');
            key.push_str(&sha256_b64url(code.as_bytes()));
        }
        key
    }

    /// Requests that may share one flight. A forced request (force_refresh, claims, a
    /// background refresh) never joins a flight that may be answered from the cache.
    fn flight_key(&self) -> String {
        let mut key = self.throttle_key();
        if self.force {
            key.push_str("|force");
        }
        key
    }
}

/// A token obtained by a flight: from the identity provider, or found in the cache by a
/// leader that re-checked before sending.
#[derive(Debug, Clone)]
struct Fetched {
    at: AccessToken,
    account: Option<AccountId>,
    from_cache: Option<CacheLevel>,
    endpoint: Option<Arc<str>>,
    http: Duration,
    cache: Duration,
}

#[derive(Debug)]
struct Instruments {
    total: Histogram<f64>,
    in_cache: Histogram<f64>,
    in_http: Histogram<f64>,
    acquisitions: Counter<u64>,
    idp: Counter<u64>,
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let h = |name: &'static str, d: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_boundaries(names::DURATION_BUCKETS.to_vec())
                .with_description(d)
                .build()
        };
        Instruments {
            total: h(
                names::ACQUIRE_DURATION,
                "DurationTotal of token acquisitions",
            ),
            in_cache: h(
                names::CACHE_DURATION,
                "DurationInCache of token acquisitions",
            ),
            in_http: h(names::HTTP_DURATION, "DurationInHttp of token acquisitions"),
            acquisitions: meter
                .u64_counter(names::ACQUISITIONS)
                .with_description("Token acquisitions by source, cache level and refresh reason")
                .build(),
            idp: meter
                .u64_counter(names::IDP_REQUESTS)
                .with_description("Requests to the identity provider's token endpoint")
                .build(),
        }
    }
}

struct ClientInner {
    opts: ClientOptions,
    cache: Option<TokenCache>,
    authority: Arc<dyn AuthorityClient>,
    clock: SharedClock,
    flights: Flights<Arc<Fetched>, AcquireError>,
    throttles: Throttles,
    refreshing: Refreshing,
    instruments: Instruments,
    record_metrics: bool,
}

/// A confidential client application. Cheap to clone.
#[derive(Clone)]
pub struct ConfidentialClient {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for ConfidentialClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfidentialClient")
            .field("client_id", &self.inner.opts.client_id)
            .field("authority", &self.inner.authority)
            .finish_non_exhaustive()
    }
}

impl ConfidentialClient {
    /// `cache: None` disables caching (every call goes to the identity provider, reason
    /// `cache_disabled`). The cache's clock is the client's clock.
    pub fn new(
        opts: ClientOptions,
        authority: Arc<dyn AuthorityClient>,
        cache: Option<TokenCache>,
        clock: SharedClock,
    ) -> Self {
        Self::with_meter(
            opts,
            authority,
            cache,
            clock,
            Some(&opentelemetry::global::meter("tokencache")),
        )
    }

    /// As [`Self::new`], recording metrics on `meter` (`None`: no client metrics, for callers
    /// that aggregate themselves, like the load generator's histograms).
    pub fn with_meter(
        opts: ClientOptions,
        authority: Arc<dyn AuthorityClient>,
        cache: Option<TokenCache>,
        clock: SharedClock,
        meter: Option<&Meter>,
    ) -> Self {
        let noop = opentelemetry::metrics::noop::NoopMeterProvider::new();
        let noop_meter = opentelemetry::metrics::MeterProvider::meter(&noop, "tokencache");
        ConfidentialClient {
            inner: Arc::new(ClientInner {
                instruments: Instruments::new(meter.unwrap_or(&noop_meter)),
                record_metrics: meter.is_some(),
                opts,
                cache,
                authority,
                clock,
                flights: Flights::default(),
                throttles: Throttles::default(),
                refreshing: Refreshing::default(),
            }),
        }
    }

    pub fn cache(&self) -> Option<&TokenCache> {
        self.inner.cache.as_ref()
    }

    pub fn client_id(&self) -> &str {
        &self.inner.opts.client_id
    }

    /// Client credentials: an app token for `tenant` and `scopes` (e.g. `api://x/.default`),
    /// from partition `{client_id}_{tenant}_AppTokenCache`.
    pub async fn acquire_token_for_client(
        &self,
        tenant: &str,
        scopes: &[&str],
        opts: &AcquireOptions,
    ) -> Result<AuthResult, AcquireError> {
        let t0 = Instant::now();
        // One span for the whole call: the fast L1 path and, on a miss, the full one.
        let span = acquire_span(Flow::ClientCredentials);
        if !opts.bypasses_cache() {
            let hit = tracing::debug_span!(parent: &span, "tokencache.l1.read")
                .in_scope(|| self.fast_app_hit(tenant, scopes, t0));
            if let Some(hit) = hit {
                if !span.is_disabled() {
                    record_span(&span, &hit.metadata);
                }
                self.inner.observe(Flow::ClientCredentials, &hit.metadata);
                return Ok(hit);
            }
        }
        let (target, normalized) = targets(scopes);
        let req = Req {
            flow: Flow::ClientCredentials,
            tenant: tenant.to_owned(),
            partition_key: partition::app(&self.inner.opts.client_id, Some(tenant)),
            home: String::new(),
            target,
            normalized,
            assertion: None,
            assertion_hash: None,
            code: None,
            claims: opts.claims.clone(),
            force: opts.bypasses_cache(),
        };
        self.inner.clone().acquire_in(req, span).await
    }

    /// On-behalf-of: exchanges the caller's `user_assertion` for a token to a downstream API.
    /// Partition: base64url(SHA-256(assertion)), or `long_running_key` when given.
    pub async fn acquire_token_on_behalf_of(
        &self,
        tenant: &str,
        user_assertion: &str,
        scopes: &[&str],
        long_running_key: Option<&str>,
        opts: &AcquireOptions,
    ) -> Result<AuthResult, AcquireError> {
        let (target, normalized) = targets(scopes);
        let hash = sha256_b64url(user_assertion.as_bytes());
        let req = Req {
            flow: Flow::OnBehalfOf,
            tenant: tenant.to_owned(),
            partition_key: long_running_key
                .map_or_else(|| hash.clone(), partition::obo_long_running),
            home: String::new(),
            target,
            normalized,
            assertion: Some(Arc::from(user_assertion)),
            assertion_hash: Some(hash),
            code: None,
            claims: opts.claims.clone(),
            force: opts.bypasses_cache(),
        };
        self.inner.clone().acquire(req).await
    }

    /// Redeems an authorization code; stores the account, ID token and refresh token in the
    /// user's partition (the home account id). Always asks the identity provider.
    pub async fn acquire_token_by_authorization_code(
        &self,
        tenant: &str,
        code: &str,
        redirect_uri: &str,
        scopes: &[&str],
    ) -> Result<AuthResult, AcquireError> {
        let (target, normalized) = targets(scopes);
        let req = Req {
            flow: Flow::AuthorizationCode,
            tenant: tenant.to_owned(),
            partition_key: String::new(),
            home: String::new(),
            target,
            normalized,
            assertion: None,
            assertion_hash: None,
            code: Some((code.to_owned(), redirect_uri.to_owned())),
            claims: None,
            force: true,
        };
        self.inner.clone().acquire(req).await
    }

    /// Silent: the account's cached token, or a new one from its refresh token.
    pub async fn acquire_token_silent(
        &self,
        account: &AccountId,
        scopes: &[&str],
        opts: &AcquireOptions,
    ) -> Result<AuthResult, AcquireError> {
        let (target, normalized) = targets(scopes);
        let req = Req {
            flow: Flow::Silent,
            tenant: account.tenant_id.clone(),
            partition_key: partition::user(&account.home_account_id),
            home: account.home_account_id.clone(),
            target,
            normalized,
            assertion: None,
            assertion_hash: None,
            code: None,
            claims: opts.claims.clone(),
            force: opts.bypasses_cache(),
        };
        self.inner.clone().acquire(req).await
    }
}

thread_local! {
    /// Reused key buffers of the L1 fast path: (partition key, access-token index).
    static FAST_KEYS: std::cell::RefCell<(String, String)> =
        std::cell::RefCell::new((String::with_capacity(128), String::with_capacity(192)));
}

fn push_lower(buf: &mut String, s: &str) {
    buf.extend(s.chars().map(|c| c.to_ascii_lowercase()));
}

impl ConfidentialClient {
    /// The hot path of a cache hit for the common shape (one scope, already lower-case):
    /// no allocation for keys, no future, L1 only. Anything else (a miss, an L2 read, a
    /// token due for proactive refresh) takes the full path.
    fn fast_app_hit(&self, tenant: &str, scopes: &[&str], t0: Instant) -> Option<AuthResult> {
        let inner = &self.inner;
        let cache = inner.cache.as_ref()?;
        let [scope] = scopes else { return None };
        if scope.is_empty()
            || scope
                .bytes()
                .any(|b| b.is_ascii_uppercase() || b.is_ascii_whitespace())
            || RESERVED_SCOPES.contains(scope)
        {
            return None;
        }
        let client = inner.opts.client_id.as_str();
        FAST_KEYS.with(|keys| {
            let mut keys = keys.try_borrow_mut().ok()?;
            let (pk, index) = &mut *keys;
            pk.clear();
            pk.push_str(client);
            pk.push('_');
            pk.push_str(tenant);
            pk.push_str("_AppTokenCache");
            index.clear();
            index.push('|');
            push_lower(index, client);
            index.push('|');
            push_lower(index, tenant);
            index.push('|');
            index.push_str(scope);
            let at = cache.l1_access_token(pk, index)?;
            let now = inner.clock.now_secs();
            if at.expires_on <= now + EXPIRY_BUFFER_SECS || at.refresh_on.is_some_and(|r| r <= now)
            {
                return None;
            }
            let in_cache = t0.elapsed();
            // The index matched, so the token's realm and target equal the request's tenant
            // and scope (case aside): copy the caller's (hot) strings, not the entry's (cold).
            Some(AuthResult {
                access_token: at.secret,
                expires_on: at.expires_on,
                scopes: (*scope).to_owned(),
                tenant_id: tenant.to_owned(),
                account: None,
                metadata: Metadata {
                    duration_total: t0.elapsed().max(in_cache),
                    duration_in_cache: in_cache,
                    duration_in_http: Duration::ZERO,
                    token_source: TokenSource::Cache,
                    cache_level: CacheLevel::L1,
                    cache_refresh_reason: CacheRefreshReason::NotApplicable,
                    refresh_on: at.refresh_on,
                    token_endpoint: None,
                },
            })
        })
    }
}

/// (target as requested, normalized) with reserved scopes removed.
fn targets(scopes: &[&str]) -> (String, String) {
    let target: Vec<&str> = scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .filter(|s| !RESERVED_SCOPES.contains(&s.to_ascii_lowercase().as_str()))
        .collect();
    (target.join(" "), normalize_scopes(scopes.iter().copied()))
}

/// Finds the access token a request wants in a partition. OBO partitions learn the home
/// account from their account entry.
fn find<'p>(p: &'p Partition, req: &Req, client_id: &str) -> Option<&'p AccessToken> {
    let index = |home: &str| access_token_index(home, client_id, &req.tenant, &req.normalized);
    match req.flow {
        Flow::OnBehalfOf => p
            .accounts()
            .map(|a| a.home_account_id.as_str())
            .chain(std::iter::once(""))
            .find_map(|home| p.access_token_by_index(&index(home)))
            .or_else(|| {
                p.find_access_token(
                    p.accounts()
                        .next()
                        .map_or("", |a| a.home_account_id.as_str()),
                    client_id,
                    "",
                    &req.normalized,
                )
            }),
        _ if req.home.is_empty() => p.access_token_by_index(&index("")),
        _ => p.find_access_token(&req.home, client_id, &req.tenant, &req.normalized),
    }
}

fn account_of(p: &Partition, home: &str) -> Option<AccountId> {
    p.accounts()
        .find(|a| a.home_account_id.eq_ignore_ascii_case(home) || home.is_empty())
        .map(|a| AccountId {
            home_account_id: a.home_account_id.clone(),
            tenant_id: a.realm.clone(),
            username: (!a.username.is_empty()).then(|| a.username.clone()),
        })
}

/// The `tokencache.acquire` span (stable name); metadata is recorded when the call ends.
fn acquire_span(flow: Flow) -> tracing::Span {
    tracing::info_span!(
        "tokencache.acquire",
        tokencache.flow = flow.as_str(),
        tokencache.token_source = tracing::field::Empty,
        tokencache.cache_level = tracing::field::Empty,
        tokencache.refresh_reason = tracing::field::Empty,
        tokencache.duration_total_ms = tracing::field::Empty,
        tokencache.duration_in_cache_ms = tracing::field::Empty,
        tokencache.duration_in_http_ms = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Adds `traceparent` (and `tracestate`) of the current OpenTelemetry context, through the
/// globally installed propagator (none installed: nothing is added).
fn trace_context(headers: &mut Vec<(&'static str, String)>) {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    if !cx.span().span_context().is_valid() {
        return;
    }
    struct Inject<'a>(&'a mut Vec<(&'static str, String)>);
    impl opentelemetry::propagation::Injector for Inject<'_> {
        fn set(&mut self, key: &str, value: String) {
            let key = match key {
                "traceparent" => "traceparent",
                "tracestate" => "tracestate",
                _ => return,
            };
            self.0.push((key, value));
        }
    }
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut Inject(headers));
    });
}

fn record_span(span: &tracing::Span, m: &Metadata) {
    span.record("tokencache.token_source", m.token_source.as_str());
    span.record("tokencache.cache_level", m.cache_level.as_str());
    span.record("tokencache.refresh_reason", m.cache_refresh_reason.as_str());
    span.record(
        "tokencache.duration_total_ms",
        m.duration_total.as_secs_f64() * 1000.0,
    );
    span.record(
        "tokencache.duration_in_cache_ms",
        m.duration_in_cache.as_secs_f64() * 1000.0,
    );
    span.record(
        "tokencache.duration_in_http_ms",
        m.duration_in_http.as_secs_f64() * 1000.0,
    );
}

fn jitter(base: Duration) -> Duration {
    if base.is_zero() {
        return base;
    }
    base.mul_f64(rand::rng().random_range(0.5..1.5))
}

impl ClientInner {
    async fn acquire(self: Arc<Self>, req: Req) -> Result<AuthResult, AcquireError> {
        let span = acquire_span(req.flow);
        self.acquire_in(req, span).await
    }

    /// The acquisition inside `span` (instrumented: entered only while polled, never held
    /// across an await).
    async fn acquire_in(
        self: Arc<Self>,
        req: Req,
        span: tracing::Span,
    ) -> Result<AuthResult, AcquireError> {
        let t0 = Instant::now();
        let flow = req.flow;
        let result = self
            .clone()
            .acquire_inner(req, t0)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(r) => {
                if !span.is_disabled() {
                    record_span(&span, &r.metadata);
                }
                self.observe(flow, &r.metadata);
            }
            Err(e) => {
                span.record("error.type", e.kind());
                tracing::debug!(parent: &span, error.type = e.kind(), "acquisition failed");
            }
        }
        result
    }

    async fn acquire_inner(
        self: Arc<Self>,
        mut req: Req,
        t0: Instant,
    ) -> Result<AuthResult, AcquireError> {
        let now = self.clock.now_secs();
        let mut in_cache = Duration::ZERO;
        let reason = match &self.cache {
            None => CacheRefreshReason::CacheDisabled,
            Some(_) if req.flow == Flow::AuthorizationCode => CacheRefreshReason::NotApplicable,
            Some(_) if req.force => CacheRefreshReason::ForceRefreshOrClaims,
            Some(cache) => {
                let tc = Instant::now();
                let lookup = cache.get(&req.partition_key).await?;
                let found = lookup.partition.as_deref().and_then(|p| {
                    find(p, &req, &self.opts.client_id)
                        .map(|at| (at.clone(), account_of(p, &req.home)))
                });
                in_cache += tc.elapsed();
                match found {
                    Some((at, account)) if at.expires_on.0 > now + EXPIRY_BUFFER_SECS => {
                        let mut reason = CacheRefreshReason::NotApplicable;
                        if at.refresh_on.is_some_and(|r| r.0 <= now) {
                            reason = CacheRefreshReason::ProactivelyRefreshed;
                            self.clone()
                                .refresh_in_background(req.clone(), at.secret.clone());
                        }
                        return Ok(AuthResult {
                            expires_on: at.expires_on.0,
                            scopes: at.target.clone(),
                            tenant_id: at.realm.clone(),
                            access_token: at.secret.clone(),
                            account,
                            metadata: Metadata {
                                duration_total: t0.elapsed(),
                                duration_in_cache: in_cache,
                                duration_in_http: Duration::ZERO,
                                token_source: TokenSource::Cache,
                                cache_level: lookup.level,
                                cache_refresh_reason: reason,
                                refresh_on: at.refresh_on.map(|r| r.0),
                                token_endpoint: None,
                            },
                        });
                    }
                    Some(_) => CacheRefreshReason::Expired,
                    None => CacheRefreshReason::NoCachedAccessToken,
                }
            }
        };
        req.force |= reason == CacheRefreshReason::CacheDisabled;
        let th = Instant::now();
        let (fetched, led) = if self.opts.single_flight {
            let key = req.flight_key();
            let me = self.clone();
            let r = req.clone();
            self.flights
                .run(&key, move || async move { me.fetch(r).await.map(Arc::new) })
                .await
        } else {
            (self.clone().fetch(req.clone()).await.map(Arc::new), true)
        };
        let fetched = fetched?;
        let waited = th.elapsed();
        let (in_http, cache_part) = if led {
            (fetched.http, fetched.cache)
        } else if fetched.from_cache.is_some() {
            // The leader found the token in the cache: no request was sent, the wait was
            // cache time.
            (Duration::ZERO, waited)
        } else {
            (waited, Duration::ZERO)
        };
        let (source, level) = match fetched.from_cache {
            Some(level) => (TokenSource::Cache, level),
            None => (TokenSource::IdentityProvider, CacheLevel::None),
        };
        let at = &fetched.at;
        Ok(AuthResult {
            access_token: at.secret.clone(),
            expires_on: at.expires_on.0,
            scopes: at.target.clone(),
            tenant_id: at.realm.clone(),
            account: fetched.account.clone(),
            metadata: Metadata {
                duration_total: t0.elapsed(),
                duration_in_cache: in_cache + cache_part,
                duration_in_http: in_http,
                token_source: source,
                cache_level: level,
                cache_refresh_reason: if source == TokenSource::Cache {
                    CacheRefreshReason::NotApplicable
                } else {
                    reason
                },
                refresh_on: at.refresh_on.map(|r| r.0),
                token_endpoint: fetched.endpoint.as_deref().map(str::to_owned),
            },
        })
    }

    /// Starts at most one background refresh per key; the caller already has its token
    /// (`served`). A refresh that finds another token than `served` in the cache sends
    /// nothing: a refresh that landed between the caller's read and now replaced it.
    fn refresh_in_background(self: Arc<Self>, mut req: Req, served: Secret) {
        req.force = true;
        let key = req.flight_key();
        if !self.refreshing.begin(&key) {
            return;
        }
        let delay = Duration::from_millis(
            rand::rng().random_range(0..=self.opts.refresh_jitter.as_millis() as u64),
        );
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if self.replaced(&req, &served).await {
                self.refreshing.end(&key);
                return;
            }
            let me = self.clone();
            let r = req.clone();
            let (result, _) = self
                .flights
                .run(&key, move || async move { me.fetch(r).await.map(Arc::new) })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, flow = req.flow.as_str(), "proactive refresh failed; the cached token stays in use");
            }
            self.refreshing.end(&key);
        });
    }

    /// True when the cache now holds another token for `req` than `served`.
    async fn replaced(&self, req: &Req, served: &Secret) -> bool {
        let Some(cache) = &self.cache else {
            return false;
        };
        match cache.get(&req.partition_key).await {
            Ok(l) => l
                .partition
                .as_deref()
                .and_then(|p| find(p, req, &self.opts.client_id))
                .is_some_and(|at| at.secret != *served),
            Err(_) => false,
        }
    }

    /// One flight: re-check the cache (a flight may have just landed), then ask the
    /// identity provider and store what it returns.
    async fn fetch(self: Arc<Self>, req: Req) -> Result<Fetched, AcquireError> {
        let mut cache_time = Duration::ZERO;
        let mut refresh_token = None;
        if let Some(cache) = &self.cache {
            if req.flow != Flow::AuthorizationCode && (!req.force || req.flow == Flow::Silent) {
                let tc = Instant::now();
                let lookup = cache.get(&req.partition_key).await?;
                cache_time += tc.elapsed();
                if let Some(p) = lookup.partition.as_deref() {
                    if !req.force {
                        if let Some(at) = find(p, &req, &self.opts.client_id) {
                            if at.expires_on.0 > self.clock.now_secs() + EXPIRY_BUFFER_SECS {
                                return Ok(Fetched {
                                    at: at.clone(),
                                    account: account_of(p, &req.home),
                                    from_cache: Some(lookup.level),
                                    endpoint: None,
                                    http: Duration::ZERO,
                                    cache: cache_time,
                                });
                            }
                        }
                    }
                    if req.flow == Flow::Silent {
                        refresh_token = p
                            .refresh_token(&req.home, &self.opts.client_id)
                            .map(|rt| rt.secret.clone());
                    }
                }
            }
        }
        if req.flow == Flow::Silent && refresh_token.is_none() {
            return Err(AcquireError::UiRequired);
        }

        let endpoint = self.authority.token_endpoint(&req.tenant).await?;
        let mut form: Vec<(&'static str, String)> = vec![
            ("client_id", self.opts.client_id.clone()),
            ("grant_type", req.flow.grant_type().to_owned()),
        ];
        let user_flow = req.flow != Flow::ClientCredentials;
        form.push((
            "scope",
            if user_flow {
                let mut s = req.target.clone();
                for r in RESERVED_SCOPES {
                    s.push(' ');
                    s.push_str(r);
                }
                s.trim().to_owned()
            } else {
                req.target.clone()
            },
        ));
        let mut headers: Vec<(&'static str, String)> = vec![
            ("x-client-sku", "tokenscope.rust".into()),
            ("x-client-ver", env!("CARGO_PKG_VERSION").into()),
            ("x-ms-lib-capability", "retry-after, h429".into()),
        ];
        match req.flow {
            Flow::ClientCredentials => {}
            Flow::OnBehalfOf => {
                form.push(("requested_token_use", "on_behalf_of".into()));
                form.push((
                    "assertion",
                    req.assertion.as_deref().unwrap_or("").to_owned(),
                ));
            }
            Flow::AuthorizationCode => {
                let (code, redirect) = req.code.clone().unwrap_or_default();
                form.push(("code", code));
                form.push(("redirect_uri", redirect));
            }
            Flow::Silent => {
                form.push((
                    "refresh_token",
                    refresh_token
                        .as_ref()
                        .map(|t| t.expose().to_owned())
                        .unwrap_or_default(),
                ));
                if let Some((uid, utid)) = req.home.split_once('.') {
                    headers.push(("X-AnchorMailbox", format!("Oid:{uid}@{utid}")));
                }
            }
        }
        if user_flow {
            form.push(("client_info", "1".into()));
        }
        if let Some(claims) = &req.claims {
            form.push(("claims", claims.clone()));
        }
        match &self.opts.credential {
            ClientCredential::Secret(s) => form.push(("client_secret", s.clone())),
            ClientCredential::Certificate(c) => {
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push((
                    "client_assertion",
                    c.assertion(&self.opts.client_id, &endpoint, self.clock.now_secs())?
                        .to_string(),
                ));
            }
        }

        let throttle_key = req.throttle_key();
        let th = Instant::now();
        let resp = self
            .post(&throttle_key, &endpoint, &form, &headers, req.flow)
            .await?;
        let http = th.elapsed();

        let now = self.clock.now_secs();
        let environment = self.opts.environment.clone();
        let client_id = self.opts.client_id.clone();
        let tenant = req.tenant.clone();
        let inputs = |_: ()| Inputs {
            resp: &resp,
            client_id: &client_id,
            environment: &environment,
            tenant: &tenant,
            requested_target: &req.target,
            now_secs: now,
            user_assertion_hash: req.assertion_hash.clone(),
        };
        let stored = match &self.cache {
            Some(cache) => {
                let tc = Instant::now();
                // The user partition of an authorization code is known only now.
                let pk = if req.flow == Flow::AuthorizationCode {
                    build::identity(&resp, &req.tenant)?
                        .map(|id| partition::user(&id.home_account_id))
                        .ok_or_else(|| {
                            AuthorityError::InvalidResponse(
                                "client_info is missing from a user-flow response".into(),
                            )
                        })?
                } else {
                    req.partition_key.clone()
                };
                let (_, stored) = cache
                    .update(&pk, |p| store_response(p, &inputs(())))
                    .await?;
                cache_time += tc.elapsed();
                stored?
            }
            None => store_response(&mut Partition::new(), &inputs(()))?,
        };
        let account = stored.identity.map(|id| AccountId {
            home_account_id: id.home_account_id,
            tenant_id: id.tenant_id,
            username: id.username,
        });
        Ok(Fetched {
            at: stored.access_token,
            account,
            from_cache: None,
            endpoint: Some(endpoint),
            http,
            cache: cache_time,
        })
    }

    /// POST with Retry-After windows and one jittered retry of a 5xx or connection error.
    async fn post(
        &self,
        throttle_key: &str,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
        flow: Flow,
    ) -> Result<authority::TokenResponse, AcquireError> {
        if let Some(left) = self
            .throttles
            .remaining(throttle_key, self.clock.now_millis())
        {
            match self.opts.throttle_mode {
                ThrottleMode::FailFast => {
                    return Err(AcquireError::Throttled {
                        remaining: Duration::from_millis(left),
                    })
                }
                ThrottleMode::Wait => {
                    tokio::time::sleep(self.clock.to_real(Duration::from_millis(left))).await
                }
            }
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let span = tracing::debug_span!(
                "tokencache.http",
                otel.kind = "client",
                oauth.grant_type = flow.grant_type(),
                attempt
            );
            let result = async {
                // W3C trace context of this span for the token endpoint (when traced).
                let mut headers = headers.to_vec();
                trace_context(&mut headers);
                self.authority.post_token(endpoint, form, &headers).await
            }
            .instrument(span)
            .await;
            // `done`: give up now (success and non-retryable answers return directly).
            let done = match &result {
                Ok(raw) => {
                    self.count_idp(raw.status, flow);
                    if (200..300).contains(&raw.status) {
                        return Ok(authority::TokenResponse::parse(&raw.body)?);
                    }
                    let err = authority::error_from(raw);
                    if let Some(after) = err.retry_after() {
                        let after = after.min(self.opts.retry_after_cap);
                        self.throttles.set(
                            throttle_key,
                            self.clock.now_millis() + after.as_millis() as u64,
                        );
                        return Err(err.into());
                    }
                    if raw.status < 500 {
                        return Err(err.into());
                    }
                    false
                }
                Err(TransportError::Connect { .. }) => {
                    self.count_idp(0, flow);
                    false
                }
                Err(_) => {
                    self.count_idp(0, flow);
                    true
                }
            };
            // Timeouts and other transport failures are not retried (the request may be
            // in progress at the server); 5xx and connection errors are, once.
            if done || attempt >= 2 {
                return Err(match result {
                    Ok(raw) => authority::error_from(&raw).into(),
                    Err(e) => AuthorityError::Transport(e).into(),
                });
            }
            tokio::time::sleep(jitter(self.opts.retry_backoff)).await;
        }
    }

    /// Records one acquisition's metrics (when this client records metrics).
    fn observe(&self, flow: Flow, m: &Metadata) {
        if !self.record_metrics {
            return;
        }
        let flow = KeyValue::new(attr::FLOW, flow.as_str());
        let i = &self.instruments;
        i.total
            .record(m.duration_total.as_secs_f64(), std::slice::from_ref(&flow));
        i.in_cache.record(
            m.duration_in_cache.as_secs_f64(),
            std::slice::from_ref(&flow),
        );
        i.in_http.record(
            m.duration_in_http.as_secs_f64(),
            std::slice::from_ref(&flow),
        );
        i.acquisitions.add(
            1,
            &[
                flow,
                KeyValue::new(attr::TOKEN_SOURCE, m.token_source.as_str()),
                KeyValue::new(attr::CACHE_LEVEL, m.cache_level.as_str()),
                KeyValue::new(attr::REFRESH_REASON, m.cache_refresh_reason.as_str()),
            ],
        );
    }

    fn count_idp(&self, status: u16, flow: Flow) {
        if self.record_metrics {
            self.instruments.idp.add(
                1,
                &[
                    KeyValue::new(attr::HTTP_STATUS, i64::from(status)),
                    KeyValue::new(attr::GRANT_TYPE, flow.grant_type()),
                ],
            );
        }
    }
}
