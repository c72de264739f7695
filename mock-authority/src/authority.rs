//! [`Authority`]: the issuing logic, independent of any HTTP server. A server (or the
//! wiremock adapter, or an embedding load generator) hands it parsed requests and carries
//! out the [`Decision`] it returns: sleep `delay`, then reply, reset or hang.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::client_auth::RegisteredApp;
use crate::config::{AuthorityConfig, Lifetimes, UserConfig};
use crate::error::SetupError;
use crate::faults::{FaultEffect, FaultRule, FaultSet, LatencyModel, RequestFacts};
use crate::form::{non_empty, Grant, TokenForm};
use crate::keys::{SigningAlg, SigningKeys};
use crate::oauth_error::EntraError;
use crate::stats::{Endpoint, Stats, StatsSnapshot};
use crate::store::Store;
use crate::time::TimeSource;

/// A token request as the server received it.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    /// The tenant path segment.
    pub tenant: &'a str,
    /// `scheme://host:port` the client used (issuer and endpoints are built from it).
    pub base_url: &'a str,
    /// The form body.
    pub body: &'a [u8],
    /// `client-request-id` from the header or the query string.
    pub client_request_id: Option<&'a str>,
}

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `Retry-After` seconds.
    pub retry_after_s: Option<u64>,
    /// `Location` (authorize redirects).
    pub location: Option<String>,
    /// JSON body (empty for redirects).
    pub body: String,
}

impl Reply {
    pub(crate) fn json(status: u16, body: String) -> Self {
        Self {
            status,
            retry_after_s: None,
            location: None,
            body,
        }
    }
}

/// What to do after the delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this answer.
    Reply(Reply),
    /// Reset the connection without answering.
    Reset,
    /// Never answer.
    Hang,
}

/// The authority's decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Wait this long first (latency model + delay faults); the caller may scale it.
    pub delay: Duration,
    /// Then do this.
    pub action: Action,
}

impl Decision {
    /// The reply, if the action is one.
    pub fn reply(&self) -> Option<&Reply> {
        match &self.action {
            Action::Reply(r) => Some(r),
            _ => None,
        }
    }
}

/// The mock Entra ID.
#[derive(Debug)]
pub struct Authority {
    pub(crate) tenants: Option<HashSet<String>>,
    pub(crate) apps: HashMap<String, RegisteredApp>,
    pub(crate) accept_any_client: bool,
    pub(crate) users: HashMap<String, UserConfig>,
    pub(crate) accept_any_user: bool,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) signing: SigningAlg,
    pub(crate) echo_scope: bool,
    pub(crate) keys: Arc<SigningKeys>,
    pub(crate) time: Arc<dyn TimeSource>,
    start_ms: u64,
    faults: RwLock<Arc<FaultSet>>,
    latency: RwLock<LatencyModel>,
    pub(crate) stats: Stats,
    pub(crate) store: Store,
    pub(crate) id_prefix: u32,
    pub(crate) ids: AtomicU64,
}

impl Authority {
    /// Builds an authority: generates keys, parses certificates, validates rules.
    pub fn new(config: AuthorityConfig, time: Arc<dyn TimeSource>) -> Result<Self, SetupError> {
        config.latency.validate().map_err(SetupError::Config)?;
        let faults = FaultSet::new(config.faults).map_err(SetupError::Config)?;
        let mut apps = HashMap::new();
        for app in &config.apps {
            apps.insert(app.client_id.clone(), RegisteredApp::from_config(app)?);
        }
        let start_ms = time.now_millis();
        Ok(Self {
            tenants: config
                .tenants
                .map(|t| t.into_iter().map(|s| s.to_ascii_lowercase()).collect()),
            apps,
            accept_any_client: config.accept_any_client,
            users: config
                .users
                .into_iter()
                .map(|u| (u.username.to_ascii_lowercase(), u))
                .collect(),
            accept_any_user: config.accept_any_user,
            lifetimes: config.lifetimes,
            signing: config.signing,
            echo_scope: config.echo_scope,
            keys: SigningKeys::shared()?,
            time,
            start_ms,
            faults: RwLock::new(Arc::new(faults)),
            latency: RwLock::new(config.latency),
            stats: Stats::default(),
            store: Store::new(),
            id_prefix: rand::random(),
            ids: AtomicU64::new(0),
        })
    }

    /// The token endpoint: `POST /{tenant}/oauth2/v2.0/token`.
    pub fn token(&self, req: &TokenRequest<'_>) -> Decision {
        let form = TokenForm::parse(req.body);
        let grant = form.grant();
        let correlation = req
            .client_request_id
            .or(non_empty(&form.client_request_id))
            .map(str::to_owned);
        let facts = RequestFacts {
            tenant: req.tenant,
            client_id: form.client_id.as_deref().unwrap_or(""),
            grant,
            scope: form.scope.as_deref().unwrap_or(""),
        };
        let mut delay = self.latency.read().map(|l| l.sample()).unwrap_or_default();
        let faults = self.faults.read().map(|f| Arc::clone(&f)).ok();
        if let Some(faults) = faults.filter(|f| !f.is_empty()) {
            let since = self.time.now_millis().saturating_sub(self.start_ms) as f64 / 1000.0;
            let (extra, effect, fired) = faults.evaluate(&facts, since);
            delay += extra;
            if let Some(action) = fired {
                self.stats.record_fault(action);
            } else if extra > Duration::ZERO {
                self.stats
                    .record_fault(&crate::faults::FaultAction::Delay { ms: 0.0 });
            }
            let action = match effect {
                FaultEffect::None => None,
                FaultEffect::Status {
                    status,
                    retry_after_s,
                } => {
                    let mut reply =
                        self.error_reply(&EntraError::injected(status), correlation.as_deref());
                    reply.retry_after_s = retry_after_s;
                    Some(Action::Reply(reply))
                }
                FaultEffect::Reset => Some(Action::Reset),
                FaultEffect::Hang => Some(Action::Hang),
            };
            if let Some(action) = action {
                let status = match &action {
                    Action::Reply(r) => r.status,
                    _ => 0,
                };
                self.stats.record_token(grant, status);
                return Decision { delay, action };
            }
        }
        let reply = match self.issue(req, &form, grant) {
            Ok(reply) => reply,
            Err(e) => self.error_reply(&e, correlation.as_deref()),
        };
        self.stats.record_token(grant, reply.status);
        Decision {
            delay,
            action: Action::Reply(reply),
        }
    }

    fn issue(
        &self,
        req: &TokenRequest<'_>,
        form: &TokenForm<'_>,
        grant: Grant,
    ) -> Result<Reply, EntraError> {
        self.check_tenant(req.tenant)?;
        self.stats.record_tenant(req.tenant);
        if grant == Grant::Other {
            return Err(match non_empty(&form.grant_type) {
                None => EntraError::missing("grant_type"),
                Some(g) => EntraError::unsupported_grant(g),
            });
        }
        let client_id =
            non_empty(&form.client_id).ok_or_else(|| EntraError::missing("client_id"))?;
        let app = self.authenticate_client(req, form, client_id, grant)?;
        match grant {
            Grant::ClientCredentials => self.client_credentials(req, form, client_id, app),
            Grant::AuthorizationCode => self.authorization_code(req, form, client_id),
            Grant::RefreshToken => self.refresh_token(req, form, client_id),
            Grant::OnBehalfOf => self.on_behalf_of(req, form, client_id),
            Grant::Other => Err(EntraError::unsupported_grant("")),
        }
    }

    pub(crate) fn check_tenant(&self, tenant: &str) -> Result<(), EntraError> {
        match &self.tenants {
            Some(set)
                if !set.contains(tenant)
                    && !set.contains(&tenant.to_ascii_lowercase())
                    && !matches!(tenant, "common" | "organizations" | "consumers") =>
            {
                Err(EntraError::tenant_not_found(tenant))
            }
            _ => Ok(()),
        }
    }

    /// Renders an Entra error as a reply.
    pub fn error_reply(&self, e: &EntraError, correlation_id: Option<&str>) -> Reply {
        let trace = self.next_id();
        let correlation = correlation_id.map_or_else(|| self.next_id(), str::to_owned);
        Reply::json(
            e.status,
            e.body(self.time.now_millis(), &trace, &correlation),
        )
    }

    /// A rejection decided before the form could be read (oversized or unreadable body):
    /// counted like any other token request.
    pub fn reject_token_request(&self, e: &EntraError, correlation_id: Option<&str>) -> Decision {
        let reply = self.error_reply(e, correlation_id);
        self.stats.record_token(Grant::Other, reply.status);
        Decision {
            delay: Duration::ZERO,
            action: Action::Reply(reply),
        }
    }

    /// A unique GUID-shaped id.
    pub(crate) fn next_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        // A random per-authority prefix, then the counter (its top 16 bits, then the rest).
        format!(
            "{:08x}-{:04x}-4000-8000-{:012x}",
            self.id_prefix,
            (n >> 48) as u16,
            n & 0xffff_ffff_ffff
        )
    }

    /// The time source.
    pub fn time(&self) -> &Arc<dyn TimeSource> {
        &self.time
    }

    /// Replaces the fault rules (admin API).
    pub fn set_faults(&self, rules: Vec<FaultRule>) -> Result<(), String> {
        let set = Arc::new(FaultSet::new(rules)?);
        if let Ok(mut f) = self.faults.write() {
            *f = set;
        }
        Ok(())
    }

    /// The fault rules in force.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.faults.read().map(|f| f.rules()).unwrap_or_default()
    }

    /// Replaces the latency model (admin API).
    pub fn set_latency(&self, model: LatencyModel) -> Result<(), String> {
        model.validate()?;
        if let Ok(mut l) = self.latency.write() {
            *l = model;
        }
        Ok(())
    }

    /// The latency model in force.
    pub fn latency(&self) -> LatencyModel {
        self.latency.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Statistics so far.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Zeroes the statistics.
    pub fn reset_stats(&self) {
        self.stats.reset();
    }

    /// Revokes one refresh token; false if it was not issued here.
    pub fn revoke_refresh_token(&self, token: &str) -> bool {
        self.store.revoke_token(token)
    }

    /// Revokes every refresh token issued so far to `client_id` for the user with `oid`.
    pub fn revoke_user_refresh_tokens(&self, client_id: &str, oid: &str) {
        self.store
            .revoke_user(client_id, oid, self.time.now_millis());
    }

    /// The JWKS document.
    pub fn jwks(&self) -> &str {
        self.stats.record_endpoint(Endpoint::Jwks);
        self.keys.jwks_json()
    }

    /// The signing algorithm of access tokens.
    pub fn signing_alg(&self) -> SigningAlg {
        self.signing
    }

    /// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
    pub fn openid_configuration(&self, tenant: &str, base_url: &str) -> Reply {
        self.stats.record_endpoint(Endpoint::OpenIdConfiguration);
        if let Err(e) = self.check_tenant(tenant) {
            return self.error_reply(&e, None);
        }
        let b = format!("{base_url}/{tenant}");
        let body = serde_json::json!({
            "issuer": format!("{b}/v2.0"),
            "authorization_endpoint": format!("{b}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{b}/oauth2/v2.0/token"),
            "device_authorization_endpoint": format!("{b}/oauth2/v2.0/devicecode"),
            "end_session_endpoint": format!("{b}/oauth2/v2.0/logout"),
            "jwks_uri": format!("{b}/discovery/v2.0/keys"),
            "userinfo_endpoint": format!("{base_url}/oidc/userinfo"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "preferred_username", "name", "nonce"],
            "tenant_region_scope": "WW",
            "cloud_instance_name": "mock.local",
            "request_uri_parameter_supported": false,
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
        });
        Reply::json(200, body.to_string())
    }

    /// `GET /common/discovery/instance?api-version=1.1&authorization_endpoint=...`.
    pub fn instance_discovery(&self, base_url: &str) -> Reply {
        self.stats.record_endpoint(Endpoint::InstanceDiscovery);
        let host = base_url.split("://").nth(1).unwrap_or(base_url);
        let body = serde_json::json!({
            "tenant_discovery_endpoint": format!("{base_url}/{{tenant}}/v2.0/.well-known/openid-configuration"),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        });
        Reply::json(200, body.to_string())
    }
}
