//! What every acquisition reports, with MSAL's `AuthenticationResultMetadata` semantics and
//! the stable names of the design (`token_source`, `cache_level`, `cache_refresh_reason`, ...).

use std::time::Duration;

use serde::Serialize;

use crate::model::Secret;
use crate::CacheLevel;

/// Where the returned token came from (stable names: `cache` | `identity_provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    Cache,
    IdentityProvider,
}

impl TokenSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenSource::Cache => "cache",
            TokenSource::IdentityProvider => "identity_provider",
        }
    }
}

/// Why the identity provider was (or was not) called: MSAL.NET's `CacheRefreshReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheRefreshReason {
    /// Served from the cache, nothing to refresh.
    NotApplicable,
    /// The cache held no access token for the request.
    NoCachedAccessToken,
    /// The cached access token had expired (or had less than 5 minutes left).
    Expired,
    /// Served from the cache past `refresh_on`; a background refresh was started.
    ProactivelyRefreshed,
    /// The caller forced a refresh or passed claims.
    ForceRefreshOrClaims,
    /// The client has no cache.
    CacheDisabled,
}

impl CacheRefreshReason {
    pub const ALL: [CacheRefreshReason; 6] = [
        CacheRefreshReason::NotApplicable,
        CacheRefreshReason::NoCachedAccessToken,
        CacheRefreshReason::Expired,
        CacheRefreshReason::ProactivelyRefreshed,
        CacheRefreshReason::ForceRefreshOrClaims,
        CacheRefreshReason::CacheDisabled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            CacheRefreshReason::NotApplicable => "not_applicable",
            CacheRefreshReason::NoCachedAccessToken => "no_cached_access_token",
            CacheRefreshReason::Expired => "expired",
            CacheRefreshReason::ProactivelyRefreshed => "proactively_refreshed",
            CacheRefreshReason::ForceRefreshOrClaims => "force_refresh_or_claims",
            CacheRefreshReason::CacheDisabled => "cache_disabled",
        }
    }
}

/// MSAL's AuthenticationResultMetadata. `duration_total >= duration_in_cache + duration_in_http`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub duration_total: Duration,
    /// Time in L1/L2, codec and crypto.
    pub duration_in_cache: Duration,
    /// Time waiting for the token endpoint (including a shared in-flight request).
    pub duration_in_http: Duration,
    pub token_source: TokenSource,
    pub cache_level: CacheLevel,
    pub cache_refresh_reason: CacheRefreshReason,
    /// Unix seconds after which the token should be refreshed proactively.
    pub refresh_on: Option<u64>,
    pub token_endpoint: Option<String>,
}

/// The signed-in account a user token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountId {
    /// `{uid}.{utid}`.
    pub home_account_id: String,
    /// The tenant of the account's home (utid) unless the caller targets another.
    pub tenant_id: String,
    pub username: Option<String>,
}

/// A successful acquisition.
#[derive(Debug, Clone)]
pub struct AuthResult {
    pub access_token: Secret,
    /// Unix seconds.
    pub expires_on: u64,
    pub scopes: String,
    pub tenant_id: String,
    pub account: Option<AccountId>,
    pub metadata: Metadata,
}
