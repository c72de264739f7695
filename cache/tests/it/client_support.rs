//! Helpers for the confidential-client tests: the mock Entra ID mounted on wiremock, one
//! manual clock shared by the client, its cache and the mock, and readers for the exact
//! requests the client sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mock_authority::{AppConfig, Authority, AuthorityConfig, TimeSource, User, UserAssertion};
use tokencache::client::{
    AuthResult, ClientCredential, ClientOptions, ConfidentialClient, HttpAuthority,
    HttpAuthorityOptions, TokenSource,
};
use tokencache::l2::MemoryStore;
use tokencache::{CacheLevel, CacheOptions, Clock, L2Store, ManualClock, SharedClock, TokenCache};
use wiremock::MockServer;

use crate::support::T0_MS;

pub const CLIENT_ID: &str = "11111111-aaaa-4bbb-8ccc-000000000001";
pub const SECRET: &str = "s3cret-Value~never-in-errors";
pub const TENANT: &str = "contoso";
pub const SCOPE: &str = "api://resource-a/.default";
pub const REDIRECT_URI: &str = "http://localhost/callback";
pub const USERNAME: &str = "alice@contoso.example";
pub const USER_OID: &str = "0a1b2c3d-0000-4000-8000-00000000a11c";

/// The mock reads the client's manual clock: advancing one advances both.
#[derive(Debug)]
pub struct SharedTime(pub Arc<ManualClock>);

impl TimeSource for SharedTime {
    fn now_millis(&self) -> u64 {
        self.0.now_millis()
    }
}

/// The mock's configuration for these tests: our app with its secret, one test user.
pub fn authority_config() -> AuthorityConfig {
    AuthorityConfig {
        apps: vec![AppConfig::with_secret(CLIENT_ID, SECRET)],
        users: vec![mock_authority::UserConfig {
            username: USERNAME.into(),
            oid: Some(USER_OID.into()),
            tenant: Some(TENANT.into()),
            name: Some("Alice".into()),
        }],
        ..AuthorityConfig::default()
    }
}

/// The mock on a wiremock server, a manual clock at [`T0_MS`] and an L2 memory store.
#[derive(Debug)]
pub struct Harness {
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
    pub authority: Arc<Authority>,
    pub server: OffThreadDrop,
}

/// A wiremock server dropped on a plain thread. wiremock's `Drop` blocks on a tokio lock
/// with a futures executor; inside a tokio runtime, with a request still in flight, that
/// spun forever at 100% CPU (seen once in 12 stress runs of the whole suite).
#[derive(Debug)]
pub struct OffThreadDrop(Option<MockServer>);

impl std::ops::Deref for OffThreadDrop {
    type Target = MockServer;
    fn deref(&self) -> &MockServer {
        self.0.as_ref().expect("present until drop")
    }
}

impl Drop for OffThreadDrop {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            std::thread::spawn(move || drop(server));
        }
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(authority_config()).await
    }

    pub async fn with_config(config: AuthorityConfig) -> Self {
        let clock = Arc::new(ManualClock::new(T0_MS));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let authority = Arc::new(
            Authority::new(config, Arc::new(SharedTime(clock.clone()))).expect("mock authority"),
        );
        let server = MockServer::start().await;
        mock_authority::wiremock_adapter::mount(authority.clone(), &server).await;
        let server = OffThreadDrop(Some(server));
        Harness {
            clock,
            store,
            authority,
            server,
        }
    }

    pub fn shared_clock(&self) -> SharedClock {
        self.clock.clone()
    }

    /// Options with short backoff and jitter, so tests stay fast.
    pub fn options(&self) -> ClientOptions {
        let mut o = ClientOptions::new(CLIENT_ID, ClientCredential::secret(SECRET));
        o.retry_backoff = Duration::from_millis(5);
        o.refresh_jitter = Duration::from_millis(5);
        o
    }

    /// A fresh cache (own L1) over the harness's L2 store.
    pub fn cache(&self) -> TokenCache {
        self.cache_over(self.store.clone())
    }

    pub fn cache_over(&self, store: Arc<dyn L2Store>) -> TokenCache {
        TokenCache::new(CacheOptions::default(), store, self.shared_clock())
    }

    pub fn http(&self) -> Arc<HttpAuthority> {
        self.http_with(HttpAuthorityOptions::default())
    }

    pub fn http_with(&self, opts: HttpAuthorityOptions) -> Arc<HttpAuthority> {
        Arc::new(HttpAuthority::new(&self.server.uri(), opts).expect("http authority"))
    }

    /// A client with a fresh cache over the shared L2 and default (fast) options.
    pub fn client(&self) -> ConfidentialClient {
        self.client_with(|_| {})
    }

    pub fn client_with(&self, tweak: impl FnOnce(&mut ClientOptions)) -> ConfidentialClient {
        let mut o = self.options();
        tweak(&mut o);
        ConfidentialClient::new(o, self.http(), Some(self.cache()), self.shared_clock())
    }

    /// Every token request from now on meets `action` (one unconditional fault rule).
    pub fn fail_every_request(&self, action: mock_authority::FaultAction) {
        self.authority
            .set_faults(vec![mock_authority::FaultRule {
                name: None,
                matches: Default::default(),
                when: Default::default(),
                action,
            }])
            .expect("fault rule");
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub fn now_secs(&self) -> u64 {
        self.clock.now_secs()
    }

    /// The token endpoint of a tenant on this server.
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.server.uri())
    }

    /// Every request the server received, in order.
    pub async fn requests(&self) -> Vec<Sent> {
        self.server
            .received_requests()
            .await
            .expect("request recording is on")
            .into_iter()
            .map(Sent::from)
            .collect()
    }

    /// The token requests only (discovery and authorize left out).
    pub async fn token_requests(&self) -> Vec<Sent> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/oauth2/v2.0/token"))
            .collect()
    }

    pub async fn token_request_count(&self) -> usize {
        self.token_requests().await.len()
    }

    /// Signs the test user in through the mock's authorize endpoint and returns the code.
    pub async fn authorization_code(&self, scope: &str) -> String {
        self.authorization_code_for(USERNAME, scope).await
    }

    /// Signs `username` in (any user is accepted) and returns the code.
    pub async fn authorization_code_for(&self, username: &str, scope: &str) -> String {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("reqwest");
        let url = url::Url::parse_with_params(
            &format!("{}/{TENANT}/oauth2/v2.0/authorize", self.server.uri()),
            [
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("login_hint", username),
                ("scope", scope),
                ("response_type", "code"),
                ("state", "st"),
            ],
        )
        .expect("authorize URL");
        let resp = http.get(url).send().await.expect("authorize");
        assert_eq!(resp.status().as_u16(), 302);
        let location = resp.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let url = url::Url::parse(&location).expect("redirect URL");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code in the redirect")
    }

    /// A user assertion for OBO, as a front-end app would receive it for our API.
    pub fn user_assertion(&self, username: &str) -> String {
        let user = User {
            username: username.into(),
            oid: mock_authority::users::uuid_from(username),
            tenant: TENANT.into(),
            name: username.into(),
        };
        self.authority
            .mint_user_assertion(
                &UserAssertion {
                    user,
                    audience: CLIENT_ID.into(),
                    client_id: "22222222-bbbb-4ccc-8ddd-000000000002".into(),
                    scp: "access_as_user".into(),
                    lifetime_s: 3600,
                },
                &self.server.uri(),
            )
            .expect("assertion")
    }
}

/// One request as the mock received it: method, path, form fields and headers.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: String,
    pub path: String,
    pub form: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
}

impl Sent {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

impl From<wiremock::Request> for Sent {
    fn from(r: wiremock::Request) -> Self {
        Sent {
            method: r.method.to_string(),
            path: r.url.path().to_owned(),
            form: url::form_urlencoded::parse(&r.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
        }
    }
}

/// What every result must satisfy: total ≥ cache + http; token endpoint and cache level
/// consistent with the token source.
#[track_caller]
pub fn check_metadata(r: &AuthResult) {
    let m = &r.metadata;
    assert!(
        m.duration_total >= m.duration_in_cache + m.duration_in_http,
        "duration_total {:?} < duration_in_cache {:?} + duration_in_http {:?}",
        m.duration_total,
        m.duration_in_cache,
        m.duration_in_http
    );
    match m.token_source {
        TokenSource::IdentityProvider => {
            assert!(
                m.token_endpoint.is_some(),
                "IdP result without token_endpoint: {m:?}"
            );
            assert_eq!(m.cache_level, CacheLevel::None, "{m:?}");
        }
        TokenSource::Cache => {
            assert_eq!(m.token_endpoint, None, "{m:?}");
            assert_ne!(m.cache_level, CacheLevel::None, "{m:?}");
            assert_eq!(m.duration_in_http, Duration::ZERO, "{m:?}");
        }
    }
    assert!(!r.access_token.expose().is_empty());
}

/// The home account id the mock gives the test user: `{oid}.{tenant}`.
pub fn user_home() -> String {
    format!("{USER_OID}.{TENANT}")
}

/// base64url(SHA-256(assertion)), computed here independently of the library.
pub fn obo_partition(assertion: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(assertion))
}
