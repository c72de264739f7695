//! The authority seen by the client: a small trait (token endpoint discovery + one POST),
//! its HTTP implementation over reqwest/rustls with pooled keep-alive connections, the
//! token response, and the typed error the identity provider's answers become.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;

use crate::model::Secret;

/// What came back from the token endpoint, before interpretation.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// The request never got an HTTP answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    #[error("could not connect to {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    #[error("no answer from {endpoint} within {after:?}")]
    Timeout { endpoint: String, after: Duration },
    #[error("request to {endpoint} failed: {message}")]
    Other { endpoint: String, message: String },
}

/// Talks to an Entra-shaped authority. Implementations: [`HttpAuthority`]; tests and the load
/// generator may substitute their own (e.g. the mock authority in process).
#[async_trait]
pub trait AuthorityClient: Send + Sync + fmt::Debug + 'static {
    /// The tenant's token endpoint (from OIDC discovery; implementations cache it).
    async fn token_endpoint(&self, tenant: &str) -> Result<Arc<str>, AuthorityError>;

    /// POSTs a form to the token endpoint with extra headers.
    async fn post_token(
        &self,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError>;
}

/// The identity provider refused or failed. Carries the AADSTS code, correlation id and
/// Retry-After; never a token or secret (Entra's descriptions contain neither).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthorityError {
    #[error("identity provider answered {status} {error}{}: {description}{}", aadsts_suffix(.codes), correlation_suffix(.correlation_id))]
    Oauth {
        status: u16,
        error: String,
        codes: Vec<u64>,
        description: String,
        correlation_id: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("throttled by the identity provider (HTTP {status}); retry after {retry_after:?}")]
    Throttled { status: u16, retry_after: Duration },
    #[error("identity provider answered HTTP {status} with no OAuth error body")]
    Http { status: u16 },
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("OIDC discovery for tenant {tenant:?} failed: {message}")]
    Discovery { tenant: String, message: String },
    #[error("token response unusable: {0}")]
    InvalidResponse(String),
}

fn aadsts_suffix(codes: &[u64]) -> String {
    codes
        .first()
        .map(|c| format!(" (AADSTS{c})"))
        .unwrap_or_default()
}

fn correlation_suffix(id: &Option<String>) -> String {
    id.as_ref()
        .map(|c| format!(" [correlation id {c}]"))
        .unwrap_or_default()
}

impl AuthorityError {
    /// The first AADSTS code, if any.
    pub fn aadsts(&self) -> Option<u64> {
        match self {
            AuthorityError::Oauth { codes, .. } => codes.first().copied(),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AuthorityError::Oauth { retry_after, .. } => *retry_after,
            AuthorityError::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// HTTP status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            AuthorityError::Oauth { status, .. }
            | AuthorityError::Throttled { status, .. }
            | AuthorityError::Http { status } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// Interprets a non-2xx answer.
pub(crate) fn error_from(raw: &RawResponse) -> AuthorityError {
    if raw.status == 429 {
        return AuthorityError::Throttled {
            status: 429,
            retry_after: raw.retry_after.unwrap_or(Duration::from_secs(5)),
        };
    }
    match serde_json::from_slice::<ErrorBody>(&raw.body) {
        Ok(b) => AuthorityError::Oauth {
            status: raw.status,
            error: b.error,
            codes: b.error_codes,
            // The first line only: Entra appends trace and timestamp lines.
            description: b
                .error_description
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(300)
                .collect(),
            correlation_id: b.correlation_id,
            retry_after: raw.retry_after,
        },
        Err(_) => AuthorityError::Http { status: raw.status },
    }
}

fn de_lenient_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Option::<crate::model::Timestamp>::deserialize(d).map(|o| o.map(|t| t.0))
}

/// A successful token response (fields as Entra sends them).
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token_type: Option<String>,
    pub access_token: Secret,
    #[serde(default, deserialize_with = "de_lenient_u64")]
    pub expires_in: Option<u64>,
    #[serde(default, deserialize_with = "de_lenient_u64")]
    pub ext_expires_in: Option<u64>,
    #[serde(default, deserialize_with = "de_lenient_u64")]
    pub refresh_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    #[serde(default)]
    pub id_token: Option<Secret>,
    #[serde(default)]
    pub client_info: Option<String>,
    #[serde(default)]
    pub foci: Option<String>,
}

impl TokenResponse {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, AuthorityError> {
        serde_json::from_slice(body).map_err(|e| {
            AuthorityError::InvalidResponse(format!(
                "not a token response (line {}, column {})",
                e.line(),
                e.column()
            ))
        })
    }
}

/// Options of the HTTP authority client.
#[derive(Debug, Clone)]
pub struct HttpAuthorityOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Extra trusted CA certificates (PEM), e.g. the mock authority's generated CA.
    pub ca_pem: Vec<Vec<u8>>,
    pub pool_max_idle_per_host: usize,
}

impl Default for HttpAuthorityOptions {
    fn default() -> Self {
        HttpAuthorityOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            ca_pem: Vec::new(),
            pool_max_idle_per_host: 256,
        }
    }
}

/// The authority over HTTPS (or HTTP for in-process mocks), with OIDC discovery cached per
/// tenant and keep-alive connections pooled.
pub struct HttpAuthority {
    http: reqwest::Client,
    base: String,
    endpoints: RwLock<HashMap<String, Arc<str>>>,
    timeout: Duration,
}

impl fmt::Debug for HttpAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuthority")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpAuthority {
    /// `base` is the authority host, e.g. `https://login.microsoftonline.com` or
    /// `https://127.0.0.1:8443`; tenants are appended as path segments.
    pub fn new(base: &str, opts: HttpAuthorityOptions) -> Result<Self, AuthorityError> {
        let setup = |m: String| AuthorityError::Discovery {
            tenant: String::new(),
            message: m,
        };
        let parsed =
            url::Url::parse(base).map_err(|e| setup(format!("authority URL {base:?}: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(setup(format!(
                "authority URL {base:?} must be https:// (or http:// for an in-process mock)"
            )));
        }
        let mut b = reqwest::Client::builder()
            .timeout(opts.timeout)
            .connect_timeout(opts.connect_timeout)
            .tcp_nodelay(true)
            .pool_max_idle_per_host(opts.pool_max_idle_per_host)
            .no_proxy();
        for pem in &opts.ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| setup(format!("CA certificate: {e}")))?;
            b = b.add_root_certificate(cert);
        }
        let http = b.build().map_err(|e| setup(format!("HTTP client: {e}")))?;
        Ok(HttpAuthority {
            http,
            base: base.trim_end_matches('/').to_owned(),
            endpoints: RwLock::new(HashMap::new()),
            timeout: opts.timeout,
        })
    }

    fn transport(&self, endpoint: &str, e: reqwest::Error) -> TransportError {
        // reqwest's Display includes the URL, never the body.
        if e.is_timeout() {
            TransportError::Timeout {
                endpoint: endpoint.to_owned(),
                after: self.timeout,
            }
        } else if e.is_connect() {
            TransportError::Connect {
                endpoint: endpoint.to_owned(),
                message: source_chain(&e),
            }
        } else {
            TransportError::Other {
                endpoint: endpoint.to_owned(),
                message: source_chain(&e),
            }
        }
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn parse_retry_after(v: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let s = v?.to_str().ok()?.trim();
    s.parse::<u64>().ok().map(Duration::from_secs)
}

#[async_trait]
impl AuthorityClient for HttpAuthority {
    async fn token_endpoint(&self, tenant: &str) -> Result<Arc<str>, AuthorityError> {
        if let Some(e) = self
            .endpoints
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
        {
            return Ok(e.clone());
        }
        let url = format!(
            "{}/{tenant}/v2.0/.well-known/openid-configuration",
            self.base
        );
        let fail = |message: String| AuthorityError::Discovery {
            tenant: tenant.to_owned(),
            message,
        };
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(self.transport(&url, e).to_string()))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| fail(self.transport(&url, e).to_string()))?;
        if status != 200 {
            let raw = RawResponse {
                status,
                retry_after: None,
                body,
            };
            // An OAuth error (e.g. AADSTS90002, tenant not found) keeps its code and
            // correlation id; anything else is a discovery failure.
            return Err(match error_from(&raw) {
                e @ AuthorityError::Oauth { .. } => e,
                e => fail(e.to_string()),
            });
        }
        #[derive(Deserialize)]
        struct Oidc {
            token_endpoint: String,
        }
        let oidc: Oidc = serde_json::from_slice(&body).map_err(|_| {
            fail(format!(
                "{url} did not return an OpenID configuration with a token_endpoint"
            ))
        })?;
        let endpoint: Arc<str> = Arc::from(oidc.token_endpoint);
        self.endpoints
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant.to_owned(), endpoint.clone());
        Ok(endpoint)
    }

    async fn post_token(
        &self,
        endpoint: &str,
        form: &[(&'static str, String)],
        headers: &[(&'static str, String)],
    ) -> Result<RawResponse, TransportError> {
        let mut req = self.http.post(endpoint).form(form);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| self.transport(endpoint, e))?;
        let status = resp.status().as_u16();
        let retry_after = parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER));
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport(endpoint, e))?;
        Ok(RawResponse {
            status,
            retry_after,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_errors_carry_aadsts_code_correlation_id_and_first_line_only() {
        let raw = RawResponse {
            status: 401,
            retry_after: None,
            body: Bytes::from_static(
                br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nTimestamp: y","error_codes":[7000215],"correlation_id":"c-1"}"#,
            ),
        };
        let e = error_from(&raw);
        assert_eq!(e.aadsts(), Some(7_000_215));
        let s = e.to_string();
        assert_eq!(
            s,
            "identity provider answered 401 invalid_client (AADSTS7000215): AADSTS7000215: Invalid client secret provided. [correlation id c-1]"
        );
        let throttled = error_from(&RawResponse {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            body: Bytes::new(),
        });
        assert_eq!(throttled.retry_after(), Some(Duration::from_secs(7)));
        assert!(matches!(
            error_from(&RawResponse {
                status: 503,
                retry_after: None,
                body: Bytes::from_static(b"<html>")
            }),
            AuthorityError::Http { status: 503 }
        ));
    }

    #[test]
    fn token_responses_accept_numbers_or_strings_and_hide_secrets() {
        let r = TokenResponse::parse(
            br#"{"token_type":"Bearer","access_token":"eyJ.a.b","expires_in":"3599","ext_expires_in":7199,"refresh_in":1800}"#,
        )
        .unwrap();
        assert_eq!(
            (r.expires_in, r.ext_expires_in, r.refresh_in),
            (Some(3599), Some(7199), Some(1800))
        );
        assert!(!format!("{r:?}").contains("eyJ"));
        let e = TokenResponse::parse(b"{\"expires_in\":1}").unwrap_err();
        assert!(e.to_string().contains("not a token response"));
    }
}
