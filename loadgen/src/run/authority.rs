//! The authorities a run talks to: the embedded mock called in process (no HTTP; its
//! latency slept in virtual time), or an external one over HTTP(S); both wrapped in a
//! counter of identity-provider requests by status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use mock_authority::{Action, Authority, AuthorityConfig, Lifetimes, TimeSource, TokenRequest};
use opentelemetry::metrics::Counter;
use opentelemetry::KeyValue;
use tokencache::client::{AuthorityClient, AuthorityError, RawResponse, TransportError};
use tokencache::metrics::attr;
use tokencache::SharedClock;

use crate::scenario::model::EmbeddedSpec;

/// The base URL the embedded authority pretends to live at.
pub const EMBEDDED_BASE: &str = "https://login.embedded.mock";

/// The run's clock as the mock's time source: tokens, the cache and the mock share one time.
#[derive(Debug)]
pub struct ClockTime(pub SharedClock);

impl TimeSource for ClockTime {
    fn now_millis(&self) -> u64 {
        self.0.now_millis()
    }
}

/// Builds the mock authority for a scenario, on the run's clock.
pub fn build_mock(spec: &EmbeddedSpec, clock: SharedClock) -> anyhow::Result<Arc<Authority>> {
    let config = AuthorityConfig {
        lifetimes: Lifetimes {
            expires_in: spec.token_lifetime.as_secs(),
            ext_expires_in: spec.ext_lifetime.as_secs(),
            refresh_in: spec.refresh_in.map(|d| d.as_secs()),
            ..Lifetimes::default()
        },
        signing: spec.signing,
        latency: spec.latency.clone(),
        faults: spec.faults.clone(),
        ..AuthorityConfig::default()
    };
    Ok(Arc::new(Authority::new(
        config,
        Arc::new(ClockTime(clock)),
    )?))
}

/// [`AuthorityClient`] over the in-process [`Authority`]: the request is handed over as the
/// server would, and the decision's delay is slept scaled to the run's clock.
#[derive(Debug)]
pub struct EmbeddedAuthority {
    pub authority: Arc<Authority>,
    pub clock: SharedClock,
    /// How long a `hang` fault waits before the request times out (real time).
    pub hang_timeout: Duration,
}

#[async_trait]
impl AuthorityClient for EmbeddedAuthority {
    async fn token_endpoint(&self, tenant: &str) -> Result<Arc<str>, AuthorityError> {
        Ok(Arc::from(format!(
            "{EMBEDDED_BASE}/{tenant}/oauth2/v2.0/token"
        )))
    }

    async fn post_token(
        &self,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError> {
        let tenant = endpoint
            .strip_prefix(EMBEDDED_BASE)
            .and_then(|p| p.trim_start_matches('/').split('/').next())
            .unwrap_or("common");
        let body = {
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in form {
                ser.append_pair(k, v);
            }
            ser.finish()
        };
        let request_id = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
            .map(|(_, v)| v.as_str());
        let decision = self.authority.token(&TokenRequest {
            tenant,
            base_url: EMBEDDED_BASE,
            body: body.as_bytes(),
            client_request_id: request_id,
        });
        if !decision.delay.is_zero() {
            tokio::time::sleep(self.clock.to_real(decision.delay)).await;
        }
        match decision.action {
            Action::Reply(r) => Ok(RawResponse {
                status: r.status,
                retry_after: r.retry_after_s.map(Duration::from_secs),
                body: Bytes::from(r.body),
            }),
            Action::Reset => Err(TransportError::Other {
                endpoint: endpoint.to_owned(),
                message: "connection reset by the mock authority (fault)".into(),
            }),
            Action::Hang => {
                tokio::time::sleep(self.hang_timeout).await;
                Err(TransportError::Timeout {
                    endpoint: endpoint.to_owned(),
                    after: self.hang_timeout,
                })
            }
        }
    }
}

/// Counts token-endpoint requests by HTTP status (`no_response` when none came back) and
/// by grant type.
#[derive(Debug)]
pub struct Counting {
    pub inner: Arc<dyn AuthorityClient>,
    pub by_status: Mutex<BTreeMap<String, u64>>,
    pub by_grant: Mutex<BTreeMap<String, u64>>,
    /// `tokencache.idp.requests` and its base attributes, from the measured phase on.
    metrics: std::sync::OnceLock<(Counter<u64>, Vec<KeyValue>)>,
}

impl Counting {
    pub fn new(inner: Arc<dyn AuthorityClient>) -> Self {
        Counting {
            inner,
            by_status: Mutex::new(BTreeMap::new()),
            by_grant: Mutex::new(BTreeMap::new()),
            metrics: std::sync::OnceLock::new(),
        }
    }

    /// Counts requests on `c` too (with `http.response.status_code`, 0 when no response
    /// came back, and `oauth.grant_type`) from now on.
    pub fn start_metrics(&self, c: Option<(Counter<u64>, Vec<KeyValue>)>) {
        if let Some(c) = c {
            let _ = self.metrics.set(c);
        }
    }

    /// Requests by `grant_type` (the form's value, e.g. `client_credentials`).
    pub fn grants(&self) -> BTreeMap<String, u64> {
        self.by_grant.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.by_status.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn reset(&self) {
        if let Ok(mut m) = self.by_status.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.by_grant.lock() {
            m.clear();
        }
    }
}

#[async_trait]
impl AuthorityClient for Counting {
    async fn token_endpoint(&self, tenant: &str) -> Result<Arc<str>, AuthorityError> {
        self.inner.token_endpoint(tenant).await
    }

    async fn post_token(
        &self,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError> {
        let r = self.inner.post_token(endpoint, form, headers).await;
        let key = match &r {
            Ok(raw) => raw.status.to_string(),
            Err(_) => "no_response".to_owned(),
        };
        if let Ok(mut m) = self.by_status.lock() {
            *m.entry(key).or_insert(0) += 1;
        }
        let grant = form
            .iter()
            .find(|(k, _)| *k == "grant_type")
            .map_or("unknown", |(_, v)| v.as_str());
        if let Ok(mut m) = self.by_grant.lock() {
            *m.entry(grant.to_owned()).or_insert(0) += 1;
        }
        if let Some((c, base)) = self.metrics.get() {
            let status = r.as_ref().map_or(0, |raw| i64::from(raw.status));
            let mut kv = base.clone();
            kv.push(KeyValue::new(attr::HTTP_STATUS, status));
            kv.push(KeyValue::new(attr::GRANT_TYPE, grant.to_owned()));
            c.add(1, &kv);
        }
        r
    }
}
